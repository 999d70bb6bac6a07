//! DSS checksums (RFC 8684 §3.3.1, protocol.md §4) and what happens when
//! one fails or contradicts the negotiation (§3.7, checklist 16, 17, 21):
//!
//! - two stacks that negotiated checksums: every mapping on the wire carries
//!   a checksum that verifies, and data arrives intact;
//! - a payload byte corrupted on the way (TCP checksum still valid): the
//!   receiver never delivers or DATA_ACKs the failed mapping, sends MP_FAIL,
//!   the sender answers with an infinite mapping and resends the data as
//!   plain TCP, and both sides fall back;
//! - hand-played peers: the worked vectors of protocol.md §4 (0x82a1,
//!   0xc673), a mapping split across segments at an odd offset, checksum
//!   presence that contradicts the negotiation (RST, MP_TCPRST 0x01), a
//!   failed checksum answered by the peer's infinite mapping, and an
//!   MP_FAIL from the peer.

mod common;

use std::net::SocketAddrV4;

use common::*;
use mptfo_engine::config::{ReplyTiming, StackConfig};
use mptfo_engine::stack::{CloseReason, ConnId, ConnectOptions, Event, MptcpMode};
use mptfo_proto::checksum::{dss_checksum_verifies, Sum};
use mptfo_proto::options::{
    Dss, DssAck, DssDsn, DssMapping, MpCapable, MpTcpRstReason, MpcFlags, MptcpOption, OptionBlock,
    OptionWriter,
};
use mptfo_proto::wire::TcpFlags;
use mptfo_proto::{DataSeq, SubflowSeq};

/// Key-A of protocol.md §3.5: IDSN-A + 1 = 0xf5a101d3d29d6f73, the DSN of
/// the worked checksum example of §4.
const KEY_A: u64 = 0x0102_0304_0506_0708;
const KEY_B: u64 = 0x1122_3344_5566_7788;
const BULK: usize = 60_000;

fn flags_csum() -> MpcFlags {
    MpcFlags(MpcFlags::HMAC_SHA256 | MpcFlags::CHECKSUM)
}

fn options(build: impl FnOnce(&mut OptionWriter)) -> OptionBlock {
    let mut w = OptionWriter::new();
    build(&mut w);
    w.finish()
}

fn mptcp(opts: &[MptcpOption]) -> OptionBlock {
    options(|w| {
        for o in opts {
            w.mptcp(o).unwrap();
        }
    })
}

fn seg(
    seq: SubflowSeq,
    ack: SubflowSeq,
    flags: TcpFlags,
    options: OptionBlock,
    payload: &[u8],
) -> SegSpec {
    SegSpec {
        seq,
        ack: Some(ack),
        flags,
        window: 2048,
        options,
        payload: payload.to_vec(),
    }
}

fn dss_opt(
    ack: Option<DataSeq>,
    map: Option<(DataSeq, u32, u16, Option<u16>)>,
    data_fin: bool,
) -> MptcpOption {
    MptcpOption::Dss(Dss {
        data_fin,
        data_ack: ack.map(|a| DssAck::Ack64(a.0)),
        mapping: map.map(|(dsn, ssn, data_len, checksum)| DssMapping {
            dsn: DssDsn::Dsn64(dsn.0),
            ssn,
            data_len,
            checksum,
        }),
        ignored_flags: 0,
    })
}

/// The checksum of a mapping over `payload` (protocol.md §4).
fn csum(dsn: DataSeq, ssn: u32, data_len: u16, payload: &[u8]) -> u16 {
    mptfo_proto::checksum::dss_checksum(dsn.0, ssn, data_len, Sum::of(payload))
}

fn bulk_reply() -> Vec<u8> {
    (0..BULK)
        .map(|i| (i % 251) as u8 ^ (i / 251) as u8)
        .collect()
}

fn checksum_config() -> StackConfig {
    let mut c = StackConfig::default();
    c.mptcp.checksum = true;
    c
}

fn bulk_pair(name: &str, seed: u64) -> Pair {
    let mut p = Pair::new(
        name,
        checksum_config(),
        server_config(ReplyTiming::Hold),
        link(5),
        seed,
    );
    p.server.app.request_len = 64;
    p.server.app.reply = bulk_reply();
    p.client.app.close_after_bytes = Some(BULK);
    p
}

fn connect(p: &mut Pair) -> ConnId {
    p.client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap()
}

/// Every mapping in `pk` carries a checksum that verifies over the
/// segment's payload (each of our segments carries one whole mapping); the
/// DATA_FIN-only and infinite forms as protocol.md §4 says. Returns the
/// number of mappings checked.
fn assert_every_mapping_verifies(pk: &[Pkt]) -> usize {
    let key_a = pk
        .iter()
        .find_map(|x| x.mpc().and_then(|m| m.receiver_key.and(m.sender_key)))
        .expect("client key on the wire");
    let mut checked = 0;
    for x in pk.iter().filter(|x| !x.syn() && !x.rst()) {
        for o in x.opts.mptcp_options() {
            match o {
                MptcpOption::MpCapable(m) if m.data_len.is_some() => {
                    let c = m.checksum.expect("MP_CAPABLE with data carries a checksum");
                    let dsn = idsn(key_a) + 1;
                    assert!(
                        dss_checksum_verifies(
                            dsn.0,
                            1,
                            m.data_len.unwrap(),
                            c,
                            Sum::of(&x.payload)
                        ),
                        "MP_CAPABLE checksum: {x:?}"
                    );
                    checked += 1;
                }
                MptcpOption::Dss(d) => {
                    let Some(m) = d.mapping else { continue };
                    let c = m.checksum.expect("every mapping carries a checksum");
                    let DssDsn::Dsn64(dsn) = m.dsn else {
                        panic!("64-bit DSNs: {x:?}")
                    };
                    if m.is_infinite() {
                        assert_eq!(c, 0, "infinite mapping: checksum 0");
                        continue;
                    }
                    assert_eq!(
                        m.data_len as usize,
                        x.payload.len() + d.data_fin as usize,
                        "one whole mapping per segment: {x:?}"
                    );
                    assert!(
                        dss_checksum_verifies(dsn, m.ssn, m.data_len, c, Sum::of(&x.payload)),
                        "DSS checksum: {x:?}"
                    );
                    checked += 1;
                }
                _ => {}
            }
        }
    }
    checked
}

/// Checksums negotiated by the client alone (the server's default is off,
/// RFC 8684 §3.1: either side's A flag decides): a request and a 60 kB
/// reply, each mapping checksummed and verified, a clean close.
#[test]
fn checksummed_transfer() {
    let mut p = bulk_pair("csum_transfer", 71);
    let c = connect(&mut p);
    assert!(p.run_until(10_000, |p| both_closed(p, 1)));
    let s = p.server.app.seen.accepted[0];
    assert_eq!(p.client.app.seen.data[&c], bulk_reply());
    assert_eq!(p.server.app.seen.data[&s], request());
    assert_eq!(p.client.app.seen.closed[0].1, CloseReason::Graceful);
    assert_eq!(p.server.app.seen.closed[0].1, CloseReason::Graceful);
    let pk = p.packets();
    assert!(
        pk.iter()
            .filter_map(|x| x.mpc())
            .all(|m| m.flags.checksum_required()),
        "A flag on every MP_CAPABLE (the server adopts the client's choice)"
    );
    let n = assert_every_mapping_verifies(&pk);
    assert!(n > BULK / 1420, "{n} mappings checked");
    for side in [&p.client.stack, &p.server.stack] {
        let k = side.counters();
        assert_eq!(k.mptcp_data_csum_err, 0);
        assert_eq!(k.mptcp_mp_fail_tx, 0);
        assert_eq!(k.mptcp_infinite_map_tx, 0);
    }
    assert_no_rst(&pk);
}

/// The same with two data segments lost: retransmissions repeat their
/// mappings and checksums, and the receiver holds nothing it cannot verify.
#[test]
fn checksummed_transfer_with_loss() {
    let mut p = bulk_pair("csum_transfer_loss", 72);
    let mut seen = 0;
    p.filter_server(Box::new(move |x, _| {
        if x.payload.len() > 1000 {
            seen += 1;
            if seen == 5 || seen == 9 {
                return Verdict::Drop;
            }
        }
        Verdict::Pass
    }));
    let c = connect(&mut p);
    assert!(p.run_until(20_000, |p| both_closed(p, 1)));
    assert_eq!(p.client.app.seen.data[&c], bulk_reply());
    assert!(p.server.stack.counters().tcp_retrans_segs >= 2);
    assert_eq!(p.client.stack.counters().mptcp_data_csum_err, 0);
    assert_every_mapping_verifies(&p.packets());
    assert_no_rst(&p.packets());
}

/// RFC 8684 §3.7, protocol.md §4: one payload byte of a server data segment
/// flips on the way (the TCP checksum is filled in after the change, so TCP
/// accepts it). The client's DSS checksum fails: the corrupted bytes never
/// reach the application and are never DATA_ACKed; the client sends MP_FAIL
/// with the failed mapping's DSN; the server answers with MP_FAIL and an
/// infinite mapping starting at that DSN and resends the data plain; the
/// client falls back too (its own infinite mapping). The reply arrives
/// intact, the connection closes cleanly as plain TCP.
#[test]
fn corrupted_payload_mp_fail_then_fallback() {
    let mut p = bulk_pair("csum_corrupt", 73);
    let mut seen = 0;
    p.filter_server(Box::new(move |x, bytes| {
        if x.payload.len() > 1000 {
            seen += 1;
            if seen == 3 {
                let n = bytes.len();
                bytes[n - 100] ^= 0x20;
            }
        }
        Verdict::Pass
    }));
    let c = connect(&mut p);
    assert!(p.run_until(20_000, |p| both_closed(p, 1)));
    let s = p.server.app.seen.accepted[0];
    assert_eq!(
        p.client.app.seen.data[&c],
        bulk_reply(),
        "the corrupted byte never reached the application"
    );
    assert_eq!(p.server.app.seen.data[&s], request());
    assert_eq!(p.client.app.seen.closed[0].1, CloseReason::Graceful);
    assert_eq!(p.server.app.seen.closed[0].1, CloseReason::Graceful);

    let pk = p.packets();
    // The corrupted segment and its mapping's DSN.
    let bad = pk
        .iter()
        .filter(|x| x.from == Side::Server && x.payload.len() > 1000)
        .nth(2)
        .unwrap();
    let bad_map = dss(bad).mapping.unwrap();
    let DssDsn::Dsn64(bad_dsn) = bad_map.dsn else {
        panic!()
    };
    assert!(!dss_checksum_verifies(
        bad_dsn,
        bad_map.ssn,
        bad_map.data_len,
        bad_map.checksum.unwrap(),
        Sum::of(&bad.payload)
    ));
    // The client never DATA_ACKs past the start of the failed mapping.
    let key_b = pk
        .iter()
        .find_map(|x| x.is_synack().then(|| mpc(x).sender_key.unwrap()))
        .unwrap();
    for x in pk.iter().filter(|x| x.from == Side::Client && x.t >= bad.t) {
        if let Some(a) = x.dss().and_then(|d| d.data_ack) {
            assert!(
                a.expand(idsn(key_b)) <= DataSeq(bad_dsn),
                "DATA_ACK past the failed mapping: {x:?}"
            );
        }
    }
    // MP_FAIL from the client with that DSN.
    let fail = pk
        .iter()
        .find(|x| {
            x.from == Side::Client
                && x.opts
                    .mptcp_options()
                    .any(|o| matches!(o, MptcpOption::MpFail { .. }))
        })
        .expect("MP_FAIL from the client");
    assert!(fail
        .opts
        .mptcp_options()
        .any(|o| *o == MptcpOption::MpFail { dsn: bad_dsn }));
    assert!(!fail.rst(), "one subflow: MP_FAIL on an ACK, no reset");
    // The server's answer: an infinite mapping at the failed DSN, with
    // MP_FAIL, on the segment that resends the failed bytes.
    let inf = pk
        .iter()
        .find(|x| {
            x.from == Side::Server
                && x.dss()
                    .and_then(|d| d.mapping)
                    .is_some_and(|m| m.is_infinite())
        })
        .expect("infinite mapping from the server");
    let im = dss(inf).mapping.unwrap();
    assert_eq!(im.dsn, DssDsn::Dsn64(bad_dsn));
    assert_eq!(im.checksum, Some(0));
    assert!(inf
        .opts
        .mptcp_options()
        .any(|o| matches!(o, MptcpOption::MpFail { .. })));
    assert!(inf.t > fail.t);
    let resent = pk
        .iter()
        .find(|x| x.from == Side::Server && x.t >= inf.t && !x.payload.is_empty())
        .expect("data resent");
    let first_bad = (bad_dsn - (idsn(key_b) + 1).0) as usize;
    assert_eq!(
        resent.payload[..],
        bulk_reply()[first_bad..first_bad + resent.payload.len()],
        "the failed mapping's bytes go out again, plain"
    );
    // The client's own infinite mapping (both directions revert).
    assert!(pk.iter().any(|x| x.from == Side::Client
        && x.dss()
            .and_then(|d| d.mapping)
            .is_some_and(|m| m.is_infinite())));
    // After the infinite mappings are acknowledged, no mapping any more.
    let last_inf = pk
        .iter()
        .rposition(|x| {
            x.dss()
                .and_then(|d| d.mapping)
                .is_some_and(|m| m.is_infinite())
        })
        .unwrap();
    for x in &pk[last_inf + 1..] {
        assert!(
            x.dss().and_then(|d| d.mapping).is_none(),
            "mapping after fallback: {x:?}"
        );
    }
    let (ck, sk) = (p.client.stack.counters(), p.server.stack.counters());
    assert_eq!(ck.mptcp_data_csum_err, 1);
    assert!(ck.mptcp_mp_fail_tx >= 1);
    assert!(ck.mptcp_infinite_map_rx >= 1);
    assert!(ck.mptcp_infinite_map_tx >= 1);
    assert!(sk.mptcp_mp_fail_rx >= 1);
    assert!(sk.mptcp_mp_fail_tx >= 1);
    assert!(sk.mptcp_infinite_map_tx >= 1);
    assert!(sk.mptcp_infinite_map_rx >= 1);
    assert_no_rst(&pk);
}

// ---------------------------------------------------------------------------
// Hand-played peers.
// ---------------------------------------------------------------------------

struct Server {
    s: Solo,
    cli: SocketAddrV4,
    srv: SocketAddrV4,
    conn: ConnId,
    /// Client's next sequence number.
    seq: SubflowSeq,
    /// Server's next sequence number (what the client acknowledges).
    ack: SubflowSeq,
    key_b: u64,
}

/// A listener with `server_cfg` and a hand-played client with Key-A whose
/// SYN asks for checksums when `client_csum`; handshake done (third ACK
/// MP_CAPABLE 20).
fn server_with_client(server_cfg: StackConfig, client_csum: bool, seed: u64) -> Server {
    let mut s = Solo::new(server_cfg, SERVER_IP, seed);
    s.stack.listen(PORT);
    let cli = SocketAddrV4::new(CLIENT_IP, 40_000);
    let srv = SocketAddrV4::new(SERVER_IP, PORT);
    let flags = if client_csum {
        flags_csum()
    } else {
        MpcFlags(MpcFlags::HMAC_SHA256)
    };
    let isn = SubflowSeq(3_000_000);
    let syn = SegSpec {
        seq: isn,
        ack: None,
        flags: TcpFlags::SYN,
        window: 2048,
        options: options(|w| {
            w.mss(1460).unwrap();
            w.mptcp(&MptcpOption::MpCapable(MpCapable::syn(flags)))
                .unwrap();
        }),
        payload: Vec::new(),
    };
    let out = s.inject(&build_frame(cli, srv, &syn));
    let synack = out[0].clone();
    let m = mpc(&synack);
    let key_b = m.sender_key.unwrap();
    let ack3 = seg(
        isn + 1,
        synack.seq + 1,
        TcpFlags::ACK,
        mptcp(&[MptcpOption::MpCapable(MpCapable::ack(
            m.flags, KEY_A, key_b,
        ))]),
        &[],
    );
    s.inject(&build_frame(cli, srv, &ack3));
    let conn = s
        .events
        .iter()
        .find_map(|e| match e {
            Event::Accepted { conn, .. } => Some(*conn),
            _ => None,
        })
        .expect("accepted");
    Server {
        s,
        cli,
        srv,
        conn,
        seq: isn + 1,
        ack: synack.seq + 1,
        key_b,
    }
}

impl Server {
    /// Sends `payload` from the client with `opts`, advancing its sequence.
    fn send(&mut self, opts: &[MptcpOption], payload: &[u8]) -> Vec<Pkt> {
        let flags = if payload.is_empty() {
            TcpFlags::ACK
        } else {
            TcpFlags::ACK | TcpFlags::PSH
        };
        let spec = seg(self.seq, self.ack, flags, mptcp(opts), payload);
        self.seq += payload.len();
        self.s.inject(&build_frame(self.cli, self.srv, &spec))
    }

    fn data_ack_b(&self) -> DataSeq {
        idsn(self.key_b) + 1
    }

    fn last_data_ack(&self) -> Option<DataSeq> {
        self.s.sent.iter().rev().find_map(|p| {
            p.dss()
                .and_then(|d| d.data_ack)
                .map(|a| a.expand(idsn(KEY_A)))
        })
    }
}

/// protocol.md §4 worked vectors: "hello" at DSN IDSN-A+1 (=
/// 0xf5a101d3d29d6f73), SSN 1, length 5 has checksum 0x82a1; the DATA_FIN
/// alone at 0xf5a101d3d29d6f78 (SSN 0, length 1) has 0xc673. Both verify
/// at the listener: the data is delivered and DATA_ACKed, then the
/// DATA_FIN closes the peer's direction.
#[test]
fn worked_vectors_verify() {
    let mut t = server_with_client(checksum_config(), false, 81);
    let dsn = idsn(KEY_A) + 1;
    assert_eq!(dsn, DataSeq(0xf5a1_01d3_d29d_6f73));
    assert_eq!(csum(dsn, 1, 5, b"hello"), 0x82a1);
    let ack_b = t.data_ack_b();
    t.send(
        &[dss_opt(Some(ack_b), Some((dsn, 1, 5, Some(0x82a1))), false)],
        b"hello",
    );
    t.s.advance_ms(50);
    assert_eq!(t.s.data(t.conn), b"hello".to_vec());
    assert_eq!(t.last_data_ack(), Some(dsn + 5));
    assert_eq!(csum(dsn + 5, 0, 1, &[]), 0xc673);
    t.send(
        &[dss_opt(
            Some(ack_b),
            Some((dsn + 5, 0, 1, Some(0xc673))),
            true,
        )],
        &[],
    );
    t.s.advance_ms(50);
    assert!(t
        .s
        .events
        .iter()
        .any(|e| matches!(e, Event::PeerClosed { conn } if *conn == t.conn)));
    assert_eq!(t.last_data_ack(), Some(dsn + 6), "DATA_FIN acknowledged");
    assert_eq!(t.s.stack.counters().mptcp_data_csum_err, 0);
    assert_no_rst(&t.s.sent);
}

/// RFC 8684 §3.3.1: a mapping may span segments; the checksum covers the
/// whole mapping, so nothing of it is delivered or DATA_ACKed before its
/// last byte arrives. The split is at an odd offset (5 of 12 bytes), so the
/// second part's sum is byte-swapped into place.
#[test]
fn mapping_across_segments_at_odd_offset() {
    let mut t = server_with_client(checksum_config(), true, 82);
    let dsn = idsn(KEY_A) + 1;
    let msg = b"hello world!";
    let c = csum(dsn, 1, 12, msg);
    let ack_b = t.data_ack_b();
    t.send(
        &[dss_opt(Some(ack_b), Some((dsn, 1, 12, Some(c))), false)],
        &msg[..5],
    );
    t.s.advance_ms(50);
    assert!(
        t.s.data(t.conn).is_empty(),
        "held until the mapping is complete"
    );
    assert_eq!(t.last_data_ack(), Some(dsn), "nothing DATA_ACKed yet");
    // The rest under the same mapping, repeated (an identical mapping is
    // harmless, checklist 18).
    t.send(
        &[dss_opt(Some(ack_b), Some((dsn, 1, 12, Some(c))), false)],
        &msg[5..],
    );
    t.s.advance_ms(50);
    assert_eq!(t.s.data(t.conn), msg.to_vec());
    assert_eq!(t.last_data_ack(), Some(dsn + 12));
    // And a mapping that continues in a segment with no mapping at all.
    let msg2 = b"abcdefg";
    let c2 = csum(dsn + 12, 13, 7, msg2);
    t.send(
        &[dss_opt(
            Some(ack_b),
            Some((dsn + 12, 13, 7, Some(c2))),
            false,
        )],
        &msg2[..3],
    );
    t.send(&[dss_opt(Some(ack_b), None, false)], &msg2[3..]);
    t.s.advance_ms(50);
    assert_eq!(t.s.data(t.conn), [&msg[..], &msg2[..]].concat());
    assert_eq!(t.s.stack.counters().mptcp_data_csum_err, 0);
    assert_no_rst(&t.s.sent);
}

/// Checklist 17 (protocol.md §2.3): checksums were negotiated but a DSS
/// mapping comes without one ⇒ RST with MP_TCPRST 0x01, nothing delivered,
/// the connection reset.
#[test]
fn missing_checksum_resets_subflow() {
    let mut t = server_with_client(checksum_config(), false, 83);
    let dsn = idsn(KEY_A) + 1;
    let ack_b = t.data_ack_b();
    let out = t.send(
        &[dss_opt(Some(ack_b), Some((dsn, 1, 5, None)), false)],
        b"hello",
    );
    let rst = out.iter().find(|x| x.rst()).expect("RST");
    assert!(rst.opts.mptcp_options().any(|o| matches!(
        o,
        MptcpOption::MpTcpRst {
            reason: MpTcpRstReason::MptcpError,
            ..
        }
    )));
    assert!(t.s.data(t.conn).is_empty());
    assert!(t.s.events.iter().any(|e| matches!(
        e,
        Event::Closed { conn, reason: CloseReason::Reset } if *conn == t.conn
    )));
    let k = t.s.stack.counters();
    assert_eq!(k.mptfo_dss_csum_presence_mismatch, 1);
    assert_eq!(k.mptcp_mp_rst_tx, 1);
    assert_eq!(t.s.stack.connection_count(), 0);
}

/// The other way round: no checksums negotiated, a mapping carries one ⇒
/// RST with MP_TCPRST 0x01.
#[test]
fn unexpected_checksum_resets_subflow() {
    let mut t = server_with_client(server_config(ReplyTiming::Hold), false, 84);
    let dsn = idsn(KEY_A) + 1;
    let ack_b = t.data_ack_b();
    let out = t.send(
        &[dss_opt(Some(ack_b), Some((dsn, 1, 5, Some(0x82a1))), false)],
        b"hello",
    );
    let rst = out.iter().find(|x| x.rst()).expect("RST");
    assert!(rst.opts.mptcp_options().any(|o| matches!(
        o,
        MptcpOption::MpTcpRst {
            reason: MpTcpRstReason::MptcpError,
            ..
        }
    )));
    assert!(t.s.data(t.conn).is_empty());
    assert_eq!(t.s.stack.counters().mptfo_dss_csum_presence_mismatch, 1);
}

/// A checksum fails at the listener (single subflow, data contiguous):
/// MP_FAIL with the mapping's DSN on the ACK, nothing delivered or
/// DATA_ACKed, later mapped data discarded. The peer answers as RFC 8684
/// §3.7 says — an infinite mapping at that DSN with the bytes resent — and
/// the listener takes the plain bytes from there, answering with its own
/// infinite mapping (checklist 21, both directions) and then plain TCP.
#[test]
fn failed_checksum_answered_by_infinite_mapping() {
    let mut t = server_with_client(checksum_config(), true, 85);
    let dsn = idsn(KEY_A) + 1;
    let ack_b = t.data_ack_b();
    // Good data first, then a corrupted mapping, then one more mapping.
    t.send(
        &[dss_opt(Some(ack_b), Some((dsn, 1, 5, Some(0x82a1))), false)],
        b"hello",
    );
    let good = csum(dsn + 5, 6, 6, b" world");
    let out = t.send(
        &[dss_opt(
            Some(ack_b),
            Some((dsn + 5, 6, 6, Some(good))),
            false,
        )],
        b" wOrld",
    );
    let out2 = t.send(
        &[dss_opt(
            Some(ack_b),
            Some((dsn + 11, 12, 1, Some(csum(dsn + 11, 12, 1, b"!")))),
            false,
        )],
        b"!",
    );
    t.s.advance_ms(50);
    let fail: Vec<&Pkt> = out
        .iter()
        .chain(out2.iter())
        .chain(t.s.sent.iter())
        .filter(|x| {
            x.opts
                .mptcp_options()
                .any(|o| *o == MptcpOption::MpFail { dsn: (dsn + 5).0 })
        })
        .collect();
    assert!(!fail.is_empty(), "MP_FAIL:\n{}", listing(&t.s.sent));
    assert!(fail.iter().all(|x| !x.rst()));
    assert_eq!(t.s.data(t.conn), b"hello".to_vec());
    assert_eq!(t.last_data_ack(), Some(dsn + 5));
    assert_eq!(t.s.stack.counters().mptcp_data_csum_err, 1);

    // The peer's answer: MP_FAIL and an infinite mapping at DSN+5 on the
    // resent bytes (plain from here on).
    let ssn_now = (t.seq - SubflowSeq(3_000_001)) as u32 + 1;
    let n_before = t.s.sent.len();
    t.send(
        &[
            dss_opt(Some(ack_b), Some((dsn + 5, ssn_now, 0, Some(0))), false),
            MptcpOption::MpFail { dsn: (dsn + 5).0 },
        ],
        b" world!",
    );
    t.send(&[], b" bye");
    t.s.advance_ms(50);
    assert_eq!(t.s.data(t.conn), b"hello world! bye".to_vec());
    assert_eq!(t.s.stack.mptcp_mode(t.conn), Some(MptcpMode::Fallback));
    // Our infinite mapping: DSN IDSN-B+1 (nothing sent yet), checksum 0.
    let ours = t.s.sent[n_before..]
        .iter()
        .find_map(|x| x.dss().and_then(|d| d.mapping))
        .expect("our infinite mapping");
    assert!(ours.is_infinite());
    assert_eq!(ours.dsn, DssDsn::Dsn64(t.data_ack_b().0));
    assert_eq!(ours.checksum, Some(0));
    // Our data now goes plain; once the peer acknowledges a byte of it, no
    // MPTCP option is sent any more.
    t.s.stack.send(t.conn, b"reply").unwrap();
    let out = t.s.collect();
    let d = out.iter().find(|x| !x.payload.is_empty()).unwrap();
    assert_eq!(d.payload, b"reply".to_vec());
    assert!(dss(d).mapping.unwrap().is_infinite());
    t.ack = d.seq + 5;
    t.send(&[], b"");
    t.send(&[], b"more");
    t.s.advance_ms(100);
    let tail = t.s.sent.last().unwrap();
    assert!(tail.mptcp().is_none(), "plain TCP: {tail:?}");
    assert_eq!(t.s.data(t.conn), b"hello world! byemore".to_vec());
    assert_no_rst(&t.s.sent);
}

/// MP_FAIL from the peer about our data (RFC 8684 §3.7): with one subflow
/// we answer with MP_FAIL and an infinite mapping at the failed DSN, resend
/// the data the peer has not DATA_ACKed as plain bytes, and count what the
/// peer acknowledges from there.
#[test]
fn mp_fail_from_peer_resends_plain_under_infinite_mapping() {
    let mut cfg = checksum_config();
    cfg.tfo_client.enabled = false;
    let mut s = Solo::new(cfg, CLIENT_IP, 86);
    let srv = SocketAddrV4::new(SERVER_IP, PORT);
    let conn = s
        .stack
        .connect(server_addr(), &[], ConnectOptions::default())
        .unwrap();
    let syn = s.collect()[0].clone();
    let cli = SocketAddrV4::new(CLIENT_IP, syn.src_port);
    let isn_b = SubflowSeq(50_000);
    let synack = SegSpec {
        seq: isn_b,
        ack: Some(syn.seq + 1),
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 2048,
        options: options(|w| {
            w.mss(1460).unwrap();
            w.mptcp(&MptcpOption::MpCapable(MpCapable::synack(
                flags_csum(),
                KEY_B,
            )))
            .unwrap();
        }),
        payload: Vec::new(),
    };
    s.inject(&build_frame(srv, cli, &synack));
    let key_a = s
        .sent
        .iter()
        .find_map(|x| x.mpc().and_then(|m| m.sender_key))
        .expect("Key-A on the third ACK");
    let idsn_a = idsn(key_a);
    let payload: Vec<u8> = (0..100u8).collect();
    s.stack.send(conn, &payload).unwrap();
    let first = s.collect();
    let d1 = first
        .iter()
        .find(|x| !x.payload.is_empty())
        .unwrap()
        .clone();
    // The server acknowledges at TCP level, DATA_ACKs 40 bytes and reports
    // a failed checksum for the mapping from there (as if it covered the
    // rest).
    let fail = SegSpec {
        seq: isn_b + 1,
        ack: Some(d1.seq + d1.payload.len()),
        flags: TcpFlags::ACK,
        window: 2048,
        options: mptcp(&[
            dss_opt(Some(idsn_a + 41), None, false),
            MptcpOption::MpFail {
                dsn: (idsn_a + 41).0,
            },
        ]),
        payload: Vec::new(),
    };
    let out = s.inject(&build_frame(srv, cli, &fail));
    let resend = out
        .iter()
        .find(|x| !x.payload.is_empty())
        .expect("data resent");
    assert_eq!(resend.payload, payload[40..].to_vec());
    assert_eq!(
        resend.seq,
        d1.seq + d1.payload.len(),
        "as new subflow bytes"
    );
    let m = dss(resend).mapping.unwrap();
    assert!(m.is_infinite());
    assert_eq!(m.dsn, DssDsn::Dsn64((idsn_a + 41).0));
    assert_eq!(m.checksum, Some(0));
    assert!(resend.opts.mptcp_options().any(|o| *o
        == MptcpOption::MpFail {
            dsn: (idsn_a + 41).0
        }));
    let k = s.stack.counters();
    assert_eq!(
        (k.mptcp_mp_fail_rx, k.mptcp_infinite_map_tx >= 1),
        (1, true)
    );
    // The server acknowledges the resent bytes: the send buffer empties.
    let ack = SegSpec {
        seq: isn_b + 1,
        ack: Some(resend.seq + resend.payload.len()),
        flags: TcpFlags::ACK,
        window: 2048,
        options: mptcp(&[]),
        payload: Vec::new(),
    };
    s.inject(&build_frame(srv, cli, &ack));
    assert_eq!(s.stack.send_room(conn), s.stack.config().send_buffer);
    assert_no_rst(&s.sent);
}

/// RFC 8684 §3.7: a checksum fails while data sits out of order at data
/// level (not contiguous): no fallback is possible, the subflow is reset
/// with MP_FAIL (the failed mapping's DSN) and MP_TCPRST 0x06.
#[test]
fn failed_checksum_with_data_out_of_order_resets() {
    let mut t = server_with_client(checksum_config(), true, 87);
    let dsn = idsn(KEY_A) + 1;
    let ack_b = t.data_ack_b();
    // Bytes mapped ahead of the DATA_ACK (a hole at data level), then a
    // corrupted mapping at the DATA_ACK.
    let ahead = csum(dsn + 100, 1, 3, b"xyz");
    t.send(
        &[dss_opt(
            Some(ack_b),
            Some((dsn + 100, 1, 3, Some(ahead))),
            false,
        )],
        b"xyz",
    );
    let out = t.send(
        &[dss_opt(
            Some(ack_b),
            Some((dsn, 4, 5, Some(csum(dsn, 4, 5, b"hello")))),
            false,
        )],
        b"jello",
    );
    let rst = out.iter().find(|x| x.rst()).expect("RST");
    let opts: Vec<&MptcpOption> = rst.opts.mptcp_options().collect();
    assert!(opts.contains(&&MptcpOption::MpFail { dsn: dsn.0 }));
    assert!(opts.iter().any(|o| matches!(
        o,
        MptcpOption::MpTcpRst {
            reason: MpTcpRstReason::MiddleboxInterference,
            ..
        }
    )));
    assert!(t.s.data(t.conn).is_empty());
    let k = t.s.stack.counters();
    assert_eq!(
        (k.mptcp_data_csum_err, k.mptcp_mp_fail_tx, k.mptcp_mp_rst_tx),
        (1, 1, 1)
    );
    assert_eq!(t.s.stack.connection_count(), 0);
}

/// Our MP_FAIL goes unanswered: it is repeated on ACKs with backoff (1, 2,
/// 4 s), then the subflow is reset with MP_FAIL and MP_TCPRST 0x06 — the
/// wait is bounded.
#[test]
fn unanswered_mp_fail_is_repeated_then_resets() {
    let mut t = server_with_client(checksum_config(), true, 88);
    let dsn = idsn(KEY_A) + 1;
    let ack_b = t.data_ack_b();
    t.send(
        &[dss_opt(Some(ack_b), Some((dsn, 1, 5, Some(0x82a1))), false)],
        b"jello",
    );
    let fails = |s: &Solo| {
        s.sent
            .iter()
            .filter(|x| {
                !x.rst()
                    && x.opts
                        .mptcp_options()
                        .any(|o| *o == MptcpOption::MpFail { dsn: dsn.0 })
            })
            .count()
    };
    t.s.advance_ms(100);
    let first = fails(&t.s);
    assert!(first >= 1);
    for _ in 0..80 {
        t.s.advance_ms(100);
    }
    assert_eq!(fails(&t.s), first + 3, "repeated three times");
    assert!(t.s.sent.iter().all(|x| !x.rst()));
    for _ in 0..100 {
        t.s.advance_ms(100);
    }
    let rst = t.s.sent.iter().find(|x| x.rst()).expect("RST at last");
    assert!(rst
        .opts
        .mptcp_options()
        .any(|o| *o == MptcpOption::MpFail { dsn: dsn.0 }));
    assert!(rst.opts.mptcp_options().any(|o| matches!(
        o,
        MptcpOption::MpTcpRst {
            reason: MpTcpRstReason::MiddleboxInterference,
            ..
        }
    )));
    assert!(t.s.events.iter().any(|e| matches!(
        e,
        Event::Closed { conn, reason: CloseReason::Reset } if *conn == t.conn
    )));
    assert!(t.s.data(t.conn).is_empty());
}
