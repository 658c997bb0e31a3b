//! Compiling an authorizer's settings: the function, the identity sources, the
//! validation expression, the cache TTL and the payload format, each checked once.

use std::time::Duration;

use gateway_core::lambda::FunctionRef;
use gateway_core::model::{ApiProtocol, Authorizer, AuthorizerType};
use http::HeaderName;
use regex::Regex;

/// AWS's default result TTL.
pub const DEFAULT_RESULT_TTL: Duration = Duration::from_secs(300);
/// The longest result TTL AWS accepts (one hour).
pub const MAX_RESULT_TTL_SECONDS: u32 = 3600;

/// Why an authorizer's settings cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LambdaAuthorizerError {
    /// The authorizer is a Cognito or JWT authorizer, not a Lambda one.
    #[error("authorizer `{name}` is a `{kind}` authorizer, not a Lambda (token, request) one")]
    NotLambda {
        /// The authorizer's name.
        name: String,
        /// Its kind.
        kind: &'static str,
    },
    /// HTTP APIs have only REQUEST Lambda authorizers.
    #[error("authorizer `{0}`: HTTP APIs have no `token` authorizers; use a `request` one")]
    TokenOnHttpApi(String),
    /// No `authorizerUri`.
    #[error("authorizer `{0}` has no authorizerUri")]
    MissingUri(String),
    /// An `authorizerUri` that names no Lambda function.
    #[error("authorizer `{name}`: {reason}")]
    InvalidUri {
        /// The authorizer's name.
        name: String,
        /// What is wrong with the URI.
        reason: String,
    },
    /// An identity source this kind of authorizer cannot read.
    #[error("authorizer `{name}`: `{written}` is not an identity source of {expected}")]
    InvalidIdentitySource {
        /// The authorizer's name.
        name: String,
        /// The identity source as written.
        written: String,
        /// What was expected instead.
        expected: &'static str,
    },
    /// A TOKEN authorizer names not exactly one header.
    #[error(
        "authorizer `{name}`: a `token` authorizer reads exactly one header, not {count} identity sources"
    )]
    TokenSourceCount {
        /// The authorizer's name.
        name: String,
        /// How many sources it names.
        count: usize,
    },
    /// Caching is on but there is nothing to key the cache on.
    #[error(
        "authorizer `{0}`: caching results needs at least one identity source (the cache key); \
         set the TTL to 0 to turn caching off"
    )]
    CachingNeedsIdentitySource(String),
    /// `identityValidationExpression` is not a regular expression.
    #[error(
        "authorizer `{name}`: identity validation expression `{expression}` is invalid: {reason}"
    )]
    ValidationExpression {
        /// The authorizer's name.
        name: String,
        /// The expression as written.
        expression: String,
        /// The regex compiler's complaint.
        reason: String,
    },
    /// A result TTL above one hour.
    #[error("authorizer `{name}`: result TTL {seconds} s is outside 0 to 3600 s")]
    TtlOutOfRange {
        /// The authorizer's name.
        name: String,
        /// The TTL asked for.
        seconds: u32,
    },
    /// A payload format version other than `1.0` and `2.0`.
    #[error("authorizer `{name}`: `{version}` is not a payload format version (1.0, 2.0)")]
    PayloadFormatVersion {
        /// The authorizer's name.
        name: String,
        /// The version as written.
        version: String,
    },
    /// Simple responses asked of a payload format 1.0 authorizer.
    #[error("authorizer `{0}`: simple responses need payload format version 2.0")]
    SimpleResponsesNeedV2(String),
}

/// Which event the function is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFormat {
    /// REST TOKEN: `type`, `authorizationToken`, `methodArn`.
    Token,
    /// REST REQUEST: the request's parameters and `requestContext`.
    Request,
    /// HTTP API payload format 1.0: the REST REQUEST event with `version`,
    /// `identitySource` and `authorizationToken`.
    HttpV1,
    /// HTTP API payload format 2.0: `routeArn`, `identitySource` as a list, `rawPath`...
    HttpV2,
}

/// Where one identity value is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// A request header (matched case-insensitively).
    Header(HeaderName),
    /// A query string parameter (matched case-sensitively, decoded).
    Query(String),
    /// A stage variable.
    StageVariable(String),
    /// A `$context` variable, by its name without `context.`.
    Context(String),
}

/// A Lambda authorizer's settings, checked and compiled.
#[derive(Debug, Clone)]
pub struct LambdaAuthorizerConfig {
    /// The authorizer's name.
    pub name: String,
    /// The function it invokes.
    pub function: FunctionRef,
    /// The event shape.
    pub format: EventFormat,
    /// Whether the function answers `{"isAuthorized": ...}` (HTTP APIs, 2.0).
    pub simple_responses: bool,
    /// The API flavour: it decides the error bodies and how context values are kept.
    pub protocol: ApiProtocol,
    /// Where the identity values come from, in order.
    pub identity_sources: Vec<IdentitySource>,
    /// The regex a TOKEN must match as a whole before the function is called.
    pub validation: Option<Regex>,
    /// How long results are cached; zero turns caching off.
    pub ttl: Duration,
}

const REST_PREFIXES: [(&str, Kind); 4] = [
    ("method.request.header.", Kind::Header),
    ("method.request.querystring.", Kind::Query),
    ("stageVariables.", Kind::StageVariable),
    ("context.", Kind::Context),
];

const HTTP_PREFIXES: [(&str, Kind); 4] = [
    ("$request.header.", Kind::Header),
    ("$request.querystring.", Kind::Query),
    ("$stageVariables.", Kind::StageVariable),
    ("$context.", Kind::Context),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Header,
    Query,
    StageVariable,
    Context,
}

impl LambdaAuthorizerConfig {
    /// Compiles a model authorizer of an API of `protocol`.
    ///
    /// The TTL is `result_ttl_seconds`, else 300 s, except that an authorizer
    /// with no identity source and no TTL caches nothing (there is no key).
    /// An HTTP API authorizer with no payload format version uses 2.0, the
    /// version AWS's console picks. WebSocket APIs are treated like REST APIs.
    ///
    /// # Errors
    ///
    /// A [`LambdaAuthorizerError`] naming the first setting that is wrong.
    pub fn compile(
        model: &Authorizer,
        protocol: ApiProtocol,
    ) -> Result<Self, LambdaAuthorizerError> {
        let name = model.name.clone();
        if !model.kind.is_lambda() {
            return Err(LambdaAuthorizerError::NotLambda {
                name,
                kind: model.kind.as_str(),
            });
        }
        let http = protocol == ApiProtocol::Http;
        let token = model.kind == AuthorizerType::Token;
        if http && token {
            return Err(LambdaAuthorizerError::TokenOnHttpApi(name));
        }
        let function = function(model)?;
        let identity_sources = identity_sources(model, http, token)?;

        let ttl = match model.result_ttl_seconds {
            Some(seconds) if seconds > MAX_RESULT_TTL_SECONDS => {
                return Err(LambdaAuthorizerError::TtlOutOfRange { name, seconds });
            }
            Some(seconds) => Duration::from_secs(u64::from(seconds)),
            None if identity_sources.is_empty() => Duration::ZERO,
            None => DEFAULT_RESULT_TTL,
        };
        if !ttl.is_zero() && identity_sources.is_empty() {
            return Err(LambdaAuthorizerError::CachingNeedsIdentitySource(name));
        }

        let validation = match &model.identity_validation_expression {
            Some(expression) if token && !expression.is_empty() => {
                // AWS matches the whole token, as Java's `String.matches` does.
                Some(Regex::new(&format!("^(?:{expression})$")).map_err(|e| {
                    LambdaAuthorizerError::ValidationExpression {
                        name: name.clone(),
                        expression: expression.clone(),
                        reason: e.to_string(),
                    }
                })?)
            }
            _ => None,
        };

        let (format, simple_responses) = if http {
            let version = model.payload_format_version.as_deref().map(str::trim);
            let format = match version {
                None | Some("2.0") => EventFormat::HttpV2,
                Some("1.0") => EventFormat::HttpV1,
                Some(other) => {
                    return Err(LambdaAuthorizerError::PayloadFormatVersion {
                        name,
                        version: other.to_owned(),
                    });
                }
            };
            if model.enable_simple_responses && format != EventFormat::HttpV2 {
                return Err(LambdaAuthorizerError::SimpleResponsesNeedV2(name));
            }
            (format, model.enable_simple_responses)
        } else {
            if model.enable_simple_responses {
                return Err(LambdaAuthorizerError::SimpleResponsesNeedV2(name));
            }
            let format = if token {
                EventFormat::Token
            } else {
                EventFormat::Request
            };
            (format, false)
        };

        Ok(Self {
            name,
            function,
            format,
            simple_responses,
            protocol,
            identity_sources,
            validation,
            ttl,
        })
    }

    /// Whether results are cached.
    #[must_use]
    pub fn caches(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// Whether a request missing an identity value is refused with 401 before the
    /// function is called: always for TOKEN authorizers and HTTP APIs, and for
    /// REST REQUEST authorizers when caching is on (AWS validates REST REQUEST
    /// identity sources only then).
    #[must_use]
    pub fn requires_identity(&self) -> bool {
        match self.format {
            EventFormat::Token | EventFormat::HttpV1 | EventFormat::HttpV2 => true,
            EventFormat::Request => self.caches(),
        }
    }

    /// Whether this is an HTTP API authorizer.
    #[must_use]
    pub fn http_api(&self) -> bool {
        self.protocol == ApiProtocol::Http
    }
}

fn function(model: &Authorizer) -> Result<FunctionRef, LambdaAuthorizerError> {
    let Some(uri) = model.uri.as_deref().filter(|u| !u.trim().is_empty()) else {
        return Err(LambdaAuthorizerError::MissingUri(model.name.clone()));
    };
    let invalid = |reason: String| LambdaAuthorizerError::InvalidUri {
        name: model.name.clone(),
        reason,
    };
    match FunctionRef::from_invocation_uri(uri) {
        Some(Ok(function)) => Ok(function),
        Some(Err(reason)) => Err(invalid(reason)),
        None => Err(invalid(format!(
            "`{uri}` is not a Lambda invocation URI \
             (arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION/invocations)"
        ))),
    }
}

fn identity_sources(
    model: &Authorizer,
    http: bool,
    token: bool,
) -> Result<Vec<IdentitySource>, LambdaAuthorizerError> {
    let (prefixes, expected) = if token {
        (
            &REST_PREFIXES[..1],
            "a `token` authorizer (method.request.header.NAME)",
        )
    } else if http {
        (
            &HTTP_PREFIXES[..],
            "an HTTP API `request` authorizer ($request.header.NAME, $request.querystring.NAME, \
             $stageVariables.NAME, $context.NAME)",
        )
    } else {
        (
            &REST_PREFIXES[..],
            "a REST `request` authorizer (method.request.header.NAME, \
             method.request.querystring.NAME, stageVariables.NAME, context.NAME)",
        )
    };
    let sources = model
        .identity_source
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|source| {
            let invalid = || LambdaAuthorizerError::InvalidIdentitySource {
                name: model.name.clone(),
                written: source.to_owned(),
                expected,
            };
            let (kind, rest) = prefixes
                .iter()
                .find_map(|(prefix, kind)| {
                    source
                        .strip_prefix(prefix)
                        .filter(|r| !r.is_empty())
                        .map(|r| (*kind, r))
                })
                .ok_or_else(invalid)?;
            Ok(match kind {
                Kind::Header => IdentitySource::Header(
                    HeaderName::from_bytes(rest.to_ascii_lowercase().as_bytes())
                        .map_err(|_| invalid())?,
                ),
                Kind::Query => IdentitySource::Query(rest.to_owned()),
                Kind::StageVariable => IdentitySource::StageVariable(rest.to_owned()),
                Kind::Context => IdentitySource::Context(rest.to_owned()),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if token && sources.len() != 1 {
        return Err(LambdaAuthorizerError::TokenSourceCount {
            name: model.name.clone(),
            count: sources.len(),
        });
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const URI: &str = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/\
                       arn:aws:lambda:us-east-1:123456789012:function:auth/invocations";

    fn model(kind: AuthorizerType, sources: &[&str]) -> Authorizer {
        Authorizer {
            name: "auth".to_owned(),
            kind,
            uri: Some(URI.to_owned()),
            identity_source: sources.iter().map(|s| (*s).to_owned()).collect(),
            ..Authorizer::default()
        }
    }

    #[test]
    fn compiles_token_and_request_authorizers() {
        let mut token = model(AuthorizerType::Token, &["method.request.header.Auth"]);
        token.identity_validation_expression = Some("Bearer [a-z]+".to_owned());
        let config = LambdaAuthorizerConfig::compile(&token, ApiProtocol::Rest).unwrap();
        assert_eq!(config.format, EventFormat::Token);
        assert_eq!(config.function.name(), "auth");
        assert_eq!(config.ttl, DEFAULT_RESULT_TTL);
        assert_eq!(
            config.identity_sources,
            [IdentitySource::Header(HeaderName::from_static("auth"))]
        );
        let regex = config.validation.unwrap();
        assert!(regex.is_match("Bearer abc"));
        assert!(!regex.is_match("xBearer abc"), "the whole token must match");

        let request = model(
            AuthorizerType::Request,
            &[
                "method.request.querystring.q",
                "stageVariables.v",
                "context.identity.sourceIp",
            ],
        );
        let config = LambdaAuthorizerConfig::compile(&request, ApiProtocol::Rest).unwrap();
        assert_eq!(config.format, EventFormat::Request);
        assert_eq!(
            config.identity_sources,
            [
                IdentitySource::Query("q".to_owned()),
                IdentitySource::StageVariable("v".to_owned()),
                IdentitySource::Context("identity.sourceIp".to_owned()),
            ]
        );

        let mut http = model(AuthorizerType::Request, &["$request.header.Authorization"]);
        http.payload_format_version = Some("2.0".to_owned());
        http.enable_simple_responses = true;
        http.result_ttl_seconds = Some(0);
        let config = LambdaAuthorizerConfig::compile(&http, ApiProtocol::Http).unwrap();
        assert_eq!(config.format, EventFormat::HttpV2);
        assert!(config.simple_responses && !config.caches());
    }

    #[test]
    fn refuses_bad_settings() {
        let cases: Vec<(Authorizer, ApiProtocol)> = vec![
            (
                Authorizer {
                    uri: Some("arn:aws:apigateway:us-east-1:s3:path/bucket".to_owned()),
                    ..model(AuthorizerType::Token, &["method.request.header.A"])
                },
                ApiProtocol::Rest,
            ),
            (
                Authorizer {
                    uri: None,
                    ..model(AuthorizerType::Token, &["method.request.header.A"])
                },
                ApiProtocol::Rest,
            ),
            (
                Authorizer {
                    identity_validation_expression: Some("([a-z".to_owned()),
                    ..model(AuthorizerType::Token, &["method.request.header.A"])
                },
                ApiProtocol::Rest,
            ),
            (
                Authorizer {
                    result_ttl_seconds: Some(3601),
                    ..model(AuthorizerType::Token, &["method.request.header.A"])
                },
                ApiProtocol::Rest,
            ),
            (
                Authorizer {
                    payload_format_version: Some("1.0".to_owned()),
                    enable_simple_responses: true,
                    ..model(AuthorizerType::Request, &["$request.header.A"])
                },
                ApiProtocol::Http,
            ),
            (
                Authorizer {
                    payload_format_version: Some("3.0".to_owned()),
                    ..model(AuthorizerType::Request, &["$request.header.A"])
                },
                ApiProtocol::Http,
            ),
            (
                model(AuthorizerType::Token, &["method.request.header.A"]),
                ApiProtocol::Http,
            ),
            (
                model(AuthorizerType::Request, &["$request.header.A"]),
                ApiProtocol::Rest,
            ),
            (
                model(AuthorizerType::Token, &["method.request.querystring.a"]),
                ApiProtocol::Rest,
            ),
            (model(AuthorizerType::Token, &[]), ApiProtocol::Rest),
            (
                Authorizer {
                    result_ttl_seconds: Some(60),
                    ..model(AuthorizerType::Request, &[])
                },
                ApiProtocol::Rest,
            ),
            (model(AuthorizerType::Jwt, &[]), ApiProtocol::Http),
        ];
        for (model, protocol) in cases {
            let err = LambdaAuthorizerConfig::compile(&model, protocol).unwrap_err();
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn request_authorizers_without_sources_do_not_cache() {
        let config = LambdaAuthorizerConfig::compile(
            &model(AuthorizerType::Request, &[]),
            ApiProtocol::Rest,
        )
        .unwrap();
        assert!(!config.caches());
        assert!(!config.requires_identity());
    }
}
