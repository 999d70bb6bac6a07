//! The load generator: closed or open loop, one request per connection
//! (connections/s) or several (requests/s).
//!
//! Closed loop: `concurrency` slots, each running connections back to
//! back: connect (with TFO, the request rides in the SYN:
//! `connect(addr, &request, ..)`; without, the request is written once the
//! connection is up), read the whole reply, close, and start the next one
//! at once.
//!
//! Open loop (`rate`): connections start on a fixed schedule, `rate` per
//! second ([`Schedule`]), whatever the replies do; `concurrency` is then
//! only a cap on the connections in flight: a start beyond it is refused
//! and counted, not queued. Each connection's latencies count from its
//! intended start on the schedule, not from when its SYN actually left, so
//! a stall of the generator or of the server shows in the tail instead of
//! being hidden (coordinated omission). A start that could only happen
//! more than [`LATE_NS`] after its intended time is counted as late, with
//! the worst lag.
//!
//! Keep-alive (`requests_per_connection` N > 1): each connection carries N
//! request/reply exchanges, the first one in the SYN under TFO, the next
//! one written as soon as the previous reply is complete; then it closes.
//! A transaction is one request/reply exchange: counts and limits are in
//! requests, the schedule is in connections.
//!
//! The load stops when the transaction count or the load duration is
//! reached (an open loop makes every start due before the end, late or
//! not, unless it is more than [`OVERRUN_NS`] behind); the connections
//! under way then finish their requests.
//!
//! With TFO the first connection has no cookie yet: it asks for one (its
//! request follows the handshake). Until a cookie has arrived only that
//! one connection runs, so that every later SYN carries data; the
//! remaining slots open (closed loop), or the schedule starts (open loop),
//! when the first `Connected` arrives.
//!
//! Latencies are taken on the worker's clock (virtual time on the mem
//! link) into the worker's own [`LatencyHists`]: start -> SYN/ACK once per
//! connection, start -> first and -> last byte of the reply once per
//! request (the start of a later request of a kept-alive connection is
//! the moment it was written).

use std::net::{IpAddr, SocketAddr};

use mptfo_engine::shard::{port_for_core, EPHEMERAL};
use mptfo_engine::stack::{
    CloseReason, ConnId, ConnectOptions, Event, MptcpMode, Stack, StackError,
};
use mptfo_engine::time::{Duration, Instant};
use mptfo_engine::worker::App;
use mptfo_nic::{Buf, Clock, Port};
use serde::Serialize;

use crate::hist::LatencyHists;
use crate::serve::pattern;
use crate::table::ConnTable;

/// Packet buffers the stack must have cached before a new `connect`
/// (the request and the SYN take buffers; the worker refills the cache
/// once per loop iteration). Without this margin a burst of connects can
/// drain the cache, and a `connect` that fails with `NoBuffer` leaves a
/// half-made connection behind in the engine.
const BUFFER_MARGIN: usize = 16;

/// Most connections opened per worker loop iteration: a burst of SYNs
/// (and of the replies and closes that follow in lockstep) larger than the
/// worker's per-iteration buffer cache makes the stacks drop frames.
const CONNECTS_PER_POLL: usize = 64;

/// Ports of its hash class a load generator that picks its own source
/// ports tries per `connect` before it counts the ports as exhausted
/// (about `n_cores` times as many ports are looked at).
const SHARD_PORT_TRIES: usize = 64;

/// Ports tried per `connect` while the last search found none: the search
/// starts again at the port it failed on, the oldest of the range (ports
/// are taken in order and leave TIME_WAIT in about that order), so that a
/// generator at the port limit pays a few table lookups per loop
/// iteration, not a walk over the whole range.
const PORT_RETRY_TRIES: usize = 4;

/// An open-loop start that happens more than this long (1 ms) after its
/// intended time is counted as late.
pub const LATE_NS: u64 = 1_000_000;

/// An open loop behind its schedule goes on making the starts that were
/// due before the end of the load duration for at most this long (1 s)
/// after it; the ones still left then are not made.
pub const OVERRUN_NS: u64 = 1_000_000_000;

/// Where a sharded load generator's active opens come from.
#[derive(Debug, Clone, Copy)]
struct Shard {
    local: IpAddr,
    core: usize,
    n_cores: usize,
    /// Where the next source-port search starts.
    next_port: u16,
    /// The last search found every port it tried in use.
    exhausted: bool,
}

/// The fixed schedule of an open loop: start `k` (from 0) is due at
/// `t0 + round(k * 10⁹ / rate)` ns. Computed from `k`, not by adding a
/// rounded period, so it does not drift.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    t0: u64,
    period_ns: f64,
    next: u64,
}

impl Schedule {
    /// `rate` starts per second from `t0` (ns). `rate` must be positive
    /// and finite.
    pub fn new(rate: f64, t0: u64) -> Schedule {
        Schedule {
            t0,
            period_ns: 1e9 / rate,
            next: 0,
        }
    }

    /// When start `k` is due, ns.
    pub fn due(&self, k: u64) -> u64 {
        self.t0
            .saturating_add((k as f64 * self.period_ns).round() as u64)
    }

    /// When the next start is due, ns.
    pub fn next_due(&self) -> u64 {
        self.due(self.next)
    }

    /// Starts taken from the schedule so far (made or refused).
    pub fn taken(&self) -> u64 {
        self.next
    }

    /// Starts due before `end` (ns), from the first.
    pub fn due_before(&self, end: u64) -> u64 {
        if end <= self.t0 {
            return 0;
        }
        // An estimate, then corrected for the rounding of `due`.
        let mut k = ((end - self.t0) as f64 / self.period_ns).ceil() as u64;
        while k > 0 && self.due(k - 1) >= end {
            k -= 1;
        }
        while self.due(k) < end {
            k += 1;
        }
        k
    }

    /// Takes the next start: its due time.
    pub fn take(&mut self) -> u64 {
        let t = self.next_due();
        self.next += 1;
        t
    }
}

/// What the load generator does.
#[derive(Debug, Clone)]
pub struct LoadgenConfig {
    /// Where to connect.
    pub server: SocketAddr,
    /// Closed loop: connections in flight at once. Open loop: the cap on
    /// connections in flight (starts beyond it are refused and counted).
    pub concurrency: usize,
    /// Bytes of one request.
    pub request_bytes: usize,
    /// Bytes of the reply that completes a transaction.
    pub response_bytes: usize,
    /// Use TCP Fast Open (request in the SYN).
    pub tfo: bool,
    /// Offer MPTCP.
    pub mptcp: bool,
    /// Stop starting transactions (requests) after this many.
    pub transactions: Option<u64>,
    /// Stop starting connections this long after the first one.
    pub duration: Option<Duration>,
    /// Open loop: connections started per second (positive, finite);
    /// `None`: closed loop.
    pub rate: Option<f64>,
    /// Request/reply exchanges per connection (at least 1).
    pub requests_per_connection: u64,
}

impl LoadgenConfig {
    /// Checks the values; the error names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.concurrency == 0 {
            return Err("concurrency (connections in flight) must be at least 1".into());
        }
        if self.request_bytes == 0 || self.response_bytes == 0 {
            return Err("request and response sizes must be at least 1 byte".into());
        }
        if self.requests_per_connection == 0 {
            return Err("requests per connection 0: expected at least 1".into());
        }
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0) {
                return Err(format!(
                    "rate {r}: expected a positive number of connections per second"
                ));
            }
        }
        Ok(())
    }
}

/// Counts of the load generator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LoadgenStats {
    /// Transactions (requests) started: sent with `connect`, or written on
    /// a kept-alive connection.
    pub started: u64,
    /// Transactions whose whole reply arrived.
    pub completed: u64,
    /// Completed transactions whose connection was MPTCP (not fallen back)
    /// when the reply was complete.
    pub completed_mptcp: u64,
    /// Connections opened (`connect` succeeded).
    pub connections: u64,
    /// Connections that ended with a reason other than `Graceful`, or
    /// ended before every reply arrived.
    pub errors: u64,
    /// Connections that ended before every reply arrived.
    pub incomplete: u64,
    /// Replies longer than expected.
    pub overlong: u64,
    /// Times a `connect` was refused for lack of a free local port (or
    /// of a packet buffer) and the generator had to wait: it retries once
    /// time moves, as TIME_WAIT ends, and a run of refused retries up to
    /// the `connect` that succeeds counts once.
    pub port_exhausted: u64,
    /// `connect`/`send` calls refused for another reason.
    pub call_errors: u64,
    /// Connections closed (any reason).
    pub closed: u64,
    /// Open loop: starts made more than [`LATE_NS`] after their intended
    /// time (the generator fell behind its schedule).
    pub late_starts: u64,
    /// Open loop: the largest lag of a start behind its intended time, ns.
    pub max_lag_ns: u64,
    /// Open loop: starts refused because the cap on connections in flight
    /// was reached (not made at all).
    pub refused_starts: u64,
    /// Open loop: starts due before the end of the load duration that
    /// were never made: the generator was more than [`OVERRUN_NS`] behind
    /// when the end came (no free port, no packet buffer, no CPU).
    pub missed_starts: u64,
}

impl LoadgenStats {
    /// Adds another worker's counts (the largest lag is the larger one).
    pub fn add(&mut self, o: &LoadgenStats) {
        self.started += o.started;
        self.completed += o.completed;
        self.completed_mptcp += o.completed_mptcp;
        self.connections += o.connections;
        self.errors += o.errors;
        self.incomplete += o.incomplete;
        self.overlong += o.overlong;
        self.port_exhausted += o.port_exhausted;
        self.call_errors += o.call_errors;
        self.closed += o.closed;
        self.late_starts += o.late_starts;
        self.max_lag_ns = self.max_lag_ns.max(o.max_lag_ns);
        self.refused_starts += o.refused_starts;
        self.missed_starts += o.missed_starts;
    }
}

/// The load generator's own figures of a run, beside its report
/// (`crate::report::FullReport`): connections and requests apart, and how
/// well an open loop kept its schedule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct GeneratorFigures {
    /// Connections opened.
    pub connections: u64,
    /// Requests (transactions) answered in full.
    pub requests: u64,
    /// Connections opened per second of the load (first SYN to last
    /// reply byte, on the run's clock).
    pub connections_per_s: f64,
    /// Requests answered per second of the load.
    pub requests_per_s: f64,
    /// Open loop: starts made more than 1 ms after their intended time.
    pub late_starts: u64,
    /// Open loop: the largest lag of a start behind its intended time, µs.
    pub max_lag_us: f64,
    /// Open loop: starts refused at the cap on connections in flight.
    pub refused_starts: u64,
    /// Open loop: starts due before the end that were never made (the
    /// generator was more than 1 s behind when the load ended).
    pub missed_starts: u64,
}

impl GeneratorFigures {
    /// The figures of `stats` over a load of `load_seconds`.
    pub fn of(stats: &LoadgenStats, load_seconds: f64) -> GeneratorFigures {
        let per_s = |n: u64| {
            if load_seconds > 0.0 {
                n as f64 / load_seconds
            } else {
                0.0
            }
        };
        GeneratorFigures {
            connections: stats.connections,
            requests: stats.completed,
            connections_per_s: per_s(stats.connections),
            requests_per_s: per_s(stats.completed),
            late_starts: stats.late_starts,
            max_lag_us: stats.max_lag_ns as f64 / 1e3,
            refused_starts: stats.refused_starts,
            missed_starts: stats.missed_starts,
        }
    }
}

#[derive(Debug)]
struct ClientConn {
    /// When the connection started (ns): the `connect` call, or its
    /// intended start in an open loop.
    conn_start: u64,
    /// When the current request started (ns).
    start: u64,
    /// Reply bytes of the current request received.
    received: usize,
    /// Request bytes still to write (TFO off, or a partial write).
    to_send: usize,
    /// Requests still to make after the current one.
    left: u64,
    /// Every reply is complete (the connection's transactions counted).
    done: bool,
}

/// The load-generator application.
pub struct LoadgenApp {
    cfg: LoadgenConfig,
    clock: Clock,
    request: Vec<u8>,
    conns: ConnTable<ClientConn>,
    /// Connections started whose replies are not all complete.
    in_flight: usize,
    /// Requests given to connections started so far (the transaction
    /// limit counts these).
    reserved: u64,
    /// A TFO cookie has arrived (or TFO is off): all slots may run, the
    /// open-loop schedule may start.
    warm: bool,
    /// The open loop's schedule, from the moment it could start.
    schedule: Option<Schedule>,
    /// Time of the first `connect`.
    first_start: Option<u64>,
    /// Time the last reply completed.
    last_done: Option<u64>,
    /// Time a `connect` last failed for lack of a port: no new attempt
    /// until the clock moves past it.
    blocked_at: Option<u64>,
    /// The last `connect` was refused for lack of a port or buffer (the
    /// wait is counted once, in `stats.port_exhausted`).
    waiting_for_port: bool,
    stopped: bool,
    /// Slots were left empty for lack of cached buffers or of this
    /// iteration's connect quota: poll again without waiting for time.
    deferred: bool,
    /// Connections opened since the last `on_poll`.
    opened_this_poll: usize,
    /// Sharded active opens: the source address, this core and the core
    /// count; source ports are chosen so that the flow hashes to this core.
    shard: Option<Shard>,
    /// Latencies of this worker.
    pub hists: LatencyHists,
    /// Counters.
    pub stats: LoadgenStats,
    /// Why connections ended with an error, by reason.
    pub error_reasons: Vec<(CloseReason, u64)>,
}

impl LoadgenApp {
    /// A load generator reading time from `clock`. The configuration
    /// should have passed [`LoadgenConfig::validate`]; a rate that is not
    /// positive and finite runs a closed loop.
    pub fn new(mut cfg: LoadgenConfig, clock: Clock) -> LoadgenApp {
        cfg.requests_per_connection = cfg.requests_per_connection.max(1);
        cfg.concurrency = cfg.concurrency.max(1);
        cfg.rate = cfg.rate.filter(|r| r.is_finite() && *r > 0.0);
        LoadgenApp {
            request: pattern(cfg.request_bytes, 0xc3),
            warm: !cfg.tfo,
            cfg,
            clock,
            conns: ConnTable::default(),
            in_flight: 0,
            reserved: 0,
            schedule: None,
            first_start: None,
            last_done: None,
            blocked_at: None,
            waiting_for_port: false,
            stopped: false,
            deferred: false,
            opened_this_poll: 0,
            shard: None,
            hists: LatencyHists::new(),
            stats: LoadgenStats::default(),
            error_reasons: Vec::new(),
        }
    }

    /// Opens connections from `local` with source ports that put each
    /// flow on core `core` of `n_cores` (`mptfo_engine::shard::core_of`,
    /// the software steering's choice): with several workers sharing a
    /// port, the replies come back to the worker that opened the
    /// connection. With `n_cores == 1` every port qualifies; the generator
    /// still picks the ports itself, so that a search at the port limit
    /// is bounded ([`SHARD_PORT_TRIES`], then [`PORT_RETRY_TRIES`]) where
    /// the stack's own choice would walk the whole ephemeral range. With
    /// `n_cores == 0` or `core >= n_cores` nothing changes.
    pub fn with_shard(mut self, local: IpAddr, core: usize, n_cores: usize) -> LoadgenApp {
        if core < n_cores {
            // Each core starts its search at its own spot of the range.
            let span = u32::from(*EPHEMERAL.end() - *EPHEMERAL.start()) + 1;
            let off = (span * core as u32 / n_cores as u32) as u16;
            self.shard = Some(Shard {
                local,
                core,
                n_cores,
                next_port: *EPHEMERAL.start() + off,
                exhausted: false,
            });
        }
        self
    }

    /// The configuration.
    pub fn config(&self) -> &LoadgenConfig {
        &self.cfg
    }

    /// An open loop (a rate is set).
    pub fn open_loop(&self) -> bool {
        self.cfg.rate.is_some()
    }

    /// Time of the first `connect`, ns.
    pub fn first_start(&self) -> Option<u64> {
        self.first_start
    }

    /// Time the last transaction completed, ns.
    pub fn last_done(&self) -> Option<u64> {
        self.last_done
    }

    /// Connections started whose replies are not all complete.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Connections not yet closed (transactions under way and connections
    /// closing after their reply).
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// The connections still open, as `(id, every reply complete)`.
    pub fn open_list(&self) -> Vec<(ConnId, bool)> {
        self.conns.iter().map(|(id, c)| (id, c.done)).collect()
    }

    /// No more connections will be started.
    pub fn load_done(&self, now: u64) -> bool {
        self.stopped || self.limit_reached(now)
    }

    /// Stops starting connections (the ones under way go on).
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Waiting for time to move before trying to connect again.
    pub fn blocked(&self) -> bool {
        self.blocked_at.is_some()
    }

    /// Slots are empty only because the stack's buffer cache ran low or
    /// this iteration's quota of new connections is used up: the next loop
    /// iteration will start more.
    pub fn deferred(&self) -> bool {
        self.deferred
    }

    /// When the load duration ends, if it has one and has started.
    pub fn load_deadline(&self) -> Option<u64> {
        let d = self.cfg.duration?;
        Some(self.first_start? + u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Open loop: when the next start is due (`None` in a closed loop,
    /// before the schedule has started, or once the load is done). A
    /// virtual-time driver moves the clock there; a real-time loop must
    /// not sleep past it.
    pub fn next_start(&self, now: u64) -> Option<u64> {
        if self.load_done(now) || self.blocked_at.is_some() {
            // Blocked (no free port): the next try waits for time to move
            // for another reason (a TIME_WAIT ending).
            return None;
        }
        self.schedule.as_ref().map(Schedule::next_due)
    }

    fn limit_reached(&self, now: u64) -> bool {
        if self.cfg.transactions.is_some_and(|n| self.reserved >= n) {
            return true;
        }
        let Some(end) = self.load_deadline() else {
            return false;
        };
        match &self.schedule {
            // An open loop makes every start due before the end, late or
            // not (the offered load is the schedule's), unless it is more
            // than `OVERRUN_NS` behind when the end comes.
            Some(s) => s.next_due() >= end || now >= end.saturating_add(OVERRUN_NS),
            None => now >= end,
        }
    }

    fn count_error(&mut self, reason: CloseReason) {
        self.stats.errors += 1;
        match self.error_reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.error_reasons.push((reason, 1)),
        }
    }

    /// Starts what the loop allows: free slots (closed loop) or the starts
    /// due by `now` (open loop).
    fn start_transactions<B: Buf>(&mut self, stack: &mut Stack<B>, now: u64) {
        if let Some(t) = self.blocked_at {
            if now <= t {
                return;
            }
            self.blocked_at = None;
        }
        self.deferred = false;
        if !self.warm {
            // The cookie request: one connection until a cookie arrives.
            if self.in_flight == 0 && !self.load_done(now) && self.may_open(stack) {
                self.start_one(stack, now, now);
            }
            return;
        }
        match self.cfg.rate {
            None => {
                while self.in_flight < self.cfg.concurrency && !self.load_done(now) {
                    if !self.may_open(stack) {
                        break;
                    }
                    if !self.start_one(stack, now, now) {
                        break;
                    }
                }
            }
            Some(rate) => {
                let mut sched = *self.schedule.get_or_insert(Schedule::new(rate, now));
                while !self.load_done(now) && sched.next_due() <= now {
                    if self.in_flight >= self.cfg.concurrency {
                        // Over the cap: this start is not made at all.
                        sched.take();
                        self.stats.refused_starts += 1;
                        continue;
                    }
                    if !self.may_open(stack) {
                        break;
                    }
                    let due = sched.next_due();
                    if !self.start_one(stack, now, due) {
                        break;
                    }
                    sched.take();
                    let lag = now - due;
                    if lag > LATE_NS {
                        self.stats.late_starts += 1;
                    }
                    self.stats.max_lag_ns = self.stats.max_lag_ns.max(lag);
                }
                if let Some(end) = self.load_deadline().filter(|_| !self.stopped) {
                    if now >= end.saturating_add(OVERRUN_NS) {
                        // Given up: what was due and never made.
                        self.stats.missed_starts =
                            sched.due_before(end).saturating_sub(sched.taken());
                    }
                }
                self.schedule = Some(sched);
            }
        }
    }

    /// A connection may be opened in this iteration (buffers cached and
    /// quota left); if not, marks the iteration deferred.
    fn may_open<B: Buf>(&mut self, stack: &Stack<B>) -> bool {
        if stack.cached_buffers() < BUFFER_MARGIN || self.opened_this_poll >= CONNECTS_PER_POLL {
            self.deferred = true;
            return false;
        }
        true
    }

    /// Opens one connection whose latencies count from `start`; false
    /// when the stack refused.
    fn start_one<B: Buf>(&mut self, stack: &mut Stack<B>, now: u64, start: u64) -> bool {
        let mut opts = ConnectOptions {
            mptcp: self.cfg.mptcp,
            tfo: self.cfg.tfo,
            ..ConnectOptions::default()
        };
        // With TFO the request goes to `connect` (its first segment rides
        // in the SYN); a request larger than half the send buffer is
        // written in parts, the rest once the connection is up.
        let with_syn = if self.cfg.tfo {
            self.request.len().min(stack.config().send_buffer / 2)
        } else {
            0
        };
        let mut result = Err(StackError::NoFreePort);
        match self.shard.as_mut() {
            None => result = stack.connect(self.cfg.server, &self.request[..with_syn], opts),
            Some(sh) => {
                // The next port of this core's hash class; one still in use
                // (open, or in TIME_WAIT) is skipped. The search moves on
                // only past a port it took: when every port tried is in
                // use, the next search starts at the same, oldest, one.
                let tries = if sh.exhausted {
                    PORT_RETRY_TRIES
                } else {
                    SHARD_PORT_TRIES
                };
                let mut from = sh.next_port;
                for _ in 0..tries {
                    let Some(p) =
                        port_for_core(sh.local, self.cfg.server, sh.core, sh.n_cores, from)
                    else {
                        break;
                    };
                    from = if p >= *EPHEMERAL.end() {
                        *EPHEMERAL.start()
                    } else {
                        p + 1
                    };
                    opts.local_addr = Some(sh.local);
                    opts.local_port = Some(p);
                    result = stack.connect(self.cfg.server, &self.request[..with_syn], opts);
                    if !matches!(result, Err(StackError::NoFreePort)) {
                        sh.next_port = from;
                        break;
                    }
                }
                sh.exhausted = matches!(result, Err(StackError::NoFreePort));
            }
        }
        match result {
            Ok(conn) => {
                self.waiting_for_port = false;
                self.opened_this_poll += 1;
                self.first_start.get_or_insert(now);
                self.stats.started += 1;
                self.stats.connections += 1;
                self.in_flight += 1;
                let requests = match self.cfg.transactions {
                    Some(n) => self
                        .cfg
                        .requests_per_connection
                        .min(n.saturating_sub(self.reserved))
                        .max(1),
                    None => self.cfg.requests_per_connection,
                };
                self.reserved += requests;
                let to_send = self.request.len() - with_syn;
                self.conns.insert(
                    conn,
                    ClientConn {
                        conn_start: start,
                        start,
                        received: 0,
                        to_send,
                        left: requests - 1,
                        done: false,
                    },
                );
                true
            }
            Err(StackError::NoFreePort) | Err(StackError::NoBuffer) => {
                if !self.waiting_for_port {
                    self.waiting_for_port = true;
                    self.stats.port_exhausted += 1;
                }
                self.blocked_at = Some(now);
                false
            }
            Err(_) => {
                self.stats.call_errors += 1;
                self.blocked_at = Some(now);
                false
            }
        }
    }

    /// Writes the rest of the request.
    fn send_request<B: Buf>(&mut self, stack: &mut Stack<B>, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        while c.to_send > 0 {
            let from = self.request.len() - c.to_send;
            match stack.send(conn, &self.request[from..]) {
                Ok(0) => break,
                Ok(n) => c.to_send -= n,
                Err(_) => {
                    self.stats.call_errors += 1;
                    break;
                }
            }
        }
    }

    fn on_data<B: Buf>(&mut self, stack: &mut Stack<B>, conn: ConnId, len: usize) {
        let now = self.clock.now();
        let expected = self.cfg.response_bytes;
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        if c.done {
            self.stats.overlong += 1;
            return;
        }
        if c.received == 0 && len > 0 {
            self.hists.record_first(now.saturating_sub(c.start));
        }
        c.received += len;
        if c.received < expected {
            return;
        }
        if c.received > expected {
            self.stats.overlong += 1;
        }
        self.hists.record_last(now.saturating_sub(c.start));
        self.stats.completed += 1;
        if stack.mptcp_mode(conn) != Some(MptcpMode::Fallback) {
            self.stats.completed_mptcp += 1;
        }
        self.last_done = Some(now);
        if c.left > 0 {
            // Kept alive: the next request at once.
            c.left -= 1;
            c.start = now;
            c.received = 0;
            c.to_send = self.request.len();
            self.stats.started += 1;
            self.send_request(stack, conn);
            return;
        }
        c.done = true;
        self.in_flight -= 1;
        let _ = stack.close(conn);
        self.start_transactions(stack, now);
    }
}

impl<P: Port> App<P> for LoadgenApp {
    fn on_event(&mut self, stack: &mut Stack<P::Buf>, event: Event<P::Buf>) {
        match event {
            Event::Connected { conn } => {
                let now = self.clock.now();
                if let Some(c) = self.conns.get_mut(conn) {
                    self.hists.record_synack(now.saturating_sub(c.conn_start));
                }
                self.send_request(stack, conn);
                if !self.warm {
                    self.warm = true;
                    self.start_transactions(stack, now);
                }
            }
            Event::Data { conn, data } => {
                let len = data.len();
                drop(data);
                self.on_data(stack, conn, len);
            }
            Event::Writable { conn } => self.send_request(stack, conn),
            Event::PeerClosed { conn } => {
                // The server closes only after we did; an early close means
                // the reply will not come: close our side too.
                if self.conns.get_mut(conn).is_some_and(|c| !c.done) {
                    let _ = stack.close(conn);
                }
            }
            Event::Closed { conn, reason } => {
                self.stats.closed += 1;
                let Some(c) = self.conns.remove(conn) else {
                    return;
                };
                if !c.done {
                    self.in_flight -= 1;
                    self.stats.incomplete += 1;
                }
                if reason != CloseReason::Graceful {
                    self.count_error(reason);
                } else if !c.done {
                    self.stats.errors += 1;
                }
                let now = self.clock.now();
                self.start_transactions(stack, now);
            }
            Event::Accepted { .. } => {}
        }
    }

    fn on_poll(&mut self, stack: &mut Stack<P::Buf>, now: Instant) {
        self.start_transactions(stack, now.0);
        self.opened_this_poll = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_exact_and_does_not_drift() {
        let mut s = Schedule::new(1000.0, 5_000);
        assert_eq!(s.next_due(), 5_000);
        assert_eq!(s.take(), 5_000);
        assert_eq!(s.take(), 1_005_000);
        assert_eq!(s.due(1_000_000), 5_000 + 1_000_000_000_000);
        // A period that is not a whole number of ns: rounded per start,
        // not accumulated.
        let s = Schedule::new(3.0, 0);
        assert_eq!(
            (0..4).map(|k| s.due(k)).collect::<Vec<_>>(),
            [0, 333_333_333, 666_666_667, 1_000_000_000]
        );
        assert_eq!(s.due(3_000), 1_000_000_000_000);
        assert_eq!(s.taken(), 0);
        // Starts at 0, 1/3 and 2/3 s are before 1 s; the one at 1 s not.
        assert_eq!(s.due_before(1_000_000_000), 3);
        assert_eq!(s.due_before(1_000_000_001), 4);
        assert_eq!(s.due_before(666_666_667), 2);
        assert_eq!(s.due_before(0), 0);
        let s = Schedule::new(1000.0, 5_000);
        assert_eq!(s.due_before(5_000 + 200_000_000), 200);
    }

    #[test]
    fn a_search_at_the_port_limit_is_bounded_and_resumes_at_the_oldest_port() {
        use mptfo_engine::config::StackConfig;
        use mptfo_engine::stack::Interface;
        use mptfo_nic::{LinkConfig, MemLink};

        let link = LinkConfig::default();
        let clock = Clock::new_virtual();
        let (mut port, _peer) = MemLink::pair_with_clock(link, 7, clock.clone());
        let local: IpAddr = "10.0.0.1".parse().unwrap();
        let server: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let iface = Interface {
            mac: [2, 0, 0, 0, 0, 1],
            addrs: vec![local],
            default_peer_mac: [2, 0, 0, 0, 0, 2],
            checksum: link.checksum,
        };
        let mut stack = Stack::new(StackConfig::default(), vec![iface], 0, 1, 1, Instant(0));
        // The first 100 ports of the range are in use: more than one
        // search looks at.
        let first = *EPHEMERAL.start();
        let mut held = Vec::new();
        for p in first..first + 100 {
            stack.refill(64, || port.alloc());
            let opts = ConnectOptions {
                mptcp: false,
                tfo: false,
                local_addr: Some(local),
                local_port: Some(p),
                ..ConnectOptions::default()
            };
            held.push(stack.connect(server, &[], opts).expect("a free port"));
        }
        let cfg = LoadgenConfig {
            server,
            concurrency: 2,
            request_bytes: 8,
            response_bytes: 8,
            tfo: false,
            mptcp: false,
            transactions: None,
            duration: None,
            rate: None,
            requests_per_connection: 1,
        };
        let mut app = LoadgenApp::new(cfg, clock).with_shard(local, 0, 1);
        stack.refill(64, || port.alloc());
        app.start_transactions(&mut stack, 1);
        assert_eq!(app.stats.connections, 0);
        assert_eq!(app.stats.port_exhausted, 1);
        assert!(app.blocked());
        // Later tries are refused too, and the wait counts once; every
        // search starts at the oldest port.
        for t in 2..10 {
            app.start_transactions(&mut stack, t);
        }
        assert_eq!((app.stats.connections, app.stats.port_exhausted), (0, 1));
        let sh = app.shard.expect("a shard of one core");
        assert!(sh.exhausted);
        assert_eq!(sh.next_port, first);
        // The oldest port comes free: a retry takes it; the second slot's
        // search (64 ports on) finds none and waits again.
        stack.abort(held[0]).expect("open");
        stack.refill(64, || port.alloc());
        app.start_transactions(&mut stack, 10);
        assert_eq!((app.stats.connections, app.stats.port_exhausted), (1, 2));
        let sh = app.shard.expect("a shard of one core");
        assert!(sh.exhausted);
        assert_eq!(sh.next_port, first + 1);
        // A port 50 on comes free: a retry looks at 4 ports only.
        stack.abort(held[50]).expect("open");
        app.start_transactions(&mut stack, 11);
        assert_eq!((app.stats.connections, app.stats.port_exhausted), (1, 2));
        // The next oldest comes free: taken, and the search goes on after it.
        stack.abort(held[1]).expect("open");
        app.start_transactions(&mut stack, 12);
        assert_eq!((app.stats.connections, app.stats.port_exhausted), (2, 2));
        assert!(!app.blocked());
        let sh = app.shard.expect("a shard of one core");
        assert!(!sh.exhausted);
        assert_eq!(sh.next_port, first + 2);
    }

    #[test]
    fn config_checks_name_the_value() {
        let ok = LoadgenConfig {
            server: "10.0.0.1:80".parse().unwrap(),
            concurrency: 1,
            request_bytes: 1,
            response_bytes: 1,
            tfo: true,
            mptcp: true,
            transactions: Some(1),
            duration: None,
            rate: Some(10.0),
            requests_per_connection: 1,
        };
        assert!(ok.validate().is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = LoadgenConfig {
                rate: Some(bad),
                ..ok.clone()
            }
            .validate()
            .unwrap_err();
            assert!(e.contains("rate"), "{e}");
        }
        let e = LoadgenConfig {
            requests_per_connection: 0,
            ..ok.clone()
        }
        .validate()
        .unwrap_err();
        assert!(e.contains("requests per connection"), "{e}");
    }
}
