//! The error type of the DPDK backend.

use crate::ffi;
use std::ffi::CStr;

/// What went wrong in the DPDK backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpdkError {
    /// This build has no DPDK behind it (pkg-config could not find libdpdk,
    /// or libclang was missing, when the crate was built).
    #[error(
        "DPDK is not installed: apt-get install libdpdk-dev pkg-config libclang-dev (then rebuild)"
    )]
    NotInstalled,
    /// `Eal::init` was already called in this process (DPDK's EAL can be
    /// initialised once per process, even after a cleanup).
    #[error(
        "the DPDK EAL was already initialised in this process (rte_eal_init runs once per process)"
    )]
    AlreadyInitialized,
    /// A DPDK call failed.
    #[error("{call} failed: {message} (errno {errno})")]
    Call {
        /// The DPDK function (or step) that failed.
        call: &'static str,
        /// The positive errno it reported.
        errno: i32,
        /// `rte_strerror(errno)`.
        message: String,
    },
    /// No ethdev port has this name, and it could not be hot-plugged.
    #[error("no DPDK port {name:?} (ports: {known})")]
    NoSuchPort {
        /// The name or id asked for.
        name: String,
        /// The ports that exist, as `id=name` pairs.
        known: String,
    },
    /// The port is already configured by a `DpdkPort` in this process.
    #[error("DPDK port {0} is already in use by this process")]
    PortInUse(u16),
    /// An argument was refused before calling DPDK.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl DpdkError {
    /// A failed call that reported `code` (negative or positive errno).
    pub(crate) fn call(call: &'static str, code: i32) -> DpdkError {
        let errno = code.saturating_abs();
        DpdkError::Call {
            call,
            errno,
            message: strerror(errno),
        }
    }

    /// A failed call that reported its error in `rte_errno`.
    pub(crate) fn from_rte_errno(call: &'static str) -> DpdkError {
        // SAFETY: reads the calling thread's rte_errno (a thread-local
        // integer); no pointers are involved.
        let errno = unsafe { ffi::mptfo_errno() };
        DpdkError::call(call, errno)
    }
}

/// `rte_strerror(errno)` as an owned string.
pub(crate) fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror accepts any integer and returns a pointer to a
    // NUL-terminated string (a static table entry or a per-lcore buffer)
    // that stays valid until the next call on this thread; it is copied
    // out at once.
    unsafe {
        let p = ffi::rte_strerror(errno);
        if p.is_null() {
            return format!("error {errno}");
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}
