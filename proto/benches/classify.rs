//! Receive-path cost of a burst of TFO SYNs: `classify` of each frame, then
//! `SegmentOptions::parse` of its TCP options — the work a server does per
//! SYN before it looks at the cookie.
//!
//! Run: `cargo bench -p mptfo-proto --bench classify -- --warm-up-time 1
//! --measurement-time 3`. Throughput is in elements (SYNs), so criterion
//! prints SYNs per second next to the time per 32-frame burst.
//!
//! The frames are built with the crate's own emitters: Ethernet + IPv4 +
//! TCP, the 36-byte option block Linux puts on an MPTCP TFO SYN (MSS,
//! SACK-permitted + timestamps, window scale, an 8-byte cookie, MP_CAPABLE)
//! and 64 bytes of data, from varied client addresses and ports.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mptfo_proto::checksum::ChecksumCaps;
use mptfo_proto::options::{
    syn_options, FastOpenOption, MpCapable, MpcFlags, MptcpOption, SegmentOptions, SynParams,
    TfoForm, Timestamps,
};
use mptfo_proto::wire::{
    classify, Classified, EtherType, EthernetAddress, EthernetFrame, EthernetRepr, IpProtocol,
    Ipv4Packet, Ipv4Repr, TcpFlags, TcpPacket, TcpRepr, ETHERNET_HEADER_LEN, IPV4_HEADER_LEN,
};
use mptfo_proto::SubflowSeq;

/// Size of an rx burst.
const BURST: usize = 32;
/// Bytes of data each SYN carries.
const PAYLOAD_LEN: usize = 64;

/// A small deterministic generator, so that runs are comparable.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One TFO SYN from `client:port` to 192.0.2.80:443, full checksums.
fn tfo_syn(client: Ipv4Addr, port: u16, r: u64) -> Vec<u8> {
    let server = Ipv4Addr::new(192, 0, 2, 80);
    let cookie = r.to_be_bytes();
    let options = syn_options(&SynParams {
        mss: 1460,
        timestamps: Some(Timestamps {
            tsval: r as u32,
            tsecr: 0,
        }),
        wscale: Some(10),
        sack_permitted: true,
        fast_open: Some(FastOpenOption::new(TfoForm::Iana, &cookie).unwrap()),
        mptcp: Some(MptcpOption::MpCapable(MpCapable::syn(
            MpcFlags::LINUX_DEFAULT,
        ))),
    });
    // 4 (MSS) + 12 (SACK-permitted, timestamps) + 4 (window scale) + 12
    // (cookie, NOP NOP) + 4 (MP_CAPABLE), as in tfo-syn-data.pcap frame 1.
    assert!(options.dropped.is_nothing() && options.len == 36);
    let payload = [0x41u8; PAYLOAD_LEN];
    let tcp = TcpRepr {
        src_port: port,
        dst_port: 443,
        seq: SubflowSeq((r >> 32) as u32),
        ack: None,
        flags: TcpFlags::SYN,
        window: 64240,
        options: options.as_slice(),
        payload: &payload,
    };
    let ip = Ipv4Repr {
        src_addr: client,
        dst_addr: server,
        protocol: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: r as u16,
        dont_frag: true,
    };
    let l4 = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN;
    let mut frame = vec![0u8; l4 + tcp.buffer_len()];
    EthernetRepr {
        src_addr: EthernetAddress([0x02, 0, 0, 0, 0, (r >> 8) as u8]),
        dst_addr: EthernetAddress([0x02, 0, 0, 0, 0, 0x50]),
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]))
    .unwrap();
    ip.emit(
        &mut Ipv4Packet::new_unchecked(&mut frame[ETHERNET_HEADER_LEN..]),
        &ChecksumCaps::SOFTWARE,
    )
    .unwrap();
    tcp.emit(
        &mut TcpPacket::new_unchecked(&mut frame[l4..]),
        IpAddr::V4(client),
        IpAddr::V4(server),
        &ChecksumCaps::SOFTWARE,
    )
    .unwrap();
    frame
}

/// A burst of TFO SYNs from distinct clients.
fn burst() -> Vec<Vec<u8>> {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    (0..BURST)
        .map(|_| {
            let r = rng.next();
            let client = Ipv4Addr::from((0x0a00_0000 | (r as u32 & 0x00ff_ffff)).to_be_bytes());
            let port = 1024 + (r >> 40) as u16 % 60000;
            tfo_syn(client, port, r)
        })
        .collect()
}

/// Classifies every frame and parses its options; returns a value that
/// depends on all of them so nothing is optimised away.
fn rx_burst(frames: &[Vec<u8>], caps: &ChecksumCaps) -> usize {
    let mut acc = 0usize;
    for f in frames {
        let Ok(Classified::Tcp(seg)) = classify(black_box(f), caps) else {
            panic!("a bench SYN did not classify as TCP");
        };
        let opts = SegmentOptions::parse(seg.options).expect("bench SYN options");
        acc += usize::from(opts.mss.unwrap_or(0))
            + opts.fast_open.map_or(0, |c| c.cookie().len())
            + usize::from(opts.mptcp_count)
            + seg.payload.len();
    }
    acc
}

fn bench_classify(c: &mut Criterion) {
    let frames = burst();
    // Every frame is what the bench claims to measure.
    for f in &frames {
        assert_eq!(f.len(), 14 + 20 + 20 + 36 + PAYLOAD_LEN);
    }
    let expected = BURST * (1460 + 8 + 1 + PAYLOAD_LEN);
    assert_eq!(rx_burst(&frames, &ChecksumCaps::SOFTWARE), expected);

    let mut g = c.benchmark_group("classify_tfo_syn_burst");
    g.throughput(Throughput::Elements(BURST as u64));
    g.bench_function("offloaded_checksums", |b| {
        b.iter(|| rx_burst(black_box(&frames), &ChecksumCaps::OFFLOADED))
    });
    g.bench_function("software_checksums", |b| {
        b.iter(|| rx_burst(black_box(&frames), &ChecksumCaps::SOFTWARE))
    });
    g.finish();
}

criterion_group!(classify_benches, bench_classify);
criterion_main!(classify_benches);
