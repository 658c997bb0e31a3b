//! The API model: what a deployment snapshots and a stage serves.
//!
//! The shapes follow API Gateway's own resources (RestApi/Api, Resource/Route,
//! Method, Integration, IntegrationResponse, MethodResponse, GatewayResponse) so that
//! an OpenAPI document with `x-amazon-apigateway-*` extensions maps onto them one to
//! one, and so that an export gives back what was imported.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{GatewayResponse, GatewayResponseType};

/// Which flavour of API Gateway API this is; it decides routing and error shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ApiProtocol {
    /// A REST API (API Gateway v1).
    #[default]
    Rest,
    /// An HTTP API (API Gateway v2).
    Http,
    /// A WebSocket API (API Gateway v2).
    WebSocket,
}

/// Where API keys come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ApiKeySource {
    /// The `x-api-key` request header.
    #[default]
    Header,
    /// The `usageIdentifierKey` returned by a Lambda authorizer.
    Authorizer,
}

/// One API: its routes and API-wide settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Api {
    /// The API id (the `{api-id}` of `{api-id}.execute-api.{region}.amazonaws.com`).
    pub id: String,
    /// The API's name (`info.title` of an OpenAPI document).
    pub name: String,
    /// The API's version label (`info.version`).
    pub version: Option<String>,
    /// The API's description.
    pub description: Option<String>,
    /// REST, HTTP or WebSocket.
    pub protocol: ApiProtocol,
    /// Resources and methods (REST) or routes (HTTP).
    pub routes: Vec<Route>,
    /// Customised gateway responses by type.
    pub gateway_responses: BTreeMap<GatewayResponseType, GatewayResponse>,
    /// Where API keys are read from.
    pub api_key_source: ApiKeySource,
    /// Media types treated as binary (`x-amazon-apigateway-binary-media-types`).
    pub binary_media_types: Vec<String>,
    /// Request body models by name (JSON Schema draft 4).
    pub models: BTreeMap<String, serde_json::Value>,
    /// Request validators by name.
    pub request_validators: BTreeMap<String, RequestValidator>,
    /// The validator applied to methods that name none.
    pub default_request_validator: Option<String>,
    /// Authorizers by name (the security schemes that carry
    /// `x-amazon-apigateway-authorizer`).
    pub authorizers: BTreeMap<String, Authorizer>,
    /// The resource policy (`x-amazon-apigateway-policy`), an IAM policy document.
    pub policy: Option<serde_json::Value>,
}

impl Api {
    /// The route for `method` on `path`, if declared.
    #[must_use]
    pub fn route(&self, method: &RouteMethod, path: &str) -> Option<&Route> {
        self.routes
            .iter()
            .find(|r| &r.method == method && r.path == path)
    }
}

/// A request validator (`x-amazon-apigateway-request-validators`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestValidator {
    /// Validate the body against the method's model.
    pub validate_request_body: bool,
    /// Validate that required parameters are present.
    pub validate_request_parameters: bool,
}

/// The HTTP method a route answers, or `ANY`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteMethod {
    /// Any method (`x-amazon-apigateway-any-method`, `ANY`).
    Any,
    /// One method.
    Method(http::Method),
}

impl RouteMethod {
    /// Parses `ANY` or an HTTP method name (case-insensitive, as OpenAPI keys are lower case).
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("any") || s == "x-amazon-apigateway-any-method" {
            return Ok(Self::Any);
        }
        http::Method::from_bytes(s.to_ascii_uppercase().as_bytes())
            .map(Self::Method)
            .map_err(|_| format!("`{s}` is not an HTTP method"))
    }

    /// `ANY` or the method name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Any => "ANY",
            Self::Method(m) => m.as_str(),
        }
    }
}

impl fmt::Display for RouteMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a method authorizes callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthorizationType {
    /// Open.
    #[default]
    None,
    /// SigV4-signed requests (`AWS_IAM`).
    AwsIam,
    /// A Lambda authorizer (`CUSTOM`).
    Custom,
    /// An Amazon Cognito user pool.
    CognitoUserPools,
    /// An HTTP API JWT authorizer.
    Jwt,
}

/// A method's authorization settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Authorization {
    /// The kind of authorization.
    pub kind: AuthorizationType,
    /// The authorizer's name (a security scheme) for CUSTOM, COGNITO and JWT.
    pub authorizer: Option<String>,
    /// OAuth scopes the method requires.
    pub scopes: Vec<String>,
}

/// What kind of authorizer a security scheme defines (`x-amazon-apigateway-authorizer.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthorizerType {
    /// A Lambda authorizer given one header's value (`token`).
    #[default]
    Token,
    /// A Lambda authorizer given the request's identity sources (`request`).
    Request,
    /// An Amazon Cognito user pool (`cognito_user_pools`), REST APIs.
    CognitoUserPools,
    /// A JWT authorizer (`jwt`), HTTP APIs.
    Jwt,
}

impl AuthorizerType {
    /// The name `x-amazon-apigateway-authorizer.type` uses.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Request => "request",
            Self::CognitoUserPools => "cognito_user_pools",
            Self::Jwt => "jwt",
        }
    }

    /// Whether the authorizer is a Lambda function.
    #[must_use]
    pub const fn is_lambda(self) -> bool {
        matches!(self, Self::Token | Self::Request)
    }
}

/// A JWT authorizer's issuer and audiences (`jwtConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JwtConfiguration {
    /// The `iss` tokens must carry; JWKS are found under it.
    pub issuer: String,
    /// Accepted `aud` (or, for access tokens, `client_id`) values.
    pub audience: Vec<String>,
}

/// An authorizer: a Lambda authorizer, a Cognito user pool or a JWT issuer, with
/// the settings of `x-amazon-apigateway-authorizer`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Authorizer {
    /// The security scheme's name, which methods refer to.
    pub name: String,
    /// The kind of authorizer.
    pub kind: AuthorizerType,
    /// The Lambda invocation URI (`authorizerUri`).
    pub uri: Option<String>,
    /// The role the gateway assumes to invoke the function (`authorizerCredentials`).
    pub credentials: Option<String>,
    /// Where the identity comes from, one expression per source, as written:
    /// `method.request.header.Authorization` (REST) or
    /// `$request.header.Authorization` (HTTP APIs).
    pub identity_source: Vec<String>,
    /// A regex a TOKEN authorizer's token must match before the function is called.
    pub identity_validation_expression: Option<String>,
    /// How long a result is cached, 0 to 3,600 seconds (`None`: AWS's default, 300).
    pub result_ttl_seconds: Option<u32>,
    /// Cognito user pool ARNs (`providerARNs`).
    pub provider_arns: Vec<String>,
    /// A JWT authorizer's issuer and audiences.
    pub jwt: Option<JwtConfiguration>,
    /// The payload format of an HTTP API Lambda authorizer (`1.0` or `2.0`).
    pub payload_format_version: Option<String>,
    /// Whether an HTTP API Lambda authorizer answers `{"isAuthorized": ...}`.
    pub enable_simple_responses: bool,
}

/// A route: a resource path and a method, with the method's settings and its integration.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The path template (`/pets/{petId}`, `/{proxy+}`), or `$default` for an HTTP API's
    /// catch-all route.
    pub path: String,
    /// The method, or ANY.
    pub method: RouteMethod,
    /// `operationId`, when the document gives one.
    pub operation_id: Option<String>,
    /// Authorization settings.
    pub authorization: Authorization,
    /// Whether an API key is required.
    pub api_key_required: bool,
    /// Declared request parameters (`method.request.querystring.NAME` → required).
    pub request_parameters: BTreeMap<String, bool>,
    /// The request validator's name.
    pub request_validator: Option<String>,
    /// Request body models by content type (model names).
    pub request_models: BTreeMap<String, String>,
    /// The integration; `None` only while an API is being built.
    pub integration: Option<Integration>,
    /// Method responses by status code.
    pub method_responses: BTreeMap<String, MethodResponse>,
}

impl Route {
    /// A route with default method settings and no integration.
    #[must_use]
    pub fn new(method: RouteMethod, path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            method,
            operation_id: None,
            authorization: Authorization::default(),
            api_key_required: false,
            request_parameters: BTreeMap::new(),
            request_validator: None,
            request_models: BTreeMap::new(),
            integration: None,
            method_responses: BTreeMap::new(),
        }
    }

    /// Sets the integration.
    #[must_use]
    pub fn with_integration(mut self, integration: Integration) -> Self {
        self.integration = Some(integration);
        self
    }

    /// The route key of an HTTP API (`GET /pets`, `$default`).
    #[must_use]
    pub fn route_key(&self) -> String {
        if self.path == "$default" {
            return self.path.clone();
        }
        format!("{} {}", self.method, self.path)
    }

    /// A stable resource id for the route's path, in AWS's short lower-case form.
    #[must_use]
    pub fn resource_id(&self) -> String {
        resource_id(&self.path)
    }
}

/// A stable 6-character resource id derived from a resource path (FNV-1a, base 36),
/// so ids do not change between deployments of the same path.
#[must_use]
pub fn resource_id(path: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let alphabet = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..6)
        .map(|i| char::from(alphabet[((hash >> (i * 6)) % 36) as usize]))
        .collect()
}

/// The kind of backend an integration calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntegrationType {
    /// Answered by the gateway from templates.
    Mock,
    /// An HTTP backend with request/response mapping.
    Http,
    /// An HTTP backend, request and response passed through.
    HttpProxy,
    /// An AWS service action with mapping.
    Aws,
    /// A Lambda function with the proxy event format.
    AwsProxy,
}

impl IntegrationType {
    /// Parses AWS's name, case-insensitively (`http_proxy` is seen in the wild).
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "MOCK" => Self::Mock,
            "HTTP" => Self::Http,
            "HTTP_PROXY" => Self::HttpProxy,
            "AWS" => Self::Aws,
            "AWS_PROXY" => Self::AwsProxy,
            _ => {
                return Err(format!(
                    "`{s}` is not an integration type (MOCK, HTTP, HTTP_PROXY, AWS, AWS_PROXY)"
                ));
            }
        })
    }

    /// AWS's name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Mock => "MOCK",
            Self::Http => "HTTP",
            Self::HttpProxy => "HTTP_PROXY",
            Self::Aws => "AWS",
            Self::AwsProxy => "AWS_PROXY",
        }
    }
}

/// What happens to a request whose Content-Type has no request template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PassthroughBehavior {
    /// Pass the body through when no template matches the Content-Type.
    #[default]
    WhenNoMatch,
    /// Pass the body through only when no template is defined at all.
    WhenNoTemplates,
    /// Reject with 415 when no template matches.
    Never,
}

impl PassthroughBehavior {
    /// Parses AWS's name (`when_no_match` and `WHEN_NO_MATCH` alike).
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "WHEN_NO_MATCH" => Self::WhenNoMatch,
            "WHEN_NO_TEMPLATES" => Self::WhenNoTemplates,
            "NEVER" => Self::Never,
            _ => {
                return Err(format!(
                    "`{s}` is not a passthrough behavior (WHEN_NO_MATCH, WHEN_NO_TEMPLATES, NEVER)"
                ));
            }
        })
    }
}

/// Conversion between text and binary payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContentHandling {
    /// Binary to base64 text.
    ConvertToText,
    /// Base64 text to binary.
    ConvertToBinary,
}

impl ContentHandling {
    /// Parses AWS's name.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "CONVERT_TO_TEXT" => Ok(Self::ConvertToText),
            "CONVERT_TO_BINARY" => Ok(Self::ConvertToBinary),
            _ => Err(format!(
                "`{s}` is not a content handling (CONVERT_TO_TEXT, CONVERT_TO_BINARY)"
            )),
        }
    }
}

/// The integration timeout AWS applies when none is set.
pub const DEFAULT_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);
/// The shortest integration timeout AWS accepts.
pub const MIN_INTEGRATION_TIMEOUT: Duration = Duration::from_millis(50);
/// The longest integration timeout AWS accepts by default for REST APIs.
pub const MAX_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);
/// The longest (and default) integration timeout of an HTTP API.
pub const MAX_HTTP_API_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);

impl ApiProtocol {
    /// The longest integration timeout this kind of API accepts.
    #[must_use]
    pub const fn max_integration_timeout(self) -> Duration {
        match self {
            Self::Http => MAX_HTTP_API_INTEGRATION_TIMEOUT,
            Self::Rest | Self::WebSocket => MAX_INTEGRATION_TIMEOUT,
        }
    }
}

/// A method's integration with its backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    /// The kind of backend.
    pub kind: IntegrationType,
    /// The backend URI (may contain `{param}` and `${stageVariables.x}`).
    pub uri: Option<String>,
    /// The method used towards the backend (`httpMethod`).
    pub http_method: Option<String>,
    /// How long to wait for the backend.
    pub timeout: Duration,
    /// `integration.request.*` mapped from method request values.
    pub request_parameters: BTreeMap<String, String>,
    /// Request templates by content type.
    pub request_templates: BTreeMap<String, String>,
    /// What to do when no template matches.
    pub passthrough_behavior: PassthroughBehavior,
    /// Request payload conversion.
    pub content_handling: Option<ContentHandling>,
    /// Integration responses, in declaration order.
    pub responses: Vec<IntegrationResponse>,
    /// Lambda proxy payload format version (`1.0`, `2.0`).
    pub payload_format_version: Option<String>,
    /// The role or credentials used to call AWS services.
    pub credentials: Option<String>,
    /// Request parameters that form the cache key.
    pub cache_key_parameters: Vec<String>,
    /// The cache namespace.
    pub cache_namespace: Option<String>,
    /// How an `https` backend's certificate is checked (`tlsConfig`).
    pub tls_config: TlsConfig,
    /// HTTP APIs' `responseParameters`: for each backend status code (`"200"`), how
    /// the response is changed (`append:header.NAME`, `overwrite:statuscode`, ...),
    /// key to value. REST APIs map responses per integration response instead.
    pub http_response_parameters: BTreeMap<String, BTreeMap<String, String>>,
    /// HTTP APIs' `integrationSubtype`: the AWS service action an AWS_PROXY
    /// integration calls directly (`SQS-SendMessage`, `StepFunctions-StartExecution`,
    /// `EventBridge-PutEvents`, ...), instead of a Lambda function. Its
    /// `requestParameters` then name the action's parameters (`QueueUrl`,
    /// `MessageBody`, `Region`) and its `credentials` the role it is called as.
    pub subtype: Option<String>,
}

/// An integration's TLS settings towards its backend (`tlsConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// Accept a certificate no trusted authority issued (self-signed, or from a
    /// private authority); its dates and host name are still checked
    /// (`insecureSkipVerification`).
    pub insecure_skip_verification: bool,
    /// The name the certificate must carry and the TLS handshake announces, instead
    /// of the URI's host (`serverNameToVerify`).
    pub server_name_to_verify: Option<String>,
}

impl Integration {
    /// An integration of `kind` with AWS's defaults.
    #[must_use]
    pub fn new(kind: IntegrationType) -> Self {
        Self {
            kind,
            uri: None,
            http_method: None,
            timeout: DEFAULT_INTEGRATION_TIMEOUT,
            request_parameters: BTreeMap::new(),
            request_templates: BTreeMap::new(),
            passthrough_behavior: PassthroughBehavior::default(),
            content_handling: None,
            responses: Vec::new(),
            payload_format_version: None,
            credentials: None,
            cache_key_parameters: Vec::new(),
            cache_namespace: None,
            tls_config: TlsConfig::default(),
            http_response_parameters: BTreeMap::new(),
            subtype: None,
        }
    }

    /// A MOCK integration answering `status` with a static body.
    #[must_use]
    pub fn mock(status: u16, body: impl Into<String>) -> Self {
        let mut integration = Self::new(IntegrationType::Mock);
        integration.request_templates.insert(
            "application/json".to_owned(),
            format!("{{\"statusCode\": {status}}}"),
        );
        let mut response = IntegrationResponse::new("default", status.to_string());
        response
            .response_templates
            .insert("application/json".to_owned(), body.into());
        integration.responses.push(response);
        integration
    }

    /// An HTTP_PROXY integration to `uri` with the request's method.
    #[must_use]
    pub fn http_proxy(uri: impl Into<String>) -> Self {
        let mut integration = Self::new(IntegrationType::HttpProxy);
        integration.uri = Some(uri.into());
        integration.http_method = Some("ANY".to_owned());
        integration
    }

    /// The integration response whose selection pattern is `default`, if any.
    #[must_use]
    pub fn default_response(&self) -> Option<&IntegrationResponse> {
        self.responses.iter().find(|r| r.is_default())
    }
}

/// One integration response: a selection pattern and the method response it maps to.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationResponse {
    /// `default`, or a regular expression matched against the backend status (HTTP)
    /// or the Lambda error message.
    pub selection_pattern: String,
    /// The method response status code.
    pub status_code: String,
    /// `method.response.header.X` mapped from integration response values.
    pub response_parameters: BTreeMap<String, String>,
    /// Response templates by content type.
    pub response_templates: BTreeMap<String, String>,
    /// Response payload conversion.
    pub content_handling: Option<ContentHandling>,
}

impl IntegrationResponse {
    /// An integration response for `selection_pattern` answering `status_code`.
    #[must_use]
    pub fn new(selection_pattern: impl Into<String>, status_code: impl Into<String>) -> Self {
        Self {
            selection_pattern: selection_pattern.into(),
            status_code: status_code.into(),
            response_parameters: BTreeMap::new(),
            response_templates: BTreeMap::new(),
            content_handling: None,
        }
    }

    /// Whether this is the default response.
    #[must_use]
    pub fn is_default(&self) -> bool {
        self.selection_pattern == "default" || self.selection_pattern.is_empty()
    }
}

/// A declared method response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MethodResponse {
    /// `method.response.header.X` → required.
    pub response_parameters: BTreeMap<String, bool>,
    /// Response models by content type.
    pub response_models: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_method_parses_openapi_keys() {
        assert_eq!(
            RouteMethod::parse("get").unwrap(),
            RouteMethod::Method(http::Method::GET)
        );
        assert_eq!(
            RouteMethod::parse("x-amazon-apigateway-any-method").unwrap(),
            RouteMethod::Any
        );
        assert_eq!(RouteMethod::parse("ANY").unwrap().to_string(), "ANY");
        assert!(RouteMethod::parse("g e t").is_err());
    }

    #[test]
    fn resource_ids_are_stable_and_short() {
        let a = resource_id("/pets/{petId}");
        assert_eq!(a.len(), 6);
        assert_eq!(a, resource_id("/pets/{petId}"));
        assert_ne!(a, resource_id("/pets"));
    }

    #[test]
    fn route_keys_follow_http_api_form() {
        let route = Route::new(RouteMethod::Method(http::Method::GET), "/pets");
        assert_eq!(route.route_key(), "GET /pets");
        assert_eq!(
            Route::new(RouteMethod::Any, "$default").route_key(),
            "$default"
        );
    }

    #[test]
    fn enum_parsers_reject_unknown_names() {
        assert_eq!(
            IntegrationType::parse("http_proxy").unwrap(),
            IntegrationType::HttpProxy
        );
        assert!(IntegrationType::parse("LAMBDA").is_err());
        assert_eq!(
            PassthroughBehavior::parse("when_no_templates").unwrap(),
            PassthroughBehavior::WhenNoTemplates
        );
        assert!(ContentHandling::parse("CONVERT").is_err());
    }
}
