//! Security: schemes and their `x-amazon-apigateway-authorizer` → [`Authorizer`]s,
//! requirements → a method's authorization, and the resource policy.
//!
//! Choices where AWS's documentation leaves room, so that what is imported is safe to
//! serve:
//!
//! - A `request` authorizer must name its identity sources unless caching is off
//!   (`authorizerResultTtlInSeconds: 0`): the sources are the cache key, and without
//!   them every caller would share one cached answer. REST APIs cache for 300 s when
//!   no TTL is given, so there the sources are required; an HTTP API authorizer with
//!   neither sources nor TTL is imported with caching off.
//! - HTTP API Lambda authorizers must state `authorizerPayloadFormatVersion`, as the
//!   CLI and CloudFormation require (only the console picks a default).
//! - A setting that does not apply to the authorizer's type or to the API's protocol
//!   (`jwtConfiguration` on a Lambda authorizer, `enableSimpleResponses` in a REST
//!   API…) is a warning and is ignored, as AWS ignores it.
//! - The resource policy is kept as written: `execute-api:/*` resources are not
//!   expanded into ARNs here, since the region and account are only known when the
//!   API is served.

use std::collections::BTreeMap;

use gateway_core::model::{
    ApiKeySource, ApiProtocol, Authorization, AuthorizationType, Authorizer, AuthorizerType,
    JwtConfiguration, Route,
};
use serde_json::Value;

use super::{Mapper, Result};
use crate::import::doc::{AuthorizerDoc, Operation, SecurityRequirement, SecurityScheme};

/// What a security scheme means to API Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SchemeUse {
    /// The scheme authorizes callers.
    Authorizer(AuthorizationType),
    /// The scheme is API Gateway's API key (`x-api-key`).
    ApiKey,
    /// The scheme means nothing to API Gateway (a warning was given).
    Ignored,
}

/// The longest time an authorizer's result may be cached, in seconds.
const MAX_RESULT_TTL_SECONDS: u32 = 3600;

/// Where an HTTP API JWT authorizer reads its token when the document does not say.
const DEFAULT_JWT_IDENTITY_SOURCE: &str = "$request.header.Authorization";

/// The policy language versions IAM accepts.
const POLICY_VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];

/// The resource policy's place in the document.
const POLICY_LOCATION: &str = "x-amazon-apigateway-policy";

impl Mapper<'_> {
    /// Reads every security scheme; returns the authorizers they define, by scheme name.
    pub(super) fn security_schemes(&mut self) -> Result<BTreeMap<String, Authorizer>> {
        let mut authorizers = BTreeMap::new();
        let doc = self.doc;
        for (name, scheme) in &doc.components.security_schemes {
            let location = format!("components.securitySchemes.{name}");
            let scheme_use = if let Some(authorizer_doc) = &scheme.authorizer {
                let authorizer = self.authorizer(name, scheme, authorizer_doc, &location)?;
                let kind = authorization_type(authorizer.kind);
                authorizers.insert(name.clone(), authorizer);
                SchemeUse::Authorizer(kind)
            } else if let Some(authtype) = &scheme.authtype {
                if authtype.eq_ignore_ascii_case("awsSigv4") {
                    SchemeUse::Authorizer(AuthorizationType::AwsIam)
                } else {
                    // `custom`, `cognito_user_pools`, or a free-form label of a Lambda
                    // authorizer: a label only, the settings live in the authorizer.
                    let kind = if authtype.eq_ignore_ascii_case("cognito_user_pools") {
                        AuthorizationType::CognitoUserPools
                    } else {
                        AuthorizationType::Custom
                    };
                    self.warn(
                        format!("{location}.x-amazon-apigateway-authtype"),
                        format!(
                            "`{authtype}` labels an authorizer, but the scheme has no \
                             x-amazon-apigateway-authorizer to define it; methods requiring \
                             `{name}` name an authorizer that does not exist"
                        ),
                    );
                    SchemeUse::Authorizer(kind)
                }
            } else if is_api_key(
                scheme.kind.as_deref(),
                scheme.location.as_deref(),
                scheme.name.as_deref(),
            ) {
                SchemeUse::ApiKey
            } else {
                self.warn(
                    &location,
                    format!(
                        "security scheme of type `{}` has no API Gateway meaning without \
                         x-amazon-apigateway-authtype or x-amazon-apigateway-authorizer; \
                         methods requiring it are not protected by it",
                        scheme.kind.as_deref().unwrap_or("?")
                    ),
                );
                SchemeUse::Ignored
            };
            self.schemes.insert(name.clone(), scheme_use);
        }
        Ok(authorizers)
    }

    /// Maps one `x-amazon-apigateway-authorizer`; `location` is its scheme's.
    fn authorizer(
        &mut self,
        name: &str,
        scheme: &SecurityScheme,
        doc: &AuthorizerDoc,
        location: &str,
    ) -> Result<Authorizer> {
        let location = format!("{location}.x-amazon-apigateway-authorizer");
        let kind = self.authorizer_type(doc, &location)?;
        let http = self.protocol == ApiProtocol::Http;
        self.check_protocol(kind, &location)?;
        self.warn_other(&location, &doc.other, &[]);

        let lambda = kind.is_lambda();
        let applicable = [
            ("authorizerUri", doc.uri.is_some(), lambda),
            ("authorizerCredentials", doc.credentials.is_some(), lambda),
            (
                "identityValidationExpression",
                doc.identity_validation_expression.is_some(),
                !http
                    && matches!(
                        kind,
                        AuthorizerType::Token | AuthorizerType::CognitoUserPools
                    ),
            ),
            (
                "authorizerResultTtlInSeconds",
                doc.result_ttl_seconds.is_some(),
                kind != AuthorizerType::Jwt,
            ),
            (
                "providerARNs",
                doc.provider_arns.is_some(),
                kind == AuthorizerType::CognitoUserPools,
            ),
            (
                "jwtConfiguration",
                doc.jwt_configuration.is_some(),
                kind == AuthorizerType::Jwt,
            ),
            (
                "authorizerPayloadFormatVersion",
                doc.payload_format_version.is_some(),
                http && lambda,
            ),
            (
                "enableSimpleResponses",
                doc.enable_simple_responses.is_some(),
                http && lambda,
            ),
        ];
        let api = if http { "an HTTP API" } else { "a REST API" };
        for (field, present, applies) in applicable {
            if present && !applies {
                self.warn(
                    format!("{location}.{field}"),
                    format!(
                        "`{field}` has no effect on a `{}` authorizer in {api} and is ignored",
                        kind.as_str()
                    ),
                );
            }
        }

        let uri = if lambda {
            let uri = doc.uri.as_ref().map(|u| u.0.trim()).unwrap_or_default();
            if uri.is_empty() {
                return Err(self.error(
                    format!("{location}.authorizerUri"),
                    format!(
                        "missing; a `{}` authorizer names the Lambda function it calls \
                         (arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/\
                         FUNCTION_ARN/invocations)",
                        kind.as_str()
                    ),
                ));
            }
            Some(uri.to_owned())
        } else {
            None
        };
        let credentials = if lambda {
            doc.credentials.clone()
        } else {
            None
        };
        let identity_validation_expression = if !http
            && matches!(
                kind,
                AuthorizerType::Token | AuthorizerType::CognitoUserPools
            ) {
            doc.identity_validation_expression.clone()
        } else {
            None
        };

        let mut result_ttl_seconds = match &doc.result_ttl_seconds {
            Some(text) if kind != AuthorizerType::Jwt => {
                Some(parse_ttl(&text.0).ok_or_else(|| {
                    self.error(
                        format!("{location}.authorizerResultTtlInSeconds"),
                        format!(
                            "`{}` is not a number of seconds from 0 to {MAX_RESULT_TTL_SECONDS}",
                            text.0
                        ),
                    )
                })?)
            }
            _ => None,
        };

        let identity_location = format!("{location}.identitySource");
        let identity_source = match &doc.identity_source {
            Some(list) => split_identity_sources(&list.0),
            None => self.default_identity_source(kind, scheme, &identity_location)?,
        };
        self.check_identity_sources(kind, &identity_source, &identity_location)?;
        if kind == AuthorizerType::Request && identity_source.is_empty() {
            match (http, result_ttl_seconds) {
                (_, Some(0)) => {}
                // HTTP APIs cache only when asked to; without sources there is no key.
                (true, None) => result_ttl_seconds = Some(0),
                _ => {
                    return Err(self.error(
                        &identity_location,
                        "missing; a `request` authorizer whose results are cached needs at \
                         least one identity source, which is the cache key (set \
                         authorizerResultTtlInSeconds: 0 to turn caching off)",
                    ));
                }
            }
        }

        let provider_arns = if kind == AuthorizerType::CognitoUserPools {
            let arns: Vec<String> = doc
                .provider_arns
                .as_ref()
                .map(|list| {
                    list.0
                        .iter()
                        .map(|arn| arn.trim().to_owned())
                        .filter(|arn| !arn.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            if arns.is_empty() {
                return Err(self.error(
                    format!("{location}.providerARNs"),
                    "missing; a `cognito_user_pools` authorizer lists the ARNs of its user \
                     pools (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID)",
                ));
            }
            arns
        } else {
            Vec::new()
        };

        let jwt = if kind == AuthorizerType::Jwt {
            Some(self.jwt_configuration(doc, &location)?)
        } else {
            None
        };

        let (payload_format_version, enable_simple_responses) = if http && lambda {
            self.lambda_response_format(doc, &location)?
        } else {
            (None, false)
        };

        Ok(Authorizer {
            name: name.to_owned(),
            kind,
            uri,
            credentials,
            identity_source,
            identity_validation_expression,
            result_ttl_seconds,
            provider_arns,
            jwt,
            payload_format_version,
            enable_simple_responses,
        })
    }

    fn authorizer_type(&self, doc: &AuthorizerDoc, location: &str) -> Result<AuthorizerType> {
        let Some(kind) = &doc.kind else {
            return Err(self.error(
                format!("{location}.type"),
                "missing (token, request, cognito_user_pools, jwt)",
            ));
        };
        match kind.to_ascii_lowercase().as_str() {
            "token" => Ok(AuthorizerType::Token),
            "request" => Ok(AuthorizerType::Request),
            "cognito_user_pools" => Ok(AuthorizerType::CognitoUserPools),
            "jwt" => Ok(AuthorizerType::Jwt),
            _ => Err(self.error(
                format!("{location}.type"),
                format!(
                    "`{kind}` is not an authorizer type (token, request, cognito_user_pools, jwt)"
                ),
            )),
        }
    }

    /// REST APIs have `token`, `request` and `cognito_user_pools` authorizers; HTTP
    /// APIs have `request` and `jwt` ones.
    fn check_protocol(&self, kind: AuthorizerType, location: &str) -> Result<()> {
        let message = match (self.protocol, kind) {
            (ApiProtocol::Http, AuthorizerType::Token) => {
                "HTTP APIs have no `token` authorizers; use a `request` authorizer with \
                 identitySource `$request.header.Authorization`"
            }
            (ApiProtocol::Http, AuthorizerType::CognitoUserPools) => {
                "HTTP APIs have no `cognito_user_pools` authorizers; use a `jwt` authorizer \
                 whose issuer is the user pool \
                 (https://cognito-idp.REGION.amazonaws.com/POOL_ID)"
            }
            (ApiProtocol::Rest | ApiProtocol::WebSocket, AuthorizerType::Jwt) => {
                "`jwt` authorizers belong to HTTP APIs; a REST API checks user pool tokens \
                 with a `cognito_user_pools` authorizer, other tokens with a Lambda \
                 (`token` or `request`) authorizer"
            }
            _ => return Ok(()),
        };
        Err(self.error(format!("{location}.type"), message))
    }

    /// The identity source when the authorizer does not give one: the security
    /// scheme's header for `token` and `cognito_user_pools` (AWS's exports write
    /// `in: header, name: Authorization` there), `Authorization` for `jwt`, none for
    /// `request`.
    fn default_identity_source(
        &self,
        kind: AuthorizerType,
        scheme: &SecurityScheme,
        location: &str,
    ) -> Result<Vec<String>> {
        match kind {
            AuthorizerType::Token | AuthorizerType::CognitoUserPools => {
                match (scheme.location.as_deref(), scheme.name.as_deref()) {
                    (Some("header"), Some(header)) if !header.trim().is_empty() => {
                        Ok(vec![format!("method.request.header.{}", header.trim())])
                    }
                    _ => Err(self.error(
                        location,
                        format!(
                            "missing; a `{}` authorizer reads its token from one header, \
                             named here (`method.request.header.NAME`) or by the security \
                             scheme's `in: header` and `name`",
                            kind.as_str()
                        ),
                    )),
                }
            }
            AuthorizerType::Jwt => Ok(vec![DEFAULT_JWT_IDENTITY_SOURCE.to_owned()]),
            AuthorizerType::Request => Ok(Vec::new()),
        }
    }

    fn check_identity_sources(
        &self,
        kind: AuthorizerType,
        sources: &[String],
        location: &str,
    ) -> Result<()> {
        let http = self.protocol == ApiProtocol::Http;
        let (allowed, one): (&[&str], bool) = match kind {
            AuthorizerType::Token | AuthorizerType::CognitoUserPools => {
                (&["method.request.header."], true)
            }
            AuthorizerType::Jwt => (&["$request.header.", "$request.querystring."], true),
            AuthorizerType::Request if http => (
                &[
                    "$request.header.",
                    "$request.querystring.",
                    "$context.",
                    "$stageVariables.",
                ],
                false,
            ),
            AuthorizerType::Request => (
                &[
                    "method.request.header.",
                    "method.request.querystring.",
                    "context.",
                    "stageVariables.",
                ],
                false,
            ),
        };
        if one && sources.len() != 1 {
            return Err(self.error(
                location,
                format!(
                    "a `{}` authorizer reads exactly one identity source, not {}",
                    kind.as_str(),
                    sources.len()
                ),
            ));
        }
        for source in sources {
            let valid = allowed.iter().any(|prefix| {
                source
                    .strip_prefix(prefix)
                    .is_some_and(|name| !name.is_empty())
            });
            if !valid {
                let forms: Vec<String> = allowed.iter().map(|p| format!("`{p}NAME`")).collect();
                return Err(self.error(
                    location,
                    format!(
                        "`{source}` is not an identity source of a `{}` authorizer in {} ({})",
                        kind.as_str(),
                        if http { "an HTTP API" } else { "a REST API" },
                        forms.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn jwt_configuration(
        &mut self,
        doc: &AuthorizerDoc,
        location: &str,
    ) -> Result<JwtConfiguration> {
        let config_location = format!("{location}.jwtConfiguration");
        let Some(config) = &doc.jwt_configuration else {
            return Err(self.error(
                &config_location,
                "missing; a `jwt` authorizer needs an issuer and its audiences",
            ));
        };
        self.warn_other(&config_location, &config.other, &[]);
        let issuer = config
            .issuer
            .as_deref()
            .map(str::trim)
            .filter(|issuer| !issuer.is_empty())
            .ok_or_else(|| {
                self.error(
                    format!("{config_location}.issuer"),
                    "missing; the issuer is the `iss` of accepted tokens, under which their \
                     signing keys are published",
                )
            })?;
        let audience: Vec<String> = config
            .audience
            .as_ref()
            .map(|list| {
                list.0
                    .iter()
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if audience.is_empty() {
            return Err(self.error(
                format!("{config_location}.audience"),
                "missing; a `jwt` authorizer lists at least one accepted audience (`aud`, or \
                 `client_id` for access tokens)",
            ));
        }
        Ok(JwtConfiguration {
            issuer: issuer.to_owned(),
            audience,
        })
    }

    /// An HTTP API Lambda authorizer's payload format version and response shape.
    fn lambda_response_format(
        &self,
        doc: &AuthorizerDoc,
        location: &str,
    ) -> Result<(Option<String>, bool)> {
        let version_location = format!("{location}.authorizerPayloadFormatVersion");
        let version = match doc.payload_format_version.as_ref().map(|v| v.0.trim()) {
            Some(version @ ("1.0" | "2.0")) => version.to_owned(),
            Some(other) => {
                return Err(self.error(
                    version_location,
                    format!("`{other}` is not a payload format version (1.0, 2.0)"),
                ));
            }
            None => {
                return Err(self.error(
                    version_location,
                    "missing (1.0, 2.0); HTTP API Lambda authorizers must state it",
                ));
            }
        };
        let simple = doc.enable_simple_responses.unwrap_or(false);
        if simple && version != "2.0" {
            return Err(self.error(
                format!("{location}.enableSimpleResponses"),
                "simple responses need authorizerPayloadFormatVersion 2.0",
            ));
        }
        Ok((Some(version), simple))
    }

    /// The root `x-amazon-apigateway-policy`, its shape checked. HTTP APIs have no
    /// resource policies: there it is a warning.
    pub(super) fn policy(&mut self) -> Result<Option<Value>> {
        let Some(policy) = &self.doc.policy else {
            return Ok(None);
        };
        if self.protocol == ApiProtocol::Http {
            self.warn(
                POLICY_LOCATION,
                "HTTP APIs have no resource policies; the policy is ignored",
            );
            return Ok(None);
        }
        let policy = match policy {
            // CloudFormation's `Policy` also takes the document as a JSON string.
            Value::String(text) => serde_json::from_str(text).map_err(|err| {
                self.error(
                    POLICY_LOCATION,
                    format!("a policy written as a string must be a JSON policy document: {err}"),
                )
            })?,
            other => other.clone(),
        };
        check_policy(&policy)
            .map_err(|(path, message)| self.error(format!("{POLICY_LOCATION}{path}"), message))?;
        Ok(Some(policy))
    }

    /// Warns when API keys come from a Lambda authorizer that the API does not have.
    pub(super) fn check_api_key_source(
        &mut self,
        source: ApiKeySource,
        authorizers: &BTreeMap<String, Authorizer>,
    ) {
        if source == ApiKeySource::Authorizer && !authorizers.values().any(|a| a.kind.is_lambda()) {
            self.warn(
                "x-amazon-apigateway-api-key-source",
                "API keys come from a Lambda authorizer's `usageIdentifierKey`, but no \
                 `token` or `request` authorizer is defined: methods requiring an API key \
                 refuse every call",
            );
        }
    }

    pub(super) fn security(
        &mut self,
        operation: &Operation,
        location: &str,
        route: &mut Route,
    ) -> Result<()> {
        let doc = self.doc;
        let (requirements, requirements_location): (&[SecurityRequirement], String) =
            match (&operation.security, &doc.security) {
                (Some(own), _) => (own, format!("{location}.security")),
                (None, Some(root)) => (root, "security".to_owned()),
                (None, None) => (&[], String::new()),
            };
        // API Gateway reads every listed scheme together (AWS's own exports list the
        // API key and the authorizer as separate requirements), not as alternatives.
        let mut chosen: Option<(String, AuthorizationType, Vec<String>, String)> = None;
        for (i, requirement) in requirements.iter().enumerate() {
            for (name, scopes) in requirement {
                let scheme_location = format!("{requirements_location}[{i}].{name}");
                let scheme_use = *self.schemes.get(name).ok_or_else(|| {
                    self.error(
                        &scheme_location,
                        format!("`{name}` is not defined in components.securitySchemes"),
                    )
                })?;
                match scheme_use {
                    SchemeUse::ApiKey => route.api_key_required = true,
                    SchemeUse::Ignored => {}
                    SchemeUse::Authorizer(kind) => match &chosen {
                        None => {
                            chosen = Some((name.clone(), kind, scopes.clone(), scheme_location));
                        }
                        Some((first, ..)) if first == name => {}
                        Some((first, ..)) => {
                            let message = format!(
                                "a method has one authorization type; `{first}` is used and \
                                 `{name}` is ignored"
                            );
                            self.warn(scheme_location, message);
                        }
                    },
                }
            }
        }
        if let Some((name, kind, scopes, scheme_location)) = chosen {
            let scopes = if matches!(
                kind,
                AuthorizationType::CognitoUserPools | AuthorizationType::Jwt
            ) || scopes.is_empty()
            {
                scopes
            } else {
                self.warn(
                    scheme_location,
                    "scopes apply only to Cognito user pool and JWT authorizers; they are \
                     ignored",
                );
                Vec::new()
            };
            route.authorization = Authorization {
                kind,
                authorizer: (kind != AuthorizationType::AwsIam).then_some(name),
                scopes,
            };
        }
        if let Some(auth) = &operation.auth {
            let auth_location = format!("{location}.x-amazon-apigateway-auth");
            self.warn_other(&auth_location, &auth.other, &[]);
            route.authorization = match auth.kind.as_deref() {
                Some(kind) if kind.eq_ignore_ascii_case("AWS_IAM") => Authorization {
                    kind: AuthorizationType::AwsIam,
                    ..Authorization::default()
                },
                Some(kind) if kind.eq_ignore_ascii_case("NONE") => Authorization::default(),
                Some(other) => {
                    return Err(self.error(
                        format!("{auth_location}.type"),
                        format!("`{other}` is not an authorization type here (NONE, AWS_IAM)"),
                    ));
                }
                None => {
                    return Err(
                        self.error(format!("{auth_location}.type"), "missing (NONE, AWS_IAM)")
                    );
                }
            };
        }
        Ok(())
    }
}

/// The method authorization type an authorizer gives: Lambda authorizers are `CUSTOM`.
fn authorization_type(kind: AuthorizerType) -> AuthorizationType {
    match kind {
        AuthorizerType::Token | AuthorizerType::Request => AuthorizationType::Custom,
        AuthorizerType::CognitoUserPools => AuthorizationType::CognitoUserPools,
        AuthorizerType::Jwt => AuthorizationType::Jwt,
    }
}

/// Identity sources as written: each entry split at commas, trimmed, empties dropped.
fn split_identity_sources(entries: &[String]) -> Vec<String> {
    entries
        .iter()
        .flat_map(|entry| entry.split(','))
        .map(str::trim)
        .filter(|source| !source.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A cache TTL: whole seconds from 0 to 3600.
fn parse_ttl(text: &str) -> Option<u32> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|ttl| *ttl <= MAX_RESULT_TTL_SECONDS)
}

/// Checks the outline of an IAM policy document: an object, a known `Version` if
/// any, and `Statement` as one statement or a non-empty list of them, each with
/// `Effect` `Allow` or `Deny` (case-sensitive, as IAM reads it). The rest is read when
/// the policy is evaluated. The error is `(path below the policy, message)`.
fn check_policy(policy: &Value) -> std::result::Result<(), (String, String)> {
    let Value::Object(document) = policy else {
        return Err((
            String::new(),
            "must be an IAM policy document (an object with `Statement`)".to_owned(),
        ));
    };
    if let Some(version) = document.get("Version")
        && !version
            .as_str()
            .is_some_and(|v| POLICY_VERSIONS.contains(&v))
    {
        return Err((
            ".Version".to_owned(),
            format!(
                "`{}` is not a policy language version ({})",
                shown(version),
                POLICY_VERSIONS.join(", ")
            ),
        ));
    }
    let statements: Vec<(String, &Value)> = match document.get("Statement") {
        None => {
            return Err((
                ".Statement".to_owned(),
                "missing; a policy has at least one statement".to_owned(),
            ));
        }
        Some(one @ Value::Object(_)) => vec![(".Statement".to_owned(), one)],
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .enumerate()
            .map(|(i, s)| (format!(".Statement[{i}]"), s))
            .collect(),
        Some(Value::Array(_)) => {
            return Err((
                ".Statement".to_owned(),
                "empty; a policy has at least one statement".to_owned(),
            ));
        }
        Some(_) => {
            return Err((
                ".Statement".to_owned(),
                "must be a statement object or a list of them".to_owned(),
            ));
        }
    };
    for (path, statement) in statements {
        let Value::Object(statement) = statement else {
            return Err((path, "must be a statement object".to_owned()));
        };
        match statement.get("Effect") {
            Some(Value::String(effect)) if effect == "Allow" || effect == "Deny" => {}
            Some(other) => {
                return Err((
                    format!("{path}.Effect"),
                    format!("`{}` is not an effect (Allow, Deny)", shown(other)),
                ));
            }
            None => {
                return Err((format!("{path}.Effect"), "missing (Allow, Deny)".to_owned()));
            }
        }
    }
    Ok(())
}

/// A JSON value for a message: strings without their quotes.
fn shown(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// Whether a security scheme is API Gateway's API key: `apiKey` in the `x-api-key`
/// header.
fn is_api_key(kind: Option<&str>, location: Option<&str>, name: Option<&str>) -> bool {
    kind == Some("apiKey")
        && location == Some("header")
        && name.is_some_and(|n| n.eq_ignore_ascii_case("x-api-key"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn api_keys_are_the_x_api_key_header() {
        assert!(is_api_key(
            Some("apiKey"),
            Some("header"),
            Some("x-api-key")
        ));
        assert!(is_api_key(
            Some("apiKey"),
            Some("header"),
            Some("X-API-Key")
        ));
        assert!(!is_api_key(
            Some("apiKey"),
            Some("query"),
            Some("x-api-key")
        ));
        assert!(!is_api_key(
            Some("apiKey"),
            Some("header"),
            Some("Authorization")
        ));
        assert!(!is_api_key(Some("http"), Some("header"), Some("x-api-key")));
    }

    #[test]
    fn identity_sources_split_at_commas_and_trim() {
        let entries = [
            "method.request.header.Auth, method.request.querystring.name".to_owned(),
            " stageVariables.v ,".to_owned(),
        ];
        assert_eq!(
            split_identity_sources(&entries),
            [
                "method.request.header.Auth",
                "method.request.querystring.name",
                "stageVariables.v"
            ]
        );
        assert!(split_identity_sources(&[" , ".to_owned()]).is_empty());
    }

    #[test]
    fn ttls_are_whole_seconds_up_to_an_hour() {
        assert_eq!(parse_ttl("0"), Some(0));
        assert_eq!(parse_ttl(" 3600 "), Some(3600));
        assert_eq!(parse_ttl("3601"), None);
        assert_eq!(parse_ttl("-1"), None);
        assert_eq!(parse_ttl("300.0"), None);
        assert_eq!(parse_ttl("five"), None);
    }

    #[test]
    fn authorizer_types_map_to_method_authorization_types() {
        assert_eq!(
            authorization_type(AuthorizerType::Token),
            AuthorizationType::Custom
        );
        assert_eq!(
            authorization_type(AuthorizerType::Request),
            AuthorizationType::Custom
        );
        assert_eq!(
            authorization_type(AuthorizerType::CognitoUserPools),
            AuthorizationType::CognitoUserPools
        );
        assert_eq!(
            authorization_type(AuthorizerType::Jwt),
            AuthorizationType::Jwt
        );
    }

    fn policy_error(policy: &Value) -> (String, String) {
        match check_policy(policy) {
            Ok(()) => panic!("accepted {policy}"),
            Err(err) => err,
        }
    }

    #[test]
    fn policies_need_statements_with_effects() {
        let allow = json!({"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke"});
        assert_eq!(check_policy(&json!({"Statement": allow})), Ok(()));
        assert_eq!(
            check_policy(
                &json!({"Version": "2012-10-17", "Statement": [allow, {"Effect": "Deny"}]})
            ),
            Ok(())
        );
        assert_eq!(policy_error(&json!([allow])).0, "");
        assert_eq!(
            policy_error(&json!({"Version": "2012-10-17"})).0,
            ".Statement"
        );
        assert_eq!(policy_error(&json!({"Statement": []})).0, ".Statement");
        assert_eq!(policy_error(&json!({"Statement": "Allow"})).0, ".Statement");
        assert_eq!(
            policy_error(&json!({"Statement": [allow, 3]})).0,
            ".Statement[1]"
        );
        assert_eq!(
            policy_error(&json!({"Statement": [allow, {"Effect": "allow"}]})),
            (
                ".Statement[1].Effect".to_owned(),
                "`allow` is not an effect (Allow, Deny)".to_owned()
            )
        );
        assert_eq!(
            policy_error(&json!({"Statement": {"Action": "*"}})).0,
            ".Statement.Effect"
        );
        assert_eq!(
            policy_error(&json!({"Version": "2020-01-01", "Statement": allow})).0,
            ".Version"
        );
    }
}
