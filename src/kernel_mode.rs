//! `mptfo serve --stack kernel` and `mptfo loadgen --stack kernel`: the
//! same roles on the Linux kernel's MPTCP + TFO stack through its socket
//! API (`mptfo_bench::kernel::serve` and `mptfo_bench::kernel::loadgen`),
//! so that one tool measures both stacks with the same figures.
//!
//! No DPDK: `--ip` is the address to listen on (serve) or the source
//! address (loadgen), the prefix length is ignored; `--cores` gives one
//! pinned worker thread per CPU. The flags that only mean something on a
//! DPDK port (`--eal`, `--port`, `--neighbor`, ...) and `--config` are
//! refused. The namespace's kernel counters (nstat names) are read before
//! and after the run and their deltas reported.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::parser::ValueSource;
use clap::ArgMatches;
use mptfo_bench::kernel::loadgen::{
    self as kload, LoadConfig, LoadStats, Progress, Shape, TfoStyle,
};
use mptfo_bench::kernel::nstat::Snapshot;
use mptfo_bench::kernel::serve::{self as kserve, ReplyMode, ServeConfig, ServeStats, STALL};
use mptfo_bench::kernel::server::Answer;
use mptfo_bench::live::{IntervalTicker, ProgressCounts};
use mptfo_bench::report::{
    self, Errors, Fallbacks, Latency, LoadShape, Rates, Report, ReportConfig, Retransmissions,
    RunInfo, TfoFigures,
};

use crate::live::{DpdkArgs, LoadgenArgs, ServeArgs};
use crate::{Mode, OnOff, Reply};

/// `TCP_FASTOPEN` queue length of the listeners.
const TFO_QLEN: i32 = 4096;
/// `listen` backlog (the kernel caps it at `net.core.somaxconn`).
const BACKLOG: i32 = 8192;
/// A transaction without its whole reply after this long fails.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether the command line itself gave argument `id`.
fn given(m: Option<&ArgMatches>, id: &str) -> bool {
    m.and_then(|m| m.value_source(id)) == Some(ValueSource::CommandLine)
}

/// Refuses the flags that only mean something on mptfo's DPDK stack.
fn refuse_dpdk_flags(m: Option<&ArgMatches>, extra: &[(&str, &str)]) -> Result<()> {
    let dpdk = [
        ("eal", "--eal"),
        ("port", "--port"),
        ("neighbors", "--neighbor"),
        ("extra_ports", "--extra-port"),
        ("signal", "--signal"),
        ("subflow", "--subflow"),
        ("pm_limits", "--pm-limits"),
        ("mbufs", "--mbufs"),
        ("pcap", "--pcap"),
        ("idle_sleep", "--idle-sleep"),
        ("config", "--config"),
        ("set", "--set"),
        ("check_config", "--check-config"),
    ];
    for (id, flag) in dpdk.iter().chain(extra) {
        if given(m, id) {
            bail!("{flag} applies to --stack mptfo only (the kernel stack has no DPDK port nor settings file)");
        }
    }
    Ok(())
}

/// The one address of `--ip` (its prefix length is not used), if given.
fn one_ip(d: &DpdkArgs, what: &str) -> Result<Option<IpAddr>> {
    match d.ips.as_slice() {
        [] => Ok(None),
        [p] => Ok(Some(p.addr)),
        more => bail!(
            "--ip given {} times: --stack kernel takes one ({what})",
            more.len()
        ),
    }
}

fn cpus(d: &DpdkArgs) -> Vec<usize> {
    d.cores.as_ref().map(|c| c.0.clone()).unwrap_or_default()
}

fn cpu_text(cpus: &[usize]) -> String {
    if cpus.is_empty() {
        "1 worker thread (not pinned)".into()
    } else {
        format!(
            "{} worker thread{} pinned to CPU {}",
            cpus.len(),
            if cpus.len() == 1 { "" } else { "s" },
            cpus.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )
    }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into())
}

fn print_counters(d: &Snapshot) {
    println!("kernel counters (this namespace, deltas over the run, nstat names, non-zero):");
    for (name, v) in d.nonzero() {
        println!("  {name:<40} {v}");
    }
}

/// `mptfo serve --stack kernel`.
pub(crate) fn serve(a: &ServeArgs, m: Option<&ArgMatches>) -> Result<()> {
    refuse_dpdk_flags(m, &[("time_wait", "--time-wait")])?;
    let ip = one_ip(&a.dpdk, "the address to listen on")?;
    let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let answer = match a.mode {
        Mode::Echo => Answer::Echo,
        Mode::Rpc => {
            if a.request_bytes == 0 || a.response_bytes == 0 {
                bail!(
                    "--request-bytes {} / --response-bytes {}: rpc mode needs both at least 1",
                    a.request_bytes,
                    a.response_bytes
                );
            }
            Answer::Rpc {
                request_bytes: a.request_bytes,
                response_bytes: a.response_bytes,
            }
        }
    };
    let tfo_key = match &a.tfo_key {
        Some(k) => Some(crate::parse_tfo_key(k).context("--tfo-key")?.0),
        None => None,
    };
    let cfg = ServeConfig {
        listen: SocketAddr::new(ip, a.listen),
        mptcp: true,
        tfo_qlen: TFO_QLEN,
        tfo_key,
        backlog: BACKLOG,
        answer,
        reply: match a.reply {
            Reply::Hold => ReplyMode::Hold,
            Reply::Early => ReplyMode::Early,
        },
        cpus: cpus(&a.dpdk),
        duration: a.duration,
        ..ServeConfig::default()
    };
    if a.duration == Some(Duration::ZERO) {
        bail!("--duration 0: expected a positive duration");
    }
    let stop = mptfo_bench::sys::stop_on_signals().context("installing signal handlers")?;
    let before = Snapshot::take().context("reading /proc/net/snmp and /proc/net/netstat")?;
    let ls = kserve::listeners(&cfg).with_context(|| {
        format!(
            "listening on {} (IPPROTO_MPTCP, TCP_FASTOPEN {TFO_QLEN}, SO_REUSEPORT)",
            cfg.listen
        )
    })?;
    let t0 = Instant::now();
    println!(
        "listening on {} (Linux {} kernel stack: MPTCP listener, TCP clients welcome; TFO queue {TFO_QLEN}, key {}; mode {:?}{}, reply {:?}; {})",
        cfg.listen,
        kernel_release(),
        if tfo_key.is_some() { "--tfo-key" } else { "the namespace's" },
        a.mode,
        match answer {
            Answer::Rpc { request_bytes, response_bytes } => format!(" {request_bytes} B -> {response_bytes} B"),
            Answer::Echo => String::new(),
        },
        a.reply,
        cpu_text(&cfg.cpus)
    );
    let _ = std::io::stdout().flush();
    let per = kserve::run(&cfg, ls, stop)?;
    let secs = t0.elapsed().as_secs_f64();
    let after = Snapshot::take().context("reading /proc/net/snmp and /proc/net/netstat")?;
    let st = ServeStats::merged(&per);
    println!(
        "serve (kernel) stopped after {secs:.3} s{}",
        if mptfo_bench::sys::signals_received() > 0 {
            " (signal)"
        } else {
            ""
        }
    );
    println!(
        "  connections            {} accepted, {} closed, {} errors, {} still open ({} accept errors{})",
        st.accepted,
        st.closed,
        st.errors,
        st.open_at_end,
        st.accept_errors,
        st.last_accept_error
            .as_deref()
            .map_or(String::new(), |e| format!(", the last: {e}"))
    );
    println!(
        "  requests               {} ({:.0}/s; rx {} B, tx {} B); {} connections had their request at accept (SYN data)",
        st.requests,
        st.requests as f64 / secs.max(1e-9),
        st.rx_bytes,
        st.tx_bytes,
        st.data_at_accept
    );
    match cfg.reply {
        ReplyMode::Hold => {
            let h = Latency::of(&st.hold_us);
            let total_ms = st.hold_us.mean() * st.hold_us.len() as f64 / 1e3;
            println!(
                "  held answers           {} of {} connections ({:.1} %) waited for the client's MPTCP key: total {total_ms:.3} ms, p50 {}, p99 {}, max {}",
                st.held,
                st.accepted,
                100.0 * st.held as f64 / st.accepted.max(1) as f64,
                report::us(h.p50_us),
                report::us(h.p99_us),
                report::us(h.max_us)
            );
        }
        ReplyMode::Early => {
            println!(
                "  early answers          {} written before the client's MPTCP key; {} of them stalled (unacknowledged after {} ms){}",
                st.early_before_key,
                st.stalled,
                STALL.as_millis(),
                if st.unwatched > 0 {
                    format!(", {} could not be watched (SIOCOUTQ)", st.unwatched)
                } else {
                    String::new()
                }
            );
        }
    }
    if per.len() > 1 {
        for w in &per {
            println!(
                "  worker cpu {}{}: {} accepted, {} requests, {} held",
                w.cpu.map_or("-".into(), |c| c.to_string()),
                if w.pinned {
                    " (pinned)"
                } else {
                    " (not pinned)"
                },
                w.accepted,
                w.requests,
                w.held
            );
        }
    }
    print_counters(&after.delta(&before));
    Ok(())
}

/// `mptfo loadgen --stack kernel`.
pub(crate) fn loadgen(a: &LoadgenArgs, m: Option<&ArgMatches>) -> Result<()> {
    refuse_dpdk_flags(m, &[("time_wait", "--time-wait")])?;
    let Some(target) = a.target else {
        bail!("--target ADDR:PORT is required");
    };
    let source = one_ip(&a.dpdk, "the source address")?;
    let duration = match (a.duration, a.transactions) {
        (None, None) => Some(Duration::from_secs(2)),
        (d, _) => d,
    };
    let shape = match a.rate {
        Some(rate) => Shape::Open { rate },
        None => {
            if a.connections == 0 {
                bail!("--connections 0: expected at least 1");
            }
            Shape::Closed {
                connections: a.connections,
            }
        }
    };
    let response_bytes = a.response_bytes.unwrap_or(a.request_bytes);
    let drain = a.drain;
    let cfg = LoadConfig {
        target,
        source,
        mptcp: a.mptcp.on(),
        tfo: if a.tfo == OnOff::On {
            TfoStyle::SendTo
        } else {
            TfoStyle::Off
        },
        request_bytes: a.request_bytes,
        response_bytes,
        shape,
        requests_per_connection: a.requests_per_connection,
        duration,
        transactions: a.transactions,
        cpus: cpus(&a.dpdk),
        drain,
        time_limit: a
            .time_limit
            .unwrap_or(duration.unwrap_or(Duration::ZERO) + drain + Duration::from_secs(30)),
        timeout: TRANSACTION_TIMEOUT,
    };
    cfg.validate().map_err(anyhow::Error::msg)?;
    let stop = mptfo_bench::sys::stop_on_signals().context("installing signal handlers")?;
    let setup = format!(
        "Linux {} kernel stack, {} sockets (epoll); {target}{}; {}",
        kernel_release(),
        if cfg.mptcp { "MPTCP" } else { "TCP" },
        source.map_or(String::new(), |s| format!(" from {s}")),
        cpu_text(&cfg.cpus)
    );
    println!("loadgen: {setup}");
    if cfg.tfo != TfoStyle::Off {
        // One transaction first, with a cookie request when no cookie is
        // cached, so that the load's SYNs carry data (not counted).
        let cached = kload::learn_cookie(&cfg).with_context(|| {
            format!("first transaction (TFO cookie request) to {target} failed")
        })?;
        println!(
            "  TFO cookie: {}",
            if cached {
                "cached already (the first SYN carried the request)"
            } else {
                "requested (or renewed) by a first transaction, not counted"
            }
        );
    }
    let before = Snapshot::take().context("reading /proc/net/snmp and /proc/net/netstat")?;
    let progress: Vec<Arc<Progress>> = (0..cfg.workers())
        .map(|_| Arc::new(Progress::default()))
        .collect();
    let t0 = Instant::now();
    let wall_start = Instant::now();
    let (per, intervals) = std::thread::scope(|sc| -> Result<_> {
        let h = sc.spawn(|| kload::run(&cfg, stop, &progress));
        let mut ticker = IntervalTicker::new(a.interval, 0, true);
        let counts = |base: &Snapshot| -> ProgressCounts {
            let d = Snapshot::take().map(|s| s.delta(base)).ok();
            let g = |n: &str| d.as_ref().map_or(0, |d| d.get(n));
            let mut c = ProgressCounts {
                tfo_accepted: g("TcpExtTCPFastOpenActive")
                    .saturating_sub(g("TcpExtTCPFastOpenActiveFail")),
                fallbacks: g("MPTcpExtMPCapableFallbackSYNACK")
                    + g("MPTcpExtMPCapableDataFallback")
                    + g("MPTcpExtDssFallback"),
                retransmissions: g("TcpRetransSegs"),
                ..ProgressCounts::default()
            };
            for p in &progress {
                c.connections += p.connections.load(Ordering::Relaxed);
                c.requests += p.completed.load(Ordering::Relaxed);
                c.errors += p.failed.load(Ordering::Relaxed);
            }
            c
        };
        while !progress.iter().all(|p| p.done.load(Ordering::Acquire)) {
            let now = t0.elapsed().as_nanos() as u64;
            let wait = match &mut ticker {
                Some(t) if t.due(now) => {
                    t.tick(now, counts(&before));
                    continue;
                }
                Some(t) => t.next_at().saturating_sub(now).min(50_000_000),
                None => 50_000_000,
            };
            std::thread::sleep(Duration::from_nanos(wait));
        }
        if let Some(t) = &mut ticker {
            t.finish(t0.elapsed().as_nanos() as u64, counts(&before));
        }
        let per = h
            .join()
            .map_err(|_| anyhow::anyhow!("the load generator panicked"))??;
        Ok((per, ticker.map(|t| t.intervals).unwrap_or_default()))
    })?;
    let wall = wall_start.elapsed();
    let after = Snapshot::take().context("reading /proc/net/snmp and /proc/net/netstat")?;
    let delta = after.delta(&before);
    let st = LoadStats::merged(&per);
    let report = report(&cfg, &st, &per, &delta, wall, setup, intervals);
    print!("{report}");
    println!(
        "  per connection         {} looked at (TCP_INFO/MPTCP_INFO at the first reply): {} with the SYN's data acknowledged, {} fallen back to TCP",
        st.checked, st.tfo_acked, st.fallbacks
    );
    if let Shape::Open { rate } = cfg.shape {
        println!(
            "  open loop              {rate} starts/s scheduled; {} started more than {} ms late (latest {:.3} ms); latencies count from the intended start",
            st.late_starts,
            kload::LATE_START.as_millis(),
            st.max_late.as_secs_f64() * 1e3
        );
    }
    if per.len() > 1 {
        for w in &per {
            println!(
                "  worker cpu {}{}: {} transactions, {} failed, {:.3} s CPU",
                w.cpu.map_or("-".into(), |c| c.to_string()),
                if w.pinned {
                    " (pinned)"
                } else {
                    " (not pinned)"
                },
                w.completed,
                w.failed(),
                w.cpu_time.as_secs_f64()
            );
        }
    }
    print_counters(&delta);
    if let Some(path) = &a.json {
        std::fs::write(path, report.to_json() + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("  JSON report written to {}", path.display());
    }
    if report.run.wall_timed_out {
        bail!("the run hit its time limit (--time-limit)");
    }
    if report.transactions == 0 {
        bail!("no transaction completed");
    }
    Ok(())
}

/// The run as a [`Report`], like mptfo's own loadgen's.
#[allow(clippy::too_many_arguments)]
fn report(
    cfg: &LoadConfig,
    st: &LoadStats,
    per: &[LoadStats],
    d: &Snapshot,
    wall: Duration,
    setup: String,
    intervals: Vec<mptfo_bench::report::Interval>,
) -> Report {
    let load_seconds = match (st.first_start, st.last_reply) {
        (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    let rate = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    let cpu_seconds = st.cpu_time.as_secs_f64();
    let wall_seconds = wall.as_secs_f64();
    let (kind, rate_per_s) = match cfg.shape {
        Shape::Closed { .. } => ("closed", 0.0),
        Shape::Open { rate } => ("open", rate),
    };
    let mut reasons: Vec<(String, u64)> = st
        .failure_list()
        .into_iter()
        .map(|(n, v)| (format!("client {n}"), v))
        .collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
    let errors_client = st.failed();
    let fb = Fallbacks {
        synack: d.get("MPTcpExtMPCapableFallbackSYNACK"),
        ack: d.get("MPTcpExtMPCapableFallbackACK"),
        data: d.get("MPTcpExtMPCapableDataFallback") + d.get("MPTcpExtDssFallback"),
        total: 0,
        mptcp_transactions: st.mptcp_transactions,
    };
    let active = d.get("TcpExtTCPFastOpenActive");
    let active_fail = d.get("TcpExtTCPFastOpenActiveFail");
    Report {
        stack: "kernel",
        cores: per.len(),
        load: LoadShape {
            kind,
            connections: match cfg.shape {
                Shape::Closed { connections } => connections,
                Shape::Open { .. } => st.max_in_flight as usize,
            },
            rate_per_s,
            requests_per_connection: cfg.requests_per_connection,
            from_intended_start: kind == "open",
        },
        setup,
        clock: "wall",
        config: ReportConfig {
            duration_s: cfg.duration.map(|d| d.as_secs_f64()),
            transactions_limit: cfg.transactions,
            // Open loop: the most transactions that were in flight.
            concurrency: match cfg.shape {
                Shape::Closed { connections } => connections,
                Shape::Open { .. } => st.max_in_flight as usize,
            },
            request_bytes: cfg.request_bytes,
            response_bytes: cfg.response_bytes,
            mode: "rpc",
            tfo: cfg.tfo != TfoStyle::Off,
            mptcp: cfg.mptcp,
            rtt_ms: 0.0,
            reply: "n/a (server's)",
            seed: 0,
            time_wait_s: 0.0,
            loss: 0.0,
        },
        transactions: st.completed,
        started: st.started,
        rate: Rates {
            load_seconds,
            per_load_second: rate(st.completed, load_seconds),
            virtual_seconds: 0.0,
            per_virtual_second: 0.0,
            wall_seconds,
            cpu_seconds,
            per_cpu_second_one_core_both_ends: rate(st.completed, cpu_seconds),
            per_wall_second_one_core_both_ends: rate(st.completed, wall_seconds),
        },
        tfo: TfoFigures {
            accepted: st.tfo_acked,
            rejected: active_fail,
            client_active: active,
            client_active_fail: active_fail,
            cookie_requests: 0,
            server_counted: false,
        },
        fallbacks: Fallbacks {
            total: fb.synack + fb.ack + fb.data,
            ..fb
        },
        retransmissions: Retransmissions {
            client: d.get("TcpRetransSegs"),
            server: 0,
            syn: d.get("TcpExtTCPSynRetrans"),
            mptcp: d.get("MPTcpExtMPTCPRetrans"),
            total: d.get("TcpRetransSegs"),
        },
        errors: Errors {
            client: errors_client,
            server: 0,
            incomplete: st.failures_of(kload::Failure::Incomplete),
            overlong: st.failures_of(kload::Failure::Overlong),
            unfinished: st.unfinished,
            unclosed: 0,
            reasons,
            total: errors_client,
        },
        latency: st.hists.latencies(),
        run: RunInfo {
            frames: 0,
            polls: 0,
            port_exhausted: st.failures_of(kload::Failure::NoPort),
            drain_timed_out: st.unfinished > 0,
            wall_timed_out: per.iter().any(|w| w.timed_out),
            stuck: false,
            clock_nudges: 0,
            open_at_end: (st.unfinished as usize, 0),
            stragglers: Vec::new(),
        },
        client_counters: d.nonzero(),
        server_counters: Vec::new(),
        paths: Vec::new(),
        joins: None,
        intervals,
    }
}
