//! Shared helpers for the gateway's end-to-end tests: temporary directories, a real
//! backend on loopback, a real HTTP client.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "gateway-test-{}-{}",
            std::process::id(),
            fastrand_u64()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fastrand_u64() -> u64 {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    (u64::from(nanos) << 16) ^ COUNTER.fetch_add(1, Ordering::Relaxed) as u64
}

/// A backend that answers every request with a JSON echo of it, tagged with its
/// name; `/hang` never answers; `/status/{code}` answers that status.
pub struct Backend {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
}

pub async fn start_backend(name: &'static str) -> Backend {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let addr = serve(move |req| {
        counter.fetch_add(1, Ordering::Relaxed);
        echo(name, req)
    })
    .await;
    Backend { addr, hits }
}

/// Serves `handle` (HTTP/1.1 and h2c) on a fresh 127.0.0.1 port until the runtime
/// stops; returns the address.
pub async fn serve<F, Fut, B>(handle: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(handle);
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// [`start_backend`] behind TLS with `cert` (HTTP/1.1).
pub async fn start_tls_backend(
    name: &'static str,
    cert: &gateway_core::outbound::testing::ServerCert,
) -> Backend {
    let listener = gateway_core::outbound::testing::TlsListener::bind(cert)
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        loop {
            let Ok(tcp) = listener.accept_tcp().await else {
                continue;
            };
            let handshake = listener.handshake(tcp);
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let Ok(stream) = handshake.await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    counter.fetch_add(1, Ordering::Relaxed);
                    echo(name, req)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Backend { addr, hits }
}

async fn echo(
    name: &'static str,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == "/hang" {
        std::future::pending::<()>().await;
    }
    let status = req
        .uri()
        .path()
        .strip_prefix("/status/")
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let value = serde_json::json!({
        "backend": name,
        "method": method,
        "path": path,
        "query": query,
        "headers": headers,
        "bodyLength": body.len(),
    });
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    Ok(response)
}

/// A response read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// A real HTTP/1.1 client with a connection pool.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl HttpClient {
    pub fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub fn h2c() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new())
                .http2_only(true)
                .build_http(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder.body(Full::new(body.into())).unwrap();
        let response = self.client.request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// Sends a body of unknown length (chunked on the wire) made of `chunks`.
    pub async fn send_chunked(&self, url: &str, chunks: Vec<Bytes>) -> Reply {
        let client: Client<HttpConnector, Chunks> =
            Client::builder(TokioExecutor::new()).build_http();
        let request = Request::post(url).body(Chunks(chunks.into())).unwrap();
        let response = client.request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// A GET with extra headers.
    pub async fn get_with(&self, url: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(Method::GET, url, headers, Bytes::new()).await
    }

    /// A POST without a body.
    pub async fn post(&self, url: &str) -> Reply {
        self.send(Method::POST, url, &[], Bytes::new()).await
    }

    pub async fn get(&self, url: &str) -> Reply {
        self.send(Method::GET, url, &[], Bytes::new()).await
    }
}

/// Starts a gateway from a config file on 127.0.0.1:0 with an admin listener.
pub async fn start_gateway(config: &Path) -> (gateway::Gateway, gateway::server::ServerHandle) {
    let (gateway, report) = gateway::Gateway::from_config_file(config).unwrap();
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    let server = serve_with_admin(&gateway).await;
    (gateway, server)
}

/// Serves `gateway` on 127.0.0.1:0 with an admin listener on another free port.
pub async fn serve_with_admin(gateway: &gateway::Gateway) -> gateway::server::ServerHandle {
    gateway::server::serve(
        gateway,
        "127.0.0.1:0".parse().unwrap(),
        Some("127.0.0.1:0".parse().unwrap()),
    )
    .await
    .unwrap()
}

/// An OpenAPI document with a MOCK `GET /version` answering `body`, plus the given
/// extra paths (YAML text indented under `paths:`).
pub fn mock_api(title: &str, body: &str, extra_paths: &str) -> String {
    format!(
        r#"openapi: 3.0.1
info:
  title: {title}
  version: "1"
paths:
  /version:
    get:
      responses:
        "200":
          description: ok
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{{"statusCode": 200}}'
        responses:
          default:
            statusCode: "200"
            responseTemplates:
              application/json: '{body}'
{extra_paths}"#
    )
}

/// A request body of unknown length.
pub struct Chunks(std::collections::VecDeque<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
    }
}

/// The `gateway` binary serving `config`, killed when dropped.
pub struct Served {
    child: Child,
    /// The address it listens on.
    pub addr: String,
}

impl Served {
    /// Starts `gateway serve` on 127.0.0.1:0 with an empty environment but for
    /// `HOME` and an AWS key pair (`AKIDGATEWAYTEST`), and reads the address it
    /// reports.
    pub fn start(config: &Path, home: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gateway"))
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .env_clear()
            .env("HOME", home)
            .env("AWS_ACCESS_KEY_ID", "AKIDGATEWAYTEST")
            .env("AWS_SECRET_ACCESS_KEY", "gateway-secret")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let first = BufReader::new(child.stdout.take().unwrap())
            .lines()
            .next()
            .unwrap()
            .unwrap();
        let addr = first
            .strip_prefix("gateway listening on http://")
            .unwrap_or_else(|| panic!("{first}"))
            .to_owned();
        Self { child, addr }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
