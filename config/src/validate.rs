//! Checks that involve more than one key. They run once every key has
//! decoded on its own, so each message can rely on the values being
//! individually valid.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::decode::Ctx;
use crate::node::quote;
use crate::schema::{EndpointFlag, MPTCP_PM_ADDR_MAX};
use crate::Config;

pub(crate) fn check(c: &Config, ctx: &mut Ctx<'_>) {
    eal(c, ctx);
    ports(c, ctx);
    tcp(c, ctx);
    tfo(c, ctx);
    mptcp(c, ctx);
    loadgen(c, ctx);
}

fn eal(c: &Config, ctx: &mut Ctx<'_>) {
    let e = &c.eal;
    if !e.args.is_empty() {
        if let Some(k) = e.structured_keys_set().first() {
            ctx.conflict(
                &format!("eal.{k}"),
                format!(
                    "eal: both args and {k} are set: expected either args (the EAL command line, verbatim) \
                     or the structured keys (lcores, main_lcore, memory_mb, no_huge, in_memory, no_shconf, \
                     file_prefix, vdevs)"
                ),
            );
        }
        return;
    }
    if e.no_huge && e.in_memory {
        ctx.conflict(
            "eal.in_memory",
            "eal: both no_huge and in_memory are set: expected at most one of them \
             (EAL refuses --in-memory with --no-huge; use no_shconf)"
                .to_string(),
        );
    }
    if let Some(l) = &e.lcores {
        if let Some(missing) = c.cores.as_slice().iter().find(|w| !l.contains(**w)) {
            ctx.invalid_at(
                "eal.lcores",
                quote(&l.to_string()),
                format!(
                    "expected a list that contains every worker core (cores = {}; {missing} is missing)",
                    quote(&c.cores.to_string())
                ),
            );
        }
        if let Some(m) = e.main_lcore {
            if !l.contains(m) {
                ctx.invalid_at(
                    "eal.main_lcore",
                    m,
                    format!(
                        "expected one of the EAL lcores (eal.lcores = {})",
                        quote(&l.to_string())
                    ),
                );
            }
        }
    }
}

fn ports(c: &Config, ctx: &mut Ctx<'_>) {
    if c.ports.is_empty() && (c.serve.is_some() || c.loadgen.is_some()) {
        let who = if c.serve.is_some() {
            "serve"
        } else {
            "loadgen"
        };
        ctx.conflict(
            who,
            format!("port is not set: expected at least one [[port]] table (mptfo {who} needs a device)"),
        );
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut devices: HashMap<&str, usize> = HashMap::new();
    let mut addrs: HashMap<IpAddr, String> = HashMap::new();
    let workers = c.cores.len();
    for (i, p) in c.ports.iter().enumerate() {
        let path = format!("port[{i}]");
        match (&p.vdev, &p.pci) {
            (None, None) => ctx.conflict(
                &path,
                format!("{path}: neither vdev nor pci is set: expected one of them"),
            ),
            (Some(_), Some(_)) => ctx.conflict(
                &format!("{path}.pci"),
                format!("{path}: both vdev and pci are set: expected one of them"),
            ),
            _ => {}
        }
        if let Some(&j) = names.get(p.name.as_str()) {
            ctx.invalid_at(
                &format!("{path}.name"),
                quote(&p.name),
                format!("expected a name no other port has (port[{j}] has it)"),
            );
        } else {
            names.insert(&p.name, i);
        }
        if let Some(dev) = p.device_name() {
            if let Some(&j) = devices.get(dev) {
                let key = if p.vdev.is_some() { "vdev" } else { "pci" };
                ctx.invalid_at(
                    &format!("{path}.{key}"),
                    quote(p.vdev.as_deref().or(p.pci.as_deref()).unwrap_or(dev)),
                    format!("expected a device no other port uses (port[{j}] is {dev})"),
                );
            } else {
                devices.insert(dev, i);
            }
        }
        for (k, a) in p.addresses.iter().enumerate() {
            let ap = format!("{path}.addresses[{k}]");
            if let Some(prev) = addrs.get(&a.addr) {
                ctx.invalid_at(
                    &ap,
                    quote(&a.to_string()),
                    format!("expected an address not used before ({prev} has it)"),
                );
            } else {
                addrs.insert(a.addr, ap);
            }
        }
        if p.has_ipv6() && p.mtu < 1280 {
            ctx.invalid_at(
                &format!("{path}.mtu"),
                p.mtu,
                "expected at least 1280 on a port with an IPv6 address (RFC 8200)",
            );
        }
        let mut seen_neigh: HashMap<IpAddr, usize> = HashMap::new();
        for (k, n) in p.neighbours.iter().enumerate() {
            let np = format!("{path}.neighbours[{k}].ip");
            if !p.addresses.iter().any(|a| a.contains(n.ip)) {
                let subnets: Vec<String> = p.addresses.iter().map(|a| a.to_string()).collect();
                ctx.invalid_at(
                    &np,
                    quote(&n.ip.to_string()),
                    format!(
                        "expected an address on one of the port's subnets ({})",
                        subnets.join(", ")
                    ),
                );
            }
            if let Some(&j) = seen_neigh.get(&n.ip) {
                ctx.invalid_at(
                    &np,
                    quote(&n.ip.to_string()),
                    format!("expected each neighbour once ({path}.neighbours[{j}] has it)"),
                );
            } else {
                seen_neigh.insert(n.ip, k);
            }
        }
        for (key, q) in [("rx_queues", p.rx_queues), ("tx_queues", p.tx_queues)] {
            if let Some(q) = q {
                if usize::from(q) != workers {
                    ctx.invalid_at(
                        &format!("{path}.{key}"),
                        q,
                        format!(
                            "expected {workers}, the number of worker cores \
                             (each core polls its own queue pair of every port)"
                        ),
                    );
                }
            }
        }
        // A device argument that fixes the queue count must give every
        // worker its queue pair.
        if let Some(v) = &p.vdev {
            let driver = v.split(',').next().unwrap_or_default();
            let key = if driver.starts_with("net_af_packet") {
                Some("qpairs")
            } else if driver.starts_with("net_af_xdp") {
                Some("queue_count")
            } else {
                None
            };
            let given = key.and_then(|k| {
                v.split(',')
                    .skip(1)
                    .find_map(|a| a.strip_prefix(k)?.strip_prefix('='))
                    .map(|n| (k, n))
            });
            if let Some((k, n)) = given {
                if n.parse::<usize>().ok() != Some(workers) {
                    ctx.invalid_at(
                        &format!("{path}.vdev"),
                        quote(v),
                        format!(
                            "expected {k}={workers}, one queue pair per worker core \
                             (cores = {}), not {k}={n}",
                            quote(&c.cores.to_string())
                        ),
                    );
                }
            }
        }
    }
}

fn tcp(c: &Config, ctx: &mut Ctx<'_>) {
    let t = &c.tcp;
    if let Some(mss) = t.mss {
        if let Some((i, p)) = c
            .ports
            .iter()
            .enumerate()
            .min_by_key(|(_, p)| p.mtu.saturating_sub(p.header_bytes()))
        {
            let max = p.mtu.saturating_sub(p.header_bytes());
            if mss > max {
                ctx.invalid_at(
                    "tcp.mss",
                    mss,
                    format!(
                        "expected at most {max} (port[{i}]'s MTU {} minus {} bytes of IP and TCP headers)",
                        p.mtu,
                        p.header_bytes()
                    ),
                );
            }
        }
    }
    if t.max_rto_ms < t.min_rto_ms {
        ctx.invalid_at(
            "tcp.max_rto_ms",
            t.max_rto_ms,
            format!("expected at least tcp.min_rto_ms ({})", t.min_rto_ms),
        );
    } else if t.initial_rto_ms < t.min_rto_ms {
        ctx.invalid_at(
            "tcp.initial_rto_ms",
            t.initial_rto_ms,
            format!("expected at least tcp.min_rto_ms ({})", t.min_rto_ms),
        );
    } else if t.initial_rto_ms > t.max_rto_ms {
        ctx.invalid_at(
            "tcp.initial_rto_ms",
            t.initial_rto_ms,
            format!("expected at most tcp.max_rto_ms ({})", t.max_rto_ms),
        );
    }
    let max_window = 65535u64 << t.window_shift;
    if u64::from(t.recv_window) > max_window {
        ctx.invalid_at(
            "tcp.recv_window",
            t.recv_window,
            format!(
                "expected at most {max_window} (65535 << tcp.window_shift {}, the largest window it can announce)",
                t.window_shift
            ),
        );
    }
}

fn tfo(c: &Config, ctx: &mut Ctx<'_>) {
    let s = &c.tfo.server;
    if s.backup_key.is_some() && s.key.is_none() {
        ctx.conflict(
            "tfo.server.backup_key",
            "tfo.server: backup_key is set without key: expected a primary key too".to_string(),
        );
    }
}

fn mptcp(c: &Config, ctx: &mut Ctx<'_>) {
    let eps = &c.mptcp.endpoints;
    if eps.len() > usize::from(MPTCP_PM_ADDR_MAX) {
        ctx.conflict(
            "mptcp.endpoint",
            format!(
                "mptcp.endpoint: {} endpoints: expected at most {MPTCP_PM_ADDR_MAX} (Linux's limit)",
                eps.len()
            ),
        );
    }
    let own: Vec<IpAddr> = c
        .ports
        .iter()
        .flat_map(|p| p.addresses.iter().map(|a| a.addr))
        .collect();
    let mut ids: HashMap<u8, usize> = HashMap::new();
    let mut addrs: HashMap<IpAddr, usize> = HashMap::new();
    for (i, e) in eps.iter().enumerate() {
        let path = format!("mptcp.endpoint[{i}]");
        if let Some(id) = e.id {
            if let Some(&j) = ids.get(&id) {
                ctx.invalid_at(
                    &format!("{path}.id"),
                    id,
                    format!("expected an ID no other endpoint has (mptcp.endpoint[{j}] has it)"),
                );
            } else {
                ids.insert(id, i);
            }
        }
        let ap = format!("{path}.address");
        if let Some(&j) = addrs.get(&e.address) {
            ctx.invalid_at(
                &ap,
                quote(&e.address.to_string()),
                format!("expected an address no other endpoint has (mptcp.endpoint[{j}] has it)"),
            );
        } else {
            addrs.insert(e.address, i);
        }
        if !own.is_empty() && !own.contains(&e.address) {
            let list: Vec<String> = own.iter().map(|a| a.to_string()).collect();
            ctx.invalid_at(
                &ap,
                quote(&e.address.to_string()),
                format!("expected one of the ports' addresses ({})", list.join(", ")),
            );
        }
        if e.has(EndpointFlag::Signal) && e.has(EndpointFlag::Fullmesh) {
            ctx.invalid_at(
                &format!("{path}.flags"),
                "",
                "expected signal or fullmesh, not both (Linux refuses the pair)",
            );
        }
    }
}

fn loadgen(c: &Config, ctx: &mut Ctx<'_>) {
    let Some(l) = &c.loadgen else {
        return;
    };
    if l.connections.is_some() && l.rate.is_some() {
        ctx.conflict(
            "loadgen.rate",
            "loadgen: both connections and rate are set: expected one of them".to_string(),
        );
    }
    if l.tfo == Some(true) && !c.tfo.client.enabled {
        ctx.invalid_at(
            "loadgen.tfo",
            true,
            "expected false or unset when tfo.client.enabled = false",
        );
    }
    if l.mptcp == Some(true) && !c.mptcp.enabled {
        ctx.invalid_at(
            "loadgen.mptcp",
            true,
            "expected false or unset when mptcp.enabled = false",
        );
    }
    if l.subflows > 0 {
        if !l.uses_mptcp(&c.mptcp) {
            ctx.invalid_at(
                "loadgen.subflows",
                l.subflows,
                "expected 0 when the load generator does not use MPTCP",
            );
        } else if l.subflows > c.mptcp.limits.subflows {
            ctx.invalid_at(
                "loadgen.subflows",
                l.subflows,
                format!(
                    "expected at most mptcp.limits.subflows ({})",
                    c.mptcp.limits.subflows
                ),
            );
        }
    }
    let ip = l.target.ip();
    let shown = quote(&l.target.to_string());
    if c.ports
        .iter()
        .any(|p| p.addresses.iter().any(|a| a.addr == ip))
    {
        ctx.invalid_at(
            "loadgen.target",
            shown,
            "expected a remote address, not one of this configuration's port addresses",
        );
    } else if !c.ports.is_empty()
        && !c
            .ports
            .iter()
            .any(|p| p.addresses.iter().any(|a| a.contains(ip)))
    {
        let subnets: Vec<String> = c
            .ports
            .iter()
            .flat_map(|p| p.addresses.iter().map(|a| a.to_string()))
            .collect();
        ctx.invalid_at(
            "loadgen.target",
            shown,
            format!(
                "expected an address on one of the ports' subnets ({}): the stack has no router",
                subnets.join(", ")
            ),
        );
    }
}
