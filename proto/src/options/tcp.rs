//! TCP options: parse, iterate, emit (RFC 9293 §3.2).
//!
//! Owns: the options of protocol.md §1 — EOL, NOP, MSS, window scale,
//! SACK-permitted, SACK, timestamps, TCP Fast Open (IANA kind 34 and the
//! experimental kind 254 with magic 0xF989) and MPTCP (kind 30, decoded by
//! [`super::mptcp`]) — plus [`SegmentOptions`], the one-pass summary the
//! receive path uses. Must not touch: the TCP header, or any decision that
//! depends on the segment's flags (e.g. TFO counts only on a SYN).
//!
//! Robustness: unknown kinds are kept as [`TcpOption::Unknown`], never an
//! error. A known kind whose length its format does not allow (an MSS of
//! length 3, a TFO option of odd length, an MPTCP option that does not
//! parse) is also returned as `Unknown`: the receiver ignores such an
//! option, like Linux, instead of dropping the segment. Only a length byte
//! below 2 or an option running past the end of the list is an error,
//! because nothing after it can be located.

use core::fmt;

use super::mptcp::{MptcpList, MptcpOption, KIND_MPTCP};
use super::{expect_room, rd16, rd32, Writer};
use crate::{Error, Result, SubflowSeq};

/// TCP option kinds used here (IANA "TCP Option Kind Numbers").
pub mod kind {
    /// End of option list.
    pub const END_OF_LIST: u8 = 0;
    /// No operation (padding).
    pub const NO_OPERATION: u8 = 1;
    /// Maximum segment size.
    pub const MAX_SEGMENT_SIZE: u8 = 2;
    /// Window scale.
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted.
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK.
    pub const SACK: u8 = 5;
    /// Timestamps.
    pub const TIMESTAMPS: u8 = 8;
    /// Multipath TCP.
    pub const MPTCP: u8 = super::KIND_MPTCP;
    /// TCP Fast Open cookie (RFC 7413).
    pub const FAST_OPEN: u8 = 34;
    /// Experimental option (RFC 6994); TFO used it before kind 34.
    pub const EXPERIMENTAL: u8 = 254;
}

/// Experiment id (RFC 6994 ExID) of TFO under kind 254.
pub const TFO_EXP_MAGIC: u16 = 0xF989;

// ---------------------------------------------------------------------------
// SACK blocks
// ---------------------------------------------------------------------------

/// Up to four SACK blocks `(left edge, right edge)`, without allocation.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct SackBlocks {
    blocks: [(SubflowSeq, SubflowSeq); SackBlocks::MAX],
    count: u8,
}

impl SackBlocks {
    /// Most blocks in one option: (40 − 2) / 8 (RFC 2018 §3).
    pub const MAX: usize = 4;

    /// No blocks.
    pub const fn new() -> Self {
        SackBlocks {
            blocks: [(SubflowSeq(0), SubflowSeq(0)); Self::MAX],
            count: 0,
        }
    }

    /// The given blocks; `Malformed` if more than four.
    pub fn from_slice(blocks: &[(SubflowSeq, SubflowSeq)]) -> Result<Self> {
        let mut s = Self::new();
        for &b in blocks {
            s.push(b)?;
        }
        Ok(s)
    }

    /// Appends a block; `Malformed` when four are held already.
    pub fn push(&mut self, block: (SubflowSeq, SubflowSeq)) -> Result<()> {
        let slot = self
            .blocks
            .get_mut(self.count as usize)
            .ok_or(Error::Malformed("more than 4 SACK blocks"))?;
        *slot = block;
        self.count += 1;
        Ok(())
    }

    /// Keeps only the first `n` blocks.
    pub fn truncate(&mut self, n: usize) {
        if n < self.count as usize {
            for b in &mut self.blocks[n..] {
                *b = (SubflowSeq(0), SubflowSeq(0));
            }
            self.count = n as u8;
        }
    }

    /// The blocks, in option order.
    pub fn as_slice(&self) -> &[(SubflowSeq, SubflowSeq)] {
        &self.blocks[..self.count as usize]
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when there are no blocks.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Length of a SACK option carrying these blocks.
    pub fn option_len(&self) -> usize {
        2 + 8 * self.len()
    }

    fn parse(body: &[u8]) -> Option<Self> {
        // RFC 2018 §3: 8 bytes per block; at least one, at most four fit.
        if body.is_empty() || body.len() & 7 != 0 || body.len() / 8 > Self::MAX {
            return None;
        }
        let mut s = Self::new();
        for c in body.chunks_exact(8) {
            let l = rd32(c, 0).ok()?;
            let r = rd32(c, 4).ok()?;
            s.push((SubflowSeq(l), SubflowSeq(r))).ok()?;
        }
        Some(s)
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.u8(kind::SACK);
        w.u8(self.option_len() as u8);
        for (l, r) in self.as_slice() {
            w.u32(l.0);
            w.u32(r.0);
        }
    }
}

impl fmt::Debug for SackBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.as_slice().iter().map(|(l, r)| l.0..r.0))
            .finish()
    }
}

// ---------------------------------------------------------------------------
// TCP Fast Open
// ---------------------------------------------------------------------------

/// Which option kind carries a TFO cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TfoForm {
    /// Kind 34 (RFC 7413 §4.1.1), what Linux sends by default.
    #[default]
    Iana,
    /// Kind 254 with ExID 0xF989 (pre-RFC experimental form).
    Experimental,
}

/// A TFO option: a cookie of 4..=16 bytes (even length), or none (a
/// cookie request).
///
/// The constructor enforces RFC 7413 §4.1.1 (cookie length 4 to 16, even),
/// so every value can be emitted.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FastOpenOption {
    /// The option kind used (reply in the form the client used).
    pub form: TfoForm,
    cookie: [u8; FastOpenOption::MAX_COOKIE],
    len: u8,
}

impl FastOpenOption {
    /// Shortest cookie (RFC 7413 §4.1.1).
    pub const MIN_COOKIE: usize = 4;
    /// Longest cookie (RFC 7413 §4.1.1).
    pub const MAX_COOKIE: usize = 16;

    /// An empty option: a cookie request (RFC 7413 §4.1.1).
    pub const fn request(form: TfoForm) -> Self {
        FastOpenOption {
            form,
            cookie: [0; Self::MAX_COOKIE],
            len: 0,
        }
    }

    /// An option carrying `cookie`; empty means a request. `Malformed`
    /// unless the length is 0 or an even number in 4..=16.
    pub fn new(form: TfoForm, cookie: &[u8]) -> Result<Self> {
        if !Self::cookie_len_ok(cookie.len()) {
            return Err(Error::Malformed("TFO cookie length"));
        }
        let mut o = Self::request(form);
        o.cookie[..cookie.len()].copy_from_slice(cookie);
        o.len = cookie.len() as u8;
        Ok(o)
    }

    /// RFC 7413 §4.1.1: a cookie is 4 to 16 bytes and of even length; an
    /// empty one is a request. Anything else is ignored by the receiver.
    #[inline]
    pub fn cookie_len_ok(n: usize) -> bool {
        n == 0 || ((Self::MIN_COOKIE..=Self::MAX_COOKIE).contains(&n) && n & 1 == 0)
    }

    /// The cookie bytes (empty for a request).
    pub fn cookie(&self) -> &[u8] {
        &self.cookie[..self.len as usize]
    }

    /// True for a cookie request (no cookie).
    pub fn is_request(&self) -> bool {
        self.len == 0
    }

    /// Length of the option on the wire (without padding).
    pub fn buffer_len(&self) -> usize {
        self.len as usize
            + match self.form {
                TfoForm::Iana => 2,
                TfoForm::Experimental => 4,
            }
    }

    fn write(&self, w: &mut Writer<'_>) {
        let n = self.buffer_len() as u8;
        match self.form {
            TfoForm::Iana => {
                w.u8(kind::FAST_OPEN);
                w.u8(n);
            }
            TfoForm::Experimental => {
                w.u8(kind::EXPERIMENTAL);
                w.u8(n);
                w.u16(TFO_EXP_MAGIC);
            }
        }
        w.bytes(self.cookie());
    }
}

impl fmt::Debug for FastOpenOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FastOpen({:?}, ", self.form)?;
        if self.is_request() {
            f.write_str("request")?;
        } else {
            for b in self.cookie() {
                write!(f, "{b:02x}")?;
            }
        }
        f.write_str(")")
    }
}

// ---------------------------------------------------------------------------
// One option
// ---------------------------------------------------------------------------

/// The timestamps option's two values (RFC 7323 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Timestamps {
    /// TSval: the sender's clock.
    pub tsval: u32,
    /// TSecr: the echoed TSval (0 on a SYN).
    pub tsecr: u32,
}

/// One TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// Kind 0: end of the option list; what follows is padding.
    EndOfList,
    /// Kind 1: padding.
    NoOperation,
    /// Kind 2: maximum segment size (SYN, SYN/ACK).
    MaxSegmentSize(u16),
    /// Kind 3: window scale shift count, as received (SYN, SYN/ACK).
    WindowScale(u8),
    /// Kind 4: SACK permitted (SYN, SYN/ACK).
    SackPermitted,
    /// Kind 5: SACK blocks.
    Sack(SackBlocks),
    /// Kind 8: timestamps.
    Timestamps {
        /// TSval.
        tsval: u32,
        /// TSecr.
        tsecr: u32,
    },
    /// Kind 34, or kind 254 with ExID 0xF989: TCP Fast Open.
    FastOpen(FastOpenOption),
    /// Kind 30: MPTCP.
    Mptcp(MptcpOption),
    /// Any other kind, or a known kind whose length is not valid for it.
    Unknown {
        /// Option kind.
        kind: u8,
        /// The bytes after kind and length.
        data: &'a [u8],
    },
}

impl<'a> TcpOption<'a> {
    /// Parses the option at the start of `buf`; returns it and the number
    /// of bytes it occupies.
    ///
    /// Errors: `Truncated` when the length byte is missing or the option
    /// runs past the end of `buf`; `Malformed` for a length below 2.
    pub fn parse(buf: &'a [u8]) -> Result<(TcpOption<'a>, usize)> {
        let k = *buf.first().ok_or(Error::Truncated)?;
        match k {
            kind::END_OF_LIST => return Ok((TcpOption::EndOfList, 1)),
            kind::NO_OPERATION => return Ok((TcpOption::NoOperation, 1)),
            _ => {}
        }
        // RFC 9293 §3.2: every other option has a length byte counting
        // kind and length; it must be at least 2 and stay inside the list.
        let n = *buf.get(1).ok_or(Error::Truncated)? as usize;
        if n < 2 {
            return Err(Error::Malformed("TCP option length below 2"));
        }
        let opt = buf.get(..n).ok_or(Error::Truncated)?;
        let data = &opt[2..];
        let unknown = TcpOption::Unknown { kind: k, data };
        let parsed = match (k, n) {
            (kind::MAX_SEGMENT_SIZE, 4) => TcpOption::MaxSegmentSize(rd16(opt, 2)?),
            (kind::WINDOW_SCALE, 3) => TcpOption::WindowScale(opt[2]),
            (kind::SACK_PERMITTED, 2) => TcpOption::SackPermitted,
            (kind::SACK, _) => SackBlocks::parse(data).map_or(unknown, TcpOption::Sack),
            (kind::TIMESTAMPS, 10) => TcpOption::Timestamps {
                tsval: rd32(opt, 2)?,
                tsecr: rd32(opt, 6)?,
            },
            // An MPTCP option that does not parse is ignored (RFC 8684:
            // e.g. an MP_CAPABLE of the wrong length means fallback).
            (KIND_MPTCP, _) => MptcpOption::parse(opt).map_or(unknown, TcpOption::Mptcp),
            // RFC 7413 §4.1.1: odd or out-of-range cookie lengths are
            // ignored, not fatal.
            (kind::FAST_OPEN, _) => {
                FastOpenOption::new(TfoForm::Iana, data).map_or(unknown, TcpOption::FastOpen)
            }
            (kind::EXPERIMENTAL, _) if n >= 4 && rd16(opt, 2)? == TFO_EXP_MAGIC => {
                FastOpenOption::new(TfoForm::Experimental, &opt[4..])
                    .map_or(unknown, TcpOption::FastOpen)
            }
            _ => unknown,
        };
        Ok((parsed, n))
    }

    /// Length of the option on the wire.
    pub fn buffer_len(&self) -> usize {
        match self {
            TcpOption::EndOfList | TcpOption::NoOperation => 1,
            TcpOption::MaxSegmentSize(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::Sack(s) => s.option_len(),
            TcpOption::Timestamps { .. } => 10,
            TcpOption::FastOpen(f) => f.buffer_len(),
            TcpOption::Mptcp(m) => m.buffer_len(),
            TcpOption::Unknown { data, .. } => 2 + data.len(),
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
    /// `BufferTooSmall` (also for an `Unknown` too long for a length byte).
    pub fn try_emit(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        if let TcpOption::Mptcp(m) = self {
            return m.try_emit(buf);
        }
        if n > u8::MAX as usize {
            return Err(Error::BufferTooSmall);
        }
        let mut w = Writer::new(buf, n)?;
        match *self {
            TcpOption::EndOfList => w.u8(kind::END_OF_LIST),
            TcpOption::NoOperation => w.u8(kind::NO_OPERATION),
            TcpOption::MaxSegmentSize(mss) => {
                w.bytes(&[kind::MAX_SEGMENT_SIZE, 4]);
                w.u16(mss);
            }
            TcpOption::WindowScale(s) => w.bytes(&[kind::WINDOW_SCALE, 3, s]),
            TcpOption::SackPermitted => w.bytes(&[kind::SACK_PERMITTED, 2]),
            TcpOption::Sack(ref s) => s.write(&mut w),
            TcpOption::Timestamps { tsval, tsecr } => {
                w.bytes(&[kind::TIMESTAMPS, 10]);
                w.u32(tsval);
                w.u32(tsecr);
            }
            TcpOption::FastOpen(ref f) => f.write(&mut w),
            TcpOption::Mptcp(_) => {}
            TcpOption::Unknown { kind, data } => {
                w.bytes(&[kind, n as u8]);
                w.bytes(data);
            }
        }
        debug_assert_eq!(w.written(), n);
        Ok(n)
    }
}

// ---------------------------------------------------------------------------
// Iterator
// ---------------------------------------------------------------------------

/// Iterates over the options of a TCP header's option bytes.
///
/// Yields `EndOfList` (if present) and stops there: the rest is padding.
/// After an error it yields nothing more. Never reads outside the slice.
#[derive(Debug, Clone)]
pub struct TcpOptionIter<'a> {
    raw: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> TcpOptionIter<'a> {
    /// An iterator over `raw`, the option bytes of one header.
    pub fn new(raw: &'a [u8]) -> Self {
        TcpOptionIter {
            raw,
            pos: 0,
            done: false,
        }
    }

    /// Offset of the next option; after the end of the list, the number of
    /// bytes the options took (the rest, after an EOL, is padding).
    pub fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.raw.get(self.pos..).unwrap_or(&[]);
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        match TcpOption::parse(rest) {
            Ok((opt, n)) => {
                self.pos += n;
                if opt == TcpOption::EndOfList {
                    self.done = true;
                }
                Some(Ok(opt))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for TcpOptionIter<'_> {}

// ---------------------------------------------------------------------------
// Segment summary
// ---------------------------------------------------------------------------

/// Everything the receive path wants from one segment's options, filled in
/// one pass.
///
/// For each TCP option the first occurrence wins. TFO, MSS, window scale and
/// SACK-permitted are reported whatever the segment's flags; the caller
/// honours them on SYNs only (RFC 7413 §4.1.1, RFC 9293 §3.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentOptions {
    /// MSS option.
    pub mss: Option<u16>,
    /// Window scale shift as received (RFC 7323 §2.3: values above 14 are
    /// the receiver's to clamp).
    pub wscale: Option<u8>,
    /// SACK-permitted option seen.
    pub sack_permitted: bool,
    /// Timestamps option.
    pub timestamps: Option<Timestamps>,
    /// SACK blocks (empty when there was no SACK option).
    pub sack: SackBlocks,
    /// TFO option (cookie or request), IANA or experimental form.
    pub fast_open: Option<FastOpenOption>,
    /// The first MPTCP option that parsed.
    pub mptcp: Option<MptcpOption>,
    /// The MPTCP options after the first (up to four kept).
    pub mptcp_more: MptcpList,
    /// How many MPTCP options parsed, the first included; more than one
    /// means `mptcp` is not the whole story.
    pub mptcp_count: u8,
    /// Kind-30 options that did not parse (wrong length for the subtype):
    /// ignored, as RFC 8684 asks, but counted.
    pub mptcp_malformed: u8,
    /// Options of unknown kind, or of a known kind with an invalid length
    /// (the MPTCP ones of `mptcp_malformed` included).
    pub unknown: u8,
    /// Set by [`SegmentOptions::parse_lossy`] when it stopped at an option
    /// whose length byte was below 2 or ran past the end.
    pub truncated: bool,
}

impl SegmentOptions {
    /// Parses all options of `raw`; an error if an option length is below 2
    /// or runs past the end of `raw`.
    pub fn parse(raw: &[u8]) -> Result<SegmentOptions> {
        let mut s = SegmentOptions::default();
        for opt in TcpOptionIter::new(raw) {
            s.add(opt?);
        }
        Ok(s)
    }

    /// Like [`parse`](Self::parse), but keeps what was parsed before a bad
    /// length (as Linux's `tcp_parse_options` does) and sets `truncated`.
    ///
    /// This is the receive path's parser: the common options (NOP, MSS,
    /// window scale, SACK-permitted, timestamps, MPTCP) are read straight
    /// into the summary; the others go through [`TcpOption::parse`]. The
    /// result is that of [`TcpOptionIter`] fed to the summary.
    pub fn parse_lossy(raw: &[u8]) -> SegmentOptions {
        let mut s = SegmentOptions::default();
        s.fill_lossy(raw);
        s
    }

    /// Makes `self` what [`parse_lossy`](Self::parse_lossy) returns for
    /// `raw`, in place (a receive path that keeps one summary per slot of
    /// its burst avoids moving a new one).
    pub fn reparse_lossy(&mut self, raw: &[u8]) {
        *self = SegmentOptions::default();
        self.fill_lossy(raw);
    }

    /// `parse_lossy` into `self`, which is the default summary.
    fn fill_lossy(&mut self, raw: &[u8]) {
        let s = self;
        let mut rest = raw;
        while let Some(&k) = rest.first() {
            match k {
                kind::END_OF_LIST => break,
                kind::NO_OPERATION => {
                    rest = &rest[1..];
                    continue;
                }
                _ => {}
            }
            // RFC 9293 §3.2: a length byte of at least 2 that keeps the
            // option inside the list, else the rest cannot be parsed.
            let n = match rest.get(1) {
                Some(&n) if n >= 2 && n as usize <= rest.len() => n as usize,
                _ => {
                    s.truncated = true;
                    break;
                }
            };
            let (opt, after) = rest.split_at(n);
            rest = after;
            match (k, opt) {
                (kind::MAX_SEGMENT_SIZE, &[_, _, a, b]) => {
                    s.mss.get_or_insert(u16::from_be_bytes([a, b]));
                }
                (kind::WINDOW_SCALE, &[_, _, v]) => {
                    s.wscale.get_or_insert(v);
                }
                (kind::SACK_PERMITTED, &[_, _]) => s.sack_permitted = true,
                (kind::TIMESTAMPS, &[_, _, a0, a1, a2, a3, b0, b1, b2, b3]) => {
                    s.timestamps.get_or_insert(Timestamps {
                        tsval: u32::from_be_bytes([a0, a1, a2, a3]),
                        tsecr: u32::from_be_bytes([b0, b1, b2, b3]),
                    });
                }
                (KIND_MPTCP, _) => match MptcpOption::parse(opt) {
                    Ok(m) => s.add(TcpOption::Mptcp(m)),
                    Err(_) => s.add(TcpOption::Unknown { kind: k, data: &[] }),
                },
                _ => match TcpOption::parse(opt) {
                    Ok((o, _)) => s.add(o),
                    Err(_) => {
                        s.truncated = true;
                        break;
                    }
                },
            }
        }
    }

    fn add(&mut self, opt: TcpOption<'_>) {
        match opt {
            TcpOption::EndOfList | TcpOption::NoOperation => {}
            TcpOption::MaxSegmentSize(v) => {
                self.mss.get_or_insert(v);
            }
            TcpOption::WindowScale(v) => {
                self.wscale.get_or_insert(v);
            }
            TcpOption::SackPermitted => self.sack_permitted = true,
            TcpOption::Sack(s) => {
                if self.sack.is_empty() {
                    self.sack = s;
                }
            }
            TcpOption::Timestamps { tsval, tsecr } => {
                self.timestamps.get_or_insert(Timestamps { tsval, tsecr });
            }
            TcpOption::FastOpen(f) => {
                self.fast_open.get_or_insert(f);
            }
            TcpOption::Mptcp(m) => {
                if self.mptcp.is_none() {
                    self.mptcp = Some(m);
                } else {
                    // Full list: the option is counted, not kept.
                    let _ = self.mptcp_more.push(m);
                }
                self.mptcp_count = self.mptcp_count.saturating_add(1);
            }
            TcpOption::Unknown { kind, .. } => {
                if kind == KIND_MPTCP {
                    self.mptcp_malformed = self.mptcp_malformed.saturating_add(1);
                }
                self.unknown = self.unknown.saturating_add(1);
            }
        }
    }

    /// All MPTCP options kept, in order.
    pub fn mptcp_options(&self) -> impl Iterator<Item = &MptcpOption> + '_ {
        self.mptcp.iter().chain(self.mptcp_more.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::mptcp::{Dss, DssAck, MpCapable, MpcFlags};

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn all(raw: &[u8]) -> Vec<TcpOption<'_>> {
        TcpOptionIter::new(raw).map(|o| o.unwrap()).collect()
    }

    /// Re-emits every option and compares with the raw bytes.
    fn reemit(raw: &[u8]) {
        let mut out = [0u8; 64];
        let mut at = 0;
        let mut it = TcpOptionIter::new(raw);
        for o in &mut it {
            let o = o.unwrap();
            assert_eq!(o.buffer_len(), o.emit(&mut out[at..]));
            at += o.buffer_len();
        }
        assert_eq!(at, it.offset());
        assert_eq!(&out[..at], &raw[..at]);
    }

    #[test]
    fn linux_syn_with_cookie_and_mptcp() {
        // tfo-syn-data.pcap frame 1.
        let raw =
            hex("020405b4 0402080a 05192fc7 00000000 0103030a 220a f26b050ccbdb9957 0101 1e040101");
        let opts = all(&raw);
        assert_eq!(
            opts,
            vec![
                TcpOption::MaxSegmentSize(1460),
                TcpOption::SackPermitted,
                TcpOption::Timestamps {
                    tsval: 0x05192fc7,
                    tsecr: 0
                },
                TcpOption::NoOperation,
                TcpOption::WindowScale(10),
                TcpOption::FastOpen(
                    FastOpenOption::new(TfoForm::Iana, &hex("f26b050ccbdb9957")).unwrap()
                ),
                TcpOption::NoOperation,
                TcpOption::NoOperation,
                TcpOption::Mptcp(MptcpOption::MpCapable(MpCapable::syn(MpcFlags(1)))),
            ]
        );
        reemit(&raw);
        let s = SegmentOptions::parse(&raw).unwrap();
        assert_eq!(s.mss, Some(1460));
        assert_eq!(s.wscale, Some(10));
        assert!(s.sack_permitted);
        assert_eq!(
            s.timestamps,
            Some(Timestamps {
                tsval: 0x05192fc7,
                tsecr: 0
            })
        );
        assert_eq!(s.fast_open.unwrap().cookie(), &hex("f26b050ccbdb9957")[..]);
        assert_eq!(s.mptcp_count, 1);
        assert_eq!(s.unknown, 0);
    }

    #[test]
    fn tfo_forms() {
        // Request, IANA: `22 02`; experimental: `fe 04 f9 89`.
        assert_eq!(
            all(&hex("2202")),
            vec![TcpOption::FastOpen(FastOpenOption::request(TfoForm::Iana))]
        );
        assert_eq!(
            all(&hex("fe04f989")),
            vec![TcpOption::FastOpen(FastOpenOption::request(
                TfoForm::Experimental
            ))]
        );
        let exp = hex("fe0cf989 0102030405060708");
        let o = all(&exp);
        let TcpOption::FastOpen(f) = o[0] else {
            panic!()
        };
        assert_eq!(f.form, TfoForm::Experimental);
        assert_eq!(f.cookie(), &exp[4..]);
        reemit(&exp);
        // Every cookie length: even 4..=16 parse, others are Unknown.
        for clen in 0..=20usize {
            let mut b = vec![34, 2 + clen as u8];
            b.extend(vec![0xab; clen]);
            let o = all(&b);
            let ok = clen == 0 || ((4..=16).contains(&clen) && clen & 1 == 0);
            assert_eq!(matches!(o[0], TcpOption::FastOpen(_)), ok, "iana {clen}");
            if !ok {
                assert_eq!(
                    o[0],
                    TcpOption::Unknown {
                        kind: 34,
                        data: &b[2..]
                    }
                );
            }
            reemit(&b);
            let mut e = vec![254, 4 + clen as u8, 0xf9, 0x89];
            e.extend(vec![0xcd; clen]);
            let o = all(&e);
            assert_eq!(matches!(o[0], TcpOption::FastOpen(_)), ok, "exp {clen}");
            reemit(&e);
        }
        // Kind 254 with another ExID, or too short for one: Unknown.
        assert_eq!(
            all(&hex("fe06abcd0102")),
            vec![TcpOption::Unknown {
                kind: 254,
                data: &hex("abcd0102")
            }]
        );
        assert!(matches!(
            all(&hex("fe03ab"))[0],
            TcpOption::Unknown { kind: 254, .. }
        ));
        assert!(matches!(
            all(&hex("fe02"))[0],
            TcpOption::Unknown { kind: 254, .. }
        ));
        assert!(FastOpenOption::new(TfoForm::Iana, &[1, 2, 3]).is_err());
        assert!(FastOpenOption::new(TfoForm::Iana, &[0; 18]).is_err());
    }

    #[test]
    fn sack_blocks() {
        let raw = hex("0101 050a 00000001 00000010");
        let o = all(&raw);
        let TcpOption::Sack(s) = o[2] else { panic!() };
        assert_eq!(s.as_slice(), &[(SubflowSeq(1), SubflowSeq(16))]);
        reemit(&raw);
        let four =
            hex("0522 00000001 00000002 00000003 00000004 00000005 00000006 00000007 00000008");
        let TcpOption::Sack(s) = all(&four)[0] else {
            panic!()
        };
        assert_eq!(s.len(), 4);
        reemit(&four);
        // Lengths that are not 2 + 8n (n = 1..4) are ignored: Unknown.
        for n in [2u8, 3, 9, 11, 34 + 8] {
            let mut b = vec![5, n];
            b.resize(n as usize, 0);
            assert!(
                matches!(all(&b)[0], TcpOption::Unknown { kind: 5, .. }),
                "len {n}"
            );
        }
        let mut s = SackBlocks::new();
        for i in 0..4 {
            s.push((SubflowSeq(i), SubflowSeq(i + 1))).unwrap();
        }
        assert!(s.push((SubflowSeq(9), SubflowSeq(9))).is_err());
        s.truncate(2);
        assert_eq!(s.len(), 2);
        assert_eq!(s, SackBlocks::from_slice(&s.as_slice()[..2]).unwrap());
    }

    #[test]
    fn wrong_lengths_of_known_kinds_are_unknown() {
        for raw in [
            hex("020305"),           // MSS, length 3
            hex("0202"),             // MSS, length 2
            hex("03040a00"),         // window scale, length 4
            hex("040300"),           // SACK-permitted, length 3
            hex("0808000000000000"), // timestamps, length 8
        ] {
            let o = all(&raw);
            assert_eq!(
                o,
                vec![TcpOption::Unknown {
                    kind: raw[0],
                    data: &raw[2..]
                }],
                "{raw:02x?}"
            );
            reemit(&raw);
        }
        // MP_CAPABLE of length 5: Unknown kind 30, counted as malformed.
        let raw = hex("1e050101 00");
        assert_eq!(
            all(&raw),
            vec![TcpOption::Unknown {
                kind: 30,
                data: &raw[2..]
            }]
        );
        let s = SegmentOptions::parse(&raw).unwrap();
        assert_eq!((s.mptcp, s.mptcp_malformed, s.unknown), (None, 1, 1));
        reemit(&raw);
    }

    #[test]
    fn unknown_kinds_kept() {
        let raw = hex("1304abcd 0101 4c02");
        assert_eq!(
            all(&raw),
            vec![
                TcpOption::Unknown {
                    kind: 0x13,
                    data: &[0xab, 0xcd]
                },
                TcpOption::NoOperation,
                TcpOption::NoOperation,
                TcpOption::Unknown {
                    kind: 0x4c,
                    data: &[]
                },
            ]
        );
        reemit(&raw);
        assert_eq!(SegmentOptions::parse(&raw).unwrap().unknown, 2);
    }

    #[test]
    fn eol_stops_and_padding_is_skipped() {
        let raw = hex("020405b4 00 ffffff");
        let mut it = TcpOptionIter::new(&raw);
        assert_eq!(it.next(), Some(Ok(TcpOption::MaxSegmentSize(1460))));
        assert_eq!(it.next(), Some(Ok(TcpOption::EndOfList)));
        assert_eq!(it.next(), None);
        assert_eq!(it.offset(), 5);
        reemit(&raw);
    }

    #[test]
    fn bad_lengths_are_errors() {
        assert_eq!(
            SegmentOptions::parse(&hex("0201")),
            Err(Error::Malformed("TCP option length below 2"))
        );
        assert!(SegmentOptions::parse(&hex("0200")).is_err());
        assert_eq!(SegmentOptions::parse(&hex("020405")), Err(Error::Truncated));
        assert_eq!(SegmentOptions::parse(&hex("01 02")), Err(Error::Truncated));
        let lossy = SegmentOptions::parse_lossy(&hex("020405b4 080a0000"));
        assert_eq!(lossy.mss, Some(1460));
        assert!(lossy.truncated);
        // After an error the iterator is done.
        let raw = hex("0201 020405b4");
        let mut it = TcpOptionIter::new(&raw);
        assert!(matches!(it.next(), Some(Err(_))));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn every_prefix_is_safe() {
        let raw = hex(
            "0101080a 05192fc7 e74485c1 1e1a201f f0978d4b80177f47 aaa66275276bf3ad 00000000 0001 0101",
        );
        reemit(&raw);
        let full = SegmentOptions::parse(&raw).unwrap();
        assert!(matches!(full.mptcp, Some(MptcpOption::Dss(_))));
        for cut in 0..raw.len() {
            let p = &raw[..cut];
            let r = SegmentOptions::parse(p);
            // Cuts at option boundaries parse; all others are errors.
            let boundary = [0, 1, 2, 12, 38, 39].contains(&cut);
            assert_eq!(r.is_ok(), boundary, "cut {cut}: {r:?}");
            let _ = SegmentOptions::parse_lossy(p);
        }
    }

    #[test]
    fn exhaustive_two_and_three_byte_inputs_never_panic() {
        for a in 0u8..=255 {
            for b in 0u8..=255 {
                let _ = SegmentOptions::parse(&[a, b]);
                let _ = SegmentOptions::parse(&[a, b, 0x10]);
                let _ = SegmentOptions::parse(&[30, a, b, 0, 0, 0]);
            }
        }
    }

    #[test]
    fn second_mptcp_option_is_kept_and_counted() {
        // RST with MP_FASTCLOSE and MP_TCPRST, then a DSS.
        let raw = hex("1e0c7000 1122334455667788 1e048001 1e082001 00000005");
        let s = SegmentOptions::parse(&raw).unwrap();
        assert_eq!(
            s.mptcp,
            Some(MptcpOption::MpFastclose {
                receiver_key: 0x1122334455667788
            })
        );
        assert_eq!(s.mptcp_count, 3);
        assert_eq!(s.mptcp_more.len(), 2);
        assert_eq!(s.mptcp_options().count(), 3);
        assert_eq!(
            s.mptcp_options().nth(2),
            Some(&MptcpOption::Dss(Dss::ack(DssAck::Ack32(5))))
        );
        // Six small MPTCP options: five kept, all counted.
        let raw = hex("1e0351 01 1e0351 01 1e0351 01 1e0351 01 1e0351 01 1e0351 01");
        let s = SegmentOptions::parse(&raw).unwrap();
        assert_eq!(s.mptcp_count, 6);
        assert_eq!(s.mptcp_options().count(), 5);
    }

    #[test]
    fn emit_buffer_checks() {
        let o = TcpOption::Timestamps { tsval: 1, tsecr: 2 };
        let mut b = [0u8; 9];
        assert_eq!(o.try_emit(&mut b), Err(Error::BufferTooSmall));
        let mut b = [0u8; 10];
        assert_eq!(o.emit(&mut b), 10);
        assert_eq!(b, [8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        let long = [0u8; 300];
        let u = TcpOption::Unknown {
            kind: 99,
            data: &long,
        };
        let mut b = [0u8; 400];
        assert_eq!(u.try_emit(&mut b), Err(Error::BufferTooSmall));
    }

    proptest::proptest! {
        /// Any bytes: no panic; every option that parses re-emits to bytes
        /// that parse to the same value, and (outside MPTCP, whose reserved
        /// bits are written as zero) to the very same bytes.
        #[test]
        fn random_option_bytes(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48)) {
            let _ = SegmentOptions::parse(&raw);
            let _ = SegmentOptions::parse_lossy(&raw);
            let mut it = TcpOptionIter::new(&raw);
            let mut at = 0;
            while let Some(Ok(o)) = it.next() {
                let n = o.buffer_len();
                let mut out = [0u8; 300];
                proptest::prop_assert_eq!(o.emit(&mut out), n);
                let (again, m) = TcpOption::parse(&out[..n]).unwrap();
                proptest::prop_assert_eq!(m, n);
                proptest::prop_assert_eq!(again, o);
                if !matches!(o, TcpOption::Mptcp(_)) {
                    proptest::prop_assert_eq!(&out[..n], &raw[at..at + n]);
                }
                at += n;
            }
        }

        /// The receive path's parser gives what the option iterator gives,
        /// on any bytes and on option lists built from valid options.
        #[test]
        fn parse_lossy_matches_the_iterator(
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48),
            picks in proptest::collection::vec(0usize..12, 0..8),
        ) {
            proptest::prop_assert_eq!(SegmentOptions::parse_lossy(&raw), lossy_by_iterator(&raw));
            let pieces: [&[u8]; 12] = [
                &[1],
                &[0],
                &[2, 4, 5, 0xb4],
                &[3, 3, 7],
                &[4, 2],
                &[8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
                &[30, 4, 0, 0x81],
                &[30, 8, 0x20, 0x01, 1, 2, 3, 4],
                &[34, 10, 1, 2, 3, 4, 5, 6, 7, 8],
                &[254, 4, 0xf9, 0x89],
                &[5, 10, 0, 0, 0, 1, 0, 0, 0, 2],
                &[2, 3, 1],
            ];
            let list: Vec<u8> = picks.iter().flat_map(|&i| pieces[i].iter().copied()).collect();
            proptest::prop_assert_eq!(SegmentOptions::parse_lossy(&list), lossy_by_iterator(&list));
            // In place, over what an earlier segment left.
            let mut reused = SegmentOptions::parse_lossy(&raw);
            reused.reparse_lossy(&list);
            proptest::prop_assert_eq!(reused, lossy_by_iterator(&list));
        }
    }

    /// `parse_lossy` as the option iterator defines it.
    fn lossy_by_iterator(raw: &[u8]) -> SegmentOptions {
        let mut s = SegmentOptions::default();
        for opt in TcpOptionIter::new(raw) {
            match opt {
                Ok(o) => s.add(o),
                Err(_) => s.truncated = true,
            }
        }
        s
    }
}
