//! Settings of `mptfo serve` and `mptfo loadgen`: the TOML schema, its
//! defaults, and validation with precise errors.
//!
//! One file type serves both programs: shared sections (`cores`, `[eal]`,
//! `[[port]]`, `[tcp]`, `[tfo]`, `[mptcp]`) plus `[serve]` and/or
//! `[loadgen]`. Every key has a default equal to what Linux (or, where
//! Linux has no equivalent, the mptfo engine) does; see each field's doc.
//!
//! ```
//! use mptfo_config::{Config, Overrides, ReplyTiming};
//!
//! let text = r#"
//! cores = "0-1"
//!
//! [[port]]
//! vdev = "net_af_packet0,iface=s1"
//! addresses = ["10.0.1.2/24"]
//!
//! [serve]
//! listen_port = 8080
//! "#;
//! // CLI flags become overrides, applied over the file's values.
//! let cli = Overrides::new().with("mptcp.reply_timing", "early");
//! let cfg = Config::from_str_with(text, &cli).unwrap();
//! assert_eq!(cfg.mptcp.reply_timing, ReplyTiming::Early);
//! assert_eq!(cfg.mss(), 1460);
//! assert_eq!(
//!     cfg.eal_args(),
//!     ["-l", "0-1", "--no-pci", "--vdev=net_af_packet0,iface=s1"]
//! );
//!
//! let err = Config::from_str("[mptcp.limits]\nsubflows = 12\n").unwrap_err();
//! assert_eq!(
//!     err.message(),
//!     "mptcp.limits.subflows = 12: expected an integer from 0 to 8 (Linux's limit)"
//! );
//! ```
//!
//! Errors name the key's full path, the value as written and what was
//! expected, and point at the line (see [`ConfigError`]). Unknown keys are
//! errors that list the valid keys at that level. This crate depends on
//! serde and toml only; the engine, bench and deploy crates read it.
//!
//! # Schema at a glance
//!
//! | section | keys | type |
//! |---|---|---|
//! | top level | `cores` | [`CoreList`] |
//! | `[eal]` | `args` or `lcores`, `main_lcore`, `memory_mb`, `no_huge`, `in_memory`, `no_shconf`, `file_prefix`, `vdevs` | [`EalConfig`] |
//! | `[[port]]` | `name`, `vdev` or `pci`, `addresses`, `mtu`, `neighbours` (`{ ip, mac }`), `rx_queues`, `tx_queues` | [`PortConfig`] |
//! | `[tcp]` | `mss`, `recv_window`, `window_shift`, `send_buffer`, `timestamps`, `sack`, `congestion`, `min_rto_ms`, `max_rto_ms`, `initial_rto_ms`, `syn_retries`, `synack_retries`, `data_retries`, `delayed_ack_ms`, `time_wait_ms` | [`TcpConfig`] |
//! | `[tfo.server]` | `enabled`, `no_cookie`, `queue_len`, `key`, `backup_key` | [`TfoServerConfig`] |
//! | `[tfo.client]` | `enabled`, `negative_cache_s` | [`TfoClientConfig`] |
//! | `[mptcp]` | `enabled`, `checksum`, `deny_join_id0`, `reply_timing` | [`MptcpConfig`] |
//! | `[mptcp.limits]` | `subflows`, `add_addr_accepted` | [`MptcpLimits`] |
//! | `[[mptcp.endpoint]]` | `address`, `id`, `flags` | [`Endpoint`] |
//! | `[serve]` | `listen_port`, `mode`, `response_bytes`, `duration_s`, `pcap` | [`ServeConfig`] |
//! | `[loadgen]` | `target`, `connections` or `rate`, `duration_s`, `transactions`, `request_bytes`, `response_bytes`, `tfo`, `mptcp`, `subflows`, `shape`, `json`, `pcap` | [`LoadgenConfig`] |
//!
//! Commented examples: `config/examples/*.toml`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod decode;
mod error;
mod node;
mod schema;
mod types;
mod validate;

use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

pub use error::{ConfigError, Diagnostic, ErrorKind, Location};
pub use schema::{
    Congestion, EalConfig, Endpoint, EndpointFlag, Load, LoadgenConfig, MptcpConfig, MptcpLimits,
    Neighbour, PortConfig, PortDevice, ReplyTiming, ServeConfig, ServeMode, Shape, TcpConfig,
    TfoClientConfig, TfoConfig, TfoServerConfig, MPTCP_PM_ADDR_MAX,
};
pub use types::{CoreList, CoreListError, IpPrefix, MacAddr, ParseValueError, TfoKey, MAX_LCORE};

use decode::{Ctx, Source};
use node::Node;

/// A whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Worker cores: one stack instance and one rx/tx queue pair per port
    /// on each. `[0, 1]` or `"0-1"`. Default: `[0]`, one worker on CPU 0.
    pub cores: CoreList,
    /// `[eal]`: DPDK EAL start-up.
    pub eal: EalConfig,
    /// `[[port]]`: the DPDK ports. Default: none (needed by serve and
    /// loadgen).
    #[serde(rename = "port", skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortConfig>,
    /// `[tcp]`: TCP subflows.
    pub tcp: TcpConfig,
    /// `[tfo]`: TCP Fast Open.
    pub tfo: TfoConfig,
    /// `[mptcp]`: Multipath TCP.
    pub mptcp: MptcpConfig,
    /// `[serve]`: present when the file configures `mptfo serve`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serve: Option<ServeConfig>,
    /// `[loadgen]`: present when the file configures `mptfo loadgen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loadgen: Option<LoadgenConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cores: CoreList::new([0]).expect("core 0 is a valid core list"),
            eal: EalConfig::default(),
            ports: Vec::new(),
            tcp: TcpConfig::default(),
            tfo: TfoConfig::default(),
            mptcp: MptcpConfig::default(),
            serve: None,
            loadgen: None,
        }
    }
}

/// Values that replace those of a file, by dotted key path: how command
/// line flags override a configuration file.
///
/// Paths are like the ones in error messages: `mptcp.reply_timing`,
/// `mptcp.limits.subflows`, `port[0].mtu`, `mptcp.endpoint[1].flags`. A
/// value is read as the type expected at its path: `12`, `true`, `early`
/// (quotes are optional for strings), `[0, 1]` or `0-1`; a list can also
/// be given comma-separated (`signal,backup`; whitespace-separated for
/// `eal.args`). Overrides are applied in order and validated exactly like
/// the file, so an error names the path and value the same way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    items: Vec<(String, String)>,
}

impl Overrides {
    /// No overrides.
    pub fn new() -> Self {
        Overrides::default()
    }

    /// Adds `path = value`.
    pub fn set(&mut self, path: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.items.push((path.into(), value.into()));
        self
    }

    /// Adds `path = value` (builder form).
    pub fn with(mut self, path: impl Into<String>, value: impl Into<String>) -> Self {
        self.set(path, value);
        self
    }

    /// Adds an assignment written `PATH=VALUE`, as a `--set` flag takes it.
    pub fn push_assignment(&mut self, assignment: &str) -> Result<&mut Self, ConfigError> {
        match assignment.split_once('=') {
            Some((p, v)) if !p.trim().is_empty() => Ok(self.set(p.trim(), v.trim())),
            _ => Err(ConfigError::one(
                ErrorKind::BadOverride,
                format!(
                    "override {}: expected PATH=VALUE, such as mptcp.reply_timing=early",
                    node::quote(assignment)
                ),
            )),
        }
    }

    /// Whether there is no override.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The overrides, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items.iter().map(|(p, v)| (p.as_str(), v.as_str()))
    }

    fn apply_to(&self, doc: &mut Node) -> Result<(), ConfigError> {
        for (p, v) in &self.items {
            doc.set_path(p, v)?;
        }
        Ok(())
    }
}

impl Config {
    /// Parses and validates a configuration text.
    #[allow(clippy::should_implement_trait)] // it is implemented too; this one needs no import
    pub fn from_str(text: &str) -> Result<Config, ConfigError> {
        Config::from_str_with(text, &Overrides::new())
    }

    /// Parses a configuration text, applies `overrides` over it, and
    /// validates the result.
    pub fn from_str_with(text: &str, overrides: &Overrides) -> Result<Config, ConfigError> {
        Config::load(
            Source {
                file: None,
                text: text.to_string(),
            },
            overrides,
        )
    }

    /// Reads, parses and validates a configuration file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        Config::from_file_with(path, &Overrides::new())
    }

    /// Reads and parses a configuration file, applies `overrides` over it,
    /// and validates the result.
    pub fn from_file_with(
        path: impl AsRef<Path>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::one(
                ErrorKind::Io,
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        Config::load(
            Source {
                file: Some(path.to_path_buf()),
                text,
            },
            overrides,
        )
    }

    fn load(source: Source, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut doc = Node::parse_document(&source.text).map_err(|e| {
            let text = e.to_string();
            let text = text.trim_end();
            let message = match &source.file {
                Some(f) => format!("{}: {text}", f.display()),
                None => text.to_string(),
            };
            ConfigError::one(ErrorKind::Syntax, message)
        })?;
        overrides.apply_to(&mut doc)?;
        Config::from_node(&doc, Some(&source))
    }

    fn from_node(doc: &Node, source: Option<&Source>) -> Result<Config, ConfigError> {
        let mut ctx = Ctx::new(source);
        let cfg = Config::decode(&mut ctx, doc);
        if !ctx.has_errors() {
            validate::check(&cfg, &mut ctx);
        }
        if ctx.has_errors() {
            Err(ConfigError::from_diagnostics(ctx.into_diagnostics()))
        } else {
            Ok(cfg)
        }
    }

    const KEYS: &'static [&'static str] = &[
        "cores", "eal", "port", "tcp", "tfo", "mptcp", "serve", "loadgen",
    ];

    fn decode(ctx: &mut Ctx<'_>, doc: &Node) -> Config {
        let mut c = Config::default();
        let Some(f) = ctx.table(doc, "", Self::KEYS) else {
            return c;
        };
        f.put(ctx, "cores", &mut c.cores, schema::core_list);
        if let Some((n, _)) = f.get("eal") {
            c.eal = EalConfig::decode(ctx, n);
        }
        f.put(ctx, "port", &mut c.ports, |ctx, n, p| {
            schema::array_of_tables(ctx, n, p, "port", |ctx, n, p, i| {
                PortConfig::decode(ctx, n, p, i)
            })
        });
        if let Some((n, _)) = f.get("tcp") {
            c.tcp = TcpConfig::decode(ctx, n);
        }
        if let Some((n, _)) = f.get("tfo") {
            c.tfo = TfoConfig::decode(ctx, n);
        }
        if let Some((n, _)) = f.get("mptcp") {
            c.mptcp = MptcpConfig::decode(ctx, n);
        }
        if let Some((n, _)) = f.get("serve") {
            c.serve = ServeConfig::decode(ctx, n);
        }
        if let Some((n, _)) = f.get("loadgen") {
            c.loadgen = LoadgenConfig::decode(ctx, n);
        }
        c
    }

    /// This configuration as a node tree (no locations).
    fn to_node(&self) -> Result<Node, ConfigError> {
        let v = toml::Value::try_from(self).map_err(unwritable)?;
        Ok(Node::from_value(&v))
    }

    /// Applies one override (see [`Overrides`]) and validates the result;
    /// on error `self` is unchanged.
    pub fn set(&mut self, path: &str, value: &str) -> Result<(), ConfigError> {
        self.apply(&Overrides::new().with(path, value))
    }

    /// Applies overrides in order and validates the result; on error
    /// `self` is unchanged.
    pub fn apply(&mut self, overrides: &Overrides) -> Result<(), ConfigError> {
        let mut doc = self.to_node()?;
        overrides.apply_to(&mut doc)?;
        *self = Config::from_node(&doc, None)?;
        Ok(())
    }

    /// Merges a TOML fragment over this configuration (tables merge key by
    /// key; any other value, including an array of tables such as
    /// `[[port]]`, is replaced) and validates the result; on error `self`
    /// is unchanged. Errors point into `fragment`.
    pub fn merge_str(&mut self, fragment: &str) -> Result<(), ConfigError> {
        let source = Source {
            file: None,
            text: fragment.to_string(),
        };
        let other = Node::parse_document(fragment).map_err(|e| {
            ConfigError::one(ErrorKind::Syntax, e.to_string().trim_end().to_string())
        })?;
        let mut doc = self.to_node()?;
        doc.merge(other);
        *self = Config::from_node(&doc, Some(&source))?;
        Ok(())
    }

    /// Validates a configuration built or changed in code, with the same
    /// checks and messages as a file.
    pub fn validate(&self) -> Result<(), ConfigError> {
        Config::from_node(&self.to_node()?, None).map(|_| ())
    }

    /// The configuration as TOML text; [`Config::from_str`] reads it back
    /// to an equal `Config`. Keys at their default that have no value
    /// (`Option`s unset, empty lists) are left out. Fails only for what
    /// TOML cannot hold, such as a file path that is not UTF-8.
    pub fn to_toml_string(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(unwritable)
    }

    /// The MSS in use: `tcp.mss`, else the smallest port MTU minus the IP
    /// and TCP header bytes (1460 for 1500 and IPv4), else 1460.
    pub fn mss(&self) -> u16 {
        self.tcp.mss.unwrap_or_else(|| {
            self.ports
                .iter()
                .map(|p| p.mtu.saturating_sub(p.header_bytes()))
                .min()
                .unwrap_or(1460)
        })
    }

    /// Receive and transmit queue counts of `port`: its `rx_queues` /
    /// `tx_queues`, else one per worker core.
    pub fn queues(&self, port: &PortConfig) -> (u16, u16) {
        let n = u16::try_from(self.cores.len()).unwrap_or(u16::MAX);
        (port.rx_queues.unwrap_or(n), port.tx_queues.unwrap_or(n))
    }

    /// The EAL lcores: `eal.lcores`, else the worker cores plus
    /// `eal.main_lcore`.
    pub fn eal_lcores(&self) -> CoreList {
        match &self.eal.lcores {
            Some(l) => l.clone(),
            None => {
                let mut v = self.cores.as_slice().to_vec();
                if let Some(m) = self.eal.main_lcore {
                    if !v.contains(&m) {
                        v.push(m);
                    }
                }
                CoreList::new(v).unwrap_or_else(|_| self.cores.clone())
            }
        }
    }

    /// The EAL command line (without the program name): `eal.args` as
    /// given, or built from the structured keys (`-l`, `--main-lcore`,
    /// `-m`, `--no-huge`, `--in-memory`, `--no-shconf`, `--file-prefix`,
    /// `--no-pci` when no port is a PCI device); then the ports' devices in
    /// order (`--vdev=…`, `-a …`), then `eal.vdevs`. With only virtual
    /// devices, DPDK numbers the ports in that order; look them up by
    /// [`PortConfig::device_name`] all the same.
    pub fn eal_args(&self) -> Vec<String> {
        let e = &self.eal;
        let mut a: Vec<String> = Vec::new();
        let structured = e.args.is_empty();
        if structured {
            a.push("-l".into());
            a.push(self.eal_lcores().to_string());
            if let Some(m) = e.main_lcore {
                a.push("--main-lcore".into());
                a.push(m.to_string());
            }
            if let Some(mb) = e.memory_mb {
                a.push("-m".into());
                a.push(mb.to_string());
            }
            if e.no_huge {
                a.push("--no-huge".into());
            }
            if e.in_memory {
                a.push("--in-memory".into());
            }
            if e.no_shconf {
                a.push("--no-shconf".into());
            }
            if let Some(p) = &e.file_prefix {
                a.push(format!("--file-prefix={p}"));
            }
            if !self.ports.iter().any(|p| p.pci.is_some()) {
                a.push("--no-pci".into());
            }
        } else {
            a.extend(e.args.iter().cloned());
        }
        for p in &self.ports {
            match p.device() {
                Some(PortDevice::Vdev(v)) => a.push(format!("--vdev={v}")),
                Some(PortDevice::Pci(pci)) => {
                    a.push("-a".into());
                    a.push(pci.to_string());
                }
                None => {}
            }
        }
        if structured {
            a.extend(e.vdevs.iter().map(|v| format!("--vdev={v}")));
        }
        a
    }

    /// Commands that give a Linux network namespace the settings of this
    /// configuration that Linux has knobs for (to compare with a kernel
    /// peer): `sysctl -w …` for TCP, TFO and MPTCP, `ip mptcp limits` and
    /// `ip mptcp endpoint` lines. A Linux listener also needs the
    /// `TCP_FASTOPEN` socket option (queue length) for TFO.
    pub fn linux_equivalent(&self) -> Vec<String> {
        let t = &self.tcp;
        let b = |v: bool| u8::from(v);
        let mut v = vec![
            format!(
                "sysctl -w net.ipv4.tcp_fastopen={}",
                self.tfo.linux_tcp_fastopen()
            ),
            format!("sysctl -w net.ipv4.tcp_timestamps={}", b(t.timestamps)),
            format!("sysctl -w net.ipv4.tcp_sack={}", b(t.sack)),
            format!(
                "sysctl -w net.ipv4.tcp_congestion_control={}",
                match t.congestion {
                    Congestion::Cubic => "cubic",
                    Congestion::NewReno => "reno",
                }
            ),
            format!("sysctl -w net.ipv4.tcp_syn_retries={}", t.syn_retries),
            format!("sysctl -w net.ipv4.tcp_synack_retries={}", t.synack_retries),
            format!("sysctl -w net.ipv4.tcp_retries2={}", t.data_retries),
        ];
        if let Some(k) = &self.tfo.server.key {
            let mut s = format!("sysctl -w net.ipv4.tcp_fastopen_key={}", k.linux_text());
            if let Some(bk) = &self.tfo.server.backup_key {
                s.push(',');
                s.push_str(&bk.linux_text());
            }
            v.push(s);
        }
        let m = &self.mptcp;
        v.push(format!("sysctl -w net.mptcp.enabled={}", b(m.enabled)));
        v.push(format!(
            "sysctl -w net.mptcp.checksum_enabled={}",
            b(m.checksum)
        ));
        v.push(format!(
            "sysctl -w net.mptcp.allow_join_initial_addr_port={}",
            b(!m.deny_join_id0)
        ));
        v.push(format!(
            "ip mptcp limits set subflow {} add_addr_accepted {}",
            m.limits.subflows, m.limits.add_addr_accepted
        ));
        v.push("ip mptcp endpoint flush".into());
        for e in &m.endpoints {
            let mut s = format!("ip mptcp endpoint add {}", e.address);
            if let Some(id) = e.id {
                s.push_str(&format!(" id {id}"));
            }
            for f in &e.flags {
                s.push(' ');
                s.push_str(f.name());
            }
            v.push(s);
        }
        v
    }
}

fn unwritable(e: toml::ser::Error) -> ConfigError {
    ConfigError::one(
        ErrorKind::InvalidValue,
        format!("the configuration cannot be written as TOML: {e}"),
    )
}

impl std::str::FromStr for Config {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Config::from_str(s)
    }
}

impl<'de> Deserialize<'de> for Config {
    /// Deserializes through the same decoder and checks as
    /// [`Config::from_str`]; the error is that of [`ConfigError`]'s
    /// `Display` (without line numbers).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = toml::Value::deserialize(d)?;
        Config::from_node(&Node::from_value(&v), None).map_err(serde::de::Error::custom)
    }
}
