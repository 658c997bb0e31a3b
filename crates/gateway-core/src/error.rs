//! Gateway responses: the errors API Gateway itself answers with.
//!
//! A decision the gateway makes (no route, a bad key, too many requests, a backend
//! timeout) is a [`GatewayError`]: a [`GatewayResponseType`] and a message. It turns
//! into AWS's default response (`{"message": ...}` plus `x-amzn-ErrorType`) with
//! [`GatewayError::into_response`], which also leaves the error in the response's
//! extensions so that a [`GatewayResponseLayer`] further out can re-render it with an
//! API's customised [`GatewayResponses`] (status, headers and a body template, as
//! `x-amazon-apigateway-gateway-responses` defines them).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response, StatusCode};
use tower::{Layer, Service};

use crate::body::{Body, BoxError, LengthLimitError, cause_ref};
use crate::context::RequestContext;
use crate::router::PathParams;
use crate::stage::StageVariables;

/// Every gateway response type AWS API Gateway defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum GatewayResponseType {
    AccessDenied,
    ApiConfigurationError,
    AuthorizerConfigurationError,
    AuthorizerFailure,
    BadRequestParameters,
    BadRequestBody,
    Default4xx,
    Default5xx,
    ExpiredToken,
    IntegrationFailure,
    IntegrationTimeout,
    InvalidApiKey,
    InvalidSignature,
    MissingAuthenticationToken,
    QuotaExceeded,
    RequestTooLarge,
    ResourceNotFound,
    Throttled,
    Unauthorized,
    UnsupportedMediaType,
    WafFiltered,
}

impl GatewayResponseType {
    /// All types, in AWS's documented order.
    pub const ALL: [Self; 21] = [
        Self::AccessDenied,
        Self::ApiConfigurationError,
        Self::AuthorizerConfigurationError,
        Self::AuthorizerFailure,
        Self::BadRequestParameters,
        Self::BadRequestBody,
        Self::Default4xx,
        Self::Default5xx,
        Self::ExpiredToken,
        Self::IntegrationFailure,
        Self::IntegrationTimeout,
        Self::InvalidApiKey,
        Self::InvalidSignature,
        Self::MissingAuthenticationToken,
        Self::QuotaExceeded,
        Self::RequestTooLarge,
        Self::ResourceNotFound,
        Self::Throttled,
        Self::Unauthorized,
        Self::UnsupportedMediaType,
        Self::WafFiltered,
    ];

    /// AWS's name, as used in `x-amazon-apigateway-gateway-responses`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "ACCESS_DENIED",
            Self::ApiConfigurationError => "API_CONFIGURATION_ERROR",
            Self::AuthorizerConfigurationError => "AUTHORIZER_CONFIGURATION_ERROR",
            Self::AuthorizerFailure => "AUTHORIZER_FAILURE",
            Self::BadRequestParameters => "BAD_REQUEST_PARAMETERS",
            Self::BadRequestBody => "BAD_REQUEST_BODY",
            Self::Default4xx => "DEFAULT_4XX",
            Self::Default5xx => "DEFAULT_5XX",
            Self::ExpiredToken => "EXPIRED_TOKEN",
            Self::IntegrationFailure => "INTEGRATION_FAILURE",
            Self::IntegrationTimeout => "INTEGRATION_TIMEOUT",
            Self::InvalidApiKey => "INVALID_API_KEY",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::RequestTooLarge => "REQUEST_TOO_LARGE",
            Self::ResourceNotFound => "RESOURCE_NOT_FOUND",
            Self::Throttled => "THROTTLED",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::WafFiltered => "WAF_FILTERED",
        }
    }

    /// Parses AWS's name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The status AWS answers with when the API does not customise it.
    #[must_use]
    pub const fn default_status(self) -> StatusCode {
        match self {
            Self::AccessDenied
            | Self::ExpiredToken
            | Self::InvalidApiKey
            | Self::InvalidSignature
            | Self::MissingAuthenticationToken
            | Self::WafFiltered => StatusCode::FORBIDDEN,
            Self::BadRequestParameters | Self::BadRequestBody | Self::Default4xx => {
                StatusCode::BAD_REQUEST
            }
            Self::IntegrationFailure | Self::IntegrationTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::QuotaExceeded | Self::Throttled => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ResourceNotFound => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ApiConfigurationError
            | Self::AuthorizerConfigurationError
            | Self::AuthorizerFailure
            | Self::Default5xx => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message AWS puts in `{"message": ...}` by default (`None` renders `null`).
    #[must_use]
    pub const fn default_message(self) -> Option<&'static str> {
        Some(match self {
            Self::AccessDenied => "User is not authorized to access this resource",
            Self::ApiConfigurationError | Self::Default5xx | Self::IntegrationFailure => {
                "Internal server error"
            }
            Self::AuthorizerConfigurationError | Self::AuthorizerFailure => return None,
            Self::BadRequestParameters => "Missing required request parameters",
            Self::BadRequestBody => "Invalid request body",
            Self::Default4xx => "Bad Request",
            Self::ExpiredToken => "The security token included in the request is expired",
            Self::IntegrationTimeout => "Endpoint request timed out",
            Self::InvalidApiKey | Self::WafFiltered => "Forbidden",
            Self::InvalidSignature => {
                "The request signature we calculated does not match the signature you provided."
            }
            Self::MissingAuthenticationToken => "Missing Authentication Token",
            Self::QuotaExceeded => "Limit Exceeded",
            Self::RequestTooLarge => "Request Too Long",
            Self::ResourceNotFound => "Not Found",
            Self::Throttled => "Too Many Requests",
            Self::Unauthorized => "Unauthorized",
            Self::UnsupportedMediaType => "Unsupported Media Type",
        })
    }

    /// The `x-amzn-ErrorType` header value.
    #[must_use]
    pub const fn error_type(self) -> &'static str {
        match self {
            Self::AccessDenied => "AccessDeniedException",
            Self::ApiConfigurationError
            | Self::Default5xx
            | Self::IntegrationFailure
            | Self::IntegrationTimeout => "InternalServerErrorException",
            Self::AuthorizerConfigurationError | Self::AuthorizerFailure => {
                "AuthorizerConfigurationException"
            }
            Self::BadRequestParameters | Self::BadRequestBody | Self::Default4xx => {
                "BadRequestException"
            }
            Self::ExpiredToken => "ExpiredTokenException",
            Self::InvalidApiKey | Self::WafFiltered => "ForbiddenException",
            Self::InvalidSignature => "InvalidSignatureException",
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::QuotaExceeded => "LimitExceededException",
            Self::RequestTooLarge => "RequestTooLongException",
            Self::ResourceNotFound => "NotFoundException",
            Self::Throttled => "TooManyRequestsException",
            Self::Unauthorized => "UnauthorizedException",
            Self::UnsupportedMediaType => "UnsupportedMediaTypeException",
        }
    }

    /// The catch-all type (`DEFAULT_4XX` or `DEFAULT_5XX`) this type falls back to.
    #[must_use]
    pub fn fallback(self) -> Self {
        if self.default_status().is_server_error() {
            Self::Default5xx
        } else {
            Self::Default4xx
        }
    }
}

impl fmt::Display for GatewayResponseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decision of the gateway that the client sees as a gateway response.
#[derive(Debug, Clone)]
pub struct GatewayError {
    kind: GatewayResponseType,
    status: Option<StatusCode>,
    message: Option<Cow<'static, str>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    validation_error: Option<String>,
    error_type: Option<&'static str>,
}

impl GatewayError {
    /// An error of `kind` with AWS's default message.
    #[must_use]
    pub fn new(kind: GatewayResponseType) -> Self {
        Self {
            kind,
            status: None,
            message: kind.default_message().map(Cow::Borrowed),
            headers: Vec::new(),
            validation_error: None,
            error_type: None,
        }
    }

    /// Replaces the message.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Renders the message as JSON `null`, as AWS does for some authorizer errors.
    #[must_use]
    pub fn with_null_message(mut self) -> Self {
        self.message = None;
        self
    }

    /// Overrides the status (used by `DEFAULT_4XX`/`DEFAULT_5XX` errors that carry the
    /// status of what went wrong).
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// Adds a header to the response (for example `WWW-Authenticate`).
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Overrides the `x-amzn-ErrorType` value (for answers AWS gives outside the
    /// gateway-response types, such as `ForbiddenException` for an unknown stage).
    #[must_use]
    pub fn with_error_type(mut self, error_type: &'static str) -> Self {
        self.error_type = Some(error_type);
        self
    }

    /// The `x-amzn-ErrorType` value.
    #[must_use]
    pub fn error_type(&self) -> &'static str {
        self.error_type.unwrap_or_else(|| self.kind.error_type())
    }

    /// Sets the text `$context.error.validationErrorString` renders.
    #[must_use]
    pub fn with_validation_error(mut self, text: impl Into<String>) -> Self {
        self.validation_error = Some(text.into());
        self
    }

    /// The gateway response type.
    #[must_use]
    pub const fn kind(&self) -> GatewayResponseType {
        self.kind
    }

    /// The message (`None` renders as JSON `null`).
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The status this error answers with when not customised.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| self.kind.default_status())
    }

    /// `$context.error.messageString`: the message as a quoted JSON string.
    #[must_use]
    pub fn message_string(&self) -> String {
        match &self.message {
            Some(m) => serde_json::Value::from(m.as_ref()).to_string(),
            None => "null".to_owned(),
        }
    }

    /// The default AWS response for this error. The error itself is kept in the
    /// response's extensions so an outer [`GatewayResponseLayer`] can customise it.
    #[must_use]
    pub fn into_response(self) -> Response<Body> {
        self.into_response_with()
    }

    /// [`into_response`](Self::into_response) with any body type that can hold bytes,
    /// for layers standing in front of services of other frameworks (an axum
    /// `Router` answers with its own body type).
    #[must_use]
    pub fn into_response_with<B: From<Bytes>>(self) -> Response<B> {
        let body = format!("{{\"message\":{}}}", self.message_string());
        let mut response = Response::new(B::from(Bytes::from(body)));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            X_AMZN_ERROR_TYPE,
            HeaderValue::from_static(self.error_type()),
        );
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        response.extensions_mut().insert(self);
        response
    }

    /// Classifies an infrastructure error: a boxed `GatewayError` is itself, a body
    /// over the limit is `REQUEST_TOO_LARGE`, a timeout is `INTEGRATION_TIMEOUT`, and
    /// anything else is `DEFAULT_5XX`.
    #[must_use]
    pub fn from_box_error(err: &BoxError) -> Self {
        let err: &(dyn std::error::Error + 'static) = &**err;
        if let Some(e) = cause_ref::<Self>(err) {
            return e.clone();
        }
        if cause_ref::<LengthLimitError>(err).is_some() {
            return Self::new(GatewayResponseType::RequestTooLarge);
        }
        if cause_ref::<tower::timeout::error::Elapsed>(err).is_some() {
            return Self::new(GatewayResponseType::IntegrationTimeout);
        }
        Self::new(GatewayResponseType::Default5xx)
    }
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.kind,
            self.status().as_u16(),
            self.message().unwrap_or("null")
        )
    }
}

impl std::error::Error for GatewayError {}

/// `x-amzn-ErrorType`.
pub const X_AMZN_ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// A customised gateway response, as one entry of `x-amazon-apigateway-gateway-responses`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GatewayResponse {
    /// The status to answer with instead of the type's default.
    pub status_code: Option<StatusCode>,
    /// `gatewayresponse.header.NAME` mapped from a source expression.
    pub response_parameters: BTreeMap<String, String>,
    /// Body templates by content type (simple `$context`/`$stageVariables` substitution).
    pub response_templates: BTreeMap<String, String>,
}

/// An API's gateway-response customisations, compiled for rendering.
#[derive(Debug, Clone, Default)]
pub struct GatewayResponses {
    entries: BTreeMap<GatewayResponseType, CompiledResponse>,
    needs_request: bool,
}

#[derive(Debug, Clone)]
struct CompiledResponse {
    status: Option<StatusCode>,
    headers: Vec<(HeaderName, ParamSource)>,
    templates: Vec<(String, SimpleTemplate)>,
}

/// Where a gateway-response header value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamSource {
    /// A quoted static value: `'text'`.
    Static(String),
    /// `method.request.header.NAME`.
    Header(String),
    /// `method.request.querystring.NAME`.
    QueryString(String),
    /// `method.request.path.NAME`.
    Path(String),
    /// `stageVariables.NAME`.
    StageVariable(String),
    /// `context.NAME`.
    Context(String),
}

impl ParamSource {
    /// Parses an AWS mapping expression such as `method.request.header.Origin` or `'*'`.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let expr = expr.trim();
        if let Some(inner) = expr.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            return Ok(Self::Static(inner.to_owned()));
        }
        type Make = fn(String) -> ParamSource;
        let pairs: [(&str, Make); 5] = [
            ("method.request.header.", Self::Header),
            ("method.request.querystring.", Self::QueryString),
            ("method.request.path.", Self::Path),
            ("stageVariables.", Self::StageVariable),
            ("context.", Self::Context),
        ];
        for (prefix, make) in pairs {
            if let Some(name) = expr.strip_prefix(prefix) {
                if name.is_empty() {
                    break;
                }
                return Ok(make(name.to_owned()));
            }
        }
        Err(format!(
            "`{expr}` is not a valid mapping expression: expected a quoted static value, \
             method.request.header|querystring|path.NAME, stageVariables.NAME or context.NAME"
        ))
    }

    fn needs_request(&self) -> bool {
        matches!(self, Self::Header(_) | Self::QueryString(_) | Self::Path(_))
    }
}

/// The request data a customised gateway response may read.
#[derive(Debug, Default, Clone, Copy)]
pub struct ErrorRequestInfo<'a> {
    /// The request context, when the request got far enough to have one.
    pub context: Option<&'a RequestContext>,
    /// The stage's variables.
    pub stage_variables: Option<&'a StageVariables>,
    /// The request headers.
    pub headers: Option<&'a HeaderMap>,
    /// The raw query string.
    pub query: Option<&'a str>,
    /// The matched path parameters.
    pub path_params: Option<&'a PathParams>,
    /// The request's `Accept` header, to choose a template.
    pub accept: Option<&'a str>,
}

impl GatewayResponses {
    /// Compiles customisations; fails naming the type and field that is invalid.
    pub fn compile(
        entries: &BTreeMap<GatewayResponseType, GatewayResponse>,
    ) -> Result<Self, String> {
        let mut compiled = BTreeMap::new();
        let mut needs_request = false;
        for (kind, response) in entries {
            let mut headers = Vec::new();
            for (key, expr) in &response.response_parameters {
                let name = key.strip_prefix("gatewayresponse.header.").ok_or_else(|| {
                    format!(
                        "{kind}.responseParameters: `{key}` must start with gatewayresponse.header."
                    )
                })?;
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("{kind}.responseParameters: invalid header `{name}`"))?;
                let source = ParamSource::parse(expr)
                    .map_err(|e| format!("{kind}.responseParameters.{key}: {e}"))?;
                needs_request |= source.needs_request();
                headers.push((name, source));
            }
            let templates = response
                .response_templates
                .iter()
                .map(|(ct, t)| (ct.clone(), SimpleTemplate::compile(t)))
                .collect();
            compiled.insert(
                *kind,
                CompiledResponse {
                    status: response.status_code,
                    headers,
                    templates,
                },
            );
        }
        Ok(Self {
            entries: compiled,
            needs_request,
        })
    }

    /// True when no type is customised (every error renders AWS's default).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when some header mapping reads request headers, query or path parameters,
    /// so the caller must keep them until the response is rendered.
    #[must_use]
    pub fn needs_request(&self) -> bool {
        self.needs_request
    }

    /// Renders `err` with the customisation for its type, else for its
    /// `DEFAULT_4XX`/`DEFAULT_5XX` fallback, else AWS's default response.
    #[must_use]
    pub fn render(&self, err: GatewayError, info: &ErrorRequestInfo<'_>) -> Response<Body> {
        let own = self.entries.get(&err.kind);
        let fallback = self.entries.get(&err.kind.fallback());
        if own.is_none() && fallback.is_none() {
            return err.into_response();
        }
        let status = own
            .and_then(|c| c.status)
            .or_else(|| fallback.and_then(|c| c.status))
            .unwrap_or_else(|| err.status());
        let templates = own
            .filter(|c| !c.templates.is_empty())
            .or(fallback.filter(|c| !c.templates.is_empty()))
            .map(|c| c.templates.as_slice())
            .unwrap_or_default();
        let (content_type, body) = match choose_template(templates, info.accept) {
            Some((ct, template)) => (ct.to_owned(), template.render(&err, info)),
            None => (
                "application/json".to_owned(),
                format!("{{\"message\":{}}}", err.message_string()),
            ),
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        if let Ok(ct) = HeaderValue::from_str(&content_type) {
            headers.insert(CONTENT_TYPE, ct);
        }
        headers.insert(
            X_AMZN_ERROR_TYPE,
            HeaderValue::from_static(err.error_type()),
        );
        for (name, value) in &err.headers {
            headers.append(name.clone(), value.clone());
        }
        for compiled in [fallback, own].into_iter().flatten() {
            for (name, source) in &compiled.headers {
                if let Some(value) =
                    resolve_param(source, info).and_then(|v| HeaderValue::from_str(&v).ok())
                {
                    headers.insert(name.clone(), value);
                }
            }
        }
        response.extensions_mut().insert(err);
        response
    }
}

fn choose_template<'t>(
    templates: &'t [(String, SimpleTemplate)],
    accept: Option<&str>,
) -> Option<(&'t str, &'t SimpleTemplate)> {
    if templates.is_empty() {
        return None;
    }
    let find = |ct: &str| {
        templates
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(ct))
            .map(|(k, t)| (k.as_str(), t))
    };
    if let Some(accept) = accept {
        for part in accept.split(',') {
            let media = part.split(';').next().unwrap_or("").trim();
            if let Some(found) = find(media) {
                return Some(found);
            }
        }
    }
    find("application/json").or_else(|| templates.first().map(|(k, t)| (k.as_str(), t)))
}

fn resolve_param(source: &ParamSource, info: &ErrorRequestInfo<'_>) -> Option<String> {
    match source {
        ParamSource::Static(v) => Some(v.clone()),
        ParamSource::Header(name) => info
            .headers?
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ParamSource::QueryString(name) => crate::context::query_param(info.query?, name),
        ParamSource::Path(name) => info.path_params?.get(name).map(str::to_owned),
        ParamSource::StageVariable(name) => info.stage_variables?.get(name).map(str::to_owned),
        ParamSource::Context(name) => info.context?.variable(name).map(|v| v.into_owned()),
    }
}

/// A template with simple `$context.*` and `$stageVariables.*` substitution, as gateway
/// response templates are (they are not processed by the VTL engine).
#[derive(Debug, Clone)]
pub struct SimpleTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Context(String),
    StageVariable(String),
}

impl SimpleTemplate {
    /// Splits a template into literal text and variable references.
    #[must_use]
    pub fn compile(template: &str) -> Self {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = template;
        while let Some(pos) = rest.find('$') {
            text.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            let (braced, body) = match after.strip_prefix('{') {
                Some(b) => (true, b),
                None => (false, after),
            };
            let name_len = body
                .char_indices()
                .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'))
                .map_or(body.len(), |(i, _)| i);
            let name = body[..name_len].trim_end_matches('.');
            let closed = !braced || body[name.len()..].starts_with('}');
            let part = if !closed {
                None
            } else if let Some(v) = name.strip_prefix("context.") {
                Some(Part::Context(v.to_owned()))
            } else {
                name.strip_prefix("stageVariables.")
                    .map(|v| Part::StageVariable(v.to_owned()))
            };
            match part {
                Some(part) => {
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(part);
                    let consumed = usize::from(braced) * 2 + name.len();
                    rest = &after[consumed..];
                }
                None => {
                    text.push('$');
                    rest = after;
                }
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Self { parts }
    }

    /// Renders the template for `err`; unknown variables render as empty text.
    #[must_use]
    pub fn render(&self, err: &GatewayError, info: &ErrorRequestInfo<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Context(name) => match name.as_str() {
                    "error.message" => out.push_str(err.message().unwrap_or("")),
                    "error.messageString" => out.push_str(&err.message_string()),
                    "error.responseType" => out.push_str(err.kind.as_str()),
                    "error.validationErrorString" => {
                        out.push_str(err.validation_error.as_deref().unwrap_or(""));
                    }
                    other => {
                        if let Some(v) = info.context.and_then(|c| c.variable(other)) {
                            out.push_str(&v);
                        }
                    }
                },
                Part::StageVariable(name) => {
                    if let Some(v) = info.stage_variables.and_then(|s| s.get(name)) {
                        out.push_str(v);
                    }
                }
            }
        }
        out
    }
}

/// Layer that turns every error into a gateway response, so that no error ever
/// reaches hyper as a dropped connection, and applies an API's customisations to the
/// gateway errors inner layers answered with.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct GatewayResponseLayer {
    responses: Arc<GatewayResponses>,
    stage_variables: Option<Arc<StageVariables>>,
}

impl GatewayResponseLayer {
    /// A layer rendering AWS's default gateway responses.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses an API's customised gateway responses.
    pub fn responses(mut self, responses: impl Into<Arc<GatewayResponses>>) -> Self {
        self.responses = responses.into();
        self
    }

    /// Makes `$stageVariables.*` available to the templates.
    pub fn stage_variables(mut self, variables: impl Into<Arc<StageVariables>>) -> Self {
        self.stage_variables = Some(variables.into());
        self
    }
}

impl<S> Layer<S> for GatewayResponseLayer {
    type Service = GatewayResponseService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GatewayResponseService {
            inner,
            layer: self.clone(),
        }
    }
}

/// Service built by [`GatewayResponseLayer`].
#[derive(Debug, Clone)]
pub struct GatewayResponseService<S> {
    inner: S,
    layer: GatewayResponseLayer,
}

impl<S> GatewayResponseService<S> {
    /// Wraps `inner` with AWS's default gateway responses.
    pub fn new(inner: S) -> Self {
        GatewayResponseLayer::new().layer(inner)
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Response future of [`GatewayResponseService`].
pub struct GatewayResponseFuture {
    inner: Pin<Box<dyn Future<Output = Result<Response<Body>, std::convert::Infallible>> + Send>>,
}

impl fmt::Debug for GatewayResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GatewayResponseFuture")
    }
}

impl Future for GatewayResponseFuture {
    type Output = Result<Response<Body>, std::convert::Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

struct Captured {
    context: Option<RequestContext>,
    headers: Option<HeaderMap>,
    query: Option<String>,
    path_params: Option<PathParams>,
    accept: Option<String>,
}

impl<S, B> Service<Request<B>> for GatewayResponseService<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = GatewayResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // An inner service that fails to become ready is answered per request below;
        // readiness errors must not bubble up to hyper.
        match self.inner.poll_ready(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let responses = Arc::clone(&self.layer.responses);
        let stage_variables = self.layer.stage_variables.clone();
        let captured = (!responses.is_empty()).then(|| Captured {
            context: req.extensions().get::<RequestContext>().cloned(),
            headers: responses.needs_request().then(|| req.headers().clone()),
            query: req.uri().query().map(str::to_owned),
            path_params: req.extensions().get::<PathParams>().cloned(),
            accept: req
                .headers()
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        });
        let fut = self.inner.call(req);
        GatewayResponseFuture {
            inner: Box::pin(async move {
                let response = fut.await;
                let err = match response {
                    Ok(mut resp) => match resp.extensions_mut().remove::<GatewayError>() {
                        Some(err) if !responses.is_empty() => err,
                        Some(err) => {
                            resp.extensions_mut().insert(err);
                            return Ok(resp);
                        }
                        None => return Ok(resp),
                    },
                    Err(e) => {
                        let e: BoxError = e.into();
                        let err = GatewayError::from_box_error(&e);
                        tracing::warn!(error = %e, response = %err, "request failed");
                        err
                    }
                };
                let captured = captured.as_ref();
                let info = ErrorRequestInfo {
                    context: captured.and_then(|c| c.context.as_ref()),
                    stage_variables: stage_variables.as_deref(),
                    headers: captured.and_then(|c| c.headers.as_ref()),
                    query: captured.and_then(|c| c.query.as_deref()),
                    path_params: captured.and_then(|c| c.path_params.as_ref()),
                    accept: captured.and_then(|c| c.accept.as_deref()),
                };
                Ok(responses.render(err, &info))
            }),
        }
    }
}

#[cfg(test)]
mod tests;
