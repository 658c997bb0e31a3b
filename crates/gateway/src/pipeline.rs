//! The request pipeline: limits, stage dispatch, canary choice, routing, the
//! request context, the route's service, gateway responses, metrics and access logs.
//!
//! [`GatewayService`] is a tower service over the current [`DispatchTable`], which a
//! redeploy replaces atomically: a request loads the table once when it starts and
//! finishes on that table even if a new one is swapped in meanwhile.

use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;
use gateway_core::context::{
    AuthorizedCaller, ClientAddr, Identity, RequestIds, TrustedProxies, epoch_millis,
};
use gateway_core::error::ErrorRequestInfo;
use gateway_core::limits::RequestLimits;
use gateway_core::model::ApiProtocol;
use gateway_core::observe::access_log::AccessLogRecord;
use gateway_core::observe::trace::{TraceId, X_AMZN_TRACE_ID};
use gateway_core::router::PathParams;
use gateway_core::{Body, GatewayError, GatewayResponseType, RequestContext};
use http::header::{HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response};
use http_body::Body as _;
use tower::{Service, ServiceExt};
use tracing::Instrument;

use crate::compile::{CompiledRoute, CompiledStage, CompiledVariant};

/// The request id HTTP APIs answer with.
const APIGW_REQUESTID: HeaderName = HeaderName::from_static("apigw-requestid");
/// The request id REST APIs answer with.
const X_AMZN_REQUESTID: HeaderName = HeaderName::from_static("x-amzn-requestid");
/// The extended request id REST APIs answer with.
const X_AMZ_APIGW_ID: HeaderName = HeaderName::from_static("x-amz-apigw-id");

/// The maps every request looks up: their keys come from the configuration, so
/// a fast hasher (randomly seeded) serves them instead of SipHash.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The stages of one API, by name.
#[derive(Debug, Default)]
pub struct ApiStages {
    /// Stages by name (`$default` excluded).
    pub stages: FastMap<String, Arc<CompiledStage>>,
    /// The `$default` stage, served without a stage segment.
    pub default_stage: Option<Arc<CompiledStage>>,
    /// The API's flavour, for errors before a stage is known.
    pub protocol: ApiProtocol,
}

/// Everything the gateway serves, as of one deployment of the configuration.
#[derive(Debug, Default)]
pub struct DispatchTable {
    /// APIs by id, reached at `{api-id}.execute-api.*` hosts.
    pub apis: FastMap<String, Arc<ApiStages>>,
    /// The API answering hosts that name no API (the first configured).
    pub default_api: Option<Arc<ApiStages>>,
    /// Custom domains (lower case) → base path mappings, longest base path first.
    pub domains: FastMap<String, Vec<(String, Arc<CompiledStage>)>>,
    /// Request size limits.
    pub limits: RequestLimits,
    /// Peers trusted to set `X-Forwarded-For`.
    pub trusted_proxies: TrustedProxies,
    /// The API keys methods with `apiKeyRequired` accept.
    pub api_keys: Option<Arc<dyn gateway_auth::api_key::ApiKeyStore>>,
    /// The throttle backend and usage plans, for usage reports.
    pub throttle: Option<crate::throttle::GatewayThrottle>,
}

enum Dispatch<'t> {
    Stage {
        stage: &'t Arc<CompiledStage>,
        /// Byte offset in the request path where the route path starts.
        offset: usize,
    },
    NoStage(ApiProtocol),
}

impl DispatchTable {
    /// Finds the stage for a request; the route path is `path[offset..]` (or `/`
    /// when that is empty).
    fn dispatch(&self, host: &str, path: &str) -> Dispatch<'_> {
        if let Some(mappings) = self.domains.get(host) {
            let lead = path.len() - path.trim_start_matches('/').len();
            let trimmed = &path[lead..];
            for (base, stage) in mappings {
                if base.is_empty() {
                    return Dispatch::Stage { stage, offset: 0 };
                }
                if let Some(rest) = trimmed.strip_prefix(base.as_str())
                    && (rest.is_empty() || rest.starts_with('/'))
                {
                    let offset = lead + base.len();
                    return Dispatch::Stage { stage, offset };
                }
            }
            return Dispatch::NoStage(ApiProtocol::Rest);
        }
        let api = host
            .split('.')
            .next()
            .and_then(|label| self.apis.get(label))
            .or(self.default_api.as_ref());
        let Some(api) = api else {
            return Dispatch::NoStage(ApiProtocol::Rest);
        };
        let lead = usize::from(path.starts_with('/'));
        let trimmed = &path[lead..];
        let first = trimmed.find('/').map_or(trimmed, |i| &trimmed[..i]);
        if let Some(stage) = api.stages.get(first) {
            return Dispatch::Stage {
                stage,
                offset: lead + first.len(),
            };
        }
        match &api.default_stage {
            Some(stage) => Dispatch::Stage { stage, offset: 0 },
            None => Dispatch::NoStage(api.protocol),
        }
    }
}

/// The gateway as a tower service.
#[derive(Clone)]
pub struct GatewayService {
    table: Arc<ArcSwap<DispatchTable>>,
}

impl fmt::Debug for GatewayService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayService").finish_non_exhaustive()
    }
}

impl GatewayService {
    /// A service answering from whatever table `table` holds at each request.
    #[must_use]
    pub fn new(table: Arc<ArcSwap<DispatchTable>>) -> Self {
        Self { table }
    }
}

/// Response future of the facade's services ([`GatewayService`] and the admin
/// service): the request's async work, boxed so the type can be named.
pub struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = Response<Body>> + Send>>,
}

impl ResponseFuture {
    pub(crate) fn new<F>(future: F) -> Self
    where
        F: Future<Output = Response<Body>> + Send + 'static,
    {
        Self {
            inner: Box::pin(future),
        }
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<Body>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx).map(Ok)
    }
}

impl Service<Request<Body>> for GatewayService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        ResponseFuture::new(handle(self.table.load_full(), req))
    }
}

fn host_of(parts: &http::request::Parts) -> Cow<'_, str> {
    let host = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.host())
        .unwrap_or("");
    let host = match host.rfind(':') {
        Some(i) if !host.ends_with(']') => &host[..i],
        _ => host,
    };
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

fn protocol_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// One request, from its arrival to the answer. Everything before and after the
/// integration runs in plain functions, so that the future boxed per request holds
/// only what lives across the integration's await.
async fn handle(table: Arc<DispatchTable>, req: Request<Body>) -> Response<Body> {
    // Taken apart as it comes out of `prepare`, so that the future keeps room only
    // for the parts used after the await: the request and the span move into the
    // integration's future. (Binding the whole `Routed` first kept room for all of
    // it: the future measured over 1,250 bytes instead of 952, past the size the
    // allocator serves on its fast path.)
    let Routed {
        stage,
        variant,
        route,
        request,
        span,
        answer,
        kept,
        started,
    } = match prepare(&table, req) {
        Prepared::Routed(routed) => routed,
        Prepared::Answered(response) => return response,
        // Rare: boxed, so that the common path's future does not make room for it.
        Prepared::Refused(err, body) => return Box::pin(refuse(&table, err, body)).await,
    };
    let integration_started = Instant::now();
    let outcome = route
        .service
        .clone()
        .oneshot(request)
        .instrument(span)
        .await;
    // One clock read ends both the integration's latency and the request's.
    let ended = Instant::now();
    let integration_latency = ended.saturating_duration_since(integration_started);
    let latency = ended.saturating_duration_since(started);
    complete(
        stage,
        variant,
        route,
        outcome,
        answer,
        kept,
        latency,
        integration_latency,
    )
}

/// The answer to a request refused for its size. A refused body of reasonable
/// size is read (and discarded) first, so that a client still sending it receives
/// the 413 instead of a reset connection.
async fn refuse(table: &DispatchTable, err: GatewayError, body: Body) -> Response<Body> {
    let _ = body
        .collect_limited(table.limits.max_payload_bytes.saturating_mul(2))
        .await;
    err.into_response()
}

/// What [`prepare`] decided about a request.
#[allow(
    clippy::large_enum_variant,
    reason = "returned once, straight into the request's future"
)]
enum Prepared<'t> {
    /// Answered without an integration (no stage, no route).
    Answered(Response<Body>),
    /// Refused for its size, before its body was read.
    Refused(GatewayError, Body),
    /// Matched to a route: the request for its integration.
    Routed(Routed<'t>),
}

/// A request matched to a route, ready for the route's integration.
struct Routed<'t> {
    stage: &'t CompiledStage,
    variant: &'t CompiledVariant,
    route: &'t CompiledRoute,
    request: Request<Body>,
    span: tracing::Span,
    answer: AnswerHeaders,
    kept: Option<Box<Kept>>,
    started: Instant,
}

/// Everything before the integration: limits, stage and route, the request
/// context, and the identifying answer headers.
fn prepare(table: &DispatchTable, req: Request<Body>) -> Prepared<'_> {
    let started = Instant::now();
    let now = SystemTime::now();
    let (mut parts, body) = req.into_parts();
    if let Err(err) = table.limits.check_head(&parts) {
        return Prepared::Refused(err, body);
    }
    let host = host_of(&parts).into_owned();
    let path = parts.uri.path();
    let (stage, offset) = match table.dispatch(&host, path) {
        Dispatch::Stage { stage, offset } => (stage, offset),
        Dispatch::NoStage(protocol) => {
            let err = match protocol {
                ApiProtocol::Http => GatewayError::new(GatewayResponseType::ResourceNotFound),
                _ => GatewayError::new(GatewayResponseType::Default4xx)
                    .with_status(http::StatusCode::FORBIDDEN)
                    .with_message("Forbidden")
                    .with_error_type("ForbiddenException"),
            };
            return Prepared::Answered(err.into_response());
        }
    };
    let route_path = match &path[offset..] {
        "" => "/",
        rest => rest,
    };
    let variant = stage.choose(&parts.headers);
    let matched = variant.router.find(&parts.method, route_path);
    let peer = parts.extensions.get::<ClientAddr>().map(|c| c.0);
    let mut context = RequestContext {
        request_id: RequestIds::request_id(),
        extended_request_id: RequestIds::extended_request_id(),
        api_id: Arc::clone(&stage.api_id),
        account_id: Arc::clone(&stage.account_id),
        stage: Arc::clone(&stage.stage),
        http_method: parts.method.clone(),
        path: path.to_owned(),
        protocol: protocol_name(parts.version),
        request_time_epoch: epoch_millis(now),
        domain_name: host,
        identity: Identity {
            source_ip: table.trusted_proxies.source_ip(peer, &parts.headers),
            user_agent: parts
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ..Identity::default()
        },
        trace_id: Some(TraceId::from_headers(&parts.headers, now)),
        ..RequestContext::default()
    };
    let answer = AnswerHeaders::of(&context, variant.protocol);
    // What rendering a customised gateway response or an access-log line needs is
    // kept (boxed, off the hot path) only when the stage has either.
    let responses = &variant.gateway_responses;
    let customised = !responses.is_empty();
    let mut kept = (customised || stage.access_log.is_some()).then(|| {
        Box::new(Kept {
            context: None,
            saved: Saved {
                headers: responses.needs_request().then(|| parts.headers.clone()),
                query: parts.uri.query().map(str::to_owned),
                params: None,
                accept: parts
                    .headers
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            },
        })
    });

    let Some(matched) = matched else {
        let err = match variant.protocol {
            ApiProtocol::Http => GatewayError::new(GatewayResponseType::ResourceNotFound),
            _ => GatewayError::new(GatewayResponseType::MissingAuthenticationToken),
        };
        return Prepared::Answered(finish(
            stage,
            variant,
            Some(&context),
            answer,
            err.into_response(),
            kept.as_ref().map(|k| &k.saved),
            started.elapsed(),
            None,
            &variant.unmatched_metrics,
        ));
    };
    let route = matched.value;
    context.resource_id = Arc::clone(&route.resource_id);
    context.resource_path = Arc::clone(&route.resource_path);
    context.route_key = Arc::clone(&route.route_key);
    let params = matched.params;
    if let Some(kept) = kept.as_mut() {
        kept.context = Some(context.clone());
        kept.saved.params = responses.needs_request().then(|| params.clone());
    }
    // A span per request for subscribers that want one (RUST_LOG=gateway=debug);
    // disabled, it costs a branch.
    let span = tracing::debug_span!(
        "request",
        request_id = %context.request_id,
        api = %stage.api_id,
        stage = %stage.stage,
        route = %route.route_key,
    );
    parts.extensions.insert(params);
    parts.extensions.insert(context);
    let body = body.limited(table.limits.max_payload_bytes);
    let request = Request::from_parts(parts, body);

    Prepared::Routed(Routed {
        stage,
        variant,
        route,
        request,
        span,
        answer,
        kept,
        started,
    })
}

/// Everything after the integration: the integration's error as a gateway
/// response, what an authorizer learned for the access log, then [`finish`].
#[allow(clippy::too_many_arguments)]
fn complete(
    stage: &CompiledStage,
    variant: &CompiledVariant,
    route: &CompiledRoute,
    outcome: Result<Response<Body>, tower::BoxError>,
    answer: AnswerHeaders,
    mut kept: Option<Box<Kept>>,
    latency: std::time::Duration,
    integration_latency: std::time::Duration,
) -> Response<Body> {
    let mut response = match outcome {
        Ok(response) => response,
        Err(err) => {
            let gateway_error = GatewayError::from_box_error(&err);
            tracing::warn!(error = %err, response = %gateway_error, request_id = ?answer.request_id,
                "integration failed");
            gateway_error.into_response()
        }
    };
    // What the route's authorizer learned about the caller, for the access log
    // and customised gateway responses.
    if let Some(kept) = kept.as_mut()
        && let Some(context) = kept.context.as_mut()
        && let Some(caller) = response.extensions_mut().remove::<AuthorizedCaller>()
    {
        context.identity = caller.identity;
        context.authorizer = caller.authorizer;
    }
    finish(
        stage,
        variant,
        kept.as_ref().and_then(|k| k.context.as_ref()),
        answer,
        response,
        kept.as_ref().map(|k| &k.saved),
        latency,
        Some(integration_latency),
        &route.metrics,
    )
}

/// Request data kept for the answer's gateway response or access-log line.
struct Kept {
    context: Option<RequestContext>,
    saved: Saved,
}

/// The identifying headers every answer carries, rendered once.
struct AnswerHeaders {
    request_id: Option<HeaderValue>,
    extended_request_id: Option<HeaderValue>,
    trace_id: Option<HeaderValue>,
    protocol: ApiProtocol,
}

impl AnswerHeaders {
    fn of(context: &RequestContext, protocol: ApiProtocol) -> Self {
        Self {
            request_id: HeaderValue::from_str(&context.request_id).ok(),
            extended_request_id: HeaderValue::from_str(&context.extended_request_id).ok(),
            trace_id: context
                .trace_id
                .as_ref()
                .and_then(|t| HeaderValue::from_str(t.as_str()).ok()),
            protocol,
        }
    }

    /// Writes the headers into an answer (moved, not copied: an answer is written
    /// once).
    fn apply(self, headers: &mut HeaderMap) {
        match self.protocol {
            ApiProtocol::Http => {
                if let Some(v) = self.extended_request_id {
                    headers.insert(APIGW_REQUESTID, v);
                }
            }
            _ => {
                if let Some(v) = self.request_id {
                    headers.insert(X_AMZN_REQUESTID, v);
                }
                if let Some(v) = self.extended_request_id {
                    headers.insert(X_AMZ_APIGW_ID, v);
                }
                if let Some(v) = self.trace_id {
                    headers.insert(X_AMZN_TRACE_ID, v);
                }
            }
        }
    }
}

struct Saved {
    headers: Option<HeaderMap>,
    query: Option<String>,
    params: Option<PathParams>,
    accept: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn finish(
    stage: &CompiledStage,
    variant: &CompiledVariant,
    context: Option<&RequestContext>,
    answer: AnswerHeaders,
    mut response: Response<Body>,
    saved: Option<&Saved>,
    latency: std::time::Duration,
    integration_latency: Option<std::time::Duration>,
    metrics: &gateway_core::observe::metrics::RouteMetrics,
) -> Response<Body> {
    let responses = &variant.gateway_responses;
    if !responses.is_empty()
        && let Some(err) = response.extensions_mut().remove::<GatewayError>()
    {
        let info = ErrorRequestInfo {
            context,
            stage_variables: Some(&variant.stage_variables),
            headers: saved.and_then(|s| s.headers.as_ref()),
            query: saved.and_then(|s| s.query.as_deref()),
            path_params: saved.and_then(|s| s.params.as_ref()),
            accept: saved.and_then(|s| s.accept.as_deref()),
        };
        response = responses.render(err, &info);
    }
    answer.apply(response.headers_mut());
    let status = response.status();
    metrics.record(status, latency, integration_latency);
    if let (Some(log), Some(context)) = (&stage.access_log, context) {
        let integration_status = response
            .extensions()
            .get::<gateway_integrations::IntegrationStatus>()
            .map(|s| s.0);
        let response_length = response.body().size_hint().exact().or_else(|| {
            response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
        });
        let line = log.format.render(&AccessLogRecord {
            context,
            status: status.as_u16(),
            response_length,
            response_latency: latency,
            integration_latency,
            integration_status,
            error: response.extensions().get::<GatewayError>(),
        });
        log.sink.write_line(line);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest block mimalloc serves from its per-size free lists without
    /// searching (`MI_SMALL_SIZE_MAX` on 64-bit targets).
    const ALLOCATOR_FAST_PATH_BYTES: usize = 1024;

    #[test]
    fn the_request_future_fits_the_allocator_fast_path() {
        let table = Arc::new(DispatchTable::default());
        let future = handle(table, Request::new(Body::empty()));
        let size = std::mem::size_of_val(&future);
        assert!(size <= ALLOCATOR_FAST_PATH_BYTES, "{size} bytes");
    }
}
