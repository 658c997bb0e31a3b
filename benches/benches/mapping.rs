//! A mapped (non-proxy) HTTP integration: a 20-line request template, the backend
//! call on a pooled keep-alive connection, and a response template. Beside it, the
//! same request sent straight to the same backend on one kept-alive connection, so
//! the difference is the gateway's own work.

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use gateway_core::Body;
use gateway_core::context::RequestContext;
use gateway_core::model::{
    ApiProtocol, Integration, IntegrationResponse, IntegrationType, Route, RouteMethod,
};
use gateway_core::router::{MatchMode, PathParams, Router};
use gateway_core::stage::StageVariables;
use gateway_integrations::{CompileContext, HttpClient, IntegrationService};
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower::ServiceExt;

const REQUEST_TEMPLATE: &str = r##"#set($body = $input.path('$'))
#set($user = $context.authorizer.principalId)
{
  "orderId": "$input.params('id')",
  "customer": {
    "name": "$util.escapeJavaScript($body.customer.name)",
    "email": "$body.customer.email",
    "tier": #if($body.customer.tier)"$body.customer.tier"#else"standard"#end
  },
  "items": [
#foreach($item in $body.items)
    {"sku": "$item.sku", "quantity": $item.quantity, "price": $item.price}#if($foreach.hasNext),#end
#end
  ],
  "source": "$input.params('source')",
  "requestId": "$context.requestId",
  "stage": "$context.stage",
  "sourceIp": "$context.identity.sourceIp",
  "userAgent": "$util.escapeJavaScript($input.params('User-Agent'))",
  "receivedAt": $context.requestTimeEpoch
}
"##;

const RESPONSE_TEMPLATE: &str = r#"#set($r = $input.path('$'))
{"id": "$r.id", "status": "$r.status", "total": $r.total, "eta": "$r.eta"}"#;

const BODY: &str = r#"{"customer": {"name": "Ada \"Countess\" Lovelace", "email": "ada@example.com"},
 "items": [{"sku": "A-1", "quantity": 2, "price": 9.5}, {"sku": "B-7", "quantity": 1, "price": 120},
           {"sku": "C-3", "quantity": 5, "price": 0.99}]}"#;

const ANSWER: &str = r#"{"id": "o-42", "status": "accepted", "total": 143.95, "eta": "2026-11-23", "warehouse": "DUB1"}"#;

async fn backend() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let _ = req.into_body().collect().await;
                        let mut response =
                            Response::new(Full::new(Bytes::from_static(ANSWER.as_bytes())));
                        response
                            .headers_mut()
                            .insert("content-type", "application/json".parse().expect("type"));
                        Ok::<_, Infallible>(response)
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn integration(addr: std::net::SocketAddr) -> IntegrationService {
    let mut integration = Integration::new(IntegrationType::Http);
    integration.uri = Some(format!("http://{addr}/orders/{{id}}"));
    integration.http_method = Some("POST".to_owned());
    integration.request_parameters.insert(
        "integration.request.path.id".to_owned(),
        "method.request.path.id".to_owned(),
    );
    integration
        .request_templates
        .insert("application/json".to_owned(), REQUEST_TEMPLATE.to_owned());
    let mut ok = IntegrationResponse::new("2\\d{2}", "200");
    ok.response_templates
        .insert("application/json".to_owned(), RESPONSE_TEMPLATE.to_owned());
    integration.responses.push(ok);
    let route =
        Route::new(RouteMethod::Method(Method::POST), "/orders/{id}").with_integration(integration);
    let variables = StageVariables::new();
    let client = HttpClient::new();
    gateway_integrations::compile(
        &route,
        &CompileContext::new(&variables, &client, ApiProtocol::Rest),
    )
    .expect("compiles")
}

/// The path parameters the router hands on, matched once.
fn params() -> PathParams {
    let mut router = Router::new(MatchMode::ResourceFirst);
    router
        .insert(&RouteMethod::Any, "/orders/{id}", ())
        .expect("route");
    router
        .find(&Method::POST, "/orders/42")
        .expect("match")
        .params
}

fn request(params: &PathParams) -> Request<Body> {
    let mut req = Request::post("/orders/42?source=web")
        .header("content-type", "application/json")
        .header("user-agent", "bench/1.0")
        .body(Body::from(BODY))
        .expect("request");
    req.extensions_mut().insert(params.clone());
    req.extensions_mut().insert(RequestContext {
        request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into(),
        ..RequestContext::default()
    });
    req
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let addr = runtime.block_on(backend());
    let service = integration(addr);
    let params = params();
    let sender = runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        std::rc::Rc::new(tokio::sync::Mutex::new(sender))
    });
    let check = runtime.block_on(async {
        let response = service
            .clone()
            .oneshot(request(&params))
            .await
            .expect("infallible");
        assert_eq!(response.status(), 200);
        response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
    });
    let parsed: serde_json::Value = serde_json::from_slice(&check).expect("json");
    assert_eq!(parsed["status"], "accepted");

    let mut group = c.benchmark_group("mapping");
    group.bench_function("http_mapped_request", |b| {
        b.to_async(&runtime).iter(|| {
            let service = service.clone();
            let request = request(&params);
            async move {
                let response = service.oneshot(request).await.expect("infallible");
                black_box(
                    response
                        .into_body()
                        .collect()
                        .await
                        .expect("body")
                        .to_bytes(),
                )
            }
        });
    });
    group.bench_function("backend_direct", |b| {
        b.to_async(&runtime).iter(|| {
            let sender = std::rc::Rc::clone(&sender);
            let request = Request::post("/orders/42")
                .header("host", addr.to_string())
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(BODY.as_bytes())))
                .expect("request");
            async move {
                let mut sender = sender.lock().await;
                sender.ready().await.expect("ready");
                let response = sender.send_request(request).await.expect("response");
                black_box(
                    response
                        .into_body()
                        .collect()
                        .await
                        .expect("body")
                        .to_bytes(),
                )
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
