//! mptfo-proto: everything about bytes on the wire, and nothing else.
//!
//! Zero-copy views over packet buffers (`wire`), TCP and MPTCP options
//! (`options`), checksums (`checksum`), sequence-number types (`seq`), MPTCP
//! keys, tokens and HMACs (`crypto`) and TCP Fast Open cookies (`tfo`).
//! No I/O and no allocation on the parse and emit paths: views borrow the
//! caller's buffer (`AsRef<[u8]>`), and emitters write into `&mut [u8]`.
//!
//! The contract of every view, in the style of smoltcp: `new_checked` (or
//! `check_len`) validates lengths once; after that no accessor panics.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod checksum;
pub mod error;
pub mod seq;

pub use error::{Error, Result};
pub use seq::{DataSeq, SubflowSeq};
pub mod crypto;
pub mod fuzzing;
pub mod options;
pub mod tfo;
pub mod wire;
