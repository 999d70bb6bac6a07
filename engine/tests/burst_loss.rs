//! Connection churn at the edge of the ephemeral port range, with bursts of
//! 1024 consecutive frames lost (a full ring's worth, as when a
//! shared-memory ring overflows). 4096 MPTCP + TFO transactions are kept
//! open at a time, each a 64-byte request answered early by 64 bytes, then
//! closed by the client; the client's TIME_WAIT is 1 s, so source ports come
//! back into use as soon as their TIME_WAIT ends, while the server may still
//! hold the old connection of the tuple (in TIME_WAIT after a simultaneous
//! close). Whatever a burst took (SYNs with data, third ACKs, replies,
//! DATA_FINs, FINs, last ACKs) must be recovered by the retransmission
//! timers, although the connections that lost it all time out together
//! (more at once than the stack has buffers cached): every connection
//! closes on both ends, none stays open with its FIN queued.

mod common;

use std::collections::HashMap;

use common::*;
use mptfo_engine::config::{ReplyTiming, StackConfig};
use mptfo_engine::stack::{CloseReason, ConnId, ConnectOptions, Event, Stack, StackError};
use mptfo_engine::time::Instant;
use mptfo_engine::worker::App;
use mptfo_nic::{Buf, DirectionConfig, LinkConfig, MemBuf};

const LEN: usize = 64;

/// Closed loop: keeps `concurrency` transactions open until `total` were
/// started; closes each connection once its reply is in.
struct Client {
    total: u64,
    concurrency: usize,
    started: u64,
    /// Connections open, with the reply bytes received so far.
    open: HashMap<ConnId, usize>,
    /// Connections closed, by reason.
    closed: HashMap<String, u64>,
    /// `connect` found no free source port (all in use or in TIME_WAIT).
    port_exhausted: u64,
    errors: Vec<String>,
}

impl App<Recorder> for Client {
    fn on_event(&mut self, stack: &mut Stack<MemBuf>, event: Event<MemBuf>) {
        match event {
            Event::Data { conn, data } => {
                let Some(got) = self.open.get_mut(&conn) else {
                    self.errors.push(format!("data on unknown {conn:?}"));
                    return;
                };
                *got += data.data().len();
                if *got == LEN {
                    let _ = stack.close(conn);
                } else if *got > LEN {
                    self.errors.push(format!("{conn:?}: {got} reply bytes"));
                }
            }
            Event::PeerClosed { conn } => {
                let _ = stack.close(conn);
            }
            Event::Closed { conn, reason } => {
                if self.open.remove(&conn).is_none() {
                    self.errors.push(format!("close of unknown {conn:?}"));
                }
                *self.closed.entry(format!("{reason:?}")).or_insert(0) += 1;
            }
            Event::Connected { .. } | Event::Accepted { .. } | Event::Writable { .. } => {}
        }
    }

    fn on_poll(&mut self, stack: &mut Stack<MemBuf>, _now: Instant) {
        while self.open.len() < self.concurrency && self.started < self.total {
            match stack.connect(server_addr(), &[0x42; LEN], ConnectOptions::default()) {
                Ok(c) => {
                    self.open.insert(c, 0);
                    self.started += 1;
                }
                Err(StackError::NoFreePort) => {
                    // Every port is open or in TIME_WAIT: try again later.
                    self.port_exhausted += 1;
                    break;
                }
                // The burst's buffers are used up: the next poll refills.
                Err(StackError::NoBuffer) => break,
                Err(e) => {
                    self.errors.push(format!("connect: {e}"));
                    break;
                }
            }
        }
    }
}

/// Answers each 64-byte request with 64 bytes; closes when the client did.
#[derive(Default)]
struct Server {
    got: HashMap<ConnId, usize>,
    closed: HashMap<String, u64>,
    errors: Vec<String>,
}

impl App<Recorder> for Server {
    fn on_event(&mut self, stack: &mut Stack<MemBuf>, event: Event<MemBuf>) {
        match event {
            Event::Accepted { conn, .. } => {
                self.got.insert(conn, 0);
            }
            Event::Data { conn, data } => {
                let Some(got) = self.got.get_mut(&conn) else {
                    self.errors.push(format!("data before accept on {conn:?}"));
                    return;
                };
                *got += data.data().len();
                if *got == LEN {
                    if !matches!(stack.send(conn, &[0x24; LEN]), Ok(LEN)) {
                        self.errors.push(format!("{conn:?}: reply not queued"));
                    }
                } else if *got > LEN {
                    self.errors.push(format!("{conn:?}: {got} request bytes"));
                }
            }
            Event::PeerClosed { conn } => {
                let _ = stack.close(conn);
            }
            Event::Closed { conn, reason } => {
                self.got.remove(&conn);
                *self.closed.entry(format!("{reason:?}")).or_insert(0) += 1;
            }
            Event::Connected { .. } | Event::Writable { .. } => {}
        }
    }
}

/// Drops the frames `n` (counted among those of one side) with
/// `n >= start` and `(n - start) % every < 1024`, sent in the first three
/// seconds of the run (while the load lasts; afterwards few frames are
/// sent, and bursts counted in frames would take every retransmission):
/// bursts of 1024 consecutive frames, `every` frames apart.
fn burst_filter(start: usize, every: usize) -> Filter {
    Box::new(move |p, _| {
        let load = p.t < 4_000 * MS;
        if load && p.n >= start && (p.n - start) % every < 1024 {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    })
}

fn run(name: &str, total: u64, seed: u64, filter: impl FnOnce(&mut Pair<Client, Server>)) {
    let wire = DirectionConfig {
        delay_ns: 20_000,
        ..DirectionConfig::default()
    };
    let link = LinkConfig {
        wire_slots: 1 << 16,
        pool_buffers: 1 << 20,
        ..LinkConfig::symmetric(wire)
    };
    // The client's TIME-WAIT is 1 s, the server's Linux's 60 s (a server
    // that ends a connection in TIME-WAIT, after a simultaneous close, keeps
    // the tuple that long).
    let ccfg = StackConfig {
        time_wait: core::time::Duration::from_secs(1),
        ..StackConfig::default()
    };
    let scfg = server_config(ReplyTiming::Early);
    let client = Client {
        total,
        concurrency: 4096,
        started: 0,
        open: HashMap::new(),
        closed: HashMap::new(),
        port_exhausted: 0,
        errors: Vec::new(),
    };
    let clock = mptfo_nic::Clock::virtual_at(1_000 * MS);
    let mut p = Pair::with_apps(
        name,
        clock,
        ccfg,
        scfg,
        link,
        seed,
        client,
        Server::default(),
    );
    p.stop_recording();
    filter(&mut p);
    let done = |p: &Pair<Client, Server>| {
        let c = &p.client.app;
        c.started == total && c.open.is_empty() && p.server.stack.connection_count() == 0
    };
    // The load takes a few seconds; whatever a burst took is retransmitted
    // within the next few RTOs (1 s, backed off).
    let start = p.clock.now();
    let finished = p.run_until(20_000, done);
    let virt_ms = (p.clock.now() - start) / MS;
    let c = &p.client.app;
    let s = &p.server.app;
    let stuck: Vec<String> = c
        .open
        .keys()
        .take(3)
        .map(|&k| {
            format!(
                "{:?} {:?} {}",
                p.client.stack.tcp_state(k),
                p.client.stack.mptcp_mode(k),
                p.client.stack.describe(k)
            )
        })
        .collect();
    let server_stuck: Vec<String> = s
        .got
        .keys()
        .take(3)
        .map(|&k| {
            format!(
                "{:?} {}",
                p.server.stack.tcp_state(k),
                p.server.stack.describe(k)
            )
        })
        .collect();
    assert!(
        c.errors.is_empty(),
        "client errors: {:?}",
        &c.errors[..c.errors.len().min(10)]
    );
    assert!(
        s.errors.is_empty(),
        "server errors: {:?}",
        &s.errors[..s.errors.len().min(10)]
    );
    assert!(
        finished,
        "{name}: after {virt_ms} ms virtual, started {} of {total}; client: {} open, closed {:?}; server: {} open, \
         closed {:?}\nclient stuck: {stuck:#?}\nserver stuck: {server_stuck:#?}",
        c.started,
        c.open.len(),
        c.closed,
        p.server.stack.connection_count(),
        s.closed,
    );
    let cc = p.client.stack.counters();
    let sc = p.server.stack.counters();
    eprintln!(
        "{name}: {total} connections in {virt_ms} ms virtual, port exhausted {} times; \
         client closed {:?}, server closed {:?}; retrans client {} server {}",
        c.port_exhausted, c.closed, s.closed, cc.tcp_retrans_segs, sc.tcp_retrans_segs
    );
    assert!(c.port_exhausted > 0, "the run reused source ports");
    assert_eq!(
        c.closed
            .get(&format!("{:?}", CloseReason::Graceful))
            .copied()
            .unwrap_or(0),
        total,
        "every connection closed gracefully on the client"
    );
    assert_eq!(
        s.closed
            .get(&format!("{:?}", CloseReason::Graceful))
            .copied()
            .unwrap_or(0),
        total,
        "every connection closed gracefully on the server"
    );
    // Everything is released once TIME_WAIT is over.
    p.run_ms(61_000);
    assert_eq!(p.client.stack.connection_count(), 0);
    assert_eq!(p.client.stack.subflow_count(), 0);
    assert_eq!(p.server.stack.subflow_count(), 0);
}

/// Bursts of 1024 lost client frames, every 30,000 frames, while source
/// ports are reused.
#[test]
fn client_burst_losses_under_port_reuse() {
    run("burst_client", 100_000, 0xb0b5, |p| {
        p.filter_client(burst_filter(20_000, 30_000))
    });
}

/// The same churn without loss: port reuse alone.
#[test]
fn port_reuse_without_loss() {
    run("reuse_clean", 40_000, 0xc1ea, |_| {});
}

/// The server closed first and holds the tuple in TIME-WAIT (60 s); the
/// client, whose side of the old connection is long gone, opens a new one
/// from the same port. Whatever the new SYN's sequence number (seeds give
/// both cases), the connection is up within about one RTO, not after the
/// server's TIME-WAIT: a SYN beyond the old connection reopens the tuple
/// (RFC 6191), any other is answered by an ACK that the client's SYN-SENT
/// answers with a RST, which ends the TIME-WAIT before the SYN's
/// retransmission.
#[test]
fn syn_reuses_a_tuple_in_server_time_wait() {
    for seed in 0..8u64 {
        let mut p = Pair::new(
            "tw_reuse",
            StackConfig::default(),
            server_config(ReplyTiming::Early),
            link(1),
            0x7a17 + seed,
        );
        p.server.app.request_len = 64;
        p.server.app.reply = reply();
        p.server.app.close_after_reply = true;
        let port = 40_000 + seed as u16;
        let opts = ConnectOptions {
            local_port: Some(port),
            ..ConnectOptions::default()
        };
        let c = p
            .client
            .stack
            .connect(server_addr(), &request(), opts)
            .unwrap();
        assert!(p.run_until(5_000, |p| both_closed(p, 1)));
        assert_eq!(p.client.app.seen.closed[0], (c, CloseReason::Graceful));
        assert_eq!(p.server.app.seen.closed[0].1, CloseReason::Graceful);
        // The server closed first: its subflow waits in TIME-WAIT.
        assert_eq!(p.server.stack.subflow_count(), 1, "server in TIME-WAIT");
        assert_eq!(p.client.stack.subflow_count(), 0);
        p.run_ms(100);
        let start = p.now();
        let c2 = p
            .client
            .stack
            .connect(server_addr(), &request(), opts)
            .unwrap();
        assert!(
            p.run_until(3_000, |p| p.client.app.seen.data.contains_key(&c2)),
            "seed {seed}: no reply within 3 s on the reused tuple:\n{}",
            p.listing()
        );
        let waited = (p.now().0 - start.0) / MS;
        assert!(waited < 1_500, "seed {seed}: reply after {waited} ms");
        assert!(p.run_until(5_000, |p| both_closed(p, 2)));
        assert_eq!(p.client.app.seen.closed[1], (c2, CloseReason::Graceful));
        assert_eq!(p.server.app.seen.closed[1].1, CloseReason::Graceful);
    }
}

/// Bursts both ways: 1024 client frames every 30,000, 1024 server frames
/// every 25,000 (the server's replies overflowing the client's ring).
#[test]
fn burst_losses_both_ways() {
    run("burst_both", 100_000, 0xb07b, |p| {
        p.filter_client(burst_filter(20_000, 30_000));
        p.filter_server(burst_filter(15_000, 25_000));
    });
}
