//! The backend connection pool.
//!
//! Every backend host gets one [`HostPool`], looked up when a route compiles, so a
//! request neither hashes its host nor searches a shared map. A request takes an idle
//! HTTP/1.1 connection (or opens one), sends, and wraps the response body so that the
//! connection goes back to the pool the moment the body ends; a body dropped before
//! its end takes the connection down with it. Idle connections expire after
//! [`HttpClient::IDLE_TIMEOUT`](super::HttpClient::IDLE_TIMEOUT).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gateway_core::body::{Body, BoxError};
use gateway_core::outbound::{self, CertificateCheck, ConnectError, Stream, TlsClient, Transport};
use http::uri::{Authority, PathAndQuery};
use http::{Request, Response, Uri};
use http_body::{Frame, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

/// Why a backend call failed before its response head.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// No connection could be made (DNS, refused, unreachable).
    #[error("cannot connect to {authority}: {source}")]
    Connect {
        /// The backend.
        authority: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The TLS handshake failed (the certificate, among other reasons).
    #[error("TLS handshake with {authority} failed: {source}")]
    Tls {
        /// The backend.
        authority: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The TLS trust store could not be loaded.
    #[error("no TLS trust store: {0}")]
    TrustStore(String),
    /// The HTTP exchange failed.
    #[error(transparent)]
    Http(#[from] hyper::Error),
}

impl ClientError {
    /// Whether no connection could be opened: the backend is unreachable or its
    /// TLS is not acceptable (AWS answers both as a configuration error).
    pub(crate) fn is_connect(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. } | Self::Tls { .. } | Self::TrustStore(_)
        )
    }
}

impl From<ConnectError> for ClientError {
    fn from(err: ConnectError) -> Self {
        match err {
            ConnectError::Tcp { authority, source } => Self::Connect { authority, source },
            ConnectError::Tls { authority, source } => Self::Tls { authority, source },
            other => Self::TrustStore(other.to_string()),
        }
    }
}

/// How a pool reaches its backend: plain, or TLS checked one way.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Security {
    /// `http`.
    Plain,
    /// `https`.
    Tls {
        /// How the certificate is checked.
        check: CertificateCheck,
        /// The name to verify instead of the host (`serverNameToVerify`).
        server_name: Option<String>,
    },
}

impl Security {
    /// TLS with a full certificate check.
    pub(crate) const TLS: Self = Self::Tls {
        check: CertificateCheck::Full,
        server_name: None,
    };
}

/// The pools of every backend host, shared by all routes.
#[derive(Debug, Default)]
pub(crate) struct Pools {
    hosts: Mutex<HashMap<(Authority, Security), Arc<HostPool>>>,
    /// The trust store for `https` backends; the system's when unset.
    tls: Option<TlsClient>,
}

impl Pools {
    /// Pools whose `https` backends are checked against `tls`.
    pub(crate) fn with_tls(tls: TlsClient) -> Self {
        Self {
            hosts: Mutex::default(),
            tls: Some(tls),
        }
    }

    /// The pool for `authority` over `security` (created on first use, at route
    /// compile time).
    pub(crate) fn host(&self, authority: &Authority, security: &Security) -> Arc<HostPool> {
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (authority.clone(), security.clone());
        Arc::clone(hosts.entry(key).or_insert_with(|| {
            Arc::new(HostPool::new(authority.clone(), self.transport(security)))
        }))
    }

    fn transport(&self, security: &Security) -> Result<Transport, String> {
        match security {
            Security::Plain => Ok(Transport::Plain),
            Security::Tls { check, server_name } => {
                let client = match &self.tls {
                    Some(client) => client.clone(),
                    None => TlsClient::system().map_err(|e| e.to_string())?,
                };
                Ok(Transport::Tls {
                    client,
                    check: *check,
                    server_name: server_name.clone(),
                })
            }
        }
    }
}

struct Idle {
    sender: SendRequest<Body>,
    since: Instant,
}

/// Idle connections to one backend host.
pub(crate) struct HostPool {
    authority: Authority,
    /// How connections are opened; the reason when no trust store could be loaded.
    transport: Result<Transport, String>,
    idle: Mutex<Vec<Idle>>,
    idle_timeout: Duration,
}

impl fmt::Debug for HostPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostPool")
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

impl HostPool {
    fn new(authority: Authority, transport: Result<Transport, String>) -> Self {
        Self {
            authority,
            transport,
            idle: Mutex::new(Vec::new()),
            idle_timeout: super::HttpClient::IDLE_TIMEOUT,
        }
    }

    fn take_idle(&self) -> Option<SendRequest<Body>> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(entry) = idle.pop() {
            if !entry.sender.is_closed() && entry.since.elapsed() < self.idle_timeout {
                return Some(entry.sender);
            }
        }
        None
    }

    fn put_back(&self, sender: SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // Entries are pushed in time order: the oldest sit at the front.
        let expired = idle
            .iter()
            .take_while(|e| now.duration_since(e.since) >= self.idle_timeout)
            .count();
        idle.drain(..expired);
        idle.push(Idle { sender, since: now });
    }

    async fn connect(&self) -> Result<SendRequest<Body>, ClientError> {
        let transport = self
            .transport
            .as_ref()
            .map_err(|reason| ClientError::TrustStore(reason.clone()))?;
        let stream: Stream = outbound::connect(&self.authority, transport).await?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "backend connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Sends `request` (its URI absolute or origin-form) on a pooled connection.
    pub(crate) fn send(
        self: Arc<Self>,
        mut request: Request<Body>,
    ) -> impl Future<Output = Result<Response<Body>, ClientError>> + Send {
        if let Some(origin) = request.uri().path_and_query().cloned() {
            *request.uri_mut() = Uri::from(origin);
        } else {
            *request.uri_mut() = Uri::from(PathAndQuery::from_static("/"));
        }
        // The request is held in one place, the block's captured `Option`, until it
        // is sent: an `async fn` would keep its argument and a local copy of it,
        // and every request's future would make room for both.
        let mut request = Some(request);
        async move {
            // A pooled connection may have been closed by the backend while idle;
            // a request it refused unsent is retried once on a fresh connection.
            let mut fresh = false;
            loop {
                let mut sender = match self.take_idle() {
                    Some(sender) if !fresh => sender,
                    _ => {
                        fresh = true;
                        // Boxed: a new connection is the rare case, and its future
                        // (connect, handshake) would otherwise more than double the
                        // size of every request's future.
                        Box::pin(self.connect()).await?
                    }
                };
                if sender.ready().await.is_err() {
                    if fresh {
                        return Err(self.reset());
                    }
                    continue;
                }
                let Some(message) = request.take() else {
                    return Err(self.reset());
                };
                match sender.try_send_request(message).await {
                    Ok(response) => {
                        let (parts, body) = response.into_parts();
                        let body = PooledBody {
                            body,
                            connection: Some((sender, Arc::clone(&self))),
                        };
                        return Ok(Response::from_parts(parts, Body::new(body)));
                    }
                    Err(mut err) => match err.take_message() {
                        Some(unsent) if !fresh => {
                            request = Some(unsent);
                            fresh = true;
                        }
                        _ => return Err(err.into_error().into()),
                    },
                }
            }
        }
    }

    /// The error of a connection the backend closed before taking the request.
    fn reset(&self) -> ClientError {
        ClientError::Connect {
            authority: self.authority.to_string(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        }
    }
}

/// A backend response body that returns its connection to the pool when it ends.
struct PooledBody {
    body: hyper::body::Incoming,
    connection: Option<(SendRequest<Body>, Arc<HostPool>)>,
}

impl PooledBody {
    fn release(&mut self) {
        if let Some((sender, pool)) = self.connection.take() {
            pool.put_back(sender);
        }
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // A body that is complete without having been read to its end (an empty
        // body, a HEAD answer) still leaves a reusable connection.
        if http_body::Body::is_end_stream(&self.body) {
            self.release();
        }
    }
}

impl http_body::Body for PooledBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.release(),
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => self.release(),
            Poll::Ready(Some(Err(_))) => self.connection = None,
            _ => {}
        }
        polled.map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_future_fits_the_allocator_fast_path() {
        // mimalloc serves blocks of up to 1 KiB from its per-size free lists.
        let pool = Arc::new(HostPool::new(
            Authority::from_static("backend.local:80"),
            Err("no transport".to_owned()),
        ));
        let future = pool.send(Request::new(Body::empty()));
        let size = std::mem::size_of_val(&future);
        assert!(size <= 1024, "{size} bytes");
    }
}
