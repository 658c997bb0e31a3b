//! The in-memory throttling layer used on its own: in front of a plain axum
//! `Router` served on loopback, called by a real hyper HTTP/1 client, with the API
//! key layer of `gateway-auth` in front when usage plans apply. Time comes from a
//! manual clock; nothing sleeps for it to pass.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use bytes::Bytes;
use gateway_auth::api_key::{ApiKey, ApiKeyLayer, InMemoryApiKeyStore, ResolvedApiKey};
use gateway_core::GatewayResponseType;
use gateway_core::model::ApiKeySource;
use gateway_core::observe::metrics::MetricsRegistry;
use gateway_throttle::plan::PlanError;
use gateway_throttle::usage::{self, QuotaStatus, UsageError};
use gateway_throttle::{
    ApiStage, Clock, Day, ManualClock, MemoryBackend, PlanKey, Quota, QuotaPeriod, RateLimit,
    StagePlans, ThrottleBackend, ThrottleLayer, ThrottleMetrics, UsagePlan, UsagePlans,
};
use http::{Extensions, HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer, Service};

/// How long any one step may take before the test fails.
const STEP: Duration = Duration::from_secs(20);

const API: &str = "shop";
const STAGE: &str = "prod";

async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(STEP, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {STEP:?}"))
}

// ---------------------------------------------------------------------------
// Time

fn day(date: &str) -> Day {
    date.parse().unwrap()
}

/// `date` at `h:m:s.ms` UTC, as time since the epoch.
fn at(date: &str, h: u64, m: u64, s: u64, ms: u64) -> Duration {
    Duration::from_secs(day(date).start_epoch_secs() + h * 3600 + m * 60 + s)
        + Duration::from_millis(ms)
}

/// Moves the manual clock forward to `target`.
fn advance_to(backend: &MemoryBackend, time: &ManualClock, target: Duration) {
    let now = Duration::from_nanos(backend.clock().now_nanos());
    assert!(target >= now, "the clock only moves forward");
    time.advance(target - now);
    assert_eq!(backend.clock().now_nanos(), target.as_nanos() as u64);
}

// ---------------------------------------------------------------------------
// What the client sees

/// A refusal as AWS answers it.
#[derive(Debug)]
struct Refusal {
    status: u16,
    body: &'static str,
    error_type: &'static str,
}

const THROTTLED: Refusal = Refusal {
    status: 429,
    body: r#"{"message":"Too Many Requests"}"#,
    error_type: "TooManyRequestsException",
};

const QUOTA_EXCEEDED: Refusal = Refusal {
    status: 429,
    body: r#"{"message":"Limit Exceeded"}"#,
    error_type: "LimitExceededException",
};

const FORBIDDEN: Refusal = Refusal {
    status: 403,
    body: r#"{"message":"Forbidden"}"#,
    error_type: "ForbiddenException",
};

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn is_ok(&self) -> bool {
        self.status == StatusCode::OK
    }

    fn is(&self, refusal: &Refusal) -> bool {
        self.status.as_u16() == refusal.status
            && self.body == refusal.body
            && self
                .headers
                .get("x-amzn-ErrorType")
                .and_then(|v| v.to_str().ok())
                == Some(refusal.error_type)
    }

    #[track_caller]
    fn assert_ok(&self) {
        assert!(self.is_ok(), "expected 200, got {self:?}");
        assert!(self.headers.get("x-amzn-ErrorType").is_none(), "{self:?}");
    }

    #[track_caller]
    fn assert_refused(&self, refusal: &Refusal) {
        assert!(self.is(refusal), "expected {refusal:?}, got {self:?}");
    }
}

/// One HTTP/1 connection to the server.
struct Client {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = within("connect", TcpStream::connect(addr)).await.unwrap();
        let (sender, connection) = within(
            "handshake",
            hyper::client::conn::http1::handshake(TokioIo::new(stream)),
        )
        .await
        .unwrap();
        tokio::spawn(connection);
        Self { addr, sender }
    }

    async fn send(&mut self, method: Method, path: &str, key: Option<&str>) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        let request = request.body(Full::new(Bytes::new())).unwrap();
        within("request", async {
            self.sender.ready().await.unwrap();
            let response = self.sender.send_request(request).await.unwrap();
            let (parts, body) = response.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            Reply {
                status: parts.status,
                headers: parts.headers,
                body: String::from_utf8(body.to_vec()).unwrap(),
            }
        })
        .await
    }

    async fn get(&mut self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    /// A request with the API key whose id is `key_id`.
    async fn call(&mut self, method: Method, path: &str, key_id: &str) -> Reply {
        let value = key_value(key_id);
        self.send(method, path, Some(&value)).await
    }
}

async fn serve(app: Router) -> SocketAddr {
    let listener = within("bind", TcpListener::bind("127.0.0.1:0"))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn ok() -> &'static str {
    "ok"
}

// ---------------------------------------------------------------------------
// Usage plans in front of a plain Router

/// The value of the API key with id `id`.
fn key_value(id: &str) -> String {
    format!("{id}-secret-value-0123456789")
}

fn api_key(id: &str) -> ApiKey {
    ApiKey {
        id: id.to_owned(),
        name: id.to_owned(),
        value: key_value(id),
        enabled: true,
        description: None,
    }
}

/// The key the API key layer accepted: the plain app has no `RequestContext`.
fn resolved_key(extensions: &Extensions) -> Option<&str> {
    extensions
        .get::<ResolvedApiKey>()
        .map(|key| key.0.id.as_str())
}

fn limit(rate: f64, burst: u32) -> RateLimit {
    RateLimit::new(rate, burst).unwrap()
}

/// The stage `shop`/`prod`.
fn prod() -> ApiStage {
    ApiStage::new(API, STAGE)
}

/// How the shop is throttled besides its usage plans.
#[derive(Default)]
struct SharedLimits {
    /// The stage's method throttle, for each of its methods.
    method: Option<RateLimit>,
    account: Option<RateLimit>,
}

/// A plain axum app with `GET /orders` and `POST /orders`, behind the API key
/// layer, each method behind its own throttle layer as a user of the crate would
/// build them.
struct Shop {
    addr: SocketAddr,
    time: ManualClock,
    backend: Arc<MemoryBackend>,
    stage: StagePlans,
    registry: MetricsRegistry,
}

impl Shop {
    async fn start(
        start: Duration,
        plans: Vec<UsagePlan>,
        keys: &[&str],
        shared: SharedLimits,
    ) -> Self {
        let plans = UsagePlans::new(plans).unwrap();
        let store = InMemoryApiKeyStore::from_keys(keys.iter().map(|id| api_key(id))).unwrap();
        let (clock, time) = Clock::manual(start);
        let backend = Arc::new(MemoryBackend::new(clock));
        let registry = MetricsRegistry::new();
        let metrics = ThrottleMetrics::new(&registry);
        let stage = StagePlans::new(&*backend, &plans, API, STAGE);
        let throttle = |path: &str, method: &str| {
            let mut builder = ThrottleLayer::builder(backend.clone())
                .usage_plans(stage.for_method(path, method))
                .key_from(resolved_key)
                .metrics(&metrics, API, STAGE);
            if let Some(limit) = shared.method {
                builder = builder.limit(&format!("{API}:{STAGE}:{method} {path}"), limit, "method");
            }
            if let Some(limit) = shared.account {
                builder = builder.account(limit);
            }
            builder.build()
        };
        let orders = get(ok)
            .layer(throttle("/orders", "GET"))
            .merge(post(ok).layer(throttle("/orders", "POST")));
        let app = Router::new()
            .route("/orders", orders)
            .layer(ApiKeyLayer::new(Arc::new(store), ApiKeySource::Header));
        Self {
            addr: serve(app).await,
            time,
            backend,
            stage,
            registry,
        }
    }

    async fn client(&self) -> Client {
        Client::connect(self.addr).await
    }

    fn key(&self, id: &str) -> PlanKey {
        self.stage.key(id).unwrap().clone()
    }

    fn advance_to(&self, target: Duration) {
        advance_to(&self.backend, &self.time, target);
    }

    /// The value of the counter of `family` labelled with `level`.
    fn counter(&self, family: &str, level: &str) -> u64 {
        let text = self.registry.encode();
        let labels = format!(r#"{{api="{API}",stage="{STAGE}",level="{level}"}}"#);
        let prefix = format!("{family}{labels} ");
        let line = text
            .lines()
            .find(|line| line.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in\n{text}"));
        line[prefix.len()..].trim().parse().unwrap()
    }

    fn throttled(&self, level: &str) -> u64 {
        self.counter("apigateway_throttled_requests_total", level)
    }

    fn quota_exceeded(&self) -> u64 {
        self.counter("apigateway_quota_exceeded_total", "quota")
    }
}

// ---------------------------------------------------------------------------
// 1. The layer alone in front of a plain Router

fn assert_clone_send_sync<T: Clone + Send + Sync + 'static>(_: &T) {}

#[tokio::test]
async fn a_plain_router_behind_the_layer_gives_its_burst_then_429s_and_refills_by_the_clock() {
    let (clock, time) = Clock::manual(at("2026-11-21", 12, 0, 0, 0));
    let backend = Arc::new(MemoryBackend::new(clock));
    let layer = ThrottleLayer::builder(backend.clone())
        .limit("pets", limit(2.0, 3), "method")
        .build();
    let app = Router::new().route("/pets", get(ok)).layer(layer.clone());
    let addr = serve(app).await;
    let mut client = Client::connect(addr).await;

    for _ in 0..3 {
        client.get("/pets").await.assert_ok();
    }
    client.get("/pets").await.assert_refused(&THROTTLED);
    // The bucket is the layer's, not the connection's.
    let mut other = Client::connect(addr).await;
    other.get("/pets").await.assert_refused(&THROTTLED);

    // 2 a second: one token every 500 ms, not before.
    time.advance(Duration::from_millis(499));
    client.get("/pets").await.assert_refused(&THROTTLED);
    time.advance(Duration::from_millis(1));
    client.get("/pets").await.assert_ok();
    client.get("/pets").await.assert_refused(&THROTTLED);

    // A long pause refills the bucket to its burst, no further.
    time.advance(Duration::from_secs(60));
    for _ in 0..3 {
        other.get("/pets").await.assert_ok();
    }
    other.get("/pets").await.assert_refused(&THROTTLED);

    // The service stays Clone and ready while it refuses: a refusal is an
    // answer, never back-pressure.
    let mut service = layer.layer(Router::new().route("/pets", get(ok)));
    assert_clone_send_sync(&service);
    let mut clone = service.clone();
    let mut cx = Context::from_waker(Waker::noop());
    for svc in [&mut service, &mut clone] {
        assert!(matches!(
            Service::<Request<Body>>::poll_ready(svc, &mut cx),
            Poll::Ready(Ok(()))
        ));
        let response = within(
            "call",
            svc.call(Request::get("/pets").body(Body::empty()).unwrap()),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let body = within("body", response.into_body().collect())
            .await
            .unwrap();
        assert_eq!(body.to_bytes(), THROTTLED.body.as_bytes());
    }
    time.advance(Duration::from_millis(500));
    assert!(matches!(
        Service::<Request<Body>>::poll_ready(&mut clone, &mut cx),
        Poll::Ready(Ok(()))
    ));
    let response = within(
        "call",
        clone.call(Request::get("/pets").body(Body::empty()).unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------
// 2. Usage plans with the API key layer in front

#[tokio::test]
async fn a_plan_throttles_each_key_on_its_own() {
    let gold = UsagePlan::new("gold", "Gold")
        .with_stage(prod())
        .with_throttle(limit(1.0, 3))
        .with_key("alice")
        .with_key("bob");
    let shop = Shop::start(
        at("2026-11-21", 12, 0, 0, 0),
        vec![gold],
        &["alice", "bob"],
        SharedLimits::default(),
    )
    .await;
    let mut client = shop.client().await;

    for _ in 0..3 {
        client
            .call(Method::GET, "/orders", "alice")
            .await
            .assert_ok();
    }
    client
        .call(Method::GET, "/orders", "alice")
        .await
        .assert_refused(&THROTTLED);
    // Bob has a bucket of his own, untouched by Alice's burst.
    for _ in 0..3 {
        client.call(Method::GET, "/orders", "bob").await.assert_ok();
    }
    client
        .call(Method::GET, "/orders", "bob")
        .await
        .assert_refused(&THROTTLED);
    // The plan throttle covers every method of the stage.
    client
        .call(Method::POST, "/orders", "alice")
        .await
        .assert_refused(&THROTTLED);

    shop.time.advance(Duration::from_secs(1));
    client
        .call(Method::POST, "/orders", "alice")
        .await
        .assert_ok();
    client
        .call(Method::GET, "/orders", "alice")
        .await
        .assert_refused(&THROTTLED);
    client.call(Method::GET, "/orders", "bob").await.assert_ok();
    assert_eq!(shop.throttled("plan"), 4);
    assert_eq!(shop.throttled("plan_method"), 0);
}

#[tokio::test]
async fn a_plan_method_throttle_applies_to_its_method_only() {
    let gold = UsagePlan::new("gold", "Gold")
        .with_stage(prod().with_method_throttle("/orders/POST", limit(1.0, 2)))
        .with_throttle(limit(100.0, 100))
        .with_key("alice")
        .with_key("bob");
    let shop = Shop::start(
        at("2026-11-21", 12, 0, 0, 0),
        vec![gold],
        &["alice", "bob"],
        SharedLimits::default(),
    )
    .await;
    let mut client = shop.client().await;

    for _ in 0..2 {
        client
            .call(Method::POST, "/orders", "alice")
            .await
            .assert_ok();
    }
    client
        .call(Method::POST, "/orders", "alice")
        .await
        .assert_refused(&THROTTLED);
    // GET /orders has no method throttle in the plan.
    for _ in 0..10 {
        client
            .call(Method::GET, "/orders", "alice")
            .await
            .assert_ok();
    }
    // Per key: Bob's POSTs have their own bucket.
    for _ in 0..2 {
        client
            .call(Method::POST, "/orders", "bob")
            .await
            .assert_ok();
    }
    client
        .call(Method::POST, "/orders", "bob")
        .await
        .assert_refused(&THROTTLED);

    shop.time.advance(Duration::from_secs(1));
    client
        .call(Method::POST, "/orders", "alice")
        .await
        .assert_ok();
    client
        .call(Method::POST, "/orders", "alice")
        .await
        .assert_refused(&THROTTLED);
    assert_eq!(shop.throttled("plan_method"), 3);
    assert_eq!(shop.throttled("plan"), 0);
}

#[tokio::test]
async fn a_key_in_no_plan_of_the_stage_is_forbidden() {
    let gold = UsagePlan::new("gold", "Gold")
        .with_stage(prod())
        .with_key("alice");
    // Carol's plan covers another stage of the same API.
    let testing = UsagePlan::new("testing", "Testing")
        .with_stage(ApiStage::new(API, "test"))
        .with_key("carol");
    let shop = Shop::start(
        at("2026-11-21", 12, 0, 0, 0),
        vec![gold, testing],
        &["alice", "carol", "dave"],
        SharedLimits::default(),
    )
    .await;
    let mut client = shop.client().await;

    client
        .call(Method::GET, "/orders", "alice")
        .await
        .assert_ok();
    client
        .call(Method::GET, "/orders", "carol")
        .await
        .assert_refused(&FORBIDDEN);
    client
        .call(Method::POST, "/orders", "dave")
        .await
        .assert_refused(&FORBIDDEN);
    // No key at all is the API key layer's refusal, before any plan.
    client
        .send(Method::GET, "/orders", None)
        .await
        .assert_refused(&FORBIDDEN);
    assert_eq!(
        shop.counter("apigateway_usage_plan_forbidden_total", "forbidden"),
        2
    );
    client
        .call(Method::GET, "/orders", "alice")
        .await
        .assert_ok();
}

#[tokio::test]
async fn an_exhausted_quota_answers_limit_exceeded() {
    // The refusal is gateway_core's QUOTA_EXCEEDED response.
    let kind = GatewayResponseType::QuotaExceeded;
    assert_eq!(kind.default_status().as_u16(), QUOTA_EXCEEDED.status);
    assert_eq!(kind.error_type(), QUOTA_EXCEEDED.error_type);
    assert_eq!(
        format!(r#"{{"message":"{}"}}"#, kind.default_message().unwrap()),
        QUOTA_EXCEEDED.body
    );

    let gold = UsagePlan::new("gold", "Gold")
        .with_stage(prod())
        .with_quota(Quota::new(3, QuotaPeriod::Day))
        .with_key("alice")
        .with_key("bob");
    let shop = Shop::start(
        at("2026-11-21", 12, 0, 0, 0),
        vec![gold],
        &["alice", "bob"],
        SharedLimits::default(),
    )
    .await;
    let mut client = shop.client().await;

    client
        .call(Method::GET, "/orders", "alice")
        .await
        .assert_ok();
    client
        .call(Method::POST, "/orders", "alice")
        .await
        .assert_ok();
    client
        .call(Method::GET, "/orders", "alice")
        .await
        .assert_ok();
    for method in [Method::GET, Method::POST] {
        client
            .call(method, "/orders", "alice")
            .await
            .assert_refused(&QUOTA_EXCEEDED);
    }
    // Each key has its own quota.
    client.call(Method::GET, "/orders", "bob").await.assert_ok();
    assert_eq!(shop.quota_exceeded(), 2);
    let status = usage::remaining_quota(&*shop.backend, &shop.key("alice"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((status.used, status.remaining), (3, 0));
}

#[tokio::test]
async fn quotas_reset_at_midnight_utc_on_sundays_and_on_the_first_of_the_month() {
    let quota = |period| Quota::new(2, period);
    let plans = vec![
        UsagePlan::new("daily", "Daily")
            .with_stage(prod())
            .with_quota(quota(QuotaPeriod::Day))
            .with_key("d"),
        UsagePlan::new("weekly", "Weekly")
            .with_stage(prod())
            .with_quota(quota(QuotaPeriod::Week))
            .with_key("w"),
        UsagePlan::new("monthly", "Monthly")
            .with_stage(prod())
            .with_quota(quota(QuotaPeriod::Month))
            .with_key("m"),
    ];
    // Thursday 2026-11-26.
    let shop = Shop::start(
        at("2026-11-26", 10, 0, 0, 0),
        plans,
        &["d", "w", "m"],
        SharedLimits::default(),
    )
    .await;
    let mut client = shop.client().await;

    async fn used_up(client: &mut Client, key: &str) {
        client
            .call(Method::GET, "/orders", key)
            .await
            .assert_refused(&QUOTA_EXCEEDED);
    }
    async fn fresh(client: &mut Client, key: &str) {
        for _ in 0..2 {
            client.call(Method::GET, "/orders", key).await.assert_ok();
        }
        used_up(client, key).await;
    }

    for key in ["d", "w", "m"] {
        fresh(&mut client, key).await;
    }
    // The last millisecond of Thursday.
    shop.advance_to(at("2026-11-26", 23, 59, 59, 999));
    for key in ["d", "w", "m"] {
        used_up(&mut client, key).await;
    }
    // 00:00 UTC Friday: a new day, the same week and month.
    shop.time.advance(Duration::from_millis(1));
    fresh(&mut client, "d").await;
    used_up(&mut client, "w").await;
    used_up(&mut client, "m").await;

    // The last millisecond of Saturday, then Sunday: a new week.
    shop.advance_to(at("2026-11-28", 23, 59, 59, 999));
    used_up(&mut client, "w").await;
    shop.time.advance(Duration::from_millis(1));
    fresh(&mut client, "w").await;
    used_up(&mut client, "m").await;

    // The last millisecond of November, then Tuesday 1 December: a new month,
    // the same week.
    shop.advance_to(at("2026-11-30", 23, 59, 59, 999));
    used_up(&mut client, "m").await;
    shop.time.advance(Duration::from_millis(1));
    fresh(&mut client, "m").await;
    used_up(&mut client, "w").await;
    fresh(&mut client, "d").await;

    let weekly = usage::remaining_quota(&*shop.backend, &shop.key("w"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(weekly.period_start, day("2026-11-29"));
    assert_eq!(weekly.resets_on, day("2026-12-06"));
    assert_eq!(weekly.remaining, 0);
}

/// Sends `GET /orders` with `key` until the quota refuses; how many passed.
async fn passed(client: &mut Client, key: &str) -> u64 {
    let mut n = 0;
    loop {
        let reply = client.call(Method::GET, "/orders", key).await;
        if !reply.is_ok() {
            reply.assert_refused(&QUOTA_EXCEEDED);
            return n;
        }
        n += 1;
        assert!(n <= 10, "the quota of `{key}` never ran out");
    }
}

#[tokio::test]
async fn a_quota_offset_applies_only_in_the_plans_first_period() {
    let quota = Quota::new(5, QuotaPeriod::Month).with_offset(3);
    // Created this month: 5 - 3 requests in November, 5 from December.
    let mut launch = UsagePlan::new("launch", "Launch")
        .with_stage(prod())
        .with_quota(quota)
        .with_key("new");
    launch.created = Some(day("2026-11-26"));
    // Created last month: its first period is over.
    let mut veteran = UsagePlan::new("veteran", "Veteran")
        .with_stage(prod())
        .with_quota(quota)
        .with_key("old");
    veteran.created = Some(day("2026-10-31"));
    let shop = Shop::start(
        at("2026-11-27", 8, 0, 0, 0),
        vec![launch, veteran],
        &["new", "old"],
        SharedLimits::default(),
    )
    .await;
    let mut client = shop.client().await;

    assert_eq!(passed(&mut client, "new").await, 2);
    assert_eq!(passed(&mut client, "old").await, 5);
    let status = usage::remaining_quota(&*shop.backend, &shop.key("new"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((status.limit, status.used, status.remaining), (2, 2, 0));

    shop.advance_to(at("2026-12-01", 0, 0, 0, 0));
    assert_eq!(passed(&mut client, "new").await, 5);
    assert_eq!(passed(&mut client, "old").await, 5);
    let status = usage::remaining_quota(&*shop.backend, &shop.key("new"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.limit, 5);
}

// ---------------------------------------------------------------------------
// 3. The most restrictive throttle wins, and is counted under its level

#[tokio::test]
async fn the_most_restrictive_throttle_refuses_and_is_counted_under_its_level() {
    struct Case {
        /// Bursts of the plan's method throttle, the plan's, the stage method's
        /// and the account's.
        bursts: [u32; 4],
        /// The level expected to refuse.
        level: &'static str,
    }
    let cases = [
        // All equal: the first in AWS's order refuses.
        Case {
            bursts: [2, 2, 2, 2],
            level: "plan_method",
        },
        Case {
            bursts: [10, 2, 10, 10],
            level: "plan",
        },
        Case {
            bursts: [10, 10, 2, 10],
            level: "method",
        },
        Case {
            bursts: [10, 10, 10, 2],
            level: "account",
        },
        // The smallest wins wherever it is. (The in-memory backend keeps the
        // tokens the levels before the refusing one gave, so those levels are
        // given room for the four requests.)
        Case {
            bursts: [9, 4, 2, 3],
            level: "method",
        },
        Case {
            bursts: [5, 4, 9, 2],
            level: "account",
        },
        Case {
            bursts: [4, 4, 2, 2],
            level: "method",
        },
    ];
    let levels = ["plan_method", "plan", "method", "account"];
    for case in cases {
        let [plan_method, plan, method, account] = case.bursts;
        let gold = UsagePlan::new("gold", "Gold")
            .with_stage(prod().with_method_throttle("/orders/GET", limit(1.0, plan_method)))
            .with_throttle(limit(1.0, plan))
            .with_key("alice");
        let shop = Shop::start(
            at("2026-11-21", 12, 0, 0, 0),
            vec![gold],
            &["alice"],
            SharedLimits {
                method: Some(limit(1.0, method)),
                account: Some(limit(1.0, account)),
            },
        )
        .await;
        let mut client = shop.client().await;
        for _ in 0..2 {
            client
                .call(Method::GET, "/orders", "alice")
                .await
                .assert_ok();
        }
        for _ in 0..2 {
            client
                .call(Method::GET, "/orders", "alice")
                .await
                .assert_refused(&THROTTLED);
        }
        for level in levels {
            let expected = if level == case.level { 2 } else { 0 };
            assert_eq!(
                shop.throttled(level),
                expected,
                "bursts {:?}: refusals at level {level}",
                case.bursts
            );
        }
        assert_eq!(shop.quota_exceeded(), 0);
    }
}

#[tokio::test]
async fn a_quota_refusal_is_counted_apart_from_throttles_and_takes_no_token() {
    // Buckets of 4 that refill one token in over 11 days: only the quota resets
    // in the days below.
    let slow = limit(1.0 / 1_000_000.0, 4);
    let gold = UsagePlan::new("gold", "Gold")
        .with_stage(prod().with_method_throttle("*/*", slow))
        .with_throttle(slow)
        .with_quota(Quota::new(2, QuotaPeriod::Day))
        .with_key("alice");
    let shop = Shop::start(
        at("2026-11-21", 12, 0, 0, 0),
        vec![gold],
        &["alice"],
        SharedLimits {
            method: Some(slow),
            account: Some(slow),
        },
    )
    .await;
    let mut client = shop.client().await;
    for _ in 0..2 {
        client
            .call(Method::GET, "/orders", "alice")
            .await
            .assert_ok();
    }
    for _ in 0..3 {
        client
            .call(Method::GET, "/orders", "alice")
            .await
            .assert_refused(&QUOTA_EXCEEDED);
    }
    assert_eq!(shop.quota_exceeded(), 3);
    for level in ["plan_method", "plan", "method", "account"] {
        assert_eq!(shop.throttled(level), 0, "{level}");
    }
    // Next day the quota allows 2 again, and the buckets still hold the 2
    // tokens the refused requests did not take.
    shop.advance_to(at("2026-11-22", 0, 0, 0, 0));
    for _ in 0..2 {
        client
            .call(Method::GET, "/orders", "alice")
            .await
            .assert_ok();
    }
    client
        .call(Method::GET, "/orders", "alice")
        .await
        .assert_refused(&QUOTA_EXCEEDED);
    // The buckets are empty now: the next day's first request is throttled,
    // by the first level in AWS's order.
    shop.advance_to(at("2026-11-23", 0, 0, 0, 0));
    client
        .call(Method::GET, "/orders", "alice")
        .await
        .assert_refused(&THROTTLED);
    assert_eq!(shop.throttled("plan_method"), 1);
}

// ---------------------------------------------------------------------------
// 4. Exact quotas under concurrency

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_is_exact_under_concurrent_clients() {
    const CLIENTS: usize = 64;
    const PER_CLIENT: usize = 3;
    const QUOTA: u64 = 100;
    let plan = UsagePlan::new("bulk", "Bulk")
        .with_stage(prod())
        .with_throttle(limit(10_000.0, 5_000))
        .with_quota(Quota::new(QUOTA, QuotaPeriod::Day))
        .with_key("bulk");
    let shop = Shop::start(
        at("2026-11-21", 12, 0, 0, 0),
        vec![plan],
        &["bulk"],
        SharedLimits {
            method: None,
            account: Some(RateLimit::ACCOUNT_DEFAULT),
        },
    )
    .await;

    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(shop.client().await);
    }
    let start = Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                let mut replies = Vec::new();
                for j in 0..PER_CLIENT {
                    let method = if (i + j) % 2 == 0 {
                        Method::GET
                    } else {
                        Method::POST
                    };
                    replies.push(client.call(method, "/orders", "bulk").await);
                }
                replies
            })
        })
        .collect();
    let mut allowed = 0u64;
    let mut refused = 0u64;
    for task in tasks {
        for reply in within("client", task).await.unwrap() {
            if reply.is_ok() {
                allowed += 1;
            } else {
                reply.assert_refused(&QUOTA_EXCEEDED);
                refused += 1;
            }
        }
    }
    let total = (CLIENTS * PER_CLIENT) as u64;
    assert_eq!(allowed, QUOTA);
    assert_eq!(refused, total - QUOTA);
    assert_eq!(shop.quota_exceeded(), total - QUOTA);

    let key = shop.key("bulk");
    let status = usage::remaining_quota(&*shop.backend, &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((status.used, status.remaining), (QUOTA, 0));
    assert_eq!(shop.backend.quota_used(&key), Some((QUOTA, QUOTA)));
}

// ---------------------------------------------------------------------------
// 5. The measured rate

/// Sends one request every 10 ms of manual time for 5 s; the number that passed.
async fn requests_passed_in_five_seconds(
    client: &mut Client,
    time: &ManualClock,
    key: Option<&str>,
) -> u64 {
    let mut passed = 0;
    for _ in 0..500 {
        let reply = match key {
            Some(key) => client.call(Method::GET, "/orders", key).await,
            None => client.get("/orders").await,
        };
        if reply.is_ok() {
            passed += 1;
        } else {
            reply.assert_refused(&THROTTLED);
        }
        time.advance(Duration::from_millis(10));
    }
    passed
}

#[track_caller]
fn assert_rate(passed: u64, rate: f64, burst: u32) {
    let measured = (passed - u64::from(burst)) as f64 / 5.0;
    assert!(
        (measured - rate).abs() <= rate * 0.1,
        "{passed} passed in 5 s: {measured}/s for a configured {rate}/s"
    );
    let expected = rate * 5.0 + f64::from(burst);
    assert!(
        (passed as f64 - expected).abs() <= expected * 0.1,
        "{passed} passed, {expected} expected"
    );
}

#[tokio::test]
async fn the_measured_rate_is_within_10_percent_of_the_configured_one() {
    // A shared bucket in front of a plain Router.
    let (clock, time) = Clock::manual(at("2026-11-21", 12, 0, 0, 0));
    let backend = Arc::new(MemoryBackend::new(clock));
    let layer = ThrottleLayer::builder(backend)
        .limit("orders", limit(20.0, 5), "method")
        .build();
    let app = Router::new().route("/orders", get(ok)).layer(layer);
    let mut client = Client::connect(serve(app).await).await;
    let passed = requests_passed_in_five_seconds(&mut client, &time, None).await;
    assert_rate(passed, 20.0, 5);

    // A plan's per-key throttle, with a fractional rate.
    let gold = UsagePlan::new("gold", "Gold")
        .with_stage(prod())
        .with_throttle(limit(12.5, 3))
        .with_key("alice");
    let shop = Shop::start(
        at("2026-11-21", 12, 0, 0, 0),
        vec![gold],
        &["alice"],
        SharedLimits::default(),
    )
    .await;
    let mut client = shop.client().await;
    let passed = requests_passed_in_five_seconds(&mut client, &shop.time, Some("alice")).await;
    assert_rate(passed, 12.5, 3);
}

// ---------------------------------------------------------------------------
// 6. GetUsage

/// Sends `n` requests with `key`, all of which must pass.
async fn send(client: &mut Client, key: &str, n: usize) {
    for _ in 0..n {
        client.call(Method::GET, "/orders", key).await.assert_ok();
    }
}

#[tokio::test]
async fn get_usage_reports_used_and_remaining_per_key_per_day() {
    let gold = UsagePlan::new("gold", "Gold")
        .with_stage(prod())
        .with_quota(Quota::new(10, QuotaPeriod::Week))
        .with_key("alice")
        .with_key("bob");
    // Friday 2026-11-20; the week starts again on Sunday 2026-11-22.
    let shop = Shop::start(
        at("2026-11-20", 9, 0, 0, 0),
        vec![gold],
        &["alice", "bob"],
        SharedLimits::default(),
    )
    .await;
    let mut client = shop.client().await;
    send(&mut client, "alice", 3).await;
    send(&mut client, "bob", 1).await;
    shop.advance_to(at("2026-11-21", 23, 0, 0, 0));
    send(&mut client, "alice", 2).await;
    shop.advance_to(at("2026-11-22", 0, 30, 0, 0));
    send(&mut client, "alice", 4).await;
    send(&mut client, "bob", 2).await;

    let keys = [shop.key("alice"), shop.key("bob")];
    let backend: &dyn ThrottleBackend = &*shop.backend;
    let report = usage::usage(backend, "gold", &keys, day("2026-11-20"), day("2026-11-23"))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&report).unwrap(),
        json!({
            "usagePlanId": "gold",
            "startDate": "2026-11-20",
            "endDate": "2026-11-23",
            "values": {
                "alice": [[3, 7], [2, 5], [4, 6], [0, 6]],
                "bob": [[1, 9], [0, 9], [2, 8], [0, 8]],
            },
        })
    );
    // Starting mid-week, the week's earlier days still count against remaining.
    let report = usage::usage(backend, "gold", &keys, day("2026-11-21"), day("2026-11-21"))
        .await
        .unwrap();
    assert_eq!(report.values["alice"], vec![[2, 5]]);
    assert_eq!(report.values["bob"], vec![[0, 9]]);

    assert_eq!(
        usage::remaining_quota(backend, &keys[0]).await.unwrap(),
        Some(QuotaStatus {
            usage_plan_id: "gold".into(),
            key_id: "alice".into(),
            limit: 10,
            used: 4,
            remaining: 6,
            period_start: day("2026-11-22"),
            resets_on: day("2026-11-29"),
        })
    );
    let bob = usage::remaining_quota(backend, &keys[1])
        .await
        .unwrap()
        .unwrap();
    assert_eq!((bob.used, bob.remaining), (2, 8));
    assert_eq!(
        serde_json::to_value(&bob).unwrap()["resetsOn"],
        json!("2026-11-29")
    );

    // Ranges: reversed, and longer than 366 days, are refused.
    let start = day("2026-11-20");
    let reversed = usage::usage(backend, "gold", &keys, start, day("2026-11-19")).await;
    assert!(
        matches!(reversed, Err(UsageError::Range { .. })),
        "{reversed:?}"
    );
    let too_long = usage::usage(backend, "gold", &keys, start, Day(start.0 + 366)).await;
    assert!(
        matches!(too_long, Err(UsageError::Range { .. })),
        "{too_long:?}"
    );
    let longest = usage::usage(backend, "gold", &keys, start, Day(start.0 + 365))
        .await
        .unwrap();
    assert_eq!(longest.values["alice"].len(), 366);
    let one_day = usage::usage(backend, "gold", &keys, start, start)
        .await
        .unwrap();
    assert_eq!(one_day.values["bob"], vec![[1, 9]]);
}

// ---------------------------------------------------------------------------
// 7. Bad input

#[test]
fn invalid_method_keys_and_limits_are_refused_naming_the_plan_and_field() {
    let err = |plan: UsagePlan| UsagePlans::new([plan]).unwrap_err().to_string();
    let plan = || UsagePlan::new("broken", "Broken");

    for key in [
        "orders",
        "/orders/*",
        "*/GET",
        "GET orders",
        "/orders/P0ST",
        "",
    ] {
        let message = err(plan().with_stage(prod().with_method_throttle(key, limit(1.0, 1))));
        assert!(message.contains("usage plan `broken`"), "{key}: {message}");
        assert!(message.contains(&format!("`{key}`")), "{key}: {message}");
        assert!(message.contains("method key"), "{key}: {message}");
    }

    let negative = RateLimit {
        rate: -1.0,
        burst: 1,
    };
    let message = err(plan().with_stage(prod().with_method_throttle("/orders/POST", negative)));
    assert!(message.contains("usage plan `broken`"), "{message}");
    assert!(message.contains("/orders/POST"), "{message}");
    assert!(message.contains("rate limit -1"), "{message}");

    let message = err(plan().with_throttle(RateLimit {
        rate: f64::NAN,
        burst: 1,
    }));
    assert!(
        message.contains("usage plan `broken`: throttle"),
        "{message}"
    );

    let message = err(plan().with_quota(Quota::new(10, QuotaPeriod::Day).with_offset(10)));
    assert!(message.contains("usage plan `broken`: quota"), "{message}");
    assert!(message.contains("offset 10"), "{message}");

    // From configuration, as a user loads plans.
    let loaded: UsagePlan = serde_json::from_value(json!({
        "id": "from-file",
        "name": "From file",
        "apiStages": [{
            "apiId": API,
            "stage": STAGE,
            "throttle": {"/orders/GET": {"rateLimit": 5.0, "burstLimit": 2}, "orders": {"rate": 1.0, "burst": 1}}
        }],
        "apiKeys": ["alice"],
    }))
    .unwrap();
    let error = UsagePlans::new([loaded]).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("usage plan `from-file`"), "{message}");
    assert!(message.contains("`orders`"), "{message}");

    // Other rules name what breaks them too.
    let twice = UsagePlans::new([plan(), plan()]).unwrap_err();
    assert!(
        matches!(twice, PlanError::DuplicateId(ref id) if id == "broken"),
        "{twice}"
    );

    // Valid settings pass.
    let good = plan()
        .with_stage(
            prod()
                .with_method_throttle("*/*", limit(10.0, 5))
                .with_method_throttle("/orders/POST", limit(0.5, 1))
                .with_method_throttle("GET /orders", limit(0.0, 0)),
        )
        .with_throttle(limit(1.5, 3))
        .with_quota(Quota::new(10, QuotaPeriod::Month).with_offset(9));
    assert!(UsagePlans::new([good]).is_ok());
}
