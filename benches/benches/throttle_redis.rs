//! Redis throttle decisions on loopback, against a throwaway `redis-server` the
//! bench starts: one request's whole decision (the key's per-method and plan
//! buckets and its quota, a stage's method bucket, the account bucket, and the
//! key's daily usage). Criterion measures the latency of one decision; before it,
//! the bench times decisions one by one for their median and 99th percentile, and
//! reads Redis's own command statistics to count the round trips (commands sent
//! by the client) and the commands the script runs inside Redis per decision.
//!
//! Needs `redis-server` on `PATH` (`scripts/test.sh` installs it).

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use gateway_throttle::redis_server::RedisServer;
use gateway_throttle::{
    ApiStage, Bucket, Check, Clock, PlanKey, Quota, QuotaPeriod, RateLimit, RedisBackend,
    RedisConfig, ThrottleBackend, UsagePlan, Verdict,
};

/// Limits no bench run reaches, so every decision goes the whole way.
fn roomy() -> RateLimit {
    RateLimit::new(1e12, u32::MAX).unwrap()
}

/// Commands the decision script runs inside Redis (not round trips).
const SCRIPT_COMMANDS: [&str; 4] = ["get", "set", "incr", "pexpire"];

/// Calls per command since the server started, from `INFO commandstats`.
fn command_calls(port: u16) -> BTreeMap<String, u64> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(b"INFO commandstats\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut header = String::new();
    reader.read_line(&mut header).unwrap();
    let len: usize = header
        .trim_end()
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected answer to INFO: {header:?}"));
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    String::from_utf8(body)
        .unwrap()
        .lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats.split(',').find_map(|s| s.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .collect()
}

struct Setup {
    backend: RedisBackend,
    buckets: Vec<Bucket>,
    key: PlanKey,
    slot: Option<usize>,
}

impl Setup {
    async fn decide(&self) -> Verdict {
        let check = Check {
            buckets: &self.buckets,
            key: Some((&self.key, self.slot)),
        };
        self.backend.decide(&check).await.unwrap()
    }
}

fn setup(server: &RedisServer) -> Setup {
    let config = RedisConfig::new(server.url()).with_timeout(Duration::from_secs(1));
    let backend = RedisBackend::new(config, Clock::system()).unwrap();
    let buckets = vec![
        backend.bucket("stage:a1:prod:/pets/GET", roomy()),
        backend.bucket("account", roomy()),
    ];
    let plan = Arc::new(
        UsagePlan::new("gold", "Gold")
            .with_stage(ApiStage::new("a1", "prod").with_method_throttle("/pets/GET", roomy()))
            .with_throttle(roomy())
            .with_quota(Quota::new(u64::MAX >> 30, QuotaPeriod::Month))
            .with_key("key07"),
    );
    let key = backend.plan_key(&plan, "key07");
    let slot = key.method_slot("a1", "prod", "/pets", "GET");
    assert!(slot.is_some());
    Setup {
        backend,
        buckets,
        key,
        slot,
    }
}

fn bench(c: &mut Criterion) {
    let server = RedisServer::start().expect("redis-server must be installed");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let setup = runtime.block_on(async { setup(&server) });
    // The first decision loads the script.
    assert_eq!(runtime.block_on(setup.decide()), Verdict::Allowed);

    // Decisions one by one, timed, with Redis's counters read around them.
    let decisions: u32 = if std::env::args().any(|a| a == "--bench") {
        5_000
    } else {
        100
    };
    let before = command_calls(server.port());
    let mut times = runtime.block_on(async {
        let mut times = Vec::with_capacity(decisions as usize);
        for _ in 0..decisions {
            let start = Instant::now();
            assert_eq!(setup.decide().await, Verdict::Allowed);
            times.push(start.elapsed());
        }
        times
    });
    let after = command_calls(server.port());
    times.sort_unstable();
    let delta =
        |name: &str| after.get(name).copied().unwrap_or(0) - before.get(name).copied().unwrap_or(0);
    let mut sent = Vec::new();
    let mut round_trips = 0;
    let mut inside = 0;
    for name in after.keys() {
        let calls = delta(name);
        if SCRIPT_COMMANDS.contains(&name.as_str()) {
            inside += calls;
        } else if name != "info" && calls > 0 {
            round_trips += calls;
            sent.push(format!("{name} {calls}"));
        }
    }
    let per = |n: u64| n as f64 / f64::from(decisions);
    eprintln!(
        "throttle_redis: {decisions} decisions one by one on loopback: median {:?}, p99 {:?}; \
         {:.2} round trips per decision ({}), {:.1} commands inside Redis per decision",
        times[times.len() / 2],
        times[times.len() * 99 / 100],
        per(round_trips),
        sent.join(", "),
        per(inside),
    );

    let mut group = c.benchmark_group("throttle_redis/decision");
    group.bench_function("loopback_plan_key_quota_method_account", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(setup.decide().await) });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
