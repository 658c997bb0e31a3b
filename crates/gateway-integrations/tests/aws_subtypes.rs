//! HTTP APIs' AWS service integrations (`integrationSubtype`) end to end against
//! moto, a local AWS emulator: SQS, Step Functions, EventBridge and Kinesis actions
//! called from request values, their effect read back from the service. The
//! actions moto does not implement (Step Functions `StartSyncExecution`, AppConfig
//! `GetConfiguration`) are checked against a server on 127.0.0.1 that records the
//! request it is sent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod moto;
mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use gateway_core::body::Body;
use gateway_core::model::{ApiProtocol, Integration, IntegrationType, RouteMethod};
use gateway_core::stage::StageVariables;
use gateway_integrations::aws::{
    AwsConfig, AwsTarget, Credentials, CredentialsProvider, ServiceRequest,
};
use gateway_integrations::{
    CompileContext, CompileError, HttpClient, IntegrationService, IntegrationStatus,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use tokio::net::TcpStream;

use moto::{ACCOUNT, Moto, REGION};
use support::{Backend, body_bytes, body_json, call, request, route};

const SOURCE_KEY: &str = "AKIDMOTOTEST";
const ROLE: &str = "arn:aws:iam::123456789012:role/gateway-sqs";

fn config(endpoint: &str) -> AwsConfig {
    let credentials = CredentialsProvider::fixed(Credentials::new(SOURCE_KEY, "moto-secret"));
    let mut config = AwsConfig::new(REGION, credentials);
    for service in ["sqs", "states", "events", "kinesis", "sts", "appconfig"] {
        config = config.with_endpoint(service, endpoint).unwrap();
    }
    config
}

/// Calls an action directly (test setup and checks); the answer must be 200.
async fn action(config: &AwsConfig, service: &str, name: &str, body: String) -> String {
    let target = AwsTarget::parse(&format!(
        "arn:aws:apigateway:{REGION}:{service}:action/{name}"
    ))
    .unwrap();
    let response = config
        .prepare(&target, &HttpClient::new())
        .unwrap()
        .call(ServiceRequest::new(Method::POST, body))
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect_limited(1 << 20).await.unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert_eq!(status, StatusCode::OK, "{name}: {text}");
    text
}

/// Calls an SQS action directly with form parameters, its answer as JSON.
async fn sqs(config: &AwsConfig, name: &str, params: &[(&str, &str)]) -> Value {
    let mut form = String::from("ContentType=JSON");
    for (key, value) in params {
        form.push_str(&format!(
            "&{key}={}",
            utf8_percent_encode(value, NON_ALPHANUMERIC)
        ));
    }
    serde_json::from_str(&action(config, "sqs", name, form).await).unwrap()
}

/// Calls a JSON-protocol action directly.
async fn json_action(config: &AwsConfig, service: &str, name: &str, body: Value) -> Value {
    serde_json::from_str(&action(config, service, name, body.to_string()).await).unwrap()
}

/// An HTTP API AWS service integration.
fn subtype(name: &str, parameters: &[(&str, &str)]) -> Integration {
    let mut integration = Integration::new(IntegrationType::AwsProxy);
    integration.subtype = Some(name.to_owned());
    integration.payload_format_version = Some("1.0".to_owned());
    integration.timeout = Duration::from_secs(10);
    integration.request_parameters = parameters
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    integration
}

fn compile_on(
    protocol: ApiProtocol,
    path: &str,
    integration: Integration,
    config: Option<&AwsConfig>,
    variables: &StageVariables,
) -> Result<IntegrationService, CompileError> {
    let client = HttpClient::new();
    let mut ctx = CompileContext::new(variables, &client, protocol);
    if let Some(config) = config {
        ctx = ctx.with_aws(config);
    }
    gateway_integrations::compile(&route(RouteMethod::Any, path, integration), &ctx)
}

fn compile(
    path: &str,
    integration: Integration,
    config: &AwsConfig,
    variables: &StageVariables,
) -> IntegrationService {
    compile_on(
        ApiProtocol::Http,
        path,
        integration,
        Some(config),
        variables,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn post(template: &str, uri: &str, body: &Value, headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = request(Method::POST, template, uri, Body::from(body.to_string()));
    req.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    for (name, value) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse::<http::HeaderValue>().unwrap(),
        );
    }
    req
}

/// Calls a route; returns the status, the content type and the body as JSON.
async fn json_call(
    service: &IntegrationService,
    req: Request<Body>,
) -> (StatusCode, String, Value) {
    let response = call(service, req).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = body_bytes(response).await;
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{status}: {}", String::from_utf8_lossy(&bytes)));
    (status, content_type, json)
}

fn variables(pairs: &[(&str, &str)]) -> StageVariables {
    let mut variables = StageVariables::new();
    for (name, value) in pairs {
        variables.insert(*name, *value).unwrap();
    }
    variables
}

async fn create_queue(config: &AwsConfig, name: &str) -> String {
    let created = sqs(config, "CreateQueue", &[("QueueName", name)]).await;
    created["CreateQueueResponse"]["CreateQueueResult"]["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn queue_attribute(config: &AwsConfig, queue: &str, name: &str) -> String {
    let answer = sqs(
        config,
        "GetQueueAttributes",
        &[("QueueUrl", queue), ("AttributeName.1", name)],
    )
    .await;
    let attributes =
        &answer["GetQueueAttributesResponse"]["GetQueueAttributesResult"]["Attributes"];
    attributes
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .find(|a| a["key"] == name)
        .and_then(|a| a["value"].as_str())
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned()
}

#[tokio::test]
async fn sqs_actions_send_receive_delete_and_purge() {
    let moto = Moto::start();
    let config = config(&moto.endpoint());
    let queue = create_queue(&config, "orders").await;
    let stage = variables(&[("queue", queue.as_str())]);

    // SendMessage: the body from JSONPath, attributes mixing a header and the
    // request id into static JSON, the delay from the query string.
    let mut send = subtype(
        "SQS-SendMessage",
        &[
            ("QueueUrl", "$stageVariables.queue"),
            ("MessageBody", "$request.body.message"),
            ("DelaySeconds", "$request.querystring.delay"),
            (
                "MessageAttributes",
                r#"{"kind": {"DataType": "String", "StringValue": "${request.header.x-kind}"}, "requestId": "${context.requestId}", "count": {"DataType": "Number", "StringValue": "${request.body.count}"}}"#,
            ),
        ],
    );
    send.http_response_parameters = BTreeMap::from([(
        "200".to_owned(),
        BTreeMap::from([(
            "overwrite:header.x-message-id".to_owned(),
            "$response.body.SendMessageResponse.SendMessageResult.MessageId".to_owned(),
        )]),
    )]);
    let send = compile("/orders", send, &config, &stage);
    let message = json!({"message": "two teas & a cake", "count": 2});
    let response = call(
        &send,
        post(
            "/orders",
            "/orders?delay=0",
            &message,
            &[("x-kind", "order")],
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "{}", moto.output());
    assert_eq!(response.extensions().get(), Some(&IntegrationStatus(200)));
    assert_eq!(response.headers()["content-type"], "application/json");
    let message_id = response.headers()["x-message-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let answer = body_json(response).await;
    let result = &answer["SendMessageResponse"]["SendMessageResult"];
    assert_eq!(result["MessageId"], message_id.as_str(), "{answer}");
    // The MD5 of "two teas & a cake".
    assert_eq!(
        result["MD5OfMessageBody"],
        "85402876828f73bb521471693946307d"
    );

    // A second message, delayed for the longest delay SQS allows.
    let (status, _, _) = json_call(
        &send,
        post(
            "/orders",
            "/orders?delay=900",
            &json!({"message": "later", "count": 1}),
            &[("x-kind", "late")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        queue_attribute(&config, &queue, "ApproximateNumberOfMessagesDelayed").await,
        "1"
    );

    // ReceiveMessage through the gateway: only the first message is visible.
    let receive = compile(
        "/orders/next",
        subtype(
            "SQS-ReceiveMessage",
            &[
                ("QueueUrl", "$stageVariables.queue"),
                ("MaxNumberOfMessages", "10"),
                ("MessageAttributeNames", "All"),
                ("AttributeNames", r#"["SentTimestamp"]"#),
                ("VisibilityTimeout", "0"),
            ],
        ),
        &config,
        &stage,
    );
    let (status, content_type, answer) = json_call(
        &receive,
        request(Method::GET, "/orders/next", "/orders/next", Body::empty()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(content_type, "application/json");
    let messages = answer["ReceiveMessageResponse"]["ReceiveMessageResult"]["Messages"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .clone();
    assert_eq!(messages.len(), 1, "{answer}");
    let received = &messages[0];
    assert_eq!(received["Body"], "two teas & a cake");
    assert_eq!(received["MessageId"], message_id.as_str());
    let attributes: BTreeMap<String, Value> = received["MessageAttributes"]
        .as_array()
        .unwrap_or_else(|| panic!("{received}"))
        .iter()
        .map(|a| (a["key"].as_str().unwrap().to_owned(), a["value"].clone()))
        .collect();
    assert_eq!(
        attributes["kind"],
        json!({"DataType": "String", "StringValue": "order"})
    );
    assert_eq!(
        attributes["requestId"],
        json!({"DataType": "String", "StringValue": "req-1"})
    );
    assert_eq!(
        attributes["count"],
        json!({"DataType": "Number", "StringValue": "2"})
    );
    let system: Vec<&str> = received["Attributes"]
        .as_array()
        .unwrap_or_else(|| panic!("{received}"))
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert_eq!(system, ["SentTimestamp"]);
    let handle = received["ReceiptHandle"].as_str().unwrap().to_owned();

    // DeleteMessage with the handle from the request body.
    let delete = compile(
        "/orders/done",
        subtype(
            "SQS-DeleteMessage",
            &[
                ("QueueUrl", "$stageVariables.queue"),
                ("ReceiptHandle", "$request.body.handle"),
            ],
        ),
        &config,
        &stage,
    );
    let (status, _, answer) = json_call(
        &delete,
        post(
            "/orders/done",
            "/orders/done",
            &json!({"handle": handle}),
            &[],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.get("DeleteMessageResponse").is_some(), "{answer}");
    let (status, _, answer) = json_call(
        &receive,
        request(Method::GET, "/orders/next", "/orders/next", Body::empty()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        answer["ReceiveMessageResponse"]["ReceiveMessageResult"]
            .get("Messages")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "{answer}"
    );

    // PurgeQueue drops the delayed message too.
    let purge = compile(
        "/orders/purge",
        subtype("SQS-PurgeQueue", &[("QueueUrl", "$stageVariables.queue")]),
        &config,
        &stage,
    );
    let (status, _, answer) = json_call(
        &purge,
        request(
            Method::POST,
            "/orders/purge",
            "/orders/purge",
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        queue_attribute(&config, &queue, "ApproximateNumberOfMessagesDelayed").await,
        "0"
    );

    // SQS's own error passes through: status, body, content type.
    let missing = format!("{}/{ACCOUNT}/missing", moto.endpoint());
    let gone = compile(
        "/gone",
        subtype("SQS-PurgeQueue", &[("QueueUrl", missing.as_str())]),
        &config,
        &stage,
    );
    let (status, content_type, answer) = json_call(
        &gone,
        request(Method::POST, "/gone", "/gone", Body::empty()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(content_type, "application/json");
    assert_eq!(
        answer["Error"]["Code"], "AWS.SimpleQueueService.NonExistentQueue",
        "{answer}"
    );
}

#[tokio::test]
async fn step_functions_start_and_stop_executions() {
    let moto = Moto::start();
    let config = config(&moto.endpoint());
    let definition = json!({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": true}}});
    let created = json_action(
        &config,
        "states",
        "CreateStateMachine",
        json!({
            "name": "orders",
            "definition": definition.to_string(),
            "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/sfn"),
        }),
    )
    .await;
    let machine = created["stateMachineArn"].as_str().unwrap().to_owned();
    let stage = variables(&[("machine", machine.as_str())]);

    // The input is the whole body; the name comes from a path parameter.
    let start = compile(
        "/orders/{name}",
        subtype(
            "StepFunctions-StartExecution",
            &[
                ("StateMachineArn", "$stageVariables.machine"),
                ("Input", "$request.body"),
                ("Name", "order-${request.path.name}"),
            ],
        ),
        &config,
        &stage,
    );
    let input = json!({"order": 7, "note": "say \"hi\""});
    let (status, content_type, answer) =
        json_call(&start, post("/orders/{name}", "/orders/7", &input, &[])).await;
    assert_eq!(status, StatusCode::OK, "{answer}\n{}", moto.output());
    assert!(content_type.contains("json"), "{content_type}");
    let execution = answer["executionArn"].as_str().unwrap().to_owned();
    assert_eq!(
        execution,
        format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:orders:order-7")
    );
    let described = json_action(
        &config,
        "states",
        "DescribeExecution",
        json!({"executionArn": execution}),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(described["input"].as_str().unwrap()).unwrap(),
        input
    );
    assert_eq!(described["name"], "order-7");
    assert_eq!(described["status"], "RUNNING");

    // StopExecution, the execution named by the query string.
    let stop = compile(
        "/executions",
        subtype(
            "StepFunctions-StopExecution",
            &[
                ("ExecutionArn", "$request.querystring.execution"),
                ("Cause", "stopped through the API"),
                ("Error", "$request.header.x-error"),
            ],
        ),
        &config,
        &stage,
    );
    let uri = format!(
        "/executions?execution={}",
        utf8_percent_encode(&execution, NON_ALPHANUMERIC)
    );
    let (status, _, answer) = json_call(
        &stop,
        post("/executions", &uri, &json!({}), &[("x-error", "Cancelled")]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["stopDate"].is_number(), "{answer}");
    let described = json_action(
        &config,
        "states",
        "DescribeExecution",
        json!({"executionArn": execution}),
    )
    .await;
    assert_eq!(described["status"], "ABORTED");

    // Step Functions' own error passes through.
    let (status, content_type, answer) =
        json_call(&start, post("/orders/{name}", "/orders/7", &input, &[])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(content_type.contains("json"), "{content_type}");
    assert_eq!(answer["__type"], "ExecutionAlreadyExists", "{answer}");
}

#[tokio::test]
async fn eventbridge_put_events_reaches_a_rule_target() {
    let moto = Moto::start();
    let config = config(&moto.endpoint());
    let queue = create_queue(&config, "events").await;
    let queue_arn = queue_attribute(&config, &queue, "QueueArn").await;
    json_action(
        &config,
        "events",
        "PutRule",
        json!({"Name": "orders", "EventPattern": json!({"source": ["shop"]}).to_string()}),
    )
    .await;
    json_action(
        &config,
        "events",
        "PutTargets",
        json!({"Rule": "orders", "Targets": [{"Id": "queue", "Arn": queue_arn}]}),
    )
    .await;

    let service = compile(
        "/events",
        subtype(
            "EventBridge-PutEvents",
            &[
                ("Source", "shop"),
                ("DetailType", "$request.header.x-detail-type"),
                ("Detail", "$request.body.detail"),
                ("Time", "$request.body.time"),
                ("Resources", "$request.body.resources"),
            ],
        ),
        &config,
        &StageVariables::new(),
    );
    let body = json!({
        "detail": {"order": 42, "items": ["tea"]},
        "time": "2024-05-01T10:00:00Z",
        "resources": ["arn:aws:shop:::order/42"],
    });
    let (status, content_type, answer) = json_call(
        &service,
        post(
            "/events",
            "/events",
            &body,
            &[("x-detail-type", "Order Placed")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}\n{}", moto.output());
    // (moto labels EventBridge's JSON text/html; AWS, application/x-amz-json-1.1.)
    assert!(!content_type.is_empty());
    assert_eq!(answer["FailedEntryCount"], 0, "{answer}");

    let received = sqs(
        &config,
        "ReceiveMessage",
        &[("QueueUrl", queue.as_str()), ("MaxNumberOfMessages", "1")],
    )
    .await;
    let message = &received["ReceiveMessageResponse"]["ReceiveMessageResult"]["Messages"][0];
    let event: Value = serde_json::from_str(
        message["Body"]
            .as_str()
            .unwrap_or_else(|| panic!("{received}")),
    )
    .unwrap();
    assert_eq!(event["source"], "shop");
    assert_eq!(event["detail-type"], "Order Placed");
    assert_eq!(event["detail"], body["detail"]);
    assert_eq!(event["resources"], body["resources"]);
    assert_eq!(event["time"], "2024-05-01T10:00:00Z");
}

#[tokio::test]
async fn kinesis_put_record_stores_the_raw_body() {
    let moto = Moto::start();
    let config = config(&moto.endpoint());
    json_action(
        &config,
        "kinesis",
        "CreateStream",
        json!({"StreamName": "clicks", "ShardCount": 1}),
    )
    .await;
    let service = compile(
        "/clicks",
        subtype(
            "Kinesis-PutRecord",
            &[
                ("StreamName", "clicks"),
                ("Data", "$request.body"),
                ("PartitionKey", "$request.body.user"),
            ],
        ),
        &config,
        &StageVariables::new(),
    );
    let click = json!({"user": "u-1", "page": "/tea?x=1&y=ü"});
    let (status, _, answer) = json_call(&service, post("/clicks", "/clicks", &click, &[])).await;
    assert_eq!(status, StatusCode::OK, "{answer}\n{}", moto.output());
    let shard = answer["ShardId"].as_str().unwrap().to_owned();
    assert!(answer["SequenceNumber"].is_string(), "{answer}");

    let iterator = json_action(
        &config,
        "kinesis",
        "GetShardIterator",
        json!({"StreamName": "clicks", "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    )
    .await;
    let records = json_action(
        &config,
        "kinesis",
        "GetRecords",
        json!({"ShardIterator": iterator["ShardIterator"]}),
    )
    .await;
    let record = &records["Records"][0];
    assert_eq!(record["PartitionKey"], "u-1");
    let data = STANDARD.decode(record["Data"].as_str().unwrap()).unwrap();
    assert_eq!(data, click.to_string().into_bytes());
}

/// One request a [`Recorder`] was sent.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: Option<String>,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Seen {
    /// A decoded value of the form body.
    fn form(&self, name: &str) -> Option<String> {
        form_value(&String::from_utf8_lossy(&self.body), name)
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The signature's credential: access key, date, region, service.
    fn credential(&self) -> Vec<String> {
        let authorization = self.header("authorization").unwrap_or_default();
        let credential = authorization
            .split("Credential=")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_default();
        credential.split('/').map(str::to_owned).collect()
    }
}

fn form_value(form: &str, name: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| {
            percent_encoding::percent_decode_str(&value.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// What a [`Recorder`] answers.
#[derive(Clone)]
enum Canned {
    /// A fixed answer.
    Answer {
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        body: &'static str,
    },
    /// The answer of a server behind it.
    Forward(std::net::SocketAddr),
    /// Nothing, ever.
    Never,
}

impl Canned {
    fn ok() -> Self {
        Self::Answer {
            status: 200,
            headers: vec![("content-type", "application/json")],
            body: "{}",
        }
    }
}

/// A server on 127.0.0.1 that records every request it is sent.
struct Recorder {
    backend: Backend,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    async fn start(canned: Canned) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let backend = Backend::start(move |req: Request<Incoming>| {
            let log = Arc::clone(&log);
            let canned = canned.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = body.collect().await.unwrap().to_bytes();
                log.lock().unwrap().push(Seen {
                    method: parts.method.clone(),
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().map(str::to_owned),
                    headers: parts.headers.clone(),
                    body: body.clone(),
                });
                match canned {
                    Canned::Answer {
                        status,
                        headers,
                        body,
                    } => {
                        let mut response = Response::new(Body::from(body));
                        *response.status_mut() = StatusCode::from_u16(status).unwrap();
                        for (name, value) in headers {
                            response.headers_mut().insert(name, value.parse().unwrap());
                        }
                        response
                    }
                    Canned::Forward(upstream) => {
                        let stream = TcpStream::connect(upstream).await.unwrap();
                        let (mut sender, connection) =
                            hyper::client::conn::http1::handshake(TokioIo::new(stream))
                                .await
                                .unwrap();
                        tokio::spawn(connection);
                        let mut forward = Request::builder()
                            .method(parts.method)
                            .uri(parts.uri)
                            .body(Full::new(body))
                            .unwrap();
                        *forward.headers_mut() = parts.headers;
                        let (head, answer) =
                            sender.send_request(forward).await.unwrap().into_parts();
                        let answer = answer.collect().await.unwrap().to_bytes();
                        Response::from_parts(head, Body::full(answer))
                    }
                    Canned::Never => std::future::pending().await,
                }
            }
        })
        .await;
        Self { backend, seen }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.backend.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn start_sync_execution_goes_to_the_sync_endpoint() {
    let recorder = Recorder::start(Canned::Answer {
        status: 200,
        headers: vec![("content-type", "application/x-amz-json-1.0")],
        body: r#"{"status":"SUCCEEDED","output":"{\"ok\":true}"}"#,
    })
    .await;
    // Only a `states` override: the sync endpoint shares it.
    let config = AwsConfig::new(
        REGION,
        CredentialsProvider::fixed(Credentials::new(SOURCE_KEY, "secret")),
    )
    .with_endpoint("states", &recorder.endpoint())
    .unwrap();
    let service = compile(
        "/run",
        subtype(
            "StepFunctions-StartSyncExecution",
            &[
                (
                    "StateMachineArn",
                    "arn:aws:states:us-east-1:123456789012:stateMachine:express",
                ),
                ("Input", "$request.body"),
                ("TraceHeader", "$request.header.x-amzn-trace-id"),
            ],
        ),
        &config,
        &StageVariables::new(),
    );
    let (status, content_type, answer) = json_call(
        &service,
        post(
            "/run",
            "/run",
            &json!({"a": 1}),
            &[("x-amzn-trace-id", "Root=1-abc")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/x-amz-json-1.0");
    assert_eq!(answer["status"], "SUCCEEDED");
    let seen = recorder.seen();
    assert_eq!(seen.len(), 1);
    let sent = &seen[0];
    assert_eq!(
        (sent.method.clone(), sent.path.as_str()),
        (Method::POST, "/")
    );
    assert_eq!(
        sent.header("x-amz-target"),
        Some("AWSStepFunctions.StartSyncExecution")
    );
    assert_eq!(
        sent.header("content-type"),
        Some("application/x-amz-json-1.0")
    );
    assert_eq!(
        sent.json(),
        json!({
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:express",
            "input": "{\"a\":1}",
            "traceHeader": "Root=1-abc",
        })
    );
    // Signed for Step Functions, in the configuration's region.
    let credential = sent.credential();
    assert_eq!(credential[0], SOURCE_KEY);
    assert_eq!(&credential[2..], ["us-east-1", "states", "aws4_request"]);

    // Without an override, the sync- host prefix names the endpoint.
    let target =
        AwsTarget::parse("arn:aws:apigateway:eu-west-1:sync-states:action/StartSyncExecution")
            .unwrap();
    let own = AwsConfig::new(
        REGION,
        CredentialsProvider::fixed(Credentials::new(SOURCE_KEY, "secret")),
    );
    let prepared = own.prepare(&target, &HttpClient::new()).unwrap();
    assert_eq!(
        prepared.endpoint_url(),
        "https://sync-states.eu-west-1.amazonaws.com"
    );
    assert_eq!(prepared.signing_name(), "states");
}

#[tokio::test]
async fn get_configuration_calls_appconfig_rest_api() {
    let recorder = Recorder::start(Canned::Answer {
        status: 200,
        headers: vec![
            ("content-type", "application/json"),
            ("configuration-version", "3"),
            ("x-amzn-requestid", "internal"),
        ],
        body: r#"{"feature":true}"#,
    })
    .await;
    let config = config(&recorder.endpoint());
    let service = compile(
        "/config/{env}",
        subtype(
            "AppConfig-GetConfiguration",
            &[
                ("Application", "shop app"),
                ("Environment", "$request.path.env"),
                ("Configuration", "flags"),
                ("ClientId", "$context.requestId"),
                ("ClientConfigurationVersion", "$request.querystring.version"),
                ("Region", "eu-west-1"),
            ],
        ),
        &config,
        &StageVariables::new(),
    );
    let response = call(
        &service,
        request(
            Method::GET,
            "/config/{env}",
            "/config/prod?version=2",
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["configuration-version"], "3");
    assert!(response.headers().get("x-amzn-requestid").is_none());
    assert_eq!(body_json(response).await, json!({"feature": true}));
    let seen = recorder.seen();
    let sent = &seen[0];
    assert_eq!(sent.method, Method::GET);
    assert_eq!(
        sent.path,
        "/applications/shop%20app/environments/prod/configurations/flags"
    );
    assert_eq!(
        sent.query.as_deref(),
        Some("client_id=req-1&client_configuration_version=2")
    );
    assert!(sent.body.is_empty());
    assert_eq!(
        &sent.credential()[2..],
        ["eu-west-1", "appconfig", "aws4_request"]
    );
}

#[tokio::test]
async fn the_region_parameter_picks_the_signing_region() {
    let recorder = Recorder::start(Canned::ok()).await;
    let config = config(&recorder.endpoint());
    let service = compile(
        "/events",
        subtype(
            "EventBridge-PutEvents",
            &[
                ("Source", "s"),
                ("DetailType", "t"),
                ("Detail", "{}"),
                ("Region", "$request.header.x-region"),
            ],
        ),
        &config,
        &StageVariables::new(),
    );
    let response = call(
        &service,
        post(
            "/events",
            "/events",
            &json!({}),
            &[("x-region", "ap-southeast-2")],
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen = recorder.seen();
    assert_eq!(
        &seen[0].credential()[2..],
        ["ap-southeast-2", "events", "aws4_request"]
    );
    assert_eq!(seen[0].header("x-amz-target"), Some("AWSEvents.PutEvents"));
    // No region, or no region name: 400, nothing sent.
    for headers in [&[][..], &[("x-region", "ap-southeast-2.evil.example")][..]] {
        let response = call(&service, post("/events", "/events", &json!({}), headers)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    assert_eq!(recorder.seen().len(), 1);
}

#[tokio::test]
async fn a_required_value_the_request_lacks_answers_400_without_a_call() {
    let recorder = Recorder::start(Canned::ok()).await;
    let config = config(&recorder.endpoint());
    let compile_send = |parameters: &[(&str, &str)]| {
        let mut all = vec![
            (
                "QueueUrl",
                "https://sqs.us-east-1.amazonaws.com/123456789012/q",
            ),
            ("MessageBody", "$request.body.message"),
        ];
        all.extend_from_slice(parameters);
        compile(
            "/orders",
            subtype("SQS-SendMessage", &all),
            &config,
            &StageVariables::new(),
        )
    };
    let service = compile_send(&[("MessageGroupId", "$request.header.x-group")]);
    for body in [json!({"other": 1}), json!(null)] {
        let response = call(&service, post("/orders", "/orders", &body, &[])).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            body_bytes(response).await,
            Bytes::from_static(br#"{"message":"Bad Request"}"#)
        );
    }
    // Attributes that are not attributes are the client's error too.
    let attributes = compile_send(&[("MessageAttributes", "$request.body.attributes")]);
    let response = call(
        &attributes,
        post(
            "/orders",
            "/orders",
            &json!({"message": "m", "attributes": [1, 2]}),
            &[],
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(recorder.seen().is_empty());

    // An optional parameter that finds nothing is left out.
    let response = call(
        &service,
        post("/orders", "/orders", &json!({"message": "m"}), &[]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = call(
        &service,
        post(
            "/orders",
            "/orders",
            &json!({"message": "m"}),
            &[("x-group", "g1")],
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen = recorder.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].form("MessageGroupId"), None);
    assert_eq!(seen[1].form("MessageGroupId").as_deref(), Some("g1"));
    for sent in &seen {
        assert_eq!(sent.path, "/");
        assert_eq!(sent.form("Action").as_deref(), Some("SendMessage"));
        assert_eq!(sent.form("Version").as_deref(), Some("2012-11-05"));
        assert_eq!(sent.form("ContentType").as_deref(), Some("JSON"));
        assert_eq!(sent.form("MessageBody").as_deref(), Some("m"));
        assert_eq!(
            sent.header("content-type"),
            Some("application/x-www-form-urlencoded; charset=utf-8")
        );
        assert_eq!(sent.header("accept"), Some("application/json"));
    }
}

#[tokio::test]
async fn the_action_is_called_as_the_integration_role() {
    let moto = Moto::start();
    let proxy = Recorder::start(Canned::Forward(moto.addr())).await;
    let config = config(&proxy.endpoint());
    let queue = create_queue(&config, "as-role").await;
    let mut integration = subtype(
        "SQS-SendMessage",
        &[
            ("QueueUrl", queue.as_str()),
            ("MessageBody", "$request.body"),
        ],
    );
    integration.credentials = Some(ROLE.to_owned());
    let service = compile("/send", integration, &config, &StageVariables::new());
    for n in 0..2 {
        let (status, _, answer) =
            json_call(&service, post("/send", "/send", &json!({"n": n}), &[])).await;
        assert_eq!(status, StatusCode::OK, "{answer}\n{}", moto.output());
    }
    let seen = proxy.seen();
    let actions: Vec<String> = seen
        .iter()
        .map(|s| s.form("Action").unwrap_or_default())
        .collect();
    assert_eq!(
        actions,
        ["CreateQueue", "AssumeRole", "SendMessage", "SendMessage"]
    );
    // STS was asked with the gateway's own key, for the role; SQS was called with
    // the key STS issued, and its session token.
    let assume = &seen[1];
    assert_eq!(assume.credential()[0], SOURCE_KEY);
    assert_eq!(assume.form("RoleArn").as_deref(), Some(ROLE));
    for send in &seen[2..] {
        let key = &send.credential()[0];
        assert!(key.starts_with("ASIA"), "{key}");
        assert!(send.header("x-amz-security-token").is_some());
    }
    assert_eq!(seen[2].credential()[0], seen[3].credential()[0]);
}

#[tokio::test]
async fn a_service_that_does_not_answer_in_time_gives_504() {
    let recorder = Recorder::start(Canned::Never).await;
    let config = config(&recorder.endpoint());
    let mut integration = subtype(
        "SQS-PurgeQueue",
        &[(
            "QueueUrl",
            "https://sqs.us-east-1.amazonaws.com/123456789012/q",
        )],
    );
    integration.timeout = Duration::from_millis(100);
    let service = compile("/purge", integration, &config, &StageVariables::new());
    let response = call(
        &service,
        request(Method::POST, "/purge", "/purge", Body::empty()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(recorder.seen().len(), 1);
}

#[tokio::test]
async fn an_unreachable_service_is_an_internal_server_error() {
    let dead = format!("http://{}", support::dead_addr().await);
    let config = config(&dead);
    let service = compile(
        "/purge",
        subtype("SQS-PurgeQueue", &[("QueueUrl", "q")]),
        &config,
        &StageVariables::new(),
    );
    let response = call(
        &service,
        request(Method::POST, "/purge", "/purge", Body::empty()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body_bytes(response).await,
        Bytes::from_static(br#"{"message":"Internal Server Error"}"#)
    );
}

/// The compile error of `integration` on `protocol`: its field and message.
fn refused(
    protocol: ApiProtocol,
    integration: Integration,
    config: Option<&AwsConfig>,
) -> (String, String) {
    let err = compile_on(
        protocol,
        "/orders",
        integration,
        config,
        &StageVariables::new(),
    )
    .expect_err("the route must not compile");
    let message = err.to_string();
    match err {
        CompileError::InvalidField { route, field, .. } => {
            assert_eq!(route, "ANY /orders");
            (field, message)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn routes_that_cannot_call_their_action_do_not_compile() {
    let config = config("http://127.0.0.1:9");
    let http = ApiProtocol::Http;
    let send = |extra: &[(&str, &str)]| {
        let mut parameters = vec![("QueueUrl", "q"), ("MessageBody", "m")];
        parameters.extend_from_slice(extra);
        subtype("SQS-SendMessage", &parameters)
    };
    compile_on(
        http,
        "/orders",
        send(&[]),
        Some(&config),
        &StageVariables::new(),
    )
    .unwrap();

    let (field, message) = refused(http, subtype("SQS-SendMessageBatch", &[]), Some(&config));
    assert_eq!(field, "integrationSubtype");
    assert!(
        message.starts_with(
            "ANY /orders: integration field `integrationSubtype`: `SQS-SendMessageBatch` is \
             not an integration subtype"
        ),
        "{message}"
    );

    let (field, message) = refused(
        http,
        subtype("SQS-SendMessage", &[("QueueUrl", "q")]),
        Some(&config),
    );
    assert_eq!(field, "requestParameters.MessageBody");
    assert!(
        message.contains("requires the parameter `MessageBody`"),
        "{message}"
    );

    let (field, message) = refused(http, send(&[("MessageBodyy", "x")]), Some(&config));
    assert_eq!(field, "requestParameters.MessageBodyy");
    assert!(
        message.contains("takes no parameter `MessageBodyy`"),
        "{message}"
    );
    assert!(message.contains("QueueUrl, MessageBody"), "{message}");

    let (field, message) = refused(ApiProtocol::Rest, send(&[]), Some(&config));
    assert_eq!(field, "integrationSubtype");
    assert!(message.contains("HTTP APIs"), "{message}");

    let mut aws = send(&[]);
    aws.kind = IntegrationType::Aws;
    let (field, message) = refused(http, aws, Some(&config));
    assert_eq!(field, "integrationSubtype");
    assert!(message.contains("AWS_PROXY"), "{message}");

    let mut v2 = send(&[]);
    v2.payload_format_version = Some("2.0".to_owned());
    assert_eq!(refused(http, v2, Some(&config)).0, "payloadFormatVersion");

    let (field, message) = refused(
        http,
        send(&[("MessageGroupId", "$request.cookie.g")]),
        Some(&config),
    );
    assert_eq!(field, "requestParameters.MessageGroupId");
    assert!(message.contains("not a request value"), "{message}");
    let (field, _) = refused(
        http,
        send(&[("DelaySeconds", "$response.body.x")]),
        Some(&config),
    );
    assert_eq!(field, "requestParameters.DelaySeconds");
    let (field, _) = refused(
        http,
        send(&[("MessageGroupId", "$request.path.id")]),
        Some(&config),
    );
    assert_eq!(field, "requestParameters.MessageGroupId");

    let (field, message) = refused(http, send(&[("Region", "moon-1")]), Some(&config));
    assert_eq!(field, "requestParameters.Region");
    assert!(message.contains("not an AWS region name"), "{message}");

    let mut not_a_role = send(&[]);
    not_a_role.credentials = Some("arn:aws:iam::*:user/*".to_owned());
    let err = compile_on(
        http,
        "/orders",
        not_a_role,
        Some(&config),
        &StageVariables::new(),
    )
    .expect_err("not a role");
    assert!(
        matches!(&err, CompileError::Credentials { route, .. } if route == "ANY /orders"),
        "{err:?}"
    );

    let err = compile_on(http, "/orders", send(&[]), None, &StageVariables::new())
        .expect_err("no AWS configuration");
    assert!(matches!(err, CompileError::NoAwsConfig { .. }), "{err}");
}
