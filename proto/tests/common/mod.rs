//! Test support: reads the project's own fixture captures (classic pcap,
//! Ethernet link type) taken from Linux 6.18 ↔ 6.18 MPTCP+TFO exchanges.
//! Independent of the crate under test on purpose: offsets are walked by hand
//! so that a bug in the parsers cannot hide itself.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// One captured Ethernet frame.
pub struct Frame {
    /// Fixture file name, e.g. `tfo-syn-data.pcap`.
    pub file: String,
    /// 1-based frame number, as tshark counts.
    pub number: usize,
    /// The whole Ethernet frame.
    pub bytes: Vec<u8>,
}

impl Frame {
    /// Offset of the TCP header and its length, for IPv4 or IPv6 frames
    /// without extension headers; None for anything else.
    pub fn tcp_range(&self) -> Option<(usize, usize)> {
        let b = &self.bytes;
        let ethertype = u16::from_be_bytes([b[12], b[13]]);
        let (l4, proto) = match ethertype {
            0x0800 => (14 + ((b[14] & 0x0f) as usize) * 4, b[23]),
            0x86dd => (14 + 40, b[20]),
            _ => return None,
        };
        if proto != 6 {
            return None;
        }
        let doff = ((b[l4 + 12] >> 4) as usize) * 4;
        Some((l4, doff))
    }

    /// The TCP option bytes of this frame.
    pub fn tcp_options(&self) -> Option<&[u8]> {
        let (l4, doff) = self.tcp_range()?;
        Some(&self.bytes[l4 + 20..l4 + doff])
    }

    /// TCP flags byte.
    pub fn tcp_flags(&self) -> Option<u8> {
        let (l4, _) = self.tcp_range()?;
        Some(self.bytes[l4 + 13])
    }

    /// TCP payload bytes.
    pub fn tcp_payload(&self) -> Option<&[u8]> {
        let (l4, doff) = self.tcp_range()?;
        let b = &self.bytes;
        let end = match u16::from_be_bytes([b[12], b[13]]) {
            0x0800 => 14 + u16::from_be_bytes([b[16], b[17]]) as usize,
            _ => 14 + 40 + u16::from_be_bytes([b[18], b[19]]) as usize,
        };
        Some(&b[l4 + doff..end])
    }
}

/// Folder of the Linux 6.18 fixtures.
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/linux-6.18")
}

/// Reads every frame of one classic pcap file (either byte order).
pub fn read_pcap(path: &Path) -> Vec<Frame> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let magic = u32::from_le_bytes(data[0..4].try_into().unwrap());
    let le = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        m => panic!("{}: not a classic pcap (magic {m:#x})", path.display()),
    };
    let rd = |o: usize| {
        let a: [u8; 4] = data[o..o + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    assert_eq!(rd(20), 1, "{}: link type must be Ethernet", path.display());
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut frames = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let incl = rd(off + 8) as usize;
        let start = off + 16;
        frames.push(Frame {
            file: file.clone(),
            number: frames.len() + 1,
            bytes: data[start..start + incl].to_vec(),
        });
        off = start + incl;
    }
    frames
}

/// Every frame of every fixture capture, in file-name order.
pub fn all_frames() -> Vec<Frame> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixture captures found");
    files.iter().flat_map(|p| read_pcap(p)).collect()
}

/// The rows of `wireshark-keys.tsv`: (file, frame, key, token, idsn) as
/// decoded by tshark's MPTCP dissector.
pub fn wireshark_keys() -> Vec<(String, usize, u64, u32, u64)> {
    let text = std::fs::read_to_string(fixture_dir().join("wireshark-keys.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
            )
        })
        .collect()
}
