//! Packets per second through `net_ring0` in one thread: every round
//! allocates 32 buffers, writes a 64-byte frame into each, sends the burst,
//! receives it back (net_ring loops TX to RX) and drops the buffers. So it
//! measures the per-packet cost of this crate's Buf/Port layer on top of
//! DPDK (alloc, write, tx, rx, free), not a wire.
//!
//!     cargo run --release -p mptfo-dpdk --example ring_pps [packets]

use mptfo_dpdk::{DpdkPort, Eal, Mempool, PortConfig, BURST};
use mptfo_nic::{Buf, Port};
use std::time::Instant;

const FRAME: usize = 64;

fn first_cpu() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .and_then(|l| l.trim().split([',', '-']).next().map(str::to_owned))
        .unwrap_or_else(|| "0".into())
}

fn main() {
    let packets: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("packets: a number"))
        .unwrap_or(20_000_000);
    let cpu = first_cpu();
    let prefix = format!("--file-prefix=mptfo-ring-pps-{}", std::process::id());
    let args = [
        "--no-huge",
        "-m",
        "256",
        "--no-pci",
        "--no-shconf",
        "--no-telemetry",
        "--log-level=notice",
        "-l",
        &cpu,
        &prefix,
        "--vdev=net_ring0",
    ];
    println!("EAL arguments: {}", args.join(" "));
    let eal = match Eal::init(&args) {
        Ok(eal) => eal,
        Err(e) => {
            eprintln!("ring_pps: {e}");
            remove_runtime_dir(&prefix["--file-prefix=".len()..]);
            std::process::exit(1);
        }
    };
    run(&eal, packets);
    drop(eal);
    remove_runtime_dir(&prefix["--file-prefix=".len()..]);
}

fn run(eal: &Eal, packets: u64) {
    let pool = Mempool::new(eal, "ring_pps", 8191, 256, 2048).expect("mempool");
    let (_port, mut queues) =
        DpdkPort::configure(eal, "net_ring0", &PortConfig::default(), &pool).expect("configure");
    let q = &mut queues[0];
    let mut template = [0u8; FRAME];
    template[..6].fill(0xff);
    template[12..14].copy_from_slice(&[0x88, 0xb5]);
    let mut tx = Vec::with_capacity(BURST);
    let mut rx = Vec::with_capacity(BURST);
    let mut sent = 0u64;
    let mut received = 0u64;
    let start = Instant::now();
    while received < packets {
        while tx.len() < BURST {
            let mut b = q.alloc().expect("pool has buffers");
            let f = b.append(FRAME).expect("64 bytes fit");
            f.copy_from_slice(&template);
            f[14..22].copy_from_slice(&sent.to_be_bytes());
            tx.push(b);
            sent += 1;
        }
        q.tx_burst(&mut tx);
        received += q.rx_burst(&mut rx, BURST) as u64;
        rx.clear();
    }
    let secs = start.elapsed().as_secs_f64();
    let stats = q.stats();
    assert_eq!(stats.rx_packets, received);
    println!(
        "ring_pps: {received} frames of {FRAME} B in {secs:.3} s: {:.2} Mpps ({:.1} ns/frame; alloc + write + tx + rx + free, burst {BURST}, one thread)",
        received as f64 / secs / 1e6,
        secs * 1e9 / received as f64
    );
    drop(tx);
    drop(queues);
}

fn remove_runtime_dir(prefix: &str) {
    let _ = std::fs::remove_dir(format!("/var/run/dpdk/{prefix}"));
    let _ = std::fs::remove_dir("/var/run/dpdk");
}
