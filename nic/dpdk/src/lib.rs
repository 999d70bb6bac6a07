//! mptfo-dpdk: the DPDK backend of the mptfo port layer.
//!
//! A small binding of our own to the system DPDK (>= 22.11, found with
//! pkg-config, linked dynamically so that EAL loads every PMD of its plugin
//! directory by itself): bindgen declarations for exactly the functions we
//! call, and a hand-written C shim for the `static inline` fast path
//! (burst receive/transmit, mbuf allocation, free and reference counts,
//! offload bits). On top of it, a safe API:
//!
//! - [`Eal`]: `rte_eal_init`, once per process; `rte_eal_cleanup` on drop;
//! - [`Mempool`]: a pool of `rte_mbuf`s;
//! - [`DpdkPort`]: an ethdev port (any PMD: `net_ring`, `net_af_packet`,
//!   `net_af_xdp`, `net_memif`, a NIC...) configured with N queue pairs;
//! - [`DpdkQueue`]: one queue pair, the [`mptfo_nic::Port`] a worker owns;
//! - [`DpdkBuf`]: the [`mptfo_nic::Buf`] over an `rte_mbuf`.
//!
//! Lifetimes enforce the teardown order DPDK needs: buffers and queues
//! borrow the mempool, the mempool and ports borrow the `Eal`. Workers are
//! therefore started with `std::thread::scope`.
//!
//! ```no_run
//! use mptfo_dpdk::{DpdkPort, Eal, Mempool, PortConfig};
//! use mptfo_nic::{Buf, Port, DEFAULT_DATA_ROOM};
//!
//! // One EAL per process. No hugepages, no PCI, no shared runtime files.
//! let eal = Eal::init(&[
//!     "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry",
//!     "-l", "0", "--vdev=net_ring0",
//! ])?;
//! let pool = Mempool::new(&eal, "pool0", 8191, 256, DEFAULT_DATA_ROOM as u16)?;
//! let (port, mut queues) = DpdkPort::configure(&eal, "net_ring0", &PortConfig::default(), &pool)?;
//! let q = &mut queues[0]; // one per worker; move each to its thread
//! let mut b = q.alloc().expect("a buffer");
//! b.append_slice(&[0u8; 60]);
//! q.tx_burst(&mut vec![b]);
//! let mut rx = Vec::new();
//! q.rx_burst(&mut rx, 32); // net_ring loops it back
//! # Ok::<(), mptfo_dpdk::DpdkError>(())
//! ```
//!
//! Threads: a [`DpdkQueue`] is `Send` but not `Sync` (one worker polls
//! it); [`DpdkBuf`]s may be dropped on any thread (see its docs). A worker
//! thread gets the mempools' per-lcore caches by calling
//! [`Eal::register_thread`]. `Eal::init` pins its calling thread to the
//! main lcore.
//!
//! Without DPDK at build time (no pkg-config or libdpdk, no libclang), the
//! crate still builds with the same API; [`Eal::init`] then returns
//! [`DpdkError::NotInstalled`]. [`AVAILABLE`] tells which build this is.
//!
//! `unsafe` lives in this crate only; every block says why it is sound.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod buf;
mod eal;
mod error;
mod ffi;
mod mempool;
mod port;

pub use buf::DpdkBuf;
pub use eal::{lcore_id, Eal, LcoreGuard};
pub use error::DpdkError;
pub use mempool::{Mempool, HEADROOM};
pub use port::{DeviceInfo, DpdkPort, DpdkQueue, EthStats, PortConfig, PortRef, BURST};

/// Whether this build has DPDK behind it (false: built without libdpdk,
/// and [`Eal::init`] returns [`DpdkError::NotInstalled`]).
pub const AVAILABLE: bool = ffi::AVAILABLE;
