//! The one source of time for the gateway's layers, injectable so that tests move
//! it instead of sleeping.
//!
//! A [`Clock`] answers three questions, all from the same reading:
//!
//! - [`now_nanos`](Clock::now_nanos): nanoseconds since the Unix epoch (token
//!   buckets, quota periods, daily usage);
//! - [`now`](Clock::now): the same time as a [`SystemTime`] (token `exp`, `nbf` and
//!   `iat`, SigV4 timestamps);
//! - [`instant`](Clock::instant): a monotonic [`Instant`] for ages and time-to-live
//!   (cached authorizer results, key-set refreshes).
//!
//! [`Clock::system`] reads the operating system's wall clock once, when it is made,
//! and from then on advances by the CPU's monotonic counter (through `quanta`): a
//! reading costs a few nanoseconds and never goes backwards, at the price of not
//! following later adjustments of the system's wall clock. [`Clock::manual`] stands
//! still until its [`ManualClock`] handle moves it, and every reading moves with it.
//!
//! A clock is a cheap handle: clones read the same time. An application makes one
//! and hands it to every layer, so that they all agree on what time it is.
//!
//! ```
//! use std::time::Duration;
//!
//! use gateway_core::clock::Clock;
//!
//! let (clock, time) = Clock::manual(Duration::from_secs(1_700_000_000));
//! let started = clock.instant();
//! time.advance(Duration::from_millis(1500));
//! assert_eq!(clock.now_nanos(), 1_700_000_001_500_000_000);
//! assert_eq!(clock.instant().saturating_duration_since(started), Duration::from_millis(1500));
//! ```

use std::fmt;
use std::ops::Add;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The time: the wall clock read through a monotonic counter, or a manual clock.
///
/// See the [module documentation](self). Clones share the same time.
#[derive(Clone)]
pub struct Clock(Kind);

#[derive(Clone)]
enum Kind {
    System(SystemSource),
    Manual(ManualClock),
}

#[derive(Clone)]
struct SystemSource {
    counter: quanta::Clock,
    anchor: quanta::Instant,
    anchor_epoch_nanos: u64,
}

impl SystemSource {
    fn now_nanos(&self) -> u64 {
        let elapsed = self.counter.now().saturating_duration_since(self.anchor);
        self.anchor_epoch_nanos.saturating_add(nanos(elapsed))
    }
}

impl Clock {
    /// The system's wall clock, read once now and advanced by the CPU's monotonic
    /// counter from then on.
    #[must_use]
    pub fn system() -> Self {
        let counter = quanta::Clock::new();
        let anchor = counter.now();
        let anchor_epoch_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, nanos);
        Self(Kind::System(SystemSource {
            counter,
            anchor,
            anchor_epoch_nanos,
        }))
    }

    /// A clock standing at `since_epoch` after the Unix epoch until the returned
    /// handle moves it.
    #[must_use]
    pub fn manual(since_epoch: Duration) -> (Self, ManualClock) {
        let handle = ManualClock(Arc::new(AtomicU64::new(nanos(since_epoch))));
        (Self(Kind::Manual(handle.clone())), handle)
    }

    /// Nanoseconds since the Unix epoch.
    #[must_use]
    pub fn now_nanos(&self) -> u64 {
        match &self.0 {
            Kind::System(source) => source.now_nanos(),
            Kind::Manual(handle) => handle.now_nanos(),
        }
    }

    /// The current time.
    #[must_use]
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.now_nanos())
    }

    /// Whole seconds since the Unix epoch.
    #[must_use]
    pub fn unix_seconds(&self) -> u64 {
        self.now_nanos() / NANOS_PER_SECOND
    }

    /// A monotonic reading, for measuring ages and expiries.
    ///
    /// A system clock's readings never go backwards. A manual clock's go wherever
    /// its handle sets them, backwards included, so callers treat a later reading
    /// that is earlier as they see fit (see [`Instant::checked_duration_since`]).
    #[must_use]
    pub fn instant(&self) -> Instant {
        Instant(self.now_nanos())
    }
}

impl Default for Clock {
    /// [`Clock::system`].
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0 {
            Kind::System(_) => "system",
            Kind::Manual(_) => "manual",
        };
        f.debug_struct("Clock")
            .field("kind", &kind)
            .field("now_nanos", &self.now_nanos())
            .finish()
    }
}

impl From<&ManualClock> for Clock {
    /// The clock `handle` moves.
    fn from(handle: &ManualClock) -> Self {
        handle.clock()
    }
}

/// Moves a [`Clock::manual`] clock, and every clone of it.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// Another handle on the clock this one moves, to give to a layer.
    #[must_use]
    pub fn clock(&self) -> Clock {
        Clock(Kind::Manual(self.clone()))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = nanos(by);
        // `fetch_add` would wrap; the clock saturates instead.
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                Some(now.saturating_add(by))
            });
    }

    /// Sets the clock to `since_epoch` after the Unix epoch, forwards or backwards.
    pub fn set(&self, since_epoch: Duration) {
        self.0.store(nanos(since_epoch), Ordering::Release);
    }

    /// Nanoseconds since the Unix epoch the clock shows.
    #[must_use]
    pub fn now_nanos(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// A monotonic reading of a [`Clock`], for ages and expiries.
///
/// Only readings of the same clock compare meaningfully. Arithmetic saturates
/// rather than overflowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// How long after `earlier` this reading is; zero when it is not after it.
    #[must_use]
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// How long after `earlier` this reading is; `None` when it is before it (a
    /// manual clock that was set back).
    #[must_use]
    pub fn checked_duration_since(self, earlier: Self) -> Option<Duration> {
        self.0.checked_sub(earlier.0).map(Duration::from_nanos)
    }
}

impl Add<Duration> for Instant {
    type Output = Self;

    /// The reading `rhs` later, saturating at the end of time.
    fn add(self, rhs: Duration) -> Self {
        Self(self.0.saturating_add(nanos(rhs)))
    }
}

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// A duration in nanoseconds, saturating (at about 584 years).
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn manual_clocks_move_every_reading_together() {
        let (clock, handle) = Clock::manual(Duration::from_secs(100));
        assert_eq!(clock.now_nanos(), 100_000_000_000);
        assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(100));
        assert_eq!(clock.unix_seconds(), 100);
        let started = clock.instant();
        let shared = clock.clone();
        let other = handle.clock();
        handle.advance(Duration::from_millis(5));
        for reader in [&clock, &shared, &other] {
            assert_eq!(reader.now_nanos(), 100_005_000_000);
            assert_eq!(reader.now(), UNIX_EPOCH + Duration::from_millis(100_005));
            assert_eq!(
                reader.instant().saturating_duration_since(started),
                Duration::from_millis(5)
            );
        }
        assert_eq!(handle.now_nanos(), 100_005_000_000);
        handle.set(Duration::from_secs(1));
        assert_eq!(clock.now_nanos(), 1_000_000_000);
        assert_eq!(clock.instant().checked_duration_since(started), None);
        assert_eq!(
            clock.instant().saturating_duration_since(started),
            Duration::ZERO
        );
    }

    #[test]
    fn manual_clocks_saturate() {
        let (clock, handle) = Clock::manual(Duration::MAX);
        assert_eq!(clock.now_nanos(), u64::MAX);
        handle.advance(Duration::from_secs(1));
        assert_eq!(clock.now_nanos(), u64::MAX);
        assert_eq!(clock.instant() + Duration::from_secs(1), clock.instant());
        let from_handle = Clock::from(&handle);
        assert_eq!(from_handle.now_nanos(), u64::MAX);
    }

    #[test]
    fn instants_add_and_compare() {
        let (clock, handle) = Clock::manual(Duration::ZERO);
        let start = clock.instant();
        let expires = start + Duration::from_secs(60);
        handle.advance(Duration::from_secs(59));
        assert!(clock.instant() < expires);
        handle.advance(Duration::from_secs(1));
        assert!(clock.instant() >= expires);
        assert_eq!(
            clock.instant().checked_duration_since(start),
            Some(Duration::from_secs(60))
        );
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
        let first = clock.instant();
        let clone = clock.clone();
        assert!(
            clone.instant() >= first,
            "clones read the same, monotonic, time"
        );
        assert!(clock.now_nanos() >= ours);
        let debug = format!("{clock:?}");
        assert!(debug.contains("system"), "{debug}");
    }
}
