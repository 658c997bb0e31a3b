//! A method's whole authorization through [`RouteAuthLayer`]: resource policies
//! alone and combined with IAM callers (signed by the Rust SDK's signer), Lambda
//! authorizers (functions run in process behind the invoker trait) and Cognito /
//! JWT authorizers (tokens signed with the fixture keys, keys served by a local
//! key set server), then API keys. Requests carry the `$context` the gateway
//! gives them; some go through real hyper servers and clients on loopback.
//!
//! The evaluation follows AWS's "resource policies and authorization workflow"
//! page and its outcome tables: table A (same-account IAM callers and Lambda
//! authorizers: either policy may allow, neither may deny) and table B (callers
//! of another account: both must allow).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use bytes::Bytes;
use gateway_auth::ApiScope;
use gateway_auth::api_key::{ApiKeyConfig, ApiKeyStore, InMemoryApiKeyStore};
use gateway_auth::jwt::{Algorithm, Clock, JwtAuthorizer, JwtConfig};
use gateway_auth::lambda::LambdaAuthorizer;
use gateway_auth::policy::Policy;
use gateway_auth::route::{MethodAuthorizer, NetworkHeaders, RouteAuthLayer};
use gateway_auth::sigv4::{Credential, InMemoryCredentials, Verifier};
use gateway_core::context::{AuthorizedCaller, ClientAddr, Identity};
use gateway_core::lambda::{Invocation, InvocationOutput, InvokeFuture, LambdaInvoker};
use gateway_core::model::{ApiKeySource, ApiProtocol, Authorizer, AuthorizerType};
use gateway_core::{Body, RequestContext};
use http::header::HeaderName;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer as _, ServiceExt as _};

/// 2025-03-01T12:00:00Z: the signers sign and the verifiers check at this instant.
const NOW: u64 = 1_740_830_400;
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "111122223333";
const OTHER_ACCOUNT: &str = "444455556666";
const API_ID: &str = "abc123";
const STAGE: &str = "prod";
const HOST: &str = "abc123.execute-api.us-east-1.amazonaws.com";
const PETS_ARN: &str = "arn:aws:execute-api:us-east-1:111122223333:abc123/prod/GET/pets";
const API_ARN: &str = "arn:aws:execute-api:us-east-1:111122223333:abc123";

const PARTNER_KEY: &str = "partner-key-0123456789abcdef";
const OTHER_KEY: &str = "other-key-0123456789abcdefgh";

fn scope() -> ApiScope {
    ApiScope::new(REGION, ACCOUNT, API_ID, STAGE)
}

/// The `$context` the gateway builds before authorization.
fn context(source_ip: &str) -> RequestContext {
    RequestContext {
        request_id: "c0ffee00-0000-4000-8000-000000000001".to_owned(),
        api_id: API_ID.into(),
        account_id: ACCOUNT.into(),
        stage: STAGE.into(),
        resource_path: "/pets".into(),
        identity: Identity {
            source_ip: source_ip.to_owned(),
            ..Identity::default()
        },
        ..RequestContext::default()
    }
}

/// A request for `GET /prod/pets` from `198.51.100.7`, with `headers`.
fn get_pets(headers: &[(&str, &str)]) -> Request<Body> {
    request("GET", "/prod/pets", headers, "198.51.100.7")
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], source_ip: &str) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("https://{HOST}{path}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut req = builder.body(Body::empty()).unwrap();
    req.extensions_mut().insert(context(source_ip));
    req
}

// ---------------------------------------------------------------------------
// Resource policies
// ---------------------------------------------------------------------------

/// A resource policy of the API, compiled as the gateway compiles it.
fn resource_policy(statements: &Value) -> Policy {
    Policy::for_api(
        &json!({"Version": "2012-10-17", "Statement": statements}),
        API_ARN,
    )
    .unwrap()
}

fn statement(effect: &str, principal: &Value, resource: &str) -> Value {
    json!({"Effect": effect, "Principal": principal, "Action": "execute-api:Invoke",
           "Resource": resource})
}

/// Everyone may call every method.
fn allow_everyone() -> Policy {
    resource_policy(&json!([statement("Allow", &json!("*"), "execute-api:/*")]))
}

/// Everyone is denied every method.
fn deny_everyone() -> Policy {
    resource_policy(&json!([statement("Deny", &json!("*"), "execute-api:/*")]))
}

/// Allows `/cats` only: `GET /pets` is implicitly denied.
fn allow_cats_only() -> Policy {
    resource_policy(&json!([statement(
        "Allow",
        &json!("*"),
        "execute-api:/*/GET/cats"
    )]))
}

fn denied_message(user: &str, arn: &str) -> String {
    format!("User: {user} is not authorized to perform: execute-api:Invoke on resource: {arn}")
}

fn explicitly_denied_message(user: &str, arn: &str) -> String {
    format!("{} with an explicit deny", denied_message(user, arn))
}

// ---------------------------------------------------------------------------
// The service behind the layer, and what comes back
// ---------------------------------------------------------------------------

/// The route's integration: counts its calls and answers with what
/// authorization told it about the caller, and the body it received.
#[derive(Clone, Default)]
struct Backend {
    calls: Arc<AtomicUsize>,
}

impl Backend {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    async fn answer<B>(calls: Arc<AtomicUsize>, req: Request<B>) -> Result<Response<B>, Infallible>
    where
        B: http_body::Body + From<Bytes>,
        B::Error: std::fmt::Debug,
    {
        calls.fetch_add(1, Ordering::SeqCst);
        let ctx = req.extensions().get::<RequestContext>().cloned();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let answer = match ctx {
            Some(ctx) => json!({
                "sourceIp": ctx.identity.source_ip,
                "accountId": ctx.identity.account_id,
                "userArn": ctx.identity.user_arn,
                "accessKey": ctx.identity.access_key,
                "apiKeyId": ctx.identity.api_key_id,
                "principalId": ctx.authorizer.principal_id,
                "context": ctx.authorizer.context,
                "claims": ctx.authorizer.claims,
                "body": String::from_utf8_lossy(&body),
            }),
            None => json!({"context": null, "body": String::from_utf8_lossy(&body)}),
        };
        Ok(Response::new(B::from(Bytes::from(answer.to_string()))))
    }

    /// The layer in front of this backend, with the gateway's body type.
    fn behind(
        &self,
        layer: &RouteAuthLayer,
    ) -> impl tower::Service<
        Request<Body>,
        Response = Response<Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static {
        let calls = Arc::clone(&self.calls);
        layer.layer(tower::service_fn(move |req: Request<Body>| {
            Self::answer(Arc::clone(&calls), req)
        }))
    }
}

/// What the layer answered.
#[derive(Debug)]
struct Outcome {
    status: StatusCode,
    error_type: Option<String>,
    json: Value,
    caller: Option<AuthorizedCaller>,
}

impl Outcome {
    async fn of<B>(response: Response<B>) -> Self
    where
        B: http_body::Body,
        B::Error: std::fmt::Debug,
    {
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        Self {
            status: parts.status,
            error_type: parts
                .headers
                .get("x-amzn-errortype")
                .map(|v| v.to_str().unwrap().to_owned()),
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            caller: parts.extensions.get::<AuthorizedCaller>().cloned(),
        }
    }

    #[track_caller]
    fn assert_ok(&self) {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
        assert_eq!(self.error_type, None, "{self:?}");
    }

    #[track_caller]
    fn assert_error(&self, status: StatusCode, error_type: &str, message: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.error_type.as_deref(), Some(error_type), "{self:?}");
        assert_eq!(self.json, json!({"message": message}), "{self:?}");
    }

    #[track_caller]
    fn assert_access_denied(&self, message: &str) {
        self.assert_error(StatusCode::FORBIDDEN, "AccessDeniedException", message);
    }
}

/// Sends `req` through `layer` in front of a fresh backend; answers the outcome
/// and how often the backend was called.
async fn call(layer: &RouteAuthLayer, req: Request<Body>) -> (Outcome, usize) {
    let backend = Backend::default();
    let response = backend.behind(layer).oneshot(req).await.unwrap();
    (Outcome::of(response).await, backend.calls())
}

// ---------------------------------------------------------------------------
// IAM callers
// ---------------------------------------------------------------------------

/// An access key of an IAM user.
struct Key {
    id: &'static str,
    secret: &'static str,
    account: &'static str,
    arn: &'static str,
}

/// A user of the API's account whose identity policy allows the API.
const ALICE: Key = Key {
    id: "AKIAALICEEXAMPLE",
    secret: "alice-secret",
    account: ACCOUNT,
    arn: "arn:aws:iam::111122223333:user/alice",
};
/// A user of the API's account with no identity policy.
const CAROL: Key = Key {
    id: "AKIACAROLEXAMPLE",
    secret: "carol-secret",
    account: ACCOUNT,
    arn: "arn:aws:iam::111122223333:user/carol",
};
/// A user of the API's account whose identity policy denies the API.
const DAVE: Key = Key {
    id: "AKIADAVEEXAMPLE",
    secret: "dave-secret",
    account: ACCOUNT,
    arn: "arn:aws:iam::111122223333:user/dave",
};
/// A user of another account whose identity policy allows the API.
const ERIN: Key = Key {
    id: "AKIAERINEXAMPLE",
    secret: "erin-secret",
    account: OTHER_ACCOUNT,
    arn: "arn:aws:iam::444455556666:user/erin",
};
/// A user of another account with no identity policy.
const FRANK: Key = Key {
    id: "AKIAFRANKEXAMPLE",
    secret: "frank-secret",
    account: OTHER_ACCOUNT,
    arn: "arn:aws:iam::444455556666:user/frank",
};
/// A user of another account whose identity policy denies the API.
const GINA: Key = Key {
    id: "AKIAGINAEXAMPLE",
    secret: "gina-secret",
    account: OTHER_ACCOUNT,
    arn: "arn:aws:iam::444455556666:user/gina",
};

fn identity_policy(effect: &str) -> Policy {
    Policy::parse(
        &json!({"Version": "2012-10-17", "Statement": [{
            "Effect": effect, "Action": "execute-api:Invoke",
            "Resource": format!("arn:aws:execute-api:{REGION}:*:{API_ID}/*")}]})
        .to_string(),
    )
    .unwrap()
}

fn verifier() -> Arc<Verifier> {
    let credential = |key: &Key| Credential::new(key.id, key.secret, key.account, key.arn);
    let store: InMemoryCredentials = [
        credential(&ALICE).with_policy(identity_policy("Allow")),
        credential(&CAROL),
        credential(&DAVE).with_policy(identity_policy("Deny")),
        credential(&ERIN).with_policy(identity_policy("Allow")),
        credential(&FRANK),
        credential(&GINA).with_policy(identity_policy("Deny")),
    ]
    .into_iter()
    .collect();
    Arc::new(
        Verifier::new(REGION, Arc::new(store))
            .with_clock(Clock::manual(Duration::from_secs(NOW)).0),
    )
}

fn iam_layer(policy: Option<Policy>) -> RouteAuthLayer {
    let layer = RouteAuthLayer::new(scope()).authorizer(MethodAuthorizer::Iam(verifier()));
    match policy {
        Some(policy) => layer.resource_policy(policy),
        None => layer,
    }
}

/// `method url` with `body`, signed by the Rust SDK's signer with `key` at
/// [`NOW`]; `url`'s authority is the host header.
fn sign_with_sdk<B: From<Bytes>>(key: &Key, method: &str, url: &str, body: &[u8]) -> Request<B> {
    let uri: http::Uri = url.parse().unwrap();
    let host = uri.authority().unwrap().to_string();
    let identity =
        aws_credential_types::Credentials::new(key.id, key.secret, None, None, "test").into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("execute-api")
        .time(UNIX_EPOCH + Duration::from_secs(NOW))
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        [("host", host.as_str())].into_iter(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = Request::builder()
        .method(method)
        .uri(url)
        .header("host", host.as_str())
        .body(B::from(Bytes::copy_from_slice(body)))
        .unwrap();
    instructions.apply_to_request_http1x(&mut req);
    req
}

/// `GET /prod/pets` signed by `key`, with the gateway's `$context`.
fn signed_get_pets(key: &Key) -> Request<Body> {
    let mut req = sign_with_sdk(key, "GET", &format!("https://{HOST}/prod/pets"), b"");
    req.extensions_mut().insert(context("198.51.100.7"));
    req
}

/// A resource policy naming `key`'s user with `effect`; `None` names another
/// user, so that it says nothing about `key`'s.
fn policy_for(key: &Key, effect: Option<&str>) -> Policy {
    match effect {
        Some(effect) => resource_policy(&json!([statement(
            effect,
            &json!({"AWS": key.arn}),
            "execute-api:/*"
        )])),
        None => resource_policy(&json!([statement(
            "Allow",
            &json!({"AWS": "arn:aws:iam::999988887777:user/someone-else"}),
            "execute-api:/*"
        )])),
    }
}

/// What an IAM caller's request should come to.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Allowed,
    Implicit,
    Explicit,
}

async fn assert_iam_case(key: &Key, resource: Option<&str>, expect: Expect) {
    let layer = iam_layer(Some(policy_for(key, resource)));
    let (outcome, calls) = call(&layer, signed_get_pets(key)).await;
    let case = format!("{} with resource policy {resource:?}", key.arn);
    match expect {
        Expect::Allowed => {
            assert_eq!(outcome.status, StatusCode::OK, "{case}: {outcome:?}");
            assert_eq!(outcome.json["userArn"], key.arn, "{case}");
            assert_eq!(calls, 1, "{case}");
        }
        Expect::Implicit => {
            assert_eq!(outcome.status, StatusCode::FORBIDDEN, "{case}: {outcome:?}");
            outcome.assert_access_denied(&denied_message(key.arn, PETS_ARN));
            assert_eq!(calls, 0, "{case}");
        }
        Expect::Explicit => {
            assert_eq!(outcome.status, StatusCode::FORBIDDEN, "{case}: {outcome:?}");
            outcome.assert_access_denied(&explicitly_denied_message(key.arn, PETS_ARN));
            assert_eq!(calls, 0, "{case}");
        }
    }
}

// ---------------------------------------------------------------------------
// Lambda authorizers
// ---------------------------------------------------------------------------

const AUTHORIZER_URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/\
                              arn:aws:lambda:us-east-1:111122223333:function:authorizer/invocations";

/// A TOKEN authorizer function run in process: the token decides; it counts its
/// invocations.
#[derive(Debug, Default)]
struct Function {
    calls: AtomicUsize,
}

#[derive(Debug, Clone)]
struct InProcess(Arc<Function>);

impl Function {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn answer(event: &Value) -> Value {
        let arn = event["methodArn"].as_str().unwrap();
        let token = event["authorizationToken"].as_str().unwrap();
        let (effect, resource, key) = match token {
            "allow" => ("Allow", arn.to_owned(), Some(PARTNER_KEY)),
            "allow-unknown-key" => ("Allow", arn.to_owned(), Some("not-a-known-key-0123456789")),
            "allow-no-key" => ("Allow", arn.to_owned(), None),
            "deny" => ("Deny", arn.to_owned(), Some(PARTNER_KEY)),
            // A policy for another API: says nothing about this method.
            _ => (
                "Allow",
                "arn:aws:execute-api:us-east-1:111122223333:other/*".to_owned(),
                Some(PARTNER_KEY),
            ),
        };
        let mut answer = json!({
            "principalId": format!("user-{token}"),
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]},
            "context": {"tier": "gold"},
        });
        if let Some(key) = key {
            answer["usageIdentifierKey"] = json!(key);
        }
        answer
    }
}

impl LambdaInvoker for InProcess {
    fn invoke(&self, invocation: Invocation) -> InvokeFuture {
        let function = Arc::clone(&self.0);
        Box::pin(async move {
            assert_eq!(invocation.function.name(), "authorizer");
            function.calls.fetch_add(1, Ordering::SeqCst);
            let event: Value = invocation.payload.deserialize().unwrap();
            Ok(InvocationOutput::ok(Function::answer(&event).to_string()))
        })
    }
}

/// A REST TOKEN authorizer reading `Authorization`, caching nothing, so that
/// every request calls the function.
fn lambda_authorizer() -> (LambdaAuthorizer, Arc<Function>) {
    let function = Arc::new(Function::default());
    let model = Authorizer {
        name: "tokens".to_owned(),
        kind: AuthorizerType::Token,
        uri: Some(AUTHORIZER_URI.to_owned()),
        identity_source: vec!["method.request.header.Authorization".to_owned()],
        result_ttl_seconds: Some(0),
        ..Authorizer::default()
    };
    let authorizer = LambdaAuthorizer::builder(
        &model,
        ApiProtocol::Rest,
        Arc::new(InProcess(Arc::clone(&function))),
    )
    .scope(scope())
    .build()
    .unwrap();
    (authorizer, function)
}

fn lambda_layer(policy: Option<Policy>) -> (RouteAuthLayer, Arc<Function>) {
    let (authorizer, function) = lambda_authorizer();
    let layer = RouteAuthLayer::new(scope()).authorizer(MethodAuthorizer::Lambda(authorizer));
    let layer = match policy {
        Some(policy) => layer.resource_policy(policy),
        None => layer,
    };
    (layer, function)
}

const LAMBDA_EXPLICIT: &str =
    "User is not authorized to access this resource with an explicit deny";
const LAMBDA_IMPLICIT: &str = "User is not authorized to access this resource";

// ---------------------------------------------------------------------------
// JWT / Cognito authorizers
// ---------------------------------------------------------------------------

const POOL_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jwt")
        .join(name)
}

/// Serves the fixture key `rsa-1` as a key set on loopback; answers its URL.
async fn key_server() -> String {
    let all: Value = serde_json::from_slice(&std::fs::read(fixture("jwks.json")).unwrap()).unwrap();
    let keys: Vec<Value> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kid"] == "rsa-1")
        .cloned()
        .collect();
    assert_eq!(keys.len(), 1);
    let jwks = Bytes::from(json!({"keys": keys}).to_string());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/keys", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let jwks = jwks.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
                    let jwks = jwks.clone();
                    async move { Ok::<_, Infallible>(Response::new(Full::new(jwks))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

/// A REST Cognito user pool authorizer for the pool, its keys on loopback.
async fn cognito() -> JwtAuthorizer {
    let model = Authorizer {
        name: "users".to_owned(),
        kind: AuthorizerType::CognitoUserPools,
        identity_source: vec!["method.request.header.Authorization".to_owned()],
        provider_arns: vec![
            "arn:aws:cognito-idp:us-east-1:111122223333:userpool/us-east-1_Test".to_owned(),
        ],
        ..Authorizer::default()
    };
    JwtConfig::from_model(&model, ApiProtocol::Rest)
        .unwrap()
        .jwks_url(POOL_ISSUER, key_server().await)
        .clock(Clock::manual(Duration::from_secs(NOW)).0)
        .build()
        .unwrap()
}

/// Signs `claims` with fixture key `key` (`rsa1`, `rsa2`), naming key id `rsa-1`.
fn mint(key: &str, claims: &Value) -> String {
    let pem = std::fs::read(fixture(&format!("{key}.pem"))).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

/// A Cognito ID token of the pool, signed with `key`.
fn id_token(key: &str) -> String {
    mint(
        key,
        &json!({"iss": POOL_ISSUER, "sub": "user-1", "aud": "app-client", "token_use": "id",
                "email": "u@example.com", "iat": NOW, "exp": NOW + 3600}),
    )
}

fn cognito_layer(authorizer: JwtAuthorizer, policy: Policy) -> RouteAuthLayer {
    RouteAuthLayer::new(scope())
        .authorizer(MethodAuthorizer::Jwt {
            authorizer,
            scopes: Arc::from(Vec::<String>::new()),
        })
        .resource_policy(policy)
}

// ---------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------

fn key_store() -> Arc<dyn ApiKeyStore> {
    let config: Vec<ApiKeyConfig> = serde_json::from_value(json!([
        {"id": "partner001", "name": "partner", "value": PARTNER_KEY},
        {"id": "other00001", "name": "other", "value": OTHER_KEY, "enabled": false},
    ]))
    .unwrap();
    Arc::new(InMemoryApiKeyStore::from_config(config).unwrap())
}

// ---------------------------------------------------------------------------
// A real server
// ---------------------------------------------------------------------------

/// Serves `layer` in front of a backend over HTTP/1.1 on loopback, as the gateway
/// would: the peer's address as [`ClientAddr`] and a `$context` whose
/// `sourceIp` is left empty.
async fn serve(layer: RouteAuthLayer) -> (SocketAddr, Backend) {
    let backend = Backend::default();
    let service = backend.behind(&layer);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let mut req = req.map(Body::new);
                    req.extensions_mut().insert(ClientAddr(peer));
                    req.extensions_mut().insert(context(""));
                    service.clone().oneshot(req)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, backend)
}

/// Sends `req` to `addr` with a real hyper client.
async fn send(addr: SocketAddr, req: Request<Full<Bytes>>) -> Outcome {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    Outcome::of(sender.send_request(req).await.unwrap()).await
}

fn plain(addr: SocketAddr, path: &str) -> Request<Full<Bytes>> {
    Request::get(format!("http://{addr}{path}"))
        .header("host", addr.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap()
}

// ===========================================================================
// Tests
// ===========================================================================

#[tokio::test]
async fn an_empty_layer_checks_nothing_and_is_reported_empty() {
    let layer = RouteAuthLayer::new(scope());
    assert!(layer.is_empty());
    // Settings that decide nothing by themselves leave it empty.
    let tuned = RouteAuthLayer::new(scope())
        .network(NetworkHeaders {
            vpc: Some(HeaderName::from_static("x-vpc-id")),
            vpce: None,
        })
        .max_body(1024);
    assert!(tuned.is_empty());
    assert!(
        !RouteAuthLayer::new(scope())
            .resource_policy(allow_everyone())
            .is_empty()
    );
    assert!(!iam_layer(None).is_empty());
    assert!(!lambda_layer(None).0.is_empty());
    assert!(
        !RouteAuthLayer::new(scope())
            .api_key(key_store(), ApiKeySource::Header)
            .is_empty()
    );

    // It lets everything through, with or without a `$context`.
    let (outcome, calls) = call(&layer, get_pets(&[])).await;
    outcome.assert_ok();
    assert_eq!(calls, 1);
    assert_eq!(outcome.json["sourceIp"], "198.51.100.7");
    let mut bare = get_pets(&[]);
    bare.extensions_mut().remove::<RequestContext>();
    let (outcome, calls) = call(&layer, bare).await;
    outcome.assert_ok();
    assert_eq!(calls, 1);
    assert_eq!(outcome.caller, None);
}

#[tokio::test]
async fn without_an_authorizer_only_an_explicit_allow_for_anonymous_callers_passes() {
    // Explicit allow.
    let layer = RouteAuthLayer::new(scope()).resource_policy(allow_everyone());
    let (outcome, calls) = call(&layer, get_pets(&[])).await;
    outcome.assert_ok();
    assert_eq!(calls, 1);
    let caller = outcome.caller.expect("the caller is handed back");
    assert_eq!(caller.identity.source_ip, "198.51.100.7");

    // Implicit deny: nothing allows GET /pets.
    let layer = RouteAuthLayer::new(scope()).resource_policy(allow_cats_only());
    let (outcome, calls) = call(&layer, get_pets(&[])).await;
    outcome.assert_access_denied(&denied_message("anonymous", PETS_ARN));
    assert_eq!(calls, 0);
    assert!(outcome.caller.is_some(), "refusals carry the caller too");
    // The same policy lets /cats through.
    let (outcome, calls) = call(&layer, request("GET", "/prod/cats", &[], "198.51.100.7")).await;
    outcome.assert_ok();
    assert_eq!(calls, 1);

    // Explicit deny wins over the allow.
    let layer = RouteAuthLayer::new(scope()).resource_policy(resource_policy(&json!([
        statement("Allow", &json!("*"), "execute-api:/*"),
        statement("Deny", &json!("*"), "execute-api:/*/DELETE/*"),
    ])));
    let (outcome, calls) = call(
        &layer,
        request("DELETE", "/prod/pets/7", &[], "198.51.100.7"),
    )
    .await;
    outcome.assert_access_denied(&explicitly_denied_message(
        "anonymous",
        "arn:aws:execute-api:us-east-1:111122223333:abc123/prod/DELETE/pets/7",
    ));
    assert_eq!(calls, 0);

    // An allow for an IAM principal does not allow anonymous callers.
    let layer = RouteAuthLayer::new(scope()).resource_policy(policy_for(&ALICE, Some("Allow")));
    let (outcome, calls) = call(&layer, get_pets(&[])).await;
    outcome.assert_access_denied(&denied_message("anonymous", PETS_ARN));
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn the_source_ip_condition_reads_the_context() {
    let layer = RouteAuthLayer::new(scope()).resource_policy(resource_policy(&json!([{
        "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
        "Resource": "execute-api:/*",
        "Condition": {"IpAddress": {"aws:SourceIp": ["198.51.100.0/24", "2001:db8::/32"]}}
    }])));
    for ip in ["198.51.100.7", "2001:db8::1"] {
        let (outcome, calls) = call(&layer, request("GET", "/prod/pets", &[], ip)).await;
        outcome.assert_ok();
        assert_eq!(calls, 1, "{ip}");
    }
    let (outcome, calls) = call(&layer, request("GET", "/prod/pets", &[], "203.0.113.9")).await;
    outcome.assert_access_denied(&denied_message("anonymous", PETS_ARN));
    assert_eq!(calls, 0);

    // A deny for addresses outside a block.
    let layer = RouteAuthLayer::new(scope()).resource_policy(resource_policy(&json!([
        statement("Allow", &json!("*"), "execute-api:/*"),
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": "198.51.100.0/24"}}},
    ])));
    let (outcome, _) = call(&layer, request("GET", "/prod/pets", &[], "198.51.100.8")).await;
    outcome.assert_ok();
    let (outcome, calls) = call(&layer, request("GET", "/prod/pets", &[], "192.0.2.1")).await;
    outcome.assert_access_denied(&explicitly_denied_message("anonymous", PETS_ARN));
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn the_source_ip_condition_falls_back_to_the_peer_address_over_a_real_connection() {
    let loopback = |cidr: &str| {
        RouteAuthLayer::new(scope()).resource_policy(resource_policy(&json!([{
            "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
            "Resource": "execute-api:/prod/GET/*",
            "Condition": {"IpAddress": {"aws:SourceIp": cidr}}
        }])))
    };

    let (addr, backend) = serve(loopback("127.0.0.0/8")).await;
    let outcome = send(addr, plain(addr, "/prod/pets")).await;
    outcome.assert_ok();
    assert_eq!(backend.calls(), 1);

    let (addr, backend) = serve(loopback("10.0.0.0/8")).await;
    let outcome = send(addr, plain(addr, "/prod/pets")).await;
    outcome.assert_access_denied(&denied_message("anonymous", PETS_ARN));
    assert_eq!(backend.calls(), 0);
}

#[tokio::test]
async fn vpc_conditions_read_the_configured_headers() {
    let network = NetworkHeaders {
        vpc: Some(HeaderName::from_static("x-source-vpc")),
        vpce: Some(HeaderName::from_static("x-source-vpce")),
    };
    let policy = resource_policy(&json!([{
        "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
        "Resource": "execute-api:/*",
        "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}
    }, {
        "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
        "Resource": "execute-api:/*",
        "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-2f09a348"}}
    }]));
    let layer = RouteAuthLayer::new(scope())
        .resource_policy(policy.clone())
        .network(network);

    let both = [
        ("x-source-vpc", "vpc-2f09a348"),
        ("x-source-vpce", "vpce-1a2b3c4d"),
    ];
    let (outcome, calls) = call(&layer, get_pets(&both)).await;
    outcome.assert_ok();
    assert_eq!(calls, 1);

    // The right VPC through another endpoint: nothing allows it.
    let (outcome, _) = call(
        &layer,
        get_pets(&[
            ("x-source-vpc", "vpc-2f09a348"),
            ("x-source-vpce", "vpce-99999999"),
        ]),
    )
    .await;
    outcome.assert_access_denied(&denied_message("anonymous", PETS_ARN));

    // Another VPC: denied explicitly; so is a request naming no VPC, as an absent
    // key satisfies a negated operator.
    let (outcome, _) = call(
        &layer,
        get_pets(&[
            ("x-source-vpc", "vpc-00000000"),
            ("x-source-vpce", "vpce-1a2b3c4d"),
        ]),
    )
    .await;
    outcome.assert_access_denied(&explicitly_denied_message("anonymous", PETS_ARN));
    let (outcome, calls) = call(&layer, get_pets(&[("x-source-vpce", "vpce-1a2b3c4d")])).await;
    outcome.assert_access_denied(&explicitly_denied_message("anonymous", PETS_ARN));
    assert_eq!(calls, 0);

    // Without configured headers the keys are absent, whatever the client sends.
    let layer = RouteAuthLayer::new(scope()).resource_policy(policy);
    let (outcome, calls) = call(&layer, get_pets(&both)).await;
    outcome.assert_access_denied(&explicitly_denied_message("anonymous", PETS_ARN));
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn iam_callers_of_the_apis_account_need_one_allow_and_no_deny() {
    // Table A: identity policy × resource policy.
    let cases: [(&Key, Option<&str>, Expect); 9] = [
        (&ALICE, Some("Allow"), Expect::Allowed),
        (&ALICE, None, Expect::Allowed),
        (&ALICE, Some("Deny"), Expect::Explicit),
        (&CAROL, Some("Allow"), Expect::Allowed),
        (&CAROL, None, Expect::Implicit),
        (&CAROL, Some("Deny"), Expect::Explicit),
        (&DAVE, Some("Allow"), Expect::Explicit),
        (&DAVE, None, Expect::Explicit),
        (&DAVE, Some("Deny"), Expect::Explicit),
    ];
    for (key, resource, expect) in cases {
        assert_iam_case(key, resource, expect).await;
    }
}

#[tokio::test]
async fn iam_callers_of_another_account_need_both_policies_to_allow() {
    // Table B: identity policy × resource policy.
    let cases: [(&Key, Option<&str>, Expect); 9] = [
        (&ERIN, Some("Allow"), Expect::Allowed),
        (&ERIN, None, Expect::Implicit),
        (&ERIN, Some("Deny"), Expect::Explicit),
        (&FRANK, Some("Allow"), Expect::Implicit),
        (&FRANK, None, Expect::Implicit),
        (&FRANK, Some("Deny"), Expect::Explicit),
        (&GINA, Some("Allow"), Expect::Explicit),
        (&GINA, None, Expect::Explicit),
        (&GINA, Some("Deny"), Expect::Explicit),
    ];
    for (key, resource, expect) in cases {
        assert_iam_case(key, resource, expect).await;
    }

    // A resource policy may name the other account as a whole.
    let layer = iam_layer(Some(resource_policy(&json!([statement(
        "Allow",
        &json!({"AWS": format!("arn:aws:iam::{OTHER_ACCOUNT}:root")}),
        "execute-api:/prod/GET/pets"
    )]))));
    let (outcome, calls) = call(&layer, signed_get_pets(&ERIN)).await;
    outcome.assert_ok();
    assert_eq!(calls, 1);
    assert_eq!(outcome.json["accountId"], OTHER_ACCOUNT);
}

#[tokio::test]
async fn iam_without_a_resource_policy_follows_the_identity_policies() {
    let layer = iam_layer(None);
    let (outcome, calls) = call(&layer, signed_get_pets(&ALICE)).await;
    outcome.assert_ok();
    assert_eq!(calls, 1);
    assert_eq!(outcome.json["userArn"], ALICE.arn);
    assert_eq!(outcome.json["accountId"], ACCOUNT);
    assert_eq!(outcome.json["accessKey"], ALICE.id);
    let caller = outcome.caller.expect("the caller is handed back");
    assert_eq!(caller.identity.user_arn.as_deref(), Some(ALICE.arn));
    assert_eq!(caller.identity.access_key.as_deref(), Some(ALICE.id));

    let (outcome, calls) = call(&layer, signed_get_pets(&CAROL)).await;
    outcome.assert_access_denied(&denied_message(CAROL.arn, PETS_ARN));
    assert_eq!(calls, 0);
    let caller = outcome
        .caller
        .expect("a policy refusal hands the caller back");
    assert_eq!(caller.identity.source_ip, "198.51.100.7");
    // The signature was good, so the refused caller is named for the access log.
    assert_eq!(caller.identity.user_arn.as_deref(), Some(CAROL.arn));
    let (outcome, _) = call(&layer, signed_get_pets(&DAVE)).await;
    outcome.assert_access_denied(&explicitly_denied_message(DAVE.arn, PETS_ARN));
}

#[tokio::test]
async fn iam_checks_the_signature_before_any_policy() {
    // Even a resource policy that lets everyone in needs a signed request.
    let layer = iam_layer(Some(allow_everyone()));
    let (outcome, calls) = call(&layer, get_pets(&[])).await;
    outcome.assert_error(
        StatusCode::FORBIDDEN,
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    );
    assert_eq!(calls, 0);

    // A signature by an unknown key.
    let stranger = Key {
        id: "AKIASTRANGER",
        secret: "nope",
        account: ACCOUNT,
        arn: "arn:aws:iam::111122223333:user/stranger",
    };
    let (outcome, calls) = call(&layer, signed_get_pets(&stranger)).await;
    outcome.assert_error(
        StatusCode::FORBIDDEN,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    );
    assert_eq!(calls, 0);

    // A request altered after signing: a resource policy denying everyone would
    // not be reached.
    let layer = iam_layer(Some(deny_everyone()));
    let mut req = signed_get_pets(&ALICE);
    *req.uri_mut() = format!("https://{HOST}/prod/pets?extra=1").parse().unwrap();
    let (outcome, calls) = call(&layer, req).await;
    assert_eq!(outcome.status, StatusCode::FORBIDDEN);
    assert_eq!(
        outcome.error_type.as_deref(),
        Some("InvalidSignatureException")
    );
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn iam_reads_a_signed_body_and_hands_it_on() {
    let layer = iam_layer(Some(policy_for(&CAROL, Some("Allow"))));
    let url = format!("https://{HOST}/prod/pets");
    let mut req: Request<Body> = sign_with_sdk(&CAROL, "POST", &url, br#"{"name":"rex"}"#);
    req.extensions_mut().insert(context("198.51.100.7"));
    let (outcome, calls) = call(&layer, req).await;
    outcome.assert_ok();
    assert_eq!(calls, 1);
    assert_eq!(outcome.json["body"], r#"{"name":"rex"}"#);

    // With another body than the one signed.
    let mut req: Request<Body> = sign_with_sdk(&CAROL, "POST", &url, br#"{"name":"rex"}"#);
    *req.body_mut() = Body::from(r#"{"name":"max"}"#);
    let (outcome, calls) = call(&layer, req).await;
    assert_eq!(outcome.status, StatusCode::FORBIDDEN, "{outcome:?}");
    assert_eq!(
        outcome.error_type.as_deref(),
        Some("InvalidSignatureException")
    );
    assert_eq!(calls, 0);

    // Over the limit on a body the signature covers: refused before verifying.
    let small = iam_layer(Some(policy_for(&CAROL, Some("Allow")))).max_body(4);
    let mut req: Request<Body> = sign_with_sdk(&CAROL, "POST", &url, br#"{"name":"rex"}"#);
    req.extensions_mut().insert(context("198.51.100.7"));
    let (outcome, calls) = call(&small, req).await;
    assert_eq!(outcome.status, StatusCode::PAYLOAD_TOO_LARGE, "{outcome:?}");
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn iam_works_with_other_body_types_and_over_a_real_connection() {
    // Full<Bytes> in and out: the layer is generic over both bodies.
    let layer = iam_layer(Some(policy_for(&CAROL, Some("Allow"))));
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let service = layer.layer(tower::service_fn(move |req: Request<Full<Bytes>>| {
        Backend::answer(Arc::clone(&counted), req)
    }));
    let mut req: Request<Full<Bytes>> = sign_with_sdk(
        &CAROL,
        "PUT",
        &format!("https://{HOST}/prod/pets/7"),
        b"payload",
    );
    req.extensions_mut().insert(context("198.51.100.7"));
    let outcome = Outcome::of(service.oneshot(req).await.unwrap()).await;
    outcome.assert_ok();
    assert_eq!(outcome.json["body"], "payload");
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Over a socket: signed for the server's own address.
    let (addr, backend) = serve(iam_layer(Some(policy_for(&ERIN, Some("Allow"))))).await;
    let req = sign_with_sdk(&ERIN, "POST", &format!("http://{addr}/prod/pets"), b"hello");
    let outcome = send(addr, req).await;
    outcome.assert_ok();
    assert_eq!(outcome.json["userArn"], ERIN.arn);
    assert_eq!(outcome.json["body"], "hello");
    assert_eq!(
        outcome.json["sourceIp"], "",
        "the context's own value is kept"
    );
    let req = sign_with_sdk(
        &FRANK,
        "POST",
        &format!("http://{addr}/prod/pets"),
        b"hello",
    );
    let outcome = send(addr, req).await;
    outcome.assert_access_denied(&denied_message(
        FRANK.arn,
        "arn:aws:execute-api:us-east-1:111122223333:abc123/prod/POST/pets",
    ));
    assert_eq!(backend.calls(), 1);
}

#[tokio::test]
async fn a_resource_policy_deny_answers_before_the_lambda_authorizer_is_called() {
    let (layer, function) = lambda_layer(Some(resource_policy(&json!([
        statement("Allow", &json!("*"), "execute-api:/*"),
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
         "Resource": "execute-api:/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}},
    ]))));
    let req = request(
        "GET",
        "/prod/pets",
        &[("authorization", "allow")],
        "203.0.113.5",
    );
    let (outcome, calls) = call(&layer, req).await;
    outcome.assert_access_denied(&explicitly_denied_message("anonymous", PETS_ARN));
    assert_eq!(function.calls(), 0, "the function must not be invoked");
    assert_eq!(calls, 0);

    // From elsewhere the function decides.
    let (outcome, calls) = call(&layer, get_pets(&[("authorization", "allow")])).await;
    outcome.assert_ok();
    assert_eq!(function.calls(), 1);
    assert_eq!(calls, 1);
}

#[tokio::test]
async fn lambda_authorizer_and_resource_policy_follow_table_a() {
    let implicit_resource = allow_cats_only;
    // (token, resource policy, expected answer); the function's decision is
    // the token's: allow, deny, or "other" (a policy for another API).
    let cases: Vec<(&str, Policy, Result<(), &str>)> = vec![
        ("allow", allow_everyone(), Ok(())),
        ("allow", implicit_resource(), Ok(())),
        ("other", allow_everyone(), Ok(())),
        ("other", implicit_resource(), Err(LAMBDA_IMPLICIT)),
        ("deny", allow_everyone(), Err(LAMBDA_EXPLICIT)),
        ("deny", implicit_resource(), Err(LAMBDA_EXPLICIT)),
    ];
    for (token, policy, expected) in cases {
        let (layer, function) = lambda_layer(Some(policy));
        let (outcome, calls) = call(&layer, get_pets(&[("authorization", token)])).await;
        assert_eq!(function.calls(), 1, "{token}");
        match expected {
            Ok(()) => {
                outcome.assert_ok();
                assert_eq!(calls, 1, "{token}");
                assert_eq!(outcome.json["principalId"], format!("user-{token}"));
                assert_eq!(outcome.json["context"], json!({"tier": "gold"}));
            }
            Err(message) => {
                outcome.assert_access_denied(message);
                assert_eq!(calls, 0, "{token}");
            }
        }
    }
}

#[tokio::test]
async fn lambda_refusals_carry_what_the_function_said() {
    let (layer, function) = lambda_layer(Some(allow_everyone()));
    let (outcome, calls) = call(&layer, get_pets(&[("authorization", "deny")])).await;
    outcome.assert_access_denied(LAMBDA_EXPLICIT);
    assert_eq!(calls, 0);
    let caller = outcome.caller.expect("a refusal hands the caller back");
    assert_eq!(caller.authorizer.principal_id.as_deref(), Some("user-deny"));
    assert_eq!(caller.authorizer.context["tier"], "gold");
    assert_eq!(caller.identity.source_ip, "198.51.100.7");

    let (outcome, _) = call(&layer, get_pets(&[("authorization", "allow")])).await;
    outcome.assert_ok();
    let caller = outcome.caller.expect("a success hands the caller back");
    assert_eq!(
        caller.authorizer.principal_id.as_deref(),
        Some("user-allow")
    );

    // No token: 401 without calling the function, whatever the resource policy.
    let (outcome, calls) = call(&layer, get_pets(&[])).await;
    outcome.assert_error(
        StatusCode::UNAUTHORIZED,
        "UnauthorizedException",
        "Unauthorized",
    );
    assert_eq!(calls, 0);
    assert_eq!(function.calls(), 2);
}

#[tokio::test]
async fn lambda_without_a_resource_policy_is_the_functions_decision() {
    let (layer, function) = lambda_layer(None);
    let (outcome, _) = call(&layer, get_pets(&[("authorization", "allow")])).await;
    outcome.assert_ok();
    let (outcome, _) = call(&layer, get_pets(&[("authorization", "other")])).await;
    outcome.assert_access_denied(LAMBDA_IMPLICIT);
    let (outcome, calls) = call(&layer, get_pets(&[("authorization", "deny")])).await;
    outcome.assert_access_denied(LAMBDA_EXPLICIT);
    assert_eq!(calls, 0);
    assert_eq!(function.calls(), 3);
}

#[tokio::test]
async fn cognito_tokens_are_verified_before_the_resource_policy() {
    let authorizer = cognito().await;

    // A valid token, and a policy that allows: claims reach the context.
    let layer = cognito_layer(authorizer.clone(), allow_everyone());
    let good = id_token("rsa1");
    let (outcome, calls) = call(&layer, get_pets(&[("authorization", &good)])).await;
    outcome.assert_ok();
    assert_eq!(calls, 1);
    assert_eq!(outcome.json["claims"]["email"], "u@example.com");
    let caller = outcome.caller.expect("the caller is handed back");
    assert_eq!(caller.authorizer.claims["sub"], "user-1");

    // A token signed by the wrong key, or none: 401 even though the policy
    // would deny everyone.
    let layer = cognito_layer(authorizer.clone(), deny_everyone());
    let forged = id_token("rsa2");
    for headers in [&[("authorization", forged.as_str())][..], &[]] {
        let (outcome, calls) = call(&layer, get_pets(headers)).await;
        outcome.assert_error(
            StatusCode::UNAUTHORIZED,
            "UnauthorizedException",
            "Unauthorized",
        );
        assert_eq!(calls, 0);
    }

    // A valid token, then the policy: explicit deny...
    let (outcome, calls) = call(&layer, get_pets(&[("authorization", &good)])).await;
    outcome.assert_access_denied(&explicitly_denied_message("anonymous", PETS_ARN));
    assert_eq!(calls, 0);
    let caller = outcome.caller.expect("a refusal hands the caller back");
    assert_eq!(caller.authorizer.claims["email"], "u@example.com");

    // ... or no allow.
    let layer = cognito_layer(authorizer, allow_cats_only());
    let (outcome, calls) = call(&layer, get_pets(&[("authorization", &good)])).await;
    outcome.assert_access_denied(&denied_message("anonymous", PETS_ARN));
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn cognito_methods_with_scopes_want_an_access_token_holding_one() {
    let authorizer = cognito().await;
    let layer = RouteAuthLayer::new(scope())
        .authorizer(MethodAuthorizer::Jwt {
            authorizer,
            scopes: Arc::from(vec!["orders/read".to_owned()]),
        })
        .resource_policy(allow_everyone());
    let access = |scope: &str| {
        mint(
            "rsa1",
            &json!({"iss": POOL_ISSUER, "sub": "user-1", "client_id": "app-client",
                    "token_use": "access", "scope": scope, "iat": NOW, "exp": NOW + 3600}),
        )
    };
    let reader = access("orders/read");
    let (outcome, calls) = call(&layer, get_pets(&[("authorization", &reader)])).await;
    outcome.assert_ok();
    assert_eq!(calls, 1);
    let writer = access("orders/write");
    let (outcome, calls) = call(&layer, get_pets(&[("authorization", &writer)])).await;
    assert_eq!(outcome.status, StatusCode::UNAUTHORIZED, "{outcome:?}");
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn api_keys_are_checked_after_authorization() {
    let layer = RouteAuthLayer::new(scope())
        .resource_policy(allow_cats_only())
        .api_key(key_store(), ApiKeySource::Header);
    // The policy refuses first: its message, not the key's.
    let (outcome, _) = call(&layer, get_pets(&[])).await;
    outcome.assert_access_denied(&denied_message("anonymous", PETS_ARN));

    let cats = |headers: &[(&str, &str)]| request("GET", "/prod/cats", headers, "198.51.100.7");
    let (outcome, calls) = call(&layer, cats(&[])).await;
    outcome.assert_error(StatusCode::FORBIDDEN, "ForbiddenException", "Forbidden");
    assert_eq!(calls, 0);
    // A disabled key.
    let (outcome, _) = call(&layer, cats(&[("x-api-key", OTHER_KEY)])).await;
    outcome.assert_error(StatusCode::FORBIDDEN, "ForbiddenException", "Forbidden");

    let (outcome, calls) = call(&layer, cats(&[("x-api-key", PARTNER_KEY)])).await;
    outcome.assert_ok();
    assert_eq!(calls, 1);
    assert_eq!(outcome.json["apiKeyId"], "partner001");
    let caller = outcome.caller.expect("the caller is handed back");
    assert_eq!(caller.identity.api_key_id.as_deref(), Some("partner001"));
    assert_eq!(caller.identity.api_key.as_deref(), Some(PARTNER_KEY));

    // IAM first, then the key.
    let layer = iam_layer(None).api_key(key_store(), ApiKeySource::Header);
    let (outcome, _) = call(&layer, signed_get_pets(&CAROL)).await;
    outcome.assert_access_denied(&denied_message(CAROL.arn, PETS_ARN));
    let (outcome, _) = call(&layer, signed_get_pets(&ALICE)).await;
    outcome.assert_error(StatusCode::FORBIDDEN, "ForbiddenException", "Forbidden");
    let mut req = signed_get_pets(&ALICE);
    req.headers_mut()
        .insert("x-api-key", PARTNER_KEY.parse().unwrap());
    let (outcome, _) = call(&layer, req).await;
    outcome.assert_ok();
    assert_eq!(outcome.json["userArn"], ALICE.arn);
    assert_eq!(outcome.json["apiKeyId"], "partner001");
}

#[tokio::test]
async fn the_authorizer_key_source_takes_the_functions_usage_identifier_key() {
    let (authorizer, function) = lambda_authorizer();
    let layer = RouteAuthLayer::new(scope())
        .authorizer(MethodAuthorizer::Lambda(authorizer))
        .resource_policy(allow_everyone())
        .api_key(key_store(), ApiKeySource::Authorizer);

    let (outcome, calls) = call(&layer, get_pets(&[("authorization", "allow")])).await;
    outcome.assert_ok();
    assert_eq!(calls, 1);
    assert_eq!(outcome.json["apiKeyId"], "partner001");
    assert_eq!(outcome.json["principalId"], "user-allow");

    // An unknown key from the function, or none: the header does not stand in.
    for token in ["allow-unknown-key", "allow-no-key"] {
        let (outcome, calls) = call(
            &layer,
            get_pets(&[("authorization", token), ("x-api-key", PARTNER_KEY)]),
        )
        .await;
        outcome.assert_error(StatusCode::FORBIDDEN, "ForbiddenException", "Forbidden");
        assert_eq!(calls, 0, "{token}");
    }

    // A deny is the authorizer's answer, although its key is valid.
    let (outcome, _) = call(&layer, get_pets(&[("authorization", "deny")])).await;
    outcome.assert_access_denied(LAMBDA_EXPLICIT);
    assert_eq!(function.calls(), 4);
}

#[tokio::test]
async fn lambda_resource_policy_and_key_over_a_real_connection() {
    let (authorizer, function) = lambda_authorizer();
    let layer = RouteAuthLayer::new(scope())
        .authorizer(MethodAuthorizer::Lambda(authorizer))
        .resource_policy(resource_policy(&json!([
            statement("Allow", &json!("*"), "execute-api:/*"),
            {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
             "Resource": "execute-api:/*/DELETE/*"},
        ])))
        .api_key(key_store(), ApiKeySource::Authorizer);
    let (addr, backend) = serve(layer).await;

    let mut req = plain(addr, "/prod/pets");
    req.headers_mut()
        .insert("authorization", "allow".parse().unwrap());
    let outcome = send(addr, req).await;
    outcome.assert_ok();
    assert_eq!(outcome.json["principalId"], "user-allow");
    assert_eq!(outcome.json["apiKeyId"], "partner001");

    let mut req = plain(addr, "/prod/pets/7");
    *req.method_mut() = http::Method::DELETE;
    req.headers_mut()
        .insert("authorization", "allow".parse().unwrap());
    let outcome = send(addr, req).await;
    outcome.assert_access_denied(&explicitly_denied_message(
        "anonymous",
        "arn:aws:execute-api:us-east-1:111122223333:abc123/prod/DELETE/pets/7",
    ));
    assert_eq!(function.calls(), 1);
    assert_eq!(backend.calls(), 1);
}
