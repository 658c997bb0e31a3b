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
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gateway_core::body::{Body, BoxError};
use http::uri::{Authority, PathAndQuery};
use http::{Request, Response, Uri};
use http_body::{Frame, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

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
    /// The HTTP exchange failed.
    #[error(transparent)]
    Http(#[from] hyper::Error),
}

/// The pools of every backend host, shared by all routes.
#[derive(Debug, Default)]
pub(crate) struct Pools {
    hosts: Mutex<HashMap<Authority, Arc<HostPool>>>,
}

impl Pools {
    /// The pool for `authority` (created on first use, at route compile time).
    pub(crate) fn host(&self, authority: &Authority) -> Arc<HostPool> {
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            hosts
                .entry(authority.clone())
                .or_insert_with(|| Arc::new(HostPool::new(authority.clone()))),
        )
    }
}

struct Idle {
    sender: SendRequest<Body>,
    since: Instant,
}

/// Idle connections to one backend host.
pub(crate) struct HostPool {
    authority: Authority,
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
    fn new(authority: Authority) -> Self {
        Self {
            authority,
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
        let port = self.authority.port_u16().unwrap_or(80);
        let host = self.authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let connect_error = |source| ClientError::Connect {
            authority: self.authority.to_string(),
            source,
        };
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(connect_error)?;
        stream.set_nodelay(true).map_err(connect_error)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "backend connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Sends `request` (its URI absolute or origin-form) on a pooled connection.
    pub(crate) async fn send(
        self: Arc<Self>,
        mut request: Request<Body>,
    ) -> Result<Response<Body>, ClientError> {
        if let Some(origin) = request.uri().path_and_query().cloned() {
            *request.uri_mut() = Uri::from(origin);
        } else {
            *request.uri_mut() = Uri::from(PathAndQuery::from_static("/"));
        }
        // A pooled connection may have been closed by the backend while idle; a
        // request it refused unsent is retried once on a fresh connection.
        let mut request = Some(request);
        let mut fresh = false;
        loop {
            let mut sender = match self.take_idle() {
                Some(sender) if !fresh => sender,
                _ => {
                    fresh = true;
                    self.connect().await?
                }
            };
            if sender.ready().await.is_err() {
                if fresh {
                    return Err(ClientError::Connect {
                        authority: self.authority.to_string(),
                        source: std::io::Error::from(std::io::ErrorKind::ConnectionReset),
                    });
                }
                continue;
            }
            let Some(message) = request.take() else {
                return Err(ClientError::Connect {
                    authority: self.authority.to_string(),
                    source: std::io::Error::from(std::io::ErrorKind::ConnectionReset),
                });
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
