//! Checking a request's signature: [`Verifier`], and the [`Caller`] it yields.

use std::borrow::Cow;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use gateway_core::clock::Clock;
use gateway_core::context::Identity;
use http::header::{AUTHORIZATION, DATE, HOST};
use http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::canonical::{
    format_amz_date, parse_amz_date, parse_http_date, push_canonical_path, push_canonical_query,
    push_header_value,
};
use super::parse::{self, ALGORITHM, AuthParams, Scope};
use super::{Credential, CredentialStore, Rejection};
use crate::policy::{Decision, PolicyRequest, Principal, evaluate_all};

/// The payload hash that tells the server not to hash the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The longest lifetime a presigned URL may declare (`X-Amz-Expires`): a week.
pub const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

/// How far a request's timestamp may be from the server's clock by default.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(300);

const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";
const TERMINATOR: &str = "aws4_request";

/// Verifies inbound Signature Version 4 signatures for one region.
///
/// A request is accepted when it carries a signature (in the `Authorization`
/// header, or as presigned `X-Amz-*` query parameters) that:
///
/// - is scoped to this region, to the service (`execute-api` by default) and to
///   the date of its timestamp (`X-Amz-Date`, or the `Date` header);
/// - was made within the clock-skew window around the server's time (five minutes
///   either way by default);
/// - names an access key the [`CredentialStore`] knows, with the session token of
///   temporary credentials, before they expire;
/// - signs the `Host` header;
/// - equals the signature computed with the key's secret over the canonical
///   request, whose payload hash is the body's SHA-256, or the
///   `X-Amz-Content-Sha256` value (`UNSIGNED-PAYLOAD`, or a hash the body must
///   match).
///
/// A presigned URL also expires `X-Amz-Expires` seconds after its `X-Amz-Date`,
/// but never later than the skew window allows: API Gateway holds presigned
/// requests to the same five minutes as signed headers, whatever lifetime the URL
/// declares (AWS does not document this; it is what its endpoints do).
///
/// Signing keys are derived once per secret and day and kept, so a request costs
/// one HMAC and two SHA-256 passes (three with a body to hash).
///
/// Where AWS documents nothing, this verifier chooses:
///
/// - a request with both an `Authorization` header and presigned parameters is
///   judged by its header (the `X-Amz-*` parameters are then ordinary, signed,
///   query parameters);
/// - a `+` in the query is a literal plus (`%2B`), never a space, as signers
///   encode spaces as `%20`;
/// - an `X-Amz-Content-Sha256` holding a hash is checked against the body, as S3
///   does, so that the signature covers the body it names;
/// - algorithms other than `AWS4-HMAC-SHA256` (SigV4a) are refused as an
///   incomplete signature.
pub struct Verifier {
    region: Arc<str>,
    service: Arc<str>,
    store: Arc<dyn CredentialStore>,
    max_skew: Duration,
    clock: Clock,
    keys: moka::sync::Cache<u64, Arc<CachedKey>>,
    key_ids: RandomState,
}

struct CachedKey {
    secret: Box<str>,
    date: Box<str>,
    key: [u8; 32],
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("region", &self.region)
            .field("service", &self.service)
            .field("store", &self.store)
            .field("max_skew", &self.max_skew)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for `execute-api` in `region`, with the credentials of `store`.
    #[must_use]
    pub fn new(region: impl Into<Arc<str>>, store: Arc<dyn CredentialStore>) -> Self {
        Self {
            region: region.into(),
            service: Arc::from("execute-api"),
            store,
            max_skew: DEFAULT_MAX_SKEW,
            clock: Clock::system(),
            keys: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(Duration::from_secs(2 * 86_400))
                .build(),
            key_ids: RandomState::new(),
        }
    }

    /// Accepts signatures scoped to another service than `execute-api`.
    #[must_use]
    pub fn with_service(mut self, service: impl Into<Arc<str>>) -> Self {
        self.service = service.into();
        self
    }

    /// Sets how far a timestamp may be from the server's clock (five minutes by
    /// default).
    #[must_use]
    pub fn with_max_skew(mut self, max_skew: Duration) -> Self {
        self.max_skew = max_skew;
        self
    }

    /// Reads the time requests' timestamps and temporary credentials' expiry are
    /// checked against from `clock` (default: [`Clock::system`]).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The region signatures must be scoped to.
    #[must_use]
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service signatures must be scoped to.
    #[must_use]
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The credential store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn CredentialStore> {
        &self.store
    }

    /// Verifies the request `parts` with its whole `body`.
    ///
    /// # Errors
    ///
    /// The [`Rejection`] AWS would answer with.
    pub fn verify(&self, parts: &Parts, body: &[u8]) -> Result<Caller, Rejection> {
        self.begin(parts)?.verify(body)
    }

    /// Checks everything that does not depend on the body: the signature's
    /// parameters, scope, time, credential and session token. The
    /// [`SignedRequest`] says whether the body is needed to finish, so that a
    /// layer reads it only then.
    ///
    /// # Errors
    ///
    /// The [`Rejection`] AWS would answer with.
    pub fn begin<'a>(&'a self, parts: &'a Parts) -> Result<SignedRequest<'a>, Rejection> {
        let headers = &parts.headers;
        let amz_date = headers.get(X_AMZ_DATE);
        let params = match headers.get(AUTHORIZATION) {
            Some(value) => {
                let has_date = amz_date.is_some() || headers.contains_key(DATE);
                match value.to_str() {
                    Ok(text) => parse::from_header(text, has_date)?,
                    Err(_) => {
                        let text = String::from_utf8_lossy(value.as_bytes());
                        return Err(match parse::from_header(&text, has_date) {
                            Err(rejection) => rejection,
                            Ok(_) => Rejection::IncompleteSignature(
                                "The Authorization header holds characters that are not \
                                 visible ASCII."
                                    .to_owned(),
                            ),
                        });
                    }
                }
            }
            None => match parts.uri.query().and_then(parse::from_query) {
                Some(params) => params?,
                None => return Err(Rejection::MissingAuthenticationToken),
            },
        };

        let (timestamp, epoch) = timestamp(&params, parts)?;
        let scope = Scope::parse(&params.credential)?;
        self.check_scope(&scope, &timestamp)?;
        let now = self.clock.unix_seconds();
        self.check_time(&params, &timestamp, epoch, now)?;

        let credential = self
            .store
            .lookup(scope.access_key_id)
            .ok_or(Rejection::UnrecognizedClient)?;
        if credential
            .expiration
            .is_some_and(|at| epoch_secs(at) <= now)
        {
            return Err(Rejection::ExpiredToken);
        }
        let token = if params.presigned {
            params.security_token.as_deref()
        } else {
            headers
                .get(X_AMZ_SECURITY_TOKEN)
                .map(|v| v.to_str().unwrap_or_default())
        };
        let token_matches = match (credential.session_token.as_deref(), token) {
            (None, None) => true,
            (Some(expected), Some(given)) => {
                bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
            }
            _ => false,
        };
        if !token_matches {
            return Err(Rejection::UnrecognizedClient);
        }

        if !params
            .signed_headers
            .split(';')
            .any(|h| h.trim().eq_ignore_ascii_case("host"))
        {
            return Err(Rejection::IncompleteSignature(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
                    .to_owned(),
            ));
        }
        let declared = match headers.get(X_AMZ_CONTENT_SHA256) {
            Some(value) => Some(Cow::Borrowed(value.to_str().unwrap_or_default())),
            None => params.content_sha256.clone(),
        };
        let payload = match declared.as_deref().map(str::trim) {
            None => Payload::Body,
            Some(UNSIGNED_PAYLOAD) => Payload::Unsigned,
            Some(hash) if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Payload::Declared(hash.to_ascii_lowercase())
            }
            Some(_) => {
                return Err(Rejection::InvalidSignature(
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value."
                        .to_owned(),
                ));
            }
        };
        Ok(SignedRequest {
            verifier: self,
            parts,
            params,
            credential,
            timestamp,
            epoch,
            payload,
        })
    }

    fn check_scope(&self, scope: &Scope<'_>, timestamp: &str) -> Result<(), Rejection> {
        let mut message = String::new();
        if scope.region != &*self.region {
            message.push_str(&format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                scope.region
            ));
        }
        if scope.service != &*self.service {
            message.push_str(&format!(
                "Credential should be scoped to correct service: '{}'. ",
                self.service
            ));
        }
        if scope.terminator != TERMINATOR {
            message.push_str(&format!(
                "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{}'. ",
                scope.terminator
            ));
        }
        if !message.is_empty() {
            return Err(Rejection::InvalidSignature(message));
        }
        let day = timestamp.get(..8).unwrap_or(timestamp);
        if scope.date != day {
            return Err(Rejection::InvalidSignature(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{}' != '{day}', from '{timestamp}'.",
                scope.date
            )));
        }
        Ok(())
    }

    fn check_time(
        &self,
        params: &AuthParams<'_>,
        timestamp: &str,
        signed: u64,
        now: u64,
    ) -> Result<(), Rejection> {
        let skew = self.max_skew.as_secs();
        let mut window = skew;
        if let Some(expires) = &params.expires {
            let expires: u64 = expires.trim().parse().map_err(|_| {
                Rejection::IncompleteSignature("X-Amz-Expires should be a number".to_owned())
            })?;
            if expires > MAX_PRESIGNED_EXPIRES {
                return Err(Rejection::IncompleteSignature(format!(
                    "X-Amz-Expires must be less than a week (in seconds); that is, the given \
                     X-Amz-Expires must be less than {MAX_PRESIGNED_EXPIRES} seconds"
                )));
            }
            window = window.min(expires);
        }
        if signed.saturating_add(window) < now {
            return Err(Rejection::SignatureExpired(format!(
                "Signature expired: {timestamp} is now earlier than {} ({} - {}.)",
                format_amz_date(now - window),
                format_amz_date(now),
                span(window)
            )));
        }
        if signed > now.saturating_add(skew) {
            return Err(Rejection::SignatureExpired(format!(
                "Signature not yet current: {timestamp} is still later than {} ({} + {}.)",
                format_amz_date(now + skew),
                format_amz_date(now),
                span(skew)
            )));
        }
        Ok(())
    }

    /// The signing key of `secret` on `date` (`YYYYMMDD`, the day of `epoch`),
    /// derived once and then kept.
    pub(super) fn signing_key(&self, secret: &str, date: &str, epoch: u64) -> [u8; 32] {
        let id = self.key_ids.hash_one((secret, date));
        if let Some(cached) = self.keys.get(&id) {
            // Two (secret, date) pairs could share a hash: only an exact match counts.
            if &*cached.secret == secret && &*cached.date == date {
                return cached.key;
            }
        }
        let derived = generate_signing_key(
            secret,
            UNIX_EPOCH + Duration::from_secs(epoch),
            &self.region,
            &self.service,
        );
        let mut key = [0u8; 32];
        for (to, from) in key.iter_mut().zip(derived.as_ref()) {
            *to = *from;
        }
        self.keys.insert(
            id,
            Arc::new(CachedKey {
                secret: secret.into(),
                date: date.into(),
                key,
            }),
        );
        key
    }
}

/// "5 min" for whole minutes, "90 sec" otherwise.
fn span(secs: u64) -> String {
    if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} sec")
    }
}

fn epoch_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The request's timestamp as signed (ISO 8601 basic) and in epoch seconds.
fn timestamp<'a>(
    params: &AuthParams<'a>,
    parts: &'a Parts,
) -> Result<(Cow<'a, str>, u64), Rejection> {
    let iso_date = |text: Cow<'a, str>| match parse_amz_date(text.trim()) {
        Some(epoch) => Ok((text, epoch)),
        None => Err(Rejection::IncompleteSignature(format!(
            "Date must be in ISO-8601 'basic format'. Got '{text}'. See \
             http://en.wikipedia.org/wiki/ISO_8601"
        ))),
    };
    if let Some(date) = &params.date {
        return iso_date(date.clone());
    }
    if let Some(value) = parts.headers.get(X_AMZ_DATE) {
        return iso_date(Cow::Borrowed(value.to_str().unwrap_or_default()));
    }
    let text = parts
        .headers
        .get(DATE)
        .map(|v| v.to_str().unwrap_or_default())
        .unwrap_or_default();
    match parse_http_date(text) {
        Some(epoch) => Ok((Cow::Owned(format_amz_date(epoch)), epoch)),
        None => Err(Rejection::IncompleteSignature(format!(
            "Date must be an HTTP date such as 'Sun, 30 Aug 2015 12:36:00 GMT'. Got '{text}'."
        ))),
    }
}

/// How the payload enters the canonical request.
#[derive(Debug)]
enum Payload {
    /// `UNSIGNED-PAYLOAD`: the body is not looked at.
    Unsigned,
    /// A declared SHA-256 (lower-case hex) the body must match.
    Declared(String),
    /// The body's SHA-256.
    Body,
}

/// A request whose signature parameters, time, credential and token have been
/// checked; [`verify`](Self::verify) finishes with the body.
pub struct SignedRequest<'a> {
    verifier: &'a Verifier,
    parts: &'a Parts,
    params: AuthParams<'a>,
    credential: Arc<Credential>,
    timestamp: Cow<'a, str>,
    epoch: u64,
    payload: Payload,
}

impl fmt::Debug for SignedRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequest")
            .field("access_key_id", &self.credential.access_key_id)
            .field("presigned", &self.params.presigned)
            .field("timestamp", &self.timestamp)
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

impl SignedRequest<'_> {
    /// Whether [`verify`](Self::verify) needs the body: false when the payload is
    /// declared `UNSIGNED-PAYLOAD`.
    #[must_use]
    pub fn needs_body(&self) -> bool {
        !matches!(self.payload, Payload::Unsigned)
    }

    /// The credential that signed the request.
    #[must_use]
    pub fn credential(&self) -> &Arc<Credential> {
        &self.credential
    }

    /// Compares the signature with the one computed over the canonical request.
    /// `body` is the whole body (ignored when [`needs_body`](Self::needs_body) is
    /// false).
    ///
    /// # Errors
    ///
    /// [`Rejection::SignatureMismatch`], or [`Rejection::InvalidSignature`] when
    /// the body differs from its declared hash.
    pub fn verify(self, body: &[u8]) -> Result<Caller, Rejection> {
        let payload_hash = match &self.payload {
            Payload::Unsigned => Cow::Borrowed(UNSIGNED_PAYLOAD),
            Payload::Declared(declared) => {
                if hex::encode(Sha256::digest(body)) != *declared {
                    return Err(Rejection::InvalidSignature(
                        "The provided 'x-amz-content-sha256' header does not match what was \
                         computed."
                            .to_owned(),
                    ));
                }
                Cow::Borrowed(declared.as_str())
            }
            Payload::Body => Cow::Owned(hex::encode(Sha256::digest(body))),
        };
        let canonical = self.canonical_request(&payload_hash);
        let scope = Scope::parse(&self.params.credential)?;
        let mut string_to_sign = String::with_capacity(160);
        string_to_sign.push_str(ALGORITHM);
        string_to_sign.push('\n');
        string_to_sign.push_str(&self.timestamp);
        string_to_sign.push('\n');
        string_to_sign.push_str(scope.without_key());
        string_to_sign.push('\n');
        string_to_sign.push_str(&hex::encode(Sha256::digest(&canonical)));

        let key =
            self.verifier
                .signing_key(&self.credential.secret_access_key, scope.date, self.epoch);
        let expected = calculate_signature(key, string_to_sign.as_bytes());
        if bool::from(expected.as_bytes().ct_eq(self.params.signature.as_bytes())) {
            Ok(Caller {
                credential: self.credential,
                presigned: self.params.presigned,
                signed_at: UNIX_EPOCH + Duration::from_secs(self.epoch),
            })
        } else {
            Err(Rejection::SignatureMismatch {
                canonical_request: String::from_utf8_lossy(&canonical).into_owned(),
                string_to_sign,
            })
        }
    }

    fn canonical_request(&self, payload_hash: &str) -> Vec<u8> {
        let parts = self.parts;
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(parts.method.as_str().as_bytes());
        out.push(b'\n');
        push_canonical_path(&mut out, parts.uri.path());
        out.push(b'\n');
        if let Some(query) = parts.uri.query() {
            let skip = self.params.presigned.then_some("X-Amz-Signature");
            push_canonical_query(&mut out, query, skip);
        }
        out.push(b'\n');
        let mut name_buf = String::new();
        for name in self.params.signed_headers.split(';') {
            name_buf.clear();
            name_buf.push_str(name.trim());
            name_buf.make_ascii_lowercase();
            out.extend_from_slice(name_buf.as_bytes());
            out.push(b':');
            let mut values = parts.headers.get_all(name_buf.as_str()).iter().peekable();
            if values.peek().is_none() && name_buf == HOST.as_str() {
                // HTTP/2 carries the host as the `:authority` pseudo-header.
                if let Some(authority) = parts.uri.authority() {
                    push_header_value(&mut out, authority.as_str().as_bytes());
                }
            }
            let mut first = true;
            for value in values {
                if !first {
                    out.push(b',');
                }
                push_header_value(&mut out, value.as_bytes());
                first = false;
            }
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(self.params.signed_headers.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(payload_hash.as_bytes());
        out
    }
}

/// The IAM identity of a verified request. The layer puts it in the request's
/// extensions.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The credential that signed the request.
    pub credential: Arc<Credential>,
    /// Whether the signature came from presigned query parameters.
    pub presigned: bool,
    /// The request's timestamp.
    pub signed_at: SystemTime,
}

impl Caller {
    /// The caller as a policy principal.
    #[must_use]
    pub fn principal(&self) -> Principal<'_> {
        Principal::Aws {
            account: &self.credential.account_id,
            arn: &self.credential.principal_arn,
        }
    }

    /// Evaluates the caller's identity policies for `request`, with the caller as
    /// its principal.
    #[must_use]
    pub fn evaluate(&self, request: &PolicyRequest<'_>) -> Decision {
        let request = request.principal(self.principal());
        evaluate_all(&self.credential.policies, &request)
    }

    /// [`evaluate`](Self::evaluate), as AWS answers it: `Ok` when the identity
    /// policies allow the call.
    ///
    /// # Errors
    ///
    /// [`Rejection::AccessDenied`] otherwise, explicit when a `Deny` matched.
    pub fn authorize(&self, request: &PolicyRequest<'_>) -> Result<(), Rejection> {
        match self.evaluate(request) {
            Decision::Allow => Ok(()),
            decision => Err(Rejection::AccessDenied {
                user_arn: self.credential.principal_arn.clone(),
                resource: request.resource.to_owned(),
                explicit: decision == Decision::Deny,
            }),
        }
    }

    /// Fills `$context.identity.accountId`, `userArn`, `caller` (when known) and
    /// `accessKey`.
    pub fn fill_identity(&self, identity: &mut Identity) {
        let credential = &self.credential;
        identity.account_id = Some(credential.account_id.clone());
        identity.user_arn = Some(credential.principal_arn.clone());
        identity.caller = (!credential.caller.is_empty()).then(|| credential.caller.clone());
        identity.access_key = Some(credential.access_key_id.clone());
    }
}
