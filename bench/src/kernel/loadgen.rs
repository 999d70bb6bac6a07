//! The load generator on the kernel's MPTCP (or TCP) stack: `mptfo loadgen
//! --stack kernel`.
//!
//! One thread per worker CPU (pinned), each with its own epoll instance,
//! its own connections and its own latency histograms; nothing is shared
//! but the stop flag and a few progress counters each worker alone
//! writes. Sockets are non-blocking and registered once, edge-triggered,
//! for reading and writing; a worker takes up to [`EVENT_BATCH`] events
//! per wait, allocates nothing per transaction (the request is one
//! buffer, replies are read into one buffer and counted) and closes each
//! connection right after its last reply (the client closes first, so
//! TIME_WAIT stays on this side: give the namespace `tcp_tw_reuse=1`).
//!
//! A transaction: with TFO, `sendto(MSG_FASTOPEN)` (or
//! `TCP_FASTOPEN_CONNECT` + `connect` + `write`) puts the request in the
//! SYN when a cookie is cached (the run learns one first with a cookie
//! request); a partial write or `EINPROGRESS` (no cookie) leaves the rest
//! for when the socket becomes writable. Without TFO: `connect`, then the
//! request once connected. The reply's bytes are counted: more than the
//! reply size is an error (overlong), fewer before the server's FIN
//! (incomplete). With `requests_per_connection` > 1 the next request goes
//! out on the same connection.
//!
//! Latencies (µs, HDR histograms): SYN -> SYN/ACK (the `connect` call to
//! the socket first reported writable), SYN -> first and -> last reply
//! byte (from the transaction's start: the `connect`/`sendto` call, the
//! request's write on a kept connection, or in an open loop the intended
//! start on the fixed schedule, so that queueing in the generator is not
//! hidden).
//!
//! Per connection, once, at its first reply: `TCP_INFO` (the SYN's data
//! acknowledged: TFO worked) and `MPTCP_INFO` (fell back to TCP or not).

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::hist::LatencyHists;
use crate::sys::{self, ev, Epoll, EpollEvent, MptcpState};

/// Events taken per `epoll_wait`.
pub const EVENT_BATCH: usize = 256;
/// A start more than this after its intended time counts as late (open
/// loop).
pub const LATE_START: Duration = Duration::from_millis(1);
/// Transactions in flight at most per worker in an open loop.
pub const OPEN_LOOP_SLOTS: usize = 4096;

/// How the request goes into the SYN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TfoStyle {
    /// No TFO: `connect`, then `write` once connected.
    Off,
    /// `sendto(MSG_FASTOPEN)`: connect and send in one call.
    SendTo,
    /// `setsockopt(TCP_FASTOPEN_CONNECT)`, `connect` (returns at once),
    /// `write` (the data rides in the SYN).
    Connect,
}

impl TfoStyle {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            TfoStyle::Off => "off",
            TfoStyle::SendTo => "sendto",
            TfoStyle::Connect => "connect",
        }
    }
}

/// Closed or open loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// This many transactions in flight at once (over all workers).
    Closed {
        /// Transactions in flight.
        connections: usize,
    },
    /// Transactions started at this rate (per second, over all workers),
    /// on a fixed schedule.
    Open {
        /// Starts per second.
        rate: f64,
    },
}

/// What the load generator does.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The server.
    pub target: SocketAddr,
    /// Source address to bind (with `IP_BIND_ADDRESS_NO_PORT`).
    pub source: Option<IpAddr>,
    /// `IPPROTO_MPTCP` (else TCP).
    pub mptcp: bool,
    /// TFO and how.
    pub tfo: TfoStyle,
    /// Bytes per request.
    pub request_bytes: usize,
    /// Bytes per reply.
    pub response_bytes: usize,
    /// Closed or open loop.
    pub shape: Shape,
    /// Transactions per connection (1: a connection per transaction).
    pub requests_per_connection: u64,
    /// Load duration (no new transaction after it).
    pub duration: Option<Duration>,
    /// Transaction limit (completed and failed, over all workers).
    pub transactions: Option<u64>,
    /// Worker CPUs (pinned); empty: one worker, not pinned.
    pub cpus: Vec<usize>,
    /// Time allowed after the load for the transactions in flight.
    pub drain: Duration,
    /// Hard limit of the whole run.
    pub time_limit: Duration,
    /// A transaction without its whole reply after this long fails
    /// (`timeout`) and its connection is closed.
    pub timeout: Duration,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            target: SocketAddr::from(([127, 0, 0, 1], 8080)),
            source: None,
            mptcp: true,
            tfo: TfoStyle::SendTo,
            request_bytes: 64,
            response_bytes: 64,
            shape: Shape::Closed { connections: 1 },
            requests_per_connection: 1,
            duration: Some(Duration::from_secs(2)),
            transactions: None,
            cpus: Vec::new(),
            drain: Duration::from_secs(5),
            time_limit: Duration::from_secs(40),
            timeout: Duration::from_secs(1),
        }
    }
}

impl LoadConfig {
    /// Checks the settings; the message names the setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.request_bytes == 0 {
            return Err("--request-bytes 0: a request needs at least one byte".into());
        }
        if self.response_bytes == 0 {
            return Err("--response-bytes 0: a reply needs at least one byte".into());
        }
        if self.requests_per_connection == 0 {
            return Err("--requests-per-connection 0: expected at least 1".into());
        }
        if self.duration.is_none() && self.transactions.is_none() {
            return Err("give --duration or --transactions".into());
        }
        if self.duration == Some(Duration::ZERO) || self.transactions == Some(0) {
            return Err("--duration and --transactions must be positive".into());
        }
        if let Some(ip) = self.source {
            if ip.is_ipv4() != self.target.is_ipv4() {
                return Err(format!(
                    "--ip {ip}: not of the address family of --target {}",
                    self.target
                ));
            }
        }
        let workers = self.workers();
        match self.shape {
            Shape::Closed { connections } if connections < workers => Err(format!(
                "--connections {connections}: fewer than the {workers} worker CPUs; give each at least one"
            )),
            Shape::Open { rate } if !(rate.is_finite() && rate > 0.0) => {
                Err(format!("--rate {rate}: expected a positive number of starts per second"))
            }
            _ => Ok(()),
        }
    }

    /// Worker threads.
    pub fn workers(&self) -> usize {
        self.cpus.len().max(1)
    }
}

/// Why a transaction failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Failure {
    /// `socket` (or a socket option) failed, e.g. EMFILE.
    Socket,
    /// `connect`/`sendto` refused at once or later (ECONNREFUSED).
    Refused,
    /// No local port or address free (EADDRNOTAVAIL).
    NoPort,
    /// The connection was reset (ECONNRESET, EPIPE).
    Reset,
    /// No whole reply within the timeout.
    Timeout,
    /// The server closed before the whole reply.
    Incomplete,
    /// More reply bytes than expected.
    Overlong,
    /// Anything else.
    Other,
}

impl Failure {
    const ALL: [Failure; 8] = [
        Failure::Socket,
        Failure::Refused,
        Failure::NoPort,
        Failure::Reset,
        Failure::Timeout,
        Failure::Incomplete,
        Failure::Overlong,
        Failure::Other,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Socket => "socket",
            Failure::Refused => "connection refused",
            Failure::NoPort => "no free local port",
            Failure::Reset => "reset",
            Failure::Timeout => "no whole reply within the timeout",
            Failure::Incomplete => "server closed before the whole reply",
            Failure::Overlong => "reply longer than expected",
            Failure::Other => "other",
        }
    }

    fn of(e: &io::Error) -> Failure {
        match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => Failure::Refused,
            Some(libc::EADDRNOTAVAIL) | Some(libc::EADDRINUSE) => Failure::NoPort,
            Some(libc::ECONNRESET) | Some(libc::EPIPE) | Some(libc::ECONNABORTED) => Failure::Reset,
            Some(libc::ETIMEDOUT) => Failure::Timeout,
            Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM) => {
                Failure::Socket
            }
            _ => Failure::Other,
        }
    }
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// What one worker (or, merged, the run) measured.
#[derive(Debug, Clone)]
pub struct LoadStats {
    /// The worker's CPU (`None`: not pinned).
    pub cpu: Option<usize>,
    /// Pinning succeeded.
    pub pinned: bool,
    /// Connections opened (SYNs sent).
    pub connections: u64,
    /// Transactions started.
    pub started: u64,
    /// Transactions completed (whole reply).
    pub completed: u64,
    /// Failed transactions, by [`Failure`].
    pub failures: [u64; 8],
    /// Transactions still in flight when the run ended.
    pub unfinished: u64,
    /// Most transactions in flight at once (merged: the sum of the
    /// workers' maxima).
    pub max_in_flight: u64,
    /// Connections whose `TCP_INFO` showed the SYN's data acknowledged.
    pub tfo_acked: u64,
    /// Connections looked at (`TCP_INFO`/`MPTCP_INFO` at the first reply).
    pub checked: u64,
    /// Of those, connections that had fallen back to TCP.
    pub fallbacks: u64,
    /// Completed transactions on connections still MPTCP when looked at.
    pub mptcp_transactions: u64,
    /// Open loop: starts later than [`LATE_START`] after their intended
    /// time.
    pub late_starts: u64,
    /// Open loop: the latest start, behind its intended time.
    pub max_late: Duration,
    /// When the first transaction started.
    pub first_start: Option<Instant>,
    /// When the last reply completed.
    pub last_reply: Option<Instant>,
    /// CPU time of the worker thread.
    pub cpu_time: Duration,
    /// The time limit ended the worker.
    pub timed_out: bool,
    /// SYN -> SYN/ACK, start -> first and -> last reply byte.
    pub hists: LatencyHists,
}

impl LoadStats {
    fn new(cpu: Option<usize>, pinned: bool) -> LoadStats {
        LoadStats {
            cpu,
            pinned,
            connections: 0,
            started: 0,
            completed: 0,
            failures: [0; 8],
            unfinished: 0,
            max_in_flight: 0,
            tfo_acked: 0,
            checked: 0,
            fallbacks: 0,
            mptcp_transactions: 0,
            late_starts: 0,
            max_late: Duration::ZERO,
            first_start: None,
            last_reply: None,
            cpu_time: Duration::ZERO,
            timed_out: false,
            hists: LatencyHists::new(),
        }
    }

    /// Failed transactions.
    pub fn failed(&self) -> u64 {
        self.failures.iter().sum()
    }

    /// Failures of one kind.
    pub fn failures_of(&self, f: Failure) -> u64 {
        self.failures[f as usize]
    }

    /// The failures with a name, non-zero ones only.
    pub fn failure_list(&self) -> Vec<(&'static str, u64)> {
        Failure::ALL
            .iter()
            .map(|&f| (f.name(), self.failures[f as usize]))
            .filter(|&(_, n)| n > 0)
            .collect()
    }

    /// Adds another worker's figures.
    pub fn merge(&mut self, o: &LoadStats) {
        self.connections += o.connections;
        self.started += o.started;
        self.completed += o.completed;
        for (a, b) in self.failures.iter_mut().zip(o.failures) {
            *a += b;
        }
        self.unfinished += o.unfinished;
        self.max_in_flight += o.max_in_flight;
        self.tfo_acked += o.tfo_acked;
        self.checked += o.checked;
        self.fallbacks += o.fallbacks;
        self.mptcp_transactions += o.mptcp_transactions;
        self.late_starts += o.late_starts;
        self.max_late = self.max_late.max(o.max_late);
        self.first_start = match (self.first_start, o.first_start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_reply = self.last_reply.max(o.last_reply);
        self.cpu_time += o.cpu_time;
        self.timed_out |= o.timed_out;
        self.hists.merge(&o.hists);
    }

    /// The figures of all workers together.
    pub fn merged(all: &[LoadStats]) -> LoadStats {
        let mut m = LoadStats::new(None, false);
        for s in all {
            m.merge(s);
        }
        m
    }
}

/// What a worker publishes while it runs (only it writes; others read).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Progress {
    /// Connections opened.
    pub connections: AtomicU64,
    /// Transactions completed.
    pub completed: AtomicU64,
    /// Transactions failed.
    pub failed: AtomicU64,
    /// The worker has ended.
    pub done: AtomicBool,
}

/// Learns a TFO cookie for the target (one blocking transaction with a
/// cookie request, bounded by `timeout`) unless one is cached already.
/// Returns whether the SYN of that transaction already carried the
/// request (a cookie was cached).
pub fn learn_cookie(cfg: &LoadConfig) -> io::Result<bool> {
    let fd = sys::stream_socket(cfg.mptcp, &cfg.target)?;
    if let Some(ip) = cfg.source {
        sys::bind(&fd, &SocketAddr::new(ip, 0))?;
    }
    let mut s = TcpStream::from(fd);
    s.set_read_timeout(Some(cfg.timeout.max(Duration::from_millis(100))))?;
    s.set_write_timeout(Some(cfg.timeout.max(Duration::from_millis(100))))?;
    let req = request(cfg.request_bytes);
    let n = sys::sendto_fastopen(&s, &req, &cfg.target)?;
    s.write_all(&req[n..])?;
    let mut reply = vec![0u8; cfg.response_bytes];
    s.read_exact(&mut reply)?;
    let cached = sys::tcp_info(&s).is_ok_and(|t| t.syn_data());
    Ok(cached)
}

/// The request: a readable pattern.
fn request(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Runs the load: one thread per worker CPU. `stop` ends the load early
/// (the transactions in flight then get the drain time); `progress` has
/// one entry per worker. Returns every worker's figures.
pub fn run(
    cfg: &LoadConfig,
    stop: &AtomicBool,
    progress: &[Arc<Progress>],
) -> io::Result<Vec<LoadStats>> {
    cfg.validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let n = cfg.workers();
    assert_eq!(progress.len(), n, "one progress entry per worker");
    let start = Instant::now();
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..n)
            .map(|k| {
                let p = Arc::clone(&progress[k]);
                std::thread::Builder::new()
                    .name(format!("loadgen-{k}"))
                    .spawn_scoped(sc, move || {
                        let r = worker(cfg, k, start, stop, &p);
                        p.done.store(true, Ordering::Release);
                        r
                    })
            })
            .collect::<io::Result<_>>()?;
        let mut out = Vec::with_capacity(n);
        let mut first_err = None;
        for h in handles {
            match h.join() {
                Ok(Ok(s)) => out.push(s),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(io::Error::other("a loadgen worker panicked"));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    })
}

/// Worker `k`'s share of `total` over `n` workers.
fn share(total: u64, k: usize, n: usize) -> u64 {
    let (n, k) = (n as u64, k as u64);
    total / n + u64::from(k < total % n)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No transaction (and no connection).
    Free,
    /// A connection with requests left, waiting for its next start (open
    /// loop).
    Kept,
    /// A transaction in flight.
    Busy,
}

struct Slot {
    sock: Option<TcpStream>,
    gen: u32,
    phase: Phase,
    /// The `connect`/`sendto` call.
    t_conn: Instant,
    /// Start of the transaction (intended start in an open loop).
    t_start: Instant,
    connected: bool,
    /// Bytes of the request written.
    sent: usize,
    /// Bytes of the reply received.
    got: usize,
    /// Transactions done on this connection.
    done: u64,
    /// This connection stayed MPTCP when looked at.
    mptcp: bool,
    checked: bool,
}

struct Worker<'a> {
    cfg: &'a LoadConfig,
    ep: Epoll,
    slots: Vec<Slot>,
    free: Vec<u32>,
    req: Vec<u8>,
    buf: Vec<u8>,
    st: LoadStats,
    in_flight: usize,
    /// Transactions this worker may still start.
    budget: u64,
    /// Starts allowed (load phase).
    starting: bool,
}

/// One worker: its share of the load until the end, then the drain.
fn worker(
    cfg: &LoadConfig,
    k: usize,
    start: Instant,
    stop: &AtomicBool,
    progress: &Progress,
) -> io::Result<LoadStats> {
    let n = cfg.workers();
    let cpu = cfg.cpus.get(k).copied();
    let pinned = cpu.is_some_and(crate::steer::pin_to_cpu);
    let cpu_start = cpu_time::ThreadTime::now();
    let slots = match cfg.shape {
        Shape::Closed { connections } => share(connections as u64, k, n) as usize,
        Shape::Open { .. } => OPEN_LOOP_SLOTS,
    };
    let mut w = Worker {
        cfg,
        ep: Epoll::new()?,
        slots: (0..slots)
            .map(|_| Slot {
                sock: None,
                gen: 0,
                phase: Phase::Free,
                t_conn: start,
                t_start: start,
                connected: false,
                sent: 0,
                got: 0,
                done: 0,
                mptcp: false,
                checked: false,
            })
            .collect(),
        free: (0..slots as u32).rev().collect(),
        req: request(cfg.request_bytes),
        buf: vec![0u8; 64 * 1024],
        st: LoadStats::new(cpu, pinned),
        in_flight: 0,
        budget: cfg.transactions.map_or(u64::MAX, |t| share(t, k, n)),
        starting: true,
    };
    let load_end = cfg.duration.map(|d| start + d);
    let hard_end = start + cfg.time_limit;
    let mut drain_end: Option<Instant> = None;
    // Open loop: this worker's schedule, staggered against the others.
    let (period, mut next) = match cfg.shape {
        Shape::Open { rate } => {
            let p = Duration::from_secs_f64(n as f64 / rate);
            (Some(p), start + p.mul_f64(k as f64 / n as f64))
        }
        Shape::Closed { .. } => (None, start),
    };
    let mut events = vec![EpollEvent::EMPTY; EVENT_BATCH];
    let mut next_sweep = start + Duration::from_millis(10);
    if period.is_none() {
        for i in 0..w.slots.len() {
            let now = Instant::now();
            w.start(i as u32, now, now);
        }
        w.publish(progress);
    }
    loop {
        let now = Instant::now();
        if w.starting
            && (stop.load(Ordering::Relaxed) || load_end.is_some_and(|e| now >= e) || w.budget == 0)
        {
            w.starting = false;
        }
        if !w.starting {
            let d = *drain_end.get_or_insert(now + cfg.drain);
            if w.in_flight == 0 || now >= d || sys::signals_received() > 1 {
                break;
            }
        }
        if now >= hard_end {
            w.st.timed_out = true;
            break;
        }
        // Open loop: every start that is due.
        if let Some(p) = period {
            while w.starting && w.budget > 0 && next <= now {
                let Some(i) = w.take_slot() else {
                    break;
                };
                let late = now.saturating_duration_since(next);
                if late > LATE_START {
                    w.st.late_starts += 1;
                }
                w.st.max_late = w.st.max_late.max(late);
                w.start(i, next, now);
                next += p;
            }
        }
        if now >= next_sweep {
            w.sweep(now);
            next_sweep = now + Duration::from_millis(10);
        }
        let mut wake = next_sweep.min(hard_end);
        if let Some(d) = drain_end {
            wake = wake.min(d);
        } else if let Some(e) = load_end {
            wake = wake.min(e);
        }
        if period.is_some() && w.starting && !w.free.is_empty() {
            wake = wake.min(next);
        }
        let timeout = wake.saturating_duration_since(Instant::now());
        let got = w.ep.wait_for(&mut events, Some(timeout))?;
        let now = Instant::now();
        for e in &events[..got] {
            w.on_event(e.token(), e.events(), now);
        }
        if got > 0 {
            w.publish(progress);
        }
    }
    // What is still open: unfinished.
    for i in 0..w.slots.len() {
        if w.slots[i].phase == Phase::Busy {
            w.st.unfinished += 1;
        }
        w.slots[i].sock = None;
    }
    w.publish(progress);
    w.st.cpu_time = cpu_start.elapsed();
    Ok(w.st)
}

impl Worker<'_> {
    fn publish(&self, p: &Progress) {
        p.connections.store(self.st.connections, Ordering::Relaxed);
        p.completed.store(self.st.completed, Ordering::Relaxed);
        p.failed.store(self.st.failed(), Ordering::Relaxed);
    }

    /// A slot for an open-loop start: a kept connection first, else a
    /// free slot.
    fn take_slot(&mut self) -> Option<u32> {
        self.free.pop()
    }

    /// Starts a transaction in slot `i`: on its kept connection, or on a
    /// new one. `t0` is the start the latencies count from.
    fn start(&mut self, i: u32, t0: Instant, now: Instant) {
        if self.budget == 0 || !self.starting {
            self.release(i);
            return;
        }
        self.budget -= 1;
        self.st.started += 1;
        self.st.first_start.get_or_insert(now);
        self.in_flight += 1;
        self.st.max_in_flight = self.st.max_in_flight.max(self.in_flight as u64);
        let s = &mut self.slots[i as usize];
        s.phase = Phase::Busy;
        s.t_start = t0;
        s.sent = 0;
        s.got = 0;
        if s.sock.is_some() {
            // Next request on the kept connection.
            self.send(i);
            return;
        }
        if let Err(e) = self.open(i, now) {
            // Not restarted at once (a socket or address that fails now
            // fails again): the sweep retries the slot.
            self.fail_quietly(i, Failure::of(&e));
        }
    }

    /// Opens a connection in slot `i` and sends what the SYN can carry.
    fn open(&mut self, i: u32, now: Instant) -> io::Result<()> {
        let cfg = self.cfg;
        let fd = sys::stream_socket_nonblocking(cfg.mptcp, &cfg.target).map_err(|e| {
            if cfg.mptcp && e.raw_os_error() == Some(libc::ENOPROTOOPT) {
                io::Error::new(
                    e.kind(),
                    format!("MPTCP socket: {e} (net.mptcp.enabled=0?)"),
                )
            } else {
                e
            }
        })?;
        let stream = TcpStream::from(fd);
        if let Some(ip) = cfg.source {
            sys::set_bind_address_no_port(&stream)?;
            sys::bind(&stream, &SocketAddr::new(ip, 0))?;
        }
        self.st.connections += 1;
        let s = &mut self.slots[i as usize];
        s.gen = s.gen.wrapping_add(1);
        s.t_conn = now;
        s.connected = false;
        s.done = 0;
        s.mptcp = false;
        s.checked = false;
        match cfg.tfo {
            TfoStyle::SendTo => match sys::sendto_fastopen(&stream, &self.req, &cfg.target) {
                Ok(n) => s.sent = n,
                // No cookie yet: the SYN asks for one; the request goes
                // once connected.
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
                Err(e) => return Err(e),
            },
            TfoStyle::Connect => {
                sys::set_tcp_fastopen_connect(&stream)?;
                // Returns at once (the connect is deferred); the write
                // sends the SYN with the data.
                sys::connect_nonblocking(&stream, &cfg.target)?;
                match (&stream).write(&self.req) {
                    Ok(n) => s.sent = n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
                    Err(e) => return Err(e),
                }
            }
            TfoStyle::Off => {
                if sys::connect_nonblocking(&stream, &cfg.target)? {
                    s.connected = true;
                }
            }
        }
        let tok = u64::from(s.gen) << 32 | u64::from(i);
        self.ep
            .add(&stream, ev::IN | ev::OUT | ev::RDHUP | ev::ET, tok)?;
        s.sock = Some(stream);
        Ok(())
    }

    /// Writes what is left of the request (the socket is connected or
    /// TFO-pending).
    fn send(&mut self, i: u32) {
        let len = self.req.len();
        let s = &mut self.slots[i as usize];
        let Some(sock) = s.sock.as_ref() else {
            return;
        };
        let mut failed = None;
        while s.sent < len {
            match (&*sock).write(&self.req[s.sent..]) {
                Ok(0) => break,
                Ok(n) => s.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    failed = Some(Failure::of(&e));
                    break;
                }
            }
        }
        if let Some(f) = failed {
            self.fail(i, f);
        }
    }

    fn on_event(&mut self, token: u64, events: u32, now: Instant) {
        let i = token as u32;
        let gen = (token >> 32) as u32;
        let Some(s) = self.slots.get_mut(i as usize) else {
            return;
        };
        if s.gen != gen || s.sock.is_none() {
            return;
        }
        if events & ev::ERR != 0 {
            let e = s
                .sock
                .as_ref()
                .and_then(|k| sys::take_socket_error(k).ok().flatten());
            if let Some(e) = e {
                if s.phase == Phase::Busy {
                    self.fail(i, Failure::of(&e));
                } else {
                    self.drop_conn(i);
                }
                return;
            }
        }
        if !s.connected && events & (ev::OUT | ev::IN) != 0 {
            s.connected = true;
            if s.done == 0 {
                self.st
                    .hists
                    .record_synack(ns(now.saturating_duration_since(s.t_conn)));
            }
        }
        if s.phase != Phase::Busy {
            // A kept connection: only a close or an error can come.
            if events & (ev::IN | ev::RDHUP | ev::ERR | ev::HUP) != 0 {
                self.drop_conn(i);
            }
            return;
        }
        if s.sent < self.req.len() && s.connected {
            self.send(i);
        }
        self.receive(i, now);
    }

    /// Reads until the socket is drained; completes, fails or continues
    /// the transaction.
    fn receive(&mut self, i: u32, now: Instant) {
        let want = self.cfg.response_bytes;
        loop {
            let s = &mut self.slots[i as usize];
            if s.phase != Phase::Busy {
                return;
            }
            let Some(sock) = s.sock.as_ref() else {
                return;
            };
            match (&*sock).read(&mut self.buf) {
                Ok(0) => {
                    let f = if s.got > 0 || s.sent == self.req.len() {
                        Failure::Incomplete
                    } else {
                        Failure::Reset
                    };
                    self.fail(i, f);
                    return;
                }
                Ok(n) => {
                    if s.got == 0 {
                        self.st
                            .hists
                            .record_first(ns(now.saturating_duration_since(s.t_start)));
                    }
                    s.got += n;
                    if s.got > want {
                        self.fail(i, Failure::Overlong);
                        return;
                    }
                    if s.got == want {
                        // The slot may now hold a new connection (or a
                        // new request): its readiness comes as its own
                        // events (a socket registered while ready is
                        // reported at once).
                        self.complete(i, now);
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.fail(i, Failure::of(&e));
                    return;
                }
            }
        }
    }

    /// The whole reply is in: records it and goes on (next request, a new
    /// connection, or a free slot).
    fn complete(&mut self, i: u32, now: Instant) {
        let mptcp = self.cfg.mptcp;
        let s = &mut self.slots[i as usize];
        self.st
            .hists
            .record_last(ns(now.saturating_duration_since(s.t_start)));
        self.st.completed += 1;
        self.st.last_reply = Some(now);
        self.in_flight -= 1;
        s.done += 1;
        if !s.checked {
            s.checked = true;
            if let Some(sock) = s.sock.as_ref() {
                self.st.checked += 1;
                if s.done == 1 && sys::tcp_info(sock).is_ok_and(|t| t.syn_data()) {
                    self.st.tfo_acked += 1;
                }
                if mptcp {
                    match sys::mptcp_state(sock) {
                        MptcpState::Fallback => self.st.fallbacks += 1,
                        MptcpState::Mptcp { .. } => s.mptcp = true,
                        MptcpState::Unknown => {}
                    }
                }
            }
        }
        if s.mptcp {
            self.st.mptcp_transactions += 1;
        }
        let keep = s.done < self.cfg.requests_per_connection;
        if !keep {
            s.sock = None;
        }
        match self.cfg.shape {
            Shape::Closed { .. } => self.start(i, now, now),
            Shape::Open { .. } => {
                let s = &mut self.slots[i as usize];
                if keep && self.starting {
                    s.phase = Phase::Kept;
                    // Kept connections are used before fresh slots.
                    self.free.push(i);
                } else {
                    s.sock = None;
                    s.phase = Phase::Free;
                    self.free.push(i);
                }
            }
        }
    }

    /// The transaction in slot `i` failed: counts it, closes the
    /// connection and goes on like after a completion.
    fn fail(&mut self, i: u32, f: Failure) {
        self.st.failures[f as usize] += 1;
        let s = &mut self.slots[i as usize];
        let was_busy = s.phase == Phase::Busy;
        s.sock = None;
        s.phase = Phase::Free;
        if was_busy {
            self.in_flight -= 1;
        }
        match self.cfg.shape {
            Shape::Closed { .. } => {
                // A failing target (refused, no port) must not make the
                // loop spin: the slot waits for the next sweep.
                if !matches!(f, Failure::Refused | Failure::NoPort | Failure::Socket) {
                    let now = Instant::now();
                    self.start(i, now, now);
                }
            }
            Shape::Open { .. } => self.free.push(i),
        }
    }

    /// Like [`Worker::fail`], without starting the slot again.
    fn fail_quietly(&mut self, i: u32, f: Failure) {
        self.st.failures[f as usize] += 1;
        let s = &mut self.slots[i as usize];
        if s.phase == Phase::Busy {
            self.in_flight -= 1;
        }
        s.sock = None;
        s.phase = Phase::Free;
        if matches!(self.cfg.shape, Shape::Open { .. }) {
            self.free.push(i);
        }
    }

    /// A kept connection closed by the server (or failing) while idle.
    fn drop_conn(&mut self, i: u32) {
        let s = &mut self.slots[i as usize];
        s.sock = None;
        s.done = 0;
    }

    /// Every 10 ms: fails transactions past the timeout, restarts slots
    /// that failed to open (closed loop).
    fn sweep(&mut self, now: Instant) {
        let timeout = self.cfg.timeout;
        for i in 0..self.slots.len() as u32 {
            let s = &self.slots[i as usize];
            match s.phase {
                Phase::Busy if now.saturating_duration_since(s.t_start) > timeout => {
                    self.fail(i, Failure::Timeout);
                }
                Phase::Free if matches!(self.cfg.shape, Shape::Closed { .. }) => {
                    self.start(i, now, now);
                }
                _ => {}
            }
        }
    }

    /// Slot `i` will not be used again (the load ended).
    fn release(&mut self, i: u32) {
        let s = &mut self.slots[i as usize];
        s.sock = None;
        s.phase = Phase::Free;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};

    /// A plain-TCP rpc server on loopback: `resp` bytes per `req` bytes,
    /// a thread per connection; counts the answers.
    fn server(req: usize, resp: usize) -> (SocketAddr, Arc<AtomicU64>) {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = l.local_addr().unwrap();
        let answered = Arc::new(AtomicU64::new(0));
        let n = Arc::clone(&answered);
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(mut c) = c else {
                    return;
                };
                let n = Arc::clone(&n);
                std::thread::spawn(move || {
                    let mut b = vec![0u8; req];
                    while c.read_exact(&mut b).is_ok() {
                        if c.write_all(&vec![b'R'; resp]).is_err() {
                            return;
                        }
                        n.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        (addr, answered)
    }

    fn cfg(target: SocketAddr) -> LoadConfig {
        LoadConfig {
            target,
            mptcp: false,
            tfo: TfoStyle::Off,
            request_bytes: 16,
            response_bytes: 40,
            duration: None,
            time_limit: Duration::from_secs(20),
            ..LoadConfig::default()
        }
    }

    #[test]
    fn closed_loop_counts_transactions_over_loopback() {
        let (addr, answered) = server(16, 40);
        let c = LoadConfig {
            transactions: Some(12),
            requests_per_connection: 2,
            shape: Shape::Closed { connections: 2 },
            ..cfg(addr)
        };
        let stop = AtomicBool::new(false);
        let p = vec![Arc::new(Progress::default())];
        let st = run(&c, &stop, &p).unwrap();
        let m = LoadStats::merged(&st);
        assert_eq!(m.completed, 12, "{:?}", m.failure_list());
        assert_eq!(m.failed(), 0);
        // Two per connection; a slot may end with a connection that did
        // one.
        assert!((6..=7).contains(&m.connections), "{}", m.connections);
        assert_eq!(m.hists.syn_to_last.len(), 12);
        assert_eq!(m.hists.syn_to_synack.len(), m.connections);
        assert_eq!(p[0].completed.load(Ordering::Relaxed), 12);
        assert_eq!(answered.load(Ordering::SeqCst), 12);
    }

    #[test]
    fn overlong_reply_is_an_error() {
        let (addr, _answered) = server(16, 41);
        let c = LoadConfig {
            transactions: Some(1),
            ..cfg(addr)
        };
        let st = run(
            &c,
            &AtomicBool::new(false),
            &[Arc::new(Progress::default())],
        )
        .unwrap();
        assert_eq!(st[0].failures_of(Failure::Overlong), 1);
        assert_eq!(st[0].completed, 0);
    }

    #[test]
    fn bad_settings_are_named() {
        let c = LoadConfig {
            shape: Shape::Open { rate: 0.0 },
            ..LoadConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("--rate"));
        let c = LoadConfig {
            cpus: vec![0, 1],
            shape: Shape::Closed { connections: 1 },
            ..LoadConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("--connections 1"));
    }
}
