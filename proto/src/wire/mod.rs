//! Zero-copy views and representations of the headers mptfo handles.
//!
//! Owns: the byte layouts of Ethernet II, ARP (Ethernet/IPv4), IPv4, IPv6
//! (fixed header), ICMPv6 neighbour discovery and the TCP header, plus the
//! receive-path classifier ([`packet::classify`]). Does not own the meaning
//! of TCP options (see `crate::options`) or any connection state.
//!
//! Two levels per protocol, in the style of smoltcp:
//!
//! - a view (`EthernetFrame<T>`, `Ipv4Packet<T>`, `TcpPacket<T>`, ...) over any
//!   `T: AsRef<[u8]>` (add `AsMut<[u8]>` for setters). `new_checked` (or
//!   `check_len`) validates lengths, including the header-length fields, once;
//!   after that no accessor panics, whatever the bytes are.
//! - a `Repr` with `parse`, `buffer_len` and `emit`, the plain values a stack
//!   works with. Emitters write headers in place: they never copy a payload
//!   except [`TcpRepr::emit`], which exists for tests and small segments.
//!
//! Nothing here allocates.

use core::fmt;

pub mod arp;
pub mod ethernet;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod packet;
pub mod tcp;

pub use arp::{ArpOperation, ArpPacket, ArpRepr, ARP_ETHERNET_IPV4_LEN};
pub use ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr, ETHERNET_HEADER_LEN};
pub use icmpv6::{Icmpv6Packet, Icmpv6Repr, NdFlags, ICMPV6_ND_HEADER_LEN};
pub use ipv4::{Ipv4Packet, Ipv4Repr, IPV4_HEADER_LEN};
pub use ipv6::{Ipv6Packet, Ipv6Repr, IPV6_HEADER_LEN};
pub use packet::{classify, Classified, FourTuple, TcpSegment};
pub use tcp::{TcpFlags, TcpPacket, TcpRepr, TCP_HEADER_LEN, TCP_MAX_OPTIONS_LEN};

/// A byte range of a fixed-position header field.
pub(crate) type Field = core::ops::Range<usize>;

/// The bytes from a fixed offset to the end of a header or packet.
pub(crate) type Rest = core::ops::RangeFrom<usize>;

/// An IP protocol number (IPv4 protocol field, IPv6 next header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    /// ICMP for IPv4 (1).
    Icmp,
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMPv6 (58).
    Icmpv6,
    /// Any other protocol number.
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(value: u8) -> IpProtocol {
        match value {
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            58 => IpProtocol::Icmpv6,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(value: IpProtocol) -> u8 {
        match value {
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Icmpv6 => 58,
            IpProtocol::Unknown(other) => other,
        }
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpProtocol::Icmp => write!(f, "ICMP"),
            IpProtocol::Tcp => write!(f, "TCP"),
            IpProtocol::Udp => write!(f, "UDP"),
            IpProtocol::Icmpv6 => write!(f, "ICMPv6"),
            IpProtocol::Unknown(n) => write!(f, "protocol {n}"),
        }
    }
}

/// Reads a big-endian u16 at `field` (two bytes). Callers have checked the length.
#[inline]
pub(crate) fn read_u16(data: &[u8], field: Field) -> u16 {
    let b = &data[field];
    u16::from_be_bytes([b[0], b[1]])
}

/// Reads a big-endian u32 at `field` (four bytes). Callers have checked the length.
#[inline]
pub(crate) fn read_u32(data: &[u8], field: Field) -> u32 {
    let b = &data[field];
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Writes a big-endian u16 at `field` (two bytes).
#[inline]
pub(crate) fn write_u16(data: &mut [u8], field: Field, value: u16) {
    data[field].copy_from_slice(&value.to_be_bytes());
}

/// Writes a big-endian u32 at `field` (four bytes).
#[inline]
pub(crate) fn write_u32(data: &mut [u8], field: Field, value: u32) {
    data[field].copy_from_slice(&value.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_protocol_round_trips() {
        for n in 0..=255u8 {
            assert_eq!(u8::from(IpProtocol::from(n)), n);
        }
        assert_eq!(IpProtocol::from(6), IpProtocol::Tcp);
        assert_eq!(IpProtocol::from(58), IpProtocol::Icmpv6);
    }
}
