//! `mptfo lab run`: per scenario, matrix point (TFO and MPTCP setting) and
//! repetition, the server
//! endpoint started in its namespace and awaited until it prints
//! `listening`, the client run with `--json`, the server stopped (SIGTERM,
//! then SIGKILL), the JSON and logs kept in the run folder
//! (`<results>/<lab>-<UTC time>/<scenario>-<tfo|notfo>[-tcp]/<rep>.json`), and
//! the report written by [`crate::report::write_report`].
//!
//! Every process is bounded in time (the server by `--duration`, the
//! client by `--time-limit`, both by a deadline here) and recorded in the
//! state file with its PID while it runs, so `mptfo lab down` stops it if
//! this process dies. SIGINT/SIGTERM stop the run: what it started is
//! stopped, and the report covers what finished.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::bed;
use crate::labfile::{fmt_duration, Driver, Endpoint, Kind, Lab, Scenario, StackKind};
use crate::prereq;
use crate::report;
use crate::results::{Figures, RatioSpec, RepResult, RunResults, ScenarioResult};
use crate::state::{Proc, StateFile};
use crate::system;

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The lab file (recorded in the state).
    pub config: PathBuf,
    /// The mptfo executable that runs the endpoints.
    pub exe: PathBuf,
    /// Folder of the state files.
    pub state_root: PathBuf,
    /// Repetitions instead of each scenario's.
    pub reps: Option<usize>,
    /// Load duration instead of each scenario's.
    pub duration: Option<Duration>,
    /// Run only these scenarios (all when empty).
    pub scenarios: Vec<String>,
    /// Results folder instead of the lab file's.
    pub results: Option<PathBuf>,
    /// How long a server may take to print `listening`.
    pub start_timeout: Duration,
}

/// Between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(3);
/// Time the client gets after its load for the last replies and closes.
const DRAIN: Duration = Duration::from_secs(5);

/// What a finished run left.
pub struct RunOutcome {
    /// The run folder.
    pub dir: PathBuf,
    /// The report (report.md).
    pub report: PathBuf,
    /// Everything measured.
    pub results: RunResults,
    /// The run was stopped by a signal.
    pub interrupted: bool,
}

/// One matrix point of a scenario.
struct Point<'a> {
    scenario: &'a Scenario,
    tfo: bool,
    mptcp: bool,
    name: String,
}

/// Runs the selected scenarios (building the lab first if needed) and
/// writes the report.
pub fn run(lab: &Lab, o: &RunOptions) -> Result<RunOutcome> {
    let selected = lab.select(&o.scenarios)?;
    prereq::check(lab, &selected)?;
    let stop = mptfo_bench::sys::stop_on_signals().context("installing signal handlers")?;
    let mut st = bed::up(lab, &o.config, &o.state_root)?;

    let started = system::now_unix();
    let results_root = o.results.clone().unwrap_or_else(|| lab.results.clone());
    let dir = results_root.join(format!("{}-{}", lab.name, system::utc_stamp(started)));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    let points: Vec<Point> = selected
        .iter()
        .flat_map(|s| {
            s.points().into_iter().map(move |m| Point {
                scenario: s,
                tfo: m.tfo,
                mptcp: m.mptcp,
                name: m.name,
            })
        })
        .collect();

    let mut out = RunResults {
        lab: lab.name.clone(),
        started_utc: system::utc_iso(started),
        machine: machine(),
        scenarios: Vec::new(),
        ratios: lab
            .ratios
            .iter()
            .map(|r| RatioSpec {
                label: r.label.clone(),
                numerator: r.numerator.clone(),
                denominator: r.denominator.clone(),
                metric: r.metric.clone(),
            })
            .collect(),
    };
    let mut interrupted = false;
    for p in &points {
        let s = p.scenario;
        let client = &lab.endpoints[s.client];
        let (client_cores, server_cores) = match s.server {
            Some(i) => (client.cores.len(), lab.endpoints[i].cores.len()),
            None => (1, 0),
        };
        let mut sr = ScenarioResult {
            name: p.name.clone(),
            title: s.title.clone(),
            tfo: p.tfo,
            mptcp: p.mptcp,
            client_cores,
            server_cores,
            reps: Vec::new(),
            error: None,
        };
        let pdir = dir.join(&p.name);
        std::fs::create_dir_all(&pdir)?;
        let reps = o.reps.unwrap_or(s.run.reps);
        for rep in 1..=reps {
            if stop.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            let rel = PathBuf::from(&p.name).join(format!("{rep}.json"));
            let ctx = RepCtx {
                lab,
                p,
                rep,
                dir: &pdir,
                json: dir.join(&rel),
                duration: o.duration.unwrap_or(s.run.duration),
                exe: &o.exe,
                stop,
                start_timeout: o.start_timeout,
            };
            let figures = match run_rep(&ctx, &mut st) {
                Ok(()) => Figures::from_report_file(&ctx.json, client_cores, server_cores)
                    .unwrap_or_else(|e| Figures::failed(format!("{e:#}"))),
                Err(e) => Figures::failed(format!("{e:#}")),
            };
            match &figures.failure {
                None => println!(
                    "{:<16} rep {rep}/{reps}: {} transactions, {:.0}/s, {:.0}/s per core, SYN->last byte p50 {:.1} µs p99 {:.1} µs",
                    p.name,
                    figures.transactions,
                    figures.tps,
                    figures.tps_per_core,
                    figures.syn_to_last_byte.p50_us,
                    figures.syn_to_last_byte.p99_us
                ),
                Some(f) => println!("{:<16} rep {rep}/{reps}: FAILED: {f}", p.name),
            }
            sr.reps.push(RepResult {
                index: rep,
                json: rel,
                figures,
            });
        }
        if interrupted {
            sr.error = Some("interrupted (SIGINT/SIGTERM)".into());
        }
        out.scenarios.push(sr);
        if interrupted {
            break;
        }
    }
    let report = report::write_report(&dir, &out)?;
    Ok(RunOutcome {
        dir,
        report,
        results: out,
        interrupted,
    })
}

/// The machine in a line: host name, CPU model and count, kernel.
fn machine() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!(
        "{}: {} x {}, Linux {}",
        host.trim(),
        system::ncpu(),
        cpu,
        kernel.trim()
    )
}

/// One repetition's context.
struct RepCtx<'a> {
    lab: &'a Lab,
    p: &'a Point<'a>,
    rep: usize,
    dir: &'a Path,
    json: PathBuf,
    duration: Duration,
    exe: &'a Path,
    stop: &'static AtomicBool,
    start_timeout: Duration,
}

/// A command line: the namespace it runs in and its argv.
struct Cmd {
    ns: Option<String>,
    argv: Vec<String>,
    /// The DPDK runtime folder its `--file-prefix` makes.
    dpdk_dir: Option<PathBuf>,
}

impl Cmd {
    fn command(&self) -> Command {
        let mut c = match &self.ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]);
                c.arg(&self.argv[0]);
                c
            }
            None => Command::new(&self.argv[0]),
        };
        c.args(&self.argv[1..]);
        c.stdin(Stdio::null());
        c
    }

    fn show(&self) -> String {
        let q = |a: &String| {
            if a.is_empty() || a.contains([' ', '"', '\'']) {
                format!("{a:?}")
            } else {
                a.clone()
            }
        };
        let body: Vec<String> = self.argv.iter().map(q).collect();
        match &self.ns {
            Some(ns) => format!("ip netns exec {ns} {}", body.join(" ")),
            None => body.join(" "),
        }
    }
}

/// A started process, recorded in the state file until it is reaped.
struct Running {
    child: Child,
    rec: Proc,
    dpdk_dir: Option<PathBuf>,
    stderr: PathBuf,
}

fn spawn(
    st: &mut StateFile,
    cmd: &Cmd,
    name: &str,
    stdout: Stdio,
    stderr_path: &Path,
) -> Result<Running> {
    let err =
        File::create(stderr_path).with_context(|| format!("creating {}", stderr_path.display()))?;
    if let Some(d) = &cmd.dpdk_dir {
        st.update(|s| {
            if !s.paths.contains(d) {
                s.paths.push(d.clone());
            }
        })?;
    }
    let child = cmd
        .command()
        .stdout(stdout)
        .stderr(err)
        .spawn()
        .with_context(|| format!("{name}: cannot start `{}`", cmd.show()))?;
    let pid = child.id();
    let rec = Proc {
        pid,
        started: system::start_time(pid).unwrap_or(0),
        name: name.to_owned(),
        command: cmd.show(),
    };
    st.update(|s| s.processes.push(rec.clone()))?;
    Ok(Running {
        child,
        rec,
        dpdk_dir: cmd.dpdk_dir.clone(),
        stderr: stderr_path.to_path_buf(),
    })
}

impl Running {
    /// Stops the process (SIGTERM, SIGKILL after the grace period), reaps
    /// it and forgets it in the state file; removes its DPDK runtime
    /// folder.
    fn finish(mut self, st: &mut StateFile) -> Result<()> {
        if self.child.try_wait()?.is_none() {
            system::stop(self.rec.pid, self.rec.started, GRACE);
        }
        let _ = self.child.wait();
        self.forget(st)
    }

    fn forget(&self, st: &mut StateFile) -> Result<()> {
        if let Some(d) = &self.dpdk_dir {
            let _ = std::fs::remove_dir_all(d);
            st.update(|s| s.paths.retain(|x| x != d))?;
        }
        st.update(|s| s.processes.retain(|x| x != &self.rec))
    }

    /// The last lines of its stderr.
    fn stderr_tail(&self) -> String {
        tail(&self.stderr, 12)
    }
}

/// The last `n` lines of a file (at most 8 KiB of it).
fn tail(path: &Path, n: usize) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(8192)));
    let mut s = String::new();
    let _ = f.read_to_string(&mut s);
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn run_rep(c: &RepCtx<'_>, st: &mut StateFile) -> Result<()> {
    let lab = c.lab;
    let s = c.p.scenario;
    let client = &lab.endpoints[s.client];
    let pcap = s.run.pcap && c.rep == 1;
    let pcap_path = c.dir.join("capture.pcap");
    let base = c.dir.join(c.rep.to_string());
    let log = |what: &str| PathBuf::from(format!("{}.{what}", base.display()));

    // A kernel-to-kernel capture is taken on the server's interface.
    let mut capture = None;
    if pcap && prereq::kernel_only(lab, s) {
        let sv = &lab.endpoints[s.server.unwrap()];
        let end = lab.end_of(sv.at.as_ref().unwrap());
        let tool = prereq::capture_tool().ok_or_else(|| anyhow!("no capture tool"))?;
        let mut argv: Vec<String> = vec![tool.into()];
        let ifn = end.ifname.clone().unwrap();
        let file = pcap_path.display().to_string();
        match tool {
            "tcpdump" => argv.extend(["-U", "-i", &ifn, "-w", &file].map(String::from)),
            _ => argv.extend(["-q", "-i", &ifn, "-w", &file].map(String::from)),
        }
        let cmd = Cmd {
            ns: end.host.clone(),
            argv,
            dpdk_dir: None,
        };
        let mut r = spawn(
            st,
            &cmd,
            &format!("{} capture", c.p.name),
            Stdio::null(),
            &log("capture.log"),
        )?;
        // The tool writes the file header once it captures.
        let t = Instant::now();
        while !pcap_path.exists() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        if let Some(status) = r.child.try_wait()? {
            let err = r.stderr_tail();
            let cmdline = r.rec.command.clone();
            r.finish(st)?;
            bail!("capture: `{cmdline}` exited ({status}): {err}");
        }
        capture = Some(r);
    }

    // Otherwise the capture is the --pcap of one mptfo end: the client's
    // when it is mptfo's, else the server's.
    let client_captures = pcap && client.stack == StackKind::Mptfo;
    let server_captures = pcap && !client_captures && capture.is_none();

    let mut server = None;
    if let Some(si) = s.server {
        let sv = &lab.endpoints[si];
        let cmd = endpoint_cmd(c, sv, server_captures.then_some(pcap_path.as_path()))?;
        std::fs::write(log("server.cmd"), cmd.show() + "\n")?;
        let out = File::create(log("server.log"))?;
        let mut r = spawn(
            st,
            &cmd,
            &format!("{}/{} server {}", c.p.name, c.rep, sv.name),
            Stdio::piped(),
            &log("server.stderr"),
        )?;
        let stdout = r.child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = out;
            let mut told = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(out, "{line}");
                if !told && line.trim_start().starts_with("listening") {
                    told = true;
                    let _ = tx.send(());
                }
            }
        });
        let t = Instant::now();
        loop {
            if rx.recv_timeout(Duration::from_millis(50)).is_ok() {
                break;
            }
            let why = if let Some(status) = r.child.try_wait()? {
                Some(format!("exited ({status}) before listening"))
            } else if t.elapsed() > c.start_timeout {
                Some(format!("not listening after {:?}", c.start_timeout))
            } else if c.stop.load(Ordering::Relaxed) {
                Some("interrupted".into())
            } else {
                None
            };
            if let Some(why) = why {
                let err = r.stderr_tail();
                let cmdline = r.rec.command.clone();
                r.finish(st)?;
                if let Some(cap) = capture {
                    cap.finish(st)?;
                }
                bail!("server {}: {why}: `{cmdline}`; its stderr:\n{err}", sv.name);
            }
        }
        server = Some(r);
    }

    let result = (|| -> Result<()> {
        let cmd = endpoint_cmd(c, client, client_captures.then_some(pcap_path.as_path()))?;
        std::fs::write(log("client.cmd"), cmd.show() + "\n")?;
        let _ = std::fs::remove_file(&c.json);
        let out = File::create(log("client.log"))?;
        let mut r = spawn(
            st,
            &cmd,
            &format!("{}/{} client {}", c.p.name, c.rep, client.name),
            Stdio::from(out),
            &log("client.stderr"),
        )?;
        let limit = client_limit(c.duration);
        let deadline = Instant::now() + limit + Duration::from_secs(5);
        let status = loop {
            if let Some(status) = r.child.try_wait()? {
                break Some(status);
            }
            if Instant::now() > deadline || c.stop.load(Ordering::Relaxed) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let err = r.stderr_tail();
        let cmdline = r.rec.command.clone();
        r.finish(st)?;
        match status {
            None => {
                if c.stop.load(Ordering::Relaxed) {
                    bail!("client {}: interrupted", client.name);
                }
                bail!(
                    "client {}: still running after {limit:?}; stopped. `{cmdline}`; its stderr:\n{err}",
                    client.name
                );
            }
            Some(st_) if !st_.success() && !c.json.exists() => bail!(
                "client {}: exited ({st_}) without a report: `{cmdline}`; its stderr:\n{err}",
                client.name
            ),
            Some(_) if !c.json.exists() => bail!(
                "client {}: wrote no report {}: `{cmdline}`",
                client.name,
                c.json.display()
            ),
            Some(_) => Ok(()),
        }
    })();

    if let Some(r) = server {
        r.finish(st)?;
    }
    if let Some(r) = capture {
        r.finish(st)?;
    }
    result
}

/// The client's own time limit: load, drain and a margin for start-up.
fn client_limit(load: Duration) -> Duration {
    load + DRAIN + Duration::from_secs(30)
}

/// The command line of endpoint `e` in repetition `c`.
fn endpoint_cmd(c: &RepCtx<'_>, e: &Endpoint, pcap: Option<&Path>) -> Result<Cmd> {
    let lab = c.lab;
    let run = &c.p.scenario.run;
    let exe = c.exe.display().to_string();
    let cores = e
        .cores
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut argv: Vec<String> = Vec::new();
    let mut dpdk_dir = None;
    let ns = lab.host_of(e).map(str::to_owned);
    let tfo = if c.p.tfo { "on" } else { "off" };
    let mptcp = if c.p.mptcp { "on" } else { "off" };
    let rpc = run.requests_per_connection.to_string();
    let dur = fmt_duration(c.duration);

    if e.kind == Kind::Bench || e.stack == StackKind::Kernel {
        argv.extend(["taskset".into(), "-c".into(), cores.clone()]);
    }
    argv.push(exe);
    match e.kind {
        Kind::Bench => {
            argv.extend(
                [
                    "bench",
                    "--rtt",
                    "0",
                    "--duration",
                    &dur,
                    "--concurrency",
                    &run.connections.to_string(),
                    "--request-bytes",
                    &run.request_bytes.to_string(),
                    "--response-bytes",
                    &run.response_bytes.to_string(),
                    "--tfo",
                    tfo,
                    "--mptcp",
                    mptcp,
                    "--requests-per-connection",
                    &rpc,
                ]
                .map(String::from),
            );
        }
        Kind::Serve => {
            argv.push("serve".into());
            // Bounded even if nobody stops it.
            let limit = c.duration + Duration::from_secs(60) + c.start_timeout;
            argv.extend(
                [
                    "--listen",
                    &e.port.to_string(),
                    "--mode",
                    "rpc",
                    "--request-bytes",
                    &run.request_bytes.to_string(),
                    "--response-bytes",
                    &run.response_bytes.to_string(),
                    "--duration",
                    &fmt_duration(limit),
                ]
                .map(String::from),
            );
        }
        Kind::Loadgen => {
            argv.push("loadgen".into());
            let server = &lab.endpoints[c.p.scenario.server.unwrap()];
            let target = lab.end_of(server.at.as_ref().unwrap()).addresses[0].addr;
            let target = match target {
                std::net::IpAddr::V4(a) => format!("{a}:{}", server.port),
                std::net::IpAddr::V6(a) => format!("[{a}]:{}", server.port),
            };
            argv.extend(["--target".into(), target]);
            match run.rate {
                Some(r) => argv.extend(["--rate".into(), format!("{r}")]),
                None => argv.extend(["--connections".into(), run.connections.to_string()]),
            }
            argv.extend(
                [
                    "--duration",
                    &dur,
                    "--request-bytes",
                    &run.request_bytes.to_string(),
                    "--response-bytes",
                    &run.response_bytes.to_string(),
                    "--tfo",
                    tfo,
                    "--mptcp",
                    mptcp,
                    "--requests-per-connection",
                    &rpc,
                    "--interval",
                    "1s",
                    "--drain",
                    &fmt_duration(DRAIN),
                    "--time-limit",
                    &fmt_duration(client_limit(c.duration)),
                ]
                .map(String::from),
            );
        }
    }
    if e.kind != Kind::Serve {
        argv.extend(["--json".into(), c.json.display().to_string()]);
    }
    match (e.kind, e.stack) {
        (Kind::Bench, _) => {}
        (_, StackKind::Kernel) => {
            // Worker threads pinned by mptfo itself; taskset keeps the
            // rest of the process on the same CPUs.
            argv.extend([
                "--stack".into(),
                "kernel".into(),
                "--cores".into(),
                cores.clone(),
            ]);
        }
        (_, StackKind::Mptfo) => {
            let prefix = format!("mptfo-lab-{}-{}", lab.name, e.name);
            dpdk_dir = Some(PathBuf::from("/var/run/dpdk").join(&prefix));
            let mem = if lab.hugepages == 0 {
                "--no-huge -m 512 --no-shconf".to_owned()
            } else {
                format!("--in-memory -m {}", bed::PAGES_PER_PROCESS * 2)
            };
            let mut eal = format!(
                "--no-pci --no-telemetry --log-level=notice --file-prefix={prefix} {mem} -l {}",
                e.cores[0]
            );
            let mut extra_ports = Vec::new();
            let mut neighbours = Vec::new();
            for (k, a) in std::iter::once(e.at.as_ref().unwrap())
                .chain(e.extra.iter())
                .enumerate()
            {
                let link = &lab.links[a.link];
                let end = link.end(a.end);
                let peer = link.end(a.end.other());
                let (dev, devargs) = match end.driver {
                    Driver::AfPacket => {
                        let q = if e.cores.len() > 1 {
                            format!(",qpairs={}", e.cores.len())
                        } else {
                            String::new()
                        };
                        let d = format!("net_af_packet{k}");
                        (
                            d.clone(),
                            format!("{d},iface={}{q}", end.ifname.as_ref().unwrap()),
                        )
                    }
                    Driver::AfXdp => {
                        let d = format!("net_af_xdp{k}");
                        (
                            d.clone(),
                            format!("{d},iface={}", end.ifname.as_ref().unwrap()),
                        )
                    }
                    Driver::Memif => {
                        let d = format!("net_memif{k}");
                        (
                            d.clone(),
                            format!(
                                "{d},role={},socket={},mac={}",
                                end.role.as_deref().unwrap(),
                                link.socket.as_ref().unwrap().display(),
                                end.mac
                            ),
                        )
                    }
                    Driver::Kernel => unreachable!("checked by the lab file"),
                };
                eal.push_str(&format!(" --vdev={devargs}"));
                let addrs: Vec<String> = end.addresses.iter().map(|c| c.to_string()).collect();
                if k == 0 {
                    argv.extend(["--port".into(), dev]);
                    for a in &addrs {
                        argv.extend(["--ip".into(), a.clone()]);
                    }
                } else {
                    extra_ports.push(format!("{dev}={}", addrs.join(",")));
                }
                for p in &peer.addresses {
                    neighbours.push(format!("{}={}", p.addr, peer.mac));
                }
            }
            argv.extend(["--eal".into(), eal]);
            for x in extra_ports {
                argv.extend(["--extra-port".into(), x]);
            }
            for n in neighbours {
                argv.extend(["--neighbor".into(), n]);
            }
            if e.cores.len() > 1 {
                argv.extend(["--cores".into(), cores.clone()]);
            }
            if let Some(p) = pcap {
                argv.extend(["--pcap".into(), p.display().to_string()]);
            }
        }
    }
    if e.kind == Kind::Bench {
        if let Some(p) = pcap {
            argv.extend(["--pcap".into(), p.display().to_string()]);
        }
    }
    argv.extend(e.args.iter().cloned());
    Ok(Cmd { ns, argv, dpdk_dir })
}

#[cfg(test)]
mod tests {
    use super::*;

    static STOP: AtomicBool = AtomicBool::new(false);

    fn example() -> Lab {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples");
        Lab::load(&dir.join("versus-kernel.toml"), 2).unwrap()
    }

    /// The argv of the server and the client of `point` of `scenario`.
    fn argv(lab: &Lab, scenario: &str, point: &str) -> (Option<Vec<String>>, Vec<String>) {
        let s = lab.scenarios.iter().find(|s| s.name == scenario).unwrap();
        let m = s.points().into_iter().find(|p| p.name == point).unwrap();
        let p = Point {
            scenario: s,
            tfo: m.tfo,
            mptcp: m.mptcp,
            name: m.name,
        };
        let c = RepCtx {
            lab,
            p: &p,
            rep: 1,
            dir: Path::new("/nonexistent"),
            json: PathBuf::from("/nonexistent/1.json"),
            duration: Duration::from_secs(1),
            exe: Path::new("/usr/bin/mptfo"),
            stop: &STOP,
            start_timeout: Duration::from_secs(30),
        };
        let server = s
            .server
            .map(|i| endpoint_cmd(&c, &lab.endpoints[i], None).unwrap().argv);
        let client = endpoint_cmd(&c, &lab.endpoints[s.client], None)
            .unwrap()
            .argv;
        (server, client)
    }

    /// The value after flag `f`.
    fn flag<'a>(argv: &'a [String], f: &str) -> Option<&'a str> {
        let i = argv.iter().position(|a| a == f)?;
        argv.get(i + 1).map(String::as_str)
    }

    #[test]
    fn keep_alive_and_mptcp_reach_the_client() {
        let lab = example();
        let (server, client) = argv(&lab, "f", "f-tfo-tcp");
        assert_eq!(flag(&client, "--mptcp"), Some("off"), "{client:?}");
        assert_eq!(flag(&client, "--requests-per-connection"), Some("100"));
        assert_eq!(flag(&client, "--tfo"), Some("on"));
        assert_eq!(flag(&client, "--stack"), Some("kernel"));
        assert_eq!(flag(&client, "--connections"), Some("8"));
        // The server takes both, whatever the client offers.
        let server = server.unwrap();
        assert_eq!(flag(&server, "--mptcp"), None, "{server:?}");
        let (_, client) = argv(&lab, "g", "g-tfo");
        assert_eq!(flag(&client, "--mptcp"), Some("on"));
        assert_eq!(flag(&client, "--requests-per-connection"), Some("100"));
        assert!(flag(&client, "--eal").unwrap().contains("net_memif0"));
        let (_, client) = argv(&lab, "a", "a-notfo");
        assert_eq!(flag(&client, "--requests-per-connection"), Some("1"));
        assert_eq!(flag(&client, "--tfo"), Some("off"));
        let (server, bench) = argv(&lab, "e", "e-tfo");
        assert!(server.is_none());
        assert_eq!(bench[3..5], ["/usr/bin/mptfo".to_string(), "bench".into()]);
        assert_eq!(flag(&bench, "--mptcp"), Some("on"));
        assert_eq!(flag(&bench, "--requests-per-connection"), Some("1"));
    }

    #[test]
    fn an_open_loop_gives_the_rate_instead_of_connections() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples");
        let text = std::fs::read_to_string(dir.join("versus-kernel.toml"))
            .unwrap()
            .replacen("connections = 8", "rate = 2500", 1);
        let lab = Lab::parse(&text, 2).unwrap();
        let (_, client) = argv(&lab, "c", "c-tfo");
        assert_eq!(flag(&client, "--rate"), Some("2500"), "{client:?}");
        assert_eq!(flag(&client, "--connections"), None);
    }
}
