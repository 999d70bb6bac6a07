//! What a lab needs of the machine, checked before anything is touched:
//! each missing piece gets its own message saying what to do.

use std::path::Path;

use anyhow::{bail, Result};

use crate::bed::PAGES_PER_PROCESS;
use crate::labfile::{Kind, Lab, Scenario, StackKind};
use crate::system;

/// The effective user id (from /proc/self/status).
fn euid() -> Option<u32> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The program that captures on a kernel interface: dumpcap, tcpdump or
/// tshark, the first found.
pub fn capture_tool() -> Option<&'static str> {
    ["dumpcap", "tcpdump", "tshark"]
        .into_iter()
        .find(|p| system::have(p))
}

/// A scenario whose two ends both run on the kernel's stack: its pcap is
/// taken on a kernel interface.
pub fn kernel_only(lab: &Lab, s: &Scenario) -> bool {
    let c = &lab.endpoints[s.client];
    c.stack == StackKind::Kernel
        && s.server
            .is_some_and(|i| lab.endpoints[i].stack == StackKind::Kernel)
}

/// Checks everything `up` (and `run` of `scenarios`) needs; the first
/// problems found, all of them, in one error.
pub fn check(lab: &Lab, scenarios: &[&Scenario]) -> Result<()> {
    let mut problems = Vec::new();
    if euid() != Some(0) {
        problems.push(
            "not root: network namespaces, veth pairs, sysctls and hugepages need root (run with sudo)"
                .to_owned(),
        );
    }
    let mut tools = vec![("ip", "iproute2")];
    let dpdk_veth = lab
        .links
        .iter()
        .any(|l| !l.memif && (l.a.driver.is_dpdk() || l.b.driver.is_dpdk()));
    if dpdk_veth {
        tools.push((
            "ethtool",
            "ethtool (checksum offload off on the kernel side of af_packet/af_xdp links)",
        ));
    }
    if lab
        .endpoints
        .iter()
        .any(|e| e.stack == StackKind::Kernel || e.kind == Kind::Bench)
    {
        tools.push((
            "taskset",
            "util-linux (taskset pins kernel-stack and bench endpoints)",
        ));
    }
    for (t, pkg) in tools {
        if !system::have(t) {
            problems.push(format!("`{t}` not found on PATH: install {pkg}"));
        }
    }
    if scenarios.iter().any(|s| s.run.pcap && kernel_only(lab, s)) && capture_tool().is_none() {
        problems.push(
            "pcap = true on a kernel-to-kernel scenario, and none of dumpcap, tcpdump, tshark is installed (apt-get install tshark, or tcpdump)"
                .to_owned(),
        );
    }
    for d in lab.drivers() {
        let p = system::pmd_path(d);
        if !Path::new(&p).exists() {
            problems.push(format!(
                "DPDK driver net_{d} missing ({p}): apt-get install dpdk (Debian's DPDK 22.11)"
            ));
        }
    }
    if lab.hugepages > 0 {
        let need = lab
            .scenarios
            .iter()
            .map(|s| {
                [Some(s.client), s.server]
                    .into_iter()
                    .flatten()
                    .filter(|&i| {
                        lab.endpoints[i].stack == StackKind::Mptfo
                            && lab.endpoints[i].kind != Kind::Bench
                    })
                    .count() as u64
            })
            .max()
            .unwrap_or(0)
            * PAGES_PER_PROCESS;
        if lab.hugepages < need {
            problems.push(format!(
                "lab.hugepages = {}: expected 0 (--no-huge) or at least {need} ({PAGES_PER_PROCESS} 2 MiB pages for each DPDK process running at once)",
                lab.hugepages
            ));
        }
        if !Path::new(system::HUGEPAGES_2M).exists() {
            problems.push(format!(
                "lab.hugepages = {}: this kernel has no 2 MiB hugepages ({} missing); set 0",
                lab.hugepages,
                system::HUGEPAGES_2M
            ));
        }
    }
    match std::fs::read_to_string("/proc/sys/net/mptcp/enabled") {
        Err(_) => problems.push(
            "the kernel has no MPTCP (/proc/sys/net/mptcp/enabled missing): kernel-stack endpoints need CONFIG_MPTCP"
                .to_owned(),
        ),
        Ok(s) if s.trim() != "1"
            && lab.hosts.iter().all(|h| {
                !h.sysctls
                    .iter()
                    .any(|(k, v)| k == "net.mptcp.enabled" && v == "1")
            })
            && lab.endpoints.iter().any(|e| e.stack == StackKind::Kernel) =>
        {
            problems.push(
                "MPTCP is disabled (net.mptcp.enabled = 0): set sysctl = { \"net.mptcp.enabled\" = 1 } on the lab's hosts"
                    .to_owned(),
            )
        }
        Ok(_) => {}
    }
    let ncpu = system::ncpu();
    for e in &lab.endpoints {
        if let Some(c) = e.cores.iter().find(|&&c| c >= ncpu) {
            problems.push(format!(
                "endpoint {}: CPU {c} does not exist here ({ncpu} CPUs)",
                e.name
            ));
        }
    }
    if !problems.is_empty() {
        bail!(
            "lab {}: the machine is not ready:\n  - {}",
            lab.name,
            problems.join("\n  - ")
        );
    }
    Ok(())
}
