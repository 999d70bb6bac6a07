//! `mptfo lab up`, `down` and `status`: the test bed itself (namespaces,
//! veth pairs, addresses, sysctls, checksum offloads, MPTCP endpoints,
//! hugepages), built idempotently and recorded step by step in the state
//! file, so that `down` undoes whatever exists, even after a crash.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::labfile::{Driver, End, Lab, LinkEnd};
use crate::prereq;
use crate::state::{StateFile, Veth};
use crate::system::{self, run, run_in};

/// Pages of 2 MiB each DPDK process of a lab asks for (`-m 256`).
pub const PAGES_PER_PROCESS: u64 = 128;

/// How long a process gets between SIGTERM and SIGKILL in `down`.
const GRACE: Duration = Duration::from_secs(3);

/// Builds the lab (idempotent: what exists and is the lab's is kept, its
/// settings applied again). Returns the state file.
pub fn up(lab: &Lab, config: &Path, root: &Path) -> Result<StateFile> {
    prereq::check(lab, &[])?;
    let mut st = StateFile::open_or_create(root, &lab.name, Some(config))?;
    st.update(|s| s.complete = false)?;

    for h in &lab.hosts {
        if system::ns_exists(&h.name) {
            if !st.state.namespaces.contains(&h.name) {
                bail!(
                    "host {0}: network namespace {0} exists and this lab did not make it (another lab's, or left by hand?): remove it (ip netns del {0}) or name the host otherwise",
                    h.name
                );
            }
        } else {
            run(&["ip", "netns", "add", &h.name])?;
            st.update(|s| {
                if !s.namespaces.contains(&h.name) {
                    s.namespaces.push(h.name.clone());
                }
            })?;
        }
        run(&["ip", "-n", &h.name, "link", "set", "lo", "up"])?;
        for (k, v) in &h.sysctls {
            run_in(&h.name, &["sysctl", "-qw", &format!("{k}={v}")])?;
        }
    }

    for l in lab.links.iter().filter(|l| !l.memif) {
        let (a, b) = (&l.a, &l.b);
        let (na, ia) = (a.host.as_deref().unwrap(), a.ifname.as_deref().unwrap());
        let (nb, ib) = (b.host.as_deref().unwrap(), b.ifname.as_deref().unwrap());
        let rec = Veth {
            ns: na.into(),
            ifname: ia.into(),
            peer_ns: nb.into(),
            peer_ifname: ib.into(),
        };
        if system::link_exists(na, ia) {
            if !st.state.veths.contains(&rec) {
                bail!(
                    "link {}: interface {ia} exists in namespace {na} and this lab did not make it",
                    l.name
                );
            }
        } else {
            run(&[
                "ip", "link", "add", ia, "address", &a.mac, "netns", na, "type", "veth", "peer",
                "name", ib, "address", &b.mac, "netns", nb,
            ])?;
            st.update(|s| {
                if !s.veths.contains(&rec) {
                    s.veths.push(rec.clone());
                }
            })?;
        }
        set_up_end(a, b)?;
        set_up_end(b, a)?;
    }
    for l in lab.links.iter().filter(|l| l.memif) {
        let sock = l.socket.as_ref().unwrap();
        if let Some(dir) = sock.parent() {
            let missing: Vec<PathBuf> = dir
                .ancestors()
                .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
                .map(Path::to_path_buf)
                .collect();
            st.update(|s| {
                for d in &missing {
                    if !s.dirs.contains(d) {
                        s.dirs.push(d.clone());
                    }
                }
            })?;
            std::fs::create_dir_all(dir)
                .with_context(|| format!("link {}: creating {}", l.name, dir.display()))?;
        }
        st.update(|s| {
            if !s.paths.contains(sock) {
                s.paths.push(sock.clone());
            }
        })?;
    }

    for h in &lab.hosts {
        if let Some((sub, acc)) = h.mptcp_limits {
            run(&[
                "ip",
                "-n",
                &h.name,
                "mptcp",
                "limits",
                "set",
                "subflow",
                &sub.to_string(),
                "add_addr_accepted",
                &acc.to_string(),
            ])?;
        }
        if !h.mptcp_endpoints.is_empty() {
            run(&["ip", "-n", &h.name, "mptcp", "endpoint", "flush"])?;
            for e in &h.mptcp_endpoints {
                let addr = e.address.to_string();
                let mut args = vec!["ip", "-n", &h.name, "mptcp", "endpoint", "add", &addr];
                if let Some(d) = &e.dev {
                    args.extend(["dev", d]);
                }
                let id = e.id.map(|i| i.to_string());
                if let Some(i) = &id {
                    args.extend(["id", i]);
                }
                args.extend(e.flags.iter().map(String::as_str));
                run(&args)?;
            }
        }
    }

    if lab.hugepages > 0 {
        let now = system::hugepages()?;
        let before = match st.state.hugepages_before {
            Some(b) => b,
            None => {
                st.update(|s| s.hugepages_before = Some(now))?;
                now
            }
        };
        let want = before + lab.hugepages;
        st.update(|s| s.hugepages_set = Some(want))?;
        let got = system::set_hugepages(want)?;
        if got < want {
            bail!(
                "lab.hugepages = {}: the kernel reserved only {} of the {} 2 MiB pages asked for ({} before the lab); free memory, or lower lab.hugepages (0: DPDK runs --no-huge)",
                lab.hugepages,
                got.saturating_sub(before),
                lab.hugepages,
                before
            );
        }
        if !system::hugetlbfs_mounted() {
            std::fs::create_dir_all(system::HUGETLBFS)?;
            run(&["mount", "-t", "hugetlbfs", "nodev", system::HUGETLBFS])?;
            st.update(|s| s.hugetlbfs_mounted = true)?;
        }
    }
    st.update(|s| s.complete = true)?;
    Ok(st)
}

/// Addresses, state, offloads and neighbours of one veth end (`peer` is
/// the other end).
fn set_up_end(e: &LinkEnd, peer: &LinkEnd) -> Result<()> {
    let ns = e.host.as_deref().unwrap();
    let ifn = e.ifname.as_deref().unwrap();
    if e.driver == Driver::Kernel {
        for c in &e.addresses {
            let cidr = c.to_string();
            let mut args = vec!["ip", "-n", ns, "addr", "replace", &cidr, "dev", ifn];
            if c.addr.is_ipv6() {
                args.push("nodad");
            }
            run(&args)?;
        }
        if peer.driver.is_dpdk() {
            // af_packet / af_xdp hand over what the kernel sends as it is:
            // with transmit checksum offload on, TCP checksums stay partial.
            run_in(ns, &["ethtool", "-K", ifn, "tx", "off"])?;
            // mptfo's addresses on the other end, statically.
            for c in &peer.addresses {
                let ip = c.addr.to_string();
                run(&[
                    "ip",
                    "-n",
                    ns,
                    "neigh",
                    "replace",
                    &ip,
                    "lladdr",
                    &peer.mac,
                    "dev",
                    ifn,
                    "nud",
                    "permanent",
                ])?;
            }
        }
    } else {
        // The kernel keeps out of a DPDK-driven end: no addresses, no IPv6.
        run_in(
            ns,
            &[
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{}.disable_ipv6=1", ifn.replace('.', "/")),
            ],
        )?;
    }
    run(&["ip", "-n", ns, "link", "set", ifn, "up"])?;
    Ok(())
}

/// What `down` did.
pub struct DownReport {
    /// One line per thing removed.
    pub lines: Vec<String>,
}

/// Removes everything the state of lab `name` records: processes (by
/// their recorded PID and start time), veth pairs, namespaces, DPDK
/// files, the hugepage reservation (restored) and the state file.
/// Idempotent; with no state file there is nothing to do (`Ok(None)`).
pub fn down(name: &str, root: &Path) -> Result<Option<DownReport>> {
    let Some(mut st) = StateFile::open(root, name)? else {
        return Ok(None);
    };
    let mut lines = Vec::new();
    let mut errors = Vec::new();

    for p in st.state.processes.clone() {
        if system::alive(p.pid, p.started) {
            let killed = system::stop(p.pid, p.started, GRACE);
            if system::alive(p.pid, p.started) {
                errors.push(format!("process {} ({}) survived SIGKILL", p.pid, p.name));
                continue;
            }
            lines.push(format!(
                "stopped process {} ({}){}",
                p.pid,
                p.name,
                if killed { " with SIGKILL" } else { "" }
            ));
        }
        st.update(|s| s.processes.retain(|x| x != &p))?;
    }
    for v in st.state.veths.clone() {
        if system::link_exists(&v.ns, &v.ifname) {
            match run(&["ip", "-n", &v.ns, "link", "del", &v.ifname]) {
                Ok(_) => lines.push(format!(
                    "removed veth {}/{} - {}/{}",
                    v.ns, v.ifname, v.peer_ns, v.peer_ifname
                )),
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            }
        }
        st.update(|s| s.veths.retain(|x| x != &v))?;
    }
    for ns in st.state.namespaces.clone() {
        if system::ns_exists(&ns) {
            match run(&["ip", "netns", "del", &ns]) {
                Ok(_) => lines.push(format!("removed namespace {ns}")),
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            }
        }
        st.update(|s| s.namespaces.retain(|x| x != &ns))?;
    }
    for p in st.state.paths.clone() {
        let r = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        match r {
            Ok(()) => lines.push(format!("removed {}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                errors.push(format!("removing {}: {e}", p.display()));
                continue;
            }
        }
        st.update(|s| s.paths.retain(|x| x != &p))?;
    }
    for d in st.state.dirs.clone() {
        match std::fs::remove_dir(&d) {
            Ok(()) => lines.push(format!("removed {}", d.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // Something else lives there now: it stays.
            Err(e) => lines.push(format!("left {} ({e})", d.display())),
        }
        st.update(|s| s.dirs.retain(|x| x != &d))?;
    }
    if let Some(before) = st.state.hugepages_before {
        if st.state.hugetlbfs_mounted {
            match run(&["umount", system::HUGETLBFS]) {
                Ok(_) => {
                    lines.push(format!("unmounted {}", system::HUGETLBFS));
                    st.update(|s| s.hugetlbfs_mounted = false)?;
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        match system::set_hugepages(before) {
            Ok(n) if n == before => {
                lines.push(format!("2 MiB hugepages back to {before}"));
                st.update(|s| {
                    s.hugepages_before = None;
                    s.hugepages_set = None;
                })?;
            }
            Ok(n) => errors.push(format!(
                "2 MiB hugepages: set back to {before}, the kernel still has {n} (pages in use?)"
            )),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        bail!(
            "lab {name}: some things could not be removed (still recorded in {}; run down again):\n  {}",
            st.path().display(),
            errors.join("\n  ")
        );
    }
    st.remove()?;
    Ok(Some(DownReport { lines }))
}

/// What exists and what runs, as text.
pub fn status(lab: &Lab, root: &Path) -> Result<String> {
    let mut out = String::new();
    let st = StateFile::open(root, &lab.name)?;
    let Some(st) = st else {
        writeln!(
            out,
            "lab {}: not up (no state file under {})",
            lab.name,
            root.display()
        )?;
        return Ok(out);
    };
    let s = &st.state;
    writeln!(
        out,
        "lab {}: {} (state {})",
        lab.name,
        if s.complete { "up" } else { "partly built" },
        st.path().display()
    )?;
    for h in &lab.hosts {
        writeln!(
            out,
            "  namespace {:<16} {}",
            h.name,
            if system::ns_exists(&h.name) {
                "present"
            } else {
                "MISSING"
            }
        )?;
    }
    for l in &lab.links {
        if l.memif {
            let sock = l.socket.as_ref().unwrap();
            writeln!(
                out,
                "  link {:<8} memif {} ({})",
                l.name,
                sock.display(),
                if sock.exists() {
                    "socket present"
                } else {
                    "no socket: no process runs on it"
                }
            )?;
            continue;
        }
        let mut ends = Vec::new();
        for e in [End::A, End::B] {
            let end = l.end(e);
            let (ns, ifn) = (end.host.as_deref().unwrap(), end.ifname.as_deref().unwrap());
            ends.push(format!(
                "{ns}/{ifn} [{}] {}",
                end.driver,
                if system::link_exists(ns, ifn) {
                    "present"
                } else {
                    "MISSING"
                }
            ));
        }
        writeln!(out, "  link {:<8} veth {} <-> {}", l.name, ends[0], ends[1])?;
    }
    if s.processes.is_empty() {
        writeln!(out, "  processes: none recorded")?;
    }
    for p in &s.processes {
        writeln!(
            out,
            "  process {:>7} {:<24} {}",
            p.pid,
            p.name,
            if system::alive(p.pid, p.started) {
                "running"
            } else {
                "ended"
            }
        )?;
    }
    let now = system::hugepages().map_or("?".to_owned(), |n| n.to_string());
    match (s.hugepages_before, s.hugepages_set) {
        (Some(b), Some(w)) => writeln!(
            out,
            "  hugepages (2 MiB): {now} now, {w} set by the lab, {b} before it"
        )?,
        _ => writeln!(
            out,
            "  hugepages (2 MiB): {now} now; the lab reserves none (DPDK runs --no-huge)"
        )?,
    }
    Ok(out)
}
