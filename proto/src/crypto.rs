//! MPTCP keys, tokens, IDSNs and HMACs (RFC 8684 §3.1, §3.2, §3.4.1, HMAC-SHA256).
//!
//! Owns: the 64-bit key type, the SHA-256 derivation of token and initial data
//! sequence number (IDSN), the MP_JOIN and ADD_ADDR HMACs, and drawing a fresh
//! key under the caller's constraints. Every multi-byte input is taken in
//! network order (big-endian), as on the wire. Nothing here allocates: keys and
//! messages are assembled in small stack arrays.
//!
//! Naming rule of the HMACs (protocol.md §3.3): the *sender's* key and nonce
//! always come first. `local` means "the side that sends the option"; to check
//! a received HMAC, call the same function with the peer as `local`.

use core::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::seq::DataSeq;

type HmacSha256 = Hmac<Sha256>;

/// A 64-bit MPTCP key, as carried by MP_CAPABLE (big-endian on the wire).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MptcpKey(pub u64);

impl core::fmt::Debug for MptcpKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "MptcpKey({:#018x})", self.0)
    }
}

impl MptcpKey {
    /// The key as 8 bytes in network order.
    #[inline]
    pub fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// Token of this key: the most significant 32 bits of SHA-256(key).
    #[inline]
    pub fn token(self) -> u32 {
        token(self)
    }

    /// IDSN of this key: the least significant 64 bits of SHA-256(key).
    #[inline]
    pub fn idsn(self) -> DataSeq {
        idsn(self)
    }

    /// Key, token and IDSN, with a single hash.
    #[inline]
    pub fn material(self) -> KeyMaterial {
        KeyMaterial::new(self)
    }
}

/// SHA-256 of the key as 8 big-endian bytes.
#[inline]
fn key_digest(key: MptcpKey) -> [u8; 32] {
    let d = Sha256::digest(key.to_be_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(&d);
    out
}

#[inline]
fn token_of(d: &[u8; 32]) -> u32 {
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

#[inline]
fn idsn_of(d: &[u8; 32]) -> DataSeq {
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[24..32]);
    DataSeq(u64::from_be_bytes(b))
}

/// Token of `key` (RFC 8684 §3.2): the first 4 bytes of SHA-256(key), big-endian.
#[inline]
pub fn token(key: MptcpKey) -> u32 {
    token_of(&key_digest(key))
}

/// Initial data sequence number of `key` (RFC 8684 §3.1): the last 8 bytes of
/// SHA-256(key), big-endian. The first data byte has DSN = IDSN + 1.
#[inline]
pub fn idsn(key: MptcpKey) -> DataSeq {
    idsn_of(&key_digest(key))
}

/// A key with its token and IDSN, all three from one SHA-256.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct KeyMaterial {
    /// The key.
    pub key: MptcpKey,
    /// Its token (first 32 bits of the digest).
    pub token: u32,
    /// Its IDSN (last 64 bits of the digest).
    pub idsn: DataSeq,
}

impl KeyMaterial {
    /// Derives token and IDSN of `key` with one hash.
    #[inline]
    pub fn new(key: MptcpKey) -> KeyMaterial {
        let d = key_digest(key);
        KeyMaterial {
            key,
            token: token_of(&d),
            idsn: idsn_of(&d),
        }
    }
}

/// Draws a fresh local key: calls `rng` for 64-bit values, skips 0 (Linux
/// redraws a zero key, RFC 8684 §3.1) and any key whose material `accept`
/// rejects. The engine's `accept` checks that the token is unused on this host
/// and that `token % n_cores == core`, so that a token always leads back to the
/// core owning the connection.
///
/// Loops until `accept` says yes: with a good `rng` the expected number of
/// draws is `1 / P(accept)` (e.g. `n_cores` for the sharding constraint).
pub fn draw_key(
    rng: &mut impl FnMut() -> u64,
    accept: impl Fn(&KeyMaterial) -> bool,
) -> KeyMaterial {
    loop {
        let k = rng();
        if k == 0 {
            continue;
        }
        let m = KeyMaterial::new(MptcpKey(k));
        if accept(&m) {
            return m;
        }
    }
}

/// HMAC-SHA256 keyed with `sender_key ‖ receiver_key` (16 bytes) over `msg`.
#[inline]
fn hmac_keys(sender_key: MptcpKey, receiver_key: MptcpKey, msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&sender_key.to_be_bytes());
    k[8..].copy_from_slice(&receiver_key.to_be_bytes());
    // HMAC accepts keys of any length; a 16-byte key cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(&k).expect("HMAC takes any key length");
    mac.update(msg);
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// Full 32-byte MP_JOIN HMAC: key = `local_key ‖ remote_key`, message =
/// `local_nonce ‖ remote_nonce` (all big-endian). `local` is the sender of the
/// option that carries it (Linux `subflow_generate_hmac`).
#[inline]
pub fn join_hmac(
    local_key: MptcpKey,
    remote_key: MptcpKey,
    local_nonce: u32,
    remote_nonce: u32,
) -> [u8; 32] {
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&local_nonce.to_be_bytes());
    msg[4..].copy_from_slice(&remote_nonce.to_be_bytes());
    hmac_keys(local_key, remote_key, &msg)
}

/// The truncated HMAC of an MP_JOIN SYN/ACK (RFC 8684 §3.2): the leftmost 64
/// bits of [`join_hmac`]. The listener sends it with `local` = itself; the
/// initiator checks it with `local` = the listener (its peer).
#[inline]
pub fn join_synack_hmac(
    local_key: MptcpKey,
    remote_key: MptcpKey,
    local_nonce: u32,
    remote_nonce: u32,
) -> u64 {
    let h = join_hmac(local_key, remote_key, local_nonce, remote_nonce);
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    u64::from_be_bytes(b)
}

/// The HMAC of an MP_JOIN third ACK (RFC 8684 §3.2): the leftmost 160 bits of
/// [`join_hmac`]. The initiator sends it with `local` = itself; the listener
/// checks it with `local` = the initiator.
#[inline]
pub fn join_ack_hmac(
    local_key: MptcpKey,
    remote_key: MptcpKey,
    local_nonce: u32,
    remote_nonce: u32,
) -> [u8; 20] {
    let h = join_hmac(local_key, remote_key, local_nonce, remote_nonce);
    let mut out = [0u8; 20];
    out.copy_from_slice(&h[..20]);
    out
}

/// The truncated HMAC of an ADD_ADDR (RFC 8684 §3.4.1): HMAC-SHA256 with key
/// `sender_key ‖ receiver_key` over `id ‖ address ‖ port` (port big-endian,
/// 0 when the option carries none), rightmost 64 bits.
#[inline]
pub fn add_addr_hmac(
    sender_key: MptcpKey,
    receiver_key: MptcpKey,
    id: u8,
    addr: IpAddr,
    port: Option<u16>,
) -> u64 {
    let mut msg = [0u8; 1 + 16 + 2];
    msg[0] = id;
    let n = match addr {
        IpAddr::V4(a) => {
            msg[1..5].copy_from_slice(&a.octets());
            1 + 4
        }
        IpAddr::V6(a) => {
            msg[1..17].copy_from_slice(&a.octets());
            1 + 16
        }
    };
    msg[n..n + 2].copy_from_slice(&port.unwrap_or(0).to_be_bytes());
    let h = hmac_keys(sender_key, receiver_key, &msg[..n + 2]);
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[24..32]);
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    const KA: MptcpKey = MptcpKey(0x0102_0304_0506_0708);
    const KB: MptcpKey = MptcpKey(0x1122_3344_5566_7788);
    const RA: u32 = 0x0a0b_0c0d;
    const RB: u32 = 0x01f2_e3d4;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // protocol.md §3.5
    #[test]
    fn digest_vectors() {
        assert_eq!(
            key_digest(KA).to_vec(),
            hex("66840dda154e8a11 3c31dd0ad32f7f3a 366a80e8136979d8 f5a101d3d29d6f72")
        );
        assert_eq!(
            key_digest(KB).to_vec(),
            hex("1dce6604591efb43 9d5e87418a1d00db fd014327d8c4dea8 62815714b76ae9a5")
        );
    }

    #[test]
    fn token_idsn_vectors() {
        assert_eq!(token(KA), 0x6684_0dda);
        assert_eq!(idsn(KA), DataSeq(0xf5a1_01d3_d29d_6f72));
        assert_eq!(idsn(KA) + 1, DataSeq(0xf5a1_01d3_d29d_6f73));
        assert_eq!(token(KB), 0x1dce_6604);
        assert_eq!(idsn(KB), DataSeq(0x6281_5714_b76a_e9a5));
        assert_eq!(token(MptcpKey(0)), 0xaf55_70f5);
        assert_eq!(idsn(MptcpKey(0)), DataSeq(0xe5b2_328d_e0e8_3dfc));
        let m = KA.material();
        assert_eq!(m.key, KA);
        assert_eq!(m.token, KA.token());
        assert_eq!(m.idsn, KA.idsn());
    }

    #[test]
    fn join_vectors() {
        // B's SYN/ACK: HMAC(KB‖KA, RB‖RA), leftmost 8 bytes.
        assert_eq!(join_synack_hmac(KB, KA, RB, RA), 0xc022_c866_ec1e_1dd6);
        assert_eq!(
            join_hmac(KB, KA, RB, RA)[..16].to_vec(),
            hex("c022c866ec1e1dd6 7bf1dd6308c722dc")
        );
        // A's third ACK: HMAC(KA‖KB, RA‖RB), leftmost 20 bytes.
        assert_eq!(
            join_ack_hmac(KA, KB, RA, RB).to_vec(),
            hex("5338072fad98661960517b90fc1cb913058f7c1d")
        );
        assert_eq!(
            join_hmac(KA, KB, RA, RB)[..24].to_vec(),
            hex("5338072fad986619 60517b90fc1cb913 058f7c1d fb2fe34f")
        );
    }

    #[test]
    fn add_addr_vectors() {
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 2, 2));
        assert_eq!(add_addr_hmac(KB, KA, 1, a, None), 0xf1b1_afaa_d28c_6474);
        assert_eq!(add_addr_hmac(KB, KA, 1, a, Some(0)), 0xf1b1_afaa_d28c_6474);
        assert_eq!(
            add_addr_hmac(KB, KA, 1, a, Some(8080)),
            0x5d32_9c25_d484_79ba
        );
        let a6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
        assert_eq!(add_addr_hmac(KB, KA, 2, a6, None), 0x6221_d3d1_144f_bc99);
    }

    // protocol.md §3.6: values read from a Linux 6.18 ↔ 6.18 capture.
    #[test]
    fn linux_capture_vectors() {
        let ka = MptcpKey(0x4496_a4c5_0f04_5110);
        let kb = MptcpKey(0x5c6d_8f8b_e9b1_ac6e);
        assert_eq!(token(ka), 0x1288_558f);
        assert_eq!(idsn(ka), DataSeq(0x9b0a_5cab_4a72_5bcc));
        assert_eq!(token(kb), 0x8b61_449d);
        assert_eq!(idsn(kb), DataSeq(0xa8e5_1acc_040e_9920));
        assert_eq!(idsn(ka) + 1 + 40, DataSeq(0x9b0a_5cab_4a72_5bf5));
        assert_eq!(idsn(kb) + 1, DataSeq(0xa8e5_1acc_040e_9921));
        let (ra, rb) = (0x0ccb_77d2, 0xe2de_aece);
        assert_eq!(join_synack_hmac(kb, ka, rb, ra), 0xd427_8e30_bbcc_7f23);
        assert_eq!(
            join_ack_hmac(ka, kb, ra, rb).to_vec(),
            hex("a9ea283e78470aee029082d917b6a74d5c2bf5f3")
        );
        // The server announced its second address 10.0.2.2 with id 5, no port.
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 2, 2));
        assert_eq!(add_addr_hmac(kb, ka, 5, a, None), 0xc602_ee74_5bc6_90df);
    }

    #[test]
    fn draw_key_skips_zero_and_rejected() {
        let seq = [0u64, 0, 7, 8, 9, 10, 11, 12];
        let mut i = 0;
        let mut rng = || {
            let v = seq[i];
            i += 1;
            v
        };
        let m = draw_key(&mut rng, |m| m.key.0 >= 9);
        assert_eq!(m.key, MptcpKey(9));
        assert_eq!(m, MptcpKey(9).material());

        // Sharding constraint, with a simple xorshift generator.
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut rng = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for core in 0..4u32 {
            let m = draw_key(&mut rng, |m| m.token % 4 == core);
            assert_ne!(m.key.0, 0);
            assert_eq!(m.token % 4, core);
            assert_eq!(m.token, token(m.key));
        }
    }
}
