//! TCP and MPTCP options of real Linux 6.18 captures: every option of every
//! frame parses to a known variant and re-emits byte for byte; decoded values
//! match tshark's dissection (copied here as literals); and the builder
//! rebuilds the option blocks of every frame exactly as Linux wrote them.

mod common;

use std::collections::BTreeMap;

use mptfo_proto::options::mptcp::subtype;
use mptfo_proto::options::{
    segment_options, syn_options, synack_options, DssAck, DssDsn, FastOpenOption, MpJoin,
    MptcpOption, SegmentOptions, SegmentParams, SynAckParams, SynParams, TcpOption, TcpOptionIter,
    TfoForm, Timestamps,
};
use mptfo_proto::DataSeq;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Options of frame `number` of capture `file`.
fn options_of(frames: &[common::Frame], file: &str, number: usize) -> SegmentOptions {
    let f = frames
        .iter()
        .find(|f| f.file == file && f.number == number)
        .unwrap_or_else(|| panic!("{file} frame {number} missing"));
    SegmentOptions::parse(f.tcp_options().unwrap()).unwrap()
}

fn dss_of(s: &SegmentOptions) -> mptfo_proto::options::Dss {
    match s.mptcp {
        Some(MptcpOption::Dss(d)) => d,
        other => panic!("expected DSS, got {other:?}"),
    }
}

#[test]
fn every_option_parses_known_and_reemits_exactly() {
    let frames = common::all_frames();
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut subtypes: BTreeMap<u8, usize> = BTreeMap::new();
    let mut tcp_frames = 0;
    for f in &frames {
        let Some(raw) = f.tcp_options() else { continue };
        tcp_frames += 1;
        let what = format!("{} frame {}", f.file, f.number);
        let mut out = [0u8; 40];
        let mut at = 0;
        let mut it = TcpOptionIter::new(raw);
        for opt in &mut it {
            let opt = opt.unwrap_or_else(|e| panic!("{what}: {e}"));
            let n = opt.buffer_len();
            let start = at;
            // Re-emit this option alone and compare with its own bytes.
            let mut one = [0u8; 40];
            assert_eq!(opt.emit(&mut one), n, "{what}");
            assert_eq!(&one[..n], &raw[start..start + n], "{what}: {opt:?}");
            at += opt.emit(&mut out[at..]);
            // Every kind in these captures is one we know.
            let raw_kind = raw[start];
            let name = match opt {
                TcpOption::EndOfList => "eol",
                TcpOption::NoOperation => "nop",
                TcpOption::MaxSegmentSize(_) => "mss",
                TcpOption::WindowScale(_) => "wscale",
                TcpOption::SackPermitted => "sack_perm",
                TcpOption::Sack(_) => "sack",
                TcpOption::Timestamps { .. } => "ts",
                TcpOption::FastOpen(fo) => {
                    assert_eq!(raw_kind == 34, fo.form == TfoForm::Iana, "{what}");
                    assert!(raw_kind == 34 || raw_kind == 254, "{what}");
                    "tfo"
                }
                TcpOption::Mptcp(m) => {
                    assert_eq!(raw_kind, 30, "{what}");
                    assert!(!matches!(m, MptcpOption::Unknown(_)), "{what}: {m:?}");
                    *subtypes.entry(m.subtype()).or_default() += 1;
                    "mptcp"
                }
                TcpOption::Unknown { kind, data } => {
                    panic!("{what}: option kind {kind} ({data:02x?}) not recognised")
                }
            };
            *kinds.entry(name).or_default() += 1;
        }
        // The whole list re-emits to the raw bytes.
        assert_eq!(it.offset(), raw.len(), "{what}");
        assert_eq!(&out[..at], raw, "{what}");
        let s = SegmentOptions::parse(raw).unwrap();
        assert_eq!(s.unknown, 0, "{what}");
        assert!(s.mptcp_count <= 1, "{what}: several MPTCP options");
    }
    assert!(tcp_frames > 200, "only {tcp_frames} TCP frames");
    for k in ["mss", "wscale", "sack_perm", "ts", "tfo", "mptcp", "nop"] {
        assert!(
            kinds.get(k).copied().unwrap_or(0) > 0,
            "no {k} seen: {kinds:?}"
        );
    }
    for st in [subtype::MP_CAPABLE, subtype::MP_JOIN, subtype::DSS] {
        assert!(subtypes.contains_key(&st), "subtype {st} not seen");
    }
}

/// Values from `tshark -r tfo-syn-data.pcap` (the project's reference dump,
/// ../shared/kernel-peer/pcaps/tfo-syn-data.txt), copied as literals.
#[test]
fn tfo_syn_data_matches_tshark() {
    let frames = common::all_frames();
    let file = "tfo-syn-data.pcap";
    let o = |n| options_of(&frames, file, n);

    // Frame 1: SYN with cookie f26b050ccbdb9957 and MP_CAPABLE v1.
    let s = o(1);
    let fo = s.fast_open.unwrap();
    assert_eq!(fo.form, TfoForm::Iana);
    assert_eq!(fo.cookie(), &hex("f26b050ccbdb9957")[..]);
    let Some(MptcpOption::MpCapable(m)) = s.mptcp else {
        panic!()
    };
    assert_eq!((m.version, m.sender_key), (1, None));
    assert!(m.flags.is_acceptable() && !m.flags.checksum_required());
    assert_eq!(s.mss, Some(1460));
    assert_eq!(s.wscale, Some(10));

    // Frame 2: SYN/ACK, MP_CAPABLE with the server's key.
    let Some(MptcpOption::MpCapable(m)) = o(2).mptcp else {
        panic!()
    };
    assert_eq!(m.version, 1);
    assert_eq!(m.sender_key, Some(17382060666627421271));
    assert_eq!(m.receiver_key, None);
    assert!(o(2).fast_open.is_none(), "cookie accepted: none echoed");

    // Frame 3: third ACK with both keys.
    let Some(MptcpOption::MpCapable(m)) = o(3).mptcp else {
        panic!()
    };
    assert_eq!(m.sender_key, Some(15276835135552696789));
    assert_eq!(m.receiver_key, Some(17382060666627421271));
    assert_eq!(m.data_len, None);

    // Frames 4..=15: DSS. (frame, DSN, SSN, data-level length, DATA_ACK,
    // DATA_ACK is 64-bit, DATA_FIN).
    type Row = (usize, Option<(u64, u32, u16)>, u64, bool, bool);
    let rows: [Row; 12] = [
        (
            4,
            Some((17336480645997100807, 1, 32)),
            661386125,
            false,
            false,
        ),
        (5, None, 17336480645997100839, true, false),
        (
            6,
            Some((12296624087893799821, 1, 32)),
            17336480645997100839,
            true,
            false,
        ),
        (7, None, 12296624087893799853, true, false),
        (
            8,
            Some((17336480645997100839, 33, 32)),
            12296624087893799853,
            true,
            false,
        ),
        (
            9,
            Some((12296624087893799853, 0, 1)),
            17336480645997100871,
            true,
            true,
        ),
        (10, None, 12296624087893799854, true, false),
        (
            11,
            Some((17336480645997100871, 0, 1)),
            12296624087893799854,
            true,
            true,
        ),
        (12, None, 17336480645997100872, true, false),
        (13, None, 17336480645997100872, true, false),
        (14, None, 12296624087893799854, true, false),
        (15, None, 17336480645997100872, true, false),
    ];
    for (n, map, ack, ack64, fin) in rows {
        let d = dss_of(&o(n));
        assert_eq!(d.data_fin, fin, "frame {n}");
        match (d.data_ack.unwrap(), ack64) {
            (DssAck::Ack64(v), true) => assert_eq!(v, ack, "frame {n}"),
            (DssAck::Ack32(v), false) => assert_eq!(v as u64, ack, "frame {n}"),
            (a, _) => panic!("frame {n}: width of {a:?}"),
        }
        match (d.mapping, map) {
            (None, None) => {}
            (Some(m), Some((dsn, ssn, len))) => {
                // Linux always sends 64-bit DSNs (protocol.md §2.3).
                assert_eq!(m.dsn, DssDsn::Dsn64(dsn), "frame {n}");
                assert_eq!((m.ssn, m.data_len, m.checksum), (ssn, len, None));
            }
            (m, want) => panic!("frame {n}: mapping {m:?}, want {want:?}"),
        }
    }
    // The server's 32-bit DATA_ACK of frame 4 expands to the client's first
    // DSN (frame 6): IDSN-A + 1, the SYN's TFO bytes not counted.
    let a4 = dss_of(&o(4)).data_ack.unwrap();
    assert_eq!(
        a4.expand(DataSeq(12296624087893799821 - 5)),
        DataSeq(12296624087893799821)
    );
    // A DATA_FIN-only mapping has SSN 0 and length 1; its DATA_ACK is DSN+1.
    let fin = dss_of(&o(9)).mapping.unwrap();
    assert_eq!(
        fin.expand_dsn(DataSeq(0)) + 1,
        dss_of(&o(10)).data_ack.unwrap().expand(DataSeq(0))
    );
}

#[test]
fn join_and_experimental_tfo_match_tshark() {
    let frames = common::all_frames();
    let o = |file, n| options_of(&frames, file, n);
    let two = "tfo-syn-data-two-subflows.pcap";
    assert_eq!(
        o(two, 6).mptcp,
        Some(MptcpOption::MpJoin(MpJoin::Syn {
            backup: false,
            addr_id: 2,
            token: 3448350019,
            nonce: 4097411157,
        }))
    );
    assert!(o(two, 6).fast_open.is_none(), "MP_JOIN SYNs carry no TFO");
    assert_eq!(
        o(two, 7).mptcp,
        Some(MptcpOption::MpJoin(MpJoin::SynAck {
            backup: false,
            addr_id: 0,
            hmac: 7352909417701036135,
            nonce: 3041121673,
        }))
    );
    let mut hmac = [0u8; 20];
    hmac.copy_from_slice(&hex("6abdb4d99c30e97bf1352647cd40e0b2d9a6e0b9"));
    assert_eq!(
        o(two, 8).mptcp,
        Some(MptcpOption::MpJoin(MpJoin::Ack { hmac }))
    );
    // Experimental-form cookie request after an unanswered IANA request.
    let s = o("tfo-listener-without-tfo.pcap", 15);
    assert_eq!(
        s.fast_open,
        Some(FastOpenOption::request(TfoForm::Experimental))
    );
    let s = o("tfo-listener-without-tfo.pcap", 1);
    assert_eq!(s.fast_open, Some(FastOpenOption::request(TfoForm::Iana)));
    // Invalid cookie: the SYN/ACK offers a fresh one (ffb21efbafc657ee).
    let s = o("tfo-invalid-cookie.pcap", 2);
    assert_eq!(s.fast_open.unwrap().cookie(), &hex("ffb21efbafc657ee")[..]);
    assert!(s.timestamps.is_none(), "cookie + MP_CAPABLE: no timestamps");
}

#[test]
fn keys_match_wireshark() {
    let frames = common::all_frames();
    let rows = common::wireshark_keys();
    assert!(!rows.is_empty());
    for (file, number, key, _token, _idsn) in rows {
        let s = options_of(&frames, &file, number);
        let Some(MptcpOption::MpCapable(m)) = s.mptcp else {
            panic!("{file} frame {number}: no MP_CAPABLE")
        };
        assert_eq!(m.sender_key, Some(key), "{file} frame {number}");
    }
}

/// Rebuilds every frame's option block from its parsed values with the
/// builder and compares byte for byte with what Linux sent.
#[test]
fn builder_reproduces_every_frame() {
    let frames = common::all_frames();
    let (mut syns, mut synacks, mut others) = (0, 0, 0);
    for f in &frames {
        let Some(raw) = f.tcp_options() else { continue };
        let flags = f.tcp_flags().unwrap();
        let what = format!("{} frame {}", f.file, f.number);
        let s = SegmentOptions::parse(raw).unwrap();
        let built = if flags & (SYN | ACK) == SYN {
            syns += 1;
            syn_options(&SynParams {
                mss: s.mss.unwrap(),
                timestamps: s.timestamps,
                wscale: s.wscale,
                sack_permitted: s.sack_permitted,
                fast_open: s.fast_open,
                mptcp: s.mptcp,
            })
        } else if flags & (SYN | ACK) == SYN | ACK {
            synacks += 1;
            let p = SynAckParams {
                mss: s.mss.unwrap(),
                timestamps: s.timestamps,
                wscale: s.wscale,
                sack_permitted: s.sack_permitted,
                fast_open: s.fast_open,
                mptcp: s.mptcp,
            };
            if p.fast_open.is_some() && p.mptcp.is_some() {
                // Linux dropped the timestamps; offering them changes nothing.
                assert!(s.timestamps.is_none(), "{what}");
                let with_ts = synack_options(&SynAckParams {
                    timestamps: Some(Timestamps { tsval: 1, tsecr: 2 }),
                    ..p
                });
                assert_eq!(with_ts.as_slice(), raw, "{what} (TS offered)");
                assert!(with_ts.dropped.timestamps);
            }
            synack_options(&p)
        } else {
            others += 1;
            let mptcp: Vec<MptcpOption> = s.mptcp_options().copied().collect();
            segment_options(&SegmentParams {
                timestamps: s.timestamps,
                sack: s.sack,
                mptcp: &mptcp,
            })
        };
        assert_eq!(built.as_slice(), raw, "{what}: built {built:?}");
        assert!(built.dropped.is_nothing(), "{what}");
    }
    assert!(syns >= 15 && synacks >= 15 && others > 150);
}
