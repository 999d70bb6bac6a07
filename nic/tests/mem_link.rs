//! The mem link: timing in virtual time, fault injection, rate limiting,
//! run-time control, offloads, back-pressure, and two threads.

mod common;

use common::*;
use mptfo_nic::{
    Buf, ChecksumCaps, ChecksumStatus, Clock, Direction, DirectionConfig, LinkConfig, MemLink,
    MemPort, Port, TxOffload,
};

const MS: u64 = 1_000_000;
const US: u64 = 1_000;

#[test]
fn frames_arrive_after_the_one_way_delay_of_their_direction() {
    let config = LinkConfig {
        a_to_b: DirectionConfig::with_delay(10 * MS),
        b_to_a: DirectionConfig::with_delay(3 * MS),
        ..LinkConfig::default()
    };
    let (mut a, mut b) = MemLink::pair(config, 1);
    let clock = a.clock().clone();
    clock.set(5 * MS);
    assert_eq!(send_frames(&mut a, &[seq_frame(1, 64)]), 1);
    assert_eq!(send_frames(&mut b, &[seq_frame(2, 64)]), 1);

    assert_eq!(b.next_delivery_time(), Some(15 * MS));
    assert_eq!(a.next_delivery_time(), Some(8 * MS));
    assert!(receive_now(&mut b).is_empty());

    clock.set(8 * MS - 1);
    assert!(receive_now(&mut a).is_empty());
    clock.set(8 * MS);
    assert_eq!(receive_now(&mut a), vec![seq_frame(2, 64)]);

    clock.set(15 * MS - 1);
    assert!(receive_now(&mut b).is_empty());
    clock.set(15 * MS);
    assert_eq!(receive_now(&mut b), vec![seq_frame(1, 64)]);
    assert_eq!(b.next_delivery_time(), None);

    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!((sa.tx_packets, sa.tx_bytes, sa.rx_packets), (1, 64, 1));
    assert_eq!((sb.tx_packets, sb.rx_packets, sb.rx_bytes), (1, 1, 64));
}

#[test]
fn received_buffers_are_the_receivers_own() {
    let (mut a, mut b) = MemLink::pair(LinkConfig::default(), 1);
    // The sender keeps a reference (as a retransmission queue would).
    let mut buf = a.alloc().unwrap();
    assert!(buf.append_slice(&seq_frame(7, 100)));
    let kept = buf.share();
    let mut pkts = vec![buf];
    assert_eq!(a.tx_burst(&mut pkts), 1);
    assert!(pkts.is_empty());

    let mut out = Vec::new();
    assert_eq!(b.rx_burst(&mut out, 32), 1);
    let mut got = out.pop().unwrap();
    assert_eq!(got.data(), kept.data());
    assert_eq!(got.headroom(), mptfo_nic::DEFAULT_HEADROOM);
    assert!(got.data_mut().is_some(), "a received buffer is writable");
    assert_eq!(b.pool().in_use(), 1);
    // The link released its reference: only `kept` holds the sender's block.
    assert_eq!(kept.ref_count(), 1);
    drop(kept);
    assert_eq!(a.pool().in_use(), 0);
    drop(got);
    assert_eq!(b.pool().in_use(), 0);
}

#[test]
fn jitter_stays_within_bounds_and_reorders() {
    let config = LinkConfig::symmetric(DirectionConfig {
        delay_ns: MS,
        jitter_ns: 500 * US,
        ..DirectionConfig::default()
    });
    let (mut a, mut b) = MemLink::pair(config, 7);
    let clock = a.clock().clone();
    let mut arrivals = Vec::new();
    for i in 0..1000u64 {
        let t = i * 10 * US;
        arrivals.extend(receive_until(&mut b, t));
        clock.set(t);
        assert_eq!(send_frames(&mut a, &[seq_frame(i, 64)]), 1);
    }
    arrivals.extend(receive_until(&mut b, u64::MAX));
    assert_eq!(arrivals.len(), 1000);
    let mut overtaken = 0;
    let mut highest = 0;
    for (t, f) in &arrivals {
        let seq = seq_of(f);
        let sent = seq * 10 * US;
        assert!(
            *t >= sent + MS && *t <= sent + MS + 500 * US,
            "seq {seq} at {t}"
        );
        if seq < highest {
            overtaken += 1;
        }
        highest = highest.max(seq);
    }
    assert!(
        overtaken > 100,
        "jitter 50x the spacing reorders: {overtaken}"
    );
}

/// Sends 10,000 frames 10 µs apart through lossy, duplicating, reordering
/// A→B and returns each arrival as (time, seq).
fn faulty_run(seed: u64) -> (Vec<(u64, u64)>, mptfo_nic::LinkStats) {
    let config = LinkConfig {
        a_to_b: DirectionConfig {
            delay_ns: 2 * MS,
            loss: 0.10,
            duplicate: 0.05,
            reorder: 0.05,
            reorder_delay_ns: 100 * US,
            ..DirectionConfig::default()
        },
        ..LinkConfig::default()
    };
    let (mut a, mut b) = MemLink::pair(config, seed);
    let clock = a.clock().clone();
    let mut arrivals = Vec::new();
    for i in 0..10_000u64 {
        let t = i * 10 * US;
        arrivals.extend(receive_until(&mut b, t));
        clock.set(t);
        assert_eq!(send_frames(&mut a, &[seq_frame(i, 60)]), 1);
    }
    arrivals.extend(receive_until(&mut b, u64::MAX));
    let stats = a.control().stats(Direction::AToB);
    (
        arrivals.into_iter().map(|(t, f)| (t, seq_of(&f))).collect(),
        stats,
    )
}

#[test]
fn loss_duplication_and_reordering_follow_the_configuration() {
    let (arrivals, stats) = faulty_run(42);
    assert_eq!(stats.offered, 10_000);

    let mut seen = vec![false; 10_000];
    let mut duplicates = 0u64;
    let mut late = 0u64;
    let mut highest = 0u64;
    for &(_, seq) in &arrivals {
        if seen[seq as usize] {
            duplicates += 1;
            continue;
        }
        seen[seq as usize] = true;
        if seq < highest {
            late += 1;
        }
        highest = highest.max(seq);
    }
    let unique = seen.iter().filter(|&&s| s).count() as u64;
    let lost = 10_000 - unique;
    eprintln!("lost {lost}, duplicates {duplicates}, late {late}, {stats:?}");
    // What the receiver saw is exactly what the link reports...
    assert_eq!(lost, stats.lost);
    assert_eq!(duplicates, stats.duplicated);
    // ...and near the configured rates (about 5 standard deviations).
    assert!((850..=1150).contains(&lost), "lost {lost}");
    assert!((350..=560).contains(&duplicates), "duplicates {duplicates}");
    assert!((330..=560).contains(&stats.reordered), "{stats:?}");
    // A held-back frame arrives after later ones, unless its duplicate
    // arrived on time.
    assert!((300..=540).contains(&late), "late {late}");
    assert!(late <= stats.reordered);
}

#[test]
fn same_seed_same_deliveries() {
    let first = faulty_run(42);
    let second = faulty_run(42);
    assert_eq!(first, second);
    let other = faulty_run(43);
    assert_ne!(first.0, other.0);
}

#[test]
fn rate_limit_serialises_frames_and_drops_at_the_tail() {
    // 1000-byte frames at 8 Mbit/s take 1 ms each; 10 fit in the queue.
    let config = LinkConfig {
        a_to_b: DirectionConfig {
            delay_ns: 5 * MS,
            rate_bps: Some(8_000_000),
            queue_packets: 10,
            ..DirectionConfig::default()
        },
        ..LinkConfig::default()
    };
    let (mut a, mut b) = MemLink::pair(config, 3);
    let frames: Vec<_> = (0..15).map(|i| seq_frame(i, 1000)).collect();
    assert_eq!(send_frames(&mut a, &frames), 15, "the port accepts all");
    let stats = a.control().stats(Direction::AToB);
    assert_eq!(stats.queue_dropped, 5);
    assert_eq!(a.stats().tx_packets, 15);

    // At 3.5 ms three frames are through: room for three more.
    a.clock().set(3 * MS + 500 * US);
    let more: Vec<_> = (15..20).map(|i| seq_frame(i, 1000)).collect();
    assert_eq!(send_frames(&mut a, &more), 5);
    assert_eq!(a.control().stats(Direction::AToB).queue_dropped, 7);

    let got = receive_until(&mut b, u64::MAX);
    let expected: Vec<(u64, u64)> = (0..10)
        .map(|i| ((i + 1) * MS + 5 * MS, i))
        .chain((15..18).map(|i| ((i - 4) * MS + 5 * MS, i)))
        .collect();
    let got: Vec<(u64, u64)> = got.iter().map(|(t, f)| (*t, seq_of(f))).collect();
    assert_eq!(got, expected);

    // An idle link starts serialising at once.
    let now = a.clock().now();
    assert_eq!(send_frames(&mut a, &[seq_frame(99, 500)]), 1);
    assert_eq!(b.next_delivery_time(), Some(now + 500 * US + 5 * MS));
}

#[test]
fn a_path_can_be_black_holed_and_restored_at_run_time() {
    let config = LinkConfig::symmetric(DirectionConfig::with_delay(MS));
    let (mut a, mut b) = MemLink::pair(config, 9);
    let control = b.control();
    let saved = control.config(Direction::AToB);

    assert_eq!(send_frames(&mut a, &[seq_frame(0, 64)]), 1);
    control.set_loss(Direction::AToB, 1.0);
    let frames: Vec<_> = (1..=100).map(|i| seq_frame(i, 64)).collect();
    assert_eq!(send_frames(&mut a, &frames), 100);
    // The other direction is untouched.
    assert_eq!(send_frames(&mut b, &[seq_frame(500, 64)]), 1);
    let got = receive_until(&mut b, u64::MAX);
    assert_eq!(got.len(), 1, "only the frame sent before the black hole");
    assert_eq!(seq_of(&got[0].1), 0);
    assert_eq!(receive_until(&mut a, u64::MAX).len(), 1);
    assert_eq!(control.stats(Direction::AToB).lost, 100);

    control.set_config(Direction::AToB, saved);
    assert_eq!(send_frames(&mut a, &[seq_frame(101, 64)]), 1);
    let got = receive_until(&mut b, u64::MAX);
    assert_eq!(got.len(), 1);
    assert_eq!(seq_of(&got[0].1), 101);
}

#[test]
#[should_panic(expected = "loss")]
fn an_invalid_change_is_refused() {
    let (a, _b) = MemLink::pair(LinkConfig::default(), 0);
    a.control().set_loss(Direction::BToA, 2.0);
}

#[test]
fn offloaded_checksums_are_filled_in_and_reported_good() {
    let (mut a, mut b) = MemLink::pair(LinkConfig::default(), 0);
    assert_eq!(a.caps().checksum, ChecksumCaps::OFFLOADED);
    let prepared = tcp_frame(40000, 1, b"hello", false);
    assert!(!tcp_frame_checksums_verify(&prepared));
    let mut buf = a.alloc().unwrap();
    assert!(buf.append_slice(&prepared));
    buf.set_tx_offload(TxOffload {
        l2_len: 14,
        l3_len: 20,
        ipv4_checksum: true,
        tcp_checksum: true,
    });
    let kept = buf.share();
    assert_eq!(a.tx_burst(&mut vec![buf]), 1);
    let mut out = Vec::new();
    assert_eq!(b.rx_burst(&mut out, 1), 1);
    assert!(tcp_frame_checksums_verify(out[0].data()));
    assert_eq!(out[0].data(), &tcp_frame(40000, 1, b"hello", true)[..]);
    assert_eq!(out[0].rx_flags().ip_checksum, ChecksumStatus::Good);
    assert_eq!(out[0].rx_flags().l4_checksum, ChecksumStatus::Good);
    // The NIC does not write into the sender's memory.
    assert_eq!(kept.data(), &prepared[..]);
}

#[test]
fn without_offload_frames_pass_untouched_and_flags_are_unknown() {
    let config = LinkConfig {
        checksum: ChecksumCaps::SOFTWARE,
        ..LinkConfig::default()
    };
    let (mut a, mut b) = MemLink::pair(config, 0);
    assert_eq!(b.caps().checksum, ChecksumCaps::SOFTWARE);
    let prepared = tcp_frame(40000, 1, b"hello", false);
    let mut buf = a.alloc().unwrap();
    assert!(buf.append_slice(&prepared));
    buf.set_tx_offload(TxOffload {
        l2_len: 14,
        l3_len: 20,
        ipv4_checksum: true,
        tcp_checksum: true,
    });
    assert_eq!(a.tx_burst(&mut vec![buf]), 1);
    let mut out = Vec::new();
    assert_eq!(b.rx_burst(&mut out, 1), 1);
    assert_eq!(out[0].data(), &prepared[..]);
    assert_eq!(out[0].rx_flags().ip_checksum, ChecksumStatus::Unknown);
    assert_eq!(out[0].rx_flags().l4_checksum, ChecksumStatus::Unknown);
}

#[test]
fn frames_longer_than_the_mtu_are_dropped_on_transmit() {
    let (mut a, mut b) = MemLink::pair(LinkConfig::default(), 0);
    let caps = a.caps();
    assert_eq!(
        (caps.mtu, caps.mac, caps.rss),
        (1500, [2, 0, 0, 0, 0, 1], false)
    );
    assert_eq!(b.caps().mac, [2, 0, 0, 0, 0, 2]);
    let frames = vec![seq_frame(0, 1514), seq_frame(1, 1515)];
    assert_eq!(send_frames(&mut a, &frames), 2);
    assert_eq!(a.stats().tx_dropped, 1);
    assert_eq!(a.stats().tx_packets, 1);
    assert_eq!(receive_now(&mut b), vec![seq_frame(0, 1514)]);
}

#[test]
fn a_full_wire_pushes_back_and_rx_burst_respects_max() {
    let config = LinkConfig {
        wire_slots: 4,
        ..LinkConfig::default()
    };
    let (mut a, mut b) = MemLink::pair(config, 0);
    let mut pkts: Vec<_> = (0..10)
        .map(|i| {
            let mut buf = a.alloc().unwrap();
            assert!(buf.append_slice(&seq_frame(i, 64)));
            buf
        })
        .collect();
    assert_eq!(a.tx_burst(&mut pkts), 4);
    assert_eq!(pkts.len(), 6);
    assert_eq!(seq_of(pkts[0].data()), 4, "the rest stay, in order");
    assert_eq!(a.tx_burst(&mut pkts), 0);

    let mut out = Vec::new();
    assert_eq!(b.rx_burst(&mut out, 3), 3);
    assert_eq!(b.pending_rx(), 1);
    assert_eq!(a.tx_burst(&mut pkts), 4);
    assert_eq!(b.rx_burst(&mut out, 32), 5);
    assert_eq!(a.tx_burst(&mut pkts), 2);
    assert_eq!(b.rx_burst(&mut out, 32), 2);
    let seqs: Vec<u64> = out.iter().map(|b| seq_of(b.data())).collect();
    assert_eq!(seqs, (0..10).collect::<Vec<_>>());
}

#[test]
fn an_exhausted_receive_pool_drops_and_counts() {
    let config = LinkConfig {
        pool_buffers: 4,
        ..LinkConfig::default()
    };
    let (mut a, mut b) = MemLink::pair(config, 0);
    let frames: Vec<_> = (0..4).map(|i| seq_frame(i, 64)).collect();
    assert_eq!(send_frames(&mut a, &frames), 4);
    let mut held = Vec::new();
    assert_eq!(b.rx_burst(&mut held, 32), 4);
    assert!(b.alloc().is_none());
    // The sender's buffers came back when B copied the frames.
    assert_eq!(a.pool().in_use(), 0);
    assert_eq!(send_frames(&mut a, &frames), 4);
    assert_eq!(b.rx_burst(&mut held, 32), 0);
    assert_eq!(b.stats().rx_dropped, 4);
    held.clear();
    assert_eq!(b.pool().free(), 4);
}

#[test]
fn pool_recycles_in_steady_state() {
    let (mut a, mut b) = MemLink::pair(LinkConfig::default(), 0);
    for round in 0..100u64 {
        let frames: Vec<_> = (0..32).map(|i| seq_frame(round * 32 + i, 128)).collect();
        assert_eq!(send_frames(&mut a, &frames), 32);
        assert_eq!(receive_now(&mut b).len(), 32);
    }
    assert_eq!(a.pool().created(), 32);
    assert_eq!(b.pool().created(), 32);
    assert_eq!(a.pool().in_use() + b.pool().in_use(), 0);
}

#[test]
fn two_threads_deliver_everything_in_order() {
    const N: u64 = 200_000;
    let (mut a, mut b) = MemLink::pair_with_clock(LinkConfig::default(), 0, Clock::real_time());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let sender = std::thread::spawn(move || {
        let mut pkts: Vec<mptfo_nic::MemBuf> = Vec::with_capacity(32);
        let mut next = 0u64;
        while next < N || !pkts.is_empty() {
            assert!(std::time::Instant::now() < deadline, "sender timed out");
            while pkts.len() < 32 && next < N {
                let Some(mut buf) = a.alloc() else { break };
                assert!(buf.append_slice(&seq_frame(next, 64)));
                pkts.push(buf);
                next += 1;
            }
            a.tx_burst(&mut pkts);
        }
        a
    });
    let mut expected = 0u64;
    let mut out = Vec::with_capacity(32);
    while expected < N {
        assert!(std::time::Instant::now() < deadline, "receiver timed out");
        b.rx_burst(&mut out, 32);
        for buf in out.drain(..) {
            assert_eq!(seq_of(buf.data()), expected);
            expected += 1;
        }
    }
    let a: MemPort = sender.join().unwrap();
    assert_eq!(a.stats().tx_packets, N);
    assert_eq!(b.stats().rx_packets, N);
    assert_eq!(a.pool().in_use(), 0);
    assert_eq!(b.pool().in_use(), 0);
}
