use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::aws::Credentials;

fn config() -> AwsConfig {
    AwsConfig::new(
        "us-east-1",
        CredentialsProvider::fixed(Credentials::new("AKID", "SECRET")),
    )
}

fn local(services: &[&str]) -> AwsConfig {
    services.iter().fold(config(), |config, service| {
        config
            .with_endpoint(*service, "http://127.0.0.1:5000")
            .unwrap()
    })
}

fn time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn build(config: &AwsConfig, uri: &str, request: ServiceRequest) -> Request<Body> {
    let target = AwsTarget::parse(uri).unwrap();
    config
        .prepare(&target, &HttpClient::new())
        .unwrap()
        .build_request_at(request, time())
        .unwrap()
}

fn header<'a>(request: &'a Request<Body>, name: &str) -> Option<&'a str> {
    request.headers().get(name).map(|v| v.to_str().unwrap())
}

#[test]
fn parses_action_and_path_targets() {
    let target = AwsTarget::parse("arn:aws:apigateway:us-east-1:sqs:action/SendMessage").unwrap();
    assert_eq!((target.region(), target.service()), ("us-east-1", "sqs"));
    assert_eq!(target.subdomain(), None);
    assert_eq!(
        target.api(),
        &TargetApi::Action {
            name: "SendMessage".to_owned(),
            params: vec![]
        }
    );
    let target = AwsTarget::parse(
        "arn:aws:apigateway:eu-west-1:sqs:action/SendMessage&QueueUrl=http%3A%2F%2Fq&MessageBody=a+b",
    )
    .unwrap();
    assert_eq!(
        target.api(),
        &TargetApi::Action {
            name: "SendMessage".to_owned(),
            params: vec![
                ("QueueUrl".to_owned(), "http://q".to_owned()),
                ("MessageBody".to_owned(), "a b".to_owned()),
            ]
        }
    );
    let target = AwsTarget::parse(
        "arn:aws:apigateway:us-west-2:runtime.sagemaker:path//endpoints/e/invocations?x=1",
    )
    .unwrap();
    assert_eq!(target.subdomain(), Some("runtime"));
    assert_eq!(target.service(), "sagemaker");
    assert_eq!(
        target.api(),
        &TargetApi::Path {
            path: "endpoints/e/invocations".to_owned(),
            query: vec![("x".to_owned(), "1".to_owned())]
        }
    );
    // A path may hold `:` (a Lambda function ARN).
    let target = AwsTarget::parse(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:f/invocations",
    )
    .unwrap();
    assert!(
        matches!(target.api(), TargetApi::Path { path, .. } if path.ends_with("function:f/invocations"))
    );
}

#[test]
fn refuses_what_is_not_a_target() {
    for bad in [
        "http://example.com",
        "arn:aws:lambda:us-east-1:1:function:f",
        "arn:aws:apigateway:us-east-1:sqs",
        "arn:aws:apigateway:us-east-1:sqs:invoke/x",
        "arn:aws:apigateway:us-east-1::action/X",
        "arn:aws:apigateway:us-east-1:sqs:action/",
        "arn:aws:apigateway:us-east-1:sqs:action/Send-Message",
        "arn:aws:apigateway:us-east-1:.sqs:path/x",
        "arn::apigateway:us-east-1:sqs:path/x",
    ] {
        let err = AwsTarget::parse(bad).unwrap_err();
        assert!(err.to_string().contains(bad), "{err}");
    }
}

#[test]
fn default_endpoints_are_aws_over_tls_and_overrides_replace_them() {
    let target = AwsTarget::parse("arn:aws:apigateway:eu-west-1:sqs:action/ListQueues").unwrap();
    let prepared = config().prepare(&target, &HttpClient::new()).unwrap();
    assert_eq!(
        prepared.endpoint_url(),
        "https://sqs.eu-west-1.amazonaws.com"
    );
    let cn = AwsTarget::parse("arn:aws-cn:apigateway:cn-north-1:sqs:action/ListQueues").unwrap();
    let prepared = config().prepare(&cn, &HttpClient::new()).unwrap();
    assert_eq!(
        prepared.endpoint_url(),
        "https://sqs.cn-north-1.amazonaws.com.cn"
    );

    let prepared = local(&["sqs"])
        .prepare(&target, &HttpClient::new())
        .unwrap();
    assert_eq!(prepared.endpoint_url(), "http://127.0.0.1:5000");
    assert_eq!(prepared.region(), "eu-west-1");
    let tls = config()
        .with_endpoint("sqs", "https://sqs.local:8443")
        .unwrap()
        .prepare(&target, &HttpClient::new())
        .unwrap();
    assert_eq!(tls.endpoint_url(), "https://sqs.local:8443");
    assert!(matches!(
        config().with_endpoint("sqs", "ftp://sqs.local"),
        Err(EndpointError::Invalid { .. })
    ));
}

#[test]
fn subdomains_need_a_placeholder_or_their_own_override() {
    let target = AwsTarget::parse("arn:aws:apigateway:us-east-1:my-bucket.s3:path/key").unwrap();
    let client = HttpClient::new();
    let err = local(&["s3"]).prepare(&target, &client).unwrap_err();
    assert!(err.to_string().contains("{subdomain}"), "{err}");
    let placeholder = config()
        .with_endpoint("s3", "http://{subdomain}.s3.localhost:4566")
        .unwrap();
    let prepared = placeholder.prepare(&target, &client).unwrap();
    assert_eq!(
        prepared.endpoint_url(),
        "http://my-bucket.s3.localhost:4566"
    );
    let own = config()
        .with_endpoint("my-bucket.s3", "http://127.0.0.1:9000/my-bucket")
        .unwrap();
    let request = own
        .prepare(&target, &client)
        .unwrap()
        .build_request_at(ServiceRequest::new(Method::GET, ""), time())
        .unwrap();
    assert_eq!(request.uri(), "/my-bucket/key");
    assert_eq!(header(&request, "host"), Some("127.0.0.1:9000"));
    assert!(header(&request, "x-amz-content-sha256").is_some());
}

#[test]
fn json_actions_get_their_target_and_content_type() {
    let request = build(
        &local(&["states", "kinesis"]),
        "arn:aws:apigateway:us-east-1:states:action/StartExecution",
        ServiceRequest::new(Method::POST, "{}")
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(
                HeaderName::from_static("connection"),
                HeaderValue::from_static("close"),
            ),
    );
    assert_eq!(request.method(), Method::POST);
    assert_eq!(request.uri(), "/");
    assert_eq!(
        header(&request, "x-amz-target"),
        Some("AWSStepFunctions.StartExecution")
    );
    assert_eq!(
        header(&request, "content-type"),
        Some("application/x-amz-json-1.0")
    );
    assert_eq!(header(&request, "content-length"), Some("2"));
    assert_eq!(header(&request, "host"), Some("127.0.0.1:5000"));
    assert_eq!(header(&request, "connection"), None);
    let auth = header(&request, "authorization").unwrap();
    assert!(auth.contains("/us-east-1/states/aws4_request"), "{auth}");

    let request = build(
        &local(&["kinesis"]),
        "arn:aws:apigateway:us-east-1:kinesis:action/PutRecord",
        ServiceRequest::new(Method::POST, "{}"),
    );
    assert_eq!(
        header(&request, "x-amz-target"),
        Some("Kinesis_20131202.PutRecord")
    );
    assert_eq!(
        header(&request, "content-type"),
        Some("application/x-amz-json-1.1")
    );
}

fn body_text(request: &Request<Body>) -> &str {
    std::str::from_utf8(request.body().as_bytes().unwrap()).unwrap()
}

#[test]
fn query_actions_put_their_parameters_in_the_form_body() {
    let request = build(
        &local(&["sqs"]),
        "arn:aws:apigateway:us-east-1:sqs:action/SendMessage&QueueUrl=http%3A%2F%2Fq",
        ServiceRequest::new(Method::POST, "MessageBody=hi+there").query_param("DelaySeconds", "0"),
    );
    assert_eq!(request.uri(), "/");
    assert_eq!(
        body_text(&request),
        "Action=SendMessage&Version=2012-11-05&QueueUrl=http%3A%2F%2Fq&DelaySeconds=0&MessageBody=hi+there"
    );
    assert_eq!(
        header(&request, "content-length"),
        Some(body_text(&request).len().to_string().as_str())
    );
    assert_eq!(
        header(&request, "content-type"),
        Some("application/x-www-form-urlencoded; charset=utf-8")
    );
    // The rendered body's own parameters win.
    let request = build(
        &local(&["sqs"]),
        "arn:aws:apigateway:us-east-1:sqs:action/SendMessage",
        ServiceRequest::new(
            Method::POST,
            "Action=SendMessage&Version=2012-11-05&MessageBody=x",
        ),
    );
    assert_eq!(
        body_text(&request),
        "Action=SendMessage&Version=2012-11-05&MessageBody=x"
    );
}

#[test]
fn query_actions_without_a_form_body_use_the_query_string() {
    let request = build(
        &local(&["email"]),
        "arn:aws:apigateway:us-east-1:email:action/SendEmail",
        ServiceRequest::new(Method::GET, "").query_param("Source", "a@b.c"),
    );
    assert_eq!(
        request.uri(),
        "/?Action=SendEmail&Version=2010-12-01&Source=a%40b.c"
    );
    assert_eq!(header(&request, "content-length"), None);
    assert_eq!(header(&request, "content-type"), None);
    let auth = header(&request, "authorization").unwrap();
    assert!(auth.contains("/us-east-1/ses/aws4_request"), "{auth}");

    let request = build(
        &local(&["sns"]),
        "arn:aws:apigateway:us-east-1:sns:action/Publish",
        ServiceRequest::new(Method::POST, "{}")
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json")),
    );
    assert_eq!(request.uri(), "/?Action=Publish&Version=2010-03-31");
    assert_eq!(body_text(&request), "{}");
}

#[test]
fn rest_and_unknown_services_take_no_actions() {
    let client = HttpClient::new();
    for (uri, reason) in [
        ("arn:aws:apigateway:us-east-1:s3:action/GetObject", "REST"),
        ("arn:aws:apigateway:us-east-1:madeup:action/Do", "not known"),
    ] {
        let target = AwsTarget::parse(uri).unwrap();
        let config = local(&["s3", "madeup"]);
        let err = config.prepare(&target, &client).unwrap_err();
        assert!(matches!(err, ServiceError::NoActions { .. }), "{err}");
        assert!(err.to_string().contains(reason), "{err}");
    }
}

#[test]
fn path_targets_go_to_their_path() {
    let config = config()
        .with_endpoint("sqs", "http://127.0.0.1:5000/prefix/")
        .unwrap();
    let request = build(
        &config,
        "arn:aws:apigateway:us-east-1:sqs:path//123456789012/my queue?a=1",
        ServiceRequest::new(Method::POST, "Action=SendMessage&MessageBody=x")
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .query_param("b", "2 3"),
    );
    assert_eq!(request.uri(), "/prefix/123456789012/my%20queue?a=1&b=2%203");
    assert_eq!(
        header(&request, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(header(&request, "x-amz-target"), None);
}

#[test]
fn missing_credentials_are_reported() {
    let config = AwsConfig::new(
        "us-east-1",
        CredentialsProvider::from_environment(Environment::from_pairs([("HOME", "/nowhere")])),
    )
    .with_endpoint("sqs", "http://127.0.0.1:5000")
    .unwrap();
    let target = AwsTarget::parse("arn:aws:apigateway:us-east-1:sqs:action/ListQueues").unwrap();
    let err = config
        .prepare(&target, &HttpClient::new())
        .unwrap()
        .build_request(ServiceRequest::new(Method::GET, ""))
        .unwrap_err();
    assert!(matches!(err, ServiceError::Credentials(_)), "{err}");
}

#[test]
fn config_from_the_environment() {
    let env = Environment::from_pairs([
        ("AWS_REGION", "ap-northeast-1"),
        ("AWS_ACCESS_KEY_ID", "K"),
        ("AWS_SECRET_ACCESS_KEY", "S"),
    ]);
    let config = AwsConfig::from_environment(&env).unwrap();
    assert_eq!(config.region(), "ap-northeast-1");
    assert_eq!(
        config.credentials().credentials().unwrap().access_key_id,
        "K"
    );
    let err =
        AwsConfig::from_environment(&Environment::from_pairs([("HOME", "/nowhere")])).unwrap_err();
    assert!(matches!(err, CredentialsError::NoRegion { .. }), "{err}");
}

#[test]
fn the_sync_step_functions_endpoint_shares_the_states_override_unless_it_has_its_own() {
    let uri = "arn:aws:apigateway:us-east-1:sync-states:action/StartSyncExecution";
    let target = AwsTarget::parse(uri).unwrap();
    let client = HttpClient::new();
    let prepared = local(&["states"]).prepare(&target, &client).unwrap();
    assert_eq!(prepared.endpoint_url(), "http://127.0.0.1:5000");
    assert_eq!(prepared.signing_name(), "states");
    let own = local(&["states"])
        .with_endpoint("sync-states", "http://127.0.0.1:6000")
        .unwrap();
    let prepared = own.prepare(&target, &client).unwrap();
    assert_eq!(prepared.endpoint_url(), "http://127.0.0.1:6000");
    let request = build(&own, uri, ServiceRequest::new(Method::POST, "{}"));
    assert_eq!(
        header(&request, "x-amz-target"),
        Some("AWSStepFunctions.StartSyncExecution")
    );
    assert_eq!(
        header(&request, "content-type"),
        Some("application/x-amz-json-1.0")
    );
    assert!(
        header(&request, "authorization")
            .unwrap()
            .contains("/us-east-1/states/aws4_request"),
        "{request:?}"
    );
    // The states endpoint does not take the sync one's override.
    let states =
        AwsTarget::parse("arn:aws:apigateway:us-east-1:states:action/StartExecution").unwrap();
    let sync_only = local(&["sync-states"]).prepare(&states, &client).unwrap();
    assert_eq!(
        sync_only.endpoint_url(),
        "https://states.us-east-1.amazonaws.com"
    );
}

#[test]
fn a_path_target_request_may_name_its_own_path() {
    let config = local(&["appconfig"]);
    let uri = "arn:aws:apigateway:us-east-1:appconfig:path/applications";
    let request = build(
        &config,
        uri,
        ServiceRequest::new(Method::GET, "")
            .with_path("/applications/my%20app/environments/a b")
            .query_param("client_id", "c 1"),
    );
    assert_eq!(
        request.uri().to_string(),
        "/applications/my%20app/environments/a%20b?client_id=c%201"
    );
    // An action's request cannot.
    let target = AwsTarget::parse("arn:aws:apigateway:us-east-1:sqs:action/PurgeQueue").unwrap();
    let err = local(&["sqs"])
        .prepare(&target, &HttpClient::new())
        .unwrap()
        .build_request_at(ServiceRequest::new(Method::POST, "").with_path("x"), time())
        .unwrap_err();
    assert!(matches!(err, ServiceError::InvalidRequest(_)), "{err}");
}
