//! HTTP APIs' AWS service integrations: an `AWS_PROXY` integration with an
//! `integrationSubtype` calls an AWS service action directly (see the
//! [`subtype`](crate::aws::subtype) module for the actions and their requests).
//!
//! # Compiling
//!
//! The route must belong to an HTTP API, and its integration be `AWS_PROXY` with
//! payload format `1.0` (the default here). Every `requestParameters` key must be a
//! parameter of the subtype (or `Region`), every required parameter must be set,
//! and every value must parse in HTTP APIs' value syntax (the `http_api_params`
//! module's: `$request.header.NAME`, `$request.querystring.NAME`,
//! `$request.body[.PATH]`, `$request.path[.NAME]`, `$context.NAME`,
//! `$stageVariables.NAME`, static text, or `${...}` mixed with text). Otherwise
//! the route does not compile, the error naming the field
//! (`integrationSubtype`, `requestParameters.QueueUrl`). An AWS configuration is
//! required ([`CompileError::NoAwsConfig`]); `credentials` names the role the
//! action is called as, assumed through STS as for other AWS integrations.
//!
//! # Per request
//!
//! Each parameter is evaluated against the request as the client sent it (its
//! body buffered when a value reads it). A required parameter whose value finds
//! nothing answers `400 {"message":"Bad Request"}` without calling the service, as
//! HTTP APIs' parameter mapping does; an optional one is left out of the call. The
//! call goes to the region `Region` names (an AWS region name, else 400), or the
//! configuration's region, signed as the integration's role (or with the gateway's
//! own credentials).
//!
//! The service's answer is the response: its status, its body and its
//! `Content-Type` (and AppConfig's `Configuration-Version`), errors included, so a
//! client sees SQS's, Step Functions' or EventBridge's own error. Then
//! `responseParameters` apply by that status, as on the other HTTP API routes.
//!
//! | situation | response |
//! |---|---|
//! | a required parameter finds no value, `Region` is no region name, attributes are not attributes | 400 `{"message":"Bad Request"}` |
//! | no response head within the integration timeout | 504 `INTEGRATION_TIMEOUT` |
//! | the role cannot be assumed, the endpoint is unreachable, the request cannot be signed | 500 `{"message":"Internal Server Error"}` (`API_CONFIGURATION_ERROR`) |
//! | the service fails after the connection was made | 500 `{"message":"Internal Server Error"}` (`INTEGRATION_FAILURE`) |

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gateway_core::body::{Body, BoxError};
use gateway_core::context::RequestContext;
use gateway_core::error::{GatewayError, GatewayResponseType};
use gateway_core::model::{
    ApiProtocol, Integration, IntegrationType, MIN_INTEGRATION_TIMEOUT, Route,
};
use http::header::CONTENT_TYPE;
use http::{HeaderName, Request, Response, StatusCode};
use tower::Service;

use crate::aws::subtype::{Argument, Arguments, REGION, Subtype};
use crate::aws::{AwsConfig, AwsTarget, PreparedTarget, ServiceError};
use crate::future::ResponseFuture;
use crate::http_api_params::{RequestValue, RequestValues, ResponseMapping, bad_request};
use crate::http_proxy::{ErrorChain, timed_out};
use crate::{CompileContext, CompileError, HttpClient, IntegrationStatus};

/// The most of a service's answer buffered for response parameters that read it.
const MAPPED_RESPONSE_LIMIT: usize = 10 * 1024 * 1024;

/// Response headers of the service passed on besides `Content-Type`.
const KEPT_HEADERS: [&str; 1] = ["configuration-version"];

/// The service an HTTP API AWS service integration compiles to.
#[derive(Debug, Clone)]
pub(crate) struct ServiceIntegration {
    inner: Arc<Inner>,
}

struct Inner {
    route: Arc<str>,
    subtype: Subtype,
    /// The action's parameters that are set: canonical name, value, required.
    parameters: Vec<(&'static str, RequestValue, bool)>,
    region: Region,
    reads_body: bool,
    timeout: Duration,
    http_response: ResponseMapping,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceIntegration")
            .field("route", &self.route)
            .field("subtype", &self.subtype)
            .field("region", &self.region)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Where the call goes.
enum Region {
    /// One region for every request: the target prepared once.
    Fixed(PreparedTarget),
    /// A region read from each request.
    PerRequest {
        value: RequestValue,
        config: AwsConfig,
        client: HttpClient,
    },
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(target) => f.debug_tuple("Fixed").field(target).finish(),
            Self::PerRequest { value, .. } => f.debug_tuple("PerRequest").field(value).finish(),
        }
    }
}

impl ServiceIntegration {
    /// Compiles an AWS_PROXY integration with an `integrationSubtype`.
    pub(crate) fn compile(
        route: &Route,
        integration: &Integration,
        subtype_name: &str,
        ctx: &CompileContext<'_>,
    ) -> Result<Self, CompileError> {
        let route_key = route.route_key();
        let invalid = |field: &str, reason: String| CompileError::InvalidField {
            route: route_key.clone(),
            field: field.to_owned(),
            reason,
        };
        if ctx.protocol != ApiProtocol::Http {
            return Err(invalid(
                "integrationSubtype",
                "AWS service integrations (integrationSubtype) belong to HTTP APIs; REST \
                 APIs call AWS services through AWS integrations"
                    .to_owned(),
            ));
        }
        if integration.kind != IntegrationType::AwsProxy {
            return Err(invalid(
                "integrationSubtype",
                format!(
                    "an integration with a subtype must be of type AWS_PROXY, not {}",
                    integration.kind.as_str()
                ),
            ));
        }
        let subtype = Subtype::parse(subtype_name).map_err(|e| invalid("integrationSubtype", e))?;
        if let Some(version) = integration.payload_format_version.as_deref()
            && version.trim() != "1.0"
        {
            return Err(invalid(
                "payloadFormatVersion",
                format!("AWS service integrations take payload format 1.0, not `{version}`"),
            ));
        }
        let timeout = integration.timeout;
        let max = ctx.protocol.max_integration_timeout();
        if !(MIN_INTEGRATION_TIMEOUT..=max).contains(&timeout) {
            return Err(CompileError::InvalidTimeout {
                route: route_key,
                timeout,
                max,
            });
        }

        let mut parameters = Vec::new();
        let mut region = None;
        for (name, text) in &integration.request_parameters {
            let field = format!("requestParameters.{name}");
            let parameter = subtype.parameter(name).ok_or_else(|| {
                let names: Vec<&str> = subtype
                    .parameters()
                    .iter()
                    .chain([&REGION])
                    .map(|p| p.name)
                    .collect();
                invalid(
                    &field,
                    format!(
                        "{subtype} takes no parameter `{name}` (it takes {})",
                        names.join(", ")
                    ),
                )
            })?;
            let value = RequestValue::compile(text, ctx.stage_variables, &route.path)
                .map_err(|e| invalid(&field, e))?;
            if parameter == REGION {
                region = Some(value);
            } else if parameters.iter().any(|(n, _, _)| *n == parameter.name) {
                return Err(invalid(
                    &field,
                    format!("`{}` is set twice", parameter.name),
                ));
            } else {
                parameters.push((parameter.name, value, parameter.required));
            }
        }
        for parameter in subtype.parameters() {
            if parameter.required && !parameters.iter().any(|(n, _, _)| *n == parameter.name) {
                return Err(invalid(
                    &format!("requestParameters.{}", parameter.name),
                    format!("{subtype} requires the parameter `{}`", parameter.name),
                ));
            }
        }

        let config = ctx.aws.ok_or_else(|| CompileError::NoAwsConfig {
            route: route_key.clone(),
        })?;
        let reads_body = parameters.iter().any(|(_, v, _)| v.reads_body())
            || region.as_ref().is_some_and(RequestValue::reads_body);
        let region = match region {
            None => Region::Fixed(
                prepare(subtype, config, config.region(), ctx.client)
                    .map_err(|e| invalid("integrationSubtype", e))?,
            ),
            Some(value) => match value.as_static() {
                Some(name) => {
                    if !is_region(&name) {
                        return Err(invalid(
                            "requestParameters.Region",
                            format!("`{name}` is not an AWS region name (us-east-1)"),
                        ));
                    }
                    Region::Fixed(
                        prepare(subtype, config, &name, ctx.client)
                            .map_err(|e| invalid("requestParameters.Region", e))?,
                    )
                }
                None => Region::PerRequest {
                    value,
                    config: config.clone(),
                    client: ctx.client.clone(),
                },
            },
        };
        let http_response =
            ResponseMapping::compile(&integration.http_response_parameters, ctx.stage_variables)
                .map_err(|e| invalid(&e.field, e.reason))?;
        Ok(Self {
            inner: Arc::new(Inner {
                route: route_key.into(),
                subtype,
                parameters,
                region,
                reads_body,
                timeout,
                http_response,
            }),
        })
    }
}

/// The subtype's target in `region`, bound to its endpoint and signer.
fn prepare(
    subtype: Subtype,
    config: &AwsConfig,
    region: &str,
    client: &HttpClient,
) -> Result<PreparedTarget, String> {
    let target = AwsTarget::parse(&subtype.target_uri(partition_of(region), region))
        .map_err(|e| e.to_string())?;
    config
        .prepare(&target, client)
        .map_err(|e: ServiceError| e.to_string())
}

/// The partition a region belongs to.
fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Whether `name` has the shape of an AWS region name: lower-case words and a
/// number, joined by `-` (`us-east-1`, `us-gov-west-1`, `eu-central-2`).
fn is_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    name.len() <= 32
        && words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.len() <= 2
        && number.bytes().all(|b| b.is_ascii_digit())
}

impl Inner {
    async fn respond(self: Arc<Self>, req: Request<Body>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let body = if self.reads_body {
            // The pipeline has bounded the body already; its error, if any, is
            // answered as the error it is (413 for a body over the limit).
            match body.collect_limited(usize::MAX).await {
                Ok(body) => Some(body),
                Err(err) => return GatewayError::from_box_error(&err).into_response(),
            }
        } else {
            None
        };
        let values = RequestValues::new(&parts, body.as_deref());
        let mut arguments = Arguments::default();
        for (name, value, required) in &self.parameters {
            let argument = if value.is_whole_body() {
                body.clone().map(Argument::Bytes)
            } else {
                value.resolve(&values).map(Argument::Text)
            };
            match argument {
                Some(argument) => arguments.insert(name, argument),
                None if *required => {
                    tracing::info!(
                        route = %self.route,
                        parameter = name,
                        "The integration's required parameter found no value in the \
                         request: answering 400"
                    );
                    return bad_request().into_response();
                }
                None => {}
            }
        }
        let request = match self.subtype.request(&arguments) {
            Ok(request) => request,
            Err(reason) => {
                tracing::info!(
                    route = %self.route,
                    "The integration's parameters cannot make a {} request: {reason}; \
                     answering 400",
                    self.subtype
                );
                return bad_request().into_response();
            }
        };
        let per_request;
        let target = match &self.region {
            Region::Fixed(target) => target,
            Region::PerRequest {
                value,
                config,
                client,
            } => {
                let Some(name) = value.resolve(&values).filter(|name| is_region(name)) else {
                    tracing::info!(
                        route = %self.route,
                        "The integration's Region found no region name in the request: \
                         answering 400"
                    );
                    return bad_request().into_response();
                };
                per_request = match prepare(self.subtype, config, &name, client) {
                    Ok(target) => target,
                    Err(reason) => return self.configuration_error(&reason),
                };
                &per_request
            }
        };
        let context = if self.http_response.is_empty() {
            None
        } else {
            parts.extensions.get::<RequestContext>().cloned()
        };
        drop(values);

        let response = match tokio::time::timeout(self.timeout, self.call(target, request)).await {
            Err(_elapsed) => return timed_out(&self.route, self.timeout),
            Ok(Err(response)) => return *response,
            Ok(Ok(response)) => response,
        };
        self.map_response(response, context.as_ref()).await
    }

    /// Signs (assuming the role when needed) and sends the request; a failure is
    /// the gateway response that answers it.
    async fn call(
        &self,
        target: &PreparedTarget,
        request: crate::aws::ServiceRequest,
    ) -> Result<Response<Body>, Box<Response<Body>>> {
        let request = target.signed_request(request).await.map_err(|e| {
            Box::new(self.configuration_error(&format!(
                "the AWS service request cannot be signed: {}",
                ErrorChain(&e)
            )))
        })?;
        target.send(request).await.map_err(|err| {
            Box::new(if err.is_connect() {
                self.configuration_error(&ErrorChain(&err).to_string())
            } else {
                tracing::warn!(
                    route = %self.route,
                    error = %ErrorChain(&err),
                    "Execution failed: the AWS service failed before its response head"
                );
                http_api_error(GatewayResponseType::IntegrationFailure)
            })
        })
    }

    /// The service's answer as the client's response, its response parameters
    /// applied.
    async fn map_response(
        &self,
        response: Response<Body>,
        context: Option<&RequestContext>,
    ) -> Response<Body> {
        let (head, body) = response.into_parts();
        let status = head.status;
        let mut out = Response::new(Body::empty());
        *out.status_mut() = status;
        if let Some(content_type) = head.headers.get(CONTENT_TYPE) {
            out.headers_mut().insert(CONTENT_TYPE, content_type.clone());
        }
        for name in KEPT_HEADERS {
            if let Some(value) = head.headers.get(name) {
                out.headers_mut()
                    .insert(HeaderName::from_static(name), value.clone());
            }
        }
        out.extensions_mut()
            .insert(IntegrationStatus(status.as_u16()));
        if self.http_response.is_empty() {
            *out.body_mut() = body;
            return out;
        }
        let bytes: Option<Bytes> = if self.http_response.reads_body(status) {
            match body.collect_limited(MAPPED_RESPONSE_LIMIT).await {
                Ok(bytes) => Some(bytes),
                Err(err) => {
                    tracing::warn!(
                        route = %self.route,
                        error = %ErrorChain(&*err),
                        "Execution failed: the AWS service's answer could not be read for \
                         response parameter mapping"
                    );
                    return http_api_error(GatewayResponseType::IntegrationFailure);
                }
            }
        } else {
            *out.body_mut() = body;
            None
        };
        if let Err(err) = self
            .http_response
            .apply(&mut out, context, bytes.as_deref())
        {
            return err.into_response();
        }
        if let Some(bytes) = bytes {
            *out.body_mut() = Body::full(bytes);
        }
        out
    }

    /// Logs a configuration failure and answers it.
    fn configuration_error(&self, reason: &str) -> Response<Body> {
        tracing::warn!(
            route = %self.route,
            "Execution failed due to configuration error: {reason}"
        );
        http_api_error(GatewayResponseType::ApiConfigurationError)
    }
}

/// HTTP APIs' answer to a failed integration: 500 `{"message":"Internal Server Error"}`.
fn http_api_error(kind: GatewayResponseType) -> Response<Body> {
    GatewayError::new(kind)
        .with_status(StatusCode::INTERNAL_SERVER_ERROR)
        .with_message("Internal Server Error")
        .into_response()
}

impl Service<Request<Body>> for ServiceIntegration {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The pooled client is always ready; a request waits in its own future.
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
    fn region_names_are_recognised() {
        for name in [
            "us-east-1",
            "us-gov-west-1",
            "eu-central-2",
            "ap-southeast-4",
        ] {
            assert!(is_region(name), "{name}");
        }
        for name in [
            "",
            "us",
            "us-east",
            "US-EAST-1",
            "us-east-123",
            "us--1",
            "-east-1",
            "us-east-x",
            "us.east-1",
            "us-east-1 ",
        ] {
            assert!(!is_region(name), "{name}");
        }
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-east-1"), "aws-us-gov");
        assert_eq!(partition_of("eu-west-1"), "aws");
    }
}
