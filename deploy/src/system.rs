//! The system commands a lab is built with (`ip`, `sysctl`, `ethtool`),
//! each bounded in time, and the machine facts it reads (CPUs, 2 MiB
//! hugepages, processes).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The pool of 2 MiB hugepages.
pub const HUGEPAGES_2M: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";

/// Where hugetlbfs is mounted for DPDK.
pub const HUGETLBFS: &str = "/dev/hugepages";

/// How long one system command may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(20);

fn show(args: &[&str]) -> String {
    args.join(" ")
}

/// Runs `args[0] args[1..]`, bounded in time; its stdout, or an error with
/// the command line and its stderr.
pub fn run(args: &[&str]) -> Result<String> {
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("`{}`: cannot start {}", show(args), args[0]))?;
    let start = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if start.elapsed() > COMMAND_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("`{}`: no answer within {COMMAND_LIMIT:?}", show(args));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            show(args),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a command inside namespace `ns` (`ip netns exec NS ...`).
pub fn run_in(ns: &str, args: &[&str]) -> Result<String> {
    let mut v = vec!["ip", "netns", "exec", ns];
    v.extend_from_slice(args);
    run(&v)
}

/// The network namespaces that exist (`ip netns list`).
pub fn namespaces() -> Result<Vec<String>> {
    Ok(run(&["ip", "netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// Namespace `ns` exists.
pub fn ns_exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

/// Interface `ifname` exists in namespace `ns`.
pub fn link_exists(ns: &str, ifname: &str) -> bool {
    ns_exists(ns) && run(&["ip", "-n", ns, "link", "show", "dev", ifname]).is_ok()
}

/// CPUs this process may run on.
pub fn ncpu() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The 2 MiB hugepage count.
pub fn hugepages() -> Result<u64> {
    let s =
        std::fs::read_to_string(HUGEPAGES_2M).with_context(|| format!("reading {HUGEPAGES_2M}"))?;
    s.trim()
        .parse()
        .with_context(|| format!("{HUGEPAGES_2M}: {s:?} is not a number"))
}

/// Sets the 2 MiB hugepage count; returns what the kernel actually
/// reserved (read back: it may give fewer when memory is fragmented).
pub fn set_hugepages(n: u64) -> Result<u64> {
    std::fs::write(HUGEPAGES_2M, format!("{n}\n"))
        .with_context(|| format!("writing {n} to {HUGEPAGES_2M}"))?;
    hugepages()
}

/// hugetlbfs is mounted at [`HUGETLBFS`].
pub fn hugetlbfs_mounted() -> bool {
    std::fs::read_to_string("/proc/mounts").is_ok_and(|m| {
        m.lines().any(|l| {
            let mut f = l.split_whitespace();
            let (_, at, fs) = (f.next(), f.next(), f.next());
            at == Some(HUGETLBFS) && fs == Some("hugetlbfs")
        })
    })
}

/// The start time of process `pid` (field 22 of /proc/PID/stat, clock
/// ticks since boot): with the PID, it names one process even after the
/// PID is reused.
pub fn start_time(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &s[s.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Process `pid`, started at `started` (see [`start_time`]), still runs
/// (a zombie does not count).
pub fn alive(pid: u32, started: u64) -> bool {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(close) = s.rfind(')') else {
        return false;
    };
    let state = s[close + 1..].split_whitespace().next();
    state != Some("Z") && start_time(pid) == Some(started)
}

/// Sends `signal` (e.g. "TERM", "KILL") to `pid` with kill(1).
pub fn signal(pid: u32, signal: &str) -> Result<()> {
    run(&["kill", &format!("-{signal}"), &pid.to_string()]).map(|_| ())
}

/// Stops process `pid` (started at `started`): SIGTERM, then SIGKILL
/// after `grace`. Returns true when it had to be killed.
pub fn stop(pid: u32, started: u64, grace: Duration) -> bool {
    if !alive(pid, started) {
        return false;
    }
    let _ = signal(pid, "TERM");
    let t = Instant::now();
    while t.elapsed() < grace {
        if !alive(pid, started) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = signal(pid, "KILL");
    let t = Instant::now();
    while alive(pid, started) && t.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// A program is on the PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| {
            let f = d.join(program);
            f.is_file()
        })
    })
}

/// The folder of DPDK's poll-mode driver plugins (Debian's DPDK 22.11).
pub const PMD_DIR: &str = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0";

/// The plugin of DPDK PMD `net_<name>`.
pub fn pmd_path(name: &str) -> String {
    format!("{PMD_DIR}/librte_net_{name}.so")
}

/// Seconds since the Unix epoch as `YYYYMMDDTHHMMSSZ` (UTC).
pub fn utc_stamp(unix: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// Seconds since the Unix epoch as ISO 8601 UTC, `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_iso(unix: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Calendar date and time of a Unix time (proleptic Gregorian, UTC).
fn civil(unix: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (unix / 86400) as i64;
    let secs = unix % 86400;
    // Days since 0000-03-01, in 400-year eras (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        (secs / 60 % 60) as u32,
        (secs % 60) as u32,
    )
}

/// Now, seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc_iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_iso(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_stamp(1_795_567_230), "20261125T004030Z");
    }

    #[test]
    fn own_process_is_alive_and_identified() {
        let me = std::process::id();
        let t = start_time(me).unwrap();
        assert!(alive(me, t));
        assert!(!alive(me, t + 1));
    }
}
