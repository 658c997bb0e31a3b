//! Throttle and quota rejections and backend failures, counted in the gateway's
//! metrics registry, and the log lines that say when the backend is lost and back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gateway_core::observe::metrics::MetricsRegistry;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// Labels of the throttle families.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ThrottleLabels {
    /// The API id (empty when the layer is used alone).
    pub api: String,
    /// The stage.
    pub stage: String,
    /// What refused the request: `account`, `method`, `plan`, `plan_method`,
    /// `quota` or `forbidden`; for backend failures, `open` or `closed`.
    pub level: String,
}

/// The throttle metric families, shared by every throttling layer of a gateway.
///
/// - `apigateway_throttled_requests_total`: 429s from a throttle, by level;
/// - `apigateway_quota_exceeded_total`: 429s from a quota;
/// - `apigateway_usage_plan_forbidden_total`: 403s for keys outside the stage's plans;
/// - `apigateway_throttle_backend_errors_total`: decisions the backend could not
///   take, by the policy applied (`open`: let through; `closed`: refused).
#[derive(Debug, Clone)]
pub struct ThrottleMetrics {
    throttled: Family<ThrottleLabels, Counter>,
    quota: Family<ThrottleLabels, Counter>,
    forbidden: Family<ThrottleLabels, Counter>,
    backend_errors: Family<ThrottleLabels, Counter>,
    reachable: Arc<AtomicBool>,
}

impl Default for ThrottleMetrics {
    fn default() -> Self {
        Self::detached()
    }
}

impl ThrottleMetrics {
    /// Families registered in `registry`.
    #[must_use]
    pub fn new(registry: &MetricsRegistry) -> Self {
        let metrics = Self::detached();
        registry.register(|r| {
            r.register(
                "throttled_requests",
                "Requests refused with 429 by a throttle, by level",
                metrics.throttled.clone(),
            );
            r.register(
                "quota_exceeded",
                "Requests refused with 429 because the key's quota is used up",
                metrics.quota.clone(),
            );
            r.register(
                "usage_plan_forbidden",
                "Requests refused with 403 because no usage plan of the stage has the key",
                metrics.forbidden.clone(),
            );
            r.register(
                "throttle_backend_errors",
                "Throttle decisions the backend could not take, by the policy applied",
                metrics.backend_errors.clone(),
            );
        });
        metrics
    }

    /// Families in no registry (the layer used alone without metrics).
    #[must_use]
    pub fn detached() -> Self {
        Self {
            throttled: Family::default(),
            quota: Family::default(),
            forbidden: Family::default(),
            backend_errors: Family::default(),
            reachable: Arc::new(AtomicBool::new(true)),
        }
    }

    /// The counters of one API stage, resolved once.
    pub(crate) fn handles(&self, api: &str, stage: &str, shared_levels: &[&str]) -> Handles {
        // One statement per counter: `get_or_create` hands out a read guard that
        // must be gone before the next call takes the family's write lock.
        let counter = |family: &Family<ThrottleLabels, Counter>, level: &str| {
            let labels = ThrottleLabels {
                api: api.to_owned(),
                stage: stage.to_owned(),
                level: level.to_owned(),
            };
            family.get_or_create(&labels).clone()
        };
        let shared = shared_levels
            .iter()
            .map(|l| counter(&self.throttled, l))
            .collect();
        let plan = counter(&self.throttled, "plan");
        let plan_method = counter(&self.throttled, "plan_method");
        let quota = counter(&self.quota, "quota");
        let forbidden = counter(&self.forbidden, "forbidden");
        let failed_open = counter(&self.backend_errors, "open");
        let failed_closed = counter(&self.backend_errors, "closed");
        Handles {
            shared,
            plan,
            plan_method,
            quota,
            forbidden,
            failed_open,
            failed_closed,
            reachable: Arc::clone(&self.reachable),
        }
    }
}

/// One layer's counters.
#[derive(Debug, Clone)]
pub(crate) struct Handles {
    pub(crate) shared: Box<[Counter]>,
    pub(crate) plan: Counter,
    pub(crate) plan_method: Counter,
    pub(crate) quota: Counter,
    pub(crate) forbidden: Counter,
    pub(crate) failed_open: Counter,
    pub(crate) failed_closed: Counter,
    reachable: Arc<AtomicBool>,
}

impl Handles {
    /// Notes a decision the backend took: logs once when it is back.
    pub(crate) fn backend_answered(&self) {
        if !self.reachable.load(Ordering::Relaxed) && !self.reachable.swap(true, Ordering::AcqRel) {
            tracing::info!("throttle backend reachable again; throttles and quotas apply");
        }
    }

    /// Notes a decision the backend could not take: logs once until it is back.
    pub(crate) fn backend_failed(&self, error: &str, fail_open: bool) {
        if fail_open {
            self.failed_open.inc();
        } else {
            self.failed_closed.inc();
        }
        if self.reachable.swap(false, Ordering::AcqRel) {
            let policy = if fail_open {
                "letting requests through unthrottled (fail open)"
            } else {
                "refusing requests with 429 (fail closed)"
            };
            tracing::warn!(%error, "throttle backend unreachable; {policy} until it is back");
        }
    }
}
