//! A full in-process request through stage dispatch, canary choice, router, context
//! and a MOCK integration, beside a bare tower hello-world service for the ratio.

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use gateway_core::Body;
use http::{Request, Response};
use http_body_util::BodyExt;
use tower::{Service, ServiceExt};

const API: &str = r#"openapi: 3.0.1
info: {title: Bench, version: "1"}
paths:
  /pets/{petId}:
    get:
      parameters:
        - {name: petId, in: path, required: true, schema: {type: string}}
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": 200}'
        responses:
          default:
            statusCode: "200"
            responseTemplates:
              application/json: '{"id": 1, "type": "dog", "price": 249.99}'
"#;

fn gateway() -> (gateway::Gateway, PathBuf) {
    let dir = std::env::temp_dir().join(format!("gateway-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("api.yaml"), API).expect("write api");
    let config = gateway::Config::from_str(
        "apis:\n  - name: bench\n    openapi: api.yaml\n    stages:\n      - name: prod\n",
        "bench.yaml",
    )
    .expect("config");
    let (gateway, _) = gateway::Gateway::from_config(config, &dir).expect("gateway");
    (gateway, dir)
}

fn request() -> Request<Body> {
    Request::get("http://localhost/prod/pets/42")
        .header("host", "localhost")
        .header("accept", "application/json")
        .body(Body::empty())
        .expect("request")
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let (gateway, dir) = gateway();
    let service = gateway.service();
    let response = runtime
        .block_on(service.clone().oneshot(request()))
        .expect("infallible");
    assert_eq!(response.status(), 200);

    let mut group = c.benchmark_group("pipeline");
    group.bench_function("gateway_mock_request", |b| {
        b.to_async(&runtime).iter(|| {
            let mut service = service.clone();
            async move {
                let response = service.call(request()).await.expect("infallible");
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .expect("body")
                    .to_bytes();
                black_box(body)
            }
        });
    });
    let hello = tower::service_fn(|_req: Request<Body>| async {
        Ok::<_, std::convert::Infallible>(Response::new(Body::from(Bytes::from_static(
            br#"{"id": 1, "type": "dog", "price": 249.99}"#,
        ))))
    });
    group.bench_function("bare_tower_hello_world", |b| {
        b.to_async(&runtime).iter(|| {
            let mut hello = hello;
            async move {
                let response = hello.call(request()).await.expect("infallible");
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .expect("body")
                    .to_bytes();
                black_box(body)
            }
        });
    });
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
