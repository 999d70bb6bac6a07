//! MPTCP keys, tokens, IDSNs and HMACs (RFC 8684 §3.1, §3.2, §3.4.1, HMAC-SHA256).
