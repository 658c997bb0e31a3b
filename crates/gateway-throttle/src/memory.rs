//! The in-memory backend: governor's GCRA for buckets, packed atomic counters for
//! quotas and daily usage. Decisions take no lock.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gateway_core::clock::Clock;
use governor::state::{InMemoryState, NotKeyed};

use crate::backend::{
    BackendError, BackendFuture, Bucket, Check, Decision, Level, PlanKey, ThrottleBackend, Verdict,
};
use crate::clock::BucketClock;
use crate::limits::{Day, RateLimit};
use crate::plan::UsagePlan;

/// Days of daily usage kept per key.
pub const USAGE_RETENTION_DAYS: i64 = 90;

type Limiter = governor::RateLimiter<
    NotKeyed,
    InMemoryState,
    BucketClock,
    governor::middleware::NoOpMiddleware<governor::nanos::Nanos>,
>;

/// One token bucket in this process.
#[derive(Debug)]
pub(crate) enum LocalBucket {
    /// A rate or burst of 0.
    RefusesAll,
    /// A GCRA limiter.
    Limiter(Limiter),
}

impl LocalBucket {
    fn new(limit: RateLimit, clock: &Clock) -> Self {
        if limit.refuses_all() {
            return Self::RefusesAll;
        }
        let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
        match governor::Quota::with_period(Duration::from_nanos(limit.interval_nanos())) {
            Some(quota) => Self::Limiter(Limiter::direct_with_clock(
                quota.allow_burst(burst),
                BucketClock(clock.clone()),
            )),
            None => Self::RefusesAll,
        }
    }

    /// Takes a token if there is one.
    pub(crate) fn try_take(&self) -> bool {
        match self {
            Self::RefusesAll => false,
            Self::Limiter(limiter) => limiter.check().is_ok(),
        }
    }
}

const COUNT_BITS: u32 = 40;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

fn pack(day: Day, count: u64) -> u64 {
    (u64::try_from(day.0).unwrap_or(0) << COUNT_BITS) | count.min(COUNT_MASK)
}

fn unpack(packed: u64) -> (Day, u64) {
    (
        Day(i64::try_from(packed >> COUNT_BITS).unwrap_or(0)),
        packed & COUNT_MASK,
    )
}

/// A key's quota and usage counters in one plan; they outlive reloads.
#[derive(Debug, Default)]
pub(crate) struct KeyCounters {
    /// (first day of the quota period, requests counted in it).
    quota: AtomicU64,
    /// (day, requests counted on it): the current day's usage.
    today: AtomicU64,
    /// Earlier days' usage.
    history: Mutex<BTreeMap<Day, u64>>,
}

impl KeyCounters {
    /// Counts one request in the period starting on `start` unless `limit` are
    /// counted already.
    fn reserve(&self, start: Day, limit: u64) -> bool {
        let mut current = self.quota.load(Ordering::Acquire);
        loop {
            let (period, count) = unpack(current);
            let count = if period == start { count } else { 0 };
            if count >= limit {
                return false;
            }
            match self.quota.compare_exchange_weak(
                current,
                pack(start, count + 1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }

    /// Gives back a request [`reserve`](Self::reserve) counted.
    fn refund(&self, start: Day) {
        let mut current = self.quota.load(Ordering::Acquire);
        loop {
            let (period, count) = unpack(current);
            if period != start || count == 0 {
                return;
            }
            match self.quota.compare_exchange_weak(
                current,
                pack(start, count - 1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }

    /// Requests counted in the period starting on `start`.
    fn quota_used(&self, start: Day) -> u64 {
        let (period, count) = unpack(self.quota.load(Ordering::Acquire));
        if period == start { count } else { 0 }
    }

    /// Counts one request on `day`.
    fn record(&self, day: Day) {
        let mut current = self.today.load(Ordering::Acquire);
        loop {
            let (seen_day, count) = unpack(current);
            let next = match seen_day.cmp(&day) {
                std::cmp::Ordering::Equal => pack(day, count + 1),
                std::cmp::Ordering::Less => pack(day, 1),
                std::cmp::Ordering::Greater => {
                    // The clock went back a day: count into the history.
                    *self.history().entry(day).or_insert(0) += 1;
                    return;
                }
            };
            match self.today.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if seen_day < day && count > 0 {
                        let mut history = self.history();
                        *history.entry(seen_day).or_insert(0) += count;
                        let oldest = Day(day.0 - USAGE_RETENTION_DAYS);
                        history.retain(|d, _| *d >= oldest);
                    }
                    return;
                }
                Err(seen) => current = seen,
            }
        }
    }

    fn history(&self) -> std::sync::MutexGuard<'_, BTreeMap<Day, u64>> {
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn usage(&self, from: Day, to: Day) -> Vec<u64> {
        let (today, count) = unpack(self.today.load(Ordering::Acquire));
        let history = self.history();
        let mut out = Vec::new();
        let mut day = from;
        while day <= to {
            let mut used = history.get(&day).copied().unwrap_or(0);
            if day == today {
                used += count;
            }
            out.push(used);
            day = day.next();
        }
        out
    }
}

/// A key's state in this process: its buckets and its counters.
#[derive(Debug)]
pub(crate) struct LocalKey {
    plan_bucket: Option<Arc<LocalBucket>>,
    methods: Vec<Arc<LocalBucket>>,
    counters: Arc<KeyCounters>,
}

/// A bucket prepared under a name, with the limit it was prepared with.
type NamedBucket = (RateLimit, Arc<LocalBucket>);

/// Buckets and counters in this process: the embedded default.
///
/// Bucket state and quota counters are kept by name, so a reload that prepares the
/// same buckets and keys again continues where the last deployment left off.
#[derive(Debug)]
pub struct MemoryBackend {
    clock: Clock,
    buckets: Mutex<HashMap<Arc<str>, NamedBucket>>,
    counters: Mutex<HashMap<(String, String), Arc<KeyCounters>>>,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new(Clock::system())
    }
}

impl MemoryBackend {
    /// An empty backend on `clock`.
    #[must_use]
    pub fn new(clock: Clock) -> Self {
        Self {
            clock,
            buckets: Mutex::new(HashMap::new()),
            counters: Mutex::new(HashMap::new()),
        }
    }

    fn local_bucket(&self, name: &Arc<str>, limit: RateLimit) -> Arc<LocalBucket> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((known, bucket)) = buckets.get(name)
            && *known == limit
        {
            return Arc::clone(bucket);
        }
        let bucket = Arc::new(LocalBucket::new(limit, &self.clock));
        buckets.insert(Arc::clone(name), (limit, Arc::clone(&bucket)));
        bucket
    }

    /// Requests counted in `key`'s current quota period, and the period's limit
    /// (`None` when the plan has no quota).
    #[must_use]
    pub fn quota_used(&self, key: &PlanKey) -> Option<(u64, u64)> {
        let local = key.local.as_ref()?;
        let quota = key.plan.quota?;
        let today = Day::from_epoch_nanos(self.clock.now_nanos());
        let (start, _) = quota.period.window(today);
        let limit = key.plan.quota_limit(start)?;
        Some((local.counters.quota_used(start), limit))
    }
}

fn refused(reserved: Option<(&KeyCounters, Day)>, verdict: Verdict) -> Decision {
    if let Some((counters, start)) = reserved {
        counters.refund(start);
    }
    Decision::ready(Ok(verdict))
}

fn foreign() -> Decision {
    Decision::ready(Err(BackendError(
        "a bucket or key prepared by another backend was given to the in-memory backend".into(),
    )))
}

impl ThrottleBackend for MemoryBackend {
    fn bucket(&self, name: &str, limit: RateLimit) -> Bucket {
        let name: Arc<str> = name.into();
        let local = self.local_bucket(&name, limit);
        Bucket {
            name,
            limit,
            local: Some(local),
        }
    }

    fn plan_key(&self, plan: &Arc<UsagePlan>, key_id: &str) -> PlanKey {
        let mut key = PlanKey::unprepared(plan, key_id);
        let plan_bucket = match (&key.plan_bucket, plan.throttle) {
            (Some(name), Some(limit)) => Some(self.local_bucket(name, limit)),
            _ => None,
        };
        let methods = key
            .method_buckets
            .iter()
            .zip(key.methods.iter())
            .map(|(name, method)| self.local_bucket(name, method.limit))
            .collect();
        let counters = Arc::clone(
            self.counters
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry((plan.id.clone(), key_id.to_owned()))
                .or_default(),
        );
        key.local = Some(Arc::new(LocalKey {
            plan_bucket,
            methods,
            counters,
        }));
        key
    }

    fn decide(&self, check: &Check<'_>) -> Decision {
        let mut reserved = None;
        let mut today = None;
        if let Some((key, slot)) = check.key {
            let Some(local) = &key.local else {
                return foreign();
            };
            // The quota is reserved first and given back if a bucket refuses, so
            // a refusal by the quota takes no token. While a reservation is out,
            // a request for the key's very last unit of quota may see it taken
            // and get `QuotaExceeded` a moment early; the count stays exact.
            if let Some(quota) = key.plan.quota {
                let day = Day::from_epoch_nanos(self.clock.now_nanos());
                let (start, _) = quota.period.window(day);
                let limit = key.plan.quota_limit(start).unwrap_or(quota.limit);
                if !local.counters.reserve(start, limit) {
                    return Decision::ready(Ok(Verdict::QuotaExceeded));
                }
                reserved = Some((&*local.counters, start));
                today = Some(day);
            }
            if let Some(bucket) = slot.and_then(|i| local.methods.get(i))
                && !bucket.try_take()
            {
                return refused(reserved, Verdict::Throttled(Level::PlanMethod));
            }
            if let Some(bucket) = &local.plan_bucket
                && !bucket.try_take()
            {
                return refused(reserved, Verdict::Throttled(Level::Plan));
            }
        }
        for (i, bucket) in check.buckets.iter().enumerate() {
            let Some(local) = &bucket.local else {
                return foreign();
            };
            if !local.try_take() {
                return refused(reserved, Verdict::Throttled(Level::Shared(i)));
            }
        }
        if let Some((key, _)) = check.key
            && let Some(local) = &key.local
        {
            let day = today.unwrap_or_else(|| Day::from_epoch_nanos(self.clock.now_nanos()));
            local.counters.record(day);
        }
        Decision::ready(Ok(Verdict::Allowed))
    }

    fn daily_usage(&self, key: &PlanKey, from: Day, to: Day) -> BackendFuture<Vec<u64>> {
        let result = match &key.local {
            Some(local) => Ok(local.counters.usage(from, to)),
            None => Err(BackendError(
                "the key was prepared by another backend".into(),
            )),
        };
        Box::pin(std::future::ready(result))
    }

    fn clock(&self) -> &Clock {
        &self.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{Quota, QuotaPeriod};
    use crate::plan::ApiStage;

    fn ready(decision: Decision) -> Result<Verdict, BackendError> {
        match decision {
            Decision::Ready(Some(result)) => result,
            other => panic!("not ready: {other:?}"),
        }
    }

    fn at(day: &str) -> (Clock, gateway_core::clock::ManualClock) {
        let day: Day = day.parse().unwrap();
        Clock::manual(Duration::from_secs(day.start_epoch_secs()))
    }

    #[test]
    fn a_bucket_gives_its_burst_then_refills_at_its_rate() {
        let (clock, time) = at("2026-11-21");
        let backend = MemoryBackend::new(clock);
        let bucket = backend.bucket("b", RateLimit::new(2.0, 3).unwrap());
        let buckets = [bucket];
        let check = Check {
            buckets: &buckets,
            key: None,
        };
        for _ in 0..3 {
            assert_eq!(ready(backend.decide(&check)).unwrap(), Verdict::Allowed);
        }
        assert_eq!(
            ready(backend.decide(&check)).unwrap(),
            Verdict::Throttled(Level::Shared(0))
        );
        time.advance(Duration::from_millis(500));
        assert_eq!(ready(backend.decide(&check)).unwrap(), Verdict::Allowed);
        assert!(matches!(
            ready(backend.decide(&check)).unwrap(),
            Verdict::Throttled(_)
        ));
    }

    #[test]
    fn zero_limits_refuse_everything() {
        let backend = MemoryBackend::default();
        let buckets = [backend.bucket("z", RateLimit::new(0.0, 10).unwrap())];
        let check = Check {
            buckets: &buckets,
            key: None,
        };
        assert!(matches!(
            ready(backend.decide(&check)).unwrap(),
            Verdict::Throttled(_)
        ));
    }

    #[test]
    fn buckets_and_counters_survive_being_prepared_again() {
        let (clock, _time) = at("2026-11-21");
        let backend = MemoryBackend::new(clock);
        let limit = RateLimit::new(1.0, 1).unwrap();
        let first = [backend.bucket("b", limit)];
        let check = Check {
            buckets: &first,
            key: None,
        };
        assert_eq!(ready(backend.decide(&check)).unwrap(), Verdict::Allowed);
        let again = [backend.bucket("b", limit)];
        let check = Check {
            buckets: &again,
            key: None,
        };
        assert!(matches!(
            ready(backend.decide(&check)).unwrap(),
            Verdict::Throttled(_)
        ));
        // A new limit is a new bucket.
        let changed = [backend.bucket("b", RateLimit::new(1.0, 2).unwrap())];
        let check = Check {
            buckets: &changed,
            key: None,
        };
        assert_eq!(ready(backend.decide(&check)).unwrap(), Verdict::Allowed);
    }

    #[test]
    fn quotas_count_allowed_requests_and_reset_on_the_period_boundary() {
        let (clock, time) = at("2026-11-21");
        let backend = MemoryBackend::new(clock);
        let plan = Arc::new(
            UsagePlan::new("p", "P")
                .with_stage(ApiStage::new("a", "s"))
                .with_quota(Quota::new(3, QuotaPeriod::Day))
                .with_key("k"),
        );
        let key = backend.plan_key(&plan, "k");
        let refusing = [backend.bucket("none", RateLimit::new(0.0, 0).unwrap())];
        let check = Check {
            buckets: &[],
            key: Some((&key, None)),
        };
        // A throttled request does not count against the quota.
        let throttled = Check {
            buckets: &refusing,
            key: Some((&key, None)),
        };
        assert!(matches!(
            ready(backend.decide(&throttled)).unwrap(),
            Verdict::Throttled(Level::Shared(0))
        ));
        for _ in 0..3 {
            assert_eq!(ready(backend.decide(&check)).unwrap(), Verdict::Allowed);
        }
        assert_eq!(
            ready(backend.decide(&check)).unwrap(),
            Verdict::QuotaExceeded
        );
        assert_eq!(backend.quota_used(&key), Some((3, 3)));
        time.advance(Duration::from_secs(86_400));
        assert_eq!(ready(backend.decide(&check)).unwrap(), Verdict::Allowed);
        let d: Day = "2026-11-21".parse().unwrap();
        let usage = futures_ready(backend.daily_usage(&key, d, d.next().next()));
        assert_eq!(usage, vec![3, 1, 0]);
    }

    fn futures_ready(future: BackendFuture<Vec<u64>>) -> Vec<u64> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
            .unwrap()
    }

    #[test]
    fn packed_counters_round_trip() {
        let day: Day = "2026-11-21".parse().unwrap();
        assert_eq!(unpack(pack(day, 12_345)), (day, 12_345));
    }
}
