//! The wire layer against real Linux 6.18 ↔ 6.18 MPTCP+TFO captures.
//!
//! What the fixtures hold (found while writing this test, checked again
//! below so that a change of fixtures shows up):
//!
//! - 222 frames in 11 files, every one Ethernet/IPv4/TCP: no ARP, no IPv6,
//!   no IP options, no Ethernet padding (captured at the sending veth, so
//!   frames shorter than 60 bytes, e.g. 54-byte bare ACKs, are not padded).
//! - Every IPv4 header checksum is correct.
//! - The TCP checksums are NOT correct, except in 4 frames. The captures were
//!   taken on veth with tx checksum offload on, so Linux left the segments
//!   CHECKSUM_PARTIAL: the field holds the seed a NIC would complete, the
//!   folded (not complemented) pseudo-header sum. tshark reports them as
//!   "incorrect (maybe caused by TCP checksum offload)". The 4 exceptions are
//!   the last frame of tfo-cookie-tcp-vs-mptcp, tfo-invalid-cookie,
//!   tfo-syn-data-delay20ms-mptcp-deferred and tfo-syn-data-two-subflows:
//!   bare ACKs sent from TIME-WAIT through Linux's per-netns control socket,
//!   which computes the checksum in full.
//!
//! So: `emit(parse(frame))` with software checksums reproduces the 4 full
//! frames exactly, and with tx offload caps (where `TcpRepr::emit` writes
//! that same seed) reproduces the 218 partial ones exactly; and a software
//! emit of every frame verifies and differs from the capture only in the two
//! checksum bytes.

mod common;

use std::net::IpAddr;
use std::sync::OnceLock;

use mptfo_proto::checksum::ChecksumCaps;
use mptfo_proto::wire::tcp::pseudo_header;
use mptfo_proto::wire::{
    classify, Classified, EtherType, EthernetFrame, EthernetRepr, IpProtocol, Ipv4Packet, Ipv4Repr,
    TcpPacket, TcpRepr, ETHERNET_HEADER_LEN, IPV4_HEADER_LEN,
};
use mptfo_proto::Error;
use proptest::prelude::*;

fn frames() -> &'static [common::Frame] {
    static FRAMES: OnceLock<Vec<common::Frame>> = OnceLock::new();
    FRAMES.get_or_init(common::all_frames)
}

/// Does the TCP checksum of this Ethernet/IPv4/TCP frame verify?
fn tcp_checksum_verifies(frame: &[u8]) -> bool {
    let ip = Ipv4Packet::new_checked(&frame[ETHERNET_HEADER_LEN..]).unwrap();
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    let pseudo = pseudo_header(
        IpAddr::V4(ip.src_addr()),
        IpAddr::V4(ip.dst_addr()),
        tcp.total_len(),
    )
    .unwrap();
    tcp.verify_checksum(pseudo)
}

#[test]
fn fixture_inventory() {
    let frames = frames();
    assert_eq!(frames.len(), 222);
    let mut full = Vec::new();
    for f in frames {
        let b = &f.bytes;
        assert_eq!(
            u16::from_be_bytes([b[12], b[13]]),
            0x0800,
            "{} #{}",
            f.file,
            f.number
        );
        let ip = Ipv4Packet::new_checked(&b[ETHERNET_HEADER_LEN..]).unwrap();
        assert_eq!(ip.header_len(), IPV4_HEADER_LEN);
        assert_eq!(ip.protocol(), IpProtocol::Tcp);
        assert_eq!(
            ETHERNET_HEADER_LEN + usize::from(ip.total_len()),
            b.len(),
            "padding"
        );
        assert!(
            ip.verify_checksum(),
            "{} #{}: IPv4 checksum",
            f.file,
            f.number
        );
        if tcp_checksum_verifies(b) {
            full.push((f.file.as_str(), f.number));
        } else {
            // The partial checksum is exactly the pseudo-header seed.
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            let pseudo = pseudo_header(
                IpAddr::V4(ip.src_addr()),
                IpAddr::V4(ip.dst_addr()),
                tcp.total_len(),
            )
            .unwrap();
            assert_eq!(tcp.checksum(), pseudo.fold(), "{} #{}", f.file, f.number);
        }
    }
    assert_eq!(
        full,
        [
            ("tfo-cookie-tcp-vs-mptcp.pcap", 43),
            ("tfo-invalid-cookie.pcap", 22),
            ("tfo-syn-data-delay20ms-mptcp-deferred.pcap", 15),
            ("tfo-syn-data-two-subflows.pcap", 30),
        ]
    );
}

#[test]
fn classify_every_frame() {
    for f in frames() {
        let what = format!("{} #{}", f.file, f.number);
        let full = tcp_checksum_verifies(&f.bytes);
        let Classified::Tcp(seg) = classify(&f.bytes, &ChecksumCaps::OFFLOADED).unwrap() else {
            panic!("{what}: not TCP");
        };
        // Against the test support's independent walk of the same bytes.
        let (l4, doff) = f.tcp_range().unwrap();
        assert_eq!(seg.l3_offset, ETHERNET_HEADER_LEN, "{what}");
        assert_eq!(seg.l4_offset, l4, "{what}");
        assert_eq!(seg.payload_offset, l4 + doff, "{what}");
        assert_eq!(seg.options, f.tcp_options().unwrap(), "{what}");
        assert_eq!(seg.payload, f.tcp_payload().unwrap(), "{what}");
        assert_eq!(seg.flags.bits(), f.tcp_flags().unwrap(), "{what}");
        assert_eq!(
            seg.ack.is_some(),
            f.tcp_flags().unwrap() & 0x10 != 0,
            "{what}"
        );
        let b = &f.bytes;
        assert_eq!(
            seg.src_port,
            u16::from_be_bytes([b[l4], b[l4 + 1]]),
            "{what}"
        );
        assert_eq!(
            seg.dst_port,
            u16::from_be_bytes([b[l4 + 2], b[l4 + 3]]),
            "{what}"
        );
        assert!(matches!(seg.src_addr, IpAddr::V4(_)));
        assert_eq!(seg.tuple().reverse().dst_addr, seg.src_addr);
        // With software checksums the partial ones are rejected.
        let strict = classify(&f.bytes, &ChecksumCaps::SOFTWARE);
        if full {
            assert_eq!(strict, Ok(Classified::Tcp(seg)), "{what}");
        } else {
            assert_eq!(strict, Err(Error::Checksum), "{what}");
        }
    }
}

#[test]
fn parse_and_emit_reproduce_every_frame() {
    for f in frames() {
        let what = format!("{} #{}", f.file, f.number);
        let full = tcp_checksum_verifies(&f.bytes);

        let eth = EthernetFrame::new_checked(&f.bytes[..]).unwrap();
        let eth_repr = EthernetRepr::parse(&eth).unwrap();
        assert_eq!(eth_repr.ethertype, EtherType::Ipv4);
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        let ip_repr = Ipv4Repr::parse(&ip, &ChecksumCaps::SOFTWARE).unwrap();
        let (src, dst) = (IpAddr::V4(ip_repr.src_addr), IpAddr::V4(ip_repr.dst_addr));
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        let rx_caps = if full {
            ChecksumCaps::SOFTWARE
        } else {
            ChecksumCaps::OFFLOADED
        };
        let tcp_repr = TcpRepr::parse(&tcp, src, dst, &rx_caps).unwrap();
        assert_eq!(
            TcpRepr::parse(&tcp, src, dst, &ChecksumCaps::SOFTWARE).is_ok(),
            full,
            "{what}"
        );
        let len = eth_repr.buffer_len() + ip_repr.buffer_len() + tcp_repr.buffer_len();
        assert_eq!(len, f.bytes.len(), "{what}");

        // Exact reproduction: IPv4 checksum in software; TCP checksum in
        // software for the full frames, the offload seed for the partial ones.
        let tx_tcp = ChecksumCaps {
            ipv4: ChecksumCaps::SOFTWARE.ipv4,
            tcp: if full {
                ChecksumCaps::SOFTWARE.tcp
            } else {
                ChecksumCaps::OFFLOADED.tcp
            },
        };
        let out = emit_frame(&eth_repr, &ip_repr, &tcp_repr, &tx_tcp, false);
        assert_eq!(out, f.bytes, "{what}: emit(parse(frame))");
        let out = emit_frame(&eth_repr, &ip_repr, &tcp_repr, &tx_tcp, true);
        assert_eq!(out, f.bytes, "{what}: emit_header_only");

        // Software checksums: a frame that verifies, equal but for the
        // checksum bytes.
        let out = emit_frame(
            &eth_repr,
            &ip_repr,
            &tcp_repr,
            &ChecksumCaps::SOFTWARE,
            false,
        );
        assert!(tcp_checksum_verifies(&out), "{what}");
        assert!(classify(&out, &ChecksumCaps::SOFTWARE).is_ok(), "{what}");
        let check = ETHERNET_HEADER_LEN + ip.header_len() + 16;
        assert_eq!(out[..check], f.bytes[..check], "{what}");
        assert_eq!(out[check + 2..], f.bytes[check + 2..], "{what}");
    }
}

/// Builds a whole frame from the three reprs. With `header_only`, the TCP
/// payload is put in place first and the headers are written in front of
/// it, the way the stack fills buffer headroom.
fn emit_frame(
    eth: &EthernetRepr,
    ip: &Ipv4Repr,
    tcp: &TcpRepr<'_>,
    caps: &ChecksumCaps,
    header_only: bool,
) -> Vec<u8> {
    let l4 = eth.buffer_len() + ip.buffer_len();
    let mut out = vec![0u8; l4 + tcp.buffer_len()];
    let (src, dst) = (IpAddr::V4(ip.src_addr), IpAddr::V4(ip.dst_addr));
    if header_only {
        out[l4 + tcp.header_len()..].copy_from_slice(tcp.payload);
        let mut packet = TcpPacket::new_unchecked(&mut out[l4..]);
        let header = TcpRepr {
            payload: &[],
            ..*tcp
        };
        header
            .emit_header_only(&mut packet, src, dst, caps)
            .unwrap();
    } else {
        let mut packet = TcpPacket::new_unchecked(&mut out[l4..]);
        tcp.emit(&mut packet, src, dst, caps).unwrap();
    }
    let mut frame = EthernetFrame::new_unchecked(&mut out[..]);
    eth.emit(&mut frame).unwrap();
    ip.emit(&mut Ipv4Packet::new_unchecked(frame.payload_mut()), caps)
        .unwrap();
    out
}

#[test]
fn every_prefix_of_every_frame_is_rejected() {
    for f in frames() {
        for len in 0..f.bytes.len() {
            let r = classify(&f.bytes[..len], &ChecksumCaps::OFFLOADED);
            assert!(r.is_err(), "{} #{} cut at {len}: {r:?}", f.file, f.number);
        }
    }
}

proptest! {
    /// Corrupted fixture frames: classify returns Ok or Err, never panics,
    /// and whatever it returns points inside the frame.
    #[test]
    fn classify_never_panics_on_corrupted_frames(
        index in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let frames = frames();
        let mut bytes = frames[index.index(frames.len())].bytes.clone();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let len = bytes.len() - cut.index(bytes.len() / 4 + 1);
        let bytes = &bytes[..len];
        for caps in [ChecksumCaps::SOFTWARE, ChecksumCaps::OFFLOADED] {
            if let Ok(Classified::Tcp(seg)) = classify(bytes, &caps) {
                prop_assert!(seg.payload_offset + seg.payload.len() <= bytes.len());
                prop_assert_eq!(
                    &bytes[seg.payload_offset..seg.payload_offset + seg.payload.len()],
                    seg.payload
                );
            }
        }
    }

    /// Arbitrary bytes behind an IPv4 or IPv6 Ethernet header.
    #[test]
    fn classify_never_panics_on_random_frames(
        ethertype in prop::sample::select(vec![0x0800u16, 0x86dd, 0x0806, 0x1234]),
        mut body in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        // Give IP headers a right version and length often enough to get
        // past them to the transport layer.
        let body_len = body.len() as u16;
        match (ethertype, body.len()) {
            (0x0800, 4..) => {
                body[0] = 0x40 | (body[0] & 0x0f);
                body[2..4].copy_from_slice(&body_len.to_be_bytes());
            }
            (0x86dd, 40..) => {
                body[0] = 0x60 | (body[0] & 0x0f);
                body[4..6].copy_from_slice(&(body_len - 40).to_be_bytes());
            }
            _ => {}
        }
        let mut bytes = vec![0u8; 12];
        bytes.extend_from_slice(&ethertype.to_be_bytes());
        bytes.extend_from_slice(&body);
        let _ = classify(&bytes, &ChecksumCaps::SOFTWARE);
        let _ = classify(&bytes, &ChecksumCaps::OFFLOADED);
    }
}
