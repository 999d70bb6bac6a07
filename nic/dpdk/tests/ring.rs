//! net_ring0 in one process (no root, no hugepages): buffers, windows,
//! shares, burst transmit/receive and pool accounting. One EAL per process,
//! so one test drives every step in order.

mod common;

use mptfo_dpdk::{DpdkError, DpdkPort, Eal, Mempool, PortConfig, HEADROOM};
use mptfo_nic::{Buf, ChecksumStatus, Port, RxFlags, TxOffload, DEFAULT_DATA_ROOM};

const ETHERTYPE_EXPERIMENTAL: [u8; 2] = [0x88, 0xb5];

/// A 60-byte Ethernet frame whose payload starts with `tag`.
fn frame(src: [u8; 6], tag: u32) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ETHERTYPE_EXPERIMENTAL);
    f.extend_from_slice(&tag.to_be_bytes());
    while f.len() < 60 {
        f.push(f.len() as u8 ^ 0x5a);
    }
    f
}

#[test]
fn net_ring_loopback() {
    let _dir = common::RuntimeDir;
    let Some(eal) = common::start_eal(&["--vdev=net_ring0"]) else {
        return;
    };
    // Step 0: EAL runs once per process.
    assert_eq!(
        Eal::init(&["--no-huge"]).unwrap_err(),
        DpdkError::AlreadyInitialized
    );
    assert!(
        mptfo_dpdk::lcore_id().is_some(),
        "the EAL thread has an lcore id"
    );
    let ports = eal.ports();
    eprintln!("ports: {ports:?}");
    assert!(ports.iter().any(|(_, n)| n == "net_ring0"));
    exercise(&eal);
    drop(eal);
    eprintln!("PASSED: net_ring loopback");
}

/// Every step that needs a pool and the port; returns once all of it is
/// dropped and the pool is empty and freed.
fn exercise(eal: &Eal) {
    let pool =
        Mempool::new(eal, "mptfo_ring_test", 1023, 32, DEFAULT_DATA_ROOM as u16).expect("mempool");
    assert_eq!(pool.in_use_count(), 0);
    assert_eq!(pool.avail_count(), 1023);
    // A second pool of the same name is refused by DPDK.
    let dup = Mempool::new(eal, "mptfo_ring_test", 63, 0, 2048).unwrap_err();
    eprintln!("duplicate pool name: {dup}");

    let too_many = PortConfig {
        rx_queues: 100,
        tx_queues: 100,
        ..PortConfig::default()
    };
    let e = DpdkPort::configure(eal, "net_ring0", &too_many, &pool).unwrap_err();
    assert!(matches!(e, DpdkError::InvalidArgument(_)), "{e}");
    let (port, mut queues) =
        DpdkPort::configure(eal, "net_ring0", &PortConfig::default(), &pool).expect("configure");
    assert_eq!(queues.len(), 1);
    let mut q = queues.pop().unwrap();
    drop(queues);
    let caps = q.caps();
    eprintln!(
        "net_ring0: driver {} caps {caps:?} link_up {}",
        port.info().driver,
        port.link_up()
    );
    // Configuring the same port twice is refused.
    assert!(matches!(
        DpdkPort::configure(eal, "net_ring0", &PortConfig::default(), &pool),
        Err(DpdkError::PortInUse(_))
    ));
    assert!(matches!(
        DpdkPort::configure(eal, "no_such_port", &PortConfig::default(), &pool),
        Err(DpdkError::NoSuchPort { .. })
    ));

    // Step 1: a fresh buffer, windows.
    let mut b = q.alloc().expect("alloc");
    assert_eq!(
        (b.len(), b.headroom(), b.tailroom()),
        (0, HEADROOM, DEFAULT_DATA_ROOM)
    );
    assert_eq!(b.ref_count(), 1);
    assert!(b.append_slice(b"payload"));
    assert!(b.prepend_slice(b"tcp|"));
    b.prepend(3).unwrap().copy_from_slice(b"ip|");
    assert_eq!(b.data(), b"ip|tcp|payload");
    assert_eq!(
        (b.headroom(), b.tailroom()),
        (HEADROOM - 7, DEFAULT_DATA_ROOM - 7)
    );
    assert!(b.prepend(HEADROOM - 6).is_none(), "more than the headroom");
    assert!(
        b.append(DEFAULT_DATA_ROOM - 6).is_none(),
        "more than the tailroom"
    );
    assert_eq!(b.data(), b"ip|tcp|payload");
    assert!(b.trim_front(3) && b.trim_back(4));
    assert_eq!(b.data(), b"tcp|pay");
    assert!(!b.trim_front(8) && !b.trim_back(8));
    b.data_mut().unwrap()[0] = b'T';
    assert_eq!(b.data(), b"Tcp|pay");

    // Step 2: shares: a refcount, no writes while shared, own windows.
    let mut view = b.share();
    assert_eq!((b.ref_count(), view.ref_count()), (2, 2));
    assert!(b.data_mut().is_none() && b.prepend(1).is_none() && b.append(1).is_none());
    assert!(view.data_mut().is_none());
    assert!(view.trim_front(4));
    assert_eq!(view.data(), b"pay");
    assert_eq!(b.data(), b"Tcp|pay");
    let view2 = view.share();
    assert_eq!(b.ref_count(), 3);
    drop(view);
    drop(view2);
    assert_eq!(b.ref_count(), 1);
    assert!(b.data_mut().is_some());
    drop(b);

    // Step 3: one frame out and back, byte-exact.
    let mac = caps.mac;
    let f = frame(mac, 1);
    let mut b = q.alloc().unwrap();
    assert!(b.append_slice(&f));
    let mut tx = vec![b];
    assert_eq!(q.tx_burst(&mut tx), 1);
    assert!(tx.is_empty());
    let mut rx = Vec::new();
    assert_eq!(q.rx_burst(&mut rx, 32), 1);
    assert_eq!(rx[0].data(), &f[..]);
    assert_eq!(rx[0].rx_flags(), RxFlags::default());
    assert_eq!(rx[0].headroom(), HEADROOM);
    assert_eq!(rx[0].ref_count(), 1);
    // Received buffers are writable and can be sent again.
    rx[0].data_mut().unwrap()[14] = 0xee;
    let again = rx.pop().unwrap();
    let mut tx = vec![again];
    assert_eq!(q.tx_burst(&mut tx), 1);
    assert_eq!(q.rx_burst(&mut rx, 32), 1);
    assert_eq!(rx[0].data()[14], 0xee);
    rx.clear();

    // Step 4: a shared buffer is sent through an indirect mbuf carrying
    // the sender's window; the kept reference is untouched.
    let mut b = q.alloc().unwrap();
    assert!(b.append_slice(&frame(mac, 2)));
    b.set_tx_offload(TxOffload {
        l2_len: 14,
        l3_len: 20,
        ipv4_checksum: true,
        tcp_checksum: true,
    });
    let keep = b.share();
    let mut narrowed = b.share();
    assert!(narrowed.trim_back(10));
    q.release_cache();
    assert_eq!(pool.in_use_count(), 1, "one mbuf behind three handles");
    let mut tx = vec![b, narrowed];
    assert_eq!(q.tx_burst(&mut tx), 2);
    assert_eq!(q.rx_burst(&mut rx, 32), 2);
    assert_eq!(rx[0].data(), &frame(mac, 2)[..]);
    assert_eq!(rx[1].data(), &frame(mac, 2)[..50]);
    // The received indirect mbufs hold references to the direct one.
    assert_eq!(keep.ref_count(), 3);
    assert!(
        rx[0].data_mut().is_none(),
        "indirect data is never writable"
    );
    assert_eq!(keep.data(), &frame(mac, 2)[..]);
    assert_eq!(
        pool.in_use_count() as usize,
        1 + 2 + q.cached_buffers(),
        "the direct mbuf, two indirect ones and the queue's cache"
    );
    rx.clear();
    assert_eq!(keep.ref_count(), 1);
    drop(keep);

    // Step 5: many frames in bursts, in order.
    let total = 1000u32;
    let mut sent = 0u32;
    let mut got = 0u32;
    while got < total {
        let mut tx = Vec::new();
        while tx.len() < 32 && sent < total {
            let mut b = q.alloc().expect("pool not exhausted");
            assert!(b.append_slice(&frame(mac, 1000 + sent)));
            tx.push(b);
            sent += 1;
        }
        let n = tx.len();
        assert_eq!(q.tx_burst(&mut tx), n);
        q.rx_burst(&mut rx, 64);
        for r in rx.drain(..) {
            assert_eq!(r.data(), &frame(mac, 1000 + got)[..]);
            got += 1;
        }
    }

    // Step 6: a frame longer than the MTU is accepted and dropped.
    let mut big = q.alloc().unwrap();
    assert!(big.append(usize::from(caps.mtu) + 15).is_some());
    let mut tx = vec![big];
    assert_eq!(q.tx_burst(&mut tx), 1);
    assert_eq!(q.rx_burst(&mut rx, 32), 0);
    let stats = q.stats();
    eprintln!(
        "queue stats: {stats:?}; port: {:?}",
        port.eth_stats().unwrap()
    );
    assert_eq!(stats.tx_dropped, 1);
    assert_eq!(stats.tx_packets, 1 + 1 + 2 + u64::from(total));
    assert_eq!(stats.rx_packets, stats.tx_packets);

    // Step 7: buffers cross threads: the queue moves to a worker thread
    // (registered with EAL) and buffers are dropped on an unregistered one.
    let (q2, kept) = std::thread::scope(|s| {
        let worker = s.spawn(move || {
            let guard = eal.register_thread().expect("rte_thread_register");
            eprintln!("worker lcore {}", guard.lcore());
            let mut b = q.alloc().unwrap();
            assert!(b.append_slice(&frame(mac, 7)));
            let kept = b.share();
            let mut tx = vec![b];
            assert_eq!(q.tx_burst(&mut tx), 1);
            let mut rx = Vec::new();
            assert_eq!(q.rx_burst(&mut rx, 32), 1);
            q.release_cache();
            (q, rx, kept)
        });
        let (q2, rx2, kept) = worker.join().unwrap();
        s.spawn(move || drop(rx2)).join().unwrap();
        (q2, kept)
    });
    let mut q = q2;
    assert_eq!(kept.ref_count(), 1);
    drop(kept);

    // Step 8: everything back in the pool.
    q.release_cache();
    assert_eq!(pool.in_use_count(), 0, "every mbuf returned");

    // Step 9: a vdev hot-plugged by name (rte_dev_probe), removed on drop.
    match DpdkPort::configure(eal, "net_ring1", &PortConfig::default(), &pool) {
        Ok((port1, mut qs)) => {
            let q1 = &mut qs[0];
            let mut b = q1.alloc().unwrap();
            assert!(b.append_slice(&frame(mac, 9)));
            assert_eq!(q1.tx_burst(&mut vec![b]), 1);
            let mut rx = Vec::new();
            assert_eq!(q1.rx_burst(&mut rx, 32), 1);
            assert_eq!(rx[0].data(), &frame(mac, 9)[..]);
            eprintln!("hot-plugged {} as port {}", port1.name(), port1.id());
            drop(rx);
            drop(qs);
            drop(port1);
            assert!(!eal.ports().iter().any(|(_, n)| n == "net_ring1"));
        }
        Err(e) => panic!("hot-plug of net_ring1 failed: {e}"),
    }

    // Step 10: two queue pairs, each polled by its own thread (net_ring
    // loops queue i to queue i).
    let two = PortConfig {
        rx_queues: 2,
        tx_queues: 2,
        ..PortConfig::default()
    };
    let (port2, queues2) = DpdkPort::configure(eal, "net_ring2", &two, &pool).expect("net_ring2");
    assert_eq!(queues2.len(), 2);
    std::thread::scope(|s| {
        for (i, mut q) in queues2.into_iter().enumerate() {
            s.spawn(move || {
                let _lcore = eal.register_thread().expect("register");
                let mut rx = Vec::new();
                let mut got = 0u32;
                for n in 0..500u32 {
                    let mut b = q.alloc().unwrap();
                    assert!(b.append_slice(&frame(mac, (i as u32) << 16 | n)));
                    assert_eq!(q.tx_burst(&mut vec![b]), 1);
                    q.rx_burst(&mut rx, 32);
                    for r in rx.drain(..) {
                        assert_eq!(r.data(), &frame(mac, (i as u32) << 16 | got)[..]);
                        got += 1;
                    }
                }
                assert_eq!(got, 500, "queue {i}");
            });
        }
    });
    drop(port2);

    let s = RxFlags {
        ip_checksum: ChecksumStatus::Good,
        l4_checksum: ChecksumStatus::Unknown,
    };
    let mut b = q.alloc().unwrap();
    b.set_rx_flags(s);
    assert_eq!(b.share().rx_flags(), s);
    drop(b);

    drop(q);
    drop(port);
    assert_eq!(pool.in_use_count(), 0);
}
