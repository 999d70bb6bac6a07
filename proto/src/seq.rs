//! Sequence numbers with wrapping comparison.
//!
//! Two distinct types so that a subflow (TCP) sequence number can never be
//! mixed with a 64-bit MPTCP data sequence number by mistake: they share no
//! arithmetic. Comparison follows RFC 9293 §3.4 (modular, half the space).

use core::cmp::Ordering;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A 32-bit TCP (subflow) sequence number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubflowSeq(pub u32);

/// A 64-bit MPTCP data sequence number (DSN) or data ACK.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DataSeq(pub u64);

impl SubflowSeq {
    /// Distance from `earlier` to `self`, as a signed count (wrapping).
    #[inline]
    pub fn diff(self, earlier: SubflowSeq) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }
    /// Maximum in modular order.
    #[inline]
    pub fn max(self, other: SubflowSeq) -> SubflowSeq {
        if self.diff(other) >= 0 {
            self
        } else {
            other
        }
    }
    /// Minimum in modular order.
    #[inline]
    pub fn min(self, other: SubflowSeq) -> SubflowSeq {
        if self.diff(other) <= 0 {
            self
        } else {
            other
        }
    }
    /// `start <= self < end` in modular order.
    #[inline]
    pub fn in_range(self, start: SubflowSeq, end: SubflowSeq) -> bool {
        self.0.wrapping_sub(start.0) < end.0.wrapping_sub(start.0)
    }
}

impl DataSeq {
    /// Distance from `earlier` to `self`, as a signed count (wrapping).
    #[inline]
    pub fn diff(self, earlier: DataSeq) -> i64 {
        self.0.wrapping_sub(earlier.0) as i64
    }
    /// The low 32 bits, as carried by a 32-bit DSS field.
    #[inline]
    pub fn low32(self) -> u32 {
        self.0 as u32
    }
    /// Expand a 32-bit DSN or data ACK received on the wire to 64 bits, next to
    /// `reference` (the current 64-bit value in that space). RFC 8684 §3.3.1:
    /// the upper bits are implied; this takes the candidate nearest to the
    /// reference, which wraps forward or backward across a 2^32 boundary.
    #[inline]
    pub fn expand(reference: DataSeq, low: u32) -> DataSeq {
        let delta = low.wrapping_sub(reference.0 as u32) as i32;
        DataSeq(reference.0.wrapping_add(delta as i64 as u64))
    }
    /// Maximum in modular order.
    #[inline]
    pub fn max(self, other: DataSeq) -> DataSeq {
        if self.diff(other) >= 0 {
            self
        } else {
            other
        }
    }
    /// `start <= self < end` in modular order.
    #[inline]
    pub fn in_range(self, start: DataSeq, end: DataSeq) -> bool {
        self.0.wrapping_sub(start.0) < end.0.wrapping_sub(start.0)
    }
}

macro_rules! seq_ops {
    ($t:ident, $raw:ty, $signed:ty) => {
        impl Add<usize> for $t {
            type Output = $t;
            #[inline]
            fn add(self, rhs: usize) -> $t {
                $t(self.0.wrapping_add(rhs as $raw))
            }
        }
        impl AddAssign<usize> for $t {
            #[inline]
            fn add_assign(&mut self, rhs: usize) {
                self.0 = self.0.wrapping_add(rhs as $raw);
            }
        }
        impl Sub<usize> for $t {
            type Output = $t;
            #[inline]
            fn sub(self, rhs: usize) -> $t {
                $t(self.0.wrapping_sub(rhs as $raw))
            }
        }
        /// Distance in bytes; panics in debug builds only if negative, so
        /// callers compare first.
        impl Sub<$t> for $t {
            type Output = usize;
            #[inline]
            fn sub(self, rhs: $t) -> usize {
                let d = self.0.wrapping_sub(rhs.0) as $signed;
                debug_assert!(d >= 0, "sequence distance is negative");
                d.max(0) as usize
            }
        }
        impl PartialOrd for $t {
            #[inline]
            fn partial_cmp(&self, other: &$t) -> Option<Ordering> {
                Some((self.0.wrapping_sub(other.0) as $signed).cmp(&0))
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($t), self.0)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}
seq_ops!(SubflowSeq, u32, i32);
seq_ops!(DataSeq, u64, i64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subflow_wraps() {
        let a = SubflowSeq(u32::MAX - 1);
        let b = a + 4;
        assert_eq!(b.0, 2);
        assert!(b > a);
        assert!(a < b);
        assert_eq!(b - a, 4);
        assert_eq!(a.diff(b), -4);
        assert!(SubflowSeq(0).in_range(a, b));
        assert!(!b.in_range(a, b));
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
    }

    #[test]
    fn data_seq_expand_forward_and_backward() {
        let r = DataSeq(0x0000_0001_ffff_fff0);
        assert_eq!(DataSeq::expand(r, 0x10), DataSeq(0x0000_0002_0000_0010));
        let r = DataSeq(0x0000_0002_0000_0010);
        assert_eq!(
            DataSeq::expand(r, 0xffff_fff0),
            DataSeq(0x0000_0001_ffff_fff0)
        );
        let r = DataSeq(0x9b0a_5cab_4a72_5bcd);
        assert_eq!(
            DataSeq::expand(r, 0x4a72_5bf5),
            DataSeq(0x9b0a_5cab_4a72_5bf5)
        );
        assert_eq!(DataSeq(0xf5a101d3d29d6f73).low32(), 0xd29d6f73);
    }

    #[test]
    fn data_seq_order_wraps() {
        let a = DataSeq(u64::MAX);
        let b = a + 1;
        assert_eq!(b, DataSeq(0));
        assert!(b > a);
        assert_eq!(b - a, 1);
        assert!(a.in_range(a, b));
    }
}
