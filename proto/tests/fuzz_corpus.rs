//! Replays the committed fuzz seed corpus (`fuzz/seeds/<target>/`) through
//! the same entry points the cargo-fuzz targets call, so plain `cargo test`
//! covers every seed and every regression input without libFuzzer.
//!
//! The corpus is made by `fuzz/make-seeds.py` from the fixture captures;
//! inputs found by fuzzing are added by hand as `regress-*` files.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use mptfo_proto::fuzzing;

/// The seed folder of one fuzz target.
fn seed_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target)
}

/// Every seed of `target` as (file name, bytes), in name order; asserts the
/// folder is there and not empty.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = seed_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no seeds", dir.display());
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// Runs `entry` over every seed of `target`, naming the seed on a panic.
fn replay(target: &str, entry: fn(&[u8])) -> usize {
    let all = seeds(target);
    for (name, bytes) in &all {
        let r = std::panic::catch_unwind(|| entry(bytes));
        assert!(r.is_ok(), "fuzz/seeds/{target}/{name} failed");
    }
    all.len()
}

#[test]
fn packet_seeds() {
    let n = replay("packet", fuzzing::packet);
    assert!(n >= 200, "only {n} packet seeds");
}

#[test]
fn tcp_options_seeds() {
    let n = replay("tcp_options", fuzzing::tcp_options);
    assert!(n >= 100, "only {n} tcp_options seeds");
}

#[test]
fn mptcp_option_seeds() {
    let n = replay("mptcp_option", fuzzing::mptcp_option);
    assert!(n >= 50, "only {n} mptcp_option seeds");
}

/// The packet corpus holds every frame of every fixture capture, so a new
/// capture is not forgotten (re-run `python3 fuzz/make-seeds.py`).
#[test]
fn packet_seeds_cover_every_fixture_frame() {
    let have: HashSet<Vec<u8>> = seeds("packet").into_iter().map(|(_, b)| b).collect();
    for f in common::all_frames() {
        assert!(
            have.contains(&f.bytes),
            "{} frame {} is not in fuzz/seeds/packet (run fuzz/make-seeds.py)",
            f.file,
            f.number
        );
    }
}

/// The crafted packet seeds reach the paths they were made for, checksums
/// included (a seed that classify rejects early would add no coverage).
#[test]
fn crafted_packet_seeds_classify_as_meant() {
    use mptfo_proto::checksum::ChecksumCaps;
    use mptfo_proto::wire::{classify, Classified};

    let all = seeds("packet");
    let get = |name: &str| {
        let (_, bytes) = all
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("seed {name} missing (run fuzz/make-seeds.py)"));
        classify(bytes, &ChecksumCaps::SOFTWARE).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    for name in ["crafted-arp-request", "crafted-arp-reply"] {
        assert!(matches!(get(name), Classified::Arp(_)), "{name}");
    }
    for name in ["crafted-nd-solicit", "crafted-nd-advert"] {
        assert!(
            matches!(get(name), Classified::NeighborDiscovery { .. }),
            "{name}"
        );
    }
    for name in ["crafted-tcp6-syn-data", "crafted-tcp4-ip-options"] {
        let Classified::Tcp(seg) = get(name) else {
            panic!("{name}: not TCP");
        };
        assert!(!seg.payload.is_empty(), "{name}");
    }
}
