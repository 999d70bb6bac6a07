//! Coupled congestion control measured (RFC 6356 §2, goal 2: "do no harm":
//! a multipath flow should not take more capacity from a shared bottleneck
//! than a single TCP flow would).
//!
//! One rate-limited link (drop-tail queue) carries at once a plain TCP
//! connection (MPTCP off) and an MPTCP connection with TWO subflows on the
//! same address pair (the second a join from a new source port). The server
//! writes as fast as each connection takes; the client counts what arrives
//! over a window after the start-up. With LIA the MPTCP connection must
//! take about what the TCP flow takes; with uncoupled subflows (NewReno,
//! Cubic) it takes clearly more — about twice as much: it is two flows.
//!
//! Measured (10 Mbit/s, RTT 20 ms, 60 s window), MPTCP/TCP throughput:
//! queue 40 (the test): LIA 0.986, NewReno 1.873, Cubic 1.901; queue 20:
//! LIA 0.877, NewReno 1.867, Cubic 1.740; queue 80: LIA 1.036, NewReno
//! 1.608, Cubic 1.931. The link has no random element, so the run is
//! deterministic; the seed (`MPTFO_CC_SEED`) changes keys, ISNs and ports
//! only and did not change the figures.

mod common;

use std::net::IpAddr;

use common::*;
use mptfo_engine::config::{CongestionAlgorithm, ReplyTiming, StackConfig};
use mptfo_engine::stack::{ConnId, ConnectOptions, Event, Stack};
use mptfo_engine::time::Instant;
use mptfo_engine::worker::App;
use mptfo_nic::{Buf, Clock, DirectionConfig, LinkConfig, MemBuf};

/// Opens the two connections and counts what each receives.
#[derive(Default)]
struct Client {
    opened: bool,
    tcp: Option<ConnId>,
    mp: Option<ConnId>,
    tcp_bytes: u64,
    mp_bytes: u64,
    join_error: Option<String>,
    errors: Vec<String>,
}

impl App<Recorder> for Client {
    fn on_event(&mut self, stack: &mut Stack<MemBuf>, event: Event<MemBuf>) {
        match event {
            Event::Connected { conn } if Some(conn) == self.mp => {
                // Second subflow on the same address pair: a new source port.
                if let Err(e) = stack.add_subflow(conn, IpAddr::V4(CLIENT_IP), server_addr(), false)
                {
                    self.join_error = Some(e.to_string());
                }
            }
            Event::Data { conn, data } => {
                let n = data.data().len() as u64;
                if Some(conn) == self.tcp {
                    self.tcp_bytes += n;
                } else if Some(conn) == self.mp {
                    self.mp_bytes += n;
                }
            }
            Event::Closed { conn, reason } => {
                self.errors.push(format!("{conn:?} closed: {reason:?}"));
            }
            _ => {}
        }
    }

    fn on_poll(&mut self, stack: &mut Stack<MemBuf>, _now: Instant) {
        if self.opened {
            return;
        }
        self.opened = true;
        let tcp = ConnectOptions {
            mptcp: false,
            tfo: false,
            ..ConnectOptions::default()
        };
        let mp = ConnectOptions {
            mptcp: true,
            tfo: false,
            ..ConnectOptions::default()
        };
        self.tcp = stack.connect(server_addr(), b"go", tcp).ok();
        self.mp = stack.connect(server_addr(), b"go", mp).ok();
    }
}

/// Writes without end on every accepted connection.
struct Server {
    pattern: Vec<u8>,
    conns: Vec<ConnId>,
}

impl Server {
    fn fill(&self, stack: &mut Stack<MemBuf>, conn: ConnId) {
        while let Ok(n) = stack.send(conn, &self.pattern) {
            if n < self.pattern.len() {
                break;
            }
        }
    }
}

impl App<Recorder> for Server {
    fn on_event(&mut self, stack: &mut Stack<MemBuf>, event: Event<MemBuf>) {
        match event {
            Event::Accepted { conn, .. } => {
                self.conns.push(conn);
                self.fill(stack, conn);
            }
            Event::Writable { conn } => self.fill(stack, conn),
            _ => {}
        }
    }
}

/// Bottleneck rate, bits per second.
const RATE_BPS: u64 = 10_000_000;
/// One-way delay each way (RTT 20 ms plus queueing).
const DELAY_MS: u64 = 10;
/// Drop-tail queue: about twice the bandwidth-delay product (25 kB, 17
/// frames), so that the link stays busy through a halving.
const QUEUE: usize = 40;
/// Start-up left out of the measurement (slow start, the join).
const WARMUP_MS: u64 = 5_000;
/// The measurement window.
const MEASURE_MS: u64 = 60_000;

/// Runs both connections with the server's subflows on `cc`; returns
/// (MPTCP bytes, TCP bytes) received in the measurement window.
fn measure(cc: CongestionAlgorithm) -> (u64, u64) {
    let dir = DirectionConfig {
        rate_bps: Some(RATE_BPS),
        queue_packets: QUEUE,
        ..DirectionConfig::with_delay(DELAY_MS * MS)
    };
    let link = LinkConfig::symmetric(dir);
    let ccfg = StackConfig {
        congestion: cc,
        ..StackConfig::default()
    };
    let scfg = StackConfig {
        congestion: cc,
        ..server_config(ReplyTiming::Early)
    };
    // MPTFO_CC_SEED=n reruns with other keys, ISNs and ports.
    let seed = std::env::var("MPTFO_CC_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(7);
    let clock = Clock::virtual_at(1_000 * MS);
    let server = Server {
        pattern: vec![0x5a; 16 * 1024],
        conns: Vec::new(),
    };
    let mut p = Pair::with_apps(
        "coupled_cc",
        clock,
        ccfg,
        scfg,
        link,
        seed,
        Client::default(),
        server,
    );
    p.stop_recording();
    p.run_ms(WARMUP_MS);
    let c = &p.client.app;
    assert!(c.join_error.is_none(), "join refused: {:?}", c.join_error);
    let mp = c.mp.expect("MPTCP connection");
    let subflows = p.client.stack.subflow_stats(mp);
    assert_eq!(subflows.len(), 2, "two subflows: {subflows:?}");
    assert!(subflows[1].join, "{subflows:?}");
    assert_eq!(
        p.client
            .stack
            .subflow_stats(c.tcp.expect("TCP connection"))
            .len(),
        1
    );
    let (mp0, tcp0) = (c.mp_bytes, c.tcp_bytes);
    p.run_ms(MEASURE_MS);
    let c = &p.client.app;
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let subflows = p.client.stack.subflow_stats(mp);
    assert!(
        subflows.iter().all(|s| s.bytes_received > 1_000_000),
        "both subflows carried data: {subflows:?}"
    );
    let (mp_b, tcp_b) = (c.mp_bytes - mp0, c.tcp_bytes - tcp0);
    let secs = MEASURE_MS as f64 / 1e3;
    let util = (mp_b + tcp_b) as f64 * 8.0 / secs / RATE_BPS as f64;
    eprintln!(
        "{cc:?}: MPTCP (2 subflows) {:.2} Mbit/s, TCP {:.2} Mbit/s, ratio {:.3}; payload {:.0} % of the link rate",
        mp_b as f64 * 8.0 / secs / 1e6,
        tcp_b as f64 * 8.0 / secs / 1e6,
        mp_b as f64 / tcp_b as f64,
        util * 100.0
    );
    // The bottleneck is used (payload is ~95 % of frame bytes).
    assert!(util > 0.85, "link utilisation {util:.3}");
    (mp_b, tcp_b)
}

/// RFC 6356 goal 2 with LIA. Two coupled subflows together increase like
/// one Reno flow (alpha = 1/2 with equal windows and RTTs: each grows by
/// MSS/4 per RTT) and each halves on its own losses, so the pair should
/// share the bottleneck about equally with the TCP flow. The tolerance of
/// 1.3 allows for the drop-tail losses not falling evenly (a flow that
/// loses less often keeps a larger window for a while) and for the
/// integer accounting of the increase; goal 2 itself is "no more than a
/// single TCP flow on the best path", i.e. 1.0 in expectation.
#[test]
fn lia_takes_no_more_than_a_tcp_flow() {
    let (mp, tcp) = measure(CongestionAlgorithm::Lia);
    let ratio = mp as f64 / tcp as f64;
    assert!(ratio <= 1.3, "LIA MPTCP/TCP throughput ratio {ratio:.3}");
    // ... and does not starve either (goal 1 asks for at least what TCP
    // gets on the best path; equal paths here).
    assert!(ratio >= 0.6, "LIA MPTCP/TCP throughput ratio {ratio:.3}");
}

/// The control: uncoupled subflows are two TCP flows against one.
#[test]
fn uncoupled_subflows_take_more() {
    for cc in [CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic] {
        let (mp, tcp) = measure(cc);
        let ratio = mp as f64 / tcp as f64;
        assert!(ratio >= 1.5, "{cc:?} MPTCP/TCP throughput ratio {ratio:.3}");
    }
}
