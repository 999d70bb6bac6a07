//! Software steering for ports that cannot do RSS by our function (the
//! virtual devices: af_packet spreads flows over its queues with the
//! kernel's PACKET_FANOUT hash, memif and ring not at all).
//!
//! Every worker polls its own queue through a [`SteeredPort`]: each frame
//! it receives is classified ([`classify_frame`]); a TCP segment whose flow
//! belongs to another core ([`mptfo_engine::shard::core_of`]) is handed over to that core's
//! inbox, a bounded lock-free ring ([`ArrayQueue`]; full: the frame is
//! dropped and counted). ARP and neighbour discovery go to every core (each
//! stack keeps its own neighbour table). A worker takes its inbox first,
//! then its queue, in every receive burst, so the engine's worker loop
//! needs no change: to it a `SteeredPort` is just a port.
//!
//! MP_JOIN SYNs go by token, not by tuple: the connection a join SYN
//! names lives on core [`join_owner`] (`token % n`), wherever its tuple
//! hashes. The receiving worker hands the SYN to that core and remembers
//! the tuple in its join table ([`JoinTable`]), so the join's later
//! segments follow it (a flow stays on one queue: RSS and af_packet's
//! fan-out hash per flow). The table forgets a flow on RST, shortly after
//! a FIN, when it idles out, and its oldest entry (unconfirmed joins
//! first) when it is full. The entries are also published in a small
//! index the port's workers share ([`Steering`]), so a segment of a join
//! that arrives on another queue still reaches the owner; those are
//! counted (`join_other_queue`), as are segments that found neither.
//!
//! The cost is measured: the classification loop of every burst (all
//! frames pay it) and, separately, the hand-over of each steered frame
//! (its ring push, timed on its own; the two clock reads are included).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use mptfo_engine::shard::{
    classify_frame, core_of_hash, flow_hash, join_owner, FrameClass, Tuple, TCP_FIN, TCP_RST,
};
use mptfo_nic::{Buf, Port, PortCaps, PortStats};

/// Default inbox capacity per core (frames).
pub const INBOX_CAPACITY: usize = 4096;

/// Most flows a worker's join table holds (per port).
pub const JOIN_TABLE_CAPACITY: usize = 4096;

/// A join whose SYN was seen but no later segment: forgotten after this
/// long (the peer's SYN retries come sooner; a refused join never
/// confirms).
pub const JOIN_SYN_IDLE: Duration = Duration::from_secs(10);

/// A confirmed join with no segment for this long is forgotten.
pub const JOIN_IDLE: Duration = Duration::from_secs(300);

/// After the peer's FIN, the flow is kept this long (its last ACKs and
/// retransmissions still go to the owner), then forgotten.
pub const JOIN_FIN_LINGER: Duration = Duration::from_secs(10);

/// How often a worker sweeps its join table for idle entries.
const JOIN_SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Slots of the join index a port's workers share (a power of two).
const JOIN_INDEX_SLOTS: usize = 4096;

/// What the workers of one port share: one inbox per core, and the index
/// of the join flows their tables hold.
pub struct Steering<B> {
    inboxes: Vec<ArrayQueue<B>>,
    dropped: Vec<AtomicU64>,
    /// Slot `hash % SLOTS`: `hash << 32 | (owner + 1)`, 0 when empty.
    join_index: Box<[AtomicU64]>,
    /// Entries in `join_index` (0: the per-frame check is skipped).
    join_published: AtomicUsize,
}

impl<B> Steering<B> {
    /// Inboxes for `cores` cores, `capacity` frames each.
    pub fn new(cores: usize, capacity: usize) -> Steering<B> {
        Steering {
            inboxes: (0..cores)
                .map(|_| ArrayQueue::new(capacity.max(1)))
                .collect(),
            dropped: (0..cores).map(|_| AtomicU64::new(0)).collect(),
            join_index: (0..JOIN_INDEX_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            join_published: AtomicUsize::new(0),
        }
    }

    fn slot_value(hash: u32, owner: usize) -> u64 {
        u64::from(hash) << 32 | (owner as u64 + 1)
    }

    /// Publishes join flow `hash` -> `owner`; false when its slot is taken
    /// (by another join: the flow is then only in its worker's table).
    fn publish(&self, hash: u32, owner: usize) -> bool {
        let slot = &self.join_index[hash as usize % JOIN_INDEX_SLOTS];
        let ok = slot
            .compare_exchange(
                0,
                Self::slot_value(hash, owner),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok();
        if ok {
            self.join_published.fetch_add(1, Ordering::AcqRel);
        }
        ok
    }

    /// Withdraws what [`Steering::publish`] published.
    fn withdraw(&self, hash: u32, owner: usize) {
        let slot = &self.join_index[hash as usize % JOIN_INDEX_SLOTS];
        if slot
            .compare_exchange(
                Self::slot_value(hash, owner),
                0,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            self.join_published.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// The owner of a published join flow with symmetric hash `hash`.
    fn published_owner(&self, hash: u32) -> Option<usize> {
        let v = self.join_index[hash as usize % JOIN_INDEX_SLOTS].load(Ordering::Acquire);
        (v != 0 && (v >> 32) as u32 == hash).then(|| (v & 0xffff_ffff) as usize - 1)
    }

    /// Whether any join flow is published (one relaxed load).
    fn any_published(&self) -> bool {
        self.join_published.load(Ordering::Relaxed) != 0
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.inboxes.len()
    }

    /// Frames dropped because the inbox of `core` was full.
    pub fn dropped(&self, core: usize) -> u64 {
        self.dropped[core].load(Ordering::Relaxed)
    }

    /// Hands `b` to `core`; false (and the frame dropped) when its inbox is
    /// full.
    fn push(&self, core: usize, b: B) -> bool {
        match self.inboxes[core].push(b) {
            Ok(()) => true,
            Err(b) => {
                drop(b);
                self.dropped[core].fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// A hasher for tuples (FxHash's multiply-rotate: the keys are not chosen
/// by an attacker who can see the table, and SipHash would cost more than
/// the lookup).
#[derive(Default)]
pub struct TupleHasher(u64);

impl Hasher for TupleHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }

    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One join flow a worker steers by table.
#[derive(Debug, Clone, Copy)]
struct JoinEntry {
    owner: usize,
    /// The symmetric flow hash (the shared index's key).
    hash: u32,
    /// Published in the shared index.
    published: bool,
    /// A segment after the SYN was seen.
    confirmed: bool,
    /// When the peer's FIN was seen.
    fin_at: Option<Instant>,
    last_seen: Instant,
}

/// Why a join table entry went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Evict {
    Rst,
    Fin,
    Idle,
    Full,
}

/// A worker's join flows on one port: tuple (as received) -> owner core.
/// Bounded ([`JOIN_TABLE_CAPACITY`]); entries go on RST, after a FIN, when
/// idle, or the oldest when full (see the module doc).
pub struct JoinTable {
    map: HashMap<Tuple, JoinEntry, BuildHasherDefault<TupleHasher>>,
    capacity: usize,
    last_sweep: Option<Instant>,
}

impl JoinTable {
    /// An empty table of at most `capacity` flows.
    pub fn new(capacity: usize) -> JoinTable {
        JoinTable {
            map: HashMap::with_capacity_and_hasher(capacity.min(1024), Default::default()),
            capacity: capacity.max(1),
            last_sweep: None,
        }
    }

    /// Flows held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no flow is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// One worker's steering figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SteerStats {
    /// Frames this worker received from its own queue.
    pub received: u64,
    /// Of those, TCP segments handed to another core.
    pub steered_out: u64,
    /// Of those, frames copied to the other cores (ARP, ND).
    pub broadcast: u64,
    /// Frames taken from this worker's inbox.
    pub steered_in: u64,
    /// Frames this worker could not hand over (the other's inbox full).
    pub dropped: u64,
    /// Nanoseconds in the classification loops (every received frame).
    pub classify_ns: u64,
    /// Nanoseconds in the hand-overs of steered frames (ring pushes).
    pub handover_ns: u64,
    /// MP_JOIN SYNs received (classified by token).
    pub join_syns: u64,
    /// Of those, handed to another core (the token's owner).
    pub joins_steered: u64,
    /// Segments of join flows steered by the join table.
    pub join_hits: u64,
    /// Segments of a join flow that arrived on another queue than its SYN
    /// (found in the port's shared index, handed to the owner).
    pub join_other_queue: u64,
    /// Join flows the table could not publish in the shared index (slot
    /// taken): their segments on another queue would go by hash.
    pub join_unpublished: u64,
    /// Join table entries at the end (summed over workers by `add`).
    pub join_table: u64,
    /// Most entries the table held (the largest of the workers by `add`).
    pub join_table_peak: u64,
    /// Entries removed on the peer's RST.
    pub join_evicted_rst: u64,
    /// Entries removed after the peer's FIN.
    pub join_evicted_fin: u64,
    /// Entries that idled out.
    pub join_evicted_idle: u64,
    /// Entries pushed out of a full table.
    pub join_evicted_full: u64,
}

impl SteerStats {
    /// Adds `o`'s figures.
    pub fn add(&mut self, o: &SteerStats) {
        self.received += o.received;
        self.steered_out += o.steered_out;
        self.broadcast += o.broadcast;
        self.steered_in += o.steered_in;
        self.dropped += o.dropped;
        self.classify_ns += o.classify_ns;
        self.handover_ns += o.handover_ns;
        self.join_syns += o.join_syns;
        self.joins_steered += o.joins_steered;
        self.join_hits += o.join_hits;
        self.join_other_queue += o.join_other_queue;
        self.join_unpublished += o.join_unpublished;
        self.join_table += o.join_table;
        self.join_table_peak = self.join_table_peak.max(o.join_table_peak);
        self.join_evicted_rst += o.join_evicted_rst;
        self.join_evicted_fin += o.join_evicted_fin;
        self.join_evicted_idle += o.join_evicted_idle;
        self.join_evicted_full += o.join_evicted_full;
    }

    /// Fraction of received frames steered to another core.
    pub fn steered_fraction(&self) -> f64 {
        if self.received == 0 {
            0.0
        } else {
            self.steered_out as f64 / self.received as f64
        }
    }

    /// Classification cost per received frame, ns.
    pub fn classify_ns_per_frame(&self) -> f64 {
        if self.received == 0 {
            0.0
        } else {
            self.classify_ns as f64 / self.received as f64
        }
    }

    /// Hand-over cost per steered frame, ns.
    pub fn handover_ns_per_steered(&self) -> f64 {
        if self.steered_out == 0 {
            0.0
        } else {
            self.handover_ns as f64 / self.steered_out as f64
        }
    }

    /// One line for a summary (the join figures at its end).
    pub fn line(&self) -> String {
        format!(
            "{} frames received, {} steered to other cores ({:.1}%), {} taken from the inbox, {} ARP/ND copied, {} dropped (inbox full); classify {:.0} ns/frame, hand-over {:.0} ns/steered frame; joins: {}",
            self.received,
            self.steered_out,
            100.0 * self.steered_fraction(),
            self.steered_in,
            self.broadcast,
            self.dropped,
            self.classify_ns_per_frame(),
            self.handover_ns_per_steered(),
            self.join_line()
        )
    }

    /// The join-steering line: MP_JOIN SYNs by token, the join table and
    /// what left it.
    pub fn join_line(&self) -> String {
        format!(
            "{} MP_JOIN SYNs, {} steered to the token's core; join table {} entries (peak {}), {} segments steered by it, {} from another queue, {} unpublished; removed {} on RST, {} after FIN, {} idle, {} when full",
            self.join_syns,
            self.joins_steered,
            self.join_table,
            self.join_table_peak,
            self.join_hits,
            self.join_other_queue,
            self.join_unpublished,
            self.join_evicted_rst,
            self.join_evicted_fin,
            self.join_evicted_idle,
            self.join_evicted_full
        )
    }
}

/// A port queue seen through the steering step (see the module doc).
pub struct SteeredPort<'s, P: Port> {
    inner: P,
    core: usize,
    shared: &'s Steering<P::Buf>,
    scratch: Vec<P::Buf>,
    joins: JoinTable,
    /// This worker's figures.
    pub stats: SteerStats,
}

impl<'s, P: Port> SteeredPort<'s, P> {
    /// Worker `core` of `shared.cores()` over its queue `inner`.
    pub fn new(inner: P, core: usize, shared: &'s Steering<P::Buf>) -> Self {
        assert!(core < shared.cores(), "core {core} of {}", shared.cores());
        SteeredPort {
            inner,
            core,
            shared,
            scratch: Vec::with_capacity(64),
            joins: JoinTable::new(JOIN_TABLE_CAPACITY),
            stats: SteerStats::default(),
        }
    }

    /// This worker's figures, with the join table's current size.
    pub fn steer_stats(&self) -> SteerStats {
        let mut s = self.stats;
        s.join_table = self.joins.len() as u64;
        s
    }

    /// Removes `t` from the join table (and the shared index).
    fn forget_join(&mut self, t: &Tuple, why: Option<Evict>) {
        if let Some(e) = self.joins.map.remove(t) {
            if e.published {
                self.shared.withdraw(e.hash, e.owner);
            }
            match why {
                Some(Evict::Rst) => self.stats.join_evicted_rst += 1,
                Some(Evict::Fin) => self.stats.join_evicted_fin += 1,
                Some(Evict::Idle) => self.stats.join_evicted_idle += 1,
                Some(Evict::Full) => self.stats.join_evicted_full += 1,
                None => {}
            }
        }
    }

    /// The core of a join SYN's connection; remembers the flow when its
    /// tuple hashes elsewhere.
    fn steer_join_syn(&mut self, t: Tuple, token: u32, n: usize, now: Instant) -> usize {
        let owner = join_owner(token, n);
        self.stats.join_syns += 1;
        let hash = flow_hash(&t);
        if core_of_hash(hash, n) == owner {
            // Its later segments hash to the owner anyway (an entry left
            // from an earlier join of the same tuple goes).
            self.forget_join(&t, None);
            return owner;
        }
        if let Some(e) = self.joins.map.get_mut(&t) {
            // A retransmitted SYN (or the tuple reused for another join).
            if e.owner != owner {
                let old = *e;
                if old.published {
                    self.shared.withdraw(old.hash, old.owner);
                }
                e.owner = owner;
                e.published = self.shared.publish(hash, owner);
                if !e.published {
                    self.stats.join_unpublished += 1;
                }
            }
            e.confirmed = false;
            e.fin_at = None;
            e.last_seen = now;
            return owner;
        }
        if self.joins.map.len() >= self.joins.capacity {
            // Unconfirmed joins go first, then the longest idle.
            let victim = self
                .joins
                .map
                .iter()
                .min_by_key(|(_, e)| (e.confirmed, e.last_seen))
                .map(|(k, _)| *k);
            if let Some(v) = victim {
                self.forget_join(&v, Some(Evict::Full));
            }
        }
        let published = self.shared.publish(hash, owner);
        if !published {
            self.stats.join_unpublished += 1;
        }
        self.joins.map.insert(
            t,
            JoinEntry {
                owner,
                hash,
                published,
                confirmed: false,
                fin_at: None,
                last_seen: now,
            },
        );
        self.stats.join_table_peak = self.stats.join_table_peak.max(self.joins.len() as u64);
        owner
    }

    /// The core of an ordinary TCP segment: its join flow's owner, else
    /// the hash's choice.
    fn steer_segment(&mut self, t: &Tuple, flags: u8, n: usize, now: Instant) -> usize {
        let hash = flow_hash(t);
        if !self.joins.is_empty() {
            if let Some(e) = self.joins.map.get_mut(t) {
                let owner = e.owner;
                e.confirmed = true;
                e.last_seen = now;
                if flags & TCP_FIN != 0 && e.fin_at.is_none() {
                    e.fin_at = Some(now);
                }
                self.stats.join_hits += 1;
                if flags & TCP_RST != 0 {
                    self.forget_join(t, Some(Evict::Rst));
                }
                return owner;
            }
        }
        if self.shared.any_published() {
            if let Some(owner) = self.shared.published_owner(hash) {
                self.stats.join_other_queue += 1;
                return owner;
            }
        }
        core_of_hash(hash, n)
    }

    /// Forgets idle joins and those past their FIN linger (at most once
    /// per [`JOIN_SWEEP_EVERY`]).
    fn sweep_joins(&mut self, now: Instant) {
        if self.joins.is_empty() {
            return;
        }
        match self.joins.last_sweep {
            Some(t) if now.saturating_duration_since(t) < JOIN_SWEEP_EVERY => return,
            _ => self.joins.last_sweep = Some(now),
        }
        let gone: Vec<(Tuple, Evict)> = self
            .joins
            .map
            .iter()
            .filter_map(|(k, e)| {
                let idle = now.saturating_duration_since(e.last_seen);
                if e.fin_at
                    .is_some_and(|f| now.saturating_duration_since(f) >= JOIN_FIN_LINGER)
                {
                    Some((*k, Evict::Fin))
                } else if idle
                    >= if e.confirmed {
                        JOIN_IDLE
                    } else {
                        JOIN_SYN_IDLE
                    }
                {
                    Some((*k, Evict::Idle))
                } else {
                    None
                }
            })
            .collect();
        for (k, why) in gone {
            self.forget_join(&k, Some(why));
        }
    }

    /// The same with a join table of at most `capacity` flows.
    pub fn with_join_capacity(mut self, capacity: usize) -> Self {
        self.joins = JoinTable::new(capacity);
        self
    }

    /// The queue underneath.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Gives the queue back.
    pub fn into_inner(self) -> P {
        self.inner
    }
}

impl<P: Port> Port for SteeredPort<'_, P>
where
    P::Buf: Send,
{
    type Buf = P::Buf;

    fn rx_burst(&mut self, out: &mut Vec<P::Buf>, max: usize) -> usize {
        let start = out.len();
        let n = self.shared.cores();
        if n <= 1 {
            // A lone worker: no inbox to look at, nothing to classify.
            let got = self.inner.rx_burst(out, max);
            self.stats.received += got as u64;
            return got;
        }
        let inbox = &self.shared.inboxes[self.core];
        while out.len() - start < max {
            match inbox.pop() {
                Some(b) => out.push(b),
                None => break,
            }
        }
        self.stats.steered_in += (out.len() - start) as u64;
        let room = max - (out.len() - start);
        if room == 0 {
            return out.len() - start;
        }
        self.scratch.clear();
        let got = self.inner.rx_burst(&mut self.scratch, room);
        if got == 0 {
            return out.len() - start;
        }
        self.stats.received += got as u64;
        let t0 = Instant::now();
        let mut handover = 0u64;
        let mut frames = std::mem::take(&mut self.scratch);
        for b in frames.drain(..) {
            let c = match classify_frame(b.data()) {
                FrameClass::Tcp(t, flags) => Some(self.steer_segment(&t, flags, n, t0)),
                FrameClass::JoinSyn(t, token) => {
                    let c = self.steer_join_syn(t, token, n, t0);
                    if c != self.core {
                        self.stats.joins_steered += 1;
                    }
                    Some(c)
                }
                FrameClass::Neighbor => {
                    for c in (0..n).filter(|&c| c != self.core) {
                        if !self.shared.push(c, b.share()) {
                            self.stats.dropped += 1;
                        }
                        self.stats.broadcast += 1;
                    }
                    None
                }
                FrameClass::Other => None,
            };
            match c {
                Some(c) if c != self.core => {
                    let h = Instant::now();
                    if !self.shared.push(c, b) {
                        self.stats.dropped += 1;
                    }
                    handover += h.elapsed().as_nanos() as u64;
                    self.stats.steered_out += 1;
                }
                _ => out.push(b),
            }
        }
        self.scratch = frames;
        self.sweep_joins(t0);
        self.stats.join_table = self.joins.len() as u64;
        self.stats.classify_ns += t0.elapsed().as_nanos() as u64;
        self.stats.handover_ns += handover;
        out.len() - start
    }

    fn tx_burst(&mut self, pkts: &mut Vec<P::Buf>) -> usize {
        self.inner.tx_burst(pkts)
    }

    fn alloc(&mut self) -> Option<P::Buf> {
        self.inner.alloc()
    }

    fn caps(&self) -> PortCaps {
        self.inner.caps()
    }

    fn stats(&self) -> PortStats {
        self.inner.stats()
    }
}

/// Pins the calling thread to CPU `cpu`; false when the system refused
/// (or has no such CPU).
pub fn pin_to_cpu(cpu: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: cpu })
}

/// Parses a CPU list: `0,1`, `0-3`, `0-1,4` (no duplicates, at most 1024).
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(format!("`{s}`: empty element in the CPU list"));
        }
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let a: usize = a
            .parse()
            .map_err(|_| format!("`{s}`: `{part}` is not a CPU number or range"))?;
        let b: usize = b
            .parse()
            .map_err(|_| format!("`{s}`: `{part}` is not a CPU number or range"))?;
        if a > b {
            return Err(format!("`{s}`: range `{part}` runs backwards"));
        }
        if b >= 1024 {
            return Err(format!("`{s}`: CPU {b} is out of range (0..1024)"));
        }
        for c in a..=b {
            if out.contains(&c) {
                return Err(format!("`{s}`: CPU {c} is listed twice"));
            }
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mptfo_nic::{MemBuf, MemPool};
    use std::net::{IpAddr, SocketAddr};

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0,1").unwrap(), vec![0, 1]);
        assert_eq!(parse_cpu_list("0-1").unwrap(), vec![0, 1]);
        assert_eq!(parse_cpu_list("2-4,7").unwrap(), vec![2, 3, 4, 7]);
        assert!(parse_cpu_list("1-0").is_err());
        assert!(parse_cpu_list("0,0").is_err());
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list("").is_err());
    }

    #[test]
    fn inbox_drops_when_full() {
        let s: Steering<u32> = Steering::new(2, 2);
        assert!(s.push(1, 1));
        assert!(s.push(1, 2));
        assert!(!s.push(1, 3));
        assert_eq!(s.dropped(1), 1);
        assert_eq!(s.dropped(0), 0);
    }

    /// A queue that hands out canned frames.
    struct Canned {
        frames: Vec<MemBuf>,
        pool: MemPool,
    }

    impl Port for Canned {
        type Buf = MemBuf;
        fn rx_burst(&mut self, out: &mut Vec<MemBuf>, max: usize) -> usize {
            let n = max.min(self.frames.len());
            out.extend(self.frames.drain(..n));
            n
        }
        fn tx_burst(&mut self, pkts: &mut Vec<MemBuf>) -> usize {
            let n = pkts.len();
            pkts.clear();
            n
        }
        fn alloc(&mut self) -> Option<MemBuf> {
            self.pool.alloc()
        }
        fn caps(&self) -> PortCaps {
            unreachable!("not asked for here")
        }
        fn stats(&self) -> PortStats {
            PortStats::default()
        }
    }

    fn tcp_frame(pool: &MemPool, src: SocketAddr, dst: SocketAddr) -> MemBuf {
        let mut f = [0u8; 54];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        f[23] = 6;
        if let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip(), dst.ip()) {
            f[26..30].copy_from_slice(&s.octets());
            f[30..34].copy_from_slice(&d.octets());
        }
        f[34..36].copy_from_slice(&src.port().to_be_bytes());
        f[36..38].copy_from_slice(&dst.port().to_be_bytes());
        let mut b = pool.alloc().unwrap();
        assert!(b.append_slice(&f));
        b
    }

    /// A TCP segment with `flags`; with `token`, an MP_JOIN SYN option.
    fn segment(
        pool: &MemPool,
        src: SocketAddr,
        dst: SocketAddr,
        flags: u8,
        token: Option<u32>,
    ) -> MemBuf {
        let mut f = tcp_frame(pool, src, dst).data().to_vec();
        f[47] = flags;
        f[46] = 5 << 4;
        if let Some(t) = token {
            f.extend_from_slice(&[30, 12, 0x10, 3]);
            f.extend_from_slice(&t.to_be_bytes());
            f.extend_from_slice(&[0; 4]);
            f[46] = 8 << 4;
        }
        let mut b = pool.alloc().unwrap();
        assert!(b.append_slice(&f));
        b
    }

    fn canned(frames: Vec<MemBuf>) -> Canned {
        Canned {
            frames,
            pool: MemPool::new(16, 128, 2048),
        }
    }

    /// Polls both workers until neither gets anything; what each got.
    fn drain(
        q0: &mut SteeredPort<'_, Canned>,
        q1: &mut SteeredPort<'_, Canned>,
    ) -> (Vec<MemBuf>, Vec<MemBuf>) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        loop {
            let n = q0.rx_burst(&mut a, 32) + q1.rx_burst(&mut b, 32);
            if n == 0 {
                return (a, b);
            }
        }
    }

    #[test]
    fn joins_follow_their_token() {
        use mptfo_engine::shard::{core_of, TCP_ACK, TCP_FIN, TCP_SYN};
        let pool = MemPool::new(8192, 128, 2048);
        let server: SocketAddr = "10.0.1.12:8080".parse().unwrap();
        let client: IpAddr = "10.0.2.1".parse().unwrap();
        // Peer ports whose flows hash to core 0, joins owned by core 1.
        let ports: Vec<u16> = (50000..60000u16)
            .filter(|&p| core_of(&Tuple::new(SocketAddr::new(client, p), server), 2) == 0)
            .take(3)
            .collect();
        let peer = |k: usize| SocketAddr::new(client, ports[k]);
        let token = 0x1357_9bdf; // odd: core 1 of 2
        let shared = Steering::new(2, 4096);
        let mut q0 = SteeredPort::new(
            canned(vec![
                segment(&pool, peer(0), server, TCP_SYN, Some(token)),
                segment(&pool, peer(0), server, TCP_ACK, None),
                segment(&pool, peer(1), server, TCP_SYN, Some(token)),
                // An ordinary flow of core 0 stays.
                segment(&pool, peer(2), server, TCP_SYN, None),
            ]),
            0,
            &shared,
        );
        let mut q1 = SteeredPort::new(canned(Vec::new()), 1, &shared);
        let (at0, at1) = drain(&mut q0, &mut q1);
        assert_eq!((at0.len(), at1.len()), (1, 3));
        assert_eq!(q0.stats.join_syns, 2);
        assert_eq!(q0.stats.joins_steered, 2);
        assert_eq!(q0.stats.join_hits, 1);
        assert_eq!(q0.steer_stats().join_table, 2);
        // A segment of join 1 on the other queue finds the owner through
        // the shared index (here the owner's own queue: kept).
        q1.inner
            .frames
            .push(segment(&pool, peer(1), server, TCP_ACK, None));
        let mut got = Vec::new();
        assert_eq!(q1.rx_burst(&mut got, 32), 1);
        assert_eq!(q1.stats.join_other_queue, 1);
        // The peer's FIN keeps the flow (its last ACK must follow); RST
        // ends it.
        q0.inner.frames.extend([
            segment(&pool, peer(0), server, TCP_FIN | TCP_ACK, None),
            segment(&pool, peer(0), server, TCP_ACK, None),
            segment(&pool, peer(1), server, TCP_RST, None),
            segment(&pool, peer(1), server, TCP_ACK, None),
        ]);
        let (at0, at1) = drain(&mut q0, &mut q1);
        // After the RST, join 1's flow goes by hash again (core 0).
        assert_eq!((at0.len(), at1.len()), (1, 3));
        assert_eq!(q0.stats.join_evicted_rst, 1);
        assert_eq!(q0.steer_stats().join_table, 1);
        assert!(shared.any_published());
        // The FIN linger ends the other on a sweep.
        let later = Instant::now() + JOIN_FIN_LINGER + Duration::from_secs(1);
        q0.sweep_joins(later);
        assert_eq!(q0.stats.join_evicted_fin, 1);
        assert!(q0.joins.is_empty());
        assert!(!shared.any_published());
        eprintln!("join steering: {}", q0.steer_stats().join_line());
    }

    #[test]
    fn join_table_is_bounded_and_idles_out() {
        use mptfo_engine::shard::{core_of, TCP_ACK, TCP_SYN};
        let pool = MemPool::new(8192, 128, 2048);
        let server: SocketAddr = "10.0.1.12:8080".parse().unwrap();
        let client: IpAddr = "10.0.2.1".parse().unwrap();
        let ports: Vec<u16> = (50000..60000u16)
            .filter(|&p| core_of(&Tuple::new(SocketAddr::new(client, p), server), 2) == 0)
            .take(6)
            .collect();
        let shared = Steering::new(2, 4096);
        let mut frames = Vec::new();
        // Join 0 confirmed, then five more SYNs into a table of four.
        frames.push(segment(
            &pool,
            SocketAddr::new(client, ports[0]),
            server,
            TCP_SYN,
            Some(1),
        ));
        frames.push(segment(
            &pool,
            SocketAddr::new(client, ports[0]),
            server,
            TCP_ACK,
            None,
        ));
        for &p in &ports[1..] {
            frames.push(segment(
                &pool,
                SocketAddr::new(client, p),
                server,
                TCP_SYN,
                Some(3),
            ));
        }
        let mut q0 = SteeredPort::new(canned(frames), 0, &shared).with_join_capacity(4);
        let mut q1 = SteeredPort::new(canned(Vec::new()), 1, &shared);
        let (_, at1) = drain(&mut q0, &mut q1);
        assert_eq!(at1.len(), 7);
        assert_eq!(q0.joins.len(), 4);
        assert_eq!(q0.stats.join_evicted_full, 2);
        assert_eq!(q0.stats.join_table_peak, 4);
        // The confirmed join survived: unconfirmed ones went first.
        let t0 = Tuple::new(SocketAddr::new(client, ports[0]), server);
        assert!(q0.joins.map.contains_key(&t0));
        // Unconfirmed joins idle out after JOIN_SYN_IDLE, confirmed ones
        // after JOIN_IDLE.
        q0.sweep_joins(Instant::now() + JOIN_SYN_IDLE + Duration::from_secs(1));
        assert_eq!(q0.joins.len(), 1);
        q0.sweep_joins(Instant::now() + JOIN_IDLE + Duration::from_secs(2));
        assert!(q0.joins.is_empty());
        assert_eq!(q0.stats.join_evicted_idle, 4);
        assert!(!shared.any_published());
    }

    #[test]
    fn frames_reach_their_core() {
        let pool = MemPool::new(8192, 128, 2048);
        let server: SocketAddr = "10.0.1.12:8080".parse().unwrap();
        let client: IpAddr = "10.0.1.1".parse().unwrap();
        // All frames arrive on queue 0 (a port without RSS, or an
        // unlucky fan-out); an ARP frame too.
        let mut frames = Vec::new();
        for p in 40000..41000u16 {
            frames.push(tcp_frame(&pool, SocketAddr::new(client, p), server));
        }
        let mut arp = pool.alloc().unwrap();
        let mut a = [0u8; 42];
        a[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert!(arp.append_slice(&a));
        frames.push(arp);
        let shared = Steering::new(2, 4096);
        let mut q0 = SteeredPort::new(
            Canned {
                frames,
                pool: MemPool::new(16, 128, 2048),
            },
            0,
            &shared,
        );
        let mut q1 = SteeredPort::new(
            Canned {
                frames: Vec::new(),
                pool: MemPool::new(16, 128, 2048),
            },
            1,
            &shared,
        );
        let (mut at0, mut at1) = (Vec::new(), Vec::new());
        while q0.rx_burst(&mut at0, 32) > 0 {}
        while q1.rx_burst(&mut at1, 32) > 0 {}
        assert_eq!(at0.len() + at1.len(), 1002, "ARP on both");
        for (core, got) in [(0, &at0), (1, &at1)] {
            for b in got.iter() {
                if let FrameClass::Tcp(t, _) = classify_frame(b.data()) {
                    assert_eq!(mptfo_engine::shard::core_of(&t, 2), core);
                }
            }
        }
        assert!(q0.stats.steered_out > 300 && q0.stats.steered_out < 700);
        assert_eq!(q0.stats.steered_out, q1.stats.steered_in - 1);
        assert_eq!(q0.stats.broadcast, 1);
        eprintln!("steering, 1001 frames on one queue: {}", q0.stats.line());
    }
}
