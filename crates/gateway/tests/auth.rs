//! Authorization through the whole gateway, from an OpenAPI document and the
//! configuration's `auth` section: a resource policy, API keys, IAM callers
//! signing with the aws-sigv4 crate, a Lambda TOKEN authorizer running in process,
//! and an HTTP API JWT authorizer whose keys come from a configured JWKS URL, with
//! what they learn reaching mapping templates, Lambda events and access logs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use gateway_core::clock::Clock;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use support::{HttpClient, TempDir};

const API: &str = r#"openapi: 3.0.1
info: {title: Vault, version: "1"}
x-amazon-apigateway-policy:
  Version: "2012-10-17"
  Statement:
    - Effect: Allow
      Principal: "*"
      Action: execute-api:Invoke
      Resource: execute-api:/*
    - Effect: Deny
      Principal: "*"
      Action: execute-api:Invoke
      Resource: execute-api:/*/GET/internal
      Condition:
        NotIpAddress: {aws:SourceIp: 10.0.0.0/8}
components:
  securitySchemes:
    api_key: {type: apiKey, name: x-api-key, in: header}
    sigv4:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: awsSigv4
    tokens:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:token-auth/invocations
        authorizerResultTtlInSeconds: 300
paths:
  /open: {get: {responses: {"200": {description: ok}}, x-amazon-apigateway-integration: MOCK_CALLER}}
  /internal: {get: {responses: {"200": {description: ok}}, x-amazon-apigateway-integration: MOCK_CALLER}}
  /keyed:
    get:
      security: [{api_key: []}]
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration: MOCK_CALLER
  /iam:
    get:
      security: [{sigv4: []}]
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration: MOCK_CALLER
  /admin:
    get:
      security: [{sigv4: []}]
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration: MOCK_CALLER
  /custom/{item}:
    get:
      security: [{tokens: []}]
      parameters: [{name: item, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration: MOCK_CALLER
"#;

/// A MOCK integration answering with what `$context` knows of the caller.
const MOCK_CALLER: &str = r#"{type: mock, requestTemplates: {application/json: '{"statusCode": 200}'}, responses: {default: {statusCode: "200", responseTemplates: {application/json: '{"ip": "$context.identity.sourceIp", "keyId": "$context.identity.apiKeyId", "user": "$context.identity.userArn", "principal": "$context.authorizer.principalId", "tier": "$context.authorizer.tier"}'}}}}"#;

const ALICE_KEY: &str = "AKIDALICEEXAMPLE0001";
const ALICE_SECRET: &str = "alice/secret/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn config(dir: &TempDir) -> std::path::PathBuf {
    dir.write("api.yaml", &API.replace("MOCK_CALLER", MOCK_CALLER));
    dir.write(
        "gateway.yaml",
        &format!(
            r#"access_log:
  destination: access.log
  format: '$context.requestId $context.resourcePath $context.status $context.authorizer.principalId $context.identity.apiKeyId'
auth:
  api_keys:
    - {{id: key1, name: partner, value: partner-key-0123456789abcdef}}
    - {{id: key2, name: retired, value: retired-key-0123456789abcdef, enabled: false}}
  iam:
    - access_key_id: {ALICE_KEY}
      secret_access_key: {ALICE_SECRET}
      arn: arn:aws:iam::123456789012:user/alice
      policies:
        - Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: execute-api:Invoke
              Resource: arn:aws:execute-api:us-east-1:123456789012:*/prod/GET/*
            - Effect: Deny
              Action: execute-api:Invoke
              Resource: arn:aws:execute-api:us-east-1:123456789012:*/prod/GET/admin
apis:
  - name: vault
    id: vault00001
    openapi: api.yaml
    stages:
      - name: prod
"#
        ),
    )
}

/// The TOKEN authorizer: `allow-<tier>` is allowed with that tier in its context,
/// `deny` gets an explicit deny, anything else is `Unauthorized`.
fn token_authorizer(calls: Arc<AtomicUsize>) -> gateway_core::lambda::SharedInvoker {
    let service = tower::service_fn(move |event: Value| {
        let calls = Arc::clone(&calls);
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            assert_eq!(event["type"], "TOKEN");
            let token = event["authorizationToken"].as_str().unwrap_or_default();
            let method_arn = event["methodArn"].as_str().unwrap_or_default();
            let (effect, tier) = match token.strip_prefix("allow-") {
                Some(tier) => ("Allow", tier),
                None if token == "deny" => ("Deny", "none"),
                None => return Err::<Value, _>(std::io::Error::other("Unauthorized")),
            };
            // Allow every item under /custom, so cached answers serve other items.
            let resource = method_arn
                .rsplit_once("/custom/")
                .map(|(head, _)| format!("{head}/custom/*"))
                .unwrap();
            Ok::<_, std::io::Error>(json!({
                "principalId": format!("user-{tier}"),
                "policyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]
                },
                "context": {"tier": tier}
            }))
        }
    });
    gateway_integrations::lambda::InProcessFunction::new(service).shared()
}

fn signed_get(host: &str, path: &str, key: &str, secret: &str) -> Vec<(String, String)> {
    let url = format!("http://{host}{path}");
    let identity = aws_credential_types::Credentials::new(key, secret, None, None, "test").into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("execute-api")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers = [("host", host)];
    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        headers.into_iter(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::get(url.as_str())
        .header("host", host)
        .body(())
        .unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_are_authorized_as_the_document_and_the_config_say() {
    let dir = TempDir::new();
    let config = config(&dir);
    let calls = Arc::new(AtomicUsize::new(0));
    let (gateway, report) = gateway::Gateway::builder()
        .function("token-auth", token_authorizer(Arc::clone(&calls)))
        .from_config_file(&config)
        .unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let server = gateway::server::serve(&gateway, "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let host = server.addr.to_string();
    let url = |path: &str| format!("http://{host}/prod{path}");
    let client = HttpClient::new();
    let get = |path: &'static str, headers: Vec<(String, String)>| {
        let client = client.clone();
        let url = url(path);
        async move {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            client.get_with(&url, &headers).await
        }
    };
    let none = Vec::new;
    let header = |name: &str, value: &str| vec![(name.to_owned(), value.to_owned())];

    // The resource policy allows everyone, but denies /internal outside 10/8.
    let open = get("/open", none()).await;
    assert_eq!(open.status, StatusCode::OK, "{}", open.text());
    assert_eq!(open.json()["ip"], "127.0.0.1");
    let internal = get("/internal", none()).await;
    assert_eq!(internal.status, StatusCode::FORBIDDEN);
    assert_eq!(
        internal.headers["x-amzn-errortype"],
        "AccessDeniedException"
    );
    assert_eq!(
        internal.json()["message"],
        "User: anonymous is not authorized to perform: execute-api:Invoke on resource: \
         arn:aws:execute-api:us-east-1:123456789012:vault00001/prod/GET/internal with an explicit deny"
    );

    // API keys: missing, unknown and disabled keys are refused alike.
    for headers in [
        none(),
        header("x-api-key", "not-a-key-0123456789abcdef"),
        header("x-api-key", "retired-key-0123456789abcdef"),
    ] {
        let refused = get("/keyed", headers).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(refused.json(), json!({"message": "Forbidden"}));
        assert_eq!(refused.headers["x-amzn-errortype"], "ForbiddenException");
    }
    let keyed = get(
        "/keyed",
        header("x-api-key", "partner-key-0123456789abcdef"),
    )
    .await;
    assert_eq!(keyed.status, StatusCode::OK, "{}", keyed.text());
    assert_eq!(keyed.json()["keyId"], "key1");

    // IAM: signed by the aws-sigv4 crate; the identity policy allows GETs but
    // denies /admin explicitly.
    let unsigned = get("/iam", none()).await;
    assert_eq!(unsigned.status, StatusCode::FORBIDDEN);
    assert_eq!(
        unsigned.json(),
        json!({"message": "Missing Authentication Token"})
    );
    let iam = get(
        "/iam",
        signed_get(&host, "/prod/iam", ALICE_KEY, ALICE_SECRET),
    )
    .await;
    assert_eq!(iam.status, StatusCode::OK, "{}", iam.text());
    assert_eq!(iam.json()["user"], "arn:aws:iam::123456789012:user/alice");
    let wrong_secret = get(
        "/iam",
        signed_get(&host, "/prod/iam", ALICE_KEY, "not-the-secret"),
    )
    .await;
    assert_eq!(wrong_secret.status, StatusCode::FORBIDDEN);
    assert_eq!(
        wrong_secret.headers["x-amzn-errortype"],
        "InvalidSignatureException"
    );
    let admin = get(
        "/admin",
        signed_get(&host, "/prod/admin", ALICE_KEY, ALICE_SECRET),
    )
    .await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN);
    assert_eq!(
        admin.json()["message"],
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: \
         execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:123456789012:vault00001/prod/GET/admin \
         with an explicit deny"
    );

    // The Lambda TOKEN authorizer, its context in templates, and its cache.
    let allowed = get("/custom/1", header("authorization", "allow-gold")).await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.text());
    assert_eq!(allowed.json()["principal"], "user-gold");
    assert_eq!(allowed.json()["tier"], "gold");
    let again = get("/custom/2", header("authorization", "allow-gold")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the second call is answered from the cache"
    );
    let denied = get("/custom/1", header("authorization", "deny")).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(
        denied.json(),
        json!({"message": "User is not authorized to access this resource with an explicit deny"})
    );
    let unauthorized = get("/custom/1", header("authorization", "who-knows")).await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unauthorized.json(), json!({"message": "Unauthorized"}));
    let missing = get("/custom/1", none()).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "a missing token calls nothing"
    );

    server.shutdown().await;
    gateway.flush_access_logs();
    let log = std::fs::read_to_string(dir.path("access.log")).unwrap();
    assert!(log.contains("/keyed 200 - key1"), "{log}");
    assert!(log.contains("/custom/{item} 200 user-gold -"), "{log}");
    assert!(log.contains("/custom/{item} 403 user-none -"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_api_keys_survive_a_reload() {
    let dir = TempDir::new();
    dir.write(
        "api.yaml",
        &support::mock_api("Keys", r#"{"keyId": "$context.identity.apiKeyId"}"#, "")
            .replacen("      responses:\n", "      security: [{api_key: []}]\n      responses:\n", 1)
            .replace("paths:", "components:\n  securitySchemes:\n    api_key: {type: apiKey, name: x-api-key, in: header}\npaths:"),
    );
    let config = dir.write(
        "gateway.yaml",
        "auth:\n  api_keys:\n    - {name: generated}\napis:\n  - name: keys\n    openapi: api.yaml\n    stages:\n      - name: prod\n",
    );
    let (gateway, _) = gateway::Gateway::from_config_file(&config).unwrap();
    let server = gateway::server::serve(&gateway, "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let keys = gateway.api_keys();
    assert_eq!(keys.len(), 1);
    let key = Arc::clone(&keys[0]);
    assert_eq!(key.value.len(), 40);
    assert!(key.value.chars().all(|c| c.is_ascii_alphanumeric()));
    let client = HttpClient::new();
    let url = format!("http://{}/prod/version", server.addr);
    let reply = client.get_with(&url, &[("x-api-key", &key.value)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["keyId"], key.id.as_str());
    gateway.reload().unwrap();
    let after = gateway.api_keys();
    assert_eq!(after[0].value, key.value);
    assert_eq!(after[0].id, key.id);
    let reply = client.get_with(&url, &[("x-api-key", &key.value)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let refused = client
        .send(Method::GET, &url, &[], bytes::Bytes::new())
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    server.shutdown().await;
}

const JWT_API: &str = r#"openapi: 3.0.1
info: {title: Claims, version: "1"}
x-amazon-apigateway-importexport-version: "1.0"
components:
  securitySchemes:
    jwt:
      type: oauth2
      flows: {}
      x-amazon-apigateway-authorizer:
        type: jwt
        identitySource: $request.header.Authorization
        jwtConfiguration:
          issuer: https://issuer.example.com/tests
          audience: [gateway-tests]
paths:
  /me:
    get:
      security: [{jwt: [profile]}]
      responses: {default: {description: ok}}
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        payloadFormatVersion: "2.0"
        uri: arn:aws:lambda:us-east-1:123456789012:function:whoami
"#;

/// The JWKS of `crates/gateway-auth`'s test keys, served on 127.0.0.1 at
/// `/keys.json` and `/other-keys.json`, with the number of key sets served.
async fn jwks_server() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let jwks = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../gateway-auth/tests/fixtures/jwt/jwks.json"
    ))
    .unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&fetches);
    let addr = support::serve(move |req: http::Request<hyper::body::Incoming>| {
        let found = matches!(req.uri().path(), "/keys.json" | "/other-keys.json");
        if found {
            counted.fetch_add(1, Ordering::SeqCst);
        }
        let body = if found { jwks.clone() } else { String::new() };
        let mut response = http::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
        if !found {
            *response.status_mut() = StatusCode::NOT_FOUND;
        }
        async move { Ok::<_, std::convert::Infallible>(response) }
    })
    .await;
    (addr, fetches)
}

fn token(claims: &Value) -> String {
    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../gateway-auth/tests/fixtures/jwt/rsa1.pem"
    ))
    .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("rsa-1".to_owned());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_api_jwt_authorizer_reads_keys_from_the_configured_jwks_url() {
    let (jwks, _) = jwks_server().await;
    let dir = TempDir::new();
    dir.write("api.yaml", JWT_API);
    let config = dir.write(
        "gateway.yaml",
        &format!(
            "auth:\n  jwks_urls:\n    https://issuer.example.com/tests: http://{jwks}/keys.json\napis:\n  - name: claims\n    openapi: api.yaml\n    stages:\n      - name: $default\n"
        ),
    );
    // The function answers with the claims and scopes its 2.0 event carries.
    let whoami = tower::service_fn(|event: Value| async move {
        let jwt = &event["requestContext"]["authorizer"]["jwt"];
        Ok::<_, std::io::Error>(json!({
            "statusCode": 200,
            "body": json!({"sub": jwt["claims"]["sub"], "scopes": jwt["scopes"]}).to_string()
        }))
    });
    // Tokens are checked against the gateway's clock, which stands still here.
    let now = 1_800_000_000;
    let (clock, time) = Clock::manual(Duration::from_secs(now));
    let (gateway, report) = gateway::Gateway::builder()
        .clock(clock)
        .function(
            "whoami",
            gateway_integrations::lambda::InProcessFunction::new(whoami).shared(),
        )
        .from_config_file(&config)
        .unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let server = gateway::server::serve(&gateway, "127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let url = format!("http://{}/me", server.addr);
    let client = HttpClient::new();
    let claims = |aud: &str, scope: &str| {
        json!({"iss": "https://issuer.example.com/tests", "aud": aud, "sub": "ada",
               "scope": scope, "iat": now, "exp": now + 300})
    };

    let good = format!(
        "Bearer {}",
        token(&claims("gateway-tests", "profile email"))
    );
    let reply = client.get_with(&url, &[("authorization", &good)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"sub": "ada", "scopes": ["profile", "email"]})
    );

    let missing = client.get(&url).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.json(), json!({"message": "Unauthorized"}));
    let wrong_audience = token(&claims("someone-else", "profile"));
    let refused = client
        .get_with(&url, &[("authorization", &wrong_audience)])
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let no_scope = token(&claims("gateway-tests", "email"));
    let forbidden = client.get_with(&url, &[("authorization", &no_scope)]).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.json(), json!({"message": "Forbidden"}));

    // The token expires when the gateway's clock passes `exp` and the leeway.
    time.advance(Duration::from_secs(300 + 59));
    let reply = client.get_with(&url, &[("authorization", &good)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    time.advance(Duration::from_secs(1));
    let expired = client.get_with(&url, &[("authorization", &good)]).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    server.shutdown().await;
}

/// What [`shared_jwt_config`] writes.
struct SharedJwt<'a> {
    /// The issuer both documents' authorizer trusts.
    issuer: &'a str,
    /// The path of the key set `auth.jwks_urls` gives for it.
    keys: &'a str,
    /// A route only the base document has, if any.
    base_route: Option<&'a str>,
    /// The canary's document.
    canary_file: &'a str,
}

/// A MOCK route at `path`, for telling documents apart.
fn mock_route(path: &str) -> String {
    format!(
        "  {path}:\n    get:\n      responses: {{default: {{description: ok}}}}\n      x-amazon-apigateway-integration: {{type: mock, requestTemplates: {{application/json: '{{\"statusCode\": 200}}'}}, responses: {{default: {{statusCode: \"200\"}}}}}}\n"
    )
}

/// A stage whose base and canary serve different documents (the canary's has a
/// route the base's lacks) with the same JWT authorizer, and stage variables
/// telling the variants apart.
fn shared_jwt_config(
    dir: &TempDir,
    jwks: std::net::SocketAddr,
    setup: &SharedJwt<'_>,
) -> std::path::PathBuf {
    let SharedJwt {
        issuer,
        keys,
        base_route,
        canary_file,
    } = setup;
    let document = JWT_API.replace("https://issuer.example.com/tests", issuer);
    let base_extra = base_route.map(mock_route).unwrap_or_default();
    dir.write("api.yaml", &format!("{document}{base_extra}"));
    dir.write(
        canary_file,
        &format!("{document}{}", mock_route("/canary-only")),
    );
    dir.write(
        "gateway.yaml",
        &format!(
            "auth:\n  jwks_urls:\n    {issuer}: http://{jwks}{keys}\napis:\n  - name: claims\n    openapi: api.yaml\n    stages:\n      - name: prod\n        variables: {{variant: base}}\n        canary:\n          percent: 50\n          openapi: {canary_file}\n          override_header: x-canary\n          variables: {{variant: canary}}\n"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_authorizers_share_their_keys_across_variants_and_reloads() {
    let scenario = async {
        let (jwks, fetches) = jwks_server().await;
        let dir = TempDir::new();
        let issuer = "https://issuer.example.com/tests";
        let mut setup = SharedJwt {
            issuer,
            keys: "/keys.json",
            base_route: None,
            canary_file: "canary.yaml",
        };
        let config = shared_jwt_config(&dir, jwks, &setup);
        // The function tells which variant's stage variables its event carries.
        let whoami = tower::service_fn(|event: Value| async move {
            Ok::<_, std::io::Error>(json!({
                "statusCode": 200,
                "body": json!({"variant": event["stageVariables"]["variant"]}).to_string()
            }))
        });
        let now = 1_800_000_000;
        let (clock, _time) = Clock::manual(Duration::from_secs(now));
        let (gateway, report) = gateway::Gateway::builder()
            .clock(clock)
            .function(
                "whoami",
                gateway_integrations::lambda::InProcessFunction::new(whoami).shared(),
            )
            .from_config_file(&config)
            .unwrap();
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        let server = gateway::server::serve(&gateway, "127.0.0.1:0".parse().unwrap(), None)
            .await
            .unwrap();
        let url = format!("http://{}/prod/me", server.addr);
        let client = HttpClient::new();
        let bearer = |issuer: &str| {
            format!(
                "Bearer {}",
                token(&json!({"iss": issuer, "aud": "gateway-tests", "sub": "ada",
                              "scope": "profile", "iat": now, "exp": now + 300}))
            )
        };
        // Both variants accept the token; says which answered.
        let both = |authorization: String| {
            let client = client.clone();
            let url = url.clone();
            async move {
                for variant in ["base", "canary"] {
                    let reply = client
                        .get_with(
                            &url,
                            &[("authorization", &authorization), ("x-canary", variant)],
                        )
                        .await;
                    assert_eq!(reply.status, StatusCode::OK, "{variant}: {}", reply.text());
                    assert_eq!(reply.json(), json!({"variant": variant}));
                }
            }
        };

        both(bearer(issuer)).await;
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            1,
            "the variants share one key cache"
        );

        // A reload that redeploys the stage but keeps the authorizer keeps its keys.
        setup.base_route = Some("/added");
        shared_jwt_config(&dir, jwks, &setup);
        let report = gateway.reload().unwrap();
        assert_eq!(report.redeployed, ["claims/prod"]);
        both(bearer(issuer)).await;
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            1,
            "a reload keeps the key cache"
        );

        // Another key-set URL is another authorizer: its keys are fetched afresh,
        // once for both variants.
        setup.keys = "/other-keys.json";
        shared_jwt_config(&dir, jwks, &setup);
        gateway.reload().unwrap();
        both(bearer(issuer)).await;
        assert_eq!(fetches.load(Ordering::SeqCst), 2);

        // So is another issuer (the canary's document moves to another file, as a
        // reload reads a canary's document again only when its settings change).
        let renamed = "https://issuer.example.com/renamed";
        setup.issuer = renamed;
        setup.canary_file = "canary-renamed.yaml";
        shared_jwt_config(&dir, jwks, &setup);
        gateway.reload().unwrap();
        both(bearer(renamed)).await;
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
        let old = client
            .get_with(&url, &[("authorization", &bearer(issuer))])
            .await;
        assert_eq!(old.status, StatusCode::UNAUTHORIZED);
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
        server.shutdown().await;
    };
    tokio::time::timeout(Duration::from_secs(60), scenario)
        .await
        .expect("the scenario finishes within a minute");
}
