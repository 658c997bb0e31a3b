//! A handler written for [`lambda_http`], served by the gateway in process.
//!
//! [`handler`] is an ordinary `lambda_http` function: deployed to AWS it would run
//! under `lambda_http::run(service_fn(handler))`. Here `lambda_http`'s own adapter
//! (the one `run` uses) turns it into a service over Lambda events, which
//! [`InProcessFunction`] invokes with the events an AWS_PROXY route writes. Nothing
//! in the handler knows it is not on Lambda.
//!
//! [`Gateway`] composes the rest by hand from the toolkit's pieces: a
//! [`Router`] for the API's routes, each compiled with
//! [`gateway_integrations::compile`], and a request context per request, served
//! over HTTP/1.1 with hyper. The same function answers a REST API (payload format
//! 1.0) and an HTTP API (2.0).
//!
//! `cargo run -p lambda-http-example`, then
//! `curl 'http://127.0.0.1:3000/prod/hello/you?greeting=Hi'`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use gateway_core::body::Body as GatewayBody;
use gateway_core::context::{ClientAddr, Identity, RequestContext, RequestIds, epoch_millis};
use gateway_core::error::{GatewayError, GatewayResponseType};
use gateway_core::lambda::SharedInvoker;
use gateway_core::limits::MAX_PAYLOAD_BYTES;
use gateway_core::model::{ApiProtocol, Integration, IntegrationType, Route, RouteMethod};
use gateway_core::observe::trace::TraceId;
use gateway_core::router::{MatchMode, Router};
use gateway_core::stage::StageVariables;
use gateway_integrations::lambda::{Functions, InProcessFunction};
use gateway_integrations::{CompileContext, CompileError, HttpClient, IntegrationService, compile};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Error, LambdaEvent, Request, RequestExt, Response};
use tokio::net::TcpListener;
use tower::{Service, ServiceExt};

/// The function's name, as the integration URIs name it.
pub const FUNCTION: &str = "greeter";

/// Greets the `{name}` path parameter, with the `greeting` query parameter if
/// given: `{"message": "Hi, you!", "method": "GET"}`.
///
/// # Errors
///
/// None in practice; the signature is `lambda_http`'s.
pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    let name = event
        .path_parameters_ref()
        .and_then(|params| params.first("name"))
        .unwrap_or("world")
        .to_owned();
    let greeting = event
        .query_string_parameters_ref()
        .and_then(|query| query.first("greeting"))
        .unwrap_or("Hello")
        .to_owned();
    let body = serde_json::json!({
        "message": format!("{greeting}, {name}!"),
        "method": event.method().as_str(),
    });
    let response = Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::Text(body.to_string()))?;
    Ok(response)
}

/// A `lambda_http` service as a tower service over the Lambda events of API
/// Gateway (payload formats 1.0 and 2.0), which is what [`InProcessFunction`]
/// invokes. Each event gets a fresh Lambda [`lambda_http::Context`], as each
/// invocation on Lambda does.
#[derive(Debug, Clone)]
pub struct LambdaHttpService<S> {
    adapter: S,
}

impl<S> LambdaHttpService<S> {
    /// Wraps `lambda_http::Adapter::from(service)`.
    pub fn new(adapter: S) -> Self {
        Self { adapter }
    }
}

impl<S> Service<LambdaRequest> for LambdaHttpService<S>
where
    S: Service<LambdaEvent<LambdaRequest>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.adapter.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaRequest) -> Self::Future {
        self.adapter
            .call(LambdaEvent::new(event, lambda_http::Context::default()))
    }
}

/// [`handler`] as a function the gateway can invoke, registered as [`FUNCTION`].
#[must_use]
pub fn functions() -> SharedInvoker {
    let adapter = lambda_http::Adapter::from(lambda_http::service_fn(handler));
    let function = InProcessFunction::new(LambdaHttpService::new(adapter));
    Functions::new().with_function(FUNCTION, function).shared()
}

/// One API: its routes, the stage they are served under, and its kind.
#[derive(Debug)]
pub struct Api {
    protocol: ApiProtocol,
    stage: String,
    router: Router<(Route, IntegrationService)>,
}

impl Api {
    /// The greeter API: `GET /hello/{name}` and `POST /hello/{name}`, both invoking
    /// [`FUNCTION`] through an AWS_PROXY integration. A REST API is served under
    /// `/prod`; an HTTP API's `$default` stage at the root.
    ///
    /// # Errors
    ///
    /// A route that does not compile.
    pub fn greeter(protocol: ApiProtocol, invoker: &SharedInvoker) -> Result<Self, CompileError> {
        let mut integration = Integration::new(IntegrationType::AwsProxy);
        integration.uri = Some(format!(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/\
             arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}/invocations"
        ));
        integration.http_method = Some("POST".to_owned());
        let variables = StageVariables::new();
        let client = HttpClient::new();
        let ctx = CompileContext::new(&variables, &client, protocol).with_invoker(invoker);
        let mode = match protocol {
            ApiProtocol::Http => MatchMode::RouteFirst,
            _ => MatchMode::ResourceFirst,
        };
        let mut router = Router::new(mode);
        for method in [http::Method::GET, http::Method::POST] {
            let route = Route::new(RouteMethod::Method(method.clone()), "/hello/{name}")
                .with_integration(integration.clone());
            let service = compile(&route, &ctx)?;
            router
                .insert(
                    &RouteMethod::Method(method),
                    "/hello/{name}",
                    (route, service),
                )
                .map_err(|e| CompileError::InvalidField {
                    route: "/hello/{name}".to_owned(),
                    field: "path".to_owned(),
                    reason: e.to_string(),
                })?;
        }
        let stage = match protocol {
            ApiProtocol::Http => "$default",
            _ => "prod",
        };
        Ok(Self {
            protocol,
            stage: stage.to_owned(),
            router,
        })
    }

    /// Answers one request: routing, the request context, the route's service.
    pub async fn handle(&self, req: http::Request<GatewayBody>) -> http::Response<GatewayBody> {
        let (mut parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let route_path = if self.stage == "$default" {
            Some(path.as_str())
        } else {
            path.strip_prefix('/')
                .and_then(|p| p.strip_prefix(self.stage.as_str()))
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))
                .map(|rest| if rest.is_empty() { "/" } else { rest })
        };
        let not_found = || match self.protocol {
            ApiProtocol::Http => GatewayError::new(GatewayResponseType::ResourceNotFound),
            _ => GatewayError::new(GatewayResponseType::MissingAuthenticationToken),
        };
        let Some(found) = route_path.and_then(|p| self.router.find(&parts.method, p)) else {
            return not_found().into_response();
        };
        let (route, service) = found.value;
        let now = SystemTime::now();
        let route_key: Arc<str> = route.route_key().into();
        let context = RequestContext {
            request_id: RequestIds::request_id(),
            extended_request_id: RequestIds::extended_request_id(),
            api_id: "greeter".into(),
            account_id: "123456789012".into(),
            stage: self.stage.as_str().into(),
            resource_id: "hello1".into(),
            resource_path: route.path.as_str().into(),
            route_key,
            http_method: parts.method.clone(),
            path: path.clone(),
            protocol: "HTTP/1.1",
            request_time_epoch: epoch_millis(now),
            domain_name: parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost")
                .to_owned(),
            identity: Identity {
                source_ip: parts
                    .extensions
                    .get::<ClientAddr>()
                    .map(|c| c.0.ip().to_string())
                    .unwrap_or_default(),
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
        parts.extensions.insert(found.params);
        parts.extensions.insert(context);
        let req = http::Request::from_parts(parts, body.limited(MAX_PAYLOAD_BYTES));
        match service.clone().oneshot(req).await {
            Ok(response) => response,
            Err(err) => GatewayError::from_box_error(&err).into_response(),
        }
    }
}

/// Serves `api` on `listener` over HTTP/1.1 until the task is dropped.
pub async fn serve(listener: TcpListener, api: Arc<Api>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let api = Arc::clone(&api);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                let api = Arc::clone(&api);
                async move { Ok::<_, Infallible>(api.handle(incoming(req, peer)).await) }
            });
            // A connection the client breaks ends here; the others carry on.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A hyper request as the gateway's body type, with the client's address.
fn incoming(req: http::Request<Incoming>, peer: SocketAddr) -> http::Request<GatewayBody> {
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(ClientAddr(peer));
    http::Request::from_parts(parts, GatewayBody::from(body))
}

/// A server started on a port of its own, stopped when dropped.
#[derive(Debug)]
pub struct Gateway {
    /// The address it listens on.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Binds `addr` (port 0 for any free port) and serves `api` there.
    ///
    /// # Errors
    ///
    /// The address cannot be bound.
    pub async fn start(addr: SocketAddr, api: Api) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(serve(listener, Arc::new(api)));
        Ok(Self { addr, task })
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}
