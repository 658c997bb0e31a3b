//! API key check against a store of 1 000 keys: the store lookup alone, the whole
//! check of a request (as the per-route combinator calls it), and the layer in
//! front of a service; beside naive lookups that are not constant-time.

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use gateway_auth::api_key::{ApiKey, ApiKeyLayer, ApiKeyStore, InMemoryApiKeyStore};
use gateway_core::model::ApiKeySource;
use gateway_core::{Body, RequestContext};
use http::{Request, Response};
use tower::{Layer, ServiceExt};

const KEYS: usize = 1_000;

fn keys() -> Vec<ApiKey> {
    (0..KEYS)
        .map(|i| ApiKey::generate(format!("client {i}")).unwrap())
        .collect()
}

fn request(value: &str, with_context: bool) -> Request<()> {
    let mut req = Request::get("/prod/pets/7")
        .header("host", "abc123.execute-api.us-east-1.amazonaws.com")
        .header("user-agent", "bench/1.0")
        .header("accept", "application/json")
        .header("x-api-key", value)
        .body(())
        .unwrap();
    if with_context {
        req.extensions_mut().insert(RequestContext::default());
    }
    req
}

fn bench(c: &mut Criterion) {
    let keys = keys();
    let probe = keys[KEYS / 2].value.clone();
    let store = Arc::new(InMemoryApiKeyStore::from_keys(keys.clone()).unwrap());
    let layer = ApiKeyLayer::new(store.clone(), ApiKeySource::Header);

    let mut lookup = c.benchmark_group("api_key/lookup");
    lookup.bench_function("in_memory_store", |b| {
        b.iter(|| store.find(black_box(&probe)));
    });
    lookup.bench_function("in_memory_store_miss", |b| {
        let miss = "x".repeat(40);
        b.iter(|| store.find(black_box(&miss)));
    });
    // Naive baselines: both leak, through timing, how much of a guess matches.
    let by_value: HashMap<String, Arc<ApiKey>> = keys
        .iter()
        .map(|k| (k.value.clone(), Arc::new(k.clone())))
        .collect();
    lookup.bench_function("naive_hashmap", |b| {
        b.iter(|| by_value.get(black_box(probe.as_str())).cloned());
    });
    let list: Vec<Arc<ApiKey>> = keys.iter().cloned().map(Arc::new).collect();
    lookup.bench_function("naive_linear_scan", |b| {
        b.iter(|| list.iter().find(|k| k.value == *black_box(&probe)).cloned());
    });
    lookup.finish();

    let mut check = c.benchmark_group("api_key/check");
    check.bench_function("accepted", |b| {
        b.iter_batched(
            || request(&probe, false),
            |mut req| {
                let key = layer.check(&mut req);
                (key, req)
            },
            BatchSize::SmallInput,
        );
    });
    check.bench_function("accepted_with_context", |b| {
        b.iter_batched(
            || request(&probe, true),
            |mut req| {
                let key = layer.check(&mut req);
                (key, req)
            },
            BatchSize::SmallInput,
        );
    });
    check.bench_function("rejected_unknown", |b| {
        let wrong = "y".repeat(40);
        b.iter_batched(
            || request(&wrong, false),
            |mut req| {
                let key = layer.check(&mut req);
                (key, req)
            },
            BatchSize::SmallInput,
        );
    });
    check.finish();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let service = layer.layer(tower::service_fn(|_req: Request<()>| async {
        Ok::<_, Infallible>(Response::new(Body::default()))
    }));
    let mut through = c.benchmark_group("api_key/layer");
    through.bench_function("accepted", |b| {
        b.to_async(&runtime).iter_batched(
            || request(&probe, true),
            |req| service.clone().oneshot(req),
            BatchSize::SmallInput,
        );
    });
    through.bench_function("bare_service", |b| {
        let bare = tower::service_fn(|_req: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Body::default()))
        });
        b.to_async(&runtime).iter_batched(
            || request(&probe, true),
            |req| bare.oneshot(req),
            BatchSize::SmallInput,
        );
    });
    through.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
