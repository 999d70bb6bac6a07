//! DPDK's environment abstraction layer: initialised once per process.

use crate::error::DpdkError;
use crate::ffi;
use std::ffi::{c_char, c_int, CStr, CString};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first `Eal::init` call, successful or not: DPDK refuses a
/// second `rte_eal_init` in the same process, even after `rte_eal_cleanup`.
static INIT_CALLED: AtomicBool = AtomicBool::new(false);

/// Set when something DPDK owns had to be left alive (a mempool whose
/// buffers were not all back, because a handle or a port was leaked with
/// `mem::forget`). `rte_eal_cleanup` would unmap that memory under it, so
/// the cleanup is skipped then.
pub(crate) static LEAKED: AtomicBool = AtomicBool::new(false);

/// Set when a port was closed. DPDK 22.11's `rte_eal_cleanup` unmaps
/// DPDK's memory without stopping the EAL interrupt thread, which may
/// still be running callbacks of a closed device whose handles live in that
/// memory (seen: a memif server closed while its client was still
/// connected, SIGSEGV in `rte_intr_fd_get` on `eal-intr-thread`). `Drop`
/// then gives that thread time to finish first.
pub(crate) static PORTS_CLOSED: AtomicBool = AtomicBool::new(false);

/// Ports configured and not yet closed.
pub(crate) static OPEN_PORTS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Set when a port whose PMD strands buffers was closed: DPDK 22.11's
/// net_af_xdp takes mbufs from the pool for its fill ring (its UMEM is the
/// pool's memory) and does not give them back when the port closes. Once
/// no port is open, nothing can use those buffers, so a pool with buffers
/// still counted in use may be freed (see `Mempool`'s `Drop`).
pub(crate) static STRANDED: AtomicBool = AtomicBool::new(false);

/// How long `Drop` lets the interrupt thread settle after ports were
/// closed.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(200);

/// The program name passed as `argv[0]` to `rte_eal_init`.
const PROGRAM: &str = "mptfo";

/// The initialised EAL. Everything else in this crate borrows it, so the
/// borrow checker makes sure mempools, ports and buffers are gone before
/// [`Drop`] runs `rte_eal_cleanup`.
///
/// `rte_eal_init` pins the calling thread to the main lcore (the first
/// core of `-l`), and makes it an EAL thread with that lcore id.
#[derive(Debug)]
pub struct Eal {
    _private: (),
}

impl Eal {
    /// Runs `rte_eal_init` with `args` as its arguments. `argv[0]` (the
    /// program name) is added here: pass only the EAL options, e.g.
    /// `["--no-huge", "-m", "256", "--no-pci", "--no-shconf", "-l", "0",
    /// "--vdev=net_ring0"]`.
    ///
    /// Once per process: a second call returns
    /// [`DpdkError::AlreadyInitialized`], even after the first `Eal` was
    /// dropped or failed. Without DPDK in this build it returns
    /// [`DpdkError::NotInstalled`].
    pub fn init(args: &[&str]) -> Result<Eal, DpdkError> {
        if !ffi::AVAILABLE {
            return Err(DpdkError::NotInstalled);
        }
        let mut owned = Vec::with_capacity(args.len() + 1);
        for a in std::iter::once(&PROGRAM).chain(args) {
            let c = CString::new(*a).map_err(|_| {
                DpdkError::InvalidArgument(format!("EAL argument {a:?} contains a NUL byte"))
            })?;
            owned.push(c);
        }
        if INIT_CALLED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::AlreadyInitialized);
        }
        // EAL may keep pointers into argv (it permutes it while parsing and
        // some options are kept by reference), so the strings live for the
        // rest of the process. This happens once.
        let argv: &'static mut [*mut c_char] = Vec::leak(
            owned
                .into_iter()
                .map(CString::into_raw)
                .chain(std::iter::once(std::ptr::null_mut()))
                .collect(),
        );
        let argc = (argv.len() - 1) as c_int;
        // SAFETY: argv holds argc valid NUL-terminated strings followed by a
        // NULL, all leaked so they outlive EAL; the INIT_CALLED flag makes
        // this the only rte_eal_init call of the process.
        let rc = unsafe { ffi::rte_eal_init(argc, argv.as_mut_ptr()) };
        if rc < 0 {
            return Err(DpdkError::from_rte_errno("rte_eal_init"));
        }
        Ok(Eal { _private: () })
    }

    /// Number of ethdev ports that exist (probed devices and `--vdev`s).
    pub fn port_count(&self) -> u16 {
        // SAFETY: EAL is initialised (self exists); the call only reads the
        // ethdev table.
        unsafe { ffi::rte_eth_dev_count_avail() }
    }

    /// The ports that exist, as (port id, device name).
    pub fn ports(&self) -> Vec<(u16, String)> {
        let mut out = Vec::new();
        for id in 0..ffi::RTE_MAX_ETHPORTS as u16 {
            // SAFETY: EAL is initialised; any id is accepted (invalid ones
            // return 0).
            if unsafe { ffi::rte_eth_dev_is_valid_port(id) } == 0 {
                continue;
            }
            if let Some(name) = port_name(id) {
                out.push((id, name));
            }
        }
        out
    }

    /// Makes the calling thread an EAL thread with its own lcore id
    /// (`rte_thread_register`), so that it gets the mempools' per-lcore
    /// caches; undone when the returned guard is dropped. A thread that
    /// already has an lcore id (the main thread, or an EAL worker) gets a
    /// guard that does nothing.
    ///
    /// Not required for correctness: a thread without an lcore id
    /// allocates and frees buffers straight on the mempool's ring (thread
    /// safe, but slower). Fails when DPDK runs in multi-process mode or all
    /// `RTE_MAX_LCORE` ids are taken.
    pub fn register_thread(&self) -> Result<LcoreGuard<'_>, DpdkError> {
        if let Some(id) = lcore_id() {
            return Ok(LcoreGuard {
                lcore: id,
                registered: false,
                _p: PhantomData,
            });
        }
        // SAFETY: EAL is initialised; registers the calling thread only.
        if unsafe { ffi::rte_thread_register() } != 0 {
            return Err(DpdkError::from_rte_errno("rte_thread_register"));
        }
        Ok(LcoreGuard {
            lcore: lcore_id().unwrap_or(u32::MAX),
            registered: true,
            _p: PhantomData,
        })
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        if LEAKED.load(Ordering::SeqCst) {
            eprintln!(
                "mptfo-dpdk: skipping rte_eal_cleanup: DPDK memory is still referenced (a leaked port or buffer)"
            );
            return;
        }
        if PORTS_CLOSED.load(Ordering::SeqCst) {
            std::thread::sleep(SETTLE);
        }
        // SAFETY: every mempool, port and buffer borrows this Eal, so all
        // of them are gone (or were leaked, which sets LEAKED): no DPDK
        // pointer of ours is used after the cleanup unmaps DPDK's memory.
        // (The EAL's own interrupt thread is given SETTLE above; see
        // PORTS_CLOSED.)
        let rc = unsafe { ffi::rte_eal_cleanup() };
        if rc != 0 {
            eprintln!("mptfo-dpdk: rte_eal_cleanup returned {rc}");
        }
    }
}

/// The calling thread's EAL lcore id, or `None` for a thread EAL does not
/// know (neither the main thread, an EAL worker, nor registered).
pub fn lcore_id() -> Option<u32> {
    if !ffi::AVAILABLE {
        return None;
    }
    // SAFETY: reads the calling thread's lcore id (thread-local); valid
    // before and after EAL init (it is LCORE_ID_ANY for unknown threads).
    let id = unsafe { ffi::mptfo_lcore_id() };
    (id != u32::MAX).then_some(id)
}

/// The device name of an ethdev port.
pub(crate) fn port_name(id: u16) -> Option<String> {
    let mut buf = [0 as c_char; 128];
    // SAFETY: buf is writable and larger than RTE_ETH_NAME_MAX_LEN (64),
    // the most the call writes, NUL included.
    let rc = unsafe { ffi::rte_eth_dev_get_name_by_port(id, buf.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success the buffer holds a NUL-terminated name.
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

/// A thread's EAL registration (see [`Eal::register_thread`]); dropping
/// it unregisters the thread. Not `Send`: it belongs to its thread.
#[derive(Debug)]
pub struct LcoreGuard<'e> {
    lcore: u32,
    registered: bool,
    _p: PhantomData<(&'e Eal, *const ())>,
}

impl LcoreGuard<'_> {
    /// The thread's lcore id.
    pub fn lcore(&self) -> u32 {
        self.lcore
    }
}

impl Drop for LcoreGuard<'_> {
    fn drop(&mut self) {
        if self.registered {
            // SAFETY: this thread registered itself (the guard is !Send, so
            // this runs on that thread) and EAL is still initialised (the
            // guard borrows the Eal).
            unsafe { ffi::rte_thread_unregister() };
        }
    }
}
