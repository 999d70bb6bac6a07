//! Helpers shared by the DPDK test binaries (each binary is one process,
//! so one EAL: one `#[test]` per file drives all of its steps).
#![allow(dead_code)]

use mptfo_dpdk::{DpdkError, Eal};

/// The first CPU this process may run on (the EAL main lcore).
pub fn first_cpu() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .and_then(|list| {
            list.trim()
                .split([',', '-'])
                .next()
                .map(|s| s.trim().to_owned())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "0".to_owned())
}

/// Whether the process runs as root (uid 0).
pub fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next().map(|u| u == "0"))
        .unwrap_or(false)
}

/// The EAL arguments every test uses (no hugepages, no PCI, no shared
/// runtime files), plus `extra`.
pub fn eal_args(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--no-huge",
        "-m",
        "256",
        "--no-pci",
        "--no-shconf",
        "--no-telemetry",
        "--log-level=notice",
        "-l",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(first_cpu());
    args.push(format!("--file-prefix={}", file_prefix()));
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Starts EAL, or returns None after printing a loud SKIPPED line when
/// this build has no DPDK.
pub fn start_eal(extra: &[&str]) -> Option<Eal> {
    let args = eal_args(extra);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    eprintln!("EAL arguments: {}", refs.join(" "));
    match Eal::init(&refs) {
        Ok(eal) => Some(eal),
        Err(DpdkError::NotInstalled) => {
            eprintln!("SKIPPED: {}", DpdkError::NotInstalled);
            None
        }
        Err(e) => {
            remove_runtime_dir();
            panic!("Eal::init failed: {e}")
        }
    }
}

/// This process's EAL file prefix: its runtime directory is
/// `/var/run/dpdk/<prefix>` (root) even with `--no-shconf`.
pub fn file_prefix() -> String {
    format!("mptfo-test-{}", std::process::id())
}

/// Removes the (empty) EAL runtime directory of this process, and its
/// parent when that is empty too; call after the `Eal` is dropped.
pub fn remove_runtime_dir() {
    let base = if is_root() {
        std::path::PathBuf::from("/var/run/dpdk")
    } else {
        match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(d) => std::path::Path::new(&d).join("dpdk"),
            None => std::path::PathBuf::from("/tmp/dpdk"),
        }
    };
    // remove_dir fails on a non-empty directory: only empty ones go.
    let _ = std::fs::remove_dir(base.join(file_prefix()));
    let _ = std::fs::remove_dir(&base);
}

/// Removes the runtime directory when dropped: create it before the `Eal`
/// so that it is dropped after it, also when a test panics.
pub struct RuntimeDir;

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        remove_runtime_dir();
    }
}
