//! IAM authorization over real sockets: requests signed by botocore (the AWS CLI's
//! and boto3's signer) and by the `aws-sigv4` crate (the Rust SDK's) reach a hyper
//! server with [`SigV4Layer`] in front of a handler; altered, stale and
//! unauthorized ones get AWS's answers.
//!
//! The server's clock is fixed (and moved by tests), and the signers sign at that
//! instant, so nothing depends on the wall clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4::SigningParams;
use base64::Engine as _;
use bytes::Bytes;
use gateway_auth::ApiScope;
use gateway_auth::policy::Policy;
use gateway_auth::sigv4::{Caller, Credential, InMemoryCredentials, SigV4Layer, Verifier};
use gateway_core::clock::{Clock, ManualClock};
use gateway_core::context::Identity;
use gateway_core::{Body, RequestContext};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tower::{ServiceBuilder, ServiceExt as _};

/// 2025-03-01T12:00:00Z.
const NOW: u64 = 1_740_830_400;
const AMZ_DATE: &str = "20250301T120000Z";
const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";

const ALICE_KEY: &str = "AKIAALICEEXAMPLE";
const ALICE_SECRET: &str = "alice/secret+key/EXAMPLE";
const ALICE_ARN: &str = "arn:aws:iam::123456789012:user/alice";
const TEMP_KEY: &str = "ASIATEMPEXAMPLE";
const TEMP_SECRET: &str = "temp/secret/EXAMPLE";
const TEMP_TOKEN: &str = "FwoGZXIvYXdzEJr//////////wEaDEXAMPLE+token/with=padding==";
const TEMP_ARN: &str = "arn:aws:sts::123456789012:assumed-role/Reader/session-1";
const BOB_KEY: &str = "AKIABOBEXAMPLE";
const BOB_SECRET: &str = "bob-secret";
const BOB_ARN: &str = "arn:aws:iam::123456789012:user/bob";
const OLD_KEY: &str = "ASIAOLDEXAMPLE";
const OLD_TOKEN: &str = "old-token";

fn allow_all() -> Policy {
    Policy::parse(
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:eu-west-1:*:abc123/*"}]}"#,
    )
    .unwrap()
}

fn credentials() -> InMemoryCredentials {
    let bob_policy = Policy::parse(
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "execute-api:*",
             "Resource": "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/pets*"},
            {"Effect": "Deny", "Action": "execute-api:Invoke",
             "Resource": "arn:aws:execute-api:eu-west-1:123456789012:abc123/*/DELETE/*"}]}"#,
    )
    .unwrap();
    let get_only = Policy::parse(
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:abc123/prod/GET/*"}]}"#,
    )
    .unwrap();
    [
        Credential::new(ALICE_KEY, ALICE_SECRET, ACCOUNT, ALICE_ARN)
            .with_caller("AIDAALICEEXAMPLE")
            .with_policy(allow_all()),
        Credential::new(TEMP_KEY, TEMP_SECRET, ACCOUNT, TEMP_ARN)
            .with_session_token(TEMP_TOKEN)
            .with_caller("AROAREADER:session-1")
            .with_expiration(UNIX_EPOCH + Duration::from_secs(NOW + 3600))
            .with_policy(allow_all()),
        Credential::new(BOB_KEY, BOB_SECRET, ACCOUNT, BOB_ARN)
            .with_policy(bob_policy)
            .with_policy(get_only),
        Credential::new(
            OLD_KEY,
            "old-secret",
            ACCOUNT,
            "arn:aws:iam::123456789012:user/old",
        )
        .with_session_token(OLD_TOKEN)
        .with_expiration(UNIX_EPOCH + Duration::from_secs(NOW - 1))
        .with_policy(allow_all()),
    ]
    .into_iter()
    .collect()
}

/// A server with IAM authorization in front of a handler that answers with what
/// it learnt: the caller's identity and the body it received.
struct Server {
    addr: SocketAddr,
    clock: ManualClock,
}

impl Server {
    async fn start() -> Self {
        Self::start_with(|layer| layer).await
    }

    async fn start_with(configure: impl FnOnce(SigV4Layer) -> SigV4Layer) -> Self {
        let (now, clock) = Clock::manual(Duration::from_secs(NOW));
        let verifier = Verifier::new(REGION, Arc::new(credentials())).with_clock(now);
        let scope = ApiScope::new(REGION, ACCOUNT, "abc123", "prod");
        let layer = configure(SigV4Layer::with_verifier(Arc::new(verifier), scope));
        let app = ServiceBuilder::new()
            .map_request(|mut req: Request<Body>| {
                req.extensions_mut().insert(RequestContext {
                    api_id: "abc123".into(),
                    account_id: ACCOUNT.into(),
                    stage: "prod".into(),
                    identity: Identity {
                        source_ip: "127.0.0.1".into(),
                        ..Identity::default()
                    },
                    ..RequestContext::default()
                });
                req
            })
            .layer(layer)
            .service_fn(handler);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let app = app.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            app.clone().oneshot(req.map(Body::new))
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, clock }
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    fn host(&self) -> String {
        self.addr.to_string()
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// Sends `method url` with `headers` and `body`; answers status, error type
    /// and JSON body.
    async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Answer {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut builder = Request::builder().method(method).uri(url);
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            builder = builder.header("host", self.host());
        }
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder
            .body(Full::new(Bytes::copy_from_slice(body)))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            error_type,
            json,
        }
    }

    async fn send_signed(&self, signed: &Signed, body: &[u8]) -> Answer {
        self.send(&signed.method, &signed.url, &signed.headers, body)
            .await
    }
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    error_type: Option<String>,
    json: Value,
}

impl Answer {
    fn message(&self) -> &str {
        self.json["message"].as_str().unwrap_or_default()
    }

    #[track_caller]
    fn assert_rejected(&self, status: StatusCode, error_type: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.error_type.as_deref(), Some(error_type), "{self:?}");
    }
}

async fn handler(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let identity = req
        .extensions()
        .get::<RequestContext>()
        .map(|ctx| ctx.identity.clone())
        .unwrap_or_default();
    let presigned = req.extensions().get::<Caller>().map(|c| c.presigned);
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let answer = json!({
        "accountId": identity.account_id,
        "userArn": identity.user_arn,
        "caller": identity.caller,
        "accessKey": identity.access_key,
        "presigned": presigned,
        "body": String::from_utf8_lossy(&body),
    });
    Ok(Response::new(Body::from(answer.to_string())))
}

/// A signed request ready to send.
#[derive(Debug, Clone)]
struct Signed {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
}

impl Signed {
    fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

struct Botocore<'a> {
    method: &'a str,
    url: String,
    headers: Vec<(String, String)>,
    body: &'a [u8],
    key: (&'a str, &'a str, Option<&'a str>),
    presign_expires: Option<u64>,
    unsigned_payload: bool,
    amz_date: String,
}

impl<'a> Botocore<'a> {
    fn new(server: &Server, method: &'a str, path_and_query: &str) -> Self {
        Self {
            method,
            url: server.url(path_and_query),
            headers: vec![("Host".to_owned(), server.host())],
            body: b"",
            key: (ALICE_KEY, ALICE_SECRET, None),
            presign_expires: None,
            unsigned_payload: false,
            amz_date: AMZ_DATE.to_owned(),
        }
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn body(mut self, body: &'a [u8]) -> Self {
        self.body = body;
        self
    }

    fn key(mut self, id: &'a str, secret: &'a str, token: Option<&'a str>) -> Self {
        self.key = (id, secret, token);
        self
    }

    fn presigned(mut self, expires: u64) -> Self {
        self.presign_expires = Some(expires);
        self
    }

    fn unsigned_payload(mut self) -> Self {
        self.unsigned_payload = true;
        self
    }

    /// Runs `tests/sigv4_botocore.py`; python3 with botocore is required
    /// (`scripts/test.sh` installs botocore).
    fn sign(self) -> Signed {
        let spec = json!({
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "body_base64": base64::engine::general_purpose::STANDARD.encode(self.body),
            "access_key": self.key.0,
            "secret_key": self.key.1,
            "token": self.key.2,
            "region": REGION,
            "amz_date": self.amz_date,
            "mode": if self.presign_expires.is_some() { "presign" } else { "header" },
            "expires": self.presign_expires.unwrap_or(300),
            "unsigned_payload": self.unsigned_payload,
        });
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sigv4_botocore.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is required to sign requests with botocore");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(spec.to_string().as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "botocore signing failed (is botocore installed? scripts/test.sh installs it): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
        Signed {
            method: self.method.to_owned(),
            url: answer["url"].as_str().unwrap().to_owned(),
            headers: answer["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|pair| {
                    (
                        pair[0].as_str().unwrap().to_owned(),
                        pair[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
        }
    }
}

/// Signs with the `aws-sigv4` crate's defaults for a service other than S3.
fn sign_with_sdk(
    server: &Server,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    presign_expires: Option<u64>,
) -> Signed {
    let url = server.url(path_and_query);
    let host = server.host();
    let mut all_headers: Vec<(&str, &str)> = vec![("host", host.as_str())];
    all_headers.extend_from_slice(headers);
    let identity =
        aws_credential_types::Credentials::new(ALICE_KEY, ALICE_SECRET, None, None, "test").into();
    let mut settings = SigningSettings::default();
    if let Some(expires) = presign_expires {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(expires));
    }
    let params = SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("execute-api")
        .time(UNIX_EPOCH + Duration::from_secs(NOW))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        method,
        url.as_str(),
        all_headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = Request::builder().method(method).uri(url.as_str());
    for (name, value) in &all_headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    Signed {
        method: method.to_owned(),
        url: request.uri().to_string(),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect(),
    }
}

#[tokio::test]
async fn requests_signed_by_botocore_are_let_through() {
    let server = Server::start().await;

    let get = Botocore::new(
        &server,
        "GET",
        "/prod/pets/hello%20world/%E2%9C%93?b=2&a=x%20y&a=1",
    )
    .header("X-Custom", "  spaced    out  value ")
    .header("Accept", "application/json")
    .sign();
    let answer = server.send_signed(&get, b"").await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.json["accountId"], ACCOUNT);
    assert_eq!(answer.json["userArn"], ALICE_ARN);
    assert_eq!(answer.json["caller"], "AIDAALICEEXAMPLE");
    assert_eq!(answer.json["accessKey"], ALICE_KEY);
    assert_eq!(answer.json["presigned"], false);

    let body = br#"{"name": "Rex", "kind": "dog"}"#;
    let post = Botocore::new(&server, "POST", "/prod/pets")
        .header("Content-Type", "application/json")
        .body(body)
        .key(TEMP_KEY, TEMP_SECRET, Some(TEMP_TOKEN))
        .sign();
    let answer = server.send_signed(&post, body).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.json["userArn"], TEMP_ARN);
    assert_eq!(answer.json["caller"], "AROAREADER:session-1");
    assert_eq!(answer.json["body"], r#"{"name": "Rex", "kind": "dog"}"#);

    // A dot segment and a doubled slash are normalised away before signing.
    let odd_path = Botocore::new(&server, "GET", "/prod/./pets//7").sign();
    let answer = server.send_signed(&odd_path, b"").await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
}

#[tokio::test]
async fn unsigned_payloads_skip_the_body_and_declared_hashes_must_match() {
    let server = Server::start().await;
    let unsigned = Botocore::new(&server, "PUT", "/prod/pets/7")
        .body(b"signed body")
        .unsigned_payload()
        .sign();
    assert!(
        unsigned
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("x-amz-content-sha256") && v == "UNSIGNED-PAYLOAD")
    );
    // The body is not covered: any body goes through, untouched.
    let answer = server.send_signed(&unsigned, b"another body").await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.json["body"], "another body");

    // A declared SHA-256 (the S3 style) is signed, and the body must match it.
    let body = b"exact body";
    let hash = hex::encode(Sha256::digest(body));
    let declared = Botocore::new(&server, "PUT", "/prod/pets/7")
        .header("X-Amz-Content-SHA256", &hash)
        .body(body)
        .sign();
    let answer = server.send_signed(&declared, body).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.json["body"], "exact body");
    let answer = server.send_signed(&declared, b"other body").await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "InvalidSignatureException");
    assert_eq!(
        answer.message(),
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    );
}

#[tokio::test]
async fn presigned_urls_from_botocore_work_until_they_expire() {
    let server = Server::start().await;
    let presigned = Botocore::new(&server, "GET", "/prod/pets?kind=dog&q=a%2Bb")
        .presigned(60)
        .sign();
    assert!(presigned.url.contains("X-Amz-Signature="));
    assert!(
        !presigned
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("authorization"))
    );
    let answer = server.send_signed(&presigned, b"").await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.json["presigned"], true);
    assert_eq!(answer.json["userArn"], ALICE_ARN);

    let with_token = Botocore::new(&server, "GET", "/prod/pets")
        .key(TEMP_KEY, TEMP_SECRET, Some(TEMP_TOKEN))
        .presigned(300)
        .sign();
    assert!(with_token.url.contains("X-Amz-Security-Token="));
    let answer = server.send_signed(&with_token, b"").await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");

    server.advance(61);
    let answer = server.send_signed(&presigned, b"").await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "InvalidSignatureException");
    assert_eq!(
        answer.message(),
        "Signature expired: 20250301T120000Z is now earlier than 20250301T120001Z \
         (20250301T120101Z - 1 min.)"
    );
    // A longer declared lifetime is still held to the five-minute window.
    let answer = server.send_signed(&with_token, b"").await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    server.advance(240);
    let answer = server.send_signed(&with_token, b"").await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "InvalidSignatureException");
    assert!(
        answer.message().ends_with("(20250301T120501Z - 5 min.)"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn requests_signed_by_the_aws_sigv4_crate_are_let_through() {
    let server = Server::start().await;
    let body = b"{\"kind\":\"cat\"}";
    let post = sign_with_sdk(
        &server,
        "POST",
        "/prod/pets?sort=name&page=2",
        &[("content-type", "application/json"), ("x-trace", "a  b")],
        body,
        None,
    );
    let answer = server.send_signed(&post, body).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.json["body"], "{\"kind\":\"cat\"}");

    let presigned = sign_with_sdk(&server, "GET", "/prod/pets/a%3Db", &[], b"", Some(120));
    let answer = server.send_signed(&presigned, b"").await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.json["presigned"], true);
}

#[tokio::test]
async fn tampered_requests_and_wrong_secrets_are_refused() {
    let server = Server::start().await;
    let body = b"{\"name\":\"Rex\"}";
    let signed = Botocore::new(&server, "POST", "/prod/pets/7?a=1&b=2")
        .header("X-Custom", "original")
        .body(body)
        .sign();
    let answer = server.send_signed(&signed, body).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");

    let other_path = Signed {
        url: signed.url.replace("/pets/7", "/pets/8"),
        ..signed.clone()
    };
    let other_query = Signed {
        url: signed.url.replace("a=1", "a=9"),
        ..signed.clone()
    };
    let other_header = signed.clone().with_header("X-Custom", "changed");
    let cases = [
        (other_path, &body[..]),
        (other_query, &body[..]),
        (other_header, &body[..]),
        (signed.clone(), &b"{\"name\":\"Max\"}"[..]),
    ];
    for (request, body) in &cases {
        let answer = server.send_signed(request, body).await;
        answer.assert_rejected(StatusCode::FORBIDDEN, "InvalidSignatureException");
        assert!(
            answer.message().starts_with(
                "The request signature we calculated does not match the signature you \
                 provided. Check your AWS Secret Access Key and signing method. Consult the \
                 service documentation for details.\n\nThe Canonical String for this request \
                 should have been\n'POST\n/prod/pets/"
            ),
            "{answer:?}"
        );
        assert!(answer.message().contains("\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20250301T120000Z\n20250301/eu-west-1/execute-api/aws4_request\n"));
    }

    let wrong_secret = Botocore::new(&server, "GET", "/prod/pets")
        .key(ALICE_KEY, "not-the-secret", None)
        .sign();
    let answer = server.send_signed(&wrong_secret, b"").await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "InvalidSignatureException");
    assert!(
        answer
            .message()
            .contains("'GET\n/prod/pets\n\nhost:127.0.0.1:")
    );
}

#[tokio::test]
async fn stale_and_future_signatures_are_refused() {
    let server = Server::start().await;
    let signed = Botocore::new(&server, "GET", "/prod/pets").sign();
    server.advance(300);
    assert_eq!(
        server.send_signed(&signed, b"").await.status,
        StatusCode::OK
    );
    server.advance(60);
    let answer = server.send_signed(&signed, b"").await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "InvalidSignatureException");
    assert_eq!(
        answer.message(),
        "Signature expired: 20250301T120000Z is now earlier than 20250301T120100Z \
         (20250301T120600Z - 5 min.)"
    );

    let mut future = Botocore::new(&server, "GET", "/prod/pets");
    future.amz_date = "20250301T121200Z".to_owned();
    let answer = server.send_signed(&future.sign(), b"").await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "InvalidSignatureException");
    assert_eq!(
        answer.message(),
        "Signature not yet current: 20250301T121200Z is still later than 20250301T121100Z \
         (20250301T120600Z + 5 min.)"
    );
}

#[tokio::test]
async fn missing_and_malformed_signatures_get_aws_answers() {
    let server = Server::start().await;
    let answer = server
        .send("GET", &server.url("/prod/pets"), &[], b"")
        .await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "MissingAuthenticationTokenException");
    assert_eq!(
        answer.json,
        json!({"message": "Missing Authentication Token"})
    );

    let header = |value: &str| {
        vec![
            ("Authorization".to_owned(), value.to_owned()),
            ("X-Amz-Date".to_owned(), AMZ_DATE.to_owned()),
        ]
    };
    let no_credential = "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=abcd";
    let answer = server
        .send(
            "GET",
            &server.url("/prod/pets"),
            &header(no_credential),
            b"",
        )
        .await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "IncompleteSignatureException");
    assert_eq!(
        answer.message(),
        format!(
            "Authorization header requires 'Credential' parameter. Authorization={no_credential}"
        )
    );

    let answer = server
        .send(
            "GET",
            &server.url("/prod/pets"),
            &header("Bearer eyJhbGciOiJIUzI1NiJ9"),
            b"",
        )
        .await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "IncompleteSignatureException");
    assert!(
        answer
            .message()
            .starts_with("Invalid key=value pair (missing equal-sign)")
    );

    let answer = server
        .send(
            "GET",
            &server.url("/prod/pets?X-Amz-Signature=abcd&X-Amz-Date=20250301T120000Z"),
            &[],
            b"",
        )
        .await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "IncompleteSignatureException");
    assert!(answer.message().contains("must include 'X-Amz-Credential'"));

    let bad_scope = "AWS4-HMAC-SHA256 Credential=AKIAALICEEXAMPLE/20250301/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd";
    let answer = server
        .send("GET", &server.url("/prod/pets"), &header(bad_scope), b"")
        .await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "InvalidSignatureException");
    assert_eq!(
        answer.message(),
        "Credential should be scoped to a valid region, not 'us-east-1'. "
    );
}

#[tokio::test]
async fn unknown_keys_bad_tokens_and_expired_credentials_are_refused() {
    let server = Server::start().await;
    let unknown = Botocore::new(&server, "GET", "/prod/pets")
        .key("AKIAUNKNOWN", "whatever", None)
        .sign();
    let answer = server.send_signed(&unknown, b"").await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "UnrecognizedClientException");
    assert_eq!(
        answer.message(),
        "The security token included in the request is invalid."
    );

    let wrong_token = Botocore::new(&server, "GET", "/prod/pets")
        .key(TEMP_KEY, TEMP_SECRET, Some("a-token-of-someone-else"))
        .sign();
    let answer = server.send_signed(&wrong_token, b"").await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "UnrecognizedClientException");

    let no_token = Botocore::new(&server, "GET", "/prod/pets")
        .key(TEMP_KEY, TEMP_SECRET, None)
        .sign();
    let answer = server.send_signed(&no_token, b"").await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "UnrecognizedClientException");

    let expired = Botocore::new(&server, "GET", "/prod/pets")
        .key(OLD_KEY, "old-secret", Some(OLD_TOKEN))
        .sign();
    let answer = server.send_signed(&expired, b"").await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "ExpiredTokenException");
    assert_eq!(
        answer.message(),
        "The security token included in the request is expired"
    );
}

#[tokio::test]
async fn identity_policies_decide_with_explicit_denies_winning() {
    let server = Server::start().await;
    let signed = |method: &'static str, path: &str| {
        Botocore::new(&server, method, path)
            .key(BOB_KEY, BOB_SECRET, None)
            .sign()
    };
    let answer = server
        .send_signed(&signed("GET", "/prod/pets/1"), b"")
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");

    // Allowed on /pets*, but not elsewhere: an implicit deny.
    let answer = server
        .send_signed(&signed("POST", "/prod/orders"), b"")
        .await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "AccessDeniedException");
    assert_eq!(
        answer.message(),
        "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: \
         execute-api:Invoke on resource: arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/POST/orders"
    );

    // Both an Allow and a Deny match: the Deny wins.
    let answer = server
        .send_signed(&signed("DELETE", "/prod/pets/1"), b"")
        .await;
    answer.assert_rejected(StatusCode::FORBIDDEN, "AccessDeniedException");
    assert_eq!(
        answer.message(),
        "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: \
         execute-api:Invoke on resource: arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/DELETE/pets/1 \
         with an explicit deny"
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let server = Server::start_with(|layer| layer.max_body(16)).await;
    let body = [b'x'; 64];
    let signed = Botocore::new(&server, "POST", "/prod/pets")
        .body(&body)
        .sign();
    let answer = server.send_signed(&signed, &body).await;
    answer.assert_rejected(StatusCode::PAYLOAD_TOO_LARGE, "RequestTooLongException");

    let small = Botocore::new(&server, "POST", "/prod/pets")
        .body(b"tiny")
        .sign();
    let answer = server.send_signed(&small, b"tiny").await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
}
