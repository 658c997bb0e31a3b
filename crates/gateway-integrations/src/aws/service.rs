//! AWS service requests: the targets of AWS integrations, their endpoints, and the
//! signed requests sent to them.
//!
//! # Targets
//!
//! An AWS integration URI names a service API in one of two forms:
//!
//! - `arn:aws:apigateway:{region}:{service}:action/{Action}`, optionally followed by
//!   `&Name=Value` parameters (the form the CDK writes for action parameters): the
//!   request goes to the service's root, `Action` is expressed in the service's
//!   protocol (below).
//! - `arn:aws:apigateway:{region}:{service}:path/{path}`, optionally with a `?query`:
//!   the request goes to `{endpoint}/{path}` as it is, or to a path the request
//!   names ([`ServiceRequest::with_path`]).
//!
//! `{service}` may be `{subdomain}.{service}` (`runtime.sagemaker`, `my-bucket.s3`):
//! the subdomain is the first labels of the host name.
//!
//! # Endpoints
//!
//! By default `https://{subdomain.}{service}.{region}.amazonaws.com` (`.com.cn` in
//! the `aws-cn` partition). An override replaces it per service, keyed by
//! `{subdomain}.{service}` or by `{service}` (`sqs` → `http://127.0.0.1:5000`). An
//! override used by a target that has a subdomain must place it with a `{subdomain}`
//! placeholder (`http://{subdomain}.s3.localhost.localstack.cloud:4566`); this is
//! checked when the target is prepared. `https://` endpoints are checked against the
//! [`HttpClient`]'s trust store.
//!
//! `sync-states` is Step Functions' endpoint for synchronous Express executions
//! (`https://sync-states.{region}.amazonaws.com`, signed as `states`); without an
//! override of its own it uses the `states` override, since emulators serve both
//! on one address.
//!
//! # Protocols of `action/` targets
//!
//! - **JSON services** (Step Functions, DynamoDB, Kinesis, EventBridge, CloudWatch
//!   Logs, Firehose, KMS, SSM, Secrets Manager, ...): `X-Amz-Target:
//!   {prefix}.{Action}` and `Content-Type: application/x-amz-json-1.0` or `1.1`, as
//!   the service's API model says; the body is the JSON request as rendered.
//! - **Query services** (SQS, SNS, STS, IAM, EC2, CloudWatch, SES, CloudFormation,
//!   ...): `Action={Action}`, `Version={API version}`, the target's `&Name=Value`
//!   parameters and the request's added query parameters. With a method that has a
//!   body and a form body (or none), they go first in the form body, skipping names
//!   the rendered body already sets, and `Content-Type` is
//!   `application/x-www-form-urlencoded` unless given: that is how the SDKs send the
//!   query protocol, and the only form some emulators (moto) read. Otherwise (`GET`,
//!   or a body of another type) they go in the query string, which AWS accepts too.
//!   SQS and CloudWatch also speak newer protocols today, but API Gateway's SQS
//!   integrations are written for the query protocol (form bodies, `MessageBody`
//!   parameters), so that is what they get.
//! - **REST services** (S3, Lambda, API Gateway, ...) have no actions: an `action/`
//!   target for one is refused, naming the service; they take `path/` targets.
//!
//! The table of services, their protocols, target prefixes and API versions comes
//! from the services' API models as botocore ships them. A service missing from it
//! can still be reached through `path/` targets.
//!
//! # Signing
//!
//! Requests are signed (see the [`sign`](super::sign) module) for the target's
//! region with the service's signing name, which is the URI's service name except
//! where the API model says otherwise (`email` signs as `ses`).
//!
//! They are signed with the configuration's own credentials, or, for a
//! configuration made by [`AwsConfig::assume_role`] (an integration whose
//! `credentials` is a role ARN), with that role's temporary credentials, which
//! [`PreparedTarget::signed_request`] and [`PreparedTarget::call`] get from STS
//! when they have none fresh (see the [`assume_role`](super::assume_role) module).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use gateway_core::body::Body;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::assume_role::{AssumeRoleError, AssumedRole, Clock, RoleArn, RoleCache};
use super::credentials::{Credentials, CredentialsError, CredentialsProvider, Environment};
use super::endpoint::{Endpoint, EndpointError};
use super::protocols::{Protocol, protocol_of, signing_name};
use super::sign::{SignError, encode_component, sign_request};
use super::target::{AwsTarget, TargetApi, parse_pairs};
use crate::HttpClient;
use crate::http_proxy::pool::{ClientError, HostPool};

/// What is percent-encoded in a `path/` target's path: what a URI path cannot hold.
/// `%` is kept, so a path that is already encoded stays as it is.
const PATH_ENCODE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'^')
    .add(b'|')
    .add(b'\\')
    .add(b'[')
    .add(b']');

const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");

/// Headers that belong to one connection and are never forwarded to a service.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Endpoint prefixes that are another service's endpoint with a host prefix, and
/// that service: an override of the latter serves both (emulators answer both
/// on one address).
const HOST_PREFIXED: &[(&str, &str)] = &[("sync-states", "states")];

/// Region, credentials and endpoint overrides for the AWS services a gateway calls.
///
/// Cloning shares the credentials cache and the cache of assumed roles.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    region: String,
    credentials: CredentialsProvider,
    /// Overrides by `{subdomain}.{service}` or `{service}`, as written.
    endpoints: BTreeMap<String, String>,
    /// The roles assumed with `credentials`.
    roles: Arc<RoleCache>,
    /// The role requests are signed as, instead of `credentials`.
    role: Option<AssumedRole>,
}

/// What requests are signed with.
#[derive(Debug, Clone)]
pub(crate) enum Signer {
    /// The configuration's own credentials.
    Own(CredentialsProvider),
    /// An assumed role's temporary credentials.
    Role(AssumedRole),
}

impl Signer {
    /// The credentials, assuming the role when its cached ones are not fresh.
    pub(crate) async fn credentials(&self) -> Result<Arc<Credentials>, ServiceError> {
        match self {
            Self::Own(provider) => Ok(provider.credentials()?),
            Self::Role(role) => Ok(role.credentials().await?),
        }
    }

    /// The credentials at hand: the own ones, or the role's while fresh.
    fn current(&self) -> Result<Arc<Credentials>, ServiceError> {
        match self {
            Self::Own(provider) => Ok(provider.credentials()?),
            Self::Role(role) => role
                .cached()
                .ok_or_else(|| ServiceError::RoleNotAssumed(role.role().as_str().to_owned())),
        }
    }
}

impl AwsConfig {
    /// A configuration with no endpoint overrides.
    #[must_use]
    pub fn new(region: impl Into<String>, credentials: CredentialsProvider) -> Self {
        Self {
            region: region.into(),
            credentials,
            endpoints: BTreeMap::new(),
            roles: Arc::new(RoleCache::new(Clock::system())),
            role: None,
        }
    }

    /// The region and credentials of `environment`, found as the AWS SDKs find them.
    ///
    /// # Errors
    ///
    /// When no region is configured or a profile file cannot be read. Credentials are
    /// resolved later, when a request is signed, and their errors surface then.
    pub fn from_environment(environment: &Environment) -> Result<Self, CredentialsError> {
        let region = environment
            .region()?
            .ok_or_else(|| CredentialsError::NoRegion {
                profile: environment.profile_name(),
            })?;
        Ok(Self::new(
            region,
            CredentialsProvider::from_environment(environment.clone()),
        ))
    }

    /// Sends the requests for `service` (`sqs`, or `runtime.sagemaker` for one
    /// subdomain) to `url` instead of AWS. `url` may contain `{subdomain}`.
    ///
    /// # Errors
    ///
    /// When `url` is not an `https://` or `http://` URL.
    pub fn with_endpoint(
        mut self,
        service: impl Into<String>,
        url: &str,
    ) -> Result<Self, EndpointError> {
        Endpoint::parse(&url.replace("{subdomain}", "subdomain"))?;
        self.endpoints.insert(service.into(), url.trim().to_owned());
        Ok(self)
    }

    /// Judges the freshness of assumed roles' credentials by `clock` instead of the
    /// system clock (tests move it forward). Roles assumed through this
    /// configuration before the call keep the clock they had: set it first.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.roles = Arc::new(RoleCache::new(clock));
        self
    }

    /// The default region.
    #[must_use]
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The configuration's own credentials: what requests are signed with, unless
    /// the configuration assumes a role, and what roles are assumed with.
    #[must_use]
    pub fn credentials(&self) -> &CredentialsProvider {
        &self.credentials
    }

    /// The role requests are signed as, for a configuration made by
    /// [`Self::assume_role`].
    #[must_use]
    pub fn role(&self) -> Option<&AssumedRole> {
        self.role.as_ref()
    }

    /// `role`, assumed with this configuration's own credentials at its `sts`
    /// endpoint (the override, else `https://sts.{region}.amazonaws.com`). The
    /// [`AssumedRole`] is shared by every clone of this configuration that asks for
    /// the same role; nothing is sent to STS until its credentials are needed.
    ///
    /// # Errors
    ///
    /// When the `sts` endpoint override cannot be used.
    pub fn assumed_role(
        &self,
        role: &RoleArn,
        client: &HttpClient,
    ) -> Result<AssumedRole, ServiceError> {
        let uri = format!(
            "arn:{}:apigateway:{}:sts:action/AssumeRole",
            role.partition(),
            self.region
        );
        let target =
            AwsTarget::parse(&uri).map_err(|e| ServiceError::InvalidRequest(e.to_string()))?;
        let own = Self {
            role: None,
            ..self.clone()
        };
        let sts = own.prepare(&target, client)?;
        Ok(self.roles.get(role, sts))
    }

    /// This configuration, signing as `role` (assumed with this configuration's
    /// own credentials, see [`Self::assumed_role`]) instead of with its own
    /// credentials.
    ///
    /// # Errors
    ///
    /// When the `sts` endpoint override cannot be used.
    pub fn assume_role(&self, role: &RoleArn, client: &HttpClient) -> Result<Self, ServiceError> {
        let assumed = self.assumed_role(role, client)?;
        Ok(Self {
            role: Some(assumed),
            ..self.clone()
        })
    }

    /// What requests are signed with: the role, else the own credentials.
    pub(crate) fn signer(&self) -> Signer {
        match &self.role {
            Some(role) => Signer::Role(role.clone()),
            None => Signer::Own(self.credentials.clone()),
        }
    }

    /// The endpoint for `service` (with its optional subdomain) in `region`.
    pub(crate) fn endpoint_for(
        &self,
        service: &str,
        subdomain: Option<&str>,
        region: &str,
    ) -> Result<Endpoint, EndpointError> {
        self.endpoint_in_partition(service, subdomain, region, "aws")
    }

    fn endpoint_in_partition(
        &self,
        service: &str,
        subdomain: Option<&str>,
        region: &str,
        partition: &str,
    ) -> Result<Endpoint, EndpointError> {
        let full = subdomain.map(|s| format!("{s}.{service}"));
        if let Some(url) = full.as_deref().and_then(|key| self.endpoints.get(key)) {
            let sub = subdomain.unwrap_or_default();
            return Endpoint::parse(&url.replace("{subdomain}", sub));
        }
        let own = self.endpoints.get(service).or_else(|| {
            // A host-prefixed endpoint of another service (`sync-states`) shares
            // that service's override unless it has its own.
            HOST_PREFIXED
                .iter()
                .find(|(prefixed, _)| *prefixed == service)
                .and_then(|(_, base)| self.endpoints.get(*base))
        });
        if let Some(url) = own {
            let has_placeholder = url.contains("{subdomain}");
            return match subdomain {
                Some(sub) if has_placeholder => Endpoint::parse(&url.replace("{subdomain}", sub)),
                Some(sub) => Err(EndpointError::Invalid {
                    url: url.clone(),
                    reason: format!(
                        "the target `{sub}.{service}` has a subdomain; place it with \
                         {{subdomain}} in the `{service}` endpoint, or configure an \
                         endpoint for `{sub}.{service}`"
                    ),
                }),
                None if has_placeholder => Err(EndpointError::Invalid {
                    url: url.clone(),
                    reason: format!(
                        "it has a {{subdomain}} placeholder but the `{service}` target has \
                         no subdomain"
                    ),
                }),
                None => Endpoint::parse(url),
            };
        }
        let suffix = if partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        let host = match subdomain {
            Some(sub) => format!("{sub}.{service}.{region}.{suffix}"),
            None => format!("{service}.{region}.{suffix}"),
        };
        Endpoint::parse(&format!("https://{host}"))
    }

    /// Binds a target to its endpoint, connection pool, signing name and protocol, so
    /// that each request only fills in its values. Do it once per route.
    ///
    /// # Errors
    ///
    /// When the target's endpoint cannot be used (an invalid override), or
    /// an `action/` target names a service without actions or one not in the table.
    pub fn prepare(
        &self,
        target: &AwsTarget,
        client: &HttpClient,
    ) -> Result<PreparedTarget, ServiceError> {
        let region = if target.region().is_empty() {
            self.region.clone()
        } else {
            target.region().to_owned()
        };
        let endpoint = self
            .endpoint_in_partition(
                target.service(),
                target.subdomain(),
                &region,
                target.partition(),
            )
            .map_err(|source| ServiceError::Endpoint {
                service: target.endpoint_prefix(),
                source,
            })?;
        let mut query = Vec::new();
        let mut json = None;
        let mut form_params = false;
        let path = match target.api() {
            TargetApi::Action { name, params } => {
                match protocol_of(target) {
                    Some(Protocol::Json {
                        target_prefix,
                        version,
                    }) => {
                        let header = |s: String| {
                            HeaderValue::try_from(s).map_err(|_| {
                                ServiceError::InvalidRequest(format!(
                                    "action `{name}` is not a valid header value"
                                ))
                            })
                        };
                        json = Some((
                            header(format!("{target_prefix}.{name}"))?,
                            header(format!("application/x-amz-json-{version}"))?,
                        ));
                    }
                    Some(Protocol::Query { version }) => {
                        query.push(("Action".to_owned(), name.clone()));
                        query.push(("Version".to_owned(), version.to_owned()));
                        form_params = true;
                    }
                    Some(Protocol::Rest) => {
                        return Err(ServiceError::NoActions {
                            service: target.endpoint_prefix(),
                            reason: "it has a REST API; use a path/ target".to_owned(),
                        });
                    }
                    None => {
                        return Err(ServiceError::NoActions {
                            service: target.endpoint_prefix(),
                            reason: "its protocol is not known to gateway-integrations; \
                                     use a path/ target"
                                .to_owned(),
                        });
                    }
                }
                query.extend(params.iter().cloned());
                format!("{}/", endpoint.base_path())
            }
            TargetApi::Path { path, query: own } => {
                query.extend(own.iter().cloned());
                let path = utf8_percent_encode(path.trim_start_matches('/'), PATH_ENCODE);
                format!("{}/{path}", endpoint.base_path())
            }
        };
        Ok(PreparedTarget {
            inner: Arc::new(Prepared {
                pool: client.host(endpoint.authority(), &endpoint.security()),
                signing_name: signing_name(target).to_owned(),
                target: target.clone(),
                endpoint,
                region,
                path,
                path_target: matches!(target.api(), TargetApi::Path { .. }),
                query,
                json,
                form_params,
                signer: self.signer(),
            }),
        })
    }
}

/// The values of one request to a target: the integration's method, headers and
/// rendered body, and query parameters to add.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ServiceRequest {
    /// The integration's HTTP method.
    pub method: Method,
    /// Headers to send; `Host`, `Content-Length` and hop-by-hop headers are replaced
    /// or dropped.
    pub headers: HeaderMap,
    /// The body, already rendered.
    pub body: Bytes,
    /// Query parameters added after the target's own (decoded values).
    pub query: Vec<(String, String)>,
    /// For a `path/` target, the path sent instead of the target's own, without
    /// the leading `/` and already percent-encoded (`applications/my%20app`).
    pub path: Option<String>,
}

impl ServiceRequest {
    /// A request with a method and a body, no headers and no query parameters.
    #[must_use]
    pub fn new(method: Method, body: impl Into<Bytes>) -> Self {
        Self {
            method,
            headers: HeaderMap::new(),
            body: body.into(),
            query: Vec::new(),
            path: None,
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Adds a query parameter.
    #[must_use]
    pub fn query_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Sends the request of a `path/` target to `path` (without the leading `/`,
    /// already percent-encoded) instead of the target's own path.
    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
}

/// A target bound to its endpoint, connection pool, signing name and protocol.
///
/// Cloning is an `Arc` clone.
#[derive(Clone)]
pub struct PreparedTarget {
    inner: Arc<Prepared>,
}

struct Prepared {
    target: AwsTarget,
    endpoint: Endpoint,
    pool: Arc<HostPool>,
    signing_name: String,
    region: String,
    /// The request path, with the endpoint's base path.
    path: String,
    /// Whether the target is a `path/` target, whose path a request may replace.
    path_target: bool,
    /// Query parameters every request carries (decoded).
    query: Vec<(String, String)>,
    /// `X-Amz-Target` and `Content-Type` of JSON-protocol actions.
    json: Option<(HeaderValue, HeaderValue)>,
    /// Whether the parameters go in a form body when the method has a body (query
    /// protocol actions).
    form_params: bool,
    signer: Signer,
}

impl fmt::Debug for PreparedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedTarget")
            .field("target", &self.inner.target)
            .field("endpoint", &self.inner.endpoint.url())
            .field("signing_name", &self.inner.signing_name)
            .field("region", &self.inner.region)
            .field(
                "role",
                &match &self.inner.signer {
                    Signer::Own(_) => None,
                    Signer::Role(role) => Some(role.role().as_str()),
                },
            )
            .finish_non_exhaustive()
    }
}

/// Why a service request could not be built or sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The target's endpoint cannot be used.
    #[error("AWS service `{service}`: {source}")]
    Endpoint {
        /// The service, with its subdomain.
        service: String,
        /// Why.
        #[source]
        source: EndpointError,
    },
    /// An `action/` target for a service that has no actions, or one this crate
    /// does not know.
    #[error("AWS service `{service}` cannot take action/ targets: {reason}")]
    NoActions {
        /// The service, with its subdomain.
        service: String,
        /// Why.
        reason: String,
    },
    /// No credentials to sign with.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The role requests are signed as could not be assumed.
    #[error(transparent)]
    AssumeRole(#[from] AssumeRoleError),
    /// A request signed as a role was built synchronously while the role's
    /// credentials were not at hand.
    #[error(
        "the credentials of role `{0}` are not at hand; sign with \
         PreparedTarget::signed_request or call, which assume the role"
    )]
    RoleNotAssumed(String),
    /// The request could not be signed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// A request value that cannot go into an HTTP request.
    #[error("invalid AWS service request: {0}")]
    InvalidRequest(String),
    /// The service could not be reached, or failed before its response head.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// A request that failed before its response head.
#[derive(Debug, thiserror::Error)]
#[error("the request to {endpoint} failed")]
pub struct SendError {
    endpoint: String,
    #[source]
    source: ClientError,
}

impl SendError {
    /// Whether no connection could be made (refused, DNS), as opposed to a connection
    /// that failed after it was made.
    #[must_use]
    pub fn is_connect(&self) -> bool {
        self.source.is_connect()
    }
}

impl PreparedTarget {
    /// The target.
    #[must_use]
    pub fn target(&self) -> &AwsTarget {
        &self.inner.target
    }

    /// The endpoint requests go to, as a URL.
    #[must_use]
    pub fn endpoint_url(&self) -> String {
        self.inner.endpoint.url()
    }

    /// The name requests are signed with (`states`, `ses`).
    #[must_use]
    pub fn signing_name(&self) -> &str {
        &self.inner.signing_name
    }

    /// The region requests are signed for.
    #[must_use]
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The signed request for `request`, signed now, with the credentials at hand:
    /// for a target that signs as a role, its cached credentials, which
    /// [`Self::signed_request`] fetches when needed.
    ///
    /// # Errors
    ///
    /// When there are no credentials (for a role: none fresh in its cache) or the
    /// request cannot be signed.
    pub fn build_request(&self, request: ServiceRequest) -> Result<Request<Body>, ServiceError> {
        self.build_request_at(request, SystemTime::now())
    }

    /// The signed request for `request`, signed at `time`, as [`Self::build_request`].
    ///
    /// # Errors
    ///
    /// As [`Self::build_request`].
    pub fn build_request_at(
        &self,
        request: ServiceRequest,
        time: SystemTime,
    ) -> Result<Request<Body>, ServiceError> {
        let credentials = self.inner.signer.current()?;
        self.build_request_with(request, &credentials, time)
    }

    /// The signed request for `request`, signed now; a target that signs as a role
    /// assumes it first when its cached credentials are not fresh.
    ///
    /// # Errors
    ///
    /// When there are no credentials, the role cannot be assumed, or the request
    /// cannot be signed.
    pub async fn signed_request(
        &self,
        request: ServiceRequest,
    ) -> Result<Request<Body>, ServiceError> {
        let credentials = self.inner.signer.credentials().await?;
        self.build_request_with(request, &credentials, SystemTime::now())
    }

    /// The request for `request`, signed with `credentials` at `time`.
    fn build_request_with(
        &self,
        request: ServiceRequest,
        credentials: &Credentials,
        time: SystemTime,
    ) -> Result<Request<Body>, ServiceError> {
        let inner = &*self.inner;
        let ServiceRequest {
            method,
            mut headers,
            body,
            query,
            path,
        } = request;
        let path = match path {
            Some(path) if inner.path_target => {
                let path = utf8_percent_encode(path.trim_start_matches('/'), PATH_ENCODE);
                format!("{}/{path}", inner.endpoint.base_path())
            }
            Some(_) => {
                return Err(ServiceError::InvalidRequest(
                    "only a path/ target's request can name its own path".to_owned(),
                ));
            }
            None => inner.path.clone(),
        };

        for name in HOP_BY_HOP {
            headers.remove(name);
        }
        headers.remove(CONTENT_LENGTH);
        headers.insert(HOST, inner.endpoint.host().clone());

        let params = inner.query.iter().chain(query.iter());
        let (uri, body) = if inner.form_params && carries_form(&method, &headers) {
            // The query protocol's wire format, as the SDKs send it: every parameter
            // in the form body (the body's own values win), nothing in the URL.
            let in_body: Vec<String> = parse_pairs(&String::from_utf8_lossy(&body))
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            let mut form = encode_pairs(params.filter(|(k, _)| !in_body.contains(k)));
            if !body.is_empty() {
                if !form.is_empty() {
                    form.push('&');
                }
                form.push_str(&String::from_utf8_lossy(&body));
            }
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
                );
            }
            (path, Bytes::from(form))
        } else {
            let query = encode_pairs(params);
            let uri = if query.is_empty() {
                path
            } else {
                format!("{path}?{query}")
            };
            (uri, body)
        };

        if !body.is_empty() || matches!(method, Method::POST | Method::PUT | Method::PATCH) {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        if let Some((target, content_type)) = &inner.json {
            headers.insert(X_AMZ_TARGET, target.clone());
            headers.insert(CONTENT_TYPE, content_type.clone());
        }

        let mut out = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::full(body.clone()))
            .map_err(|e| ServiceError::InvalidRequest(e.to_string()))?;
        *out.headers_mut() = headers;
        sign_request(
            &mut out,
            &body,
            credentials,
            &inner.signing_name,
            &inner.region,
            time,
        )?;
        Ok(out)
    }

    /// Sends a request built by [`Self::build_request`] on the client's pool for the
    /// endpoint. The response body is streamed.
    ///
    /// # Errors
    ///
    /// When the endpoint cannot be reached or fails before its response head.
    pub async fn send(&self, request: Request<Body>) -> Result<Response<Body>, SendError> {
        Arc::clone(&self.inner.pool)
            .send(request)
            .await
            .map_err(|source| SendError {
                endpoint: self.inner.endpoint.url(),
                source,
            })
    }

    /// Builds, signs and sends `request`.
    ///
    /// # Errors
    ///
    /// As [`Self::signed_request`] and [`Self::send`].
    pub async fn call(&self, request: ServiceRequest) -> Result<Response<Body>, ServiceError> {
        let request = self.signed_request(request).await?;
        Ok(self.send(request).await?)
    }
}

/// Whether a request carries a form body: a method with a body, and no `Content-Type`
/// or a form one.
fn carries_form(method: &Method, headers: &HeaderMap) -> bool {
    let method_has_body = !matches!(
        *method,
        Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS
    );
    method_has_body
        && headers.get(CONTENT_TYPE).is_none_or(|v| {
            v.to_str().is_ok_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            })
        })
}

/// Pairs as `k=v&k2=v2`, each side in SigV4's canonical encoding.
fn encode_pairs<'a>(pairs: impl Iterator<Item = &'a (String, String)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&encode_component(name));
        out.push('=');
        out.push_str(&encode_component(value));
    }
    out
}

#[cfg(test)]
mod tests;
