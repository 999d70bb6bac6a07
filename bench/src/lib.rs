//! mptfo-bench: the benchmark applications and the in-memory runner.
//!
//! - [`serve`]: the server application — answers requests (rpc: N bytes in,
//!   M bytes out; or echo) and closes after the peer does.
//! - [`loadgen`]: the load generator — closed loop (C connections in
//!   flight) or open loop (connections started at a fixed rate, latencies
//!   from the intended start), one or several request/reply exchanges per
//!   connection (connect with the first request in the SYN under TFO,
//!   read each whole reply, close), with SYN -> SYN/ACK, -> first byte and
//!   -> last byte latencies in per-core HDR histograms ([`hist`]).
//! - [`mem`]: both on the in-memory link in one process, in virtual time,
//!   with the wall-clock cost of running both stacks measured.
//! - [`hist`]: per-core HDR latency histograms (SYN -> SYN/ACK, first and
//!   last reply byte), merged at the end of a run.
//! - [`report`]: the figures as text and JSON.
//! - [`live`]: one worker in real time on a real port (DPDK): the loops of
//!   `mptfo serve` and `mptfo loadgen`, and the load generator's
//!   per-interval progress lines.
//! - [`kernel`]: client and TFO listener on the Linux kernel's own MPTCP
//!   stack, the peers of the interop tests.
//! - [`steer`]: software steering of frames to the core that owns their
//!   flow, for ports without RSS by our hash; CPU lists and pinning.
//! - [`sys`]: the system calls those need beyond `std` (the only `unsafe`
//!   of this crate).
//!
//! The applications implement the engine's [`App`](mptfo_engine::worker::App)
//! trait for any port type, so the same code runs over DPDK ports.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod hist;
pub mod kernel;
pub mod live;
pub mod loadgen;
pub mod mem;
pub mod report;
pub mod serve;
pub mod steer;
pub mod sys;
pub mod table;

pub use hist::LatencyHists;
pub use loadgen::{LoadgenApp, LoadgenConfig, LoadgenStats};
pub use mem::{run, BenchConfig, Outcome};
pub use mptfo_engine::config::ReplyTiming;
pub use report::{Report, ReportInput};
pub use serve::{ServeApp, ServeMode, ServeStats};
