//! HTTP_PROXY integrations against real backends on 127.0.0.1.

mod support;

use std::time::{Duration, Instant};

use gateway_core::body::Body;
use gateway_core::error::GatewayError;
use gateway_core::model::{Integration, IntegrationType, RouteMethod};
use gateway_integrations::{CompileContext, CompileError, HttpClient, IntegrationStatus, compile};
use http::{Method, StatusCode};
use serde_json::Value;

use gateway_core::outbound::testing::{ServerCert, TestCa};
use support::{
    Backend, CLIENT_IP, Fnv, PatternBody, TRACE, body_json, call, compile_route,
    compile_route_with, dead_addr, hash_body, request, resetting_backend, route,
};

fn proxy(uri: String) -> Integration {
    Integration::http_proxy(uri)
}

fn get() -> RouteMethod {
    RouteMethod::Method(Method::GET)
}

fn header<'a>(echo: &'a Value, name: &str) -> Vec<&'a str> {
    echo["headers"][name]
        .as_array()
        .map(|values| values.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn path_parameters_and_greedy_proxy_round_trip_percent_encoding() {
    let backend = Backend::echo("a").await;
    let template = "/pets/{petId}/files/{proxy+}";
    let route = route(
        get(),
        template,
        proxy(format!(
            "http://{}/backend/{{petId}}/f/{{proxy}}",
            backend.addr
        )),
    );
    let service = compile_route(&route, &[]);
    let req = request(
        Method::GET,
        template,
        "/pets/a%20b%2Fc%25/files/x%20y/z%C3%A9/last",
        Body::empty(),
    );
    let response = call(&service, req).await;
    assert_eq!(response.status(), StatusCode::OK);
    let echo = body_json(response).await;
    // `{petId}` is one segment: its decoded `/` and `%` are encoded again; the greedy
    // `{proxy}` keeps its `/`.
    assert_eq!(echo["path"], "/backend/a%20b%2Fc%25/f/x%20y/z%C3%A9/last");
    assert_eq!(echo["version"], "HTTP/1.1");
}

#[tokio::test]
async fn an_explicitly_mapped_greedy_proxy_keeps_its_slashes() {
    // The form AWS's console and OpenAPI exports use for `/{proxy+}` routes.
    let backend = Backend::echo("a").await;
    let template = "/{proxy+}";
    let mut integration = proxy(format!("http://{}/{{proxy}}", backend.addr));
    integration.request_parameters.insert(
        "integration.request.path.proxy".into(),
        "method.request.path.proxy".into(),
    );
    let service = compile_route(&route(RouteMethod::Any, template, integration), &[]);
    let req = request(Method::GET, template, "/a/b%3Fc/d%20e", Body::empty());
    let echo = body_json(call(&service, req).await).await;
    assert_eq!(echo["path"], "/a/b%3Fc/d%20e");
}

#[tokio::test]
async fn mapped_path_parameters_take_precedence() {
    let backend = Backend::echo("a").await;
    let template = "/items/{id}";
    let mut integration = proxy(format!("http://{}/v1/{{item}}/{{id}}", backend.addr));
    integration.request_parameters.insert(
        "integration.request.path.item".into(),
        "method.request.header.X-Item".into(),
    );
    integration.request_parameters.insert(
        "integration.request.path.id".into(),
        "method.request.querystring.real".into(),
    );
    let service = compile_route(&route(get(), template, integration), &[]);
    let mut req = request(
        Method::GET,
        template,
        "/items/ignored?real=7",
        Body::empty(),
    );
    req.headers_mut().insert("x-item", "box".parse().unwrap());
    let echo = body_json(call(&service, req).await).await;
    assert_eq!(echo["path"], "/v1/box/7");
}

#[tokio::test]
async fn stage_variables_in_the_uri_pick_the_backend() {
    let a = Backend::echo("a").await;
    let b = Backend::echo("b").await;
    let route = route(
        get(),
        "/who",
        proxy("http://${stageVariables.backend}/${stageVariables.base}/who".into()),
    );
    for (backend, name) in [(&a, "a"), (&b, "b")] {
        let addr = backend.addr.to_string();
        let service = compile_route(&route, &[("backend", &addr), ("base", "api")]);
        let echo = body_json(
            call(
                &service,
                request(Method::GET, "/who", "/who", Body::empty()),
            )
            .await,
        )
        .await;
        assert_eq!(echo["backend"], name);
        assert_eq!(echo["path"], "/api/who");
        assert_eq!(header(&echo, "host"), [addr.as_str()]);
    }
}

#[tokio::test]
async fn an_endpoint_made_invalid_by_a_stage_variable_answers_500() {
    let route = route(get(), "/x", proxy("${stageVariables.url}/x".into()));
    let service = compile_route(&route, &[("url", "ftp://files.local")]);
    let response = call(&service, request(Method::GET, "/x", "/x", Body::empty())).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body_json(response).await,
        serde_json::json!({"message": "Internal server error"})
    );
}

#[tokio::test]
async fn query_strings_are_merged_and_mapped() {
    let backend = Backend::echo("a").await;
    let mut integration = proxy(format!("http://{}/q?fixed=1", backend.addr));
    integration.request_parameters.insert(
        "integration.request.querystring.a".into(),
        "'mapped value'".into(),
    );
    integration.request_parameters.insert(
        "integration.request.header.X-From-Query".into(),
        "method.request.querystring.b".into(),
    );
    integration.request_parameters.insert(
        "integration.request.header.X-Stage".into(),
        "stageVariables.env".into(),
    );
    integration.request_parameters.insert(
        "integration.request.header.X-Request-Id".into(),
        "context.requestId".into(),
    );
    let service = compile_route(&route(get(), "/q", integration), &[("env", "prod")]);
    let req = request(Method::GET, "/q", "/q?a=1&b=two%20words&a=2", Body::empty());
    let echo = body_json(call(&service, req).await).await;
    assert_eq!(echo["query"], "fixed=1&b=two%20words&a=mapped%20value");
    assert_eq!(header(&echo, "x-from-query"), ["two words"]);
    assert_eq!(header(&echo, "x-stage"), ["prod"]);
    assert_eq!(header(&echo, "x-request-id"), ["req-1"]);
}

#[tokio::test]
async fn client_query_passes_through_unchanged() {
    let backend = Backend::echo("a").await;
    let service = compile_route(
        &route(get(), "/q", proxy(format!("http://{}/q", backend.addr))),
        &[],
    );
    let req = request(Method::GET, "/q", "/q?x=%2F&flag&y=a+b", Body::empty());
    let echo = body_json(call(&service, req).await).await;
    assert_eq!(echo["query"], "x=%2F&flag&y=a+b");
}

#[tokio::test]
async fn headers_are_rewritten_as_aws_does() {
    let backend = Backend::echo("a").await;
    let service = compile_route(
        &route(get(), "/h", proxy(format!("http://{}/h", backend.addr))),
        &[],
    );
    let mut req = request(Method::GET, "/h", "/h", Body::empty());
    let headers = req.headers_mut();
    headers.insert("host", "api.example.test:8443".parse().unwrap());
    headers.insert("connection", "x-hop".parse().unwrap());
    headers.insert("x-hop", "1".parse().unwrap());
    headers.insert("keep-alive", "timeout=5".parse().unwrap());
    headers.insert("te", "trailers".parse().unwrap());
    headers.insert("upgrade", "websocket".parse().unwrap());
    headers.insert("proxy-authorization", "Basic eDp5".parse().unwrap());
    headers.insert("x-forwarded-for", "198.51.100.1".parse().unwrap());
    headers.insert("x-forwarded-proto", "gopher".parse().unwrap());
    headers.insert("x-amzn-trace-id", "Root=client".parse().unwrap());
    headers.insert("authorization", "Bearer token".parse().unwrap());
    headers.insert("x-send-hop", "1".parse().unwrap());

    let response = call(&service, req).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Hop-by-hop headers of the backend's response are not passed on.
    for hop in [
        "connection",
        "x-resp-hop",
        "keep-alive",
        "proxy-authenticate",
    ] {
        assert!(
            !response.headers().contains_key(hop),
            "{hop} leaked to the client"
        );
    }
    assert_eq!(response.headers()["x-resp-kept"], "1");
    assert_eq!(response.extensions().get(), Some(&IntegrationStatus(200)));

    let echo = body_json(response).await;
    for hop in [
        "connection",
        "x-hop",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-authorization",
    ] {
        assert!(
            echo["headers"].get(hop).is_none(),
            "{hop} reached the backend"
        );
    }
    assert_eq!(header(&echo, "host"), [backend.addr.to_string().as_str()]);
    assert_eq!(
        header(&echo, "x-forwarded-for"),
        [format!("198.51.100.1, {CLIENT_IP}").as_str()]
    );
    assert_eq!(header(&echo, "x-forwarded-proto"), ["http"]);
    assert_eq!(header(&echo, "x-forwarded-port"), ["8443"]);
    assert_eq!(header(&echo, "x-amzn-trace-id"), [TRACE]);
    assert_eq!(header(&echo, "authorization"), ["Bearer token"]);
}

#[tokio::test]
async fn forwarded_for_starts_with_the_client_ip() {
    let backend = Backend::echo("a").await;
    let service = compile_route(
        &route(get(), "/h", proxy(format!("http://{}/h", backend.addr))),
        &[],
    );
    let echo =
        body_json(call(&service, request(Method::GET, "/h", "/h", Body::empty())).await).await;
    assert_eq!(header(&echo, "x-forwarded-for"), [CLIENT_IP]);
    assert_eq!(header(&echo, "x-forwarded-port"), ["80"]);
}

#[tokio::test]
async fn any_forwards_the_client_method_and_a_fixed_method_replaces_it() {
    let backend = Backend::echo("a").await;
    let any = compile_route(
        &route(
            RouteMethod::Any,
            "/m",
            proxy(format!("http://{}/m", backend.addr)),
        ),
        &[],
    );
    let mut fixed = proxy(format!("http://{}/m", backend.addr));
    fixed.http_method = Some("get".into());
    let fixed = compile_route(&route(RouteMethod::Any, "/m", fixed), &[]);

    let echo =
        body_json(call(&any, request(Method::DELETE, "/m", "/m", Body::empty())).await).await;
    assert_eq!(echo["method"], "DELETE");
    let echo = body_json(
        call(
            &any,
            request(Method::POST, "/m", "/m", Body::from("payload")),
        )
        .await,
    )
    .await;
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body"], "payload");
    let echo =
        body_json(call(&fixed, request(Method::POST, "/m", "/m", Body::empty())).await).await;
    assert_eq!(echo["method"], "GET");
}

#[tokio::test]
async fn backend_status_and_headers_pass_through() {
    let backend = Backend::echo("a").await;
    let service = compile_route(
        &route(get(), "/s", proxy(format!("http://{}/s", backend.addr))),
        &[],
    );
    let mut req = request(Method::GET, "/s", "/s", Body::empty());
    req.headers_mut().insert("x-status", "418".parse().unwrap());
    let response = call(&service, req).await;
    assert_eq!(response.status().as_u16(), 418);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.extensions().get(), Some(&IntegrationStatus(418)));
    assert!(response.extensions().get::<GatewayError>().is_none());
}

#[tokio::test]
async fn a_slow_backend_times_out_with_504() {
    let backend = Backend::slow(Duration::from_secs(3)).await;
    let mut integration = proxy(format!("http://{}/slow", backend.addr));
    integration.timeout = Duration::from_millis(100);
    let service = compile_route(&route(get(), "/slow", integration), &[]);
    let started = Instant::now();
    let response = call(
        &service,
        request(Method::GET, "/slow", "/slow", Body::empty()),
    )
    .await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "InternalServerErrorException"
    );
    assert!(response.extensions().get::<IntegrationStatus>().is_none());
    assert_eq!(
        body_json(response).await,
        serde_json::json!({"message": "Endpoint request timed out"})
    );
}

#[tokio::test]
async fn an_unreachable_backend_is_a_configuration_error() {
    let addr = dead_addr().await;
    let service = compile_route(&route(get(), "/x", proxy(format!("http://{addr}/x"))), &[]);
    let response = call(&service, request(Method::GET, "/x", "/x", Body::empty())).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let err = response.extensions().get::<GatewayError>().unwrap();
    assert_eq!(err.kind().as_str(), "API_CONFIGURATION_ERROR");
    assert_eq!(
        body_json(response).await,
        serde_json::json!({"message": "Internal server error"})
    );
}

#[tokio::test]
async fn a_backend_that_drops_the_connection_is_a_502_integration_failure() {
    let (addr, task) = resetting_backend().await;
    let service = compile_route(&route(get(), "/x", proxy(format!("http://{addr}/x"))), &[]);
    let response = call(&service, request(Method::GET, "/x", "/x", Body::empty())).await;
    task.abort();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "InternalServerErrorException"
    );
    let err = response.extensions().get::<GatewayError>().unwrap();
    assert_eq!(err.kind().as_str(), "INTEGRATION_FAILURE");
    assert_eq!(
        body_json(response).await,
        serde_json::json!({"message": "Internal server error"})
    );
}

#[tokio::test]
async fn five_megabytes_stream_both_ways_intact() {
    const LEN: usize = 5 * 1024 * 1024;
    let backend = Backend::stream(LEN).await;
    let service = compile_route(
        &route(
            RouteMethod::Any,
            "/data",
            proxy(format!("http://{}/data", backend.addr)),
        ),
        &[],
    );
    let expected = Fnv::of_pattern(LEN);

    // Download: the backend streams 5 MB in 64 KiB chunks.
    let response = call(
        &service,
        request(Method::GET, "/data", "/data", Body::empty()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(hash_body(response.into_body()).await, (LEN, expected));

    // Upload and echo: the client streams 5 MB in odd-sized chunks, the backend
    // streams it back while still receiving it.
    let upload = Body::new(PatternBody::new(LEN, 100_003));
    let response = call(&service, request(Method::POST, "/data", "/data", upload)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(hash_body(response.into_body()).await, (LEN, expected));
}

#[tokio::test]
async fn a_request_body_over_the_limit_is_413() {
    let backend = Backend::echo("a").await;
    let service = compile_route(
        &route(
            RouteMethod::Any,
            "/up",
            proxy(format!("http://{}/up", backend.addr)),
        ),
        &[],
    );
    let body = Body::new(PatternBody::new(1024 * 1024, 16 * 1024)).limited(64 * 1024);
    let response = call(&service, request(Method::POST, "/up", "/up", body)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body_json(response).await,
        serde_json::json!({"message": "Request Too Long"})
    );
}

#[tokio::test]
async fn pooled_connections_are_reused() {
    let backend = Backend::echo("a").await;
    let service = compile_route(
        &route(get(), "/p", proxy(format!("http://{}/p", backend.addr))),
        &[],
    );
    for _ in 0..20 {
        let response = call(&service, request(Method::GET, "/p", "/p", Body::empty())).await;
        assert_eq!(response.status(), StatusCode::OK);
        body_json(response).await;
    }
    assert_eq!(
        backend
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );

    // Answers without a body (204, HEAD) hand their connection back too, even when
    // nobody polls the empty body to its end.
    let empty = Backend::start(|_req| async {
        let mut response = http::Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        response
    })
    .await;
    let service = compile_route(
        &route(get(), "/e", proxy(format!("http://{}/e", empty.addr))),
        &[],
    );
    for _ in 0..10 {
        let response = call(&service, request(Method::GET, "/e", "/e", Body::empty())).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        drop(response);
    }
    assert_eq!(
        empty.connections.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

fn compile_err(integration: Integration, path: &str) -> CompileError {
    let variables = gateway_core::stage::StageVariables::new();
    let client = HttpClient::new();
    let ctx = CompileContext::new(&variables, &client, gateway_core::model::ApiProtocol::Rest);
    match compile(&route(get(), path, integration), &ctx) {
        Ok(_) => panic!("the integration compiled"),
        Err(err) => err,
    }
}

#[tokio::test]
async fn https_backends_are_checked_against_the_clients_trust_store_and_pooled() {
    let ca = TestCa::new().unwrap();
    let backend = Backend::echo_tls("tls", &ca.issue(&["localhost"]).unwrap()).await;
    let port = backend.addr.port();
    let uri = format!("https://localhost:{port}/secure/{{id}}");
    let client = HttpClient::with_tls(ca.client().unwrap());
    let service = compile_route_with(&route(get(), "/s/{id}", proxy(uri)), &[], &client);
    for id in 0..3 {
        let path = format!("/s/{id}");
        let response = call(
            &service,
            request(Method::GET, "/s/{id}", &path, Body::empty()),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let echo = body_json(response).await;
        assert_eq!(echo["backend"], "tls");
        assert_eq!(echo["path"], format!("/secure/{id}"));
        assert_eq!(header(&echo, "host"), [format!("localhost:{port}")]);
    }
    // One TLS connection served all three requests.
    assert_eq!(
        backend
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_configuration_error_unless_verification_is_skipped() {
    let backend = Backend::echo_tls(
        "self-signed",
        &ServerCert::self_signed(&["127.0.0.1"]).unwrap(),
    )
    .await;
    let uri = format!("https://{}/x", backend.addr);
    let client = HttpClient::with_tls(TestCa::new().unwrap().client().unwrap());
    let strict = compile_route_with(&route(get(), "/x", proxy(uri.clone())), &[], &client);
    let response = call(&strict, request(Method::GET, "/x", "/x", Body::empty())).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body_json(response).await,
        serde_json::json!({"message": "Internal server error"})
    );
    assert_eq!(
        backend
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );

    let mut skip = proxy(uri);
    skip.tls_config.insecure_skip_verification = true;
    let lenient = compile_route_with(&route(get(), "/x", skip), &[], &client);
    let response = call(&lenient, request(Method::GET, "/x", "/x", Body::empty())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_json(response).await["backend"], "self-signed");
}

#[tokio::test]
async fn a_server_name_to_verify_stands_in_for_the_host() {
    let ca = TestCa::new().unwrap();
    let backend = Backend::echo_tls("named", &ca.issue(&["backend.internal"]).unwrap()).await;
    let uri = format!("https://{}/x", backend.addr);
    let client = HttpClient::with_tls(ca.client().unwrap());
    let plain_name = compile_route_with(&route(get(), "/x", proxy(uri.clone())), &[], &client);
    let response = call(&plain_name, request(Method::GET, "/x", "/x", Body::empty())).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);

    let mut named = proxy(uri);
    named.tls_config.server_name_to_verify = Some("backend.internal".into());
    let service = compile_route_with(&route(get(), "/x", named), &[], &client);
    let response = call(&service, request(Method::GET, "/x", "/x", Body::empty())).await;
    assert_eq!(response.status(), StatusCode::OK);
    // The Host header still names the URI's authority.
    let echo = body_json(response).await;
    assert_eq!(header(&echo, "host"), [backend.addr.to_string()]);
}

#[test]
fn timeouts_outside_aws_range_are_refused() {
    for timeout in [Duration::from_millis(49), Duration::from_secs(30)] {
        let mut integration = proxy("http://127.0.0.1:1/x".into());
        integration.timeout = timeout;
        let err = compile_err(integration, "/x");
        assert!(
            matches!(err, CompileError::InvalidTimeout { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("50 ms to 29000 ms"), "{err}");
    }
    let mut integration = proxy("http://127.0.0.1:1/x".into());
    integration.timeout = Duration::from_millis(50);
    let variables = gateway_core::stage::StageVariables::new();
    let client = HttpClient::new();
    let ctx = CompileContext::new(&variables, &client, gateway_core::model::ApiProtocol::Rest);
    assert!(compile(&route(get(), "/x", integration), &ctx).is_ok());
}

#[test]
fn invalid_proxy_settings_name_route_and_field() {
    let err = compile_err(proxy("http://b/{id}".into()), "/pets/{petId}");
    let text = err.to_string();
    assert!(
        text.starts_with("GET /pets/{petId}: integration field `uri`"),
        "{text}"
    );

    let err = compile_err(proxy("ftp://b/x".into()), "/x");
    assert!(err.to_string().contains("`uri`"), "{err}");

    let mut no_method = proxy("http://b/x".into());
    no_method.http_method = None;
    assert!(matches!(
        compile_err(no_method, "/x"),
        CompileError::MissingField {
            field: "httpMethod",
            kind: IntegrationType::HttpProxy,
            ..
        }
    ));

    let mut no_uri = proxy(String::new());
    no_uri.uri = None;
    assert!(matches!(
        compile_err(no_uri, "/x"),
        CompileError::MissingField { field: "uri", .. }
    ));

    let mut bad_mapping = proxy("http://b/x".into());
    bad_mapping.request_parameters.insert(
        "integration.request.header.X".into(),
        "method.request.body".into(),
    );
    let err = compile_err(bad_mapping, "/x");
    assert!(
        err.to_string()
            .contains("`requestParameters.integration.request.header.X`"),
        "{err}"
    );

    let mut unused = proxy("http://b/x".into());
    unused.request_parameters.insert(
        "integration.request.path.id".into(),
        "method.request.path.id".into(),
    );
    assert!(matches!(
        compile_err(unused, "/x/{id}"),
        CompileError::InvalidField { .. }
    ));
}
