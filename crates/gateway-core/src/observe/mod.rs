//! Observability: Prometheus metrics, access logs and `X-Amzn-Trace-Id`.
//!
//! - [`metrics`]: one [`MetricsRegistry`](metrics::MetricsRegistry) per gateway. The
//!   per-method families (Count, 4XXError, 5XXError, Latency, IntegrationLatency)
//!   live here; other crates register their own families in the same registry.
//!   Handles for one route are resolved when the route is compiled, so recording is
//!   a few atomic additions.
//! - [`access_log`]: an AWS-style access-log format of `$context` variables,
//!   compiled once, rendered to one line per request, written off the request path.
//! - [`trace`]: parsing, generating and propagating `X-Amzn-Trace-Id`.

pub mod access_log;
pub mod metrics;
pub mod trace;
