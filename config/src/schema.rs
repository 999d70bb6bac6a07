//! The settings, section by section, with their defaults.
//!
//! Defaults are what Linux does (so that a run compares with a kernel peer
//! left at its defaults) or, where Linux has no equivalent, what the mptfo
//! engine does (`engine/src/config.rs`). Each field's doc says which, and
//! why.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::decode::{
    self, boolean, choice, int, list, parsed, positive_number, string, Ctx, Split,
};
use crate::node::{Kind, Node};
use crate::types::{CoreList, IpPrefix, MacAddr, TfoKey, MAX_LCORE};

fn is_false(b: &bool) -> bool {
    !*b
}

// ---------------------------------------------------------------------------
// [eal]
// ---------------------------------------------------------------------------

/// `[eal]`: how the DPDK Environment Abstraction Layer is started.
///
/// Either `args` (the EAL command line, verbatim) or the structured keys;
/// not both. The ports' devices (`--vdev`, `-a`) are always added from
/// `[[port]]`, so they are not written here. See [`crate::Config::eal_args`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct EalConfig {
    /// EAL arguments used as given, instead of those built from the keys
    /// below (e.g. `["-l", "0-1", "--no-huge", "-m", "512", "--no-pci"]`).
    /// Default: empty (build them from the keys).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// The EAL's lcores (`-l`): must contain every worker core of `cores`.
    /// Default: unset, meaning the worker cores plus `main_lcore`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lcores: Option<CoreList>,
    /// The EAL main lcore (`--main-lcore`). Default: unset, DPDK's default,
    /// the lowest lcore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_lcore: Option<u32>,
    /// Memory to reserve, in MB (`-m`). Default: unset, DPDK's default (64
    /// MB with `no_huge`, else what the hugepages hold). 512 is enough for
    /// a benchmark on a small machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    /// Run without hugepages (`--no-huge`); every virtual device here works
    /// so. Default: false, DPDK's default.
    #[serde(skip_serializing_if = "is_false")]
    pub no_huge: bool,
    /// Keep no files in hugetlbfs or /var/run (`--in-memory`), so that a
    /// crash leaves no pages behind. Cannot be combined with `no_huge`
    /// (EAL refuses it; use `no_shconf` there). Default: false (DPDK's).
    #[serde(skip_serializing_if = "is_false")]
    pub in_memory: bool,
    /// No shared configuration (`--no-shconf`): needed to run two processes
    /// with `no_huge` side by side. Default: false (DPDK's).
    #[serde(skip_serializing_if = "is_false")]
    pub no_shconf: bool,
    /// Name of the runtime files (`--file-prefix`); two processes with
    /// shared configuration need different ones. Default: unset, DPDK's
    /// `rte`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_prefix: Option<String>,
    /// Extra virtual devices that are not a `[[port]]` (e.g. a
    /// `net_pcap0,tx_pcap=/tmp/cap.pcap` capture port). Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vdevs: Vec<String>,
}

impl EalConfig {
    pub(crate) const KEYS: &'static [&'static str] = &[
        "args",
        "lcores",
        "main_lcore",
        "memory_mb",
        "no_huge",
        "in_memory",
        "no_shconf",
        "file_prefix",
        "vdevs",
    ];

    /// The structured keys that are set, by name (to check against `args`).
    pub(crate) fn structured_keys_set(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.lcores.is_some() {
            v.push("lcores");
        }
        if self.main_lcore.is_some() {
            v.push("main_lcore");
        }
        if self.memory_mb.is_some() {
            v.push("memory_mb");
        }
        if self.no_huge {
            v.push("no_huge");
        }
        if self.in_memory {
            v.push("in_memory");
        }
        if self.no_shconf {
            v.push("no_shconf");
        }
        if self.file_prefix.is_some() {
            v.push("file_prefix");
        }
        if !self.vdevs.is_empty() {
            v.push("vdevs");
        }
        v
    }

    pub(crate) fn decode(ctx: &mut Ctx<'_>, node: &Node) -> EalConfig {
        let mut c = EalConfig::default();
        let Some(f) = ctx.table(node, "eal", Self::KEYS) else {
            return c;
        };
        f.put(ctx, "args", &mut c.args, |ctx, n, p| {
            list(
                ctx,
                n,
                p,
                "a list of EAL arguments (strings)",
                Split::Whitespace,
                |ctx, n, p| string(ctx, n, p, "an EAL argument (a string)", |_| true),
            )
        });
        f.put(ctx, "lcores", &mut c.lcores, |ctx, n, p| {
            core_list(ctx, n, p).map(Some)
        });
        f.put(ctx, "main_lcore", &mut c.main_lcore, |ctx, n, p| {
            int(
                ctx,
                n,
                p,
                0,
                MAX_LCORE.into(),
                " (DPDK's RTE_MAX_LCORE is 128)",
            )
            .map(Some)
        });
        f.put(ctx, "memory_mb", &mut c.memory_mb, |ctx, n, p| {
            int(ctx, n, p, 1, 1 << 20, "").map(Some)
        });
        f.put(ctx, "no_huge", &mut c.no_huge, boolean);
        f.put(ctx, "in_memory", &mut c.in_memory, boolean);
        f.put(ctx, "no_shconf", &mut c.no_shconf, boolean);
        f.put(ctx, "file_prefix", &mut c.file_prefix, |ctx, n, p| {
            string(
                ctx,
                n,
                p,
                "a file name prefix (letters, digits, '-', '_', '.')",
                |s| {
                    !s.is_empty()
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                },
            )
            .map(Some)
        });
        f.put(ctx, "vdevs", &mut c.vdevs, |ctx, n, p| {
            list(
                ctx,
                n,
                p,
                "a list of DPDK virtual devices",
                Split::Whitespace,
                |ctx, n, p| string(ctx, n, p, VDEV_EXPECTED, valid_vdev),
            )
        });
        c
    }
}

/// A core list: array of integers or a `-l` string.
pub(crate) fn core_list(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> Option<CoreList> {
    // Override text is a `-l` list (`3`, `0-1`) unless it is a TOML array.
    let n = match &node.kind {
        Kind::Raw(s) if !s.trim_start().starts_with('[') => node.resolved(true),
        _ => node.resolved(false),
    };
    let r = match &n.kind {
        Kind::Str(s) => s.parse::<CoreList>().map_err(|e| e.to_string()),
        Kind::Array(items) => {
            let mut v = Vec::new();
            for it in items {
                match it.kind {
                    Kind::Int(Some(c), _) if (0..=i128::from(MAX_LCORE)).contains(&c) => {
                        v.push(c as u32)
                    }
                    _ => {
                        ctx.invalid(path, &n, CoreList::EXPECTED);
                        return None;
                    }
                }
            }
            CoreList::new(v).map_err(|e| e.to_string())
        }
        _ => Err(format!("expected {}", CoreList::EXPECTED)),
    };
    match r {
        Ok(c) => Some(c),
        Err(why) => {
            let msg = why.strip_prefix("expected ").unwrap_or(&why).to_string();
            ctx.invalid(path, &n, msg);
            None
        }
    }
}

// ---------------------------------------------------------------------------
// [[port]]
// ---------------------------------------------------------------------------

pub(crate) const VDEV_EXPECTED: &str =
    "a DPDK virtual device NAME[,KEY=VALUE...] such as \"net_af_packet0,iface=s1\"";
const PCI_EXPECTED: &str =
    "a PCI address such as \"0000:03:00.0\" (optionally followed by ,KEY=VALUE devargs)";

fn valid_devargs(args: &str) -> bool {
    args.split(',').all(|kv| {
        kv.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    })
}

pub(crate) fn valid_vdev(s: &str) -> bool {
    let (name, args) = s.split_once(',').unwrap_or((s, ""));
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && (args.is_empty() && !s.ends_with(',') || valid_devargs(args))
}

/// `DDDD:BB:DD.F` or `BB:DD.F`, hex, function 0..=7; normalized with the
/// domain.
fn normalize_pci(s: &str) -> Option<String> {
    let (addr, args) = s.split_once(',').unwrap_or((s, ""));
    if s.contains(',') && !valid_devargs(args) {
        return None;
    }
    let hex = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit());
    let parts: Vec<&str> = addr.split(':').collect();
    let (domain, bus, devfn) = match parts.as_slice() {
        [d, b, df] => (*d, *b, *df),
        [b, df] => ("0000", *b, *df),
        _ => return None,
    };
    let (dev, func) = devfn.split_once('.')?;
    let func_ok = func.len() == 1 && matches!(func.as_bytes()[0], b'0'..=b'7');
    if !(hex(domain, 4) && hex(bus, 2) && hex(dev, 2) && func_ok) {
        return None;
    }
    Some(format!("{}:{}:{}.{}", domain, bus, dev, func).to_ascii_lowercase())
}

/// A static neighbour (ARP / NDP) entry: `{ ip = "10.0.1.1", mac =
/// "02:00:00:00:01:01" }`. The stack answers and resolves ARP and NDP
/// itself; static entries skip resolution (e.g. towards a peer that does
/// not answer, or to keep resolution out of a measurement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Neighbour {
    /// The neighbour's address; on the subnet of one of the port's addresses.
    pub ip: IpAddr,
    /// Its MAC address.
    pub mac: MacAddr,
}

/// How a port's device is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortDevice<'a> {
    /// A virtual device, `--vdev` argument.
    Vdev(&'a str),
    /// A PCI device, `-a` argument.
    Pci(&'a str),
}

/// `[[port]]`: one DPDK ethdev port and the addresses the stack owns on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortConfig {
    /// A name for logs and reports. Default: `port0`, `port1`… by position.
    pub name: String,
    /// The port as a DPDK virtual device, e.g. `net_af_packet0,iface=s1`,
    /// `net_memif0,role=server,socket=/tmp/mptfo.sock`. Exactly one of
    /// `vdev` and `pci` must be set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vdev: Option<String>,
    /// The port as a PCI device (`0000:03:00.0`), for a real NIC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pci: Option<String>,
    /// Addresses the stack owns on this port, with prefix length
    /// (`10.0.1.2/24`, `fd00:1::2/64`). Required, at least one. On a veth
    /// shared with the kernel (af_packet, af_xdp), use an address the
    /// kernel does not also hold on that interface.
    pub addresses: Vec<IpPrefix>,
    /// IP MTU in bytes. Default: 1500, the Ethernet and veth default.
    pub mtu: u16,
    /// Static neighbour entries. Default: none (ARP / NDP resolve).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub neighbours: Vec<Neighbour>,
    /// Receive queues. Default: unset, one per worker core (each core
    /// polls its own queue). Must match the device (af_packet `qpairs=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rx_queues: Option<u16>,
    /// Transmit queues. Default: unset, one per worker core.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_queues: Option<u16>,
}

impl PortConfig {
    pub(crate) const KEYS: &'static [&'static str] = &[
        "name",
        "vdev",
        "pci",
        "addresses",
        "mtu",
        "neighbours",
        "rx_queues",
        "tx_queues",
    ];

    /// A port on virtual device `vdev` with the given addresses (everything
    /// else at its default).
    pub fn vdev(name: &str, vdev: &str, addresses: Vec<IpPrefix>) -> PortConfig {
        PortConfig {
            name: name.to_string(),
            vdev: Some(vdev.to_string()),
            pci: None,
            addresses,
            mtu: 1500,
            neighbours: Vec::new(),
            rx_queues: None,
            tx_queues: None,
        }
    }

    /// The port's device (`None` only in a config that failed validation).
    pub fn device(&self) -> Option<PortDevice<'_>> {
        match (&self.vdev, &self.pci) {
            (Some(v), None) => Some(PortDevice::Vdev(v)),
            (None, Some(p)) => Some(PortDevice::Pci(p)),
            _ => None,
        }
    }

    /// The name DPDK gives the port (`rte_eth_dev_get_port_by_name`): the
    /// vdev's name before the first comma, or the PCI address.
    pub fn device_name(&self) -> Option<&str> {
        match self.device()? {
            PortDevice::Vdev(v) => Some(v.split(',').next().unwrap_or(v)),
            PortDevice::Pci(p) => Some(p.split(',').next().unwrap_or(p)),
        }
    }

    /// Whether any address is IPv6.
    pub fn has_ipv6(&self) -> bool {
        self.addresses.iter().any(|a| a.addr.is_ipv6())
    }

    /// IP + TCP header bytes without options on this port: 60 if it has an
    /// IPv6 address, else 40.
    pub fn header_bytes(&self) -> u16 {
        if self.has_ipv6() {
            60
        } else {
            40
        }
    }

    pub(crate) fn decode(
        ctx: &mut Ctx<'_>,
        node: &Node,
        path: &str,
        index: usize,
    ) -> Option<PortConfig> {
        let f = ctx.table(node, path, Self::KEYS)?;
        let mut c = PortConfig {
            name: format!("port{index}"),
            vdev: None,
            pci: None,
            addresses: Vec::new(),
            mtu: 1500,
            neighbours: Vec::new(),
            rx_queues: None,
            tx_queues: None,
        };
        f.put(ctx, "name", &mut c.name, |ctx, n, p| {
            string(ctx, n, p, "a non-empty name without spaces", |s| {
                !s.is_empty() && !s.chars().any(char::is_whitespace)
            })
        });
        f.put(ctx, "vdev", &mut c.vdev, |ctx, n, p| {
            string(ctx, n, p, VDEV_EXPECTED, valid_vdev).map(Some)
        });
        f.put(ctx, "pci", &mut c.pci, |ctx, n, p| {
            parsed(ctx, n, p, PCI_EXPECTED, |s| {
                let norm = normalize_pci(s)?;
                let args = s.split_once(',').map(|(_, a)| a);
                Some(Some(match args {
                    Some(a) => format!("{norm},{a}"),
                    None => norm,
                }))
            })
        });
        let addr_expected =
            "a list of IPv4 or IPv6 addresses with prefix lengths, such as [\"10.0.1.2/24\"]";
        match f.get("addresses") {
            Some((n, p)) => {
                ctx.saw(&p, n);
                if let Some(v) = list(ctx, n, &p, addr_expected, Split::Comma, |ctx, n, p| {
                    parsed(ctx, n, p, IpPrefix::EXPECTED, |s| s.parse().ok())
                }) {
                    if v.is_empty() {
                        ctx.invalid(&p, n, addr_expected);
                    }
                    c.addresses = v;
                }
            }
            None => ctx.missing(&decode::child(path, "addresses"), node, addr_expected),
        }
        f.put(ctx, "mtu", &mut c.mtu, |ctx, n, p| {
            int(ctx, n, p, 576, 9216, "")
        });
        f.put(ctx, "neighbours", &mut c.neighbours, |ctx, n, p| {
            list(
                ctx,
                n,
                p,
                "a list of { ip, mac } tables",
                Split::Comma,
                |ctx, n, p| {
                    let f = ctx.table(n, p, &["ip", "mac"])?;
                    let ip = match f.get("ip") {
                        Some((n, p)) => {
                            ctx.saw(&p, n);
                            parsed(ctx, n, &p, "an IPv4 or IPv6 address", |s| {
                                s.parse::<IpAddr>().ok()
                            })
                        }
                        None => {
                            ctx.missing(&decode::child(p, "ip"), n, "an IPv4 or IPv6 address");
                            None
                        }
                    };
                    let mac = match f.get("mac") {
                        Some((n, p)) => {
                            ctx.saw(&p, n);
                            parsed(ctx, n, &p, MacAddr::EXPECTED, |s| s.parse().ok())
                        }
                        None => {
                            ctx.missing(&decode::child(p, "mac"), n, MacAddr::EXPECTED);
                            None
                        }
                    };
                    Some(Neighbour { ip: ip?, mac: mac? })
                },
            )
        });
        f.put(ctx, "rx_queues", &mut c.rx_queues, |ctx, n, p| {
            int(ctx, n, p, 1, 128, "").map(Some)
        });
        f.put(ctx, "tx_queues", &mut c.tx_queues, |ctx, n, p| {
            int(ctx, n, p, 1, 128, "").map(Some)
        });
        Some(c)
    }
}

// ---------------------------------------------------------------------------
// [tcp]
// ---------------------------------------------------------------------------

/// Congestion control of new subflows (`net.ipv4.tcp_congestion_control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Congestion {
    /// CUBIC, RFC 9438: Linux's default.
    #[default]
    Cubic,
    /// NewReno, RFC 5681 / RFC 6582 (Linux calls it `reno`, which is
    /// accepted as a synonym).
    NewReno,
}

/// `[tcp]`: TCP subflow settings. Durations are in milliseconds, as the
/// key names say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TcpConfig {
    /// MSS announced and used, in bytes. Default: unset, the smallest port
    /// MTU minus 40 (IPv4) or 60 (a port with IPv6) header bytes, as Linux
    /// derives `advmss` from the MTU: 1460 on a 1500-byte MTU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mss: Option<u16>,
    /// Receive window offered per connection, in bytes. Default: 262144,
    /// the engine's (Linux starts at `tcp_rmem[1]` = 131072 and autotunes).
    pub recv_window: u32,
    /// Window scale shift offered (RFC 7323). Default: 7, what Linux offers
    /// with its default `tcp_rmem[2]` of 6 MB.
    pub window_shift: u8,
    /// Send buffer per connection, in bytes; writes beyond it are refused.
    /// Default: 262144, the engine's (Linux starts at `tcp_wmem[1]` = 16384
    /// and autotunes).
    pub send_buffer: u32,
    /// Offer TCP timestamps (RFC 7323). Default: true, Linux's
    /// `tcp_timestamps` = 1.
    pub timestamps: bool,
    /// Offer SACK (RFC 2018). Default: true, Linux's `tcp_sack` = 1.
    pub sack: bool,
    /// `"cubic"` or `"newreno"`. Default: cubic, Linux's default.
    pub congestion: Congestion,
    /// Lower bound of the retransmission timeout. Default: 200, Linux's
    /// `TCP_RTO_MIN`.
    pub min_rto_ms: u32,
    /// Upper bound of the retransmission timeout. Default: 120000, Linux's
    /// `TCP_RTO_MAX`.
    pub max_rto_ms: u32,
    /// Retransmission timeout before the first RTT sample. Default: 1000,
    /// RFC 6298 and Linux's `TCP_TIMEOUT_INIT`.
    pub initial_rto_ms: u32,
    /// SYN retransmissions before a connection attempt fails. Default: 6,
    /// Linux's `tcp_syn_retries`.
    pub syn_retries: u8,
    /// SYN/ACK retransmissions. Default: 5, Linux's `tcp_synack_retries`.
    pub synack_retries: u8,
    /// Data retransmissions before the subflow is reset. Default: 15,
    /// Linux's `tcp_retries2`.
    pub data_retries: u8,
    /// Delayed-ACK timeout. Default: 40, Linux's `TCP_DELACK_MIN`.
    pub delayed_ack_ms: u32,
    /// How long a closed 4-tuple stays in TIME_WAIT. Default: 60000,
    /// Linux's `TCP_TIMEWAIT_LEN` (2 MSL).
    pub time_wait_ms: u32,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            mss: None,
            recv_window: 256 * 1024,
            window_shift: 7,
            send_buffer: 256 * 1024,
            timestamps: true,
            sack: true,
            congestion: Congestion::Cubic,
            min_rto_ms: 200,
            max_rto_ms: 120_000,
            initial_rto_ms: 1000,
            syn_retries: 6,
            synack_retries: 5,
            data_retries: 15,
            delayed_ack_ms: 40,
            time_wait_ms: 60_000,
        }
    }
}

impl TcpConfig {
    pub(crate) const KEYS: &'static [&'static str] = &[
        "mss",
        "recv_window",
        "window_shift",
        "send_buffer",
        "timestamps",
        "sack",
        "congestion",
        "min_rto_ms",
        "max_rto_ms",
        "initial_rto_ms",
        "syn_retries",
        "synack_retries",
        "data_retries",
        "delayed_ack_ms",
        "time_wait_ms",
    ];

    /// `min_rto_ms` as a duration.
    pub fn min_rto(&self) -> Duration {
        Duration::from_millis(self.min_rto_ms.into())
    }

    /// `max_rto_ms` as a duration.
    pub fn max_rto(&self) -> Duration {
        Duration::from_millis(self.max_rto_ms.into())
    }

    /// `initial_rto_ms` as a duration.
    pub fn initial_rto(&self) -> Duration {
        Duration::from_millis(self.initial_rto_ms.into())
    }

    /// `delayed_ack_ms` as a duration.
    pub fn delayed_ack(&self) -> Duration {
        Duration::from_millis(self.delayed_ack_ms.into())
    }

    /// `time_wait_ms` as a duration.
    pub fn time_wait(&self) -> Duration {
        Duration::from_millis(self.time_wait_ms.into())
    }

    pub(crate) fn decode(ctx: &mut Ctx<'_>, node: &Node) -> TcpConfig {
        let mut c = TcpConfig::default();
        let Some(f) = ctx.table(node, "tcp", Self::KEYS) else {
            return c;
        };
        f.put(ctx, "mss", &mut c.mss, |ctx, n, p| {
            int(ctx, n, p, 88, 9176, "").map(Some)
        });
        f.put(ctx, "recv_window", &mut c.recv_window, |ctx, n, p| {
            int(ctx, n, p, 1024, 1 << 30, "")
        });
        f.put(ctx, "window_shift", &mut c.window_shift, |ctx, n, p| {
            int(ctx, n, p, 0, 14, " (RFC 7323)")
        });
        f.put(ctx, "send_buffer", &mut c.send_buffer, |ctx, n, p| {
            int(ctx, n, p, 1024, 1 << 30, "")
        });
        f.put(ctx, "timestamps", &mut c.timestamps, boolean);
        f.put(ctx, "sack", &mut c.sack, boolean);
        f.put(ctx, "congestion", &mut c.congestion, |ctx, n, p| {
            choice(
                ctx,
                n,
                p,
                &[
                    ("cubic", Congestion::Cubic),
                    ("newreno", Congestion::NewReno),
                ],
                &[("reno", Congestion::NewReno)],
            )
        });
        f.put(ctx, "min_rto_ms", &mut c.min_rto_ms, |ctx, n, p| {
            int(ctx, n, p, 1, 120_000, "")
        });
        f.put(ctx, "max_rto_ms", &mut c.max_rto_ms, |ctx, n, p| {
            int(ctx, n, p, 1000, 120_000, " (Linux's TCP_RTO_MAX is 120000)")
        });
        f.put(ctx, "initial_rto_ms", &mut c.initial_rto_ms, |ctx, n, p| {
            int(ctx, n, p, 1, 120_000, "")
        });
        f.put(ctx, "syn_retries", &mut c.syn_retries, |ctx, n, p| {
            int(ctx, n, p, 1, 127, " (Linux's tcp_syn_retries range)")
        });
        f.put(ctx, "synack_retries", &mut c.synack_retries, |ctx, n, p| {
            int(ctx, n, p, 0, 255, "")
        });
        f.put(ctx, "data_retries", &mut c.data_retries, |ctx, n, p| {
            int(ctx, n, p, 1, 255, "")
        });
        f.put(ctx, "delayed_ack_ms", &mut c.delayed_ack_ms, |ctx, n, p| {
            int(
                ctx,
                n,
                p,
                0,
                500,
                " (RFC 5681: at most 500 ms; 0 acknowledges at once)",
            )
        });
        f.put(ctx, "time_wait_ms", &mut c.time_wait_ms, |ctx, n, p| {
            int(ctx, n, p, 0, 240_000, "")
        });
        c
    }
}

// ---------------------------------------------------------------------------
// [tfo]
// ---------------------------------------------------------------------------

/// `[tfo.server]`: TCP Fast Open on listeners (RFC 7413 §4.2; Linux
/// `tcp_fastopen` bit 0x2 plus the `TCP_FASTOPEN` socket option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TfoServerConfig {
    /// Accept data in SYNs. Default: true: the engine's default, and what a
    /// Linux listener does with `tcp_fastopen` & 0x2 and `TCP_FASTOPEN` set
    /// (Linux's own default `tcp_fastopen` = 1 is client-only).
    pub enabled: bool,
    /// Accept SYN data without a cookie (Linux bit 0x200). Default: false.
    /// Ignored when `enabled` is false.
    pub no_cookie: bool,
    /// Most TFO connections whose handshake is not complete yet (the
    /// `TCP_FASTOPEN` queue length); beyond it SYN data is not accepted,
    /// the handshake still goes on. Default: 4096, the engine's and the
    /// kernel reference peer's.
    pub queue_len: u32,
    /// The cookie key. Default: unset; the program then picks one (Linux
    /// picks a random key at first use). Set it to get cookies that survive
    /// a restart or that match a kernel peer with the same
    /// `tcp_fastopen_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<TfoKey>,
    /// A second key still accepted during a key rotation (Linux's
    /// `primary,backup` form). Default: unset. Needs `key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_key: Option<TfoKey>,
}

impl Default for TfoServerConfig {
    fn default() -> Self {
        TfoServerConfig {
            enabled: true,
            no_cookie: false,
            queue_len: 4096,
            key: None,
            backup_key: None,
        }
    }
}

/// `[tfo.client]`: TCP Fast Open on connects (Linux `tcp_fastopen` bit 0x1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TfoClientConfig {
    /// Ask for cookies, and send data in the SYN once one is cached.
    /// Default: true, Linux's default `tcp_fastopen` = 1.
    pub enabled: bool,
    /// How long a server whose SYN-with-data went unanswered gets no SYN
    /// data (the negative cache of RFC 7413 §4.1.3.2), in seconds.
    /// Default: 60, the engine's.
    pub negative_cache_s: u32,
}

impl Default for TfoClientConfig {
    fn default() -> Self {
        TfoClientConfig {
            enabled: true,
            negative_cache_s: 60,
        }
    }
}

impl TfoClientConfig {
    /// `negative_cache_s` as a duration.
    pub fn negative_cache(&self) -> Duration {
        Duration::from_secs(self.negative_cache_s.into())
    }
}

/// `[tfo]`: TCP Fast Open, listener side and connecting side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TfoConfig {
    /// Listener side.
    pub server: TfoServerConfig,
    /// Connecting side.
    pub client: TfoClientConfig,
}

impl TfoConfig {
    /// The value of Linux's `net.ipv4.tcp_fastopen` that matches: 0x1
    /// client, 0x2 server, 0x200 server without cookies.
    pub fn linux_tcp_fastopen(&self) -> u32 {
        let mut v = 0;
        if self.client.enabled {
            v |= 0x1;
        }
        if self.server.enabled {
            v |= 0x2;
            if self.server.no_cookie {
                v |= 0x200;
            }
        }
        v
    }

    pub(crate) fn decode(ctx: &mut Ctx<'_>, node: &Node) -> TfoConfig {
        let mut c = TfoConfig::default();
        let Some(f) = ctx.table(node, "tfo", &["server", "client"]) else {
            return c;
        };
        if let Some((n, p)) = f.get("server") {
            if let Some(s) = ctx.table(
                n,
                &p,
                &["enabled", "no_cookie", "queue_len", "key", "backup_key"],
            ) {
                let c = &mut c.server;
                s.put(ctx, "enabled", &mut c.enabled, boolean);
                s.put(ctx, "no_cookie", &mut c.no_cookie, boolean);
                s.put(ctx, "queue_len", &mut c.queue_len, |ctx, n, p| {
                    int(ctx, n, p, 1, 1 << 20, "")
                });
                s.put(ctx, "key", &mut c.key, tfo_key);
                s.put(ctx, "backup_key", &mut c.backup_key, tfo_key);
            }
        }
        if let Some((n, p)) = f.get("client") {
            if let Some(s) = ctx.table(n, &p, &["enabled", "negative_cache_s"]) {
                let c = &mut c.client;
                s.put(ctx, "enabled", &mut c.enabled, boolean);
                s.put(
                    ctx,
                    "negative_cache_s",
                    &mut c.negative_cache_s,
                    |ctx, n, p| int(ctx, n, p, 0, 86_400, ""),
                );
            }
        }
        c
    }
}

fn tfo_key(ctx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<Option<TfoKey>> {
    parsed(ctx, n, p, TfoKey::EXPECTED, |s| s.parse().ok()).map(Some)
}

// ---------------------------------------------------------------------------
// [mptcp]
// ---------------------------------------------------------------------------

/// When a TFO listener sends a reply written before the client's MPTCP key
/// has arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyTiming {
    /// Hold the reply until the MP_CAPABLE third ACK brings the client's
    /// key, then send it with a DATA_ACK: two round trips, and a Linux
    /// client stays MPTCP. The engine's default.
    #[default]
    Hold,
    /// Send the reply right after the SYN/ACK, with a mapping and no
    /// DATA_ACK (RFC 8684 Appendix B with erratum 6609): one round trip;
    /// a Linux 6.18 client falls back to TCP on it, our client does not.
    Early,
}

/// A flag of an MPTCP endpoint, as `ip mptcp endpoint add … FLAGS` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointFlag {
    /// Announce this address to the peer (ADD_ADDR).
    Signal,
    /// Open an extra subflow from this address (MP_JOIN).
    Subflow,
    /// Subflows on this address are backup subflows (MP_PRIO / B bit).
    Backup,
    /// Open a subflow from this address to every address the peer has
    /// announced; not with `signal` (Linux refuses it).
    Fullmesh,
}

impl EndpointFlag {
    const NAMES: &'static [(&'static str, EndpointFlag)] = &[
        ("signal", EndpointFlag::Signal),
        ("subflow", EndpointFlag::Subflow),
        ("backup", EndpointFlag::Backup),
        ("fullmesh", EndpointFlag::Fullmesh),
    ];

    /// The flag's name in `ip mptcp` and in the TOML file.
    pub fn name(self) -> &'static str {
        match self {
            EndpointFlag::Signal => "signal",
            EndpointFlag::Subflow => "subflow",
            EndpointFlag::Backup => "backup",
            EndpointFlag::Fullmesh => "fullmesh",
        }
    }
}

/// `[[mptcp.endpoint]]`: a local address the path manager may use, like
/// `ip mptcp endpoint add ADDRESS id ID FLAGS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// One of the ports' addresses (without prefix length).
    pub address: IpAddr,
    /// Address ID announced in ADD_ADDR / MP_JOIN, 1..=255 (0 is the
    /// initial subflow's address). Default: unset, the next free ID, as
    /// Linux assigns it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u8>,
    /// Flags. Default: none (the address is only used for subflows towards
    /// addresses the peer announces).
    pub flags: Vec<EndpointFlag>,
}

impl Endpoint {
    /// Whether the endpoint has `flag`.
    pub fn has(&self, flag: EndpointFlag) -> bool {
        self.flags.contains(&flag)
    }
}

/// `[mptcp.limits]`: the in-kernel path manager's limits, as `ip mptcp
/// limits set subflow N add_addr_accepted M` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MptcpLimits {
    /// Most extra subflows (MP_JOIN) per connection, 0..=8. Default: 2,
    /// Linux's default ("2 subflows ought to be enough for anybody").
    pub subflows: u8,
    /// Most peer ADD_ADDRs acted on per connection, 0..=8. Default: 0,
    /// Linux's default.
    pub add_addr_accepted: u8,
}

impl Default for MptcpLimits {
    fn default() -> Self {
        MptcpLimits {
            subflows: 2,
            add_addr_accepted: 0,
        }
    }
}

/// `[mptcp]`: Multipath TCP (Linux `net.mptcp.*` and `ip mptcp`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MptcpConfig {
    /// Offer and accept MP_CAPABLE. Default: true, Linux's
    /// `net.mptcp.enabled` = 1.
    pub enabled: bool,
    /// Ask for DSS checksums. Default: false, Linux's
    /// `net.mptcp.checksum_enabled` = 0.
    pub checksum: bool,
    /// Set the C flag: "no more subflows to my initial address and port".
    /// Default: false, Linux's `net.mptcp.allow_join_initial_addr_port` = 1.
    pub deny_join_id0: bool,
    /// `"hold"` or `"early"`: see [`ReplyTiming`]. Default: hold, the
    /// engine's (safe with Linux clients).
    pub reply_timing: ReplyTiming,
    /// Path manager limits.
    pub limits: MptcpLimits,
    /// Endpoints, at most 8 (Linux's limit). Default: none.
    #[serde(rename = "endpoint", skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<Endpoint>,
}

impl Default for MptcpConfig {
    fn default() -> Self {
        MptcpConfig {
            enabled: true,
            checksum: false,
            deny_join_id0: false,
            reply_timing: ReplyTiming::Hold,
            limits: MptcpLimits::default(),
            endpoints: Vec::new(),
        }
    }
}

/// Linux's `MPTCP_PM_ADDR_MAX`: most endpoints, and the highest limit.
pub const MPTCP_PM_ADDR_MAX: u8 = 8;

impl MptcpConfig {
    pub(crate) const KEYS: &'static [&'static str] = &[
        "enabled",
        "checksum",
        "deny_join_id0",
        "reply_timing",
        "limits",
        "endpoint",
    ];

    pub(crate) fn decode(ctx: &mut Ctx<'_>, node: &Node) -> MptcpConfig {
        let mut c = MptcpConfig::default();
        let Some(f) = ctx.table(node, "mptcp", Self::KEYS) else {
            return c;
        };
        f.put(ctx, "enabled", &mut c.enabled, boolean);
        f.put(ctx, "checksum", &mut c.checksum, boolean);
        f.put(ctx, "deny_join_id0", &mut c.deny_join_id0, boolean);
        f.put(ctx, "reply_timing", &mut c.reply_timing, |ctx, n, p| {
            choice(
                ctx,
                n,
                p,
                &[("hold", ReplyTiming::Hold), ("early", ReplyTiming::Early)],
                &[],
            )
        });
        if let Some((n, p)) = f.get("limits") {
            if let Some(l) = ctx.table(n, &p, &["subflows", "add_addr_accepted"]) {
                let max = i128::from(MPTCP_PM_ADDR_MAX);
                l.put(ctx, "subflows", &mut c.limits.subflows, |ctx, n, p| {
                    int(ctx, n, p, 0, max, " (Linux's limit)")
                });
                l.put(
                    ctx,
                    "add_addr_accepted",
                    &mut c.limits.add_addr_accepted,
                    |ctx, n, p| int(ctx, n, p, 0, max, " (Linux's limit)"),
                );
            }
        }
        f.put(ctx, "endpoint", &mut c.endpoints, |ctx, n, p| {
            array_of_tables(ctx, n, p, "mptcp.endpoint", |ctx, n, p, _| {
                Endpoint::decode(ctx, n, p)
            })
        });
        c
    }
}

impl Endpoint {
    fn decode(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> Option<Endpoint> {
        let f = ctx.table(node, path, &["address", "id", "flags"])?;
        let expected = "an IPv4 or IPv6 address without prefix length";
        let address = match f.get("address") {
            Some((n, p)) => {
                ctx.saw(&p, n);
                parsed(ctx, n, &p, expected, |s| s.parse::<IpAddr>().ok())
            }
            None => {
                ctx.missing(&decode::child(path, "address"), node, expected);
                None
            }
        };
        let mut id = None;
        f.put(ctx, "id", &mut id, |ctx, n, p| {
            int(ctx, n, p, 1, 255, " (0 is the initial subflow's address)").map(Some)
        });
        let mut flags = Vec::new();
        let flags_expected = format!(
            "a list of flags from {}",
            decode::one_of(EndpointFlag::NAMES.iter().map(|(n, _)| *n))
                .trim_start_matches("one of ")
        );
        f.put(ctx, "flags", &mut flags, |ctx, n, p| {
            let v = list(ctx, n, p, &flags_expected, Split::Comma, |ctx, n, p| {
                choice(ctx, n, p, EndpointFlag::NAMES, &[])
            })?;
            for (i, fl) in v.iter().enumerate() {
                if v[..i].contains(fl) {
                    ctx.invalid_at(
                        &format!("{p}[{i}]"),
                        crate::node::quote(fl.name()),
                        "this flag is already listed",
                    );
                    return None;
                }
            }
            Some(v)
        });
        Some(Endpoint {
            address: address?,
            id,
            flags,
        })
    }
}

/// An array of tables (`[[port]]`): each element decoded by `dec` with
/// its path `PATH[i]` and index.
pub(crate) fn array_of_tables<T>(
    ctx: &mut Ctx<'_>,
    node: &Node,
    path: &str,
    header: &str,
    mut dec: impl FnMut(&mut Ctx<'_>, &Node, &str, usize) -> Option<T>,
) -> Option<Vec<T>> {
    let Kind::Array(items) = &node.kind else {
        ctx.invalid(
            path,
            node,
            format!("an array of tables, written [[{header}]]"),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, it) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        match dec(ctx, it, &p, i) {
            Some(v) => out.push(v),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

// ---------------------------------------------------------------------------
// [serve]
// ---------------------------------------------------------------------------

/// What `mptfo serve` does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServeMode {
    /// Answer each request with `response_bytes` bytes.
    #[default]
    Rpc,
    /// Send every request back as it came.
    Echo,
}

/// `[serve]`: the benchmark server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeConfig {
    /// TCP port listened on, on every port address. Default: 8080, the
    /// kernel reference peer's.
    pub listen_port: u16,
    /// `"rpc"` or `"echo"`. Default: rpc, as `mptfo bench`.
    pub mode: ServeMode,
    /// Reply size in rpc mode, in bytes. Default: 64, the kernel
    /// reference benchmark's. Ignored in echo mode.
    pub response_bytes: u32,
    /// Stop after this many seconds. Default: unset, run until interrupted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Capture the frames of every port to this pcap file. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcap: Option<PathBuf>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen_port: 8080,
            mode: ServeMode::Rpc,
            response_bytes: 64,
            duration_s: None,
            pcap: None,
        }
    }
}

const MAX_SECONDS: f64 = 366.0 * 86_400.0;
const DURATION_EXPECTED: &str = "a number of seconds greater than 0 (e.g. 10 or 0.5)";

fn duration(ctx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<Option<f64>> {
    positive_number(ctx, n, p, MAX_SECONDS, DURATION_EXPECTED).map(Some)
}

fn path_value(ctx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<Option<PathBuf>> {
    string(ctx, n, p, "a file path", |s| !s.is_empty()).map(|s| Some(PathBuf::from(s)))
}

impl ServeConfig {
    pub(crate) const KEYS: &'static [&'static str] = &[
        "listen_port",
        "mode",
        "response_bytes",
        "duration_s",
        "pcap",
    ];

    /// `duration_s` as a duration.
    pub fn duration(&self) -> Option<Duration> {
        self.duration_s.map(Duration::from_secs_f64)
    }

    pub(crate) fn decode(ctx: &mut Ctx<'_>, node: &Node) -> Option<ServeConfig> {
        let f = ctx.table(node, "serve", Self::KEYS)?;
        let mut c = ServeConfig::default();
        f.put(ctx, "listen_port", &mut c.listen_port, |ctx, n, p| {
            int(ctx, n, p, 1, 65535, "")
        });
        f.put(ctx, "mode", &mut c.mode, |ctx, n, p| {
            choice(
                ctx,
                n,
                p,
                &[("rpc", ServeMode::Rpc), ("echo", ServeMode::Echo)],
                &[],
            )
        });
        f.put(ctx, "response_bytes", &mut c.response_bytes, |ctx, n, p| {
            int(ctx, n, p, 0, 1 << 30, "")
        });
        f.put(ctx, "duration_s", &mut c.duration_s, duration);
        f.put(ctx, "pcap", &mut c.pcap, path_value);
        Some(c)
    }
}

// ---------------------------------------------------------------------------
// [loadgen]
// ---------------------------------------------------------------------------

/// What one transaction of `mptfo loadgen` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// Connections per second: each transaction opens a connection, sends
    /// the request (in the SYN with TFO), reads the reply and closes, as
    /// the kernel reference benchmark does.
    #[default]
    Cps,
    /// Requests per second: requests follow each other on long-lived
    /// connections.
    Rps,
}

/// How load is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// Closed loop: this many transactions in flight, each starting when
    /// the previous one ends.
    Connections(u32),
    /// Open loop: this many transactions started per second, whatever the
    /// replies do.
    Rate(u64),
}

/// `[loadgen]`: the load generator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadgenConfig {
    /// The server, `"ADDR:PORT"` (`"10.0.1.2:8080"`, `"[fd00:1::2]:8080"`).
    /// Required.
    pub target: SocketAddr,
    /// Closed loop: transactions in flight. Not with `rate`. Default: when
    /// neither is set, closed loop with 16, as `mptfo bench`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<u32>,
    /// Open loop: transactions started per second. Not with `connections`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<u64>,
    /// Length of the run in seconds. Default: unset: 10 s (the kernel
    /// reference benchmark's), or no time limit when `transactions` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Stop after this many transactions. Default: unset (no count limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactions: Option<u64>,
    /// Request size in bytes. Default: 64, the kernel reference
    /// benchmark's; up to one MSS rides in the SYN with TFO.
    pub request_bytes: u32,
    /// Reply size expected, in bytes (the server's `response_bytes`, or
    /// `request_bytes` against an echo server). Default: 64.
    pub response_bytes: u32,
    /// Send the request in the SYN (TCP Fast Open). Default: unset,
    /// follow `tfo.client.enabled` (true). `true` needs
    /// `tfo.client.enabled`. See [`LoadgenConfig::uses_tfo`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tfo: Option<bool>,
    /// Offer MPTCP. Default: unset, follow `mptcp.enabled` (true). `true`
    /// needs `mptcp.enabled`. See [`LoadgenConfig::uses_mptcp`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mptcp: Option<bool>,
    /// Extra subflows (MP_JOIN) to open per connection, 0..=8, at most
    /// `mptcp.limits.subflows`. Default: 0 (one path, as the kernel
    /// reference benchmark's MPTCP runs).
    pub subflows: u8,
    /// `"cps"` or `"rps"`: see [`Shape`]. Default: cps.
    pub shape: Shape,
    /// Write the report as JSON to this file. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<PathBuf>,
    /// Capture the frames of every port to this pcap file. Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcap: Option<PathBuf>,
}

impl LoadgenConfig {
    pub(crate) const KEYS: &'static [&'static str] = &[
        "target",
        "connections",
        "rate",
        "duration_s",
        "transactions",
        "request_bytes",
        "response_bytes",
        "tfo",
        "mptcp",
        "subflows",
        "shape",
        "json",
        "pcap",
    ];

    /// Closed loop with 16 connections, when neither is given.
    pub const DEFAULT_CONNECTIONS: u32 = 16;

    /// Run length when neither `duration_s` nor `transactions` is given.
    pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);

    /// A load generator aimed at `target`, everything else at its default.
    pub fn new(target: SocketAddr) -> LoadgenConfig {
        LoadgenConfig {
            target,
            connections: None,
            rate: None,
            duration_s: None,
            transactions: None,
            request_bytes: 64,
            response_bytes: 64,
            tfo: None,
            mptcp: None,
            subflows: 0,
            shape: Shape::Cps,
            json: None,
            pcap: None,
        }
    }

    /// How load is offered: `rate` if set, else `connections` (16 if
    /// unset).
    pub fn load(&self) -> Load {
        match (self.rate, self.connections) {
            (Some(r), _) => Load::Rate(r),
            (None, c) => Load::Connections(c.unwrap_or(Self::DEFAULT_CONNECTIONS)),
        }
    }

    /// Whether connections send their request in the SYN: `tfo`, or
    /// `tfo.client.enabled` when unset.
    pub fn uses_tfo(&self, tfo: &TfoConfig) -> bool {
        self.tfo.unwrap_or(tfo.client.enabled)
    }

    /// Whether connections offer MPTCP: `mptcp`, or `mptcp.enabled` when
    /// unset.
    pub fn uses_mptcp(&self, mptcp: &MptcpConfig) -> bool {
        self.mptcp.unwrap_or(mptcp.enabled)
    }

    /// The run's time limit: `duration_s`, else 10 s unless `transactions`
    /// is set (then `None`: stop on the count only).
    pub fn time_limit(&self) -> Option<Duration> {
        match (self.duration_s, self.transactions) {
            (Some(s), _) => Some(Duration::from_secs_f64(s)),
            (None, Some(_)) => None,
            (None, None) => Some(Self::DEFAULT_DURATION),
        }
    }

    pub(crate) fn decode(ctx: &mut Ctx<'_>, node: &Node) -> Option<LoadgenConfig> {
        let f = ctx.table(node, "loadgen", Self::KEYS)?;
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        let mut c = LoadgenConfig::new(unspecified);
        let target_expected = "\"ADDR:PORT\", such as \"10.0.1.2:8080\" or \"[fd00:1::2]:8080\"";
        let target = match f.get("target") {
            Some((n, p)) => {
                ctx.saw(&p, n);
                parsed(ctx, n, &p, target_expected, |s| {
                    s.parse::<SocketAddr>().ok().filter(|a| {
                        a.port() != 0 && !a.ip().is_unspecified() && !a.ip().is_multicast()
                    })
                })
            }
            None => {
                ctx.missing("loadgen.target", f.node(), target_expected);
                None
            }
        };
        f.put(ctx, "connections", &mut c.connections, |ctx, n, p| {
            int(ctx, n, p, 1, 1_000_000, "").map(Some)
        });
        f.put(ctx, "rate", &mut c.rate, |ctx, n, p| {
            int(ctx, n, p, 1, 100_000_000, " (transactions per second)").map(Some)
        });
        f.put(ctx, "duration_s", &mut c.duration_s, duration);
        f.put(ctx, "transactions", &mut c.transactions, |ctx, n, p| {
            int(ctx, n, p, 1, i128::from(i64::MAX), "").map(Some)
        });
        f.put(ctx, "request_bytes", &mut c.request_bytes, |ctx, n, p| {
            int(ctx, n, p, 1, 1 << 30, "")
        });
        f.put(ctx, "response_bytes", &mut c.response_bytes, |ctx, n, p| {
            int(ctx, n, p, 0, 1 << 30, "")
        });
        f.put(ctx, "tfo", &mut c.tfo, |ctx, n, p| {
            boolean(ctx, n, p).map(Some)
        });
        f.put(ctx, "mptcp", &mut c.mptcp, |ctx, n, p| {
            boolean(ctx, n, p).map(Some)
        });
        f.put(ctx, "subflows", &mut c.subflows, |ctx, n, p| {
            int(
                ctx,
                n,
                p,
                0,
                i128::from(MPTCP_PM_ADDR_MAX),
                " (Linux's limit)",
            )
        });
        f.put(ctx, "shape", &mut c.shape, |ctx, n, p| {
            choice(ctx, n, p, &[("cps", Shape::Cps), ("rps", Shape::Rps)], &[])
        });
        f.put(ctx, "json", &mut c.json, path_value);
        f.put(ctx, "pcap", &mut c.pcap, path_value);
        c.target = target?;
        Some(c)
    }
}
