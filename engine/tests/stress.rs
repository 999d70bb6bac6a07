//! Many short MPTCP + TFO transactions over a bad link: 2% loss each way,
//! jitter (reordering), duplication and explicit reordering, seeded. Each
//! transaction opens a connection with a 64-byte request (in the SYN once a
//! cookie is cached), gets a 64-byte reply and closes. Every request and
//! reply is checked byte for byte at the receiving application: nothing
//! lost, duplicated or reordered, and every connection closes gracefully on
//! both ends.

mod common;

use std::collections::HashMap;
use std::time::Instant as WallClock;

use common::*;
use mptfo_engine::config::{ReplyTiming, StackConfig};
use mptfo_engine::stack::{CloseReason, ConnId, ConnectOptions, Event, Stack};
use mptfo_engine::time::Instant;
use mptfo_engine::worker::App;
use mptfo_nic::{Buf, Clock, DirectionConfig, LinkConfig, MemBuf};

const LEN: usize = 64;

/// The request of transaction `i`: its index, then bytes derived from it.
fn request_of(i: u64) -> Vec<u8> {
    let mut v = i.to_le_bytes().to_vec();
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while v.len() < LEN {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(x as u8);
    }
    v
}

/// The reply to a request, `len` bytes: the request reversed and
/// scrambled, repeated with a position-dependent pattern, so that a reply
/// (or a piece of one) cannot pass for another transaction's or another
/// offset's.
fn reply_to(req: &[u8], len: usize) -> Vec<u8> {
    let base: Vec<u8> = req
        .iter()
        .rev()
        .enumerate()
        .map(|(k, b)| b ^ (k as u8).wrapping_mul(31) ^ 0x5a)
        .collect();
    (0..len)
        .map(|k| base[k % LEN] ^ ((k / LEN) as u8).wrapping_mul(7))
        .collect()
}

#[derive(Default)]
struct Txn {
    index: u64,
    got: Vec<u8>,
    closed: Option<CloseReason>,
}

/// Opens transactions up to `concurrency` at a time, checks each reply,
/// closes after it.
struct Client {
    reply_len: usize,
    failed: Vec<u64>,
    total: u64,
    concurrency: usize,
    started: u64,
    open: HashMap<ConnId, Txn>,
    done: u64,
    errors: Vec<String>,
}

impl App<Recorder> for Client {
    fn on_event(&mut self, stack: &mut Stack<MemBuf>, event: Event<MemBuf>) {
        match event {
            Event::Connected { .. } | Event::Accepted { .. } | Event::Writable { .. } => {}
            Event::Data { conn, data } => {
                let Some(t) = self.open.get_mut(&conn) else {
                    self.errors
                        .push(format!("data on unknown connection {conn:?}"));
                    return;
                };
                t.got.extend_from_slice(data.data());
                if t.got.len() > self.reply_len {
                    self.errors
                        .push(format!("txn {}: {} reply bytes", t.index, t.got.len()));
                    self.failed.push(t.index);
                } else if t.got.len() == self.reply_len {
                    if t.got != reply_to(&request_of(t.index), self.reply_len) {
                        self.errors
                            .push(format!("txn {}: wrong reply {:?}", t.index, t.got));
                        self.failed.push(t.index);
                    }
                    let _ = stack.close(conn);
                }
            }
            Event::PeerClosed { conn } => {
                if let Some(t) = self.open.get(&conn) {
                    if t.got.len() != self.reply_len {
                        self.errors.push(format!(
                            "txn {}: peer closed after {} bytes",
                            t.index,
                            t.got.len()
                        ));
                        self.failed.push(t.index);
                    }
                }
                let _ = stack.close(conn);
            }
            Event::Closed { conn, reason } => match self.open.remove(&conn) {
                Some(mut t) => {
                    t.closed = Some(reason);
                    if reason != CloseReason::Graceful || t.got.len() != self.reply_len {
                        self.errors.push(format!(
                            "txn {}: closed {reason:?} with {} bytes",
                            t.index,
                            t.got.len()
                        ));
                        self.failed.push(t.index);
                    }
                    self.done += 1;
                }
                None => self
                    .errors
                    .push(format!("close of unknown connection {conn:?}")),
            },
        }
    }

    fn on_poll(&mut self, stack: &mut Stack<MemBuf>, _now: Instant) {
        while self.open.len() < self.concurrency && self.started < self.total {
            let i = self.started;
            match stack.connect(server_addr(), &request_of(i), ConnectOptions::default()) {
                Ok(c) => {
                    self.open.insert(
                        c,
                        Txn {
                            index: i,
                            ..Txn::default()
                        },
                    );
                    self.started += 1;
                }
                Err(e) => {
                    self.errors.push(format!("connect {i}: {e}"));
                    break;
                }
            }
        }
    }
}

/// Answers each 64-byte request once and closes.
struct Server {
    reply_len: usize,
    failed: Vec<u64>,
    got: HashMap<ConnId, Vec<u8>>,
    served: HashMap<u64, u32>,
    closed: u64,
    errors: Vec<String>,
}

impl App<Recorder> for Server {
    fn on_event(&mut self, stack: &mut Stack<MemBuf>, event: Event<MemBuf>) {
        match event {
            Event::Accepted { conn, .. } => {
                if self.got.insert(conn, Vec::new()).is_some() {
                    self.errors.push(format!("accepted twice: {conn:?}"));
                }
            }
            Event::Data { conn, data } => {
                let Some(buf) = self.got.get_mut(&conn) else {
                    self.errors.push(format!("data before accept on {conn:?}"));
                    return;
                };
                buf.extend_from_slice(data.data());
                if buf.len() > LEN {
                    self.errors
                        .push(format!("{conn:?}: {} request bytes", buf.len()));
                } else if buf.len() == LEN {
                    let i = u64::from_le_bytes(buf[..8].try_into().unwrap());
                    if *buf != request_of(i) {
                        self.errors
                            .push(format!("{conn:?}: corrupt request {buf:?}"));
                        return;
                    }
                    *self.served.entry(i).or_insert(0) += 1;
                    let r = reply_to(buf, self.reply_len);
                    match stack.send(conn, &r) {
                        Ok(n) if n == r.len() => {}
                        other => self.errors.push(format!("reply {i}: {other:?}")),
                    }
                    let _ = stack.close(conn);
                }
            }
            Event::PeerClosed { conn } => {
                let _ = stack.close(conn);
            }
            Event::Closed { conn, reason } => {
                let buf = self.got.remove(&conn).unwrap_or_default();
                let n = buf.len();
                if reason != CloseReason::Graceful || n != LEN {
                    let i = (n >= 8).then(|| u64::from_le_bytes(buf[..8].try_into().unwrap()));
                    self.errors.push(format!(
                        "txn {i:?} (server {conn:?}): closed {reason:?} after {n} bytes"
                    ));
                    self.failed.extend(i);
                }
                self.closed += 1;
            }
            Event::Connected { .. } | Event::Writable { .. } => {}
        }
    }
}

/// The segments of transaction `i`: those of the client port that carried
/// its request.
fn txn_listing(pkts: &[Pkt], i: u64) -> String {
    let key = i.to_le_bytes();
    let Some(port) = pkts
        .iter()
        .find(|x| x.from == Side::Client && x.payload.len() == LEN && x.payload[..8] == key)
        .map(|x| x.src_port)
    else {
        return "(request never sent)".into();
    };
    let mine: Vec<Pkt> = pkts
        .iter()
        .filter(|x| x.src_port == port || x.dst_port == port)
        .cloned()
        .collect();
    format!("client port {port}\n{}", listing(&mine))
}

fn run(name: &str, total: u64, concurrency: usize, timing: ReplyTiming, seed: u64) {
    run_with(name, total, concurrency, LEN, timing, seed)
}

fn run_with(
    name: &str,
    total: u64,
    concurrency: usize,
    reply_len: usize,
    timing: ReplyTiming,
    seed: u64,
) {
    // MPTFO_STRESS_SEED=n reruns with another fault pattern.
    let seed = std::env::var("MPTFO_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(seed, |s| seed ^ s);
    let wall = WallClock::now();
    let bad = DirectionConfig {
        delay_ns: 5 * MS,
        jitter_ns: 4 * MS,
        loss: 0.02,
        duplicate: 0.01,
        reorder: 0.01,
        reorder_delay_ns: 3 * MS,
        ..DirectionConfig::default()
    };
    let link = LinkConfig::symmetric(bad);
    let mut ccfg = StackConfig {
        time_wait: core::time::Duration::from_secs(1),
        ..StackConfig::default()
    };
    ccfg.tfo_client.negative_cache = core::time::Duration::from_millis(50);
    let mut scfg = server_config(timing);
    scfg.time_wait = core::time::Duration::from_secs(1);
    let clock = Clock::virtual_at(1_000 * MS);
    let client = Client {
        reply_len,
        failed: Vec::new(),
        total,
        concurrency,
        started: 0,
        open: HashMap::new(),
        done: 0,
        errors: Vec::new(),
    };
    let server = Server {
        reply_len,
        failed: Vec::new(),
        got: HashMap::new(),
        served: HashMap::new(),
        closed: 0,
        errors: Vec::new(),
    };
    let mut p = Pair::with_apps(name, clock, ccfg, scfg, link, seed, client, server);
    if std::env::var_os("MPTFO_STRESS_FAST").is_some() {
        p.stop_recording();
    }
    let finished = p.run_until(3_600_000, |p| {
        (p.client.app.done == total && p.server.app.closed == total)
            || !p.client.app.errors.is_empty()
            || !p.server.app.errors.is_empty()
    });
    let virt = (p.clock.now() - 1_000 * MS) / MS;
    let c = &p.client.app;
    let s = &p.server.app;
    for &i in c.failed.iter().chain(&s.failed).take(3) {
        eprintln!("transaction {i}:\n{}", txn_listing(&p.packets(), i));
        if let Some((conn, t)) = c.open.iter().find(|(_, t)| t.index == i) {
            eprintln!(
                "client side: {} bytes, TCP {:?}, MPTCP {:?}",
                t.got.len(),
                p.client.stack.tcp_state(*conn),
                p.client.stack.mptcp_mode(*conn)
            );
        }
    }
    assert!(
        c.errors.is_empty(),
        "client errors: {:#?}",
        &c.errors[..c.errors.len().min(20)]
    );
    assert!(
        s.errors.is_empty(),
        "server errors: {:#?}",
        &s.errors[..s.errors.len().min(20)]
    );
    assert!(
        finished,
        "after {virt} ms virtual: client done {} of {total} (open: {:?}), server closed {}",
        c.done,
        c.open
            .values()
            .map(|t| (t.index, t.got.len()))
            .collect::<Vec<_>>(),
        s.closed
    );
    assert_eq!(s.served.len() as u64, total, "every request served");
    assert!(s.served.values().all(|&n| n == 1), "a request served twice");
    // Everything is released once TIME_WAIT is over.
    p.run_ms(5_000);
    assert_eq!(p.client.stack.connection_count(), 0);
    assert_eq!(p.server.stack.connection_count(), 0);
    assert_eq!(p.client.stack.subflow_count(), 0);
    assert_eq!(p.server.stack.subflow_count(), 0);
    assert_eq!(p.server.stack.tfo_pending(), 0);
    let cc = p.client.stack.counters();
    let sc = p.server.stack.counters();
    let lost = p.control.stats(mptfo_nic::Direction::AToB).lost
        + p.control.stats(mptfo_nic::Direction::BToA).lost;
    eprintln!(
        "{name}: {total} transactions in {virt} ms virtual, {:.2} s wall; frames lost {lost}; \
         TFO active {} / fail {}, passive {}; retrans client {} server {}; fallbacks {}",
        wall.elapsed().as_secs_f64(),
        cc.tcp_ext_tcp_fast_open_active,
        cc.tcp_ext_tcp_fast_open_active_fail,
        sc.tcp_ext_tcp_fast_open_passive,
        cc.tcp_retrans_segs,
        sc.tcp_retrans_segs,
        cc.mptcp_mp_capable_fallback_synack
            + sc.mptcp_mp_capable_fallback_ack
            + cc.mptcp_mp_capable_data_fallback,
    );
    if std::env::var_os("MPTFO_DEBUG_FALLBACK").is_some() {
        let pk = p.packets();
        let ports: Vec<u16> = pk
            .iter()
            .filter(|x| x.from == Side::Server && x.fin() && x.mptcp().is_none())
            .map(|x| x.dst_port)
            .take(3)
            .collect();
        for port in ports {
            let mine: Vec<Pkt> = pk
                .iter()
                .filter(|x| x.src_port == port || x.dst_port == port)
                .cloned()
                .collect();
            eprintln!("fallback on port {port}:\n{}", listing(&mine));
        }
    }
    assert!(
        cc.tcp_ext_tcp_fast_open_active > total / 2,
        "most transactions used TFO"
    );
    assert!(lost > 0, "the link lost frames");
}

/// The headline run: 10,000 transactions, 32 at a time, `hold` replies.
#[test]
fn ten_thousand_transactions_on_a_lossy_link() {
    run("stress_hold", 10_000, 32, ReplyTiming::Hold, 0x5eed8);
}

/// Bulk replies (200 kB, some 140 segments each) through the same faults:
/// slow start, fast retransmit and the reorder queues at work.
#[test]
fn bulk_replies_on_a_lossy_link() {
    run_with("stress_bulk", 40, 4, 200_000, ReplyTiming::Hold, 0xb01c);
}

/// A shorter run with `early` replies (data before the third ACK).
#[test]
fn early_replies_on_a_lossy_link() {
    run("stress_early", 2_000, 16, ReplyTiming::Early, 0xea518);
}
