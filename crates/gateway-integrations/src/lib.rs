//! API Gateway integrations, compiled into tower services.
//!
//! A route's [`Integration`](gateway_core::model::Integration) is compiled once per
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
//! - **HTTP_PROXY**: the request is streamed to an `http://` backend through a pooled
//!   [`HttpClient`] and the backend's response is streamed back unchanged, apart from
//!   hop-by-hop headers.
//!
//! HTTP, AWS and AWS_PROXY integrations are refused with [`CompileError::Unsupported`]
//! until their crates exist, and so are `https://` backends
//! ([`CompileError::TlsUnsupported`]).
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
//!
//! The service's `Err` is reserved for infrastructure failures; today none is produced.
//!
//! # Example
//!
//! ```
//! use gateway_core::model::{ApiProtocol, Integration, Route, RouteMethod};
//! use gateway_core::stage::StageVariables;
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

mod http_proxy;
mod mapping;
mod mock;
mod response;
mod templates;

use std::time::Duration;

use gateway_core::body::{Body, BoxError};
use gateway_core::lambda::SharedInvoker;
use gateway_core::model::{ApiProtocol, IntegrationType, MIN_INTEGRATION_TIMEOUT, Route};
use gateway_core::stage::StageVariables;

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
        }
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
    /// An `https://` backend: TLS to backends is not built into this crate yet.
    #[error(
        "{route}: integration uri `{uri}` is https, but TLS to backends is not supported \
         by gateway-integrations yet; use an http:// backend"
    )]
    TlsUnsupported {
        /// The route key.
        route: String,
        /// The URI after stage-variable substitution.
        uri: String,
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
    match integration.kind {
        IntegrationType::Mock => {
            let service = mock::MockIntegration::compile(route, integration, ctx)?;
            Ok(IntegrationService::new(service))
        }
        IntegrationType::HttpProxy => {
            let service = http_proxy::HttpProxyIntegration::compile(route, integration, ctx)?;
            Ok(IntegrationService::new(service))
        }
        kind @ (IntegrationType::Http | IntegrationType::Aws | IntegrationType::AwsProxy) => {
            Err(CompileError::Unsupported {
                route: route_key,
                kind,
            })
        }
    }
}
