//! `mptfo loadgen --stack kernel` against `mptfo serve --stack kernel`:
//! both on the Linux kernel's MPTCP + TFO stack, over a veth pair between
//! two network namespaces, as root.
//!
//! Each test builds its own lab: namespaces `mfk-<pid>-<tag>-c` (client,
//! `tcp_tw_reuse=1`) and `mfk-<pid>-<tag>-s` (server), both with
//! `net.ipv4.tcp_fastopen=3` and `net.mptcp.enabled=1`, joined by the veth
//! pair `mfk<pid><tag>c` / `mfk<pid><tag>s`. A guard stops the children
//! and deletes the namespaces (and with them the veth pair), also when a
//! test panics; every child is bounded by its own duration too.
//!
//! What is checked: transactions complete with zero errors; with TFO on,
//! the server namespace's TcpExtTCPFastOpenPassive rises (as `serve`
//! reports it) and no connection falls back with `--reply hold`; the JSON
//! report parses, with `stack == "kernel"` and the load shape asked for
//! (closed loop, open loop at a rate, several requests per connection);
//! with TFO off no SYN carries data. Bad flags are refused by name (no
//! root needed).

mod support;

use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use support::{has_tool, is_root, ns_run, Children, NetnsPair, MPTFO};

/// The tests share the machine's CPUs: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn skip() -> bool {
    let why = if !is_root() {
        Some("needs root (network namespaces, veth)".to_owned())
    } else if !has_tool("ip", "-V") {
        Some("needs `ip`".to_owned())
    } else {
        None
    };
    if let Some(why) = why {
        eprintln!("SKIPPED: {why} ***********************************************");
        return true;
    }
    false
}

/// Two namespaces, a veth pair, the children; all gone on drop.
struct Lab {
    ns_c: String,
    ns_s: String,
    ip_s: String,
    dir: std::path::PathBuf,
    /// Children, stopped (in reverse order) before the namespaces go.
    procs: Children,
    /// The namespaces and the veth pair, deleted last.
    net: NetnsPair,
}

impl Lab {
    fn create(tag: char, subnet: u8) -> Result<Lab, String> {
        let pid = std::process::id();
        let net = NetnsPair::create(
            &format!("mfk-{pid}-{tag}-c"),
            &format!("mfk-{pid}-{tag}-s"),
            &format!("mfk{}{tag}c", pid % 1_000_000),
            &format!("mfk{}{tag}s", pid % 1_000_000),
            None,
        )?;
        let lab = Lab {
            ns_c: net.ns_a.clone(),
            ns_s: net.ns_b.clone(),
            ip_s: format!("10.232.{subnet}.2"),
            dir: std::env::temp_dir().join(format!("mfk-kernel-mode-{pid}-{tag}")),
            procs: Children::new(""),
            net,
        };
        std::fs::create_dir_all(&lab.dir).map_err(|e| format!("{}: {e}", lab.dir.display()))?;
        let ip_c = format!("10.232.{subnet}.1");
        for (ns, ifc, ip) in [
            (&lab.ns_c, &lab.net.if_a, &ip_c),
            (&lab.ns_s, &lab.net.if_b, &lab.ip_s),
        ] {
            let x = |args: &[&str]| ns_run(ns, args);
            x(&["sysctl", "-qw", "net.ipv4.tcp_fastopen=3"])?;
            x(&["sysctl", "-qw", "net.mptcp.enabled=1"])?;
            x(&["ip", "link", "set", "lo", "up"])?;
            x(&["ip", "addr", "add", &format!("{ip}/24"), "dev", ifc])?;
            x(&["ip", "link", "set", ifc, "up"])?;
        }
        ns_run(&lab.ns_c, &["sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1"])?;
        Ok(lab)
    }

    /// `mptfo serve --stack kernel` in the server namespace (rpc 64 B ->
    /// 64 B, one worker, 60 s at most), listening.
    fn serve(&mut self, extra: &[&str]) -> usize {
        let ns = self.ns_s.clone();
        let mut args = vec![
            MPTFO,
            "serve",
            "--stack",
            "kernel",
            "--listen",
            "8080",
            "--mode",
            "rpc",
            "--request-bytes",
            "64",
            "--response-bytes",
            "64",
            "--duration",
            "60s",
        ];
        args.extend_from_slice(extra);
        let i = self.procs.spawn("serve", &ns, &args);
        self.procs[i]
            .wait_for("listening", Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{e}"));
        i
    }

    /// `mptfo loadgen --stack kernel` in the client namespace, to the
    /// end: its success, output and JSON report.
    fn loadgen(&mut self, extra: &[&str]) -> (bool, String, serde_json::Value) {
        let ns = self.ns_c.clone();
        let target = format!("{}:8080", self.ip_s);
        let json = self.dir.join("report.json");
        let json_s = json.to_string_lossy().into_owned();
        let mut args = vec![
            MPTFO,
            "loadgen",
            "--stack",
            "kernel",
            "--target",
            &target,
            "--request-bytes",
            "64",
            "--response-bytes",
            "64",
            "--interval",
            "500ms",
            "--json",
            &json_s,
            "--time-limit",
            "30s",
        ];
        args.extend_from_slice(extra);
        let i = self.procs.spawn("loadgen", &ns, &args);
        let st = self.procs[i].wait(Duration::from_secs(40));
        let out = self.procs[i].output();
        eprintln!("{out}");
        let v = std::fs::read_to_string(&json)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(serde_json::Value::Null);
        (st.success(), out, v)
    }

    /// Stops the server (SIGTERM) and returns its output.
    fn stop_serve(&mut self, i: usize) -> String {
        self.procs[i].terminate_success()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.procs.stop_all();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A counter from the `kernel counters` lines of an output (0 when not
/// listed: only non-zero ones are).
fn counter(out: &str, name: &str) -> u64 {
    out.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some(name))
                .then(|| it.next().and_then(|v| v.parse().ok()))
                .flatten()
        })
        .next_back()
        .unwrap_or(0)
}

fn num(v: &serde_json::Value, path: &[&str]) -> f64 {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_f64()
        .unwrap_or_else(|| panic!("{} not a number in {v}", path.join(".")))
}

fn start(tag: char, subnet: u8) -> Option<(std::sync::MutexGuard<'static, ()>, Lab)> {
    if skip() {
        return None;
    }
    let g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::create(tag, subnet).unwrap_or_else(|e| panic!("lab: {e}"));
    Some((g, lab))
}

/// Closed loop, TFO + MPTCP, answers held for the client's key: every
/// transaction complete, TFO accepted by the server, no fallback.
#[test]
fn closed_loop_tfo_mptcp_hold() {
    let Some((_g, mut lab)) = start('a', 1) else {
        return;
    };
    let srv = lab.serve(&["--reply", "hold"]);
    let (ok, out, v) = lab.loadgen(&["--connections", "4", "--duration", "2s"]);
    let sout = lab.stop_serve(srv);
    assert!(ok, "loadgen failed:\n{out}");
    assert_eq!(v["stack"], "kernel", "{v}");
    assert_eq!(v["load"]["kind"], "closed");
    assert_eq!(num(&v, &["load", "connections"]), 4.0);
    let tx = num(&v, &["transactions"]);
    assert!(tx > 0.0, "{out}");
    assert_eq!(num(&v, &["errors", "total"]), 0.0, "{out}");
    assert_eq!(num(&v, &["fallbacks", "total"]), 0.0, "{out}");
    assert_eq!(num(&v, &["fallbacks", "mptcp_transactions"]), tx, "{out}");
    assert!(num(&v, &["tfo", "accepted"]) > 0.0, "{out}");
    assert!(num(&v, &["latency", "syn_to_synack", "count"]) > 0.0);
    assert!(!v["intervals"].as_array().unwrap().is_empty());
    let passive = counter(&sout, "TcpExtTCPFastOpenPassive");
    assert!(passive > 0, "server TFO passive 0:\n{sout}");
    // Every load connection carried its request in the SYN (the cookie
    // request of the first transaction is not part of the load).
    assert!(
        passive as f64 >= tx,
        "{passive} passive TFO < {tx} transactions"
    );
    assert_eq!(counter(&sout, "MPTcpExtMPCapableFallbackACK"), 0, "{sout}");
    assert_eq!(counter(&out, "MPTcpExtMPCapableDataFallback"), 0, "{out}");
    assert!(sout.contains("held answers"), "{sout}");
    assert_eq!(counter(&sout, "TcpExtTCPFastOpenPassiveFail"), 0, "{sout}");
}

/// Open loop at a fixed rate: about rate x duration transactions, counted
/// from the intended starts.
#[test]
fn open_loop_at_a_rate() {
    let Some((_g, mut lab)) = start('b', 2) else {
        return;
    };
    let srv = lab.serve(&[]);
    let (ok, out, v) = lab.loadgen(&["--rate", "400", "--duration", "2s"]);
    let sout = lab.stop_serve(srv);
    assert!(ok, "loadgen failed:\n{out}");
    assert_eq!(v["stack"], "kernel");
    assert_eq!(v["load"]["kind"], "open");
    assert_eq!(num(&v, &["load", "rate_per_s"]), 400.0);
    assert_eq!(v["load"]["from_intended_start"], true);
    let started = num(&v, &["started"]);
    // 800 scheduled; a worker that fell behind the schedule on a loaded
    // machine does not make the starts still due when the load ends.
    assert!(
        (720.0..=801.0).contains(&started),
        "{started} started:\n{out}"
    );
    assert_eq!(num(&v, &["transactions"]), started, "{out}");
    assert_eq!(num(&v, &["errors", "total"]), 0.0, "{out}");
    assert!(counter(&sout, "TcpExtTCPFastOpenPassive") > 0, "{sout}");
}

/// Several requests per connection (RPS): one connection per 5
/// transactions.
#[test]
fn requests_per_connection() {
    let Some((_g, mut lab)) = start('c', 3) else {
        return;
    };
    let srv = lab.serve(&[]);
    let (ok, out, v) = lab.loadgen(&[
        "--connections",
        "4",
        "-n",
        "500",
        "--requests-per-connection",
        "5",
    ]);
    let sout = lab.stop_serve(srv);
    assert!(ok, "loadgen failed:\n{out}");
    assert_eq!(num(&v, &["load", "requests_per_connection"]), 5.0);
    assert_eq!(num(&v, &["transactions"]), 500.0, "{out}");
    assert_eq!(num(&v, &["errors", "total"]), 0.0, "{out}");
    assert_eq!(num(&v, &["latency", "syn_to_last_byte", "count"]), 500.0);
    // 5 per connection; each of the 4 slots may end with a connection
    // that did fewer.
    let opens = counter(&out, "TcpActiveOpens");
    assert!((100..=104).contains(&opens), "{opens} connections:\n{out}");
    assert_eq!(
        num(&v, &["latency", "syn_to_synack", "count"]),
        opens as f64
    );
    // The first transaction (cookie request) is not in the client's
    // figures but the server answered it.
    assert_eq!(counter(&sout, "TcpPassiveOpens"), opens + 1, "{sout}");
    assert!(sout.contains("requests               501 "), "{sout}");
}

/// TFO off: connect, then the request; no SYN carries data.
#[test]
fn tfo_off() {
    let Some((_g, mut lab)) = start('d', 4) else {
        return;
    };
    let srv = lab.serve(&[]);
    let (ok, out, v) = lab.loadgen(&["--tfo", "off", "--connections", "2", "-n", "300"]);
    let sout = lab.stop_serve(srv);
    assert!(ok, "loadgen failed:\n{out}");
    assert_eq!(num(&v, &["transactions"]), 300.0, "{out}");
    assert_eq!(num(&v, &["errors", "total"]), 0.0);
    assert_eq!(num(&v, &["tfo", "client_active"]), 0.0);
    assert_eq!(num(&v, &["tfo", "accepted"]), 0.0);
    assert_eq!(v["config"]["tfo"], false);
    assert_eq!(counter(&sout, "TcpExtTCPFastOpenPassive"), 0, "{sout}");
    assert_eq!(num(&v, &["fallbacks", "mptcp_transactions"]), 300.0);
}

/// Flags of the DPDK stack and bad values are refused, by name.
#[test]
fn bad_flags_are_named() {
    let run = |args: &[&str]| {
        let o = Command::new(MPTFO).args(args).output().expect("mptfo runs");
        assert!(!o.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let loadgen = |extra: &[&str]| {
        let mut args = vec!["loadgen", "--stack", "kernel", "--target", "127.0.0.1:9"];
        args.extend_from_slice(extra);
        run(&args)
    };
    let e = loadgen(&["--eal", "-l 0"]);
    assert!(e.contains("--eal applies to --stack mptfo only"), "{e}");
    let e = loadgen(&["--rate", "0"]);
    assert!(e.contains("--rate 0"), "{e}");
    let e = loadgen(&["--requests-per-connection", "0"]);
    assert!(e.contains("--requests-per-connection 0"), "{e}");
    let e = run(&["serve", "--stack", "kernel", "--tfo-key", "xyz"]);
    assert!(e.contains("--tfo-key"), "{e}");
    let e = run(&[
        "serve",
        "--stack",
        "kernel",
        "--ip",
        "10.0.0.1/24",
        "--ip",
        "10.0.0.2/24",
    ]);
    assert!(e.contains("--ip given 2 times"), "{e}");
}
