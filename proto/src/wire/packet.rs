//! The receive-path classifier: one call per frame of an rx burst.
//!
//! Owns: the walk Ethernet → ARP | IPv4/IPv6 → TCP | ICMPv6 ND, with the
//! length and checksum checks of every layer, and the offsets of each header
//! inside the frame. It borrows the frame and never copies or allocates; a
//! later layer can keep the frame buffer and just remember the offsets.
//! It does not look inside TCP options or decide what a segment means.
//!
//! Results: malformed or corrupt frames are `Err` (a counted drop); frames of
//! kinds mptfo does not handle (other EtherTypes, UDP, IPv4 fragments, IPv6
//! extension headers, ICMPv6 other than NS/NA, ARP other than Ethernet/IPv4
//! request/reply) are [`Classified::Other`].

use core::net::{IpAddr, Ipv6Addr};

use super::arp::{ArpPacket, ArpRepr};
use super::ethernet::{EtherType, EthernetAddress, EthernetFrame, ETHERNET_HEADER_LEN};
use super::icmpv6::{Icmpv6Packet, Icmpv6Repr, TYPE_NEIGHBOR_ADVERT, TYPE_NEIGHBOR_SOLICIT};
use super::ipv4::Ipv4Packet;
use super::ipv6::{Ipv6Packet, IPV6_HEADER_LEN};
use super::tcp::{TcpFlags, TcpPacket, TcpRepr};
use super::IpProtocol;
use crate::checksum::ChecksumCaps;
use crate::seq::SubflowSeq;
use crate::{Error, Result};

/// The addresses and ports of a TCP segment as sent: `src` is the sender.
/// For a received segment that is (remote, local); [`FourTuple::reverse`]
/// gives the tuple of the segments going back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FourTuple {
    /// Sender's address.
    pub src_addr: IpAddr,
    /// Sender's port.
    pub src_port: u16,
    /// Receiver's address.
    pub dst_addr: IpAddr,
    /// Receiver's port.
    pub dst_port: u16,
}

impl FourTuple {
    /// The same flow seen from the other end (source and destination swapped).
    pub fn reverse(&self) -> FourTuple {
        FourTuple {
            src_addr: self.dst_addr,
            src_port: self.dst_port,
            dst_addr: self.src_addr,
            dst_port: self.src_port,
        }
    }
}

/// A checked TCP segment inside a frame: header values, raw options and
/// payload borrowed from the frame, and where each layer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    /// Ethernet source (the neighbour that sent the frame).
    pub eth_src: EthernetAddress,
    /// Ethernet destination.
    pub eth_dst: EthernetAddress,
    /// IP source address.
    pub src_addr: IpAddr,
    /// IP destination address.
    pub dst_addr: IpAddr,
    /// TCP source port.
    pub src_port: u16,
    /// TCP destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: SubflowSeq,
    /// Acknowledgment number, `Some` exactly when ACK is set.
    pub ack: Option<SubflowSeq>,
    /// Flags.
    pub flags: TcpFlags,
    /// Window, unscaled.
    pub window: u16,
    /// Raw TCP option bytes.
    pub options: &'a [u8],
    /// TCP payload (Ethernet padding excluded).
    pub payload: &'a [u8],
    /// Offset of the IP header in the frame.
    pub l3_offset: usize,
    /// Offset of the TCP header in the frame.
    pub l4_offset: usize,
    /// Offset of the payload in the frame (`payload` is
    /// `frame[payload_offset..payload_offset + payload.len()]`).
    pub payload_offset: usize,
}

impl<'a> TcpSegment<'a> {
    /// The segment's addresses and ports, as sent.
    pub fn tuple(&self) -> FourTuple {
        FourTuple {
            src_addr: self.src_addr,
            src_port: self.src_port,
            dst_addr: self.dst_addr,
            dst_port: self.dst_port,
        }
    }

    /// The TCP header values as a [`TcpRepr`].
    pub fn repr(&self) -> TcpRepr<'a> {
        TcpRepr {
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            options: self.options,
            payload: self.payload,
        }
    }

    /// Sequence space the segment takes: payload, plus one for SYN and one for FIN.
    pub fn segment_len(&self) -> usize {
        self.repr().segment_len()
    }
}

/// What a received frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classified<'a> {
    /// An Ethernet/IPv4 ARP request or reply.
    Arp(ArpRepr),
    /// An ICMPv6 Neighbor Solicitation or Advertisement.
    NeighborDiscovery {
        /// Ethernet source of the frame.
        eth_src: EthernetAddress,
        /// IPv6 source address (`::` in duplicate address detection).
        src_addr: Ipv6Addr,
        /// IPv6 destination address.
        dst_addr: Ipv6Addr,
        /// The message.
        repr: Icmpv6Repr,
    },
    /// A TCP segment over IPv4 or IPv6.
    Tcp(TcpSegment<'a>),
    /// A well-formed frame of a kind mptfo does not handle.
    Other,
}

/// Maps "not ours" to [`Classified::Other`] and keeps real errors.
fn other_if_unsupported<'a>(result: Result<Classified<'a>>) -> Result<Classified<'a>> {
    match result {
        Err(Error::Unsupported(_)) => Ok(Classified::Other),
        other => other,
    }
}

/// Classifies one received Ethernet frame. Checks every length field on the
/// way, the IPv4 header and TCP checksums when `caps` say the stack must,
/// and the ICMPv6 checksum always. Never panics, never allocates.
pub fn classify<'a>(frame: &'a [u8], caps: &ChecksumCaps) -> Result<Classified<'a>> {
    let eth = EthernetFrame::new_checked(frame)?;
    let l3 = &frame[ETHERNET_HEADER_LEN..];
    let result = match eth.ethertype() {
        EtherType::Arp => {
            let packet = ArpPacket::new_checked(l3)?;
            ArpRepr::parse(&packet).map(Classified::Arp)
        }
        EtherType::Ipv4 => classify_ipv4(frame, &eth, caps),
        EtherType::Ipv6 => classify_ipv6(frame, &eth, caps),
        EtherType::Unknown(_) => Ok(Classified::Other),
    };
    other_if_unsupported(result)
}

fn classify_ipv4<'a>(
    frame: &'a [u8],
    eth: &EthernetFrame<&'a [u8]>,
    caps: &ChecksumCaps,
) -> Result<Classified<'a>> {
    let l3_offset = ETHERNET_HEADER_LEN;
    let ip = Ipv4Packet::new_checked(&frame[l3_offset..])?;
    if ip.version() != 4 {
        return Err(Error::Malformed("IPv4: version is not 4"));
    }
    if caps.ipv4.verify_rx() && !ip.verify_checksum() {
        return Err(Error::Checksum);
    }
    if ip.is_fragment() || ip.protocol() != IpProtocol::Tcp {
        return Ok(Classified::Other);
    }
    let l4_offset = l3_offset + ip.header_len();
    let l4_end = l3_offset + usize::from(ip.total_len());
    tcp_segment(
        frame,
        eth,
        IpAddr::V4(ip.src_addr()),
        IpAddr::V4(ip.dst_addr()),
        l3_offset,
        l4_offset..l4_end,
        caps,
    )
}

fn classify_ipv6<'a>(
    frame: &'a [u8],
    eth: &EthernetFrame<&'a [u8]>,
    caps: &ChecksumCaps,
) -> Result<Classified<'a>> {
    let l3_offset = ETHERNET_HEADER_LEN;
    let ip = Ipv6Packet::new_checked(&frame[l3_offset..])?;
    if ip.version() != 6 {
        return Err(Error::Malformed("IPv6: version is not 6"));
    }
    let l4_offset = l3_offset + IPV6_HEADER_LEN;
    let l4_end = l4_offset + usize::from(ip.payload_len());
    match ip.next_header() {
        IpProtocol::Tcp => tcp_segment(
            frame,
            eth,
            IpAddr::V6(ip.src_addr()),
            IpAddr::V6(ip.dst_addr()),
            l3_offset,
            l4_offset..l4_end,
            caps,
        ),
        IpProtocol::Icmpv6 => {
            let message = &frame[l4_offset..l4_end];
            // Only NS and NA are read; peek at the type before asking for
            // their length, so a short echo request is `Other`, not an error.
            match message.first() {
                Some(&TYPE_NEIGHBOR_SOLICIT) | Some(&TYPE_NEIGHBOR_ADVERT) => {}
                _ => return Ok(Classified::Other),
            }
            // RFC 4861 §7.1.1/§7.1.2: ND messages must arrive with hop limit
            // 255, proof that they were not forwarded by a router.
            if ip.hop_limit() != 255 {
                return Err(Error::Malformed("ND: hop limit is not 255"));
            }
            let (src_addr, dst_addr) = (ip.src_addr(), ip.dst_addr());
            let packet = Icmpv6Packet::new_checked(message)?;
            let repr = Icmpv6Repr::parse(&packet, src_addr, dst_addr)?;
            Ok(Classified::NeighborDiscovery {
                eth_src: eth.src_addr(),
                src_addr,
                dst_addr,
                repr,
            })
        }
        _ => Ok(Classified::Other),
    }
}

fn tcp_segment<'a>(
    frame: &'a [u8],
    eth: &EthernetFrame<&'a [u8]>,
    src_addr: IpAddr,
    dst_addr: IpAddr,
    l3_offset: usize,
    l4: core::ops::Range<usize>,
    caps: &ChecksumCaps,
) -> Result<Classified<'a>> {
    let l4_offset = l4.start;
    let tcp = TcpPacket::new_checked(&frame[l4])?;
    let repr = TcpRepr::parse(&tcp, src_addr, dst_addr, caps)?;
    Ok(Classified::Tcp(TcpSegment {
        eth_src: eth.src_addr(),
        eth_dst: eth.dst_addr(),
        src_addr,
        dst_addr,
        src_port: repr.src_port,
        dst_port: repr.dst_port,
        seq: repr.seq,
        ack: repr.ack,
        flags: repr.flags,
        window: repr.window,
        options: repr.options,
        payload: repr.payload,
        l3_offset,
        l4_offset,
        payload_offset: l4_offset + tcp.header_len(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::arp::ArpOperation;
    use crate::wire::ethernet::EthernetRepr;
    use crate::wire::icmpv6::NdFlags;
    use crate::wire::ipv6::Ipv6Repr;
    use core::net::Ipv4Addr;

    // Frame 22 of tfo-invalid-cookie.pcap: a time-wait ACK with a full
    // checksum, 10.0.1.1:56270 -> 10.0.1.2:8080.
    static ACK_FRAME: [u8; 66] = [
        0x0e, 0x9e, 0xe8, 0x84, 0xa8, 0x81, 0x96, 0x39, 0xc8, 0x57, 0x66, 0x19, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x34, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x24, 0xc2, 0x0a, 0x00, 0x01, 0x01,
        0x0a, 0x00, 0x01, 0x02, 0xdb, 0xce, 0x1f, 0x90, 0x3f, 0x1b, 0xc2, 0xa5, 0x8f, 0x47, 0x9d,
        0xed, 0x80, 0x10, 0x00, 0x3f, 0x99, 0xe1, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x7a, 0xae,
        0x32, 0x1f, 0x6b, 0x51, 0x84, 0x26,
    ];

    fn mac_a() -> EthernetAddress {
        EthernetAddress([0x96, 0x39, 0xc8, 0x57, 0x66, 0x19])
    }
    fn mac_b() -> EthernetAddress {
        EthernetAddress([0x0e, 0x9e, 0xe8, 0x84, 0xa8, 0x81])
    }

    #[test]
    fn classifies_ipv4_tcp() {
        let Classified::Tcp(seg) = classify(&ACK_FRAME, &ChecksumCaps::SOFTWARE).unwrap() else {
            panic!("not TCP");
        };
        assert_eq!(seg.eth_src, mac_a());
        assert_eq!(seg.eth_dst, mac_b());
        assert_eq!(seg.src_addr, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)));
        assert_eq!(seg.dst_addr, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 2)));
        assert_eq!((seg.src_port, seg.dst_port), (56270, 8080));
        assert_eq!(seg.flags, TcpFlags::ACK);
        assert_eq!(seg.ack, Some(SubflowSeq(0x8f479ded)));
        assert_eq!(seg.window, 63);
        assert_eq!(seg.options.len(), 12);
        assert!(seg.payload.is_empty());
        assert_eq!(
            (seg.l3_offset, seg.l4_offset, seg.payload_offset),
            (14, 34, 66)
        );
        let t = seg.tuple();
        assert_eq!(t.reverse().reverse(), t);
        assert_eq!(t.reverse().src_port, 8080);
        assert_eq!(t.reverse().dst_addr, seg.src_addr);
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut padded = [0u8; 70];
        padded[..66].copy_from_slice(&ACK_FRAME);
        let Classified::Tcp(seg) = classify(&padded, &ChecksumCaps::SOFTWARE).unwrap() else {
            panic!("not TCP");
        };
        assert!(seg.payload.is_empty());
    }

    #[test]
    fn every_prefix_is_an_error_not_a_panic() {
        for len in 0..ACK_FRAME.len() {
            assert!(
                classify(&ACK_FRAME[..len], &ChecksumCaps::SOFTWARE).is_err(),
                "len {len}"
            );
            assert!(
                classify(&ACK_FRAME[..len], &ChecksumCaps::OFFLOADED).is_err(),
                "len {len}"
            );
        }
    }

    #[test]
    fn corrupt_bytes_never_panic() {
        // Every single-byte value at every position: Ok or Err, no panic.
        for i in 0..ACK_FRAME.len() {
            for v in 0..=255u8 {
                let mut f = ACK_FRAME;
                f[i] = v;
                let _ = classify(&f, &ChecksumCaps::SOFTWARE);
                let _ = classify(&f, &ChecksumCaps::OFFLOADED);
            }
        }
    }

    #[test]
    fn bad_checksums() {
        let mut f = ACK_FRAME;
        f[50] ^= 0xff; // TCP checksum
        assert_eq!(classify(&f, &ChecksumCaps::SOFTWARE), Err(Error::Checksum));
        assert!(classify(&f, &ChecksumCaps::OFFLOADED).is_ok());
        let mut f = ACK_FRAME;
        f[24] ^= 0xff; // IPv4 checksum
        assert_eq!(classify(&f, &ChecksumCaps::SOFTWARE), Err(Error::Checksum));
        assert!(classify(&f, &ChecksumCaps::OFFLOADED).is_ok());
    }

    #[test]
    fn others() {
        let mut f = ACK_FRAME;
        f[12..14].copy_from_slice(&[0x81, 0x00]); // VLAN
        assert_eq!(classify(&f, &ChecksumCaps::SOFTWARE), Ok(Classified::Other));
        let mut f = ACK_FRAME;
        f[23] = 17; // UDP
        assert_eq!(
            classify(&f, &ChecksumCaps::OFFLOADED),
            Ok(Classified::Other)
        );
        let mut f = ACK_FRAME;
        f[20] = 0x20; // more fragments
        assert_eq!(
            classify(&f, &ChecksumCaps::OFFLOADED),
            Ok(Classified::Other)
        );
    }

    fn build_v6_frame(buf: &mut [u8], next_header: IpProtocol, hop_limit: u8, l4: &[u8]) -> usize {
        let len = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + l4.len();
        let mut eth = EthernetFrame::new_unchecked(&mut buf[..len]);
        EthernetRepr {
            src_addr: mac_a(),
            dst_addr: mac_b(),
            ethertype: EtherType::Ipv6,
        }
        .emit(&mut eth)
        .unwrap();
        let ip = Ipv6Repr {
            src_addr: "fe80::9439:c8ff:fe57:6619".parse().unwrap(),
            dst_addr: "ff02::1:ff84:a881".parse().unwrap(),
            next_header,
            payload_len: l4.len(),
            hop_limit,
            traffic_class: 0,
            flow_label: 0,
        };
        ip.emit(&mut Ipv6Packet::new_unchecked(eth.payload_mut()))
            .unwrap();
        buf[ETHERNET_HEADER_LEN + IPV6_HEADER_LEN..len].copy_from_slice(l4);
        len
    }

    #[test]
    fn classifies_neighbor_solicitation() {
        let src: Ipv6Addr = "fe80::9439:c8ff:fe57:6619".parse().unwrap();
        let dst: Ipv6Addr = "ff02::1:ff84:a881".parse().unwrap();
        let ns = Icmpv6Repr::NeighborSolicit {
            target_addr: "fe80::c9e:e8ff:fe84:a881".parse().unwrap(),
            source_lladdr: Some(mac_a()),
        };
        let mut msg = [0u8; 32];
        ns.emit(&mut Icmpv6Packet::new_unchecked(&mut msg[..]), src, dst)
            .unwrap();
        let mut buf = [0u8; 128];
        let len = build_v6_frame(&mut buf, IpProtocol::Icmpv6, 255, &msg);
        assert_eq!(
            classify(&buf[..len], &ChecksumCaps::SOFTWARE),
            Ok(Classified::NeighborDiscovery {
                eth_src: mac_a(),
                src_addr: src,
                dst_addr: dst,
                repr: ns
            })
        );
        for cut in 0..len {
            assert!(
                classify(&buf[..cut], &ChecksumCaps::SOFTWARE).is_err(),
                "cut {cut}"
            );
        }
        // Forwarded (hop limit 64): rejected.
        let len = build_v6_frame(&mut buf, IpProtocol::Icmpv6, 64, &msg);
        assert!(matches!(
            classify(&buf[..len], &ChecksumCaps::SOFTWARE),
            Err(Error::Malformed(_))
        ));
        // An echo request is not ours, even a short one.
        let echo = [128u8, 0, 0, 0, 0, 1, 0, 1];
        let len = build_v6_frame(&mut buf, IpProtocol::Icmpv6, 64, &echo);
        assert_eq!(
            classify(&buf[..len], &ChecksumCaps::SOFTWARE),
            Ok(Classified::Other)
        );
        // Nor is UDP.
        let len = build_v6_frame(&mut buf, IpProtocol::Udp, 64, &echo);
        assert_eq!(
            classify(&buf[..len], &ChecksumCaps::SOFTWARE),
            Ok(Classified::Other)
        );
        let na = Icmpv6Repr::NeighborAdvert {
            flags: NdFlags::OVERRIDE,
            target_addr: "fe80::c9e:e8ff:fe84:a881".parse().unwrap(),
            target_lladdr: Some(mac_b()),
        };
        na.emit(&mut Icmpv6Packet::new_unchecked(&mut msg[..]), src, dst)
            .unwrap();
        let len = build_v6_frame(&mut buf, IpProtocol::Icmpv6, 255, &msg);
        let Ok(Classified::NeighborDiscovery { repr, .. }) =
            classify(&buf[..len], &ChecksumCaps::SOFTWARE)
        else {
            panic!("not ND");
        };
        assert_eq!(repr, na);
    }

    #[test]
    fn classifies_ipv6_tcp() {
        let src: Ipv6Addr = "fe80::9439:c8ff:fe57:6619".parse().unwrap();
        let dst: Ipv6Addr = "ff02::1:ff84:a881".parse().unwrap();
        let repr = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SubflowSeq(1),
            ack: Some(SubflowSeq(2)),
            flags: TcpFlags::PSH,
            window: 512,
            options: &[1, 1, 1, 1],
            payload: b"GET",
        };
        let mut seg = [0u8; 27];
        repr.emit(
            &mut TcpPacket::new_unchecked(&mut seg[..]),
            src.into(),
            dst.into(),
            &ChecksumCaps::SOFTWARE,
        )
        .unwrap();
        let mut buf = [0u8; 128];
        let len = build_v6_frame(&mut buf, IpProtocol::Tcp, 64, &seg);
        let Classified::Tcp(got) = classify(&buf[..len], &ChecksumCaps::SOFTWARE).unwrap() else {
            panic!("not TCP");
        };
        assert_eq!(got.flags, TcpFlags::PSH | TcpFlags::ACK);
        assert_eq!(got.payload, b"GET");
        assert_eq!(
            (got.l3_offset, got.l4_offset, got.payload_offset),
            (14, 54, 78)
        );
        assert_eq!(&buf[got.payload_offset..got.payload_offset + 3], b"GET");
        assert_eq!(got.src_addr, IpAddr::V6(src));
        assert_eq!(got.segment_len(), 3);
    }

    #[test]
    fn classifies_arp() {
        let arp = ArpRepr {
            operation: ArpOperation::Reply,
            source_hardware_addr: mac_b(),
            source_protocol_addr: Ipv4Addr::new(10, 0, 1, 2),
            target_hardware_addr: mac_a(),
            target_protocol_addr: Ipv4Addr::new(10, 0, 1, 1),
        };
        let mut buf = [0u8; 60]; // minimum frame, padded
        let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
        EthernetRepr {
            src_addr: mac_b(),
            dst_addr: mac_a(),
            ethertype: EtherType::Arp,
        }
        .emit(&mut eth)
        .unwrap();
        arp.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()))
            .unwrap();
        assert_eq!(
            classify(&buf, &ChecksumCaps::SOFTWARE),
            Ok(Classified::Arp(arp))
        );
        buf[21] = 9; // unknown operation
        assert_eq!(
            classify(&buf, &ChecksumCaps::SOFTWARE),
            Ok(Classified::Other)
        );
        assert_eq!(
            classify(&buf[..41], &ChecksumCaps::SOFTWARE),
            Err(Error::Truncated)
        );
    }
}
