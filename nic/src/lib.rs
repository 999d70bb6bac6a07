//! mptfo-nic: the port layer under the per-core, run-to-completion worker.
//!
//! Owns:
//! - [`Buf`]: a handle to a packet buffer — a reference-counted window into
//!   pooled storage with headroom, shaped after a DPDK `rte_mbuf`;
//! - [`Port`]: one receive/transmit queue pair owned by one worker, with burst
//!   receive and transmit, buffer allocation, capabilities and counters;
//! - [`Clock`]: the nanosecond clock shared by a link's ports and by tests
//!   (virtual or real time);
//! - [`mem`]: the in-process link backend (a pair of ports joined by a
//!   simulated wire with seeded delay, jitter, loss, duplication, reordering
//!   and a rate limit), used by deterministic tests and the embedded benchmark;
//! - [`pcap`]: a classic-pcap writer, a reader for tests, and [`PcapTap`], a
//!   wrapper that captures every frame of any port.
//!
//! Does not own: parsing or building headers (that is `mptfo-proto`), and
//! anything about connections (that is the engine). The only header knowledge
//! here is the few bytes a NIC itself reads to report or fill in checksums.
//!
//! The DPDK backend will live in its own module with its own rules for
//! `unsafe`; everything here is safe code.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod buf;
pub mod clock;
pub mod mem;
pub mod pcap;
pub mod port;
mod rng;

pub use buf::{Buf, ChecksumStatus, RxFlags, TxOffload, DEFAULT_DATA_ROOM, DEFAULT_HEADROOM};
pub use clock::Clock;
pub use mem::{
    Direction, DirectionConfig, LinkConfig, LinkControl, LinkStats, MemBuf, MemLink, MemPool,
    MemPort,
};
pub use mptfo_proto::checksum::{ChecksumCaps, Offload};
pub use pcap::{PcapPacket, PcapReader, PcapTap, PcapWriter};
pub use port::{Port, PortCaps, PortStats};
