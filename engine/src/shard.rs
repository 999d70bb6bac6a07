//! Sharding: which core owns a flow.
//!
//! One function, [`core_of`], maps a TCP 4-tuple to a core, the way a NIC
//! does for receive-side scaling: a Toeplitz hash over (source address,
//! destination address, source port, destination port) with the symmetric
//! key ([`SYMMETRIC_KEY`], `0x6d5a` repeated: both directions of a flow hash
//! alike), then a 128-entry redirection table filled round-robin (entry `i`
//! is core `i % n`, DPDK's default RETA), indexed by the hash's low 7 bits.
//!
//! Ports that cannot do RSS get the same answer in software: the worker
//! that receives a frame classifies it ([`classify_frame`]) and hands it to
//! the core [`core_of`] names. Active opens choose a source port with
//! [`port_for_core`], so that the replies hash back to the opening core.
//!
//! MP_JOIN SYNs are the exception: a join's 4-tuple is the peer's choice,
//! but the connection it joins lives on the core its token names (each
//! core draws keys with `token % n == core`). [`classify_frame`] tells
//! such a SYN apart ([`FrameClass::JoinSyn`], with the token; the option
//! walk runs only for a SYN without ACK) and [`join_owner`] names the core.

use std::net::{IpAddr, SocketAddr};

/// The symmetric Toeplitz key: `0x6d5a` repeated, 40 bytes (enough for an
/// IPv6 4-tuple). With a key of period 16 bits, swapping the addresses and
/// the ports (both fields of the same width, at 16-bit-aligned offsets)
/// leaves the hash unchanged.
pub const SYMMETRIC_KEY: [u8; 40] = {
    let mut k = [0u8; 40];
    let mut i = 0;
    while i < 40 {
        k[i] = if i % 2 == 0 { 0x6d } else { 0x5a };
        i += 1;
    }
    k
};

/// Microsoft's RSS verification key (the one the published test vectors
/// use; many NICs' default).
pub const MICROSOFT_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// Entries of the redirection table (what most NICs have, and DPDK's
/// `RTE_ETH_RSS_RETA_SIZE_128`).
pub const RETA_SIZE: usize = 128;

/// The ephemeral port range [`port_for_core`] searches by default (Linux's
/// `ip_local_port_range`, the engine's).
pub const EPHEMERAL: core::ops::RangeInclusive<u16> = 32768..=60999;

/// The Toeplitz hash of `input` with `key` (which must be at least
/// `input.len() + 4` bytes long).
///
/// For every set bit `i` of the input (most significant bit of byte 0
/// first), the 32 key bits starting at bit `i` are XORed into the result.
pub fn toeplitz(key: &[u8], input: &[u8]) -> u32 {
    debug_assert!(key.len() >= input.len() + 4);
    let mut hash = 0u32;
    // The key window: 64 bits, of which the top 32 are the current ones.
    let mut window = u64::from(u32::from_be_bytes([key[0], key[1], key[2], key[3]])) << 32;
    for (next, &byte) in (4..).zip(input) {
        if let Some(&k) = key.get(next) {
            window |= u64::from(k) << 24;
        }
        for bit in (0..8).rev() {
            if byte & (1 << bit) != 0 {
                hash ^= (window >> 32) as u32;
            }
            window <<= 1;
        }
    }
    hash
}

/// A TCP flow as seen in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tuple {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
}

impl Tuple {
    /// The tuple of `src` → `dst`.
    pub fn new(src: SocketAddr, dst: SocketAddr) -> Tuple {
        Tuple { src, dst }
    }

    /// The other direction.
    pub fn reversed(self) -> Tuple {
        Tuple {
            src: self.dst,
            dst: self.src,
        }
    }
}

/// The Toeplitz hash of a 4-tuple under `key`, laid out as NICs do for
/// "IPv4/IPv6 with TCP": source address, destination address, source port,
/// destination port, all in network byte order. A tuple mixing families
/// hashes its IPv4 side as an IPv4-mapped IPv6 address.
pub fn hash_tuple(key: &[u8; 40], t: &Tuple) -> u32 {
    let mut buf = [0u8; 36];
    let n = tuple_bytes(t, &mut buf);
    toeplitz(key, &buf[..n])
}

/// The hash input of a tuple; returns its length (12 or 36).
fn tuple_bytes(t: &Tuple, buf: &mut [u8; 36]) -> usize {
    let n = match (t.src.ip(), t.dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            buf[0..4].copy_from_slice(&s.octets());
            buf[4..8].copy_from_slice(&d.octets());
            8
        }
        (s, d) => {
            buf[0..16].copy_from_slice(&v6_octets(s));
            buf[16..32].copy_from_slice(&v6_octets(d));
            32
        }
    };
    buf[n..n + 2].copy_from_slice(&t.src.port().to_be_bytes());
    buf[n + 2..n + 4].copy_from_slice(&t.dst.port().to_be_bytes());
    n + 4
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// Per input byte, its contribution to the symmetric-key hash: with a key
/// of period 16 bits, the key window of a bit depends only on the bit's
/// offset modulo 16, so a byte's share depends on its value and on whether
/// it sits at an even or odd offset. `SYM_TABLE[parity][byte]`.
static SYM_TABLE: [[u32; 256]; 2] = {
    let mut t = [[0u32; 256]; 2];
    let mut parity = 0;
    while parity < 2 {
        let mut b = 0;
        while b < 256 {
            let mut h = 0u32;
            let mut bit = 0;
            while bit < 8 {
                if b & (0x80 >> bit) != 0 {
                    h ^= 0x6d5a_6d5au32.rotate_left((parity * 8 + bit) as u32);
                }
                bit += 1;
            }
            t[parity][b] = h;
            b += 1;
        }
        parity += 1;
    }
    t
};

/// The Toeplitz hash of `input` under [`SYMMETRIC_KEY`], by table (one
/// lookup per byte); equal to `toeplitz(&SYMMETRIC_KEY, input)`.
pub fn toeplitz_symmetric(input: &[u8]) -> u32 {
    let mut h = 0u32;
    for (i, &b) in input.iter().enumerate() {
        h ^= SYM_TABLE[i & 1][usize::from(b)];
    }
    h
}

/// The symmetric hash of a 4-tuple (the same for both directions).
pub fn flow_hash(t: &Tuple) -> u32 {
    let mut buf = [0u8; 36];
    let n = tuple_bytes(t, &mut buf);
    toeplitz_symmetric(&buf[..n])
}

/// The core of `n_cores` that owns the flow: entry `hash % 128` of a
/// redirection table filled round-robin (entry `i` → core `i % n_cores`).
/// Always 0 for `n_cores <= 1`.
pub fn core_of(t: &Tuple, n_cores: usize) -> usize {
    if n_cores <= 1 {
        return 0;
    }
    core_of_hash(flow_hash(t), n_cores)
}

/// The redirection step alone: the core of a flow with symmetric hash
/// `hash`.
pub fn core_of_hash(hash: u32, n_cores: usize) -> usize {
    if n_cores <= 1 {
        return 0;
    }
    (hash as usize % RETA_SIZE) % n_cores
}

/// An ephemeral source port for a connection from `local` to `remote`
/// whose flow maps to `core` of `n_cores`: the first one at or after
/// `start` in [`EPHEMERAL`] (wrapping around), or `None` when no port of
/// the range does (only when `core >= n_cores`, in practice).
pub fn port_for_core(
    local: IpAddr,
    remote: SocketAddr,
    core: usize,
    n_cores: usize,
    start: u16,
) -> Option<u16> {
    port_for_core_in(local, remote, core, n_cores, start, EPHEMERAL)
}

/// [`port_for_core`] over an explicit port range.
pub fn port_for_core_in(
    local: IpAddr,
    remote: SocketAddr,
    core: usize,
    n_cores: usize,
    start: u16,
    range: core::ops::RangeInclusive<u16>,
) -> Option<u16> {
    let (lo, hi) = (u32::from(*range.start()), u32::from(*range.end()));
    if lo > hi || core >= n_cores.max(1) {
        return None;
    }
    let span = hi - lo + 1;
    let first = u32::from(start).clamp(lo, hi) - lo;
    (0..span)
        .map(|i| (lo + (first + i) % span) as u16)
        .find(|&p| core_of(&Tuple::new(SocketAddr::new(local, p), remote), n_cores) == core)
}

/// The core of `n_cores` that owns the MPTCP connection with `token`
/// (each core draws its keys so that `token % n_cores` names it). Always 0
/// for `n_cores <= 1`.
pub fn join_owner(token: u32, n_cores: usize) -> usize {
    if n_cores <= 1 {
        return 0;
    }
    token as usize % n_cores
}

/// TCP flag FIN (the flags byte of [`FrameClass::Tcp`]).
pub const TCP_FIN: u8 = 0x01;
/// TCP flag SYN.
pub const TCP_SYN: u8 = 0x02;
/// TCP flag RST.
pub const TCP_RST: u8 = 0x04;
/// TCP flag ACK.
pub const TCP_ACK: u8 = 0x10;

/// What a received Ethernet frame is, as far as steering cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameClass {
    /// A TCP segment of this flow (as received: `src` is the peer) and its
    /// flags byte (0 when the header is cut short).
    Tcp(Tuple, u8),
    /// A TCP SYN without ACK that carries an MP_JOIN option (RFC 8684
    /// §3.2): a new subflow of the connection with this token, owned by
    /// core [`join_owner`].
    JoinSyn(Tuple, u32),
    /// ARP, or ICMPv6 neighbour discovery: every core's neighbour table
    /// may want it.
    Neighbor,
    /// Anything else (handled where it was received).
    Other,
}

const ETH_HLEN: usize = 14;

/// A minimal parse of an Ethernet frame (one optional 802.1Q tag; IPv6
/// extension headers are not walked: such frames are `Other`).
pub fn classify_frame(f: &[u8]) -> FrameClass {
    classify::<true>(f)
}

/// [`classify_frame`] without the join step: every TCP segment is
/// [`FrameClass::Tcp`], with flags 0 (its flags are not read, its
/// options not walked). For a single core, or as the reference the join
/// step's cost is measured against.
pub fn classify_frame_by_tuple(f: &[u8]) -> FrameClass {
    classify::<false>(f)
}

fn classify<const JOINS: bool>(f: &[u8]) -> FrameClass {
    if f.len() < ETH_HLEN {
        return FrameClass::Other;
    }
    let mut ethertype = u16::from_be_bytes([f[12], f[13]]);
    let mut off = ETH_HLEN;
    if ethertype == 0x8100 && f.len() >= off + 4 {
        ethertype = u16::from_be_bytes([f[off + 2], f[off + 3]]);
        off += 4;
    }
    let ip = &f[off..];
    match ethertype {
        0x0806 => FrameClass::Neighbor,
        0x0800 => {
            if ip.len() < 20 || ip[0] >> 4 != 4 {
                return FrameClass::Other;
            }
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            // A fragment other than the first has no TCP header.
            let frag_off = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
            if ip[9] != 6 || ihl < 20 || frag_off != 0 || ip.len() < ihl + 4 {
                return FrameClass::Other;
            }
            let s = IpAddr::from([ip[12], ip[13], ip[14], ip[15]]);
            let d = IpAddr::from([ip[16], ip[17], ip[18], ip[19]]);
            tcp_tuple::<JOINS>(s, d, &ip[ihl..])
        }
        0x86dd => {
            if ip.len() < 40 || ip[0] >> 4 != 6 {
                return FrameClass::Other;
            }
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&ip[8..24]);
            d.copy_from_slice(&ip[24..40]);
            match ip[6] {
                6 => tcp_tuple::<JOINS>(IpAddr::from(s), IpAddr::from(d), &ip[40..]),
                // ICMPv6 types 133..=137: router/neighbour discovery.
                58 if ip.len() > 40 && (133..=137).contains(&ip[40]) => FrameClass::Neighbor,
                _ => FrameClass::Other,
            }
        }
        _ => FrameClass::Other,
    }
}

fn tcp_tuple<const JOINS: bool>(s: IpAddr, d: IpAddr, tcp: &[u8]) -> FrameClass {
    if tcp.len() < 4 {
        return FrameClass::Other;
    }
    let sp = u16::from_be_bytes([tcp[0], tcp[1]]);
    let dp = u16::from_be_bytes([tcp[2], tcp[3]]);
    let tuple = Tuple::new(SocketAddr::new(s, sp), SocketAddr::new(d, dp));
    if !JOINS {
        return FrameClass::Tcp(tuple, 0);
    }
    let flags = tcp.get(13).copied().unwrap_or(0);
    // Only a SYN without ACK (or RST) can open a join: every other segment
    // pays this one test and no option walk.
    if flags & (TCP_SYN | TCP_ACK | TCP_RST) == TCP_SYN {
        if let Some(token) = mp_join_token(tcp) {
            return FrameClass::JoinSyn(tuple, token);
        }
    }
    FrameClass::Tcp(tuple, flags)
}

/// The receiver's token of the SYN form of MP_JOIN (kind 30, subtype 1,
/// length 12) among the options of TCP header `tcp`, if it has one. A
/// malformed option list (a length below 2, or past the header) ends the
/// walk: `None`.
pub fn mp_join_token(tcp: &[u8]) -> Option<u32> {
    let doff = usize::from(*tcp.get(12)? >> 4) * 4;
    let opts = tcp.get(20..doff.min(tcp.len()))?;
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return None,
            1 => i += 1,
            kind => {
                let len = usize::from(*opts.get(i + 1)?);
                if len < 2 || i + len > opts.len() {
                    return None;
                }
                if kind == 30 && len == 12 && opts[i + 2] >> 4 == 1 {
                    let t = &opts[i + 4..i + 8];
                    return Some(u32::from_be_bytes([t[0], t[1], t[2], t[3]]));
                }
                i += len;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// The RSS verification suite (Microsoft, "Verifying the RSS Hash
    /// Calculation"): destination, source, IPv4/IPv6 only, with TCP.
    const V4: [(&str, &str, u32, u32); 5] = [
        (
            "161.142.100.80:1766",
            "66.9.149.187:2794",
            0x323e8fc2,
            0x51ccc178,
        ),
        (
            "65.69.140.83:4739",
            "199.92.111.2:14230",
            0xd718262a,
            0xc626b0ea,
        ),
        (
            "12.22.207.184:38024",
            "24.19.198.95:12898",
            0xd2d0a5de,
            0x5c2b394a,
        ),
        (
            "209.142.163.6:2217",
            "38.27.205.30:48228",
            0x82989176,
            0xafc7327f,
        ),
        (
            "202.188.127.2:1303",
            "153.39.163.191:44251",
            0x5d1809c5,
            0x10e828a2,
        ),
    ];

    const V6: [(&str, &str, u32, u32); 3] = [
        (
            "[3ffe:2501:200:3::1]:1766",
            "[3ffe:2501:200:1fff::7]:2794",
            0x2cc18cd5,
            0x40207d3d,
        ),
        (
            "[ff02::1]:4739",
            "[3ffe:501:8::260:97ff:fe40:efab]:14230",
            0x0f0c461c,
            0xdde51bbf,
        ),
        (
            "[fe80::200:f8ff:fe21:67cf]:38024",
            "[3ffe:1900:4545:3:200:f8ff:fe21:67cf]:44251",
            0x4b61e985,
            0x02d1feef,
        ),
    ];

    fn ip_only(key: &[u8; 40], src: SocketAddr, dst: SocketAddr) -> u32 {
        let mut b = Vec::new();
        for a in [src.ip(), dst.ip()] {
            match a {
                IpAddr::V4(a) => b.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => b.extend_from_slice(&a.octets()),
            }
        }
        toeplitz(key, &b)
    }

    #[test]
    fn microsoft_vectors_ipv4() {
        for (dst, src, ip, tcp) in V4 {
            let t = Tuple::new(sa(src), sa(dst));
            assert_eq!(ip_only(&MICROSOFT_KEY, t.src, t.dst), ip, "{src} -> {dst}");
            assert_eq!(hash_tuple(&MICROSOFT_KEY, &t), tcp, "{src} -> {dst}");
        }
    }

    #[test]
    fn microsoft_vectors_ipv6() {
        for (dst, src, ip, tcp) in V6 {
            let t = Tuple::new(sa(src), sa(dst));
            assert_eq!(ip_only(&MICROSOFT_KEY, t.src, t.dst), ip, "{src} -> {dst}");
            assert_eq!(hash_tuple(&MICROSOFT_KEY, &t), tcp, "{src} -> {dst}");
        }
    }

    #[test]
    fn microsoft_key_is_not_symmetric() {
        let (dst, src, _, _) = V4[0];
        let t = Tuple::new(sa(src), sa(dst));
        assert_ne!(
            hash_tuple(&MICROSOFT_KEY, &t),
            hash_tuple(&MICROSOFT_KEY, &t.reversed())
        );
    }

    #[test]
    fn symmetric_key_layout() {
        assert_eq!(&SYMMETRIC_KEY[..4], &[0x6d, 0x5a, 0x6d, 0x5a]);
        assert_eq!(SYMMETRIC_KEY[39], 0x5a);
    }

    #[test]
    fn core_of_spreads_and_stays_in_range() {
        let server = sa("10.0.1.12:8080");
        let mut seen = [0usize; 4];
        for p in 40000..40400u16 {
            let t = Tuple::new(SocketAddr::new("10.0.1.1".parse().unwrap(), p), server);
            let c = core_of(&t, 4);
            assert_eq!(c, core_of(&t.reversed(), 4));
            seen[c] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
        assert_eq!(core_of(&Tuple::new(server, server), 1), 0);
    }

    #[test]
    fn ports_for_cores() {
        let local: IpAddr = "10.0.1.2".parse().unwrap();
        let remote = sa("10.0.1.12:8080");
        for n in 1..=5 {
            for core in 0..n {
                let p = port_for_core(local, remote, core, n, 40000).unwrap();
                assert!(EPHEMERAL.contains(&p));
                let t = Tuple::new(SocketAddr::new(local, p), remote);
                assert_eq!(core_of(&t, n), core);
                // The reply direction, as the receiving worker sees it.
                assert_eq!(core_of(&t.reversed(), n), core);
            }
        }
        assert_eq!(port_for_core(local, remote, 2, 2, 40000), None);
        // Wraps around the end of the range.
        let p = port_for_core_in(local, remote, 1, 2, 65535, 65000..=65535).unwrap();
        assert!((65000..=65535).contains(&p));
    }

    fn v4_frame(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        f[14 + 9] = 6;
        if let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip(), dst.ip()) {
            f[26..30].copy_from_slice(&s.octets());
            f[30..34].copy_from_slice(&d.octets());
        }
        f[34..36].copy_from_slice(&src.port().to_be_bytes());
        f[36..38].copy_from_slice(&dst.port().to_be_bytes());
        f
    }

    #[test]
    fn classifies_frames() {
        let (s, d) = (sa("10.0.1.1:40000"), sa("10.0.1.12:8080"));
        assert_eq!(
            classify_frame(&v4_frame(s, d)),
            FrameClass::Tcp(Tuple::new(s, d), 0)
        );
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert_eq!(classify_frame(&arp), FrameClass::Neighbor);
        let mut udp = v4_frame(s, d);
        udp[14 + 9] = 17;
        assert_eq!(classify_frame(&udp), FrameClass::Other);
        assert_eq!(classify_frame(&[0u8; 10]), FrameClass::Other);
        let mut ns = vec![0u8; 14 + 40 + 24];
        ns[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
        ns[14] = 0x60;
        ns[14 + 6] = 58;
        ns[54] = 135;
        assert_eq!(classify_frame(&ns), FrameClass::Neighbor);
    }

    /// A SYN from `src` to `dst` with the options of a Linux 6.18 MP_JOIN
    /// SYN (MSS, SACK permitted, timestamps, NOP, window scale, MP_JOIN)
    /// and the given flags.
    fn join_syn(src: SocketAddr, dst: SocketAddr, token: u32, flags: u8) -> Vec<u8> {
        let mut f = v4_frame(src, dst);
        let mut opts = vec![2, 4, 0x05, 0xb4, 4, 2, 8, 10];
        opts.extend_from_slice(&[0; 8]);
        opts.extend_from_slice(&[1, 3, 3, 7]);
        opts.extend_from_slice(&[30, 12, 0x10, 2]);
        opts.extend_from_slice(&token.to_be_bytes());
        opts.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        assert_eq!(opts.len(), 32);
        f.extend_from_slice(&opts);
        f[34 + 12] = (52 / 4) << 4;
        f[34 + 13] = flags;
        f
    }

    #[test]
    fn classifies_join_syns() {
        let (s, d) = (sa("10.0.2.1:51000"), sa("10.0.1.12:8080"));
        let t = Tuple::new(s, d);
        let token = 0xdead_beef;
        assert_eq!(
            classify_frame(&join_syn(s, d, token, TCP_SYN)),
            FrameClass::JoinSyn(t, token)
        );
        assert_eq!(join_owner(token, 2), (token % 2) as usize);
        assert_eq!(join_owner(token, 1), 0);
        // The SYN/ACK and the third ACK carry MP_JOIN too, but are
        // ordinary segments of a flow.
        let synack = join_syn(s, d, token, TCP_SYN | TCP_ACK);
        assert_eq!(
            classify_frame(&synack),
            FrameClass::Tcp(t, TCP_SYN | TCP_ACK)
        );
        // An MP_CAPABLE SYN (subtype 0) is not a join.
        let mut capable = join_syn(s, d, token, TCP_SYN);
        capable[54 + 22] = 0x01;
        assert_eq!(classify_frame(&capable), FrameClass::Tcp(t, TCP_SYN));
        // Malformed option lists end the walk: no token, no panic.
        let mut zero_len = join_syn(s, d, token, TCP_SYN);
        zero_len[54 + 1] = 0;
        assert_eq!(classify_frame(&zero_len), FrameClass::Tcp(t, TCP_SYN));
        let mut too_long = join_syn(s, d, token, TCP_SYN);
        too_long[54 + 20 + 1] = 40;
        assert_eq!(classify_frame(&too_long), FrameClass::Tcp(t, TCP_SYN));
        // A data offset past the frame: the options present are walked.
        let mut cut = join_syn(s, d, token, TCP_SYN);
        cut.truncate(54 + 24);
        assert_eq!(classify_frame(&cut), FrameClass::Tcp(t, TCP_SYN));
        let mut short_doff = join_syn(s, d, token, TCP_SYN);
        short_doff[34 + 12] = 4 << 4;
        assert_eq!(classify_frame(&short_doff), FrameClass::Tcp(t, TCP_SYN));
        // Without the join step: a tuple, nothing more.
        assert_eq!(
            classify_frame_by_tuple(&join_syn(s, d, token, TCP_SYN)),
            FrameClass::Tcp(t, 0)
        );
        // Every truncation of a join SYN classifies without panicking.
        let full = join_syn(s, d, token, TCP_SYN);
        for n in 0..full.len() {
            let _ = classify_frame(&full[..n]);
        }
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn symmetric_v4(a: [u8; 4], b: [u8; 4], p: u16, q: u16) {
                let t = Tuple::new(
                    SocketAddr::new(IpAddr::from(a), p),
                    SocketAddr::new(IpAddr::from(b), q),
                );
                prop_assert_eq!(flow_hash(&t), flow_hash(&t.reversed()));
                prop_assert_eq!(core_of(&t, 3), core_of(&t.reversed(), 3));
            }

            #[test]
            fn table_equals_bitwise(a: [u8; 16], b: [u8; 16], p: u16, q: u16, v4: bool) {
                let t = if v4 {
                    Tuple::new(
                        SocketAddr::new(IpAddr::from([a[0], a[1], a[2], a[3]]), p),
                        SocketAddr::new(IpAddr::from([b[0], b[1], b[2], b[3]]), q),
                    )
                } else {
                    Tuple::new(
                        SocketAddr::new(IpAddr::from(a), p),
                        SocketAddr::new(IpAddr::from(b), q),
                    )
                };
                prop_assert_eq!(flow_hash(&t), hash_tuple(&SYMMETRIC_KEY, &t));
            }

            #[test]
            fn symmetric_v6(a: [u8; 16], b: [u8; 16], p: u16, q: u16) {
                let t = Tuple::new(
                    SocketAddr::new(IpAddr::from(a), p),
                    SocketAddr::new(IpAddr::from(b), q),
                );
                prop_assert_eq!(flow_hash(&t), flow_hash(&t.reversed()));
                prop_assert_eq!(core_of(&t, 7), core_of(&t.reversed(), 7));
            }
        }
    }
}
