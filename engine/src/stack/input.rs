//! The receive path: a burst of frames in, state changes, events and
//! replies out.
//!
//! Owns: classification of a burst, batch validation of the burst's TFO
//! cookies, the passive open (listener, TFO acceptance rules of RFC 7413
//! §4.2 as Linux applies them, protocol.md §6.3), SYN-SENT processing
//! (cookie caching, partial acknowledgement of SYN data, MP_CAPABLE or
//! fallback), segment arrival in synchronized states (RFC 9293 §3.10.7.4),
//! the MPTCP data level (DSS, DATA_ACK, DATA_FIN, protocol.md §5 and §7),
//! DSS checksums (mappings held until they verify, RFC 8684 §3.3.1,
//! protocol.md §4), fallback after the handshake (infinite mappings sent
//! and honoured, MP_FAIL, resets for invalid mappings; RFC 8684 §3.7,
//! protocol.md §5.5, §5.6), and the timers. ARP and neighbour discovery
//! frames are handed to `neighbor.rs`.

use std::net::SocketAddr;

use mptfo_nic::{Buf, ChecksumStatus};
use mptfo_proto::checksum::{dss_checksum_verifies, Sum};
use mptfo_proto::crypto::{KeyMaterial, MptcpKey};
use mptfo_proto::options::{
    Dss, FastOpenOption, MpJoin, MpTcpRstReason, MptcpOption, SegmentOptions,
};
use mptfo_proto::tfo::{CookieCheck, CookieRequest};
use mptfo_proto::wire::{classify, Classified, FourTuple, TcpFlags};
use mptfo_proto::{DataSeq, SubflowSeq};

use super::conn::{CloseReason, Conn, MptcpMode, TxFallback};
use super::output::SynInfo;
use super::subflow::{
    JoinLeg, OooSegment, PendingReset, RxChecked, RxMapping, Subflow, TcpState, MAX_OOO_SEGMENTS,
};
use super::{Event, Stack};
use crate::config::ReplyTiming;
use crate::mp::join::JoinResponder;
use crate::mp::pm::{
    join_syn_unknown_token, JoinAckVerdict, JoinSynVerdict, JoinedSubflow, PathManager, PmSubflow,
    Role,
};
use crate::slab::Key;
use crate::tcp::cc::CongestionControl;
use crate::time::Instant;

/// A received TCP segment, parsed; the payload is the frame buffer trimmed
/// to the payload bytes.
pub(super) struct Segment {
    /// Interface it arrived on.
    iface: usize,
    /// Local end as `src`, remote end as `dst`.
    tuple: FourTuple,
    seq: SubflowSeq,
    ack: Option<SubflowSeq>,
    flags: TcpFlags,
    window: u16,
    opts: SegmentOptions,
}

/// The lists one received burst needs, kept by the stack between bursts so
/// that their storage is reused.
pub(super) struct RxScratch<B> {
    /// Parsed segments of the burst, in arrival order: the first `used`
    /// slots (the others are left from earlier bursts, to be parsed into).
    segments: Vec<Segment>,
    /// Slots of `segments` in use.
    used: usize,
    /// Their payloads (same order).
    payloads: Vec<B>,
    /// TFO cookies of the burst's SYNs, validated together.
    requests: Vec<CookieRequest>,
    /// Verdicts on `requests` (same order).
    checks: Vec<CookieCheck>,
    /// Per segment: its entry in `requests`, if any.
    request_of: Vec<Option<usize>>,
}

impl<B> Default for RxScratch<B> {
    fn default() -> Self {
        RxScratch {
            segments: Vec::new(),
            used: 0,
            payloads: Vec::new(),
            requests: Vec::new(),
            checks: Vec::new(),
            request_of: Vec::new(),
        }
    }
}

impl<B> RxScratch<B> {
    fn clear(&mut self) {
        self.used = 0;
        self.payloads.clear();
        self.requests.clear();
        self.checks.clear();
        self.request_of.clear();
    }
}

impl Segment {
    fn syn(&self) -> bool {
        self.flags.contains(TcpFlags::SYN)
    }
    fn fin(&self) -> bool {
        self.flags.contains(TcpFlags::FIN)
    }
    fn rst(&self) -> bool {
        self.flags.contains(TcpFlags::RST)
    }
}

/// Duplicate ACKs that trigger fast retransmit (RFC 5681 §3.2).
const DUPACK_THRESHOLD: u32 = 3;

/// Most DATA_FIN retransmissions before the connection is given up.
const DATA_FIN_RETRIES: u8 = 10;

/// How long we wait for the answer to our MP_FAIL (the peer's infinite
/// mapping) before sending it again; doubled each time.
const MP_FAIL_WAIT: core::time::Duration = core::time::Duration::from_secs(1);

/// MP_FAIL repetitions before the subflow is reset (MP_TCPRST 0x06). Linux
/// waits `TCP_RTO_MAX` once.
const MP_FAIL_RETRIES: u8 = 3;

impl<B: Buf> Stack<B> {
    /// Processes a burst of frames received on interface `iface` at `now`.
    /// The vector is drained. TFO cookies of the burst's SYNs are validated
    /// together, in one pass (`CookieValidator::validate_batch`).
    pub fn receive(&mut self, now: Instant, iface: usize, frames: &mut Vec<B>) {
        if now > self.now {
            self.now = now;
        }
        // The burst's scratch lists live in the stack so that their storage
        // is reused from burst to burst (taken here, given back below).
        let mut rx = std::mem::take(&mut self.rx_scratch);
        rx.clear();
        for mut frame in frames.drain(..) {
            self.counters.mptfo_rx_packets += 1;
            self.counters.mptfo_rx_bytes += frame.len() as u64;
            let flags = frame.rx_flags();
            if flags.l4_checksum == ChecksumStatus::Bad || flags.ip_checksum == ChecksumStatus::Bad
            {
                self.counters.mptfo_rx_bad_checksum += 1;
                continue;
            }
            let mut caps = self.ifaces[iface].checksum;
            if flags.l4_checksum == ChecksumStatus::Good {
                caps.tcp = mptfo_proto::checksum::Offload::Both;
            }
            if flags.ip_checksum == ChecksumStatus::Good {
                caps.ipv4 = mptfo_proto::checksum::Offload::Both;
            }
            // The segment is parsed into the next slot of the burst's list
            // (in place: the slots are kept from burst to burst); it counts
            // as part of the burst only once it passed the checks below.
            let slot = rx.used;
            let (off, len) = match classify(frame.data(), &caps) {
                Ok(Classified::Tcp(t)) => {
                    let tuple = FourTuple {
                        src_addr: t.dst_addr,
                        src_port: t.dst_port,
                        dst_addr: t.src_addr,
                        dst_port: t.src_port,
                    };
                    if slot == rx.segments.len() {
                        rx.segments.push(Segment {
                            iface,
                            tuple,
                            seq: t.seq,
                            ack: t.ack,
                            flags: t.flags,
                            window: t.window,
                            opts: SegmentOptions::default(),
                        });
                    }
                    let seg = &mut rx.segments[slot];
                    seg.iface = iface;
                    seg.tuple = tuple;
                    seg.seq = t.seq;
                    seg.ack = t.ack;
                    seg.flags = t.flags;
                    seg.window = t.window;
                    seg.opts.reparse_lossy(t.options);
                    if seg.syn() && seg.ack.is_none() {
                        self.learn_neighbor(t.src_addr, t.eth_src.0);
                    }
                    (t.payload_offset, t.payload.len())
                }
                Ok(Classified::Arp(arp)) => {
                    self.on_arp(iface, arp);
                    continue;
                }
                Ok(Classified::NeighborDiscovery {
                    eth_src,
                    src_addr,
                    repr,
                    ..
                }) => {
                    self.on_neighbor_discovery(iface, eth_src, src_addr, repr);
                    continue;
                }
                Ok(_) => {
                    self.counters.mptfo_rx_unsupported += 1;
                    continue;
                }
                Err(mptfo_proto::Error::Checksum) => {
                    self.counters.mptfo_rx_bad_checksum += 1;
                    self.counters.tcp_in_csum_errors += 1;
                    continue;
                }
                Err(_) => {
                    self.counters.mptfo_rx_malformed += 1;
                    continue;
                }
            };
            let seg = &rx.segments[slot];
            if !self.ifaces[iface].addrs.contains(&seg.tuple.src_addr) {
                self.counters.mptfo_rx_not_for_us += 1;
                continue;
            }
            frame.trim_front(off);
            let extra = frame.len() - len;
            frame.trim_back(extra);
            // A SYN with a cookie to a listener: validate with the batch.
            let mut req = None;
            if seg.syn()
                && seg.ack.is_none()
                && self.listeners.contains_key(&seg.tuple.src_port)
                && !self.tuples.contains_key(&seg.tuple)
            {
                if let Some(fo) = seg.opts.fast_open {
                    if !fo.is_request() {
                        if let Some(cookie) = mptfo_proto::tfo::Cookie::from_bytes(fo.cookie()) {
                            req = Some(rx.requests.len());
                            rx.requests.push(CookieRequest {
                                client: seg.tuple.dst_addr,
                                server: seg.tuple.src_addr,
                                cookie,
                            });
                        }
                    }
                }
            }
            rx.request_of.push(req);
            rx.used += 1;
            rx.payloads.push(frame);
        }
        if !rx.requests.is_empty() {
            rx.checks.resize(rx.requests.len(), CookieCheck::Invalid);
            self.cookies.validate_batch(&rx.requests, &mut rx.checks);
        }
        for ((seg, payload), req) in rx.segments[..rx.used]
            .iter()
            .zip(rx.payloads.drain(..))
            .zip(rx.request_of.iter())
        {
            let check = req.map(|i| rx.checks[i]);
            self.on_segment(seg, payload, check);
        }
        rx.clear();
        self.rx_scratch = rx;
        self.flush();
    }

    fn on_segment(&mut self, seg: &Segment, payload: B, cookie: Option<CookieCheck>) {
        self.counters.tcp_in_segs += 1;
        if let Some(&sk) = self.tuples.get(&seg.tuple) {
            let state = self.subflows.get(sk).map(|s| s.state);
            match state {
                Some(TcpState::SynSent) if self.subflows[sk].join.is_some() => {
                    self.on_join_syn_sent(sk, seg)
                }
                Some(TcpState::SynSent) => self.on_syn_sent(sk, seg, payload),
                Some(TcpState::TimeWait) => self.on_time_wait(sk, seg, payload, cookie),
                Some(_) => self.on_synchronized(sk, seg, payload),
                None => {}
            }
            return;
        }
        if seg.syn() && seg.ack.is_none() && self.listeners.contains_key(&seg.tuple.src_port) {
            self.on_listen_syn(seg, payload, cookie);
            return;
        }
        self.counters.mptfo_rx_no_socket += 1;
        if !seg.rst() {
            self.reset_unknown(seg, payload.len());
        }
    }

    /// RFC 9293 §3.10.7.1: a segment for no connection gets a RST.
    fn reset_unknown(&mut self, seg: &Segment, payload_len: usize) {
        let (seq, ack) = match seg.ack {
            Some(a) => (a, None),
            None => {
                let len = payload_len + seg.syn() as usize + seg.fin() as usize;
                (SubflowSeq(0), Some(seg.seq + len))
            }
        };
        self.send_reset_for(seg.iface, seg.tuple, seq, ack, None);
    }

    /// A SYN to a listening port: MP_CAPABLE and TFO decisions, then the
    /// new subflow in SYN-RECEIVED and the SYN/ACK.
    fn on_listen_syn(&mut self, seg: &Segment, payload: B, cookie_check: Option<CookieCheck>) {
        let now = self.now;
        let opts = &seg.opts;
        if let Some(MptcpOption::MpJoin(j @ MpJoin::Syn { .. })) = opts.mptcp {
            self.on_join_syn(seg, j);
            return;
        }
        // RFC 8684 §3.1: MP_CAPABLE on a SYN is 4 bytes, version >= 1, and
        // Linux wants exactly HMAC-SHA256 among the crypto bits and B = 0.
        let mpc = match opts.mptcp {
            Some(MptcpOption::MpCapable(m))
                if self.cfg.mptcp.enabled
                    && m.sender_key.is_none()
                    && m.version >= 1
                    && m.flags.is_acceptable() =>
            {
                Some(m)
            }
            _ => None,
        };
        if mpc.is_some() {
            self.counters.mptcp_mp_capable_syn_rx += 1;
        }
        // TFO (protocol.md §6.3).
        let tfo = self.cfg.tfo_server;
        let n = payload.len();
        let mut accept = false;
        let mut offer: Option<FastOpenOption> = None;
        if tfo.enabled && (opts.fast_open.is_some() || (n > 0 && tfo.no_cookie)) {
            if self.tfo_pending >= tfo.queue_len {
                self.counters.tcp_ext_tcp_fast_open_listen_overflow += 1;
            } else if tfo.no_cookie && n > 0 {
                accept = true;
            } else if let Some(fo) = opts.fast_open {
                let fresh = || {
                    let c = self.cookies.issue(seg.tuple.dst_addr, seg.tuple.src_addr);
                    FastOpenOption::new(fo.form, c.as_bytes()).ok()
                };
                if fo.is_request() {
                    self.counters.tcp_ext_tcp_fast_open_cookie_reqd += 1;
                    offer = fresh();
                } else {
                    match cookie_check.unwrap_or(CookieCheck::Invalid) {
                        CookieCheck::ValidPrimary => accept = n > 0,
                        CookieCheck::ValidBackup => {
                            accept = n > 0;
                            self.counters.tcp_ext_tcp_fast_open_passive_alt_key += 1;
                            offer = fresh();
                        }
                        CookieCheck::Invalid => {
                            self.counters.tcp_ext_tcp_fast_open_passive_fail += 1;
                            offer = fresh();
                        }
                    }
                }
            }
        }
        let accepted = if accept { n as u32 } else { 0 };
        if accept {
            self.counters.tcp_ext_tcp_fast_open_passive += 1;
        }
        let local_key = self.draw_local_key();
        let ck = self.conns.vacant_key();
        let mut conn: Conn<B> = self.new_conn(ck, local_key, false, now);
        match mpc {
            Some(m) => {
                conn.checksum = self.cfg.mptcp.checksum || m.flags.checksum_required();
                conn.peer_deny_join_id0 = m.flags.no_subflows_to_source();
                conn.pm = Some(PathManager::new(
                    Role::Server,
                    SocketAddr::new(seg.tuple.src_addr, seg.tuple.src_port),
                    SocketAddr::new(seg.tuple.dst_addr, seg.tuple.dst_port),
                    local_key.key,
                ));
            }
            None => conn.mode = MptcpMode::Fallback,
        }
        conn.listen_port = seg.tuple.src_port;
        let iss = match self.reopen_iss.take() {
            Some(iss) => iss,
            None => SubflowSeq(self.rand() as u32),
        };
        let sk = self.subflows.vacant_key();
        let mut sf = Subflow::new(
            &self.cfg,
            ck,
            seg.tuple,
            seg.iface,
            TcpState::SynReceived,
            iss,
            false,
        );
        self.reuse_rtx(&mut sf);
        sf.irs = seg.seq;
        sf.rcv_nxt = seg.seq + (1 + accepted as usize);
        // protocol.md §7.3 step 1: SSN 1 is the first byte after the
        // accepted SYN data.
        sf.rx_ssn_origin = seg.seq + accepted as usize;
        sf.snd_wnd = seg.window as u32;
        sf.snd_wl1 = seg.seq;
        sf.snd_wl2 = iss;
        if let Some(ws) = opts.wscale {
            sf.snd_shift = ws.min(14);
            sf.rcv_shift = self.cfg.window_shift;
        }
        sf.mss = self.cfg.mss.min(opts.mss.unwrap_or(536));
        sf.cc.set_mss(sf.mss as usize);
        sf.sack_ok = opts.sack_permitted && self.cfg.sack;
        if let Some(ts) = opts.timestamps {
            sf.ts_recent = ts.tsval;
        }
        sf.syn_info = SynInfo {
            tsval: opts.timestamps.map(|t| t.tsval),
            wscale: opts.wscale,
            sack: opts.sack_permitted,
        };
        sf.synack_cookie = offer;
        sf.syn_data_len = accepted;
        sf.syn_had_tfo = opts.fast_open.is_some();
        conn.subflows.push(sk);
        let remote = SocketAddr::new(seg.tuple.dst_addr, seg.tuple.dst_port);
        if accept {
            conn.tfo_pending = true;
            conn.hold_until_key =
                conn.mode == MptcpMode::Pending && self.cfg.reply_timing == ReplyTiming::Hold;
            conn.announced = true;
        }
        self.conns.insert(conn);
        self.subflows.insert(sf);
        self.tuples.insert(seg.tuple, sk);
        self.tokens.insert(local_key.token, ck);
        self.counters.tcp_passive_opens += 1;
        if accept {
            self.tfo_pending += 1;
            // RFC 7413 §4.2.2: SYN data goes to the application at once,
            // before the handshake completes (outside the data sequence
            // space under MPTCP, RFC 8684 Appendix B).
            self.events.push_back(Event::Accepted {
                conn: ck,
                port: seg.tuple.src_port,
                remote,
            });
            self.events.push_back(Event::Data {
                conn: ck,
                data: payload,
            });
        }
        let info = self.subflows[sk].syn_info;
        self.send_synack(sk, offer, info);
        self.arm_subflow_timer(sk);
    }

    /// An MP_JOIN SYN (RFC 8684 §3.2, protocol.md §8): token lookup (none:
    /// RST with MP_TCPRST 0x01), admission by the connection's path manager
    /// (not fully established: RST 0x03; the `subflows` limit is checked at
    /// the third ACK, as Linux does), then a SYN/ACK with the truncated
    /// HMAC. Never TFO: SYN data is not taken.
    fn on_join_syn(&mut self, seg: &Segment, join: MpJoin) {
        let MpJoin::Syn { token, .. } = join else {
            return;
        };
        let rst = |s: &mut Self, seg: &Segment, r: MpTcpRstReason| {
            s.send_reset_for(
                seg.iface,
                seg.tuple,
                SubflowSeq(0),
                Some(seg.seq + 1),
                Some(r),
            );
        };
        let Some(&ck) = self.tokens.get(&token) else {
            let _ = join_syn_unknown_token(&mut self.counters);
            rst(self, seg, MpTcpRstReason::MptcpError);
            return;
        };
        let c = &mut self.conns[ck];
        let (Some(remote), Some(pm)) = (c.remote, c.pm.as_mut()) else {
            self.counters.mptcp_mp_join_syn_rx += 1;
            self.counters.mptcp_mp_join_rejected += 1;
            rst(self, seg, MpTcpRstReason::AdministrativelyProhibited);
            return;
        };
        let local_key = c.local.key;
        let verdict = if c.mode == MptcpMode::Established {
            pm.admit_join_syn(&self.pm_cfg, seg.tuple.src_addr, &mut self.counters)
        } else {
            self.counters.mptcp_mp_join_syn_rx += 1;
            self.counters.mptcp_mp_join_rejected += 1;
            JoinSynVerdict::Reset(MpTcpRstReason::AdministrativelyProhibited)
        };
        let (local_id, backup) = match verdict {
            JoinSynVerdict::Answer { local_id, backup } => (local_id, backup),
            JoinSynVerdict::Reset(r) => {
                rst(self, seg, r);
                return;
            }
        };
        let nonce = self.rand() as u32;
        let responder =
            match JoinResponder::on_syn(local_key, remote.key, &join, nonce, local_id, backup) {
                Ok(r) => r,
                Err(e) => {
                    rst(self, seg, e.rst_reason());
                    return;
                }
            };
        let opts = &seg.opts;
        let iss = SubflowSeq(self.rand() as u32);
        let sk = self.subflows.vacant_key();
        let mut sf = Subflow::new(
            &self.cfg,
            ck,
            seg.tuple,
            seg.iface,
            TcpState::SynReceived,
            iss,
            false,
        );
        self.reuse_rtx(&mut sf);
        sf.irs = seg.seq;
        sf.rcv_nxt = seg.seq + 1;
        sf.rx_ssn_origin = seg.seq;
        sf.snd_wnd = seg.window as u32;
        sf.snd_wl1 = seg.seq;
        sf.snd_wl2 = iss;
        if let Some(ws) = opts.wscale {
            sf.snd_shift = ws.min(14);
            sf.rcv_shift = self.cfg.window_shift;
        }
        sf.mss = self.cfg.mss.min(opts.mss.unwrap_or(536));
        sf.cc.set_mss(sf.mss as usize);
        sf.sack_ok = opts.sack_permitted && self.cfg.sack;
        if let Some(ts) = opts.timestamps {
            sf.ts_recent = ts.tsval;
        }
        sf.syn_info = SynInfo {
            tsval: opts.timestamps.map(|t| t.tsval),
            wscale: opts.wscale,
            sack: opts.sack_permitted,
        };
        sf.join = Some(JoinLeg::Responder(responder));
        sf.backup = backup;
        sf.peer_backup = responder.peer_backup();
        self.subflows.insert(sf);
        self.tuples.insert(seg.tuple, sk);
        self.conns[ck].subflows.push(sk);
        self.counters.tcp_passive_opens += 1;
        let info = self.subflows[sk].syn_info;
        self.send_synack(sk, None, info);
        self.arm_subflow_timer(sk);
    }

    /// SYN-SENT of a join subflow: the SYN/ACK must carry MP_JOIN with the
    /// right HMAC, else the subflow is reset (a join never falls back).
    fn on_join_syn_sent(&mut self, sk: Key, seg: &Segment) {
        let now = self.now;
        let sf = &self.subflows[sk];
        let Some(JoinLeg::Initiator(init)) = sf.join else {
            return;
        };
        let ck = sf.conn;
        if let Some(ack) = seg.ack {
            if ack <= sf.iss || ack > sf.snd_nxt {
                if !seg.rst() {
                    self.send_reset_for(seg.iface, seg.tuple, ack, None, None);
                }
                return;
            }
        }
        if seg.rst() {
            if seg.ack.is_some() {
                self.counters.tcp_attempt_fails += 1;
                if seg
                    .opts
                    .mptcp_options()
                    .any(|o| matches!(o, MptcpOption::MpTcpRst { .. }))
                {
                    self.counters.mptcp_mp_rst_rx += 1;
                }
                self.remove_subflow(sk);
                self.after_subflow_loss(ck, CloseReason::Reset);
            }
            return;
        }
        let (Some(ack), true) = (seg.ack, seg.syn()) else {
            return;
        };
        let opt = match seg.opts.mptcp {
            Some(MptcpOption::MpJoin(j)) => Some(j),
            _ => None,
        };
        let info = match init.on_synack(opt.as_ref(), &mut self.counters) {
            Ok(i) => i,
            Err(e) => {
                // Our SYN/ACK's ACK is the RST's sequence number.
                let sf = &mut self.subflows[sk];
                sf.snd_nxt = ack;
                sf.rcv_nxt = seg.seq + 1;
                self.reset_subflow(
                    sk,
                    PendingReset {
                        reason: e.rst_reason(),
                        mp_fail: None,
                    },
                );
                return;
            }
        };
        let sf = &mut self.subflows[sk];
        sf.accept_synack(&self.cfg, seg.seq, ack, seg.window, &seg.opts);
        if let Some(syn) = sf.rtx.pop_front() {
            if syn.retransmits == 0 {
                sf.rtt.on_sample(now.saturating_duration_since(syn.sent_at));
            }
        }
        sf.snd_una = ack;
        sf.snd_nxt = ack;
        sf.tx_ssn_origin = sf.iss;
        sf.rto_at = None;
        sf.rto_count = 0;
        sf.recover = None;
        sf.state = TcpState::Established;
        sf.peer_backup = info.peer_backup;
        sf.join_ack = Some(info.ack);
        // The third ACK waits for the peer's ACK on its own timer.
        sf.rto_at = Some(now + sf.rtt.rto());
        sf.ack_now = true;
        self.mark_dirty(ck);
    }

    /// SYN-SENT: the answer to our SYN (RFC 9293 §3.10.7.3).
    fn on_syn_sent(&mut self, sk: Key, seg: &Segment, payload: B) {
        let now = self.now;
        let sf = &self.subflows[sk];
        let ck = sf.conn;
        if let Some(ack) = seg.ack {
            if ack <= sf.iss || ack > sf.snd_nxt {
                if !seg.rst() {
                    self.send_reset_for(seg.iface, seg.tuple, ack, None, None);
                }
                return;
            }
        }
        if seg.rst() {
            if seg.ack.is_some() {
                self.counters.tcp_attempt_fails += 1;
                self.finish_conn(ck, CloseReason::Refused);
            }
            return;
        }
        let Some(ack) = seg.ack else {
            // Simultaneous open is not used by any of our peers; ignore.
            return;
        };
        if !seg.syn() {
            return;
        }
        let opts = &seg.opts;
        let iss = sf.iss;
        let syn_data_len = sf.syn_data_len;
        let acked_data = (ack.diff(iss).max(0) as u32)
            .saturating_sub(1)
            .min(syn_data_len);
        let (local, remote) = (sf.tuple.src_addr, sf.tuple.dst_addr);
        let syn_had_tfo = sf.syn_had_tfo;
        let sf = &mut self.subflows[sk];
        sf.accept_synack(&self.cfg, seg.seq, ack, seg.window, opts);
        // The SYN segment leaves the retransmission queue; SYN data the
        // SYN/ACK did not acknowledge becomes ordinary data again
        // (RFC 7413 §4.1.2, protocol.md §7.4).
        let mut leftover = None;
        if let Some(syn) = sf.rtx.pop_front() {
            if syn.retransmits == 0 {
                sf.rtt.on_sample(now.saturating_duration_since(syn.sent_at));
            }
            if let Some(mut p) = syn.payload {
                if (acked_data as usize) < p.len() {
                    p.trim_front(acked_data as usize);
                    leftover = Some(p);
                }
            }
        }
        sf.snd_una = ack;
        sf.snd_nxt = ack;
        // protocol.md §7.2: SSN 1 is the first byte after the acknowledged
        // TFO data.
        sf.tx_ssn_origin = iss + acked_data as usize;
        sf.rto_at = None;
        sf.rto_count = 0;
        // A SYN timeout's recovery point does not outlive the handshake.
        sf.recover = None;
        sf.state = TcpState::Established;
        sf.ack_now = true;
        let mss = sf.mss;
        // TFO client bookkeeping (RFC 7413 §4.1.3).
        let c = &mut self.conns[ck];
        if c.tfo_client {
            let cookie = opts.fast_open.filter(|f| !f.is_request());
            let asked = syn_had_tfo && syn_data_len == 0;
            self.cookie_cache
                .on_synack(local, remote, cookie, asked, opts.mss.unwrap_or(mss));
            if syn_data_len > 0 {
                if acked_data == syn_data_len {
                    self.counters.tcp_ext_tcp_fast_open_active += 1;
                } else {
                    self.counters.tcp_ext_tcp_fast_open_active_fail += 1;
                }
            }
        }
        let c = &mut self.conns[ck];
        if c.mode == MptcpMode::Pending {
            match opts.mptcp {
                Some(MptcpOption::MpCapable(m))
                    if m.version == 1
                        && m.flags.is_acceptable()
                        && m.receiver_key.is_none()
                        && m.sender_key.is_some() =>
                {
                    let key = m.sender_key.unwrap_or_default();
                    c.set_remote_key(KeyMaterial::new(MptcpKey(key)));
                    c.checksum = c.checksum || m.flags.checksum_required();
                    c.peer_deny_join_id0 = m.flags.no_subflows_to_source();
                    c.mpc_echo_pending = true;
                    c.mpc_data_pending = true;
                    self.counters.mptcp_mp_capable_synack_rx += 1;
                }
                _ => {
                    // RFC 8684 §3.1: no valid MP_CAPABLE in the SYN/ACK:
                    // plain TCP.
                    c.mode = MptcpMode::Fallback;
                    self.counters.mptcp_mp_capable_fallback_synack += 1;
                }
            }
        }
        let c = &mut self.conns[ck];
        if let Some(p) = leftover {
            c.unsent.push_front(p);
        }
        // SYN data the SYN/ACK acknowledged is delivered for good; it is
        // never DATA_ACKed (outside DSN space, protocol.md §7.2), so it
        // leaves the send buffer here.
        c.send_buffered -= acked_data as usize;
        c.announced = true;
        self.events.push_back(Event::Connected { conn: ck });
        if !payload.is_empty() {
            // Data on a SYN/ACK: accept it like any in-order data.
            self.deliver_in_order(sk, seg.seq + 1, payload);
            if self.take_pending_reset(sk) {
                return;
            }
        }
        self.mark_dirty(ck);
    }

    fn on_time_wait(&mut self, sk: Key, seg: &Segment, payload: B, cookie: Option<CookieCheck>) {
        if seg.rst() {
            self.remove_subflow(sk);
            return;
        }
        if seg.syn() && seg.ack.is_none() {
            // RFC 9293 §3.10.7.4 and RFC 6191: a new SYN for a tuple in
            // TIME-WAIT (the peer reusing its port once its own TIME-WAIT
            // is over) reopens it when its sequence number lies beyond
            // everything the old connection used; the new ISS then lies
            // beyond ours, so old duplicates cannot pass for new segments
            // (as Linux: old SND.NXT + 65537). Any other SYN is answered by
            // an ACK, so that the peer's SYN-SENT answers with a RST that
            // ends this TIME-WAIT, and its next SYN gets through.
            let sf = &self.subflows[sk];
            let listening = self.listeners.contains_key(&seg.tuple.src_port);
            if listening && seg.seq > sf.rcv_nxt {
                let iss = sf.snd_nxt + 65537;
                self.remove_subflow(sk);
                self.reopen_iss = Some(iss);
                self.on_listen_syn(seg, payload, cookie);
                self.reopen_iss = None;
                return;
            }
            self.send_ack(sk);
            return;
        }
        // RFC 9293 §3.10.7.4: a retransmitted FIN is acknowledged again and
        // restarts the 2 MSL wait.
        if seg.fin() {
            let now = self.now;
            let tw = self.cfg.time_wait;
            if let Some(sf) = self.subflows.get_mut(sk) {
                sf.timewait_at = Some(now + tw);
            }
            self.send_ack(sk);
            self.arm_subflow_timer(sk);
        }
    }

    /// SYN-RECEIVED and every synchronized state.
    fn on_synchronized(&mut self, sk: Key, seg: &Segment, payload: B) {
        let wnd = self.cfg.recv_window;
        let sf = &self.subflows[sk];
        let ck = sf.conn;
        // A retransmitted SYN while we are in SYN-RECEIVED: answer again.
        if seg.syn() && seg.ack.is_none() && sf.state == TcpState::SynReceived && seg.seq == sf.irs
        {
            let info = sf.syn_info;
            let cookie = sf.synack_cookie;
            self.send_synack(sk, cookie, info);
            return;
        }
        // RFC 9293 §3.10.7.4 first: sequence number acceptable?
        let seg_len = payload.len() + seg.syn() as usize + seg.fin() as usize;
        let rcv_nxt = sf.rcv_nxt;
        let wnd_end = rcv_nxt + wnd as usize;
        let acceptable = if seg_len == 0 {
            seg.seq.in_range(rcv_nxt, wnd_end) || seg.seq == rcv_nxt
        } else {
            let last = seg.seq + (seg_len - 1);
            seg.seq.in_range(rcv_nxt, wnd_end) || last.in_range(rcv_nxt, wnd_end)
        };
        if !acceptable {
            if !seg.rst() {
                self.subflows[sk].ack_now = true;
                self.mark_dirty(ck);
            }
            return;
        }
        // Second: RST (RFC 5961 §3.2: exact match resets, else challenge).
        if seg.rst() {
            if seg.seq == rcv_nxt {
                self.on_reset(sk);
            } else {
                self.counters.tcp_ext_tcp_challenge_ack += 1;
                self.subflows[sk].ack_now = true;
                self.mark_dirty(ck);
            }
            return;
        }
        // Fourth: a SYN in a synchronized state gets a challenge ACK.
        if seg.syn() {
            self.counters.tcp_ext_tcp_syn_challenge += 1;
            self.subflows[sk].ack_now = true;
            self.mark_dirty(ck);
            return;
        }
        // Fifth: the ACK field.
        let Some(ack) = seg.ack else {
            return;
        };
        if self.subflows[sk].state == TcpState::SynReceived {
            let sf = &self.subflows[sk];
            if ack <= sf.snd_una || ack > sf.snd_nxt {
                self.send_reset_for(seg.iface, seg.tuple, ack, None, None);
                return;
            }
            if sf.join.is_some() {
                if !self.complete_passive_join(sk, seg) {
                    return;
                }
            } else if !self.complete_passive_handshake(sk, seg, payload.len()) {
                return;
            }
        } else if let Some(sf) = self.subflows.get_mut(sk) {
            if sf.join_ack.take().is_some() {
                // The fourth ACK: the peer took our third ACK. Data may go.
                self.counters.mptfo_join_established += 1;
                sf.rto_at = None;
                sf.rto_count = 0;
                sf.restart_rto(self.now);
                let pm_id = sf.pm_id;
                let peer_backup = sf.peer_backup;
                if let Some(pm) = self.conns.get_mut(ck).and_then(|c| c.pm.as_mut()) {
                    pm.on_subflow_established(pm_id, peer_backup);
                }
            }
        }
        self.maybe_fall_back_on_data(sk, seg, ack, payload.len());
        self.process_ack(sk, seg, ack, payload.len());
        if !self.subflows.contains(sk) {
            return;
        }
        // MPTCP options (DATA_ACK, mappings, DATA_FIN, fast close).
        if self.conns.get(ck).is_some_and(|c| c.is_mptcp())
            && !self.process_mptcp_options(sk, seg, payload.len())
        {
            return;
        }
        // Seventh: the payload.
        let state = self.subflows[sk].state;
        let receiving = matches!(
            state,
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2
        );
        if receiving && !payload.is_empty() {
            self.on_payload(sk, seg.seq, payload, seg.fin());
        } else if receiving && seg.fin() {
            if seg.seq == self.subflows[sk].rcv_nxt {
                self.on_fin(sk);
            } else {
                self.subflows[sk].ack_now = true;
            }
        }
        // A reset the payload asked for (protocol.md §5.6, §4) goes out
        // after the segment was taken in at TCP level.
        if self.take_pending_reset(sk) {
            return;
        }
        self.check_peer_data_fin(ck, sk);
        self.mark_dirty(ck);
    }

    /// The third ACK of a join we answered: its 160-bit HMAC, then the
    /// `subflows` limit (MP_TCPRST 0x03 over it, as Linux). Accepted: the
    /// subflow is established and the fourth ACK goes out at once. Returns
    /// false when the subflow was reset.
    fn complete_passive_join(&mut self, sk: Key, seg: &Segment) -> bool {
        let sf = &self.subflows[sk];
        let Some(JoinLeg::Responder(resp)) = sf.join else {
            return false;
        };
        let ck = sf.conn;
        let opt = match seg.opts.mptcp {
            Some(MptcpOption::MpJoin(j)) => Some(j),
            _ => None,
        };
        let reason = match resp.on_ack(opt.as_ref(), &mut self.counters) {
            Err(e) => Some(e.rst_reason()),
            Ok(()) => {
                let joined = JoinedSubflow {
                    local_addr: sf.tuple.src_addr,
                    remote: SocketAddr::new(sf.tuple.dst_addr, sf.tuple.dst_port),
                    remote_id: resp.peer_addr_id(),
                    local_backup: sf.backup,
                    remote_backup: resp.peer_backup(),
                };
                let c = &mut self.conns[ck];
                match c.pm.as_mut() {
                    Some(pm) => {
                        match pm.admit_join_ack(&self.pm_cfg, &joined, &mut self.counters) {
                            JoinAckVerdict::Accept(id) => {
                                self.subflows[sk].pm_id = id;
                                None
                            }
                            JoinAckVerdict::Reset(r) => Some(r),
                        }
                    }
                    None => Some(MpTcpRstReason::AdministrativelyProhibited),
                }
            }
        };
        if let Some(r) = reason {
            // The subflow is not ours yet: no pm bookkeeping to undo.
            self.subflows[sk].pm_id = PmSubflow(u32::MAX);
            self.reset_subflow(
                sk,
                PendingReset {
                    reason: r,
                    mp_fail: None,
                },
            );
            return false;
        }
        let sf = &mut self.subflows[sk];
        sf.state = TcpState::Established;
        sf.ack_now = true;
        self.counters.mptfo_join_established += 1;
        true
    }

    /// The ACK that completes a passive open. Returns false when the segment
    /// was consumed (connection gone).
    fn complete_passive_handshake(&mut self, sk: Key, seg: &Segment, payload_len: usize) -> bool {
        let sf = &mut self.subflows[sk];
        sf.state = TcpState::Established;
        let ck = sf.conn;
        let c = &mut self.conns[ck];
        if c.tfo_pending {
            c.tfo_pending = false;
            self.tfo_pending -= 1;
        }
        if c.mode == MptcpMode::Pending {
            // RFC 8684 §3.1 / protocol.md §5.5: the third ACK (or first
            // data) must carry MP_CAPABLE with both keys; its length must fit
            // the packet (20 without payload, 22/24 with). Anything else
            // means plain TCP, as Linux does.
            let local = c.local.key.0;
            let ok = match seg.opts.mptcp {
                Some(MptcpOption::MpCapable(m)) => {
                    m.version == 1
                        && m.receiver_key == Some(local)
                        && m.sender_key.is_some()
                        && (m.data_len.is_some() == (payload_len > 0))
                }
                _ => false,
            };
            if ok {
                let Some(MptcpOption::MpCapable(m)) = seg.opts.mptcp else {
                    unreachable!()
                };
                c.set_remote_key(KeyMaterial::new(MptcpKey(m.sender_key.unwrap_or_default())));
                c.peer_deny_join_id0 = m.flags.no_subflows_to_source();
                self.counters.mptcp_mp_capable_ack_rx += 1;
                self.pm_established(ck);
                let c = &mut self.conns[ck];
                // protocol.md §7.3 step 4: DATA_ACKs can start. If we sent
                // data (an `early` reply) or a DATA_FIN before the key, say
                // so at once: it also confirms the client's key to it, which
                // holds its DATA_FIN until then.
                if c.snd_nxt != c.local.idsn + 1 || c.fin_dsn.is_some() {
                    self.subflows[sk].ack_now = true;
                }
                if let Some(dl) = m.data_len {
                    if m.checksum.is_some() != c.checksum {
                        self.reset_for_checksum_presence(sk);
                        return false;
                    }
                    let dsn = c.remote.map(|r| r.idsn + 1).unwrap_or_default();
                    self.subflows[sk].rx_map = Some(RxMapping {
                        dsn,
                        ssn: 1,
                        len: dl as u32,
                        data_fin: false,
                        checksum: m.checksum,
                    });
                }
            } else {
                c.mode = MptcpMode::Fallback;
                self.counters.mptcp_mp_capable_fallback_ack += 1;
            }
        }
        let c = &mut self.conns[ck];
        if !c.announced {
            c.announced = true;
            let t = self.subflows[sk].tuple;
            self.events.push_back(Event::Accepted {
                conn: ck,
                port: t.src_port,
                remote: SocketAddr::new(t.dst_addr, t.dst_port),
            });
        }
        true
    }

    /// RFC 8684 §3.7, protocol.md §5.5: on the initial subflow, before the
    /// peer ever sent a DATA_ACK, data, a FIN or an acknowledgment of our
    /// data arriving without any MPTCP option means the peer fell back (its
    /// first segment from us after the handshake lacked MP_CAPABLE, e.g.
    /// because our third ACK was lost) or a middlebox strips the options:
    /// continue as plain TCP. Decided before the ACK is processed, so that
    /// it already counts as the data-level acknowledgment.
    fn maybe_fall_back_on_data(
        &mut self,
        sk: Key,
        seg: &Segment,
        ack: SubflowSeq,
        payload_len: usize,
    ) {
        let sf = &self.subflows[sk];
        let Some(c) = self.conns.get(sf.conn) else {
            return;
        };
        if !c.is_mptcp() || !c.active || !c.mpc_echo_pending || c.subflows.len() != 1 {
            return;
        }
        if seg.opts.mptcp_options().next().is_some() {
            return;
        }
        // An MPTCP peer that has not seen our key yet sends pure ACKs
        // without options, but never data, a FIN or an ACK of our data.
        let acks_data = ack > sf.snd_una && sf.rtx.front().is_some_and(|s| s.len > 0);
        if payload_len == 0 && !acks_data && !seg.fin() {
            return;
        }
        let ck = sf.conn;
        self.conns[ck].mode = MptcpMode::Fallback;
        self.counters.mptcp_mp_capable_data_fallback += 1;
        // protocol.md §5.5: one last DSS, an infinite mapping, tells a peer
        // that still runs MPTCP (only our DATA_ACKs' way was cut) that our
        // bytes are the data stream 1:1 from here; a plain peer ignores it.
        self.fall_back_tx(ck, sk, false);
    }

    /// RFC 9293 §3.10.7.4 fifth step, with RFC 5681/6582 loss recovery.
    fn process_ack(&mut self, sk: Key, seg: &Segment, ack: SubflowSeq, payload_len: usize) {
        let now = self.now;
        let sf = &mut self.subflows[sk];
        let ck = sf.conn;
        if ack > sf.snd_nxt {
            // Acknowledges something not yet sent: ACK and drop.
            sf.ack_now = true;
            return;
        }
        if let (true, Some(ts)) = (sf.ts_ok, seg.opts.timestamps) {
            if ts.tsval.wrapping_sub(sf.ts_recent) as i32 >= 0 {
                sf.ts_recent = ts.tsval;
            }
        }
        let in_flight = sf.in_flight() as usize;
        let mut newly_acked = 0u32;
        if ack > sf.snd_una {
            let (acked, sample) = sf.take_acked(ack, now);
            newly_acked = acked;
            if let Some(rtt) = sample {
                sf.rtt.on_sample(rtt);
            }
            sf.snd_una = ack;
            sf.rto_count = 0;
            sf.dupacks = 0;
            sf.stale = false;
            let srtt = sf.rtt.srtt();
            match sf.recover {
                Some(r) if ack >= r => {
                    sf.recover = None;
                    if sf.cc.in_recovery() {
                        let flight = sf.in_flight() as usize;
                        sf.cc.on_recovery_exit(now, flight);
                    } else {
                        sf.cc.on_ack(now, acked as usize, srtt, in_flight);
                    }
                }
                Some(_) if sf.cc.in_recovery() => {
                    // RFC 6582 partial ACK: resend the next hole.
                    sf.cc.on_partial_ack(acked as usize);
                    self.retransmit_front(sk);
                }
                Some(_) => {
                    // After an RTO (RFC 6582 §4 sets `recover` there), each
                    // ACK below the recovery point shows the next segment
                    // lost before the timeout: resend it at once instead of
                    // waiting a backed-off RTO per hole. Slow start goes on.
                    sf.cc.on_ack(now, acked as usize, srtt, in_flight);
                    self.retransmit_front(sk);
                }
                None => {
                    sf.cc.on_ack(now, acked as usize, srtt, in_flight);
                }
            }
            let sf = &mut self.subflows[sk];
            sf.restart_rto(now);
        } else if ack == sf.snd_una
            && payload_len == 0
            && !seg.fin()
            && !sf.rtx.is_empty()
            && (seg.window as u32) << sf.snd_shift == sf.snd_wnd
            && !signalling(&seg.opts)
        {
            // RFC 5681 §2 duplicate ACK; protocol.md §5.3: ACKs that carry
            // a DATA_FIN or address signalling never count.
            sf.dupacks += 1;
            if sf.recover.is_some() {
                sf.cc.on_dup_ack();
            } else if sf.dupacks == DUPACK_THRESHOLD {
                sf.recover = Some(sf.snd_nxt);
                sf.cc.on_loss_fast_retransmit(now, in_flight);
                self.counters.tcp_ext_tcp_fast_retrans += 1;
                self.counters.tcp_ext_tcp_reno_recovery += 1;
                self.retransmit_front(sk);
            }
        }
        if newly_acked > 0 || self.subflows[sk].recover.is_some() {
            self.recouple(ck);
        }
        let sf = &mut self.subflows[sk];
        // RFC 9293 §3.10.7.4: window update.
        if sf.snd_wl1 < seg.seq || (sf.snd_wl1 == seg.seq && sf.snd_wl2 <= ack) {
            sf.snd_wnd = (seg.window as u32) << sf.snd_shift;
            sf.snd_wl1 = seg.seq;
            sf.snd_wl2 = ack;
        }
        // Our FIN acknowledged?
        let fin_acked = sf.snd_una == sf.snd_nxt;
        match sf.state {
            TcpState::FinWait1 if fin_acked => sf.state = TcpState::FinWait2,
            TcpState::Closing if fin_acked => self.enter_time_wait(sk),
            TcpState::LastAck if fin_acked => {
                self.subflows[sk].state = TcpState::Closed;
                self.remove_subflow(sk);
                self.maybe_finish(ck);
                return;
            }
            _ => {}
        }
        // Under plain TCP the subflow ACK is the data ACK: past our infinite
        // mapping by its offset (RFC 8684 §3.7; bytes we resent after an
        // MP_FAIL sit below it and count nothing), else byte for byte.
        if newly_acked > 0 {
            if let Some(c) = self.conns.get_mut(ck) {
                if let Some(fb) = c.tx_fallback {
                    let off = ack.diff(fb.seq) as i64;
                    let mut to = DataSeq(fb.dsn.0.wrapping_add(off as u64));
                    if to > c.snd_nxt {
                        // Our FIN counts no data.
                        to = c.snd_nxt;
                    }
                    if c.on_data_ack(to) {
                        self.maybe_writable(ck);
                    }
                } else if c.mode == MptcpMode::Fallback {
                    let to = c.snd_una + newly_acked as usize;
                    c.on_data_ack(to);
                    self.maybe_writable(ck);
                }
            }
        }
    }

    /// RFC 6356: after an ACK or a loss on one subflow, the coupled
    /// controllers (LIA) of all the connection's subflows get the new
    /// `alpha` (`mp::lia::recouple`, computed over their windows and
    /// smoothed RTTs). Uncoupled controllers are left alone.
    pub(super) fn recouple(&mut self, ck: Key) {
        if self.cfg.congestion != crate::config::CongestionAlgorithm::Lia {
            return;
        }
        let Some(c) = self.conns.get(ck) else {
            return;
        };
        let mut sums = crate::mp::lia::AlphaSums::new();
        for &sk in &c.subflows {
            if let Some(s) = self.subflows.get(sk) {
                if let (Some(rtt), true) = (s.rtt.srtt(), s.state.is_synchronized()) {
                    sums.add(crate::mp::lia::coupled_window(&s.cc), rtt);
                }
            }
        }
        let coupling = sums.coupling();
        for &sk in &c.subflows {
            if let Some(s) = self.subflows.get_mut(sk) {
                let has_rtt = s.rtt.srtt().is_some() && s.state.is_synchronized();
                s.cc.set_coupling(if has_rtt { coupling } else { None });
            }
        }
    }

    /// MPTCP options of an established subflow's segment (RFC 8684 §3.3).
    /// Returns false when the subflow is gone (reset, fast close).
    fn process_mptcp_options(&mut self, sk: Key, seg: &Segment, payload_len: usize) -> bool {
        let ck = self.subflows[sk].conn;
        for opt in seg.opts.mptcp_options() {
            match *opt {
                MptcpOption::Dss(d) => {
                    let wnd = (seg.window as u32) << self.subflows[sk].snd_shift;
                    let alive = self.process_dss(sk, ck, &d, wnd);
                    if !alive {
                        return false;
                    }
                }
                MptcpOption::MpCapable(m) => {
                    // A repeated third ACK, or MP_CAPABLE with data after it
                    // (protocol.md §2.1): the implicit mapping IDSN+1, SSN 1.
                    let c = &self.conns[ck];
                    if !c.active && c.can_data_ack() {
                        // The client repeats MP_CAPABLE until a DATA_ACK
                        // confirms its key (RFC 8684 §3.1): ours was lost,
                        // so answer this one at once.
                        self.subflows[sk].ack_now = true;
                    }
                    if let (Some(remote), Some(dl), true) = (c.remote, m.data_len, payload_len > 0)
                    {
                        if m.checksum.is_some() != c.checksum {
                            self.reset_for_checksum_presence(sk);
                            return false;
                        }
                        self.subflows[sk].rx_map = Some(RxMapping {
                            dsn: remote.idsn + 1,
                            ssn: 1,
                            len: dl as u32,
                            data_fin: false,
                            checksum: m.checksum,
                        });
                    }
                }
                // RFC 8684 §3.5: act only on our own key.
                MptcpOption::MpFastclose { receiver_key }
                    if receiver_key == self.conns[ck].local.key.0 =>
                {
                    self.counters.mptcp_mp_fastclose_rx += 1;
                    self.fastclose(ck);
                    self.finish_conn(ck, CloseReason::Reset);
                    return false;
                }
                MptcpOption::MpTcpRst { .. } => self.counters.mptcp_mp_rst_rx += 1,
                MptcpOption::AddAddr(a) => {
                    let cfg = &self.pm_cfg;
                    let actions = match self.conns[ck].pm.as_mut() {
                        Some(pm) => pm.on_add_addr(cfg, &a, &mut self.counters),
                        None => {
                            if a.echo {
                                self.counters.mptcp_echo_add += 1;
                            } else {
                                self.counters.mptcp_add_addr += 1;
                            }
                            Vec::new()
                        }
                    };
                    self.run_pm_actions(ck, actions);
                    if !self.subflows.contains(sk) {
                        return false;
                    }
                }
                MptcpOption::RemoveAddr(r) => {
                    let actions = match self.conns[ck].pm.as_mut() {
                        Some(pm) => pm.on_remove_addr(r.ids(), &mut self.counters),
                        None => {
                            self.counters.mptcp_rm_addr += 1;
                            Vec::new()
                        }
                    };
                    self.run_pm_actions(ck, actions);
                    if !self.subflows.contains(sk) {
                        return false;
                    }
                }
                MptcpOption::MpPrio { backup } => {
                    let id = self.subflows[sk].pm_id;
                    self.subflows[sk].peer_backup = backup;
                    let action = match self.conns[ck].pm.as_mut() {
                        Some(pm) => pm.on_mp_prio(id, backup, &mut self.counters),
                        None => {
                            self.counters.mptcp_mp_prio_rx += 1;
                            None
                        }
                    };
                    self.run_pm_actions(ck, action.into_iter().collect());
                    self.mark_dirty(ck);
                }
                MptcpOption::MpFail { dsn } => self.on_mp_fail(sk, ck, dsn),
                // The join's third ACK again: our fourth ACK was lost.
                MptcpOption::MpJoin(MpJoin::Ack { .. })
                    if matches!(self.subflows[sk].join, Some(JoinLeg::Responder(_))) =>
                {
                    self.subflows[sk].ack_now = true;
                }
                _ => {}
            }
        }
        true
    }

    /// One DSS option (RFC 8684 §3.3): DATA_ACK, mapping, DATA_FIN, the
    /// infinite mapping of a peer that falls back. Returns false when the
    /// subflow was reset.
    fn process_dss(&mut self, sk: Key, ck: Key, d: &Dss, wnd: u32) -> bool {
        let c = &mut self.conns[ck];
        if let Some(a) = d.data_ack {
            let ack = a.expand(c.snd_una);
            if c.active && c.mpc_echo_pending {
                c.mpc_echo_pending = false;
                self.pm_established(ck);
            }
            let c = &mut self.conns[ck];
            let acked = c.on_data_ack(ack);
            // RFC 8684 §3.3.4: the window is relative to the DATA_ACK of
            // the same segment; only such segments move the shared edge.
            let opened = c.on_peer_window(ack, wnd);
            if acked {
                self.maybe_writable(ck);
            }
            if opened {
                let c = &mut self.conns[ck];
                c.persist_at = None;
                c.persist_probes = 0;
                self.mark_dirty(ck);
            }
        }
        let Some(m) = d.mapping else {
            return true;
        };
        let c = &mut self.conns[ck];
        if m.is_infinite() {
            // RFC 8684 §3.7: from the mapping's SSN on, the peer's bytes are
            // its data stream 1:1 from the mapping's DSN. Both directions go
            // plain: we answer with our own infinite mapping.
            self.counters.mptcp_infinite_map_rx += 1;
            if c.rx_fallback.is_none() && c.remote.is_some() {
                let dsn = m.dsn.expand(c.rcv_nxt);
                if let Some(failed) = c.mp_fail_sent.filter(|_| dsn > c.rcv_nxt) {
                    // After our MP_FAIL we hold nothing past the DATA_ACK:
                    // a plain stream starting beyond it would leave a hole
                    // for good.
                    self.counters.mptcp_dss_corruption_reset += 1;
                    self.reset_subflow(
                        sk,
                        PendingReset {
                            reason: MpTcpRstReason::MiddleboxInterference,
                            mp_fail: Some(failed),
                        },
                    );
                    return false;
                }
                c.rx_fallback = Some((m.ssn, dsn));
                c.fail_at = None;
                self.fall_back_tx(ck, sk, false);
            } else if c.remote.is_none() {
                c.mode = MptcpMode::Fallback;
            }
            return true;
        }
        if c.remote.is_none() || c.rx_plain() {
            return true;
        }
        // RFC 8684 §3.3.0 (protocol.md §2.3, checklist 17): the checksum is
        // there iff it was negotiated; anything else resets the subflow.
        if m.checksum.is_some() != c.checksum {
            self.reset_for_checksum_presence(sk);
            return false;
        }
        let dsn = m.dsn.expand(c.rcv_nxt);
        let len = (m.data_len as u32).saturating_sub(d.data_fin as u32);
        self.subflows[sk].peer_dsn64 |= m.dsn.is_64bit();
        if let (true, 0, Some(csum)) = (d.data_fin, len, m.checksum) {
            // A DATA_FIN alone: its checksum covers the pseudo-header only
            // (protocol.md §4).
            if !dss_checksum_verifies(dsn.0, m.ssn, m.data_len, csum, Sum::ZERO) {
                self.on_checksum_failure(sk, ck, dsn);
                return !self.take_pending_reset(sk);
            }
        }
        let c = &mut self.conns[ck];
        let sf = &mut self.subflows[sk];
        if d.data_fin && c.mp_fail_sent.is_none() {
            c.peer_fin_dsn = Some(dsn + len as usize);
            if c.peer_fin {
                // A DATA_FIN again: our DATA_ACK of it was lost; send it
                // again (RFC 8684 §3.3.3).
                sf.ack_now = true;
            }
        }
        if len > 0 {
            sf.rx_map = Some(RxMapping {
                dsn,
                ssn: m.ssn,
                len,
                data_fin: d.data_fin,
                checksum: m.checksum,
            });
        }
        true
    }

    /// RFC 8684 §3.3.0 / protocol.md §2.3: DSS checksum presence contradicts
    /// the negotiation. Reset the subflow (MP_TCPRST 0x01, checklist 17).
    fn reset_for_checksum_presence(&mut self, sk: Key) {
        self.counters.mptfo_dss_csum_presence_mismatch += 1;
        self.counters.mptcp_dss_corruption_reset += 1;
        self.reset_subflow(
            sk,
            PendingReset {
                reason: MpTcpRstReason::MptcpError,
                mp_fail: None,
            },
        );
    }

    /// Sends the reset the receive path asked for on `sk`, if any. True
    /// when the subflow was reset.
    fn take_pending_reset(&mut self, sk: Key) -> bool {
        let Some(r) = self
            .subflows
            .get_mut(sk)
            .and_then(|s| s.pending_reset.take())
        else {
            return false;
        };
        self.reset_subflow(sk, r);
        true
    }

    /// MP_FAIL from the peer (RFC 8684 §3.7): a checksum of ours failed
    /// there. With one subflow we answer with MP_FAIL and an infinite
    /// mapping from the first byte the peer has not DATA_ACKed, resending
    /// that data plain; with more, the peer resets the subflow itself.
    /// An MP_FAIL that answers ours changes nothing.
    fn on_mp_fail(&mut self, sk: Key, ck: Key, dsn: u64) {
        self.counters.mptcp_mp_fail_rx += 1;
        let c = &mut self.conns[ck];
        let join = self.subflows.get(sk).is_some_and(|s| s.join.is_some());
        if c.mp_fail_sent.is_some() || c.tx_fallback.is_some() || c.subflows.len() != 1 || join {
            // With several subflows (or on a join, which never falls back)
            // the peer resets the subflow itself.
            return;
        }
        // The failed mapping starts at the peer's DATA_ACK; what it has
        // before that is delivered.
        let _ = c.on_data_ack(DataSeq(dsn));
        c.mp_fail_echo = Some(dsn);
        self.fall_back_tx(ck, sk, true);
    }

    /// Our send direction goes plain (RFC 8684 §3.7): from the subflow's next
    /// new byte on, segments carry no mappings, and an infinite mapping from
    /// there (data-level length 0, checksum 0) says so until the peer
    /// acknowledges a byte past it. With `resend`, the data the peer has not
    /// DATA_ACKed (after an MP_FAIL it discarded it) goes out again as
    /// plain bytes; otherwise the mapping continues the data already sent,
    /// whose mappings stay valid. Once the peer's direction is plain as
    /// well the connection is plain TCP.
    pub(super) fn fall_back_tx(&mut self, ck: Key, sk: Key, resend: bool) {
        let Some(sf) = self.subflows.get_mut(sk) else {
            return;
        };
        let c = &mut self.conns[ck];
        if c.tx_fallback.is_none() {
            if resend {
                while let Some(chunk) = c.inflight.pop_back() {
                    c.unsent.push_front(chunk.buf);
                }
                c.snd_nxt = c.snd_una;
            }
            if !c.fin_acked {
                // A DATA_FIN not yet acknowledged becomes a FIN.
                c.fin_dsn = None;
                c.fin_sent = false;
                c.fin_rtx_at = None;
                c.fin_retries = 0;
            }
            c.mpc_echo_pending = false;
            c.mpc_data_pending = false;
            c.hold_until_key = false;
            c.tx_fallback = Some(TxFallback {
                seq: sf.snd_nxt,
                ssn: sf.tx_ssn(sf.snd_nxt),
                dsn: c.snd_nxt,
            });
            sf.ack_now = true;
            // Counted once, like Linux, however many segments repeat it.
            self.counters.mptcp_infinite_map_tx += 1;
        }
        if c.rx_plain() {
            c.mode = MptcpMode::Fallback;
        }
        self.mark_dirty(ck);
    }

    /// Payload that passed the window check: in order, overlapping, or
    /// beyond a hole.
    fn on_payload(&mut self, sk: Key, seq: SubflowSeq, mut payload: B, fin: bool) {
        let now = self.now;
        let delayed_ack = self.cfg.delayed_ack;
        let sf = &mut self.subflows[sk];
        let rcv_nxt = sf.rcv_nxt;
        let mut seq = seq;
        if seq < rcv_nxt {
            let dup = rcv_nxt - seq;
            if dup >= payload.len() {
                sf.ack_now = true;
                return;
            }
            payload.trim_front(dup);
            seq = rcv_nxt;
        }
        if seq == rcv_nxt {
            let filled_gap = !sf.ooo.is_empty();
            self.deliver_in_order(sk, seq, payload);
            // Drain segments the hole was holding back.
            loop {
                let sf = &mut self.subflows[sk];
                let Some(front) = sf.ooo.front() else { break };
                if front.seq > sf.rcv_nxt {
                    break;
                }
                let OooSegment {
                    seq: s,
                    payload: mut p,
                    mapping,
                    fin: f,
                } = sf.ooo.pop_front().expect("front exists");
                let next = sf.rcv_nxt;
                let end = s + p.len();
                if end < next || (end == next && !f) {
                    continue;
                }
                let skip = next - s;
                p.trim_front(skip);
                if let Some(m) = mapping {
                    sf.rx_map = Some(m);
                }
                if !p.is_empty() {
                    self.deliver_in_order(sk, next, p);
                }
                if f {
                    self.on_fin(sk);
                }
            }
            if fin && self.subflows[sk].ooo.is_empty() {
                self.on_fin(sk);
            }
            let sf = &mut self.subflows[sk];
            sf.unacked_segments += 1;
            if sf.unacked_segments >= 2 || filled_gap {
                // RFC 5681 §4.2 (RFC 9293 §3.8.6.3): an ACK for at least
                // every second segment, and at once when a segment fills
                // (part of) a gap. Sent now, not at the end of the burst:
                // a burst of segments must not collapse into one stretch
                // ACK.
                self.send_ack(sk);
            } else if sf.delack_at.is_none() {
                // One segment (a request, a reply): wait the delayed-ACK
                // time for data to carry the ACK.
                sf.delack_at = Some(now + delayed_ack);
            }
        } else {
            // Beyond a hole: RFC 5681 §4.2, an immediate duplicate ACK for
            // every out-of-order segment (the sender's fast retransmit
            // counts them), then keep the segment.
            self.send_ack(sk);
            let sf = &mut self.subflows[sk];
            if sf.ooo.len() >= MAX_OOO_SEGMENTS {
                self.counters.tcp_ext_tcp_ofo_drop += 1;
                return;
            }
            let pos = sf
                .ooo
                .iter()
                .position(|o| o.seq >= seq)
                .unwrap_or(sf.ooo.len());
            if sf.ooo.get(pos).is_some_and(|o| o.seq == seq) {
                return;
            }
            let mapping = sf.rx_map;
            sf.ooo.insert(
                pos,
                OooSegment {
                    seq,
                    payload,
                    mapping,
                    fin,
                },
            );
            self.counters.tcp_ext_tcp_ofo_queue += 1;
        }
    }

    /// In-order subflow bytes at `seq`: advance rcv_nxt and hand them to
    /// the connection (through the mapping under MPTCP).
    fn deliver_in_order(&mut self, sk: Key, seq: SubflowSeq, mut payload: B) {
        let sf = &mut self.subflows[sk];
        let len = payload.len();
        sf.rcv_nxt = seq + len;
        sf.data_bytes_received += len as u64;
        if sf.pending_reset.is_some() {
            return;
        }
        let ck = sf.conn;
        let ssn = sf.rx_ssn(seq);
        let Some(c) = self.conns.get_mut(ck) else {
            return;
        };
        // RFC 8684 §3.7: past the peer's infinite mapping the subflow's
        // bytes are the data stream 1:1; before it they keep their mappings.
        if let Some((ssn0, dsn0)) = c.rx_fallback {
            let off = ssn.wrapping_sub(ssn0) as i32;
            if off >= 0 {
                self.deliver_data(ck, dsn0 + off as usize, payload);
                return;
            }
            let head = off.unsigned_abs() as usize;
            if head < len {
                let mut tail = payload.share();
                tail.trim_front(head);
                payload.trim_back(len - head);
                self.deliver_mapped(sk, ck, ssn, payload);
                self.deliver_data(ck, dsn0, tail);
            } else {
                self.deliver_mapped(sk, ck, ssn, payload);
            }
            return;
        }
        if c.mode == MptcpMode::Fallback {
            if !c.peer_fin {
                self.events.push_back(Event::Data {
                    conn: ck,
                    data: payload,
                });
            }
            return;
        }
        self.deliver_mapped(sk, ck, ssn, payload);
    }

    /// In-order subflow bytes at relative SSN `ssn` under the receive
    /// mapping: to the data level, through the checksum when there is one.
    fn deliver_mapped(&mut self, sk: Key, ck: Key, ssn: u32, mut p: B) {
        if self.conns[ck].mp_fail_sent.is_some() {
            // RFC 8684 §3.7: after MP_FAIL, everything past the DATA_ACK is
            // discarded until the peer's infinite mapping (the peer resends
            // it plain).
            return;
        }
        match self.subflows[sk].rx_map {
            Some(m) if m.covers(ssn) => {
                let offset = ssn.wrapping_sub(m.ssn);
                let avail = (m.len - offset) as usize;
                let dsn = m.dsn + offset as usize;
                if p.len() > avail {
                    // Bytes beyond the mapping need a mapping of their own;
                    // our peers put one mapping on each segment.
                    self.counters.mptcp_dss_not_matching += 1;
                    let extra = p.len() - avail;
                    p.trim_back(extra);
                }
                if m.checksum.is_some() {
                    self.receive_checked(sk, ck, m, offset, p);
                } else {
                    self.deliver_data(ck, dsn, p);
                }
            }
            _ => self.on_unmapped_data(sk, ck, ssn, p),
        }
    }

    /// Bytes of a checksummed mapping (RFC 8684 §3.3.1): summed in order
    /// (a segment may start at an odd offset of the mapping) and held until
    /// the mapping is complete; then delivered if the checksum verifies,
    /// never DATA_ACKed or delivered if it does not.
    fn receive_checked(&mut self, sk: Key, ck: Key, m: RxMapping, offset: u32, mut p: B) {
        let sf = &mut self.subflows[sk];
        if sf.rx_checked.as_ref().is_none_or(|a| a.map != m) {
            if sf.rx_checked.as_ref().is_some_and(|a| a.got < a.map.len) {
                // A new mapping before the last one was complete.
                self.counters.mptcp_dss_not_matching += 1;
            }
            sf.rx_checked = Some(RxChecked {
                map: m,
                sum: Sum::ZERO,
                got: 0,
                held: Vec::new(),
            });
        }
        let acc = sf.rx_checked.as_mut().expect("set above");
        if offset > acc.got {
            // A hole inside the mapping cannot be summed (in-order delivery
            // never leaves one): the mapping is dropped.
            self.counters.mptcp_dss_not_matching += 1;
            sf.rx_checked = None;
            return;
        }
        let dup = (acc.got - offset) as usize;
        if dup >= p.len() {
            return;
        }
        p.trim_front(dup);
        let dsn = m.dsn + acc.got as usize;
        acc.sum = acc.sum.add_bytes_at(p.data(), acc.got as usize);
        acc.got += p.len() as u32;
        acc.held.push((dsn, p));
        if acc.got < m.len {
            return;
        }
        let acc = sf.rx_checked.take().expect("set above");
        let data_len = (m.len + m.data_fin as u32) as u16;
        let csum = m.checksum.unwrap_or_default();
        if dss_checksum_verifies(m.dsn.0, m.ssn, data_len, csum, acc.sum) {
            sf.valid_csum_seen = true;
            for (dsn, b) in acc.held {
                self.deliver_data(ck, dsn, b);
            }
        } else {
            self.on_checksum_failure(sk, ck, m.dsn);
        }
    }

    /// A DSS checksum failed for the mapping at `dsn` (RFC 8684 §3.7,
    /// protocol.md §4). One subflow and nothing out of order at data level:
    /// MP_FAIL (on our ACKs until the peer answers with an infinite mapping;
    /// the data is resent plain). Otherwise the subflow is reset with
    /// MP_FAIL and MP_TCPRST 0x06. The failed data is never DATA_ACKed.
    fn on_checksum_failure(&mut self, sk: Key, ck: Key, dsn: DataSeq) {
        let now = self.now;
        self.counters.mptcp_data_csum_err += 1;
        let c = &mut self.conns[ck];
        let contiguous = c.ooo.is_empty() && dsn <= c.rcv_nxt;
        let sf = &mut self.subflows[sk];
        sf.rx_checked = None;
        // A join subflow never falls back (RFC 8684 §3.7): reset instead.
        let join = sf.join.is_some();
        if c.subflows.len() == 1 && !join && contiguous && c.mp_fail_sent.is_none() && c.is_mptcp()
        {
            c.mp_fail_sent = Some(dsn);
            c.fail_retries = 0;
            c.fail_at = Some(now + MP_FAIL_WAIT);
            sf.ack_now = true;
            self.mark_dirty(ck);
        } else {
            self.counters.mptcp_dss_corruption_reset += 1;
            sf.pending_reset = Some(PendingReset {
                reason: MpTcpRstReason::MiddleboxInterference,
                mp_fail: Some(dsn),
            });
        }
    }

    /// In-order bytes no mapping covers (protocol.md §5.6). The peer's
    /// options are gone (a middlebox strips them, or the peer fell back
    /// without saying so): with one subflow, nothing out of order at data
    /// level and no checksum verified yet, both directions fall back — the
    /// bytes continue the data stream at our DATA_ACK, and we send an
    /// infinite mapping (RFC 8684 §3.7, checklist 21). Otherwise the subflow
    /// is reset (MP_TCPRST 0x01), as Linux does.
    fn on_unmapped_data(&mut self, sk: Key, ck: Key, ssn: u32, p: B) {
        self.counters.mptcp_dss_no_match_tcp += 1;
        let c = &mut self.conns[ck];
        if c.mode != MptcpMode::Established {
            return;
        }
        let sf = &mut self.subflows[sk];
        let may_fall_back = c.subflows.len() == 1
            && sf.join.is_none()
            && c.ooo.is_empty()
            && !(c.checksum && sf.valid_csum_seen)
            && c.mp_fail_sent.is_none();
        if may_fall_back {
            self.counters.mptcp_dss_corruption_fallback += 1;
            let dsn = c.rcv_nxt;
            c.rx_fallback = Some((ssn, dsn));
            self.fall_back_tx(ck, sk, false);
            self.deliver_data(ck, dsn, p);
        } else {
            self.counters.mptcp_dss_corruption_reset += 1;
            sf.pending_reset = Some(PendingReset {
                reason: MpTcpRstReason::MptcpError,
                mp_fail: None,
            });
        }
    }

    /// Data-level reassembly: in-order bytes go to the application, later
    /// ones wait, duplicates are dropped (RFC 8684 §3.3.1).
    fn deliver_data(&mut self, ck: Key, dsn: DataSeq, mut data: B) {
        let c = &mut self.conns[ck];
        let end = dsn + data.len();
        if end <= c.rcv_nxt {
            self.counters.mptcp_duplicate_data += 1;
            return;
        }
        c.data_ack_pending = true;
        let recv_window = self.cfg.recv_window;
        if dsn > c.rcv_nxt {
            // Held until the hole fills: only what lies inside the window.
            let edge = c.rcv_nxt + c.rcv_window(recv_window) as usize;
            if dsn >= edge {
                self.counters.mptcp_no_dss_in_window += 1;
                return;
            }
            if end > edge {
                data.trim_back(end - edge);
            }
            self.counters.mptcp_ofo_queue += 1;
            if let std::collections::btree_map::Entry::Vacant(e) = c.ooo.entry(dsn.0) {
                c.ooo_bytes += data.len();
                e.insert(data);
            }
            return;
        }
        let skip = c.rcv_nxt - dsn;
        data.trim_front(skip);
        c.rcv_nxt = end;
        if !c.peer_fin {
            self.events.push_back(Event::Data { conn: ck, data });
        }
        loop {
            let c = &mut self.conns[ck];
            let Some((&k, _)) = c.ooo.iter().next() else {
                break;
            };
            if DataSeq(k) > c.rcv_nxt {
                break;
            }
            let mut d = c.ooo.remove(&k).expect("key exists");
            c.ooo_bytes -= d.len();
            let e = DataSeq(k) + d.len();
            if e <= c.rcv_nxt {
                continue;
            }
            d.trim_front(c.rcv_nxt - DataSeq(k));
            c.rcv_nxt = e;
            self.events.push_back(Event::Data { conn: ck, data: d });
        }
    }

    /// The peer's DATA_FIN counts once every byte before it arrived.
    fn check_peer_data_fin(&mut self, ck: Key, sk: Key) {
        let Some(c) = self.conns.get_mut(ck) else {
            return;
        };
        if c.peer_fin || c.rx_plain() {
            return;
        }
        if c.peer_fin_dsn == Some(c.rcv_nxt) {
            c.peer_fin = true;
            c.rcv_nxt += 1;
            c.data_ack_pending = true;
            self.events.push_back(Event::PeerClosed { conn: ck });
            if let Some(sf) = self.subflows.get_mut(sk) {
                sf.ack_now = true;
            }
        }
    }

    /// In-order FIN on a subflow (RFC 9293 §3.10.7.4 eighth step).
    fn on_fin(&mut self, sk: Key) {
        let sf = &mut self.subflows[sk];
        sf.rcv_nxt += 1;
        sf.ack_now = true;
        let ck = sf.conn;
        let fin_acked = sf.snd_una == sf.snd_nxt;
        match sf.state {
            TcpState::Established | TcpState::SynReceived => sf.state = TcpState::CloseWait,
            TcpState::FinWait1 if fin_acked => self.enter_time_wait(sk),
            TcpState::FinWait1 => sf.state = TcpState::Closing,
            TcpState::FinWait2 => self.enter_time_wait(sk),
            _ => {}
        }
        if let Some(c) = self.conns.get_mut(ck) {
            if c.rx_plain() && !c.peer_fin {
                c.peer_fin = true;
                self.events.push_back(Event::PeerClosed { conn: ck });
            }
            // The peer closed one subflow of several while the data level
            // goes on (REMOVE_ADDR, a withdrawn address): close ours too;
            // its data goes on the others.
            let alone = !c.is_mptcp() || c.rx_plain() || c.subflows.len() <= 1;
            let level_open = !c.data_level_closed() && c.peer_fin_dsn.is_none();
            if !alone && level_open && self.subflows[sk].state == TcpState::CloseWait {
                self.reinject_from(sk);
                self.subflows[sk].stale = true;
                self.send_fin(sk);
            }
        }
    }

    fn enter_time_wait(&mut self, sk: Key) {
        let now = self.now;
        let tw = self.cfg.time_wait;
        let sf = &mut self.subflows[sk];
        sf.state = TcpState::TimeWait;
        sf.rto_at = None;
        sf.rtx.clear();
        sf.timewait_at = Some(now + tw);
        self.counters.tcp_ext_tw += 1;
    }

    /// A valid RST: the subflow is gone; the connection with it when it was
    /// the last one (RFC 8684 §3.6).
    fn on_reset(&mut self, sk: Key) {
        let ck = self.subflows[sk].conn;
        let state = self.subflows[sk].state;
        self.remove_subflow(sk);
        if state.is_synchronized() {
            self.counters.tcp_estab_resets += 1;
        }
        self.after_subflow_loss(ck, CloseReason::Reset);
    }

    /// A subflow died (RST, retransmissions exhausted). The connection goes
    /// with its last subflow, for `reason` — unless every byte was already
    /// delivered and acknowledged both ways: both DATA_FINs exchanged under
    /// MPTCP (the connection is closed at data level, RFC 8684 §3.3.3), or,
    /// under plain TCP, the peer's FIN in and all our data acknowledged.
    /// Then what happens to a FIN afterwards (a peer out of TIME_WAIT
    /// answering it with RST) does not change the outcome.
    pub(super) fn after_subflow_loss(&mut self, ck: Key, reason: CloseReason) {
        let Some(c) = self.conns.get(ck) else {
            return;
        };
        let graceful = match c.mode {
            MptcpMode::Fallback => {
                c.fin_queued && c.peer_fin && c.unsent.is_empty() && c.inflight.is_empty()
            }
            _ => c.data_level_closed(),
        };
        if c.subflows.is_empty() {
            let reason = if graceful {
                CloseReason::Graceful
            } else {
                reason
            };
            self.finish_conn(ck, reason);
        } else {
            self.maybe_finish(ck);
        }
    }

    /// Tells the application it may write again once half the send buffer
    /// is free.
    fn maybe_writable(&mut self, ck: Key) {
        let limit = self.cfg.send_buffer;
        if let Some(c) = self.conns.get_mut(ck) {
            if c.want_writable && c.send_buffered <= limit / 2 {
                c.want_writable = false;
                self.events.push_back(Event::Writable { conn: ck });
            }
            self.mark_dirty(ck);
        }
    }

    /// A subflow's wheel entry fired: run whatever deadlines passed.
    pub(super) fn on_subflow_timer(&mut self, sk: Key) {
        let now = self.now;
        let Some(sf) = self.subflows.get_mut(sk) else {
            return;
        };
        forget_fired(&self.timers, &mut sf.timer, &mut sf.timer_armed);
        if sf.timewait_at.is_some_and(|t| t <= now) {
            let ck = sf.conn;
            self.remove_subflow(sk);
            self.maybe_finish(ck);
            return;
        }
        if sf.delack_at.is_some_and(|t| t <= now) {
            sf.delack_at = None;
            self.counters.tcp_ext_delayed_acks += 1;
            self.send_ack(sk);
        }
        let Some(sf) = self.subflows.get_mut(sk) else {
            return;
        };
        if sf.rto_at.is_some_and(|t| t <= now) {
            sf.rto_at = None;
            self.on_rto(sk);
        }
        if self.subflows.contains(sk) {
            self.arm_subflow_timer(sk);
        }
    }

    /// RFC 6298 §5.4-5.7: the retransmission timer expired.
    fn on_rto(&mut self, sk: Key) {
        let now = self.now;
        let sf = &mut self.subflows[sk];
        let ck = sf.conn;
        if sf.rtx.is_empty() && sf.join_ack.is_some() {
            // The third ACK of our join went unanswered: repeat it, up to
            // the SYN retries; then the join failed.
            if sf.rto_count >= self.cfg.syn_retries {
                self.reset_subflow(
                    sk,
                    PendingReset {
                        reason: MpTcpRstReason::MptcpError,
                        mp_fail: None,
                    },
                );
                return;
            }
            sf.on_rto_backoff(now);
            self.counters.tcp_retrans_segs += 1;
            self.send_ack(sk);
            return;
        }
        let Some(front) = sf.rtx.front() else {
            return;
        };
        let limit = if front.syn {
            if sf.active {
                self.cfg.syn_retries
            } else {
                self.cfg.synack_retries
            }
        } else {
            self.cfg.data_retries
        };
        if sf.rto_count >= limit {
            if sf.state == TcpState::SynSent {
                self.counters.tcp_attempt_fails += 1;
            } else {
                self.counters.tcp_ext_tcp_abort_on_timeout += 1;
            }
            self.remove_subflow(sk);
            self.after_subflow_loss(ck, CloseReason::TimedOut);
            return;
        }
        self.counters.tcp_ext_tcp_timeouts += 1;
        let in_flight = sf.in_flight() as usize;
        sf.cc.on_rto(now, in_flight);
        sf.dupacks = 0;
        // RFC 6582 §4: after a timeout, `recover` is the highest sequence
        // sent; no fast retransmit for duplicate ACKs below it, and partial
        // ACKs up to it resend the next hole (`process_ack`).
        sf.recover = Some(sf.snd_nxt);
        // RFC 7413 §4.1.3.2: a SYN with data that timed out is resent bare
        // (`send_syn` leaves data and TFO option out of retransmissions) and
        // this server gets no SYN data for a while (negative cache). The
        // bytes stay in sequence space behind the SYN: the first SYN may
        // have arrived, and then the SYN/ACK acknowledges them as TFO data
        // (ack = ISN+1+N must stay acceptable, as in Linux); otherwise they
        // follow the handshake (`on_syn_sent`).
        let front = sf.rtx.front().expect("checked above");
        if front.syn && sf.active && front.len > 0 && front.retransmits == 0 {
            let (local, remote) = (sf.tuple.src_addr, sf.tuple.dst_addr);
            let until = now + self.cfg.tfo_client.negative_cache;
            self.cookie_cache.on_syn_timeout(local, remote, until);
        }
        let sf = &mut self.subflows[sk];
        sf.on_rto_backoff(now);
        // Several subflows: this one stalls; its data also goes on the
        // others until it moves again (RFC 8684 §3.3.6, Linux marks it
        // stale and reinjects).
        let others = self
            .conns
            .get(ck)
            .is_some_and(|c| c.subflows.len() > 1 && c.is_mptcp() && !c.tx_plain());
        if others && !self.subflows[sk].stale && self.subflows[sk].state.is_synchronized() {
            self.subflows[sk].stale = true;
            self.reinject_from(sk);
            self.mark_dirty(ck);
        }
        self.retransmit_front(sk);
    }

    /// Our MP_FAIL got no infinite mapping back in time (RFC 8684 §3.7):
    /// say it again on an ACK, with backoff; after `MP_FAIL_RETRIES`, reset
    /// the subflows with MP_FAIL and MP_TCPRST 0x06 (middlebox
    /// interference). Returns false when the connection is gone.
    fn on_mp_fail_timeout(&mut self, ck: Key) -> bool {
        let now = self.now;
        let c = &mut self.conns[ck];
        let Some(dsn) = c.mp_fail_sent.filter(|_| c.rx_fallback.is_none()) else {
            c.fail_at = None;
            return true;
        };
        if c.fail_retries >= MP_FAIL_RETRIES {
            c.fail_at = None;
            let sfs = c.subflows.clone();
            for sk in sfs {
                self.reset_subflow(
                    sk,
                    PendingReset {
                        reason: MpTcpRstReason::MiddleboxInterference,
                        mp_fail: Some(dsn),
                    },
                );
            }
            return self.conns.contains(ck);
        }
        c.fail_retries += 1;
        c.fail_at = Some(now + MP_FAIL_WAIT * (1u32 << c.fail_retries));
        let sfs = c.subflows.clone();
        for sk in sfs {
            self.send_ack(sk);
        }
        self.arm_conn_timer(ck);
        true
    }

    /// A connection's wheel entry fired: DATA_FIN retransmission.
    pub(super) fn on_conn_timer(&mut self, ck: Key) {
        let now = self.now;
        let Some(c) = self.conns.get_mut(ck) else {
            return;
        };
        forget_fired(&self.timers, &mut c.timer, &mut c.timer_armed);
        if let Some(pm) = c.pm.as_mut() {
            if pm.next_deadline().is_some_and(|t| t <= now) {
                let actions = pm.on_timer(&self.pm_cfg, now);
                self.run_pm_actions(ck, actions);
            }
        }
        let Some(c) = self.conns.get_mut(ck) else {
            return;
        };
        if c.fail_at.is_some_and(|t| t <= now) && !self.on_mp_fail_timeout(ck) {
            return;
        }
        let Some(c) = self.conns.get_mut(ck) else {
            return;
        };
        if c.persist_at.is_some_and(|t| t <= now) {
            c.persist_at = None;
            self.send_window_probe(ck);
        }
        let Some(c) = self.conns.get_mut(ck) else {
            return;
        };
        let Some(at) = c.fin_rtx_at else {
            self.arm_conn_timer(ck);
            return;
        };
        if at > now {
            self.arm_conn_timer(ck);
            return;
        }
        if c.fin_acked || c.tx_plain() {
            // Acknowledged, or no data level any more (a fallback after the
            // DATA_FIN was sent): plain FINs close the connection.
            c.fin_rtx_at = None;
            self.mark_dirty(ck);
            return;
        }
        if c.fin_retries >= DATA_FIN_RETRIES {
            self.fastclose(ck);
            self.finish_conn(ck, CloseReason::TimedOut);
            return;
        }
        if c.active && c.mpc_echo_pending {
            // RFC 8684 §3.1: the MP_CAPABLE third ACK must reach the
            // listener. No DATA_ACK has confirmed it yet, so it may have been
            // lost: repeat it (a pure ACK carries MP_CAPABLE while the key is
            // unconfirmed). A DSS-only DATA_FIN now would make the listener
            // fall back (protocol.md §5.5); it follows the DATA_ACK that the
            // listener sends on learning our key.
            c.fin_retries += 1;
            let backoff = core::time::Duration::from_millis(200) * (1u32 << c.fin_retries.min(9));
            c.fin_rtx_at = Some(now + backoff);
            let sfs = c.subflows.clone();
            for sk in sfs {
                self.send_ack(sk);
            }
            self.arm_conn_timer(ck);
            return;
        }
        // A DATA_FIN held back until our key was confirmed (output_fins)
        // goes out here for the first time: not a retransmission.
        if c.fin_sent {
            self.counters.mptcp_mptcp_retrans += 1;
        }
        c.fin_retries += 1;
        // Backed off like an RTO (protocol.md §5.3: a timer, not ACK
        // bursts).
        let backoff = core::time::Duration::from_millis(200) * (1u32 << c.fin_retries.min(9));
        c.fin_rtx_at = Some(now + backoff);
        let sfs = c.subflows.clone();
        let mut sent = false;
        for sk in sfs {
            sent |= self.send_data_fin(sk);
        }
        self.conns[ck].fin_sent |= sent;
        self.arm_conn_timer(ck);
    }
}

/// Segments whose MPTCP options signal something (DATA_FIN, addresses,
/// priorities): duplicate ACKs of that kind are not loss signals.
/// A wheel entry of a subflow or connection fired: forget it, unless the
/// owner has another one scheduled already (re-armed while the fired entry
/// waited in the same batch).
fn forget_fired(
    timers: &crate::timer::TimerWheel<super::TimerTarget>,
    timer: &mut Option<crate::timer::TimerId>,
    armed: &mut Option<Instant>,
) {
    if !timer.is_some_and(|id| timers.is_scheduled(id)) {
        *timer = None;
        *armed = None;
    }
}

fn signalling(opts: &SegmentOptions) -> bool {
    opts.mptcp_options().any(|o| match o {
        MptcpOption::Dss(d) => d.data_fin || d.mapping.is_some(),
        MptcpOption::AddAddr(_) | MptcpOption::RemoveAddr(_) | MptcpOption::MpPrio { .. } => true,
        _ => false,
    })
}
