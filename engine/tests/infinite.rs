//! Fallback to plain TCP after MPTCP data was exchanged (RFC 8684 §3.7,
//! protocol.md §5.5, checklist 21), at packet level against a hand-played
//! server: our side sends one infinite mapping (data-level length 0) before
//! going plain — when the peer's data stops carrying mappings, and when the
//! peer acknowledges our first data without ever sending a DATA_ACK — and a
//! received infinite mapping is honoured (its bytes are the data stream 1:1
//! from its DSN, duplicates trimmed), answered with our own.

mod common;

use std::net::SocketAddrV4;

use common::*;
use mptfo_engine::config::StackConfig;
use mptfo_engine::stack::{ConnId, ConnectOptions, Event, MptcpMode};
use mptfo_proto::options::{
    Dss, DssAck, DssDsn, DssMapping, MpCapable, MpcFlags, MptcpOption, OptionBlock, OptionWriter,
};
use mptfo_proto::wire::TcpFlags;
use mptfo_proto::{DataSeq, SubflowSeq};

const KEY_B: u64 = 0x1122_3344_5566_7788;

fn mptcp(opts: &[MptcpOption]) -> OptionBlock {
    let mut w = OptionWriter::new();
    for o in opts {
        w.mptcp(o).unwrap();
    }
    w.finish()
}

fn dss_opt(ack: Option<DataSeq>, map: Option<(DataSeq, u32, u16)>) -> MptcpOption {
    MptcpOption::Dss(Dss {
        data_fin: false,
        data_ack: ack.map(|a| DssAck::Ack64(a.0)),
        mapping: map.map(|(dsn, ssn, data_len)| DssMapping {
            dsn: DssDsn::Dsn64(dsn.0),
            ssn,
            data_len,
            checksum: None,
        }),
        ignored_flags: 0,
    })
}

fn infinite(dss: &Dss) -> Option<DssMapping> {
    dss.mapping.filter(|m| m.is_infinite())
}

/// A client stack and the hand-played server's view of the connection.
struct Client {
    s: Solo,
    conn: ConnId,
    cli: SocketAddrV4,
    srv: SocketAddrV4,
    /// Server's next sequence number.
    seq: SubflowSeq,
    /// What the server acknowledges.
    ack: SubflowSeq,
    idsn_a: DataSeq,
    idsn_b: DataSeq,
}

impl Client {
    /// Sends a server segment with `opts` and `payload`.
    fn send(&mut self, flags: TcpFlags, opts: &[MptcpOption], payload: &[u8]) -> Vec<Pkt> {
        let spec = SegSpec {
            seq: self.seq,
            ack: Some(self.ack),
            flags,
            window: 2048,
            options: mptcp(opts),
            payload: payload.to_vec(),
        };
        self.seq += payload.len() + flags.contains(TcpFlags::FIN) as usize;
        self.s.inject(&build_frame(self.srv, self.cli, &spec))
    }
}

/// Connects, the server answers with MP_CAPABLE (Key-B); the client's
/// 64-byte request goes out as MP_CAPABLE with data. With `data_ack`, the
/// server DATA_ACKs it and replies with 10 mapped bytes (IDSN-B+1, SSN 1):
/// MPTCP data flowed both ways.
fn connected(seed: u64, data_ack: bool) -> Client {
    let mut cfg = StackConfig::default();
    cfg.tfo_client.enabled = false;
    let mut s = Solo::new(cfg, CLIENT_IP, seed);
    let srv = SocketAddrV4::new(SERVER_IP, PORT);
    let conn = s
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    let syn = s.collect()[0].clone();
    assert!(syn.payload.is_empty());
    let cli = SocketAddrV4::new(CLIENT_IP, syn.src_port);
    let isn_b = SubflowSeq(70_000);
    let mut w = OptionWriter::new();
    w.mss(1460).unwrap();
    w.mptcp(&MptcpOption::MpCapable(MpCapable::synack(
        MpcFlags(MpcFlags::HMAC_SHA256),
        KEY_B,
    )))
    .unwrap();
    let synack = SegSpec {
        seq: isn_b,
        ack: Some(syn.seq + 1),
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 2048,
        options: w.finish(),
        payload: Vec::new(),
    };
    let out = s.inject(&build_frame(srv, cli, &synack));
    let req = out
        .iter()
        .find(|p| !p.payload.is_empty())
        .expect("request")
        .clone();
    assert_eq!(req.payload, request());
    let key_a = mpc(&req).sender_key.unwrap();
    let mut c = Client {
        s,
        conn,
        cli,
        srv,
        seq: isn_b + 1,
        ack: req.seq + 64,
        idsn_a: idsn(key_a),
        idsn_b: idsn(KEY_B),
    };
    if data_ack {
        let (a, b) = (c.idsn_a, c.idsn_b);
        c.send(
            TcpFlags::ACK | TcpFlags::PSH,
            &[dss_opt(Some(a + 65), Some((b + 1, 1, 10)))],
            &reply()[..10],
        );
        c.s.advance_ms(50);
        assert_eq!(c.s.data(conn), reply()[..10].to_vec());
        assert_eq!(c.s.stack.mptcp_mode(conn), Some(MptcpMode::Established));
    }
    c
}

/// Data stops carrying mappings after MPTCP data flowed (a middlebox
/// strips options mid-connection): with one subflow and nothing out of
/// order, the bytes continue the data stream at our DATA_ACK, and our next
/// segment carries one DSS with an infinite mapping (DSN = our next DSN,
/// SSN = our next SSN, length 0, no checksum) before we go plain. Once the
/// server acknowledges a byte past it, no MPTCP option is sent any more.
#[test]
fn unmapped_data_after_exchange_falls_back_with_infinite_mapping() {
    let mut c = connected(101, true);
    let out = c.send(TcpFlags::ACK | TcpFlags::PSH, &[], &reply()[10..30]);
    assert_eq!(c.s.data(c.conn), reply()[..30].to_vec());
    assert_eq!(c.s.stack.mptcp_mode(c.conn), Some(MptcpMode::Fallback));
    let ack = out.iter().find(|p| p.is_ack_only()).expect("ACK");
    let m = infinite(&dss(ack)).expect("infinite mapping");
    assert_eq!(m.dsn, DssDsn::Dsn64((c.idsn_a + 65).0));
    assert_eq!(m.ssn, 65);
    assert_eq!(m.checksum, None);
    assert!(dss(ack).data_ack.is_none(), "no data level to acknowledge");
    let k = c.s.stack.counters();
    assert_eq!(k.mptcp_dss_no_match_tcp, 1);
    assert_eq!(k.mptcp_dss_corruption_fallback, 1);
    assert!(k.mptcp_infinite_map_tx >= 1);

    // Our data: plain bytes, still under the infinite mapping until
    // acknowledged; then nothing.
    c.s.stack.send(c.conn, b"abc").unwrap();
    let out = c.s.collect();
    let d = out.iter().find(|p| !p.payload.is_empty()).unwrap().clone();
    assert_eq!(d.payload, b"abc".to_vec());
    assert_eq!(d.seq, c.ack, "SSN 65 is the byte after the request");
    assert!(infinite(&dss(&d)).is_some());
    c.ack = d.seq + 3;
    c.send(TcpFlags::ACK, &[], &[]);
    assert_eq!(c.s.stack.send_room(c.conn), c.s.stack.config().send_buffer);
    c.s.stack.send(c.conn, b"def").unwrap();
    let out = c.s.collect();
    let d = out.iter().find(|p| !p.payload.is_empty()).unwrap();
    assert!(d.mptcp().is_none(), "plain TCP: {d:?}");
    // The server's FIN ends its direction (no DATA_FIN under plain TCP).
    c.ack = d.seq + 3;
    c.send(TcpFlags::ACK | TcpFlags::FIN, &[], &[]);
    assert!(c
        .s
        .events
        .iter()
        .any(|e| matches!(e, Event::PeerClosed { conn } if *conn == c.conn)));
    assert_no_rst(&c.s.sent);
}

/// protocol.md §5.5: the server acknowledges our first data (the request,
/// sent as MP_CAPABLE with data) and answers without any MPTCP option,
/// never having sent a DATA_ACK: we fall back, sending one DSS with an
/// infinite mapping first; the request counts as delivered.
#[test]
fn data_acked_without_data_ack_falls_back_with_infinite_mapping() {
    let mut c = connected(102, false);
    let out = c.send(TcpFlags::ACK | TcpFlags::PSH, &[], &reply()[..10]);
    assert_eq!(c.s.data(c.conn), reply()[..10].to_vec());
    assert_eq!(c.s.stack.mptcp_mode(c.conn), Some(MptcpMode::Fallback));
    let ack = out
        .iter()
        .find(|p| p.is_ack_only() && p.mptcp().is_some())
        .expect("ACK with the infinite mapping");
    let m = infinite(&dss(ack)).expect("infinite mapping");
    assert_eq!(m.dsn, DssDsn::Dsn64((c.idsn_a + 65).0));
    assert_eq!(m.ssn, 65);
    assert_eq!(c.s.stack.send_room(c.conn), c.s.stack.config().send_buffer);
    let k = c.s.stack.counters();
    assert_eq!(k.mptcp_mp_capable_data_fallback, 1);
    assert!(k.mptcp_infinite_map_tx >= 1);
    assert_no_rst(&c.s.sent);
}

/// RFC 8684 §3.7: the server sends an infinite mapping. Its DSN is three
/// bytes behind our DATA_ACK (it resends them): from the mapping's SSN on,
/// the subflow is the data stream 1:1, so the three duplicates are trimmed
/// and the rest delivered, including later segments without any option.
/// We answer with our own infinite mapping and go plain.
#[test]
fn received_infinite_mapping_is_honoured() {
    let mut c = connected(103, true);
    let b = c.idsn_b;
    let mut bytes = reply()[7..10].to_vec();
    bytes.extend_from_slice(&reply()[10..20]);
    let out = c.send(
        TcpFlags::ACK | TcpFlags::PSH,
        &[dss_opt(None, Some((b + 8, 11, 0)))],
        &bytes,
    );
    c.send(TcpFlags::ACK | TcpFlags::PSH, &[], &reply()[20..30]);
    c.s.advance_ms(50);
    assert_eq!(c.s.data(c.conn), reply()[..30].to_vec());
    assert_eq!(c.s.stack.mptcp_mode(c.conn), Some(MptcpMode::Fallback));
    let ours = out
        .iter()
        .chain(c.s.sent.iter())
        .find_map(|p| p.dss().as_ref().and_then(infinite))
        .expect("our infinite mapping");
    assert_eq!(ours.dsn, DssDsn::Dsn64((c.idsn_a + 65).0));
    assert_eq!(ours.ssn, 65);
    let k = c.s.stack.counters();
    assert_eq!(k.mptcp_infinite_map_rx, 1);
    assert_eq!(k.mptcp_dss_no_match_tcp, 0);
    assert_no_rst(&c.s.sent);
}
