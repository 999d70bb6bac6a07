//! The port trait: one receive/transmit queue pair owned by one worker.
//!
//! A worker is generic over `P: Port` (no dynamic dispatch per packet). A
//! `Port` value is used by one thread at a time through `&mut self`, so
//! nothing here takes a lock on the fast path and `Sync` is not required.

use crate::buf::Buf;
use mptfo_proto::checksum::ChecksumCaps;

/// What a port can do, fixed when the port is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortCaps {
    /// Checksum offloads of the port.
    pub checksum: ChecksumCaps,
    /// Largest IP packet the port sends or receives, in bytes (a frame is
    /// at most `mtu + 14` bytes).
    pub mtu: u16,
    /// The port's Ethernet address.
    pub mac: [u8; 6],
    /// Largest burst worth asking [`Port::rx_burst`] for.
    pub max_burst: usize,
    /// The NIC spreads flows over queues by a hash of the 4-tuple.
    pub rss: bool,
}

/// Counters of one port (one queue pair); plain integers, summed across
/// queues when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortStats {
    /// Frames handed to the worker by `rx_burst`.
    pub rx_packets: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Frames that arrived but could not be received (no free buffer).
    pub rx_dropped: u64,
    /// Frames accepted by `tx_burst` and sent.
    pub tx_packets: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Frames accepted by `tx_burst` but discarded by the port: too long,
    /// or refused by a full transmit ring while the frames waiting for it
    /// were already at the port's bound.
    pub tx_dropped: u64,
}

impl std::ops::AddAssign for PortStats {
    fn add_assign(&mut self, o: PortStats) {
        self.rx_packets += o.rx_packets;
        self.rx_bytes += o.rx_bytes;
        self.rx_dropped += o.rx_dropped;
        self.tx_packets += o.tx_packets;
        self.tx_bytes += o.tx_bytes;
        self.tx_dropped += o.tx_dropped;
    }
}

/// One receive/transmit queue pair of a NIC (or of a simulated one).
pub trait Port {
    /// The buffer handle this port receives into and transmits from.
    type Buf: Buf;

    /// Appends up to `max` received frames to `out` and returns how many.
    fn rx_burst(&mut self, out: &mut Vec<Self::Buf>, max: usize) -> usize;

    /// Offers the frames of `pkts` for transmission, in order. Removes the
    /// frames the port accepted from the front of `pkts` (ownership passes to
    /// the port) and returns their number; the rest stay for a later call.
    /// A port may bound how many frames wait so: it then accepts the oldest
    /// beyond its bound and discards them, counted in
    /// [`PortStats::tx_dropped`].
    fn tx_burst(&mut self, pkts: &mut Vec<Self::Buf>) -> usize;

    /// An empty buffer from the port's pool, with [`DEFAULT_HEADROOM`]
    /// bytes of headroom and [`DEFAULT_DATA_ROOM`] bytes of room after it;
    /// `None` when the pool is exhausted.
    ///
    /// [`DEFAULT_HEADROOM`]: crate::DEFAULT_HEADROOM
    /// [`DEFAULT_DATA_ROOM`]: crate::DEFAULT_DATA_ROOM
    fn alloc(&mut self) -> Option<Self::Buf>;

    /// The port's capabilities.
    fn caps(&self) -> PortCaps;

    /// The port's counters.
    fn stats(&self) -> PortStats;
}
