//! HTTP APIs' AWS service integrations (`integrationSubtype`) in documents as API
//! Gateway exports them.

use std::collections::BTreeMap;

use gateway_core::model::{ApiProtocol, IntegrationType, RouteMethod};
use gateway_openapi::{LoadError, LoadOptions, load_str};
use http::Method;

/// An HTTP API export with an SQS route and a Step Functions route.
const EXPORT: &str = r#"{
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
          "credentials": "arn:aws:iam::123456789012:role/apigateway-sqs",
          "requestParameters": {
            "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/orders",
            "MessageBody": "$request.body.message",
            "MessageAttributes": "{\"source\": {\"DataType\": \"String\", \"StringValue\": \"${request.header.x-source}\"}}"
          },
          "responseParameters": {
            "200": {"overwrite:statuscode": "202"}
          },
          "connectionType": "INTERNET",
          "timeoutInMillis": 10000
        }
      }
    },
    "/executions/{name}": {
      "put": {
        "responses": {"default": {"description": "Default response"}},
        "x-amazon-apigateway-integration": {
          "payloadFormatVersion": "1.0",
          "type": "aws_proxy",
          "integrationSubtype": "StepFunctions-StartExecution",
          "credentials": "arn:aws:iam::123456789012:role/apigateway-sfn",
          "requestParameters": {
            "StateMachineArn": "${stageVariables.machine}",
            "Name": "$request.path.name",
            "Input": "$request.body",
            "Region": "eu-west-1"
          },
          "connectionType": "INTERNET"
        }
      }
    }
  },
  "x-amazon-apigateway-importexport-version": "1.0"
}"#;

#[test]
fn subtype_routes_are_imported_without_warnings() {
    let loaded = load_str(EXPORT, "orders.json", &LoadOptions::default())
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let api = loaded.api;
    assert_eq!(api.protocol, ApiProtocol::Http);

    let orders = api
        .route(&RouteMethod::Method(Method::POST), "/orders")
        .unwrap();
    let integration = orders.integration.as_ref().unwrap();
    assert_eq!(integration.kind, IntegrationType::AwsProxy);
    assert_eq!(integration.subtype.as_deref(), Some("SQS-SendMessage"));
    assert_eq!(integration.uri, None);
    assert_eq!(integration.payload_format_version.as_deref(), Some("1.0"));
    assert_eq!(
        integration.credentials.as_deref(),
        Some("arn:aws:iam::123456789012:role/apigateway-sqs")
    );
    assert_eq!(
        integration.request_parameters["MessageBody"],
        "$request.body.message"
    );
    assert_eq!(
        integration.request_parameters["MessageAttributes"],
        r#"{"source": {"DataType": "String", "StringValue": "${request.header.x-source}"}}"#
    );
    assert_eq!(
        integration.http_response_parameters,
        BTreeMap::from([(
            "200".to_owned(),
            BTreeMap::from([("overwrite:statuscode".to_owned(), "202".to_owned())])
        )])
    );
    assert_eq!(integration.timeout.as_millis(), 10_000);

    let executions = api
        .route(&RouteMethod::Method(Method::PUT), "/executions/{name}")
        .unwrap();
    let integration = executions.integration.as_ref().unwrap();
    assert_eq!(
        integration.subtype.as_deref(),
        Some("StepFunctions-StartExecution")
    );
    assert_eq!(integration.request_parameters.len(), 4);
    assert_eq!(integration.request_parameters["Region"], "eu-west-1");
}

#[test]
fn a_subtype_on_a_rest_api_is_an_error() {
    let text = "openapi: 3.0.1
info: {title: t, version: '1'}
paths:
  /orders:
    post:
      x-amazon-apigateway-integration:
        type: aws_proxy
        integrationSubtype: SQS-SendMessage
        requestParameters: {QueueUrl: q, MessageBody: m}
";
    let err = load_str(text, "api.yaml", &LoadOptions::default())
        .expect_err("a REST API cannot have an integration subtype");
    match err {
        LoadError::Invalid {
            location, message, ..
        } => {
            assert_eq!(
                location,
                "paths./orders.post.x-amazon-apigateway-integration.integrationSubtype"
            );
            assert!(message.contains("HTTP APIs"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_http_api_integration_without_uri_or_subtype_still_needs_a_uri() {
    let text = r#"{
  "openapi": "3.0.1",
  "info": {"title": "t", "version": "1"},
  "paths": {"/a": {"get": {"x-amazon-apigateway-integration": {
    "type": "aws_proxy", "payloadFormatVersion": "2.0"
  }}}},
  "x-amazon-apigateway-importexport-version": "1.0"
}"#;
    let err = load_str(text, "api.json", &LoadOptions::default())
        .expect_err("an AWS_PROXY integration names a function or a subtype");
    match err {
        LoadError::Invalid { location, .. } => {
            assert_eq!(location, "paths./a.get.x-amazon-apigateway-integration.uri");
        }
        other => panic!("{other:?}"),
    }
}
