//! Helpers shared by the integration tests: frames that carry a sequence
//! number, sending, and a virtual-time receive loop.
#![allow(dead_code)]

use core::net::Ipv4Addr;
use mptfo_nic::{Buf, MemPort, Port};
use mptfo_proto::checksum::{checksum, pseudo_header_v4, Sum, IPPROTO_TCP};

/// An Ethernet frame of `len` bytes (local experimental ethertype) whose
/// bytes 14..22 carry `seq`.
pub fn seq_frame(seq: u64, len: usize) -> Vec<u8> {
    assert!(len >= 22);
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
    f[14..22].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in f[22..].iter_mut().enumerate() {
        *b = (seq as usize + i) as u8;
    }
    f
}

/// The sequence number of a frame made by [`seq_frame`].
pub fn seq_of(frame: &[u8]) -> u64 {
    u64::from_be_bytes(frame[14..22].try_into().unwrap())
}

/// An Ethernet + IPv4 + TCP (PSH|ACK) frame from 10.0.0.1:`src_port` to
/// 10.0.0.2:80. With `software` the checksums are complete; without, the
/// IPv4 checksum is zero and the TCP checksum holds the pseudo-header sum,
/// ready for transmit offload.
pub fn tcp_frame(src_port: u16, seq: u32, payload: &[u8], software: bool) -> Vec<u8> {
    let src = Ipv4Addr::new(10, 0, 0, 1);
    let dst = Ipv4Addr::new(10, 0, 0, 2);
    let tcp_len = 20 + payload.len();
    let mut f = vec![0u8; 14 + 20 + tcp_len];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    {
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = IPPROTO_TCP;
        ip[12..16].copy_from_slice(&src.octets());
        ip[16..20].copy_from_slice(&dst.octets());
        if software {
            let c = checksum(ip);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
        }
    }
    {
        let tcp = &mut f[34..];
        tcp[0..2].copy_from_slice(&src_port.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        tcp[8..12].copy_from_slice(&1u32.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = 0x18;
        tcp[14..16].copy_from_slice(&65535u16.to_be_bytes());
        tcp[20..].copy_from_slice(payload);
        let pseudo = pseudo_header_v4(src, dst, IPPROTO_TCP, tcp_len as u32);
        let c = if software {
            pseudo.add(Sum::of(tcp)).finish()
        } else {
            pseudo.fold()
        };
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
    }
    f
}

/// True when the IPv4 header and TCP checksums of a [`tcp_frame`] verify.
pub fn tcp_frame_checksums_verify(f: &[u8]) -> bool {
    let ip_ok = Sum::of(&f[14..34]).verifies();
    let pseudo = pseudo_header_v4(
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
        IPPROTO_TCP,
        (f.len() - 34) as u32,
    );
    ip_ok && pseudo.add(Sum::of(&f[34..])).verifies()
}

/// Copies each frame into a buffer of `port` and sends them all in one
/// burst; returns how many the port accepted.
pub fn send_frames(port: &mut MemPort, frames: &[Vec<u8>]) -> usize {
    let mut pkts = Vec::with_capacity(frames.len());
    for f in frames {
        let mut b = port.alloc().expect("pool has a buffer");
        assert!(b.append_slice(f));
        pkts.push(b);
    }
    port.tx_burst(&mut pkts)
}

/// Receives everything due at the current time.
pub fn receive_now(port: &mut MemPort) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while port.rx_burst(&mut out, 32) > 0 {}
    out.iter().map(|b| b.data().to_vec()).collect()
}

/// Advances the clock from event to event until nothing is on its way to
/// `port` or the next event is after `until`; returns `(time, frame)` for
/// every frame received.
pub fn receive_until(port: &mut MemPort, until: u64) -> Vec<(u64, Vec<u8>)> {
    let mut got = Vec::new();
    while let Some(t) = port.next_delivery_time() {
        if t > until {
            break;
        }
        let now = port.clock().advance_to(t);
        for f in receive_now(port) {
            got.push((now, f));
        }
    }
    got
}
