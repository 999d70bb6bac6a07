//! `mptfo lab`: lab-file errors (no root needed), `down` after a
//! simulated crash, and the whole comparison of
//! config/examples/versus-kernel.toml run once, short, then taken down
//! (as root, with DPDK).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

use support::{is_root, MPTFO};

/// The tests that build namespaces run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The test's turn (one at a time), or `None` when not root (the test,
/// which needs root for `what`, is skipped).
fn root_turn(what: &str) -> Option<MutexGuard<'static, ()>> {
    if !is_root() {
        eprintln!("SKIPPED: needs root ({what})");
        return None;
    }
    Some(SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
}

/// config/examples/NAME once `mptfo lab check` passes on it, or `None`
/// when this machine lacks a DPDK driver it needs (the test is skipped).
fn checked_example(name: &str) -> Option<PathBuf> {
    let cfg = example(name);
    let o = mptfo(&["lab", "check", "--config", cfg.to_str().unwrap()]);
    if !o.status.success() {
        let t = text(&o);
        if t.contains("DPDK driver") {
            eprintln!("SKIPPED: {t}");
            return None;
        }
        panic!("{t}");
    }
    Some(cfg)
}

fn mptfo(args: &[&str]) -> Output {
    Command::new(MPTFO)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("runs mptfo")
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A fresh folder under the temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("mptfo-lab-test-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/examples")
        .join(name)
}

/// `mptfo lab run` of lab file `cfg`, one short repetition (1 s) of each
/// scenario, results to `results`, state to `state_dir`, `extra` added.
fn run_once(cfg: &str, results: &str, state_dir: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "lab",
        "run",
        "--config",
        cfg,
        "--reps",
        "1",
        "--duration",
        "1s",
        "--results",
        results,
        "--state-dir",
        state_dir,
    ];
    args.extend_from_slice(extra);
    mptfo(&args)
}

fn ns_exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

/// Start time of a process (field 22 of /proc/PID/stat).
fn start_time(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// Processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if e.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            if c.contains(needle) {
                out.push(format!("{}: {c}", e.file_name().to_string_lossy()));
            }
        }
    }
    out
}

fn hugepages() -> String {
    std::fs::read_to_string("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[test]
fn both_examples_check() {
    for f in ["versus-kernel.toml", "multipath.toml"] {
        let p = example(f);
        let o = mptfo(&["lab", "check", "--config", p.to_str().unwrap()]);
        let out = text(&o);
        if is_root() {
            assert!(o.status.success(), "{f}: {out}");
            assert!(out.contains("the machine is ready"), "{out}");
        } else {
            // Parsed; the machine check says root is missing.
            assert!(out.contains("not root"), "{out}");
        }
    }
}

#[test]
fn lab_file_errors_name_key_value_and_expectation() {
    let dir = TempDir::new("errors");
    let base = std::fs::read_to_string(example("versus-kernel.toml")).unwrap();
    let cases = [
        (
            r#"b = { host = "vk-srv", ifname = "vkd-s", addresses = ["10.71.4.12/24"], driver = "af_packet" }"#,
            r#"b = { host = "vk-srv", ifname = "vkd-s", addresses = ["10.71.4.12/24"], driver = "af_pakket" }"#,
            r#"link[3].b.driver = "af_pakket": expected one of kernel, af_packet, af_xdp, memif"#,
        ),
        (
            r#"server = "linux-server-a""#,
            r#"server = "linux-server-z""#,
            r#"scenario[0].server = "linux-server-z": expected one of the serve endpoints: linux-server-a, mptfo-server-mem, linux-server-c, mptfo-server-d"#,
        ),
        (
            r#"ifname = "vkc-s""#,
            r#"ifname = "vka-s""#,
            r#"link[2].b.ifname = "vka-s": expected an interface name no other link end uses (link[0].b.ifname has it)"#,
        ),
        (
            r#"addresses = ["10.71.1.2/24"]"#,
            r#"addresses = ["10.71.2.2/24"]"#,
            r#"link[0].b.addresses[0] = "10.71.2.2/24": expected an address inside the prefix of link[0].a.addresses (10.71.1.1/24)"#,
        ),
        (
            "cores = [1]",
            "cores = [64]",
            "endpoint[1].cores = [64]: expected CPUs of this machine",
        ),
        (
            "reps = 3",
            "reps = 3\nrepetitions = 4",
            "defaults.repetitions: unknown key",
        ),
        (
            "requests_per_connection = 100",
            "requests_per_connection = 0",
            "scenario[5].requests_per_connection = 0: expected an integer from 1 (a connection per transaction) to 1000000000",
        ),
        (
            "mptcp = true",
            r#"mptcp = "maybe""#,
            r#"defaults.mptcp = "maybe": expected true, false or a list of them, each once"#,
        ),
    ];
    for (i, (from, to, want)) in cases.iter().enumerate() {
        assert!(base.contains(from), "case {i}: {from}");
        let f = dir.0.join(format!("case{i}.toml"));
        std::fs::write(&f, base.replacen(from, to, 1)).unwrap();
        for action in ["check", "up", "run", "status"] {
            let o = mptfo(&["lab", action, "--config", f.to_str().unwrap()]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success(), "case {i} {action}: {}", text(&o));
            assert!(
                err.contains(want),
                "case {i} {action}: want {want}\n{}",
                text(&o)
            );
            assert!(err.contains(f.to_str().unwrap()), "names the file: {err}");
        }
    }
    let o = mptfo(&[
        "lab",
        "run",
        "--config",
        example("versus-kernel.toml").to_str().unwrap(),
        "--scenario",
        "zz",
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("--scenario zz: expected one of a, b, c, d, e, f, g"),
        "{}",
        text(&o)
    );
}

#[test]
fn down_without_state_has_nothing_to_remove() {
    let state = TempDir::new("nostate");
    let o = mptfo(&[
        "lab",
        "down",
        "--name",
        "mfl-none",
        "--state-dir",
        state.0.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("lab mfl-none: nothing to remove"),
        "{}",
        text(&o)
    );
}

/// A lab whose builder died: a namespace with a veth in it, a process,
/// a DPDK-style folder, all recorded in the state file; `down` removes
/// them all, and a second `down` finds nothing.
#[test]
fn down_after_a_crash_removes_what_the_state_records() {
    let Some(_serial) = root_turn("network namespaces") else {
        return;
    };
    let pid = std::process::id();
    let ns = format!("mfl-crash-{pid}");
    let (if_a, if_b) = (format!("mfla{pid}"), format!("mflb{pid}"));
    let state = TempDir::new("crash");
    let run = |args: &[&str]| {
        let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    };
    run(&["ip", "netns", "add", &ns]);
    run(&[
        "ip", "link", "add", &if_a, "netns", &ns, "type", "veth", "peer", "name", &if_b, "netns",
        &ns,
    ]);
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns, "sleep", "120"])
        .spawn()
        .unwrap();
    let cpid = child.id();
    // ip netns exec replaces itself with sleep: wait for the exec.
    let t = std::time::Instant::now();
    while !std::fs::read_to_string(format!("/proc/{cpid}/comm"))
        .unwrap_or_default()
        .starts_with("sleep")
    {
        assert!(t.elapsed().as_secs() < 10, "sleep did not start");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let started = start_time(cpid);
    let dpdk = state.0.join("dpdk-runtime");
    std::fs::create_dir_all(dpdk.join("inner")).unwrap();
    let sockdir = state.0.join("sockets");
    std::fs::create_dir_all(sockdir.join("inner")).unwrap();
    let lab_dir = state.0.join("mfl-crash");
    std::fs::create_dir_all(&lab_dir).unwrap();
    let st = serde_json::json!({
        "lab": "mfl-crash",
        "config": null,
        "namespaces": [ns],
        "veths": [{"ns": ns, "ifname": if_a, "peer_ns": ns, "peer_ifname": if_b}],
        "hugepages_before": null,
        "hugepages_set": null,
        "hugetlbfs_mounted": false,
        "processes": [{"pid": cpid, "started": started, "name": "a-tfo/1 server", "command": "sleep 120"}],
        "paths": [dpdk],
        "dirs": [sockdir.join("inner"), sockdir],
        "complete": false
    });
    std::fs::write(lab_dir.join("state.json"), st.to_string()).unwrap();

    let sd = state.0.to_str().unwrap();
    let o = mptfo(&[
        "lab",
        "status",
        "--config",
        "/nonexistent.toml",
        "--state-dir",
        sd,
    ]);
    assert!(!o.status.success(), "status needs the lab file");
    let o = mptfo(&["lab", "down", "--name", "mfl-crash", "--state-dir", sd]);
    let out = text(&o);
    let exited = child.wait().unwrap();
    assert!(o.status.success(), "{out}");
    assert!(
        !exited.success(),
        "the sleep was stopped by a signal: {exited}"
    );
    assert!(
        out.contains(&format!("stopped process {cpid} (a-tfo/1 server)")),
        "{out}"
    );
    assert!(out.contains(&format!("removed namespace {ns}")), "{out}");
    assert!(!ns_exists(&ns), "{out}");
    assert!(!dpdk.exists(), "{out}");
    assert!(!sockdir.exists(), "{out}");
    assert!(!lab_dir.join("state.json").exists(), "{out}");
    let o = mptfo(&["lab", "down", "--name", "mfl-crash", "--state-dir", sd]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("nothing to remove"));
}

/// The whole comparison, once, short: every scenario and matrix point
/// (TFO, MPTCP) produced transactions and a result file with the settings
/// asked for, the report exists with its per-second progress plot; then
/// `down` leaves no namespace, veth, hugepage reservation or process.
#[test]
fn versus_kernel_runs_and_comes_down_clean() {
    let Some(_serial) = root_turn("network namespaces, veth, af_packet") else {
        return;
    };
    let Some(cfg) = checked_example("versus-kernel.toml") else {
        return;
    };
    let cfg = cfg.to_str().unwrap();
    for ns in ["vk-cli", "vk-srv"] {
        assert!(
            !ns_exists(ns),
            "namespace {ns} exists before the test: a lab vk is up here"
        );
    }
    let results = TempDir::new("results");
    let state = TempDir::new("state");
    let sd = state.0.to_str().unwrap();
    let huge_before = hugepages();
    let o = run_once(cfg, results.0.to_str().unwrap(), sd, &[]);
    let out = text(&o);
    eprintln!("{out}");

    // While the lab is up: namespaces present, nothing left running.
    let st = mptfo(&["lab", "status", "--config", cfg, "--state-dir", sd]);
    let status = text(&st);
    assert!(status.contains("lab vk: up"), "{status}");
    assert!(status.contains("processes: none recorded"), "{status}");
    for ns in ["vk-cli", "vk-srv"] {
        let pids = Command::new("ip")
            .args(["netns", "pids", ns])
            .output()
            .unwrap();
        assert!(
            pids.stdout.is_empty(),
            "{ns} still runs {:?}",
            String::from_utf8_lossy(&pids.stdout)
        );
    }
    // Take it down whatever the run did, then judge the run.
    let d = mptfo(&["lab", "down", "--config", cfg, "--state-dir", sd]);
    let down = text(&d);
    assert!(d.status.success(), "{down}");
    for ns in ["vk-cli", "vk-srv"] {
        assert!(!ns_exists(ns), "{ns} left: {down}");
    }
    for ifn in ["vka-c", "vka-s", "vkc-c", "vkc-s", "vkd-c", "vkd-s"] {
        let o = Command::new("ip")
            .args(["link", "show", ifn])
            .output()
            .unwrap();
        assert!(!o.status.success(), "{ifn} left in the root namespace");
    }
    assert_eq!(hugepages(), huge_before, "hugepages restored");
    assert!(
        processes_with("mptfo-lab-vk-").is_empty(),
        "{:?}",
        processes_with("mptfo-lab-vk-")
    );
    assert!(processes_with(results.0.to_str().unwrap()).is_empty());
    assert!(
        !Path::new("/run/mptfo-lab/vk").exists(),
        "memif folder left"
    );
    assert!(!Path::new("/var/run/dpdk/mptfo-lab-vk-mptfo-server-d").exists());

    assert!(o.status.success(), "{out}");
    let runs: Vec<PathBuf> = std::fs::read_dir(&results.0)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(runs.len(), 1, "one run folder: {runs:?}");
    let run = &runs[0];
    assert!(
        run.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("vk-20"),
        "{run:?}"
    );
    assert!(run.join("report.md").is_file());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    let sc = v["scenarios"].as_array().unwrap();
    let names: Vec<&str> = sc.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "a-tfo",
            "a-notfo",
            "b-tfo",
            "b-notfo",
            "c-tfo",
            "c-notfo",
            "d-tfo",
            "d-notfo",
            "e-tfo",
            "e-notfo",
            "f-tfo",
            "f-tfo-tcp",
            "g-tfo",
            "g-tfo-tcp"
        ]
    );
    for s in sc {
        let name = s["name"].as_str().unwrap();
        let reps = s["reps"].as_array().unwrap();
        assert_eq!(reps.len(), 1, "{name}");
        let f = &reps[0]["figures"];
        assert!(f["failure"].is_null(), "{name}: {}", f["failure"]);
        assert!(f["transactions"].as_u64().unwrap() > 0, "{name}: {f}");
        let json = run.join(reps[0]["json"].as_str().unwrap());
        assert_eq!(json, run.join(name).join("1.json"));
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert!(r["transactions"].as_u64().unwrap() > 0, "{name}");
        let tfo = s["tfo"].as_bool().unwrap();
        assert_eq!(r["config"]["tfo"].as_bool(), Some(tfo), "{name}");
        let mptcp = s["mptcp"].as_bool().unwrap();
        assert_eq!(mptcp, !name.ends_with("-tcp"), "{name}");
        assert_eq!(r["config"]["mptcp"].as_bool(), Some(mptcp), "{name}");
        let rpc = if name.starts_with('f') || name.starts_with('g') {
            100
        } else {
            1
        };
        assert_eq!(
            r["load"]["requests_per_connection"].as_u64(),
            Some(rpc),
            "{name}"
        );
        // Live runs report their progress; mptfo bench does not.
        let intervals = f["intervals"].as_array().unwrap();
        assert_eq!(intervals.is_empty(), name.starts_with('e'), "{name}: {f}");
    }
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(run.join("progress.svg").is_file());
    assert!(md.contains("](progress."), "{md}");
    assert!(md.contains("### f-tfo-tcp (TFO on, MPTCP off)"), "{md}");
    let stack = |n: &str| {
        let json = run.join(n).join("1.json");
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        r["stack"].as_str().unwrap().to_owned()
    };
    assert_eq!(stack("a-tfo"), "kernel");
    assert_eq!(stack("b-tfo"), "mptfo");
    assert_eq!(stack("c-tfo"), "mptfo");
    assert_eq!(stack("d-tfo"), "kernel");
    let ratios = v["ratios"].as_array().unwrap();
    assert_eq!(ratios.len(), 4);
}

/// With `hugepages` set, `up` reserves the 2 MiB pages (on top of what
/// was there), the DPDK processes run on them, and `down` gives them back
/// (and unmounts hugetlbfs if the lab mounted it).
#[test]
fn hugepages_reserved_for_the_run_and_restored() {
    let Some(_serial) = root_turn("hugepages") else {
        return;
    };
    if !Path::new("/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_memif.so").exists() {
        eprintln!("SKIPPED: no DPDK net_memif");
        return;
    }
    let dir = TempDir::new("huge");
    let sock = dir.0.join("m.sock");
    let cfg = dir.0.join("huge.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[lab]
name = "mfl-huge"
hugepages = 256
[[link]]
name = "m"
socket = "{}"
a = {{ driver = "memif", role = "client", addresses = ["10.78.9.1/24"] }}
b = {{ driver = "memif", role = "server", addresses = ["10.78.9.2/24"] }}
[[endpoint]]
name = "c"
kind = "loadgen"
link = "m"
end = "a"
cores = [0]
[[endpoint]]
name = "s"
kind = "serve"
link = "m"
end = "b"
cores = [1]
args = ["--reply", "early"]
[[scenario]]
name = "m"
client = "c"
server = "s"
reps = 1
duration = "1s"
tfo = true
"#,
            sock.display()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let sd = dir.0.join("state");
    let sd = sd.to_str().unwrap();
    let before: u64 = hugepages().parse().unwrap();
    let mounted_before = std::fs::read_to_string("/proc/mounts")
        .unwrap()
        .contains(" /dev/hugepages hugetlbfs ");
    let results = dir.0.join("results");
    let o = mptfo(&[
        "lab",
        "run",
        "--config",
        cfg,
        "--results",
        results.to_str().unwrap(),
        "--state-dir",
        sd,
    ]);
    let out = text(&o);
    let during: u64 = hugepages().parse().unwrap();
    let status = text(&mptfo(&[
        "lab",
        "status",
        "--config",
        cfg,
        "--state-dir",
        sd,
    ]));
    let d = mptfo(&["lab", "down", "--config", cfg, "--state-dir", sd]);
    assert!(d.status.success(), "{}", text(&d));
    assert_eq!(during, before + 256, "{out}");
    assert!(
        status.contains(&format!(
            "{during} now, {during} set by the lab, {before} before it"
        )),
        "{status}"
    );
    assert_eq!(hugepages().parse::<u64>().unwrap(), before, "restored");
    let mounted_after = std::fs::read_to_string("/proc/mounts")
        .unwrap()
        .contains(" /dev/hugepages hugetlbfs ");
    assert_eq!(mounted_after, mounted_before);
    assert!(!sock.exists(), "memif socket removed");
    assert!(o.status.success(), "{out}");
    let cmd = std::fs::read_dir(&results)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("m-tfo/1.server.cmd"))
        .next()
        .unwrap();
    let cmd = std::fs::read_to_string(cmd).unwrap();
    assert!(
        cmd.contains("--in-memory -m 256") && !cmd.contains("--no-huge"),
        "{cmd}"
    );
}

/// `up` refuses a namespace that exists and is not the lab's, and leaves
/// it alone; `down` then removes only what `up` made.
#[test]
fn up_leaves_a_foreign_namespace_alone() {
    let Some(_serial) = root_turn("network namespaces") else {
        return;
    };
    let pid = std::process::id();
    let (mine, theirs) = (format!("mfl-m{pid}"), format!("mfl-t{pid}"));
    let dir = TempDir::new("foreign");
    let cfg = dir.0.join("lab.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[lab]
name = "mfl-foreign"
[[host]]
name = "{mine}"
[[host]]
name = "{theirs}"
[[link]]
name = "a"
a = {{ host = "{mine}", ifname = "mflf{pid}", addresses = ["10.78.1.1/24"] }}
b = {{ host = "{theirs}", ifname = "mflg{pid}", addresses = ["10.78.1.2/24"] }}
[[endpoint]]
name = "e"
kind = "bench"
[[scenario]]
name = "e"
client = "e"
"#
        ),
    )
    .unwrap();
    let st = Command::new("ip")
        .args(["netns", "add", &theirs])
        .status()
        .unwrap();
    assert!(st.success());
    let sd = dir.0.join("state");
    let (cfg, sd) = (cfg.to_str().unwrap(), sd.to_str().unwrap());
    let o = mptfo(&["lab", "up", "--config", cfg, "--state-dir", sd]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains(&format!(
            "host {theirs}: network namespace {theirs} exists and this lab did not make it"
        )),
        "{out}"
    );
    assert!(ns_exists(&mine), "made before the refusal: {out}");
    let d = mptfo(&["lab", "down", "--config", cfg, "--state-dir", sd]);
    let down = text(&d);
    assert!(d.status.success(), "{down}");
    assert!(!ns_exists(&mine), "{down}");
    assert!(ns_exists(&theirs), "not the lab's: {down}");
    let st = Command::new("ip")
        .args(["netns", "del", &theirs])
        .status()
        .unwrap();
    assert!(st.success());
}

/// config/examples/multipath.toml, once, short: in both scenarios the
/// client joins the server's announced second address (MP_JOIN over the
/// second link) on its connections; then `down` leaves nothing.
#[test]
fn multipath_example_joins_the_second_path() {
    let Some(_serial) = root_turn("network namespaces, veth, af_packet") else {
        return;
    };
    let Some(cfg) = checked_example("multipath.toml") else {
        return;
    };
    let cfg = cfg.to_str().unwrap();
    let results = TempDir::new("mp-results");
    let state = TempDir::new("mp-state");
    let sd = state.0.to_str().unwrap();
    let o = run_once(cfg, results.0.to_str().unwrap(), sd, &["--down"]);
    let out = text(&o);
    for ns in ["mp-cli", "mp-srv"] {
        assert!(!ns_exists(ns), "{ns} left: {out}");
    }
    assert!(!Path::new(&format!("{sd}/mp/state.json")).exists(), "{out}");
    assert!(o.status.success(), "{out}");
    let run = std::fs::read_dir(&results.0)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    for name in ["linux-tfo", "linux-notfo", "mptfo-tfo", "mptfo-notfo"] {
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join(name).join("1.json")).unwrap())
                .unwrap();
        let tx = r["transactions"].as_u64().unwrap();
        assert!(tx > 0, "{name}");
        let joined = r["client_counters"]["MPTcpExtMPJoinSynAckRx"]
            .as_u64()
            .unwrap_or(0);
        assert!(
            joined * 2 > tx,
            "{name}: {joined} joins for {tx} transactions: {}",
            r["client_counters"]
        );
        let log = std::fs::read_to_string(run.join(name).join("1.server.log")).unwrap();
        assert!(log.contains("MPTcpExtMPJoinSynRx"), "{name}: {log}");
    }
}
