//! Multipath building blocks: coupled congestion control, the packet
//! scheduler, the path manager and the MP_JOIN handshake checks.
//!
//! Everything here is pure logic over plain values — no I/O, no clock, no
//! reference to the stack's connection or subflow types — so that the stack
//! can drive it from its input/output paths and tests can drive it alone.
//!
//! - [`lia`]: the Linked Increases Algorithm of RFC 6356, a per-subflow
//!   [`CongestionControl`](crate::tcp::cc::CongestionControl) plus the
//!   connection-level computation of `alpha` fed back through
//!   [`set_coupling`](crate::tcp::cc::CongestionControl::set_coupling).
//! - [`scheduler`]: which subflow carries the next chunk of data
//!   ([`LowestRtt`](scheduler::LowestRtt), the Linux default, and
//!   [`RoundRobin`](scheduler::RoundRobin)).
//! - [`pm`]: the in-kernel-style path manager of one connection: endpoints
//!   and limits (`ip mptcp endpoint` / `ip mptcp limits`), ADD_ADDR with
//!   retransmission, REMOVE_ADDR, MP_PRIO and MP_JOIN admission, as a state
//!   machine that returns [`Action`](pm::Action)s.
//! - [`join`]: the MP_JOIN handshake of one subflow (token, truncated
//!   SYN/ACK HMAC, 160-bit third-ACK HMAC) from either side.
//!
//! # How the stack uses them
//!
//! All four are wired into [`crate::stack`]: `CongestionAlgorithm::Lia`
//! couples a connection's subflows after each ACK (`Stack::recouple`);
//! new data and reinjections go where the connection's
//! [`AnyScheduler`](scheduler::AnyScheduler) says; each MPTCP connection
//! has a [`PathManager`](pm::PathManager) (the stack's `PmConfig` is set
//! with `Stack::set_pm_config`) whose actions the stack carries out; join
//! subflows run [`JoinInitiator`](join::JoinInitiator) /
//! [`JoinResponder`](join::JoinResponder). The original sketch:
//!
//! 1. Congestion control: add a `Lia(lia::Lia)` variant to
//!    [`AnyCc`](crate::tcp::cc::AnyCc) (and `CcAlgorithm::Lia`); whenever a
//!    subflow's window or smoothed RTT changes (after processing an ACK or a
//!    loss), call [`lia::recouple`] over the connection's subflows.
//! 2. Sending: build a [`scheduler::SubflowView`] per subflow (`cwnd_room` =
//!    `cwnd - in_flight`, limited by the peer's window; `backup` =
//!    [`pm::PathManager::is_backup`]) and ask the connection's scheduler.
//! 3. Path management: one [`pm::PathManager`] per MPTCP connection, one
//!    [`pm::PmConfig`] per worker. Feed it the events (fully established,
//!    ADD_ADDR / REMOVE_ADDR / MP_PRIO received, join SYN / third ACK,
//!    subflow established / closed, timer) and carry out the returned
//!    actions; arm the timer wheel at [`pm::PathManager::next_deadline`].
//! 4. Joins: [`join::JoinInitiator`] on the connecting side,
//!    [`join::JoinResponder`] on the listening side, with the token lookup
//!    and [`pm::PathManager::admit_join_syn`] /
//!    [`pm::PathManager::admit_join_ack`] around them.

pub mod join;
pub mod lia;
pub mod pm;
pub mod scheduler;
