//! Settings of one stack instance (one per worker core).
//!
//! Owns: the knobs of TCP, MPTCP and TFO that the engine reads. The TOML
//! schema that fills them lives in `config/`; defaults here follow Linux so
//! that counters and behaviour compare with `nstat` on a kernel peer.

use core::time::Duration;

/// When a TFO listener sends response data written before the client's
/// MPTCP key has arrived (protocol.md §7.2, §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyTiming {
    /// Hold the reply until the MP_CAPABLE third ACK brings the client's key,
    /// then send it with a DATA_ACK. Two round trips; a Linux client stays
    /// MPTCP.
    #[default]
    Hold,
    /// Send the reply right after the SYN/ACK, with a mapping and no
    /// DATA_ACK (RFC 8684 Appendix B with erratum 6609). One round trip; a
    /// Linux 6.18 client falls back to TCP on it, our own client does not.
    Early,
}

/// Congestion-control algorithm of new subflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CongestionAlgorithm {
    /// RFC 5681 / RFC 6582.
    NewReno,
    /// RFC 9438 (Linux's default).
    #[default]
    Cubic,
    /// RFC 6356 LIA: the subflows of an MPTCP connection are coupled (Linux
    /// `lia` with the out-of-tree multipath schedulers).
    Lia,
}

/// TCP Fast Open on the listening side (RFC 7413 §4.2, Linux `tcp_fastopen`
/// bit 0x2 and the `TCP_FASTOPEN` queue length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TfoServerConfig {
    /// Accept SYN data at all.
    pub enabled: bool,
    /// Accept SYN data without looking at cookies (Linux bit 0x200).
    pub no_cookie: bool,
    /// Most TFO connections whose handshake is not complete yet (the
    /// `TCP_FASTOPEN` queue length); past it, SYN data is not accepted.
    pub queue_len: usize,
    /// The primary cookie key.
    pub key: [u8; 16],
    /// The backup key still accepted during a rotation.
    pub backup_key: Option<[u8; 16]>,
}

impl Default for TfoServerConfig {
    fn default() -> Self {
        TfoServerConfig {
            enabled: true,
            no_cookie: false,
            queue_len: 4096,
            key: [0; 16],
            backup_key: None,
        }
    }
}

/// TCP Fast Open on the connecting side (Linux `tcp_fastopen` bit 0x1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TfoClientConfig {
    /// Ask for cookies and send data in the SYN when one is cached.
    pub enabled: bool,
    /// How long a server whose SYN-with-data timed out is not sent SYN data
    /// again (the negative cache of RFC 7413 §4.1.3.2).
    pub negative_cache: Duration,
}

impl Default for TfoClientConfig {
    fn default() -> Self {
        TfoClientConfig {
            enabled: true,
            negative_cache: Duration::from_secs(60),
        }
    }
}

/// MPTCP settings (Linux `net.mptcp.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MptcpConfig {
    /// Offer and accept MP_CAPABLE (`net.mptcp.enabled`).
    pub enabled: bool,
    /// Ask for DSS checksums (`net.mptcp.checksum_enabled`).
    pub checksum: bool,
    /// Set the C flag: "do not open more subflows to my source address"
    /// (`net.mptcp.allow_join_initial_addr_port = 0`).
    pub deny_join_id0: bool,
}

impl Default for MptcpConfig {
    fn default() -> Self {
        MptcpConfig {
            enabled: true,
            checksum: false,
            deny_join_id0: false,
        }
    }
}

/// All settings of one stack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StackConfig {
    /// MSS we announce and send with (1460 for a 1500-byte MTU over IPv4).
    pub mss: u16,
    /// Receive window we offer, in bytes (per connection).
    pub recv_window: u32,
    /// Window scale shift we offer.
    pub window_shift: u8,
    /// Send buffer per connection, in bytes: writes beyond it are refused.
    pub send_buffer: usize,
    /// Offer TCP timestamps (RFC 7323).
    pub timestamps: bool,
    /// Offer SACK (RFC 2018).
    pub sack: bool,
    /// Congestion control of new subflows.
    pub congestion: CongestionAlgorithm,
    /// Lower bound of the retransmission timeout (Linux: 200 ms).
    pub min_rto: Duration,
    /// Upper bound of the retransmission timeout (Linux: 120 s).
    pub max_rto: Duration,
    /// Retransmission timeout before any RTT sample (RFC 6298: 1 s).
    pub initial_rto: Duration,
    /// Retransmissions of a SYN before the connection attempt fails (Linux
    /// `tcp_syn_retries` = 6).
    pub syn_retries: u8,
    /// Retransmissions of a SYN/ACK (Linux `tcp_synack_retries` = 5).
    pub synack_retries: u8,
    /// Retransmissions of data before the subflow is reset (Linux
    /// `tcp_retries2` = 15).
    pub data_retries: u8,
    /// Delayed-ACK timeout (Linux: 40 ms minimum).
    pub delayed_ack: Duration,
    /// How long a closed 4-tuple stays in TIME_WAIT (2 MSL; Linux 60 s).
    pub time_wait: Duration,
    /// TFO listener settings.
    pub tfo_server: TfoServerConfig,
    /// TFO client settings.
    pub tfo_client: TfoClientConfig,
    /// MPTCP settings.
    pub mptcp: MptcpConfig,
    /// Reply timing of TFO listeners.
    pub reply_timing: ReplyTiming,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            mss: 1460,
            recv_window: 256 * 1024,
            window_shift: 7,
            send_buffer: 256 * 1024,
            timestamps: true,
            sack: true,
            congestion: CongestionAlgorithm::default(),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(120),
            initial_rto: Duration::from_secs(1),
            syn_retries: 6,
            synack_retries: 5,
            data_retries: 15,
            delayed_ack: Duration::from_millis(40),
            time_wait: Duration::from_secs(60),
            tfo_server: TfoServerConfig::default(),
            tfo_client: TfoClientConfig::default(),
            mptcp: MptcpConfig::default(),
            reply_timing: ReplyTiming::default(),
        }
    }
}
