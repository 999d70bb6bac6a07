//! TCP Fast Open server cookies (RFC 7413 §4.1.2, computed as Linux does).
