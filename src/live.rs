//! `mptfo serve` and `mptfo loadgen` on one DPDK port, in real time.
//!
//! Set-up: EAL from `--eal` (or the `--config` file), a mempool, the port
//! (the only one the EAL arguments create, or `--port`) with one rx/tx
//! queue pair per worker, a stack per worker with the port's MAC and
//! checksum offloads and the `--ip` addresses, static neighbours from
//! `--neighbor`; optionally every frame of the port captured to `--pcap`
//! (one worker only). The loops themselves are `mptfo_bench::live`.
//!
//! Workers: without `--cores`, one worker on the main thread (the EAL main
//! lcore). With `--cores LIST` (serve), one thread per CPU, registered with
//! the EAL and pinned, each with its own queue pair and its own stack (core
//! `k` of `n`: MPTCP tokens name the core); every received frame goes
//! through the software steering step (`mptfo_bench::steer`: the core of a
//! flow is `mptfo_engine::shard::core_of`, symmetric Toeplitz + RETA), so a
//! flow the kernel's fan-out put on the wrong queue still reaches its core.
//! Nothing is shared between workers but the steering inboxes and the stop
//! flag. `loadgen --cores LIST` runs the same way: each worker takes its
//! share of the connections and transactions and opens its connections
//! from source ports whose flows hash to its own core
//! (`shard::port_for_core`), so the steering step hands every reply to the
//! worker that owns the connection; a worker that is done keeps polling
//! (forwarding) until all are.
//!
//! Multipath: `--extra-port DEV=ADDR/LEN[,..]` (or a further `[[port]]`
//! of the file) adds a DPDK port as a further interface of the stack (the
//! worker sends each frame on its interface's port); `--signal ADDR` /
//! `--subflow ADDR` / `--pm-limits N,M` (or the file's `[mptcp]`
//! endpoints and limits) set the path manager's endpoints and limits like
//! `ip mptcp endpoint add` / `ip mptcp limits set`. With several workers
//! (serve or loadgen) every further port gets as many queue pairs as the
//! first, each worker polls its own pair of every port, and every port has
//! its own steering step. MP_JOIN SYNs a peer sends are steered by token
//! to the core that owns the connection (`mptfo_bench::steer`), and the
//! join's later segments follow them; the joins a loadgen worker opens
//! (`--subflow`) leave from source ports whose flows hash to its own core,
//! so their replies are steered back to it like the first subflow's.
//!
//! Settings: flags, or `--config FILE` with `--set PATH=VALUE` overrides;
//! a flag given on the command line beats `--set`, which beats the file,
//! which beats the flag's default. A file that does not load or validate
//! is reported as the config crate words it, exit status 2.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::parser::ValueSource;
use clap::ArgMatches;
use mptfo_bench::live::{self as run, LiveConfig, LiveLoadgenInfo, LiveStats};
use mptfo_bench::steer::{SteerStats, SteeredPort, Steering, INBOX_CAPACITY};
use mptfo_bench::{LoadgenApp, LoadgenConfig, ServeApp, ServeMode, ServeStats};
use mptfo_dpdk::{DpdkPort, DpdkQueue, Eal, Mempool, PortConfig, PortRef};
use mptfo_engine::config::StackConfig;
use mptfo_engine::counters::Counters;
use mptfo_engine::stack::{CloseReason, Interface, Stack};
use mptfo_engine::time::Instant;
use mptfo_engine::worker::Worker;
use mptfo_nic::{Clock, PcapTap, PcapWriter, Port, PortStats, DEFAULT_DATA_ROOM};

use crate::{parse_duration, Mode, OnOff, Reply};

/// `ADDR/LEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpPrefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl FromStr for IpPrefix {
    type Err = String;
    fn from_str(s: &str) -> Result<IpPrefix, String> {
        let (a, l) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}`: expected ADDR/LEN, e.g. 10.0.1.2/24"))?;
        let addr: IpAddr = a.parse().map_err(|e| format!("`{a}`: {e}"))?;
        let len: u8 = l.parse().map_err(|e| format!("`{l}`: {e}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max {
            return Err(format!("`{s}`: prefix length above {max}"));
        }
        Ok(IpPrefix { addr, len })
    }
}

/// `DEV=ADDR/LEN`: a further port and our address on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExtraPort {
    pub dev: String,
    /// The port's address first, then any further ones (e.g. the first
    /// port's address too, to take subflows that a peer routes to it over
    /// this path, as a weak-host-model host would).
    pub ips: Vec<IpPrefix>,
}

impl FromStr for ExtraPort {
    type Err = String;
    fn from_str(s: &str) -> Result<ExtraPort, String> {
        let (dev, ips) = s.split_once('=').ok_or_else(|| {
            format!("`{s}`: expected DEV=ADDR/LEN[,ADDR/LEN..], e.g. net_af_packet1=10.0.2.2/24")
        })?;
        if dev.is_empty() {
            return Err(format!("`{s}`: no device"));
        }
        Ok(ExtraPort {
            dev: dev.to_owned(),
            ips: ips
                .split(',')
                .map(str::parse)
                .collect::<Result<Vec<IpPrefix>, String>>()?,
        })
    }
}

/// `SUBFLOWS,ADD_ADDR_ACCEPTED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PmLimitsArg(mptfo_engine::mp::pm::Limits);

impl FromStr for PmLimitsArg {
    type Err = String;
    fn from_str(s: &str) -> Result<PmLimitsArg, String> {
        let (a, b) = s
            .split_once(',')
            .ok_or_else(|| format!("`{s}`: expected SUBFLOWS,ADD_ADDR_ACCEPTED, e.g. 2,2"))?;
        let a: u8 = a.trim().parse().map_err(|e| format!("`{a}`: {e}"))?;
        let b: u8 = b.trim().parse().map_err(|e| format!("`{b}`: {e}"))?;
        mptfo_engine::mp::pm::Limits::new(a, b)
            .map(PmLimitsArg)
            .map_err(|e| format!("`{s}`: {e:?}"))
    }
}

/// `IP=MAC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Neighbor {
    pub ip: IpAddr,
    pub mac: [u8; 6],
}

pub(crate) fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(format!(
            "`{s}`: expected a MAC address like 02:00:00:00:00:01"
        ));
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(parts) {
        if p.is_empty() || p.len() > 2 {
            return Err(format!("`{s}`: bad MAC address byte `{p}`"));
        }
        *m = u8::from_str_radix(p, 16).map_err(|_| format!("`{s}`: bad MAC address byte `{p}`"))?;
    }
    Ok(mac)
}

impl FromStr for Neighbor {
    type Err = String;
    fn from_str(s: &str) -> Result<Neighbor, String> {
        let (ip, mac) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected IP=MAC, e.g. 10.0.1.1=02:00:00:00:00:01"))?;
        Ok(Neighbor {
            ip: ip.parse().map_err(|e| format!("`{ip}`: {e}"))?,
            mac: parse_mac(mac)?,
        })
    }
}

fn mac_str(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What `serve` and `loadgen` share: the DPDK port and the stack's
/// addresses.
#[derive(clap::Args, Debug)]
pub(crate) struct DpdkArgs {
    /// EAL arguments as one string, e.g. "--no-huge -m 256 --no-pci
    /// --no-shconf -l 0 --vdev=net_af_packet0,iface=veth0" (default with
    /// --config: the file's [eal] and [[port]]).
    #[arg(long, allow_hyphen_values = true, required_unless_present_any = ["config", "stack"])]
    pub(crate) eal: Option<String>,
    /// The port: device name or port id (default: the only port the EAL
    /// arguments create, else the first --vdev).
    #[arg(long)]
    pub(crate) port: Option<String>,
    /// Our address on the port, ADDR/LEN (repeatable).
    #[arg(long = "ip", required_unless_present_any = ["config", "stack"])]
    pub(crate) ips: Vec<IpPrefix>,
    /// A static neighbour, IP=MAC (repeatable). The first one is also
    /// where frames to unknown addresses go (on a further port: the first
    /// neighbour in one of its subnets).
    #[arg(long = "neighbor")]
    pub(crate) neighbors: Vec<Neighbor>,
    /// A further DPDK port and our address(es) on it,
    /// DEV=ADDR/LEN[,ADDR/LEN..] (repeatable; DEV a device name or port id):
    /// one more interface of the stack, e.g. a second path for MPTCP
    /// subflows, configured with one queue pair per worker like the first
    /// port (af_packet: the same `qpairs=N`). A further address may be one
    /// of the first port's: segments to it are then taken on this port
    /// too.
    #[arg(long = "extra-port")]
    pub(crate) extra_ports: Vec<ExtraPort>,
    /// A path-manager `signal` endpoint: the address (one of ours) is
    /// announced with ADD_ADDR on every MPTCP connection (repeatable; like
    /// `ip mptcp endpoint add ADDR signal`).
    #[arg(long = "signal")]
    pub(crate) signal: Vec<IpAddr>,
    /// A path-manager `subflow` endpoint: each MPTCP connection opens a
    /// subflow from this address (one of ours) to the peer's address
    /// (repeatable; like `ip mptcp endpoint add ADDR subflow`).
    #[arg(long = "subflow")]
    pub(crate) subflow: Vec<IpAddr>,
    /// Path-manager limits `SUBFLOWS,ADD_ADDR_ACCEPTED` (like `ip mptcp
    /// limits set subflow N add_addr_accepted M`; default Linux's 2,0).
    #[arg(long = "pm-limits")]
    pub(crate) pm_limits: Option<PmLimitsArg>,
    /// The file's `[[mptcp.endpoint]]`s (address, id, flags), when the
    /// command line gives no --signal/--subflow.
    #[arg(skip)]
    pub(crate) file_endpoints: Vec<(IpAddr, Option<u8>, mptfo_engine::mp::pm::EndpointFlags)>,
    /// Packet buffers in the mempool.
    #[arg(long, default_value_t = 16383)]
    pub(crate) mbufs: u32,
    /// Capture every frame the port receives and sends to this pcap file
    /// (transmit checksums as the stack wrote them).
    #[arg(long)]
    pub(crate) pcap: Option<PathBuf>,
    /// Sleep this long in a loop iteration that received nothing and had
    /// no timer due (default: busy-poll).
    #[arg(long, value_parser = parse_duration)]
    pub(crate) idle_sleep: Option<Duration>,
    /// Worker cores, e.g. `0,1` or `0-1`: one worker thread per CPU,
    /// pinned, each with its own stack and its own rx/tx queue pair of the
    /// port (the port is configured with that many queues: give af_packet
    /// `qpairs=N` in its devargs). Frames of a flow another core owns
    /// (symmetric Toeplitz of the 4-tuple) are steered to it in software.
    /// Default: one worker, on the main thread.
    #[arg(long)]
    pub(crate) cores: Option<CoreList>,
    /// Whose TCP/MPTCP stack runs the role: mptfo's, on DPDK (needs --eal
    /// or --config), or the Linux kernel's through its socket API
    /// (IPPROTO_MPTCP, TCP_FASTOPEN, MSG_FASTOPEN, epoll; no DPDK), so the
    /// same tool measures both.
    #[arg(long, value_enum)]
    pub(crate) stack: Option<StackKind>,
    #[command(flatten)]
    pub(crate) file: FileArgs,
}

/// Whose stack runs `serve` or `loadgen`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StackKind {
    /// mptfo's own stack on a DPDK port.
    Mptfo,
    /// The Linux kernel's, through the socket API.
    Kernel,
}

/// The settings file.
///
/// Precedence: a flag given on the command line, then `--set`, then the
/// file, then the flag's default. (The file is loaded with the `--set`
/// assignments as overrides and validated; then every flag the command
/// line gave replaces the file's value of the same setting.)
#[derive(clap::Args, Debug, Default)]
pub(crate) struct FileArgs {
    /// A TOML settings file (see config/examples/): EAL, port, addresses,
    /// neighbours, cores, TCP/TFO/MPTCP (with the path manager's limits
    /// and endpoints) and the role's section. Flags given on the command
    /// line override it. The first [[port]] is the port; every further
    /// one is driven like an --extra-port (unless --extra-port is given).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Overrides one key of the file, PATH=VALUE (repeatable), e.g.
    /// serve.duration_s=1 (applied over the file, under the flags).
    #[arg(long = "set", value_name = "PATH=VALUE", requires = "config")]
    pub(crate) set: Vec<String>,
    /// Validate the settings, print the effective ones and exit (no DPDK).
    #[arg(long)]
    pub(crate) check_config: bool,
}

/// A settings file that failed to load or validate: `main` prints it and
/// exits with status 2.
#[derive(Debug)]
pub(crate) struct BadConfig(pub String);

impl std::fmt::Display for BadConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadConfig {}

/// Loads `--config` with the `--set` overrides.
fn load_file(f: &FileArgs) -> Result<Option<mptfo_config::Config>> {
    let Some(path) = &f.config else {
        return Ok(None);
    };
    let mut o = mptfo_config::Overrides::new();
    for a in &f.set {
        o.push_assignment(a)
            .map_err(|e| anyhow::Error::new(BadConfig(e.to_string())))?;
    }
    mptfo_config::Config::from_file_with(path, &o)
        .map(Some)
        .map_err(|e| anyhow::Error::new(BadConfig(e.to_string())))
}

/// Whether the command line itself gave argument `id` (not a default).
fn given(m: Option<&ArgMatches>, id: &str) -> bool {
    m.and_then(|m| m.value_source(id)) == Some(ValueSource::CommandLine)
}

impl DpdkArgs {
    /// Fills what the command line did not give from the file.
    fn apply_file(&mut self, c: &mptfo_config::Config, m: Option<&ArgMatches>) -> Result<()> {
        let port = c.ports.first();
        // The further ports are driven unless the command line names its
        // own with --extra-port.
        let further = !given(m, "extra_ports");
        if !given(m, "eal") {
            let mut args = c.eal_args();
            if !further && c.ports.len() > 1 {
                let skip: Vec<String> = c.ports[1..]
                    .iter()
                    .filter_map(|p| p.vdev.as_ref().map(|v| format!("--vdev={v}")))
                    .collect();
                args.retain(|a| !skip.contains(a));
            }
            self.eal = Some(args.join(" "));
        }
        if further {
            self.extra_ports = c
                .ports
                .iter()
                .skip(1)
                .map(|p| ExtraPort {
                    // The device's name (the EAL arguments create it).
                    dev: p.device_name().unwrap_or(&p.name).to_owned(),
                    ips: p
                        .addresses
                        .iter()
                        .map(|a| IpPrefix {
                            addr: a.addr,
                            len: a.prefix_len,
                        })
                        .collect(),
                })
                .collect();
        }
        if !given(m, "signal") && !given(m, "subflow") {
            use mptfo_config::EndpointFlag;
            use mptfo_engine::mp::pm::EndpointFlags;
            self.file_endpoints = c
                .mptcp
                .endpoints
                .iter()
                .map(|e| {
                    let mut f = EndpointFlags::NONE;
                    for (flag, bit) in [
                        (EndpointFlag::Signal, EndpointFlags::SIGNAL),
                        (EndpointFlag::Subflow, EndpointFlags::SUBFLOW),
                        (EndpointFlag::Backup, EndpointFlags::BACKUP),
                        (EndpointFlag::Fullmesh, EndpointFlags::FULLMESH),
                    ] {
                        if e.has(flag) {
                            f = f | bit;
                        }
                    }
                    (e.address, e.id, f)
                })
                .collect();
        }
        if !given(m, "pm_limits")
            && (c.mptcp.limits != Default::default() || !c.mptcp.endpoints.is_empty())
        {
            let l = c.mptcp.limits;
            let limits = mptfo_engine::mp::pm::Limits::new(l.subflows, l.add_addr_accepted)
                .map_err(|e| {
                    anyhow::Error::new(BadConfig(format!(
                        "mptcp.limits: subflows = {}, add_addr_accepted = {}: {e:?}",
                        l.subflows, l.add_addr_accepted
                    )))
                })?;
            self.pm_limits = Some(PmLimitsArg(limits));
        }
        if !given(m, "ips") {
            self.ips = port
                .map(|p| {
                    p.addresses
                        .iter()
                        .map(|a| IpPrefix {
                            addr: a.addr,
                            len: a.prefix_len,
                        })
                        .collect()
                })
                .unwrap_or_default();
            if self.ips.is_empty() {
                bail!(BadConfig(
                    "config: no [[port]] with addresses, and no --ip".into()
                ));
            }
        }
        if !given(m, "neighbors") {
            // The first port's first (the default gateway), then the
            // further ports' (each found by its subnet).
            let ports = if further {
                &c.ports[..]
            } else {
                &c.ports[..c.ports.len().min(1)]
            };
            self.neighbors = ports
                .iter()
                .flat_map(|p| &p.neighbours)
                .map(|n| Neighbor {
                    ip: n.ip,
                    mac: n.mac.0,
                })
                .collect();
        }
        if !given(m, "port") {
            if let Some(d) = port.and_then(|p| p.vdev.clone().or_else(|| p.pci.clone())) {
                self.port = Some(d);
            }
        }
        if !given(m, "cores") {
            let cpus: Vec<usize> = c.cores.as_slice().iter().map(|&c| c as usize).collect();
            self.cores = Some(CoreList(cpus));
        }
        Ok(())
    }
}

/// The file's TCP, TFO and MPTCP settings on a stack configuration (flags
/// are applied after this).
fn stack_config_from(c: &mptfo_config::Config) -> StackConfig {
    use mptfo_engine::config::CongestionAlgorithm;
    let t = &c.tcp;
    let mut s = StackConfig {
        mss: c.mss(),
        recv_window: t.recv_window,
        window_shift: t.window_shift,
        send_buffer: t.send_buffer as usize,
        timestamps: t.timestamps,
        sack: t.sack,
        congestion: match t.congestion {
            mptfo_config::Congestion::Cubic => CongestionAlgorithm::Cubic,
            mptfo_config::Congestion::NewReno => CongestionAlgorithm::NewReno,
        },
        min_rto: t.min_rto(),
        max_rto: t.max_rto(),
        initial_rto: t.initial_rto(),
        syn_retries: t.syn_retries,
        synack_retries: t.synack_retries,
        data_retries: t.data_retries,
        delayed_ack: t.delayed_ack(),
        time_wait: t.time_wait(),
        reply_timing: match c.mptcp.reply_timing {
            mptfo_config::ReplyTiming::Hold => mptfo_engine::config::ReplyTiming::Hold,
            mptfo_config::ReplyTiming::Early => mptfo_engine::config::ReplyTiming::Early,
        },
        ..StackConfig::default()
    };
    let ts = &c.tfo.server;
    s.tfo_server.enabled = ts.enabled;
    s.tfo_server.no_cookie = ts.no_cookie;
    s.tfo_server.queue_len = ts.queue_len as usize;
    if let Some(k) = ts.key {
        s.tfo_server.key = k.0;
    }
    s.tfo_server.backup_key = ts.backup_key.map(|k| k.0);
    s.tfo_client.enabled = c.tfo.client.enabled;
    s.tfo_client.negative_cache = c.tfo.client.negative_cache();
    s.mptcp.enabled = c.mptcp.enabled;
    s.mptcp.checksum = c.mptcp.checksum;
    s.mptcp.deny_join_id0 = c.mptcp.deny_join_id0;
    s
}

/// A CPU list: `0,1`, `0-3`, `0-1,4`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CoreList(pub Vec<usize>);

impl FromStr for CoreList {
    type Err = String;
    fn from_str(s: &str) -> Result<CoreList, String> {
        mptfo_bench::steer::parse_cpu_list(s).map(CoreList)
    }
}

impl DpdkArgs {
    fn eal_str(&self) -> &str {
        self.eal.as_deref().unwrap_or("")
    }

    /// The worker CPUs; empty: one worker on the main thread.
    fn worker_cpus(&self) -> &[usize] {
        self.cores.as_ref().map_or(&[], |c| &c.0)
    }

    /// Number of workers (and queue pairs).
    fn workers(&self) -> usize {
        self.worker_cpus().len().max(1)
    }
}

#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) dpdk: DpdkArgs,
    /// TCP port to accept connections on.
    #[arg(long, default_value_t = 8080)]
    pub(crate) listen: u16,
    /// What to do with a request.
    #[arg(long, value_enum, default_value_t = Mode::Echo)]
    pub(crate) mode: Mode,
    /// Bytes per request (rpc).
    #[arg(long, default_value_t = 64)]
    pub(crate) request_bytes: usize,
    /// Bytes per reply (rpc).
    #[arg(long, default_value_t = 64)]
    pub(crate) response_bytes: usize,
    /// When the reply to SYN data may leave: hold (waits for the client's
    /// MPTCP key; a Linux client stays MPTCP) or early (one RTT; a Linux
    /// 6.18 client falls back to TCP).
    #[arg(long, value_enum, default_value_t = Reply::Hold)]
    pub(crate) reply: Reply,
    /// Stop after this long (default: until SIGINT/SIGTERM).
    #[arg(long, value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// TFO cookie key, 32 hex digits or Linux's dashed words (default:
    /// random).
    #[arg(long)]
    pub(crate) tfo_key: Option<String>,
    /// TIME_WAIT length.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub(crate) time_wait: Duration,
}

#[derive(clap::Args, Debug)]
pub(crate) struct LoadgenArgs {
    #[command(flatten)]
    pub(crate) dpdk: DpdkArgs,
    /// The server, ADDR:PORT.
    #[arg(long, required_unless_present = "config")]
    pub(crate) target: Option<SocketAddr>,
    /// Transactions in flight at once (connections).
    #[arg(long, short = 'c', default_value_t = 1)]
    pub(crate) connections: usize,
    /// Load duration, wall clock (default 2s when --transactions is not
    /// given).
    #[arg(long, value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Stop after this many transactions.
    #[arg(long, short = 'n')]
    pub(crate) transactions: Option<u64>,
    /// Bytes per request.
    #[arg(long, default_value_t = 64)]
    pub(crate) request_bytes: usize,
    /// Bytes of the reply that completes a transaction (default: the
    /// request size, for an echo server).
    #[arg(long)]
    pub(crate) response_bytes: Option<usize>,
    /// TCP Fast Open: the request rides in the SYN.
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    pub(crate) tfo: OnOff,
    /// Offer MPTCP (MP_CAPABLE).
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    pub(crate) mptcp: OnOff,
    /// TIME_WAIT length of our (closing-first) side.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub(crate) time_wait: Duration,
    /// Open loop: start this many connections per second on a fixed
    /// schedule (shared by the workers), whatever the replies do; each
    /// carries --requests-per-connection transactions. Latency then counts
    /// from each connection's intended start, so queueing is not hidden;
    /// late starts and the worst lag are reported. Default: closed loop
    /// with --connections in flight.
    #[arg(long, conflicts_with = "connections")]
    pub(crate) rate: Option<f64>,
    /// Open loop: the cap on connections in flight, all workers together;
    /// a start due beyond it is not made and is counted as refused.
    #[arg(long, default_value_t = 65536, requires = "rate")]
    pub(crate) max_in_flight: usize,
    /// Requests per connection: 1 opens a connection per transaction
    /// (connections/s); more keeps each connection for that many
    /// request/reply exchanges (requests/s).
    #[arg(long, default_value_t = 1)]
    pub(crate) requests_per_connection: u64,
    /// Print a progress line this often while the load runs (0: none):
    /// connections/s, requests/s, TFO accepted, fallbacks,
    /// retransmissions and errors over the interval, all workers summed;
    /// kept in the JSON report's `intervals`.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub(crate) interval: Duration,
    /// Time allowed after the load for the last transactions and closes.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub(crate) drain: Duration,
    /// Hard limit of the whole run (default: load duration + drain + 30 s).
    #[arg(long, value_parser = parse_duration)]
    pub(crate) time_limit: Option<Duration>,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
}

/// The value of EAL option `name` (e.g. `--file-prefix`) in the arguments,
/// given as `name=VALUE` or as `name VALUE`; the first one if repeated.
fn eal_option(args: &[String], name: &str) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some(v.to_owned());
        }
        if a == name {
            return it.next().cloned();
        }
    }
    None
}

/// The EAL file prefix given in the arguments, if any.
fn file_prefix(args: &[String]) -> Option<String> {
    eal_option(args, "--file-prefix")
}

/// The devargs of the first `--vdev` in the EAL arguments.
fn first_vdev(args: &[String]) -> Option<String> {
    eal_option(args, "--vdev")
}

/// Removes the (empty) EAL runtime directory of `prefix` once the EAL is
/// gone; only an explicitly named prefix, and only when empty but for the
/// telemetry socket (`dpdk_telemetry.v2`), which EAL unlinks only at
/// process exit, after this runs.
fn remove_runtime_dir(prefix: &str) {
    let base = if std::env::var_os("XDG_RUNTIME_DIR").is_some() && !is_root() {
        PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR").unwrap_or_default()).join("dpdk")
    } else if is_root() {
        PathBuf::from("/var/run/dpdk")
    } else {
        PathBuf::from("/tmp/dpdk")
    };
    remove_runtime_dir_in(&base, prefix);
}

/// [`remove_runtime_dir`] under the runtime base directory `base`.
fn remove_runtime_dir_in(base: &std::path::Path, prefix: &str) {
    use std::os::unix::fs::FileTypeExt;
    let dir = base.join(prefix);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let entries: Vec<_> = entries.flatten().collect();
        let telemetry_only = entries.iter().all(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("dpdk_telemetry")
                && e.file_type().is_ok_and(|t| t.is_socket())
        });
        if telemetry_only {
            for e in &entries {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(&dir);
    let _ = std::fs::remove_dir(base);
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A random u64 (keys, seeds).
fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if mptfo_bench::sys::random_bytes(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return t.as_nanos() as u64 ^ u64::from(std::process::id()) << 32;
    }
    u64::from_le_bytes(b)
}

/// What the set-up gives the role: the first queue of the port, and how
/// to describe it.
struct PortInfo {
    name: String,
    driver: String,
    mac: [u8; 6],
}

/// What a port needs for `n` queue pairs, for an error message.
fn queue_hint(dev: &PortRef, n: u16) -> String {
    if n <= 1 {
        return String::new();
    }
    let name = match dev {
        PortRef::Name(s) => s.as_str(),
        PortRef::Id(_) => "",
    };
    if name.starts_with("net_af_xdp") {
        format!(
            " (with {n} queue pairs: net_af_xdp needs queue_count={n} and an interface with \
             {n} combined channels; a veth has separate rx/tx channels, so one queue only)"
        )
    } else {
        format!(" (with {n} queue pairs: an af_packet vdev needs qpairs={n})")
    }
}

/// Runs `f` with the port's queues (one per worker) inside an initialised
/// EAL, then tears everything down in order (queues, port, mempool, EAL,
/// runtime directory).
fn with_port<T>(
    a: &DpdkArgs,
    pool_name: &str,
    f: impl FnOnce(&Eal, Vec<DpdkQueue<'_>>, Vec<DpdkQueue<'_>>, &PortInfo) -> Result<T>,
) -> Result<T> {
    let args: Vec<String> = a.eal_str().split_whitespace().map(str::to_owned).collect();
    if args.is_empty() {
        bail!("--eal is empty: give the EAL arguments, e.g. \"--no-huge -m 256 --no-pci --no-shconf -l 0 --vdev=net_af_packet0,iface=veth0\"");
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let prefix = file_prefix(&args);
    let result = (|| {
        let eal = Eal::init(&refs).map_err(|e| anyhow!("EAL init ({}): {e}", args.join(" ")))?;
        let out = (|| {
            let pool = Mempool::new(&eal, pool_name, a.mbufs, 256, DEFAULT_DATA_ROOM as u16)
                .map_err(|e| anyhow!("mempool of {} buffers: {e}", a.mbufs))?;
            let dev: PortRef = match &a.port {
                Some(p) => match p.parse::<u16>() {
                    Ok(id) => PortRef::Id(id),
                    Err(_) => PortRef::Name(p.clone()),
                },
                None => {
                    let ports = eal.ports();
                    match (ports.len(), first_vdev(&args)) {
                        (1, _) => PortRef::Id(ports[0].0),
                        (_, Some(v)) => PortRef::Name(v),
                        (0, None) => {
                            bail!("no DPDK port: add a --vdev=... to --eal (or PCI devices)")
                        }
                        (_, None) => {
                            bail!("several DPDK ports ({ports:?}): choose one with --port")
                        }
                    }
                }
            };
            let n = a.workers() as u16;
            let pcfg = PortConfig {
                rx_queues: n,
                tx_queues: n,
                ..PortConfig::default()
            };
            let (port, queues) = DpdkPort::configure(&eal, dev.clone(), &pcfg, &pool)
                .map_err(|e| anyhow!("configuring port {dev:?}: {e}{}", queue_hint(&dev, n)))?;
            if queues.len() != usize::from(n) {
                bail!(
                    "port {dev:?}: asked for {n} queue pairs, got {}",
                    queues.len()
                );
            }
            let info = PortInfo {
                name: port.name().to_owned(),
                driver: port.info().driver.clone(),
                mac: queues[0].caps().mac,
            };
            // Further ports: as many queue pairs as the first, one per
            // worker; handed over worker by worker (worker k's queue of
            // every further port, in --extra-port order, then worker k+1's).
            let mut extra_ports = Vec::new();
            let mut per_port = Vec::new();
            for x in &a.extra_ports {
                let dev = match x.dev.parse::<u16>() {
                    Ok(id) => PortRef::Id(id),
                    Err(_) => PortRef::Name(x.dev.clone()),
                };
                let (xp, xq) =
                    DpdkPort::configure(&eal, dev.clone(), &pcfg, &pool).map_err(|e| {
                        anyhow!(
                            "configuring further port {dev:?} (--extra-port {}): {e}{}",
                            x.dev,
                            queue_hint(&dev, n)
                        )
                    })?;
                if xq.len() != usize::from(n) {
                    bail!(
                        "further port {dev:?}: asked for {n} queue pairs, got {}",
                        xq.len()
                    );
                }
                per_port.push(xq.into_iter());
                extra_ports.push(xp);
            }
            let mut extra_queues = Vec::new();
            for _ in 0..n {
                for q in per_port.iter_mut() {
                    extra_queues.extend(q.next());
                }
            }
            drop(per_port);
            let r = f(&eal, queues, extra_queues, &info);
            drop(extra_ports);
            drop(port);
            r
        })();
        drop(eal);
        out
    })();
    if let Some(p) = prefix {
        remove_runtime_dir(&p);
    }
    result
}

/// The stack of a role on a port with capabilities of `port`: core `core`
/// of `cores`.
fn make_stack<P: Port>(
    a: &DpdkArgs,
    port: &P,
    cfg: StackConfig,
    clock: &Clock,
    core: u32,
    cores: u32,
) -> Stack<P::Buf> {
    make_stack_on(a, port, &[], cfg, clock, core, cores).expect("endpoints checked by check_pm")
}

/// Whether `ip` is in `p`'s subnet.
fn in_subnet(p: &IpPrefix, ip: IpAddr) -> bool {
    match (p.addr, ip) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let m = u32::MAX.checked_shl(32 - u32::from(p.len)).unwrap_or(0);
            u32::from(a) & m == u32::from(b) & m
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let m = u128::MAX.checked_shl(128 - u32::from(p.len)).unwrap_or(0);
            u128::from(a) & m == u128::from(b) & m
        }
        _ => false,
    }
}

/// Worker `k` of `n`: its queue pair on every port, each behind that
/// port's steering step, and its stack with an interface per port.
#[allow(clippy::type_complexity)]
fn steered_worker<'s, 'q>(
    a: &DpdkArgs,
    queues: Vec<DpdkQueue<'q>>,
    steering: &'s [Steering<<DpdkQueue<'q> as Port>::Buf>],
    cfg: StackConfig,
    clock: &Clock,
    k: usize,
    n: usize,
) -> Result<(
    Vec<SteeredPort<'s, DpdkQueue<'q>>>,
    Stack<<DpdkQueue<'q> as Port>::Buf>,
)> {
    let ports: Vec<SteeredPort<'s, DpdkQueue<'q>>> = queues
        .into_iter()
        .zip(steering)
        .map(|(q, st)| SteeredPort::new(q, k, st))
        .collect();
    let further: Vec<&SteeredPort<'s, DpdkQueue<'q>>> = ports[1..].iter().collect();
    let stack = make_stack_on(a, &ports[0], &further, cfg, clock, k as u32, n as u32)?;
    Ok((ports, stack))
}

/// [`make_stack`] with further ports (`extra`, in `--extra-port` order),
/// one interface each, and the path-manager endpoints and limits.
#[allow(clippy::too_many_arguments)]
fn make_stack_on<P: Port>(
    a: &DpdkArgs,
    port: &P,
    extra: &[&P],
    cfg: StackConfig,
    clock: &Clock,
    core: u32,
    cores: u32,
) -> Result<Stack<P::Buf>> {
    let caps = port.caps();
    let default_peer = a.neighbors.first().map_or([0xff; 6], |n| n.mac);
    let mut ifaces = vec![Interface {
        mac: caps.mac,
        addrs: a.ips.iter().map(|p| p.addr).collect(),
        default_peer_mac: default_peer,
        checksum: caps.checksum,
    }];
    for (x, q) in a.extra_ports.iter().zip(extra) {
        let c = q.caps();
        let peer = a
            .neighbors
            .iter()
            .find(|n| x.ips.first().is_some_and(|p| in_subnet(p, n.ip)))
            .map_or(default_peer, |n| n.mac);
        ifaces.push(Interface {
            mac: c.mac,
            addrs: x.ips.iter().map(|p| p.addr).collect(),
            default_peer_mac: peer,
            checksum: c.checksum,
        });
    }
    let mut stack = Stack::new(cfg, ifaces, core, cores, random_u64(), Instant(clock.now()));
    for n in &a.neighbors {
        stack.add_neighbor(n.ip, n.mac);
    }
    let endpoints = pm_endpoints(a);
    if !endpoints.is_empty() || a.pm_limits.is_some() {
        use mptfo_engine::mp::pm::PmConfig;
        let mut pm = PmConfig::new(a.pm_limits.map(|l| l.0).unwrap_or_default());
        for (ip, id, flags) in endpoints {
            pm.add_endpoint(ip, id, flags)
                .map_err(|e| anyhow!("endpoint {ip}: {e:?}"))?;
        }
        stack.set_pm_config(pm);
    }
    Ok(stack)
}

/// The path manager's endpoints: `--signal`, `--subflow`, then the
/// file's.
fn pm_endpoints(a: &DpdkArgs) -> Vec<(IpAddr, Option<u8>, mptfo_engine::mp::pm::EndpointFlags)> {
    use mptfo_engine::mp::pm::EndpointFlags;
    a.signal
        .iter()
        .map(|&ip| (ip, None, EndpointFlags::SIGNAL))
        .chain(
            a.subflow
                .iter()
                .map(|&ip| (ip, None, EndpointFlags::SUBFLOW)),
        )
        .chain(a.file_endpoints.iter().copied())
        .collect()
}

/// Opens the capture file.
fn pcap_writer(path: &PathBuf) -> Result<PcapWriter<BufWriter<File>>> {
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    PcapWriter::new(BufWriter::new(f)).with_context(|| format!("writing {}", path.display()))
}

fn print_counters(who: &str, c: &Counters) {
    println!("{who} counters (nstat names, non-zero):");
    for (name, v) in c.iter().filter(|&(_, v)| v != 0) {
        println!("  {name:<40} {v}");
    }
}

fn print_port_stats(s: &PortStats) {
    println!("{}", port_stats_line(s));
}

fn port_stats_line(s: &PortStats) -> String {
    format!(
        "port: rx {} frames {} bytes ({} dropped), tx {} frames {} bytes ({} dropped)",
        s.rx_packets, s.rx_bytes, s.rx_dropped, s.tx_packets, s.tx_bytes, s.tx_dropped
    )
}

/// Adds `s`'s figures to `t`.
fn add_port_stats(t: &mut PortStats, s: &PortStats) {
    t.rx_packets += s.rx_packets;
    t.rx_bytes += s.rx_bytes;
    t.rx_dropped += s.rx_dropped;
    t.tx_packets += s.tx_packets;
    t.tx_bytes += s.tx_bytes;
    t.tx_dropped += s.tx_dropped;
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// The effective settings shared by both roles (`--check-config`).
fn print_dpdk_settings(d: &DpdkArgs) {
    println!("  eal         {}", d.eal_str());
    println!(
        "  port        {}",
        d.port.as_deref().unwrap_or("(the only / first vdev)")
    );
    println!(
        "  ip          {}",
        d.ips
            .iter()
            .map(|p| format!("{}/{}", p.addr, p.len))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "  neighbors   {}",
        d.neighbors
            .iter()
            .map(|n| format!("{}={}", n.ip, mac_str(n.mac)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "  cores       {}",
        if d.worker_cpus().is_empty() {
            "(one worker, main thread)".to_owned()
        } else {
            format!("{:?}", d.worker_cpus())
        }
    );
    for x in &d.extra_ports {
        println!(
            "  extra port  {}={}",
            x.dev,
            x.ips
                .iter()
                .map(|p| format!("{}/{}", p.addr, p.len))
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    let endpoints = pm_endpoints(d);
    if !endpoints.is_empty() || d.pm_limits.is_some() {
        let l = d.pm_limits.map(|l| l.0).unwrap_or_default();
        println!(
            "  pm          limits subflow {} add_addr_accepted {}; endpoints {}",
            l.subflows(),
            l.add_addr_accepted(),
            endpoints
                .iter()
                .map(|(ip, id, f)| {
                    let mut flags = Vec::new();
                    for (on, name) in [
                        (f.signal, "signal"),
                        (f.subflow, "subflow"),
                        (f.backup, "backup"),
                        (f.fullmesh, "fullmesh"),
                    ] {
                        if on {
                            flags.push(name);
                        }
                    }
                    let id = id.map(|i| format!(" id {i}")).unwrap_or_default();
                    format!("{ip}{id} {}", flags.join(","))
                })
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    println!("  mbufs       {}", d.mbufs);
    if let Some(p) = &d.pcap {
        println!("  pcap        {}", p.display());
    }
}

fn print_stack_settings(c: &StackConfig) {
    println!(
        "  tcp         mss {} congestion {:?} rto {:?}..{:?} (initial {:?}) time_wait {:?}",
        c.mss, c.congestion, c.min_rto, c.max_rto, c.initial_rto, c.time_wait
    );
    println!(
        "  tfo         server {} (no_cookie {}, queue {}), client {}",
        c.tfo_server.enabled, c.tfo_server.no_cookie, c.tfo_server.queue_len, c.tfo_client.enabled
    );
    println!(
        "  mptcp       enabled {} checksum {} reply {:?}",
        c.mptcp.enabled, c.mptcp.checksum, c.reply_timing
    );
}

pub(crate) fn serve(mut a: ServeArgs, m: Option<&ArgMatches>) -> Result<()> {
    if a.dpdk.stack == Some(StackKind::Kernel) {
        return crate::kernel_mode::serve(&a, m);
    }
    let file = load_file(&a.dpdk.file)?;
    let mut base = StackConfig::default();
    if let Some(c) = &file {
        a.dpdk.apply_file(c, m)?;
        base = stack_config_from(c);
        if !given(m, "time_wait") {
            a.time_wait = base.time_wait;
        }
        if !given(m, "reply") {
            a.reply = match base.reply_timing {
                mptfo_engine::config::ReplyTiming::Hold => Reply::Hold,
                mptfo_engine::config::ReplyTiming::Early => Reply::Early,
            };
        }
        if !given(m, "tfo_key") {
            if let Some(k) = c.tfo.server.key {
                a.tfo_key = Some(hex(&k.0));
            }
        }
        if let Some(sv) = &c.serve {
            if !given(m, "listen") {
                a.listen = sv.listen_port;
            }
            if !given(m, "mode") {
                a.mode = match sv.mode {
                    mptfo_config::ServeMode::Rpc => Mode::Rpc,
                    mptfo_config::ServeMode::Echo => Mode::Echo,
                };
            }
            if !given(m, "response_bytes") {
                a.response_bytes = sv.response_bytes as usize;
            }
            if !given(m, "duration") {
                a.duration = sv.duration().or(a.duration);
            }
            if !given(m, "pcap") && sv.pcap.is_some() {
                a.dpdk.pcap = sv.pcap.clone();
            }
        }
    }
    if a.dpdk.file.check_config {
        println!(
            "serve: settings ok{}",
            a.dpdk
                .file
                .config
                .as_ref()
                .map(|p| format!(" ({})", p.display()))
                .unwrap_or_default()
        );
        print_dpdk_settings(&a.dpdk);
        println!("  listen      {}", a.listen);
        println!(
            "  mode        {:?} (request {} B, response {} B)",
            a.mode, a.request_bytes, a.response_bytes
        );
        println!("  reply       {:?}", a.reply);
        println!(
            "  duration    {}",
            a.duration
                .map_or("until a signal".to_owned(), |d| format!("{d:?}"))
        );
        println!(
            "  tfo key     {}",
            if a.tfo_key.is_some() {
                "fixed"
            } else {
                "random"
            }
        );
        let mut eff = base;
        eff.time_wait = a.time_wait;
        eff.reply_timing = a.reply.timing();
        print_stack_settings(&eff);
        return Ok(());
    }
    let key = match &a.tfo_key {
        Some(k) => crate::parse_tfo_key(k)?.0,
        None => {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&random_u64().to_le_bytes());
            k[8..].copy_from_slice(&random_u64().to_le_bytes());
            k
        }
    };
    let mode = match a.mode {
        Mode::Echo => ServeMode::Echo,
        Mode::Rpc => ServeMode::Rpc {
            request_bytes: a.request_bytes,
            response_bytes: a.response_bytes,
        },
    };
    if a.mode == Mode::Rpc && (a.request_bytes == 0 || a.response_bytes == 0) {
        bail!("rpc mode needs --request-bytes and --response-bytes of at least 1");
    }
    let stop = mptfo_bench::sys::stop_on_signals().context("installing signal handlers")?;
    let live = LiveConfig {
        duration: a.duration,
        idle_sleep: a.dpdk.idle_sleep,
        ..LiveConfig::default()
    };
    if a.dpdk.workers() > 1 && a.dpdk.pcap.is_some() {
        bail!("--pcap works with one worker only (no --cores, or a single CPU)");
    }
    check_pm(&a.dpdk)?;
    let multi = !a.dpdk.extra_ports.is_empty();
    if multi && a.dpdk.pcap.is_some() {
        bail!("--extra-port works without --pcap (the capture covers one port)");
    }
    with_port(&a.dpdk, "mptfo_serve", |eal, mut queues, extra, info| {
        let clock = Clock::real_time();
        let mut cfg = StackConfig {
            reply_timing: a.reply.timing(),
            time_wait: a.time_wait,
            ..base
        };
        cfg.tfo_server.key = key;
        let announce = |mac: [u8; 6]| {
            let addrs: Vec<String> = a
                .dpdk
                .ips
                .iter()
                .map(|p| SocketAddr::new(p.addr, a.listen).to_string())
                .collect();
            println!(
                "listening on {} (port {} driver {} mac {}; mode {:?}, reply {:?})",
                addrs.join(" "),
                info.name,
                info.driver,
                mac_str(mac),
                a.mode,
                a.reply
            );
            let _ = std::io::stdout().flush();
        };
        // Worker threads (pinned) whenever --cores (or the file) names the
        // CPUs; the main thread otherwise, and for a capture.
        if queues.len() > 1 || (a.dpdk.cores.is_some() && a.dpdk.pcap.is_none()) {
            let outcomes = serve_workers(
                eal,
                queues,
                extra,
                &a,
                cfg,
                mode,
                &clock,
                stop,
                &live,
                || announce(info.mac),
            )?;
            print_serve_summary(&outcomes);
            return Ok(());
        }
        if multi {
            let q = queues.remove(0);
            let xs: Vec<&DpdkQueue<'_>> = extra.iter().collect();
            let stack = make_stack_on(&a.dpdk, &q, &xs, cfg, &clock, 0, 1)?;
            let mut ports = vec![q];
            ports.extend(extra);
            let mut w = Worker::new(stack, ports, ServeApp::new(mode));
            w.stack.listen(a.listen);
            announce(info.mac);
            let st = run::serve(&mut w, &clock, stop, &live);
            serve_summary(&w, &st);
            return Ok(());
        }
        let q = queues.remove(0);
        match &a.dpdk.pcap {
            None => {
                let stack = make_stack(&a.dpdk, &q, cfg, &clock, 0, 1);
                let mut w = Worker::new(stack, vec![q], ServeApp::new(mode));
                w.stack.listen(a.listen);
                announce(info.mac);
                let st = run::serve(&mut w, &clock, stop, &live);
                serve_summary(&w, &st);
                Ok(())
            }
            Some(path) => {
                pin_capture_worker(&a.dpdk, "serve");
                let tap = PcapTap::new(q, pcap_writer(path)?, clock.clone());
                let stack = make_stack(&a.dpdk, &tap, cfg, &clock, 0, 1);
                let mut w = Worker::new(stack, vec![tap], ServeApp::new(mode));
                w.stack.listen(a.listen);
                announce(info.mac);
                let st = run::serve(&mut w, &clock, stop, &live);
                serve_summary(&w, &st);
                let tap = w.ports.pop().expect("the port");
                drop(w);
                tap.finish()
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("capture written to {}", path.display());
                Ok(())
            }
        }
    })
}

/// What one serve worker did.
struct ServeOutcome {
    /// The CPU it was pinned to (`None`: the main thread, not pinned here).
    cpu: Option<usize>,
    pinned: bool,
    stats: ServeStats,
    error_reasons: Vec<(CloseReason, u64)>,
    open: usize,
    port: PortStats,
    counters: Counters,
    steer: Option<SteerStats>,
    live: LiveStats,
}

/// The sum of a worker's port statistics; with several ports, one line
/// each.
fn ports_stats<P: Port>(ports: &[P]) -> PortStats {
    let mut t = PortStats::default();
    for (k, p) in ports.iter().enumerate() {
        let s = p.stats();
        if ports.len() > 1 {
            // One call: workers print theirs at the same time.
            println!("port {k}: {}", port_stats_line(&s));
        }
        t.rx_packets += s.rx_packets;
        t.rx_bytes += s.rx_bytes;
        t.rx_dropped += s.rx_dropped;
        t.tx_packets += s.tx_packets;
        t.tx_bytes += s.tx_bytes;
        t.tx_dropped += s.tx_dropped;
    }
    t
}

/// The path-manager flags make sense: endpoints are our addresses, each
/// once.
fn check_pm(d: &DpdkArgs) -> Result<()> {
    let ours: Vec<IpAddr> = d
        .ips
        .iter()
        .map(|p| p.addr)
        .chain(
            d.extra_ports
                .iter()
                .flat_map(|x| x.ips.iter().map(|p| p.addr)),
        )
        .collect();
    let mut seen = Vec::new();
    for (ip, _, _) in pm_endpoints(d) {
        if !ours.contains(&ip) {
            bail!("endpoint {ip} is none of our addresses ({ours:?})");
        }
        if seen.contains(&ip) {
            bail!("endpoint {ip} given twice");
        }
        seen.push(ip);
    }
    Ok(())
}

fn serve_outcome<P: Port>(w: &Worker<P, ServeApp>, st: &LiveStats) -> ServeOutcome {
    ServeOutcome {
        cpu: None,
        pinned: false,
        stats: w.app.stats,
        error_reasons: w.app.error_reasons.clone(),
        open: w.app.open_connections(),
        port: ports_stats(&w.ports),
        counters: w.stack.counters(),
        steer: None,
        live: *st,
    }
}

fn serve_summary<P: Port>(w: &Worker<P, ServeApp>, st: &LiveStats) {
    print_serve_summary(&[serve_outcome(w, st)]);
}

/// The exit summary: the totals (the line the tests read), then per core
/// and the steering figures when there are several workers, the port and
/// the counters (summed over the cores).
fn print_serve_summary(outs: &[ServeOutcome]) {
    let mut s = ServeStats::default();
    let mut open = 0;
    let mut reasons: Vec<(CloseReason, u64)> = Vec::new();
    let mut port = PortStats::default();
    for o in outs {
        s.accepted += o.stats.accepted;
        s.closed += o.stats.closed;
        s.errors += o.stats.errors;
        s.requests += o.stats.requests;
        s.rx_bytes += o.stats.rx_bytes;
        s.tx_bytes += o.stats.tx_bytes;
        s.send_errors += o.stats.send_errors;
        open += o.open;
        for &(r, n) in &o.error_reasons {
            match reasons.iter_mut().find(|(q, _)| *q == r) {
                Some((_, m)) => *m += n,
                None => reasons.push((r, n)),
            }
        }
        port.rx_packets += o.port.rx_packets;
        port.rx_bytes += o.port.rx_bytes;
        port.rx_dropped += o.port.rx_dropped;
        port.tx_packets += o.port.tx_packets;
        port.tx_bytes += o.port.tx_bytes;
        port.tx_dropped += o.port.tx_dropped;
    }
    let st = outs.first().map(|o| o.live).unwrap_or_default();
    let wall_ns = outs.iter().map(|o| o.live.wall_ns).max().unwrap_or(0);
    println!(
        "serve: stopped ({}) after {:.3} s: {} connections accepted, {} closed ({} with errors), {} open; {} requests, {} bytes in, {} bytes out",
        if outs.iter().any(|o| o.live.interrupted) {
            "signal"
        } else if st.duration_reached {
            "duration"
        } else {
            "end"
        },
        wall_ns as f64 / 1e9,
        s.accepted,
        s.closed,
        s.errors,
        open,
        s.requests,
        s.rx_bytes,
        s.tx_bytes
    );
    if !reasons.is_empty() {
        println!("serve: errors by reason: {reasons:?}");
    }
    if outs.iter().any(|o| o.cpu.is_some()) {
        let mut total = SteerStats::default();
        for (k, o) in outs.iter().enumerate() {
            println!(
                "serve: core {k} (cpu {}{}): {} connections accepted, {} closed, {} requests; {} polls, {} frames; cpu {:.3} s",
                o.cpu.map_or("main".to_owned(), |c| c.to_string()),
                if o.pinned { ", pinned" } else { ", not pinned" },
                o.stats.accepted,
                o.stats.closed,
                o.stats.requests,
                o.live.polls,
                o.live.frames,
                o.live.cpu_ns as f64 / 1e9
            );
            if let Some(t) = o.steer.as_ref().filter(|_| outs.len() > 1) {
                println!("serve: core {k} steering: {}", t.line());
                total.add(t);
            }
        }
        if outs.len() > 1 {
            println!("serve: steering: {}", total.line());
        }
    }
    print_port_stats(&port);
    let counters = Counters::sum(outs.iter().map(|o| &o.counters));
    print_counters("serve", &counters);
}

/// A capture runs its one worker on the main thread, which EAL pinned to
/// the main lcore's CPU; when `--cores` (or the file) names the worker's
/// CPU, the main thread moves there, so that the worker does not share a
/// CPU with whatever else runs on the main lcore's (the memif examples put
/// it on the peer's worker CPU). Warns when the pinning fails.
fn pin_capture_worker(d: &DpdkArgs, who: &str) {
    if let [cpu] = d.worker_cpus() {
        if !mptfo_bench::steer::pin_to_cpu(*cpu) {
            eprintln!(
                "{who}: could not pin the worker to cpu {cpu}; it runs on the main lcore's CPU"
            );
        }
    }
}

/// Makes the calling thread worker `k` of `who`: registers it with the EAL
/// (its mempool cache and lcore id) and pins it to `cpu`, warning when the
/// pinning fails. Returns the guard to keep for the thread's lifetime and
/// whether the pinning worked.
fn enter_worker<'e>(
    eal: &'e Eal,
    who: &str,
    k: usize,
    cpu: usize,
) -> Result<(mptfo_dpdk::LcoreGuard<'e>, bool)> {
    let lcore = eal
        .register_thread()
        .map_err(|e| anyhow!("worker {k}: registering with the EAL: {e}"))?;
    let pinned = mptfo_bench::steer::pin_to_cpu(cpu);
    if !pinned {
        eprintln!("{who}: worker {k}: could not pin to cpu {cpu}; running unpinned");
    }
    Ok((lcore, pinned))
}

/// Splits the further ports' queues (as [`with_port`] hands them over:
/// worker by worker) into each worker's ports: its queue of the first
/// port, then its queue of every further port.
fn worker_ports<Q>(queues: Vec<Q>, extra: Vec<Q>) -> Vec<Vec<Q>> {
    let n = queues.len();
    let per = extra.len().checked_div(n).unwrap_or(0);
    let mut extra = extra.into_iter();
    queues
        .into_iter()
        .map(|q| {
            let mut ports = vec![q];
            ports.extend(extra.by_ref().take(per));
            ports
        })
        .collect()
}

/// Runs one pinned serve worker per queue, each with its own stack (core
/// `k` of `n`) over its queue pair of every port (the first and the
/// further ones), each behind the port's software steering step;
/// `announce` runs once every worker listens.
#[allow(clippy::too_many_arguments)]
fn serve_workers<'a>(
    eal: &Eal,
    queues: Vec<DpdkQueue<'a>>,
    extra: Vec<DpdkQueue<'a>>,
    a: &ServeArgs,
    cfg: StackConfig,
    mode: ServeMode,
    clock: &Clock,
    stop: &AtomicBool,
    live: &LiveConfig,
    announce: impl FnOnce(),
) -> Result<Vec<ServeOutcome>> {
    let cpus = a.dpdk.worker_cpus();
    let n = queues.len();
    let workers = worker_ports(queues, extra);
    let n_ports = workers.first().map_or(1, Vec::len);
    // One steering step per port.
    let steering: Vec<Steering<_>> = (0..n_ports)
        .map(|_| Steering::new(n, INBOX_CAPACITY))
        .collect();
    let ready = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for (k, qs) in workers.into_iter().enumerate() {
            let cpu = cpus.get(k).copied().unwrap_or(k);
            let (steering, ready, failed) = (&steering, &ready, &failed);
            let clock = clock.clone();
            let h = std::thread::Builder::new()
                .name(format!("mptfo-w{k}"))
                .spawn_scoped(s, move || -> Result<ServeOutcome> {
                    let r = (|| {
                        let (_lcore, pinned) = enter_worker(eal, "serve", k, cpu)?;
                        let (ports, stack) =
                            steered_worker(&a.dpdk, qs, steering, cfg, &clock, k, n)?;
                        let mut w = Worker::new(stack, ports, ServeApp::new(mode));
                        w.stack.listen(a.listen);
                        ready.fetch_add(1, Ordering::SeqCst);
                        let st = run::serve(&mut w, &clock, stop, live);
                        let mut o = serve_outcome(&w, &st);
                        o.cpu = Some(cpu);
                        o.pinned = pinned;
                        let mut steer = SteerStats::default();
                        for p in &w.ports {
                            steer.add(&p.steer_stats());
                        }
                        o.steer = Some(steer);
                        Ok(o)
                    })();
                    if r.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    r
                })
                .context("starting a worker thread")?;
            handles.push(h);
        }
        // The line the tests wait for once every worker listens.
        while ready.load(Ordering::SeqCst) < n && !failed.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        if !failed.load(Ordering::SeqCst) {
            announce();
        }
        let mut outs = Vec::new();
        let mut first_err = None;
        for h in handles {
            match h.join() {
                Ok(Ok(o)) => outs.push(o),
                Ok(Err(e)) => {
                    // The others must stop too.
                    stop.store(true, Ordering::SeqCst);
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    stop.store(true, Ordering::SeqCst);
                    first_err.get_or_insert(anyhow!("a worker thread panicked"));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(outs),
        }
    })
}

pub(crate) fn loadgen(mut a: LoadgenArgs, m: Option<&ArgMatches>) -> Result<()> {
    if a.dpdk.stack == Some(StackKind::Kernel) {
        return crate::kernel_mode::loadgen(&a, m);
    }
    let file = load_file(&a.dpdk.file)?;
    let mut base = StackConfig::default();
    if let Some(c) = &file {
        a.dpdk.apply_file(c, m)?;
        base = stack_config_from(c);
        if !given(m, "time_wait") {
            a.time_wait = base.time_wait;
        }
        if let Some(l) = &c.loadgen {
            if !given(m, "target") {
                a.target = Some(l.target);
            }
            if let (false, Some(n)) = (given(m, "connections"), l.connections) {
                a.connections = n as usize;
            }
            // The file's open loop, unless the command line asks for a
            // closed one (or another rate).
            if let (false, false, Some(r)) = (given(m, "connections"), given(m, "rate"), l.rate) {
                a.rate = Some(r as f64);
            }
            if l.shape == mptfo_config::Shape::Rps && !given(m, "requests_per_connection") {
                eprintln!(
                    "note: loadgen.shape = \"rps\": give --requests-per-connection N for N requests per connection (now {})",
                    a.requests_per_connection
                );
            }
            if !given(m, "duration") && l.duration_s.is_some() {
                a.duration = l.duration_s.map(Duration::from_secs_f64);
            }
            if !given(m, "transactions") && l.transactions.is_some() {
                a.transactions = l.transactions;
            }
            if !given(m, "request_bytes") {
                a.request_bytes = l.request_bytes as usize;
            }
            if !given(m, "response_bytes") {
                a.response_bytes = Some(l.response_bytes as usize);
            }
            if let (false, Some(t)) = (given(m, "tfo"), l.tfo) {
                a.tfo = if t { OnOff::On } else { OnOff::Off };
            }
            if let (false, Some(t)) = (given(m, "mptcp"), l.mptcp) {
                a.mptcp = if t { OnOff::On } else { OnOff::Off };
            }
            if !given(m, "json") && l.json.is_some() {
                a.json = l.json.clone();
            }
            if !given(m, "pcap") && l.pcap.is_some() {
                a.dpdk.pcap = l.pcap.clone();
            }
        }
    }
    let Some(target) = a.target else {
        bail!(BadConfig(
            "no target: give --target, or loadgen.target in the file".into()
        ));
    };
    if a.dpdk.file.check_config {
        println!(
            "loadgen: settings ok{}",
            a.dpdk
                .file
                .config
                .as_ref()
                .map(|p| format!(" ({})", p.display()))
                .unwrap_or_default()
        );
        print_dpdk_settings(&a.dpdk);
        println!("  target      {target}");
        match a.rate {
            Some(r) => println!(
                "  load shape  open loop, {r} connections/s, at most {} in flight",
                a.max_in_flight
            ),
            None => println!("  connections {}", a.connections),
        }
        println!("  requests    {} per connection", a.requests_per_connection);
        println!(
            "  load        {:?} / {:?} transactions; request {} B, response {:?} B",
            a.duration, a.transactions, a.request_bytes, a.response_bytes
        );
        println!("  tfo {:?} mptcp {:?}", a.tfo, a.mptcp);
        let mut eff = base;
        eff.time_wait = a.time_wait;
        print_stack_settings(&eff);
        return Ok(());
    }
    let duration = match (a.duration, a.transactions) {
        (None, None) => Some(Duration::from_secs(2)),
        (d, _) => d,
    };
    if a.connections == 0 || a.request_bytes == 0 || a.response_bytes == Some(0) {
        bail!("connections, request and response sizes must be at least 1");
    }
    if duration == Some(Duration::ZERO) || a.transactions == Some(0) {
        bail!("duration and transaction count must be positive");
    }
    check_pm(&a.dpdk)?;
    if !a.dpdk.extra_ports.is_empty() && a.dpdk.pcap.is_some() {
        bail!("--extra-port works without --pcap (the capture covers one port)");
    }
    let n_workers = a.dpdk.workers();
    if n_workers > 1 && a.dpdk.pcap.is_some() {
        bail!("--pcap works with one worker only (no --cores, or a single CPU)");
    }
    if let Some(r) = a.rate {
        if !(r.is_finite() && r > 0.0) {
            bail!("--rate {r}: expected a positive number of connections per second");
        }
    }
    if a.requests_per_connection == 0 {
        bail!("--requests-per-connection 0: expected at least 1");
    }
    // Closed loop: connections in flight; open loop: the cap on them.
    let in_flight = if a.rate.is_some() {
        if a.max_in_flight == 0 {
            bail!("--max-in-flight 0: expected at least 1");
        }
        a.max_in_flight
    } else {
        a.connections
    };
    if n_workers > in_flight {
        bail!(
            "{in_flight} connections in flight for {n_workers} workers: give each worker at least one"
        );
    }
    let response_bytes = a.response_bytes.unwrap_or(a.request_bytes);
    let stop = mptfo_bench::sys::stop_on_signals().context("installing signal handlers")?;
    let live = LiveConfig {
        duration: Some(
            a.time_limit
                .unwrap_or(duration.unwrap_or(Duration::ZERO) + a.drain + Duration::from_secs(30)),
        ),
        drain: a.drain,
        idle_sleep: a.dpdk.idle_sleep,
    };
    let lcfg = LoadgenConfig {
        server: target,
        concurrency: in_flight,
        request_bytes: a.request_bytes,
        response_bytes,
        tfo: a.tfo.on(),
        mptcp: a.mptcp.on(),
        transactions: a.transactions,
        duration,
        rate: a.rate,
        requests_per_connection: a.requests_per_connection,
    };
    lcfg.validate().map_err(anyhow::Error::msg)?;
    let report = with_port(&a.dpdk, "mptfo_loadgen", |eal, mut queues, extra, info| {
        let clock = Clock::real_time();
        let cfg = StackConfig {
            time_wait: a.time_wait,
            ..base
        };
        let linfo = LiveLoadgenInfo {
            device: format!("{} ({}, mac {})", info.name, info.driver, mac_str(info.mac)),
            target,
        };
        println!(
            "loadgen: {} -> {} from {}, {}{}",
            linfo.device,
            target,
            a.dpdk
                .ips
                .iter()
                .map(|p| p.addr.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            match a.rate {
                Some(r) => format!("open loop at {r} connections/s"),
                None => format!("{} connections", a.connections),
            },
            if queues.len() > 1 {
                format!(" on {} cores", queues.len())
            } else {
                String::new()
            }
        );
        if queues.len() > 1 || (a.dpdk.cores.is_some() && a.dpdk.pcap.is_none()) {
            return loadgen_workers(
                eal, queues, extra, &a, cfg, &lcfg, &clock, stop, &live, &linfo,
            )
            .map(|(outs, intervals)| LoadgenRun::Cores(outs, intervals));
        }
        // The source address the stack would choose (the first of the
        // target's family on the first port); the generator then picks the
        // source ports itself, a bounded search at the port limit.
        let local = a
            .dpdk
            .ips
            .iter()
            .map(|p| p.addr)
            .find(|ip| ip.is_ipv4() == target.is_ipv4());
        let app_for = |lcfg: &LoadgenConfig| {
            let app = LoadgenApp::new(lcfg.clone(), clock.clone());
            match local {
                Some(ip) => app.with_shard(ip, 0, 1),
                None => app,
            }
        };
        let q = queues.remove(0);
        match &a.dpdk.pcap {
            None => {
                // Further ports (paths for the path manager's subflows)
                // and the endpoints.
                let xs: Vec<&DpdkQueue<'_>> = extra.iter().collect();
                let stack = make_stack_on(&a.dpdk, &q, &xs, cfg, &clock, 0, 1)?;
                let app = app_for(&lcfg);
                let mut ports = vec![q];
                ports.extend(extra);
                let mut w = Worker::new(stack, ports, app);
                let done = run::loadgen_one(&mut w, &clock, stop, &live, a.interval, &linfo);
                print_port_stats(&ports_stats(&w.ports));
                Ok(LoadgenRun::One(Box::new(done)))
            }
            Some(path) => {
                pin_capture_worker(&a.dpdk, "loadgen");
                let tap = PcapTap::new(q, pcap_writer(path)?, clock.clone());
                let stack = make_stack(&a.dpdk, &tap, cfg, &clock, 0, 1);
                let app = app_for(&lcfg);
                let mut w = Worker::new(stack, vec![tap], app);
                let done = run::loadgen_one(&mut w, &clock, stop, &live, a.interval, &linfo);
                print_port_stats(&w.ports[0].stats());
                let tap = w.ports.pop().expect("the port");
                drop(w);
                tap.finish()
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("capture written to {}", path.display());
                Ok(LoadgenRun::One(Box::new(done)))
            }
        }
    })?;
    let (report, generator) = match report {
        LoadgenRun::One(r) => *r,
        LoadgenRun::Cores(outs, intervals) => return finish_loadgen_workers(&a, outs, intervals),
    };
    let full = mptfo_bench::report::FullReport {
        report: &report,
        generator: &generator,
        extra: None,
    };
    print!("{full}");
    println!("client counters (nstat names, non-zero):");
    for (name, v) in &report.client_counters {
        println!("  {name:<40} {v}");
    }
    if let Some(path) = &a.json {
        std::fs::write(path, full.to_json() + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("  JSON report written to {}", path.display());
    }
    if report.run.drain_timed_out || report.run.wall_timed_out {
        bail!("the run did not finish normally (see the warning above)");
    }
    if report.transactions == 0 {
        bail!("no transaction completed");
    }
    Ok(())
}

/// What a loadgen run returns to be reported: one worker's report, or
/// the outcomes of several pinned workers.
enum LoadgenRun {
    One(
        Box<(
            mptfo_bench::report::Report,
            mptfo_bench::loadgen::GeneratorFigures,
        )>,
    ),
    Cores(Vec<LoadgenOutcome>, Vec<mptfo_bench::report::Interval>),
}

/// What one loadgen worker did.
struct LoadgenOutcome {
    cpu: usize,
    pinned: bool,
    report: mptfo_bench::report::Report,
    stats: mptfo_bench::LoadgenStats,
    hists: mptfo_bench::LatencyHists,
    /// First SYN and last reply, on the run's clock.
    span: (Option<u64>, Option<u64>),
    /// Its queue's figures on every port (the first, then the further
    /// ones in `--extra-port` order).
    ports: Vec<PortStats>,
    counters: Counters,
    /// The steering figures of all its ports.
    steer: SteerStats,
}

/// Worker `k`'s share of `total` split over `n` (the first ones take the
/// remainder).
fn share(total: u64, k: usize, n: usize) -> u64 {
    let (n, k) = (n as u64, k as u64);
    total / n + u64::from(k < total % n)
}

/// Runs one pinned loadgen worker per queue, each with its own stack (core
/// `k` of `n`) over its queue pair of every port (the first and the
/// further ones, each port behind its own software steering step) and its
/// share of the connections and transactions; each opens its connections
/// from source ports whose flows hash to its own core
/// (`shard::port_for_core`), and the stack picks its joins' source ports
/// (on whichever port the `--subflow` endpoint is) by the same rule, so
/// every reply on every path reaches the worker that owns the connection.
#[allow(clippy::too_many_arguments)]
fn loadgen_workers<'a>(
    eal: &Eal,
    queues: Vec<DpdkQueue<'a>>,
    extra: Vec<DpdkQueue<'a>>,
    a: &LoadgenArgs,
    cfg: StackConfig,
    lcfg: &LoadgenConfig,
    clock: &Clock,
    stop: &AtomicBool,
    live: &LiveConfig,
    linfo: &LiveLoadgenInfo,
) -> Result<(Vec<LoadgenOutcome>, Vec<mptfo_bench::report::Interval>)> {
    let cpus = a.dpdk.worker_cpus();
    let n = queues.len();
    let target = lcfg.server;
    let local = a
        .dpdk
        .ips
        .iter()
        .map(|p| p.addr)
        .find(|ip| ip.is_ipv4() == target.is_ipv4())
        .ok_or_else(|| anyhow!("no --ip of the family of {target}"))?;
    let workers = worker_ports(queues, extra);
    let n_ports = workers.first().map_or(1, Vec::len);
    // One steering step per port.
    let steering: Vec<Steering<_>> = (0..n_ports)
        .map(|_| Steering::new(n, INBOX_CAPACITY))
        .collect();
    let failed = AtomicBool::new(false);
    let barrier = run::DoneBarrier::new(n);
    // Each worker's cumulative counts, for the progress lines.
    let slots: Vec<run::ProgressSlot> = (0..n).map(|_| run::ProgressSlot::default()).collect();
    let mut ticker = run::IntervalTicker::new(a.interval, clock.now(), true);
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for (k, qs) in workers.into_iter().enumerate() {
            let cpu = cpus.get(k).copied().unwrap_or(k);
            let (steering, failed, barrier) = (&steering, &failed, &barrier);
            let slot = &slots[k];
            let clock = clock.clone();
            let mut my = lcfg.clone();
            my.concurrency = share(lcfg.concurrency as u64, k, n) as usize;
            my.transactions = lcfg.transactions.map(|t| share(t, k, n));
            my.rate = lcfg.rate.map(|r| r / n as f64);
            let h = std::thread::Builder::new()
                .name(format!("mptfo-lg{k}"))
                .spawn_scoped(s, move || -> Result<LoadgenOutcome> {
                    let r = (|| {
                        let (_lcore, pinned) = enter_worker(eal, "loadgen", k, cpu)?;
                        let (ports, stack) =
                            steered_worker(&a.dpdk, qs, steering, cfg, &clock, k, n)?;
                        let idle = my.transactions == Some(0);
                        let app = LoadgenApp::new(my, clock.clone()).with_shard(local, k, n);
                        let mut w = Worker::new(stack, ports, app);
                        if idle {
                            w.app.stop();
                        }
                        let st = run::loadgen_shared(
                            &mut w,
                            &clock,
                            stop,
                            live,
                            Some(barrier),
                            run::Progress::Publish(slot),
                        );
                        let counters = w.stack.counters();
                        let report = run::loadgen_report(&w, &st, &counters, linfo);
                        let mut steer = SteerStats::default();
                        for p in &w.ports {
                            steer.add(&p.steer_stats());
                        }
                        Ok(LoadgenOutcome {
                            cpu,
                            pinned,
                            report,
                            stats: w.app.stats,
                            hists: w.app.hists.clone(),
                            span: (w.app.first_start(), w.app.last_done()),
                            ports: w.ports.iter().map(Port::stats).collect(),
                            counters,
                            steer,
                        })
                    })();
                    if r.is_err() {
                        failed.store(true, Ordering::SeqCst);
                        stop.store(true, Ordering::SeqCst);
                        barrier.arrive();
                    }
                    r
                })
                .context("starting a worker thread")?;
            handles.push(h);
        }
        // A progress line per interval: the sum of what the workers
        // published, read here without stopping them.
        if let Some(t) = ticker.as_mut() {
            let total = || {
                let mut c = run::ProgressCounts::default();
                for slot in &slots {
                    c.add(&slot.read());
                }
                c
            };
            while !handles.iter().all(|h| h.is_finished()) {
                let now = clock.now();
                if t.due(now) {
                    t.tick(now, total());
                } else {
                    let wait = (t.next_at() - now).min(20_000_000);
                    std::thread::sleep(Duration::from_nanos(wait));
                }
            }
            t.finish(clock.now(), total());
        }
        let mut outs = Vec::new();
        let mut first_err = None;
        for h in handles {
            match h.join() {
                Ok(Ok(o)) => outs.push(o),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    stop.store(true, Ordering::SeqCst);
                    first_err.get_or_insert(anyhow!("a worker thread panicked"));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok((outs, ticker.map(|t| t.intervals).unwrap_or_default())),
        }
    })
}

/// Prints each core's line, the steering figures, each port's figures
/// (summed over the cores' queues; a `port K: ...` line each when there
/// are further ports, then their sum), the totals (the line the tests
/// read: `loadgen: total: ...`) and the merged report (latency
/// histograms of all cores merged, the progress lines in it), writes the
/// merged report as JSON (with `mptcp_transactions`, `steering` and each
/// core's own report under `per_core`), and fails like the one-worker run
/// does.
fn finish_loadgen_workers(
    a: &LoadgenArgs,
    outs: Vec<LoadgenOutcome>,
    intervals: Vec<mptfo_bench::report::Interval>,
) -> Result<()> {
    let mut total = mptfo_bench::LoadgenStats::default();
    let mut steer = SteerStats::default();
    // Each port's figures, summed over the workers' queues.
    let mut ports: Vec<PortStats> = Vec::new();
    for (k, o) in outs.iter().enumerate() {
        println!(
            "loadgen: core {k} (cpu {}{}): {} transactions completed of {} started, {} errors",
            o.cpu,
            if o.pinned { ", pinned" } else { ", not pinned" },
            o.stats.completed,
            o.stats.started,
            o.stats.errors
        );
        println!("loadgen: core {k} steering: {}", o.steer.line());
        total.add(&o.stats);
        steer.add(&o.steer);
        if ports.len() < o.ports.len() {
            ports.resize(o.ports.len(), PortStats::default());
        }
        for (t, s) in ports.iter_mut().zip(&o.ports) {
            add_port_stats(t, s);
        }
    }
    println!("loadgen: steering: {}", steer.line());
    let mut port = PortStats::default();
    for (k, s) in ports.iter().enumerate() {
        if ports.len() > 1 {
            println!("port {k}: {}", port_stats_line(s));
        }
        add_port_stats(&mut port, s);
    }
    print_port_stats(&port);
    println!(
        "loadgen: total: {} transactions completed of {} started on {} cores, {} errors, {} incomplete, {} overlong, {} mptcp",
        total.completed,
        total.started,
        outs.len(),
        total.errors,
        total.incomplete,
        total.overlong,
        total.completed_mptcp
    );
    // The whole load: from the first SYN of any core to the last reply.
    let first = outs.iter().filter_map(|o| o.span.0).min();
    let last = outs.iter().filter_map(|o| o.span.1).max();
    let load_seconds = match (first, last) {
        (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e9,
        _ => 0.0,
    };
    let hists = mptfo_bench::LatencyHists::merged(outs.iter().map(|o| &o.hists));
    let parts: Vec<&mptfo_bench::report::Report> = outs.iter().map(|o| &o.report).collect();
    let mut report = mptfo_bench::report::Report::merge(&parts, hists.latencies(), load_seconds)
        .ok_or_else(|| anyhow!("no worker ran"))?;
    report.intervals = intervals;
    let generator = mptfo_bench::loadgen::GeneratorFigures::of(&total, load_seconds);
    let extra = run::multi_core_json(total.completed_mptcp, &steer, &parts);
    let full = mptfo_bench::report::FullReport {
        report: &report,
        generator: &generator,
        extra: Some(&extra),
    };
    print!("{full}");
    let counters = Counters::sum(outs.iter().map(|o| &o.counters));
    print_counters("client", &counters);
    if let Some(path) = &a.json {
        std::fs::write(path, full.to_json() + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("  JSON report written to {}", path.display());
    }
    if report.run.drain_timed_out || report.run.wall_timed_out {
        bail!("the run did not finish normally (see the warnings above)");
    }
    if total.completed == 0 {
        bail!("no transaction completed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_neighbors() {
        let p: IpPrefix = "10.0.1.2/24".parse().unwrap();
        assert_eq!(p.len, 24);
        assert!("10.0.1.2".parse::<IpPrefix>().is_err());
        assert!("10.0.1.2/33".parse::<IpPrefix>().is_err());
        assert!("fd00::1/64".parse::<IpPrefix>().is_ok());
        let n: Neighbor = "10.0.1.1=02:00:00:00:00:0a".parse().unwrap();
        assert_eq!(n.mac, [2, 0, 0, 0, 0, 10]);
        assert!("10.0.1.1=02:00:00:00:00".parse::<Neighbor>().is_err());
        assert!("10.0.1.1".parse::<Neighbor>().is_err());
    }

    #[test]
    fn extra_ports_limits_and_subnets() {
        let x: ExtraPort = "net_af_packet1=10.0.2.2/24,10.0.1.2/32".parse().unwrap();
        assert_eq!(x.dev, "net_af_packet1");
        assert_eq!(x.ips.len(), 2);
        assert_eq!(x.ips[1].len, 32);
        assert!("net_af_packet1".parse::<ExtraPort>().is_err());
        assert!("=10.0.2.2/24".parse::<ExtraPort>().is_err());
        assert!("p=10.0.2.2".parse::<ExtraPort>().is_err());
        let l: PmLimitsArg = "2,2".parse().unwrap();
        assert_eq!((l.0.subflows(), l.0.add_addr_accepted()), (2, 2));
        assert!("2".parse::<PmLimitsArg>().is_err());
        assert!("x,1".parse::<PmLimitsArg>().is_err());
        let p: IpPrefix = "10.0.1.2/24".parse().unwrap();
        assert!(in_subnet(&p, "10.0.1.200".parse().unwrap()));
        assert!(!in_subnet(&p, "10.0.2.1".parse().unwrap()));
        let all: IpPrefix = "10.0.1.2/0".parse().unwrap();
        assert!(in_subnet(&all, "192.168.0.1".parse().unwrap()));
        let v6: IpPrefix = "fd00::1/64".parse().unwrap();
        assert!(in_subnet(&v6, "fd00::ff".parse().unwrap()));
        assert!(!in_subnet(&v6, "10.0.1.2".parse().unwrap()));
    }

    #[test]
    fn load_shares() {
        assert_eq!(
            (0..3).map(|k| share(10, k, 3)).collect::<Vec<_>>(),
            [4, 3, 3]
        );
        assert_eq!((0..2).map(|k| share(1, k, 2)).sum::<u64>(), 1);
    }

    #[test]
    fn runtime_dir_goes_with_its_telemetry_socket_only() {
        let base = std::env::temp_dir().join(format!("mptfo-rundir-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        // Only the telemetry socket left: both go, and the empty base.
        let dir = base.join("p1");
        std::fs::create_dir_all(&dir).unwrap();
        let sock = std::os::unix::net::UnixListener::bind(dir.join("dpdk_telemetry.v2")).unwrap();
        remove_runtime_dir_in(&base, "p1");
        assert!(!dir.exists());
        assert!(!base.exists());
        drop(sock);
        // Anything else in it (another process's files): left alone.
        std::fs::create_dir_all(&dir).unwrap();
        let sock = std::os::unix::net::UnixListener::bind(dir.join("dpdk_telemetry.v2")).unwrap();
        std::fs::write(dir.join("config"), b"x").unwrap();
        remove_runtime_dir_in(&base, "p1");
        assert!(dir.join("dpdk_telemetry.v2").exists());
        assert!(dir.join("config").exists());
        drop(sock);
        // A regular file of that name is not a socket EAL left: kept.
        std::fs::remove_file(dir.join("config")).unwrap();
        std::fs::remove_file(dir.join("dpdk_telemetry.v2")).unwrap();
        std::fs::write(dir.join("dpdk_telemetry.v2"), b"x").unwrap();
        remove_runtime_dir_in(&base, "p1");
        assert!(dir.join("dpdk_telemetry.v2").exists());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn eal_argument_lookups() {
        let args: Vec<String> = "--no-huge -l 0 --file-prefix=x1 --vdev=net_af_packet0,iface=v0"
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        assert_eq!(file_prefix(&args).as_deref(), Some("x1"));
        assert_eq!(
            first_vdev(&args).as_deref(),
            Some("net_af_packet0,iface=v0")
        );
        let args: Vec<String> = ["--vdev", "net_ring0", "--file-prefix", "p"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(file_prefix(&args).as_deref(), Some("p"));
        assert_eq!(first_vdev(&args).as_deref(), Some("net_ring0"));
    }

    #[test]
    fn worker_ports_take_their_queue_of_every_port() {
        // Two workers, two further ports: handed over worker by worker.
        let w = worker_ports(vec!["a0", "a1"], vec!["b0", "c0", "b1", "c1"]);
        assert_eq!(w, vec![vec!["a0", "b0", "c0"], vec!["a1", "b1", "c1"]]);
        let w = worker_ports(vec!["a0"], Vec::new());
        assert_eq!(w, vec![vec!["a0"]]);
    }

    /// `DpdkArgs` as the command line gives them.
    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        d: DpdkArgs,
    }

    fn with_file(text: &str, flags: &[&str]) -> DpdkArgs {
        use clap::{CommandFactory, FromArgMatches};
        let dir = std::env::temp_dir().join(format!("mptfo-live-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.toml", flags.len()));
        std::fs::write(&path, text).unwrap();
        let mut argv = vec!["t", "--config", path.to_str().unwrap()];
        argv.extend_from_slice(flags);
        let m = Cli::command().get_matches_from(argv);
        let mut cli = Cli::from_arg_matches(&m).unwrap();
        let c = load_file(&cli.d.file).unwrap().unwrap();
        cli.d.apply_file(&c, Some(&m)).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        cli.d
    }

    const TWO_PORTS: &str = r#"
cores = [0, 1]
[[port]]
vdev = "net_af_packet0,iface=s1,qpairs=2"
addresses = ["10.0.1.12/24"]
neighbours = [{ ip = "10.0.1.1", mac = "02:00:00:00:01:01" }]
[[port]]
vdev = "net_af_packet1,iface=s2,qpairs=2"
addresses = ["10.0.2.12/24"]
neighbours = [{ ip = "10.0.2.1", mac = "02:00:00:00:02:01" }]
[mptcp.limits]
subflows = 3
add_addr_accepted = 1
[[mptcp.endpoint]]
address = "10.0.2.12"
id = 5
flags = ["signal", "backup"]
[serve]
listen_port = 8080
"#;

    #[test]
    fn every_port_of_the_file_is_driven() {
        let d = with_file(TWO_PORTS, &[]);
        assert!(d
            .eal_str()
            .contains("--vdev=net_af_packet1,iface=s2,qpairs=2"));
        assert_eq!(d.extra_ports.len(), 1);
        assert_eq!(d.extra_ports[0].dev, "net_af_packet1");
        assert_eq!(
            d.extra_ports[0].ips,
            vec!["10.0.2.12/24".parse::<IpPrefix>().unwrap()]
        );
        // Both ports' neighbours, the first port's first.
        let n: Vec<String> = d.neighbors.iter().map(|n| n.ip.to_string()).collect();
        assert_eq!(n, ["10.0.1.1", "10.0.2.1"]);
        let l = d.pm_limits.unwrap().0;
        assert_eq!((l.subflows(), l.add_addr_accepted()), (3, 1));
        let eps = pm_endpoints(&d);
        assert_eq!(eps.len(), 1);
        let (ip, id, f) = eps[0];
        assert_eq!((ip.to_string(), id), ("10.0.2.12".to_owned(), Some(5)));
        assert!(f.signal && f.backup && !f.subflow);
        assert_eq!(d.workers(), 2);
        check_pm(&d).unwrap();

        // Flags beat the file: --extra-port replaces the further ports
        // (their devices leave the EAL arguments), --signal the endpoints.
        let d = with_file(
            TWO_PORTS,
            &[
                "--extra-port",
                "net_ring0=10.0.3.2/24",
                "--signal",
                "10.0.3.2",
            ],
        );
        assert!(!d.eal_str().contains("net_af_packet1"));
        assert_eq!(d.extra_ports.len(), 1);
        assert_eq!(d.extra_ports[0].dev, "net_ring0");
        assert_eq!(pm_endpoints(&d).len(), 1);
        assert_eq!(pm_endpoints(&d)[0].0.to_string(), "10.0.3.2");
        check_pm(&d).unwrap();
    }
}
