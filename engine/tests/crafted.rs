//! One stack against a hand-played peer: the test builds the peer's frames
//! with mptfo_proto's emitters and checks the stack's answers. This covers
//! what a well-behaved peer stack of ours never sends: a SYN/ACK that
//! acknowledges only part of the SYN data (protocol.md §7.4, RFC 8684
//! Figure 21), and the Linux-client forms of protocol.md §7.4/§7.5.

mod common;

use std::net::SocketAddrV4;

use common::*;
use mptfo_engine::config::{ReplyTiming, StackConfig};
use mptfo_engine::stack::{ConnId, ConnectOptions, Event, MptcpMode};
use mptfo_proto::options::{
    Dss, DssAck, DssDsn, DssMapping, FastOpenOption, MpCapable, MpcFlags, MptcpOption, OptionBlock,
    OptionWriter, TfoForm,
};
use mptfo_proto::tfo::{cookie_for, TfoKey};
use mptfo_proto::wire::TcpFlags;
use mptfo_proto::{DataSeq, SubflowSeq};

const KEY_A: u64 = 0x0102_0304_0506_0708;
const KEY_B: u64 = 0x1122_3344_5566_7788;
const SERVER_TFO_KEY: [u8; 16] = *b"0123456789abcdef";

fn h() -> MpcFlags {
    MpcFlags(MpcFlags::HMAC_SHA256)
}

fn options(build: impl FnOnce(&mut OptionWriter)) -> OptionBlock {
    let mut w = OptionWriter::new();
    build(&mut w);
    w.finish()
}

fn seg(
    seq: SubflowSeq,
    ack: Option<SubflowSeq>,
    flags: TcpFlags,
    options: OptionBlock,
    payload: &[u8],
) -> SegSpec {
    SegSpec {
        seq,
        ack,
        flags,
        window: 2048,
        options,
        payload: payload.to_vec(),
    }
}

fn dss_opt(ack: Option<DssAck>, map: Option<(DataSeq, u32, u16)>) -> MptcpOption {
    MptcpOption::Dss(Dss {
        data_fin: false,
        data_ack: ack,
        mapping: map.map(|(dsn, ssn, len)| DssMapping {
            dsn: DssDsn::Dsn64(dsn.0),
            ssn,
            data_len: len,
            checksum: None,
        }),
        ignored_flags: 0,
    })
}

/// (DSN, SSN, length) of the first data a segment carries: MP_CAPABLE with
/// data means DSN IDSN-A+1, SSN 1 (RFC 8684 §3.1).
fn mapping_of(p: &Pkt, idsn_a: DataSeq) -> (DataSeq, u32, u16) {
    match p.mptcp() {
        Some(MptcpOption::MpCapable(m)) => {
            (idsn_a + 1, 1, m.data_len.expect("MP_CAPABLE with data"))
        }
        Some(MptcpOption::Dss(d)) => {
            let m = d.mapping.expect("mapping");
            (m.dsn.expand(idsn_a), m.ssn, m.data_len)
        }
        other => panic!("data without a mapping: {other:?}"),
    }
}

/// The DATA_ACK of the last segment `s` sent that carries one.
fn last_data_ack(s: &Solo, reference: DataSeq) -> Option<DataSeq> {
    s.sent.iter().rev().find_map(|p| {
        p.dss()
            .and_then(|d| d.data_ack)
            .map(|a| a.expand(reference))
    })
}

fn client_solo(seed: u64) -> (Solo, SocketAddrV4) {
    (
        Solo::new(StackConfig::default(), CLIENT_IP, seed),
        SocketAddrV4::new(SERVER_IP, PORT),
    )
}

/// RFC 8684 Figure 21, protocol.md §7.4: the SYN carried 64 bytes, the
/// SYN/ACK acknowledges 20. The first 20 are TFO data (outside DSN space);
/// the other 44 go at once at TCP seq ISN+21 mapped at DSN IDSN-A+1, SSN 1.
/// DATA_ACKs then count only those 44; nothing is retransmitted and no
/// buffer space leaks.
#[test]
fn synack_acknowledges_part_of_syn_data() {
    let (mut s, srv) = client_solo(31);
    // First contact: get a cookie into the cache.
    let c1 = s
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    let out = s.collect();
    assert_eq!(out.len(), 1);
    let syn1 = out[0].clone();
    assert!(syn1.opts.fast_open.unwrap().is_request());
    let cli = SocketAddrV4::new(CLIENT_IP, syn1.src_port);
    let cookie = [0xc0, 0x0c, 0x1e, 0x5a, 0x11, 0x22, 0x33, 0x44];
    let synack = seg(
        SubflowSeq(5000),
        Some(syn1.seq + 1),
        TcpFlags::SYN | TcpFlags::ACK,
        options(|w| {
            w.mss(1460).unwrap();
            w.window_scale(7).unwrap();
            w.fast_open(&FastOpenOption::new(TfoForm::Iana, &cookie).unwrap())
                .unwrap();
            w.mptcp(&MptcpOption::MpCapable(MpCapable::synack(h(), KEY_B)))
                .unwrap();
        }),
        &[],
    );
    let out = s.inject(&build_frame(srv, cli, &synack));
    assert_eq!(out[0].seq, syn1.seq + 1);
    assert_eq!(mpc(&out[0]).data_len, Some(64));
    assert!(s.stack.abort(c1).is_ok());
    s.collect();
    let setup = s.sent.len();

    // The fast open.
    let c2 = s
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    let out = s.collect();
    let syn = out[0].clone();
    assert_eq!(syn.payload, request());
    assert_eq!(syn.opts.fast_open.unwrap().cookie(), &cookie);
    let cli = SocketAddrV4::new(CLIENT_IP, syn.src_port);
    let isn_b = SubflowSeq(90_000);
    let synack = seg(
        isn_b,
        Some(syn.seq + 21),
        TcpFlags::SYN | TcpFlags::ACK,
        options(|w| {
            w.mss(1460).unwrap();
            w.window_scale(7).unwrap();
            w.mptcp(&MptcpOption::MpCapable(MpCapable::synack(h(), KEY_B)))
                .unwrap();
        }),
        &[],
    );
    let out = s.inject(&build_frame(srv, cli, &synack));
    let data: Vec<&Pkt> = out.iter().filter(|p| !p.payload.is_empty()).collect();
    assert_eq!(
        data.len(),
        1,
        "the rest is sent at once:\n{}",
        listing(&out)
    );
    let rest = data[0];
    assert_eq!(rest.seq, syn.seq + 21, "after the 20 acknowledged bytes");
    assert_eq!(rest.ack, Some(isn_b + 1));
    assert_eq!(rest.payload, request()[20..].to_vec());
    let key_a = match rest.mptcp() {
        Some(MptcpOption::MpCapable(m)) => m.sender_key.unwrap(),
        _ => s
            .sent
            .iter()
            .find_map(|p| p.mpc().and_then(|m| m.receiver_key.and(m.sender_key)))
            .unwrap(),
    };
    let idsn_a = idsn(key_a);
    let idsn_b = idsn(KEY_B);
    assert_eq!(
        mapping_of(rest, idsn_a),
        (idsn_a + 1, 1, 44),
        "DSN IDSN-A+1, SSN 1"
    );
    assert_eq!(s.stack.counters().tcp_ext_tcp_fast_open_active_fail, 1);

    // The server acknowledges everything: TCP up to ISN+65, data level up to
    // IDSN-A+45 (the 20 TFO bytes are not counted); it also answers with 10
    // bytes at IDSN-B+1.
    let ack = seg(
        isn_b + 1,
        Some(syn.seq + 65),
        TcpFlags::ACK | TcpFlags::PSH,
        options(|w| {
            w.mptcp(&dss_opt(
                Some(DssAck::Ack64((idsn_a + 45).0)),
                Some((idsn_b + 1, 1, 10)),
            ))
            .unwrap();
        }),
        &reply()[..10],
    );
    s.inject(&build_frame(srv, cli, &ack));
    s.advance_ms(50);
    assert_eq!(s.data(c2), reply()[..10].to_vec());
    assert_eq!(
        last_data_ack(&s, idsn_b),
        Some(idsn_b + 11),
        "DATA_ACK IDSN-B+11"
    );
    assert_eq!(s.stack.mptcp_mode(c2), Some(MptcpMode::Established));
    assert_eq!(
        s.stack.send_room(c2),
        s.stack.config().send_buffer,
        "send buffer fully released"
    );
    // Nothing outstanding: no retransmission, ever.
    let n = s.sent.len();
    s.advance_ms(10_000);
    assert_eq!(s.sent.len(), n, "retransmitted:\n{}", listing(&s.sent[n..]));
    assert_no_rst(&s.sent[setup..]);
}

/// The SYN/ACK acknowledges none of the SYN data (RFC 8684 Figure 20): the
/// request is resent at ISN+1 as MP_CAPABLE with data.
#[test]
fn synack_acknowledges_no_syn_data() {
    let (mut s, srv) = client_solo(32);
    let _ = s
        .stack
        .connect(server_addr(), &[], ConnectOptions::default())
        .unwrap();
    let syn1 = s.collect()[0].clone();
    let cli = SocketAddrV4::new(CLIENT_IP, syn1.src_port);
    let cookie = [1, 2, 3, 4, 5, 6, 7, 8];
    let synack = |ack, cookie: Option<&[u8]>| {
        seg(
            SubflowSeq(7000),
            Some(ack),
            TcpFlags::SYN | TcpFlags::ACK,
            options(|w| {
                w.mss(1460).unwrap();
                if let Some(c) = cookie {
                    w.fast_open(&FastOpenOption::new(TfoForm::Iana, c).unwrap())
                        .unwrap();
                }
                w.mptcp(&MptcpOption::MpCapable(MpCapable::synack(h(), KEY_B)))
                    .unwrap();
            }),
            &[],
        )
    };
    s.inject(&build_frame(srv, cli, &synack(syn1.seq + 1, Some(&cookie))));
    let c2 = s
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    let syn = s.collect()[0].clone();
    assert_eq!(syn.payload, request());
    let cli = SocketAddrV4::new(CLIENT_IP, syn.src_port);
    let out = s.inject(&build_frame(srv, cli, &synack(syn.seq + 1, None)));
    let rest = out
        .iter()
        .find(|p| !p.payload.is_empty())
        .expect("request resent");
    assert_eq!(rest.seq, syn.seq + 1);
    assert_eq!(rest.payload, request());
    let m = mpc(rest);
    assert_eq!(
        (m.sender_key.is_some(), m.receiver_key, m.data_len),
        (true, Some(KEY_B), Some(64))
    );
    assert_eq!(s.stack.mptcp_mode(c2), Some(MptcpMode::Established));
}

fn server_solo(seed: u64) -> (Solo, SocketAddrV4, SocketAddrV4) {
    let mut s = Solo::new(server_config(ReplyTiming::Hold), SERVER_IP, seed);
    s.stack.listen(PORT);
    (
        s,
        SocketAddrV4::new(CLIENT_IP, 40_000),
        SocketAddrV4::new(SERVER_IP, PORT),
    )
}

fn client_syn(isn: SubflowSeq, cookie: Option<&[u8]>, data: &[u8]) -> SegSpec {
    seg(
        isn,
        None,
        TcpFlags::SYN,
        options(|w| {
            w.mss(1460).unwrap();
            w.window_scale(7).unwrap();
            if let Some(c) = cookie {
                w.fast_open(&FastOpenOption::new(TfoForm::Iana, c).unwrap())
                    .unwrap();
            }
            w.mptcp(&MptcpOption::MpCapable(MpCapable::syn(h())))
                .unwrap();
        }),
        data,
    )
}

fn valid_cookie() -> Vec<u8> {
    cookie_for(&TfoKey(SERVER_TFO_KEY), CLIENT_IP.into(), SERVER_IP.into())
        .as_bytes()
        .to_vec()
}

fn accepted(s: &Solo) -> ConnId {
    s.events
        .iter()
        .find_map(|e| match e {
            Event::Accepted { conn, .. } => Some(*conn),
            _ => None,
        })
        .expect("accepted")
}

/// protocol.md §7.5, crafted-client rows: valid cookie, SYN/ACK acks the
/// 20 SYN bytes, MP_CAPABLE 20, then 10 bytes at DSN IDSN-A+1, SSN 1 ⇒
/// DATA_ACK IDSN-A+11 and the app sees 20 + 10 bytes.
#[test]
fn server_maps_first_byte_after_tfo_data_at_idsn_plus_one() {
    let (mut s, cli, srv) = server_solo(33);
    let isn = SubflowSeq(1_000_000);
    let syn_data: Vec<u8> = (0..20).collect();
    let out = s.inject(&build_frame(
        cli,
        srv,
        &client_syn(isn, Some(&valid_cookie()), &syn_data),
    ));
    let synack = out[0].clone();
    assert!(synack.is_synack());
    assert_eq!(synack.ack, Some(isn + 21));
    let key_b = mpc(&synack).sender_key.unwrap();
    let conn = accepted(&s);
    assert_eq!(
        s.data(conn),
        syn_data,
        "SYN data delivered before the third ACK"
    );
    let ack3 = seg(
        isn + 21,
        Some(synack.seq + 1),
        TcpFlags::ACK,
        options(|w| {
            w.mptcp(&MptcpOption::MpCapable(MpCapable::ack(h(), KEY_A, key_b)))
                .unwrap()
        }),
        &[],
    );
    s.inject(&build_frame(cli, srv, &ack3));
    let idsn_a = idsn(KEY_A);
    let more: Vec<u8> = (100..110).collect();
    let d = seg(
        isn + 21,
        Some(synack.seq + 1),
        TcpFlags::ACK | TcpFlags::PSH,
        options(|w| {
            w.mptcp(&dss_opt(
                Some(DssAck::Ack64((idsn(key_b) + 1).0)),
                Some((idsn_a + 1, 1, 10)),
            ))
            .unwrap()
        }),
        &more,
    );
    s.inject(&build_frame(cli, srv, &d));
    s.advance_ms(50);
    assert_eq!(s.data(conn), [syn_data.clone(), more].concat());
    assert_eq!(last_data_ack(&s, idsn_a), Some(idsn_a + 11));
    assert_eq!(s.stack.mptcp_mode(conn), Some(MptcpMode::Established));
    assert_no_rst(&s.sent);
}

/// protocol.md §7.6 item 1 and §7.5 last row: a peer that (wrongly) maps
/// the first byte after the TFO data at IDSN-A+1+N. Linux keeps DATA_ACK at
/// IDSN-A+1 and delivers nothing more; above all, nobody sends a RST.
#[test]
fn server_ignores_mapping_counting_tfo_bytes_without_reset() {
    let (mut s, cli, srv) = server_solo(34);
    let isn = SubflowSeq(2_000_000);
    let syn_data: Vec<u8> = (0..20).collect();
    let out = s.inject(&build_frame(
        cli,
        srv,
        &client_syn(isn, Some(&valid_cookie()), &syn_data),
    ));
    let synack = out[0].clone();
    let key_b = mpc(&synack).sender_key.unwrap();
    let conn = accepted(&s);
    let idsn_a = idsn(KEY_A);
    let ack3 = seg(
        isn + 21,
        Some(synack.seq + 1),
        TcpFlags::ACK,
        options(|w| {
            w.mptcp(&MptcpOption::MpCapable(MpCapable::ack(h(), KEY_A, key_b)))
                .unwrap()
        }),
        &[],
    );
    s.inject(&build_frame(cli, srv, &ack3));
    let d = seg(
        isn + 21,
        Some(synack.seq + 1),
        TcpFlags::ACK | TcpFlags::PSH,
        options(|w| {
            w.mptcp(&dss_opt(
                Some(DssAck::Ack64((idsn(key_b) + 1).0)),
                Some((idsn_a + 21, 1, 10)),
            ))
            .unwrap()
        }),
        &[9u8; 10],
    );
    s.inject(&build_frame(cli, srv, &d));
    s.advance_ms(50);
    assert_eq!(s.data(conn), syn_data, "only the TFO bytes");
    assert_eq!(last_data_ack(&s, idsn_a), Some(idsn_a + 1));
    assert_no_rst(&s.sent);
    assert_eq!(s.stack.mptcp_mode(conn), Some(MptcpMode::Established));
}

/// Linux-client quirk (protocol.md §7.4, `tfo-invalid-cookie.pcap`): after
/// a rejected cookie the SYN data comes back on the third ACK with only a
/// DSS ack32 and no MP_CAPABLE. The server falls back to TCP (§5.5) and
/// delivers the bytes once.
#[test]
fn server_falls_back_on_linux_resend_without_mp_capable() {
    let (mut s, cli, srv) = server_solo(35);
    let isn = SubflowSeq(3_000_000);
    let syn_data: Vec<u8> = (0..20).collect();
    let out = s.inject(&build_frame(
        cli,
        srv,
        &client_syn(isn, Some(&[9; 8]), &syn_data),
    ));
    let synack = out[0].clone();
    assert_eq!(
        synack.ack,
        Some(isn + 1),
        "invalid cookie: data not acknowledged"
    );
    assert_eq!(synack.opts.fast_open.unwrap().cookie(), &valid_cookie()[..]);
    let key_b = mpc(&synack).sender_key.unwrap();
    assert!(
        s.events.is_empty(),
        "nothing for the app before the handshake"
    );
    let resend = seg(
        isn + 1,
        Some(synack.seq + 1),
        TcpFlags::ACK | TcpFlags::PSH,
        options(|w| {
            w.mptcp(&dss_opt(
                Some(DssAck::Ack32((idsn(key_b) + 1).low32())),
                None,
            ))
            .unwrap()
        }),
        &syn_data,
    );
    s.inject(&build_frame(cli, srv, &resend));
    s.advance_ms(50);
    let conn = accepted(&s);
    assert_eq!(s.data(conn), syn_data);
    assert_eq!(s.stack.mptcp_mode(conn), Some(MptcpMode::Fallback));
    assert_eq!(s.stack.counters().mptcp_mp_capable_fallback_ack, 1);
    let ack = s.sent.last().unwrap();
    assert_eq!(ack.ack, Some(isn + 21));
    assert!(ack.mptcp().is_none());
    assert_no_rst(&s.sent);
}

/// Second Linux-client quirk (protocol.md §7.4): after a bare SYN
/// retransmission, the SYN bytes come on the third ACK with MP_CAPABLE of
/// length 20 plus payload — a length that does not fit the packet, so the
/// option is ignored and the server falls back; the bytes arrive once.
#[test]
fn server_falls_back_on_mp_capable_20_with_payload() {
    let (mut s, cli, srv) = server_solo(36);
    let isn = SubflowSeq(4_000_000);
    let out = s.inject(&build_frame(cli, srv, &client_syn(isn, None, &[])));
    let synack = out[0].clone();
    let key_b = mpc(&synack).sender_key.unwrap();
    let bytes: Vec<u8> = (50..70).collect();
    let ack3 = seg(
        isn + 1,
        Some(synack.seq + 1),
        TcpFlags::ACK | TcpFlags::PSH,
        options(|w| {
            w.mptcp(&MptcpOption::MpCapable(MpCapable::ack(h(), KEY_A, key_b)))
                .unwrap()
        }),
        &bytes,
    );
    s.inject(&build_frame(cli, srv, &ack3));
    s.advance_ms(50);
    let conn = accepted(&s);
    assert_eq!(s.data(conn), bytes);
    assert_eq!(s.stack.mptcp_mode(conn), Some(MptcpMode::Fallback));
    assert_no_rst(&s.sent);
}

/// protocol.md §7.5 crafted rows 1 and 2: after a rejected cookie, either
/// form of resending keeps MPTCP — MP_CAPABLE 22 with the data, or
/// MP_CAPABLE 20 followed by a DSS at DSN IDSN-A+1, SSN 1 — and the server
/// DATA_ACKs IDSN-A+21.
#[test]
fn server_accepts_both_resend_forms_after_rejected_cookie() {
    for (i, mpc22) in [true, false].into_iter().enumerate() {
        let (mut s, cli, srv) = server_solo(37 + i as u64);
        let isn = SubflowSeq(5_000_000);
        let syn_data: Vec<u8> = (0..20).collect();
        let out = s.inject(&build_frame(
            cli,
            srv,
            &client_syn(isn, Some(&[7; 8]), &syn_data),
        ));
        let synack = out[0].clone();
        assert_eq!(synack.ack, Some(isn + 1));
        let key_b = mpc(&synack).sender_key.unwrap();
        let idsn_a = idsn(KEY_A);
        if mpc22 {
            let d = seg(
                isn + 1,
                Some(synack.seq + 1),
                TcpFlags::ACK | TcpFlags::PSH,
                options(|w| {
                    w.mptcp(&MptcpOption::MpCapable(MpCapable::data(
                        h(),
                        KEY_A,
                        key_b,
                        20,
                        None,
                    )))
                    .unwrap()
                }),
                &syn_data,
            );
            s.inject(&build_frame(cli, srv, &d));
        } else {
            let ack3 = seg(
                isn + 1,
                Some(synack.seq + 1),
                TcpFlags::ACK,
                options(|w| {
                    w.mptcp(&MptcpOption::MpCapable(MpCapable::ack(h(), KEY_A, key_b)))
                        .unwrap()
                }),
                &[],
            );
            s.inject(&build_frame(cli, srv, &ack3));
            let d = seg(
                isn + 1,
                Some(synack.seq + 1),
                TcpFlags::ACK | TcpFlags::PSH,
                options(|w| {
                    w.mptcp(&dss_opt(
                        Some(DssAck::Ack64((idsn(key_b) + 1).0)),
                        Some((idsn_a + 1, 1, 20)),
                    ))
                    .unwrap()
                }),
                &syn_data,
            );
            s.inject(&build_frame(cli, srv, &d));
        }
        s.advance_ms(50);
        let conn = accepted(&s);
        assert_eq!(s.data(conn), syn_data, "form mpc22={mpc22}");
        assert_eq!(
            last_data_ack(&s, idsn_a),
            Some(idsn_a + 21),
            "form mpc22={mpc22}"
        );
        assert_eq!(
            s.stack.mptcp_mode(conn),
            Some(MptcpMode::Established),
            "form mpc22={mpc22}"
        );
        assert_no_rst(&s.sent);
    }
}
