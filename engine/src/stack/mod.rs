//! The sans-I/O stack of one core: TCP subflows, MPTCP connections and TCP
//! Fast Open, driven by received frames, application calls and time.
//!
//! Owns: the core's subflow and connection slabs, the 4-tuple and token
//! tables, listeners, the TFO cookie validator and client cookie cache, the
//! neighbour table (ARP / IPv6 neighbour discovery), the timer wheel,
//! counters, application events and frames ready to send.
//!
//! Use: feed received frames with [`Stack::receive`], then drain
//! [`Stack::poll_event`] and act on the events (send, close), call
//! [`Stack::advance`] with the time, and take the frames to transmit with
//! [`Stack::take_tx`] (or [`Stack::take_tx_per_iface`], sorted by the
//! interface each frame leaves on). Buffers for frames and written data come from a
//! cache the caller refills from its port's pool ([`Stack::refill`]). The
//! stack never calls the application: it queues events, so no borrow of a
//! connection is held while the application runs.
//!
//! Multipath (RFC 8684 §3.2-3.4): [`Stack::add_subflow`] (or a path manager
//! `subflow` / `fullmesh` endpoint, or an accepted ADD_ADDR) opens MP_JOIN
//! subflows; listeners admit joins through the connection's path manager
//! (fully established only, `subflows` limit at the third ACK). New data is
//! scheduled across usable subflows (lowest RTT, backups last); data of a
//! subflow that dies or stalls is reinjected on the others.

mod conn;
mod input;
mod neighbor;
mod output;
mod subflow;
mod tfo;

use std::collections::{HashMap, VecDeque};

/// The stack's hash tables: ahash, keyed per stack (4-tuples and tokens
/// come from the network, so the hash must not be predictable), several
/// times cheaper than std's SipHash on these short keys.
type Table<K, V> = HashMap<K, V, ahash::RandomState>;

fn table<K, V>(seed: u64, capacity: usize) -> Table<K, V> {
    HashMap::with_capacity_and_hasher(
        capacity,
        ahash::RandomState::with_seeds(
            seed,
            seed.rotate_left(17),
            seed.rotate_left(31),
            seed ^ 0x5851_f42d_4c95_7f2d,
        ),
    )
}
use std::net::{IpAddr, SocketAddr};

use mptfo_nic::Buf;
use mptfo_proto::checksum::ChecksumCaps;
use mptfo_proto::crypto::{draw_key, KeyMaterial};
use mptfo_proto::tfo::{CookieValidator, TfoKey};
use mptfo_proto::wire::FourTuple;
use mptfo_proto::SubflowSeq;

use crate::config::StackConfig;
use crate::counters::Counters;
use crate::slab::{Key, Slab};
use crate::time::Instant;
use crate::timer::{TimerId, TimerWheel};

pub use conn::{CloseReason, MptcpMode};
pub use subflow::TcpState;

use conn::Conn;
use neighbor::{Neighbor, Resolving};
use subflow::Subflow;
use tfo::CookieCache;

/// A connection, as named to the application.
pub type ConnId = Key;

/// Something the application should know. Data arrives as views of the
/// receive buffers; dropping a view releases it.
#[derive(Debug)]
pub enum Event<B> {
    /// A listener accepted a connection. For a TFO connection this comes
    /// with the SYN, before the handshake completes, followed at once by
    /// the SYN's data.
    Accepted {
        /// The new connection.
        conn: ConnId,
        /// The listening port.
        port: u16,
        /// The peer.
        remote: SocketAddr,
    },
    /// Our connection attempt completed (the SYN/ACK arrived).
    Connected {
        /// The connection.
        conn: ConnId,
    },
    /// In-order data.
    Data {
        /// The connection.
        conn: ConnId,
        /// The bytes (a window of a receive buffer).
        data: B,
    },
    /// Room in the send buffer again after a write was refused.
    Writable {
        /// The connection.
        conn: ConnId,
    },
    /// The peer closed its direction (DATA_FIN, or FIN under plain TCP).
    PeerClosed {
        /// The connection.
        conn: ConnId,
    },
    /// The connection is gone; its id is no longer valid.
    Closed {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
}

/// Why an application call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    /// The connection id is unknown (closed, or never existed).
    #[error("no such connection")]
    NoConnection,
    /// No local address of the right family is configured.
    #[error("no local address for that destination")]
    NoLocalAddress,
    /// No free local port for that destination: every port the bounded
    /// search looked at is in use (open or in TIME_WAIT). A later call
    /// looks further (see `Stack::connect`).
    #[error("no free local port")]
    NoFreePort,
    /// The buffer cache is empty (the port's pool is exhausted).
    #[error("no free packet buffer")]
    NoBuffer,
    /// The connection no longer accepts writes (closed by the app).
    #[error("connection closed for writing")]
    Closed,
}

/// How to open a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Offer MP_CAPABLE.
    pub mptcp: bool,
    /// Use TCP Fast Open: request a cookie on first contact, send data in
    /// the SYN when a cookie is cached.
    pub tfo: bool,
    /// Like `TCP_FASTOPEN_CONNECT`: send no SYN now; the first write goes
    /// out in the SYN.
    pub deferred: bool,
    /// Local address to use (default: the first of the right family).
    pub local_addr: Option<IpAddr>,
    /// Local port to use (default: an ephemeral port).
    pub local_port: Option<u16>,
    /// Like Linux `TCP_FASTOPEN_NO_COOKIE` (`tcp_fastopen` bit 0x4): send
    /// the first write in the SYN with no TFO option at all, for servers
    /// that take SYN data without cookies (protocol.md §6.4). A server
    /// that does not simply leaves the data unacknowledged and it follows
    /// the handshake. Needs `tfo`.
    pub tfo_no_cookie: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            mptcp: true,
            tfo: true,
            deferred: false,
            local_addr: None,
            local_port: None,
            tfo_no_cookie: false,
        }
    }
}

/// One network interface of the stack (a port).
#[derive(Debug, Clone)]
pub struct Interface {
    /// Our Ethernet address.
    pub mac: [u8; 6],
    /// Our IP addresses on it.
    pub addrs: Vec<IpAddr>,
    /// Ethernet address frames go to when no neighbour entry is known (a
    /// static gateway or the other end of a point-to-point link). All zero
    /// means none: peers are then resolved with ARP / neighbour discovery.
    pub default_peer_mac: [u8; 6],
    /// Checksum offloads of the port.
    pub checksum: ChecksumCaps,
}

/// A wheel entry: whose deadlines to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimerTarget {
    Subflow(Key),
    Conn(Key),
    /// Address resolution (ARP / neighbour solicitation retries).
    Resolve,
}

/// Most emptied connection (and subflow) containers kept for reuse.
const MAX_SPARES: usize = 256;

/// Cached buffers below which a fired subflow or connection timer waits
/// for the next [`Stack::advance`] (what one sends takes a few).
const TIMER_BUFFERS: usize = 4;

/// Ephemeral port range (Linux default `ip_local_port_range`).
const EPHEMERAL: core::ops::RangeInclusive<u16> = 32768..=60999;

/// Ports of this core an ephemeral-port search looks at (about `cores`
/// times as many ports are looked at in all).
const PORT_TRIES: u32 = 64;

/// Of those, ports looked at from the oldest one while the previous search
/// found none free (the rest continue that search's sweep of the range).
const PORT_RETRY_TRIES: u32 = 4;

/// The ephemeral port after `p` (wrapping at the end of the range).
fn next_ephemeral(p: u16) -> u16 {
    if p >= *EPHEMERAL.end() || p < *EPHEMERAL.start() {
        *EPHEMERAL.start()
    } else {
        p + 1
    }
}

/// The stack of one core.
pub struct Stack<B: Buf> {
    cfg: StackConfig,
    core: u32,
    cores: u32,
    ifaces: Vec<Interface>,
    neighbors: Table<IpAddr, Neighbor>,
    resolving: Table<IpAddr, Resolving<B>>,
    subflows: Slab<Subflow<B>>,
    conns: Slab<Conn<B>>,
    tuples: Table<FourTuple, Key>,
    tokens: Table<u32, Key>,
    listeners: Table<u16, ()>,
    timers: TimerWheel<TimerTarget>,
    fired: Vec<TimerTarget>,
    /// Scratch lists of [`Stack::receive`], reused from burst to burst.
    rx_scratch: input::RxScratch<B>,
    /// ISS for the SYN being taken over from a TIME-WAIT subflow (RFC
    /// 6191), set only while that SYN is processed.
    reopen_iss: Option<SubflowSeq>,
    cookies: CookieValidator,
    cookie_cache: CookieCache,
    tfo_pending: usize,
    counters: Counters,
    events: VecDeque<Event<B>>,
    tx: Vec<B>,
    /// Interface of each frame in `tx` (same order).
    tx_iface: Vec<u16>,
    /// Interface of the frame `emit` built last (for `push_tx`).
    emit_iface: usize,
    pool: Vec<B>,
    /// Connections whose last write stopped short for lack of a buffer
    /// (not of send-buffer room): told `Writable` once buffers are back.
    buffer_waiters: Vec<ConnId>,
    dirty: Vec<Key>,
    /// Scratch copy of a connection's subflow list (see [`Stack::flush`]).
    sf_scratch: Vec<Key>,
    /// Containers of removed connections, emptied, for new ones.
    spare_conns: Vec<conn::ConnStorage<B>>,
    /// Retransmission queues of removed subflows, emptied, for new ones.
    spare_rtx: Vec<VecDeque<subflow::TxSegment<B>>>,
    rng: u64,
    /// Where the next ephemeral-port search starts: just past the last
    /// port taken (the oldest ports of the range).
    next_port: u16,
    /// While ephemeral-port searches find nothing free: where the next
    /// one goes on sweeping the range (see [`Stack::free_port`]).
    port_sweep: Option<u16>,
    now: Instant,
    /// Path manager endpoints and limits (Linux `ip mptcp endpoint` /
    /// `ip mptcp limits`).
    pm_cfg: crate::mp::pm::PmConfig,
}

/// What the application may learn about one subflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubflowStats {
    /// Local and remote ends (`src` = local).
    pub tuple: FourTuple,
    /// TCP state.
    pub state: TcpState,
    /// An MP_JOIN subflow (not the initial one).
    pub join: bool,
    /// Backup for us or for the peer.
    pub backup: bool,
    /// Payload bytes sent for the first time on it.
    pub bytes_sent: u64,
    /// In-order payload bytes received on it.
    pub bytes_received: u64,
}

impl<B: Buf> Stack<B> {
    /// A stack for core `core` of `cores`, with its interfaces. `seed`
    /// seeds the choice of keys, ISNs and ports (tests use fixed seeds).
    pub fn new(
        cfg: StackConfig,
        ifaces: Vec<Interface>,
        core: u32,
        cores: u32,
        seed: u64,
        now: Instant,
    ) -> Stack<B> {
        let mut cookies = CookieValidator::new(TfoKey(cfg.tfo_server.key));
        cookies.backup = cfg.tfo_server.backup_key.map(TfoKey);
        let mut rng = seed ^ 0x9e37_79b9_7f4a_7c15;
        if rng == 0 {
            rng = 1;
        }
        let next_port = *EPHEMERAL.start() + (splitmix(&mut rng) % 20000) as u16;
        Stack {
            cfg,
            core,
            cores: cores.max(1),
            ifaces,
            neighbors: table(seed ^ 1, 64),
            resolving: table(seed ^ 2, 16),
            subflows: Slab::with_capacity(1024),
            conns: Slab::with_capacity(1024),
            tuples: table(seed ^ 3, 1024),
            tokens: table(seed ^ 4, 1024),
            listeners: table(seed ^ 5, 8),
            timers: TimerWheel::new(now, core::time::Duration::from_millis(1), 4096),
            fired: Vec::new(),
            rx_scratch: input::RxScratch::default(),
            reopen_iss: None,
            cookies,
            cookie_cache: CookieCache::new(seed ^ 6),
            tfo_pending: 0,
            counters: Counters::default(),
            events: VecDeque::new(),
            tx: Vec::new(),
            tx_iface: Vec::new(),
            emit_iface: 0,
            pool: Vec::new(),
            buffer_waiters: Vec::new(),
            dirty: Vec::new(),
            sf_scratch: Vec::new(),
            spare_conns: Vec::new(),
            spare_rtx: Vec::new(),
            rng,
            next_port,
            port_sweep: None,
            now,
            pm_cfg: crate::mp::pm::PmConfig::default(),
        }
    }

    /// Sets the path manager's endpoints and limits (defaults like Linux:
    /// no endpoints, `subflows 2`, `add_addr_accepted 0`). Connections
    /// opened afterwards use them; admission limits apply at once.
    pub fn set_pm_config(&mut self, cfg: crate::mp::pm::PmConfig) {
        self.pm_cfg = cfg;
    }

    /// The path manager's endpoints and limits.
    pub fn pm_config(&self) -> &crate::mp::pm::PmConfig {
        &self.pm_cfg
    }

    /// The connection's subflows (the initial one first).
    pub fn subflow_stats(&self, conn: ConnId) -> Vec<SubflowStats> {
        let Some(c) = self.conns.get(conn) else {
            return Vec::new();
        };
        c.subflows
            .iter()
            .filter_map(|&sk| self.subflows.get(sk))
            .map(|s| SubflowStats {
                tuple: s.tuple,
                state: s.state,
                join: s.join.is_some(),
                backup: s.backup || s.peer_backup,
                bytes_sent: s.data_bytes_sent,
                bytes_received: s.data_bytes_received,
            })
            .collect()
    }

    /// A one-line description of the connection's send and receive state
    /// and of its subflows' (for diagnosing a stalled connection).
    pub fn describe(&self, conn: ConnId) -> String {
        let Some(c) = self.conns.get(conn) else {
            return "gone".into();
        };
        let mut out = format!(
            "mode {:?} unsent {} inflight {} reinject {} buffered {} snd_una {:?} snd_nxt {:?} rcv_nxt {:?} ooo {} fin_queued {} timer {:?}",
            c.mode,
            c.unsent.len(),
            c.inflight.len(),
            c.reinject.len(),
            c.send_buffered,
            c.snd_una,
            c.snd_nxt,
            c.rcv_nxt,
            c.ooo.len(),
            c.fin_queued,
            c.timer_armed,
        );
        for &sk in &c.subflows {
            if let Some(s) = self.subflows.get(sk) {
                out += &format!(
                    "; sf {:?} join {:?} una {:?} nxt {:?} wnd {} rtx {} ooo {} rto_at {:?} timer {:?} stale {}",
                    s.state,
                    s.join,
                    s.snd_una,
                    s.snd_nxt,
                    s.snd_wnd,
                    s.rtx.len(),
                    s.ooo.len(),
                    s.rto_at,
                    s.timer_armed,
                    s.stale
                );
            }
        }
        out
    }

    /// Opens an MP_JOIN subflow of `conn` from `local` (one of our
    /// addresses; port 0 picks an ephemeral port) to `remote` (RFC 8684
    /// §3.2), with B = `backup`. The SYN leaves once the connection is fully
    /// established (both keys known and ours confirmed by a DATA_ACK).
    pub fn add_subflow(
        &mut self,
        conn: ConnId,
        local: IpAddr,
        remote: SocketAddr,
        backup: bool,
    ) -> Result<(), StackError> {
        let c = self.conns.get(conn).ok_or(StackError::NoConnection)?;
        if !c.is_mptcp() {
            return Err(StackError::Closed);
        }
        let iface = self.iface_of(local).ok_or(StackError::NoLocalAddress)?;
        let port = self
            .free_port(local, remote)
            .ok_or(StackError::NoFreePort)?;
        let tuple = FourTuple {
            src_addr: local,
            src_port: port,
            dst_addr: remote.ip(),
            dst_port: remote.port(),
        };
        let iss = SubflowSeq(self.rand() as u32);
        let sk = self.subflows.vacant_key();
        let mut sf = Subflow::new(&self.cfg, conn, tuple, iface, TcpState::SynSent, iss, true);
        self.reuse_rtx(&mut sf);
        sf.snd_wnd = self.cfg.mss as u32;
        sf.backup = backup;
        sf.join = Some(subflow::JoinLeg::Pending);
        // The SYN leaves from `output_conn` once the connection is fully
        // established.
        self.subflows.insert(sf);
        self.tuples.insert(tuple, sk);
        self.conns[conn].subflows.push(sk);
        self.counters.tcp_active_opens += 1;
        self.mark_dirty(conn);
        self.flush();
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &StackConfig {
        &self.cfg
    }

    /// The counters of this core.
    ///
    /// `TcpCurrEstab` (subflows in ESTABLISHED or CLOSE-WAIT, as Linux
    /// counts) and `MPTcpExtMPCurrEstab` (connections with both MPTCP keys)
    /// are gauges, taken when read.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters.clone();
        c.tcp_curr_estab = self
            .subflows
            .iter()
            .filter(|(_, s)| matches!(s.state, TcpState::Established | TcpState::CloseWait))
            .count() as u64;
        c.mptcp_mp_curr_estab = self
            .conns
            .iter()
            .filter(|(_, c)| c.mode == MptcpMode::Established)
            .count() as u64;
        c
    }

    /// Adds a static neighbour (IP -> Ethernet address): used as is, never
    /// changed by what the network says (ARP, neighbour discovery).
    pub fn add_neighbor(&mut self, ip: IpAddr, mac: [u8; 6]) {
        self.neighbors.insert(ip, Neighbor { mac, fixed: true });
        // Frames that were waiting for this address can go now.
        self.learn_neighbor(ip, mac);
    }

    /// Starts accepting connections on `port` (all local addresses).
    pub fn listen(&mut self, port: u16) {
        self.listeners.insert(port, ());
    }

    /// Rotates the TFO cookie key: the old primary stays valid as backup.
    pub fn rotate_tfo_key(&mut self, key: [u8; 16]) {
        self.cookies.rotate(TfoKey(key));
    }

    /// Number of live connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Number of live subflows (TIME_WAIT included).
    pub fn subflow_count(&self) -> usize {
        self.subflows.len()
    }

    /// TFO connections accepted whose handshake is not complete.
    pub fn tfo_pending(&self) -> usize {
        self.tfo_pending
    }

    /// Buffers in the stack's cache.
    pub fn cached_buffers(&self) -> usize {
        self.pool.len()
    }

    /// Whether a write waits for buffers (see [`Stack::refill`]).
    #[inline]
    pub(crate) fn buffer_waiting(&self) -> bool {
        !self.buffer_waiters.is_empty()
    }

    /// Tops the buffer cache up to `target` buffers from `alloc` (the
    /// port's pool). Call once per loop iteration.
    pub fn refill(&mut self, target: usize, mut alloc: impl FnMut() -> Option<B>) {
        while self.pool.len() < target {
            match alloc() {
                Some(b) => self.pool.push(b),
                None => break,
            }
        }
        // A write cut short by an empty cache waits for `Writable`, which
        // the ACK path sends only once half the send buffer drained: with
        // little or nothing of this connection in flight no ACK comes and
        // the writer would wait forever (a 500 kB reply stalled in the
        // bench). Tell it as soon as buffers are back.
        if !self.pool.is_empty() && !self.buffer_waiters.is_empty() {
            for conn in std::mem::take(&mut self.buffer_waiters) {
                if let Some(c) = self.conns.get_mut(conn) {
                    if c.want_writable {
                        c.want_writable = false;
                        self.events.push_back(Event::Writable { conn });
                    }
                }
            }
        }
    }

    /// Frames ready to transmit, in order; the caller hands them to its
    /// port (and keeps any the port did not accept for the next round).
    pub fn take_tx(&mut self, out: &mut Vec<B>) {
        out.append(&mut self.tx);
        self.tx_iface.clear();
    }

    /// Like [`Stack::take_tx`], sorted by interface: frames for interface
    /// `i` are appended to `out[i]` (in order). Frames for an interface
    /// beyond `out` go to `out[0]`.
    pub fn take_tx_per_iface(&mut self, out: &mut [Vec<B>]) {
        if out.is_empty() {
            self.tx.clear();
            self.tx_iface.clear();
            return;
        }
        for (f, i) in self.tx.drain(..).zip(self.tx_iface.drain(..)) {
            let i = if (i as usize) < out.len() {
                i as usize
            } else {
                0
            };
            out[i].push(f);
        }
    }

    /// Queues a frame for interface `iface`.
    fn queue_tx(&mut self, iface: usize, frame: B) {
        self.tx.push(frame);
        self.tx_iface.push(iface as u16);
    }

    /// Frames waiting in the stack's transmit list.
    pub fn tx_pending(&self) -> usize {
        self.tx.len()
    }

    /// The next application event, if any.
    pub fn poll_event(&mut self) -> Option<Event<B>> {
        self.events.pop_front()
    }

    /// The earliest time [`Stack::advance`] has work to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Connection state, for applications and tests.
    pub fn mptcp_mode(&self, conn: ConnId) -> Option<MptcpMode> {
        self.conns.get(conn).map(|c| c.mode)
    }

    /// TCP state of the connection's first subflow.
    pub fn tcp_state(&self, conn: ConnId) -> Option<TcpState> {
        let c = self.conns.get(conn)?;
        let sf = *c.subflows.first()?;
        self.subflows.get(sf).map(|s| s.state)
    }

    /// When the connection was opened: the `connect` call, or the arrival
    /// of the peer's SYN (for latency bookkeeping by applications).
    pub fn created_at(&self, conn: ConnId) -> Option<Instant> {
        self.conns.get(conn).map(|c| c.created_at)
    }

    /// Forgets every cached TFO cookie and negative-cache entry (like
    /// flushing Linux's TCP metrics); the next SYN to each server asks for a
    /// cookie again.
    pub fn forget_tfo_cookies(&mut self) {
        self.cookie_cache.clear();
    }

    /// The application's tag of a connection.
    pub fn user_data(&self, conn: ConnId) -> Option<u64> {
        self.conns.get(conn).map(|c| c.user_data)
    }

    /// Sets the application's tag of a connection.
    pub fn set_user_data(&mut self, conn: ConnId, value: u64) {
        if let Some(c) = self.conns.get_mut(conn) {
            c.user_data = value;
        }
    }

    /// Bytes the application may still write before the send buffer is
    /// full.
    pub fn send_room(&self, conn: ConnId) -> usize {
        self.conns
            .get(conn)
            .map(|c| self.cfg.send_buffer.saturating_sub(c.send_buffered))
            .unwrap_or(0)
    }

    fn rand(&mut self) -> u64 {
        splitmix(&mut self.rng)
    }

    /// The connection became fully established: tell its path manager and
    /// open the subflows it asks for.
    fn pm_established(&mut self, ck: Key) {
        let now = self.now;
        let Some(c) = self.conns.get_mut(ck) else {
            return;
        };
        let (Some(remote), deny) = (c.remote, c.peer_deny_join_id0) else {
            return;
        };
        let Some(pm) = c.pm.as_mut() else {
            return;
        };
        let actions = pm.on_established(&self.pm_cfg, now, remote.key, deny);
        self.run_pm_actions(ck, actions);
    }

    /// Carries out what a path manager asked for.
    fn run_pm_actions(&mut self, ck: Key, actions: Vec<crate::mp::pm::Action>) {
        use crate::mp::pm::Action;
        use mptfo_proto::options::MptcpOption;
        for a in actions {
            match a {
                Action::OpenSubflow(o) => {
                    // (MPJoinSynTx is counted when the SYN leaves.)
                    let local = if o.local.id == 0 {
                        self.route_source(o.local.addr, o.remote.ip())
                    } else {
                        o.local.addr
                    };
                    if self.add_subflow(ck, local, o.remote, o.backup).is_ok() {
                        // The path manager's name for it.
                        let last = self.conns.get(ck).and_then(|c| c.subflows.last().copied());
                        if let Some(sf) = last.and_then(|sk| self.subflows.get_mut(sk)) {
                            sf.pm_id = o.subflow;
                        }
                    }
                }
                Action::SendAddAddr(x) | Action::SendEcho(x) => {
                    if let Some(sk) = self.signal_subflow(ck, None) {
                        a.count_tx(&mut self.counters);
                        self.send_ack_with(sk, Some(MptcpOption::AddAddr(x)));
                    }
                }
                Action::SendRemoveAddr(r) => {
                    if let Some(sk) = self.signal_subflow(ck, None) {
                        a.count_tx(&mut self.counters);
                        self.send_ack_with(sk, Some(MptcpOption::RemoveAddr(r)));
                    }
                }
                Action::SendMpPrio { subflow, backup } => {
                    if let Some(sk) = self.signal_subflow(ck, Some(subflow)) {
                        a.count_tx(&mut self.counters);
                        self.send_ack_with(sk, Some(MptcpOption::MpPrio { backup }));
                    }
                }
                Action::SetBackup { subflow, backup } => {
                    if let Some(sk) = self.subflow_by_pm_id(ck, subflow) {
                        let sf = &mut self.subflows[sk];
                        sf.backup = backup;
                        sf.peer_backup = backup;
                        self.mark_dirty(ck);
                    }
                }
                Action::CloseSubflow { subflow, .. } => {
                    if let Some(sk) = self.subflow_by_pm_id(ck, subflow) {
                        self.close_subflow(sk);
                    }
                }
            }
        }
    }

    /// The source address for `remote` when the path manager leaves it to
    /// routing (Linux): an address of ours on the same subnet as `remote`
    /// (/24 for IPv4, /64 for IPv6), else `initial`.
    fn route_source(&self, initial: IpAddr, remote: IpAddr) -> IpAddr {
        let same_net = |a: &IpAddr| match (a, remote) {
            (IpAddr::V4(a), IpAddr::V4(r)) => a.octets()[..3] == r.octets()[..3],
            (IpAddr::V6(a), IpAddr::V6(r)) => a.octets()[..8] == r.octets()[..8],
            _ => false,
        };
        self.ifaces
            .iter()
            .flat_map(|i| i.addrs.iter())
            .find(|a| same_net(a))
            .copied()
            .unwrap_or(initial)
    }

    /// Deletes path manager endpoint `id` (`ip mptcp endpoint delete`):
    /// every connection stops announcing it, closes its subflows and sends
    /// REMOVE_ADDR.
    pub fn remove_pm_endpoint(&mut self, id: u8) -> Result<(), crate::mp::pm::PmError> {
        self.pm_cfg.remove_endpoint(id)?;
        let keys: Vec<Key> = self.conns.iter().map(|(k, _)| k).collect();
        for ck in keys {
            let counters = &mut self.counters;
            let Some(pm) = self.conns.get_mut(ck).and_then(|c| c.pm.as_mut()) else {
                continue;
            };
            let actions = pm.remove_local(id, counters);
            self.run_pm_actions(ck, actions);
        }
        self.flush();
        Ok(())
    }

    /// Marks path manager endpoint `id` backup or not (`ip mptcp endpoint
    /// change ID backup`): MP_PRIO on the subflows from it.
    pub fn set_pm_endpoint_backup(
        &mut self,
        id: u8,
        backup: bool,
    ) -> Result<(), crate::mp::pm::PmError> {
        self.pm_cfg.set_backup(id, backup)?;
        let keys: Vec<Key> = self.conns.iter().map(|(k, _)| k).collect();
        for ck in keys {
            let Some(pm) = self.conns.get_mut(ck).and_then(|c| c.pm.as_mut()) else {
                continue;
            };
            let actions = pm.set_local_backup(id, backup);
            self.run_pm_actions(ck, actions);
        }
        self.flush();
        Ok(())
    }

    /// The subflow of `ck` the path manager calls `id`.
    fn subflow_by_pm_id(&self, ck: Key, id: crate::mp::pm::PmSubflow) -> Option<Key> {
        let c = self.conns.get(ck)?;
        c.subflows
            .iter()
            .copied()
            .find(|&sk| self.subflows.get(sk).is_some_and(|s| s.pm_id == id))
    }

    /// Where a signalling option goes: subflow `id` when named, else the
    /// first established subflow of `ck`.
    fn signal_subflow(&self, ck: Key, id: Option<crate::mp::pm::PmSubflow>) -> Option<Key> {
        if let Some(id) = id {
            return self.subflow_by_pm_id(ck, id);
        }
        let c = self.conns.get(ck)?;
        c.subflows.iter().copied().find(|&sk| {
            self.subflows
                .get(sk)
                .is_some_and(|s| s.state.is_synchronized() && s.join_ack.is_none())
        })
    }

    /// Closes one subflow of a connection that goes on (REMOVE_ADDR, an
    /// address withdrawn): its data not yet DATA_ACKed goes again on the
    /// others, then a FIN (RST if it is not established).
    fn close_subflow(&mut self, sk: Key) {
        let Some(sf) = self.subflows.get(sk) else {
            return;
        };
        let ck = sf.conn;
        if self.conns.get(ck).is_some_and(|c| c.subflows.len() <= 1) {
            return;
        }
        self.reinject_from(sk);
        let sf = &mut self.subflows[sk];
        // Never used for data again, even while its FIN is outstanding.
        sf.stale = true;
        match sf.state {
            TcpState::Established | TcpState::CloseWait => self.send_fin(sk),
            TcpState::SynSent | TcpState::SynReceived => {
                self.reset_subflow(
                    sk,
                    subflow::PendingReset {
                        reason: mptfo_proto::options::MpTcpRstReason::AdministrativelyProhibited,
                        mp_fail: None,
                    },
                );
            }
            _ => {}
        }
        self.mark_dirty(ck);
    }

    /// Draws a local key whose token is unique on this core and names this
    /// core (`token % cores == core`), so that MP_JOINs can be steered to
    /// the owner (RFC 8684 §3.1: tokens must be unique).
    fn draw_local_key(&mut self) -> KeyMaterial {
        let (core, cores) = (self.core, self.cores);
        let mut rng = self.rng;
        let tokens = &self.tokens;
        let m = draw_key(&mut || splitmix(&mut rng), |m| {
            m.token % cores == core && !tokens.contains_key(&m.token)
        });
        self.rng = rng;
        m
    }

    fn local_addr_for(&self, remote: IpAddr) -> Option<(usize, IpAddr)> {
        for (i, iface) in self.ifaces.iter().enumerate() {
            for a in &iface.addrs {
                if a.is_ipv4() == remote.is_ipv4() {
                    return Some((i, *a));
                }
            }
        }
        None
    }

    fn iface_of(&self, addr: IpAddr) -> Option<usize> {
        self.ifaces.iter().position(|i| i.addrs.contains(&addr))
    }

    /// An ephemeral port for a subflow from `local` to `remote`, or `None`
    /// when none of the ports this call looks at is free (the caller tries
    /// again later, e.g. once a TIME_WAIT ended).
    ///
    /// Ports are taken in order, so they also leave TIME_WAIT in about that
    /// order: the search starts just past the last port taken, where the
    /// oldest ones are. It is bounded ([`PORT_TRIES`] ports of this core):
    /// at the port cap a refused connect costs a few table lookups, not a
    /// walk over the whole range. While searches fail, each looks at the
    /// oldest ports first ([`PORT_RETRY_TRIES`]) and then sweeps on through
    /// the range from where the previous one stopped, so that ports freed
    /// out of order (or a run of long-lived connections at the oldest end)
    /// are found within a bounded number of calls.
    fn free_port(&mut self, local: IpAddr, remote: SocketAddr) -> Option<u16> {
        // Of every `cores` ports about one maps to this core.
        let per_try = if self.cores <= 1 { 1 } else { self.cores };
        let (first, sweep) = match self.port_sweep {
            None => (PORT_TRIES, 0),
            Some(_) => (PORT_RETRY_TRIES, PORT_TRIES - PORT_RETRY_TRIES),
        };
        let oldest = self.next_port;
        let found = match self.search_ports(local, remote, oldest, first * per_try) {
            Ok(p) => Some(p),
            Err(after_oldest) => {
                let from = self.port_sweep.unwrap_or(after_oldest);
                match self.search_ports(local, remote, from, sweep * per_try) {
                    Ok(p) => Some(p),
                    Err(stopped) => {
                        self.port_sweep = Some(stopped);
                        None
                    }
                }
            }
        };
        if let Some(p) = found {
            self.next_port = next_ephemeral(p);
            self.port_sweep = None;
        }
        found
    }

    /// Looks at `count` consecutive ephemeral ports from `from` (wrapping)
    /// for one that maps to this core and is not in use. `Err` carries the
    /// port after the last one looked at.
    fn search_ports(
        &self,
        local: IpAddr,
        remote: SocketAddr,
        from: u16,
        count: u32,
    ) -> Result<u16, u16> {
        let mut p = from;
        for _ in 0..count {
            let t = FourTuple {
                src_addr: local,
                src_port: p,
                dst_addr: remote.ip(),
                dst_port: remote.port(),
            };
            // With several cores, only a port whose flow the steering step
            // hands back to this core (replies reach the subflow's owner).
            let ours = self.cores <= 1 || {
                let f = crate::shard::Tuple::new(SocketAddr::new(local, p), remote);
                crate::shard::core_of(&f, self.cores as usize) == self.core as usize
            };
            if ours && !self.tuples.contains_key(&t) {
                return Ok(p);
            }
            p = next_ephemeral(p);
        }
        Err(p)
    }

    /// Opens a connection to `remote`. With `data`, the connection is opened
    /// like `sendto(MSG_FASTOPEN)`: the data goes in the SYN when a TFO
    /// cookie is cached (else a cookie is requested and the data follows
    /// the handshake). With `opts.deferred`, no SYN leaves until the first
    /// [`Stack::send`], whose data rides in it (like `TCP_FASTOPEN_CONNECT`).
    ///
    /// Without `opts.local_port` an ephemeral port is picked by a bounded
    /// search: at the port cap (every port open or in TIME_WAIT) the call
    /// fails fast with [`StackError::NoFreePort`]; retry later, each retry
    /// looks at the oldest ports again and a further part of the range.
    pub fn connect(
        &mut self,
        remote: SocketAddr,
        data: &[u8],
        opts: ConnectOptions,
    ) -> Result<ConnId, StackError> {
        let now = self.now;
        let (iface, local) = match opts.local_addr {
            Some(a) => (self.iface_of(a).ok_or(StackError::NoLocalAddress)?, a),
            None => self
                .local_addr_for(remote.ip())
                .ok_or(StackError::NoLocalAddress)?,
        };
        let port = match opts.local_port {
            Some(p) => p,
            None => self
                .free_port(local, remote)
                .ok_or(StackError::NoFreePort)?,
        };
        let tuple = FourTuple {
            src_addr: local,
            src_port: port,
            dst_addr: remote.ip(),
            dst_port: remote.port(),
        };
        if self.tuples.contains_key(&tuple) {
            return Err(StackError::NoFreePort);
        }
        let mptcp = opts.mptcp && self.cfg.mptcp.enabled;
        let local_key = self.draw_local_key();
        let ck = self.conns.vacant_key();
        let mut conn = self.new_conn(ck, local_key, true, now);
        if !mptcp {
            conn.mode = MptcpMode::Fallback;
        } else {
            conn.pm = Some(crate::mp::pm::PathManager::new(
                crate::mp::pm::Role::Client,
                SocketAddr::new(local, port),
                remote,
                local_key.key,
            ));
        }
        conn.checksum = mptcp && self.cfg.mptcp.checksum;
        let iss = SubflowSeq(self.rand() as u32);
        let sk = self.subflows.vacant_key();
        let mut sf = Subflow::new(&self.cfg, ck, tuple, iface, TcpState::SynSent, iss, true);
        self.reuse_rtx(&mut sf);
        sf.snd_wnd = self.cfg.mss as u32; // until the SYN/ACK says more
        conn.subflows.push(sk);
        conn.tfo_client = opts.tfo && self.cfg.tfo_client.enabled;
        conn.deferred_connect = opts.deferred;
        conn.tfo_no_cookie = conn.tfo_client && opts.tfo_no_cookie;
        // The application holds the id from now on: it must hear how the
        // attempt ends, even when no SYN/ACK ever comes.
        conn.announced = true;
        let inserted = self.conns.insert(conn);
        debug_assert_eq!(inserted, ck);
        let inserted = self.subflows.insert(sf);
        debug_assert_eq!(inserted, sk);
        self.tuples.insert(tuple, sk);
        self.tokens.insert(local_key.token, ck);
        self.counters.tcp_active_opens += 1;
        if !data.is_empty() {
            // The whole first write must be queued, or the attempt is
            // undone: nothing was sent yet, and the caller keeps its data.
            let queued = self.queue_data(ck, data);
            if !matches!(queued, Ok(n) if n == data.len()) {
                self.tuples.remove(&tuple);
                self.tokens.remove(&local_key.token);
                self.recycle_subflow(sk);
                self.subflows.delete(sk);
                self.recycle_conn(ck);
                self.conns.delete(ck);
                self.counters.tcp_active_opens -= 1;
                return Err(match queued {
                    Err(e) => e,
                    Ok(_) => StackError::NoBuffer,
                });
            }
        }
        if !opts.deferred || !data.is_empty() {
            self.send_syn(sk);
        }
        self.flush();
        Ok(ck)
    }

    /// Writes `data` to the connection; returns how many bytes were taken
    /// (fewer than asked when the send buffer is full: a
    /// [`Event::Writable`] follows when room frees up).
    pub fn send(&mut self, conn: ConnId, data: &[u8]) -> Result<usize, StackError> {
        let n = self.queue_data(conn, data)?;
        let c = self.conns.get_mut(conn).ok_or(StackError::NoConnection)?;
        if c.deferred_connect {
            c.deferred_connect = false;
            let sf = c.subflows[0];
            self.send_syn(sf);
        }
        self.mark_dirty(conn);
        self.flush();
        Ok(n)
    }

    /// Closes our direction: a DATA_FIN (FIN under plain TCP) follows the
    /// data already written. The connection ends when both sides closed.
    pub fn close(&mut self, conn: ConnId) -> Result<(), StackError> {
        let c = self.conns.get_mut(conn).ok_or(StackError::NoConnection)?;
        if c.fin_queued {
            return Ok(());
        }
        c.fin_queued = true;
        if c.deferred_connect {
            // Nothing was ever sent: no SYN needed, just go.
            let sf = c.subflows[0];
            c.deferred_connect = false;
            self.send_syn(sf);
        }
        self.mark_dirty(conn);
        self.flush();
        Ok(())
    }

    /// Aborts the connection: RST on every subflow (with MP_FASTCLOSE under
    /// MPTCP, RFC 8684 §3.5), no DATA_FIN.
    pub fn abort(&mut self, conn: ConnId) -> Result<(), StackError> {
        if !self.conns.contains(conn) {
            return Err(StackError::NoConnection);
        }
        self.fastclose(conn);
        self.finish_conn(conn, CloseReason::Aborted);
        self.flush();
        Ok(())
    }

    /// Copies `data` into stack-owned buffers of at most one segment's
    /// payload each (our MSS less the option space, so that a segment with
    /// any options fits the MTU).
    fn queue_data(&mut self, conn: ConnId, data: &[u8]) -> Result<usize, StackError> {
        let limit = self.cfg.send_buffer;
        let mss = max_payload(self.cfg.mss);
        let c = self.conns.get_mut(conn).ok_or(StackError::NoConnection)?;
        if c.fin_queued {
            return Err(StackError::Closed);
        }
        let room = limit.saturating_sub(c.send_buffered);
        let take = data.len().min(room);
        let mut done = 0;
        while done < take {
            let n = (take - done).min(mss);
            let Some(mut b) = self.pool.pop() else {
                self.counters.mptfo_tx_no_buffer += 1;
                break;
            };
            if !b.append_slice(&data[done..done + n]) {
                self.counters.mptfo_tx_no_buffer += 1;
                break;
            }
            c.unsent.push_back(b);
            c.send_buffered += n;
            done += n;
        }
        if done < data.len() {
            c.want_writable = true;
            if done < take && !self.buffer_waiters.contains(&conn) {
                // Stopped for lack of a buffer, not of room (see `refill`).
                self.buffer_waiters.push(conn);
            }
        }
        if done == 0 && !data.is_empty() && room > 0 {
            return Err(StackError::NoBuffer);
        }
        Ok(done)
    }

    fn mark_dirty(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(conn) {
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(conn);
            }
        }
    }

    /// Moves time to `now`: runs expired timers (retransmissions, delayed
    /// ACKs, TIME_WAIT) and sends what became due.
    #[inline]
    pub fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
        if self.timers.advance(self.now, &mut self.fired) == 0 && self.dirty.is_empty() {
            // Nothing due and nothing to send: the common case of a busy
            // loop between two ticks.
            return;
        }
        self.run_timers();
    }

    /// Acts on the timers [`Stack::advance`] found due, then sends.
    #[inline(never)]
    fn run_timers(&mut self) {
        let mut fired = std::mem::take(&mut self.fired);
        for t in fired.drain(..) {
            // A burst loss leaves many connections with the same
            // retransmission deadline. Once the buffer cache is dry, what
            // they would send cannot be built: rather than let them back
            // off without sending anything (the same ones again on every
            // round, as their deadlines stay together), their entries wait
            // for the next call, after the caller refilled the cache.
            if self.pool.len() < TIMER_BUFFERS && !matches!(t, TimerTarget::Resolve) {
                self.defer_timer(t);
                continue;
            }
            match t {
                TimerTarget::Subflow(k) => self.on_subflow_timer(k),
                TimerTarget::Conn(k) => self.on_conn_timer(k),
                TimerTarget::Resolve => self.on_resolve_timer(),
            }
        }
        self.fired = fired;
        self.flush();
    }

    /// Puts a fired subflow or connection entry back in the wheel, due at
    /// once: it fires on the next [`Stack::advance`].
    fn defer_timer(&mut self, t: TimerTarget) {
        let now = self.now;
        let (timer, armed) = match t {
            TimerTarget::Subflow(k) => match self.subflows.get_mut(k) {
                Some(sf) => (&mut sf.timer, &mut sf.timer_armed),
                None => return,
            },
            TimerTarget::Conn(k) => match self.conns.get_mut(k) {
                Some(c) => (&mut c.timer, &mut c.timer_armed),
                None => return,
            },
            TimerTarget::Resolve => return,
        };
        // Re-armed already (by an earlier entry of this batch): that one
        // stands.
        if timer.is_some_and(|id| self.timers.is_scheduled(id)) {
            return;
        }
        *timer = Some(self.timers.schedule(now, t));
        *armed = Some(now);
    }

    /// Keeps the subflow's one wheel entry at its earliest deadline: moved
    /// when the deadline changes, made when there is none, cancelled when
    /// nothing is pending.
    fn arm_subflow_timer(&mut self, k: Key) {
        let Some(sf) = self.subflows.get_mut(k) else {
            return;
        };
        let d = sf.next_deadline();
        if d == sf.timer_armed && (d.is_none() || sf.timer.is_some()) {
            return;
        }
        sf.timer_armed = d;
        sf.timer = set_timer(&mut self.timers, sf.timer, d, TimerTarget::Subflow(k));
    }

    /// Like [`Stack::arm_subflow_timer`], for the connection's deadlines
    /// (DATA_FIN retransmission, MP_FAIL, path manager, persist).
    fn arm_conn_timer(&mut self, k: Key) {
        let Some(c) = self.conns.get_mut(k) else {
            return;
        };
        let pm_at = c.pm.as_ref().and_then(|pm| pm.next_deadline());
        let d = [c.fin_rtx_at, c.fail_at, pm_at, c.persist_at]
            .into_iter()
            .flatten()
            .min();
        if d == c.timer_armed && (d.is_none() || c.timer.is_some()) {
            return;
        }
        c.timer_armed = d;
        c.timer = set_timer(&mut self.timers, c.timer, d, TimerTarget::Conn(k));
    }

    /// A copy of connection `ck`'s subflow list (empty when it is gone), for
    /// loops that send and so may change the list. The copy lives in a
    /// scratch list whose storage is reused: hand it back with
    /// [`Stack::give_back_list`].
    pub(super) fn subflow_list(&mut self, ck: Key) -> Vec<Key> {
        let mut sfs = std::mem::take(&mut self.sf_scratch);
        sfs.clear();
        if let Some(c) = self.conns.get(ck) {
            sfs.extend_from_slice(&c.subflows);
        }
        sfs
    }

    /// Returns a list taken with [`Stack::subflow_list`].
    pub(super) fn give_back_list(&mut self, sfs: Vec<Key>) {
        if sfs.capacity() >= self.sf_scratch.capacity() {
            self.sf_scratch = sfs;
        }
    }

    /// Sends what the dirty connections have ready, then pending ACKs.
    fn flush(&mut self) {
        while let Some(ck) = self.dirty.pop() {
            if let Some(c) = self.conns.get_mut(ck) {
                c.dirty = false;
            }
            self.output_conn(ck);
            if !self.conns.contains(ck) {
                continue;
            }
            let sfs = self.subflow_list(ck);
            for &sk in &sfs {
                let ack_now = self.subflows.get(sk).is_some_and(|s| s.ack_now);
                if ack_now {
                    self.send_ack(sk);
                }
                self.arm_subflow_timer(sk);
            }
            self.give_back_list(sfs);
            self.arm_conn_timer(ck);
            self.maybe_finish(ck);
        }
    }

    /// Queues the mapped data subflow `sk` has not had acknowledged for
    /// sending again on the connection's other subflows (what the peer
    /// DATA_ACKs meanwhile is skipped when it is due).
    fn reinject_from(&mut self, sk: Key) {
        let Some(sf) = self.subflows.get(sk) else {
            return;
        };
        let Some(c) = self.conns.get_mut(sf.conn) else {
            return;
        };
        if !c.is_mptcp() || c.tx_plain() || c.subflows.iter().all(|&k| k == sk) {
            return;
        }
        for seg in &sf.rtx {
            let (subflow::TxData::Mapped { dsn, .. }, Some(p)) = (seg.data, seg.payload.as_ref())
            else {
                continue;
            };
            if seg.len == 0 || dsn + seg.len as usize <= c.snd_una {
                continue;
            }
            if c.reinject.iter().any(|r| r.dsn == dsn) {
                continue;
            }
            let mut buf = p.share();
            buf.trim_back(buf.len() - (seg.len as usize).min(buf.len()));
            let at = c
                .reinject
                .iter()
                .position(|r| r.dsn > dsn)
                .unwrap_or(c.reinject.len());
            c.reinject.insert(at, conn::DataChunk { dsn, buf });
        }
    }

    /// Removes a subflow from the tables; its data not yet DATA_ACKed goes
    /// again on the connection's other subflows.
    fn remove_subflow(&mut self, sk: Key) {
        self.reinject_from(sk);
        let Some(sf) = self.subflows.get_mut(sk) else {
            return;
        };
        let (tuple, ck, pm_id) = (sf.tuple, sf.conn, sf.pm_id);
        self.recycle_subflow(sk);
        self.subflows.delete(sk);
        self.tuples.remove(&tuple);
        if let Some(c) = self.conns.get_mut(ck) {
            c.subflows.retain(|&k| k != sk);
            if let Some(pm) = c.pm.as_mut() {
                pm.on_subflow_closed(pm_id);
            }
            if !self.conns[ck].reinject.is_empty() {
                self.mark_dirty(ck);
            }
        }
    }

    /// A new connection, with the containers of a closed one when some are
    /// kept.
    fn new_conn(&mut self, ck: Key, local: KeyMaterial, active: bool, now: Instant) -> Conn<B> {
        let mut c = Conn::new(ck, local, active, now);
        if let Some(storage) = self.spare_conns.pop() {
            c.reuse_storage(storage);
        }
        c
    }

    /// Keeps the containers of connection `ck`, about to be removed, for a
    /// later one (and takes its wheel entry out).
    fn recycle_conn(&mut self, ck: Key) {
        let Some(c) = self.conns.get_mut(ck) else {
            return;
        };
        if let Some(id) = c.timer.take() {
            self.timers.cancel(id);
        }
        if self.spare_conns.len() < MAX_SPARES {
            if let Some(storage) = c.take_storage() {
                self.spare_conns.push(storage);
            }
        }
    }

    /// Gives a new subflow the retransmission queue of a removed one when
    /// one is kept.
    fn reuse_rtx(&mut self, sf: &mut Subflow<B>) {
        if let Some(rtx) = self.spare_rtx.pop() {
            debug_assert!(sf.rtx.is_empty());
            sf.rtx = rtx;
        }
    }

    /// Keeps the retransmission queue of subflow `sk`, about to be removed,
    /// for a later one (and takes its wheel entry out).
    fn recycle_subflow(&mut self, sk: Key) {
        let Some(sf) = self.subflows.get_mut(sk) else {
            return;
        };
        if let Some(id) = sf.timer.take() {
            self.timers.cancel(id);
        }
        if self.spare_rtx.len() < MAX_SPARES {
            if let Some(rtx) = sf.take_rtx_storage() {
                self.spare_rtx.push(rtx);
            }
        }
    }

    /// Ends a connection: tells the application once, frees its token and
    /// TFO slot. Subflows still in TIME_WAIT stay until their timer.
    fn finish_conn(&mut self, ck: Key, reason: CloseReason) {
        let Some(c) = self.conns.get_mut(ck) else {
            return;
        };
        if c.tfo_pending {
            c.tfo_pending = false;
            self.tfo_pending -= 1;
        }
        let announced = c.announced;
        let token = c.local.token;
        let sfs = self.subflow_list(ck);
        self.recycle_conn(ck);
        self.conns.delete(ck);
        self.tokens.remove(&token);
        for &sk in &sfs {
            let keep = self
                .subflows
                .get(sk)
                .is_some_and(|s| s.state == TcpState::TimeWait);
            if !keep {
                self.remove_subflow(sk);
            }
        }
        self.give_back_list(sfs);
        if announced {
            self.events.push_back(Event::Closed { conn: ck, reason });
        }
    }

    /// Finishes a connection whose data level and subflows are all done.
    fn maybe_finish(&mut self, ck: Key) {
        let Some(c) = self.conns.get(ck) else {
            return;
        };
        let done_data = match c.mode {
            MptcpMode::Fallback => c.fin_queued && c.peer_fin,
            _ => c.data_level_closed(),
        };
        if !done_data {
            return;
        }
        let all_closed = c.subflows.iter().all(|&sk| {
            self.subflows.get(sk).is_none_or(|s| {
                matches!(s.state, TcpState::TimeWait | TcpState::Closed)
                        // A join still in its handshake is abandoned.
                        || (s.join.is_some()
                            && matches!(s.state, TcpState::SynSent | TcpState::SynReceived))
            })
        });
        if all_closed {
            self.finish_conn(ck, CloseReason::Graceful);
        }
    }
}

/// Most payload bytes in a segment for an MSS of `mss`: the MSS counts no
/// options, and a segment may carry up to 40 bytes of them (timestamps and
/// a DSS with 64-bit DATA_ACK and mapping take 40; a SYN with TFO cookie
/// and MP_CAPABLE 36). Linux sizes SYN data the same way
/// (`tcp_send_syn_data`: MSS − MAX_TCP_OPTION_SPACE).
pub(crate) fn max_payload(mss: u16) -> usize {
    (mss as usize).saturating_sub(40).max(1)
}

/// Points the wheel entry `id` (if any) at `deadline`: moves it while it is
/// still scheduled, else makes a new one; no deadline cancels it. Returns
/// the entry now in the wheel.
fn set_timer(
    timers: &mut TimerWheel<TimerTarget>,
    id: Option<TimerId>,
    deadline: Option<Instant>,
    target: TimerTarget,
) -> Option<TimerId> {
    match (id, deadline) {
        (Some(id), None) => {
            timers.cancel(id);
            None
        }
        (None, None) => None,
        (Some(id), Some(d)) if timers.reschedule(id, d) => Some(id),
        (_, Some(d)) => Some(timers.schedule(d, target)),
    }
}

/// splitmix64: a small, fast, seedable generator for ISNs, keys and ports.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mptfo_nic::MemBuf;
    use std::net::Ipv4Addr;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

    fn remote() -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80)
    }

    fn stack(core: u32, cores: u32) -> Stack<MemBuf> {
        let iface = Interface {
            mac: [2, 0, 0, 0, 0, 1],
            addrs: vec![LOCAL],
            default_peer_mac: [2, 0, 0, 0, 0, 2],
            checksum: ChecksumCaps::default(),
        };
        Stack::new(
            StackConfig::default(),
            vec![iface],
            core,
            cores,
            7,
            Instant::ZERO,
        )
    }

    /// Marks local port `p` in use (as an open or TIME_WAIT subflow would).
    fn hold(s: &mut Stack<MemBuf>, p: u16) {
        let t = FourTuple {
            src_addr: LOCAL,
            src_port: p,
            dst_addr: remote().ip(),
            dst_port: remote().port(),
        };
        s.tuples.insert(t, Key { index: 0, gen: 0 });
    }

    fn release(s: &mut Stack<MemBuf>, p: u16) {
        let t = FourTuple {
            src_addr: LOCAL,
            src_port: p,
            dst_addr: remote().ip(),
            dst_port: remote().port(),
        };
        s.tuples.remove(&t);
    }

    #[test]
    fn ports_are_taken_in_order_and_skip_ports_in_use() {
        let mut s = stack(0, 1);
        let first = s.next_port;
        hold(&mut s, next_ephemeral(first));
        assert_eq!(s.free_port(LOCAL, remote()), Some(first));
        hold(&mut s, first);
        let third = next_ephemeral(next_ephemeral(first));
        assert_eq!(s.free_port(LOCAL, remote()), Some(third));
        assert_eq!(next_ephemeral(*EPHEMERAL.end()), *EPHEMERAL.start());
    }

    #[test]
    fn search_at_the_port_cap_is_bounded_and_retries_the_oldest_port() {
        let mut s = stack(0, 1);
        for p in EPHEMERAL {
            hold(&mut s, p);
        }
        let oldest = s.next_port;
        assert_eq!(s.free_port(LOCAL, remote()), None);
        assert_eq!(s.next_port, oldest, "a failed search keeps the oldest port");
        assert_eq!(s.port_sweep, Some(oldest + PORT_TRIES as u16));
        assert_eq!(s.free_port(LOCAL, remote()), None);
        let swept = oldest + (2 * PORT_TRIES - PORT_RETRY_TRIES) as u16;
        assert_eq!(s.port_sweep, Some(swept));
        // The oldest port leaves TIME_WAIT first: the next search takes it.
        release(&mut s, oldest);
        assert_eq!(s.free_port(LOCAL, remote()), Some(oldest));
        assert_eq!(s.port_sweep, None);
        assert_eq!(s.next_port, oldest + 1);
    }

    #[test]
    fn a_port_freed_far_from_the_oldest_is_found_by_the_sweep() {
        let mut s = stack(0, 1);
        for p in EPHEMERAL {
            hold(&mut s, p);
        }
        // Free one port just behind the oldest: only a sweep over the
        // whole range reaches it.
        let oldest = s.next_port;
        let far = if oldest > *EPHEMERAL.start() {
            oldest - 1
        } else {
            *EPHEMERAL.end()
        };
        release(&mut s, far);
        let span = (*EPHEMERAL.end() - *EPHEMERAL.start()) as u32 + 1;
        let per_call = PORT_TRIES - PORT_RETRY_TRIES;
        let mut calls = 0;
        let got = loop {
            calls += 1;
            assert!(calls <= span / per_call + 3, "sweep never reached the port");
            if let Some(p) = s.free_port(LOCAL, remote()) {
                break p;
            }
        };
        assert_eq!(got, far);
        assert!(calls > 2, "found only after sweeping");
        assert_eq!(s.next_port, next_ephemeral(far));
    }

    #[test]
    fn with_several_cores_only_ports_of_this_core_are_taken() {
        for core in 0..2 {
            let mut s = stack(core, 2);
            for _ in 0..50 {
                let p = s.free_port(LOCAL, remote()).expect("a free port");
                let f = crate::shard::Tuple::new(SocketAddr::new(LOCAL, p), remote());
                assert_eq!(crate::shard::core_of(&f, 2), core as usize);
                hold(&mut s, p);
            }
        }
    }
}
