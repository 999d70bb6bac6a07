//! Everything the stack sends: which options a segment carries (MPTCP form
//! by connection state, TFO on SYNs, timestamps), segments of data and
//! control, and the frames themselves, with headers written in front of
//! the payload in the buffer's headroom.
//!
//! Owns: the choice of MP_CAPABLE/DSS form per segment (RFC 8684 §3.1,
//! §3.3, protocol.md §7) with its DSS checksum, the infinite mapping and
//! MP_FAIL of a fallback (§3.7), the send side of subflows (new data, SYN,
//! SYN/ACK, ACK, FIN, RST, retransmission) and frame assembly; a frame
//! whose next hop is not resolved yet goes to `neighbor.rs` to wait.

use std::net::IpAddr;

use mptfo_nic::{Buf, TxOffload};
use mptfo_proto::checksum::{dss_checksum, Sum};
use mptfo_proto::options::{
    segment_options, syn_options, synack_options, Dss, DssAck, DssDsn, DssMapping, FastOpenOption,
    MpCapable, MpJoin, MpTcpRstReason, MpcFlags, MptcpOption, OptionBlock, SackBlocks,
    SegmentParams, SynAckParams, SynParams, Timestamps,
};
use mptfo_proto::wire::{
    EtherType, EthernetAddress, EthernetFrame, EthernetRepr, FourTuple, IpProtocol, Ipv4Packet,
    Ipv4Repr, Ipv6Packet, Ipv6Repr, TcpFlags, TcpPacket, TcpRepr,
};
use mptfo_proto::SubflowSeq;

use super::conn::{CloseReason, DataChunk, MptcpMode};
use super::subflow::{JoinLeg, PendingReset, Subflow, TcpState, TxData, TxSegment};
use super::{Interface, Stack};
use crate::mp::join::JoinInitiator;
use crate::mp::scheduler::{Scheduler, SubflowView};
use crate::slab::Key;
use crate::time::Instant;

/// Largest TCP header (with 40 bytes of options).
const MAX_TCP_HEADER: usize = 60;

/// Headroom a zero-copy frame needs: Ethernet, IPv6 and the largest TCP
/// header.
const MAX_HEADERS: usize = 14 + 40 + MAX_TCP_HEADER;

/// Where a segment's payload comes from.
pub(super) enum Payload<'a, B> {
    /// No payload.
    None,
    /// A buffer this handle owns alone: headers go in its headroom (zero
    /// copy).
    Own(B),
    /// Bytes to copy into a fresh buffer (retransmissions, shared views).
    Copy(&'a [u8]),
}

/// Most MPTCP options one non-SYN segment carries: a DSS, an MP_FAIL and
/// one signalling option (they seldom all fit in 40 bytes).
const MAX_SEGMENT_MPTCP: usize = 4;

/// The MPTCP options of one segment, in order, held inline (no allocation
/// per segment). Options pushed past its room are not kept, as options that
/// do not fit the header are not sent.
pub(super) struct MptcpOptions {
    items: [MptcpOption; MAX_SEGMENT_MPTCP],
    len: usize,
}

impl MptcpOptions {
    fn new() -> Self {
        MptcpOptions {
            items: [MptcpOption::MpFail { dsn: 0 }; MAX_SEGMENT_MPTCP],
            len: 0,
        }
    }

    fn push(&mut self, opt: MptcpOption) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = opt;
            self.len += 1;
        }
    }
}

impl core::ops::Deref for MptcpOptions {
    type Target = [MptcpOption];

    fn deref(&self) -> &[MptcpOption] {
        &self.items[..self.len]
    }
}

/// The TCP header fields of one segment.
pub(super) struct SegmentHeader {
    pub seq: SubflowSeq,
    pub ack: Option<SubflowSeq>,
    pub flags: TcpFlags,
    pub window: u16,
}

/// Timestamps option value for a subflow at `now` (1 ms clock).
/// First persist (zero-window probe) interval; doubles per probe.
const PERSIST_MIN: core::time::Duration = core::time::Duration::from_millis(200);
/// Longest persist interval (RFC 9293 §3.8.6.1 leaves it open; Linux caps
/// its probe timer at TCP_RTO_MAX, 120 s; we keep probing more often).
const PERSIST_MAX: core::time::Duration = core::time::Duration::from_secs(60);

fn timestamps(sf: &Subflow<impl Buf>, now: Instant) -> Option<Timestamps> {
    sf.ts_ok.then(|| Timestamps {
        tsval: ts_clock(now),
        tsecr: sf.ts_recent,
    })
}

/// Our TSval clock: milliseconds (RFC 7323 §5.4 allows 1 ms to 1 s ticks).
pub(super) fn ts_clock(now: Instant) -> u32 {
    (now.0 / 1_000_000) as u32
}

/// Builds one Ethernet frame carrying a TCP segment. Returns `None` when no
/// buffer is available or the headroom is too small.
#[allow(clippy::too_many_arguments)]
pub(super) fn build_frame<B: Buf>(
    pool: &mut Vec<B>,
    iface: &Interface,
    dst_mac: [u8; 6],
    tuple: &FourTuple,
    hdr: &SegmentHeader,
    options: &[u8],
    payload: Payload<'_, B>,
) -> Option<B> {
    let mut buf = match payload {
        Payload::Own(b) => b,
        Payload::None => pool.pop()?,
        Payload::Copy(bytes) => {
            let mut b = pool.pop()?;
            if !b.append_slice(bytes) {
                return None;
            }
            b
        }
    };
    let payload_len = buf.len();
    let repr = TcpRepr {
        src_port: tuple.src_port,
        dst_port: tuple.dst_port,
        seq: hdr.seq,
        ack: hdr.ack,
        flags: hdr.flags,
        window: hdr.window,
        options,
        payload: &[],
    };
    let tcp_len = repr.header_len();
    debug_assert!(tcp_len <= MAX_TCP_HEADER);
    let seg_len = tcp_len + payload_len;
    let (ethertype, l3_len) = match (tuple.src_addr, tuple.dst_addr) {
        (IpAddr::V4(_), IpAddr::V4(_)) => (EtherType::Ipv4, 20u16),
        (IpAddr::V6(_), IpAddr::V6(_)) => (EtherType::Ipv6, 40u16),
        _ => return None,
    };
    // All headers go into the headroom at once, then are written from the
    // inside out (the TCP checksum first, over header and payload).
    let l4 = 14 + l3_len as usize;
    buf.prepend(l4 + tcp_len)?;
    let data = buf.data_mut()?;
    {
        let mut pkt = TcpPacket::new_unchecked(&mut data[l4..]);
        repr.emit_header_only(&mut pkt, tuple.src_addr, tuple.dst_addr, &iface.checksum)
            .ok()?;
    }
    match (tuple.src_addr, tuple.dst_addr) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let ip = Ipv4Repr {
                src_addr: src,
                dst_addr: dst,
                protocol: IpProtocol::Tcp,
                payload_len: seg_len,
                ttl: 64,
                dscp: 0,
                ecn: 0,
                ident: 0,
                dont_frag: true,
            };
            // The view spans the whole packet for total-length checks.
            let mut pkt = Ipv4Packet::new_unchecked(&mut data[14..]);
            ip.emit(&mut pkt, &iface.checksum).ok()?;
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let ip = Ipv6Repr {
                src_addr: src,
                dst_addr: dst,
                next_header: IpProtocol::Tcp,
                payload_len: seg_len,
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0,
            };
            let mut pkt = Ipv6Packet::new_unchecked(&mut data[14..]);
            ip.emit(&mut pkt).ok()?;
        }
        _ => return None,
    }
    {
        let eth = EthernetRepr {
            src_addr: EthernetAddress(iface.mac),
            dst_addr: EthernetAddress(dst_mac),
            ethertype,
        };
        let mut frame = EthernetFrame::new_unchecked(&mut data[..]);
        eth.emit(&mut frame).ok()?;
    }
    buf.set_tx_offload(TxOffload {
        l2_len: 14,
        l3_len,
        ipv4_checksum: ethertype == EtherType::Ipv4 && !iface.checksum.ipv4.compute_tx(),
        tcp_checksum: !iface.checksum.tcp.compute_tx(),
    });
    Some(buf)
}

impl<B: Buf> Stack<B> {
    /// Builds and queues one segment of subflow `sk`.
    pub(super) fn emit(
        &mut self,
        sk: Key,
        hdr: SegmentHeader,
        options: &OptionBlock,
        payload: Payload<'_, B>,
    ) -> Option<B> {
        let sf = self.subflows.get(sk)?;
        let iface = sf.iface;
        let tuple = sf.tuple;
        self.emit_iface = iface;
        // An unresolved next hop leaves the destination all zero;
        // `push_tx` then holds the frame until it resolves.
        let mac = self.next_hop_mac(iface, tuple.dst_addr).unwrap_or([0; 6]);
        self.emit_iface = iface;
        let frame = build_frame(
            &mut self.pool,
            &self.ifaces[iface],
            mac,
            &tuple,
            &hdr,
            options.as_slice(),
            payload,
        );
        match frame {
            Some(f) => {
                self.counters.tcp_out_segs += 1;
                Some(f)
            }
            None => {
                self.counters.mptfo_tx_no_buffer += 1;
                None
            }
        }
    }

    /// Sends a frame built by [`Stack::emit`], keeping a payload view for
    /// retransmission when asked.
    fn push_tx(&mut self, frame: B) {
        if frame.data().get(..6) == Some(&[0u8; 6][..]) {
            // No next-hop address yet: ARP / neighbour solicitation first.
            self.hold_for_resolution(frame);
            return;
        }
        self.counters.mptfo_tx_packets += 1;
        self.counters.mptfo_tx_bytes += frame.len() as u64;
        let iface = self.emit_iface;
        self.queue_tx(iface, frame);
    }

    /// The mapping of a new segment of subflow `sk` at `seq` carrying `data`
    /// (`bytes`, `len` of them): DSN, relative SSN, data-level length and,
    /// when checksums are in use, the DSS checksum (RFC 8684 §3.3.1).
    fn tx_mapping(
        &self,
        sk: Key,
        seq: SubflowSeq,
        data: TxData,
        bytes: &[u8],
    ) -> Option<DssMapping> {
        let TxData::Mapped { dsn, data_fin, .. } = data else {
            return None;
        };
        let sf = self.subflows.get(sk)?;
        let c = self.conns.get(sf.conn)?;
        let ssn = sf.tx_ssn(seq);
        let data_len = (bytes.len() + data_fin as usize) as u16;
        let checksum = c
            .checksum
            .then(|| dss_checksum(dsn.0, ssn, data_len, Sum::of(bytes)));
        Some(DssMapping {
            dsn: DssDsn::Dsn64(dsn.0),
            ssn,
            data_len,
            checksum,
        })
    }

    /// The MPTCP options of a non-SYN segment of subflow `sk` at `seq`:
    /// `data` is what its payload carries at data level with the mapping
    /// from [`Stack::tx_mapping`], `None` for a pure ACK or a FIN.
    fn mptcp_options(
        &self,
        sk: Key,
        seq: SubflowSeq,
        data: Option<(TxData, Option<DssMapping>)>,
    ) -> MptcpOptions {
        let mut out = MptcpOptions::new();
        let Some(sf) = self.subflows.get(sk) else {
            return out;
        };
        let Some(c) = self.conns.get(sf.conn) else {
            return out;
        };
        let data_ack = || {
            (c.can_data_ack() && !c.rx_plain()).then(|| {
                if sf.peer_dsn64 {
                    DssAck::Ack64(c.rcv_nxt.0)
                } else {
                    DssAck::Ack32(c.rcv_nxt.low32())
                }
            })
        };
        // RFC 8684 §3.7 (protocol.md §5.5): our direction went plain. The
        // infinite mapping (data-level length 0, checksum 0) goes on every
        // segment from the switch on until the peer acknowledges a byte past
        // it; an MP_FAIL we answer rides along.
        if let Some(fb) = c.tx_fallback {
            if seq >= fb.seq && sf.snd_una <= fb.seq {
                out.push(MptcpOption::Dss(Dss {
                    data_fin: false,
                    data_ack: data_ack(),
                    mapping: Some(DssMapping {
                        dsn: DssDsn::Dsn64(fb.dsn.0),
                        ssn: fb.ssn,
                        data_len: 0,
                        checksum: c.checksum.then_some(0),
                    }),
                    ignored_flags: 0,
                }));
                if let Some(dsn) = c.mp_fail_echo {
                    out.push(MptcpOption::MpFail { dsn });
                }
                return out;
            }
        }
        if c.mode == MptcpMode::Fallback {
            return out;
        }
        let flags = self.mpc_flags(c.checksum);
        // Client whose MP_CAPABLE third ACK is not confirmed yet: repeat it
        // (RFC 8684 §3.1), as MP_CAPABLE with data on the first data byte.
        if c.active && c.mpc_echo_pending {
            if let Some(remote) = c.remote {
                match data {
                    None => {
                        out.push(MptcpOption::MpCapable(MpCapable::ack(
                            flags,
                            c.local.key.0,
                            remote.key.0,
                        )));
                        return out;
                    }
                    Some((TxData::Mapped { mpc: true, .. }, Some(m))) => {
                        out.push(MptcpOption::MpCapable(MpCapable::data(
                            flags,
                            c.local.key.0,
                            remote.key.0,
                            m.data_len,
                            m.checksum,
                        )));
                        return out;
                    }
                    Some(_) => {}
                }
            }
        }
        let data_ack = data_ack();
        let mapping = match data {
            Some((TxData::Mapped { .. }, m)) => m,
            _ => None,
        };
        let data_fin = matches!(data, Some((TxData::Mapped { data_fin: true, .. }, Some(_))));
        if data_ack.is_some() || mapping.is_some() {
            out.push(MptcpOption::Dss(Dss {
                data_fin,
                data_ack,
                mapping,
                ignored_flags: 0,
            }));
        }
        // RFC 8684 §3.7: a checksum failed; MP_FAIL with the failed
        // mapping's DSN until the peer's infinite mapping answers it.
        if let (Some(dsn), None) = (c.mp_fail_sent, c.rx_fallback) {
            out.push(MptcpOption::MpFail { dsn: dsn.0 });
        }
        out
    }

    /// Counts the MPTCP signals of a segment about to be sent.
    fn count_mptcp_tx(&mut self, mp: &[MptcpOption], opts: &OptionBlock) {
        let dropped = opts.dropped.mptcp as usize;
        for o in &mp[..mp.len().saturating_sub(dropped)] {
            match o {
                MptcpOption::MpFail { .. } => self.counters.mptcp_mp_fail_tx += 1,
                MptcpOption::MpTcpRst { .. } => self.counters.mptcp_mp_rst_tx += 1,
                _ => {}
            }
        }
    }

    fn mpc_flags(&self, checksum: bool) -> MpcFlags {
        let mut f = MpcFlags::HMAC_SHA256;
        if checksum {
            f |= MpcFlags::CHECKSUM;
        }
        if self.cfg.mptcp.deny_join_id0 {
            f |= MpcFlags::NO_SUBFLOWS_TO_SOURCE;
        }
        MpcFlags(f)
    }

    fn ack_header(&self, sf: &Subflow<B>, seq: SubflowSeq, flags: TcpFlags) -> SegmentHeader {
        SegmentHeader {
            seq,
            ack: Some(sf.rcv_nxt),
            flags,
            window: sf.window_field(self.rcv_window_of(sf), false),
        }
    }

    /// The receive window subflow `sf` advertises: the connection-level
    /// window, shared by all subflows (RFC 8684 §3.3.4, protocol.md §5.2).
    fn rcv_window_of(&self, sf: &Subflow<B>) -> u32 {
        match self.conns.get(sf.conn) {
            Some(c) => c.rcv_window(self.cfg.recv_window),
            None => self.cfg.recv_window,
        }
    }

    /// Sends a pure ACK on subflow `sk` (with DSS DATA_ACK or MP_CAPABLE as
    /// the connection state asks).
    pub(super) fn send_ack(&mut self, sk: Key) {
        self.send_ack_with(sk, None);
    }

    /// A pure ACK, with a signalling option (ADD_ADDR, REMOVE_ADDR, MP_PRIO)
    /// after the usual ones when given.
    pub(super) fn send_ack_with(&mut self, sk: Key, extra: Option<MptcpOption>) {
        let now = self.now;
        let Some(sf) = self.subflows.get_mut(sk) else {
            return;
        };
        sf.ack_now = false;
        sf.delack_at = None;
        sf.unacked_segments = 0;
        if !sf.state.is_synchronized() && sf.state != TcpState::SynReceived {
            return;
        }
        let seq = sf.snd_nxt;
        let mp_list = match sf.join_ack {
            // RFC 8684 §3.2: the third ACK of a join carries the HMAC, and
            // only that, until the peer acknowledges it.
            Some(j) => {
                let mut v = MptcpOptions::new();
                v.push(MptcpOption::MpJoin(j));
                v
            }
            None => {
                let mut v = self.mptcp_options(sk, seq, None);
                if let Some(x) = extra {
                    v.push(x);
                }
                v
            }
        };
        if let Some(c) = self.subflows.get(sk).and_then(|s| self.conns.get(s.conn)) {
            if c.can_data_ack() {
                let ck = c.key;
                if let Some(c) = self.conns.get_mut(ck) {
                    c.data_ack_pending = false;
                }
            }
        }
        let sf = &self.subflows[sk];
        let ts = timestamps(sf, now);
        let hdr = self.ack_header(sf, seq, TcpFlags::ACK);
        let opts = segment_options(&SegmentParams {
            timestamps: ts,
            sack: SackBlocks::default(),
            mptcp: &mp_list,
        });
        if let Some(f) = self.emit(sk, hdr, &opts, Payload::None) {
            self.count_mptcp_tx(&mp_list, &opts);
            self.push_tx(f);
        }
    }

    /// Sends (or resends) the SYN of subflow `sk`: MP_CAPABLE, TFO cookie or
    /// cookie request, and the first write when a cookie is cached
    /// (RFC 7413 §4.1.2, protocol.md §7.1).
    pub(super) fn send_syn(&mut self, sk: Key) {
        let now = self.now;
        let Some(sf) = self.subflows.get(sk) else {
            return;
        };
        let ck = sf.conn;
        let (local, remote) = (sf.tuple.src_addr, sf.tuple.dst_addr);
        let iss = sf.iss;
        let retransmit = !sf.rtx.is_empty();
        if let Some(JoinLeg::Initiator(init)) = sf.join {
            self.send_join_syn(sk, init.syn_option(), retransmit);
            return;
        }
        let Some(c) = self.conns.get_mut(ck) else {
            return;
        };
        let mptcp = c.mode != MptcpMode::Fallback;
        let checksum = c.checksum;
        // RFC 7413 §4.1.3.2: a retransmitted SYN carries no data and no
        // TFO option.
        let mut fast_open: Option<FastOpenOption> = None;
        let mut syn_payload: Option<B> = None;
        if c.tfo_client && !retransmit {
            let with_data = if c.tfo_no_cookie {
                // protocol.md §6.4 (Linux TFO_CLIENT_NO_COOKIE): data, no
                // option; the negative cache still applies.
                !self.cookie_cache.is_negative(local, remote, now)
            } else {
                let (opt, with_data) = self.cookie_cache.syn_option(local, remote, now);
                fast_open = Some(opt);
                with_data
            };
            if with_data {
                let mss = self
                    .cookie_cache
                    .syn_data_limit(local, remote)
                    .min(self.cfg.mss as usize);
                let limit = super::max_payload(mss as u16);
                if let Some(front) = c.unsent.front() {
                    if front.len() <= limit {
                        syn_payload = c.unsent.pop_front();
                    }
                }
            }
        }
        let mptcp_opt =
            mptcp.then(|| MptcpOption::MpCapable(MpCapable::syn(self.mpc_flags(checksum))));
        let ts = self.cfg.timestamps.then(|| Timestamps {
            tsval: ts_clock(now),
            tsecr: 0,
        });
        let opts = syn_options(&SynParams {
            mss: self.cfg.mss,
            timestamps: ts,
            wscale: Some(self.cfg.window_shift),
            sack_permitted: self.cfg.sack,
            fast_open,
            mptcp: mptcp_opt,
        });
        if mptcp && opts.dropped.mptcp > 0 {
            // A cookie too long for MP_CAPABLE: plain TCP (protocol.md §1.1).
            if let Some(c) = self.conns.get_mut(ck) {
                c.mode = MptcpMode::Fallback;
            }
        }
        let data_len = syn_payload.as_ref().map_or(0, |b| b.len()) as u32;
        let hdr = SegmentHeader {
            seq: iss,
            ack: None,
            flags: TcpFlags::SYN,
            window: self.cfg.recv_window.min(u16::MAX as u32) as u16,
        };
        let (frame, keep) = match syn_payload {
            Some(b) => {
                let keep = b.share();
                (self.emit_owned(sk, hdr, &opts, b), Some(keep))
            }
            None => (self.emit(sk, hdr, &opts, Payload::None), None),
        };
        if let Some(f) = frame {
            self.push_tx(f);
        }
        if mptcp {
            self.counters.mptcp_mp_capable_syn_tx += 1;
        }
        if retransmit {
            // (TcpRetransSegs is counted by `retransmit_front`.)
            self.counters.tcp_ext_tcp_syn_retrans += 1;
        }
        let sf = &mut self.subflows[sk];
        if !retransmit {
            sf.syn_data_len = data_len;
            sf.syn_had_tfo = fast_open.is_some();
            sf.queue_syn(keep, now);
        }
        sf.arm_rto(now);
        // The wheel needs an entry for the SYN's RTO whoever called.
        self.arm_subflow_timer(sk);
    }

    /// The SYN of a join subflow: MP_JOIN, never TFO options or data.
    fn send_join_syn(&mut self, sk: Key, join: MpJoin, retransmit: bool) {
        let now = self.now;
        let ts = self.cfg.timestamps.then(|| Timestamps {
            tsval: ts_clock(now),
            tsecr: 0,
        });
        let opts = syn_options(&SynParams {
            mss: self.cfg.mss,
            timestamps: ts,
            wscale: Some(self.cfg.window_shift),
            sack_permitted: self.cfg.sack,
            fast_open: None,
            mptcp: Some(MptcpOption::MpJoin(join)),
        });
        let iss = self.subflows[sk].iss;
        let hdr = SegmentHeader {
            seq: iss,
            ack: None,
            flags: TcpFlags::SYN,
            window: self.cfg.recv_window.min(u16::MAX as u32) as u16,
        };
        if let Some(f) = self.emit(sk, hdr, &opts, Payload::None) {
            self.push_tx(f);
        }
        self.counters.mptcp_mp_join_syn_tx += 1;
        if retransmit {
            self.counters.tcp_ext_tcp_syn_retrans += 1;
        }
        let sf = &mut self.subflows[sk];
        if !retransmit {
            sf.queue_syn(None, now);
        }
        sf.arm_rto(now);
        self.arm_subflow_timer(sk);
    }

    /// Builds a frame whose payload is `b` itself (zero copy); `b` must be
    /// the only handle to its storage, else the bytes are copied.
    fn emit_owned(
        &mut self,
        sk: Key,
        hdr: SegmentHeader,
        opts: &OptionBlock,
        mut b: B,
    ) -> Option<B> {
        if b.data_mut().is_some() {
            self.emit(sk, hdr, opts, Payload::Own(b))
        } else {
            let bytes: Vec<u8> = b.data().to_vec();
            self.emit(sk, hdr, opts, Payload::Copy(&bytes))
        }
    }

    /// Sends the SYN/ACK of passive subflow `sk` (and queues it for
    /// retransmission on first send).
    pub(super) fn send_synack(&mut self, sk: Key, cookie: Option<FastOpenOption>, peer: SynInfo) {
        let now = self.now;
        let Some(sf) = self.subflows.get(sk) else {
            return;
        };
        let first = sf.rtx.is_empty();
        let iss = sf.iss;
        let ck = sf.conn;
        let Some(c) = self.conns.get(ck) else {
            return;
        };
        let mptcp_opt = match sf.join {
            Some(JoinLeg::Responder(r)) => Some(MptcpOption::MpJoin(r.synack_option())),
            _ => (c.mode != MptcpMode::Fallback).then(|| {
                MptcpOption::MpCapable(MpCapable::synack(self.mpc_flags(c.checksum), c.local.key.0))
            }),
        };
        let ts = peer
            .tsval
            .filter(|_| self.cfg.timestamps)
            .map(|tsval| Timestamps {
                tsval: ts_clock(now),
                tsecr: tsval,
            });
        let opts = synack_options(&SynAckParams {
            mss: self.cfg.mss,
            timestamps: ts,
            wscale: peer.wscale.map(|_| self.cfg.window_shift),
            sack_permitted: peer.sack && self.cfg.sack,
            fast_open: cookie,
            mptcp: mptcp_opt,
        });
        let sf = &mut self.subflows[sk];
        if first {
            sf.ts_ok = ts.is_some() && !opts.dropped.timestamps;
            sf.queue_syn(None, now);
        }
        sf.arm_rto(now);
        let hdr = SegmentHeader {
            seq: iss,
            ack: Some(sf.rcv_nxt),
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window: sf.window_field(self.cfg.recv_window, true),
        };
        if let Some(f) = self.emit(sk, hdr, &opts, Payload::None) {
            self.push_tx(f);
        }
    }

    /// Sends new data of connection `ck`, then its DATA_FIN and subflow
    /// FINs when due.
    pub(super) fn output_conn(&mut self, ck: Key) {
        let now = self.now;
        self.output_join_syns(ck);
        self.output_reinjections(ck);
        loop {
            let Some(c) = self.conns.get(ck) else {
                return;
            };
            if c.unsent.is_empty() {
                break;
            }
            // RFC 8684 Appendix B with erratum 6609 / protocol.md §7.3: a
            // `hold` listener waits for the client's key.
            if c.mode == MptcpMode::Pending && c.hold_until_key {
                break;
            }
            let mut want = c.unsent.front().map_or(0, |b| b.len());
            // RFC 8684 §3.3.4: new data must end within the peer's
            // connection-level window (before the first DATA_ACK, and under
            // plain TCP, the subflow windows alone apply).
            if let Some(room) = c.data_send_room() {
                if room < want.min(super::max_payload(self.cfg.mss)) {
                    // The shared window, not the subflows, limits sending.
                    // Linux (mptcp_check_allowed_size) bumps SndWndShared
                    // when it raises a subflow's smaller snd_wnd to the
                    // connection's; we keep each subflow's own window as a
                    // limit too (never raise it), so the counter means here:
                    // an output pass the connection-level window cut short.
                    self.counters.mptcp_snd_wnd_shared += 1;
                }
                if room == 0 {
                    // Closed with nothing in flight: only a window update
                    // can open it, so probe for one if it gets lost.
                    let idle = c.snd_una == c.snd_nxt && c.reinject.is_empty();
                    if idle && c.persist_at.is_none() {
                        let backoff = PERSIST_MIN * (1u32 << c.persist_probes.min(6));
                        let c = self.conns.get_mut(ck).expect("checked above");
                        c.persist_at = Some(now + backoff.min(PERSIST_MAX));
                    }
                    break;
                }
                want = want.min(room);
            }
            let Some(sk) = self.pick_subflow(ck, want.min(super::max_payload(self.cfg.mss))) else {
                break;
            };
            // A chunk larger than this subflow's segments (a peer MSS below
            // ours) or than the shared window is split; both parts then
            // share the buffer.
            let max = super::max_payload(self.subflows[sk].mss).min(want);
            let len = want.min(max) as u32;
            if self.subflows[sk].send_room() < len {
                break;
            }
            let c = self.conns.get_mut(ck).expect("checked above");
            let mut buf = c.unsent.pop_front().expect("checked above");
            if buf.len() > max {
                let mut rest = buf.share();
                rest.trim_front(max);
                buf.trim_back(buf.len() - max);
                c.unsent.push_front(rest);
            }
            let mapped = !c.tx_plain();
            let dsn = c.snd_nxt;
            let first_mpc = mapped && c.active && c.mpc_data_pending;
            c.mpc_data_pending = false;
            c.snd_nxt = dsn + len as usize;
            let data = if mapped {
                TxData::Mapped {
                    dsn,
                    data_fin: false,
                    mpc: first_mpc,
                }
            } else {
                TxData::Plain
            };
            let view = self.send_new_segment(sk, data, buf, now);
            if let Some(c) = self.conns.get_mut(ck) {
                c.inflight.push_back(DataChunk { dsn, buf: view });
            }
        }
        self.output_fins(ck);
    }

    /// Persist timer fired: the peer's connection-level window is still
    /// closed with nothing in flight. A zero-window probe goes on the first
    /// usable subflow: a segment with no data one below the subflow's
    /// `snd_una` (already acknowledged, as Linux's `tcp_write_wakeup`),
    /// which the peer answers with an ACK carrying its DATA_ACK and window.
    /// The next closed-window check in `output_conn` re-arms the timer,
    /// backed off.
    pub(super) fn send_window_probe(&mut self, ck: Key) {
        let Some(c) = self.conns.get_mut(ck) else {
            return;
        };
        if c.data_send_room() != Some(0) || c.unsent.is_empty() {
            return;
        }
        c.persist_probes = c.persist_probes.saturating_add(1);
        let subs = c.subflows.clone();
        self.mark_dirty(ck);
        let Some(sk) = subs.into_iter().find(|&k| {
            self.subflows
                .get(k)
                .is_some_and(|s| Self::usable(s) && !s.stale)
        }) else {
            return;
        };
        let sf = &self.subflows[sk];
        let seq = sf.snd_una - 1;
        let mp_list = self.mptcp_options(sk, seq, None);
        let sf = &self.subflows[sk];
        let ts = timestamps(sf, self.now);
        let hdr = self.ack_header(sf, seq, TcpFlags::ACK);
        let opts = segment_options(&SegmentParams {
            timestamps: ts,
            sack: SackBlocks::default(),
            mptcp: &mp_list,
        });
        if let Some(f) = self.emit(sk, hdr, &opts, Payload::None) {
            self.count_mptcp_tx(&mp_list, &opts);
            self.counters.tcp_ext_tcp_win_probe += 1;
            self.push_tx(f);
        }
    }

    /// Join subflows waiting for their first SYN go once the connection is
    /// fully established (our key confirmed by a DATA_ACK; Linux opens
    /// joins then too).
    fn output_join_syns(&mut self, ck: Key) {
        let Some(c) = self.conns.get(ck) else {
            return;
        };
        if c.mode != MptcpMode::Established || (c.active && c.mpc_echo_pending) {
            return;
        }
        let (remote, local) = (c.remote, c.local);
        let waiting: Vec<Key> = c
            .subflows
            .iter()
            .copied()
            .filter(|&sk| {
                self.subflows.get(sk).is_some_and(|s| {
                    s.join.is_some() && s.state == TcpState::SynSent && s.rtx.is_empty()
                })
            })
            .collect();
        for sk in waiting {
            let Some(remote) = remote else {
                return;
            };
            // The peer's C flag: no more subflows to its initial address.
            let c = &self.conns[ck];
            let initial = c.subflows.first().and_then(|&k| self.subflows.get(k));
            let to_initial =
                initial.is_some_and(|i| i.tuple.dst_addr == self.subflows[sk].tuple.dst_addr);
            if c.peer_deny_join_id0 && to_initial && c.subflows[0] != sk {
                self.counters.mptfo_join_denied_id0 += 1;
                self.remove_subflow(sk);
                continue;
            }
            let nonce = self.rand() as u32;
            let sf = &self.subflows[sk];
            let (addr, backup) = (sf.tuple.src_addr, sf.backup);
            let pm_cfg = &self.pm_cfg;
            let c = self.conns.get_mut(ck).expect("checked above");
            let addr_id = c.pm.as_mut().map_or(0, |pm| pm.local_id(pm_cfg, addr));
            let init = JoinInitiator::new(local.key, remote.key, nonce, addr_id, backup);
            self.subflows[sk].join = Some(JoinLeg::Initiator(init));
            self.send_syn(sk);
        }
    }

    /// May subflow `s` carry data now (handshake done, third ACK of a join
    /// acknowledged, not written off)?
    fn usable(s: &Subflow<B>) -> bool {
        s.state.can_send()
            && (s.state != TcpState::SynReceived || s.syn_data_len > 0)
            && s.join_ack.is_none()
            && !(s.join.is_some() && s.state == TcpState::SynReceived)
    }

    /// The subflow the next `len` bytes go on: the connection's scheduler
    /// (lowest RTT by default) over the usable subflows; backups only when
    /// no other is usable. With one subflow, that one.
    fn pick_subflow(&mut self, ck: Key, len: usize) -> Option<Key> {
        let c = self.conns.get(ck)?;
        if c.subflows.len() == 1 {
            let sk = c.subflows[0];
            return self
                .subflows
                .get(sk)
                .is_some_and(|s| Self::usable(s) && s.send_room() as usize >= len)
                .then_some(sk);
        }
        let mut keys = Vec::with_capacity(c.subflows.len());
        let mut views = Vec::with_capacity(c.subflows.len());
        for &sk in &c.subflows {
            let Some(s) = self.subflows.get(sk) else {
                continue;
            };
            let room = s.send_room();
            views.push(SubflowView {
                id: keys.len() as u32,
                srtt: s.rtt.srtt(),
                cwnd_room: if room as usize >= len { room } else { 0 },
                backup: s.backup || s.peer_backup,
                usable: Self::usable(s) && !s.stale,
            });
            keys.push(sk);
        }
        let c = self.conns.get_mut(ck)?;
        c.scheduler.select(&views).map(|i| keys[i])
    }

    /// Data whose subflow died or stalls goes again on another subflow, at
    /// its DSNs (RFC 8684 §3.3.6); what was DATA_ACKed meanwhile is
    /// skipped.
    fn output_reinjections(&mut self, ck: Key) {
        let now = self.now;
        loop {
            let Some(c) = self.conns.get_mut(ck) else {
                return;
            };
            let una = c.snd_una;
            while c
                .reinject
                .front()
                .is_some_and(|r| r.dsn + r.buf.len() <= una)
            {
                c.reinject.pop_front();
            }
            let Some(front) = c.reinject.front() else {
                return;
            };
            let len = front.buf.len();
            let Some(sk) = self.pick_subflow(ck, len.min(super::max_payload(self.cfg.mss))) else {
                return;
            };
            let max = super::max_payload(self.subflows[sk].mss);
            let c = self.conns.get_mut(ck).expect("checked above");
            let mut chunk = c.reinject.pop_front().expect("checked above");
            if chunk.buf.len() > max {
                let mut rest = chunk.buf.share();
                rest.trim_front(max);
                chunk.buf.trim_back(chunk.buf.len() - max);
                c.reinject.push_front(DataChunk {
                    dsn: chunk.dsn + max,
                    buf: rest,
                });
            }
            let data = TxData::Mapped {
                dsn: chunk.dsn,
                data_fin: false,
                mpc: false,
            };
            self.counters.mptcp_mptcp_retrans += 1;
            self.counters.mptfo_reinjected += 1;
            // A shared view: the frame is built from a copy.
            let _ = self.send_new_segment(sk, data, chunk.buf, now);
        }
    }

    /// Sends a new data segment on `sk` from the buffer `buf` and returns a
    /// view of its payload for the connection's reinjection queue. When
    /// `buf` is the only handle to its storage, the headers go into its
    /// headroom and the frame leaves without a copy; the retransmission
    /// queue keeps a shared view of the payload.
    fn send_new_segment(&mut self, sk: Key, data: TxData, mut buf: B, now: Instant) -> B {
        let sf = &self.subflows[sk];
        let seq = sf.snd_nxt;
        let len = buf.len() as u32;
        let sent_map = self.tx_mapping(sk, seq, data, buf.data());
        let mp_list = self.mptcp_options(sk, seq, Some((data, sent_map)));
        let sf = &self.subflows[sk];
        let ts = timestamps(sf, now);
        let hdr = self.ack_header(sf, seq, TcpFlags::ACK | TcpFlags::PSH);
        let opts = segment_options(&SegmentParams {
            timestamps: ts,
            sack: SackBlocks::default(),
            mptcp: &mp_list,
        });
        self.count_mptcp_tx(&mp_list, &opts);
        let zero_copy = buf.headroom() >= MAX_HEADERS && buf.data_mut().is_some();
        let view = if zero_copy {
            match self.emit(sk, hdr, &opts, Payload::Own(buf)) {
                Some(frame) => {
                    let mut view = frame.share();
                    view.trim_front(frame.len() - len as usize);
                    self.push_tx(frame);
                    view
                }
                None => unreachable!("headroom and uniqueness were checked"),
            }
        } else {
            if let Some(f) = self.emit(sk, hdr, &opts, Payload::Copy(buf.data())) {
                self.push_tx(f);
            }
            buf
        };
        self.counters.tcp_ext_tcp_orig_data_sent += 1;
        let sf = &mut self.subflows[sk];
        sf.data_bytes_sent += len as u64;
        sf.rtx.push_back(TxSegment {
            seq,
            len,
            syn: false,
            fin: false,
            payload: Some(view.share()),
            data,
            sent_map,
            sent_at: now,
            retransmits: 0,
        });
        sf.snd_nxt = seq + len as usize;
        sf.ack_now = false;
        sf.delack_at = None;
        sf.unacked_segments = 0;
        sf.arm_rto(now);
        view
    }

    /// DATA_FIN once all data is sent (RFC 8684 §3.3.3), and subflow FINs
    /// once the data level is closed both ways (or, under plain TCP, once
    /// the application closed).
    fn output_fins(&mut self, ck: Key) {
        let now = self.now;
        let Some(c) = self.conns.get_mut(ck) else {
            return;
        };
        if !c.fin_queued || !c.unsent.is_empty() {
            return;
        }
        match c.mode {
            // Plain TCP (or our direction went plain after an infinite
            // mapping): the FIN is the end of the stream.
            _ if c.tx_plain() => {
                let sfs = self.subflow_list(ck);
                for &sk in &sfs {
                    self.send_fin(sk);
                }
                self.give_back_list(sfs);
            }
            MptcpMode::Pending if c.hold_until_key => {}
            _ => {
                if c.fin_dsn.is_none() {
                    c.fin_dsn = Some(c.snd_nxt);
                    c.fin_rtx_at = Some(now + core::time::Duration::from_millis(200));
                }
                // RFC 8684 §3.1: our MP_CAPABLE third ACK must reach the
                // listener before a DSS-only segment does, or it falls back
                // (protocol.md §5.5; a reordered or lost third ACK). A
                // DATA_FIN cannot ride in MP_CAPABLE, so until a DATA_ACK
                // confirms our key it waits — for that DATA_ACK, or at most
                // for its retransmission timer.
                let unconfirmed = c.active && c.mpc_echo_pending;
                if !c.fin_sent && !unconfirmed {
                    let sfs = self.subflow_list(ck);
                    let mut sent = false;
                    for &sk in &sfs {
                        sent |= self.send_data_fin(sk);
                    }
                    self.give_back_list(sfs);
                    self.conns[ck].fin_sent = sent;
                }
                if self.conns[ck].data_level_closed() {
                    let sfs = self.subflow_list(ck);
                    for &sk in &sfs {
                        self.send_fin(sk);
                    }
                    self.give_back_list(sfs);
                }
            }
        }
    }

    /// A DATA_FIN-only DSS on a pure ACK (SSN 0, length 1, RFC 8684 §3.3.3).
    /// Returns whether it was sent.
    pub(super) fn send_data_fin(&mut self, sk: Key) -> bool {
        let now = self.now;
        let Some(sf) = self.subflows.get(sk) else {
            return false;
        };
        // Wherever data may go: synchronized, or a TFO listener's subflow
        // in SYN-RECEIVED (an `early` reply and its DATA_FIN, erratum 6609).
        let can_send = sf.state.is_synchronized()
            || (sf.state == TcpState::SynReceived && sf.syn_data_len > 0);
        if !can_send {
            return false;
        }
        let Some(c) = self.conns.get(sf.conn) else {
            return false;
        };
        if c.tx_plain() {
            return false;
        }
        let Some(fin_dsn) = c.fin_dsn else {
            return false;
        };
        let data_ack = c.can_data_ack().then(|| {
            if sf.peer_dsn64 {
                DssAck::Ack64(c.rcv_nxt.0)
            } else {
                DssAck::Ack32(c.rcv_nxt.low32())
            }
        });
        let checksum = c.checksum.then(|| dss_checksum(fin_dsn.0, 0, 1, Sum::ZERO));
        let dss = MptcpOption::Dss(Dss {
            data_fin: true,
            data_ack,
            mapping: Some(DssMapping {
                dsn: DssDsn::Dsn64(fin_dsn.0),
                ssn: 0,
                data_len: 1,
                checksum,
            }),
            ignored_flags: 0,
        });
        let ts = timestamps(sf, now);
        let hdr = self.ack_header(sf, sf.snd_nxt, TcpFlags::ACK);
        let opts = segment_options(&SegmentParams {
            timestamps: ts,
            sack: SackBlocks::default(),
            mptcp: &[dss],
        });
        if let Some(f) = self.emit(sk, hdr, &opts, Payload::None) {
            self.push_tx(f);
        }
        if let Some(sf) = self.subflows.get_mut(sk) {
            sf.ack_now = false;
            sf.delack_at = None;
        }
        true
    }

    /// Sends our FIN on subflow `sk` (RFC 9293 §3.10.4 CLOSE).
    pub(super) fn send_fin(&mut self, sk: Key) {
        let now = self.now;
        let Some(sf) = self.subflows.get_mut(sk) else {
            return;
        };
        let next = match sf.state {
            TcpState::Established => TcpState::FinWait1,
            TcpState::CloseWait => TcpState::LastAck,
            _ => return,
        };
        sf.state = next;
        let seq = sf.snd_nxt;
        sf.rtx.push_back(TxSegment {
            seq,
            len: 0,
            syn: false,
            fin: true,
            payload: None,
            data: TxData::Plain,
            sent_map: None,
            sent_at: now,
            retransmits: 0,
        });
        sf.snd_nxt = seq + 1;
        sf.arm_rto(now);
        self.emit_fin(sk, seq);
    }

    fn emit_fin(&mut self, sk: Key, seq: SubflowSeq) {
        let now = self.now;
        let mp_list = self.mptcp_options(sk, seq, None);
        let sf = &self.subflows[sk];
        let ts = timestamps(sf, now);
        let hdr = self.ack_header(sf, seq, TcpFlags::ACK | TcpFlags::FIN);
        let opts = segment_options(&SegmentParams {
            timestamps: ts,
            sack: SackBlocks::default(),
            mptcp: &mp_list,
        });
        if let Some(f) = self.emit(sk, hdr, &opts, Payload::None) {
            self.count_mptcp_tx(&mp_list, &opts);
            self.push_tx(f);
        }
        if let Some(sf) = self.subflows.get_mut(sk) {
            sf.ack_now = false;
            sf.delack_at = None;
        }
    }

    /// Sends the oldest unacknowledged segment of `sk` again.
    pub(super) fn retransmit_front(&mut self, sk: Key) {
        let now = self.now;
        let Some(sf) = self.subflows.get_mut(sk) else {
            return;
        };
        let Some(seg) = sf.rtx.front_mut() else {
            return;
        };
        seg.retransmits = seg.retransmits.saturating_add(1);
        seg.sent_at = now;
        let (seq, syn, fin, data, len) = (seg.seq, seg.syn, seg.fin, seg.data, seg.len);
        let sent_map = seg.sent_map;
        self.counters.tcp_retrans_segs += 1;
        if syn {
            if sf.active {
                self.send_syn(sk);
            } else {
                self.counters.tcp_ext_tcp_syn_retrans += 1;
                let peer = sf.syn_info;
                let cookie = sf.synack_cookie;
                self.send_synack(sk, cookie, peer);
            }
            return;
        }
        if fin && len == 0 {
            self.emit_fin(sk, seq);
            return;
        }
        let bytes: Vec<u8> = sf
            .rtx
            .front()
            .and_then(|s| s.payload.as_ref())
            .map_or(Vec::new(), |p| p.data().to_vec());
        if matches!(data, TxData::Mapped { .. }) {
            self.counters.mptcp_mptcp_retrans += 1;
        }
        let sent_map = sent_map.or_else(|| self.tx_mapping(sk, seq, data, &bytes));
        let mp_list = self.mptcp_options(sk, seq, Some((data, sent_map)));
        let sf = &self.subflows[sk];
        let ts = timestamps(sf, now);
        let mut flags = TcpFlags::ACK | TcpFlags::PSH;
        if fin {
            flags |= TcpFlags::FIN;
        }
        let hdr = self.ack_header(sf, seq, flags);
        let opts = segment_options(&SegmentParams {
            timestamps: ts,
            sack: SackBlocks::default(),
            mptcp: &mp_list,
        });
        if let Some(f) = self.emit(sk, hdr, &opts, Payload::Copy(&bytes)) {
            self.count_mptcp_tx(&mp_list, &opts);
            self.push_tx(f);
        }
    }

    /// Answers a segment that belongs to no connection with a RST (RFC 9293
    /// §3.10.7.1), built without a subflow.
    pub(super) fn send_reset_for(
        &mut self,
        iface: usize,
        tuple: FourTuple,
        seq: SubflowSeq,
        ack: Option<SubflowSeq>,
        reason: Option<MpTcpRstReason>,
    ) {
        let hdr = SegmentHeader {
            seq,
            ack,
            flags: TcpFlags::RST,
            window: 0,
        };
        let mp: Vec<MptcpOption> = reason
            .map(|r| MptcpOption::MpTcpRst {
                flags: 0,
                reason: r,
            })
            .into_iter()
            .collect();
        let opts = segment_options(&SegmentParams {
            timestamps: None,
            sack: SackBlocks::default(),
            mptcp: &mp,
        });
        let mac = self.next_hop_mac(iface, tuple.dst_addr).unwrap_or([0; 6]);
        self.emit_iface = iface;
        let frame = build_frame(
            &mut self.pool,
            &self.ifaces[iface],
            mac,
            &tuple,
            &hdr,
            opts.as_slice(),
            Payload::<B>::None,
        );
        match frame {
            Some(f) => {
                self.counters.tcp_out_rsts += 1;
                self.counters.tcp_out_segs += 1;
                self.push_tx(f);
            }
            None => self.counters.mptfo_tx_no_buffer += 1,
        }
    }

    /// Resets subflow `sk` with MP_TCPRST (RFC 8684 §3.6) and, after a
    /// checksum failure, MP_FAIL with the failed mapping's DSN (§3.7), and
    /// drops it; the connection goes with its last subflow.
    pub(super) fn reset_subflow(&mut self, sk: Key, reset: PendingReset) {
        let Some(sf) = self.subflows.get(sk) else {
            return;
        };
        let ck = sf.conn;
        let synchronized = sf.state.is_synchronized();
        let mut mp = Vec::with_capacity(2);
        if let Some(dsn) = reset.mp_fail {
            mp.push(MptcpOption::MpFail { dsn: dsn.0 });
        }
        mp.push(MptcpOption::MpTcpRst {
            flags: 0,
            reason: reset.reason,
        });
        let hdr = SegmentHeader {
            seq: sf.snd_nxt,
            ack: Some(sf.rcv_nxt),
            flags: TcpFlags::RST,
            window: 0,
        };
        let opts = segment_options(&SegmentParams {
            timestamps: None,
            sack: SackBlocks::default(),
            mptcp: &mp,
        });
        if let Some(f) = self.emit(sk, hdr, &opts, Payload::None) {
            self.counters.tcp_out_rsts += 1;
            self.count_mptcp_tx(&mp, &opts);
            self.push_tx(f);
        }
        if synchronized {
            self.counters.tcp_estab_resets += 1;
        }
        self.remove_subflow(sk);
        self.after_subflow_loss(ck, CloseReason::Reset);
    }

    /// RST + MP_FASTCLOSE on every subflow (RFC 8684 §3.5, option R).
    pub(super) fn fastclose(&mut self, ck: Key) {
        let Some(c) = self.conns.get(ck) else {
            return;
        };
        let remote_key = c.remote.map(|r| r.key.0);
        let mptcp = c.mode != MptcpMode::Fallback;
        let sfs = c.subflows.clone();
        for sk in sfs {
            let Some(sf) = self.subflows.get(sk) else {
                continue;
            };
            if matches!(sf.state, TcpState::TimeWait | TcpState::Closed) {
                continue;
            }
            let mut mp = Vec::new();
            if let (true, Some(k)) = (mptcp, remote_key) {
                mp.push(MptcpOption::MpFastclose { receiver_key: k });
                self.counters.mptcp_mp_fastclose_tx += 1;
            }
            let hdr = SegmentHeader {
                seq: sf.snd_nxt,
                ack: Some(sf.rcv_nxt),
                flags: TcpFlags::RST,
                window: 0,
            };
            let opts = segment_options(&SegmentParams {
                timestamps: None,
                sack: SackBlocks::default(),
                mptcp: &mp,
            });
            if let Some(f) = self.emit(sk, hdr, &opts, Payload::None) {
                self.counters.tcp_out_rsts += 1;
                self.push_tx(f);
            }
            if let Some(sf) = self.subflows.get_mut(sk) {
                sf.state = TcpState::Closed;
            }
        }
    }
}

/// What a listener remembers of the SYN to answer it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SynInfo {
    /// The SYN's TSval, when it offered timestamps.
    pub tsval: Option<u32>,
    /// The SYN's window scale, when offered.
    pub wscale: Option<u8>,
    /// The SYN offered SACK.
    pub sack: bool,
}
