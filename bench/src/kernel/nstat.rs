//! The network namespace's SNMP and extended counters, as `nstat` names
//! them (`TcpExtTCPFastOpenPassive`, `MPTcpExtMPCapableSYNRX`, ...), read
//! from `/proc/net/netstat` and `/proc/net/snmp` of the calling process's
//! namespace. A run takes a [`Snapshot`] before and after and reports the
//! [`Snapshot::delta`] of a fixed list of names ([`NAMES`]).

use std::io;

/// The counters the kernel-stack runs report, in this order: TCP, then
/// TCP Fast Open, then MPTCP. Each is `<table><field>` as `nstat` prints
/// it.
pub const NAMES: &[&str] = &[
    "TcpActiveOpens",
    "TcpPassiveOpens",
    "TcpAttemptFails",
    "TcpEstabResets",
    "TcpInSegs",
    "TcpOutSegs",
    "TcpRetransSegs",
    "TcpInErrs",
    "TcpOutRsts",
    "TcpExtListenOverflows",
    "TcpExtListenDrops",
    "TcpExtTW",
    "TcpExtTWRecycled",
    "TcpExtTCPTimeouts",
    "TcpExtTCPSynRetrans",
    "TcpExtTCPAbortOnData",
    "TcpExtTCPAbortOnClose",
    "TcpExtTCPAbortOnTimeout",
    "TcpExtTCPFromZeroWindowAdv",
    "TcpExtTCPToZeroWindowAdv",
    "TcpExtTCPFastOpenActive",
    "TcpExtTCPFastOpenActiveFail",
    "TcpExtTCPFastOpenPassive",
    "TcpExtTCPFastOpenPassiveFail",
    "TcpExtTCPFastOpenPassiveAltKey",
    "TcpExtTCPFastOpenListenOverflow",
    "TcpExtTCPFastOpenCookieReqd",
    "TcpExtTCPFastOpenBlackhole",
    "MPTcpExtMPCapableSYNRX",
    "MPTcpExtMPCapableSYNTX",
    "MPTcpExtMPCapableSYNACKRX",
    "MPTcpExtMPCapableACKRX",
    "MPTcpExtMPCapableFallbackACK",
    "MPTcpExtMPCapableFallbackSYNACK",
    "MPTcpExtMPCapableDataFallback",
    "MPTcpExtMPFallbackTokenInit",
    "MPTcpExtDssFallback",
    "MPTcpExtMPTCPRetrans",
    "MPTcpExtMPJoinSynRx",
    "MPTcpExtMPJoinSynAckRx",
    "MPTcpExtMPJoinAckRx",
    "MPTcpExtMPFastcloseTx",
    "MPTcpExtMPFastcloseRx",
    "MPTcpExtMPRstTx",
    "MPTcpExtMPRstRx",
    "MPTcpExtDSSNotMatching",
    "MPTcpExtInfiniteMapTx",
    "MPTcpExtInfiniteMapRx",
];

/// Index of `name` in [`NAMES`] (a compile-time list; a name not in it is
/// a programming error caught by the tests).
pub fn index(name: &str) -> Option<usize> {
    NAMES.iter().position(|n| *n == name)
}

/// The values of [`NAMES`] at one moment (0 for a counter this kernel
/// does not have).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot(pub Vec<u64>);

impl Snapshot {
    /// Reads the calling process's namespace.
    pub fn take() -> io::Result<Snapshot> {
        let mut v = vec![0u64; NAMES.len()];
        for path in ["/proc/net/snmp", "/proc/net/netstat"] {
            let text = std::fs::read_to_string(path)?;
            parse_into(&text, &mut v);
        }
        Ok(Snapshot(v))
    }

    /// The value of `name` (0 when not in [`NAMES`]).
    pub fn get(&self, name: &str) -> u64 {
        index(name).map_or(0, |i| self.0[i])
    }

    /// `self - before`, name by name (a counter that went backwards gives
    /// 0).
    pub fn delta(&self, before: &Snapshot) -> Snapshot {
        Snapshot(
            self.0
                .iter()
                .zip(&before.0)
                .map(|(a, b)| a.saturating_sub(*b))
                .collect(),
        )
    }

    /// The non-zero counters, in [`NAMES`] order.
    pub fn nonzero(&self) -> Vec<(&'static str, u64)> {
        NAMES
            .iter()
            .zip(&self.0)
            .filter(|(_, v)| **v != 0)
            .map(|(n, v)| (*n, *v))
            .collect()
    }
}

/// Fills `v` (aligned with [`NAMES`]) from the text of `/proc/net/snmp`
/// or `/proc/net/netstat`: pairs of lines `Table: name name ...` and
/// `Table: value value ...`. Negative values (`TcpMaxConn` -1) and lines
/// that do not pair up are skipped.
pub fn parse_into(text: &str, v: &mut [u64]) {
    let mut lines = text.lines();
    while let (Some(head), Some(vals)) = (lines.next(), lines.next()) {
        let (Some((t1, names)), Some((t2, values))) = (head.split_once(':'), vals.split_once(':'))
        else {
            continue;
        };
        if t1 != t2 {
            continue;
        }
        for (n, val) in names.split_whitespace().zip(values.split_whitespace()) {
            let Ok(val) = val.parse::<u64>() else {
                continue;
            };
            // `t1` + `n` without building a string: compare in two parts.
            if let Some(i) = NAMES.iter().position(|full| {
                full.len() == t1.len() + n.len() && full.starts_with(t1) && full.ends_with(n)
            }) {
                v[i] = val;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_tables() {
        let text = "Tcp: RtoAlgorithm MaxConn ActiveOpens RetransSegs\nTcp: 1 -1 42 7\n\
                    TcpExt: SyncookiesSent TCPFastOpenPassive\nTcpExt: 0 5\n\
                    MPTcpExt: MPCapableSYNRX MPCapableFallbackACK\nMPTcpExt: 9 1\n";
        let mut v = vec![0; NAMES.len()];
        parse_into(text, &mut v);
        let s = Snapshot(v);
        assert_eq!(s.get("TcpActiveOpens"), 42);
        assert_eq!(s.get("TcpRetransSegs"), 7);
        assert_eq!(s.get("TcpExtTCPFastOpenPassive"), 5);
        assert_eq!(s.get("MPTcpExtMPCapableSYNRX"), 9);
        assert_eq!(s.get("MPTcpExtMPCapableFallbackACK"), 1);
        let before = Snapshot(vec![1; NAMES.len()]);
        let d = s.delta(&before);
        assert_eq!(d.get("TcpActiveOpens"), 41);
        assert_eq!(d.get("TcpExtTCPFastOpenActive"), 0);
        assert_eq!(
            d.nonzero().first(),
            Some(&("TcpActiveOpens", 41)),
            "{:?}",
            d.nonzero()
        );
    }

    #[test]
    fn names_are_unique_and_known_to_this_kernel() {
        for (i, n) in NAMES.iter().enumerate() {
            assert_eq!(index(n), Some(i), "{n} twice");
        }
        // The live tables have the TCP and TFO counters (MPTcpExt only
        // where MPTCP is built).
        let text = std::fs::read_to_string("/proc/net/netstat").unwrap()
            + &std::fs::read_to_string("/proc/net/snmp").unwrap();
        for n in ["TcpRetransSegs", "TcpExtTCPFastOpenPassive"] {
            let field = n.trim_start_matches("TcpExt").trim_start_matches("Tcp");
            assert!(text.contains(field), "{n} not in /proc/net");
        }
        assert!(Snapshot::take().is_ok());
    }
}
