//! What the integration tests share: the root check, commands (also in a
//! network namespace), two namespaces joined by a veth pair that go when
//! dropped, child processes with their output collected line by line and
//! stopped by PID, and `nstat` snapshots of a namespace.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::ops::{Index, IndexMut};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `mptfo` binary under test.
pub const MPTFO: &str = env!("CARGO_BIN_EXE_mptfo");

/// Whether this process runs as root (real user id 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Whether `tool arg` can be started (the tool is installed).
pub fn has_tool(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Runs `cmd` to completion: its standard output, or an error naming the
/// command, its exit status and its standard error.
pub fn run(cmd: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .map_err(|e| format!("{}: {e}", cmd.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} failed ({}): {}",
            cmd.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `ip netns exec NS ARGS`, as a command to start.
pub fn ns_command(ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]);
    c.args(args);
    c
}

/// `ip netns exec NS ARGS`, run to completion (see [`run`]).
pub fn ns_run(ns: &str, args: &[&str]) -> Result<String, String> {
    let mut v = vec!["ip", "netns", "exec", ns];
    v.extend_from_slice(args);
    run(&v)
}

/// An exited process's status, standard output and standard error, for
/// an assertion message.
pub fn output_text(o: &Output) -> String {
    format!(
        "exit {:?}\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The JSON file a child wrote.
pub fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("JSON report")).expect("valid JSON")
}

/// Two network namespaces joined by a veth pair; dropping it deletes the
/// namespaces, and with them the pair.
pub struct NetnsPair {
    pub ns_a: String,
    pub ns_b: String,
    pub if_a: String,
    pub if_b: String,
}

impl NetnsPair {
    /// Namespaces `ns_a` and `ns_b`, the veth `if_a` in `ns_a` and its
    /// peer `if_b` in `ns_b`, with the MAC addresses `macs` (for `if_a`,
    /// `if_b`) when given. What was made before an error goes with the
    /// value dropped on the way out.
    pub fn create(
        ns_a: &str,
        ns_b: &str,
        if_a: &str,
        if_b: &str,
        macs: Option<(&str, &str)>,
    ) -> Result<NetnsPair, String> {
        let pair = NetnsPair {
            ns_a: ns_a.to_owned(),
            ns_b: ns_b.to_owned(),
            if_a: if_a.to_owned(),
            if_b: if_b.to_owned(),
        };
        run(&["ip", "netns", "add", ns_a])?;
        run(&["ip", "netns", "add", ns_b])?;
        let mut cmd = vec!["ip", "link", "add", if_a];
        if let Some((mac_a, _)) = macs {
            cmd.extend_from_slice(&["address", mac_a]);
        }
        cmd.extend_from_slice(&["netns", ns_a, "type", "veth", "peer", "name", if_b]);
        if let Some((_, mac_b)) = macs {
            cmd.extend_from_slice(&["address", mac_b]);
        }
        cmd.extend_from_slice(&["netns", ns_b]);
        run(&cmd)?;
        Ok(pair)
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        for ns in [&self.ns_a, &self.ns_b] {
            let _ = run(&["ip", "netns", "del", ns]);
        }
    }
}

/// A child process with its output collected line by line (stdout and
/// stderr, the latter marked `[stderr]`, in arrival order per stream);
/// stopped when dropped.
pub struct Proc {
    pub name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    rx: mpsc::Receiver<String>,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LIB_BACKTRACE", "0");
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        for (stream, tag) in [
            (Box::new(out) as Box<dyn Read + Send>, ""),
            (Box::new(err), "[stderr] "),
        ] {
            let lines = Arc::clone(&lines);
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let line = format!("{tag}{line}");
                    lines.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            });
        }
        Proc {
            name: name.to_owned(),
            child,
            lines,
            rx,
        }
    }

    /// Everything it printed so far.
    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits for a line containing `pat`.
    pub fn wait_for(&mut self, pat: &str, limit: Duration) -> Result<String, String> {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(l) if l.contains(pat) => return Ok(l),
                Ok(_) => {}
                Err(_) => {
                    if Instant::now() >= end || matches!(self.child.try_wait(), Ok(Some(_))) {
                        // Give the readers a moment to collect the rest.
                        std::thread::sleep(Duration::from_millis(100));
                        return Err(format!(
                            "{}: no line with {pat:?} within {limit:?}; output:\n{}",
                            self.name,
                            self.output()
                        ));
                    }
                }
            }
        }
    }

    /// Waits for the process to exit; kills it after `limit` and fails.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(50));
                return st;
            }
            if Instant::now() >= end {
                let _ = self.child.kill();
                let st = self.child.wait().expect("wait");
                panic!(
                    "{} did not exit within {limit:?} (killed: {st}); output:\n{}",
                    self.name,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the exit within `limit` (see [`Proc::wait`]) and fails
    /// unless it succeeded; returns the output.
    pub fn wait_success(&mut self, limit: Duration) -> String {
        let st = self.wait(limit);
        let out = self.output();
        assert!(st.success(), "{} exit {st}: {out}", self.name);
        out
    }

    /// A signal (`-TERM`, `-INT`) by PID, then the exit within `limit`.
    pub fn signal_and_wait(&mut self, sig: &str, limit: Duration) -> ExitStatus {
        let _ = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status();
        self.wait(limit)
    }

    /// SIGTERM and the exit within 10 s, which must be a success; prints
    /// and returns the output.
    pub fn terminate_success(&mut self) -> String {
        let st = self.signal_and_wait("-TERM", Duration::from_secs(10));
        let out = self.output();
        eprintln!("{out}");
        assert!(st.success(), "{} exit {st}:\n{out}", self.name);
        out
    }

    /// Ends it if still running: SIGTERM, then SIGKILL after 3 s.
    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let end = Instant::now() + Duration::from_secs(3);
            while Instant::now() < end {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The children of one test, started in network namespaces and indexed
/// in start order; dropping it stops them in reverse order.
pub struct Children {
    label: String,
    procs: Vec<Proc>,
}

impl Children {
    /// No children yet; `label` goes before each command line printed.
    pub fn new(label: &str) -> Children {
        Children {
            label: label.to_owned(),
            procs: Vec::new(),
        }
    }

    /// Starts `args` in namespace `ns` as `name`; returns its index.
    pub fn spawn(&mut self, name: &str, ns: &str, args: &[&str]) -> usize {
        eprintln!(
            "{}{name}: ip netns exec {ns} {}",
            self.label,
            args.join(" ")
        );
        self.procs.push(Proc::spawn(name, ns_command(ns, args)));
        self.procs.len() - 1
    }

    /// Stops every child still running, the last started first.
    pub fn stop_all(&mut self) {
        while let Some(mut p) = self.procs.pop() {
            p.stop();
        }
    }
}

impl Index<usize> for Children {
    type Output = Proc;

    fn index(&self, i: usize) -> &Proc {
        &self.procs[i]
    }
}

impl IndexMut<usize> for Children {
    fn index_mut(&mut self, i: usize) -> &mut Proc {
        &mut self.procs[i]
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Counters of a namespace, by name.
pub type Nstat = BTreeMap<String, u64>;

/// Absolute counters of namespace `ns` (fresh, so they are deltas), via
/// `nstat -asz` (no history file is touched).
pub fn nstat(ns: &str) -> Nstat {
    let out = ns_run(ns, &["nstat", "-asz"]).expect("nstat");
    out.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next()?;
            let v = it.next()?.parse().ok()?;
            Some((name.to_owned(), v))
        })
        .collect()
}

/// Counter `k` of a snapshot (0 when absent).
pub fn get(m: &Nstat, k: &str) -> u64 {
    m.get(k).copied().unwrap_or(0)
}

/// The counters containing one of `pat` that rose, as nstat prints them.
pub fn risen(before: &Nstat, after: &Nstat, pat: &[&str]) -> String {
    after
        .iter()
        .filter(|(k, _)| pat.iter().any(|p| k.contains(p)))
        .filter(|(k, &v)| v > get(before, k))
        .map(|(k, v)| format!("  {k:<36} {v} (+{})", v - get(before, k)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Prints the counters containing one of `pat` that rose from `before`
/// to `after`, under the heading `what`.
pub fn print_risen(what: &str, before: &Nstat, after: &Nstat, pat: &[&str]) {
    eprintln!(
        "{what} (counters that rose):\n{}",
        risen(before, after, pat)
    );
}
