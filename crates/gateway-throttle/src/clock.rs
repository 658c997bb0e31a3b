//! The workspace's clock, as governor's limiters read it.
//!
//! Buckets refill and quotas reset by [`gateway_core::clock::Clock`] (re-exported
//! as [`crate::Clock`]); governor wants its own clock trait, which this crate may
//! only implement for a type of its own.

use gateway_core::clock::Clock;
use governor::nanos::Nanos;

/// A [`Clock`] as governor's clock: nanoseconds since the Unix epoch.
#[derive(Debug, Clone)]
pub(crate) struct BucketClock(pub(crate) Clock);

impl governor::clock::Clock for BucketClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::new(self.0.now_nanos())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use governor::clock::Clock as _;

    use super::*;

    #[test]
    fn limiters_read_the_shared_clock() {
        let (clock, time) = Clock::manual(Duration::from_secs(100));
        let buckets = BucketClock(clock);
        assert_eq!(buckets.now(), Nanos::new(100_000_000_000));
        time.advance(Duration::from_millis(5));
        assert_eq!(buckets.now(), Nanos::new(100_005_000_000));
    }
}
