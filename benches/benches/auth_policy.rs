//! Policy evaluation: a 10-statement resource policy (principals, wildcard
//! resources, an IP condition, a VPC-endpoint deny) evaluated for an allowed and
//! for a denied call, and a one-statement authorizer policy. Target: a 10-statement
//! policy in 2 µs or less.

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use gateway_auth::policy::{Decision, Policy, PolicyRequest, Principal};
use serde_json::json;

const API: &str = "arn:aws:execute-api:us-east-1:111122223333:abc123";

fn ten_statements() -> Policy {
    let mut statements = Vec::new();
    for (i, method) in ["GET", "PUT", "PATCH", "HEAD"].iter().enumerate() {
        statements.push(json!({
            "Sid": format!("team{i}"),
            "Effect": "Allow",
            "Principal": {"AWS": [format!("arn:aws:iam::44445555666{i}:role/team"), "777788889999"]},
            "Action": "execute-api:Invoke",
            "Resource": format!("execute-api:/*/{method}/team{i}/*"),
        }));
    }
    for prefix in ["internal", "admin", "metrics"] {
        statements.push(json!({
            "Effect": "Deny",
            "Principal": "*",
            "Action": "execute-api:Invoke",
            "Resource": format!("execute-api:/*/*/{prefix}/*"),
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}
        }));
    }
    statements.push(json!({
        "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
        "Resource": "execute-api:/*",
        "Condition": {"StringNotEqualsIfExists": {"aws:SourceVpce": ["vpce-1a2b3c4d", "vpce-5e6f7a8b"]}}
    }));
    statements.push(json!({
        "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
        "Resource": ["execute-api:/prod/GET/pets", "execute-api:/prod/GET/pets/*"],
        "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.0/24"]}}
    }));
    statements.push(json!({
        "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
        "Resource": "execute-api:/prod/POST/orders"
    }));
    let policy = Policy::for_api(
        &json!({"Version": "2012-10-17", "Statement": statements}),
        API,
    )
    .unwrap();
    assert_eq!(policy.len(), 10);
    policy
}

fn bench(c: &mut Criterion) {
    let policy = ten_statements();
    let allowed = format!("{API}/prod/GET/pets/42");
    let denied = format!("{API}/prod/GET/admin/users");
    let ip: IpAddr = "203.0.113.9".parse().unwrap();
    let caller = Principal::Aws {
        account: "777788889999",
        arn: "arn:aws:sts::777788889999:assumed-role/ci/build-7",
    };
    let allow_request = PolicyRequest::invoke(&allowed)
        .source_ip(Some(ip))
        .vpc(Some("vpc-1"), Some("vpce-1a2b3c4d"));
    let deny_request = PolicyRequest::invoke(&denied)
        .source_ip(Some(ip))
        .vpc(Some("vpc-1"), Some("vpce-1a2b3c4d"))
        .principal(caller);
    assert_eq!(policy.evaluate(&allow_request), Decision::Allow);
    assert_eq!(policy.evaluate(&deny_request), Decision::Deny);

    let mut group = c.benchmark_group("policy");
    group.bench_function("10_statements_allow", |b| {
        b.iter(|| black_box(policy.evaluate(black_box(&allow_request))));
    });
    group.bench_function("10_statements_deny", |b| {
        b.iter(|| black_box(policy.evaluate(black_box(&deny_request))));
    });
    let authorizer = Policy::from_value(&json!({
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow",
                       "Resource": format!("{API}/prod/GET/*")}]
    }))
    .unwrap();
    let request = PolicyRequest::invoke(&allowed);
    group.bench_function("authorizer_policy", |b| {
        b.iter(|| black_box(authorizer.evaluate(black_box(&request))));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
