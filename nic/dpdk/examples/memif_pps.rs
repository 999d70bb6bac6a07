//! Packets per second over `net_memif` between two processes (a memif
//! link needs two EALs, so two processes): the client sends frames as fast
//! as the link takes them for a bounded time, the server receives and
//! counts them (and checks the sequence numbers for loss).
//!
//!     cargo run --release -p mptfo-dpdk --example memif_pps [secs] [frame bytes]
//!
//! runs both roles as child processes of itself on different cores, over
//! a unix socket in /tmp that is removed afterwards, and prints both
//! reports. One role alone:
//!
//!     memif_pps server|client SOCKET SECS FRAME CPU

use mptfo_dpdk::{DpdkPort, DpdkQueue, Eal, Mempool, PortConfig, BURST};
use mptfo_nic::{Buf, Port};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cpus() -> Vec<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or("0")
        .trim()
        .to_owned();
    let mut out = Vec::new();
    for part in list.split(',') {
        let mut ends = part
            .split('-')
            .map(|s| s.trim().parse::<u32>().unwrap_or(0));
        let lo = ends.next().unwrap_or(0);
        let hi = ends.next().unwrap_or(lo);
        out.extend((lo..=hi).map(|c| c.to_string()));
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(role @ ("server" | "client")) => {
            let socket = &args[2];
            let secs: f64 = args[3].parse().expect("secs");
            let frame: usize = args[4].parse().expect("frame bytes");
            let cpu = &args[5];
            std::process::exit(role_main(role, socket, secs, frame, cpu));
        }
        _ => {
            let secs: f64 = args.get(1).map_or(5.0, |s| s.parse().expect("secs"));
            let frame: usize = args.get(2).map_or(64, |s| s.parse().expect("frame bytes"));
            std::process::exit(orchestrate(secs, frame));
        }
    }
}

/// Runs server and client as child processes and waits for both.
fn orchestrate(secs: f64, frame: usize) -> i32 {
    let exe = std::env::current_exe().expect("own path");
    let socket = format!("/tmp/mptfo-memif-{}.sock", std::process::id());
    let cpus = cpus();
    let server_cpu = cpus[0].clone();
    let client_cpu = cpus.get(1).unwrap_or(&cpus[0]).clone();
    let spawn = |role: &str, cpu: &str| {
        Command::new(&exe)
            .args([role, &socket, &secs.to_string(), &frame.to_string(), cpu])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn a role")
    };
    let mut server = spawn("server", &server_cpu);
    // The client's EAL init fails unless the server's socket exists.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::path::Path::new(&socket).exists() {
        if Instant::now() > deadline || server.try_wait().ok().flatten().is_some() {
            eprintln!("memif_pps: the server did not create {socket}");
            let _ = server.kill();
            let _ = server.wait();
            let _ = std::fs::remove_file(&socket);
            return 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut client = spawn("client", &client_cpu);
    let c = client.wait().expect("client");
    let s = server.wait().expect("server");
    let _ = std::fs::remove_file(&socket);
    assert!(
        !std::path::Path::new(&socket).exists(),
        "memif socket removed"
    );
    if c.success() && s.success() {
        0
    } else {
        eprintln!("memif_pps: client {c}, server {s}");
        1
    }
}

fn role_main(role: &str, socket: &str, secs: f64, frame: usize, cpu: &str) -> i32 {
    let prefix = format!("mptfo-memif-{role}-{}", std::process::id());
    let prefix_arg = format!("--file-prefix={prefix}");
    let vdev = format!("--vdev=net_memif0,role={role},socket={socket},socket-abstract=no");
    let args = [
        "--no-huge",
        "-m",
        "256",
        "--no-pci",
        "--no-shconf",
        "--no-telemetry",
        "--log-level=notice",
        "-l",
        cpu,
        &prefix_arg,
        &vdev,
    ];
    println!("{role}: EAL arguments: {}", args.join(" "));
    let ok = match Eal::init(&args) {
        Ok(eal) => {
            let ok = run_role(&eal, role, secs, frame);
            drop(eal);
            ok
        }
        Err(e) => {
            eprintln!("memif_pps {role}: {e}");
            false
        }
    };
    // EAL makes its runtime directory even with --no-shconf (and on a
    // failed init); it is empty once EAL is gone.
    let _ = std::fs::remove_dir(format!("/var/run/dpdk/{prefix}"));
    let _ = std::fs::remove_dir("/var/run/dpdk");
    if ok {
        0
    } else {
        1
    }
}

fn run_role(eal: &Eal, role: &str, secs: f64, frame: usize) -> bool {
    let pool = Mempool::new(eal, "memif_pps", 8191, 256, 2048).expect("mempool");
    let (port, mut queues) =
        DpdkPort::configure(eal, "net_memif0", &PortConfig::default(), &pool).expect("configure");
    let q = &mut queues[0];
    // The link comes up once the peer has connected.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut rx = Vec::with_capacity(BURST);
    while !port.link_up() {
        if Instant::now() > deadline {
            eprintln!("{role}: memif link did not come up");
            return false;
        }
        q.rx_burst(&mut rx, BURST);
        rx.clear();
        std::thread::sleep(Duration::from_millis(10));
    }
    if role == "client" {
        client(q, secs, frame);
        // Give the server time to drain its ring before the link goes.
        std::thread::sleep(Duration::from_millis(1500));
        true
    } else {
        server(q, secs)
    }
}

fn client(q: &mut DpdkQueue<'_>, secs: f64, frame: usize) {
    let mut template = vec![0u8; frame];
    template[..6].fill(0xff);
    template[12..14].copy_from_slice(&[0x88, 0xb5]);
    let mut tx = Vec::with_capacity(BURST);
    let mut seq = 0u64;
    let mut sent = 0u64;
    let start = Instant::now();
    let limit = Duration::from_secs_f64(secs);
    let mut rounds = 0u32;
    loop {
        rounds = rounds.wrapping_add(1);
        if rounds.is_multiple_of(64) && start.elapsed() >= limit {
            break;
        }
        while tx.len() < BURST {
            let mut b = q.alloc().expect("pool has buffers");
            let f = b.append(frame).expect("frame fits");
            f.copy_from_slice(&template);
            f[14..22].copy_from_slice(&seq.to_be_bytes());
            seq += 1;
            tx.push(b);
        }
        sent += q.tx_burst(&mut tx) as u64;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "client: sent {sent} frames of {frame} B in {elapsed:.3} s: {:.2} Mpps, {:.2} Gbit/s",
        sent as f64 / elapsed / 1e6,
        sent as f64 * frame as f64 * 8.0 / elapsed / 1e9
    );
}

fn server(q: &mut DpdkQueue<'_>, secs: f64) -> bool {
    let mut rx = Vec::with_capacity(BURST);
    let mut received = 0u64;
    let mut bytes = 0u64;
    let mut max_seq = 0u64;
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    let hard_stop = Instant::now() + Duration::from_secs_f64(secs + 20.0);
    let mut empty_polls = 0u32;
    loop {
        let n = q.rx_burst(&mut rx, BURST);
        if n > 0 {
            if first.is_none() {
                first = Some(Instant::now());
            }
            empty_polls = 0;
            for b in rx.drain(..) {
                let d = b.data();
                bytes += d.len() as u64;
                if d.len() >= 22 {
                    let mut s = [0u8; 8];
                    s.copy_from_slice(&d[14..22]);
                    max_seq = max_seq.max(u64::from_be_bytes(s));
                }
            }
            received += n as u64;
        } else {
            // The clock is read only now and then: it costs more than an
            // empty poll.
            empty_polls += 1;
            if empty_polls == 1 {
                last = Instant::now();
            } else if empty_polls.is_multiple_of(4096)
                && ((first.is_some() && last.elapsed() > Duration::from_millis(500))
                    || Instant::now() > hard_stop)
            {
                break;
            }
        }
    }
    let Some(first) = first else {
        eprintln!("server: received nothing");
        return false;
    };
    let elapsed = last.duration_since(first).as_secs_f64().max(1e-9);
    let lost = (max_seq + 1).saturating_sub(received);
    println!(
        "server: received {received} frames ({lost} missing) in {elapsed:.3} s: {:.2} Mpps, {:.2} Gbit/s",
        received as f64 / elapsed / 1e6,
        bytes as f64 * 8.0 / elapsed / 1e9
    );
    true
}
