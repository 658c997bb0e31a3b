//! HTTP APIs' parameter mapping through the whole gateway: an OpenAPI document with
//! `requestParameters` (`append|overwrite|remove:` keys) and `responseParameters` by
//! status code, served on a named stage in front of a real backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::Ordering;

use http::StatusCode;
use support::{HttpClient, TempDir, start_backend, start_gateway};

const API: &str = r#"{
  "openapi": "3.0.1",
  "info": {"title": "Items", "version": "1"},
  "x-amazon-apigateway-importexport-version": "1.0",
  "paths": {
    "/items/{id}": {
      "get": {
        "responses": {"default": {"description": "proxied"}},
        "x-amazon-apigateway-integration": {
          "type": "http_proxy",
          "httpMethod": "GET",
          "payloadFormatVersion": "1.0",
          "uri": "http://${stageVariables.backend}/ignored",
          "requestParameters": {
            "overwrite:path": "/backend/${request.path.id}",
            "append:header.x-item": "item-${request.path.id}",
            "overwrite:header.x-caller": "$request.header.x-user",
            "remove:header.x-user": "''",
            "overwrite:header.x-whole-path": "$request.path",
            "overwrite:querystring.stage": "$context.stage",
            "remove:querystring.secret": "''"
          },
          "responseParameters": {
            "200": {
              "append:header.x-backend-path": "$response.body.path",
              "overwrite:header.x-env": "$stageVariables.env",
              "remove:header.content-type": "''"
            }
          }
        }
      }
    },
    "/gone": {
      "get": {
        "responses": {"default": {"description": "proxied"}},
        "x-amazon-apigateway-integration": {
          "type": "http_proxy",
          "httpMethod": "GET",
          "payloadFormatVersion": "1.0",
          "uri": "http://${stageVariables.backend}/anything",
          "requestParameters": {"overwrite:path": "/status/404"},
          "responseParameters": {
            "404": {
              "overwrite:statuscode": "410",
              "append:header.x-request-id": "${context.requestId}"
            }
          }
        }
      }
    }
  }
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_api_maps_requests_and_responses() {
    let backend = start_backend("items").await;
    let dir = TempDir::new();
    dir.write("api.json", API);
    let config = format!(
        "apis:\n  - name: items\n    openapi: api.json\n    stages:\n      - name: prod\n        variables:\n          backend: \"{}\"\n          env: production\n",
        backend.addr
    );
    let config_path = dir.write("gateway.yaml", &config);
    let (_gateway, server) = start_gateway(&config_path).await;
    let client = HttpClient::new();
    let url = |path: &str| format!("http://{}{path}", server.addr);

    let reply = client
        .get_with(&url("/prod/items/7?secret=s&keep=1"), &[("x-user", "ada")])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let echo = reply.json();
    assert_eq!(echo["path"], "/backend/7");
    assert_eq!(echo["query"], "keep=1&stage=prod");
    assert_eq!(echo["headers"]["x-item"], "item-7");
    assert_eq!(echo["headers"]["x-caller"], "ada");
    assert!(echo["headers"].get("x-user").is_none(), "{echo}");
    // The request path without the stage.
    assert_eq!(echo["headers"]["x-whole-path"], "/items/7");
    assert_eq!(reply.headers["x-backend-path"], "/backend/7");
    assert_eq!(reply.headers["x-env"], "production");
    assert!(!reply.headers.contains_key("content-type"));

    // The backend's 404 becomes a 410 with the request id.
    let reply = client.get(&url("/prod/gone")).await;
    assert_eq!(reply.status, StatusCode::GONE);
    assert!(
        !reply.headers["x-request-id"].is_empty(),
        "{:?}",
        reply.headers
    );

    // A request without the mapped header is refused before the backend.
    let hits = backend.hits.load(Ordering::Relaxed);
    let reply = client.get(&url("/prod/items/7")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.text(), r#"{"message":"Bad Request"}"#);
    assert_eq!(backend.hits.load(Ordering::Relaxed), hits);
    server.shutdown().await;
}
