//! The result cache: one per authorizer instance, keyed by the API, the stage and
//! the identity values, bounded in size, with expiry decided by an injectable clock.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use gateway_core::clock::{self, Clock};

use super::output::AuthorizerOutput;

/// How many results one authorizer keeps by default.
pub const DEFAULT_MAX_ENTRIES: u64 = 10_000;

#[derive(Debug)]
struct Entry {
    expires_at: clock::Instant,
    output: Arc<AuthorizerOutput>,
}

/// Cached answers by key. moka bounds the memory (and drops entries after the TTL
/// of real time); whether an entry is still fresh is decided by the clock stored
/// here, so tests can expire entries without waiting.
#[derive(Clone)]
pub(crate) struct ResultCache {
    entries: moka::sync::Cache<String, Arc<Entry>>,
    ttl: Duration,
    clock: Clock,
}

impl fmt::Debug for ResultCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResultCache")
            .field("entries", &self.entries.entry_count())
            .field("ttl", &self.ttl)
            .field("clock", &self.clock)
            .finish()
    }
}

impl ResultCache {
    pub(crate) fn new(ttl: Duration, max_entries: u64, clock: Clock) -> Self {
        let entries = moka::sync::Cache::builder()
            .max_capacity(max_entries)
            .time_to_live(ttl.max(Duration::from_millis(1)))
            .build();
        Self {
            entries,
            ttl,
            clock,
        }
    }

    /// The fresh answer under `key`; a stale one is dropped.
    pub(crate) fn get(&self, key: &str) -> Option<Arc<AuthorizerOutput>> {
        let entry = self.entries.get(key)?;
        if self.clock.instant() < entry.expires_at {
            return Some(Arc::clone(&entry.output));
        }
        self.entries.invalidate(key);
        None
    }

    pub(crate) fn insert(&self, key: String, output: Arc<AuthorizerOutput>) {
        let expires_at = self.clock.instant() + self.ttl;
        self.entries
            .insert(key, Arc::new(Entry { expires_at, output }));
    }

    /// Drops every cached answer.
    pub(crate) fn clear(&self) {
        self.entries.invalidate_all();
    }
}

/// The start of a cache key: the API id and the stage. [`push_part`] adds each
/// identity value; parts are length-prefixed so that no two different lists of
/// values give the same key.
pub(crate) fn key(api_id: &str, stage: &str) -> String {
    let mut key = String::with_capacity(api_id.len() + stage.len() + 64);
    push_part(&mut key, api_id);
    push_part(&mut key, stage);
    key
}

/// Appends one length-prefixed part to a key.
pub(crate) fn push_part(key: &mut String, part: &str) {
    push_decimal(key, part.len());
    key.push(':');
    key.push_str(part);
}

/// Appends `n` in decimal, without going through `fmt` (keys are built on every
/// request).
fn push_decimal(out: &mut String, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        // `n % 10` is a single digit.
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[start..].iter().map(|&d| char::from(d)));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::lambda::output::Verdict;

    fn output() -> Arc<AuthorizerOutput> {
        Arc::new(AuthorizerOutput {
            principal_id: Some("me".to_owned()),
            context: serde_json::Map::new(),
            usage_identifier_key: None,
            verdict: Verdict::Simple(true),
        })
    }

    fn key<'v>(api_id: &str, stage: &str, values: impl IntoIterator<Item = &'v str>) -> String {
        let mut key = super::key(api_id, stage);
        for value in values {
            push_part(&mut key, value);
        }
        key
    }

    #[test]
    fn keys_do_not_collide() {
        assert_ne!(key("a", "b", ["c,d"]), key("a", "b", ["c", "d"]));
        assert_ne!(key("a", "b", ["1:c"]), key("a", "b1", [":c"]));
        assert_eq!(key("api", "prod", ["tok"]), "3:api4:prod3:tok");
        let long = "x".repeat(1234);
        assert!(key("a", "b", [long.as_str()]).starts_with("1:a1:b1234:x"));
        assert_eq!(key("", "", [""]), "0:0:0:");
    }

    #[test]
    fn entries_expire_by_the_clock() {
        let (clock, time) = Clock::manual(Duration::from_secs(1_700_000_000));
        let cache = ResultCache::new(Duration::from_secs(60), 10, clock);
        cache.insert("k".to_owned(), output());
        assert!(cache.get("k").is_some());
        time.advance(Duration::from_secs(59));
        assert!(cache.get("k").is_some());
        time.advance(Duration::from_secs(1));
        assert!(cache.get("k").is_none());
        assert!(cache.get("k").is_none(), "a stale entry is dropped");
        cache.insert("k".to_owned(), output());
        cache.clear();
        assert!(cache.get("k").is_none());
    }
}
