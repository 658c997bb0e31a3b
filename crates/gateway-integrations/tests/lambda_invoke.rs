#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The remote Lambda invoker against a real server on 127.0.0.1 that implements the
//! Invoke API's route and records every request. Signatures are checked by signing
//! the recorded request again with botocore (python3 and botocore are required;
//! `scripts/test.sh` installs botocore).

mod botocore;
mod support;

use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use gateway_core::body::Body;
use gateway_core::lambda::{FunctionRef, Invocation, InvocationOutput, InvokeError, LambdaInvoker};
use gateway_integrations::HttpClient;
use gateway_integrations::aws::{
    AwsConfig, Credentials, CredentialsProvider, Environment, FunctionNaming, RemoteLambda,
};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use gateway_core::outbound::testing::{ServerCert, TestCa};
use support::{Backend, TRACE, dead_addr};

/// One request as the server received it.
#[derive(Debug, Clone)]
struct Recorded {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// A Lambda Invoke API whose functions behave as their names say.
struct LambdaApi {
    backend: Backend,
    requests: Arc<Mutex<Vec<Recorded>>>,
    tls: bool,
}

impl LambdaApi {
    async fn start() -> Self {
        Self::serve(None).await
    }

    /// The API over TLS with `cert`, which must name `localhost`.
    async fn start_tls(cert: &ServerCert) -> Self {
        Self::serve(Some(cert)).await
    }

    async fn serve(cert: Option<&ServerCert>) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorder = Arc::clone(&requests);
        let handler = move |req: Request<Incoming>| {
            let recorder = Arc::clone(&recorder);
            async move {
                let (parts, body) = req.into_parts();
                let body = body.collect().await.unwrap().to_bytes();
                let recorded = Recorded {
                    method: parts.method.clone(),
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().map(str::to_owned),
                    headers: parts.headers.clone(),
                    body: body.clone(),
                };
                recorder.lock().unwrap().push(recorded);
                answer(&parts.method, parts.uri.path(), body)
            }
        };
        let backend = match cert {
            Some(cert) => Backend::start_tls(cert, handler).await,
            None => Backend::start(handler).await,
        };
        Self {
            backend,
            requests,
            tls: cert.is_some(),
        }
    }

    fn endpoint(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.backend.addr.port())
        } else {
            format!("http://{}", self.backend.addr)
        }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

/// The Invoke API's answer for a function, chosen by its name.
fn answer(method: &Method, path: &str, payload: Bytes) -> Response<Body> {
    let function = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|rest| rest.strip_suffix("/invocations"));
    let (Some(function), true) = (function, *method == Method::POST) else {
        return json(StatusCode::BAD_REQUEST, r#"{"message":"unknown route"}"#);
    };
    // The last `%3A`-separated part of an ARN is the function's name.
    let name = function.rsplit("%3A").next().unwrap();
    match name {
        "echo" => {
            let mut response = Response::new(Body::full(payload));
            response
                .headers_mut()
                .insert("x-amz-executed-version", "7".parse().unwrap());
            response
        }
        "crash" => {
            let mut response = json(
                StatusCode::OK,
                r#"{"errorMessage":"boom","errorType":"Error"}"#,
            );
            response
                .headers_mut()
                .insert("x-amz-function-error", "Unhandled".parse().unwrap());
            response
        }
        "missing" => {
            let mut response = json(
                StatusCode::NOT_FOUND,
                r#"{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:123456789012:function:missing"}"#,
            );
            response.headers_mut().insert(
                "x-amzn-errortype",
                "ResourceNotFoundException".parse().unwrap(),
            );
            response
        }
        "forbidden" => json(
            StatusCode::FORBIDDEN,
            r#"{"Message":"User is not authorized to perform: lambda:InvokeFunction"}"#,
        ),
        "unsigned" => json(
            StatusCode::UNAUTHORIZED,
            r#"{"message":"Missing Authentication Token"}"#,
        ),
        "busy" => json(
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"message":"Rate exceeded","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"}"#,
        ),
        "broken" => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"Type":"Service","message":"internal failure"}"#,
        ),
        "gateway" => {
            let mut response = Response::new(Body::from("upstream is down"));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            response
        }
        "huge" => Response::new(Body::full(vec![b'x'; RemoteLambda::MAX_RESPONSE_BYTES + 1])),
        _ => json(
            StatusCode::BAD_REQUEST,
            r#"{"message":"no such test function"}"#,
        ),
    }
}

fn json(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

fn credentials() -> Credentials {
    Credentials::new("AKIDLAMBDATEST", "lambda/secret+KEY").with_session_token("session-token/xyz=")
}

fn invoker(api: &LambdaApi, credentials: Credentials) -> RemoteLambda {
    let config = AwsConfig::new("us-east-1", CredentialsProvider::fixed(credentials))
        .with_endpoint("lambda", &api.endpoint())
        .unwrap();
    RemoteLambda::new(&config, &HttpClient::new()).unwrap()
}

fn invocation(function: &str, payload: &'static str, trace: Option<&str>) -> Invocation {
    Invocation {
        function: FunctionRef::parse(function).unwrap(),
        payload: payload.into(),
        trace_id: trace.map(str::to_owned),
    }
}

/// Signs the recorded request again with botocore, at its `X-Amz-Date`, over the
/// headers its `Authorization` says were signed, and returns botocore's
/// `Authorization`.
fn botocore_authorization(recorded: &Recorded, credentials: &Credentials, region: &str) -> String {
    let authorization = recorded.header("authorization").expect("a signed request");
    let signed: Vec<&str> = authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .expect("SignedHeaders in the Authorization header")
        .split(';')
        .collect();
    let headers: Vec<(String, String)> = recorded
        .headers
        .iter()
        .filter(|(name, _)| signed.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap().to_owned()))
        .collect();
    let url = format!(
        "http://{}{}{}",
        recorded.header("host").unwrap(),
        recorded.path,
        recorded
            .query
            .as_ref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    );
    let spec = serde_json::json!({
        "method": recorded.method.as_str(),
        "url": url,
        "headers": headers,
        "body_base64": base64::engine::general_purpose::STANDARD.encode(&recorded.body),
        "access_key": credentials.access_key_id,
        "secret_key": credentials.secret_access_key,
        "token": credentials.session_token,
        "service": "lambda",
        "region": region,
        "amz_date": recorded.header("x-amz-date").unwrap(),
    });
    let answer = botocore::run_botocore(&spec);
    answer["authorization"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn invokes_an_arn_with_a_qualifier_signed_for_its_region() {
    let api = LambdaApi::start().await;
    let lambda = invoker(&api, credentials());
    let output = lambda
        .invoke(invocation(
            "arn:aws:lambda:us-west-2:123456789012:function:echo:live",
            r#"{"hello":"world"}"#,
            Some(TRACE),
        ))
        .await
        .unwrap();
    assert_eq!(output, InvocationOutput::ok(r#"{"hello":"world"}"#));

    let requests = api.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(
        request.path,
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-west-2%3A123456789012%3Afunction%3Aecho/invocations"
    );
    assert_eq!(request.query.as_deref(), Some("Qualifier=live"));
    assert_eq!(request.body, r#"{"hello":"world"}"#);
    assert_eq!(
        request.header("x-amz-invocation-type"),
        Some("RequestResponse")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-amzn-trace-id"), Some(TRACE));
    assert_eq!(
        request.header("x-amz-security-token"),
        Some("session-token/xyz=")
    );
    assert_eq!(
        request.header("host"),
        Some(api.backend.addr.to_string().as_str())
    );

    let authorization = request.header("authorization").unwrap();
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDLAMBDATEST/"),
        "{authorization}"
    );
    assert!(
        authorization.contains("/us-west-2/lambda/aws4_request"),
        "{authorization}"
    );
    // The trace header changes along the way, so it is not signed (as botocore does).
    assert!(
        !authorization.contains("x-amzn-trace-id"),
        "{authorization}"
    );
    assert_eq!(
        authorization,
        botocore_authorization(request, &credentials(), "us-west-2")
    );
}

#[tokio::test]
async fn bare_names_for_sam_local_and_the_configured_region() {
    let api = LambdaApi::start().await;
    let plain = Credentials::new("AKIDPLAIN", "plain-secret");
    let lambda = invoker(&api, plain.clone()).with_function_naming(FunctionNaming::Name);
    lambda
        .invoke(invocation("123456789012:function:echo:3", "{}", None))
        .await
        .unwrap();
    lambda
        .invoke(invocation("echo", "[1,2]", None))
        .await
        .unwrap();

    let requests = api.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/2015-03-31/functions/echo/invocations");
    assert_eq!(requests[0].query.as_deref(), Some("Qualifier=3"));
    assert_eq!(requests[1].query, None);
    assert_eq!(requests[1].body, "[1,2]");
    for request in &requests {
        assert_eq!(request.header("x-amzn-trace-id"), None);
        assert_eq!(request.header("x-amz-security-token"), None);
        let authorization = request.header("authorization").unwrap();
        assert!(
            authorization.contains("/us-east-1/lambda/aws4_request"),
            "{authorization}"
        );
        assert_eq!(
            authorization,
            botocore_authorization(request, &plain, "us-east-1")
        );
    }
}

#[tokio::test]
async fn names_are_sent_as_written_by_default() {
    let api = LambdaApi::start().await;
    let lambda = invoker(&api, credentials());
    lambda
        .invoke(invocation("123456789012:function:echo", "{}", None))
        .await
        .unwrap();
    assert_eq!(
        api.requests()[0].path,
        "/2015-03-31/functions/123456789012%3Afunction%3Aecho/invocations"
    );
}

#[tokio::test]
async fn function_errors_are_outputs() {
    let api = LambdaApi::start().await;
    let output = invoker(&api, credentials())
        .invoke(invocation("crash", "{}", Some(TRACE)))
        .await
        .unwrap();
    assert_eq!(output.function_error.as_deref(), Some("Unhandled"));
    let payload: serde_json::Value = output.payload.deserialize().unwrap();
    assert_eq!(payload["errorMessage"], "boom");
}

#[tokio::test]
async fn error_statuses_are_mapped() {
    let api = LambdaApi::start().await;
    let lambda = invoker(&api, credentials());
    let call = |name: &str| lambda.invoke(invocation(name, "{}", None));
    assert_eq!(
        call("missing").await.unwrap_err(),
        InvokeError::NotFound(
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:missing".into()
        )
    );
    assert_eq!(
        call("forbidden").await.unwrap_err(),
        InvokeError::AccessDenied(
            "User is not authorized to perform: lambda:InvokeFunction".into()
        )
    );
    assert_eq!(
        call("unsigned").await.unwrap_err(),
        InvokeError::AccessDenied("Missing Authentication Token".into())
    );
    assert_eq!(
        call("busy").await.unwrap_err(),
        InvokeError::Throttled("Rate exceeded".into())
    );
    assert_eq!(
        call("broken").await.unwrap_err(),
        InvokeError::Service {
            status: 500,
            message: "internal failure".into()
        }
    );
    assert_eq!(
        call("gateway").await.unwrap_err(),
        InvokeError::Service {
            status: 502,
            message: "upstream is down".into()
        }
    );
    // Every answer was read to its end, so one connection served all six calls.
    assert_eq!(
        api.backend
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test]
async fn answers_over_six_megabytes_are_refused() {
    let api = LambdaApi::start().await;
    let err = invoker(&api, credentials())
        .invoke(invocation("huge", "{}", None))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, InvokeError::Transport(message) if message.contains("exceeds 6291456 bytes")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transport_error() {
    let addr = dead_addr().await;
    let config = AwsConfig::new("us-east-1", CredentialsProvider::fixed(credentials()))
        .with_endpoint("lambda", &format!("http://{addr}"))
        .unwrap();
    let lambda = RemoteLambda::new(&config, &HttpClient::new()).unwrap();
    let err = lambda
        .invoke(invocation("echo", "{}", None))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, InvokeError::Transport(message) if message.contains("cannot connect")),
        "{err:?}"
    );
}

#[tokio::test]
async fn missing_credentials_fail_before_sending() {
    let api = LambdaApi::start().await;
    let env = Environment::from_pairs([("HOME", "/nonexistent-home"), ("AWS_PROFILE", "ci")]);
    let config = AwsConfig::new("us-east-1", CredentialsProvider::from_environment(env))
        .with_endpoint("lambda", &api.endpoint())
        .unwrap();
    let err = RemoteLambda::new(&config, &HttpClient::new())
        .unwrap()
        .invoke(invocation("echo", "{}", None))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, InvokeError::Transport(message) if message.contains("profile `ci`")),
        "{err:?}"
    );
    assert!(api.requests().is_empty());
}

#[tokio::test]
async fn invokes_over_tls_when_the_authority_is_trusted() {
    let ca = TestCa::new().unwrap();
    let api = LambdaApi::start_tls(&ca.issue(&["localhost"]).unwrap()).await;
    let config = AwsConfig::new("us-east-1", CredentialsProvider::fixed(credentials()))
        .with_endpoint("lambda", &api.endpoint())
        .unwrap();
    let trusted = RemoteLambda::new(&config, &HttpClient::with_tls(ca.client().unwrap())).unwrap();
    let output = trusted
        .invoke(invocation("echo", r#"{"over":"tls"}"#, None))
        .await
        .unwrap();
    assert_eq!(output, InvocationOutput::ok(r#"{"over":"tls"}"#));
    let requests = api.requests();
    assert_eq!(requests.len(), 1);
    let port = api.backend.addr.port();
    assert_eq!(
        requests[0].header("host"),
        Some(format!("localhost:{port}").as_str())
    );
    assert_eq!(
        requests[0].header("authorization").unwrap(),
        botocore_authorization(&requests[0], &credentials(), "us-east-1")
    );

    // A client that does not trust the authority never sends the request.
    let untrusted = TestCa::new().unwrap().client().unwrap();
    let lambda = RemoteLambda::new(&config, &HttpClient::with_tls(untrusted)).unwrap();
    let err = lambda
        .invoke(invocation("echo", "{}", None))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, InvokeError::Transport(message) if message.contains("UnknownIssuer")),
        "{err:?}"
    );
    assert_eq!(api.requests().len(), 1);
}
