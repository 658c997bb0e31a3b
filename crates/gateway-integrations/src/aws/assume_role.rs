//! Assuming an integration's IAM role through STS `AssumeRole`.
//!
//! An integration whose `credentials` is an IAM role ARN
//! (`arn:aws:iam::123456789012:role/name`) is called, as on AWS, with that role's
//! temporary credentials rather than the gateway's own. The gateway gets them from
//! the Security Token Service:
//!
//! - **The call.** `POST /` with the query protocol's form body
//!   `Action=AssumeRole&Version=2011-06-15&RoleArn=...&RoleSessionName=`
//!   [`AssumedRole::SESSION_NAME`]`&DurationSeconds=`[`AssumedRole::DURATION`],
//!   SigV4-signed for the service `sts` in the configured region with the gateway's
//!   own credentials (the *source* credentials). It goes where every AWS service
//!   request goes: the `sts` endpoint override when one is configured
//!   ([`AwsConfig::with_endpoint`](super::AwsConfig::with_endpoint)), else the
//!   regional endpoint `https://sts.{region}.amazonaws.com`.
//! - **The answer.** `AssumeRoleResponse/AssumeRoleResult/Credentials/`
//!   `{AccessKeyId, SecretAccessKey, SessionToken, Expiration}`. An error answer
//!   (`ErrorResponse/Error/{Code, Message}`) becomes an [`AssumeRoleError`] carrying
//!   the status, code and message.
//! - **Caching.** An [`AssumedRole`] keeps the credentials it got and uses them until
//!   [`AssumedRole::REFRESH_BEFORE_EXPIRY`] before their `Expiration` (or half their
//!   lifetime, when they were issued for less), then asks STS again. Requests that
//!   find the credentials stale while a refresh is under way wait for that refresh
//!   instead of starting their own, so one STS call serves them all; if the old
//!   credentials are still valid they are used meanwhile. A failed refresh is not
//!   kept: the requests waiting on it get its error, and the next request tries
//!   again. Credentials are judged by a [`Clock`], which tests replace.
//! - **Sharing.** Roles are cached per [`AwsConfig`](super::AwsConfig) (and so per
//!   source credentials and clock), by role ARN and STS endpoint: every route and the
//!   remote Lambda invoker built from one configuration share one [`AssumedRole`]
//!   per role.
//!
//! `credentials` of the form `arn:aws:iam::*:user/*` asks AWS to call the backend
//! with the *caller's* credentials. A gateway never holds the caller's secret key,
//! so that cannot be honoured: [`RoleArn::parse`] refuses it, as it refuses anything
//! else that is not a role ARN.

mod xml;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::Method;
use tokio::sync::OnceCell;

use super::credentials::{Credentials, CredentialsError};
use super::service::{PreparedTarget, ServiceError, ServiceRequest};
use crate::http_proxy::ErrorChain;

/// The largest STS answer read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// An IAM role ARN: `arn:{partition}:iam::{account}:role/{path/}{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleArn {
    arn: String,
    partition: String,
    account: String,
    name: String,
}

/// A `credentials` value that is not an IAM role ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoleArnError {
    /// `arn:aws:iam::*:user/*`: call with the caller's credentials.
    #[error(
        "`{0}` asks for the caller's own credentials, which a gateway cannot use: it \
         never holds the caller's secret key; give an IAM role ARN \
         (arn:aws:iam::ACCOUNT:role/NAME) for the gateway to assume, or no credentials"
    )]
    CallerCredentials(String),
    /// Anything else that is not a role ARN.
    #[error("`{value}` is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME): {reason}")]
    NotARole {
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl RoleArn {
    /// Parses a role ARN. Surrounding whitespace is ignored.
    ///
    /// # Errors
    ///
    /// [`RoleArnError::CallerCredentials`] for `arn:aws:iam::*:user/*`, and
    /// [`RoleArnError::NotARole`] for anything else that is not
    /// `arn:{partition}:iam::{12-digit account}:role/{path/}{name}`.
    pub fn parse(text: &str) -> Result<Self, RoleArnError> {
        let value = text.trim();
        let not_a_role = |reason: &str| RoleArnError::NotARole {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let mut parts = value.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(not_a_role("it is not an ARN"));
        };
        if service != "iam" {
            return Err(not_a_role(&format!(
                "it names the service `{service}`, not `iam`"
            )));
        }
        if resource == "user/*" {
            return Err(RoleArnError::CallerCredentials(value.to_owned()));
        }
        if resource.starts_with("user/") {
            return Err(not_a_role(
                "it names an IAM user; an integration can only assume a role",
            ));
        }
        if partition.is_empty()
            || !partition
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-')
        {
            return Err(not_a_role(&format!("`{partition}` is not a partition")));
        }
        if !region.is_empty() {
            return Err(not_a_role("IAM ARNs have no region"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_a_role(&format!(
                "the account `{account}` is not 12 digits"
            )));
        }
        let Some(path_and_name) = resource.strip_prefix("role/") else {
            return Err(not_a_role(&format!(
                "the resource `{resource}` is not role/NAME"
            )));
        };
        if path_and_name.split('/').any(str::is_empty) {
            return Err(not_a_role("the role's path or name has an empty segment"));
        }
        let name = path_and_name.rsplit('/').next().unwrap_or_default();
        let name_char = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
        if name.len() > 64 || !name.chars().all(name_char) {
            return Err(not_a_role(&format!(
                "`{name}` is not a role name (up to 64 of A-Z a-z 0-9 + = , . @ _ -)"
            )));
        }
        Ok(Self {
            arn: value.to_owned(),
            partition: partition.to_owned(),
            account: account.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The ARN as given (trimmed).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The partition (`aws`, `aws-cn`, `aws-us-gov`).
    #[must_use]
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// The account the role belongs to.
    #[must_use]
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The role's name, without its path.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// Where the time comes from when cached credentials are judged fresh or stale.
///
/// [`Clock::system`] reads the system clock; tests build their own with
/// [`Clock::from_fn`] to move time forward without waiting. Cloning shares the
/// function. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct Clock {
    now: Arc<dyn Fn() -> SystemTime + Send + Sync>,
}

impl Clock {
    /// The system clock.
    #[must_use]
    pub fn system() -> Self {
        Self::from_fn(SystemTime::now)
    }

    /// A clock that reads `now`.
    #[must_use]
    pub fn from_fn(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Self { now: Arc::new(now) }
    }

    /// The current time.
    #[must_use]
    pub fn now(&self) -> SystemTime {
        (self.now)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock { .. }")
    }
}

/// Why a role's credentials could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot assume role `{role}`: {kind}")]
pub struct AssumeRoleError {
    role: String,
    kind: AssumeRoleErrorKind,
}

impl AssumeRoleError {
    /// The role.
    #[must_use]
    pub fn role(&self) -> &str {
        &self.role
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> &AssumeRoleErrorKind {
        &self.kind
    }
}

/// What went wrong assuming a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssumeRoleErrorKind {
    /// The gateway has no credentials of its own to call STS with.
    #[error("no source credentials: {0}")]
    Source(CredentialsError),
    /// The STS request could not be built or signed.
    #[error("the STS request cannot be built: {0}")]
    Request(String),
    /// STS could not be reached, or failed before its response head.
    #[error("the request to STS at {endpoint} failed: {reason}")]
    Send {
        /// The STS endpoint.
        endpoint: String,
        /// Why, with the causes.
        reason: String,
    },
    /// STS answered with an error.
    #[error(
        "STS answered {status}{}: {message}",
        code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
    )]
    Sts {
        /// The HTTP status.
        status: u16,
        /// The error code (`AccessDenied`, `InvalidClientTokenId`), when the answer
        /// has one.
        code: Option<String>,
        /// The error message, else the start of the answer's text.
        message: String,
    },
    /// STS answered success, but not with credentials this crate can read.
    #[error("STS's answer cannot be read: {0}")]
    Response(String),
}

/// Temporary credentials and when they expire.
#[derive(Debug, Clone)]
pub(crate) struct Temporary {
    credentials: Arc<Credentials>,
    expiration: SystemTime,
}

/// The temporary credentials of one IAM role, assumed with a configuration's own
/// credentials and cached until shortly before they expire (see the module docs).
///
/// Get one from [`AwsConfig::assumed_role`](super::AwsConfig::assumed_role).
/// Cloning shares the cache.
#[derive(Clone)]
pub struct AssumedRole {
    inner: Arc<RoleInner>,
}

struct RoleInner {
    role: RoleArn,
    /// `sts:action/AssumeRole`, signed with the source credentials.
    sts: PreparedTarget,
    cache: Refreshing,
}

impl fmt::Debug for AssumedRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumedRole")
            .field("role", &self.inner.role.as_str())
            .field("sts", &self.inner.sts.endpoint_url())
            .finish_non_exhaustive()
    }
}

impl AssumedRole {
    /// The `RoleSessionName` sent to STS: the session's name in the assumed role's
    /// ARN (`arn:aws:sts::ACCOUNT:assumed-role/NAME/api-gateway`) and in CloudTrail.
    pub const SESSION_NAME: &'static str = "api-gateway";

    /// The `DurationSeconds` asked for: one hour, STS's default, which every role's
    /// maximum session duration allows.
    pub const DURATION: Duration = Duration::from_secs(3600);

    /// How long before their expiration credentials are refreshed.
    pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

    pub(crate) fn new(role: RoleArn, sts: PreparedTarget, clock: Clock) -> Self {
        Self {
            inner: Arc::new(RoleInner {
                role,
                sts,
                cache: Refreshing::new(clock),
            }),
        }
    }

    /// The role.
    #[must_use]
    pub fn role(&self) -> &RoleArn {
        &self.inner.role
    }

    /// The STS endpoint the role is assumed at, as a URL.
    #[must_use]
    pub fn sts_endpoint(&self) -> String {
        self.inner.sts.endpoint_url()
    }

    /// The role's credentials: the cached ones while they are fresh, else new ones
    /// from STS (one call shared by every concurrent caller).
    ///
    /// # Errors
    ///
    /// When there are no source credentials, STS cannot be reached, answers with an
    /// error, or answers with something that holds no credentials. Errors are not
    /// cached.
    pub async fn credentials(&self) -> Result<Arc<Credentials>, AssumeRoleError> {
        let inner = &*self.inner;
        inner
            .cache
            .get(|| assume(&inner.sts, &inner.role))
            .await
            .map_err(|kind| AssumeRoleError {
                role: inner.role.as_str().to_owned(),
                kind,
            })
    }

    /// The cached credentials while they are fresh, without calling STS.
    #[must_use]
    pub fn cached(&self) -> Option<Arc<Credentials>> {
        self.inner.cache.fresh()
    }
}

/// Calls STS `AssumeRole` for `role`.
async fn assume(sts: &PreparedTarget, role: &RoleArn) -> Result<Temporary, AssumeRoleErrorKind> {
    let request = ServiceRequest::new(Method::POST, Bytes::new())
        .query_param("RoleArn", role.as_str())
        .query_param("RoleSessionName", AssumedRole::SESSION_NAME)
        .query_param(
            "DurationSeconds",
            AssumedRole::DURATION.as_secs().to_string(),
        );
    let request = sts.build_request(request).map_err(|err| match err {
        ServiceError::Credentials(source) => AssumeRoleErrorKind::Source(source),
        other => AssumeRoleErrorKind::Request(other.to_string()),
    })?;
    tracing::debug!(role = %role, endpoint = %sts.endpoint_url(), "assuming the integration's role");
    let response = sts
        .send(request)
        .await
        .map_err(|err| AssumeRoleErrorKind::Send {
            endpoint: sts.endpoint_url(),
            reason: ErrorChain(&err).to_string(),
        })?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect_limited(MAX_RESPONSE_BYTES)
        .await
        .map_err(|err| {
            AssumeRoleErrorKind::Response(format!(
                "it could not be read (or exceeds {MAX_RESPONSE_BYTES} bytes): {}",
                ErrorChain(&*err)
            ))
        })?;
    parse_response(status, &body)
}

/// The credentials of an `AssumeRole` answer, or the error it reports.
fn parse_response(status: u16, body: &[u8]) -> Result<Temporary, AssumeRoleErrorKind> {
    let text = String::from_utf8_lossy(body);
    let document = xml::parse(&text);
    if !(200..300).contains(&status) {
        return Err(sts_error(status, document.ok().as_ref(), &text));
    }
    let root = document
        .map_err(|reason| AssumeRoleErrorKind::Response(format!("it is not XML: {reason}")))?;
    if root.name == "ErrorResponse" || root.name == "Error" {
        return Err(sts_error(status, Some(&root), &text));
    }
    let unreadable = |what: String| AssumeRoleErrorKind::Response(what);
    if root.name != "AssumeRoleResponse" {
        return Err(unreadable(format!(
            "it is `<{}>`, not `<AssumeRoleResponse>`",
            root.name
        )));
    }
    let credentials = root
        .child("AssumeRoleResult")
        .and_then(|result| result.child("Credentials"))
        .ok_or_else(|| unreadable("it has no AssumeRoleResult/Credentials".to_owned()))?;
    let field = |name: &str| {
        credentials
            .child_text(name)
            .ok_or_else(|| unreadable(format!("its Credentials have no {name}")))
    };
    let access_key_id = field("AccessKeyId")?;
    let secret_access_key = field("SecretAccessKey")?;
    let session_token = field("SessionToken")?;
    let expiration = field("Expiration")?;
    let expiration = xml::parse_timestamp(expiration).ok_or_else(|| {
        unreadable(format!(
            "its Expiration `{expiration}` is not an ISO 8601 date-time"
        ))
    })?;
    Ok(Temporary {
        credentials: Arc::new(
            Credentials::new(access_key_id, secret_access_key).with_session_token(session_token),
        ),
        expiration,
    })
}

/// The error an STS answer reports: `Error/{Code, Message}` wherever the `Error`
/// element is (`ErrorResponse/Error`, or `ErrorResponse/Errors/Error`), else the
/// start of the answer's text, else the status's reason phrase.
fn sts_error(status: u16, root: Option<&xml::Element>, text: &str) -> AssumeRoleErrorKind {
    let error = root.and_then(|root| {
        if root.name == "Error" {
            Some(root)
        } else {
            root.descendant("Error")
        }
    });
    let code = error.and_then(|e| e.child_text("Code")).map(str::to_owned);
    let message = error
        .and_then(|e| e.child_text("Message"))
        .map(str::to_owned)
        .or_else(|| {
            let text = text.trim();
            (!text.is_empty()).then(|| text.chars().take(256).collect())
        })
        .unwrap_or_else(|| {
            http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("no message")
                .to_owned()
        });
    AssumeRoleErrorKind::Sts {
        status,
        code,
        message,
    }
}

/// Cached temporary credentials, refreshed by one caller at a time.
#[derive(Debug)]
pub(crate) struct Refreshing {
    clock: Clock,
    state: Mutex<RefreshState>,
}

type Flight = Arc<OnceCell<Result<Fetched, AssumeRoleErrorKind>>>;

#[derive(Debug, Default)]
struct RefreshState {
    current: Option<Fetched>,
    /// The refresh under way; its first caller runs it, the others wait on it.
    in_flight: Option<Flight>,
}

/// Credentials with when they were fetched.
#[derive(Debug, Clone)]
struct Fetched {
    temporary: Temporary,
    fetched_at: SystemTime,
}

impl Fetched {
    /// Fresh: more than the refresh margin before expiry. The margin is
    /// [`AssumedRole::REFRESH_BEFORE_EXPIRY`], or half the credentials' lifetime
    /// when that is shorter, so short-lived credentials are still reused.
    fn fresh_at(&self, now: SystemTime) -> bool {
        let lifetime = self
            .temporary
            .expiration
            .duration_since(self.fetched_at)
            .unwrap_or_default();
        let margin = AssumedRole::REFRESH_BEFORE_EXPIRY.min(lifetime / 2);
        now.checked_add(margin)
            .is_some_and(|t| t < self.temporary.expiration)
    }

    /// Still usable: not expired.
    fn valid_at(&self, now: SystemTime) -> bool {
        now < self.temporary.expiration
    }
}

impl RefreshState {
    /// Takes the result of a refresh that finished while nobody was there to take
    /// it.
    fn settle(&mut self) {
        if let Some(flight) = &self.in_flight
            && let Some(result) = flight.get()
        {
            if let Ok(fetched) = result {
                let fetched = fetched.clone();
                self.keep(fetched);
            }
            self.in_flight = None;
        }
    }

    /// Keeps `fetched` unless newer credentials are already kept.
    fn keep(&mut self, fetched: Fetched) {
        let newer = self
            .current
            .as_ref()
            .is_none_or(|c| fetched.temporary.expiration >= c.temporary.expiration);
        if newer {
            self.current = Some(fetched);
        }
    }
}

impl Refreshing {
    pub(crate) fn new(clock: Clock) -> Self {
        Self {
            clock,
            state: Mutex::new(RefreshState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RefreshState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The credentials while they are fresh.
    pub(crate) fn fresh(&self) -> Option<Arc<Credentials>> {
        let mut state = self.lock();
        state.settle();
        let now = self.clock.now();
        state
            .current
            .as_ref()
            .filter(|c| c.fresh_at(now))
            .map(|c| Arc::clone(&c.temporary.credentials))
    }

    /// The cached credentials when fresh; else the result of the refresh under way,
    /// or of one started with `fetch`. While a refresh is under way, credentials
    /// that are stale but not expired are returned at once.
    pub(crate) async fn get<F, Fut>(
        &self,
        fetch: F,
    ) -> Result<Arc<Credentials>, AssumeRoleErrorKind>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Temporary, AssumeRoleErrorKind>>,
    {
        let flight = {
            let mut state = self.lock();
            state.settle();
            let now = self.clock.now();
            if let Some(current) = &state.current
                && (current.fresh_at(now) || (state.in_flight.is_some() && current.valid_at(now)))
            {
                return Ok(Arc::clone(&current.temporary.credentials));
            }
            Arc::clone(
                state
                    .in_flight
                    .get_or_insert_with(|| Arc::new(OnceCell::new())),
            )
        };
        // If the caller running the refresh is dropped (its request timed out), a
        // waiting caller runs its own `fetch` in its place.
        let clock = &self.clock;
        let result = flight
            .get_or_init(move || async move {
                let fetched_at = clock.now();
                fetch().await.map(|temporary| Fetched {
                    temporary,
                    fetched_at,
                })
            })
            .await
            .clone();

        let mut state = self.lock();
        if state
            .in_flight
            .as_ref()
            .is_some_and(|f| Arc::ptr_eq(f, &flight))
        {
            state.in_flight = None;
        }
        match result {
            Ok(fetched) => {
                let credentials = Arc::clone(&fetched.temporary.credentials);
                state.keep(fetched);
                Ok(credentials)
            }
            Err(err) => match &state.current {
                Some(current) if current.valid_at(self.clock.now()) => {
                    tracing::warn!(error = %err,
                        "refreshing an assumed role's credentials failed; the current ones \
                         are used until they expire");
                    Ok(Arc::clone(&current.temporary.credentials))
                }
                _ => Err(err),
            },
        }
    }
}

/// The roles assumed with one configuration's source credentials, by role ARN and
/// STS endpoint.
#[derive(Debug)]
pub(crate) struct RoleCache {
    clock: Clock,
    roles: Mutex<HashMap<(String, String), AssumedRole>>,
}

impl RoleCache {
    pub(crate) fn new(clock: Clock) -> Self {
        Self {
            clock,
            roles: Mutex::new(HashMap::new()),
        }
    }

    /// The cached role for `role` at `sts`'s endpoint, created on first use.
    pub(crate) fn get(&self, role: &RoleArn, sts: PreparedTarget) -> AssumedRole {
        let key = (role.as_str().to_owned(), sts.endpoint_url());
        let mut roles = self.roles.lock().unwrap_or_else(PoisonError::into_inner);
        roles
            .entry(key)
            .or_insert_with(|| AssumedRole::new(role.clone(), sts, self.clock.clone()))
            .clone()
    }
}

#[cfg(test)]
mod tests;
