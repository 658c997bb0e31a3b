//! An in-process Lambda proxy round trip through a compiled AWS_PROXY route: the
//! 1.0 event for a request with a 1 KB JSON body is handed to a function over the
//! Lambda runtime's `ApiGatewayProxyRequest`, which echoes the body, and its
//! `ApiGatewayProxyResponse` is mapped back to a response. For the runtime's types
//! the event is built as the typed value and the response read as one, with no
//! JSON in between.
//!
//! Beside it: the same round trip through JSON, with a lean function over its own
//! event type that reads only the body and isBase64Encoded fields (the event is
//! written as JSON and parsed, the response written and parsed); the JSON path's
//! gateway share alone (an invoker that writes the event's JSON, as the remote
//! invoker does before sending it, and answers the echo's serialized response);
//! and the function called directly with a ready-made event, the naive baseline.

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body as LambdaBody;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use gateway_core::Body;
use gateway_core::context::{Identity, RequestContext};
use gateway_core::lambda::{
    Invocation, InvocationOutput, InvokeFuture, LambdaInvoker, SharedInvoker,
};
use gateway_core::model::{ApiProtocol, Integration, IntegrationType, Route, RouteMethod};
use gateway_core::observe::trace::TraceId;
use gateway_core::router::{MatchMode, PathParams, Router};
use gateway_core::stage::StageVariables;
use gateway_integrations::lambda::InProcessFunction;
use gateway_integrations::{CompileContext, HttpClient, IntegrationService, compile};
use http::{Method, Request};
use http_body_util::BodyExt;
use tower::Service;

/// The function: echoes the request body as a JSON response.
async fn echo(event: ApiGatewayProxyRequest) -> Result<ApiGatewayProxyResponse, Infallible> {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = 200;
    response
        .headers
        .insert("content-type", "application/json".parse().unwrap());
    response.body = event.body.map(LambdaBody::Text);
    Ok(response)
}

/// The fields of the event the lean function reads; serde skips the rest.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanEvent {
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: bool,
}

/// The lean function's answer, in payload format 1.0.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct LeanResponse {
    status_code: u16,
    headers: LeanHeaders,
    body: Option<String>,
    is_base64_encoded: bool,
}

#[derive(serde::Serialize)]
struct LeanHeaders {
    #[serde(rename = "content-type")]
    content_type: &'static str,
}

async fn lean_echo(event: LeanEvent) -> Result<LeanResponse, Infallible> {
    Ok(LeanResponse {
        status_code: 200,
        headers: LeanHeaders {
            content_type: "application/json",
        },
        body: event.body,
        is_base64_encoded: event.is_base64_encoded,
    })
}

/// An invoker that writes the event's JSON, as one sending it elsewhere would, and
/// answers every invocation with the same JSON result: what is left is the
/// gateway's own work on the JSON path.
#[derive(Debug)]
struct Fixed(Bytes);

impl LambdaInvoker for Fixed {
    fn invoke(&self, invocation: Invocation) -> InvokeFuture {
        let event = invocation.payload.to_json().expect("the event writes");
        black_box(event);
        Box::pin(std::future::ready(Ok(InvocationOutput::ok(self.0.clone()))))
    }
}

/// A JSON document of about 1 KB.
fn body() -> String {
    let items: Vec<String> = (0..26)
        .map(|i| format!(r#"{{"id":{i},"name":"pet-{i:04}","tag":"dog"}}"#))
        .collect();
    let body = format!(r#"{{"pets":[{}]}}"#, items.join(","));
    assert!((1000..1100).contains(&body.len()), "{}", body.len());
    body
}

fn context() -> RequestContext {
    RequestContext {
        request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into(),
        extended_request_id: "ABCDEFGHIJKLMN=".into(),
        api_id: "a1b2c3d4e5".into(),
        account_id: "123456789012".into(),
        stage: "prod".into(),
        resource_id: "roq9wj".into(),
        resource_path: "/pets/{id}".into(),
        http_method: Method::POST,
        path: "/prod/pets/42".into(),
        protocol: "HTTP/1.1",
        request_time_epoch: 1_583_349_317_135,
        domain_name: "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com".into(),
        identity: Identity {
            source_ip: "203.0.113.9".into(),
            user_agent: Some("bench/1.0".into()),
            ..Identity::default()
        },
        trace_id: TraceId::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
        ..RequestContext::default()
    }
}

fn request(body: &str, params: &PathParams, context: &RequestContext) -> Request<Body> {
    let mut req = Request::post("/prod/pets/42?verbose=true")
        .header("host", "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com")
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("user-agent", "bench/1.0")
        .body(Body::from(body.to_owned()))
        .expect("request");
    req.extensions_mut().insert(params.clone());
    req.extensions_mut().insert(context.clone());
    req
}

/// Compiles the POST /pets/{id} AWS_PROXY route of a REST API with `invoker`.
fn compiled(invoker: &SharedInvoker) -> IntegrationService {
    let mut integration = Integration::new(IntegrationType::AwsProxy);
    integration.uri = Some(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/\
         arn:aws:lambda:us-east-1:123456789012:function:pets/invocations"
            .to_owned(),
    );
    let route =
        Route::new(RouteMethod::Method(Method::POST), "/pets/{id}").with_integration(integration);
    let variables = StageVariables::new();
    let client = HttpClient::new();
    compile(
        &route,
        &CompileContext::new(&variables, &client, ApiProtocol::Rest).with_invoker(invoker),
    )
    .expect("compiles")
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let mut router = Router::new(MatchMode::ResourceFirst);
    router
        .insert(&RouteMethod::Any, "/pets/{id}", ())
        .expect("route");
    let params = router
        .find(&Method::POST, "/pets/42")
        .expect("match")
        .params;
    let context = context();
    let body = body();

    let runtime_types = compiled(&InProcessFunction::new(tower::service_fn(echo)).shared());
    let lean = compiled(&InProcessFunction::new(tower::service_fn(lean_echo)).shared());
    let mut event = ApiGatewayProxyRequest::default();
    event.http_method = Method::POST;
    event.body = Some(body.clone());
    let result = runtime.block_on(echo(event.clone())).expect("infallible");
    let result = serde_json::to_vec(&result).expect("json");
    let gateway_only = compiled(&(Arc::new(Fixed(result.into())) as SharedInvoker));

    let round_trip = |service: &IntegrationService| {
        let mut service = service.clone();
        let req = request(&body, &params, &context);
        async move {
            let response = service.call(req).await.expect("infallible");
            assert_eq!(response.status(), 200);
            response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes()
        }
    };
    for service in [&runtime_types, &lean, &gateway_only] {
        let echoed = runtime.block_on(round_trip(service));
        assert_eq!(echoed, body.as_bytes());
    }

    let mut group = c.benchmark_group("lambda");
    for (name, service) in [
        ("proxy_round_trip_1kb", &runtime_types),
        ("proxy_round_trip_1kb_lean_function", &lean),
        ("json_gateway_share_1kb", &gateway_only),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&runtime)
                .iter(|| async { black_box(round_trip(service).await) });
        });
    }
    group.bench_function("direct_function_call_1kb", |b| {
        b.to_async(&runtime).iter(|| {
            let event = event.clone();
            async move { black_box(echo(event).await.expect("infallible")) }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
