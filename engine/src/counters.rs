//! Per-core statistics counters with the Linux `nstat` names.
//!
//! Owns the [`Counters`] struct: one plain `u64` per event, incremented by
//! the core that saw the event (no atomics, no sharing) and summed across
//! cores when read ([`Counters::add`]). Fields are snake_case; their display
//! names are exactly what `nstat` prints for the Linux MIB of the same
//! meaning — `Tcp*` from `/proc/net/snmp` (net/ipv4/proc.c `snmp4_tcp_list`),
//! `TcpExt*` from `/proc/net/netstat` (`snmp4_net_list`), `MPTcpExt*` from
//! net/mptcp/mib.c `mptcp_snmp_list`, `Icmp6*` (neighbour discovery) from
//! `/proc/net/snmp6` — so figures compare directly with a
//! kernel peer's `nstat -az`. Counters without a Linux equivalent are
//! mptfo's own and carry the `Mptfo` prefix.
//!
//! `TcpCurrEstab` and `MPTcpExtMPCurrEstab` are gauges, as in Linux: the
//! owning core increments and decrements them, and the sum over cores is
//! the current value (arithmetic wraps, so a per-core decrement below zero
//! still sums right).

use core::fmt;

macro_rules! counters {
    ($( $(#[$doc:meta])* $field:ident => $name:literal, )*) => {
        /// Per-core event counters; see the module docs.
        #[derive(Clone, Default, PartialEq, Eq, Debug)]
        pub struct Counters {
            $( $(#[$doc])* pub $field: u64, )*
        }

        impl Counters {
            /// Display names, in [`Counters::iter`] order.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// Every counter as `(nstat name, value)`, in a stable order
            /// (TCP, TCP extended, MPTCP, ICMPv6 neighbour discovery, then
            /// mptfo's own).
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [$(($name, self.$field)),*].into_iter()
            }

            /// Add `other` into `self` (summing per-core counters).
            pub fn add(&mut self, other: &Counters) {
                $( self.$field = self.$field.wrapping_add(other.$field); )*
            }

            /// `self - earlier`, per counter (for rates between two reads).
            pub fn delta(&self, earlier: &Counters) -> Counters {
                Counters { $( $field: self.$field.wrapping_sub(earlier.$field), )* }
            }

            /// The value of the counter with display name `name`.
            pub fn get(&self, name: &str) -> Option<u64> {
                match name {
                    $( $name => Some(self.$field), )*
                    _ => None,
                }
            }
        }
    };
}

counters! {
    // ---- Tcp (/proc/net/snmp) ----
    /// Connections that went SYN-SENT from CLOSED.
    tcp_active_opens => "TcpActiveOpens",
    /// Connections that went SYN-RECEIVED from LISTEN.
    tcp_passive_opens => "TcpPassiveOpens",
    /// Connection attempts that failed (SYN-SENT/SYN-RCVD to CLOSED or LISTEN).
    tcp_attempt_fails => "TcpAttemptFails",
    /// Resets of established (or CLOSE-WAIT) connections.
    tcp_estab_resets => "TcpEstabResets",
    /// Gauge: connections in ESTABLISHED or CLOSE-WAIT.
    tcp_curr_estab => "TcpCurrEstab",
    /// Segments received, including those in error.
    tcp_in_segs => "TcpInSegs",
    /// Segments sent, excluding retransmissions.
    tcp_out_segs => "TcpOutSegs",
    /// Segments retransmitted.
    tcp_retrans_segs => "TcpRetransSegs",
    /// Segments received in error (bad checksum, bad header).
    tcp_in_errs => "TcpInErrs",
    /// Segments sent with RST.
    tcp_out_rsts => "TcpOutRsts",
    /// Segments received with a bad checksum.
    tcp_in_csum_errors => "TcpInCsumErrors",

    // ---- TcpExt (/proc/net/netstat) ----
    /// Resets sent in SYN-RECEIVED (embryonic connections).
    tcp_ext_embryonic_rsts => "TcpExtEmbryonicRsts",
    /// Connections that finished TIME-WAIT.
    tcp_ext_tw => "TcpExtTW",
    /// Segments dropped by PAWS on established connections.
    tcp_ext_paws_estab => "TcpExtPAWSEstab",
    /// Delayed ACKs sent (delayed-ACK timer fired).
    tcp_ext_delayed_acks => "TcpExtDelayedACKs",
    /// Connections dropped because the accept queue was full.
    tcp_ext_listen_overflows => "TcpExtListenOverflows",
    /// SYNs dropped at a listener, for any reason.
    tcp_ext_listen_drops => "TcpExtListenDrops",
    /// ACKs received without data.
    tcp_ext_tcp_pure_acks => "TcpExtTCPPureAcks",
    /// Fast recoveries without SACK.
    tcp_ext_tcp_reno_recovery => "TcpExtTCPRenoRecovery",
    /// Fast recoveries with SACK.
    tcp_ext_tcp_sack_recovery => "TcpExtTCPSackRecovery",
    /// Fast retransmissions.
    tcp_ext_tcp_fast_retrans => "TcpExtTCPFastRetrans",
    /// Retransmissions in slow start after an RTO.
    tcp_ext_tcp_slow_start_retrans => "TcpExtTCPSlowStartRetrans",
    /// Retransmission timer expirations (data, not SYN).
    tcp_ext_tcp_timeouts => "TcpExtTCPTimeouts",
    /// D-SACKs sent for old duplicates.
    tcp_ext_tcp_dsack_old_sent => "TcpExtTCPDSACKOldSent",
    /// D-SACKs received.
    tcp_ext_tcp_dsack_recv => "TcpExtTCPDSACKRecv",
    /// Connections reset because data arrived after the application closed.
    tcp_ext_tcp_abort_on_data => "TcpExtTCPAbortOnData",
    /// Connections reset because the application closed with unread data.
    tcp_ext_tcp_abort_on_close => "TcpExtTCPAbortOnClose",
    /// Connections aborted after too many retransmissions.
    tcp_ext_tcp_abort_on_timeout => "TcpExtTCPAbortOnTimeout",
    /// Segments queued out of order.
    tcp_ext_tcp_ofo_queue => "TcpExtTCPOFOQueue",
    /// Out-of-order segments dropped (no room, too many holes).
    tcp_ext_tcp_ofo_drop => "TcpExtTCPOFODrop",
    /// Out-of-order segments that overlapped queued data.
    tcp_ext_tcp_ofo_merge => "TcpExtTCPOFOMerge",
    /// Challenge ACKs sent (RFC 5961).
    tcp_ext_tcp_challenge_ack => "TcpExtTCPChallengeACK",
    /// Challenge ACKs sent in answer to a SYN.
    tcp_ext_tcp_syn_challenge => "TcpExtTCPSYNChallenge",
    /// Client: SYN carried data with a cookie (TFO attempted).
    tcp_ext_tcp_fast_open_active => "TcpExtTCPFastOpenActive",
    /// Client: the server did not acknowledge the SYN data.
    tcp_ext_tcp_fast_open_active_fail => "TcpExtTCPFastOpenActiveFail",
    /// Server: SYN data accepted with a valid cookie.
    tcp_ext_tcp_fast_open_passive => "TcpExtTCPFastOpenPassive",
    /// Server: SYN data refused (bad cookie, no cookie).
    tcp_ext_tcp_fast_open_passive_fail => "TcpExtTCPFastOpenPassiveFail",
    /// Server: SYN data refused because the pending-TFO queue was full.
    tcp_ext_tcp_fast_open_listen_overflow => "TcpExtTCPFastOpenListenOverflow",
    /// Server: cookie requests answered.
    tcp_ext_tcp_fast_open_cookie_reqd => "TcpExtTCPFastOpenCookieReqd",
    /// Client: TFO disabled after a suspected middlebox blackhole.
    tcp_ext_tcp_fast_open_blackhole => "TcpExtTCPFastOpenBlackhole",
    /// Server: a cookie validated with the backup (previous) key.
    tcp_ext_tcp_fast_open_passive_alt_key => "TcpExtTCPFastOpenPassiveAltKey",
    /// SYN and SYN/ACK retransmissions.
    tcp_ext_tcp_syn_retrans => "TcpExtTCPSynRetrans",
    /// Segments sent with new (not retransmitted) data.
    tcp_ext_tcp_orig_data_sent => "TcpExtTCPOrigDataSent",
    /// Zero-window probes sent.
    tcp_ext_tcp_win_probe => "TcpExtTCPWinProbe",
    /// Keepalive probes sent.
    tcp_ext_tcp_keep_alive => "TcpExtTCPKeepAlive",
    /// Segments dropped because the receive window was zero.
    tcp_ext_tcp_zero_window_drop => "TcpExtTCPZeroWindowDrop",
    /// Segments dropped because the receive queue had no room.
    tcp_ext_tcp_rcv_q_drop => "TcpExtTCPRcvQDrop",

    // ---- MPTcpExt (net/mptcp/mib.c) ----
    /// MP_CAPABLE SYNs received.
    mptcp_mp_capable_syn_rx => "MPTcpExtMPCapableSYNRX",
    /// MP_CAPABLE SYNs sent.
    mptcp_mp_capable_syn_tx => "MPTcpExtMPCapableSYNTX",
    /// MP_CAPABLE SYN/ACKs received.
    mptcp_mp_capable_synack_rx => "MPTcpExtMPCapableSYNACKRX",
    /// MP_CAPABLE third ACKs received.
    mptcp_mp_capable_ack_rx => "MPTcpExtMPCapableACKRX",
    /// Server fell back to TCP: the third ACK lacked MP_CAPABLE.
    mptcp_mp_capable_fallback_ack => "MPTcpExtMPCapableFallbackACK",
    /// Client fell back to TCP: the SYN/ACK lacked MP_CAPABLE.
    mptcp_mp_capable_fallback_synack => "MPTcpExtMPCapableFallbackSYNACK",
    /// Fell back to TCP: the first data lacked MP_CAPABLE.
    mptcp_mp_capable_data_fallback => "MPTcpExtMPCapableDataFallback",
    /// Fallback connections given a token anyway.
    mptcp_mp_fallback_token_init => "MPTcpExtMPFallbackTokenInit",
    /// Data-level retransmissions.
    mptcp_mptcp_retrans => "MPTcpExtMPTCPRetrans",
    /// MP_JOIN SYNs with an unknown token.
    mptcp_mp_join_no_token_found => "MPTcpExtMPJoinNoTokenFound",
    /// MP_JOIN SYNs received.
    mptcp_mp_join_syn_rx => "MPTcpExtMPJoinSynRx",
    /// MP_JOIN SYN/ACKs received.
    mptcp_mp_join_synack_rx => "MPTcpExtMPJoinSynAckRx",
    /// MP_JOIN SYN/ACKs with a bad HMAC.
    mptcp_mp_join_synack_hmac_failure => "MPTcpExtMPJoinSynAckHMacFailure",
    /// MP_JOIN third ACKs received.
    mptcp_mp_join_ack_rx => "MPTcpExtMPJoinAckRx",
    /// MP_JOIN third ACKs with a bad HMAC.
    mptcp_mp_join_ack_hmac_failure => "MPTcpExtMPJoinAckHMacFailure",
    /// MP_JOIN SYNs refused (subflow limit).
    mptcp_mp_join_rejected => "MPTcpExtMPJoinRejected",
    /// MP_JOIN SYNs sent.
    mptcp_mp_join_syn_tx => "MPTcpExtMPJoinSynTx",
    /// DSS mappings inconsistent with an earlier one.
    mptcp_dss_not_matching => "MPTcpExtDSSNotMatching",
    /// Fell back after a DSS corruption.
    mptcp_dss_corruption_fallback => "MPTcpExtDSSCorruptionFallback",
    /// Subflow reset after a DSS corruption.
    mptcp_dss_corruption_reset => "MPTcpExtDSSCorruptionReset",
    /// Infinite mappings sent.
    mptcp_infinite_map_tx => "MPTcpExtInfiniteMapTx",
    /// Infinite mappings received.
    mptcp_infinite_map_rx => "MPTcpExtInfiniteMapRx",
    /// DSS mappings not matching the TCP payload.
    mptcp_dss_no_match_tcp => "MPTcpExtDSSNoMatchTCP",
    /// DSS checksum failures.
    mptcp_data_csum_err => "MPTcpExtDataCsumErr",
    /// Data-level segments appended at the out-of-order queue's tail.
    mptcp_ofo_queue_tail => "MPTcpExtOFOQueueTail",
    /// Data-level segments queued out of order.
    mptcp_ofo_queue => "MPTcpExtOFOQueue",
    /// Data-level out-of-order segments merged with queued data.
    mptcp_ofo_merge => "MPTcpExtOFOMerge",
    /// Data-level segments dropped: outside the receive window.
    mptcp_no_dss_in_window => "MPTcpExtNoDSSInWindow",
    /// Data-level duplicates dropped.
    mptcp_duplicate_data => "MPTcpExtDuplicateData",
    /// ADD_ADDR received.
    mptcp_add_addr => "MPTcpExtAddAddr",
    /// ADD_ADDR sent.
    mptcp_add_addr_tx => "MPTcpExtAddAddrTx",
    /// ADD_ADDR received and ignored.
    mptcp_add_addr_drop => "MPTcpExtAddAddrDrop",
    /// ADD_ADDR echoes received.
    mptcp_echo_add => "MPTcpExtEchoAdd",
    /// ADD_ADDR echoes sent.
    mptcp_echo_add_tx => "MPTcpExtEchoAddTx",
    /// ADD_ADDR with a port received.
    mptcp_port_add => "MPTcpExtPortAdd",
    /// REMOVE_ADDR received.
    mptcp_rm_addr => "MPTcpExtRmAddr",
    /// REMOVE_ADDR sent.
    mptcp_rm_addr_tx => "MPTcpExtRmAddrTx",
    /// Subflows removed.
    mptcp_rm_subflow => "MPTcpExtRmSubflow",
    /// MP_PRIO sent.
    mptcp_mp_prio_tx => "MPTcpExtMPPrioTx",
    /// MP_PRIO received.
    mptcp_mp_prio_rx => "MPTcpExtMPPrioRx",
    /// MP_FAIL sent.
    mptcp_mp_fail_tx => "MPTcpExtMPFailTx",
    /// MP_FAIL received.
    mptcp_mp_fail_rx => "MPTcpExtMPFailRx",
    /// MP_FASTCLOSE sent.
    mptcp_mp_fastclose_tx => "MPTcpExtMPFastcloseTx",
    /// MP_FASTCLOSE received.
    mptcp_mp_fastclose_rx => "MPTcpExtMPFastcloseRx",
    /// MP_TCPRST sent.
    mptcp_mp_rst_tx => "MPTcpExtMPRstTx",
    /// MP_TCPRST received.
    mptcp_mp_rst_rx => "MPTcpExtMPRstRx",
    /// Subflows marked stale (no progress).
    mptcp_subflow_stale => "MPTcpExtSubflowStale",
    /// Stale subflows that recovered.
    mptcp_subflow_recover => "MPTcpExtSubflowRecover",
    /// Send windows shared between subflows.
    mptcp_snd_wnd_shared => "MPTcpExtSndWndShared",
    /// Receive windows shared between subflows.
    mptcp_rcv_wnd_shared => "MPTcpExtRcvWndShared",
    /// Gauge: MPTCP connections established.
    mptcp_mp_curr_estab => "MPTcpExtMPCurrEstab",
    /// MPTCP disabled towards a peer after a suspected blackhole.
    mptcp_blackhole => "MPTcpExtBlackhole",
    /// Fallbacks to TCP that could not be done.
    mptcp_fallback_failed => "MPTcpExtFallbackFailed",

    // ---- Icmp6 (/proc/net/snmp6) ----
    /// Neighbour solicitations received.
    icmp6_in_neighbor_solicits => "Icmp6InNeighborSolicits",
    /// Neighbour advertisements received.
    icmp6_in_neighbor_advertisements => "Icmp6InNeighborAdvertisements",
    /// Neighbour solicitations sent.
    icmp6_out_neighbor_solicits => "Icmp6OutNeighborSolicits",
    /// Neighbour advertisements sent.
    icmp6_out_neighbor_advertisements => "Icmp6OutNeighborAdvertisements",

    // ---- mptfo's own ----
    /// Frames received from the port.
    mptfo_rx_packets => "MptfoRxPackets",
    /// Bytes received from the port.
    mptfo_rx_bytes => "MptfoRxBytes",
    /// Frames sent to the port.
    mptfo_tx_packets => "MptfoTxPackets",
    /// Bytes sent to the port.
    mptfo_tx_bytes => "MptfoTxBytes",
    /// Frames dropped: truncated or malformed headers or options.
    mptfo_rx_malformed => "MptfoRxMalformed",
    /// Frames dropped: bad IP or TCP checksum.
    mptfo_rx_bad_checksum => "MptfoRxBadChecksum",
    /// Segments for no subflow and no listener (answered with RST).
    mptfo_rx_no_socket => "MptfoRxNoSocket",
    /// Frames not addressed to this endpoint (MAC, IP).
    mptfo_rx_not_for_us => "MptfoRxNotForUs",
    /// Frames of a protocol the stack does not handle.
    mptfo_rx_unsupported => "MptfoRxUnsupported",
    /// Segments handed to their owning core over the inter-core queue.
    mptfo_rx_handed_off => "MptfoRxHandedOff",
    /// Sends abandoned: no transmit buffer available.
    mptfo_tx_no_buffer => "MptfoTxNoBuffer",
    /// Frames the port's transmit ring did not take (dropped).
    mptfo_tx_ring_full => "MptfoTxRingFull",
    /// Out-of-order segments dropped: too many holes in the assembler.
    mptfo_ofo_too_many_holes => "MptfoOfoTooManyHoles",
    /// Timers fired.
    mptfo_timers_fired => "MptfoTimersFired",
    /// Subflows reset because a DSS checksum was present without having
    /// been negotiated, or absent although negotiated (RFC 8684 §3.3).
    mptfo_dss_csum_presence_mismatch => "MptfoDssCsumPresenceMismatch",
    /// ARP requests received (for any address).
    mptfo_arp_rx_requests => "MptfoArpRxRequests",
    /// ARP replies received.
    mptfo_arp_rx_replies => "MptfoArpRxReplies",
    /// ARP requests sent (resolving a peer).
    mptfo_arp_tx_requests => "MptfoArpTxRequests",
    /// ARP replies sent (for one of our IPv4 addresses).
    mptfo_arp_tx_replies => "MptfoArpTxReplies",
    /// Frames held while their next hop's Ethernet address was resolved.
    mptfo_neigh_queued => "MptfoNeighQueued",
    /// Held frames dropped: the resolution queue of that address was full.
    mptfo_neigh_queue_overflow => "MptfoNeighQueueOverflow",
    /// Held frames dropped: the address did not resolve after the retries.
    mptfo_neigh_unresolved => "MptfoNeighUnresolved",
    /// MP_JOIN subflows that completed their handshake (either role).
    mptfo_join_established => "MptfoJoinEstablished",
    /// Data segments sent again on another subflow (reinjection, RFC 8684
    /// §3.3.6) because theirs died or stalled.
    mptfo_reinjected => "MptfoReinjected",
    /// Joins not opened: they would go to the peer's initial address, which
    /// its C flag (deny-join-id0) rules out.
    mptfo_join_denied_id0 => "MptfoJoinDeniedId0",

}

impl Counters {
    /// All zero.
    pub fn new() -> Counters {
        Counters::default()
    }

    /// The counters that are not zero, in [`iter`](Self::iter) order.
    pub fn nonzero(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.iter().filter(|&(_, v)| v != 0)
    }

    /// The sum of several per-core sets.
    pub fn sum<'a>(parts: impl IntoIterator<Item = &'a Counters>) -> Counters {
        let mut total = Counters::default();
        for p in parts {
            total.add(p);
        }
        total
    }
}

impl fmt::Display for Counters {
    /// The non-zero counters, one `Name value` line each, aligned like
    /// `nstat`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in self.nonzero() {
            writeln!(f, "{name:<40}{value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut seen = HashSet::new();
        for n in Counters::NAMES {
            assert!(seen.insert(*n), "duplicate {n}");
            assert!(
                ["Tcp", "MPTcpExt", "Icmp6", "Mptfo"]
                    .iter()
                    .any(|p| n.starts_with(p)),
                "{n}"
            );
        }
        assert_eq!(Counters::new().iter().count(), Counters::NAMES.len());
        let order: Vec<&str> = Counters::new().iter().map(|(n, _)| n).collect();
        assert_eq!(order, Counters::NAMES);
        assert_eq!(order[0], "TcpActiveOpens");
    }

    #[test]
    fn linux_names_spot_check() {
        let c = Counters::new();
        for n in [
            "TcpInSegs",
            "TcpExtTCPFastOpenActive",
            "TcpExtTCPFastOpenListenOverflow",
            "TcpExtTCPSynRetrans",
            "MPTcpExtMPCapableSYNACKRX",
            "MPTcpExtMPJoinSynAckHMacFailure",
            "MPTcpExtDSSNoMatchTCP",
            "MPTcpExtMPFastcloseTx",
            "MPTcpExtMPCurrEstab",
            "MPTcpExtMPFallbackTokenInit",
        ] {
            assert_eq!(c.get(n), Some(0), "{n}");
        }
        assert_eq!(c.get("NoSuchCounter"), None);
    }

    #[test]
    fn add_sum_delta_nonzero() {
        let mut a = Counters::new();
        a.tcp_in_segs = 5;
        a.mptcp_mp_capable_syn_rx = 1;
        let mut b = Counters::new();
        b.tcp_in_segs = 7;
        b.mptfo_rx_malformed = 2;
        let total = Counters::sum([&a, &b]);
        assert_eq!(total.tcp_in_segs, 12);
        let nz: Vec<_> = total.nonzero().collect();
        assert_eq!(
            nz,
            vec![
                ("TcpInSegs", 12),
                ("MPTcpExtMPCapableSYNRX", 1),
                ("MptfoRxMalformed", 2)
            ]
        );
        let d = total.delta(&a);
        assert_eq!(d, b);
        let mut g = a.clone();
        g.add(&b);
        assert_eq!(g, total);
        let text = total.to_string();
        assert_eq!(text.lines().count(), 3);
        assert!(text.starts_with("TcpInSegs"));
        assert!(text.lines().next().unwrap().ends_with(" 12"));
    }

    #[test]
    fn gauges_sum_across_cores() {
        // Opened on core 0 and closed there; another core opened two.
        let mut core0 = Counters::new();
        core0.tcp_curr_estab = core0.tcp_curr_estab.wrapping_add(1);
        core0.tcp_curr_estab = core0.tcp_curr_estab.wrapping_sub(1);
        let mut core1 = Counters::new();
        core1.tcp_curr_estab = 2;
        assert_eq!(Counters::sum([&core0, &core1]).tcp_curr_estab, 2);
    }
}
