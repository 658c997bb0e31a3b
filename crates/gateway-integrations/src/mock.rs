//! MOCK integrations: the gateway answers by itself.
//!
//! On AWS a MOCK integration runs its request template and reads `statusCode` from
//! the result; that status selects an integration response, whose template is the
//! body. Until the VTL engine exists, a request template is read as JSON text:
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
//!   every usual configuration while still letting a `200` pattern match. A template
//!   that is not JSON (a VTL template, until the VTL crate renders it) or whose
//!   `statusCode` is not a status number answers 500 `API_CONFIGURATION_ERROR` and
//!   logs a warning naming the route. Templates are parsed at compile time; the
//!   outcome is remembered per template.
//! - The status text then selects the integration response (see the `response`
//!   module). No match and no default answers 500 `API_CONFIGURATION_ERROR`.
//!
//! The request body is never read. The template's status is reported as
//! [`IntegrationStatus`](crate::IntegrationStatus).

use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use gateway_core::body::{Body, BoxError};
use gateway_core::error::{GatewayError, GatewayResponseType};
use gateway_core::model::{Integration, PassthroughBehavior, Route};
use http::header::CONTENT_TYPE;
use http::{Request, Response};
use tower::Service;

use crate::mapping::RequestValues;
use crate::response::{IntegrationResponses, choose, media_type};
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
}

#[derive(Debug)]
struct RequestTemplate {
    media_type: String,
    status: TemplateStatus,
}

/// What a request template yields, decided at compile time.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TemplateStatus {
    /// A status code, and its text for selection patterns.
    Status(u16, String),
    /// The template cannot be used; the reason is logged per request.
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
        let responses = IntegrationResponses::compile(&integration.responses, ctx.stage_variables)
            .map_err(|e| CompileError::InvalidField {
                route: route_key.clone(),
                field: e.field,
                reason: e.reason,
            })?;
        let templates = integration
            .request_templates
            .iter()
            .map(|(content_type, text)| RequestTemplate {
                media_type: media_type(content_type).to_ascii_lowercase(),
                status: template_status(text),
            })
            .collect();
        Ok(Self {
            mock: Arc::new(Mock {
                route: route_key.into(),
                templates,
                passthrough: integration.passthrough_behavior,
                responses,
            }),
        })
    }
}

/// Reads the status a MOCK request template yields.
fn template_status(template: &str) -> TemplateStatus {
    if template.trim().is_empty() {
        return TemplateStatus::ok();
    }
    let value: serde_json::Value = match serde_json::from_str(template) {
        Ok(value) => value,
        Err(e) => {
            return TemplateStatus::Invalid(format!(
                "the request template is not JSON ({e}); VTL templates need the VTL engine"
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
    fn respond(&self, parts: &http::request::Parts) -> Response<Body> {
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map_or("application/json", media_type);
        let (code, text) = match self.request_template(content_type) {
            Err(err) => return err.into_response(),
            Ok(None) => (200, "200"),
            Ok(Some(template)) => match &template.status {
                TemplateStatus::Status(code, text) => (*code, text.as_str()),
                TemplateStatus::Invalid(reason) => {
                    tracing::warn!(
                        route = %self.route,
                        "Execution failed due to configuration error: MOCK integration: {reason}"
                    );
                    return GatewayError::new(GatewayResponseType::ApiConfigurationError)
                        .into_response();
                }
            },
        };
        let Some(selected) = self.responses.select(text) else {
            tracing::warn!(
                route = %self.route,
                status = text,
                "Execution failed due to configuration error: no integration response matches \
                 the MOCK status and there is no default response"
            );
            return GatewayError::new(GatewayResponseType::ApiConfigurationError).into_response();
        };
        let mut response = selected.method_response(&RequestValues::from_parts(parts), None);
        response.extensions_mut().insert(IntegrationStatus(code));
        response
    }

    /// The request template for a media type: `Ok(None)` when there are none,
    /// `UNSUPPORTED_MEDIA_TYPE` when the passthrough behavior refuses an unmapped type.
    fn request_template(&self, media: &str) -> Result<Option<&RequestTemplate>, GatewayError> {
        if self.templates.is_empty() {
            return Ok(None);
        }
        if let Some(found) = self
            .templates
            .iter()
            .find(|t| t.media_type.eq_ignore_ascii_case(media))
        {
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
    type Future = Ready<Result<Response<Body>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The body is not read: a MOCK integration answers from templates alone.
        let (parts, _body) = req.into_parts();
        ready(Ok(self.mock.respond(&parts)))
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
