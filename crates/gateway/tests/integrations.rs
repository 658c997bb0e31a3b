//! Integrations through the whole gateway, from OpenAPI documents: an HTTP
//! integration with templates and mappings, a Lambda proxy integration whose
//! function runs in process (registered with `Gateway::builder().function`), and a
//! Lambda (AWS) integration invoked over the Lambda Invoke API by the `gateway`
//! binary, which signs with credentials from its environment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use gateway_core::outbound::testing::TestCa;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use support::{HttpClient, Served, TempDir, start_backend, start_gateway, start_tls_backend};

const HTTP_API: &str = r#"openapi: 3.0.1
info: {title: Orders, version: "1"}
paths:
  /orders/{id}:
    post:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        "201": {description: created}
      x-amazon-apigateway-integration:
        type: http
        httpMethod: PUT
        uri: "http://BACKEND/store/{orderId}"
        passthroughBehavior: never
        requestParameters:
          integration.request.path.orderId: method.request.path.id
          integration.request.header.X-Stage: stageVariables.tier
          integration.request.querystring.source: "'gateway'"
        requestTemplates:
          application/json: |
            {"customer": "$input.path('$.customer')", "id": "$input.params('id')"}
        responses:
          "2\\d{2}":
            statusCode: "201"
            responseParameters:
              method.response.header.X-Backend: integration.response.body.backend
            responseTemplates:
              application/json: |
                {"stored": "$input.path('$.path')", "query": "$input.path('$.query')", "tier": "$input.path('$.headers.x-stage')"}
          default:
            statusCode: "502"
            responseTemplates:
              application/json: '{"error": "backend failed"}'
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_integration_maps_both_directions() {
    let backend = start_backend("store").await;
    let dir = TempDir::new();
    dir.write(
        "api.yaml",
        &HTTP_API.replace("BACKEND", &backend.addr.to_string()),
    );
    let config = dir.write(
        "gateway.yaml",
        "apis:\n  - name: orders\n    openapi: api.yaml\n    stages:\n      - name: prod\n        variables: {tier: gold}\n",
    );
    let (_gateway, server) = start_gateway(&config).await;
    let client = HttpClient::new();
    let url = format!("http://{}/prod/orders/42", server.addr);
    let reply = client
        .send(
            Method::POST,
            &url,
            &[("content-type", "application/json")],
            r#"{"customer": "ada"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.headers["x-backend"], "store");
    assert_eq!(
        reply.json(),
        serde_json::json!({"stored": "/store/42", "query": "source=gateway", "tier": "gold"})
    );

    // NEVER refuses a type without a template.
    let refused = client
        .send(Method::POST, &url, &[("content-type", "text/plain")], "x")
        .await;
    assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        refused.headers["x-amzn-errortype"],
        "UnsupportedMediaTypeException"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_backends_are_trusted_through_outbound_tls_settings() {
    let ca = TestCa::new().unwrap();
    let backend = start_tls_backend("secure", &ca.issue(&["localhost"]).unwrap()).await;
    let dir = TempDir::new();
    dir.write("ca.pem", &ca.pem());
    dir.write("other-ca.pem", &TestCa::new().unwrap().pem());
    dir.write(
        "api.yaml",
        &format!(
            r#"openapi: 3.0.1
info: {{title: Secure, version: "1"}}
paths:
  /{{proxy+}}:
    x-amazon-apigateway-any-method:
      parameters:
        - {{name: proxy, in: path, required: true, schema: {{type: string}}}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: "https://localhost:{port}/{{proxy}}"
"#,
            port = backend.addr.port()
        ),
    );
    let config_text = |ca_file: &str| {
        format!(
            "outbound_tls:\n  system_roots: false\n  ca_files: [{ca_file}]\napis:\n  - name: secure\n    openapi: api.yaml\n    stages:\n      - name: prod\n"
        )
    };
    let config = dir.write("gateway.yaml", &config_text("ca.pem"));
    let (gateway, server) = start_gateway(&config).await;
    let client = HttpClient::new();
    let url = format!("http://{}/prod/pets/1", server.addr);
    let reply = client.get(&url).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["backend"], "secure");
    assert_eq!(reply.json()["path"], "/pets/1");

    // Trusting another authority after a reload: the backend's certificate is
    // refused, as AWS refuses one, with a 500.
    dir.write("gateway.yaml", &config_text("other-ca.pem"));
    gateway.reload().unwrap();
    let reply = client.get(&url).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        reply.json(),
        serde_json::json!({"message": "Internal server error"})
    );
    assert_eq!(backend.hits.load(std::sync::atomic::Ordering::SeqCst), 1);

    // A CA file that is missing or not PEM is a configuration error naming it.
    dir.write("gateway.yaml", &config_text("missing.pem"));
    let err = gateway.reload().unwrap_err().to_string();
    assert!(
        err.contains("outbound_tls.ca_files[0]") && err.contains("missing.pem"),
        "{err}"
    );
    dir.write("junk.pem", "not a certificate");
    dir.write("gateway.yaml", &config_text("junk.pem"));
    let err = gateway.reload().unwrap_err().to_string();
    assert!(
        err.contains("outbound_tls.ca_files[0]") && err.contains("junk.pem"),
        "{err}"
    );
    // The failed reloads left the previous configuration serving.
    assert_eq!(
        client.get(&url).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

const LAMBDA_API: &str = r#"openapi: 3.0.1
info: {title: Greeter, version: "1"}
paths:
  /hello/{name}:
    get:
      parameters:
        - {name: name, in: path, required: true, schema: {type: string}}
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: aws
        httpMethod: POST
        uri: "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:greeter:${stageVariables.alias}/invocations"
        requestTemplates:
          application/json: '{"name": "$input.params(''name'')"}'
        responses:
          default:
            statusCode: "200"
            responseTemplates:
              application/json: '{"greeting": "$input.path(''$.message'')"}'
          "Unknown.*":
            statusCode: "404"
            responseTemplates:
              application/json: '{"error": "$input.path(''$.errorMessage'')"}'
"#;

/// What the Lambda Invoke API test server saw: path, query, authorization, body.
type Seen = Arc<Mutex<Vec<(String, String, String, String)>>>;

/// A Lambda Invoke API on 127.0.0.1: greets `name`, or fails for `nobody`.
async fn invoke_api() -> (std::net::SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    let addr = support::serve(move |req: Request<Incoming>| {
        let record = Arc::clone(&record);
        async move {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            let payload: serde_json::Value = serde_json::from_slice(&body).unwrap();
            record.lock().unwrap().push((
                parts.uri.path().to_owned(),
                parts.uri.query().unwrap_or("").to_owned(),
                parts.headers["authorization"].to_str().unwrap().to_owned(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
            let name = payload["name"].as_str().unwrap_or("");
            let mut response = if name == "nobody" {
                let mut r = Response::new(Full::new(Bytes::from(
                    r#"{"errorMessage": "Unknown person: nobody", "errorType": "Error"}"#,
                )));
                r.headers_mut()
                    .insert("x-amz-function-error", "Unhandled".parse().unwrap());
                r
            } else {
                Response::new(Full::new(Bytes::from(
                    serde_json::json!({"message": format!("Hello, {name}!")}).to_string(),
                )))
            };
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            Ok::<_, Infallible>(response)
        }
    })
    .await;
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_invokes_lambda_functions_with_signed_requests() {
    let (lambda, seen) = invoke_api().await;
    let dir = TempDir::new();
    dir.write("api.yaml", LAMBDA_API);
    let config = dir.write(
        "gateway.yaml",
        &format!(
            "aws:\n  endpoints:\n    lambda: http://{lambda}\napis:\n  - name: greeter\n    openapi: api.yaml\n    stages:\n      - name: prod\n        variables: {{alias: live}}\n"
        ),
    );
    let served = Served::start(&config, &dir.0);
    let addr = served.addr.clone();

    let client = HttpClient::new();
    let reply = client.get(&format!("http://{addr}/prod/hello/ada")).await;
    let missing = client
        .get(&format!("http://{addr}/prod/hello/nobody"))
        .await;
    drop(served);

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json(), serde_json::json!({"greeting": "Hello, ada!"}));
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text());
    assert_eq!(
        missing.json(),
        serde_json::json!({"error": "Unknown person: nobody"})
    );

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let (path, query, authorization, body) = &seen[0];
    assert_eq!(
        path,
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Agreeter/invocations"
    );
    assert_eq!(query, "Qualifier=live");
    // Signed with the environment's key for Lambda in the function's region.
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDGATEWAYTEST/"),
        "{authorization}"
    );
    assert!(
        authorization.contains("/eu-west-1/lambda/aws4_request"),
        "{authorization}"
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(body).unwrap(),
        serde_json::json!({"name": "ada"})
    );
}

const PROXY_API: &str = r#"openapi: 3.0.1
info: {title: Proxy, version: "1"}
paths:
  /pets/{petId}:
    get:
      parameters:
        - {name: petId, in: path, required: true, schema: {type: string}}
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:pets/invocations"
"#;

/// A function over the 1.0 event types of `aws_lambda_events`, as a Rust Lambda
/// handler is written.
async fn pets(
    event: aws_lambda_events::apigw::ApiGatewayProxyRequest,
) -> Result<aws_lambda_events::apigw::ApiGatewayProxyResponse, Infallible> {
    let body = serde_json::json!({
        "pet": event.path_parameters.get("petId"),
        "stage": event.request_context.stage,
        "tier": event.stage_variables.get("tier"),
        "resource": event.resource,
        "q": event.query_string_parameters.first("q"),
    });
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("x-handled-by", "pets".parse().unwrap());
    let mut response = aws_lambda_events::apigw::ApiGatewayProxyResponse::default();
    response.status_code = 203;
    response.headers = headers;
    response.body = Some(aws_lambda_events::encodings::Body::Text(body.to_string()));
    Ok(response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lambda_proxy_function_runs_in_process() {
    let dir = TempDir::new();
    dir.write("api.yaml", PROXY_API);
    let config = dir.write(
        "gateway.yaml",
        "apis:\n  - name: pets\n    openapi: api.yaml\n    stages:\n      - name: prod\n        variables: {tier: gold}\n",
    );
    let function = gateway_integrations::lambda::InProcessFunction::new(tower::service_fn(pets));
    let (gateway, _) = gateway::Gateway::builder()
        .function("pets", function.shared())
        .from_config_file(&config)
        .unwrap();
    let server = gateway::server::serve(&gateway, "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let client = HttpClient::new();
    let reply = client
        .get(&format!("http://{}/prod/pets/7?q=fluffy", server.addr))
        .await;
    assert_eq!(reply.status.as_u16(), 203, "{}", reply.text());
    assert_eq!(reply.headers["x-handled-by"], "pets");
    assert_eq!(
        reply.json(),
        serde_json::json!({"pet": "7", "stage": "prod", "tier": "gold", "resource": "/pets/{petId}", "q": "fluffy"})
    );
    server.shutdown().await;
}

#[path = "../../gateway-integrations/tests/moto/mod.rs"]
mod moto;

const ROLE_AUTHORIZER_API: &str = r#"openapi: 3.0.1
info: {title: Roles, version: "1"}
components:
  securitySchemes:
    as-role:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:as-role/invocations
        authorizerCredentials: "arn:aws:iam::123456789012:role/${stageVariables.authRole}"
        authorizerResultTtlInSeconds: 0
    own-key:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:own-key/invocations
        authorizerResultTtlInSeconds: 0
paths:
  /role:
    get:
      security: [{as-role: []}]
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {application/json: '{"statusCode": 200}'}
        responses: {default: {statusCode: "200", responseTemplates: {application/json: '{"principal": "$context.authorizer.principalId"}'}}}
  /own:
    get:
      security: [{own-key: []}]
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {application/json: '{"statusCode": 200}'}
        responses: {default: {statusCode: "200", responseTemplates: {application/json: '{"principal": "$context.authorizer.principalId"}'}}}
"#;

/// A Lambda Invoke API answering every authorizer call with an Allow policy for
/// the token `allow`, recording the function called and the access key (and
/// whether a session token came with it) that signed the call.
async fn authorizer_api() -> (
    std::net::SocketAddr,
    Arc<Mutex<Vec<(String, String, bool)>>>,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let addr = support::serve(move |req: Request<Incoming>| {
        let log = Arc::clone(&log);
        async move {
            let key = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|auth| auth.split("Credential=").nth(1))
                .and_then(|credential| credential.split('/').next())
                .unwrap_or_default()
                .to_owned();
            let token = req.headers().contains_key("x-amz-security-token");
            let function = req.uri().path().to_owned();
            let event: serde_json::Value = serde_json::from_slice(
                &req.into_body().collect().await.unwrap().to_bytes(),
            )
            .unwrap();
            log.lock().unwrap().push((function, key, token));
            let effect = if event["authorizationToken"] == "allow" {
                "Allow"
            } else {
                "Deny"
            };
            let policy = serde_json::json!({
                "principalId": "caller",
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]},
            });
            let mut response =
                Response::new(Full::new(Bytes::from(policy.to_string())));
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            Ok::<_, Infallible>(response)
        }
    })
    .await;
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_authorizers_invoke_their_function_as_the_authorizer_credentials_role() {
    let moto = moto::Moto::start();
    let (lambda, seen) = authorizer_api().await;
    let dir = TempDir::new();
    dir.write("api.yaml", ROLE_AUTHORIZER_API);
    let config = dir.write(
        "gateway.yaml",
        &format!(
            "aws:\n  endpoints:\n    lambda: http://{lambda}\n    sts: http://{sts}\napis:\n  - name: roles\n    openapi: api.yaml\n    stages:\n      - name: prod\n        variables: {{authRole: authorizer-invoker}}\n",
            sts = moto.addr()
        ),
    );
    let served = Served::start(&config, &dir.0);
    let addr = served.addr.clone();

    let client = HttpClient::new();
    let url = |path: &str| format!("http://{addr}{path}");
    let as_role = client
        .get_with(&url("/prod/role"), &[("authorization", "allow")])
        .await;
    let denied = client
        .get_with(&url("/prod/role"), &[("authorization", "deny")])
        .await;
    let own = client
        .get_with(&url("/prod/own"), &[("authorization", "allow")])
        .await;
    drop(served);

    assert_eq!(as_role.status, StatusCode::OK, "{}", as_role.text());
    assert_eq!(as_role.json(), serde_json::json!({"principal": "caller"}));
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text());
    assert_eq!(own.status, StatusCode::OK, "{}", own.text());

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let (function, key, token) = &seen[0];
    assert!(function.contains("function%3Aas-role"), "{function}");
    // Temporary credentials moto's STS issued for the role, with their session token.
    assert_ne!(key, "AKIDGATEWAYTEST");
    assert!(key.starts_with("ASIA"), "{key}");
    assert!(*token);
    // The same role's credentials again, not a second AssumeRole.
    assert_eq!(&seen[1].1, key);
    // The authorizer without credentials signs with the gateway's own key.
    let (function, key, token) = &seen[2];
    assert!(function.contains("function%3Aown-key"), "{function}");
    assert_eq!(key, "AKIDGATEWAYTEST");
    assert!(!*token);
}
