//! Issuers' signing keys: fetched over HTTPS (or plain HTTP), parsed into verification keys with the
//! algorithms each permits, and cached.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use gateway_core::clock::{self, Clock};
use gateway_core::outbound::{self, CertificateCheck, TlsClient, Transport};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

use super::config::{ConfigError, IssuerConfig};
use super::signature::PublicKey;

/// The largest discovery document or key set read.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// A verification key and the algorithms tokens signed with it may name.
#[derive(Debug)]
pub(crate) struct Key {
    pub(crate) public: PublicKey,
    pub(crate) algorithms: Vec<Algorithm>,
}

/// Why a key could not be found.
#[derive(Debug)]
pub(crate) enum KeyError {
    /// The issuer's key set holds no key with the token's `kid`.
    UnknownKid,
    /// The issuer's keys have never been fetched successfully.
    Unavailable(FetchError),
}

/// Why a fetch failed.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("`{0}` is not an https or http URL with a host")]
    Url(String),
    #[error("fetching `{url}` failed: {reason}")]
    Transport { url: String, reason: String },
    #[error("`{url}` answered {status}")]
    Status { url: String, status: StatusCode },
    #[error("`{url}` did not answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("`{url}` is not a {what}: {reason}")]
    Malformed {
        url: String,
        what: &'static str,
        reason: String,
    },
    #[error("fetches of this issuer's keys failed; the next is allowed later")]
    RateLimited,
}

/// Where an issuer's key set is found.
#[derive(Debug, Clone)]
enum Location {
    /// A key set URL given in the configuration.
    Fixed(Uri),
    /// The issuer's OpenID discovery document, falling back to
    /// `{issuer}/.well-known/jwks.json` when there is none.
    Discover { discovery: Uri, fallback: Uri },
}

#[derive(Debug, Default)]
struct Snapshot {
    keys: HashMap<String, Arc<Key>>,
    fetched_at: Option<clock::Instant>,
}

#[derive(Debug, Default)]
struct FetchState {
    last_attempt: Option<clock::Instant>,
    last_error: Option<FetchError>,
    discovered: Option<Uri>,
}

/// Timing of the cache.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CachePolicy {
    pub(crate) refresh_interval: Duration,
    pub(crate) max_age: Duration,
    pub(crate) timeout: Duration,
}

/// One issuer's keys, fetched lazily and shared by every request.
#[derive(Debug)]
pub(crate) struct KeyCache {
    issuer: String,
    location: Location,
    /// The trust store for `https` URLs; the system's when unset.
    tls: Option<TlsClient>,
    policy: CachePolicy,
    current: RwLock<Arc<Snapshot>>,
    fetch: tokio::sync::Mutex<FetchState>,
}

impl KeyCache {
    pub(crate) fn new(
        config: &IssuerConfig,
        policy: CachePolicy,
        tls: Option<TlsClient>,
    ) -> Result<Self, ConfigError> {
        let location = match &config.jwks_url {
            Some(url) => Location::Fixed(key_set_uri(url)?),
            None => {
                let base = config.issuer.trim_end_matches('/');
                key_set_uri(&config.issuer)?;
                Location::Discover {
                    discovery: key_set_uri(&format!("{base}/.well-known/openid-configuration"))?,
                    fallback: key_set_uri(&format!("{base}/.well-known/jwks.json"))?,
                }
            }
        };
        Ok(Self {
            issuer: config.issuer.clone(),
            location,
            tls,
            policy,
            current: RwLock::new(Arc::new(Snapshot::default())),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
        })
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn is_fresh(&self, snapshot: &Snapshot, now: clock::Instant) -> bool {
        snapshot
            .fetched_at
            .is_some_and(|at| elapsed(at, now) < self.policy.max_age)
    }

    /// The key named `kid`: from the cache when it is there and fresh; otherwise
    /// after fetching the key set, at most once per refresh interval, with
    /// concurrent callers sharing one fetch.
    pub(crate) async fn key(&self, kid: &str, clock: &Clock) -> Result<Arc<Key>, KeyError> {
        let now = clock.instant();
        let snapshot = self.snapshot();
        if self.is_fresh(&snapshot, now)
            && let Some(key) = snapshot.keys.get(kid)
        {
            return Ok(Arc::clone(key));
        }

        let mut state = self.fetch.lock().await;
        // Another request may have fetched while this one waited.
        let snapshot = self.snapshot();
        let fresh = self.is_fresh(&snapshot, now);
        if fresh && let Some(key) = snapshot.keys.get(kid) {
            return Ok(Arc::clone(key));
        }
        let may_fetch = state
            .last_attempt
            .is_none_or(|at| elapsed(at, now) >= self.policy.refresh_interval);
        if may_fetch {
            state.last_attempt = Some(now);
            match self.fetch_keys(&mut state).await {
                Ok(keys) => {
                    tracing::debug!(issuer = %self.issuer, keys = keys.len(), "fetched signing keys");
                    state.last_error = None;
                    let fetched = Arc::new(Snapshot {
                        keys,
                        fetched_at: Some(now),
                    });
                    *self.current.write().unwrap_or_else(PoisonError::into_inner) = fetched;
                }
                Err(err) => {
                    tracing::warn!(issuer = %self.issuer, error = %err, "cannot fetch signing keys");
                    state.last_error = Some(err);
                }
            }
        }
        let snapshot = self.snapshot();
        if snapshot.fetched_at.is_none() {
            // Stale keys are used while refetching fails; no keys at all is the
            // gateway's failure, not the caller's.
            let err = state.last_error.clone().unwrap_or(FetchError::RateLimited);
            return Err(KeyError::Unavailable(err));
        }
        snapshot.keys.get(kid).cloned().ok_or(KeyError::UnknownKid)
    }

    async fn fetch_keys(
        &self,
        state: &mut FetchState,
    ) -> Result<HashMap<String, Arc<Key>>, FetchError> {
        let timeout = self.policy.timeout;
        let url = match &self.location {
            Location::Fixed(url) => url.clone(),
            Location::Discover {
                discovery,
                fallback,
            } => match &state.discovered {
                Some(url) => url.clone(),
                None => {
                    let url = discover(discovery, fallback, timeout, self.tls.as_ref()).await?;
                    state.discovered = Some(url.clone());
                    url
                }
            },
        };
        let body = get(&url, timeout, self.tls.as_ref()).await?;
        parse_key_set(&body).map_err(|reason| FetchError::Malformed {
            url: url.to_string(),
            what: "JSON Web Key Set",
            reason,
        })
    }
}

fn elapsed(since: clock::Instant, now: clock::Instant) -> Duration {
    // A (manual) clock that went backwards counts as a long time, so keys get
    // refetched.
    now.checked_duration_since(since).unwrap_or(Duration::MAX)
}

fn key_set_uri(url: &str) -> Result<Uri, ConfigError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| ConfigError::InvalidUrl(url.to_owned()))?;
    match uri.scheme_str() {
        Some("https" | "http") if uri.host().is_some_and(|h| !h.is_empty()) => Ok(uri),
        _ => Err(ConfigError::InvalidUrl(url.to_owned())),
    }
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

/// The key set URL an issuer's discovery document names, or the conventional
/// `/.well-known/jwks.json` when the issuer has no discovery document.
async fn discover(
    discovery: &Uri,
    fallback: &Uri,
    timeout: Duration,
    tls: Option<&TlsClient>,
) -> Result<Uri, FetchError> {
    match get(discovery, timeout, tls).await {
        Ok(body) => {
            let doc: Discovery =
                serde_json::from_slice(&body).map_err(|e| FetchError::Malformed {
                    url: discovery.to_string(),
                    what: "OpenID discovery document",
                    reason: e.to_string(),
                })?;
            key_set_uri(&doc.jwks_uri).map_err(|_| FetchError::Url(doc.jwks_uri))
        }
        Err(FetchError::Status {
            status: StatusCode::NOT_FOUND,
            ..
        }) => Ok(fallback.clone()),
        Err(err) => Err(err),
    }
}

/// One GET, answered `200`, with a bounded body and time.
async fn get(url: &Uri, timeout: Duration, tls: Option<&TlsClient>) -> Result<Bytes, FetchError> {
    match tokio::time::timeout(timeout, get_unbounded(url, tls)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout {
            url: url.to_string(),
            timeout,
        }),
    }
}

async fn get_unbounded(url: &Uri, tls: Option<&TlsClient>) -> Result<Bytes, FetchError> {
    let transport = |reason: String| FetchError::Transport {
        url: url.to_string(),
        reason,
    };
    let Some(authority) = url.authority() else {
        return Err(FetchError::Url(url.to_string()));
    };
    let connection = if url.scheme_str() == Some("https") {
        let client = match tls {
            Some(client) => client.clone(),
            None => TlsClient::system().map_err(|e| transport(e.to_string()))?,
        };
        Transport::Tls {
            client,
            check: CertificateCheck::Full,
            server_name: None,
        }
    } else {
        Transport::Plain
    };
    let stream = outbound::connect(authority, &connection)
        .await
        .map_err(|e| transport(e.to_string()))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| transport(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(error = %err, "key set connection ended with an error");
        }
    });
    let path = url.path_and_query().map_or("/", |p| p.as_str());
    let request = Request::get(path)
        .header(http::header::HOST, authority.as_str())
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, "gateway-auth")
        .body(Empty::<Bytes>::new())
        .map_err(|e| transport(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| transport(e.to_string()))?;
    if response.status() != StatusCode::OK {
        return Err(FetchError::Status {
            url: url.to_string(),
            status: response.status(),
        });
    }
    let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
        .collect()
        .await
        .map_err(|e| transport(e.to_string()))?;
    Ok(body.to_bytes())
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// Parses a JWKS document. Keys that cannot verify signatures here (encryption
/// keys, symmetric keys, unknown types or curves, keys without a `kid`) are left
/// out; the set itself must be well formed.
pub(crate) fn parse_key_set(body: &[u8]) -> Result<HashMap<String, Arc<Key>>, String> {
    let set: KeySet = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut keys = HashMap::with_capacity(set.keys.len());
    for value in set.keys {
        let raw: RawKey = match serde_json::from_value(value) {
            Ok(raw) => raw,
            Err(err) => {
                tracing::debug!(error = %err, "skipping a malformed key");
                continue;
            }
        };
        let Some(kid) = raw.kid.clone() else { continue };
        match parse_key(&raw) {
            Some(key) => {
                keys.entry(kid).or_insert_with(|| Arc::new(key));
            }
            None => tracing::debug!(kid, kty = raw.kty, "skipping a key that cannot verify"),
        }
    }
    Ok(keys)
}

fn parse_key(raw: &RawKey) -> Option<Key> {
    if raw.usage.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let pinned = match raw.alg.as_deref() {
        Some(alg) => Some(alg.parse::<Algorithm>().ok()?),
        None => None,
    };
    let decode = |part: Option<&str>| URL_SAFE_NO_PAD.decode(part?).ok();
    let (public, family): (PublicKey, Vec<Algorithm>) = match raw.kty.as_str() {
        "RSA" => {
            let (n, e) = (decode(raw.n.as_deref())?, decode(raw.e.as_deref())?);
            (PublicKey::rsa(&n, &e)?, RSA_ALGORITHMS.to_vec())
        }
        "EC" => {
            let alg = match raw.crv.as_deref()? {
                "P-256" => Algorithm::ES256,
                "P-384" => Algorithm::ES384,
                _ => return None,
            };
            let (x, y) = (decode(raw.x.as_deref())?, decode(raw.y.as_deref())?);
            (PublicKey::ec(alg, &x, &y)?, vec![alg])
        }
        // Symmetric (`oct`) keys are never taken from a key set: a published
        // secret verifies nothing.
        _ => return None,
    };
    let algorithms = match pinned {
        Some(alg) if family.contains(&alg) => vec![alg],
        Some(_) => return None,
        None => family,
    };
    Some(Key { public, algorithms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_sets_keep_only_signature_keys() {
        let body = serde_json::json!({"keys": [
            {"kid": "r", "kty": "RSA", "n": "sXch", "e": "AQAB"},
            {"kid": "r-pinned", "kty": "RSA", "alg": "PS256", "n": "sXch", "e": "AQAB"},
            {"kid": "r-enc", "kty": "RSA", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kid": "r-oaep", "kty": "RSA", "alg": "RSA-OAEP", "n": "sXch", "e": "AQAB"},
            {"kid": "r-es", "kty": "RSA", "alg": "ES256", "n": "sXch", "e": "AQAB"},
            {"kid": "secret", "kty": "oct", "k": "c2VjcmV0"},
            {"kid": "ec-short", "kty": "EC", "crv": "P-256", "x": "AQ", "y": "AQ"},
            {"kid": "ed", "kty": "OKP", "crv": "Ed25519", "x": "AQ"},
            {"kty": "RSA", "n": "sXch", "e": "AQAB"},
            "not a key"
        ]});
        let keys = parse_key_set(body.to_string().as_bytes()).unwrap_or_default();
        let mut kids: Vec<&str> = keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, ["r", "r-pinned"]);
        assert_eq!(keys["r"].algorithms, RSA_ALGORITHMS);
        assert_eq!(keys["r-pinned"].algorithms, [Algorithm::PS256]);
        assert!(parse_key_set(b"{\"nokeys\": []}").is_err());
        assert!(parse_key_set(b"<html>").is_err());
    }

    #[test]
    fn key_set_urls_are_https_or_http() {
        assert!(key_set_uri("http://127.0.0.1:8080/jwks.json").is_ok());
        assert!(key_set_uri("https://example.com/jwks.json").is_ok());
        for bad in ["/jwks.json", "ftp://example.com/k", "https:///k"] {
            assert!(
                matches!(key_set_uri(bad), Err(ConfigError::InvalidUrl(_))),
                "{bad}"
            );
        }
    }
}
