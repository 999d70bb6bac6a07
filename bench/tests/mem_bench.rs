//! Short benchmark runs on the mem link, in virtual time. Latencies here are
//! virtual-time figures — exact and reproducible — so asserting them is not
//! a timed test.

use mptfo_bench::{run, BenchConfig, ReplyTiming, Report};
use mptfo_engine::time::Duration;

const RTT_MS: f64 = 10.0;

fn config(tfo: bool, mptcp: bool, reply: ReplyTiming) -> BenchConfig {
    BenchConfig {
        duration: None,
        transactions: Some(200),
        concurrency: 16,
        tfo,
        mptcp,
        reply,
        rtt: Duration::from_millis(10),
        ..BenchConfig::default()
    }
}

fn run_ok(cfg: &BenchConfig) -> Report {
    let outcome = run(cfg).expect("valid config");
    let r = outcome.report();
    println!("{r}");
    assert_eq!(r.transactions, 200, "every transaction completed");
    assert_eq!(r.started, 200);
    assert_eq!(r.errors.total, 0, "errors: {:?}", r.errors);
    assert!(
        !r.run.stuck && !r.run.drain_timed_out && !r.run.wall_timed_out,
        "{:?}",
        r.run
    );
    assert_eq!(r.run.clock_nudges, 0);
    assert_eq!(
        r.retransmissions.total, 0,
        "a lossless link needs no retransmission"
    );
    // Every connection closed on both ends.
    assert_eq!(outcome.open_at_end, (0, 0));
    assert_eq!(outcome.server.stats.accepted, 200);
    assert_eq!(outcome.server.stats.closed, 200);
    assert_eq!(outcome.server.stats.requests, 200);
    assert_eq!(r.latency.syn_to_last_byte.count, 200);
    r
}

fn assert_near_ms(what: &str, got_us: f64, want_ms: f64) {
    let got_ms = got_us / 1e3;
    assert!(
        (got_ms - want_ms).abs() <= 1.0,
        "{what}: {got_ms:.3} ms, expected {want_ms} ± 1 ms"
    );
}

#[test]
fn tfo_mptcp_early_reply_takes_one_rtt() {
    let r = run_ok(&config(true, true, ReplyTiming::Early));
    // The first connection has no cookie yet: it asks for one; every later
    // SYN carries the request and the server takes it.
    assert_eq!(r.tfo.cookie_requests, 1);
    assert_eq!(r.tfo.accepted, 199);
    assert_eq!(r.tfo.client_active, 199);
    assert_eq!(r.tfo.rejected, 0);
    assert_eq!(r.tfo.client_active_fail, 0);
    assert_eq!(r.fallbacks.total, 0);
    assert_eq!(
        r.fallbacks.mptcp_transactions, 200,
        "every connection stayed MPTCP"
    );
    assert_near_ms(
        "median SYN->last byte",
        r.latency.syn_to_last_byte.p50_us,
        RTT_MS,
    );
    assert_near_ms(
        "median SYN->first byte",
        r.latency.syn_to_first_byte.p50_us,
        RTT_MS,
    );
    // Only the cookie-less first transaction takes two round trips.
    assert_near_ms(
        "max SYN->last byte",
        r.latency.syn_to_last_byte.max_us,
        2.0 * RTT_MS,
    );
}

#[test]
fn without_tfo_a_transaction_takes_two_rtts() {
    let r = run_ok(&config(false, true, ReplyTiming::Early));
    assert_eq!(
        r.tfo.accepted + r.tfo.client_active + r.tfo.cookie_requests,
        0
    );
    assert_eq!(r.fallbacks.total, 0);
    assert_eq!(r.fallbacks.mptcp_transactions, 200);
    assert_near_ms(
        "median SYN->last byte",
        r.latency.syn_to_last_byte.p50_us,
        2.0 * RTT_MS,
    );
    assert_near_ms(
        "max SYN->last byte",
        r.latency.syn_to_last_byte.max_us,
        2.0 * RTT_MS,
    );
}

#[test]
fn held_reply_waits_for_the_client_key() {
    let r = run_ok(&config(true, true, ReplyTiming::Hold));
    assert_eq!(r.tfo.accepted, 199);
    assert_eq!(r.fallbacks.total, 0);
    assert_near_ms(
        "median SYN->last byte",
        r.latency.syn_to_last_byte.p50_us,
        2.0 * RTT_MS,
    );
}

#[test]
fn tfo_over_plain_tcp_takes_one_rtt() {
    let r = run_ok(&config(true, false, ReplyTiming::Early));
    assert_eq!(r.tfo.accepted, 199);
    assert_eq!(r.fallbacks.total, 0, "MPTCP not offered is not a fallback");
    assert_eq!(r.fallbacks.mptcp_transactions, 0);
    assert_near_ms(
        "median SYN->last byte",
        r.latency.syn_to_last_byte.p50_us,
        RTT_MS,
    );
}

#[test]
fn same_seed_same_figures() {
    let cfg = BenchConfig {
        transactions: Some(100),
        ..config(true, true, ReplyTiming::Early)
    };
    let a = run(&cfg).unwrap().report();
    let b = run(&cfg).unwrap().report();
    assert_eq!(a.latency, b.latency);
    assert_eq!(a.client_counters, b.client_counters);
    assert_eq!(a.server_counters, b.server_counters);
}

#[test]
fn large_replies_and_echo() {
    // A reply of several segments, and requests of several segments.
    let rpc = BenchConfig {
        transactions: Some(50),
        request_bytes: 100,
        response_bytes: 20_000,
        ..config(true, true, ReplyTiming::Early)
    };
    let r = run(&rpc).unwrap().report();
    assert_eq!(r.transactions, 50, "{r}");
    assert_eq!(r.errors.total, 0, "{r}");
    let echo = BenchConfig {
        transactions: Some(50),
        request_bytes: 3_000,
        echo: true,
        ..config(false, true, ReplyTiming::Early)
    };
    let r = run(&echo).unwrap().report();
    assert_eq!(r.transactions, 50, "{r}");
    assert_eq!(r.errors.total, 0, "{r}");
    // A TFO request larger than half the send buffer goes in parts.
    let big = BenchConfig {
        transactions: Some(5),
        concurrency: 2,
        request_bytes: 300_000,
        response_bytes: 10,
        ..config(true, true, ReplyTiming::Early)
    };
    let r = run(&big).unwrap().report();
    assert_eq!(r.transactions, 5, "{r}");
    assert_eq!(r.errors.total, 0, "{r}");
}

#[test]
fn duration_bound_and_port_reuse_at_rtt_zero() {
    // At RTT 0 virtual time moves only on timers: the load runs until the
    // ephemeral ports are all in TIME_WAIT, then time jumps to the end of
    // TIME_WAIT and the ports are used again.
    let cfg = BenchConfig {
        duration: Some(Duration::from_millis(1500)),
        transactions: None,
        concurrency: 64,
        rtt: Duration::ZERO,
        time_wait: Duration::from_millis(1000),
        ..BenchConfig::default()
    };
    let o = run(&cfg).unwrap();
    let r = o.report();
    println!("{r}");
    assert_eq!(r.errors.total, 0, "{r}");
    assert_eq!(r.fallbacks.total, 0, "{r}");
    assert!(
        r.transactions > 28_232,
        "ports were reused: {}",
        r.transactions
    );
    assert_eq!(o.open_at_end, (0, 0));
}

#[test]
fn report_json_has_the_fields() {
    let r = run(&BenchConfig {
        transactions: Some(20),
        ..config(true, true, ReplyTiming::Early)
    })
    .unwrap()
    .report();
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    for path in [
        "/transactions",
        "/rate/per_virtual_second",
        "/rate/per_wall_second_one_core_both_ends",
        "/tfo/accepted",
        "/tfo/rejected",
        "/fallbacks/total",
        "/retransmissions/total",
        "/errors/total",
        "/latency/syn_to_last_byte/p50_us",
        "/latency/syn_to_first_byte/p999_us",
    ] {
        assert!(v.pointer(path).is_some(), "{path} missing in {v}");
    }
}

#[test]
fn invalid_configs_are_refused() {
    let bad = BenchConfig {
        concurrency: 0,
        ..BenchConfig::default()
    };
    assert!(run(&bad).is_err());
    let bad = BenchConfig {
        duration: None,
        transactions: None,
        ..BenchConfig::default()
    };
    assert!(run(&bad).is_err());
}

/// With 5 % loss every transaction still completes, and every connection
/// closes. This once hung: a lost MP_CAPABLE third ACK followed by the
/// client's DATA_FIN made the server fall back while the client stayed
/// MPTCP; the client now holds its DATA_FIN until a DATA_ACK confirms its
/// key.
#[test]
fn lossy_link_every_connection_closes() {
    let cfg = BenchConfig {
        transactions: Some(300),
        concurrency: 4,
        loss: 0.05,
        time_wait: Duration::from_secs(60),
        ..config(true, true, ReplyTiming::Early)
    };
    let o = run(&cfg).unwrap();
    let r = o.report();
    println!("{r}");
    assert_eq!(r.transactions, 300);
    assert!(r.retransmissions.total > 0, "loss was injected");
    assert_eq!(r.errors.total, 0, "{r}");
    assert_eq!(o.open_at_end, (0, 0), "{r}");
}

/// `--paths 2` with large replies: every connection opens a second
/// subflow over path 2, and both paths carry the bulk of the data.
#[test]
fn two_paths_both_carry_data() {
    let cfg = BenchConfig {
        duration: None,
        transactions: Some(8),
        concurrency: 4,
        response_bytes: 500_000,
        rtt: Duration::from_millis(10),
        paths: 2,
        ..BenchConfig::default()
    };
    // Regression: with one path, a reply write cut short by an empty
    // buffer cache (not a full send buffer) used to wait forever for a
    // `Writable` that only ACKs sent: one transaction never completed.
    let one = run(&BenchConfig {
        paths: 1,
        ..cfg.clone()
    })
    .unwrap()
    .report();
    assert_eq!(one.transactions, 8, "{one}");
    assert_eq!(one.errors.total, 0, "{one}");
    assert!(one.joins.is_none() && one.paths.len() == 1);
    let outcome = run(&cfg).expect("valid config");
    let r = outcome.report();
    println!("{r}");
    assert_eq!(r.transactions, 8);
    assert_eq!(r.errors.total, 0, "errors: {:?}", r.errors);
    assert_eq!(outcome.open_at_end, (0, 0));
    let j = r.joins.expect("join figures with two paths");
    assert_eq!(j.requested, 8, "{j:?}");
    assert_eq!(j.refused, 0, "{j:?}");
    assert!(j.established >= 6, "{j:?}");
    assert_eq!(r.paths.len(), 2);
    for p in &r.paths {
        // 8 replies of 500 kB = 4 MB: each path carries a large share.
        assert!(p.server_to_client_bytes > 500_000, "{p:?}");
        assert!(p.client_to_server_packets > 10, "{p:?}");
    }
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["paths"].as_array().map(Vec::len), Some(2));
    assert!(json["joins"]["established"].as_u64().unwrap() >= 6);
}
