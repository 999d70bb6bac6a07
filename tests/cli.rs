//! The `mptfo` binary, run as a user would.

use std::process::Command;

use mptfo_proto::crypto::MptcpKey;
use mptfo_proto::tfo::{cookie_for, TfoKey};

fn mptfo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mptfo"))
}

#[test]
fn bench_writes_a_json_report() {
    let dir = std::env::temp_dir().join(format!("mptfo-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("bench.json");
    let out = mptfo()
        .args(["bench", "--transactions", "100", "--rtt", "10ms", "--json"])
        .arg(&json)
        .output()
        .expect("run mptfo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("transactions/s"), "{stdout}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("valid JSON");
    assert_eq!(v["transactions"], 100);
    assert_eq!(v["errors"]["total"], 0);
    assert_eq!(v["config"]["tfo"], true);
    assert_eq!(v["config"]["rtt_ms"], 10.0);
    for key in ["rate", "tfo", "fallbacks", "retransmissions", "latency"] {
        assert!(v.get(key).is_some(), "{key} missing");
    }
    assert_eq!(v["client_counters"]["TcpActiveOpens"], 100);
    assert_eq!(v["tfo"]["accepted"], 99);
    let p50 = v["latency"]["syn_to_last_byte"]["p50_us"].as_f64().unwrap();
    assert!((p50 - 10_000.0).abs() < 1_000.0, "p50 {p50} µs");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bench_rejects_bad_options() {
    let out = mptfo().args(["bench", "--tfo", "maybe"]).output().unwrap();
    assert!(!out.status.success());
    let out = mptfo().args(["bench", "--rtt", "10"]).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn tfo_cookie_both_key_forms_agree() {
    let run = |key: &str| {
        let out = mptfo()
            .args([
                "tfo-cookie",
                "--key",
                key,
                "--client",
                "10.0.1.1",
                "--server",
                "10.0.1.2",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let a = run("000102030405060708090a0b0c0d0e0f");
    let b = run("03020100-07060504-0b0a0908-0f0e0d0c");
    assert_eq!(a.len(), 16, "8 bytes in hex: {a}");
    assert_eq!(a, b);
    let key = TfoKey(core::array::from_fn(|i| i as u8));
    let want: String = cookie_for(
        &key,
        "10.0.1.1".parse().unwrap(),
        "10.0.1.2".parse().unwrap(),
    )
    .as_bytes()
    .iter()
    .map(|b| format!("{b:02x}"))
    .collect();
    assert_eq!(a, want);
}

#[test]
fn mptcp_key_prints_token_and_idsn() {
    let out = mptfo()
        .args(["mptcp-key", "0x0102030405060708"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    let m = MptcpKey(0x0102030405060708).material();
    assert!(s.contains(&format!("token {:#010x}", m.token)), "{s}");
    assert!(s.contains(&format!("idsn  {:#018x}", m.idsn.0)), "{s}");
}
