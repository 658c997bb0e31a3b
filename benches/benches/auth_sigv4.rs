//! Inbound SigV4 verification of a signed GET with a few headers, credentials in
//! memory: the header form and the presigned form through the verifier, the
//! whole layer in front of a service, and, as the naive baseline, what a verifier
//! that re-signs the request with the SDK's signer (deriving the key every time)
//! would pay.

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4::SigningParams;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use gateway_auth::ApiScope;
use gateway_auth::policy::Policy;
use gateway_auth::sigv4::{Credential, InMemoryCredentials, SigV4Layer, Verifier};
use gateway_core::clock::Clock;
use gateway_core::{Body, RequestContext};
use http::{Request, Response};
use tower::{Layer, ServiceExt};

const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const HOST: &str = "abc123.execute-api.us-east-1.amazonaws.com";
const URL: &str =
    "https://abc123.execute-api.us-east-1.amazonaws.com/prod/pets/7?limit=10&sort=name";
const HEADERS: [(&str, &str); 4] = [
    ("host", HOST),
    ("accept", "application/json"),
    ("user-agent", "bench/1.0"),
    ("x-request-source", "bench"),
];

fn signed_at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_740_830_400)
}

/// The verifier's clock, standing at [`signed_at`].
fn server_clock() -> Clock {
    Clock::manual(Duration::from_secs(1_740_830_400)).0
}

fn store() -> Arc<InMemoryCredentials> {
    let policy = Policy::parse(
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:us-east-1:*:abc123/*"}]}"#,
    )
    .unwrap();
    let store: InMemoryCredentials = (0..1_000)
        .map(|i| {
            Credential::new(
                format!("AKIAOTHER{i:011}"),
                format!("secret-{i}"),
                "123456789012",
                format!("arn:aws:iam::123456789012:user/u{i}"),
            )
        })
        .chain([Credential::new(
            KEY,
            SECRET,
            "123456789012",
            "arn:aws:iam::123456789012:user/bench",
        )
        .with_policy(policy)])
        .collect();
    Arc::new(store)
}

/// The GET signed by the SDK's signer, in the header or the presigned form.
fn signed_request(presigned: bool) -> Request<()> {
    let identity = aws_credential_types::Credentials::new(KEY, SECRET, None, None, "bench").into();
    let mut settings = SigningSettings::default();
    if presigned {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(300));
    }
    let params = SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("execute-api")
        .time(signed_at())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable =
        SignableRequest::new("GET", URL, HEADERS.into_iter(), SignableBody::Bytes(b"")).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = Request::get(URL);
    for (name, value) in HEADERS {
        request = request.header(name, value);
    }
    let mut request = request.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request
}

fn bench(c: &mut Criterion) {
    let verifier = Verifier::new("us-east-1", store()).with_clock(server_clock());
    let (header_form, _) = signed_request(false).into_parts();
    let (query_form, _) = signed_request(true).into_parts();
    verifier.verify(&header_form, b"").unwrap();
    verifier.verify(&query_form, b"").unwrap();

    let mut group = c.benchmark_group("sigv4/verify_get");
    group.bench_function("header", |b| {
        b.iter(|| verifier.verify(black_box(&header_form), b"").unwrap());
    });
    group.bench_function("presigned", |b| {
        b.iter(|| verifier.verify(black_box(&query_form), b"").unwrap());
    });
    // Baseline: re-sign the request with the SDK's signer and compare; it derives
    // the signing key (four HMACs) on every call.
    group.bench_function("naive_resign_with_sdk", |b| {
        let identity =
            aws_credential_types::Credentials::new(KEY, SECRET, None, None, "bench").into();
        let expected = header_form.headers["authorization"].to_str().unwrap();
        b.iter(|| {
            let params = SigningParams::builder()
                .identity(&identity)
                .region("us-east-1")
                .name("execute-api")
                .time(signed_at())
                .settings(SigningSettings::default())
                .build()
                .unwrap()
                .into();
            let signable =
                SignableRequest::new("GET", URL, HEADERS.into_iter(), SignableBody::Bytes(b""))
                    .unwrap();
            let (_, signature) = sign(signable, &params).unwrap().into_parts();
            black_box(expected.ends_with(&signature))
        });
    });
    group.finish();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let layer = SigV4Layer::with_verifier(
        Arc::new(Verifier::new("us-east-1", store()).with_clock(server_clock())),
        ApiScope::new("us-east-1", "123456789012", "abc123", "prod"),
    );
    let service = layer.layer(tower::service_fn(|_req: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::empty()))
    }));
    let mut group = c.benchmark_group("sigv4/layer");
    group.bench_function("signed_get", |b| {
        b.to_async(&runtime).iter_batched(
            || {
                let mut req = Request::from_parts(header_form.clone(), Body::empty());
                req.extensions_mut().insert(RequestContext::default());
                req
            },
            |req| {
                let service = service.clone();
                async move {
                    let response = service.oneshot(req).await.unwrap();
                    assert!(response.status().is_success());
                }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
