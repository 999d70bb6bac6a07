//! Join steering, measured (design.md "Sharding"): a join SYN carries the
//! connection's token, not a tuple the NIC can hash to the owner, so either
//!
//! - the listener draws each connection's key so that `token % n == core`
//!   (`mptfo_proto::crypto::draw_key` with an accept predicate, plus the
//!   uniqueness check against the token table): on average `n` SHA-256 per
//!   connection, paid once per connection; or
//! - the receiving core hands the join's packets to the owning core over a
//!   queue: paid per join packet (and the classify step per frame).
//!
//! Groups: `draw_key/n` (per key drawn), `handoff/round_trip` (one buffer
//! to the other pinned thread and back), `handoff/one_way` (streamed:
//! per packet, throughput), `classify` (classify_frame + core_of per frame),
//! `join_steering` (the steering decision per frame since join SYNs go by
//! token: an ordinary data segment and a plain SYN, each also through
//! `classify_frame_by_tuple`, the parse without the join step, as the
//! reference; an MP_JOIN SYN's option walk + `join_owner`).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_queue::ArrayQueue;
use mptfo_engine::shard::{
    classify_frame, classify_frame_by_tuple, core_of, join_owner, FrameClass,
};
use mptfo_proto::crypto::draw_key;

fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn bench_draw_key(c: &mut Criterion) {
    let mut g = c.benchmark_group("draw_key");
    for n in [1u32, 2, 4, 8, 16] {
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            let mut rng = 0x1234_5678_9abc_def0u64;
            // A token table of a busy core: 10k live connections.
            let mut tokens: HashMap<u32, u32, ahash::RandomState> =
                HashMap::with_hasher(ahash::RandomState::with_seeds(1, 2, 3, 4));
            let k = n - 1;
            while tokens.len() < 10_000 {
                let m = draw_key(&mut || splitmix(&mut rng), |m| m.token % n == k);
                tokens.insert(m.token, 0);
            }
            b.iter(|| {
                let m = draw_key(&mut || splitmix(&mut rng), |m| {
                    m.token % n == k && !tokens.contains_key(&m.token)
                });
                black_box(m)
            })
        });
    }
    g.finish();
}

/// The CPUs this process may use.
fn cpus() -> Vec<usize> {
    core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

fn pin(cpu: Option<usize>) {
    if let Some(id) = cpu {
        core_affinity::set_for_current(core_affinity::CoreId { id });
    }
}

/// A packet buffer as a worker holds it: a pointer-sized owned handle to
/// 2 KiB of frame.
type Pkt = Box<[u8; 2048]>;

fn bench_handoff(c: &mut Criterion) {
    let cpus = cpus();
    let (cpu_a, cpu_b) = (cpus.first().copied(), cpus.get(1).copied());
    eprintln!("handoff: pinned threads on CPUs {cpu_a:?} and {cpu_b:?}");
    let mut g = c.benchmark_group("handoff");

    // Round trip: push to the other core, which touches the frame and
    // pushes it back; per packet round trip.
    {
        let to_b = Arc::new(ArrayQueue::<Pkt>::new(1024));
        let to_a = Arc::new(ArrayQueue::<Pkt>::new(1024));
        let stop = Arc::new(AtomicBool::new(false));
        let peer = {
            let (to_b, to_a, stop) = (to_b.clone(), to_a.clone(), stop.clone());
            std::thread::spawn(move || {
                pin(cpu_b);
                while !stop.load(Ordering::Relaxed) {
                    if let Some(mut p) = to_b.pop() {
                        p[0] = p[0].wrapping_add(1);
                        let _ = to_a.push(p);
                    } else {
                        std::hint::spin_loop();
                    }
                }
            })
        };
        pin(cpu_a);
        let mut pkt: Option<Pkt> = Some(Box::new([0u8; 2048]));
        g.bench_function("round_trip", |b| {
            b.iter(|| {
                let p = pkt.take().expect("buffer");
                if to_b.push(p).is_err() {
                    unreachable!("queue full");
                }
                loop {
                    if let Some(p) = to_a.pop() {
                        pkt = Some(p);
                        break;
                    }
                    std::hint::spin_loop();
                }
            })
        });
        stop.store(true, Ordering::Relaxed);
        peer.join().unwrap();
    }

    // One way, streamed: this thread pushes, the other pops (and returns
    // the buffers to a free queue, as a mempool would); per packet.
    {
        let ring = Arc::new(ArrayQueue::<Pkt>::new(1024));
        let free = Arc::new(ArrayQueue::<Pkt>::new(4096));
        for _ in 0..2048 {
            let _ = free.push(Box::new([0u8; 2048]));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let peer = {
            let (ring, free, stop) = (ring.clone(), free.clone(), stop.clone());
            std::thread::spawn(move || {
                pin(cpu_b);
                while !stop.load(Ordering::Relaxed) {
                    if let Some(mut p) = ring.pop() {
                        p[0] = p[0].wrapping_add(1);
                        let _ = free.push(p);
                    } else {
                        std::hint::spin_loop();
                    }
                }
            })
        };
        g.throughput(Throughput::Elements(1));
        g.bench_function("one_way", |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    let mut p = loop {
                        if let Some(p) = free.pop() {
                            break p;
                        }
                        std::hint::spin_loop();
                    };
                    p[1] = 1;
                    let mut p = Some(p);
                    while let Some(q) = p.take() {
                        if let Err(q) = ring.push(q) {
                            p = Some(q);
                            std::hint::spin_loop();
                        }
                    }
                }
                // Drained: every packet reached the other core.
                while !ring.is_empty() {
                    std::hint::spin_loop();
                }
                t.elapsed()
            })
        });
        stop.store(true, Ordering::Relaxed);
        peer.join().unwrap();
    }
    g.finish();
}

/// An IPv4 TCP frame (MP_JOIN SYN sized) from `sport`.
fn frame(sport: u16) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 32 + 12];
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..];
    ip[0] = 0x45;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&[10, 77, 1, 1]);
    ip[16..20].copy_from_slice(&[10, 77, 1, 2]);
    let tcp = &mut ip[20..];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&8080u16.to_be_bytes());
    f
}

fn bench_classify(c: &mut Criterion) {
    let frames: Vec<Vec<u8>> = (0..64).map(|i| frame(40000 + i * 7)).collect();
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(1));
    for n in [2usize, 16] {
        g.bench_with_input(BenchmarkId::new("frame+core_of", n), &n, |b, &n| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) & 63;
                match classify_frame(black_box(&frames[i])) {
                    FrameClass::Tcp(t, _) => core_of(&t, n),
                    _ => usize::MAX,
                }
            })
        });
    }
    g.finish();
}

/// An IPv4 TCP frame from `sport` with flags `flags` and TCP options
/// `opts` (a multiple of 4 bytes).
fn segment(sport: u16, flags: u8, opts: &[u8]) -> Vec<u8> {
    let mut f = frame(sport);
    f.truncate(14 + 20 + 20);
    f.extend_from_slice(opts);
    f[14 + 20 + 12] = ((20 + opts.len()) / 4) as u8 * 16;
    f[14 + 20 + 13] = flags;
    f
}

/// Options of a Linux 6.18 SYN: MSS, SACK permitted, timestamps, NOP,
/// window scale, then `mptcp` (MP_CAPABLE or MP_JOIN, 12 bytes).
fn syn_options(mptcp: [u8; 12]) -> Vec<u8> {
    let mut o = vec![
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    ];
    o.extend_from_slice(&mptcp);
    o
}

/// The steering decision for one frame, as the steering step makes it.
fn decide(f: &[u8], n: usize) -> usize {
    match classify_frame(f) {
        FrameClass::Tcp(t, _) => core_of(&t, n),
        FrameClass::JoinSyn(_, token) => join_owner(token, n),
        _ => usize::MAX,
    }
}

fn bench_join_steering(c: &mut Criterion) {
    const N: usize = 2;
    // Ordinary segments: an ACK with timestamps and a DSS (data), the
    // bulk of the traffic; a plain SYN (MP_CAPABLE, walked, no join).
    let ts_dss: Vec<u8> = {
        let mut o = vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2];
        o.extend_from_slice(&[
            30, 20, 0x20, 0x05, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 100,
        ]);
        o.extend_from_slice(&[0, 0]);
        o
    };
    let data: Vec<Vec<u8>> = (0..64)
        .map(|i| segment(40000 + i * 7, 0x18, &ts_dss))
        .collect();
    let capable = syn_options([30, 12, 0x01, 0x81, 1, 2, 3, 4, 5, 6, 7, 8]);
    let syns: Vec<Vec<u8>> = (0..64)
        .map(|i| segment(40000 + i * 7, 0x02, &capable))
        .collect();
    let joins: Vec<Vec<u8>> = (0..64u16)
        .map(|i| {
            let t = 0x1000_0000u32 + u32::from(i) * 977;
            let b = t.to_be_bytes();
            let join = syn_options([30, 12, 0x10, 2, b[0], b[1], b[2], b[3], 9, 9, 9, 9]);
            segment(40000 + i * 7, 0x02, &join)
        })
        .collect();
    assert!(joins
        .iter()
        .all(|f| matches!(classify_frame(f), FrameClass::JoinSyn(..))));
    assert!(data
        .iter()
        .chain(&syns)
        .all(|f| matches!(classify_frame(f), FrameClass::Tcp(..))));
    let mut g = c.benchmark_group("join_steering");
    g.throughput(Throughput::Elements(1));
    for (name, frames) in [("data", &data), ("syn", &syns)] {
        g.bench_function(BenchmarkId::new("by_tuple+core_of", name), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) & 63;
                match classify_frame_by_tuple(black_box(&frames[i])) {
                    FrameClass::Tcp(t, _) => core_of(&t, N),
                    _ => usize::MAX,
                }
            })
        });
        g.bench_function(BenchmarkId::new("classify+decide", name), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) & 63;
                decide(black_box(&frames[i]), N)
            })
        });
    }
    g.bench_function(BenchmarkId::new("classify+decide", "join_syn"), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & 63;
            decide(black_box(&joins[i]), N)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = bench_draw_key, bench_handoff, bench_classify, bench_join_steering
}
criterion_main!(benches);
