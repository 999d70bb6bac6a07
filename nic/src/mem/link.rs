//! Two ports joined by a simulated wire.
//!
//! Each direction of the link has a sender side and a receiver side:
//!
//! - The sender ([`MemPort::tx_burst`]) decides each frame's fate when the
//!   frame is sent, with the direction's seeded PRNG and configuration: lost,
//!   dropped at the tail of the rate limiter's queue, or delivered at
//!   `t_sent + serialisation + delay + jitter (+ reorder hold-back)`, and
//!   perhaps duplicated. It then pushes `(deliver_at, seq, frame)` onto the
//!   direction's wire, a bounded lock-free single-producer queue.
//! - The receiver ([`MemPort::rx_burst`]) moves everything from the wire into
//!   its own time-ordered heap and hands out the frames that are due, each
//!   copied into a buffer of its own pool (as a NIC receives into its own
//!   mbufs), with transmit checksum offloads applied and receive flags set.
//!
//! So the two ports share nothing but the two wires, a configuration cell per
//! direction that the sender re-reads only when its generation number
//! changes, and statistics counters; the ends may run on two threads.
//! Determinism: the fate of a frame is a function of the seed, the
//! configuration, and the sequence of `tx_burst` calls with their clock
//! readings; frames due at the same time are delivered in sending order.

use super::offload::{fill_tx_checksums, rx_flags_for};
use super::pool::{MemBuf, MemPool};
use crate::buf::{Buf, DEFAULT_DATA_ROOM, DEFAULT_HEADROOM};
use crate::clock::Clock;
use crate::port::{Port, PortCaps, PortStats};
use crate::rng::{derive_seed, Rng};
use crossbeam_utils::CachePadded;
use mptfo_proto::checksum::ChecksumCaps;
use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Bytes of an Ethernet header without VLAN tag: a frame is at most
/// `mtu + ETH_HEADER_LEN` bytes.
const ETH_HEADER_LEN: usize = 14;

/// One direction of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the first port of the pair to the second.
    AToB,
    /// From the second port of the pair to the first.
    BToA,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::AToB => Direction::BToA,
            Direction::BToA => Direction::AToB,
        }
    }

    fn index(self) -> usize {
        match self {
            Direction::AToB => 0,
            Direction::BToA => 1,
        }
    }
}

/// The impairments of one direction of a link. The default is an ideal
/// wire: no delay, no loss, no rate limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DirectionConfig {
    /// One-way propagation delay, in nanoseconds.
    pub delay_ns: u64,
    /// Extra delay drawn uniformly from `0..=jitter_ns` for each frame;
    /// frames overtake each other when it exceeds their spacing.
    pub jitter_ns: u64,
    /// Probability that a frame is lost, in `[0, 1]`. 1 black-holes the
    /// direction.
    pub loss: f64,
    /// Probability that a delivered frame arrives twice, in `[0, 1]`. The
    /// copy draws its own jitter.
    pub duplicate: f64,
    /// Probability that a frame is held back by `reorder_delay_ns` so that
    /// frames sent after it (within that time) overtake it, in `[0, 1]`.
    pub reorder: f64,
    /// How long a frame picked for reordering is held back, in nanoseconds.
    pub reorder_delay_ns: u64,
    /// Rate limit in bits per second (frame bytes × 8); `None` is unlimited.
    /// A frame of `len` bytes takes `ceil(len × 8 × 10⁹ / rate)` ns to
    /// serialise, after the frames queued before it.
    pub rate_bps: Option<u64>,
    /// Frames the rate limiter's queue holds, the one being serialised
    /// included; a frame arriving at a full queue is dropped (drop-tail).
    /// Only used with a rate limit.
    pub queue_packets: usize,
}

impl Default for DirectionConfig {
    fn default() -> DirectionConfig {
        DirectionConfig {
            delay_ns: 0,
            jitter_ns: 0,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay_ns: 1_000_000,
            rate_bps: None,
            queue_packets: 1000,
        }
    }
}

impl DirectionConfig {
    /// An ideal wire with a one-way delay of `delay_ns`.
    pub fn with_delay(delay_ns: u64) -> DirectionConfig {
        DirectionConfig {
            delay_ns,
            ..DirectionConfig::default()
        }
    }

    /// Checks the values; the error names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} = {p}: expected a probability in [0, 1]"));
            }
        }
        if self.rate_bps == Some(0) {
            return Err("rate_bps = 0: expected a positive rate or None".into());
        }
        if self.queue_packets == 0 {
            return Err("queue_packets = 0: expected at least 1".into());
        }
        Ok(())
    }
}

/// How a [`MemLink`] pair is built.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Impairments of frames sent by the first port.
    pub a_to_b: DirectionConfig,
    /// Impairments of frames sent by the second port.
    pub b_to_a: DirectionConfig,
    /// Checksum offloads of both ports. Default: everything offloaded (the
    /// link never corrupts a frame, so receive verification can be
    /// skipped); [`ChecksumCaps::SOFTWARE`] makes the stack's own checksum
    /// code run.
    pub checksum: ChecksumCaps,
    /// MTU of both ports (IP bytes); frames longer than `mtu + 14` are
    /// discarded on transmit and counted in `PortStats::tx_dropped`.
    pub mtu: u16,
    /// Ethernet address of the first port.
    pub mac_a: [u8; 6],
    /// Ethernet address of the second port.
    pub mac_b: [u8; 6],
    /// Burst size advertised in the ports' caps.
    pub max_burst: usize,
    /// Buffers each port's pool may hold (made on demand). Frames in flight
    /// hold their sender's buffers until received.
    pub pool_buffers: usize,
    /// Frames each direction's wire holds between two receives; when it is
    /// full, `tx_burst` accepts no more (back-pressure, as a full TX ring).
    pub wire_slots: usize,
}

impl Default for LinkConfig {
    fn default() -> LinkConfig {
        LinkConfig {
            a_to_b: DirectionConfig::default(),
            b_to_a: DirectionConfig::default(),
            checksum: ChecksumCaps::OFFLOADED,
            mtu: 1500,
            mac_a: [0x02, 0, 0, 0, 0, 0x01],
            mac_b: [0x02, 0, 0, 0, 0, 0x02],
            max_burst: 32,
            pool_buffers: 16384,
            wire_slots: 16384,
        }
    }
}

impl LinkConfig {
    /// The default link with the same impairments in both directions.
    pub fn symmetric(direction: DirectionConfig) -> LinkConfig {
        LinkConfig {
            a_to_b: direction,
            b_to_a: direction,
            ..LinkConfig::default()
        }
    }

    /// The impairments of direction `d`.
    pub fn direction(&self, d: Direction) -> &DirectionConfig {
        match d {
            Direction::AToB => &self.a_to_b,
            Direction::BToA => &self.b_to_a,
        }
    }

    /// Checks the values; the error names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        self.a_to_b.validate().map_err(|e| format!("a_to_b.{e}"))?;
        self.b_to_a.validate().map_err(|e| format!("b_to_a.{e}"))?;
        if self.mtu < 68 || self.mtu as usize + ETH_HEADER_LEN > DEFAULT_DATA_ROOM {
            return Err(format!(
                "mtu = {}: expected 68..={}",
                self.mtu,
                DEFAULT_DATA_ROOM - ETH_HEADER_LEN
            ));
        }
        if self.max_burst == 0 {
            return Err("max_burst = 0: expected at least 1".into());
        }
        if self.pool_buffers == 0 {
            return Err("pool_buffers = 0: expected at least 1".into());
        }
        if self.wire_slots < 2 {
            return Err(format!(
                "wire_slots = {}: expected at least 2",
                self.wire_slots
            ));
        }
        Ok(())
    }
}

/// What happened to the frames sent in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Frames accepted for sending (not counting over-long ones).
    pub offered: u64,
    /// Frames lost (random loss).
    pub lost: u64,
    /// Frames dropped at the tail of the rate limiter's full queue.
    pub queue_dropped: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Frames held back for reordering.
    pub reordered: u64,
}

#[derive(Default)]
struct AtomicLinkStats {
    offered: AtomicU64,
    lost: AtomicU64,
    queue_dropped: AtomicU64,
    duplicated: AtomicU64,
    reordered: AtomicU64,
}

impl AtomicLinkStats {
    fn add(&self, t: &LinkStats) {
        let pairs = [
            (&self.offered, t.offered),
            (&self.lost, t.lost),
            (&self.queue_dropped, t.queue_dropped),
            (&self.duplicated, t.duplicated),
            (&self.reordered, t.reordered),
        ];
        for (counter, n) in pairs {
            if n > 0 {
                counter.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    fn snapshot(&self) -> LinkStats {
        LinkStats {
            offered: self.offered.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            queue_dropped: self.queue_dropped.load(Ordering::Relaxed),
            duplicated: self.duplicated.load(Ordering::Relaxed),
            reordered: self.reordered.load(Ordering::Relaxed),
        }
    }
}

/// A frame on its way: due at `at`; `seq` orders frames due at once.
struct InFlight {
    at: u64,
    seq: u64,
    buf: MemBuf,
}

impl InFlight {
    fn key(&self) -> (u64, u64) {
        (self.at, self.seq)
    }
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        self.key().cmp(&other.key())
    }
}

/// Frames taken off the incoming wire, handed out earliest first (by
/// `(at, seq)`).
///
/// Frames mostly arrive in due order (a fixed delay keeps sending order);
/// those go on an ordered run, a queue, at O(1). Only a frame due before the
/// run's last one (jitter, reordering, a duplicate's own jitter, a delay
/// changed downwards) goes on a heap. The earliest frame is the earlier of
/// the run's front and the heap's top, so the order is exactly that of a
/// single heap.
#[derive(Default)]
struct Arrivals {
    run: VecDeque<InFlight>,
    heap: BinaryHeap<Reverse<InFlight>>,
}

impl Arrivals {
    fn with_capacity(n: usize) -> Arrivals {
        Arrivals {
            run: VecDeque::with_capacity(n),
            heap: BinaryHeap::new(),
        }
    }

    fn len(&self) -> usize {
        self.run.len() + self.heap.len()
    }

    fn push(&mut self, frame: InFlight) {
        match self.run.back() {
            Some(last) if last.key() > frame.key() => self.heap.push(Reverse(frame)),
            _ => self.run.push_back(frame),
        }
    }

    /// True when the earliest frame comes from the heap.
    fn heap_first(&self) -> bool {
        match (self.run.front(), self.heap.peek()) {
            (Some(r), Some(Reverse(h))) => h.key() < r.key(),
            (None, Some(_)) => true,
            _ => false,
        }
    }

    fn peek(&self) -> Option<&InFlight> {
        if self.heap_first() {
            self.heap.peek().map(|Reverse(f)| f)
        } else {
            self.run.front()
        }
    }

    fn pop(&mut self) -> Option<InFlight> {
        if self.heap_first() {
            self.heap.pop().map(|Reverse(f)| f)
        } else {
            self.run.pop_front()
        }
    }
}

/// Frames sent in one direction and not yet taken by the receiver, in
/// sending order. The sender appends a whole burst under one lock and the
/// receiver takes everything under one lock, so the lock is taken once per
/// burst rather than once per frame.
struct Wire {
    frames: VecDeque<InFlight>,
}

/// The state of one direction that both ends (and link controls) reach.
struct DirShared {
    /// Frames sent and not yet taken by the receiver.
    wire: Mutex<Wire>,
    /// Most frames `wire` holds (`LinkConfig::wire_slots`).
    wire_slots: usize,
    /// Frames in `wire`, kept beside it so that the receiver can see an
    /// empty wire and the sender its room without taking the lock. Changed
    /// only under the lock; a stale read only under-states the room (only
    /// the receiver takes frames) or delays a receive to the next poll.
    queued: AtomicUsize,
    /// The configuration as last set by a [`LinkControl`].
    config: Mutex<DirectionConfig>,
    /// Bumped on every configuration change.
    generation: AtomicU64,
    stats: AtomicLinkStats,
}

struct LinkShared {
    dirs: [CachePadded<DirShared>; 2],
}

impl LinkShared {
    fn dir(&self, d: Direction) -> &DirShared {
        &self.dirs[d.index()]
    }
}

/// The sender's private state for its direction.
struct TxPath {
    rng: Rng,
    /// Copy of the shared configuration, of generation `generation`.
    config: DirectionConfig,
    generation: u64,
    /// When the rate limiter finishes serialising what it has queued.
    busy_until: u64,
    /// Serialisation end times of frames queued or being serialised.
    backlog: VecDeque<u64>,
    next_seq: u64,
    /// Counts of the current burst, published once at its end.
    tally: LinkStats,
    /// Frames of the current burst, put on the wire together at its end.
    outbox: Vec<InFlight>,
}

impl TxPath {
    fn refresh(&mut self, shared: &DirShared) {
        let generation = shared.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.config = *shared.config.lock().unwrap_or_else(|e| e.into_inner());
            self.generation = generation;
        }
    }

    /// When a frame of `len` bytes offered at `now` leaves the rate
    /// limiter, or `None` when the queue is full.
    fn serialise(&mut self, now: u64, len: usize) -> Option<u64> {
        let Some(rate) = self.config.rate_bps else {
            return Some(now);
        };
        while self.backlog.front().is_some_and(|&end| end <= now) {
            self.backlog.pop_front();
        }
        if self.backlog.len() >= self.config.queue_packets {
            return None;
        }
        let start = now.max(self.busy_until);
        let end = start.saturating_add(serialisation_ns(len, rate));
        self.busy_until = end;
        self.backlog.push_back(end);
        Some(end)
    }
}

/// Nanoseconds to serialise `len` bytes at `rate_bps`, rounded up.
fn serialisation_ns(len: usize, rate_bps: u64) -> u64 {
    let bits = len as u128 * 8 * 1_000_000_000;
    bits.div_ceil(rate_bps as u128).min(u64::MAX as u128) as u64
}

/// Builds pairs of [`MemPort`]s joined by a simulated link.
#[derive(Debug)]
pub struct MemLink;

impl MemLink {
    /// Two ports joined by a link, sharing a new virtual clock at time 0
    /// (reach it with [`MemPort::clock`]). Frames sent by the first port
    /// travel [`Direction::AToB`]. Equal `seed`s give equal fault patterns.
    ///
    /// # Panics
    /// When `config` is invalid ([`LinkConfig::validate`]).
    pub fn pair(config: LinkConfig, seed: u64) -> (MemPort, MemPort) {
        MemLink::pair_with_clock(config, seed, Clock::new_virtual())
    }

    /// Like [`MemLink::pair`], with the given clock (virtual or real time).
    ///
    /// # Panics
    /// When `config` is invalid ([`LinkConfig::validate`]).
    pub fn pair_with_clock(config: LinkConfig, seed: u64, clock: Clock) -> (MemPort, MemPort) {
        if let Err(e) = config.validate() {
            panic!("invalid LinkConfig: {e}");
        }
        let dir_shared = |d: Direction| {
            CachePadded::new(DirShared {
                wire: Mutex::new(Wire {
                    frames: VecDeque::with_capacity(config.wire_slots.min(1024)),
                }),
                wire_slots: config.wire_slots,
                queued: AtomicUsize::new(0),
                config: Mutex::new(*config.direction(d)),
                generation: AtomicU64::new(0),
                stats: AtomicLinkStats::default(),
            })
        };
        let link = Arc::new(LinkShared {
            dirs: [dir_shared(Direction::AToB), dir_shared(Direction::BToA)],
        });
        let a = MemPort::new(Direction::AToB, &link, &config, seed, clock.clone());
        let b = MemPort::new(Direction::BToA, &link, &config, seed, clock);
        (a, b)
    }
}

/// One end of a [`MemLink`]: a [`Port`] with its own buffer pool.
pub struct MemPort {
    /// Direction of the frames this port sends.
    tx_dir: Direction,
    link: Arc<LinkShared>,
    tx: TxPath,
    /// Frames taken off the incoming wire, earliest first.
    arrivals: Arrivals,
    /// The incoming wire's frames, swapped out of it under its lock.
    inbox: VecDeque<InFlight>,
    pool: MemPool,
    clock: Clock,
    caps: PortCaps,
    stats: PortStats,
    max_frame: usize,
}

impl fmt::Debug for MemPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemPort")
            .field("tx_dir", &self.tx_dir)
            .field("caps", &self.caps)
            .field("stats", &self.stats)
            .field("arrivals", &self.arrivals.len())
            .field("pool", &self.pool)
            .finish()
    }
}

impl MemPort {
    fn new(
        tx_dir: Direction,
        link: &Arc<LinkShared>,
        config: &LinkConfig,
        seed: u64,
        clock: Clock,
    ) -> MemPort {
        let dir = *config.direction(tx_dir);
        let mac = match tx_dir {
            Direction::AToB => config.mac_a,
            Direction::BToA => config.mac_b,
        };
        MemPort {
            tx_dir,
            link: Arc::clone(link),
            tx: TxPath {
                rng: Rng::new(derive_seed(seed, tx_dir.index() as u64)),
                config: dir,
                generation: 0,
                busy_until: 0,
                backlog: VecDeque::with_capacity(dir.queue_packets.min(4096)),
                next_seq: 0,
                tally: LinkStats::default(),
                outbox: Vec::new(),
            },
            arrivals: Arrivals::with_capacity(1024),
            inbox: VecDeque::new(),
            pool: MemPool::new(config.pool_buffers, DEFAULT_HEADROOM, DEFAULT_DATA_ROOM),
            clock,
            caps: PortCaps {
                checksum: config.checksum,
                mtu: config.mtu,
                mac,
                max_burst: config.max_burst,
                rss: false,
            },
            stats: PortStats::default(),
            max_frame: config.mtu as usize + ETH_HEADER_LEN,
        }
    }

    /// The clock both ends of the link read.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// A handle to change the link's impairments at run time and read its
    /// statistics (either port's handle controls both directions).
    pub fn control(&self) -> LinkControl {
        LinkControl {
            link: Arc::clone(&self.link),
        }
    }

    /// Direction of the frames this port sends.
    pub fn tx_direction(&self) -> Direction {
        self.tx_dir
    }

    /// This port's buffer pool (buffers it allocates and receives into).
    pub fn pool(&self) -> &MemPool {
        &self.pool
    }

    /// The earliest time at which a frame on its way to this port is due,
    /// or `None` when nothing is on its way: a virtual-time driver advances
    /// the clock to the smaller of both ports' answers (and its own timers).
    pub fn next_delivery_time(&mut self) -> Option<u64> {
        self.collect_arrivals();
        self.arrivals.peek().map(|f| f.at)
    }

    /// Frames on their way to this port, due or not.
    pub fn pending_rx(&mut self) -> usize {
        self.collect_arrivals();
        self.arrivals.len()
    }

    /// Moves what the peer has sent from the wire into the arrival heap.
    fn collect_arrivals(&mut self) {
        let shared = self.link.dir(self.tx_dir.reverse());
        if shared.queued.load(Ordering::Acquire) == 0 {
            return;
        }
        {
            // Swap the wire's frames for the (empty) inbox: the lock is
            // held for the swap only.
            let mut wire = shared.wire.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut wire.frames, &mut self.inbox);
            shared.queued.store(0, Ordering::Release);
        }
        for frame in self.inbox.drain(..) {
            self.arrivals.push(frame);
        }
    }

    /// A copy of `src` in a buffer of this port's pool, as a NIC receives
    /// it: the sender's transmit offloads applied, receive flags set.
    fn receive(&mut self, src: &MemBuf) -> Option<MemBuf> {
        let mut buf = self.pool.alloc()?;
        let frame = buf.append(src.len())?;
        frame.copy_from_slice(src.data());
        fill_tx_checksums(frame, src.tx_offload(), self.caps.checksum);
        let flags = rx_flags_for(buf.data(), self.caps.checksum);
        buf.set_rx_flags(flags);
        Some(buf)
    }

    /// Decides the fate of one frame sent at `now` and puts it on the wire.
    fn send(&mut self, now: u64, buf: MemBuf) {
        let len = buf.len();
        if len > self.max_frame {
            self.stats.tx_dropped += 1;
            return;
        }
        self.stats.tx_packets += 1;
        self.stats.tx_bytes += len as u64;
        let tx = &mut self.tx;
        tx.tally.offered += 1;

        // The same five draws for every frame, whatever the configuration,
        // so that changing one impairment does not reshuffle the others.
        let cfg = tx.config;
        let lose = tx.rng.unit() < cfg.loss;
        let duplicate = tx.rng.unit() < cfg.duplicate;
        let reorder = tx.rng.unit() < cfg.reorder;
        let jitter = tx.rng.up_to(cfg.jitter_ns);
        let dup_jitter = tx.rng.up_to(cfg.jitter_ns);

        if lose {
            tx.tally.lost += 1;
            return;
        }
        let Some(sent) = tx.serialise(now, len) else {
            tx.tally.queue_dropped += 1;
            return;
        };
        let arrives = sent.saturating_add(cfg.delay_ns);
        let mut at = arrives.saturating_add(jitter);
        if reorder {
            at = at.saturating_add(cfg.reorder_delay_ns);
            tx.tally.reordered += 1;
        }
        let copy = duplicate.then(|| buf.share());
        let seq = tx.next_seq;
        tx.next_seq += 1;
        // Goes on the wire at the end of the burst; tx_burst checked for
        // room and only this port adds to the wire.
        tx.outbox.push(InFlight { at, seq, buf });
        if let Some(copy) = copy {
            tx.tally.duplicated += 1;
            let seq = tx.next_seq;
            tx.next_seq += 1;
            let at = arrives.saturating_add(dup_jitter);
            tx.outbox.push(InFlight { at, seq, buf: copy });
        }
    }
}

impl Port for MemPort {
    type Buf = MemBuf;

    fn rx_burst(&mut self, out: &mut Vec<MemBuf>, max: usize) -> usize {
        let now = self.clock.now();
        self.collect_arrivals();
        let mut received = 0;
        while received < max {
            let due = matches!(self.arrivals.peek(), Some(f) if f.at <= now);
            if !due {
                break;
            }
            let Some(frame) = self.arrivals.pop() else {
                break;
            };
            match self.receive(&frame.buf) {
                Some(buf) => {
                    self.stats.rx_packets += 1;
                    self.stats.rx_bytes += buf.len() as u64;
                    out.push(buf);
                    received += 1;
                }
                None => self.stats.rx_dropped += 1,
            }
            // `frame` drops here: the sender's buffer goes back to its pool.
        }
        received
    }

    fn tx_burst(&mut self, pkts: &mut Vec<MemBuf>) -> usize {
        let now = self.clock.now();
        let shared = self.link.dir(self.tx_dir);
        self.tx.refresh(shared);
        // Room for every frame and its possible duplicate. Only the
        // receiver takes from the wire, so the room can only grow meanwhile.
        let queued = shared.queued.load(Ordering::Acquire);
        let room = shared.wire_slots.saturating_sub(queued);
        let per_frame = if self.tx.config.duplicate > 0.0 { 2 } else { 1 };
        let accepted = pkts.len().min(room / per_frame);
        for buf in pkts.drain(..accepted) {
            self.send(now, buf);
        }
        if !self.tx.outbox.is_empty() {
            let shared = self.link.dir(self.tx_dir);
            let mut wire = shared.wire.lock().unwrap_or_else(|e| e.into_inner());
            wire.frames.extend(self.tx.outbox.drain(..));
            shared.queued.store(wire.frames.len(), Ordering::Release);
        }
        let tally = std::mem::take(&mut self.tx.tally);
        self.link.dir(self.tx_dir).stats.add(&tally);
        accepted
    }

    fn alloc(&mut self) -> Option<MemBuf> {
        self.pool.alloc()
    }

    fn caps(&self) -> PortCaps {
        self.caps
    }

    fn stats(&self) -> PortStats {
        self.stats
    }
}

/// Changes a link's impairments at run time and reads its statistics. Cheap
/// to clone; usable from any thread.
///
/// A change applies to frames sent after it; frames already on their way
/// keep the fate they were given (as with a real path: setting `loss` to 1
/// black-holes the path for new frames, what is in flight still arrives).
#[derive(Clone)]
pub struct LinkControl {
    link: Arc<LinkShared>,
}

impl fmt::Debug for LinkControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkControl")
            .field("a_to_b", &self.config(Direction::AToB))
            .field("b_to_a", &self.config(Direction::BToA))
            .finish()
    }
}

impl LinkControl {
    /// The current impairments of direction `d`.
    pub fn config(&self, d: Direction) -> DirectionConfig {
        *self
            .link
            .dir(d)
            .config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the impairments of direction `d`.
    ///
    /// # Panics
    /// When `config` is invalid ([`DirectionConfig::validate`]).
    pub fn set_config(&self, d: Direction, config: DirectionConfig) {
        self.update(d, |c| *c = config);
    }

    /// Changes the impairments of direction `d` in place.
    ///
    /// # Panics
    /// When the result is invalid ([`DirectionConfig::validate`]); the old
    /// configuration then stays.
    pub fn update(&self, d: Direction, change: impl FnOnce(&mut DirectionConfig)) {
        let shared = self.link.dir(d);
        let mut current = shared.config.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = *current;
        change(&mut next);
        if let Err(e) = next.validate() {
            drop(current);
            panic!("invalid DirectionConfig for {d:?}: {e}");
        }
        *current = next;
        shared.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Sets the loss probability of direction `d` (1 black-holes it).
    ///
    /// # Panics
    /// When `loss` is not in `[0, 1]`.
    pub fn set_loss(&self, d: Direction, loss: f64) {
        self.update(d, |c| c.loss = loss);
    }

    /// What happened so far to frames sent in direction `d`.
    pub fn stats(&self, d: Direction) -> LinkStats {
        self.link.dir(d).stats.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialisation_rounds_up() {
        assert_eq!(serialisation_ns(1000, 8_000_000), 1_000_000);
        assert_eq!(serialisation_ns(1, 3), 2_666_666_667);
        assert_eq!(serialisation_ns(1500, 10_000_000_000), 1200);
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = LinkConfig::default();
        assert!(c.validate().is_ok());
        c.b_to_a.loss = 1.5;
        assert!(c.validate().unwrap_err().starts_with("b_to_a.loss"));
        c.b_to_a.loss = f64::NAN;
        assert!(c.validate().is_err());
        let c = LinkConfig {
            mtu: 4000,
            ..LinkConfig::default()
        };
        assert!(c.validate().unwrap_err().starts_with("mtu"));
    }

    #[test]
    fn arrivals_come_out_in_due_order() {
        // Mostly in order, with frames due earlier mixed in, and pops
        // between pushes: the same order as one heap of (at, seq).
        let pool = MemPool::new(2048, 0, 1);
        let mut rng = Rng::new(3);
        let mut arrivals = Arrivals::with_capacity(4);
        let mut model = BinaryHeap::new();
        let mut out = Vec::new();
        let mut expected = Vec::new();
        let mut base = 0u64;
        for seq in 0..2000u64 {
            base += rng.up_to(3);
            let at = if rng.unit() < 0.2 {
                base.saturating_sub(rng.up_to(10))
            } else {
                base
            };
            let buf = pool.alloc().expect("a block per frame");
            arrivals.push(InFlight { at, seq, buf });
            model.push(Reverse((at, seq)));
            if rng.unit() < 0.3 {
                out.push(arrivals.pop().map(|f| (f.at, f.seq)));
                expected.push(model.pop().map(|Reverse(k)| k));
            }
            assert_eq!(arrivals.len(), model.len());
            assert_eq!(
                arrivals.peek().map(|f| (f.at, f.seq)),
                model.peek().map(|Reverse(k)| *k)
            );
        }
        while let Some(f) = arrivals.pop() {
            out.push(Some((f.at, f.seq)));
            expected.push(model.pop().map(|Reverse(k)| k));
        }
        assert_eq!(out, expected);
        assert!(model.is_empty());
    }

    #[test]
    fn ports_are_send() {
        fn is_send<T: Send>() {}
        is_send::<MemPort>();
        is_send::<MemBuf>();
        is_send::<LinkControl>();
        fn is_sync<T: Sync>() {}
        is_sync::<LinkControl>();
    }
}
