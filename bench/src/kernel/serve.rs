//! The benchmark server on the kernel's MPTCP stack: `mptfo serve --stack
//! kernel`.
//!
//! One thread per worker CPU (pinned), each with its own `SO_REUSEPORT`
//! listener (`IPPROTO_MPTCP`, which takes plain TCP clients too; a
//! `TCP_FASTOPEN` queue; `TCP_FASTOPEN_KEY` when a key is given) and its
//! own epoll instance; sockets are non-blocking and edge-triggered. A
//! connection is read right after `accept` (with TFO its request is
//! already there) and answered: echo, or `response_bytes` per complete
//! request of `request_bytes` (written from one prepared buffer; nothing
//! is allocated per transaction). The server closes a connection once the
//! client closed and every answer was written.
//!
//! Replies to SYN data and Linux 6.18 (FINDINGS.md, protocol.md §8): a
//! reply written on a passive TFO MPTCP connection before the client's
//! MP_CAPABLE third ACK was processed is not transmitted until the client
//! sends something else.
//! - [`ReplyMode::Hold`]: an answer waits until `MPTCP_INFO` shows the
//!   client's key (or a fallback), re-checked on every edge-triggered
//!   event of the socket (processing the third ACK wakes it) and every
//!   [`ServeConfig::hold_recheck`] (the epoll wait's timeout while
//!   answers are held; no busy polling). How many answers waited, and how
//!   long, is counted.
//! - [`ReplyMode::Early`]: answers are written at once. Those written
//!   before the key was known are watched (`SIOCOUTQ`, every millisecond):
//!   one still unacknowledged after [`STALL`] counts as stalled.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::server::Answer;
use crate::sys::{self, ev, Epoll, EpollEvent, MptcpState};

/// An early reply unacknowledged this long counts as stalled.
pub const STALL: Duration = Duration::from_millis(100);
/// Token of the listener in each worker's epoll set.
const LISTENER: u64 = u64::MAX;
/// Events per wait.
const EVENT_BATCH: usize = 256;

/// When an answer may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    /// Once `MPTCP_INFO` shows the client's key (or a fallback).
    Hold,
    /// At once.
    Early,
}

/// What the server does.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address and port to listen on (unspecified address: any).
    pub listen: SocketAddr,
    /// `IPPROTO_MPTCP` listeners (else TCP).
    pub mptcp: bool,
    /// `TCP_FASTOPEN` queue length of each listener (0: no TFO).
    pub tfo_qlen: i32,
    /// `TCP_FASTOPEN_KEY` of each listener (default: the namespace's).
    pub tfo_key: Option<[u8; 16]>,
    /// `listen` backlog.
    pub backlog: i32,
    /// How to answer.
    pub answer: Answer,
    /// When to answer.
    pub reply: ReplyMode,
    /// Worker CPUs (pinned); empty: one worker, not pinned.
    pub cpus: Vec<usize>,
    /// Stop after this long (default: at the stop flag only).
    pub duration: Option<Duration>,
    /// How often held answers are re-checked.
    pub hold_recheck: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            mptcp: true,
            tfo_qlen: 4096,
            tfo_key: None,
            backlog: 4096,
            answer: Answer::Echo,
            reply: ReplyMode::Hold,
            cpus: Vec::new(),
            duration: None,
            hold_recheck: Duration::from_micros(100),
        }
    }
}

impl ServeConfig {
    /// Worker threads.
    pub fn workers(&self) -> usize {
        self.cpus.len().max(1)
    }
}

/// What one worker (or, merged, the server) saw.
#[derive(Debug, Clone)]
pub struct ServeStats {
    /// The worker's CPU.
    pub cpu: Option<usize>,
    /// Pinning succeeded.
    pub pinned: bool,
    /// Connections accepted.
    pub accepted: u64,
    /// Connections closed after the client closed and every answer left.
    pub closed: u64,
    /// Connections that ended with an error (reset, ...).
    pub errors: u64,
    /// `accept` failures other than "nothing pending".
    pub accept_errors: u64,
    /// The last of those.
    pub last_accept_error: Option<String>,
    /// Requests answered (rpc) or reads echoed (echo).
    pub requests: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes written.
    pub tx_bytes: u64,
    /// Connections whose first request was there at `accept` (SYN data).
    pub data_at_accept: u64,
    /// Hold: answers that had to wait for the client's key.
    pub held: u64,
    /// Hold: how long they waited, µs.
    pub hold_us: Histogram<u64>,
    /// Early: answers written before the client's key was known.
    pub early_before_key: u64,
    /// Early: of those, answers still unacknowledged after [`STALL`].
    pub stalled: u64,
    /// Early: answers whose acknowledgement could not be watched
    /// (`SIOCOUTQ` failed).
    pub unwatched: u64,
    /// Connections still open at the end.
    pub open_at_end: u64,
}

impl ServeStats {
    fn new(cpu: Option<usize>, pinned: bool) -> ServeStats {
        ServeStats {
            cpu,
            pinned,
            accepted: 0,
            closed: 0,
            errors: 0,
            accept_errors: 0,
            last_accept_error: None,
            requests: 0,
            rx_bytes: 0,
            tx_bytes: 0,
            data_at_accept: 0,
            held: 0,
            hold_us: crate::hist::new_histogram(),
            early_before_key: 0,
            stalled: 0,
            unwatched: 0,
            open_at_end: 0,
        }
    }

    /// Adds another worker's figures.
    pub fn merge(&mut self, o: &ServeStats) {
        self.accepted += o.accepted;
        self.closed += o.closed;
        self.errors += o.errors;
        self.accept_errors += o.accept_errors;
        if o.last_accept_error.is_some() {
            self.last_accept_error.clone_from(&o.last_accept_error);
        }
        self.requests += o.requests;
        self.rx_bytes += o.rx_bytes;
        self.tx_bytes += o.tx_bytes;
        self.data_at_accept += o.data_at_accept;
        self.held += o.held;
        let _ = self.hold_us.add(&o.hold_us);
        self.early_before_key += o.early_before_key;
        self.stalled += o.stalled;
        self.unwatched += o.unwatched;
        self.open_at_end += o.open_at_end;
    }

    /// All workers together.
    pub fn merged(all: &[ServeStats]) -> ServeStats {
        let mut m = ServeStats::new(None, false);
        for s in all {
            m.merge(s);
        }
        m
    }
}

/// The listeners, one per worker, bound and listening (so that clients
/// can connect as soon as this returns).
pub fn listeners(cfg: &ServeConfig) -> io::Result<Vec<TcpListener>> {
    (0..cfg.workers())
        .map(|_| {
            let fd = sys::stream_socket_nonblocking(cfg.mptcp, &cfg.listen).map_err(|e| {
                if cfg.mptcp && e.raw_os_error() == Some(libc::ENOPROTOOPT) {
                    io::Error::new(
                        e.kind(),
                        format!("MPTCP socket: {e} (net.mptcp.enabled=0?)"),
                    )
                } else {
                    e
                }
            })?;
            sys::set_reuseaddr(&fd)?;
            sys::set_reuseport(&fd)?;
            if cfg.tfo_qlen > 0 {
                sys::set_tcp_fastopen(&fd, cfg.tfo_qlen)
                    .map_err(|e| io::Error::new(e.kind(), format!("TCP_FASTOPEN: {e}")))?;
            }
            if let Some(k) = &cfg.tfo_key {
                sys::set_tcp_fastopen_key(&fd, k)
                    .map_err(|e| io::Error::new(e.kind(), format!("TCP_FASTOPEN_KEY: {e}")))?;
            }
            sys::bind(&fd, &cfg.listen)
                .map_err(|e| io::Error::new(e.kind(), format!("bind {}: {e}", cfg.listen)))?;
            sys::listen(&fd, cfg.backlog)?;
            Ok(TcpListener::from(fd))
        })
        .collect()
}

/// Serves on `listeners` (from [`listeners`]), one pinned thread each,
/// until `stop` is set or the duration passes.
pub fn run(
    cfg: &ServeConfig,
    listeners: Vec<TcpListener>,
    stop: &AtomicBool,
) -> io::Result<Vec<ServeStats>> {
    let end = cfg.duration.map(|d| Instant::now() + d);
    std::thread::scope(|sc| {
        let handles: Vec<_> = listeners
            .into_iter()
            .enumerate()
            .map(|(k, l)| {
                std::thread::Builder::new()
                    .name(format!("serve-{k}"))
                    .spawn_scoped(sc, move || worker(cfg, k, l, end, stop))
            })
            .collect::<io::Result<_>>()?;
        let mut out = Vec::new();
        let mut first_err = None;
        for h in handles {
            match h.join() {
                Ok(Ok(s)) => out.push(s),
                Ok(Err(e)) => {
                    stop.store(true, Ordering::SeqCst);
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    stop.store(true, Ordering::SeqCst);
                    first_err.get_or_insert(io::Error::other("a serve worker panicked"));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    })
}

struct Conn {
    sock: Option<TcpStream>,
    gen: u32,
    /// Bytes of the current incomplete request (rpc).
    partial: usize,
    /// Reply bytes still to write (rpc).
    owed: u64,
    /// Offset in the current reply (rpc).
    reply_off: usize,
    /// Bytes to echo, from `echo_off`.
    echo: Vec<u8>,
    echo_off: usize,
    /// Held since (hold mode).
    held_since: Option<Instant>,
    /// The client's key is known (or the connection is not MPTCP, or the
    /// check is no longer needed).
    key_known: bool,
    /// `EPOLLOUT` is in the registration.
    want_out: bool,
    peer_closed: bool,
}

impl Conn {
    fn pending(&self) -> bool {
        self.owed > 0 || self.echo_off < self.echo.len()
    }
}

struct Worker<'a> {
    cfg: &'a ServeConfig,
    ep: Epoll,
    conns: Vec<Conn>,
    free: Vec<u32>,
    buf: Vec<u8>,
    /// Whole replies back to back (rpc).
    pattern: Vec<u8>,
    /// Held answers (hold mode): slot and generation.
    held: Vec<(u32, u32)>,
    /// Early answers written before the key: slot, generation, when.
    watched: Vec<(u32, u32, Instant)>,
    st: ServeStats,
}

fn worker(
    cfg: &ServeConfig,
    k: usize,
    l: TcpListener,
    end: Option<Instant>,
    stop: &AtomicBool,
) -> io::Result<ServeStats> {
    let cpu = cfg.cpus.get(k).copied();
    let pinned = cpu.is_some_and(crate::steer::pin_to_cpu);
    let pattern = match cfg.answer {
        Answer::Rpc { response_bytes, .. } => {
            let one: Vec<u8> = (0..response_bytes).map(|i| b'A' + (i % 26) as u8).collect();
            let times = (65536 / response_bytes.max(1)).max(1);
            one.repeat(times)
        }
        Answer::Echo => Vec::new(),
    };
    let mut w = Worker {
        cfg,
        ep: Epoll::new()?,
        conns: Vec::new(),
        free: Vec::new(),
        buf: vec![0u8; 64 * 1024],
        pattern,
        held: Vec::new(),
        watched: Vec::new(),
        st: ServeStats::new(cpu, pinned),
    };
    w.ep.add(&l, ev::IN, LISTENER)?;
    let mut events = vec![EpollEvent::EMPTY; EVENT_BATCH];
    loop {
        let now = Instant::now();
        if stop.load(Ordering::Relaxed) || end.is_some_and(|e| now >= e) {
            break;
        }
        let mut timeout = Duration::from_millis(50);
        if !w.held.is_empty() {
            timeout = timeout.min(cfg.hold_recheck);
        }
        if !w.watched.is_empty() {
            timeout = timeout.min(Duration::from_millis(1));
        }
        if let Some(e) = end {
            timeout = timeout.min(e.saturating_duration_since(now));
        }
        let n = w.ep.wait_for(&mut events, Some(timeout))?;
        for e in &events[..n] {
            if e.token() == LISTENER {
                w.accept_all(&l);
            } else {
                w.service(e.token() as u32, (e.token() >> 32) as u32);
            }
        }
        if !w.held.is_empty() {
            w.recheck_held();
        }
        if !w.watched.is_empty() {
            w.recheck_watched();
        }
    }
    w.st.open_at_end = w.conns.iter().filter(|c| c.sock.is_some()).count() as u64;
    Ok(w.st)
}

impl Worker<'_> {
    fn accept_all(&mut self, l: &TcpListener) {
        loop {
            match sys::accept_nonblocking(l) {
                Ok(fd) => {
                    self.st.accepted += 1;
                    let sock = TcpStream::from(fd);
                    let _ = sock.set_nodelay(true);
                    let i = match self.free.pop() {
                        Some(i) => i,
                        None => {
                            self.conns.push(Conn {
                                sock: None,
                                gen: 0,
                                partial: 0,
                                owed: 0,
                                reply_off: 0,
                                echo: Vec::new(),
                                echo_off: 0,
                                held_since: None,
                                key_known: false,
                                want_out: false,
                                peer_closed: false,
                            });
                            (self.conns.len() - 1) as u32
                        }
                    };
                    let c = &mut self.conns[i as usize];
                    c.gen = c.gen.wrapping_add(1);
                    c.partial = 0;
                    c.owed = 0;
                    c.reply_off = 0;
                    c.echo.clear();
                    c.echo_off = 0;
                    c.held_since = None;
                    c.key_known = !self.cfg.mptcp;
                    c.want_out = false;
                    c.peer_closed = false;
                    let tok = u64::from(c.gen) << 32 | u64::from(i);
                    if let Err(_e) = self.ep.add(&sock, ev::IN | ev::RDHUP | ev::ET, tok) {
                        self.st.errors += 1;
                        self.free.push(i);
                        continue;
                    }
                    c.sock = Some(sock);
                    let before = self.st.rx_bytes;
                    let gen = c.gen;
                    self.service(i, gen);
                    if self.st.rx_bytes > before {
                        self.st.data_at_accept += 1;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ECONNABORTED) | Some(libc::EPROTO)
                    ) =>
                {
                    self.st.accept_errors += 1;
                    self.st.last_accept_error = Some(e.to_string());
                }
                Err(e) => {
                    // EMFILE and the like: try again at the next event.
                    self.st.accept_errors += 1;
                    self.st.last_accept_error = Some(e.to_string());
                    return;
                }
            }
        }
    }

    /// Reads, answers, writes and closes as far as the socket allows.
    fn service(&mut self, i: u32, gen: u32) {
        let Some(c) = self.conns.get_mut(i as usize) else {
            return;
        };
        if c.gen != gen {
            return;
        }
        let Some(sock) = c.sock.as_ref() else {
            return;
        };
        while !c.peer_closed {
            match (&*sock).read(&mut self.buf) {
                Ok(0) => c.peer_closed = true,
                Ok(n) => {
                    self.st.rx_bytes += n as u64;
                    match self.cfg.answer {
                        Answer::Echo => {
                            c.echo.extend_from_slice(&self.buf[..n]);
                            self.st.requests += 1;
                        }
                        Answer::Rpc {
                            request_bytes,
                            response_bytes,
                        } => {
                            c.partial += n;
                            let per = request_bytes.max(1);
                            let k = c.partial / per;
                            c.partial %= per;
                            c.owed += (k * response_bytes) as u64;
                            self.st.requests += k as u64;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.close(i, true);
                    return;
                }
            }
        }
        self.answer(i);
    }

    /// Writes what is owed, unless it has to wait for the key.
    fn answer(&mut self, i: u32) {
        let now = Instant::now();
        let c = &mut self.conns[i as usize];
        let Some(sock) = c.sock.as_ref() else {
            return;
        };
        if c.pending() && !c.key_known {
            let state = sys::mptcp_state(sock);
            let key = !matches!(state, MptcpState::Mptcp { remote_key: false });
            match self.cfg.reply {
                ReplyMode::Hold if !key => {
                    if c.held_since.is_none() {
                        c.held_since = Some(now);
                        self.st.held += 1;
                        self.held.push((i, c.gen));
                        // Edge-triggered EPOLLOUT: processing the third
                        // ACK wakes the socket (a level-triggered POLLOUT
                        // is useless: the socket is writable all along),
                        // and the event re-checks at once; the timer is
                        // the fallback. Held for 40 µs at the median
                        // instead of 170 µs with the timer alone.
                        if !c.want_out {
                            c.want_out = true;
                            let tok = u64::from(c.gen) << 32 | u64::from(i);
                            let _ =
                                self.ep
                                    .modify(sock, ev::IN | ev::OUT | ev::RDHUP | ev::ET, tok);
                        }
                    }
                    return;
                }
                ReplyMode::Hold => {
                    c.key_known = true;
                    if let Some(t) = c.held_since.take() {
                        let ns = now.saturating_duration_since(t).as_nanos() as u64;
                        self.st.hold_us.saturating_record(crate::hist::ns_to_us(ns));
                    }
                }
                ReplyMode::Early => {
                    c.key_known = true;
                    if !key {
                        self.st.early_before_key += 1;
                        self.watched.push((i, c.gen, now));
                    }
                }
            }
        }
        let mut failed = false;
        while c.pending() {
            let r = if c.owed > 0 {
                let len = (self.pattern.len() - c.reply_off).min(c.owed as usize);
                (&*sock).write(&self.pattern[c.reply_off..c.reply_off + len])
            } else {
                (&*sock).write(&c.echo[c.echo_off..])
            };
            match r {
                Ok(0) => break,
                Ok(n) => {
                    self.st.tx_bytes += n as u64;
                    if c.owed > 0 {
                        c.owed -= n as u64;
                        if let Answer::Rpc { response_bytes, .. } = self.cfg.answer {
                            c.reply_off = (c.reply_off + n) % response_bytes.max(1);
                        }
                    } else {
                        c.echo_off += n;
                        if c.echo_off == c.echo.len() {
                            c.echo.clear();
                            c.echo_off = 0;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !c.want_out {
                        c.want_out = true;
                        let tok = u64::from(c.gen) << 32 | u64::from(i);
                        let _ = self
                            .ep
                            .modify(sock, ev::IN | ev::OUT | ev::RDHUP | ev::ET, tok);
                    }
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            self.close(i, true);
        } else if c.peer_closed && !c.pending() {
            self.close(i, false);
        }
    }

    fn close(&mut self, i: u32, error: bool) {
        let c = &mut self.conns[i as usize];
        if c.sock.take().is_some() {
            if error {
                self.st.errors += 1;
            } else {
                self.st.closed += 1;
            }
            c.held_since = None;
            self.free.push(i);
        }
    }

    fn recheck_held(&mut self) {
        let mut k = 0;
        while k < self.held.len() {
            let (i, gen) = self.held[k];
            let c = &self.conns[i as usize];
            let live = c.gen == gen && c.sock.is_some() && c.held_since.is_some();
            if !live {
                self.held.swap_remove(k);
                continue;
            }
            let ready = c.sock.as_ref().is_some_and(|s| {
                !matches!(sys::mptcp_state(s), MptcpState::Mptcp { remote_key: false })
            });
            if ready {
                self.held.swap_remove(k);
                self.answer(i);
            } else {
                k += 1;
            }
        }
    }

    fn recheck_watched(&mut self) {
        let now = Instant::now();
        let mut k = 0;
        while k < self.watched.len() {
            let (i, gen, t) = self.watched[k];
            let c = &self.conns[i as usize];
            let Some(sock) = c.sock.as_ref().filter(|_| c.gen == gen) else {
                self.watched.swap_remove(k);
                continue;
            };
            match sys::unacked_bytes(sock) {
                Ok(0) => {
                    self.watched.swap_remove(k);
                }
                Ok(_) if now.saturating_duration_since(t) >= STALL => {
                    self.st.stalled += 1;
                    self.watched.swap_remove(k);
                }
                Ok(_) => k += 1,
                Err(_) => {
                    self.st.unwatched += 1;
                    self.watched.swap_remove(k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::loadgen::{self, LoadConfig, Progress, Shape, TfoStyle};
    use std::sync::Arc;

    /// The kernel loadgen against this server, plain TCP on loopback
    /// (no root, no TFO sysctl needed), two requests per connection.
    #[test]
    fn loadgen_against_serve_over_loopback_tcp() {
        let cfg = ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            mptcp: false,
            tfo_qlen: 0,
            answer: Answer::Rpc {
                request_bytes: 32,
                response_bytes: 100,
            },
            duration: Some(Duration::from_secs(20)),
            ..ServeConfig::default()
        };
        let ls = listeners(&cfg).unwrap();
        let addr = ls[0].local_addr().unwrap();
        let stop = AtomicBool::new(false);
        let lcfg = LoadConfig {
            target: addr,
            mptcp: false,
            tfo: TfoStyle::Off,
            request_bytes: 32,
            response_bytes: 100,
            shape: Shape::Closed { connections: 4 },
            requests_per_connection: 2,
            duration: None,
            transactions: Some(200),
            ..LoadConfig::default()
        };
        std::thread::scope(|sc| {
            let srv = sc.spawn(|| run(&cfg, ls, &stop).unwrap());
            let st = loadgen::run(
                &lcfg,
                &AtomicBool::new(false),
                &[Arc::new(Progress::default())],
            )
            .unwrap();
            // Let the server see the last closes.
            std::thread::sleep(Duration::from_millis(200));
            stop.store(true, Ordering::SeqCst);
            let s = ServeStats::merged(&srv.join().unwrap());
            let m = loadgen::LoadStats::merged(&st);
            assert_eq!(m.completed, 200, "{:?}", m.failure_list());
            // Two per connection; each of the 4 slots may end with a
            // connection that did one.
            assert!((100..=104).contains(&m.connections), "{}", m.connections);
            assert_eq!(s.accepted, m.connections);
            assert_eq!(s.requests, 200);
            assert_eq!(s.tx_bytes, 200 * 100);
            assert_eq!(s.closed, m.connections, "{s:?}");
            assert_eq!(s.errors, 0);
        });
    }
}
