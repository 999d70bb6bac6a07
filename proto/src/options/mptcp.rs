//! The MPTCP option, TCP option kind 30 (RFC 8684 §3).
//!
//! Owns: the layout of every MPTCP v1 subtype — MP_CAPABLE, MP_JOIN, DSS,
//! ADD_ADDR, REMOVE_ADDR, MP_PRIO, MP_FAIL, MP_FASTCLOSE, MP_TCPRST — with the
//! exact lengths of protocol.md §2, and unknown/private subtypes kept as bytes.
//! Must not touch: keys, tokens, HMACs (`crate::crypto`), or connection state;
//! deciding whether an MP_CAPABLE length fits the packet type (SYN, SYN/ACK,
//! ACK, data) is the receiver's job, this layer only checks that the length
//! is one the format defines.
//!
//! Parsing takes the whole option (kind and length bytes included), because
//! the length byte decides which fields are present. A known subtype with a
//! length its format does not define is `Error::Malformed`; an option cut
//! short by the buffer is `Error::Truncated`. `emit(parse(x)) == x` for
//! every `x` that parses, except that reserved bits outside the DSS flags
//! byte are written as zero (RFC 8684 says senders set them to zero).

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{expect_room, rd16, rd32, rd64, Writer};
use crate::{DataSeq, Error, Result};

/// TCP option kind of MPTCP (RFC 8684 §8).
pub const KIND_MPTCP: u8 = 30;

/// The MPTCP version this crate speaks (RFC 8684 = version 1).
pub const MPTCP_VERSION: u8 = 1;

/// Longest MPTCP option this crate keeps: all 40 option bytes.
pub const MAX_MPTCP_LEN: usize = super::MAX_OPTIONS_LEN;

/// MPTCP option subtypes (RFC 8684 §8, "MPTCP Option Subtypes" registry).
pub mod subtype {
    /// Multipath Capable.
    pub const MP_CAPABLE: u8 = 0x0;
    /// Join Connection.
    pub const MP_JOIN: u8 = 0x1;
    /// Data Sequence Signal (Data ACK and data sequence mapping).
    pub const DSS: u8 = 0x2;
    /// Add Address.
    pub const ADD_ADDR: u8 = 0x3;
    /// Remove Address.
    pub const REMOVE_ADDR: u8 = 0x4;
    /// Change Subflow Priority.
    pub const MP_PRIO: u8 = 0x5;
    /// Fallback.
    pub const MP_FAIL: u8 = 0x6;
    /// Fast Close.
    pub const MP_FASTCLOSE: u8 = 0x7;
    /// Subflow Reset.
    pub const MP_TCPRST: u8 = 0x8;
    /// Reserved for private use.
    pub const PRIVATE: u8 = 0xf;
}

/// Option lengths (kind and length bytes included) of the fixed-size forms.
pub mod len {
    /// MP_CAPABLE on a SYN: version and flags only.
    pub const MP_CAPABLE_SYN: usize = 4;
    /// MP_CAPABLE on a SYN/ACK: the sender's key.
    pub const MP_CAPABLE_SYNACK: usize = 12;
    /// MP_CAPABLE on the third ACK: both keys.
    pub const MP_CAPABLE_ACK: usize = 20;
    /// MP_CAPABLE on the first data: both keys and the data-level length.
    pub const MP_CAPABLE_DATA: usize = 22;
    /// As [`MP_CAPABLE_DATA`] with a DSS checksum.
    pub const MP_CAPABLE_DATA_CSUM: usize = 24;
    /// MP_JOIN on a SYN.
    pub const MP_JOIN_SYN: usize = 12;
    /// MP_JOIN on a SYN/ACK.
    pub const MP_JOIN_SYNACK: usize = 16;
    /// MP_JOIN on the third ACK.
    pub const MP_JOIN_ACK: usize = 24;
    /// MP_PRIO (RFC 8684 form, without address id).
    pub const MP_PRIO: usize = 3;
    /// MP_FAIL.
    pub const MP_FAIL: usize = 12;
    /// MP_FASTCLOSE.
    pub const MP_FASTCLOSE: usize = 12;
    /// MP_TCPRST.
    pub const MP_TCPRST: usize = 4;
    /// REMOVE_ADDR without ids; one byte per id follows.
    pub const REMOVE_ADDR_BASE: usize = 3;
}

// ---------------------------------------------------------------------------
// MP_CAPABLE
// ---------------------------------------------------------------------------

/// The flags byte of MP_CAPABLE (`A B C D E F G H`, bit 7 first).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MpcFlags(pub u8);

impl MpcFlags {
    /// A: DSS checksums required.
    pub const CHECKSUM: u8 = 0x80;
    /// B: extensibility; must be 0 in version 1.
    pub const EXTENSIBILITY: u8 = 0x40;
    /// C: do not open more subflows to the sender's source address/port.
    pub const NO_SUBFLOWS_TO_SOURCE: u8 = 0x20;
    /// H: HMAC-SHA256, the only crypto algorithm defined.
    pub const HMAC_SHA256: u8 = 0x01;
    /// D..H: the crypto-algorithm bits.
    pub const CRYPTO_MASK: u8 = 0x1f;
    /// What Linux sends by default: HMAC-SHA256 only (`1e 04 01 01`).
    pub const LINUX_DEFAULT: MpcFlags = MpcFlags(Self::HMAC_SHA256);

    /// A is set: the sender requires DSS checksums.
    #[inline]
    pub fn checksum_required(self) -> bool {
        self.0 & Self::CHECKSUM != 0
    }
    /// B is set (unknown extension: the option is to be ignored).
    #[inline]
    pub fn extensibility(self) -> bool {
        self.0 & Self::EXTENSIBILITY != 0
    }
    /// C is set: no more subflows to the sender's source address/port.
    #[inline]
    pub fn no_subflows_to_source(self) -> bool {
        self.0 & Self::NO_SUBFLOWS_TO_SOURCE != 0
    }
    /// H is set: HMAC-SHA256 offered or chosen.
    #[inline]
    pub fn hmac_sha256(self) -> bool {
        self.0 & Self::HMAC_SHA256 != 0
    }
    /// The crypto bits D..H.
    #[inline]
    pub fn crypto(self) -> u8 {
        self.0 & Self::CRYPTO_MASK
    }
    /// RFC 8684 §3.1: an option with B set, or with no crypto bit we know,
    /// is not usable (the handshake falls back to TCP). Like Linux, accept
    /// only B = 0 with exactly HMAC-SHA256 among D..H.
    #[inline]
    pub fn is_acceptable(self) -> bool {
        !self.extensibility() && self.crypto() == Self::HMAC_SHA256
    }
}

impl fmt::Debug for MpcFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MpcFlags({:#04x}", self.0)?;
        for (bit, name) in [
            (Self::CHECKSUM, " A"),
            (Self::EXTENSIBILITY, " B"),
            (Self::NO_SUBFLOWS_TO_SOURCE, " C"),
            (Self::HMAC_SHA256, " H"),
        ] {
            if self.0 & bit != 0 {
                f.write_str(name)?;
            }
        }
        f.write_str(")")
    }
}

/// MP_CAPABLE (subtype 0, RFC 8684 §3.1).
///
/// Which fields are present follows from the length: 4 (SYN) none; 12
/// (SYN/ACK) `sender_key`; 20 (third ACK) both keys; 22 both keys and
/// `data_len`; 24 also `checksum`. [`MpCapable::buffer_len`] counts the
/// fields that are `Some`, and `emit` writes them in wire order, so a value
/// built with the constructors below round-trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MpCapable {
    /// Version (low nibble of byte 2); 1 for RFC 8684.
    pub version: u8,
    /// The flags byte.
    pub flags: MpcFlags,
    /// Key of the option's sender (length ≥ 12).
    pub sender_key: Option<u64>,
    /// Key of the option's receiver (length ≥ 20).
    pub receiver_key: Option<u64>,
    /// Data-level length of the implicit first mapping (length ≥ 22).
    pub data_len: Option<u16>,
    /// DSS checksum of that mapping (length 24).
    pub checksum: Option<u16>,
}

impl MpCapable {
    /// The SYN form (length 4).
    pub fn syn(flags: MpcFlags) -> Self {
        MpCapable {
            version: MPTCP_VERSION,
            flags,
            sender_key: None,
            receiver_key: None,
            data_len: None,
            checksum: None,
        }
    }

    /// The SYN/ACK form (length 12) carrying the responder's key.
    pub fn synack(flags: MpcFlags, key: u64) -> Self {
        MpCapable {
            sender_key: Some(key),
            ..Self::syn(flags)
        }
    }

    /// The third-ACK form (length 20): initiator's key, then responder's.
    pub fn ack(flags: MpcFlags, sender_key: u64, receiver_key: u64) -> Self {
        MpCapable {
            sender_key: Some(sender_key),
            receiver_key: Some(receiver_key),
            ..Self::syn(flags)
        }
    }

    /// The first-data form (length 22, or 24 with a checksum).
    pub fn data(
        flags: MpcFlags,
        sender_key: u64,
        receiver_key: u64,
        data_len: u16,
        checksum: Option<u16>,
    ) -> Self {
        MpCapable {
            data_len: Some(data_len),
            checksum,
            ..Self::ack(flags, sender_key, receiver_key)
        }
    }

    fn parse(opt: &[u8]) -> Result<Self> {
        let n = opt.len();
        // RFC 8684 §3.1: the option has exactly these sizes (Figure 4).
        if !matches!(n, 4 | 12 | 20 | 22 | 24) {
            return Err(Error::Malformed("MP_CAPABLE length"));
        }
        Ok(MpCapable {
            version: opt[2] & 0x0f,
            flags: MpcFlags(opt[3]),
            sender_key: if n >= 12 { Some(rd64(opt, 4)?) } else { None },
            receiver_key: if n >= 20 { Some(rd64(opt, 12)?) } else { None },
            data_len: if n >= 22 { Some(rd16(opt, 20)?) } else { None },
            checksum: if n >= 24 { Some(rd16(opt, 22)?) } else { None },
        })
    }

    /// Length of the option on the wire.
    pub fn buffer_len(&self) -> usize {
        4 + 8 * self.sender_key.is_some() as usize
            + 8 * self.receiver_key.is_some() as usize
            + 2 * self.data_len.is_some() as usize
            + 2 * self.checksum.is_some() as usize
    }

    /// True when the present fields form one of the five defined lengths
    /// (e.g. not a receiver key without a sender key).
    pub fn is_well_formed(&self) -> bool {
        let s = self.sender_key.is_some();
        let r = self.receiver_key.is_some();
        let d = self.data_len.is_some();
        let c = self.checksum.is_some();
        (!r || s) && (!d || r) && (!c || d) && self.version <= 0x0f
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.u8((subtype::MP_CAPABLE << 4) | (self.version & 0x0f));
        w.u8(self.flags.0);
        for k in [self.sender_key, self.receiver_key].into_iter().flatten() {
            w.u64(k);
        }
        for v in [self.data_len, self.checksum].into_iter().flatten() {
            w.u16(v);
        }
    }
}

// ---------------------------------------------------------------------------
// MP_JOIN
// ---------------------------------------------------------------------------

/// MP_JOIN (subtype 1, RFC 8684 §3.2), one variant per handshake packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MpJoin {
    /// On the SYN (length 12).
    Syn {
        /// B: the sender wants this subflow as backup.
        backup: bool,
        /// Address id of the sender's source address.
        addr_id: u8,
        /// Token of the receiver's key.
        token: u32,
        /// Sender's random number.
        nonce: u32,
    },
    /// On the SYN/ACK (length 16).
    SynAck {
        /// B: the sender wants this subflow as backup.
        backup: bool,
        /// Address id of the sender's source address.
        addr_id: u8,
        /// Leftmost 64 bits of the sender's HMAC.
        hmac: u64,
        /// Sender's random number.
        nonce: u32,
    },
    /// On the third ACK (length 24).
    Ack {
        /// Leftmost 160 bits of the sender's HMAC.
        hmac: [u8; 20],
    },
}

impl MpJoin {
    fn parse(opt: &[u8]) -> Result<Self> {
        let backup = opt.get(2).is_some_and(|b| b & 0x01 != 0);
        // RFC 8684 §3.2: the three forms are told apart by their length.
        match opt.len() {
            len::MP_JOIN_SYN => Ok(MpJoin::Syn {
                backup,
                addr_id: opt[3],
                token: rd32(opt, 4)?,
                nonce: rd32(opt, 8)?,
            }),
            len::MP_JOIN_SYNACK => Ok(MpJoin::SynAck {
                backup,
                addr_id: opt[3],
                hmac: rd64(opt, 4)?,
                nonce: rd32(opt, 12)?,
            }),
            len::MP_JOIN_ACK => {
                let mut hmac = [0u8; 20];
                hmac.copy_from_slice(opt.get(4..24).ok_or(Error::Truncated)?);
                Ok(MpJoin::Ack { hmac })
            }
            _ => Err(Error::Malformed("MP_JOIN length")),
        }
    }

    /// Length of the option on the wire.
    pub fn buffer_len(&self) -> usize {
        match self {
            MpJoin::Syn { .. } => len::MP_JOIN_SYN,
            MpJoin::SynAck { .. } => len::MP_JOIN_SYNACK,
            MpJoin::Ack { .. } => len::MP_JOIN_ACK,
        }
    }

    /// The backup flag, where the form has one.
    pub fn backup(&self) -> Option<bool> {
        match *self {
            MpJoin::Syn { backup, .. } | MpJoin::SynAck { backup, .. } => Some(backup),
            MpJoin::Ack { .. } => None,
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        let head = subtype::MP_JOIN << 4;
        match *self {
            MpJoin::Syn {
                backup,
                addr_id,
                token,
                nonce,
            } => {
                w.u8(head | backup as u8);
                w.u8(addr_id);
                w.u32(token);
                w.u32(nonce);
            }
            MpJoin::SynAck {
                backup,
                addr_id,
                hmac,
                nonce,
            } => {
                w.u8(head | backup as u8);
                w.u8(addr_id);
                w.u64(hmac);
                w.u32(nonce);
            }
            MpJoin::Ack { hmac } => {
                w.u8(head);
                w.u8(0);
                w.bytes(&hmac);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// DSS
// ---------------------------------------------------------------------------

/// A Data ACK as carried by a DSS option: its wire width is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DssAck {
    /// 4-byte Data ACK (flag `a` clear): the low 32 bits.
    Ack32(u32),
    /// 8-byte Data ACK (flag `a` set).
    Ack64(u64),
}

impl DssAck {
    /// The full 64-bit Data ACK; a 32-bit one is expanded next to
    /// `reference` (RFC 8684 §3.3.1, see [`DataSeq::expand`]).
    #[inline]
    pub fn expand(self, reference: DataSeq) -> DataSeq {
        match self {
            DssAck::Ack32(v) => DataSeq::expand(reference, v),
            DssAck::Ack64(v) => DataSeq(v),
        }
    }
    /// True for the 8-byte form.
    #[inline]
    pub fn is_64bit(self) -> bool {
        matches!(self, DssAck::Ack64(_))
    }
    /// Bytes on the wire: 4 or 8.
    #[inline]
    pub fn wire_len(self) -> usize {
        if self.is_64bit() {
            8
        } else {
            4
        }
    }
}

/// A mapping's data sequence number as carried by DSS: width kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DssDsn {
    /// 4-byte DSN (flag `m` clear): the low 32 bits.
    Dsn32(u32),
    /// 8-byte DSN (flag `m` set).
    Dsn64(u64),
}

impl DssDsn {
    /// The full 64-bit DSN; a 32-bit one is expanded next to `reference`.
    #[inline]
    pub fn expand(self, reference: DataSeq) -> DataSeq {
        match self {
            DssDsn::Dsn32(v) => DataSeq::expand(reference, v),
            DssDsn::Dsn64(v) => DataSeq(v),
        }
    }
    /// True for the 8-byte form.
    #[inline]
    pub fn is_64bit(self) -> bool {
        matches!(self, DssDsn::Dsn64(_))
    }
    /// Bytes on the wire: 4 or 8.
    #[inline]
    pub fn wire_len(self) -> usize {
        if self.is_64bit() {
            8
        } else {
            4
        }
    }
}

/// The data sequence mapping of a DSS option (flag `M`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DssMapping {
    /// Data sequence number of the mapping's first byte.
    pub dsn: DssDsn,
    /// Relative subflow sequence number of that byte.
    pub ssn: u32,
    /// Data-level length (a DATA_FIN counts one); 0 = infinite mapping.
    pub data_len: u16,
    /// DSS checksum, present iff checksums were negotiated.
    pub checksum: Option<u16>,
}

impl DssMapping {
    /// The 64-bit DSN, expanding a 32-bit one next to `reference`.
    #[inline]
    pub fn expand_dsn(&self, reference: DataSeq) -> DataSeq {
        self.dsn.expand(reference)
    }
    /// RFC 8684 §3.3.1: data-level length 0 is the infinite mapping.
    #[inline]
    pub fn is_infinite(&self) -> bool {
        self.data_len == 0
    }
    /// Bytes on the wire: DSN, SSN, length and the optional checksum.
    #[inline]
    pub fn wire_len(&self) -> usize {
        self.dsn.wire_len() + 4 + 2 + 2 * self.checksum.is_some() as usize
    }
}

/// DSS (subtype 2, RFC 8684 §3.3): Data ACK and/or mapping, DATA_FIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dss {
    /// F: the mapping ends the sender's data stream (DATA_FIN).
    pub data_fin: bool,
    /// A (and `a` for the width): the Data ACK.
    pub data_ack: Option<DssAck>,
    /// M (and `m` for the width): the mapping.
    pub mapping: Option<DssMapping>,
    /// Bits of the flags byte that mean nothing here — `a` without `A`,
    /// `m` without `M`, the three reserved bits — kept so that a received
    /// option re-emits byte for byte. Build with 0.
    pub ignored_flags: u8,
}

impl Dss {
    /// Flag F (DATA_FIN).
    pub const FLAG_DATA_FIN: u8 = 0x10;
    /// Flag m (DSN is 8 bytes).
    pub const FLAG_DSN64: u8 = 0x08;
    /// Flag M (mapping present).
    pub const FLAG_MAPPING: u8 = 0x04;
    /// Flag a (Data ACK is 8 bytes).
    pub const FLAG_ACK64: u8 = 0x02;
    /// Flag A (Data ACK present).
    pub const FLAG_ACK: u8 = 0x01;

    /// A DSS with only a Data ACK.
    pub fn ack(data_ack: DssAck) -> Self {
        Dss {
            data_ack: Some(data_ack),
            ..Dss::default()
        }
    }

    /// A DSS with an optional Data ACK and a mapping.
    pub fn with_mapping(data_ack: Option<DssAck>, mapping: DssMapping, data_fin: bool) -> Self {
        Dss {
            data_fin,
            data_ack,
            mapping: Some(mapping),
            ignored_flags: 0,
        }
    }

    /// The flags byte as it goes on the wire.
    pub fn flags(&self) -> u8 {
        let mut f = 0u8;
        let mut meaningless = 0xe0;
        if self.data_fin {
            f |= Self::FLAG_DATA_FIN;
        }
        match self.data_ack {
            Some(a) => {
                f |= Self::FLAG_ACK;
                if a.is_64bit() {
                    f |= Self::FLAG_ACK64;
                }
            }
            None => meaningless |= Self::FLAG_ACK64,
        }
        match self.mapping {
            Some(m) => {
                f |= Self::FLAG_MAPPING;
                if m.dsn.is_64bit() {
                    f |= Self::FLAG_DSN64;
                }
            }
            None => meaningless |= Self::FLAG_DSN64,
        }
        f | (self.ignored_flags & meaningless)
    }

    fn parse(opt: &[u8]) -> Result<Self> {
        let flags = *opt.get(3).ok_or(Error::Malformed("DSS length"))?;
        let has_ack = flags & Self::FLAG_ACK != 0;
        let has_map = flags & Self::FLAG_MAPPING != 0;
        let ack_len = match (has_ack, flags & Self::FLAG_ACK64 != 0) {
            (false, _) => 0,
            (true, false) => 4,
            (true, true) => 8,
        };
        let dsn_len = match (has_map, flags & Self::FLAG_DSN64 != 0) {
            (false, _) => 0,
            (true, false) => 4,
            (true, true) => 8,
        };
        // RFC 8684 §3.3: the length is fixed by the flags; with a mapping it
        // may carry two more bytes, the checksum, whose presence is inferred
        // from the length (it follows the MP_CAPABLE negotiation).
        let base = 4 + ack_len + if has_map { dsn_len + 6 } else { 0 };
        let has_csum = if opt.len() == base {
            false
        } else if has_map && opt.len() == base + 2 {
            true
        } else {
            return Err(Error::Malformed("DSS length does not match its flags"));
        };
        let mut at = 4;
        let data_ack = match ack_len {
            4 => Some(DssAck::Ack32(rd32(opt, at)?)),
            8 => Some(DssAck::Ack64(rd64(opt, at)?)),
            _ => None,
        };
        at += ack_len;
        let mapping = if has_map {
            let dsn = if dsn_len == 8 {
                DssDsn::Dsn64(rd64(opt, at)?)
            } else {
                DssDsn::Dsn32(rd32(opt, at)?)
            };
            at += dsn_len;
            let ssn = rd32(opt, at)?;
            let data_len = rd16(opt, at + 4)?;
            let checksum = if has_csum {
                Some(rd16(opt, at + 6)?)
            } else {
                None
            };
            Some(DssMapping {
                dsn,
                ssn,
                data_len,
                checksum,
            })
        } else {
            None
        };
        let mut dss = Dss {
            data_fin: flags & Self::FLAG_DATA_FIN != 0,
            data_ack,
            mapping,
            ignored_flags: 0,
        };
        let meaningless = 0xe0
            | if has_ack { 0 } else { Self::FLAG_ACK64 }
            | if has_map { 0 } else { Self::FLAG_DSN64 };
        dss.ignored_flags = flags & meaningless;
        Ok(dss)
    }

    /// Length of the option on the wire (RFC 8684 §3.3 length rule).
    pub fn buffer_len(&self) -> usize {
        4 + self.data_ack.map_or(0, DssAck::wire_len) + self.mapping.map_or(0, |m| m.wire_len())
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.u8(subtype::DSS << 4);
        w.u8(self.flags());
        match self.data_ack {
            Some(DssAck::Ack32(v)) => w.u32(v),
            Some(DssAck::Ack64(v)) => w.u64(v),
            None => {}
        }
        if let Some(m) = self.mapping {
            match m.dsn {
                DssDsn::Dsn32(v) => w.u32(v),
                DssDsn::Dsn64(v) => w.u64(v),
            }
            w.u32(m.ssn);
            w.u16(m.data_len);
            if let Some(c) = m.checksum {
                w.u16(c);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// ADD_ADDR
// ---------------------------------------------------------------------------

/// ADD_ADDR (subtype 3, RFC 8684 §3.4.1).
///
/// The address family and port presence follow from (echo, length):
/// E=0: 16/18 IPv4, 28/30 IPv6 (with HMAC); E=1: 8/10 IPv4, 20/22 IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddAddr {
    /// E: this is the echo of a received ADD_ADDR (no HMAC).
    pub echo: bool,
    /// Address id.
    pub addr_id: u8,
    /// The address announced.
    pub addr: IpAddr,
    /// Port, when it differs from the subflow's.
    pub port: Option<u16>,
    /// Rightmost 64 bits of the HMAC; present iff `echo` is false.
    pub hmac: Option<u64>,
}

impl AddAddr {
    fn parse(opt: &[u8]) -> Result<Self> {
        let echo = opt.get(2).is_some_and(|b| b & 0x01 != 0);
        // RFC 8684 §3.4.1: the length tells the family and whether a port
        // is present; the HMAC is there exactly when E = 0.
        let (v6, has_port) = match (echo, opt.len()) {
            (false, 16) | (true, 8) => (false, false),
            (false, 18) | (true, 10) => (false, true),
            (false, 28) | (true, 20) => (true, false),
            (false, 30) | (true, 22) => (true, true),
            _ => return Err(Error::Malformed("ADD_ADDR length")),
        };
        let addr_id = opt[3];
        let mut at = 4;
        let addr = if v6 {
            let mut o = [0u8; 16];
            o.copy_from_slice(opt.get(4..20).ok_or(Error::Truncated)?);
            at += 16;
            IpAddr::V6(Ipv6Addr::from(o))
        } else {
            at += 4;
            IpAddr::V4(Ipv4Addr::from(rd32(opt, 4)?))
        };
        let port = if has_port {
            at += 2;
            Some(rd16(opt, at - 2)?)
        } else {
            None
        };
        let hmac = if echo { None } else { Some(rd64(opt, at)?) };
        Ok(AddAddr {
            echo,
            addr_id,
            addr,
            port,
            hmac,
        })
    }

    /// Length of the option on the wire.
    pub fn buffer_len(&self) -> usize {
        4 + match self.addr {
            IpAddr::V4(_) => 4,
            IpAddr::V6(_) => 16,
        } + 2 * self.port.is_some() as usize
            + 8 * self.hmac.is_some() as usize
    }

    /// True when the HMAC is present exactly when `echo` is false.
    pub fn is_well_formed(&self) -> bool {
        self.echo == self.hmac.is_none()
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.u8((subtype::ADD_ADDR << 4) | self.echo as u8);
        w.u8(self.addr_id);
        match self.addr {
            IpAddr::V4(a) => w.bytes(&a.octets()),
            IpAddr::V6(a) => w.bytes(&a.octets()),
        }
        if let Some(p) = self.port {
            w.u16(p);
        }
        if let Some(h) = self.hmac {
            w.u64(h);
        }
    }
}

// ---------------------------------------------------------------------------
// REMOVE_ADDR
// ---------------------------------------------------------------------------

/// REMOVE_ADDR (subtype 4, RFC 8684 §3.4.2): 1..=8 address ids.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RemoveAddr {
    ids: [u8; RemoveAddr::MAX_IDS],
    count: u8,
}

impl RemoveAddr {
    /// Most ids in one option (Linux's limit; the option has room for more).
    pub const MAX_IDS: usize = 8;

    /// An option removing `ids`; `Malformed` unless 1..=8 ids are given.
    pub fn new(ids: &[u8]) -> Result<Self> {
        if ids.is_empty() || ids.len() > Self::MAX_IDS {
            return Err(Error::Malformed("REMOVE_ADDR must carry 1..=8 ids"));
        }
        let mut r = RemoveAddr {
            ids: [0; Self::MAX_IDS],
            count: ids.len() as u8,
        };
        r.ids[..ids.len()].copy_from_slice(ids);
        Ok(r)
    }

    /// The address ids.
    pub fn ids(&self) -> &[u8] {
        &self.ids[..self.count as usize]
    }

    /// Length of the option on the wire.
    pub fn buffer_len(&self) -> usize {
        len::REMOVE_ADDR_BASE + self.count as usize
    }

    fn parse(opt: &[u8]) -> Result<Self> {
        // The length is 3 + n; like Linux accept n = 1..=8.
        match opt.get(3..) {
            Some(ids) if !ids.is_empty() && ids.len() <= Self::MAX_IDS => Self::new(ids),
            _ => Err(Error::Malformed("REMOVE_ADDR length")),
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.u8(subtype::REMOVE_ADDR << 4);
        w.bytes(self.ids());
    }
}

impl fmt::Debug for RemoveAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RemoveAddr").field(&self.ids()).finish()
    }
}

// ---------------------------------------------------------------------------
// MP_TCPRST
// ---------------------------------------------------------------------------

/// Reason code of MP_TCPRST (RFC 8684 §3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MpTcpRstReason {
    /// 0x00: unspecified error.
    Unspecified,
    /// 0x01: MPTCP-specific error.
    MptcpError,
    /// 0x02: lack of resources.
    LackOfResources,
    /// 0x03: administratively prohibited.
    AdministrativelyProhibited,
    /// 0x04: too much outstanding data.
    TooMuchOutstandingData,
    /// 0x05: unacceptable performance.
    UnacceptablePerformance,
    /// 0x06: middlebox interference.
    MiddleboxInterference,
    /// Any other code, kept as received.
    Unknown(u8),
}

impl From<u8> for MpTcpRstReason {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::Unspecified,
            1 => Self::MptcpError,
            2 => Self::LackOfResources,
            3 => Self::AdministrativelyProhibited,
            4 => Self::TooMuchOutstandingData,
            5 => Self::UnacceptablePerformance,
            6 => Self::MiddleboxInterference,
            x => Self::Unknown(x),
        }
    }
}

impl From<MpTcpRstReason> for u8 {
    fn from(r: MpTcpRstReason) -> u8 {
        match r {
            MpTcpRstReason::Unspecified => 0,
            MpTcpRstReason::MptcpError => 1,
            MpTcpRstReason::LackOfResources => 2,
            MpTcpRstReason::AdministrativelyProhibited => 3,
            MpTcpRstReason::TooMuchOutstandingData => 4,
            MpTcpRstReason::UnacceptablePerformance => 5,
            MpTcpRstReason::MiddleboxInterference => 6,
            MpTcpRstReason::Unknown(x) => x,
        }
    }
}

// ---------------------------------------------------------------------------
// Unknown subtypes
// ---------------------------------------------------------------------------

/// An MPTCP option of an unknown or private subtype, kept as bytes.
///
/// protocol.md §2: a subtype the receiver does not understand is ignored; we
/// keep its bytes so that it can be logged or forwarded unchanged.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MptcpUnknown {
    len: u8,
    data: [u8; MAX_MPTCP_LEN - 2],
}

impl MptcpUnknown {
    /// Keeps `option` (kind and length bytes included); `Malformed` if it is
    /// shorter than 3 bytes or longer than 40.
    pub fn new(option: &[u8]) -> Result<Self> {
        if option.len() < 3 || option.len() > MAX_MPTCP_LEN {
            return Err(Error::Malformed("MPTCP option length"));
        }
        let mut u = MptcpUnknown {
            len: option.len() as u8,
            data: [0; MAX_MPTCP_LEN - 2],
        };
        u.data[..option.len() - 2].copy_from_slice(&option[2..]);
        Ok(u)
    }
    /// The subtype (high nibble of byte 2).
    pub fn subtype(&self) -> u8 {
        self.data[0] >> 4
    }
    /// The option bytes after kind and length (subtype byte first).
    pub fn body(&self) -> &[u8] {
        &self.data[..self.len as usize - 2]
    }
    /// Length of the option on the wire.
    pub fn buffer_len(&self) -> usize {
        self.len as usize
    }
}

impl fmt::Debug for MptcpUnknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MptcpUnknown")
            .field("subtype", &self.subtype())
            .field("body", &self.body())
            .finish()
    }
}

// ---------------------------------------------------------------------------
// The option
// ---------------------------------------------------------------------------

/// One MPTCP option (TCP option kind 30), any subtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MptcpOption {
    /// MP_CAPABLE (subtype 0).
    MpCapable(MpCapable),
    /// MP_JOIN (subtype 1).
    MpJoin(MpJoin),
    /// DSS (subtype 2).
    Dss(Dss),
    /// ADD_ADDR (subtype 3).
    AddAddr(AddAddr),
    /// REMOVE_ADDR (subtype 4).
    RemoveAddr(RemoveAddr),
    /// MP_PRIO (subtype 5, length 3).
    MpPrio {
        /// B: the receiver should treat the subflow as backup.
        backup: bool,
    },
    /// MP_FAIL (subtype 6, length 12).
    MpFail {
        /// DSN of the failed mapping (always 64-bit).
        dsn: u64,
    },
    /// MP_FASTCLOSE (subtype 7, length 12).
    MpFastclose {
        /// The option receiver's key.
        receiver_key: u64,
    },
    /// MP_TCPRST (subtype 8, length 4).
    MpTcpRst {
        /// U V W T (low nibble of byte 2); T = 0x01 transient.
        flags: u8,
        /// Reason code.
        reason: MpTcpRstReason,
    },
    /// Unknown or private subtype.
    Unknown(MptcpUnknown),
}

impl MptcpOption {
    /// MP_TCPRST flag T: the error is transient, a retry may succeed.
    pub const TCPRST_TRANSIENT: u8 = 0x01;

    /// Parses one whole MPTCP option: `option[0]` is kind 30, `option[1]`
    /// the length, and the option is `option[..length]` (bytes after it are
    /// not looked at).
    pub fn parse(option: &[u8]) -> Result<Self> {
        if option.len() < 2 {
            return Err(Error::Truncated);
        }
        if option[0] != KIND_MPTCP {
            return Err(Error::Malformed("not an MPTCP option"));
        }
        let n = option[1] as usize;
        if n < 3 {
            // Kind and length only: no room for the subtype.
            return Err(Error::Malformed("MPTCP option length"));
        }
        let opt = option.get(..n).ok_or(Error::Truncated)?;
        Self::parse_exact(opt)
    }

    /// Parses an MPTCP option given the bytes after its kind and length
    /// byte (subtype byte first); the length is `body.len() + 2`.
    pub fn parse_body(body: &[u8]) -> Result<Self> {
        let mut buf = [0u8; MAX_MPTCP_LEN];
        let n = body.len() + 2;
        if body.is_empty() || n > MAX_MPTCP_LEN {
            return Err(Error::Malformed("MPTCP option length"));
        }
        buf[0] = KIND_MPTCP;
        buf[1] = n as u8;
        buf[2..n].copy_from_slice(body);
        Self::parse_exact(&buf[..n])
    }

    fn parse_exact(opt: &[u8]) -> Result<Self> {
        let n = opt.len();
        let st = opt[2] >> 4;
        Ok(match st {
            subtype::MP_CAPABLE => MptcpOption::MpCapable(MpCapable::parse(opt)?),
            subtype::MP_JOIN => MptcpOption::MpJoin(MpJoin::parse(opt)?),
            subtype::DSS => MptcpOption::Dss(Dss::parse(opt)?),
            subtype::ADD_ADDR => MptcpOption::AddAddr(AddAddr::parse(opt)?),
            subtype::REMOVE_ADDR => MptcpOption::RemoveAddr(RemoveAddr::parse(opt)?),
            subtype::MP_PRIO => {
                // RFC 8684 §3.3.8: length 3; the RFC 6824 form with an
                // address id (length 4) no longer exists.
                if n != len::MP_PRIO {
                    return Err(Error::Malformed("MP_PRIO length"));
                }
                MptcpOption::MpPrio {
                    backup: opt[2] & 0x01 != 0,
                }
            }
            subtype::MP_FAIL => {
                // RFC 8684 §3.7: the DSN is always 64 bits.
                if n != len::MP_FAIL {
                    return Err(Error::Malformed("MP_FAIL length"));
                }
                MptcpOption::MpFail { dsn: rd64(opt, 4)? }
            }
            subtype::MP_FASTCLOSE => {
                if n != len::MP_FASTCLOSE {
                    return Err(Error::Malformed("MP_FASTCLOSE length"));
                }
                MptcpOption::MpFastclose {
                    receiver_key: rd64(opt, 4)?,
                }
            }
            subtype::MP_TCPRST => {
                if n != len::MP_TCPRST {
                    return Err(Error::Malformed("MP_TCPRST length"));
                }
                MptcpOption::MpTcpRst {
                    flags: opt[2] & 0x0f,
                    reason: MpTcpRstReason::from(opt[3]),
                }
            }
            // protocol.md §2: unknown subtypes (and the private 0xF) are
            // ignored by the receiver; keep them as bytes.
            _ => MptcpOption::Unknown(MptcpUnknown::new(opt)?),
        })
    }

    /// The subtype number.
    pub fn subtype(&self) -> u8 {
        match self {
            MptcpOption::MpCapable(_) => subtype::MP_CAPABLE,
            MptcpOption::MpJoin(_) => subtype::MP_JOIN,
            MptcpOption::Dss(_) => subtype::DSS,
            MptcpOption::AddAddr(_) => subtype::ADD_ADDR,
            MptcpOption::RemoveAddr(_) => subtype::REMOVE_ADDR,
            MptcpOption::MpPrio { .. } => subtype::MP_PRIO,
            MptcpOption::MpFail { .. } => subtype::MP_FAIL,
            MptcpOption::MpFastclose { .. } => subtype::MP_FASTCLOSE,
            MptcpOption::MpTcpRst { .. } => subtype::MP_TCPRST,
            MptcpOption::Unknown(u) => u.subtype(),
        }
    }

    /// Length of the option on the wire, kind and length bytes included.
    pub fn buffer_len(&self) -> usize {
        match self {
            MptcpOption::MpCapable(o) => o.buffer_len(),
            MptcpOption::MpJoin(o) => o.buffer_len(),
            MptcpOption::Dss(o) => o.buffer_len(),
            MptcpOption::AddAddr(o) => o.buffer_len(),
            MptcpOption::RemoveAddr(o) => o.buffer_len(),
            MptcpOption::MpPrio { .. } => len::MP_PRIO,
            MptcpOption::MpFail { .. } => len::MP_FAIL,
            MptcpOption::MpFastclose { .. } => len::MP_FASTCLOSE,
            MptcpOption::MpTcpRst { .. } => len::MP_TCPRST,
            MptcpOption::Unknown(o) => o.buffer_len(),
        }
    }

    /// Writes the option into `buf`, returning its length.
    ///
    /// # Panics
    /// If `buf` is shorter than [`buffer_len`](Self::buffer_len); use
    /// [`try_emit`](Self::try_emit) to get an error instead.
    #[track_caller]
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        expect_room(self.try_emit(buf))
    }

    /// Writes the option into `buf`, returning its length, or
    /// `BufferTooSmall`.
    pub fn try_emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        let mut w = Writer::new(buf, n)?;
        w.u8(KIND_MPTCP);
        w.u8(n as u8);
        match self {
            MptcpOption::MpCapable(o) => o.write(&mut w),
            MptcpOption::MpJoin(o) => o.write(&mut w),
            MptcpOption::Dss(o) => o.write(&mut w),
            MptcpOption::AddAddr(o) => o.write(&mut w),
            MptcpOption::RemoveAddr(o) => o.write(&mut w),
            MptcpOption::MpPrio { backup } => w.u8((subtype::MP_PRIO << 4) | *backup as u8),
            MptcpOption::MpFail { dsn } => {
                w.u8(subtype::MP_FAIL << 4);
                w.u8(0);
                w.u64(*dsn);
            }
            MptcpOption::MpFastclose { receiver_key } => {
                w.u8(subtype::MP_FASTCLOSE << 4);
                w.u8(0);
                w.u64(*receiver_key);
            }
            MptcpOption::MpTcpRst { flags, reason } => {
                w.u8((subtype::MP_TCPRST << 4) | (flags & 0x0f));
                w.u8(u8::from(*reason));
            }
            MptcpOption::Unknown(o) => w.bytes(o.body()),
        }
        debug_assert_eq!(w.written(), n);
        Ok(n)
    }
}

/// Up to four MPTCP options of one segment, without allocation.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct MptcpList {
    items: [Option<MptcpOption>; MptcpList::CAPACITY],
    count: u8,
}

impl MptcpList {
    /// How many options the list holds at most.
    pub const CAPACITY: usize = 4;

    /// An empty list.
    pub const fn new() -> Self {
        MptcpList {
            items: [None; Self::CAPACITY],
            count: 0,
        }
    }
    /// Appends `opt`; `BufferTooSmall` when the list is full.
    pub fn push(&mut self, opt: MptcpOption) -> Result<()> {
        let slot = self
            .items
            .get_mut(self.count as usize)
            .ok_or(Error::BufferTooSmall)?;
        *slot = Some(opt);
        self.count += 1;
        Ok(())
    }
    /// Number of options held.
    pub fn len(&self) -> usize {
        self.count as usize
    }
    /// True when no option is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The options, in order.
    pub fn iter(&self) -> impl Iterator<Item = &MptcpOption> + '_ {
        self.items.iter().flatten()
    }
    /// The first option of a subtype, if any.
    pub fn find(&self, st: u8) -> Option<&MptcpOption> {
        self.iter().find(|o| o.subtype() == st)
    }
}

impl fmt::Debug for MptcpList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Parses, checks the value, re-emits and compares the bytes; then
    /// checks that every strict prefix is rejected without panicking.
    fn roundtrip(bytes: &[u8], expect: MptcpOption) {
        let got = MptcpOption::parse(bytes).unwrap();
        assert_eq!(got, expect, "parse {bytes:02x?}");
        assert_eq!(got.buffer_len(), bytes.len());
        let mut out = [0xaau8; 40];
        let n = got.emit(&mut out);
        assert_eq!(&out[..n], bytes, "emit");
        assert_eq!(
            got.try_emit(&mut out[..n - 1]),
            Err(Error::BufferTooSmall),
            "short buffer"
        );
        for cut in 0..bytes.len() {
            let e = MptcpOption::parse(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(e, Error::Truncated | Error::Malformed(_)),
                "prefix {cut}: {e:?}"
            );
        }
        // The body-only entry point agrees.
        assert_eq!(MptcpOption::parse_body(&bytes[2..]).unwrap(), expect);
    }

    /// Every length other than `ok` for the option `bytes` (length byte
    /// rewritten, buffer padded) is rejected as malformed.
    fn wrong_lengths_rejected(bytes: &[u8], ok: &[usize]) {
        let mut buf = [0u8; 40];
        buf[..bytes.len()].copy_from_slice(bytes);
        for n in 0..=40usize {
            if ok.contains(&n) {
                continue;
            }
            buf[1] = n as u8;
            let r = MptcpOption::parse(&buf[..n.max(2)]);
            assert!(
                matches!(r, Err(Error::Malformed(_)) | Err(Error::Truncated)),
                "length {n} of {bytes:02x?} accepted: {r:?}"
            );
        }
    }

    #[test]
    fn mp_capable_all_lengths() {
        // protocol.md §2.1 / §8: Linux SYN.
        roundtrip(
            &hex("1e040101"),
            MptcpOption::MpCapable(MpCapable::syn(MpcFlags::LINUX_DEFAULT)),
        );
        // Checksum and C flag requested.
        roundtrip(
            &hex("1e0401a1"),
            MptcpOption::MpCapable(MpCapable::syn(MpcFlags(0xa1))),
        );
        // SYN/ACK of tfo-syn-data.pcap frame 2.
        roundtrip(
            &hex("1e0c0101 f1397c150a9df457"),
            MptcpOption::MpCapable(MpCapable::synack(MpcFlags(1), 0xf1397c150a9df457)),
        );
        // Third ACK of frame 3.
        roundtrip(
            &hex("1e140101 d402389d9ad331d5 f1397c150a9df457"),
            MptcpOption::MpCapable(MpCapable::ack(
                MpcFlags(1),
                0xd402389d9ad331d5,
                0xf1397c150a9df457,
            )),
        );
        // First data, tfo-listener-without-tfo.pcap frame 4 (dll 32).
        roundtrip(
            &hex("1e160101 5e70a173e7138776 388daf6f4e655b99 0020"),
            MptcpOption::MpCapable(MpCapable::data(
                MpcFlags(1),
                0x5e70a173e7138776,
                0x388daf6f4e655b99,
                32,
                None,
            )),
        );
        // With checksum (A set).
        roundtrip(
            &hex("1e180181 0102030405060708 1122334455667788 0005 82a1"),
            MptcpOption::MpCapable(MpCapable::data(
                MpcFlags(0x81),
                0x0102030405060708,
                0x1122334455667788,
                5,
                Some(0x82a1),
            )),
        );
        wrong_lengths_rejected(&hex("1e040101"), &[4, 12, 20, 22, 24]);
    }

    #[test]
    fn mp_capable_flags() {
        let f = MpcFlags(0xa1);
        assert!(f.checksum_required() && f.no_subflows_to_source() && f.hmac_sha256());
        assert!(f.is_acceptable());
        assert!(!MpcFlags(0x41).is_acceptable(), "B set");
        assert!(!MpcFlags(0x80).is_acceptable(), "no crypto bit");
        assert!(!MpcFlags(0x03).is_acceptable(), "unknown crypto bit");
        assert!(MpCapable::ack(MpcFlags(1), 1, 2).is_well_formed());
        let bad = MpCapable {
            receiver_key: Some(1),
            ..MpCapable::syn(MpcFlags(1))
        };
        assert!(!bad.is_well_formed());
        // Version other than 1 is kept (the receiver decides).
        let v0 = MptcpOption::parse(&hex("1e040001")).unwrap();
        let MptcpOption::MpCapable(m) = v0 else {
            panic!()
        };
        assert_eq!(m.version, 0);
    }

    #[test]
    fn mp_join_forms() {
        // tfo-syn-data-two-subflows.pcap frames 6, 7, 8.
        roundtrip(
            &hex("1e0c1002 cd89a543 f4398855"),
            MptcpOption::MpJoin(MpJoin::Syn {
                backup: false,
                addr_id: 2,
                token: 0xcd89a543,
                nonce: 0xf4398855,
            }),
        );
        roundtrip(
            &hex("1e101000 660ac82873b1d067 b543d589"),
            MptcpOption::MpJoin(MpJoin::SynAck {
                backup: false,
                addr_id: 0,
                hmac: 0x660ac82873b1d067,
                nonce: 0xb543d589,
            }),
        );
        let h = hex("6abdb4d99c30e97bf1352647cd40e0b2d9a6e0b9");
        let mut hmac = [0u8; 20];
        hmac.copy_from_slice(&h);
        let mut ack = hex("1e181000");
        ack.extend_from_slice(&h);
        roundtrip(&ack, MptcpOption::MpJoin(MpJoin::Ack { hmac }));
        // Backup bit.
        roundtrip(
            &hex("1e0c1105 00000001 00000002"),
            MptcpOption::MpJoin(MpJoin::Syn {
                backup: true,
                addr_id: 5,
                token: 1,
                nonce: 2,
            }),
        );
        roundtrip(
            &hex("1e101101 0000000000000009 00000003"),
            MptcpOption::MpJoin(MpJoin::SynAck {
                backup: true,
                addr_id: 1,
                hmac: 9,
                nonce: 3,
            }),
        );
        wrong_lengths_rejected(&hex("1e0c1002"), &[12, 16, 24]);
    }

    #[test]
    fn dss_examples() {
        // ack32 only: tfo-invalid-cookie.pcap frame 3.
        roundtrip(
            &hex("1e082001 79724a53"),
            MptcpOption::Dss(Dss::ack(DssAck::Ack32(0x79724a53))),
        );
        // ack64 only: tfo-syn-data.pcap frame 5.
        roundtrip(
            &hex("1e0c2003 f0978d4b80177f27"),
            MptcpOption::Dss(Dss::ack(DssAck::Ack64(0xf0978d4b80177f27))),
        );
        // ack32 + map64: frame 4.
        roundtrip(
            &hex("1e16200d 276bf38d f0978d4b80177f07 00000001 0020"),
            MptcpOption::Dss(Dss::with_mapping(
                Some(DssAck::Ack32(0x276bf38d)),
                DssMapping {
                    dsn: DssDsn::Dsn64(0xf0978d4b80177f07),
                    ssn: 1,
                    data_len: 32,
                    checksum: None,
                },
                false,
            )),
        );
        // DATA_FIN only, ack64 + map64 (protocol.md §5.3, frame 9).
        roundtrip(
            &hex("1e1a201f f0978d4b80177f47 aaa66275276bf3ad 00000000 0001"),
            MptcpOption::Dss(Dss::with_mapping(
                Some(DssAck::Ack64(0xf0978d4b80177f47)),
                DssMapping {
                    dsn: DssDsn::Dsn64(0xaaa66275276bf3ad),
                    ssn: 0,
                    data_len: 1,
                    checksum: None,
                },
                true,
            )),
        );
        // Mapping without Data ACK (protocol.md §7.5, erratum form).
        roundtrip(
            &hex("1e12200c c3efad19f080b70f 00000001 0010"),
            MptcpOption::Dss(Dss::with_mapping(
                None,
                DssMapping {
                    dsn: DssDsn::Dsn64(0xc3efad19f080b70f),
                    ssn: 1,
                    data_len: 16,
                    checksum: None,
                },
                false,
            )),
        );
        // ack64 + map64 + checksum: 28 bytes, the longest DSS.
        roundtrip(
            &hex("1e1c200f 0000000000000001 f5a101d3d29d6f73 00000001 0005 82a1"),
            MptcpOption::Dss(Dss::with_mapping(
                Some(DssAck::Ack64(1)),
                DssMapping {
                    dsn: DssDsn::Dsn64(0xf5a101d3d29d6f73),
                    ssn: 1,
                    data_len: 5,
                    checksum: Some(0x82a1),
                },
                false,
            )),
        );
    }

    /// Builds the wire bytes of a DSS from its flags byte by the length rule
    /// of protocol.md §2.3, with recognisable field values.
    fn dss_bytes(flags: u8, csum: bool) -> Vec<u8> {
        let mut v = vec![30, 0, 0x20, flags];
        if flags & 0x01 != 0 {
            if flags & 0x02 != 0 {
                v.extend_from_slice(&0x1112131415161718u64.to_be_bytes());
            } else {
                v.extend_from_slice(&0x21222324u32.to_be_bytes());
            }
        }
        if flags & 0x04 != 0 {
            if flags & 0x08 != 0 {
                v.extend_from_slice(&0x3132333435363738u64.to_be_bytes());
            } else {
                v.extend_from_slice(&0x41424344u32.to_be_bytes());
            }
            v.extend_from_slice(&0x51525354u32.to_be_bytes());
            v.extend_from_slice(&0x0616u16.to_be_bytes());
            if csum {
                v.extend_from_slice(&0x7172u16.to_be_bytes());
            }
        }
        v[1] = v.len() as u8;
        v
    }

    #[test]
    fn dss_every_flag_combination_roundtrips() {
        for flags in 0u8..32 {
            for csum in [false, true] {
                let has_map = flags & 0x04 != 0;
                if csum && !has_map {
                    continue;
                }
                let b = dss_bytes(flags, csum);
                let opt = MptcpOption::parse(&b).unwrap_or_else(|e| panic!("{flags:#x}: {e}"));
                let MptcpOption::Dss(d) = opt else {
                    panic!("{flags:#x}: not DSS")
                };
                assert_eq!(d.data_fin, flags & 0x10 != 0);
                assert_eq!(d.data_ack.is_some(), flags & 0x01 != 0);
                assert_eq!(d.mapping.is_some(), has_map);
                if let Some(a) = d.data_ack {
                    assert_eq!(a.is_64bit(), flags & 0x02 != 0);
                }
                if let Some(m) = d.mapping {
                    assert_eq!(m.dsn.is_64bit(), flags & 0x08 != 0);
                    assert_eq!(m.ssn, 0x51525354);
                    assert_eq!(m.data_len, 0x0616);
                    assert_eq!(m.checksum, csum.then_some(0x7172));
                }
                assert_eq!(d.flags(), flags);
                assert_eq!(opt.buffer_len(), b.len());
                let mut out = [0u8; 40];
                let n = opt.emit(&mut out);
                assert_eq!(&out[..n], &b[..], "flags {flags:#x} csum {csum}");
                // Every other length is rejected.
                let ok: &[usize] = if has_map {
                    &[b.len() - 2 * csum as usize, b.len() + 2 * !csum as usize]
                } else {
                    &[b.len()]
                };
                wrong_lengths_rejected(&b, ok);
                for cut in 0..b.len() {
                    assert!(MptcpOption::parse(&b[..cut]).is_err());
                }
            }
        }
        // Reserved bits of the flags byte survive a round trip too.
        let b = dss_bytes(0xe1, false);
        let o = MptcpOption::parse(&b).unwrap();
        let mut out = [0u8; 40];
        let n = o.emit(&mut out);
        assert_eq!(&out[..n], &b[..]);
    }

    #[test]
    fn dss_lengths_table() {
        // protocol.md §2.3 common values.
        for (flags, csum, want) in [
            (0x01, false, 8),
            (0x03, false, 12),
            (0x0d, false, 22),
            (0x0f, false, 26),
            (0x0f, true, 28),
            (0x05, false, 18),
            (0x04, false, 14),
        ] {
            assert_eq!(dss_bytes(flags, csum).len(), want, "{flags:#x}");
        }
    }

    #[test]
    fn dss_expand_helpers() {
        let r = DataSeq(0x0000_0001_ffff_fff0);
        assert_eq!(
            DssAck::Ack32(0x10).expand(r),
            DataSeq(0x0000_0002_0000_0010)
        );
        assert_eq!(DssAck::Ack64(7).expand(r), DataSeq(7));
        let m = DssMapping {
            dsn: DssDsn::Dsn32(0xffff_fff0),
            ssn: 1,
            data_len: 0,
            checksum: None,
        };
        assert_eq!(
            m.expand_dsn(DataSeq(0x0000_0002_0000_0010)),
            DataSeq(0x0000_0001_ffff_fff0)
        );
        assert!(m.is_infinite());
        assert_eq!(DssDsn::Dsn64(9).expand(r), DataSeq(9));
    }

    #[test]
    fn add_addr_all_lengths() {
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 2, 2));
        let v6 = IpAddr::V6("2001:db8::2".parse().unwrap());
        // protocol.md §2.4 / §3.6: id 5, 10.0.2.2, HMAC c602ee745bc690df.
        roundtrip(
            &hex("1e103005 0a000202 c602ee745bc690df"),
            MptcpOption::AddAddr(AddAddr {
                echo: false,
                addr_id: 5,
                addr: v4,
                port: None,
                hmac: Some(0xc602ee745bc690df),
            }),
        );
        roundtrip(
            &hex("1e083105 0a000202"),
            MptcpOption::AddAddr(AddAddr {
                echo: true,
                addr_id: 5,
                addr: v4,
                port: None,
                hmac: None,
            }),
        );
        // §3.5: id 1, port 8080, HMAC 5d329c25d48479ba.
        roundtrip(
            &hex("1e123001 0a000202 1f90 5d329c25d48479ba"),
            MptcpOption::AddAddr(AddAddr {
                echo: false,
                addr_id: 1,
                addr: v4,
                port: Some(8080),
                hmac: Some(0x5d329c25d48479ba),
            }),
        );
        roundtrip(
            &hex("1e0a3101 0a000202 1f90"),
            MptcpOption::AddAddr(AddAddr {
                echo: true,
                addr_id: 1,
                addr: v4,
                port: Some(8080),
                hmac: None,
            }),
        );
        // §3.5: id 2, 2001:db8::2, HMAC 6221d3d1144fbc99.
        roundtrip(
            &hex("1e1c3002 20010db8000000000000000000000002 6221d3d1144fbc99"),
            MptcpOption::AddAddr(AddAddr {
                echo: false,
                addr_id: 2,
                addr: v6,
                port: None,
                hmac: Some(0x6221d3d1144fbc99),
            }),
        );
        roundtrip(
            &hex("1e1e3002 20010db8000000000000000000000002 0050 0000000000000001"),
            MptcpOption::AddAddr(AddAddr {
                echo: false,
                addr_id: 2,
                addr: v6,
                port: Some(80),
                hmac: Some(1),
            }),
        );
        roundtrip(
            &hex("1e143102 20010db8000000000000000000000002"),
            MptcpOption::AddAddr(AddAddr {
                echo: true,
                addr_id: 2,
                addr: v6,
                port: None,
                hmac: None,
            }),
        );
        roundtrip(
            &hex("1e163102 20010db8000000000000000000000002 0050"),
            MptcpOption::AddAddr(AddAddr {
                echo: true,
                addr_id: 2,
                addr: v6,
                port: Some(80),
                hmac: None,
            }),
        );
        wrong_lengths_rejected(&hex("1e103005"), &[16, 18, 28, 30]);
        wrong_lengths_rejected(&hex("1e083105"), &[8, 10, 20, 22]);
    }

    #[test]
    fn remove_addr_one_to_eight() {
        for n in 1..=8u8 {
            let ids: Vec<u8> = (1..=n).collect();
            let mut b = vec![30, 3 + n, 0x40];
            b.extend_from_slice(&ids);
            roundtrip(&b, MptcpOption::RemoveAddr(RemoveAddr::new(&ids).unwrap()));
        }
        wrong_lengths_rejected(&hex("1e044005"), &[4, 5, 6, 7, 8, 9, 10, 11]);
        assert!(RemoveAddr::new(&[]).is_err());
        assert!(RemoveAddr::new(&[0; 9]).is_err());
    }

    #[test]
    fn prio_fail_fastclose_tcprst() {
        roundtrip(&hex("1e0351"), MptcpOption::MpPrio { backup: true });
        roundtrip(&hex("1e0350"), MptcpOption::MpPrio { backup: false });
        // RFC 6824 form with address id (length 4) is rejected.
        assert!(MptcpOption::parse(&hex("1e045101")).is_err());
        wrong_lengths_rejected(&hex("1e0351"), &[3]);

        roundtrip(
            &hex("1e0c6000 f5a101d3d29d6f73"),
            MptcpOption::MpFail {
                dsn: 0xf5a101d3d29d6f73,
            },
        );
        wrong_lengths_rejected(&hex("1e0c6000"), &[12]);
        roundtrip(
            &hex("1e0c7000 1122334455667788"),
            MptcpOption::MpFastclose {
                receiver_key: 0x1122334455667788,
            },
        );
        wrong_lengths_rejected(&hex("1e0c7000"), &[12]);
        roundtrip(
            &hex("1e048103"),
            MptcpOption::MpTcpRst {
                flags: MptcpOption::TCPRST_TRANSIENT,
                reason: MpTcpRstReason::AdministrativelyProhibited,
            },
        );
        roundtrip(
            &hex("1e048042"),
            MptcpOption::MpTcpRst {
                flags: 0,
                reason: MpTcpRstReason::Unknown(0x42),
            },
        );
        wrong_lengths_rejected(&hex("1e048001"), &[4]);
        for r in 0u8..=255 {
            assert_eq!(u8::from(MpTcpRstReason::from(r)), r);
        }
    }

    #[test]
    fn unknown_subtypes_kept() {
        let b = hex("1e05f00102");
        let o = MptcpOption::parse(&b).unwrap();
        let MptcpOption::Unknown(u) = o else { panic!() };
        assert_eq!(u.subtype(), 0xf);
        assert_eq!(u.body(), &b[2..]);
        roundtrip(&b, o);
        for st in 9u8..=15 {
            let b = [30, 4, st << 4, 0x77];
            let o = MptcpOption::parse(&b).unwrap();
            assert_eq!(o.subtype(), st);
            let mut out = [0u8; 4];
            assert_eq!(o.emit(&mut out), 4);
            assert_eq!(out, b);
        }
        // A 40-byte private option is the longest possible.
        let mut long = [0u8; 40];
        long[0] = 30;
        long[1] = 40;
        long[2] = 0xf0;
        roundtrip(&long, MptcpOption::parse(&long).unwrap());
    }

    #[test]
    fn parse_rejects_garbage_without_panicking() {
        assert_eq!(MptcpOption::parse(&[]), Err(Error::Truncated));
        assert_eq!(MptcpOption::parse(&[30]), Err(Error::Truncated));
        assert!(MptcpOption::parse(&[30, 2]).is_err());
        assert!(MptcpOption::parse(&[30, 0]).is_err());
        assert!(MptcpOption::parse(&[2, 4, 5, 0xb4]).is_err());
        // Declared longer than the buffer.
        assert_eq!(
            MptcpOption::parse(&hex("1e0c0101 0102")),
            Err(Error::Truncated)
        );
        // Bytes after the declared length are ignored.
        assert_eq!(
            MptcpOption::parse(&hex("1e040101 ffff")).unwrap(),
            MptcpOption::MpCapable(MpCapable::syn(MpcFlags(1)))
        );
        // Exhaustive over short inputs: never a panic.
        for a in 0u8..=255 {
            for l in 0u8..=12 {
                let b = [30, l, a, 0, 0, 0, 0, 0, 0, 0, 0, 0];
                let _ = MptcpOption::parse(&b);
                let _ = MptcpOption::parse_body(&b[2..2 + (l as usize).min(10)]);
            }
        }
    }

    #[test]
    fn list_holds_four() {
        let mut l = MptcpList::new();
        assert!(l.is_empty());
        for i in 0..4 {
            l.push(MptcpOption::MpFail { dsn: i }).unwrap();
        }
        assert_eq!(
            l.push(MptcpOption::MpPrio { backup: true }),
            Err(Error::BufferTooSmall)
        );
        assert_eq!(l.len(), 4);
        assert_eq!(l.iter().count(), 4);
        assert!(l.find(subtype::MP_FAIL).is_some());
        assert!(l.find(subtype::DSS).is_none());
    }

    proptest::proptest! {
        /// Random DSS, MP_CAPABLE and ADD_ADDR options of valid lengths with
        /// random contents round-trip exactly.
        #[test]
        fn structured_roundtrip(
            flags in 0u8..=255,
            csum in proptest::prelude::any::<bool>(),
            fill in proptest::collection::vec(proptest::prelude::any::<u8>(), 40),
            pick in 0usize..8,
            echo in proptest::prelude::any::<bool>(),
        ) {
            let mut out = [0u8; 40];
            // DSS: any flags byte, contents random.
            let mut b = dss_bytes(flags, csum && flags & 0x04 != 0);
            let n = b.len();
            b[4..].copy_from_slice(&fill[..n - 4]);
            let o = MptcpOption::parse(&b).unwrap();
            let m = o.emit(&mut out);
            proptest::prop_assert_eq!(&out[..m], &b[..]);
            // MP_CAPABLE: any of the five lengths, any version and flags.
            let n = [4usize, 12, 20, 22, 24][pick % 5];
            let mut b = fill[..n].to_vec();
            b[0] = 30;
            b[1] = n as u8;
            b[2] &= 0x0f;
            let o = MptcpOption::parse(&b).unwrap();
            let m = o.emit(&mut out);
            proptest::prop_assert_eq!(&out[..m], &b[..]);
            // ADD_ADDR: any of the four lengths of its E value.
            let lens = if echo { [8usize, 10, 20, 22] } else { [16, 18, 28, 30] };
            let n = lens[pick % 4];
            let mut b = fill[..n].to_vec();
            b[0] = 30;
            b[1] = n as u8;
            b[2] = 0x30 | echo as u8;
            let o = MptcpOption::parse(&b).unwrap();
            let m = o.emit(&mut out);
            proptest::prop_assert_eq!(&out[..m], &b[..]);
        }
    }
}
