//! Next hops of one stack: ARP for IPv4 (RFC 826) and IPv6 neighbour
//! discovery (RFC 4861, solicitations and advertisements only).
//!
//! Owns: the neighbour table (static entries from
//! [`Stack::add_neighbor`], which nothing overrides, and learned ones),
//! answering ARP requests and neighbour solicitations for our addresses,
//! learning from requests, replies, solicitations and advertisements, and
//! the frames waiting for an address to resolve: a few per address, a
//! request at most once a second, given up (counted) after a few tries.
//! Does not own routing: every peer is its own next hop, and an interface
//! with a `default_peer_mac` (a gateway, the far end of a point-to-point
//! link) sends there whatever the table does not know.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use core::time::Duration;
use mptfo_nic::{Buf, TxOffload};
use mptfo_proto::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr,
    Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6Packet, Ipv6Repr, NdFlags, ARP_ETHERNET_IPV4_LEN,
    IPV6_HEADER_LEN,
};

use super::{Stack, TimerTarget};
use crate::time::Instant;

/// Time between two requests for the same address (Linux
/// `retrans_time_ms`, 1 s).
pub(super) const RESOLVE_INTERVAL: Duration = Duration::from_secs(1);

/// Requests sent for an address before its waiting frames are dropped
/// (Linux `mcast_solicit`, 3).
pub(super) const RESOLVE_TRIES: u8 = 3;

/// Frames kept per unresolved address; older ones are dropped first (Linux
/// keeps a small per-entry queue, `unres_qlen`).
pub(super) const RESOLVE_QUEUE: usize = 4;

/// An entry of the neighbour table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Neighbor {
    /// The Ethernet address.
    pub mac: [u8; 6],
    /// Configured, not learned: nothing received changes it.
    pub fixed: bool,
}

/// An address being resolved and the frames waiting for it.
pub(super) struct Resolving<B> {
    /// Interface the requests go out on.
    iface: usize,
    /// Our address on it (the requests' sender address).
    local: IpAddr,
    /// Frames to send once the address resolves, oldest first.
    frames: VecDeque<B>,
    /// Requests sent so far.
    tries: u8,
    /// When the next request (or the give-up) is due.
    next_try: Instant,
}

/// Ethernet addresses a peer may not claim.
fn usable_mac(mac: [u8; 6]) -> bool {
    let a = EthernetAddress(mac);
    a.is_unicast() && mac != [0; 6]
}

/// The solicited-node multicast address of `target` (RFC 4291 §2.7.1).
fn solicited_node(target: Ipv6Addr) -> Ipv6Addr {
    let o = target.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | o[13] as u16,
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// Source and destination IP addresses of one of our frames (Ethernet,
/// then IPv4 or IPv6).
fn frame_addrs(frame: &[u8]) -> Option<(IpAddr, IpAddr)> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    match ethertype {
        0x0800 => {
            let b: [u8; 8] = frame.get(26..34)?.try_into().ok()?;
            let src = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
            let dst = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            Some((IpAddr::V4(src), IpAddr::V4(dst)))
        }
        0x86dd => {
            let src: [u8; 16] = frame.get(22..38)?.try_into().ok()?;
            let dst: [u8; 16] = frame.get(38..54)?.try_into().ok()?;
            Some((
                IpAddr::V6(Ipv6Addr::from(src)),
                IpAddr::V6(Ipv6Addr::from(dst)),
            ))
        }
        _ => None,
    }
}

impl<B: Buf> Stack<B> {
    /// The Ethernet address of `ip`'s next hop on interface `iface`: its
    /// neighbour entry, else the interface's default peer (an all-zero
    /// `default_peer_mac` means there is none). `None` when it must be
    /// resolved first.
    pub(super) fn next_hop_mac(&self, iface: usize, ip: IpAddr) -> Option<[u8; 6]> {
        if let Some(n) = self.neighbors.get(&ip) {
            return Some(n.mac);
        }
        let d = self.ifaces.get(iface)?.default_peer_mac;
        (d != [0; 6]).then_some(d)
    }

    /// The Ethernet address the table holds for `ip`, if any.
    pub fn neighbor(&self, ip: IpAddr) -> Option<[u8; 6]> {
        self.neighbors.get(&ip).map(|n| n.mac)
    }

    /// Learns (or refreshes) `ip` at `mac`, unless a static entry says
    /// otherwise, and sends what was waiting for it.
    pub(super) fn learn_neighbor(&mut self, ip: IpAddr, mac: [u8; 6]) {
        if !usable_mac(mac) || ip.is_unspecified() || ip.is_multicast() {
            return;
        }
        let mac = match self.neighbors.get(&ip) {
            Some(n) if n.fixed => n.mac,
            _ => {
                self.neighbors.insert(ip, Neighbor { mac, fixed: false });
                mac
            }
        };
        let Some(waiting) = self.resolving.remove(&ip) else {
            return;
        };
        for mut frame in waiting.frames {
            let patched = match frame.data_mut() {
                Some(d) if d.len() >= 6 => {
                    d[..6].copy_from_slice(&mac);
                    true
                }
                _ => false,
            };
            if !patched {
                // A frame whose storage is shared (its payload also waits
                // in a retransmission queue): send a copy.
                let Some(mut copy) = self.pool.pop() else {
                    self.counters.mptfo_tx_no_buffer += 1;
                    continue;
                };
                let offload = frame.tx_offload();
                if !copy.append_slice(frame.data()) {
                    self.counters.mptfo_tx_no_buffer += 1;
                    continue;
                }
                if let Some(d) = copy.data_mut() {
                    d[..6].copy_from_slice(&mac);
                }
                copy.set_tx_offload(offload);
                frame = copy;
            }
            self.counters.mptfo_tx_packets += 1;
            self.counters.mptfo_tx_bytes += frame.len() as u64;
            self.queue_tx(waiting.iface, frame);
        }
    }

    /// A frame built without a next-hop address (all-zero destination):
    /// keep it until its destination resolves, asking for it now if no
    /// request is on its way.
    pub(super) fn hold_for_resolution(&mut self, frame: B) {
        let Some((local, peer)) = frame_addrs(frame.data()) else {
            self.counters.mptfo_neigh_unresolved += 1;
            return;
        };
        let Some(iface) = self.iface_of(local) else {
            self.counters.mptfo_neigh_unresolved += 1;
            return;
        };
        self.counters.mptfo_neigh_queued += 1;
        let now = self.now;
        let entry = self.resolving.entry(peer).or_insert_with(|| Resolving {
            iface,
            local,
            frames: VecDeque::new(),
            tries: 0,
            next_try: now,
        });
        if entry.frames.len() >= RESOLVE_QUEUE {
            entry.frames.pop_front();
            self.counters.mptfo_neigh_queue_overflow += 1;
        }
        entry.frames.push_back(frame);
        if entry.tries == 0 {
            self.solicit(peer);
        }
    }

    /// Sends the next request for `peer` and schedules the one after (or
    /// the give-up).
    fn solicit(&mut self, peer: IpAddr) {
        let now = self.now;
        let Some(entry) = self.resolving.get_mut(&peer) else {
            return;
        };
        entry.tries += 1;
        entry.next_try = now + RESOLVE_INTERVAL;
        let (iface, local, at) = (entry.iface, entry.local, entry.next_try);
        self.timers.schedule(at, TimerTarget::Resolve);
        let mac = self.ifaces[iface].mac;
        match (local, peer) {
            (IpAddr::V4(local), IpAddr::V4(peer)) => {
                let arp = ArpRepr {
                    operation: ArpOperation::Request,
                    source_hardware_addr: EthernetAddress(mac),
                    source_protocol_addr: local,
                    target_hardware_addr: EthernetAddress([0; 6]),
                    target_protocol_addr: peer,
                };
                if self.send_arp(iface, EthernetAddress::BROADCAST, &arp) {
                    self.counters.mptfo_arp_tx_requests += 1;
                }
            }
            (IpAddr::V6(local), IpAddr::V6(peer)) => {
                let group = solicited_node(peer);
                let ns = Icmpv6Repr::NeighborSolicit {
                    target_addr: peer,
                    source_lladdr: Some(EthernetAddress(mac)),
                };
                let eth = EthernetAddress::from_ipv6_multicast(group);
                if self.send_nd(iface, eth, local, group, &ns) {
                    self.counters.icmp6_out_neighbor_solicits += 1;
                }
            }
            _ => {}
        }
    }

    /// The resolution timer: repeat requests that are due, drop the frames
    /// of addresses that did not answer.
    pub(super) fn on_resolve_timer(&mut self) {
        let now = self.now;
        let due: Vec<IpAddr> = self
            .resolving
            .iter()
            .filter(|(_, r)| r.next_try <= now)
            .map(|(ip, _)| *ip)
            .collect();
        for ip in due {
            let tries = self.resolving.get(&ip).map_or(0, |r| r.tries);
            if tries >= RESOLVE_TRIES {
                if let Some(r) = self.resolving.remove(&ip) {
                    self.counters.mptfo_neigh_unresolved += r.frames.len() as u64;
                }
            } else {
                self.solicit(ip);
            }
        }
    }

    /// A received ARP packet (RFC 826): answer a request for one of our
    /// addresses, learn the sender when the packet is for us or the sender
    /// is known already (RFC 826's merge step).
    pub(super) fn on_arp(&mut self, iface: usize, arp: ArpRepr) {
        match arp.operation {
            ArpOperation::Request => self.counters.mptfo_arp_rx_requests += 1,
            ArpOperation::Reply => self.counters.mptfo_arp_rx_replies += 1,
            ArpOperation::Unknown(_) => {}
        }
        let target = IpAddr::V4(arp.target_protocol_addr);
        let sender = IpAddr::V4(arp.source_protocol_addr);
        let ours = self.ifaces[iface].addrs.contains(&target);
        let known = self.neighbors.contains_key(&sender) || self.resolving.contains_key(&sender);
        if ours || known {
            self.learn_neighbor(sender, arp.source_hardware_addr.0);
        }
        if !ours {
            if !known {
                self.counters.mptfo_rx_not_for_us += 1;
            }
            return;
        }
        if arp.operation == ArpOperation::Request {
            let reply = ArpRepr {
                operation: ArpOperation::Reply,
                source_hardware_addr: EthernetAddress(self.ifaces[iface].mac),
                source_protocol_addr: arp.target_protocol_addr,
                target_hardware_addr: arp.source_hardware_addr,
                target_protocol_addr: arp.source_protocol_addr,
            };
            if self.send_arp(iface, arp.source_hardware_addr, &reply) {
                self.counters.mptfo_arp_tx_replies += 1;
            }
        }
    }

    /// A received neighbour solicitation or advertisement (RFC 4861 §7.2).
    pub(super) fn on_neighbor_discovery(
        &mut self,
        iface: usize,
        eth_src: EthernetAddress,
        src: Ipv6Addr,
        repr: Icmpv6Repr,
    ) {
        match repr {
            Icmpv6Repr::NeighborSolicit {
                target_addr,
                source_lladdr,
            } => {
                self.counters.icmp6_in_neighbor_solicits += 1;
                if !self.ifaces[iface].addrs.contains(&IpAddr::V6(target_addr)) {
                    self.counters.mptfo_rx_not_for_us += 1;
                    return;
                }
                if let (false, Some(ll)) = (src.is_unspecified(), source_lladdr) {
                    self.learn_neighbor(IpAddr::V6(src), ll.0);
                }
                // §7.2.4: a solicited advertisement back to the solicitor;
                // to a duplicate-address probe (source ::), an unsolicited
                // one to all nodes.
                let (dst, eth_dst, flags) = if src.is_unspecified() {
                    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
                    (
                        all_nodes,
                        EthernetAddress::from_ipv6_multicast(all_nodes),
                        NdFlags::OVERRIDE,
                    )
                } else {
                    (
                        src,
                        source_lladdr.unwrap_or(eth_src),
                        NdFlags::SOLICITED | NdFlags::OVERRIDE,
                    )
                };
                let na = Icmpv6Repr::NeighborAdvert {
                    flags,
                    target_addr,
                    target_lladdr: Some(EthernetAddress(self.ifaces[iface].mac)),
                };
                if self.send_nd(iface, eth_dst, target_addr, dst, &na) {
                    self.counters.icmp6_out_neighbor_advertisements += 1;
                }
            }
            Icmpv6Repr::NeighborAdvert {
                target_addr,
                target_lladdr,
                ..
            } => {
                self.counters.icmp6_in_neighbor_advertisements += 1;
                let target = IpAddr::V6(target_addr);
                // §7.2.5: an advertisement updates an entry we have or are
                // resolving; others are not ours to create.
                let wanted =
                    self.neighbors.contains_key(&target) || self.resolving.contains_key(&target);
                match target_lladdr {
                    Some(ll) if wanted => self.learn_neighbor(target, ll.0),
                    _ => self.counters.mptfo_rx_not_for_us += 1,
                }
            }
        }
    }

    /// Sends one ARP packet to `dst` from interface `iface`.
    fn send_arp(&mut self, iface: usize, dst: EthernetAddress, arp: &ArpRepr) -> bool {
        let Some(mut buf) = self.pool.pop() else {
            self.counters.mptfo_tx_no_buffer += 1;
            return false;
        };
        let Some(bytes) = buf.append(14 + ARP_ETHERNET_IPV4_LEN) else {
            self.counters.mptfo_tx_no_buffer += 1;
            return false;
        };
        let eth = EthernetRepr {
            src_addr: EthernetAddress(self.ifaces[iface].mac),
            dst_addr: dst,
            ethertype: EtherType::Arp,
        };
        let ok = eth
            .emit(&mut EthernetFrame::new_unchecked(&mut bytes[..]))
            .is_ok()
            && arp
                .emit(&mut ArpPacket::new_unchecked(&mut bytes[14..]))
                .is_ok();
        if !ok {
            return false;
        }
        buf.set_tx_offload(TxOffload::default());
        self.counters.mptfo_tx_packets += 1;
        self.counters.mptfo_tx_bytes += buf.len() as u64;
        self.queue_tx(iface, buf);
        true
    }

    /// Sends one neighbour-discovery message (hop limit 255, RFC 4861 §7.1)
    /// from `src` to `dst`, Ethernet destination `eth_dst`.
    fn send_nd(
        &mut self,
        iface: usize,
        eth_dst: EthernetAddress,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        msg: &Icmpv6Repr,
    ) -> bool {
        let len = msg.buffer_len();
        let Some(mut buf) = self.pool.pop() else {
            self.counters.mptfo_tx_no_buffer += 1;
            return false;
        };
        let Some(bytes) = buf.append(14 + IPV6_HEADER_LEN + len) else {
            self.counters.mptfo_tx_no_buffer += 1;
            return false;
        };
        let eth = EthernetRepr {
            src_addr: EthernetAddress(self.ifaces[iface].mac),
            dst_addr: eth_dst,
            ethertype: EtherType::Ipv6,
        };
        let ip = Ipv6Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Icmpv6,
            payload_len: len,
            hop_limit: 255,
            traffic_class: 0,
            flow_label: 0,
        };
        let ok = eth
            .emit(&mut EthernetFrame::new_unchecked(&mut bytes[..]))
            .is_ok()
            && ip
                .emit(&mut Ipv6Packet::new_unchecked(&mut bytes[14..]))
                .is_ok()
            && msg
                .emit(
                    &mut Icmpv6Packet::new_unchecked(&mut bytes[14 + IPV6_HEADER_LEN..]),
                    src,
                    dst,
                )
                .is_ok();
        if !ok {
            return false;
        }
        buf.set_tx_offload(TxOffload::default());
        self.counters.mptfo_tx_packets += 1;
        self.counters.mptfo_tx_bytes += buf.len() as u64;
        self.queue_tx(iface, buf);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solicited_node_address() {
        let t: Ipv6Addr = "fe80::c9e:e8ff:fe84:a881".parse().unwrap();
        assert_eq!(
            solicited_node(t),
            "ff02::1:ff84:a881".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            EthernetAddress::from_ipv6_multicast(solicited_node(t)).0,
            [0x33, 0x33, 0xff, 0x84, 0xa8, 0x81]
        );
    }

    #[test]
    fn addresses_of_frames() {
        let mut f = vec![0u8; 54];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[26..30].copy_from_slice(&[10, 0, 1, 1]);
        f[30..34].copy_from_slice(&[10, 0, 1, 2]);
        assert_eq!(
            frame_addrs(&f),
            Some((
                IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)),
                IpAddr::V4(Ipv4Addr::new(10, 0, 1, 2))
            ))
        );
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f[22..38].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
        f[38..54].copy_from_slice(&Ipv6Addr::UNSPECIFIED.octets());
        assert_eq!(
            frame_addrs(&f),
            Some((
                IpAddr::V6(Ipv6Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            ))
        );
        assert_eq!(frame_addrs(&f[..40]), None);
        assert!(!usable_mac([0; 6]));
        assert!(!usable_mac([0xff; 6]));
        assert!(usable_mac([0x02, 0, 0, 0, 0, 1]));
    }
}
