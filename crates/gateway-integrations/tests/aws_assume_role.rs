//! Integrations whose `credentials` is an IAM role, against moto: the gateway
//! assumes the role through STS `AssumeRole` and signs the AWS service request (or
//! the Lambda Invoke API request) with the role's temporary credentials.
//!
//! moto's `GetCallerIdentity` answers with the identity of the access key that
//! signed the request, so an STS integration shows whose credentials it was called
//! with. A recording proxy on 127.0.0.1 sits in front of moto to count the
//! `AssumeRole` calls and to see which access key signed each request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod moto;
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use gateway_core::body::Body;
use gateway_core::lambda::SharedInvoker;
use gateway_core::model::{
    ApiProtocol, Integration, IntegrationResponse, IntegrationType, RouteMethod,
};
use gateway_core::stage::StageVariables;
use gateway_integrations::aws::{
    AssumeRoleErrorKind, AwsConfig, Clock, Credentials, CredentialsProvider, RemoteLambda, RoleArn,
};
use gateway_integrations::lambda::{Functions, InProcessFunction};
use gateway_integrations::{CompileContext, CompileError, HttpClient, IntegrationService};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;

use moto::{ACCOUNT, Moto, REGION};
use support::{Backend, body_bytes, call, dead_addr, request, route};

/// The gateway's own access key.
const SOURCE_KEY: &str = "AKIDMOTOTEST";
const ROLE: &str = "arn:aws:iam::123456789012:role/gateway-role";
const IDENTITY_URI: &str = "arn:aws:apigateway:us-east-1:sts:action/GetCallerIdentity";
const FUNCTION_URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/\
                            arn:aws:lambda:us-east-1:123456789012:function:orders/invocations";

/// One request the proxy passed on.
#[derive(Debug, Clone)]
struct Seen {
    action: String,
    role: Option<String>,
    /// The access key of the request's signature.
    access_key: String,
    /// For `AssumeRole`, the access key moto issued.
    issued: Option<String>,
}

/// A proxy in front of moto that records every request.
struct Recorder {
    backend: Backend,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    async fn start(upstream: SocketAddr) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let backend = Backend::start(move |req: Request<Incoming>| {
            let log = Arc::clone(&log);
            async move {
                let (parts, body) = req.into_parts();
                let body = body.collect().await.unwrap().to_bytes();
                let form = String::from_utf8_lossy(&body).into_owned();
                let access_key = parts
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|auth| auth.split("Credential=").nth(1))
                    .and_then(|credential| credential.split('/').next())
                    .unwrap_or_default()
                    .to_owned();

                let stream = TcpStream::connect(upstream).await.unwrap();
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(connection);
                let mut forward = Request::builder()
                    .method(parts.method)
                    .uri(parts.uri)
                    .body(Full::new(body))
                    .unwrap();
                *forward.headers_mut() = parts.headers;
                let (head, answer) = sender.send_request(forward).await.unwrap().into_parts();
                let answer = answer.collect().await.unwrap().to_bytes();

                let action = form_value(&form, "Action").unwrap_or_default();
                let issued = (action == "AssumeRole")
                    .then(|| xml_value(&String::from_utf8_lossy(&answer), "AccessKeyId"))
                    .flatten();
                log.lock().unwrap().push(Seen {
                    role: form_value(&form, "RoleArn"),
                    action,
                    access_key,
                    issued,
                });
                Response::from_parts(head, Body::full(answer))
            }
        })
        .await;
        Self { backend, seen }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.backend.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The `AssumeRole` calls so far.
    fn assumed(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.action == "AssumeRole")
            .collect()
    }

    /// The last request of `action`.
    fn last(&self, action: &str) -> Seen {
        self.seen()
            .into_iter()
            .rev()
            .find(|s| s.action == action)
            .unwrap_or_else(|| panic!("no {action} request"))
    }
}

/// A decoded value of a form body.
fn form_value(form: &str, name: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| {
            percent_encoding::percent_decode_str(&value.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// The text of the first `<tag>` in `xml`.
fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..end].to_owned())
}

/// A clock the test moves forward by hand.
fn manual_clock() -> (Clock, Arc<AtomicU64>) {
    let start = SystemTime::now();
    let offset = Arc::new(AtomicU64::new(0));
    let read = Arc::clone(&offset);
    let clock = Clock::from_fn(move || start + Duration::from_secs(read.load(Ordering::SeqCst)));
    (clock, offset)
}

fn config(sts: &str, clock: Clock) -> AwsConfig {
    AwsConfig::new(
        REGION,
        CredentialsProvider::fixed(Credentials::new(SOURCE_KEY, "moto-secret")),
    )
    .with_clock(clock)
    .with_endpoint("sts", sts)
    .unwrap()
}

/// An AWS integration calling STS GetCallerIdentity, its answer passed through.
fn identity(credentials: Option<&str>) -> Integration {
    let mut integration = Integration::new(IntegrationType::Aws);
    integration.uri = Some(IDENTITY_URI.to_owned());
    integration.http_method = Some("POST".to_owned());
    integration.credentials = credentials.map(str::to_owned);
    integration.responses = vec![IntegrationResponse::new("default", "200")];
    integration
}

fn compile_with(
    integration: Integration,
    config: &AwsConfig,
    invoker: Option<&SharedInvoker>,
    variables: &StageVariables,
) -> Result<IntegrationService, CompileError> {
    let client = HttpClient::new();
    let mut ctx = CompileContext::new(variables, &client, ApiProtocol::Rest).with_aws(config);
    if let Some(invoker) = invoker {
        ctx = ctx.with_invoker(invoker);
    }
    gateway_integrations::compile(&route(RouteMethod::Any, "/who", integration), &ctx)
}

fn compile(integration: Integration, config: &AwsConfig) -> IntegrationService {
    compile_with(integration, config, None, &StageVariables::new()).unwrap()
}

/// Calls a route and returns its status and body text.
async fn who(service: &IntegrationService) -> (StatusCode, String) {
    let response = call(
        service,
        request(Method::POST, "/who", "/who", Body::from("")),
    )
    .await;
    let status = response.status();
    let body = body_bytes(response).await;
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn get_caller_identity_is_answered_for_the_assumed_role() {
    let moto = Moto::start();
    let sts = Recorder::start(moto.addr()).await;
    let config = config(&sts.endpoint(), Clock::system());

    let as_role = compile(identity(Some(ROLE)), &config);
    let (status, body) = who(&as_role).await;
    assert_eq!(status, StatusCode::OK, "{body}\n{}", moto.output());
    assert_eq!(
        xml_value(&body, "Arn").as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/gateway-role/api-gateway"),
        "{body}"
    );

    // STS was asked with the gateway's own key; the backend call carried the key
    // STS issued.
    let assumed = sts.assumed();
    assert_eq!(assumed.len(), 1, "{assumed:?}");
    assert_eq!(assumed[0].access_key, SOURCE_KEY);
    assert_eq!(assumed[0].role.as_deref(), Some(ROLE));
    let issued = assumed[0].issued.clone().unwrap();
    assert!(issued.starts_with("ASIA"), "{issued}");
    assert_eq!(sts.last("GetCallerIdentity").access_key, issued);

    // The same integration without credentials: the gateway's own identity.
    let as_gateway = compile(identity(None), &config);
    let (status, body) = who(&as_gateway).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        xml_value(&body, "Arn").as_deref(),
        Some(format!("arn:aws:sts::{ACCOUNT}:user/moto").as_str()),
        "{body}"
    );
    assert_eq!(sts.last("GetCallerIdentity").access_key, SOURCE_KEY);
    assert_eq!(sts.assumed().len(), 1);

    // An empty value is no credentials.
    let blank = compile(identity(Some("  ")), &config);
    let (_, body) = who(&blank).await;
    assert!(body.contains(":user/moto"), "{body}");
}

#[tokio::test]
async fn role_credentials_are_reused_then_refreshed_before_they_expire() {
    let moto = Moto::start();
    let sts = Recorder::start(moto.addr()).await;
    let (clock, offset) = manual_clock();
    let config = config(&sts.endpoint(), clock);
    let service = compile(identity(Some(ROLE)), &config);

    // Concurrent first requests share one AssumeRole call.
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let service = service.clone();
            tokio::spawn(async move { who(&service).await })
        })
        .collect();
    for call in calls {
        let (status, body) = call.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("assumed-role/gateway-role/"), "{body}");
    }
    assert_eq!(sts.assumed().len(), 1);
    let first_key = sts.assumed()[0].issued.clone().unwrap();

    // Reused by later requests, and by another route with the same role.
    let other_route = compile(identity(Some(ROLE)), &config);
    for service in [&service, &other_route, &service] {
        let (status, _) = who(service).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(sts.last("GetCallerIdentity").access_key, first_key);
    }
    assert_eq!(sts.assumed().len(), 1);

    // Moto issues them for the requested hour. Until five minutes before that,
    // they serve; then they are refreshed.
    offset.store(3600 - 310, Ordering::SeqCst);
    who(&service).await;
    assert_eq!(sts.assumed().len(), 1);
    offset.store(3600 - 290, Ordering::SeqCst);
    let (status, body) = who(&service).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("assumed-role/gateway-role/"), "{body}");
    let assumed = sts.assumed();
    assert_eq!(assumed.len(), 2);
    let second_key = assumed[1].issued.clone().unwrap();
    assert_ne!(second_key, first_key);
    assert_eq!(sts.last("GetCallerIdentity").access_key, second_key);
    who(&other_route).await;
    assert_eq!(sts.last("GetCallerIdentity").access_key, second_key);
    assert_eq!(sts.assumed().len(), 2);
}

#[tokio::test]
async fn a_role_sts_refuses_answers_the_integration_failure() {
    // moto authenticating every request: the gateway's key is unknown to it.
    let moto = Moto::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let sts = Recorder::start(moto.addr()).await;
    let config = config(&sts.endpoint(), Clock::system());

    let service = compile(identity(Some(ROLE)), &config);
    let response = call(
        &service,
        request(Method::POST, "/who", "/who", Body::from("")),
    )
    .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "InternalServerErrorException"
    );
    assert_eq!(
        body_bytes(response).await,
        Bytes::from_static(br#"{"message":"Internal server error"}"#)
    );
    // Only AssumeRole went out; the failure is not cached, so the next request
    // asks again.
    who(&service).await;
    let seen = sts.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|s| s.action == "AssumeRole"), "{seen:?}");

    // The error carries STS's status, code and message.
    let role = RoleArn::parse(ROLE).unwrap();
    let err = config
        .assumed_role(&role, &HttpClient::new())
        .unwrap()
        .credentials()
        .await
        .unwrap_err();
    assert_eq!(err.role(), ROLE);
    match err.kind() {
        AssumeRoleErrorKind::Sts {
            status,
            code,
            message,
        } => {
            assert_eq!(*status, 403);
            assert_eq!(code.as_deref(), Some("InvalidClientTokenId"));
            assert!(message.contains("security token"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().starts_with(&format!(
            "cannot assume role `{ROLE}`: STS answered 403 InvalidClientTokenId: "
        )),
        "{err}"
    );
}

/// One Invoke API request: the access key that signed it and whether it carried
/// a session token.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Invoked {
    function: String,
    access_key: String,
    token: bool,
}

/// A Lambda Invoke API that records who invoked and answers a proxy response.
async fn lambda_api() -> (Backend, Arc<Mutex<Vec<Invoked>>>) {
    let invoked = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&invoked);
    let backend = Backend::start(move |req: Request<Incoming>| {
        let log = Arc::clone(&log);
        async move {
            let access_key = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|auth| auth.split("Credential=").nth(1))
                .and_then(|credential| credential.split('/').next())
                .unwrap_or_default()
                .to_owned();
            log.lock().unwrap().push(Invoked {
                function: req.uri().path().to_owned(),
                access_key,
                token: req.headers().contains_key("x-amz-security-token"),
            });
            let mut response = Response::new(Body::from(
                json!({"statusCode": 200, "body": "invoked"}).to_string(),
            ));
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            response
        }
    })
    .await;
    (backend, invoked)
}

fn lambda_integration(kind: IntegrationType, credentials: Option<&str>) -> Integration {
    let mut integration = Integration::new(kind);
    integration.uri = Some(FUNCTION_URI.to_owned());
    integration.http_method = Some("POST".to_owned());
    integration.credentials = credentials.map(str::to_owned);
    integration.responses = vec![IntegrationResponse::new("default", "200")];
    integration
}

#[tokio::test]
async fn remote_lambda_invocations_are_signed_as_the_role() {
    let moto = Moto::start();
    let sts = Recorder::start(moto.addr()).await;
    let (api, invoked) = lambda_api().await;
    let config = config(&sts.endpoint(), Clock::system())
        .with_endpoint("lambda", &format!("http://{}", api.addr))
        .unwrap();
    let remote: SharedInvoker = Arc::new(RemoteLambda::new(&config, &HttpClient::new()).unwrap());
    let variables = StageVariables::new();
    let last = || invoked.lock().unwrap().last().cloned().unwrap();

    // Lambda proxy, as the role.
    let proxy = compile_with(
        lambda_integration(IntegrationType::AwsProxy, Some(ROLE)),
        &config,
        Some(&remote),
        &variables,
    )
    .unwrap();
    let (status, body) = who(&proxy).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "invoked"));
    let issued = sts.assumed()[0].issued.clone().unwrap();
    assert_eq!(
        last(),
        Invoked {
            function: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aorders/invocations".to_owned(),
            access_key: issued.clone(),
            token: true,
        }
    );

    // Non-proxy Lambda, as the same role: the cached credentials.
    let mapped = compile_with(
        lambda_integration(IntegrationType::Aws, Some(ROLE)),
        &config,
        Some(&remote),
        &variables,
    )
    .unwrap();
    let (status, _) = who(&mapped).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(last().access_key, issued);
    assert_eq!(sts.assumed().len(), 1);

    // Without credentials: the gateway's own key.
    let own = compile_with(
        lambda_integration(IntegrationType::AwsProxy, None),
        &config,
        Some(&remote),
        &variables,
    )
    .unwrap();
    who(&own).await;
    assert_eq!(last().access_key, SOURCE_KEY);
    assert!(!last().token);

    // Through an in-process registry: the remote fallback signs as the role, while
    // an in-process function never needs it assumed.
    let local = InProcessFunction::new(tower::service_fn(|_: serde_json::Value| async {
        Ok::<_, std::convert::Infallible>(json!({"statusCode": 200, "body": "local"}))
    }));
    let functions = Functions::new()
        .with_function("local", local)
        .with_fallback(Arc::clone(&remote))
        .shared();
    let fallback = compile_with(
        lambda_integration(IntegrationType::AwsProxy, Some(ROLE)),
        &config,
        Some(&functions),
        &variables,
    )
    .unwrap();
    who(&fallback).await;
    assert_eq!(last().access_key, issued);
    let mut in_process = lambda_integration(
        IntegrationType::AwsProxy,
        Some("arn:aws:iam::123456789012:role/never-assumed"),
    );
    in_process.uri = Some(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/local/invocations"
            .to_owned(),
    );
    let in_process = compile_with(in_process, &config, Some(&functions), &variables).unwrap();
    let (status, body) = who(&in_process).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "local"));
    assert_eq!(sts.assumed().len(), 1);
    assert_eq!(invoked.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_fails_the_invocation() {
    let (api, invoked) = lambda_api().await;
    let unreachable = format!("http://{}", dead_addr().await);
    let config = config(&unreachable, Clock::system())
        .with_endpoint("lambda", &format!("http://{}", api.addr))
        .unwrap();
    let remote: SharedInvoker = Arc::new(RemoteLambda::new(&config, &HttpClient::new()).unwrap());
    let variables = StageVariables::new();
    for kind in [IntegrationType::AwsProxy, IntegrationType::Aws] {
        let service = compile_with(
            lambda_integration(kind, Some(ROLE)),
            &config,
            Some(&remote),
            &variables,
        )
        .unwrap();
        let response = call(
            &service,
            request(Method::POST, "/who", "/who", Body::from("")),
        )
        .await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()["x-amzn-errortype"],
            "InternalServerErrorException"
        );
        assert_eq!(
            body_bytes(response).await,
            Bytes::from_static(br#"{"message":"Internal server error"}"#)
        );
    }
    assert!(invoked.lock().unwrap().is_empty());
}

#[test]
fn credentials_that_are_not_a_role_do_not_compile() {
    let config = config("http://127.0.0.1:9", Clock::system());
    let mut variables = StageVariables::new();
    variables.insert("role", "gateway-role").unwrap();
    variables.insert("bad", "team//role").unwrap();
    let invoker: SharedInvoker = Functions::new().shared();

    let refused = |integration: Integration| {
        let err = compile_with(integration, &config, Some(&invoker), &variables)
            .expect_err("the route must not compile");
        match &err {
            CompileError::Credentials { route, .. } => assert_eq!(route, "ANY /who"),
            other => panic!("{other:?}"),
        }
        err.to_string()
    };

    // The caller's credentials, on a service and on a Lambda proxy integration.
    let message = refused(identity(Some("arn:aws:iam::*:user/*")));
    assert!(
        message.starts_with("ANY /who: integration field `credentials`: "),
        "{message}"
    );
    assert!(message.contains("caller's own credentials"), "{message}");
    let message = refused(lambda_integration(
        IntegrationType::AwsProxy,
        Some("arn:aws:iam::*:user/*"),
    ));
    assert!(message.contains("caller's own credentials"), "{message}");

    // Not a role.
    let message = refused(identity(Some("gateway-role")));
    assert!(message.contains("not an IAM role ARN"), "{message}");
    let message = refused(lambda_integration(
        IntegrationType::Aws,
        Some("arn:aws:iam::123456789012:user/bob"),
    ));
    assert!(message.contains("IAM user"), "{message}");
    let message = refused(identity(Some(
        "arn:aws:iam::123456789012:role/${stageVariables.bad}",
    )));
    assert!(
        message.contains("(after substituting stage variables)"),
        "{message}"
    );

    // A role named by a stage variable compiles.
    compile_with(
        identity(Some(
            "arn:aws:iam::123456789012:role/${stageVariables.role}",
        )),
        &config,
        None,
        &variables,
    )
    .unwrap();

    // Other integration types ignore the field, as AWS does.
    let mut http = Integration::new(IntegrationType::HttpProxy);
    http.uri = Some("http://127.0.0.1:9/".to_owned());
    http.http_method = Some("ANY".to_owned());
    http.credentials = Some("arn:aws:iam::*:user/*".to_owned());
    compile_with(http, &config, None, &variables).unwrap();
}
