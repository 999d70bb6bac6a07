//! The `mptfo` command: a thin CLI over the workspace crates.
//!
//! - `mptfo bench`: server and load generator in one process on the
//!   in-memory link, in virtual time (no DPDK, no root).
//! - `mptfo serve` / `mptfo loadgen`: the server and the load generator on
//!   a DPDK port, in real time (module `live`).
//! - `mptfo kernel-client` / `mptfo kernel-server`: the same roles on the
//!   Linux kernel's own MPTCP + TFO stack (the interop tests' peers).
//! - `mptfo tfo-cookie`: the TFO cookie a Linux server would issue.
//! - `mptfo mptcp-key`: token and IDSN of an MPTCP key.
//! - `mptfo lab`: a test bed from one lab file, and scenario runs on it
//!   (module `lab`, crate mptfo-deploy).

#![forbid(unsafe_code)]

mod kernel_mode;
mod lab;
mod live;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use mptfo_bench::kernel::{client as kclient, server as kserver};
use mptfo_bench::{BenchConfig, ReplyTiming};
use mptfo_proto::crypto::MptcpKey;
use mptfo_proto::tfo::{cookie_for, TfoKey};

#[derive(Parser, Debug)]
#[command(
    name = "mptfo",
    version,
    about = "Userspace MPTCP v1 endpoint with TCP Fast Open: benchmark and protocol tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Server and load generator in one process on the in-memory link, in
    /// virtual time: latencies (SYN -> first/last reply byte), TFO and
    /// MPTCP outcomes, and the engine's transaction rate per core (client
    /// and server stacks both on the one thread that runs them).
    Bench(BenchArgs),
    /// The benchmark server on a DPDK port, in real time: accepts MPTCP
    /// (and plain TCP) connections with TCP Fast Open and answers them
    /// (echo or rpc). Prints a line starting with `listening` when ready,
    /// runs until SIGINT/SIGTERM or --duration, then prints its counters
    /// (nstat names).
    Serve(live::ServeArgs),
    /// The closed-loop load generator on a DPDK port, in real time, against
    /// any server (Linux or `mptfo serve`): the same report as `mptfo
    /// bench`, in wall-clock time.
    Loadgen(live::LoadgenArgs),
    /// A client on the Linux kernel's MPTCP stack: connections opened with
    /// sendto(MSG_FASTOPEN), TCP_FASTOPEN_CONNECT or a plain connect, each
    /// doing request/reply exchanges; one `key=value` line per connection.
    /// Exits non-zero when a connection failed or a reply was wrong.
    KernelClient(KernelClientArgs),
    /// A TCP Fast Open listener on the Linux kernel's MPTCP stack that
    /// answers requests (echo or rpc), optionally holding each answer until
    /// MPTCP_INFO shows the client's key (Linux's passive-TFO reply stall).
    KernelServer(KernelServerArgs),
    /// The 8-byte TFO cookie a Linux server with this key issues to a client
    /// (SipHash-2-4 over client and server address).
    TfoCookie {
        /// Server key: 32 hex digits (the bytes of TCP_FASTOPEN_KEY), or
        /// Linux's sysctl form `xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx`.
        #[arg(long)]
        key: String,
        /// Client address (the SYN's source).
        #[arg(long)]
        client: IpAddr,
        /// Server address (the SYN's destination).
        #[arg(long)]
        server: IpAddr,
    },
    /// Token and initial data sequence number (IDSN) of a 64-bit MPTCP key
    /// (RFC 8684 §3.1: SHA-256 of the key, first 32 / last 64 bits).
    MptcpKey {
        /// The key: hex with a 0x prefix (as tshark prints it), 16 bare
        /// hex digits, or decimal.
        key: String,
    },
    /// A test bed from one lab file: network namespaces, veth and memif
    /// links, hugepages and MPTCP settings (`up`, `down`, `status`), and
    /// scenario runs that compare mptfo and the Linux kernel side by side
    /// (`run`: results folder and report).
    Lab(lab::LabArgs),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OnOff {
    On,
    Off,
}

impl OnOff {
    pub(crate) fn on(self) -> bool {
        self == OnOff::On
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Reply {
    /// The reply leaves right after the SYN/ACK (one RTT).
    Early,
    /// The reply waits for the client's MPTCP key (two RTTs).
    Hold,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// Each request of --request-bytes gets --response-bytes back.
    Rpc,
    /// The server echoes the request.
    Echo,
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    /// Load duration in virtual time (e.g. 2s, 500ms). Default 2s when
    /// --transactions is not given.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Stop after this many transactions.
    #[arg(long, short = 'n')]
    transactions: Option<u64>,
    /// Transactions in flight at once (connections).
    #[arg(long, short = 'c', default_value_t = 16)]
    concurrency: usize,
    /// Bytes per request.
    #[arg(long, default_value_t = 64)]
    request_bytes: usize,
    /// Bytes per reply (rpc mode).
    #[arg(long, default_value_t = 64)]
    response_bytes: usize,
    /// What the server does with a request.
    #[arg(long, value_enum, default_value_t = Mode::Rpc)]
    mode: Mode,
    /// TCP Fast Open: the request rides in the SYN.
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    tfo: OnOff,
    /// Offer MPTCP (MP_CAPABLE).
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    mptcp: OnOff,
    /// Added round-trip time (each direction of the link delays half),
    /// e.g. 10ms.
    #[arg(long, value_parser = parse_duration, default_value = "0")]
    rtt: Duration,
    /// When the server's reply to SYN data may leave.
    #[arg(long, value_enum, default_value_t = Reply::Early)]
    reply: Reply,
    /// Seed of keys, ISNs, ports and the link.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// TIME_WAIT length of both stacks, virtual time.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    time_wait: Duration,
    /// Probability that the link loses a frame, each direction (seeded).
    /// Give a longer --time-wait with it (e.g. 60s): a FIN retransmitted
    /// after the peer's TIME_WAIT ended meets a reset.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Capture the client's frames to this pcap file (virtual timestamps).
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Paths (mem links) between client and server: 1, or 2 (10.0.1.x and
    /// 10.0.2.x; each connection opens a second subflow over path 2 once
    /// it is established — give large replies, e.g. --response-bytes
    /// 200000, for both paths to carry data).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    paths: u8,
    /// Round-trip time of path 2 (default: --rtt).
    #[arg(long, value_parser = parse_duration)]
    rtt2: Option<Duration>,
    /// Open the path-2 subflow as a backup (MP_JOIN B flag).
    #[arg(long)]
    backup2: bool,
    /// Open loop: start this many connections per second on a fixed
    /// schedule in virtual time, whatever the replies do; latencies count
    /// from each connection's intended start. Default: closed loop with
    /// --concurrency in flight.
    #[arg(long, conflicts_with = "concurrency")]
    rate: Option<f64>,
    /// Open loop: the cap on connections in flight; a start due beyond it
    /// is not made and is counted as refused.
    #[arg(long, default_value_t = 65536, requires = "rate")]
    max_in_flight: usize,
    /// Requests per connection: 1 opens a connection per transaction;
    /// more keeps each connection for that many request/reply exchanges
    /// (the first in the SYN with TFO).
    #[arg(long, default_value_t = 1)]
    requests_per_connection: u64,
    /// Rate limit of the link in Mbit/s, each direction (default:
    /// unlimited): frames queue behind it, so the server side can fall
    /// behind the offered load.
    #[arg(long)]
    link_mbps: Option<f64>,
    /// Stall the load generator: AT+LEN (e.g. 500ms+200ms) leaves its
    /// worker unpolled for LEN from AT after the start, while the server
    /// and the link go on (a descheduled thread). Compare the closed and
    /// the open loop's tails with it.
    #[arg(long, value_parser = parse_pause)]
    client_pause: Option<(Duration, Duration)>,
}

/// `AT+LEN`, two durations.
fn parse_pause(s: &str) -> Result<(Duration, Duration), String> {
    let (at, len) = s
        .split_once('+')
        .ok_or_else(|| format!("`{s}`: expected AT+LEN, e.g. 500ms+200ms"))?;
    Ok((parse_duration(at)?, parse_duration(len)?))
}

impl Reply {
    pub(crate) fn timing(self) -> ReplyTiming {
        match self {
            Reply::Early => ReplyTiming::Early,
            Reply::Hold => ReplyTiming::Hold,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum OpenMode {
    /// sendto(MSG_FASTOPEN): connect and send at once.
    Sendto,
    /// setsockopt(TCP_FASTOPEN_CONNECT) + connect + write.
    Connect,
    /// connect + write (no TFO).
    Plain,
}

#[derive(clap::Args, Debug)]
struct KernelClientArgs {
    /// The server, ADDR:PORT.
    #[arg(long)]
    target: SocketAddr,
    /// How connections open; give it several times (or comma-separated)
    /// for different modes per connection, the last one repeating.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "sendto")]
    mode: Vec<OpenMode>,
    /// Plain TCP socket instead of IPPROTO_MPTCP.
    #[arg(long)]
    tcp: bool,
    /// Connections, one after the other.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Request/reply exchanges per connection.
    #[arg(long, default_value_t = 2)]
    exchanges: usize,
    /// Bytes per request.
    #[arg(long, default_value_t = 32)]
    request_bytes: usize,
    /// Bytes per reply; without it the server is expected to echo (and
    /// replies are checked against the requests).
    #[arg(long)]
    response_bytes: Option<usize>,
    /// Pause between connections.
    #[arg(long, value_parser = parse_duration, default_value = "20ms")]
    gap: Duration,
    /// Limit of each read and write.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    io_timeout: Duration,
    /// Limit of the whole run.
    #[arg(long, value_parser = parse_duration, default_value = "20s")]
    time_limit: Duration,
    /// Source address.
    #[arg(long)]
    bind: Option<IpAddr>,
}

#[derive(clap::Args, Debug)]
struct KernelServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Plain TCP listener instead of IPPROTO_MPTCP.
    #[arg(long)]
    tcp: bool,
    /// TCP_FASTOPEN queue length (0: TFO off on the listener).
    #[arg(long, default_value_t = 64)]
    tfo_qlen: i32,
    /// Exit after this many connections (once they are closed).
    #[arg(long)]
    connections: Option<u64>,
    /// Hard time limit.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    duration: Duration,
    /// What to do with a request.
    #[arg(long, value_enum, default_value_t = Mode::Echo)]
    mode: Mode,
    /// Bytes per request (rpc).
    #[arg(long, default_value_t = 64)]
    request_bytes: usize,
    /// Bytes per answer (rpc).
    #[arg(long, default_value_t = 64)]
    response_bytes: usize,
    /// Hold answers until MPTCP_INFO shows the client's key (works around
    /// the Linux passive-TFO reply stall).
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    wait_key: OnOff,
    /// A line per connection event.
    #[arg(long, short)]
    verbose: bool,
}

/// Parses `10ms`, `2s`, `1.5s`, `250us`, `100ns`, `1m`, or `0`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}`: expected a number with a unit, e.g. 10ms"))?;
    let scale = match unit.trim() {
        "" if v == 0.0 => 1.0,
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "" => return Err(format!("`{s}`: give a unit (ns, us, ms, s, m)")),
        u => return Err(format!("`{s}`: unknown unit `{u}` (ns, us, ms, s, m)")),
    };
    let secs = v * scale;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("`{s}`: out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn bench(args: BenchArgs) -> Result<()> {
    let duration = match (args.duration, args.transactions) {
        (None, None) => Some(Duration::from_secs(2)),
        (d, _) => d,
    };
    let cfg = BenchConfig {
        duration,
        transactions: args.transactions,
        concurrency: args.concurrency,
        request_bytes: args.request_bytes,
        response_bytes: args.response_bytes,
        echo: args.mode == Mode::Echo,
        tfo: args.tfo.on(),
        mptcp: args.mptcp.on(),
        rtt: args.rtt,
        reply: args.reply.timing(),
        seed: args.seed,
        time_wait: args.time_wait,
        loss: args.loss,
        pcap: args.pcap.clone(),
        paths: usize::from(args.paths),
        rtt2: args.rtt2,
        backup2: args.backup2,
        rate: args.rate,
        requests_per_connection: args.requests_per_connection,
        client_pause: args.client_pause,
        link_rate_bps: match args.link_mbps {
            None => None,
            Some(m) if m.is_finite() && m > 0.0 && m * 1e6 >= 1.0 => Some((m * 1e6) as u64),
            Some(m) => bail!("--link-mbps {m}: expected a positive number of Mbit/s"),
        },
        ..BenchConfig::default()
    };
    if let Some(r) = args.rate {
        if !(r.is_finite() && r > 0.0) {
            bail!("--rate {r}: expected a positive number of connections per second");
        }
        if args.max_in_flight == 0 {
            bail!("--max-in-flight 0: expected at least 1");
        }
    }
    if args.requests_per_connection == 0 {
        bail!("--requests-per-connection 0: expected at least 1");
    }
    let cfg = BenchConfig {
        concurrency: if args.rate.is_some() {
            args.max_in_flight
        } else {
            cfg.concurrency
        },
        ..cfg
    };
    let outcome = mptfo_bench::run(&cfg).map_err(anyhow::Error::msg)?;
    let report = outcome.report();
    let generator = outcome.generator();
    let full = mptfo_bench::report::FullReport {
        report: &report,
        generator: &generator,
        extra: None,
    };
    print!("{full}");
    if let Some(path) = &args.json {
        std::fs::write(path, full.to_json() + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("  JSON report written to {}", path.display());
    }
    if report.run.wall_timed_out || report.run.stuck {
        bail!("the run did not finish normally (see the warning above)");
    }
    Ok(())
}

/// A TFO key from 32 hex digits or Linux's dashed sysctl words.
pub(crate) fn parse_tfo_key(s: &str) -> Result<TfoKey> {
    let s = s.trim();
    if s.contains('-') {
        return TfoKey::parse_linux(s)
            .with_context(|| format!("`{s}`: expected xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx"));
    }
    let hex = s.strip_prefix("0x").unwrap_or(s);
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("`{s}`: expected 32 hex digits or Linux's dash-separated words");
    }
    let mut k = [0u8; 16];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
    }
    Ok(TfoKey(k))
}

fn tfo_cookie(key: &str, client: IpAddr, server: IpAddr) -> Result<()> {
    if client.is_ipv4() != server.is_ipv4() {
        bail!("client and server must be of the same address family");
    }
    let key = parse_tfo_key(key)?;
    let cookie = cookie_for(&key, client, server);
    let hex: String = cookie
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("{hex}");
    eprintln!(
        "(key as net.ipv4.tcp_fastopen_key: {}; client {client}, server {server})",
        key.linux()
    );
    Ok(())
}

fn kernel_client(a: KernelClientArgs) -> Result<()> {
    let cfg = kclient::ClientConfig {
        target: a.target,
        modes: a
            .mode
            .iter()
            .map(|m| match m {
                OpenMode::Sendto => kclient::OpenMode::SendTo,
                OpenMode::Connect => kclient::OpenMode::Connect,
                OpenMode::Plain => kclient::OpenMode::Plain,
            })
            .collect(),
        mptcp: !a.tcp,
        connections: a.connections,
        exchanges: a.exchanges,
        request_bytes: a.request_bytes,
        response_bytes: a.response_bytes,
        gap: a.gap,
        io_timeout: a.io_timeout,
        deadline: a.time_limit,
        bind: a.bind,
    };
    let reports = kclient::run(&cfg, &mut std::io::stdout().lock())?;
    let ok = reports.iter().filter(|r| r.ok()).count();
    println!(
        "kernel-client: {ok}/{} connections ok ({} asked for)",
        reports.len(),
        a.connections
    );
    if ok != a.connections {
        bail!(
            "{} of {} connections failed",
            a.connections - ok,
            a.connections
        );
    }
    Ok(())
}

fn kernel_server(a: KernelServerArgs) -> Result<()> {
    let cfg = kserver::ServerConfig {
        listen: a.listen,
        mptcp: !a.tcp,
        tfo_qlen: a.tfo_qlen,
        connections: a.connections,
        duration: a.duration,
        answer: match a.mode {
            Mode::Echo => kserver::Answer::Echo,
            Mode::Rpc => kserver::Answer::Rpc {
                request_bytes: a.request_bytes,
                response_bytes: a.response_bytes,
            },
        },
        wait_key: a.wait_key.on(),
        verbose: a.verbose,
    };
    let stop = mptfo_bench::sys::stop_on_signals().context("installing signal handlers")?;
    let l = kserver::listener(&cfg).with_context(|| {
        format!(
            "listening on {} ({})",
            a.listen,
            if a.tcp { "TCP" } else { "MPTCP" }
        )
    })?;
    println!(
        "listening on {} proto={} tfo_qlen={} mode={:?} wait_key={}",
        a.listen,
        if a.tcp { "TCP" } else { "MPTCP" },
        a.tfo_qlen,
        a.mode,
        if a.wait_key.on() { "on" } else { "off" }
    );
    let st = kserver::run(&cfg, &l, stop, &mut std::io::stdout().lock())?;
    println!("kernel-server: {st}");
    Ok(())
}

fn parse_mptcp_key(s: &str) -> Result<u64> {
    let s = s.trim();
    let parsed = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else if s.len() == 16 {
        // 16 digits: read as hex, the width of a key printed as hex.
        u64::from_str_radix(s, 16)
    } else {
        s.parse()
    };
    parsed.with_context(|| {
        format!("`{s}`: expected a 64-bit key (0x-prefixed hex, 16 hex digits, or decimal)")
    })
}

fn mptcp_key(key: &str) -> Result<()> {
    let key = MptcpKey(parse_mptcp_key(key)?);
    let m = key.material();
    println!("key   {:#018x}", m.key.0);
    println!("token {:#010x}", m.token);
    println!("idsn  {:#018x} ({})", m.idsn.0, m.idsn.0);
    Ok(())
}

fn main() -> Result<()> {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Which flags the command line gave (they override a --config file).
    let sub = matches.subcommand().map(|(_, m)| m);
    let r = match cli.command {
        Command::Bench(args) => bench(args),
        Command::Serve(args) => live::serve(args, sub),
        Command::Loadgen(args) => live::loadgen(args, sub),
        Command::KernelClient(args) => kernel_client(args),
        Command::KernelServer(args) => kernel_server(args),
        Command::TfoCookie {
            key,
            client,
            server,
        } => tfo_cookie(&key, client, server),
        Command::MptcpKey { key } => mptcp_key(&key),
        Command::Lab(args) => lab::lab(args),
    };
    // A bad settings file: its diagnostics as the config crate words
    // them, exit status 2 (like a usage error).
    if let Err(e) = &r {
        if let Some(b) = e.downcast_ref::<live::BadConfig>() {
            eprintln!("{b}");
            std::process::exit(2);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10ms").unwrap(), Duration::from_millis(10));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn tfo_keys() {
        let a = parse_tfo_key("000102030405060708090a0b0c0d0e0f").unwrap();
        assert_eq!(a.0[1], 1);
        // Linux words are stored little-endian.
        let b = parse_tfo_key("03020100-07060504-0b0a0908-0f0e0d0c").unwrap();
        assert_eq!(a, b);
        assert!(parse_tfo_key("0011").is_err());
    }

    #[test]
    fn mptcp_keys() {
        assert_eq!(
            parse_mptcp_key("0x0102030405060708").unwrap(),
            0x0102030405060708
        );
        assert_eq!(
            parse_mptcp_key("0102030405060708").unwrap(),
            0x0102030405060708
        );
        assert_eq!(parse_mptcp_key("42").unwrap(), 42);
    }
}
