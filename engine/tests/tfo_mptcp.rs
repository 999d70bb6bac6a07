//! MPTCP + TFO scenarios on the in-memory link, in virtual time: the
//! packets exchanged and the bytes each application saw (protocol.md §6,
//! §7). Every scenario also checks the §7.6 regressions that apply to a
//! clean exchange: no RST, no run of signalling-only duplicate ACKs, no
//! retransmission, still MPTCP.

mod common;

use common::*;
use mptfo_engine::config::{ReplyTiming, StackConfig};
use mptfo_engine::stack::{CloseReason, ConnId, ConnectOptions, MptcpMode};
use mptfo_proto::DataSeq;

/// A pair where the server answers 64-byte requests with 64 bytes and the
/// client closes after the reply.
fn rpc_pair(name: &str, timing: ReplyTiming, delay_ms: u64, seed: u64) -> Pair {
    rpc_pair_with(
        name,
        StackConfig::default(),
        server_config(timing),
        delay_ms,
        seed,
    )
}

fn rpc_pair_with(
    name: &str,
    ccfg: StackConfig,
    scfg: StackConfig,
    delay_ms: u64,
    seed: u64,
) -> Pair {
    let mut p = Pair::new(name, ccfg, scfg, link(delay_ms), seed);
    p.server.app.request_len = 64;
    p.server.app.reply = reply();
    p.client.app.close_after_bytes = Some(64);
    p
}

/// First contact: a cookie request, the request after the handshake. Returns
/// the cookie the server offered.
fn warm_cookie(p: &mut Pair) -> Vec<u8> {
    let n = p.client.app.seen.closed.len();
    p.client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(
        p.run_until(5_000, |p| both_closed(p, n + 1)),
        "warm-up connection did not close"
    );
    let pk = p.packets();
    let synack = pk.iter().rev().find(|x| x.is_synack()).unwrap();
    synack
        .opts
        .fast_open
        .expect("cookie offered")
        .cookie()
        .to_vec()
}

/// The last accepted connection of the server.
fn last_accepted(p: &Pair) -> ConnId {
    *p.server.app.seen.accepted.last().unwrap()
}

/// The 64-bit value of a DATA_ACK, next to `reference`.
fn data_ack(p: &Pkt, reference: DataSeq) -> DataSeq {
    dss(p).data_ack.expect("DATA_ACK").expand(reference)
}

/// Checks shared by every clean (lossless) scenario: no RST, no
/// retransmission at TCP or MPTCP level, at most two signalling-only
/// duplicate ACKs in a row, never a fallback.
fn assert_clean(p: &Pair) {
    let pk = p.packets();
    assert_no_rst(&pk);
    for side in [Side::Client, Side::Server] {
        let run = signalling_dupack_run(&pk, side);
        assert!(
            run <= 2,
            "{side:?} sent {run} signalling duplicate ACKs in a row"
        );
    }
    for (who, c) in [
        ("client", p.client.stack.counters()),
        ("server", p.server.stack.counters()),
    ] {
        assert_eq!(c.tcp_retrans_segs, 0, "{who} retransmitted");
        assert_eq!(
            c.mptcp_mptcp_retrans, 0,
            "{who} retransmitted at MPTCP level"
        );
        assert_eq!(c.mptcp_mp_capable_fallback_ack, 0, "{who} fell back (ACK)");
        assert_eq!(
            c.mptcp_mp_capable_fallback_synack, 0,
            "{who} fell back (SYN/ACK)"
        );
        assert_eq!(
            c.mptcp_mp_capable_data_fallback, 0,
            "{who} fell back (data)"
        );
        assert_eq!(c.mptcp_infinite_map_rx, 0, "{who} got an infinite mapping");
        assert_eq!(c.tcp_out_rsts, 0, "{who} sent RST");
    }
}

/// Both ends' DATA_FINs are DATA_ACKed exactly (DATA_ACK = DATA_FIN DSN + 1,
/// protocol.md §5.3, §7.6 item 3), and the client's DATA_FIN sits at
/// IDSN-A + 1 + `client_mapped` (TFO bytes outside DSN space).
fn assert_data_fins(
    pk: &[Pkt],
    idsn_a: DataSeq,
    client_mapped: usize,
    idsn_b: DataSeq,
    server_mapped: usize,
) {
    for (side, idsn, mapped) in [
        (Side::Client, idsn_a, client_mapped),
        (Side::Server, idsn_b, server_mapped),
    ] {
        let fin_pos = pk
            .iter()
            .position(|x| x.from == side && x.dss().is_some_and(|d| d.data_fin))
            .unwrap_or_else(|| panic!("{side:?} sent no DATA_FIN"));
        let m = dss(&pk[fin_pos]).mapping.expect("DATA_FIN mapping");
        let fin_dsn = m.dsn.expand(idsn);
        assert_eq!(fin_dsn, idsn + 1 + mapped, "{side:?} DATA_FIN DSN");
        assert_eq!(
            (m.ssn, m.data_len),
            (0, 1),
            "DATA_FIN-only DSS: SSN 0, length 1"
        );
        let acked = pk[fin_pos..]
            .iter()
            .filter(|x| x.from != side)
            .filter_map(|x| x.dss().and_then(|d| d.data_ack).map(|a| a.expand(idsn)))
            .find(|&a| a > fin_dsn)
            .unwrap_or_else(|| panic!("{side:?} DATA_FIN never DATA_ACKed"));
        assert_eq!(acked, fin_dsn + 1, "{side:?} DATA_FIN acknowledged exactly");
    }
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
    assert!(
        p.run_until(5_000, |p| both_closed(p, 1)),
        "first connection did not close"
    );
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
    assert!(
        synack.opts.timestamps.is_none(),
        "TS dropped next to cookie + MP_CAPABLE"
    );
    // The request goes as MP_CAPABLE with data (implicit DSN IDSN-A+1, SSN
    // 1) and doubles as the third ACK.
    let first_data = pk
        .iter()
        .find(|x| x.from == Side::Client && !x.payload.is_empty())
        .unwrap();
    let m = mpc(first_data);
    assert_eq!(m.receiver_key, Some(key_b));
    assert_eq!(m.data_len, Some(64));
    assert_eq!(first_data.seq, syn.seq + 1, "request resent at ISN+1");
    let idsn_a = idsn(m.sender_key.unwrap());
    let idsn_b = idsn(key_b);
    assert_eq!(p.server.app.seen.data.values().next().unwrap(), &request());
    assert_eq!(p.client.app.seen.data[&c1], reply());
    assert_eq!(p.client.app.seen.closed[0].1, CloseReason::Graceful);
    assert_eq!(p.server.app.seen.closed[0].1, CloseReason::Graceful);
    let sc = p.server.stack.counters();
    assert_eq!(sc.tcp_ext_tcp_fast_open_cookie_reqd, 1);
    assert_data_fins(&pk, idsn_a, 64, idsn_b, 64);
    assert_clean(&p);

    // Second connection: SYN + data + cookie, delivered before the
    // handshake completes; early reply one RTT after the SYN.
    let n0 = p.packets().len();
    let t0 = p.clock.now();
    let c2 = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    let got_reply = p.run_until(5_000, |p| p.client.app.seen.data.contains_key(&c2));
    assert!(got_reply, "no reply");
    // Still MPTCP on both ends once the reply is in (protocol.md §7.2: our
    // client accepts the erratum-6609 form without falling back).
    let s2 = last_accepted(&p);
    assert_eq!(p.client.stack.mptcp_mode(c2), Some(MptcpMode::Established));
    // The server learns Key-A half an RTT later, from the third ACK.
    assert!(
        p.run_until(100, |p| p.server.stack.counters().mptcp_mp_capable_ack_rx
            == 2)
    );
    assert_eq!(p.server.stack.mptcp_mode(s2), Some(MptcpMode::Established));
    assert!(
        p.run_until(5_000, |p| both_closed(p, 2)),
        "second connection did not close"
    );
    let pk = p.packets()[n0..].to_vec();
    let syn = &pk[0];
    assert!(syn.syn());
    assert_eq!(syn.payload, request());
    assert_eq!(syn.opts.fast_open.unwrap().cookie(), cookie.cookie());
    assert_eq!(mpc(syn).buffer_len(), 4);
    let synack = &pk[1];
    assert_eq!(
        synack.ack,
        Some(syn.seq + 65),
        "SYN/ACK acknowledges the SYN data"
    );
    assert!(synack.opts.fast_open.is_none());
    let key_b = mpc(synack).sender_key.unwrap();
    assert_eq!(p.server.app.seen.data[&s2], request());
    assert!(
        p.server
            .app
            .seen
            .events
            .iter()
            .any(|(_, e)| e == "data 64 Some(SynReceived)"),
        "SYN data reached the server app before the handshake completed: {:?}",
        p.server.app.seen.events
    );
    // Early reply: right after the SYN/ACK, DSS mapping without DATA_ACK.
    let reply_pkt = pk
        .iter()
        .find(|x| x.from == Side::Server && !x.payload.is_empty())
        .unwrap();
    let d = dss(reply_pkt);
    assert!(d.data_ack.is_none(), "no DATA_ACK before the client key");
    let m = d.mapping.expect("mapping");
    assert_eq!(m.dsn.expand(idsn(key_b)), idsn(key_b) + 1);
    assert_eq!(m.ssn, 1);
    assert_eq!(m.data_len, 64);
    assert_eq!(reply_pkt.seq, synack.seq + 1);
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
    assert_eq!(
        t_reply - t0,
        10 * MS,
        "early reply arrives one RTT after the SYN"
    );
    // The client's DATA_FIN: no mapped byte was sent (the request rode in
    // the SYN, outside DSN space), so it sits at IDSN-A+1.
    let key_a = pk
        .iter()
        .find_map(|x| x.mpc().and_then(|m| m.receiver_key.and(m.sender_key)))
        .unwrap();
    assert_data_fins(&pk, idsn(key_a), 0, idsn(key_b), 64);
    assert_eq!(p.server.stack.counters().tcp_ext_tcp_fast_open_passive, 1);
    assert_eq!(p.client.stack.counters().tcp_ext_tcp_fast_open_active, 1);
    assert_eq!(p.client.app.seen.closed[1].1, CloseReason::Graceful);
    assert_eq!(p.server.app.seen.closed[1].1, CloseReason::Graceful);
    assert_clean(&p);
}

/// Both client styles with a cached cookie: connect-with-data (like
/// `sendto(MSG_FASTOPEN)`) and deferred connect (like
/// `TCP_FASTOPEN_CONNECT`: nothing leaves until the first write, which
/// rides in the SYN).
#[test]
fn connect_with_data_and_deferred_connect() {
    let mut p = rpc_pair("connect_styles", ReplyTiming::Hold, 5, 2);
    let cookie = warm_cookie(&mut p);

    // Connect with data.
    let n0 = p.packets().len();
    let c2 = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(5_000, |p| both_closed(p, 2)));
    let pk = p.packets()[n0..].to_vec();
    assert!(pk[0].syn() && pk[0].from == Side::Client);
    assert_eq!(pk[0].payload, request());
    assert_eq!(pk[0].opts.fast_open.unwrap().cookie(), &cookie[..]);
    assert_eq!(pk[1].ack, Some(pk[0].seq + 65));
    assert_eq!(p.client.app.seen.data[&c2], reply());
    assert_eq!(p.server.app.seen.data[&last_accepted(&p)], request());

    // Deferred connect: no SYN until the write.
    let n0 = p.packets().len();
    let opts = ConnectOptions {
        deferred: true,
        ..ConnectOptions::default()
    };
    let c3 = p.client.stack.connect(server_addr(), &[], opts).unwrap();
    p.run_ms(50);
    assert_eq!(
        p.packets().len(),
        n0,
        "a deferred connect sends nothing before the first write"
    );
    let req: Vec<u8> = (100..164u8).collect();
    assert_eq!(p.client.stack.send(c3, &req).unwrap(), 64);
    assert!(p.run_until(5_000, |p| both_closed(p, 3)));
    let pk = p.packets()[n0..].to_vec();
    let syn = &pk[0];
    assert!(syn.syn() && syn.from == Side::Client);
    assert_eq!(syn.payload, req, "the first write rides in the SYN");
    assert_eq!(syn.opts.fast_open.unwrap().cookie(), &cookie[..]);
    assert_eq!(mpc(syn).buffer_len(), 4);
    assert_eq!(pk[1].ack, Some(syn.seq + 65));
    assert_eq!(p.client.app.seen.data[&c3], reply());
    assert_eq!(p.server.app.seen.data[&last_accepted(&p)], req);
    assert_eq!(p.client.stack.counters().tcp_ext_tcp_fast_open_active, 2);
    assert_eq!(p.server.stack.counters().tcp_ext_tcp_fast_open_passive, 2);
    assert!(p
        .client
        .app
        .seen
        .closed
        .iter()
        .all(|c| c.1 == CloseReason::Graceful));
    assert_clean(&p);
}

/// `hold` reply timing (protocol.md §7.2, §7.3): the server's reply waits
/// for the MP_CAPABLE third ACK and carries DATA_ACK = IDSN-A+1 (the SYN
/// data is outside DSN space); it reaches the client 2 RTT after the SYN.
#[test]
fn hold_reply_after_third_ack() {
    let mut p = rpc_pair("hold_reply", ReplyTiming::Hold, 5, 3);
    warm_cookie(&mut p);
    let n0 = p.packets().len();
    let t0 = p.clock.now();
    let c2 = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(5_000, |p| p.client.app.seen.data.contains_key(&c2)));
    let s2 = last_accepted(&p);
    assert_eq!(p.client.stack.mptcp_mode(c2), Some(MptcpMode::Established));
    assert_eq!(p.server.stack.mptcp_mode(s2), Some(MptcpMode::Established));
    assert!(p.run_until(5_000, |p| both_closed(p, 2)));
    let pk = p.packets()[n0..].to_vec();
    let (syn, synack, ack3, rep) = (&pk[0], &pk[1], &pk[2], &pk[3]);
    assert!(syn.syn() && syn.from == Side::Client && syn.payload == request());
    assert!(synack.is_synack() && synack.ack == Some(syn.seq + 65));
    let key_b = mpc(synack).sender_key.unwrap();
    // Third ACK: MP_CAPABLE 20 (both keys) at ISN+1+N, no payload.
    assert_eq!(ack3.from, Side::Client);
    assert!(ack3.is_ack_only());
    assert_eq!(ack3.seq, syn.seq + 65);
    let m = mpc(ack3);
    assert_eq!(m.buffer_len(), 20);
    assert_eq!(m.receiver_key, Some(key_b));
    let idsn_a = idsn(m.sender_key.unwrap());
    let idsn_b = idsn(key_b);
    // Nothing from the server between its SYN/ACK and the third ACK.
    assert_eq!(rep.from, Side::Server);
    assert_eq!(rep.payload, reply());
    assert_eq!(rep.seq, synack.seq + 1);
    assert!(
        rep.t >= ack3.t + 5 * MS,
        "the reply left after the third ACK arrived"
    );
    let d = dss(rep);
    assert_eq!(
        d.data_ack.map(|a| a.expand(idsn_a)),
        Some(idsn_a + 1),
        "DATA_ACK = IDSN-A+1"
    );
    let map = d.mapping.unwrap();
    assert_eq!(
        (map.dsn.expand(idsn_b), map.ssn, map.data_len),
        (idsn_b + 1, 1, 64)
    );
    // 2 RTT from the SYN to the reply at the client.
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
    assert_eq!(t_reply - t0, 20 * MS, "hold: reply 2 RTT after the SYN");
    // The client acknowledges the reply with a DATA_ACK of IDSN-B+65.
    let ack = pk[4..]
        .iter()
        .find(|x| x.from == Side::Client && x.dss().is_some_and(|d| d.data_ack.is_some()))
        .unwrap();
    assert_eq!(data_ack(ack, idsn_b), idsn_b + 65);
    assert_data_fins(&pk, idsn_a, 0, idsn_b, 64);
    assert_eq!(p.server.app.seen.data[&s2], request());
    assert_eq!(p.client.app.seen.data[&c2], reply());
    assert_clean(&p);
}

/// A cookie that is neither the primary nor the backup key's (RFC 7413
/// §4.2.2, protocol.md §6.3, §7.4): the SYN/ACK acknowledges only the SYN
/// and offers a fresh cookie; the client resends the request at ISN+1 as
/// MP_CAPABLE with data (implicit DSN IDSN-A+1, SSN 1); the server app sees
/// it once; the connection stays MPTCP. The fresh cookie works next time.
#[test]
fn invalid_cookie_data_resent_after_handshake() {
    let mut p = rpc_pair("invalid_cookie", ReplyTiming::Hold, 5, 4);
    let old = warm_cookie(&mut p);
    p.server.stack.rotate_tfo_key(*b"fedcba9876543210");
    p.server.stack.rotate_tfo_key(*b"another-key-0001");
    let n0 = p.packets().len();
    let c2 = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(5_000, |p| p.client.app.seen.data.contains_key(&c2)));
    let s2 = last_accepted(&p);
    assert_eq!(p.client.stack.mptcp_mode(c2), Some(MptcpMode::Established));
    assert_eq!(p.server.stack.mptcp_mode(s2), Some(MptcpMode::Established));
    assert!(p.run_until(5_000, |p| both_closed(p, 2)));
    let pk = p.packets()[n0..].to_vec();
    let (syn, synack, data) = (&pk[0], &pk[1], &pk[2]);
    assert_eq!(syn.payload, request());
    assert_eq!(syn.opts.fast_open.unwrap().cookie(), &old[..]);
    assert_eq!(
        synack.ack,
        Some(syn.seq + 1),
        "only the SYN is acknowledged"
    );
    let fresh = synack.opts.fast_open.expect("a fresh cookie is offered");
    assert_eq!(fresh.cookie().len(), 8);
    assert_ne!(fresh.cookie(), &old[..]);
    let key_b = mpc(synack).sender_key.unwrap();
    // Right after the SYN/ACK: the request at ISN+1 as MP_CAPABLE + data.
    assert_eq!(data.from, Side::Client);
    assert_eq!(data.seq, syn.seq + 1);
    assert_eq!(data.payload, request());
    let m = mpc(data);
    assert_eq!((m.receiver_key, m.data_len), (Some(key_b), Some(64)));
    assert_eq!(data.t, synack.t + 5 * MS, "resent at once");
    let idsn_a = idsn(m.sender_key.unwrap());
    let idsn_b = idsn(key_b);
    // The server acknowledges IDSN-A+65 at data level.
    let rep = pk
        .iter()
        .find(|x| x.from == Side::Server && !x.payload.is_empty())
        .unwrap();
    assert_eq!(data_ack(rep, idsn_a), idsn_a + 65);
    assert_eq!(
        p.server.app.seen.data[&s2],
        request(),
        "request delivered exactly once"
    );
    assert_eq!(p.client.app.seen.data[&c2], reply());
    assert_data_fins(&pk, idsn_a, 64, idsn_b, 64);
    let sc = p.server.stack.counters();
    assert_eq!(sc.tcp_ext_tcp_fast_open_passive_fail, 1);
    assert_eq!(sc.tcp_ext_tcp_fast_open_passive, 0);
    assert_eq!(
        p.client.stack.counters().tcp_ext_tcp_fast_open_active_fail,
        1
    );
    assert_clean(&p);

    // The fresh cookie is cached and accepted.
    let n0 = p.packets().len();
    let c3 = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(5_000, |p| both_closed(p, 3)));
    let pk = p.packets()[n0..].to_vec();
    assert_eq!(pk[0].opts.fast_open.unwrap().cookie(), fresh.cookie());
    assert_eq!(pk[1].ack, Some(pk[0].seq + 65));
    assert_eq!(p.client.app.seen.data[&c3], reply());
    assert_eq!(p.server.stack.counters().tcp_ext_tcp_fast_open_passive, 1);
}

/// A cookie of the backup key (one rotation): accepted, and the SYN/ACK
/// carries a fresh primary-key cookie (protocol.md §6.2) that the client
/// uses from then on.
#[test]
fn backup_key_cookie_accepted_and_refreshed() {
    let mut p = rpc_pair("backup_cookie", ReplyTiming::Hold, 5, 5);
    let old = warm_cookie(&mut p);
    p.server.stack.rotate_tfo_key(*b"fedcba9876543210");
    let n0 = p.packets().len();
    let c2 = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(5_000, |p| both_closed(p, 2)));
    let pk = p.packets()[n0..].to_vec();
    let (syn, synack) = (&pk[0], &pk[1]);
    assert_eq!(syn.opts.fast_open.unwrap().cookie(), &old[..]);
    assert_eq!(synack.ack, Some(syn.seq + 65), "backup-key cookie accepted");
    let fresh = synack.opts.fast_open.expect("fresh cookie offered");
    assert_ne!(fresh.cookie(), &old[..]);
    assert_eq!(p.server.app.seen.data[&last_accepted(&p)], request());
    assert_eq!(p.client.app.seen.data[&c2], reply());
    let sc = p.server.stack.counters();
    assert_eq!(sc.tcp_ext_tcp_fast_open_passive_alt_key, 1);
    assert_eq!(sc.tcp_ext_tcp_fast_open_passive, 1);
    assert_clean(&p);

    let n0 = p.packets().len();
    p.client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(5_000, |p| both_closed(p, 3)));
    let pk = p.packets()[n0..].to_vec();
    assert_eq!(pk[0].opts.fast_open.unwrap().cookie(), fresh.cookie());
    assert_eq!(pk[1].ack, Some(pk[0].seq + 65));
    assert!(
        pk[1].opts.fast_open.is_none(),
        "a primary-key cookie is not refreshed"
    );
    assert_eq!(
        p.server
            .stack
            .counters()
            .tcp_ext_tcp_fast_open_passive_alt_key,
        1
    );
}

/// Cookie-less TFO (server `no_cookie`, Linux bit 0x200; client
/// `tfo_no_cookie`, Linux bit 0x4): SYN data without any TFO option is
/// accepted on first contact.
#[test]
fn no_cookie_mode() {
    let mut scfg = server_config(ReplyTiming::Hold);
    scfg.tfo_server.no_cookie = true;
    let mut p = rpc_pair_with("no_cookie", StackConfig::default(), scfg, 5, 6);
    let opts = ConnectOptions {
        tfo_no_cookie: true,
        ..ConnectOptions::default()
    };
    let c = p
        .client
        .stack
        .connect(server_addr(), &request(), opts)
        .unwrap();
    assert!(p.run_until(5_000, |p| p.client.app.seen.data.contains_key(&c)));
    assert_eq!(p.client.stack.mptcp_mode(c), Some(MptcpMode::Established));
    assert!(p.run_until(5_000, |p| both_closed(p, 1)));
    let pk = p.packets();
    let (syn, synack) = (&pk[0], &pk[1]);
    assert_eq!(syn.payload, request());
    assert!(syn.opts.fast_open.is_none(), "no TFO option at all");
    assert_eq!(mpc(syn).buffer_len(), 4);
    assert_eq!(
        synack.ack,
        Some(syn.seq + 65),
        "data accepted without a cookie"
    );
    assert!(synack.opts.fast_open.is_none(), "no cookie offered");
    assert_eq!(p.server.app.seen.data[&last_accepted(&p)], request());
    assert!(
        p.server
            .app
            .seen
            .events
            .iter()
            .any(|(_, e)| e == "data 64 Some(SynReceived)"),
        "delivered before the handshake completed"
    );
    assert_eq!(p.client.app.seen.data[&c], reply());
    assert_eq!(p.server.stack.counters().tcp_ext_tcp_fast_open_passive, 1);
    assert_clean(&p);
}

/// Cookie-less SYN data to a server that wants cookies: not acknowledged,
/// no cookie offered (the SYN asked for none), sent again after the
/// handshake as MP_CAPABLE with data.
#[test]
fn no_cookie_client_to_cookie_server() {
    let mut p = rpc_pair("no_cookie_client", ReplyTiming::Hold, 5, 7);
    let opts = ConnectOptions {
        tfo_no_cookie: true,
        ..ConnectOptions::default()
    };
    let c = p
        .client
        .stack
        .connect(server_addr(), &request(), opts)
        .unwrap();
    assert!(p.run_until(5_000, |p| both_closed(p, 1)));
    let pk = p.packets();
    let (syn, synack, data) = (&pk[0], &pk[1], &pk[2]);
    assert_eq!(syn.payload, request());
    assert!(syn.opts.fast_open.is_none());
    assert_eq!(synack.ack, Some(syn.seq + 1));
    assert!(synack.opts.fast_open.is_none());
    assert_eq!(data.seq, syn.seq + 1);
    assert_eq!(data.payload, request());
    assert_eq!(mpc(data).data_len, Some(64));
    assert_eq!(p.server.app.seen.data[&last_accepted(&p)], request());
    assert_eq!(p.client.app.seen.data[&c], reply());
    assert_eq!(p.server.stack.counters().tcp_ext_tcp_fast_open_passive, 0);
    assert_clean(&p);
}

/// The pending TFO queue (protocol.md §6.3): with room for one, a second
/// SYN with data arriving before the first handshake completes gets no TFO
/// at all — data not acknowledged, no cookie offered,
/// TcpExtTCPFastOpenListenOverflow counted — and its data still reaches
/// the server app exactly once, after the handshake.
#[test]
fn pending_queue_full() {
    let mut scfg = server_config(ReplyTiming::Hold);
    scfg.tfo_server.queue_len = 1;
    let mut p = rpc_pair_with("queue_full", StackConfig::default(), scfg, 5, 8);
    warm_cookie(&mut p);
    let n0 = p.packets().len();
    let req_b: Vec<u8> = (64..128u8).collect();
    // Both SYNs leave together and arrive together: the first one's
    // handshake completes only when its third ACK arrives, 1 RTT later.
    let ca = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    let cb = p
        .client
        .stack
        .connect(server_addr(), &req_b, ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(5_000, |p| both_closed(p, 3)));
    let pk = p.packets()[n0..].to_vec();
    let syns: Vec<&Pkt> = pk.iter().filter(|x| x.syn() && x.ack.is_none()).collect();
    assert_eq!(syns.len(), 2);
    assert!(syns
        .iter()
        .all(|s| s.payload.len() == 64 && s.opts.fast_open.is_some_and(|f| !f.is_request())));
    let synacks: Vec<&Pkt> = pk.iter().filter(|x| x.is_synack()).collect();
    assert_eq!(synacks.len(), 2);
    assert_eq!(
        synacks[0].ack,
        Some(syns[0].seq + 65),
        "first SYN's data accepted"
    );
    assert!(synacks[0].opts.fast_open.is_none());
    assert_eq!(
        synacks[1].ack,
        Some(syns[1].seq + 1),
        "second SYN's data not acknowledged"
    );
    assert!(
        synacks[1].opts.fast_open.is_none(),
        "no cookie offered on overflow"
    );
    // The second request follows its handshake at ISN+1 as MP_CAPABLE data.
    let resent = pk
        .iter()
        .find(|x| x.from == Side::Client && x.seq == syns[1].seq + 1 && !x.payload.is_empty())
        .expect("second request resent");
    assert_eq!(resent.payload, req_b);
    assert_eq!(mpc(resent).data_len, Some(64));
    let sc = p.server.stack.counters();
    assert_eq!(sc.tcp_ext_tcp_fast_open_listen_overflow, 1);
    assert_eq!(sc.tcp_ext_tcp_fast_open_passive, 1);
    assert_eq!(p.server.stack.tfo_pending(), 0);
    let seen = &p.server.app.seen;
    let mut reqs: Vec<Vec<u8>> = seen.accepted[1..]
        .iter()
        .map(|c| seen.data[c].clone())
        .collect();
    reqs.sort();
    assert_eq!(reqs, vec![request(), req_b], "each request exactly once");
    assert_eq!(p.client.app.seen.data[&ca], reply());
    assert_eq!(p.client.app.seen.data[&cb], reply());
    assert_clean(&p);
}

/// protocol.md §7.6: in a longer TFO exchange (several requests on one
/// connection, both ends writing), DATA_ACKs track the mapped bytes only,
/// nothing is retransmitted and the close is clean.
#[test]
fn several_requests_on_one_connection() {
    let mut p = rpc_pair("several_requests", ReplyTiming::Hold, 5, 9);
    warm_cookie(&mut p);
    p.client.app.close_after_bytes = Some(64 * 4);
    let n0 = p.packets().len();
    let c = p
        .client
        .stack
        .connect(server_addr(), &request(), ConnectOptions::default())
        .unwrap();
    assert!(p.run_until(5_000, |p| p
        .client
        .app
        .seen
        .data
        .get(&c)
        .is_some_and(|d| !d.is_empty())));
    for _ in 0..3 {
        p.client.stack.send(c, &request()).unwrap();
    }
    assert!(p.run_until(5_000, |p| both_closed(p, 2)));
    let pk = p.packets()[n0..].to_vec();
    let s = last_accepted(&p);
    assert_eq!(p.server.app.seen.data[&s], request().repeat(4));
    assert_eq!(p.client.app.seen.data[&c], reply().repeat(4));
    let key_b = mpc(&pk[1]).sender_key.unwrap();
    let key_a = mpc(&pk[2]).sender_key.unwrap();
    // Mapped client bytes: the three writes after the SYN, from IDSN-A+1, SSN 1.
    let first = pk
        .iter()
        .find(|x| x.from == Side::Client && !x.payload.is_empty() && !x.syn())
        .unwrap();
    let m = dss(first).mapping.unwrap();
    assert_eq!((m.dsn.expand(idsn(key_a)), m.ssn), (idsn(key_a) + 1, 1));
    assert_eq!(first.seq, pk[0].seq + 65);
    assert_data_fins(&pk, idsn(key_a), 3 * 64, idsn(key_b), 4 * 64);
    assert_clean(&p);
}
