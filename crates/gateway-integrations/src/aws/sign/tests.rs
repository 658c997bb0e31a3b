//! The signer against botocore, run as a subprocess on the same request, at the
//! same time, with the same credentials: both `Authorization` headers must be equal.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use http::Method;

use super::*;

#[path = "../../../tests/botocore/mod.rs"]
mod botocore_signer;
use botocore_signer::run_botocore;

/// 2023-11-14T22:13:20Z.
fn fixed_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn credentials() -> Credentials {
    Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
}

/// Signs the already-signed `request` again with botocore, at the time of its
/// `X-Amz-Date`, and returns botocore's answer.
fn botocore(
    request: &Request<()>,
    body: &[u8],
    credentials: &Credentials,
    service: &str,
    region: &str,
) -> serde_json::Value {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .unwrap_or_else(|| panic!("the signed request has no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let scheme = request.uri().scheme_str().unwrap_or("https");
    let path_and_query = request.uri().path_and_query().unwrap().as_str();
    let url = format!("{scheme}://{}{path_and_query}", header("host"));
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter(|(name, _)| *name != AUTHORIZATION)
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap().to_owned()))
        .collect();
    let spec = serde_json::json!({
        "method": request.method().as_str(),
        "url": url,
        "headers": headers,
        "body_base64": base64::engine::general_purpose::STANDARD.encode(body),
        "access_key": credentials.access_key_id,
        "secret_key": credentials.secret_access_key,
        "token": credentials.session_token,
        "service": service,
        "region": region,
        "amz_date": header("x-amz-date"),
    });
    run_botocore(&spec)
}

fn authorization(request: &Request<()>) -> &str {
    request.headers()[AUTHORIZATION].to_str().unwrap()
}

/// Signs with ours and botocore, asserts equal `Authorization` headers, and returns
/// the signed request.
fn assert_matches_botocore(
    mut request: Request<()>,
    body: &[u8],
    credentials: &Credentials,
    service: &str,
    region: &str,
) -> Request<()> {
    sign_request(
        &mut request,
        body,
        credentials,
        service,
        region,
        fixed_time(),
    )
    .unwrap();
    let reference = botocore(&request, body, credentials, service, region);
    assert_eq!(
        authorization(&request),
        reference["authorization"].as_str().unwrap(),
        "botocore's canonical request:\n{}",
        reference["canonical_request"].as_str().unwrap()
    );
    request
}

#[test]
fn get_with_a_query_string_matches_botocore() {
    let request = Request::builder()
        .method(Method::GET)
        .uri("https://sqs.us-east-1.amazonaws.com/?Action=ListQueues&QueueNamePrefix=my+queue%2Fx&Version=2012-11-05")
        .header("user-agent", "gateway-test/1.0")
        .header("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793")
        .body(())
        .unwrap();
    let signed = assert_matches_botocore(request, b"", &credentials(), "sqs", "us-east-1");
    assert_eq!(
        signed.uri().query(),
        Some("Action=ListQueues&QueueNamePrefix=my%20queue%2Fx&Version=2012-11-05")
    );
    assert_eq!(signed.headers()["host"], "sqs.us-east-1.amazonaws.com");
    assert_eq!(signed.headers()["x-amz-date"], "20231114T221320Z");
    assert!(!signed.headers().contains_key("x-amz-security-token"));
    assert!(!signed.headers().contains_key("x-amz-content-sha256"));
    let auth = authorization(&signed);
    assert!(
        auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/sqs/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature="
        ),
        "{auth}"
    );
}

#[test]
fn post_with_json_and_a_session_token_matches_botocore() {
    let body = br#"{"stateMachineArn":"arn:aws:states:eu-west-1:123456789012:stateMachine:m","input":"{\"a\": 1}"}"#;
    let credentials = credentials().with_session_token("FQoGZXIvYXdzEBYaDH+session/token==");
    let request = Request::builder()
        .method(Method::POST)
        .uri("http://127.0.0.1:5000/")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "AWSStepFunctions.StartExecution")
        .header("content-length", body.len())
        // Stale signing headers are replaced.
        .header("x-amz-date", "19700101T000000Z")
        .header("authorization", "stale")
        .body(())
        .unwrap();
    let signed = assert_matches_botocore(request, body, &credentials, "states", "eu-west-1");
    assert_eq!(signed.headers()["host"], "127.0.0.1:5000");
    assert_eq!(
        signed.headers()["x-amz-security-token"],
        "FQoGZXIvYXdzEBYaDH+session/token=="
    );
    assert_eq!(signed.headers().get_all("x-amz-date").iter().count(), 1);
    assert!(
        authorization(&signed).contains(
            "SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-security-token;x-amz-target,"
        ),
        "{}",
        authorization(&signed)
    );
}

#[test]
fn lambda_paths_are_encoded_twice_as_botocore_does() {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-west-2%3A123456789012%3Afunction%3Amy-fn/invocations?Qualifier=live")
        .header("host", "127.0.0.1:3001")
        .header("x-amz-invocation-type", "RequestResponse")
        .body(())
        .unwrap();
    assert_matches_botocore(request, b"{}", &credentials(), "lambda", "us-west-2");
}

#[test]
fn s3_signs_the_payload_header_and_the_path_as_sent() {
    let body = b"hello, bucket";
    let mut request = Request::builder()
        .method(Method::PUT)
        .uri("http://127.0.0.1:9000/my-bucket/a%20dir/../file%2Bname.txt")
        .header("content-type", "text/plain")
        .body(())
        .unwrap();
    sign_request(
        &mut request,
        body,
        &credentials(),
        "s3",
        "us-east-1",
        fixed_time(),
    )
    .unwrap();
    let reference = botocore(&request, body, &credentials(), "s3", "us-east-1");
    assert_eq!(
        authorization(&request),
        reference["authorization"].as_str().unwrap(),
        "botocore's canonical request:\n{}",
        reference["canonical_request"].as_str().unwrap()
    );
    let sha = "6d873981e6d689bccd6a6fde3a2baf97332581d9ec47dce1436dae537e0b7f24";
    assert_eq!(request.headers()["x-amz-content-sha256"], sha);
    let botocore_sha = reference["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| {
            h[0].as_str()
                .unwrap()
                .eq_ignore_ascii_case("x-amz-content-sha256")
        })
        .map(|h| h[1].as_str().unwrap().to_owned());
    assert_eq!(botocore_sha.as_deref(), Some(sha));
}

#[test]
fn other_services_get_no_payload_header() {
    let mut request = Request::builder().uri("http://h/").body(()).unwrap();
    sign_request(
        &mut request,
        b"x",
        &credentials(),
        "dynamodb",
        "us-east-1",
        fixed_time(),
    )
    .unwrap();
    assert!(!request.headers().contains_key("x-amz-content-sha256"));
}

/// The `get-vanilla` case of AWS's SigV4 test suite, independent of botocore.
#[test]
fn aws_test_suite_get_vanilla() {
    let mut request = Request::builder()
        .uri("https://example.amazonaws.com/")
        .body(())
        .unwrap();
    // 2015-08-30T12:36:00Z.
    let time = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
    sign_request(
        &mut request,
        b"",
        &credentials(),
        "service",
        "us-east-1",
        time,
    )
    .unwrap();
    assert_eq!(
        authorization(&request),
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date, \
         Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
}

#[test]
fn requests_without_a_host_are_refused() {
    let mut request = Request::builder().uri("/x").body(()).unwrap();
    let err = sign_request(
        &mut request,
        b"",
        &credentials(),
        "sqs",
        "us-east-1",
        fixed_time(),
    )
    .unwrap_err();
    assert!(matches!(err, SignError::NoHost), "{err}");
}

#[test]
fn queries_are_canonicalised() {
    assert_eq!(
        canonical_query("b=2&a=x+y&&flag&c=%7e%2F"),
        "b=2&a=x%20y&flag=&c=~%2F"
    );
    assert_eq!(canonical_query("k=%E2%9C%93"), "k=%E2%9C%93");
    assert_eq!(canonical_query(""), "");
}
