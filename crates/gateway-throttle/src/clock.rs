//! The time buckets refill by and quotas reset by, injectable so tests advance it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use governor::nanos::Nanos;

/// The throttling clock: nanoseconds since the Unix epoch.
///
/// [`Clock::system`] reads the wall clock once, then advances by the CPU's
/// monotonic counter (a few nanoseconds a read, and never backwards).
/// [`Clock::manual`] stands still until a test advances it. Clones share the same
/// time.
#[derive(Clone)]
pub struct Clock(Kind);

#[derive(Clone)]
enum Kind {
    System {
        counter: quanta::Clock,
        anchor: quanta::Instant,
        anchor_epoch_nanos: u64,
    },
    Manual(ManualClock),
}

impl Clock {
    /// The wall clock.
    #[must_use]
    pub fn system() -> Self {
        let counter = quanta::Clock::new();
        let anchor = counter.now();
        let anchor_epoch_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Self(Kind::System {
            counter,
            anchor,
            anchor_epoch_nanos,
        })
    }

    /// A clock standing at `since_epoch` until `handle.advance` moves it.
    #[must_use]
    pub fn manual(since_epoch: Duration) -> (Self, ManualClock) {
        let handle = ManualClock(Arc::new(AtomicU64::new(
            u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX),
        )));
        (Self(Kind::Manual(handle.clone())), handle)
    }

    /// Nanoseconds since the Unix epoch.
    #[must_use]
    pub fn now_nanos(&self) -> u64 {
        match &self.0 {
            Kind::System {
                counter,
                anchor,
                anchor_epoch_nanos,
            } => {
                let elapsed = counter.now().saturating_duration_since(*anchor);
                anchor_epoch_nanos
                    .saturating_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
            }
            Kind::Manual(handle) => handle.0.load(Ordering::Acquire),
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0 {
            Kind::System { .. } => "system",
            Kind::Manual(_) => "manual",
        };
        f.debug_struct("Clock")
            .field("kind", &kind)
            .field("now_nanos", &self.now_nanos())
            .finish()
    }
}

impl governor::clock::Clock for Clock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::new(self.now_nanos())
    }
}

/// Moves a [`Clock::manual`] clock.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(
            u64::try_from(by.as_nanos()).unwrap_or(u64::MAX),
            Ordering::AcqRel,
        );
    }

    /// Sets the clock to `since_epoch`.
    pub fn set(&self, since_epoch: Duration) {
        self.0.store(
            u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Release,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clocks_move_only_when_told() {
        let (clock, handle) = Clock::manual(Duration::from_secs(100));
        assert_eq!(clock.now_nanos(), 100_000_000_000);
        let shared = clock.clone();
        handle.advance(Duration::from_millis(5));
        assert_eq!(shared.now_nanos(), 100_005_000_000);
        handle.set(Duration::from_secs(1));
        assert_eq!(clock.now_nanos(), 1_000_000_000);
    }

    #[test]
    fn the_system_clock_follows_the_wall_clock() {
        let clock = Clock::system();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let ours = clock.now_nanos();
        assert!(ours.abs_diff(wall) < 1_000_000_000, "{ours} vs {wall}");
        assert!(clock.now_nanos() >= ours);
    }
}
