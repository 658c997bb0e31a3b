//! API keys end to end: the layer in front of services served by real hyper servers
//! on loopback, called by a real hyper client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use gateway_auth::api_key::{
    ApiKey, ApiKeyConfig, ApiKeyError, ApiKeyLayer, ApiKeyStore, InMemoryApiKeyStore,
    ResolvedApiKey,
};
use gateway_core::context::UsageIdentifierKey;
use gateway_core::model::ApiKeySource;
use gateway_core::{Body, RequestContext};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tower::{Service, ServiceBuilder, ServiceExt};

const PARTNER: &str = "partner-key-0123456789abcdef";
const SUSPENDED: &str = "suspended-key-0123456789abc";

/// The header the test stands in for a Lambda authorizer with: a real authorizer
/// layer leaves its `usageIdentifierKey` as this extension.
const AUTHORIZER_RESULT: &str = "x-test-usage-identifier-key";

fn store() -> Arc<InMemoryApiKeyStore> {
    let config: Vec<ApiKeyConfig> = serde_json::from_value(serde_json::json!([
        {"id": "partner001", "name": "partner", "value": PARTNER, "description": "a partner"},
        {"id": "suspended1", "name": "suspended", "value": SUSPENDED, "enabled": false},
        {"name": "generated"}
    ]))
    .unwrap();
    Arc::new(InMemoryApiKeyStore::from_config(config).unwrap())
}

/// The application behind the layer: reports what it was told about the caller.
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
        let resolved = req
            .extensions()
            .get::<ResolvedApiKey>()
            .map(|k| k.0.id.clone());
        let ctx = req.extensions().get::<RequestContext>();
        let body = serde_json::json!({
            "resolved": resolved,
            "apiKey": ctx.and_then(|c| c.variable("identity.apiKey")).map(|v| v.into_owned()),
            "apiKeyId": ctx.and_then(|c| c.variable("identity.apiKeyId")).map(|v| v.into_owned()),
        });
        async move { Ok::<_, Infallible>(Response::new(Body::from(body.to_string()))) }
    })
}

/// Inserts what the gateway's earlier layers would: a `$context`, and the
/// authorizer's `usageIdentifierKey` when the test sends one.
fn gateway_extensions(mut req: Request<Incoming>) -> Request<Incoming> {
    req.extensions_mut().insert(RequestContext::default());
    if let Some(key) = req.headers().get(AUTHORIZER_RESULT) {
        let key = key.to_str().unwrap().to_owned();
        req.extensions_mut().insert(UsageIdentifierKey(key));
    }
    req
}

async fn serve<S>(service: S) -> SocketAddr
where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
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
    addr
}

/// A server with the key check in front of [`app`], counting the calls that got
/// through.
async fn gateway(
    store: Arc<InMemoryApiKeyStore>,
    source: ApiKeySource,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let service = ServiceBuilder::new()
        .map_request(gateway_extensions)
        .layer(ApiKeyLayer::new(store, source))
        .service(app(Arc::clone(&calls)));
    (serve(service).await, calls)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    fn assert_forbidden(&self) {
        assert_eq!(self.status, StatusCode::FORBIDDEN, "{}", self.body);
        assert_eq!(self.body, r#"{"message":"Forbidden"}"#);
        assert_eq!(self.headers["x-amzn-errortype"], "ForbiddenException");
        assert_eq!(self.headers["content-type"], "application/json");
    }
}

async fn get(addr: SocketAddr, headers: &[(&str, &str)]) -> Answer {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::get("/pets").header("host", addr.to_string());
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

#[tokio::test]
async fn header_keys_are_required_known_and_enabled() {
    let (addr, calls) = gateway(store(), ApiKeySource::Header).await;

    get(addr, &[]).await.assert_forbidden();
    get(addr, &[("x-api-key", "")]).await.assert_forbidden();
    get(addr, &[("x-api-key", "not-a-key-anyone-was-given")])
        .await
        .assert_forbidden();
    // One character short of, and one longer than, a real key.
    get(addr, &[("x-api-key", &PARTNER[..PARTNER.len() - 1])])
        .await
        .assert_forbidden();
    get(addr, &[("x-api-key", &format!("{PARTNER}x"))])
        .await
        .assert_forbidden();
    get(addr, &[("x-api-key", SUSPENDED)])
        .await
        .assert_forbidden();
    get(addr, &[("x-api-key", PARTNER), ("x-api-key", PARTNER)])
        .await
        .assert_forbidden();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "a refused request got through"
    );

    let ok = get(addr, &[("X-API-Key", PARTNER)]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(
        ok.json(),
        serde_json::json!({"resolved": "partner001", "apiKey": PARTNER, "apiKeyId": "partner001"})
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn keys_changed_at_run_time_take_effect_on_the_next_request() {
    let store = store();
    let (addr, _) = gateway(Arc::clone(&store), ApiKeySource::Header).await;
    let partner = [("x-api-key", PARTNER)];

    assert_eq!(get(addr, &partner).await.status, StatusCode::OK);
    store.set_enabled("partner001", false).unwrap();
    get(addr, &partner).await.assert_forbidden();
    store.set_enabled("partner001", true).unwrap();
    assert_eq!(get(addr, &partner).await.status, StatusCode::OK);
    store.remove("partner001").unwrap();
    get(addr, &partner).await.assert_forbidden();

    let suspended = [("x-api-key", SUSPENDED)];
    get(addr, &suspended).await.assert_forbidden();
    store.set_enabled("suspended1", true).unwrap();
    assert_eq!(get(addr, &suspended).await.json()["apiKeyId"], "suspended1");

    let imported = store
        .import(ApiKey::import("late", "imported-while-serving-0001").unwrap())
        .unwrap();
    let answer = get(addr, &[("x-api-key", "imported-while-serving-0001")]).await;
    assert_eq!(answer.json()["apiKeyId"], imported.id.as_str());

    let generated = store.generate("later still").unwrap();
    let answer = get(addr, &[("x-api-key", &generated.value)]).await;
    assert_eq!(answer.json()["resolved"], generated.id.as_str());
}

#[tokio::test]
async fn authorizer_keys_come_from_the_usage_identifier_key() {
    let (addr, calls) = gateway(store(), ApiKeySource::Authorizer).await;

    // The authorizer returned no key: a valid header does not stand in for it.
    get(addr, &[("x-api-key", PARTNER)])
        .await
        .assert_forbidden();
    get(addr, &[]).await.assert_forbidden();
    get(addr, &[(AUTHORIZER_RESULT, "an-unknown-usage-identifier")])
        .await
        .assert_forbidden();
    get(addr, &[(AUTHORIZER_RESULT, SUSPENDED)])
        .await
        .assert_forbidden();
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // The header is ignored when the authorizer's key is good.
    let ok = get(
        addr,
        &[(AUTHORIZER_RESULT, PARTNER), ("x-api-key", "ignored-here")],
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.json()["apiKey"], PARTNER);
    assert_eq!(ok.json()["apiKeyId"], "partner001");
}

#[tokio::test]
async fn the_layer_fronts_a_plain_service_fn_with_its_own_body_type() {
    let store = store();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let service = ServiceBuilder::new()
        .layer(ApiKeyLayer::new(store, ApiKeySource::Header))
        .service_fn(move |req: Request<String>| {
            counted.fetch_add(1, Ordering::SeqCst);
            let id = req
                .extensions()
                .get::<ResolvedApiKey>()
                .unwrap()
                .0
                .id
                .clone();
            // No `$context` here: the key is still resolved and handed on.
            assert!(req.extensions().get::<RequestContext>().is_none());
            async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(id)))) }
        });

    let req = Request::get("/").body(String::new()).unwrap();
    let res = service.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], br#"{"message":"Forbidden"}"#);
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let req = Request::get("/")
        .header("x-api-key", PARTNER)
        .body(String::new())
        .unwrap();
    let res = service.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"partner001");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn generated_keys_have_aws_shapes_and_differ() {
    let store = InMemoryApiKeyStore::new();
    let keys: Vec<_> = (0..200)
        .map(|i| store.generate(format!("key {i}")).unwrap())
        .collect();
    for key in &keys {
        assert_eq!(key.value.len(), 40, "{key:?}");
        assert!(key.value.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(key.id.len(), 10);
        assert!(
            key.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert!(key.enabled);
        assert!(Arc::ptr_eq(&store.find(&key.value).unwrap(), key));
    }
    let values: std::collections::HashSet<_> = keys.iter().map(|k| k.value.clone()).collect();
    let ids: std::collections::HashSet<_> = keys.iter().map(|k| k.id.clone()).collect();
    assert_eq!(values.len(), 200);
    assert_eq!(ids.len(), 200);
    assert_eq!(store.len(), 200);
    assert_eq!(store.list().len(), 200);
    // Upper case, lower case and digits all turn up across 8 000 characters.
    let all: String = keys.iter().map(|k| k.value.as_str()).collect();
    assert!(all.bytes().any(|b| b.is_ascii_uppercase()));
    assert!(all.bytes().any(|b| b.is_ascii_lowercase()));
    assert!(all.bytes().any(|b| b.is_ascii_digit()));
}

#[test]
fn imported_values_need_20_to_128_visible_characters() {
    let err = ApiKey::import("short", "a".repeat(19)).unwrap_err();
    assert!(
        matches!(&err, ApiKeyError::ValueLength { name, len: 19 } if name == "short"),
        "{err}"
    );
    assert!(err.to_string().contains("20 to 128"), "{err}");
    assert!(ApiKey::import("shortest", "a".repeat(20)).is_ok());
    assert!(ApiKey::import("longest", "a".repeat(128)).is_ok());
    assert!(matches!(
        ApiKey::import("long", "a".repeat(129)),
        Err(ApiKeyError::ValueLength { len: 129, .. })
    ));
    for bad in [
        "has a space in the middle",
        "has\ta-tab-in-the-middle!!",
        "ünicode-is-not-sendable-xx",
    ] {
        assert!(
            matches!(
                ApiKey::import("odd", bad),
                Err(ApiKeyError::ValueCharacters { .. })
            ),
            "{bad:?} accepted"
        );
    }
    assert!(matches!(
        ApiKey::import("n".repeat(1025), "a".repeat(20)),
        Err(ApiKeyError::NameLength { len: 1025 })
    ));

    // A key built by hand is checked when it enters a store.
    let hand_made = ApiKey {
        id: "hand".into(),
        name: "hand made".into(),
        value: "too-short".into(),
        enabled: true,
        description: None,
    };
    assert!(matches!(
        InMemoryApiKeyStore::new().import(hand_made.clone()),
        Err(ApiKeyError::ValueLength { len: 9, .. })
    ));
    assert!(InMemoryApiKeyStore::from_keys([hand_made]).is_err());
}

#[test]
fn configuration_generates_what_it_leaves_out_and_refuses_typos() {
    let entries: Vec<ApiKeyConfig> = serde_json::from_str(
        r#"[{"name": "bare"},
            {"name": "off", "value": "configured-value-0123456", "enabled": false,
             "description": "switched off"}]"#,
    )
    .unwrap();
    assert!(
        entries[0].enabled,
        "keys are enabled unless the config says not"
    );
    let store = InMemoryApiKeyStore::from_config(entries).unwrap();
    let mut keys = store.list();
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    let (bare, off) = (&keys[0], &keys[1]);
    assert_eq!(bare.name, "bare");
    assert_eq!(bare.value.len(), 40);
    assert_eq!(bare.id.len(), 10);
    assert!(bare.enabled);
    assert_eq!(off.value, "configured-value-0123456");
    assert!(!off.enabled);
    assert_eq!(off.description.as_deref(), Some("switched off"));
    assert!(Arc::ptr_eq(&store.get(&off.id).unwrap(), off));

    let typo = serde_json::from_str::<ApiKeyConfig>(r#"{"name": "x", "vaule": "abc"}"#);
    assert!(typo.unwrap_err().to_string().contains("vaule"));
    let nameless = serde_json::from_str::<ApiKeyConfig>(r#"{"value": "abc"}"#);
    assert!(nameless.unwrap_err().to_string().contains("name"));

    let short: Vec<ApiKeyConfig> =
        serde_json::from_str(r#"[{"name": "tiny", "value": "tiny"}]"#).unwrap();
    let err = InMemoryApiKeyStore::from_config(short).unwrap_err();
    assert!(err.to_string().contains("`tiny`"), "{err}");
}
