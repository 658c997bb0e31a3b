//! Throttling, usage plans and quotas through the whole gateway, from the
//! configuration: a stage's method throttling, plans with per-key and per-method
//! throttles and quotas, the admin usage reports, reloads keeping the counters,
//! and several gateway nodes sharing one real `redis-server`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use gateway_throttle::{Clock, Day, ManualClock};
use http::{Method, StatusCode};
use serde_json::json;
use support::{HttpClient, Reply, TempDir, serve_with_admin};

/// A MOCK integration answering 200 with the caller's key id.
const MOCK: &str = r#"{type: mock, requestTemplates: {application/json: '{"statusCode": 200}'}, responses: {default: {statusCode: "200", responseTemplates: {application/json: '{"keyId": "$context.identity.apiKeyId"}'}}}}"#;

fn api() -> String {
    format!(
        r#"openapi: 3.0.1
info: {{title: Shop, version: "1"}}
components:
  securitySchemes:
    api_key: {{type: apiKey, name: x-api-key, in: header}}
paths:
  /open:
    get: {{responses: {{"200": {{description: ok}}}}, x-amazon-apigateway-integration: {MOCK}}}
  /orders:
    get:
      security: [{{api_key: []}}]
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration: {MOCK}
    post:
      security: [{{api_key: []}}]
      responses: {{"200": {{description: ok}}}}
      x-amazon-apigateway-integration: {MOCK}
"#
    )
}

const GOLD: &str = "gold-key-0123456789abcdef";
const FREE: &str = "free-key-0123456789abcdef";
const LONELY: &str = "lonely-key-0123456789abcdef";

fn config(dir: &TempDir, extra: &str) -> std::path::PathBuf {
    dir.write("api.yaml", &api());
    dir.write(
        "gateway.yaml",
        &format!(
            r#"{extra}
auth:
  api_keys:
    - {{id: k-gold, name: gold-client, value: {GOLD}}}
    - {{id: k-free, name: free-client, value: {FREE}}}
    - {{id: k-lonely, name: lonely, value: {LONELY}}}
usage_plans:
  - id: gold
    name: Gold
    api_stages:
      - api: shop
        stage: prod
        throttle: {{"/orders/POST": {{rate: 1, burst: 1}}}}
    throttle: {{rate: 100, burst: 100}}
    quota: {{limit: 5, period: DAY}}
    api_keys: [gold-client]
  - id: free
    name: Free
    api_stages: [{{api: shop, stage: prod}}]
    throttle: {{rate: 1, burst: 2}}
    api_keys: [free-client]
apis:
  - name: shop
    id: shop000001
    openapi: api.yaml
    stages:
      - name: prod
        throttling: {{"/open/GET": {{rate: 1, burst: 2}}}}
"#
        ),
    )
}

fn noon(day: &str) -> (Clock, ManualClock) {
    let day: Day = day.parse().unwrap();
    Clock::manual(Duration::from_secs(day.start_epoch_secs() + 12 * 3600))
}

fn assert_refused(reply: &Reply, status: StatusCode, message: &str, error_type: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.json(), json!({ "message": message }));
    assert_eq!(reply.headers["x-amzn-errortype"], error_type);
}

fn metric(text: &str, name: &str, level: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name) && l.contains(&format!("level=\"{level}\"")))
        .unwrap_or_else(|| panic!("{name} {level} missing in\n{text}"))
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_plans_and_quotas_apply_as_configured() {
    let dir = TempDir::new();
    let path = config(&dir, "");
    let (clock, time) = noon("2026-11-21");
    let (gateway, _) = gateway::Gateway::builder()
        .clock(clock)
        .from_config_file(&path)
        .unwrap();
    let server = serve_with_admin(&gateway).await;
    let base = format!("http://{}/prod", server.addr);
    let admin = format!("http://{}", server.admin_addr.unwrap());
    let client = HttpClient::new();
    let get = |path: &str, key: Option<&str>| {
        let (client, url) = (client.clone(), format!("{base}{path}"));
        let key = key.map(str::to_owned);
        async move {
            let headers: Vec<(&str, &str)> =
                key.iter().map(|k| ("x-api-key", k.as_str())).collect();
            client.send(Method::GET, &url, &headers, "").await
        }
    };

    // The stage's method throttling: burst 2, then 429 until a token returns.
    for _ in 0..2 {
        assert_eq!(get("/open", None).await.status, StatusCode::OK);
    }
    assert_refused(
        &get("/open", None).await,
        StatusCode::TOO_MANY_REQUESTS,
        "Too Many Requests",
        "TooManyRequestsException",
    );
    time.advance(Duration::from_secs(1));
    assert_eq!(get("/open", None).await.status, StatusCode::OK);

    // A key in no plan of the stage.
    assert_refused(
        &get("/orders", Some(LONELY)).await,
        StatusCode::FORBIDDEN,
        "Forbidden",
        "ForbiddenException",
    );

    // The free plan's per-key throttle; the gold key is not affected by it.
    for _ in 0..2 {
        let reply = get("/orders", Some(FREE)).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json()["keyId"], "k-free");
    }
    assert_refused(
        &get("/orders", Some(FREE)).await,
        StatusCode::TOO_MANY_REQUESTS,
        "Too Many Requests",
        "TooManyRequestsException",
    );

    // The gold plan's per-method throttle on POST /orders, then its daily quota.
    let post = |key: &'static str| {
        let (client, url) = (client.clone(), format!("{base}/orders"));
        async move {
            client
                .send(Method::POST, &url, &[("x-api-key", key)], "")
                .await
        }
    };
    assert_eq!(post(GOLD).await.status, StatusCode::OK);
    assert_refused(
        &post(GOLD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "Too Many Requests",
        "TooManyRequestsException",
    );
    for _ in 0..4 {
        assert_eq!(get("/orders", Some(GOLD)).await.status, StatusCode::OK);
    }
    assert_refused(
        &get("/orders", Some(GOLD)).await,
        StatusCode::TOO_MANY_REQUESTS,
        "Limit Exceeded",
        "LimitExceededException",
    );

    // What the admin listener reports.
    let plans = client
        .get(&format!("{admin}/admin/usageplans"))
        .await
        .json();
    let ids: Vec<&str> = plans["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["gold", "free"]);
    assert_eq!(plans["items"][0]["apiKeys"], json!(["k-gold"]));
    assert_eq!(plans["items"][0]["apiStages"][0]["apiId"], "shop000001");
    assert_eq!(
        plans["items"][0]["apiStages"][0]["throttle"]["/orders/POST"],
        json!({"rateLimit": 1.0, "burstLimit": 1})
    );
    assert_eq!(
        plans["items"][0]["quota"],
        json!({"limit": 5, "period": "DAY", "offset": 0})
    );
    let quota = client
        .get(&format!("{admin}/admin/usageplans/gold/keys/k-gold/quota"))
        .await
        .json();
    assert_eq!(quota["used"], 5);
    assert_eq!(quota["remaining"], 0);
    assert_eq!(quota["resetsOn"], "2026-11-22");

    // The next UTC day the quota is back.
    time.advance(Duration::from_secs(86_400));
    assert_eq!(get("/orders", Some(GOLD)).await.status, StatusCode::OK);
    let usage = client
        .get(&format!(
            "{admin}/admin/usageplans/gold/usage?startDate=2026-11-20&endDate=2026-11-22"
        ))
        .await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.text());
    assert_eq!(
        usage.json(),
        json!({
            "usagePlanId": "gold",
            "startDate": "2026-11-20",
            "endDate": "2026-11-22",
            "values": {"k-gold": [[0, 5], [5, 0], [1, 4]]}
        })
    );
    let free_usage = client
        .get(&format!(
            "{admin}/admin/usageplans/free/usage?startDate=2026-11-21&endDate=2026-11-21&keyId=k-free"
        ))
        .await
        .json();
    assert_eq!(free_usage["values"], json!({"k-free": [[2, 0]]}));
    for (url, status) in [
        (
            "/admin/usageplans/nope/usage?startDate=2026-11-21&endDate=2026-11-21",
            404,
        ),
        ("/admin/usageplans/gold/usage?startDate=2026-11-21", 400),
        (
            "/admin/usageplans/gold/usage?startDate=2026-11-22&endDate=2026-11-21",
            400,
        ),
        (
            "/admin/usageplans/gold/usage?startDate=21/11/2026&endDate=2026-11-21",
            400,
        ),
        ("/admin/usageplans/free/keys/k-free/quota", 404),
        ("/admin/usageplans/gold/keys/k-free/quota", 404),
    ] {
        let reply = client.get(&format!("{admin}{url}")).await;
        assert_eq!(reply.status.as_u16(), status, "{url}: {}", reply.text());
        assert!(reply.json()["message"].is_string());
    }

    // Every refusal is counted by level.
    let metrics = client.get(&format!("{admin}/metrics")).await.text();
    assert_eq!(
        metric(&metrics, "apigateway_throttled_requests_total", "method"),
        1
    );
    assert_eq!(
        metric(&metrics, "apigateway_throttled_requests_total", "plan"),
        1
    );
    assert_eq!(
        metric(
            &metrics,
            "apigateway_throttled_requests_total",
            "plan_method"
        ),
        1
    );
    assert_eq!(
        metric(&metrics, "apigateway_quota_exceeded_total", "quota"),
        1
    );
    assert_eq!(
        metric(
            &metrics,
            "apigateway_usage_plan_forbidden_total",
            "forbidden"
        ),
        1
    );

    // A reload that changes the plan keeps the counters: 1 used today of 2.
    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("limit: 5, period: DAY", "limit: 2, period: DAY"),
    )
    .unwrap();
    let reloaded = client.post(&format!("{admin}/admin/reload")).await;
    assert_eq!(reloaded.status, StatusCode::OK, "{}", reloaded.text());
    assert_eq!(get("/orders", Some(GOLD)).await.status, StatusCode::OK);
    assert_refused(
        &get("/orders", Some(GOLD)).await,
        StatusCode::TOO_MANY_REQUESTS,
        "Limit Exceeded",
        "LimitExceededException",
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_that_break_the_rules_are_refused_with_the_field() {
    let dir = TempDir::new();
    dir.write("api.yaml", &api());
    let cases = [
        (
            "usage_plans:\n  - {name: a, api_stages: [{api: shop, stage: prod}], api_keys: [x]}\n  - {name: b, api_stages: [{api: shop, stage: prod}], api_keys: [x]}\n",
            "usage_plans",
            "both cover API `shop000001` stage `prod`",
        ),
        (
            "usage_plans:\n  - {name: a, api_stages: [{api: shop, stage: prod, throttle: {\"/orders/*\": {rate: 1, burst: 1}}}]}\n",
            "usage_plans[0].api_stages[0].throttle",
            "is not a method key",
        ),
    ];
    for (plans, field, message) in cases {
        let path = dir.write(
            "gateway.yaml",
            &format!(
                "auth:\n  api_keys: [{{id: kx, name: x, value: {GOLD}}}]\n{plans}apis:\n  - {{name: shop, id: shop000001, openapi: api.yaml, stages: [{{name: prod}}]}}\n"
            ),
        );
        let err = gateway::Gateway::from_config_file(&path)
            .unwrap_err()
            .to_string();
        assert!(err.contains(field) && err.contains(message), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_plans_keys_pass_and_the_account_bucket_still_applies() {
    let dir = TempDir::new();
    dir.write("api.yaml", &api());
    let path = dir.write(
        "gateway.yaml",
        &format!(
            "throttle:\n  account: {{rate: 1, burst: 3}}\nauth:\n  api_keys: [{{id: kx, name: x, value: {GOLD}}}]\napis:\n  - {{name: shop, id: shop000001, openapi: api.yaml, stages: [{{name: prod}}]}}\n"
        ),
    );
    let (clock, _time) = noon("2026-11-21");
    let (gateway, _) = gateway::Gateway::builder()
        .clock(clock)
        .from_config_file(&path)
        .unwrap();
    let server = gateway::server::serve(&gateway, "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let client = HttpClient::new();
    let base = format!("http://{}/prod", server.addr);
    // The account bucket is shared by every method: 3 requests in all.
    let keyed = client
        .get_with(&format!("{base}/orders"), &[("x-api-key", GOLD)])
        .await;
    assert_eq!(keyed.status, StatusCode::OK, "{}", keyed.text());
    assert_eq!(
        client.get(&format!("{base}/open")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        client.get(&format!("{base}/open")).await.status,
        StatusCode::OK
    );
    assert_refused(
        &client
            .get_with(&format!("{base}/orders"), &[("x-api-key", GOLD)])
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "Too Many Requests",
        "TooManyRequestsException",
    );
    server.shutdown().await;
}

/// Three gateway nodes share one real `redis-server`: a key's quota is exact
/// however its requests are spread, usage is the same seen from any node, and when
/// Redis goes away the nodes fail open, then throttle again once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_quotas_through_redis() {
    let mut redis = gateway_throttle::redis_server::RedisServer::start().unwrap();
    let dir = TempDir::new();
    dir.write("api.yaml", &api());
    let path = dir.write(
        "gateway.yaml",
        &format!(
            r#"throttle:
  redis: {{url: "{}", timeout_ms: 200}}
auth:
  api_keys: [{{id: k-gold, name: gold-client, value: {GOLD}}}]
usage_plans:
  - id: gold
    name: Gold
    api_stages: [{{api: shop, stage: prod}}]
    quota: {{limit: 30, period: DAY}}
    api_keys: [gold-client]
apis:
  - name: shop
    id: shop000001
    openapi: api.yaml
    stages:
      - name: prod
        throttling: {{"/open/GET": {{rate: 1, burst: 1}}}}
"#,
            redis.url()
        ),
    );
    let (clock, time) = noon("2026-11-21");
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let (gateway, _) = gateway::Gateway::builder()
            .clock(clock.clone())
            .from_config_file(&path)
            .unwrap();
        let server = serve_with_admin(&gateway).await;
        nodes.push((gateway, server));
    }
    let urls: Vec<String> = nodes
        .iter()
        .map(|(_, s)| format!("http://{}/prod", s.addr))
        .collect();
    let client = HttpClient::new();

    // 48 clients, 90 requests in all, spread over the three nodes: exactly 30 pass.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..48 {
        let (client, urls) = (client.clone(), urls.clone());
        tasks.spawn(async move {
            let mut statuses = Vec::new();
            let mut n = i;
            while n < 90 {
                let url = format!("{}/orders", urls[n % 3]);
                let reply = client.get_with(&url, &[("x-api-key", GOLD)]).await;
                statuses.push((reply.status, reply.text()));
                n += 48;
            }
            statuses
        });
    }
    let mut passed = 0;
    let mut limited = 0;
    let outcome = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(statuses) = tasks.join_next().await {
            for (status, body) in statuses.unwrap() {
                match status {
                    StatusCode::OK => passed += 1,
                    StatusCode::TOO_MANY_REQUESTS => {
                        assert_eq!(body, r#"{"message":"Limit Exceeded"}"#);
                        limited += 1;
                    }
                    other => panic!("{other}: {body}"),
                }
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "requests did not finish in time");
    assert_eq!((passed, limited), (30, 60));

    // Any node reports the shared usage.
    for (_, server) in &nodes {
        let admin = server.admin_addr.unwrap();
        let quota = client
            .get(&format!(
                "http://{admin}/admin/usageplans/gold/keys/k-gold/quota"
            ))
            .await
            .json();
        assert_eq!(
            (quota["used"].clone(), quota["remaining"].clone()),
            (json!(30), json!(0))
        );
    }

    // The stage's method bucket is shared too: one token for the three nodes.
    assert_eq!(
        client.get(&format!("{}/open", urls[0])).await.status,
        StatusCode::OK
    );
    for url in &urls {
        assert_eq!(
            client.get(&format!("{url}/open")).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    // Redis goes away: the nodes fail open (the default) and count it.
    redis.stop();
    for url in &urls {
        let reply = client.get(&format!("{url}/open")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    let admin = nodes[0].1.admin_addr.unwrap();
    let metrics = client.get(&format!("http://{admin}/metrics")).await.text();
    assert!(metric(&metrics, "apigateway_throttle_backend_errors_total", "open") >= 1);

    // Redis is back, empty: throttling resumes by itself.
    redis.restart().unwrap();
    time.advance(Duration::from_secs(5));
    let mut recovered = false;
    for _ in 0..50 {
        let first = client.get(&format!("{}/open", urls[1])).await.status;
        let second = client.get(&format!("{}/open", urls[2])).await.status;
        if first == StatusCode::OK && second == StatusCode::TOO_MANY_REQUESTS {
            recovered = true;
            break;
        }
        // A new second in the throttle clock refills the bucket for the next try.
        time.advance(Duration::from_secs(5));
    }
    assert!(recovered, "throttling did not resume after Redis came back");
    for (_, server) in nodes {
        server.shutdown().await;
    }
}
