use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

use super::xml::{self, parse_timestamp};
use super::*;
use crate::HttpClient;
use crate::aws::{AwsConfig, CredentialsProvider};

// ---- role ARNs ----

#[test]
fn role_arns_are_parsed() {
    let role = RoleArn::parse(" arn:aws:iam::123456789012:role/gateway-role ").unwrap();
    assert_eq!(role.as_str(), "arn:aws:iam::123456789012:role/gateway-role");
    assert_eq!(role.partition(), "aws");
    assert_eq!(role.account(), "123456789012");
    assert_eq!(role.name(), "gateway-role");
    assert_eq!(role.to_string(), role.as_str());

    let with_path =
        RoleArn::parse("arn:aws-cn:iam::123456789012:role/service-role/team/api+gw=1,a.b@c_d")
            .unwrap();
    assert_eq!(with_path.partition(), "aws-cn");
    assert_eq!(with_path.name(), "api+gw=1,a.b@c_d");
}

#[test]
fn caller_credentials_are_refused_with_their_own_message() {
    let err = RoleArn::parse("arn:aws:iam::*:user/*").unwrap_err();
    assert_eq!(
        err,
        RoleArnError::CallerCredentials("arn:aws:iam::*:user/*".to_owned())
    );
    let message = err.to_string();
    assert!(message.contains("caller's own credentials"), "{message}");
    assert!(message.contains("secret key"), "{message}");
}

#[test]
fn what_is_not_a_role_is_refused_with_the_reason() {
    for (bad, reason) in [
        ("gateway-role", "not an ARN"),
        ("arn:aws:iam::123456789012", "not an ARN"),
        ("arn:aws:s3:::bucket/key:x", "service `s3`"),
        ("arn:aws:iam::123456789012:user/bob", "IAM user"),
        ("arn:AWS:iam::123456789012:role/r", "partition"),
        ("arn::iam::123456789012:role/r", "partition"),
        ("arn:aws:iam:us-east-1:123456789012:role/r", "no region"),
        ("arn:aws:iam::1234:role/r", "12 digits"),
        ("arn:aws:iam::*:role/r", "12 digits"),
        ("arn:aws:iam::123456789012:policy/p", "not role/NAME"),
        ("arn:aws:iam::123456789012:role/", "empty segment"),
        ("arn:aws:iam::123456789012:role//r", "empty segment"),
        ("arn:aws:iam::123456789012:role/a b", "not a role name"),
        (
            &format!("arn:aws:iam::123456789012:role/{}", "r".repeat(65)),
            "not a role name",
        ),
    ] {
        match RoleArn::parse(bad) {
            Err(RoleArnError::NotARole { value, reason: why }) => {
                assert_eq!(value, bad.trim());
                assert!(why.contains(reason), "{bad}: {why}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

// ---- the XML reader ----

#[test]
fn xml_is_read_into_elements() {
    let doc = xml::parse(
        "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- a comment -->\n\
         <a:Root xmlns:a=\"urn:x\" attr='v>w'>\n  <a:Child>one &amp; &lt;two&gt; &#65;&#x42;</a:Child>\
         <Empty/><Empty attr=\"1\" /><Data><![CDATA[<raw> & stuff]]></Data></a:Root>\n",
    )
    .unwrap();
    assert_eq!(doc.name, "Root");
    assert_eq!(doc.child_text("Child"), Some("one & <two> AB"));
    assert_eq!(doc.children.len(), 4);
    assert_eq!(doc.child("Empty").map(|e| e.text.as_str()), Some(""));
    assert_eq!(doc.child_text("Empty"), None);
    assert_eq!(doc.child_text("Data"), Some("<raw> & stuff"));
    assert!(doc.descendant("Nothing").is_none());
}

#[test]
fn malformed_xml_is_refused() {
    let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
    for (bad, reason) in [
        ("", "no element"),
        ("   ", "no element"),
        ("text", "outside the root"),
        ("<a>", "not closed"),
        ("<a></b>", "closed by `</b>`"),
        ("</a>", "closes nothing"),
        ("<a/><b/>", "follows the root"),
        ("<a></a>trailing", "outside the root"),
        ("<a", "tag is not closed"),
        ("<a></a", "closing tag is not closed"),
        ("<>", "no name"),
        ("<a>&bogus;</a>", "unknown entity"),
        ("<a>& alone</a>", "no entity reference"),
        ("<a>&#xD800;</a>", "unknown entity"),
        (
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            "document type",
        ),
        ("<a><!-- open</a>", "comment is not closed"),
        (
            "<?xml version='1.0'",
            "processing instruction is not closed",
        ),
        ("<a><![CDATA[open</a>", "CDATA section is not closed"),
        (deep.as_str(), "deeper than"),
    ] {
        let err = xml::parse(bad).unwrap_err();
        assert!(err.contains(reason), "{bad:?}: {err}");
    }
}

// ---- timestamps ----

fn at(seconds: u64, nanos: u32) -> SystemTime {
    UNIX_EPOCH + Duration::new(seconds, nanos)
}

#[test]
fn timestamps_are_read_as_sts_and_moto_write_them() {
    // 2011-07-15T23:28:33Z is 1310772513.
    assert_eq!(
        parse_timestamp("2011-07-15T23:28:33.359Z"),
        Some(at(1_310_772_513, 359_000_000))
    );
    assert_eq!(
        parse_timestamp("2011-07-15T23:28:33Z"),
        Some(at(1_310_772_513, 0))
    );
    assert_eq!(
        parse_timestamp(" 2026-11-21T12:13:40.045034Z "),
        Some(at(1_795_263_220, 45_034_000))
    );
    assert_eq!(
        parse_timestamp("2011-07-15T23:28:33.1234567891Z"),
        Some(at(1_310_772_513, 123_456_789))
    );
    assert_eq!(
        parse_timestamp("2011-07-16T01:28:33+02:00"),
        Some(at(1_310_772_513, 0))
    );
    assert_eq!(
        parse_timestamp("2011-07-15T20:58:33-02:30"),
        Some(at(1_310_772_513, 0))
    );
    assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
    assert_eq!(
        parse_timestamp("2024-02-29T00:00:00Z"),
        Some(at(1_709_164_800, 0))
    );
    assert_eq!(
        parse_timestamp("2000-03-01T00:00:00z"),
        Some(at(951_868_800, 0))
    );
}

#[test]
fn malformed_timestamps_are_refused() {
    for bad in [
        "",
        "2011-07-15",
        "2011-07-15T23:28:33",
        "2011-07-15T23:28:33.Z",
        "2011-07-15T23:28:33.5",
        "2011-07-15 23:28:33 UTC",
        "2011/07/15T23:28:33Z",
        "2011-13-15T23:28:33Z",
        "2011-00-15T23:28:33Z",
        "2023-02-29T00:00:00Z",
        "2011-04-31T00:00:00Z",
        "2011-07-15T24:00:00Z",
        "2011-07-15T23:60:00Z",
        "2011-07-15T23:28:33+2:00",
        "2011-07-15T23:28:33+24:00",
        "1969-12-31T23:59:59Z",
        "2011-07-15T23:28:33Zjunk",
        "२०११-07-15T23:28:33Z",
        "+011-07-15T23:28:33Z",
    ] {
        assert_eq!(parse_timestamp(bad), None, "{bad:?}");
    }
}

// ---- STS answers ----

const OK: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/api-gateway</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:api-gateway</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>AQoDYXdzEPT//////////wEXAMPLE+/token=</SessionToken>
      <Expiration>2011-07-15T23:28:33.359Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#;

#[test]
fn credentials_are_read_from_an_answer() {
    let temporary = parse_response(200, OK.as_bytes()).unwrap();
    assert_eq!(
        *temporary.credentials,
        Credentials::new(
            "ASIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
        )
        .with_session_token("AQoDYXdzEPT//////////wEXAMPLE+/token=")
    );
    assert_eq!(temporary.expiration, at(1_310_772_513, 359_000_000));
}

#[test]
fn error_answers_give_their_code_and_message() {
    // STS's shape.
    let sts = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
      <Error><Type>Sender</Type><Code>AccessDenied</Code>
      <Message>User: arn:aws:iam::123456789012:user/gw is not authorized to perform: sts:AssumeRole</Message></Error>
      <RequestId>4e9e2b96</RequestId></ErrorResponse>"#;
    let err = parse_response(403, sts.as_bytes()).unwrap_err();
    assert_eq!(
        err,
        AssumeRoleErrorKind::Sts {
            status: 403,
            code: Some("AccessDenied".to_owned()),
            message: "User: arn:aws:iam::123456789012:user/gw is not authorized to perform: \
                      sts:AssumeRole"
                .to_owned(),
        }
    );
    assert_eq!(
        err.to_string(),
        "STS answered 403 AccessDenied: User: arn:aws:iam::123456789012:user/gw is not \
         authorized to perform: sts:AssumeRole"
    );

    // moto's authentication errors nest the error in `Errors`.
    let moto = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ErrorResponse><Errors><Error>\
        <Code>InvalidClientTokenId</Code><Message>The security token included in the request \
        is invalid.</Message><Type>Sender</Type></Error></Errors></ErrorResponse>";
    assert!(matches!(
        parse_response(403, moto.as_bytes()),
        Err(AssumeRoleErrorKind::Sts { status: 403, code: Some(code), .. }) if code == "InvalidClientTokenId"
    ));

    // A bare `<Error>` document, and an error document with a success status.
    let bare = "<Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error>";
    assert!(matches!(
        parse_response(400, bare.as_bytes()),
        Err(AssumeRoleErrorKind::Sts { code: Some(code), message, .. })
            if code == "Throttling" && message == "Rate exceeded"
    ));
    assert!(matches!(
        parse_response(200, bare.as_bytes()),
        Err(AssumeRoleErrorKind::Sts { status: 200, .. })
    ));
}

#[test]
fn error_answers_without_xml_keep_their_text_or_reason() {
    let err = parse_response(500, b"<!doctype html><h1>Internal Server Error</h1>").unwrap_err();
    assert_eq!(
        err,
        AssumeRoleErrorKind::Sts {
            status: 500,
            code: None,
            message: "<!doctype html><h1>Internal Server Error</h1>".to_owned(),
        }
    );
    assert_eq!(
        err.to_string(),
        "STS answered 500: <!doctype html><h1>Internal Server Error</h1>"
    );
    let long = "x".repeat(1000);
    match parse_response(502, long.as_bytes()).unwrap_err() {
        AssumeRoleErrorKind::Sts { message, .. } => assert_eq!(message.len(), 256),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        parse_response(503, b"  ").unwrap_err(),
        AssumeRoleErrorKind::Sts {
            status: 503,
            code: None,
            message: "Service Unavailable".to_owned(),
        }
    );
    // XML without an `Error` element.
    assert!(matches!(
        parse_response(400, b"<Oops/>").unwrap_err(),
        AssumeRoleErrorKind::Sts { code: None, message, .. } if message == "<Oops/>"
    ));
}

#[test]
fn successful_answers_without_credentials_are_refused() {
    let cases = [
        ("not xml".to_owned(), "not XML"),
        (
            "<GetCallerIdentityResponse/>".to_owned(),
            "not `<AssumeRoleResponse>`",
        ),
        (
            "<AssumeRoleResponse><AssumeRoleResult/></AssumeRoleResponse>".to_owned(),
            "no AssumeRoleResult/Credentials",
        ),
        (
            OK.replace(
                "<SessionToken>AQoDYXdzEPT//////////wEXAMPLE+/token=</SessionToken>",
                "",
            ),
            "no SessionToken",
        ),
        (OK.replace("ASIAIOSFODNN7EXAMPLE", "  "), "no AccessKeyId"),
        (
            OK.replace("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY", ""),
            "no SecretAccessKey",
        ),
        (
            OK.replace("<Expiration>2011-07-15T23:28:33.359Z</Expiration>", ""),
            "no Expiration",
        ),
        (
            OK.replace("2011-07-15T23:28:33.359Z", "tomorrow"),
            "Expiration `tomorrow`",
        ),
    ];
    for (body, reason) in cases {
        match parse_response(200, body.as_bytes()) {
            Err(AssumeRoleErrorKind::Response(why)) => assert!(why.contains(reason), "{why}"),
            other => panic!("{reason}: {other:?}"),
        }
    }
}

// ---- the cache ----

/// A clock the test moves by hand, starting at `start`.
fn manual_clock(start: SystemTime) -> (Clock, Arc<AtomicU64>) {
    let offset = Arc::new(AtomicU64::new(0));
    let read = Arc::clone(&offset);
    let clock = Clock::from_fn(move || start + Duration::from_secs(read.load(Ordering::SeqCst)));
    (clock, offset)
}

fn temporary(key: &str, expiration: SystemTime) -> Temporary {
    Temporary {
        credentials: Arc::new(Credentials::new(key, "secret").with_session_token("token")),
        expiration,
    }
}

/// A fetch that counts its calls and answers `key{n}` expiring an hour after the
/// clock's start.
fn counting_fetch(
    calls: &AtomicUsize,
    expiration: SystemTime,
) -> impl Future<Output = Result<Temporary, AssumeRoleErrorKind>> + '_ {
    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
    std::future::ready(Ok(temporary(&format!("key{n}"), expiration)))
}

#[tokio::test]
async fn credentials_are_reused_until_shortly_before_they_expire() {
    let start = at(1_700_000_000, 0);
    let (clock, offset) = manual_clock(start);
    let cache = Refreshing::new(clock);
    let calls = AtomicUsize::new(0);
    let expiration = start + Duration::from_secs(3600);
    assert!(cache.fresh().is_none());

    let first = cache
        .get(|| counting_fetch(&calls, expiration))
        .await
        .unwrap();
    assert_eq!(first.access_key_id, "key1");
    offset.store(3600 - 301, Ordering::SeqCst);
    let again = cache
        .get(|| counting_fetch(&calls, expiration))
        .await
        .unwrap();
    assert_eq!(again.access_key_id, "key1");
    assert_eq!(cache.fresh().unwrap().access_key_id, "key1");
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Within five minutes of the expiration: refreshed.
    offset.store(3600 - 300, Ordering::SeqCst);
    assert!(cache.fresh().is_none());
    let later = expiration + Duration::from_secs(3600);
    let refreshed = cache.get(|| counting_fetch(&calls, later)).await.unwrap();
    assert_eq!(refreshed.access_key_id, "key2");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let reused = cache.get(|| counting_fetch(&calls, later)).await.unwrap();
    assert_eq!(reused.access_key_id, "key2");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn short_lived_credentials_are_reused_for_half_their_life() {
    let start = at(1_700_000_000, 0);
    let (clock, offset) = manual_clock(start);
    let cache = Refreshing::new(clock);
    let calls = AtomicUsize::new(0);
    let expiration = start + Duration::from_secs(120);
    cache
        .get(|| counting_fetch(&calls, expiration))
        .await
        .unwrap();
    offset.store(59, Ordering::SeqCst);
    cache
        .get(|| counting_fetch(&calls, expiration))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    offset.store(60, Ordering::SeqCst);
    cache
        .get(|| counting_fetch(&calls, expiration))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn failures_are_not_cached() {
    let start = at(1_700_000_000, 0);
    let (clock, _offset) = manual_clock(start);
    let cache = Refreshing::new(clock);
    let calls = AtomicUsize::new(0);
    let denied = AssumeRoleErrorKind::Sts {
        status: 403,
        code: Some("AccessDenied".to_owned()),
        message: "no".to_owned(),
    };
    let err = cache
        .get(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Err(denied.clone()))
        })
        .await
        .unwrap_err();
    assert_eq!(err, denied);
    let ok = cache
        .get(|| counting_fetch(&calls, start + Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(ok.access_key_id, "key2");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failed_refresh_falls_back_to_credentials_that_have_not_expired() {
    let start = at(1_700_000_000, 0);
    let (clock, offset) = manual_clock(start);
    let cache = Refreshing::new(clock);
    let calls = AtomicUsize::new(0);
    let expiration = start + Duration::from_secs(3600);
    cache
        .get(|| counting_fetch(&calls, expiration))
        .await
        .unwrap();
    let failing = || std::future::ready(Err(AssumeRoleErrorKind::Request("down".to_owned())));

    // Stale but valid: the refresh fails, the current credentials serve.
    offset.store(3500, Ordering::SeqCst);
    let kept = cache.get(failing).await.unwrap();
    assert_eq!(kept.access_key_id, "key1");
    // Expired: the failure is the answer.
    offset.store(3600, Ordering::SeqCst);
    assert_eq!(
        cache.get(failing).await.unwrap_err(),
        AssumeRoleErrorKind::Request("down".to_owned())
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let start = at(1_700_000_000, 0);
    let (clock, _offset) = manual_clock(start);
    let cache = Arc::new(Refreshing::new(clock));
    let calls = Arc::new(AtomicUsize::new(0));
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let released = Arc::new(tokio::sync::Mutex::new(Some(released)));
    let expiration = start + Duration::from_secs(3600);

    let mut tasks = Vec::new();
    for _ in 0..8 {
        let cache = Arc::clone(&cache);
        let calls = Arc::clone(&calls);
        let released = Arc::clone(&released);
        tasks.push(tokio::spawn(async move {
            cache
                .get(|| async move {
                    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                    // The refresh is held until every caller is waiting on it.
                    let gate = released.lock().await.take();
                    if let Some(gate) = gate {
                        gate.await.unwrap();
                    }
                    Ok(temporary(&format!("key{n}"), expiration))
                })
                .await
        }));
    }
    // Let every task reach the cache (the runtime is single-threaded).
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    release.send(()).unwrap();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().access_key_id, "key1");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn stale_credentials_serve_while_a_refresh_is_under_way() {
    let start = at(1_700_000_000, 0);
    let (clock, offset) = manual_clock(start);
    let cache = Arc::new(Refreshing::new(clock));
    let calls = AtomicUsize::new(0);
    let expiration = start + Duration::from_secs(3600);
    cache
        .get(|| counting_fetch(&calls, expiration))
        .await
        .unwrap();
    offset.store(3500, Ordering::SeqCst);

    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let refreshing = Arc::clone(&cache);
    let refresh = tokio::spawn(async move {
        refreshing
            .get(|| async move {
                released.await.unwrap();
                Ok(temporary("key2", expiration + Duration::from_secs(3600)))
            })
            .await
    });
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    // The refresh is under way: the stale credentials serve, nothing is fetched.
    let meanwhile = cache
        .get(|| counting_fetch(&calls, expiration))
        .await
        .unwrap();
    assert_eq!(meanwhile.access_key_id, "key1");
    release.send(()).unwrap();
    assert_eq!(refresh.await.unwrap().unwrap().access_key_id, "key2");
    let after = cache
        .get(|| counting_fetch(&calls, expiration))
        .await
        .unwrap();
    assert_eq!(after.access_key_id, "key2");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_dropped_refresh_is_taken_over_by_a_waiting_caller() {
    let start = at(1_700_000_000, 0);
    let (clock, _offset) = manual_clock(start);
    let cache = Arc::new(Refreshing::new(clock));
    let expiration = start + Duration::from_secs(3600);

    let stuck = Arc::clone(&cache);
    let abandoned = tokio::spawn(async move {
        stuck
            .get(std::future::pending::<Result<Temporary, AssumeRoleErrorKind>>)
            .await
    });
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    abandoned.abort();
    assert!(abandoned.await.unwrap_err().is_cancelled());
    let taken_over = cache
        .get(|| std::future::ready(Ok(temporary("key2", expiration))))
        .await
        .unwrap();
    assert_eq!(taken_over.access_key_id, "key2");
}

// ---- the per-configuration role cache ----

#[test]
fn roles_are_shared_per_configuration_and_sts_endpoint() {
    let client = HttpClient::new();
    let role = RoleArn::parse("arn:aws:iam::123456789012:role/r").unwrap();
    let config = AwsConfig::new(
        "eu-west-1",
        CredentialsProvider::fixed(Credentials::new("AKID", "SECRET")),
    );
    let assumed = config.assumed_role(&role, &client).unwrap();
    assert_eq!(
        assumed.sts_endpoint(),
        "https://sts.eu-west-1.amazonaws.com"
    );
    assert_eq!(assumed.role(), &role);
    let debug = format!("{assumed:?}");
    assert!(
        debug.contains("arn:aws:iam::123456789012:role/r"),
        "{debug}"
    );

    // A clone shares the cache; the same role is one AssumedRole.
    let clone = config.clone();
    let again = clone.assumed_role(&role, &client).unwrap();
    assert!(Arc::ptr_eq(&assumed.inner, &again.inner));
    let signing = config.assume_role(&role, &client).unwrap();
    assert!(Arc::ptr_eq(&signing.role().unwrap().inner, &assumed.inner));
    // Assuming from a configuration that already signs as a role uses the own
    // credentials, and the same cache.
    let nested = signing.assumed_role(&role, &client).unwrap();
    assert!(Arc::ptr_eq(&nested.inner, &assumed.inner));

    // Another STS endpoint is another entry.
    let local = config
        .clone()
        .with_endpoint("sts", "http://127.0.0.1:5000")
        .unwrap();
    let elsewhere = local.assumed_role(&role, &client).unwrap();
    assert_eq!(elsewhere.sts_endpoint(), "http://127.0.0.1:5000");
    assert!(!Arc::ptr_eq(&elsewhere.inner, &assumed.inner));

    // A new clock is a new cache.
    let clocked = config.with_clock(Clock::system());
    let fresh = clocked.assumed_role(&role, &client).unwrap();
    assert!(!Arc::ptr_eq(&fresh.inner, &assumed.inner));

    // The partition picks the endpoint's domain.
    let china = AwsConfig::new(
        "cn-north-1",
        CredentialsProvider::fixed(Credentials::new("AKID", "SECRET")),
    );
    let cn_role = RoleArn::parse("arn:aws-cn:iam::123456789012:role/r").unwrap();
    assert_eq!(
        china
            .assumed_role(&cn_role, &client)
            .unwrap()
            .sts_endpoint(),
        "https://sts.cn-north-1.amazonaws.com.cn"
    );
}

#[test]
fn a_role_without_fresh_credentials_cannot_sign_synchronously() {
    let client = HttpClient::new();
    let role = RoleArn::parse("arn:aws:iam::123456789012:role/r").unwrap();
    let config = AwsConfig::new(
        "us-east-1",
        CredentialsProvider::fixed(Credentials::new("AKID", "SECRET")),
    )
    .assume_role(&role, &client)
    .unwrap();
    let target =
        crate::aws::AwsTarget::parse("arn:aws:apigateway:us-east-1:sqs:action/ListQueues").unwrap();
    let prepared = config.prepare(&target, &client).unwrap();
    let err = prepared
        .build_request(ServiceRequest::new(Method::POST, ""))
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::RoleNotAssumed(r) if r == role.as_str()),
        "{err}"
    );
    assert!(err.to_string().contains("signed_request"), "{err}");
}
