//! Unit tests of proxy response mapping.

use super::*;

fn rules(format: PayloadFormat, http_api: bool, binary: &[&str]) -> OutputRules {
    OutputRules {
        format,
        http_api,
        binary: BinaryMediaTypes::new(&binary.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()),
    }
}

fn rest() -> OutputRules {
    rules(PayloadFormat::V1, false, &[])
}

fn map(rules: &OutputRules, payload: &str) -> Outcome {
    rules.map(&Bytes::copy_from_slice(payload.as_bytes()), None)
}

fn response(outcome: Outcome) -> Response<Body> {
    match outcome {
        Outcome::Response(response) => response,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn body_of(response: &Response<Body>) -> &[u8] {
    response.body().as_bytes().unwrap()
}

fn malformed(outcome: Outcome) -> String {
    match outcome {
        Outcome::Malformed(reason) => reason,
        other => panic!("expected malformed, got {other:?}"),
    }
}

#[test]
fn v1_fields_map_to_the_response() {
    let r = response(map(
        &rest(),
        r#"{"statusCode": 201, "headers": {"x-a": "1", "x-b": true},
            "multiValueHeaders": {"x-c": ["2", "3"]}, "body": "hi"}"#,
    ));
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-a"], "1");
    assert_eq!(r.headers()["x-b"], "true");
    let c: Vec<_> = r.headers().get_all("x-c").iter().collect();
    assert_eq!(c, ["2", "3"]);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(body_of(&r), b"hi");
}

#[test]
fn multi_value_headers_replace_single_ones_of_the_same_name() {
    let r = response(map(
        &rest(),
        r#"{"headers": {"X-Same": "solo"}, "multiValueHeaders": {"x-same": ["multi"]}}"#,
    ));
    let same: Vec<_> = r.headers().get_all("x-same").iter().collect();
    assert_eq!(same, ["multi"]);
    assert_eq!(r.status(), 200);
    assert!(body_of(&r).is_empty());
}

#[test]
fn rest_refuses_what_is_not_a_proxy_response() {
    for (payload, expect) in [
        ("not json", "not JSON"),
        (r#""justAString""#, "string, not an object"),
        (
            r#"{"statusCode": 200, "wrongValue": 1}"#,
            "unexpected field `wrongValue`",
        ),
        (r#"{"statusCode": "test"}"#, "not an HTTP status"),
        (r#"{"statusCode": 700}"#, "not an HTTP status"),
        (r#"{"statusCode": 20.5}"#, "not an HTTP status"),
        (r#"{"body": {"a": 1}}"#, "body is a JSON object"),
        (r#"{"headers": {"x": 1}}"#, "header x is a JSON number"),
        (r#"{"headers": ["x"]}"#, "headers is a JSON list"),
        (
            r#"{"multiValueHeaders": {"x": "1"}}"#,
            "multiValueHeaders.x is not a list",
        ),
        (
            r#"{"headers": {"bad name": "1"}}"#,
            "not a valid header name",
        ),
        (r#"{"headers": {"x": "a\nb"}}"#, "invalid value"),
        (r#"{"isBase64Encoded": "true"}"#, "not a boolean"),
    ] {
        let reason = malformed(map(&rest(), payload));
        assert!(reason.contains(expect), "{payload}: {reason}");
    }
}

#[test]
fn status_may_be_a_numeric_string() {
    assert_eq!(
        response(map(&rest(), r#"{"statusCode": "201"}"#)).status(),
        201
    );
    assert_eq!(
        response(map(&rest(), r#"{"statusCode": null}"#)).status(),
        200
    );
}

#[test]
fn http_api_v1_requires_a_status_and_ignores_other_fields() {
    let http = rules(PayloadFormat::V1, true, &[]);
    assert!(malformed(map(&http, r#"{"headers": {"a": "b"}}"#)).contains("statusCode is missing"));
    let r = response(map(&http, r#"{"statusCode": 200, "wrongValue": "x"}"#));
    assert_eq!(r.status(), 200);
}

#[test]
fn rest_decodes_base64_only_for_binary_types() {
    let payload = r#"{"statusCode": 200, "body": "dGVzdA==", "isBase64Encoded": true,
                     "headers": {"content-type": "image/png"}}"#;
    let plain = response(map(&rest(), payload));
    assert_eq!(body_of(&plain), b"dGVzdA==");
    let binary = rules(PayloadFormat::V1, false, &["image/*"]);
    assert_eq!(body_of(&response(map(&binary, payload))), b"test");
    let by_accept = rules(PayloadFormat::V1, false, &["application/octet-stream"]);
    let r = response(by_accept.map(
        &Bytes::from_static(br#"{"body": "dGVzdA==", "isBase64Encoded": true}"#),
        Some("application/octet-stream, text/plain"),
    ));
    assert_eq!(body_of(&r), b"test");
    let bad =
        r#"{"body": "***", "isBase64Encoded": true, "headers": {"content-type": "image/png"}}"#;
    assert!(malformed(map(&binary, bad)).contains("not base64"));
}

#[test]
fn http_apis_always_decode_base64() {
    let v2 = rules(PayloadFormat::V2, true, &[]);
    let r = response(map(
        &v2,
        r#"{"statusCode": 200, "body": "dGVzdA==", "isBase64Encoded": true}"#,
    ));
    assert_eq!(body_of(&r), b"test");
}

#[test]
fn v2_infers_responses_from_bare_values() {
    let v2 = rules(PayloadFormat::V2, true, &[]);
    let r = response(map(&v2, r#""Hello from Lambda!""#));
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(body_of(&r), b"Hello from Lambda!");
    let r = response(map(&v2, r#"{ "message": "Hello from Lambda!" }"#));
    assert_eq!(body_of(&r), br#"{ "message": "Hello from Lambda!" }"#);
    let r = response(map(&v2, "[1, 2]"));
    assert_eq!(body_of(&r), b"[1, 2]");
    let r = response(map(&v2, r#""null""#));
    assert_eq!(body_of(&r), b"null");
    let r = response(map(&v2, r#"{"statusCode": null, "body": "x"}"#));
    assert_eq!(body_of(&r), br#"{"statusCode": null, "body": "x"}"#);
}

#[test]
fn v2_cookies_become_set_cookie_headers() {
    let v2 = rules(PayloadFormat::V2, true, &[]);
    let r = response(map(
        &v2,
        r#"{"statusCode": 200, "cookies": ["a=1", "b=2; Path=/"], "multiValueHeaders": {"x": 1}}"#,
    ));
    let cookies: Vec<_> = r.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2; Path=/"]);
    assert!(
        malformed(map(&v2, r#"{"statusCode": 200, "cookies": {"a": "1"}}"#)).contains("not a list")
    );
    assert!(malformed(map(&v2, r#"{"statusCode": "x"}"#)).contains("not an HTTP status"));
}

#[test]
fn v2_recognises_a_function_error_object() {
    let v2 = rules(PayloadFormat::V2, true, &[]);
    match map(&v2, r#"{"errorMessage": "boom", "errorType": "Error"}"#) {
        Outcome::FunctionError(message) => assert_eq!(message, "boom"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn framing_headers_are_remapped_or_dropped() {
    let payload = r#"{"statusCode": 200, "headers": {"Content-Length": "99", "Connection": "close", "x-k": "v"}, "body": "ok"}"#;
    let r = response(map(&rest(), payload));
    assert!(r.headers().get("content-length").is_none());
    assert_eq!(r.headers()["x-amzn-remapped-content-length"], "99");
    assert_eq!(r.headers()["x-amzn-remapped-connection"], "close");
    let http = response(map(&rules(PayloadFormat::V2, true, &[]), payload));
    assert!(http.headers().get("content-length").is_none());
    assert!(
        http.headers()
            .get("x-amzn-remapped-content-length")
            .is_none()
    );
    assert_eq!(http.headers()["x-k"], "v");
}
