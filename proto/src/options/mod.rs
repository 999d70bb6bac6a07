//! TCP options (RFC 9293 §3.2) and the MPTCP option (RFC 8684 §3).
//!
//! Owns: the byte layout of every TCP option this stack reads or writes
//! ([`tcp`]), every MPTCP v1 subtype ([`mptcp`]), and the Linux-compatible
//! layout of whole option blocks within the 40-byte budget ([`builder`]).
//! Must not touch: TCP/IP headers (`wire`), keys, tokens and HMACs
//! (`crypto`), cookie computation (`tfo`), or any connection state.
//!
//! No allocation anywhere: parsers borrow the caller's bytes or copy into
//! fixed arrays, emitters write into `&mut [u8]`. Malformed input is an
//! [`crate::Error`], never a panic.

pub mod builder;
pub mod mptcp;
pub mod tcp;

pub use builder::{
    segment_options, syn_options, synack_options, Dropped, OptionBlock, OptionWriter,
    SegmentParams, SynAckParams, SynParams,
};
pub use mptcp::{
    AddAddr, Dss, DssAck, DssDsn, DssMapping, MpCapable, MpJoin, MpTcpRstReason, MpcFlags,
    MptcpList, MptcpOption, MptcpUnknown, RemoveAddr,
};
pub use tcp::{
    FastOpenOption, SackBlocks, SegmentOptions, TcpOption, TcpOptionIter, TfoForm, Timestamps,
};

use crate::{Error, Result};

/// Most option bytes a TCP header can carry: a data offset of 15 words
/// minus the 5 words of the fixed header (RFC 9293 §3.1).
pub const MAX_OPTIONS_LEN: usize = 40;

/// Reads a big-endian u16 at `at`; `Truncated` if the slice is too short.
#[inline]
pub(crate) fn rd16(b: &[u8], at: usize) -> Result<u16> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Ok(u16::from_be_bytes([x, y])),
        _ => Err(Error::Truncated),
    }
}

/// Reads a big-endian u32 at `at`; `Truncated` if the slice is too short.
#[inline]
pub(crate) fn rd32(b: &[u8], at: usize) -> Result<u32> {
    match b.get(at..at + 4) {
        Some(&[a, b1, c, d]) => Ok(u32::from_be_bytes([a, b1, c, d])),
        _ => Err(Error::Truncated),
    }
}

/// Reads a big-endian u64 at `at`; `Truncated` if the slice is too short.
#[inline]
pub(crate) fn rd64(b: &[u8], at: usize) -> Result<u64> {
    Ok(((rd32(b, at)? as u64) << 32) | rd32(b, at + 4)? as u64)
}

/// A cursor that writes into a buffer whose size was checked up front.
///
/// Writes past the end are dropped (and trip a debug assertion) instead of
/// panicking, so an emitter bug cannot crash a release build.
pub(crate) struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    /// A writer over `buf`, or `BufferTooSmall` if it holds fewer than
    /// `need` bytes.
    #[inline]
    pub(crate) fn new(buf: &'b mut [u8], need: usize) -> Result<Self> {
        if buf.len() < need {
            return Err(Error::BufferTooSmall);
        }
        Ok(Writer { buf, pos: 0 })
    }

    #[inline]
    pub(crate) fn bytes(&mut self, v: &[u8]) {
        let end = self.pos + v.len();
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => dst.copy_from_slice(v),
            None => debug_assert!(false, "option emitter overran its checked length"),
        }
        self.pos = end;
    }

    #[inline]
    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }

    #[inline]
    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }

    #[inline]
    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }

    #[inline]
    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }

    /// Bytes written so far.
    #[inline]
    pub(crate) fn written(&self) -> usize {
        self.pos
    }
}

/// Turns the result of a `try_emit` into the `usize` of an infallible
/// `emit`, whose documented precondition is a large enough buffer.
#[inline]
#[track_caller]
pub(crate) fn expect_room(r: Result<usize>) -> usize {
    match r {
        Ok(n) => n,
        Err(e) => panic!("option emit: {e} (buffer shorter than buffer_len())"),
    }
}
