//! Linked Increases Algorithm (LIA), RFC 6356: coupled congestion control
//! for the subflows of one MPTCP connection.
//!
//! # The algorithm (RFC 6356 §3)
//!
//! Only the increase of congestion avoidance is coupled. Slow start, fast
//! retransmit, fast recovery and the multiplicative decrease are standard
//! TCP (RFC 5681; here with the RFC 6582 NewReno recovery of
//! [`NewReno`](crate::tcp::cc::NewReno), which [`Lia`] reproduces exactly
//! when uncoupled). For each ACK of `bytes_acked` new bytes on subflow `i`
//! in congestion avoidance:
//!
//! ```text
//! cwnd_i += min(alpha * bytes_acked * MSS_i / cwnd_total,
//!               bytes_acked * MSS_i / cwnd_i)
//! ```
//!
//! and on a loss `cwnd_i` is halved (`ssthresh = max(FlightSize/2, 2 MSS)`).
//! The second term caps each subflow at what a single TCP flow would do in
//! its place (goal 2, "do no harm"); `alpha` makes the connection as a whole
//! as aggressive as one TCP flow on its best path (goal 1):
//!
//! ```text
//! alpha = cwnd_total * max_i(cwnd_i / rtt_i^2) / (sum_i cwnd_i / rtt_i)^2
//! ```
//!
//! With `n` subflows of equal window `w` and equal RTT `r` this is
//! `n w (w / r^2) / (n w / r)^2 = 1/n`: each subflow then grows by
//! `MSS / n^2` per RTT and the connection by `MSS / n` per RTT.
//!
//! # Growth in whole segments
//!
//! The per-ACK increase is a fraction of an MSS. Like the byte counting of
//! NewReno, [`Lia`] accumulates acknowledged bytes and adds one MSS each
//! time they reach `max(cwnd_total / alpha, cwnd_i)` — the same rate as the
//! formula above, without floating-point accumulation (this is the form of
//! RFC 6356 §4.2 for packet-counted windows, expressed in bytes). With no
//! coupling, or `alpha = 1` and `cwnd_total = cwnd_i`, the threshold is
//! `cwnd_i` and the controller is NewReno.
//!
//! # Who computes what
//!
//! The connection computes `alpha` and `cwnd_total` ([`lia_coupling`], or
//! [`recouple`] which also hands the result to every subflow) whenever a
//! subflow's window or RTT changed, and passes them to each subflow's
//! controller through
//! [`CongestionControl::set_coupling`]. Between two such calls a [`Lia`]
//! keeps `cwnd_total` current for its own growth: it remembers the other
//! subflows' share (`cwnd_total - own window` at the time of the call).
//!
//! Implementation choices (as in the out-of-tree Linux MPTCP `lia`):
//!
//! - A subflow takes part in the sums only once it has an RTT estimate;
//!   subflows without one are given no coupling (they are in their initial
//!   slow start anyway).
//! - A subflow in fast recovery counts with `ssthresh`, not with its
//!   artificially inflated `cwnd` ([`coupled_window`]).

use crate::tcp::cc::{CongestionControl, Coupling, Window};
use crate::time::{Duration, Instant};

/// The LIA controller of one subflow. See the module docs. Slow start,
/// fast recovery and the RTO response are NewReno's (the shared
/// [`Window`]); only the congestion-avoidance increase is coupled.
#[derive(Clone, Debug)]
pub struct Lia {
    win: Window,
    /// Bytes acknowledged in congestion avoidance not yet turned into growth.
    bytes_acked: usize,
    /// `alpha` of the current coupling (`None`: uncoupled, plain NewReno).
    alpha: Option<f64>,
    /// The other subflows' part of `cwnd_total` when the coupling was set.
    others: usize,
}

impl Lia {
    /// A controller in slow start with the initial window of 10 segments,
    /// uncoupled until [`CongestionControl::set_coupling`] is called.
    pub fn new(mss: usize) -> Lia {
        Lia {
            win: Window::new(mss),
            bytes_acked: 0,
            alpha: None,
            others: 0,
        }
    }

    /// `alpha` of the current coupling, if coupled.
    pub fn alpha(&self) -> Option<f64> {
        self.alpha
    }

    /// `cwnd_total` as this subflow currently sees it: the other subflows'
    /// windows (as of the last coupling) plus its own current window.
    pub fn total_cwnd(&self) -> usize {
        self.others.saturating_add(self.win.cwnd)
    }

    /// Bytes to acknowledge in congestion avoidance per MSS of growth:
    /// `max(cwnd_total / alpha, cwnd_i)` (see the module docs).
    pub fn ca_bytes_per_mss(&self) -> usize {
        let reno = self.win.cwnd.max(1);
        match self.alpha {
            Some(alpha) => {
                let coupled = (self.total_cwnd() as f64 / alpha).ceil();
                if coupled >= usize::MAX as f64 {
                    usize::MAX
                } else {
                    (coupled as usize).max(reno)
                }
            }
            None => reno,
        }
    }
}

impl CongestionControl for Lia {
    fn on_ack(&mut self, _now: Instant, acked: usize, _rtt: Option<Duration>, in_flight: usize) {
        if self.win.recovery || !self.win.cwnd_limited(in_flight) {
            return;
        }
        let left = self.win.slow_start(acked);
        if left == 0 {
            return;
        }
        self.bytes_acked = self.bytes_acked.saturating_add(left);
        loop {
            let per_mss = self.ca_bytes_per_mss();
            if self.bytes_acked < per_mss {
                break;
            }
            self.bytes_acked -= per_mss;
            self.win.cwnd = self.win.cwnd.saturating_add(self.win.mss);
        }
    }

    fn on_loss_fast_retransmit(&mut self, _now: Instant, in_flight: usize) {
        if self.win.recovery {
            return;
        }
        self.bytes_acked = 0;
        self.win.enter_recovery(in_flight / 2);
    }

    fn on_dup_ack(&mut self) {
        self.win.dup_ack();
    }

    fn on_partial_ack(&mut self, acked: usize) {
        self.win.partial_ack(acked);
    }

    fn on_recovery_exit(&mut self, _now: Instant, in_flight: usize) {
        self.win.exit_recovery(in_flight);
    }

    fn on_rto(&mut self, _now: Instant, in_flight: usize) {
        self.bytes_acked = 0;
        self.win.rto(in_flight / 2);
    }

    fn cwnd(&self) -> usize {
        self.win.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.win.ssthresh
    }

    fn in_recovery(&self) -> bool {
        self.win.recovery
    }

    fn mss(&self) -> usize {
        self.win.mss
    }

    fn set_mss(&mut self, mss: usize) {
        self.win.set_mss(mss);
    }

    /// Takes `alpha` and `cwnd_total` from the connection. A coupling whose
    /// `alpha` is not a positive finite number is treated as none (plain
    /// NewReno increase), so a degenerate input cannot freeze the window.
    fn set_coupling(&mut self, coupling: Option<Coupling>) {
        match coupling {
            Some(c) if c.alpha.is_finite() && c.alpha > 0.0 => {
                self.alpha = Some(c.alpha);
                self.others = c.total_cwnd.saturating_sub(coupled_window(self));
            }
            _ => {
                self.alpha = None;
                self.others = 0;
            }
        }
    }

    fn name(&self) -> &'static str {
        "lia"
    }
}

/// The window a subflow contributes to `cwnd_total` and to `alpha`: `cwnd`,
/// or `ssthresh` while in fast recovery (where `cwnd` is inflated by the
/// duplicate ACKs).
pub fn coupled_window<C: CongestionControl + ?Sized>(cc: &C) -> usize {
    if cc.in_recovery() {
        cc.ssthresh().min(cc.cwnd())
    } else {
        cc.cwnd()
    }
}

/// Running sums for `alpha` (RFC 6356 §3, equation 2); windows in bytes,
/// RTTs in seconds (any consistent units give the same `alpha`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AlphaSums {
    total: f64,
    max_term: f64,
    sum_term: f64,
    count: usize,
}

impl AlphaSums {
    /// Empty sums.
    pub fn new() -> AlphaSums {
        AlphaSums::default()
    }

    /// Add one subflow with window `cwnd` bytes and smoothed RTT `rtt`
    /// (a zero RTT counts as 1 µs).
    pub fn add(&mut self, cwnd: usize, rtt: Duration) {
        let r = rtt.as_secs_f64().max(1e-6);
        let w = cwnd as f64;
        self.total += w;
        self.max_term = self.max_term.max(w / (r * r));
        self.sum_term += w / r;
        self.count += 1;
    }

    /// Number of subflows added.
    pub fn count(&self) -> usize {
        self.count
    }

    /// `cwnd_total` of the subflows added, bytes.
    pub fn total_cwnd(&self) -> usize {
        self.total as usize
    }

    /// `alpha = cwnd_total * max_i(cwnd_i/rtt_i^2) / (sum_i cwnd_i/rtt_i)^2`,
    /// or `None` without a subflow of non-zero window.
    pub fn alpha(&self) -> Option<f64> {
        if self.sum_term <= 0.0 {
            return None;
        }
        let a = self.total * self.max_term / (self.sum_term * self.sum_term);
        (a.is_finite() && a > 0.0).then_some(a)
    }

    /// The [`Coupling`] to give each subflow, if any.
    pub fn coupling(&self) -> Option<Coupling> {
        self.alpha().map(|alpha| Coupling {
            alpha,
            total_cwnd: self.total_cwnd(),
        })
    }
}

/// One subflow's input to [`lia_alpha`] / [`lia_coupling`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathSample {
    /// The subflow's window, bytes (see [`coupled_window`]).
    pub cwnd: usize,
    /// Its smoothed RTT.
    pub rtt: Duration,
}

/// `alpha` of RFC 6356 §3 over the given subflows (`None` if there is none
/// with a non-zero window).
pub fn lia_alpha(paths: &[PathSample]) -> Option<f64> {
    sums(paths).alpha()
}

/// `alpha` and `cwnd_total` over the given subflows.
pub fn lia_coupling(paths: &[PathSample]) -> Option<Coupling> {
    sums(paths).coupling()
}

fn sums(paths: &[PathSample]) -> AlphaSums {
    let mut s = AlphaSums::new();
    for p in paths {
        s.add(p.cwnd, p.rtt);
    }
    s
}

/// Recompute the coupling of one connection and hand it to its subflows.
///
/// `subflows` pairs each subflow's controller with its smoothed RTT (`None`
/// before the first sample). Subflows with an RTT enter the sums with their
/// [`coupled_window`] and get the resulting coupling; subflows without an
/// RTT get `None`. Returns the coupling given out.
///
/// Works with any controller: uncoupled ones ignore the call, so a
/// connection may call this unconditionally.
pub fn recouple<C: CongestionControl + ?Sized>(
    subflows: &mut [(&mut C, Option<Duration>)],
) -> Option<Coupling> {
    let mut s = AlphaSums::new();
    for (cc, rtt) in subflows.iter() {
        if let Some(rtt) = rtt {
            s.add(coupled_window(&**cc), *rtt);
        }
    }
    let coupling = s.coupling();
    for (cc, rtt) in subflows.iter_mut() {
        cc.set_coupling(if rtt.is_some() { coupling } else { None });
    }
    coupling
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::cc::NewReno;

    const MSS: usize = 1000;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// xorshift64*: deterministic randomness for the simulations.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// Uniform in [0, 1).
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }

        fn below(&mut self, n: usize) -> usize {
            (self.unit() * n as f64) as usize
        }
    }

    /// The whole window acknowledged, one ACK per segment (the last one
    /// partial when the window is not a whole number of segments).
    fn ack_window<C: CongestionControl + ?Sized>(cc: &mut C, now: Instant, rtt: Duration) {
        let w = cc.cwnd();
        let mut left = w;
        while left > 0 {
            let a = left.min(MSS);
            cc.on_ack(now, a, Some(rtt), w);
            left -= a;
        }
    }

    /// One loss in the window: fast retransmit, then the full ACK.
    fn lose<C: CongestionControl + ?Sized>(cc: &mut C, now: Instant) {
        let w = cc.cwnd();
        cc.on_loss_fast_retransmit(now, w);
        cc.on_recovery_exit(now, w);
    }

    /// Put a controller in congestion avoidance at `segs` segments.
    fn in_ca(segs: usize) -> Lia {
        let mut cc = Lia::new(MSS);
        cc.on_loss_fast_retransmit(Instant::ZERO, 2 * segs * MSS);
        cc.on_recovery_exit(Instant::ZERO, 2 * segs * MSS);
        assert_eq!(cc.cwnd(), segs * MSS);
        assert!(!cc.in_slow_start());
        cc
    }

    fn approx(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    /// n equal subflows: alpha = n w (w/r²) / (n w / r)² = 1/n.
    #[test]
    fn alpha_of_equal_subflows_is_one_over_n() {
        for n in 1..=8 {
            for (w, r) in [(10 * MSS, ms(10)), (64 * MSS, ms(250)), (MSS, ms(1))] {
                let paths = vec![PathSample { cwnd: w, rtt: r }; n];
                let a = lia_alpha(&paths).unwrap();
                assert!(approx(a, 1.0 / n as f64), "n={n}: alpha {a}");
                let c = lia_coupling(&paths).unwrap();
                assert_eq!(c.total_cwnd, n * w);
            }
        }
    }

    #[test]
    fn alpha_formula_values() {
        // Equal RTTs: alpha = cwnd_total * max(cwnd_i) / cwnd_total² = max/total.
        let same_rtt = [
            PathSample {
                cwnd: 30 * MSS,
                rtt: ms(20),
            },
            PathSample {
                cwnd: 10 * MSS,
                rtt: ms(20),
            },
        ];
        assert!(approx(lia_alpha(&same_rtt).unwrap(), 0.75));
        // Equal windows, RTTs 10 and 40 ms:
        // alpha = 2w (w/100) / (w/10 + w/40)² = 0.02 / 0.015625 = 1.28.
        let diff_rtt = [
            PathSample {
                cwnd: 10 * MSS,
                rtt: ms(10),
            },
            PathSample {
                cwnd: 10 * MSS,
                rtt: ms(40),
            },
        ];
        assert!(approx(lia_alpha(&diff_rtt).unwrap(), 1.28));
        // A general case against the formula written out.
        let p = [
            PathSample {
                cwnd: 12_345,
                rtt: ms(7),
            },
            PathSample {
                cwnd: 54_321,
                rtt: ms(33),
            },
            PathSample {
                cwnd: 8_000,
                rtt: ms(120),
            },
        ];
        let total: f64 = p.iter().map(|x| x.cwnd as f64).sum();
        let max = p
            .iter()
            .map(|x| x.cwnd as f64 / x.rtt.as_secs_f64().powi(2))
            .fold(0.0, f64::max);
        let sum: f64 = p.iter().map(|x| x.cwnd as f64 / x.rtt.as_secs_f64()).sum();
        assert!(approx(lia_alpha(&p).unwrap(), total * max / (sum * sum)));
        // One subflow: alpha = 1 (it is a TCP flow).
        assert!(approx(lia_alpha(&p[..1]).unwrap(), 1.0));
        // Nothing to couple.
        assert_eq!(lia_alpha(&[]), None);
        assert_eq!(
            lia_alpha(&[PathSample {
                cwnd: 0,
                rtt: ms(1)
            }]),
            None
        );
    }

    /// Uncoupled (or coupled to itself alone) LIA is NewReno, event for event.
    #[test]
    fn uncoupled_lia_is_newreno() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for coupled_alone in [false, true] {
            let mut lia = Lia::new(MSS);
            let mut reno = NewReno::new(MSS);
            let mut now = Instant::ZERO;
            for step in 0..20_000 {
                now += ms(1);
                if coupled_alone {
                    let mut one = [(&mut lia, Some(ms(10)))];
                    let c = recouple(&mut one).unwrap();
                    assert!(approx(c.alpha, 1.0));
                }
                let flight = lia.cwnd();
                match rng.below(100) {
                    0 => {
                        lia.on_loss_fast_retransmit(now, flight);
                        reno.on_loss_fast_retransmit(now, flight);
                    }
                    1..=3 => {
                        lia.on_dup_ack();
                        reno.on_dup_ack();
                    }
                    4..=5 => {
                        let a = rng.below(3 * MSS);
                        lia.on_partial_ack(a);
                        reno.on_partial_ack(a);
                    }
                    6..=8 => {
                        let f = rng.below(flight + 1);
                        lia.on_recovery_exit(now, f);
                        reno.on_recovery_exit(now, f);
                    }
                    9 if step % 7 == 0 => {
                        lia.on_rto(now, flight);
                        reno.on_rto(now, flight);
                    }
                    _ => {
                        let a = MSS * (1 + rng.below(3));
                        let f = if rng.below(10) == 0 { 0 } else { flight };
                        lia.on_ack(now, a, Some(ms(10)), f);
                        reno.on_ack(now, a, Some(ms(10)), f);
                    }
                }
                assert_eq!(lia.cwnd(), reno.cwnd(), "step {step}");
                assert_eq!(lia.ssthresh(), reno.ssthresh(), "step {step}");
                assert_eq!(lia.in_recovery(), reno.in_recovery(), "step {step}");
            }
        }
        assert_eq!(Lia::new(MSS).name(), "lia");
    }

    /// alpha = 0.5 with cwnd_total = 2 cwnd: the increase per ACK is
    /// min(0.5 · MSS/(2 cwnd), MSS/cwnd) = MSS/(4 cwnd), so one MSS of growth
    /// takes 4 windows of ACKs.
    #[test]
    fn coupled_increase_rule() {
        let mut cc = in_ca(20);
        cc.set_coupling(Some(Coupling {
            alpha: 0.5,
            total_cwnd: 40 * MSS,
        }));
        assert_eq!(cc.total_cwnd(), 40 * MSS);
        assert_eq!(cc.ca_bytes_per_mss(), 80 * MSS);
        let mut now = Instant::ZERO;
        for round in 1..=4 {
            ack_window(&mut cc, now, ms(10));
            now += ms(10);
            let want = if round < 4 { 20 } else { 21 };
            assert_eq!(cc.cwnd(), want * MSS, "round {round}");
        }
        // Its own growth is seen in cwnd_total without a new coupling.
        assert_eq!(cc.total_cwnd(), 41 * MSS);
        // A large alpha is capped by the TCP term: one MSS per window.
        let mut cc = in_ca(20);
        cc.set_coupling(Some(Coupling {
            alpha: 10.0,
            total_cwnd: 40 * MSS,
        }));
        assert_eq!(cc.ca_bytes_per_mss(), 20 * MSS);
        ack_window(&mut cc, Instant::ZERO, ms(10));
        assert_eq!(cc.cwnd(), 21 * MSS);
        // Degenerate couplings fall back to uncoupled growth.
        for alpha in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            cc.set_coupling(Some(Coupling {
                alpha,
                total_cwnd: 40 * MSS,
            }));
            assert_eq!(cc.alpha(), None);
            assert_eq!(cc.ca_bytes_per_mss(), cc.cwnd());
        }
    }

    #[test]
    fn slow_start_and_decrease_are_standard() {
        let mut cc = Lia::new(MSS);
        cc.set_coupling(Some(Coupling {
            alpha: 0.1,
            total_cwnd: 100 * MSS,
        }));
        // Slow start is not coupled: doubling per RTT.
        let mut now = Instant::ZERO;
        for want in [20, 40, 80] {
            ack_window(&mut cc, now, ms(10));
            now += ms(10);
            assert_eq!(cc.cwnd(), want * MSS);
        }
        // Loss: halve (fast recovery with inflation, then ssthresh).
        cc.on_loss_fast_retransmit(now, 80 * MSS);
        assert_eq!(cc.ssthresh(), 40 * MSS);
        assert_eq!(cc.cwnd(), 43 * MSS);
        cc.on_dup_ack();
        assert_eq!(cc.cwnd(), 44 * MSS);
        cc.on_recovery_exit(now, 80 * MSS);
        assert_eq!(cc.cwnd(), 40 * MSS);
        // RTO: loss window.
        cc.on_rto(now, 40 * MSS);
        assert_eq!(cc.cwnd(), MSS);
        assert_eq!(cc.ssthresh(), 20 * MSS);
        cc.set_mss(1400);
        assert_eq!(cc.cwnd(), 1400);
        assert_eq!(cc.mss(), 1400);
    }

    #[test]
    fn recouple_inputs() {
        let mut a = in_ca(30);
        let mut b = in_ca(10);
        let mut c = Lia::new(MSS); // no RTT yet
                                   // b is in fast recovery: it counts with ssthresh (5), not cwnd (8).
        b.on_loss_fast_retransmit(Instant::ZERO, 10 * MSS);
        assert_eq!(b.cwnd(), 8 * MSS);
        assert_eq!(coupled_window(&b), 5 * MSS);
        let got = {
            let mut subs = [
                (&mut a, Some(ms(20))),
                (&mut b, Some(ms(20))),
                (&mut c, None),
            ];
            recouple(&mut subs).unwrap()
        };
        assert_eq!(got.total_cwnd, 35 * MSS);
        assert!(approx(got.alpha, 30.0 / 35.0));
        assert_eq!(a.alpha(), Some(got.alpha));
        assert_eq!(a.total_cwnd(), 35 * MSS);
        assert_eq!(b.total_cwnd(), 30 * MSS + 8 * MSS, "others + own cwnd");
        assert_eq!(c.alpha(), None, "no RTT: uncoupled");
        // Works through dyn and with uncoupled controllers in the mix.
        let mut boxed: Vec<Box<dyn CongestionControl>> =
            vec![Box::new(in_ca(10)), Box::new(NewReno::new(MSS))];
        let mut subs: Vec<(&mut dyn CongestionControl, Option<Duration>)> = boxed
            .iter_mut()
            .map(|b| (&mut **b as &mut dyn CongestionControl, Some(ms(5))))
            .collect();
        let c = recouple(&mut subs[..]).unwrap();
        assert_eq!(c.total_cwnd, 20 * MSS);
        assert!(approx(c.alpha, 0.5));
    }

    // ---------------------------------------------------------------------
    // Simulations
    // ---------------------------------------------------------------------

    /// Result of a shared-bottleneck run.
    #[derive(Debug)]
    struct Shared {
        /// Mean segments delivered per RTT, per flow (after warm-up).
        rate: Vec<f64>,
        /// Mean increase of each group's total window per loss-free RTT
        /// spent wholly in congestion avoidance, segments.
        increase: Vec<f64>,
    }

    /// Fluid/AIMD model of one bottleneck: every flow has the same RTT and
    /// sends its whole window each round; whatever exceeds `capacity`
    /// segments (bandwidth-delay product plus buffer) is dropped, each drop
    /// hitting a flow with probability proportional to its window. A flow
    /// with a drop halves (fast retransmit + recovery), the others get their
    /// whole window acknowledged. `groups` are the flows coupled as one
    /// MPTCP connection (LIA recoupled every round).
    fn bottleneck(
        flows: &mut [Box<dyn CongestionControl>],
        groups: &[Vec<usize>],
        capacity: usize,
        rounds: usize,
        seed: u64,
    ) -> Shared {
        let rtt = ms(20);
        let warmup = rounds / 10;
        let mut rng = Rng(seed);
        let mut delivered = vec![0usize; flows.len()];
        let mut inc_sum = vec![0.0; groups.len()];
        let mut inc_n = vec![0usize; groups.len()];
        let mut now = Instant::ZERO;
        for round in 0..rounds {
            for g in groups {
                let mut subs: Vec<(&mut dyn CongestionControl, Option<Duration>)> = flows
                    .iter_mut()
                    .enumerate()
                    .filter(|(i, _)| g.contains(i))
                    .map(|(_, f)| (&mut **f as &mut dyn CongestionControl, Some(rtt)))
                    .collect();
                recouple(&mut subs[..]);
            }
            let w: Vec<usize> = flows.iter().map(|f| f.cwnd() / MSS).collect();
            let ca: Vec<bool> = flows.iter().map(|f| !f.in_slow_start()).collect();
            let total: usize = w.iter().sum();
            let mut hits = vec![0usize; flows.len()];
            for _ in 0..total.saturating_sub(capacity) {
                let mut k = rng.below(total);
                for (i, &wi) in w.iter().enumerate() {
                    if k < wi {
                        hits[i] += 1;
                        break;
                    }
                    k -= wi;
                }
            }
            for (i, f) in flows.iter_mut().enumerate() {
                if hits[i] > 0 {
                    lose(&mut **f, now);
                } else {
                    ack_window(&mut **f, now, rtt);
                }
                if round >= warmup {
                    delivered[i] += w[i] - hits[i].min(w[i]);
                }
            }
            if round >= warmup {
                for (gi, g) in groups.iter().enumerate() {
                    if g.iter().all(|&i| hits[i] == 0 && ca[i]) {
                        let before: usize = g.iter().map(|&i| w[i]).sum();
                        let after: usize = g.iter().map(|&i| flows[i].cwnd() / MSS).sum();
                        inc_sum[gi] += after as f64 - before as f64;
                        inc_n[gi] += 1;
                    }
                }
            }
            now += rtt;
        }
        let n = (rounds - warmup) as f64;
        Shared {
            rate: delivered.iter().map(|&d| d as f64 / n).collect(),
            increase: inc_sum
                .iter()
                .zip(&inc_n)
                .map(|(s, &k)| s / k.max(1) as f64)
                .collect(),
        }
    }

    fn lia_box() -> Box<dyn CongestionControl> {
        Box::new(Lia::new(MSS))
    }

    fn reno_box() -> Box<dyn CongestionControl> {
        Box::new(NewReno::new(MSS))
    }

    const CAPACITY: usize = 100;
    const ROUNDS: usize = 20_000;

    /// RFC 6356 goal 2 on one bottleneck: two coupled subflows together grow
    /// by at most one MSS per RTT (a single Reno flow's increase) and, alone
    /// on the link, fill it about as a single Reno flow does; two
    /// uncoupled subflows grow twice as fast.
    #[test]
    fn coupled_pair_alone_is_no_more_aggressive_than_reno() {
        let mut reno = vec![reno_box()];
        let r = bottleneck(&mut reno, &[vec![0]], CAPACITY, ROUNDS, 7);
        let mut lia = vec![lia_box(), lia_box()];
        let l = bottleneck(&mut lia, &[vec![0, 1]], CAPACITY, ROUNDS, 7);
        let mut unc = vec![reno_box(), reno_box()];
        let u = bottleneck(&mut unc, &[vec![0, 1]], CAPACITY, ROUNDS, 7);
        let lia_rate = l.rate[0] + l.rate[1];
        let unc_rate = u.rate[0] + u.rate[1];
        println!(
            "alone on {CAPACITY} segs: reno {:.2} seg/RTT (+{:.3}/RTT); \
             lia pair {:.2} ({:.2}+{:.2}) (+{:.3}/RTT); uncoupled pair {:.2} (+{:.3}/RTT)",
            r.rate[0],
            r.increase[0],
            lia_rate,
            l.rate[0],
            l.rate[1],
            l.increase[0],
            unc_rate,
            u.increase[0]
        );
        assert!((r.increase[0] - 1.0).abs() < 0.02, "{r:?}");
        assert!(l.increase[0] <= 1.0 + 0.02, "{l:?}");
        assert!(l.increase[0] >= 0.45, "{l:?}");
        assert!((u.increase[0] - 2.0).abs() < 0.05, "{u:?}");
        // Alone on the link, nobody can use more than its capacity.
        assert!(lia_rate <= CAPACITY as f64 && r.rate[0] <= CAPACITY as f64);
    }

    /// RFC 6356 goal 2 against competition: a coupled pair sharing a
    /// bottleneck with a Reno flow takes about the Reno flow's share (an
    /// uncoupled pair takes about twice as much).
    #[test]
    fn coupled_pair_shares_bottleneck_fairly_with_reno() {
        let mut base = vec![reno_box(), reno_box()];
        let b = bottleneck(&mut base, &[vec![0], vec![1]], CAPACITY, ROUNDS, 11);
        let mut mix = vec![lia_box(), lia_box(), reno_box()];
        let m = bottleneck(&mut mix, &[vec![0, 1]], CAPACITY, ROUNDS, 11);
        let mut unc = vec![reno_box(), reno_box(), reno_box()];
        let u = bottleneck(&mut unc, &[], CAPACITY, ROUNDS, 11);
        let base_ratio = b.rate[0] / b.rate[1];
        let lia_ratio = (m.rate[0] + m.rate[1]) / m.rate[2];
        let unc_ratio = (u.rate[0] + u.rate[1]) / u.rate[2];
        println!(
            "shared {CAPACITY} segs: reno/reno {:.2}/{:.2} = {base_ratio:.3}; \
             lia pair {:.2}+{:.2} vs reno {:.2} = {lia_ratio:.3}; \
             uncoupled pair {:.2}+{:.2} vs reno {:.2} = {unc_ratio:.3}",
            b.rate[0], b.rate[1], m.rate[0], m.rate[1], m.rate[2], u.rate[0], u.rate[1], u.rate[2]
        );
        assert!((0.85..1.18).contains(&base_ratio), "{b:?}");
        assert!((0.8..1.25).contains(&lia_ratio), "{m:?}");
        assert!(unc_ratio > 1.6, "{u:?}");
    }

    /// Two subflows on disjoint paths with the same per-packet loss rate and
    /// RTTs of 10 and 40 ms: the faster path carries more, and the pair
    /// together gets about what one Reno flow gets on the faster path
    /// (RFC 6356 goal 1, "improve throughput", without exceeding it much).
    #[test]
    fn faster_path_gets_more() {
        const P: f64 = 0.002;
        const SECS: u64 = 600;
        let rtts = [ms(10), ms(40)];
        let end = Instant::from_secs(SECS);
        let warm = Instant::from_secs(SECS / 10);

        /// Time-driven run of `ccs` (coupled if `couple`), one per path.
        fn run(
            ccs: &mut [Box<dyn CongestionControl>],
            rtts: &[Duration],
            couple: bool,
            end: Instant,
            warm: Instant,
            seed: u64,
        ) -> Vec<f64> {
            let mut rng = Rng(seed);
            let mut next: Vec<Instant> = rtts.iter().map(|&r| Instant::ZERO + r).collect();
            let mut delivered = vec![0usize; ccs.len()];
            loop {
                let (i, &t) = next.iter().enumerate().min_by_key(|(_, t)| **t).unwrap();
                if t >= end {
                    break;
                }
                if couple {
                    let mut subs: Vec<(&mut dyn CongestionControl, Option<Duration>)> = ccs
                        .iter_mut()
                        .zip(rtts)
                        .map(|(c, &r)| (&mut **c as &mut dyn CongestionControl, Some(r)))
                        .collect();
                    recouple(&mut subs[..]);
                }
                let w = ccs[i].cwnd() / MSS;
                let lost = rng.unit() < 1.0 - (1.0 - P).powi(w as i32);
                if lost {
                    lose(&mut *ccs[i], t);
                } else {
                    ack_window(&mut *ccs[i], t, rtts[i]);
                }
                if t >= warm {
                    delivered[i] += w - lost as usize;
                }
                next[i] = t + rtts[i];
            }
            let secs = (end - warm).as_secs_f64();
            delivered.iter().map(|&d| d as f64 / secs).collect()
        }

        let mut lia = vec![lia_box(), lia_box()];
        let l = run(&mut lia, &rtts, true, end, warm, 3);
        let mut reno_fast = vec![reno_box()];
        let rf = run(&mut reno_fast, &rtts[..1], false, end, warm, 5)[0];
        let mut reno_slow = vec![reno_box()];
        let rs = run(&mut reno_slow, &rtts[1..], false, end, warm, 9)[0];
        println!(
            "p={P}: lia 10ms {:.0} seg/s + 40ms {:.0} seg/s = {:.0}; reno alone 10ms {rf:.0}, 40ms {rs:.0}",
            l[0],
            l[1],
            l[0] + l[1]
        );
        assert!(l[0] > 2.5 * l[1], "fast {} vs slow {}", l[0], l[1]);
        let ratio = (l[0] + l[1]) / rf;
        assert!(
            (0.8..1.25).contains(&ratio),
            "lia total / reno on best path = {ratio}"
        );
    }
}
