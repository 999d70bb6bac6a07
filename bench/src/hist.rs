//! Latency histograms of one load-generator worker (one core), merged
//! into the run's figures at the end.
//!
//! Each worker records into its own [`LatencyHists`] (no sharing, no
//! locks on the fast path); when the run is over the main thread merges
//! them with [`LatencyHists::merge`] and summarises the result with
//! [`LatencyHists::latencies`]. Any load generator can use it: mptfo's own
//! (`crate::loadgen`) and one on the Linux socket API alike.
//!
//! Values are recorded in microseconds, rounded to the nearest, into HDR
//! histograms that keep 4 significant digits: exact to the microsecond up
//! to 16 ms, within 0.01 % above, up to one hour (larger values are
//! clamped to it).

use hdrhistogram::Histogram;

use crate::report::{Latencies, Latency};

/// Highest latency the histograms hold (1 hour, in µs); larger values are
/// clamped.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Significant digits the histograms keep: 4, so that latencies up to
/// 16 ms are exact to the microsecond and larger ones within 0.01 %.
pub const SIGNIFICANT_DIGITS: u8 = 4;

/// An empty histogram of microseconds with the bounds above.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGNIFICANT_DIGITS).expect("histogram bounds")
}

/// Nanoseconds as microseconds, rounded to the nearest, clamped to the
/// histograms' range.
pub fn ns_to_us(ns: u64) -> u64 {
    (ns.saturating_add(500) / 1_000).min(MAX_LATENCY_US)
}

/// Adds every value of `from` to `into` (whatever the bounds of either).
fn add_into(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    if into.add(from).is_err() {
        // Different bounds: value by value, clamped.
        for v in from.iter_recorded() {
            into.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

/// The latency histograms of one worker, in microseconds.
///
/// What "start" means is the load generator's: the `connect` call (the
/// SYN), or in an open loop the transaction's intended start time; for the
/// second and later requests of a kept-alive connection, the moment the
/// request was written.
#[derive(Debug, Clone)]
pub struct LatencyHists {
    /// Start -> the connection established on the client (the SYN/ACK
    /// arrived; the engine's `Event::Connected`). One value per connection.
    pub syn_to_synack: Histogram<u64>,
    /// Start -> the first byte of the reply. One value per request.
    pub syn_to_first: Histogram<u64>,
    /// Start -> the last byte of the reply. One value per request.
    pub syn_to_last: Histogram<u64>,
}

impl Default for LatencyHists {
    fn default() -> Self {
        LatencyHists::new()
    }
}

impl LatencyHists {
    /// Three empty histograms.
    pub fn new() -> LatencyHists {
        LatencyHists {
            syn_to_synack: new_histogram(),
            syn_to_first: new_histogram(),
            syn_to_last: new_histogram(),
        }
    }

    /// Records a SYN -> SYN/ACK time, in nanoseconds.
    pub fn record_synack(&mut self, ns: u64) {
        self.syn_to_synack.saturating_record(ns_to_us(ns));
    }

    /// Records a start -> first reply byte time, in nanoseconds.
    pub fn record_first(&mut self, ns: u64) {
        self.syn_to_first.saturating_record(ns_to_us(ns));
    }

    /// Records a start -> last reply byte time, in nanoseconds.
    pub fn record_last(&mut self, ns: u64) {
        self.syn_to_last.saturating_record(ns_to_us(ns));
    }

    /// Adds the values of `other` (another worker's) to these.
    pub fn merge(&mut self, other: &LatencyHists) {
        add_into(&mut self.syn_to_synack, &other.syn_to_synack);
        add_into(&mut self.syn_to_first, &other.syn_to_first);
        add_into(&mut self.syn_to_last, &other.syn_to_last);
    }

    /// The merge of several workers' histograms.
    pub fn merged<'a>(all: impl IntoIterator<Item = &'a LatencyHists>) -> LatencyHists {
        let mut m = LatencyHists::new();
        for h in all {
            m.merge(h);
        }
        m
    }

    /// Requests whose whole reply was recorded.
    pub fn requests(&self) -> u64 {
        self.syn_to_last.len()
    }

    /// The summary that goes into `Report::latency`.
    pub fn latencies(&self) -> Latencies {
        Latencies {
            syn_to_last_byte: Latency::of(&self.syn_to_last),
            syn_to_first_byte: Latency::of(&self.syn_to_first),
            syn_to_synack: Latency::of(&self.syn_to_synack),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_rounds_and_merges() {
        let mut a = LatencyHists::new();
        let mut b = LatencyHists::new();
        a.record_last(10_000_000); // 10 ms
        a.record_first(1_499); // 1 µs (rounded)
        a.record_synack(5_000_000);
        b.record_last(20_000_000);
        b.record_last(u64::MAX); // clamped, not lost
        a.merge(&b);
        let l = a.latencies();
        assert_eq!(l.syn_to_last_byte.count, 3);
        assert_eq!(l.syn_to_last_byte.min_us, 10_000.0);
        assert_eq!(l.syn_to_last_byte.p50_us, 20_000.0);
        assert!(l.syn_to_last_byte.max_us >= 0.999 * MAX_LATENCY_US as f64);
        assert_eq!(l.syn_to_first_byte.p50_us, 1.0);
        assert_eq!(l.syn_to_synack.count, 1);
        assert_eq!(l.syn_to_synack.p99_us, 5_000.0);
        assert_eq!(a.requests(), 3);
        let m = LatencyHists::merged([&a, &b]);
        assert_eq!(m.requests(), 5);
    }

    #[test]
    fn merges_histograms_of_other_bounds() {
        let mut a = LatencyHists::new();
        let mut b = LatencyHists::new();
        b.syn_to_last = Histogram::new_with_bounds(1, 1_000, 2).unwrap();
        b.syn_to_last.record(700).unwrap();
        a.merge(&b);
        assert_eq!(a.syn_to_last.len(), 1);
        assert!((a.syn_to_last.max() as f64 - 700.0).abs() <= 10.0);
    }
}
