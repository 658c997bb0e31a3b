//! API Gateway integrations, compiled into tower services.
//!
//! A route's [`Integration`] is compiled once per
//! stage by [`compile`] into an [`IntegrationService`]: URI templates have their stage
//! variables substituted, selection patterns are compiled into anchored regexes,
//! mapping expressions and header names are parsed. Per request, the service only
//! fills in values.
//!
//! Supported integration types:
//!
//! - **MOCK**: the gateway answers by itself. The request template chosen by the
//!   request's `Content-Type` gives the status (`{"statusCode": 200}`), an integration
//!   response is selected by matching its selection pattern against that status, and
//!   its template chosen by `Accept` becomes the body. See the `mock` module's source
//!   documentation for the exact rules.
//! - **HTTP_PROXY**: the request is streamed to an `http://` or `https://` backend
//!   through a pooled [`HttpClient`] and the backend's response is streamed back
//!   unchanged, apart from hop-by-hop headers. On HTTP APIs, the integration's
//!   parameter mapping (`overwrite:header.x`, `append:querystring.y`,
//!   `overwrite:path`, and `responseParameters` by status code) changes the request
//!   and the response; see the `http_api_params` module's source documentation.
//! - **AWS_PROXY**: the request becomes a Lambda proxy event (payload format 1.0 for
//!   REST APIs, 2.0 by default for HTTP APIs), the function named by the
//!   integration URI is invoked through the context's
//!   [`LambdaInvoker`](gateway_core::lambda::LambdaInvoker), and its result becomes
//!   the response. [`lambda::InProcessFunction`] runs a tower service (a handler
//!   written for the Lambda runtime) as a function; [`lambda::Functions`] names
//!   them. See the [`lambda`] module for the event and response rules.
//! - **AWS_PROXY with an `integrationSubtype`** (HTTP APIs): the route calls an AWS
//!   service action directly (`SQS-SendMessage`, `StepFunctions-StartExecution`,
//!   `EventBridge-PutEvents`, `Kinesis-PutRecord`, ...). Its `requestParameters`
//!   name the action's parameters, valued with HTTP APIs' parameter syntax
//!   (`"MessageBody": "$request.body.message"`); each request evaluates them, the
//!   service request is built in the service's own protocol (see
//!   [`aws::subtype`]), signed as the integration's role, and the service's status,
//!   body and content type are the response, `responseParameters` applied. Unknown
//!   subtypes or parameter names, missing required parameters, and subtypes on REST
//!   APIs do not compile; a required parameter the request cannot supply answers 400.
//!
//! - **HTTP** and **AWS**: mapped integrations. The request body is converted by
//!   content handling, rendered by the request template chosen by `Content-Type`
//!   (or passed through, as the passthrough behaviour allows), and sent with the
//!   mapped path, query and header parameters to an HTTP backend, a Lambda function
//!   (the template's output is the payload) or an AWS service action or path
//!   (SigV4-signed). The answer selects an integration response (by status, or by a
//!   Lambda `errorMessage`), whose template, header mappings and content handling
//!   build the method response. See the `non_proxy` module's source documentation.
//!
//! The [`aws`] module calls AWS: credentials, SigV4 signing, a remote Lambda invoker
//! and signed requests to AWS service APIs (the building blocks of AWS integrations).
//!
//! # Integration credentials
//!
//! An AWS or AWS_PROXY integration whose `credentials` is an IAM role ARN
//! (`arn:aws:iam::123456789012:role/name`, stage variables substituted) is called
//! as that role, as on AWS: the gateway assumes the role through STS `AssumeRole`
//! with its own credentials (the context's [`aws::AwsConfig`]) and signs the AWS
//! service request, or the Lambda Invoke API request of a remote function, with the
//! role's temporary credentials, cached until shortly before they expire (see the
//! [`aws::assume_role`] module). Functions that run in process are not signed, so
//! their role is never assumed. A role that cannot be assumed answers 500
//! `{"message": "Internal server error"}`, the STS error in the log.
//!
//! `arn:aws:iam::*:user/*` (AWS's "call with the caller's credentials") cannot be
//! honoured, since a gateway never holds the caller's secret key: such a route does
//! not compile ([`CompileError::Credentials`]), nor does one
//! whose `credentials` is anything else that is not a role ARN. An empty value is no
//! credentials. Other integration types ignore the field, as AWS does.
//!
//! `https://` backends and AWS endpoints are reached over TLS, checked against the
//! trust store of the [`HttpClient`] (the system's unless
//! [`HttpClient::with_tls`] sets one); an integration's `tlsConfig` can skip the
//! authority check (`insecureSkipVerification`) or name the host to verify
//! (`serverNameToVerify`).
//!
//! # Errors
//!
//! Gateway decisions are answered as `Ok` responses built by
//! [`GatewayError::into_response`](gateway_core::GatewayError::into_response), so that
//! an outer [`GatewayResponseLayer`](gateway_core::GatewayResponseLayer) can customise
//! them:
//!
//! | situation | gateway response |
//! |---|---|
//! | no integration response matches and none is `default` | 500 `API_CONFIGURATION_ERROR` |
//! | MOCK request template is not JSON, or its `statusCode` is not a status | 500 `API_CONFIGURATION_ERROR` |
//! | MOCK request `Content-Type` has no template under `NEVER` / `WHEN_NO_TEMPLATES` | 415 `UNSUPPORTED_MEDIA_TYPE` |
//! | backend URI invalid, or backend unreachable (refused, DNS) | 500 `API_CONFIGURATION_ERROR` |
//! | no response head within the integration timeout | 504 `INTEGRATION_TIMEOUT` |
//! | backend connection fails after it was made (reset, malformed head) | 502 `INTEGRATION_FAILURE` |
//! | request body over the limit the caller set with `Body::limited` | 413 `REQUEST_TOO_LARGE` |
//! | AWS_PROXY: the function's result is not a proxy response | 502 `API_CONFIGURATION_ERROR` (HTTP APIs: 500) |
//! | AWS_PROXY: the function failed | 502 `INTEGRATION_FAILURE` (HTTP APIs: 500) |
//! | AWS_PROXY: Lambda refused or could not take the invocation | 500 `API_CONFIGURATION_ERROR` |
//! | AWS service: the integration's role cannot be assumed | 500 `API_CONFIGURATION_ERROR` |
//! | HTTP API AWS service integration: a required parameter finds no value, or `Region` is no region | 400 `BAD_REQUEST_PARAMETERS` (`{"message":"Bad Request"}`) |
//! | HTTP API AWS service integration: role not assumed, endpoint unreachable, service failed before answering | 500 `{"message":"Internal Server Error"}` |
//! | AWS_PROXY through the Invoke API: the role cannot be assumed | 500 `API_CONFIGURATION_ERROR` |
//! | AWS Lambda (non-proxy) through the Invoke API: the role cannot be assumed | 500 `INTEGRATION_FAILURE` |
//!
//! The service's `Err` is reserved for infrastructure failures; today none is produced.
//!
//! # Example
//!
//! ```
//! use gateway_core::model::{ApiProtocol, Integration, Route, RouteMethod};
//! use gateway_core::stage::{StageTemplate, StageVariables};
//! use gateway_integrations::{compile, CompileContext, HttpClient};
//!
//! let route = Route::new(RouteMethod::Method(http::Method::GET), "/health")
//!     .with_integration(Integration::mock(200, r#"{"ok":true}"#));
//! let variables = StageVariables::new();
//! let client = HttpClient::new();
//! let ctx = CompileContext::new(&variables, &client, ApiProtocol::Rest);
//! let service = compile(&route, &ctx).expect("a MOCK integration compiles");
//! # drop(service);
//! ```

pub mod aws;
mod content;
mod future;
mod http_api_params;
mod http_proxy;
pub mod lambda;
mod mapping;
mod mock;
mod non_proxy;
mod response;
mod service_integration;
mod templates;

use std::sync::Arc;
use std::time::Duration;

use gateway_core::body::{Body, BoxError};
use gateway_core::lambda::SharedInvoker;
use gateway_core::model::{
    ApiProtocol, Integration, IntegrationType, MIN_INTEGRATION_TIMEOUT, Route,
};
use gateway_core::stage::{StageTemplate, StageVariables};

pub use http_proxy::HttpClient;

/// The service an integration compiles to.
///
/// Its errors are infrastructure failures only; gateway decisions (a timeout, an
/// unreachable backend, a missing integration response) are `Ok` responses built by
/// [`GatewayError::into_response`](gateway_core::GatewayError::into_response).
pub type IntegrationService =
    tower::util::BoxCloneSyncService<http::Request<Body>, http::Response<Body>, BoxError>;

/// What a route's integration is compiled with, per stage.
///
/// The stage's variables are final here (a canary compiles with its merged view), so
/// `${stageVariables.NAME}` references are substituted once, at compile time.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct CompileContext<'a> {
    /// The stage's variables.
    pub stage_variables: &'a StageVariables,
    /// The pooled client every HTTP backend of the gateway shares.
    pub client: &'a HttpClient,
    /// The kind of API the route belongs to (HTTP APIs allow 30 s timeouts).
    pub protocol: ApiProtocol,
    /// Invokes the Lambda functions of AWS_PROXY and Lambda AWS integrations; without
    /// one, such routes do not compile.
    pub invoker: Option<&'a SharedInvoker>,
    /// The API's binary media types (`x-amazon-apigateway-binary-media-types`).
    pub binary_media_types: &'a [String],
    /// Region, credentials and endpoints for AWS service integrations; without
    /// them, such routes do not compile.
    pub aws: Option<&'a aws::AwsConfig>,
}

impl<'a> CompileContext<'a> {
    /// A context with no Lambda invoker and no binary media types.
    #[must_use]
    pub fn new(
        stage_variables: &'a StageVariables,
        client: &'a HttpClient,
        protocol: ApiProtocol,
    ) -> Self {
        Self {
            stage_variables,
            client,
            protocol,
            invoker: None,
            binary_media_types: &[],
            aws: None,
        }
    }

    /// Sets the AWS configuration for AWS service integrations.
    #[must_use]
    pub fn with_aws(mut self, aws: &'a aws::AwsConfig) -> Self {
        self.aws = Some(aws);
        self
    }

    /// Sets the Lambda invoker.
    #[must_use]
    pub fn with_invoker(mut self, invoker: &'a SharedInvoker) -> Self {
        self.invoker = Some(invoker);
        self
    }

    /// Sets the API's binary media types.
    #[must_use]
    pub fn with_binary_media_types(mut self, types: &'a [String]) -> Self {
        self.binary_media_types = types;
        self
    }
}

/// The integration's status, put in the response's extensions for access logs
/// (`$context.integrationStatus`, `$context.integration.status`).
///
/// HTTP_PROXY sets the backend's status; MOCK sets the status its request template
/// produced. Gateway responses (timeouts, unreachable backends) carry none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntegrationStatus(pub u16);

/// A route whose integration cannot be compiled.
///
/// Every variant names the route (`GET /pets/{petId}`) and, where it applies, the
/// field of `x-amazon-apigateway-integration` that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// The route has no integration.
    #[error("{route}: the route has no integration")]
    MissingIntegration {
        /// The route key.
        route: String,
    },
    /// An integration type this crate does not implement yet.
    #[error("{route}: {} integrations are not supported yet", .kind.as_str())]
    Unsupported {
        /// The route key.
        route: String,
        /// The integration's type.
        kind: IntegrationType,
    },
    /// A field the integration type requires is absent.
    #[error("{route}: integration field `{field}` is required for {} integrations", .kind.as_str())]
    MissingField {
        /// The route key.
        route: String,
        /// The integration's type.
        kind: IntegrationType,
        /// The missing field (`uri`, `httpMethod`).
        field: &'static str,
    },
    /// A timeout outside AWS's range.
    #[error(
        "{route}: integration timeout {} ms is outside AWS's range of {} ms to {} ms",
        .timeout.as_millis(),
        MIN_INTEGRATION_TIMEOUT.as_millis(),
        .max.as_millis()
    )]
    InvalidTimeout {
        /// The route key.
        route: String,
        /// The configured timeout.
        timeout: Duration,
        /// The longest timeout the API's kind accepts.
        max: Duration,
    },
    /// A Lambda integration, but the gateway was given no Lambda invoker.
    #[error(
        "{route}: the integration invokes a Lambda function, but no Lambda invoker is configured"
    )]
    NoInvoker {
        /// The route key.
        route: String,
    },
    /// An AWS service integration, but the gateway was given no AWS configuration.
    #[error("{route}: the integration calls an AWS service, but no AWS configuration is given")]
    NoAwsConfig {
        /// The route key.
        route: String,
    },
    /// The integration's `credentials` name no role the gateway can sign as: not a
    /// role ARN (AWS's caller-credentials form `arn:aws:iam::*:user/*` among them),
    /// or a role that cannot be set up for assumption.
    #[error("{route}: integration field `credentials`: {reason}")]
    Credentials {
        /// The route key.
        route: String,
        /// What is wrong.
        reason: String,
    },
    /// A field whose value is invalid.
    #[error("{route}: integration field `{field}`: {reason}")]
    InvalidField {
        /// The route key.
        route: String,
        /// The field, as a path into `x-amazon-apigateway-integration`
        /// (`responses.default.statusCode`, `requestParameters.integration.request.header.X`).
        field: String,
        /// What is wrong.
        reason: String,
    },
}

/// Compiles a route's integration for one stage.
///
/// Everything that does not depend on the request is done here: stage variables are
/// substituted, URIs parsed, selection patterns compiled, mapping expressions and
/// header names parsed. A stage compiles each route once and clones the service per
/// connection (cloning is an `Arc` clone).
pub fn compile(
    route: &Route,
    ctx: &CompileContext<'_>,
) -> Result<IntegrationService, CompileError> {
    let route_key = route.route_key();
    let integration =
        route
            .integration
            .as_ref()
            .ok_or_else(|| CompileError::MissingIntegration {
                route: route_key.clone(),
            })?;

    // An AWS or AWS_PROXY integration with a role is compiled with a context that
    // signs as the role: its AWS configuration assumes it, and its Lambda invoker
    // names it to a remote invoker.
    let role = match integration.kind {
        IntegrationType::Aws | IntegrationType::AwsProxy => {
            integration_role(&route_key, integration, ctx.stage_variables)?
        }
        _ => None,
    };
    let role_invoker: Option<SharedInvoker> = match (&role, ctx.invoker) {
        (Some(role), Some(inner)) => Some(Arc::new(aws::InvokeAsRole::new(
            Arc::clone(inner),
            role.clone(),
        ))),
        _ => None,
    };
    let role_aws =
        match (&role, ctx.aws) {
            (Some(role), Some(config)) => {
                Some(config.assume_role(role, ctx.client).map_err(|e| {
                    CompileError::Credentials {
                        route: route_key.clone(),
                        reason: e.to_string(),
                    }
                })?)
            }
            _ => None,
        };
    let mut role_ctx = *ctx;
    if role.is_some() {
        role_ctx.invoker = role_invoker.as_ref();
        role_ctx.aws = role_aws.as_ref();
    }
    let ctx = &role_ctx;

    if let Some(subtype) = integration.subtype.as_deref() {
        let service =
            service_integration::ServiceIntegration::compile(route, integration, subtype, ctx)?;
        return Ok(IntegrationService::new(service));
    }

    match integration.kind {
        IntegrationType::Mock => {
            let service = mock::MockIntegration::compile(route, integration, ctx)?;
            Ok(IntegrationService::new(service))
        }
        IntegrationType::HttpProxy => {
            let service = http_proxy::HttpProxyIntegration::compile(route, integration, ctx)?;
            Ok(IntegrationService::new(service))
        }
        IntegrationType::Http => {
            let service = non_proxy::MappedIntegration::compile_http(route, integration, ctx)?;
            Ok(IntegrationService::new(service))
        }
        IntegrationType::Aws => {
            let uri = integration
                .uri
                .as_deref()
                .ok_or_else(|| CompileError::MissingField {
                    route: route_key.clone(),
                    kind: IntegrationType::Aws,
                    field: "uri",
                })?;
            let from_variables = StageTemplate::parse(uri).variables().next().is_some();
            match non_proxy::lambda_function(uri, ctx.stage_variables) {
                Some(Ok(function)) => {
                    let service = non_proxy::MappedIntegration::compile_lambda(
                        route,
                        integration,
                        ctx,
                        Ok(function),
                    )?;
                    Ok(IntegrationService::new(service))
                }
                // Only a stage variable's value is wrong: the route answers 500.
                Some(Err(reason)) if from_variables => {
                    let service = non_proxy::MappedIntegration::compile_lambda(
                        route,
                        integration,
                        ctx,
                        Err(reason),
                    )?;
                    Ok(IntegrationService::new(service))
                }
                Some(Err(reason)) => Err(CompileError::InvalidField {
                    route: route_key,
                    field: "uri".to_owned(),
                    reason,
                }),
                None => {
                    let service =
                        non_proxy::MappedIntegration::compile_aws_service(route, integration, ctx)?;
                    Ok(IntegrationService::new(service))
                }
            }
        }
        IntegrationType::AwsProxy => {
            let service = lambda::LambdaProxyIntegration::compile(route, integration, ctx)?;
            Ok(IntegrationService::new(service))
        }
    }
}

/// The role an integration's `credentials` names, stage variables substituted;
/// `None` when it has none (or an empty value).
fn integration_role(
    route_key: &str,
    integration: &Integration,
    variables: &StageVariables,
) -> Result<Option<aws::RoleArn>, CompileError> {
    let Some(raw) = integration.credentials.as_deref() else {
        return Ok(None);
    };
    let template = StageTemplate::parse(raw);
    let value = template.render(variables);
    if value.trim().is_empty() {
        return Ok(None);
    }
    aws::RoleArn::parse(&value)
        .map(Some)
        .map_err(|e| CompileError::Credentials {
            route: route_key.to_owned(),
            reason: if template.variables().next().is_some() {
                format!("{e} (after substituting stage variables)")
            } else {
                e.to_string()
            },
        })
}
