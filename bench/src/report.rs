//! The figures of a run, as text for a person and as JSON for scripts.

use std::fmt;

use hdrhistogram::Histogram;
use mptfo_engine::config::ReplyTiming;
use mptfo_engine::counters::Counters;
use mptfo_engine::stack::CloseReason;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::loadgen::{GeneratorFigures, LoadgenApp, LoadgenConfig};
use crate::mem::{JoinStats, Outcome, PathStats};
use crate::serve::ServeApp;

/// `Type { f: sum(&|r| r.group.f), ... , rest }`: a figure group of
/// [`Report::merge`] whose fields before `;` are summed over the parts
/// with `sum`, the ones after given as they are.
macro_rules! summed {
    ($sum:ident, $group:ident, $ty:ident { $($f:ident),* ; $($rest:tt)* }) => {
        $ty {
            $($f: $sum(&|r| r.$group.$f),)*
            $($rest)*
        }
    };
}

/// Summary of one latency histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Values recorded.
    pub count: u64,
    /// Smallest value.
    pub min_us: f64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest value.
    pub max_us: f64,
}

impl Latency {
    /// Summary of a histogram of microseconds. Each figure is the lowest
    /// value of its histogram bucket: exact below 16 ms, within 0.01 %
    /// above (the histograms keep 4 significant digits).
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let us = |v: u64| h.lowest_equivalent(v) as f64;
        Latency {
            count: h.len(),
            min_us: us(h.min()),
            mean_us: h.mean(),
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
        }
    }
}

/// The run's settings, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportConfig {
    /// Load duration in virtual seconds, if bounded by time.
    pub duration_s: Option<f64>,
    /// Transaction limit, if bounded by count.
    pub transactions_limit: Option<u64>,
    /// Transactions in flight at once.
    pub concurrency: usize,
    /// Bytes per request.
    pub request_bytes: usize,
    /// Bytes per reply.
    pub response_bytes: usize,
    /// "rpc" or "echo".
    pub mode: &'static str,
    /// TFO on the client.
    pub tfo: bool,
    /// MPTCP on the client.
    pub mptcp: bool,
    /// Added round-trip time, ms.
    pub rtt_ms: f64,
    /// "early" or "hold".
    pub reply: &'static str,
    /// Seed.
    pub seed: u64,
    /// TIME_WAIT length, virtual seconds.
    pub time_wait_s: f64,
    /// Frame loss probability of the link, each direction.
    pub loss: f64,
}

/// Transactions per second, several ways.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    /// Seconds from the first SYN to the last reply byte, on the run's
    /// clock (`Report::clock`: virtual or wall).
    pub load_seconds: f64,
    /// Completed transactions per `load_seconds`.
    pub per_load_second: f64,
    /// Virtual seconds from the first SYN to the last reply byte (0 in a
    /// live, wall-clock run).
    pub virtual_seconds: f64,
    /// Completed transactions per virtual second (what the load would see
    /// on a link with this RTT; not meaningful at RTT 0, where virtual
    /// time moves only on timers).
    pub per_virtual_second: f64,
    /// Wall-clock seconds spent running both stacks (drain included).
    pub wall_seconds: f64,
    /// CPU seconds the one thread running both stacks used over the same
    /// span (below `wall_seconds` when other work shared the core).
    pub cpu_seconds: f64,
    /// Completed transactions per CPU-second of that thread: the per-core
    /// engine figure, robust against other load on the machine.
    pub per_cpu_second_one_core_both_ends: f64,
    /// Completed transactions per wall-clock second with client and
    /// server stacks on the same single core (the mem link and both
    /// applications included): the engine-only figure, no NIC, no kernel.
    pub per_wall_second_one_core_both_ends: f64,
}

/// TFO outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TfoFigures {
    /// SYN data accepted by the server (TcpExtTCPFastOpenPassive).
    pub accepted: u64,
    /// SYN data refused by the server (TcpExtTCPFastOpenPassiveFail).
    pub rejected: u64,
    /// SYNs sent with data and a cookie (client TcpExtTCPFastOpenActive).
    pub client_active: u64,
    /// SYN data the server did not acknowledge (client
    /// TcpExtTCPFastOpenActiveFail).
    pub client_active_fail: u64,
    /// Cookie requests answered (server TcpExtTCPFastOpenCookieReqd).
    pub cookie_requests: u64,
    /// The server-side figures (`accepted`, `rejected`, `cookie_requests`)
    /// are the server's own counters; false in a live run against another
    /// server, where `accepted` and `rejected` are the client's view (SYN
    /// data acknowledged or not) and `cookie_requests` is unknown (0).
    pub server_counted: bool,
}

/// MPTCP fallbacks to plain TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fallbacks {
    /// Client: SYN/ACK without MP_CAPABLE (MPTcpExtMPCapableFallbackSYNACK).
    pub synack: u64,
    /// Server: third ACK without MP_CAPABLE (MPTcpExtMPCapableFallbackACK).
    pub ack: u64,
    /// Either: first data without a mapping (MPTcpExtMPCapableDataFallback).
    pub data: u64,
    /// Sum of the above.
    pub total: u64,
    /// Completed transactions whose connection was still MPTCP.
    pub mptcp_transactions: u64,
}

/// Retransmissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Retransmissions {
    /// Client TcpRetransSegs.
    pub client: u64,
    /// Server TcpRetransSegs.
    pub server: u64,
    /// SYN and SYN/ACK retransmissions, both ends (TcpExtTCPSynRetrans).
    pub syn: u64,
    /// Data-level retransmissions, both ends (MPTcpExtMPTCPRetrans).
    pub mptcp: u64,
    /// client + server.
    pub total: u64,
}

/// Errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Errors {
    /// Client connections that ended badly (reason not `Graceful`, or
    /// before the whole reply).
    pub client: u64,
    /// Server connections that ended with a reason other than `Graceful`.
    pub server: u64,
    /// Transactions whose connection ended before the whole reply.
    pub incomplete: u64,
    /// Replies longer than expected.
    pub overlong: u64,
    /// Transactions still open when the run ended (drain limit).
    pub unfinished: u64,
    /// Connections (client + server) still not closed when the run ended,
    /// their reply complete or not: a close that never finishes.
    pub unclosed: u64,
    /// Close reasons of the failed connections, both ends (a JSON
    /// object: reason -> count).
    #[serde(serialize_with = "as_map")]
    pub reasons: Vec<(String, u64)>,
    /// client + server + overlong + unclosed.
    pub total: u64,
}

/// Latencies, one value per request (per connection for
/// `syn_to_synack`), from the start of the request: the `connect` call
/// (the SYN, with the request in it under TFO) for the first request of
/// a connection, the moment the request was written for the second and
/// later ones of a kept-alive connection (when
/// `load.requests_per_connection` is more than 1: those share these
/// histograms). In an open loop (`load.from_intended_start`) the first
/// request's start is the connection's intended start time on the
/// schedule, not the moment the SYN actually left.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latencies {
    /// From the start of a request to the last byte of its reply.
    pub syn_to_last_byte: Latency,
    /// From the start of a request to the first byte of its reply.
    pub syn_to_first_byte: Latency,
    /// From `connect` (the SYN; the intended start in an open loop) to
    /// the SYN/ACK (the connection established on the client). One value
    /// per connection.
    pub syn_to_synack: Latency,
}

/// The shape of the offered load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadShape {
    /// "closed" (a fixed number of transactions in flight) or "open"
    /// (transactions started at a fixed rate, whatever the replies do).
    pub kind: &'static str,
    /// Closed loop: connections in flight at once, all workers together.
    /// Open loop: the cap on connections in flight (starts beyond it are
    /// refused and counted, not queued).
    pub connections: usize,
    /// Open loop: connections started per second, all workers together
    /// (0 in a closed loop); each carries `requests_per_connection`
    /// transactions, so with 1 this is transactions started per second.
    pub rate_per_s: f64,
    /// Requests per connection: 1 is one connection per transaction
    /// (CPS); more keeps the connection for that many (RPS).
    pub requests_per_connection: u64,
    /// Latencies count from the intended start of each transaction (open
    /// loop), so queueing in the load generator is not hidden
    /// (coordinated omission).
    pub from_intended_start: bool,
}

impl LoadShape {
    /// The shape a load generator's configuration gives.
    pub fn of(c: &LoadgenConfig) -> LoadShape {
        LoadShape {
            kind: if c.rate.is_some() { "open" } else { "closed" },
            connections: c.concurrency,
            rate_per_s: c.rate.unwrap_or(0.0),
            requests_per_connection: c.requests_per_connection.max(1),
            from_intended_start: c.rate.is_some(),
        }
    }
}

impl Default for LoadShape {
    fn default() -> LoadShape {
        LoadShape {
            kind: "closed",
            connections: 1,
            rate_per_s: 0.0,
            requests_per_connection: 1,
            from_intended_start: false,
        }
    }
}

/// One line of the per-second progress of a live run: what happened in
/// the interval that ended at `t_s`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Interval {
    /// Seconds since the load started, at the end of the interval.
    pub t_s: f64,
    /// Length of the interval, seconds.
    pub len_s: f64,
    /// Connections opened (SYNs sent), per second.
    pub connections_per_s: f64,
    /// Transactions (requests answered in full), per second.
    pub requests_per_s: f64,
    /// SYN data accepted, in the interval.
    pub tfo_accepted: u64,
    /// MPTCP fallbacks, in the interval.
    pub fallbacks: u64,
    /// Retransmitted segments, in the interval.
    pub retransmissions: u64,
    /// Connection errors, in the interval.
    pub errors: u64,
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "t={:7.1}s conn/s={:10.0} req/s={:10.0} tfo={:8} fallback={:6} retrans={:6} errors={:6}",
            self.t_s,
            self.connections_per_s,
            self.requests_per_s,
            self.tfo_accepted,
            self.fallbacks,
            self.retransmissions,
            self.errors
        )
    }
}

/// How the run went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunInfo {
    /// Frames the two workers received.
    pub frames: u64,
    /// Worker loop iterations.
    pub polls: u64,
    /// Connects that had to wait for a free source port (all in
    /// TIME_WAIT), each counted once however often it was retried.
    pub port_exhausted: u64,
    /// The drain limit ended the run with connections open.
    pub drain_timed_out: bool,
    /// The wall-clock limit ended the run.
    pub wall_timed_out: bool,
    /// The run stopped because nothing could happen any more.
    pub stuck: bool,
    /// Clock nudges of the driver (a timer due that never fired).
    pub clock_nudges: u64,
    /// Connections still open at the end: client, server.
    pub open_at_end: (usize, usize),
    /// The first of them, with their state.
    pub stragglers: Vec<String>,
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Whose stack the load generator ran on: "mptfo" or "kernel" (the
    /// Linux socket API).
    pub stack: &'static str,
    /// Worker cores (threads) of the load generator.
    pub cores: usize,
    /// Closed or open loop, CPS or RPS.
    pub load: LoadShape,
    /// What ran: "mem link, virtual time, client and server in one process
    /// on one core", or the live run's device and target.
    pub setup: String,
    /// The clock latencies and `rate.load_seconds` are measured on:
    /// "virtual" (mem link) or "wall" (live run on a real port).
    pub clock: &'static str,
    /// Settings.
    pub config: ReportConfig,
    /// Transactions completed (whole reply received).
    pub transactions: u64,
    /// Transactions started.
    pub started: u64,
    /// Rates.
    pub rate: Rates,
    /// TCP Fast Open.
    pub tfo: TfoFigures,
    /// MPTCP fallbacks.
    pub fallbacks: Fallbacks,
    /// Retransmissions.
    pub retransmissions: Retransmissions,
    /// Errors.
    pub errors: Errors,
    /// Latencies (virtual time).
    pub latency: Latencies,
    /// The driver's figures.
    pub run: RunInfo,
    /// Non-zero counters of the client stack (a JSON object: nstat name ->
    /// value, in nstat order).
    #[serde(serialize_with = "as_map")]
    pub client_counters: Vec<(&'static str, u64)>,
    /// Non-zero counters of the server stack (as `client_counters`).
    #[serde(serialize_with = "as_map")]
    pub server_counters: Vec<(&'static str, u64)>,
    /// Per path (mem link): frames and bytes each way (empty in a live run).
    pub paths: Vec<PathStats>,
    /// MP_JOIN subflows, with two paths (`null` otherwise).
    pub joins: Option<JoinStats>,
    /// Per-second progress of a live run (empty in a mem-link run).
    pub intervals: Vec<Interval>,
}

/// Serialises `(name, value)` pairs as one JSON object, in order.
fn as_map<S: Serializer, K: Serialize>(pairs: &[(K, u64)], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

fn nonzero(c: &Counters) -> Vec<(&'static str, u64)> {
    c.iter().filter(|&(_, v)| v != 0).collect()
}

fn reason_name(r: CloseReason) -> String {
    format!("{r:?}")
}

fn secs(d: core::time::Duration) -> f64 {
    d.as_secs_f64()
}

/// Everything a report is made from: a mem-link run ([`Report::new`]) or
/// a live run on a real port (`crate::live`).
pub struct ReportInput<'a> {
    /// What ran.
    pub setup: String,
    /// Latencies and rates in wall-clock time (a live run), not virtual.
    pub real_time: bool,
    /// Settings, as reported.
    pub config: ReportConfig,
    /// The load generator.
    pub loadgen: &'a LoadgenApp,
    /// The server application, when it ran in this process.
    pub server: Option<&'a ServeApp>,
    /// The client stack's counters.
    pub client_counters: &'a Counters,
    /// The server stack's counters, when the server is ours.
    pub server_counters: Option<&'a Counters>,
    /// Nanoseconds from the first SYN to the last reply, on the run's clock.
    pub load_ns: u64,
    /// Wall-clock nanoseconds of the run.
    pub wall_ns: u64,
    /// CPU nanoseconds of the thread that ran the stacks.
    pub cpu_ns: u64,
    /// Worker polls.
    pub polls: u64,
    /// Frames received.
    pub frames: u64,
    /// The drain limit ended the run.
    pub drain_timed_out: bool,
    /// The wall-clock (or duration) limit ended the run.
    pub wall_timed_out: bool,
    /// Nothing could happen any more.
    pub stuck: bool,
    /// Clock nudges of a virtual-time driver.
    pub clock_nudges: u64,
    /// Connections still open at the end: client, server.
    pub open_at_end: (usize, usize),
    /// The first of them, with their state.
    pub stragglers: Vec<String>,
}

impl Report {
    /// The report of a finished mem-link run.
    pub fn new(o: &Outcome) -> Report {
        let cfg = &o.config;
        let mut r = Report::from_input(ReportInput {
            setup: "mem link, virtual time; client and server stacks in one process on one core"
                .into(),
            real_time: false,
            config: ReportConfig {
                duration_s: cfg.duration.map(secs),
                transactions_limit: cfg.transactions,
                concurrency: cfg.concurrency,
                request_bytes: cfg.request_bytes,
                response_bytes: cfg.reply_bytes(),
                mode: if cfg.echo { "echo" } else { "rpc" },
                tfo: cfg.tfo,
                mptcp: cfg.mptcp,
                rtt_ms: cfg.rtt.as_secs_f64() * 1e3,
                reply: match cfg.reply {
                    ReplyTiming::Early => "early",
                    ReplyTiming::Hold => "hold",
                },
                seed: cfg.seed,
                time_wait_s: secs(cfg.time_wait),
                loss: cfg.loss,
            },
            loadgen: &o.loadgen,
            server: Some(&o.server),
            client_counters: &o.client_counters,
            server_counters: Some(&o.server_counters),
            load_ns: o.driver.load_ns,
            wall_ns: o.driver.wall_ns,
            cpu_ns: o.driver.cpu_ns,
            polls: o.driver.polls,
            frames: o.driver.frames,
            drain_timed_out: o.driver.drain_timed_out,
            wall_timed_out: o.driver.wall_timed_out,
            stuck: o.driver.stuck,
            clock_nudges: o.driver.nudges,
            open_at_end: o.open_at_end,
            stragglers: o.stragglers.clone(),
        });
        r.paths = o.paths.clone();
        r.joins = o.joins;
        r
    }

    /// The report of any run.
    pub fn from_input(i: ReportInput<'_>) -> Report {
        let lg = &i.loadgen.stats;
        let cc = i.client_counters;
        let empty = Counters::default();
        let sc = i.server_counters.unwrap_or(&empty);
        let load_seconds = i.load_ns as f64 / 1e9;
        let virtual_seconds = if i.real_time { 0.0 } else { load_seconds };
        let wall_seconds = i.wall_ns as f64 / 1e9;
        let cpu_seconds = i.cpu_ns as f64 / 1e9;
        let rate = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
        let mut reasons: Vec<(String, u64)> = Vec::new();
        for &(r, n) in &i.loadgen.error_reasons {
            reasons.push((format!("client {}", reason_name(r)), n));
        }
        if let Some(s) = i.server {
            for &(r, n) in &s.error_reasons {
                reasons.push((format!("server {}", reason_name(r)), n));
            }
        }
        if lg.incomplete > 0 {
            reasons.push(("client closed before the whole reply".into(), lg.incomplete));
        }
        let server_errors = i.server.map_or(0, |s| s.stats.errors);
        let unfinished = i.loadgen.in_flight() as u64;
        let unclosed = (i.open_at_end.0 + i.open_at_end.1) as u64;
        let fallbacks = Fallbacks {
            synack: cc.mptcp_mp_capable_fallback_synack + sc.mptcp_mp_capable_fallback_synack,
            ack: cc.mptcp_mp_capable_fallback_ack + sc.mptcp_mp_capable_fallback_ack,
            data: cc.mptcp_mp_capable_data_fallback + sc.mptcp_mp_capable_data_fallback,
            total: 0,
            mptcp_transactions: lg.completed_mptcp,
        };
        let tfo = match i.server_counters {
            Some(sc) => TfoFigures {
                accepted: sc.tcp_ext_tcp_fast_open_passive,
                rejected: sc.tcp_ext_tcp_fast_open_passive_fail,
                client_active: cc.tcp_ext_tcp_fast_open_active,
                client_active_fail: cc.tcp_ext_tcp_fast_open_active_fail,
                cookie_requests: sc.tcp_ext_tcp_fast_open_cookie_reqd,
                server_counted: true,
            },
            None => TfoFigures {
                accepted: cc
                    .tcp_ext_tcp_fast_open_active
                    .saturating_sub(cc.tcp_ext_tcp_fast_open_active_fail),
                rejected: cc.tcp_ext_tcp_fast_open_active_fail,
                client_active: cc.tcp_ext_tcp_fast_open_active,
                client_active_fail: cc.tcp_ext_tcp_fast_open_active_fail,
                cookie_requests: 0,
                server_counted: false,
            },
        };
        Report {
            stack: "mptfo",
            cores: 1,
            load: LoadShape::of(i.loadgen.config()),
            setup: i.setup,
            clock: if i.real_time { "wall" } else { "virtual" },
            config: i.config,
            transactions: lg.completed,
            started: lg.started,
            rate: Rates {
                load_seconds,
                per_load_second: rate(lg.completed, load_seconds),
                virtual_seconds,
                per_virtual_second: rate(lg.completed, virtual_seconds),
                wall_seconds,
                per_wall_second_one_core_both_ends: rate(lg.completed, wall_seconds),
                cpu_seconds,
                per_cpu_second_one_core_both_ends: rate(lg.completed, cpu_seconds),
            },
            tfo,
            fallbacks: Fallbacks {
                total: fallbacks.synack + fallbacks.ack + fallbacks.data,
                ..fallbacks
            },
            retransmissions: Retransmissions {
                client: cc.tcp_retrans_segs,
                server: sc.tcp_retrans_segs,
                syn: cc.tcp_ext_tcp_syn_retrans + sc.tcp_ext_tcp_syn_retrans,
                mptcp: cc.mptcp_mptcp_retrans + sc.mptcp_mptcp_retrans,
                total: cc.tcp_retrans_segs + sc.tcp_retrans_segs,
            },
            errors: Errors {
                client: lg.errors,
                server: server_errors,
                incomplete: lg.incomplete,
                overlong: lg.overlong,
                unfinished,
                unclosed,
                reasons,
                total: lg.errors + server_errors + lg.overlong + unclosed,
            },
            latency: i.loadgen.hists.latencies(),
            run: RunInfo {
                frames: i.frames,
                polls: i.polls,
                port_exhausted: lg.port_exhausted,
                drain_timed_out: i.drain_timed_out,
                wall_timed_out: i.wall_timed_out,
                stuck: i.stuck,
                clock_nudges: i.clock_nudges,
                open_at_end: i.open_at_end,
                stragglers: i.stragglers,
            },
            client_counters: nonzero(cc),
            server_counters: i.server_counters.map(nonzero).unwrap_or_default(),
            paths: Vec::new(),
            joins: None,
            intervals: Vec::new(),
        }
    }

    /// One report of several workers' reports (one per core, each with
    /// `cores` 1 or more): counts, counters and errors summed, flags
    /// or-ed, the load shape and settings totalled (connections in flight,
    /// rate, transaction limit), wall time the longest, CPU time summed.
    /// Latency summaries cannot be merged: `latency` is the summary of
    /// the merged histograms ([`crate::hist::LatencyHists::merge`]), and
    /// `load_seconds` the span of the whole load (first SYN of any worker
    /// to the last reply of any). `intervals` and `paths` start empty.
    /// `None` without parts.
    pub fn merge(parts: &[&Report], latency: Latencies, load_seconds: f64) -> Option<Report> {
        let first = *parts.first()?;
        let sum = |f: &dyn Fn(&Report) -> u64| parts.iter().map(|r| f(r)).sum::<u64>();
        let rate = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
        let transactions = sum(&|r| r.transactions);
        let wall_seconds = parts
            .iter()
            .map(|r| r.rate.wall_seconds)
            .fold(0.0, f64::max);
        let cpu_seconds: f64 = parts.iter().map(|r| r.rate.cpu_seconds).sum();
        let virtual_seconds = if first.clock == "virtual" {
            load_seconds
        } else {
            0.0
        };
        let reasons = sum_by_name(parts.iter().map(|r| &r.errors.reasons));
        let counters = |pick: &dyn Fn(&Report) -> &Vec<(&'static str, u64)>| {
            sum_by_name(parts.iter().map(|r| pick(r)))
        };
        let mut config = first.config.clone();
        config.concurrency = parts.iter().map(|r| r.config.concurrency).sum();
        config.transactions_limit = parts
            .iter()
            .map(|r| r.config.transactions_limit)
            .try_fold(0u64, |a, t| t.map(|t| a + t));
        Some(Report {
            stack: first.stack,
            cores: parts.iter().map(|r| r.cores).sum(),
            load: LoadShape {
                connections: parts.iter().map(|r| r.load.connections).sum(),
                rate_per_s: parts.iter().map(|r| r.load.rate_per_s).sum(),
                ..first.load.clone()
            },
            setup: first.setup.clone(),
            clock: first.clock,
            config,
            transactions,
            started: sum(&|r| r.started),
            rate: Rates {
                load_seconds,
                per_load_second: rate(transactions, load_seconds),
                virtual_seconds,
                per_virtual_second: rate(transactions, virtual_seconds),
                wall_seconds,
                cpu_seconds,
                per_cpu_second_one_core_both_ends: rate(transactions, cpu_seconds),
                per_wall_second_one_core_both_ends: rate(transactions, wall_seconds),
            },
            tfo: summed!(sum, tfo, TfoFigures {
                accepted, rejected, client_active, client_active_fail, cookie_requests;
                server_counted: parts.iter().all(|r| r.tfo.server_counted),
            }),
            fallbacks: summed!(sum, fallbacks, Fallbacks {
                synack, ack, data, total, mptcp_transactions;
            }),
            retransmissions: summed!(sum, retransmissions, Retransmissions {
                client, server, syn, mptcp, total;
            }),
            errors: summed!(sum, errors, Errors {
                client, server, incomplete, overlong, unfinished, unclosed, total;
                reasons,
            }),
            latency,
            run: RunInfo {
                frames: sum(&|r| r.run.frames),
                polls: sum(&|r| r.run.polls),
                port_exhausted: sum(&|r| r.run.port_exhausted),
                drain_timed_out: parts.iter().any(|r| r.run.drain_timed_out),
                wall_timed_out: parts.iter().any(|r| r.run.wall_timed_out),
                stuck: parts.iter().any(|r| r.run.stuck),
                clock_nudges: sum(&|r| r.run.clock_nudges),
                open_at_end: (
                    parts.iter().map(|r| r.run.open_at_end.0).sum(),
                    parts.iter().map(|r| r.run.open_at_end.1).sum(),
                ),
                stragglers: parts
                    .iter()
                    .flat_map(|r| r.run.stragglers.iter().cloned())
                    .take(8)
                    .collect(),
            },
            client_counters: counters(&|r| &r.client_counters),
            server_counters: counters(&|r| &r.server_counters),
            paths: Vec::new(),
            joins: None,
            intervals: Vec::new(),
        })
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises")
    }
}

/// `(name, count)` lists added up by name, in the order names first
/// appear.
fn sum_by_name<'a, K: PartialEq + Clone + 'a>(
    lists: impl Iterator<Item = &'a Vec<(K, u64)>>,
) -> Vec<(K, u64)> {
    let mut all: Vec<(K, u64)> = Vec::new();
    for list in lists {
        for (k, n) in list {
            match all.iter_mut().find(|(x, _)| x == k) {
                Some((_, m)) => *m += n,
                None => all.push((k.clone(), *n)),
            }
        }
    }
    all
}

/// A duration given in microseconds, with a fitting unit (µs, ms or s).
pub fn us(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{:.3} s", v / 1e6)
    } else if v >= 1_000.0 {
        format!("{:.3} ms", v / 1e3)
    } else {
        format!("{v:.1} µs")
    }
}

fn latency_line(f: &mut fmt::Formatter<'_>, name: &str, l: &Latency) -> fmt::Result {
    writeln!(
        f,
        "  {name:<22} p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        us(l.p50_us),
        us(l.p90_us),
        us(l.p99_us),
        us(l.p999_us),
        us(l.max_us)
    )
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_table(f, None)
    }
}

/// A report with the load generator's own figures (connections and
/// requests apart, open-loop lateness): the text table with them in it,
/// and the JSON with them under `"generator"`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FullReport<'a> {
    /// The report.
    #[serde(flatten)]
    pub report: &'a Report,
    /// The load generator's figures.
    pub generator: &'a GeneratorFigures,
    /// Further keys of the JSON object (a JSON object, e.g. the per-core
    /// reports of a multi-core run), after the others.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub extra: Option<&'a serde_json::Value>,
}

impl FullReport<'_> {
    /// As pretty-printed JSON: the report's keys, then `"generator"`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises")
    }
}

impl fmt::Display for FullReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.report.write_table(f, Some(self.generator))
    }
}

impl Report {
    /// The text table, with the load generator's own figures when given.
    pub fn write_table(
        &self,
        f: &mut fmt::Formatter<'_>,
        g: Option<&GeneratorFigures>,
    ) -> fmt::Result {
        let c = &self.config;
        let live = self.clock == "wall";
        let onoff = |b: bool| if b { "on" } else { "off" };
        if live {
            writeln!(f, "mptfo loadgen: {}", self.setup)?;
        } else {
            writeln!(f, "mptfo bench: {}", self.setup)?;
        }
        let clock = if live { "wall-clock" } else { "virtual" };
        let bound = match (c.duration_s, c.transactions_limit) {
            (Some(d), Some(n)) => format!("{d} s {clock} or {n} transactions"),
            (Some(d), None) => format!("{d} s {clock}"),
            (None, Some(n)) => format!("{n} transactions"),
            (None, None) => "unbounded".into(),
        };
        if live {
            writeln!(
                f,
                "  config: {bound}, concurrency {}, {} {} B -> {} B, TFO {}, MPTCP {}",
                c.concurrency,
                c.mode,
                c.request_bytes,
                c.response_bytes,
                onoff(c.tfo),
                onoff(c.mptcp),
            )?;
        } else {
            writeln!(
                f,
                "  config: {bound}, concurrency {}, {} {} B -> {} B, TFO {}, MPTCP {}, RTT {} ms, reply {}, seed {}",
                c.concurrency,
                c.mode,
                c.request_bytes,
                c.response_bytes,
                onoff(c.tfo),
                onoff(c.mptcp),
                c.rtt_ms,
                c.reply,
                c.seed
            )?;
        }
        if c.loss > 0.0 {
            writeln!(f, "  link loss {:.3} % each direction", c.loss * 100.0)?;
        }
        let l = &self.load;
        let per_conn = if l.requests_per_connection > 1 {
            format!(
                "{} requests per connection (kept alive)",
                l.requests_per_connection
            )
        } else {
            "1 request per connection".into()
        };
        let cores = if self.cores == 1 {
            "1 core".to_string()
        } else {
            format!("{} cores", self.cores)
        };
        if l.kind == "open" {
            writeln!(
                f,
                "  load: open loop, {} connections/s on a fixed schedule (at most {} in flight), {per_conn}; {} stack, {cores}",
                l.rate_per_s, l.connections, self.stack
            )?;
        } else {
            writeln!(
                f,
                "  load: closed loop, {} connections in flight, {per_conn}; {} stack, {cores}",
                l.connections, self.stack
            )?;
        }
        writeln!(
            f,
            "  transactions           {} completed ({} started)",
            self.transactions, self.started
        )?;
        if let Some(g) = g {
            writeln!(
                f,
                "  connections, requests  {} connections, {} requests: {:.0} connections/s, {:.0} requests/s",
                g.connections, g.requests, g.connections_per_s, g.requests_per_s
            )?;
            if l.kind == "open" {
                writeln!(
                    f,
                    "  schedule               {} starts late by more than 1 ms (worst lag {}), {} refused at the in-flight cap, {} never made",
                    g.late_starts,
                    us(g.max_lag_us),
                    g.refused_starts,
                    g.missed_starts
                )?;
            }
        }
        let r = &self.rate;
        if live {
            writeln!(
                f,
                "  rate                   {:.0} transactions/s over {:.3} s (first SYN -> last reply, wall clock)",
                r.per_load_second, r.load_seconds
            )?;
            writeln!(
                f,
                "  rate, client core      {:.0} transactions/s per CPU-second of the polling thread ({:.3} s CPU, {:.3} s wall; it busy-polls)",
                r.per_cpu_second_one_core_both_ends, r.cpu_seconds, r.wall_seconds
            )?;
        } else {
            writeln!(
                f,
                "  rate, virtual time     {:.0} transactions/s over {:.3} s of virtual time{}",
                r.per_virtual_second,
                r.virtual_seconds,
                if c.rtt_ms == 0.0 {
                    " (RTT 0: virtual time moves only on timers; not a meaningful rate)"
                } else {
                    ""
                }
            )?;
            writeln!(
                f,
                "  rate, engine           {:.0} transactions/s per core: client AND server stacks on ONE core, mem link included",
                r.per_cpu_second_one_core_both_ends
            )?;
            writeln!(
                f,
                "                         ({:.3} s of that thread's CPU time; {:.3} s wall, {:.0} transactions/s wall clock)",
                r.cpu_seconds, r.wall_seconds, r.per_wall_second_one_core_both_ends
            )?;
        }
        let t = &self.tfo;
        if t.server_counted {
            writeln!(
                f,
                "  TFO                    accepted {}, rejected {} (client: {} SYNs with data, {} not acked; {} cookie requests)",
                t.accepted, t.rejected, t.client_active, t.client_active_fail, t.cookie_requests
            )?;
        } else {
            writeln!(
                f,
                "  TFO (client's view)    {} SYNs with data and a cookie: {} acknowledged by the server, {} not",
                t.client_active, t.accepted, t.rejected
            )?;
        }
        let fb = &self.fallbacks;
        writeln!(
            f,
            "  MPTCP fallbacks        {} (SYN/ACK {}, ACK {}, data {}); {} transactions stayed MPTCP",
            fb.total, fb.synack, fb.ack, fb.data, fb.mptcp_transactions
        )?;
        let rt = &self.retransmissions;
        writeln!(
            f,
            "  retransmissions        {} (client {}, server {}; SYN {}, MPTCP data level {})",
            rt.total, rt.client, rt.server, rt.syn, rt.mptcp
        )?;
        let e = &self.errors;
        write!(
            f,
            "  errors                 {} (client {}, server {}, overlong replies {}, never closed {})",
            e.total, e.client, e.server, e.overlong, e.unclosed
        )?;
        if !e.reasons.is_empty() {
            let list: Vec<String> = e.reasons.iter().map(|(r, n)| format!("{r}: {n}")).collect();
            write!(f, " [{}]", list.join(", "))?;
        }
        writeln!(f)?;
        let from = if l.from_intended_start {
            "from the intended start"
        } else {
            "from connect/SYN"
        };
        let later = if l.requests_per_connection > 1 {
            "; later requests of a connection from their write"
        } else {
            ""
        };
        if live {
            writeln!(f, "  latency (wall clock, {from}{later}):")?;
        } else if c.rtt_ms == 0.0 {
            writeln!(
                f,
                "  latency (virtual time, {from}{later}): RTT 0 makes every exchange instant; add --rtt 10ms for latencies"
            )?;
        } else {
            writeln!(f, "  latency (virtual time, {from}{later}):")?;
        }
        latency_line(f, "SYN -> SYN/ACK", &self.latency.syn_to_synack)?;
        latency_line(f, "SYN -> first byte", &self.latency.syn_to_first_byte)?;
        latency_line(f, "SYN -> last byte", &self.latency.syn_to_last_byte)?;
        if self.paths.len() > 1 {
            for (i, p) in self.paths.iter().enumerate() {
                writeln!(
                    f,
                    "  path {} {} <-> {} (RTT {} ms): client->server {} packets {} B, server->client {} packets {} B",
                    i + 1,
                    p.client,
                    p.server,
                    p.rtt_ms,
                    p.client_to_server_packets,
                    p.client_to_server_bytes,
                    p.server_to_client_packets,
                    p.server_to_client_bytes
                )?;
            }
        }
        if let Some(j) = &self.joins {
            writeln!(
                f,
                "  joins                  {} established, {} refused by the server ({} asked for, {} SYNs sent, {} not opened: connection no longer MPTCP)",
                j.established, j.refused, j.requested, j.syn_sent, j.not_opened
            )?;
            if j.established < j.requested {
                writeln!(
                    f,
                    "  note: a join starts once its connection is fully established (first DATA_ACK); short transactions end before it completes (try --response-bytes 200000)"
                )?;
            }
        }
        let run = &self.run;
        if run.port_exhausted > 0 {
            writeln!(
                f,
                "  note: {} connects waited for a free port (TIME_WAIT {} s)",
                run.port_exhausted, c.time_wait_s
            )?;
        }
        if let Some(g) =
            g.filter(|g| g.late_starts > 0 || g.refused_starts > 0 || g.missed_starts > 0)
        {
            writeln!(
                f,
                "  WARNING: the load generator fell behind its schedule: {} late starts, {} refused, {} never made; the offered load was not the one asked for",
                g.late_starts, g.refused_starts, g.missed_starts
            )?;
        }
        if run.drain_timed_out || run.wall_timed_out || run.stuck || run.clock_nudges > 0 {
            writeln!(
                f,
                "  WARNING: run ended abnormally: drain limit {}, wall limit {}, stuck {}, clock nudges {}",
                run.drain_timed_out, run.wall_timed_out, run.stuck, run.clock_nudges
            )?;
        }
        if run.open_at_end != (0, 0) {
            writeln!(
                f,
                "  WARNING: connections still open at the end: client {}, server {}",
                run.open_at_end.0, run.open_at_end.1
            )?;
            for s in &run.stragglers {
                writeln!(f, "    {s}")?;
            }
        }
        Ok(())
    }
}
