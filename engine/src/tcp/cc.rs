//! Congestion control of one subflow: the [`CongestionControl`] trait, NewReno
//! (RFC 5681, RFC 6582) and CUBIC (RFC 9438).
//!
//! Owns `cwnd` and `ssthresh` (in bytes) and nothing else: the subflow's
//! loss detection decides *when* an event happens and tells the controller.
//!
//! # Division of labour with the caller
//!
//! - The caller counts duplicate ACKs, keeps the `recover` point of RFC 6582
//!   and retransmits. On the third duplicate ACK it calls
//!   [`CongestionControl::on_loss_fast_retransmit`] (once per window of data:
//!   a second call while in recovery is ignored).
//! - Fast-recovery window inflation is done **inside** the controller:
//!   entering recovery sets `cwnd = ssthresh + 3*MSS`; each further
//!   duplicate ACK ([`CongestionControl::on_dup_ack`]) adds one MSS; a
//!   partial ACK ([`CongestionControl::on_partial_ack`]) deflates by the
//!   bytes it acknowledged and adds back one MSS if that was at least one
//!   MSS; the full ACK ([`CongestionControl::on_recovery_exit`]) sets
//!   `cwnd = min(ssthresh, max(FlightSize, MSS) + MSS)` (RFC 6582 §3.2
//!   step 3, option 1, which avoids a burst). So the caller only ever
//!   compares its flight size against [`CongestionControl::cwnd`].
//! - ACKs of new data outside recovery go to [`CongestionControl::on_ack`].
//! - An RTO goes to [`CongestionControl::on_rto`]: `cwnd` = 1 MSS (loss
//!   window), recovery is abandoned.
//!
//! `in_flight` arguments are the bytes outstanding when the event arrived,
//! before removing what an ACK acknowledged (for loss events, RFC 5681's
//! FlightSize). The window grows only while the sender used at least half
//! of it (`2 * in_flight >= cwnd`, RFC 7661's validated phase), so an
//! application-limited request/response flow does not inflate `cwnd`.
//!
//! Slow start counts every acknowledged byte, like Linux (no RFC 3465 `L`
//! cap on stretch ACKs); congestion avoidance uses byte counting (RFC 5681
//! §3.1, RFC 3465). The initial window is 10 segments (RFC 6928, as Linux).
//! No pacing; no HyStart (slow start exits on loss or at `ssthresh`).
//!
//! # Extension point: coupled MPTCP congestion control (LIA, RFC 6356)
//!
//! A coupled controller needs, per ACK in congestion avoidance, two
//! connection-level inputs: `alpha` and the total window of all subflows.
//! The MPTCP connection computes them (RFC 6356 §3) whenever a subflow's
//! window or RTT changes and hands them to each subflow's controller through
//! [`CongestionControl::set_coupling`] as a [`Coupling`]. A LIA controller
//! would implement this trait and, in congestion avoidance, increase by
//! `min(alpha * acked * MSS / total_cwnd, acked * MSS / cwnd)` bytes;
//! NewReno and CUBIC ignore the coupling (the default method). Controllers
//! are enum-dispatched ([`AnyCc`]), so adding `Lia` is a new variant.

use crate::time::{Duration, Instant};

/// Initial window in segments (RFC 6928; Linux uses 10 whatever the MSS).
pub const INITIAL_WINDOW_SEGMENTS: usize = 10;

/// Connection-level input of a coupled (MPTCP) controller, RFC 6356 §3.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coupling {
    /// The aggressiveness factor `alpha`.
    pub alpha: f64,
    /// Sum of the windows of all the connection's subflows, bytes.
    pub total_cwnd: usize,
}

/// A congestion controller for one subflow. See the module docs for who
/// calls what, and what `in_flight` means.
pub trait CongestionControl {
    /// New data was acknowledged outside fast recovery: `acked_bytes` newly
    /// acknowledged, `rtt` the current smoothed RTT (or latest sample) if
    /// known, `in_flight` the bytes outstanding before this ACK.
    fn on_ack(&mut self, now: Instant, acked_bytes: usize, rtt: Option<Duration>, in_flight: usize);

    /// Third duplicate ACK (or SACK loss detection): reduce the window and
    /// enter fast recovery. Ignored if already in recovery.
    fn on_loss_fast_retransmit(&mut self, now: Instant, in_flight: usize);

    /// A further duplicate ACK during fast recovery: inflate by one MSS.
    fn on_dup_ack(&mut self);

    /// A partial ACK during fast recovery (RFC 6582): deflate.
    fn on_partial_ack(&mut self, acked_bytes: usize);

    /// The ACK covering the recovery point arrived: leave fast recovery.
    /// `in_flight` is the flight size after that ACK.
    fn on_recovery_exit(&mut self, now: Instant, in_flight: usize);

    /// The retransmission timer expired.
    fn on_rto(&mut self, now: Instant, in_flight: usize);

    /// The congestion window, bytes.
    fn cwnd(&self) -> usize;

    /// The slow-start threshold, bytes (`usize::MAX` until the first loss).
    fn ssthresh(&self) -> usize;

    /// Whether in fast recovery.
    fn in_recovery(&self) -> bool;

    /// Whether in slow start (`cwnd < ssthresh`).
    fn in_slow_start(&self) -> bool {
        self.cwnd() < self.ssthresh()
    }

    /// The sender MSS the controller counts in.
    fn mss(&self) -> usize;

    /// The MSS changed (e.g. after PMTU discovery).
    fn set_mss(&mut self, mss: usize);

    /// Connection-level input for coupled MPTCP congestion control; the
    /// uncoupled controllers ignore it. See the module docs.
    fn set_coupling(&mut self, _coupling: Option<Coupling>) {}

    /// Algorithm name, as Linux spells it (`reno`, `cubic`).
    fn name(&self) -> &'static str;
}

/// Window state and the RFC 5681/6582 mechanics shared by the controllers
/// (NewReno, CUBIC and the coupled LIA of `mp::lia`).
#[derive(Clone, Debug)]
pub(crate) struct Window {
    pub(crate) mss: usize,
    pub(crate) cwnd: usize,
    pub(crate) ssthresh: usize,
    pub(crate) recovery: bool,
}

impl Window {
    pub(crate) fn new(mss: usize) -> Window {
        let mss = mss.max(1);
        Window {
            mss,
            cwnd: INITIAL_WINDOW_SEGMENTS * mss,
            ssthresh: usize::MAX,
            recovery: false,
        }
    }

    /// RFC 7661-style validation: grow only if at least half the window was used.
    pub(crate) fn cwnd_limited(&self, in_flight: usize) -> bool {
        in_flight.saturating_mul(2) >= self.cwnd
    }

    /// Slow start; returns the acknowledged bytes left over once `cwnd`
    /// reached `ssthresh` (to be counted in congestion avoidance).
    pub(crate) fn slow_start(&mut self, acked: usize) -> usize {
        if self.cwnd >= self.ssthresh {
            return acked;
        }
        let room = self.ssthresh - self.cwnd;
        let grow = acked.min(room);
        self.cwnd += grow;
        acked - grow
    }

    pub(crate) fn enter_recovery(&mut self, ssthresh: usize) {
        self.ssthresh = ssthresh.max(2 * self.mss);
        self.cwnd = self.ssthresh + 3 * self.mss;
        self.recovery = true;
    }

    pub(crate) fn dup_ack(&mut self) {
        if self.recovery {
            self.cwnd = self.cwnd.saturating_add(self.mss);
        }
    }

    pub(crate) fn partial_ack(&mut self, acked: usize) {
        if !self.recovery {
            return;
        }
        self.cwnd = self.cwnd.saturating_sub(acked);
        if acked >= self.mss {
            self.cwnd += self.mss;
        }
        self.cwnd = self.cwnd.max(self.mss);
    }

    pub(crate) fn exit_recovery(&mut self, in_flight: usize) {
        if !self.recovery {
            return;
        }
        self.recovery = false;
        let floor = in_flight.max(self.mss) + self.mss;
        self.cwnd = self.ssthresh.min(floor);
    }

    pub(crate) fn rto(&mut self, ssthresh: usize) {
        self.ssthresh = ssthresh.max(2 * self.mss);
        self.cwnd = self.mss;
        self.recovery = false;
    }

    pub(crate) fn set_mss(&mut self, mss: usize) {
        let mss = mss.max(1);
        // Keep the window's size in segments.
        let segs = (self.cwnd / self.mss).max(1);
        self.mss = mss;
        self.cwnd = segs * mss;
    }
}

/// NewReno: RFC 5681 slow start and congestion avoidance with byte
/// counting, RFC 6582 fast recovery, `ssthresh = max(FlightSize/2, 2*MSS)`.
#[derive(Clone, Debug)]
pub struct NewReno {
    w: Window,
    /// Bytes acknowledged in congestion avoidance not yet turned into growth.
    bytes_acked: usize,
}

impl NewReno {
    /// A controller in slow start with the initial window of 10 segments.
    pub fn new(mss: usize) -> NewReno {
        NewReno {
            w: Window::new(mss),
            bytes_acked: 0,
        }
    }
}

impl CongestionControl for NewReno {
    fn on_ack(&mut self, _now: Instant, acked: usize, _rtt: Option<Duration>, in_flight: usize) {
        if self.w.recovery || !self.w.cwnd_limited(in_flight) {
            return;
        }
        let left = self.w.slow_start(acked);
        if left == 0 {
            return;
        }
        // Congestion avoidance: one MSS per window of acknowledged bytes.
        self.bytes_acked += left;
        while self.bytes_acked >= self.w.cwnd {
            self.bytes_acked -= self.w.cwnd;
            self.w.cwnd += self.w.mss;
        }
    }

    fn on_loss_fast_retransmit(&mut self, _now: Instant, in_flight: usize) {
        if self.w.recovery {
            return;
        }
        self.bytes_acked = 0;
        self.w.enter_recovery(in_flight / 2);
    }

    fn on_dup_ack(&mut self) {
        self.w.dup_ack();
    }

    fn on_partial_ack(&mut self, acked: usize) {
        self.w.partial_ack(acked);
    }

    fn on_recovery_exit(&mut self, _now: Instant, in_flight: usize) {
        self.w.exit_recovery(in_flight);
    }

    fn on_rto(&mut self, _now: Instant, in_flight: usize) {
        self.bytes_acked = 0;
        self.w.rto(in_flight / 2);
    }

    fn cwnd(&self) -> usize {
        self.w.cwnd
    }
    fn ssthresh(&self) -> usize {
        self.w.ssthresh
    }
    fn in_recovery(&self) -> bool {
        self.w.recovery
    }
    fn mss(&self) -> usize {
        self.w.mss
    }
    fn set_mss(&mut self, mss: usize) {
        self.w.set_mss(mss);
    }
    fn name(&self) -> &'static str {
        "reno"
    }
}

/// CUBIC multiplicative decrease factor (RFC 9438 §4.6).
pub const CUBIC_BETA: f64 = 0.7;
/// CUBIC scaling constant, segments / s³ (RFC 9438 §5).
pub const CUBIC_C: f64 = 0.4;

/// `W_cubic(t) = C (t - K)^3 + W_max` (RFC 9438 Figure 1), in segments.
pub fn w_cubic(c: f64, k: f64, w_max: f64, t: f64) -> f64 {
    let d = t - k;
    c * d * d * d + w_max
}

/// `K = cbrt((W_max - cwnd_epoch) / C)` (RFC 9438 Figure 2), seconds.
pub fn cubic_k(c: f64, w_max: f64, cwnd_epoch: f64) -> f64 {
    ((w_max - cwnd_epoch).max(0.0) / c).cbrt()
}

/// CUBIC (RFC 9438): cubic window growth with the Reno-friendly region,
/// `beta` 0.7, `C` 0.4 and fast convergence. Slow start and fast recovery
/// mechanics are those of NewReno.
#[derive(Clone, Debug)]
pub struct Cubic {
    w: Window,
    c: f64,
    beta: f64,
    fast_convergence: bool,
    /// Window before the last reduction (after fast convergence), segments;
    /// zero until the first congestion event.
    w_max: f64,
    /// `cwnd` before the last reduction, segments (for the α switch).
    cwnd_prior: f64,
    /// Start of the current congestion avoidance epoch.
    epoch_start: Option<Instant>,
    k: f64,
    cwnd_epoch: f64,
    /// Reno-friendly estimate, segments.
    w_est: f64,
    /// Fractional bytes of growth not yet added to `cwnd`.
    frac: f64,
    last_ack: Option<Instant>,
    rtt: Duration,
    /// The epoch follows an RTO (RFC 9438 §4.8: K = 0, W_max = cwnd_epoch).
    after_rto: bool,
}

impl Cubic {
    /// A controller with RFC 9438 defaults (β 0.7, C 0.4, fast convergence).
    pub fn new(mss: usize) -> Cubic {
        Cubic {
            w: Window::new(mss),
            c: CUBIC_C,
            beta: CUBIC_BETA,
            fast_convergence: true,
            w_max: 0.0,
            cwnd_prior: 0.0,
            epoch_start: None,
            k: 0.0,
            cwnd_epoch: 0.0,
            w_est: 0.0,
            frac: 0.0,
            last_ack: None,
            rtt: Duration::ZERO,
            after_rto: false,
        }
    }

    /// Turn fast convergence (RFC 9438 §4.7) on or off.
    pub fn set_fast_convergence(&mut self, on: bool) {
        self.fast_convergence = on;
    }

    /// `W_max`, segments (zero before the first congestion event).
    pub fn w_max(&self) -> f64 {
        self.w_max
    }

    /// `K` of the current epoch, seconds.
    pub fn k(&self) -> f64 {
        self.k
    }

    /// Start of the current congestion avoidance epoch, if one is running.
    pub fn epoch_start(&self) -> Option<Instant> {
        self.epoch_start
    }

    /// The Reno-friendly estimate `W_est`, segments.
    pub fn w_est(&self) -> f64 {
        self.w_est
    }

    fn segs(&self, bytes: usize) -> f64 {
        bytes as f64 / self.w.mss as f64
    }

    fn reduce(&mut self) {
        let cwnd = self.segs(self.w.cwnd);
        self.cwnd_prior = cwnd;
        self.w_max = if self.fast_convergence && cwnd < self.w_max {
            cwnd * (1.0 + self.beta) / 2.0
        } else {
            cwnd
        };
        self.epoch_start = None;
        self.frac = 0.0;
    }

    fn congestion_avoidance(&mut self, now: Instant, acked: usize) {
        let cwnd = self.segs(self.w.cwnd);
        let epoch = match self.epoch_start {
            Some(e) => e,
            None => {
                self.epoch_start = Some(now);
                self.cwnd_epoch = cwnd;
                if self.after_rto || self.w_max <= cwnd {
                    self.w_max = cwnd;
                    self.k = 0.0;
                } else {
                    self.k = cubic_k(self.c, self.w_max, cwnd);
                }
                if self.after_rto {
                    self.cwnd_prior = cwnd;
                    self.after_rto = false;
                }
                self.w_est = cwnd;
                now
            }
        };
        let t = (now - epoch).as_secs_f64();
        let rtt = self.rtt.as_secs_f64();

        // Reno-friendly estimate (RFC 9438 §4.3).
        let alpha = if self.w_est >= self.cwnd_prior {
            1.0
        } else {
            3.0 * (1.0 - self.beta) / (1.0 + self.beta)
        };
        self.w_est += alpha * self.segs(acked) / cwnd;

        if w_cubic(self.c, self.k, self.w_max, t) < self.w_est {
            let est = (self.w_est * self.w.mss as f64).round() as usize;
            self.w.cwnd = self.w.cwnd.max(est);
            self.frac = 0.0;
            return;
        }
        // Concave / convex region (RFC 9438 §4.4, §4.5).
        let target = w_cubic(self.c, self.k, self.w_max, t + rtt).clamp(cwnd, 1.5 * cwnd);
        self.frac += (target - cwnd) / cwnd * acked as f64;
        let whole = self.frac.floor();
        if whole >= 1.0 {
            self.w.cwnd = self.w.cwnd.saturating_add(whole as usize);
            self.frac -= whole;
        }
    }
}

impl CongestionControl for Cubic {
    fn on_ack(&mut self, now: Instant, acked: usize, rtt: Option<Duration>, in_flight: usize) {
        if let Some(r) = rtt {
            self.rtt = r;
        }
        let last = self.last_ack.replace(now);
        if self.w.recovery {
            return;
        }
        if !self.w.cwnd_limited(in_flight) {
            // Application-limited: freeze the cubic clock (as Linux does on
            // restart after idle) so the window does not jump later.
            if let (Some(e), Some(l)) = (self.epoch_start.as_mut(), last) {
                *e += now - l;
            }
            return;
        }
        let left = self.w.slow_start(acked);
        if left > 0 {
            self.congestion_avoidance(now, left);
        }
    }

    fn on_loss_fast_retransmit(&mut self, _now: Instant, _in_flight: usize) {
        if self.w.recovery {
            return;
        }
        self.reduce();
        let ssthresh = (self.w.cwnd as f64 * self.beta).round() as usize;
        self.w.enter_recovery(ssthresh);
    }

    fn on_dup_ack(&mut self) {
        self.w.dup_ack();
    }

    fn on_partial_ack(&mut self, acked: usize) {
        self.w.partial_ack(acked);
    }

    fn on_recovery_exit(&mut self, _now: Instant, in_flight: usize) {
        self.w.exit_recovery(in_flight);
    }

    fn on_rto(&mut self, _now: Instant, _in_flight: usize) {
        if !self.w.recovery {
            self.reduce();
        }
        let ssthresh = (self.w.cwnd as f64 * self.beta).round() as usize;
        self.w.rto(ssthresh);
        self.epoch_start = None;
        self.after_rto = true;
    }

    fn cwnd(&self) -> usize {
        self.w.cwnd
    }
    fn ssthresh(&self) -> usize {
        self.w.ssthresh
    }
    fn in_recovery(&self) -> bool {
        self.w.recovery
    }
    fn mss(&self) -> usize {
        self.w.mss
    }
    fn set_mss(&mut self, mss: usize) {
        self.w.set_mss(mss);
    }
    fn name(&self) -> &'static str {
        "cubic"
    }
}

/// Which controller a subflow runs (a configuration value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CcAlgorithm {
    /// [`NewReno`].
    NewReno,
    /// [`Cubic`] (the Linux default).
    #[default]
    Cubic,
    /// [`Lia`](crate::mp::lia::Lia): RFC 6356 coupled congestion control
    /// for the subflows of an MPTCP connection.
    Lia,
}

/// Any controller, enum-dispatched (no virtual call per ACK).
#[derive(Clone, Debug)]
pub enum AnyCc {
    /// NewReno.
    NewReno(NewReno),
    /// CUBIC.
    Cubic(Cubic),
    /// LIA (RFC 6356), coupled across a connection's subflows.
    Lia(crate::mp::lia::Lia),
}

impl AnyCc {
    /// A fresh controller of the given algorithm.
    pub fn new(algorithm: CcAlgorithm, mss: usize) -> AnyCc {
        match algorithm {
            CcAlgorithm::NewReno => AnyCc::NewReno(NewReno::new(mss)),
            CcAlgorithm::Cubic => AnyCc::Cubic(Cubic::new(mss)),
            CcAlgorithm::Lia => AnyCc::Lia(crate::mp::lia::Lia::new(mss)),
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $cc:ident => $e:expr) => {
        match $self {
            AnyCc::NewReno($cc) => $e,
            AnyCc::Cubic($cc) => $e,
            AnyCc::Lia($cc) => $e,
        }
    };
}

impl CongestionControl for AnyCc {
    fn on_ack(&mut self, now: Instant, acked: usize, rtt: Option<Duration>, in_flight: usize) {
        dispatch!(self, c => c.on_ack(now, acked, rtt, in_flight))
    }
    fn on_loss_fast_retransmit(&mut self, now: Instant, in_flight: usize) {
        dispatch!(self, c => c.on_loss_fast_retransmit(now, in_flight))
    }
    fn on_dup_ack(&mut self) {
        dispatch!(self, c => c.on_dup_ack())
    }
    fn on_partial_ack(&mut self, acked: usize) {
        dispatch!(self, c => c.on_partial_ack(acked))
    }
    fn on_recovery_exit(&mut self, now: Instant, in_flight: usize) {
        dispatch!(self, c => c.on_recovery_exit(now, in_flight))
    }
    fn on_rto(&mut self, now: Instant, in_flight: usize) {
        dispatch!(self, c => c.on_rto(now, in_flight))
    }
    fn cwnd(&self) -> usize {
        dispatch!(self, c => c.cwnd())
    }
    fn ssthresh(&self) -> usize {
        dispatch!(self, c => c.ssthresh())
    }
    fn in_recovery(&self) -> bool {
        dispatch!(self, c => c.in_recovery())
    }
    fn mss(&self) -> usize {
        dispatch!(self, c => c.mss())
    }
    fn set_mss(&mut self, mss: usize) {
        dispatch!(self, c => c.set_mss(mss))
    }
    fn set_coupling(&mut self, coupling: Option<Coupling>) {
        dispatch!(self, c => c.set_coupling(coupling))
    }
    fn name(&self) -> &'static str {
        dispatch!(self, c => c.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: usize = 1000;

    /// One RTT of a cwnd-limited sender: the whole window is acknowledged,
    /// one ACK per segment. Returns the time after the round.
    fn round(cc: &mut impl CongestionControl, now: Instant, rtt: Duration) -> Instant {
        let segs = cc.cwnd() / MSS;
        let flight = cc.cwnd();
        let step = rtt / segs.max(1) as u32;
        let mut t = now;
        for _ in 0..segs {
            t += step;
            cc.on_ack(t, MSS, Some(rtt), flight);
        }
        now + rtt
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn initial_window_is_ten_segments() {
        for algo in [CcAlgorithm::NewReno, CcAlgorithm::Cubic] {
            let cc = AnyCc::new(algo, 1460);
            assert_eq!(cc.cwnd(), 14600);
            assert_eq!(cc.ssthresh(), usize::MAX);
            assert!(cc.in_slow_start());
        }
        assert_eq!(AnyCc::new(CcAlgorithm::Cubic, 1).name(), "cubic");
        assert_eq!(AnyCc::new(CcAlgorithm::NewReno, 1).name(), "reno");
    }

    #[test]
    fn slow_start_doubles_per_rtt() {
        for algo in [CcAlgorithm::NewReno, CcAlgorithm::Cubic] {
            let mut cc = AnyCc::new(algo, MSS);
            let mut now = Instant::ZERO;
            for want in [20, 40, 80, 160] {
                now = round(&mut cc, now, ms(50));
                assert_eq!(cc.cwnd(), want * MSS, "{}", cc.name());
            }
        }
    }

    #[test]
    fn app_limited_does_not_grow() {
        let mut cc = NewReno::new(MSS);
        for i in 0..100 {
            cc.on_ack(Instant::from_millis(i), MSS, None, 2 * MSS);
        }
        assert_eq!(cc.cwnd(), 10 * MSS);
    }

    #[test]
    fn newreno_halves_and_recovers() {
        let mut cc = NewReno::new(MSS);
        let now = Instant::ZERO;
        // Grow to 40 segments.
        let mut t = now;
        while cc.cwnd() < 40 * MSS {
            t = round(&mut cc, t, ms(50));
        }
        assert_eq!(cc.cwnd(), 40 * MSS);
        cc.on_loss_fast_retransmit(t, 40 * MSS);
        assert!(cc.in_recovery());
        assert_eq!(cc.ssthresh(), 20 * MSS);
        assert_eq!(cc.cwnd(), 23 * MSS, "ssthresh + 3 MSS");
        cc.on_loss_fast_retransmit(t, 40 * MSS);
        assert_eq!(cc.ssthresh(), 20 * MSS, "one reduction per window");
        cc.on_dup_ack();
        cc.on_dup_ack();
        assert_eq!(cc.cwnd(), 25 * MSS);
        // Partial ACK of 3 segments: deflate by 3, add back 1.
        cc.on_partial_ack(3 * MSS);
        assert_eq!(cc.cwnd(), 23 * MSS);
        // ACKs during recovery do not grow the window.
        cc.on_ack(t, MSS, None, 40 * MSS);
        assert_eq!(cc.cwnd(), 23 * MSS);
        cc.on_recovery_exit(t, 30 * MSS);
        assert!(!cc.in_recovery());
        assert_eq!(cc.cwnd(), 20 * MSS);
        assert!(!cc.in_slow_start());
        // Small flight at exit: no burst.
        let mut cc2 = NewReno::new(MSS);
        cc2.on_loss_fast_retransmit(t, 10 * MSS);
        cc2.on_recovery_exit(t, MSS);
        assert_eq!(cc2.cwnd(), 2 * MSS);
    }

    #[test]
    fn newreno_congestion_avoidance_one_mss_per_rtt() {
        let mut cc = NewReno::new(MSS);
        cc.on_loss_fast_retransmit(Instant::ZERO, 40 * MSS);
        cc.on_recovery_exit(Instant::ZERO, 40 * MSS);
        assert_eq!(cc.cwnd(), 20 * MSS);
        let mut t = Instant::ZERO;
        for want in 21..30 {
            t = round(&mut cc, t, ms(50));
            assert_eq!(cc.cwnd(), want * MSS);
        }
    }

    #[test]
    fn slow_start_leftover_goes_to_avoidance() {
        let mut cc = NewReno::new(MSS);
        cc.on_rto(Instant::ZERO, 24 * MSS);
        assert_eq!(cc.cwnd(), MSS);
        assert_eq!(cc.ssthresh(), 12 * MSS);
        // A stretch ACK crossing ssthresh: fills to 12, rest is counted in CA.
        cc.on_ack(Instant::ZERO, 12 * MSS, None, MSS);
        assert_eq!(cc.cwnd(), 12 * MSS);
        cc.on_ack(Instant::ZERO, 12 * MSS, None, 12 * MSS);
        assert_eq!(cc.cwnd(), 13 * MSS);
    }

    #[test]
    fn rto_resets_to_loss_window() {
        for algo in [CcAlgorithm::NewReno, CcAlgorithm::Cubic] {
            let mut cc = AnyCc::new(algo, MSS);
            cc.on_loss_fast_retransmit(Instant::ZERO, 10 * MSS);
            cc.on_rto(Instant::ZERO, 10 * MSS);
            assert!(!cc.in_recovery());
            assert_eq!(cc.cwnd(), MSS);
            assert!(cc.ssthresh() >= 2 * MSS);
            // Slow start again, up to ssthresh.
            let mut t = Instant::ZERO;
            t = round(&mut cc, t, ms(10));
            assert_eq!(cc.cwnd(), 2 * MSS);
            round(&mut cc, t, ms(10));
            assert_eq!(cc.cwnd(), 4 * MSS);
        }
    }

    #[test]
    fn set_mss_keeps_segments() {
        let mut cc = AnyCc::new(CcAlgorithm::NewReno, 1000);
        cc.set_mss(1400);
        assert_eq!(cc.cwnd(), 14_000);
        assert_eq!(cc.mss(), 1400);
        cc.set_coupling(Some(Coupling {
            alpha: 1.0,
            total_cwnd: 28_000,
        }));
        assert_eq!(cc.cwnd(), 14_000, "uncoupled controllers ignore coupling");
    }

    #[test]
    fn cubic_reduces_by_beta() {
        let mut cc = Cubic::new(MSS);
        let mut t = Instant::ZERO;
        while cc.cwnd() < 100 * MSS {
            t = round(&mut cc, t, ms(10));
        }
        // 10, 20, 40, 80, 160: stop at 160 segments.
        assert_eq!(cc.cwnd(), 160 * MSS);
        cc.on_loss_fast_retransmit(t, 160 * MSS);
        assert_eq!(cc.ssthresh(), 112 * MSS);
        assert_eq!(cc.w_max(), 160.0);
        cc.on_recovery_exit(t, 200 * MSS);
        assert_eq!(cc.cwnd(), 112 * MSS);
    }

    #[test]
    fn cubic_fast_convergence() {
        let mut cc = Cubic::new(MSS);
        cc.w.cwnd = 100 * MSS;
        cc.on_loss_fast_retransmit(Instant::ZERO, 100 * MSS);
        assert_eq!(cc.w_max(), 100.0);
        cc.on_recovery_exit(Instant::ZERO, 100 * MSS);
        assert_eq!(cc.cwnd(), 70 * MSS);
        // A loss below the previous W_max: release bandwidth, W_max = 70*1.7/2.
        cc.on_loss_fast_retransmit(Instant::ZERO, 70 * MSS);
        assert!((cc.w_max() - 59.5).abs() < 1e-9);
        cc.on_recovery_exit(Instant::ZERO, 100 * MSS);
        assert_eq!(cc.cwnd(), 49 * MSS);
        // Without fast convergence W_max is the window at the loss.
        let mut nf = Cubic::new(MSS);
        nf.set_fast_convergence(false);
        nf.w.cwnd = 100 * MSS;
        nf.on_loss_fast_retransmit(Instant::ZERO, 0);
        nf.on_recovery_exit(Instant::ZERO, 100 * MSS);
        nf.on_loss_fast_retransmit(Instant::ZERO, 0);
        assert_eq!(nf.w_max(), 70.0);
    }

    #[test]
    fn cubic_formula_points() {
        // W_max = 100, cwnd_epoch = 70: K = cbrt(30 / 0.4) = cbrt(75).
        let k = cubic_k(CUBIC_C, 100.0, 70.0);
        assert!((k - 4.217_163_326_508_746).abs() < 1e-9);
        assert!((w_cubic(CUBIC_C, k, 100.0, 0.0) - 70.0).abs() < 1e-9);
        assert!((w_cubic(CUBIC_C, k, 100.0, k) - 100.0).abs() < 1e-12);
        // 0.4 * (2 - K)^3 + 100
        let want = 0.4 * (2.0 - k).powi(3) + 100.0;
        assert!((w_cubic(CUBIC_C, k, 100.0, 2.0) - want).abs() < 1e-12);
        assert!((w_cubic(CUBIC_C, 0.0, 10.0, 1.0) - 10.4).abs() < 1e-12);
    }

    /// Drive CUBIC after one loss at W_max = 100 segments with a long RTT
    /// (Reno-friendly estimate below the cubic curve): the window follows
    /// W_cubic(t) = 0.4 (t - K)^3 + 100 with K = cbrt(75).
    #[test]
    fn cubic_growth_follows_curve() {
        let rtt = ms(100);
        let mut cc = Cubic::new(MSS);
        cc.w.cwnd = 100 * MSS;
        let t0 = Instant::from_secs(10);
        cc.on_loss_fast_retransmit(t0, 100 * MSS);
        cc.on_recovery_exit(t0, 100 * MSS);
        assert_eq!(cc.cwnd(), 70 * MSS);
        let mut now = t0;
        let mut epoch = None;
        let k = 75f64.cbrt();
        let mut checked = 0;
        for _ in 0..45 {
            now = round(&mut cc, now, rtt);
            let e = *epoch.get_or_insert_with(|| cc.epoch_start().unwrap());
            assert!((cc.k() - k).abs() < 1e-9);
            let t = (now - e).as_secs_f64();
            let want = w_cubic(CUBIC_C, k, 100.0, t);
            let got = cc.cwnd() as f64 / MSS as f64;
            assert!(cc.w_est() < want, "stays in the cubic region at t={t}");
            if t >= 1.0 {
                let err = (got - want).abs() / want;
                assert!(err < 0.02, "t={t:.2}: cwnd {got:.2} vs W_cubic {want:.2}");
                checked += 1;
            }
        }
        assert!(checked > 30);
        // Around K the window plateaus at W_max.
        let at_k = cc.cwnd() as f64 / MSS as f64;
        assert!((at_k - 100.0).abs() < 2.0, "{at_k}");
    }

    /// Short RTT, small W_max: the Reno-friendly estimate dominates and the
    /// window grows as AIMD with α = 3(1-β)/(1+β) per RTT, then 1.
    #[test]
    fn cubic_reno_friendly_region() {
        let rtt = ms(5);
        let mut cc = Cubic::new(MSS);
        cc.w.cwnd = 20 * MSS;
        let t0 = Instant::ZERO;
        cc.on_loss_fast_retransmit(t0, 20 * MSS);
        cc.on_recovery_exit(t0, 20 * MSS);
        assert_eq!(cc.cwnd(), 14 * MSS);
        let mut now = t0;
        for _ in 0..100 {
            now = round(&mut cc, now, rtt);
        }
        let t = (now - cc.epoch_start().unwrap()).as_secs_f64();
        let cubic = w_cubic(CUBIC_C, cc.k(), 20.0, t);
        let got = cc.cwnd() as f64 / MSS as f64;
        assert!(got > cubic + 10.0, "cwnd {got} vs W_cubic {cubic}");
        assert!((got - cc.w_est()).abs() < 1.0);
        // 14 -> 20 at α≈0.53 takes ~12 RTTs, then +1 per RTT: ≈ 20 + 88.
        assert!((95.0..115.0).contains(&got), "{got}");
    }

    #[test]
    fn cubic_after_rto_uses_k_zero() {
        let mut cc = Cubic::new(MSS);
        cc.w.cwnd = 100 * MSS;
        cc.on_rto(Instant::ZERO, 100 * MSS);
        assert_eq!(cc.cwnd(), MSS);
        assert_eq!(cc.ssthresh(), 70 * MSS);
        let mut now = Instant::ZERO;
        while cc.in_slow_start() {
            now = round(&mut cc, now, ms(100));
        }
        now = round(&mut cc, now, ms(100));
        assert_eq!(cc.k(), 0.0);
        assert!(cc.w_max() >= 70.0 && cc.w_max() < 71.0, "{}", cc.w_max());
        let _ = now;
    }
}
