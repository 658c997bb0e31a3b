//! In-memory throttle decisions: one request's whole decision (a key's plan
//! throttle and quota, a stage's method bucket, the account bucket), alone and with
//! 64 keys from 2 threads, beside a naive `Mutex<HashMap>` token bucket; and the
//! layer in front of a ready service.

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use gateway_core::{Body, RequestContext};
use gateway_throttle::{
    ApiStage, Bucket, Check, Decision, MemoryBackend, PlanKey, Quota, QuotaPeriod, RateLimit,
    StagePlans, ThrottleBackend, ThrottleLayer, UsagePlan, UsagePlans, Verdict,
};
use http::{Request, Response};
use tower::{Layer, ServiceExt};

const KEYS: usize = 64;

/// Limits no bench run reaches, so every decision goes the whole way.
fn roomy() -> RateLimit {
    RateLimit::new(1e12, u32::MAX).unwrap()
}

fn plans() -> UsagePlans {
    let mut plan = UsagePlan::new("gold", "Gold")
        .with_stage(ApiStage::new("a1", "prod"))
        .with_throttle(roomy())
        .with_quota(Quota::new(u64::MAX >> 30, QuotaPeriod::Month));
    for i in 0..KEYS {
        plan = plan.with_key(format!("key{i:02}"));
    }
    UsagePlans::new([plan]).unwrap()
}

struct Setup {
    backend: Arc<MemoryBackend>,
    buckets: Vec<Bucket>,
    keys: Vec<PlanKey>,
}

fn setup() -> Setup {
    let backend = Arc::new(MemoryBackend::default());
    let buckets = vec![
        backend.bucket("stage:a1:prod:/pets/GET", roomy()),
        backend.bucket("account", roomy()),
    ];
    let plans = plans();
    let stage = StagePlans::new(&*backend, &plans, "a1", "prod");
    let keys = (0..KEYS)
        .map(|i| stage.key(&format!("key{i:02}")).unwrap().clone())
        .collect();
    Setup {
        backend,
        buckets,
        keys,
    }
}

fn decide(backend: &MemoryBackend, buckets: &[Bucket], key: &PlanKey) -> Verdict {
    let check = Check {
        buckets,
        key: Some((key, None)),
    };
    match backend.decide(&check) {
        Decision::Ready(Some(Ok(verdict))) => verdict,
        other => panic!("{other:?}"),
    }
}

/// A token bucket per key in one `Mutex<HashMap>`: the naive design.
struct NaiveBuckets {
    rate: f64,
    burst: f64,
    state: Mutex<HashMap<String, (f64, Instant)>>,
}

impl NaiveBuckets {
    fn check(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap();
        let (tokens, last) = state.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Runs `per_thread` calls of `f(i)` on each of 2 threads; the slower thread's
/// time divided by `per_thread` is the time of one decision under contention.
fn two_threads<F>(per_thread: u64, f: F) -> Duration
where
    F: Fn(usize) + Sync,
{
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..2 {
            let f = &f;
            s.spawn(move || {
                for i in 0..per_thread {
                    f((i as usize + t * 7) % KEYS);
                }
            });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let Setup {
        backend,
        buckets,
        keys,
    } = setup();
    let naive = NaiveBuckets {
        rate: 1e12,
        burst: f64::from(u32::MAX),
        state: Mutex::new(HashMap::new()),
    };
    let names: Vec<String> = (0..KEYS).map(|i| format!("key{i:02}")).collect();

    let mut group = c.benchmark_group("throttle/decision");
    group.bench_function("memory_uncontended", |b| {
        b.iter(|| decide(&backend, black_box(&buckets), black_box(&keys[7])));
    });
    group.bench_function("naive_mutex_hashmap_uncontended", |b| {
        b.iter(|| naive.check(black_box(&names[7])));
    });
    group.bench_function("memory_64_keys_2_threads", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |i| {
                black_box(decide(&backend, &buckets, &keys[i]));
            })
        });
    });
    group.bench_function("naive_mutex_hashmap_64_keys_2_threads", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |i| {
                black_box(naive.check(&names[i]));
            })
        });
    });
    group.finish();

    // The layer around a ready service: key lookup, decision, response future.
    let plans = plans();
    let stage = StagePlans::new(&*backend, &plans, "a1", "prod");
    let layer = ThrottleLayer::builder(backend.clone())
        .limit("stage:a1:prod:/pets/GET", roomy(), "method")
        .account(roomy())
        .usage_plans(stage.for_method("/pets", "GET"))
        .build();
    let service = layer.layer(tower::service_fn(|_req: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    }));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("throttle/layer");
    group.bench_function("memory_plan_and_buckets", |b| {
        b.iter(|| {
            let mut req = Request::new(Body::empty());
            let mut ctx = RequestContext::default();
            ctx.identity.api_key_id = Some("key07".to_owned());
            req.extensions_mut().insert(ctx);
            let response = runtime.block_on(service.clone().oneshot(req)).unwrap();
            assert_eq!(response.status(), 200);
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
