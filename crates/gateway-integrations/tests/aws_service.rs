#![allow(clippy::unwrap_used, clippy::expect_used)]
//! AWS service requests against moto, a local AWS emulator: SQS through the query
//! protocol (`action/` and `path/` targets) and Step Functions through the JSON
//! protocol. moto routes each request by the service and region of its signature.

mod moto;

use gateway_core::body::Body;
use gateway_integrations::HttpClient;
use gateway_integrations::aws::{
    AwsConfig, AwsTarget, Credentials, CredentialsProvider, PreparedTarget, ServiceRequest,
};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Response, StatusCode};
use serde_json::{Value, json};

use moto::{ACCOUNT, Moto, REGION};

fn config(moto: &Moto, services: &[&str]) -> AwsConfig {
    let credentials = CredentialsProvider::fixed(
        Credentials::new("AKIDMOTOTEST", "moto-secret").with_session_token("moto-session"),
    );
    services
        .iter()
        .fold(AwsConfig::new(REGION, credentials), |config, service| {
            config.with_endpoint(*service, &moto.endpoint()).unwrap()
        })
}

fn prepare(config: &AwsConfig, client: &HttpClient, uri: &str) -> PreparedTarget {
    config
        .prepare(&AwsTarget::parse(uri).unwrap(), client)
        .unwrap()
}

/// The response's body as text, after asserting a 200.
async fn ok_text(moto: &Moto, what: &str, response: Response<Body>) -> String {
    let status = response.status();
    let body = response.into_body().collect_limited(1 << 20).await.unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "{what}: {text}\nmoto's output:\n{}",
        moto.output()
    );
    text
}

/// The text between `<tag>` and `</tag>`.
fn xml_value<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    let end = start + xml[start..].find(&close).unwrap();
    &xml[start..end]
}

#[tokio::test]
async fn sqs_queue_send_and_receive() {
    let moto = Moto::start();
    let config = config(&moto, &["sqs"]);
    let client = HttpClient::new();

    // CreateQueue: an action target, the queue name in a form body.
    let create = prepare(
        &config,
        &client,
        "arn:aws:apigateway:us-east-1:sqs:action/CreateQueue",
    );
    let response = create
        .call(ServiceRequest::new(Method::POST, "QueueName=gateway-queue"))
        .await
        .unwrap();
    let created = ok_text(&moto, "CreateQueue", response).await;
    let queue_url = xml_value(&created, "QueueUrl").to_owned();
    assert!(
        queue_url.ends_with(&format!("/{ACCOUNT}/gateway-queue")),
        "{queue_url}"
    );

    // SendMessage: a path target to the queue, the action in the form body, as API
    // Gateway's SQS integrations are usually written.
    let send = prepare(
        &config,
        &client,
        &format!("arn:aws:apigateway:us-east-1:sqs:path/{ACCOUNT}/gateway-queue"),
    );
    let message = "hello from the gateway: 1+1=2 / ok?";
    let body = format!(
        "Action=SendMessage&MessageBody={}",
        percent_encoding::utf8_percent_encode(message, percent_encoding::NON_ALPHANUMERIC)
    );
    let response = send
        .call(ServiceRequest::new(Method::POST, body).header(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        ))
        .await
        .unwrap();
    let sent = ok_text(&moto, "SendMessage", response).await;
    assert!(!xml_value(&sent, "MessageId").is_empty(), "{sent}");

    // ReceiveMessage: an action target whose parameters are added query parameters
    // (integration.request.querystring mappings); they travel in the form body.
    let receive = prepare(
        &config,
        &client,
        "arn:aws:apigateway:us-east-1:sqs:action/ReceiveMessage",
    );
    let response = receive
        .call(
            ServiceRequest::new(Method::POST, "")
                .query_param("QueueUrl", &queue_url)
                .query_param("MaxNumberOfMessages", "1"),
        )
        .await
        .unwrap();
    let received = ok_text(&moto, "ReceiveMessage", response).await;
    assert_eq!(xml_value(&received, "Body"), message, "{received}");
}

/// Calls a Step Functions action with a JSON body and returns the JSON answer.
async fn states(moto: &Moto, config: &AwsConfig, action: &str, body: &Value) -> Value {
    let client = HttpClient::new();
    let target = prepare(
        config,
        &client,
        &format!("arn:aws:apigateway:{REGION}:states:action/{action}"),
    );
    assert_eq!(target.signing_name(), "states");
    let response = target
        .call(ServiceRequest::new(Method::POST, body.to_string()))
        .await
        .unwrap();
    serde_json::from_str(&ok_text(moto, action, response).await).unwrap()
}

#[tokio::test]
async fn step_functions_machine_and_execution() {
    let moto = Moto::start();
    let config = config(&moto, &["states"]);
    let definition = json!({
        "StartAt": "Done",
        "States": {"Done": {"Type": "Succeed"}}
    });
    let created = states(
        &moto,
        &config,
        "CreateStateMachine",
        &json!({
            "name": "gateway-machine",
            "definition": definition.to_string(),
            "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/gateway"),
        }),
    )
    .await;
    let machine = created["stateMachineArn"].as_str().unwrap().to_owned();
    assert_eq!(
        machine,
        format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:gateway-machine")
    );

    let input = json!({"order": 42, "note": "from the gateway"}).to_string();
    let started = states(
        &moto,
        &config,
        "StartExecution",
        &json!({"stateMachineArn": machine, "name": "run-1", "input": input}),
    )
    .await;
    let execution = started["executionArn"].as_str().unwrap().to_owned();
    assert!(
        execution.starts_with(&format!(
            "arn:aws:states:{REGION}:{ACCOUNT}:execution:gateway-machine:"
        )),
        "{execution}"
    );

    let described = states(
        &moto,
        &config,
        "DescribeExecution",
        &json!({"executionArn": execution}),
    )
    .await;
    assert_eq!(described["stateMachineArn"], machine);
    assert_eq!(described["input"], input);
}
