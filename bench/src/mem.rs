//! The in-memory benchmark: a server worker and a load-generator worker in
//! one process, joined by the mem link, driven in virtual time on the
//! calling thread.
//!
//! Virtual time: the shared clock jumps straight to the next thing that can
//! happen — a frame due on the link or a timer of either stack — so an
//! added round-trip time costs no wall time and every latency is exact and
//! reproducible (same seed, same figures). Wall time is measured around
//! the loop: transactions per wall-clock second is what the engine does
//! with *both* ends on one core.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use mptfo_engine::config::{ReplyTiming, StackConfig};
use mptfo_engine::counters::Counters;
use mptfo_engine::stack::{Event, Interface, Stack};
use mptfo_engine::time::{Duration, Instant};
use mptfo_engine::worker::{App, Worker};
use mptfo_nic::{Clock, DirectionConfig, LinkConfig, MemLink, MemPort, PcapTap, PcapWriter, Port};
use serde::Serialize;

use crate::loadgen::{GeneratorFigures, LoadgenApp, LoadgenConfig, OVERRUN_NS};
use crate::report::Report;
use crate::serve::{ServeApp, ServeMode};

/// Address of the load generator.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
/// Address of the server.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
/// Address of the load generator on path 2 (`--paths 2`).
pub const CLIENT_IP2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
/// Address of the server on path 2 (`--paths 2`).
pub const SERVER_IP2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// Port the server listens on.
pub const SERVER_PORT: u16 = 8080;
/// The server's TFO key (fixed, so cookies are reproducible).
pub const TFO_KEY: [u8; 16] = *b"mptfo-bench-key!";

/// Where the virtual clock starts (1 s, so that no time is zero).
const T0: u64 = 1_000_000_000;

/// Loop iterations in a row at one instant in which something claims to
/// be due but no frame moves, before the driver nudges the clock by 1 µs.
const SPIN_LIMIT: u32 = 64;

/// One benchmark run.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    /// Load duration in virtual time (from the first SYN); `None` with
    /// `transactions` set runs until the count is reached.
    pub duration: Option<Duration>,
    /// Stop after this many transactions.
    pub transactions: Option<u64>,
    /// Transactions in flight at once.
    pub concurrency: usize,
    /// Bytes per request.
    pub request_bytes: usize,
    /// Bytes per reply (rpc mode; echo replies with the request size).
    pub response_bytes: usize,
    /// Echo instead of rpc.
    pub echo: bool,
    /// TCP Fast Open on the client (the server always accepts it).
    pub tfo: bool,
    /// MPTCP on the client (the server always accepts it).
    pub mptcp: bool,
    /// Added round-trip time: each direction of the link delays by half.
    pub rtt: Duration,
    /// When the server's reply to SYN data may leave.
    pub reply: ReplyTiming,
    /// Seed of keys, ISNs, ports and the link.
    pub seed: u64,
    /// TIME_WAIT length of both stacks (short, so ports recycle).
    pub time_wait: Duration,
    /// Virtual time allowed after the load ends for the transactions under
    /// way and the closes to finish.
    pub drain: Duration,
    /// Wall-clock safety limit of the whole run.
    pub wall_limit: Duration,
    /// Probability that the link loses a frame, each direction.
    pub loss: f64,
    /// Capture every frame of the client's port to this pcap file.
    pub pcap: Option<PathBuf>,
    /// Paths (mem links) between the two ends: 1, or 2 — then each MPTCP
    /// connection opens a second subflow (MP_JOIN) from `CLIENT_IP2` to
    /// `SERVER_IP2` over path 2 as soon as it is connected. The join's SYN
    /// leaves only once the connection is fully established (the first
    /// DATA_ACK), so a short transaction (the default 64 B request and
    /// reply) is usually over before the join completes: give large replies
    /// (e.g. `response_bytes` 200000) for both paths to carry data.
    pub paths: usize,
    /// Round-trip time of path 2 (default: `rtt`).
    pub rtt2: Option<Duration>,
    /// Open the path-2 subflow as a backup (MP_JOIN B flag).
    pub backup2: bool,
    /// Open loop: connections started per second on a fixed schedule
    /// (virtual time, so every start is exactly on time); `concurrency` is
    /// then the cap on connections in flight. `None`: closed loop.
    pub rate: Option<f64>,
    /// Request/reply exchanges per connection (1: a connection per
    /// transaction).
    pub requests_per_connection: u64,
    /// Rate limit of the link (path 1), bits per second each direction
    /// (`None`: unlimited); frames queue behind it (up to
    /// [`LINK_QUEUE_PACKETS`]), so a server behind it can fall behind its
    /// load.
    pub link_rate_bps: Option<u64>,
    /// A stalled load generator: from `.0` after the run's start, for
    /// `.1`, the client's worker is not polled at all (as when its thread
    /// is descheduled), while the server and the link go on. What it
    /// started late, and the replies it read late, show in the latencies
    /// (an open loop counts from the intended start).
    pub client_pause: Option<(Duration, Duration)>,
}

/// Frames the rate limiter of a rate-limited link queues, each direction.
pub const LINK_QUEUE_PACKETS: usize = 20_000;

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            duration: Some(Duration::from_secs(2)),
            transactions: None,
            concurrency: 16,
            request_bytes: 64,
            response_bytes: 64,
            echo: false,
            tfo: true,
            mptcp: true,
            rtt: Duration::ZERO,
            reply: ReplyTiming::Early,
            seed: 1,
            time_wait: Duration::from_secs(1),
            drain: Duration::from_secs(30),
            wall_limit: Duration::from_secs(600),
            loss: 0.0,
            pcap: None,
            paths: 1,
            rtt2: None,
            backup2: false,
            rate: None,
            requests_per_connection: 1,
            link_rate_bps: None,
            client_pause: None,
        }
    }
}

impl BenchConfig {
    /// Bytes of the reply that completes a transaction.
    pub fn reply_bytes(&self) -> usize {
        if self.echo {
            self.request_bytes
        } else {
            self.response_bytes
        }
    }

    /// Checks the values; the error names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.concurrency == 0 {
            return Err("concurrency must be at least 1".into());
        }
        if self.request_bytes == 0 {
            return Err("request size must be at least 1 byte".into());
        }
        if self.reply_bytes() == 0 {
            return Err("response size must be at least 1 byte".into());
        }
        if self.duration.is_none() && self.transactions.is_none() {
            return Err("give a duration or a transaction count".into());
        }
        if self.duration == Some(Duration::ZERO) || self.transactions == Some(0) {
            return Err("duration and transaction count must be positive".into());
        }
        if !(1..=2).contains(&self.paths) {
            return Err(format!("paths {}: expected 1 or 2", self.paths));
        }
        if self.paths > 1 && self.pcap.is_some() {
            return Err("a pcap capture is supported with one path only".into());
        }
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0) {
                return Err(format!(
                    "rate {r}: expected a positive number of connections per second"
                ));
            }
        }
        if self.requests_per_connection == 0 {
            return Err("requests per connection 0: expected at least 1".into());
        }
        if self.link_rate_bps == Some(0) {
            return Err("link rate 0: expected a positive number of bits per second".into());
        }
        if !(0.0..1.0).contains(&self.loss) {
            return Err(format!(
                "loss {}: expected a probability in [0, 1)",
                self.loss
            ));
        }
        Ok(())
    }

    /// The stack configuration of both ends.
    pub fn stack_config(&self) -> StackConfig {
        let mut c = StackConfig {
            time_wait: self.time_wait,
            reply_timing: self.reply,
            ..StackConfig::default()
        };
        c.tfo_server.key = TFO_KEY;
        c
    }
}

/// How the driver loop went (besides what the applications counted).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DriverStats {
    /// Virtual nanoseconds from the first SYN to the last reply.
    pub load_ns: u64,
    /// Virtual nanoseconds the whole run took (drain included).
    pub virtual_ns: u64,
    /// Wall-clock nanoseconds of the loop (both stacks, one thread).
    pub wall_ns: u64,
    /// CPU nanoseconds the loop's thread used (what the wall-clock figure
    /// would be on an otherwise idle core).
    pub cpu_ns: u64,
    /// Worker polls (each of both workers).
    pub polls: u64,
    /// Frames received by both workers.
    pub frames: u64,
    /// The drain limit passed with connections still open.
    pub drain_timed_out: bool,
    /// The wall-clock limit stopped the run.
    pub wall_timed_out: bool,
    /// Nothing could happen any more with connections still open.
    pub stuck: bool,
    /// Times the driver had to nudge a spinning clock.
    pub nudges: u64,
}

/// What one path (mem link) carried, from its two ports' counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathStats {
    /// Client address on this path.
    pub client: String,
    /// Server address on this path.
    pub server: String,
    /// Round-trip time added on this path, ms.
    pub rtt_ms: f64,
    /// Frames the client sent on it.
    pub client_to_server_packets: u64,
    /// Bytes of those frames (headers included).
    pub client_to_server_bytes: u64,
    /// Frames the server sent on it.
    pub server_to_client_packets: u64,
    /// Bytes of those frames (headers included).
    pub server_to_client_bytes: u64,
}

/// MP_JOIN subflows of the run (`paths` 2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JoinStats {
    /// Second subflows asked for (`Stack::add_subflow` accepted).
    pub requested: u64,
    /// `Stack::add_subflow` refused (connection no longer MPTCP, no port).
    pub not_opened: u64,
    /// MP_JOIN SYNs the client sent.
    pub syn_sent: u64,
    /// Joins whose handshake completed (client side).
    pub established: u64,
    /// Joins the server refused (subflow limit, unknown token, bad HMAC).
    pub refused: u64,
}

/// The load generator of a multipath run: [`LoadgenApp`], plus a second
/// subflow over path 2 for each connection once it is connected.
pub struct MultipathLoadgen {
    /// The load generator itself.
    pub inner: LoadgenApp,
    /// (local address, server address, backup) of the second subflow.
    second: Option<(IpAddr, SocketAddr, bool)>,
    /// `add_subflow` calls accepted.
    pub joins_requested: u64,
    /// `add_subflow` calls refused.
    pub joins_not_opened: u64,
}

impl<P: Port> App<P> for MultipathLoadgen {
    fn on_event(&mut self, stack: &mut Stack<P::Buf>, event: Event<P::Buf>) {
        if let (Event::Connected { conn }, Some((local, remote, backup))) = (&event, self.second) {
            // A fallen-back (plain TCP) connection refuses: counted.
            match stack.add_subflow(*conn, local, remote, backup) {
                Ok(()) => self.joins_requested += 1,
                Err(_) => self.joins_not_opened += 1,
            }
        }
        <LoadgenApp as App<P>>::on_event(&mut self.inner, stack, event);
    }

    fn on_poll(&mut self, stack: &mut Stack<P::Buf>, now: Instant) {
        <LoadgenApp as App<P>>::on_poll(&mut self.inner, stack, now);
    }
}

/// The outcome of a run, with everything needed for the report.
pub struct Outcome {
    /// The configuration run.
    pub config: BenchConfig,
    /// The load generator (its histograms and counts).
    pub loadgen: LoadgenApp,
    /// The server's counts.
    pub server: ServeApp,
    /// Client stack counters.
    pub client_counters: Counters,
    /// Server stack counters.
    pub server_counters: Counters,
    /// The driver's figures.
    pub driver: DriverStats,
    /// Per path: what it carried each way.
    pub paths: Vec<PathStats>,
    /// Joins (with two paths).
    pub joins: Option<JoinStats>,
    /// Connections still open at the end (client, server).
    pub open_at_end: (usize, usize),
    /// The first few connections still open at the end, described with
    /// their state, for diagnosis.
    pub stragglers: Vec<String>,
}

impl Outcome {
    /// The report of this run.
    pub fn report(&self) -> Report {
        Report::new(self)
    }

    /// The load generator's own figures (connections and requests apart,
    /// open-loop lateness), over the load's virtual time.
    pub fn generator(&self) -> GeneratorFigures {
        GeneratorFigures::of(&self.loadgen.stats, self.driver.load_ns as f64 / 1e9)
    }
}

fn iface(ip: Ipv4Addr, mac: [u8; 6], peer: [u8; 6], link: &LinkConfig) -> Interface {
    Interface {
        mac,
        addrs: vec![IpAddr::V4(ip)],
        default_peer_mac: peer,
        checksum: link.checksum,
    }
}

/// A mem-link port, possibly wrapped (capture), as the driver needs it.
pub trait MemSide: Port {
    /// When the next frame on its way to this port is due.
    fn next_delivery(&mut self) -> Option<u64>;
}

impl MemSide for MemPort {
    fn next_delivery(&mut self) -> Option<u64> {
        self.next_delivery_time()
    }
}

impl<W: Write> MemSide for PcapTap<MemPort, W> {
    fn next_delivery(&mut self) -> Option<u64> {
        self.inner_mut().next_delivery_time()
    }
}

/// Runs one benchmark on the mem link in virtual time.
pub fn run(cfg: &BenchConfig) -> Result<Outcome, String> {
    cfg.validate()?;
    let clock = Clock::virtual_at(T0);
    let half = u64::try_from(cfg.rtt.as_nanos() / 2).unwrap_or(u64::MAX / 4);
    let dir = DirectionConfig {
        loss: cfg.loss,
        rate_bps: cfg.link_rate_bps,
        queue_packets: LINK_QUEUE_PACKETS,
        ..DirectionConfig::with_delay(half)
    };
    let link = LinkConfig {
        // Frames in flight hold buffers: leave room for large concurrency.
        pool_buffers: 65536,
        wire_slots: 65536,
        ..LinkConfig::symmetric(dir)
    };
    let (a, b) = MemLink::pair_with_clock(link, cfg.seed, clock.clone());
    let path2 = (cfg.paths > 1).then(|| {
        let rtt2 = cfg.rtt2.unwrap_or(cfg.rtt);
        let half2 = u64::try_from(rtt2.as_nanos() / 2).unwrap_or(u64::MAX / 4);
        let mut link2 = LinkConfig::symmetric(DirectionConfig {
            loss: cfg.loss,
            ..DirectionConfig::with_delay(half2)
        });
        link2.pool_buffers = link.pool_buffers;
        link2.wire_slots = link.wire_slots;
        // Distinct Ethernet addresses on the second link.
        link2.mac_a[5] ^= 0x40;
        link2.mac_b[5] ^= 0x40;
        let (a2, b2) = MemLink::pair_with_clock(link2, cfg.seed ^ 0x2222, clock.clone());
        (link2, a2, b2)
    });
    match &cfg.pcap {
        None => run_on(cfg, &clock, &link, a, b, path2),
        Some(path) => {
            let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let writer = PcapWriter::new(BufWriter::new(file))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let tap = PcapTap::new(a, writer, clock.clone());
            // `validate` allows a capture with one path only.
            let (outcome, tap) = run_with(cfg, &clock, &link, tap, b, None);
            tap.finish()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(outcome)
        }
    }
}

fn run_on(
    cfg: &BenchConfig,
    clock: &Clock,
    link: &LinkConfig,
    a: MemPort,
    b: MemPort,
    path2: Option<(LinkConfig, MemPort, MemPort)>,
) -> Result<Outcome, String> {
    Ok(run_with(cfg, clock, link, a, b, path2).0)
}

/// Runs with the client on port `a` and the server on port `b`; gives
/// the client's port back.
fn run_with<A: MemSide>(
    cfg: &BenchConfig,
    clock: &Clock,
    link: &LinkConfig,
    a: A,
    b: MemPort,
    path2: Option<(LinkConfig, A, MemPort)>,
) -> (Outcome, A) {
    let now = Instant(clock.now());
    let scfg = cfg.stack_config();
    let mut cifaces = vec![iface(CLIENT_IP, link.mac_a, link.mac_b, link)];
    let mut sifaces = vec![iface(SERVER_IP, link.mac_b, link.mac_a, link)];
    let mut cports = vec![a];
    let mut sports = vec![b];
    if let Some((link2, a2, b2)) = path2 {
        cifaces.push(iface(CLIENT_IP2, link2.mac_a, link2.mac_b, &link2));
        sifaces.push(iface(SERVER_IP2, link2.mac_b, link2.mac_a, &link2));
        cports.push(a2);
        sports.push(b2);
    }
    let cstack = Stack::new(scfg, cifaces, 0, 1, cfg.seed ^ 0xc11e, now);
    let mut sstack = Stack::new(scfg, sifaces, 0, 1, cfg.seed ^ 0x5e7e, now);
    sstack.listen(SERVER_PORT);
    let mode = if cfg.echo {
        ServeMode::Echo
    } else {
        ServeMode::Rpc {
            request_bytes: cfg.request_bytes,
            response_bytes: cfg.response_bytes,
        }
    };
    let lcfg = LoadgenConfig {
        server: SocketAddr::new(IpAddr::V4(SERVER_IP), SERVER_PORT),
        concurrency: cfg.concurrency,
        request_bytes: cfg.request_bytes,
        response_bytes: cfg.reply_bytes(),
        tfo: cfg.tfo,
        mptcp: cfg.mptcp,
        transactions: cfg.transactions,
        duration: cfg.duration,
        rate: cfg.rate,
        requests_per_connection: cfg.requests_per_connection,
    };
    let app = MultipathLoadgen {
        inner: LoadgenApp::new(lcfg, clock.clone()),
        second: (cfg.paths > 1).then_some((
            IpAddr::V4(CLIENT_IP2),
            SocketAddr::new(IpAddr::V4(SERVER_IP2), SERVER_PORT),
            cfg.backup2,
        )),
        joins_requested: 0,
        joins_not_opened: 0,
    };
    let mut client: Worker<A, MultipathLoadgen> = Worker::new(cstack, cports, app);
    let mut server: Worker<MemPort, ServeApp> = Worker::new(sstack, sports, ServeApp::new(mode));

    let driver = drive(cfg, clock, &mut client, &mut server);
    let paths = (0..client.ports.len())
        .map(|i| {
            let (cs, ss) = (client.ports[i].stats(), server.ports[i].stats());
            let (cip, sip, rtt) = if i == 0 {
                (CLIENT_IP, SERVER_IP, cfg.rtt)
            } else {
                (CLIENT_IP2, SERVER_IP2, cfg.rtt2.unwrap_or(cfg.rtt))
            };
            PathStats {
                client: cip.to_string(),
                server: sip.to_string(),
                rtt_ms: rtt.as_secs_f64() * 1e3,
                client_to_server_packets: cs.tx_packets,
                client_to_server_bytes: cs.tx_bytes,
                server_to_client_packets: ss.tx_packets,
                server_to_client_bytes: ss.tx_bytes,
            }
        })
        .collect();
    let (cc, sc) = (client.stack.counters(), server.stack.counters());
    let joins = (cfg.paths > 1).then(|| JoinStats {
        requested: client.app.joins_requested,
        not_opened: client.app.joins_not_opened,
        syn_sent: cc.mptcp_mp_join_syn_tx,
        established: cc.mptfo_join_established,
        refused: sc.mptcp_mp_join_rejected
            + sc.mptcp_mp_join_no_token_found
            + sc.mptcp_mp_join_ack_hmac_failure
            + cc.mptcp_mp_join_synack_hmac_failure,
    });
    let mut stragglers = Vec::new();
    for (id, done) in client.app.inner.open_list().into_iter().take(8) {
        stragglers.push(format!(
            "client {id:?}: reply {}, tcp {:?}, mptcp {:?}",
            if done { "complete" } else { "incomplete" },
            client.stack.tcp_state(id),
            client.stack.mptcp_mode(id)
        ));
        stragglers.push(format!("  {}", client.stack.describe(id)));
    }
    for (id, peer_closed, closing) in server.app.open_list().into_iter().take(8) {
        stragglers.push(format!(
            "server {id:?}: peer closed {peer_closed}, closed {closing}, tcp {:?}, mptcp {:?}",
            server.stack.tcp_state(id),
            server.stack.mptcp_mode(id)
        ));
        stragglers.push(format!("  {}", server.stack.describe(id)));
    }
    let outcome = Outcome {
        stragglers,
        config: cfg.clone(),
        client_counters: client.stack.counters().clone(),
        server_counters: server.stack.counters().clone(),
        open_at_end: (
            client.app.inner.open_connections(),
            server.app.open_connections(),
        ),
        loadgen: client.app.inner,
        server: server.app,
        driver,
        paths,
        joins,
    };
    let port = client.ports.swap_remove(0);
    (outcome, port)
}

/// The virtual-time loop.
fn drive<A: MemSide>(
    cfg: &BenchConfig,
    clock: &Clock,
    client: &mut Worker<A, MultipathLoadgen>,
    server: &mut Worker<MemPort, ServeApp>,
) -> DriverStats {
    let mut st = DriverStats::default();
    let drain_ns = u64::try_from(cfg.drain.as_nanos()).unwrap_or(u64::MAX);
    let wall_limit = cfg.wall_limit;
    let v_start = clock.now();
    let wall = std::time::Instant::now();
    let cpu = cpu_time::ThreadTime::try_now().ok();
    let mut load_end: Option<u64> = None;
    let mut idle_spins = 0u32;
    let pause = cfg.client_pause.map(|(at, len)| {
        let at = v_start.saturating_add(u64::try_from(at.as_nanos()).unwrap_or(u64::MAX));
        (
            at,
            at.saturating_add(u64::try_from(len.as_nanos()).unwrap_or(u64::MAX)),
        )
    });
    loop {
        let now = clock.now();
        if let Some((_, end)) = pause.filter(|&(at, end)| (at..end).contains(&now)) {
            // The client is stalled: only the server runs, until the
            // pause ends.
            let rx = server.poll(Instant(now));
            st.polls += 1;
            st.frames += rx as u64;
            let mut next = end;
            for p in server.ports.iter_mut() {
                if let Some(t) = p.next_delivery() {
                    next = next.min(t);
                }
            }
            if let Some(d) = server.next_deadline() {
                next = next.min(d.0);
            }
            if next > now {
                clock.advance_to(next);
            } else if rx == 0 {
                // Due now yet nothing moved: do not spin.
                clock.advance_to(now + 1_000);
            }
            continue;
        }
        let started = client.app.inner.stats.started;
        let rx = client.poll(Instant(now)) + server.poll(Instant(now));
        let progress = rx > 0 || client.app.inner.stats.started != started;
        st.polls += 1;
        st.frames += rx as u64;

        if client.app.inner.load_done(now) {
            let end = *load_end.get_or_insert(now);
            let open = client.app.inner.open_connections() + server.app.open_connections();
            if open == 0 {
                break;
            }
            if now.saturating_sub(end) > drain_ns {
                st.drain_timed_out = true;
                break;
            }
        }
        if st.polls % 1024 == 0 && wall.elapsed() > wall_limit {
            st.wall_timed_out = true;
            break;
        }

        if client.app.inner.deferred() && idle_spins < SPIN_LIMIT {
            // More connects wait for the buffer cache the next poll
            // refills (unless the port's pool itself is dry: then let time
            // move after a while).
            idle_spins = if progress { 0 } else { idle_spins + 1 };
            continue;
        }
        // What can happen next, and when.
        let mut next: Option<u64> = None;
        let mut consider = |t: Option<u64>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: u64| n.min(t)));
            }
        };
        for p in client.ports.iter_mut() {
            consider(p.next_delivery());
        }
        for p in server.ports.iter_mut() {
            consider(p.next_delivery());
        }
        consider(client.next_deadline().map(|d| d.0));
        consider(server.next_deadline().map(|d| d.0));
        if !client.app.inner.load_done(now) {
            let lg = &client.app.inner;
            match lg.load_deadline() {
                Some(end) if end > now => consider(Some(end)),
                // An open loop behind its schedule gives up then.
                Some(end) if lg.open_loop() => consider(Some(end.saturating_add(OVERRUN_NS))),
                _ => {}
            }
            consider(lg.next_start(now));
        }
        match next {
            Some(t) if t <= now => {
                // Something is due now: poll again at the same instant. If
                // it keeps claiming so while nothing moves, nudge the clock.
                if !progress {
                    idle_spins += 1;
                    if idle_spins > SPIN_LIMIT {
                        st.nudges += 1;
                        idle_spins = 0;
                        clock.advance_to(now + 1_000);
                    }
                } else {
                    idle_spins = 0;
                }
            }
            Some(t) => {
                idle_spins = 0;
                clock.advance_to(t);
            }
            None => {
                if rx > 0 {
                    continue;
                }
                // Nothing in flight and no timer, yet the run is not over
                // (that was checked above): nothing can happen any more.
                st.stuck = true;
                break;
            }
        }
    }
    st.wall_ns = wall.elapsed().as_nanos() as u64;
    st.cpu_ns = cpu.map_or(st.wall_ns, |c| c.elapsed().as_nanos() as u64);
    st.virtual_ns = clock.now() - v_start;
    st.load_ns = match (client.app.inner.first_start(), client.app.inner.last_done()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => 0,
    };
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> BenchConfig {
        BenchConfig {
            rtt: Duration::from_millis(10),
            ..BenchConfig::default()
        }
    }

    fn run_ok(cfg: &BenchConfig) -> (Report, GeneratorFigures) {
        let o = run(cfg).expect("run");
        let r = o.report();
        assert_eq!(r.errors.total, 0, "{r}");
        assert!(
            !r.run.stuck && !r.run.wall_timed_out && !r.run.drain_timed_out,
            "{r}"
        );
        (r, o.generator())
    }

    #[test]
    fn open_loop_with_tfo_is_one_rtt_exactly() {
        let cfg = BenchConfig {
            rate: Some(1000.0),
            concurrency: 65536,
            duration: Some(Duration::from_secs(1)),
            ..base()
        };
        let (r, g) = run_ok(&cfg);
        assert_eq!(r.load.kind, "open");
        assert_eq!(r.load.rate_per_s, 1000.0);
        assert!(r.load.from_intended_start);
        // The cookie request (10 ms), then one start per ms until 1 s
        // after the first SYN.
        assert_eq!(r.transactions, 991, "{r}");
        assert_eq!(g.connections, 991);
        assert_eq!((g.late_starts, g.refused_starts, g.max_lag_us), (0, 0, 0.0));
        assert_eq!(r.latency.syn_to_last_byte.p50_us, 10_000.0, "{r}");
        assert_eq!(r.latency.syn_to_last_byte.p99_us, 10_000.0, "{r}");
        assert_eq!(r.latency.syn_to_synack.p50_us, 10_000.0, "{r}");
        assert_eq!(r.latency.syn_to_synack.count, 991);
        // Without TFO: two round trips.
        let (r, _) = run_ok(&BenchConfig { tfo: false, ..cfg });
        assert_eq!(r.latency.syn_to_last_byte.p50_us, 20_000.0, "{r}");
        assert_eq!(r.latency.syn_to_synack.p50_us, 10_000.0, "{r}");
    }

    #[test]
    fn keep_alive_makes_requests_per_connection() {
        let cfg = BenchConfig {
            transactions: Some(1000),
            duration: None,
            requests_per_connection: 10,
            ..base()
        };
        let (r, g) = run_ok(&cfg);
        assert_eq!(r.transactions, 1000, "{r}");
        assert_eq!(g.requests, 10 * g.connections);
        assert_eq!(g.connections, 100);
        let opens = r
            .client_counters
            .iter()
            .find(|(k, _)| *k == "TcpActiveOpens")
            .map(|&(_, v)| v);
        assert_eq!(opens, Some(100));
        assert_eq!(r.load.requests_per_connection, 10);
        // The first request rides in the SYN (1 RTT), the others take one
        // RTT each from their write.
        assert_eq!(r.latency.syn_to_last_byte.p50_us, 10_000.0, "{r}");
        assert_eq!(r.latency.syn_to_last_byte.count, 1000);
        assert_eq!(r.latency.syn_to_synack.count, 100);
        // A limit that is not a multiple: the last connection does fewer.
        let (r, g) = run_ok(&BenchConfig {
            transactions: Some(25),
            ..cfg
        });
        assert_eq!((r.transactions, g.connections), (25, 3), "{r}");
    }

    #[test]
    fn open_loop_at_a_fixed_rate_of_kept_alive_connections() {
        let (r, g) = run_ok(&BenchConfig {
            rate: Some(100.0),
            concurrency: 1000,
            requests_per_connection: 5,
            duration: Some(Duration::from_millis(500)),
            ..base()
        });
        assert_eq!(g.requests, 5 * g.connections, "{r}");
        assert_eq!(g.connections, 50, "{r}");
    }

    /// A server behind a link it cannot keep up with: the closed loop
    /// slows down to its pace (latency stays put), the open loop does
    /// not (a queue builds, latency grows with the run's length).
    #[test]
    fn overload_shows_in_the_open_loop_only() {
        let slow = BenchConfig {
            response_bytes: 10_000,
            // About 90 replies of 10 kB per second.
            link_rate_bps: Some(8_000_000),
            ..base()
        };
        let closed = |secs| {
            run_ok(&BenchConfig {
                concurrency: 4,
                duration: Some(Duration::from_secs(secs)),
                ..slow.clone()
            })
            .0
        };
        let open = |secs| {
            run_ok(&BenchConfig {
                rate: Some(150.0),
                concurrency: 65536,
                duration: Some(Duration::from_secs(secs)),
                ..slow.clone()
            })
            .0
        };
        let (c1, c2) = (closed(1), closed(2));
        let (o1, o2) = (open(1), open(2));
        let p99 = |r: &Report| r.latency.syn_to_last_byte.p99_us;
        // Closed: the same tail however long it runs.
        assert!(p99(&c2) <= 1.1 * p99(&c1), "{c1}\n{c2}");
        assert!(p99(&c2) < 100_000.0, "{c2}");
        // Open: far worse than closed, and worse the longer it runs.
        assert!(p99(&o1) > 5.0 * p99(&c1), "{o1}\n{c1}");
        assert!(p99(&o2) > 1.5 * p99(&o1), "{o1}\n{o2}");
        // It kept its schedule: the server is what fell behind.
        assert!(o2.started >= 295, "{o2}");
        assert!(o2.rate.per_load_second < 100.0, "{o2}");
    }

    /// Coordinated omission: a client stalled for 200 ms of a 1 s run.
    /// The open loop counts the starts that were due during the stall
    /// from when they were due: about 20 % of its transactions show up to
    /// 200 ms more, and its p90 says so. The closed loop only sees the
    /// transactions that were in flight when it stalled (one per slot,
    /// about 1 % of them, whatever the concurrency): its p90 stays at one
    /// RTT, as if the stall had hardly happened.
    #[test]
    fn a_stall_shows_in_the_open_loop_tail() {
        let pause = Some((Duration::from_millis(500), Duration::from_millis(200)));
        let (open, g) = run_ok(&BenchConfig {
            rate: Some(1000.0),
            concurrency: 65536,
            duration: Some(Duration::from_secs(1)),
            client_pause: pause,
            ..base()
        });
        // About 200 starts were due during the stall; all made late.
        assert!((190..=201).contains(&g.late_starts), "{open}");
        assert!(g.max_lag_us >= 190_000.0, "{open}");
        let l = &open.latency.syn_to_last_byte;
        assert_eq!(l.p50_us, 10_000.0, "{open}");
        assert!(l.p90_us >= 50_000.0, "{open}");
        assert!(l.max_us >= 200_000.0, "{open}");
        let (closed, g) = run_ok(&BenchConfig {
            concurrency: 10,
            duration: Some(Duration::from_secs(1)),
            client_pause: pause,
            ..base()
        });
        assert_eq!(g.late_starts, 0);
        let l = &closed.latency.syn_to_last_byte;
        assert!(l.max_us >= 200_000.0, "{closed}");
        assert_eq!(l.p90_us, 10_000.0, "{closed}");
    }

    #[test]
    fn open_loop_cap_refuses_starts() {
        // 1000/s with 20 ms per transaction needs ~20 in flight; a cap of
        // 5 refuses most starts.
        let (r, g) = run_ok(&BenchConfig {
            rate: Some(1000.0),
            concurrency: 5,
            tfo: false,
            duration: Some(Duration::from_millis(200)),
            ..base()
        });
        assert!(g.refused_starts > 100, "{r}");
        // Starts at 0, 1, .. 199 ms (the load ends at 200 ms).
        assert_eq!(g.refused_starts + g.connections, 200, "{r}");
        assert!(format!(
            "{}",
            crate::report::FullReport {
                report: &r,
                generator: &g,
                extra: None
            }
        )
        .contains("fell behind"));
    }

    /// Out of source ports (28232 of them, all in a 10 s TIME_WAIT): the
    /// open loop cannot make its starts, gives up 1 s after the end of the
    /// load and says how many it never made.
    #[test]
    fn starts_never_made_are_counted() {
        let (r, g) = run_ok(&BenchConfig {
            rtt: Duration::ZERO,
            rate: Some(200_000.0),
            concurrency: 65536,
            duration: Some(Duration::from_millis(500)),
            time_wait: Duration::from_secs(10),
            ..base()
        });
        assert!(g.missed_starts > 50_000, "{r}");
        // The cookie request, then 100000 due in 0.5 s.
        assert_eq!(g.connections + g.missed_starts, 100_001, "{r}");
        assert_eq!(r.run.clock_nudges, 0, "{r}");
    }

    #[test]
    fn bad_open_loop_settings_are_refused() {
        for rate in [0.0, -5.0, f64::NAN] {
            let e = run(&BenchConfig {
                rate: Some(rate),
                ..base()
            })
            .err()
            .expect("refused");
            assert!(e.contains("rate"), "{e}");
        }
        let e = run(&BenchConfig {
            requests_per_connection: 0,
            ..base()
        })
        .err()
        .expect("refused");
        assert!(e.contains("requests per connection"), "{e}");
    }
}
