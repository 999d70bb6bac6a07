//! The packet scheduler: which subflow carries the next chunk of
//! connection-level data.
//!
//! The connection describes each subflow with a [`SubflowView`] and asks a
//! [`Scheduler`]; the answer is an index into that slice, or `None` for "do
//! not send now".
//!
//! # Backup semantics (RFC 8684 §3.3.8, Linux `mptcp_subflow_get_send`)
//!
//! A backup subflow (B flag on MP_JOIN, or MP_PRIO) carries data only when
//! no non-backup subflow is *usable* at all. "Usable" means established,
//! not closing, not failed (Linux also excludes stale subflows); it does
//! **not** mean "has congestion window room". A usable non-backup subflow
//! whose window is full makes the sender wait for it, rather than spill
//! onto a backup path — otherwise a backup link (metered, slow) would carry
//! traffic whenever the primary is merely busy.

use crate::time::Duration;

/// What the scheduler knows about one subflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubflowView {
    /// Opaque identifier chosen by the caller (slab index, path-manager id…);
    /// used by stateful schedulers to recognise a subflow across calls.
    pub id: u32,
    /// Smoothed RTT, if there is a sample yet.
    pub srtt: Option<Duration>,
    /// Bytes the subflow may send now (congestion window room, limited by
    /// the peer's window); 0 means "busy".
    pub cwnd_room: u32,
    /// Backup subflow (ours or the peer's request).
    pub backup: bool,
    /// Established, not closing, not failed or stale.
    pub usable: bool,
}

impl SubflowView {
    /// Usable and with room to send.
    pub fn can_send(&self) -> bool {
        self.usable && self.cwnd_room > 0
    }
}

/// Chooses the subflow for the next chunk of data.
pub trait Scheduler {
    /// Index in `subflows` of the subflow to send on, or `None` to wait
    /// (nothing usable, or every subflow that may be used is busy).
    fn select(&mut self, subflows: &[SubflowView]) -> Option<usize>;

    /// Name, as Linux's `net.mptcp.scheduler` spells it where one exists.
    fn name(&self) -> &'static str;
}

/// Whether data may go to backup subflows: only if no non-backup subflow is
/// usable (whatever its room).
pub fn backup_allowed(subflows: &[SubflowView]) -> bool {
    !subflows.iter().any(|s| s.usable && !s.backup)
}

/// The subflows the data may use now, by index: the usable non-backup
/// subflows, or if there is none the usable backup subflows (room not
/// considered).
pub fn eligible(subflows: &[SubflowView]) -> impl Iterator<Item = (usize, &SubflowView)> + '_ {
    let backup = backup_allowed(subflows);
    subflows
        .iter()
        .enumerate()
        .filter(move |(_, s)| s.usable && s.backup == backup)
}

/// The default: among the eligible subflows with room, the one with the
/// lowest smoothed RTT (unknown RTTs after known ones; ties to the lowest
/// index). Linux's `default` scheduler approximates the same choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LowestRtt;

impl Scheduler for LowestRtt {
    fn select(&mut self, subflows: &[SubflowView]) -> Option<usize> {
        eligible(subflows)
            .filter(|(_, s)| s.cwnd_room > 0)
            // `None` must sort after every `Some`: key (unknown, rtt).
            .min_by_key(|(i, s)| (s.srtt.is_none(), s.srtt, *i))
            .map(|(i, _)| i)
    }

    fn name(&self) -> &'static str {
        "default"
    }
}

/// Round robin over the eligible subflows with room, in `id` order (for
/// tests and experiments): each call picks the next id after the one picked
/// last, wrapping around. Backup semantics as [`LowestRtt`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoundRobin {
    last: Option<u32>,
}

impl RoundRobin {
    /// A scheduler that starts with the lowest id.
    pub fn new() -> RoundRobin {
        RoundRobin::default()
    }
}

impl Scheduler for RoundRobin {
    fn select(&mut self, subflows: &[SubflowView]) -> Option<usize> {
        let ready = || eligible(subflows).filter(|(_, s)| s.cwnd_room > 0);
        let after = |(_, s): &(usize, &SubflowView)| self.last.is_none_or(|l| s.id > l);
        let pick = ready()
            .filter(after)
            .min_by_key(|(_, s)| s.id)
            .or_else(|| ready().min_by_key(|(_, s)| s.id))
            .map(|(i, s)| (i, s.id));
        pick.map(|(i, id)| {
            self.last = Some(id);
            i
        })
    }

    fn name(&self) -> &'static str {
        "roundrobin"
    }
}

/// Any scheduler, enum-dispatched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnyScheduler {
    /// [`LowestRtt`].
    LowestRtt(LowestRtt),
    /// [`RoundRobin`].
    RoundRobin(RoundRobin),
}

impl Default for AnyScheduler {
    fn default() -> Self {
        AnyScheduler::LowestRtt(LowestRtt)
    }
}

impl Scheduler for AnyScheduler {
    fn select(&mut self, subflows: &[SubflowView]) -> Option<usize> {
        match self {
            AnyScheduler::LowestRtt(s) => s.select(subflows),
            AnyScheduler::RoundRobin(s) => s.select(subflows),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            AnyScheduler::LowestRtt(s) => s.name(),
            AnyScheduler::RoundRobin(s) => s.name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sf(id: u32, rtt_ms: Option<u64>, room: u32, backup: bool, usable: bool) -> SubflowView {
        SubflowView {
            id,
            srtt: rtt_ms.map(Duration::from_millis),
            cwnd_room: room,
            backup,
            usable,
        }
    }

    #[test]
    fn lowest_rtt_picks_fastest_with_room() {
        let mut s = LowestRtt;
        let v = [
            sf(1, Some(30), 1000, false, true),
            sf(2, Some(10), 1000, false, true),
            sf(3, Some(20), 1000, false, true),
        ];
        assert_eq!(s.select(&v), Some(1));
        // The fastest is busy: next fastest.
        let mut w = v;
        w[1].cwnd_room = 0;
        assert_eq!(s.select(&w), Some(2));
        // The fastest is unusable: same.
        let mut w = v;
        w[1].usable = false;
        assert_eq!(s.select(&w), Some(2));
        assert_eq!(s.name(), "default");
    }

    #[test]
    fn unknown_rtt_sorts_after_known() {
        let mut s = LowestRtt;
        let v = [
            sf(1, None, 1000, false, true),
            sf(2, Some(500), 1000, false, true),
        ];
        assert_eq!(s.select(&v), Some(1));
        // Only unknown RTTs: the first.
        let v = [
            sf(1, Some(5), 0, false, true),
            sf(2, None, 1000, false, true),
            sf(3, None, 1000, false, true),
        ];
        assert_eq!(s.select(&v), Some(1));
    }

    #[test]
    fn ties_go_to_lowest_index() {
        let mut s = LowestRtt;
        let v = [
            sf(9, Some(10), 1, false, true),
            sf(1, Some(10), 1, false, true),
        ];
        assert_eq!(s.select(&v), Some(0));
    }

    #[test]
    fn backup_only_when_no_regular_subflow_is_usable() {
        let mut s = LowestRtt;
        // Faster backup is ignored while a regular subflow is usable.
        let v = [
            sf(1, Some(50), 1000, false, true),
            sf(2, Some(5), 1000, true, true),
        ];
        assert_eq!(s.select(&v), Some(0));
        // Regular subflow usable but without room: wait, do not use backup.
        let mut w = v;
        w[0].cwnd_room = 0;
        assert_eq!(s.select(&w), None);
        assert!(!backup_allowed(&w));
        // Regular subflow unusable: the backup carries the data.
        let mut w = v;
        w[0].usable = false;
        assert!(backup_allowed(&w));
        assert_eq!(s.select(&w), Some(1));
        // Among backups, the lowest RTT with room.
        let v = [
            sf(1, Some(50), 1000, false, false),
            sf(2, Some(30), 1000, true, true),
            sf(3, Some(20), 0, true, true),
            sf(4, Some(40), 1000, true, true),
        ];
        assert_eq!(s.select(&v), Some(1));
        // Backups usable but all busy: wait.
        let v = [sf(1, Some(1), 0, true, true), sf(2, None, 9, false, false)];
        assert_eq!(s.select(&v), None);
        // Nothing at all.
        assert_eq!(s.select(&[]), None);
        assert_eq!(s.select(&[sf(1, Some(1), 9, false, false)]), None);
    }

    #[test]
    fn round_robin_rotates_by_id() {
        let mut s = RoundRobin::new();
        let v = [
            sf(7, Some(1), 1, false, true),
            sf(3, Some(1), 1, false, true),
            sf(5, Some(1), 1, false, true),
        ];
        let picks: Vec<u32> = (0..6).map(|_| v[s.select(&v).unwrap()].id).collect();
        assert_eq!(picks, [3, 5, 7, 3, 5, 7]);
        // Busy subflows are skipped; the rotation continues after the last id.
        let mut w = v;
        w[0].cwnd_room = 0; // id 7
        assert_eq!(w[s.select(&w).unwrap()].id, 3);
        assert_eq!(w[s.select(&w).unwrap()].id, 5);
        assert_eq!(w[s.select(&w).unwrap()].id, 3);
        // Same backup rule.
        let b = [sf(1, None, 1, true, true), sf(2, None, 0, false, true)];
        assert_eq!(s.select(&b), None);
        let b = [sf(1, None, 1, true, true), sf(2, None, 1, false, false)];
        assert_eq!(s.select(&b), Some(0));
        assert_eq!(s.name(), "roundrobin");
    }

    #[test]
    fn any_scheduler_dispatches() {
        let v = [
            sf(1, Some(9), 1, false, true),
            sf(2, Some(1), 1, false, true),
        ];
        let mut d = AnyScheduler::default();
        assert_eq!(d.select(&v), Some(1));
        assert_eq!(d.name(), "default");
        let mut r = AnyScheduler::RoundRobin(RoundRobin::new());
        assert_eq!(r.select(&v), Some(0));
        assert_eq!(r.select(&v), Some(1));
        assert!(v[0].can_send());
    }
}
