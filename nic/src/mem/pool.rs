//! Pooled, reference-counted packet storage for the mem backend.
//!
//! A [`MemPool`] owns up to `capacity` blocks of `headroom + data_room`
//! bytes, made on demand and then recycled: a block freed by the last
//! [`MemBuf`] that refers to it goes back on the pool's free list (a
//! lock-free queue, so the last handle may be dropped on any thread). In
//! steady state nothing is allocated per packet.
//!
//! The reference count is the `Arc`'s strong count: a handle can write only
//! when `Arc::get_mut` proves it is the only one. The free list itself holds
//! each free block's only reference, so a block in the list is never visible
//! to a handle.

use crate::buf::{Buf, RxFlags, TxOffload};
use crossbeam_queue::ArrayQueue;
use std::fmt;
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

/// One block of packet storage.
struct Block {
    bytes: Box<[u8]>,
    /// Where the block goes back to; weak so that free blocks (held by the
    /// pool) do not keep their pool alive.
    pool: Weak<PoolShared>,
}

impl Drop for Block {
    fn drop(&mut self) {
        // A block leaves the pool's count only when its storage is freed
        // (the pool went away, or a rare concurrent release missed the free
        // list); the pool may then make a new one.
        if let Some(pool) = self.pool.upgrade() {
            pool.blocks.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The part of a pool that released handles reach.
struct PoolShared {
    /// Free blocks, each held here by its only reference.
    free: ArrayQueue<Arc<Block>>,
    /// Blocks in existence (free or in use).
    blocks: AtomicUsize,
}

/// A pool of packet storage with headroom.
///
/// Holds up to `capacity` blocks of `headroom + data_room` bytes, made on
/// demand and then recycled: a block released by the last [`MemBuf`] that
/// refers to it goes back on a lock-free free list, from any thread. In
/// steady state nothing is allocated per packet.
pub struct MemPool {
    shared: Arc<PoolShared>,
    capacity: usize,
    headroom: usize,
    data_room: usize,
}

impl fmt::Debug for MemPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemPool")
            .field("capacity", &self.capacity)
            .field("created", &self.created())
            .field("free", &self.free())
            .field("headroom", &self.headroom)
            .field("data_room", &self.data_room)
            .finish()
    }
}

impl MemPool {
    /// A pool of at most `capacity` blocks, each with `headroom` bytes in
    /// front of `data_room` bytes. Blocks are made when first needed.
    ///
    /// # Panics
    /// When `capacity` is 0 or a block would exceed `u32::MAX` bytes.
    pub fn new(capacity: usize, headroom: usize, data_room: usize) -> MemPool {
        assert!(capacity > 0, "MemPool capacity must be at least 1");
        assert!(
            headroom + data_room <= u32::MAX as usize,
            "MemPool block size exceeds u32::MAX"
        );
        MemPool {
            shared: Arc::new(PoolShared {
                free: ArrayQueue::new(capacity),
                blocks: AtomicUsize::new(0),
            }),
            capacity,
            headroom,
            data_room,
        }
    }

    /// An empty buffer with the pool's headroom, or `None` when all
    /// `capacity` blocks are in use.
    pub fn alloc(&self) -> Option<MemBuf> {
        let block = match self.shared.free.pop() {
            Some(block) => block,
            None => self.make_block()?,
        };
        let start = self.headroom as u32;
        Some(MemBuf {
            block: Some(block),
            front: start,
            back: start,
            rx: RxFlags::default(),
            tx: TxOffload::default(),
        })
    }

    fn make_block(&self) -> Option<Arc<Block>> {
        // Reserve a place in the count first so that two threads cannot
        // both pass the capacity check.
        let before = self.shared.blocks.fetch_add(1, Ordering::AcqRel);
        if before >= self.capacity {
            self.shared.blocks.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Arc::new(Block {
            bytes: vec![0u8; self.headroom + self.data_room].into_boxed_slice(),
            pool: Arc::downgrade(&self.shared),
        }))
    }

    /// Most blocks the pool will make.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Blocks made so far and still in existence (free or in use).
    pub fn created(&self) -> usize {
        self.shared.blocks.load(Ordering::Acquire)
    }

    /// Blocks on the free list.
    pub fn free(&self) -> usize {
        self.shared.free.len()
    }

    /// Blocks referred to by at least one handle (a snapshot: exact when no
    /// other thread is releasing buffers of this pool).
    pub fn in_use(&self) -> usize {
        self.created().saturating_sub(self.free())
    }

    /// Headroom of a fresh buffer.
    pub fn headroom(&self) -> usize {
        self.headroom
    }

    /// Bytes after the headroom of a fresh buffer.
    pub fn data_room(&self) -> usize {
        self.data_room
    }
}

/// A handle to pooled storage: the mem backend's [`Buf`].
///
/// Invariant: `front <= back <= block.bytes.len()`.
pub struct MemBuf {
    /// Always `Some` until the handle is dropped.
    block: Option<Arc<Block>>,
    front: u32,
    back: u32,
    rx: RxFlags,
    tx: TxOffload,
}

impl fmt::Debug for MemBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemBuf")
            .field("len", &self.len())
            .field("headroom", &self.headroom())
            .field("tailroom", &self.tailroom())
            .field("ref_count", &self.ref_count())
            .field("rx", &self.rx)
            .field("tx", &self.tx)
            .finish()
    }
}

impl MemBuf {
    #[inline]
    fn block(&self) -> &Block {
        self.block.as_ref().expect("MemBuf used after release")
    }

    /// The storage for writing, when this handle is the only reference.
    #[inline]
    fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        let arc = self.block.as_mut().expect("MemBuf used after release");
        Arc::get_mut(arc).map(|b| &mut b.bytes[..])
    }

    #[inline]
    fn capacity(&self) -> usize {
        self.block().bytes.len()
    }

    /// Handles referring to this buffer's storage, this one included (a
    /// snapshot when handles live on other threads).
    pub fn ref_count(&self) -> usize {
        Arc::strong_count(self.block.as_ref().expect("MemBuf used after release"))
    }

    /// Sets the receive-offload results (what a backend does on receive).
    pub fn set_rx_flags(&mut self, flags: RxFlags) {
        self.rx = flags;
    }
}

impl Buf for MemBuf {
    #[inline]
    fn data(&self) -> &[u8] {
        &self.block().bytes[self.front as usize..self.back as usize]
    }

    #[inline]
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        let (front, back) = (self.front as usize, self.back as usize);
        self.bytes_mut().map(|b| &mut b[front..back])
    }

    #[inline]
    fn len(&self) -> usize {
        (self.back - self.front) as usize
    }

    #[inline]
    fn headroom(&self) -> usize {
        self.front as usize
    }

    #[inline]
    fn tailroom(&self) -> usize {
        self.capacity() - self.back as usize
    }

    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.headroom() {
            return None;
        }
        let new_front = self.front - n as u32;
        // Borrow the fields apart: the window moves only once write access
        // is proven.
        let MemBuf { block, front, .. } = self;
        let block = Arc::get_mut(block.as_mut()?)?;
        *front = new_front;
        let at = new_front as usize;
        Some(&mut block.bytes[at..at + n])
    }

    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.tailroom() {
            return None;
        }
        let old_back = self.back;
        let MemBuf { block, back, .. } = self;
        let block = Arc::get_mut(block.as_mut()?)?;
        *back = old_back + n as u32;
        let at = old_back as usize;
        Some(&mut block.bytes[at..at + n])
    }

    fn trim_front(&mut self, n: usize) -> bool {
        if n > self.len() {
            return false;
        }
        self.front += n as u32;
        true
    }

    fn trim_back(&mut self, n: usize) -> bool {
        if n > self.len() {
            return false;
        }
        self.back -= n as u32;
        true
    }

    fn share(&self) -> MemBuf {
        MemBuf {
            block: self.block.clone(),
            front: self.front,
            back: self.back,
            rx: self.rx,
            tx: self.tx,
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

impl Drop for MemBuf {
    fn drop(&mut self) {
        let Some(block) = self.block.take() else {
            return;
        };
        // The last handle returns the block to its pool. No weak references
        // to blocks exist, so a strong count of 1 means this handle is the
        // only one (a new one is made only from an existing one): exactly
        // one of several handles released one after another sees it. If two
        // are released at the same instant on two threads, both may see the
        // other and the storage is freed instead (the pool's count says so
        // via `Block::drop` and the pool makes a new block when needed).
        if Arc::strong_count(&block) == 1 {
            // Pairs with the release of the other handles' drops: their
            // accesses to the bytes happen before the block is reused.
            fence(Ordering::Acquire);
            if let Some(pool) = block.pool.upgrade() {
                // The list has room for every block the pool can make; if
                // it were full the block would simply be freed.
                let _ = pool.free.push(block);
            }
        }
    }
}
