//! Software steering for ports that cannot do RSS by our function (the
//! virtual devices: af_packet spreads flows over its queues with the
//! kernel's PACKET_FANOUT hash, memif and ring not at all).
//!
//! Every worker polls its own queue through a [`SteeredPort`]: each frame
//! it receives is classified ([`classify_frame`]); a TCP segment whose flow
//! belongs to another core ([`core_of`]) is handed over to that core's
//! inbox, a bounded lock-free ring ([`ArrayQueue`]; full: the frame is
//! dropped and counted). ARP and neighbour discovery go to every core (each
//! stack keeps its own neighbour table). A worker takes its inbox first,
//! then its queue, in every receive burst, so the engine's worker loop
//! needs no change: to it a `SteeredPort` is just a port.
//!
//! The cost is measured: the classification loop of every burst (all
//! frames pay it) and, separately, the hand-over of each steered frame
//! (its ring push, timed on its own; the two clock reads are included).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_queue::ArrayQueue;
use mptfo_engine::shard::{classify_frame, core_of, FrameClass};
use mptfo_nic::{Buf, Port, PortCaps, PortStats};

/// Default inbox capacity per core (frames).
pub const INBOX_CAPACITY: usize = 4096;

/// What the workers of one port share: one inbox per core.
pub struct Steering<B> {
    inboxes: Vec<ArrayQueue<B>>,
    dropped: Vec<AtomicU64>,
}

impl<B> Steering<B> {
    /// Inboxes for `cores` cores, `capacity` frames each.
    pub fn new(cores: usize, capacity: usize) -> Steering<B> {
        Steering {
            inboxes: (0..cores)
                .map(|_| ArrayQueue::new(capacity.max(1)))
                .collect(),
            dropped: (0..cores).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.inboxes.len()
    }

    /// Frames dropped because the inbox of `core` was full.
    pub fn dropped(&self, core: usize) -> u64 {
        self.dropped[core].load(Ordering::Relaxed)
    }

    /// Hands `b` to `core`; false (and the frame dropped) when its inbox is
    /// full.
    fn push(&self, core: usize, b: B) -> bool {
        match self.inboxes[core].push(b) {
            Ok(()) => true,
            Err(b) => {
                drop(b);
                self.dropped[core].fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// One worker's steering figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SteerStats {
    /// Frames this worker received from its own queue.
    pub received: u64,
    /// Of those, TCP segments handed to another core.
    pub steered_out: u64,
    /// Of those, frames copied to the other cores (ARP, ND).
    pub broadcast: u64,
    /// Frames taken from this worker's inbox.
    pub steered_in: u64,
    /// Frames this worker could not hand over (the other's inbox full).
    pub dropped: u64,
    /// Nanoseconds in the classification loops (every received frame).
    pub classify_ns: u64,
    /// Nanoseconds in the hand-overs of steered frames (ring pushes).
    pub handover_ns: u64,
}

impl SteerStats {
    /// Adds `o`'s figures.
    pub fn add(&mut self, o: &SteerStats) {
        self.received += o.received;
        self.steered_out += o.steered_out;
        self.broadcast += o.broadcast;
        self.steered_in += o.steered_in;
        self.dropped += o.dropped;
        self.classify_ns += o.classify_ns;
        self.handover_ns += o.handover_ns;
    }

    /// Fraction of received frames steered to another core.
    pub fn steered_fraction(&self) -> f64 {
        if self.received == 0 {
            0.0
        } else {
            self.steered_out as f64 / self.received as f64
        }
    }

    /// Classification cost per received frame, ns.
    pub fn classify_ns_per_frame(&self) -> f64 {
        if self.received == 0 {
            0.0
        } else {
            self.classify_ns as f64 / self.received as f64
        }
    }

    /// Hand-over cost per steered frame, ns.
    pub fn handover_ns_per_steered(&self) -> f64 {
        if self.steered_out == 0 {
            0.0
        } else {
            self.handover_ns as f64 / self.steered_out as f64
        }
    }

    /// One line for a summary.
    pub fn line(&self) -> String {
        format!(
            "{} frames received, {} steered to other cores ({:.1}%), {} taken from the inbox, {} ARP/ND copied, {} dropped (inbox full); classify {:.0} ns/frame, hand-over {:.0} ns/steered frame",
            self.received,
            self.steered_out,
            100.0 * self.steered_fraction(),
            self.steered_in,
            self.broadcast,
            self.dropped,
            self.classify_ns_per_frame(),
            self.handover_ns_per_steered()
        )
    }
}

/// A port queue seen through the steering step (see the module doc).
pub struct SteeredPort<'s, P: Port> {
    inner: P,
    core: usize,
    shared: &'s Steering<P::Buf>,
    scratch: Vec<P::Buf>,
    /// This worker's figures.
    pub stats: SteerStats,
}

impl<'s, P: Port> SteeredPort<'s, P> {
    /// Worker `core` of `shared.cores()` over its queue `inner`.
    pub fn new(inner: P, core: usize, shared: &'s Steering<P::Buf>) -> Self {
        assert!(core < shared.cores(), "core {core} of {}", shared.cores());
        SteeredPort {
            inner,
            core,
            shared,
            scratch: Vec::with_capacity(64),
            stats: SteerStats::default(),
        }
    }

    /// The queue underneath.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Gives the queue back.
    pub fn into_inner(self) -> P {
        self.inner
    }
}

impl<P: Port> Port for SteeredPort<'_, P>
where
    P::Buf: Send,
{
    type Buf = P::Buf;

    fn rx_burst(&mut self, out: &mut Vec<P::Buf>, max: usize) -> usize {
        let start = out.len();
        let inbox = &self.shared.inboxes[self.core];
        while out.len() - start < max {
            match inbox.pop() {
                Some(b) => out.push(b),
                None => break,
            }
        }
        self.stats.steered_in += (out.len() - start) as u64;
        let room = max - (out.len() - start);
        if room == 0 {
            return out.len() - start;
        }
        let n = self.shared.cores();
        if n <= 1 {
            let got = self.inner.rx_burst(out, room);
            self.stats.received += got as u64;
            return out.len() - start;
        }
        self.scratch.clear();
        let got = self.inner.rx_burst(&mut self.scratch, room);
        if got == 0 {
            return out.len() - start;
        }
        self.stats.received += got as u64;
        let t0 = Instant::now();
        let mut handover = 0u64;
        for b in self.scratch.drain(..) {
            match classify_frame(b.data()) {
                FrameClass::Tcp(t) => {
                    let c = core_of(&t, n);
                    if c == self.core {
                        out.push(b);
                    } else {
                        let h = Instant::now();
                        if !self.shared.push(c, b) {
                            self.stats.dropped += 1;
                        }
                        handover += h.elapsed().as_nanos() as u64;
                        self.stats.steered_out += 1;
                    }
                }
                FrameClass::Neighbor => {
                    for c in (0..n).filter(|&c| c != self.core) {
                        if !self.shared.push(c, b.share()) {
                            self.stats.dropped += 1;
                        }
                        self.stats.broadcast += 1;
                    }
                    out.push(b);
                }
                FrameClass::Other => out.push(b),
            }
        }
        self.stats.classify_ns += t0.elapsed().as_nanos() as u64;
        self.stats.handover_ns += handover;
        out.len() - start
    }

    fn tx_burst(&mut self, pkts: &mut Vec<P::Buf>) -> usize {
        self.inner.tx_burst(pkts)
    }

    fn alloc(&mut self) -> Option<P::Buf> {
        self.inner.alloc()
    }

    fn caps(&self) -> PortCaps {
        self.inner.caps()
    }

    fn stats(&self) -> PortStats {
        self.inner.stats()
    }
}

/// Pins the calling thread to CPU `cpu`; false when the system refused
/// (or has no such CPU).
pub fn pin_to_cpu(cpu: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: cpu })
}

/// Parses a CPU list: `0,1`, `0-3`, `0-1,4` (no duplicates, at most 1024).
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(format!("`{s}`: empty element in the CPU list"));
        }
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let a: usize = a
            .parse()
            .map_err(|_| format!("`{s}`: `{part}` is not a CPU number or range"))?;
        let b: usize = b
            .parse()
            .map_err(|_| format!("`{s}`: `{part}` is not a CPU number or range"))?;
        if a > b {
            return Err(format!("`{s}`: range `{part}` runs backwards"));
        }
        if b >= 1024 {
            return Err(format!("`{s}`: CPU {b} is out of range (0..1024)"));
        }
        for c in a..=b {
            if out.contains(&c) {
                return Err(format!("`{s}`: CPU {c} is listed twice"));
            }
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mptfo_nic::{MemBuf, MemPool};
    use std::net::{IpAddr, SocketAddr};

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0,1").unwrap(), vec![0, 1]);
        assert_eq!(parse_cpu_list("0-1").unwrap(), vec![0, 1]);
        assert_eq!(parse_cpu_list("2-4,7").unwrap(), vec![2, 3, 4, 7]);
        assert!(parse_cpu_list("1-0").is_err());
        assert!(parse_cpu_list("0,0").is_err());
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list("").is_err());
    }

    #[test]
    fn inbox_drops_when_full() {
        let s: Steering<u32> = Steering::new(2, 2);
        assert!(s.push(1, 1));
        assert!(s.push(1, 2));
        assert!(!s.push(1, 3));
        assert_eq!(s.dropped(1), 1);
        assert_eq!(s.dropped(0), 0);
    }

    /// A queue that hands out canned frames.
    struct Canned {
        frames: Vec<MemBuf>,
        pool: MemPool,
    }

    impl Port for Canned {
        type Buf = MemBuf;
        fn rx_burst(&mut self, out: &mut Vec<MemBuf>, max: usize) -> usize {
            let n = max.min(self.frames.len());
            out.extend(self.frames.drain(..n));
            n
        }
        fn tx_burst(&mut self, pkts: &mut Vec<MemBuf>) -> usize {
            let n = pkts.len();
            pkts.clear();
            n
        }
        fn alloc(&mut self) -> Option<MemBuf> {
            self.pool.alloc()
        }
        fn caps(&self) -> PortCaps {
            unreachable!("not asked for here")
        }
        fn stats(&self) -> PortStats {
            PortStats::default()
        }
    }

    fn tcp_frame(pool: &MemPool, src: SocketAddr, dst: SocketAddr) -> MemBuf {
        let mut f = [0u8; 54];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        f[23] = 6;
        if let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip(), dst.ip()) {
            f[26..30].copy_from_slice(&s.octets());
            f[30..34].copy_from_slice(&d.octets());
        }
        f[34..36].copy_from_slice(&src.port().to_be_bytes());
        f[36..38].copy_from_slice(&dst.port().to_be_bytes());
        let mut b = pool.alloc().unwrap();
        assert!(b.append_slice(&f));
        b
    }

    #[test]
    fn frames_reach_their_core() {
        let pool = MemPool::new(8192, 128, 2048);
        let server: SocketAddr = "10.0.1.12:8080".parse().unwrap();
        let client: IpAddr = "10.0.1.1".parse().unwrap();
        // All frames arrive on queue 0 (a port without RSS, or an
        // unlucky fan-out); an ARP frame too.
        let mut frames = Vec::new();
        for p in 40000..41000u16 {
            frames.push(tcp_frame(&pool, SocketAddr::new(client, p), server));
        }
        let mut arp = pool.alloc().unwrap();
        let mut a = [0u8; 42];
        a[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert!(arp.append_slice(&a));
        frames.push(arp);
        let shared = Steering::new(2, 4096);
        let mut q0 = SteeredPort::new(
            Canned {
                frames,
                pool: MemPool::new(16, 128, 2048),
            },
            0,
            &shared,
        );
        let mut q1 = SteeredPort::new(
            Canned {
                frames: Vec::new(),
                pool: MemPool::new(16, 128, 2048),
            },
            1,
            &shared,
        );
        let (mut at0, mut at1) = (Vec::new(), Vec::new());
        while q0.rx_burst(&mut at0, 32) > 0 {}
        while q1.rx_burst(&mut at1, 32) > 0 {}
        assert_eq!(at0.len() + at1.len(), 1002, "ARP on both");
        for (core, got) in [(0, &at0), (1, &at1)] {
            for b in got.iter() {
                if let FrameClass::Tcp(t) = classify_frame(b.data()) {
                    assert_eq!(core_of(&t, 2), core);
                }
            }
        }
        assert!(q0.stats.steered_out > 300 && q0.stats.steered_out < 700);
        assert_eq!(q0.stats.steered_out, q1.stats.steered_in - 1);
        assert_eq!(q0.stats.broadcast, 1);
        eprintln!("steering, 1001 frames on one queue: {}", q0.stats.line());
    }
}
