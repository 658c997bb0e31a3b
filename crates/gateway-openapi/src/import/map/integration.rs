//! `x-amazon-apigateway-integration` → the method's integration.

use std::collections::BTreeMap;
use std::time::Duration;

use gateway_core::model::{
    ApiProtocol, ContentHandling, Integration, IntegrationResponse, IntegrationType,
    MAX_HTTP_API_INTEGRATION_TIMEOUT, MAX_INTEGRATION_TIMEOUT, MIN_INTEGRATION_TIMEOUT,
    PassthroughBehavior, RouteMethod, TlsConfig,
};

use super::{Mapper, Result, parse_status, templates, to_btree};
use crate::import::doc::IntegrationDoc;

/// The integration timeout of an HTTP API that sets none.
const HTTP_API_DEFAULT_TIMEOUT: Duration = MAX_HTTP_API_INTEGRATION_TIMEOUT;

/// Integration fields API Gateway defines that this gateway does not honour yet.
const INTEGRATION_NOT_YET: [(&str, &str); 2] = [
    ("connectionId", "private integrations through a VPC link"),
    ("integrationTarget", "private integration targets"),
];

impl<'a> Mapper<'a> {
    pub(super) fn integration(
        &mut self,
        doc: &'a IntegrationDoc,
        location: String,
    ) -> Result<Integration> {
        let (doc, location) = self.resolve(
            doc,
            location,
            "x-amazon-apigateway-integrations",
            &self.doc.components.integrations,
        )?;
        let field = |name: &str| format!("{location}.{name}");
        let kind_text = doc.kind.as_deref().ok_or_else(|| {
            self.error(
                field("type"),
                "missing (MOCK, HTTP, HTTP_PROXY, AWS, AWS_PROXY)",
            )
        })?;
        let kind = IntegrationType::parse(kind_text).map_err(|e| self.error(field("type"), e))?;
        let mut integration = Integration::new(kind);
        if self.protocol == ApiProtocol::Http {
            integration.timeout = HTTP_API_DEFAULT_TIMEOUT;
        }
        integration.uri = doc.uri.as_ref().map(|uri| uri.0.clone());
        if let Some(subtype) = &doc.integration_subtype {
            if self.protocol != ApiProtocol::Http {
                return Err(self.error(
                    field("integrationSubtype"),
                    "AWS service integrations (integrationSubtype) belong to HTTP APIs; \
                     REST APIs call AWS services through AWS integrations",
                ));
            }
            // The subtype and its parameters are checked when the route compiles.
            integration.subtype = Some(subtype.clone());
        }
        if kind != IntegrationType::Mock
            && integration.uri.is_none()
            && integration.subtype.is_none()
        {
            return Err(self.error(
                field("uri"),
                format!("missing; a {} integration needs a URI", kind.as_str()),
            ));
        }
        if let Some(method) = &doc.http_method {
            RouteMethod::parse(method).map_err(|e| self.error(field("httpMethod"), e))?;
            integration.http_method = Some(method.to_ascii_uppercase());
        }
        if let Some(millis) = doc.timeout_in_millis {
            let max = match self.protocol {
                ApiProtocol::Http => MAX_HTTP_API_INTEGRATION_TIMEOUT,
                ApiProtocol::Rest | ApiProtocol::WebSocket => MAX_INTEGRATION_TIMEOUT,
            };
            let timeout = Duration::from_millis(millis);
            if timeout < MIN_INTEGRATION_TIMEOUT || timeout > max {
                return Err(self.error(
                    field("timeoutInMillis"),
                    format!(
                        "{millis} is out of range: the timeout must be {} to {} milliseconds",
                        MIN_INTEGRATION_TIMEOUT.as_millis(),
                        max.as_millis()
                    ),
                ));
            }
            integration.timeout = timeout;
        }
        integration.request_parameters = to_btree(&doc.request_parameters);
        integration.request_templates = templates(&doc.request_templates);
        if let Some(behavior) = &doc.passthrough_behavior {
            integration.passthrough_behavior = PassthroughBehavior::parse(behavior)
                .map_err(|e| self.error(field("passthroughBehavior"), e))?;
        }
        if let Some(handling) = &doc.content_handling {
            integration.content_handling = Some(
                ContentHandling::parse(&handling.to_ascii_uppercase())
                    .map_err(|e| self.error(field("contentHandling"), e))?,
            );
        }
        if let Some(version) = &doc.payload_format_version {
            if version.0 != "1.0" && version.0 != "2.0" {
                return Err(self.error(
                    field("payloadFormatVersion"),
                    format!("`{}` is not a payload format version (1.0, 2.0)", version.0),
                ));
            }
            integration.payload_format_version = Some(version.0.clone());
        }
        integration.credentials = doc.credentials.clone();
        integration.cache_key_parameters = doc.cache_key_parameters.clone();
        integration.cache_namespace = doc.cache_namespace.clone();
        match doc.connection_type.as_deref() {
            None => {}
            Some(t) if t.eq_ignore_ascii_case("INTERNET") => {}
            Some(t) if t.eq_ignore_ascii_case("VPC_LINK") => self.warn(
                field("connectionType"),
                "private integrations (VPC_LINK) are not supported yet; the URI is called \
                 directly",
            ),
            Some(other) => {
                return Err(self.error(
                    field("connectionType"),
                    format!("`{other}` is not a connection type (INTERNET, VPC_LINK)"),
                ));
            }
        }
        match doc.response_transfer_mode.as_deref() {
            None => {}
            Some(m) if m.eq_ignore_ascii_case("BUFFERED") => {}
            Some(m) if m.eq_ignore_ascii_case("STREAM") => self.warn(
                field("responseTransferMode"),
                "response streaming is not supported yet; responses are buffered",
            ),
            Some(other) => {
                return Err(self.error(
                    field("responseTransferMode"),
                    format!("`{other}` is not a response transfer mode (BUFFERED, STREAM)"),
                ));
            }
        }
        if let Some(tls) = &doc.tls_config {
            let tls_location = field("tlsConfig");
            if matches!(kind, IntegrationType::Http | IntegrationType::HttpProxy) {
                integration.tls_config = TlsConfig {
                    insecure_skip_verification: tls.insecure_skip_verification.unwrap_or(false),
                    server_name_to_verify: tls.server_name_to_verify.clone(),
                };
            } else {
                self.warn(
                    tls_location.clone(),
                    format!(
                        "tlsConfig applies to HTTP and HTTP_PROXY integrations only and is \
                         ignored for {}",
                        kind.as_str()
                    ),
                );
            }
            self.warn_other(&tls_location, &tls.other, &[]);
        }
        if let Some(parameters) = &doc.response_parameters {
            let parameters_location = field("responseParameters");
            if self.protocol == ApiProtocol::Http {
                integration.http_response_parameters =
                    self.http_response_parameters(parameters, &parameters_location)?;
            } else {
                self.warn(
                    parameters_location,
                    "integration-level `responseParameters` (by status code) belong to HTTP \
                     APIs and are ignored; REST APIs map responses under `responses`",
                );
            }
        }
        for (pattern, response) in &doc.responses {
            let response_location = format!("{location}.responses.{pattern}");
            let status = response
                .status_code
                .as_ref()
                .ok_or_else(|| self.error(format!("{response_location}.statusCode"), "missing"))?;
            if parse_status(&status.0).is_none() || status.0.trim().len() != 3 {
                return Err(self.error(
                    format!("{response_location}.statusCode"),
                    format!("`{}` is not an HTTP status code (100-599)", status.0),
                ));
            }
            let mut mapped = IntegrationResponse::new(pattern.clone(), status.0.trim());
            mapped.response_parameters = to_btree(&response.response_parameters);
            mapped.response_templates = templates(&response.response_templates);
            if let Some(handling) = &response.content_handling {
                mapped.content_handling = Some(
                    ContentHandling::parse(&handling.to_ascii_uppercase()).map_err(|e| {
                        self.error(format!("{response_location}.contentHandling"), e)
                    })?,
                );
            }
            self.warn_other(&response_location, &response.other, &[]);
            integration.responses.push(mapped);
        }
        self.warn_other(&location, &doc.other, &INTEGRATION_NOT_YET);
        Ok(integration)
    }
}

impl Mapper<'_> {
    /// An HTTP API integration's `responseParameters`: an object from status codes
    /// (200-599) to objects from mapping keys to values. Keys and values are checked
    /// when the route compiles.
    fn http_response_parameters(
        &self,
        parameters: &serde_json::Value,
        location: &str,
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
        let serde_json::Value::Object(by_status) = parameters else {
            if parameters.is_null() {
                return Ok(BTreeMap::new());
            }
            return Err(self.error(
                location,
                "must be an object from status codes to parameter mappings",
            ));
        };
        let mut out = BTreeMap::new();
        for (status, mappings) in by_status {
            let status_location = format!("{location}.{status}");
            let valid_status = status.len() == 3
                && status
                    .parse::<u16>()
                    .is_ok_and(|code| (200..=599).contains(&code));
            if !valid_status {
                return Err(self.error(
                    status_location,
                    format!("`{status}` is not a status code from 200 to 599"),
                ));
            }
            let mut mapped = BTreeMap::new();
            match mappings {
                serde_json::Value::Null => {}
                serde_json::Value::Object(mappings) => {
                    for (key, value) in mappings {
                        let value = match value {
                            serde_json::Value::String(text) => text.clone(),
                            serde_json::Value::Number(number) => number.to_string(),
                            _ => {
                                return Err(self.error(
                                    format!("{status_location}.{key}"),
                                    "must be a string",
                                ));
                            }
                        };
                        mapped.insert(key.clone(), value);
                    }
                }
                _ => {
                    return Err(self.error(
                        status_location,
                        "must be an object from mapping keys to values",
                    ));
                }
            }
            out.insert(status.clone(), mapped);
        }
        Ok(out)
    }
}
