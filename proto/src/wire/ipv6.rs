//! IPv6 fixed headers (RFC 8200 §3).
//!
//! Owns: the 40-byte fixed header. Extension headers are not walked: a next
//! header other than TCP or ICMPv6 is unsupported, which is what mptfo's
//! peers send on a direct link.

use core::net::Ipv6Addr;

use super::{read_u16, read_u32, write_u16, write_u32, Field, IpProtocol};
use crate::{Error, Result};

/// Length of the IPv6 fixed header.
pub const IPV6_HEADER_LEN: usize = 40;

mod field {
    use super::Field;
    /// Version (4 bits), traffic class (8 bits), flow label (20 bits).
    pub const VER_TC_FLOW: Field = 0..4;
    pub const PAYLOAD_LEN: Field = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Field = 8..24;
    pub const DST_ADDR: Field = 24..40;
}

/// A view of an IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn ipv6_at(data: &[u8], f: Field) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&data[f]);
    Ipv6Addr::from(o)
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Ipv6Packet<T> {
        Ipv6Packet { buffer }
    }

    /// Wraps a buffer and checks its lengths.
    pub fn new_checked(buffer: T) -> Result<Ipv6Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds the fixed header and the payload length
    /// the header announces. The buffer may be longer (Ethernet padding).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < IPV6_HEADER_LEN {
            return Err(Error::Truncated);
        }
        if IPV6_HEADER_LEN + usize::from(self.payload_len()) > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version field (6 for IPv6).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// Traffic class (DSCP and ECN).
    pub fn traffic_class(&self) -> u8 {
        (read_u32(self.buffer.as_ref(), field::VER_TC_FLOW) >> 20) as u8
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::VER_TC_FLOW) & 0x000f_ffff
    }

    /// Payload length (everything after the fixed header).
    pub fn payload_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }

    /// Next header (protocol of the payload when there are no extension headers).
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::NEXT_HEADER])
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        ipv6_at(self.buffer.as_ref(), field::SRC_ADDR)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        ipv6_at(self.buffer.as_ref(), field::DST_ADDR)
    }

    /// The payload, as long as the payload length says (padding excluded).
    pub fn payload(&self) -> &[u8] {
        let end = IPV6_HEADER_LEN + usize::from(self.payload_len());
        &self.buffer.as_ref()[IPV6_HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets version 6, the traffic class and the flow label (one word).
    pub fn set_version_class_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let word = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        write_u32(self.buffer.as_mut(), field::VER_TC_FLOW, word);
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, len: u16) {
        write_u16(self.buffer.as_mut(), field::PAYLOAD_LEN, len);
    }

    /// Sets the next header.
    pub fn set_next_header(&mut self, next_header: IpProtocol) {
        self.buffer.as_mut()[field::NEXT_HEADER] = next_header.into();
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = hop_limit;
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.octets());
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = IPV6_HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[IPV6_HEADER_LEN..end]
    }
}

/// The values of an IPv6 fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Protocol of the payload: TCP or ICMPv6 after a parse.
    pub next_header: IpProtocol,
    /// Payload length in bytes.
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class (DSCP and ECN).
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Reads a packet: lengths and version checked; a next header other than
    /// TCP or ICMPv6 (extension headers included) is `Unsupported`. IPv6 has
    /// no header checksum.
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv6Packet<T>) -> Result<Ipv6Repr> {
        packet.check_len()?;
        if packet.version() != 6 {
            return Err(Error::Malformed("IPv6: version is not 6"));
        }
        let next_header = packet.next_header();
        if !matches!(next_header, IpProtocol::Tcp | IpProtocol::Icmpv6) {
            return Err(Error::Unsupported("IPv6: next header is not TCP or ICMPv6"));
        }
        Ok(Ipv6Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header,
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
        })
    }

    /// Bytes of the header (40).
    pub const fn buffer_len(&self) -> usize {
        IPV6_HEADER_LEN
    }

    /// Writes the fixed header into the first 40 bytes of the view's buffer;
    /// the payload is not touched.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv6Packet<T>) -> Result<()> {
        let payload_len = u16::try_from(self.payload_len)
            .map_err(|_| Error::Malformed("IPv6: payload longer than 65535 bytes"))?;
        if packet.buffer.as_ref().len() < IPV6_HEADER_LEN {
            return Err(Error::BufferTooSmall);
        }
        packet.set_version_class_flow(self.traffic_class, self.flow_label);
        packet.set_payload_len(payload_len);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // IPv6 header of a TCP SYN fd00::1 -> fd00::2 (traffic class 0, flow label
    // 0x5a3c1, payload 40 bytes, hop limit 64); crafted, dissected by tshark.
    static HEADER_BYTES: [u8; 40] = [
        0x60, 0x05, 0xa3, 0xc1, 0x00, 0x28, 0x06, 0x40, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    ];

    fn repr() -> Ipv6Repr {
        Ipv6Repr {
            src_addr: "fd00::1".parse().unwrap(),
            dst_addr: "fd00::2".parse().unwrap(),
            next_header: IpProtocol::Tcp,
            payload_len: 40,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0x5a3c1,
        }
    }

    fn whole_packet() -> [u8; 80] {
        let mut buf = [0u8; 80];
        buf[..40].copy_from_slice(&HEADER_BYTES);
        buf
    }

    #[test]
    fn test_parse() {
        let buf = whole_packet();
        let packet = Ipv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Ipv6Repr::parse(&packet).unwrap(), repr());
        assert_eq!(packet.payload().len(), 40);
    }

    #[test]
    fn test_emit() {
        let mut buf = [0xffu8; 80];
        buf[40..].fill(0);
        repr()
            .emit(&mut Ipv6Packet::new_unchecked(&mut buf[..]))
            .unwrap();
        assert_eq!(buf, whole_packet());
        let mut short = [0u8; 39];
        assert_eq!(
            repr().emit(&mut Ipv6Packet::new_unchecked(&mut short[..])),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn test_truncated() {
        let buf = whole_packet();
        for len in 0..buf.len() {
            assert_eq!(Ipv6Packet::new_checked(&buf[..len]), Err(Error::Truncated));
        }
    }

    #[test]
    fn test_unsupported_next_header_and_version() {
        let mut buf = whole_packet();
        buf[6] = 0; // hop-by-hop options
        let packet = Ipv6Packet::new_checked(&buf[..]).unwrap();
        assert!(matches!(
            Ipv6Repr::parse(&packet),
            Err(Error::Unsupported(_))
        ));
        let mut buf = whole_packet();
        buf[0] = 0x40;
        let packet = Ipv6Packet::new_checked(&buf[..]).unwrap();
        assert!(matches!(Ipv6Repr::parse(&packet), Err(Error::Malformed(_))));
    }
}
