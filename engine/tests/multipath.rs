//! Two paths (two mem links, two interfaces per stack): MP_JOIN in both
//! roles, data striped across subflows, failover by reinjection, and the
//! join refusals of protocol.md §8 (unknown token, HMAC failures, join
//! before the connection is fully established, over the subflow limit).

mod common;

use std::net::{IpAddr, SocketAddr};

use common::*;
use mptfo_engine::config::{ReplyTiming, StackConfig};
use mptfo_engine::mp::pm::{EndpointFlags, Limits, PmConfig};
use mptfo_engine::stack::{ConnId, ConnectOptions, TcpState};
use mptfo_nic::Direction;
use std::net::SocketAddrV4;

use mptfo_proto::crypto::MptcpKey;
use mptfo_proto::options::{
    MpCapable, MpJoin, MpTcpRstReason, MpcFlags, MptcpOption, OptionBlock, OptionWriter,
};
use mptfo_proto::wire::TcpFlags;
use mptfo_proto::SubflowSeq;

fn ip(a: std::net::Ipv4Addr) -> IpAddr {
    IpAddr::V4(a)
}

fn server2() -> SocketAddr {
    SocketAddr::new(ip(SERVER_IP2), PORT)
}

/// Path 1: 5 ms each way; path 2: 10 ms each way.
fn two_paths(name: &str, seed: u64) -> Pair {
    Pair::two_paths(
        name,
        StackConfig::default(),
        server_config(ReplyTiming::Hold),
        link(5),
        link(10),
        seed,
    )
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 ^ (i / 251) as u8).collect()
}

/// Connects with TFO (a cookie request on first contact) and the 64-byte
/// request.
fn connect(p: &mut Pair) -> ConnId {
    p.client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap()
}

/// Writes `data` on `conn` from the client, as room frees up, running the
/// pair meanwhile; then runs until the server got `total` bytes.
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

fn server_bytes(p: &Pair) -> usize {
    p.server.app.seen.data.values().map(|d| d.len()).sum()
}

fn server_conn(p: &Pair) -> ConnId {
    p.server.app.seen.accepted[0]
}

/// Both ends have two established subflows and the server took the
/// join's third ACK.
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

/// A TFO + MPTCP connection, then a second subflow on path 2 (MP_JOIN
/// with token, nonce, truncated and full HMACs); 200 kB from the client
/// striped over both subflows arrive once and in order.
#[test]
fn join_after_tfo_and_stripe() {
    let mut p = two_paths("mp_join_stripe", 1);
    let c = connect(&mut p);
    p.client
        .stack
        .add_subflow(c, ip(CLIENT_IP2), server2(), false)
        .unwrap();
    assert!(p.run_until(2_000, |p| joined(p, c)), "join completes");
    let pk = p.packets();
    // The join's SYN: MP_JOIN with the server's token, no TFO, no data.
    let syn = pk
        .iter()
        .find(|x| x.syn() && x.ack.is_none() && x.src_ip == ip(CLIENT_IP2))
        .expect("join SYN");
    assert!(matches!(
        syn.mptcp(),
        Some(MptcpOption::MpJoin(MpJoin::Syn { .. }))
    ));
    assert!(syn.opts.fast_open.is_none() && syn.payload.is_empty());
    let synack = pk
        .iter()
        .find(|x| x.is_synack() && x.src_ip == ip(SERVER_IP2))
        .expect("join SYN/ACK");
    assert!(matches!(
        synack.mptcp(),
        Some(MptcpOption::MpJoin(MpJoin::SynAck { .. }))
    ));
    assert!(pk.iter().any(|x| x.src_ip == ip(CLIENT_IP2)
        && matches!(x.mptcp(), Some(MptcpOption::MpJoin(MpJoin::Ack { .. })))));
    let sc = p.server.stack.counters();
    assert_eq!(sc.mptcp_mp_join_syn_rx, 1);
    assert_eq!(sc.mptcp_mp_join_ack_rx, 1);
    assert_eq!(p.client.stack.counters().mptcp_mp_join_synack_rx, 1);
    assert_eq!(p.server.stack.subflow_stats(server_conn(&p)).len(), 2);

    let data = payload(200_000);
    assert!(client_write_all(&mut p, c, &data, 64 + data.len(), 10_000));
    let got = &p.server.app.seen.data[&server_conn(&p)];
    assert_eq!(&got[..64], &request()[..]);
    assert!(got[64..] == data[..], "every byte once, in order");
    let stats = p.client.stack.subflow_stats(c);
    assert!(stats.iter().all(|s| s.bytes_sent > 0), "striped: {stats:?}");
    let sstats = p.server.stack.subflow_stats(server_conn(&p));
    assert!(sstats.iter().all(|s| s.bytes_received > 0), "{sstats:?}");
    assert_no_rst(&p.packets());
    // Close: DATA_FIN and subflow FINs on both paths, graceful.
    p.client.stack.close(c).unwrap();
    p.server.app.close_on_peer_close = true;
    assert!(p.run_until(5_000, |p| !p.client.app.seen.closed.is_empty()
        && !p.server.app.seen.closed.is_empty()));
    let pk = p.packets();
    for a in [ip(CLIENT_IP), ip(CLIENT_IP2)] {
        assert!(pk.iter().any(|x| x.src_ip == a && x.fin()), "FIN from {a}");
    }
}

/// Path 1 goes dark in the middle of a transfer: the data in flight there
/// is sent again on path 2 (reinjection) and everything arrives.
#[test]
fn failover_by_reinjection() {
    let mut p = two_paths("mp_failover", 2);
    let c = connect(&mut p);
    p.client
        .stack
        .add_subflow(c, ip(CLIENT_IP2), server2(), false)
        .unwrap();
    assert!(p.run_until(2_000, |p| joined(p, c)));
    let data = payload(300_000);
    let total = 64 + data.len();
    // Write, and once part has arrived black-hole path 1 both ways.
    let mut off = 0;
    let room = p.client.stack.send_room(c);
    off += p
        .client
        .stack
        .send(c, &data[..room.min(data.len())])
        .unwrap();
    assert!(p.run_until(2_000, |p| server_bytes(p) >= 40_000));
    // Data first (what subflow 1 sends from now on is lost), then the
    // ACKs of what it had in flight.
    p.controls[0].set_loss(Direction::AToB, 1.0);
    p.run_ms(20);
    p.controls[0].set_loss(Direction::BToA, 1.0);
    let start = p.clock.now();
    let end = p.clock.now() + 20_000 * MS;
    while off < data.len() && p.clock.now() < end {
        let room = p.client.stack.send_room(c);
        if room > 0 {
            off += p
                .client
                .stack
                .send(c, &data[off..(off + room).min(data.len())])
                .unwrap_or(0);
        }
        p.run_ms(2);
    }
    assert_eq!(off, data.len());
    assert!(
        p.run_until(30_000, |p| server_bytes(p) >= total),
        "all data arrives"
    );
    let took = (p.clock.now() - start) / MS;
    assert!(took < 30_000, "within a bounded time ({took} ms)");
    let got = &p.server.app.seen.data[&server_conn(&p)];
    assert!(got[64..] == data[..], "every byte once, in order");
    assert!(
        p.client.stack.counters().mptfo_reinjected > 0,
        "{:?} {:?}",
        p.client.stack.subflow_stats(c),
        p.server.stack.subflow_stats(server_conn(&p))
    );
    assert!(p.client.stack.counters().mptcp_mptcp_retrans > 0);
}

/// A backup subflow carries nothing while the primary is usable, and the
/// data once the primary is gone.
#[test]
fn backup_subflow_only_when_primary_unusable() {
    let mut p = two_paths("mp_backup", 3);
    let c = connect(&mut p);
    p.client
        .stack
        .add_subflow(c, ip(CLIENT_IP2), server2(), true)
        .unwrap();
    assert!(p.run_until(2_000, |p| joined(p, c)));
    let data = payload(100_000);
    assert!(client_write_all(&mut p, c, &data, 64 + data.len(), 10_000));
    let stats = p.client.stack.subflow_stats(c);
    assert!(stats[0].bytes_sent > 0);
    assert!(stats[1].backup);
    assert_eq!(stats[1].bytes_sent, 0, "backup idle: {stats:?}");
    // Primary dark: the backup takes over.
    p.controls[0].set_loss(Direction::AToB, 1.0);
    p.controls[0].set_loss(Direction::BToA, 1.0);
    let more = payload(50_000);
    assert!(client_write_all(
        &mut p,
        c,
        &more,
        64 + data.len() + more.len(),
        30_000
    ));
    let stats = p.client.stack.subflow_stats(c);
    assert!(stats.last().unwrap().bytes_sent > 0, "{stats:?}");
    let got = &p.server.app.seen.data[&server_conn(&p)];
    assert!(got[64 + data.len()..] == more[..]);
}

/// An MP_JOIN SYN with a token no connection has: RST with MP_TCPRST 0x01,
/// counted MPJoinNoTokenFound.
#[test]
fn join_unknown_token_refused() {
    let mut p = two_paths("mp_join_no_token", 4);
    let c = connect(&mut p);
    assert!(p.run_until(1_000, |p| !p.server.app.seen.accepted.is_empty()));
    // Rewrite the join SYN's token.
    p.filter_client_port(
        1,
        Box::new(|pk, bytes| {
            if pk.syn() && pk.ack.is_none() {
                flip_join_token(bytes);
            }
            Verdict::Pass
        }),
    );
    p.client
        .stack
        .add_subflow(c, ip(CLIENT_IP2), server2(), false)
        .unwrap();
    p.run_ms(500);
    let sc = p.server.stack.counters();
    assert_eq!(sc.mptcp_mp_join_no_token_found, 1);
    let rst = p
        .packets()
        .into_iter()
        .find(|x| x.from == Side::Server && x.rst())
        .expect("RST");
    assert!(matches!(
        rst.mptcp(),
        Some(MptcpOption::MpTcpRst {
            reason: MpTcpRstReason::MptcpError,
            ..
        })
    ));
    // The connection lives on its first subflow.
    assert_eq!(p.client.stack.subflow_stats(c).len(), 1);
    assert_eq!(p.client.stack.connection_count(), 1);
}

/// A corrupted SYN/ACK HMAC: the client resets the join
/// (MPJoinSynAckHMacFailure); a corrupted third-ACK HMAC: the server
/// resets it (MPJoinAckHMacFailure). The connection survives both.
#[test]
fn join_hmac_failures_reset() {
    let mut p = two_paths("mp_join_synack_hmac", 5);
    let c = connect(&mut p);
    assert!(p.run_until(1_000, |p| !p.server.app.seen.accepted.is_empty()));
    p.filter_server_port(
        1,
        Box::new(|pk, bytes| {
            if pk.is_synack() {
                corrupt_join_hmac(bytes);
            }
            Verdict::Pass
        }),
    );
    p.client
        .stack
        .add_subflow(c, ip(CLIENT_IP2), server2(), false)
        .unwrap();
    p.run_ms(500);
    assert_eq!(
        p.client.stack.counters().mptcp_mp_join_synack_hmac_failure,
        1
    );
    assert!(p
        .packets()
        .iter()
        .any(|x| x.from == Side::Client && x.rst()));
    assert_eq!(p.client.stack.subflow_stats(c).len(), 1);

    let mut p = two_paths("mp_join_ack_hmac", 6);
    let c = connect(&mut p);
    assert!(p.run_until(1_000, |p| !p.server.app.seen.accepted.is_empty()));
    p.filter_client_port(
        1,
        Box::new(|pk, bytes| {
            if matches!(pk.mptcp(), Some(MptcpOption::MpJoin(MpJoin::Ack { .. }))) {
                corrupt_join_hmac(bytes);
            }
            Verdict::Pass
        }),
    );
    p.client
        .stack
        .add_subflow(c, ip(CLIENT_IP2), server2(), false)
        .unwrap();
    p.run_ms(500);
    assert_eq!(p.server.stack.counters().mptcp_mp_join_ack_hmac_failure, 1);
    assert!(p
        .packets()
        .iter()
        .any(|x| x.from == Side::Server && x.rst()));
    assert_eq!(p.server.stack.subflow_stats(server_conn(&p)).len(), 1);
    assert!(p.run_until(2_000, |p| p.client.stack.subflow_stats(c).len() == 1));
    assert_eq!(p.client.stack.connection_count(), 1);
}

/// Over the `subflows` limit (0 here): the SYN is answered, the third ACK
/// refused with MP_TCPRST 0x03, counted MPJoinRejected.
#[test]
fn join_over_limit_refused_at_third_ack() {
    let mut p = two_paths("mp_join_limit", 7);
    p.server
        .stack
        .set_pm_config(PmConfig::new(Limits::new(0, 0).unwrap()));
    let c = connect(&mut p);
    p.client
        .stack
        .add_subflow(c, ip(CLIENT_IP2), server2(), false)
        .unwrap();
    p.run_ms(1_000);
    let pk = p.packets();
    assert!(
        pk.iter()
            .any(|x| x.is_synack() && x.src_ip == ip(SERVER_IP2)),
        "SYN answered"
    );
    let rst = pk
        .iter()
        .find(|x| x.from == Side::Server && x.rst())
        .expect("RST at the third ACK");
    assert!(matches!(
        rst.mptcp(),
        Some(MptcpOption::MpTcpRst {
            reason: MpTcpRstReason::AdministrativelyProhibited,
            ..
        })
    ));
    assert_eq!(p.server.stack.counters().mptcp_mp_join_rejected, 1);
    assert_eq!(p.client.stack.subflow_stats(c).len(), 1);
    assert_eq!(p.client.stack.connection_count(), 1);
}

/// A join before the server knows the client's key (the MP_CAPABLE third
/// ACK not arrived yet): refused with MP_TCPRST 0x03 (protocol.md §7.3
/// step 3, §8), counted MPJoinRejected; the connection stays.
#[test]
fn join_before_key_known_refused() {
    let mut s = Solo::new(server_config(ReplyTiming::Hold), SERVER_IP, 9);
    s.stack.listen(PORT);
    let cli = SocketAddrV4::new(CLIENT_IP, 40_000);
    let srv = SocketAddrV4::new(SERVER_IP, PORT);
    let h = MpcFlags(MpcFlags::HMAC_SHA256);
    let syn = SegSpec {
        seq: SubflowSeq(1000),
        ack: None,
        flags: TcpFlags::SYN,
        window: 65535,
        options: options(|w| {
            w.mss(1460).unwrap();
            w.mptcp(&MptcpOption::MpCapable(MpCapable::syn(h))).unwrap();
        }),
        payload: Vec::new(),
    };
    let out = s.inject(&build_frame(cli, srv, &syn));
    let synack = out.iter().find(|x| x.is_synack()).expect("SYN/ACK");
    let key = synack.mpc().and_then(|m| m.sender_key).expect("server key");
    let token = MptcpKey(key).token();
    let join = SegSpec {
        seq: SubflowSeq(5000),
        ack: None,
        flags: TcpFlags::SYN,
        window: 65535,
        options: options(|w| {
            w.mss(1460).unwrap();
            w.mptcp(&MptcpOption::MpJoin(MpJoin::Syn {
                backup: false,
                addr_id: 1,
                token,
                nonce: 0x1234_5678,
            }))
            .unwrap();
        }),
        payload: Vec::new(),
    };
    let out = s.inject(&build_frame(
        SocketAddrV4::new(CLIENT_IP, 40_001),
        srv,
        &join,
    ));
    let rst = out.iter().find(|x| x.rst()).expect("RST");
    assert!(matches!(
        rst.mptcp(),
        Some(MptcpOption::MpTcpRst {
            reason: MpTcpRstReason::AdministrativelyProhibited,
            ..
        })
    ));
    let c = s.stack.counters();
    assert_eq!(c.mptcp_mp_join_syn_rx, 1);
    assert_eq!(c.mptcp_mp_join_rejected, 1);
    assert_eq!(c.mptcp_mp_join_no_token_found, 0);
    assert_eq!(s.stack.connection_count(), 1);
}

fn options(build: impl FnOnce(&mut OptionWriter)) -> OptionBlock {
    let mut w = OptionWriter::new();
    build(&mut w);
    w.finish()
}

/// Server with a `signal` endpoint for its second address (id 1), client
/// accepting one announcement.
fn announcing_pair(name: &str, seed: u64) -> Pair {
    let mut p = two_paths(name, seed);
    let mut scfg = PmConfig::default();
    scfg.add_endpoint(ip(SERVER_IP2), Some(1), EndpointFlags::SIGNAL)
        .unwrap();
    p.server.stack.set_pm_config(scfg);
    p.client
        .stack
        .set_pm_config(PmConfig::new(Limits::new(2, 1).unwrap()));
    p
}

/// The listener announces 10.0.2.2 (ADD_ADDR with HMAC) once fully
/// established; the client echoes it and joins it from its address on
/// that network; data then uses both subflows.
#[test]
fn listener_announces_and_client_joins() {
    let mut p = announcing_pair("mp_add_addr", 10);
    let c = connect(&mut p);
    assert!(
        p.run_until(2_000, |p| joined(p, c)),
        "{:?}",
        p.client.stack.subflow_stats(c)
    );
    let pk = p.packets();
    let add = pk
        .iter()
        .find_map(|x| {
            x.opts.mptcp_options().find_map(|o| match o {
                MptcpOption::AddAddr(a) if x.from == Side::Server => Some(*a),
                _ => None,
            })
        })
        .expect("ADD_ADDR");
    assert!(!add.echo && add.hmac.is_some() && add.addr == ip(SERVER_IP2));
    assert!(pk.iter().any(|x| x.from == Side::Client
        && x.opts
            .mptcp_options()
            .any(|o| matches!(o, MptcpOption::AddAddr(a) if a.echo))));
    let (cc, sc) = (p.client.stack.counters(), p.server.stack.counters());
    assert_eq!(sc.mptcp_add_addr_tx, 1);
    assert_eq!(cc.mptcp_add_addr, 1);
    assert_eq!(sc.mptcp_echo_add, 1);
    let s = p.client.stack.subflow_stats(c);
    assert_eq!(s[1].tuple.src_addr, ip(CLIENT_IP2));
    assert_eq!(s[1].tuple.dst_addr, ip(SERVER_IP2));
    let data = payload(150_000);
    assert!(client_write_all(&mut p, c, &data, 64 + data.len(), 10_000));
    let got = &p.server.app.seen.data[&server_conn(&p)];
    assert!(got[64..] == data[..]);
    assert!(p
        .client
        .stack
        .subflow_stats(c)
        .iter()
        .all(|s| s.bytes_sent > 0));
    // No more ADD_ADDR once echoed (no retransmission).
    p.run_ms(5_000);
    assert_eq!(p.server.stack.counters().mptcp_add_addr_tx, 1);
}

/// An unechoed ADD_ADDR is sent again on its timer.
#[test]
fn add_addr_retransmitted_until_echoed() {
    let mut p = announcing_pair("mp_add_addr_rtx", 11);
    let mut scfg = p.server.stack.pm_config().clone();
    scfg.add_addr_timeout = std::time::Duration::from_secs(1);
    p.server.stack.set_pm_config(scfg);
    // The client's echoes never arrive.
    p.filter_client(drop_all(|x| {
        x.opts
            .mptcp_options()
            .any(|o| matches!(o, MptcpOption::AddAddr(a) if a.echo))
    }));
    let _c = connect(&mut p);
    p.run_ms(10_000);
    let sc = p.server.stack.counters();
    // Linux: one retransmission by default (add_addr_retrans_max).
    assert!(sc.mptcp_add_addr_tx >= 2, "{}", sc.mptcp_add_addr_tx);
    let adds = p
        .packets()
        .iter()
        .filter(|x| {
            x.from == Side::Server
                && x.opts
                    .mptcp_options()
                    .any(|o| matches!(o, MptcpOption::AddAddr(a) if !a.echo))
        })
        .count();
    assert_eq!(adds as u64, sc.mptcp_add_addr_tx);
}

/// The server withdraws 10.0.2.2 in the middle of a transfer: REMOVE_ADDR,
/// that subflow closes, and no byte is lost.
#[test]
fn remove_addr_closes_subflow_without_loss() {
    let mut p = announcing_pair("mp_remove_addr", 12);
    p.server.app.request_len = 64;
    p.server.app.reply = payload(200_000);
    p.server.app.close_on_peer_close = false;
    let c = connect(&mut p);
    assert!(p.run_until(3_000, |p| {
        p.client
            .stack
            .subflow_stats(c)
            .get(1)
            .is_some_and(|s| s.bytes_received > 10_000)
    }));
    p.server.stack.remove_pm_endpoint(1).unwrap();
    assert!(p.run_until(20_000, |p| p
        .client
        .app
        .seen
        .data
        .get(&c)
        .is_some_and(|d| d.len() >= 200_000)));
    assert!(p.client.app.seen.data[&c] == payload(200_000));
    assert_eq!(p.server.stack.counters().mptcp_rm_addr_tx, 1);
    assert_eq!(p.client.stack.counters().mptcp_rm_addr, 1);
    // The second subflow is closed (gone, or resting in TIME_WAIT).
    let closed = |p: &Pair| {
        let s = p.client.stack.subflow_stats(c);
        s[0].tuple.src_addr == ip(CLIENT_IP)
            && s[0].state == TcpState::Established
            && s[1..].iter().all(|x| x.state == TcpState::TimeWait)
    };
    assert!(
        p.run_until(5_000, closed),
        "{:?}",
        p.client.stack.subflow_stats(c)
    );
    assert!(p
        .packets()
        .iter()
        .any(|x| x.fin() && x.src_ip == ip(SERVER_IP2)));
    assert_eq!(p.client.stack.connection_count(), 1);
}

/// MP_PRIO: the server marks its endpoint backup; the client's subflow to
/// it turns backup and new data avoids it.
#[test]
fn mp_prio_switches_backup() {
    let mut p = announcing_pair("mp_prio", 13);
    let c = connect(&mut p);
    assert!(p.run_until(2_000, |p| joined(p, c)));
    p.server.stack.set_pm_endpoint_backup(1, true).unwrap();
    p.run_ms(100);
    assert_eq!(p.server.stack.counters().mptcp_mp_prio_tx, 1);
    assert_eq!(p.client.stack.counters().mptcp_mp_prio_rx, 1);
    let s = p.client.stack.subflow_stats(c);
    assert!(s[1].backup && !s[0].backup, "{s:?}");
    let before = s[1].bytes_sent;
    let data = payload(100_000);
    assert!(client_write_all(&mut p, c, &data, 64 + data.len(), 10_000));
    assert_eq!(p.client.stack.subflow_stats(c)[1].bytes_sent, before);
}

/// The C flag (deny-join-id0): the client does not join the server's
/// initial address, but still joins announced ones.
#[test]
fn deny_join_id0_honoured() {
    let mut scfg = server_config(ReplyTiming::Hold);
    scfg.mptcp.deny_join_id0 = true;
    let mut p = Pair::two_paths(
        "mp_deny_join_id0",
        StackConfig::default(),
        scfg,
        link(5),
        link(10),
        14,
    );
    let c = connect(&mut p);
    p.client
        .stack
        .add_subflow(c, ip(CLIENT_IP2), server_addr(), false)
        .unwrap();
    p.run_ms(1_000);
    assert!(
        !p.packets()
            .iter()
            .any(|x| x.syn() && x.src_ip == ip(CLIENT_IP2)),
        "no join to the initial address"
    );
    assert_eq!(p.client.stack.subflow_stats(c).len(), 1);
}

/// LIA (RFC 6356) on the sender: the coupled subflows carry a striped
/// transfer to the end, every byte once and in order, over lossy paths.
#[test]
fn lia_coupled_transfer() {
    let ccfg = StackConfig {
        congestion: mptfo_engine::config::CongestionAlgorithm::Lia,
        ..StackConfig::default()
    };
    let mut l1 = link(5);
    l1.a_to_b.loss = 0.01;
    let mut l2 = link(10);
    l2.a_to_b.loss = 0.01;
    let mut p = Pair::two_paths("mp_lia", ccfg, server_config(ReplyTiming::Hold), l1, l2, 15);
    let c = connect(&mut p);
    p.client
        .stack
        .add_subflow(c, ip(CLIENT_IP2), server2(), false)
        .unwrap();
    assert!(p.run_until(5_000, |p| joined(p, c)));
    let data = payload(300_000);
    assert!(client_write_all(&mut p, c, &data, 64 + data.len(), 60_000));
    let got = &p.server.app.seen.data[&server_conn(&p)];
    assert!(got[64..] == data[..]);
    assert!(p
        .client
        .stack
        .subflow_stats(c)
        .iter()
        .all(|s| s.bytes_sent > 0));
}

/// The fourth ACK is lost: the client repeats its third ACK (MP_JOIN with
/// the 160-bit HMAC) on its timer, the server answers, and only then does
/// data use the join.
#[test]
fn third_ack_repeated_until_acknowledged() {
    let mut p = two_paths("mp_join_fourth_ack_lost", 16);
    p.filter_server_port(1, drop_first(1, |x| x.is_ack_only()));
    let c = connect(&mut p);
    p.client
        .stack
        .add_subflow(c, ip(CLIENT_IP2), server2(), false)
        .unwrap();
    assert!(p.run_until(5_000, |p| joined(p, c)));
    // Until the client's third ACK is answered, no data on the join.
    let data = payload(100_000);
    assert!(client_write_all(&mut p, c, &data, 64 + data.len(), 10_000));
    p.run_ms(2_000);
    let more = payload(100_000);
    let total = 64 + data.len() + more.len();
    assert!(client_write_all(&mut p, c, &more, total, 10_000));
    let pk = p.packets();
    let acks: Vec<&Pkt> = pk
        .iter()
        .filter(|x| matches!(x.mptcp(), Some(MptcpOption::MpJoin(MpJoin::Ack { .. }))))
        .collect();
    assert!(acks.len() >= 2, "third ACK repeated: {}", acks.len());
    // No data on the join before the server's ACK of the third ACK.
    let first_data = pk
        .iter()
        .find(|x| x.src_ip == ip(CLIENT_IP2) && !x.payload.is_empty())
        .expect("data on the join");
    assert!(first_data.t > acks[1].t);
    assert!(p.server.stack.counters().mptcp_mp_join_ack_rx >= 1);
    let got = &p.server.app.seen.data[&server_conn(&p)];
    assert!(got[64..64 + data.len()] == data[..] && got[64 + data.len()..] == more[..]);
}

/// A TFO connection with data in the SYN (cookie cached from a first
/// connection), then a join: the join's SYN carries no TFO option and no
/// data, and data striped over both subflows arrives once, in order.
#[test]
fn join_after_tfo_syn_data() {
    let mut p = two_paths("mp_join_after_tfo_data", 17);
    let c1 = connect(&mut p);
    assert!(p.run_until(1_000, |p| !p.client.app.seen.connected.is_empty()));
    p.client.stack.abort(c1).unwrap();
    p.run_ms(100);
    let c = connect(&mut p);
    p.step();
    let syn_data = p
        .packets()
        .into_iter()
        .rfind(|x| x.syn() && x.ack.is_none() && x.from == Side::Client)
        .expect("SYN");
    assert_eq!(syn_data.payload, request(), "TFO data in the SYN");
    p.client
        .stack
        .add_subflow(c, ip(CLIENT_IP2), server2(), false)
        .unwrap();
    assert!(p.run_until(2_000, |p| p.server.app.seen.accepted.len() == 2
        && joined_conn(p, c, p.server.app.seen.accepted[1])));
    let join_syn = p
        .packets()
        .into_iter()
        .find(|x| x.syn() && x.ack.is_none() && x.src_ip == ip(CLIENT_IP2))
        .expect("join SYN");
    assert!(join_syn.opts.fast_open.is_none() && join_syn.payload.is_empty());
    let data = payload(150_000);
    let sc = p.server.app.seen.accepted[1];
    let mut off = 0;
    while off < data.len() {
        let room = p.client.stack.send_room(c);
        off += p
            .client
            .stack
            .send(c, &data[off..(off + room).min(data.len())])
            .unwrap_or(0);
        p.run_ms(1);
    }
    assert!(p.run_until(10_000, |p| p.server.app.seen.data[&sc].len()
        >= 64 + data.len()));
    let got = &p.server.app.seen.data[&sc];
    assert_eq!(&got[..64], &request()[..]);
    assert!(got[64..] == data[..]);
    assert!(p
        .client
        .stack
        .subflow_stats(c)
        .iter()
        .all(|s| s.bytes_sent > 0));
    assert!(p.server.stack.counters().tcp_ext_tcp_fast_open_passive >= 1);
}

fn joined_conn(p: &Pair, c: ConnId, sc: ConnId) -> bool {
    let s = p.client.stack.subflow_stats(c);
    let ss = p.server.stack.subflow_stats(sc);
    s.len() == 2
        && ss.len() == 2
        && s.iter()
            .chain(ss.iter())
            .all(|x| x.state == TcpState::Established)
}

/// Linux defaults on the client (`add_addr_accepted 0`): the announcement
/// is echoed but not joined.
#[test]
fn add_addr_not_joined_with_default_limits() {
    let mut p = announcing_pair("mp_add_addr_default_limits", 18);
    p.client.stack.set_pm_config(PmConfig::default());
    let c = connect(&mut p);
    p.run_ms(2_000);
    assert_eq!(p.client.stack.counters().mptcp_add_addr, 1);
    assert_eq!(p.server.stack.counters().mptcp_echo_add, 1);
    assert_eq!(p.client.stack.subflow_stats(c).len(), 1);
    assert_eq!(p.client.stack.counters().mptcp_mp_join_syn_tx, 0);
}
