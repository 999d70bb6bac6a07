//! TCP headers (RFC 9293 §3.1).
//!
//! Owns: the header layout, the flags byte, and the TCP checksum over the
//! IPv4 or IPv6 pseudo-header. Options are raw bytes here; their meaning
//! (MSS, SACK, timestamps, TFO, MPTCP) belongs to `crate::options`.
//!
//! A TCP header has no length of its own for the whole segment: a view's
//! buffer must be exactly the segment (the IP payload), since the payload
//! runs to its end and the checksum covers all of it.

use core::fmt;
use core::net::IpAddr;
use core::ops::{BitOr, BitOrAssign};

use super::{read_u16, read_u32, write_u16, write_u32, Field, Rest};
use crate::checksum::{pseudo_header_v4, pseudo_header_v6, ChecksumCaps, Sum, IPPROTO_TCP};
use crate::seq::SubflowSeq;
use crate::{Error, Result};

/// Length of a TCP header without options.
pub const TCP_HEADER_LEN: usize = 20;

/// Most option bytes a header can carry (data offset 15 → 60 bytes).
pub const TCP_MAX_OPTIONS_LEN: usize = 40;

mod field {
    use super::{Field, Rest};
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    /// Data offset (high 4 bits), reserved bits (low 4 bits).
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
    pub const OPTIONS: Rest = 20..;
}

/// The eight flag bits of byte 13 of a TCP header.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// The acknowledgment number is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// The urgent pointer is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN echo.
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion window reduced.
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// Letters for Debug and Display, in bit order.
    const LETTERS: [(TcpFlags, char); 8] = [
        (TcpFlags::FIN, 'F'),
        (TcpFlags::SYN, 'S'),
        (TcpFlags::RST, 'R'),
        (TcpFlags::PSH, 'P'),
        (TcpFlags::ACK, 'A'),
        (TcpFlags::URG, 'U'),
        (TcpFlags::ECE, 'E'),
        (TcpFlags::CWR, 'C'),
    ];

    /// No flag set.
    pub const fn empty() -> TcpFlags {
        TcpFlags(0)
    }

    /// The flags of a flags byte.
    pub const fn from_bits(bits: u8) -> TcpFlags {
        TcpFlags(bits)
    }

    /// The flags byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// True when no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True when every flag of `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when any flag of `other` is set in `self`.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: TcpFlags) {
        self.0 |= other.0;
    }

    /// Clears the flags of `other`.
    pub fn remove(&mut self, other: TcpFlags) {
        self.0 &= !other.0;
    }

    /// `self` with the flags of `other` set or cleared.
    pub const fn with(self, other: TcpFlags, on: bool) -> TcpFlags {
        if on {
            TcpFlags(self.0 | other.0)
        } else {
            TcpFlags(self.0 & !other.0)
        }
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

/// One letter per set flag in the order `FSRPAUEC` ("SA" for a SYN/ACK,
/// "FA" for FIN/ACK), or "-" when none is set.
impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(f, "-");
        }
        for (flag, letter) in TcpFlags::LETTERS {
            if self.contains(flag) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Sum of the TCP pseudo-header for a segment of `tcp_len` bytes from `src`
/// to `dst` (IPv4 or IPv6). `Err(Malformed)` if the two address families differ.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, tcp_len: usize) -> Result<Sum> {
    let len = u32::try_from(tcp_len).map_err(|_| Error::Malformed("TCP: segment too long"))?;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ok(pseudo_header_v4(s, d, IPPROTO_TCP, len)),
        (IpAddr::V6(s), IpAddr::V6(d)) => Ok(pseudo_header_v6(s, d, IPPROTO_TCP, len)),
        _ => Err(Error::Malformed(
            "TCP: source and destination address families differ",
        )),
    }
}

/// A view of a TCP segment. The buffer must be exactly the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> TcpPacket<T> {
        TcpPacket { buffer }
    }

    /// Wraps a buffer and checks its lengths (see [`TcpPacket::check_len`]).
    pub fn new_checked(buffer: T) -> Result<TcpPacket<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds the fixed header and that the data offset
    /// is at least 5 words and within the buffer.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < TCP_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len();
        if header_len < TCP_HEADER_LEN {
            return Err(Error::Malformed("TCP: data offset below 5"));
        }
        if header_len > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> SubflowSeq {
        SubflowSeq(read_u32(self.buffer.as_ref(), field::SEQ_NUM))
    }

    /// Acknowledgment number (meaningful only with ACK set).
    pub fn ack_number(&self) -> SubflowSeq {
        SubflowSeq(read_u32(self.buffer.as_ref(), field::ACK_NUM))
    }

    /// Data offset in 32-bit words, as on the wire.
    pub fn data_offset(&self) -> u8 {
        self.buffer.as_ref()[field::DATA_OFF] >> 4
    }

    /// Header length in bytes (data offset × 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset()) * 4
    }

    /// Flags.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS])
    }

    /// Window, unscaled.
    pub fn window_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::WINDOW)
    }

    /// Checksum as on the wire.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer.
    pub fn urgent_at(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// Raw option bytes (header length − 20 bytes, padding included).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS.start..self.header_len()]
    }

    /// The payload: from the end of the header to the end of the buffer.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// Length of the whole segment (the buffer).
    pub fn total_len(&self) -> usize {
        self.buffer.as_ref().len()
    }

    /// True when the checksum verifies, given the sum of the pseudo-header
    /// for this segment's length (see [`pseudo_header`]).
    pub fn verify_checksum(&self, pseudo: Sum) -> bool {
        pseudo.add(Sum::of(self.buffer.as_ref())).verifies()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, port: u16) {
        write_u16(self.buffer.as_mut(), field::SRC_PORT, port);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, port: u16) {
        write_u16(self.buffer.as_mut(), field::DST_PORT, port);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, seq: SubflowSeq) {
        write_u32(self.buffer.as_mut(), field::SEQ_NUM, seq.0);
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, ack: SubflowSeq) {
        write_u32(self.buffer.as_mut(), field::ACK_NUM, ack.0);
    }

    /// Sets the header length in bytes (a multiple of 4, 20 to 60) and clears
    /// the reserved bits of the same byte.
    pub fn set_header_len(&mut self, len: usize) {
        debug_assert!(
            len & 3 == 0 && (TCP_HEADER_LEN..=TCP_HEADER_LEN + TCP_MAX_OPTIONS_LEN).contains(&len)
        );
        self.buffer.as_mut()[field::DATA_OFF] = ((len / 4) as u8) << 4;
    }

    /// Sets the flags.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.buffer.as_mut()[field::FLAGS] = flags.0;
    }

    /// Sets the window.
    pub fn set_window_len(&mut self, window: u16) {
        write_u16(self.buffer.as_mut(), field::WINDOW, window);
    }

    /// Sets the checksum field as is.
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_at(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::URGENT, value);
    }

    /// Raw option bytes, mutable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[field::OPTIONS.start..end]
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }

    /// Computes the checksum over `pseudo` (the pseudo-header's sum) and the
    /// whole buffer, and stores it.
    pub fn fill_checksum(&mut self, pseudo: Sum) {
        self.set_checksum(0);
        let c = pseudo.add(Sum::of(self.buffer.as_ref())).finish();
        self.set_checksum(c);
    }

    /// Stores the seed a NIC with TCP transmit checksum offload expects: the
    /// folded pseudo-header sum, not complemented. That is what DPDK asks for
    /// with `RTE_MBUF_F_TX_TCP_CKSUM` and what Linux leaves in a
    /// `CHECKSUM_PARTIAL` segment (so it is what a capture on a veth shows).
    pub fn fill_checksum_seed(&mut self, pseudo: Sum) {
        self.set_checksum(pseudo.fold());
    }
}

/// The values of a TCP header, with options as raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: SubflowSeq,
    /// Acknowledgment number: `Some` exactly when the ACK flag is set. On
    /// emit this, not `flags`, decides the ACK flag.
    pub ack: Option<SubflowSeq>,
    /// Flags as on the wire (ACK included after a parse).
    pub flags: TcpFlags,
    /// Window, unscaled.
    pub window: u16,
    /// Raw option bytes. On emit they are written as they are, then padded
    /// with zeros (EOL) to a multiple of 4; at most 40 bytes.
    pub options: &'a [u8],
    /// Payload.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Reads a segment sent from `src` to `dst`. The checksum is verified
    /// when `caps.tcp` says the stack must (this needs the two addresses of
    /// the same family, else `Malformed`). Port 0 is `Malformed`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &TcpPacket<&'a T>,
        src: IpAddr,
        dst: IpAddr,
        caps: &ChecksumCaps,
    ) -> Result<TcpRepr<'a>> {
        packet.check_len()?;
        if caps.tcp.verify_rx() {
            let pseudo = pseudo_header(src, dst, packet.total_len())?;
            if !packet.verify_checksum(pseudo) {
                return Err(Error::Checksum);
            }
        }
        if packet.src_port() == 0 || packet.dst_port() == 0 {
            return Err(Error::Malformed("TCP: port 0"));
        }
        // Borrow the bytes for 'a (the view only holds a reference).
        let bytes: &'a [u8] = packet.buffer.as_ref();
        let header_len = packet.header_len();
        let flags = packet.flags();
        Ok(TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq_number(),
            ack: flags.contains(TcpFlags::ACK).then(|| packet.ack_number()),
            flags,
            window: packet.window_len(),
            options: &bytes[field::OPTIONS.start..header_len],
            payload: &bytes[header_len..],
        })
    }

    /// Header length this emits: 20 plus the options rounded up to 4.
    pub fn header_len(&self) -> usize {
        TCP_HEADER_LEN + self.options.len().div_ceil(4) * 4
    }

    /// Length of header and payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Sequence space the segment takes: payload, plus one for SYN and one for FIN.
    pub fn segment_len(&self) -> usize {
        self.payload.len()
            + usize::from(self.flags.contains(TcpFlags::SYN))
            + usize::from(self.flags.contains(TcpFlags::FIN))
    }

    /// Writes header, options and payload, then the checksum: computed when
    /// `caps.tcp` says the stack must, else the seed the NIC expects (see
    /// [`TcpPacket::fill_checksum_seed`]). The view's buffer must be exactly
    /// [`TcpRepr::buffer_len`] bytes: `BufferTooSmall` if shorter,
    /// `Malformed` if longer, or if the options exceed 40 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut TcpPacket<T>,
        src: IpAddr,
        dst: IpAddr,
        caps: &ChecksumCaps,
    ) -> Result<()> {
        let len = packet.buffer.as_ref().len();
        if len < self.buffer_len() {
            return Err(Error::BufferTooSmall);
        }
        if len > self.buffer_len() {
            return Err(Error::Malformed("TCP: buffer longer than the segment"));
        }
        self.write_header(packet)?;
        packet.payload_mut().copy_from_slice(self.payload);
        Self::write_checksum(packet, src, dst, caps)
    }

    /// Writes header and options in front of a payload that is already in
    /// place, then the checksum over both (as [`TcpRepr::emit`] does). The
    /// segment is the view's whole buffer: `header_len()` bytes of room for
    /// the header, then the payload. `self.payload` is not used.
    pub fn emit_header_only<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut TcpPacket<T>,
        src: IpAddr,
        dst: IpAddr,
        caps: &ChecksumCaps,
    ) -> Result<()> {
        if packet.buffer.as_ref().len() < self.header_len() {
            return Err(Error::BufferTooSmall);
        }
        self.write_header(packet)?;
        Self::write_checksum(packet, src, dst, caps)
    }

    /// Writes every header field but the checksum (zeroed), and the options
    /// with their padding. The buffer holds at least `header_len()` bytes.
    fn write_header<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut TcpPacket<T>) -> Result<()> {
        if self.options.len() > TCP_MAX_OPTIONS_LEN {
            return Err(Error::Malformed("TCP: more than 40 bytes of options"));
        }
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq);
        packet.set_ack_number(self.ack.unwrap_or_default());
        packet.set_header_len(self.header_len());
        packet.set_flags(self.flags.with(TcpFlags::ACK, self.ack.is_some()));
        packet.set_window_len(self.window);
        packet.set_checksum(0);
        packet.set_urgent_at(0);
        let options = packet.options_mut();
        options[..self.options.len()].copy_from_slice(self.options);
        options[self.options.len()..].fill(0);
        Ok(())
    }

    fn write_checksum<T: AsRef<[u8]> + AsMut<[u8]>>(
        packet: &mut TcpPacket<T>,
        src: IpAddr,
        dst: IpAddr,
        caps: &ChecksumCaps,
    ) -> Result<()> {
        let pseudo = pseudo_header(src, dst, packet.total_len())?;
        if caps.tcp.compute_tx() {
            packet.fill_checksum(pseudo);
        } else {
            packet.fill_checksum_seed(pseudo);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    fn v4(a: [u8; 4]) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(a))
    }

    // TCP part of frame 1 of tfo-syn-data.pcap: a Linux 6.18 MPTCP SYN with a
    // TFO cookie and 32 bytes of data, 10.0.1.1:16190 -> 10.0.1.2:8080.
    // Options: MSS 1460, SACK permitted, timestamps, NOP, window scale 10,
    // TFO cookie (8 bytes), NOP, NOP, MP_CAPABLE v1 (flags 0x01).
    // Captured on a veth with tx checksum offload: the checksum field holds
    // the partial seed 0x1661 (pseudo-header sum); the real one is 0x7241.
    static SYN_DATA_BYTES: [u8; 88] = [
        0x3f, 0x3e, 0x1f, 0x90, 0xfd, 0xaf, 0x1f, 0x77, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x02, 0xfa,
        0xf0, 0x16, 0x61, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x05, 0x19,
        0x2f, 0xc7, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a, 0x22, 0x0a, 0xf2, 0x6b, 0x05,
        0x0c, 0xcb, 0xdb, 0x99, 0x57, 0x01, 0x01, 0x1e, 0x04, 0x01, 0x01, 0x52, 0x45, 0x51, 0x30,
        0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
        0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
    ];
    const SYN_SRC: [u8; 4] = [10, 0, 1, 1];
    const SYN_DST: [u8; 4] = [10, 0, 1, 2];

    // TCP part of frame 22 of tfo-invalid-cookie.pcap: a time-wait ACK
    // 10.0.1.1:56270 -> 10.0.1.2:8080 with timestamps. Linux sends these from
    // its control socket with a full checksum (0x99e1, tshark: correct).
    static ACK_BYTES: [u8; 32] = [
        0xdb, 0xce, 0x1f, 0x90, 0x3f, 0x1b, 0xc2, 0xa5, 0x8f, 0x47, 0x9d, 0xed, 0x80, 0x10, 0x00,
        0x3f, 0x99, 0xe1, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x7a, 0xae, 0x32, 0x1f, 0x6b, 0x51,
        0x84, 0x26,
    ];

    // A crafted SYN fd00::1:41968 -> fd00::2:80 (MSS 1440, SACK permitted,
    // timestamps, NOP, window scale 7); tshark: checksum 0x5614 correct.
    static SYN_V6_BYTES: [u8; 40] = [
        0xa3, 0xf0, 0x00, 0x50, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfd,
        0x20, 0x56, 0x14, 0x00, 0x00, 0x02, 0x04, 0x05, 0xa0, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00,
        0x12, 0x34, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    fn v6_src() -> IpAddr {
        IpAddr::V6("fd00::1".parse::<Ipv6Addr>().unwrap())
    }
    fn v6_dst() -> IpAddr {
        IpAddr::V6("fd00::2".parse::<Ipv6Addr>().unwrap())
    }

    fn syn_data_repr() -> TcpRepr<'static> {
        TcpRepr {
            src_port: 16190,
            dst_port: 8080,
            seq: SubflowSeq(0xfdaf1f77),
            ack: None,
            flags: TcpFlags::SYN,
            window: 64240,
            options: &SYN_DATA_BYTES[20..56],
            payload: &SYN_DATA_BYTES[56..],
        }
    }

    #[test]
    fn test_flags() {
        assert_eq!(format!("{:?}", TcpFlags::SYN | TcpFlags::ACK), "SA");
        assert_eq!(format!("{:?}", TcpFlags::SYN), "S");
        assert_eq!(format!("{}", TcpFlags::from_bits(0x19)), "FPA");
        assert_eq!(format!("{:?}", TcpFlags::empty()), "-");
        assert_eq!(format!("{:?}", TcpFlags::from_bits(0xff)), "FSRPAUEC");
        let mut f = TcpFlags::SYN;
        f.insert(TcpFlags::ACK);
        assert!(f.contains(TcpFlags::SYN | TcpFlags::ACK));
        assert!(!f.contains(TcpFlags::FIN));
        assert!(f.intersects(TcpFlags::FIN | TcpFlags::ACK));
        f.remove(TcpFlags::SYN);
        assert_eq!(f, TcpFlags::ACK);
        assert_eq!(f.bits(), 0x10);
    }

    #[test]
    fn test_parse() {
        let packet = TcpPacket::new_checked(&SYN_DATA_BYTES[..]).unwrap();
        assert_eq!(packet.header_len(), 56);
        assert_eq!(packet.data_offset(), 14);
        assert_eq!(packet.options().len(), 36);
        assert_eq!(&packet.payload()[..4], b"REQ0");
        assert_eq!(packet.checksum(), 0x1661);
        let repr = TcpRepr::parse(&packet, v4(SYN_SRC), v4(SYN_DST), &ChecksumCaps::OFFLOADED);
        assert_eq!(repr.unwrap(), syn_data_repr());
        assert_eq!(syn_data_repr().segment_len(), 33);

        let packet = TcpPacket::new_checked(&ACK_BYTES[..]).unwrap();
        let repr =
            TcpRepr::parse(&packet, v4(SYN_SRC), v4(SYN_DST), &ChecksumCaps::SOFTWARE).unwrap();
        assert_eq!(repr.flags, TcpFlags::ACK);
        assert_eq!(repr.ack, Some(SubflowSeq(0x8f479ded)));
        assert_eq!(repr.seq, SubflowSeq(0x3f1bc2a5));
        assert_eq!(repr.window, 63);
        assert_eq!(repr.options, &ACK_BYTES[20..]);
        assert!(repr.payload.is_empty());

        let packet = TcpPacket::new_checked(&SYN_V6_BYTES[..]).unwrap();
        let repr = TcpRepr::parse(&packet, v6_src(), v6_dst(), &ChecksumCaps::SOFTWARE).unwrap();
        assert_eq!(repr.flags, TcpFlags::SYN);
        assert_eq!(repr.ack, None);
        assert_eq!(repr.src_port, 41968);
    }

    #[test]
    fn test_partial_checksum_is_the_pseudo_header_seed() {
        let packet = TcpPacket::new_checked(&SYN_DATA_BYTES[..]).unwrap();
        let pseudo = pseudo_header(v4(SYN_SRC), v4(SYN_DST), SYN_DATA_BYTES.len()).unwrap();
        assert!(!packet.verify_checksum(pseudo));
        assert_eq!(packet.checksum(), pseudo.fold());
        assert_eq!(
            TcpRepr::parse(&packet, v4(SYN_SRC), v4(SYN_DST), &ChecksumCaps::SOFTWARE),
            Err(Error::Checksum)
        );
    }

    #[test]
    fn test_emit() {
        let repr = syn_data_repr();
        assert_eq!(repr.header_len(), 56);
        assert_eq!(repr.buffer_len(), 88);
        // With tx offload: exactly the captured bytes (seed in the field).
        let mut buf = [0u8; 88];
        let mut packet = TcpPacket::new_unchecked(&mut buf[..]);
        repr.emit(
            &mut packet,
            v4(SYN_SRC),
            v4(SYN_DST),
            &ChecksumCaps::OFFLOADED,
        )
        .unwrap();
        assert_eq!(buf, SYN_DATA_BYTES);
        // In software: the real checksum, everything else the same.
        let mut packet = TcpPacket::new_unchecked(&mut buf[..]);
        repr.emit(
            &mut packet,
            v4(SYN_SRC),
            v4(SYN_DST),
            &ChecksumCaps::SOFTWARE,
        )
        .unwrap();
        assert_eq!(packet.checksum(), 0x7241);
        assert_eq!(&buf[..16], &SYN_DATA_BYTES[..16]);
        assert_eq!(&buf[18..], &SYN_DATA_BYTES[18..]);

        let packet = TcpPacket::new_checked(&ACK_BYTES[..]).unwrap();
        let repr =
            TcpRepr::parse(&packet, v4(SYN_SRC), v4(SYN_DST), &ChecksumCaps::SOFTWARE).unwrap();
        let mut buf = [0u8; 32];
        let mut out = TcpPacket::new_unchecked(&mut buf[..]);
        repr.emit(&mut out, v4(SYN_SRC), v4(SYN_DST), &ChecksumCaps::SOFTWARE)
            .unwrap();
        assert_eq!(buf, ACK_BYTES);

        let packet = TcpPacket::new_checked(&SYN_V6_BYTES[..]).unwrap();
        let repr = TcpRepr::parse(&packet, v6_src(), v6_dst(), &ChecksumCaps::SOFTWARE).unwrap();
        let mut buf = [0u8; 40];
        let mut out = TcpPacket::new_unchecked(&mut buf[..]);
        repr.emit(&mut out, v6_src(), v6_dst(), &ChecksumCaps::SOFTWARE)
            .unwrap();
        assert_eq!(buf, SYN_V6_BYTES);
    }

    #[test]
    fn test_emit_pads_options_and_sets_ack_from_ack_field() {
        let repr = TcpRepr {
            src_port: 1,
            dst_port: 2,
            seq: SubflowSeq(7),
            ack: Some(SubflowSeq(9)),
            flags: TcpFlags::PSH, // ACK comes from `ack`
            window: 100,
            options: &[0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04], // 7 bytes
            payload: b"hi",
        };
        assert_eq!(repr.header_len(), 28);
        let mut buf = [0xeeu8; 30];
        let mut packet = TcpPacket::new_unchecked(&mut buf[..]);
        repr.emit(
            &mut packet,
            v4(SYN_SRC),
            v4(SYN_DST),
            &ChecksumCaps::SOFTWARE,
        )
        .unwrap();
        let pseudo = pseudo_header(v4(SYN_SRC), v4(SYN_DST), 30).unwrap();
        assert!(packet.verify_checksum(pseudo));
        assert_eq!(packet.flags(), TcpFlags::PSH | TcpFlags::ACK);
        assert_eq!(packet.options(), &[2, 4, 5, 0xb4, 1, 1, 4, 0]);
        assert_eq!(packet.payload(), b"hi");
        assert_eq!(packet.urgent_at(), 0);
        let parsed = TcpRepr::parse(
            &TcpPacket::new_checked(&buf[..]).unwrap(),
            v4(SYN_SRC),
            v4(SYN_DST),
            &ChecksumCaps::SOFTWARE,
        )
        .unwrap();
        assert_eq!(parsed.ack, Some(SubflowSeq(9)));
        // No ack: ACK flag cleared even if `flags` has it, ack field zero.
        let no_ack = TcpRepr {
            ack: None,
            flags: TcpFlags::ACK | TcpFlags::RST,
            ..repr
        };
        let mut buf = [0xeeu8; 30];
        let mut packet = TcpPacket::new_unchecked(&mut buf[..]);
        no_ack
            .emit(
                &mut packet,
                v4(SYN_SRC),
                v4(SYN_DST),
                &ChecksumCaps::SOFTWARE,
            )
            .unwrap();
        assert_eq!(packet.flags(), TcpFlags::RST);
        assert_eq!(packet.ack_number(), SubflowSeq(0));
    }

    #[test]
    fn test_emit_errors() {
        let repr = syn_data_repr();
        let mut short = [0u8; 87];
        assert_eq!(
            repr.emit(
                &mut TcpPacket::new_unchecked(&mut short[..]),
                v4(SYN_SRC),
                v4(SYN_DST),
                &ChecksumCaps::SOFTWARE
            ),
            Err(Error::BufferTooSmall)
        );
        let mut long = [0u8; 89];
        assert!(matches!(
            repr.emit(
                &mut TcpPacket::new_unchecked(&mut long[..]),
                v4(SYN_SRC),
                v4(SYN_DST),
                &ChecksumCaps::SOFTWARE
            ),
            Err(Error::Malformed(_))
        ));
        let options = [1u8; 41];
        let too_many = TcpRepr {
            options: &options,
            payload: &[],
            ..repr
        };
        let mut buf = [0u8; 64];
        assert!(matches!(
            too_many.emit(
                &mut TcpPacket::new_unchecked(&mut buf[..]),
                v4(SYN_SRC),
                v4(SYN_DST),
                &ChecksumCaps::SOFTWARE
            ),
            Err(Error::Malformed(_))
        ));
        let mut buf = [0u8; 88];
        assert!(matches!(
            repr.emit(
                &mut TcpPacket::new_unchecked(&mut buf[..]),
                v4(SYN_SRC),
                v6_dst(),
                &ChecksumCaps::SOFTWARE
            ),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn test_emit_header_only() {
        // The payload is placed first (as an application write would), the
        // header is written into the room in front of it.
        let repr = syn_data_repr();
        let mut buf = [0u8; 88];
        buf[56..].copy_from_slice(repr.payload);
        let header_only = TcpRepr {
            payload: &[],
            ..repr
        };
        let mut packet = TcpPacket::new_unchecked(&mut buf[..]);
        header_only
            .emit_header_only(
                &mut packet,
                v4(SYN_SRC),
                v4(SYN_DST),
                &ChecksumCaps::SOFTWARE,
            )
            .unwrap();
        assert_eq!(packet.checksum(), 0x7241);
        let pseudo = pseudo_header(v4(SYN_SRC), v4(SYN_DST), 88).unwrap();
        assert!(packet.verify_checksum(pseudo));
        assert_eq!(&buf[18..], &SYN_DATA_BYTES[18..]);
        let mut short = [0u8; 55];
        assert_eq!(
            header_only.emit_header_only(
                &mut TcpPacket::new_unchecked(&mut short[..]),
                v4(SYN_SRC),
                v4(SYN_DST),
                &ChecksumCaps::SOFTWARE
            ),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn test_truncated() {
        for len in 0..56 {
            assert!(
                TcpPacket::new_checked(&SYN_DATA_BYTES[..len]).is_err(),
                "len {len}"
            );
        }
        // Header complete, payload cut: a valid (shorter) segment as far as
        // lengths go; its checksum no longer verifies.
        for len in 56..SYN_DATA_BYTES.len() {
            let packet = TcpPacket::new_checked(&SYN_DATA_BYTES[..len]).unwrap();
            assert_eq!(packet.payload().len(), len - 56);
        }
        for len in 20..ACK_BYTES.len() {
            let packet = TcpPacket::new_checked(&ACK_BYTES[..len]);
            assert_eq!(packet, Err(Error::Truncated));
        }
    }

    #[test]
    fn test_bad_data_offset() {
        let mut buf = ACK_BYTES;
        buf[12] = 0x40; // 16 bytes
        assert!(matches!(
            TcpPacket::new_checked(&buf[..]),
            Err(Error::Malformed(_))
        ));
        buf[12] = 0xf0; // 60 bytes in a 32-byte buffer
        assert_eq!(TcpPacket::new_checked(&buf[..]), Err(Error::Truncated));
    }

    #[test]
    fn test_bad_checksum() {
        for i in 0..ACK_BYTES.len() {
            let mut buf = ACK_BYTES;
            buf[i] ^= 0x01;
            let Ok(packet) = TcpPacket::new_checked(&buf[..]) else {
                continue;
            };
            assert_eq!(
                TcpRepr::parse(&packet, v4(SYN_SRC), v4(SYN_DST), &ChecksumCaps::SOFTWARE),
                Err(Error::Checksum),
                "byte {i}"
            );
        }
        // A checksum over the wrong addresses fails too.
        let packet = TcpPacket::new_checked(&ACK_BYTES[..]).unwrap();
        assert_eq!(
            TcpRepr::parse(
                &packet,
                v4(SYN_DST),
                v4([10, 0, 1, 3]),
                &ChecksumCaps::SOFTWARE
            ),
            Err(Error::Checksum)
        );
        assert!(TcpRepr::parse(
            &packet,
            v4(SYN_DST),
            v4([10, 0, 1, 3]),
            &ChecksumCaps::OFFLOADED
        )
        .is_ok());
    }

    #[test]
    fn test_port_zero_is_malformed() {
        let mut buf = ACK_BYTES;
        buf[2] = 0;
        buf[3] = 0;
        let packet = TcpPacket::new_checked(&buf[..]).unwrap();
        assert!(matches!(
            TcpRepr::parse(&packet, v4(SYN_SRC), v4(SYN_DST), &ChecksumCaps::OFFLOADED),
            Err(Error::Malformed(_))
        ));
    }
}
