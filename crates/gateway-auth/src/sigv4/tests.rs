//! The verifier against requests of AWS's Signature Version 4 test suite (the
//! cases that apply to a service other than S3), signed for the service `service`
//! in `us-east-1` at 2015-08-30T12:36:00Z.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gateway_core::clock::Clock;
use http::Request;
use http::request::Parts;

use super::*;

const SIGNED_AT: u64 = 1_440_938_160;
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";

fn verifier_at(offset_secs: i64) -> Verifier {
    let store = InMemoryCredentials::new();
    store.insert(Credential::new(
        "AKIDEXAMPLE",
        SECRET,
        "123456789012",
        "arn:aws:iam::123456789012:user/example",
    ));
    let now = Duration::from_secs(SIGNED_AT.saturating_add_signed(offset_secs));
    Verifier::new("us-east-1", Arc::new(store))
        .with_service("service")
        .with_clock(Clock::manual(now).0)
}

fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

fn auth(signed_headers: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders={signed_headers}, Signature={signature}"
    )
}

const HOST: (&str, &str) = ("host", "example.amazonaws.com");
const DATE: (&str, &str) = ("x-amz-date", "20150830T123600Z");

/// Method, path and query, headers besides `Host` and `X-Amz-Date`, body.
type SuiteCase<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, &'a [u8]);

#[test]
fn suite_header_signatures_verify() {
    let verifier = verifier_at(0);
    let cases: [SuiteCase<'_>; 4] = [
        (
            "GET",
            "/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
            vec![(
                "authorization",
                auth(
                    "host;x-amz-date",
                    "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
                ),
            )],
            b"",
        ),
        (
            "GET",
            "/",
            vec![
                ("my-header1", " value1".to_owned()),
                ("my-header2", " \"a   b   c\"".to_owned()),
                (
                    "authorization",
                    auth(
                        "host;my-header1;my-header2;x-amz-date",
                        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
                    ),
                ),
            ],
            b"",
        ),
        (
            "GET",
            "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            vec![(
                "authorization",
                auth(
                    "host;x-amz-date",
                    "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
                ),
            )],
            b"",
        ),
        (
            "POST",
            "/",
            vec![
                (
                    "content-type",
                    "application/x-www-form-urlencoded".to_owned(),
                ),
                ("content-length", "13".to_owned()),
                (
                    "x-amz-content-sha256",
                    "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e".to_owned(),
                ),
                (
                    "authorization",
                    auth(
                        "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
                        "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
                    ),
                ),
            ],
            b"Param1=value1",
        ),
    ];
    for (method, uri, extra, body) in cases {
        let mut headers = vec![HOST, DATE];
        headers.extend(extra.iter().map(|(n, v)| (*n, v.as_str())));
        let parts = parts(method, uri, &headers);
        let caller = verifier
            .verify(&parts, body)
            .unwrap_or_else(|r| panic!("{method} {uri}: {r:?}"));
        assert_eq!(caller.credential.access_key_id, "AKIDEXAMPLE");
        assert!(!caller.presigned);
    }
}

#[test]
fn suite_presigned_urls_verify() {
    let verifier = verifier_at(0);
    let presigned = parts(
        "GET",
        "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=8e76a88a7433637b12778d5592799b29ad21ecd6cf6325051c21d86f0acda2bf",
        &[HOST],
    );
    let caller = verifier.verify(&presigned, b"").unwrap();
    assert!(caller.presigned);

    let form_post = parts(
        "POST",
        "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost&X-Amz-Expires=3600&X-Amz-Signature=89a40deed0f26f9461242825a082d2222717248abc7ab41f552ad84a94ad46e9",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            HOST,
            ("content-length", "13"),
        ],
    );
    let signed = verifier.begin(&form_post).unwrap();
    assert!(signed.needs_body());
    signed.verify(b"Param1=value1").unwrap();
    let tampered = verifier.verify(&form_post, b"Param1=value2").unwrap_err();
    assert!(matches!(tampered, Rejection::SignatureMismatch { .. }));
}

#[test]
fn the_suite_session_token_case_verifies_with_its_own_key() {
    let store = InMemoryCredentials::new();
    store.insert(
        Credential::new("AKIDEXAMPLE", SECRET, "123456789012", "arn").with_session_token(TOKEN),
    );
    let verifier = Verifier::new("us-east-1", Arc::new(store))
        .with_service("service")
        .with_clock(Clock::manual(Duration::from_secs(SIGNED_AT)).0);
    let signed = |token: &str| {
        parts(
            "GET",
            "/",
            &[
                HOST,
                ("x-amz-security-token", token),
                DATE,
                (
                    "authorization",
                    &auth(
                        "host;x-amz-date;x-amz-security-token",
                        "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
                    ),
                ),
            ],
        )
    };
    verifier.verify(&signed(TOKEN), b"").unwrap();
    assert_eq!(
        verifier.verify(&signed("other"), b"").unwrap_err(),
        Rejection::UnrecognizedClient
    );
    let without = parts(
        "GET",
        "/",
        &[
            HOST,
            DATE,
            ("authorization", &auth("host;x-amz-date", "00")),
        ],
    );
    assert_eq!(
        verifier.verify(&without, b"").unwrap_err(),
        Rejection::UnrecognizedClient
    );
}

fn vanilla() -> Parts {
    parts(
        "GET",
        "/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
        &[
            HOST,
            DATE,
            (
                "authorization",
                &auth(
                    "host;x-amz-date",
                    "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
                ),
            ),
        ],
    )
}

#[test]
fn the_skew_window_is_five_minutes_either_way() {
    let request = vanilla();
    verifier_at(300).verify(&request, b"").unwrap();
    verifier_at(-300).verify(&request, b"").unwrap();
    let Rejection::SignatureExpired(message) = verifier_at(301).verify(&request, b"").unwrap_err()
    else {
        panic!("expected an expired signature");
    };
    assert_eq!(
        message,
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z \
         (20150830T124101Z - 5 min.)"
    );
    let Rejection::SignatureExpired(message) = verifier_at(-301).verify(&request, b"").unwrap_err()
    else {
        panic!("expected a signature not yet current");
    };
    assert_eq!(
        message,
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123559Z \
         (20150830T123059Z + 5 min.)"
    );
}

#[test]
fn scope_errors_name_what_is_wrong() {
    let request = parts(
        "GET",
        "/",
        &[
            HOST,
            DATE,
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/eu-west-1/s3/aws5_request, \
                 SignedHeaders=host;x-amz-date, Signature=00",
            ),
        ],
    );
    let Rejection::InvalidSignature(message) = verifier_at(0).verify(&request, b"").unwrap_err()
    else {
        panic!("expected an invalid scope");
    };
    assert_eq!(
        message,
        "Credential should be scoped to a valid region, not 'eu-west-1'. Credential should be \
         scoped to correct service: 'service'. Credential should be scoped with a valid \
         terminator: 'aws4_request', not 'aws5_request'. "
    );
    let request = parts(
        "GET",
        "/",
        &[
            HOST,
            DATE,
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=00",
            ),
        ],
    );
    let Rejection::InvalidSignature(message) = verifier_at(0).verify(&request, b"").unwrap_err()
    else {
        panic!("expected a date mismatch");
    };
    assert_eq!(
        message,
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
         HTTP: '20150831' != '20150830', from '20150830T123600Z'."
    );
}

#[test]
fn host_must_be_signed() {
    let request = parts(
        "GET",
        "/",
        &[HOST, DATE, ("authorization", &auth("x-amz-date", "00"))],
    );
    assert_eq!(
        verifier_at(0).verify(&request, b"").unwrap_err(),
        Rejection::IncompleteSignature(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into()
        )
    );
}

#[test]
fn a_date_header_stands_in_for_x_amz_date() {
    // The vanilla request signed again with `Date` in place of `X-Amz-Date`: the
    // string to sign still holds the ISO form of the same instant.
    let verifier = verifier_at(0);
    let request = parts(
        "GET",
        "/",
        &[
            HOST,
            ("date", "Sun, 30 Aug 2015 12:36:00 GMT"),
            ("authorization", &auth("date;host", "00")),
        ],
    );
    let Rejection::SignatureMismatch {
        canonical_request,
        string_to_sign,
    } = verifier.verify(&request, b"").unwrap_err()
    else {
        panic!("expected a mismatch");
    };
    assert_eq!(
        canonical_request,
        "GET\n/\n\ndate:Sun, 30 Aug 2015 12:36:00 GMT\nhost:example.amazonaws.com\n\n\
         date;host\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert!(string_to_sign.starts_with(
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
    ));
    // Signing that string with the suite's key gives the signature to send.
    let key = verifier.signing_key(SECRET, "20150830", SIGNED_AT);
    let signature = aws_sigv4::sign::v4::calculate_signature(key, string_to_sign.as_bytes());
    let request = parts(
        "GET",
        "/",
        &[
            HOST,
            ("date", "Sun, 30 Aug 2015 12:36:00 GMT"),
            ("authorization", &auth("date;host", &signature)),
        ],
    );
    verifier.verify(&request, b"").unwrap();
}

#[test]
fn signing_keys_are_kept_per_secret_and_day() {
    let verifier = verifier_at(0);
    let first = verifier.signing_key(SECRET, "20150830", SIGNED_AT);
    assert_eq!(
        first,
        verifier.signing_key(SECRET, "20150830", SIGNED_AT),
        "the cached key is the derived key"
    );
    let other_secret = verifier.signing_key("rotated", "20150830", SIGNED_AT);
    assert_ne!(first, other_secret);
    let next_day = verifier.signing_key(SECRET, "20150831", SIGNED_AT + 86_400);
    assert_ne!(first, next_day);
    let expected = aws_sigv4::sign::v4::generate_signing_key(
        SECRET,
        SystemTime::UNIX_EPOCH + Duration::from_secs(SIGNED_AT),
        "us-east-1",
        "service",
    );
    assert_eq!(first.as_slice(), expected.as_ref());
}

#[test]
fn rejections_render_as_aws_answers() {
    let err = Rejection::UnrecognizedClient.into_gateway_error();
    assert_eq!(err.status(), http::StatusCode::FORBIDDEN);
    assert_eq!(err.error_type(), "UnrecognizedClientException");
    assert_eq!(
        err.message(),
        Some("The security token included in the request is invalid.")
    );
    let err = Rejection::IncompleteSignature("x".into()).into_gateway_error();
    assert_eq!(err.error_type(), "IncompleteSignatureException");
    assert_eq!(err.status(), http::StatusCode::FORBIDDEN);
    let err = Rejection::AccessDenied {
        user_arn: "arn:aws:iam::1:user/a".into(),
        resource: "arn:aws:execute-api:us-east-1:1:api/prod/GET/".into(),
        explicit: true,
    }
    .into_gateway_error();
    assert_eq!(err.error_type(), "AccessDeniedException");
    assert_eq!(
        err.message(),
        Some(
            "User: arn:aws:iam::1:user/a is not authorized to perform: execute-api:Invoke on \
             resource: arn:aws:execute-api:us-east-1:1:api/prod/GET/ with an explicit deny"
        )
    );
    let err = Rejection::ExpiredToken.into_gateway_error();
    assert_eq!(err.error_type(), "ExpiredTokenException");
}
