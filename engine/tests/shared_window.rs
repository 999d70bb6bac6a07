//! The connection-level receive window shared by the subflows (RFC 8684
//! §3.3.4, protocol.md §5.2): its left edge is the DATA_ACK, and only
//! segments carrying a DATA_ACK move it. The sender keeps the right edge
//! (never moving it left) and sends new data only within it; the receiver
//! advertises the same window on every subflow, less what it holds out of
//! order at data level.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, SocketAddrV4};

use common::*;
use mptfo_engine::config::{ReplyTiming, StackConfig};
use mptfo_engine::stack::{ConnId, ConnectOptions, TcpState};
use mptfo_proto::options::{
    Dss, DssAck, MpCapable, MpcFlags, MptcpOption, OptionBlock, OptionWriter,
};
use mptfo_proto::wire::TcpFlags;
use mptfo_proto::{DataSeq, SubflowSeq};

const RECV_WINDOW: u32 = 16 * 1024;

fn ip(a: std::net::Ipv4Addr) -> IpAddr {
    IpAddr::V4(a)
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 ^ (i / 251) as u8).collect()
}

fn server_bytes(p: &Pair) -> usize {
    p.server.app.seen.data.values().map(|d| d.len()).sum()
}

fn joined(p: &Pair, conn: ConnId) -> bool {
    let s = p.client.stack.subflow_stats(conn);
    let Some(&sc) = p.server.app.seen.accepted.first() else {
        return false;
    };
    let ss = p.server.stack.subflow_stats(sc);
    s.len() == 2
        && ss.len() == 2
        && s.iter()
            .chain(ss.iter())
            .all(|x| x.state == TcpState::Established)
}

/// Writes `data` from the client as room frees up, then runs until the
/// server got `total` bytes.
fn client_write_all(p: &mut Pair, conn: ConnId, data: &[u8], total: usize, max_ms: u64) -> bool {
    let mut off = 0;
    let end = p.clock.now() + max_ms * MS;
    while off < data.len() && p.clock.now() < end {
        let room = p.client.stack.send_room(conn);
        if room > 0 {
            let n = p
                .client
                .stack
                .send(conn, &data[off..(off + room).min(data.len())])
                .unwrap_or(0);
            off += n;
        }
        p.run_ms(1);
    }
    p.run_until(max_ms, |p| server_bytes(p) >= total)
}

/// Two paths (5 ms one way at 4 Mbit/s, and 10 ms), a server with a 16 kB receive
/// window, 1 MB from the client. On the wire, every data segment the
/// client sent ends within the largest DATA_ACK + window the server had
/// advertised before (the sender never moves the edge left, so the bound
/// is the largest edge so far); every byte arrives once and in order; both
/// subflows carry data; the shared window is what limited the sender. Loss
/// on path 2 leaves data-level holes: the bytes held out of order do not
/// narrow the advertised window (it stays the whole receive window from
/// the DATA_ACK), so the hole stays sendable on either path.
#[test]
fn bulk_transfer_stays_within_shared_window() {
    let scfg = StackConfig {
        recv_window: RECV_WINDOW,
        ..server_config(ReplyTiming::Hold)
    };
    // Path 1 is faster but narrow (4 Mbit/s): its queue grows its RTT past
    // path 2's, so the lowest-RTT scheduler uses both. Path 2 loses 10%.
    let mut l1 = link(5);
    l1.a_to_b.rate_bps = Some(4_000_000);
    let mut l2 = link(10);
    l2.a_to_b.loss = 0.1;
    let mut p = Pair::two_paths(
        "shared_window_bulk",
        StackConfig::default(),
        scfg,
        l1,
        l2,
        41,
    );
    let c = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    p.client
        .stack
        .add_subflow(
            c,
            ip(CLIENT_IP2),
            SocketAddr::new(ip(SERVER_IP2), PORT),
            false,
        )
        .unwrap();
    assert!(p.run_until(3_000, |p| joined(p, c)), "join completes");
    let data = payload(1_000_000);
    assert!(client_write_all(&mut p, c, &data, 64 + data.len(), 60_000));
    let sc = p.server.app.seen.accepted[0];
    let got = &p.server.app.seen.data[&sc];
    assert_eq!(&got[..64], &request()[..]);
    assert!(got[64..] == data[..], "every byte once, in order");
    let stats = p.client.stack.subflow_stats(c);
    assert!(
        stats.iter().all(|s| s.bytes_sent > 0),
        "both subflows: {stats:?}"
    );
    assert!(p.client.stack.counters().mptcp_snd_wnd_shared > 0);
    let held_out_of_order = p.server.stack.counters().mptcp_ofo_queue > 0;

    let pk = p.packets();
    let key_a = pk
        .iter()
        .find_map(|x| x.mpc().and_then(|m| m.receiver_key.and(m.sender_key)))
        .expect("client key");
    let idsn_a = idsn(key_a);
    // Per path (client address): the client's ISN and the server's window
    // shift (from its SYN/ACK).
    let mut isn: HashMap<IpAddr, SubflowSeq> = HashMap::new();
    let mut shift: HashMap<IpAddr, u8> = HashMap::new();
    for x in &pk {
        if x.syn() && x.from == Side::Client {
            isn.insert(x.src_ip, x.seq);
        }
        if x.is_synack() && x.from == Side::Server {
            shift.insert(x.dst_ip, x.opts.wscale.unwrap_or(0));
        }
    }
    let mut edge: Option<DataSeq> = None;
    let mut checked = 0;
    for x in &pk {
        if x.syn() || x.rst() {
            continue;
        }
        match x.from {
            Side::Server => {
                let Some(a) = x.dss().and_then(|d| d.data_ack) else {
                    continue;
                };
                let ack = a.expand(edge.unwrap_or(idsn_a));
                let wnd = (x.window as u32) << shift[&x.dst_ip];
                let unit = 1u32 << shift[&x.dst_ip];
                assert!(
                    wnd <= RECV_WINDOW && wnd + unit > RECV_WINDOW,
                    "window {wnd}: the whole recv_window {RECV_WINDOW} expected"
                );
                let e = ack + wnd as usize;
                if edge.is_none_or(|cur| e > cur) {
                    edge = Some(e);
                }
            }
            Side::Client => {
                if x.payload.is_empty() {
                    continue;
                }
                let Some(m) = x.dss().and_then(|d| d.mapping) else {
                    // MP_CAPABLE with data: before any DATA_ACK.
                    continue;
                };
                let Some(cur) = edge else {
                    continue;
                };
                let rel = x.seq.0.wrapping_sub(isn[&x.src_ip].0);
                let off = rel.wrapping_sub(m.ssn) as usize;
                let end = m.dsn.expand(cur) + off + x.payload.len();
                assert!(
                    end <= cur,
                    "segment #{} ends at DSN {:?}, beyond the advertised edge {:?}",
                    x.n,
                    end,
                    cur
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 600, "checked {checked} data segments");
    assert!(held_out_of_order, "loss on path 2 left data-level holes");
}

// --- A hand-played server: the sender's edge and zero-window reopening.

const KEY_B: u64 = 0x1122_3344_5566_7788;

fn options(build: impl FnOnce(&mut OptionWriter)) -> OptionBlock {
    let mut w = OptionWriter::new();
    build(&mut w);
    w.finish()
}

fn ack_seg(seq: SubflowSeq, ack: SubflowSeq, data_ack: DataSeq, window: u16) -> SegSpec {
    SegSpec {
        seq,
        ack: Some(ack),
        flags: TcpFlags::ACK,
        window,
        options: options(|w| {
            w.mptcp(&MptcpOption::Dss(Dss {
                data_fin: false,
                data_ack: Some(DssAck::Ack64(data_ack.0)),
                mapping: None,
                ignored_flags: 0,
            }))
            .unwrap();
        }),
        payload: Vec::new(),
    }
}

/// New data the client sent in `pk`: (DSN of the first byte, end DSN) over
/// all DSS-mapped data segments.
fn data_range(pk: &[Pkt], reference: DataSeq) -> Option<(DataSeq, DataSeq)> {
    let mut r: Option<(DataSeq, DataSeq)> = None;
    for x in pk.iter().filter(|x| !x.payload.is_empty()) {
        let m = x.dss().and_then(|d| d.mapping).expect("mapped data");
        let start = m.dsn.expand(reference);
        let end = start + x.payload.len();
        r = Some(match r {
            None => (start, end),
            Some((a, b)) => (if start < a { start } else { a }, b.max(end)),
        });
    }
    r
}

/// A client connected to a hand-played server (no window scaling, so the
/// window field is in bytes), which has sent 1000 bytes as MP_CAPABLE with
/// data. Returns the solo, the addresses, the client's ISN and IDSN.
fn connected_client(
    seed: u64,
) -> (
    Solo,
    SocketAddrV4,
    SocketAddrV4,
    SubflowSeq,
    DataSeq,
    ConnId,
) {
    let mut s = Solo::new(StackConfig::default(), CLIENT_IP, seed);
    let srv = SocketAddrV4::new(SERVER_IP, PORT);
    let c = s
        .stack
        .connect(server_addr(), &[], ConnectOptions::default())
        .unwrap();
    let syn = s.collect()[0].clone();
    let cli = SocketAddrV4::new(CLIENT_IP, syn.src_port);
    let synack = SegSpec {
        seq: SubflowSeq(7000),
        ack: Some(syn.seq + 1),
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 60_000,
        options: options(|w| {
            w.mss(1460).unwrap();
            w.mptcp(&MptcpOption::MpCapable(MpCapable::synack(
                MpcFlags(MpcFlags::HMAC_SHA256),
                KEY_B,
            )))
            .unwrap();
        }),
        payload: Vec::new(),
    };
    let out = s.inject(&build_frame(srv, cli, &synack));
    let key_a = out
        .iter()
        .find_map(|x| x.mpc().and_then(|m| m.sender_key))
        .expect("third ACK with the client's key");
    s.stack.send(c, &payload(1000)).unwrap();
    let out = s.advance_ms(1);
    let first: usize = out.iter().map(|x| x.payload.len()).sum();
    assert_eq!(first, 1000, "first data as MP_CAPABLE with data");
    (s, srv, cli, syn.seq, idsn(key_a), c)
}

/// A reordered segment with an older DATA_ACK and a smaller window arrives
/// after a larger window was advertised: the right edge stays where it was
/// and the client fills the window up to it.
#[test]
fn right_edge_never_moves_left() {
    let (mut s, srv, cli, isn, idsn_a, c) = connected_client(51);
    let seq = SubflowSeq(7001);
    // Everything acknowledged; the window is 4000 from DATA_ACK +1001.
    let a = ack_seg(seq, isn + 1001, idsn_a + 1001, 4000);
    s.inject(&build_frame(srv, cli, &a));
    // An older ACK (reordered): DATA_ACK +1, window 1000: edge +1001.
    let b = ack_seg(seq, isn + 1, idsn_a + 1, 1000);
    s.inject(&build_frame(srv, cli, &b));
    s.stack.send(c, &payload(10_000)).unwrap();
    let out = s.advance_ms(1);
    let (start, end) = data_range(&out, idsn_a).expect("data sent");
    assert_eq!(start, idsn_a + 1001);
    assert_eq!(end, idsn_a + 5001, "the window is filled to the old edge");
}

/// The window closes (DATA_ACK at the edge, window 0) with nothing in
/// flight: nothing new goes out, zero-window probes do (persist timer);
/// the window update answering one reopens it and sending resumes within
/// the new edge.
#[test]
fn closed_window_reopens_on_update() {
    let (mut s, srv, cli, isn, idsn_a, c) = connected_client(52);
    let seq = SubflowSeq(7001);
    s.inject(&build_frame(
        srv,
        cli,
        &ack_seg(seq, isn + 1001, idsn_a + 1001, 4000),
    ));
    s.stack.send(c, &payload(10_000)).unwrap();
    let out = s.advance_ms(1);
    let (_, end) = data_range(&out, idsn_a).expect("data sent");
    assert_eq!(end, idsn_a + 5001);
    // All acknowledged, window closed.
    let out = s.inject(&build_frame(
        srv,
        cli,
        &ack_seg(seq, isn + 5001, idsn_a + 5001, 0),
    ));
    assert!(data_range(&out, idsn_a).is_none());
    // The update that would reopen it is lost: the persist timer sends
    // zero-window probes (no data, one below SND.UNA), backed off.
    let mut out = Vec::new();
    for _ in 0..100 {
        out.extend(s.advance_ms(10));
    }
    assert!(data_range(&out, idsn_a).is_none(), "no data past the edge");
    let probes: Vec<&Pkt> = out.iter().filter(|x| x.seq == isn + 5000).collect();
    assert!(
        (2..=3).contains(&probes.len()),
        "probes at 200, 600 ms: {out:?}"
    );
    assert!(probes
        .iter()
        .all(|x| x.payload.is_empty() && x.dss().and_then(|d| d.data_ack).is_some()));
    assert_eq!(
        s.stack.counters().tcp_ext_tcp_win_probe,
        probes.len() as u64
    );
    // The window update: 3000 bytes from DATA_ACK +5001.
    let out = s.inject(&build_frame(
        srv,
        cli,
        &ack_seg(seq, isn + 5001, idsn_a + 5001, 3000),
    ));
    let mut got = out;
    got.extend(s.advance_ms(1));
    let (start, end) = data_range(&got, idsn_a).expect("sending resumes");
    assert!(start >= idsn_a + 5001);
    assert_eq!(end, idsn_a + 8001, "filled to the new edge");
    assert!(s.stack.counters().mptcp_snd_wnd_shared > 0);
}
