//! mptfo-deploy: `mptfo lab`.
//!
//! - [`results`]: the figures of each scenario and repetition, read from
//!   the JSON reports of `mptfo loadgen` / `mptfo bench`.
//! - [`report`]: the Markdown report of a run, with [`plot`]s.
//! - [`labfile`]: the lab file (TOML): hosts, links, endpoints, scenarios,
//!   ratios, checked with errors that name the key, the value and what was
//!   expected.
//! - [`bed`]: `up`, `down`, `status`: namespaces, veth pairs, sysctls,
//!   MPTCP endpoints and hugepages, recorded in the [`state`] file.
//! - [`prereq`]: what the machine must have, checked before anything
//!   changes.
//! - [`run`]: scenarios, repetitions, processes, results folder, report.
//! - [`system`]: the system commands and machine facts underneath.

pub mod bed;
pub mod labfile;
pub mod plot;
pub mod prereq;
pub mod report;
pub mod results;
pub mod run;
pub mod state;
pub mod system;
