//! Scenario harness: a client stack and a server stack joined by the
//! in-memory link, driven in virtual time. Every frame either side sends is
//! recorded (time, sender, bytes) so scenarios can assert packet by packet;
//! when a scenario fails, the trace is written as a pcap under
//! `target/scenario-pcaps/` and the path printed.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;

use mptfo_engine::config::StackConfig;
use mptfo_engine::stack::{CloseReason, ConnId, Event, Interface, Stack};
use mptfo_engine::time::Instant;
use mptfo_engine::worker::{App, Worker};
use mptfo_nic::{Buf, Clock, LinkConfig, LinkControl, MemBuf, MemLink, MemPort, Port, PcapWriter};
use mptfo_proto::checksum::ChecksumCaps;
use mptfo_proto::options::{MptcpOption, SegmentOptions};
use mptfo_proto::wire::{classify, Classified, TcpFlags};
use mptfo_proto::SubflowSeq;

pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
pub const PORT: u16 = 8080;
pub const MS: u64 = 1_000_000;

pub fn server_addr() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(SERVER_IP), PORT)
}

/// Which end sent a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// One recorded frame.
#[derive(Clone)]
pub struct Record {
    pub t: u64,
    pub from: Side,
    pub bytes: Vec<u8>,
}

/// A recorded TCP segment, decoded for assertions.
#[derive(Debug, Clone)]
pub struct Pkt {
    pub t: u64,
    pub from: Side,
    pub flags: TcpFlags,
    pub seq: SubflowSeq,
    pub ack: Option<SubflowSeq>,
    pub payload: Vec<u8>,
    pub opts: SegmentOptions,
}

impl Pkt {
    pub fn syn(&self) -> bool {
        self.flags.contains(TcpFlags::SYN)
    }
    pub fn fin(&self) -> bool {
        self.flags.contains(TcpFlags::FIN)
    }
    pub fn rst(&self) -> bool {
        self.flags.contains(TcpFlags::RST)
    }
    pub fn mptcp(&self) -> Option<&MptcpOption> {
        self.opts.mptcp.as_ref()
    }
    pub fn is_ack_only(&self) -> bool {
        !self.syn() && !self.fin() && !self.rst() && self.payload.is_empty()
    }
}

/// A port that records every frame it transmits.
pub struct Recorder {
    inner: MemPort,
    side: Side,
    trace: Rc<RefCell<Vec<Record>>>,
}

impl Port for Recorder {
    type Buf = MemBuf;
    fn rx_burst(&mut self, out: &mut Vec<MemBuf>, max: usize) -> usize {
        self.inner.rx_burst(out, max)
    }
    fn tx_burst(&mut self, pkts: &mut Vec<MemBuf>) -> usize {
        let t = self.inner.clock().now();
        let mut trace = self.trace.borrow_mut();
        let n_before = pkts.len();
        let copies: Vec<Vec<u8>> = pkts.iter().map(|b| b.data().to_vec()).collect();
        let n = self.inner.tx_burst(pkts);
        debug_assert_eq!(n_before - pkts.len(), n);
        for bytes in copies.into_iter().take(n) {
            trace.push(Record {
                t,
                from: self.side,
                bytes,
            });
        }
        n
    }
    fn alloc(&mut self) -> Option<MemBuf> {
        self.inner.alloc()
    }
    fn caps(&self) -> mptfo_nic::PortCaps {
        self.inner.caps()
    }
    fn stats(&self) -> mptfo_nic::PortStats {
        self.inner.stats()
    }
}

/// What an application saw, for assertions.
#[derive(Default, Debug)]
pub struct Seen {
    pub accepted: Vec<ConnId>,
    pub connected: Vec<ConnId>,
    pub data: HashMap<ConnId, Vec<u8>>,
    /// Data received before the connection's handshake completed (TFO).
    pub events: Vec<(u64, String)>,
    pub peer_closed: Vec<ConnId>,
    pub closed: Vec<(ConnId, CloseReason)>,
}

/// A scripted application: logs everything; a server answers each
/// request of `request_len` bytes with `reply`, and closes after the reply
/// when `close_after_reply`; a client closes after `close_after_bytes`.
pub struct TestApp {
    pub seen: Seen,
    pub request_len: usize,
    pub reply: Vec<u8>,
    pub close_after_reply: bool,
    pub close_after_bytes: Option<usize>,
    pub close_on_peer_close: bool,
    replied: HashMap<ConnId, usize>,
    clock: Clock,
}

impl TestApp {
    pub fn new(clock: Clock) -> TestApp {
        TestApp {
            seen: Seen::default(),
            request_len: 0,
            reply: Vec::new(),
            close_after_reply: false,
            close_after_bytes: None,
            close_on_peer_close: true,
            replied: HashMap::new(),
            clock,
        }
    }
}

impl App<Recorder> for TestApp {
    fn on_event(&mut self, stack: &mut Stack<MemBuf>, event: Event<MemBuf>) {
        let t = self.clock.now();
        match event {
            Event::Accepted { conn, .. } => {
                self.seen.accepted.push(conn);
                self.seen.events.push((t, "accepted".into()));
            }
            Event::Connected { conn } => {
                self.seen.connected.push(conn);
                self.seen.events.push((t, "connected".into()));
            }
            Event::Data { conn, data } => {
                let state = stack.tcp_state(conn);
                self.seen
                    .events
                    .push((t, format!("data {} {:?}", data.len(), state)));
                let buf = self.seen.data.entry(conn).or_default();
                buf.extend_from_slice(data.data());
                let total = buf.len();
                if self.request_len > 0 && !self.reply.is_empty() {
                    let done = self.replied.entry(conn).or_insert(0);
                    while total >= (*done + 1) * self.request_len {
                        *done += 1;
                        let n = stack.send(conn, &self.reply).expect("send reply");
                        assert_eq!(n, self.reply.len());
                        if self.close_after_reply {
                            stack.close(conn).expect("close");
                        }
                    }
                }
                if self.close_after_bytes.is_some_and(|n| total >= n) {
                    let _ = stack.close(conn);
                }
            }
            Event::Writable { .. } => {}
            Event::PeerClosed { conn } => {
                self.seen.peer_closed.push(conn);
                self.seen.events.push((t, "peer_closed".into()));
                if self.close_on_peer_close {
                    let _ = stack.close(conn);
                }
            }
            Event::Closed { conn, reason } => {
                self.seen.closed.push((conn, reason));
                self.seen.events.push((t, format!("closed {reason:?}")));
            }
        }
    }
}

/// Two endpoints on the mem link.
pub struct Pair {
    pub name: String,
    pub clock: Clock,
    pub client: Worker<Recorder, TestApp>,
    pub server: Worker<Recorder, TestApp>,
    pub trace: Rc<RefCell<Vec<Record>>>,
    pub control: LinkControl,
}

pub fn iface(ip: Ipv4Addr, mac: [u8; 6], peer: [u8; 6], checksum: ChecksumCaps) -> Interface {
    Interface {
        mac,
        addrs: vec![IpAddr::V4(ip)],
        default_peer_mac: peer,
        checksum,
    }
}

impl Pair {
    /// A pair with the given configs; the link's one-way delay in ms.
    pub fn new(name: &str, client_cfg: StackConfig, server_cfg: StackConfig, link: LinkConfig, seed: u64) -> Pair {
        let clock = Clock::virtual_at(1_000 * MS);
        let (a, b) = MemLink::pair_with_clock(link.clone(), seed, clock.clone());
        let trace = Rc::new(RefCell::new(Vec::new()));
        let control = a.control();
        let now = Instant(clock.now());
        let cstack = Stack::new(
            client_cfg,
            vec![iface(CLIENT_IP, link.mac_a, link.mac_b, link.checksum)],
            0,
            1,
            seed ^ 0xc1,
            now,
        );
        let mut sstack = Stack::new(
            server_cfg,
            vec![iface(SERVER_IP, link.mac_b, link.mac_a, link.checksum)],
            0,
            1,
            seed ^ 0x5e,
            now,
        );
        sstack.listen(PORT);
        let client = Worker::new(
            cstack,
            vec![Recorder {
                inner: a,
                side: Side::Client,
                trace: trace.clone(),
            }],
            TestApp::new(clock.clone()),
        );
        let server = Worker::new(
            sstack,
            vec![Recorder {
                inner: b,
                side: Side::Server,
                trace: trace.clone(),
            }],
            TestApp::new(clock.clone()),
        );
        let mut pair = Pair {
            name: name.to_string(),
            clock,
            client,
            server,
            trace,
            control,
        };
        // Fill the stacks' buffer caches before the test's first call.
        pair.step();
        pair
    }

    pub fn now(&self) -> Instant {
        Instant(self.clock.now())
    }

    /// One iteration of both workers at the current time (repeated until
    /// nothing moves, so ping-pong at the same instant settles).
    pub fn step(&mut self) {
        for _ in 0..64 {
            let now = self.now();
            let before = self.trace.borrow().len();
            let n = self.client.poll(now) + self.server.poll(now);
            if n == 0 && self.trace.borrow().len() == before {
                break;
            }
        }
    }

    fn next_event(&mut self) -> Option<u64> {
        let mut t: Option<u64> = None;
        let mut consider = |x: Option<u64>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |y: u64| y.min(x)));
            }
        };
        consider(self.client.ports[0].inner.next_delivery_time());
        consider(self.server.ports[0].inner.next_delivery_time());
        consider(self.client.next_deadline().map(|d| d.0));
        consider(self.server.next_deadline().map(|d| d.0));
        t
    }

    /// Runs for `ms` milliseconds of virtual time.
    pub fn run_ms(&mut self, ms: u64) {
        let end = self.clock.now() + ms * MS;
        self.step();
        while let Some(t) = self.next_event() {
            if t > end {
                break;
            }
            self.clock.advance_to(t.max(self.clock.now()));
            self.step();
        }
        self.clock.advance_to(end);
        self.step();
    }

    /// Runs until `done` holds, at most `max_ms` of virtual time; returns
    /// whether it held.
    pub fn run_until(&mut self, max_ms: u64, mut done: impl FnMut(&Pair) -> bool) -> bool {
        let end = self.clock.now() + max_ms * MS;
        self.step();
        loop {
            if done(self) {
                return true;
            }
            match self.next_event() {
                Some(t) if t <= end => {
                    self.clock.advance_to(t.max(self.clock.now()));
                    self.step();
                }
                _ => return done(self),
            }
        }
    }

    /// Every recorded TCP segment, in order.
    pub fn packets(&self) -> Vec<Pkt> {
        self.trace
            .borrow()
            .iter()
            .filter_map(|r| match classify(&r.bytes, &ChecksumCaps::OFFLOADED) {
                Ok(Classified::Tcp(t)) => Some(Pkt {
                    t: r.t,
                    from: r.from,
                    flags: t.flags,
                    seq: t.seq,
                    ack: t.ack,
                    payload: t.payload.to_vec(),
                    opts: SegmentOptions::parse(t.options).expect("our own options parse"),
                }),
                _ => None,
            })
            .collect()
    }

    /// A one-line-per-segment listing, for failure messages.
    pub fn listing(&self) -> String {
        let t0 = self.trace.borrow().first().map_or(0, |r| r.t);
        let mut s = String::new();
        for p in self.packets() {
            s.push_str(&format!(
                "{:>9.3}ms {:?} {:<3} seq={} ack={:?} len={} mptcp={:?} tfo={:?}\n",
                (p.t - t0) as f64 / 1e6,
                p.from,
                format!("{}", p.flags),
                p.seq.0,
                p.ack.map(|a| a.0),
                p.payload.len(),
                p.opts.mptcp,
                p.opts.fast_open.map(|f| f.cookie().len()),
            ));
        }
        s
    }

    pub fn write_pcap(&self) -> std::path::PathBuf {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("scenario-pcaps");
        std::fs::create_dir_all(&dir).expect("pcap dir");
        let path = dir.join(format!("{}.pcap", self.name));
        let file = std::fs::File::create(&path).expect("pcap file");
        let mut w = PcapWriter::new(std::io::BufWriter::new(file)).expect("pcap header");
        for r in self.trace.borrow().iter() {
            w.write_packet(r.t, &r.bytes).expect("pcap write");
        }
        w.flush().expect("pcap flush");
        path
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        if std::env::var_os("MPTFO_TRACE").is_some() {
            eprintln!("scenario {}:\n{}", self.name, self.listing());
        }
        if std::thread::panicking() {
            let path = self.write_pcap();
            eprintln!("scenario {} failed; capture: {}\n{}", self.name, path.display(), self.listing());
        }
    }
}

/// Server config with a fixed TFO key; reply timing as given.
pub fn server_config(timing: mptfo_engine::config::ReplyTiming) -> StackConfig {
    let mut c = StackConfig::default();
    c.tfo_server.key = *b"0123456789abcdef";
    c.reply_timing = timing;
    c
}

/// A link with `delay_ms` one-way delay each way.
pub fn link(delay_ms: u64) -> LinkConfig {
    LinkConfig::symmetric(mptfo_nic::DirectionConfig::with_delay(delay_ms * MS))
}
