//! API Gateway's throttling, usage plans and quotas, as a tower layer in front of
//! any service, with state in memory or shared by several gateway nodes through
//! Redis.
//!
//! - [`limits`]: token-bucket limits ([`RateLimit`]), quotas ([`Quota`]) and the
//!   UTC calendar their periods follow.
//! - [`plan`]: usage plans, the API stages they cover, their keys, and the
//!   method-settings keys (`/pets/GET`, `*/*`) per-method throttles are given by.
//! - [`backend`]: the [`ThrottleBackend`] trait; [`MemoryBackend`] (governor's
//!   GCRA and atomic counters) is the embedded default, `RedisBackend` (feature
//!   `redis`) decides in one Lua script per request so nodes share buckets and
//!   quotas.
//! - [`layer`]: [`ThrottleLayer`], which checks every throttle that applies to a
//!   request (the key's per-method and plan throttles, the stage's method
//!   throttle, the account's) and the key's quota, and answers AWS's 429s and
//!   403s. It rejects, never queues.
//! - [`usage`]: usage per key per day in the shape of AWS's `GetUsage`, and the
//!   quota a key has left.
//! - [`Clock`]: the time decisions use ([`gateway_core::clock::Clock`], re-exported
//!   here), manual in tests.
//!
//! ```
//! use std::sync::Arc;
//! use gateway_throttle::{MemoryBackend, RateLimit, ThrottleLayer};
//!
//! let backend = Arc::new(MemoryBackend::default());
//! let layer = ThrottleLayer::builder(backend)
//!     .limit("orders:GET", RateLimit::new(100.0, 50).unwrap(), "method")
//!     .account(RateLimit::ACCOUNT_DEFAULT)
//!     .build();
//! # let _ = layer;
//! ```

pub mod backend;
mod clock;
pub mod layer;
pub mod limits;
mod memory;
mod metrics;
pub mod plan;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "test-redis")]
pub mod redis_server;
pub mod usage;

pub use backend::{
    BackendError, Bucket, Check, Decision, Level, PlanKey, ThrottleBackend, Verdict,
};
pub use gateway_core::clock::{Clock, ManualClock};
pub use layer::{
    FailurePolicy, MethodPlans, StagePlans, ThrottleLayer, ThrottleLayerBuilder, ThrottleService,
    key_from_context,
};
pub use limits::{Day, Quota, QuotaPeriod, RateLimit};
pub use memory::{MemoryBackend, USAGE_RETENTION_DAYS};
pub use metrics::{ThrottleLabels, ThrottleMetrics};
pub use plan::{ApiStage, MethodKey, MethodThrottles, UsagePlan, UsagePlans};
#[cfg(feature = "redis")]
pub use redis::{RedisBackend, RedisConfig};
