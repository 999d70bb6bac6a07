//! Captures through PcapTap, read back by PcapReader and by tshark.

mod common;

use common::*;
use mptfo_nic::pcap::LINKTYPE_ETHERNET;
use mptfo_nic::{Buf, ChecksumCaps, LinkConfig, MemLink, PcapReader, PcapTap, PcapWriter, Port};

const MS: u64 = 1_000_000;

#[test]
fn a_tap_captures_what_its_port_sends_and_receives() {
    let config = LinkConfig {
        wire_slots: 3,
        ..LinkConfig::default()
    };
    let (a, mut b) = MemLink::pair(config, 0);
    let clock = a.clock().clone();
    let writer = PcapWriter::new(Vec::new()).unwrap();
    let mut tap = PcapTap::new(a, writer, clock.clone());

    // Five frames offered at 1 ms; the wire takes three.
    clock.set(MS);
    let mut pkts: Vec<_> = (0..5)
        .map(|i| {
            let mut buf = tap.alloc().unwrap();
            assert!(buf.append_slice(&seq_frame(i, 60 + i as usize)));
            buf
        })
        .collect();
    assert_eq!(tap.tx_burst(&mut pkts), 3);
    assert_eq!(receive_now(&mut b).len(), 3);
    // The other two at 2 ms.
    clock.set(2 * MS);
    assert_eq!(tap.tx_burst(&mut pkts), 2);
    assert_eq!(receive_now(&mut b).len(), 2);
    // Two replies, received by the tap at 3 ms.
    assert_eq!(
        send_frames(&mut b, &[seq_frame(100, 70), seq_frame(101, 1514)]),
        2
    );
    clock.set(3 * MS);
    let mut out = Vec::new();
    assert_eq!(tap.rx_burst(&mut out, 32), 2);
    assert_eq!(tap.stats().rx_packets, 2);
    assert_eq!(tap.caps().mtu, 1500);
    assert!(tap.error().is_none());

    let (_port, bytes) = tap.finish().unwrap();
    let mut reader = PcapReader::new(&bytes[..]).unwrap();
    assert_eq!(reader.link_type(), LINKTYPE_ETHERNET);
    assert!(reader.is_nanosecond());
    let records: Vec<_> = reader.by_ref().map(|r| r.unwrap()).collect();
    let expected: Vec<(u64, Vec<u8>)> = (0..5)
        .map(|i| {
            (
                if i < 3 { MS } else { 2 * MS },
                seq_frame(i, 60 + i as usize),
            )
        })
        .chain([(3 * MS, seq_frame(100, 70)), (3 * MS, seq_frame(101, 1514))])
        .collect();
    let got: Vec<(u64, Vec<u8>)> = records.iter().map(|r| (r.ts_ns, r.data.clone())).collect();
    assert_eq!(got, expected);
    assert!(records.iter().all(|r| r.orig_len as usize == r.data.len()));
}

/// A writer that accepts `budget` bytes, then fails.
struct FailAfter {
    budget: usize,
    written: Vec<u8>,
}

impl std::io::Write for FailAfter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if data.len() > self.budget {
            return Err(std::io::Error::other("disk full"));
        }
        self.budget -= data.len();
        self.written.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_write_error_stops_capture_but_not_forwarding() {
    let (a, mut b) = MemLink::pair(LinkConfig::default(), 0);
    let clock = a.clock().clone();
    let full = FailAfter {
        budget: 10,
        written: Vec::new(),
    };
    assert!(PcapWriter::new(full).is_err(), "the file header fails");

    // Room for the file header and one 64-byte frame's record.
    let writer = PcapWriter::new(FailAfter {
        budget: 24 + 16 + 64,
        written: Vec::new(),
    })
    .unwrap();
    let mut tap = PcapTap::new(a, writer, clock);
    for i in 0..3 {
        let mut pkts = vec![tap.alloc().unwrap()];
        assert!(pkts[0].append_slice(&seq_frame(i, 64)));
        assert_eq!(tap.tx_burst(&mut pkts), 1);
    }
    assert_eq!(receive_now(&mut b).len(), 3, "all frames were forwarded");
    assert!(tap.error().is_some());
    let (_, writer) = tap.into_parts();
    let bytes = writer.into_inner().written;
    let records: Vec<_> = PcapReader::new(&bytes[..]).unwrap().collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].as_ref().unwrap().data, seq_frame(0, 64));
}

#[test]
fn snaplen_keeps_the_front_of_each_frame() {
    let (a, mut b) = MemLink::pair(LinkConfig::default(), 0);
    let clock = a.clock().clone();
    let mut tap = PcapTap::new(a, PcapWriter::with_snaplen(Vec::new(), 20).unwrap(), clock);
    let mut pkts = vec![tap.alloc().unwrap()];
    assert!(pkts[0].append_slice(&seq_frame(1, 64)));
    assert_eq!(tap.tx_burst(&mut pkts), 1);
    assert_eq!(receive_now(&mut b).len(), 1);
    let (_, bytes) = tap.finish().unwrap();
    let mut reader = PcapReader::new(&bytes[..]).unwrap();
    assert_eq!(reader.snaplen(), 20);
    let rec = reader.next_packet().unwrap().unwrap();
    assert_eq!((&rec.data[..], rec.orig_len), (&seq_frame(1, 64)[..20], 64));
}

#[test]
fn tshark_reads_the_capture() {
    let Ok(status) = std::process::Command::new("tshark")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
    else {
        eprintln!("!!!!! SKIPPED tshark_reads_the_capture: tshark is not on PATH !!!!!");
        return;
    };
    assert!(status.success(), "tshark --version failed");

    let config = LinkConfig {
        checksum: ChecksumCaps::SOFTWARE,
        ..LinkConfig::default()
    };
    let (mut a, b) = MemLink::pair(config, 0);
    let clock = a.clock().clone();
    let path = std::env::temp_dir().join(format!("mptfo-nic-tshark-{}.pcap", std::process::id()));
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut tap = PcapTap::new(b, PcapWriter::new(file).unwrap(), clock.clone());
    for i in 0..3u16 {
        clock.set(u64::from(i) * 1_500_000_000 + 7);
        let f = tcp_frame(40000 + i, 1000 + u32::from(i), b"hello tshark", true);
        assert_eq!(send_frames(&mut a, &[f]), 1);
        let mut out = Vec::new();
        assert_eq!(tap.rx_burst(&mut out, 32), 1);
    }
    tap.finish().unwrap();

    let output = std::process::Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(&path)
        .args(["-T", "fields", "-E", "separator=,"])
        .args([
            "-e",
            "frame.time_epoch",
            "-e",
            "ip.src",
            "-e",
            "tcp.srcport",
        ])
        .args(["-e", "tcp.len", "-e", "_ws.malformed"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for (i, line) in lines.iter().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 5, "{line}");
        let expected_time = format!("{}.500000007", i * 3 / 2);
        let expected_time = if i % 2 == 0 {
            format!("{}.000000007", i * 3 / 2)
        } else {
            expected_time
        };
        assert_eq!(fields[0], expected_time, "{line}");
        assert_eq!(fields[1], "10.0.0.1");
        assert_eq!(fields[2], (40000 + i).to_string());
        assert_eq!(fields[3], "12");
        assert_eq!(fields[4], "", "tshark found a malformed packet: {line}");
    }
}
