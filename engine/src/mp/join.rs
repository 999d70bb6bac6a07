//! The MP_JOIN handshake of one subflow (RFC 8684 §3.2, protocol.md §2.2,
//! §3.3): building the three MP_JOIN options and checking the peer's.
//!
//! ```text
//! A (initiator)                                   B (listener)
//! SYN      MP_JOIN token-B, R-A, addr id, B  -->
//!                                           <--  SYN/ACK MP_JOIN HMAC-B[0..8], R-B, addr id, B
//! ACK      MP_JOIN HMAC-A[0..20]             -->
//!                                           <--  ACK  (A may send data after this one)
//!
//! HMAC-B = HMAC-SHA256(key = Key-B‖Key-A, msg = R-B‖R-A)   (sender's key and nonce first)
//! HMAC-A = HMAC-SHA256(key = Key-A‖Key-B, msg = R-A‖R-B)
//! ```
//!
//! Failures are never a fallback to TCP: a join subflow that fails any
//! check is reset with MP_TCPRST reason 0x01 ([`JoinError::rst_reason`]).
//! The token lookup (which connection the SYN joins) and the admission
//! policy ([`PathManager::admit_join_syn`](super::pm::PathManager::admit_join_syn))
//! are the caller's; the checks here count the Linux MIB events they see
//! (`MPTcpExtMPJoinSynAckRx`, `…SynAckHMacFailure`, `…AckRx`,
//! `…AckHMacFailure`).

use mptfo_proto::crypto::{join_ack_hmac, join_synack_hmac, MptcpKey};
use mptfo_proto::options::{MpJoin, MpTcpRstReason};

use crate::counters::Counters;

/// Why a join handshake failed. Every case resets the subflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The packet carried no MP_JOIN, or the form for another packet.
    #[error("MP_JOIN missing or of the wrong form")]
    Missing,
    /// The SYN's token is not the token of the local key.
    #[error("MP_JOIN token does not match the connection")]
    TokenMismatch,
    /// The peer's HMAC is wrong.
    #[error("MP_JOIN HMAC mismatch")]
    BadHmac,
}

impl JoinError {
    /// The MP_TCPRST reason of the RST that answers it (0x01, MPTCP-specific
    /// error, as Linux's `MPTCP_RST_EMPTCP`).
    pub fn rst_reason(self) -> MpTcpRstReason {
        MpTcpRstReason::MptcpError
    }
}

/// Compare without an early exit on the first differing byte.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The truncated HMAC a host puts in its SYN/ACK (leftmost 64 bits):
/// `HMAC(local‖remote, local_nonce‖remote_nonce)`.
pub fn synack_hmac(local: MptcpKey, remote: MptcpKey, local_nonce: u32, remote_nonce: u32) -> u64 {
    join_synack_hmac(local, remote, local_nonce, remote_nonce)
}

/// The HMAC a host puts in its third ACK (leftmost 160 bits):
/// `HMAC(local‖remote, local_nonce‖remote_nonce)`.
pub fn ack_hmac(
    local: MptcpKey,
    remote: MptcpKey,
    local_nonce: u32,
    remote_nonce: u32,
) -> [u8; 20] {
    join_ack_hmac(local, remote, local_nonce, remote_nonce)
}

/// What the initiator learned from a valid SYN/ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinSynAckInfo {
    /// The MP_JOIN to put on the third ACK (and its retransmissions).
    pub ack: MpJoin,
    /// The listener's address id for its address of this subflow.
    pub peer_addr_id: u8,
    /// The listener asks for this subflow to be a backup.
    pub peer_backup: bool,
    /// The listener's nonce.
    pub peer_nonce: u32,
}

/// The connecting side of a join (host A).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinInitiator {
    local_key: MptcpKey,
    remote_key: MptcpKey,
    local_nonce: u32,
    addr_id: u8,
    backup: bool,
}

impl JoinInitiator {
    /// A join of the connection with keys `local_key` / `remote_key`, from
    /// the local address with id `addr_id`, with a fresh random
    /// `local_nonce`; `backup` asks the peer to treat it as backup.
    pub fn new(
        local_key: MptcpKey,
        remote_key: MptcpKey,
        local_nonce: u32,
        addr_id: u8,
        backup: bool,
    ) -> JoinInitiator {
        JoinInitiator {
            local_key,
            remote_key,
            local_nonce,
            addr_id,
            backup,
        }
    }

    /// The SYN's MP_JOIN: the peer's token and our nonce.
    pub fn syn_option(&self) -> MpJoin {
        MpJoin::Syn {
            backup: self.backup,
            addr_id: self.addr_id,
            token: self.remote_key.token(),
            nonce: self.local_nonce,
        }
    }

    /// Check the SYN/ACK's MP_JOIN (`None` if it had none) and produce the
    /// third ACK's. Counts `MPTcpExtMPJoinSynAckRx` for an MP_JOIN SYN/ACK
    /// and `MPTcpExtMPJoinSynAckHMacFailure` for a bad HMAC.
    pub fn on_synack(
        &self,
        opt: Option<&MpJoin>,
        counters: &mut Counters,
    ) -> Result<JoinSynAckInfo, JoinError> {
        let Some(&MpJoin::SynAck {
            backup,
            addr_id,
            hmac,
            nonce,
        }) = opt
        else {
            return Err(JoinError::Missing);
        };
        counters.mptcp_mp_join_synack_rx += 1;
        // The listener is the sender: its key and nonce first.
        let want = synack_hmac(self.remote_key, self.local_key, nonce, self.local_nonce);
        if !ct_eq(&want.to_be_bytes(), &hmac.to_be_bytes()) {
            counters.mptcp_mp_join_synack_hmac_failure += 1;
            return Err(JoinError::BadHmac);
        }
        Ok(JoinSynAckInfo {
            ack: MpJoin::Ack {
                hmac: ack_hmac(self.local_key, self.remote_key, self.local_nonce, nonce),
            },
            peer_addr_id: addr_id,
            peer_backup: backup,
            peer_nonce: nonce,
        })
    }
}

/// The listening side of a join (host B), created from the SYN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinResponder {
    local_key: MptcpKey,
    remote_key: MptcpKey,
    local_nonce: u32,
    remote_nonce: u32,
    peer_addr_id: u8,
    peer_backup: bool,
    addr_id: u8,
    backup: bool,
}

impl JoinResponder {
    /// Accept the SYN's MP_JOIN `opt` for the connection with keys
    /// `local_key` / `remote_key` (the remote key must be known: see
    /// [`PathManager::admit_join_syn`](super::pm::PathManager::admit_join_syn)).
    /// `local_nonce` is fresh and random; `addr_id` and `backup` go into our
    /// SYN/ACK. Fails if `opt` is not a SYN MP_JOIN or its token is not
    /// `local_key`'s.
    pub fn on_syn(
        local_key: MptcpKey,
        remote_key: MptcpKey,
        opt: &MpJoin,
        local_nonce: u32,
        addr_id: u8,
        backup: bool,
    ) -> Result<JoinResponder, JoinError> {
        let &MpJoin::Syn {
            backup: peer_backup,
            addr_id: peer_addr_id,
            token,
            nonce,
        } = opt
        else {
            return Err(JoinError::Missing);
        };
        if token != local_key.token() {
            return Err(JoinError::TokenMismatch);
        }
        Ok(JoinResponder {
            local_key,
            remote_key,
            local_nonce,
            remote_nonce: nonce,
            peer_addr_id,
            peer_backup,
            addr_id,
            backup,
        })
    }

    /// The SYN/ACK's MP_JOIN.
    pub fn synack_option(&self) -> MpJoin {
        MpJoin::SynAck {
            backup: self.backup,
            addr_id: self.addr_id,
            hmac: synack_hmac(
                self.local_key,
                self.remote_key,
                self.local_nonce,
                self.remote_nonce,
            ),
            nonce: self.local_nonce,
        }
    }

    /// Check the third ACK's MP_JOIN (`None` if it had none). Counts
    /// `MPTcpExtMPJoinAckRx` for an MP_JOIN third ACK and
    /// `MPTcpExtMPJoinAckHMacFailure` for a bad HMAC.
    pub fn on_ack(&self, opt: Option<&MpJoin>, counters: &mut Counters) -> Result<(), JoinError> {
        let Some(MpJoin::Ack { hmac }) = opt else {
            return Err(JoinError::Missing);
        };
        counters.mptcp_mp_join_ack_rx += 1;
        // The initiator is the sender: its key and nonce first.
        let want = ack_hmac(
            self.remote_key,
            self.local_key,
            self.remote_nonce,
            self.local_nonce,
        );
        if !ct_eq(&want, hmac) {
            counters.mptcp_mp_join_ack_hmac_failure += 1;
            return Err(JoinError::BadHmac);
        }
        Ok(())
    }

    /// The initiator's address id (from its SYN).
    pub fn peer_addr_id(&self) -> u8 {
        self.peer_addr_id
    }

    /// The initiator asked for a backup subflow (B on its SYN).
    pub fn peer_backup(&self) -> bool {
        self.peer_backup
    }

    /// The initiator's nonce.
    pub fn peer_nonce(&self) -> u32 {
        self.remote_nonce
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // protocol.md §3.5.
    const KA: MptcpKey = MptcpKey(0x0102_0304_0506_0708);
    const KB: MptcpKey = MptcpKey(0x1122_3344_5566_7788);
    const RA: u32 = 0x0a0b_0c0d;
    const RB: u32 = 0x01f2_e3d4;
    const HMAC_B8: u64 = 0xc022_c866_ec1e_1dd6;
    const HMAC_A20: [u8; 20] = [
        0x53, 0x38, 0x07, 0x2f, 0xad, 0x98, 0x66, 0x19, 0x60, 0x51, 0x7b, 0x90, 0xfc, 0x1c, 0xb9,
        0x13, 0x05, 0x8f, 0x7c, 0x1d,
    ];

    #[test]
    fn hmac_helpers_match_vectors() {
        assert_eq!(synack_hmac(KB, KA, RB, RA), HMAC_B8);
        assert_eq!(ack_hmac(KA, KB, RA, RB), HMAC_A20);
        // Swapping the order gives something else: the sender goes first.
        assert_ne!(synack_hmac(KA, KB, RA, RB), HMAC_B8);
    }

    #[test]
    fn full_handshake_with_vectors() {
        let mut ca = Counters::new();
        let mut cb = Counters::new();
        let a = JoinInitiator::new(KA, KB, RA, 2, true);
        let syn = a.syn_option();
        assert_eq!(
            syn,
            MpJoin::Syn {
                backup: true,
                addr_id: 2,
                token: 0x1dce_6604,
                nonce: RA
            }
        );
        let b = JoinResponder::on_syn(KB, KA, &syn, RB, 0, false).unwrap();
        assert_eq!(b.peer_addr_id(), 2);
        assert!(b.peer_backup());
        assert_eq!(b.peer_nonce(), RA);
        let synack = b.synack_option();
        assert_eq!(
            synack,
            MpJoin::SynAck {
                backup: false,
                addr_id: 0,
                hmac: HMAC_B8,
                nonce: RB
            }
        );
        let info = a.on_synack(Some(&synack), &mut ca).unwrap();
        assert_eq!(info.ack, MpJoin::Ack { hmac: HMAC_A20 });
        assert_eq!(info.peer_addr_id, 0);
        assert!(!info.peer_backup);
        assert_eq!(info.peer_nonce, RB);
        assert_eq!(b.on_ack(Some(&info.ack), &mut cb), Ok(()));
        assert_eq!(ca.mptcp_mp_join_synack_rx, 1);
        assert_eq!(ca.mptcp_mp_join_synack_hmac_failure, 0);
        assert_eq!(cb.mptcp_mp_join_ack_rx, 1);
        assert_eq!(cb.mptcp_mp_join_ack_hmac_failure, 0);
    }

    /// protocol.md §3.6: a join between two Linux 6.18 hosts.
    #[test]
    fn linux_capture_join() {
        let ka = MptcpKey(0x4496_a4c5_0f04_5110);
        let kb = MptcpKey(0x5c6d_8f8b_e9b1_ac6e);
        let (ra, rb) = (0x0ccb_77d2, 0xe2de_aece);
        let b = JoinResponder::on_syn(
            kb,
            ka,
            &MpJoin::Syn {
                backup: false,
                addr_id: 2,
                token: 0x8b61_449d,
                nonce: ra,
            },
            rb,
            0,
            false,
        )
        .unwrap();
        let MpJoin::SynAck { hmac, .. } = b.synack_option() else {
            panic!()
        };
        assert_eq!(hmac, 0xd427_8e30_bbcc_7f23);
        let a = JoinInitiator::new(ka, kb, ra, 2, false);
        let info = a
            .on_synack(Some(&b.synack_option()), &mut Counters::new())
            .unwrap();
        let MpJoin::Ack { hmac } = info.ack else {
            panic!()
        };
        assert_eq!(
            hmac,
            [
                0xa9, 0xea, 0x28, 0x3e, 0x78, 0x47, 0x0a, 0xee, 0x02, 0x90, 0x82, 0xd9, 0x17, 0xb6,
                0xa7, 0x4d, 0x5c, 0x2b, 0xf5, 0xf3
            ]
        );
    }

    #[test]
    fn failures_reset_with_mptcp_error() {
        let mut c = Counters::new();
        let a = JoinInitiator::new(KA, KB, RA, 1, false);
        // SYN/ACK with a wrong HMAC.
        let bad = MpJoin::SynAck {
            backup: false,
            addr_id: 0,
            hmac: HMAC_B8 ^ 1,
            nonce: RB,
        };
        assert_eq!(a.on_synack(Some(&bad), &mut c), Err(JoinError::BadHmac));
        assert_eq!(c.mptcp_mp_join_synack_rx, 1);
        assert_eq!(c.mptcp_mp_join_synack_hmac_failure, 1);
        // Right HMAC but another nonce than the one it was computed with.
        let bad = MpJoin::SynAck {
            backup: false,
            addr_id: 0,
            hmac: HMAC_B8,
            nonce: RB + 1,
        };
        assert_eq!(a.on_synack(Some(&bad), &mut c), Err(JoinError::BadHmac));
        // No MP_JOIN, or the wrong form: no fallback, reset.
        assert_eq!(a.on_synack(None, &mut c), Err(JoinError::Missing));
        assert_eq!(
            a.on_synack(Some(&MpJoin::Ack { hmac: HMAC_A20 }), &mut c),
            Err(JoinError::Missing)
        );
        assert_eq!(c.mptcp_mp_join_synack_rx, 2, "only MP_JOIN SYN/ACKs count");

        // Listener: token of another key, wrong form.
        let syn = a.syn_option();
        assert_eq!(
            JoinResponder::on_syn(KA, KB, &syn, RB, 0, false),
            Err(JoinError::TokenMismatch)
        );
        assert_eq!(
            JoinResponder::on_syn(KB, KA, &MpJoin::Ack { hmac: HMAC_A20 }, RB, 0, false),
            Err(JoinError::Missing)
        );
        let b = JoinResponder::on_syn(KB, KA, &syn, RB, 0, false).unwrap();
        let mut c = Counters::new();
        let mut wrong = HMAC_A20;
        wrong[19] ^= 0x80;
        assert_eq!(
            b.on_ack(Some(&MpJoin::Ack { hmac: wrong }), &mut c),
            Err(JoinError::BadHmac)
        );
        assert_eq!(b.on_ack(None, &mut c), Err(JoinError::Missing));
        assert_eq!(c.mptcp_mp_join_ack_rx, 1);
        assert_eq!(c.mptcp_mp_join_ack_hmac_failure, 1);
        assert_eq!(JoinError::BadHmac.rst_reason(), MpTcpRstReason::MptcpError);
        assert_eq!(u8::from(JoinError::Missing.rst_reason()), 0x01);
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(&[1, 2, 3], &[1, 2, 3]));
        assert!(!ct_eq(&[1, 2, 3], &[1, 2, 4]));
        assert!(!ct_eq(&[1, 2], &[1, 2, 3]));
    }
}
