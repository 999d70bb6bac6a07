//! ARP for IPv4 over Ethernet (RFC 826): requests and replies.
//!
//! Owns: the 28-byte Ethernet/IPv4 ARP layout. The view always reads that
//! layout; [`ArpRepr::parse`] rejects other hardware or protocol types as
//! unsupported. No neighbour cache here.

use core::net::Ipv4Addr;

use super::{read_u16, write_u16, EthernetAddress, Field};
use crate::{Error, Result};

/// Length of an Ethernet/IPv4 ARP packet.
pub const ARP_ETHERNET_IPV4_LEN: usize = 28;

/// ARP hardware type of Ethernet.
const HTYPE_ETHERNET: u16 = 1;
/// ARP protocol type of IPv4 (its EtherType).
const PTYPE_IPV4: u16 = 0x0800;

mod field {
    use super::Field;
    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}

/// The ARP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    /// Request (1).
    Request,
    /// Reply (2).
    Reply,
    /// Any other operation code.
    Unknown(u16),
}

impl From<u16> for ArpOperation {
    fn from(value: u16) -> ArpOperation {
        match value {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => ArpOperation::Unknown(other),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(value: ArpOperation) -> u16 {
        match value {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(other) => other,
        }
    }
}

/// A view of an ARP packet in the Ethernet/IPv4 layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> ArpPacket<T> {
        ArpPacket { buffer }
    }

    /// Wraps a buffer and checks its length.
    pub fn new_checked(buffer: T) -> Result<ArpPacket<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Err(Truncated)` if the buffer cannot hold an Ethernet/IPv4 ARP packet.
    /// Longer buffers (Ethernet padding) are fine.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < ARP_ETHERNET_IPV4_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type (1 for Ethernet).
    pub fn hardware_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::HTYPE)
    }

    /// Protocol type (0x0800 for IPv4).
    pub fn protocol_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::PTYPE)
    }

    /// Hardware address length (6 for Ethernet).
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length (4 for IPv4).
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Operation.
    pub fn operation(&self) -> ArpOperation {
        ArpOperation::from(read_u16(self.buffer.as_ref(), field::OPER))
    }

    /// Sender hardware address.
    pub fn source_hardware_addr(&self) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::SHA]);
        EthernetAddress(a)
    }

    /// Sender protocol address.
    pub fn source_protocol_addr(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), field::SPA)
    }

    /// Target hardware address.
    pub fn target_hardware_addr(&self) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::THA]);
        EthernetAddress(a)
    }

    /// Target protocol address.
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), field::TPA)
    }
}

fn ipv4_at(data: &[u8], f: Field) -> Ipv4Addr {
    let b = &data[f];
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Sets the hardware type.
    pub fn set_hardware_type(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::HTYPE, value);
    }

    /// Sets the protocol type.
    pub fn set_protocol_type(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::PTYPE, value);
    }

    /// Sets the hardware address length.
    pub fn set_hardware_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::HLEN] = value;
    }

    /// Sets the protocol address length.
    pub fn set_protocol_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::PLEN] = value;
    }

    /// Sets the operation.
    pub fn set_operation(&mut self, value: ArpOperation) {
        write_u16(self.buffer.as_mut(), field::OPER, value.into());
    }

    /// Sets the sender hardware address.
    pub fn set_source_hardware_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&addr.0);
    }

    /// Sets the sender protocol address.
    pub fn set_source_protocol_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&addr.octets());
    }

    /// Sets the target hardware address.
    pub fn set_target_hardware_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&addr.0);
    }

    /// Sets the target protocol address.
    pub fn set_target_protocol_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&addr.octets());
    }
}

/// An Ethernet/IPv4 ARP request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    /// Request or reply (never `Unknown` after a successful parse).
    pub operation: ArpOperation,
    /// Sender MAC address.
    pub source_hardware_addr: EthernetAddress,
    /// Sender IPv4 address.
    pub source_protocol_addr: Ipv4Addr,
    /// Target MAC address (zero in a request).
    pub target_hardware_addr: EthernetAddress,
    /// Target IPv4 address.
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// Reads a checked packet. Other hardware/protocol types and operations
    /// other than request and reply are `Unsupported`; address lengths that
    /// contradict Ethernet/IPv4 are `Malformed`. ARP has no checksum.
    pub fn parse<T: AsRef<[u8]>>(packet: &ArpPacket<T>) -> Result<ArpRepr> {
        packet.check_len()?;
        if packet.hardware_type() != HTYPE_ETHERNET || packet.protocol_type() != PTYPE_IPV4 {
            return Err(Error::Unsupported("ARP: not Ethernet/IPv4"));
        }
        if packet.hardware_len() != 6 || packet.protocol_len() != 4 {
            return Err(Error::Malformed("ARP: address lengths are not 6 and 4"));
        }
        let operation = packet.operation();
        if let ArpOperation::Unknown(_) = operation {
            return Err(Error::Unsupported(
                "ARP: operation is neither request nor reply",
            ));
        }
        Ok(ArpRepr {
            operation,
            source_hardware_addr: packet.source_hardware_addr(),
            source_protocol_addr: packet.source_protocol_addr(),
            target_hardware_addr: packet.target_hardware_addr(),
            target_protocol_addr: packet.target_protocol_addr(),
        })
    }

    /// Bytes the packet takes (28; Ethernet padding not included).
    pub const fn buffer_len(&self) -> usize {
        ARP_ETHERNET_IPV4_LEN
    }

    /// Writes the packet into the first 28 bytes of the view's buffer.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut ArpPacket<T>) -> Result<()> {
        if packet.buffer.as_ref().len() < ARP_ETHERNET_IPV4_LEN {
            return Err(Error::BufferTooSmall);
        }
        packet.set_hardware_type(HTYPE_ETHERNET);
        packet.set_protocol_type(PTYPE_IPV4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation);
        packet.set_source_hardware_addr(self.source_hardware_addr);
        packet.set_source_protocol_addr(self.source_protocol_addr);
        packet.set_target_hardware_addr(self.target_hardware_addr);
        packet.set_target_protocol_addr(self.target_protocol_addr);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Who has 10.0.1.2? Tell 10.0.1.1 (crafted with the MAC of the fixtures'
    // 10.0.1.1; tshark dissects it as that request).
    static REQUEST_BYTES: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x96, 0x39, 0xc8, 0x57, 0x66, 0x19, 0x0a,
        0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x01, 0x02,
    ];

    fn request() -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress([0x96, 0x39, 0xc8, 0x57, 0x66, 0x19]),
            source_protocol_addr: Ipv4Addr::new(10, 0, 1, 1),
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: Ipv4Addr::new(10, 0, 1, 2),
        }
    }

    #[test]
    fn test_parse() {
        let packet = ArpPacket::new_checked(&REQUEST_BYTES[..]).unwrap();
        assert_eq!(ArpRepr::parse(&packet).unwrap(), request());
    }

    #[test]
    fn test_emit() {
        let mut buf = [0xaau8; 28];
        request()
            .emit(&mut ArpPacket::new_unchecked(&mut buf[..]))
            .unwrap();
        assert_eq!(buf, REQUEST_BYTES);
        let mut short = [0u8; 27];
        assert_eq!(
            request().emit(&mut ArpPacket::new_unchecked(&mut short[..])),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn test_truncated() {
        for len in 0..REQUEST_BYTES.len() {
            assert_eq!(
                ArpPacket::new_checked(&REQUEST_BYTES[..len]).unwrap_err(),
                Error::Truncated
            );
        }
    }

    #[test]
    fn test_unsupported_and_malformed() {
        let mut bytes = REQUEST_BYTES;
        bytes[7] = 3; // RARP request
        let p = ArpPacket::new_checked(&bytes[..]).unwrap();
        assert!(matches!(ArpRepr::parse(&p), Err(Error::Unsupported(_))));
        let mut bytes = REQUEST_BYTES;
        bytes[1] = 6; // IEEE 802 hardware type
        let p = ArpPacket::new_checked(&bytes[..]).unwrap();
        assert!(matches!(ArpRepr::parse(&p), Err(Error::Unsupported(_))));
        let mut bytes = REQUEST_BYTES;
        bytes[4] = 8;
        let p = ArpPacket::new_checked(&bytes[..]).unwrap();
        assert!(matches!(ArpRepr::parse(&p), Err(Error::Malformed(_))));
    }
}
