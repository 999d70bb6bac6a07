//! A TFO listener on the kernel's MPTCP (or TCP) stack.
//!
//! One thread, non-blocking sockets and `poll`. Each connection is read
//! right after `accept` (with TFO the SYN's data is already there), and
//! answered: echo (every byte back) or rpc (`response_bytes` per complete
//! request of `request_bytes`). The server closes a connection once the
//! client closed and every answer was written.
//!
//! `wait_key`: Linux 6.18 does not transmit a reply written while the
//! passive TFO subflow is still in SYN_RECV (before the MP_CAPABLE third
//! ACK) until the client sends something else (FINDINGS.md, protocol.md
//! §8). With it, answers are held until `MPTCP_INFO` shows the remote-key
//! flag (or a fallback), re-checked at least every millisecond, as
//! `tfo_loadsrv -P` does.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::sys::{self, MptcpState};

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Every byte back.
    Echo,
    /// `response_bytes` per complete request of `request_bytes`.
    Rpc {
        /// Size of one request.
        request_bytes: usize,
        /// Size of one answer.
        response_bytes: usize,
    },
}

/// What the server does.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `IPPROTO_MPTCP` (else plain TCP).
    pub mptcp: bool,
    /// `TCP_FASTOPEN` queue length; 0 leaves TFO off on the listener.
    pub tfo_qlen: i32,
    /// Stop accepting after this many connections (and exit once they are
    /// closed).
    pub connections: Option<u64>,
    /// Hard time limit.
    pub duration: Duration,
    /// How to answer.
    pub answer: Answer,
    /// Hold answers until the client's MPTCP key has arrived.
    pub wait_key: bool,
    /// A line per connection event.
    pub verbose: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            mptcp: true,
            tfo_qlen: 64,
            connections: None,
            duration: Duration::from_secs(30),
            answer: Answer::Echo,
            wait_key: true,
            verbose: false,
        }
    }
}

/// What the server saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections closed after the client closed.
    pub closed: u64,
    /// Connections that ended with an error (reset, ...).
    pub errors: u64,
    /// Requests answered (rpc) or reads echoed (echo).
    pub requests: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes written.
    pub tx_bytes: u64,
    /// Connections whose first request was readable right at `accept`
    /// (it came in the SYN).
    pub data_at_accept: u64,
    /// Connections whose `TCP_INFO` had the SYN-data flag (TFO accepted).
    pub tfo: u64,
    /// Connections that had fallen back to TCP when last looked at.
    pub fallbacks: u64,
    /// Connections that stayed MPTCP until the client closed.
    pub mptcp: u64,
    /// Connections whose answer had to wait for the client's key.
    pub deferred: u64,
    /// Longest such wait, µs.
    pub max_defer_us: u64,
}

impl fmt::Display for ServerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "accepted={} closed={} errors={} requests={} rx_bytes={} tx_bytes={} data_at_accept={} tfo={} mptcp={} fallbacks={} deferred={} max_defer_us={}",
            self.accepted,
            self.closed,
            self.errors,
            self.requests,
            self.rx_bytes,
            self.tx_bytes,
            self.data_at_accept,
            self.tfo,
            self.mptcp,
            self.fallbacks,
            self.deferred,
            self.max_defer_us
        )
    }
}

struct Conn {
    id: u64,
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes of the current incomplete request (rpc).
    partial: usize,
    /// Bytes to write.
    out: Vec<u8>,
    /// Answers are held until the client's key arrives.
    holding: Option<Instant>,
    /// The key was seen (or the connection is not MPTCP): no more holds.
    key_known: bool,
    peer_closed: bool,
}

/// The listening socket, with TFO and MPTCP as configured.
pub fn listener(cfg: &ServerConfig) -> io::Result<TcpListener> {
    let fd = sys::stream_socket(cfg.mptcp, &cfg.listen)?;
    sys::set_reuseaddr(&fd)?;
    if cfg.tfo_qlen > 0 {
        sys::set_tcp_fastopen(&fd, cfg.tfo_qlen)?;
    }
    sys::bind(&fd, &cfg.listen)?;
    sys::listen(&fd, 1024)?;
    let l = TcpListener::from(fd);
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Serves on `l` until `stop` is set, the time limit passes, or the
/// connection limit was reached and every connection is closed. Writes
/// event lines (with `verbose`) to `out`.
pub fn run(
    cfg: &ServerConfig,
    l: &TcpListener,
    stop: &AtomicBool,
    out: &mut impl Write,
) -> io::Result<ServerStats> {
    let mut st = ServerStats::default();
    let end = Instant::now() + cfg.duration;
    let mut conns: Vec<Conn> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let pattern: Vec<u8> = match cfg.answer {
        Answer::Rpc { response_bytes, .. } => {
            (0..response_bytes).map(|i| b'A' + (i % 26) as u8).collect()
        }
        Answer::Echo => Vec::new(),
    };
    let mut next_id = 0u64;
    loop {
        let accepting = cfg.connections.is_none_or(|n| st.accepted < n);
        if stop.load(Ordering::SeqCst) || Instant::now() >= end {
            break;
        }
        if !accepting && conns.is_empty() {
            break;
        }
        let holding = conns.iter().any(|c| c.holding.is_some());
        let mut fds = Vec::with_capacity(conns.len() + 1);
        fds.push(sys::poll_fd(
            l.as_raw_fd(),
            if accepting { libc::POLLIN } else { 0 },
        ));
        for c in &conns {
            let mut ev = 0;
            if !c.peer_closed {
                ev |= libc::POLLIN;
            }
            if !c.out.is_empty() && c.holding.is_none() {
                ev |= libc::POLLOUT;
            }
            fds.push(sys::poll_fd(c.stream.as_raw_fd(), ev));
        }
        let wait = if holding { 1 } else { 50 };
        sys::poll(&mut fds, wait)?;

        if accepting && fds[0].revents != 0 {
            loop {
                if cfg.connections.is_some_and(|n| st.accepted >= n) {
                    break;
                }
                match l.accept() {
                    Ok((stream, peer)) => {
                        stream.set_nonblocking(true)?;
                        let _ = stream.set_nodelay(true);
                        st.accepted += 1;
                        let id = next_id;
                        next_id += 1;
                        let mut peek = [0u8; 1];
                        let at_accept = matches!(stream.peek(&mut peek), Ok(n) if n > 0);
                        if at_accept {
                            st.data_at_accept += 1;
                        }
                        let tfo = sys::tcp_info(&stream).is_ok_and(|t| t.syn_data());
                        if tfo {
                            st.tfo += 1;
                        }
                        if cfg.verbose {
                            writeln!(
                                out,
                                "accept conn={id} from={peer} data_at_accept={} syn_data={} {}",
                                u8::from(at_accept),
                                u8::from(tfo),
                                describe(&stream, cfg.mptcp)
                            )?;
                        }
                        conns.push(Conn {
                            id,
                            stream,
                            peer,
                            partial: 0,
                            out: Vec::new(),
                            holding: None,
                            key_known: !(cfg.mptcp && cfg.wait_key),
                            peer_closed: false,
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        writeln!(out, "accept: {e}")?;
                        break;
                    }
                }
            }
        }

        // Read, answer, write, close: every connection, every round (the
        // sockets are non-blocking; a fresh TFO connection has its request
        // waiting without a poll event of its own yet).
        let mut i = 0;
        while i < conns.len() {
            let done = service(cfg, &mut conns[i], &mut buf, &pattern, &mut st, out)?;
            if done {
                let c = conns.swap_remove(i);
                finish(cfg, c, &mut st, out)?;
            } else {
                i += 1;
            }
        }
    }
    for c in conns.drain(..) {
        if cfg.verbose {
            writeln!(out, "conn={} from={} still open at exit", c.id, c.peer)?;
        }
    }
    Ok(st)
}

/// `MPTCP_INFO` and `TCP_INFO` in a few words.
fn describe(s: &TcpStream, mptcp: bool) -> String {
    let tcp = sys::tcp_info(s).map_or("tcp_state=?".into(), |t| format!("tcp_state={}", t.state));
    if !mptcp {
        return tcp;
    }
    match sys::mptcp_state(s) {
        MptcpState::Mptcp { remote_key } => {
            format!("mptcp remote_key={} {tcp}", u8::from(remote_key))
        }
        MptcpState::Fallback => format!("fallback {tcp}"),
        MptcpState::Unknown => format!("mptcp_info=? {tcp}"),
    }
}

/// One round of work on a connection; true when it is finished.
fn service(
    cfg: &ServerConfig,
    c: &mut Conn,
    buf: &mut [u8],
    pattern: &[u8],
    st: &mut ServerStats,
    out: &mut impl Write,
) -> io::Result<bool> {
    while !c.peer_closed {
        match c.stream.read(buf) {
            Ok(0) => c.peer_closed = true,
            Ok(n) => {
                st.rx_bytes += n as u64;
                match cfg.answer {
                    Answer::Echo => {
                        c.out.extend_from_slice(&buf[..n]);
                        st.requests += 1;
                    }
                    Answer::Rpc { request_bytes, .. } => {
                        c.partial += n;
                        let per = request_bytes.max(1);
                        for _ in 0..c.partial / per {
                            c.out.extend_from_slice(pattern);
                            st.requests += 1;
                        }
                        c.partial %= per;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                if cfg.verbose {
                    writeln!(out, "conn={} read: {e}", c.id)?;
                }
                st.errors += 1;
                return Ok(true);
            }
        }
    }
    if !c.out.is_empty() && !c.key_known {
        match sys::mptcp_state(&c.stream) {
            MptcpState::Mptcp { remote_key: false } => {
                if c.holding.is_none() {
                    c.holding = Some(Instant::now());
                    st.deferred += 1;
                }
                return Ok(false);
            }
            _ => {
                c.key_known = true;
                if let Some(t) = c.holding.take() {
                    let us = t.elapsed().as_micros() as u64;
                    st.max_defer_us = st.max_defer_us.max(us);
                    if cfg.verbose {
                        writeln!(out, "conn={} answer held {us} us for the key", c.id)?;
                    }
                }
            }
        }
    }
    while !c.out.is_empty() {
        match c.stream.write(&c.out) {
            Ok(0) => break,
            Ok(n) => {
                st.tx_bytes += n as u64;
                c.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                if cfg.verbose {
                    writeln!(out, "conn={} write: {e}", c.id)?;
                }
                st.errors += 1;
                return Ok(true);
            }
        }
    }
    Ok(c.peer_closed && c.out.is_empty())
}

fn finish(
    cfg: &ServerConfig,
    c: Conn,
    st: &mut ServerStats,
    out: &mut impl Write,
) -> io::Result<()> {
    if cfg.mptcp {
        match sys::mptcp_state(&c.stream) {
            MptcpState::Fallback => st.fallbacks += 1,
            MptcpState::Mptcp { .. } => st.mptcp += 1,
            MptcpState::Unknown => {}
        }
    }
    if cfg.verbose {
        writeln!(
            out,
            "close conn={} from={} {}",
            c.id,
            c.peer,
            describe(&c.stream, cfg.mptcp)
        )?;
    }
    st.closed += 1;
    drop(c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::client::{self, ClientConfig, OpenMode};

    /// Plain TCP on loopback, rpc answers, two concurrent-ish clients.
    #[test]
    fn rpc_over_loopback_tcp() {
        let cfg = ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            mptcp: false,
            tfo_qlen: 0,
            connections: Some(3),
            duration: Duration::from_secs(10),
            answer: Answer::Rpc {
                request_bytes: 16,
                response_bytes: 40,
            },
            wait_key: false,
            verbose: true,
        };
        let l = listener(&cfg).unwrap();
        let addr = l.local_addr().unwrap();
        let stop = AtomicBool::new(false);
        let ccfg = ClientConfig {
            target: addr,
            modes: vec![OpenMode::Plain],
            mptcp: false,
            connections: 3,
            exchanges: 2,
            request_bytes: 16,
            response_bytes: Some(40),
            gap: Duration::ZERO,
            ..ClientConfig::default()
        };
        let cl = std::thread::spawn(move || client::run(&ccfg, &mut Vec::new()).unwrap());
        let mut log = Vec::new();
        let st = run(&cfg, &l, &stop, &mut log).unwrap();
        let reports = cl.join().unwrap();
        assert!(reports.iter().all(|r| r.ok()), "{reports:?}");
        assert_eq!(st.accepted, 3);
        assert_eq!(st.closed, 3);
        assert_eq!(st.requests, 6);
        assert_eq!(st.tx_bytes, 240);
        let log = String::from_utf8(log).unwrap();
        assert_eq!(log.matches("accept conn=").count(), 3, "{log}");
    }
}
