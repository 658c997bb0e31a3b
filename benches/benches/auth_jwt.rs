//! JWT verification with a warm key cache: an RS256 (RSA 2048) and an ES256 (P-256)
//! token checked by a `JwtAuthorizer` whose key set was fetched once from a local
//! issuer, header to scopes. Its keys are prepared for ring when the key set is
//! read, so a request costs the base64url and JSON decoding of the token, one
//! signature verification and the claim checks.
//!
//! `*_cached_jwks` verifies every signature (the signature cache is off);
//! `*_repeated_token` is the default authorizer seeing a token it verified before,
//! as it does for every request after a client's first.
//!
//! Beside them, the baseline: `jsonwebtoken::decode` (RustCrypto backend: the `rsa`
//! and `p256` crates) with a ready-made key and validation, and no key lookup,
//! scope or audience rules of API Gateway; and the floor: ring's signature check
//! alone, on the same signing input and signature, which every verification pays.

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use gateway_auth::jwt::{Algorithm, JwtAuthorizer, JwtConfig};
use http::Response;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crates/gateway-auth/tests/fixtures/jwt/"
);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}{name}")).unwrap()
}

/// Serves the fixture key set at `/keys` until the runtime stops.
async fn issuer() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let jwks = Bytes::from(fixture("jwks.json"));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let jwks = jwks.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    let jwks = jwks.clone();
                    async move { Ok::<_, Infallible>(Response::new(Full::new(jwks))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    base
}

fn token(key: &str, alg: Algorithm, kid: &str, claims: &Value) -> String {
    let pem = fixture(&format!("{key}.pem"));
    let encoding = if key.starts_with("rsa") {
        EncodingKey::from_rsa_pem(&pem).unwrap()
    } else {
        EncodingKey::from_ec_pem(&pem).unwrap()
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &encoding).unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = rt.block_on(issuer());
    let config = JwtConfig::jwt(base.clone())
        .audience("orders-api")
        .jwks_url(&base, format!("{base}/keys"));
    let remembering: JwtAuthorizer = config.clone().build().unwrap();
    let authorizer: JwtAuthorizer = config.signature_cache(0).build().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": base,
        "sub": "user-1",
        "aud": "orders-api",
        "iat": now,
        "exp": now + 86_400,
        "scope": "orders/read profile",
        "email": "user@example.com",
    });
    let rs256 = token("rsa1", Algorithm::RS256, "rsa-1", &claims);
    let es256 = token("ec1", Algorithm::ES256, "ec-1", &claims);
    let scopes = vec!["orders/read".to_owned()];
    // Warm the key cache: one fetch, then every verification is served from it.
    for token in [&rs256, &es256] {
        rt.block_on(authorizer.verify(token, &scopes)).unwrap();
        rt.block_on(remembering.verify(token, &scopes)).unwrap();
    }

    let mut group = c.benchmark_group("auth_jwt");
    group.bench_function("rs256_cached_jwks", |b| {
        b.to_async(&rt)
            .iter(|| async { authorizer.verify(black_box(&rs256), &scopes).await.unwrap() });
    });
    group.bench_function("es256_cached_jwks", |b| {
        b.to_async(&rt)
            .iter(|| async { authorizer.verify(black_box(&es256), &scopes).await.unwrap() });
    });
    group.bench_function("rs256_repeated_token", |b| {
        b.to_async(&rt).iter(|| async {
            remembering
                .verify(black_box(&rs256), &scopes)
                .await
                .unwrap()
        });
    });
    group.bench_function("es256_repeated_token", |b| {
        b.to_async(&rt).iter(|| async {
            remembering
                .verify(black_box(&es256), &scopes)
                .await
                .unwrap()
        });
    });

    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["orders-api"]);
    validation.set_issuer(&[base.as_str()]);
    let rsa_key = DecodingKey::from_rsa_pem(&fixture("rsa1.pub.pem")).unwrap();
    group.bench_function("baseline_jsonwebtoken_rs256", |b| {
        b.iter(|| jsonwebtoken::decode::<Value>(black_box(&rs256), &rsa_key, &validation).unwrap());
    });
    validation.algorithms = vec![Algorithm::ES256];
    let ec_key = DecodingKey::from_ec_pem(&fixture("ec1.pub.pem")).unwrap();
    group.bench_function("baseline_jsonwebtoken_es256", |b| {
        b.iter(|| jsonwebtoken::decode::<Value>(black_box(&es256), &ec_key, &validation).unwrap());
    });
    for (name, alg, kid, token) in [
        (
            "floor_ring_rs256_signature_only",
            Algorithm::RS256,
            "rsa-1",
            &rs256,
        ),
        (
            "floor_ring_es256_signature_only",
            Algorithm::ES256,
            "ec-1",
            &es256,
        ),
    ] {
        let (message, signature) = token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let key = ring_key(alg, kid);
        key.verify(message.as_bytes(), &signature).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| key.verify(black_box(message.as_bytes()), black_box(&signature)));
        });
    }
    group.finish();
}

/// The fixture key set's key `kid`, as ring takes it.
fn ring_key(alg: Algorithm, kid: &str) -> UnparsedPublicKey<Vec<u8>> {
    let jwks: Value = serde_json::from_slice(&fixture("jwks.json")).unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap();
    let field = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    match alg {
        Algorithm::ES256 => {
            let mut point = vec![0x04];
            point.extend(field("x"));
            point.extend(field("y"));
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
        }
        _ => {
            // ring's RSA public key form: the DER `RSAPublicKey` sequence.
            let der = rsa_public_key_der(&field("n"), &field("e"));
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
        }
    }
}

/// DER for `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn length(len: usize) -> Vec<u8> {
        match len {
            0..0x80 => vec![len as u8],
            0x80..0x100 => vec![0x81, len as u8],
            _ => vec![0x82, (len >> 8) as u8, len as u8],
        }
    }
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let mut value = bytes.to_vec();
        if value.first().is_some_and(|b| b & 0x80 != 0) {
            value.insert(0, 0);
        }
        let mut out = vec![0x02];
        out.extend(length(value.len()));
        out.extend(value);
        out
    }
    let body = [integer(n), integer(e)].concat();
    let mut out = vec![0x30];
    out.extend(length(body.len()));
    out.extend(body);
    out
}

criterion_group!(benches, bench);
criterion_main!(benches);
