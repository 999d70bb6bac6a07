//! net_af_packet on a veth pair, against the Linux kernel as the peer
//! (root only): an ARP request answered by the kernel, an ICMP echo
//! answered by the kernel, and a TCP SYN to a closed port answered with a
//! RST whose checksum the kernel computed in software (tx checksumming
//! turned off on its veth, see dpdk-notes.md).
//!
//! Topology: the DPDK side's veth stays in this process's namespace (no
//! address, IPv6 off, only af_packet uses it); its peer lives in a network
//! namespace made by the test, with 10.213.7.1/24. Deleting the namespace
//! (always, by a guard) deletes the pair.

mod common;

use mptfo_dpdk::{DpdkPort, DpdkQueue, Eal, Mempool, PortConfig};
use mptfo_nic::{Buf, Port};
use mptfo_proto::checksum::{checksum, pseudo_header_v4, Sum};
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

const KERNEL_IP: Ipv4Addr = Ipv4Addr::new(10, 213, 7, 1);
const OUR_IP: Ipv4Addr = Ipv4Addr::new(10, 213, 7, 2);

fn run(cmd: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .map_err(|e| format!("{}: {e}", cmd.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed: {}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The namespace and veth pair; deleted on drop, also when the test
/// panics.
struct Topology {
    ns: String,
    dpdk_if: String,
    kernel_if: String,
    tx_off: bool,
}

impl Topology {
    /// `Ok(None)` when this machine cannot make a network namespace.
    fn create() -> Result<Option<Topology>, String> {
        let pid = std::process::id();
        let t = Topology {
            ns: format!("mptfo-dpdk-test-{pid}"),
            dpdk_if: format!("mdpd{pid}"),
            kernel_if: format!("mdpk{pid}"),
            tx_off: false,
        };
        if let Err(e) = run(&["ip", "netns", "add", &t.ns]) {
            eprintln!("cannot create a network namespace: {e}");
            return Ok(None);
        }
        let mut t = t; // the guard exists from here on
        run(&[
            "ip",
            "link",
            "add",
            &t.dpdk_if,
            "type",
            "veth",
            "peer",
            "name",
            &t.kernel_if,
        ])?;
        run(&["ip", "link", "set", &t.kernel_if, "netns", &t.ns])?;
        let in_ns = |args: &[&str]| {
            let mut v = vec!["ip", "netns", "exec", &t.ns];
            v.extend_from_slice(args);
            run(&v)
        };
        in_ns(&["ip", "link", "set", "lo", "up"])?;
        in_ns(&[
            "ip",
            "addr",
            "add",
            &format!("{KERNEL_IP}/24"),
            "dev",
            &t.kernel_if,
        ])?;
        // The kernel fills TCP checksums in software, so that the frames
        // af_packet hands us carry complete checksums.
        t.tx_off = match in_ns(&["ethtool", "-K", &t.kernel_if, "tx", "off"]) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("note: {e}: TCP checksums from the kernel may be partial");
                false
            }
        };
        in_ns(&["ip", "link", "set", &t.kernel_if, "up"])?;
        // Our side: no kernel traffic of its own (no IPv6 autoconf).
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", t.dpdk_if),
            "1",
        );
        run(&["ip", "link", "set", &t.dpdk_if, "up"])?;
        Ok(Some(t))
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = run(&["ip", "link", "del", &self.dpdk_if]);
        if let Err(e) = run(&["ip", "netns", "del", &self.ns]) {
            eprintln!("cleanup: {e}");
        }
    }
}

fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(98);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

fn arp(op: u16, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
    let dst = if op == 1 { [0xff; 6] } else { tha };
    let mut f = eth(dst, sha, 0x0806);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa.octets());
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa.octets());
    f.resize(60, 0);
    f
}

/// An IPv4 header (checksum filled in) for `payload_len` bytes of `proto`.
fn ipv4(proto: u8, payload_len: usize, id: u16) -> Vec<u8> {
    let total = (20 + payload_len) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&[0x40, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&OUR_IP.octets());
    h.extend_from_slice(&KERNEL_IP.octets());
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

fn send(q: &mut DpdkQueue<'_>, frame: &[u8]) {
    let mut b = q.alloc().expect("alloc");
    assert!(b.append_slice(frame));
    let mut tx = vec![b];
    let deadline = Instant::now() + Duration::from_secs(2);
    while !tx.is_empty() {
        q.tx_burst(&mut tx);
        assert!(Instant::now() < deadline, "tx_burst kept refusing");
    }
}

/// Polls until `want` returns Some for a received frame (answering the
/// kernel's ARP requests for our address meanwhile), or 3 s pass.
fn receive<T>(
    q: &mut DpdkQueue<'_>,
    our_mac: [u8; 6],
    mut want: impl FnMut(&[u8]) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut rx = Vec::new();
    while Instant::now() < deadline {
        q.rx_burst(&mut rx, 32);
        for b in rx.drain(..) {
            let f = b.data();
            if let Some(t) = want(f) {
                return Some(t);
            }
            // ARP request for us: answer it.
            if f.len() >= 42
                && f[12..14] == [8, 6]
                && f[20..22] == [0, 1]
                && f[38..42] == OUR_IP.octets()
            {
                let mut sha = [0u8; 6];
                sha.copy_from_slice(&f[22..28]);
                let spa = Ipv4Addr::new(f[28], f[29], f[30], f[31]);
                send(q, &arp(2, our_mac, OUR_IP, sha, spa));
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

#[test]
fn af_packet_with_the_kernel() {
    if !common::is_root() {
        eprintln!("SKIPPED: needs root (network namespace, veth, af_packet)");
        return;
    }
    if !mptfo_dpdk::AVAILABLE {
        eprintln!("SKIPPED: {}", mptfo_dpdk::DpdkError::NotInstalled);
        return;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        eprintln!("SKIPPED: needs iproute2 (`ip`)");
        return;
    }
    let Some(topo) = Topology::create().expect("create the veth pair") else {
        eprintln!("SKIPPED: needs network namespaces (ip netns add failed)");
        return;
    };
    let vdev = format!("--vdev=net_af_packet0,iface={}", topo.dpdk_if);
    let _dir = common::RuntimeDir;
    let eal = common::start_eal(&[&vdev]).expect("EAL");
    exchange(&eal, &topo);
    drop(eal);
    drop(topo);
    eprintln!("PASSED: af_packet with the kernel");
}

fn exchange(eal: &Eal, topo: &Topology) {
    let pool = Mempool::new(eal, "mptfo_afp_test", 4095, 64, 2048).expect("mempool");
    let (port, mut queues) =
        DpdkPort::configure(eal, "net_af_packet0", &PortConfig::default(), &pool)
            .expect("configure af_packet");
    let q = &mut queues[0];
    let caps = q.caps();
    let mac = caps.mac;
    eprintln!(
        "{}: driver {} caps {caps:?} info {:?}",
        port.name(),
        port.info().driver,
        port.info()
    );
    assert_ne!(mac, [0; 6], "af_packet reports the veth's MAC");

    // 1. ARP: who has 10.213.7.1?
    send(q, &arp(1, mac, OUR_IP, [0; 6], KERNEL_IP));
    let kernel_mac = receive(q, mac, |f| {
        (f.len() >= 42
            && f[12..14] == [8, 6]
            && f[20..22] == [0, 2]
            && f[28..32] == KERNEL_IP.octets()
            && f[38..42] == OUR_IP.octets()
            && f[0..6] == mac)
            .then(|| {
                let mut m = [0u8; 6];
                m.copy_from_slice(&f[22..28]);
                m
            })
    })
    .expect("the kernel answers our ARP request");
    eprintln!("ARP: {KERNEL_IP} is at {kernel_mac:02x?}");

    // 2. ICMP echo, built by hand.
    let id = 0x4d50u16;
    let payload: Vec<u8> = (0..56u8).collect();
    let mut icmp = vec![8, 0, 0, 0];
    icmp.extend_from_slice(&id.to_be_bytes());
    icmp.extend_from_slice(&1u16.to_be_bytes());
    icmp.extend_from_slice(&payload);
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut f = eth(kernel_mac, mac, 0x0800);
    f.extend_from_slice(&ipv4(1, icmp.len(), 1));
    f.extend_from_slice(&icmp);
    send(q, &f);
    let reply = receive(q, mac, |f| {
        (f.len() >= 14 + 20 + 8
            && f[12..14] == [8, 0]
            && f[23] == 1
            && f[26..30] == KERNEL_IP.octets()
            && f[34] == 0
            && f[38..40] == id.to_be_bytes())
        .then(|| f.to_vec())
    })
    .expect("the kernel answers our ICMP echo");
    assert_eq!(checksum(&reply[14..34]), 0, "IPv4 header checksum");
    let ip_len = usize::from(u16::from_be_bytes([reply[16], reply[17]]));
    assert_eq!(checksum(&reply[34..14 + ip_len]), 0, "ICMP checksum");
    assert_eq!(&reply[42..14 + ip_len], &payload[..], "echoed payload");
    eprintln!("ICMP: echo reply from {KERNEL_IP}, {} bytes", reply.len());

    // 3. TCP SYN to a closed port: the kernel answers RST|ACK.
    let (sport, dport, iss) = (40000u16, 9u16, 0x01020304u32);
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&iss.to_be_bytes());
    tcp.extend_from_slice(&0u32.to_be_bytes());
    tcp.extend_from_slice(&[0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    let sum = pseudo_header_v4(OUR_IP, KERNEL_IP, 6, tcp.len() as u32).add(Sum::of(&tcp));
    tcp[16..18].copy_from_slice(&sum.finish().to_be_bytes());
    let mut f = eth(kernel_mac, mac, 0x0800);
    f.extend_from_slice(&ipv4(6, tcp.len(), 2));
    f.extend_from_slice(&tcp);
    send(q, &f);
    let rst = receive(q, mac, |f| {
        (f.len() >= 54
            && f[12..14] == [8, 0]
            && f[23] == 6
            && f[34..36] == dport.to_be_bytes()
            && f[36..38] == sport.to_be_bytes())
        .then(|| f.to_vec())
    })
    .expect("the kernel answers our SYN");
    let flags = rst[47];
    assert_eq!(flags & 0x04, 0x04, "RST set (flags {flags:#x})");
    let ip_len = usize::from(u16::from_be_bytes([rst[16], rst[17]]));
    let seg = &rst[34..14 + ip_len];
    let ok = pseudo_header_v4(KERNEL_IP, OUR_IP, 6, seg.len() as u32)
        .add(Sum::of(seg))
        .verifies();
    eprintln!(
        "TCP: RST from {KERNEL_IP}:{dport}, checksum {} (tx checksumming off on {}: {})",
        if ok { "correct" } else { "partial/wrong" },
        topo.kernel_if,
        topo.tx_off
    );
    if topo.tx_off {
        assert!(
            ok,
            "with tx checksumming off the kernel's TCP checksum is complete"
        );
    }

    let stats = q.stats();
    eprintln!(
        "queue stats {stats:?}; port {:?}",
        port.eth_stats().unwrap()
    );
    assert!(stats.tx_packets >= 3 && stats.rx_packets >= 3);
    drop(queues);
    drop(port);
    assert_eq!(pool.in_use_count(), 0);
}
