//! Unit tests of event writing.

use super::*;
use http::Request;

fn shape(format: PayloadFormat, http_api: bool) -> EventShape {
    EventShape {
        format,
        http_api,
        resource: "/pets/{id}".to_owned(),
        route_key: "GET /pets/{id}".to_owned(),
        stage_variables: StageVariables::new(),
        body_rule: if http_api {
            BodyRule::HttpApi
        } else {
            BodyRule::BinaryTypes(BinaryMediaTypes::new(&["image/*".to_owned()]))
        },
    }
}

fn build_event(shape: &EventShape, req: Request<()>, body: &[u8]) -> serde_json::Value {
    let (parts, ()) = req.into_parts();
    serde_json::from_slice(&shape.build(&parts, body).unwrap()).unwrap()
}

#[test]
fn v1_without_query_params_or_body_sends_nulls() {
    let req = Request::get("/prod/pets").body(()).unwrap();
    let event = build_event(&shape(PayloadFormat::V1, false), req, b"");
    for key in [
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "body",
    ] {
        assert!(event[key].is_null(), "{key}: {}", event[key]);
    }
    assert_eq!(event["isBase64Encoded"], false);
    assert!(event.get("version").is_none());
    assert_eq!(event["headers"]["X-Forwarded-Proto"], "http");
    assert_eq!(event["headers"]["X-Forwarded-Port"], "80");
}

#[test]
fn v1_groups_repeated_headers_and_query_values() {
    let req = Request::post("/pets?a=1&b=x%20y&a=2&flag")
        .header("accept", "text/plain")
        .header("accept", "application/json")
        .header("content-length", "2")
        .header("connection", "keep-alive")
        .header("host", "api.example:8443")
        .body(())
        .unwrap();
    let event = build_event(&shape(PayloadFormat::V1, false), req, b"hi");
    assert_eq!(event["headers"]["accept"], "application/json");
    assert_eq!(
        event["multiValueHeaders"]["accept"],
        serde_json::json!(["text/plain", "application/json"])
    );
    assert!(event["headers"].get("content-length").is_none());
    assert!(event["headers"].get("connection").is_none());
    assert_eq!(event["headers"]["X-Forwarded-Port"], "8443");
    assert_eq!(
        event["queryStringParameters"],
        serde_json::json!({"a": "2", "b": "x y", "flag": ""})
    );
    assert_eq!(
        event["multiValueQueryStringParameters"],
        serde_json::json!({"a": ["1", "2"], "b": ["x y"], "flag": [""]})
    );
    assert_eq!(event["body"], "hi");
}

#[test]
fn rest_bodies_are_base64_only_for_binary_media_types() {
    let shape = shape(PayloadFormat::V1, false);
    let png = Request::post("/pets")
        .header("content-type", "image/png")
        .body(())
        .unwrap();
    let event = build_event(&shape, png, &[0xff, 0x00, 0x01]);
    assert_eq!(event["body"], "/wAB");
    assert_eq!(event["isBase64Encoded"], true);
    let text = Request::post("/pets")
        .header("content-type", "application/octet-stream")
        .body(())
        .unwrap();
    let event = build_event(&shape, text, &[b'a', 0xff]);
    assert_eq!(event["body"], "a\u{fffd}");
    assert_eq!(event["isBase64Encoded"], false);
}

#[test]
fn http_api_bodies_follow_the_text_rule() {
    let shape = shape(PayloadFormat::V2, true);
    let json = Request::post("/pets")
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let event = build_event(&shape, json, br#"{"a":1}"#);
    assert_eq!(event["body"], r#"{"a":1}"#);
    assert_eq!(event["isBase64Encoded"], false);
    let form = Request::post("/pets")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(())
        .unwrap();
    let event = build_event(&shape, form, b"a=1");
    assert_eq!(event["body"], "YT0x");
    assert_eq!(event["isBase64Encoded"], true);
    let bad_text = Request::post("/pets")
        .header("content-type", "text/plain")
        .body(())
        .unwrap();
    let event = build_event(&shape, bad_text, &[0xc3, 0x28]);
    assert_eq!(event["isBase64Encoded"], true);
}

#[test]
fn v2_joins_repeated_values_and_moves_cookies() {
    let req = Request::get("/prod/pets?a=1&a=2&b=3")
        .header("x-multi", "one")
        .header("x-multi", "two")
        .header("cookie", "c1=v1; c2=v2")
        .header("cookie", "c3=v3")
        .body(())
        .unwrap();
    let event = build_event(&shape(PayloadFormat::V2, true), req, b"");
    assert_eq!(event["headers"]["x-multi"], "one,two");
    assert!(event["headers"].get("cookie").is_none());
    assert_eq!(
        event["cookies"],
        serde_json::json!(["c1=v1", "c2=v2", "c3=v3"])
    );
    assert_eq!(
        event["queryStringParameters"],
        serde_json::json!({"a": "1,2", "b": "3"})
    );
    assert_eq!(event["rawQueryString"], "a=1&a=2&b=3");
    assert_eq!(event["rawPath"], "/prod/pets");
    for absent in ["body", "pathParameters", "stageVariables"] {
        assert!(event.get(absent).is_none(), "{absent}");
    }
}

#[test]
fn v2_leaves_out_cookies_and_query_when_there_are_none() {
    let req = Request::get("/pets").body(()).unwrap();
    let event = build_event(&shape(PayloadFormat::V2, true), req, b"");
    assert!(event.get("cookies").is_none());
    assert!(event.get("queryStringParameters").is_none());
    assert_eq!(event["rawQueryString"], "");
}

#[test]
fn the_stage_segment_is_not_part_of_the_v1_path() {
    let shape = shape(PayloadFormat::V1, false);
    let mut req = Request::get("/prod/pets/1").body(()).unwrap();
    req.extensions_mut().insert(RequestContext {
        stage: "prod".into(),
        path: "/prod/pets/1".into(),
        ..RequestContext::default()
    });
    let event = build_event(&shape, req, b"");
    assert_eq!(event["path"], "/pets/1");
    assert_eq!(event["requestContext"]["path"], "/prod/pets/1");
    let mut root = Request::get("/prod").body(()).unwrap();
    root.extensions_mut().insert(RequestContext {
        stage: "prod".into(),
        ..RequestContext::default()
    });
    assert_eq!(build_event(&shape, root, b"")["path"], "/");
    let mut other = Request::get("/production/x").body(()).unwrap();
    other.extensions_mut().insert(RequestContext {
        stage: "prod".into(),
        ..RequestContext::default()
    });
    assert_eq!(build_event(&shape, other, b"")["path"], "/production/x");
}

#[test]
fn forwarded_for_appends_the_client_address() {
    let mut req = Request::get("/pets")
        .header("x-forwarded-for", "198.51.100.1")
        .body(())
        .unwrap();
    req.extensions_mut().insert(RequestContext {
        identity: gateway_core::context::Identity {
            source_ip: "203.0.113.9".into(),
            ..Default::default()
        },
        ..RequestContext::default()
    });
    let event = build_event(&shape(PayloadFormat::V2, true), req, b"");
    assert_eq!(
        event["headers"]["x-forwarded-for"],
        "198.51.100.1, 203.0.113.9"
    );
}
