//! [`DpdkBuf`]: the [`Buf`] of the DPDK backend, one reference to an
//! `rte_mbuf` plus this handle's own window.

use crate::ffi;
use mptfo_nic::{Buf, ChecksumStatus, RxFlags, TxOffload};
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

/// Shares past this count abort the process (as `Arc` does on overflow):
/// the mbuf's reference count is 16 bits wide.
const MAX_SHARES: u16 = u16::MAX / 2;

/// A handle to an `rte_mbuf`: one reference (the mbuf's `refcnt`) and this
/// handle's window `off..off + len` into the mbuf's data room.
///
/// The window lives in the handle, not in the mbuf, so that shares can
/// narrow their own views of one mbuf ([`Buf::share`] is
/// `rte_mbuf_refcnt_update(m, 1)` and cannot fail). The mbuf's own
/// `data_off`/`data_len`/`pkt_len` and offload fields are written only when
/// the buffer is sent: directly when this handle is the only reference,
/// otherwise on a fresh indirect mbuf attached to it (see
/// [`DpdkQueue`](crate::DpdkQueue)).
///
/// # Threads
/// A `DpdkBuf` may be sent to and dropped on any thread. Every pool of this
/// crate uses the MP/MC ring operations; a thread with an EAL lcore id
/// (the main thread, an EAL worker, or one that called
/// [`Eal::register_thread`](crate::Eal::register_thread)) frees through
/// its own per-lcore cache, any other thread straight onto the ring. What
/// must never happen - two threads using one lcore id - cannot happen
/// through this crate.
///
/// The lifetime ties the handle to the [`Mempool`](crate::Mempool) it came
/// from, so the pool (and EAL) cannot be freed under it.
pub struct DpdkBuf<'a> {
    m: NonNull<ffi::rte_mbuf>,
    /// The mbuf's `buf_addr`: start of its data room.
    base: NonNull<u8>,
    /// The mbuf's `buf_len`: bytes of its data room.
    cap: u16,
    off: u16,
    len: u16,
    /// The data room belongs to another mbuf (this one is indirect or has
    /// an external buffer, e.g. a shared buffer sent through `net_ring` and
    /// received back): never writable through this handle.
    shared_data: bool,
    rx: RxFlags,
    tx: TxOffload,
    _pool: PhantomData<&'a ()>,
}

// SAFETY: the handle owns one reference to the mbuf; the reference count is
// atomic (RTE_MBUF_REFCNT_ATOMIC), the bytes are written only through
// `&mut self` while the count is 1, and releasing the mbuf is thread safe
// (see the type's documentation).
unsafe impl Send for DpdkBuf<'_> {}
// SAFETY: through `&self` the handle only reads the bytes (nobody writes
// them while this handle exists and is shared, since writing needs `&mut`
// and a count of 1) and updates the count atomically (`share`).
unsafe impl Sync for DpdkBuf<'_> {}

impl fmt::Debug for DpdkBuf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpdkBuf")
            .field("mbuf", &self.m)
            .field("len", &self.len)
            .field("headroom", &self.off)
            .field("tailroom", &self.tailroom())
            .field("ref_count", &self.ref_count())
            .field("rx", &self.rx)
            .field("tx", &self.tx)
            .finish()
    }
}

fn status(v: u8) -> ChecksumStatus {
    match u32::from(v) {
        ffi::MPTFO_CKSUM_GOOD => ChecksumStatus::Good,
        ffi::MPTFO_CKSUM_BAD => ChecksumStatus::Bad,
        _ => ChecksumStatus::Unknown,
    }
}

impl<'a> DpdkBuf<'a> {
    /// Takes ownership of one reference to `m`, described by `info`.
    ///
    /// # Safety
    /// `m` is a valid mbuf of a pool that lives for `'a`, the caller owns
    /// one reference to it and passes that on, and `info` describes `m`
    /// (`data_off + data_len <= buf_len`, `buf_addr` its data room).
    pub(crate) unsafe fn from_raw(m: NonNull<ffi::rte_mbuf>, info: &ffi::mptfo_mbuf_info) -> Self {
        debug_assert!(
            u32::from(info.data_off) + u32::from(info.data_len) <= u32::from(info.buf_len)
        );
        DpdkBuf {
            m,
            // SAFETY (of the expect): every pool mbuf has a data room.
            base: NonNull::new(info.buf_addr).expect("mbuf without data room"),
            cap: info.buf_len,
            off: info.data_off,
            len: info.data_len,
            shared_data: info.indirect != 0 || info.external != 0,
            rx: RxFlags {
                ip_checksum: status(info.ip_cksum),
                l4_checksum: status(info.l4_cksum),
            },
            tx: TxOffload::default(),
            _pool: PhantomData,
        }
    }

    /// Gives up the handle without releasing its reference, which passes to
    /// the caller.
    pub(crate) fn into_raw(self) -> NonNull<ffi::rte_mbuf> {
        ManuallyDrop::new(self).m
    }

    pub(crate) fn raw(&self) -> NonNull<ffi::rte_mbuf> {
        self.m
    }

    /// Start of the window in the mbuf's data room (its `data_off` when
    /// sent).
    pub(crate) fn offset(&self) -> u16 {
        self.off
    }

    /// The mbuf's reference count (handles and in-flight transmissions).
    pub fn ref_count(&self) -> u16 {
        // SAFETY: the mbuf is alive while this handle holds a reference;
        // `refcnt` is a properly aligned u16 that DPDK (with
        // RTE_MBUF_REFCNT_ATOMIC) only accesses atomically or while it owns
        // the only reference, so an atomic view of it is sound. Acquire
        // pairs with the release of another handle's decrement, so that its
        // reads of the bytes happen before our writes after seeing 1.
        unsafe {
            let p = std::ptr::addr_of_mut!((*self.m.as_ptr()).refcnt);
            AtomicU16::from_ptr(p).load(Ordering::Acquire)
        }
    }

    /// True when this handle is the only reference to its bytes, so it may
    /// write.
    #[inline]
    fn exclusive(&self) -> bool {
        !self.shared_data && self.ref_count() == 1
    }

    /// The whole data room, for writing.
    ///
    /// Only called when `exclusive()`.
    #[inline]
    fn room_mut(&mut self) -> &mut [u8] {
        debug_assert!(self.exclusive());
        // SAFETY: base..base+cap is the mbuf's data room, alive while we
        // hold our reference; this handle is the only reference to the mbuf
        // and the mbuf owns its data room (checked by the caller), and the
        // handle is borrowed mutably, so nothing else reads or writes these
        // bytes for the lifetime of the slice.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr(), usize::from(self.cap)) }
    }

    /// Sets the receive-offload flags (for tests and for software that
    /// checks a frame before handing it on).
    pub fn set_rx_flags(&mut self, flags: RxFlags) {
        self.rx = flags;
    }
}

impl Buf for DpdkBuf<'_> {
    #[inline]
    fn data(&self) -> &[u8] {
        // SAFETY: off+len <= cap (an invariant of every method), the data
        // room is alive while we hold our reference, and no one writes it
        // while `&self` is borrowed: writers need `&mut` on the only
        // reference.
        unsafe {
            std::slice::from_raw_parts(
                self.base.as_ptr().add(usize::from(self.off)),
                usize::from(self.len),
            )
        }
    }

    #[inline]
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        if !self.exclusive() {
            return None;
        }
        let (off, len) = (usize::from(self.off), usize::from(self.len));
        Some(&mut self.room_mut()[off..off + len])
    }

    #[inline]
    fn len(&self) -> usize {
        usize::from(self.len)
    }

    #[inline]
    fn headroom(&self) -> usize {
        usize::from(self.off)
    }

    #[inline]
    fn tailroom(&self) -> usize {
        usize::from(self.cap - self.off - self.len)
    }

    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.headroom() || !self.exclusive() {
            return None;
        }
        let n16 = n as u16; // n <= off <= u16::MAX
        self.off -= n16;
        self.len += n16;
        let off = usize::from(self.off);
        Some(&mut self.room_mut()[off..off + n])
    }

    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.tailroom() || !self.exclusive() {
            return None;
        }
        let end = usize::from(self.off) + usize::from(self.len);
        self.len += n as u16; // n <= tailroom, so off+len stays <= cap
        Some(&mut self.room_mut()[end..end + n])
    }

    fn trim_front(&mut self, n: usize) -> bool {
        if n > self.len() {
            return false;
        }
        self.off += n as u16;
        self.len -= n as u16;
        true
    }

    fn trim_back(&mut self, n: usize) -> bool {
        if n > self.len() {
            return false;
        }
        self.len -= n as u16;
        true
    }

    fn share(&self) -> Self {
        if self.ref_count() >= MAX_SHARES {
            std::process::abort();
        }
        // SAFETY: we hold a reference, so the mbuf is alive; the update is
        // atomic whenever another reference exists (DPDK takes a plain
        // store only when the count is 1, i.e. when this handle is the only
        // one and no other thread can touch the count).
        unsafe { ffi::mptfo_refcnt_update(self.m.as_ptr(), 1) };
        DpdkBuf {
            m: self.m,
            base: self.base,
            cap: self.cap,
            off: self.off,
            len: self.len,
            shared_data: self.shared_data,
            rx: self.rx,
            tx: self.tx,
            _pool: PhantomData,
        }
    }

    #[inline]
    fn rx_flags(&self) -> RxFlags {
        self.rx
    }

    #[inline]
    fn tx_offload(&self) -> TxOffload {
        self.tx
    }

    #[inline]
    fn set_tx_offload(&mut self, offload: TxOffload) {
        self.tx = offload;
    }
}

impl Drop for DpdkBuf<'_> {
    fn drop(&mut self) {
        // SAFETY: we own one reference to a live mbuf of a pool that
        // outlives the handle ('a); rte_pktmbuf_free drops that reference
        // (atomically when shared) and returns the mbuf to its pool when it
        // was the last one. Safe on any thread (see the type's docs).
        unsafe { ffi::mptfo_free(self.m.as_ptr()) };
    }
}
