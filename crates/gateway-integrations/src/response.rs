//! Integration responses: selecting one and building the method response from it.
//!
//! Shared by every integration that maps responses (MOCK, HTTP and AWS).
//!
//! - **Selection.** Each integration response has a selection pattern, a regular
//!   expression matched against a selector: the integration's status code as text for
//!   MOCK, HTTP and AWS services, the `errorMessage` of a Lambda function error. AWS matches the *whole* selector
//!   (Java's `String.matches`), so patterns are compiled anchored, `^(?:pattern)$`.
//!   Patterns are tried in declaration order and the first match wins; `default` (or
//!   an empty pattern) is used when none matches. With no match and no default, the
//!   caller answers 500 `API_CONFIGURATION_ERROR`, as AWS does ("integration response
//!   mapping can't match any template and no default template is configured").
//!   Patterns use the `regex` crate's syntax, which covers what selection patterns use
//!   in practice (classes, `\d`, `{n}`, alternation) but has no look-around or
//!   back-references; such patterns are refused at compile time.
//! - **Body.** The response template is chosen by the request's `Accept` header: the
//!   first listed media type that has a template, else `application/json`, else the
//!   first template. Its key becomes the `Content-Type`. With no template the body is
//!   empty and the `Content-Type` is `application/json`. Templates are VTL, compiled
//!   with the route and rendered by the caller (see the `templates` module); a
//!   template's `$context.responseOverride` status and headers win over the
//!   integration response's.
//! - **Headers.** `method.response.header.NAME` mappings, parsed by the `mapping`
//!   module.

use bytes::Bytes;
use gateway_core::body::Body;
use gateway_core::model::{ContentHandling, IntegrationResponse};
use gateway_core::stage::StageVariables;
use http::header::CONTENT_TYPE;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use regex::Regex;

use crate::mapping::{IntegrationValues, RequestValues, Side, Source, response_target};
use crate::templates::{self, MappingTemplate, Rendered};

/// A field that failed to compile: its path and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: String,
    pub(crate) reason: String,
}

/// An integration's responses, compiled for selection.
#[derive(Debug, Clone, Default)]
pub(crate) struct IntegrationResponses {
    patterned: Vec<(Regex, CompiledResponse)>,
    default: Option<CompiledResponse>,
}

/// One integration response, compiled: the method status, header mappings and body
/// templates.
#[derive(Debug, Clone)]
pub(crate) struct CompiledResponse {
    status: StatusCode,
    headers: Vec<(HeaderName, Source)>,
    templates: Vec<ResponseTemplate>,
    content_handling: Option<ContentHandling>,
}

/// The body of a method response.
#[derive(Debug)]
pub(crate) enum MethodBody {
    /// A rendered response template and the `Content-Type` of its key.
    Rendered(HeaderValue, Rendered),
    /// The integration response's payload, passed through (no template applies).
    Passthrough(Bytes),
    /// No body.
    Empty,
}

/// A response body template and the content type it answers with.
#[derive(Debug, Clone)]
pub(crate) struct ResponseTemplate {
    /// The media type of the key, lower case, without parameters, for matching.
    media_type: String,
    /// The key as written, sent as `Content-Type`.
    content_type: HeaderValue,
    /// The compiled template.
    template: MappingTemplate,
}

impl ResponseTemplate {
    /// The compiled template.
    pub(crate) fn template(&self) -> &MappingTemplate {
        &self.template
    }

    /// The `Content-Type` the rendered body is sent with.
    pub(crate) fn content_type(&self) -> &HeaderValue {
        &self.content_type
    }
}

impl IntegrationResponses {
    /// Compiles `responses`; stage variables in header mappings are resolved now.
    pub(crate) fn compile(
        responses: &[IntegrationResponse],
        variables: &StageVariables,
    ) -> Result<Self, FieldError> {
        let mut compiled = Self::default();
        for response in responses {
            let field = |name: &str| format!("responses.{}.{name}", response_key(response));
            let body = CompiledResponse::compile(response, variables, &field)?;
            if response.is_default() {
                if compiled.default.is_some() {
                    return Err(FieldError {
                        field: field("selectionPattern"),
                        reason: "more than one default integration response".to_owned(),
                    });
                }
                compiled.default = Some(body);
            } else {
                let regex =
                    full_match(&response.selection_pattern).map_err(|reason| FieldError {
                        field: field("selectionPattern"),
                        reason,
                    })?;
                compiled.patterned.push((regex, body));
            }
        }
        Ok(compiled)
    }

    /// The default response, if there is one.
    pub(crate) fn default_response(&self) -> Option<&CompiledResponse> {
        self.default.as_ref()
    }

    /// The response whose pattern matches all of `selector`, else the default.
    pub(crate) fn select(&self, selector: &str) -> Option<&CompiledResponse> {
        self.patterned
            .iter()
            .find(|(regex, _)| regex.is_match(selector))
            .map(|(_, response)| response)
            .or(self.default.as_ref())
    }
}

fn response_key(response: &IntegrationResponse) -> &str {
    if response.selection_pattern.is_empty() {
        "default"
    } else {
        &response.selection_pattern
    }
}

/// Compiles a selection pattern so that it must match the whole input, as Java's
/// `String.matches` does.
pub(crate) fn full_match(pattern: &str) -> Result<Regex, String> {
    // Compiling the bare pattern first proves its groups are balanced, so wrapping it
    // in a group cannot change what it means.
    Regex::new(pattern).map_err(|e| format!("invalid selection pattern `{pattern}`: {e}"))?;
    Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| format!("invalid selection pattern `{pattern}`: {e}"))
}

impl CompiledResponse {
    fn compile(
        response: &IntegrationResponse,
        variables: &StageVariables,
        field: &dyn Fn(&str) -> String,
    ) -> Result<Self, FieldError> {
        let status =
            StatusCode::from_bytes(response.status_code.trim().as_bytes()).map_err(|_| {
                FieldError {
                    field: field("statusCode"),
                    reason: format!("`{}` is not an HTTP status code", response.status_code),
                }
            })?;
        let mut headers = Vec::with_capacity(response.response_parameters.len());
        for (key, expr) in &response.response_parameters {
            let fail = |reason| FieldError {
                field: field(&format!("responseParameters.{key}")),
                reason,
            };
            let name = response_target(key).map_err(fail)?;
            let source = Source::parse(expr, variables, Side::Response).map_err(fail)?;
            headers.push((name, source));
        }
        let mut templates = Vec::with_capacity(response.response_templates.len());
        for (key, text) in &response.response_templates {
            let content_type = HeaderValue::from_str(key).map_err(|_| FieldError {
                field: field(&format!("responseTemplates.{key}")),
                reason: format!("`{key}` is not a valid Content-Type"),
            })?;
            let template = templates::compile(text, field(&format!("responseTemplates.{key}")))?;
            templates.push(ResponseTemplate {
                media_type: media_type(key).to_ascii_lowercase(),
                content_type,
                template,
            });
        }
        Ok(Self {
            status,
            headers,
            templates,
            content_handling: response.content_handling,
        })
    }

    /// The payload conversion of this response.
    pub(crate) fn content_handling(&self) -> Option<ContentHandling> {
        self.content_handling
    }

    /// The template for a request's `Accept` header.
    pub(crate) fn template(&self, accept: Option<&str>) -> Option<&ResponseTemplate> {
        choose(&self.templates, accept, |t| &t.media_type)
    }

    /// Builds the method response: the status (or the template's override), the
    /// body with its `Content-Type` (`application/json` unless a template's key
    /// says otherwise), the mapped headers, then the headers the template set in
    /// `$context.responseOverride.header`. `integration` holds the backend
    /// response, if any.
    pub(crate) fn method_response(
        &self,
        request: &RequestValues<'_>,
        integration: Option<&IntegrationValues<'_>>,
        body: MethodBody,
    ) -> Response<Body> {
        let json = || HeaderValue::from_static("application/json");
        let (content_type, body, overrides) = match body {
            MethodBody::Rendered(content_type, rendered) => (
                content_type,
                Body::from(rendered.body),
                Some(rendered.overrides),
            ),
            MethodBody::Passthrough(bytes) => (json(), Body::full(bytes), None),
            MethodBody::Empty => (json(), Body::empty(), None),
        };
        let mut response = Response::new(body);
        *response.status_mut() = overrides
            .as_ref()
            .and_then(|o| o.status)
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(self.status);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, content_type);
        for (name, source) in &self.headers {
            let value = source
                .resolve(request, integration)
                .and_then(|v| HeaderValue::from_str(&v).ok());
            if let Some(value) = value {
                headers.insert(name.clone(), value);
            }
        }
        for (name, value) in overrides.iter().flat_map(|o| &o.headers) {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        response
    }
}

/// The media type of a `Content-Type` or `Accept` entry: the part before any `;`
/// parameter, trimmed.
pub(crate) fn media_type(value: &str) -> &str {
    value.split(';').next().unwrap_or(value).trim()
}

/// Chooses among items keyed by lower-case media type: the first entry of `accept`
/// that has one, else `application/json`, else the first item.
pub(crate) fn choose<'t, T>(
    items: &'t [T],
    accept: Option<&str>,
    key: impl Fn(&T) -> &str,
) -> Option<&'t T> {
    let find = |media: &str| items.iter().find(|t| key(t).eq_ignore_ascii_case(media));
    accept
        .into_iter()
        .flat_map(|a| a.split(','))
        .find_map(|entry| find(media_type(entry)))
        .or_else(|| find("application/json"))
        .or_else(|| items.first())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(pattern: &str, status: &str) -> IntegrationResponse {
        IntegrationResponse::new(pattern, status)
    }

    fn compile(responses: &[IntegrationResponse]) -> IntegrationResponses {
        IntegrationResponses::compile(responses, &StageVariables::new()).unwrap()
    }

    #[test]
    fn patterns_match_the_whole_selector() {
        let responses = compile(&[response("2\\d{2}", "200"), response("4..", "400")]);
        assert_eq!(responses.select("201").unwrap().status, StatusCode::OK);
        assert_eq!(
            responses.select("404").unwrap().status,
            StatusCode::BAD_REQUEST
        );
        // A partial match is no match: `2\d{2}` does not select 2000 or 1200.
        assert!(responses.select("2000").is_none());
        assert!(responses.select("1200").is_none());
    }

    #[test]
    fn alternation_is_anchored_as_a_whole() {
        let responses = compile(&[response("500|502", "502")]);
        assert!(responses.select("500").is_some());
        assert!(responses.select("5020").is_none());
        assert!(responses.select("1500").is_none());
    }

    #[test]
    fn default_catches_the_rest_and_first_match_wins() {
        let responses = compile(&[
            response("default", "200"),
            response("5\\d{2}", "500"),
            response("50.", "502"),
        ]);
        assert_eq!(responses.select("503").unwrap().status.as_u16(), 500);
        assert_eq!(responses.select("204").unwrap().status.as_u16(), 200);
        let empty_is_default = compile(&[response("", "201")]);
        assert_eq!(empty_is_default.select("x").unwrap().status.as_u16(), 201);
        assert!(compile(&[]).select("200").is_none());
    }

    #[test]
    fn invalid_patterns_and_statuses_name_the_field() {
        let vars = StageVariables::new();
        let err = IntegrationResponses::compile(&[response("(?=2)", "200")], &vars).unwrap_err();
        assert_eq!(err.field, "responses.(?=2).selectionPattern");
        let err = IntegrationResponses::compile(&[response("a)|(b", "200")], &vars).unwrap_err();
        assert!(
            err.reason.contains("invalid selection pattern"),
            "{}",
            err.reason
        );
        let err = IntegrationResponses::compile(&[response("default", "abc")], &vars).unwrap_err();
        assert_eq!(err.field, "responses.default.statusCode");
        let err = IntegrationResponses::compile(
            &[response("default", "200"), response("", "201")],
            &vars,
        )
        .unwrap_err();
        assert!(err.reason.contains("more than one default"));
    }

    #[test]
    fn templates_are_chosen_by_accept() {
        let mut r = response("default", "200");
        r.response_templates
            .insert("text/html".into(), "<p/>".into());
        r.response_templates
            .insert("application/json".into(), "{}".into());
        r.response_templates
            .insert("application/xml".into(), "<x/>".into());
        let responses = compile(&[r]);
        let chosen = responses.select("200").unwrap();
        let pick = |accept| {
            chosen
                .template(accept)
                .map(|t| t.content_type.to_str().unwrap().to_owned())
        };
        assert_eq!(pick(Some("text/html")).as_deref(), Some("text/html"));
        assert_eq!(
            pick(Some("image/png, application/XML;q=0.9, text/html")).as_deref(),
            Some("application/xml")
        );
        assert_eq!(pick(Some("*/*")).as_deref(), Some("application/json"));
        assert_eq!(pick(None).as_deref(), Some("application/json"));
    }

    #[test]
    fn without_json_the_first_template_is_used() {
        let items = ["text/plain", "text/html"];
        assert_eq!(
            choose(&items, Some("image/png"), |s| s),
            Some(&"text/plain")
        );
        assert_eq!(choose::<&str>(&[], Some("text/plain"), |s| s), None);
    }
}
