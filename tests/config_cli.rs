//! `mptfo serve` / `mptfo loadgen` with a settings file (`--config`,
//! `--set`), checked with `--check-config` (validates, prints the
//! effective settings, touches no DPDK device: no root needed).

use std::path::PathBuf;
use std::process::{Command, Output};

fn mptfo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mptfo"))
        .args(args)
        .output()
        .expect("run mptfo")
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("config/examples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The value column of a `  key   value` line of the settings printout.
fn setting(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .filter(|r| r.starts_with(' '))
                .map(|r| r.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no `{key}` in:\n{out}"))
}

fn temp_file(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mptfo-config-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn examples_are_accepted() {
    for (role, file) in [
        ("serve", "serve-memif.toml"),
        ("serve", "serve-af_packet.toml"),
        ("loadgen", "loadgen-memif.toml"),
        ("loadgen", "loadgen-af_packet.toml"),
    ] {
        let o = mptfo(&[role, "--config", &example(file), "--check-config"]);
        let (out, err) = text(&o);
        assert!(
            o.status.success(),
            "{role} {file}: {:?}\n{out}\n{err}",
            o.status
        );
        assert!(out.starts_with(&format!("{role}: settings ok")), "{out}");
        assert!(setting(&out, "eal").contains("--vdev=net_"), "{out}");
    }
}

#[test]
fn serve_memif_example_with_overrides() {
    let file = example("serve-memif.toml");
    let o = mptfo(&[
        "serve",
        "--config",
        &file,
        "--set",
        "serve.duration_s=1",
        "--check-config",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert_eq!(setting(&out, "duration"), "1s");
    assert_eq!(setting(&out, "listen"), "8080");
    assert_eq!(setting(&out, "ip"), "10.0.9.2/24");
    assert_eq!(setting(&out, "neighbors"), "10.0.9.1=02:00:00:00:09:01");
    assert_eq!(setting(&out, "cores"), "[1]");
    assert_eq!(setting(&out, "reply"), "Early");
    assert_eq!(setting(&out, "tfo key"), "fixed");
    assert_eq!(
        setting(&out, "eal"),
        "-l 0-1 --main-lcore 0 -m 512 --no-huge --no-shconf --no-pci \
         --vdev=net_memif0,role=server,socket=/tmp/mptfo-memif.sock,mac=02:00:00:00:09:02"
    );

    // --set over the file; a flag over both.
    let o = mptfo(&[
        "serve",
        "--config",
        &file,
        "--set",
        "serve.listen_port=9001",
        "--check-config",
    ]);
    assert_eq!(setting(&text(&o).0, "listen"), "9001");
    let o = mptfo(&[
        "serve",
        "--config",
        &file,
        "--set",
        "serve.listen_port=9001",
        "--listen",
        "9000",
        "--reply",
        "hold",
        "--cores",
        "0-1",
        "--duration",
        "250ms",
        "--check-config",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert_eq!(setting(&out, "listen"), "9000");
    assert_eq!(setting(&out, "reply"), "Hold");
    assert_eq!(setting(&out, "cores"), "[0, 1]");
    assert_eq!(setting(&out, "duration"), "250ms");
}

#[test]
fn bad_file_exits_2_with_the_key_value_and_expectation() {
    let p = temp_file(
        "bad.toml",
        "[[port]]\nvdev = \"net_ring0\"\naddresses = [\"10.0.0.1/24\"]\n\n[mptcp.limits]\nsubflows = 12\n",
    );
    let o = mptfo(&["serve", "--config", p.to_str().unwrap(), "--check-config"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(
        err.contains("mptcp.limits.subflows = 12: expected an integer from 0 to 8 (Linux's limit)"),
        "{err}"
    );
    // The same check runs without --check-config, before any DPDK work.
    let o = mptfo(&["serve", "--config", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn bad_override_exits_2() {
    let file = example("serve-memif.toml");
    let o = mptfo(&[
        "serve",
        "--config",
        &file,
        "--set",
        "serve.duration_s=-1",
        "--check-config",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(
        err.contains(
            "serve.duration_s = -1: expected a number of seconds greater than 0 (e.g. 10 or 0.5)"
        ),
        "{err}"
    );
    let o = mptfo(&[
        "serve",
        "--config",
        &file,
        "--set",
        "nonsense",
        "--check-config",
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("expected PATH=VALUE"), "{err}");
    let o = mptfo(&[
        "serve",
        "--config",
        "/nonexistent/mptfo.toml",
        "--check-config",
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot read /nonexistent/mptfo.toml"), "{err}");
}

#[test]
fn without_a_file_the_flags_are_required() {
    let o = mptfo(&["serve", "--ip", "10.0.0.1/24"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--eal"), "{err}");
    let o = mptfo(&[
        "serve",
        "--eal",
        "--no-huge --vdev=net_ring0",
        "--ip",
        "10.0.0.1/24",
        "--cores",
        "1-0",
        "--check-config",
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("runs backwards"), "{err}");
    let o = mptfo(&[
        "serve",
        "--eal",
        "--no-huge --vdev=net_ring0",
        "--ip",
        "10.0.0.1/24",
        "--cores",
        "0,1",
        "--check-config",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert_eq!(setting(&out, "cores"), "[0, 1]");
    assert_eq!(setting(&out, "eal"), "--no-huge --vdev=net_ring0");
    // --set needs a file.
    let o = mptfo(&[
        "serve",
        "--eal",
        "x",
        "--ip",
        "10.0.0.1/24",
        "--set",
        "serve.listen_port=1",
    ]);
    assert_eq!(o.status.code(), Some(2));
}
