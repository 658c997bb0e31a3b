//! AWS service integrations end to end against moto, a local AWS emulator: the
//! classic API-to-SQS pattern (a request template building the SendMessage form
//! body, the message then read back from the queue) and Step Functions
//! StartExecution with the state machine named by a stage variable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod moto;
mod support;

use gateway_core::body::Body;
use gateway_core::model::{
    ApiProtocol, Integration, IntegrationResponse, IntegrationType, RouteMethod,
};
use gateway_core::stage::StageVariables;
use gateway_integrations::aws::{
    AwsConfig, AwsTarget, Credentials, CredentialsProvider, ServiceRequest,
};
use gateway_integrations::{CompileContext, CompileError, HttpClient, IntegrationStatus};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use moto::{ACCOUNT, Moto, REGION};
use support::{body_json, call, request, route};

fn config(moto: &Moto) -> AwsConfig {
    let credentials = CredentialsProvider::fixed(Credentials::new("AKIDMOTOTEST", "moto-secret"));
    AwsConfig::new(REGION, credentials)
        .with_endpoint("sqs", &moto.endpoint())
        .unwrap()
        .with_endpoint("states", &moto.endpoint())
        .unwrap()
}

/// Calls an action directly (test setup and checks), returning the body as text.
async fn action(config: &AwsConfig, service: &str, name: &str, body: String) -> String {
    let client = HttpClient::new();
    let target = AwsTarget::parse(&format!(
        "arn:aws:apigateway:{REGION}:{service}:action/{name}"
    ))
    .unwrap();
    let response = config
        .prepare(&target, &client)
        .unwrap()
        .call(ServiceRequest::new(Method::POST, body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{name}");
    let bytes = response.into_body().collect_limited(1 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn aws(uri: String, templates: &[(&str, &str)], response_template: &str) -> Integration {
    let mut integration = Integration::new(IntegrationType::Aws);
    integration.uri = Some(uri);
    integration.http_method = Some("POST".to_owned());
    for (content_type, text) in templates {
        integration
            .request_templates
            .insert((*content_type).to_owned(), (*text).to_owned());
    }
    let mut ok = IntegrationResponse::new("200", "200");
    ok.response_templates
        .insert("application/json".to_owned(), response_template.to_owned());
    let mut failed = IntegrationResponse::new("4\\d{2}", "400");
    failed.response_templates.insert(
        "application/json".to_owned(),
        r#"{"failed": true}"#.to_owned(),
    );
    integration.responses = vec![ok, failed];
    integration
}

fn compile(
    integration: Integration,
    config: &AwsConfig,
    variables: &StageVariables,
) -> gateway_integrations::IntegrationService {
    let client = HttpClient::new();
    let ctx = CompileContext::new(variables, &client, ApiProtocol::Rest).with_aws(config);
    gateway_integrations::compile(&route(RouteMethod::Any, "/orders", integration), &ctx).unwrap()
}

fn post(body: &Value) -> http::Request<Body> {
    let mut req = request(
        Method::POST,
        "/orders",
        "/orders",
        Body::from(body.to_string()),
    );
    req.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    req
}

#[tokio::test]
async fn api_to_sqs_sends_the_templated_message() {
    let moto = Moto::start();
    let config = config(&moto);
    let created = action(&config, "sqs", "CreateQueue", "QueueName=orders".to_owned()).await;
    assert!(created.contains(&format!("/{ACCOUNT}/orders")), "{created}");

    let mut integration = aws(
        format!("arn:aws:apigateway:{REGION}:sqs:path/{ACCOUNT}/orders"),
        &[(
            "application/json",
            "Action=SendMessage&MessageBody=$util.urlEncode($input.body)",
        )],
        r#"{"queued": true, "requestId": "$context.requestId"}"#,
    );
    integration.request_parameters.insert(
        "integration.request.header.Content-Type".to_owned(),
        "'application/x-www-form-urlencoded'".to_owned(),
    );
    let service = compile(integration, &config, &StageVariables::new());
    let order = json!({"order": 42, "items": ["tea & cake", "a+b"]});
    let response = call(&service, post(&order)).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", moto.output());
    assert_eq!(response.extensions().get(), Some(&IntegrationStatus(200)));
    assert_eq!(
        body_json(response).await,
        json!({"queued": true, "requestId": "req-1"})
    );

    let queue_url = format!("{}/{ACCOUNT}/orders", moto.endpoint());
    let received = action(
        &config,
        "sqs",
        "ReceiveMessage",
        format!(
            "QueueUrl={}&MaxNumberOfMessages=1",
            percent_encoding::utf8_percent_encode(&queue_url, percent_encoding::NON_ALPHANUMERIC)
        ),
    )
    .await;
    let start = received.find("<Body>").unwrap() + "<Body>".len();
    let end = received.find("</Body>").unwrap();
    let body = received[start..end]
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), order);
}

#[tokio::test]
async fn step_functions_start_execution_from_a_template() {
    let moto = Moto::start();
    let config = config(&moto);
    let definition = json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}});
    let created = action(
        &config,
        "states",
        "CreateStateMachine",
        json!({
            "name": "orders",
            "definition": definition.to_string(),
            "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/gateway"),
        })
        .to_string(),
    )
    .await;
    let machine: Value = serde_json::from_str(&created).unwrap();
    let machine = machine["stateMachineArn"].as_str().unwrap().to_owned();

    let integration = aws(
        format!("arn:aws:apigateway:{REGION}:states:action/StartExecution"),
        &[(
            "application/json",
            r#"{"input": "$util.escapeJavaScript($input.json('$'))", "stateMachineArn": "$stageVariables.machine"}"#,
        )],
        r#"{"execution": "$input.path('$.executionArn')"}"#,
    );
    let mut variables = StageVariables::new();
    variables.insert("machine", machine.as_str()).unwrap();
    let service = compile(integration, &config, &variables);
    let input = json!({"order": 7, "note": "say \"hi\""});
    let response = call(&service, post(&input)).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", moto.output());
    let execution = body_json(response).await["execution"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        execution.starts_with(&format!(
            "arn:aws:states:{REGION}:{ACCOUNT}:execution:orders:"
        )),
        "{execution}"
    );
    let described = action(
        &config,
        "states",
        "DescribeExecution",
        json!({"executionArn": execution}).to_string(),
    )
    .await;
    let described: Value = serde_json::from_str(&described).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(described["input"].as_str().unwrap()).unwrap(),
        input
    );

    // A request the service refuses (no such machine) selects the 4xx response.
    let mut other = StageVariables::new();
    other
        .insert(
            "machine",
            format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:missing").as_str(),
        )
        .unwrap();
    let integration = aws(
        format!("arn:aws:apigateway:{REGION}:states:action/StartExecution"),
        &[(
            "application/json",
            r#"{"input": "{}", "stateMachineArn": "$stageVariables.machine"}"#,
        )],
        "{}",
    );
    let service = compile(integration, &config, &other);
    let response = call(&service, post(&json!({}))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(response).await, json!({"failed": true}));
}

#[test]
fn aws_service_integrations_need_a_configuration() {
    let variables = StageVariables::new();
    let client = HttpClient::new();
    let ctx = CompileContext::new(&variables, &client, ApiProtocol::Rest);
    let integration = aws(
        format!("arn:aws:apigateway:{REGION}:sqs:path/{ACCOUNT}/orders"),
        &[],
        "{}",
    );
    let err = gateway_integrations::compile(&route(RouteMethod::Any, "/orders", integration), &ctx)
        .err()
        .unwrap();
    assert!(matches!(err, CompileError::NoAwsConfig { .. }), "{err}");
}
