//! The state behind throttles and quotas: one trait, an in-memory implementation
//! and (with the `redis` feature) a Redis one shared by several gateway nodes.
//!
//! Everything a decision needs is prepared when a stage is compiled: a [`Bucket`]
//! for each shared token bucket (the account, a stage's method) and a [`PlanKey`]
//! for each API key of a usage plan (its buckets, its quota and usage counters).
//! At request time [`ThrottleBackend::decide`] takes one token from every bucket
//! that applies and counts the request against the key's quota, all or nothing,
//! in one step (one round trip for Redis).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use gateway_core::clock::Clock;

use crate::limits::{Day, RateLimit};
use crate::memory::{LocalBucket, LocalKey};
use crate::plan::{MethodKey, MethodThrottles, UsagePlan};

/// A shared token bucket, prepared by a backend.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub(crate) name: Arc<str>,
    pub(crate) limit: RateLimit,
    pub(crate) local: Option<Arc<LocalBucket>>,
}

impl Bucket {
    /// The bucket's name: what identifies its state across reloads and nodes
    /// (for the Redis backend, its key, prefix included).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bucket's limit.
    #[must_use]
    pub fn limit(&self) -> RateLimit {
        self.limit
    }
}

/// One of a plan's per-method throttles: which API stage and method it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanMethod {
    /// The API id.
    pub api_id: String,
    /// The stage.
    pub stage: String,
    /// The method.
    pub method: MethodKey,
    /// The throttle.
    pub limit: RateLimit,
}

/// The per-method throttles of a plan, flattened: an index into this list names
/// a method throttle in [`Check`].
pub(crate) fn plan_methods(plan: &UsagePlan) -> Vec<PlanMethod> {
    let mut out = Vec::new();
    for stage in &plan.api_stages {
        // Validated by `UsagePlans::new`; a plan built by hand with a bad key has
        // no method throttles for that stage.
        let Ok(throttles) = MethodThrottles::from_map(&stage.throttle) else {
            continue;
        };
        for (method, limit) in throttles.iter() {
            out.push(PlanMethod {
                api_id: stage.api_id.clone(),
                stage: stage.stage.clone(),
                method: method.clone(),
                limit: *limit,
            });
        }
    }
    out
}

/// An API key in a usage plan, prepared by a backend: the key's plan throttle,
/// its per-method throttles, its quota and usage counters.
#[derive(Debug, Clone)]
pub struct PlanKey {
    pub(crate) plan: Arc<UsagePlan>,
    pub(crate) key_id: Arc<str>,
    pub(crate) methods: Arc<[PlanMethod]>,
    /// The name of the key's plan-wide bucket, when the plan has a throttle.
    pub(crate) plan_bucket: Option<Arc<str>>,
    /// The names of the key's per-method buckets, as `methods`.
    pub(crate) method_buckets: Arc<[Arc<str>]>,
    pub(crate) local: Option<Arc<LocalKey>>,
}

impl PlanKey {
    /// A key's names, for a backend to attach its state to.
    pub(crate) fn unprepared(plan: &Arc<UsagePlan>, key_id: &str) -> Self {
        let methods = plan_methods(plan);
        let base = format!("plan:{}:key:{key_id}", plan.id);
        let method_buckets = methods
            .iter()
            .map(|m| format!("{base}:{}:{}:{}", m.api_id, m.stage, m.method).into())
            .collect();
        Self {
            plan: Arc::clone(plan),
            key_id: key_id.into(),
            methods: methods.into(),
            plan_bucket: plan.throttle.map(|_| base.into()),
            method_buckets,
            local: None,
        }
    }

    /// The plan.
    #[must_use]
    pub fn plan(&self) -> &Arc<UsagePlan> {
        &self.plan
    }

    /// The API key's id.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The name of the key's plan-wide bucket, when the plan has a throttle (for
    /// the Redis backend, its key, prefix included).
    #[must_use]
    pub fn plan_bucket(&self) -> Option<&str> {
        self.plan_bucket.as_deref()
    }

    /// The index of the plan's per-method throttle for a route of an API stage:
    /// the method's own entry, else the stage's `*/*`.
    #[must_use]
    pub fn method_slot(
        &self,
        api_id: &str,
        stage: &str,
        path: &str,
        method: &str,
    ) -> Option<usize> {
        let for_stage = |m: &&PlanMethod| m.api_id == api_id && m.stage == stage;
        let position = |specific: bool| {
            self.methods.iter().position(|m| {
                for_stage(&m)
                    && matches!(m.method, MethodKey::All) != specific
                    && m.method.matches(path, method)
            })
        };
        position(true).or_else(|| position(false))
    }

    /// The plan's per-method throttles.
    #[must_use]
    pub fn methods(&self) -> &[PlanMethod] {
        &self.methods
    }
}

/// What one request must pass.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    /// Shared buckets, the most specific first (a stage's method, then the
    /// account).
    pub buckets: &'a [Bucket],
    /// The caller's API key in its usage plan, and the index of the plan's
    /// per-method throttle for this method ([`PlanKey::method_slot`]).
    pub key: Option<(&'a PlanKey, Option<usize>)>,
}

/// A decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every bucket had a token and the quota had room: the request was counted.
    Allowed,
    /// A bucket was empty. Nothing was counted against the quota; the Redis
    /// backend took no token anywhere, the in-memory one keeps the tokens the
    /// buckets checked before this one gave (the more specific ones).
    Throttled(Level),
    /// The key's quota for the period is used up.
    QuotaExceeded,
}

/// Which throttle refused a request, in AWS's order of application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// A usage plan's per-method throttle for the key.
    PlanMethod,
    /// A usage plan's throttle for the key.
    Plan,
    /// A shared bucket, by its position in [`Check::buckets`].
    Shared(usize),
}

/// The state behind the decision could not be reached.
#[derive(Debug, Clone, thiserror::Error)]
#[error("throttle backend unavailable: {0}")]
pub struct BackendError(pub String);

/// The outcome of [`ThrottleBackend::decide`]: ready at once for the in-memory
/// backend, after a round trip for Redis.
#[must_use = "a decision does nothing unless awaited"]
pub enum Decision {
    /// Decided already.
    Ready(Option<Result<Verdict, BackendError>>),
    /// Waiting for a remote store.
    Pending(Pin<Box<dyn Future<Output = Result<Verdict, BackendError>> + Send>>),
}

impl Decision {
    /// A decision taken already.
    pub fn ready(result: Result<Verdict, BackendError>) -> Self {
        Self::Ready(Some(result))
    }
}

impl fmt::Debug for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready(r) => f.debug_tuple("Ready").field(r).finish(),
            Self::Pending(_) => f.write_str("Pending"),
        }
    }
}

impl Future for Decision {
    type Output = Result<Verdict, BackendError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut *self {
            Self::Ready(result) => Poll::Ready(
                result
                    .take()
                    .unwrap_or_else(|| Err(BackendError("decision polled twice".into()))),
            ),
            Self::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

/// A boxed future of the backends' slower, administrative answers.
pub type BackendFuture<T> = Pin<Box<dyn Future<Output = Result<T, BackendError>> + Send>>;

/// Where buckets, quotas and usage live.
pub trait ThrottleBackend: Send + Sync + fmt::Debug + 'static {
    /// Prepares the shared bucket `name` with `limit`. Preparing a name again
    /// with the same limit (after a reload) continues its state.
    fn bucket(&self, name: &str, limit: RateLimit) -> Bucket;

    /// Prepares API key `key_id` in `plan`. Its quota and usage counters continue
    /// across reloads for as long as the plan id and key id stay the same.
    fn plan_key(&self, plan: &Arc<UsagePlan>, key_id: &str) -> PlanKey;

    /// Takes a token from every bucket `check` names and counts the request
    /// against the key's quota and usage, or nothing at all when one refuses.
    fn decide(&self, check: &Check<'_>) -> Decision;

    /// Requests counted for `key` on each day from `from` to `to`, inclusive.
    fn daily_usage(&self, key: &PlanKey, from: Day, to: Day) -> BackendFuture<Vec<u64>>;

    /// The clock decisions are taken by.
    fn clock(&self) -> &Clock;
}

impl<T: ThrottleBackend + ?Sized> ThrottleBackend for Arc<T> {
    fn bucket(&self, name: &str, limit: RateLimit) -> Bucket {
        (**self).bucket(name, limit)
    }

    fn plan_key(&self, plan: &Arc<UsagePlan>, key_id: &str) -> PlanKey {
        (**self).plan_key(plan, key_id)
    }

    fn decide(&self, check: &Check<'_>) -> Decision {
        (**self).decide(check)
    }

    fn daily_usage(&self, key: &PlanKey, from: Day, to: Day) -> BackendFuture<Vec<u64>> {
        (**self).daily_usage(key, from, to)
    }

    fn clock(&self) -> &Clock {
        (**self).clock()
    }
}
