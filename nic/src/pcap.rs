//! Packet capture in the classic pcap format, for any port.
//!
//! - [`PcapWriter`] writes a classic pcap file: Ethernet link type,
//!   nanosecond-resolution magic `0xa1b23c4d`, little-endian.
//! - [`PcapTap`] wraps any [`Port`] and writes every frame it receives and
//!   every frame it sends to a [`PcapWriter`], stamped with a [`Clock`].
//! - [`PcapReader`] reads classic pcap back (either byte order, either
//!   microsecond or nanosecond resolution), for tests.
//!
//! Frames a tap captures on transmit are as the stack handed them over:
//! checksums left to the NIC's transmit offload are not filled in yet (as in
//! a capture on a Linux host with offloads).

use crate::clock::Clock;
use crate::port::{Port, PortCaps, PortStats};
use crate::Buf;
use std::io::{self, Read, Write};

/// Link type of Ethernet frames (`LINKTYPE_ETHERNET`).
pub const LINKTYPE_ETHERNET: u32 = 1;

/// Magic number of a pcap file with microsecond timestamps.
const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Magic number of a pcap file with nanosecond timestamps.
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// Default snapshot length: whole frames.
pub const DEFAULT_SNAPLEN: u32 = 65535;

/// Bytes of a record header.
const RECORD_HEADER_LEN: usize = 16;

/// Appends one record (header and the first `snaplen` bytes of `frame`).
fn encode_record(out: &mut Vec<u8>, snaplen: u32, ts_ns: u64, frame: &[u8]) {
    let captured = frame.len().min(snaplen as usize);
    let secs = (ts_ns / 1_000_000_000) as u32;
    let nanos = (ts_ns % 1_000_000_000) as u32;
    out.extend_from_slice(&secs.to_le_bytes());
    out.extend_from_slice(&nanos.to_le_bytes());
    out.extend_from_slice(&(captured as u32).to_le_bytes());
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(&frame[..captured]);
}

/// Writes a classic pcap file (nanosecond timestamps, Ethernet).
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
    /// Scratch space for one record, reused.
    record: Vec<u8>,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header to `out` and returns a writer that keeps
    /// whole frames (snapshot length [`DEFAULT_SNAPLEN`]).
    pub fn new(out: W) -> io::Result<PcapWriter<W>> {
        PcapWriter::with_snaplen(out, DEFAULT_SNAPLEN)
    }

    /// Like [`PcapWriter::new`], keeping at most `snaplen` bytes of a frame.
    pub fn with_snaplen(mut out: W, snaplen: u32) -> io::Result<PcapWriter<W>> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&MAGIC_NANOS.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes()); // version major
        header.extend_from_slice(&4u16.to_le_bytes()); // version minor
        header.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        header.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        header.extend_from_slice(&snaplen.to_le_bytes());
        header.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter {
            out,
            snaplen,
            record: Vec::with_capacity(RECORD_HEADER_LEN + 2048),
        })
    }

    /// Writes one frame captured at `ts_ns` nanoseconds.
    pub fn write_packet(&mut self, ts_ns: u64, frame: &[u8]) -> io::Result<()> {
        self.record.clear();
        encode_record(&mut self.record, self.snaplen, ts_ns, frame);
        self.out.write_all(&self.record)
    }

    /// The snapshot length.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The underlying writer, mutably.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Gives the underlying writer back (not flushed).
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A [`Port`] that forwards to `P` and captures every frame received or sent.
///
/// Received frames are written after the inner port hands them over; sent
/// frames after the inner port accepted them (frames it leaves in the vector
/// are not written, so a retried frame is written once). Port methods return
/// no errors, so the first write error is kept ([`PcapTap::error`]), capture
/// stops, and forwarding goes on.
#[derive(Debug)]
pub struct PcapTap<P: Port, W: Write> {
    inner: P,
    writer: PcapWriter<W>,
    clock: Clock,
    /// Encoded records of the frames offered to the inner port.
    pending: Vec<u8>,
    /// End offset in `pending` of each frame's record.
    record_ends: Vec<usize>,
    error: Option<io::Error>,
}

impl<P: Port, W: Write> PcapTap<P, W> {
    /// Wraps `inner`, capturing into `writer` with timestamps from `clock`.
    pub fn new(inner: P, writer: PcapWriter<W>, clock: Clock) -> PcapTap<P, W> {
        PcapTap {
            inner,
            writer,
            clock,
            pending: Vec::new(),
            record_ends: Vec::new(),
            error: None,
        }
    }

    /// The wrapped port.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The wrapped port, mutably (frames passed to it directly are not
    /// captured).
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// The capture writer.
    pub fn writer_mut(&mut self) -> &mut PcapWriter<W> {
        &mut self.writer
    }

    /// The first write error, after which capture stopped.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Unwraps into the port and the writer.
    pub fn into_parts(self) -> (P, PcapWriter<W>) {
        (self.inner, self.writer)
    }

    /// Flushes the capture and unwraps into the port and the underlying
    /// writer; fails with the first write error if capture had stopped.
    pub fn finish(mut self) -> io::Result<(P, W)> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.writer.flush()?;
        Ok((self.inner, self.writer.into_inner()))
    }

    fn record_error(&mut self, result: io::Result<()>) {
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
    }
}

impl<P: Port, W: Write> Port for PcapTap<P, W> {
    type Buf = P::Buf;

    fn rx_burst(&mut self, out: &mut Vec<P::Buf>, max: usize) -> usize {
        let first = out.len();
        let received = self.inner.rx_burst(out, max);
        if self.error.is_none() && received > 0 {
            let now = self.clock.now();
            self.pending.clear();
            for buf in &out[first..] {
                encode_record(&mut self.pending, self.writer.snaplen, now, buf.data());
            }
            let result = self.writer.out.write_all(&self.pending);
            self.record_error(result);
        }
        received
    }

    fn tx_burst(&mut self, pkts: &mut Vec<P::Buf>) -> usize {
        if self.error.is_some() {
            return self.inner.tx_burst(pkts);
        }
        // Encode before sending: accepted frames leave the vector.
        let now = self.clock.now();
        self.pending.clear();
        self.record_ends.clear();
        for buf in pkts.iter() {
            encode_record(&mut self.pending, self.writer.snaplen, now, buf.data());
            self.record_ends.push(self.pending.len());
        }
        let accepted = self.inner.tx_burst(pkts);
        if accepted > 0 {
            let end = self.record_ends[accepted - 1];
            let result = self.writer.out.write_all(&self.pending[..end]);
            self.record_error(result);
        }
        accepted
    }

    fn alloc(&mut self) -> Option<P::Buf> {
        self.inner.alloc()
    }

    fn caps(&self) -> PortCaps {
        self.inner.caps()
    }

    fn stats(&self) -> PortStats {
        self.inner.stats()
    }
}

/// One record read by [`PcapReader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapPacket {
    /// Capture time in nanoseconds (microsecond files are scaled).
    pub ts_ns: u64,
    /// Length of the frame on the wire.
    pub orig_len: u32,
    /// The captured bytes (at most the snapshot length).
    pub data: Vec<u8>,
}

/// Records larger than this are taken as a corrupt file.
const MAX_RECORD_LEN: u32 = 1 << 20;

/// Reads a classic pcap file: either byte order, microsecond or nanosecond
/// timestamps. For tests and tools; not on any fast path.
#[derive(Debug)]
pub struct PcapReader<R: Read> {
    input: R,
    big_endian: bool,
    nanos: bool,
    snaplen: u32,
    link_type: u32,
}

impl<R: Read> PcapReader<R> {
    /// Reads and checks the file header.
    pub fn new(mut input: R) -> io::Result<PcapReader<R>> {
        let mut header = [0u8; 24];
        input.read_exact(&mut header)?;
        let magic_le = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let magic_be = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let (big_endian, nanos) = match (magic_le, magic_be) {
            (MAGIC_MICROS, _) => (false, false),
            (MAGIC_NANOS, _) => (false, true),
            (_, MAGIC_MICROS) => (true, false),
            (_, MAGIC_NANOS) => (true, true),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("not a classic pcap file (magic {magic_le:#010x})"),
                ))
            }
        };
        let mut reader = PcapReader {
            input,
            big_endian,
            nanos,
            snaplen: 0,
            link_type: 0,
        };
        reader.snaplen = reader.u32_at(&header, 16);
        reader.link_type = reader.u32_at(&header, 20);
        Ok(reader)
    }

    fn u32_at(&self, bytes: &[u8], at: usize) -> u32 {
        let b = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// Link type from the file header ([`LINKTYPE_ETHERNET`] for ours).
    pub fn link_type(&self) -> u32 {
        self.link_type
    }

    /// Snapshot length from the file header.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// True when timestamps have nanosecond resolution.
    pub fn is_nanosecond(&self) -> bool {
        self.nanos
    }

    /// The next record, or `None` at the end of the file. A file that ends
    /// inside a record is an `UnexpectedEof` error.
    pub fn next_packet(&mut self) -> io::Result<Option<PcapPacket>> {
        let mut header = [0u8; RECORD_HEADER_LEN];
        let mut filled = 0;
        while filled < header.len() {
            match self.input.read(&mut header[filled..]) {
                Ok(0) if filled == 0 => return Ok(None),
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let secs = self.u32_at(&header, 0) as u64;
        let fraction = self.u32_at(&header, 4) as u64;
        let captured = self.u32_at(&header, 8);
        let orig_len = self.u32_at(&header, 12);
        if captured > MAX_RECORD_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("pcap record of {captured} bytes"),
            ));
        }
        let mut data = vec![0u8; captured as usize];
        self.input.read_exact(&mut data)?;
        let sub_second_ns = if self.nanos {
            fraction
        } else {
            fraction * 1000
        };
        Ok(Some(PcapPacket {
            ts_ns: secs * 1_000_000_000 + sub_second_ns,
            orig_len,
            data,
        }))
    }
}

impl<R: Read> Iterator for PcapReader<R> {
    type Item = io::Result<PcapPacket>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_packet().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_output_reads_back() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_packet(1_500_000_123, b"abc").unwrap();
        w.write_packet(2_000_000_000, &[7u8; 100]).unwrap();
        let bytes = w.into_inner();
        assert_eq!(&bytes[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        let mut r = PcapReader::new(&bytes[..]).unwrap();
        assert!(r.is_nanosecond());
        assert_eq!(r.link_type(), LINKTYPE_ETHERNET);
        assert_eq!(r.snaplen(), DEFAULT_SNAPLEN);
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(
            (p.ts_ns, p.orig_len, &p.data[..]),
            (1_500_000_123, 3, &b"abc"[..])
        );
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!((p.ts_ns, p.data.len()), (2_000_000_000, 100));
        assert!(r.next_packet().unwrap().is_none());
    }

    #[test]
    fn snaplen_truncates_but_keeps_orig_len() {
        let mut w = PcapWriter::with_snaplen(Vec::new(), 4).unwrap();
        w.write_packet(0, b"abcdefgh").unwrap();
        let bytes = w.into_inner();
        let p = PcapReader::new(&bytes[..])
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!((&p.data[..], p.orig_len), (&b"abcd"[..], 8));
    }

    #[test]
    fn reads_big_endian_microsecond_files() {
        let mut f = Vec::new();
        f.extend_from_slice(&MAGIC_MICROS.to_be_bytes());
        f.extend_from_slice(&2u16.to_be_bytes());
        f.extend_from_slice(&4u16.to_be_bytes());
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&262144u32.to_be_bytes());
        f.extend_from_slice(&1u32.to_be_bytes());
        f.extend_from_slice(&3u32.to_be_bytes()); // seconds
        f.extend_from_slice(&250_000u32.to_be_bytes()); // microseconds
        f.extend_from_slice(&2u32.to_be_bytes());
        f.extend_from_slice(&60u32.to_be_bytes());
        f.extend_from_slice(&[0xaa, 0xbb]);
        let mut r = PcapReader::new(&f[..]).unwrap();
        assert!(!r.is_nanosecond());
        assert_eq!(r.snaplen(), 262144);
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(p.ts_ns, 3_250_000_000);
        assert_eq!((p.orig_len, &p.data[..]), (60, &[0xaa, 0xbb][..]));
        assert!(r.next_packet().unwrap().is_none());
    }

    #[test]
    fn truncated_and_foreign_files_are_errors() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_packet(0, b"abcdef").unwrap();
        let bytes = w.into_inner();
        for cut in [24 + 8, bytes.len() - 1] {
            let mut r = PcapReader::new(&bytes[..cut]).unwrap();
            let e = r.next_packet().unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        }
        let e = PcapReader::new(&[0u8; 24][..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}
