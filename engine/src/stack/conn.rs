//! One connection as the application sees it: the MPTCP data level over its
//! subflows, or a plain TCP connection (an MPTCP connection that fell back,
//! or that never negotiated MPTCP, runs here too with `fallback` set).
//!
//! Owns: keys, tokens and IDSNs of both ends, the data sequence spaces (what
//! was written and not yet DATA_ACKed, what arrived and in which order),
//! DATA_FIN state in both directions, and the application-facing state. It
//! does not know TCP sequence numbers: subflows translate with mappings.

use std::collections::{BTreeMap, VecDeque};

use mptfo_nic::Buf;
use mptfo_proto::crypto::KeyMaterial;
use mptfo_proto::{DataSeq, SubflowSeq};

use crate::slab::Key;
use crate::time::Instant;

/// Where the connection stands at MPTCP level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MptcpMode {
    /// MP_CAPABLE sent or received, not yet confirmed by the peer.
    Pending,
    /// Both keys known (RFC 8684 §3.1): DATA_ACKs can be sent.
    Established,
    /// Plain TCP: MPTCP was not negotiated, or the connection fell back
    /// (RFC 8684 §3.7). Subflow bytes are the data stream 1:1.
    Fallback,
}

/// A chunk of application data: assigned to DSNs when first sent.
#[derive(Debug)]
pub struct DataChunk<B> {
    /// DSN of the first byte (valid once sent).
    pub dsn: DataSeq,
    /// The bytes, as a window of a stack-owned buffer.
    pub buf: B,
}

/// Where our send direction left the data level (RFC 8684 §3.7): from
/// subflow sequence number `seq` on, the subflow's bytes are the data
/// stream 1:1 from `dsn`. The infinite mapping saying so rides on every
/// segment from `seq` on until the peer acknowledges a byte past `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxFallback {
    /// Subflow sequence number of the first plain byte.
    pub seq: SubflowSeq,
    /// Its relative SSN (what the infinite mapping carries).
    pub ssn: u32,
    /// Its DSN.
    pub dsn: DataSeq,
}

/// Why a connection ended, as the application is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Both directions closed cleanly (DATA_FIN or FIN both ways).
    Graceful,
    /// The peer reset the connection (RST or MP_FASTCLOSE).
    Reset,
    /// The connection attempt was refused (RST in answer to the SYN).
    Refused,
    /// Retransmissions gave up (SYN or data).
    TimedOut,
    /// The application aborted it.
    Aborted,
}

/// One connection.
pub struct Conn<B> {
    /// Our key in the connection slab.
    pub key: Key,
    /// MPTCP state.
    pub mode: MptcpMode,
    /// We opened it.
    pub active: bool,
    /// Our key, token and IDSN.
    pub local: KeyMaterial,
    /// The peer's key, token and IDSN, once known.
    pub remote: Option<KeyMaterial>,
    /// DSS checksums are in use.
    pub checksum: bool,
    /// The peer asked not to get more subflows to its initial address (C).
    pub peer_deny_join_id0: bool,
    /// Subflows of the connection (the first is the initial one).
    pub subflows: Vec<Key>,
    /// Listener port it was accepted on (0 for active opens).
    pub listen_port: u16,
    /// Application tag.
    pub user_data: u64,

    // Send side (data level).
    /// Written, not yet sent.
    pub unsent: VecDeque<B>,
    /// Sent, not yet DATA_ACKed, in DSN order.
    pub inflight: VecDeque<DataChunk<B>>,
    /// Bytes in `unsent` and `inflight`.
    pub send_buffered: usize,
    /// DSN of the next new byte to send.
    pub snd_nxt: DataSeq,
    /// Oldest DSN not DATA_ACKed.
    pub snd_una: DataSeq,
    /// Right edge of the peer's connection-level receive window (RFC 8684
    /// §3.3.4): DATA_ACK plus the scaled window of a segment carrying a
    /// DATA_ACK. Never moves left. `None` until the first DATA_ACK.
    pub snd_wnd_end: Option<DataSeq>,
    /// Persist timer: the peer's connection-level window is closed with
    /// nothing in flight; a window probe goes out then (RFC 9293 §3.8.6.1).
    pub persist_at: Option<Instant>,
    /// Window probes sent since the window last opened (the backoff).
    pub persist_probes: u8,
    /// The application closed its side: a DATA_FIN follows the data.
    pub fin_queued: bool,
    /// DSN of our DATA_FIN, once all data before it was sent.
    pub fin_dsn: Option<DataSeq>,
    /// Our DATA_FIN went out at least once.
    pub fin_sent: bool,
    /// Our DATA_FIN is DATA_ACKed.
    pub fin_acked: bool,
    /// When our DATA_FIN is resent if still not DATA_ACKed.
    pub fin_rtx_at: Option<Instant>,
    /// DATA_FIN retransmissions so far.
    pub fin_retries: u8,
    /// Client: every segment still carries MP_CAPABLE because no DATA_ACK
    /// came back yet (RFC 8684 §3.1: the third ACK must arrive reliably).
    pub mpc_echo_pending: bool,
    /// Client: the first data byte still goes as MP_CAPABLE with data.
    pub mpc_data_pending: bool,
    /// Listener (TFO, `hold` reply timing): data written before the
    /// client's key arrived waits.
    pub hold_until_key: bool,
    /// TFO SYN data accepted on this connection is counted against the
    /// listener's pending queue until the handshake completes.
    pub tfo_pending: bool,
    /// A write was refused: tell the application when room frees up.
    pub want_writable: bool,
    /// Client: use TCP Fast Open on this connection.
    pub tfo_client: bool,
    /// Client: SYN data without a TFO option (`TCP_FASTOPEN_NO_COOKIE`).
    pub tfo_no_cookie: bool,
    /// Client: no SYN sent yet; the first write goes in it
    /// (`TCP_FASTOPEN_CONNECT`).
    pub deferred_connect: bool,
    /// Queued in the stack's list of connections with output to do.
    pub dirty: bool,
    /// Deadline of the connection's timer-wheel entry in flight.
    pub timer_armed: Option<Instant>,
    /// That entry (`None` when nothing is pending).
    pub timer: Option<crate::timer::TimerId>,

    // Receive side (data level).
    /// Next DSN expected (what our DATA_ACK says), once the peer's IDSN is
    /// known.
    pub rcv_nxt: DataSeq,
    /// Out-of-order data by DSN.
    pub ooo: BTreeMap<u64, B>,
    /// The peer's DATA_FIN arrived in order.
    pub peer_fin: bool,
    /// DSN of the peer's DATA_FIN, once seen (possibly out of order).
    pub peer_fin_dsn: Option<DataSeq>,
    /// A DATA_ACK change not yet sent to the peer.
    pub data_ack_pending: bool,
    /// Bytes held in `ooo` (all inside the receive window).
    pub ooo_bytes: usize,
    // Fallback after the handshake (RFC 8684 §3.7).
    /// Our send direction went plain: the infinite mapping we send.
    pub tx_fallback: Option<TxFallback>,
    /// The peer's send direction went plain: its infinite mapping, as
    /// (relative SSN, DSN) of the first plain byte.
    pub rx_fallback: Option<(u32, DataSeq)>,
    /// We sent MP_FAIL for the mapping at this DSN (a checksum failed) and
    /// discard mapped data until the peer's infinite mapping arrives.
    pub mp_fail_sent: Option<DataSeq>,
    /// The peer sent MP_FAIL: our answer (MP_FAIL back with this DSN) rides
    /// with our infinite mapping.
    pub mp_fail_echo: Option<u64>,
    /// When we give up waiting for the answer to our MP_FAIL (or repeat it).
    pub fail_at: Option<Instant>,
    /// MP_FAIL repetitions so far.
    pub fail_retries: u8,

    // Lifecycle.
    /// The application was told the connection exists (Accepted or
    /// Connected).
    pub announced: bool,
    /// When the connection started (for latency bookkeeping by apps).
    pub created_at: Instant,

    // Multipath.
    /// The connection's path manager (MPTCP connections).
    pub pm: Option<crate::mp::pm::PathManager>,
    /// Data to send again on another subflow (its subflow died or stalls),
    /// with its DSNs: a copy of what `inflight` holds.
    pub reinject: VecDeque<DataChunk<B>>,
    /// The scheduler of new data across subflows.
    pub scheduler: crate::mp::scheduler::AnyScheduler,
}

impl<B: Buf> Conn<B> {
    /// A new connection with our key material.
    pub fn new(key: Key, local: KeyMaterial, active: bool, now: Instant) -> Conn<B> {
        let first = local.idsn + 1;
        Conn {
            key,
            mode: MptcpMode::Pending,
            active,
            local,
            remote: None,
            checksum: false,
            peer_deny_join_id0: false,
            subflows: Vec::with_capacity(1),
            listen_port: 0,
            user_data: 0,
            unsent: VecDeque::new(),
            inflight: VecDeque::new(),
            send_buffered: 0,
            snd_nxt: first,
            snd_una: first,
            snd_wnd_end: None,
            persist_at: None,
            persist_probes: 0,
            fin_queued: false,
            fin_dsn: None,
            fin_sent: false,
            fin_acked: false,
            fin_rtx_at: None,
            fin_retries: 0,
            mpc_echo_pending: false,
            mpc_data_pending: false,
            hold_until_key: false,
            tfo_pending: false,
            want_writable: false,
            tfo_client: false,
            tfo_no_cookie: false,
            deferred_connect: false,
            dirty: false,
            timer_armed: None,
            timer: None,
            rcv_nxt: DataSeq(0),
            ooo: BTreeMap::new(),
            peer_fin: false,
            peer_fin_dsn: None,
            data_ack_pending: false,
            ooo_bytes: 0,
            tx_fallback: None,
            rx_fallback: None,
            mp_fail_sent: None,
            mp_fail_echo: None,
            fail_at: None,
            fail_retries: 0,
            announced: false,
            created_at: now,
            pm: None,
            reinject: VecDeque::new(),
            scheduler: Default::default(),
        }
    }

    /// True when MPTCP options are in use on the connection.
    pub fn is_mptcp(&self) -> bool {
        self.mode != MptcpMode::Fallback
    }

    /// Our data goes out as plain TCP bytes (no mappings).
    pub fn tx_plain(&self) -> bool {
        self.mode == MptcpMode::Fallback || self.tx_fallback.is_some()
    }

    /// The peer's data arrives as plain TCP bytes (no mappings needed).
    pub fn rx_plain(&self) -> bool {
        self.mode == MptcpMode::Fallback || self.rx_fallback.is_some()
    }

    /// We can put a DATA_ACK in a DSS (the peer's IDSN is known).
    pub fn can_data_ack(&self) -> bool {
        self.mode == MptcpMode::Established
    }

    /// Learns the peer's key: its IDSN fixes our receive DATA_ACK at
    /// IDSN+1 (RFC 8684 §3.1; TFO data stays outside, protocol.md §7.3).
    pub fn set_remote_key(&mut self, remote: KeyMaterial) {
        self.remote = Some(remote);
        self.rcv_nxt = remote.idsn + 1;
        self.mode = MptcpMode::Established;
        self.data_ack_pending = true;
    }

    /// Applies a DATA_ACK: frees what it covers. Returns true if it moved.
    /// RFC 8684 §3.3.2: an ACK for data not yet sent is ignored.
    pub fn on_data_ack(&mut self, ack: DataSeq) -> bool {
        let limit = match self.fin_dsn {
            Some(f) => f + 1,
            None => self.snd_nxt,
        };
        if ack <= self.snd_una || ack > limit {
            return false;
        }
        self.snd_una = ack;
        while let Some(front) = self.inflight.front_mut() {
            let end = front.dsn + front.buf.len();
            if end <= ack {
                self.send_buffered -= front.buf.len();
                self.inflight.pop_front();
            } else {
                if front.dsn < ack {
                    let n = ack - front.dsn;
                    front.buf.trim_front(n);
                    front.dsn = ack;
                    self.send_buffered -= n;
                }
                break;
            }
        }
        if let Some(f) = self.fin_dsn {
            if ack > f {
                self.fin_acked = true;
                self.fin_rtx_at = None;
            }
        }
        true
    }

    /// Takes the peer's connection-level window from a segment carrying a
    /// DATA_ACK `ack` and window `wnd` (already scaled by the subflow's
    /// shift). The right edge only moves right (RFC 8684 §3.3.4; RFC 9293
    /// §3.8.6: a window is never shrunk). An ACK beyond what we sent counts
    /// as the current `snd_una` (as Linux). Returns true if the edge moved.
    pub fn on_peer_window(&mut self, ack: DataSeq, wnd: u32) -> bool {
        let limit = match self.fin_dsn {
            Some(f) => f + 1,
            None => self.snd_nxt,
        };
        let base = if ack > limit { self.snd_una } else { ack };
        let end = base + wnd as usize;
        match self.snd_wnd_end {
            Some(cur) if end <= cur => false,
            _ => {
                self.snd_wnd_end = Some(end);
                true
            }
        }
    }

    /// Bytes of new data the peer's connection-level window still admits
    /// past `snd_nxt`, or `None` when it does not apply (no DATA_ACK yet,
    /// or our data goes as plain TCP).
    pub fn data_send_room(&self) -> Option<usize> {
        if self.tx_plain() {
            return None;
        }
        let end = self.snd_wnd_end?;
        Some(end.diff(self.snd_nxt).max(0) as usize)
    }

    /// The connection-level receive window we advertise on every subflow,
    /// from the DATA_ACK: all of `recv_window`. In-order data goes to the
    /// application at once, and data held out of order lies inside
    /// `[rcv_nxt, rcv_nxt + recv_window)` (anything beyond is dropped on
    /// arrival), so it takes no room the peer could still send into: the
    /// right edge never moves left, and the bytes of the hole stay
    /// sendable on every subflow (subtracting them stalled a multipath
    /// connection whose reinjected, overlapping segments filled the count).
    pub fn rcv_window(&self, recv_window: u32) -> u32 {
        recv_window
    }

    /// Both DATA_FINs exchanged and acknowledged (RFC 8684 §3.3.3): the
    /// subflows may close.
    pub fn data_level_closed(&self) -> bool {
        self.fin_acked && self.peer_fin
    }
}

/// The growable containers of a connection, emptied, kept from a closed
/// connection for the next one so that opening one allocates nothing once
/// the stack runs in steady state.
pub struct ConnStorage<B> {
    subflows: Vec<Key>,
    unsent: VecDeque<B>,
    inflight: VecDeque<DataChunk<B>>,
    reinject: VecDeque<DataChunk<B>>,
}

/// Largest container capacity worth keeping (a connection that queued a
/// long transfer gives its storage back to the allocator instead).
pub const MAX_KEPT_CAPACITY: usize = 64;

impl<B> Conn<B> {
    /// Takes this connection's containers, emptied, when they are small
    /// enough to keep (what they held is dropped); else leaves them.
    pub fn take_storage(&mut self) -> Option<ConnStorage<B>> {
        let small = self.subflows.capacity() <= MAX_KEPT_CAPACITY
            && self.unsent.capacity() <= MAX_KEPT_CAPACITY
            && self.inflight.capacity() <= MAX_KEPT_CAPACITY
            && self.reinject.capacity() <= MAX_KEPT_CAPACITY;
        if !small {
            return None;
        }
        let mut storage = ConnStorage {
            subflows: std::mem::take(&mut self.subflows),
            unsent: std::mem::take(&mut self.unsent),
            inflight: std::mem::take(&mut self.inflight),
            reinject: std::mem::take(&mut self.reinject),
        };
        storage.subflows.clear();
        storage.unsent.clear();
        storage.inflight.clear();
        storage.reinject.clear();
        Some(storage)
    }

    /// Gives a new connection the (empty) containers of an old one.
    pub fn reuse_storage(&mut self, storage: ConnStorage<B>) {
        debug_assert!(self.subflows.is_empty() && self.unsent.is_empty());
        self.subflows = storage.subflows;
        self.unsent = storage.unsent;
        self.inflight = storage.inflight;
        self.reinject = storage.reinject;
    }
}
