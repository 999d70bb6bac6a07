//! Bulk data after a TFO + MPTCP handshake: segment sizing against the
//! MTU and the peer's MSS, delayed ACKs, and loss recovery (fast
//! retransmit, RTO with several holes, the reorder queues). Replies are
//! checked byte for byte.

mod common;

use common::*;
use mptfo_engine::config::{ReplyTiming, StackConfig};
use mptfo_engine::stack::{CloseReason, ConnId, ConnectOptions};

const BULK: usize = 100_000;

fn bulk_reply() -> Vec<u8> {
    (0..BULK)
        .map(|i| (i % 251) as u8 ^ (i / 251) as u8)
        .collect()
}

/// A pair whose server answers a 64-byte request with `BULK` bytes.
fn bulk_pair(name: &str, ccfg: StackConfig, scfg: StackConfig, seed: u64) -> Pair {
    let mut p = Pair::new(name, ccfg, scfg, link(5), seed);
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

fn server_data(pk: &[Pkt]) -> Vec<&Pkt> {
    pk.iter()
        .filter(|x| x.from == Side::Server && !x.payload.is_empty())
        .collect()
}

/// Every frame fits the 1500-byte MTU: payload ≤ MSS − 40 (the option
/// space), whatever options ride along. Lossless, so nothing is
/// retransmitted, and the receiver ACKs at least every second segment.
#[test]
fn bulk_segments_fit_the_mtu() {
    let mut p = bulk_pair(
        "bulk_mtu",
        StackConfig::default(),
        server_config(ReplyTiming::Hold),
        41,
    );
    let c = connect(&mut p);
    assert!(p.run_until(10_000, |p| both_closed(p, 1)));
    assert_eq!(p.client.app.seen.data[&c], bulk_reply());
    assert_eq!(p.client.app.seen.closed[0].1, CloseReason::Graceful);
    for r in p.trace.borrow().iter() {
        assert!(
            r.bytes.len() <= 1514,
            "frame of {} bytes exceeds the MTU",
            r.bytes.len()
        );
    }
    let pk = p.packets();
    let data = server_data(&pk);
    assert!(data.iter().all(|x| x.payload.len() <= 1420));
    assert_eq!(data.iter().map(|x| x.payload.len()).sum::<usize>(), BULK);
    assert_eq!(data[0].payload.len(), 1420, "full-sized segments");
    // RFC 5681 §4.2: an ACK for at least every second full segment.
    let acks = pk
        .iter()
        .filter(|x| x.from == Side::Client && x.is_ack_only() && x.t > data[0].t)
        .count();
    assert!(
        acks >= data.len() / 2 - 1,
        "{acks} ACKs for {} segments",
        data.len()
    );
    assert_eq!(p.server.stack.counters().tcp_retrans_segs, 0);
    assert_eq!(p.server.stack.counters().mptcp_mp_capable_fallback_ack, 0);
    assert_no_rst(&pk);
}

/// A peer MSS below ours: our segments follow the peer's (RFC 9293
/// §3.7.1), and a write larger than one segment is split.
#[test]
fn segments_follow_the_peer_mss() {
    let mut scfg = server_config(ReplyTiming::Hold);
    scfg.mss = 536;
    let mut p = Pair::new("peer_mss", StackConfig::default(), scfg, link(5), 42);
    p.server.app.request_len = 3000;
    p.server.app.reply = vec![0x42; 3000];
    p.client.app.close_after_bytes = Some(3000);
    let req: Vec<u8> = (0..3000).map(|i| (i % 256) as u8).collect();
    let c = p
        .client
        .stack
        .connect(server_addr(), &[], ConnectOptions::default())
        .unwrap();
    p.client.stack.send(c, &req).unwrap();
    assert!(p.run_until(10_000, |p| both_closed(p, 1)));
    let s = p.server.app.seen.accepted[0];
    assert_eq!(p.server.app.seen.data[&s], req);
    assert_eq!(p.client.app.seen.data[&c], vec![0x42; 3000]);
    let pk = p.packets();
    let client_data: Vec<&Pkt> = pk
        .iter()
        .filter(|x| x.from == Side::Client && !x.payload.is_empty())
        .collect();
    assert!(
        client_data.iter().all(|x| x.payload.len() <= 536 - 40),
        "client respects the server's MSS"
    );
    assert!(server_data(&pk).iter().all(|x| x.payload.len() <= 536 - 40));
    // The mappings still follow each other without gaps.
    let key_a = pk
        .iter()
        .find_map(|x| x.mpc().and_then(|m| m.receiver_key.and(m.sender_key)))
        .unwrap();
    let mut next = idsn(key_a) + 1;
    for x in &client_data {
        let (dsn, len) = match x.mptcp() {
            Some(mptfo_proto::options::MptcpOption::MpCapable(m)) => {
                (idsn(key_a) + 1, m.data_len.unwrap())
            }
            _ => {
                let m = dss(x).mapping.unwrap();
                (m.dsn.expand(next), m.data_len)
            }
        };
        assert_eq!(dsn, next);
        assert_eq!(len as usize, x.payload.len());
        next += x.payload.len();
    }
    assert_no_rst(&pk);
}

/// One lost data segment in the middle of a window: three duplicate ACKs
/// and a fast retransmit (RFC 5681 §3.2), long before the RTO.
#[test]
fn fast_retransmit_after_three_duplicate_acks() {
    let mut p = bulk_pair(
        "fast_retransmit",
        StackConfig::default(),
        server_config(ReplyTiming::Hold),
        43,
    );
    p.filter_server(drop_first(1, |x| !x.payload.is_empty() && x.n == 5));
    let c = connect(&mut p);
    assert!(p.run_until(10_000, |p| both_closed(p, 1)));
    assert_eq!(p.client.app.seen.data[&c], bulk_reply());
    let pk = p.packets();
    let lost = pk
        .iter()
        .find(|x| x.dropped)
        .expect("a segment was dropped");
    let again = pk
        .iter()
        .find(|x| {
            x.from == Side::Server && !x.dropped && x.seq == lost.seq && !x.payload.is_empty()
        })
        .expect("retransmitted");
    assert!(
        again.t - lost.t < 50 * MS,
        "fast retransmit, not RTO: {} ms",
        (again.t - lost.t) / MS
    );
    let dups = pk
        .iter()
        .filter(|x| {
            x.from == Side::Client && x.is_ack_only() && x.ack == Some(lost.seq) && x.t < again.t
        })
        .count();
    assert!(dups >= 3, "{dups} duplicate ACKs before the retransmission");
    let sc = p.server.stack.counters();
    assert_eq!(sc.tcp_ext_tcp_fast_retrans, 1);
    assert_eq!(sc.tcp_ext_tcp_timeouts, 0);
    assert_eq!(p.client.stack.mptcp_mode(c), None, "closed");
    assert_no_rst(&pk);
}

/// Several segments of one window lost, including the last ones (no
/// duplicate ACKs for those): recovery completes within a few RTOs, not
/// one backed-off RTO per hole, and the data is intact.
#[test]
fn several_holes_recovered_quickly() {
    let mut p = bulk_pair(
        "several_holes",
        StackConfig::default(),
        server_config(ReplyTiming::Hold),
        44,
    );
    // Drop server frames 4, 6, 8, 10 and 12 (data segments of the first
    // window: the SYN/ACK is frame 0).
    p.filter_server(Box::new(|x, _| {
        if !x.payload.is_empty() && [4, 6, 8, 10, 12].contains(&x.n) && x.t < 1_000 * MS + 100 * MS
        {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    }));
    let t0 = p.clock.now();
    let c = connect(&mut p);
    assert!(p.run_until(30_000, |p| p
        .client
        .app
        .seen
        .data
        .get(&c)
        .is_some_and(|d| d.len() == BULK)));
    let took = (p.clock.now() - t0) / MS;
    assert!(took < 1_500, "recovery took {took} ms");
    assert!(p.run_until(10_000, |p| both_closed(p, 1)));
    assert_eq!(p.client.app.seen.data[&c], bulk_reply());
    assert_no_rst(&p.packets());
}

/// A segment lost when the window is large: everything behind it (over a
/// hundred segments) waits in the receiver's reorder queue, which is bounded
/// by the advertised window, not by a small count; one fast retransmit
/// repairs it, without an RTO.
#[test]
fn large_window_behind_one_loss() {
    let ccfg = StackConfig {
        recv_window: 1 << 20,
        ..StackConfig::default()
    };
    let mut scfg = server_config(ReplyTiming::Hold);
    scfg.send_buffer = 1 << 20;
    let mut p = Pair::new("large_window_loss", ccfg, scfg, link(5), 45);
    let big: Vec<u8> = (0..700_000).map(|i| (i * 7 % 253) as u8).collect();
    p.server.app.request_len = 64;
    p.server.app.reply = big.clone();
    p.client.app.close_after_bytes = Some(big.len());
    p.filter_server(drop_first(1, |x| !x.payload.is_empty() && x.n == 300));
    let c = connect(&mut p);
    assert!(p.run_until(30_000, |p| both_closed(p, 1)));
    assert_eq!(p.client.app.seen.data[&c], big);
    let cc = p.client.stack.counters();
    assert!(
        cc.tcp_ext_tcp_ofo_queue > 64,
        "{} segments queued out of order",
        cc.tcp_ext_tcp_ofo_queue
    );
    assert_eq!(cc.tcp_ext_tcp_ofo_drop, 0);
    let sc = p.server.stack.counters();
    assert_eq!(sc.tcp_ext_tcp_fast_retrans, 1);
    assert_eq!(sc.tcp_ext_tcp_timeouts, 0);
    assert_no_rst(&p.packets());
}
