//! Serving: listeners, connections (HTTP/1.1 and h2c), graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use gateway_core::Body;
use gateway_core::context::ClientAddr;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tower::{Service, ServiceExt};

use crate::admin::AdminService;
use crate::gateway::Gateway;

/// How long in-flight requests get to finish after shutdown starts.
pub const GRACE_PERIOD: Duration = Duration::from_secs(30);

/// A running server: its bound addresses and a way to stop it.
#[derive(Debug)]
pub struct ServerHandle {
    /// The API listener's address.
    pub addr: SocketAddr,
    /// The admin listener's address, when enabled.
    pub admin_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// Stops accepting connections and waits (up to [`GRACE_PERIOD`]) for in-flight
    /// requests to finish.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Binds the listeners and starts serving `gateway`.
pub async fn serve(
    gateway: &Gateway,
    listen: SocketAddr,
    admin: Option<SocketAddr>,
) -> std::io::Result<ServerHandle> {
    let (shutdown, receiver) = watch::channel(false);
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let mut tasks = vec![tokio::spawn(accept_loop(
        listener,
        gateway.service(),
        receiver.clone(),
    ))];
    let admin_addr = match admin {
        Some(admin) => {
            let listener = TcpListener::bind(admin).await?;
            let admin_addr = listener.local_addr()?;
            tasks.push(tokio::spawn(accept_loop(
                listener,
                AdminService::new(gateway.clone()),
                receiver,
            )));
            Some(admin_addr)
        }
        None => None,
    };
    Ok(ServerHandle {
        addr,
        admin_addr,
        shutdown,
        tasks,
    })
}

/// Accepts connections on `listener` and serves each with `service` until
/// `shutdown` turns true, then drains the connections.
pub async fn accept_loop<S>(listener: TcpListener, service: S, mut shutdown: watch::Receiver<bool>)
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    // Every connection's task holds a clone of `open`; `closed` ends when all are
    // gone.
    let (open, mut closed) = mpsc::channel::<()>(1);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = service.clone();
                let hyper_service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let mut req = req.map(Body::from);
                    req.extensions_mut().insert(ClientAddr(peer));
                    service.clone().oneshot(req)
                });
                let builder = builder.clone();
                let (open, shutdown) = (open.clone(), shutdown.clone());
                tokio::spawn(async move {
                    let connection = builder.serve_connection(TokioIo::new(stream), hyper_service);
                    if let Err(err) = until_shutdown(connection, shutdown).await {
                        tracing::debug!(error = %err, %peer, "connection ended with an error");
                    }
                    drop(open);
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    drop(open);
    if tokio::time::timeout(GRACE_PERIOD, closed.recv())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the grace period were closed");
    }
}

/// Serves `connection` until it ends; once `shutdown` turns true (or its sender is
/// gone), the connection finishes its in-flight requests and closes.
///
/// The shutdown signal's future is polled once, which registers the task's waker,
/// and after that only when the channel reports a change: one atomic load per poll
/// of the connection, where polling the signal each time takes a lock.
async fn until_shutdown<C>(connection: C, shutdown: watch::Receiver<bool>) -> C::Output
where
    C: GracefulConnection,
{
    let mut connection = std::pin::pin!(connection);
    let mut signal = std::pin::pin!(shutdown_started(shutdown.clone()));
    let mut registered = false;
    let mut draining = false;
    std::future::poll_fn(move |cx| {
        if !draining
            && (!registered || shutdown.has_changed().unwrap_or(true))
            && signal.as_mut().poll(cx).is_ready()
        {
            draining = true;
            connection.as_mut().graceful_shutdown();
        }
        registered = true;
        connection.as_mut().poll(cx)
    })
    .await
}

/// Completes once shutdown has started: the value turned true or the sender is gone.
async fn shutdown_started(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}
