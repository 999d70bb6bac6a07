//! MPTCP + TFO scenarios on the in-memory link, in virtual time: the
//! packets exchanged and the bytes each application saw.

mod common;

use common::*;
use mptfo_engine::config::{ReplyTiming, StackConfig};
use mptfo_engine::stack::{CloseReason, ConnectOptions, MptcpMode, TcpState};
use mptfo_proto::options::{MpCapable, MptcpOption};

fn request() -> Vec<u8> {
    (0..64u8).collect()
}

fn reply() -> Vec<u8> {
    (0..64u8).map(|b| b ^ 0xa5).collect()
}

/// A pair where the server answers 64-byte requests with 64 bytes and the
/// client closes after the reply.
fn rpc_pair(name: &str, timing: ReplyTiming, delay_ms: u64, seed: u64) -> Pair {
    let mut p = Pair::new(name, StackConfig::default(), server_config(timing), link(delay_ms), seed);
    p.server.app.request_len = 64;
    p.server.app.reply = reply();
    p.client.app.close_after_bytes = Some(64);
    p
}

fn mpc(p: &Pkt) -> MpCapable {
    match p.mptcp() {
        Some(MptcpOption::MpCapable(m)) => *m,
        other => panic!("expected MP_CAPABLE, got {other:?}"),
    }
}

fn both_closed(p: &Pair, n: usize) -> bool {
    p.client.app.seen.closed.len() >= n && p.server.app.seen.closed.len() >= n
}

#[test]
fn cookie_request_then_syn_data_with_cookie() {
    let mut p = rpc_pair("cookie_request_then_syn_data", ReplyTiming::Early, 5, 1);
    // First contact: no cookie cached, so a cookie request; the request
    // follows the handshake.
    let c1 = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(5_000, |p| both_closed(p, 1)), "first connection did not close");
    let pk = p.packets();
    let syn = &pk[0];
    assert!(syn.syn() && syn.ack.is_none());
    assert!(syn.payload.is_empty(), "no data without a cookie");
    let fo = syn.opts.fast_open.expect("TFO option on the SYN");
    assert!(fo.is_request(), "cookie request");
    assert_eq!(mpc(syn).buffer_len(), 4);
    let synack = &pk[1];
    assert!(synack.syn() && synack.ack == Some(syn.seq + 1));
    let cookie = synack.opts.fast_open.expect("cookie offered");
    assert_eq!(cookie.cookie().len(), 8);
    let key_b = mpc(synack).sender_key.expect("Key-B");
    assert!(synack.opts.timestamps.is_none(), "TS dropped next to cookie + MP_CAPABLE");
    // Third ACK: MP_CAPABLE with both keys, then the request with MPC+data
    // (or the data segment doubles as the third ACK).
    let first_data = pk
        .iter()
        .find(|x| x.from == Side::Client && !x.payload.is_empty())
        .unwrap();
    let m = mpc(first_data);
    assert_eq!(m.receiver_key, Some(key_b));
    assert_eq!(m.data_len, Some(64));
    assert_eq!(first_data.seq, syn.seq + 1, "request resent at ISN+1");
    assert_eq!(p.server.app.seen.data.values().next().unwrap(), &request());
    assert_eq!(p.client.app.seen.data[&c1], reply());
    assert_eq!(p.client.app.seen.closed[0].1, CloseReason::Graceful);
    assert_eq!(p.server.app.seen.closed[0].1, CloseReason::Graceful);
    let sc = p.server.stack.counters();
    assert_eq!(sc.tcp_ext_tcp_fast_open_cookie_reqd, 1);
    assert_eq!(sc.mptcp_mp_capable_fallback_ack, 0);

    // Second connection: SYN + data + cookie, delivered before the
    // handshake completes; early reply one RTT after the SYN.
    let n0 = p.packets().len();
    let t0 = p.clock.now();
    let c2 = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(5_000, |p| both_closed(p, 2)), "second connection did not close");
    let pk = p.packets()[n0..].to_vec();
    let syn = &pk[0];
    assert!(syn.syn());
    assert_eq!(syn.payload, request());
    assert_eq!(syn.opts.fast_open.unwrap().cookie(), cookie.cookie());
    assert_eq!(mpc(syn).buffer_len(), 4);
    let synack = &pk[1];
    assert_eq!(synack.ack, Some(syn.seq + 65), "SYN/ACK acknowledges the SYN data");
    assert!(synack.opts.fast_open.is_none());
    let accepted = p.server.app.seen.accepted[1];
    assert_eq!(p.server.app.seen.data[&accepted], request());
    assert!(
        p.server.app.seen.events.iter().any(|(_, e)| e == "data 64 Some(SynReceived)"),
        "SYN data reached the server app before the handshake completed: {:?}",
        p.server.app.seen.events
    );
    // Early reply: right after the SYN/ACK, DSS mapping without DATA_ACK.
    let reply_pkt = pk.iter().find(|x| x.from == Side::Server && !x.payload.is_empty()).unwrap();
    match reply_pkt.mptcp() {
        Some(MptcpOption::Dss(d)) => {
            assert!(d.data_ack.is_none(), "no DATA_ACK before the client key");
            let m = d.mapping.expect("mapping");
            assert_eq!(m.ssn, 1);
            assert_eq!(m.data_len, 64);
        }
        other => panic!("reply without DSS: {other:?}"),
    }
    assert_eq!(p.client.app.seen.data[&c2], reply());
    let t_reply = p
        .client
        .app
        .seen
        .events
        .iter()
        .filter(|(t, e)| *t >= t0 && e.starts_with("data"))
        .map(|(t, _)| *t)
        .next()
        .unwrap();
    assert_eq!(t_reply - t0, 10 * MS, "early reply arrives one RTT after the SYN");
    // Clean DATA_FIN close both ways, still MPTCP.
    let fins: Vec<_> = pk
        .iter()
        .filter(|x| matches!(x.mptcp(), Some(MptcpOption::Dss(d)) if d.data_fin))
        .collect();
    assert!(fins.iter().any(|x| x.from == Side::Client) && fins.iter().any(|x| x.from == Side::Server));
    assert_eq!(p.client.stack.counters().mptcp_mp_capable_fallback_synack, 0);
    assert_eq!(p.server.stack.counters().mptcp_mp_capable_fallback_ack, 0);
    assert_eq!(p.server.stack.counters().tcp_ext_tcp_fast_open_passive, 1);
    assert_eq!(p.client.stack.counters().tcp_ext_tcp_fast_open_active, 1);
    let _ = (MptcpMode::Fallback, TcpState::Closed);
}
