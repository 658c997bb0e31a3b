//! The Redis backend: buckets, quotas and daily usage shared by every gateway node
//! configured with the same Redis, one round trip (one Lua script) per decision.
//!
//! - One Redis (a primary, with replicas if wanted), not Redis Cluster: the
//!   script touches several keys that hash to different slots.
//! - Time comes from the gateway nodes' clocks, passed to the script, not from
//!   Redis: keep the nodes NTP-synchronised.
//! - Stored under the configured prefix: each bucket's theoretical arrival time
//!   (`{prefix}{bucket name}`, expiring a second after the bucket is full again),
//!   each key's quota counter per period (`{prefix}quota:{plan}:{key}:{YYYYMMDD}`
//!   of the period's first day, expiring a day after the period ends) and its
//!   usage counter per day (`{prefix}usage:{plan}:{key}:{YYYYMMDD}`, expiring
//!   [`USAGE_RETENTION_DAYS`] days after that day).
//!
//! [`RedisBackend`]'s documentation has the details.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use gateway_core::clock::Clock;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Deserializer};

use crate::backend::{
    BackendError, BackendFuture, Bucket, Check, Decision, Level, PlanKey, ThrottleBackend, Verdict,
};
use crate::limits::{Day, RateLimit};
use crate::memory::USAGE_RETENTION_DAYS;
use crate::plan::UsagePlan;

/// How long a quota counter outlives its period, for nodes whose clocks lag.
const QUOTA_EXPIRY_MARGIN_MS: u64 = 86_400_000; // A day.

/// How long a bucket's state outlives the moment it is full again, for nodes
/// whose clocks lag (a full bucket and a missing one are the same).
const BUCKET_EXPIRY_MARGIN_MS: u64 = 1_000;

/// The decision, atomic in Redis.
///
/// KEYS: the buckets' keys, then the quota counter's key (mode 1), then the
/// daily usage counter's key (modes 1 and 2).
///
/// ARGV: now in microseconds since the epoch and the nanoseconds past that
/// microsecond; the number of buckets; the mode (0: no API key, 1: a key with a
/// quota, 2: a key without one); the quota's limit; the quota and usage
/// counters' expiries in milliseconds; the bucket expiry margin in
/// milliseconds; then for each bucket its emission interval (microseconds and
/// nanoseconds past them) and its burst (0: refuses everything).
///
/// Times are split in microseconds and nanoseconds so that every value stays
/// an integer Lua's doubles hold exactly, and the arithmetic is the in-memory
/// backend's to the nanosecond.
///
/// The quota comes first, as in the in-memory backend, so that a request both
/// over its quota and throttled is `QuotaExceeded` on both.
///
/// Returns 0 when allowed (and counted), -1 when the quota is used up, or the
/// position (from 1) of the bucket that refused. Nothing is written unless
/// allowed.
const DECIDE_LUA: &str = r"
local now_us = tonumber(ARGV[1])
local now_ns = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local mode = tonumber(ARGV[4])
local quota_limit = tonumber(ARGV[5])
local quota_ttl = ARGV[6]
local usage_ttl = ARGV[7]
local margin_ms = tonumber(ARGV[8])
local quota_key = nil
local usage_key = nil
if mode == 1 then
  quota_key = KEYS[count + 1]
  usage_key = KEYS[count + 2]
elseif mode == 2 then
  usage_key = KEYS[count + 1]
end

if quota_key then
  local used = tonumber(redis.call('GET', quota_key) or '0') or 0
  if used >= quota_limit then
    return -1
  end
end

local pending = {}
local writes = {}
for i = 1, count do
  local key = KEYS[i]
  local base = 8 + (i - 1) * 3
  local interval_us = tonumber(ARGV[base + 1])
  local interval_ns = tonumber(ARGV[base + 2])
  local burst = tonumber(ARGV[base + 3])
  if burst == 0 then
    return i
  end
  local tat = pending[key]
  if tat == nil then
    local raw = redis.call('GET', key)
    if raw then
      local us = tonumber(string.sub(raw, 1, -4))
      local ns = tonumber(string.sub(raw, -3))
      if us and ns then
        tat = { us, ns }
      end
    end
  end
  local from_us, from_ns = now_us, now_ns
  if tat and (tat[1] - now_us) * 1000 + (tat[2] - now_ns) > 0 then
    from_us, from_ns = tat[1], tat[2]
  end
  local next_us = from_us + interval_us
  local next_ns = from_ns + interval_ns
  if next_ns >= 1000 then
    next_us = next_us + 1
    next_ns = next_ns - 1000
  end
  local ahead = (next_us - now_us) * 1000 + (next_ns - now_ns)
  if ahead > burst * (interval_us * 1000 + interval_ns) then
    return i
  end
  pending[key] = { next_us, next_ns }
  writes[#writes + 1] = { key, next_us, next_ns, ahead }
end

for _, w in ipairs(writes) do
  local ttl = math.min(math.floor(w[4] / 1000000) + 1 + margin_ms, 4503599627370496)
  redis.call('SET', w[1], string.format('%.0f%03d', w[2], w[3]), 'PX', string.format('%.0f', ttl))
end
if quota_key then
  redis.call('INCR', quota_key)
  redis.call('PEXPIRE', quota_key, quota_ttl)
end
if usage_key then
  redis.call('INCR', usage_key)
  redis.call('PEXPIRE', usage_key, usage_ttl)
end
return 0
";

/// Where Redis is and how long a decision may wait for it.
///
/// Deserialises from `{url, prefix, timeout_ms}`; `prefix` and `timeout_ms`
/// have defaults.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// The server: `redis://host:6379/`, `redis://:password@host/2`,
    /// `rediss://` for TLS when the `redis` crate is built with it.
    pub url: String,
    /// The prefix of every key the backend writes (`gateway:` by default), so
    /// several gateways can share one Redis.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// How long one decision may wait for Redis, connecting included (100 ms by
    /// default); `timeout_ms` in configuration files.
    #[serde(
        rename = "timeout_ms",
        default = "default_timeout",
        deserialize_with = "millis"
    )]
    pub timeout: Duration,
}

fn default_prefix() -> String {
    "gateway:".to_owned()
}

fn default_timeout() -> Duration {
    Duration::from_millis(100)
}

fn millis<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_millis)
}

impl RedisConfig {
    /// The server at `url`, with the default prefix and timeout.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: default_prefix(),
            timeout: default_timeout(),
        }
    }

    /// The same configuration with another key prefix.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The same configuration with another decision timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The URL without its password, for logs and debug output.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redacted(&self.url))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Buckets, quotas and usage in Redis, shared by every gateway node using the
/// same server and prefix.
///
/// Each decision runs one Lua script (`EVALSHA`, loaded on first use and again
/// after Redis restarts) that checks, in order, the key's quota, the key's
/// per-method bucket, its plan bucket and the shared buckets (GCRA, to the
/// nanosecond, as [`MemoryBackend`](crate::MemoryBackend)), and writes only when
/// every one of them lets the request through: two nodes can never both take
/// the last token of a bucket or the last request of a quota, and a refused
/// request takes no token anywhere.
///
/// # Deployment
///
/// - **One Redis**, or a primary with replicas, but not Redis Cluster: the script
///   touches keys that hash to different slots.
/// - **Time comes from the gateway nodes**, not from Redis: each node passes its
///   own clock to the script, so keep the nodes' clocks synchronised (NTP). A
///   node whose clock is ahead by a second sees buckets a second fuller, and its
///   quota periods roll over a second early.
/// - **Failures**: the backend connects lazily, so a gateway starts while Redis
///   is down, and reconnects by itself once Redis is back. A decision Redis does
///   not answer within [`RedisConfig::timeout`] is an error, on which the layer
///   applies its [`FailurePolicy`](crate::FailurePolicy). The backend needs a
///   Tokio runtime (with its time driver) to decide; created outside one, it
///   sets up its connection on its first decision.
///
/// # What is stored
///
/// Every key starts with [`RedisConfig::prefix`] (`gateway:` by default):
///
/// | key | value | expires |
/// |-----|-------|---------|
/// | `{prefix}{bucket name}` | the bucket's theoretical arrival time (GCRA), in nanoseconds since the epoch | a second after the bucket is full again |
/// | `{prefix}quota:{plan id}:{key id}:{YYYYMMDD}` | requests counted in the quota period starting that day | a day after the period ends |
/// | `{prefix}usage:{plan id}:{key id}:{YYYYMMDD}` | requests counted that day | [`USAGE_RETENTION_DAYS`] days after that day |
///
/// Bucket names are those given to [`ThrottleBackend::bucket`] (`account`, a
/// stage's method) and those of usage-plan keys (`plan:{plan id}:key:{key id}`,
/// followed by the API, stage and method for per-method throttles). A bucket
/// prepared again with a different limit continues from its stored state.
pub struct RedisBackend {
    client: redis::Client,
    manager: OnceLock<ConnectionManager>,
    script: Arc<redis::Script>,
    prefix: Arc<str>,
    timeout: Duration,
    url: String,
    clock: Clock,
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("url", &redacted(&self.url))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// A backend for the server `config` names, deciding by `clock`. Does not
    /// connect: Redis may be down, and is connected to when first needed.
    ///
    /// # Errors
    /// When the URL is invalid or the timeout is 0.
    pub fn new(config: RedisConfig, clock: Clock) -> Result<Self, BackendError> {
        if config.timeout.is_zero() {
            return Err(BackendError("the Redis timeout must be above 0".into()));
        }
        let client = redis::Client::open(config.url.as_str()).map_err(|e| {
            BackendError(format!(
                "invalid Redis URL `{}`: {e}",
                redacted(&config.url)
            ))
        })?;
        let backend = Self {
            client,
            manager: OnceLock::new(),
            script: Arc::new(redis::Script::new(DECIDE_LUA)),
            prefix: config.prefix.into(),
            timeout: config.timeout,
            url: config.url,
            clock,
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            backend.connection()?;
        }
        Ok(backend)
    }

    /// The key prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The decision timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The connection, set up (not connected) on first use.
    fn connection(&self) -> Result<ConnectionManager, BackendError> {
        if let Some(manager) = self.manager.get() {
            return Ok(manager.clone());
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(BackendError(
                "the Redis backend needs a Tokio runtime to reach Redis".into(),
            ));
        }
        // Fail fast while Redis is down: one connection attempt and one quick
        // retry per reconnection, each bounded by the decision timeout; the next
        // decision starts another.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(self.timeout);
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(|e| BackendError(format!("cannot set up the Redis connection: {e}")))?;
        // Another thread may have won the race; either manager will do.
        Ok(self.manager.get_or_init(|| manager).clone())
    }

    fn bucket_key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn usage_key(&self, key: &PlanKey, day: Day) -> String {
        format!(
            "{}usage:{}:{}:{}",
            self.prefix,
            key.plan.id,
            key.key_id,
            day.compact()
        )
    }

    fn quota_key(&self, key: &PlanKey, period_start: Day) -> String {
        format!(
            "{}quota:{}:{}:{}",
            self.prefix,
            key.plan.id,
            key.key_id,
            period_start.compact()
        )
    }
}

fn timed_out(timeout: Duration) -> BackendError {
    BackendError(format!(
        "Redis did not answer within {} ms",
        timeout.as_millis()
    ))
}

fn redis_error(err: &redis::RedisError) -> BackendError {
    BackendError(format!("Redis: {err}"))
}

/// Milliseconds from `now_ms` until 00:00 UTC of `day`, at least 1.
fn ms_until(day: Day, now_ms: u64) -> u64 {
    day.start_epoch_secs()
        .saturating_mul(1000)
        .saturating_sub(now_ms)
        .max(1)
}

/// What one decision sends: the keys, the arguments and, for each bucket, the
/// level that names it when it refuses.
struct Invocation {
    keys: Vec<Arc<str>>,
    args: Vec<u64>,
    levels: Vec<Level>,
}

impl Invocation {
    fn bucket(&mut self, key: &Arc<str>, limit: RateLimit, level: Level) {
        let (interval, burst) = if limit.refuses_all() {
            (0, 0)
        } else {
            (limit.interval_nanos(), u64::from(limit.burst))
        };
        self.keys.push(Arc::clone(key));
        self.args.extend([interval / 1000, interval % 1000, burst]);
        self.levels.push(level);
    }
}

impl ThrottleBackend for RedisBackend {
    // Buckets are named by their Redis keys, prefix included, so that a
    // decision formats no bucket key.
    fn bucket(&self, name: &str, limit: RateLimit) -> Bucket {
        Bucket {
            name: self.bucket_key(name).into(),
            limit,
            local: None,
        }
    }

    fn plan_key(&self, plan: &Arc<UsagePlan>, key_id: &str) -> PlanKey {
        let mut key = PlanKey::unprepared(plan, key_id);
        key.plan_bucket = key
            .plan_bucket
            .as_deref()
            .map(|name| self.bucket_key(name).into());
        key.method_buckets = key
            .method_buckets
            .iter()
            .map(|name| self.bucket_key(name).into())
            .collect();
        key
    }

    fn decide(&self, check: &Check<'_>) -> Decision {
        let now = self.clock.now_nanos();
        let now_ms = now / 1_000_000;
        let today = Day::from_epoch_nanos(now);
        let mut call = Invocation {
            keys: Vec::with_capacity(check.buckets.len() + 4),
            args: Vec::with_capacity(8 + 3 * (check.buckets.len() + 2)),
            levels: Vec::with_capacity(check.buckets.len() + 2),
        };
        let mut counters = Vec::new();
        let (mut mode, mut quota_limit, mut quota_ttl) = (0, 0, 0);
        if let Some((key, slot)) = check.key {
            mode = 2;
            if let Some(quota) = key.plan.quota {
                let (start, next) = quota.period.window(today);
                mode = 1;
                quota_limit = key.plan.quota_limit(start).unwrap_or(quota.limit);
                quota_ttl = ms_until(next, now_ms).saturating_add(QUOTA_EXPIRY_MARGIN_MS);
                counters.push(self.quota_key(key, start));
            }
            counters.push(self.usage_key(key, today));
            if let Some(i) = slot
                && let (Some(name), Some(method)) = (key.method_buckets.get(i), key.methods.get(i))
            {
                call.bucket(name, method.limit, Level::PlanMethod);
            }
            if let (Some(name), Some(limit)) = (&key.plan_bucket, key.plan.throttle) {
                call.bucket(name, limit, Level::Plan);
            }
        }
        for (i, bucket) in check.buckets.iter().enumerate() {
            call.bucket(&bucket.name, bucket.limit, Level::Shared(i));
        }
        let usage_ttl = ms_until(Day(today.0 + 1 + USAGE_RETENTION_DAYS), now_ms);
        let head = [
            now / 1000,
            now % 1000,
            call.levels.len() as u64,
            mode,
            quota_limit,
            quota_ttl,
            usage_ttl,
            BUCKET_EXPIRY_MARGIN_MS,
        ];
        call.args.splice(0..0, head);
        call.keys.extend(counters.into_iter().map(Arc::from));

        let mut connection = match self.connection() {
            Ok(connection) => connection,
            Err(err) => return Decision::ready(Err(err)),
        };
        let script = Arc::clone(&self.script);
        let timeout = self.timeout;
        Decision::Pending(Box::pin(async move {
            let mut invocation = script.prepare_invoke();
            for key in &call.keys {
                invocation.key(&**key);
            }
            for arg in &call.args {
                invocation.arg(*arg);
            }
            let code: i64 =
                match tokio::time::timeout(timeout, invocation.invoke_async(&mut connection)).await
                {
                    Err(_) => return Err(timed_out(timeout)),
                    Ok(Err(err)) => return Err(redis_error(&err)),
                    Ok(Ok(code)) => code,
                };
            match code {
                0 => Ok(Verdict::Allowed),
                -1 => Ok(Verdict::QuotaExceeded),
                i => usize::try_from(i)
                    .ok()
                    .and_then(|i| call.levels.get(i.wrapping_sub(1)))
                    .map(|level| Verdict::Throttled(*level))
                    .ok_or_else(|| {
                        BackendError(format!("unexpected answer {i} from the decision script"))
                    }),
            }
        }))
    }

    fn daily_usage(&self, key: &PlanKey, from: Day, to: Day) -> BackendFuture<Vec<u64>> {
        if to < from {
            return Box::pin(std::future::ready(Ok(Vec::new())));
        }
        let mut keys = Vec::new();
        let mut day = from;
        while day <= to {
            keys.push(self.usage_key(key, day));
            day = day.next();
        }
        let connection = self.connection();
        let timeout = self.timeout;
        Box::pin(async move {
            let mut connection = connection?;
            let mut cmd = redis::cmd("MGET");
            cmd.arg(&keys);
            let counts: Vec<Option<u64>> =
                match tokio::time::timeout(timeout, cmd.query_async(&mut connection)).await {
                    Err(_) => return Err(timed_out(timeout)),
                    Ok(Err(err)) => return Err(redis_error(&err)),
                    Ok(Ok(counts)) => counts,
                };
            if counts.len() != keys.len() {
                return Err(BackendError(format!(
                    "Redis answered {} counters for {} days",
                    counts.len(),
                    keys.len()
                )));
            }
            Ok(counts.into_iter().map(Option::unwrap_or_default).collect())
        })
    }

    fn clock(&self) -> &Clock {
        &self.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_deserialise_with_defaults() {
        let config: RedisConfig =
            serde_json::from_str(r#"{"url": "redis://127.0.0.1:6379/"}"#).unwrap();
        assert_eq!(config, RedisConfig::new("redis://127.0.0.1:6379/"));
        assert_eq!(config.prefix, "gateway:");
        assert_eq!(config.timeout, Duration::from_millis(100));
        let config: RedisConfig =
            serde_json::from_str(r#"{"url": "redis://h/", "prefix": "x:", "timeout_ms": 250}"#)
                .unwrap();
        assert_eq!(config.prefix, "x:");
        assert_eq!(config.timeout, Duration::from_millis(250));
        assert!(serde_json::from_str::<RedisConfig>(r#"{"url": "redis://h/", "ttl": 1}"#).is_err());
    }

    #[test]
    fn passwords_stay_out_of_debug_output() {
        let config = RedisConfig::new("redis://:s3cret@cache:6379/2");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("redis://***@cache:6379/2"), "{shown}");
        assert_eq!(redacted("redis://cache/"), "redis://cache/");
    }

    #[test]
    fn backends_are_made_without_redis_or_a_runtime() {
        let backend =
            RedisBackend::new(RedisConfig::new("redis://127.0.0.1:1/"), Clock::system()).unwrap();
        assert!(backend.manager.get().is_none());
        let buckets = [backend.bucket("b", RateLimit::new(1.0, 1).unwrap())];
        let check = Check {
            buckets: &buckets,
            key: None,
        };
        // Outside a runtime a decision is an error, not a panic.
        assert!(matches!(
            backend.decide(&check),
            Decision::Ready(Some(Err(_)))
        ));
        assert!(RedisBackend::new(RedisConfig::new("nonsense"), Clock::system()).is_err());
        assert!(
            RedisBackend::new(
                RedisConfig::new("redis://h/").with_timeout(Duration::ZERO),
                Clock::system()
            )
            .is_err()
        );
    }
}
