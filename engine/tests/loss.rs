//! Loss during the TFO + MPTCP handshake and after it: the SYN, the
//! SYN/ACK, the third ACK, a black-holed path. Losses are deterministic
//! (a filter drops chosen frames on the sender's transmit path) except in
//! the black-hole case, which uses the link's loss knob.

mod common;

use common::*;
use mptfo_engine::config::{ReplyTiming, StackConfig};
use mptfo_engine::stack::{CloseReason, ConnId, ConnectOptions, MptcpMode};
use mptfo_nic::Direction;

fn rpc_pair(name: &str, ccfg: StackConfig, scfg: StackConfig, seed: u64) -> Pair {
    let mut p = Pair::new(name, ccfg, scfg, link(5), seed);
    p.server.app.request_len = 64;
    p.server.app.reply = reply();
    p.client.app.close_after_bytes = Some(64);
    p
}

fn warm_cookie(p: &mut Pair) {
    let n = p.client.app.seen.closed.len();
    p.client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(
        p.run_until(5_000, |p| both_closed(p, n + 1)),
        "warm-up connection did not close"
    );
}

fn last_accepted(p: &Pair) -> ConnId {
    *p.server.app.seen.accepted.last().unwrap()
}

/// Counts of the request bytes each server connection saw: every request
/// reached the app exactly once.
fn assert_each_request_once(p: &Pair, skip: usize) {
    let seen = &p.server.app.seen;
    for c in &seen.accepted[skip..] {
        assert_eq!(
            seen.data[c],
            request(),
            "server connection {c:?} saw exactly the request"
        );
    }
}

/// The SYN with data and cookie is lost. RFC 7413 §4.1.3.2 (protocol.md
/// §6.4, checklist 34): the SYN is retransmitted without data and without
/// the TFO option, the server is negative-cached, and the request follows
/// the handshake as MP_CAPABLE with data at ISN+1. While the negative
/// entry holds, new connections send no SYN data.
#[test]
fn syn_lost() {
    let mut p = rpc_pair(
        "syn_lost",
        StackConfig::default(),
        server_config(ReplyTiming::Hold),
        11,
    );
    warm_cookie(&mut p);
    p.filter_client(drop_first(1, |x| x.syn() && !x.payload.is_empty()));
    let n0 = p.packets().len();
    let c = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(10_000, |p| both_closed(p, 2)));
    let pk = p.packets()[n0..].to_vec();
    let (syn, resyn, synack, data) = (&pk[0], &pk[1], &pk[2], &pk[3]);
    assert!(syn.dropped && syn.payload == request() && syn.opts.fast_open.is_some());
    assert!(resyn.syn() && resyn.from == Side::Client && !resyn.dropped);
    assert_eq!(resyn.seq, syn.seq, "same ISN");
    assert!(
        resyn.payload.is_empty(),
        "retransmitted SYN carries no data"
    );
    assert!(
        resyn.opts.fast_open.is_none(),
        "retransmitted SYN carries no TFO option"
    );
    assert_eq!(mpc(resyn).buffer_len(), 4, "still MP_CAPABLE");
    assert_eq!(resyn.t - syn.t, 1_000 * MS, "after the initial RTO");
    assert!(synack.is_synack());
    assert_eq!(synack.ack, Some(syn.seq + 1));
    assert!(synack.opts.fast_open.is_none());
    assert_eq!(data.from, Side::Client);
    assert_eq!((data.seq, data.payload.clone()), (syn.seq + 1, request()));
    assert_eq!(
        mpc(data).data_len,
        Some(64),
        "MP_CAPABLE with data: DSN IDSN-A+1, SSN 1"
    );
    assert_eq!(p.client.app.seen.data[&c], reply());
    assert_each_request_once(&p, 1);
    assert_no_rst(&p.packets());
    let cc = p.client.stack.counters();
    assert_eq!(cc.tcp_ext_tcp_syn_retrans, 1);
    assert_eq!(cc.tcp_ext_tcp_fast_open_active_fail, 1);
    assert_eq!(cc.mptcp_mp_capable_fallback_synack, 0);
    assert_eq!(p.server.stack.counters().mptcp_mp_capable_fallback_ack, 0);

    // Negative cache: the next SYN carries no data.
    let n0 = p.packets().len();
    p.client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(5_000, |p| both_closed(p, 3)));
    let pk = p.packets()[n0..].to_vec();
    assert!(
        pk[0].syn() && pk[0].payload.is_empty(),
        "no SYN data while negative-cached"
    );
    assert_each_request_once(&p, 1);
}

/// The SYN/ACK that accepts the SYN data is lost. The server retransmits
/// it (and answers the client's bare SYN retransmission with it); the
/// client takes the SYN data as delivered and does not send it again; the
/// server app sees the request once.
#[test]
fn synack_lost() {
    let mut p = rpc_pair(
        "synack_lost",
        StackConfig::default(),
        server_config(ReplyTiming::Hold),
        12,
    );
    warm_cookie(&mut p);
    p.filter_server(drop_first(1, |x| x.is_synack()));
    let n0 = p.packets().len();
    let c = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(10_000, |p| both_closed(p, 2)));
    let pk = p.packets()[n0..].to_vec();
    let syn = &pk[0];
    assert_eq!(syn.payload, request());
    let synacks: Vec<&Pkt> = pk.iter().filter(|x| x.is_synack()).collect();
    assert!(synacks[0].dropped);
    assert!(synacks.len() >= 2, "SYN/ACK retransmitted");
    for sa in &synacks {
        assert_eq!(
            sa.ack,
            Some(syn.seq + 65),
            "every SYN/ACK acknowledges the SYN data"
        );
        assert_eq!(sa.seq, synacks[0].seq);
    }
    // The client never sends the request again: it was delivered as TFO data.
    assert!(
        pk.iter()
            .filter(|x| x.from == Side::Client)
            .all(|x| x.payload.is_empty() || x.syn()),
        "request resent after its SYN/ACK acknowledged it"
    );
    let resyns: Vec<&Pkt> = pk[1..]
        .iter()
        .filter(|x| x.syn() && x.ack.is_none())
        .collect();
    assert!(resyns
        .iter()
        .all(|x| x.payload.is_empty() && x.opts.fast_open.is_none()));
    assert_eq!(p.client.app.seen.data[&c], reply());
    assert_each_request_once(&p, 1);
    assert_no_rst(&p.packets());
    let s = last_accepted(&p);
    assert_eq!(
        p.server.app.seen.closed.last().unwrap(),
        &(s, CloseReason::Graceful)
    );
    assert_eq!(
        p.client.app.seen.closed.last().unwrap(),
        &(c, CloseReason::Graceful)
    );
    assert_eq!(
        p.client.stack.counters().mptcp_mp_capable_fallback_synack,
        0
    );
    assert_eq!(p.server.stack.counters().mptcp_mp_capable_fallback_ack, 0);
}

/// The MP_CAPABLE third ACK is lost while a `hold` server waits for it
/// (RFC 8684 §3.1: it must arrive reliably). The server retransmits its
/// SYN/ACK, the client answers with MP_CAPABLE again, the reply follows;
/// nothing is delivered twice and the connection stays MPTCP.
#[test]
fn third_ack_lost_hold() {
    let mut p = rpc_pair(
        "third_ack_lost",
        StackConfig::default(),
        server_config(ReplyTiming::Hold),
        13,
    );
    warm_cookie(&mut p);
    p.filter_client(drop_first(1, |x| {
        x.is_ack_only() && x.mpc().is_some_and(|m| m.receiver_key.is_some())
    }));
    let n0 = p.packets().len();
    let c = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(10_000, |p| p.client.app.seen.data.contains_key(&c)));
    let s = last_accepted(&p);
    assert_eq!(p.client.stack.mptcp_mode(c), Some(MptcpMode::Established));
    assert_eq!(p.server.stack.mptcp_mode(s), Some(MptcpMode::Established));
    assert!(p.run_until(10_000, |p| both_closed(p, 2)));
    let pk = p.packets()[n0..].to_vec();
    let syn = &pk[0];
    let ack3: Vec<&Pkt> = pk
        .iter()
        .filter(|x| x.from == Side::Client && x.is_ack_only() && x.mpc().is_some())
        .collect();
    assert_eq!(ack3.len(), 2, "the third ACK and its repetition");
    assert!(ack3[0].dropped && !ack3[1].dropped);
    for a in &ack3 {
        assert_eq!(mpc(a).buffer_len(), 20);
        assert_eq!(a.seq, syn.seq + 65);
    }
    let synacks: Vec<&Pkt> = pk.iter().filter(|x| x.is_synack()).collect();
    assert_eq!(synacks.len(), 2, "SYN/ACK retransmitted once");
    assert_eq!(synacks[1].t - synacks[0].t, 1_000 * MS);
    assert!(
        ack3[1].t > synacks[1].t,
        "the client answers the retransmitted SYN/ACK"
    );
    let rep: Vec<&Pkt> = pk
        .iter()
        .filter(|x| x.from == Side::Server && !x.payload.is_empty())
        .collect();
    assert_eq!(rep.len(), 1, "the reply is sent once");
    assert!(rep[0].t >= ack3[1].t + 5 * MS, "held until the key arrived");
    let key_a = mpc(ack3[1]).sender_key.unwrap();
    let d = dss(rep[0]);
    assert_eq!(d.data_ack.unwrap().expand(idsn(key_a)), idsn(key_a) + 1);
    assert_eq!(p.client.app.seen.data[&c], reply());
    assert_each_request_once(&p, 1);
    assert_no_rst(&p.packets());
    assert_eq!(p.server.stack.counters().mptcp_mp_capable_fallback_ack, 0);
}

/// A black-holed path after the handshake (protocol.md §7.6 item 2):
/// retransmissions of the data stop at `data_retries`, backed off, and the
/// application is told TimedOut.
#[test]
fn black_hole_retransmissions_bounded() {
    let ccfg = StackConfig {
        data_retries: 4,
        ..StackConfig::default()
    };
    let mut p = Pair::new(
        "black_hole",
        ccfg,
        server_config(ReplyTiming::Hold),
        link(5),
        14,
    );
    let c = p
        .client
        .stack
        .connect(server_addr(), &[], ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(1_000, |p| p.server.app.seen.accepted.len() == 1));
    p.control.set_loss(Direction::AToB, 1.0);
    p.control.set_loss(Direction::BToA, 1.0);
    let n0 = p.packets().len();
    p.client.stack.send(c, &[7u8; 1000]).unwrap();
    assert!(
        p.run_until(600_000, |p| !p.client.app.seen.closed.is_empty()),
        "never timed out"
    );
    assert_eq!(p.client.app.seen.closed, vec![(c, CloseReason::TimedOut)]);
    let pk = p.packets()[n0..].to_vec();
    let data: Vec<&Pkt> = pk
        .iter()
        .filter(|x| x.from == Side::Client && !x.payload.is_empty())
        .collect();
    assert_eq!(data.len(), 1 + 4, "original + data_retries retransmissions");
    assert!(data
        .iter()
        .all(|x| x.seq == data[0].seq && x.payload.len() == 1000));
    // Exponential backoff: every gap at least doubles.
    let gaps: Vec<u64> = data.windows(2).map(|w| w[1].t - w[0].t).collect();
    for g in gaps.windows(2) {
        assert!(g[1] >= 2 * g[0] - MS, "backoff: {gaps:?}");
    }
    assert_eq!(p.client.stack.counters().tcp_ext_tcp_abort_on_timeout, 1);
    assert_eq!(p.client.stack.connection_count(), 0);
    // Nothing more leaves the client afterwards.
    let n1 = p.packets().len();
    p.run_ms(60_000);
    assert!(p.packets()[n1..].iter().all(|x| x.from == Side::Server));
}

/// A black-holed server during the SYN: `syn_retries` bare retransmissions
/// (the first SYN carried data and a cookie), then TimedOut.
#[test]
fn black_hole_syn_retries_bounded() {
    let ccfg = StackConfig {
        syn_retries: 3,
        ..StackConfig::default()
    };
    let mut p = rpc_pair("black_hole_syn", ccfg, server_config(ReplyTiming::Hold), 15);
    warm_cookie(&mut p);
    p.control.set_loss(Direction::AToB, 1.0);
    let n0 = p.packets().len();
    let c = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(600_000, |p| p.client.app.seen.closed.len() == 2));
    assert_eq!(p.client.app.seen.closed[1], (c, CloseReason::TimedOut));
    let pk = p.packets()[n0..].to_vec();
    assert_eq!(pk.len(), 4, "SYN + 3 retransmissions:\n{}", listing(&pk));
    assert!(pk.iter().all(|x| x.syn() && x.seq == pk[0].seq));
    assert_eq!(pk[0].payload, request());
    assert!(pk[1..]
        .iter()
        .all(|x| x.payload.is_empty() && x.opts.fast_open.is_none()));
    assert_eq!(p.client.stack.counters().tcp_attempt_fails, 1);
    assert_eq!(p.client.stack.connection_count(), 0);
}

/// Loss of a data segment and of a DATA_FIN after the handshake: the data
/// arrives once and in order, the DATA_FIN is retransmitted on its timer
/// and acknowledged exactly.
#[test]
fn data_and_data_fin_lost() {
    let mut p = rpc_pair(
        "data_and_data_fin_lost",
        StackConfig::default(),
        server_config(ReplyTiming::Hold),
        16,
    );
    warm_cookie(&mut p);
    p.client.app.close_after_bytes = Some(64 * 3);
    // Drop the server's second reply segment and the client's DATA_FIN.
    let mut replies = 0;
    p.filter_server(Box::new(move |x, _| {
        if !x.payload.is_empty() && !x.syn() {
            replies += 1;
            if replies == 2 {
                return Verdict::Drop;
            }
        }
        Verdict::Pass
    }));
    p.filter_client(drop_first(1, |x| x.dss().is_some_and(|d| d.data_fin)));
    let n0 = p.packets().len();
    let c = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(5_000, |p| p.client.app.seen.data.contains_key(&c)));
    p.client.stack.send(c, &request()).unwrap();
    p.client.stack.send(c, &request()).unwrap();
    assert!(p.run_until(20_000, |p| both_closed(p, 2)));
    assert_eq!(p.client.app.seen.data[&c], reply().repeat(3));
    let s = last_accepted(&p);
    assert_eq!(p.server.app.seen.data[&s], request().repeat(3));
    let pk = p.packets()[n0..].to_vec();
    assert_no_rst(&pk);
    let fins: Vec<&Pkt> = pk
        .iter()
        .filter(|x| x.from == Side::Client && x.dss().is_some_and(|d| d.data_fin))
        .collect();
    assert_eq!(fins.len(), 2, "DATA_FIN sent again once");
    assert!(fins[0].dropped);
    let fin_dsn = dss(fins[1]).mapping.unwrap().dsn;
    assert_eq!(fin_dsn, dss(fins[0]).mapping.unwrap().dsn);
    for side in [Side::Client, Side::Server] {
        let run = signalling_dupack_run(&pk, side);
        assert!(
            run <= 2,
            "{side:?} sent {run} signalling duplicate ACKs in a row"
        );
    }
    assert_eq!(
        p.client.stack.counters().mptcp_mp_capable_fallback_synack,
        0
    );
}

/// `early` reply and the client's MP_CAPABLE third ACK lost: the client
/// holds its DATA_FIN and repeats the third ACK on the DATA_FIN timer (RFC
/// 8684 §3.1); the listener learns the key from the repetition, confirms it
/// with a DATA_ACK, and only then does the DATA_FIN follow. Nothing falls
/// back and both ends close.
#[test]
fn third_ack_lost_early() {
    let mut p = rpc_pair(
        "third_ack_lost_early",
        StackConfig::default(),
        server_config(ReplyTiming::Early),
        17,
    );
    warm_cookie(&mut p);
    p.filter_client(drop_first(1, |x| {
        x.is_ack_only() && x.mpc().is_some_and(|m| m.receiver_key.is_some())
    }));
    let n0 = p.packets().len();
    let c = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(
        p.run_until(10_000, |p| both_closed(p, 2)),
        "both ends close"
    );
    let pk = p.packets()[n0..].to_vec();
    let ack3: Vec<&Pkt> = pk
        .iter()
        .filter(|x| x.from == Side::Client && x.is_ack_only() && x.mpc().is_some())
        .collect();
    assert!(ack3.len() >= 2, "the third ACK is repeated");
    assert!(ack3[0].dropped && !ack3[1].dropped);
    let first_fin = pk
        .iter()
        .position(|x| x.from == Side::Client && x.dss().is_some_and(|d| d.data_fin))
        .expect("client DATA_FIN");
    let confirm = pk
        .iter()
        .position(|x| {
            x.from == Side::Server
                && x.t > ack3[1].t
                && x.dss().is_some_and(|d| d.data_ack.is_some())
        })
        .expect("listener's DATA_ACK after the repeated third ACK");
    assert!(
        confirm < first_fin,
        "DATA_FIN only after the key is confirmed"
    );
    assert_eq!(p.client.app.seen.data[&c], reply());
    assert_each_request_once(&p, 1);
    assert_no_rst(&p.packets());
    assert_eq!(p.server.stack.counters().mptcp_mp_capable_fallback_ack, 0);
    assert_eq!(
        p.client.app.seen.closed.last().unwrap().1,
        CloseReason::Graceful
    );
}

/// `early` reply, the third ACK arrives, but the listener's DATA_ACK that
/// confirms the key is lost: the client's repeated MP_CAPABLE ACK must be
/// answered again at once (an established listener otherwise ignores a pure
/// duplicate ACK, and the client would wait forever).
#[test]
fn key_confirmation_lost_early() {
    let mut p = rpc_pair(
        "key_confirmation_lost_early",
        StackConfig::default(),
        server_config(ReplyTiming::Early),
        19,
    );
    warm_cookie(&mut p);
    // The first pure DATA_ACK from the server after the handshake.
    p.filter_server(drop_first(1, |x| {
        x.is_ack_only() && x.dss().is_some_and(|d| d.data_ack.is_some() && !d.data_fin)
    }));
    let n0 = p.packets().len();
    let c = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(
        p.run_until(10_000, |p| both_closed(p, 2)),
        "both ends close"
    );
    let pk = p.packets()[n0..].to_vec();
    assert!(
        pk.iter().any(|x| x.from == Side::Server && x.dropped),
        "the confirming DATA_ACK was dropped"
    );
    let ack3 = pk
        .iter()
        .filter(|x| x.from == Side::Client && x.is_ack_only() && x.mpc().is_some())
        .count();
    assert!(ack3 >= 2, "the client repeats its third ACK");
    assert_eq!(p.client.app.seen.data[&c], reply());
    assert_each_request_once(&p, 1);
    assert_no_rst(&p.packets());
    assert_eq!(p.server.stack.counters().mptcp_mp_capable_fallback_ack, 0);
    assert_eq!(
        p.client.app.seen.closed.last().unwrap().1,
        CloseReason::Graceful
    );
}
