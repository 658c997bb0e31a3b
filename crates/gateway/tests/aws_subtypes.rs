//! An HTTP API AWS service integration (`integrationSubtype: SQS-SendMessage`)
//! through the `gateway` binary, from an exported OpenAPI document to a message in
//! a moto queue, signed with credentials from the binary's environment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

#[path = "../../gateway-integrations/tests/moto/mod.rs"]
mod moto;

use bytes::Bytes;
use http::{Method, StatusCode};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use support::{HttpClient, Served, TempDir};

use moto::{ACCOUNT, Moto};

const API: &str = r#"{
  "openapi": "3.0.1",
  "info": {"title": "orders", "version": "2024-05-01 10:00:00UTC"},
  "paths": {
    "/orders": {
      "post": {
        "responses": {"default": {"description": "Default response for POST /orders"}},
        "x-amazon-apigateway-integration": {
          "payloadFormatVersion": "1.0",
          "type": "aws_proxy",
          "integrationSubtype": "SQS-SendMessage",
          "requestParameters": {
            "QueueUrl": "$stageVariables.queue",
            "MessageBody": "$request.body.message",
            "MessageAttributes": "{\"customer\": \"${request.header.x-customer}\"}"
          },
          "responseParameters": {
            "200": {"overwrite:statuscode": "202"}
          },
          "connectionType": "INTERNET",
          "timeoutInMillis": 10000
        }
      }
    }
  },
  "x-amazon-apigateway-importexport-version": "1.0"
}"#;

/// Calls an SQS action on moto directly, its answer in JSON. moto does not check
/// signatures; it reads the service from the credential scope.
async fn sqs(client: &HttpClient, moto: &Moto, action: &str, params: &[(&str, &str)]) -> Value {
    let mut form = format!("Action={action}&Version=2012-11-05&ContentType=JSON");
    for (key, value) in params {
        form.push_str(&format!(
            "&{key}={}",
            utf8_percent_encode(value, NON_ALPHANUMERIC)
        ));
    }
    let reply = client
        .send(
            Method::POST,
            &format!("{}/", moto.endpoint()),
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDTEST/20240501/us-east-1/sqs/aws4_request, \
                     SignedHeaders=host, Signature=0",
                ),
            ],
            Bytes::from(form),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{action}: {}", reply.text());
    reply.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_api_route_sends_to_sqs() {
    let moto = Moto::start();
    let client = HttpClient::new();
    let created = sqs(&client, &moto, "CreateQueue", &[("QueueName", "orders")]).await;
    let queue = created["CreateQueueResponse"]["CreateQueueResult"]["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(queue.ends_with(&format!("/{ACCOUNT}/orders")), "{queue}");

    let dir = TempDir::new();
    dir.write("api.json", API);
    let config = dir.write(
        "gateway.yaml",
        &format!(
            "region: us-east-1\naws:\n  endpoints:\n    sqs: {}\napis:\n  - name: orders\n    openapi: api.json\n    stages:\n      - name: prod\n        variables:\n          queue: \"{queue}\"\n",
            moto.endpoint()
        ),
    );
    let served = Served::start(&config, &dir.0);

    let reply = client
        .send(
            Method::POST,
            &format!("http://{}/prod/orders", served.addr),
            &[("content-type", "application/json"), ("x-customer", "ada")],
            Bytes::from(json!({"message": "one pot of tea"}).to_string()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    let answer = reply.json();
    let message_id = answer["SendMessageResponse"]["SendMessageResult"]["MessageId"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();

    // A request without the mapped body field never reaches SQS.
    let reply = client
        .send(
            Method::POST,
            &format!("http://{}/prod/orders", served.addr),
            &[("content-type", "application/json"), ("x-customer", "bob")],
            Bytes::from("{}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.text(), r#"{"message":"Bad Request"}"#);
    drop(served);

    let received = sqs(
        &client,
        &moto,
        "ReceiveMessage",
        &[
            ("QueueUrl", queue.as_str()),
            ("MaxNumberOfMessages", "10"),
            ("MessageAttributeName.1", "All"),
        ],
    )
    .await;
    let messages = received["ReceiveMessageResponse"]["ReceiveMessageResult"]["Messages"]
        .as_array()
        .unwrap_or_else(|| panic!("{received}"))
        .clone();
    assert_eq!(messages.len(), 1, "{received}");
    assert_eq!(messages[0]["MessageId"], message_id.as_str());
    assert_eq!(messages[0]["Body"], "one pot of tea");
    assert_eq!(
        messages[0]["MessageAttributes"],
        json!([{"key": "customer", "value": {"StringValue": "ada", "DataType": "String"}}])
    );
}
