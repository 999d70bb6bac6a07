//! The raw binding: bindgen's declarations for the allowlisted DPDK
//! functions and types plus the C shim (`shim/shim.h`), or, in a build
//! without DPDK (`cfg(mptfo_no_dpdk)`), stand-ins with the same names that
//! are never called (nothing can be reached without an [`Eal`](crate::Eal),
//! and `Eal::init` fails first).

#[cfg(not(mptfo_no_dpdk))]
#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::pedantic,
    clippy::undocumented_unsafe_blocks
)]
mod sys {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

#[cfg(mptfo_no_dpdk)]
#[path = "stub.rs"]
mod sys;

pub(crate) use sys::*;

/// Whether this build has DPDK behind it.
pub(crate) const AVAILABLE: bool = cfg!(not(mptfo_no_dpdk));
