//! The benchmark server: accepts connections on its listener and answers
//! requests.
//!
//! - `rpc`: every complete request of `request_bytes` is answered with
//!   `response_bytes` (a fixed pattern); bytes of a partial request wait
//!   for the rest.
//! - `echo`: every byte received is sent back.
//!
//! A connection is closed once the peer closed its direction and the
//! answers written so far were handed to the stack. Works with TFO: data
//! carried by the SYN arrives right after `Accepted`, and the answer is
//! written at once (the stack's reply timing decides when it leaves).

use mptfo_engine::stack::{CloseReason, ConnId, Event, Stack};
use mptfo_engine::worker::App;
use mptfo_nic::{Buf, Port};

use crate::table::ConnTable;

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeMode {
    /// Each request of `request_bytes` gets `response_bytes` back.
    Rpc {
        /// Size of one request.
        request_bytes: usize,
        /// Size of the answer to one request.
        response_bytes: usize,
    },
    /// Everything received is sent back.
    Echo,
}

/// What the server saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServeStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections that ended (any reason).
    pub closed: u64,
    /// Connections that ended with a reason other than `Graceful`.
    pub errors: u64,
    /// Requests answered (rpc) or data chunks echoed (echo).
    pub requests: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes handed to the stack.
    pub tx_bytes: u64,
    /// Writes the stack refused for lack of packet buffers.
    pub send_errors: u64,
}

#[derive(Debug, Default)]
struct ServerConn {
    /// Bytes of the current, incomplete request (rpc).
    partial: usize,
    /// Response bytes still to write (rpc).
    owed: usize,
    /// Echo bytes still to write.
    echo: Vec<u8>,
    /// The peer closed; close once everything owed is written.
    peer_closed: bool,
    /// We called close.
    closing: bool,
}

/// The server application.
#[derive(Debug)]
pub struct ServeApp {
    mode: ServeMode,
    /// A response-sized (at most 64 KiB) block of the reply pattern.
    pattern: Vec<u8>,
    conns: ConnTable<ServerConn>,
    /// Counters of what happened.
    pub stats: ServeStats,
    /// Why connections ended with an error, by reason.
    pub error_reasons: Vec<(CloseReason, u64)>,
}

impl ServeApp {
    /// A server answering in `mode`.
    pub fn new(mode: ServeMode) -> ServeApp {
        let len = match mode {
            ServeMode::Rpc { response_bytes, .. } => response_bytes.min(64 * 1024),
            ServeMode::Echo => 0,
        };
        ServeApp {
            mode,
            pattern: pattern(len, 0x5a),
            conns: ConnTable::default(),
            stats: ServeStats::default(),
            error_reasons: Vec::new(),
        }
    }

    /// Connections open (accepted, not yet closed).
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// The connections still open, as `(id, peer closed, we closed)`.
    pub fn open_list(&self) -> Vec<(ConnId, bool, bool)> {
        self.conns
            .iter()
            .map(|(id, c)| (id, c.peer_closed, c.closing))
            .collect()
    }

    /// Writes what is owed to `conn`; closes it when the peer is gone and
    /// nothing is left.
    fn flush<B: Buf>(&mut self, stack: &mut Stack<B>, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        while c.owed > 0 {
            let n = c.owed.min(self.pattern.len());
            match stack.send(conn, &self.pattern[..n]) {
                Ok(0) => break,
                Ok(k) => {
                    c.owed -= k;
                    self.stats.tx_bytes += k as u64;
                }
                Err(_) => {
                    self.stats.send_errors += 1;
                    break;
                }
            }
        }
        while !c.echo.is_empty() {
            match stack.send(conn, &c.echo) {
                Ok(0) => break,
                Ok(k) => {
                    c.echo.drain(..k);
                    self.stats.tx_bytes += k as u64;
                }
                Err(_) => {
                    self.stats.send_errors += 1;
                    break;
                }
            }
        }
        if c.peer_closed && !c.closing && c.owed == 0 && c.echo.is_empty() {
            c.closing = true;
            let _ = stack.close(conn);
        }
    }

    fn count_error(&mut self, reason: CloseReason) {
        self.stats.errors += 1;
        match self.error_reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.error_reasons.push((reason, 1)),
        }
    }
}

impl<P: Port> App<P> for ServeApp {
    fn on_event(&mut self, stack: &mut Stack<P::Buf>, event: Event<P::Buf>) {
        match event {
            Event::Accepted { conn, .. } => {
                self.stats.accepted += 1;
                self.conns.insert(conn, ServerConn::default());
            }
            Event::Data { conn, data } => {
                let bytes = data.data();
                self.stats.rx_bytes += bytes.len() as u64;
                let Some(c) = self.conns.get_mut(conn) else {
                    return;
                };
                match self.mode {
                    ServeMode::Rpc {
                        request_bytes,
                        response_bytes,
                    } => {
                        c.partial += bytes.len();
                        let per = request_bytes.max(1);
                        let done = c.partial / per;
                        c.partial %= per;
                        c.owed += done * response_bytes;
                        self.stats.requests += done as u64;
                    }
                    ServeMode::Echo => {
                        c.echo.extend_from_slice(bytes);
                        self.stats.requests += 1;
                    }
                }
                drop(data);
                self.flush(stack, conn);
            }
            Event::Writable { conn } => self.flush(stack, conn),
            Event::PeerClosed { conn } => {
                if let Some(c) = self.conns.get_mut(conn) {
                    c.peer_closed = true;
                }
                self.flush(stack, conn);
            }
            Event::Closed { conn, reason } => {
                self.conns.remove(conn);
                self.stats.closed += 1;
                if reason != CloseReason::Graceful {
                    self.count_error(reason);
                }
            }
            Event::Connected { .. } => {}
        }
    }
}

/// `len` bytes of a recognisable pattern.
pub(crate) fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ salt)
        .collect()
}
