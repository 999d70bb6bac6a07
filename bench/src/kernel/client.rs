//! A client on the kernel's MPTCP (or TCP) stack.
//!
//! Per connection: open it the chosen way (the first request rides in the
//! SYN when TFO applies), read the reply, do the remaining exchanges
//! (write + read), note how the connection stands (`TCP_INFO` SYN-data
//! flag, `MPTCP_INFO` fallback and remote-key flags), close. Every read
//! and write has a timeout and the whole run a deadline.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::sys::{self, MptcpState};

use super::request_bytes;

/// How the first request goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// `sendto(MSG_FASTOPEN)`: connect and send at once (in the SYN when a
    /// cookie is cached; else the SYN asks for one and the data follows
    /// the handshake).
    SendTo,
    /// `setsockopt(TCP_FASTOPEN_CONNECT)` + `connect` + `write`: the write
    /// goes out in the SYN.
    Connect,
    /// `connect` then `write`: no TFO.
    Plain,
}

impl OpenMode {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            OpenMode::SendTo => "sendto",
            OpenMode::Connect => "connect",
            OpenMode::Plain => "plain",
        }
    }
}

impl std::str::FromStr for OpenMode {
    type Err = String;
    fn from_str(s: &str) -> Result<OpenMode, String> {
        match s {
            "sendto" => Ok(OpenMode::SendTo),
            "connect" => Ok(OpenMode::Connect),
            "plain" => Ok(OpenMode::Plain),
            _ => Err(format!("`{s}`: expected sendto, connect or plain")),
        }
    }
}

/// What the client does.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server.
    pub target: SocketAddr,
    /// How each connection opens; connection `i` uses
    /// `modes[min(i, len - 1)]`.
    pub modes: Vec<OpenMode>,
    /// `IPPROTO_MPTCP` (else plain TCP).
    pub mptcp: bool,
    /// Connections, one after the other.
    pub connections: usize,
    /// Request/reply exchanges per connection.
    pub exchanges: usize,
    /// Bytes per request.
    pub request_bytes: usize,
    /// Bytes per reply; `None`: the server echoes (and the reply is
    /// checked against the request).
    pub response_bytes: Option<usize>,
    /// Pause between connections.
    pub gap: Duration,
    /// Limit of each read and write.
    pub io_timeout: Duration,
    /// Limit of the whole run.
    pub deadline: Duration,
    /// Source address to bind.
    pub bind: Option<IpAddr>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            target: SocketAddr::from(([127, 0, 0, 1], 8080)),
            modes: vec![OpenMode::SendTo],
            mptcp: true,
            connections: 1,
            exchanges: 2,
            request_bytes: 32,
            response_bytes: None,
            gap: Duration::from_millis(20),
            io_timeout: Duration::from_secs(2),
            deadline: Duration::from_secs(20),
            bind: None,
        }
    }
}

/// How one connection went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnReport {
    /// Its index.
    pub index: usize,
    /// How it opened.
    pub mode: OpenMode,
    /// MPTCP socket.
    pub mptcp: bool,
    /// `TCP_INFO` says the SYN's data was acknowledged (TFO worked).
    pub syn_data_acked: bool,
    /// The connection fell back to TCP (MPTCP sockets only).
    pub fallback: bool,
    /// `MPTCP_INFO` had the remote-key flag before close.
    pub remote_key: bool,
    /// Exchanges completed.
    pub exchanges_done: usize,
    /// Exchanges asked for.
    pub exchanges: usize,
    /// Every reply had the expected bytes (echo: equal to the request).
    pub replies_ok: bool,
    /// From the first send call to the first reply complete.
    pub first_reply: Option<Duration>,
    /// From the first send call to the close.
    pub total: Duration,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

impl ConnReport {
    /// Everything asked for happened, correctly.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.replies_ok && self.exchanges_done == self.exchanges
    }
}

impl fmt::Display for ConnReport {
    /// One line of `key=value` fields (what the interop tests parse).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = |v: bool| u8::from(v);
        write!(
            f,
            "conn={} mode={} proto={} syn_data_acked={} fallback={} remote_key={} exchanges={}/{} replies_ok={} first_reply_us={} total_us={}",
            self.index,
            self.mode.name(),
            if self.mptcp { "mptcp" } else { "tcp" },
            b(self.syn_data_acked),
            b(self.fallback),
            b(self.remote_key),
            self.exchanges_done,
            self.exchanges,
            b(self.replies_ok),
            self.first_reply.map_or(-1, |d| d.as_micros() as i64),
            self.total.as_micros(),
        )?;
        if let Some(e) = &self.error {
            write!(f, " error={:?}", e)?;
        }
        Ok(())
    }
}

/// Runs the connections; writes one line per connection to `out` as it
/// finishes. Fails only when the configuration is unusable.
pub fn run(cfg: &ClientConfig, out: &mut impl Write) -> io::Result<Vec<ConnReport>> {
    if cfg.modes.is_empty() || cfg.request_bytes == 0 || cfg.exchanges == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "need a mode, at least one exchange and a request of at least one byte",
        ));
    }
    let end = Instant::now() + cfg.deadline;
    let mut reports = Vec::with_capacity(cfg.connections);
    for i in 0..cfg.connections {
        let mode = cfg.modes[i.min(cfg.modes.len() - 1)];
        let r = one(cfg, i, mode, end);
        writeln!(out, "{r}")?;
        out.flush()?;
        reports.push(r);
        if Instant::now() >= end {
            break;
        }
        if i + 1 < cfg.connections && !cfg.gap.is_zero() {
            std::thread::sleep(cfg.gap);
        }
    }
    Ok(reports)
}

/// The time left before `end`, at most `limit`, at least 1 ms.
fn left(end: Instant, limit: Duration) -> Duration {
    end.saturating_duration_since(Instant::now())
        .min(limit)
        .max(Duration::from_millis(1))
}

fn one(cfg: &ClientConfig, index: usize, mode: OpenMode, end: Instant) -> ConnReport {
    let mut r = ConnReport {
        index,
        mode,
        mptcp: cfg.mptcp,
        syn_data_acked: false,
        fallback: false,
        remote_key: false,
        exchanges_done: 0,
        exchanges: cfg.exchanges,
        replies_ok: true,
        first_reply: None,
        total: Duration::ZERO,
        error: None,
    };
    let t0 = Instant::now();
    if let Err(e) = exchange(cfg, index, mode, end, t0, &mut r) {
        r.error = Some(e);
    }
    r.total = t0.elapsed();
    r
}

fn exchange(
    cfg: &ClientConfig,
    index: usize,
    mode: OpenMode,
    end: Instant,
    t0: Instant,
    r: &mut ConnReport,
) -> Result<(), String> {
    let target = cfg.target;
    let fd = sys::stream_socket(cfg.mptcp, &target).map_err(|e| format!("socket: {e}"))?;
    if let Some(ip) = cfg.bind {
        sys::bind(&fd, &SocketAddr::new(ip, 0)).map_err(|e| format!("bind {ip}: {e}"))?;
    }
    let first = request_bytes(index, 0, cfg.request_bytes);
    // Timeouts first: SO_SNDTIMEO also bounds a blocking connect and a
    // sendto(MSG_FASTOPEN) that waits for the handshake.
    let mut s = TcpStream::from(fd);
    set_timeouts(&s, end, cfg.io_timeout)?;
    match mode {
        OpenMode::SendTo => {
            let n = sys::sendto_fastopen(&s, &first, &target)
                .map_err(|e| format!("sendto(MSG_FASTOPEN): {e}"))?;
            if n < first.len() {
                s.write_all(&first[n..])
                    .map_err(|e| format!("write (rest of the first request): {e}"))?;
            }
        }
        OpenMode::Connect | OpenMode::Plain => {
            if mode == OpenMode::Connect {
                sys::set_tcp_fastopen_connect(&s)
                    .map_err(|e| format!("setsockopt(TCP_FASTOPEN_CONNECT): {e}"))?;
            }
            sys::connect(&s, &target).map_err(|e| format!("connect: {e}"))?;
            set_timeouts(&s, end, cfg.io_timeout)?;
            s.write_all(&first)
                .map_err(|e| format!("write (first request): {e}"))?;
        }
    }
    let reply_len = cfg.response_bytes.unwrap_or(cfg.request_bytes);
    let mut reply = vec![0u8; reply_len];
    for ex in 0..cfg.exchanges {
        let req = request_bytes(index, ex, cfg.request_bytes);
        if ex > 0 {
            set_timeouts(&s, end, cfg.io_timeout)?;
            s.write_all(&req)
                .map_err(|e| format!("write (request {}): {e}", ex + 1))?;
        }
        set_timeouts(&s, end, cfg.io_timeout)?;
        s.read_exact(&mut reply)
            .map_err(|e| format!("read (reply {}): {e}", ex + 1))?;
        if ex == 0 {
            r.first_reply = Some(t0.elapsed());
            if let Ok(ti) = sys::tcp_info(&s) {
                r.syn_data_acked = ti.syn_data();
            }
        }
        if cfg.response_bytes.is_none() && reply != req {
            r.replies_ok = false;
        }
        r.exchanges_done = ex + 1;
    }
    if cfg.mptcp {
        match sys::mptcp_state(&s) {
            MptcpState::Mptcp { remote_key } => r.remote_key = remote_key,
            MptcpState::Fallback => r.fallback = true,
            MptcpState::Unknown => {}
        }
    }
    // Close: our FIN (DATA_FIN) first; wait for the server's close so that
    // the connection ends cleanly before the next one starts.
    s.shutdown(std::net::Shutdown::Write)
        .map_err(|e| format!("shutdown: {e}"))?;
    set_timeouts(&s, end, cfg.io_timeout)?;
    let mut rest = [0u8; 512];
    loop {
        match s.read(&mut rest) {
            Ok(0) => break,
            Ok(_) => {
                r.replies_ok = false;
                return Err("data after the last reply".into());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("waiting for the server's close: {e}")),
        }
    }
    Ok(())
}

fn set_timeouts(s: &TcpStream, end: Instant, limit: Duration) -> Result<(), String> {
    let t = Some(left(end, limit));
    s.set_read_timeout(t)
        .and_then(|_| s.set_write_timeout(t))
        .map_err(|e| format!("timeouts: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};

    /// Against a std echo server on loopback, plain TCP (no root, no TFO
    /// sysctl needed).
    #[test]
    fn plain_tcp_echo_on_loopback() {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = l.local_addr().unwrap();
        let srv = std::thread::spawn(move || {
            for _ in 0..2 {
                let (mut c, _) = l.accept().unwrap();
                let mut b = [0u8; 64];
                loop {
                    let n = c.read(&mut b).unwrap();
                    if n == 0 {
                        break;
                    }
                    c.write_all(&b[..n]).unwrap();
                }
            }
        });
        let cfg = ClientConfig {
            target: addr,
            modes: vec![OpenMode::Plain],
            mptcp: false,
            connections: 2,
            exchanges: 3,
            request_bytes: 20,
            gap: Duration::ZERO,
            ..ClientConfig::default()
        };
        let mut out = Vec::new();
        let reports = run(&cfg, &mut out).unwrap();
        srv.join().unwrap();
        assert_eq!(reports.len(), 2);
        for r in &reports {
            assert!(r.ok(), "{r}");
            assert_eq!(r.exchanges_done, 3);
        }
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("conn=1 mode=plain proto=tcp"), "{text}");
        assert!(text.contains("replies_ok=1"), "{text}");
    }

    #[test]
    fn refused_connection_is_reported_not_fatal() {
        // A port nobody listens on.
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let cfg = ClientConfig {
            target: addr,
            modes: vec![OpenMode::Plain],
            mptcp: false,
            ..ClientConfig::default()
        };
        let reports = run(&cfg, &mut Vec::new()).unwrap();
        assert!(!reports[0].ok());
        assert!(reports[0].error.as_deref().unwrap().contains("connect"));
    }
}
