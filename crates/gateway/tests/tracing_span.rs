//! The per-request tracing span. Alone in its test binary: tracing caches callsite
//! interest process-wide, so a test installing its own subscriber must not share
//! the process with tests that run requests without one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use http::StatusCode;
use support::{TempDir, mock_api};

/// Records the `request_id` field of every `request` span.
#[derive(Clone, Default)]
struct SpanRecorder(Arc<std::sync::Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SpanRecorder {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Visit<'a>(&'a mut Vec<String>);
        impl tracing::field::Visit for Visit<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "request_id" {
                    self.0.push(format!("{value:?}"));
                }
            }
        }
        if attrs.metadata().name() == "request" {
            attrs.record(&mut Visit(&mut self.0.lock().unwrap()));
        }
    }
}

#[tokio::test]
async fn each_request_runs_in_a_span_carrying_its_request_id() {
    use tower::ServiceExt;
    use tracing_subscriber::layer::SubscriberExt;

    let recorder = SpanRecorder::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with(recorder.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = TempDir::new();
    dir.write("api.yaml", &mock_api("Spans", r#"{"version": "v1"}"#, ""));
    let config = dir.write(
        "gateway.yaml",
        "apis:\n  - name: spans\n    openapi: api.yaml\n    stages:\n      - name: prod\n",
    );
    let (gateway, _) = gateway::Gateway::from_config_file(&config).unwrap();
    let request = http::Request::get("http://localhost/prod/version")
        .body(gateway_core::Body::empty())
        .unwrap();
    let response = gateway.service().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let request_id = response.headers()["x-amzn-requestid"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(*recorder.0.lock().unwrap(), vec![request_id]);
}
