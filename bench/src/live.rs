//! Real-time runs of one worker on a real port (DPDK, or anything that
//! implements [`Port`]): the server loop of `mptfo serve` and the
//! load-generator loop of `mptfo loadgen`.
//!
//! The loop reads the monotonic clock once per iteration and polls the
//! worker (receive, events, timers, transmit) at that time; the checks
//! that follow (duration, drain, progress) use the same reading, since a
//! clock read costs about as much as an empty poll of a DPDK queue. It
//! busy-polls, like any poll-mode driver, unless an idle sleep is set, in
//! which case an iteration that received nothing and has no timer due
//! reads the clock once more and sleeps that long.
//! It stops on a flag (set by SIGINT/SIGTERM), on a duration, or — for the
//! load generator — once the load is done and the connections drained.
//!
//! Progress of a load generator ([`IntervalTicker`], a line per
//! `--interval`): a single worker takes its own figures when an interval
//! ends; several workers each publish their cumulative counts into their
//! own cache-line-sized [`ProgressSlot`] (plain atomic stores, no locks,
//! no shared line written by two cores) every [`PUBLISH_NS`], and the main
//! thread sums the slots when an interval ends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use mptfo_engine::config::ReplyTiming;
use mptfo_engine::counters::Counters;
use mptfo_engine::time::{Duration, Instant};
use mptfo_engine::worker::Worker;
use mptfo_nic::{Clock, Port};

use crate::loadgen::{GeneratorFigures, LoadgenApp, LoadgenStats};
use crate::report::{Interval, Report, ReportConfig, ReportInput};
use crate::serve::ServeApp;

/// How a live loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveConfig {
    /// Stop after this long (serve: from the start; loadgen: the load
    /// duration is the application's, this is a hard limit on top).
    pub duration: Option<Duration>,
    /// Loadgen: time allowed after the load for the transactions under
    /// way and the closes to finish.
    pub drain: Duration,
    /// Sleep this long in an iteration that received nothing and has no
    /// timer due (`None`: busy-poll).
    pub idle_sleep: Option<Duration>,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            duration: None,
            drain: Duration::from_secs(5),
            idle_sleep: None,
        }
    }
}

/// How a live loop went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Worker loop iterations.
    pub polls: u64,
    /// Frames received.
    pub frames: u64,
    /// Wall-clock nanoseconds of the loop.
    pub wall_ns: u64,
    /// CPU nanoseconds of the loop's thread.
    pub cpu_ns: u64,
    /// Loadgen: nanoseconds from the first SYN to the last reply.
    pub load_ns: u64,
    /// A signal (the stop flag) ended the run.
    pub interrupted: bool,
    /// The duration limit ended the run.
    pub duration_reached: bool,
    /// Loadgen: the drain limit passed with connections open.
    pub drain_timed_out: bool,
}

/// One iteration: poll at the clock's time, then maybe sleep (not when a
/// timer, or the application's `app_due` time, has come). Returns the time
/// the poll ran at.
fn step<P: Port, A: mptfo_engine::worker::App<P>>(
    w: &mut Worker<P, A>,
    clock: &Clock,
    idle: Option<Duration>,
    st: &mut LiveStats,
    app_due: Option<u64>,
) -> u64 {
    let polled_at = clock.now();
    let rx = w.poll(Instant(polled_at));
    st.polls += 1;
    st.frames += rx as u64;
    if let Some(d) = idle {
        let now = clock.now();
        let due =
            w.next_deadline().is_some_and(|t| t.0 <= now) || app_due.is_some_and(|t| t <= now);
        if rx == 0 && !due {
            // Not past the application's next due time either.
            let d = match app_due {
                Some(t) => d.min(Duration::from_nanos(t - now)),
                None => d,
            };
            std::thread::sleep(d);
        }
    }
    polled_at
}

/// How often a worker of a multi-core load generator publishes its counts
/// into its [`ProgressSlot`] (5 ms): the per-second lines are that exact.
pub const PUBLISH_NS: u64 = 5_000_000;

/// Cumulative counts of a load generator, as the progress lines need them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgressCounts {
    /// Connections opened.
    pub connections: u64,
    /// Requests answered in full.
    pub requests: u64,
    /// SYN data the server acknowledged (client's view).
    pub tfo_accepted: u64,
    /// MPTCP fallbacks the client saw (SYN/ACK without MP_CAPABLE, data
    /// without a mapping).
    pub fallbacks: u64,
    /// Retransmitted segments.
    pub retransmissions: u64,
    /// Connections that ended badly.
    pub errors: u64,
}

impl ProgressCounts {
    /// The counts of a load generator and its stack's counters.
    pub fn of(stats: &LoadgenStats, c: &Counters) -> ProgressCounts {
        ProgressCounts {
            connections: stats.connections,
            requests: stats.completed,
            tfo_accepted: c
                .tcp_ext_tcp_fast_open_active
                .saturating_sub(c.tcp_ext_tcp_fast_open_active_fail),
            fallbacks: c.mptcp_mp_capable_fallback_synack + c.mptcp_mp_capable_data_fallback,
            retransmissions: c.tcp_retrans_segs,
            errors: stats.errors,
        }
    }

    /// Adds another worker's counts.
    pub fn add(&mut self, o: &ProgressCounts) {
        self.connections += o.connections;
        self.requests += o.requests;
        self.tfo_accepted += o.tfo_accepted;
        self.fallbacks += o.fallbacks;
        self.retransmissions += o.retransmissions;
        self.errors += o.errors;
    }

    /// What happened between `prev` and these counts, over an interval of
    /// `len_s` seconds that ended `t_s` seconds after the start.
    pub fn interval_since(&self, prev: &ProgressCounts, t_s: f64, len_s: f64) -> Interval {
        let per_s = |a: u64, b: u64| {
            if len_s > 0.0 {
                a.saturating_sub(b) as f64 / len_s
            } else {
                0.0
            }
        };
        Interval {
            t_s,
            len_s,
            connections_per_s: per_s(self.connections, prev.connections),
            requests_per_s: per_s(self.requests, prev.requests),
            tfo_accepted: self.tfo_accepted.saturating_sub(prev.tfo_accepted),
            fallbacks: self.fallbacks.saturating_sub(prev.fallbacks),
            retransmissions: self.retransmissions.saturating_sub(prev.retransmissions),
            errors: self.errors.saturating_sub(prev.errors),
        }
    }
}

/// One worker's published [`ProgressCounts`]: written by that worker
/// only (relaxed stores), read by the main thread; aligned to 128 bytes
/// so that no two workers' slots share a cache line (nor an adjacent-line
/// prefetch pair).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct ProgressSlot {
    counts: [AtomicU64; 6],
}

impl ProgressSlot {
    /// Publishes the worker's counts.
    pub fn publish(&self, c: &ProgressCounts) {
        let v = [
            c.connections,
            c.requests,
            c.tfo_accepted,
            c.fallbacks,
            c.retransmissions,
            c.errors,
        ];
        for (a, v) in self.counts.iter().zip(v) {
            a.store(v, Ordering::Relaxed);
        }
    }

    /// The counts last published.
    pub fn read(&self) -> ProgressCounts {
        let v = |i: usize| self.counts[i].load(Ordering::Relaxed);
        ProgressCounts {
            connections: v(0),
            requests: v(1),
            tfo_accepted: v(2),
            fallbacks: v(3),
            retransmissions: v(4),
            errors: v(5),
        }
    }
}

/// Turns cumulative counts into a progress line every `every`, printed
/// (`Interval`'s Display) and kept for the report.
#[derive(Debug, Clone)]
pub struct IntervalTicker {
    every_ns: u64,
    start: u64,
    last: u64,
    prev: ProgressCounts,
    print: bool,
    /// The intervals so far.
    pub intervals: Vec<Interval>,
}

impl IntervalTicker {
    /// Lines every `every` from `start` (ns on the run's clock), printed to
    /// stdout when `print`; `None` when `every` is zero (no lines).
    pub fn new(every: Duration, start: u64, print: bool) -> Option<IntervalTicker> {
        let every_ns = u64::try_from(every.as_nanos()).unwrap_or(u64::MAX);
        (every_ns > 0).then_some(IntervalTicker {
            every_ns,
            start,
            last: start,
            prev: ProgressCounts::default(),
            print,
            intervals: Vec::new(),
        })
    }

    /// When the current interval ends, ns.
    pub fn next_at(&self) -> u64 {
        self.last.saturating_add(self.every_ns)
    }

    /// The current interval has ended.
    pub fn due(&self, now: u64) -> bool {
        now >= self.next_at()
    }

    /// Ends the current interval at `now` with the cumulative `counts`:
    /// the line, printed if asked, and kept.
    pub fn tick(&mut self, now: u64, counts: ProgressCounts) -> Interval {
        let t_s = now.saturating_sub(self.start) as f64 / 1e9;
        let len_s = now.saturating_sub(self.last) as f64 / 1e9;
        let i = counts.interval_since(&self.prev, t_s, len_s);
        self.prev = counts;
        self.last = now;
        if self.print {
            println!("{i}");
        }
        self.intervals.push(i);
        i
    }

    /// Ends the last, partial interval at `now` (when the run ends), if it
    /// is at least 1 ms long.
    pub fn finish(&mut self, now: u64, counts: ProgressCounts) {
        if now.saturating_sub(self.last) >= 1_000_000 {
            self.tick(now, counts);
        }
    }
}

/// Runs the server until `stop`, or `cfg.duration` passes.
/// `on_listening` runs once, before the first poll.
pub fn serve<P: Port>(
    w: &mut Worker<P, ServeApp>,
    clock: &Clock,
    stop: &AtomicBool,
    cfg: &LiveConfig,
) -> LiveStats {
    let mut st = LiveStats::default();
    let wall = std::time::Instant::now();
    let cpu = cpu_time::ThreadTime::try_now().ok();
    let end = cfg
        .duration
        .map(|d| clock.now().saturating_add(d.as_nanos() as u64));
    loop {
        let now = step(w, clock, cfg.idle_sleep, &mut st, None);
        if stop.load(Ordering::Relaxed) {
            st.interrupted = true;
            break;
        }
        if end.is_some_and(|e| now >= e) {
            st.duration_reached = true;
            break;
        }
    }
    // What the last iteration queued goes out.
    w.poll(Instant(clock.now()));
    st.wall_ns = wall.elapsed().as_nanos() as u64;
    st.cpu_ns = cpu.map_or(st.wall_ns, |c| c.elapsed().as_nanos() as u64);
    st
}

/// Runs the load generator until its load is done and its connections
/// have closed (or the drain limit passes), `stop` is set (the load stops,
/// the drain still runs; a second signal ends it at once), or
/// `cfg.duration` passes.
pub fn loadgen<P: Port>(
    w: &mut Worker<P, LoadgenApp>,
    clock: &Clock,
    stop: &AtomicBool,
    cfg: &LiveConfig,
    progress: Progress<'_>,
) -> LiveStats {
    loadgen_shared(w, clock, stop, cfg, None, progress)
}

/// Where a load-generator worker's progress goes.
#[derive(Debug)]
pub enum Progress<'a> {
    /// Nowhere.
    Off,
    /// Lines, when each interval ends (a single worker): the last,
    /// partial interval ends with the run.
    Lines(&'a mut IntervalTicker),
    /// Published every [`PUBLISH_NS`] (and at the end) into this worker's
    /// slot, for the main thread's lines.
    Publish(&'a ProgressSlot),
}

/// Workers that share a port (each behind the software steering step):
/// one that is done must go on polling, since the frames it receives may
/// belong to the others, until all of them are done.
#[derive(Debug)]
pub struct DoneBarrier {
    done: AtomicUsize,
    workers: usize,
}

impl DoneBarrier {
    /// A barrier for `workers` workers.
    pub fn new(workers: usize) -> DoneBarrier {
        DoneBarrier {
            done: AtomicUsize::new(0),
            workers,
        }
    }

    /// This worker is done (or will never run).
    pub fn arrive(&self) {
        self.done.fetch_add(1, Ordering::SeqCst);
    }

    fn all_done(&self) -> bool {
        self.done.load(Ordering::SeqCst) >= self.workers
    }
}

/// [`loadgen`] for one of several workers sharing a port: once this
/// worker's load and drain are over (its figures are taken then), it
/// keeps polling — forwarding what it receives for the others — until
/// every worker has arrived at `barrier` (or the hard limit passes, or a
/// second signal comes).
pub fn loadgen_shared<P: Port>(
    w: &mut Worker<P, LoadgenApp>,
    clock: &Clock,
    stop: &AtomicBool,
    cfg: &LiveConfig,
    barrier: Option<&DoneBarrier>,
    mut progress: Progress<'_>,
) -> LiveStats {
    let mut st = LiveStats::default();
    let wall = std::time::Instant::now();
    let cpu = cpu_time::ThreadTime::try_now().ok();
    let start = clock.now();
    let hard_end = cfg
        .duration
        .map(|d| start.saturating_add(d.as_nanos() as u64));
    let drain_ns = cfg.drain.as_nanos() as u64;
    let mut load_end: Option<u64> = None;
    let mut stopped_at_signals = 0usize;
    let mut next_publish = start;
    let mut now = start;
    loop {
        // Only an idle sleep needs the next open-loop start (as of the
        // last iteration's time: a start it makes due is due still).
        let app_due = cfg.idle_sleep.and_then(|_| w.app.next_start(now));
        now = step(w, clock, cfg.idle_sleep, &mut st, app_due);
        match &mut progress {
            Progress::Lines(t) if t.due(now) => {
                let c = w.stack.counters();
                t.tick(now, ProgressCounts::of(&w.app.stats, &c));
            }
            Progress::Publish(slot) if now >= next_publish => {
                let c = w.stack.counters();
                slot.publish(&ProgressCounts::of(&w.app.stats, &c));
                next_publish = now.saturating_add(PUBLISH_NS);
            }
            _ => {}
        }
        if stop.load(Ordering::Relaxed) {
            if !st.interrupted {
                st.interrupted = true;
                stopped_at_signals = crate::sys::signals_received();
                w.app.stop();
            } else if crate::sys::signals_received() > stopped_at_signals {
                break;
            }
        }
        if w.app.load_done(now) {
            let end = *load_end.get_or_insert(now);
            if w.app.open_connections() == 0 {
                break;
            }
            if now.saturating_sub(end) > drain_ns {
                st.drain_timed_out = true;
                break;
            }
        }
        if hard_end.is_some_and(|e| now >= e) {
            st.duration_reached = true;
            break;
        }
    }
    // The last closes go out.
    w.poll(Instant(clock.now()));
    let c = w.stack.counters();
    let counts = ProgressCounts::of(&w.app.stats, &c);
    match progress {
        Progress::Lines(t) => t.finish(clock.now(), counts),
        Progress::Publish(slot) => slot.publish(&counts),
        Progress::Off => {}
    }
    st.wall_ns = wall.elapsed().as_nanos() as u64;
    st.cpu_ns = cpu.map_or(st.wall_ns, |c| c.elapsed().as_nanos() as u64);
    st.load_ns = match (w.app.first_start(), w.app.last_done()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => 0,
    };
    if let Some(b) = barrier {
        b.arrive();
        w.app.stop();
        let mut extra = LiveStats::default();
        while !b.all_done() {
            let now = step(w, clock, cfg.idle_sleep, &mut extra, None);
            if hard_end.is_some_and(|e| now >= e)
                || (stop.load(Ordering::Relaxed)
                    && crate::sys::signals_received() > stopped_at_signals)
            {
                break;
            }
        }
        w.poll(Instant(clock.now()));
        st.polls += extra.polls;
        st.frames += extra.frames;
    }
    st
}

/// Runs a single load generator worker (see [`loadgen`]) with a progress
/// line every `interval` (zero: none) and gives its report, the lines in
/// `intervals`, and the generator's own figures.
pub fn loadgen_one<P: Port>(
    w: &mut Worker<P, LoadgenApp>,
    clock: &Clock,
    stop: &AtomicBool,
    cfg: &LiveConfig,
    interval: Duration,
    info: &LiveLoadgenInfo,
) -> (Report, GeneratorFigures) {
    let mut ticker = IntervalTicker::new(interval, clock.now(), true);
    let progress = match ticker.as_mut() {
        Some(t) => Progress::Lines(t),
        None => Progress::Off,
    };
    let st = loadgen(w, clock, stop, cfg, progress);
    let counters = w.stack.counters();
    let mut report = loadgen_report(w, &st, &counters, info);
    report.intervals = ticker.map(|t| t.intervals).unwrap_or_default();
    let generator = GeneratorFigures::of(&w.app.stats, st.load_ns as f64 / 1e9);
    (report, generator)
}

/// The keys a multi-core load generator's JSON report has beyond the
/// merged report (`crate::report::FullReport::extra`): the transactions
/// that stayed MPTCP, the software steering's figures (all workers) and
/// each worker's own report.
pub fn multi_core_json(
    mptcp_transactions: u64,
    steer: &crate::steer::SteerStats,
    per_core: &[&Report],
) -> serde_json::Value {
    serde_json::json!({
        "mptcp_transactions": mptcp_transactions,
        "steering": {
            "received": steer.received,
            "steered_out": steer.steered_out,
            "steered_fraction": steer.steered_fraction(),
            "broadcast": steer.broadcast,
            "dropped": steer.dropped,
        },
        "per_core": per_core,
    })
}

/// What a live load-generator run is described with in its report.
#[derive(Debug, Clone)]
pub struct LiveLoadgenInfo {
    /// The device the run used (e.g. `net_af_packet0 (net_af_packet)`).
    pub device: String,
    /// The server.
    pub target: SocketAddr,
}

/// The report of a live load-generator run against any server: the same
/// figures as `mptfo bench`, in wall-clock time; server-side figures come
/// from the client's view (SYN data acknowledged, fallbacks seen).
pub fn loadgen_report<P: Port>(
    w: &Worker<P, LoadgenApp>,
    st: &LiveStats,
    counters: &Counters,
    info: &LiveLoadgenInfo,
) -> Report {
    let app = &w.app;
    let cfg = app.config();
    let mut stragglers = Vec::new();
    for (id, done) in app.open_list().into_iter().take(8) {
        stragglers.push(format!(
            "client {id:?}: reply {}, tcp {:?}, mptcp {:?}",
            if done { "complete" } else { "incomplete" },
            w.stack.tcp_state(id),
            w.stack.mptcp_mode(id)
        ));
    }
    Report::from_input(ReportInput {
        setup: format!(
            "live, wall-clock time; load generator on {} against {}",
            info.device, info.target
        ),
        real_time: true,
        config: ReportConfig {
            duration_s: cfg.duration.map(|d| d.as_secs_f64()),
            transactions_limit: cfg.transactions,
            concurrency: cfg.concurrency,
            request_bytes: cfg.request_bytes,
            response_bytes: cfg.response_bytes,
            mode: "rpc",
            tfo: cfg.tfo,
            mptcp: cfg.mptcp,
            rtt_ms: 0.0,
            reply: match w.stack.config().reply_timing {
                ReplyTiming::Early => "early",
                ReplyTiming::Hold => "hold",
            },
            seed: 0,
            time_wait_s: w.stack.config().time_wait.as_secs_f64(),
            loss: 0.0,
        },
        loadgen: app,
        server: None,
        client_counters: counters,
        server_counters: None,
        load_ns: st.load_ns,
        wall_ns: st.wall_ns,
        cpu_ns: st.cpu_ns,
        polls: st.polls,
        frames: st.frames,
        drain_timed_out: st.drain_timed_out,
        wall_timed_out: st.duration_reached,
        stuck: false,
        clock_nudges: 0,
        open_at_end: (app.open_connections(), 0),
        stragglers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(connections: u64, requests: u64, retransmissions: u64) -> ProgressCounts {
        ProgressCounts {
            connections,
            requests,
            retransmissions,
            ..ProgressCounts::default()
        }
    }

    #[test]
    fn ticker_turns_totals_into_rates() {
        let s = 1_000_000_000;
        let mut t = IntervalTicker::new(Duration::from_secs(1), s, false).expect("on");
        assert!(!t.due(s + 999_999_999));
        assert!(t.due(s + 1_000_000_000));
        let i = t.tick(s + 1_000_000_000, counts(500, 1000, 3));
        assert_eq!((i.t_s, i.len_s), (1.0, 1.0));
        assert_eq!((i.connections_per_s, i.requests_per_s), (500.0, 1000.0));
        assert_eq!(i.retransmissions, 3);
        // A late tick: a longer interval, rates per second of it.
        let i = t.tick(s + 3_000_000_000, counts(1500, 3000, 3));
        assert_eq!((i.t_s, i.len_s), (3.0, 2.0));
        assert_eq!(i.connections_per_s, 500.0);
        assert_eq!(i.retransmissions, 0);
        assert_eq!(t.next_at(), s + 4_000_000_000);
        // The run ends: a last partial interval, unless it is under 1 ms.
        t.finish(s + 3_000_500_000, counts(1500, 3000, 3));
        assert_eq!(t.intervals.len(), 2);
        t.finish(s + 3_500_000_000, counts(1750, 3500, 3));
        assert_eq!(t.intervals.len(), 3);
        assert_eq!(t.intervals[2].connections_per_s, 500.0);
        assert_eq!(t.intervals[2].len_s, 0.5);
        assert!(IntervalTicker::new(Duration::ZERO, s, false).is_none());
    }

    #[test]
    fn slots_publish_and_sum() {
        let slots: Vec<ProgressSlot> = (0..2).map(|_| ProgressSlot::default()).collect();
        assert_eq!(std::mem::align_of::<ProgressSlot>(), 128);
        slots[0].publish(&counts(1, 2, 3));
        slots[1].publish(&counts(10, 20, 30));
        let mut sum = ProgressCounts::default();
        for s in &slots {
            sum.add(&s.read());
        }
        assert_eq!(sum, counts(11, 22, 33));
        let line = format!("{}", sum.interval_since(&counts(1, 2, 3), 2.0, 1.0));
        assert!(line.contains("conn/s=        10"), "{line}");
    }
}
