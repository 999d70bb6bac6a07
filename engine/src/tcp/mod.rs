//! TCP subflow machinery: RTO estimation, congestion control and
//! out-of-order reassembly bookkeeping.

pub mod assembler;
pub mod cc;
pub mod rtt;
