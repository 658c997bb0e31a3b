//! Lambda authorizers end to end: the layer in front of services served by real
//! hyper servers on loopback, the plain check API, and the events compared with
//! the examples of AWS's developer guide. The authorizer function runs in
//! process behind the same invoker trait the gateway uses for Lambda
//! integrations: it reads the event JSON, decides by the token and answers JSON.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse, ApiGatewayV2CustomAuthorizerSimpleResponse,
    ApiGatewayV2CustomAuthorizerV1Request, ApiGatewayV2CustomAuthorizerV2Request,
};
use bytes::Bytes;
use gateway_auth::ApiScope;
use gateway_auth::lambda::{
    Clock, LambdaAuthorizer, LambdaAuthorizerError, LambdaAuthorizerLayer, ManualClock,
};
use gateway_auth::policy::Decision;
use gateway_core::context::{Identity, UsageIdentifierKey};
use gateway_core::lambda::{
    Invocation, InvocationOutput, InvokeError, InvokeFuture, LambdaInvoker,
};
use gateway_core::model::{ApiProtocol, Authorizer, AuthorizerType, RouteMethod};
use gateway_core::router::{MatchMode, Router};
use gateway_core::stage::StageVariables;
use gateway_core::{Body, GatewayError, GatewayResponseType, RequestContext};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::{TcpListener, TcpStream};
use tower::{Service, ServiceBuilder, ServiceExt};

const URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/\
                   arn:aws:lambda:us-east-1:123456789012:function:authorizer/invocations";
/// Where the tests' manual clocks start: 2024-03-04T12:00:00Z.
const START_SECS: u64 = 1_709_553_600;
const PETS_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets";
const CATS_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/cats";

// ---------------------------------------------------------------------------
// The authorizer function
// ---------------------------------------------------------------------------

/// What the function does with one event.
enum Reply {
    /// Answers this JSON.
    Json(Value),
    /// Answers these bytes as they are.
    Raw(&'static str),
    /// Fails with this error message, as a thrown exception does.
    Error(&'static str),
    /// Cannot be invoked at all.
    NotFound,
    /// Never answers.
    Hang,
}

type Handler = dyn Fn(&Value) -> Reply + Send + Sync;

/// A function run in process: counts its invocations and keeps the events.
struct Function {
    handler: Box<Handler>,
    calls: AtomicUsize,
    events: Mutex<Vec<Value>>,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Function")
    }
}

#[derive(Debug, Clone)]
struct InProcess(Arc<Function>);

impl Function {
    fn new(handler: impl Fn(&Value) -> Reply + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            handler: Box::new(handler),
            calls: AtomicUsize::new(0),
            events: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn last_event(&self) -> Value {
        self.events.lock().unwrap().last().cloned().unwrap()
    }

    fn invoker(self: &Arc<Self>) -> Arc<InProcess> {
        Arc::new(InProcess(Arc::clone(self)))
    }
}

impl LambdaInvoker for InProcess {
    fn invoke(&self, invocation: Invocation) -> InvokeFuture {
        let function = Arc::clone(&self.0);
        Box::pin(async move {
            assert_eq!(invocation.function.name(), "authorizer");
            function.calls.fetch_add(1, Ordering::SeqCst);
            let event: Value = invocation.payload.deserialize().unwrap();
            function.events.lock().unwrap().push(event.clone());
            match (function.handler)(&event) {
                Reply::Json(answer) => Ok(InvocationOutput::ok(answer.to_string())),
                Reply::Raw(text) => Ok(InvocationOutput::ok(text)),
                Reply::Error(message) => Ok(InvocationOutput {
                    payload: json!({"errorMessage": message, "errorType": "Error"})
                        .to_string()
                        .into(),
                    function_error: Some("Unhandled".to_owned()),
                }),
                Reply::NotFound => Err(InvokeError::NotFound(
                    "Function not found: authorizer".to_owned(),
                )),
                Reply::Hang => std::future::pending().await,
            }
        })
    }
}

fn policy(principal: &str, effect: &str, resource: &str) -> Value {
    json!({
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]
        },
        "context": {"stringKey": "stringval", "numberKey": 123, "booleanKey": true},
        "usageIdentifierKey": "usage-key-1"
    })
}

/// The token a REST or HTTP API event carries.
fn token_of(event: &Value) -> String {
    if let Some(token) = event["authorizationToken"].as_str() {
        return token.to_owned();
    }
    if let Some(values) = event["identitySource"].as_array() {
        let values: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        return values.join(",");
    }
    event["headers"]["x-token"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// The example function of AWS's guide, extended: the token decides.
fn decide(event: &Value) -> Reply {
    let arn = event["methodArn"]
        .as_str()
        .or_else(|| event["routeArn"].as_str())
        .unwrap()
        .to_owned();
    match token_of(event).as_str() {
        // Allowed for the method ARN of this event only.
        "allow" => Reply::Json(policy("user", "Allow", &arn)),
        "deny" => Reply::Json(policy("user", "Deny", &arn)),
        "elsewhere" => Reply::Json(policy(
            "user",
            "Allow",
            "arn:aws:execute-api:us-east-1:123456789012:other/*",
        )),
        "unauthorized" => Reply::Error("Unauthorized"),
        "garbage" => Reply::Raw("this is not JSON"),
        "no-policy" => Reply::Json(json!({"principalId": "user"})),
        "nested-context" => {
            let mut answer = policy("user", "Allow", &arn);
            answer["context"] = json!({"roles": ["a", "b"]});
            Reply::Json(answer)
        }
        "gone" => Reply::NotFound,
        "hang" => Reply::Hang,
        _ => Reply::Error("Error: Invalid token"),
    }
}

// ---------------------------------------------------------------------------
// Authorizers and requests
// ---------------------------------------------------------------------------

fn token_model(ttl: Option<u32>) -> Authorizer {
    Authorizer {
        name: "tokens".to_owned(),
        kind: AuthorizerType::Token,
        uri: Some(URI.to_owned()),
        identity_source: vec!["method.request.header.Authorization".to_owned()],
        result_ttl_seconds: ttl,
        ..Authorizer::default()
    }
}

/// A clock that moves only when the test moves it.
fn manual_clock() -> ManualClock {
    Clock::manual(Duration::from_secs(START_SECS)).1
}

fn token_authorizer(
    function: &Arc<Function>,
    ttl: Option<u32>,
    clock: &ManualClock,
) -> LambdaAuthorizer {
    LambdaAuthorizer::builder(&token_model(ttl), ApiProtocol::Rest, function.invoker())
        .clock(clock.clock())
        .build()
        .unwrap()
}

fn context(api_id: &str, stage: &str) -> RequestContext {
    RequestContext {
        request_id: "c0ffee00-0000-4000-8000-000000000001".to_owned(),
        api_id: api_id.into(),
        account_id: "123456789012".into(),
        stage: stage.into(),
        resource_path: "/pets".into(),
        identity: Identity {
            source_ip: "198.51.100.7".to_owned(),
            ..Identity::default()
        },
        ..RequestContext::default()
    }
}

/// A request as the gateway hands it on: with a `$context` of API `abc123`,
/// stage `prod`.
fn request(path: &str, token: Option<&str>) -> Request<()> {
    let mut req = Request::get(path);
    if let Some(token) = token {
        req = req.header("authorization", token);
    }
    let mut req = req.body(()).unwrap();
    req.extensions_mut().insert(context("abc123", "prod"));
    req
}

async fn authorize(
    authorizer: &LambdaAuthorizer,
    token: Option<&str>,
    arn: &str,
) -> Result<Decision, GatewayError> {
    let mut req = request("/pets", token);
    authorizer
        .authorize(&mut req, arn)
        .await
        .map(|a| a.decision)
}

// ---------------------------------------------------------------------------
// A real server with the layer in front
// ---------------------------------------------------------------------------

/// The application behind the layer: reports what it learned about the caller.
fn app(
    calls: Arc<AtomicUsize>,
) -> impl Service<
    Request<Incoming>,
    Response = Response<Body>,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |req: Request<Incoming>| {
        calls.fetch_add(1, Ordering::SeqCst);
        let ctx = req.extensions().get::<RequestContext>().unwrap();
        let body = json!({
            "principalId": ctx.authorizer.principal_id,
            "context": ctx.authorizer.context,
            "stringKey": ctx.variable("authorizer.stringKey").map(|v| v.into_owned()),
            "numberKey": ctx.variable("authorizer.numberKey").map(|v| v.into_owned()),
            "usageIdentifierKey": req.extensions().get::<UsageIdentifierKey>().map(|k| k.0.clone()),
        });
        async move { Ok::<_, Infallible>(Response::new(Body::from(body.to_string()))) }
    })
}

/// What the gateway's earlier layers would have put in the request.
fn with_context(mut req: Request<Incoming>) -> Request<Incoming> {
    req.extensions_mut().insert(context("abc123", "prod"));
    req
}

async fn serve(authorizer: LambdaAuthorizer) -> (SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let service = ServiceBuilder::new()
        .map_request(with_context)
        .layer(LambdaAuthorizerLayer::new(authorizer))
        .service(app(Arc::clone(&calls)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| service.clone().oneshot(req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, calls)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    fn assert_error(&self, status: u16, body: &str, error_type: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.body, body);
        assert_eq!(self.headers["x-amzn-errortype"], error_type);
        assert_eq!(self.headers["content-type"], "application/json");
    }
}

async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::get(path).header("host", addr.to_string());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = sender
        .send_request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

// ---------------------------------------------------------------------------
// REST TOKEN authorizers through the layer
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_allow_reaches_the_service_with_the_authorizer_context() {
    let function = Function::new(decide);
    let (addr, calls) = serve(token_authorizer(&function, Some(0), &manual_clock())).await;

    let ok = get(addr, "/pets", &[("Authorization", "allow")]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(
        ok.json(),
        json!({
            "principalId": "user",
            // REST APIs keep context values as strings, as `$context.authorizer.*`
            // and the proxy event show them.
            "context": {"stringKey": "stringval", "numberKey": "123", "booleanKey": "true"},
            "stringKey": "stringval",
            "numberKey": "123",
            "usageIdentifierKey": "usage-key-1",
        })
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        function.last_event(),
        json!({"type": "TOKEN", "authorizationToken": "allow", "methodArn": PETS_ARN})
    );
}

#[tokio::test]
async fn denies_are_403_with_aws_messages() {
    let function = Function::new(decide);
    let (addr, calls) = serve(token_authorizer(&function, Some(0), &manual_clock())).await;

    get(addr, "/pets", &[("Authorization", "deny")])
        .await
        .assert_error(
            403,
            r#"{"message":"User is not authorized to access this resource with an explicit deny"}"#,
            "AccessDeniedException",
        );
    get(addr, "/pets", &[("Authorization", "elsewhere")])
        .await
        .assert_error(
            403,
            r#"{"message":"User is not authorized to access this resource"}"#,
            "AccessDeniedException",
        );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "a denied request got through"
    );
    assert_eq!(function.calls(), 2);
}

#[tokio::test]
async fn unauthorized_and_failing_authorizers() {
    let function = Function::new(decide);
    let (addr, calls) = serve(token_authorizer(&function, Some(300), &manual_clock())).await;
    let unauthorized = r#"{"message":"Unauthorized"}"#;

    get(addr, "/pets", &[("Authorization", "unauthorized")])
        .await
        .assert_error(401, unauthorized, "UnauthorizedException");
    for token in ["fail", "garbage", "no-policy", "nested-context", "gone"] {
        get(addr, "/pets", &[("Authorization", token)])
            .await
            .assert_error(
                500,
                r#"{"message":null}"#,
                "AuthorizerConfigurationException",
            );
    }
    assert_eq!(function.calls(), 6);

    // No token at all, or an empty one: 401 without calling the function.
    get(addr, "/pets", &[])
        .await
        .assert_error(401, unauthorized, "UnauthorizedException");
    get(addr, "/pets", &[("Authorization", "")])
        .await
        .assert_error(401, unauthorized, "UnauthorizedException");
    assert_eq!(function.calls(), 6);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn failures_have_their_gateway_response_types() {
    let function = Function::new(decide);
    let authorizer = token_authorizer(&function, Some(300), &manual_clock());
    let kind = |result: Result<Decision, GatewayError>| result.unwrap_err().kind();
    assert_eq!(
        kind(authorize(&authorizer, Some("unauthorized"), PETS_ARN).await),
        GatewayResponseType::Unauthorized
    );
    for token in ["fail", "garbage", "no-policy", "nested-context"] {
        let err = authorize(&authorizer, Some(token), PETS_ARN)
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            GatewayResponseType::AuthorizerFailure,
            "{token}"
        );
        assert_eq!(err.message(), None, "{token}");
    }
    assert_eq!(
        kind(authorize(&authorizer, Some("gone"), PETS_ARN).await),
        GatewayResponseType::AuthorizerConfigurationError
    );
}

#[tokio::test(start_paused = true)]
async fn a_function_that_never_answers_times_out() {
    let function = Function::new(decide);
    let authorizer = token_authorizer(&function, Some(300), &manual_clock());
    let started = tokio::time::Instant::now();
    let err = authorize(&authorizer, Some("hang"), PETS_ARN)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        GatewayResponseType::AuthorizerConfigurationError
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(29) && waited < Duration::from_secs(30),
        "{waited:?}"
    );
}

#[tokio::test]
async fn the_validation_expression_is_checked_before_calling() {
    let function = Function::new(decide);
    let mut model = token_model(Some(0));
    model.identity_validation_expression = Some("allow|deny".to_owned());
    let authorizer = LambdaAuthorizer::new(&model, ApiProtocol::Rest, function.invoker()).unwrap();

    for token in ["fail", "allowed", "xallow"] {
        let err = authorize(&authorizer, Some(token), PETS_ARN)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), GatewayResponseType::Unauthorized, "{token}");
    }
    assert_eq!(function.calls(), 0, "the whole token must match");
    assert_eq!(
        authorize(&authorizer, Some("allow"), PETS_ARN)
            .await
            .unwrap(),
        Decision::Allow
    );
    assert_eq!(
        authorize(&authorizer, Some("deny"), PETS_ARN)
            .await
            .unwrap(),
        Decision::Deny
    );
    assert_eq!(function.calls(), 2);
}

#[tokio::test]
async fn misconfigured_authorizers_fail_to_build_or_answer_500() {
    let function = Function::new(decide);
    let mut model = token_model(Some(7200));
    assert!(matches!(
        LambdaAuthorizer::new(&model, ApiProtocol::Rest, function.invoker()),
        Err(LambdaAuthorizerError::TtlOutOfRange { seconds: 7200, .. })
    ));
    model.result_ttl_seconds = None;
    model.uri = Some("arn:aws:apigateway:us-east-1:lambda:path/not-a-function".to_owned());
    assert!(matches!(
        LambdaAuthorizer::new(&model, ApiProtocol::Rest, function.invoker()),
        Err(LambdaAuthorizerError::InvalidUri { .. })
    ));

    let failing =
        LambdaAuthorizer::builder(&model, ApiProtocol::Rest, function.invoker()).build_or_failing();
    assert!(failing.config().is_none());
    let (addr, calls) = serve(failing).await;
    get(addr, "/pets", &[("Authorization", "allow")])
        .await
        .assert_error(
            500,
            r#"{"message":null}"#,
            "AuthorizerConfigurationException",
        );
    assert_eq!((function.calls(), calls.load(Ordering::SeqCst)), (0, 0));
}

// ---------------------------------------------------------------------------
// The cache
// ---------------------------------------------------------------------------

#[tokio::test]
async fn cached_policies_are_evaluated_again_for_each_method_arn() {
    let function = Function::new(decide);
    let clock = manual_clock();
    let authorizer = token_authorizer(&function, Some(300), &clock);

    for _ in 0..3 {
        assert_eq!(
            authorize(&authorizer, Some("allow"), PETS_ARN)
                .await
                .unwrap(),
            Decision::Allow
        );
    }
    assert_eq!(
        function.calls(),
        1,
        "hits within the TTL call the function once"
    );

    // The cached policy allows only the ARN of the first request.
    assert_eq!(
        authorize(&authorizer, Some("allow"), CATS_ARN)
            .await
            .unwrap(),
        Decision::Implicit
    );
    assert_eq!(function.calls(), 1);

    // A hit fills the context again.
    let mut req = request("/cats", Some("allow"));
    let authorized = authorizer.authorize(&mut req, CATS_ARN).await.unwrap();
    assert_eq!(authorized.principal_id(), Some("user"));
    let ctx = req.extensions().get::<RequestContext>().unwrap();
    assert_eq!(ctx.authorizer.principal_id.as_deref(), Some("user"));
    assert_eq!(ctx.variable("authorizer.booleanKey").unwrap(), "true");
    assert_eq!(
        req.extensions().get::<UsageIdentifierKey>().unwrap().0,
        "usage-key-1"
    );

    // Expiry, by the injected clock.
    clock.advance(Duration::from_secs(299));
    authorize(&authorizer, Some("allow"), PETS_ARN)
        .await
        .unwrap();
    assert_eq!(function.calls(), 1);
    clock.advance(Duration::from_secs(1));
    authorize(&authorizer, Some("allow"), PETS_ARN)
        .await
        .unwrap();
    assert_eq!(
        function.calls(),
        2,
        "an expired result calls the function again"
    );

    // Another token is another entry; clearing drops them all.
    authorize(&authorizer, Some("deny"), PETS_ARN)
        .await
        .unwrap();
    authorize(&authorizer, Some("deny"), PETS_ARN)
        .await
        .unwrap();
    assert_eq!(function.calls(), 3);
    authorizer.clear_cache();
    authorize(&authorizer, Some("deny"), PETS_ARN)
        .await
        .unwrap();
    assert_eq!(function.calls(), 4);
}

#[tokio::test]
async fn a_ttl_of_zero_caches_nothing_and_failures_are_never_cached() {
    let function = Function::new(decide);
    let uncached = token_authorizer(&function, Some(0), &manual_clock());
    authorize(&uncached, Some("allow"), PETS_ARN).await.unwrap();
    authorize(&uncached, Some("allow"), PETS_ARN).await.unwrap();
    assert_eq!(function.calls(), 2);

    let function = Function::new(decide);
    let cached = token_authorizer(&function, Some(3600), &manual_clock());
    for token in [
        "unauthorized",
        "unauthorized",
        "fail",
        "fail",
        "garbage",
        "garbage",
    ] {
        authorize(&cached, Some(token), PETS_ARN).await.unwrap_err();
    }
    assert_eq!(function.calls(), 6);
}

#[tokio::test]
async fn results_are_kept_five_minutes_by_default() {
    let function = Function::new(decide);
    let clock = manual_clock();
    let authorizer = token_authorizer(&function, None, &clock);
    authorize(&authorizer, Some("allow"), PETS_ARN)
        .await
        .unwrap();
    clock.advance(Duration::from_secs(299));
    authorize(&authorizer, Some("allow"), PETS_ARN)
        .await
        .unwrap();
    assert_eq!(function.calls(), 1, "the default TTL is 300 s");
    clock.advance(Duration::from_secs(1));
    authorize(&authorizer, Some("allow"), PETS_ARN)
        .await
        .unwrap();
    assert_eq!(function.calls(), 2);
}

#[tokio::test]
async fn results_are_not_shared_across_stages_or_apis() {
    let function = Function::new(decide);
    let clock = manual_clock();
    let prod = token_authorizer(&function, Some(300), &clock);
    let beta = token_authorizer(&function, Some(300), &clock);

    authorize(&prod, Some("allow"), PETS_ARN).await.unwrap();
    authorize(&prod, Some("allow"), PETS_ARN).await.unwrap();
    assert_eq!(function.calls(), 1);
    authorize(&beta, Some("allow"), PETS_ARN).await.unwrap();
    assert_eq!(function.calls(), 2, "another instance has its own cache");

    // Even one instance keys its entries by API and stage.
    for (api, stage) in [("abc123", "beta"), ("xyz789", "prod")] {
        let mut req = request("/pets", Some("allow"));
        req.extensions_mut().insert(context(api, stage));
        prod.authorize(&mut req, PETS_ARN).await.unwrap();
    }
    assert_eq!(function.calls(), 4);
}

// ---------------------------------------------------------------------------
// REST REQUEST authorizers
// ---------------------------------------------------------------------------

fn request_model(ttl: Option<u32>) -> Authorizer {
    Authorizer {
        name: "requests".to_owned(),
        kind: AuthorizerType::Request,
        uri: Some(URI.to_owned()),
        identity_source: vec![
            "method.request.header.X-Token".to_owned(),
            "method.request.querystring.user".to_owned(),
            "stageVariables.tier".to_owned(),
            "context.stage".to_owned(),
        ],
        result_ttl_seconds: ttl,
        ..Authorizer::default()
    }
}

fn stage_variables() -> StageVariables {
    let mut variables = StageVariables::new();
    variables.insert("tier", "gold").unwrap();
    variables
}

fn request_with(uri: &str, token: Option<&str>) -> Request<()> {
    let mut req = Request::get(uri);
    if let Some(token) = token {
        req = req.header("x-token", token);
    }
    let mut req = req.body(()).unwrap();
    req.extensions_mut().insert(context("abc123", "prod"));
    req
}

#[tokio::test]
async fn request_authorizers_read_several_identity_sources() {
    let function = Function::new(decide);
    let authorizer =
        LambdaAuthorizer::builder(&request_model(None), ApiProtocol::Rest, function.invoker())
            .stage_variables(stage_variables())
            .clock(manual_clock().clock())
            .build()
            .unwrap();

    // With caching on, every identity value is required.
    for (uri, token) in [
        ("/pets", Some("allow")),
        ("/pets?user=", Some("allow")),
        ("/pets?user=ann", None),
    ] {
        let err = authorizer
            .authorize(&mut request_with(uri, token), PETS_ARN)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), GatewayResponseType::Unauthorized, "{uri}");
    }
    assert_eq!(function.calls(), 0);

    let mut req = request_with("/pets?user=ann&user=bob", Some("allow"));
    let authorized = authorizer.authorize(&mut req, PETS_ARN).await.unwrap();
    assert_eq!(authorized.decision, Decision::Allow);
    let event = function.last_event();
    assert_eq!(event["type"], "REQUEST");
    assert_eq!(event["methodArn"], PETS_ARN);
    assert_eq!(event["headers"], json!({"x-token": "allow"}));
    assert_eq!(event["multiValueHeaders"], json!({"x-token": ["allow"]}));
    assert_eq!(event["queryStringParameters"], json!({"user": "bob"}));
    assert_eq!(
        event["multiValueQueryStringParameters"],
        json!({"user": ["ann", "bob"]})
    );
    assert_eq!(event["stageVariables"], json!({"tier": "gold"}));
    assert_eq!(event["pathParameters"], json!({}));
    assert_eq!(event["requestContext"]["stage"], "prod");
    assert_eq!(
        event["requestContext"]["identity"]["sourceIp"],
        "198.51.100.7"
    );
    serde_json::from_value::<ApiGatewayCustomAuthorizerRequestTypeRequest>(event).unwrap();

    // The key is all the values: the same ones hit, another one misses.
    authorizer
        .authorize(&mut request_with("/pets?user=bob", Some("allow")), PETS_ARN)
        .await
        .unwrap();
    assert_eq!(function.calls(), 1);
    authorizer
        .authorize(&mut request_with("/pets?user=cid", Some("allow")), PETS_ARN)
        .await
        .unwrap();
    assert_eq!(function.calls(), 2);
}

#[tokio::test]
async fn uncached_request_authorizers_are_called_without_their_sources() {
    let function = Function::new(decide);
    let authorizer = LambdaAuthorizer::new(
        &request_model(Some(0)),
        ApiProtocol::Rest,
        function.invoker(),
    )
    .unwrap();
    let err = authorizer
        .authorize(&mut request_with("/pets", None), PETS_ARN)
        .await
        .unwrap_err();
    // The function was called and refused the request.
    assert_eq!(err.kind(), GatewayResponseType::AuthorizerFailure);
    assert_eq!(function.calls(), 1);
    assert_eq!(function.last_event()["queryStringParameters"], json!({}));
}

// ---------------------------------------------------------------------------
// HTTP APIs
// ---------------------------------------------------------------------------

fn http_model(version: &str, simple: bool, ttl: Option<u32>) -> Authorizer {
    Authorizer {
        name: "http".to_owned(),
        kind: AuthorizerType::Request,
        uri: Some(URI.to_owned()),
        identity_source: vec!["$request.header.Authorization".to_owned()],
        result_ttl_seconds: ttl,
        payload_format_version: Some(version.to_owned()),
        enable_simple_responses: simple,
        ..Authorizer::default()
    }
}

fn simple_answer(event: &Value) -> Reply {
    let authorized = token_of(event) == "allow";
    Reply::Json(json!({
        "isAuthorized": authorized,
        "context": {"user": "ann", "roles": ["reader", "writer"], "level": 3}
    }))
}

#[tokio::test]
async fn http_api_simple_responses() {
    let function = Function::new(simple_answer);
    let clock = manual_clock();
    let authorizer = LambdaAuthorizer::builder(
        &http_model("2.0", true, Some(300)),
        ApiProtocol::Http,
        function.invoker(),
    )
    .clock(clock.clock())
    .build()
    .unwrap();
    let (addr, calls) = serve(authorizer).await;

    let ok = get(addr, "/pets", &[("Authorization", "allow")]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let body = ok.json();
    assert_eq!(body["principalId"], Value::Null);
    // HTTP APIs keep the context's JSON types.
    assert_eq!(
        body["context"],
        json!({"user": "ann", "roles": ["reader", "writer"], "level": 3})
    );
    assert_eq!(function.last_event()["identitySource"], json!(["allow"]));

    // The boolean and the context are cached, for every route.
    let ok = get(addr, "/cats", &[("Authorization", "allow")]).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json()["context"]["user"], "ann");
    assert_eq!(function.calls(), 1);

    let forbidden = r#"{"message":"Forbidden"}"#;
    get(addr, "/pets", &[("Authorization", "no")])
        .await
        .assert_error(403, forbidden, "ForbiddenException");
    get(addr, "/pets", &[("Authorization", "no")])
        .await
        .assert_error(403, forbidden, "ForbiddenException");
    assert_eq!(function.calls(), 2, "a refusal is an answer, and cached");
    get(addr, "/pets", &[]).await.assert_error(
        401,
        r#"{"message":"Unauthorized"}"#,
        "UnauthorizedException",
    );
    assert_eq!(function.calls(), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn events_of_requests_without_a_context_are_dated_by_the_clock() {
    let function = Function::new(simple_answer);
    let clock = manual_clock();
    let authorizer = LambdaAuthorizer::builder(
        &http_model("2.0", true, Some(0)),
        ApiProtocol::Http,
        function.invoker(),
    )
    .scope(ApiScope::new("us-east-1", "123456789012", "abc123", "prod"))
    .clock(clock.clock())
    .build()
    .unwrap();
    let bare = || {
        Request::get("/pets")
            .header("authorization", "allow")
            .body(())
            .unwrap()
    };
    authorizer.check(&mut bare()).await.unwrap();
    let event = function.last_event();
    assert_eq!(event["requestContext"]["timeEpoch"], START_SECS * 1000);
    assert_eq!(
        event["requestContext"]["time"],
        "04/Mar/2024:12:00:00 +0000"
    );
    assert_eq!(event["requestContext"]["stage"], "prod");

    clock.advance(Duration::from_millis(1500));
    authorizer.check(&mut bare()).await.unwrap();
    assert_eq!(
        function.last_event()["requestContext"]["timeEpoch"],
        START_SECS * 1000 + 1500
    );
}

#[tokio::test]
async fn http_api_policy_responses() {
    let function = Function::new(decide);
    let authorizer = LambdaAuthorizer::new(
        &http_model("2.0", false, Some(0)),
        ApiProtocol::Http,
        function.invoker(),
    )
    .unwrap();
    let (addr, calls) = serve(authorizer).await;

    let ok = get(addr, "/pets", &[("Authorization", "allow")]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.json()["principalId"], "user");
    assert_eq!(ok.json()["context"]["numberKey"], 123);
    assert_eq!(function.last_event()["routeArn"], PETS_ARN);

    let forbidden = r#"{"message":"Forbidden"}"#;
    for token in ["deny", "elsewhere"] {
        get(addr, "/pets", &[("Authorization", token)])
            .await
            .assert_error(403, forbidden, "ForbiddenException");
    }
    for token in ["fail", "garbage", "gone"] {
        get(addr, "/pets", &[("Authorization", token)])
            .await
            .assert_error(
                500,
                r#"{"message":"Internal Server Error"}"#,
                "AuthorizerConfigurationException",
            );
    }
    get(addr, "/pets", &[("Authorization", "unauthorized")])
        .await
        .assert_error(
            401,
            r#"{"message":"Unauthorized"}"#,
            "UnauthorizedException",
        );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn http_api_payload_1_0_policy_responses() {
    let function = Function::new(decide);
    let authorizer = LambdaAuthorizer::new(
        &http_model("1.0", false, None),
        ApiProtocol::Http,
        function.invoker(),
    )
    .unwrap();
    let mut req = request("/pets", Some("allow"));
    let authorized = authorizer.authorize(&mut req, PETS_ARN).await.unwrap();
    assert_eq!(authorized.decision, Decision::Allow);
    let event = function.last_event();
    assert_eq!(event["version"], "1.0");
    assert_eq!(event["identitySource"], "allow");
    assert_eq!(event["authorizationToken"], "allow");
    assert_eq!(event["methodArn"], PETS_ARN);
    serde_json::from_value::<ApiGatewayV2CustomAuthorizerV1Request>(event).unwrap();
}

// ---------------------------------------------------------------------------
// AWS's documented examples
// ---------------------------------------------------------------------------

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/lambda_authorizer/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Maps whose keys are the request's own names.
const FREE_FORM: [&str; 6] = [
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
];

/// How an event may differ from AWS's example.
#[derive(Default)]
struct Differences<'a> {
    /// Top-level keys AWS's example leaves out that the event has.
    extra: &'a [&'a str],
    /// Documented keys the gateway does not produce (mutual TLS).
    unsupported: &'a [&'a str],
    /// Keys compared by JSON type only, where the example contradicts itself.
    type_only: &'a [&'a str],
}

/// Compares an event with AWS's example field by field: every documented key is
/// there with the documented value (header names compared case-insensitively, as
/// HTTP does), and the event has no top-level key the example lacks unless
/// listed. `requestContext` may have more keys: AWS says it may add some.
fn assert_matches_example(ours: &Value, documented: &Value, differences: &Differences<'_>) {
    compare(ours, documented, "", differences);
    for key in ours.as_object().unwrap().keys() {
        assert!(
            documented.get(key).is_some() || differences.extra.contains(&key.as_str()),
            "`{key}` is not in AWS's example"
        );
    }
}

fn compare(ours: &Value, documented: &Value, path: &str, differences: &Differences<'_>) {
    let Value::Object(documented_map) = documented else {
        if differences.type_only.contains(&path) {
            assert_eq!(
                std::mem::discriminant(ours),
                std::mem::discriminant(documented),
                "{path}"
            );
        } else {
            assert_eq!(ours, documented, "{path}");
        }
        return;
    };
    let ours_map = ours
        .as_object()
        .unwrap_or_else(|| panic!("{path} is not an object"));
    let name = path.rsplit('.').next().unwrap_or(path);
    if FREE_FORM.contains(&name) {
        let fold = |map: &Map<String, Value>| -> BTreeMap<String, Value> {
            map.iter()
                .map(|(k, v)| {
                    let key = if name.ends_with("eaders") {
                        k.to_ascii_lowercase()
                    } else {
                        k.clone()
                    };
                    (key, v.clone())
                })
                .collect()
        };
        assert_eq!(fold(ours_map), fold(documented_map), "{path}");
        return;
    }
    for (key, value) in documented_map {
        let child = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        if differences.unsupported.contains(&child.as_str()) {
            continue;
        }
        let ours = ours_map
            .get(key)
            .unwrap_or_else(|| panic!("`{child}` is missing"));
        compare(ours, value, &child, differences);
    }
}

/// Captures the event an authorizer sends for `req` and `arn`.
async fn event_for(
    model: &Authorizer,
    protocol: ApiProtocol,
    variables: StageVariables,
    mut req: Request<()>,
    arn: &str,
) -> Value {
    let function = Function::new(decide);
    let authorizer = LambdaAuthorizer::builder(model, protocol, function.invoker())
        .stage_variables(variables)
        .build()
        .unwrap();
    let _ = authorizer.authorize(&mut req, arn).await;
    assert_eq!(function.calls(), 1);
    function.last_event()
}

/// The request of AWS's REST REQUEST example: its headers, query and context.
fn documented_rest_request(documented: &Value, caller: Option<(&str, &str)>) -> Request<()> {
    let mut req = Request::get("/request?QueryString1=queryValue1");
    for (name, value) in documented["headers"].as_object().unwrap() {
        req = req.header(name, value.as_str().unwrap());
    }
    let mut req = req.body(()).unwrap();
    let documented_ctx = &documented["requestContext"];
    let text = |key: &str| documented_ctx[key].as_str().unwrap().to_owned();
    let mut identity = Identity {
        source_ip: documented_ctx["identity"]["sourceIp"]
            .as_str()
            .unwrap()
            .to_owned(),
        api_key: Some(
            documented_ctx["identity"]["apiKey"]
                .as_str()
                .unwrap()
                .to_owned(),
        ),
        ..Identity::default()
    };
    if let Some((caller, account)) = caller {
        identity.caller = Some(caller.to_owned());
        identity.account_id = Some(account.to_owned());
    }
    req.extensions_mut().insert(RequestContext {
        request_id: text("requestId"),
        api_id: text("apiId").into(),
        account_id: text("accountId").into(),
        stage: text("stage").into(),
        resource_id: text("resourceId").into(),
        resource_path: text("resourcePath").into(),
        path: text("path"),
        http_method: http::Method::GET,
        identity,
        ..RequestContext::default()
    });
    req
}

#[tokio::test]
async fn token_events_match_aws_example() {
    let documented = fixture("rest_token_event.json");
    let arn = documented["methodArn"].as_str().unwrap();
    let model = token_model(Some(0));
    let req = Request::get("/")
        .header("authorization", "allow")
        .body(())
        .unwrap();
    let ours = event_for(&model, ApiProtocol::Rest, StageVariables::new(), req, arn).await;
    assert_eq!(ours, documented);
    serde_json::from_value::<ApiGatewayCustomAuthorizerRequest>(ours).unwrap();
}

#[tokio::test]
async fn rest_request_events_match_aws_example() {
    let documented = fixture("rest_request_event.json");
    let mut model = request_model(Some(300));
    model.identity_source = vec![
        "method.request.header.HeaderAuth1".to_owned(),
        "method.request.querystring.QueryString1".to_owned(),
    ];
    let mut variables = StageVariables::new();
    variables.insert("StageVar1", "stageValue1").unwrap();
    let req = documented_rest_request(&documented, None);
    let arn = documented["methodArn"].as_str().unwrap();
    let ours = event_for(&model, ApiProtocol::Rest, variables, req, arn).await;
    assert_matches_example(
        &ours,
        &documented,
        &Differences {
            extra: &["multiValueHeaders", "multiValueQueryStringParameters"],
            ..Differences::default()
        },
    );
    serde_json::from_value::<ApiGatewayCustomAuthorizerRequestTypeRequest>(ours).unwrap();
}

#[tokio::test]
async fn http_api_1_0_events_match_aws_example() {
    let documented = fixture("http_v1_event.json");
    // The example's identity values, `user1` and `123`, come from `$context`.
    let mut model = http_model("1.0", false, Some(300));
    model.identity_source = vec![
        "$context.identity.caller".to_owned(),
        "$context.identity.accountId".to_owned(),
    ];
    let mut variables = StageVariables::new();
    variables.insert("StageVar1", "stageValue1").unwrap();
    let req = documented_rest_request(&documented, Some(("user1", "123")));
    let arn = documented["methodArn"].as_str().unwrap();
    let ours = event_for(&model, ApiProtocol::Http, variables, req, arn).await;
    assert_matches_example(
        &ours,
        &documented,
        &Differences {
            extra: &["multiValueHeaders", "multiValueQueryStringParameters"],
            unsupported: &["requestContext.identity.clientCert"],
            ..Differences::default()
        },
    );
    serde_json::from_value::<ApiGatewayV2CustomAuthorizerV1Request>(ours).unwrap();
}

#[tokio::test]
async fn http_api_2_0_events_match_aws_example() {
    let documented = fixture("http_v2_event.json");
    let mut model = http_model("2.0", true, Some(300));
    model.identity_source = vec![
        "$context.identity.caller".to_owned(),
        "$context.identity.accountId".to_owned(),
    ];
    let mut variables = StageVariables::new();
    variables.insert("stageVariable1", "value1").unwrap();
    variables.insert("stageVariable2", "value2").unwrap();

    let mut req = Request::post("/my/path?parameter1=value1&parameter1=value2&parameter2=value")
        .header("header1", "value1")
        .header("header2", "value2")
        .header("cookie", "cookie1; cookie2")
        .body(())
        .unwrap();
    // Path parameters come from the router's match.
    let mut router = Router::new(MatchMode::RouteFirst);
    router
        .insert(&RouteMethod::Any, "/{parameter1}", ())
        .unwrap();
    let params = router.find(&http::Method::POST, "/value1").unwrap().params;
    req.extensions_mut().insert(params);
    let ctx = &documented["requestContext"];
    req.extensions_mut().insert(RequestContext {
        request_id: "id".to_owned(),
        api_id: "api-id".into(),
        account_id: "123456789012".into(),
        stage: "$default".into(),
        route_key: "$default".into(),
        domain_name: ctx["domainName"].as_str().unwrap().to_owned(),
        protocol: "HTTP/1.1",
        request_time_epoch: ctx["timeEpoch"].as_u64().unwrap(),
        identity: Identity {
            source_ip: "IP".to_owned(),
            user_agent: Some("agent".to_owned()),
            caller: Some("user1".to_owned()),
            account_id: Some("123".to_owned()),
            ..Identity::default()
        },
        ..RequestContext::default()
    });
    let arn = documented["routeArn"].as_str().unwrap();
    let ours = event_for(&model, ApiProtocol::Http, variables, req, arn).await;
    assert_matches_example(
        &ours,
        &documented,
        &Differences {
            unsupported: &["requestContext.authentication"],
            // The example's `time` (12 March) is not its `timeEpoch` (4 March).
            type_only: &["requestContext.time"],
            ..Differences::default()
        },
    );
    assert_eq!(ours["requestContext"]["time"], "04/Mar/2020:19:03:58 +0000");
    serde_json::from_value::<ApiGatewayV2CustomAuthorizerV2Request>(ours).unwrap();
}

#[tokio::test]
async fn aws_example_outputs_are_understood() {
    let documented = fixture("rest_policy_output.json");
    serde_json::from_value::<ApiGatewayCustomAuthorizerResponse>(documented.clone()).unwrap();
    let answer = documented.clone();
    let function = Function::new(move |_| Reply::Json(answer.clone()));
    let authorizer =
        LambdaAuthorizer::new(&token_model(Some(0)), ApiProtocol::Rest, function.invoker())
            .unwrap();
    let allowed = documented["policyDocument"]["Statement"][0]["Resource"]
        .as_str()
        .unwrap();
    let mut req = request("/request", Some("token"));
    let authorized = authorizer.authorize(&mut req, allowed).await.unwrap();
    assert_eq!(authorized.decision, Decision::Allow);
    assert_eq!(authorized.principal_id(), Some("yyyyyyyy"));
    assert_eq!(
        Value::Object(authorized.context().clone()),
        documented["context"]
    );
    assert_eq!(
        req.extensions().get::<UsageIdentifierKey>().unwrap().0,
        "{api-key}"
    );
    let ctx = req.extensions().get::<RequestContext>().unwrap();
    assert_eq!(ctx.variable("authorizer.principalId").unwrap(), "yyyyyyyy");
    assert_eq!(ctx.variable("authorizer.numberKey").unwrap(), "1");

    let simple = fixture("http_simple_output.json");
    serde_json::from_value::<ApiGatewayV2CustomAuthorizerSimpleResponse>(simple.clone()).unwrap();
    let function = Function::new(move |_| Reply::Json(simple.clone()));
    let authorizer = LambdaAuthorizer::builder(
        &http_model("2.0", true, Some(0)),
        ApiProtocol::Http,
        function.invoker(),
    )
    .scope(ApiScope::new("us-east-1", "123456789012", "abc123", "prod"))
    .build()
    .unwrap();
    let mut req = request("/pets", Some("token"));
    let authorized = authorizer.check(&mut req).await.unwrap();
    assert_eq!(authorized.context()["exampleKey"], "exampleValue");
    assert_eq!(function.last_event()["routeArn"], PETS_ARN);
}
