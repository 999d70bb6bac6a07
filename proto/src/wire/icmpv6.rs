//! ICMPv6 neighbour discovery (RFC 4861 §4.3, §4.4): Neighbor Solicitation
//! and Neighbor Advertisement, with the source/target link-layer address
//! options (§4.6.1).
//!
//! Owns: the NS/NA layout and the ICMPv6 checksum over the IPv6
//! pseudo-header. Every other ICMPv6 message is unsupported. The IP-level
//! rule that ND packets carry hop limit 255 is checked by the caller
//! (`packet::classify`), which sees the IPv6 header.

use core::fmt;
use core::net::Ipv6Addr;

use super::{read_u16, write_u16, EthernetAddress, Field, Rest};
use crate::checksum::{pseudo_header_v6, Sum};
use crate::{Error, Result};

/// Length of an NS or NA message without options.
pub const ICMPV6_ND_HEADER_LEN: usize = 24;

/// IPv6 next header value of ICMPv6.
const IPPROTO_ICMPV6: u8 = 58;

/// ICMPv6 type of a Neighbor Solicitation.
pub const TYPE_NEIGHBOR_SOLICIT: u8 = 135;
/// ICMPv6 type of a Neighbor Advertisement.
pub const TYPE_NEIGHBOR_ADVERT: u8 = 136;

/// ND option type: source link-layer address.
const OPT_SOURCE_LLADDR: u8 = 1;
/// ND option type: target link-layer address.
const OPT_TARGET_LLADDR: u8 = 2;
/// Length of a link-layer address option for Ethernet (one 8-byte unit).
const LLADDR_OPT_LEN: usize = 8;

mod field {
    use super::{Field, Rest};
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    /// NA: router, solicited and override flags; NS: reserved.
    pub const FLAGS: usize = 4;
    /// The flags byte and the reserved bytes after it.
    pub const FLAGS_RESERVED: Field = 4..8;
    pub const TARGET: Field = 8..24;
    pub const OPTIONS: Rest = 24..;
}

/// The flags of a Neighbor Advertisement (RFC 4861 §4.4), high bits of byte 4.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NdFlags(pub u8);

impl NdFlags {
    /// R: the sender is a router.
    pub const ROUTER: NdFlags = NdFlags(0x80);
    /// S: sent in response to a solicitation.
    pub const SOLICITED: NdFlags = NdFlags(0x40);
    /// O: override an existing cache entry.
    pub const OVERRIDE: NdFlags = NdFlags(0x20);
    /// No flag.
    pub const EMPTY: NdFlags = NdFlags(0);

    /// True when every flag of `other` is set in `self`.
    pub fn contains(self, other: NdFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: NdFlags) {
        self.0 |= other.0;
    }
}

impl core::ops::BitOr for NdFlags {
    type Output = NdFlags;
    fn bitor(self, rhs: NdFlags) -> NdFlags {
        NdFlags(self.0 | rhs.0)
    }
}

impl fmt::Debug for NdFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::ROUTER, 'R'),
            (Self::SOLICITED, 'S'),
            (Self::OVERRIDE, 'O'),
        ];
        let mut any = false;
        for (flag, c) in names {
            if self.contains(flag) {
                write!(f, "{c}")?;
                any = true;
            }
        }
        if !any {
            write!(f, "-")?;
        }
        Ok(())
    }
}

/// A view of an ICMPv6 Neighbor Solicitation or Advertisement. The buffer
/// must be exactly the ICMPv6 message (the IPv6 payload): the checksum covers
/// all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Wraps a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Icmpv6Packet<T> {
        Icmpv6Packet { buffer }
    }

    /// Wraps a buffer and checks its length.
    pub fn new_checked(buffer: T) -> Result<Icmpv6Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// `Err(Truncated)` if the buffer is shorter than an NS/NA message
    /// (24 bytes). Other ICMPv6 messages have other layouts and are not
    /// read through this view; check [`Icmpv6Packet::msg_type`]'s byte first
    /// if the message might be one of them.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < ICMPV6_ND_HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Message type (135 NS, 136 NA).
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// Message code (0 for NS and NA).
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum as on the wire.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// NA flags (reserved bits in an NS).
    pub fn nd_flags(&self) -> NdFlags {
        NdFlags(self.buffer.as_ref()[field::FLAGS] & 0xe0)
    }

    /// Target address.
    pub fn target_addr(&self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o.copy_from_slice(&self.buffer.as_ref()[field::TARGET]);
        Ipv6Addr::from(o)
    }

    /// The option bytes after the fixed part.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS]
    }

    /// True when the checksum over the IPv6 pseudo-header (`src`, `dst`) and
    /// the whole message verifies.
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let data = self.buffer.as_ref();
        pseudo_header_v6(src, dst, IPPROTO_ICMPV6, data.len() as u32)
            .add(Sum::of(data))
            .verifies()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::TYPE] = value;
    }

    /// Sets the message code.
    pub fn set_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Sets the checksum field as is.
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the NA flags and clears the reserved bits after them.
    pub fn set_nd_flags(&mut self, flags: NdFlags) {
        let b = &mut self.buffer.as_mut()[field::FLAGS_RESERVED];
        b.copy_from_slice(&[flags.0 & 0xe0, 0, 0, 0]);
    }

    /// Sets the target address.
    pub fn set_target_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::TARGET].copy_from_slice(&addr.octets());
    }

    /// The option bytes, mutable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::OPTIONS]
    }

    /// Computes the checksum over the pseudo-header and the whole buffer.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let c = pseudo_header_v6(src, dst, IPPROTO_ICMPV6, data.len() as u32)
            .add(Sum::of(data))
            .finish();
        self.set_checksum(c);
    }
}

/// Finds the link-layer address option of kind `wanted` among ND options.
/// RFC 4861 §4.6: every option has a length of at least one 8-byte unit; a
/// zero length makes the whole message invalid. Other options are skipped.
fn find_lladdr(options: &[u8], wanted: u8) -> Result<Option<EthernetAddress>> {
    let mut rest = options;
    let mut found = None;
    while !rest.is_empty() {
        if rest.len() < 2 {
            return Err(Error::Truncated);
        }
        let len = usize::from(rest[1]) * 8;
        if len == 0 {
            return Err(Error::Malformed("ND option with length 0"));
        }
        if len > rest.len() {
            return Err(Error::Truncated);
        }
        if rest[0] == wanted && found.is_none() {
            // len >= 8, so the six address bytes after type and length exist.
            found = EthernetAddress::from_bytes(&rest[2..len]);
        }
        rest = &rest[len..];
    }
    Ok(found)
}

/// A Neighbor Solicitation or Advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6Repr {
    /// Neighbor Solicitation: who has `target_addr`?
    NeighborSolicit {
        /// The address being resolved.
        target_addr: Ipv6Addr,
        /// The sender's MAC (absent in duplicate address detection).
        source_lladdr: Option<EthernetAddress>,
    },
    /// Neighbor Advertisement: `target_addr` is at `target_lladdr`.
    NeighborAdvert {
        /// Router, solicited and override flags.
        flags: NdFlags,
        /// The address advertised.
        target_addr: Ipv6Addr,
        /// Its MAC.
        target_lladdr: Option<EthernetAddress>,
    },
}

impl Icmpv6Repr {
    /// Reads an NS or NA sent from `src` to `dst`. The checksum is always
    /// verified: it is mandatory in ICMPv6 and [`crate::checksum::ChecksumCaps`]
    /// has no ICMPv6 offload. Other ICMPv6 types are `Unsupported`.
    ///
    /// Checks of RFC 4861 §7.1.1 and §7.1.2 that need only this message and
    /// the addresses: code 0; target not multicast; an NS from the
    /// unspecified address carries no source link-layer address; an NA to a
    /// multicast address has S clear.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Icmpv6Packet<T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) -> Result<Icmpv6Repr> {
        packet.check_len()?;
        let msg_type = packet.msg_type();
        if msg_type != TYPE_NEIGHBOR_SOLICIT && msg_type != TYPE_NEIGHBOR_ADVERT {
            return Err(Error::Unsupported("ICMPv6: not NS or NA"));
        }
        if !packet.verify_checksum(src, dst) {
            return Err(Error::Checksum);
        }
        if packet.code() != 0 {
            return Err(Error::Malformed("ND: code is not 0"));
        }
        let target_addr = packet.target_addr();
        if target_addr.is_multicast() {
            return Err(Error::Malformed("ND: multicast target"));
        }
        if msg_type == TYPE_NEIGHBOR_SOLICIT {
            let source_lladdr = find_lladdr(packet.options(), OPT_SOURCE_LLADDR)?;
            if src.is_unspecified() && source_lladdr.is_some() {
                return Err(Error::Malformed(
                    "ND: NS from :: with a source link-layer address",
                ));
            }
            Ok(Icmpv6Repr::NeighborSolicit {
                target_addr,
                source_lladdr,
            })
        } else {
            let flags = packet.nd_flags();
            if dst.is_multicast() && flags.contains(NdFlags::SOLICITED) {
                return Err(Error::Malformed("ND: solicited NA to a multicast address"));
            }
            Ok(Icmpv6Repr::NeighborAdvert {
                flags,
                target_addr,
                target_lladdr: find_lladdr(packet.options(), OPT_TARGET_LLADDR)?,
            })
        }
    }

    /// Bytes the message takes (24, plus 8 with a link-layer address option).
    pub fn buffer_len(&self) -> usize {
        let lladdr = match self {
            Icmpv6Repr::NeighborSolicit { source_lladdr, .. } => source_lladdr,
            Icmpv6Repr::NeighborAdvert { target_lladdr, .. } => target_lladdr,
        };
        ICMPV6_ND_HEADER_LEN + if lladdr.is_some() { LLADDR_OPT_LEN } else { 0 }
    }

    /// Writes the message and its checksum. The view's buffer must be exactly
    /// [`Icmpv6Repr::buffer_len`] bytes, since the checksum covers all of it.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Icmpv6Packet<T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) -> Result<()> {
        let len = packet.buffer.as_ref().len();
        if len < self.buffer_len() {
            return Err(Error::BufferTooSmall);
        }
        if len > self.buffer_len() {
            return Err(Error::Malformed("ND: buffer longer than the message"));
        }
        let (msg_type, flags, target_addr, option) = match *self {
            Icmpv6Repr::NeighborSolicit {
                target_addr,
                source_lladdr,
            } => (
                TYPE_NEIGHBOR_SOLICIT,
                NdFlags::EMPTY,
                target_addr,
                source_lladdr.map(|a| (OPT_SOURCE_LLADDR, a)),
            ),
            Icmpv6Repr::NeighborAdvert {
                flags,
                target_addr,
                target_lladdr,
            } => (
                TYPE_NEIGHBOR_ADVERT,
                flags,
                target_addr,
                target_lladdr.map(|a| (OPT_TARGET_LLADDR, a)),
            ),
        };
        packet.set_msg_type(msg_type);
        packet.set_code(0);
        packet.set_nd_flags(flags);
        packet.set_target_addr(target_addr);
        if let Some((kind, addr)) = option {
            let opts = packet.options_mut();
            opts[0] = kind;
            opts[1] = (LLADDR_OPT_LEN / 8) as u8;
            opts[2..8].copy_from_slice(&addr.0);
        }
        packet.fill_checksum(src, dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns_src() -> Ipv6Addr {
        "fe80::9439:c8ff:fe57:6619".parse().unwrap()
    }
    fn ns_dst() -> Ipv6Addr {
        "ff02::1:ff84:a881".parse().unwrap()
    }
    fn target() -> Ipv6Addr {
        "fe80::c9e:e8ff:fe84:a881".parse().unwrap()
    }
    fn mac_a() -> EthernetAddress {
        EthernetAddress([0x96, 0x39, 0xc8, 0x57, 0x66, 0x19])
    }
    fn mac_b() -> EthernetAddress {
        EthernetAddress([0x0e, 0x9e, 0xe8, 0x84, 0xa8, 0x81])
    }

    // NS from fe80::9439:c8ff:fe57:6619 to ff02::1:ff84:a881 for
    // fe80::c9e:e8ff:fe84:a881 with a source link-layer address option
    // (crafted; tshark dissects it and finds the checksum 0xb09d correct).
    static NS_BYTES: [u8; 32] = [
        0x87, 0x00, 0xb0, 0x9d, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x0c, 0x9e, 0xe8, 0xff, 0xfe, 0x84, 0xa8, 0x81, 0x01, 0x01, 0x96, 0x39, 0xc8, 0x57,
        0x66, 0x19,
    ];

    // The solicited NA in reply (R clear, S and O set) with a target
    // link-layer address option (crafted; tshark: checksum 0x7f88 correct).
    static NA_BYTES: [u8; 32] = [
        0x88, 0x00, 0x7f, 0x88, 0x60, 0x00, 0x00, 0x00, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x0c, 0x9e, 0xe8, 0xff, 0xfe, 0x84, 0xa8, 0x81, 0x02, 0x01, 0x0e, 0x9e, 0xe8, 0x84,
        0xa8, 0x81,
    ];

    fn ns() -> Icmpv6Repr {
        Icmpv6Repr::NeighborSolicit {
            target_addr: target(),
            source_lladdr: Some(mac_a()),
        }
    }

    fn na() -> Icmpv6Repr {
        Icmpv6Repr::NeighborAdvert {
            flags: NdFlags::SOLICITED | NdFlags::OVERRIDE,
            target_addr: target(),
            target_lladdr: Some(mac_b()),
        }
    }

    #[test]
    fn test_parse() {
        let p = Icmpv6Packet::new_checked(&NS_BYTES[..]).unwrap();
        assert!(p.verify_checksum(ns_src(), ns_dst()));
        assert_eq!(Icmpv6Repr::parse(&p, ns_src(), ns_dst()).unwrap(), ns());
        let p = Icmpv6Packet::new_checked(&NA_BYTES[..]).unwrap();
        assert_eq!(Icmpv6Repr::parse(&p, target(), ns_src()).unwrap(), na());
        assert_eq!(format!("{:?}", p.nd_flags()), "SO");
    }

    #[test]
    fn test_emit() {
        let mut buf = [0xaau8; 32];
        assert_eq!(ns().buffer_len(), 32);
        ns().emit(
            &mut Icmpv6Packet::new_unchecked(&mut buf[..]),
            ns_src(),
            ns_dst(),
        )
        .unwrap();
        assert_eq!(buf, NS_BYTES);
        na().emit(
            &mut Icmpv6Packet::new_unchecked(&mut buf[..]),
            target(),
            ns_src(),
        )
        .unwrap();
        assert_eq!(buf, NA_BYTES);
        let mut short = [0u8; 31];
        assert_eq!(
            ns().emit(
                &mut Icmpv6Packet::new_unchecked(&mut short[..]),
                ns_src(),
                ns_dst()
            ),
            Err(Error::BufferTooSmall)
        );
        // Without an option: 24 bytes, round trip.
        let dad = Icmpv6Repr::NeighborSolicit {
            target_addr: target(),
            source_lladdr: None,
        };
        let mut buf = [0u8; 24];
        let mut p = Icmpv6Packet::new_unchecked(&mut buf[..]);
        dad.emit(&mut p, Ipv6Addr::UNSPECIFIED, ns_dst()).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&p, Ipv6Addr::UNSPECIFIED, ns_dst()),
            Ok(dad)
        );
    }

    #[test]
    fn test_truncated() {
        for len in 0..ICMPV6_ND_HEADER_LEN {
            assert_eq!(
                Icmpv6Packet::new_checked(&NS_BYTES[..len]),
                Err(Error::Truncated)
            );
        }
        // A cut inside the option: the header is there, the option is not.
        // Its checksum fails first, so fix the checksum to reach the option walk.
        for len in ICMPV6_ND_HEADER_LEN + 1..NS_BYTES.len() {
            let mut buf = [0u8; 32];
            buf[..len].copy_from_slice(&NS_BYTES[..len]);
            let mut p = Icmpv6Packet::new_checked(&mut buf[..len]).unwrap();
            p.fill_checksum(ns_src(), ns_dst());
            assert_eq!(
                Icmpv6Repr::parse(&p, ns_src(), ns_dst()),
                Err(Error::Truncated),
                "len {len}"
            );
        }
    }

    #[test]
    fn test_bad_checksum() {
        let mut buf = NS_BYTES;
        buf[31] ^= 1;
        let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&p, ns_src(), ns_dst()),
            Err(Error::Checksum)
        );
        // Right bytes, wrong pseudo-header.
        let p = Icmpv6Packet::new_checked(&NS_BYTES[..]).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&p, target(), ns_dst()),
            Err(Error::Checksum)
        );
    }

    #[test]
    fn test_malformed() {
        let fix = |mut buf: [u8; 32], src, dst| {
            let mut p = Icmpv6Packet::new_unchecked(&mut buf[..]);
            p.fill_checksum(src, dst);
            buf
        };
        // Option length 0.
        let mut buf = NS_BYTES;
        buf[25] = 0;
        let buf = fix(buf, ns_src(), ns_dst());
        let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert!(matches!(
            Icmpv6Repr::parse(&p, ns_src(), ns_dst()),
            Err(Error::Malformed(_))
        ));
        // Multicast target.
        let mut buf = NS_BYTES;
        buf[8] = 0xff;
        let buf = fix(buf, ns_src(), ns_dst());
        let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert!(matches!(
            Icmpv6Repr::parse(&p, ns_src(), ns_dst()),
            Err(Error::Malformed(_))
        ));
        // NS from :: with a source link-layer address.
        let buf = fix(NS_BYTES, Ipv6Addr::UNSPECIFIED, ns_dst());
        let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert!(matches!(
            Icmpv6Repr::parse(&p, Ipv6Addr::UNSPECIFIED, ns_dst()),
            Err(Error::Malformed(_))
        ));
        // Solicited NA to a multicast group.
        let all_nodes: Ipv6Addr = "ff02::1".parse().unwrap();
        let buf = fix(NA_BYTES, target(), all_nodes);
        let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert!(matches!(
            Icmpv6Repr::parse(&p, target(), all_nodes),
            Err(Error::Malformed(_))
        ));
        // Echo request: unsupported.
        let mut buf = NS_BYTES;
        buf[0] = 128;
        let buf = fix(buf, ns_src(), ns_dst());
        let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert!(matches!(
            Icmpv6Repr::parse(&p, ns_src(), ns_dst()),
            Err(Error::Unsupported(_))
        ));
    }

    #[test]
    fn unknown_options_are_skipped() {
        // A nonce option (type 14, one unit) before the source lladdr option.
        let mut buf = [0u8; 40];
        buf[..24].copy_from_slice(&NS_BYTES[..24]);
        buf[24..32].copy_from_slice(&[14, 1, 1, 2, 3, 4, 5, 6]);
        buf[32..40].copy_from_slice(&NS_BYTES[24..32]);
        let mut p = Icmpv6Packet::new_unchecked(&mut buf[..]);
        p.fill_checksum(ns_src(), ns_dst());
        assert_eq!(Icmpv6Repr::parse(&p, ns_src(), ns_dst()), Ok(ns()));
    }
}
