//! Option blocks laid out byte for byte the way Linux lays them out.
//!
//! Owns: the order, NOP padding and 40-byte budget of the options of SYN,
//! SYN/ACK and other segments (protocol.md §1.1, §8; Linux `tcp_options_write`,
//! `tcp_syn_options`, `tcp_synack_options`, `tcp_established_options`).
//! Must not touch: what the values are (MSS, clocks, keys, cookies): callers
//! decide, this module only places them.
//!
//! Linux writes, in this order: MSS `02 04 xx xx`; timestamps as
//! `04 02 08 0a ..` when SACK-permitted rides along, else `01 01 08 0a ..`;
//! SACK-permitted alone as `01 01 04 02`; window scale as `01 03 03 xx`;
//! SACK blocks as `01 01 05 LL ..`; TFO then NOPs up to a 4-byte multiple;
//! MPTCP then NOPs up to a 4-byte multiple. Every piece is a multiple of 4
//! bytes, so every block is.

use core::fmt;

use super::mptcp::MptcpOption;
use super::tcp::{kind, FastOpenOption, SackBlocks, Timestamps};
use super::{Writer, MAX_OPTIONS_LEN};
use crate::{Error, Result};

/// Rounds an option length up to the 4-byte multiple Linux reserves for it.
#[inline]
const fn aligned(n: usize) -> usize {
    (n + 3) & !3
}

/// What a layout function left out to stay within 40 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dropped {
    /// Timestamps were left out (SYN/ACK with a cookie and MPTCP): the
    /// connection then runs without timestamps.
    pub timestamps: bool,
    /// The TFO option did not fit.
    pub fast_open: bool,
    /// MPTCP options that did not fit (on a SYN: the connection is then
    /// plain TCP).
    pub mptcp: u8,
    /// SACK blocks that did not fit.
    pub sack_blocks: u8,
}

impl Dropped {
    /// True when everything asked for was written.
    pub fn is_nothing(&self) -> bool {
        *self == Dropped::default()
    }
}

/// A finished block of TCP options, at most 40 bytes, a multiple of 4.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OptionBlock {
    /// The option bytes; only `..len` is meaningful.
    pub bytes: [u8; MAX_OPTIONS_LEN],
    /// Bytes used.
    pub len: u8,
    /// What had to be left out to fit.
    pub dropped: Dropped,
}

impl OptionBlock {
    /// An empty block.
    pub const EMPTY: OptionBlock = OptionBlock {
        bytes: [0; MAX_OPTIONS_LEN],
        len: 0,
        dropped: Dropped {
            timestamps: false,
            fast_open: false,
            mptcp: 0,
            sack_blocks: 0,
        },
    };

    /// The option bytes, to copy after the fixed TCP header.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// The TCP data offset (in 32-bit words) of a header carrying this
    /// block.
    pub fn data_offset_words(&self) -> u8 {
        5 + self.len / 4
    }
}

impl Default for OptionBlock {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl fmt::Debug for OptionBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OptionBlock(")?;
        for (i, b) in self.as_slice().iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02x}")?;
        }
        if !self.dropped.is_nothing() {
            write!(f, ", dropped {:?}", self.dropped)?;
        }
        f.write_str(")")
    }
}

/// Appends options in 4-byte-aligned pieces, Linux style, to a 40-byte
/// block. Each method writes its whole piece or nothing (`BufferTooSmall`
/// when it does not fit).
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionWriter {
    block: OptionBlock,
}

impl OptionWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.block.len as usize
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.block.len == 0
    }

    /// Bytes still free.
    pub fn remaining(&self) -> usize {
        MAX_OPTIONS_LEN - self.len()
    }

    /// Writes one piece: `lead` NOPs, `body` bytes from `f`, then NOPs up
    /// to a 4-byte multiple.
    fn piece(
        &mut self,
        lead: usize,
        body: usize,
        f: impl FnOnce(&mut [u8]) -> Result<()>,
    ) -> Result<()> {
        let size = aligned(lead + body);
        if size > self.remaining() {
            return Err(Error::BufferTooSmall);
        }
        let start = self.len();
        let dst = &mut self.block.bytes[start..start + size];
        dst.fill(kind::NO_OPERATION);
        f(&mut dst[lead..lead + body])?;
        self.block.len += size as u8;
        Ok(())
    }

    fn fixed(&mut self, bytes: &[u8]) -> Result<()> {
        self.piece(0, bytes.len(), |d| {
            d.copy_from_slice(bytes);
            Ok(())
        })
    }

    /// MSS: `02 04 xx xx`.
    pub fn mss(&mut self, mss: u16) -> Result<()> {
        let [a, b] = mss.to_be_bytes();
        self.fixed(&[kind::MAX_SEGMENT_SIZE, 4, a, b])
    }

    /// SACK-permitted and timestamps together: `04 02 08 0a TSval TSecr`.
    pub fn sack_permitted_timestamps(&mut self, ts: Timestamps) -> Result<()> {
        self.piece(0, 12, |d| {
            let mut w = Writer::new(d, 12)?;
            w.bytes(&[kind::SACK_PERMITTED, 2, kind::TIMESTAMPS, 10]);
            w.u32(ts.tsval);
            w.u32(ts.tsecr);
            Ok(())
        })
    }

    /// Timestamps alone: `01 01 08 0a TSval TSecr`.
    pub fn timestamps(&mut self, ts: Timestamps) -> Result<()> {
        self.piece(2, 10, |d| {
            let mut w = Writer::new(d, 10)?;
            w.bytes(&[kind::TIMESTAMPS, 10]);
            w.u32(ts.tsval);
            w.u32(ts.tsecr);
            Ok(())
        })
    }

    /// SACK-permitted alone: `01 01 04 02`.
    pub fn sack_permitted(&mut self) -> Result<()> {
        self.fixed(&[
            kind::NO_OPERATION,
            kind::NO_OPERATION,
            kind::SACK_PERMITTED,
            2,
        ])
    }

    /// Window scale: `01 03 03 shift`.
    pub fn window_scale(&mut self, shift: u8) -> Result<()> {
        self.fixed(&[kind::NO_OPERATION, kind::WINDOW_SCALE, 3, shift])
    }

    /// SACK blocks: `01 01 05 LL ...`; nothing for an empty set.
    pub fn sack(&mut self, blocks: &SackBlocks) -> Result<()> {
        if blocks.is_empty() {
            return Ok(());
        }
        let n = blocks.option_len();
        self.piece(2, n, |d| {
            let mut w = Writer::new(d, n)?;
            blocks.write(&mut w);
            Ok(())
        })
    }

    /// TFO (either form), then NOPs to a 4-byte multiple.
    pub fn fast_open(&mut self, tfo: &FastOpenOption) -> Result<()> {
        let opt = super::tcp::TcpOption::FastOpen(*tfo);
        self.piece(0, opt.buffer_len(), |d| opt.try_emit(d).map(drop))
    }

    /// One MPTCP option, then NOPs to a 4-byte multiple (e.g. `01 01` after
    /// a 22- or 26-byte DSS, `01` after MP_PRIO).
    pub fn mptcp(&mut self, opt: &MptcpOption) -> Result<()> {
        self.piece(0, opt.buffer_len(), |d| opt.try_emit(d).map(drop))
    }

    /// The finished block.
    pub fn finish(self) -> OptionBlock {
        self.block
    }
}

/// Options of a SYN (active open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SynParams {
    /// MSS to advertise (always sent).
    pub mss: u16,
    /// Timestamps (TSecr 0 on a SYN), when enabled.
    pub timestamps: Option<Timestamps>,
    /// Window scale shift, when enabled.
    pub wscale: Option<u8>,
    /// Offer SACK.
    pub sack_permitted: bool,
    /// TFO cookie or cookie request.
    pub fast_open: Option<FastOpenOption>,
    /// MP_CAPABLE (length 4) or MP_JOIN (length 12).
    pub mptcp: Option<MptcpOption>,
}

/// Options of a SYN/ACK (passive open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SynAckParams {
    /// MSS to advertise (always sent).
    pub mss: u16,
    /// Timestamps, when the SYN offered them.
    pub timestamps: Option<Timestamps>,
    /// Window scale shift, when the SYN offered scaling.
    pub wscale: Option<u8>,
    /// The SYN offered SACK.
    pub sack_permitted: bool,
    /// TFO cookie to offer (none when the SYN data was accepted).
    pub fast_open: Option<FastOpenOption>,
    /// MP_CAPABLE (length 12) or MP_JOIN (length 16).
    pub mptcp: Option<MptcpOption>,
}

/// Options of any segment other than SYN and SYN/ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentParams<'a> {
    /// Timestamps, when negotiated.
    pub timestamps: Option<Timestamps>,
    /// SACK blocks to report (first ones first; cut to what fits).
    pub sack: SackBlocks,
    /// MPTCP options, in wire order (e.g. DSS, or MP_FASTCLOSE + MP_TCPRST).
    pub mptcp: &'a [MptcpOption],
}

/// Shared layout of SYN and SYN/ACK (Linux `tcp_syn_options` and
/// `tcp_synack_options` account the same pieces in the same order).
fn handshake_options(
    mss: u16,
    timestamps: Option<Timestamps>,
    wscale: Option<u8>,
    sack_permitted: bool,
    fast_open: Option<&FastOpenOption>,
    mptcp: Option<&MptcpOption>,
    mut dropped: Dropped,
) -> OptionBlock {
    // RFC 9293 §3.7.1 / Linux: MSS, timestamps, window scale and
    // SACK-permitted are reserved first; together they take at most 24 bytes.
    let mut remaining = MAX_OPTIONS_LEN - 4;
    if timestamps.is_some() {
        remaining -= 12;
    } else if sack_permitted {
        remaining -= 4;
    }
    if wscale.is_some() {
        remaining -= 4;
    }
    // Then TFO, if its aligned size still fits.
    let tfo = fast_open.filter(|f| aligned(f.buffer_len()) <= remaining);
    if let Some(f) = tfo {
        remaining -= aligned(f.buffer_len());
    } else if fast_open.is_some() {
        dropped.fast_open = true;
    }
    // MPTCP last, only if it still fits (Linux since late 2024 checks
    // `remaining >= size`; a 16-byte cookie leaves no room for MP_CAPABLE).
    let mp = mptcp.filter(|m| aligned(m.buffer_len()) <= remaining);
    if mptcp.is_some() && mp.is_none() {
        dropped.mptcp = 1;
    }

    let mut w = OptionWriter::new();
    // Every piece below was accounted for above, so none can fail; the
    // results are ignored only to keep this function infallible.
    let _ = w.mss(mss);
    match (timestamps, sack_permitted) {
        (Some(ts), true) => {
            let _ = w.sack_permitted_timestamps(ts);
        }
        (Some(ts), false) => {
            let _ = w.timestamps(ts);
        }
        (None, true) => {
            let _ = w.sack_permitted();
        }
        (None, false) => {}
    }
    if let Some(shift) = wscale {
        let _ = w.window_scale(shift);
    }
    if let Some(f) = tfo {
        let _ = w.fast_open(f);
    }
    if let Some(m) = mp {
        let _ = w.mptcp(m);
    }
    let mut block = w.finish();
    block.dropped = dropped;
    block
}

/// Options of a SYN, in Linux's order and budget: MSS, SACK-permitted +
/// timestamps, NOP + window scale, TFO, MPTCP — MPTCP only if it still fits.
pub fn syn_options(p: &SynParams) -> OptionBlock {
    handshake_options(
        p.mss,
        p.timestamps,
        p.wscale,
        p.sack_permitted,
        p.fast_open.as_ref(),
        p.mptcp.as_ref(),
        Dropped::default(),
    )
}

/// Options of a SYN/ACK, in Linux's order and budget.
///
/// RFC 8684 Appendix B.1: a cookie, MP_CAPABLE and timestamps do not fit
/// together, so either the cookie shrinks or timestamps go. Like Linux
/// (`subflow_prep_synack`), a SYN/ACK carrying both a TFO option and an
/// MPTCP option leaves timestamps out (SACK-permitted then appears as
/// `01 01 04 02`), and `dropped.timestamps` says so: the connection must run
/// without timestamps. MPTCP is then added only if it still fits.
pub fn synack_options(p: &SynAckParams) -> OptionBlock {
    let mut dropped = Dropped::default();
    let mut timestamps = p.timestamps;
    if p.fast_open.is_some() && p.mptcp.is_some() && timestamps.is_some() {
        timestamps = None;
        dropped.timestamps = true;
    }
    handshake_options(
        p.mss,
        timestamps,
        p.wscale,
        p.sack_permitted,
        p.fast_open.as_ref(),
        p.mptcp.as_ref(),
        dropped,
    )
}

/// Options of a segment without SYN: NOP NOP + timestamps, NOP NOP + SACK
/// blocks, then the MPTCP options, each padded with NOPs.
///
/// Budget as Linux `tcp_established_options`: timestamps first, then MPTCP
/// options (each only if it fits), then as many SACK blocks as the rest
/// allows (none if fewer than 12 bytes remain). So SACK blocks are dropped
/// before MPTCP options; both are counted in `dropped`.
pub fn segment_options(p: &SegmentParams<'_>) -> OptionBlock {
    let mut dropped = Dropped::default();
    let mut remaining = MAX_OPTIONS_LEN;
    if p.timestamps.is_some() {
        remaining -= 12;
    }
    // Which MPTCP options fit, as a bit set over `p.mptcp` (at most 40
    // options of 1+ bytes could ever be listed; more are simply dropped).
    let mut included: u64 = 0;
    for (i, m) in p.mptcp.iter().enumerate() {
        let size = aligned(m.buffer_len());
        if i < 64 && size <= remaining {
            included |= 1 << i;
            remaining -= size;
        } else {
            dropped.mptcp = dropped.mptcp.saturating_add(1);
        }
    }
    // RFC 2018 §3 / Linux: SACK needs 4 bytes (NOP NOP kind len) and 8 per
    // block; send as many as fit.
    let mut sack = p.sack;
    let fit = if remaining >= 12 {
        (remaining - 4) / 8
    } else {
        0
    };
    if sack.len() > fit {
        dropped.sack_blocks = (sack.len() - fit) as u8;
        sack.truncate(fit);
    }

    let mut w = OptionWriter::new();
    if let Some(ts) = p.timestamps {
        let _ = w.timestamps(ts);
    }
    let _ = w.sack(&sack);
    for (i, m) in p.mptcp.iter().enumerate() {
        if i < 64 && included & (1 << i) != 0 {
            let _ = w.mptcp(m);
        }
    }
    let mut block = w.finish();
    block.dropped = dropped;
    block
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::mptcp::{
        Dss, DssAck, DssDsn, DssMapping, MpCapable, MpJoin, MpcFlags, RemoveAddr,
    };
    use crate::options::tcp::{SegmentOptions, TfoForm};
    use crate::SubflowSeq;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn cookie8() -> FastOpenOption {
        FastOpenOption::new(TfoForm::Iana, &hex("f26b050ccbdb9957")).unwrap()
    }

    fn linux_syn(tsval: u32) -> SynParams {
        SynParams {
            mss: 1460,
            timestamps: Some(Timestamps { tsval, tsecr: 0 }),
            wscale: Some(10),
            sack_permitted: true,
            fast_open: None,
            mptcp: Some(MptcpOption::MpCapable(MpCapable::syn(MpcFlags(1)))),
        }
    }

    fn check(block: &OptionBlock, want: &str) {
        assert_eq!(block.as_slice(), &hex(want)[..], "{block:?}");
        assert_eq!(block.len % 4, 0);
        // What we write parses back.
        SegmentOptions::parse(block.as_slice()).unwrap();
    }

    #[test]
    fn syn_mptcp_with_cookie() {
        // tfo-syn-data.pcap frame 1: 36 bytes.
        let b = syn_options(&SynParams {
            fast_open: Some(cookie8()),
            ..linux_syn(0x05192fc7)
        });
        check(
            &b,
            "020405b4 0402080a 05192fc7 00000000 0103030a 220af26b 050ccbdb 99570101 1e040101",
        );
        assert!(b.dropped.is_nothing());
        assert_eq!(b.data_offset_words(), 14);
    }

    #[test]
    fn syn_cookie_requests() {
        // tfo-cookie-request.pcap frame 1.
        check(
            &syn_options(&SynParams {
                fast_open: Some(FastOpenOption::request(TfoForm::Iana)),
                ..linux_syn(0xb54b6681)
            }),
            "020405b4 0402080a b54b6681 00000000 0103030a 22020101 1e040101",
        );
        // tfo-listener-without-tfo.pcap frame 15: experimental request.
        check(
            &syn_options(&SynParams {
                fast_open: Some(FastOpenOption::request(TfoForm::Experimental)),
                ..linux_syn(0xb0f8acd2)
            }),
            "020405b4 0402080a b0f8acd2 00000000 0103030a fe04f989 1e040101",
        );
        // Plain TCP (tfo-cookie-tcp-vs-mptcp.pcap frame 1).
        check(
            &syn_options(&SynParams {
                fast_open: Some(FastOpenOption::request(TfoForm::Iana)),
                mptcp: None,
                ..linux_syn(0x38956e2a)
            }),
            "020405b4 0402080a 38956e2a 00000000 0103030a 22020101",
        );
    }

    #[test]
    fn syn_sixteen_byte_cookie_leaves_no_room_for_mptcp() {
        let c16 = FastOpenOption::new(TfoForm::Iana, &[0x11; 16]).unwrap();
        let b = syn_options(&SynParams {
            fast_open: Some(c16),
            ..linux_syn(1)
        });
        assert_eq!(b.len, 40);
        assert_eq!(b.dropped.mptcp, 1);
        let s = SegmentOptions::parse(b.as_slice()).unwrap();
        assert!(s.mptcp.is_none());
        assert_eq!(s.fast_open, Some(c16));
        // A 14-byte cookie still fits next to MP_CAPABLE (protocol.md §1.1).
        let c14 = FastOpenOption::new(TfoForm::Iana, &[0x22; 14]).unwrap();
        let b = syn_options(&SynParams {
            fast_open: Some(c14),
            ..linux_syn(1)
        });
        assert_eq!(b.len, 40);
        assert!(b.dropped.is_nothing());
    }

    #[test]
    fn syn_join() {
        // tfo-syn-data-two-subflows.pcap frame 6.
        let b = syn_options(&SynParams {
            mptcp: Some(MptcpOption::MpJoin(MpJoin::Syn {
                backup: false,
                addr_id: 2,
                token: 0xcd89a543,
                nonce: 0xf4398855,
            })),
            ..linux_syn(0xbaf10ca8)
        });
        check(
            &b,
            "020405b4 0402080a baf10ca8 00000000 0103030a 1e0c1002 cd89a543 f4398855",
        );
    }

    #[test]
    fn synack_cookie_and_mp_capable_drop_timestamps() {
        // tfo-cookie-request.pcap frame 2: TS given, but dropped.
        let b = synack_options(&SynAckParams {
            mss: 1460,
            timestamps: Some(Timestamps {
                tsval: 5,
                tsecr: 0xb54b6681,
            }),
            wscale: Some(10),
            sack_permitted: true,
            fast_open: Some(cookie8()),
            mptcp: Some(MptcpOption::MpCapable(MpCapable::synack(
                MpcFlags(1),
                0x967bf533b4cf82ee,
            ))),
        });
        check(
            &b,
            "020405b4 01010402 0103030a 220af26b 050ccbdb 99570101 1e0c0101 967bf533 b4cf82ee",
        );
        assert!(b.dropped.timestamps);
        assert_eq!(b.dropped.mptcp, 0);
    }

    #[test]
    fn synack_without_cookie_keeps_timestamps() {
        // tfo-syn-data.pcap frame 2.
        check(
            &synack_options(&SynAckParams {
                mss: 1460,
                timestamps: Some(Timestamps {
                    tsval: 0xe74485c1,
                    tsecr: 0x05192fc7,
                }),
                wscale: Some(10),
                sack_permitted: true,
                fast_open: None,
                mptcp: Some(MptcpOption::MpCapable(MpCapable::synack(
                    MpcFlags(1),
                    0xf1397c150a9df457,
                ))),
            }),
            "020405b4 0402080a e74485c1 05192fc7 0103030a 1e0c0101 f1397c15 0a9df457",
        );
        // Plain TCP with a cookie keeps timestamps (cookie-tcp-vs-mptcp frame 2).
        check(
            &synack_options(&SynAckParams {
                mss: 1460,
                timestamps: Some(Timestamps {
                    tsval: 0x99c47e45,
                    tsecr: 0x38956e2a,
                }),
                wscale: Some(10),
                sack_permitted: true,
                fast_open: Some(cookie8()),
                mptcp: None,
            }),
            "020405b4 0402080a 99c47e45 38956e2a 0103030a 220af26b 050ccbdb 99570101",
        );
    }

    #[test]
    fn minimal_handshakes() {
        check(
            &syn_options(&SynParams {
                mss: 536,
                ..SynParams::default()
            }),
            "02040218",
        );
        // Timestamps without SACK: NOP NOP TS.
        check(
            &syn_options(&SynParams {
                mss: 1460,
                timestamps: Some(Timestamps { tsval: 1, tsecr: 0 }),
                ..SynParams::default()
            }),
            "020405b4 0101080a 00000001 00000000",
        );
    }

    fn dss_ack64_map64(fin: bool, csum: Option<u16>) -> MptcpOption {
        MptcpOption::Dss(Dss::with_mapping(
            Some(DssAck::Ack64(0xf0978d4b80177f27)),
            DssMapping {
                dsn: DssDsn::Dsn64(0xaaa66275276bf3ad),
                ssn: 1,
                data_len: 32,
                checksum: csum,
            },
            fin,
        ))
    }

    #[test]
    fn segments_like_linux() {
        let ts = Some(Timestamps {
            tsval: 0x05192fc7,
            tsecr: 0xe74485c1,
        });
        // TS + DSS 26 + NOP NOP = 40 (tfo-syn-data.pcap frame 6 layout).
        let m = [dss_ack64_map64(false, None)];
        check(
            &segment_options(&SegmentParams {
                timestamps: ts,
                sack: SackBlocks::new(),
                mptcp: &m,
            }),
            "0101080a 05192fc7 e74485c1 1e1a200f f0978d4b 80177f27 aaa66275 276bf3ad 00000001 00200101",
        );
        // No TS, DSS ack32: 8 bytes, no padding (tfo-invalid-cookie frame 3).
        let m = [MptcpOption::Dss(Dss::ack(DssAck::Ack32(0x79724a53)))];
        check(
            &segment_options(&SegmentParams {
                mptcp: &m,
                ..SegmentParams::default()
            }),
            "1e082001 79724a53",
        );
        // MP_CAPABLE with data (22) + NOP NOP.
        let m = [MptcpOption::MpCapable(MpCapable::data(
            MpcFlags(1),
            0x5e70a173e7138776,
            0x388daf6f4e655b99,
            32,
            None,
        ))];
        check(
            &segment_options(&SegmentParams {
                mptcp: &m,
                ..SegmentParams::default()
            }),
            "1e160101 5e70a173 e7138776 388daf6f 4e655b99 00200101",
        );
        // MP_PRIO (3) + NOP; REMOVE_ADDR of 2 ids (5) + 3 NOPs.
        let m = [
            MptcpOption::MpPrio { backup: true },
            MptcpOption::RemoveAddr(RemoveAddr::new(&[3, 4]).unwrap()),
        ];
        check(
            &segment_options(&SegmentParams {
                mptcp: &m,
                ..SegmentParams::default()
            }),
            "1e035101 1e054003 04010101",
        );
        // Nothing at all.
        assert_eq!(segment_options(&SegmentParams::default()).len, 0);
    }

    #[test]
    fn sack_blocks_give_way_to_mptcp() {
        let ts = Some(Timestamps { tsval: 1, tsecr: 2 });
        let blocks = SackBlocks::from_slice(&[
            (SubflowSeq(10), SubflowSeq(20)),
            (SubflowSeq(30), SubflowSeq(40)),
            (SubflowSeq(50), SubflowSeq(60)),
            (SubflowSeq(70), SubflowSeq(80)),
        ])
        .unwrap();
        // TS (12) + DSS 28: no room for SACK.
        let m = [dss_ack64_map64(false, Some(0x1234))];
        let b = segment_options(&SegmentParams {
            timestamps: ts,
            sack: blocks,
            mptcp: &m,
        });
        assert_eq!(b.len, 40);
        assert_eq!(b.dropped.sack_blocks, 4);
        assert_eq!(b.dropped.mptcp, 0);
        // TS + DSS ack32 (8): 20 bytes left, 2 blocks.
        let m = [MptcpOption::Dss(Dss::ack(DssAck::Ack32(7)))];
        let b = segment_options(&SegmentParams {
            timestamps: ts,
            sack: blocks,
            mptcp: &m,
        });
        check(
            &b,
            "0101080a 00000001 00000002 01010512 0000000a 00000014 0000001e 00000028 1e082001 00000007",
        );
        assert_eq!(b.dropped.sack_blocks, 2);
        // No TS + DSS 8: 32 left, 3 blocks.
        let b = segment_options(&SegmentParams {
            timestamps: None,
            sack: blocks,
            mptcp: &m,
        });
        assert_eq!(b.len, 4 + 24 + 8);
        assert_eq!(b.dropped.sack_blocks, 1);
        // TS alone: 3 blocks (Linux's usual maximum with timestamps).
        let b = segment_options(&SegmentParams {
            timestamps: ts,
            sack: blocks,
            mptcp: &[],
        });
        assert_eq!(b.len, 12 + 4 + 24);
        assert_eq!(b.dropped.sack_blocks, 1);
        // An MPTCP option that does not fit at all is counted.
        let m = [
            dss_ack64_map64(false, Some(1)),
            MptcpOption::MpFail { dsn: 5 },
        ];
        let b = segment_options(&SegmentParams {
            timestamps: ts,
            sack: SackBlocks::new(),
            mptcp: &m,
        });
        assert_eq!(b.dropped.mptcp, 1);
        assert_eq!(b.len, 40);
    }

    #[test]
    fn writer_refuses_overflow_atomically() {
        let mut w = OptionWriter::new();
        for _ in 0..3 {
            w.sack_permitted_timestamps(Timestamps::default()).unwrap();
        }
        assert_eq!(w.remaining(), 4);
        let before = w.finish();
        let mut w2 = w;
        assert_eq!(
            w2.timestamps(Timestamps::default()),
            Err(Error::BufferTooSmall)
        );
        assert_eq!(w2.finish(), before);
        w2.mss(1).unwrap();
        assert_eq!(w2.remaining(), 0);
        assert!(w2.window_scale(1).is_err());
    }
}
