//! The packet-buffer handle every backend implements.
//!
//! A [`Buf`] is one reference to packet storage plus this handle's own window
//! (`front..back`) into it, the way an `rte_mbuf` is a data room with a
//! `data_off`/`data_len` window and a reference count:
//!
//! ```text
//!   storage:  [ headroom |  data (the window)  | tailroom ]
//!                         ^front              ^back
//! ```
//!
//! Headers are written in front of a payload by [`Buf::prepend`] into the
//! headroom (no copy of the payload). [`Buf::share`] makes a second handle to
//! the same bytes (a reference-count increment); each handle then narrows its
//! own window with [`Buf::trim_front`] / [`Buf::trim_back`], which is how
//! received payload is handed out as a view and how a retransmission queue
//! keeps a reference instead of a copy. Bytes can be written only through a
//! handle that is the sole reference ([`Buf::data_mut`], [`Buf::prepend`],
//! [`Buf::append`] return `None` otherwise). Dropping a handle releases its
//! reference; the last release returns the storage to its pool.

/// Headroom of a freshly allocated buffer (as DPDK's `RTE_PKTMBUF_HEADROOM`).
pub const DEFAULT_HEADROOM: usize = 128;

/// Bytes after the headroom of a buffer: room for a 1514-byte frame and
/// more (as DPDK's `RTE_MBUF_DEFAULT_DATAROOM`).
pub const DEFAULT_DATA_ROOM: usize = 2048;

/// What a receiving NIC found out about one checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumStatus {
    /// Not checked (no offload, or not a packet the NIC understands): the
    /// stack verifies it itself.
    #[default]
    Unknown,
    /// Checked and correct: the stack may skip verification.
    Good,
    /// Checked and wrong: the stack drops the packet.
    Bad,
}

/// Receive-offload results attached to a received buffer by the backend
/// (as the `RTE_MBUF_F_RX_*_CKSUM_*` bits of an mbuf's `ol_flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RxFlags {
    /// IPv4 header checksum.
    pub ip_checksum: ChecksumStatus,
    /// TCP checksum.
    pub l4_checksum: ChecksumStatus,
}

/// Transmit-offload requests the stack attaches to a buffer before sending
/// it (as an mbuf's `l2_len`, `l3_len` and `RTE_MBUF_F_TX_*_CKSUM` bits).
///
/// The requests are honoured only where the port's
/// [`ChecksumCaps`](crate::ChecksumCaps) say the NIC fills that checksum in
/// (`Offload::Both` or `Offload::Tx`). As with DPDK, the stack prepares the
/// frame: the TCP checksum field holds the folded (not complemented)
/// pseudo-header sum, and the IPv4 checksum field is ignored and overwritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxOffload {
    /// Bytes of the link-layer header (14 for Ethernet without VLAN tag).
    pub l2_len: u16,
    /// Bytes of the IP header, with IPv4 options or IPv6 extension headers.
    pub l3_len: u16,
    /// The NIC fills in the IPv4 header checksum.
    pub ipv4_checksum: bool,
    /// The NIC fills in the TCP checksum.
    pub tcp_checksum: bool,
}

/// A handle to a packet buffer: one reference to pooled storage and this
/// handle's window into it. See the [module documentation](self).
///
/// Buffers are `Send` so that a worker can hand a packet to the core that
/// owns its connection.
pub trait Buf: Sized + Send {
    /// The bytes of this handle's window.
    fn data(&self) -> &[u8];

    /// The bytes of the window for writing, when this handle is the only
    /// reference to the storage (an mbuf with refcnt 1); `None` otherwise.
    fn data_mut(&mut self) -> Option<&mut [u8]>;

    /// Length of the window in bytes.
    fn len(&self) -> usize;

    /// True when the window is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of storage in front of the window.
    fn headroom(&self) -> usize;

    /// Bytes of storage after the window.
    fn tailroom(&self) -> usize;

    /// Grows the window by `n` bytes at the front, into the headroom, and
    /// returns the new bytes for writing (a header in front of a payload).
    /// `None`, with nothing changed, when the headroom is too small or the
    /// storage is shared.
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]>;

    /// Grows the window by `n` bytes at the back, into the tailroom, and
    /// returns the new bytes for writing. `None`, with nothing changed, when
    /// the tailroom is too small or the storage is shared.
    fn append(&mut self, n: usize) -> Option<&mut [u8]>;

    /// Removes `n` bytes from the front of the window (they become
    /// headroom). Returns false, with nothing changed, when `n > len()`.
    /// Allowed on a shared buffer: only this handle's window moves.
    fn trim_front(&mut self, n: usize) -> bool;

    /// Removes `n` bytes from the back of the window. Returns false, with
    /// nothing changed, when `n > len()`. Allowed on a shared buffer.
    fn trim_back(&mut self, n: usize) -> bool;

    /// A second handle to the same storage (a reference-count increment,
    /// like `rte_mbuf_refcnt_update` / `rte_pktmbuf_clone`), starting with
    /// the same window, receive flags and transmit requests. After this
    /// neither handle can write until the other is dropped.
    fn share(&self) -> Self;

    /// Receive-offload results set by the backend.
    fn rx_flags(&self) -> RxFlags;

    /// The transmit-offload requests of this handle.
    fn tx_offload(&self) -> TxOffload;

    /// Sets the transmit-offload requests of this handle.
    fn set_tx_offload(&mut self, offload: TxOffload);

    /// Appends a copy of `bytes`; false, with nothing changed, when
    /// [`Buf::append`] would fail.
    fn append_slice(&mut self, bytes: &[u8]) -> bool {
        match self.append(bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }

    /// Prepends a copy of `bytes`; false, with nothing changed, when
    /// [`Buf::prepend`] would fail.
    fn prepend_slice(&mut self, bytes: &[u8]) -> bool {
        match self.prepend(bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }
}
