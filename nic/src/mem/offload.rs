//! The few header bytes a simulated NIC reads: to fill in checksums a
//! sender asked it to compute, and to report receive-checksum results.
//!
//! Everything is bounds-checked: a frame too short for what its offload
//! request claims is passed on untouched (garbage in, garbage out, as on
//! hardware), never a panic.

use crate::buf::{ChecksumStatus, RxFlags, TxOffload};
use mptfo_proto::checksum::{checksum, ChecksumCaps, Sum, IPPROTO_TCP};

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETH_HEADER_LEN: usize = 14;

fn be16(frame: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]))
}

/// Fills in the checksums that `offload` asks for and `caps` says the NIC
/// computes, as a NIC does on the way out: the IPv4 header checksum from
/// scratch, the TCP checksum over the segment whose checksum field already
/// holds the pseudo-header sum.
pub(crate) fn fill_tx_checksums(frame: &mut [u8], offload: TxOffload, caps: ChecksumCaps) {
    let l3 = offload.l2_len as usize;
    let l4 = l3 + offload.l3_len as usize;
    if offload.ipv4_checksum && !caps.ipv4.compute_tx() && offload.l3_len >= 20 && l4 <= frame.len()
    {
        frame[l3 + 10..l3 + 12].fill(0);
        let c = checksum(&frame[l3..l4]);
        frame[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    }
    if offload.tcp_checksum && !caps.tcp.compute_tx() {
        // The end of the segment comes from the IP length field, so that
        // padding after the IP packet is not summed.
        let end = match frame.get(l3).map(|b| b >> 4) {
            Some(4) => be16(frame, l3 + 2).map(|total| l3 + total as usize),
            Some(6) => be16(frame, l3 + 4).map(|payload| l3 + 40 + payload as usize),
            _ => None,
        };
        let Some(end) = end else { return };
        if end > frame.len() || l4 + 20 > end {
            return;
        }
        let c = !Sum::of(&frame[l4..end]).fold();
        frame[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
    }
}

/// The receive flags a NIC with `caps` reports for `frame`. A mem link never
/// corrupts a frame, so what it offloads it reports as good without summing;
/// a frame it does not recognise (not Ethernet + IPv4/IPv6 + TCP) is unknown.
pub(crate) fn rx_flags_for(frame: &[u8], caps: ChecksumCaps) -> RxFlags {
    let mut flags = RxFlags::default();
    let l3 = ETH_HEADER_LEN;
    match be16(frame, 12) {
        Some(ETHERTYPE_IPV4) => {
            if !caps.ipv4.verify_rx() {
                flags.ip_checksum = ChecksumStatus::Good;
            }
            if !caps.tcp.verify_rx() && frame.get(l3 + 9) == Some(&IPPROTO_TCP) {
                flags.l4_checksum = ChecksumStatus::Good;
            }
        }
        Some(ETHERTYPE_IPV6)
            if !caps.tcp.verify_rx() && frame.get(l3 + 6) == Some(&IPPROTO_TCP) =>
        {
            flags.l4_checksum = ChecksumStatus::Good;
        }
        _ => {}
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;
    use mptfo_proto::checksum::pseudo_header_v4;

    /// Ethernet + IPv4 + TCP (20-byte header) + "hi", all checksums zero.
    fn frame() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20 + 2];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&42u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = IPPROTO_TCP;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let tcp = &mut f[34..54];
        tcp[0..2].copy_from_slice(&1234u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = 0x18;
        f[54..56].copy_from_slice(b"hi");
        f
    }

    const OFFLOAD: TxOffload = TxOffload {
        l2_len: 14,
        l3_len: 20,
        ipv4_checksum: true,
        tcp_checksum: true,
    };

    #[test]
    fn fills_ipv4_and_tcp_checksums_from_pseudo_header_seed() {
        let mut f = frame();
        let seed = pseudo_header_v4(
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            IPPROTO_TCP,
            22,
        )
        .fold();
        f[34 + 16..34 + 18].copy_from_slice(&seed.to_be_bytes());
        fill_tx_checksums(&mut f, OFFLOAD, ChecksumCaps::OFFLOADED);
        assert!(Sum::of(&f[14..34]).verifies());
        let pseudo = pseudo_header_v4(
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            IPPROTO_TCP,
            22,
        );
        assert!(pseudo.add(Sum::of(&f[34..])).verifies());
    }

    #[test]
    fn software_caps_leave_the_frame_alone() {
        let mut f = frame();
        let before = f.clone();
        fill_tx_checksums(&mut f, OFFLOAD, ChecksumCaps::SOFTWARE);
        assert_eq!(f, before);
    }

    #[test]
    fn short_frames_do_not_panic() {
        let f = frame();
        for len in 0..f.len() {
            let mut g = f[..len].to_vec();
            fill_tx_checksums(&mut g, OFFLOAD, ChecksumCaps::OFFLOADED);
            let _ = rx_flags_for(&g, ChecksumCaps::OFFLOADED);
        }
    }

    #[test]
    fn rx_flags_follow_caps_and_frame_type() {
        let f = frame();
        let good = rx_flags_for(&f, ChecksumCaps::OFFLOADED);
        assert_eq!(good.ip_checksum, ChecksumStatus::Good);
        assert_eq!(good.l4_checksum, ChecksumStatus::Good);
        assert_eq!(rx_flags_for(&f, ChecksumCaps::SOFTWARE), RxFlags::default());
        let mut arp = f.clone();
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert_eq!(
            rx_flags_for(&arp, ChecksumCaps::OFFLOADED),
            RxFlags::default()
        );
    }
}
