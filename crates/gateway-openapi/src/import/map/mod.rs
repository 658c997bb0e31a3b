//! From a checked document to the gateway's API model.
//!
//! [`Mapper`] walks the typed document once; security (authorizers, method
//! authorization and the resource policy) lives in [`security`] and integrations in
//! [`integration`].

use std::collections::BTreeMap;

use gateway_core::error::{GatewayResponse, GatewayResponseType, GatewayResponses};
use gateway_core::model::{
    Api, ApiKeySource, ApiProtocol, MethodResponse, RequestValidator, Route, RouteMethod,
};
use gateway_core::router::{MatchMode, RouteError, Router};
use http::StatusCode;
use indexmap::IndexMap;
use serde_json::Value;

use self::security::SchemeUse;
use super::doc::{
    Document, Header, IntegrationDoc, Operation, Other, Parameter, PathItem, RequestBody, Response,
};
use super::error::{LoadError, Warning};

mod integration;
mod security;

/// How many `$ref`s are followed in a row before giving up (a cycle, most likely).
const MAX_REF_DEPTH: usize = 16;

type Result<T> = std::result::Result<T, LoadError>;

/// Something that may be a `$ref` to an entry of a `components` section.
trait Referable {
    fn reference(&self) -> Option<&str>;
}

macro_rules! referable {
    ($($t:ty),*) => {$(
        impl Referable for $t {
            fn reference(&self) -> Option<&str> {
                self.reference.as_deref()
            }
        }
    )*};
}

referable!(Parameter, RequestBody, Response, Header, IntegrationDoc);

/// Maps one document; holds the warnings found on the way.
#[derive(Debug)]
pub(crate) struct Mapper<'a> {
    file: &'a str,
    doc: &'a Document,
    protocol: ApiProtocol,
    warnings: Vec<Warning>,
    models: BTreeMap<String, Value>,
    schemes: IndexMap<String, SchemeUse>,
}

impl<'a> Mapper<'a> {
    pub(crate) fn new(file: &'a str, doc: &'a Document, protocol: ApiProtocol) -> Self {
        Self {
            file,
            doc,
            protocol,
            warnings: Vec::new(),
            models: BTreeMap::new(),
            schemes: IndexMap::new(),
        }
    }

    /// Builds the API; `api_id` overrides the id derived from the title.
    pub(crate) fn map(mut self, api_id: Option<String>) -> Result<(Api, Vec<Warning>)> {
        let doc = self.doc;
        let info = doc
            .info
            .as_ref()
            .ok_or_else(|| self.error("info", "missing; `info.title` names the API"))?;
        let name = match &info.title {
            Some(title) if !title.0.trim().is_empty() => title.0.clone(),
            _ => return Err(self.error("info.title", "missing or empty; it names the API")),
        };
        if let Some(version) = &doc.importexport_version
            && version.0 != "1.0"
        {
            self.warn(
                "x-amazon-apigateway-importexport-version",
                format!(
                    "version `{}` is unknown; the document is read as version 1.0",
                    version.0
                ),
            );
        }

        self.models = doc
            .components
            .schemas
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let request_validators = self.request_validators()?;
        if let Some(default) = &doc.request_validator
            && !request_validators.contains_key(default)
        {
            return Err(self.error(
                "x-amazon-apigateway-request-validator",
                format!("`{default}` is not defined in x-amazon-apigateway-request-validators"),
            ));
        }
        let api_key_source = self.api_key_source()?;
        let gateway_responses = self.gateway_responses()?;
        let authorizers = self.security_schemes()?;
        self.check_api_key_source(api_key_source, &authorizers);
        let policy = self.policy()?;
        let routes = self.routes(&request_validators)?;

        let api = Api {
            id: api_id.unwrap_or_else(|| derive_api_id(&name)),
            name,
            version: info.version.as_ref().map(|v| v.0.clone()),
            description: info.description.clone(),
            protocol: self.protocol,
            routes,
            gateway_responses,
            api_key_source,
            binary_media_types: doc.binary_media_types.clone(),
            models: self.models,
            request_validators,
            default_request_validator: doc.request_validator.clone(),
            authorizers,
            policy,
        };
        Ok((api, self.warnings))
    }

    fn error(&self, location: impl Into<String>, message: impl Into<String>) -> LoadError {
        LoadError::invalid(self.file, location, message)
    }

    fn warn(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Warning {
            file: self.file.to_owned(),
            location: location.into(),
            message: message.into(),
        });
    }

    /// Warns about every key of an AWS object that is not mapped.
    fn warn_other(&mut self, location: &str, other: &Other, not_yet: &[(&str, &str)]) {
        for key in other.keys() {
            let message = match not_yet.iter().find(|(k, _)| k == key) {
                Some((_, what)) => format!("`{key}` ({what}) is not supported yet and is ignored"),
                None => format!("unknown field `{key}` is ignored"),
            };
            self.warn(format!("{location}.{key}"), message);
        }
    }

    /// Follows `item`'s `$ref` chain into `components.{section}`; returns the target
    /// and its location.
    fn resolve<T: Referable>(
        &self,
        item: &'a T,
        location: String,
        section: &str,
        table: &'a IndexMap<String, T>,
    ) -> Result<(&'a T, String)> {
        let prefix = format!("#/components/{section}/");
        let mut current = item;
        let mut location = location;
        for _ in 0..MAX_REF_DEPTH {
            let Some(reference) = current.reference() else {
                return Ok((current, location));
            };
            let ref_location = format!("{location}.$ref");
            let name = reference
                .strip_prefix(&prefix)
                .map(unescape_pointer)
                .ok_or_else(|| {
                    self.error(
                        &ref_location,
                        format!(
                            "`{reference}`: only local references to `{prefix}NAME` are \
                             supported here"
                        ),
                    )
                })?;
            let (key, target) = table.get_key_value(name.as_str()).ok_or_else(|| {
                self.error(
                    &ref_location,
                    format!(
                        "`{reference}` refers to nothing: components.{section} has no `{name}`"
                    ),
                )
            })?;
            current = target;
            location = format!("components.{section}.{key}");
        }
        Err(self.error(location, "too many `$ref`s in a row (a reference cycle?)"))
    }

    fn request_validators(&mut self) -> Result<BTreeMap<String, RequestValidator>> {
        let mut validators = BTreeMap::new();
        for (name, doc) in &self.doc.request_validators {
            let location = format!("x-amazon-apigateway-request-validators.{name}");
            self.warn_other(&location, &doc.other, &[]);
            validators.insert(
                name.clone(),
                RequestValidator {
                    validate_request_body: doc.validate_request_body.unwrap_or(false),
                    validate_request_parameters: doc.validate_request_parameters.unwrap_or(false),
                },
            );
        }
        Ok(validators)
    }

    fn api_key_source(&self) -> Result<ApiKeySource> {
        match self.doc.api_key_source.as_deref() {
            None => Ok(ApiKeySource::default()),
            Some(s) if s.eq_ignore_ascii_case("HEADER") => Ok(ApiKeySource::Header),
            Some(s) if s.eq_ignore_ascii_case("AUTHORIZER") => Ok(ApiKeySource::Authorizer),
            Some(s) => Err(self.error(
                "x-amazon-apigateway-api-key-source",
                format!("`{s}` is not an API key source (HEADER, AUTHORIZER)"),
            )),
        }
    }

    fn gateway_responses(&mut self) -> Result<BTreeMap<GatewayResponseType, GatewayResponse>> {
        let mut responses = BTreeMap::new();
        for (key, doc) in &self.doc.gateway_responses {
            let location = format!("x-amazon-apigateway-gateway-responses.{key}");
            let kind = GatewayResponseType::from_name(key)
                .or_else(|| GatewayResponseType::from_name(&key.to_ascii_uppercase()))
                .ok_or_else(|| {
                    let known: Vec<&str> = GatewayResponseType::ALL
                        .iter()
                        .map(|t| t.as_str())
                        .collect();
                    self.error(
                        &location,
                        format!(
                            "unknown gateway response type `{key}` (known types: {})",
                            known.join(", ")
                        ),
                    )
                })?;
            let status_code = match &doc.status_code {
                None => None,
                Some(text) => Some(parse_status(&text.0).ok_or_else(|| {
                    self.error(
                        format!("{location}.statusCode"),
                        format!("`{}` is not an HTTP status code (100-599)", text.0),
                    )
                })?),
            };
            self.warn_other(&location, &doc.other, &[]);
            let response = GatewayResponse {
                status_code,
                response_parameters: to_btree(&doc.response_parameters),
                response_templates: templates(&doc.response_templates),
            };
            // Fail at load time, naming the entry, rather than when the API is served.
            let single = BTreeMap::from([(kind, response.clone())]);
            if let Err(e) = GatewayResponses::compile(&single) {
                let (head, message) = e.split_once(": ").unwrap_or(("", e.as_str()));
                let field = head.strip_prefix(kind.as_str()).unwrap_or("");
                return Err(self.error(format!("{location}{field}"), message));
            }
            if responses.insert(kind, response).is_some() {
                return Err(self.error(
                    &location,
                    format!(
                        "gateway response type `{}` is declared twice",
                        kind.as_str()
                    ),
                ));
            }
        }
        Ok(responses)
    }

    fn routes(&mut self, validators: &BTreeMap<String, RequestValidator>) -> Result<Vec<Route>> {
        let mode = match self.protocol {
            ApiProtocol::Http => MatchMode::RouteFirst,
            ApiProtocol::Rest | ApiProtocol::WebSocket => MatchMode::ResourceFirst,
        };
        let mut router = Router::<()>::new(mode);
        let mut routes = Vec::new();
        let doc = self.doc;
        for (path, item) in &doc.paths {
            let path_location = format!("paths.{path}");
            if item.reference.is_some() {
                return Err(self.error(
                    format!("{path_location}.$ref"),
                    "path item references are not supported; write the operations out",
                ));
            }
            for key in &item.unknown {
                self.warn(
                    format!("{path_location}.{key}"),
                    format!(
                        "unknown path item field `{key}` is ignored (method keys are lower case)"
                    ),
                );
            }
            if path == "$default" && self.protocol != ApiProtocol::Http {
                return Err(self.error(
                    &path_location,
                    "`$default` is the catch-all route of HTTP APIs; REST API paths start with `/`",
                ));
            }
            for (key, operation) in &item.operations {
                let location = format!("{path_location}.{key}");
                let method = RouteMethod::parse(key).map_err(|e| self.error(&location, e))?;
                if path == "$default" && method != RouteMethod::Any {
                    return Err(self.error(
                        &location,
                        "the `$default` route answers every method; declare it under \
                         x-amazon-apigateway-any-method",
                    ));
                }
                router
                    .insert(&method, path, ())
                    .map_err(|e| self.route_error(&e, &path_location, &location))?;
                let route = self.route(path, item, &method, operation, &location, validators)?;
                routes.push(route);
            }
        }
        Ok(routes)
    }

    fn route_error(&self, err: &RouteError, path_location: &str, location: &str) -> LoadError {
        match err {
            RouteError::Duplicate { .. } => self.error(location, err.to_string()),
            RouteError::InvalidPath { .. } | RouteError::ConflictingParam { .. } => {
                self.error(path_location, err.to_string())
            }
        }
    }

    fn route(
        &mut self,
        path: &str,
        item: &'a PathItem,
        method: &RouteMethod,
        operation: &'a Operation,
        location: &str,
        validators: &BTreeMap<String, RequestValidator>,
    ) -> Result<Route> {
        let mut route = Route::new(method.clone(), path);
        route.operation_id = operation.operation_id.clone();
        route.request_parameters = self.parameters(path, item, operation, location)?;
        if let Some(body) = &operation.request_body {
            let (body, body_location) = self.resolve(
                body,
                format!("{location}.requestBody"),
                "requestBodies",
                &self.doc.components.request_bodies,
            )?;
            for (content_type, media) in &body.content {
                if let Some(schema) = &media.schema {
                    let name = self.model_for(
                        schema,
                        &format!("{body_location}.content.{content_type}.schema"),
                        &model_base(method, path, "Request"),
                    )?;
                    route.request_models.insert(content_type.clone(), name);
                }
            }
        }
        if let Some(name) = &operation.request_validator {
            if !validators.contains_key(name) {
                return Err(self.error(
                    format!("{location}.x-amazon-apigateway-request-validator"),
                    format!("`{name}` is not defined in x-amazon-apigateway-request-validators"),
                ));
            }
            route.request_validator = Some(name.clone());
        }
        self.method_responses(path, method, operation, location, &mut route)?;
        self.security(operation, location, &mut route)?;
        route.integration = match &operation.integration {
            Some(integration) => Some(self.integration(
                integration,
                format!("{location}.x-amazon-apigateway-integration"),
            )?),
            None => {
                self.warn(
                    location,
                    "no x-amazon-apigateway-integration: AWS refuses to deploy a method \
                     without one; this gateway answers it with 500",
                );
                None
            }
        };
        Ok(route)
    }

    /// Path-level parameters merged with the operation's (the operation wins).
    fn parameters(
        &mut self,
        path: &str,
        item: &'a PathItem,
        operation: &'a Operation,
        location: &str,
    ) -> Result<BTreeMap<String, bool>> {
        let mut merged: IndexMap<(String, String), bool> = IndexMap::new();
        let path_level = item
            .parameters
            .iter()
            .enumerate()
            .map(|(i, p)| (p, format!("paths.{path}.parameters[{i}]")));
        let operation_level = operation
            .parameters
            .iter()
            .enumerate()
            .map(|(i, p)| (p, format!("{location}.parameters[{i}]")));
        for (parameter, parameter_location) in path_level.chain(operation_level) {
            let (parameter, parameter_location) = self.resolve(
                parameter,
                parameter_location,
                "parameters",
                &self.doc.components.parameters,
            )?;
            let name = parameter
                .name
                .as_deref()
                .ok_or_else(|| self.error(format!("{parameter_location}.name"), "missing"))?;
            let place = parameter.location.as_deref().ok_or_else(|| {
                self.error(
                    format!("{parameter_location}.in"),
                    "missing (path, query, header)",
                )
            })?;
            let (source, required) = match place {
                "path" => ("path", true),
                "query" => ("querystring", parameter.required.unwrap_or(false)),
                "header" => ("header", parameter.required.unwrap_or(false)),
                "cookie" => {
                    self.warn(
                        format!("{parameter_location}.in"),
                        format!(
                            "cookie parameter `{name}` has no API Gateway equivalent and is ignored"
                        ),
                    );
                    continue;
                }
                other => {
                    return Err(self.error(
                        format!("{parameter_location}.in"),
                        format!(
                            "`{other}` is not a parameter location (path, query, header, cookie)"
                        ),
                    ));
                }
            };
            merged.insert((source.to_owned(), name.to_owned()), required);
        }
        Ok(merged
            .into_iter()
            .map(|((source, name), required)| (format!("method.request.{source}.{name}"), required))
            .collect())
    }

    fn method_responses(
        &mut self,
        path: &str,
        method: &RouteMethod,
        operation: &'a Operation,
        location: &str,
        route: &mut Route,
    ) -> Result<()> {
        for (code, response) in &operation.responses {
            let response_location = format!("{location}.responses.{code}");
            // `default` documents "anything else"; API Gateway has no such method response.
            if code == "default" {
                continue;
            }
            if parse_status(code).is_none() || code.len() != 3 {
                self.warn(
                    &response_location,
                    format!(
                        "`{code}` is not a status code; API Gateway method responses need one, \
                         so this response is ignored"
                    ),
                );
                continue;
            }
            let (response, response_location) = self.resolve(
                response,
                response_location,
                "responses",
                &self.doc.components.responses,
            )?;
            let mut method_response = MethodResponse::default();
            for (name, header) in &response.headers {
                let (header, _) = self.resolve(
                    header,
                    format!("{response_location}.headers.{name}"),
                    "headers",
                    &self.doc.components.headers,
                )?;
                method_response.response_parameters.insert(
                    format!("method.response.header.{name}"),
                    header.required.unwrap_or(false),
                );
            }
            for (content_type, media) in &response.content {
                if let Some(schema) = &media.schema {
                    let name = self.model_for(
                        schema,
                        &format!("{response_location}.content.{content_type}.schema"),
                        &model_base(method, path, &format!("Response{code}")),
                    )?;
                    method_response
                        .response_models
                        .insert(content_type.clone(), name);
                }
            }
            route.method_responses.insert(code.clone(), method_response);
        }
        Ok(())
    }

    /// The model name for a schema: the target of a `#/components/schemas/NAME`
    /// reference, or a generated name under which an inline schema is added.
    fn model_for(&mut self, schema: &Value, location: &str, base: &str) -> Result<String> {
        if let Some(reference) = schema.get("$ref") {
            let Value::String(reference) = reference else {
                return Err(self.error(format!("{location}.$ref"), "must be a string"));
            };
            let name = reference
                .strip_prefix("#/components/schemas/")
                .map(unescape_pointer)
                .ok_or_else(|| {
                    self.error(
                        format!("{location}.$ref"),
                        format!(
                            "`{reference}`: only local references to `#/components/schemas/NAME` \
                             are supported"
                        ),
                    )
                })?;
            if !self.doc.components.schemas.contains_key(&name) {
                return Err(self.error(
                    format!("{location}.$ref"),
                    format!("`{reference}` refers to nothing: components.schemas has no `{name}`"),
                ));
            }
            return Ok(name);
        }
        let mut name = base.to_owned();
        let mut n = 2;
        while self.models.contains_key(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        self.models.insert(name.clone(), schema.clone());
        Ok(name)
    }
}

/// A stable 10-character lower-case alphanumeric id derived from the API's title
/// (FNV-1a, base 36), shaped like the ids AWS assigns.
pub(crate) fn derive_api_id(title: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in title.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut id = String::with_capacity(10);
    for _ in 0..10 {
        id.push(char::from(ALPHABET[(hash % 36) as usize]));
        hash /= 36;
    }
    id
}

/// A 3-digit status code between 100 and 599.
fn parse_status(text: &str) -> Option<StatusCode> {
    let code: u16 = text.trim().parse().ok()?;
    if (100..=599).contains(&code) {
        StatusCode::from_u16(code).ok()
    } else {
        None
    }
}

/// Decodes a JSON pointer segment (`~1` is `/`, `~0` is `~`).
fn unescape_pointer(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// A model name for an inline schema: method, path words and a suffix in camel case
/// (`POST /pets/{petId}` + `Request` → `PostPetsPetIdRequest`); API Gateway model names
/// are alphanumeric.
fn model_base(method: &RouteMethod, path: &str, suffix: &str) -> String {
    let mut name = String::new();
    let method = method.as_str().to_ascii_lowercase();
    for word in
        std::iter::once(method.as_str()).chain(path.split(|c: char| !c.is_ascii_alphanumeric()))
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.push(first.to_ascii_uppercase());
            name.extend(chars);
        }
    }
    name.push_str(suffix);
    name
}

fn to_btree(map: &IndexMap<String, String>) -> BTreeMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Templates by content type; an empty (`null`) template is the empty string.
fn templates(map: &IndexMap<String, Option<String>>) -> BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_ids_are_stable_short_and_lower_case() {
        let id = derive_api_id("PetStore");
        assert_eq!(id.len(), 10);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(id, derive_api_id("PetStore"));
        assert_ne!(id, derive_api_id("PetStore2"));
        assert_eq!(derive_api_id("").len(), 10);
    }

    #[test]
    fn status_codes_are_three_digits_in_range() {
        assert_eq!(parse_status("200"), Some(StatusCode::OK));
        assert_eq!(parse_status(" 404 "), Some(StatusCode::NOT_FOUND));
        assert_eq!(parse_status("600"), None);
        assert_eq!(parse_status("99"), None);
        assert_eq!(parse_status("2XX"), None);
    }

    #[test]
    fn model_names_are_alphanumeric_camel_case() {
        let post = RouteMethod::Method(http::Method::POST);
        assert_eq!(
            model_base(&post, "/pets/{petId}", "Request"),
            "PostPetsPetIdRequest"
        );
        assert_eq!(
            model_base(&RouteMethod::Any, "$default", "Response200"),
            "AnyDefaultResponse200"
        );
        assert_eq!(model_base(&post, "/", "Request"), "PostRequest");
    }

    #[test]
    fn pointer_segments_are_unescaped() {
        assert_eq!(unescape_pointer("a~1b~0c"), "a/b~c");
    }
}
