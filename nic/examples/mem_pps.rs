//! Packets per second through a MemLink pair in one thread: port A
//! allocates and sends bursts of 32 frames, port B receives and drops them.
//! Ideal link (no delay, no faults), virtual clock at 0.
//!
//!     cargo run --release -p mptfo-nic --example mem_pps [packets]

use mptfo_nic::{Buf, LinkConfig, MemLink, Port};
use std::time::Instant;

const BURST: usize = 32;

/// Sends `packets` frames of `frame_len` bytes from A to B; returns the
/// elapsed seconds.
fn run(packets: u64, frame_len: usize) -> f64 {
    let (mut a, mut b) = MemLink::pair(LinkConfig::default(), 0);
    let template = vec![0x5au8; frame_len];
    let mut tx = Vec::with_capacity(BURST);
    let mut rx = Vec::with_capacity(BURST);
    let mut sent = 0u64;
    let mut received = 0u64;
    let start = Instant::now();
    while received < packets {
        while tx.len() < BURST && sent < packets {
            let mut buf = a.alloc().expect("pool has buffers");
            let frame = buf.append(frame_len).expect("frame fits");
            frame.copy_from_slice(&template);
            frame[14..22].copy_from_slice(&sent.to_be_bytes());
            tx.push(buf);
            sent += 1;
        }
        a.tx_burst(&mut tx);
        received += b.rx_burst(&mut rx, BURST) as u64;
        rx.clear();
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(b.stats().rx_packets, packets);
    secs
}

fn main() {
    let packets: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("packets: a number"))
        .unwrap_or(5_000_000);
    for frame_len in [64usize, 1514] {
        let secs = run(packets, frame_len);
        let pps = packets as f64 / secs;
        println!(
            "mem_pps: {packets} frames of {frame_len} B in {secs:.3} s: {:.2} Mpps, {:.2} Gbit/s (one thread, burst {BURST})",
            pps / 1e6,
            pps * frame_len as f64 * 8.0 / 1e9
        );
    }
}
