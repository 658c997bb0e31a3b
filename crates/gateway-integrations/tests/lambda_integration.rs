//! AWS integrations that invoke a Lambda function without the proxy format: the
//! request template's output is the payload, and the result (or the function's
//! error) feeds the integration responses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway_core::body::Body;
use gateway_core::lambda::{
    Invocation, InvocationOutput, InvokeError, InvokeFuture, LambdaInvoker, SharedInvoker,
};
use gateway_core::model::{
    ApiProtocol, Integration, IntegrationResponse, IntegrationType, RouteMethod,
};
use gateway_core::stage::StageVariables;
use gateway_integrations::{
    CompileContext, CompileError, HttpClient, IntegrationService, IntegrationStatus,
};
use http::{Method, StatusCode};

use support::{TRACE, body_json, call, request, route};

const TEMPLATE: &str = "/pets/{id}";
const URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/\
                   arn:aws:lambda:us-east-1:123456789012:function:pets:${stageVariables.alias}/invocations";

/// A function run in the test: it records each invocation and answers with what
/// `answer` computes from the payload.
#[derive(Debug)]
struct TestFunction {
    seen: Mutex<Vec<Invocation>>,
    answer: fn(&serde_json::Value) -> Result<InvocationOutput, InvokeError>,
}

impl LambdaInvoker for TestFunction {
    fn invoke(&self, invocation: Invocation) -> InvokeFuture {
        let payload: serde_json::Value = invocation
            .payload
            .to_json()
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .unwrap_or(serde_json::Value::Null);
        self.seen.lock().unwrap().push(invocation);
        let answer = (self.answer)(&payload);
        Box::pin(async move { answer })
    }
}

/// Answers `{"name": ..., "greeting": "hello NAME"}`, fails with `errorMessage`
/// when the payload says `fail`, and is never found when it says `missing`.
fn pets(payload: &serde_json::Value) -> Result<InvocationOutput, InvokeError> {
    if let Some(message) = payload["fail"].as_str() {
        let error = serde_json::json!({"errorMessage": message, "errorType": "Error"});
        return Ok(InvocationOutput {
            payload: error.to_string().into(),
            function_error: Some("Unhandled".to_owned()),
        });
    }
    if payload["missing"] == true {
        return Err(InvokeError::NotFound("pets".to_owned()));
    }
    let name = payload["name"].as_str().unwrap_or("nobody");
    Ok(InvocationOutput::ok(
        serde_json::json!({"name": name, "greeting": format!("hello {name}")}).to_string(),
    ))
}

fn integration() -> Integration {
    let mut integration = Integration::new(IntegrationType::Aws);
    integration.uri = Some(URI.to_owned());
    integration.http_method = Some("POST".to_owned());
    integration.request_templates.insert(
        "application/json".to_owned(),
        r#"{"name": "$input.params('id')", "fail": $input.json('$.fail'), "missing": $input.json('$.missing')}"#
            .to_owned(),
    );
    let mut ok = IntegrationResponse::new("default", "200");
    ok.response_templates.insert(
        "application/json".to_owned(),
        r#"{"message": "$input.path('$.greeting')"}"#.to_owned(),
    );
    let mut not_found = IntegrationResponse::new("Not found: .*", "404");
    not_found.response_templates.insert(
        "application/json".to_owned(),
        r#"{"error": "$input.path('$.errorMessage')"}"#.to_owned(),
    );
    integration.responses = vec![ok, not_found];
    integration
}

fn compile(
    integration: Integration,
    invoker: &SharedInvoker,
) -> Result<IntegrationService, CompileError> {
    let mut variables = StageVariables::new();
    variables.insert("alias", "live").unwrap();
    let client = HttpClient::new();
    let ctx = CompileContext::new(&variables, &client, ApiProtocol::Rest).with_invoker(invoker);
    gateway_integrations::compile(&route(RouteMethod::Any, TEMPLATE, integration), &ctx)
}

fn post(body: &str) -> http::Request<Body> {
    request(
        Method::POST,
        TEMPLATE,
        "/pets/rex",
        Body::from(body.to_owned()),
    )
}

fn function() -> (Arc<TestFunction>, SharedInvoker) {
    let function = Arc::new(TestFunction {
        seen: Mutex::new(Vec::new()),
        answer: pets,
    });
    let invoker: SharedInvoker = function.clone();
    (function, invoker)
}

#[tokio::test]
async fn the_template_is_the_payload_and_the_result_is_mapped() {
    let (function, invoker) = function();
    let service = compile(integration(), &invoker).unwrap();
    let response = call(&service, post("{}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.extensions().get(), Some(&IntegrationStatus(200)));
    assert_eq!(
        body_json(response).await,
        serde_json::json!({"message": "hello rex"})
    );
    let seen = function.seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].function.name(), "pets");
    assert_eq!(seen[0].function.qualifier(), Some("live"));
    assert_eq!(seen[0].trace_id.as_deref(), Some(TRACE));
    let payload: serde_json::Value =
        serde_json::from_slice(&seen[0].payload.to_json().unwrap()).unwrap();
    assert_eq!(payload["name"], "rex");
}

#[tokio::test]
async fn function_errors_select_by_error_message() {
    let (_, invoker) = function();
    let service = compile(integration(), &invoker).unwrap();
    let response = call(&service, post(r#"{"fail": "Not found: rex"}"#)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body_json(response).await,
        serde_json::json!({"error": "Not found: rex"})
    );

    // An error no pattern matches takes the default response, with a 200, as on AWS.
    let response = call(&service, post(r#"{"fail": "boom"}"#)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body_json(response).await,
        serde_json::json!({"message": ""})
    );
}

#[tokio::test]
async fn a_failed_invocation_is_an_internal_server_error() {
    let (_, invoker) = function();
    let service = compile(integration(), &invoker).unwrap();
    let response = call(&service, post(r#"{"missing": true}"#)).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "InternalServerErrorException"
    );
    assert_eq!(
        body_json(response).await,
        serde_json::json!({"message": "Internal server error"})
    );
}

/// A function that never answers.
#[derive(Debug)]
struct Hanging;

impl LambdaInvoker for Hanging {
    fn invoke(&self, _invocation: Invocation) -> InvokeFuture {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(start_paused = true)]
async fn a_function_slower_than_the_timeout_gives_504() {
    let invoker: SharedInvoker = Arc::new(Hanging);
    let mut slow = integration();
    slow.timeout = Duration::from_millis(750);
    let service = compile(slow, &invoker).unwrap();
    let started = tokio::time::Instant::now();
    let response = call(&service, post("{}")).await;
    assert_eq!(started.elapsed(), Duration::from_millis(750));
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        body_json(response).await,
        serde_json::json!({"message": "Endpoint request timed out"})
    );
}

#[tokio::test]
async fn lambda_integrations_need_an_invoker_and_a_function() {
    let mut variables = StageVariables::new();
    variables.insert("alias", "live").unwrap();
    let client = HttpClient::new();
    let ctx = CompileContext::new(&variables, &client, ApiProtocol::Rest);
    let err =
        gateway_integrations::compile(&route(RouteMethod::Any, TEMPLATE, integration()), &ctx)
            .err()
            .unwrap();
    assert!(matches!(err, CompileError::NoInvoker { .. }), "{err}");

    let (_, invoker) = function();
    let mut bad = integration();
    bad.uri = Some(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions//invocations".to_owned(),
    );
    let err = compile(bad, &invoker).err().unwrap();
    assert!(
        matches!(err, CompileError::InvalidField { ref field, .. } if field == "uri"),
        "{err}"
    );

    // A stage without the `alias` variable names no function: that stage's route
    // answers 500 instead of failing the deployment.
    let empty = StageVariables::new();
    let ctx = CompileContext::new(&empty, &client, ApiProtocol::Rest).with_invoker(&invoker);
    let service =
        gateway_integrations::compile(&route(RouteMethod::Any, TEMPLATE, integration()), &ctx)
            .unwrap();
    let response = call(&service, post("{}")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
