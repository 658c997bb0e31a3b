//! End-to-end tests: a real gateway on 127.0.0.1, real backends, a real client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{Method, StatusCode};
use support::{HttpClient, TempDir, mock_api, start_backend, start_gateway};

const PROXY_PATHS: &str = r#"  /pets:
    get:
      parameters:
        - {name: type, in: query, schema: {type: string}}
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://${stageVariables.backend}/pets"
  /pets/{petId}:
    get:
      parameters:
        - {name: petId, in: path, required: true, schema: {type: string}}
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://${stageVariables.backend}/pets/{petId}"
        requestParameters:
          integration.request.path.petId: method.request.path.petId
  /slow:
    get:
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://${stageVariables.backend}/hang"
        timeoutInMillis: 200
  /upload:
    post:
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: POST
        uri: "http://${stageVariables.backend}/upload"
  /files/{proxy+}:
    x-amazon-apigateway-any-method:
      parameters:
        - {name: proxy, in: path, required: true, schema: {type: string}}
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        uri: "http://${stageVariables.backend}/store/{proxy}"
        requestParameters:
          integration.request.path.proxy: method.request.path.proxy
"#;

struct Fixture {
    _dir: TempDir,
    gateway: gateway::Gateway,
    server: gateway::server::ServerHandle,
    client: HttpClient,
    dir_path: std::path::PathBuf,
}

impl Fixture {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr)
    }

    fn admin(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.admin_addr.unwrap())
    }
}

async fn fixture(config: &str, files: &[(&str, &str)]) -> Fixture {
    let dir = TempDir::new();
    for (name, text) in files {
        dir.write(name, text);
    }
    let config_path = dir.write("gateway.yaml", config);
    let (gateway, server) = start_gateway(&config_path).await;
    let dir_path = dir.0.clone();
    Fixture {
        _dir: dir,
        gateway,
        server,
        client: HttpClient::new(),
        dir_path,
    }
}

fn config_for(backend: std::net::SocketAddr, extra: &str) -> String {
    format!(
        "apis:\n  - name: pets\n    id: petsapi001\n    openapi: api.yaml\n    stages:\n      - name: prod\n        variables:\n          backend: \"{backend}\"\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_path_parameters_and_stage_variables_reach_the_backend() {
    let backend = start_backend("blue").await;
    let api = mock_api("Pets", r#"{"version": "v1"}"#, PROXY_PATHS);
    let f = fixture(&config_for(backend.addr, ""), &[("api.yaml", &api)]).await;

    let reply = f.client.get(&f.url("/prod/version")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["version"], "v1");
    assert!(reply.headers.contains_key("x-amzn-requestid"));
    assert!(reply.headers.contains_key("x-amz-apigw-id"));

    let reply = f.client.get(&f.url("/prod/pets?type=dog&page=2")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let echo = reply.json();
    assert_eq!(echo["backend"], "blue");
    assert_eq!(echo["path"], "/pets");
    assert_eq!(echo["query"], "type=dog&page=2");
    assert!(
        echo["headers"]["x-amzn-trace-id"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-")
    );

    let reply = f.client.get(&f.url("/prod/pets/42")).await;
    assert_eq!(reply.json()["path"], "/pets/42");

    let reply = f.client.get(&f.url("/prod/pets/a%20b")).await;
    assert_eq!(reply.json()["path"], "/pets/a%20b");

    let reply = f
        .client
        .send(
            Method::DELETE,
            &f.url("/prod/files/docs/readme.txt"),
            &[],
            Bytes::new(),
        )
        .await;
    let echo = reply.json();
    assert_eq!(echo["method"], "DELETE");
    assert_eq!(echo["path"], "/store/docs/readme.txt");
    assert!(backend.hits.load(Ordering::Relaxed) >= 4);
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_methods_and_stages_get_aws_errors() {
    let backend = start_backend("blue").await;
    let api = mock_api("Pets", r#"{"version": "v1"}"#, PROXY_PATHS);
    let f = fixture(&config_for(backend.addr, ""), &[("api.yaml", &api)]).await;

    for (method, path) in [
        (Method::GET, "/prod/nothing/here"),
        (Method::POST, "/prod/version"),
        (Method::GET, "/prod/"),
    ] {
        let reply = f.client.send(method, &f.url(path), &[], Bytes::new()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            reply.text(),
            r#"{"message":"Missing Authentication Token"}"#
        );
        assert_eq!(
            reply.headers["x-amzn-errortype"],
            "MissingAuthenticationTokenException"
        );
        assert_eq!(reply.headers["content-type"], "application/json");
    }
    let reply = f.client.get(&f.url("/staging/version")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.text(), r#"{"message":"Forbidden"}"#);
    assert_eq!(reply.headers["x-amzn-errortype"], "ForbiddenException");
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_apis_answer_404_and_serve_the_default_stage() {
    let api = r#"{
  "openapi": "3.0.1",
  "info": {"title": "Http", "version": "1"},
  "x-amazon-apigateway-importexport-version": "1.0",
  "paths": {
    "/hello": {"get": {"responses": {"default": {"description": "ok"}},
      "x-amazon-apigateway-integration": {"type": "mock", "requestTemplates": {"application/json": "{\"statusCode\": 200}"},
        "responses": {"default": {"statusCode": "200", "responseTemplates": {"application/json": "{\"hello\": true}"}}}}}}
  }
}"#;
    let config =
        "apis:\n  - name: web\n    openapi: api.json\n    stages:\n      - name: $default\n";
    let f = fixture(config, &[("api.json", api)]).await;
    let reply = f.client.get(&f.url("/hello")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["hello"], true);
    assert!(reply.headers.contains_key("apigw-requestid"));
    let reply = f.client.get(&f.url("/nope")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.text(), r#"{"message":"Not Found"}"#);
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_takes_its_share_and_can_be_forced() {
    let blue = start_backend("blue").await;
    let green = start_backend("green").await;
    let api = mock_api("Pets", r#"{"version": "v1"}"#, PROXY_PATHS);
    let canary = format!(
        "        canary:\n          percent: 20\n          override_header: x-canary\n          variables:\n            backend: \"{}\"\n",
        green.addr
    );
    let f = fixture(&config_for(blue.addr, &canary), &[("api.yaml", &api)]).await;

    let total = 1_000;
    let mut to_green = 0;
    for _ in 0..total {
        let reply = f.client.get(&f.url("/prod/pets")).await;
        assert_eq!(reply.status, StatusCode::OK);
        if reply.json()["backend"] == "green" {
            to_green += 1;
        }
    }
    // 20% of 1000: the binomial standard deviation is about 12.6; allow 4 sigma.
    assert!(
        (150..=250).contains(&to_green),
        "canary got {to_green} of {total}"
    );

    for _ in 0..20 {
        let forced = f
            .client
            .get_with(&f.url("/prod/pets"), &[("x-canary", "canary")])
            .await;
        assert_eq!(forced.json()["backend"], "green");
        let base = f
            .client
            .get_with(&f.url("/prod/pets"), &[("x-canary", "base")])
            .await;
        assert_eq!(base.json()["backend"], "blue");
    }

    // Promotion: the canary's variables become the stage's; no canary remains.
    let promoted = f
        .client
        .post(&f.admin("/admin/apis/pets/stages/prod/canary/promote"))
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.text());
    for _ in 0..20 {
        let reply = f
            .client
            .get_with(&f.url("/prod/pets"), &[("x-canary", "base")])
            .await;
        assert_eq!(reply.json()["backend"], "green");
    }
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_canary_document_is_deployed_on_reload() {
    let backend = start_backend("blue").await;
    let base = mock_api("Pets", r#"{"version": "base"}"#, "");
    let canary_v1 = mock_api("Pets", r#"{"version": "canary-1"}"#, "");
    let canary_v2 = mock_api("Pets", r#"{"version": "canary-2"}"#, "");
    let canary = "        canary:\n          percent: 0\n          override_header: x-canary\n          openapi: canary.yaml\n";
    let f = fixture(
        &config_for(backend.addr, canary),
        &[("api.yaml", &base), ("canary.yaml", &canary_v1)],
    )
    .await;
    let version = |variant: &'static str| {
        let client = f.client.clone();
        let url = f.url("/prod/version");
        async move { client.get_with(&url, &[("x-canary", variant)]).await.json()["version"].clone() }
    };
    assert_eq!(version("canary").await, "canary-1");
    assert_eq!(version("base").await, "base");

    // Only the canary's document changes: the stage's canary settings do not.
    std::fs::write(f.dir_path.join("canary.yaml"), &canary_v2).unwrap();
    let reload = f.client.post(&f.admin("/admin/reload")).await;
    assert_eq!(reload.status, StatusCode::OK, "{}", reload.text());
    assert_eq!(version("canary").await, "canary-2");
    assert_eq!(version("base").await, "base");

    // Nothing changed: a promotion made through the admin API stays.
    let promoted = f
        .client
        .post(&f.admin("/admin/apis/pets/stages/prod/canary/promote"))
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.text());
    let reload = f.client.post(&f.admin("/admin/reload")).await;
    assert_eq!(reload.status, StatusCode::OK, "{}", reload.text());
    assert_eq!(version("base").await, "canary-2");
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeploy_then_rollback_restores_the_previous_deployment() {
    let backend = start_backend("blue").await;
    let v1 = mock_api("Pets", r#"{"version": "v1"}"#, "");
    let v2 = mock_api("Pets", r#"{"version": "v2"}"#, "");
    let f = fixture(&config_for(backend.addr, ""), &[("api.yaml", &v1)]).await;
    assert_eq!(
        f.client.get(&f.url("/prod/version")).await.json()["version"],
        "v1"
    );

    std::fs::write(f.dir_path.join("api.yaml"), &v2).unwrap();
    let reload = f.client.post(&f.admin("/admin/reload")).await;
    assert_eq!(reload.status, StatusCode::OK, "{}", reload.text());
    assert_eq!(reload.json()["redeployed"][0], "pets/prod");
    assert_eq!(
        f.client.get(&f.url("/prod/version")).await.json()["version"],
        "v2"
    );

    let described = f.client.get(&f.admin("/admin/apis")).await.json();
    assert_eq!(
        described["apis"][0]["stages"][0]["history"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let rollback = f
        .client
        .post(&f.admin("/admin/apis/pets/stages/prod/rollback"))
        .await;
    assert_eq!(rollback.status, StatusCode::OK, "{}", rollback.text());
    assert_eq!(
        f.client.get(&f.url("/prod/version")).await.json()["version"],
        "v1"
    );

    // A reload of an unchanged document keeps the rolled-back deployment.
    let reload = f.client.post(&f.admin("/admin/reload")).await;
    assert_eq!(reload.status, StatusCode::OK);
    assert_eq!(
        f.client.get(&f.url("/prod/version")).await.json()["version"],
        "v1"
    );

    // Nothing left to roll back to.
    let again = f
        .client
        .post(&f.admin("/admin/apis/pets/stages/prod/rollback"))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_reload_keeps_serving_the_previous_configuration() {
    let backend = start_backend("blue").await;
    let v1 = mock_api("Pets", r#"{"version": "v1"}"#, "");
    let f = fixture(&config_for(backend.addr, ""), &[("api.yaml", &v1)]).await;
    std::fs::write(
        f.dir_path.join("api.yaml"),
        "openapi: 3.0.1\npaths: [not a map\n",
    )
    .unwrap();
    let reload = f.client.post(&f.admin("/admin/reload")).await;
    assert_eq!(reload.status, StatusCode::BAD_REQUEST);
    assert!(
        reload.json()["message"]
            .as_str()
            .unwrap()
            .contains("api.yaml"),
        "{}",
        reload.text()
    );
    assert_eq!(
        f.client.get(&f.url("/prod/version")).await.json()["version"],
        "v1"
    );
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_backends_time_out_with_504() {
    let backend = start_backend("blue").await;
    let api = mock_api("Pets", r#"{"version": "v1"}"#, PROXY_PATHS);
    let f = fixture(&config_for(backend.addr, ""), &[("api.yaml", &api)]).await;
    let reply = f.client.get(&f.url("/prod/slow")).await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(reply.json()["message"], "Endpoint request timed out");
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_requests_get_413() {
    let backend = start_backend("blue").await;
    let api = mock_api("Pets", r#"{"version": "v1"}"#, PROXY_PATHS);
    let f = fixture(&config_for(backend.addr, ""), &[("api.yaml", &api)]).await;
    let big = vec![b'x'; 10 * 1024 * 1024 + 1];
    let reply = f
        .client
        .send(Method::POST, &f.url("/prod/upload"), &[], big)
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.text(), r#"{"message":"Request Too Long"}"#);
    let fits = vec![b'x'; 1024 * 1024];
    let reply = f
        .client
        .send(Method::POST, &f.url("/prod/upload"), &[], fits)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["bodyLength"], 1024 * 1024);
    let header = "h".repeat(11_000);
    let reply = f
        .client
        .get_with(&f.url("/prod/version"), &[("x-big", &header)])
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_and_errors_per_method() {
    let backend = start_backend("blue").await;
    let api = mock_api("Pets", r#"{"version": "v1"}"#, PROXY_PATHS);
    let f = fixture(&config_for(backend.addr, ""), &[("api.yaml", &api)]).await;
    for _ in 0..3 {
        f.client.get(&f.url("/prod/version")).await;
    }
    for _ in 0..2 {
        f.client.get(&f.url("/prod/missing")).await;
    }
    f.client.get(&f.url("/prod/slow")).await;
    let metrics = f.client.get(&f.admin("/metrics")).await.text();
    let value = |name: &str, resource: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && l.contains(&format!("resource=\"{resource}\"")))
            .unwrap_or_else(|| panic!("no {name} for {resource} in\n{metrics}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(value("apigateway_count_total", "/version"), 3);
    assert_eq!(value("apigateway_4xx_errors_total", "-"), 2);
    assert_eq!(value("apigateway_5xx_errors_total", "/slow"), 1);
    assert_eq!(
        value("apigateway_latency_milliseconds_count", "/version"),
        3
    );
    assert_eq!(
        value("apigateway_integration_latency_milliseconds_count", "/slow"),
        1
    );
    assert!(metrics.contains("api=\"petsapi001\""));
    assert!(metrics.contains("stage=\"prod\""));
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_has_one_json_line_per_request() {
    let backend = start_backend("blue").await;
    let api = mock_api("Pets", r#"{"version": "v1"}"#, PROXY_PATHS);
    let log = "access_log:\n  destination: access.log\n  format: '{\"requestId\":\"$context.requestId\",\"status\":\"$context.status\",\"path\":\"$context.path\",\"resource\":\"$context.resourcePath\",\"ip\":\"$context.identity.sourceIp\",\"ua\":\"$context.identity.userAgent\"}'\n";
    let config = format!("{log}{}", config_for(backend.addr, ""));
    let f = fixture(&config, &[("api.yaml", &api)]).await;
    let mut ids = Vec::new();
    for path in ["/prod/version", "/prod/pets/7", "/prod/nope"] {
        let reply = f
            .client
            .get_with(&f.url(path), &[("user-agent", "tester \"1\"")])
            .await;
        ids.push(
            reply.headers["x-amzn-requestid"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    let gateway = f.gateway.clone();
    tokio::task::spawn_blocking(move || gateway.flush_access_logs())
        .await
        .unwrap();
    let text = std::fs::read_to_string(f.dir_path.join("access.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (entry, id) in parsed.iter().zip(&ids) {
        assert_eq!(entry["requestId"], id.as_str());
        assert_eq!(entry["ip"], "127.0.0.1");
        assert_eq!(entry["ua"], "tester \"1\"");
    }
    assert_eq!(parsed[1]["resource"], "/pets/{petId}");
    assert_eq!(parsed[1]["path"], "/prod/pets/7");
    assert_eq!(parsed[2]["status"], "403");
    assert_eq!(parsed[2]["resource"], "-");
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_drops_no_request() {
    let backend = start_backend("blue").await;
    let v1 = mock_api("Pets", r#"{"version": "v1"}"#, PROXY_PATHS);
    let v2 = mock_api("Pets", r#"{"version": "v2"}"#, PROXY_PATHS);
    let f = Arc::new(fixture(&config_for(backend.addr, ""), &[("api.yaml", &v1)]).await);
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let f = Arc::clone(&f);
        let stop = Arc::clone(&stop);
        workers.push(tokio::spawn(async move {
            let client = HttpClient::new();
            let mut seen = std::collections::BTreeSet::new();
            let mut count = 0;
            while !stop.load(Ordering::Relaxed) && count < 2_000 {
                let reply = client.get(&f.url("/prod/version")).await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
                seen.insert(reply.json()["version"].as_str().unwrap().to_owned());
                let reply = client.get(&f.url("/prod/pets/1")).await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
                count += 1;
            }
            (count, seen)
        }));
    }
    for i in 0..10 {
        let text = if i % 2 == 0 { &v2 } else { &v1 };
        std::fs::write(f.dir_path.join("api.yaml"), text).unwrap();
        let gateway = f.gateway.clone();
        tokio::task::spawn_blocking(move || gateway.reload().unwrap())
            .await
            .unwrap();
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut versions = std::collections::BTreeSet::new();
    for w in workers {
        let (count, seen) = w.await.unwrap();
        assert!(count > 0);
        versions.extend(seen);
    }
    assert!(versions.contains("v1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_domains_map_base_paths_to_stages() {
    let backend = start_backend("blue").await;
    let api = mock_api("Pets", r#"{"version": "v1"}"#, PROXY_PATHS);
    let domains = "domains:\n  - name: api.example.test\n    mappings:\n      - {base_path: v1, api: pets, stage: prod}\n  - name: root.example.test\n    mappings:\n      - {api: pets, stage: prod}\n";
    let config = format!("{}{domains}", config_for(backend.addr, ""));
    let f = fixture(&config, &[("api.yaml", &api)]).await;
    let reply = f
        .client
        .get_with(&f.url("/v1/version"), &[("host", "api.example.test")])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["version"], "v1");
    let reply = f
        .client
        .get_with(&f.url("/v2/version"), &[("host", "api.example.test")])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = f
        .client
        .get_with(&f.url("/pets/5"), &[("host", "root.example.test:443")])
        .await;
    assert_eq!(reply.json()["path"], "/pets/5");
    // The execute-api host form picks the API by id.
    let reply = f
        .client
        .get_with(
            &f.url("/prod/version"),
            &[("host", "petsapi001.execute-api.localhost")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customised_gateway_responses_apply() {
    let api = format!(
        "{}x-amazon-apigateway-gateway-responses:\n  MISSING_AUTHENTICATION_TOKEN:\n    statusCode: 404\n    responseParameters:\n      gatewayresponse.header.x-stage: stageVariables.env\n      gatewayresponse.header.x-probe: method.request.header.x-probe\n    responseTemplates:\n      application/json: '{{\"error\": $context.error.messageString, \"stage\": \"$context.stage\"}}'\n",
        mock_api("Pets", r#"{"version": "v1"}"#, "")
    );
    let config = "apis:\n  - name: pets\n    openapi: api.yaml\n    stages:\n      - name: prod\n        variables: {env: production}\n";
    let f = fixture(config, &[("api.yaml", &api)]).await;
    let reply = f
        .client
        .get_with(&f.url("/prod/missing"), &[("x-probe", "p1")])
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.headers["x-stage"], "production");
    assert_eq!(reply.headers["x-probe"], "p1");
    assert_eq!(
        reply.headers["x-amzn-errortype"],
        "MissingAuthenticationTokenException"
    );
    assert_eq!(
        reply.json(),
        serde_json::json!({"error": "Missing Authentication Token", "stage": "prod"})
    );
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_clients_are_served() {
    let api = mock_api("Pets", r#"{"version": "v1"}"#, "");
    let config = "apis:\n  - name: pets\n    openapi: api.yaml\n    stages:\n      - name: prod\n";
    let f = fixture(config, &[("api.yaml", &api)]).await;
    let reply = HttpClient::h2c().get(&f.url("/prod/version")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["version"], "v1");
    f.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_routes_without_an_invoker_answer_500_or_fail_strict_loads() {
    let lambda = r#"  /fn:
    post:
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:f/invocations"
"#;
    let api = mock_api("Pets", r#"{"version": "v1"}"#, lambda);
    let config = "apis:\n  - name: pets\n    openapi: api.yaml\n    stages:\n      - name: prod\n";
    let f = fixture(config, &[("api.yaml", &api)]).await;
    let reply = f.client.post(&f.url("/prod/fn")).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.text(), r#"{"message":"Internal server error"}"#);
    assert_eq!(
        reply.headers["x-amzn-errortype"],
        "InternalServerErrorException"
    );
    assert_eq!(
        f.client.get(&f.url("/prod/version")).await.status,
        StatusCode::OK
    );
    f.server.shutdown().await;

    let dir = TempDir::new();
    dir.write("api.yaml", &api);
    let strict = dir.write("gateway.yaml", &format!("strict: true\n{config}"));
    let err = gateway::Gateway::from_config_file(&strict)
        .unwrap_err()
        .to_string();
    assert!(err.contains("POST /fn"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_credentials_answer_500_or_fail_strict_loads() {
    // AWS's "call with the caller's credentials": the gateway never holds the
    // caller's secret key, so it cannot sign as the caller.
    let s3 = r#"  /objects/{key}:
    get:
      parameters: [{name: key, in: path, required: true, schema: {type: string}}]
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: aws
        httpMethod: GET
        uri: "arn:aws:apigateway:us-east-1:s3:path/bucket/{key}"
        credentials: "arn:aws:iam::*:user/*"
        requestParameters:
          integration.request.path.key: method.request.path.key
        responses: {default: {statusCode: "200"}}
"#;
    let api = mock_api("Pets", r#"{"version": "v1"}"#, s3);
    let config = "apis:\n  - name: pets\n    openapi: api.yaml\n    stages:\n      - name: prod\n";
    let f = fixture(config, &[("api.yaml", &api)]).await;
    let reply = f.client.get(&f.url("/prod/objects/a.txt")).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.text(), r#"{"message":"Internal server error"}"#);
    assert_eq!(
        f.client.get(&f.url("/prod/version")).await.status,
        StatusCode::OK
    );
    f.server.shutdown().await;

    let dir = TempDir::new();
    dir.write("api.yaml", &api);
    let strict = dir.write("gateway.yaml", &format!("strict: true\n{config}"));
    let err = gateway::Gateway::from_config_file(&strict)
        .unwrap_err()
        .to_string();
    assert!(err.contains("GET /objects/{key}"), "{err}");
    assert!(err.contains("credentials"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_uploads_over_the_limit_get_413() {
    let backend = start_backend("blue").await;
    let api = mock_api("Pets", r#"{"version": "v1"}"#, PROXY_PATHS);
    let config = format!(
        "limits:\n  max_payload_bytes: 1000\n{}",
        config_for(backend.addr, "")
    );
    let f = fixture(&config, &[("api.yaml", &api)]).await;
    let small = vec![Bytes::from(vec![b'a'; 400]), Bytes::from(vec![b'b'; 400])];
    let reply = f.client.send_chunked(&f.url("/prod/upload"), small).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["bodyLength"], 800);
    let large = vec![Bytes::from(vec![b'a'; 600]), Bytes::from(vec![b'b'; 600])];
    let reply = f.client.send_chunked(&f.url("/prod/upload"), large).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text()
    );
    assert_eq!(reply.text(), r#"{"message":"Request Too Long"}"#);
    f.server.shutdown().await;
}

const VTL_PATHS: &str = r#"  /greet/{name}:
    get:
      parameters:
        - {name: name, in: path, required: true, schema: {type: string}}
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: |
            #if($input.params('name') == 'nobody')
            {"statusCode": 404}
            #else
            {"statusCode": 200}
            #end
        responses:
          "404":
            statusCode: "404"
            responseTemplates:
              application/json: '{"message": "no $input.params(''name'') here"}'
          default:
            statusCode: "200"
            responseTemplates:
              application/json: |
                #set($context.responseOverride.header.X-Greeted = $input.params('name'))
                {"hello": "$input.params('name')", "stage": "$context.stage", "requestId": "$context.requestId", "env": "$stageVariables.env"}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vtl_mapping_templates_render_end_to_end() {
    let api = mock_api("Greeter", r#"{"version": "v1"}"#, VTL_PATHS);
    let config = "apis:\n  - name: greet\n    openapi: api.yaml\n    stages:\n      - name: prod\n        variables: {env: production}\n";
    let f = fixture(config, &[("api.yaml", &api)]).await;
    let reply = f.client.get(&f.url("/prod/greet/ann")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.headers["x-greeted"], "ann");
    let body = reply.json();
    assert_eq!(body["hello"], "ann");
    assert_eq!(body["stage"], "prod");
    assert_eq!(body["env"], "production");
    assert_eq!(
        body["requestId"],
        reply.headers["x-amzn-requestid"].to_str().unwrap()
    );
    let reply = f.client.get(&f.url("/prod/greet/nobody")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.json(),
        serde_json::json!({"message": "no nobody here"})
    );
    f.server.shutdown().await;

    // A template that does not compile fails the deployment, naming where.
    let broken = VTL_PATHS.replace("#end\n        responses:", "\n        responses:");
    let dir = TempDir::new();
    dir.write(
        "api.yaml",
        &mock_api("Greeter", r#"{"version": "v1"}"#, &broken),
    );
    let path = dir.write("gateway.yaml", config);
    let err = gateway::Gateway::from_config_file(&path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("GET /greet/{name}"), "{err}");
    assert!(err.contains("requestTemplates.application/json"), "{err}");
    assert!(err.contains("line 1, column 1"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_requests_in_flight_finish_and_closes_idle_connections() {
    use std::convert::Infallible;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::Notify;

    // A backend that holds each request until the test releases it.
    let arrived = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let backend = support::serve({
        let (arrived, release) = (Arc::clone(&arrived), Arc::clone(&release));
        move |_req| {
            let (arrived, release) = (Arc::clone(&arrived), Arc::clone(&release));
            async move {
                arrived.notify_one();
                release.notified().await;
                let body = http_body_util::Full::new(Bytes::from_static(b"finished"));
                Ok::<_, Infallible>(http::Response::new(body))
            }
        }
    })
    .await;
    let api = mock_api("Pets", r#"{"version": "v1"}"#, PROXY_PATHS);
    let f = fixture(&config_for(backend, ""), &[("api.yaml", &api)]).await;
    let addr = f.server.addr;

    // A keep-alive connection that has been answered once and is now idle.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /prod/version HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    while !String::from_utf8_lossy(&answer).contains("\"v1\"") {
        let mut chunk = [0_u8; 1024];
        let n = idle.read(&mut chunk).await.unwrap();
        assert_ne!(n, 0, "closed before answering");
        answer.extend_from_slice(&chunk[..n]);
    }

    // A request the backend is holding.
    let url = f.url("/prod/pets");
    let in_flight = tokio::spawn(async move { HttpClient::new().get(&url).await });
    arrived.notified().await;

    let shutdown = tokio::spawn(f.server.shutdown());
    let mut rest = [0_u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), idle.read(&mut rest))
        .await
        .expect("the idle connection is closed once shutdown starts");
    assert_eq!(
        read.unwrap(),
        0,
        "the idle connection ends without an answer"
    );
    assert!(!shutdown.is_finished(), "a request is still in flight");

    release.notify_one();
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "finished");
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .expect("shutdown ends once the last request is answered")
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
