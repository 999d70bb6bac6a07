//! Out-of-order reassembly bookkeeping: which byte ranges beyond the left
//! edge of a receive window have arrived.
//!
//! Owns ranges only — the payload lives in the receive buffers elsewhere.
//! [`Assembler`] works in offsets relative to its left edge (the next byte
//! the receiver expects), stores at most [`MAX_RUNS`] maximal contiguous
//! runs, and refuses (with [`TooManyHoles`], state unchanged) a range that
//! would need more; the caller then drops that segment, the sender
//! retransmits it later.
//!
//! [`SeqAssembler`] puts a sequence-number left edge in front of it, for the
//! two spaces that need reassembly: the 32-bit subflow space
//! ([`SubflowAssembler`], modular per RFC 9293) and the 64-bit MPTCP data
//! sequence space ([`DataAssembler`]). Offsets from the left edge are
//! bounded by the receive window, so 32 bits of offset serve both; bytes
//! more than `u32::MAX` beyond the left edge are ignored.
//!
//! SACK blocks (RFC 2018) come from the runs above the left edge, the most
//! recently changed first: the first block is the one holding the segment
//! that triggered the ACK, as §4 requires.

use core::fmt;
use mptfo_proto::seq::{DataSeq, SubflowSeq};

/// Most contiguous runs an [`Assembler`] tracks.
pub const MAX_RUNS: usize = 16;

/// Most SACK blocks a TCP header can carry (4 without timestamps, 3 with).
pub const MAX_SACK_BLOCKS: usize = 4;

/// A range could not be recorded: it would need more than [`MAX_RUNS`]
/// runs. Nothing was changed; drop the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyHoles;

impl fmt::Display for TooManyHoles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "out-of-order range would exceed {MAX_RUNS} runs")
    }
}

impl std::error::Error for TooManyHoles {}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Run {
    start: u32,
    end: u32,
    /// When the run last grew (for SACK block order).
    stamp: u64,
}

/// Up to [`MAX_SACK_BLOCKS`] `(start, end)` ranges, end exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SackBlocks<T> {
    blocks: [(T, T); MAX_SACK_BLOCKS],
    len: usize,
}

impl<T: Copy + Default> SackBlocks<T> {
    fn new() -> Self {
        SackBlocks {
            blocks: [(T::default(), T::default()); MAX_SACK_BLOCKS],
            len: 0,
        }
    }

    fn push(&mut self, block: (T, T)) {
        if self.len < MAX_SACK_BLOCKS {
            self.blocks[self.len] = block;
            self.len += 1;
        }
    }

    /// The blocks, most recent first.
    pub fn as_slice(&self) -> &[(T, T)] {
        &self.blocks[..self.len]
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no block.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Iterate over the blocks, most recent first.
    pub fn iter(&self) -> impl Iterator<Item = (T, T)> + '_ {
        self.as_slice().iter().copied()
    }
}

/// Received ranges relative to a left edge at offset 0.
#[derive(Clone, Debug, Default)]
pub struct Assembler {
    runs: [Run; MAX_RUNS],
    count: usize,
    clock: u64,
}

impl Assembler {
    /// Nothing received.
    pub fn new() -> Assembler {
        Assembler::default()
    }

    /// Whether no range is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Number of runs held.
    pub fn run_count(&self) -> usize {
        self.count
    }

    /// The runs as `(start, end)` offsets, end exclusive, ascending.
    pub fn runs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.runs[..self.count]
            .iter()
            .map(|r| (r.start as usize, r.end as usize))
    }

    /// Whether byte `offset` has arrived.
    pub fn contains(&self, offset: usize) -> bool {
        self.runs().any(|(s, e)| (s..e).contains(&offset))
    }

    /// Record that `[offset, offset + len)` arrived. Overlaps and
    /// duplicates are fine. Fails, changing nothing, if the result would
    /// need more than [`MAX_RUNS`] runs. Bytes past `u32::MAX` are ignored.
    pub fn add(&mut self, offset: usize, len: usize) -> Result<(), TooManyHoles> {
        let cap = u32::MAX as usize;
        let start = offset.min(cap) as u32;
        let end = offset.saturating_add(len).min(cap) as u32;
        if start >= end {
            return Ok(());
        }
        let runs = &self.runs[..self.count];
        // Runs [i, j) touch or overlap the new range and merge with it.
        let i = runs.partition_point(|r| r.end < start);
        let j = runs.partition_point(|r| r.start <= end);
        let new_count = self.count - (j - i) + 1;
        if new_count > MAX_RUNS {
            return Err(TooManyHoles);
        }
        let merged_start = if i < j {
            start.min(runs[i].start)
        } else {
            start
        };
        let merged_end = if i < j { end.max(runs[j - 1].end) } else { end };
        self.clock += 1;
        let merged = Run {
            start: merged_start,
            end: merged_end,
            stamp: self.clock,
        };
        if j == i {
            // Insert: shift [i, count) right by one.
            self.runs.copy_within(i..self.count, i + 1);
        } else if j > i + 1 {
            // Merge several: shift [j, count) left.
            self.runs.copy_within(j..self.count, i + 1);
        }
        self.runs[i] = merged;
        self.count = new_count;
        Ok(())
    }

    /// Bytes contiguous from the left edge, without consuming them.
    pub fn peek_front(&self) -> usize {
        match self.runs[..self.count].first() {
            Some(r) if r.start == 0 => r.end as usize,
            _ => 0,
        }
    }

    /// Consume the bytes contiguous from the left edge: the left edge moves
    /// past them and their count is returned (0 if there is a hole at the
    /// left edge).
    pub fn remove_front(&mut self) -> usize {
        let n = self.peek_front();
        if n == 0 {
            return 0;
        }
        self.runs.copy_within(1..self.count, 0);
        self.count -= 1;
        let shift = n as u32;
        for r in &mut self.runs[..self.count] {
            r.start -= shift;
            r.end -= shift;
        }
        n
    }

    /// Move the left edge forward by `n` bytes whatever has arrived (the
    /// bytes were obtained otherwise, or are abandoned); ranges before the
    /// new edge are forgotten.
    pub fn advance(&mut self, n: usize) {
        let shift = n.min(u32::MAX as usize) as u32;
        let mut out = 0;
        for k in 0..self.count {
            let r = self.runs[k];
            if r.end <= shift {
                continue;
            }
            self.runs[out] = Run {
                start: r.start.saturating_sub(shift),
                end: r.end - shift,
                stamp: r.stamp,
            };
            out += 1;
        }
        self.count = out;
    }

    /// Forget every range.
    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// SACK blocks as offsets: the runs not at the left edge, most recently
    /// changed first, at most `max` (capped at [`MAX_SACK_BLOCKS`]).
    pub fn sack_blocks(&self, max: usize) -> SackBlocks<usize> {
        let mut order: [usize; MAX_RUNS] = [0; MAX_RUNS];
        let mut n = 0;
        for (k, r) in self.runs[..self.count].iter().enumerate() {
            if r.start > 0 {
                order[n] = k;
                n += 1;
            }
        }
        let order = &mut order[..n];
        order.sort_unstable_by_key(|&k| core::cmp::Reverse(self.runs[k].stamp));
        let mut out = SackBlocks::new();
        for &k in order.iter().take(max.min(MAX_SACK_BLOCKS)) {
            let r = self.runs[k];
            out.push((r.start as usize, r.end as usize));
        }
        out
    }
}

/// A sequence space an [`Assembler`] can be anchored in.
pub trait SeqNum: Copy + Default + PartialEq + fmt::Debug {
    /// Signed distance from `base` to `self` (modular).
    fn offset_from(self, base: Self) -> i64;
    /// `self + n` (modular).
    fn plus(self, n: usize) -> Self;
}

impl SeqNum for SubflowSeq {
    #[inline]
    fn offset_from(self, base: Self) -> i64 {
        i64::from(self.diff(base))
    }
    #[inline]
    fn plus(self, n: usize) -> Self {
        self + n
    }
}

impl SeqNum for DataSeq {
    #[inline]
    fn offset_from(self, base: Self) -> i64 {
        self.diff(base)
    }
    #[inline]
    fn plus(self, n: usize) -> Self {
        self + n
    }
}

/// An [`Assembler`] whose left edge is a sequence number.
#[derive(Clone, Debug)]
pub struct SeqAssembler<S: SeqNum> {
    left: S,
    inner: Assembler,
}

/// Reassembly bookkeeping in a subflow's 32-bit sequence space.
pub type SubflowAssembler = SeqAssembler<SubflowSeq>;
/// Reassembly bookkeeping in the MPTCP 64-bit data sequence space.
pub type DataAssembler = SeqAssembler<DataSeq>;

impl<S: SeqNum> SeqAssembler<S> {
    /// Nothing received; the next expected byte is `left`.
    pub fn new(left: S) -> Self {
        SeqAssembler {
            left,
            inner: Assembler::new(),
        }
    }

    /// The next expected sequence number (RCV.NXT / the data ACK).
    pub fn left_edge(&self) -> S {
        self.left
    }

    /// The offset-level assembler.
    pub fn inner(&self) -> &Assembler {
        &self.inner
    }

    /// Whether nothing beyond the left edge is held.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Record that `len` bytes starting at `seq` arrived. The part before the
    /// left edge (a retransmission) is ignored.
    pub fn add(&mut self, seq: S, len: usize) -> Result<(), TooManyHoles> {
        let d = seq.offset_from(self.left);
        let (offset, len) = if d < 0 {
            let old = d.unsigned_abs().min(usize::MAX as u64) as usize;
            if len <= old {
                return Ok(());
            }
            (0, len - old)
        } else {
            (usize::try_from(d).unwrap_or(usize::MAX), len)
        };
        self.inner.add(offset, len)
    }

    /// Consume the bytes now contiguous from the left edge; returns how
    /// many, and the left edge moves past them.
    pub fn remove_front(&mut self) -> usize {
        let n = self.inner.remove_front();
        self.left = self.left.plus(n);
        n
    }

    /// Bytes contiguous from the left edge, without consuming them.
    pub fn peek_front(&self) -> usize {
        self.inner.peek_front()
    }

    /// Move the left edge forward by `n` whatever has arrived.
    pub fn advance(&mut self, n: usize) {
        self.inner.advance(n);
        self.left = self.left.plus(n);
    }

    /// Restart at a new left edge with nothing held.
    pub fn reset(&mut self, left: S) {
        self.left = left;
        self.inner.clear();
    }

    /// Ranges held beyond the left edge, as `(start, end)` sequence numbers.
    pub fn ranges(&self) -> impl Iterator<Item = (S, S)> + '_ {
        self.inner
            .runs()
            .map(|(s, e)| (self.left.plus(s), self.left.plus(e)))
    }

    /// SACK blocks (left edge, right edge) in sequence numbers, most recent
    /// first, at most `max`.
    pub fn sack_blocks(&self, max: usize) -> SackBlocks<S> {
        let mut out = SackBlocks::new();
        for (s, e) in self.inner.sack_blocks(max).iter() {
            out.push((self.left.plus(s), self.left.plus(e)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn runs(a: &Assembler) -> Vec<(usize, usize)> {
        a.runs().collect()
    }

    #[test]
    fn in_order_and_out_of_order() {
        let mut a = Assembler::new();
        a.add(0, 10).unwrap();
        assert_eq!(a.remove_front(), 10);
        assert_eq!(a.remove_front(), 0);
        a.add(20, 5).unwrap();
        a.add(10, 5).unwrap();
        assert_eq!(runs(&a), vec![(10, 15), (20, 25)]);
        assert_eq!(a.remove_front(), 0);
        a.add(15, 5).unwrap(); // fills the hole between the runs
        assert_eq!(runs(&a), vec![(10, 25)]);
        a.add(0, 10).unwrap();
        assert_eq!(a.peek_front(), 25);
        assert_eq!(a.remove_front(), 25);
        assert!(a.is_empty());
    }

    #[test]
    fn overlaps_and_duplicates() {
        let mut a = Assembler::new();
        a.add(10, 10).unwrap();
        a.add(12, 3).unwrap();
        a.add(5, 10).unwrap();
        a.add(18, 10).unwrap();
        assert_eq!(runs(&a), vec![(5, 28)]);
        a.add(40, 0).unwrap();
        assert_eq!(a.run_count(), 1);
        a.add(30, 5).unwrap();
        a.add(50, 5).unwrap();
        a.add(29, 30).unwrap(); // swallows two runs, touches none before
        assert_eq!(runs(&a), vec![(5, 28), (29, 59)]);
        assert!(a.contains(5) && !a.contains(28) && a.contains(58));
    }

    #[test]
    fn too_many_holes_changes_nothing() {
        let mut a = Assembler::new();
        for k in 0..MAX_RUNS {
            a.add(10 + 10 * k, 5).unwrap();
        }
        let before = runs(&a);
        assert_eq!(a.add(1000, 1), Err(TooManyHoles));
        assert_eq!(a.add(0, 1), Err(TooManyHoles));
        assert_eq!(runs(&a), before);
        // Filling a hole (fewer runs) and extending a run still work.
        a.add(15, 5).unwrap();
        assert_eq!(a.run_count(), MAX_RUNS - 1);
        a.add(1000, 1).unwrap();
        a.add(1001, 1).unwrap();
        assert_eq!(a.run_count(), MAX_RUNS);
        assert_eq!(
            TooManyHoles.to_string(),
            "out-of-order range would exceed 16 runs"
        );
    }

    #[test]
    fn sack_blocks_most_recent_first() {
        let mut a = Assembler::new();
        a.add(10, 5).unwrap();
        a.add(30, 5).unwrap();
        a.add(50, 5).unwrap();
        a.add(70, 5).unwrap();
        a.add(90, 5).unwrap();
        a.add(31, 10).unwrap(); // grows (30, 35) to (30, 41): now the newest
        let b = a.sack_blocks(4);
        assert_eq!(b.as_slice(), &[(30, 41), (90, 95), (70, 75), (50, 55)]);
        assert_eq!(a.sack_blocks(3).len(), 3);
        assert_eq!(a.sack_blocks(9).len(), 4);
        // A run at the left edge is not a SACK block (it is acknowledged).
        a.add(0, 10).unwrap();
        let b = a.sack_blocks(4);
        assert_eq!(b.iter().next(), Some((30, 41)));
        assert!(b.iter().all(|(s, _)| s > 0));
    }

    #[test]
    fn advance_forgets_old_ranges() {
        let mut a = Assembler::new();
        a.add(5, 5).unwrap();
        a.add(20, 10).unwrap();
        a.advance(25);
        assert_eq!(runs(&a), vec![(0, 5)]);
        assert_eq!(a.remove_front(), 5);
        a.add(3, 1).unwrap();
        a.clear();
        assert!(a.is_empty());
    }

    #[test]
    fn huge_offsets_are_clipped() {
        let mut a = Assembler::new();
        a.add(usize::MAX - 1, 100).unwrap();
        assert!(a.is_empty());
        a.add(u32::MAX as usize - 10, 100).unwrap();
        assert_eq!(runs(&a), vec![(u32::MAX as usize - 10, u32::MAX as usize)]);
    }

    #[test]
    fn subflow_assembler_wraps() {
        let left = SubflowSeq(u32::MAX - 99);
        let mut a = SubflowAssembler::new(left);
        a.add(left + 200, 50).unwrap(); // past the wrap
        a.add(left - 10, 20).unwrap(); // partly old: trims to [left, left+10)
        a.add(left - 30, 20).unwrap(); // wholly old: ignored
        let r: Vec<_> = a.ranges().collect();
        assert_eq!(
            r,
            vec![(left, left + 10), (SubflowSeq(100), SubflowSeq(150))]
        );
        assert_eq!(
            a.sack_blocks(4).as_slice(),
            &[(SubflowSeq(100), SubflowSeq(150))]
        );
        assert_eq!(a.remove_front(), 10);
        assert_eq!(a.left_edge(), left + 10);
        a.add(left + 10, 190).unwrap();
        assert_eq!(a.peek_front(), 240);
        assert_eq!(a.remove_front(), 240);
        assert_eq!(a.left_edge(), SubflowSeq(150));
        assert!(a.is_empty());
        a.advance(5);
        assert_eq!(a.left_edge(), SubflowSeq(155));
        a.reset(SubflowSeq(7));
        assert_eq!(a.left_edge(), SubflowSeq(7));
    }

    #[test]
    fn data_assembler_64_bit() {
        let left = DataSeq(u64::MAX - 4);
        let mut a = DataAssembler::new(left);
        a.add(DataSeq(10), 10).unwrap();
        assert_eq!(a.inner().runs().collect::<Vec<_>>(), vec![(15, 25)]);
        a.add(left, 15).unwrap();
        assert_eq!(a.remove_front(), 25);
        assert_eq!(a.left_edge(), DataSeq(20));
        // Far beyond any window: ignored rather than wrapped.
        a.add(DataSeq(20 + (1 << 40)), 10).unwrap();
        assert!(a.is_empty());
    }

    /// Maximal runs of a bitmap.
    fn model_runs(bits: &[bool]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut k = 0;
        while k < bits.len() {
            if bits[k] {
                let s = k;
                while k < bits.len() && bits[k] {
                    k += 1;
                }
                out.push((s, k));
            } else {
                k += 1;
            }
        }
        out
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(usize, usize),
        RemoveFront,
        Advance(usize),
    }

    #[test]
    fn bitmap_model_reaches_run_limit() {
        // Random small segments over a wide range: the run limit is hit, and
        // a refused addition changes nothing.
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = proptest::collection::vec((0usize..350, 1usize..8), 100..200);
        let mut refused = 0;
        for _ in 0..32 {
            let adds = strategy.new_tree(&mut runner).unwrap().current();
            let mut a = Assembler::new();
            for (o, l) in adds {
                let before: Vec<_> = a.runs().collect();
                if a.add(o, l).is_err() {
                    refused += 1;
                    assert_eq!(a.runs().collect::<Vec<_>>(), before);
                }
                assert!(a.run_count() <= MAX_RUNS);
            }
        }
        assert!(refused > 0);
    }

    proptest! {
        #[test]
        fn matches_bitmap_model(ops in proptest::collection::vec(
            prop_oneof![
                6 => (0usize..350, 0usize..8).prop_map(|(o, l)| Op::Add(o, l)),
                4 => (0usize..300, 0usize..24).prop_map(|(o, l)| Op::Add(o, l)),
                1 => Just(Op::RemoveFront),
                1 => (0usize..40).prop_map(Op::Advance),
            ],
            1..200,
        )) {
            const N: usize = 400;
            let mut a = Assembler::new();
            let mut model = vec![false; N];
            for op in ops {
                match op {
                    Op::Add(o, l) => {
                        let mut next = model.clone();
                        for b in &mut next[o..o + l] {
                            *b = true;
                        }
                        let want_ok = model_runs(&next).len() <= MAX_RUNS;
                        let got = a.add(o, l);
                        prop_assert_eq!(got.is_ok(), want_ok);
                        if want_ok {
                            model = next;
                            // The run holding this segment leads the SACK blocks.
                            if l > 0 && a.peek_front() < o + l {
                                let first = a.sack_blocks(4).iter().next();
                                prop_assert!(matches!(first, Some((s, e)) if s <= o && o + l <= e));
                            }
                        }
                    }
                    Op::RemoveFront => {
                        let n = model.iter().take_while(|b| **b).count();
                        prop_assert_eq!(a.remove_front(), n);
                        model.drain(..n);
                        model.resize(N, false);
                    }
                    Op::Advance(n) => {
                        a.advance(n);
                        model.drain(..n);
                        model.resize(N, false);
                    }
                }
                let want = model_runs(&model);
                prop_assert_eq!(runs(&a), want.clone());
                prop_assert_eq!(a.peek_front(), model.iter().take_while(|b| **b).count());
                let sack = a.sack_blocks(4);
                prop_assert!(sack.len() <= 4);
                prop_assert_eq!(sack.len(), want.iter().filter(|r| r.0 > 0).count().min(4));
                for (s, e) in sack.iter() {
                    prop_assert!(s > 0);
                    prop_assert!(want.contains(&(s, e)));
                }
            }
        }

        #[test]
        fn seq_assembler_matches_offsets(base in any::<u32>(), adds in proptest::collection::vec((0usize..200, 1usize..30), 1..40)) {
            let mut s = SubflowAssembler::new(SubflowSeq(base));
            let mut d = DataAssembler::new(DataSeq(u64::from(base) << 32));
            let mut a = Assembler::new();
            for (o, l) in adds {
                let r = a.add(o, l);
                prop_assert_eq!(s.add(SubflowSeq(base) + o, l), r);
                prop_assert_eq!(d.add(DataSeq(u64::from(base) << 32) + o, l), r);
            }
            let n = a.remove_front();
            prop_assert_eq!(s.remove_front(), n);
            prop_assert_eq!(d.remove_front(), n);
            prop_assert_eq!(s.left_edge(), SubflowSeq(base) + n);
            let rs: Vec<(usize, usize)> = s.ranges().map(|(x, y)| (x - s.left_edge(), y - s.left_edge())).collect();
            prop_assert_eq!(rs, runs(&a));
        }
    }
}
