//! Entry points for fuzzing: one function per cargo-fuzz target in `fuzz/`,
//! also replayed over the committed seed corpus by `tests/fuzz_corpus.rs`
//! and fed arbitrary bytes by `tests/proptest_roundtrip.rs`.
//!
//! Owns: the properties checked on arbitrary input. Every parser must return
//! `Ok` or `Err` without panicking, and whatever parses must re-emit to the
//! same value and, where the format keeps every bit, to the same bytes. A
//! panic here is a finding: either a parser panicked on malformed input or a
//! round trip lost information. Malformed input itself never panics.
//! Must not touch: anything outside the public API of this crate; these
//! functions only read and emit through it.
//!
//! Not part of the stable API (hidden from the docs); it allocates freely.

#![doc(hidden)]

use core::net::IpAddr;

use crate::checksum::ChecksumCaps;
use crate::options::mptcp::{subtype, KIND_MPTCP, MAX_MPTCP_LEN};
use crate::options::{MpJoin, MptcpOption, SegmentOptions, TcpOption, TcpOptionIter};
use crate::wire::tcp::pseudo_header;
use crate::wire::{
    classify, ArpPacket, ArpRepr, Classified, EthernetFrame, EthernetRepr, Icmpv6Packet,
    Icmpv6Repr, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr, TcpPacket, TcpRepr, TcpSegment,
    ETHERNET_HEADER_LEN, IPV4_HEADER_LEN, IPV6_HEADER_LEN, TCP_HEADER_LEN,
};

/// The checksum capabilities every frame is classified with.
const CAPS: [ChecksumCaps; 2] = [ChecksumCaps::SOFTWARE, ChecksumCaps::OFFLOADED];

/// Offset of the TCP checksum field in the TCP header.
const TCP_CHECKSUM: core::ops::Range<usize> = 16..18;
/// Offset of the IPv4 header checksum field.
const IPV4_CHECKSUM: core::ops::Range<usize> = 10..12;

/// Target `packet`: one received Ethernet frame.
///
/// Classifies it with software and with offloaded checksums (what passes the
/// stricter checks must classify identically without them), re-emits every
/// header that parses (Ethernet, ARP, IPv4, IPv6, TCP, ICMPv6 ND) and checks
/// the round trip, and runs [`tcp_options`] over the options of a TCP
/// segment. [`views`] reads every getter of every header view.
pub fn packet(data: &[u8]) {
    views(data);
    let software = classify(data, &ChecksumCaps::SOFTWARE);
    let offloaded = classify(data, &ChecksumCaps::OFFLOADED);
    if let Ok(s) = &software {
        // Offload only skips checks: it cannot turn a good frame bad or
        // change what it is.
        assert_eq!(
            offloaded.as_ref(),
            Ok(s),
            "software checksums accepted the frame, offloaded classify differs"
        );
    }
    for (caps, result) in CAPS.iter().zip([&software, &offloaded]) {
        match *result {
            Ok(Classified::Tcp(ref seg)) => tcp_segment_roundtrip(data, seg, caps),
            Ok(Classified::Arp(ref arp)) => arp_roundtrip(data, arp),
            Ok(Classified::NeighborDiscovery {
                src_addr,
                dst_addr,
                repr,
                ..
            }) => {
                let mut buf = vec![0u8; repr.buffer_len()];
                repr.emit(
                    &mut Icmpv6Packet::new_unchecked(&mut buf[..]),
                    src_addr,
                    dst_addr,
                )
                .expect("ICMPv6 emit into buffer_len() bytes");
                let again = Icmpv6Packet::new_checked(&buf[..])
                    .and_then(|p| Icmpv6Repr::parse(&p, src_addr, dst_addr));
                assert_eq!(again, Ok(repr), "ICMPv6 ND repr round trip");
            }
            Ok(Classified::Other) | Err(_) => {}
        }
    }
    if let Ok(Classified::Tcp(seg)) = &offloaded {
        tcp_options(seg.options);
    }
    header_reprs(data);
}

/// Target `tcp_options`: arbitrary bytes as the option area of a TCP header.
///
/// Every option [`TcpOptionIter`] yields re-emits to its own bytes (MPTCP:
/// up to the bits RFC 8684 reserves) and parses back to the same value;
/// [`SegmentOptions::parse`] and [`SegmentOptions::parse_lossy`] agree with
/// each other and with the iterator.
pub fn tcp_options(data: &[u8]) {
    let strict = SegmentOptions::parse(data);
    let lossy = SegmentOptions::parse_lossy(data);
    match strict {
        Ok(s) => {
            assert!(!s.truncated, "strict parse set `truncated`");
            assert_eq!(s, lossy, "strict and lossy parse differ on a good list");
        }
        Err(_) => assert!(lossy.truncated, "lossy parse missed the strict error"),
    }

    let mut it = TcpOptionIter::new(data);
    let mut at = 0;
    let mut failed = false;
    let mut seen = Summary::default();
    for item in &mut it {
        let opt = match item {
            Ok(o) => o,
            Err(_) => {
                failed = true;
                break;
            }
        };
        let n = tcp_option_roundtrip(&data[at..], &opt);
        seen.add(&opt);
        at += n;
    }
    assert_eq!(at, it.offset(), "iterator offset vs. option lengths");
    assert!(at <= data.len(), "options ran past the buffer");
    assert_eq!(
        failed, lossy.truncated,
        "iterator error vs. lossy `truncated`"
    );
    seen.check(&lossy);
}

/// Target `mptcp_option`: arbitrary bytes as one MPTCP option (kind byte
/// first), and the same bytes as an option body (subtype byte first).
pub fn mptcp_option(data: &[u8]) {
    let parsed = MptcpOption::parse(data);
    if let Ok(m) = parsed {
        let n = usize::from(data[1]);
        mptcp_roundtrip(&data[..n], &m);
    }
    // The TCP option parser agrees: kind 30 is MPTCP exactly when it parses.
    match TcpOption::parse(data) {
        Ok((TcpOption::Mptcp(m), n)) => {
            assert_eq!(
                parsed,
                Ok(m),
                "TcpOption::parse and MptcpOption::parse differ"
            );
            assert_eq!(n, m.buffer_len(), "TCP option length of an MPTCP option");
        }
        Ok((
            TcpOption::Unknown {
                kind: KIND_MPTCP, ..
            },
            _,
        )) => {
            assert!(
                parsed.is_err(),
                "MPTCP option parsed but TcpOption says Unknown"
            );
        }
        Ok(_) | Err(_) => assert!(
            parsed.is_err(),
            "MptcpOption::parse accepted what TcpOption::parse rejects"
        ),
    }
    if let Ok(m) = MptcpOption::parse_body(data) {
        let mut whole = vec![KIND_MPTCP, (data.len() + 2) as u8];
        whole.extend_from_slice(data);
        assert_eq!(MptcpOption::parse(&whole), Ok(m), "parse_body vs. parse");
        mptcp_roundtrip(&whole, &m);
    }
}

/// Wraps `data` in every header view at the offsets a frame would have them
/// and, for each view that passes `new_checked`, calls every getter. The
/// views' contract is that no accessor panics once the lengths are checked.
pub fn views(data: &[u8]) {
    if let Ok(f) = EthernetFrame::new_checked(data) {
        let _ = (f.dst_addr(), f.src_addr(), f.ethertype(), f.payload().len());
        let _ = EthernetRepr::parse(&f);
    }
    let l3 = data.get(ETHERNET_HEADER_LEN..).unwrap_or(&[]);
    for buf in [data, l3] {
        if let Ok(p) = ArpPacket::new_checked(buf) {
            let _ = (p.hardware_type(), p.protocol_type(), p.hardware_len());
            let _ = (p.protocol_len(), p.operation(), p.source_hardware_addr());
            let _ = (p.source_protocol_addr(), p.target_hardware_addr());
            let _ = p.target_protocol_addr();
        }
        if let Ok(p) = Ipv4Packet::new_checked(buf) {
            let _ = (
                p.version(),
                p.header_len(),
                p.dscp(),
                p.ecn(),
                p.total_len(),
            );
            let _ = (p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset());
            let _ = (p.is_fragment(), p.ttl(), p.protocol(), p.checksum());
            let _ = (p.src_addr(), p.dst_addr(), p.verify_checksum());
            let _ = (p.options().len(), p.payload().len());
            tcp_view(
                p.payload(),
                IpAddr::V4(p.src_addr()),
                IpAddr::V4(p.dst_addr()),
            );
        }
        if let Ok(p) = Ipv6Packet::new_checked(buf) {
            let _ = (
                p.version(),
                p.traffic_class(),
                p.flow_label(),
                p.payload_len(),
            );
            let _ = (p.next_header(), p.hop_limit(), p.src_addr(), p.dst_addr());
            let (src, dst) = (p.src_addr(), p.dst_addr());
            tcp_view(p.payload(), IpAddr::V6(src), IpAddr::V6(dst));
            if let Ok(m) = Icmpv6Packet::new_checked(p.payload()) {
                let _ = (m.msg_type(), m.code(), m.checksum(), m.nd_flags());
                let _ = (m.target_addr(), m.options().len());
                let _ = m.verify_checksum(src, dst);
            }
        }
    }
    // The TCP view over raw bytes, with made-up addresses.
    let zero = IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED);
    tcp_view(data, zero, zero);
}

/// Every getter of a TCP view over `seg`, if its lengths check.
fn tcp_view(seg: &[u8], src: IpAddr, dst: IpAddr) {
    let Ok(t) = TcpPacket::new_checked(seg) else {
        return;
    };
    let _ = (t.src_port(), t.dst_port(), t.seq_number(), t.ack_number());
    let _ = (t.data_offset(), t.header_len(), t.flags(), t.window_len());
    let _ = (
        t.checksum(),
        t.urgent_at(),
        t.options().len(),
        t.payload().len(),
    );
    if let Ok(pseudo) = pseudo_header(src, dst, t.total_len()) {
        let _ = t.verify_checksum(pseudo);
    }
    for caps in &CAPS {
        let _ = TcpRepr::parse(&t, src, dst, caps);
    }
}

/// Ethernet, IPv4 and IPv6 reprs of a frame, each parsed on its own (not
/// through `classify`) and re-emitted.
fn header_reprs(data: &[u8]) {
    let Ok(frame) = EthernetFrame::new_checked(data) else {
        return;
    };
    if let Ok(repr) = EthernetRepr::parse(&frame) {
        let mut out = [0u8; ETHERNET_HEADER_LEN];
        repr.emit(&mut EthernetFrame::new_unchecked(&mut out[..]))
            .expect("Ethernet emit into 14 bytes");
        // Every bit of the header is a field of the repr.
        assert_eq!(out[..], data[..ETHERNET_HEADER_LEN], "Ethernet bytes");
    }
    let l3 = &data[ETHERNET_HEADER_LEN..];
    if let Ok(arp) = ArpPacket::new_checked(l3).and_then(|p| ArpRepr::parse(&p)) {
        arp_roundtrip(data, &arp);
    }
    if let Ok(p) = Ipv4Packet::new_checked(l3) {
        for caps in &CAPS {
            if let Ok(repr) = Ipv4Repr::parse(&p, caps) {
                ipv4_roundtrip(&p, &repr, caps);
            }
        }
    }
    if let Ok(p) = Ipv6Packet::new_checked(l3) {
        if let Ok(repr) = Ipv6Repr::parse(&p) {
            let mut out = vec![0u8; IPV6_HEADER_LEN + repr.payload_len];
            repr.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]))
                .expect("IPv6 emit into a whole packet");
            // Version, class, flow, length, next header, hop limit and the
            // addresses: the fixed header has no bit the repr drops.
            assert_eq!(out[..IPV6_HEADER_LEN], l3[..IPV6_HEADER_LEN], "IPv6 bytes");
            let again = Ipv6Packet::new_checked(&out[..]).and_then(|p| Ipv6Repr::parse(&p));
            assert_eq!(again, Ok(repr), "IPv6 repr round trip");
        }
    }
}

/// An ARP repr parsed from `frame[14..]` re-emits to the same 28 bytes: the
/// parser accepts only the Ethernet/IPv4 layout and the two operations, so
/// every remaining bit is a field.
fn arp_roundtrip(frame: &[u8], arp: &ArpRepr) {
    let mut out = [0u8; 28];
    arp.emit(&mut ArpPacket::new_unchecked(&mut out[..]))
        .expect("ARP emit into 28 bytes");
    let l3 = &frame[ETHERNET_HEADER_LEN..];
    assert_eq!(out[..], l3[..out.len()], "ARP bytes");
    let again = ArpPacket::new_checked(&out[..]).and_then(|p| ArpRepr::parse(&p));
    assert_eq!(again, Ok(*arp), "ARP repr round trip");
}

/// The IPv4 repr re-emits to a header that parses back to it. Bytes match
/// when the header had no options and the reserved flag bit was clear (the
/// repr keeps neither), checksum aside; the checksum matches too when the
/// parse had verified it, up to the two encodings of zero.
fn ipv4_roundtrip(p: &Ipv4Packet<&[u8]>, repr: &Ipv4Repr, caps: &ChecksumCaps) {
    let mut out = vec![0u8; IPV4_HEADER_LEN + repr.payload_len];
    repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]), caps)
        .expect("IPv4 emit into a whole packet");
    let emitted = Ipv4Packet::new_checked(&out[..]).expect("emitted IPv4 lengths");
    assert_eq!(
        Ipv4Repr::parse(&emitted, caps),
        Ok(*repr),
        "IPv4 repr round trip"
    );
    if caps.ipv4.compute_tx() {
        assert!(emitted.verify_checksum(), "emitted IPv4 checksum");
    }
    let orig = &p.into_inner()[..IPV4_HEADER_LEN];
    if p.header_len() == IPV4_HEADER_LEN && orig[6] & 0x80 == 0 {
        let mut want = orig.to_vec();
        want[IPV4_CHECKSUM].copy_from_slice(&out[IPV4_CHECKSUM]);
        assert_eq!(out[..IPV4_HEADER_LEN], want[..], "IPv4 bytes");
        if caps.ipv4.verify_rx() && caps.ipv4.compute_tx() {
            same_checksum(&orig[IPV4_CHECKSUM], &out[IPV4_CHECKSUM], "IPv4");
        }
    }
}

/// Two checksum fields that both verify over the same bytes are equal, or
/// are 0x0000 and 0xffff (RFC 1071's two zeros).
fn same_checksum(a: &[u8], b: &[u8], what: &str) {
    let a = u16::from_be_bytes([a[0], a[1]]);
    let b = u16::from_be_bytes([b[0], b[1]]);
    assert!(
        a == b || (a | b == 0xffff && a & b == 0),
        "{what} checksum {a:#06x} re-emitted as {b:#06x}"
    );
}

/// The TCP segment classify found re-emits to a segment that parses back to
/// the same repr. Bytes match up to what the repr does not keep: the urgent
/// pointer, the reserved bits next to the data offset, and the
/// acknowledgment field when ACK is clear (written as zero).
fn tcp_segment_roundtrip(frame: &[u8], seg: &TcpSegment<'_>, caps: &ChecksumCaps) {
    let repr = seg.repr();
    let end = seg.payload_offset + seg.payload.len();
    let orig = &frame[seg.l4_offset..end];
    assert_eq!(repr.buffer_len(), orig.len(), "TCP segment length");
    assert_eq!(
        frame.get(seg.payload_offset..end),
        Some(seg.payload),
        "payload offset"
    );
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut TcpPacket::new_unchecked(&mut out[..]),
        seg.src_addr,
        seg.dst_addr,
        caps,
    )
    .expect("TCP emit into buffer_len() bytes");
    let emitted = TcpPacket::new_checked(&out[..]).expect("emitted TCP lengths");
    let again = TcpRepr::parse(&emitted, seg.src_addr, seg.dst_addr, caps);
    assert_eq!(again, Ok(repr), "TCP repr round trip");
    if caps.tcp.compute_tx() {
        let pseudo = pseudo_header(seg.src_addr, seg.dst_addr, out.len()).expect("same family");
        assert!(emitted.verify_checksum(pseudo), "emitted TCP checksum");
    }
    let mut want = orig.to_vec();
    want[12] &= 0xf0;
    want[18..20].fill(0);
    if repr.ack.is_none() {
        want[8..12].fill(0);
    }
    let normalised = want[..] == orig[..];
    want[TCP_CHECKSUM].copy_from_slice(&out[TCP_CHECKSUM]);
    assert_eq!(out, want, "TCP bytes");
    if normalised && caps.tcp.verify_rx() && caps.tcp.compute_tx() {
        same_checksum(&orig[TCP_CHECKSUM], &out[TCP_CHECKSUM], "TCP");
    }
    // What classify reports is what the header says.
    let view = TcpPacket::new_checked(orig).expect("classified TCP lengths");
    assert_eq!(seg.l4_offset + view.header_len(), seg.payload_offset);
    assert!(view.header_len() >= TCP_HEADER_LEN);
}

/// Re-emits one TCP option found at the start of `raw`; returns its length.
fn tcp_option_roundtrip(raw: &[u8], opt: &TcpOption<'_>) -> usize {
    let n = opt.buffer_len();
    assert!(n <= raw.len(), "{opt:?}: longer than its bytes");
    if let TcpOption::Mptcp(m) = opt {
        mptcp_roundtrip(&raw[..n], m);
    } else {
        let mut out = [0u8; 2 + u8::MAX as usize];
        assert_eq!(opt.try_emit(&mut out), Ok(n), "{opt:?}: emit length");
        // Outside MPTCP every bit of a parsed option is kept.
        assert_eq!(out[..n], raw[..n], "{opt:?}: re-emitted bytes");
        assert_eq!(
            TcpOption::parse(&out[..n]),
            Ok((*opt, n)),
            "{opt:?}: parse of the re-emitted bytes"
        );
    }
    n
}

/// `raw` is exactly one MPTCP option that parsed to `m`: it re-emits to the
/// same bytes except for the bits RFC 8684 reserves (written as zero), and
/// the re-emitted bytes parse to `m` again.
fn mptcp_roundtrip(raw: &[u8], m: &MptcpOption) {
    let n = m.buffer_len();
    assert_eq!(n, raw.len(), "{m:?}: buffer_len vs. the length byte");
    assert!(n <= MAX_MPTCP_LEN, "{m:?}: longer than 40 bytes");
    let mut out = [0u8; MAX_MPTCP_LEN];
    assert_eq!(m.try_emit(&mut out), Ok(n), "{m:?}: emit length");
    let out = &out[..n];
    let (keep2, keep3) = mptcp_kept_bits(m);
    let mut want = raw.to_vec();
    want[2] &= 0xf0 | keep2;
    if let Some(b) = want.get_mut(3) {
        *b &= keep3;
    }
    assert_eq!(out, &want[..], "{m:?}: re-emitted bytes");
    assert_eq!(
        MptcpOption::parse(out),
        Ok(*m),
        "{m:?}: parse of the re-emitted bytes"
    );
    assert_eq!(
        MptcpOption::parse_body(&out[2..]),
        Ok(*m),
        "{m:?}: parse_body of the re-emitted bytes"
    );
    let (tcp, len) = TcpOption::parse(out).expect("an MPTCP option is a TCP option");
    assert_eq!(
        (tcp, len),
        (TcpOption::Mptcp(*m), n),
        "{m:?}: as a TCP option"
    );
}

/// Which bits of bytes 2 (low nibble) and 3 of an MPTCP option are fields,
/// the others being reserved (RFC 8684 §3, figures of each subtype).
fn mptcp_kept_bits(m: &MptcpOption) -> (u8, u8) {
    match m.subtype() {
        // Version nibble and the flags byte.
        subtype::MP_CAPABLE => (0x0f, 0xff),
        // Flag B and the address id; the third-ACK form has neither.
        subtype::MP_JOIN => match m {
            MptcpOption::MpJoin(MpJoin::Ack { .. }) => (0x00, 0x00),
            _ => (0x01, 0xff),
        },
        // Reserved nibble, then the flags byte (kept whole by `Dss`).
        subtype::DSS => (0x00, 0xff),
        // Flag E and the address id.
        subtype::ADD_ADDR => (0x01, 0xff),
        // Reserved nibble, then the first address id.
        subtype::REMOVE_ADDR => (0x00, 0xff),
        // Flag B (no byte 3).
        subtype::MP_PRIO => (0x01, 0xff),
        // Reserved nibble and reserved byte before the 64-bit field.
        subtype::MP_FAIL | subtype::MP_FASTCLOSE => (0x00, 0x00),
        // U V W T flags and the reason.
        subtype::MP_TCPRST => (0x0f, 0xff),
        // Unknown subtypes are kept as bytes.
        _ => (0x0f, 0xff),
    }
}

/// What [`SegmentOptions`] should report, counted from the iterator.
#[derive(Default)]
struct Summary {
    first: SegmentOptions,
    mptcp: usize,
    mptcp_malformed: usize,
    unknown: usize,
}

impl Summary {
    fn add(&mut self, opt: &TcpOption<'_>) {
        let f = &mut self.first;
        match *opt {
            TcpOption::MaxSegmentSize(v) => {
                f.mss.get_or_insert(v);
            }
            TcpOption::WindowScale(v) => {
                f.wscale.get_or_insert(v);
            }
            TcpOption::SackPermitted => f.sack_permitted = true,
            TcpOption::Sack(s) if f.sack.is_empty() => f.sack = s,
            TcpOption::Timestamps { tsval, tsecr } => {
                f.timestamps
                    .get_or_insert(crate::options::Timestamps { tsval, tsecr });
            }
            TcpOption::FastOpen(o) => {
                f.fast_open.get_or_insert(o);
            }
            TcpOption::Mptcp(m) => {
                f.mptcp.get_or_insert(m);
                self.mptcp += 1;
            }
            TcpOption::Unknown { kind, .. } => {
                self.unknown += 1;
                self.mptcp_malformed += usize::from(kind == KIND_MPTCP);
            }
            _ => {}
        }
    }

    fn check(&self, s: &SegmentOptions) {
        let f = &self.first;
        assert_eq!(s.mss, f.mss, "SegmentOptions.mss");
        assert_eq!(s.wscale, f.wscale, "SegmentOptions.wscale");
        assert_eq!(s.sack_permitted, f.sack_permitted, "sack_permitted");
        assert_eq!(s.sack, f.sack, "SegmentOptions.sack");
        assert_eq!(s.timestamps, f.timestamps, "SegmentOptions.timestamps");
        assert_eq!(s.fast_open, f.fast_open, "SegmentOptions.fast_open");
        assert_eq!(s.mptcp, f.mptcp, "SegmentOptions.mptcp");
        let sat = |n: usize| u8::try_from(n).unwrap_or(u8::MAX);
        assert_eq!(s.mptcp_count, sat(self.mptcp), "mptcp_count");
        assert_eq!(
            s.mptcp_malformed,
            sat(self.mptcp_malformed),
            "mptcp_malformed"
        );
        assert_eq!(s.unknown, sat(self.unknown), "unknown");
        let kept = self.mptcp.saturating_sub(1).min(4);
        assert_eq!(s.mptcp_more.len(), kept, "mptcp_more");
        assert_eq!(
            s.mptcp_options().count(),
            kept + usize::from(self.mptcp > 0)
        );
    }
}
