//! MPTCP token and IDSN derivation checked against Wireshark's MPTCP
//! dissector on real Linux 6.18 captures.
//!
//! Always: the rows of `wireshark-keys.tsv` (keys and Wireshark's
//! `mptcp.expected_token` / `mptcp.expected_idsn`, committed), each key also
//! found in the MP_CAPABLE option of its frame. When `tshark` is installed,
//! additionally: tshark run live on every fixture capture.

mod common;

use std::io::Write;
use std::process::Command;

use mptfo_proto::crypto::{idsn, token, KeyMaterial, MptcpKey};
use mptfo_proto::DataSeq;

/// The sender's key of the MP_CAPABLE option in `opts`, found by walking the
/// TCP options by hand.
fn mp_capable_key(opts: &[u8]) -> Option<u64> {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return None,
            1 => i += 1,
            _ => {
                let len = *opts.get(i + 1)? as usize;
                if len < 2 || i + len > opts.len() {
                    return None;
                }
                // MPTCP option, subtype MP_CAPABLE, with at least one key.
                if opts[i] == 30 && len >= 12 && opts[i + 2] >> 4 == 0 {
                    return Some(u64::from_be_bytes(opts[i + 4..i + 12].try_into().ok()?));
                }
                i += len;
            }
        }
    }
    None
}

#[test]
fn committed_wireshark_vectors() {
    let rows = common::wireshark_keys();
    assert!(rows.len() >= 20, "expected the committed key table");
    for (file, frame, key, want_token, want_idsn) in &rows {
        let k = MptcpKey(*key);
        assert_eq!(
            token(k),
            *want_token,
            "{file} frame {frame}: token of {key:#x}"
        );
        assert_eq!(idsn(k), DataSeq(*want_idsn), "{file} frame {frame}: IDSN");
        assert_eq!(
            KeyMaterial::new(k),
            KeyMaterial {
                key: k,
                token: *want_token,
                idsn: DataSeq(*want_idsn)
            }
        );
        // The key really is the one in that frame's MP_CAPABLE option.
        let frames = common::read_pcap(&common::fixture_dir().join(file));
        let f = &frames[frame - 1];
        let opts = f.tcp_options().expect("a TCP frame");
        assert_eq!(mp_capable_key(opts), Some(*key), "{file} frame {frame}");
    }
}

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("-v")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn live_tshark_vectors() {
    if !tshark_available() {
        // Straight to fd 2: libtest captures eprintln! of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "\n**************************************************************\n\
             *** SKIPPED live tshark check: tshark not installed        ***\n\
             *** (the committed wireshark-keys.tsv vectors still ran)   ***\n\
             **************************************************************"
        );
        return;
    }
    let mut files: Vec<_> = std::fs::read_dir(common::fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    let committed = common::wireshark_keys();
    let mut checked = 0;
    for f in &files {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(f)
            .args(["-o", "mptcp.analyze_mptcp:TRUE"])
            .args(["-Y", "tcp.options.mptcp.sendkey"])
            .args(["-T", "fields"])
            .args(["-e", "tcp.options.mptcp.sendkey"])
            .args(["-e", "mptcp.expected_token"])
            .args(["-e", "mptcp.expected_idsn"])
            .output()
            .expect("run tshark");
        assert!(
            out.status.success(),
            "tshark failed on {}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let mut keys = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 3, "{name}: unexpected tshark line {line:?}");
            // A field that occurs more than once is comma-separated; the
            // first occurrence is the option's.
            let first = |s: &str| s.split(',').next().unwrap().trim().to_string();
            let parse = |s: &str| -> u64 {
                let s = first(s);
                match s.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16).unwrap(),
                    None => s.parse().unwrap(),
                }
            };
            let key = MptcpKey(parse(cols[0]));
            let m = KeyMaterial::new(key);
            assert_eq!(m.token as u64, parse(cols[1]), "{name}: token of {key:?}");
            assert_eq!(m.idsn, DataSeq(parse(cols[2])), "{name}: IDSN of {key:?}");
            keys.push(key.0);
            checked += 1;
        }
        // tshark finds exactly the keys the committed table lists for this file.
        let want: Vec<u64> = committed
            .iter()
            .filter(|r| r.0 == name)
            .map(|r| r.2)
            .collect();
        assert_eq!(keys, want, "{name}: tshark keys vs wireshark-keys.tsv");
    }
    assert!(checked > 0, "tshark found no MPTCP keys in the fixtures");
    eprintln!(
        "live tshark check: {checked} keys in {} captures match",
        files.len()
    );
}
