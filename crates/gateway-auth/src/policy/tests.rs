#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use serde_json::json;

use super::*;

const API: &str = "arn:aws:execute-api:us-east-1:111122223333:abc123";

fn arn(rest: &str) -> String {
    format!("{API}/{rest}")
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn an_authorizer_policy_allows_what_it_lists() {
    // The shape Lambda authorizers return: no Principal, Action as a string.
    let policy = Policy::from_value(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Action": "execute-api:Invoke",
            "Effect": "Allow",
            "Resource": arn("test/GET/pets/*")
        }]
    }))
    .unwrap();
    let allowed = arn("test/GET/pets/7");
    let other_method = arn("test/POST/pets/7");
    let other_stage = arn("prod/GET/pets/7");
    assert_eq!(
        policy.evaluate(&PolicyRequest::invoke(&allowed)),
        Decision::Allow
    );
    assert_eq!(
        policy.evaluate(&PolicyRequest::invoke(&other_method)),
        Decision::Implicit
    );
    assert_eq!(
        policy.evaluate(&PolicyRequest::invoke(&other_stage)),
        Decision::Implicit
    );
}

#[test]
fn an_explicit_deny_wins_whatever_the_order() {
    for statements in [
        json!([
            {"Effect": "Deny", "Action": "execute-api:*", "Resource": arn("*/DELETE/*")},
            {"Effect": "Allow", "Action": "*", "Resource": "*"}
        ]),
        json!([
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "execute-api:*", "Resource": arn("*/DELETE/*")}
        ]),
    ] {
        let policy = Policy::from_value(&json!({"Statement": statements})).unwrap();
        let delete = arn("prod/DELETE/pets/1");
        let get = arn("prod/GET/pets/1");
        assert_eq!(
            policy.evaluate(&PolicyRequest::invoke(&delete)),
            Decision::Deny
        );
        assert_eq!(
            policy.evaluate(&PolicyRequest::invoke(&get)),
            Decision::Allow
        );
    }
}

#[test]
fn actions_match_case_insensitively_and_resources_do_not() {
    let policy = Policy::from_value(&json!({"Statement": {
        "Effect": "Allow", "Action": ["EXECUTE-API:invoke"], "Resource": arn("prod/GET/Pets")
    }}))
    .unwrap();
    assert_eq!(
        policy.evaluate(&PolicyRequest::invoke(&arn("prod/GET/Pets"))),
        Decision::Allow
    );
    assert_eq!(
        policy.evaluate(&PolicyRequest::invoke(&arn("prod/GET/pets"))),
        Decision::Implicit
    );
    let pets = arn("prod/GET/Pets");
    let other_action = PolicyRequest {
        action: "execute-api:ManageConnections",
        ..PolicyRequest::invoke(&pets)
    };
    assert_eq!(policy.evaluate(&other_action), Decision::Implicit);
}

#[test]
fn not_action_and_not_resource_are_complements() {
    let policy = Policy::from_value(&json!({"Statement": [
        {"Effect": "Allow", "NotAction": "execute-api:ManageConnections", "NotResource": arn("*/admin/*")}
    ]}))
    .unwrap();
    assert_eq!(
        policy.evaluate(&PolicyRequest::invoke(&arn("prod/GET/pets"))),
        Decision::Allow
    );
    assert_eq!(
        policy.evaluate(&PolicyRequest::invoke(&arn("prod/admin/GET"))),
        Decision::Implicit
    );
}

#[test]
fn a_resource_policy_allowing_an_ip_range() {
    // The "allow only these networks" policy of AWS's resource-policy guide.
    let policy = Policy::for_api(
        &json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": "*",
                "Action": "execute-api:Invoke",
                "Resource": "execute-api:/*",
                "Condition": {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "198.51.100.7"]}}
            }]
        }),
        API,
    )
    .unwrap();
    let method = arn("prod/GET/pets");
    let from = |addr: &str| policy.evaluate(&PolicyRequest::invoke(&method).source_ip(ip(addr)));
    assert_eq!(from("192.0.2.44"), Decision::Allow);
    assert_eq!(from("198.51.100.7"), Decision::Allow);
    assert_eq!(from("198.51.100.8"), Decision::Implicit);
    assert_eq!(from("2001:db8::1"), Decision::Implicit);
    // Without an address the condition cannot hold.
    assert_eq!(
        policy.evaluate(&PolicyRequest::invoke(&method)),
        Decision::Implicit
    );
    // The shorthand only names this API.
    let elsewhere = "arn:aws:execute-api:us-east-1:111122223333:other/prod/GET/pets";
    assert_eq!(
        policy.evaluate(&PolicyRequest::invoke(elsewhere).source_ip(ip("192.0.2.1"))),
        Decision::Implicit
    );
}

#[test]
fn a_resource_policy_denying_everything_but_a_vpc_endpoint() {
    let policy = Policy::for_api(
        &json!({
            "Statement": [
                {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
                 "Resource": "execute-api:/*",
                 "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}},
                {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                 "Resource": "execute-api:/*"}
            ]
        }),
        API,
    )
    .unwrap();
    let method = arn("prod/GET/pets");
    let through =
        |vpce: Option<&str>| policy.evaluate(&PolicyRequest::invoke(&method).vpc(None, vpce));
    assert_eq!(through(Some("vpce-1a2b3c4d")), Decision::Allow);
    assert_eq!(through(Some("vpce-99999999")), Decision::Deny);
    // A negated operator holds when the key is absent: no endpoint is denied.
    assert_eq!(through(None), Decision::Deny);
}

#[test]
fn principals_name_accounts_users_and_roles() {
    let policy = Policy::for_api(
        &json!({
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": [
                    "arn:aws:iam::444455556666:role/developer",
                    "arn:aws:iam::777788889999:root",
                    "123412341234"
                ]},
                "Action": "execute-api:Invoke",
                "Resource": "execute-api:/*/GET/*"
            }]
        }),
        API,
    )
    .unwrap();
    let method = arn("prod/GET/pets");
    let by = |account: &'static str, caller: &'static str| {
        policy.evaluate(&PolicyRequest::invoke(&method).principal(Principal::Aws {
            account,
            arn: caller,
        }))
    };
    assert_eq!(
        by(
            "444455556666",
            "arn:aws:sts::444455556666:assumed-role/developer/alice"
        ),
        Decision::Allow
    );
    assert_eq!(
        by("444455556666", "arn:aws:iam::444455556666:role/developer"),
        Decision::Allow
    );
    assert_eq!(
        by(
            "444455556666",
            "arn:aws:sts::444455556666:assumed-role/admin/alice"
        ),
        Decision::Implicit
    );
    assert_eq!(
        by("777788889999", "arn:aws:iam::777788889999:user/bob"),
        Decision::Allow
    );
    assert_eq!(
        by("123412341234", "arn:aws:iam::123412341234:user/carol"),
        Decision::Allow
    );
    assert_eq!(
        by("000000000000", "arn:aws:iam::000000000000:user/mallory"),
        Decision::Implicit
    );
    assert_eq!(
        policy.evaluate(&PolicyRequest::invoke(&method)),
        Decision::Implicit,
        "anonymous callers match only `*`"
    );
}

#[test]
fn not_principal_excludes_the_listed_callers() {
    let policy = Policy::from_value(&json!({"Statement": {
        "Effect": "Deny",
        "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:user/ops"},
        "Action": "execute-api:Invoke",
        "Resource": "*"
    }}))
    .unwrap();
    let method = arn("prod/GET/admin");
    let ops = Principal::Aws {
        account: "111122223333",
        arn: "arn:aws:iam::111122223333:user/ops",
    };
    let dev = Principal::Aws {
        account: "111122223333",
        arn: "arn:aws:iam::111122223333:user/dev",
    };
    assert_eq!(
        policy.evaluate(&PolicyRequest::invoke(&method).principal(ops)),
        Decision::Implicit
    );
    assert_eq!(
        policy.evaluate(&PolicyRequest::invoke(&method).principal(dev)),
        Decision::Deny
    );
    assert_eq!(
        policy.evaluate(&PolicyRequest::invoke(&method)),
        Decision::Deny
    );
}

#[test]
fn condition_operators_and_their_absent_keys() {
    let cases = [
        // (condition, facts present, expected match)
        (
            json!({"StringLike": {"aws:UserAgent": "curl/*"}}),
            true,
            true,
        ),
        (
            json!({"StringLike": {"aws:UserAgent": "wget/*"}}),
            true,
            false,
        ),
        (
            json!({"StringLike": {"aws:UserAgent": "curl/*"}}),
            false,
            false,
        ),
        (
            json!({"StringNotLike": {"aws:UserAgent": "curl/*"}}),
            false,
            true,
        ),
        (
            json!({"StringEqualsIgnoreCase": {"aws:SourceVpc": "VPC-1"}}),
            true,
            true,
        ),
        (
            json!({"StringEquals": {"aws:SourceVpc": "VPC-1"}}),
            true,
            false,
        ),
        (
            json!({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-2"}}),
            false,
            true,
        ),
        (
            json!({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-2"}}),
            true,
            false,
        ),
        (
            json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            true,
            true,
        ),
        (
            json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
            true,
            true,
        ),
        (json!({"Null": {"aws:SourceVpc": "true"}}), false, true),
        (json!({"Null": {"aws:SourceVpc": "false"}}), true, true),
        (json!({"Null": {"aws:SourceVpc": "false"}}), false, false),
        (
            json!({"Bool": {"aws:SecureTransport": "false"}}),
            true,
            true,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalAccount": "111122223333"}}),
            true,
            true,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalAccount": "111122223333"}}),
            false,
            false,
        ),
        (
            json!({"StringEquals": {"aws:SomethingElse": "x"}}),
            true,
            false,
        ),
        // Keys under one operator, and operators, must all hold.
        (
            json!({"StringEquals": {"aws:SourceVpc": "vpc-1", "aws:SourceVpce": "vpce-1"}}),
            true,
            true,
        ),
        (
            json!({"StringEquals": {"aws:SourceVpc": "vpc-1"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
            true,
            false,
        ),
        (
            json!({"ForAnyValue:StringLike": {"aws:SourceVpce": ["vpce-9", "vpce-*"]}}),
            true,
            true,
        ),
    ];
    let method = arn("prod/GET/x");
    for (condition, present, expected) in cases {
        let policy = Policy::from_value(&json!({"Statement": {
            "Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition
        }}))
        .unwrap();
        let mut request = PolicyRequest::invoke(&method);
        if present {
            request = request
                .source_ip(ip("203.0.113.9"))
                .vpc(Some("vpc-1"), Some("vpce-1"))
                .principal(Principal::Aws {
                    account: "111122223333",
                    arn: "arn:aws:iam::111122223333:user/u",
                });
            request.user_agent = Some("curl/8.5.0");
        }
        let want = if expected {
            Decision::Allow
        } else {
            Decision::Implicit
        };
        assert_eq!(
            policy.evaluate(&request),
            want,
            "{condition} (facts: {present})"
        );
    }
}

#[test]
fn policies_evaluated_together() {
    let allow =
        Policy::parse(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#).unwrap();
    let deny =
        Policy::parse(r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*/DELETE/*"}}"#)
            .unwrap();
    let get = arn("p/GET/x");
    let delete = arn("p/DELETE/x");
    assert_eq!(
        evaluate_all([&allow, &deny], &PolicyRequest::invoke(&get)),
        Decision::Allow
    );
    assert_eq!(
        evaluate_all([&allow, &deny], &PolicyRequest::invoke(&delete)),
        Decision::Deny
    );
    assert_eq!(
        evaluate_all([&deny], &PolicyRequest::invoke(&get)),
        Decision::Implicit
    );
    assert_eq!(
        evaluate_all([], &PolicyRequest::invoke(&get)),
        Decision::Implicit
    );
    assert_eq!(Decision::Allow.and(Decision::Implicit), Decision::Allow);
    assert_eq!(Decision::Allow.and(Decision::Deny), Decision::Deny);
    assert_eq!(
        Decision::Implicit.and(Decision::Implicit),
        Decision::Implicit
    );
}

#[test]
fn malformed_documents_name_the_place() {
    let cases = [
        (json!([]), "(document)"),
        (json!({}), "Statement"),
        (json!({"Statement": 3}), "Statement"),
        (json!({"Version": "2020-01-01", "Statement": []}), "Version"),
        (json!({"Statemnt": []}), "Statemnt"),
        (
            json!({"Statement": [{"Action": "*", "Resource": "*"}]}),
            "Statement[0].Effect",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Resource": "*"}]}),
            "Statement[0].Action",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "x", "Resource": "*"}]}),
            "Statement[0].Action",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "*"}]}),
            "Statement[0].Resource",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}),
            "Statement[0].Action",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": 5}]}),
            "Statement[0].Principal",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": {"AWS": "bob"}}]}),
            "Statement[0].Principal.AWS",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "not-an-ip"}}}]}),
            "Statement[0].Condition.IpAddress.aws:SourceIp",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {"NumericLessThan": {"aws:EpochTime": "1"}}}]}),
            "Statement[0].Condition.NumericLessThan.aws:EpochTime",
        ),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Extra": 1}]}),
            "Statement[0].Extra",
        ),
    ];
    for (doc, location) in cases {
        let err = Policy::from_value(&doc).unwrap_err();
        assert_eq!(err.location, location, "{doc}: {err}");
    }
    assert!(
        Policy::parse("{")
            .unwrap_err()
            .message
            .starts_with("not JSON")
    );
}

#[test]
fn denials_read_as_aws_writes_them() {
    let method = arn("prod/GET/pets");
    let implicit = access_denied("anonymous", &method, Decision::Implicit);
    assert_eq!(implicit.status(), http::StatusCode::FORBIDDEN);
    assert_eq!(implicit.error_type(), "AccessDeniedException");
    assert_eq!(
        implicit.message(),
        Some(
            "User: anonymous is not authorized to perform: execute-api:Invoke on resource: \
             arn:aws:execute-api:us-east-1:111122223333:abc123/prod/GET/pets"
        )
    );
    let explicit = access_denied("arn:aws:iam::1:user/u", &method, Decision::Deny);
    assert!(
        explicit
            .message()
            .unwrap()
            .ends_with("/prod/GET/pets with an explicit deny")
    );
}
