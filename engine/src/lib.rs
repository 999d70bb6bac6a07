//! mptfo-engine: the stack — TCP subflows, MPTCP connections, TCP Fast Open
//! and the per-core workers that run them.
//!
//! Everything here is single-core state: a worker owns its slabs, its timer
//! wheel and its counters, and nothing takes a lock. Time is a plain
//! monotonic nanosecond count ([`time::Instant`]) passed in by the caller, so
//! tests run in virtual time.
//!
//! Building blocks: [`time`] (instants and durations), [`slab`] (arenas with
//! generation-checked keys), [`timer`] (hashed timing wheel), [`counters`]
//! (per-core MIB counters with Linux nstat names) and, under [`tcp`], the RTO
//! estimator, congestion control and the out-of-order assembler.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod counters;
pub mod mp;
pub mod shard;
pub mod slab;
pub mod stack;
pub mod tcp;
pub mod time;
pub mod timer;
pub mod worker;
