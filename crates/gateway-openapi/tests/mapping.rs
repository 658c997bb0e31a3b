//! Mapping details, warnings and strict mode, on small inline documents.

use std::collections::BTreeMap;
use std::time::Duration;

use gateway_core::model::{
    ApiKeySource, ApiProtocol, AuthorizationType, ContentHandling, IntegrationType, RouteMethod,
};
use gateway_openapi::{LoadError, LoadOptions, Loaded, load_str};
use http::Method;

const HEAD: &str = "openapi: 3.0.1\ninfo: {title: t, version: '1'}\n";

fn load(body: &str) -> Loaded {
    let text = format!("{HEAD}{body}");
    match load_str(&text, "api.yaml", &LoadOptions::default()) {
        Ok(loaded) => loaded,
        Err(err) => panic!("{err}\n---\n{text}"),
    }
}

fn fail(body: &str) -> LoadError {
    let text = format!("{HEAD}{body}");
    match load_str(&text, "api.yaml", &LoadOptions::default()) {
        Ok(_) => panic!("loaded:\n{text}"),
        Err(err) => err,
    }
}

fn strict(body: &str) -> Result<Loaded, LoadError> {
    let options = LoadOptions {
        strict: true,
        ..LoadOptions::default()
    };
    load_str(&format!("{HEAD}{body}"), "api.yaml", &options)
}

/// `(location, message)` of an `Invalid` error.
fn invalid(err: &LoadError) -> (&str, &str) {
    match err {
        LoadError::Invalid {
            location, message, ..
        } => (location, message),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

fn locations(loaded: &Loaded) -> Vec<&str> {
    loaded
        .warnings
        .iter()
        .map(|w| w.location.as_str())
        .collect()
}

fn method(name: &str) -> RouteMethod {
    RouteMethod::parse(name).unwrap_or_else(|err| panic!("{err}"))
}

const MOCK: &str = "x-amazon-apigateway-integration: {type: mock}";

#[test]
fn unquoted_yaml_numbers_are_read_as_text() {
    let loaded = load(&format!("paths:\n  /a:\n    get:\n      {MOCK}\n"));
    assert_eq!(loaded.api.version.as_deref(), Some("1"));
    let text = "openapi: 3.0.1\ninfo: {title: t, version: 1.0}\npaths: {}\n";
    let loaded = load_str(text, "a.yaml", &LoadOptions::default()).unwrap();
    assert_eq!(loaded.api.version.as_deref(), Some("1.0"));
}

#[test]
fn a_method_without_integration_is_a_warning_then_an_error_in_strict_mode() {
    let body = "paths:\n  /a:\n    get:\n      operationId: a\n";
    let loaded = load(body);
    assert_eq!(loaded.api.routes.len(), 1);
    assert_eq!(loaded.api.routes[0].integration, None);
    assert_eq!(locations(&loaded), ["paths./a.get"]);
    assert!(
        loaded.warnings[0]
            .message
            .contains("no x-amazon-apigateway-integration")
    );

    let err = strict(body).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("api.yaml: paths./a.get: no x-amazon-apigateway-integration"),
        "{message}"
    );
}

#[test]
fn every_aws_extension_is_mapped_or_reported() {
    let loaded = load(&format!(
        "x-amazon-apigateway-minimum-compression-size: 1024
x-amazon-apigateway-documentation: {{version: '1'}}
x-amazon-apigateway-endpoint-configuration: {{types: [REGIONAL]}}
x-amazon-apigateway-frobnicate: true
paths:
  /a:
    x-amazon-apigateway-shiny: 1
    get:
      {MOCK}
      x-amazon-apigateway-cors: {{}}
"
    ));
    let found: Vec<(&str, &str)> = loaded
        .warnings
        .iter()
        .map(|w| (w.location.as_str(), w.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "x-amazon-apigateway-minimum-compression-size",
                "`x-amazon-apigateway-minimum-compression-size` (payload compression) is not supported yet and is ignored"
            ),
            (
                "x-amazon-apigateway-documentation",
                "`x-amazon-apigateway-documentation` (documentation parts) is not supported yet and is ignored"
            ),
            (
                "x-amazon-apigateway-endpoint-configuration",
                "`x-amazon-apigateway-endpoint-configuration` (endpoint configuration) is not supported yet and is ignored"
            ),
            (
                "x-amazon-apigateway-frobnicate",
                "unknown extension `x-amazon-apigateway-frobnicate` is ignored"
            ),
            (
                "paths./a.x-amazon-apigateway-shiny",
                "unknown extension `x-amazon-apigateway-shiny` is ignored"
            ),
            (
                "paths./a.get.x-amazon-apigateway-cors",
                "`x-amazon-apigateway-cors` (HTTP API CORS configuration) is not supported yet and is ignored"
            ),
        ]
    );
}

#[test]
fn tls_config_applies_to_http_integrations_only() {
    let loaded = load(
        "paths:
  /a:
    get:
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: https://backend.internal:8443/a
        tlsConfig:
          serverNameToVerify: api.internal
          insecureSkipVerification: false
          pinned: yes
  /b:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:f/invocations
        tlsConfig: {insecureSkipVerification: true}
",
    );
    let a = loaded.api.routes[0].integration.as_ref().unwrap();
    assert_eq!(
        a.tls_config,
        gateway_core::model::TlsConfig {
            insecure_skip_verification: false,
            server_name_to_verify: Some("api.internal".into()),
        }
    );
    let b = loaded.api.routes[1].integration.as_ref().unwrap();
    assert!(!b.tls_config.insecure_skip_verification);
    assert_eq!(
        locations(&loaded),
        [
            "paths./a.get.x-amazon-apigateway-integration.tlsConfig.pinned",
            "paths./b.get.x-amazon-apigateway-integration.tlsConfig",
        ]
    );
    assert!(
        loaded.warnings[1].message.contains("AWS_PROXY"),
        "{}",
        loaded.warnings[1].message
    );
}

#[test]
fn integration_fields_not_supported_yet_are_warnings() {
    let loaded = load(
        "paths:
  /a:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        uri: https://backend
        connectionType: VPC_LINK
        connectionId: abc123
        tlsConfig: {insecureSkipVerification: true}
        timeoutInMilis: 100
        responseTransferMode: STREAM
        responses:
          default:
            statusCode: 200
            selectionPattern: ignored
",
    );
    let base = "paths./a.get.x-amazon-apigateway-integration";
    let expected: Vec<String> = [
        "connectionType",
        "responseTransferMode",
        "responses.default.selectionPattern",
        "connectionId",
        "timeoutInMilis",
    ]
    .iter()
    .map(|f| format!("{base}.{f}"))
    .collect();
    assert_eq!(locations(&loaded), expected);
    let messages: Vec<&str> = loaded.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(messages[0].contains("VPC_LINK"), "{}", messages[0]);
    assert!(messages[3].contains("not supported yet"), "{}", messages[3]);
    assert_eq!(messages[4], "unknown field `timeoutInMilis` is ignored");
    // The integration itself is still mapped, its TLS settings with it.
    let integration = loaded.api.routes[0].integration.as_ref().unwrap();
    assert_eq!(integration.uri.as_deref(), Some("https://backend"));
    assert!(integration.tls_config.insecure_skip_verification);
    assert_eq!(integration.responses[0].status_code, "200");
}

#[test]
fn integration_responses_keep_document_order() {
    let loaded = load(
        r#"paths:
  /a:
    post:
      x-amazon-apigateway-integration:
        type: AWS
        httpMethod: post
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:f/invocations
        credentials: arn:aws:iam::1:role/r
        contentHandling: convert_to_text
        payloadFormatVersion: 1.0
        responses:
          default: {statusCode: "200", contentHandling: CONVERT_TO_BINARY}
          ".*not found.*": {statusCode: 404, responseTemplates: {application/json: }}
          "4\\d{2}": {statusCode: 400}
"#,
    );
    let integration = loaded.api.routes[0].integration.as_ref().unwrap();
    assert_eq!(integration.kind, IntegrationType::Aws);
    assert_eq!(integration.http_method.as_deref(), Some("POST"));
    assert_eq!(
        integration.credentials.as_deref(),
        Some("arn:aws:iam::1:role/r")
    );
    assert_eq!(
        integration.content_handling,
        Some(ContentHandling::ConvertToText)
    );
    assert_eq!(integration.payload_format_version.as_deref(), Some("1.0"));
    let patterns: Vec<(&str, &str)> = integration
        .responses
        .iter()
        .map(|r| (r.selection_pattern.as_str(), r.status_code.as_str()))
        .collect();
    assert_eq!(
        patterns,
        [
            ("default", "200"),
            (".*not found.*", "404"),
            ("4\\d{2}", "400")
        ]
    );
    assert_eq!(
        integration.responses[0].content_handling,
        Some(ContentHandling::ConvertToBinary)
    );
    assert_eq!(
        integration.responses[1].response_templates,
        BTreeMap::from([("application/json".to_owned(), String::new())])
    );
}

#[test]
fn integration_errors_name_their_field() {
    let cases = [
        (
            "{type: http_proxy}",
            "uri",
            "missing; a HTTP_PROXY integration needs a URI",
        ),
        ("{uri: x}", "type", "missing"),
        (
            "{type: mock, timeoutInMillis: 49}",
            "timeoutInMillis",
            "49 is out of range",
        ),
        (
            "{type: mock, passthroughBehavior: sometimes}",
            "passthroughBehavior",
            "`sometimes` is not a passthrough behavior",
        ),
        (
            "{type: mock, contentHandling: CONVERT}",
            "contentHandling",
            "`CONVERT` is not a content handling",
        ),
        (
            "{type: mock, payloadFormatVersion: '3.0'}",
            "payloadFormatVersion",
            "`3.0` is not a payload format version",
        ),
        (
            "{type: mock, httpMethod: 'G T'}",
            "httpMethod",
            "is not an HTTP method",
        ),
        (
            "{type: mock, connectionType: CARRIER_PIGEON}",
            "connectionType",
            "is not a connection type",
        ),
        (
            "{type: mock, responses: {default: {}}}",
            "responses.default.statusCode",
            "missing",
        ),
        (
            "{type: mock, responses: {default: {statusCode: '20'}}}",
            "responses.default.statusCode",
            "`20` is not an HTTP status code",
        ),
    ];
    for (integration, field, expected) in cases {
        let err = fail(&format!(
            "paths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: {integration}\n"
        ));
        let (location, message) = invalid(&err);
        assert_eq!(
            location,
            format!("paths./a.get.x-amazon-apigateway-integration.{field}"),
            "{integration}"
        );
        assert!(message.contains(expected), "{integration}: {message}");
    }
}

#[test]
fn cloudformation_intrinsics_are_refused_with_a_hint() {
    let err = fail(
        "paths:\n  /a:\n    get:\n      x-amazon-apigateway-integration:\n        type: aws_proxy\n        uri: {Fn::Sub: 'arn:aws:apigateway:${AWS::Region}:lambda:path'}\n",
    );
    let message = err.to_string();
    assert!(
        message.starts_with("api.yaml:8:14: paths./a.get.x-amazon-apigateway-integration.uri: `Fn::Sub` is a CloudFormation intrinsic function"),
        "{message}"
    );
}

#[test]
fn shared_integrations_are_referenced() {
    let loaded = load(
        "paths:
  /a:
    get:
      x-amazon-apigateway-integration:
        $ref: '#/components/x-amazon-apigateway-integrations/backend'
components:
  x-amazon-apigateway-integrations:
    backend:
      type: http_proxy
      httpMethod: ANY
      uri: https://backend.example.com
      bogus: 1
",
    );
    let integration = loaded.api.routes[0].integration.as_ref().unwrap();
    assert_eq!(
        integration.uri.as_deref(),
        Some("https://backend.example.com")
    );
    assert_eq!(
        locations(&loaded),
        ["components.x-amazon-apigateway-integrations.backend.bogus"]
    );

    let err = fail(
        "paths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: {$ref: '#/components/x-amazon-apigateway-integrations/nope'}\n",
    );
    let (location, message) = invalid(&err);
    assert_eq!(
        location,
        "paths./a.get.x-amazon-apigateway-integration.$ref"
    );
    assert!(message.contains("refers to nothing"), "{message}");
}

#[test]
fn parameters_merge_and_refs_resolve() {
    let loaded = load(&format!(
        "paths:
  /items/{{id}}:
    parameters:
    - {{name: id, in: path}}
    - {{name: verbose, in: query, required: true}}
    - $ref: '#/components/parameters/Trace'
    get:
      {MOCK}
      parameters:
      - {{name: verbose, in: query, required: false}}
      - {{name: session, in: cookie}}
components:
  parameters:
    Trace: {{name: X-Trace, in: header, required: true}}
"
    ));
    let route = &loaded.api.routes[0];
    assert_eq!(
        route.request_parameters,
        BTreeMap::from([
            ("method.request.header.X-Trace".to_owned(), true),
            ("method.request.path.id".to_owned(), true),
            ("method.request.querystring.verbose".to_owned(), false),
        ])
    );
    assert_eq!(
        locations(&loaded),
        ["paths./items/{id}.get.parameters[1].in"]
    );
    assert!(
        loaded.warnings[0]
            .message
            .contains("cookie parameter `session`")
    );
}

#[test]
fn parameter_errors_name_their_place() {
    let err = fail("paths:\n  /a:\n    get:\n      parameters: [{in: query}]\n");
    assert_eq!(
        invalid(&err),
        ("paths./a.get.parameters[0].name", "missing")
    );
    let err = fail("paths:\n  /a:\n    get:\n      parameters: [{name: a, in: body}]\n");
    assert_eq!(invalid(&err).0, "paths./a.get.parameters[0].in");
    let err =
        fail("paths:\n  /a:\n    get:\n      parameters: [{$ref: '#/components/parameters/X'}]\n");
    let (location, message) = invalid(&err);
    assert_eq!(location, "paths./a.get.parameters[0].$ref");
    assert!(
        message.contains("components.parameters has no `X`"),
        "{message}"
    );
}

#[test]
fn inline_schemas_become_generated_models() {
    let loaded = load(&format!(
        "paths:
  /pets/{{petId}}:
    post:
      {MOCK}
      requestBody:
        $ref: '#/components/requestBodies/PetBody'
      responses:
        '201':
          $ref: '#/components/responses/Created'
        2XX:
          description: a range
        default:
          description: anything
components:
  schemas:
    Pet: {{type: object}}
  requestBodies:
    PetBody:
      content:
        application/json:
          schema: {{type: object, properties: {{name: {{type: string}}}}}}
        application/xml:
          schema: {{$ref: '#/components/schemas/Pet'}}
        text/plain: {{}}
  responses:
    Created:
      headers:
        Location: {{$ref: '#/components/headers/Location'}}
      content:
        application/json:
          schema: {{type: array, items: {{$ref: '#/components/schemas/Pet'}}}}
  headers:
    Location: {{required: true, schema: {{type: string}}}}
"
    ));
    let api = &loaded.api;
    let route = api.route(&method("post"), "/pets/{petId}").unwrap();
    assert_eq!(
        route.request_models,
        BTreeMap::from([
            (
                "application/json".to_owned(),
                "PostPetsPetIdRequest".to_owned()
            ),
            ("application/xml".to_owned(), "Pet".to_owned()),
        ])
    );
    assert_eq!(
        api.models["PostPetsPetIdRequest"],
        serde_json::json!({"type": "object", "properties": {"name": {"type": "string"}}})
    );
    let created = &route.method_responses["201"];
    assert_eq!(
        created.response_parameters,
        BTreeMap::from([("method.response.header.Location".to_owned(), true)])
    );
    assert_eq!(
        created.response_models["application/json"],
        "PostPetsPetIdResponse201"
    );
    assert_eq!(
        api.models["PostPetsPetIdResponse201"]["items"]["$ref"],
        "#/components/schemas/Pet"
    );
    assert_eq!(route.method_responses.len(), 1);
    assert_eq!(
        locations(&loaded),
        ["paths./pets/{petId}.post.responses.2XX"]
    );
}

#[test]
fn generated_model_names_do_not_collide() {
    let loaded = load(&format!(
        "paths:
  /a:
    post:
      {MOCK}
      requestBody:
        content:
          application/json: {{schema: {{type: object}}}}
          application/x-www-form-urlencoded: {{schema: {{type: string}}}}
components:
  schemas:
    PostARequest: {{type: integer}}
"
    ));
    let route = &loaded.api.routes[0];
    assert_eq!(route.request_models["application/json"], "PostARequest2");
    assert_eq!(
        route.request_models["application/x-www-form-urlencoded"],
        "PostARequest3"
    );
    assert_eq!(loaded.api.models["PostARequest"]["type"], "integer");
}

#[test]
fn schema_refs_must_exist() {
    let err = fail(
        "paths:\n  /a:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: '#/components/schemas/Nope'}\n",
    );
    let (location, message) = invalid(&err);
    assert_eq!(
        location,
        "paths./a.post.requestBody.content.application/json.schema.$ref"
    );
    assert!(
        message.contains("components.schemas has no `Nope`"),
        "{message}"
    );
}

#[test]
fn security_schemes_map_to_authorization_types() {
    let loaded = load(&format!(
        "security:
- sigv4: []
paths:
  /iam:
    get:
      {MOCK}
  /open:
    get:
      {MOCK}
      security: []
  /lambda:
    get:
      {MOCK}
      security:
      - api_key: []
      - my-authorizer: []
  /cognito:
    get:
      {MOCK}
      security:
      - pool: [email, openid]
  /token:
    get:
      {MOCK}
      security:
      - token-auth: []
  /forced:
    get:
      {MOCK}
      x-amazon-apigateway-auth: {{type: aws_iam}}
      security: [pool: []]
components:
  securitySchemes:
    sigv4: {{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4}}
    api_key: {{type: apiKey, name: x-api-key, in: header}}
    my-authorizer: {{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: custom}}
    pool: {{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: cognito_user_pools}}
    token-auth:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: oauth2
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn/invocations
"
    ));
    let api = &loaded.api;
    let get = method("get");
    let auth = |path: &str| api.route(&get, path).unwrap().authorization.clone();

    assert_eq!(auth("/iam").kind, AuthorizationType::AwsIam);
    assert_eq!(auth("/iam").authorizer, None);
    assert_eq!(auth("/open").kind, AuthorizationType::None);

    let lambda = api.route(&get, "/lambda").unwrap();
    assert_eq!(lambda.authorization.kind, AuthorizationType::Custom);
    assert_eq!(
        lambda.authorization.authorizer.as_deref(),
        Some("my-authorizer")
    );
    assert!(lambda.api_key_required);
    assert!(!api.route(&get, "/iam").unwrap().api_key_required);

    assert_eq!(auth("/cognito").kind, AuthorizationType::CognitoUserPools);
    assert_eq!(auth("/cognito").authorizer.as_deref(), Some("pool"));
    assert_eq!(auth("/cognito").scopes, ["email", "openid"]);

    assert_eq!(auth("/token").kind, AuthorizationType::Custom);
    assert_eq!(auth("/token").authorizer.as_deref(), Some("token-auth"));

    assert_eq!(auth("/forced").kind, AuthorizationType::AwsIam);
    assert_eq!(auth("/forced").authorizer, None);

    assert_eq!(
        api.authorizers.keys().collect::<Vec<_>>(),
        ["token-auth"],
        "only x-amazon-apigateway-authorizer defines authorizers"
    );
    // An authtype alone labels an authorizer without defining it.
    assert_eq!(
        locations(&loaded),
        [
            "components.securitySchemes.my-authorizer.x-amazon-apigateway-authtype",
            "components.securitySchemes.pool.x-amazon-apigateway-authtype",
        ]
    );
    assert!(
        loaded.warnings[0]
            .message
            .contains("has no x-amazon-apigateway-authorizer to define it"),
        "{}",
        loaded.warnings[0].message
    );
}

#[test]
fn security_without_api_gateway_meaning_is_a_warning() {
    let loaded = load(&format!(
        "paths:
  /a:
    get:
      {MOCK}
      security: [{{basic: []}}, {{iam: []}}, {{iam2: []}}]
components:
  securitySchemes:
    basic: {{type: http, scheme: basic}}
    iam: {{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4}}
    iam2: {{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4}}
"
    ));
    assert_eq!(
        loaded.api.routes[0].authorization.kind,
        AuthorizationType::AwsIam
    );
    assert_eq!(
        locations(&loaded),
        [
            "components.securitySchemes.basic",
            "paths./a.get.security[2].iam2"
        ]
    );
    assert!(loaded.warnings[0].message.contains("not protected"));
}

#[test]
fn security_errors_name_their_place() {
    let err = fail(&format!(
        "paths:\n  /a:\n    get:\n      {MOCK}\n      security: [{{nope: []}}]\n"
    ));
    assert_eq!(
        invalid(&err),
        (
            "paths./a.get.security[0].nope",
            "`nope` is not defined in components.securitySchemes"
        )
    );
    let err = fail(
        "paths: {}\ncomponents:\n  securitySchemes:\n    a: {type: apiKey, x-amazon-apigateway-authorizer: {type: magic}}\n",
    );
    assert_eq!(
        invalid(&err).0,
        "components.securitySchemes.a.x-amazon-apigateway-authorizer.type"
    );
    let err = fail(&format!(
        "paths:\n  /a:\n    get:\n      {MOCK}\n      x-amazon-apigateway-auth: {{type: COGNITO}}\n"
    ));
    assert_eq!(
        invalid(&err).0,
        "paths./a.get.x-amazon-apigateway-auth.type"
    );
}

#[test]
fn request_validators_must_be_defined() {
    let err = fail(&format!(
        "x-amazon-apigateway-request-validators: {{all: {{validateRequestBody: true}}}}
paths:
  /a:
    get:
      {MOCK}
      x-amazon-apigateway-request-validator: some
"
    ));
    assert_eq!(
        invalid(&err),
        (
            "paths./a.get.x-amazon-apigateway-request-validator",
            "`some` is not defined in x-amazon-apigateway-request-validators"
        )
    );
    let err = fail("x-amazon-apigateway-request-validator: basic\npaths: {}\n");
    assert_eq!(invalid(&err).0, "x-amazon-apigateway-request-validator");
}

#[test]
fn root_settings_and_their_errors() {
    let loaded = load("x-amazon-apigateway-api-key-source: authorizer\npaths: {}\n");
    assert_eq!(loaded.api.api_key_source, ApiKeySource::Authorizer);
    let err = fail("x-amazon-apigateway-api-key-source: QUERY\npaths: {}\n");
    assert_eq!(invalid(&err).0, "x-amazon-apigateway-api-key-source");

    let err =
        fail("paths: {}\nx-amazon-apigateway-gateway-responses:\n  THROTTLED: {statusCode: '0'}\n");
    assert_eq!(
        invalid(&err).0,
        "x-amazon-apigateway-gateway-responses.THROTTLED.statusCode"
    );
    let err = fail(
        "paths: {}\nx-amazon-apigateway-gateway-responses:\n  THROTTLED:\n    responseParameters: {gatewayresponse.header.Retry-After: 'method.request.body.x'}\n",
    );
    let (location, message) = invalid(&err);
    assert_eq!(
        location,
        "x-amazon-apigateway-gateway-responses.THROTTLED.responseParameters.gatewayresponse.header.Retry-After"
    );
    assert!(
        message.contains("not a valid mapping expression"),
        "{message}"
    );
}

#[test]
fn default_route_rules() {
    let err = fail(&format!(
        "paths:\n  $default:\n    x-amazon-apigateway-any-method:\n      {MOCK}\n"
    ));
    assert_eq!(invalid(&err).0, "paths.$default");

    let http = LoadOptions {
        protocol: Some(ApiProtocol::Http),
        ..LoadOptions::default()
    };
    let text = format!("{HEAD}paths:\n  $default:\n    get:\n      {MOCK}\n");
    let err = load_str(&text, "api.yaml", &http).unwrap_err();
    assert_eq!(invalid(&err).0, "paths.$default.get");

    let text =
        format!("{HEAD}paths:\n  $default:\n    x-amazon-apigateway-any-method:\n      {MOCK}\n");
    let loaded = load_str(&text, "api.yaml", &http).unwrap();
    assert_eq!(loaded.api.routes[0].route_key(), "$default");
}

#[test]
fn invalid_templates_are_refused_at_the_path() {
    let err = fail(&format!("paths:\n  pets:\n    get:\n      {MOCK}\n"));
    let (location, message) = invalid(&err);
    assert_eq!(location, "paths.pets");
    assert!(message.contains("must start with `/`"), "{message}");
    let err = fail(&format!(
        "paths:\n  /a/{{proxy+}}/b:\n    get:\n      {MOCK}\n"
    ));
    assert_eq!(invalid(&err).0, "paths./a/{proxy+}/b");
}

#[test]
fn any_method_and_explicit_methods_coexist() {
    let loaded = load(&format!(
        "paths:\n  /{{proxy+}}:\n    x-amazon-apigateway-any-method:\n      {MOCK}\n    get:\n      {MOCK}\n"
    ));
    let keys: Vec<String> = loaded.api.routes.iter().map(|r| r.route_key()).collect();
    assert_eq!(keys, ["ANY /{proxy+}", "GET /{proxy+}"]);
    assert_eq!(
        loaded.api.routes[1].method,
        RouteMethod::Method(Method::GET)
    );
}

#[test]
fn unknown_path_item_keys_are_warnings() {
    let loaded = load(&format!(
        "paths:\n  /a:\n    summary: fine\n    GET:\n      {MOCK}\n"
    ));
    assert!(loaded.api.routes.is_empty());
    // The key is not a method (OpenAPI's are lower case), so its integration means
    // nothing either: both are reported.
    assert_eq!(
        locations(&loaded),
        [
            "paths./a.GET.x-amazon-apigateway-integration",
            "paths./a.GET"
        ]
    );
    assert!(
        loaded.warnings[1]
            .message
            .contains("method keys are lower case")
    );
}

#[test]
fn protocol_and_id_options() {
    let options = LoadOptions {
        strict: false,
        api_id: Some("custom0001".to_owned()),
        protocol: Some(ApiProtocol::Http),
    };
    let text = format!(
        "{HEAD}paths:\n  /a:\n    get:\n      x-amazon-apigateway-integration: {{type: http_proxy, uri: 'http://b', timeoutInMillis: 30000}}\n"
    );
    let loaded = load_str(&text, "api.yaml", &options).unwrap();
    assert_eq!(loaded.api.id, "custom0001");
    assert_eq!(loaded.api.protocol, ApiProtocol::Http);
    assert_eq!(
        loaded.api.routes[0].integration.as_ref().unwrap().timeout,
        Duration::from_secs(30)
    );

    let websocket = LoadOptions {
        protocol: Some(ApiProtocol::WebSocket),
        ..LoadOptions::default()
    };
    let err = load_str(&text, "api.yaml", &websocket).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("api.yaml: (options): WebSocket"),
        "{err}"
    );
}

#[test]
fn strict_mode_passes_clean_documents() {
    let loaded = strict(&format!("paths:\n  /a:\n    get:\n      {MOCK}\n")).unwrap();
    assert!(loaded.warnings.is_empty());
    assert_eq!(loaded.api.routes.len(), 1);
}

#[test]
fn unknown_importexport_version_is_a_warning() {
    let loaded = load("x-amazon-apigateway-importexport-version: '2.0'\npaths: {}\n");
    assert_eq!(loaded.api.protocol, ApiProtocol::Http);
    assert_eq!(
        locations(&loaded),
        ["x-amazon-apigateway-importexport-version"]
    );
}
