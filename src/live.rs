//! `mptfo serve` and `mptfo loadgen`: one worker on one DPDK port, on the
//! main thread (the EAL main lcore), in real time.
//!
//! Set-up: EAL from `--eal`, a mempool, the port (the only one the EAL
//! arguments create, or `--port`), a stack with the port's MAC and
//! checksum offloads and the `--ip` addresses, static neighbours from
//! `--neighbor`; optionally every frame of the port captured to `--pcap`.
//! The loops themselves are `mptfo_bench::live`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use mptfo_bench::live::{self as run, LiveConfig, LiveLoadgenInfo, LiveStats};
use mptfo_bench::{LoadgenApp, LoadgenConfig, ServeApp, ServeMode};
use mptfo_dpdk::{DpdkPort, DpdkQueue, Eal, Mempool, PortConfig, PortRef};
use mptfo_engine::config::StackConfig;
use mptfo_engine::counters::Counters;
use mptfo_engine::stack::{Interface, Stack};
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
    /// --no-shconf -l 0 --vdev=net_af_packet0,iface=veth0".
    #[arg(long, allow_hyphen_values = true)]
    eal: String,
    /// The port: device name or port id (default: the only port the EAL
    /// arguments create, else the first --vdev).
    #[arg(long)]
    port: Option<String>,
    /// Our address on the port, ADDR/LEN (repeatable).
    #[arg(long = "ip", required = true)]
    ips: Vec<IpPrefix>,
    /// A static neighbour, IP=MAC (repeatable). The first one is also
    /// where frames to unknown addresses go.
    #[arg(long = "neighbor")]
    neighbors: Vec<Neighbor>,
    /// Packet buffers in the mempool.
    #[arg(long, default_value_t = 16383)]
    mbufs: u32,
    /// Capture every frame the port receives and sends to this pcap file
    /// (transmit checksums as the stack wrote them).
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Sleep this long in a loop iteration that received nothing and had
    /// no timer due (default: busy-poll).
    #[arg(long, value_parser = parse_duration)]
    idle_sleep: Option<Duration>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    dpdk: DpdkArgs,
    /// TCP port to accept connections on.
    #[arg(long, default_value_t = 8080)]
    listen: u16,
    /// What to do with a request.
    #[arg(long, value_enum, default_value_t = Mode::Echo)]
    mode: Mode,
    /// Bytes per request (rpc).
    #[arg(long, default_value_t = 64)]
    request_bytes: usize,
    /// Bytes per reply (rpc).
    #[arg(long, default_value_t = 64)]
    response_bytes: usize,
    /// When the reply to SYN data may leave: hold (waits for the client's
    /// MPTCP key; a Linux client stays MPTCP) or early (one RTT; a Linux
    /// 6.18 client falls back to TCP).
    #[arg(long, value_enum, default_value_t = Reply::Hold)]
    reply: Reply,
    /// Stop after this long (default: until SIGINT/SIGTERM).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// TFO cookie key, 32 hex digits or Linux's dashed words (default:
    /// random).
    #[arg(long)]
    tfo_key: Option<String>,
    /// TIME_WAIT length.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    time_wait: Duration,
}

#[derive(clap::Args, Debug)]
pub(crate) struct LoadgenArgs {
    #[command(flatten)]
    dpdk: DpdkArgs,
    /// The server, ADDR:PORT.
    #[arg(long)]
    target: SocketAddr,
    /// Transactions in flight at once (connections).
    #[arg(long, short = 'c', default_value_t = 1)]
    connections: usize,
    /// Load duration, wall clock (default 2s when --transactions is not
    /// given).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Stop after this many transactions.
    #[arg(long, short = 'n')]
    transactions: Option<u64>,
    /// Bytes per request.
    #[arg(long, default_value_t = 64)]
    request_bytes: usize,
    /// Bytes of the reply that completes a transaction (default: the
    /// request size, for an echo server).
    #[arg(long)]
    response_bytes: Option<usize>,
    /// TCP Fast Open: the request rides in the SYN.
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    tfo: OnOff,
    /// Offer MPTCP (MP_CAPABLE).
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    mptcp: OnOff,
    /// TIME_WAIT length of our (closing-first) side.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    time_wait: Duration,
    /// Time allowed after the load for the last transactions and closes.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    drain: Duration,
    /// Hard limit of the whole run (default: load duration + drain + 30 s).
    #[arg(long, value_parser = parse_duration)]
    time_limit: Option<Duration>,
    /// Write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The EAL file prefix given in the arguments, if any.
fn file_prefix(args: &[String]) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix("--file-prefix=") {
            return Some(v.to_owned());
        }
        if a == "--file-prefix" {
            return it.next().cloned();
        }
    }
    None
}

/// The devargs of the first `--vdev` in the EAL arguments.
fn first_vdev(args: &[String]) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix("--vdev=") {
            return Some(v.to_owned());
        }
        if a == "--vdev" {
            return it.next().cloned();
        }
    }
    None
}

/// Removes the (empty) EAL runtime directory of `prefix` once the EAL is
/// gone; only an explicitly named prefix, and only when empty.
fn remove_runtime_dir(prefix: &str) {
    let base = if std::env::var_os("XDG_RUNTIME_DIR").is_some() && !is_root() {
        PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR").unwrap_or_default()).join("dpdk")
    } else if is_root() {
        PathBuf::from("/var/run/dpdk")
    } else {
        PathBuf::from("/tmp/dpdk")
    };
    let _ = std::fs::remove_dir(base.join(prefix));
    let _ = std::fs::remove_dir(&base);
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

/// Runs `f` with the port's first queue inside an initialised EAL, then
/// tears everything down in order (queue, port, mempool, EAL, runtime
/// directory).
fn with_port<T>(
    a: &DpdkArgs,
    pool_name: &str,
    f: impl FnOnce(DpdkQueue<'_>, &PortInfo) -> Result<T>,
) -> Result<T> {
    let args: Vec<String> = a.eal.split_whitespace().map(str::to_owned).collect();
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
            let (port, mut queues) =
                DpdkPort::configure(&eal, dev.clone(), &PortConfig::default(), &pool)
                    .map_err(|e| anyhow!("configuring port {dev:?}: {e}"))?;
            let q = queues.remove(0);
            drop(queues);
            let info = PortInfo {
                name: port.name().to_owned(),
                driver: port.info().driver.clone(),
                mac: q.caps().mac,
            };
            let r = f(q, &info);
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

/// The stack of a role on a port with capabilities of `port`.
fn make_stack<P: Port>(a: &DpdkArgs, port: &P, cfg: StackConfig, clock: &Clock) -> Stack<P::Buf> {
    let caps = port.caps();
    let default_peer = a.neighbors.first().map_or([0xff; 6], |n| n.mac);
    let iface = Interface {
        mac: caps.mac,
        addrs: a.ips.iter().map(|p| p.addr).collect(),
        default_peer_mac: default_peer,
        checksum: caps.checksum,
    };
    let mut stack = Stack::new(cfg, vec![iface], 0, 1, random_u64(), Instant(clock.now()));
    for n in &a.neighbors {
        stack.add_neighbor(n.ip, n.mac);
    }
    stack
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
    println!(
        "port: rx {} frames {} bytes ({} dropped), tx {} frames {} bytes ({} dropped)",
        s.rx_packets, s.rx_bytes, s.rx_dropped, s.tx_packets, s.tx_bytes, s.tx_dropped
    );
}

pub(crate) fn serve(a: ServeArgs) -> Result<()> {
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
    with_port(&a.dpdk, "mptfo_serve", |q, info| {
        let clock = Clock::real_time();
        let mut cfg = StackConfig {
            reply_timing: a.reply.timing(),
            time_wait: a.time_wait,
            ..StackConfig::default()
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
        match &a.dpdk.pcap {
            None => {
                let stack = make_stack(&a.dpdk, &q, cfg, &clock);
                let mut w = Worker::new(stack, vec![q], ServeApp::new(mode));
                w.stack.listen(a.listen);
                announce(info.mac);
                let st = run::serve(&mut w, &clock, stop, &live);
                serve_summary(&w, &st);
                Ok(())
            }
            Some(path) => {
                let tap = PcapTap::new(q, pcap_writer(path)?, clock.clone());
                let stack = make_stack(&a.dpdk, &tap, cfg, &clock);
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

fn serve_summary<P: Port>(w: &Worker<P, ServeApp>, st: &LiveStats) {
    let s = &w.app.stats;
    println!(
        "serve: stopped ({}) after {:.3} s: {} connections accepted, {} closed ({} with errors), {} open; {} requests, {} bytes in, {} bytes out",
        if st.interrupted {
            "signal"
        } else if st.duration_reached {
            "duration"
        } else {
            "end"
        },
        st.wall_ns as f64 / 1e9,
        s.accepted,
        s.closed,
        s.errors,
        w.app.open_connections(),
        s.requests,
        s.rx_bytes,
        s.tx_bytes
    );
    if !w.app.error_reasons.is_empty() {
        println!("serve: errors by reason: {:?}", w.app.error_reasons);
    }
    print_port_stats(&w.ports[0].stats());
    print_counters("serve", &w.stack.counters());
}

pub(crate) fn loadgen(a: LoadgenArgs) -> Result<()> {
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
        server: a.target,
        concurrency: a.connections,
        request_bytes: a.request_bytes,
        response_bytes,
        tfo: a.tfo.on(),
        mptcp: a.mptcp.on(),
        transactions: a.transactions,
        duration,
    };
    let report = with_port(&a.dpdk, "mptfo_loadgen", |q, info| {
        let clock = Clock::real_time();
        let cfg = StackConfig {
            time_wait: a.time_wait,
            ..StackConfig::default()
        };
        let linfo = LiveLoadgenInfo {
            device: format!("{} ({}, mac {})", info.name, info.driver, mac_str(info.mac)),
            target: a.target,
        };
        println!(
            "loadgen: {} -> {} from {}, {} connections",
            linfo.device,
            a.target,
            a.dpdk
                .ips
                .iter()
                .map(|p| p.addr.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            a.connections
        );
        match &a.dpdk.pcap {
            None => {
                let stack = make_stack(&a.dpdk, &q, cfg, &clock);
                let app = LoadgenApp::new(lcfg.clone(), clock.clone());
                let mut w = Worker::new(stack, vec![q], app);
                let st = run::loadgen(&mut w, &clock, stop, &live);
                let counters = w.stack.counters();
                print_port_stats(&w.ports[0].stats());
                Ok(run::loadgen_report(&w, &st, &counters, &linfo))
            }
            Some(path) => {
                let tap = PcapTap::new(q, pcap_writer(path)?, clock.clone());
                let stack = make_stack(&a.dpdk, &tap, cfg, &clock);
                let app = LoadgenApp::new(lcfg.clone(), clock.clone());
                let mut w = Worker::new(stack, vec![tap], app);
                let st = run::loadgen(&mut w, &clock, stop, &live);
                let counters = w.stack.counters();
                print_port_stats(&w.ports[0].stats());
                let report = run::loadgen_report(&w, &st, &counters, &linfo);
                let tap = w.ports.pop().expect("the port");
                drop(w);
                tap.finish()
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("capture written to {}", path.display());
                Ok(report)
            }
        }
    })?;
    print!("{report}");
    println!("client counters (nstat names, non-zero):");
    for (name, v) in &report.client_counters {
        println!("  {name:<40} {v}");
    }
    if let Some(path) = &a.json {
        std::fs::write(path, report.to_json() + "\n")
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
}
