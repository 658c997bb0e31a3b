//! A bare hyper reverse proxy, the floor the load script compares the gateway with:
//! hyper's HTTP/1.1 server handing every request, unchanged but for its URI, to one
//! backend through hyper-util's pooled keep-alive client, on a single-threaded
//! runtime (as the gateway runs with `--worker-threads 1`).
//!
//!   bare_proxy LISTEN_ADDR BACKEND_ADDR

use std::net::SocketAddr;

use http::Uri;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(backend)) = (args.next(), args.next()) else {
        return Err("usage: bare_proxy LISTEN_ADDR BACKEND_ADDR".into());
    };
    let listen: SocketAddr = listen.parse()?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(listen, backend))
}

async fn serve(listen: SocketAddr, backend: String) -> Result<(), BoxError> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<_, Incoming> = Client::builder(TokioExecutor::new()).build(connector);
    let listener = TcpListener::bind(listen).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let client = client.clone();
        let backend = backend.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| forward(client.clone(), backend.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Sends `req` to `backend` with its path and query kept.
async fn forward(
    client: Client<HttpConnector, Incoming>,
    backend: String,
    mut req: Request<Incoming>,
) -> Result<Response<Incoming>, BoxError> {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    *req.uri_mut() = format!("http://{backend}{path}").parse::<Uri>()?;
    Ok(client.request(req).await?)
}
