//! JWT and Cognito user pool authorizers against a real key set server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use gateway_auth::jwt::{
    Algorithm, Clock, DEFAULT_SIGNATURE_CACHE, IdentitySource, JwtAuthorizer, JwtConfig, JwtLayer,
    ManualClock, Verified,
};
use gateway_core::model::{ApiProtocol, Authorizer, AuthorizerType, JwtConfiguration};
use gateway_core::outbound::TlsClient;
use gateway_core::outbound::testing::{ServerCert, TestCa, TlsListener};
use gateway_core::{Body, GatewayError, GatewayResponseType, RequestContext};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tower::{ServiceBuilder, ServiceExt};

/// The tests' "now": 2027-01-15T08:00:00Z.
const NOW: u64 = 1_800_000_000;
const AUDIENCE: &str = "orders-api";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jwt")
        .join(name)
}

/// The fixture key set's keys with the given ids; `pin` keeps each key's `alg`.
fn key_set(kids: &[&str], pin: bool) -> String {
    let all: Value = serde_json::from_slice(&std::fs::read(fixture("jwks.json")).unwrap()).unwrap();
    let keys: Vec<Value> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| kids.contains(&k["kid"].as_str().unwrap()))
        .map(|k| {
            let mut k = k.clone();
            if !pin {
                k.as_object_mut().unwrap().remove("alg");
            }
            k
        })
        .collect();
    json!({ "keys": keys }).to_string()
}

/// Signs `claims` with fixture key `key` (`rsa1`, `ec2`...) as `alg`, naming `kid`.
fn mint(key: &str, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let pem = std::fs::read(fixture(&format!("{key}.pem"))).unwrap();
    let encoding = if key.starts_with("rsa") {
        EncodingKey::from_rsa_pem(&pem).unwrap()
    } else {
        EncodingKey::from_ec_pem(&pem).unwrap()
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &encoding).unwrap()
}

/// An unsigned token with a hand-written header.
fn forge(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// `base` with `extra`'s members set over it (`null` removes a member).
fn merge(mut base: Value, extra: &Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

/// Standard claims from `iss`, with `extra` merged in.
fn claims(iss: &str, extra: &Value) -> Value {
    let base = json!({
        "iss": iss,
        "sub": "user-1",
        "iat": NOW,
        "exp": NOW + 3600,
    });
    merge(base, extra)
}

/// A local identity provider: an OpenID discovery document and a key set.
struct Issuer {
    base: String,
    jwks: Mutex<String>,
    discovery: AtomicBool,
    jwks_uri: Mutex<Option<String>>,
    fail: AtomicBool,
    jwks_hits: AtomicUsize,
    discovery_hits: AtomicUsize,
    gate: Mutex<Option<Arc<Semaphore>>>,
    fetched: Notify,
}

impl Issuer {
    async fn start(jwks: String) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = Self::new(base, jwks);
        let state = Arc::clone(&issuer);
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(Arc::clone(&state).serve(stream));
            }
        });
        issuer
    }

    /// The issuer over TLS with `cert`, which must name `localhost`.
    async fn start_tls(jwks: String, cert: &ServerCert) -> Arc<Self> {
        let listener = TlsListener::bind(cert).await.unwrap();
        let base = format!(
            "https://localhost:{}",
            listener.local_addr().unwrap().port()
        );
        let issuer = Self::new(base, jwks);
        let state = Arc::clone(&issuer);
        tokio::spawn(async move {
            loop {
                let tcp = listener.accept_tcp().await.unwrap();
                let handshake = listener.handshake(tcp);
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    if let Ok(stream) = handshake.await {
                        state.serve(stream).await;
                    }
                });
            }
        });
        issuer
    }

    async fn serve<S>(self: Arc<Self>, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let service = hyper::service::service_fn(move |req| {
            let state = Arc::clone(&self);
            async move { Ok::<_, Infallible>(state.answer(&req).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    }

    fn new(base: String, jwks: String) -> Arc<Self> {
        Arc::new(Self {
            base,
            jwks: Mutex::new(jwks),
            discovery: AtomicBool::new(true),
            jwks_uri: Mutex::new(None),
            fail: AtomicBool::new(false),
            jwks_hits: AtomicUsize::new(0),
            discovery_hits: AtomicUsize::new(0),
            gate: Mutex::new(None),
            fetched: Notify::new(),
        })
    }

    async fn answer(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let reply = |status: StatusCode, body: String| {
            let mut response = Response::new(Full::new(Bytes::from(body)));
            *response.status_mut() = status;
            response
        };
        match req.uri().path() {
            "/.well-known/openid-configuration" => {
                self.discovery_hits.fetch_add(1, Ordering::SeqCst);
                if !self.discovery.load(Ordering::SeqCst) {
                    return reply(StatusCode::NOT_FOUND, String::new());
                }
                let jwks_uri = self
                    .jwks_uri
                    .lock()
                    .unwrap()
                    .clone()
                    .unwrap_or_else(|| format!("{}/keys", self.base));
                reply(
                    StatusCode::OK,
                    json!({"issuer": self.base, "jwks_uri": jwks_uri}).to_string(),
                )
            }
            "/keys" | "/.well-known/jwks.json" => {
                self.jwks_hits.fetch_add(1, Ordering::SeqCst);
                self.fetched.notify_one();
                let gate = self.gate.lock().unwrap().clone();
                if let Some(gate) = gate {
                    let _permit = gate.acquire().await.unwrap();
                }
                if self.fail.load(Ordering::SeqCst) {
                    return reply(StatusCode::INTERNAL_SERVER_ERROR, "down".into());
                }
                reply(StatusCode::OK, self.jwks.lock().unwrap().clone())
            }
            _ => reply(StatusCode::NOT_FOUND, String::new()),
        }
    }

    fn hits(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }

    fn serve_keys(&self, kids: &[&str]) {
        *self.jwks.lock().unwrap() = key_set(kids, true);
    }
}

/// A clock standing at [`NOW`] until the test moves it.
fn manual_clock() -> ManualClock {
    Clock::manual(Duration::from_secs(NOW)).1
}

fn http_api(issuer: &Issuer, clock: &ManualClock) -> JwtAuthorizer {
    JwtConfig::jwt(issuer.base.clone())
        .audience(AUDIENCE)
        .clock(clock.clock())
        .build()
        .unwrap()
}

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn challenge(error: &GatewayError) -> String {
    let response = error.clone().into_response();
    response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[track_caller]
fn assert_unauthorized(result: &Result<Verified, GatewayError>, description: &str) {
    let error = result.as_ref().expect_err("the token was accepted");
    assert_eq!(error.status(), StatusCode::UNAUTHORIZED, "{error}");
    assert_eq!(error.kind(), GatewayResponseType::Unauthorized);
    assert_eq!(error.message(), Some("Unauthorized"));
    let challenge = challenge(error);
    assert!(
        challenge.starts_with("Bearer scope=\"")
            && challenge.contains("error=\"invalid_token\"")
            && challenge.contains(&format!("error_description=\"{description}\"")),
        "{challenge}"
    );
}

/// Serves `service` over HTTP and sends one request through a real client.
async fn over_http<S>(service: S, request: Request<Empty<Bytes>>) -> (Response<()>, Value)
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            service.clone().oneshot(req.map(Body::from))
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (Response::from_parts(parts, ()), json)
}

/// A backend answering with what the authorizer recorded about the caller.
async fn echo_caller(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let context = req
        .extensions()
        .get::<RequestContext>()
        .cloned()
        .unwrap_or_default();
    let verified = req.extensions().get::<Verified>().cloned();
    let body = json!({
        "claims": context.authorizer.claims,
        "scopes": context.authorizer.scopes,
        "email": context.variable("authorizer.claims.email"),
        "verified_sub": verified.map(|v| v.claims["sub"].clone()),
    });
    Ok(Response::new(Body::from(body.to_string())))
}

fn with_context(mut request: Request<Body>) -> Request<Body> {
    request.extensions_mut().insert(RequestContext::default());
    request
}

#[tokio::test]
async fn http_api_accepts_rs256_and_es256_tokens_and_hands_on_their_claims() {
    let issuer = Issuer::start(key_set(&["rsa-1", "ec-1"], true)).await;
    let clock = manual_clock();
    let authorizer = http_api(&issuer, &clock);
    let service = ServiceBuilder::new()
        .map_request(with_context)
        .layer(JwtLayer::new(authorizer).scopes(["orders/read"]))
        .service_fn(echo_caller);

    // An ID-style token: `aud` names the API.
    let rs256 = mint(
        "rsa1",
        Algorithm::RS256,
        Some("rsa-1"),
        &claims(
            &issuer.base,
            &json!({"aud": AUDIENCE, "email": "a@example.com", "scope": "orders/read profile"}),
        ),
    );
    let request = Request::get("/orders")
        .header("authorization", format!("Bearer {rs256}"))
        .body(Empty::new())
        .unwrap();
    let (response, body) = over_http(service.clone(), request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body["claims"]["email"], "a@example.com");
    assert_eq!(body["claims"]["exp"], NOW + 3600);
    assert_eq!(body["email"], "a@example.com");
    assert_eq!(body["scopes"], json!(["orders/read", "profile"]));
    assert_eq!(body["verified_sub"], "user-1");

    // An access-style token without `aud`: `client_id` names the API; `scp` holds
    // the scopes; no `Bearer ` prefix.
    let es256 = mint(
        "ec1",
        Algorithm::ES256,
        Some("ec-1"),
        &claims(
            &issuer.base,
            &json!({"client_id": AUDIENCE, "scp": ["orders/read"]}),
        ),
    );
    let request = Request::get("/orders")
        .header("authorization", es256)
        .body(Empty::new())
        .unwrap();
    let (response, body) = over_http(service.clone(), request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body["claims"]["client_id"], AUDIENCE);
    assert_eq!(body["scopes"], json!(["orders/read"]));

    // One discovery, one key set fetch, whatever the number of tokens.
    assert_eq!(issuer.discovery_hits.load(Ordering::SeqCst), 1);
    assert_eq!(issuer.hits(), 1);

    // Refusals on the wire: 401 with a challenge, the backend never reached.
    let request = Request::get("/orders").body(Empty::new()).unwrap();
    let (response, body) = over_http(service.clone(), request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"message": "Unauthorized"}));
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert_eq!(
        challenge,
        "Bearer scope=\"orders/read\" error=\"invalid_token\" \
         error_description=\"no token was found in the identity source\""
    );

    let no_scope = mint(
        "rsa1",
        Algorithm::RS256,
        Some("rsa-1"),
        &claims(
            &issuer.base,
            &json!({"aud": AUDIENCE, "scope": "orders/write"}),
        ),
    );
    let request = Request::get("/orders")
        .header("authorization", format!("Bearer {no_scope}"))
        .body(Empty::new())
        .unwrap();
    let (response, body) = over_http(service, request).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(body, json!({"message": "Forbidden"}));
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"insufficient_scope\"")
    );
}

#[tokio::test]
async fn http_api_refuses_tokens_for_others_or_out_of_time() {
    let issuer = Issuer::start(key_set(&["rsa-1", "ec-1"], true)).await;
    let clock = manual_clock();
    let authorizer = http_api(&issuer, &clock);
    let sign = |extra: Value| {
        mint(
            "rsa1",
            Algorithm::RS256,
            Some("rsa-1"),
            &merge(claims(&issuer.base, &json!({"aud": AUDIENCE})), &extra),
        )
    };
    let none: &[String] = &[];

    assert!(authorizer.verify(&sign(json!({})), none).await.is_ok());

    let cases = [
        (
            sign(json!({"aud": "someone-else"})),
            "the token does not have a valid audience",
        ),
        (
            sign(json!({"aud": ["a", "b"]})),
            "the token does not have a valid audience",
        ),
        // `client_id` counts only when there is no `aud`.
        (
            sign(json!({"aud": "someone-else", "client_id": AUDIENCE})),
            "the token does not have a valid audience",
        ),
        (
            sign(json!({"aud": null})),
            "the token does not have a valid audience",
        ),
        (
            sign(json!({"iss": format!("{}/", issuer.base)})),
            "the token does not have a valid issuer",
        ),
        (
            sign(json!({"iss": "http://127.0.0.1:1"})),
            "the token does not have a valid issuer",
        ),
        (sign(json!({"exp": null})), "the token has no expiry"),
        (
            sign(json!({"exp": "never"})),
            "the token is not a well-formed signed JWT",
        ),
        // Leeway of a minute on every time claim.
        (sign(json!({"exp": NOW - 60})), "the token has expired"),
        (sign(json!({"nbf": NOW + 61})), "the token is not valid yet"),
        (
            sign(json!({"iat": NOW + 61})),
            "the token was issued in the future",
        ),
        (
            mint(
                "rsa2",
                Algorithm::RS256,
                Some("rsa-1"),
                &claims(&issuer.base, &json!({"aud": AUDIENCE})),
            ),
            "the token signature is invalid",
        ),
        (
            mint(
                "rsa1",
                Algorithm::RS256,
                None,
                &claims(&issuer.base, &json!({"aud": AUDIENCE})),
            ),
            "the token header has no kid",
        ),
        (
            "not.a.jwt".to_owned(),
            "the token is not a well-formed signed JWT",
        ),
        (
            "a.b".to_owned(),
            "the token is not a well-formed signed JWT",
        ),
    ];
    for (token, description) in &cases {
        assert_unauthorized(&authorizer.verify(token, none).await, description);
    }
    // Just inside the leeway.
    for extra in [
        json!({"exp": NOW - 59}),
        json!({"nbf": NOW + 60}),
        json!({"iat": NOW + 60}),
    ] {
        assert!(
            authorizer.verify(&sign(extra.clone()), none).await.is_ok(),
            "{extra}"
        );
    }
    // The same token ages out as the clock moves.
    let token = sign(json!({"exp": NOW + 10}));
    assert!(authorizer.verify(&token, none).await.is_ok());
    clock.advance(Duration::from_secs(70));
    assert_unauthorized(
        &authorizer.verify(&token, none).await,
        "the token has expired",
    );

    // Issuers that are not configured are never fetched from.
    assert_eq!(issuer.hits(), 1);
}

#[tokio::test]
async fn route_scopes_need_one_match() {
    let issuer = Issuer::start(key_set(&["rsa-1"], true)).await;
    let clock = manual_clock();
    let authorizer = http_api(&issuer, &clock);
    let token = |extra: Value| {
        mint(
            "rsa1",
            Algorithm::RS256,
            Some("rsa-1"),
            &merge(claims(&issuer.base, &json!({"aud": AUDIENCE})), &extra),
        )
    };
    let required = scopes(&["orders/read", "orders/admin"]);
    let granted = authorizer
        .verify(&token(json!({"scope": "profile orders/admin"})), &required)
        .await
        .unwrap();
    assert_eq!(granted.scopes, Some(scopes(&["profile", "orders/admin"])));
    assert!(
        authorizer
            .verify(&token(json!({"scp": "orders/read"})), &required)
            .await
            .is_ok()
    );
    for scope in [
        json!({"scope": "orders/write"}),
        json!({}),
        json!({"scp": []}),
    ] {
        let error = authorizer
            .verify(&token(scope), &required)
            .await
            .unwrap_err();
        assert_eq!(error.status(), StatusCode::FORBIDDEN);
        assert_eq!(error.message(), Some("Forbidden"));
        assert_eq!(
            challenge(&error),
            "Bearer scope=\"orders/read orders/admin\" error=\"insufficient_scope\" \
             error_description=\"the token does not have the required scopes\""
        );
    }
    // Without route scopes, scopes do not matter.
    assert!(authorizer.verify(&token(json!({})), &[]).await.is_ok());
}

#[tokio::test]
async fn algorithm_confusion_is_refused() {
    let issuer = Issuer::start(key_set(&["rsa-1", "ec-1"], true)).await;
    let clock = manual_clock();
    let authorizer = http_api(&issuer, &clock);
    let good = claims(&issuer.base, &json!({"aud": AUDIENCE}));
    let none: &[String] = &[];

    // `alg: none`, with and without a signature.
    for signature in ["", "AAAA"] {
        let token = forge(&json!({"alg": "none", "kid": "rsa-1"}), &good, signature);
        assert_unauthorized(
            &authorizer.verify(&token, none).await,
            "the token's algorithm is not allowed for its key",
        );
    }
    // HS256 keyed with the RSA public key's bytes.
    let public_pem = std::fs::read(fixture("rsa1.pub.pem")).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    let hs256 =
        jsonwebtoken::encode(&header, &good, &EncodingKey::from_secret(&public_pem)).unwrap();
    assert_unauthorized(
        &authorizer.verify(&hs256, none).await,
        "the token's algorithm is not allowed for its key",
    );
    // Refused on the header alone: no key was fetched for them.
    assert_eq!(issuer.hits(), 0);

    // An ES256 token naming the RSA key, and an RS256 token naming the EC key.
    let es_on_rsa = mint("ec1", Algorithm::ES256, Some("rsa-1"), &good);
    assert_unauthorized(
        &authorizer.verify(&es_on_rsa, none).await,
        "the token's algorithm is not allowed for its key",
    );
    let rs_on_ec = mint("rsa1", Algorithm::RS256, Some("ec-1"), &good);
    assert_unauthorized(
        &authorizer.verify(&rs_on_ec, none).await,
        "the token's algorithm is not allowed for its key",
    );
    // A correctly signed PS256 token, but the key's JWK pins RS256.
    let ps256 = mint("rsa1", Algorithm::PS256, Some("rsa-1"), &good);
    assert_unauthorized(
        &authorizer.verify(&ps256, none).await,
        "the token's algorithm is not allowed for its key",
    );
    // The same token passes once the JWK no longer pins an algorithm: the refusal
    // above was the pin, not the signature.
    let unpinned = Issuer::start(key_set(&["rsa-1"], false)).await;
    let authorizer = http_api(&unpinned, &clock);
    let ps256 = mint(
        "rsa1",
        Algorithm::PS256,
        Some("rsa-1"),
        &claims(&unpinned.base, &json!({"aud": AUDIENCE})),
    );
    assert!(authorizer.verify(&ps256, none).await.is_ok());

    // An authorizer restricted to RS256 refuses ES256 tokens outright.
    let restricted = JwtConfig::jwt(issuer.base.clone())
        .audience(AUDIENCE)
        .algorithms(&[Algorithm::RS256])
        .clock(clock.clock())
        .build()
        .unwrap();
    let es256 = mint("ec1", Algorithm::ES256, Some("ec-1"), &good);
    assert_unauthorized(
        &restricted.verify(&es256, none).await,
        "the token's algorithm is not allowed for its key",
    );
}

#[tokio::test]
async fn rotated_keys_are_fetched_at_a_bounded_rate() {
    let issuer = Issuer::start(key_set(&["rsa-1"], true)).await;
    let clock = manual_clock();
    let authorizer = http_api(&issuer, &clock);
    let none: &[String] = &[];
    let token = |key: &str, kid: &str| {
        let alg = if key.starts_with("rsa") {
            Algorithm::RS256
        } else {
            Algorithm::ES256
        };
        mint(
            key,
            alg,
            Some(kid),
            &claims(&issuer.base, &json!({"aud": AUDIENCE, "exp": NOW + 7200})),
        )
    };

    assert!(
        authorizer
            .verify(&token("rsa1", "rsa-1"), none)
            .await
            .is_ok()
    );
    assert_eq!(issuer.hits(), 1);

    // The issuer rotates in a second key. Right after a fetch, an unknown kid does
    // not trigger another.
    issuer.serve_keys(&["rsa-1", "rsa-2"]);
    let rotated = token("rsa2", "rsa-2");
    assert_unauthorized(
        &authorizer.verify(&rotated, none).await,
        "the token is signed with an unknown key",
    );
    assert_eq!(issuer.hits(), 1);
    clock.advance(Duration::from_secs(29));
    assert!(authorizer.verify(&rotated, none).await.is_err());
    assert_eq!(issuer.hits(), 1);
    // Once the interval has passed, the unknown kid refreshes the set.
    clock.advance(Duration::from_secs(1));
    assert!(authorizer.verify(&rotated, none).await.is_ok());
    assert_eq!(issuer.hits(), 2);

    // A flood of unknown kids costs one fetch per interval.
    clock.advance(Duration::from_secs(30));
    for i in 0..20 {
        let bogus = token("rsa1", &format!("bogus-{i}"));
        assert!(authorizer.verify(&bogus, none).await.is_err());
    }
    assert_eq!(issuer.hits(), 3);

    // Known keys are served from the cache until it is an hour old...
    issuer.serve_keys(&["rsa-2", "ec-2"]);
    clock.advance(Duration::from_secs(3599 - 30));
    assert!(
        authorizer
            .verify(&token("rsa1", "rsa-1"), none)
            .await
            .is_ok()
    );
    assert_eq!(issuer.hits(), 3);
    // ...then fetched again, which retires the key the issuer dropped.
    clock.advance(Duration::from_secs(31));
    assert_unauthorized(
        &authorizer.verify(&token("rsa1", "rsa-1"), none).await,
        "the token is signed with an unknown key",
    );
    assert_eq!(issuer.hits(), 4);
    assert!(authorizer.verify(&token("ec2", "ec-2"), none).await.is_ok());
    assert!(
        authorizer
            .verify(&token("rsa2", "rsa-2"), none)
            .await
            .is_ok()
    );
    assert_eq!(issuer.hits(), 4);
}

#[tokio::test]
async fn concurrent_requests_share_one_fetch() {
    let issuer = Issuer::start(key_set(&["rsa-1"], true)).await;
    let gate = Arc::new(Semaphore::new(0));
    *issuer.gate.lock().unwrap() = Some(Arc::clone(&gate));
    let clock = manual_clock();
    let authorizer = http_api(&issuer, &clock);
    let token = mint(
        "rsa1",
        Algorithm::RS256,
        Some("rsa-1"),
        &claims(&issuer.base, &json!({"aud": AUDIENCE})),
    );

    let fetched = issuer.fetched.notified();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let authorizer = authorizer.clone();
            let token = token.clone();
            tokio::spawn(async move { authorizer.verify(&token, &[]).await.is_ok() })
        })
        .collect();
    // The key set request is held open while the other requests arrive.
    fetched.await;
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
    gate.add_permits(100);
    for task in tasks {
        assert!(task.await.unwrap());
    }
    assert_eq!(issuer.hits(), 1);
}

#[tokio::test]
async fn key_set_outages_are_server_errors_until_keys_arrive() {
    let issuer = Issuer::start(key_set(&["rsa-1"], true)).await;
    issuer.fail.store(true, Ordering::SeqCst);
    let clock = manual_clock();
    let authorizer = http_api(&issuer, &clock);
    let token = mint(
        "rsa1",
        Algorithm::RS256,
        Some("rsa-1"),
        &claims(&issuer.base, &json!({"aud": AUDIENCE, "exp": NOW + 7200})),
    );

    let error = authorizer.verify(&token, &[]).await.unwrap_err();
    assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(error.kind(), GatewayResponseType::AuthorizerFailure);
    assert_eq!(error.message(), Some("Internal Server Error"));
    // Retries wait for the refresh interval.
    let error = authorizer.verify(&token, &[]).await.unwrap_err();
    assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(issuer.hits(), 1);

    issuer.fail.store(false, Ordering::SeqCst);
    clock.advance(Duration::from_secs(30));
    assert!(authorizer.verify(&token, &[]).await.is_ok());
    assert_eq!(issuer.hits(), 2);

    // Keys past their age stay in use while the issuer is down.
    issuer.fail.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(3600));
    assert!(authorizer.verify(&token, &[]).await.is_ok());
    assert_eq!(issuer.hits(), 3);
}

#[tokio::test]
async fn key_sets_are_found_without_a_discovery_document() {
    let issuer = Issuer::start(key_set(&["ec-1"], true)).await;
    issuer.discovery.store(false, Ordering::SeqCst);
    let clock = manual_clock();
    let authorizer = http_api(&issuer, &clock);
    let token = mint(
        "ec1",
        Algorithm::ES256,
        Some("ec-1"),
        &claims(&issuer.base, &json!({"aud": AUDIENCE})),
    );
    assert!(authorizer.verify(&token, &[]).await.is_ok());
    assert_eq!(issuer.discovery_hits.load(Ordering::SeqCst), 1);
    assert_eq!(issuer.hits(), 1);
}

#[tokio::test]
async fn https_issuers_are_fetched_when_their_authority_is_trusted() {
    let ca = TestCa::new().unwrap();
    let issuer =
        Issuer::start_tls(key_set(&["ec-1"], true), &ca.issue(&["localhost"]).unwrap()).await;
    assert!(issuer.base.starts_with("https://"));
    let clock = manual_clock();
    let token = mint(
        "ec1",
        Algorithm::ES256,
        Some("ec-1"),
        &claims(&issuer.base, &json!({"aud": AUDIENCE})),
    );
    let build = |client: TlsClient| {
        JwtConfig::jwt(issuer.base.clone())
            .audience(AUDIENCE)
            .clock(clock.clock())
            .tls(client)
            .build()
            .unwrap()
    };

    // Not trusted: the keys cannot be fetched, which is the gateway's failure.
    let untrusted = build(TestCa::new().unwrap().client().unwrap());
    let error = untrusted.verify(&token, &[]).await.unwrap_err();
    assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(error.kind(), GatewayResponseType::AuthorizerFailure);
    assert_eq!(issuer.discovery_hits.load(Ordering::SeqCst), 0);

    // Trusted: discovery and the key set both come over TLS.
    let trusted = build(ca.client().unwrap());
    assert!(trusted.verify(&token, &[]).await.is_ok());
    assert_eq!(issuer.discovery_hits.load(Ordering::SeqCst), 1);
    assert_eq!(issuer.hits(), 1);
}

#[tokio::test]
async fn tokens_can_come_from_the_query_string() {
    let issuer = Issuer::start(key_set(&["rsa-1"], true)).await;
    let clock = manual_clock();
    let authorizer = JwtConfig::jwt(issuer.base.clone())
        .audience(AUDIENCE)
        .identity_source(IdentitySource::parse("$request.querystring.access_token").unwrap())
        .clock(clock.clock())
        .build()
        .unwrap();
    let token = mint(
        "rsa1",
        Algorithm::RS256,
        Some("rsa-1"),
        &claims(&issuer.base, &json!({"aud": AUDIENCE})),
    );
    let headers = http::HeaderMap::new();
    let query = format!("x=1&access_token={token}");
    assert!(
        authorizer
            .authorize(&headers, Some(&query), &[])
            .await
            .is_ok()
    );
    let missing = authorizer.authorize(&headers, Some("x=1"), &[]).await;
    assert_unauthorized(&missing, "no token was found in the identity source");
}

const POOL: &str = "us-east-1_Test";

fn pool_issuer() -> String {
    format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}")
}

/// A REST Cognito authorizer built from the model, keys served locally.
fn cognito(issuer: &Issuer, clock: &ManualClock, model: &Authorizer) -> JwtAuthorizer {
    JwtConfig::from_model(model, ApiProtocol::Rest)
        .unwrap()
        .jwks_url(&pool_issuer(), format!("{}/keys", issuer.base))
        .clock(clock.clock())
        .build()
        .unwrap()
}

fn pool_model() -> Authorizer {
    Authorizer {
        name: "users".into(),
        kind: AuthorizerType::CognitoUserPools,
        identity_source: vec!["method.request.header.Authorization".into()],
        provider_arns: vec![format!(
            "arn:aws:cognito-idp:us-east-1:111122223333:userpool/{POOL}"
        )],
        ..Authorizer::default()
    }
}

fn id_token(extra: &Value) -> String {
    let base = json!({"aud": "app-client", "token_use": "id", "email": "u@example.com",
                      "cognito:username": "u", "email_verified": true});
    let claims = merge(claims(&pool_issuer(), &base), extra);
    mint("rsa1", Algorithm::RS256, Some("rsa-1"), &claims)
}

fn access_token(extra: &Value) -> String {
    let base = json!({"client_id": "app-client", "token_use": "access",
                      "scope": "orders/read aws.cognito.signin.user.admin", "username": "u"});
    let claims = merge(claims(&pool_issuer(), &base), extra);
    mint("rsa1", Algorithm::RS256, Some("rsa-1"), &claims)
}

#[track_caller]
fn assert_rest_unauthorized(result: &Result<Verified, GatewayError>, message: &str) {
    let error = result.as_ref().expect_err("the token was accepted");
    assert_eq!(error.status(), StatusCode::UNAUTHORIZED, "{error}");
    assert_eq!(error.message(), Some(message));
    assert_eq!(challenge(error), "");
}

#[tokio::test]
async fn cognito_takes_id_tokens_without_scopes_and_access_tokens_with_them() {
    let issuer = Issuer::start(key_set(&["rsa-1"], true)).await;
    let clock = manual_clock();
    let authorizer = cognito(&issuer, &clock, &pool_model());
    let none: &[String] = &[];
    let read = scopes(&["orders/read"]);

    assert!(authorizer.verify(&id_token(&json!({})), none).await.is_ok());
    assert!(
        authorizer
            .verify(&access_token(&json!({})), &read)
            .await
            .is_ok()
    );

    assert_rest_unauthorized(
        &authorizer.verify(&access_token(&json!({})), none).await,
        "Unauthorized",
    );
    assert_rest_unauthorized(
        &authorizer.verify(&id_token(&json!({})), &read).await,
        "Unauthorized",
    );
    // A missing scope is a 401 on REST APIs.
    assert_rest_unauthorized(
        &authorizer
            .verify(&access_token(&json!({"scope": "orders/write"})), &read)
            .await,
        "Unauthorized",
    );
    assert_rest_unauthorized(
        &authorizer
            .verify(&id_token(&json!({"token_use": "refresh"})), none)
            .await,
        "Unauthorized",
    );
    assert_rest_unauthorized(
        &authorizer
            .verify(&id_token(&json!({"exp": NOW - 120})), none)
            .await,
        "The incoming token has expired",
    );
    assert_rest_unauthorized(
        &authorizer
            .verify(
                &id_token(&json!({"iss": "https://cognito-idp.us-east-1.amazonaws.com/other"})),
                none,
            )
            .await,
        "Unauthorized",
    );
    assert_eq!(issuer.hits(), 1);

    // Audiences and the identity validation expression narrow the app clients.
    let mut narrowed = pool_model();
    narrowed.jwt = Some(JwtConfiguration {
        issuer: String::new(),
        audience: vec!["app-client".into()],
    });
    let authorizer = cognito(&issuer, &clock, &narrowed);
    assert!(authorizer.verify(&id_token(&json!({})), none).await.is_ok());
    assert!(
        authorizer
            .verify(&access_token(&json!({})), &read)
            .await
            .is_ok()
    );
    assert_rest_unauthorized(
        &authorizer
            .verify(&id_token(&json!({"aud": "other-client"})), none)
            .await,
        "Unauthorized",
    );
    assert_rest_unauthorized(
        &authorizer
            .verify(&access_token(&json!({"client_id": "other-client"})), &read)
            .await,
        "Unauthorized",
    );
    let mut validated = pool_model();
    validated.identity_validation_expression = Some("app-.*".into());
    let authorizer = cognito(&issuer, &clock, &validated);
    assert!(authorizer.verify(&id_token(&json!({})), none).await.is_ok());
    assert_rest_unauthorized(
        &authorizer
            .verify(&id_token(&json!({"aud": "web-app-client"})), none)
            .await,
        "Unauthorized",
    );
}

#[tokio::test]
async fn cognito_claims_reach_the_request_context() {
    let issuer = Issuer::start(key_set(&["rsa-1"], true)).await;
    let clock = manual_clock();
    let authorizer = cognito(&issuer, &clock, &pool_model());
    let service = ServiceBuilder::new()
        .map_request(with_context)
        .layer(JwtLayer::new(authorizer))
        .service_fn(echo_caller);

    let request = Request::get("/pets")
        .header("authorization", id_token(&json!({})))
        .body(Empty::new())
        .unwrap();
    let (response, body) = over_http(service.clone(), request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body["email"], "u@example.com");
    assert_eq!(body["claims"]["cognito:username"], "u");
    assert_eq!(body["claims"]["email_verified"], true);

    let request = Request::get("/pets")
        .header("authorization", id_token(&json!({"exp": NOW - 3600})))
        .body(Empty::new())
        .unwrap();
    let (response, body) = over_http(service, request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"message": "The incoming token has expired"}));
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "UnauthorizedException"
    );
    assert!(response.headers().get("www-authenticate").is_none());
}

#[tokio::test]
async fn remembered_signatures_still_need_their_key_and_valid_claims() {
    for remembered in [DEFAULT_SIGNATURE_CACHE, 0] {
        let issuer = Issuer::start(key_set(&["rsa-1", "ec-1"], false)).await;
        let clock = manual_clock();
        let authorizer = JwtConfig::jwt(issuer.base.clone())
            .audience(AUDIENCE)
            .clock(clock.clock())
            .signature_cache(remembered)
            .build()
            .unwrap();
        let none: &[String] = &[];
        let token = |key: &str, alg: Algorithm, kid: &str, exp: u64| {
            let extra = json!({"aud": AUDIENCE, "exp": exp});
            mint(key, alg, Some(kid), &claims(&issuer.base, &extra))
        };
        let short = token("ec1", Algorithm::ES256, "ec-1", NOW + 600);
        let long = token("rsa1", Algorithm::RS256, "rsa-1", NOW + 7200);
        let pss = token("rsa1", Algorithm::PS256, "rsa-1", NOW + 7200);
        for _ in 0..3 {
            for token in [&short, &long, &pss] {
                assert!(authorizer.verify(token, none).await.is_ok(), "{remembered}");
            }
        }
        // The same header and payload under another signature are checked anew.
        let other = token("rsa2", Algorithm::RS256, "rsa-1", NOW + 7200);
        let spliced = format!(
            "{}.{}",
            long.rsplit_once('.').unwrap().0,
            other.rsplit_once('.').unwrap().1
        );
        assert_unauthorized(
            &authorizer.verify(&spliced, none).await,
            "the token signature is invalid",
        );

        // Claims are checked on every request.
        clock.advance(Duration::from_secs(600 + 60));
        assert_unauthorized(
            &authorizer.verify(&short, none).await,
            "the token has expired",
        );
        assert!(authorizer.verify(&long, none).await.is_ok());

        // The issuer reuses the kid for other key material: once the keys are
        // fetched again, what the old key signed is refused.
        let replaced = key_set(&["rsa-2"], false).replace("\"rsa-2\"", "\"rsa-1\"");
        *issuer.jwks.lock().unwrap() = replaced;
        clock.advance(Duration::from_secs(3600));
        assert_unauthorized(
            &authorizer.verify(&long, none).await,
            "the token signature is invalid",
        );
        assert_unauthorized(
            &authorizer.verify(&pss, none).await,
            "the token signature is invalid",
        );
        assert_eq!(issuer.hits(), 2);
        let successor = token("rsa2", Algorithm::RS256, "rsa-1", NOW + 7200);
        assert!(authorizer.verify(&successor, none).await.is_ok());
    }
}
