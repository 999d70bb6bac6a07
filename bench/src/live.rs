//! Real-time runs of one worker on a real port (DPDK, or anything that
//! implements [`Port`]): the server loop of `mptfo serve` and the
//! load-generator loop of `mptfo loadgen`.
//!
//! The loop reads the monotonic clock once per iteration and polls the
//! worker (receive, events, timers, transmit); it busy-polls, like any
//! poll-mode driver, unless an idle sleep is set, in which case an
//! iteration that received nothing and has no timer due sleeps that long.
//! It stops on a flag (set by SIGINT/SIGTERM), on a duration, or — for the
//! load generator — once the load is done and the connections drained.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mptfo_engine::config::ReplyTiming;
use mptfo_engine::counters::Counters;
use mptfo_engine::time::{Duration, Instant};
use mptfo_engine::worker::Worker;
use mptfo_nic::{Clock, Port};

use crate::loadgen::LoadgenApp;
use crate::report::{Report, ReportConfig, ReportInput};
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

/// One iteration: poll at the clock's time, then maybe sleep.
fn step<P: Port, A: mptfo_engine::worker::App<P>>(
    w: &mut Worker<P, A>,
    clock: &Clock,
    idle: Option<Duration>,
    st: &mut LiveStats,
) {
    let now = clock.now();
    let rx = w.poll(Instant(now));
    st.polls += 1;
    st.frames += rx as u64;
    if let Some(d) = idle {
        let due = w.next_deadline().is_some_and(|t| t.0 <= clock.now());
        if rx == 0 && !due {
            std::thread::sleep(d);
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
        step(w, clock, cfg.idle_sleep, &mut st);
        if stop.load(Ordering::Relaxed) {
            st.interrupted = true;
            break;
        }
        if end.is_some_and(|e| clock.now() >= e) {
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
) -> LiveStats {
    loadgen_shared(w, clock, stop, cfg, None)
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
    loop {
        step(w, clock, cfg.idle_sleep, &mut st);
        let now = clock.now();
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
            step(w, clock, cfg.idle_sleep, &mut extra);
            if hard_end.is_some_and(|e| clock.now() >= e)
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
