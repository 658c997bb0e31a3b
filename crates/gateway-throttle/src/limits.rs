//! Throttle and quota settings, and the UTC calendar their periods follow.

use std::fmt;
use std::str::FromStr;

pub use gateway_core::context::days_from_civil;
use gateway_core::context::{civil_from_days, days_in_month};
use serde::{Deserialize, Serialize};

/// Seconds in a day.
const DAY_SECS: u64 = 86_400;

/// Why a throttle or quota setting is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// A rate that is negative, not a number or infinite.
    #[error("rate limit {0} must be a finite number of requests per second, 0 or more")]
    Rate(String),
    /// A quota whose offset is not below its limit.
    #[error("quota offset {offset} must be below the limit {limit}")]
    Offset {
        /// The offset.
        offset: u64,
        /// The limit.
        limit: u64,
    },
    /// A date that is not `YYYY-MM-DD`.
    #[error("`{0}` is not a date in the form YYYY-MM-DD")]
    Date(String),
}

/// A token bucket: `rate` tokens a second flow into a bucket holding at most
/// `burst`, and each request takes one (AWS's `ThrottleSettings`).
///
/// A rate of 0 or a burst of 0 refuses every request, as such settings do on AWS.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Steady-state requests per second (`rateLimit`, or `rate`); may be
    /// fractional.
    #[serde(rename = "rateLimit", alias = "rate")]
    pub rate: f64,
    /// The bucket's capacity (`burstLimit`, or `burst`).
    #[serde(rename = "burstLimit", alias = "burst")]
    pub burst: u32,
}

impl RateLimit {
    /// AWS's default account-level limit per Region: 10,000 requests per second
    /// with a burst of 5,000.
    pub const ACCOUNT_DEFAULT: Self = Self {
        rate: 10_000.0,
        burst: 5_000,
    };

    /// A limit of `rate` requests per second with a bucket of `burst`.
    ///
    /// # Errors
    /// When `rate` is negative, NaN or infinite.
    pub fn new(rate: f64, burst: u32) -> Result<Self, LimitError> {
        let limit = Self { rate, burst };
        limit.validate()?;
        Ok(limit)
    }

    /// Checks the rate is a finite number, 0 or more.
    ///
    /// # Errors
    /// When it is not.
    pub fn validate(&self) -> Result<(), LimitError> {
        if self.rate.is_finite() && self.rate >= 0.0 {
            Ok(())
        } else {
            Err(LimitError::Rate(self.rate.to_string()))
        }
    }

    /// Whether the limit refuses every request (a rate or a burst of 0).
    #[must_use]
    pub fn refuses_all(&self) -> bool {
        self.burst == 0 || self.rate <= 0.0
    }

    /// Nanoseconds between two tokens (the GCRA emission interval), at least 1.
    #[must_use]
    pub fn interval_nanos(&self) -> u64 {
        if self.rate <= 0.0 {
            return u64::MAX;
        }
        let nanos = (1e9 / self.rate).round();
        if nanos >= u64::MAX as f64 {
            u64::MAX
        } else {
            (nanos as u64).max(1)
        }
    }

    /// The smaller of two limits, rate and burst each (what applies when both do).
    #[must_use]
    pub fn min(self, other: Self) -> Self {
        Self {
            rate: self.rate.min(other.rate),
            burst: self.burst.min(other.burst),
        }
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s burst {}", self.rate, self.burst)
    }
}

/// The period a quota counts over. Periods start at 00:00 UTC: every day, every
/// Sunday (`WEEK`) and on the first of every month (`MONTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum QuotaPeriod {
    /// A UTC day.
    Day,
    /// A week from Sunday 00:00 UTC.
    Week,
    /// A calendar month, UTC.
    Month,
}

impl QuotaPeriod {
    /// The period containing `day`: its first day and the first day of the next.
    #[must_use]
    pub fn window(self, day: Day) -> (Day, Day) {
        match self {
            Self::Day => (day, Day(day.0 + 1)),
            Self::Week => {
                // 1970-01-01 was a Thursday: day 0 is 4 days after a Sunday.
                let start = day.0 - (day.0 + 4).rem_euclid(7);
                (Day(start), Day(start + 7))
            }
            Self::Month => {
                let (y, m, _) = civil_from_days(day.0);
                let start = days_from_civil(y, m, 1);
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                (Day(start), Day(days_from_civil(ny, nm, 1)))
            }
        }
    }

    /// AWS's name for the period.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "DAY",
            Self::Week => "WEEK",
            Self::Month => "MONTH",
        }
    }
}

/// A usage plan's quota: at most `limit` requests per API key in each `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Requests allowed per period.
    pub limit: u64,
    /// The period.
    pub period: QuotaPeriod,
    /// Requests subtracted from the limit in the plan's first period (the one
    /// containing its creation date), as AWS's `offset` is.
    #[serde(default)]
    pub offset: u64,
}

impl Quota {
    /// A quota of `limit` requests per `period`, without offset.
    #[must_use]
    pub fn new(limit: u64, period: QuotaPeriod) -> Self {
        Self {
            limit,
            period,
            offset: 0,
        }
    }

    /// The same quota with `offset` requests taken off its first period.
    #[must_use]
    pub fn with_offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }

    /// Checks the offset is below the limit.
    ///
    /// # Errors
    /// When it is not (and is not 0).
    pub fn validate(&self) -> Result<(), LimitError> {
        if self.offset > 0 && self.offset >= self.limit {
            return Err(LimitError::Offset {
                offset: self.offset,
                limit: self.limit,
            });
        }
        Ok(())
    }

    /// The limit of the period starting on `period_start`, for a plan created on
    /// `created`: the offset comes off the period containing the creation day.
    #[must_use]
    pub fn limit_for(&self, period_start: Day, created: Day) -> u64 {
        if self.offset > 0 && self.period.window(created).0 == period_start {
            self.limit - self.offset
        } else {
            self.limit
        }
    }
}

/// A UTC calendar day, counted from 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i64);

impl Day {
    /// The day containing `epoch_secs`.
    #[must_use]
    pub fn from_epoch_secs(epoch_secs: u64) -> Self {
        Self(i64::try_from(epoch_secs / DAY_SECS).unwrap_or(i64::MAX))
    }

    /// The day containing `epoch_nanos`.
    #[must_use]
    pub fn from_epoch_nanos(epoch_nanos: u64) -> Self {
        Self::from_epoch_secs(epoch_nanos / 1_000_000_000)
    }

    /// Seconds since the epoch at 00:00 UTC of this day.
    #[must_use]
    pub fn start_epoch_secs(self) -> u64 {
        u64::try_from(self.0).unwrap_or(0) * DAY_SECS
    }

    /// The next day.
    #[must_use]
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }

    /// The day as `YYYYMMDD`, compact for storage keys.
    #[must_use]
    pub fn compact(self) -> String {
        let (y, m, d) = civil_from_days(self.0);
        format!("{y:04}{m:02}{d:02}")
    }
}

impl fmt::Display for Day {
    /// `YYYY-MM-DD`, as GetUsage writes dates.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.0);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Day {
    type Err = LimitError;

    /// Parses `YYYY-MM-DD`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || LimitError::Date(s.to_owned());
        let mut parts = s.splitn(3, '-');
        let mut field = |len: usize| -> Result<i64, LimitError> {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != len || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        let (y, m, d) = (field(4)?, field(2)?, field(2)?);
        let m = u32::try_from(m).map_err(|_| bad())?;
        let d = u32::try_from(d).map_err(|_| bad())?;
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return Err(bad());
        }
        Ok(Self(days_from_civil(y, m, d)))
    }
}

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        s.parse().unwrap()
    }

    #[test]
    fn dates_round_trip_through_the_calendar() {
        for s in [
            "1970-01-01",
            "2000-02-29",
            "2024-12-31",
            "2026-11-21",
            "2100-03-01",
        ] {
            assert_eq!(day(s).to_string(), s);
        }
        assert_eq!(day("1970-01-02").0, 1);
        assert_eq!(day("2026-11-21").compact(), "20261121");
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-1-01",
            "26-01-01",
            "2026-01-00",
            "x",
        ] {
            assert!(bad.parse::<Day>().is_err(), "{bad}");
        }
    }

    #[test]
    fn periods_start_on_utc_boundaries() {
        // 2026-11-21 is a Saturday.
        let sat = day("2026-11-21");
        assert_eq!(QuotaPeriod::Day.window(sat), (sat, day("2026-11-22")));
        assert_eq!(
            QuotaPeriod::Week.window(sat),
            (day("2026-11-15"), day("2026-11-22"))
        );
        // A Sunday starts its own week.
        let sun = day("2026-11-22");
        assert_eq!(QuotaPeriod::Week.window(sun).0, sun);
        assert_eq!(
            QuotaPeriod::Month.window(sat),
            (day("2026-11-01"), day("2026-12-01"))
        );
        assert_eq!(
            QuotaPeriod::Month.window(day("2026-12-31")),
            (day("2026-12-01"), day("2027-01-01"))
        );
        assert_eq!(
            QuotaPeriod::Month.window(day("2028-02-10")),
            (day("2028-02-01"), day("2028-03-01"))
        );
    }

    #[test]
    fn the_offset_comes_off_the_first_period_only() {
        let quota = Quota::new(100, QuotaPeriod::Month).with_offset(30);
        let created = day("2026-11-05");
        assert_eq!(quota.limit_for(day("2026-11-01"), created), 70);
        assert_eq!(quota.limit_for(day("2026-12-01"), created), 100);
        assert!(
            Quota::new(10, QuotaPeriod::Day)
                .with_offset(10)
                .validate()
                .is_err()
        );
        assert!(quota.validate().is_ok());
    }

    #[test]
    fn rate_limits_validate_and_compare() {
        assert!(RateLimit::new(f64::NAN, 1).is_err());
        assert!(RateLimit::new(-1.0, 1).is_err());
        let limit = RateLimit::new(0.5, 2).unwrap();
        assert_eq!(limit.interval_nanos(), 2_000_000_000);
        assert!(!limit.refuses_all());
        assert!(RateLimit::new(0.0, 10).unwrap().refuses_all());
        assert!(RateLimit::new(10.0, 0).unwrap().refuses_all());
        assert_eq!(
            RateLimit::ACCOUNT_DEFAULT.min(limit),
            RateLimit {
                rate: 0.5,
                burst: 2
            }
        );
    }
}
