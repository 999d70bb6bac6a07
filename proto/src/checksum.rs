//! Internet checksums (RFC 1071) and what a NIC can do for us.
//!
//! Owns: the ones-complement sum, the IPv4/IPv6 pseudo-headers of TCP, the
//! MPTCP DSS checksum (RFC 8684 §3.3.1), incremental update (RFC 1624) and the
//! checksum-offload capabilities a port advertises. Knows nothing of headers'
//! layouts beyond the pseudo-headers.

use core::net::{Ipv4Addr, Ipv6Addr};

/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;

/// A running 16-bit ones-complement sum, not yet folded or complemented.
///
/// Sums of separate byte ranges combine with [`Sum::add`] as long as every
/// range but the last has even length (RFC 1071 §2(B)); [`Sum::add_bytes_at`]
/// handles a range that starts at an odd offset of the whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sum(u64);

impl Sum {
    /// The empty sum.
    pub const ZERO: Sum = Sum(0);

    /// Sum of `data` taken as big-endian 16-bit words, an odd last byte
    /// padded with zero.
    #[inline]
    pub fn of(data: &[u8]) -> Sum {
        let mut acc: u64 = 0;
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            let hi = u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64;
            let lo = u32::from_be_bytes([c[4], c[5], c[6], c[7]]) as u64;
            acc += hi + lo;
        }
        let rest = chunks.remainder();
        let mut words = rest.chunks_exact(2);
        for w in &mut words {
            acc += u16::from_be_bytes([w[0], w[1]]) as u64;
        }
        if let [last] = words.remainder() {
            acc += (*last as u64) << 8;
        }
        Sum(acc)
    }

    /// Adds `data` that starts at byte offset `offset` of the whole range
    /// being summed (an odd offset swaps the bytes of its contribution).
    #[inline]
    pub fn add_bytes_at(self, data: &[u8], offset: usize) -> Sum {
        let s = Sum::of(data).fold();
        let s = if offset % 2 == 1 { s.rotate_left(8) } else { s };
        Sum(self.0 + s as u64)
    }

    /// Adds another sum.
    #[inline]
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, other: Sum) -> Sum {
        Sum(self.0 + other.0)
    }

    /// Adds one 16-bit word.
    #[inline]
    pub fn add_u16(self, w: u16) -> Sum {
        Sum(self.0 + w as u64)
    }

    /// Adds a 32-bit value as two words.
    #[inline]
    pub fn add_u32(self, w: u32) -> Sum {
        Sum(self.0 + (w >> 16) as u64 + (w & 0xffff) as u64)
    }

    /// Adds a 64-bit value as four words.
    #[inline]
    pub fn add_u64(self, w: u64) -> Sum {
        self.add_u32((w >> 32) as u32).add_u32(w as u32)
    }

    /// The folded 16-bit ones-complement sum.
    #[inline]
    pub fn fold(self) -> u16 {
        let mut s = self.0;
        while s >> 16 != 0 {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    /// The checksum to put on the wire: the complement of the folded sum.
    #[inline]
    pub fn finish(self) -> u16 {
        !self.fold()
    }

    /// True when a range that includes its own checksum field verifies.
    #[inline]
    pub fn verifies(self) -> bool {
        self.fold() == 0xffff
    }
}

/// The checksum of `data` (e.g. an IPv4 header with its checksum field zero).
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    Sum::of(data).finish()
}

/// Sum of the IPv4 pseudo-header of an upper-layer packet (RFC 9293 §3.1).
#[inline]
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u32) -> Sum {
    Sum::ZERO
        .add_u32(u32::from(src))
        .add_u32(u32::from(dst))
        .add_u16(protocol as u16)
        .add_u32(length)
}

/// Sum of the IPv6 pseudo-header of an upper-layer packet (RFC 8200 §8.1).
#[inline]
pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, length: u32) -> Sum {
    Sum::of(&src.octets())
        .add(Sum::of(&dst.octets()))
        .add_u32(length)
        .add_u16(next_header as u16)
}

/// Updates checksum `old_check` after a 16-bit field changed from `old` to
/// `new` (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
#[inline]
pub fn update_u16(old_check: u16, old: u16, new: u16) -> u16 {
    Sum::ZERO
        .add_u16(!old_check)
        .add_u16(!old)
        .add_u16(new)
        .finish()
}

/// Updates checksum `old_check` after a 32-bit field changed.
#[inline]
pub fn update_u32(old_check: u16, old: u32, new: u32) -> u16 {
    let c = update_u16(old_check, (old >> 16) as u16, (new >> 16) as u16);
    update_u16(c, old as u16, new as u16)
}

/// The MPTCP DSS checksum (RFC 8684 §3.3.1): over the pseudo-header
/// `DSN(64) ‖ relative SSN(32) ‖ data-level length(16) ‖ zero(16)` and the
/// mapped payload. `payload` is the sum of the mapped bytes in order; the
/// data-level length counts a DATA_FIN octet when one is mapped.
#[inline]
pub fn dss_checksum(dsn: u64, ssn: u32, data_len: u16, payload: Sum) -> u16 {
    Sum::ZERO
        .add_u64(dsn)
        .add_u32(ssn)
        .add_u16(data_len)
        .add(payload)
        .finish()
}

/// True when a received DSS checksum verifies (the field's value goes in the
/// pseudo-header's zero word; the folded sum must be all ones).
#[inline]
pub fn dss_checksum_verifies(dsn: u64, ssn: u32, data_len: u16, csum: u16, payload: Sum) -> bool {
    Sum::ZERO
        .add_u64(dsn)
        .add_u32(ssn)
        .add_u16(data_len)
        .add_u16(csum)
        .add(payload)
        .verifies()
}

/// Who computes a checksum of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Offload {
    /// The stack computes it on transmit and verifies it on receive.
    #[default]
    None,
    /// The NIC verified it on receive (the stack skips verification) and
    /// fills it in on transmit.
    Both,
    /// The NIC verifies on receive only.
    Rx,
    /// The NIC fills it in on transmit only.
    Tx,
}

impl Offload {
    /// The stack must verify received checksums.
    #[inline]
    pub fn verify_rx(self) -> bool {
        matches!(self, Offload::None | Offload::Tx)
    }
    /// The stack must compute checksums of sent packets.
    #[inline]
    pub fn compute_tx(self) -> bool {
        matches!(self, Offload::None | Offload::Rx)
    }
}

/// Checksum-offload capabilities of a port, passed to every parse and emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChecksumCaps {
    /// IPv4 header checksum.
    pub ipv4: Offload,
    /// TCP checksum (over IPv4 and IPv6).
    pub tcp: Offload,
}

impl ChecksumCaps {
    /// The stack does everything itself (no offload).
    pub const SOFTWARE: ChecksumCaps = ChecksumCaps {
        ipv4: Offload::None,
        tcp: Offload::None,
    };
    /// The NIC does everything (rx verified, tx filled in).
    pub const OFFLOADED: ChecksumCaps = ChecksumCaps {
        ipv4: Offload::Both,
        tcp: Offload::Both,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 -> sum ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(Sum::of(&data).fold(), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_and_split_sums_agree() {
        let data: Vec<u8> = (0u8..=250).collect();
        let whole = Sum::of(&data).fold();
        for split in 0..data.len() {
            let s = Sum::of(&data[..split]).add_bytes_at(&data[split..], split);
            assert_eq!(s.fold(), whole, "split at {split}");
        }
    }

    #[test]
    fn ipv4_header_checksum_of_real_packet() {
        // IPv4 header of a Linux SYN (10.0.1.1 -> 10.0.1.2, captured).
        let hdr = [
            0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 0xac, 0x10,
            0x0a, 0x63, 0xac, 0x10, 0x0a, 0x0c,
        ];
        // Classic textbook example (Wikipedia IPv4 header checksum): b1e6.
        assert_eq!(checksum(&hdr), 0xb1e6);
    }

    #[test]
    fn incremental_update_matches_recompute() {
        let mut hdr = [
            0x45u8, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0xb1, 0xe6, 0xac, 0x10,
            0x0a, 0x63, 0xac, 0x10, 0x0a, 0x0c,
        ];
        assert!(Sum::of(&hdr).verifies());
        // Decrement TTL 0x40 -> 0x3f in word 4 (ttl, proto).
        let c = update_u16(0xb1e6, 0x4006, 0x3f06);
        hdr[8] = 0x3f;
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        assert!(Sum::of(&hdr).verifies());
        let c2 = update_u32(c, 0xac100a0c, 0x0a000102);
        hdr[16..20].copy_from_slice(&[0x0a, 0x00, 0x01, 0x02]);
        hdr[10..12].copy_from_slice(&c2.to_be_bytes());
        assert!(Sum::of(&hdr).verifies());
    }

    #[test]
    fn dss_checksum_vectors() {
        // protocol.md §4: DSN 0xf5a101d3d29d6f73, SSN 1, len 5, "hello" -> 0x82a1.
        let c = dss_checksum(0xf5a101d3d29d6f73, 1, 5, Sum::of(b"hello"));
        assert_eq!(c, 0x82a1);
        assert!(dss_checksum_verifies(
            0xf5a101d3d29d6f73,
            1,
            5,
            c,
            Sum::of(b"hello")
        ));
        assert!(!dss_checksum_verifies(
            0xf5a101d3d29d6f73,
            1,
            5,
            c,
            Sum::of(b"hellp")
        ));
        // DATA_FIN only at DSN 0xf5a101d3d29d6f78, SSN 0, len 1 -> 0xc673.
        assert_eq!(dss_checksum(0xf5a101d3d29d6f78, 0, 1, Sum::ZERO), 0xc673);
    }

    #[test]
    fn offload_flags() {
        assert!(Offload::None.verify_rx() && Offload::None.compute_tx());
        assert!(!Offload::Both.verify_rx() && !Offload::Both.compute_tx());
        assert!(!Offload::Rx.verify_rx() && Offload::Rx.compute_tx());
        assert!(Offload::Tx.verify_rx() && !Offload::Tx.compute_tx());
    }
}
