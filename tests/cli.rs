//! The `mptfo` binary, run as a user would.

mod support;

use std::process::{Command, Output};

use support::{is_root, output_text, read_json};

use mptfo_proto::crypto::MptcpKey;
use mptfo_proto::tfo::{cookie_for, TfoKey};

fn mptfo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mptfo"))
}

/// The standard output of a run that must have succeeded (otherwise its
/// exit status and both outputs fail the test).
fn stdout_of_success(out: &Output) -> String {
    assert!(out.status.success(), "{}", output_text(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
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
    let stdout = stdout_of_success(&out);
    assert!(stdout.contains("transactions/s"), "{stdout}");
    let v: serde_json::Value = read_json(&json);
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

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mptfo-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `mptfo bench ARGS --json FILE`, expects success, gives the JSON.
fn bench_json(name: &str, args: &[&str]) -> (serde_json::Value, String) {
    let dir = temp_dir(name);
    let json = dir.join("bench.json");
    let out = mptfo()
        .arg("bench")
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run mptfo");
    let stdout = stdout_of_success(&out);
    let v: serde_json::Value = read_json(&json);
    std::fs::remove_dir_all(&dir).ok();
    (v, stdout)
}

#[test]
fn bench_open_loop_counts_from_the_intended_start() {
    let (v, stdout) = bench_json(
        "open",
        &["--rate", "1000", "--rtt", "10ms", "--duration", "1s"],
    );
    assert_eq!(v["stack"], "mptfo");
    assert_eq!(v["cores"], 1);
    assert_eq!(v["load"]["kind"], "open");
    assert_eq!(v["load"]["rate_per_s"], 1000.0);
    assert_eq!(v["load"]["from_intended_start"], true);
    assert_eq!(v["load"]["requests_per_connection"], 1);
    // Virtual time: every start on time, every transaction one RTT.
    assert_eq!(v["generator"]["late_starts"], 0);
    assert_eq!(v["generator"]["refused_starts"], 0);
    for h in ["syn_to_synack", "syn_to_first_byte", "syn_to_last_byte"] {
        assert_eq!(v["latency"][h]["p50_us"], 10_000.0, "{h}");
        assert_eq!(v["latency"][h]["p99_us"], 10_000.0, "{h}");
    }
    assert_eq!(v["latency"]["syn_to_synack"]["count"], v["transactions"]);
    assert!(stdout.contains("open loop, 1000 connections/s"), "{stdout}");
    assert!(stdout.contains("SYN -> SYN/ACK"), "{stdout}");
    assert_eq!(v["intervals"].as_array().map(Vec::len), Some(0));
}

#[test]
fn bench_keep_alive_requests_per_connection() {
    let (v, stdout) = bench_json(
        "rps",
        &[
            "--requests-per-connection",
            "10",
            "-n",
            "200",
            "--rtt",
            "10ms",
        ],
    );
    assert_eq!(v["transactions"], 200);
    assert_eq!(v["load"]["kind"], "closed");
    assert_eq!(v["load"]["requests_per_connection"], 10);
    assert_eq!(v["generator"]["connections"], 20);
    assert_eq!(v["generator"]["requests"], 200);
    assert_eq!(v["client_counters"]["TcpActiveOpens"], 20);
    assert_eq!(v["latency"]["syn_to_synack"]["count"], 20);
    assert_eq!(v["latency"]["syn_to_last_byte"]["count"], 200);
    let (cps, rps) = (
        v["generator"]["connections_per_s"].as_f64().unwrap(),
        v["generator"]["requests_per_s"].as_f64().unwrap(),
    );
    assert!((rps - 10.0 * cps).abs() < 1e-6 * rps, "{cps} {rps}");
    assert!(stdout.contains("10 requests per connection"), "{stdout}");
}

#[test]
fn bench_and_loadgen_refuse_bad_load_flags() {
    let fails = |args: &[&str], want: &str| {
        let out = mptfo().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
    };
    fails(&["bench", "--rate=0"], "--rate 0");
    fails(&["bench", "--rate=-3"], "--rate -3");
    fails(
        &["bench", "--requests-per-connection", "0"],
        "--requests-per-connection 0",
    );
    fails(
        &["bench", "--rate", "10", "--max-in-flight", "0"],
        "--max-in-flight 0",
    );
    fails(
        &["bench", "--rate", "10", "--concurrency", "4"],
        "--concurrency",
    );
    fails(&["bench", "--max-in-flight", "4"], "--rate");
    fails(&["bench", "--client-pause", "500ms"], "AT+LEN");
    fails(&["bench", "--link-mbps", "0"], "--link-mbps 0");
    // The load generator checks them before it touches DPDK.
    let lg = [
        "loadgen",
        "--eal",
        "--no-huge",
        "--ip",
        "10.0.0.2/24",
        "--target",
        "10.0.0.1:80",
    ];
    let with = |extra: &[&'static str]| {
        let mut a: Vec<&str> = lg.to_vec();
        a.extend_from_slice(extra);
        a
    };
    fails(&with(&["--rate=0"]), "--rate 0");
    fails(
        &with(&["--requests-per-connection", "0"]),
        "--requests-per-connection 0",
    );
    fails(
        &with(&["--rate", "10", "--max-in-flight", "0"]),
        "--max-in-flight 0",
    );
    fails(
        &with(&["--rate", "10", "--connections", "4"]),
        "--connections",
    );
    fails(&with(&["--interval", "soon"]), "soon");
}

/// Kills the child on drop (a failed assertion leaves no server behind).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // SIGTERM first, so that it stops and cleans up like on Ctrl-C.
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let t0 = std::time::Instant::now();
        while t0.elapsed() < std::time::Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Removes these directories on drop (the test's own: its temp dir and
/// the EAL runtime directories of its file prefixes), passed or failed.
struct Cleanup(Vec<std::path::PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The live load generator on DPDK against `mptfo serve`, two processes
/// joined by net_memif: an open loop of kept-alive connections, with the
/// progress lines and the JSON report's load fields.
#[test]
fn loadgen_open_loop_over_memif_against_serve() {
    if !is_root() {
        eprintln!("SKIPPED: DPDK needs root here");
        return;
    }
    let dir = temp_dir("memif");
    let pid = std::process::id();
    let _cleanup = Cleanup(vec![
        dir.clone(),
        format!("/var/run/dpdk/mptfo-cli-s{pid}").into(),
        format!("/var/run/dpdk/mptfo-cli-c{pid}").into(),
    ]);
    let sock = dir.join("m.sock");
    let json = dir.join("loadgen.json");
    let log = dir.join("serve.log");
    let two = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    let (cpu_s, cpu_c) = if two { (1, 0) } else { (0, 0) };
    let eal = |cpu: u32, who: &str, role: &str, mac: &str| {
        format!(
            "--no-huge -m 256 --no-pci --no-shconf -l {cpu} --file-prefix mptfo-cli-{who}{pid} \
             --vdev=net_memif0,role={role},socket={},mac={mac}",
            sock.display()
        )
    };
    let server = mptfo()
        .args(["serve", "--eal"])
        .arg(eal(cpu_s, "s", "server", "02:00:00:00:0a:02"))
        .args([
            "--ip",
            "10.0.10.2/24",
            "--neighbor",
            "10.0.10.1=02:00:00:00:0a:01",
            "--listen",
            "8080",
            "--mode",
            "rpc",
            "--request-bytes",
            "64",
            "--response-bytes",
            "100",
            "--reply",
            "early",
            "--duration",
            "30s",
        ])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start mptfo serve");
    let _server = Killed(server);
    let t0 = std::time::Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("listening on")
    {
        assert!(t0.elapsed().as_secs() < 15, "serve did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = mptfo()
        .args(["loadgen", "--eal"])
        .arg(eal(cpu_c, "c", "client", "02:00:00:00:0a:01"))
        .args([
            "--ip",
            "10.0.10.1/24",
            "--neighbor",
            "10.0.10.2=02:00:00:00:0a:02",
            "--target",
            "10.0.10.2:8080",
            "--rate",
            "400",
            "--duration",
            "1s",
            "--requests-per-connection",
            "3",
            "--request-bytes",
            "64",
            "--response-bytes",
            "100",
            "--interval",
            "250ms",
            "--time-limit",
            "20s",
            "--json",
        ])
        .arg(&json)
        .output()
        .expect("run mptfo loadgen");
    let stdout = stdout_of_success(&out);
    let lines = stdout.lines().filter(|l| l.starts_with("t=")).count();
    assert!(lines >= 4, "progress lines: {stdout}");
    let v: serde_json::Value = read_json(&json);
    assert_eq!(v["clock"], "wall");
    assert_eq!(v["stack"], "mptfo");
    assert_eq!(v["load"]["kind"], "open");
    assert_eq!(v["load"]["rate_per_s"], 400.0);
    assert_eq!(v["load"]["requests_per_connection"], 3);
    assert_eq!(v["load"]["from_intended_start"], true);
    assert_eq!(v["errors"]["total"], 0, "{stdout}");
    let g = &v["generator"];
    let conns = g["connections"].as_u64().unwrap();
    // The cookie request, then 400/s for the rest of the second (every
    // start due is made, late or not).
    assert!((360..=401).contains(&conns), "{stdout}");
    assert_eq!(g["requests"].as_u64(), Some(3 * conns));
    assert_eq!(v["transactions"].as_u64(), Some(3 * conns));
    assert_eq!(v["latency"]["syn_to_synack"]["count"].as_u64(), Some(conns));
    assert_eq!(
        v["latency"]["syn_to_last_byte"]["count"].as_u64(),
        Some(3 * conns)
    );
    // The progress lines add up to the totals.
    let iv = v["intervals"].as_array().expect("intervals");
    assert!(iv.len() >= 4, "{iv:?}");
    let sum = |k: &str| -> f64 {
        iv.iter()
            .map(|i| i[k].as_f64().unwrap() * i["len_s"].as_f64().unwrap())
            .sum()
    };
    assert!(
        (sum("connections_per_s") - conns as f64).abs() < 0.5,
        "{iv:?}"
    );
    assert!(
        (sum("requests_per_s") - 3.0 * conns as f64).abs() < 0.5,
        "{iv:?}"
    );
}
