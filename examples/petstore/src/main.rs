//! The PetStore example: a small in-memory pet backend, and the gateway serving
//! `openapi.yaml` in front of it as configured in `gateway.yaml`.
//!
//! `cargo run -p petstore` starts both. `cargo run -p petstore -- --backend-only`
//! starts only the backend, for running the `gateway` binary separately:
//! `cargo run -p gateway -- serve --config examples/petstore/gateway.yaml`.

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

const BACKEND: &str = "127.0.0.1:8081";

type Pets = Arc<Mutex<Vec<Value>>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let backend_only = std::env::args().any(|a| a == "--backend-only");
    let backend: SocketAddr = BACKEND.parse()?;
    let listener = TcpListener::bind(backend).await?;
    say(&format!("petstore backend listening on http://{backend}"))?;
    let pets: Pets = Arc::new(Mutex::new(vec![
        json!({"id": 1, "type": "dog", "price": 249.99}),
        json!({"id": 2, "type": "cat", "price": 124.99}),
        json!({"id": 3, "type": "fish", "price": 0.99}),
    ]));
    tokio::spawn(serve_backend(listener, pets));

    if backend_only {
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.yaml");
    let (gateway, report) = gateway::Gateway::from_config_file(&config)?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    let settings = gateway.config().ok_or("no configuration")?;
    let server = gateway::server::serve(
        &gateway,
        settings.listen,
        settings.admin.as_ref().map(|a| a.listen),
    )
    .await?;
    say(&format!("gateway listening on http://{}", server.addr))?;
    say(&format!("try: curl http://{}/prod/pets", server.addr))?;
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}

#[allow(clippy::print_stdout)]
fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

async fn serve_backend(listener: TcpListener, pets: Pets) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let pets = Arc::clone(&pets);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(Arc::clone(&pets), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn json_response(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

async fn handle(pets: Pets, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let response = match (&method, segments.as_slice()) {
        (&Method::GET, ["pets"]) => {
            let all = pets.lock().unwrap_or_else(PoisonError::into_inner).clone();
            json_response(StatusCode::OK, &Value::Array(all))
        }
        (&Method::GET, ["pets", id]) => {
            let all = pets.lock().unwrap_or_else(PoisonError::into_inner);
            match all
                .iter()
                .find(|p| p["id"].as_u64().is_some_and(|n| id.parse() == Ok(n)))
            {
                Some(pet) => json_response(StatusCode::OK, pet),
                None => json_response(StatusCode::NOT_FOUND, &json!({"message": "Pet not found"})),
            }
        }
        (&Method::POST, ["pets"]) => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            match serde_json::from_slice::<Value>(&body) {
                Ok(mut pet) if pet.is_object() => {
                    let mut all = pets.lock().unwrap_or_else(PoisonError::into_inner);
                    pet["id"] = json!(all.len() + 1);
                    all.push(pet.clone());
                    json_response(StatusCode::OK, &json!({"pet": pet, "message": "success"}))
                }
                _ => json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"message": "a pet is a JSON object"}),
                ),
            }
        }
        _ => json_response(StatusCode::NOT_FOUND, &json!({"message": "Not Found"})),
    };
    Ok(response)
}
