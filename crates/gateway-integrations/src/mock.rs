//! MOCK integrations: the gateway answers by itself.
//!
//! On AWS a MOCK integration runs its request template and reads `statusCode` from
//! the result; that status selects an integration response, whose template is the
//! body. Here, likewise:
//!
//! - The template is chosen by the request's `Content-Type` (media type compared
//!   exactly, parameters ignored; a request without one counts as
//!   `application/json`, as on AWS). When no template has that type, the
//!   integration's passthrough behavior decides, as AWS documents it: under
//!   `NEVER` and `WHEN_NO_TEMPLATES` the request is refused with 415
//!   `UNSUPPORTED_MEDIA_TYPE`; under `WHEN_NO_MATCH` (the default) the
//!   `application/json` template is used, else the first (the model keeps templates
//!   sorted by content type). AWS would pass the client's body through as the mock's
//!   input instead; that would mean buffering every MOCK request body.
//! - `statusCode` may be a number or a numeric string. **No template at all, a
//!   template with no `statusCode`, or an empty template gives status 200**: AWS
//!   would select the default integration response there, and 200 selects it for
//!   every usual configuration while still letting a `200` pattern match. Templates
//!   are VTL, compiled with the route and rendered per request; an output that is
//!   not JSON or whose `statusCode` is not a status number answers 500
//!   `API_CONFIGURATION_ERROR` and logs a warning naming the route.
//! - The status text then selects the integration response (see the `response`
//!   module). No match and no default answers 500 `API_CONFIGURATION_ERROR`.
//!
//! The request body is read only when a request template has references or
//! directives that may use it. The template's status is reported as
//! [`IntegrationStatus`](crate::IntegrationStatus).

use std::sync::Arc;
use std::task::{Context, Poll};

use gateway_core::body::{Body, BoxError};
use gateway_core::context::RequestContext;
use gateway_core::error::{GatewayError, GatewayResponseType};
use gateway_core::model::{Integration, PassthroughBehavior, Route};
use gateway_core::stage::StageVariables;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{Request, Response};
use tower::Service;

use crate::future::ResponseFuture;
use crate::mapping::RequestValues;
use crate::response::{IntegrationResponses, MethodBody, choose, media_type};
use crate::templates::{self, MappingTemplate, RequestTemplate};
use crate::{CompileContext, CompileError, IntegrationStatus};

/// The service a MOCK integration compiles to.
#[derive(Debug, Clone)]
pub(crate) struct MockIntegration {
    mock: Arc<Mock>,
}

#[derive(Debug)]
struct Mock {
    route: Arc<str>,
    templates: Vec<RequestTemplate>,
    passthrough: PassthroughBehavior,
    responses: IntegrationResponses,
    stage_variables: StageVariables,
}

/// What a rendered request template yields.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TemplateStatus {
    /// A status code, and its text for selection patterns.
    Status(u16, String),
    /// The output cannot be used; the reason is logged.
    Invalid(String),
}

impl TemplateStatus {
    fn ok() -> Self {
        Self::Status(200, "200".to_owned())
    }
}

impl MockIntegration {
    pub(crate) fn compile(
        route: &Route,
        integration: &Integration,
        ctx: &CompileContext<'_>,
    ) -> Result<Self, CompileError> {
        let route_key = route.route_key();
        let invalid = |e: crate::response::FieldError| CompileError::InvalidField {
            route: route_key.clone(),
            field: e.field,
            reason: e.reason,
        };
        let responses = IntegrationResponses::compile(&integration.responses, ctx.stage_variables)
            .map_err(invalid)?;
        let templates = templates::compile_request_templates(&integration.request_templates)
            .map_err(invalid)?;
        Ok(Self {
            mock: Arc::new(Mock {
                route: route_key.into(),
                templates,
                passthrough: integration.passthrough_behavior,
                responses,
                stage_variables: ctx.stage_variables.clone(),
            }),
        })
    }
}

/// Reads the status from a MOCK request template's output (`{"statusCode": N}`).
fn template_status(output: &str) -> TemplateStatus {
    if output.trim().is_empty() {
        return TemplateStatus::ok();
    }
    let value: serde_json::Value = match serde_json::from_str(output) {
        Ok(value) => value,
        Err(e) => {
            return TemplateStatus::Invalid(format!(
                "the request template's output is not JSON ({e})"
            ));
        }
    };
    let status = match value.get("statusCode") {
        None | Some(serde_json::Value::Null) => return TemplateStatus::ok(),
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    match status.and_then(|s| u16::try_from(s).ok()) {
        Some(code) => TemplateStatus::Status(code, code.to_string()),
        None => TemplateStatus::Invalid(format!(
            "statusCode {} is not a status number",
            value["statusCode"]
        )),
    }
}

impl Mock {
    async fn respond(self: Arc<Self>, req: Request<Body>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map_or("application/json", media_type);
        let template = match self.request_template(content_type) {
            Err(err) => return err.into_response(),
            Ok(template) => template,
        };
        let context = parts.extensions.get::<RequestContext>();
        let (code, text) = match template {
            None => (200, "200".to_owned()),
            Some(template) => {
                // The payload is read only when a template may use it; the pipeline
                // has already bounded its size.
                let payload = match &template.template {
                    MappingTemplate::Static(_) => String::new(),
                    MappingTemplate::Vtl(_) => match body.collect_limited(usize::MAX).await {
                        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                        Err(err) => return GatewayError::from_box_error(&err).into_response(),
                    },
                };
                let rendered = match templates::render(
                    &template.template,
                    || templates::input_data(&parts, payload),
                    context,
                    &self.stage_variables,
                    &self.route,
                ) {
                    Ok(rendered) => rendered,
                    Err(err) => return err.into_response(),
                };
                match template_status(&rendered.body) {
                    TemplateStatus::Status(code, text) => (code, text),
                    TemplateStatus::Invalid(reason) => {
                        tracing::warn!(
                            route = %self.route,
                            "Execution failed due to configuration error: MOCK integration: {reason}"
                        );
                        return GatewayError::new(GatewayResponseType::ApiConfigurationError)
                            .into_response();
                    }
                }
            }
        };
        let Some(selected) = self.responses.select(&text) else {
            tracing::warn!(
                route = %self.route,
                status = text,
                "Execution failed due to configuration error: no integration response matches \
                 the MOCK status and there is no default response"
            );
            return GatewayError::new(GatewayResponseType::ApiConfigurationError).into_response();
        };
        let accept = parts.headers.get(ACCEPT).and_then(|v| v.to_str().ok());
        let body = match selected.template(accept) {
            None => MethodBody::Empty,
            // A MOCK integration has no response payload: `$input` reads an empty body.
            Some(template) => match templates::render(
                template.template(),
                || templates::input_data(&parts, String::new()),
                context,
                &self.stage_variables,
                &self.route,
            ) {
                Ok(rendered) => MethodBody::Rendered(template.content_type().clone(), rendered),
                Err(err) => return err.into_response(),
            },
        };
        let mut response = selected.method_response(&RequestValues::from_parts(&parts), None, body);
        response.extensions_mut().insert(IntegrationStatus(code));
        response
    }

    /// The request template for a media type: `Ok(None)` when there are none,
    /// `UNSUPPORTED_MEDIA_TYPE` when the passthrough behavior refuses an unmapped type.
    fn request_template(&self, media: &str) -> Result<Option<&RequestTemplate>, GatewayError> {
        if self.templates.is_empty() {
            return Ok(None);
        }
        if let Some(found) = templates::find(&self.templates, media) {
            return Ok(Some(found));
        }
        match self.passthrough {
            PassthroughBehavior::Never | PassthroughBehavior::WhenNoTemplates => {
                Err(GatewayError::new(GatewayResponseType::UnsupportedMediaType))
            }
            PassthroughBehavior::WhenNoMatch => {
                Ok(choose(&self.templates, None, |t| &t.media_type))
            }
        }
    }
}

impl Service<Request<Body>> for MockIntegration {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        ResponseFuture::new(Arc::clone(&self.mock).respond(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_read_from_json_templates() {
        assert_eq!(
            template_status(r#"{"statusCode": 404}"#),
            TemplateStatus::Status(404, "404".into())
        );
        assert_eq!(
            template_status(r#"{"statusCode": " 201 "}"#),
            TemplateStatus::Status(201, "201".into())
        );
        assert_eq!(template_status(r#"{"other": 1}"#), TemplateStatus::ok());
        assert_eq!(template_status(""), TemplateStatus::ok());
        assert_eq!(template_status("[1]"), TemplateStatus::ok());
        assert!(matches!(
            template_status("#set($x = 1)"),
            TemplateStatus::Invalid(_)
        ));
        assert!(matches!(
            template_status(r#"{"statusCode": "abc"}"#),
            TemplateStatus::Invalid(_)
        ));
        assert!(matches!(
            template_status(r#"{"statusCode": 70000}"#),
            TemplateStatus::Invalid(_)
        ));
        assert!(matches!(
            template_status(r#"{"statusCode": 2.5}"#),
            TemplateStatus::Invalid(_)
        ));
    }
}
