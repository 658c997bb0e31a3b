//! The admin listener: metrics, health, reload and stage operations.
//!
//! | method and path | what it does |
//! |---|---|
//! | `GET /metrics` | Prometheus text format |
//! | `GET /health` | `{"status":"ok"}` |
//! | `GET /admin/apis` | APIs, stages, deployments, history, canaries |
//! | `POST /admin/reload` | re-reads the config file and redeploys what changed |
//! | `POST /admin/apis/{api}/stages/{stage}/rollback` | previous deployment |
//! | `POST /admin/apis/{api}/stages/{stage}/canary/promote` | promote the canary |

use std::convert::Infallible;
use std::fmt;
use std::task::{Context, Poll};

use gateway_core::Body;
use http::{Method, Request, Response, StatusCode, header};
use serde_json::json;
use tower::Service;

use crate::gateway::{Error, Gateway};
use crate::pipeline::ResponseFuture;

/// The admin API as a tower service.
#[derive(Clone)]
pub struct AdminService {
    gateway: Gateway,
}

impl fmt::Debug for AdminService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminService").finish_non_exhaustive()
    }
}

impl AdminService {
    /// An admin API over `gateway`.
    #[must_use]
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn error_response(err: &Error) -> Response<Body> {
    let status = match err {
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Stage(_) => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    json_response(status, &json!({ "message": err.to_string() }))
}

async fn blocking<T, F>(f: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::NotFound(format!("admin task failed: {e}"))))
}

async fn handle(gateway: Gateway, req: Request<Body>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["metrics"]) => {
            let mut response = Response::new(Body::from(gateway.metrics().encode()));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        (&Method::GET, ["health"]) => json_response(StatusCode::OK, &json!({ "status": "ok" })),
        (&Method::GET, ["admin", "apis"]) => json_response(StatusCode::OK, &gateway.describe()),
        (&Method::POST, ["admin", "reload"]) => match blocking(move || gateway.reload()).await {
            Ok(report) => json_response(
                StatusCode::OK,
                &json!({
                    "redeployed": report.redeployed,
                    "warnings": report.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }),
            ),
            Err(err) => error_response(&err),
        },
        (&Method::POST, ["admin", "apis", api, "stages", stage, "rollback"]) => {
            let (api, stage) = ((*api).to_owned(), (*stage).to_owned());
            match blocking(move || gateway.rollback(&api, &stage)).await {
                Ok(id) => json_response(StatusCode::OK, &json!({ "deploymentId": id })),
                Err(err) => error_response(&err),
            }
        }
        (&Method::POST, ["admin", "apis", api, "stages", stage, "canary", "promote"]) => {
            let (api, stage) = ((*api).to_owned(), (*stage).to_owned());
            match blocking(move || gateway.promote_canary(&api, &stage)).await {
                Ok(id) => json_response(StatusCode::OK, &json!({ "deploymentId": id })),
                Err(err) => error_response(&err),
            }
        }
        _ => json_response(StatusCode::NOT_FOUND, &json!({ "message": "Not Found" })),
    }
}

impl Service<Request<Body>> for AdminService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        ResponseFuture::new(handle(self.gateway.clone(), req))
    }
}
