//! Retransmission timeout estimation (RFC 6298).
//!
//! Owns SRTT, RTTVAR and the RTO of one subflow, plus its exponential
//! backoff. The first sample R sets `SRTT = R`, `RTTVAR = R/2`; later samples
//! R' update `RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|` (with the old SRTT) and
//! then `SRTT = 7/8 SRTT + 1/8 R'`. The base RTO is
//! `SRTT + max(G, 4 RTTVAR)`, clamped to `[min_rto, max_rto]`; before any
//! sample it is `initial_rto` (1 s). Arithmetic is in integer nanoseconds.
//!
//! # Karn's rule is the caller's
//!
//! The estimator accepts whatever sample it is given. The caller must not
//! feed a sample timed from a segment that was retransmitted (the ACK is
//! ambiguous), unless the sample comes from a TCP timestamp echo of the
//! transmission being acknowledged (RFC 7323 §4), which is unambiguous.
//! While retransmissions are outstanding the caller keeps the backed-off RTO
//! ([`RttEstimator::backoff`]); a valid sample
//! ([`RttEstimator::on_sample`]) recomputes the RTO and so clears the
//! backoff, as does [`RttEstimator::reset_backoff`] (Linux clears the
//! backoff on an ACK of new data).
//!
//! Minimum RTO: RFC 6298 says 1 s; Linux uses 200 ms, and so does
//! [`RttConfig::default`]. Clock granularity `G` defaults to 1 ms, the timer
//! wheel's tick.

use crate::time::{duration_ns, Duration, Instant};

/// Parameters of an [`RttEstimator`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttConfig {
    /// Lower bound of the RTO (Linux 200 ms; RFC 6298 (2.4) 1 s).
    pub min_rto: Duration,
    /// Upper bound of the RTO, backoff included (RFC 6298 (2.5): at least 60 s).
    pub max_rto: Duration,
    /// RTO before the first sample (RFC 6298 (2.1): 1 s).
    pub initial_rto: Duration,
    /// Clock granularity G.
    pub granularity: Duration,
}

impl Default for RttConfig {
    fn default() -> Self {
        RttConfig {
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            initial_rto: Duration::from_secs(1),
            granularity: Duration::from_millis(1),
        }
    }
}

impl RttConfig {
    /// The RFC 6298 values: min RTO 1 s, max 60 s, initial 1 s, G = 1 ms.
    pub fn rfc6298() -> RttConfig {
        RttConfig {
            min_rto: Duration::from_secs(1),
            ..RttConfig::default()
        }
    }
}

/// RTO used after the SYN or SYN/ACK was retransmitted and no sample was
/// taken (RFC 6298 (5.7)).
pub const SYN_TIMEOUT_FALLBACK_RTO: Duration = Duration::from_secs(3);

/// Largest backoff shift; with any sane RTO, `max_rto` caps well before.
const MAX_BACKOFF_SHIFT: u32 = 16;

/// Upper bound on an accepted sample (longer ones are clamped): keeps the
/// integer arithmetic far from overflow.
const MAX_SAMPLE_NS: u64 = 3_600 * 1_000_000_000;

/// RFC 6298 RTT / RTO estimator for one subflow.
#[derive(Clone, Debug)]
pub struct RttEstimator {
    cfg: RttConfig,
    /// Smoothed RTT, ns; `None` until the first sample.
    srtt: Option<u64>,
    rttvar: u64,
    /// RTO before backoff, ns (clamped).
    base_rto: u64,
    backoff: u32,
    latest: Option<u64>,
    min_rtt: Option<u64>,
}

impl Default for RttEstimator {
    fn default() -> Self {
        RttEstimator::new(RttConfig::default())
    }
}

impl RttEstimator {
    /// A fresh estimator: no sample, RTO = `initial_rto`.
    pub fn new(cfg: RttConfig) -> RttEstimator {
        RttEstimator {
            cfg,
            srtt: None,
            rttvar: 0,
            base_rto: duration_ns(cfg.initial_rto),
            backoff: 0,
            latest: None,
            min_rtt: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RttConfig {
        &self.cfg
    }

    /// Feed one RTT measurement R. Recomputes the RTO and clears the
    /// backoff (a valid sample, per Karn, ends it). Karn's rule — which
    /// samples are valid — is the caller's (see the module docs).
    pub fn on_sample(&mut self, rtt: Duration) {
        let r = duration_ns(rtt).min(MAX_SAMPLE_NS);
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                self.rttvar = (3 * self.rttvar + srtt.abs_diff(r)) / 4;
                self.srtt = Some((7 * srtt + r) / 8);
            }
        }
        self.latest = Some(r);
        self.min_rtt = Some(self.min_rtt.map_or(r, |m| m.min(r)));
        let srtt = self.srtt.unwrap_or(r);
        let g = duration_ns(self.cfg.granularity);
        let rto = srtt.saturating_add(g.max(self.rttvar.saturating_mul(4)));
        self.base_rto = self.clamp(rto);
        self.backoff = 0;
    }

    /// Sample from a segment timed at `sent`, acknowledged at `now`.
    pub fn on_timed_segment(&mut self, sent: Instant, now: Instant) -> Duration {
        let rtt = now - sent;
        self.on_sample(rtt);
        rtt
    }

    /// Sample from a TCP timestamp echo (RFC 7323): `now_ts` is our
    /// current TSval clock, `tsecr` the echoed value, `unit` the TSval clock
    /// period (e.g. 1 ms). Ignores a zero or future echo (not a valid sample)
    /// and returns the sample taken, if any.
    pub fn on_timestamp_echo(
        &mut self,
        now_ts: u32,
        tsecr: u32,
        unit: Duration,
    ) -> Option<Duration> {
        if tsecr == 0 {
            return None;
        }
        let ticks = now_ts.wrapping_sub(tsecr);
        if ticks > i32::MAX as u32 {
            return None;
        }
        let rtt = unit.saturating_mul(ticks);
        self.on_sample(rtt);
        Some(rtt)
    }

    /// The timer expired: double the RTO (capped at `max_rto`).
    pub fn backoff(&mut self) {
        if self.backoff < MAX_BACKOFF_SHIFT {
            self.backoff += 1;
        }
    }

    /// Forget the backoff (new data was acknowledged).
    pub fn reset_backoff(&mut self) {
        self.backoff = 0;
    }

    /// Number of consecutive backoffs in force.
    pub fn backoff_count(&self) -> u32 {
        self.backoff
    }

    /// RFC 6298 (5.7): the SYN (or SYN/ACK) timed out and no RTT sample was
    /// taken, so when data transfer begins the RTO is at least 3 s.
    pub fn syn_timeout_fallback(&mut self) {
        if self.srtt.is_none() {
            let fallback = duration_ns(SYN_TIMEOUT_FALLBACK_RTO);
            self.base_rto = self
                .base_rto
                .max(fallback)
                .min(duration_ns(self.cfg.max_rto));
            self.backoff = 0;
        }
    }

    /// The retransmission timeout in force, backoff included.
    pub fn rto(&self) -> Duration {
        let max = duration_ns(self.cfg.max_rto);
        let rto = self
            .base_rto
            .checked_shl(self.backoff)
            .filter(|v| v >> self.backoff == self.base_rto)
            .unwrap_or(max);
        Duration::from_nanos(rto.min(max))
    }

    /// Smoothed RTT, if a sample was taken.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt.map(Duration::from_nanos)
    }

    /// RTT variation (zero before the first sample).
    pub fn rttvar(&self) -> Duration {
        Duration::from_nanos(self.rttvar)
    }

    /// The most recent sample.
    pub fn latest_rtt(&self) -> Option<Duration> {
        self.latest.map(Duration::from_nanos)
    }

    /// The smallest sample seen.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt.map(Duration::from_nanos)
    }

    fn clamp(&self, rto: u64) -> u64 {
        rto.max(duration_ns(self.cfg.min_rto))
            .min(duration_ns(self.cfg.max_rto))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn initial_rto_is_one_second() {
        let e = RttEstimator::default();
        assert_eq!(e.rto(), ms(1000));
        assert_eq!(e.srtt(), None);
        assert_eq!(e.rttvar(), Duration::ZERO);
    }

    #[test]
    fn rfc6298_first_and_second_sample() {
        // (2.2) R = 100 ms: SRTT 100, RTTVAR 50, RTO = 100 + 4*50 = 300.
        let mut e = RttEstimator::default();
        e.on_sample(ms(100));
        assert_eq!(e.srtt(), Some(ms(100)));
        assert_eq!(e.rttvar(), ms(50));
        assert_eq!(e.rto(), ms(300));
        // (2.3) R' = 200 ms: RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5,
        // SRTT = 7/8*100 + 1/8*200 = 112.5, RTO = 112.5 + 250 = 362.5.
        e.on_sample(ms(200));
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), Duration::from_micros(362_500));
        assert_eq!(e.latest_rtt(), Some(ms(200)));
        assert_eq!(e.min_rtt(), Some(ms(100)));
    }

    #[test]
    fn min_rto_linux_vs_rfc() {
        // 1 ms RTT on a LAN: SRTT + max(G, 4*RTTVAR) = 1 + 2 = 3 ms.
        let mut linux = RttEstimator::default();
        linux.on_sample(ms(1));
        assert_eq!(linux.rto(), ms(200));
        let mut rfc = RttEstimator::new(RttConfig::rfc6298());
        rfc.on_sample(ms(1));
        assert_eq!(rfc.rto(), ms(1000));
        // No floor: the granularity term shows.
        let mut raw = RttEstimator::new(RttConfig {
            min_rto: Duration::ZERO,
            ..RttConfig::default()
        });
        raw.on_sample(ms(1));
        assert_eq!(raw.rto(), ms(3));
        // Steady samples make RTTVAR decay until G dominates.
        for _ in 0..100 {
            raw.on_sample(ms(1));
        }
        assert_eq!(raw.rto(), ms(2));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let mut e = RttEstimator::default();
        let mut seen = Vec::new();
        for _ in 0..10 {
            seen.push(e.rto().as_secs());
            e.backoff();
        }
        assert_eq!(seen, vec![1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        for _ in 0..100 {
            e.backoff();
        }
        assert_eq!(e.rto(), Duration::from_secs(60));
        e.reset_backoff();
        assert_eq!(e.rto(), ms(1000));
        e.backoff();
        e.on_sample(ms(100));
        assert_eq!(e.backoff_count(), 0, "a valid sample ends the backoff");
        assert_eq!(e.rto(), ms(300));
    }

    #[test]
    fn timed_segment_and_timestamp_samples() {
        let mut e = RttEstimator::default();
        let rtt = e.on_timed_segment(Instant::from_millis(10), Instant::from_millis(50));
        assert_eq!(rtt, ms(40));
        assert_eq!(e.srtt(), Some(ms(40)));
        // TSval clock in ms, wrapping.
        let got = e.on_timestamp_echo(5, u32::MAX - 4, ms(1));
        assert_eq!(got, Some(ms(10)));
        assert_eq!(e.latest_rtt(), Some(ms(10)));
        assert_eq!(e.on_timestamp_echo(100, 0, ms(1)), None);
        assert_eq!(
            e.on_timestamp_echo(100, 101, ms(1)),
            None,
            "echo from the future"
        );
        assert_eq!(e.latest_rtt(), Some(ms(10)));
    }

    #[test]
    fn syn_timeout_fallback_only_without_sample() {
        let mut e = RttEstimator::default();
        e.backoff();
        e.syn_timeout_fallback();
        assert_eq!(e.rto(), ms(3000));
        e.on_sample(ms(100));
        e.syn_timeout_fallback();
        assert_eq!(e.rto(), ms(300));
    }

    #[test]
    fn huge_samples_do_not_overflow() {
        let mut e = RttEstimator::default();
        e.on_sample(Duration::MAX);
        e.on_sample(Duration::MAX);
        assert_eq!(e.rto(), Duration::from_secs(60));
    }
}
