//! Mapped (non-proxy) integrations: HTTP backends, and AWS integrations that
//! invoke Lambda functions or call AWS service actions.
//!
//! Unlike the proxy types, the gateway rewrites both directions:
//!
//! # The integration request
//!
//! 1. The method request's body is buffered (the pipeline has bounded it to 10 MB).
//! 2. **Content handling** converts it (see the `content` module): a body whose
//!    `Content-Type` is a binary media type is passed on as it is unless
//!    `CONVERT_TO_TEXT` asks for base64; `CONVERT_TO_BINARY` decodes text bodies.
//!    A body that should be base64 and is not answers 400 "Could not process
//!    payload".
//! 3. **A request template** is chosen by the request's `Content-Type` (media type
//!    compared without parameters, `application/json` when the request has none)
//!    and rendered with `$input`, `$util`, `$context` and `$stageVariables`. Binary
//!    payloads skip templates. With no template for the type, the **passthrough
//!    behaviour** decides: `WHEN_NO_MATCH` sends the body unchanged;
//!    `WHEN_NO_TEMPLATES` does so only when the integration has no template at all
//!    and otherwise answers 415 `UNSUPPORTED_MEDIA_TYPE`, as `NEVER` always does.
//! 4. **Request parameters** (`integration.request.path|querystring|header.NAME`)
//!    are resolved from the method request, static values, `$context` and stage
//!    variables; `method.request.body[.JSONPath]` may be read too. What a template
//!    sets in `$context.requestOverride` then wins.
//!
//! For an HTTP backend, only mapped headers and query strings are sent (the
//! client's are not forwarded, as on AWS), with `Host`, `Content-Type` (the
//! template's key, or the client's type for a passed-through body), `User-Agent:
//! AmazonAPIGateway_{apiId}` and `X-Amzn-Trace-Id`. For a Lambda function the
//! result is the invocation payload. For an AWS service the request is built and
//! SigV4-signed by the `aws` module.
//!
//! # The integration response
//!
//! The response is buffered and an integration response is selected: by the
//! backend's status code for HTTP and AWS services; for Lambda, by the
//! `errorMessage` of a function error, while a successful invocation always takes
//! the default response. No match and no default answers 500
//! `API_CONFIGURATION_ERROR`. The selected response's content handling converts
//! the payload (the first `Accept` type decides whether the client wants binary),
//! its template chosen by `Accept` renders the body with `$input` reading the
//! integration's payload (text only: a binary result is passed through), its
//! header mappings may read `integration.response.header.NAME` and
//! `integration.response.body[.JSONPath]`, and the template's
//! `$context.responseOverride` wins over both. Without a template the payload is
//! passed through with `Content-Type: application/json` unless a header mapping
//! sets it, as AWS does.
//!
//! # Failures
//!
//! No answer within the integration timeout gives 504; an unreachable backend 500;
//! a connection that fails after it was made 502 (see the `http_proxy` module);
//! a Lambda invocation that fails (no such function, no permission, throttled)
//! 500 `{"message": "Internal server error"}`, logged with the reason.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gateway_core::body::{Body, BoxError};
use gateway_core::context::RequestContext;
use gateway_core::error::{GatewayError, GatewayResponseType};
use gateway_core::lambda::{FunctionRef, Invocation, SharedInvoker};
use gateway_core::limits::MAX_PAYLOAD_BYTES;
use gateway_core::model::{ContentHandling, Integration, PassthroughBehavior, Route};
use gateway_core::observe::trace::X_AMZN_TRACE_ID;
use gateway_core::stage::{StageTemplate, StageVariables};
use gateway_mapping_vtl::aws::{PAYLOAD_ERROR, RequestOverride};
use http::header::{ACCEPT, CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Version};
use tower::Service;

use crate::aws::{AwsConfig, AwsTarget, PreparedTarget, ServiceRequest};
use crate::content::{self, BinaryMediaTypes};
use crate::future::ResponseFuture;
use crate::http_proxy::pool::HostPool;
use crate::http_proxy::uri::UriTemplate;
use crate::http_proxy::{
    ErrorChain, Target, backend_method, check_timeout, client_failure, configuration_error,
    timed_out,
};
use crate::mapping::{IntegrationValues, Payload, RequestMappings, RequestValues, Side};
use crate::response::{FieldError, IntegrationResponses, MethodBody, media_type};
use crate::templates::{self, RequestTemplate};
use crate::{CompileContext, CompileError, IntegrationStatus};

/// The service an HTTP or AWS integration compiles to.
#[derive(Debug, Clone)]
pub(crate) struct MappedIntegration {
    inner: Arc<Mapped>,
}

#[derive(Debug)]
struct Mapped {
    route: Arc<str>,
    backend: Backend,
    timeout: Duration,
    templates: Vec<RequestTemplate>,
    passthrough: PassthroughBehavior,
    content_handling: Option<ContentHandling>,
    mappings: RequestMappings,
    responses: IntegrationResponses,
    stage_variables: StageVariables,
    binary: BinaryMediaTypes,
}

/// Where the mapped request goes.
#[derive(Debug)]
enum Backend {
    /// An HTTP endpoint.
    Http {
        target: Target,
        /// `None` for `ANY`: the client's method.
        method: Option<Method>,
        pool: Option<Arc<HostPool>>,
    },
    /// A Lambda function, invoked synchronously.
    Lambda {
        function: FunctionRef,
        invoker: SharedInvoker,
    },
    /// An AWS service action or path.
    Aws {
        target: AwsBackend,
        /// `None` for `ANY`: the client's method.
        method: Option<Method>,
    },
    /// A target made invalid by a stage variable's value: answered with 500 per
    /// request, so that one bad variable breaks its routes, not the stage.
    Invalid(String),
}

/// An AWS service target: bound once, or per request when its path has
/// `{name}` placeholders.
#[derive(Debug)]
enum AwsBackend {
    /// A target without placeholders.
    Prepared(PreparedTarget),
    /// A `path/` target whose placeholders are filled per request.
    Templated {
        uri: String,
        config: AwsConfig,
        client: crate::HttpClient,
    },
}

/// What the backend answered, buffered.
struct BackendResponse {
    /// The status for `IntegrationStatus`.
    status: u16,
    headers: HeaderMap,
    body: Bytes,
    /// What selection patterns are matched against; `None` takes the default
    /// response (a successful Lambda invocation).
    selector: Option<String>,
}

/// The integration request after mapping.
struct MappedRequest {
    body: Bytes,
    content_type: Option<HeaderValue>,
    overrides: RequestOverride,
}

impl MappedIntegration {
    /// Compiles an HTTP integration.
    pub(crate) fn compile_http(
        route: &Route,
        integration: &Integration,
        ctx: &CompileContext<'_>,
    ) -> Result<Self, CompileError> {
        let route_key = route.route_key();
        let method = backend_method(&route_key, integration)?;
        let mut mappings = compile_mappings(&route_key, integration, ctx)?;
        let target = Target::compile(&route_key, route, integration, ctx, &mut mappings.path)?;
        let pool = target.pool(ctx.client, &integration.tls_config);
        let backend = Backend::Http {
            target,
            method,
            pool,
        };
        Self::compile(route_key, integration, ctx, mappings, backend)
    }

    /// Compiles an AWS integration whose URI invokes a Lambda function
    /// (`arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations`).
    /// `function` is the reason the URI names no function when only a stage
    /// variable's value made it so.
    pub(crate) fn compile_lambda(
        route: &Route,
        integration: &Integration,
        ctx: &CompileContext<'_>,
        function: Result<FunctionRef, String>,
    ) -> Result<Self, CompileError> {
        let route_key = route.route_key();
        let invoker = ctx.invoker.ok_or_else(|| CompileError::NoInvoker {
            route: route_key.clone(),
        })?;
        let mappings = compile_mappings(&route_key, integration, ctx)?;
        let backend = match function {
            Ok(function) => Backend::Lambda {
                function,
                invoker: Arc::clone(invoker),
            },
            Err(reason) => Backend::Invalid(reason),
        };
        Self::compile(route_key, integration, ctx, mappings, backend)
    }

    /// Compiles an AWS integration that calls a service
    /// (`arn:aws:apigateway:{region}:{service}:action/{Action}` or `:path/{path}`).
    pub(crate) fn compile_aws_service(
        route: &Route,
        integration: &Integration,
        ctx: &CompileContext<'_>,
    ) -> Result<Self, CompileError> {
        let route_key = route.route_key();
        let invalid = |reason: String| CompileError::InvalidField {
            route: route_key.clone(),
            field: "uri".to_owned(),
            reason,
        };
        let method = backend_method(&route_key, integration)?;
        let mappings = compile_mappings(&route_key, integration, ctx)?;
        let raw = integration.uri.as_deref().unwrap_or_default();
        let uri = StageTemplate::parse(raw).render(ctx.stage_variables);
        let target = AwsTarget::parse(&uri).map_err(|e| invalid(e.to_string()))?;
        let config = ctx.aws.ok_or_else(|| CompileError::NoAwsConfig {
            route: route_key.clone(),
        })?;
        let target = if uri.contains('{') {
            for (name, _) in &mappings.path {
                if !uri.contains(&format!("{{{name}}}")) {
                    return Err(invalid(format!(
                        "requestParameters maps integration.request.path.{name}, but the uri \
                         has no `{{{name}}}` placeholder"
                    )));
                }
            }
            AwsBackend::Templated {
                uri,
                config: config.clone(),
                client: ctx.client.clone(),
            }
        } else {
            let prepared = config
                .prepare(&target, ctx.client)
                .map_err(|e| invalid(e.to_string()))?;
            AwsBackend::Prepared(prepared)
        };
        let backend = Backend::Aws { target, method };
        Self::compile(route_key, integration, ctx, mappings, backend)
    }

    fn compile(
        route_key: String,
        integration: &Integration,
        ctx: &CompileContext<'_>,
        mappings: RequestMappings,
        backend: Backend,
    ) -> Result<Self, CompileError> {
        let invalid = |e: FieldError| CompileError::InvalidField {
            route: route_key.clone(),
            field: e.field,
            reason: e.reason,
        };
        let timeout = check_timeout(&route_key, integration, ctx)?;
        let responses = IntegrationResponses::compile(&integration.responses, ctx.stage_variables)
            .map_err(invalid)?;
        let templates = templates::compile_request_templates(&integration.request_templates)
            .map_err(invalid)?;
        Ok(Self {
            inner: Arc::new(Mapped {
                route: route_key.into(),
                backend,
                timeout,
                templates,
                passthrough: integration.passthrough_behavior,
                content_handling: integration.content_handling,
                mappings,
                responses,
                stage_variables: ctx.stage_variables.clone(),
                binary: BinaryMediaTypes::new(ctx.binary_media_types),
            }),
        })
    }
}

fn compile_mappings(
    route_key: &str,
    integration: &Integration,
    ctx: &CompileContext<'_>,
) -> Result<RequestMappings, CompileError> {
    RequestMappings::compile(
        &integration.request_parameters,
        ctx.stage_variables,
        Side::BufferedRequest,
    )
    .map_err(|e| CompileError::InvalidField {
        route: route_key.to_owned(),
        field: e.field,
        reason: e.reason,
    })
}

/// The function an AWS integration URI invokes, if it is a Lambda invocation URI.
/// Stage variables are substituted first.
pub(crate) fn lambda_function(
    uri: &str,
    variables: &StageVariables,
) -> Option<Result<FunctionRef, String>> {
    let template = StageTemplate::parse(uri);
    let function = FunctionRef::from_invocation_uri(&template.render(variables))?;
    Some(function.map_err(|reason| {
        if template.variables().next().is_some() {
            format!("{reason} (after substituting stage variables)")
        } else {
            reason
        }
    }))
}

impl Mapped {
    async fn respond(self: Arc<Self>, req: Request<Body>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let body = match body.collect_limited(MAX_PAYLOAD_BYTES).await {
            Ok(body) => body,
            Err(err) => return GatewayError::from_box_error(&err).into_response(),
        };
        let request_payload = Payload::new(&body);
        let values = RequestValues::from_parts(&parts).with_body(&request_payload);
        let context = parts.extensions.get::<RequestContext>();
        let mapped = match self.map_request(&parts, body.clone(), context) {
            Ok(mapped) => mapped,
            Err(err) => return err.into_response(),
        };
        let call = self.call_backend(&parts, &values, mapped, context);
        let backend = match tokio::time::timeout(self.timeout, call).await {
            Err(_elapsed) => return timed_out(&self.route, self.timeout),
            Ok(Err(response)) => return response,
            Ok(Ok(backend)) => backend,
        };
        self.method_response(&parts, &values, context, &backend)
    }

    /// Content handling, the request template or passthrough.
    fn map_request(
        &self,
        parts: &http::request::Parts,
        body: Bytes,
        context: Option<&RequestContext>,
    ) -> Result<MappedRequest, GatewayError> {
        let client_type = parts.headers.get(CONTENT_TYPE);
        let media = client_type
            .and_then(|v| v.to_str().ok())
            .map_or("application/json", media_type);
        let binary = self.binary.matches(media);
        let body = content::convert_request(body, self.content_handling, binary).map_err(|_| {
            GatewayError::new(GatewayResponseType::BadRequestBody).with_message(PAYLOAD_ERROR)
        })?;
        let templated = !binary || self.content_handling == Some(ContentHandling::ConvertToText);
        let template = templates::find(&self.templates, media);
        let template = match (template, self.passthrough) {
            (Some(template), _) if templated => Some(template),
            (Some(_), _) | (None, PassthroughBehavior::WhenNoMatch) => None,
            (None, PassthroughBehavior::WhenNoTemplates) if self.templates.is_empty() => None,
            (None, _) => {
                return Err(GatewayError::new(GatewayResponseType::UnsupportedMediaType));
            }
        };
        let Some(template) = template else {
            return Ok(MappedRequest {
                body,
                content_type: client_type.cloned(),
                overrides: RequestOverride::default(),
            });
        };
        let rendered = templates::render(
            &template.template,
            || templates::input_data(parts, String::from_utf8_lossy(&body).into_owned()),
            context,
            &self.stage_variables,
            &self.route,
        )?;
        Ok(MappedRequest {
            body: Bytes::from(rendered.body),
            content_type: Some(template.content_type.clone()),
            overrides: rendered.request_overrides,
        })
    }

    async fn call_backend(
        &self,
        parts: &http::request::Parts,
        values: &RequestValues<'_>,
        mapped: MappedRequest,
        context: Option<&RequestContext>,
    ) -> Result<BackendResponse, Response<Body>> {
        match &self.backend {
            Backend::Http {
                target,
                method,
                pool,
            } => {
                let (Target::Uri(template), Some(pool)) = (target, pool) else {
                    return Err(configuration_error(&self.route, "invalid endpoint address")
                        .into_response());
                };
                let request = self
                    .http_request(template, method.as_ref(), parts, values, mapped, context)
                    .map_err(GatewayError::into_response)?;
                let response = Arc::clone(pool)
                    .send(request)
                    .await
                    .map_err(|err| client_failure(&self.route, &err))?;
                let (head, body) = response.into_parts();
                let body = body
                    .collect_limited(MAX_PAYLOAD_BYTES)
                    .await
                    .map_err(|err| {
                        tracing::warn!(route = %self.route, error = %err,
                        "Execution failed: the integration response body could not be read");
                        GatewayError::new(GatewayResponseType::IntegrationFailure)
                            .with_status(http::StatusCode::BAD_GATEWAY)
                            .into_response()
                    })?;
                Ok(BackendResponse {
                    status: head.status.as_u16(),
                    selector: Some(head.status.as_str().to_owned()),
                    headers: head.headers,
                    body,
                })
            }
            Backend::Aws { target, method } => {
                self.call_aws(target, method.as_ref(), parts, values, mapped)
                    .await
            }
            Backend::Invalid(reason) => {
                Err(configuration_error(&self.route, reason).into_response())
            }
            Backend::Lambda { function, invoker } => {
                let invocation = Invocation {
                    function: function.clone(),
                    payload: mapped.body.into(),
                    trace_id: context
                        .and_then(|c| c.trace_id.as_ref())
                        .map(|t| t.as_str().to_owned()),
                };
                let output = invoker.invoke(invocation).await.map_err(|err| {
                    tracing::warn!(route = %self.route, function = %function, error = %err,
                        "Execution failed: the Lambda function could not be invoked");
                    GatewayError::new(GatewayResponseType::IntegrationFailure)
                        .with_status(http::StatusCode::INTERNAL_SERVER_ERROR)
                        .into_response()
                })?;
                let payload = output.payload.to_json().map_err(|err| {
                    tracing::warn!(route = %self.route, function = %function, error = %err,
                        "Execution failed: the function's result could not be written as JSON");
                    GatewayError::new(GatewayResponseType::IntegrationFailure)
                        .with_status(http::StatusCode::BAD_GATEWAY)
                        .into_response()
                })?;
                let selector = output
                    .function_error
                    .as_ref()
                    .map(|_| crate::lambda::error_message(&payload));
                let mut headers = HeaderMap::new();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Ok(BackendResponse {
                    status: 200,
                    headers,
                    body: payload,
                    selector,
                })
            }
        }
    }

    /// Builds, signs and sends an AWS service request, and buffers the answer.
    async fn call_aws(
        &self,
        target: &AwsBackend,
        method: Option<&Method>,
        parts: &http::request::Parts,
        values: &RequestValues<'_>,
        mapped: MappedRequest,
    ) -> Result<BackendResponse, Response<Body>> {
        let fail = |reason: String| configuration_error(&self.route, &reason).into_response();
        let templated;
        let prepared = match target {
            AwsBackend::Prepared(prepared) => prepared,
            AwsBackend::Templated {
                uri,
                config,
                client,
            } => {
                let uri = fill_placeholders(uri, |name| {
                    mapped
                        .overrides
                        .path
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .or_else(|| {
                            self.mappings
                                .path
                                .iter()
                                .find(|(n, _)| n == name)
                                .and_then(|(_, source)| source.resolve(values, None))
                                .map(std::borrow::Cow::into_owned)
                        })
                });
                let target = AwsTarget::parse(&uri).map_err(|e| fail(e.to_string()))?;
                templated = config
                    .prepare(&target, client)
                    .map_err(|e| fail(e.to_string()))?;
                &templated
            }
        };
        let mut request = ServiceRequest::new(
            method.cloned().unwrap_or_else(|| parts.method.clone()),
            mapped.body,
        );
        if let Some(content_type) = mapped.content_type {
            request.headers.insert(CONTENT_TYPE, content_type);
        }
        for (name, source) in &self.mappings.headers {
            if let Some(value) = source
                .resolve(values, None)
                .and_then(|v| HeaderValue::from_str(&v).ok())
            {
                request.headers.insert(name.clone(), value);
            }
        }
        for (name, value) in &mapped.overrides.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                request.headers.insert(name, value);
            }
        }
        for (name, source) in &self.mappings.query {
            if mapped.overrides.querystring.iter().any(|(n, _)| n == name) {
                continue;
            }
            if let Some(value) = source.resolve(values, None) {
                request.query.push((name.clone(), value.into_owned()));
            }
        }
        request
            .query
            .extend(mapped.overrides.querystring.iter().cloned());
        let request = prepared
            .signed_request(request)
            .await
            .map_err(|e| fail(format!("the AWS service request cannot be built: {e}")))?;
        let response = prepared.send(request).await.map_err(|err| {
            if err.is_connect() {
                fail(ErrorChain(&err).to_string())
            } else {
                tracing::warn!(route = %self.route, error = %ErrorChain(&err),
                    "Execution failed: the AWS service failed before its response head");
                GatewayError::new(GatewayResponseType::IntegrationFailure)
                    .with_status(http::StatusCode::BAD_GATEWAY)
                    .into_response()
            }
        })?;
        self.buffer(response).await
    }

    /// Buffers an HTTP answer for the integration response.
    async fn buffer(&self, response: Response<Body>) -> Result<BackendResponse, Response<Body>> {
        let (head, body) = response.into_parts();
        let body = body
            .collect_limited(MAX_PAYLOAD_BYTES)
            .await
            .map_err(|err| {
                tracing::warn!(route = %self.route, error = %err,
                "Execution failed: the integration response body could not be read");
                GatewayError::new(GatewayResponseType::IntegrationFailure)
                    .with_status(http::StatusCode::BAD_GATEWAY)
                    .into_response()
            })?;
        Ok(BackendResponse {
            status: head.status.as_u16(),
            selector: Some(head.status.as_str().to_owned()),
            headers: head.headers,
            body,
        })
    }

    /// The request to an HTTP backend.
    fn http_request(
        &self,
        template: &UriTemplate,
        method: Option<&Method>,
        parts: &http::request::Parts,
        values: &RequestValues<'_>,
        mapped: MappedRequest,
        context: Option<&RequestContext>,
    ) -> Result<Request<Body>, GatewayError> {
        let overrides = &mapped.overrides;
        let path_value = |name: &str| {
            overrides
                .path
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| std::borrow::Cow::Borrowed(v.as_str()))
                .or_else(|| {
                    self.mappings
                        .path
                        .iter()
                        .find(|(n, _)| n == name)
                        .and_then(|(_, source)| source.resolve(values, None))
                })
        };
        let mut query: Vec<(&str, std::borrow::Cow<'_, str>)> = self
            .mappings
            .query
            .iter()
            .filter(|(name, _)| !overrides.querystring.iter().any(|(n, _)| n == name))
            .filter_map(|(name, source)| Some((name.as_str(), source.resolve(values, None)?)))
            .collect();
        query.extend(
            overrides
                .querystring
                .iter()
                .map(|(n, v)| (n.as_str(), std::borrow::Cow::Borrowed(v.as_str()))),
        );
        let uri = template.build(path_value, None, &query).map_err(|e| {
            configuration_error(&self.route, &format!("invalid endpoint address: {e}"))
        })?;

        let mut headers = HeaderMap::new();
        headers.insert(HOST, template.host().clone());
        if let Some(content_type) = mapped.content_type {
            headers.insert(CONTENT_TYPE, content_type);
        }
        if let Some(context) = context {
            if let Ok(agent) =
                HeaderValue::from_str(&format!("AmazonAPIGateway_{}", context.api_id))
            {
                headers.insert(USER_AGENT, agent);
            }
            if let Some(trace) = &context.trace_id
                && let Ok(value) = HeaderValue::from_str(trace.as_str())
            {
                headers.insert(X_AMZN_TRACE_ID, value);
            }
        }
        for (name, source) in &self.mappings.headers {
            if let Some(value) = source
                .resolve(values, None)
                .and_then(|v| HeaderValue::from_str(&v).ok())
            {
                headers.insert(name.clone(), value);
            }
        }
        for (name, value) in &overrides.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(name, value);
            }
        }

        let mut request = Request::new(Body::full(mapped.body));
        *request.method_mut() = method.cloned().unwrap_or_else(|| parts.method.clone());
        *request.uri_mut() = uri;
        *request.version_mut() = Version::HTTP_11;
        *request.headers_mut() = headers;
        Ok(request)
    }

    /// Selects the integration response and builds the method response.
    fn method_response(
        &self,
        parts: &http::request::Parts,
        values: &RequestValues<'_>,
        context: Option<&RequestContext>,
        backend: &BackendResponse,
    ) -> Response<Body> {
        let selected = match &backend.selector {
            Some(selector) => self.responses.select(selector),
            None => self.responses.default_response(),
        };
        let Some(selected) = selected else {
            return configuration_error(
                &self.route,
                &format!(
                    "no integration response matches `{}` and there is no default response",
                    backend.selector.as_deref().unwrap_or("")
                ),
            )
            .into_response();
        };
        let accept = parts.headers.get(ACCEPT).and_then(|v| v.to_str().ok());
        let response_binary = backend
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| self.binary.matches(t));
        let accept_binary = accept.is_some_and(|a| self.binary.matches_accept(a));
        let handling = selected.content_handling();
        let payload = match content::convert_response(
            backend.body.clone(),
            handling,
            &self.binary,
            response_binary,
            accept_binary,
        ) {
            Ok(payload) => payload,
            Err(_) => {
                return configuration_error(
                    &self.route,
                    "the integration response is not base64, so it cannot be converted to binary",
                )
                .into_response();
            }
        };
        let text = match handling {
            Some(ContentHandling::ConvertToText) => true,
            Some(ContentHandling::ConvertToBinary) => false,
            None => self.binary.is_empty() || !accept_binary,
        };
        let body = match selected.template(accept).filter(|_| text) {
            Some(template) => match templates::render(
                template.template(),
                || templates::input_data(parts, String::from_utf8_lossy(&payload).into_owned()),
                context,
                &self.stage_variables,
                &self.route,
            ) {
                Ok(rendered) => MethodBody::Rendered(template.content_type().clone(), rendered),
                Err(err) => return err.into_response(),
            },
            None => MethodBody::Passthrough(payload),
        };
        let integration_payload = Payload::new(&backend.body);
        let integration = IntegrationValues {
            headers: &backend.headers,
            body: Some(&integration_payload),
        };
        let mut response = selected.method_response(values, Some(&integration), body);
        response
            .extensions_mut()
            .insert(IntegrationStatus(backend.status));
        response
    }
}

/// Fills `{name}` placeholders of an AWS `path/` URI; a placeholder without a
/// value is left empty.
fn fill_placeholders(uri: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + end];
        let greedy = name.ends_with('+');
        let value = value(name.trim_end_matches('+')).unwrap_or_default();
        let set = if greedy { GREEDY_PATH } else { PATH_SEGMENT };
        out.extend(percent_encoding::utf8_percent_encode(&value, set));
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// Bytes encoded in a path segment value.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A greedy value keeps its `/`.
const GREEDY_PATH: &percent_encoding::AsciiSet = &PATH_SEGMENT.remove(b'/');

impl Service<Request<Body>> for MappedIntegration {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        ResponseFuture::new(Arc::clone(&self.inner).respond(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_invocation_uris_name_their_function() {
        let mut variables = StageVariables::new();
        variables.insert("alias", "live").unwrap();
        let uri = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/\
                   arn:aws:lambda:us-east-1:123456789012:function:orders:${stageVariables.alias}/invocations";
        let function = lambda_function(uri, &variables).unwrap().unwrap();
        assert_eq!(function.name(), "orders");
        assert_eq!(function.qualifier(), Some("live"));
        assert!(lambda_function("arn:aws:apigateway:us-east-1:sqs:path/1/q", &variables).is_none());
        assert!(
            lambda_function("arn:aws:apigateway:us-east-1:lambda:path/other", &variables)
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn aws_path_placeholders_are_filled_and_encoded() {
        let filled = fill_placeholders(
            "arn:aws:apigateway:us-east-1:s3:path/{bucket}/{key+}",
            |name| match name {
                "bucket" => Some("my bucket".to_owned()),
                "key" => Some("a/b c.txt".to_owned()),
                _ => None,
            },
        );
        assert_eq!(
            filled,
            "arn:aws:apigateway:us-east-1:s3:path/my%20bucket/a/b%20c.txt"
        );
        assert_eq!(fill_placeholders("path/{x}/y", |_| None), "path//y");
    }

    #[test]
    fn lambda_errors_select_by_their_message() {
        let message = crate::lambda::error_message;
        assert_eq!(
            message(br#"{"errorMessage":"Not found: 7","errorType":"Error"}"#),
            "Not found: 7"
        );
        assert_eq!(message(b"boom"), "boom");
    }
}
