//! The in-memory backend: [`MemLink::pair`] makes two [`MemPort`]s joined
//! by a simulated link with a virtual clock and seeded fault injection, and
//! [`MemPool`]/[`MemBuf`] are its pooled, reference-counted buffers.
//!
//! Used by the engine's deterministic tests and by the embedded benchmark;
//! it is also how a round-trip time is added on machines without netem.

mod link;
mod offload;
mod pool;

pub use link::{Direction, DirectionConfig, LinkConfig, LinkControl, LinkStats, MemLink, MemPort};
pub use pool::{MemBuf, MemPool};
