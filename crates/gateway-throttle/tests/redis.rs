//! The Redis backend against a real `redis-server` (started on a free loopback
//! port for each test, see `RedisServer`): buckets, quotas and usage; several
//! backends ("nodes") sharing one server under concurrency; the same verdicts
//! as the in-memory backend; and the layer failing open or closed while Redis is
//! away, then throttling again once it is back. Time comes from manual clocks:
//! nothing sleeps for time to pass.
//!
//! Needs `redis-server` on `PATH` (`scripts/test.sh` installs it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gateway_core::observe::metrics::MetricsRegistry;
use gateway_throttle::redis_server::RedisServer;
use gateway_throttle::usage::{self, QuotaStatus};
use gateway_throttle::{
    ApiStage, Bucket, Check, Clock, Day, FailurePolicy, Level, MemoryBackend, PlanKey, Quota,
    QuotaPeriod, RateLimit, RedisBackend, RedisConfig, ThrottleBackend, ThrottleLayer,
    ThrottleMetrics, UsagePlan, Verdict,
};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use redis::AsyncCommands;
use tokio::sync::Barrier;
use tower::{Layer, Service, ServiceExt};

/// How long any one step may take before the test fails.
const STEP: Duration = Duration::from_secs(20);

async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(STEP, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {STEP:?}"))
}

// ---------------------------------------------------------------------------
// Set-up

fn start_redis() -> RedisServer {
    RedisServer::start().expect("redis-server must be installed (scripts/test.sh installs it)")
}

fn day(date: &str) -> Day {
    date.parse().unwrap()
}

/// `date` at `h:m:s.ms` UTC, as time since the epoch.
fn at(date: &str, h: u64, m: u64, s: u64, ms: u64) -> Duration {
    Duration::from_secs(day(date).start_epoch_secs() + h * 3600 + m * 60 + s)
        + Duration::from_millis(ms)
}

fn limit(rate: f64, burst: u32) -> RateLimit {
    RateLimit::new(rate, burst).unwrap()
}

/// A limit no test reaches.
fn roomy() -> RateLimit {
    limit(1e6, 1_000_000)
}

/// A backend ("node") on `server`, deciding by `clock`. The timeout is generous:
/// these tests are about decisions, not about a slow machine.
fn node(server: &RedisServer, clock: &Clock) -> RedisBackend {
    let config = RedisConfig::new(server.url()).with_timeout(Duration::from_secs(5));
    RedisBackend::new(config, clock.clone()).unwrap()
}

async fn decide(backend: &dyn ThrottleBackend, check: &Check<'_>) -> Verdict {
    within("a decision", backend.decide(check))
        .await
        .expect("the backend decides")
}

/// One check: `buckets`, and `key` with its per-method slot.
async fn run(
    backend: &dyn ThrottleBackend,
    buckets: &[Bucket],
    key: Option<(&PlanKey, Option<usize>)>,
) -> Verdict {
    decide(backend, &Check { buckets, key }).await
}

/// A plain connection to look at what the backend stored.
async fn inspect(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(server.url()).unwrap();
    within("connecting", client.get_multiplexed_async_connection())
        .await
        .unwrap()
}

/// Every key in Redis with its value.
async fn stored(con: &mut redis::aio::MultiplexedConnection) -> BTreeMap<String, String> {
    let keys: Vec<String> = within("KEYS", con.keys("*")).await.unwrap();
    let mut out = BTreeMap::new();
    for key in keys {
        let value: String = within("GET", con.get(&key)).await.unwrap();
        out.insert(key, value);
    }
    out
}

async fn pttl(con: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    within("PTTL", con.pttl(key)).await.unwrap()
}

// ---------------------------------------------------------------------------
// 1. Buckets, levels, and refusals that write nothing

#[tokio::test]
async fn buckets_give_their_burst_then_refill_at_their_rate() {
    let server = start_redis();
    let (clock, time) = Clock::manual(at("2026-11-21", 12, 0, 0, 0));
    let backend = node(&server, &clock);
    let buckets = [backend.bucket("b", limit(2.0, 3))];
    for _ in 0..3 {
        assert_eq!(run(&backend, &buckets, None).await, Verdict::Allowed);
    }
    assert_eq!(
        run(&backend, &buckets, None).await,
        Verdict::Throttled(Level::Shared(0))
    );
    // One token every 500 ms.
    time.advance(Duration::from_millis(499));
    assert_eq!(
        run(&backend, &buckets, None).await,
        Verdict::Throttled(Level::Shared(0))
    );
    time.advance(Duration::from_millis(1));
    assert_eq!(run(&backend, &buckets, None).await, Verdict::Allowed);
    assert_eq!(
        run(&backend, &buckets, None).await,
        Verdict::Throttled(Level::Shared(0))
    );
    // A long pause fills the bucket to its burst, no more.
    time.advance(Duration::from_secs(60));
    for _ in 0..3 {
        assert_eq!(run(&backend, &buckets, None).await, Verdict::Allowed);
    }
    assert_eq!(
        run(&backend, &buckets, None).await,
        Verdict::Throttled(Level::Shared(0))
    );
    // A fractional rate: one token every 333,333,333 ns, to the nanosecond.
    let third = [backend.bucket("third", limit(3.0, 1))];
    assert_eq!(run(&backend, &third, None).await, Verdict::Allowed);
    time.advance(Duration::from_nanos(333_333_332));
    assert_eq!(
        run(&backend, &third, None).await,
        Verdict::Throttled(Level::Shared(0))
    );
    time.advance(Duration::from_nanos(1));
    assert_eq!(run(&backend, &third, None).await, Verdict::Allowed);
}

#[tokio::test]
async fn zero_limits_refuse_everything_and_store_nothing() {
    let server = start_redis();
    let (clock, _time) = Clock::manual(at("2026-11-21", 12, 0, 0, 0));
    let backend = node(&server, &clock);
    let mut con = inspect(&server).await;
    for zero in [limit(0.0, 10), limit(10.0, 0)] {
        let buckets = [backend.bucket("zero", zero)];
        for _ in 0..3 {
            assert_eq!(
                run(&backend, &buckets, None).await,
                Verdict::Throttled(Level::Shared(0))
            );
        }
    }
    assert!(stored(&mut con).await.is_empty());
}

fn levels_plan() -> Arc<UsagePlan> {
    Arc::new(
        UsagePlan::new("gold", "Gold")
            .with_stage(
                ApiStage::new("shop", "prod").with_method_throttle("/pets/GET", limit(1.0, 1)),
            )
            .with_throttle(limit(1.0, 2))
            .with_quota(Quota::new(100, QuotaPeriod::Day))
            .with_key("k1"),
    )
}

#[tokio::test]
async fn each_refusal_names_the_throttle_that_refused() {
    let server = start_redis();
    let (clock, _time) = Clock::manual(at("2026-11-21", 12, 0, 0, 0));
    let backend = node(&server, &clock);
    let plan = levels_plan();
    let key = backend.plan_key(&plan, "k1");
    let get = key.method_slot("shop", "prod", "/pets", "GET");
    assert!(get.is_some());
    let other = key.method_slot("shop", "prod", "/pets", "POST");
    assert!(other.is_none());
    let method = backend.bucket("stage:shop:prod:/pets/GET", limit(1.0, 1));
    let account = backend.bucket("account", limit(1.0, 3));

    // The plan's per-method bucket (1 token), then the plan's (2 tokens).
    assert_eq!(
        run(&backend, &[], Some((&key, get))).await,
        Verdict::Allowed
    );
    assert_eq!(
        run(&backend, &[], Some((&key, get))).await,
        Verdict::Throttled(Level::PlanMethod)
    );
    assert_eq!(
        run(&backend, &[], Some((&key, other))).await,
        Verdict::Allowed
    );
    assert_eq!(
        run(&backend, &[], Some((&key, other))).await,
        Verdict::Throttled(Level::Plan)
    );
    // Shared buckets by position: the stage's method, then the account.
    let buckets = [method, account];
    assert_eq!(run(&backend, &buckets, None).await, Verdict::Allowed);
    assert_eq!(
        run(&backend, &buckets, None).await,
        Verdict::Throttled(Level::Shared(0))
    );
    let account_only = [buckets[1].clone()];
    assert_eq!(run(&backend, &account_only, None).await, Verdict::Allowed);
    assert_eq!(run(&backend, &account_only, None).await, Verdict::Allowed);
    assert_eq!(
        run(&backend, &account_only, None).await,
        Verdict::Throttled(Level::Shared(0))
    );
    let roomy_first = [backend.bucket("roomy", roomy()), buckets[1].clone()];
    assert_eq!(
        run(&backend, &roomy_first, None).await,
        Verdict::Throttled(Level::Shared(1))
    );
}

#[tokio::test]
async fn a_refused_request_writes_nothing() {
    let server = start_redis();
    let (clock, _time) = Clock::manual(at("2026-11-21", 12, 0, 0, 0));
    let backend = node(&server, &clock);
    let mut con = inspect(&server).await;
    let plan = levels_plan();
    let key = backend.plan_key(&plan, "k1");
    let get = key.method_slot("shop", "prod", "/pets", "GET");

    // Every bucket before the last has tokens; the last has none. Redis takes
    // no token from the others, counts no quota and no usage.
    let refusing = [
        backend.bucket("stage:shop:prod:/pets/GET", roomy()),
        backend.bucket("account", limit(0.0, 0)),
    ];
    assert_eq!(
        run(&backend, &refusing, Some((&key, get))).await,
        Verdict::Throttled(Level::Shared(1))
    );
    assert_eq!(stored(&mut con).await, BTreeMap::new());

    // An allowed request writes every bucket, the quota and the usage; a
    // refused one after it changes none of them.
    let passing = [refusing[0].clone()];
    assert_eq!(
        run(&backend, &passing, Some((&key, get))).await,
        Verdict::Allowed
    );
    let after_allowed = stored(&mut con).await;
    let names: Vec<&str> = after_allowed.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "gateway:plan:gold:key:k1",
            "gateway:plan:gold:key:k1:shop:prod:/pets/GET",
            "gateway:quota:gold:k1:20261121",
            "gateway:stage:shop:prod:/pets/GET",
            "gateway:usage:gold:k1:20261121",
        ]
    );
    assert_eq!(
        run(&backend, &passing, Some((&key, get))).await,
        Verdict::Throttled(Level::PlanMethod)
    );
    assert_eq!(
        run(&backend, &refusing, Some((&key, None))).await,
        Verdict::Throttled(Level::Shared(1))
    );
    assert_eq!(stored(&mut con).await, after_allowed);

    // Over the quota, nothing is written either.
    let plan = Arc::new(
        UsagePlan::new("one", "One")
            .with_stage(ApiStage::new("shop", "prod"))
            .with_quota(Quota::new(1, QuotaPeriod::Day))
            .with_key("k"),
    );
    let key = backend.plan_key(&plan, "k");
    assert_eq!(
        run(&backend, &passing, Some((&key, None))).await,
        Verdict::Allowed
    );
    let before = stored(&mut con).await;
    for _ in 0..3 {
        assert_eq!(
            run(&backend, &passing, Some((&key, None))).await,
            Verdict::QuotaExceeded
        );
    }
    assert_eq!(stored(&mut con).await, before);
}

#[tokio::test]
async fn stored_state_is_named_and_expires_as_documented() {
    let server = start_redis();
    // Thursday 12:00 UTC.
    let now = at("2026-11-19", 12, 0, 0, 0);
    let (clock, _time) = Clock::manual(now);
    let config = RedisConfig::new(server.url())
        .with_prefix("edge:")
        .with_timeout(Duration::from_secs(5));
    let backend = RedisBackend::new(config, clock).unwrap();
    let mut con = inspect(&server).await;
    let plan = Arc::new(
        UsagePlan::new("p", "P")
            .with_stage(ApiStage::new("shop", "prod"))
            .with_quota(Quota::new(10, QuotaPeriod::Week))
            .with_key("k"),
    );
    let key = backend.plan_key(&plan, "k");
    let buckets = [backend.bucket("account", limit(2.0, 3))];
    assert_eq!(
        run(&backend, &buckets, Some((&key, None))).await,
        Verdict::Allowed
    );
    let state = stored(&mut con).await;
    // The bucket's theoretical arrival time: now plus one interval, in ns.
    let tat = now.as_nanos() + 500_000_000;
    assert_eq!(state["edge:account"], tat.to_string());
    // The week started on Sunday the 15th.
    assert_eq!(state["edge:quota:p:k:20261115"], "1");
    assert_eq!(state["edge:usage:p:k:20261119"], "1");
    assert_eq!(state.len(), 3);

    let slack = 60_000; // Real time that may pass before PTTL is read.
    let within_ms = |ttl: i64, expected: i64| ttl <= expected && ttl > expected - slack;
    // Full again in 500 ms, kept a second longer.
    let ttl = pttl(&mut con, "edge:account").await;
    assert!(within_ms(ttl, 1_501), "bucket PTTL {ttl}");
    // The week ends on Sunday the 22nd at 00:00 (2.5 days away), plus a day.
    let ttl = pttl(&mut con, "edge:quota:p:k:20261115").await;
    assert!(within_ms(ttl, 302_400_000), "quota PTTL {ttl}");
    // Usage of the 19th is kept for 90 days after it.
    let ttl = pttl(&mut con, "edge:usage:p:k:20261119").await;
    assert!(within_ms(ttl, 7_819_200_000), "usage PTTL {ttl}");
}

// ---------------------------------------------------------------------------
// 2. Quotas: exact across nodes, reset on UTC boundaries

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_and_buckets_are_exact_across_nodes_under_concurrency() {
    const QUOTA: u64 = 100;
    const TASKS: usize = 48;
    const PER_TASK: usize = 5;
    let server = start_redis();
    let (clock, _time) = Clock::manual(at("2026-11-21", 12, 0, 0, 0));
    // Three gateway nodes, each with its own connection, sharing one Redis.
    let nodes: Vec<Arc<RedisBackend>> = (0..3).map(|_| Arc::new(node(&server, &clock))).collect();
    let plan = Arc::new(
        UsagePlan::new("p", "P")
            .with_stage(ApiStage::new("shop", "prod"))
            .with_throttle(roomy())
            .with_quota(Quota::new(QUOTA, QuotaPeriod::Month))
            .with_key("k"),
    );

    let barrier = Arc::new(Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let backend = Arc::clone(&nodes[t % nodes.len()]);
        let key = backend.plan_key(&plan, "k");
        let buckets = [backend.bucket("account", roomy())];
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut verdicts = Vec::new();
            for _ in 0..PER_TASK {
                verdicts.push(run(&*backend, &buckets, Some((&key, None))).await);
            }
            verdicts
        }));
    }
    let mut allowed = 0;
    let mut exceeded = 0;
    for task in tasks {
        for verdict in within("a task", task).await.unwrap() {
            match verdict {
                Verdict::Allowed => allowed += 1,
                Verdict::QuotaExceeded => exceeded += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(allowed, QUOTA);
    assert_eq!(exceeded, (TASKS * PER_TASK) as u64 - QUOTA);
    let key = nodes[0].plan_key(&plan, "k");
    let today = day("2026-11-21");
    let usage = within("usage", nodes[1].daily_usage(&key, today, today))
        .await
        .unwrap();
    assert_eq!(usage, [QUOTA]);

    // A bucket of 30 tokens with the clock standing still: exactly 30 of 96
    // concurrent requests get one.
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let backend = Arc::clone(&nodes[t % nodes.len()]);
        let buckets = [backend.bucket("tight", limit(1.0, 30))];
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut allowed = 0u32;
            for _ in 0..2 {
                if run(&*backend, &buckets, None).await == Verdict::Allowed {
                    allowed += 1;
                }
            }
            allowed
        }));
    }
    let mut allowed = 0;
    for task in tasks {
        allowed += within("a task", task).await.unwrap();
    }
    assert_eq!(allowed, 30);
}

/// Uses up a quota of 2 just before `boundary`, then checks it is still used up
/// at `boundary - 1 ms` and available again at `boundary`.
async fn resets_at(period: QuotaPeriod, boundary: Duration) {
    let server = start_redis();
    let (clock, time) = Clock::manual(boundary - Duration::from_millis(2));
    let backend = node(&server, &clock);
    let plan = Arc::new(
        UsagePlan::new("p", "P")
            .with_stage(ApiStage::new("shop", "prod"))
            .with_quota(Quota::new(2, period))
            .with_key("k"),
    );
    let key = backend.plan_key(&plan, "k");
    for _ in 0..2 {
        assert_eq!(
            run(&backend, &[], Some((&key, None))).await,
            Verdict::Allowed
        );
    }
    assert_eq!(
        run(&backend, &[], Some((&key, None))).await,
        Verdict::QuotaExceeded
    );
    time.advance(Duration::from_millis(1));
    assert_eq!(
        run(&backend, &[], Some((&key, None))).await,
        Verdict::QuotaExceeded,
        "{period:?}: reset before the boundary"
    );
    time.advance(Duration::from_millis(1));
    assert_eq!(
        run(&backend, &[], Some((&key, None))).await,
        Verdict::Allowed,
        "{period:?}: no reset at the boundary"
    );
}

#[tokio::test]
async fn quotas_reset_on_utc_period_boundaries() {
    // Midnight UTC.
    resets_at(QuotaPeriod::Day, at("2026-11-22", 0, 0, 0, 0)).await;
    // Sunday 00:00 UTC (2026-11-22 is a Sunday).
    resets_at(QuotaPeriod::Week, at("2026-11-22", 0, 0, 0, 0)).await;
    // The first of the month, also across a year.
    resets_at(QuotaPeriod::Month, at("2026-12-01", 0, 0, 0, 0)).await;
    resets_at(QuotaPeriod::Month, at("2027-01-01", 0, 0, 0, 0)).await;
}

#[tokio::test]
async fn weekly_quotas_do_not_reset_at_other_midnights_and_offsets_apply_once() {
    let server = start_redis();
    // Friday 23:59:59.999.
    let (clock, time) = Clock::manual(at("2026-11-20", 23, 59, 59, 999));
    let backend = node(&server, &clock);
    let weekly = Arc::new(
        UsagePlan::new("w", "W")
            .with_stage(ApiStage::new("shop", "prod"))
            .with_quota(Quota::new(1, QuotaPeriod::Week))
            .with_key("k"),
    );
    let key = backend.plan_key(&weekly, "k");
    assert_eq!(
        run(&backend, &[], Some((&key, None))).await,
        Verdict::Allowed
    );
    time.advance(Duration::from_millis(1));
    // Saturday: the same week.
    assert_eq!(
        run(&backend, &[], Some((&key, None))).await,
        Verdict::QuotaExceeded
    );

    // A monthly quota of 3 with an offset of 1 in the month the plan was
    // created: 2 in November, 3 in December.
    let mut monthly = UsagePlan::new("m", "M")
        .with_stage(ApiStage::new("shop", "prod"))
        .with_quota(Quota::new(3, QuotaPeriod::Month).with_offset(1))
        .with_key("k");
    monthly.created = Some(day("2026-11-05"));
    let monthly = Arc::new(monthly);
    let key = backend.plan_key(&monthly, "k");
    assert_eq!(allowed_of(&backend, &key, 5).await, 2);
    time.set(at("2026-12-01", 0, 0, 0, 0));
    assert_eq!(allowed_of(&backend, &key, 5).await, 3);
}

/// How many of `n` requests with `key` are allowed.
async fn allowed_of(backend: &dyn ThrottleBackend, key: &PlanKey, n: usize) -> usize {
    let mut allowed = 0;
    for _ in 0..n {
        if run(backend, &[], Some((key, None))).await == Verdict::Allowed {
            allowed += 1;
        }
    }
    allowed
}

// ---------------------------------------------------------------------------
// 3. The measured rate

#[tokio::test]
async fn the_measured_rate_is_within_ten_percent_of_the_limit() {
    const RATE: f64 = 50.0;
    const BURST: u32 = 10;
    const SECONDS: u64 = 5;
    let server = start_redis();
    let (clock, time) = Clock::manual(at("2026-11-21", 12, 0, 0, 0));
    let backend = node(&server, &clock);
    let buckets = [backend.bucket("measured", limit(RATE, BURST))];
    // A request offered every millisecond of (manual) time for 5 s.
    let mut allowed_at = Vec::new();
    for ms in 0..SECONDS * 1000 {
        if run(&backend, &buckets, None).await == Verdict::Allowed {
            allowed_at.push(ms);
        }
        time.advance(Duration::from_millis(1));
    }
    let allowed = allowed_at.len() as f64;
    let expected = RATE * SECONDS as f64;
    let over_burst = allowed - f64::from(BURST);
    assert!(
        (over_burst - expected).abs() <= expected * 0.1,
        "{allowed} allowed in {SECONDS} s at {RATE}/s burst {BURST}"
    );
    // Once the burst is spent, the steady rate over the last 4 s.
    let steady = allowed_at.iter().filter(|ms| **ms >= 1000).count() as f64 / 4.0;
    assert!(
        (steady - RATE).abs() <= RATE * 0.1,
        "steady rate {steady}/s for {RATE}/s"
    );
    // The burst comes first: the first offers are all allowed, then one every
    // 20 ms.
    let burst: Vec<u64> = (0..u64::from(BURST)).collect();
    assert_eq!(allowed_at[..burst.len()], burst[..]);
    assert_eq!(allowed_at[burst.len()], 20);
}

// ---------------------------------------------------------------------------
// 4. The same verdicts as the in-memory backend

/// What the scripted sequence uses, prepared in one backend.
struct Scenario {
    stage_get: Bucket,
    stage_post: Bucket,
    account: Bucket,
    account_strict: Bucket,
    zero: Bucket,
    k1: PlanKey,
    k2: PlanKey,
    k3: PlanKey,
    k1_get: Option<usize>,
}

fn scenario(backend: &dyn ThrottleBackend) -> Scenario {
    let silver = Arc::new(
        UsagePlan::new("silver", "Silver")
            .with_stage(
                ApiStage::new("shop", "prod").with_method_throttle("/pets/GET", limit(2.0, 2)),
            )
            .with_throttle(roomy())
            .with_quota(Quota::new(40, QuotaPeriod::Day))
            .with_key("k1"),
    );
    let bronze = Arc::new(
        UsagePlan::new("bronze", "Bronze")
            .with_stage(ApiStage::new("shop", "prod"))
            .with_throttle(limit(3.0, 4))
            .with_quota(Quota::new(1000, QuotaPeriod::Week))
            .with_key("k2"),
    );
    let tiny = Arc::new(
        UsagePlan::new("tiny", "Tiny")
            .with_stage(ApiStage::new("shop", "prod"))
            .with_quota(Quota::new(5, QuotaPeriod::Day))
            .with_key("k3"),
    );
    let k1 = backend.plan_key(&silver, "k1");
    let k1_get = k1.method_slot("shop", "prod", "/pets", "GET");
    assert!(k1_get.is_some());
    Scenario {
        stage_get: backend.bucket("stage:shop:prod:/pets/GET", limit(3.0, 5)),
        stage_post: backend.bucket("stage:shop:prod:/pets/POST", roomy()),
        account: backend.bucket("account", roomy()),
        account_strict: backend.bucket("account-strict", limit(0.3, 3)),
        zero: backend.bucket("zero", limit(0.0, 0)),
        k1,
        k2: backend.plan_key(&bronze, "k2"),
        k3: backend.plan_key(&tiny, "k3"),
        k1_get,
    }
}

/// Check number `kind` of the sequence. In each, at most one bucket can refuse
/// (the others never run dry), so the in-memory backend keeping the tokens of
/// the buckets before a refusing one changes no later verdict.
async fn scripted(backend: &dyn ThrottleBackend, s: &Scenario, kind: u64) -> Verdict {
    match kind {
        // The stage's method bucket (3/s, burst 5).
        0 => run(backend, &[s.stage_get.clone(), s.account.clone()], None).await,
        // The account bucket (0.3/s, burst 3), second in line.
        1 => {
            run(
                backend,
                &[s.stage_post.clone(), s.account_strict.clone()],
                None,
            )
            .await
        }
        // k1's per-method throttle (2/s, burst 2) and daily quota of 40.
        2 => {
            run(
                backend,
                std::slice::from_ref(&s.account),
                Some((&s.k1, s.k1_get)),
            )
            .await
        }
        // k1 on a method without its own throttle: the quota only.
        3 => {
            run(
                backend,
                std::slice::from_ref(&s.account),
                Some((&s.k1, None)),
            )
            .await
        }
        // k2's plan throttle (3/s, burst 4).
        4 => {
            run(
                backend,
                std::slice::from_ref(&s.account),
                Some((&s.k2, None)),
            )
            .await
        }
        // k3's daily quota of 5.
        5 => run(backend, &[], Some((&s.k3, None))).await,
        // k3 behind a bucket that refuses everything: throttled until the
        // quota is used up, then over the quota.
        _ => run(backend, std::slice::from_ref(&s.zero), Some((&s.k3, None))).await,
    }
}

#[tokio::test]
async fn redis_and_memory_give_the_same_verdicts() {
    let server = start_redis();
    // Saturday 18:00 UTC: the sequence crosses midnight and the week's start.
    let start = at("2026-11-21", 18, 0, 0, 0);
    let (redis_clock, redis_time) = Clock::manual(start);
    let (memory_clock, memory_time) = Clock::manual(start);
    let redis = node(&server, &redis_clock);
    let memory = MemoryBackend::new(memory_clock);
    let on_redis = scenario(&redis);
    let in_memory = scenario(&memory);

    // A fixed pseudo-random sequence (xorshift), the same on every run.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut seen = Vec::new();
    for step in 0..1500 {
        let kind = next() % 7;
        let expected = scripted(&memory, &in_memory, kind).await;
        let got = scripted(&redis, &on_redis, kind).await;
        assert_eq!(got, expected, "step {step}, check {kind}");
        if !seen.contains(&expected) {
            seen.push(expected);
        }
        let advance = match next() % 100 {
            0..40 => Duration::ZERO,
            40..55 => Duration::from_millis(1 + next() % 100),
            55..65 => Duration::from_millis(333),
            65..75 => Duration::from_millis(334),
            75..85 => Duration::from_nanos(next() % 1_000_000_000),
            85..98 => Duration::from_secs(1),
            _ => Duration::from_secs(3 * 3600),
        };
        redis_time.advance(advance);
        memory_time.advance(advance);
    }
    // Every verdict was met.
    for verdict in [
        Verdict::Allowed,
        Verdict::QuotaExceeded,
        Verdict::Throttled(Level::PlanMethod),
        Verdict::Throttled(Level::Plan),
        Verdict::Throttled(Level::Shared(0)),
        Verdict::Throttled(Level::Shared(1)),
    ] {
        assert!(seen.contains(&verdict), "{verdict:?} never came up");
    }
    let end = Day::from_epoch_nanos(redis_clock.now_nanos());
    assert!(end.0 >= day("2026-11-23").0, "the sequence crossed days");
    // And the same usage counted.
    for (r, m) in [
        (&on_redis.k1, &in_memory.k1),
        (&on_redis.k2, &in_memory.k2),
        (&on_redis.k3, &in_memory.k3),
    ] {
        let from = day("2026-11-20");
        let on_redis = within("usage", redis.daily_usage(r, from, end))
            .await
            .unwrap();
        let in_memory = within("usage", memory.daily_usage(m, from, end))
            .await
            .unwrap();
        assert_eq!(on_redis, in_memory, "usage of {}", r.key_id());
        assert!(on_redis.iter().sum::<u64>() > 0);
    }
}

// ---------------------------------------------------------------------------
// 5. Usage reports

#[tokio::test]
async fn usage_reports_and_remaining_quotas_read_redis() {
    let server = start_redis();
    // Thursday.
    let (clock, time) = Clock::manual(at("2026-11-19", 10, 0, 0, 0));
    let backend = node(&server, &clock);
    let plan = Arc::new(
        UsagePlan::new("p", "P")
            .with_stage(ApiStage::new("shop", "prod"))
            .with_quota(Quota::new(10, QuotaPeriod::Week))
            .with_key("k")
            .with_key("idle"),
    );
    let key = backend.plan_key(&plan, "k");
    let idle = backend.plan_key(&plan, "idle");
    assert_eq!(allowed_of(&backend, &key, 3).await, 3);
    time.set(at("2026-11-20", 23, 0, 0, 0)); // Friday.
    assert_eq!(allowed_of(&backend, &key, 2).await, 2);
    time.set(at("2026-11-22", 0, 30, 0, 0)); // Sunday: a new week.
    assert_eq!(allowed_of(&backend, &key, 1).await, 1);

    let report = within(
        "usage",
        usage::usage(
            &backend,
            "p",
            &[key.clone(), idle.clone()],
            day("2026-11-20"),
            day("2026-11-23"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(report.usage_plan_id, "p");
    // Remaining counts the Thursday of the same week, before the range.
    assert_eq!(report.values["k"], vec![[2, 5], [0, 5], [1, 9], [0, 9]]);
    assert_eq!(
        report.values["idle"],
        vec![[0, 10], [0, 10], [0, 10], [0, 10]]
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["startDate"], "2026-11-20");

    let status = within("remaining", usage::remaining_quota(&backend, &key))
        .await
        .unwrap();
    assert_eq!(
        status,
        Some(QuotaStatus {
            usage_plan_id: "p".into(),
            key_id: "k".into(),
            limit: 10,
            used: 1,
            remaining: 9,
            period_start: day("2026-11-22"),
            resets_on: day("2026-11-29"),
        })
    );

    // A plan without a quota still counts usage, and has no remaining quota.
    let free = Arc::new(
        UsagePlan::new("free", "Free")
            .with_stage(ApiStage::new("shop", "prod"))
            .with_key("f"),
    );
    let f = backend.plan_key(&free, "f");
    assert_eq!(run(&backend, &[], Some((&f, None))).await, Verdict::Allowed);
    let today = day("2026-11-22");
    assert_eq!(
        within("usage", backend.daily_usage(&f, today, today))
            .await
            .unwrap(),
        [1]
    );
    assert_eq!(
        within("remaining", usage::remaining_quota(&backend, &f))
            .await
            .unwrap(),
        None
    );
    // An empty range reads nothing.
    assert_eq!(
        within("usage", backend.daily_usage(&f, today.next(), today))
            .await
            .unwrap(),
        Vec::<u64>::new()
    );
}

// ---------------------------------------------------------------------------
// 6. Redis going away and coming back, through the layer

type Reply = Response<Full<Bytes>>;

async fn call<S>(service: &mut S) -> Reply
where
    S: Service<Request<()>, Response = Reply, Error = Infallible>,
{
    within("a request", async {
        service
            .ready()
            .await
            .unwrap()
            .call(Request::new(()))
            .await
            .unwrap()
    })
    .await
}

fn throttled(reply: &Reply) -> bool {
    reply.status() == StatusCode::TOO_MANY_REQUESTS
        && reply
            .headers()
            .get("x-amzn-ErrorType")
            .and_then(|v| v.to_str().ok())
            == Some("TooManyRequestsException")
}

/// The value of the counter `name` with labels containing every one of `labels`.
fn counter(registry: &MetricsRegistry, name: &str, labels: &[&str]) -> u64 {
    let text = registry.encode();
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find(|line| labels.iter().all(|l| line.contains(l)))
        .and_then(|line| line.rsplit(' ').next())
        .map_or(0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn the_layer_fails_open_or_closed_while_redis_is_away_then_throttles_again() {
    const ERRORS: &str = "apigateway_throttle_backend_errors_total";
    const THROTTLED: &str = "apigateway_throttled_requests_total";
    let mut server = start_redis();
    let (clock, _time) = Clock::manual(at("2026-11-21", 12, 0, 0, 0));
    let timeout = Duration::from_secs(1);
    let backend = Arc::new(
        RedisBackend::new(RedisConfig::new(server.url()).with_timeout(timeout), clock).unwrap(),
    );
    let registry = MetricsRegistry::new();
    let metrics = ThrottleMetrics::new(&registry);
    let ok = tower::service_fn(|_req: Request<()>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    // Two stages sharing the account bucket (2 tokens, 1 a second, and the
    // clock stands still), one failing open, one closed.
    let layer = |policy, stage| {
        ThrottleLayer::builder(backend.clone())
            .account(limit(1.0, 2))
            .on_backend_error(policy)
            .metrics(&metrics, "shop", stage)
            .build()
    };
    let mut open = layer(FailurePolicy::Open, "open").layer(ok);
    let mut closed = layer(FailurePolicy::Closed, "closed").layer(ok);

    // Redis up: the shared bucket throttles.
    assert_eq!(call(&mut open).await.status(), StatusCode::OK);
    let reply = call(&mut closed).await;
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(reply.into_body().collect().await.unwrap().to_bytes(), "ok");
    assert!(throttled(&call(&mut open).await));
    assert_eq!(
        counter(
            &registry,
            THROTTLED,
            &["stage=\"open\"", "level=\"account\""]
        ),
        1
    );

    // Redis away: open lets through, closed refuses, both counted, each
    // decision within the timeout.
    server.stop();
    for _ in 0..3 {
        let started = std::time::Instant::now();
        assert_eq!(call(&mut open).await.status(), StatusCode::OK);
        assert!(throttled(&call(&mut closed).await));
        assert!(
            started.elapsed() < 2 * timeout + Duration::from_millis(500),
            "two decisions took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(
        counter(&registry, ERRORS, &["stage=\"open\"", "level=\"open\""]),
        3
    );
    assert_eq!(
        counter(&registry, ERRORS, &["stage=\"closed\"", "level=\"closed\""]),
        3
    );
    assert_eq!(
        counter(
            &registry,
            THROTTLED,
            &["stage=\"open\"", "level=\"account\""]
        ),
        1
    );

    // Redis back (empty): the backend reconnects by itself. Each attempt is
    // bounded by the timeout; the attempts wait for the reconnection.
    server.restart().unwrap();
    let mut recovered = false;
    for _ in 0..100 {
        if call(&mut closed).await.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(recovered, "the backend did not reconnect");
    let errors = counter(&registry, ERRORS, &["stage=\"closed\"", "level=\"closed\""]);
    // The bucket is shared again and throttles both stages, the open one too.
    assert_eq!(call(&mut open).await.status(), StatusCode::OK);
    assert!(throttled(&call(&mut open).await));
    assert!(throttled(&call(&mut closed).await));
    assert_eq!(
        counter(
            &registry,
            THROTTLED,
            &["stage=\"open\"", "level=\"account\""]
        ),
        2
    );
    assert_eq!(
        counter(
            &registry,
            THROTTLED,
            &["stage=\"closed\"", "level=\"account\""]
        ),
        1
    );
    assert_eq!(
        counter(&registry, ERRORS, &["stage=\"closed\"", "level=\"closed\""]),
        errors
    );
    assert_eq!(
        counter(&registry, ERRORS, &["stage=\"open\"", "level=\"open\""]),
        3
    );
}

#[tokio::test]
async fn a_backend_starts_while_redis_is_down() {
    let mut server = start_redis();
    server.stop();
    let (clock, _time) = Clock::manual(at("2026-11-21", 12, 0, 0, 0));
    let backend = RedisBackend::new(
        RedisConfig::new(server.url()).with_timeout(Duration::from_secs(1)),
        clock,
    )
    .unwrap();
    let buckets = [backend.bucket("b", limit(1.0, 1))];
    let check = Check {
        buckets: &buckets,
        key: None,
    };
    let err = within("a decision", backend.decide(&check))
        .await
        .unwrap_err();
    assert!(err.0.contains("Redis"), "{err}");
    server.restart().unwrap();
    let mut verdict = None;
    for _ in 0..100 {
        if let Ok(v) = within("a decision", backend.decide(&check)).await {
            verdict = Some(v);
            break;
        }
    }
    assert_eq!(verdict, Some(Verdict::Allowed));
}
