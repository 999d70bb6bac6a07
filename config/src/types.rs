//! Value types of the schema that are more than a number or a string: CPU
//! lists, addresses with a prefix length, MAC addresses, TFO keys.
//!
//! Each parses from the text a lab engineer would type (`FromStr`), prints
//! back to the same form (`Display`), and (de)serializes as that text.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// Highest CPU number DPDK accepts: Debian's DPDK 22.11 is built with
/// `RTE_MAX_LCORE` = 128.
pub const MAX_LCORE: u32 = 127;

/// A value did not parse; says what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseValueError {
    expected: &'static str,
}

impl ParseValueError {
    /// What the text should have looked like (e.g. `an IPv4 or IPv6 address
    /// with a prefix length`).
    pub fn expected(&self) -> &'static str {
        self.expected
    }
}

impl fmt::Display for ParseValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}", self.expected)
    }
}

impl std::error::Error for ParseValueError {}

macro_rules! string_serde {
    ($t:ty, $what:expr) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(|e: ParseValueError| {
                    de::Error::custom(format!("{} = {s:?}: {e}", $what))
                })
            }
        }
    };
}

// ---------------------------------------------------------------------------
// CPU lists
// ---------------------------------------------------------------------------

/// A set of CPU (lcore) numbers, kept sorted. Written as a TOML array
/// (`[0, 1]`) or as a string in the `-l` syntax of DPDK and `taskset -c`
/// (`"0-1"`, `"0,2-3"`); printed in the string form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CoreList(Vec<u32>);

impl CoreList {
    /// What a core list looks like, for error messages.
    pub const EXPECTED: &'static str = "a list of CPU numbers from 0 to 127, as [0, 1] or \"0-1\"";

    /// A list of the given cores. `Err` names the first core listed twice
    /// or above [`MAX_LCORE`].
    pub fn new(cores: impl IntoIterator<Item = u32>) -> Result<CoreList, CoreListError> {
        let mut v: Vec<u32> = Vec::new();
        for c in cores {
            if c > MAX_LCORE {
                return Err(CoreListError::OutOfRange(c));
            }
            if v.contains(&c) {
                return Err(CoreListError::Duplicate(c));
            }
            v.push(c);
        }
        if v.is_empty() {
            return Err(CoreListError::Empty);
        }
        v.sort_unstable();
        Ok(CoreList(v))
    }

    /// The cores, ascending.
    pub fn as_slice(&self) -> &[u32] {
        &self.0
    }

    /// How many cores.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty (never, for a list built by `new`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `core` is in the list.
    pub fn contains(&self, core: u32) -> bool {
        self.0.contains(&core)
    }
}

/// Why a list of cores is not a [`CoreList`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreListError {
    /// No core at all.
    Empty,
    /// This core is listed twice.
    Duplicate(u32),
    /// This core is above [`MAX_LCORE`].
    OutOfRange(u32),
}

impl fmt::Display for CoreListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreListError::Empty => write!(f, "expected at least one core"),
            CoreListError::Duplicate(c) => {
                write!(f, "expected each core once ({c} is listed twice)")
            }
            CoreListError::OutOfRange(c) => write!(
                f,
                "expected CPU numbers from 0 to {MAX_LCORE} ({c} is above DPDK's RTE_MAX_LCORE)"
            ),
        }
    }
}

impl std::error::Error for CoreListError {}

impl FromStr for CoreList {
    type Err = ParseValueError;

    /// Parses `"0-1"`, `"0,2-3"`, `"3"` (spaces are ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = ParseValueError {
            expected: CoreList::EXPECTED,
        };
        let mut cores = Vec::new();
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        for part in s.split(',') {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a, b),
                None => (part, part),
            };
            let a: u32 = parse_decimal(a).ok_or(err.clone())?;
            let b: u32 = parse_decimal(b).ok_or(err.clone())?;
            if a > b || b > MAX_LCORE {
                return Err(err);
            }
            cores.extend(a..=b);
        }
        CoreList::new(cores).map_err(|_| err)
    }
}

fn parse_decimal(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl fmt::Display for CoreList {
    /// The compact `-l` form: `0-1`, `0,2-3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut i = 0;
        let v = &self.0;
        while i < v.len() {
            let start = v[i];
            let mut end = start;
            while i + 1 < v.len() && v[i + 1] == end + 1 {
                i += 1;
                end = v[i];
            }
            if start != v[0] {
                f.write_str(",")?;
            }
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

impl Serialize for CoreList {
    /// As an array of integers.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CoreList {
    /// From an array of integers or a `-l` string.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CoreList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(CoreList::EXPECTED)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<CoreList, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CoreList, A::Error> {
                let mut v = Vec::new();
                while let Some(c) = seq.next_element::<u32>()? {
                    v.push(c);
                }
                CoreList::new(v).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------

/// An interface address with its prefix length, as `ip addr add` takes it:
/// `10.0.1.2/24`, `fd00:1::2/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    /// The address itself.
    pub addr: IpAddr,
    /// Prefix length: 0..=32 for IPv4, 0..=128 for IPv6.
    pub prefix_len: u8,
}

impl IpPrefix {
    /// What an address with prefix looks like, for error messages.
    pub const EXPECTED: &'static str = "an IPv4 or IPv6 address with a prefix length";

    /// Whether `ip` is on this prefix's subnet.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpPrefix {
    type Err = ParseValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = ParseValueError {
            expected: IpPrefix::EXPECTED,
        };
        let (a, l) = s.split_once('/').ok_or(err.clone())?;
        let addr: IpAddr = a.parse().map_err(|_| err.clone())?;
        let prefix_len: u8 = parse_decimal(l)
            .and_then(|l| u8::try_from(l).ok())
            .ok_or(err.clone())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix_len > max || addr.is_unspecified() || addr.is_multicast() {
            return Err(err);
        }
        Ok(IpPrefix { addr, prefix_len })
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

string_serde!(IpPrefix, "address");

/// An Ethernet MAC address, `02:00:00:00:00:01` (`-` separators are
/// accepted too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// What a MAC address looks like, for error messages.
    pub const EXPECTED: &'static str = "a unicast MAC address such as \"02:00:00:00:00:01\"";
}

impl FromStr for MacAddr {
    type Err = ParseValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = ParseValueError {
            expected: MacAddr::EXPECTED,
        };
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(err);
        }
        let mut m = [0u8; 6];
        for (b, p) in m.iter_mut().zip(parts) {
            if p.len() != 2 {
                return Err(err);
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| err.clone())?;
        }
        // Bit 0 of the first octet: group (multicast/broadcast) address.
        if m[0] & 1 == 1 {
            return Err(err);
        }
        Ok(MacAddr(m))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

string_serde!(MacAddr, "mac");

// ---------------------------------------------------------------------------
// TFO keys
// ---------------------------------------------------------------------------

/// A 16-byte TCP Fast Open server key, in the byte order SipHash reads it:
/// the bytes of Linux's `TCP_FASTOPEN_KEY` socket option.
///
/// Written as 32 hex digits of those bytes (`000102…0e0f`), or in the form
/// `/proc/sys/net/ipv4/tcp_fastopen_key` prints, four dash-separated 32-bit
/// hex words (`03020100-07060504-0b0a0908-0f0e0d0c`). Linux stores each
/// word little-endian, so word `00010203` is bytes `03 02 01 00`; both
/// examples above are the same key. Printed as 32 hex digits. `Debug` does
/// not show the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TfoKey(pub [u8; 16]);

impl TfoKey {
    /// What a key looks like, for error messages.
    pub const EXPECTED: &'static str = "32 hex digits or four dash-separated 8-digit hex words";

    /// The four words of Linux's `tcp_fastopen_key` sysctl.
    pub fn linux_words(&self) -> [u32; 4] {
        let mut w = [0u32; 4];
        for (w, c) in w.iter_mut().zip(self.0.chunks_exact(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        w
    }

    /// The key as `net.ipv4.tcp_fastopen_key` takes and prints it.
    pub fn linux_text(&self) -> String {
        let w = self.linux_words();
        format!("{:08x}-{:08x}-{:08x}-{:08x}", w[0], w[1], w[2], w[3])
    }
}

impl fmt::Debug for TfoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secret material: do not print it in logs.
        f.write_str("TfoKey(..)")
    }
}

impl FromStr for TfoKey {
    type Err = ParseValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = ParseValueError {
            expected: TfoKey::EXPECTED,
        };
        let s = s.trim();
        let mut k = [0u8; 16];
        if s.contains('-') {
            let words: Vec<&str> = s.split('-').collect();
            if words.len() != 4 {
                return Err(err);
            }
            for (c, w) in k.chunks_exact_mut(4).zip(words) {
                // Linux reads each word with %x: 1 to 8 hex digits.
                if w.is_empty() || w.len() > 8 || !w.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(err);
                }
                let w = u32::from_str_radix(w, 16).map_err(|_| err.clone())?;
                c.copy_from_slice(&w.to_le_bytes());
            }
        } else {
            if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err);
            }
            for (i, b) in k.iter_mut().enumerate() {
                *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| err.clone())?;
            }
        }
        Ok(TfoKey(k))
    }
}

impl fmt::Display for TfoKey {
    /// 32 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

string_serde!(TfoKey, "key");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_lists() {
        let c: CoreList = "0-1".parse().unwrap();
        assert_eq!(c.as_slice(), &[0, 1]);
        let c: CoreList = "4, 0,2-3".parse().unwrap();
        assert_eq!(c.as_slice(), &[0, 2, 3, 4]);
        assert_eq!(c.to_string(), "0,2-4");
        assert_eq!(CoreList::new([5]).unwrap().to_string(), "5");
        assert!("1-0".parse::<CoreList>().is_err());
        assert!("0-128".parse::<CoreList>().is_err());
        assert!("0,0".parse::<CoreList>().is_err());
        assert!("".parse::<CoreList>().is_err());
        assert!("a".parse::<CoreList>().is_err());
        assert_eq!(CoreList::new([1, 1]), Err(CoreListError::Duplicate(1)));
    }

    #[test]
    fn prefixes() {
        let p: IpPrefix = "10.0.1.2/24".parse().unwrap();
        assert!(p.contains("10.0.1.200".parse().unwrap()));
        assert!(!p.contains("10.0.2.1".parse().unwrap()));
        assert!(!p.contains("fd00::1".parse().unwrap()));
        let p: IpPrefix = "fd00:1::2/64".parse().unwrap();
        assert!(p.contains("fd00:1::99".parse().unwrap()));
        assert!(!p.contains("fd00:2::99".parse().unwrap()));
        assert_eq!(p.to_string(), "fd00:1::2/64");
        let all: IpPrefix = "10.0.0.1/0".parse().unwrap();
        assert!(all.contains("192.168.1.1".parse().unwrap()));
        for bad in [
            "10.0.1.300/24",
            "10.0.1.2",
            "10.0.1.2/33",
            "::1/129",
            "0.0.0.0/0",
            "224.0.0.1/4",
            "10.0.1.2/+3",
        ] {
            assert!(bad.parse::<IpPrefix>().is_err(), "{bad}");
        }
    }

    #[test]
    fn macs() {
        let m: MacAddr = "02:AA:00:00:00:01".parse().unwrap();
        assert_eq!(m.to_string(), "02:aa:00:00:00:01");
        assert_eq!("02-aa-00-00-00-01".parse::<MacAddr>().unwrap(), m);
        assert!("ff:ff:ff:ff:ff:ff".parse::<MacAddr>().is_err());
        assert!("02:aa:00:00:00".parse::<MacAddr>().is_err());
        assert!("02:aa:00:00:00:1".parse::<MacAddr>().is_err());
    }

    #[test]
    fn tfo_keys_match_linux() {
        let a: TfoKey = "000102030405060708090a0b0c0d0e0f".parse().unwrap();
        let b: TfoKey = "03020100-07060504-0b0a0908-0f0e0d0c".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.linux_text(), "03020100-07060504-0b0a0908-0f0e0d0c");
        assert_eq!(a.to_string(), "000102030405060708090a0b0c0d0e0f");
        assert_eq!(format!("{a:?}"), "TfoKey(..)");
        let short: TfoKey = "1-2-3-4".parse().unwrap();
        assert_eq!(short.linux_words(), [1, 2, 3, 4]);
        for bad in [
            "zz",
            "000102030405060708090a0b0c0d0e",
            "1-2-3",
            "1-2-3-123456789",
            "0x01-2-3-4",
        ] {
            assert!(bad.parse::<TfoKey>().is_err(), "{bad}");
        }
    }
}
