//! Shared helpers for the integration tests: real hyper backends on 127.0.0.1 and
//! requests shaped as the router would hand them to an integration.

// Each test crate uses a subset of these helpers, and a helper that fails should fail
// the test that called it.
#![allow(dead_code, clippy::unwrap_used)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gateway_core::body::Body;
use gateway_core::context::{Identity, RequestContext};
use gateway_core::model::{Integration, Route, RouteMethod};
use gateway_core::observe::trace::TraceId;
use gateway_core::outbound::testing::{ServerCert, TlsListener};
use gateway_core::router::{MatchMode, PathParams, Router};
use gateway_core::stage::StageVariables;
use gateway_integrations::{CompileContext, HttpClient, IntegrationService, compile};
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// The client address the tests put in the request context.
pub(crate) const CLIENT_IP: &str = "203.0.113.9";
/// The trace header the tests put in the request context.
pub(crate) const TRACE: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";

/// A backend listening on 127.0.0.1, stopped when dropped.
pub(crate) struct Backend {
    pub(crate) addr: SocketAddr,
    /// How many connections the backend has accepted.
    pub(crate) connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    /// Serves `handler` over HTTP/1.1 and HTTP/2 on a fresh port.
    pub(crate) async fn start<F, Fut>(handler: F) -> Self
    where
        F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response<Body>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::clone(&connections);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let handler = handler.clone();
                        async move { Ok::<_, Infallible>(handler(req).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            connections,
            task,
        }
    }

    /// Serves `handler` over HTTP/1.1 behind TLS with `cert` on a fresh port;
    /// `connections` counts completed handshakes.
    pub(crate) async fn start_tls<F, Fut>(cert: &ServerCert, handler: F) -> Self
    where
        F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response<Body>> + Send + 'static,
    {
        let listener = TlsListener::bind(cert).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = listener.handshakes();
        let task = tokio::spawn(async move {
            loop {
                let Ok(tcp) = listener.accept_tcp().await else {
                    return;
                };
                let handshake = listener.handshake(tcp);
                let handler = handler.clone();
                tokio::spawn(async move {
                    let Ok(stream) = handshake.await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| {
                        let handler = handler.clone();
                        async move { Ok::<_, Infallible>(handler(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            connections,
            task,
        }
    }

    /// A backend answering every request with a JSON description of it:
    /// `{"backend", "method", "path", "query", "version", "headers": {name: [values]}, "body"}`.
    /// A request header `x-status` sets the status; `x-send-hop: 1` adds hop-by-hop
    /// headers to the response.
    pub(crate) async fn echo(name: &'static str) -> Self {
        Self::start(echo_handler(name)).await
    }

    /// [`Backend::echo`] behind TLS with `cert`.
    pub(crate) async fn echo_tls(name: &'static str, cert: &ServerCert) -> Self {
        Self::start_tls(cert, echo_handler(name)).await
    }
}

type Handled = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// The handler of [`Backend::echo`].
fn echo_handler(
    name: &'static str,
) -> impl Fn(Request<Incoming>) -> Handled + Clone + Send + Sync + 'static {
    move |req: Request<Incoming>| {
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            let mut headers = serde_json::Map::new();
            for key in parts.headers.keys() {
                let values: Vec<serde_json::Value> = parts
                    .headers
                    .get_all(key)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned().into())
                    .collect();
                headers.insert(key.as_str().to_owned(), values.into());
            }
            let description = serde_json::json!({
                "backend": name,
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "query": parts.uri.query(),
                "version": format!("{:?}", parts.version),
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            });
            let mut response = Response::new(Body::from(description.to_string()));
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            if let Some(status) = parts.headers.get("x-status") {
                *response.status_mut() =
                    StatusCode::from_bytes(status.as_bytes()).unwrap_or(StatusCode::OK);
            }
            if parts.headers.contains_key("x-send-hop") {
                let headers = response.headers_mut();
                headers.insert("connection", "x-resp-hop".parse().unwrap());
                headers.insert("x-resp-hop", "1".parse().unwrap());
                headers.insert("keep-alive", "timeout=5".parse().unwrap());
                headers.insert("proxy-authenticate", "Basic".parse().unwrap());
                headers.insert("x-resp-kept", "1".parse().unwrap());
            }
            response
        })
    }
}

impl Backend {
    /// A backend that waits `delay` (real time) before answering 200 `slow`.
    pub(crate) async fn slow(delay: Duration) -> Self {
        Self::start(move |_req: Request<Incoming>| async move {
            tokio::time::sleep(delay).await;
            Response::new(Body::from("slow"))
        })
        .await
    }

    /// A backend streaming `len` bytes of [`pattern`] in 64 KiB chunks on any request
    /// without a body, and streaming back the body of any request that has one.
    pub(crate) async fn stream(len: usize) -> Self {
        Self::start(move |req: Request<Incoming>| async move {
            if req.method() == Method::GET {
                Response::new(Body::new(PatternBody::new(len, 64 * 1024)))
            } else {
                Response::new(Body::from(req.into_body()))
            }
        })
        .await
    }
}

/// A raw TCP backend that reads a little of each request and closes the connection
/// without answering.
pub(crate) async fn resetting_backend() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0_u8; 1024];
            let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await;
            drop(stream);
        }
    });
    (addr, task)
}

/// An address nothing listens on: bound, then released.
pub(crate) async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// The byte at offset `i` of the test pattern.
pub(crate) fn pattern_byte(i: usize) -> u8 {
    u8::try_from((i * 31 + 7) % 251).unwrap()
}

/// A streamed body of `len` pattern bytes in chunks of `chunk` bytes.
pub(crate) struct PatternBody {
    sent: usize,
    len: usize,
    chunk: usize,
}

impl PatternBody {
    pub(crate) fn new(len: usize, chunk: usize) -> Self {
        Self {
            sent: 0,
            len,
            chunk,
        }
    }
}

impl http_body::Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.sent >= self.len {
            return Poll::Ready(None);
        }
        let end = (self.sent + self.chunk).min(self.len);
        let data: Vec<u8> = (self.sent..end).map(pattern_byte).collect();
        self.sent = end;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(data)))))
    }
}

/// FNV-1a over a byte stream, to compare large bodies without keeping them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// The hash of `len` pattern bytes.
    pub(crate) fn of_pattern(len: usize) -> Self {
        let mut hash = Self::new();
        let bytes: Vec<u8> = (0..len).map(pattern_byte).collect();
        hash.update(&bytes);
        hash
    }
}

/// Reads a streamed body frame by frame, returning its length and hash.
pub(crate) async fn hash_body(mut body: Body) -> (usize, Fnv) {
    let mut hash = Fnv::new();
    let mut len = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            len += data.len();
            hash.update(&data);
        }
    }
    (len, hash)
}

/// Buffers a response body.
pub(crate) async fn body_bytes(response: Response<Body>) -> Bytes {
    response.into_body().collect().await.unwrap().to_bytes()
}

/// Buffers a response body and parses it as JSON.
pub(crate) async fn body_json(response: Response<Body>) -> serde_json::Value {
    serde_json::from_slice(&body_bytes(response).await).unwrap()
}

/// A route with an integration.
pub(crate) fn route(method: RouteMethod, path: &str, integration: Integration) -> Route {
    Route::new(method, path).with_integration(integration)
}

/// Compiles a route with the given stage variables and a fresh client.
pub(crate) fn compile_route(route: &Route, variables: &[(&str, &str)]) -> IntegrationService {
    compile_route_with(route, variables, &HttpClient::new())
}

/// Compiles a route with the given stage variables and `client`.
pub(crate) fn compile_route_with(
    route: &Route,
    variables: &[(&str, &str)],
    client: &HttpClient,
) -> IntegrationService {
    let mut stage_variables = StageVariables::new();
    for (name, value) in variables {
        stage_variables.insert(*name, *value).unwrap();
    }
    compile(
        route,
        &CompileContext::new(
            &stage_variables,
            client,
            gateway_core::model::ApiProtocol::Rest,
        ),
    )
    .unwrap()
}

/// The path parameters the router captures for `path` under `template`.
pub(crate) fn path_params(template: &str, path: &str) -> PathParams {
    let mut router = Router::new(MatchMode::ResourceFirst);
    router.insert(&RouteMethod::Any, template, ()).unwrap();
    router.find(&Method::GET, path).unwrap().params
}

/// The request context a router would attach.
pub(crate) fn context() -> RequestContext {
    RequestContext {
        request_id: "req-1".into(),
        identity: Identity {
            source_ip: CLIENT_IP.into(),
            ..Identity::default()
        },
        trace_id: TraceId::parse(TRACE),
        ..RequestContext::default()
    }
}

/// A request as the router hands it on: path parameters of `template` matched
/// against the URI's path, and a request context.
pub(crate) fn request(method: Method, template: &str, uri: &str, body: Body) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .body(body)
        .unwrap();
    let params = path_params(template, req.uri().path());
    req.extensions_mut().insert(params);
    req.extensions_mut().insert(context());
    req
}

/// Sends one request through a compiled integration.
pub(crate) async fn call(service: &IntegrationService, req: Request<Body>) -> Response<Body> {
    service.clone().oneshot(req).await.unwrap()
}
