//! IPv4 headers (RFC 791).
//!
//! Owns: the header layout and its checksum. Options are skipped on parse
//! (the payload starts after them) and never emitted; fragments are
//! reported as unsupported, since mptfo does not reassemble.

use core::net::Ipv4Addr;

use super::{read_u16, write_u16, Field, IpProtocol};
use crate::checksum::{self, ChecksumCaps, Sum};
use crate::{Error, Result};

/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;

mod field {
    use super::Field;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const TOTAL_LEN: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLAGS_FRAG: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
}

const FLAG_DONT_FRAG: u16 = 0x4000;
const FLAG_MORE_FRAGS: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Ipv4Packet<T> {
        Ipv4Packet { buffer }
    }

    /// Wraps a buffer and checks its lengths (see [`Ipv4Packet::check_len`]).
    pub fn new_checked(buffer: T) -> Result<Ipv4Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds the fixed header, that the header length
    /// (IHL) is at least 20 bytes and within the buffer, and that the total
    /// length covers the header and is within the buffer. The buffer may be
    /// longer than the total length (Ethernet padding).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < IPV4_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len();
        if header_len < IPV4_HEADER_LEN {
            return Err(Error::Malformed("IPv4: header length below 20 bytes"));
        }
        if header_len > len {
            return Err(Error::Truncated);
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len {
            return Err(Error::Malformed(
                "IPv4: total length shorter than the header",
            ));
        }
        if total_len > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version field (4 for IPv4).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Differentiated services code point.
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// Explicit congestion notification bits.
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// Total length of header and payload.
    pub fn total_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::TOTAL_LEN)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// The don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & FLAG_DONT_FRAG != 0
    }

    /// The more-fragments flag.
    pub fn more_frags(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & FLAG_MORE_FRAGS != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (read_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & FRAG_OFFSET_MASK) << 3
    }

    /// True for a fragment (more fragments follow, or a non-zero offset).
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload.
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// Header checksum as on the wire.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::SRC_ADDR];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::DST_ADDR];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// True when the header checksum (options included) verifies.
    pub fn verify_checksum(&self) -> bool {
        Sum::of(&self.buffer.as_ref()[..self.header_len()]).verifies()
    }

    /// Option bytes between the fixed header and the payload.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[IPV4_HEADER_LEN..self.header_len()]
    }

    /// The payload: from the end of the header to the total length (Ethernet
    /// padding excluded).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the version field.
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (version << 4);
    }

    /// Sets the header length in bytes (a multiple of 4, 20 to 60).
    pub fn set_header_len(&mut self, len: usize) {
        debug_assert!(len & 3 == 0 && (IPV4_HEADER_LEN..=60).contains(&len));
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) as u8 & 0x0f);
    }

    /// Sets the DSCP.
    pub fn set_dscp(&mut self, dscp: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0x03) | (dscp << 2);
    }

    /// Sets the ECN bits.
    pub fn set_ecn(&mut self, ecn: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0xfc) | (ecn & 0x03);
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, len: u16) {
        write_u16(self.buffer.as_mut(), field::TOTAL_LEN, len);
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, ident: u16) {
        write_u16(self.buffer.as_mut(), field::IDENT, ident);
    }

    /// Sets flags and fragment offset: DF as given, MF clear, offset zero.
    pub fn set_unfragmented(&mut self, dont_frag: bool) {
        let v = if dont_frag { FLAG_DONT_FRAG } else { 0 };
        write_u16(self.buffer.as_mut(), field::FLAGS_FRAG, v);
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    /// Sets the protocol of the payload.
    pub fn set_protocol(&mut self, protocol: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = protocol.into();
    }

    /// Sets the checksum field as is.
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.octets());
    }

    /// Computes the header checksum and stores it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let header_len = self.header_len();
        let c = checksum::checksum(&self.buffer.as_ref()[..header_len]);
        self.set_checksum(c);
    }

    /// The payload, mutable (up to the total length).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
    }
}

/// The values of an IPv4 header mptfo reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Protocol of the payload.
    pub protocol: IpProtocol,
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// Differentiated services code point (6 bits).
    pub dscp: u8,
    /// ECN bits (2 bits).
    pub ecn: u8,
    /// Identification.
    pub ident: u16,
    /// The don't-fragment flag.
    pub dont_frag: bool,
}

impl Ipv4Repr {
    /// Reads a packet. Checks the lengths and the version; verifies the
    /// header checksum when `caps.ipv4` says the stack must. Fragments are
    /// `Unsupported`. Options are skipped.
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv4Packet<T>, caps: &ChecksumCaps) -> Result<Ipv4Repr> {
        packet.check_len()?;
        if packet.version() != 4 {
            return Err(Error::Malformed("IPv4: version is not 4"));
        }
        if caps.ipv4.verify_rx() && !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        if packet.is_fragment() {
            return Err(Error::Unsupported("IPv4: fragment"));
        }
        Ok(Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: usize::from(packet.total_len()) - packet.header_len(),
            ttl: packet.ttl(),
            dscp: packet.dscp(),
            ecn: packet.ecn(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
        })
    }

    /// Bytes of the header this emits (20: never options).
    pub const fn buffer_len(&self) -> usize {
        IPV4_HEADER_LEN
    }

    /// Writes the header into the first 20 bytes of the view's buffer; the
    /// payload is not touched. The checksum is computed when `caps.ipv4` says
    /// the stack must, else left zero for the NIC.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Ipv4Packet<T>,
        caps: &ChecksumCaps,
    ) -> Result<()> {
        let total_len = IPV4_HEADER_LEN + self.payload_len;
        let total_len = u16::try_from(total_len)
            .map_err(|_| Error::Malformed("IPv4: payload longer than 65515 bytes"))?;
        if packet.buffer.as_ref().len() < IPV4_HEADER_LEN {
            return Err(Error::BufferTooSmall);
        }
        packet.set_version(4);
        packet.set_header_len(IPV4_HEADER_LEN);
        packet.set_dscp(self.dscp);
        packet.set_ecn(self.ecn);
        packet.set_total_len(total_len);
        packet.set_ident(self.ident);
        packet.set_unfragmented(self.dont_frag);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        if caps.ipv4.compute_tx() {
            packet.fill_checksum();
        } else {
            packet.set_checksum(0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // IPv4 header of frame 1 of tfo-syn-data.pcap (a SYN with 32 bytes of data),
    // followed by the first 4 bytes of its TCP header.
    static PACKET_BYTES: [u8; 24] = [
        0x45, 0x00, 0x00, 0x6c, 0x43, 0x65, 0x40, 0x00, 0x40, 0x06, 0xe1, 0x24, 0x0a, 0x00, 0x01,
        0x01, 0x0a, 0x00, 0x01, 0x02, 0x3f, 0x3e, 0x1f, 0x90,
    ];

    fn repr() -> Ipv4Repr {
        Ipv4Repr {
            src_addr: Ipv4Addr::new(10, 0, 1, 1),
            dst_addr: Ipv4Addr::new(10, 0, 1, 2),
            protocol: IpProtocol::Tcp,
            payload_len: 0x6c - 20,
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ident: 0x4365,
            dont_frag: true,
        }
    }

    /// The header followed by a zero payload of the right length.
    fn whole_packet() -> [u8; 0x6c] {
        let mut buf = [0u8; 0x6c];
        buf[..24].copy_from_slice(&PACKET_BYTES);
        buf
    }

    #[test]
    fn test_parse() {
        let buf = whole_packet();
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert!(packet.verify_checksum());
        assert_eq!(packet.header_len(), 20);
        assert_eq!(packet.payload().len(), 0x6c - 20);
        assert!(packet.options().is_empty());
        assert_eq!(
            Ipv4Repr::parse(&packet, &ChecksumCaps::SOFTWARE).unwrap(),
            repr()
        );
    }

    #[test]
    fn test_emit() {
        let mut buf = whole_packet();
        buf[..20].fill(0);
        repr()
            .emit(
                &mut Ipv4Packet::new_unchecked(&mut buf[..]),
                &ChecksumCaps::SOFTWARE,
            )
            .unwrap();
        assert_eq!(buf, whole_packet());
        // Offloaded: everything but the checksum, which is left zero.
        repr()
            .emit(
                &mut Ipv4Packet::new_unchecked(&mut buf[..]),
                &ChecksumCaps::OFFLOADED,
            )
            .unwrap();
        assert_eq!(&buf[10..12], &[0, 0]);
        assert_eq!(&buf[..10], &PACKET_BYTES[..10]);
        let mut short = [0u8; 19];
        assert_eq!(
            repr().emit(
                &mut Ipv4Packet::new_unchecked(&mut short[..]),
                &ChecksumCaps::SOFTWARE
            ),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn test_truncated() {
        let buf = whole_packet();
        for len in 0..buf.len() {
            assert!(Ipv4Packet::new_checked(&buf[..len]).is_err(), "len {len}");
        }
        // Padding after the total length is fine.
        let mut padded = [0u8; 0x6c + 6];
        padded[..0x6c].copy_from_slice(&buf);
        let packet = Ipv4Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(packet.payload().len(), 0x6c - 20);
    }

    #[test]
    fn test_bad_lengths() {
        let mut buf = whole_packet();
        buf[0] = 0x44; // IHL 4
        assert!(matches!(
            Ipv4Packet::new_checked(&buf[..]),
            Err(Error::Malformed(_))
        ));
        buf[0] = 0x4f; // IHL 15: 60 bytes, fits the buffer
        assert!(Ipv4Packet::new_checked(&buf[..]).is_ok());
        buf[0] = 0x45;
        buf[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert!(matches!(
            Ipv4Packet::new_checked(&buf[..]),
            Err(Error::Malformed(_))
        ));
        buf[2..4].copy_from_slice(&0x6du16.to_be_bytes());
        assert_eq!(Ipv4Packet::new_checked(&buf[..]), Err(Error::Truncated));
    }

    #[test]
    fn test_bad_checksum_and_version() {
        let mut buf = whole_packet();
        buf[8] = 0x3f; // TTL changed, checksum not updated
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert!(!packet.verify_checksum());
        assert_eq!(
            Ipv4Repr::parse(&packet, &ChecksumCaps::SOFTWARE),
            Err(Error::Checksum)
        );
        // With rx offload the stack trusts the NIC.
        assert!(Ipv4Repr::parse(&packet, &ChecksumCaps::OFFLOADED).is_ok());
        let mut buf = whole_packet();
        buf[0] = 0x65;
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert!(matches!(
            Ipv4Repr::parse(&packet, &ChecksumCaps::SOFTWARE),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn test_fragment_unsupported() {
        let mut buf = whole_packet();
        buf[6] = 0x20; // MF
        let mut packet = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
        packet.fill_checksum();
        assert!(matches!(
            Ipv4Repr::parse(&packet, &ChecksumCaps::SOFTWARE),
            Err(Error::Unsupported(_))
        ));
    }
}
