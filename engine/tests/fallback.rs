//! Fallback to plain TCP (RFC 8684 §3.7, protocol.md §5.5) with TFO data
//! in play: a server without MPTCP, a middlebox that strips MP_CAPABLE from
//! the SYN/ACK, and a client whose first data after the SYN carries no
//! MPTCP option. The data must arrive intact and exactly once either way.

mod common;

use common::*;
use mptfo_engine::config::{ReplyTiming, StackConfig};
use mptfo_engine::stack::{CloseReason, ConnId, ConnectOptions, MptcpMode};

fn rpc_pair(name: &str, scfg: StackConfig, seed: u64) -> Pair {
    let mut p = Pair::new(name, StackConfig::default(), scfg, link(5), seed);
    p.server.app.request_len = 64;
    p.server.app.reply = reply();
    p.client.app.close_after_bytes = Some(64);
    p
}

fn last_accepted(p: &Pair) -> ConnId {
    *p.server.app.seen.accepted.last().unwrap()
}

fn connect(p: &mut Pair) -> ConnId {
    p.client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap()
}

/// After fallback no MPTCP option is sent by `side` past the handshake.
fn assert_no_mptcp_after_handshake(pk: &[Pkt], side: Side) {
    for x in pk.iter().filter(|x| x.from == side && !x.syn()) {
        assert!(x.mptcp().is_none(), "MPTCP option after fallback: {x:?}");
    }
}

/// A server with MPTCP disabled: its SYN/ACK has no MP_CAPABLE, so the
/// client runs plain TCP (RFC 8684 §3.1); TFO still works (cookie, then
/// SYN data acknowledged and delivered before the handshake completes).
#[test]
fn server_without_mptcp() {
    let mut scfg = server_config(ReplyTiming::Hold);
    scfg.mptcp.enabled = false;
    let mut p = rpc_pair("server_without_mptcp", scfg, 21);
    let c1 = connect(&mut p);
    assert!(p.run_until(5_000, |p| both_closed(p, 1)));
    let n0 = p.packets().len();
    let c2 = connect(&mut p);
    assert!(p.run_until(5_000, |p| p.client.app.seen.data.contains_key(&c2)));
    assert_eq!(p.client.stack.mptcp_mode(c2), Some(MptcpMode::Fallback));
    assert_eq!(
        p.server.stack.mptcp_mode(last_accepted(&p)),
        Some(MptcpMode::Fallback)
    );
    assert!(p.run_until(5_000, |p| both_closed(p, 2)));
    let pk = p.packets();
    assert!(mpc(&pk[0]).buffer_len() == 4, "client offered MPTCP");
    assert!(pk
        .iter()
        .filter(|x| x.from == Side::Server)
        .all(|x| x.mptcp().is_none()));
    assert_no_mptcp_after_handshake(&pk, Side::Client);
    // Second connection: TFO under plain TCP.
    let pk2 = &pk[n0..];
    assert_eq!(pk2[0].payload, request());
    assert_eq!(pk2[1].ack, Some(pk2[0].seq + 65));
    for (c, s) in [(c1, p.server.app.seen.accepted[0]), (c2, last_accepted(&p))] {
        assert_eq!(p.client.app.seen.data[&c], reply());
        assert_eq!(p.server.app.seen.data[&s], request());
    }
    assert!(p
        .client
        .app
        .seen
        .closed
        .iter()
        .all(|c| c.1 == CloseReason::Graceful));
    assert!(p
        .server
        .app
        .seen
        .closed
        .iter()
        .all(|c| c.1 == CloseReason::Graceful));
    assert_eq!(
        p.client.stack.counters().mptcp_mp_capable_fallback_synack,
        2
    );
    assert_no_rst(&pk);
}

/// A middlebox strips MP_CAPABLE from the server's SYN/ACK (the option
/// bytes become NOPs). The client falls back at once and sends its third
/// ACK without MP_CAPABLE, so the server falls back too (protocol.md §5.5);
/// the SYN data already delivered stays delivered, once.
#[test]
fn mp_capable_stripped_from_synack() {
    let mut p = rpc_pair("mpc_stripped_synack", server_config(ReplyTiming::Hold), 22);
    let c1 = connect(&mut p); // cookie
    assert!(p.run_until(5_000, |p| both_closed(p, 1)));
    p.filter_server(Box::new(|x, bytes| {
        if x.is_synack() {
            strip_mptcp(bytes);
        }
        Verdict::Pass
    }));
    let n0 = p.packets().len();
    let c2 = connect(&mut p);
    assert!(p.run_until(5_000, |p| p.client.app.seen.data.contains_key(&c2)));
    let s2 = last_accepted(&p);
    assert_eq!(p.client.stack.mptcp_mode(c2), Some(MptcpMode::Fallback));
    assert_eq!(p.server.stack.mptcp_mode(s2), Some(MptcpMode::Fallback));
    assert!(p.run_until(5_000, |p| both_closed(p, 2)));
    let pk = p.packets()[n0..].to_vec();
    assert_eq!(pk[0].payload, request());
    assert!(
        pk[1].is_synack() && pk[1].mptcp().is_none(),
        "stripped on the wire"
    );
    assert_eq!(pk[1].ack, Some(pk[0].seq + 65));
    assert_no_mptcp_after_handshake(&pk, Side::Client);
    assert_no_mptcp_after_handshake(&pk, Side::Server);
    assert_eq!(p.client.app.seen.data[&c1], reply());
    assert_eq!(p.client.app.seen.data[&c2], reply());
    assert_eq!(
        p.server.app.seen.data[&s2],
        request(),
        "SYN data delivered exactly once"
    );
    assert_eq!(
        p.client.stack.counters().mptcp_mp_capable_fallback_synack,
        1
    );
    assert_eq!(p.server.stack.counters().mptcp_mp_capable_fallback_ack, 1);
    assert!(p
        .client
        .app
        .seen
        .closed
        .iter()
        .all(|c| c.1 == CloseReason::Graceful));
    assert!(p
        .server
        .app
        .seen
        .closed
        .iter()
        .all(|c| c.1 == CloseReason::Graceful));
    assert_no_rst(&p.packets());
}

/// The client's frames after the SYN lose their MPTCP options (a
/// middlebox, or the Linux-client quirk of protocol.md §7.4): the server
/// sees a third ACK / first data without MP_CAPABLE and falls back; the
/// client then sees data (and acks of its data) without DSS and falls back
/// too. The request, resent after a rejected cookie, arrives once.
#[test]
fn first_data_without_mp_capable() {
    let mut p = rpc_pair(
        "first_data_without_mpc",
        server_config(ReplyTiming::Hold),
        23,
    );
    p.filter_client(Box::new(|x, bytes| {
        if !x.syn() {
            strip_mptcp(bytes);
        }
        Verdict::Pass
    }));
    // First contact: the request follows the handshake, as MP_CAPABLE with
    // data on the client side, without it on the wire.
    let c = connect(&mut p);
    assert!(p.run_until(5_000, |p| p.client.app.seen.data.contains_key(&c)));
    let s = last_accepted(&p);
    assert_eq!(p.server.stack.mptcp_mode(s), Some(MptcpMode::Fallback));
    assert_eq!(p.client.stack.mptcp_mode(c), Some(MptcpMode::Fallback));
    assert!(p.run_until(5_000, |p| both_closed(p, 1)));
    let pk = p.packets();
    let first = pk
        .iter()
        .find(|x| x.from == Side::Client && !x.payload.is_empty())
        .unwrap();
    assert!(first.mptcp().is_none(), "stripped on the wire");
    assert_eq!(first.seq, pk[0].seq + 1);
    assert_no_mptcp_after_handshake(&pk, Side::Server);
    assert_eq!(p.server.app.seen.data[&s], request());
    assert_eq!(p.client.app.seen.data[&c], reply());
    assert_eq!(p.server.stack.counters().mptcp_mp_capable_fallback_ack, 1);
    assert_eq!(p.client.stack.counters().mptcp_mp_capable_data_fallback, 1);
    assert_eq!(p.client.app.seen.closed[0].1, CloseReason::Graceful);
    assert_eq!(p.server.app.seen.closed[0].1, CloseReason::Graceful);
    assert_no_rst(&pk);
}

/// The same with TFO data accepted: the SYN data is delivered as TFO
/// data, the third ACK arrives without MP_CAPABLE, the server falls back
/// and its (held) reply goes out as plain TCP; the client falls back on it.
#[test]
fn third_ack_without_mp_capable_after_tfo() {
    let mut p = rpc_pair(
        "third_ack_without_mpc_tfo",
        server_config(ReplyTiming::Hold),
        24,
    );
    connect(&mut p);
    assert!(p.run_until(5_000, |p| both_closed(p, 1)));
    p.filter_client(Box::new(|x, bytes| {
        if !x.syn() {
            strip_mptcp(bytes);
        }
        Verdict::Pass
    }));
    let n0 = p.packets().len();
    let c = connect(&mut p);
    assert!(p.run_until(5_000, |p| both_closed(p, 2)));
    let pk = p.packets()[n0..].to_vec();
    assert_eq!(pk[1].ack, Some(pk[0].seq + 65), "SYN data accepted");
    let s = last_accepted(&p);
    assert_eq!(p.server.app.seen.data[&s], request());
    assert_eq!(p.client.app.seen.data[&c], reply());
    assert_no_mptcp_after_handshake(&pk, Side::Server);
    assert_eq!(p.server.stack.counters().mptcp_mp_capable_fallback_ack, 1);
    assert_eq!(p.client.app.seen.closed[1].1, CloseReason::Graceful);
    assert_eq!(p.server.app.seen.closed[1].1, CloseReason::Graceful);
    assert_no_rst(&pk);
}
