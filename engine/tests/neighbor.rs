//! ARP (RFC 826) and IPv6 neighbour discovery (RFC 4861) at the stack, one
//! stack against hand-built frames: answering for our addresses, learning
//! peers, resolving a peer before the first segment goes out, static
//! neighbours that nothing overrides, and the bounded retry.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use common::*;
use mptfo_engine::config::StackConfig;
use mptfo_engine::stack::{ConnectOptions, Interface};
use mptfo_proto::checksum::ChecksumCaps;
use mptfo_proto::wire::{
    classify, ArpOperation, ArpPacket, ArpRepr, Classified, EtherType, EthernetAddress,
    EthernetFrame, EthernetRepr, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6Packet, Ipv6Repr,
    NdFlags, TcpFlags,
};

const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const PEER_MAC: [u8; 6] = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x02];

fn our_ip6() -> Ipv6Addr {
    "fd00::1".parse().unwrap()
}

fn peer_ip6() -> Ipv6Addr {
    "fd00::2".parse().unwrap()
}

/// A stack with no default peer: every next hop must be resolved.
fn solo(addrs: Vec<IpAddr>, seed: u64) -> Solo {
    Solo::with_iface(
        StackConfig::default(),
        Interface {
            mac: OUR_MAC,
            addrs,
            default_peer_mac: [0; 6],
            checksum: ChecksumCaps::SOFTWARE,
        },
        seed,
    )
}

fn arp_frame(eth_dst: [u8; 6], arp: &ArpRepr) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 28];
    EthernetRepr {
        src_addr: arp.source_hardware_addr,
        dst_addr: EthernetAddress(eth_dst),
        ethertype: EtherType::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]))
    .unwrap();
    arp.emit(&mut ArpPacket::new_unchecked(&mut f[14..]))
        .unwrap();
    f
}

fn nd_frame(eth_dst: [u8; 6], src: Ipv6Addr, dst: Ipv6Addr, msg: &Icmpv6Repr) -> Vec<u8> {
    let len = msg.buffer_len();
    let mut f = vec![0u8; 14 + 40 + len];
    EthernetRepr {
        src_addr: EthernetAddress(PEER_MAC),
        dst_addr: EthernetAddress(eth_dst),
        ethertype: EtherType::Ipv6,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]))
    .unwrap();
    Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Icmpv6,
        payload_len: len,
        hop_limit: 255,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut Ipv6Packet::new_unchecked(&mut f[14..]))
    .unwrap();
    msg.emit(&mut Icmpv6Packet::new_unchecked(&mut f[54..]), src, dst)
        .unwrap();
    f
}

fn eth_dst(f: &[u8]) -> [u8; 6] {
    f[..6].try_into().unwrap()
}

fn eth_src(f: &[u8]) -> [u8; 6] {
    f[6..12].try_into().unwrap()
}

/// The ARP packets among `frames`.
fn arps(frames: &[Vec<u8>]) -> Vec<(Vec<u8>, ArpRepr)> {
    frames
        .iter()
        .filter_map(|f| match classify(f, &ChecksumCaps::SOFTWARE) {
            Ok(Classified::Arp(a)) => Some((f.clone(), a)),
            _ => None,
        })
        .collect()
}

/// The neighbour-discovery messages among `frames`, parsed (the parse
/// verifies the ICMPv6 checksum and the hop limit 255).
fn nds(frames: &[Vec<u8>]) -> Vec<(Vec<u8>, Ipv6Addr, Ipv6Addr, Icmpv6Repr)> {
    frames
        .iter()
        .filter_map(|f| match classify(f, &ChecksumCaps::SOFTWARE) {
            Ok(Classified::NeighborDiscovery {
                src_addr,
                dst_addr,
                repr,
                ..
            }) => Some((f.clone(), src_addr, dst_addr, repr)),
            _ => None,
        })
        .collect()
}

/// The TCP segments among `frames`, with their Ethernet destination.
fn tcp(frames: &[Vec<u8>]) -> Vec<([u8; 6], Pkt)> {
    frames
        .iter()
        .filter_map(|f| Pkt::decode(0, Side::Client, 0, false, f).map(|p| (eth_dst(f), p)))
        .collect()
}

/// RFC 826: a request for our address gets a reply from our interface
/// address, to the requester, and the requester is learned.
#[test]
fn arp_request_for_our_address_is_answered() {
    let mut s = solo(vec![IpAddr::V4(SERVER_IP)], 91);
    let req = ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: EthernetAddress(PEER_MAC),
        source_protocol_addr: CLIENT_IP,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: SERVER_IP,
    };
    s.inject(&arp_frame([0xff; 6], &req));
    let replies = arps(&s.frames);
    assert_eq!(replies.len(), 1);
    let (f, rep) = &replies[0];
    assert_eq!(
        *rep,
        ArpRepr {
            operation: ArpOperation::Reply,
            source_hardware_addr: EthernetAddress(OUR_MAC),
            source_protocol_addr: SERVER_IP,
            target_hardware_addr: EthernetAddress(PEER_MAC),
            target_protocol_addr: CLIENT_IP,
        }
    );
    assert_eq!((eth_dst(f), eth_src(f)), (PEER_MAC, OUR_MAC));
    assert_eq!(s.stack.neighbor(IpAddr::V4(CLIENT_IP)), Some(PEER_MAC));
    // A request for another address is not answered, and its sender is
    // not learned (RFC 826: only known entries are merged).
    let other = ArpRepr {
        source_protocol_addr: Ipv4Addr::new(10, 0, 1, 9),
        target_protocol_addr: Ipv4Addr::new(10, 0, 1, 77),
        ..req
    };
    s.inject(&arp_frame([0xff; 6], &other));
    assert_eq!(arps(&s.frames).len(), 1);
    assert_eq!(
        s.stack.neighbor(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 9))),
        None
    );
    let k = s.stack.counters();
    assert_eq!((k.mptfo_arp_rx_requests, k.mptfo_arp_tx_replies), (2, 1));
}

/// A static neighbour stays what it was configured to be, whatever ARP
/// says.
#[test]
fn static_neighbor_is_not_overridden() {
    let mut s = solo(vec![IpAddr::V4(SERVER_IP)], 92);
    let fixed = [0x02, 0x11, 0x11, 0x11, 0x11, 0x11];
    s.stack.add_neighbor(IpAddr::V4(CLIENT_IP), fixed);
    let req = ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: EthernetAddress(PEER_MAC),
        source_protocol_addr: CLIENT_IP,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: SERVER_IP,
    };
    s.inject(&arp_frame([0xff; 6], &req));
    assert_eq!(arps(&s.frames).len(), 1, "still answered");
    assert_eq!(s.stack.neighbor(IpAddr::V4(CLIENT_IP)), Some(fixed));
}

/// RFC 4861 §7.2.4: a solicitation for our IPv6 address gets a solicited
/// advertisement (S and O set, our link-layer address as target option,
/// hop limit 255, checksum valid) back to the solicitor, whose address is
/// learned.
#[test]
fn neighbor_solicitation_for_our_address_is_answered() {
    let mut s = solo(vec![IpAddr::V6(our_ip6())], 93);
    let group: Ipv6Addr = "ff02::1:ff00:1".parse().unwrap();
    let ns = Icmpv6Repr::NeighborSolicit {
        target_addr: our_ip6(),
        source_lladdr: Some(EthernetAddress(PEER_MAC)),
    };
    s.inject(&nd_frame(
        [0x33, 0x33, 0xff, 0, 0, 1],
        peer_ip6(),
        group,
        &ns,
    ));
    let out = nds(&s.frames);
    assert_eq!(out.len(), 1);
    let (f, src, dst, na) = &out[0];
    assert_eq!((*src, *dst), (our_ip6(), peer_ip6()));
    assert_eq!(
        *na,
        Icmpv6Repr::NeighborAdvert {
            flags: NdFlags::SOLICITED | NdFlags::OVERRIDE,
            target_addr: our_ip6(),
            target_lladdr: Some(EthernetAddress(OUR_MAC)),
        }
    );
    assert_eq!((eth_dst(f), eth_src(f)), (PEER_MAC, OUR_MAC));
    assert_eq!(f[14 + 7], 255, "hop limit");
    let icmp = Icmpv6Packet::new_checked(&f[54..]).unwrap();
    assert!(icmp.verify_checksum(our_ip6(), peer_ip6()));
    assert_eq!(s.stack.neighbor(IpAddr::V6(peer_ip6())), Some(PEER_MAC));
    let k = s.stack.counters();
    assert_eq!(
        (
            k.icmp6_in_neighbor_solicits,
            k.icmp6_out_neighbor_advertisements
        ),
        (1, 1)
    );
}

/// A connection to a peer whose Ethernet address is unknown (no neighbour
/// entry, no default peer): an ARP request goes out first and the SYN waits;
/// the reply is learned and the SYN leaves for the learned address.
#[test]
fn connect_resolves_the_peer_with_arp_first() {
    let mut s = solo(vec![IpAddr::V4(CLIENT_IP)], 94);
    let c = s
        .stack
        .connect(server_addr(), &[], ConnectOptions::default())
        .unwrap();
    s.collect();
    assert!(tcp(&s.frames).is_empty(), "no segment before resolution");
    let reqs = arps(&s.frames);
    assert_eq!(reqs.len(), 1);
    let (f, req) = &reqs[0];
    assert_eq!(eth_dst(f), [0xff; 6]);
    assert_eq!(
        *req,
        ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress(OUR_MAC),
            source_protocol_addr: CLIENT_IP,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: SERVER_IP,
        }
    );
    let reply = ArpRepr {
        operation: ArpOperation::Reply,
        source_hardware_addr: EthernetAddress(PEER_MAC),
        source_protocol_addr: SERVER_IP,
        target_hardware_addr: EthernetAddress(OUR_MAC),
        target_protocol_addr: CLIENT_IP,
    };
    s.inject(&arp_frame(OUR_MAC, &reply));
    let segs = tcp(&s.frames);
    assert_eq!(segs.len(), 1);
    let (dst, syn) = &segs[0];
    assert!(syn.syn() && syn.ack.is_none());
    assert_eq!(syn.flags, TcpFlags::SYN);
    assert_eq!(*dst, PEER_MAC, "sent to the learned address");
    assert_eq!(s.stack.neighbor(IpAddr::V4(SERVER_IP)), Some(PEER_MAC));
    assert!(s.stack.mptcp_mode(c).is_some());
    let k = s.stack.counters();
    assert_eq!(
        (
            k.mptfo_arp_tx_requests,
            k.mptfo_arp_rx_replies,
            k.mptfo_neigh_queued
        ),
        (1, 1, 1)
    );
    // Later segments go straight out.
    let n = s.frames.len();
    s.advance_ms(1_000);
    let later = tcp(&s.frames[n..]);
    assert!(!later.is_empty(), "SYN retransmitted");
    assert!(later.iter().all(|(d, _)| *d == PEER_MAC));
    assert_eq!(arps(&s.frames).len(), 1, "no new request");
}

/// The same over IPv6: a neighbour solicitation to the peer's
/// solicited-node group, then the SYN once the advertisement arrived.
#[test]
fn connect_resolves_an_ipv6_peer_with_neighbor_solicitation() {
    let mut s = solo(vec![IpAddr::V6(our_ip6())], 95);
    s.stack
        .connect(
            SocketAddr::new(IpAddr::V6(peer_ip6()), PORT),
            &[],
            ConnectOptions::default(),
        )
        .unwrap();
    s.collect();
    assert!(tcp(&s.frames).is_empty());
    let out = nds(&s.frames);
    assert_eq!(out.len(), 1);
    let (f, src, dst, ns) = &out[0];
    let group: Ipv6Addr = "ff02::1:ff00:2".parse().unwrap();
    assert_eq!((*src, *dst), (our_ip6(), group));
    assert_eq!(eth_dst(f), [0x33, 0x33, 0xff, 0, 0, 2]);
    assert_eq!(
        *ns,
        Icmpv6Repr::NeighborSolicit {
            target_addr: peer_ip6(),
            source_lladdr: Some(EthernetAddress(OUR_MAC)),
        }
    );
    let na = Icmpv6Repr::NeighborAdvert {
        flags: NdFlags::SOLICITED | NdFlags::OVERRIDE,
        target_addr: peer_ip6(),
        target_lladdr: Some(EthernetAddress(PEER_MAC)),
    };
    s.inject(&nd_frame(OUR_MAC, peer_ip6(), our_ip6(), &na));
    let segs = tcp(&s.frames);
    assert_eq!(segs.len(), 1);
    assert!(segs[0].1.syn());
    assert_eq!(segs[0].0, PEER_MAC);
    let k = s.stack.counters();
    assert_eq!(
        (
            k.icmp6_out_neighbor_solicits,
            k.icmp6_in_neighbor_advertisements
        ),
        (1, 1)
    );
}

/// No answer: a request once a second (not one per waiting frame), three
/// in all, then the waiting frames are dropped and counted.
#[test]
fn unanswered_resolution_is_bounded() {
    let mut s = solo(vec![IpAddr::V4(CLIENT_IP)], 96);
    let c = s
        .stack
        .connect(server_addr(), &[], ConnectOptions::default())
        .unwrap();
    s.collect();
    // Another frame for the same peer inside the same second: queued, no
    // second request.
    s.stack.send(c, b"x").unwrap();
    s.collect();
    assert_eq!(arps(&s.frames).len(), 1);
    s.advance_ms(999);
    assert_eq!(arps(&s.frames).len(), 1, "rate-limited to one a second");
    s.advance_ms(1);
    assert_eq!(arps(&s.frames).len(), 2);
    s.advance_ms(1_000);
    assert_eq!(arps(&s.frames).len(), 3);
    assert_eq!(s.stack.counters().mptfo_neigh_unresolved, 0);
    s.advance_ms(1_000);
    assert_eq!(arps(&s.frames).len(), 3, "given up after three tries");
    assert!(s.stack.counters().mptfo_neigh_unresolved >= 1);
    assert!(tcp(&s.frames).is_empty());
}
