//! Hashed timing wheel (Varghese & Lauck, scheme 6) for the many timers of
//! one core: retransmission, delayed ACK, TIME-WAIT, keepalive, TFO
//! pending-entry expiry.
//!
//! # Layout
//!
//! Time is cut into ticks of `tick` nanoseconds (1 ms by default). The wheel
//! has a power-of-two number of slots; a timer whose deadline falls in tick
//! `due = ceil(deadline / tick)` hangs in slot `due & (slots - 1)`, on an
//! intrusive doubly linked list whose nodes live in a [`Slab`]. Scheduling
//! and cancelling are O(1); a [`TimerId`] is a generation-checked slab key,
//! so cancelling a timer that already fired or was cancelled (even after its
//! node was reused) does nothing.
//!
//! # Deadlines beyond one revolution
//!
//! Each node stores its absolute due tick (the "rounds" of the paper,
//! implicitly: `rounds = (due - now) / slots`), so a slot can hold timers of
//! several revolutions and nothing has to be decremented or cascaded. Each
//! slot also keeps a lower bound of the due ticks it holds: when the wheel
//! passes a slot whose bound is still in the future, the slot's list is not
//! even walked. A slot is walked only when something in it may be due, and
//! each walk recomputes its bound exactly. Long timers (keepalive,
//! TIME-WAIT) therefore cost one comparison per revolution. A hierarchical
//! wheel would avoid that too, but needs cascading and makes
//! [`TimerWheel::next_deadline`] coarse; this layout keeps it exact.
//!
//! # Firing rule
//!
//! [`TimerWheel::advance`]`(now)` fires every timer with
//! `ceil(deadline / tick) * tick <= now`. So a timer never fires before its
//! deadline, and fires at most one tick after `now` passes it. Timers
//! fired in one call come out sorted by deadline, ties in scheduling order,
//! so runs are deterministic. A timer scheduled in the past fires on the
//! next `advance`.
//!
//! [`TimerWheel::next_deadline`] returns the instant at which `advance`
//! will next fire something. It is exact except after a cancellation that
//! left a slot non-empty, where it can be earlier (a lower bound): advancing
//! to it then fires nothing but tightens the bound, so a virtual-time driver
//! that loops on "jump to `next_deadline`, `advance`" always makes progress.

use crate::slab::{Key, Slab};
use crate::time::{duration_ns, Duration, Instant};

/// Names a scheduled timer; harmless to cancel after it fired.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TimerId(Key);

/// Default tick: 1 ms.
pub const DEFAULT_TICK: Duration = Duration::from_millis(1);
/// Default number of slots: 4096 (one revolution is 4.096 s at 1 ms ticks).
pub const DEFAULT_SLOTS: usize = 4096;

const NIL: u32 = u32::MAX;

struct Node<T> {
    item: T,
    /// Requested deadline, ns.
    deadline: u64,
    /// Tick at which the timer fires: `ceil(deadline / tick)`.
    due: u64,
    /// Scheduling order, for deterministic ties.
    seq: u64,
    /// List the node is on: a slot index, or `slots` for the due-now list.
    list: u32,
    prev: u32,
    next: u32,
}

/// A hashed timing wheel holding items of type `T` (typically a small
/// `Copy` handle such as a slab key plus a timer kind).
pub struct TimerWheel<T: Copy> {
    tick_ns: u64,
    mask: u64,
    /// Last tick fully processed: every timer with `due <= cur` has fired.
    cur: u64,
    /// Start of the tick after `cur`, ns (saturating).
    cur_end_ns: u64,
    /// Latest `now` seen, ns.
    now: u64,
    /// List heads; index `slots` is the due-now list (scheduled in the past).
    heads: Vec<u32>,
    /// Per slot: lower bound of the due ticks on its list (`u64::MAX` if empty).
    slot_min: Vec<u64>,
    /// Bit per slot: list non-empty.
    occupied: Vec<u64>,
    /// Lower bound of the instants at which a timer on a slot list fires
    /// (its due tick times `tick`; `u64::MAX` if none), ns: until the clock
    /// reaches it, an [`advance`](Self::advance) has no slot to look at.
    next_fire_ns: u64,
    nodes: Slab<Node<T>>,
    next_seq: u64,
    scratch: Vec<(u64, u64, T)>,
}

impl<T: Copy> TimerWheel<T> {
    /// A wheel whose clock starts at `start`, with the given tick and number
    /// of slots. Panics if `tick` is zero or `slots` is not a power of two.
    pub fn new(start: Instant, tick: Duration, slots: usize) -> TimerWheel<T> {
        Self::with_capacity(start, tick, slots, 0)
    }

    /// As [`new`](Self::new), with room for `capacity` timers preallocated.
    pub fn with_capacity(
        start: Instant,
        tick: Duration,
        slots: usize,
        capacity: usize,
    ) -> TimerWheel<T> {
        let tick_ns = duration_ns(tick);
        assert!(tick_ns > 0, "timer tick must be positive");
        assert!(
            slots.is_power_of_two() && slots < u32::MAX as usize,
            "slot count must be a power of two"
        );
        TimerWheel {
            tick_ns,
            mask: slots as u64 - 1,
            cur: start.0 / tick_ns,
            cur_end_ns: (start.0 / tick_ns + 1).saturating_mul(tick_ns),
            now: start.0,
            heads: vec![NIL; slots + 1],
            slot_min: vec![u64::MAX; slots],
            occupied: vec![0; slots.div_ceil(64)],
            next_fire_ns: u64::MAX,
            nodes: Slab::with_capacity(capacity),
            next_seq: 0,
            scratch: Vec::new(),
        }
    }

    /// The tick length.
    pub fn tick(&self) -> Duration {
        Duration::from_nanos(self.tick_ns)
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.slot_min.len()
    }

    /// The latest time the wheel was advanced to (or its start).
    pub fn now(&self) -> Instant {
        Instant(self.now)
    }

    /// Number of timers scheduled and not yet fired or cancelled.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no timer is scheduled.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Schedule `item` to fire at `deadline` (or on the next
    /// [`advance`](Self::advance) if `deadline` has passed).
    pub fn schedule(&mut self, deadline: Instant, item: T) -> TimerId {
        let seq = self.next_seq;
        self.next_seq += 1;
        let due = self.due_tick(deadline.0);
        let key = self.nodes.insert(Node {
            item,
            deadline: deadline.0,
            due,
            seq,
            list: NIL,
            prev: NIL,
            next: NIL,
        });
        self.link(key.index);
        TimerId(key)
    }

    /// Cancel a timer; returns its item if it was still scheduled. O(1).
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        self.nodes.get(id.0)?;
        self.unlink(id.0.index);
        self.nodes.remove(id.0).map(|n| n.item)
    }

    /// Move a scheduled timer to a new deadline, keeping its id. Returns
    /// false (and does nothing) if the timer already fired or was cancelled.
    pub fn reschedule(&mut self, id: TimerId, deadline: Instant) -> bool {
        if self.nodes.get(id.0).is_none() {
            return false;
        }
        self.unlink(id.0.index);
        let due = self.due_tick(deadline.0);
        let seq = self.next_seq;
        self.next_seq += 1;
        let node = self.nodes.get_mut(id.0).expect("checked above");
        node.deadline = deadline.0;
        node.due = due;
        node.seq = seq;
        self.link(id.0.index);
        true
    }

    /// The deadline of a scheduled timer, `None` if it fired or was cancelled.
    pub fn deadline(&self, id: TimerId) -> Option<Instant> {
        self.nodes.get(id.0).map(|n| Instant(n.deadline))
    }

    /// Whether the timer is still scheduled.
    pub fn is_scheduled(&self, id: TimerId) -> bool {
        self.nodes.contains(id.0)
    }

    /// Advance the wheel to `now` and append the items of every timer that
    /// is due to `out`, sorted by deadline (ties: scheduling order). Returns
    /// how many fired. A `now` earlier than a previous one is treated as the
    /// previous one.
    ///
    /// When nothing can be due (the common case of a busy loop) this is a
    /// few comparisons, and a division once per tick.
    #[inline]
    pub fn advance(&mut self, now: Instant, out: &mut Vec<T>) -> usize {
        let now_ns = now.0.max(self.now);
        self.now = now_ns;
        if now_ns < self.next_fire_ns && self.heads[self.slot_min.len()] == NIL {
            if now_ns >= self.cur_end_ns {
                // No slot up to this tick holds a timer due by it.
                self.set_cur(now_ns / self.tick_ns);
            }
            return 0;
        }
        self.advance_slots(now_ns, out)
    }

    /// The part of [`advance`](Self::advance) that fires timers.
    #[inline(never)]
    fn advance_slots(&mut self, now_ns: u64, out: &mut Vec<T>) -> usize {
        let target = now_ns / self.tick_ns;
        let n = self.slots();
        let imm = n;

        // Timers scheduled in the past.
        let mut idx = self.heads[imm];
        while idx != NIL {
            let next = self.node_at(idx).next;
            self.fire(idx);
            idx = next;
        }
        self.heads[imm] = NIL;

        if target > self.cur {
            let span = (target - self.cur).min(n as u64) as usize;
            let start = ((self.cur + 1) & self.mask) as usize;
            let end = start + span;
            if end <= n {
                self.process_range(start, end, target);
            } else {
                self.process_range(start, n, target);
                self.process_range(0, end - n, target);
            }
            self.set_cur(target);
            self.next_fire_ns = self.first_possible_tick().saturating_mul(self.tick_ns);
        }

        let fired = self.scratch.len();
        self.scratch.sort_unstable_by_key(|&(d, s, _)| (d, s));
        out.extend(self.scratch.drain(..).map(|(_, _, item)| item));
        fired
    }

    /// The instant at which [`advance`](Self::advance) will next fire a
    /// timer (see the module docs: exact, or a lower bound after some
    /// cancellations); `None` if no timer is scheduled. If a timer is already
    /// due it returns the wheel's current time.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.nodes.is_empty() {
            return None;
        }
        if self.heads[self.slots()] != NIL {
            return Some(Instant(self.now));
        }
        let n = self.slots();
        let start = ((self.cur + 1) & self.mask) as usize;
        let mut best = u64::MAX;
        for (from, to) in [(start, n), (0, start)] {
            let mut pos = from;
            while let Some(s) = find_set(&self.occupied, pos, to) {
                // Ticks from `cur` to this slot's tick in the current revolution.
                let k = ((s as u64).wrapping_sub(start as u64) & self.mask) + 1;
                let in_rev = self.cur + k;
                let min = self.slot_min[s];
                if min <= in_rev {
                    // Due this revolution; every earlier slot only holds
                    // later revolutions, so nothing fires sooner.
                    return Some(self.tick_instant(in_rev));
                }
                best = best.min(min);
                pos = s + 1;
            }
        }
        (best != u64::MAX).then(|| self.tick_instant(best))
    }

    // ---- internals -------------------------------------------------------

    fn set_cur(&mut self, tick: u64) {
        self.cur = tick;
        self.cur_end_ns = tick.saturating_add(1).saturating_mul(self.tick_ns);
    }

    /// The earliest tick a timer on a slot list can be due at: every one is
    /// due after `cur`, in the first tick after `cur` that maps to its slot
    /// or a later revolution, so the first occupied slot after `cur` bounds
    /// them all (`u64::MAX` if no slot is occupied).
    fn first_possible_tick(&self) -> u64 {
        let n = self.slots();
        let start = ((self.cur + 1) & self.mask) as usize;
        let s = find_set(&self.occupied, start, n).or_else(|| find_set(&self.occupied, 0, start));
        match s {
            Some(s) => self.cur + ((s as u64).wrapping_sub(start as u64) & self.mask) + 1,
            None => u64::MAX,
        }
    }

    fn due_tick(&self, deadline_ns: u64) -> u64 {
        deadline_ns.div_ceil(self.tick_ns)
    }

    fn tick_instant(&self, tick: u64) -> Instant {
        Instant(tick.saturating_mul(self.tick_ns))
    }

    fn node_at(&self, index: u32) -> &Node<T> {
        self.nodes
            .get_by_index(index)
            .expect("timer list links a dead node")
    }

    fn node_at_mut(&mut self, index: u32) -> &mut Node<T> {
        self.nodes
            .get_by_index_mut(index)
            .expect("timer list links a dead node")
    }

    fn set_bit(&mut self, slot: usize) {
        self.occupied[slot / 64] |= 1 << (slot % 64);
    }

    fn clear_bit(&mut self, slot: usize) {
        self.occupied[slot / 64] &= !(1 << (slot % 64));
    }

    /// Push node `index` (with `due` set) on the front of its list.
    fn link(&mut self, index: u32) {
        let due = self.node_at(index).due;
        let list = if due <= self.cur {
            self.slots()
        } else {
            (due & self.mask) as usize
        };
        let head = self.heads[list];
        {
            let node = self.node_at_mut(index);
            node.list = list as u32;
            node.prev = NIL;
            node.next = head;
        }
        if head != NIL {
            self.node_at_mut(head).prev = index;
        }
        self.heads[list] = index;
        if list < self.slots() {
            self.slot_min[list] = self.slot_min[list].min(due);
            self.next_fire_ns = self.next_fire_ns.min(due.saturating_mul(self.tick_ns));
            self.set_bit(list);
        }
    }

    /// Take node `index` off its list (the node stays in the slab).
    fn unlink(&mut self, index: u32) {
        let (list, prev, next) = {
            let n = self.node_at(index);
            (n.list as usize, n.prev, n.next)
        };
        if prev == NIL {
            self.heads[list] = next;
        } else {
            self.node_at_mut(prev).next = next;
        }
        if next != NIL {
            self.node_at_mut(next).prev = prev;
        }
        if list < self.slots() && self.heads[list] == NIL {
            self.slot_min[list] = u64::MAX;
            self.clear_bit(list);
        }
    }

    /// Remove node `index` (already off its list, or on a list being
    /// discarded whole) and queue its item.
    fn fire(&mut self, index: u32) {
        let key = self.nodes.key_of_index(index).expect("live node");
        let node = self.nodes.remove(key).expect("live node");
        self.scratch.push((node.deadline, node.seq, node.item));
    }

    /// Walk the occupied slots in `[from, to)` and fire what is due by `target`.
    fn process_range(&mut self, from: usize, to: usize, target: u64) {
        let mut pos = from;
        while let Some(s) = find_set(&self.occupied, pos, to) {
            if self.slot_min[s] <= target {
                self.process_slot(s, target);
            }
            pos = s + 1;
        }
    }

    fn process_slot(&mut self, slot: usize, target: u64) {
        let mut new_min = u64::MAX;
        let mut idx = self.heads[slot];
        while idx != NIL {
            let (next, due) = {
                let n = self.node_at(idx);
                (n.next, n.due)
            };
            if due <= target {
                self.unlink(idx);
                self.fire(idx);
            } else {
                new_min = new_min.min(due);
            }
            idx = next;
        }
        if self.heads[slot] != NIL {
            self.slot_min[slot] = new_min;
        }
    }
}

/// First set bit in `[from, to)` of a bitmap.
fn find_set(words: &[u64], from: usize, to: usize) -> Option<usize> {
    let mut pos = from;
    while pos < to {
        let w = pos / 64;
        let bits = words[w] & (!0u64 << (pos % 64));
        if bits != 0 {
            let s = w * 64 + bits.trailing_zeros() as usize;
            return (s < to).then_some(s);
        }
        pos = (w + 1) * 64;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashMap};

    fn ms(v: u64) -> Instant {
        Instant::from_millis(v)
    }

    fn wheel(slots: usize) -> TimerWheel<u32> {
        TimerWheel::new(Instant::ZERO, Duration::from_millis(1), slots)
    }

    #[test]
    fn fires_at_deadline_not_before() {
        let mut w = wheel(64);
        let mut out = Vec::new();
        w.schedule(ms(5), 1);
        assert_eq!(w.next_deadline(), Some(ms(5)));
        assert_eq!(w.advance(Instant(4_999_999), &mut out), 0);
        assert!(out.is_empty());
        assert_eq!(w.advance(ms(5), &mut out), 1);
        assert_eq!(out, vec![1]);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn sub_tick_deadline_fires_within_one_tick() {
        let mut w = wheel(64);
        let mut out = Vec::new();
        w.schedule(Instant(5_500_000), 7);
        assert_eq!(w.next_deadline(), Some(ms(6)));
        w.advance(Instant(5_600_000), &mut out);
        assert!(out.is_empty(), "rounded up to the next tick");
        w.advance(ms(6), &mut out);
        assert_eq!(out, vec![7]);
    }

    #[test]
    fn cancel_is_generation_checked() {
        let mut w = wheel(8);
        let mut out = Vec::new();
        let a = w.schedule(ms(3), 1);
        let b = w.schedule(ms(3), 2);
        assert_eq!(w.cancel(a), Some(1));
        assert_eq!(w.cancel(a), None);
        assert!(!w.reschedule(a, ms(10)));
        w.advance(ms(3), &mut out);
        assert_eq!(out, vec![2]);
        assert_eq!(w.cancel(b), None, "fired id is harmless");
        // Reuse of the node slot does not revive old ids.
        let c = w.schedule(ms(9), 3);
        assert_eq!(c.0.index, b.0.index);
        assert_eq!(w.cancel(b), None);
        assert!(w.is_scheduled(c));
        assert_eq!(w.deadline(c), Some(ms(9)));
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn beyond_one_revolution() {
        let mut w = wheel(8);
        let mut out = Vec::new();
        w.schedule(ms(100), 1);
        w.schedule(ms(4), 2);
        w.schedule(ms(36), 3); // same slot as 4 and 100 (mod 8)
        for t in 1..=99 {
            w.advance(ms(t), &mut out);
            match t {
                4 => assert_eq!(out, vec![2]),
                36 => assert_eq!(out, vec![2, 3]),
                _ => {}
            }
            assert!(out.len() <= 2, "fired early at {t}");
        }
        assert_eq!(w.next_deadline(), Some(ms(100)));
        w.advance(ms(100), &mut out);
        assert_eq!(out, vec![2, 3, 1]);
    }

    #[test]
    fn big_jump_fires_all_in_deadline_order() {
        let mut w = wheel(16);
        let mut out = Vec::new();
        for (i, d) in [70u64, 3, 1000, 17, 3, 55].iter().enumerate() {
            w.schedule(ms(*d), i as u32);
        }
        w.advance(ms(500), &mut out);
        assert_eq!(out, vec![1, 4, 3, 5, 0]);
        assert_eq!(w.next_deadline(), Some(ms(1000)));
        out.clear();
        w.advance(Instant::MAX, &mut out);
        assert_eq!(out, vec![2]);
    }

    #[test]
    fn past_deadline_fires_on_next_advance() {
        let mut w = wheel(16);
        let mut out = Vec::new();
        w.advance(ms(50), &mut out);
        w.schedule(ms(10), 1);
        w.schedule(Instant(50_000_001), 2);
        assert_eq!(w.next_deadline(), Some(ms(50)));
        w.advance(ms(50), &mut out);
        assert_eq!(out, vec![1]);
        assert_eq!(w.next_deadline(), Some(ms(51)));
        // Time going backwards is clamped.
        w.advance(ms(20), &mut out);
        assert_eq!(out, vec![1]);
        assert_eq!(w.now(), ms(50));
    }

    #[test]
    fn reschedule_keeps_id() {
        let mut w = wheel(16);
        let mut out = Vec::new();
        let id = w.schedule(ms(5), 9);
        assert!(w.reschedule(id, ms(40)));
        w.advance(ms(39), &mut out);
        assert!(out.is_empty());
        assert_eq!(w.next_deadline(), Some(ms(40)));
        w.advance(ms(40), &mut out);
        assert_eq!(out, vec![9]);
    }

    #[test]
    fn next_deadline_lower_bound_after_cancel_makes_progress() {
        let mut w = wheel(8);
        let mut out = Vec::new();
        let a = w.schedule(ms(3), 1);
        w.schedule(ms(11), 2); // same slot, next revolution
        w.cancel(a);
        let mut now = Instant::ZERO;
        let mut steps = 0;
        while let Some(d) = w.next_deadline() {
            assert!(d <= ms(11));
            now = now.max(d);
            w.advance(now, &mut out);
            steps += 1;
            assert!(steps < 5);
        }
        assert_eq!(out, vec![2]);
        assert_eq!(now, ms(11));
    }

    #[test]
    fn tiny_and_odd_configurations() {
        let mut w: TimerWheel<u8> = TimerWheel::new(ms(7), Duration::from_micros(250), 1);
        let mut out = Vec::new();
        w.schedule(ms(8), 1);
        w.schedule(Instant(7_100_000), 2);
        assert_eq!(w.next_deadline(), Some(Instant(7_250_000)));
        w.advance(Instant(7_250_000), &mut out);
        assert_eq!(out, vec![2]);
        w.advance(ms(8), &mut out);
        assert_eq!(out, vec![2, 1]);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Schedule(u64),
        Cancel(usize),
        Reschedule(usize, u64),
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u64..200_000_000).prop_map(Op::Schedule),
            1 => any::<usize>().prop_map(Op::Cancel),
            1 => (any::<usize>(), 0u64..200_000_000).prop_map(|(i, d)| Op::Reschedule(i, d)),
            3 => (0u64..20_000_000).prop_map(Op::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_btreemap_model(
            slots_log2 in 0u32..8,
            tick_us in prop_oneof![Just(1000u64), Just(250), Just(3000)],
            ops in proptest::collection::vec(op(), 1..300),
        ) {
            let tick = tick_us * 1000;
            let mut w: TimerWheel<u32> = TimerWheel::new(Instant::ZERO, Duration::from_nanos(tick), 1 << slots_log2);
            // Reference: (deadline, seq) -> item; fire when ceil(d/tick)*tick <= now.
            let mut model: BTreeMap<(u64, u64), u32> = BTreeMap::new();
            let mut where_is: HashMap<u32, (u64, u64)> = HashMap::new();
            let mut ids: Vec<(TimerId, u32)> = Vec::new();
            let mut seq = 0u64;
            let mut now = 0u64;
            let fire_at = |d: u64| d.div_ceil(tick) * tick;
            let mut out = Vec::new();
            for op in ops {
                match op {
                    Op::Schedule(rel) => {
                        let item = ids.len() as u32;
                        let d = (now + rel).saturating_sub(50_000_000);
                        let id = w.schedule(Instant(d), item);
                        model.insert((d, seq), item);
                        where_is.insert(item, (d, seq));
                        seq += 1;
                        ids.push((id, item));
                    }
                    Op::Cancel(i) if !ids.is_empty() => {
                        let (id, item) = ids[i % ids.len()];
                        let want = where_is.remove(&item).map(|k| model.remove(&k).unwrap());
                        prop_assert_eq!(w.cancel(id), want);
                    }
                    Op::Reschedule(i, rel) if !ids.is_empty() => {
                        let (id, item) = ids[i % ids.len()];
                        let d = now + rel;
                        let live = where_is.contains_key(&item);
                        prop_assert_eq!(w.reschedule(id, Instant(d)), live);
                        if live {
                            let k = where_is.remove(&item).unwrap();
                            model.remove(&k);
                            model.insert((d, seq), item);
                            where_is.insert(item, (d, seq));
                        }
                        seq += 1;
                    }
                    Op::Advance(dt) => {
                        now += dt;
                        out.clear();
                        let n = w.advance(Instant(now), &mut out);
                        let due: Vec<(u64, u64)> = model
                            .iter()
                            .filter(|(k, _)| fire_at(k.0) <= now)
                            .map(|(k, _)| *k)
                            .collect();
                        let want: Vec<u32> = due.iter().map(|k| model[k]).collect();
                        for k in &due {
                            let item = model.remove(k).unwrap();
                            where_is.remove(&item);
                            prop_assert!(k.0 <= now, "fired early");
                        }
                        prop_assert_eq!(n, want.len());
                        prop_assert_eq!(&out, &want);
                        // Nothing left is overdue by a tick or more.
                        for k in model.keys() {
                            prop_assert!(k.0 + tick > now, "fired late");
                        }
                    }
                    _ => {}
                }
                prop_assert_eq!(w.len(), model.len());
                let min_fire = model.keys().map(|k| fire_at(k.0).max(w.now().0)).min();
                match (w.next_deadline(), min_fire) {
                    (None, None) => {}
                    (Some(nd), Some(mf)) => prop_assert!(nd.0 <= mf, "next_deadline {} > {}", nd.0, mf),
                    (a, b) => prop_assert!(false, "next_deadline {:?} vs model {:?}", a, b),
                }
            }
            // Drain in virtual time by jumping to next_deadline: every timer
            // fires exactly at its fire instant (or now, if already due).
            let drain_start = now;
            let mut steps = 0;
            while let Some(nd) = w.next_deadline() {
                steps += 1;
                prop_assert!(steps < 10_000);
                now = now.max(nd.0);
                out.clear();
                w.advance(Instant(now), &mut out);
                for item in &out {
                    let k = where_is.remove(item).unwrap();
                    model.remove(&k);
                    prop_assert_eq!(fire_at(k.0).max(drain_start), now);
                }
            }
            prop_assert!(model.is_empty());
        }
    }
}
