//! Mapping templates in integrations: compiled when the route compiles (a template
//! that does not compile fails the deployment with its line and column), rendered
//! per request with API Gateway's bindings (`$input`, `$util`, `$context`,
//! `$stageVariables`).

use gateway_core::context::{RequestContext, query_pairs};
use gateway_core::error::{GatewayError, GatewayResponseType};
use gateway_core::router::PathParams;
use gateway_core::stage::StageVariables;
use gateway_mapping_vtl::aws::{self, InputData, RequestOverride, ResponseOverride};
use gateway_mapping_vtl::{RenderError, Template};
use indexmap::IndexMap;

use crate::response::FieldError;

/// A compiled mapping template. Text without `$` or `#` renders as itself in
/// Velocity, so it is kept as text and rendered without building any bindings.
#[derive(Debug, Clone)]
pub(crate) enum MappingTemplate {
    /// Plain text.
    Static(String),
    /// A template with references or directives.
    Vtl(Template),
}

/// A request template and the media type (`Content-Type`) it is keyed by.
#[derive(Debug, Clone)]
pub(crate) struct RequestTemplate {
    /// The key's media type, lower case, without parameters, for matching.
    pub(crate) media_type: String,
    /// The key as written, sent as the integration request's `Content-Type`.
    pub(crate) content_type: http::HeaderValue,
    /// The compiled template.
    pub(crate) template: MappingTemplate,
}

/// Compiles an integration's `requestTemplates`, naming the failing key.
pub(crate) fn compile_request_templates(
    templates: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<RequestTemplate>, FieldError> {
    templates
        .iter()
        .map(|(key, text)| {
            let field = format!("requestTemplates.{key}");
            let content_type = http::HeaderValue::from_str(key).map_err(|_| FieldError {
                field: field.clone(),
                reason: format!("`{key}` is not a valid Content-Type"),
            })?;
            Ok(RequestTemplate {
                media_type: crate::response::media_type(key).to_ascii_lowercase(),
                content_type,
                template: compile(text, field)?,
            })
        })
        .collect()
}

/// The template keyed by `media` (a lower-case or mixed-case media type).
pub(crate) fn find<'t>(
    templates: &'t [RequestTemplate],
    media: &str,
) -> Option<&'t RequestTemplate> {
    templates
        .iter()
        .find(|t| t.media_type.eq_ignore_ascii_case(media))
}

/// Compiles a template, naming `field` and the position when it does not compile.
pub(crate) fn compile(text: &str, field: String) -> Result<MappingTemplate, FieldError> {
    if !text.contains(['$', '#']) {
        return Ok(MappingTemplate::Static(text.to_owned()));
    }
    Template::compile(text)
        .map(MappingTemplate::Vtl)
        .map_err(|e| FieldError {
            field,
            reason: format!("the mapping template does not compile: {e}"),
        })
}

/// `$input`'s data for a request: the payload and the method request's path, query
/// string and header parameters (one value each: the last of a repeated one).
pub(crate) fn input_data(parts: &http::request::Parts, body: String) -> InputData {
    let path = parts
        .extensions
        .get::<PathParams>()
        .map(|params| {
            params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let mut querystring = IndexMap::new();
    if let Some(query) = parts.uri.query() {
        for (name, value) in query_pairs(query) {
            querystring.insert(name, value);
        }
    }
    let mut header = IndexMap::new();
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            header.insert(name.as_str().to_owned(), value.to_owned());
        }
    }
    InputData {
        body,
        path,
        querystring,
        header,
    }
}

/// A rendered template and the overrides it set in `$context.responseOverride`.
#[derive(Debug)]
pub(crate) struct Rendered {
    /// The output.
    pub(crate) body: String,
    /// Status and headers the template asked for (response templates).
    pub(crate) overrides: ResponseOverride,
    /// Headers, query string and path parameters the template asked for (request
    /// templates).
    pub(crate) request_overrides: RequestOverride,
}

/// Renders `template` for a request. A payload the template cannot read (malformed
/// JSON behind `$input.json`/`$input.path`) is the client's error, 400; any other
/// failure is the API's, 500, logged with the route.
pub(crate) fn render(
    template: &MappingTemplate,
    input: impl FnOnce() -> InputData,
    context: Option<&RequestContext>,
    variables: &StageVariables,
    route: &str,
) -> Result<Rendered, GatewayError> {
    let template = match template {
        MappingTemplate::Static(text) => {
            return Ok(Rendered {
                body: text.clone(),
                overrides: ResponseOverride::default(),
                request_overrides: RequestOverride::default(),
            });
        }
        MappingTemplate::Vtl(template) => template,
    };
    let input = input();
    let context = match context {
        Some(context) => aws::context_value(context),
        None => aws::context_value(&RequestContext::default()),
    };
    let bindings = aws::bindings(input, context, variables);
    let body = template
        .render(&bindings)
        .map_err(|err| render_failure(&err, route))?;
    let (overrides, request_overrides) = bindings
        .get("context")
        .map(|context| {
            (
                aws::response_override(context),
                aws::request_override(context),
            )
        })
        .unwrap_or_default();
    Ok(Rendered {
        body,
        overrides,
        request_overrides,
    })
}

fn render_failure(err: &RenderError, route: &str) -> GatewayError {
    let text = err.to_string();
    if text.contains(aws::PAYLOAD_ERROR) {
        return GatewayError::new(GatewayResponseType::BadRequestBody)
            .with_message(aws::PAYLOAD_ERROR);
    }
    tracing::warn!(
        route,
        error = %text,
        "Execution failed due to configuration error: Unable to transform the payload"
    );
    GatewayError::new(GatewayResponseType::ApiConfigurationError)
}
