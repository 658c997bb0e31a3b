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
//! | `GET /admin/usageplans` | usage plans, with API and key ids |
//! | `GET /admin/usageplans/{plan}/usage?startDate=&endDate=[&keyId=]` | usage per key per day, as AWS's `GetUsage` |
//! | `GET /admin/usageplans/{plan}/keys/{key}/quota` | the quota a key has left this period |

use std::convert::Infallible;
use std::fmt;
use std::task::{Context, Poll};

use gateway_core::Body;
use gateway_throttle::Day;
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
        Error::Usage(_) => StatusCode::BAD_REQUEST,
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
        (&Method::GET, ["admin", "usageplans"]) => {
            json_response(StatusCode::OK, &json!({ "items": gateway.usage_plans() }))
        }
        (&Method::GET, ["admin", "usageplans", plan, "usage"]) => {
            let query = req.uri().query().unwrap_or_default();
            match usage_query(query) {
                Ok((start, end, key)) => {
                    match gateway.usage(plan, key.as_deref(), start, end).await {
                        Ok(usage) => json_response(StatusCode::OK, &json!(usage)),
                        Err(err) => error_response(&err),
                    }
                }
                Err(message) => {
                    json_response(StatusCode::BAD_REQUEST, &json!({ "message": message }))
                }
            }
        }
        (&Method::GET, ["admin", "usageplans", plan, "keys", key, "quota"]) => {
            match gateway.remaining_quota(plan, key).await {
                Ok(Some(status)) => json_response(StatusCode::OK, &json!(status)),
                Ok(None) => json_response(
                    StatusCode::NOT_FOUND,
                    &json!({ "message": format!("usage plan `{plan}` has no quota") }),
                ),
                Err(err) => error_response(&err),
            }
        }
        _ => json_response(StatusCode::NOT_FOUND, &json!({ "message": "Not Found" })),
    }
}

/// `startDate`, `endDate` (both required, `YYYY-MM-DD`) and `keyId` of a usage
/// request.
fn usage_query(query: &str) -> Result<(Day, Day, Option<String>), String> {
    let mut start = None;
    let mut end = None;
    let mut key = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(value)
            .decode_utf8_lossy()
            .into_owned();
        match name {
            "startDate" => start = Some(value),
            "endDate" => end = Some(value),
            "keyId" => key = Some(value),
            _ => {}
        }
    }
    let day = |name: &str, value: Option<String>| -> Result<Day, String> {
        value
            .ok_or_else(|| format!("{name} is required"))?
            .parse::<Day>()
            .map_err(|e| format!("{name}: {e}"))
    };
    Ok((day("startDate", start)?, day("endDate", end)?, key))
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
