//! Peers on the Linux kernel's own MPTCP + TFO stack (std sockets and the
//! few calls of [`crate::sys`]): what the interop tests run against our
//! endpoint, and the benchmark roles of `--stack kernel`.
//!
//! - [`loadgen`]: `mptfo loadgen --stack kernel`: epoll, non-blocking,
//!   one pinned thread per worker CPU; closed or open loop, CPS or RPS;
//!   SYN -> SYN/ACK, first and last reply byte latencies.
//! - [`serve`]: `mptfo serve --stack kernel`: epoll, one `SO_REUSEPORT`
//!   TFO listener per pinned worker thread; answers held for the client's
//!   MPTCP key or written at once (and the stalls counted).
//! - [`nstat`]: the namespace's kernel counters, before/after deltas.
//! - [`client`]: connects with `IPPROTO_MPTCP` (or TCP) using
//!   `sendto(MSG_FASTOPEN)`, `TCP_FASTOPEN_CONNECT` + `connect` + `write`,
//!   or a plain `connect`; sends requests, reads and checks the replies,
//!   reports per connection whether TFO carried the data and whether the
//!   connection stayed MPTCP.
//! - [`server`]: a TFO listener (`TCP_FASTOPEN` queue length) that answers
//!   requests (echo or rpc) on many connections with `poll`, and can hold
//!   each reply until `MPTCP_INFO` shows the client's key (Linux 6.18
//!   stalls a reply written before it: FINDINGS.md, protocol.md §8).
//!
//! Both are bounded in count and time.

pub mod client;
pub mod loadgen;
pub mod nstat;
pub mod serve;
pub mod server;

/// How a request of `len` bytes for exchange `ex` of connection `conn`
/// looks: a readable header (`REQ c.e `) then a letter pattern, so that a
/// capture shows which exchange a segment belongs to and an echo can be
/// checked byte by byte.
pub fn request_bytes(conn: usize, ex: usize, len: usize) -> Vec<u8> {
    let head = format!("REQ{conn}.{ex} ");
    let mut v: Vec<u8> = head.into_bytes();
    let salt = conn * 7 + ex * 13;
    let mut i = 0;
    while v.len() < len {
        v.push(b'a' + ((salt + i) % 26) as u8);
        i += 1;
    }
    v.truncate(len);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_differ_and_have_the_length() {
        let a = request_bytes(0, 0, 32);
        let b = request_bytes(0, 1, 32);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.starts_with(b"REQ0.0 "));
        assert_eq!(request_bytes(3, 1, 2), b"RE");
    }
}
