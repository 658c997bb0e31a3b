//! HTTP_PROXY integrations: the request is passed to an HTTP backend and the
//! backend's response back to the client, both streamed.
//!
//! # The backend request
//!
//! - **URI.** The integration `uri`, with `${stageVariables.NAME}` substituted at
//!   compile time. `{name}` and `{name+}` placeholders are filled per request from the
//!   `integration.request.path.name` mapping when there is one, else from the
//!   method's path parameter of the same name; a placeholder with neither is refused
//!   at compile time. Values are percent-encoded as path segments, a greedy value
//!   keeping its `/`. The client's query string is appended to the URI's own;
//!   `integration.request.querystring.NAME` mappings replace the client's values of
//!   that name, and `integration.request.header.NAME` mappings set headers.
//! - **Invalid URIs.** A URI that is invalid as written is a compile error. One that
//!   only becomes invalid through a stage variable's value answers 500
//!   `API_CONFIGURATION_ERROR` ("Invalid endpoint address" on AWS), so a bad variable
//!   breaks its routes, not the whole stage. `https` backends are reached over TLS
//!   as the integration's `tlsConfig` says.
//! - **Method.** The integration's `httpMethod`; `ANY` forwards the client's method.
//! - **Headers.** The client's headers are forwarded except hop-by-hop ones
//!   (`Connection` and the headers it names, `Keep-Alive`, `Proxy-Authenticate`,
//!   `Proxy-Authorization`, `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`,
//!   `Upgrade`). `Host` is the backend's authority, as AWS rewrites it. As AWS does for
//!   REST APIs, the gateway sets `X-Amzn-Trace-Id` (the request context's trace),
//!   appends the client's address (`$context.identity.sourceIp`) to
//!   `X-Forwarded-For`, and sets `X-Forwarded-Proto` and `X-Forwarded-Port` to the
//!   scheme and port the client reached the gateway on, replacing any the client
//!   sent.
//! - **Body.** Streamed to the backend without buffering. The backend is spoken to
//!   over HTTP/1.1 whatever version the client used, as AWS does.
//!
//! # The response
//!
//! The backend's status, headers (minus hop-by-hop ones) and streamed body are the
//! method response; integration responses and templates are not applied, as on AWS.
//! The backend's status is also put in the extensions as
//! [`IntegrationStatus`](crate::IntegrationStatus).
//!
//! # Failures
//!
//! - No response head within the integration `timeout` (default 29 s; compile refuses
//!   values outside 50 ms to 29 s): 504 `INTEGRATION_TIMEOUT`,
//!   `{"message": "Endpoint request timed out"}`.
//! - The backend cannot be reached (connection refused, DNS failure): 500
//!   `API_CONFIGURATION_ERROR`, `{"message": "Internal server error"}`, logged as AWS
//!   logs it, "Execution failed due to configuration error". AWS's gateway-response
//!   table files an invalid endpoint under this type.
//! - The connection fails after it was made (reset before the response head, a
//!   malformed head): 502 `INTEGRATION_FAILURE`, `{"message": "Internal server
//!   error"}` with `x-amzn-ErrorType: InternalServerErrorException`. AWS's
//!   gateway-response table lists 504 for `INTEGRATION_FAILURE`, but its data plane
//!   answers that type with a status that depends on the cause: LocalStack, testing
//!   against AWS, found 500 for a failed Lambda call (localstack/localstack#11183),
//!   and REST APIs answer 502 "Internal server error" for an unusable integration
//!   response (DataBiosphere/azul#7470 shows one with `InternalServerErrorException`).
//!   A backend that breaks the connection is the textbook 502 Bad Gateway, so that
//!   is the status; the type stays `INTEGRATION_FAILURE`, so an API's customised
//!   gateway response for it still applies.
//! - The request body exceeds the limit set with `Body::limited`: 413
//!   `REQUEST_TOO_LARGE`.
//!
//! A failure after the response head (the backend resets mid-body) ends the streamed
//! body with an error; the status has already been sent.
//!
//! # HTTP APIs' parameter mapping
//!
//! On HTTP APIs, `requestParameters` take HTTP APIs' own keys
//! (`append|overwrite|remove:header.NAME`, `...:querystring.NAME`, `overwrite:path`)
//! and the integration's `responseParameters` change the backend's response per
//! status code; see the `http_api_params` module. A route using either takes a
//! slower path: the request body is buffered only when a mapping reads it, and the
//! response body only when a mapping for its status reads it.

pub(crate) mod headers;
pub(crate) mod pool;
pub(crate) mod uri;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use gateway_core::body::{Body, BoxError, LengthLimitError, cause_ref};
use gateway_core::context::RequestContext;
use gateway_core::error::{GatewayError, GatewayResponseType};
use gateway_core::model::{ApiProtocol, Integration, MIN_INTEGRATION_TIMEOUT, Route, TlsConfig};
use gateway_core::observe::trace::X_AMZN_TRACE_ID;
use gateway_core::outbound::{CertificateCheck, TlsClient};
use gateway_core::stage::StageTemplate;
use http::header::HOST;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Version};
use pin_project_lite::pin_project;
use tokio::time::Timeout;
use tower::Service;

use self::headers::{
    X_FORWARDED_PORT, X_FORWARDED_PROTO, append_forwarded_for, forwarded_proto_port, port_value,
    remove_hop_by_hop,
};
use self::pool::{ClientError, HostPool, Pools, Security};
use self::uri::{UriError, UriTemplate};
use crate::http_api_params::{MappedRequest, RequestMapping, ResponseMapping};
use crate::mapping::{RequestMappings, RequestValues, Side, Source};
use crate::response::FieldError;
use crate::{CompileContext, CompileError, IntegrationStatus};

/// The pooled HTTP/1.1 client that every HTTP_PROXY route of a gateway shares.
///
/// Connections are kept alive and reused; an idle connection is closed after
/// [`HttpClient::IDLE_TIMEOUT`]; there is no limit per backend host. Cloning shares
/// the pool.
#[derive(Clone, Debug)]
pub struct HttpClient {
    pools: Arc<Pools>,
}

impl HttpClient {
    /// How long an idle pooled connection is kept.
    pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

    /// A client with an empty pool, checking `https` backends against the
    /// operating system's trust store (loaded when the first `https` route
    /// compiles).
    ///
    /// Building it needs no runtime; using it needs a Tokio runtime with time enabled.
    #[must_use]
    pub fn new() -> Self {
        Self {
            pools: Arc::new(Pools::default()),
        }
    }

    /// A client with an empty pool, checking `https` backends (HTTP integrations,
    /// AWS endpoints, the Lambda Invoke API) against `tls`.
    #[must_use]
    pub fn with_tls(tls: TlsClient) -> Self {
        Self {
            pools: Arc::new(Pools::with_tls(tls)),
        }
    }
}

impl HttpClient {
    /// The connection pool for one backend host, for integrations that send their
    /// own requests (AWS service calls, the Lambda Invoke API). Resolve it once, when
    /// the route compiles or the invoker is built, not per request.
    pub(crate) fn host(
        &self,
        authority: &http::uri::Authority,
        security: &Security,
    ) -> Arc<HostPool> {
        self.pools.host(authority, security)
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

/// The service an HTTP_PROXY integration compiles to.
#[derive(Debug, Clone)]
pub(crate) struct HttpProxyIntegration {
    proxy: Arc<HttpProxy>,
    /// The backend host's pool; `None` when the URI is invalid.
    pool: Option<Arc<HostPool>>,
}

#[derive(Debug)]
struct HttpProxy {
    route: Arc<str>,
    target: Target,
    /// `None` for `ANY`: the client's method.
    method: Option<Method>,
    timeout: Duration,
    path: Vec<(String, Source)>,
    query: Vec<(String, Source)>,
    headers: Vec<(HeaderName, Source)>,
    /// HTTP APIs' `requestParameters` (empty on REST APIs).
    http_request: RequestMapping,
    /// HTTP APIs' `responseParameters` (empty on REST APIs).
    http_response: ResponseMapping,
}

/// The most of a backend's body buffered for a response mapping that reads it:
/// HTTP APIs' 10 MB payload limit.
const MAPPED_RESPONSE_LIMIT: usize = 10 * 1024 * 1024;

impl HttpProxyIntegration {
    pub(crate) fn compile(
        route: &Route,
        integration: &Integration,
        ctx: &CompileContext<'_>,
    ) -> Result<Self, CompileError> {
        let route_key = route.route_key();
        let invalid = |e: FieldError| CompileError::InvalidField {
            route: route_key.clone(),
            field: e.field,
            reason: e.reason,
        };
        let timeout = check_timeout(&route_key, integration, ctx)?;
        let method = backend_method(&route_key, integration)?;
        let http_api = ctx.protocol == ApiProtocol::Http;
        let (mut mappings, http_request, http_response) = if http_api {
            (
                RequestMappings::default(),
                RequestMapping::compile(
                    &integration.request_parameters,
                    ctx.stage_variables,
                    &route.path,
                )
                .map_err(invalid)?,
                ResponseMapping::compile(
                    &integration.http_response_parameters,
                    ctx.stage_variables,
                )
                .map_err(invalid)?,
            )
        } else {
            (
                RequestMappings::compile(
                    &integration.request_parameters,
                    ctx.stage_variables,
                    Side::Request,
                )
                .map_err(invalid)?,
                RequestMapping::default(),
                ResponseMapping::default(),
            )
        };
        let target = Target::compile(&route_key, route, integration, ctx, &mut mappings.path)?;
        let pool = target.pool(ctx.client, &integration.tls_config);
        Ok(Self {
            pool,
            proxy: Arc::new(HttpProxy {
                route: route_key.into(),
                target,
                method,
                timeout,
                path: mappings.path,
                query: mappings.query,
                headers: mappings.headers,
                http_request,
                http_response,
            }),
        })
    }
}

/// Checks an integration's timeout against AWS's range for the API's kind.
pub(crate) fn check_timeout(
    route_key: &str,
    integration: &Integration,
    ctx: &CompileContext<'_>,
) -> Result<Duration, CompileError> {
    let timeout = integration.timeout;
    let max = ctx.protocol.max_integration_timeout();
    if (MIN_INTEGRATION_TIMEOUT..=max).contains(&timeout) {
        Ok(timeout)
    } else {
        Err(CompileError::InvalidTimeout {
            route: route_key.to_owned(),
            timeout,
            max,
        })
    }
}

/// The integration's `httpMethod`: `None` for `ANY`, which forwards the client's.
pub(crate) fn backend_method(
    route_key: &str,
    integration: &Integration,
) -> Result<Option<Method>, CompileError> {
    let method = integration
        .http_method
        .as_deref()
        .ok_or_else(|| CompileError::MissingField {
            route: route_key.to_owned(),
            kind: integration.kind,
            field: "httpMethod",
        })?;
    if method.eq_ignore_ascii_case("ANY") {
        return Ok(None);
    }
    Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map(Some)
        .map_err(|_| CompileError::InvalidField {
            route: route_key.to_owned(),
            field: "httpMethod".to_owned(),
            reason: format!("`{method}` is not an HTTP method"),
        })
}

/// A backend URI, compiled.
#[derive(Debug)]
pub(crate) enum Target {
    /// A URI template filled per request.
    Uri(UriTemplate),
    /// A URI made invalid by a stage variable: answered with 500 per request.
    Invalid(String),
}

impl Target {
    /// Compiles the integration's `uri` with the stage's variables, binding every
    /// placeholder to a source in `path` (adding same-name path parameters).
    pub(crate) fn compile(
        route_key: &str,
        route: &Route,
        integration: &Integration,
        ctx: &CompileContext<'_>,
        path: &mut Vec<(String, Source)>,
    ) -> Result<Self, CompileError> {
        let invalid = |field: String, reason: String| CompileError::InvalidField {
            route: route_key.to_owned(),
            field,
            reason,
        };
        let raw_uri = integration
            .uri
            .as_deref()
            .ok_or_else(|| CompileError::MissingField {
                route: route_key.to_owned(),
                kind: integration.kind,
                field: "uri",
            })?;
        let stage_template = StageTemplate::parse(raw_uri);
        let uri = stage_template.render(ctx.stage_variables);
        let mut target = match UriTemplate::parse(&uri) {
            Ok(template) => Self::Uri(template),
            Err(UriError::Invalid(reason)) if stage_template.variables().next().is_some() => {
                Self::Invalid(format!("invalid endpoint address `{uri}`: {reason}"))
            }
            Err(UriError::Invalid(reason)) => return Err(invalid("uri".to_owned(), reason)),
        };
        if let Self::Uri(template) = &mut target {
            bind_placeholders(template, &route.path, path)
                .map_err(|(field, reason)| invalid(field, reason))?;
        }
        Ok(target)
    }

    /// The backend host's pool, resolved once; `None` for an invalid URI. An
    /// `https` backend's certificate is checked as `tls` says.
    pub(crate) fn pool(&self, client: &HttpClient, tls: &TlsConfig) -> Option<Arc<HostPool>> {
        match self {
            Self::Uri(template) => {
                let security = if template.is_tls() {
                    Security::Tls {
                        check: if tls.insecure_skip_verification {
                            CertificateCheck::SkipAuthority
                        } else {
                            CertificateCheck::Full
                        },
                        server_name: tls.server_name_to_verify.clone(),
                    }
                } else {
                    Security::Plain
                };
                Some(client.pools.host(template.authority(), &security))
            }
            Self::Invalid(_) => None,
        }
    }
}

/// Gives every placeholder of `template` a source: its `integration.request.path`
/// mapping, else the method's path parameter of the same name. Fails with the field
/// and reason when a placeholder has neither or a mapping has no placeholder.
fn bind_placeholders(
    template: &mut UriTemplate,
    route_path: &str,
    path: &mut Vec<(String, Source)>,
) -> Result<(), (String, String)> {
    for (name, _) in path.iter() {
        if !template.params().any(|(p, _)| p == name) {
            return Err((
                format!("requestParameters.integration.request.path.{name}"),
                format!("the integration uri has no `{{{name}}}` placeholder"),
            ));
        }
    }
    let route_params = route_path_params(route_path);
    let placeholders: Vec<String> = template.params().map(|(name, _)| name.to_owned()).collect();
    for name in placeholders {
        if !path.iter().any(|(mapped, _)| *mapped == name) {
            if !route_params.iter().any(|(p, _)| *p == name) {
                return Err((
                    "uri".to_owned(),
                    format!(
                        "`{{{name}}}` has no integration.request.path.{name} mapping and the \
                         route has no path parameter `{name}`"
                    ),
                ));
            }
            path.push((name.clone(), Source::Path(name.clone())));
        }
        // A value from a greedy method parameter keeps its `/`, however the integration
        // URI writes the placeholder (AWS's own examples write `{proxy}`).
        let from_greedy = path.iter().any(|(mapped, source)| {
            *mapped == name
                && matches!(source, Source::Path(p)
                    if route_params.iter().any(|(r, greedy)| *greedy && r == p))
        });
        if from_greedy {
            template.keep_slashes(&name);
        }
    }
    Ok(())
}

/// The path parameters of a route template, with whether each is greedy
/// (`{id}`, `{proxy+}`).
fn route_path_params(path: &str) -> Vec<(&str, bool)> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| match name.strip_suffix('+') {
            Some(name) => (name, true),
            None => (name, false),
        })
        .collect()
}

impl HttpProxy {
    /// Builds the backend request, or the gateway error that answers instead.
    fn backend_request(
        &self,
        mut parts: http::request::Parts,
        body: Body,
        mapped: Option<&MappedRequest>,
    ) -> Result<Request<Body>, GatewayError> {
        let template = match &self.target {
            Target::Uri(template) => template,
            Target::Invalid(reason) => return Err(self.configuration_error(reason)),
        };
        let values = RequestValues::from_parts(&parts);
        let query: Vec<(&str, Cow<'_, str>)> = self
            .query
            .iter()
            .filter_map(|(name, source)| Some((name.as_str(), source.resolve(&values, None)?)))
            .collect();
        let path_value = |name: &str| {
            self.path
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, source)| source.resolve(&values, None))
        };
        let client_query = match mapped.and_then(MappedRequest::query) {
            Some(query) => Some(query).filter(|q| !q.is_empty()),
            None => parts.uri.query(),
        };
        let uri = template
            .build(path_value, client_query, &query)
            .and_then(|uri| match mapped {
                Some(mapped) => mapped.apply_path(uri),
                None => Ok(uri),
            })
            .map_err(|e| self.configuration_error(&format!("invalid endpoint address: {e}")))?;
        let mapped_headers: Vec<(HeaderName, HeaderValue)> = self
            .headers
            .iter()
            .filter_map(|(name, source)| {
                let value = source.resolve(&values, None)?;
                Some((name.clone(), HeaderValue::from_str(&value).ok()?))
            })
            .collect();
        let (proto, port) = forwarded_proto_port(&parts.uri, &parts.headers);

        let context = parts.extensions.get::<RequestContext>();
        let mut headers = std::mem::take(&mut parts.headers);
        remove_hop_by_hop(&mut headers);
        headers.insert(HOST, template.host().clone());
        if let Some(trace) = context.and_then(|c| c.trace_id.as_ref())
            && let Ok(value) = HeaderValue::from_str(trace.as_str())
        {
            headers.insert(X_AMZN_TRACE_ID, value);
        }
        if let Some(context) = context {
            append_forwarded_for(&mut headers, &context.identity.source_ip);
        }
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
        headers.insert(X_FORWARDED_PORT, port_value(port));
        for (name, value) in mapped_headers {
            headers.insert(name, value);
        }
        if let Some(mapped) = mapped {
            mapped.apply_headers(&mut headers);
        }

        let mut request = Request::new(body);
        *request.method_mut() = self.method.clone().unwrap_or(parts.method);
        *request.uri_mut() = uri;
        *request.version_mut() = Version::HTTP_11;
        *request.headers_mut() = headers;
        Ok(request)
    }

    fn configuration_error(&self, reason: &str) -> GatewayError {
        configuration_error(&self.route, reason)
    }

    /// Whether HTTP APIs' parameter mapping applies to the route.
    fn maps_parameters(&self) -> bool {
        !self.http_request.is_empty() || !self.http_response.is_empty()
    }

    /// A call with HTTP APIs' parameter mapping: the request mapping resolved
    /// (buffering the body when a mapping reads it), the backend called, and the
    /// response mapped.
    async fn mapped_call(
        self: Arc<Self>,
        pool: Option<Arc<HostPool>>,
        req: Request<Body>,
    ) -> Response<Body> {
        let Some(pool) = pool else {
            return self
                .configuration_error("invalid endpoint address")
                .into_response();
        };
        let (parts, body) = req.into_parts();
        let (body, mapped) = if self.http_request.reads_body() {
            let bytes = match body.collect_limited(usize::MAX).await {
                Ok(bytes) => bytes,
                Err(err) => return GatewayError::from_box_error(&err).into_response(),
            };
            let mapped = self.http_request.resolve(&parts, Some(&bytes));
            (Body::full(bytes), mapped)
        } else {
            let mapped = self.http_request.resolve(&parts, None);
            (body, mapped)
        };
        let mapped = match mapped {
            Ok(mapped) => mapped,
            Err(err) => return err.into_response(),
        };
        let context = if self.http_response.is_empty() {
            None
        } else {
            parts.extensions.get::<RequestContext>().cloned()
        };
        let request = match self.backend_request(parts, body, Some(&mapped)) {
            Ok(request) => request,
            Err(err) => return err.into_response(),
        };
        let response = match tokio::time::timeout(self.timeout, pool.send(request)).await {
            Ok(Ok(response)) => self.pass_through(response),
            Ok(Err(err)) => return client_failure(&self.route, &err),
            Err(_elapsed) => return timed_out(&self.route, self.timeout),
        };
        self.map_response(response, context.as_ref()).await
    }

    /// Applies the response mapping for the backend's status, buffering the body
    /// when a mapping reads it.
    async fn map_response(
        &self,
        mut response: Response<Body>,
        context: Option<&RequestContext>,
    ) -> Response<Body> {
        if self.http_response.is_empty() {
            return response;
        }
        if !self.http_response.reads_body(response.status()) {
            return match self.http_response.apply(&mut response, context, None) {
                Ok(()) => response,
                Err(err) => err.into_response(),
            };
        }
        let (head, body) = response.into_parts();
        let bytes = match body.collect_limited(MAPPED_RESPONSE_LIMIT).await {
            Ok(bytes) => bytes,
            Err(err) => {
                tracing::warn!(
                    route = %self.route,
                    error = %ErrorChain(&*err),
                    "Execution failed: the integration response body could not be read for \
                     response parameter mapping"
                );
                return GatewayError::new(GatewayResponseType::IntegrationFailure)
                    .with_status(StatusCode::BAD_GATEWAY)
                    .into_response();
            }
        };
        let mut response = Response::from_parts(head, Body::empty());
        if let Err(err) = self
            .http_response
            .apply(&mut response, context, Some(&bytes))
        {
            return err.into_response();
        }
        *response.body_mut() = Body::full(bytes);
        response
    }

    /// The backend's response, passed through.
    fn pass_through(&self, mut response: Response<Body>) -> Response<Body> {
        remove_hop_by_hop(response.headers_mut());
        let status = response.status().as_u16();
        response.extensions_mut().insert(IntegrationStatus(status));
        response
    }
}

/// Logs a configuration failure of `route` as AWS words it and returns the 500
/// `API_CONFIGURATION_ERROR` that answers it.
pub(crate) fn configuration_error(route: &str, reason: &str) -> GatewayError {
    tracing::warn!(
        route,
        "Execution failed due to configuration error: {reason}"
    );
    GatewayError::new(GatewayResponseType::ApiConfigurationError)
}

/// The gateway response for a backend call that failed before its response head.
pub(crate) fn client_failure(route: &str, err: &ClientError) -> Response<Body> {
    if cause_ref::<LengthLimitError>(err).is_some() {
        return GatewayError::new(GatewayResponseType::RequestTooLarge).into_response();
    }
    if err.is_connect() {
        return configuration_error(route, &ErrorChain(err).to_string()).into_response();
    }
    tracing::warn!(
        route,
        error = %ErrorChain(err),
        "Execution failed: the integration endpoint failed before its response head"
    );
    GatewayError::new(GatewayResponseType::IntegrationFailure)
        .with_status(StatusCode::BAD_GATEWAY)
        .into_response()
}

/// The gateway response for an integration that did not answer within `timeout`.
pub(crate) fn timed_out(route: &str, timeout: Duration) -> Response<Body> {
    tracing::warn!(
        route,
        timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        "Execution failed due to a timeout error"
    );
    GatewayError::new(GatewayResponseType::IntegrationTimeout).into_response()
}

/// Displays an error with its sources: `a: b: c`.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

impl Service<Request<Body>> for HttpProxyIntegration {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = ProxyFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The pooled client is always ready; it queues for a connection per request.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        if self.proxy.maps_parameters() {
            return ProxyFuture::Mapped {
                future: Box::pin(Arc::clone(&self.proxy).mapped_call(self.pool.clone(), req)),
            };
        }
        let (parts, body) = req.into_parts();
        let request = self
            .pool
            .as_ref()
            .ok_or_else(|| self.proxy.configuration_error("invalid endpoint address"))
            .and_then(|pool| Ok((pool, self.proxy.backend_request(parts, body, None)?)));
        match request {
            Ok((pool, request)) => {
                let call: BackendCall = Box::pin(Arc::clone(pool).send(request));
                ProxyFuture::Backend {
                    call: tokio::time::timeout(self.proxy.timeout, call),
                    proxy: Arc::clone(&self.proxy),
                }
            }
            Err(err) => ProxyFuture::Answered {
                response: Some(err.into_response()),
            },
        }
    }
}

/// A backend call in flight: connection checkout, request, response head.
type BackendCall = Pin<Box<dyn Future<Output = Result<Response<Body>, ClientError>> + Send>>;

/// A call with HTTP APIs' parameter mapping, from the request to the mapped response.
type MappedCall = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

pin_project! {
    /// Response future of an HTTP_PROXY integration.
    #[project = ProxyFutureProj]
    pub(crate) enum ProxyFuture {
        /// The gateway answered without calling the backend.
        Answered { response: Option<Response<Body>> },
        /// Waiting for the backend's response head.
        Backend {
            #[pin]
            call: Timeout<BackendCall>,
            proxy: Arc<HttpProxy>,
        },
        /// A call with HTTP APIs' parameter mapping.
        Mapped { future: MappedCall },
    }
}

impl fmt::Debug for ProxyFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Answered { .. } => f.write_str("ProxyFuture::Answered"),
            Self::Backend { .. } => f.write_str("ProxyFuture::Backend"),
            Self::Mapped { .. } => f.write_str("ProxyFuture::Mapped"),
        }
    }
}

impl Future for ProxyFuture {
    type Output = Result<Response<Body>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ProxyFutureProj::Answered { response } => Poll::Ready(
                response
                    .take()
                    .ok_or_else(|| "ProxyFuture polled after completion".into()),
            ),
            ProxyFutureProj::Mapped { future } => Poll::Ready(Ok(ready!(future.as_mut().poll(cx)))),
            ProxyFutureProj::Backend { call, proxy } => {
                Poll::Ready(Ok(match ready!(call.poll(cx)) {
                    Ok(Ok(response)) => proxy.pass_through(response),
                    Ok(Err(err)) => client_failure(&proxy.route, &err),
                    Err(_elapsed) => timed_out(&proxy.route, proxy.timeout),
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_params_are_found() {
        assert_eq!(
            route_path_params("/pets/{petId}/x/{proxy+}"),
            [("petId", false), ("proxy", true)]
        );
        assert!(route_path_params("/pets").is_empty());
        assert!(route_path_params("$default").is_empty());
    }
}
