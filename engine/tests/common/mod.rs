//! Scenario harness: a client stack and a server stack joined by the
//! in-memory link, driven in virtual time. Every frame either side sends is
//! recorded (time, sender, bytes) so scenarios can assert packet by packet;
//! when a scenario fails, the trace is written as a pcap under
//! `target/tmp/scenario-pcaps/` and the path printed (with a listing;
//! `MPTFO_TRACE=1` prints the listing always).
//!
//! - [`Pair`]: two workers with scripted [`TestApp`]s (or any apps, see
//!   [`Pair::with_apps`]); [`Pair::filter_client`]/[`Pair::filter_server`]
//!   install a deterministic [`Filter`] on a side's transmit path that can
//!   drop ([`drop_first`]) or rewrite ([`set_ack_number`], [`strip_mptcp`])
//!   frames; the link's own random faults are set with `pair.control`.
//! - [`Solo`]: one stack driven directly, the test playing the peer with
//!   frames built by [`build_frame`] from mptfo_proto's emitters.
//! - Checks shared by the scenario files: [`assert_no_rst`],
//!   [`signalling_dupack_run`], [`idsn`], [`mpc`], [`dss`].

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::rc::Rc;

use mptfo_engine::config::StackConfig;
use mptfo_engine::stack::{CloseReason, ConnId, Event, Interface, Stack};
use mptfo_engine::time::Instant;
use mptfo_engine::worker::{App, Worker};
use mptfo_nic::{
    Buf, Clock, LinkConfig, LinkControl, MemBuf, MemLink, MemPool, MemPort, PcapWriter, Port,
};
use mptfo_proto::checksum::ChecksumCaps;
use mptfo_proto::crypto::MptcpKey;
use mptfo_proto::options::{Dss, MpCapable, MptcpOption, OptionBlock, SegmentOptions};
use mptfo_proto::wire::{
    classify, Classified, EtherType, EthernetAddress, EthernetFrame, EthernetRepr, IpProtocol,
    Ipv4Packet, Ipv4Repr, TcpFlags, TcpPacket, TcpRepr,
};
use mptfo_proto::DataSeq;
use mptfo_proto::SubflowSeq;

pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
/// Second path (two-path pairs): the client's and server's second
/// interfaces, on their own link.
pub const CLIENT_IP2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
pub const SERVER_IP2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
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

/// One recorded frame (after any rewrite by a filter).
#[derive(Clone)]
pub struct Record {
    pub t: u64,
    pub from: Side,
    pub bytes: Vec<u8>,
    /// Index of the frame among those its side sent (0-based).
    pub n: usize,
    /// A filter dropped it: the stack sent it, the peer never saw it.
    pub dropped: bool,
}

/// What a filter does with a frame the stack sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it (possibly rewritten).
    Pass,
    /// Drop it before it reaches the link.
    Drop,
}

/// A test hook on one side's transmit path: sees each frame decoded, may
/// rewrite its bytes (checksums are filled by the link's offload) or drop
/// it. Deterministic, unlike the link's random loss.
pub type Filter = Box<dyn FnMut(&Pkt, &mut Vec<u8>) -> Verdict>;

/// Drops the first `count` frames for which `pred` holds.
pub fn drop_first(count: usize, pred: impl Fn(&Pkt) -> bool + 'static) -> Filter {
    let mut left = count;
    Box::new(move |p, _| {
        if left > 0 && pred(p) {
            left -= 1;
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    })
}

/// Drops every frame for which `pred` holds.
pub fn drop_all(pred: impl Fn(&Pkt) -> bool + 'static) -> Filter {
    Box::new(move |p, _| {
        if pred(p) {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    })
}

/// Offset of the TCP header in one of our frames (Ethernet + IPv4, no IP
/// options).
fn tcp_offset(bytes: &[u8]) -> usize {
    match classify(bytes, &ChecksumCaps::OFFLOADED) {
        Ok(Classified::Tcp(t)) => t.l4_offset,
        other => panic!("not a TCP frame: {other:?}"),
    }
}

/// Rewrites the acknowledgment number of a TCP frame.
pub fn set_ack_number(bytes: &mut [u8], ack: SubflowSeq) {
    let off = tcp_offset(bytes);
    bytes[off + 8..off + 12].copy_from_slice(&ack.0.to_be_bytes());
}

/// Replaces every MPTCP option (kind 30) of a TCP frame with NOPs, as an
/// option-stripping middlebox does (lengths stay, so nothing else moves).
pub fn strip_mptcp(bytes: &mut [u8]) {
    let off = tcp_offset(bytes);
    let hlen = ((bytes[off + 12] >> 4) as usize) * 4;
    let mut i = off + 20;
    let end = off + hlen;
    while i < end {
        match bytes[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let len = bytes[i + 1] as usize;
                if len < 2 {
                    break;
                }
                if kind == 30 {
                    bytes[i..i + len].fill(1);
                }
                i += len;
            }
        }
    }
}

/// The offset and length of the MP_JOIN option (MPTCP subtype 1) of a
/// TCP frame, if it has one.
fn find_mp_join(bytes: &[u8]) -> Option<(usize, usize)> {
    let off = tcp_offset(bytes);
    let hlen = ((bytes[off + 12] >> 4) as usize) * 4;
    let mut i = off + 20;
    let end = off + hlen;
    while i + 1 < end {
        match bytes[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let len = bytes[i + 1] as usize;
                if len < 2 {
                    break;
                }
                if kind == 30 && len > 2 && bytes[i + 2] >> 4 == 1 {
                    return Some((i, len));
                }
                i += len;
            }
        }
    }
    None
}

/// Changes the token of an MP_JOIN SYN.
pub fn flip_join_token(bytes: &mut [u8]) {
    if let Some((i, 12)) = find_mp_join(bytes) {
        bytes[i + 4] ^= 0xff;
    }
}

/// Changes the HMAC of an MP_JOIN SYN/ACK (truncated HMAC) or third ACK
/// (160-bit HMAC).
pub fn corrupt_join_hmac(bytes: &mut [u8]) {
    if let Some((i, 16 | 24)) = find_mp_join(bytes) {
        bytes[i + 4] ^= 0xff;
    }
}

/// A recorded TCP segment, decoded for assertions.
#[derive(Debug, Clone)]
pub struct Pkt {
    pub t: u64,
    pub from: Side,
    /// Index of the frame among those its side sent.
    pub n: usize,
    /// Dropped by a filter (never reached the peer).
    pub dropped: bool,
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub flags: TcpFlags,
    pub seq: SubflowSeq,
    pub ack: Option<SubflowSeq>,
    pub window: u16,
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
    pub fn is_synack(&self) -> bool {
        self.syn() && self.ack.is_some()
    }
    pub fn mpc(&self) -> Option<MpCapable> {
        match self.mptcp() {
            Some(MptcpOption::MpCapable(m)) => Some(*m),
            _ => None,
        }
    }
    pub fn dss(&self) -> Option<Dss> {
        match self.mptcp() {
            Some(MptcpOption::Dss(d)) => Some(*d),
            _ => None,
        }
    }

    /// Decodes one frame; `None` for non-TCP frames.
    pub fn decode(t: u64, from: Side, n: usize, dropped: bool, bytes: &[u8]) -> Option<Pkt> {
        match classify(bytes, &ChecksumCaps::OFFLOADED) {
            Ok(Classified::Tcp(t2)) => Some(Pkt {
                t,
                from,
                n,
                dropped,
                src_ip: t2.src_addr,
                dst_ip: t2.dst_addr,
                src_port: t2.src_port,
                dst_port: t2.dst_port,
                flags: t2.flags,
                seq: t2.seq,
                ack: t2.ack,
                window: t2.window,
                payload: t2.payload.to_vec(),
                opts: SegmentOptions::parse(t2.options).expect("our own options parse"),
            }),
            _ => None,
        }
    }
}

/// A port that records every frame it transmits, after passing it through
/// an optional filter.
pub struct Recorder {
    pub inner: MemPort,
    side: Side,
    trace: Rc<RefCell<Vec<Record>>>,
    /// Record frames (stress runs turn it off).
    pub record: bool,
    /// Hook on the transmit path.
    pub filter: Option<Filter>,
    sent: usize,
}

impl Port for Recorder {
    type Buf = MemBuf;
    fn rx_burst(&mut self, out: &mut Vec<MemBuf>, max: usize) -> usize {
        self.inner.rx_burst(out, max)
    }
    fn tx_burst(&mut self, pkts: &mut Vec<MemBuf>) -> usize {
        if self.filter.is_none() && !self.record {
            return self.inner.tx_burst(pkts);
        }
        let t = self.inner.clock().now();
        let mut out = Vec::with_capacity(pkts.len());
        let n = pkts.len();
        for buf in pkts.drain(..) {
            let n = self.sent;
            self.sent += 1;
            let mut bytes = buf.data().to_vec();
            let mut verdict = Verdict::Pass;
            let mut buf = buf;
            if let Some(f) = self.filter.as_mut() {
                if let Some(p) = Pkt::decode(t, self.side, n, false, &bytes) {
                    let before = bytes.clone();
                    verdict = f(&p, &mut bytes);
                    if verdict == Verdict::Pass && bytes != before {
                        let mut nb = self.inner.alloc().expect("buffer for a rewritten frame");
                        assert!(nb.append_slice(&bytes));
                        nb.set_tx_offload(buf.tx_offload());
                        buf = nb;
                    }
                }
            }
            if self.record {
                self.trace.borrow_mut().push(Record {
                    t,
                    from: self.side,
                    bytes,
                    n,
                    dropped: verdict == Verdict::Drop,
                });
            }
            if verdict == Verdict::Pass {
                out.push(buf);
            }
        }
        let want = out.len();
        let sent = self.inner.tx_burst(&mut out);
        assert_eq!(sent, want, "link wire full");
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
pub struct Pair<CA: App<Recorder> = TestApp, SA: App<Recorder> = TestApp> {
    pub name: String,
    pub clock: Clock,
    pub client: Worker<Recorder, CA>,
    pub server: Worker<Recorder, SA>,
    pub trace: Rc<RefCell<Vec<Record>>>,
    pub control: LinkControl,
    /// Every link's control, by path (`controls[0]` is `control`).
    pub controls: Vec<LinkControl>,
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
    /// A two-path pair of scripted [`TestApp`]s (see
    /// [`Pair::two_paths_with_apps`]).
    pub fn two_paths(
        name: &str,
        client_cfg: StackConfig,
        server_cfg: StackConfig,
        link1: LinkConfig,
        link2: LinkConfig,
        seed: u64,
    ) -> Pair {
        let clock = Clock::virtual_at(1_000 * MS);
        let (ca, sa) = (TestApp::new(clock.clone()), TestApp::new(clock.clone()));
        Pair::two_paths_with_apps(
            name, clock, client_cfg, server_cfg, link1, link2, seed, ca, sa,
        )
    }

    /// A pair of scripted [`TestApp`]s with the given configs.
    pub fn new(
        name: &str,
        client_cfg: StackConfig,
        server_cfg: StackConfig,
        link: LinkConfig,
        seed: u64,
    ) -> Pair {
        let clock = Clock::virtual_at(1_000 * MS);
        let (ca, sa) = (TestApp::new(clock.clone()), TestApp::new(clock.clone()));
        Pair::with_apps(name, clock, client_cfg, server_cfg, link, seed, ca, sa)
    }
}

impl<CA: App<Recorder>, SA: App<Recorder>> Pair<CA, SA> {
    /// A pair with the given applications, on `clock` (virtual).
    #[allow(clippy::too_many_arguments)]
    pub fn with_apps(
        name: &str,
        clock: Clock,
        client_cfg: StackConfig,
        server_cfg: StackConfig,
        link: LinkConfig,
        seed: u64,
        client_app: CA,
        server_app: SA,
    ) -> Pair<CA, SA> {
        let (a, b) = MemLink::pair_with_clock(link, seed, clock.clone());
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
        let port = |inner: MemPort, side: Side| Recorder {
            inner,
            side,
            trace: trace.clone(),
            record: true,
            filter: None,
            sent: 0,
        };
        let client = Worker::new(cstack, vec![port(a, Side::Client)], client_app);
        let server = Worker::new(sstack, vec![port(b, Side::Server)], server_app);
        let mut pair = Pair {
            name: name.to_string(),
            clock,
            client,
            server,
            trace,
            controls: vec![control.clone()],
            control,
        };
        // Fill the stacks' buffer caches before the test's first call.
        pair.step();
        pair
    }

    /// Two paths: the client has 10.0.1.1 (port 0) and 10.0.2.1 (port 1),
    /// the server 10.0.1.2 and 10.0.2.2, on two mem links (`link1`,
    /// `link2`; the second link's MACs are changed so that the four ports
    /// differ). Frames go out on the port of their subflow's interface.
    #[allow(clippy::too_many_arguments)]
    pub fn two_paths_with_apps(
        name: &str,
        clock: Clock,
        client_cfg: StackConfig,
        server_cfg: StackConfig,
        link1: LinkConfig,
        mut link2: LinkConfig,
        seed: u64,
        client_app: CA,
        server_app: SA,
    ) -> Pair<CA, SA> {
        link2.mac_a[5] ^= 0x40;
        link2.mac_b[5] ^= 0x40;
        let (a1, b1) = MemLink::pair_with_clock(link1, seed, clock.clone());
        let (a2, b2) = MemLink::pair_with_clock(link2, seed ^ 0x2222, clock.clone());
        let trace = Rc::new(RefCell::new(Vec::new()));
        let controls = vec![a1.control(), a2.control()];
        let now = Instant(clock.now());
        let cstack = Stack::new(
            client_cfg,
            vec![
                iface(CLIENT_IP, link1.mac_a, link1.mac_b, link1.checksum),
                iface(CLIENT_IP2, link2.mac_a, link2.mac_b, link2.checksum),
            ],
            0,
            1,
            seed ^ 0xc1,
            now,
        );
        let mut sstack = Stack::new(
            server_cfg,
            vec![
                iface(SERVER_IP, link1.mac_b, link1.mac_a, link1.checksum),
                iface(SERVER_IP2, link2.mac_b, link2.mac_a, link2.checksum),
            ],
            0,
            1,
            seed ^ 0x5e,
            now,
        );
        sstack.listen(PORT);
        let port = |inner: MemPort, side: Side| Recorder {
            inner,
            side,
            trace: trace.clone(),
            record: true,
            filter: None,
            sent: 0,
        };
        let client = Worker::new(
            cstack,
            vec![port(a1, Side::Client), port(a2, Side::Client)],
            client_app,
        );
        let server = Worker::new(
            sstack,
            vec![port(b1, Side::Server), port(b2, Side::Server)],
            server_app,
        );
        let mut pair = Pair {
            name: name.to_string(),
            clock,
            client,
            server,
            trace,
            control: controls[0].clone(),
            controls,
        };
        pair.step();
        pair
    }

    pub fn now(&self) -> Instant {
        Instant(self.clock.now())
    }

    /// Installs a filter on the client's transmit path.
    pub fn filter_client(&mut self, f: Filter) {
        self.client.ports[0].filter = Some(f);
    }

    /// Installs a filter on the server's transmit path.
    pub fn filter_server(&mut self, f: Filter) {
        self.server.ports[0].filter = Some(f);
    }

    /// Installs a filter on the transmit path of the client's port `port`.
    pub fn filter_client_port(&mut self, port: usize, f: Filter) {
        self.client.ports[port].filter = Some(f);
    }

    /// Installs a filter on the transmit path of the server's port `port`.
    pub fn filter_server_port(&mut self, port: usize, f: Filter) {
        self.server.ports[port].filter = Some(f);
    }

    /// Stops recording frames (long runs).
    pub fn stop_recording(&mut self) {
        for p in self
            .client
            .ports
            .iter_mut()
            .chain(self.server.ports.iter_mut())
        {
            p.record = false;
        }
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
        for p in self
            .client
            .ports
            .iter_mut()
            .chain(self.server.ports.iter_mut())
        {
            consider(p.inner.next_delivery_time());
        }
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
    pub fn run_until(&mut self, max_ms: u64, mut done: impl FnMut(&Self) -> bool) -> bool {
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

    /// Every recorded TCP segment, in order (dropped ones included, marked).
    pub fn packets(&self) -> Vec<Pkt> {
        self.trace
            .borrow()
            .iter()
            .filter_map(|r| Pkt::decode(r.t, r.from, r.n, r.dropped, &r.bytes))
            .collect()
    }

    /// A one-line-per-segment listing, for failure messages.
    pub fn listing(&self) -> String {
        listing(&self.packets())
    }

    pub fn write_pcap(&self) -> std::path::PathBuf {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("scenario-pcaps");
        std::fs::create_dir_all(&dir).expect("pcap dir");
        let path = dir.join(format!("{}.pcap", self.name));
        let file = std::fs::File::create(&path).expect("pcap file");
        let mut w = PcapWriter::new(std::io::BufWriter::new(file)).expect("pcap header");
        for r in self.trace.borrow().iter().filter(|r| !r.dropped) {
            w.write_packet(r.t, &r.bytes).expect("pcap write");
        }
        w.flush().expect("pcap flush");
        path
    }
}

/// One line per segment.
pub fn listing(pkts: &[Pkt]) -> String {
    let t0 = pkts.first().map_or(0, |p| p.t);
    let mut s = String::new();
    for p in pkts {
        s.push_str(&format!(
            "{:>10.3}ms {:?} {:<3} seq={} ack={:?} win={} len={} mptcp={:?} tfo={:?}{}\n",
            (p.t - t0) as f64 / 1e6,
            p.from,
            format!("{}", p.flags),
            p.seq.0,
            p.ack.map(|a| a.0),
            p.window,
            p.payload.len(),
            p.opts.mptcp,
            p.opts.fast_open.map(|f| f.cookie().len()),
            if p.dropped { "  DROPPED" } else { "" },
        ));
    }
    s
}

impl<CA: App<Recorder>, SA: App<Recorder>> Drop for Pair<CA, SA> {
    fn drop(&mut self) {
        if std::env::var_os("MPTFO_TRACE").is_some() {
            eprintln!("scenario {}:\n{}", self.name, self.listing());
        }
        if std::thread::panicking() {
            let path = self.write_pcap();
            let n = self.trace.borrow().len();
            if n <= 2_000 {
                eprintln!(
                    "scenario {} failed; capture: {}\n{}",
                    self.name,
                    path.display(),
                    self.listing()
                );
            } else {
                eprintln!(
                    "scenario {} failed; capture ({n} frames): {}",
                    self.name,
                    path.display()
                );
            }
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

/// IDSN of an MPTCP key (RFC 8684 §3.1), from the proto crate's crypto.
pub fn idsn(key: u64) -> DataSeq {
    mptfo_proto::crypto::idsn(MptcpKey(key))
}

/// The first request and reply patterns of the scenarios.
pub fn request() -> Vec<u8> {
    (0..64u8).collect()
}

pub fn reply() -> Vec<u8> {
    (0..64u8).map(|b| b ^ 0xa5).collect()
}

/// The MP_CAPABLE option of a packet, or a panic naming what was there.
pub fn mpc(p: &Pkt) -> MpCapable {
    p.mpc()
        .unwrap_or_else(|| panic!("expected MP_CAPABLE, got {:?}", p.mptcp()))
}

/// The DSS option of a packet, or a panic naming what was there.
pub fn dss(p: &Pkt) -> Dss {
    p.dss()
        .unwrap_or_else(|| panic!("expected DSS, got {:?}", p.mptcp()))
}

/// No RST was sent by either side (protocol.md §7.6 item 1).
pub fn assert_no_rst(pkts: &[Pkt]) {
    if let Some(p) = pkts.iter().find(|p| p.rst()) {
        panic!("unexpected RST: {p:?}");
    }
}

/// The longest run of signalling-only duplicate ACKs `side` sent in a row
/// (protocol.md §5.3, §7.6 item 3): pure ACKs repeating the previous
/// segment's seq, ack and window while carrying an MPTCP option, with no
/// segment from the peer arriving in between.
pub fn signalling_dupack_run(pkts: &[Pkt], side: Side) -> usize {
    let mut longest = 0;
    let mut run = 0;
    let mut prev: Option<&Pkt> = None;
    for p in pkts {
        if p.from != side {
            // Something from the peer: a new ACK may be due.
            run = 0;
            continue;
        }
        let dup = p.is_ack_only()
            && p.mptcp().is_some()
            && prev.is_some_and(|q| q.seq == p.seq && q.ack == p.ack && q.window == p.window);
        run = if dup { run + 1 } else { 0 };
        longest = longest.max(run);
        prev = Some(p);
    }
    longest
}

/// Both applications saw the connection close `n` times.
pub fn both_closed<CA, SA>(p: &Pair<CA, SA>, n: usize) -> bool
where
    CA: App<Recorder> + HasSeen,
    SA: App<Recorder> + HasSeen,
{
    p.client.app.seen().closed.len() >= n && p.server.app.seen().closed.len() >= n
}

/// Apps whose observations the helpers can read.
pub trait HasSeen {
    fn seen(&self) -> &Seen;
}

impl HasSeen for TestApp {
    fn seen(&self) -> &Seen {
        &self.seen
    }
}

/// A TCP segment to hand-build for a [`Solo`] stack.
#[derive(Debug, Clone)]
pub struct SegSpec {
    pub seq: SubflowSeq,
    pub ack: Option<SubflowSeq>,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: OptionBlock,
    pub payload: Vec<u8>,
}

/// Builds an Ethernet/IPv4/TCP frame from `src` to `dst` with valid
/// checksums (mptfo_proto's emitters).
pub fn build_frame(src: SocketAddrV4, dst: SocketAddrV4, spec: &SegSpec) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq: spec.seq,
        ack: spec.ack,
        flags: spec.flags,
        window: spec.window,
        options: spec.options.as_slice(),
        payload: &spec.payload,
    };
    let tcp_len = repr.buffer_len();
    let mut frame = vec![0u8; 14 + 20 + tcp_len];
    {
        let mut tcp = TcpPacket::new_unchecked(&mut frame[34..]);
        repr.emit(
            &mut tcp,
            IpAddr::V4(*src.ip()),
            IpAddr::V4(*dst.ip()),
            &ChecksumCaps::SOFTWARE,
        )
        .expect("emit TCP");
    }
    let ip = Ipv4Repr {
        src_addr: *src.ip(),
        dst_addr: *dst.ip(),
        protocol: IpProtocol::Tcp,
        payload_len: tcp_len,
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 0,
        dont_frag: true,
    };
    ip.emit(
        &mut Ipv4Packet::new_unchecked(&mut frame[14..]),
        &ChecksumCaps::SOFTWARE,
    )
    .expect("emit IPv4");
    let eth = EthernetRepr {
        src_addr: EthernetAddress([0x02, 0, 0, 0, 0, 0x02]),
        dst_addr: EthernetAddress([0x02, 0, 0, 0, 0, 0x01]),
        ethertype: EtherType::Ipv4,
    };
    eth.emit(&mut EthernetFrame::new_unchecked(&mut frame[..]))
        .expect("emit Ethernet");
    frame
}

/// One stack driven directly with hand-built frames: no link, no peer
/// stack. The test plays the peer.
pub struct Solo {
    pub stack: Stack<MemBuf>,
    pool: MemPool,
    pub now: u64,
    /// Every segment the stack sent, in order.
    pub sent: Vec<Pkt>,
    /// Every frame the stack sent (TCP or not: ARP, neighbour discovery),
    /// as bytes, in order.
    pub frames: Vec<Vec<u8>>,
    /// Every event the stack produced, in order.
    pub events: Vec<Event<MemBuf>>,
    /// The address the stack uses.
    pub addr: Ipv4Addr,
}

impl Solo {
    /// A stack at `addr` (checksums verified in software).
    pub fn new(cfg: StackConfig, addr: Ipv4Addr, seed: u64) -> Solo {
        Solo::with_iface(
            cfg,
            iface(
                addr,
                [0x02, 0, 0, 0, 0, 0x01],
                [0x02, 0, 0, 0, 0, 0x02],
                ChecksumCaps::SOFTWARE,
            ),
            seed,
        )
    }

    /// A stack with one interface as given (its first IPv4 address, if any,
    /// is `addr`).
    pub fn with_iface(cfg: StackConfig, ifc: Interface, seed: u64) -> Solo {
        let now = 1_000 * MS;
        let addr = ifc
            .addrs
            .iter()
            .find_map(|a| match a {
                IpAddr::V4(v4) => Some(*v4),
                IpAddr::V6(_) => None,
            })
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        let stack = Stack::new(cfg, vec![ifc], 0, 1, seed, Instant(now));
        let mut s = Solo {
            stack,
            pool: MemPool::new(
                4096,
                mptfo_nic::DEFAULT_HEADROOM,
                mptfo_nic::DEFAULT_DATA_ROOM,
            ),
            now,
            sent: Vec::new(),
            frames: Vec::new(),
            events: Vec::new(),
            addr,
        };
        s.refill();
        s
    }

    fn refill(&mut self) {
        let pool = &self.pool;
        self.stack.refill(512, || pool.alloc());
    }

    /// Takes what the stack produced: events, and frames decoded.
    pub fn collect(&mut self) -> Vec<Pkt> {
        while let Some(e) = self.stack.poll_event() {
            self.events.push(e);
        }
        let mut tx = Vec::new();
        self.stack.take_tx(&mut tx);
        let start = self.sent.len();
        for (i, b) in tx.iter().enumerate() {
            self.frames.push(b.data().to_vec());
            if let Some(p) = Pkt::decode(self.now, Side::Client, start + i, false, b.data()) {
                self.sent.push(p);
            }
        }
        self.refill();
        self.sent[start..].to_vec()
    }

    /// Feeds one frame to the stack; returns the segments it sent in answer.
    pub fn inject(&mut self, frame: &[u8]) -> Vec<Pkt> {
        let mut b = self.pool.alloc().expect("pool buffer");
        assert!(b.append_slice(frame));
        let mut v = vec![b];
        self.stack.receive(Instant(self.now), 0, &mut v);
        self.collect()
    }

    /// Moves time on by `ms` and runs the stack's timers.
    pub fn advance_ms(&mut self, ms: u64) -> Vec<Pkt> {
        self.now += ms * MS;
        self.stack.advance(Instant(self.now));
        self.collect()
    }

    /// Bytes delivered to the application on `conn`, in order.
    pub fn data(&self, conn: ConnId) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.events {
            if let Event::Data { conn: c, data } = e {
                if *c == conn {
                    out.extend_from_slice(data.data());
                }
            }
        }
        out
    }
}

impl Drop for Solo {
    fn drop(&mut self) {
        if std::env::var_os("MPTFO_TRACE").is_some() || std::thread::panicking() {
            eprintln!("segments sent by the solo stack:\n{}", listing(&self.sent));
        }
    }
}
