//! The stack's application interface: failure paths leave no state behind,
//! and gauges follow the connections.

mod common;

use common::*;
use mptfo_engine::config::{ReplyTiming, StackConfig};
use mptfo_engine::stack::{ConnectOptions, Stack, StackError};
use mptfo_engine::time::Instant;
use mptfo_nic::{ChecksumCaps, MemBuf};

/// A connect whose first write cannot be queued (no free buffer) fails and
/// leaves nothing behind: no connection, no subflow, no counted open.
#[test]
fn connect_without_buffers_leaves_no_state() {
    let mut stack: Stack<MemBuf> = Stack::new(
        StackConfig::default(),
        vec![iface(
            CLIENT_IP,
            [2, 0, 0, 0, 0, 1],
            [2, 0, 0, 0, 0, 2],
            ChecksumCaps::SOFTWARE,
        )],
        0,
        1,
        7,
        Instant(0),
    );
    assert_eq!(stack.cached_buffers(), 0);
    let r = stack.connect(server_addr(), &request(), ConnectOptions::default());
    assert_eq!(r, Err(StackError::NoBuffer));
    assert_eq!(stack.connection_count(), 0);
    assert_eq!(stack.subflow_count(), 0);
    assert_eq!(stack.counters().tcp_active_opens, 0);
    let mut tx = Vec::new();
    stack.take_tx(&mut tx);
    assert!(tx.is_empty(), "no SYN for an undone attempt");
    assert!(stack.poll_event().is_none());
}

/// TcpCurrEstab and MPTcpExtMPCurrEstab are gauges: up while the
/// connection lives, back to zero after the close.
#[test]
fn current_established_gauges() {
    let mut p = Pair::new(
        "current_established_gauges",
        StackConfig::default(),
        server_config(ReplyTiming::Hold),
        link(5),
        3,
    );
    p.server.app.request_len = 64;
    p.server.app.reply = reply();
    let c = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(1_000, |p| p.client.app.seen.data.contains_key(&c)));
    for stack in [&p.client.stack, &p.server.stack] {
        assert_eq!(stack.counters().tcp_curr_estab, 1);
        assert_eq!(stack.counters().mptcp_mp_curr_estab, 1);
    }
    p.client.stack.close(c).unwrap();
    assert!(p.run_until(1_000, |p| both_closed(p, 1)));
    for stack in [&p.client.stack, &p.server.stack] {
        assert_eq!(stack.counters().tcp_curr_estab, 0);
        assert_eq!(stack.counters().mptcp_mp_curr_estab, 0);
    }
}
