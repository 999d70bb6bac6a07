//! Every serve/loadgen settings file in `config/examples/` loads and
//! validates. (Lab files, those with a `[lab]` table, are `mptfo lab`'s:
//! the deploy crate's tests check them.)

use std::path::{Path, PathBuf};

use mptfo_config::*;

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter(|p| !is_lab_file(p))
        .collect();
    v.sort();
    v
}

/// A lab file: a `[lab]` table at the top level.
fn is_lab_file(p: &Path) -> bool {
    let text = std::fs::read_to_string(p).unwrap();
    let v: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    v.contains_key("lab")
}

fn load(name: &str) -> Config {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    Config::from_file(&p).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_example_validates_and_round_trips() {
    let files = examples();
    assert!(files.len() >= 4, "{files:?}");
    for f in files {
        let c = Config::from_file(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(
            c.serve.is_some() || c.loadgen.is_some(),
            "{}: neither [serve] nor [loadgen]",
            f.display()
        );
        let back = Config::from_str(&c.to_toml_string().unwrap()).unwrap();
        assert_eq!(back, c, "{}", f.display());
    }
}

#[test]
fn af_packet_pair() {
    let s = load("serve-af_packet.toml");
    let l = load("loadgen-af_packet.toml");
    assert_eq!(s.cores.len(), 2);
    assert_eq!(l.cores.len(), 2);
    assert_eq!(s.ports.len(), 2);
    assert_eq!(s.mss(), 1460);
    assert_eq!(
        s.mptcp.reply_timing,
        ReplyTiming::Hold,
        "Linux clients need hold"
    );
    assert_eq!(
        s.eal_args(),
        [
            "-l",
            "0-1",
            "-m",
            "512",
            "--no-huge",
            "--no-shconf",
            "--no-pci",
            "--vdev=net_af_packet0,iface=s1,qpairs=2",
            "--vdev=net_af_packet1,iface=s2,qpairs=2",
        ]
    );
    let lg = l.loadgen.as_ref().unwrap();
    // Aimed at the kernel server; our server is reachable by override.
    assert_eq!(lg.target.to_string(), "10.0.1.2:8080");
    let mut ours = l.clone();
    ours.set("loadgen.target", "10.0.1.12:8080").unwrap();
    let ours_ip = ours.loadgen.as_ref().unwrap().target.ip();
    assert!(s.ports[0].addresses.iter().any(|a| a.addr == ours_ip));
    assert!(lg.subflows <= l.mptcp.limits.subflows);
}

#[test]
fn memif_pair_matches() {
    let s = load("serve-memif.toml");
    let l = load("loadgen-memif.toml");
    let (sp, lp) = (&s.ports[0], &l.ports[0]);
    let socket = |v: &str| {
        v.split(',')
            .find(|kv| kv.starts_with("socket="))
            .map(str::to_string)
    };
    let mac = |v: &str| {
        v.split(',')
            .find_map(|kv| kv.strip_prefix("mac="))
            .map(|m| m.parse::<MacAddr>().unwrap())
    };
    let (sv, lv) = (sp.vdev.as_deref().unwrap(), lp.vdev.as_deref().unwrap());
    assert_eq!(socket(sv), socket(lv));
    assert!(sv.contains("role=server") && lv.contains("role=client"));
    // Each side's static neighbour is the other side's port.
    assert_eq!(sp.neighbours[0].ip, lp.addresses[0].addr);
    assert_eq!(Some(sp.neighbours[0].mac), mac(lv));
    assert_eq!(lp.neighbours[0].ip, sp.addresses[0].addr);
    assert_eq!(Some(lp.neighbours[0].mac), mac(sv));
    // The load generator aims at the server's address and port.
    let target = l.loadgen.as_ref().unwrap().target;
    assert_eq!(target.ip(), sp.addresses[0].addr);
    assert_eq!(target.port(), s.serve.as_ref().unwrap().listen_port);
    // Workers on different CPUs; two processes can share the machine.
    assert!(s.cores.as_slice().iter().all(|c| !l.cores.contains(*c)));
    assert!(s.eal.no_shconf && l.eal.no_shconf);
    assert_eq!(s.mptcp.reply_timing, l.mptcp.reply_timing);
    assert_eq!(s.eal_args()[..4], ["-l", "0-1", "--main-lcore", "0"]);
}
