//! One TCP subflow: RFC 9293 state, the send and retransmission queue, the
//! receive reorder queue, RTT estimation, congestion control and the
//! subflow's deadlines.
//!
//! Owns: everything that is per 4-tuple. Knows the MPTCP facts that live at
//! subflow level (the SSN origins that TFO moves, the current receive
//! mapping, the MP_CAPABLE/MP_JOIN handshake leg) but never touches the
//! connection: `input.rs` and `output.rs` combine the two.

use std::collections::VecDeque;

use core::time::Duration;
use mptfo_nic::Buf;
use mptfo_proto::checksum::Sum;
use mptfo_proto::options::{DssMapping, FastOpenOption, MpTcpRstReason, SegmentOptions};
use mptfo_proto::wire::FourTuple;
use mptfo_proto::{DataSeq, SubflowSeq};

use super::output::SynInfo;
use crate::config::{CongestionAlgorithm, StackConfig};
use crate::slab::Key;
use crate::tcp::cc::{AnyCc, CcAlgorithm, CongestionControl};
use crate::tcp::rtt::{RttConfig, RttEstimator};
use crate::time::Instant;

/// The MP_JOIN handshake leg of a join subflow (RFC 8684 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinLeg {
    /// We will send the MP_JOIN SYN once the connection is fully
    /// established (the peer's key is needed for the token).
    Pending,
    /// We sent the MP_JOIN SYN.
    Initiator(crate::mp::join::JoinInitiator),
    /// We answered an MP_JOIN SYN.
    Responder(crate::mp::join::JoinResponder),
}

/// RFC 9293 §3.3.2 connection states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// SYN sent, waiting for a SYN/ACK.
    SynSent,
    /// SYN received and SYN/ACK sent, waiting for the ACK.
    SynReceived,
    /// Both directions open.
    Established,
    /// We sent a FIN, it is not acknowledged yet.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's.
    FinWait2,
    /// The peer's FIN arrived; we have not closed yet.
    CloseWait,
    /// Both sent FIN at once; ours is not acknowledged yet.
    Closing,
    /// The peer closed first, then we sent our FIN.
    LastAck,
    /// Both FINs acknowledged; the 4-tuple rests for 2 MSL.
    TimeWait,
    /// Gone.
    Closed,
}

impl TcpState {
    /// True once the three-way handshake is over (data may be received).
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            TcpState::SynSent | TcpState::SynReceived | TcpState::Closed
        )
    }
    /// True while our side may still send data.
    pub fn can_send(self) -> bool {
        matches!(
            self,
            TcpState::SynReceived | TcpState::Established | TcpState::CloseWait
        )
    }
    /// True once we sent (or queued) our FIN.
    pub fn fin_sent(self) -> bool {
        matches!(
            self,
            TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::Closing
                | TcpState::LastAck
                | TcpState::TimeWait
        )
    }
}

/// What a sent segment carries at connection level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxData {
    /// Plain TCP bytes (fallback, or SYN data outside the data sequence
    /// space).
    Plain,
    /// Bytes mapped at `dsn` (RFC 8684 §3.3.1); `data_fin` adds the DATA_FIN
    /// octet after them. `mpc` asks for the MP_CAPABLE first-data form (22/24
    /// bytes, implicit mapping at IDSN+1, SSN 1) instead of a DSS.
    Mapped {
        /// Data sequence number of the first byte.
        dsn: DataSeq,
        /// The mapping also carries the DATA_FIN.
        data_fin: bool,
        /// Send as MP_CAPABLE with data.
        mpc: bool,
    },
}

/// A segment sent and not yet acknowledged.
#[derive(Debug)]
pub struct TxSegment<B> {
    /// Sequence number of the first octet (the SYN's, for a SYN).
    pub seq: SubflowSeq,
    /// Payload length.
    pub len: u32,
    /// Carries SYN.
    pub syn: bool,
    /// Carries FIN.
    pub fin: bool,
    /// The payload (a shared reference: the first transmission went out
    /// from the same storage).
    pub payload: Option<B>,
    /// Connection-level meaning of the payload.
    pub data: TxData,
    /// The mapping it carried when first sent (RFC 8684 §3.3.1: a mapping
    /// is immutable, so retransmissions repeat it even when the peer
    /// acknowledged part of the segment and its checksum covers bytes
    /// already acknowledged).
    pub sent_map: Option<DssMapping>,
    /// When it was last sent.
    pub sent_at: Instant,
    /// Times it was sent again.
    pub retransmits: u8,
}

impl<B> TxSegment<B> {
    /// Sequence number after the segment.
    pub fn end(&self) -> SubflowSeq {
        self.seq + (self.len as usize + self.syn as usize + self.fin as usize)
    }
}

/// A mapping received in a DSS (or implied by MP_CAPABLE with data), in
/// relative subflow sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMapping {
    /// DSN of the first mapped octet.
    pub dsn: DataSeq,
    /// Relative SSN of the first mapped octet.
    pub ssn: u32,
    /// Mapped payload octets (the DATA_FIN octet excluded).
    pub len: u32,
    /// The mapping ends with a DATA_FIN.
    pub data_fin: bool,
    /// The DSS checksum, when checksums are in use.
    pub checksum: Option<u16>,
}

impl RxMapping {
    /// True when relative SSN `ssn` is inside the mapping.
    pub fn covers(&self, ssn: u32) -> bool {
        ssn.wrapping_sub(self.ssn) < self.len
    }
}

/// The bytes of a checksummed mapping received so far (RFC 8684 §3.3.1):
/// held back from the connection until the whole mapping is in and its
/// checksum verifies.
#[derive(Debug)]
pub struct RxChecked<B> {
    /// The mapping being summed.
    pub map: RxMapping,
    /// Sum of the mapped bytes received so far, in order.
    pub sum: Sum,
    /// Mapped bytes received so far.
    pub got: u32,
    /// Those bytes, by DSN, in order.
    pub held: Vec<(DataSeq, B)>,
}

/// A subflow reset decided on the receive path, sent once the segment that
/// caused it has been processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingReset {
    /// MP_TCPRST reason.
    pub reason: MpTcpRstReason,
    /// MP_FAIL to send with the RST (DSN of a failed mapping).
    pub mp_fail: Option<DataSeq>,
}

/// An out-of-order segment held until the hole before it fills.
#[derive(Debug)]
pub struct OooSegment<B> {
    /// Sequence number of the first payload octet.
    pub seq: SubflowSeq,
    /// The payload view.
    pub payload: B,
    /// The mapping the segment carried, if any.
    pub mapping: Option<RxMapping>,
    /// The segment carried FIN.
    pub fin: bool,
}

/// Most out-of-order segments kept per subflow; more are dropped (the peer
/// sends them again). In bytes the queue is bounded by the receive window
/// (segments beyond it are not acceptable); this bound only limits the
/// buffers a peer can pin with tiny segments. A full 256 KiB window of
/// full-sized segments is some 185 of them.
pub const MAX_OOO_SEGMENTS: usize = 1024;

/// One TCP subflow.
pub struct Subflow<B> {
    /// Local and remote ends (`src` = local).
    pub tuple: FourTuple,
    /// Interface index the subflow sends on.
    pub iface: usize,
    /// The owning connection.
    pub conn: Key,
    /// TCP state.
    pub state: TcpState,
    /// We opened it.
    pub active: bool,

    // Send sequence space (RFC 9293 §3.3.1).
    /// Initial send sequence number.
    pub iss: SubflowSeq,
    /// Oldest unacknowledged sequence number.
    pub snd_una: SubflowSeq,
    /// Next sequence number to send.
    pub snd_nxt: SubflowSeq,
    /// Peer's receive window, in bytes (already scaled).
    pub snd_wnd: u32,
    /// Segment sequence number used for the last window update.
    pub snd_wl1: SubflowSeq,
    /// Segment acknowledgment number used for the last window update.
    pub snd_wl2: SubflowSeq,
    /// Shift to apply to the peer's window field.
    pub snd_shift: u8,
    /// Sent, not yet acknowledged segments, in sequence order.
    pub rtx: VecDeque<TxSegment<B>>,

    // Receive sequence space.
    /// Initial receive sequence number.
    pub irs: SubflowSeq,
    /// Next sequence number expected.
    pub rcv_nxt: SubflowSeq,
    /// Shift we apply to our window field.
    pub rcv_shift: u8,
    /// Segments beyond a hole, in sequence order.
    pub ooo: VecDeque<OooSegment<B>>,

    // Negotiated options.
    /// Largest payload we send in one segment.
    pub mss: u16,
    /// Both sides use timestamps.
    pub ts_ok: bool,
    /// The peer's most recent TSval (RFC 7323 TS.Recent).
    pub ts_recent: u32,
    /// Both sides allow SACK.
    pub sack_ok: bool,

    // Loss recovery.
    /// RFC 6298 estimator.
    pub rtt: RttEstimator,
    /// Congestion control.
    pub cc: AnyCc,
    /// Duplicate ACKs in a row.
    pub dupacks: u32,
    /// NewReno recovery point (RFC 6582), when in fast recovery.
    pub recover: Option<SubflowSeq>,
    /// Consecutive retransmission timeouts of the oldest segment.
    pub rto_count: u8,

    // Deadlines (the stack's timer wheel holds one entry per subflow).
    /// Retransmission timer.
    pub rto_at: Option<Instant>,
    /// Delayed-ACK timer.
    pub delack_at: Option<Instant>,
    /// End of TIME_WAIT.
    pub timewait_at: Option<Instant>,
    /// Deadline of the wheel entry in flight, if any.
    pub timer_armed: Option<Instant>,
    /// That entry (`None` when nothing is pending).
    pub timer: Option<crate::timer::TimerId>,
    /// An ACK must go out in this processing round.
    pub ack_now: bool,
    /// Full-sized segments received since our last ACK.
    pub unacked_segments: u32,

    // MPTCP at subflow level.
    /// Relative SSN origin of received data: SSN = seq − origin. TFO data
    /// the listener accepted moves it (protocol.md §7.3 step 1).
    pub rx_ssn_origin: SubflowSeq,
    /// Relative SSN origin of sent data (TFO data acked by the SYN/ACK
    /// moves it, protocol.md §7.4).
    pub tx_ssn_origin: SubflowSeq,
    /// The receive mapping in force.
    pub rx_map: Option<RxMapping>,
    /// The checksummed mapping being received, when checksums are in use.
    pub rx_checked: Option<RxChecked<B>>,
    /// A mapping with a checksum verified on this subflow (Linux
    /// `valid_csum_seen`): from then on unmapped data is no reason to fall
    /// back.
    pub valid_csum_seen: bool,
    /// A reset the receive path asked for.
    pub pending_reset: Option<PendingReset>,
    /// Payload bytes the SYN carried (client) or that were accepted from the
    /// SYN (listener).
    pub syn_data_len: u32,
    /// The SYN carried a TFO cookie (or a cookie request).
    pub syn_had_tfo: bool,
    /// The peer used a 64-bit DSN: answer with 64-bit DATA_ACKs.
    pub peer_dsn64: bool,
    /// Listener: what the SYN offered, to build SYN/ACK retransmissions.
    pub syn_info: SynInfo,
    /// Listener: the TFO cookie the SYN/ACK offers, if any.
    pub synack_cookie: Option<FastOpenOption>,

    // Multipath.
    /// A join subflow (MP_JOIN), not the connection's initial one: it never
    /// falls back.
    pub join: Option<JoinLeg>,
    /// Initiator: the third ACK's MP_JOIN (160-bit HMAC), repeated until the
    /// peer acknowledges it (RFC 8684 §3.2, the "fourth ACK"); no data goes
    /// on the subflow before.
    pub join_ack: Option<mptfo_proto::options::MpJoin>,
    /// Our B flag (this subflow is a backup path for us).
    pub backup: bool,
    /// The peer's B flag (MP_JOIN or MP_PRIO).
    pub peer_backup: bool,
    /// The path manager's name of the subflow.
    pub pm_id: crate::mp::pm::PmSubflow,
    /// Retransmission timeouts suggest the path is dead: the scheduler
    /// avoids it, its unacknowledged data was reinjected elsewhere (until
    /// an ACK moves again).
    pub stale: bool,
    /// Payload bytes sent for the first time on this subflow.
    pub data_bytes_sent: u64,
    /// In-order payload bytes received on this subflow.
    pub data_bytes_received: u64,
}

impl<B: Buf> Subflow<B> {
    /// A new subflow in `state` with our `iss`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: &StackConfig,
        conn: Key,
        tuple: FourTuple,
        iface: usize,
        state: TcpState,
        iss: SubflowSeq,
        active: bool,
    ) -> Subflow<B> {
        let rtt_cfg = RttConfig {
            initial_rto: cfg.initial_rto,
            min_rto: cfg.min_rto,
            max_rto: cfg.max_rto,
            ..RttConfig::rfc6298()
        };
        let algo = match cfg.congestion {
            CongestionAlgorithm::NewReno => CcAlgorithm::NewReno,
            CongestionAlgorithm::Cubic => CcAlgorithm::Cubic,
            CongestionAlgorithm::Lia => CcAlgorithm::Lia,
        };
        Subflow {
            tuple,
            iface,
            conn,
            state,
            active,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_wnd: 0,
            snd_wl1: SubflowSeq(0),
            snd_wl2: iss,
            snd_shift: 0,
            rtx: VecDeque::new(),
            irs: SubflowSeq(0),
            rcv_nxt: SubflowSeq(0),
            rcv_shift: 0,
            ooo: VecDeque::new(),
            mss: cfg.mss,
            ts_ok: false,
            ts_recent: 0,
            sack_ok: false,
            rtt: RttEstimator::new(rtt_cfg),
            cc: AnyCc::new(algo, cfg.mss as usize),
            dupacks: 0,
            recover: None,
            rto_count: 0,
            rto_at: None,
            delack_at: None,
            timewait_at: None,
            timer_armed: None,
            timer: None,
            ack_now: false,
            unacked_segments: 0,
            rx_ssn_origin: SubflowSeq(0),
            tx_ssn_origin: iss,
            rx_map: None,
            rx_checked: None,
            valid_csum_seen: false,
            pending_reset: None,
            syn_data_len: 0,
            syn_had_tfo: false,
            peer_dsn64: false,
            syn_info: SynInfo::default(),
            synack_cookie: None,
            join: None,
            join_ack: None,
            backup: false,
            peer_backup: false,
            pm_id: crate::mp::pm::PmSubflow::INITIAL,
            stale: false,
            data_bytes_sent: 0,
            data_bytes_received: 0,
        }
    }

    /// Takes what a SYN/ACK to our SYN says (RFC 9293 §3.10.7.3): the
    /// peer's ISN, MSS, window scale, timestamps and SACK, and its window,
    /// which RFC 7323 §2.2 says is not scaled in a SYN/ACK. Shared by the
    /// MP_CAPABLE (or plain) and MP_JOIN handshakes.
    pub fn accept_synack(
        &mut self,
        cfg: &StackConfig,
        seq: SubflowSeq,
        ack: SubflowSeq,
        window: u16,
        opts: &SegmentOptions,
    ) {
        self.irs = seq;
        self.rcv_nxt = seq + 1;
        self.rx_ssn_origin = seq;
        self.mss = cfg.mss.min(opts.mss.unwrap_or(536));
        self.cc.set_mss(self.mss as usize);
        if let Some(ws) = opts.wscale {
            self.snd_shift = ws.min(14);
            self.rcv_shift = cfg.window_shift;
        }
        self.snd_wnd = window as u32;
        self.snd_wl1 = seq;
        self.snd_wl2 = ack;
        self.ts_ok = cfg.timestamps && opts.timestamps.is_some();
        if let Some(ts) = opts.timestamps {
            self.ts_recent = ts.tsval;
        }
        self.sack_ok = cfg.sack && opts.sack_permitted;
    }

    /// Puts our SYN (or SYN/ACK), with the SYN data `payload` if any, at
    /// the head of the retransmission queue and moves `snd_nxt` past it.
    pub fn queue_syn(&mut self, payload: Option<B>, now: Instant) {
        let len = payload.as_ref().map_or(0, |p| p.len()) as u32;
        self.rtx.push_back(TxSegment {
            seq: self.iss,
            len,
            syn: true,
            fin: false,
            payload,
            data: TxData::Plain,
            sent_map: None,
            sent_at: now,
            retransmits: 0,
        });
        self.snd_nxt = self.iss + (1 + len as usize);
    }

    /// Bytes sent and not acknowledged (SYN and FIN count one).
    pub fn in_flight(&self) -> u32 {
        (self.snd_nxt - self.snd_una) as u32
    }

    /// Payload bytes this subflow may send now: the smaller of the
    /// congestion window and the peer's window, less what is in flight.
    pub fn send_room(&self) -> u32 {
        let cwnd = self.cc.cwnd() as u32;
        let limit = cwnd.min(self.snd_wnd);
        limit.saturating_sub(self.in_flight())
    }

    /// Relative SSN of sequence number `seq` on the receive side.
    pub fn rx_ssn(&self, seq: SubflowSeq) -> u32 {
        seq.0.wrapping_sub(self.rx_ssn_origin.0)
    }

    /// Relative SSN of sequence number `seq` on the send side.
    pub fn tx_ssn(&self, seq: SubflowSeq) -> u32 {
        seq.0.wrapping_sub(self.tx_ssn_origin.0)
    }

    /// The window we advertise, as the 16-bit field value. `recv_window`
    /// is the connection-level window (`Conn::rcv_window`), the same on
    /// every subflow (RFC 8684 §3.3.4).
    pub fn window_field(&self, recv_window: u32, syn: bool) -> u16 {
        // RFC 7323 §2.2: the window in a SYN or SYN/ACK is never scaled.
        let shift = if syn { 0 } else { self.rcv_shift };
        (recv_window >> shift).min(u16::MAX as u32) as u16
    }

    /// Arms the retransmission timer at `now + RTO` if it is not running.
    pub fn arm_rto(&mut self, now: Instant) {
        if self.rto_at.is_none() {
            self.rto_at = Some(now + self.rtt.rto());
        }
    }

    /// Restarts the retransmission timer (RFC 6298 §5.3), or stops it when
    /// nothing is outstanding (§5.2).
    pub fn restart_rto(&mut self, now: Instant) {
        self.rto_at = if self.rtx.is_empty() {
            None
        } else {
            Some(now + self.rtt.rto())
        };
    }

    /// The earliest of the subflow's deadlines.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.rto_at, self.delack_at, self.timewait_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Removes the segments `ack` covers from the retransmission queue and
    /// returns (payload bytes newly acknowledged, RTT sample of a segment
    /// sent once — Karn's rule).
    pub fn take_acked(&mut self, ack: SubflowSeq, now: Instant) -> (u32, Option<Duration>) {
        let mut acked = 0u32;
        let mut sample = None;
        while let Some(front) = self.rtx.front_mut() {
            let end = front.end();
            if end <= ack {
                if front.retransmits == 0 {
                    sample = Some(now.saturating_duration_since(front.sent_at));
                }
                acked += front.len;
                self.rtx.pop_front();
            } else if front.seq < ack && !front.syn {
                // Partly acknowledged: keep the rest (a peer that acked part
                // of a segment, e.g. a TFO SYN/ACK acking part of the data).
                let n = (ack - front.seq) as u32;
                let n = n.min(front.len);
                if let Some(p) = front.payload.as_mut() {
                    p.trim_front(n as usize);
                }
                front.seq += n as usize;
                front.len -= n;
                if let TxData::Mapped { dsn, .. } = &mut front.data {
                    *dsn += n as usize;
                }
                acked += n;
                break;
            } else {
                break;
            }
        }
        (acked, sample)
    }

    /// Backs off after a retransmission timeout (RFC 6298 §5.5-5.7).
    pub fn on_rto_backoff(&mut self, now: Instant) {
        self.rtt.backoff();
        self.rto_count = self.rto_count.saturating_add(1);
        self.rto_at = Some(now + self.rtt.rto());
    }
}

impl<B> Subflow<B> {
    /// Takes this subflow's retransmission queue, emptied, when it is small
    /// enough to keep for a later subflow (see
    /// [`ConnStorage`](super::conn::ConnStorage)); what it held is dropped.
    pub fn take_rtx_storage(&mut self) -> Option<VecDeque<TxSegment<B>>> {
        if self.rtx.capacity() > super::conn::MAX_KEPT_CAPACITY {
            return None;
        }
        let mut rtx = std::mem::take(&mut self.rtx);
        rtx.clear();
        Some(rtx)
    }
}
