//! Prometheus metrics in the text exposition format.
//!
//! The names mirror API Gateway's CloudWatch metrics: `Count`, `4XXError`,
//! `5XXError`, `Latency` and `IntegrationLatency`, labelled by API, stage, method and
//! resource path. Latencies are histograms in milliseconds, as CloudWatch reports them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of the per-method families.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// The API id.
    pub api: String,
    /// The stage.
    pub stage: String,
    /// The HTTP method of the route (`ANY` included).
    pub method: String,
    /// The resource path template.
    pub resource: String,
}

type HistogramFamily = Family<MethodLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new([
        1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0,
        30_000.0,
    ])
}

/// The gateway's metric families.
#[derive(Debug, Clone)]
struct GatewayFamilies {
    count: Family<MethodLabels, Counter>,
    errors_4xx: Family<MethodLabels, Counter>,
    errors_5xx: Family<MethodLabels, Counter>,
    latency: HistogramFamily,
    integration_latency: HistogramFamily,
}

/// The gateway's metrics registry, shared by every crate that adds metrics.
#[derive(Debug, Clone)]
pub struct MetricsRegistry {
    registry: Arc<Mutex<Registry>>,
    families: GatewayFamilies,
}

impl Default for MetricsRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl MetricsRegistry {
    /// A registry holding the per-method gateway families, prefixed `apigateway_`.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("apigateway");
        let families = GatewayFamilies {
            count: Family::default(),
            errors_4xx: Family::default(),
            errors_5xx: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            integration_latency: Family::new_with_constructor(latency_histogram),
        };
        registry.register("count", "Requests received (Count)", families.count.clone());
        registry.register(
            "4xx_errors",
            "Requests answered with a 4XX status (4XXError)",
            families.errors_4xx.clone(),
        );
        registry.register(
            "5xx_errors",
            "Requests answered with a 5XX status (5XXError)",
            families.errors_5xx.clone(),
        );
        registry.register(
            "latency_milliseconds",
            "Time from receiving a request to answering it (Latency)",
            families.latency.clone(),
        );
        registry.register(
            "integration_latency_milliseconds",
            "Time spent waiting for the integration (IntegrationLatency)",
            families.integration_latency.clone(),
        );
        Self {
            registry: Arc::new(Mutex::new(registry)),
            families,
        }
    }

    /// Registers more metrics (caches, throttles, authorizers) in this registry.
    pub fn register<F: FnOnce(&mut Registry)>(&self, f: F) {
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut registry);
    }

    /// Resolves the handles of one route, once, when the route is compiled.
    #[must_use]
    pub fn route(&self, labels: &MethodLabels) -> RouteMetrics {
        RouteMetrics {
            count: self.families.count.get_or_create(labels).clone(),
            errors_4xx: self.families.errors_4xx.get_or_create(labels).clone(),
            errors_5xx: self.families.errors_5xx.get_or_create(labels).clone(),
            latency: self.families.latency.get_or_create(labels).clone(),
            integration_latency: self
                .families
                .integration_latency
                .get_or_create(labels)
                .clone(),
        }
    }

    /// Encodes every metric in the Prometheus text format.
    #[must_use]
    pub fn encode(&self) -> String {
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

/// The metric handles of one route: recording is lock-free.
#[derive(Debug, Clone)]
pub struct RouteMetrics {
    count: Counter,
    errors_4xx: Counter,
    errors_5xx: Counter,
    latency: Histogram,
    integration_latency: Histogram,
}

impl RouteMetrics {
    /// Records one answered request.
    pub fn record(
        &self,
        status: http::StatusCode,
        latency: Duration,
        integration: Option<Duration>,
    ) {
        self.count.inc();
        if status.is_client_error() {
            self.errors_4xx.inc();
        } else if status.is_server_error() {
            self.errors_5xx.inc();
        }
        self.latency.observe(latency.as_secs_f64() * 1_000.0);
        if let Some(integration) = integration {
            self.integration_latency
                .observe(integration.as_secs_f64() * 1_000.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_handles_feed_the_shared_families() {
        let registry = MetricsRegistry::new();
        let labels = MethodLabels {
            api: "a1".into(),
            stage: "prod".into(),
            method: "GET".into(),
            resource: "/pets".into(),
        };
        let one = registry.route(&labels);
        let two = registry.route(&labels);
        one.record(
            http::StatusCode::OK,
            Duration::from_millis(3),
            Some(Duration::from_millis(2)),
        );
        two.record(http::StatusCode::NOT_FOUND, Duration::from_millis(1), None);
        two.record(
            http::StatusCode::BAD_GATEWAY,
            Duration::from_millis(1),
            None,
        );
        let text = registry.encode();
        let line = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name) && l.contains("resource=\"/pets\""))
                .unwrap_or_else(|| panic!("{name} missing in {text}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .to_owned()
        };
        assert_eq!(line("apigateway_count_total"), "3");
        assert_eq!(line("apigateway_4xx_errors_total"), "1");
        assert_eq!(line("apigateway_5xx_errors_total"), "1");
        assert_eq!(line("apigateway_latency_milliseconds_count"), "3");
        assert_eq!(
            line("apigateway_integration_latency_milliseconds_count"),
            "1"
        );
    }

    #[test]
    fn other_crates_can_register() {
        let registry = MetricsRegistry::new();
        let hits: Counter = Counter::default();
        registry.register(|r| r.register("cache_hits", "Cache hits", hits.clone()));
        hits.inc();
        assert!(registry.encode().contains("apigateway_cache_hits_total 1"));
    }
}
