//! The nanosecond clock a link's ports (and the worker above them) read.
//!
//! Time is a plain monotonic count of nanoseconds. A virtual clock moves only
//! when a test or a virtual-time driver sets or advances it; a real-time clock
//! reads the monotonic clock (nanoseconds since the clock was made).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A cheap-to-clone handle to one clock; all clones read the same time.
#[derive(Debug, Clone)]
pub struct Clock {
    inner: Arc<ClockInner>,
}

#[derive(Debug)]
struct ClockInner {
    /// Current time of a virtual clock, in nanoseconds.
    virtual_ns: AtomicU64,
    /// Origin of a real-time clock; `None` for a virtual clock.
    real_origin: Option<Instant>,
}

impl Default for Clock {
    /// A virtual clock at time 0.
    fn default() -> Clock {
        Clock::new_virtual()
    }
}

impl Clock {
    /// A virtual clock at time 0.
    pub fn new_virtual() -> Clock {
        Clock::virtual_at(0)
    }

    /// A virtual clock at time `ns`.
    pub fn virtual_at(ns: u64) -> Clock {
        Clock {
            inner: Arc::new(ClockInner {
                virtual_ns: AtomicU64::new(ns),
                real_origin: None,
            }),
        }
    }

    /// A real-time clock: nanoseconds of the monotonic clock since now.
    pub fn real_time() -> Clock {
        Clock {
            inner: Arc::new(ClockInner {
                virtual_ns: AtomicU64::new(0),
                real_origin: Some(Instant::now()),
            }),
        }
    }

    /// True for a virtual clock.
    pub fn is_virtual(&self) -> bool {
        self.inner.real_origin.is_none()
    }

    /// The current time in nanoseconds.
    #[inline]
    pub fn now(&self) -> u64 {
        match self.inner.real_origin {
            None => self.inner.virtual_ns.load(Ordering::Acquire),
            Some(origin) => origin.elapsed().as_nanos() as u64,
        }
    }

    /// Sets a virtual clock to `ns` (which may move it backwards: tests only).
    ///
    /// # Panics
    /// On a real-time clock.
    pub fn set(&self, ns: u64) {
        self.assert_virtual("set");
        self.inner.virtual_ns.store(ns, Ordering::Release);
    }

    /// Advances a virtual clock by `ns` and returns the new time.
    ///
    /// # Panics
    /// On a real-time clock.
    pub fn advance(&self, ns: u64) -> u64 {
        self.assert_virtual("advance");
        self.inner.virtual_ns.fetch_add(ns, Ordering::AcqRel) + ns
    }

    /// Moves a virtual clock forward to `ns` if it is behind (never backwards)
    /// and returns the new time: how a virtual-time driver jumps to its next
    /// event.
    ///
    /// # Panics
    /// On a real-time clock.
    pub fn advance_to(&self, ns: u64) -> u64 {
        self.assert_virtual("advance_to");
        self.inner
            .virtual_ns
            .fetch_max(ns, Ordering::AcqRel)
            .max(ns)
    }

    fn assert_virtual(&self, what: &str) {
        assert!(
            self.is_virtual(),
            "Clock::{what} called on a real-time clock"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_is_shared_by_clones() {
        let c = Clock::new_virtual();
        let d = c.clone();
        assert_eq!(c.now(), 0);
        assert_eq!(d.advance(5), 5);
        assert_eq!(c.now(), 5);
        assert_eq!(c.advance_to(3), 5);
        assert_eq!(c.advance_to(9), 9);
        d.set(2);
        assert_eq!(c.now(), 2);
    }

    #[test]
    fn real_clock_moves_forward() {
        let c = Clock::real_time();
        assert!(!c.is_virtual());
        let a = c.now();
        std::thread::sleep(std::time::Duration::from_millis(1));
        assert!(c.now() >= a + 1_000_000);
    }

    #[test]
    #[should_panic(expected = "real-time clock")]
    fn real_clock_cannot_be_set() {
        Clock::real_time().set(1);
    }
}
