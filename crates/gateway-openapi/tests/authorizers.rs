//! Authorizers (`x-amazon-apigateway-authorizer`) and the resource policy
//! (`x-amazon-apigateway-policy`): what is mapped, and what is refused where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use gateway_core::model::{
    ApiKeySource, ApiProtocol, Authorization, AuthorizationType, Authorizer, AuthorizerType,
    JwtConfiguration, RouteMethod,
};
use gateway_openapi::{LoadError, LoadOptions, Loaded, load_file, load_str};
use serde_json::json;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn strict() -> LoadOptions {
    LoadOptions {
        strict: true,
        ..LoadOptions::default()
    }
}

fn method(name: &str) -> RouteMethod {
    RouteMethod::parse(name).unwrap()
}

const HEAD: &str = "openapi: 3.0.1\ninfo: {title: t, version: '1'}\n";
/// Makes a document an HTTP API.
const HTTP: &str = "x-amazon-apigateway-importexport-version: '1.0'\n";
const LAMBDA_URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations";

/// A document with one mock route `GET /a` requiring scheme `s`, defined by `scheme`
/// (the YAML flow mapping of the security scheme).
fn with_scheme(scheme: &str) -> String {
    format!(
        "{HEAD}paths:
  /a:
    get:
      security: [{{s: []}}]
      x-amazon-apigateway-integration: {{type: mock}}
components:
  securitySchemes:
    s: {scheme}
"
    )
}

fn load(text: &str) -> Loaded {
    load_str(text, "api.yaml", &LoadOptions::default())
        .unwrap_or_else(|err| panic!("{err}\n---\n{text}"))
}

/// `(location, message)` of the `Invalid` error loading `text` gives.
fn refused(text: &str) -> (String, String) {
    match load_str(text, "api.yaml", &LoadOptions::default()) {
        Err(LoadError::Invalid {
            file,
            location,
            message,
        }) => {
            assert_eq!(file, "api.yaml");
            (location, message)
        }
        Err(other) => panic!("expected an Invalid error, got {other:?}\n---\n{text}"),
        Ok(_) => panic!("loaded:\n{text}"),
    }
}

fn warnings(loaded: &Loaded) -> Vec<(&str, &str)> {
    loaded
        .warnings
        .iter()
        .map(|w| (w.location.as_str(), w.message.as_str()))
        .collect()
}

const AUTHORIZER: &str = "components.securitySchemes.s.x-amazon-apigateway-authorizer";

// ---- a REST API export ------------------------------------------------------------

fn rest() -> Loaded {
    load_file(&fixture("authorizers-rest.yaml"), &strict()).unwrap_or_else(|err| panic!("{err}"))
}

#[test]
fn rest_export_loads_without_warnings() {
    let loaded = rest();
    assert_eq!(loaded.api.protocol, ApiProtocol::Rest);
    assert!(loaded.warnings.is_empty());
    assert_eq!(
        loaded.api.authorizers.keys().collect::<Vec<_>>(),
        ["pets-pool", "request-auth", "token-auth"]
    );
    assert_eq!(loaded.api.api_key_source, ApiKeySource::Authorizer);
}

#[test]
fn token_authorizer_reads_the_header_the_scheme_names() {
    let api = rest().api;
    assert_eq!(
        api.authorizers["token-auth"],
        Authorizer {
            name: "token-auth".to_owned(),
            kind: AuthorizerType::Token,
            uri: Some(
                "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:token-authorizer/invocations"
                    .to_owned()
            ),
            credentials: Some(
                "arn:aws:iam::123456789012:role/apigateway-invoke-authorizer".to_owned()
            ),
            identity_source: vec!["method.request.header.Authorization".to_owned()],
            identity_validation_expression: Some("^Bearer [-0-9a-zA-Z._]+$".to_owned()),
            result_ttl_seconds: Some(300),
            provider_arns: vec![],
            jwt: None,
            payload_format_version: None,
            enable_simple_responses: false,
        }
    );
    let route = api.route(&method("get"), "/pets").unwrap();
    assert_eq!(
        route.authorization,
        Authorization {
            kind: AuthorizationType::Custom,
            authorizer: Some("token-auth".to_owned()),
            scopes: vec![],
        }
    );
    assert!(route.api_key_required);
}

#[test]
fn request_authorizer_keeps_every_identity_source_and_a_zero_ttl() {
    let api = rest().api;
    let authorizer = &api.authorizers["request-auth"];
    assert_eq!(authorizer.kind, AuthorizerType::Request);
    assert_eq!(
        authorizer.identity_source,
        [
            "method.request.header.Auth",
            "method.request.querystring.name",
            "stageVariables.tier"
        ]
    );
    assert_eq!(authorizer.result_ttl_seconds, Some(0));
    assert_eq!(authorizer.credentials, None);
    assert_eq!(authorizer.identity_validation_expression, None);
    let route = api.route(&method("get"), "/pets/{petId}").unwrap();
    assert_eq!(route.authorization.kind, AuthorizationType::Custom);
    assert_eq!(
        route.authorization.authorizer.as_deref(),
        Some("request-auth")
    );
    assert!(!route.api_key_required);
}

#[test]
fn cognito_authorizer_keeps_pools_and_method_scopes() {
    let api = rest().api;
    let authorizer = &api.authorizers["pets-pool"];
    assert_eq!(authorizer.kind, AuthorizerType::CognitoUserPools);
    assert_eq!(
        authorizer.provider_arns,
        [
            "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Pets1",
            "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Pets2"
        ]
    );
    assert_eq!(
        authorizer.identity_source,
        ["method.request.header.Authorization"]
    );
    assert_eq!(authorizer.uri, None);
    assert_eq!(authorizer.result_ttl_seconds, None);
    let route = api.route(&method("post"), "/pets").unwrap();
    assert_eq!(
        route.authorization,
        Authorization {
            kind: AuthorizationType::CognitoUserPools,
            authorizer: Some("pets-pool".to_owned()),
            scopes: vec!["email".to_owned(), "pets/write".to_owned()],
        }
    );
    let open = api.route(&method("get"), "/health").unwrap();
    assert_eq!(open.authorization, Authorization::default());
}

#[test]
fn resource_policy_is_kept_as_written() {
    assert_eq!(
        rest().api.policy,
        Some(json!({
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*"
                },
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*",
                    "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}
                }
            ]
        }))
    );
}

#[test]
fn the_rest_export_in_json_maps_to_the_same_api() {
    let text = std::fs::read_to_string(fixture("authorizers-rest.yaml")).unwrap();
    let value: serde_json::Value = yaml_serde::from_str(&text).unwrap();
    let json = serde_json::to_string_pretty(&value).unwrap();
    let from_json = load_str(&json, "authorizers.json", &strict()).unwrap();
    assert_eq!(from_json.api, rest().api);
}

// ---- an HTTP API export -----------------------------------------------------------

fn http() -> Loaded {
    load_file(&fixture("authorizers-http.json"), &strict()).unwrap_or_else(|err| panic!("{err}"))
}

#[test]
fn jwt_authorizer_with_issuer_audiences_and_route_scopes() {
    let api = http().api;
    assert_eq!(api.protocol, ApiProtocol::Http);
    assert_eq!(
        api.authorizers["jwt-auth"],
        Authorizer {
            name: "jwt-auth".to_owned(),
            kind: AuthorizerType::Jwt,
            identity_source: vec!["$request.header.X-Pets-Token".to_owned()],
            jwt: Some(JwtConfiguration {
                issuer: "https://issuer.example.com/pets".to_owned(),
                audience: vec!["pets-web".to_owned(), "pets-mobile".to_owned()],
            }),
            ..Authorizer::default()
        }
    );
    let route = api.route(&method("get"), "/pets").unwrap();
    assert_eq!(
        route.authorization,
        Authorization {
            kind: AuthorizationType::Jwt,
            authorizer: Some("jwt-auth".to_owned()),
            scopes: vec!["pets/read".to_owned(), "pets/admin".to_owned()],
        }
    );
}

#[test]
fn lambda_request_authorizer_with_payload_2_and_simple_responses() {
    let api = http().api;
    assert_eq!(
        api.authorizers["lambda-auth"],
        Authorizer {
            name: "lambda-auth".to_owned(),
            kind: AuthorizerType::Request,
            uri: Some(
                "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:http-authorizer/invocations"
                    .to_owned()
            ),
            identity_source: vec![
                "$request.header.Authorization".to_owned(),
                "$request.querystring.tenant".to_owned()
            ],
            result_ttl_seconds: Some(60),
            payload_format_version: Some("2.0".to_owned()),
            enable_simple_responses: true,
            ..Authorizer::default()
        }
    );
    let route = api.route(&method("post"), "/pets").unwrap();
    assert_eq!(route.authorization.kind, AuthorizationType::Custom);
    assert_eq!(
        route.authorization.authorizer.as_deref(),
        Some("lambda-auth")
    );
}

#[test]
fn jwt_identity_source_defaults_to_the_authorization_header() {
    let loaded = load(&format!(
        "{HTTP}{}",
        with_scheme(
            "{type: oauth2, x-amazon-apigateway-authorizer: {type: JWT, \
             jwtConfiguration: {issuer: 'https://issuer.example.com', audience: one}}}"
        )
    ));
    let authorizer = &loaded.api.authorizers["s"];
    assert_eq!(authorizer.kind, AuthorizerType::Jwt);
    assert_eq!(
        authorizer.identity_source,
        ["$request.header.Authorization"]
    );
    assert_eq!(authorizer.jwt.as_ref().unwrap().audience, ["one"]);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn http_request_authorizer_without_sources_is_not_cached() {
    let loaded = load(&format!(
        "{HTTP}{}",
        with_scheme(&format!(
            "{{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authorizer: \
             {{type: request, authorizerUri: '{LAMBDA_URI}', authorizerPayloadFormatVersion: 1.0}}}}"
        ))
    ));
    let authorizer = &loaded.api.authorizers["s"];
    assert!(authorizer.identity_source.is_empty());
    assert_eq!(authorizer.result_ttl_seconds, Some(0));
    assert_eq!(authorizer.payload_format_version.as_deref(), Some("1.0"));
    assert!(!authorizer.enable_simple_responses);
}

// ---- warnings ---------------------------------------------------------------------

#[test]
fn unknown_and_inapplicable_fields_are_warnings() {
    let loaded = load(&with_scheme(&format!(
        "{{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authorizer: \
         {{type: token, authorizerUri: '{LAMBDA_URI}', providerARNs: [arn], \
         enableSimpleResponses: true, authorizerPayloadFormatVersion: '2.0', bogus: 1}}}}"
    )));
    assert_eq!(
        warnings(&loaded),
        [
            (
                "components.securitySchemes.s.x-amazon-apigateway-authorizer.bogus",
                "unknown field `bogus` is ignored"
            ),
            (
                "components.securitySchemes.s.x-amazon-apigateway-authorizer.providerARNs",
                "`providerARNs` has no effect on a `token` authorizer in a REST API and is ignored"
            ),
            (
                "components.securitySchemes.s.x-amazon-apigateway-authorizer.authorizerPayloadFormatVersion",
                "`authorizerPayloadFormatVersion` has no effect on a `token` authorizer in a REST API and is ignored"
            ),
            (
                "components.securitySchemes.s.x-amazon-apigateway-authorizer.enableSimpleResponses",
                "`enableSimpleResponses` has no effect on a `token` authorizer in a REST API and is ignored"
            ),
        ]
    );
    let authorizer = &loaded.api.authorizers["s"];
    assert!(authorizer.provider_arns.is_empty());
    assert_eq!(authorizer.payload_format_version, None);
    assert!(!authorizer.enable_simple_responses);
    // Strict mode refuses what the lenient load only warned about.
    let err = load_str(&with_scheme("{type: apiKey}"), "api.yaml", &strict()).unwrap_err();
    assert!(matches!(err, LoadError::Strict { .. }), "{err:?}");
}

#[test]
fn unknown_jwt_configuration_fields_are_warnings() {
    let loaded = load(&format!(
        "{HTTP}{}",
        with_scheme(
            "{type: oauth2, x-amazon-apigateway-authorizer: {type: jwt, \
             jwtConfiguration: {issuer: 'https://i', audience: [a], clockSkew: 5}}}"
        )
    ));
    assert_eq!(
        warnings(&loaded),
        [(
            "components.securitySchemes.s.x-amazon-apigateway-authorizer.jwtConfiguration.clockSkew",
            "unknown field `clockSkew` is ignored"
        )]
    );
}

#[test]
fn scopes_on_a_lambda_authorizer_are_a_warning() {
    let text = format!(
        "{HEAD}paths:
  /a:
    get:
      security: [{{s: [read]}}]
      x-amazon-apigateway-integration: {{type: mock}}
components:
  securitySchemes:
    s: {{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authorizer: {{type: token, authorizerUri: '{LAMBDA_URI}'}}}}
"
    );
    let loaded = load(&text);
    assert!(loaded.api.routes[0].authorization.scopes.is_empty());
    assert_eq!(
        warnings(&loaded),
        [(
            "paths./a.get.security[0].s",
            "scopes apply only to Cognito user pool and JWT authorizers; they are ignored"
        )]
    );
}

#[test]
fn a_policy_in_an_http_api_is_a_warning() {
    let loaded = load(&format!(
        "{HEAD}{HTTP}paths: {{}}\nx-amazon-apigateway-policy: {{Statement: {{Effect: Allow}}}}\n"
    ));
    assert_eq!(loaded.api.policy, None);
    assert_eq!(
        warnings(&loaded),
        [(
            "x-amazon-apigateway-policy",
            "HTTP APIs have no resource policies; the policy is ignored"
        )]
    );
}

#[test]
fn api_keys_from_a_missing_lambda_authorizer_are_a_warning() {
    let loaded = load(&format!(
        "{HEAD}paths: {{}}\nx-amazon-apigateway-api-key-source: AUTHORIZER\n"
    ));
    assert_eq!(loaded.api.api_key_source, ApiKeySource::Authorizer);
    assert_eq!(
        warnings(&loaded)
            .iter()
            .map(|(location, _)| *location)
            .collect::<Vec<_>>(),
        ["x-amazon-apigateway-api-key-source"]
    );
}

#[test]
fn a_policy_may_be_a_json_string() {
    let loaded = load(&format!(
        "{HEAD}paths: {{}}\nx-amazon-apigateway-policy: '{{\"Statement\": [{{\"Effect\": \"Deny\", \"Action\": \"*\"}}]}}'\n"
    ));
    assert_eq!(
        loaded.api.policy,
        Some(json!({"Statement": [{"Effect": "Deny", "Action": "*"}]}))
    );
}

// ---- errors -----------------------------------------------------------------------

#[test]
fn lambda_authorizers_need_a_uri() {
    let (location, message) = refused(&with_scheme(
        "{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authorizer: {type: token}}",
    ));
    assert_eq!(location, format!("{AUTHORIZER}.authorizerUri"));
    assert!(
        message.starts_with("missing; a `token` authorizer"),
        "{message}"
    );

    let (location, message) = refused(&format!(
        "{HTTP}{}",
        with_scheme(
            "{type: apiKey, x-amazon-apigateway-authorizer: {type: request, \
             identitySource: $request.header.A, authorizerPayloadFormatVersion: '2.0'}}"
        )
    ));
    assert_eq!(location, format!("{AUTHORIZER}.authorizerUri"));
    assert!(
        message.starts_with("missing; a `request` authorizer"),
        "{message}"
    );
}

#[test]
fn jwt_authorizers_need_an_issuer_and_audiences() {
    let jwt = |config: &str| {
        refused(&format!(
            "{HTTP}{}",
            with_scheme(&format!(
                "{{type: oauth2, x-amazon-apigateway-authorizer: {{type: jwt{config}}}}}"
            ))
        ))
    };
    assert_eq!(jwt("").0, format!("{AUTHORIZER}.jwtConfiguration"));
    let (location, message) = jwt(", jwtConfiguration: {audience: [a]}");
    assert_eq!(location, format!("{AUTHORIZER}.jwtConfiguration.issuer"));
    assert!(message.starts_with("missing"), "{message}");
    assert_eq!(
        jwt(", jwtConfiguration: {issuer: ' ', audience: [a]}").0,
        format!("{AUTHORIZER}.jwtConfiguration.issuer")
    );
    assert_eq!(
        jwt(", jwtConfiguration: {issuer: 'https://i', audience: []}").0,
        format!("{AUTHORIZER}.jwtConfiguration.audience")
    );
    assert_eq!(
        jwt(", jwtConfiguration: {issuer: 'https://i', audience: [a]}, identitySource: 'method.request.header.A'").0,
        format!("{AUTHORIZER}.identitySource")
    );
}

#[test]
fn cognito_authorizers_need_user_pools() {
    let (location, message) = refused(&with_scheme(
        "{type: apiKey, name: Authorization, in: header, \
         x-amazon-apigateway-authorizer: {type: cognito_user_pools}}",
    ));
    assert_eq!(location, format!("{AUTHORIZER}.providerARNs"));
    assert!(message.starts_with("missing"), "{message}");
    assert_eq!(
        refused(&with_scheme(
            "{type: apiKey, name: Authorization, in: header, \
             x-amazon-apigateway-authorizer: {type: cognito_user_pools, providerARNs: []}}",
        ))
        .0,
        format!("{AUTHORIZER}.providerARNs")
    );
}

#[test]
fn authorizer_types_belong_to_their_protocol() {
    let (location, message) = refused(&with_scheme(
        "{type: oauth2, x-amazon-apigateway-authorizer: {type: jwt, \
         jwtConfiguration: {issuer: 'https://i', audience: [a]}}}",
    ));
    assert_eq!(location, format!("{AUTHORIZER}.type"));
    assert!(
        message.starts_with("`jwt` authorizers belong to HTTP APIs"),
        "{message}"
    );

    let (location, message) = refused(&format!(
        "{HTTP}{}",
        with_scheme(
            "{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authorizer: \
             {type: cognito_user_pools, providerARNs: [arn]}}"
        )
    ));
    assert_eq!(location, format!("{AUTHORIZER}.type"));
    assert!(
        message.starts_with("HTTP APIs have no `cognito_user_pools` authorizers"),
        "{message}"
    );

    let (location, message) = refused(&format!(
        "{HTTP}{}",
        with_scheme(&format!(
            "{{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authorizer: \
             {{type: token, authorizerUri: '{LAMBDA_URI}'}}}}"
        ))
    ));
    assert_eq!(location, format!("{AUTHORIZER}.type"));
    assert!(
        message.starts_with("HTTP APIs have no `token` authorizers"),
        "{message}"
    );

    let (location, message) = refused(&with_scheme(
        "{type: apiKey, x-amazon-apigateway-authorizer: {type: oidc}}",
    ));
    assert_eq!(location, format!("{AUTHORIZER}.type"));
    assert_eq!(
        message,
        "`oidc` is not an authorizer type (token, request, cognito_user_pools, jwt)"
    );
}

#[test]
fn result_ttls_run_from_0_to_3600() {
    let ttl = |value: &str| {
        refused(&with_scheme(&format!(
            "{{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authorizer: \
             {{type: token, authorizerUri: '{LAMBDA_URI}', authorizerResultTtlInSeconds: {value}}}}}"
        )))
    };
    for value in ["3601", "-1", "'soon'", "1.5"] {
        let (location, message) = ttl(value);
        assert_eq!(
            location,
            format!("{AUTHORIZER}.authorizerResultTtlInSeconds"),
            "{value}"
        );
        assert!(
            message.ends_with("is not a number of seconds from 0 to 3600"),
            "{message}"
        );
    }
    let loaded = load(&with_scheme(&format!(
        "{{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authorizer: \
         {{type: token, authorizerUri: '{LAMBDA_URI}', authorizerResultTtlInSeconds: '3600'}}}}"
    )));
    assert_eq!(loaded.api.authorizers["s"].result_ttl_seconds, Some(3600));
}

#[test]
fn identity_sources_are_checked() {
    let token = |scheme: &str| refused(&with_scheme(scheme));
    // No header to read: neither identitySource nor `in: header`.
    let (location, message) = token(&format!(
        "{{type: apiKey, name: token, in: query, x-amazon-apigateway-authorizer: \
         {{type: token, authorizerUri: '{LAMBDA_URI}'}}}}"
    ));
    assert_eq!(location, format!("{AUTHORIZER}.identitySource"));
    assert!(message.starts_with("missing"), "{message}");
    // A token comes from one header.
    let (location, message) = token(&format!(
        "{{type: apiKey, x-amazon-apigateway-authorizer: {{type: token, authorizerUri: \
         '{LAMBDA_URI}', identitySource: 'method.request.querystring.token'}}}}"
    ));
    assert_eq!(location, format!("{AUTHORIZER}.identitySource"));
    assert!(
        message.starts_with("`method.request.querystring.token` is not an identity source"),
        "{message}"
    );
    let (location, message) = token(&format!(
        "{{type: apiKey, x-amazon-apigateway-authorizer: {{type: token, authorizerUri: \
         '{LAMBDA_URI}', identitySource: 'method.request.header.A, method.request.header.B'}}}}"
    ));
    assert_eq!(location, format!("{AUTHORIZER}.identitySource"));
    assert_eq!(
        message,
        "a `token` authorizer reads exactly one identity source, not 2"
    );
    // HTTP API expressions in a REST API.
    let (location, _) = token(&format!(
        "{{type: apiKey, x-amazon-apigateway-authorizer: {{type: request, authorizerUri: \
         '{LAMBDA_URI}', identitySource: '$request.header.A'}}}}"
    ));
    assert_eq!(location, format!("{AUTHORIZER}.identitySource"));
    // A cached REST request authorizer needs its cache key.
    let (location, message) = token(&format!(
        "{{type: apiKey, x-amazon-apigateway-authorizer: {{type: request, authorizerUri: \
         '{LAMBDA_URI}'}}}}"
    ));
    assert_eq!(location, format!("{AUTHORIZER}.identitySource"));
    assert!(message.contains("cache key"), "{message}");
    let (location, _) = refused(&format!(
        "{HTTP}{}",
        with_scheme(&format!(
            "{{type: apiKey, x-amazon-apigateway-authorizer: {{type: request, authorizerUri: \
             '{LAMBDA_URI}', authorizerPayloadFormatVersion: '2.0', \
             authorizerResultTtlInSeconds: 300}}}}"
        ))
    ));
    assert_eq!(location, format!("{AUTHORIZER}.identitySource"));
}

#[test]
fn http_lambda_authorizers_state_their_payload_format() {
    let request = |extra: &str| {
        refused(&format!(
            "{HTTP}{}",
            with_scheme(&format!(
                "{{type: apiKey, x-amazon-apigateway-authorizer: {{type: request, \
                 authorizerUri: '{LAMBDA_URI}', identitySource: $request.header.A{extra}}}}}"
            ))
        ))
    };
    let (location, message) = request("");
    assert_eq!(
        location,
        format!("{AUTHORIZER}.authorizerPayloadFormatVersion")
    );
    assert!(message.starts_with("missing (1.0, 2.0)"), "{message}");
    let (location, message) = request(", authorizerPayloadFormatVersion: 3.0");
    assert_eq!(
        location,
        format!("{AUTHORIZER}.authorizerPayloadFormatVersion")
    );
    assert_eq!(message, "`3.0` is not a payload format version (1.0, 2.0)");
    let (location, message) =
        request(", authorizerPayloadFormatVersion: 1.0, enableSimpleResponses: true");
    assert_eq!(location, format!("{AUTHORIZER}.enableSimpleResponses"));
    assert_eq!(
        message,
        "simple responses need authorizerPayloadFormatVersion 2.0"
    );
}

#[test]
fn wrong_types_are_reported_with_their_position() {
    let text = with_scheme(&format!(
        "{{type: apiKey, x-amazon-apigateway-authorizer: {{type: request, \
         authorizerUri: '{LAMBDA_URI}', identitySource: [{{a: 1}}]}}}}"
    ));
    let err = load_str(&text, "api.yaml", &LoadOptions::default()).unwrap_err();
    let LoadError::Type { path, line, .. } = &err else {
        panic!("expected a type error, got {err:?}");
    };
    assert!(
        path.starts_with("components.securitySchemes.s.x-amazon-apigateway-authorizer"),
        "{path}"
    );
    assert_eq!(*line, 10, "{err}");
}

#[test]
fn undefined_schemes_are_refused_where_they_are_required() {
    let (location, message) = refused(&format!(
        "{HEAD}paths:\n  /a:\n    get:\n      security: [{{nope: [read]}}]\n      \
         x-amazon-apigateway-integration: {{type: mock}}\n"
    ));
    assert_eq!(location, "paths./a.get.security[0].nope");
    assert_eq!(
        message,
        "`nope` is not defined in components.securitySchemes"
    );
}

#[test]
fn resource_policies_are_checked_for_shape() {
    let policy = |yaml: &str| {
        refused(&format!(
            "{HEAD}paths: {{}}\nx-amazon-apigateway-policy: {yaml}\n"
        ))
    };
    assert_eq!(
        policy("[]"),
        (
            "x-amazon-apigateway-policy".to_owned(),
            "must be an IAM policy document (an object with `Statement`)".to_owned()
        )
    );
    assert_eq!(
        policy("{Version: '2012-10-17'}").0,
        "x-amazon-apigateway-policy.Statement"
    );
    assert_eq!(
        policy("{Statement: []}"),
        (
            "x-amazon-apigateway-policy.Statement".to_owned(),
            "empty; a policy has at least one statement".to_owned()
        )
    );
    assert_eq!(
        policy("{Statement: [{Effect: Allow}, {Action: '*'}]}"),
        (
            "x-amazon-apigateway-policy.Statement[1].Effect".to_owned(),
            "missing (Allow, Deny)".to_owned()
        )
    );
    assert_eq!(
        policy("{Statement: {Effect: Permit}}"),
        (
            "x-amazon-apigateway-policy.Statement.Effect".to_owned(),
            "`Permit` is not an effect (Allow, Deny)".to_owned()
        )
    );
    assert_eq!(
        policy("{Version: '2024-01-01', Statement: {Effect: Allow}}").0,
        "x-amazon-apigateway-policy.Version"
    );
    let (location, message) = policy("'not json'");
    assert_eq!(location, "x-amazon-apigateway-policy");
    assert!(
        message.starts_with("a policy written as a string"),
        "{message}"
    );
}
