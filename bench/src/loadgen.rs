//! The closed-loop load generator.
//!
//! `concurrency` slots, each running transactions back to back: connect
//! (with TFO, the request rides in the SYN: `connect(addr, &request, ..)`;
//! without, the request is written once the connection is up), read the
//! whole reply, close, and start the next transaction at once. The load
//! stops when the transaction count or the load duration is reached; the
//! transactions under way then finish.
//!
//! With TFO the first connection has no cookie yet: it asks for one (its
//! request follows the handshake). Until a cookie has arrived only that
//! one transaction runs, so that every later SYN carries data; the
//! remaining slots open when the first `Connected` arrives.
//!
//! Latencies are taken on the worker's clock (virtual time on the mem
//! link) from the `connect` call (the SYN) to the first and to the last
//! byte of the reply, in microseconds, into HDR histograms.

use std::net::{IpAddr, SocketAddr};

use hdrhistogram::Histogram;
use mptfo_engine::shard::{port_for_core, EPHEMERAL};
use mptfo_engine::stack::{
    CloseReason, ConnId, ConnectOptions, Event, MptcpMode, Stack, StackError,
};
use mptfo_engine::time::{Duration, Instant};
use mptfo_engine::worker::App;
use mptfo_nic::{Buf, Clock, Port};

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

/// Ports of its hash class a sharded load generator tries per `connect`
/// before it counts the ports as exhausted (about `n_cores` times as many
/// ports are looked at).
const SHARD_PORT_TRIES: usize = 64;

/// Where a sharded load generator's active opens come from.
#[derive(Debug, Clone, Copy)]
struct Shard {
    local: IpAddr,
    core: usize,
    n_cores: usize,
    /// Where the next source-port search starts.
    next_port: u16,
}

/// Highest latency the histograms hold (1 hour, in µs); larger values are
/// clamped.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Significant digits the histograms keep: 4, so that virtual-time
/// latencies up to 16 ms are exact to the microsecond and larger ones
/// within 0.01 %.
const SIGNIFICANT_DIGITS: u8 = 4;

/// What the load generator does.
#[derive(Debug, Clone)]
pub struct LoadgenConfig {
    /// Where to connect.
    pub server: SocketAddr,
    /// Transactions in flight at once.
    pub concurrency: usize,
    /// Bytes of one request.
    pub request_bytes: usize,
    /// Bytes of the reply that completes a transaction.
    pub response_bytes: usize,
    /// Use TCP Fast Open (request in the SYN).
    pub tfo: bool,
    /// Offer MPTCP.
    pub mptcp: bool,
    /// Stop starting transactions after this many.
    pub transactions: Option<u64>,
    /// Stop starting transactions this long after the first one.
    pub duration: Option<Duration>,
}

/// Counts of the load generator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadgenStats {
    /// Transactions started (`connect` succeeded).
    pub started: u64,
    /// Transactions whose whole reply arrived.
    pub completed: u64,
    /// Completed transactions whose connection was MPTCP (not fallen back)
    /// when the reply was complete.
    pub completed_mptcp: u64,
    /// Connections that ended with a reason other than `Graceful`, or
    /// ended before the whole reply arrived.
    pub errors: u64,
    /// Transactions whose connection ended before the whole reply arrived.
    pub incomplete: u64,
    /// Replies longer than expected.
    pub overlong: u64,
    /// `connect` calls refused for lack of a free local port (retried once
    /// time moves, as TIME_WAIT ends).
    pub port_exhausted: u64,
    /// `connect`/`send` calls refused for another reason.
    pub call_errors: u64,
    /// Connections closed (any reason).
    pub closed: u64,
}

#[derive(Debug)]
struct ClientConn {
    /// When `connect` was called (ns).
    start: u64,
    /// Reply bytes received.
    received: usize,
    /// Request bytes still to write (TFO off, or a partial write).
    to_send: usize,
    /// The reply is complete (the transaction counted).
    done: bool,
}

/// The load-generator application.
pub struct LoadgenApp {
    cfg: LoadgenConfig,
    clock: Clock,
    request: Vec<u8>,
    conns: ConnTable<ClientConn>,
    /// Transactions started and not yet complete.
    in_flight: usize,
    /// A TFO cookie has arrived (or TFO is off): all slots may run.
    warm: bool,
    /// Time of the first `connect`.
    first_start: Option<u64>,
    /// Time the last reply completed.
    last_done: Option<u64>,
    /// Time a `connect` last failed for lack of a port: no new attempt
    /// until the clock moves past it.
    blocked_at: Option<u64>,
    stopped: bool,
    /// Slots were left empty for lack of cached buffers or of this
    /// iteration's connect quota: poll again without waiting for time.
    deferred: bool,
    /// Connections opened since the last `on_poll`.
    opened_this_poll: usize,
    /// Sharded active opens: the source address, this core and the core
    /// count; source ports are chosen so that the flow hashes to this core.
    shard: Option<Shard>,
    /// SYN -> last reply byte, µs.
    pub total: Histogram<u64>,
    /// SYN -> first reply byte, µs.
    pub first_byte: Histogram<u64>,
    /// Counters.
    pub stats: LoadgenStats,
    /// Why connections ended with an error, by reason.
    pub error_reasons: Vec<(CloseReason, u64)>,
}

impl LoadgenApp {
    /// A load generator reading time from `clock`.
    pub fn new(cfg: LoadgenConfig, clock: Clock) -> LoadgenApp {
        let hist = || {
            Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGNIFICANT_DIGITS)
                .expect("histogram bounds")
        };
        LoadgenApp {
            request: pattern(cfg.request_bytes, 0xc3),
            warm: !cfg.tfo,
            cfg,
            clock,
            conns: ConnTable::default(),
            in_flight: 0,
            first_start: None,
            last_done: None,
            blocked_at: None,
            stopped: false,
            deferred: false,
            opened_this_poll: 0,
            shard: None,
            total: hist(),
            first_byte: hist(),
            stats: LoadgenStats::default(),
            error_reasons: Vec::new(),
        }
    }

    /// Opens connections from `local` with source ports that put each
    /// flow on core `core` of `n_cores` (`mptfo_engine::shard::core_of`,
    /// the software steering's choice): with several workers sharing a
    /// port, the replies come back to the worker that opened the
    /// connection. With `n_cores <= 1` nothing changes.
    pub fn with_shard(mut self, local: IpAddr, core: usize, n_cores: usize) -> LoadgenApp {
        if n_cores > 1 && core < n_cores {
            // Each core starts its search at its own spot of the range.
            let span = u32::from(*EPHEMERAL.end() - *EPHEMERAL.start()) + 1;
            let off = (span * core as u32 / n_cores as u32) as u16;
            self.shard = Some(Shard {
                local,
                core,
                n_cores,
                next_port: *EPHEMERAL.start() + off,
            });
        }
        self
    }

    /// The configuration.
    pub fn config(&self) -> &LoadgenConfig {
        &self.cfg
    }

    /// Time of the first `connect`, ns.
    pub fn first_start(&self) -> Option<u64> {
        self.first_start
    }

    /// Time the last transaction completed, ns.
    pub fn last_done(&self) -> Option<u64> {
        self.last_done
    }

    /// Transactions started and not complete.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Connections not yet closed (transactions under way and connections
    /// closing after their reply).
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// The connections still open, as `(id, reply complete)`.
    pub fn open_list(&self) -> Vec<(ConnId, bool)> {
        self.conns.iter().map(|(id, c)| (id, c.done)).collect()
    }

    /// No more transactions will be started.
    pub fn load_done(&self, now: u64) -> bool {
        self.stopped || self.limit_reached(now)
    }

    /// Stops starting transactions (the ones under way go on).
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

    fn limit_reached(&self, now: u64) -> bool {
        if self
            .cfg
            .transactions
            .is_some_and(|n| self.stats.started >= n)
        {
            return true;
        }
        self.load_deadline().is_some_and(|end| now >= end)
    }

    fn count_error(&mut self, reason: CloseReason) {
        self.stats.errors += 1;
        match self.error_reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.error_reasons.push((reason, 1)),
        }
    }

    /// Starts as many transactions as the slots allow.
    fn start_transactions<B: Buf>(&mut self, stack: &mut Stack<B>, now: u64) {
        if let Some(t) = self.blocked_at {
            if now <= t {
                return;
            }
            self.blocked_at = None;
        }
        let slots = if self.warm { self.cfg.concurrency } else { 1 };
        self.deferred = false;
        while self.in_flight < slots && !self.load_done(now) {
            if stack.cached_buffers() < BUFFER_MARGIN || self.opened_this_poll >= CONNECTS_PER_POLL
            {
                self.deferred = true;
                break;
            }
            if !self.start_one(stack, now) {
                break;
            }
        }
    }

    /// Opens one connection; false when the stack refused.
    fn start_one<B: Buf>(&mut self, stack: &mut Stack<B>, now: u64) -> bool {
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
                // (open, or in TIME_WAIT) is skipped.
                for _ in 0..SHARD_PORT_TRIES {
                    let Some(p) =
                        port_for_core(sh.local, self.cfg.server, sh.core, sh.n_cores, sh.next_port)
                    else {
                        break;
                    };
                    sh.next_port = if p >= *EPHEMERAL.end() {
                        *EPHEMERAL.start()
                    } else {
                        p + 1
                    };
                    opts.local_addr = Some(sh.local);
                    opts.local_port = Some(p);
                    result = stack.connect(self.cfg.server, &self.request[..with_syn], opts);
                    if !matches!(result, Err(StackError::NoFreePort)) {
                        break;
                    }
                }
            }
        }
        match result {
            Ok(conn) => {
                self.opened_this_poll += 1;
                self.first_start.get_or_insert(now);
                self.stats.started += 1;
                self.in_flight += 1;
                let to_send = self.request.len() - with_syn;
                self.conns.insert(
                    conn,
                    ClientConn {
                        start: now,
                        received: 0,
                        to_send,
                        done: false,
                    },
                );
                true
            }
            Err(StackError::NoFreePort) | Err(StackError::NoBuffer) => {
                self.stats.port_exhausted += 1;
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
            self.first_byte.saturating_record(latency_us(c.start, now));
        }
        c.received += len;
        if c.received < expected {
            return;
        }
        if c.received > expected {
            self.stats.overlong += 1;
        }
        c.done = true;
        self.total.saturating_record(latency_us(c.start, now));
        self.stats.completed += 1;
        if stack.mptcp_mode(conn) != Some(MptcpMode::Fallback) {
            self.stats.completed_mptcp += 1;
        }
        self.in_flight -= 1;
        self.last_done = Some(now);
        let _ = stack.close(conn);
        self.start_transactions(stack, now);
    }
}

impl<P: Port> App<P> for LoadgenApp {
    fn on_event(&mut self, stack: &mut Stack<P::Buf>, event: Event<P::Buf>) {
        match event {
            Event::Connected { conn } => {
                self.send_request(stack, conn);
                if !self.warm {
                    self.warm = true;
                    let now = self.clock.now();
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

/// Microseconds from `start` to `now` (both ns), rounded, clamped to the
/// histograms' range.
fn latency_us(start: u64, now: u64) -> u64 {
    (now.saturating_sub(start).saturating_add(500) / 1_000).min(MAX_LATENCY_US)
}
