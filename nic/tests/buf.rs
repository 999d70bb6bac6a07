//! MemBuf windows, sharing and pool accounting.

use mptfo_nic::{
    Buf, ChecksumStatus, MemPool, RxFlags, TxOffload, DEFAULT_DATA_ROOM, DEFAULT_HEADROOM,
};

fn pool(capacity: usize) -> MemPool {
    MemPool::new(capacity, DEFAULT_HEADROOM, DEFAULT_DATA_ROOM)
}

#[test]
fn a_fresh_buffer_is_empty_with_headroom() {
    let p = pool(2);
    let mut b = p.alloc().unwrap();
    assert_eq!((b.len(), b.is_empty()), (0, true));
    assert_eq!((b.headroom(), b.tailroom()), (128, 2048));
    assert_eq!(b.data_mut().map(|d| d.len()), Some(0));
    assert_eq!(b.rx_flags(), RxFlags::default());
    assert_eq!(b.tx_offload(), TxOffload::default());
}

#[test]
fn headers_are_prepended_in_front_of_the_payload() {
    let p = pool(1);
    let mut b = p.alloc().unwrap();
    assert!(b.append_slice(b"payload"));
    assert!(b.prepend_slice(b"tcp|"));
    b.prepend(3).unwrap().copy_from_slice(b"ip|");
    assert_eq!(b.data(), b"ip|tcp|payload");
    assert_eq!((b.headroom(), b.tailroom()), (128 - 7, 2048 - 7));
    b.data_mut().unwrap()[0] = b'I';
    assert_eq!(b.data(), b"Ip|tcp|payload");

    // Too much: refused, nothing changed.
    assert!(b.prepend(122).is_none());
    assert!(b.append(2042).is_none());
    assert_eq!(b.data(), b"Ip|tcp|payload");
    assert!(b.prepend(121).is_some());
    assert!(b.append(2041).is_some());
    assert_eq!((b.headroom(), b.tailroom(), b.len()), (0, 0, 2048 + 128));
}

#[test]
fn trims_narrow_the_window_and_refuse_too_much() {
    let p = pool(1);
    let mut b = p.alloc().unwrap();
    assert!(b.append_slice(b"0123456789"));
    assert!(b.trim_front(2));
    assert!(b.trim_back(2));
    assert_eq!(b.data(), b"234567");
    assert_eq!(b.headroom(), 130);
    assert!(!b.trim_front(7));
    assert!(!b.trim_back(7));
    assert_eq!(b.data(), b"234567");
    // Trimmed bytes are headroom again: a new header overwrites them.
    assert!(b.prepend_slice(b"ab"));
    assert_eq!(b.data(), b"ab234567");
    assert!(b.trim_front(8));
    assert!(b.is_empty());
}

#[test]
fn shares_see_the_same_bytes_through_their_own_windows() {
    let p = pool(1);
    let mut a = p.alloc().unwrap();
    assert!(a.append_slice(b"HDRpayload"));
    a.set_tx_offload(TxOffload {
        l2_len: 14,
        l3_len: 20,
        ipv4_checksum: true,
        tcp_checksum: false,
    });
    a.set_rx_flags(RxFlags {
        ip_checksum: ChecksumStatus::Good,
        l4_checksum: ChecksumStatus::Bad,
    });

    let mut view = a.share();
    assert_eq!((a.ref_count(), view.ref_count()), (2, 2));
    assert_eq!(view.tx_offload(), a.tx_offload());
    assert_eq!(view.rx_flags(), a.rx_flags());
    assert!(view.trim_front(3));
    assert!(view.trim_back(4));
    assert_eq!(view.data(), b"pay");
    assert_eq!(a.data(), b"HDRpayload", "the other window did not move");

    // Shared storage cannot be written through either handle.
    assert!(a.data_mut().is_none());
    assert!(view.data_mut().is_none());
    assert!(a.prepend(1).is_none());
    assert!(a.append(1).is_none());
    assert!(view.prepend(1).is_none());
    assert_eq!(a.data(), b"HDRpayload");

    let view2 = view.share();
    assert_eq!(view2.data(), b"pay");
    drop(a);
    drop(view2);
    // Sole owner again: writable, and the window can grow back over the
    // bytes that were trimmed.
    assert_eq!(view.ref_count(), 1);
    view.data_mut().unwrap().copy_from_slice(b"PAY");
    assert_eq!(view.prepend(3).unwrap(), b"HDR");
    assert_eq!(view.data(), b"HDRPAY");
}

#[test]
fn storage_returns_to_the_pool_after_the_last_handle() {
    let p = pool(2);
    assert_eq!((p.created(), p.free(), p.in_use()), (0, 0, 0));
    let a = p.alloc().unwrap();
    let b = a.share();
    let c = b.share();
    assert_eq!((p.created(), p.free(), p.in_use()), (1, 0, 1));
    drop(a);
    drop(c);
    assert_eq!((p.free(), p.in_use()), (0, 1), "b still holds the block");
    drop(b);
    assert_eq!((p.created(), p.free(), p.in_use()), (1, 1, 0));

    // Recycled, not remade.
    let x = p.alloc().unwrap();
    let y = p.alloc().unwrap();
    assert_eq!((p.created(), p.in_use()), (2, 2));
    assert!(p.alloc().is_none(), "capacity 2");
    drop(x);
    let z = p.alloc().unwrap();
    assert_eq!(p.created(), 2);
    drop((y, z));
    assert_eq!(p.free(), 2);
}

#[test]
fn a_recycled_buffer_starts_fresh() {
    let p = pool(1);
    let mut a = p.alloc().unwrap();
    assert!(a.append_slice(b"old"));
    assert!(a.trim_front(1));
    a.set_tx_offload(TxOffload {
        l2_len: 14,
        ..TxOffload::default()
    });
    drop(a);
    let b = p.alloc().unwrap();
    assert_eq!((b.len(), b.headroom()), (0, 128));
    assert_eq!(b.tx_offload(), TxOffload::default());
}

#[test]
fn the_last_release_may_happen_on_another_thread() {
    let p = pool(4);
    let a = p.alloc().unwrap();
    let b = a.share();
    std::thread::spawn(move || drop(b)).join().unwrap();
    assert_eq!(p.in_use(), 1);
    let a = std::thread::spawn(move || a).join().unwrap();
    std::thread::spawn(move || drop(a)).join().unwrap();
    assert_eq!((p.created(), p.free()), (1, 1));
}

#[test]
fn buffers_may_outlive_their_pool() {
    let p = pool(1);
    let mut a = p.alloc().unwrap();
    let b = a.share();
    drop(p);
    drop(b);
    assert!(a.append_slice(b"still usable"));
    assert_eq!(a.data(), b"still usable");
}
