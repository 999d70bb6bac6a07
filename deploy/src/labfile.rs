//! The lab file: one TOML file that describes a test bed (network
//! namespaces, veth and memif links, hugepages, MPTCP settings), the
//! programs that run on it (servers, clients, the engine-only benchmark)
//! and the scenarios that compare them.
//!
//! Parsed by hand over [`toml::Value`] so that every error names the key
//! path, the value found and what was expected, e.g.
//! `link[1].b.driver = "af_pakket": expected one of kernel, af_packet,
//! af_xdp, memif`. Unknown keys are errors; cross-references (endpoints,
//! links, hosts, scenarios) are checked by [`Lab::parse`].
//!
//! ```toml
//! [lab]
//! name = "vk"                 # names the state folder /run/mptfo-lab/vk
//! results = "lab-results"     # runs go to <results>/<name>-<UTC time>/
//! hugepages = 0               # 2 MiB pages to reserve; 0: DPDK runs --no-huge
//!
//! [[host]]                    # a network namespace
//! name = "vk-cli"
//! sysctl = { "net.mptcp.enabled" = 1, "net.ipv4.tcp_fastopen" = 3 }
//! mptcp_limits = { subflows = 2, add_addr_accepted = 2 }
//! mptcp_endpoints = [{ address = "10.71.2.1", dev = "vkm2-c", id = 2, flags = ["subflow"] }]
//!
//! [[link]]                    # a veth pair (or a memif link: driver = "memif" at both ends)
//! name = "a"
//! a = { host = "vk-cli", ifname = "vka-c", addresses = ["10.71.1.1/24"] }
//! b = { host = "vk-srv", ifname = "vka-s", addresses = ["10.71.1.2/24"], driver = "af_packet" }
//!
//! [[endpoint]]                # a program: serve, loadgen or bench
//! name = "mptfo-server"
//! kind = "serve"
//! stack = "mptfo"             # or "kernel" (the Linux socket API)
//! link = "a"
//! end = "b"
//! cores = [1]
//! args = ["--reply", "hold"]
//!
//! [defaults]                  # of every scenario (each may override)
//! reps = 3
//! duration = "2s"
//! connections = 8             # closed loop; or rate = 20000 (open loop)
//! request_bytes = 64
//! response_bytes = 64
//! tfo = [true, false]         # the matrix: one result per value
//! mptcp = true                # or [true, false]: MPTCP and plain TCP clients
//! requests_per_connection = 1 # more: keep-alive, N requests per connection
//! pcap = false
//!
//! [[scenario]]
//! name = "d"
//! title = "Linux client -> mptfo serve (af_packet)"
//! server = "mptfo-server"
//! client = "linux-client"
//!
//! [[ratio]]                   # compared per TFO setting in the report
//! label = "b/a"
//! numerator = "b"
//! denominator = "a"
//! metric = "tps_per_core"     # or p99_last_us, tps, ... (results::METRICS)
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use toml::{Table, Value};

use crate::results::METRICS;

/// The whole lab.
#[derive(Debug, Clone)]
pub struct Lab {
    /// `[lab] name`: names the state folder and the results.
    pub name: String,
    /// `[lab] results`: folder of the runs (relative to the working
    /// directory).
    pub results: PathBuf,
    /// `[lab] hugepages`: 2 MiB pages to reserve; 0 runs DPDK with
    /// `--no-huge`.
    pub hugepages: u64,
    /// Network namespaces.
    pub hosts: Vec<Host>,
    /// veth pairs and memif links.
    pub links: Vec<Link>,
    /// Programs.
    pub endpoints: Vec<Endpoint>,
    /// Scenarios, each with its matrix expanded by the runner.
    pub scenarios: Vec<Scenario>,
    /// Ratios between scenarios for the report.
    pub ratios: Vec<Ratio>,
}

/// A network namespace.
#[derive(Debug, Clone)]
pub struct Host {
    /// The namespace's name (`ip netns`).
    pub name: String,
    /// sysctls set in the namespace, in order.
    pub sysctls: Vec<(String, String)>,
    /// `ip mptcp limits set subflow N add_addr_accepted M`.
    pub mptcp_limits: Option<(u32, u32)>,
    /// `ip mptcp endpoint add ...`.
    pub mptcp_endpoints: Vec<MptcpEndpoint>,
}

/// One `ip mptcp endpoint add ADDR dev DEV id ID FLAGS`.
#[derive(Debug, Clone)]
pub struct MptcpEndpoint {
    /// The address (one of the host's).
    pub address: IpAddr,
    /// The interface, if given.
    pub dev: Option<String>,
    /// The endpoint id, if given.
    pub id: Option<u8>,
    /// signal, subflow, backup, fullmesh.
    pub flags: Vec<String>,
}

/// Who drives one end of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// The Linux kernel: the addresses are the kernel's.
    Kernel,
    /// mptfo through DPDK's net_af_packet on the veth end.
    AfPacket,
    /// mptfo through DPDK's net_af_xdp on the veth end.
    AfXdp,
    /// mptfo through DPDK's net_memif (memif links only).
    Memif,
}

impl Driver {
    const NAMES: &'static str = "kernel, af_packet, af_xdp, memif";

    fn parse(s: &str) -> Option<Driver> {
        Some(match s {
            "kernel" => Driver::Kernel,
            "af_packet" => Driver::AfPacket,
            "af_xdp" => Driver::AfXdp,
            "memif" => Driver::Memif,
            _ => return None,
        })
    }

    /// The DPDK poll-mode driver's library stem (`librte_net_<x>.so`).
    pub fn pmd(self) -> Option<&'static str> {
        match self {
            Driver::Kernel => None,
            Driver::AfPacket => Some("af_packet"),
            Driver::AfXdp => Some("af_xdp"),
            Driver::Memif => Some("memif"),
        }
    }

    /// Driven by mptfo (DPDK), not by the kernel.
    pub fn is_dpdk(self) -> bool {
        self != Driver::Kernel
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Driver::Kernel => "kernel",
            Driver::AfPacket => "af_packet",
            Driver::AfXdp => "af_xdp",
            Driver::Memif => "memif",
        })
    }
}

/// An address with its prefix length, `10.0.1.1/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
}

impl Cidr {
    fn parse(s: &str) -> Option<Cidr> {
        let (a, l) = s.split_once('/')?;
        let addr: IpAddr = a.parse().ok()?;
        let len: u8 = l.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (len <= max).then_some(Cidr { addr, len })
    }

    fn bits(a: IpAddr) -> (u128, u8) {
        match a {
            IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
            IpAddr::V6(v) => (u128::from(v), 128),
        }
    }

    fn mask(&self) -> u128 {
        let (_, w) = Cidr::bits(self.addr);
        let host = w - self.len;
        let all = if w == 32 {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        if host >= 128 {
            0
        } else {
            all & !((1u128 << host) - 1)
        }
    }

    /// `other` lies in this address's prefix.
    pub fn contains(&self, other: IpAddr) -> bool {
        let (a, wa) = Cidr::bits(self.addr);
        let (b, wb) = Cidr::bits(other);
        wa == wb && (a & self.mask()) == (b & self.mask())
    }

    /// The address is the network or (IPv4) broadcast address of its
    /// prefix, which no host may use (prefixes of /31 and /32 excepted).
    fn is_network_or_broadcast(&self) -> bool {
        let (a, w) = Cidr::bits(self.addr);
        if w == 32 && self.len >= 31 || w == 128 && self.len >= 127 {
            return false;
        }
        let host = a
            & !self.mask()
            & if w == 32 {
                u128::from(u32::MAX)
            } else {
                u128::MAX
            };
        let hostmask = !self.mask()
            & if w == 32 {
                u128::from(u32::MAX)
            } else {
                u128::MAX
            };
        host == 0 || (w == 32 && host == hostmask)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// One end of a link.
#[derive(Debug, Clone)]
pub struct LinkEnd {
    /// The namespace the end lives in (veth); for memif, where the
    /// process runs (None: the root namespace).
    pub host: Option<String>,
    /// The interface name (veth only).
    pub ifname: Option<String>,
    /// Addresses: the kernel's (driver kernel) or mptfo's (DPDK).
    pub addresses: Vec<Cidr>,
    /// Who drives the end.
    pub driver: Driver,
    /// The end's MAC (veth interface or memif port); a fixed one derived
    /// from the link's index when not given.
    pub mac: String,
    /// memif: "server" or "client".
    pub role: Option<String>,
}

/// A veth pair or a memif link.
#[derive(Debug, Clone)]
pub struct Link {
    /// The link's name.
    pub name: String,
    /// memif (both ends driven by mptfo through net_memif) or veth.
    pub memif: bool,
    /// memif: the control socket's path.
    pub socket: Option<PathBuf>,
    /// The two ends.
    pub a: LinkEnd,
    /// The other end.
    pub b: LinkEnd,
}

impl Link {
    /// End `e` ("a" or "b").
    pub fn end(&self, e: End) -> &LinkEnd {
        match e {
            End::A => &self.a,
            End::B => &self.b,
        }
    }
}

/// Which end of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// `a`.
    A,
    /// `b`.
    B,
}

impl End {
    /// The other end.
    pub fn other(self) -> End {
        match self {
            End::A => End::B,
            End::B => End::A,
        }
    }
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            End::A => "a",
            End::B => "b",
        })
    }
}

/// What an endpoint runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `mptfo serve`.
    Serve,
    /// `mptfo loadgen`.
    Loadgen,
    /// `mptfo bench`: server and client in one process on the in-memory
    /// link (engine only).
    Bench,
}

/// Whose stack an endpoint runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackKind {
    /// mptfo's, on a DPDK port.
    Mptfo,
    /// The Linux kernel's (socket API).
    Kernel,
}

impl fmt::Display for StackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StackKind::Mptfo => "mptfo",
            StackKind::Kernel => "kernel",
        })
    }
}

/// Where an endpoint sits: a link end.
#[derive(Debug, Clone)]
pub struct Attach {
    /// The link's index in [`Lab::links`].
    pub link: usize,
    /// Which end.
    pub end: End,
}

/// A program of the lab.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The endpoint's name.
    pub name: String,
    /// serve, loadgen or bench.
    pub kind: Kind,
    /// mptfo or kernel (bench: mptfo).
    pub stack: StackKind,
    /// The link end it uses (None for bench).
    pub at: Option<Attach>,
    /// Further link ends (mptfo: `--extra-port`; a second path).
    pub extra: Vec<Attach>,
    /// CPUs it is pinned to (one worker per CPU for mptfo).
    pub cores: Vec<usize>,
    /// serve: the TCP port.
    pub port: u16,
    /// Extra arguments, appended to the command line.
    pub args: Vec<String>,
}

/// Settings of a scenario (from `[defaults]`, overridden per scenario).
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    /// Repetitions.
    pub reps: usize,
    /// Load duration of each repetition.
    pub duration: Duration,
    /// Closed loop: transactions in flight.
    pub connections: usize,
    /// Open loop: transactions per second (None: closed loop).
    pub rate: Option<f64>,
    /// Request size.
    pub request_bytes: usize,
    /// Reply size.
    pub response_bytes: usize,
    /// TFO values of the matrix.
    pub tfo: Vec<bool>,
    /// MPTCP values of the matrix: the client offers MPTCP (true) or
    /// opens plain TCP connections (false).
    pub mptcp: Vec<bool>,
    /// Requests per connection: 1 opens a connection per transaction;
    /// more keeps each connection for that many exchanges.
    pub requests_per_connection: u64,
    /// Capture a pcap per scenario (first repetition).
    pub pcap: bool,
}

impl Default for RunSettings {
    fn default() -> RunSettings {
        RunSettings {
            reps: 3,
            duration: Duration::from_secs(2),
            connections: 8,
            rate: None,
            request_bytes: 64,
            response_bytes: 64,
            tfo: vec![true, false],
            mptcp: vec![true],
            requests_per_connection: 1,
            pcap: false,
        }
    }
}

/// A scenario: a server and a client endpoint (or a bench endpoint
/// alone), with its settings.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The scenario's name (results are named `<name>-tfo`/`<name>-notfo`,
    /// with `-tcp` added for the MPTCP-off points: `<name>-tfo-tcp`).
    pub name: String,
    /// A title for the report.
    pub title: String,
    /// The server endpoint's index (None with a bench client).
    pub server: Option<usize>,
    /// The client endpoint's index (loadgen or bench).
    pub client: usize,
    /// Settings.
    pub run: RunSettings,
}

/// One point of a scenario's matrix: a TFO and an MPTCP setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixPoint {
    /// TCP Fast Open on the client.
    pub tfo: bool,
    /// The client offers MPTCP (false: plain TCP).
    pub mptcp: bool,
    /// `<scenario>-tfo` or `<scenario>-notfo`, with `-tcp` added when
    /// MPTCP is off (`a-tfo-tcp`).
    pub name: String,
}

impl Scenario {
    /// The matrix points, TFO settings outermost, in the lab file's order.
    pub fn points(&self) -> Vec<MatrixPoint> {
        let mut out = Vec::new();
        for &tfo in &self.run.tfo {
            for &mptcp in &self.run.mptcp {
                out.push(MatrixPoint {
                    tfo,
                    mptcp,
                    name: format!(
                        "{}-{}{}",
                        self.name,
                        if tfo { "tfo" } else { "notfo" },
                        if mptcp { "" } else { "-tcp" }
                    ),
                });
            }
        }
        out
    }
}

/// A ratio the report computes, per TFO setting.
#[derive(Debug, Clone)]
pub struct Ratio {
    /// Label, e.g. "b/a".
    pub label: String,
    /// Scenario name of the numerator.
    pub numerator: String,
    /// Scenario name of the denominator.
    pub denominator: String,
    /// A metric of [`crate::results::METRICS`], e.g. `tps_per_core`,
    /// `p99_last_us` or `tps`.
    pub metric: String,
}

/// Reads a table and remembers which keys were used, so the rest are
/// reported as unknown.
struct Obj<'a> {
    path: String,
    t: &'a Table,
    used: RefCell<HashSet<String>>,
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Table(_) => "a table".into(),
        other => other.to_string(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// `PATH = VALUE: expected WHAT`.
fn bad(path: &str, v: &Value, expected: impl fmt::Display) -> anyhow::Error {
    anyhow!("{path} = {}: expected {expected}", show(v))
}

impl<'a> Obj<'a> {
    fn new(path: String, t: &'a Table) -> Obj<'a> {
        Obj {
            path,
            t,
            used: RefCell::new(HashSet::new()),
        }
    }

    fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.used.borrow_mut().insert(key.to_owned());
        self.t.get(key)
    }

    fn missing(&self, key: &str, what: &str) -> anyhow::Error {
        anyhow!("{}: missing (expected {what})", self.at(key))
    }

    fn str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(bad(&self.at(key), v, "a string")),
        }
    }

    fn req_str(&self, key: &str, what: &str) -> Result<&'a str> {
        self.str(key)?.ok_or_else(|| self.missing(key, what))
    }

    fn name(&self, key: &str, max: usize) -> Result<String> {
        let what = format!("a name of 1 to {max} letters, digits, '-' or '_'");
        let s = match self.get(key) {
            None => return Err(self.missing(key, &what)),
            Some(Value::String(s)) => s,
            Some(v) => return Err(bad(&self.at(key), v, what)),
        };
        if s.is_empty()
            || s.len() > max
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad(&self.at(key), self.t.get(key).unwrap(), what));
        }
        Ok(s.to_owned())
    }

    fn uint(&self, key: &str, max: u64) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ Value::Integer(i)) => {
                if *i < 0 || *i as u64 > max {
                    Err(bad(&self.at(key), v, format!("an integer from 0 to {max}")))
                } else {
                    Ok(Some(*i as u64))
                }
            }
            Some(v) => Err(bad(&self.at(key), v, format!("an integer from 0 to {max}"))),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(bad(&self.at(key), v, "true or false")),
        }
    }

    /// A matrix of booleans: `true`, `false` or a list of distinct ones.
    fn bools(&self, key: &str) -> Result<Option<Vec<bool>>> {
        let what = "true, false or a list of them, each once";
        match self.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(vec![*b])),
            Some(v @ Value::Array(a)) => {
                let mut t = Vec::new();
                for x in a {
                    match x {
                        Value::Boolean(b) if !t.contains(b) => t.push(*b),
                        _ => return Err(bad(&self.at(key), v, what)),
                    }
                }
                if t.is_empty() {
                    return Err(bad(&self.at(key), v, what));
                }
                Ok(Some(t))
            }
            Some(v) => Err(bad(&self.at(key), v, what)),
        }
    }

    fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(v) => Err(bad(&self.at(key), v, "an array")),
        }
    }

    fn strings(&self, key: &str) -> Result<Vec<String>> {
        let Some(a) = self.array(key)? else {
            return Ok(Vec::new());
        };
        a.iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                v => Err(bad(&format!("{}[{i}]", self.at(key)), v, "a string")),
            })
            .collect()
    }

    fn table(&self, key: &str) -> Result<Option<Obj<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(Obj::new(self.at(key), t))),
            Some(v) => Err(bad(&self.at(key), v, "a table")),
        }
    }

    /// The array of tables `key` (`[[key]]`), each with its path `key[i]`.
    fn tables(&self, key: &str) -> Result<Vec<Obj<'a>>> {
        let Some(a) = self.array(key)? else {
            return Ok(Vec::new());
        };
        a.iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Table(t) => Ok(Obj::new(format!("{}[{i}]", self.at(key)), t)),
                v => Err(bad(&format!("{}[{i}]", self.at(key)), v, "a table")),
            })
            .collect()
    }

    /// Errors on the first key that was never asked for.
    fn finish(&self, known: &str) -> Result<()> {
        let used = self.used.borrow();
        for k in self.t.keys() {
            if !used.contains(k) {
                bail!("{}: unknown key (known here: {known})", self.at(k));
            }
        }
        Ok(())
    }
}

/// Parses `2s`, `500ms`, `1.5s`, `250us`, `1m`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let scale = match unit.trim() {
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        _ => return None,
    };
    let secs = v * scale;
    (secs.is_finite() && (0.0..=86400.0).contains(&secs)).then(|| Duration::from_secs_f64(secs))
}

/// Formats a duration the way [`parse_duration`] and mptfo's flags read
/// it.
pub fn fmt_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// A CPU list: `[0, 1]`, `0`, or `"0-1"`.
fn cores(o: &Obj<'_>, key: &str, ncpu: usize) -> Result<Option<Vec<usize>>> {
    let path = o.at(key);
    let what = format!(
        "CPUs of this machine (0 to {}), e.g. [0] or \"0-1\"",
        ncpu - 1
    );
    let Some(v) = o.get(key) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    let mut push = |c: i64, v: &Value| -> Result<()> {
        if c < 0 || c as usize >= ncpu {
            return Err(bad(&path, v, &what));
        }
        if out.contains(&(c as usize)) {
            return Err(bad(&path, v, format!("{what}, each once")));
        }
        out.push(c as usize);
        Ok(())
    };
    match v {
        Value::Integer(i) => push(*i, v)?,
        Value::Array(a) if !a.is_empty() => {
            for x in a {
                match x {
                    Value::Integer(i) => push(*i, v)?,
                    _ => return Err(bad(&path, v, &what)),
                }
            }
        }
        Value::String(s) => {
            for part in s.split(',') {
                let (lo, hi) = match part.split_once('-') {
                    Some((a, b)) => (a.trim().parse::<i64>(), b.trim().parse::<i64>()),
                    None => (part.trim().parse::<i64>(), part.trim().parse::<i64>()),
                };
                match (lo, hi) {
                    (Ok(a), Ok(b)) if a <= b => {
                        for c in a..=b {
                            push(c, v)?;
                        }
                    }
                    _ => return Err(bad(&path, v, &what)),
                }
            }
        }
        _ => return Err(bad(&path, v, &what)),
    }
    Ok(Some(out))
}

fn run_settings(o: &Obj<'_>, base: &RunSettings) -> Result<RunSettings> {
    let mut r = base.clone();
    if let Some(n) = o.uint("reps", 1000)? {
        if n == 0 {
            return Err(bad(&o.at("reps"), &Value::Integer(0), "1 or more"));
        }
        r.reps = n as usize;
    }
    if let Some(s) = o.str("duration")? {
        r.duration = parse_duration(s).filter(|d| !d.is_zero()).ok_or_else(|| {
            bad(
                &o.at("duration"),
                &Value::String(s.into()),
                "a duration such as \"2s\" or \"500ms\" (above 0, at most 1 day)",
            )
        })?;
    }
    if let Some(n) = o.uint("connections", 1 << 20)? {
        if n == 0 {
            return Err(bad(&o.at("connections"), &Value::Integer(0), "1 or more"));
        }
        r.connections = n as usize;
        r.rate = None;
    }
    match o.get("rate") {
        None => {}
        Some(v @ (Value::Integer(_) | Value::Float(_))) => {
            let x = v
                .as_float()
                .unwrap_or_else(|| v.as_integer().unwrap() as f64);
            if !(x > 0.0 && x.is_finite()) {
                return Err(bad(&o.at("rate"), v, "transactions per second above 0"));
            }
            if o.t.contains_key("connections") {
                bail!(
                    "{}: give either connections (closed loop) or rate (open loop), not both",
                    o.at("rate")
                );
            }
            r.rate = Some(x);
        }
        Some(v) => return Err(bad(&o.at("rate"), v, "transactions per second above 0")),
    }
    if let Some(n) = o.uint("request_bytes", 1 << 30)? {
        r.request_bytes = n as usize;
    }
    if let Some(n) = o.uint("response_bytes", 1 << 30)? {
        r.response_bytes = n as usize;
    }
    if let Some(t) = o.bools("tfo")? {
        r.tfo = t;
    }
    if let Some(m) = o.bools("mptcp")? {
        r.mptcp = m;
    }
    match o.get("requests_per_connection") {
        None => {}
        Some(Value::Integer(n)) if *n >= 1 && *n <= 1_000_000_000 => {
            r.requests_per_connection = *n as u64;
        }
        Some(v) => {
            return Err(bad(
                &o.at("requests_per_connection"),
                v,
                "an integer from 1 (a connection per transaction) to 1000000000",
            ))
        }
    }
    if let Some(b) = o.bool("pcap")? {
        r.pcap = b;
    }
    Ok(r)
}

const RUN_KEYS: &str = "reps, duration, connections, rate, request_bytes, response_bytes, \
     requests_per_connection, tfo, mptcp, pcap";

/// A fixed, locally administered MAC for end `e` of link `i`.
fn default_mac(i: usize, e: End) -> String {
    format!(
        "02:6d:66:{:02x}:{:02x}:{:02x}",
        (i >> 8) & 0xff,
        i & 0xff,
        if e == End::A { 1 } else { 2 }
    )
}

fn valid_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

impl Lab {
    /// Reads and checks a lab file; `ncpu` is the machine's CPU count.
    pub fn load(path: &Path, ncpu: usize) -> Result<Lab> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Lab::parse(&text, ncpu).with_context(|| format!("lab file {}", path.display()))
    }

    /// Parses and checks a lab file's text.
    pub fn parse(text: &str, ncpu: usize) -> Result<Lab> {
        let root: Table = text.parse().map_err(|e: toml::de::Error| anyhow!("{e}"))?;
        let top = Obj::new(String::new(), &root);

        let lab = top
            .table("lab")?
            .ok_or_else(|| anyhow!("lab: missing (expected a [lab] table with name)"))?;
        let name = lab.name("name", 24)?;
        let results = PathBuf::from(lab.str("results")?.unwrap_or("lab-results"));
        let hugepages = lab.uint("hugepages", 1 << 20)?.unwrap_or(0);
        lab.finish("name, results, hugepages")?;

        let mut hosts = Vec::new();
        for h in top.tables("host")? {
            hosts.push(Lab::host(&h)?);
        }
        let mut seen = HashSet::new();
        for (i, h) in hosts.iter().enumerate() {
            if !seen.insert(h.name.clone()) {
                bail!(
                    "host[{i}].name = {:?}: expected a name no other host has",
                    h.name
                );
            }
        }

        let mut links = Vec::new();
        for (i, l) in top.tables("link")?.iter().enumerate() {
            links.push(Lab::link(l, i, &name, &hosts)?);
        }
        Lab::check_links(&links)?;
        for (i, h) in hosts.iter().enumerate() {
            for (j, e) in h.mptcp_endpoints.iter().enumerate() {
                let owned = links.iter().any(|l| {
                    [&l.a, &l.b].iter().any(|end| {
                        end.host.as_deref() == Some(&h.name)
                            && end.driver == Driver::Kernel
                            && end.addresses.iter().any(|c| c.addr == e.address)
                    })
                });
                if !owned {
                    bail!(
                        "host[{i}].mptcp_endpoints[{j}].address = \"{}\": expected an address of a kernel-driven link end in host {}",
                        e.address,
                        h.name
                    );
                }
                if let Some(dev) = &e.dev {
                    let found = links.iter().any(|l| {
                        [&l.a, &l.b].iter().any(|end| {
                            end.host.as_deref() == Some(&h.name)
                                && end.ifname.as_deref() == Some(dev)
                        })
                    });
                    if !found {
                        bail!(
                            "host[{i}].mptcp_endpoints[{j}].dev = {dev:?}: expected an interface of host {}",
                            h.name
                        );
                    }
                }
            }
        }

        let mut endpoints = Vec::new();
        for e in top.tables("endpoint")? {
            endpoints.push(Lab::endpoint(&e, &links, ncpu)?);
        }
        let mut seen = HashSet::new();
        for (i, e) in endpoints.iter().enumerate() {
            if !seen.insert(e.name.clone()) {
                bail!(
                    "endpoint[{i}].name = {:?}: expected a name no other endpoint has",
                    e.name
                );
            }
        }

        let defaults = match top.table("defaults")? {
            Some(d) => {
                let r = run_settings(&d, &RunSettings::default())?;
                d.finish(RUN_KEYS)?;
                r
            }
            None => RunSettings::default(),
        };

        let mut scenarios: Vec<Scenario> = Vec::new();
        for s in top.tables("scenario")? {
            let sc = Lab::scenario(&s, &endpoints, &links, &defaults)?;
            if scenarios.iter().any(|x| x.name == sc.name) {
                bail!(
                    "{} = {:?}: expected a name no other scenario has",
                    s.at("name"),
                    sc.name
                );
            }
            scenarios.push(sc);
        }
        if scenarios.is_empty() {
            bail!("scenario: missing (expected at least one [[scenario]])");
        }

        let mut ratios = Vec::new();
        for r in top.tables("ratio")? {
            let label = r.req_str("label", "a label, e.g. \"b/a\"")?.to_owned();
            let mut sides = Vec::new();
            for key in ["numerator", "denominator"] {
                let s = r.req_str(key, "a scenario name")?;
                if !scenarios.iter().any(|x| x.name == s) {
                    let names: Vec<&str> = scenarios.iter().map(|x| x.name.as_str()).collect();
                    return Err(bad(
                        &r.at(key),
                        &Value::String(s.into()),
                        format!("one of the scenarios: {}", names.join(", ")),
                    ));
                }
                sides.push(s.to_owned());
            }
            let metric = r.str("metric")?.unwrap_or("tps_per_core");
            if !METRICS.iter().any(|(m, _)| *m == metric) {
                let known: Vec<&str> = METRICS.iter().map(|(m, _)| *m).collect();
                return Err(bad(
                    &r.at("metric"),
                    &Value::String(metric.into()),
                    format!("one of {}", known.join(", ")),
                ));
            }
            r.finish("label, numerator, denominator, metric")?;
            ratios.push(Ratio {
                label,
                numerator: sides[0].clone(),
                denominator: sides[1].clone(),
                metric: metric.to_owned(),
            });
        }
        top.finish("lab, host, link, endpoint, defaults, scenario, ratio")?;

        let lab = Lab {
            name,
            results,
            hugepages,
            hosts,
            links,
            endpoints,
            scenarios,
            ratios,
        };
        lab.check_cores()?;
        Ok(lab)
    }

    fn host(h: &Obj<'_>) -> Result<Host> {
        let name = h.name("name", 32)?;
        let mut sysctls = Vec::new();
        if let Some(s) = h.table("sysctl")? {
            for (k, v) in s.t {
                s.get(k);
                let path = s.at(&format!("{k:?}"));
                if k.is_empty()
                    || !k
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                {
                    bail!("{path}: expected a sysctl name such as \"net.mptcp.enabled\"");
                }
                let val = match v {
                    Value::Integer(i) => i.to_string(),
                    Value::String(x) if !x.contains('\n') => x.clone(),
                    Value::Boolean(b) => u8::from(*b).to_string(),
                    v => return Err(bad(&path, v, "an integer or a string")),
                };
                sysctls.push((k.clone(), val));
            }
        }
        let mptcp_limits = match h.table("mptcp_limits")? {
            Some(l) => {
                let s = l.uint("subflows", 8)?.unwrap_or(2) as u32;
                let a = l.uint("add_addr_accepted", 8)?.unwrap_or(0) as u32;
                l.finish("subflows, add_addr_accepted")?;
                Some((s, a))
            }
            None => None,
        };
        let mut mptcp_endpoints = Vec::new();
        for e in h.tables("mptcp_endpoints")? {
            let a = e.req_str("address", "an IP address")?;
            let address: IpAddr = a
                .parse()
                .map_err(|_| bad(&e.at("address"), &Value::String(a.into()), "an IP address"))?;
            let dev = e.str("dev")?.map(str::to_owned);
            let id = e.uint("id", 255)?.map(|i| i as u8);
            let flags = e.strings("flags")?;
            for (k, f) in flags.iter().enumerate() {
                if !["signal", "subflow", "backup", "fullmesh"].contains(&f.as_str()) {
                    return Err(bad(
                        &format!("{}[{k}]", e.at("flags")),
                        &Value::String(f.clone()),
                        "one of signal, subflow, backup, fullmesh",
                    ));
                }
            }
            e.finish("address, dev, id, flags")?;
            mptcp_endpoints.push(MptcpEndpoint {
                address,
                dev,
                id,
                flags,
            });
        }
        h.finish("name, sysctl, mptcp_limits, mptcp_endpoints")?;
        Ok(Host {
            name,
            sysctls,
            mptcp_limits,
            mptcp_endpoints,
        })
    }

    fn link(l: &Obj<'_>, index: usize, lab: &str, hosts: &[Host]) -> Result<Link> {
        let name = l.name("name", 32)?;
        let mut ends = Vec::new();
        for e in [End::A, End::B] {
            let key = e.to_string();
            let o = l
                .table(&key)?
                .ok_or_else(|| l.missing(&key, "a table: host, ifname, addresses, driver"))?;
            let host = match o.str("host")? {
                Some(h) if hosts.iter().any(|x| x.name == h) => Some(h.to_owned()),
                Some(h) => {
                    let names: Vec<&str> = hosts.iter().map(|x| x.name.as_str()).collect();
                    return Err(bad(
                        &o.at("host"),
                        &Value::String(h.into()),
                        format!("one of the hosts: {}", names.join(", ")),
                    ));
                }
                None => None,
            };
            let driver = match o.str("driver")? {
                None => Driver::Kernel,
                Some(d) => Driver::parse(d).ok_or_else(|| {
                    bad(
                        &o.at("driver"),
                        &Value::String(d.into()),
                        format!("one of {}", Driver::NAMES),
                    )
                })?,
            };
            let ifname = o.str("ifname")?.map(str::to_owned);
            let mut addresses = Vec::new();
            for (k, s) in o.strings("addresses")?.iter().enumerate() {
                let c = Cidr::parse(s).ok_or_else(|| {
                    bad(
                        &format!("{}[{k}]", o.at("addresses")),
                        &Value::String(s.clone()),
                        "ADDRESS/PREFIX, e.g. \"10.0.1.1/24\"",
                    )
                })?;
                if c.is_network_or_broadcast() {
                    return Err(bad(
                        &format!("{}[{k}]", o.at("addresses")),
                        &Value::String(s.clone()),
                        "a host address (not the network or broadcast address of its prefix)",
                    ));
                }
                addresses.push(c);
            }
            let mac = match o.str("mac")? {
                Some(m) if valid_mac(m) => m.to_ascii_lowercase(),
                Some(m) => {
                    return Err(bad(
                        &o.at("mac"),
                        &Value::String(m.into()),
                        "a MAC address such as \"02:00:00:00:01:01\"",
                    ))
                }
                None => default_mac(index, e),
            };
            let role = o.str("role")?.map(str::to_owned);
            o.finish("host, ifname, addresses, driver, mac, role")?;
            ends.push((
                o.path.clone(),
                LinkEnd {
                    host,
                    ifname,
                    addresses,
                    driver,
                    mac,
                    role,
                },
            ));
        }
        let memif = ends[0].1.driver == Driver::Memif || ends[1].1.driver == Driver::Memif;
        let socket = l.str("socket")?.map(PathBuf::from);
        for (path, e) in &ends {
            if memif {
                if e.driver != Driver::Memif {
                    bail!(
                        "{path}.driver = \"{}\": expected memif (a memif link has memif at both ends)",
                        e.driver
                    );
                }
                if let Some(i) = &e.ifname {
                    bail!(
                        "{path}.ifname = {i:?}: a memif end has no interface (expected no ifname)"
                    );
                }
                match e.role.as_deref() {
                    Some("server" | "client") => {}
                    Some(r) => {
                        return Err(bad(
                            &format!("{path}.role"),
                            &Value::String(r.into()),
                            "server or client",
                        ))
                    }
                    None => bail!("{path}.role: missing (expected server or client)"),
                }
            } else {
                if e.host.is_none() {
                    bail!("{path}.host: missing (expected the host the veth end lives in)");
                }
                match &e.ifname {
                    Some(i)
                        if !i.is_empty()
                            && i.len() <= 15
                            && i.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) => {}
                    Some(i) => {
                        return Err(bad(
                            &format!("{path}.ifname"),
                            &Value::String(i.clone()),
                            "an interface name of 1 to 15 letters, digits, '-', '_' or '.'",
                        ))
                    }
                    None => {
                        bail!("{path}.ifname: missing (expected the veth end's interface name)")
                    }
                }
                if let Some(r) = &e.role {
                    bail!("{path}.role = {r:?}: only memif ends have a role");
                }
            }
            if e.addresses.is_empty() {
                bail!("{path}.addresses: missing (expected at least one ADDRESS/PREFIX)");
            }
        }
        if memif {
            if ends[0].1.role == ends[1].1.role {
                bail!(
                    "{}.role = {:?}: expected the other role than {}.role",
                    ends[1].0,
                    ends[1].1.role.as_deref().unwrap_or(""),
                    ends[0].0
                );
            }
        } else if let Some(s) = &socket {
            bail!(
                "{} = {:?}: only memif links have a socket",
                l.at("socket"),
                s.display()
            );
        }
        let socket = memif.then(|| {
            socket.unwrap_or_else(|| PathBuf::from(format!("/run/mptfo-lab/{lab}/{name}.sock")))
        });
        // The two ends share their subnet.
        let (pa, a) = &ends[0];
        let (pb, b) = &ends[1];
        for (k, cb) in b.addresses.iter().enumerate() {
            let same_family: Vec<&Cidr> = a
                .addresses
                .iter()
                .filter(|ca| ca.addr.is_ipv4() == cb.addr.is_ipv4())
                .collect();
            if !same_family.is_empty() && !same_family.iter().any(|ca| ca.contains(cb.addr)) {
                bail!(
                    "{pb}.addresses[{k}] = \"{cb}\": expected an address inside the prefix of {pa}.addresses ({})",
                    same_family
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        l.finish("name, a, b, socket")?;
        let mut it = ends.into_iter().map(|(_, e)| e);
        Ok(Link {
            name,
            memif,
            socket,
            a: it.next().unwrap(),
            b: it.next().unwrap(),
        })
    }

    fn check_links(links: &[Link]) -> Result<()> {
        let mut names = HashSet::new();
        let mut ifs: BTreeMap<String, String> = BTreeMap::new();
        let mut addrs: BTreeMap<IpAddr, String> = BTreeMap::new();
        let mut sockets: BTreeMap<PathBuf, usize> = BTreeMap::new();
        for (i, l) in links.iter().enumerate() {
            if !names.insert(&l.name) {
                bail!(
                    "link[{i}].name = {:?}: expected a name no other link has",
                    l.name
                );
            }
            for e in [End::A, End::B] {
                let end = l.end(e);
                let here = format!("link[{i}].{e}");
                if let Some(ifn) = &end.ifname {
                    if let Some(prev) = ifs.insert(ifn.clone(), here.clone()) {
                        bail!("{here}.ifname = {ifn:?}: expected an interface name no other link end uses ({prev}.ifname has it)");
                    }
                }
                for (k, c) in end.addresses.iter().enumerate() {
                    if let Some(prev) = addrs.insert(c.addr, format!("{here}.addresses")) {
                        bail!("{here}.addresses[{k}] = \"{c}\": expected an address no other link end has ({prev} has it)");
                    }
                }
            }
            if let Some(s) = &l.socket {
                if let Some(prev) = sockets.insert(s.clone(), i) {
                    bail!("link[{i}].socket = {:?}: expected a socket path no other memif link uses (link[{prev}] has it)", s.display());
                }
            }
        }
        Ok(())
    }

    fn attach(o: &Obj<'_>, link_key: &str, end_key: &str, links: &[Link]) -> Result<Attach> {
        let ln = o.req_str(link_key, "a link name")?;
        let link = links.iter().position(|l| l.name == ln).ok_or_else(|| {
            let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
            bad(
                &o.at(link_key),
                &Value::String(ln.into()),
                format!("one of the links: {}", names.join(", ")),
            )
        })?;
        let end = match o.req_str(end_key, "a or b")? {
            "a" => End::A,
            "b" => End::B,
            e => return Err(bad(&o.at(end_key), &Value::String(e.into()), "a or b")),
        };
        Ok(Attach { link, end })
    }

    fn endpoint(e: &Obj<'_>, links: &[Link], ncpu: usize) -> Result<Endpoint> {
        let name = e.name("name", 32)?;
        let kind = match e.req_str("kind", "serve, loadgen or bench")? {
            "serve" => Kind::Serve,
            "loadgen" => Kind::Loadgen,
            "bench" => Kind::Bench,
            k => {
                return Err(bad(
                    &e.at("kind"),
                    &Value::String(k.into()),
                    "one of serve, loadgen, bench",
                ))
            }
        };
        let stack = match e.str("stack")? {
            None | Some("mptfo") => StackKind::Mptfo,
            Some("kernel") if kind != Kind::Bench => StackKind::Kernel,
            Some(s) => {
                return Err(bad(
                    &e.at("stack"),
                    &Value::String(s.into()),
                    if kind == Kind::Bench {
                        "mptfo (bench runs mptfo's engine only)"
                    } else {
                        "one of mptfo, kernel"
                    },
                ))
            }
        };
        let mut at = None;
        let mut extra = Vec::new();
        if kind == Kind::Bench {
            for k in ["link", "end", "extra", "port"] {
                if let Some(v) = e.get(k) {
                    return Err(bad(
                        &e.at(k),
                        v,
                        "nothing: bench runs on the in-memory link",
                    ));
                }
            }
        } else {
            let a = Lab::attach(e, "link", "end", links)?;
            let end = links[a.link].end(a.end);
            let want_dpdk = stack == StackKind::Mptfo;
            if end.driver.is_dpdk() != want_dpdk {
                bail!(
                    "{} = {:?}: link {}.{} has driver {}, expected {} for stack {stack}",
                    e.at("end"),
                    a.end.to_string(),
                    links[a.link].name,
                    a.end,
                    end.driver,
                    if want_dpdk {
                        "af_packet, af_xdp or memif"
                    } else {
                        "kernel"
                    }
                );
            }
            at = Some(a);
            for (i, x) in e.tables("extra")?.iter().enumerate() {
                let a = Lab::attach(x, "link", "end", links)?;
                x.finish("link, end")?;
                let end = links[a.link].end(a.end);
                if end.driver.is_dpdk() != want_dpdk {
                    bail!(
                        "{}.end: link {}.{} has driver {}, expected the same kind as the endpoint's own link end",
                        e.at(&format!("extra[{i}]")),
                        links[a.link].name,
                        a.end,
                        end.driver
                    );
                }
                let main = links[at.as_ref().unwrap().link].end(at.as_ref().unwrap().end);
                if end.host != main.host {
                    bail!(
                        "{}.link = {:?}: its end {} is in host {:?}, the endpoint's own link end in {:?} (one process, one namespace)",
                        e.at(&format!("extra[{i}]")),
                        links[a.link].name,
                        a.end,
                        end.host.as_deref().unwrap_or("(root)"),
                        main.host.as_deref().unwrap_or("(root)")
                    );
                }
                extra.push(a);
            }
        }
        let cores = cores(e, "cores", ncpu)?.unwrap_or_else(|| vec![0]);
        let port = e.uint("port", 65535)?.unwrap_or(8080) as u16;
        if port == 0 {
            return Err(bad(
                &e.at("port"),
                &Value::Integer(0),
                "a TCP port from 1 to 65535",
            ));
        }
        let args = e.strings("args")?;
        e.finish("name, kind, stack, link, end, extra, cores, port, args")?;
        Ok(Endpoint {
            name,
            kind,
            stack,
            at,
            extra,
            cores,
            port,
            args,
        })
    }

    fn scenario(
        s: &Obj<'_>,
        endpoints: &[Endpoint],
        links: &[Link],
        defaults: &RunSettings,
    ) -> Result<Scenario> {
        let name = s.name("name", 32)?;
        let title = s.str("title")?.unwrap_or(&name).to_owned();
        let find = |key: &str, kinds: &[Kind], what: &str| -> Result<Option<usize>> {
            let Some(n) = s.str(key)? else {
                return Ok(None);
            };
            match endpoints.iter().position(|e| e.name == n) {
                Some(i) if kinds.contains(&endpoints[i].kind) => Ok(Some(i)),
                _ => {
                    let names: Vec<&str> = endpoints
                        .iter()
                        .filter(|e| kinds.contains(&e.kind))
                        .map(|e| e.name.as_str())
                        .collect();
                    Err(bad(
                        &s.at(key),
                        &Value::String(n.into()),
                        format!("one of the {what} endpoints: {}", names.join(", ")),
                    ))
                }
            }
        };
        let client = find("client", &[Kind::Loadgen, Kind::Bench], "loadgen or bench")?
            .ok_or_else(|| s.missing("client", "a loadgen or bench endpoint"))?;
        let server = find("server", &[Kind::Serve], "serve")?;
        let c = &endpoints[client];
        match (c.kind, server) {
            (Kind::Bench, Some(_)) => bail!(
                "{}: a bench client runs its own server (expected no server)",
                s.at("server")
            ),
            (Kind::Loadgen, None) => bail!(
                "{}: missing (expected the serve endpoint loadgen {} connects to)",
                s.at("server"),
                c.name
            ),
            (Kind::Loadgen, Some(si)) => {
                let (ca, sa) = (c.at.as_ref().unwrap(), endpoints[si].at.as_ref().unwrap());
                if ca.link != sa.link || ca.end == sa.end {
                    bail!(
                        "{}: server {} is on link {}.{}, client {} on {}.{}: expected the two ends of one link",
                        s.path,
                        endpoints[si].name,
                        links[sa.link].name,
                        sa.end,
                        c.name,
                        links[ca.link].name,
                        ca.end
                    );
                }
            }
            _ => {}
        }
        let run = run_settings(s, defaults)?;
        s.finish(&format!("name, title, server, client, {RUN_KEYS}"))?;
        Ok(Scenario {
            name,
            title,
            server,
            client,
            run,
        })
    }

    /// mptfo endpoints of one scenario each need their own CPUs.
    fn check_cores(&self) -> Result<()> {
        for (i, s) in self.scenarios.iter().enumerate() {
            let Some(sv) = s.server else { continue };
            let (a, b) = (&self.endpoints[sv], &self.endpoints[s.client]);
            let shared: BTreeSet<usize> = a
                .cores
                .iter()
                .filter(|c| b.cores.contains(c))
                .copied()
                .collect();
            if !shared.is_empty() && (a.stack == StackKind::Mptfo || b.stack == StackKind::Mptfo) {
                bail!(
                    "scenario[{i}]: endpoints {} and {} both use CPU {:?}: a polling mptfo worker needs a CPU of its own",
                    a.name,
                    b.name,
                    shared
                );
            }
        }
        Ok(())
    }

    /// The scenarios to run: all, or those named (each must exist).
    pub fn select(&self, names: &[String]) -> Result<Vec<&Scenario>> {
        if names.is_empty() {
            return Ok(self.scenarios.iter().collect());
        }
        let mut out = Vec::new();
        for n in names {
            match self.scenarios.iter().find(|s| &s.name == n) {
                Some(s) => out.push(s),
                None => bail!(
                    "--scenario {n}: expected one of {}",
                    self.scenarios
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        Ok(out)
    }

    /// The endpoint's link end.
    pub fn end_of(&self, a: &Attach) -> &LinkEnd {
        self.links[a.link].end(a.end)
    }

    /// The host (namespace) an endpoint runs in (None: root namespace).
    pub fn host_of(&self, e: &Endpoint) -> Option<&str> {
        e.at.as_ref().and_then(|a| self.end_of(a).host.as_deref())
    }

    /// The DPDK drivers the lab uses.
    pub fn drivers(&self) -> BTreeSet<&'static str> {
        self.links
            .iter()
            .flat_map(|l| [l.a.driver, l.b.driver])
            .filter_map(Driver::pmd)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[lab]
name = "t"
[[host]]
name = "t-c"
sysctl = { "net.mptcp.enabled" = 1 }
[[host]]
name = "t-s"
[[link]]
name = "a"
a = { host = "t-c", ifname = "ta-c", addresses = ["10.9.1.1/24"] }
b = { host = "t-s", ifname = "ta-s", addresses = ["10.9.1.2/24"], driver = "af_packet" }
[[link]]
name = "m"
a = { driver = "memif", role = "client", addresses = ["10.9.9.1/24"] }
b = { driver = "memif", role = "server", addresses = ["10.9.9.2/24"] }
[[endpoint]]
name = "cli"
kind = "loadgen"
stack = "kernel"
link = "a"
end = "a"
cores = [0]
[[endpoint]]
name = "srv"
kind = "serve"
link = "a"
end = "b"
cores = [1]
[[endpoint]]
name = "eng"
kind = "bench"
[defaults]
reps = 2
tfo = [true, false]
[[scenario]]
name = "x"
client = "cli"
server = "srv"
[[scenario]]
name = "e"
client = "eng"
duration = "500ms"
[[ratio]]
label = "x/e"
numerator = "x"
denominator = "e"
"#;

    fn err(text: &str) -> String {
        match Lab::parse(text, 2) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => format!("{e:#}"),
        }
    }

    /// BASE with the first `from` replaced by `to`.
    fn with(from: &str, to: &str) -> String {
        assert!(BASE.contains(from), "{from}");
        BASE.replacen(from, to, 1)
    }

    #[test]
    fn base_parses_with_defaults_and_overrides() {
        let lab = Lab::parse(BASE, 2).unwrap();
        assert_eq!(lab.name, "t");
        assert_eq!(
            lab.hosts[0].sysctls,
            vec![("net.mptcp.enabled".into(), "1".into())]
        );
        assert!(lab.links[1].memif);
        assert_eq!(
            lab.links[1].socket.as_deref(),
            Some(Path::new("/run/mptfo-lab/t/m.sock"))
        );
        assert_eq!(lab.scenarios[0].run.reps, 2);
        assert_eq!(lab.scenarios[1].run.duration, Duration::from_millis(500));
        assert_eq!(lab.scenarios[0].run.duration, Duration::from_secs(2));
        assert_eq!(lab.scenarios[1].server, None);
        assert_eq!(lab.endpoints[1].stack, StackKind::Mptfo);
        assert_eq!(lab.links[0].a.mac, "02:6d:66:00:00:01");
        assert_eq!(
            lab.drivers().into_iter().collect::<Vec<_>>(),
            ["af_packet", "memif"]
        );
    }

    #[test]
    fn unknown_driver_names_path_value_and_choices() {
        let e = err(&with(r#"driver = "af_packet""#, r#"driver = "af_pakket""#));
        assert_eq!(
            e,
            r#"link[0].b.driver = "af_pakket": expected one of kernel, af_packet, af_xdp, memif"#
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = err(&with("reps = 2", "reps = 2\nrepz = 3"));
        assert!(e.starts_with("defaults.repz: unknown key"), "{e}");
        let e = err(&with(r#"name = "t""#, "name = \"t\"\ncolour = 1"));
        assert!(e.starts_with("lab.colour: unknown key"), "{e}");
        let e = err(&with("cores = [0]", "cores = [0]\nthreads = 2"));
        assert!(e.starts_with("endpoint[0].threads: unknown key"), "{e}");
        let e = err(&format!("{BASE}\n[extra]\nx = 1\n"));
        assert!(e.starts_with("extra: unknown key"), "{e}");
    }

    #[test]
    fn unknown_references() {
        let e = err(&with(r#"server = "srv""#, r#"server = "nope""#));
        assert_eq!(
            e,
            r#"scenario[0].server = "nope": expected one of the serve endpoints: srv"#
        );
        let e = err(&with(r#"client = "cli""#, r#"client = "srv""#));
        assert!(
            e.starts_with(
                r#"scenario[0].client = "srv": expected one of the loadgen or bench endpoints"#
            ),
            "{e}"
        );
        let e = err(&with(r#"link = "a""#, r#"link = "z""#));
        assert_eq!(
            e,
            r#"endpoint[0].link = "z": expected one of the links: a, m"#
        );
        let e = err(&with(r#"host = "t-s""#, r#"host = "t-x""#));
        assert_eq!(
            e,
            r#"link[0].b.host = "t-x": expected one of the hosts: t-c, t-s"#
        );
        let e = err(&with(r#"denominator = "e""#, r#"denominator = "q""#));
        assert_eq!(
            e,
            r#"ratio[0].denominator = "q": expected one of the scenarios: x, e"#
        );
    }

    #[test]
    fn two_links_one_ifname() {
        let e = err(&with(r#"ifname = "ta-s""#, r#"ifname = "ta-c""#));
        assert!(
            e.starts_with(
                r#"link[0].b.ifname = "ta-c": expected an interface name no other link end uses"#
            ),
            "{e}"
        );
        let e = err(&with(
            r#"ifname = "ta-s""#,
            r#"ifname = "a-name-far-too-long""#,
        ));
        assert!(
            e.starts_with(
                r#"link[0].b.ifname = "a-name-far-too-long": expected an interface name of 1 to 15"#
            ),
            "{e}"
        );
    }

    #[test]
    fn addresses_checked() {
        let e = err(&with("10.9.1.2/24", "10.9.2.2/24"));
        assert_eq!(
            e,
            r#"link[0].b.addresses[0] = "10.9.2.2/24": expected an address inside the prefix of link[0].a.addresses (10.9.1.1/24)"#
        );
        let e = err(&with("10.9.1.2/24", "10.9.1.2/33"));
        assert!(
            e.starts_with(r#"link[0].b.addresses[0] = "10.9.1.2/33": expected ADDRESS/PREFIX"#),
            "{e}"
        );
        let e = err(&with("10.9.1.2/24", "10.9.1.255/24"));
        assert!(e.contains("not the network or broadcast address"), "{e}");
        let e = err(&with("10.9.9.2/24", "10.9.9.1/24"));
        assert!(
            e.contains("expected an address no other link end has"),
            "{e}"
        );
        // IPv6 and /31 work.
        let ok = with("10.9.1.1/24", "10.9.1.1/24\", \"fd00::1/64").replacen(
            "10.9.1.2/24",
            "10.9.1.2/24\", \"fd00::2/64",
            1,
        );
        Lab::parse(&ok, 2).unwrap();
        let ok = with("10.9.1.1/24", "10.9.1.0/31").replacen("10.9.1.2/24", "10.9.1.1/31", 1);
        Lab::parse(&ok, 2).unwrap();
    }

    #[test]
    fn cores_beyond_the_machine() {
        let e = err(&with("cores = [1]", "cores = [2]"));
        assert_eq!(
            e,
            "endpoint[1].cores = [2]: expected CPUs of this machine (0 to 1), e.g. [0] or \"0-1\""
        );
        let e = err(&with("cores = [1]", "cores = [0]"));
        assert!(
            e.contains("both use CPU {0}: a polling mptfo worker needs a CPU of its own"),
            "{e}"
        );
        let e = Lab::parse(&with("cores = [1]", r#"cores = "0-1""#), 4).unwrap_err();
        assert!(format!("{e}").contains("both use CPU {0}"), "{e}");
        let lab = Lab::parse(&with("cores = [1]", r#"cores = "1-3""#), 4).unwrap();
        assert_eq!(lab.endpoints[1].cores, [1, 2, 3]);
    }

    #[test]
    fn stack_must_match_the_link_end() {
        let e = err(&with("end = \"a\"", "end = \"b\""));
        assert!(
            e.contains("has driver af_packet, expected kernel for stack kernel"),
            "{e}"
        );
        let e = err(&with(r#"kind = "bench""#, "kind = \"bench\"\nlink = \"a\""));
        assert!(
            e.starts_with(
                "endpoint[2].link = \"a\": expected nothing: bench runs on the in-memory link"
            ),
            "{e}"
        );
    }

    #[test]
    fn memif_links_checked() {
        let e = err(&with(r#"role = "server""#, r#"role = "client""#));
        assert!(e.contains("expected the other role"), "{e}");
        let e = err(&with(
            r#"b = { driver = "memif""#,
            r#"b = { driver = "kernel""#,
        ));
        assert!(
            e.contains("expected memif (a memif link has memif at both ends)"),
            "{e}"
        );
    }

    #[test]
    fn run_settings_checked() {
        let e = err(&with("reps = 2", "reps = 0"));
        assert_eq!(e, "defaults.reps = 0: expected 1 or more");
        let e = err(&with("duration = \"500ms\"", "duration = \"fast\""));
        assert!(
            e.starts_with(r#"scenario[1].duration = "fast": expected a duration"#),
            "{e}"
        );
        let e = err(&with("tfo = [true, false]", "tfo = \"yes\""));
        assert_eq!(
            e,
            r#"defaults.tfo = "yes": expected true, false or a list of them, each once"#
        );
        let e = err(&with("reps = 2", "reps = 2\nrate = 100\nconnections = 3"));
        assert!(
            e.contains("either connections (closed loop) or rate (open loop)"),
            "{e}"
        );
        let e = err(&with(
            r#"label = "x/e""#,
            "label = \"x/e\"\nmetric = \"speed\"",
        ));
        assert!(
            e.starts_with(r#"ratio[0].metric = "speed": expected one of tps, tps_per_core"#),
            "{e}"
        );
    }

    #[test]
    fn keep_alive_and_mptcp_checked() {
        let e = err(&with("reps = 2", "reps = 2\nrequests_per_connection = 0"));
        assert_eq!(
            e,
            "defaults.requests_per_connection = 0: expected an integer from 1 (a connection per transaction) to 1000000000"
        );
        let e = err(&with(
            "duration = \"500ms\"",
            "duration = \"500ms\"\nrequests_per_connection = \"10\"",
        ));
        assert!(
            e.starts_with(
                r#"scenario[1].requests_per_connection = "10": expected an integer from 1"#
            ),
            "{e}"
        );
        let e = err(&with("reps = 2", "reps = 2\nrequests_per_connection = 2.5"));
        assert!(
            e.starts_with("defaults.requests_per_connection = 2.5: expected an integer"),
            "{e}"
        );
        let e = err(&with("reps = 2", "reps = 2\nmptcp = \"off\""));
        assert_eq!(
            e,
            r#"defaults.mptcp = "off": expected true, false or a list of them, each once"#
        );
        let e = err(&with("reps = 2", "reps = 2\nmptcp = [true, true]"));
        assert_eq!(
            e,
            "defaults.mptcp = [true, true]: expected true, false or a list of them, each once"
        );
        let e = err(&with("reps = 2", "reps = 2\nmptcp = []"));
        assert!(
            e.starts_with("defaults.mptcp = []: expected true, false"),
            "{e}"
        );
        let e = err(&with("reps = 2", "reps = 2\nrequests_per_conection = 2"));
        assert!(
            e.starts_with("defaults.requests_per_conection: unknown key")
                && e.contains("requests_per_connection, tfo, mptcp, pcap"),
            "{e}"
        );

        // Defaults: one request per connection, MPTCP on; the names of the
        // matrix points stay <name>-tfo / <name>-notfo.
        let lab = Lab::parse(BASE, 2).unwrap();
        let x = &lab.scenarios[0];
        assert_eq!(
            (x.run.requests_per_connection, &x.run.mptcp[..]),
            (1, &[true][..])
        );
        let names: Vec<String> = x.points().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["x-tfo", "x-notfo"]);

        // A scenario overrides the defaults; MPTCP off adds "-tcp".
        let lab = Lab::parse(
            &with(
                "reps = 2",
                "reps = 2\nrequests_per_connection = 10\nmptcp = [true, false]",
            )
            .replacen(
                "duration = \"500ms\"",
                "duration = \"500ms\"\nrequests_per_connection = 3\nmptcp = false\ntfo = true",
                1,
            ),
            2,
        )
        .unwrap();
        let (x, e) = (&lab.scenarios[0], &lab.scenarios[1]);
        assert_eq!(x.run.requests_per_connection, 10);
        let points = x.points();
        let names: Vec<&str> = points.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["x-tfo", "x-tfo-tcp", "x-notfo", "x-notfo-tcp"]);
        assert_eq!(
            points.iter().map(|p| (p.tfo, p.mptcp)).collect::<Vec<_>>(),
            [(true, true), (true, false), (false, true), (false, false)]
        );
        assert_eq!(e.run.requests_per_connection, 3);
        let names: Vec<String> = e.points().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["e-tfo-tcp"]);
    }

    #[test]
    fn toml_syntax_errors_are_reported() {
        let e = err("[lab\nname = 1");
        assert!(e.contains("line 1"), "{e}");
        let e = err("[lab]\nname = 3\n");
        assert!(e.starts_with("lab.name = 3: expected a name"), "{e}");
    }

    #[test]
    fn the_example_labs_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples");
        let vk = Lab::load(&dir.join("versus-kernel.toml"), 2).unwrap();
        let names: Vec<&str> = vk.scenarios.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e", "f", "g"]);
        assert_eq!(vk.ratios.len(), 4);
        assert!(vk.scenarios[..5].iter().all(|s| s.run.tfo == [true, false]
            && s.run.mptcp == [true]
            && s.run.requests_per_connection == 1
            && s.run.reps == 3));
        let points: Vec<String> = vk
            .scenarios
            .iter()
            .flat_map(Scenario::points)
            .map(|p| p.name)
            .collect();
        assert_eq!(
            points,
            [
                "a-tfo",
                "a-notfo",
                "b-tfo",
                "b-notfo",
                "c-tfo",
                "c-notfo",
                "d-tfo",
                "d-notfo",
                "e-tfo",
                "e-notfo",
                "f-tfo",
                "f-tfo-tcp",
                "g-tfo",
                "g-tfo-tcp"
            ]
        );
        assert!(vk.scenarios[5..]
            .iter()
            .all(|s| s.run.requests_per_connection == 100));
        let mp = Lab::load(&dir.join("multipath.toml"), 2).unwrap();
        assert!(mp.endpoints.iter().any(|e| e.extra.len() == 1));
        // Not on a machine with one CPU: the server's is CPU 1.
        let e = format!(
            "{:#}",
            Lab::load(&dir.join("versus-kernel.toml"), 1).unwrap_err()
        );
        assert!(
            e.contains("endpoint[1].cores = [1]: expected CPUs of this machine (0 to 0)"),
            "{e}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Some(Duration::from_micros(250)));
        assert_eq!(parse_duration("2"), None);
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(fmt_duration(Duration::from_secs(3)), "3s");
    }
}
