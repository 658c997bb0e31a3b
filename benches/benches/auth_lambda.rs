//! A REST TOKEN Lambda authorizer whose result is cached, checking a request that
//! carries the token: computing the method ARN, the cache lookup, evaluating the
//! cached policy for that ARN and filling `$context.authorizer.*` (and the
//! `usageIdentifierKey` extension). Beside it: the policy evaluation alone (the
//! floor of any cached check), the same check with caching off (the event written,
//! an in-process function reading it and answering, the answer parsed and its
//! policy compiled: what a cache hit saves), and the layer in front of a service.

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use gateway_auth::ApiScope;
use gateway_auth::lambda::{LambdaAuthorizer, LambdaAuthorizerLayer};
use gateway_auth::policy::{Policy, PolicyRequest};
use gateway_core::context::Identity;
use gateway_core::lambda::{Invocation, InvocationOutput, InvokeFuture, LambdaInvoker};
use gateway_core::model::{ApiProtocol, Authorizer, AuthorizerType};
use gateway_core::{Body, RequestContext};
use http::{Request, Response};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};

const URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/\
                   arn:aws:lambda:us-east-1:123456789012:function:authorizer/invocations";
const TOKEN: &str = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJl";

fn answer() -> Value {
    json!({
        "principalId": "user-42",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow",
                 "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/*"},
                {"Action": "execute-api:Invoke", "Effect": "Deny",
                 "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc123/*/DELETE/*"}
            ]
        },
        "context": {"tenant": "acme", "tier": "gold", "admin": false},
        "usageIdentifierKey": "usage-key-0123456789"
    })
}

/// The authorizer function, in process: reads the event and answers the policy.
#[derive(Debug)]
struct Function;

impl LambdaInvoker for Function {
    fn invoke(&self, invocation: Invocation) -> InvokeFuture {
        let event: Value = invocation.payload.deserialize().unwrap();
        assert_eq!(event["authorizationToken"], TOKEN);
        Box::pin(async move { Ok(InvocationOutput::ok(answer().to_string())) })
    }
}

fn authorizer(ttl: u32) -> LambdaAuthorizer {
    let model = Authorizer {
        name: "tokens".into(),
        kind: AuthorizerType::Token,
        uri: Some(URI.into()),
        identity_source: vec!["method.request.header.Authorization".into()],
        identity_validation_expression: Some("Bearer [A-Za-z0-9._-]+".into()),
        result_ttl_seconds: Some(ttl),
        ..Authorizer::default()
    };
    LambdaAuthorizer::builder(&model, ApiProtocol::Rest, Arc::new(Function))
        .scope(ApiScope::new("us-east-1", "123456789012", "abc123", "prod"))
        .build()
        .unwrap()
}

fn request() -> Request<()> {
    let mut req = Request::get("/prod/pets/7")
        .header("host", "abc123.execute-api.us-east-1.amazonaws.com")
        .header("user-agent", "bench/1.0")
        .header("accept", "application/json")
        .header("authorization", TOKEN)
        .body(())
        .unwrap();
    req.extensions_mut().insert(RequestContext {
        request_id: "c0ffee00-0000-4000-8000-000000000001".into(),
        api_id: "abc123".into(),
        account_id: "123456789012".into(),
        stage: "prod".into(),
        resource_path: "/pets/{id}".into(),
        identity: Identity {
            source_ip: "198.51.100.7".into(),
            ..Identity::default()
        },
        ..RequestContext::default()
    });
    req
}

/// Runs a future that never waits (a cache hit, or an in-process function).
fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the check waited"),
    }
}

fn bench(c: &mut Criterion) {
    let cached = authorizer(300);
    let mut warm = request();
    assert!(now(cached.check(&mut warm)).is_ok());

    let mut group = c.benchmark_group("lambda_authorizer");
    group.bench_function("cached_token_hit", |b| {
        b.iter_batched(
            request,
            |mut req| {
                let authorized = now(cached.check(&mut req)).unwrap();
                (authorized, req)
            },
            BatchSize::SmallInput,
        );
    });

    let policy = Policy::from_value(&answer()["policyDocument"]).unwrap();
    let arn = cached.scope().method_arn(&request());
    group.bench_function("policy_evaluation_only", |b| {
        b.iter(|| policy.evaluate(&PolicyRequest::invoke(black_box(&arn))));
    });

    let uncached = authorizer(0);
    group.bench_function("uncached_in_process_function", |b| {
        b.iter_batched(
            request,
            |mut req| {
                let authorized = now(uncached.check(&mut req)).unwrap();
                (authorized, req)
            },
            BatchSize::SmallInput,
        );
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let service = LambdaAuthorizerLayer::new(cached.clone()).layer(tower::service_fn(
        |_req: Request<()>| async { Ok::<_, Infallible>(Response::new(Body::default())) },
    ));
    group.bench_function("layer_cached_hit", |b| {
        b.to_async(&runtime).iter_batched(
            request,
            |req| service.clone().oneshot(req),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
