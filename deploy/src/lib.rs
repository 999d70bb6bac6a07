//! mptfo-deploy: `mptfo lab`.
//!
//! - [`results`]: the figures of each scenario and repetition, read from
//!   the JSON reports of `mptfo loadgen` / `mptfo bench`.
//! - [`report`]: the Markdown report of a run, with [`plot`]s.

pub mod plot;
pub mod report;
pub mod results;
