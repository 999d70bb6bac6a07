//! Closing: DATA_FIN and its acknowledgment (RFC 8684 §3.3.3), subflow FINs,
//! TIME_WAIT (RFC 9293 §3.6), and the delayed ACK (RFC 5681 §4.2).

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::*;
use mptfo_engine::config::{ReplyTiming, StackConfig};
use mptfo_engine::stack::{CloseReason, ConnectOptions};
use mptfo_proto::SubflowSeq;

fn rpc_pair(name: &str, seed: u64) -> Pair {
    let mut p = Pair::new(
        name,
        StackConfig::default(),
        server_config(ReplyTiming::Hold),
        link(5),
        seed,
    );
    p.server.app.request_len = 64;
    p.server.app.reply = reply();
    p
}

/// The client's DATA_ACK of the server's DATA_FIN is lost: the server
/// sends its DATA_FIN again on its timer and the client, which already
/// took the DATA_FIN, acknowledges it again (exactly, DATA_FIN DSN + 1)
/// instead of ignoring the repeat. Nobody times out.
#[test]
fn repeated_data_fin_is_acknowledged_again() {
    let mut p = rpc_pair("data_fin_reacked", 51);
    p.client.app.close_on_peer_close = false;
    // When the server sends its DATA_FIN, drop the client's next pure ACK.
    let fin_at: Rc<Cell<Option<u64>>> = Rc::new(Cell::new(None));
    let seen = fin_at.clone();
    p.filter_server(Box::new(move |x, _| {
        if seen.get().is_none() && x.dss().is_some_and(|d| d.data_fin) {
            seen.set(Some(x.t));
        }
        Verdict::Pass
    }));
    let armed = fin_at.clone();
    let mut dropped = false;
    p.filter_client(Box::new(move |x, _| {
        let after_fin = armed.get().is_some_and(|t| x.t >= t + 5 * MS);
        if !dropped && after_fin && x.is_ack_only() {
            dropped = true;
            return Verdict::Drop;
        }
        Verdict::Pass
    }));
    let c = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    // The reply is acknowledged first, so that the lost ACK is the DATA_FIN's
    // alone (nothing else for the server to retransmit).
    assert!(p.run_until(5_000, |p| p.client.app.seen.data.contains_key(&c)));
    p.run_ms(100);
    let s = p.server.app.seen.accepted[0];
    p.server.stack.close(s).unwrap();
    assert!(p.run_until(5_000, |p| !p.client.app.seen.peer_closed.is_empty()));
    p.run_ms(2_000);
    assert!(p.client.app.seen.closed.is_empty() && p.server.app.seen.closed.is_empty());
    p.client.stack.close(c).unwrap();
    assert!(p.run_until(5_000, |p| both_closed(p, 1)));
    assert_eq!(p.client.app.seen.closed[0].1, CloseReason::Graceful);
    assert_eq!(p.server.app.seen.closed[0].1, CloseReason::Graceful);
    let pk = p.packets();
    let fins: Vec<&Pkt> = pk
        .iter()
        .filter(|x| x.from == Side::Server && x.dss().is_some_and(|d| d.data_fin))
        .collect();
    assert_eq!(fins.len(), 2, "DATA_FIN sent again once:\n{}", listing(&pk));
    let key_b = pk
        .iter()
        .find(|x| x.is_synack())
        .and_then(|x| x.mpc())
        .and_then(|m| m.sender_key)
        .unwrap();
    let fin_dsn = dss(fins[0]).mapping.unwrap().dsn.expand(idsn(key_b));
    let answers: Vec<&Pkt> = pk
        .iter()
        .filter(|x| {
            x.from == Side::Client
                && x.dss()
                    .and_then(|d| d.data_ack)
                    .is_some_and(|a| a.expand(idsn(key_b)) == fin_dsn + 1)
        })
        .collect();
    assert!(answers[0].dropped);
    let reack = answers
        .iter()
        .find(|x| !x.dropped)
        .expect("acknowledged again");
    assert!(
        reack.t > fins[1].t && reack.t < fins[1].t + 20 * MS,
        "answered the repeat at once"
    );
    let server_data = pk
        .iter()
        .filter(|x| x.from == Side::Server && !x.payload.is_empty())
        .count();
    assert_eq!(server_data, 1, "only the DATA_FIN was repeated");
    assert_no_rst(&pk);
}

/// TIME_WAIT: the side whose FIN went first keeps the 4-tuple for
/// `time_wait`, answers a retransmitted FIN with an ACK again (RFC 9293
/// §3.10.7.4) and releases the subflow afterwards.
#[test]
fn time_wait_acknowledges_a_retransmitted_fin() {
    let mut scfg = server_config(ReplyTiming::Hold);
    scfg.time_wait = core::time::Duration::from_secs(2);
    let ccfg = StackConfig {
        time_wait: core::time::Duration::from_secs(2),
        ..StackConfig::default()
    };
    let mut p = Pair::new("time_wait", ccfg, scfg, link(5), 52);
    p.server.app.request_len = 64;
    p.server.app.reply = reply();
    p.client.app.close_after_bytes = Some(64);
    // Drop the client's ACK of the server's FIN: the server retransmits its
    // FIN, and the client, in TIME_WAIT by then, must acknowledge it again.
    let server_fin_end: Rc<Cell<Option<SubflowSeq>>> = Rc::new(Cell::new(None));
    let record = server_fin_end.clone();
    p.filter_server(Box::new(move |x, _| {
        if x.fin() {
            record.set(Some(x.seq + 1));
        }
        Verdict::Pass
    }));
    let mut dropped = false;
    p.filter_client(Box::new(move |x, _| {
        if !dropped && x.is_ack_only() && x.ack.is_some() && x.ack == server_fin_end.get() {
            dropped = true;
            return Verdict::Drop;
        }
        Verdict::Pass
    }));
    let c = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(10_000, |p| both_closed(p, 1)), "did not close");
    assert_eq!(p.client.app.seen.closed[0], (c, CloseReason::Graceful));
    assert_eq!(p.server.app.seen.closed[0].1, CloseReason::Graceful);
    let pk = p.packets();
    let server_fins: Vec<&Pkt> = pk
        .iter()
        .filter(|x| x.from == Side::Server && x.fin())
        .collect();
    assert_eq!(
        server_fins.len(),
        2,
        "the server's FIN was retransmitted:\n{}",
        listing(&pk)
    );
    let acks: Vec<&Pkt> = pk
        .iter()
        .filter(|x| {
            x.from == Side::Client && x.is_ack_only() && x.ack == Some(server_fins[0].seq + 1)
        })
        .collect();
    assert_eq!(acks.len(), 2);
    assert!(acks[0].dropped && !acks[1].dropped);
    assert!(
        acks[1].t >= server_fins[1].t + 5 * MS,
        "TIME_WAIT answered the retransmitted FIN"
    );
    // The client subflow stays in TIME_WAIT for `time_wait` after the
    // retransmitted FIN restarted it, then goes.
    assert_eq!(p.client.stack.subflow_count(), 1);
    assert_eq!(p.server.stack.subflow_count(), 0);
    p.run_ms(1_900);
    assert_eq!(
        p.client.stack.subflow_count(),
        1,
        "TIME_WAIT restarted by the FIN"
    );
    p.run_ms(200);
    assert_eq!(p.client.stack.subflow_count(), 0);
    assert_eq!(p.client.stack.counters().tcp_ext_tw, 1);
    assert_no_rst(&pk);
}

/// A single small segment is acknowledged after the delayed-ACK time when
/// no data goes back to carry the ACK (RFC 5681 §4.2, Linux 40 ms).
#[test]
fn lone_segment_acknowledged_after_delayed_ack() {
    let mut p = Pair::new(
        "delayed_ack",
        StackConfig::default(),
        server_config(ReplyTiming::Hold),
        link(5),
        53,
    );
    let c = p
        .client
        .stack
        .connect(server_addr(), &[], ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(1_000, |p| !p.server.app.seen.accepted.is_empty()));
    p.run_ms(100);
    let n0 = p.packets().len();
    p.client.stack.send(c, &request()).unwrap();
    p.run_ms(200);
    let pk = p.packets()[n0..].to_vec();
    assert_eq!(pk.len(), 2, "data, then one ACK:\n{}", listing(&pk));
    assert_eq!(pk[0].payload, request());
    assert!(pk[1].from == Side::Server && pk[1].is_ack_only());
    assert_eq!(pk[1].ack, Some(pk[0].seq + 64));
    assert_eq!(
        pk[1].t - pk[0].t,
        5 * MS + 40 * MS,
        "ACK after the delayed-ACK time"
    );
    assert_eq!(p.server.stack.counters().tcp_ext_delayed_acks, 1);
    assert_eq!(
        p.server.app.seen.data[&p.server.app.seen.accepted[0]],
        request()
    );
}
