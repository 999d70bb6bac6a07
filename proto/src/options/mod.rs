//! TCP options (RFC 9293 §3.2) and the MPTCP option (RFC 8684 §3).
