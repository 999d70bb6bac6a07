//! Property tests of every wire format and option of mptfo-proto.
//!
//! Two kinds of property:
//! - round trips: generated valid reprs (Ethernet, ARP, IPv4, IPv6, ICMPv6
//!   ND, TCP, every TCP option and every MPTCP subtype in each of its length
//!   forms) satisfy `parse(emit(r)) == r`, and generated valid bytes satisfy
//!   `emit(parse(b)) == b`;
//! - robustness: arbitrary bytes, and fixture frames with arbitrary
//!   mutations, go through every view, `classify`, the option iterator,
//!   `SegmentOptions` and `MptcpOption::parse` without a panic (through the
//!   same `mptfo_proto::fuzzing` entry points the fuzz targets use, which
//!   also assert round trips of whatever parses).
//!
//! Cases per property: 256 by default so the file runs in a few seconds in a
//! debug build; set `PROPTEST_CASES` for a longer run.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;

use mptfo_proto::checksum::ChecksumCaps;
use mptfo_proto::fuzzing;
use mptfo_proto::options::{
    segment_options, syn_options, synack_options, AddAddr, Dss, DssAck, DssDsn, DssMapping,
    FastOpenOption, MpCapable, MpJoin, MpTcpRstReason, MpcFlags, MptcpOption, MptcpUnknown,
    RemoveAddr, SackBlocks, SegmentOptions, SegmentParams, SynAckParams, SynParams, TcpOption,
    TcpOptionIter, TfoForm, Timestamps,
};
use mptfo_proto::wire::tcp::pseudo_header;
use mptfo_proto::wire::{
    classify, ArpOperation, ArpPacket, ArpRepr, Classified, EtherType, EthernetAddress,
    EthernetFrame, EthernetRepr, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv4Packet, Ipv4Repr,
    Ipv6Packet, Ipv6Repr, NdFlags, TcpFlags, TcpPacket, TcpRepr, ETHERNET_HEADER_LEN,
    IPV4_HEADER_LEN, IPV6_HEADER_LEN, TCP_HEADER_LEN,
};
use mptfo_proto::SubflowSeq;

/// Both checksum capabilities every emit/parse pair is tried with.
const CAPS: [ChecksumCaps; 2] = [ChecksumCaps::SOFTWARE, ChecksumCaps::OFFLOADED];

fn config() -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 256;
    }
    c
}

// ---------------------------------------------------------------------------
// Strategies: addresses and headers
// ---------------------------------------------------------------------------

fn mac() -> impl Strategy<Value = EthernetAddress> {
    any::<[u8; 6]>().prop_map(EthernetAddress)
}

fn ipv4_addr() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn ipv6_addr() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

/// A unicast IPv6 address (first byte 0xfd: unique local).
fn ipv6_unicast() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(|mut o| {
        o[0] = 0xfd;
        Ipv6Addr::from(o)
    })
}

/// Source and destination of one family.
fn addr_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![
        (ipv4_addr(), ipv4_addr()).prop_map(|(s, d)| (s.into(), d.into())),
        (ipv6_addr(), ipv6_addr()).prop_map(|(s, d)| (s.into(), d.into())),
    ]
}

fn ethertype() -> impl Strategy<Value = EtherType> {
    prop_oneof![
        Just(EtherType::Ipv4),
        Just(EtherType::Arp),
        Just(EtherType::Ipv6),
        // `From` maps the three known values to their variants, so the
        // repr is the canonical one for its bytes.
        any::<u16>().prop_map(EtherType::from),
    ]
}

fn ethernet_repr() -> impl Strategy<Value = EthernetRepr> {
    (mac(), mac(), ethertype()).prop_map(|(src_addr, dst_addr, ethertype)| EthernetRepr {
        src_addr,
        dst_addr,
        ethertype,
    })
}

fn arp_repr() -> impl Strategy<Value = ArpRepr> {
    (
        prop_oneof![Just(ArpOperation::Request), Just(ArpOperation::Reply)],
        mac(),
        ipv4_addr(),
        mac(),
        ipv4_addr(),
    )
        .prop_map(|(operation, sha, spa, tha, tpa)| ArpRepr {
            operation,
            source_hardware_addr: sha,
            source_protocol_addr: spa,
            target_hardware_addr: tha,
            target_protocol_addr: tpa,
        })
}

fn ipv4_repr() -> impl Strategy<Value = Ipv4Repr> {
    (
        (ipv4_addr(), ipv4_addr(), any::<u8>(), 0usize..=256),
        (any::<u8>(), 0u8..64, 0u8..4, any::<u16>(), any::<bool>()),
    )
        .prop_map(
            |((src_addr, dst_addr, protocol, payload_len), (ttl, dscp, ecn, ident, dont_frag))| {
                Ipv4Repr {
                    src_addr,
                    dst_addr,
                    protocol: IpProtocol::from(protocol),
                    payload_len,
                    ttl,
                    dscp,
                    ecn,
                    ident,
                    dont_frag,
                }
            },
        )
}

fn ipv6_repr() -> impl Strategy<Value = Ipv6Repr> {
    (
        ipv6_addr(),
        ipv6_addr(),
        prop_oneof![Just(IpProtocol::Tcp), Just(IpProtocol::Icmpv6)],
        0usize..=256,
        any::<u8>(),
        any::<u8>(),
        0u32..1 << 20,
    )
        .prop_map(
            |(src_addr, dst_addr, next_header, payload_len, hop_limit, traffic_class, flow)| {
                Ipv6Repr {
                    src_addr,
                    dst_addr,
                    next_header,
                    payload_len,
                    hop_limit,
                    traffic_class,
                    flow_label: flow,
                }
            },
        )
}

/// An NS or NA that passes every check of `Icmpv6Repr::parse`, with the
/// unicast source and destination it is sent between.
fn nd_case() -> impl Strategy<Value = (Icmpv6Repr, Ipv6Addr, Ipv6Addr)> {
    let ns = (ipv6_unicast(), proptest::option::of(mac())).prop_map(|(target_addr, lladdr)| {
        Icmpv6Repr::NeighborSolicit {
            target_addr,
            source_lladdr: lladdr,
        }
    });
    let na = (0u8..8, ipv6_unicast(), proptest::option::of(mac())).prop_map(
        |(bits, target_addr, lladdr)| Icmpv6Repr::NeighborAdvert {
            flags: NdFlags(bits << 5),
            target_addr,
            target_lladdr: lladdr,
        },
    );
    (prop_oneof![ns, na], ipv6_unicast(), ipv6_unicast())
}

// ---------------------------------------------------------------------------
// Strategies: TCP options
// ---------------------------------------------------------------------------

fn timestamps() -> impl Strategy<Value = Timestamps> {
    (any::<u32>(), any::<u32>()).prop_map(|(tsval, tsecr)| Timestamps { tsval, tsecr })
}

fn sack_blocks(max: usize) -> impl Strategy<Value = SackBlocks> {
    proptest::collection::vec((any::<u32>(), any::<u32>()), 1..=max).prop_map(|v| {
        let blocks: Vec<_> = v
            .into_iter()
            .map(|(l, r)| (SubflowSeq(l), SubflowSeq(r)))
            .collect();
        SackBlocks::from_slice(&blocks).unwrap()
    })
}

/// A TFO option of either form: a request or a cookie of every valid length.
fn fast_open() -> impl Strategy<Value = FastOpenOption> {
    (
        prop_oneof![Just(TfoForm::Iana), Just(TfoForm::Experimental)],
        prop::sample::select(vec![0usize, 4, 6, 8, 10, 12, 14, 16]),
        any::<[u8; 16]>(),
    )
        .prop_map(|(form, len, bytes)| FastOpenOption::new(form, &bytes[..len]).unwrap())
}

/// A TCP option with no borrowed bytes (everything but `Unknown`).
fn tcp_option() -> impl Strategy<Value = TcpOption<'static>> {
    prop_oneof![
        Just(TcpOption::NoOperation),
        any::<u16>().prop_map(TcpOption::MaxSegmentSize),
        any::<u8>().prop_map(TcpOption::WindowScale),
        Just(TcpOption::SackPermitted),
        sack_blocks(4).prop_map(TcpOption::Sack),
        timestamps().prop_map(|t| TcpOption::Timestamps {
            tsval: t.tsval,
            tsecr: t.tsecr
        }),
        fast_open().prop_map(TcpOption::FastOpen),
        mptcp_option().prop_map(TcpOption::Mptcp),
    ]
}

/// A kind this crate does not know, with its data bytes.
fn unknown_tcp_option() -> impl Strategy<Value = (u8, Vec<u8>)> {
    let known = [0u8, 1, 2, 3, 4, 5, 8, 30, 34, 254];
    (
        any::<u8>().prop_filter("unknown kind", move |k| !known.contains(k)),
        proptest::collection::vec(any::<u8>(), 0..=20),
    )
}

/// An option list as a test generates it: known options by value, unknown
/// kinds as bytes.
#[derive(Debug, Clone)]
enum GenOption {
    Known(TcpOption<'static>),
    Unknown(u8, Vec<u8>),
}

impl GenOption {
    fn as_option(&self) -> TcpOption<'_> {
        match self {
            GenOption::Known(o) => *o,
            GenOption::Unknown(kind, data) => TcpOption::Unknown { kind: *kind, data },
        }
    }
}

fn gen_option() -> impl Strategy<Value = GenOption> {
    prop_oneof![
        4 => tcp_option().prop_map(GenOption::Known),
        1 => unknown_tcp_option().prop_map(|(k, d)| GenOption::Unknown(k, d)),
    ]
}

/// Emits the options of `list` that fit in 40 bytes, in order, then pads
/// with zeros (EOL) to a multiple of 4. Returns the bytes and the options
/// written.
fn emit_list(list: &[GenOption]) -> (Vec<u8>, Vec<GenOption>) {
    let mut out = Vec::new();
    let mut kept = Vec::new();
    for g in list {
        let o = g.as_option();
        if out.len() + o.buffer_len() > 40 {
            continue;
        }
        let mut buf = [0u8; 40];
        let n = o.emit(&mut buf);
        out.extend_from_slice(&buf[..n]);
        kept.push(g.clone());
    }
    while out.len() % 4 != 0 {
        out.push(0);
    }
    (out, kept)
}

/// Option bytes from the Linux-layout builder (SYN, SYN/ACK or other
/// segment) or from a generated list.
fn option_bytes() -> impl Strategy<Value = Vec<u8>> {
    let syn = (
        any::<u16>(),
        proptest::option::of(timestamps()),
        proptest::option::of(0u8..=14),
        any::<bool>(),
        proptest::option::of(fast_open()),
        proptest::option::of(prop_oneof![
            mp_capable().prop_map(MptcpOption::MpCapable),
            mp_join()
        ]),
        any::<bool>(),
    )
        .prop_map(|(mss, ts, ws, sack, tfo, mp, synack)| {
            let block = if synack {
                synack_options(&SynAckParams {
                    mss,
                    timestamps: ts,
                    wscale: ws,
                    sack_permitted: sack,
                    fast_open: tfo,
                    mptcp: mp,
                })
            } else {
                syn_options(&SynParams {
                    mss,
                    timestamps: ts,
                    wscale: ws,
                    sack_permitted: sack,
                    fast_open: tfo,
                    mptcp: mp,
                })
            };
            block.as_slice().to_vec()
        });
    let segment = (
        proptest::option::of(timestamps()),
        proptest::option::of(sack_blocks(4)),
        proptest::collection::vec(mptcp_option(), 0..3),
    )
        .prop_map(|(ts, sack, mptcp)| {
            segment_options(&SegmentParams {
                timestamps: ts,
                sack: sack.unwrap_or_default(),
                mptcp: &mptcp,
            })
            .as_slice()
            .to_vec()
        });
    let list = proptest::collection::vec(gen_option(), 0..8).prop_map(|l| emit_list(&l).0);
    prop_oneof![syn, segment, list]
}

// ---------------------------------------------------------------------------
// Strategies: MPTCP options, every subtype and length form
// ---------------------------------------------------------------------------

/// MP_CAPABLE in its five lengths: 4, 12, 20, 22 and 24.
fn mp_capable() -> impl Strategy<Value = MpCapable> {
    (
        0usize..5,
        0u8..16,
        any::<u8>(),
        any::<u64>(),
        any::<u64>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(form, version, flags, k1, k2, len, csum)| {
            let flags = MpcFlags(flags);
            let m = match form {
                0 => MpCapable::syn(flags),
                1 => MpCapable::synack(flags, k1),
                2 => MpCapable::ack(flags, k1, k2),
                3 => MpCapable::data(flags, k1, k2, len, None),
                _ => MpCapable::data(flags, k1, k2, len, Some(csum)),
            };
            MpCapable { version, ..m }
        })
}

/// MP_JOIN in its three forms (SYN 12, SYN/ACK 16, ACK 24).
fn mp_join() -> impl Strategy<Value = MptcpOption> {
    prop_oneof![
        (any::<bool>(), any::<u8>(), any::<u32>(), any::<u32>()).prop_map(
            |(backup, addr_id, token, nonce)| MpJoin::Syn {
                backup,
                addr_id,
                token,
                nonce
            }
        ),
        (any::<bool>(), any::<u8>(), any::<u64>(), any::<u32>()).prop_map(
            |(backup, addr_id, hmac, nonce)| MpJoin::SynAck {
                backup,
                addr_id,
                hmac,
                nonce
            }
        ),
        any::<[u8; 20]>().prop_map(|hmac| MpJoin::Ack { hmac }),
    ]
    .prop_map(MptcpOption::MpJoin)
}

/// DSS with every combination of Data ACK (none, 4, 8 bytes), mapping
/// (none, DSN 4 or 8 bytes, with or without checksum) and DATA_FIN, and any
/// of the flag bits that carry no meaning for that combination.
fn dss() -> impl Strategy<Value = Dss> {
    let ack = prop_oneof![
        Just(None),
        any::<u32>().prop_map(|v| Some(DssAck::Ack32(v))),
        any::<u64>().prop_map(|v| Some(DssAck::Ack64(v))),
    ];
    let dsn = prop_oneof![
        any::<u32>().prop_map(DssDsn::Dsn32),
        any::<u64>().prop_map(DssDsn::Dsn64),
    ];
    let mapping = proptest::option::of(
        (
            dsn,
            any::<u32>(),
            any::<u16>(),
            proptest::option::of(any::<u16>()),
        )
            .prop_map(|(dsn, ssn, data_len, checksum)| DssMapping {
                dsn,
                ssn,
                data_len,
                checksum,
            }),
    );
    (ack, mapping, any::<bool>(), any::<u8>()).prop_map(|(data_ack, mapping, data_fin, junk)| {
        let mut meaningless = 0xe0;
        if data_ack.is_none() {
            meaningless |= Dss::FLAG_ACK64;
        }
        if mapping.is_none() {
            meaningless |= Dss::FLAG_DSN64;
        }
        Dss {
            data_fin,
            data_ack,
            mapping,
            ignored_flags: junk & meaningless,
        }
    })
}

/// ADD_ADDR: IPv4 or IPv6, with or without port, echo or not.
fn add_addr() -> impl Strategy<Value = AddAddr> {
    (
        any::<bool>(),
        any::<u8>(),
        prop_oneof![
            ipv4_addr().prop_map(IpAddr::V4),
            ipv6_addr().prop_map(IpAddr::V6)
        ],
        proptest::option::of(any::<u16>()),
        any::<u64>(),
    )
        .prop_map(|(echo, addr_id, addr, port, hmac)| AddAddr {
            echo,
            addr_id,
            addr,
            port,
            hmac: (!echo).then_some(hmac),
        })
}

fn mptcp_option() -> impl Strategy<Value = MptcpOption> {
    prop_oneof![
        mp_capable().prop_map(MptcpOption::MpCapable),
        mp_join(),
        dss().prop_map(MptcpOption::Dss),
        add_addr().prop_map(MptcpOption::AddAddr),
        proptest::collection::vec(any::<u8>(), 1..=8)
            .prop_map(|ids| MptcpOption::RemoveAddr(RemoveAddr::new(&ids).unwrap())),
        any::<bool>().prop_map(|backup| MptcpOption::MpPrio { backup }),
        any::<u64>().prop_map(|dsn| MptcpOption::MpFail { dsn }),
        any::<u64>().prop_map(|receiver_key| MptcpOption::MpFastclose { receiver_key }),
        (0u8..16, any::<u8>()).prop_map(|(flags, r)| MptcpOption::MpTcpRst {
            flags,
            reason: MpTcpRstReason::from(r),
        }),
        (9u8..=15, proptest::collection::vec(any::<u8>(), 0..=37)).prop_map(|(st, rest)| {
            let mut b = vec![30, 3 + rest.len() as u8, st << 4];
            b.extend_from_slice(&rest);
            MptcpOption::Unknown(MptcpUnknown::new(&b).unwrap())
        }),
    ]
}

/// The wire bytes of a DSS with flags byte `flags` (checksum present when
/// `csum` and a mapping is), its fields filled from `fill`.
fn dss_bytes(flags: u8, csum: bool, fill: &[u8]) -> Vec<u8> {
    let ack = match (flags & 0x01 != 0, flags & 0x02 != 0) {
        (false, _) => 0,
        (true, false) => 4,
        (true, true) => 8,
    };
    let map = match (flags & 0x04 != 0, flags & 0x08 != 0) {
        (false, _) => 0,
        (true, false) => 4 + 6 + 2 * csum as usize,
        (true, true) => 8 + 6 + 2 * csum as usize,
    };
    let n = 4 + ack + map;
    let mut b = vec![30, n as u8, 0x20, flags];
    b.extend_from_slice(&fill[..n - 4]);
    b
}

/// Raw bytes of a valid MPTCP option of any subtype and length form, its
/// fields random and its reserved bits zero (as a sender must write them).
fn mptcp_raw() -> impl Strategy<Value = Vec<u8>> {
    let fill = || proptest::collection::vec(any::<u8>(), 40);
    let sized = |sub: u8, lens: Vec<usize>, keep2: u8, keep3: u8| {
        (prop::sample::select(lens), fill()).prop_map(move |(n, f)| {
            let mut b = f[..n].to_vec();
            b[0] = 30;
            b[1] = n as u8;
            b[2] = (sub << 4) | (b[2] & keep2);
            if n > 3 {
                b[3] &= keep3;
            }
            b
        })
    };
    prop_oneof![
        sized(0, vec![4, 12, 20, 22, 24], 0x0f, 0xff),
        sized(1, vec![12, 16], 0x01, 0xff),
        sized(1, vec![24], 0x00, 0x00),
        (any::<u8>(), any::<bool>(), fill()).prop_map(|(flags, c, f)| dss_bytes(flags, c, &f)),
        (
            any::<bool>(),
            prop::sample::select(vec![4usize, 16]),
            any::<bool>(),
            fill()
        )
            .prop_map(|(echo, addr, port, f)| {
                let n = 4 + addr + 2 * port as usize + if echo { 0 } else { 8 };
                let mut b = f[..n].to_vec();
                b[0] = 30;
                b[1] = n as u8;
                b[2] = 0x30 | echo as u8;
                b
            }),
        sized(4, (4..=11).collect(), 0x00, 0xff),
        sized(5, vec![3], 0x01, 0xff),
        sized(6, vec![12], 0x00, 0x00),
        sized(7, vec![12], 0x00, 0x00),
        sized(8, vec![4], 0x0f, 0xff),
        (9u8..=15, 3usize..=40, fill()).prop_map(|(st, n, f)| {
            let mut b = f[..n].to_vec();
            b[0] = 30;
            b[1] = n as u8;
            b[2] = (st << 4) | (b[2] & 0x0f);
            b
        }),
    ]
}

/// Checks `parse(emit(o)) == o` and the emitted length for one TCP option.
fn check_tcp_option(o: &TcpOption<'_>) -> Result<(), TestCaseError> {
    let mut buf = [0u8; 64];
    let n = o.emit(&mut buf);
    prop_assert_eq!(n, o.buffer_len());
    let (again, m) = TcpOption::parse(&buf[..n]).unwrap();
    prop_assert_eq!(m, n);
    prop_assert_eq!(&again, o);
    prop_assert_eq!(o.try_emit(&mut buf[..n - 1]).is_err(), true);
    Ok(())
}

// ---------------------------------------------------------------------------
// Fixture frames, for mutation
// ---------------------------------------------------------------------------

fn fixture_frames() -> &'static [Vec<u8>] {
    static FRAMES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FRAMES.get_or_init(|| common::all_frames().into_iter().map(|f| f.bytes).collect())
}

/// Applies `edits` (position, value) and an optional cut to a copy of `frame`.
fn mutate(frame: &[u8], edits: &[(Index, u8)], xor: bool, cut: Option<Index>) -> Vec<u8> {
    let mut f = frame.to_vec();
    for (at, v) in edits {
        let i = at.index(f.len());
        if xor {
            f[i] ^= v;
        } else {
            f[i] = *v;
        }
    }
    if let Some(c) = cut {
        f.truncate(c.index(f.len() + 1));
    }
    f
}

// ---------------------------------------------------------------------------
// Round trips of headers
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ethernet_roundtrip(repr in ethernet_repr(), raw in any::<[u8; 14]>()) {
        let mut buf = [0u8; 14];
        repr.emit(&mut EthernetFrame::new_unchecked(&mut buf[..])).unwrap();
        let frame = EthernetFrame::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(EthernetRepr::parse(&frame).unwrap(), repr);
        // Bytes -> repr -> bytes.
        let parsed = EthernetRepr::parse(&EthernetFrame::new_checked(&raw[..]).unwrap()).unwrap();
        parsed.emit(&mut EthernetFrame::new_unchecked(&mut buf[..])).unwrap();
        prop_assert_eq!(buf, raw);
    }

    #[test]
    fn arp_roundtrip(repr in arp_repr(), pad in 0usize..20) {
        let mut buf = vec![0u8; 28 + pad];
        repr.emit(&mut ArpPacket::new_unchecked(&mut buf[..])).unwrap();
        let parsed = ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()).unwrap();
        prop_assert_eq!(parsed, repr);
        let mut again = [0u8; 28];
        parsed.emit(&mut ArpPacket::new_unchecked(&mut again[..])).unwrap();
        prop_assert_eq!(&again[..], &buf[..28]);
    }

    #[test]
    fn ipv4_roundtrip(repr in ipv4_repr(), fill in any::<u8>()) {
        for caps in &CAPS {
            let mut buf = vec![fill; IPV4_HEADER_LEN + repr.payload_len];
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]), caps).unwrap();
            let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
            if caps.ipv4.compute_tx() {
                prop_assert!(packet.verify_checksum());
            } else {
                prop_assert_eq!(packet.checksum(), 0);
            }
            prop_assert_eq!(Ipv4Repr::parse(&packet, caps).unwrap(), repr);
            // Bytes -> repr -> bytes.
            let parsed = Ipv4Repr::parse(&packet, caps).unwrap();
            let mut again = buf.clone();
            again[..IPV4_HEADER_LEN].fill(!fill);
            parsed.emit(&mut Ipv4Packet::new_unchecked(&mut again[..]), caps).unwrap();
            prop_assert_eq!(&again, &buf);
        }
    }

    #[test]
    fn ipv6_roundtrip(repr in ipv6_repr()) {
        let mut buf = vec![0u8; IPV6_HEADER_LEN + repr.payload_len];
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..])).unwrap();
        let parsed = Ipv6Repr::parse(&Ipv6Packet::new_checked(&buf[..]).unwrap()).unwrap();
        prop_assert_eq!(parsed, repr);
        let mut again = vec![0xffu8; buf.len()];
        again[IPV6_HEADER_LEN..].fill(0);
        parsed.emit(&mut Ipv6Packet::new_unchecked(&mut again[..])).unwrap();
        prop_assert_eq!(&again, &buf);
    }

    #[test]
    fn icmpv6_nd_roundtrip((repr, src, dst) in nd_case()) {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Icmpv6Packet::new_unchecked(&mut buf[..]), src, dst).unwrap();
        let packet = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        prop_assert!(packet.verify_checksum(src, dst));
        let parsed = Icmpv6Repr::parse(&packet, src, dst).unwrap();
        prop_assert_eq!(parsed, repr);
        let mut again = vec![0xaau8; buf.len()];
        parsed.emit(&mut Icmpv6Packet::new_unchecked(&mut again[..]), src, dst).unwrap();
        prop_assert_eq!(again, buf);
    }

    #[test]
    fn tcp_roundtrip(
        (src, dst) in addr_pair(),
        ports in (1u16.., 1u16..),
        seq in any::<u32>(),
        ack in proptest::option::of(any::<u32>()),
        flags in any::<u8>(),
        window in any::<u16>(),
        options in option_bytes(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let repr = TcpRepr {
            src_port: ports.0,
            dst_port: ports.1,
            seq: SubflowSeq(seq),
            ack: ack.map(SubflowSeq),
            flags: TcpFlags::from_bits(flags).with(TcpFlags::ACK, ack.is_some()),
            window,
            options: &options,
            payload: &payload,
        };
        prop_assert_eq!(options.len() % 4, 0);
        prop_assert_eq!(repr.header_len(), TCP_HEADER_LEN + options.len());
        // Options from the builder and the generator are well formed.
        prop_assert!(SegmentOptions::parse(&options).is_ok());
        for caps in &CAPS {
            let mut buf = vec![0u8; repr.buffer_len()];
            repr.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), src, dst, caps).unwrap();
            let packet = TcpPacket::new_checked(&buf[..]).unwrap();
            let pseudo = pseudo_header(src, dst, buf.len()).unwrap();
            if caps.tcp.compute_tx() {
                prop_assert!(packet.verify_checksum(pseudo));
            } else {
                // The seed a NIC with TCP tx offload expects.
                prop_assert_eq!(packet.checksum(), pseudo.fold());
            }
            let parsed = TcpRepr::parse(&packet, src, dst, caps).unwrap();
            prop_assert_eq!(parsed, repr);
            // Bytes -> repr -> bytes.
            let mut again = vec![0x55u8; buf.len()];
            parsed.emit(&mut TcpPacket::new_unchecked(&mut again[..]), src, dst, caps).unwrap();
            prop_assert_eq!(&again, &buf);
        }
    }

    /// A whole frame (Ethernet + IPv4/IPv6 + TCP) built from reprs classifies
    /// back to the same values, with software checksums, and passes the
    /// `packet` fuzz target's checks.
    #[test]
    fn frame_classifies_back(
        (src, dst) in addr_pair(),
        macs in (mac(), mac()),
        ports in (1u16.., 1u16..),
        seq in any::<u32>(),
        ack in proptest::option::of(any::<u32>()),
        options in option_bytes(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        pad in 0usize..8,
    ) {
        let tcp = TcpRepr {
            src_port: ports.0,
            dst_port: ports.1,
            seq: SubflowSeq(seq),
            ack: ack.map(SubflowSeq),
            flags: TcpFlags::SYN.with(TcpFlags::ACK, ack.is_some()),
            window: 64240,
            options: &options,
            payload: &payload,
        };
        let l3_len = match src { IpAddr::V4(_) => IPV4_HEADER_LEN, IpAddr::V6(_) => IPV6_HEADER_LEN };
        let l4 = ETHERNET_HEADER_LEN + l3_len;
        let mut frame = vec![0u8; l4 + tcp.buffer_len() + pad];
        let ethertype = if l3_len == IPV4_HEADER_LEN { EtherType::Ipv4 } else { EtherType::Ipv6 };
        EthernetRepr { src_addr: macs.0, dst_addr: macs.1, ethertype }
            .emit(&mut EthernetFrame::new_unchecked(&mut frame[..])).unwrap();
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => Ipv4Repr {
                src_addr: s, dst_addr: d, protocol: IpProtocol::Tcp,
                payload_len: tcp.buffer_len(), ttl: 64, dscp: 0, ecn: 0, ident: 7, dont_frag: true,
            }.emit(&mut Ipv4Packet::new_unchecked(&mut frame[ETHERNET_HEADER_LEN..]), &ChecksumCaps::SOFTWARE).unwrap(),
            (IpAddr::V6(s), IpAddr::V6(d)) => Ipv6Repr {
                src_addr: s, dst_addr: d, next_header: IpProtocol::Tcp,
                payload_len: tcp.buffer_len(), hop_limit: 64, traffic_class: 0, flow_label: 0,
            }.emit(&mut Ipv6Packet::new_unchecked(&mut frame[ETHERNET_HEADER_LEN..])).unwrap(),
            _ => unreachable!("addr_pair gives one family"),
        }
        let end = l4 + tcp.buffer_len();
        tcp.emit(&mut TcpPacket::new_unchecked(&mut frame[l4..end]), src, dst, &ChecksumCaps::SOFTWARE).unwrap();
        for caps in &CAPS {
            let Ok(Classified::Tcp(seg)) = classify(&frame, caps) else {
                return Err(TestCaseError::fail(format!("not classified as TCP: {:?}", classify(&frame, caps))));
            };
            prop_assert_eq!(seg.repr(), tcp);
            prop_assert_eq!((seg.src_addr, seg.dst_addr), (src, dst));
            prop_assert_eq!((seg.eth_src, seg.eth_dst), macs);
            prop_assert_eq!((seg.l3_offset, seg.l4_offset), (ETHERNET_HEADER_LEN, l4));
            prop_assert_eq!(seg.payload_offset, l4 + tcp.header_len());
        }
        fuzzing::packet(&frame);
    }
}

// ---------------------------------------------------------------------------
// Round trips of options
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn tcp_option_roundtrip(o in tcp_option()) {
        check_tcp_option(&o)?;
    }

    #[test]
    fn unknown_tcp_option_roundtrip((kind, data) in unknown_tcp_option()) {
        check_tcp_option(&TcpOption::Unknown { kind, data: &data })?;
    }

    /// A generated list, emitted and padded, iterates back to the same
    /// options (then EOL padding), and `SegmentOptions` reports the first
    /// of each.
    #[test]
    fn option_list_roundtrip(list in proptest::collection::vec(gen_option(), 0..10)) {
        let (bytes, kept) = emit_list(&list);
        let parsed: Vec<TcpOption<'_>> = TcpOptionIter::new(&bytes).map(|o| o.unwrap()).collect();
        let want: Vec<TcpOption<'_>> = kept.iter().map(GenOption::as_option).collect();
        prop_assert_eq!(&parsed[..want.len()], &want[..]);
        // What follows is one EOL (the padding behind it is not iterated).
        prop_assert!(parsed[want.len()..].iter().all(|o| *o == TcpOption::EndOfList));
        prop_assert!(parsed.len() - want.len() <= 1);
        let s = SegmentOptions::parse(&bytes).unwrap();
        let mss = want.iter().find_map(|o| match o {
            TcpOption::MaxSegmentSize(v) => Some(*v),
            _ => None,
        });
        let fast_open = want.iter().find_map(|o| match o {
            TcpOption::FastOpen(v) => Some(*v),
            _ => None,
        });
        let first_mptcp = want.iter().find_map(|o| match o {
            TcpOption::Mptcp(v) => Some(*v),
            _ => None,
        });
        prop_assert_eq!(s.mss, mss);
        prop_assert_eq!(s.fast_open, fast_open);
        prop_assert_eq!(s.mptcp, first_mptcp);
        let mptcp = want.iter().filter(|o| matches!(o, TcpOption::Mptcp(_))).count();
        prop_assert_eq!(usize::from(s.mptcp_count), mptcp);
        let unknown = want.iter().filter(|o| matches!(o, TcpOption::Unknown { .. })).count();
        prop_assert_eq!(usize::from(s.unknown), unknown);
        fuzzing::tcp_options(&bytes);
    }

    #[test]
    fn mptcp_repr_roundtrip(o in mptcp_option()) {
        let mut buf = [0u8; 40];
        let n = o.emit(&mut buf);
        prop_assert_eq!(n, o.buffer_len());
        prop_assert_eq!(usize::from(buf[1]), n);
        prop_assert_eq!(MptcpOption::parse(&buf[..n]), Ok(o));
        prop_assert_eq!(MptcpOption::parse_body(&buf[2..n]), Ok(o));
        prop_assert!(o.try_emit(&mut buf[..n - 1]).is_err());
        // Also as a TCP option.
        check_tcp_option(&TcpOption::Mptcp(o))?;
    }

    #[test]
    fn mptcp_bytes_roundtrip(raw in mptcp_raw()) {
        let o = MptcpOption::parse(&raw);
        prop_assert!(o.is_ok(), "{:02x?}: {:?}", raw, o);
        let o = o.unwrap();
        prop_assert_eq!(o.buffer_len(), raw.len());
        let mut buf = [0u8; 40];
        let n = o.emit(&mut buf);
        prop_assert_eq!(&buf[..n], &raw[..]);
        // No unknown subtype hides a known one.
        prop_assert_eq!(matches!(o, MptcpOption::Unknown(_)), raw[2] >> 4 >= 9);
        fuzzing::mptcp_option(&raw);
    }

    /// A Linux SYN option block with a cookie of any length and any MPTCP
    /// handshake option parses back to what was asked for, or says what it
    /// dropped.
    #[test]
    fn syn_block_roundtrip(
        mss in any::<u16>(),
        ts in proptest::option::of(timestamps()),
        ws in proptest::option::of(0u8..=14),
        sack in any::<bool>(),
        tfo in proptest::option::of(fast_open()),
        mp in proptest::option::of(prop_oneof![mp_capable().prop_map(MptcpOption::MpCapable), mp_join()]),
    ) {
        let block = syn_options(&SynParams { mss, timestamps: ts, wscale: ws, sack_permitted: sack, fast_open: tfo, mptcp: mp });
        prop_assert_eq!(block.as_slice().len() % 4, 0);
        prop_assert!(block.as_slice().len() <= 40);
        let s = SegmentOptions::parse(block.as_slice()).unwrap();
        prop_assert_eq!(s.mss, Some(mss));
        prop_assert_eq!(s.timestamps, ts);
        prop_assert_eq!(s.wscale, ws);
        prop_assert_eq!(s.sack_permitted, sack);
        prop_assert_eq!(s.fast_open, if block.dropped.fast_open { None } else { tfo });
        prop_assert_eq!(s.mptcp, if block.dropped.mptcp > 0 { None } else { mp });
        prop_assert_eq!(s.unknown, 0);
        fuzzing::tcp_options(block.as_slice());
    }
}

/// Every DSS flags byte, with and without a checksum where a mapping allows
/// one: the bytes parse, the fields follow the flags, and they re-emit
/// exactly; every other length is refused.
#[test]
fn dss_every_flag_byte() {
    let fill: Vec<u8> = (0u8..40)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    for flags in 0u8..=255 {
        for csum in [false, true] {
            let has_map = flags & 0x04 != 0;
            if csum && !has_map {
                continue;
            }
            let b = dss_bytes(flags, csum, &fill);
            let Ok(MptcpOption::Dss(d)) = MptcpOption::parse(&b) else {
                panic!("{flags:#04x} csum {csum}: {:?}", MptcpOption::parse(&b));
            };
            assert_eq!(d.data_ack.is_some(), flags & 0x01 != 0);
            assert_eq!(d.mapping.is_some(), has_map);
            assert_eq!(d.data_fin, flags & 0x10 != 0);
            assert_eq!(d.mapping.and_then(|m| m.checksum).is_some(), csum);
            assert_eq!(d.flags(), flags);
            let mut out = [0u8; 40];
            let n = MptcpOption::Dss(d).emit(&mut out);
            assert_eq!(&out[..n], &b[..], "{flags:#04x} csum {csum}");
            for len in 3..=40u8 {
                if usize::from(len) == b.len()
                    || (has_map && usize::from(len) == b.len() + 2 - 4 * csum as usize)
                {
                    continue;
                }
                let mut other = b.clone();
                other.resize(usize::from(len), 0);
                other[1] = len;
                assert!(
                    MptcpOption::parse(&other).is_err(),
                    "{flags:#04x} len {len}"
                );
            }
        }
    }
}

/// The length forms RFC 8684 defines, and only those, parse for each
/// fixed-layout subtype.
#[test]
fn mptcp_length_forms() {
    let forms: [(u8, &[usize]); 7] = [
        (0x00, &[4, 12, 20, 22, 24]),
        (0x10, &[12, 16, 24]),
        (0x40, &[4, 5, 6, 7, 8, 9, 10, 11]),
        (0x50, &[3]),
        (0x60, &[12]),
        (0x70, &[12]),
        (0x80, &[4]),
    ];
    for (byte2, lens) in forms {
        for n in 3..=40usize {
            let mut b = vec![0u8; n];
            b[0] = 30;
            b[1] = n as u8;
            b[2] = byte2;
            assert_eq!(
                MptcpOption::parse(&b).is_ok(),
                lens.contains(&n),
                "subtype {:#x} len {n}",
                byte2 >> 4
            );
        }
    }
    for echo in [0u8, 1] {
        let lens: &[usize] = if echo == 1 {
            &[8, 10, 20, 22]
        } else {
            &[16, 18, 28, 30]
        };
        for n in 3..=40usize {
            let mut b = vec![0u8; n];
            b[..3].copy_from_slice(&[30, n as u8, 0x30 | echo]);
            assert_eq!(
                MptcpOption::parse(&b).is_ok(),
                lens.contains(&n),
                "ADD_ADDR E={echo} len {n}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Parsers never panic
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// Arbitrary bytes as a frame: every view and getter, `classify` with
    /// both capabilities, and the round-trip checks of the `packet` target.
    #[test]
    fn arbitrary_frame(data in proptest::collection::vec(any::<u8>(), 0..1600)) {
        fuzzing::views(&data);
        let _ = classify(&data, &ChecksumCaps::SOFTWARE);
        let _ = classify(&data, &ChecksumCaps::OFFLOADED);
        fuzzing::packet(&data);
    }

    /// Arbitrary headers behind a valid Ethernet header of each EtherType
    /// (so the IPv4, IPv6 and ARP parsers see most of the inputs).
    #[test]
    fn arbitrary_l3(ethertype in prop::sample::select(vec![0x0800u16, 0x86dd, 0x0806]), first in prop::sample::select(vec![0x45u8, 0x46, 0x4f, 0x60, 0x00]), rest in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&ethertype.to_be_bytes());
        frame.push(first);
        frame.extend_from_slice(&rest);
        fuzzing::packet(&frame);
    }

    /// Fixture frames with bytes overwritten or flipped, and maybe cut.
    #[test]
    fn mutated_fixture_frame(
        which in any::<Index>(),
        edits in proptest::collection::vec((any::<Index>(), any::<u8>()), 1..6),
        xor in any::<bool>(),
        cut in proptest::option::of(any::<Index>()),
    ) {
        let frames = fixture_frames();
        let frame = mutate(&frames[which.index(frames.len())], &edits, xor, cut);
        fuzzing::packet(&frame);
    }

    /// Fixture TCP option areas with bytes overwritten, as option lists.
    #[test]
    fn mutated_fixture_options(
        which in any::<Index>(),
        edits in proptest::collection::vec((any::<Index>(), any::<u8>()), 1..4),
        cut in proptest::option::of(any::<Index>()),
    ) {
        let frames = fixture_frames();
        let frame = &frames[which.index(frames.len())];
        let Some((l4, doff)) = tcp_range(frame) else { return Ok(()) };
        let opts = &frame[l4 + 20..l4 + doff];
        if opts.is_empty() {
            return Ok(());
        }
        let opts = mutate(opts, &edits, false, cut);
        fuzzing::tcp_options(&opts);
    }

    #[test]
    fn arbitrary_tcp_options(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = SegmentOptions::parse(&data);
        let _ = SegmentOptions::parse_lossy(&data);
        for o in TcpOptionIter::new(&data) {
            let _ = o;
        }
        fuzzing::tcp_options(&data);
    }

    #[test]
    fn arbitrary_mptcp_option(data in proptest::collection::vec(any::<u8>(), 0..48)) {
        let _ = MptcpOption::parse(&data);
        fuzzing::mptcp_option(&data);
    }

    /// Arbitrary bodies behind kind 30 and a length that fits: deep into
    /// every subtype's parser.
    #[test]
    fn arbitrary_mptcp_body(body in proptest::collection::vec(any::<u8>(), 1..=38), extra in 0usize..4) {
        let mut b = vec![30, (body.len() + 2) as u8];
        b.extend_from_slice(&body);
        b.extend(std::iter::repeat_n(0xee, extra));
        fuzzing::mptcp_option(&b);
        let _ = MptcpOption::parse_body(&body);
    }
}

/// The TCP header's offset and length in a fixture frame (IPv4 or IPv6, no
/// extension headers), like `common::Frame::tcp_range`.
fn tcp_range(b: &[u8]) -> Option<(usize, usize)> {
    let f = common::Frame {
        file: String::new(),
        number: 0,
        bytes: b.to_vec(),
    };
    f.tcp_range()
}
