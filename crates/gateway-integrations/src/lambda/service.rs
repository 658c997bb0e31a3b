//! The service an AWS_PROXY integration compiles to.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use gateway_core::body::{Body, BoxError};
use gateway_core::context::RequestContext;
use gateway_core::error::{GatewayError, GatewayResponseType};
use gateway_core::lambda::{
    FunctionRef, Invocation, InvocationOutput, InvokeError, Payload, SharedInvoker,
};
use gateway_core::model::{
    ApiProtocol, Integration, IntegrationType, MIN_INTEGRATION_TIMEOUT, Route,
};
use gateway_core::stage::StageTemplate;
use http::header::ACCEPT;
use http::{Request, Response, StatusCode};
use tower::Service;

use super::event::{BodyRule, EventShape, PayloadFormat, ProxyEvent};
use super::media::BinaryMediaTypes;
use super::output::{Outcome, OutputRules};
use crate::future::ResponseFuture;
use crate::http_api_params::{RequestMapping, ResponseMapping};
use crate::response::FieldError;
use crate::{CompileContext, CompileError, IntegrationStatus};

/// The service an AWS_PROXY integration compiles to.
#[derive(Debug, Clone)]
pub(crate) struct LambdaProxyIntegration {
    proxy: Arc<LambdaProxy>,
}

struct LambdaProxy {
    route: Arc<str>,
    target: Target,
    invoker: SharedInvoker,
    timeout: Duration,
    http_api: bool,
    event: Arc<EventShape>,
    output: OutputRules,
    /// HTTP APIs' `requestParameters`, applied to the request the event is built from.
    http_request: RequestMapping,
    /// HTTP APIs' `responseParameters`, applied to the function's response.
    http_response: ResponseMapping,
}

impl fmt::Debug for LambdaProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LambdaProxy")
            .field("route", &self.route)
            .field("target", &self.target)
            .field("timeout", &self.timeout)
            .field("format", &self.event.format)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum Target {
    Function(FunctionRef),
    /// A URI made invalid by a stage variable's value: answered with 500 per
    /// request, so one bad variable breaks its routes and not the whole stage.
    Invalid(String),
}

impl LambdaProxyIntegration {
    pub(crate) fn compile(
        route: &Route,
        integration: &Integration,
        ctx: &CompileContext<'_>,
    ) -> Result<Self, CompileError> {
        let route_key = route.route_key();
        let invalid = |field: &str, reason: String| CompileError::InvalidField {
            route: route_key.clone(),
            field: field.to_owned(),
            reason,
        };
        let http_api = match ctx.protocol {
            ApiProtocol::Rest => false,
            ApiProtocol::Http => true,
            ApiProtocol::WebSocket => {
                return Err(CompileError::Unsupported {
                    route: route_key,
                    kind: IntegrationType::AwsProxy,
                });
            }
        };

        let timeout = integration.timeout;
        let max = ctx.protocol.max_integration_timeout();
        if !(MIN_INTEGRATION_TIMEOUT..=max).contains(&timeout) {
            return Err(CompileError::InvalidTimeout {
                route: route_key,
                timeout,
                max,
            });
        }

        let Some(invoker) = ctx.invoker else {
            return Err(CompileError::NoInvoker { route: route_key });
        };

        if !http_api
            && let Some(method) = integration.http_method.as_deref()
            && !method.eq_ignore_ascii_case("POST")
        {
            return Err(invalid(
                "httpMethod",
                format!("Lambda functions are invoked with POST, not `{method}`"),
            ));
        }

        let raw_uri = integration
            .uri
            .as_deref()
            .ok_or_else(|| CompileError::MissingField {
                route: route_key.clone(),
                kind: IntegrationType::AwsProxy,
                field: "uri",
            })?;
        let template = StageTemplate::parse(raw_uri);
        let uri = template.render(ctx.stage_variables);
        let target = match function_of(&uri, http_api) {
            Ok(function) => Target::Function(function),
            Err(reason) if template.variables().next().is_some() => {
                Target::Invalid(format!("invalid Lambda function `{uri}`: {reason}"))
            }
            Err(reason) => return Err(invalid("uri", reason)),
        };

        let format = if http_api {
            match integration.payload_format_version.as_deref().map(str::trim) {
                None | Some("2.0") => PayloadFormat::V2,
                Some("1.0") => PayloadFormat::V1,
                Some(other) => {
                    return Err(invalid(
                        "payloadFormatVersion",
                        format!("`{other}` is not a payload format version (1.0, 2.0)"),
                    ));
                }
            }
        } else {
            PayloadFormat::V1
        };
        let binary = BinaryMediaTypes::new(ctx.binary_media_types);
        let event = EventShape {
            format,
            http_api,
            resource: route.path.clone(),
            route_key: route_key.clone(),
            stage_variables: ctx.stage_variables.clone(),
            body_rule: if http_api {
                BodyRule::HttpApi
            } else {
                BodyRule::BinaryTypes(binary.clone())
            },
        };
        let output = OutputRules {
            format,
            http_api,
            binary,
        };
        let mapping_error = |e: FieldError| invalid(&e.field, e.reason);
        let (http_request, http_response) = if http_api {
            (
                RequestMapping::compile(
                    &integration.request_parameters,
                    ctx.stage_variables,
                    &route.path,
                )
                .map_err(mapping_error)?,
                ResponseMapping::compile(
                    &integration.http_response_parameters,
                    ctx.stage_variables,
                )
                .map_err(mapping_error)?,
            )
        } else {
            (RequestMapping::default(), ResponseMapping::default())
        };
        Ok(Self {
            proxy: Arc::new(LambdaProxy {
                route: route_key.into(),
                target,
                invoker: Arc::clone(invoker),
                timeout,
                http_api,
                event: Arc::new(event),
                output,
                http_request,
                http_response,
            }),
        })
    }
}

/// The function an integration URI names after stage-variable substitution: a
/// Lambda invocation URI
/// (`arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function}/invocations`)
/// or, for HTTP APIs, a function name or ARN.
fn function_of(uri: &str, http_api: bool) -> Result<FunctionRef, String> {
    let uri = uri.trim();
    if let Some(function) = FunctionRef::from_invocation_uri(uri) {
        return function;
    }
    if !http_api || uri.starts_with("arn:") && uri.contains(":apigateway:") {
        return Err(format!(
            "`{uri}` is not a Lambda invocation URI; REST APIs name the function as \
             arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION/invocations"
        ));
    }
    FunctionRef::parse(uri)
}

impl LambdaProxy {
    async fn respond(self: Arc<Self>, req: Request<Body>) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let function = match &self.target {
            Target::Function(function) => function.clone(),
            Target::Invalid(reason) => {
                tracing::warn!(
                    route = %self.route,
                    "Execution failed due to configuration error: {reason}"
                );
                return self.failure(
                    GatewayResponseType::ApiConfigurationError,
                    StatusCode::INTERNAL_SERVER_ERROR,
                );
            }
        };
        // The pipeline has bounded the body already; its error, if any, is answered
        // as the error it is (413 for a body over the limit).
        let body = match body.collect_limited(usize::MAX).await {
            Ok(body) => body,
            Err(err) => return GatewayError::from_box_error(&err).into_response(),
        };
        if !self.http_request.is_empty() {
            let mapped = match self.http_request.resolve(&parts, Some(&body)) {
                Ok(mapped) => mapped,
                Err(err) => return err.into_response(),
            };
            if let Err(err) = mapped.apply_to(&mut parts) {
                tracing::warn!(
                    route = %self.route,
                    "Execution failed due to configuration error: the mapped path or query \
                     string is not valid: {err}"
                );
                return self.failure(
                    GatewayResponseType::ApiConfigurationError,
                    StatusCode::INTERNAL_SERVER_ERROR,
                );
            }
        }
        let trace_id = parts
            .extensions
            .get::<RequestContext>()
            .and_then(|c| c.trace_id.as_ref())
            .map(|t| t.as_str().to_owned());
        // The event is written (as JSON, or as the runtime's type for a function in
        // process) when the invoker reads it.
        let parts = Arc::new(parts);
        let event = ProxyEvent::new(Arc::clone(&self.event), Arc::clone(&parts), body);
        let call = self.invoker.invoke(Invocation {
            function,
            payload: Payload::lazy(event),
            trace_id,
        });
        let output = match tokio::time::timeout(self.timeout, call).await {
            Err(_elapsed) => return self.timed_out(),
            Ok(Err(err)) => return self.invoke_failed(&err),
            Ok(Ok(output)) => output,
        };
        let accept = parts.headers.get(ACCEPT).and_then(|v| v.to_str().ok());
        let mut response = self.map_output(&output, accept);
        // Response parameters change what the function answered, not the gateway's
        // own failures.
        if !self.http_response.is_empty() && response.extensions().get::<GatewayError>().is_none() {
            let (head, body) = response.into_parts();
            response = Response::from_parts(head, Body::empty());
            let context = parts.extensions.get::<RequestContext>();
            let mapped = self
                .http_response
                .apply(&mut response, context, body.as_bytes());
            *response.body_mut() = body;
            if let Err(err) = mapped {
                return err.into_response();
            }
        }
        // The Invoke call itself succeeded, whatever the function answered.
        response.extensions_mut().insert(IntegrationStatus(200));
        response
    }

    fn map_output(&self, output: &InvocationOutput, accept: Option<&str>) -> Response<Body> {
        if let Some(kind) = &output.function_error {
            tracing::warn!(
                route = %self.route,
                function_error = %kind,
                "Lambda execution failed with status 200 due to customer function error: {}",
                output
                    .payload
                    .to_json()
                    .map_or_else(|e| e.to_string(), |json| error_message(&json))
            );
            return self.failure(
                GatewayResponseType::IntegrationFailure,
                StatusCode::BAD_GATEWAY,
            );
        }
        match self.output.map_payload(&output.payload, accept) {
            Outcome::Response(response) => response,
            Outcome::Malformed(reason) => {
                tracing::warn!(
                    route = %self.route,
                    "Execution failed due to configuration error: Malformed Lambda proxy response: {reason}"
                );
                self.failure(
                    GatewayResponseType::ApiConfigurationError,
                    StatusCode::BAD_GATEWAY,
                )
            }
            Outcome::FunctionError(message) => {
                tracing::warn!(
                    route = %self.route,
                    "Lambda execution failed due to customer function error: {message}"
                );
                self.failure(
                    GatewayResponseType::IntegrationFailure,
                    StatusCode::BAD_GATEWAY,
                )
            }
        }
    }

    fn invoke_failed(&self, err: &InvokeError) -> Response<Body> {
        tracing::warn!(
            route = %self.route,
            error = %err,
            "Execution failed due to configuration error: the Lambda function could not be invoked"
        );
        let mut response = self.failure(
            GatewayResponseType::ApiConfigurationError,
            StatusCode::INTERNAL_SERVER_ERROR,
        );
        let status = match err {
            InvokeError::NotFound(_) => Some(404),
            InvokeError::AccessDenied(_) => Some(403),
            InvokeError::Throttled(_) => Some(429),
            InvokeError::Service { status, .. } => Some(*status),
            _ => None,
        };
        if let Some(status) = status {
            response.extensions_mut().insert(IntegrationStatus(status));
        }
        response
    }

    /// A failure answered with `{"message": ...}`: REST APIs use `status` and
    /// "Internal server error", HTTP APIs always 500 "Internal Server Error".
    fn failure(&self, kind: GatewayResponseType, status: StatusCode) -> Response<Body> {
        let error = if self.http_api {
            GatewayError::new(kind)
                .with_status(StatusCode::INTERNAL_SERVER_ERROR)
                .with_message("Internal Server Error")
        } else {
            GatewayError::new(kind).with_status(status)
        };
        error.into_response()
    }

    fn timed_out(&self) -> Response<Body> {
        tracing::warn!(
            route = %self.route,
            timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            "Execution failed due to a timeout error"
        );
        GatewayError::new(GatewayResponseType::IntegrationTimeout).into_response()
    }
}

/// The `errorMessage` of a function's error object, else the payload as text.
pub(crate) fn error_message(payload: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned))
        })
        .unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned())
}

impl Service<Request<Body>> for LambdaProxyIntegration {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Invokers are shared and never push back; a request waits in its own future.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        ResponseFuture::new(Arc::clone(&self.proxy).respond(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_uris_name_their_function() {
        let uri = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/\
                   arn:aws:lambda:us-east-1:123456789012:function:f:live/invocations";
        for http_api in [false, true] {
            let function = function_of(uri, http_api).unwrap();
            assert_eq!((function.name(), function.qualifier()), ("f", Some("live")));
        }
        let partial =
            "arn:aws-cn:apigateway:cn-north-1:lambda:path/2015-03-31/functions/f/invocations";
        assert_eq!(function_of(partial, false).unwrap().name(), "f");
    }

    #[test]
    fn bare_functions_are_for_http_apis_only() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:f";
        assert_eq!(function_of(arn, true).unwrap().name(), "f");
        assert_eq!(function_of("f:7", true).unwrap().qualifier(), Some("7"));
        assert!(function_of(arn, false).unwrap_err().contains("REST APIs"));
    }

    #[test]
    fn malformed_uris_are_refused() {
        for bad in [
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/f",
            "arn:aws:apigateway:us-east-1:s3:path/bucket/key",
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions//invocations",
        ] {
            assert!(function_of(bad, true).is_err(), "{bad}");
        }
        assert!(function_of("", true).is_err());
    }
}
