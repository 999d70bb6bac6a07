//! A pool of packet buffers (`rte_mbuf`s) in DPDK memory.

use crate::eal::{Eal, LEAKED, OPEN_PORTS, STRANDED};
use crate::error::DpdkError;
use crate::ffi;
use std::ffi::CString;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

/// Headroom of every buffer: DPDK's `RTE_PKTMBUF_HEADROOM` (the same 128
/// bytes as [`mptfo_nic::DEFAULT_HEADROOM`]).
pub const HEADROOM: usize = ffi::RTE_PKTMBUF_HEADROOM as usize;

/// The mempool operations every pool of this crate uses: a multi-producer
/// multi-consumer ring, so that buffers may be allocated and freed on any
/// thread (see [`crate::DpdkBuf`]).
const POOL_OPS: &std::ffi::CStr = c"ring_mp_mc";

/// A pool of `rte_mbuf`s (`rte_pktmbuf_pool_create_by_ops` with
/// `ring_mp_mc`), each with [`HEADROOM`] bytes of headroom and
/// `data_room` bytes after it.
///
/// Ports and buffers borrow the pool, so it outlives them; dropping it
/// frees it (`rte_mempool_free`) once every buffer is back.
#[derive(Debug)]
pub struct Mempool<'e> {
    raw: NonNull<ffi::rte_mempool>,
    name: String,
    size: u32,
    data_room: u16,
    _eal: PhantomData<&'e Eal>,
}

// SAFETY: the pool's operations are thread safe: the ring is MP/MC, and
// each thread uses only its own lcore's cache (or none when it has no lcore
// id). The handle holds no thread-affine state.
unsafe impl Send for Mempool<'_> {}
// SAFETY: as for Send; every method through `&self` is a thread-safe DPDK
// call (counts are read without locks and may be a moment stale).
unsafe impl Sync for Mempool<'_> {}

impl<'e> Mempool<'e> {
    /// Creates a pool named `name` (unique in the process, at most 25
    /// bytes) of `n` buffers with a per-lcore cache of `cache` buffers
    /// (0..=512, and at most n / 1.5), each with `data_room` bytes after
    /// the headroom ([`mptfo_nic::DEFAULT_DATA_ROOM`] fits a 1514-byte
    /// frame), on the NUMA socket of the calling thread.
    pub fn new(
        eal: &'e Eal,
        name: &str,
        n: u32,
        cache: u32,
        data_room: u16,
    ) -> Result<Mempool<'e>, DpdkError> {
        let _ = eal;
        let room = usize::from(data_room) + HEADROOM;
        let room = u16::try_from(room).map_err(|_| {
            DpdkError::InvalidArgument(format!(
                "data_room {data_room} + headroom {HEADROOM} exceeds 65535"
            ))
        })?;
        if n == 0 {
            return Err(DpdkError::InvalidArgument(
                "a mempool needs at least one buffer".into(),
            ));
        }
        let cname = CString::new(name)
            .map_err(|_| DpdkError::InvalidArgument(format!("mempool name {name:?} has a NUL")))?;
        // SAFETY: EAL is initialised (eal is borrowed); the name and ops
        // strings are valid NUL-terminated strings for the duration of the
        // call (DPDK copies them).
        let raw = unsafe {
            ffi::rte_pktmbuf_pool_create_by_ops(
                cname.as_ptr(),
                n,
                cache,
                0,
                room,
                ffi::rte_socket_id() as i32,
                POOL_OPS.as_ptr(),
            )
        };
        let raw = NonNull::new(raw)
            .ok_or_else(|| DpdkError::from_rte_errno("rte_pktmbuf_pool_create"))?;
        Ok(Mempool {
            raw,
            name: name.to_owned(),
            size: n,
            data_room,
            _eal: PhantomData,
        })
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Buffers in the pool, free or in use.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Bytes after the headroom of every buffer.
    pub fn data_room(&self) -> u16 {
        self.data_room
    }

    /// Free buffers (`rte_mempool_avail_count`: the ring plus every
    /// lcore's cache).
    pub fn avail_count(&self) -> u32 {
        // SAFETY: the pool is alive (self); the call only reads counters.
        unsafe { ffi::rte_mempool_avail_count(self.raw.as_ptr()) }
    }

    /// Buffers in use (`rte_mempool_in_use_count`): held by handles,
    /// queued in a port, or kept in a queue's allocation cache.
    pub fn in_use_count(&self) -> u32 {
        // SAFETY: as in avail_count.
        unsafe { ffi::rte_mempool_in_use_count(self.raw.as_ptr()) }
    }

    pub(crate) fn raw(&self) -> NonNull<ffi::rte_mempool> {
        self.raw
    }
}

impl Drop for Mempool<'_> {
    fn drop(&mut self) {
        let in_use = self.in_use_count();
        // Buffers a closed PMD stranded (net_af_xdp's fill ring) are out of
        // everyone's reach once no port is open: not a leak of ours.
        let stranded_only =
            STRANDED.load(Ordering::SeqCst) && OPEN_PORTS.load(Ordering::SeqCst) == 0;
        if in_use != 0 && !stranded_only {
            // Only possible when a port or buffer was leaked (mem::forget):
            // whatever still points into the pool stays valid.
            LEAKED.store(true, Ordering::SeqCst);
            eprintln!(
                "mptfo-dpdk: mempool {:?} dropped with {in_use} buffers in use: leaking it",
                self.name
            );
            return;
        }
        // SAFETY: every buffer, port and queue that used the pool borrowed
        // it and is gone, and all its buffers are back (in_use == 0) or
        // were stranded by a PMD whose port is closed (no port is open), so
        // nothing refers to the pool any more.
        unsafe { ffi::rte_mempool_free(self.raw.as_ptr()) };
    }
}
