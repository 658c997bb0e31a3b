//! Checking one token: its shape, header, key, signature and claims, then the
//! scopes a route requires.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gateway_core::clock::Clock;
use gateway_core::model::ApiProtocol;
use gateway_core::{GatewayError, GatewayResponseType, RequestContext};
use http::HeaderMap;
use http::header::{HeaderValue, WWW_AUTHENTICATE};
use jsonwebtoken::Algorithm;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::config::{ConfigError, IdentitySource, JwtConfig, JwtProfile, anchored};
use super::jwks::{CachePolicy, KeyCache, KeyError};
use super::signature::SignatureCache;

/// What a verified token says about the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// Every claim of the token, as sent (`$context.authorizer.claims.*` on REST
    /// APIs, `requestContext.authorizer.jwt.claims` in HTTP API Lambda events).
    pub claims: Map<String, Value>,
    /// The token's scopes (`scope`, space separated, or `scp`), when it has any.
    pub scopes: Option<Vec<String>>,
}

impl Verified {
    /// Records the caller in a request's `$context.authorizer`.
    pub fn apply_to(&self, context: &mut RequestContext) {
        context.authorizer.claims.clone_from(&self.claims);
        context.authorizer.scopes.clone_from(&self.scopes);
    }
}

/// Why a token was refused. Only the response's type and, for HTTP APIs, the
/// `www-authenticate` description tell the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Missing,
    Malformed,
    Algorithm,
    MissingKid,
    Issuer,
    UnknownKey,
    Signature,
    MissingExpiry,
    Expired,
    NotYetValid,
    IssuedInFuture,
    Audience,
    TokenUse,
    Scope,
    KeysUnavailable,
}

impl Reason {
    fn description(self) -> &'static str {
        match self {
            Self::Missing => "no token was found in the identity source",
            Self::Malformed => "the token is not a well-formed signed JWT",
            Self::Algorithm => "the token's algorithm is not allowed for its key",
            Self::MissingKid => "the token header has no kid",
            Self::Issuer => "the token does not have a valid issuer",
            Self::UnknownKey => "the token is signed with an unknown key",
            Self::Signature => "the token signature is invalid",
            Self::MissingExpiry => "the token has no expiry",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not valid yet",
            Self::IssuedInFuture => "the token was issued in the future",
            Self::Audience => "the token does not have a valid audience",
            Self::TokenUse => "the token is not of the kind this route accepts",
            Self::Scope => "the token does not have the required scopes",
            Self::KeysUnavailable => "the issuer's signing keys are unavailable",
        }
    }
}

/// A JWT or Cognito user pool authorizer: one issuer set, audience set and key
/// cache, shared by every clone.
///
/// Built by [`JwtConfig::build`] or [`JwtAuthorizer::from_model`]; the same
/// authorizer serves every route that names it, each with its own scopes.
#[derive(Debug, Clone)]
pub struct JwtAuthorizer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    profile: JwtProfile,
    protocol: ApiProtocol,
    issuers: Vec<KeyCache>,
    audiences: Vec<String>,
    identity_source: IdentitySource,
    validation_expression: Option<Regex>,
    algorithms: Vec<Algorithm>,
    signatures: Option<SignatureCache>,
    leeway: u64,
    clock: Clock,
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    kid: Option<Cow<'a, str>>,
    crit: Option<Value>,
}

impl JwtAuthorizer {
    /// Builds an authorizer from its settings (see [`JwtConfig::build`]).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an unusable issuer or key set URL, an HTTP API
    /// authorizer without audiences, or no usable algorithm.
    pub fn new(config: JwtConfig) -> Result<Self, ConfigError> {
        if config.issuers.is_empty() {
            return Err(ConfigError::MissingIssuer(config.name));
        }
        if config.profile == JwtProfile::Jwt && config.audiences.is_empty() {
            return Err(ConfigError::MissingAudience(config.name));
        }
        let algorithms: Vec<Algorithm> = config
            .algorithms
            .iter()
            .copied()
            .filter(|alg| !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
            .collect();
        if algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        let policy = CachePolicy {
            refresh_interval: config.refresh_interval,
            max_age: config.max_key_age,
            timeout: config.fetch_timeout,
        };
        let issuers = config
            .issuers
            .iter()
            .map(|issuer| KeyCache::new(issuer, policy, config.tls.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let validation_expression = config
            .validation_expression
            .as_deref()
            .map(anchored)
            .transpose()?;
        Ok(Self {
            inner: Arc::new(Inner {
                name: config.name,
                profile: config.profile,
                protocol: config.protocol,
                issuers,
                audiences: config.audiences,
                identity_source: config.identity_source,
                validation_expression,
                algorithms,
                signatures: SignatureCache::new(config.signature_cache),
                leeway: config.leeway.as_secs(),
                clock: config.clock,
            }),
        })
    }

    /// The authorizer a model authorizer of type `jwt` or `cognito_user_pools`
    /// describes, with default cache settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`]; Cognito issuers are https URLs, so a Cognito authorizer
    /// needs [`JwtConfig::jwks_url`] for now: build those with
    /// [`JwtConfig::from_model`].
    pub fn from_model(
        authorizer: &gateway_core::model::Authorizer,
        protocol: ApiProtocol,
    ) -> Result<Self, ConfigError> {
        JwtConfig::from_model(authorizer, protocol)?.build()
    }

    /// The rules tokens are held to.
    #[must_use]
    pub fn profile(&self) -> JwtProfile {
        self.inner.profile
    }

    /// The token a request carries in the identity source, without a `Bearer `
    /// prefix; `None` when it is missing or empty.
    #[must_use]
    pub fn token<'r>(&self, headers: &'r HeaderMap, query: Option<&str>) -> Option<Cow<'r, str>> {
        let raw: Cow<'r, str> = match &self.inner.identity_source {
            IdentitySource::Header(name) => Cow::Borrowed(headers.get(name)?.to_str().ok()?.trim()),
            IdentitySource::Query(name) => Cow::Owned(
                gateway_core::context::query_param(query?, name)?
                    .trim()
                    .to_owned(),
            ),
        };
        let token = match raw {
            Cow::Borrowed(s) => Cow::Borrowed(strip_bearer(s)),
            Cow::Owned(s) => Cow::Owned(strip_bearer(&s).to_owned()),
        };
        (!token.is_empty()).then_some(token)
    }

    /// Authorizes a request: reads the token from the identity source and
    /// verifies it (see [`verify`](Self::verify)).
    ///
    /// # Errors
    ///
    /// The gateway response for the refusal.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        required_scopes: &[String],
    ) -> Result<Verified, GatewayError> {
        match self.token(headers, query) {
            Some(token) => self.verify(&token, required_scopes).await,
            None => Err(self.reject(Reason::Missing, required_scopes)),
        }
    }

    /// Verifies a token (a `Bearer ` prefix is allowed) for a route requiring
    /// `required_scopes` (empty: none).
    ///
    /// # Errors
    ///
    /// `401 Unauthorized` for a token that is malformed, signed with an unknown
    /// key or a disallowed algorithm, wrongly signed, expired, not yet valid, or
    /// for another issuer or audience (a REST API answers an expired token with
    /// `The incoming token has expired`); for a missing scope, `403 Forbidden` on
    /// HTTP APIs and `401` on REST APIs; `500` when the issuer's keys have never
    /// been fetched successfully.
    pub async fn verify(
        &self,
        token: &str,
        required_scopes: &[String],
    ) -> Result<Verified, GatewayError> {
        self.check(strip_bearer(token.trim()), required_scopes)
            .await
            .map_err(|reason| {
                tracing::debug!(
                    authorizer = %self.inner.name,
                    reason = reason.description(),
                    "token refused"
                );
                self.reject(reason, required_scopes)
            })
    }

    async fn check(&self, token: &str, required_scopes: &[String]) -> Result<Verified, Reason> {
        let inner = &*self.inner;
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Reason::Malformed);
        };
        let header_json = URL_SAFE_NO_PAD
            .decode(header_b64)
            .map_err(|_| Reason::Malformed)?;
        let header: Header<'_> =
            serde_json::from_slice(&header_json).map_err(|_| Reason::Malformed)?;
        // `none` and symmetric algorithms are never accepted, whatever the key.
        let alg: Algorithm = header.alg.parse().map_err(|_| Reason::Algorithm)?;
        if !inner.algorithms.contains(&alg) {
            return Err(Reason::Algorithm);
        }
        if header.crit.is_some() {
            return Err(Reason::Malformed);
        }
        let kid = header.kid.ok_or(Reason::MissingKid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| Reason::Malformed)?;
        let claims: Map<String, Value> =
            serde_json::from_slice(&payload).map_err(|_| Reason::Malformed)?;

        // Only configured issuers' keys are ever fetched.
        let issuer = claims.get("iss").and_then(Value::as_str);
        let cache = inner
            .issuers
            .iter()
            .find(|cache| Some(cache.issuer()) == issuer)
            .ok_or(Reason::Issuer)?;
        let key = match cache.key(&kid, &inner.clock).await {
            Ok(key) => key,
            Err(KeyError::UnknownKid) => return Err(Reason::UnknownKey),
            Err(KeyError::Unavailable(err)) => {
                tracing::warn!(authorizer = %inner.name, error = %err, "no signing keys");
                return Err(Reason::KeysUnavailable);
            }
        };
        if !key.algorithms.contains(&alg) {
            return Err(Reason::Algorithm);
        }
        let message = &token[..header_b64.len() + 1 + payload_b64.len()];
        let valid = match &inner.signatures {
            Some(cache) => cache.verify(&key.public, alg, message.as_bytes(), signature),
            None => key.public.verify(alg, message.as_bytes(), signature),
        };
        if !valid {
            return Err(Reason::Signature);
        }

        self.check_times(&claims)?;
        let scopes = token_scopes(&claims);
        match inner.profile {
            JwtProfile::Jwt => {
                let audience = match claims.get("aud") {
                    Some(aud) => audience_matches(aud, &inner.audiences),
                    None => claims
                        .get("client_id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| inner.audiences.iter().any(|a| a == id)),
                };
                if !audience {
                    return Err(Reason::Audience);
                }
            }
            JwtProfile::CognitoUserPools => self.check_cognito(&claims, required_scopes)?,
        }
        if !required_scopes.is_empty() {
            let granted = scopes
                .as_deref()
                .is_some_and(|have| have.iter().any(|s| required_scopes.contains(s)));
            if !granted {
                return Err(Reason::Scope);
            }
        }
        Ok(Verified { claims, scopes })
    }

    fn check_times(&self, claims: &Map<String, Value>) -> Result<(), Reason> {
        let now = self.inner.clock.unix_seconds();
        let leeway = self.inner.leeway;
        let exp = numeric_claim(claims, "exp")?.ok_or(Reason::MissingExpiry)?;
        if now >= exp.saturating_add(leeway) {
            return Err(Reason::Expired);
        }
        if numeric_claim(claims, "nbf")?.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(Reason::NotYetValid);
        }
        if numeric_claim(claims, "iat")?.is_some_and(|iat| iat > now.saturating_add(leeway)) {
            return Err(Reason::IssuedInFuture);
        }
        Ok(())
    }

    /// Cognito's token kinds: ID tokens (`token_use` `id`, `aud` the app client)
    /// for methods without scopes, access tokens (`token_use` `access`,
    /// `client_id` the app client) for methods with scopes. A token without
    /// `token_use` counts as an ID token when it has an `aud`.
    fn check_cognito(
        &self,
        claims: &Map<String, Value>,
        required_scopes: &[String],
    ) -> Result<(), Reason> {
        let inner = &*self.inner;
        let access = match claims.get("token_use").and_then(Value::as_str) {
            Some("access") => true,
            Some("id") => false,
            Some(_) => return Err(Reason::TokenUse),
            None => !claims.contains_key("aud"),
        };
        if access == required_scopes.is_empty() {
            return Err(Reason::TokenUse);
        }
        let client = if access {
            claims.get("client_id").and_then(Value::as_str)
        } else {
            claims.get("aud").and_then(Value::as_str)
        };
        if !inner.audiences.is_empty()
            && !client.is_some_and(|c| inner.audiences.iter().any(|a| a == c))
        {
            return Err(Reason::Audience);
        }
        if let Some(pattern) = &inner.validation_expression
            && !client.is_some_and(|c| pattern.is_match(c))
        {
            return Err(Reason::Audience);
        }
        Ok(())
    }

    fn reject(&self, reason: Reason, required_scopes: &[String]) -> GatewayError {
        let http_api = self.inner.protocol == ApiProtocol::Http;
        let error = match reason {
            Reason::KeysUnavailable => {
                let error = GatewayError::new(GatewayResponseType::AuthorizerFailure);
                return if http_api {
                    error.with_message("Internal Server Error")
                } else {
                    error
                };
            }
            Reason::Scope if http_api => GatewayError::new(GatewayResponseType::AccessDenied)
                .with_message("Forbidden")
                .with_error_type("ForbiddenException"),
            Reason::Expired if !http_api => GatewayError::new(GatewayResponseType::Unauthorized)
                .with_message("The incoming token has expired"),
            _ => GatewayError::new(GatewayResponseType::Unauthorized),
        };
        if !http_api {
            return error;
        }
        let code = if reason == Reason::Scope {
            "insufficient_scope"
        } else {
            "invalid_token"
        };
        let challenge = format!(
            "Bearer scope=\"{}\" error=\"{code}\" error_description=\"{}\"",
            required_scopes.join(" "),
            reason.description()
        );
        match HeaderValue::from_str(&challenge) {
            Ok(value) => error.with_header(WWW_AUTHENTICATE, value),
            Err(_) => error,
        }
    }
}

fn strip_bearer(value: &str) -> &str {
    match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => value[7..].trim_start(),
        _ => value,
    }
}

/// A NumericDate claim in whole seconds; a present but non-numeric value is a
/// malformed token.
fn numeric_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, Reason> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(secs) = n.as_u64() {
                Ok(Some(secs))
            } else if n.as_i64().is_some() {
                Ok(Some(0))
            } else {
                match n.as_f64() {
                    Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(f as u64)),
                    Some(f) if f.is_finite() => Ok(Some(0)),
                    _ => Err(Reason::Malformed),
                }
            }
        }
        Some(_) => Err(Reason::Malformed),
    }
}

fn audience_matches(aud: &Value, audiences: &[String]) -> bool {
    match aud {
        Value::String(one) => audiences.iter().any(|a| a == one),
        Value::Array(many) => many
            .iter()
            .filter_map(Value::as_str)
            .any(|one| audiences.iter().any(|a| a == one)),
        _ => false,
    }
}

/// `scope` (space separated) or, without it, `scp` (a list or a space separated
/// string).
fn token_scopes(claims: &Map<String, Value>) -> Option<Vec<String>> {
    let split = |s: &str| s.split_whitespace().map(str::to_owned).collect();
    match claims.get("scope") {
        Some(Value::String(s)) => Some(split(s)),
        _ => match claims.get("scp")? {
            Value::String(s) => Some(split(s)),
            Value::Array(list) => Some(
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            ),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn bearer_prefixes_are_stripped() {
        assert_eq!(strip_bearer("Bearer abc"), "abc");
        assert_eq!(strip_bearer("bearer   abc"), "abc");
        assert_eq!(strip_bearer("abc"), "abc");
        assert_eq!(strip_bearer("Bearer"), "Bearer");
        assert_eq!(strip_bearer("Béarer abc"), "Béarer abc");
    }

    #[test]
    fn scopes_come_from_scope_or_scp() {
        assert_eq!(
            token_scopes(&map(json!({"scope": "a  b", "scp": ["c"]}))),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            token_scopes(&map(json!({"scp": ["c", 1, "d"]}))),
            Some(vec!["c".into(), "d".into()])
        );
        assert_eq!(
            token_scopes(&map(json!({"scp": "e f"}))).map(|s| s.len()),
            Some(2)
        );
        assert_eq!(token_scopes(&map(json!({"sub": "x"}))), None);
    }

    #[test]
    fn audiences_match_strings_and_lists() {
        let accepted = ["api".to_owned()];
        assert!(audience_matches(&json!("api"), &accepted));
        assert!(audience_matches(&json!(["other", "api"]), &accepted));
        assert!(!audience_matches(&json!(["other"]), &accepted));
        assert!(!audience_matches(&json!(7), &accepted));
    }

    #[test]
    fn numeric_dates_accept_integers_and_fractions() {
        let claims = map(json!({"exp": 10, "nbf": 2.9, "iat": -5, "bad": "7"}));
        assert_eq!(numeric_claim(&claims, "exp"), Ok(Some(10)));
        assert_eq!(numeric_claim(&claims, "nbf"), Ok(Some(2)));
        assert_eq!(numeric_claim(&claims, "iat"), Ok(Some(0)));
        assert_eq!(numeric_claim(&claims, "bad"), Err(Reason::Malformed));
        assert_eq!(numeric_claim(&claims, "none"), Ok(None));
    }
}
