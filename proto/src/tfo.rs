//! TCP Fast Open server cookies (RFC 7413 §4.1.2, computed as Linux does).
//!
//! Owns: SipHash-2-4 (scalar and a lockstep multi-lane batch form), the TFO
//! server key, the cookie value type, and a validator with a primary and a
//! backup key for rotation. Linux 6.x (protocol.md §6.2) computes
//!
//! ```text
//! cookie = LE64( SipHash-2-4(key, client addr ‖ server addr) )    (8 bytes)
//! ```
//!
//! where the addresses are the SYN's source and destination in network order:
//! 8 bytes of message for IPv4, 32 for IPv6; ports are not included. A client
//! and server address of different families give no cookie.
//!
//! SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012):
//! the 128-bit key is read as two little-endian 64-bit words k0, k1; the
//! message is split into little-endian 64-bit words, the last one padded with
//! zeros and carrying `len mod 256` in its top byte; two SipRounds per word, four
//! after `v2 ^= 0xff`, and the output is `v0 ^ v1 ^ v2 ^ v3`.
//!
//! The lockstep form ([`siphash24_lanes`]) runs `L` independent hashes with
//! the same key side by side: arrays of state words, one element per lane,
//! each step a loop over the lanes. When the target has 64-bit vector rotates
//! (x86 AVX-512F, e.g. `-C target-cpu=native` on Zen 4/5 or Ice Lake and
//! later) LLVM turns those loops into SIMD code and [`LOCKSTEP`] is true:
//! [`CookieValidator::validate_batch`] and [`siphash24_batch`] then hash a burst
//! [`LANES`] at a time, 2.5–3× faster per cookie than one at a time.
//!
//! Without vector rotates (the x86-64 baseline, SSE2 only) lockstep gains
//! nothing, measured: one SipRound is 14 integer ALU operations with a
//! 3-cycle dependency chain, and an out-of-order core already overlaps
//! consecutive independent hashes until its integer ALUs are saturated
//! (Zen 5: ~6.9 ns per 8-byte hash independent vs ~9.2 ns chained). Scalar
//! lanes interleaved by hand only add bookkeeping there (~15% slower), so the
//! batch functions then hash one message after the other. Both paths give
//! identical results (property-tested).

use core::fmt;
use core::net::IpAddr;

/// True when the build target has 64-bit vector rotates, so that the
/// lockstep lanes compile to SIMD code and the batch functions use them.
pub const LOCKSTEP: bool = cfg!(all(
    any(target_arch = "x86_64", target_arch = "x86"),
    target_feature = "avx512f"
));

/// Number of hashes the batch functions compute side by side when
/// [`LOCKSTEP`] is true (one rx burst).
pub const LANES: usize = 32;

/// Length of the cookies we issue (Linux `TCP_FASTOPEN_COOKIE_SIZE`).
pub const COOKIE_LEN: usize = 8;

/// Shortest cookie RFC 7413 allows in a TFO option.
pub const COOKIE_MIN: usize = 4;

/// Longest cookie RFC 7413 allows in a TFO option.
pub const COOKIE_MAX: usize = 16;

// ---------------------------------------------------------------------------
// SipHash-2-4
// ---------------------------------------------------------------------------

/// The SipHash state after the key was mixed in ("somepseudorandomlygeneratedbytes").
#[derive(Clone, Copy)]
struct SipInit([u64; 4]);

impl SipInit {
    #[inline(always)]
    fn new(key: &[u8; 16]) -> SipInit {
        let mut a = [0u8; 8];
        a.copy_from_slice(&key[..8]);
        let k0 = u64::from_le_bytes(a);
        a.copy_from_slice(&key[8..]);
        let k1 = u64::from_le_bytes(a);
        SipInit([
            k0 ^ 0x736f_6d65_7073_6575,
            k1 ^ 0x646f_7261_6e64_6f6d,
            k0 ^ 0x6c79_6765_6e65_7261,
            k1 ^ 0x7465_6462_7974_6573,
        ])
    }
}

/// One SipRound on a single state.
#[inline(always)]
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// Absorbs one message word into a single state.
#[inline(always)]
fn absorb1(v: &mut [u64; 4], m: u64) {
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
}

/// Finalization of a single state.
#[inline(always)]
fn finish1(mut v: [u64; 4]) -> u64 {
    v[2] ^= 0xff;
    sip_round(&mut v);
    sip_round(&mut v);
    sip_round(&mut v);
    sip_round(&mut v);
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// Little-endian word of up to 8 bytes, zero padded.
#[inline(always)]
fn le_word(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(a)
}

/// The final message word: the trailing `len % 8` bytes, and `len` in the top byte.
#[inline(always)]
fn last_word(msg: &[u8]) -> u64 {
    let tail = &msg[msg.len() & !7..];
    le_word(tail) | ((msg.len() as u64) << 56)
}

#[inline(always)]
fn sip_scalar(init: SipInit, msg: &[u8]) -> u64 {
    let mut v = init.0;
    let mut blocks = msg.chunks_exact(8);
    for b in &mut blocks {
        absorb1(&mut v, le_word(b));
    }
    absorb1(&mut v, last_word(msg));
    finish1(v)
}

/// SipHash-2-4 of `msg` under the 16-byte `key` (64-bit output).
#[inline]
pub fn siphash24(key: &[u8; 16], msg: &[u8]) -> u64 {
    sip_scalar(SipInit::new(key), msg)
}

/// State of `L` hashes in lockstep: `v[i][lane]`.
struct Lanes<const L: usize> {
    v0: [u64; L],
    v1: [u64; L],
    v2: [u64; L],
    v3: [u64; L],
}

impl<const L: usize> Lanes<L> {
    #[inline(always)]
    fn new(init: SipInit) -> Self {
        Lanes {
            v0: [init.0[0]; L],
            v1: [init.0[1]; L],
            v2: [init.0[2]; L],
            v3: [init.0[3]; L],
        }
    }

    /// One SipRound on every lane. Each step is a loop over the lanes, so the
    /// independent lanes' instructions interleave.
    #[inline(always)]
    fn round(&mut self) {
        for i in 0..L {
            self.v0[i] = self.v0[i].wrapping_add(self.v1[i]);
            self.v2[i] = self.v2[i].wrapping_add(self.v3[i]);
        }
        for i in 0..L {
            self.v1[i] = self.v1[i].rotate_left(13) ^ self.v0[i];
            self.v3[i] = self.v3[i].rotate_left(16) ^ self.v2[i];
            self.v0[i] = self.v0[i].rotate_left(32);
        }
        for i in 0..L {
            self.v2[i] = self.v2[i].wrapping_add(self.v1[i]);
            self.v0[i] = self.v0[i].wrapping_add(self.v3[i]);
        }
        for i in 0..L {
            self.v1[i] = self.v1[i].rotate_left(17) ^ self.v2[i];
            self.v3[i] = self.v3[i].rotate_left(21) ^ self.v0[i];
            self.v2[i] = self.v2[i].rotate_left(32);
        }
    }

    /// Absorbs one message word per lane.
    #[inline(always)]
    fn absorb(&mut self, m: &[u64; L]) {
        for (v, m) in self.v3.iter_mut().zip(m) {
            *v ^= m;
        }
        self.round();
        self.round();
        for (v, m) in self.v0.iter_mut().zip(m) {
            *v ^= m;
        }
    }

    #[inline(always)]
    fn finish(mut self) -> [u64; L] {
        for i in 0..L {
            self.v2[i] ^= 0xff;
        }
        self.round();
        self.round();
        self.round();
        self.round();
        let mut out = [0u64; L];
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.v0[i] ^ self.v1[i] ^ self.v2[i] ^ self.v3[i];
        }
        out
    }
}

/// SipHash-2-4 of `L` messages of the same length under one key, computed in
/// lockstep. Panics if the messages' lengths differ.
///
/// Fast only when [`LOCKSTEP`] is true (SIMD); without vector rotates a large
/// `L` spills the state to the stack and is slower than [`siphash24`] in a
/// loop (the `siphash24_8byte_msg` bench shows both).
#[inline]
pub fn siphash24_lanes<const L: usize>(key: &[u8; 16], msgs: &[&[u8]; L]) -> [u64; L] {
    lanes_same_len(SipInit::new(key), msgs)
}

#[inline(always)]
fn lanes_same_len<const L: usize>(init: SipInit, msgs: &[&[u8]; L]) -> [u64; L] {
    let len = msgs.first().map_or(0, |m| m.len());
    assert!(
        msgs.iter().all(|m| m.len() == len),
        "siphash24_lanes: messages of different lengths"
    );
    let mut s = Lanes::<L>::new(init);
    let mut m = [0u64; L];
    let full = len / 8;
    for b in 0..full {
        for (w, msg) in m.iter_mut().zip(msgs) {
            *w = le_word(&msg[b * 8..b * 8 + 8]);
        }
        s.absorb(&m);
    }
    for (w, msg) in m.iter_mut().zip(msgs) {
        *w = last_word(msg);
    }
    s.absorb(&m);
    s.finish()
}

/// SipHash-2-4 of every message of `msgs` under one key, into `out[i]`.
///
/// With [`LOCKSTEP`], runs of [`LANES`] messages of equal length are hashed
/// in lockstep; a run whose lengths differ, the last partial run, and every
/// message without [`LOCKSTEP`], are hashed one at a time. Panics if `out` is
/// shorter than `msgs`.
pub fn siphash24_batch(key: &[u8; 16], msgs: &[&[u8]], out: &mut [u64]) {
    batch_impl(key, msgs, out, LOCKSTEP);
}

fn batch_impl(key: &[u8; 16], msgs: &[&[u8]], out: &mut [u64], lockstep: bool) {
    assert!(out.len() >= msgs.len(), "siphash24_batch: output too short");
    let init = SipInit::new(key);
    let mut done = 0;
    if lockstep {
        for (c, o) in msgs.chunks_exact(LANES).zip(out.chunks_exact_mut(LANES)) {
            let c: &[&[u8]; LANES] = c.try_into().expect("chunk of LANES");
            if c.iter().all(|m| m.len() == c[0].len()) {
                o.copy_from_slice(&lanes_same_len(init, c));
            } else {
                for (h, m) in o.iter_mut().zip(c) {
                    *h = sip_scalar(init, m);
                }
            }
            done += LANES;
        }
    }
    for (h, m) in out[done..].iter_mut().zip(&msgs[done..]) {
        *h = sip_scalar(init, m);
    }
}

// ---------------------------------------------------------------------------
// Keys and cookies
// ---------------------------------------------------------------------------

/// A 16-byte TFO server key, in the byte order SipHash reads it (bytes 0..8
/// are k0 little-endian, 8..16 are k1) — the same bytes Linux takes from the
/// `TCP_FASTOPEN_KEY` socket option.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TfoKey(pub [u8; 16]);

impl fmt::Debug for TfoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secret material: do not print it.
        f.write_str("TfoKey(..)")
    }
}

impl TfoKey {
    /// The key from the four 32-bit words of Linux's
    /// `net.ipv4.tcp_fastopen_key` sysctl (`w0-w1-w2-w3`, hex). Linux parses
    /// each word as a u32 and stores it little-endian (`cpu_to_le32`), on
    /// every architecture: word `00010203` becomes bytes `03 02 01 00`.
    /// Verified against Linux 6.18 by `tests/kernel_cookie.rs`.
    pub fn from_linux_words(words: [u32; 4]) -> TfoKey {
        let mut k = [0u8; 16];
        for (c, w) in k.chunks_exact_mut(4).zip(words) {
            c.copy_from_slice(&w.to_le_bytes());
        }
        TfoKey(k)
    }

    /// The four sysctl words of this key (inverse of [`TfoKey::from_linux_words`]).
    pub fn linux_words(&self) -> [u32; 4] {
        let mut w = [0u32; 4];
        for (w, c) in w.iter_mut().zip(self.0.chunks_exact(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        w
    }

    /// Parses one key in the sysctl's text form, `xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx`
    /// (hex words, as `/proc/sys/net/ipv4/tcp_fastopen_key` prints it).
    pub fn parse_linux(s: &str) -> Option<TfoKey> {
        let mut words = [0u32; 4];
        let mut parts = s.trim().split('-');
        for w in &mut words {
            let p = parts.next()?;
            if p.is_empty() || p.len() > 8 {
                return None;
            }
            *w = u32::from_str_radix(p, 16).ok()?;
        }
        if parts.next().is_some() {
            return None;
        }
        Some(TfoKey::from_linux_words(words))
    }

    /// This key in the sysctl's text form; `format!("{},{}", p.linux(), b.linux())`
    /// sets a primary and a backup key.
    pub fn linux(&self) -> LinuxKeyText {
        LinuxKeyText(self.linux_words())
    }

    #[inline(always)]
    fn init(&self) -> SipInit {
        SipInit::new(&self.0)
    }
}

/// A [`TfoKey`] displayed as Linux's `net.ipv4.tcp_fastopen_key` text.
#[derive(Clone, Copy, Debug)]
pub struct LinuxKeyText([u32; 4]);

impl fmt::Display for LinuxKeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.0;
        write!(f, "{:08x}-{:08x}-{:08x}-{:08x}", w[0], w[1], w[2], w[3])
    }
}

/// A TFO cookie as carried by the TFO option (kind 34): 0 bytes (a cookie
/// request, or "no cookie"), or 4..=16 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Cookie {
    /// The cookie bytes; only the first `len` are meaningful, the rest are 0.
    pub bytes: [u8; COOKIE_MAX],
    /// Number of meaningful bytes.
    pub len: u8,
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cookie(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl Cookie {
    /// The empty cookie (a cookie request; also "no cookie").
    pub const EMPTY: Cookie = Cookie {
        bytes: [0; COOKIE_MAX],
        len: 0,
    };

    /// A cookie from received bytes: `None` unless the length is 0 or within
    /// 4..=16 (RFC 7413 §2).
    pub fn from_bytes(b: &[u8]) -> Option<Cookie> {
        if !(b.is_empty() || (COOKIE_MIN..=COOKIE_MAX).contains(&b.len())) {
            return None;
        }
        let mut c = Cookie::EMPTY;
        c.bytes[..b.len()].copy_from_slice(b);
        c.len = b.len() as u8;
        Some(c)
    }

    /// An 8-byte cookie holding `v` little-endian (what Linux puts on the wire).
    #[inline]
    pub fn from_u64_le(v: u64) -> Cookie {
        let mut c = Cookie::EMPTY;
        c.bytes[..8].copy_from_slice(&v.to_le_bytes());
        c.len = 8;
        c
    }

    /// The meaningful bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..(self.len as usize).min(COOKIE_MAX)]
    }

    /// True for the empty cookie.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of meaningful bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// The first 8 bytes read little-endian, if this is an 8-byte cookie.
    #[inline]
    fn as_u64_le(&self) -> Option<u64> {
        if self.len as usize != COOKIE_LEN {
            return None;
        }
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.bytes[..8]);
        Some(u64::from_le_bytes(a))
    }
}

/// The message words of an address pair: IPv4 gives 1 word (8-byte
/// message), IPv6 gives 4 (32 bytes). The final SipHash word carries only the
/// length byte: [`V4_LAST`] or [`V6_LAST`].
enum AddrWords {
    V4([u64; 1]),
    V6([u64; 4]),
}

/// Final word of an 8-byte message.
const V4_LAST: u64 = 8 << 56;
/// Final word of a 32-byte message.
const V6_LAST: u64 = 32 << 56;

#[inline(always)]
fn addr_words(client: IpAddr, server: IpAddr) -> Option<AddrWords> {
    match (client, server) {
        (IpAddr::V4(c), IpAddr::V4(s)) => {
            let (c, s) = (c.octets(), s.octets());
            let m = u64::from_le_bytes([c[0], c[1], c[2], c[3], s[0], s[1], s[2], s[3]]);
            Some(AddrWords::V4([m]))
        }
        (IpAddr::V6(c), IpAddr::V6(s)) => {
            let (c, s) = (c.octets(), s.octets());
            Some(AddrWords::V6([
                le_word(&c[..8]),
                le_word(&c[8..]),
                le_word(&s[..8]),
                le_word(&s[8..]),
            ]))
        }
        _ => None,
    }
}

#[inline(always)]
fn hash_words(init: SipInit, w: &AddrWords) -> u64 {
    let mut v = init.0;
    match w {
        AddrWords::V4(w) => {
            absorb1(&mut v, w[0]);
            absorb1(&mut v, V4_LAST);
        }
        AddrWords::V6(w) => {
            absorb1(&mut v, w[0]);
            absorb1(&mut v, w[1]);
            absorb1(&mut v, w[2]);
            absorb1(&mut v, w[3]);
            absorb1(&mut v, V6_LAST);
        }
    }
    finish1(v)
}

/// The Linux server cookie for a SYN from `client` to `server` under `key`:
/// `LE64(SipHash-2-4(key, client ‖ server))`, 8 bytes. Addresses of different
/// families give [`Cookie::EMPTY`] (no cookie; it never validates).
#[inline]
pub fn cookie_for(key: &TfoKey, client: IpAddr, server: IpAddr) -> Cookie {
    match addr_words(client, server) {
        Some(w) => Cookie::from_u64_le(hash_words(key.init(), &w)),
        None => Cookie::EMPTY,
    }
}

/// Equality of two u64 without a data-dependent branch.
#[inline(always)]
fn ct_eq_u64(a: u64, b: u64) -> bool {
    let d = core::hint::black_box(a ^ b);
    // (d | -d) has its top bit set iff d != 0.
    ((d | d.wrapping_neg()) >> 63) == 0
}

/// Primary key, then backup key (if any), for one cookie.
#[inline(always)]
fn check(
    primary: SipInit,
    backup: Option<SipInit>,
    client: IpAddr,
    server: IpAddr,
    cookie: &Cookie,
) -> CookieCheck {
    let (Some(rc), Some(w)) = (cookie.as_u64_le(), addr_words(client, server)) else {
        return CookieCheck::Invalid;
    };
    if ct_eq_u64(hash_words(primary, &w), rc) {
        return CookieCheck::ValidPrimary;
    }
    match backup {
        Some(b) if ct_eq_u64(hash_words(b, &w), rc) => CookieCheck::ValidBackup,
        _ => CookieCheck::Invalid,
    }
}

/// Outcome of checking a received cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum CookieCheck {
    /// Matches the primary key's cookie: accept the SYN data.
    ValidPrimary,
    /// Matches only the backup key's cookie: accept the SYN data and offer a
    /// fresh primary-key cookie in the SYN/ACK (as Linux does).
    ValidBackup,
    /// Empty, of the wrong length, mixed address families, or no match.
    #[default]
    Invalid,
}

impl CookieCheck {
    /// True for either valid outcome.
    #[inline]
    pub fn is_valid(self) -> bool {
        !matches!(self, CookieCheck::Invalid)
    }
}

/// One cookie to check in [`CookieValidator::validate_batch`]: the SYN's
/// source (client) and destination (server) addresses and the cookie it carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CookieRequest {
    /// Source address of the SYN.
    pub client: IpAddr,
    /// Destination address of the SYN.
    pub server: IpAddr,
    /// The cookie of its TFO option.
    pub cookie: Cookie,
}

/// Issues and checks server cookies with a primary and an optional backup key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieValidator {
    /// Key of the cookies we issue; checked first.
    pub primary: TfoKey,
    /// Previous key, still accepted after a rotation.
    pub backup: Option<TfoKey>,
}

/// Pending lockstep work: up to [`LANES`] requests of one address family,
/// `W` message words each, with the cookies they carried.
struct Pending<const W: usize> {
    idx: [usize; LANES],
    words: [[u64; LANES]; W],
    cookie: [u64; LANES],
    n: usize,
}

impl<const W: usize> Pending<W> {
    #[inline(always)]
    fn new() -> Self {
        Pending {
            idx: [0; LANES],
            words: [[0; LANES]; W],
            cookie: [0; LANES],
            n: 0,
        }
    }

    /// Adds request `i`; hashes the pending ones when that fills the run.
    #[inline(always)]
    fn push(
        &mut self,
        i: usize,
        w: &[u64; W],
        cookie: u64,
        init: SipInit,
        out: &mut [CookieCheck],
        hit: CookieCheck,
    ) {
        let n = self.n;
        self.idx[n] = i;
        self.cookie[n] = cookie;
        for (row, &m) in self.words.iter_mut().zip(w) {
            row[n] = m;
        }
        self.n = n + 1;
        if self.n == LANES {
            self.flush(init, out, hit);
        }
    }

    /// Hashes the pending requests (`W` words, then the length word) and
    /// records `hit` for those whose cookie matches.
    #[inline(always)]
    fn flush(&mut self, init: SipInit, out: &mut [CookieCheck], hit: CookieCheck) {
        let last = ((8 * W) as u64) << 56;
        let n = self.n;
        self.n = 0;
        if n * 3 < LANES {
            // Too few for a whole lockstep run to pay off (measured with
            // AVX-512: 32 lanes cost about as much as 10 to 13 scalar hashes).
            for j in 0..n {
                let mut v = init.0;
                for w in &self.words {
                    absorb1(&mut v, w[j]);
                }
                absorb1(&mut v, last);
                if ct_eq_u64(finish1(v), self.cookie[j]) {
                    out[self.idx[j]] = hit;
                }
            }
            return;
        }
        let mut s = Lanes::<LANES>::new(init);
        for w in &self.words {
            s.absorb(w);
        }
        s.absorb(&[last; LANES]);
        let h = s.finish();
        for ((&i, &h), &c) in self.idx[..n].iter().zip(&h).zip(&self.cookie) {
            if ct_eq_u64(h, c) {
                out[i] = hit;
            }
        }
    }
}

impl CookieValidator {
    /// A validator with only a primary key.
    pub fn new(primary: TfoKey) -> CookieValidator {
        CookieValidator {
            primary,
            backup: None,
        }
    }

    /// The cookie to offer to `client` connecting to `server` (primary key).
    #[inline]
    pub fn issue(&self, client: IpAddr, server: IpAddr) -> Cookie {
        cookie_for(&self.primary, client, server)
    }

    /// Checks `cookie` received from `client` for `server`: primary key first,
    /// then the backup key. The comparison does not branch on the cookie's
    /// bytes, only on the outcome.
    #[inline]
    pub fn validate(&self, client: IpAddr, server: IpAddr, cookie: &Cookie) -> CookieCheck {
        check(
            self.primary.init(),
            self.backup.map(|b| b.init()),
            client,
            server,
            cookie,
        )
    }

    /// Makes `new_primary` the primary key; the old primary becomes the
    /// backup (the old backup is forgotten).
    pub fn rotate(&mut self, new_primary: TfoKey) {
        self.backup = Some(self.primary);
        self.primary = new_primary;
    }

    /// Stops accepting cookies of the backup key.
    pub fn drop_backup(&mut self) {
        self.backup = None;
    }

    /// Checks the cookies of a whole burst: `out[i]` = `validate(reqs[i])`.
    ///
    /// With [`LOCKSTEP`], two passes: the primary key for every well-formed
    /// request, then the backup key only for those that did not match; each
    /// pass gathers IPv4 and IPv6 requests separately and hashes them
    /// [`LANES`] at a time in lockstep. Without it, one request after the
    /// other (see the module documentation for why). No allocation. Panics
    /// if `out` is shorter than `reqs`.
    pub fn validate_batch(&self, reqs: &[CookieRequest], out: &mut [CookieCheck]) {
        assert!(out.len() >= reqs.len(), "validate_batch: output too short");
        let out = &mut out[..reqs.len()];
        if LOCKSTEP {
            self.batch_lockstep(reqs, out);
        } else {
            let (p, b) = (self.primary.init(), self.backup.map(|b| b.init()));
            for (o, r) in out.iter_mut().zip(reqs) {
                *o = check(p, b, r.client, r.server, &r.cookie);
            }
        }
    }

    /// The lockstep form of [`CookieValidator::validate_batch`], `out` exactly
    /// as long as `reqs`.
    fn batch_lockstep(&self, reqs: &[CookieRequest], out: &mut [CookieCheck]) {
        out.fill(CookieCheck::Invalid);
        self.pass(
            self.primary.init(),
            reqs,
            out,
            CookieCheck::ValidPrimary,
            |_| true,
        );
        if let Some(b) = &self.backup {
            self.pass(b.init(), reqs, out, CookieCheck::ValidBackup, |c| {
                c == CookieCheck::Invalid
            });
        }
    }

    #[inline(always)]
    fn pass(
        &self,
        init: SipInit,
        reqs: &[CookieRequest],
        out: &mut [CookieCheck],
        hit: CookieCheck,
        wanted: impl Fn(CookieCheck) -> bool,
    ) {
        let mut v4 = Pending::<1>::new();
        let mut v6 = Pending::<4>::new();
        for (i, r) in reqs.iter().enumerate() {
            if !wanted(out[i]) {
                continue;
            }
            let Some(rc) = r.cookie.as_u64_le() else {
                continue;
            };
            match addr_words(r.client, r.server) {
                Some(AddrWords::V4(w)) => v4.push(i, &w, rc, init, out, hit),
                Some(AddrWords::V6(w)) => v6.push(i, &w, rc, init, out, hit),
                None => {}
            }
        }
        v4.flush(init, out, hit);
        v6.flush(init, out, hit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;

    fn key_0f() -> [u8; 16] {
        core::array::from_fn(|i| i as u8)
    }

    /// Rust's standard library still ships a (deprecated) SipHash-2-4: an
    /// independent implementation to check ours against.
    #[allow(deprecated)]
    fn std_siphash24(key: &[u8; 16], msg: &[u8]) -> u64 {
        use core::hash::Hasher;
        let k0 = u64::from_le_bytes(key[..8].try_into().unwrap());
        let k1 = u64::from_le_bytes(key[8..].try_into().unwrap());
        let mut h = std::hash::SipHasher::new_with_keys(k0, k1);
        h.write(msg);
        h.finish()
    }

    /// Some entries of `vectors_sip64` of the SipHash reference
    /// implementation: key 00..0f, message 00 01 .. (n-1), output read
    /// little-endian.
    const REFERENCE: &[(usize, u64)] = &[
        (0, 0x726f_db47_dd0e_0e31),
        (1, 0x74f8_39c5_93dc_67fd),
        (2, 0x0d6c_8009_d9a9_4f5a),
        (3, 0x8567_6696_d7fb_7e2d),
        (4, 0xcf27_94e0_2771_87b7),
        (5, 0x1876_5564_cd99_a68d),
        (6, 0xcbc9_466e_58fe_e3ce),
        (7, 0xab02_00f5_8b01_d137),
        (15, 0xa129_ca61_49be_45e5),
        (63, 0x958a_324c_eb06_4572),
    ];

    #[test]
    fn siphash_reference_vectors() {
        let k = key_0f();
        let msg: [u8; 64] = core::array::from_fn(|i| i as u8);
        for &(n, want) in REFERENCE {
            assert_eq!(siphash24(&k, &msg[..n]), want, "length {n}");
        }
    }

    /// The full 64-entry table (message lengths 0..63), regenerated from
    /// std's independent SipHash-2-4, scalar and batch.
    #[test]
    fn siphash_full_table_matches_std() {
        let k = key_0f();
        let msg: [u8; 64] = core::array::from_fn(|i| i as u8);
        let msgs: Vec<&[u8]> = (0..64).map(|n| &msg[..n]).collect();
        let mut batch = [0u64; 64];
        siphash24_batch(&k, &msgs, &mut batch);
        let mut lockstep = [0u64; 64];
        batch_impl(&k, &msgs, &mut lockstep, true);
        assert_eq!(batch, lockstep);
        for n in 0..64 {
            let want = std_siphash24(&k, &msg[..n]);
            assert_eq!(siphash24(&k, &msg[..n]), want, "length {n}");
            assert_eq!(batch[n], want, "batch, length {n}");
            let lanes = siphash24_lanes::<4>(&k, &[&msg[..n]; 4]);
            assert_eq!(lanes, [want; 4], "lanes, length {n}");
        }
    }

    #[test]
    #[should_panic(expected = "different lengths")]
    fn lanes_reject_mixed_lengths() {
        let _ = siphash24_lanes::<2>(&key_0f(), &[b"ab", b"abc"]);
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[test]
    fn linux_cookie_vector() {
        let key = TfoKey(key_0f());
        let c = cookie_for(&key, v4(10, 0, 1, 1), v4(10, 0, 1, 2));
        assert_eq!(c.len(), 8);
        assert_eq!(
            c.as_bytes(),
            &[0xab, 0x32, 0x40, 0xd6, 0x2f, 0x54, 0xa5, 0x41]
        );
        assert_eq!(format!("{c:?}"), "Cookie(ab3240d62f54a541)");
        // Same as SipHash over the 8-byte message 0a000101 0a000102.
        let h = siphash24(&key.0, &[10, 0, 1, 1, 10, 0, 1, 2]);
        assert_eq!(c, Cookie::from_u64_le(h));
        // Direction matters.
        assert_ne!(c, cookie_for(&key, v4(10, 0, 1, 2), v4(10, 0, 1, 1)));
    }

    #[test]
    fn ipv6_cookie_is_hash_of_32_bytes() {
        let key = TfoKey(key_0f());
        let c: Ipv6Addr = "fd00::1".parse().unwrap();
        let s: Ipv6Addr = "fd00::2".parse().unwrap();
        let mut msg = [0u8; 32];
        msg[..16].copy_from_slice(&c.octets());
        msg[16..].copy_from_slice(&s.octets());
        let want = Cookie::from_u64_le(std_siphash24(&key.0, &msg));
        assert_eq!(cookie_for(&key, c.into(), s.into()), want);
    }

    #[test]
    fn mixed_families_give_no_cookie() {
        let key = TfoKey(key_0f());
        let c = cookie_for(&key, v4(10, 0, 1, 1), "fd00::2".parse().unwrap());
        assert!(c.is_empty());
        let v = CookieValidator::new(key);
        assert_eq!(
            v.validate(v4(10, 0, 1, 1), "fd00::2".parse().unwrap(), &c),
            CookieCheck::Invalid
        );
    }

    #[test]
    fn validate_and_rotate() {
        let k1 = TfoKey(key_0f());
        let k2 = TfoKey([0x42; 16]);
        let (c, s) = (v4(10, 0, 1, 1), v4(10, 0, 1, 2));
        let mut v = CookieValidator::new(k1);
        let old = v.issue(c, s);
        assert_eq!(v.validate(c, s, &old), CookieCheck::ValidPrimary);
        assert_eq!(v.validate(s, c, &old), CookieCheck::Invalid);
        assert_eq!(v.validate(c, s, &Cookie::EMPTY), CookieCheck::Invalid);
        // A truncated or extended cookie is not ours.
        let short = Cookie::from_bytes(&old.as_bytes()[..4]).unwrap();
        assert_eq!(v.validate(c, s, &short), CookieCheck::Invalid);
        let mut long = old;
        long.len = 9;
        assert_eq!(v.validate(c, s, &long), CookieCheck::Invalid);
        let mut bad = old;
        bad.bytes[7] ^= 1;
        assert_eq!(v.validate(c, s, &bad), CookieCheck::Invalid);

        v.rotate(k2);
        let new = v.issue(c, s);
        assert_ne!(new, old);
        assert_eq!(v.validate(c, s, &new), CookieCheck::ValidPrimary);
        assert_eq!(v.validate(c, s, &old), CookieCheck::ValidBackup);
        assert!(CookieCheck::ValidBackup.is_valid());
        v.drop_backup();
        assert_eq!(v.validate(c, s, &old), CookieCheck::Invalid);
    }

    #[test]
    fn cookie_from_bytes_lengths() {
        assert_eq!(Cookie::from_bytes(&[]), Some(Cookie::EMPTY));
        assert!(Cookie::from_bytes(&[1, 2, 3]).is_none());
        assert_eq!(Cookie::from_bytes(&[1, 2, 3, 4]).unwrap().len(), 4);
        assert_eq!(Cookie::from_bytes(&[9; 16]).unwrap().as_bytes(), &[9; 16]);
        assert!(Cookie::from_bytes(&[9; 17]).is_none());
    }

    #[test]
    fn linux_key_text() {
        let k = TfoKey::parse_linux("00010203-04050607-08090a0b-0c0d0e0f").unwrap();
        assert_eq!(
            k.0,
            [3, 2, 1, 0, 7, 6, 5, 4, 0xb, 0xa, 9, 8, 0xf, 0xe, 0xd, 0xc]
        );
        assert_eq!(k.linux().to_string(), "00010203-04050607-08090a0b-0c0d0e0f");
        let k = TfoKey(key_0f());
        assert_eq!(k.linux().to_string(), "03020100-07060504-0b0a0908-0f0e0d0c");
        assert_eq!(TfoKey::parse_linux(&k.linux().to_string()), Some(k));
        assert_eq!(TfoKey::from_linux_words(k.linux_words()), k);
        assert!(TfoKey::parse_linux("0-1-2").is_none());
        assert!(TfoKey::parse_linux("0-1-2-3-4").is_none());
        assert!(TfoKey::parse_linux("0-1-2-123456789").is_none());
        assert!(TfoKey::parse_linux("0-1-2-x").is_none());
        assert_eq!(format!("{k:?}"), "TfoKey(..)");
    }

    /// Full lockstep runs, partial runs and the small-run scalar fallback,
    /// IPv4 and IPv6 interleaved, primary, backup and invalid cookies.
    #[test]
    fn lockstep_batch_matches_scalar_on_large_bursts() {
        let mut v = CookieValidator::new(TfoKey([1; 16]));
        v.rotate(TfoKey([2; 16]));
        for n in [1, 7, 8, 9, 31, 32, 33, 64, 100, 200] {
            let reqs: Vec<CookieRequest> = (0..n)
                .map(|i: usize| {
                    let (c, s): (IpAddr, IpAddr) = if i % 5 == 4 {
                        let mut a = [0xfd; 16];
                        a[8..].copy_from_slice(&(i as u64).to_be_bytes());
                        (a.into(), "fd00::2".parse().unwrap())
                    } else {
                        (
                            (i as u32 | 0x0a00_0000).to_be_bytes().into(),
                            v4(10, 0, 1, 2),
                        )
                    };
                    let cookie = match i % 7 {
                        0..=2 => cookie_for(&v.primary, c, s),
                        3..=4 => cookie_for(&v.backup.unwrap(), c, s),
                        5 => Cookie::from_u64_le(i as u64),
                        _ => Cookie::EMPTY,
                    };
                    CookieRequest {
                        client: c,
                        server: s,
                        cookie,
                    }
                })
                .collect();
            let mut a = vec![CookieCheck::Invalid; n];
            let mut b = vec![CookieCheck::Invalid; n];
            v.batch_lockstep(&reqs, &mut a);
            v.validate_batch(&reqs, &mut b);
            for (i, r) in reqs.iter().enumerate() {
                let want = v.validate(r.client, r.server, &r.cookie);
                assert_eq!(a[i], want, "lockstep, burst {n}, request {i}");
                assert_eq!(b[i], want, "validate_batch, burst {n}, request {i}");
            }
            assert!(a.contains(&CookieCheck::ValidBackup) || n < 4);
        }
    }

    fn arb_addr_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
        prop_oneof![
            4 => (any::<[u8; 4]>(), any::<[u8; 4]>())
                .prop_map(|(a, b)| (IpAddr::from(a), IpAddr::from(b))),
            3 => (any::<[u8; 16]>(), any::<[u8; 16]>())
                .prop_map(|(a, b)| (IpAddr::from(a), IpAddr::from(b))),
            1 => (any::<[u8; 4]>(), any::<[u8; 16]>())
                .prop_map(|(a, b)| (IpAddr::from(a), IpAddr::from(b))),
        ]
    }

    /// 0: random cookie, 1: primary, 2: backup, 3: empty, 4: wrong length,
    /// 5: primary with a flipped bit.
    fn arb_req() -> impl Strategy<Value = ((IpAddr, IpAddr), u8, [u8; 16], u8)> {
        (arb_addr_pair(), 0u8..6, any::<[u8; 16]>(), 0u8..64)
    }

    proptest! {
        #[test]
        fn batch_equals_scalar(
            k1 in any::<[u8; 16]>(),
            k2 in any::<[u8; 16]>(),
            with_backup in any::<bool>(),
            reqs in proptest::collection::vec(arb_req(), 0..100),
        ) {
            let mut v = CookieValidator::new(TfoKey(k1));
            if with_backup {
                v.rotate(TfoKey(k2));
            }
            let reqs: Vec<CookieRequest> = reqs
                .into_iter()
                .map(|((c, s), kind, rnd, bit)| {
                    let cookie = match kind {
                        0 => Cookie::from_bytes(&rnd[..8]).unwrap(),
                        1 => cookie_for(&v.primary, c, s),
                        2 => cookie_for(&v.backup.unwrap_or(TfoKey(k2)), c, s),
                        3 => Cookie::EMPTY,
                        4 => Cookie::from_bytes(&rnd[..4 + (bit as usize % 13)]).unwrap(),
                        _ => {
                            let mut x = cookie_for(&v.primary, c, s);
                            x.bytes[(bit as usize / 8) % 8] ^= 1 << (bit % 8);
                            x
                        }
                    };
                    CookieRequest { client: c, server: s, cookie }
                })
                .collect();
            let mut out = vec![CookieCheck::ValidPrimary; reqs.len() + 3];
            v.validate_batch(&reqs, &mut out);
            // Both batch forms, whichever this build uses.
            let mut lockstep = vec![CookieCheck::ValidPrimary; reqs.len()];
            v.batch_lockstep(&reqs, &mut lockstep);
            for ((r, got), ls) in reqs.iter().zip(&out).zip(&lockstep) {
                let want = v.validate(r.client, r.server, &r.cookie);
                prop_assert_eq!(*got, want);
                prop_assert_eq!(*ls, want);
            }
            // Slots past the requests are left alone.
            prop_assert!(out[reqs.len()..].iter().all(|c| *c == CookieCheck::ValidPrimary));
        }

        #[test]
        fn siphash_batch_equals_scalar(
            key in any::<[u8; 16]>(),
            msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..40),
            same_len in 0usize..40,
        ) {
            let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
            let mut out = vec![0u64; refs.len()];
            siphash24_batch(&key, &refs, &mut out);
            for (m, h) in refs.iter().zip(&out) {
                prop_assert_eq!(*h, siphash24(&key, m));
                prop_assert_eq!(*h, std_siphash24(&key, m));
            }
            // Equal lengths take the lockstep path.
            let fixed: Vec<Vec<u8>> = msgs.iter().map(|m| {
                let mut m = m.clone();
                m.resize(same_len, 0x5a);
                m
            }).collect();
            let refs: Vec<&[u8]> = fixed.iter().map(|m| m.as_slice()).collect();
            for lockstep in [false, true] {
                let mut out = vec![0u64; refs.len()];
                batch_impl(&key, &refs, &mut out, lockstep);
                for (m, h) in refs.iter().zip(&out) {
                    prop_assert_eq!(*h, std_siphash24(&key, m));
                }
            }
        }
    }
}
