//! What an authorizer is configured with: issuers, audiences, where the token comes
//! from, and the limits of the key cache. Built from the API model or in code.

use std::time::Duration;

use gateway_core::clock::Clock;
use gateway_core::model::{ApiProtocol, Authorizer, AuthorizerType};
use gateway_core::outbound::TlsClient;
use http::HeaderName;
use jsonwebtoken::Algorithm;
use regex::Regex;

use super::JwtAuthorizer;

/// How long keys stay cached before they are fetched again (AWS documents up to an
/// hour for REST JWT authorizers and up to two hours for HTTP APIs; the shorter is
/// chosen).
pub const DEFAULT_MAX_KEY_AGE: Duration = Duration::from_secs(3600);
/// The shortest time between two fetches of one issuer's keys, so a stream of
/// tokens naming unknown `kid`s cannot turn into a stream of fetches.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// The clock skew tolerated on `exp`, `nbf` and `iat`. AWS documents none; a minute
/// is the common choice of JWT libraries.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// How long one fetch of a discovery document or key set may take.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How many verified token signatures an authorizer remembers, so that a client
/// presenting its token again skips the public key operation (see
/// [`JwtConfig::signature_cache`]).
pub const DEFAULT_SIGNATURE_CACHE: u64 = 10_000;

/// The signature algorithms accepted unless configured otherwise: the RSA and ECDSA
/// families. HTTP APIs on AWS accept only RSA-based algorithms; ECDSA keys are
/// accepted here as well so that issuers publishing P-256 or P-384 keys work. Use
/// [`JwtConfig::algorithms`] to restrict the set.
pub const DEFAULT_ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// The rules a token is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtProfile {
    /// An HTTP API JWT authorizer: `aud` (or, without it, `client_id`) must name one
    /// of the audiences; a route's scopes need one match in `scope` or `scp`, else
    /// `403 Forbidden`.
    Jwt,
    /// A REST API `COGNITO_USER_POOLS` authorizer: without method scopes only ID
    /// tokens (`token_use` `id`) are accepted, with scopes only access tokens
    /// (`token_use` `access`) holding one of them; every failure is
    /// `401 Unauthorized`.
    CognitoUserPools,
}

/// Where the token is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// A request header (`$request.header.NAME`, `method.request.header.NAME`).
    Header(HeaderName),
    /// A query string parameter (`$request.querystring.NAME`,
    /// `method.request.querystring.NAME`).
    Query(String),
}

impl Default for IdentitySource {
    fn default() -> Self {
        Self::Header(http::header::AUTHORIZATION)
    }
}

impl IdentitySource {
    /// Parses an identity source expression in either API flavour's syntax.
    ///
    /// # Errors
    ///
    /// [`ConfigError::IdentitySource`] for anything but a header or a query string
    /// parameter.
    pub fn parse(expression: &str) -> Result<Self, ConfigError> {
        let err = || ConfigError::IdentitySource(expression.to_owned());
        let expr = expression.trim();
        let rest = expr
            .strip_prefix("$request.")
            .or_else(|| expr.strip_prefix("method.request."))
            .ok_or_else(err)?;
        if let Some(name) = rest.strip_prefix("header.") {
            return HeaderName::from_bytes(name.as_bytes())
                .map(Self::Header)
                .map_err(|_| err());
        }
        match rest.strip_prefix("querystring.") {
            Some(name) if !name.is_empty() => Ok(Self::Query(name.to_owned())),
            _ => Err(err()),
        }
    }
}

/// Why an authorizer cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The model's authorizer is a Lambda authorizer.
    #[error("authorizer `{0}` is not a JWT or Cognito user pool authorizer")]
    NotJwt(String),
    /// No issuer: neither `jwtConfiguration.issuer` nor `providerARNs`.
    #[error("authorizer `{0}` names no issuer (jwtConfiguration.issuer or providerARNs)")]
    MissingIssuer(String),
    /// A JWT authorizer with no audience would accept no token.
    #[error("JWT authorizer `{0}` has no audience (jwtConfiguration.audience)")]
    MissingAudience(String),
    /// A provider ARN that is not a Cognito user pool's.
    #[error(
        "`{0}` is not a Cognito user pool ARN (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID)"
    )]
    ProviderArn(String),
    /// A provider ARN or issuer made of stage variables, resolved only per stage.
    #[error("`{0}` uses stage variables, which JWT authorizers do not resolve")]
    StageVariable(String),
    /// An identity source that is not a header or query string parameter, or more
    /// than one.
    #[error("`{0}` is not a usable JWT identity source (one header or query string parameter)")]
    IdentitySource(String),
    /// A URL that does not parse, has no host or is neither https nor http.
    #[error("`{0}` is not an https or http URL with a host")]
    InvalidUrl(String),
    /// An `identityValidationExpression` that is not a regular expression.
    #[error("identity validation expression `{0}` is not a valid regular expression")]
    ValidationExpression(String),
    /// [`JwtConfig::algorithms`] allowed nothing usable.
    #[error("no asymmetric signature algorithm is allowed")]
    NoAlgorithms,
}

/// One trusted issuer and, optionally, where its keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssuerConfig {
    pub(crate) issuer: String,
    pub(crate) jwks_url: Option<String>,
}

/// A JWT or Cognito user pool authorizer's settings; [`build`](Self::build) turns
/// them into a [`JwtAuthorizer`].
///
/// Keys are fetched over HTTPS, checked against the system's trust store unless
/// [`tls`](Self::tls) sets one, or over plain HTTP for an `http` URL.
#[derive(Debug, Clone)]
#[must_use]
pub struct JwtConfig {
    pub(crate) name: String,
    pub(crate) profile: JwtProfile,
    pub(crate) protocol: ApiProtocol,
    pub(crate) issuers: Vec<IssuerConfig>,
    pub(crate) audiences: Vec<String>,
    pub(crate) identity_source: IdentitySource,
    pub(crate) validation_expression: Option<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) leeway: Duration,
    pub(crate) refresh_interval: Duration,
    pub(crate) max_key_age: Duration,
    pub(crate) fetch_timeout: Duration,
    pub(crate) signature_cache: u64,
    pub(crate) clock: Clock,
    pub(crate) tls: Option<TlsClient>,
}

impl JwtConfig {
    fn with_profile(profile: JwtProfile, protocol: ApiProtocol) -> Self {
        Self {
            name: String::new(),
            profile,
            protocol,
            issuers: Vec::new(),
            audiences: Vec::new(),
            identity_source: IdentitySource::default(),
            validation_expression: None,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            leeway: DEFAULT_LEEWAY,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            max_key_age: DEFAULT_MAX_KEY_AGE,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            signature_cache: DEFAULT_SIGNATURE_CACHE,
            clock: Clock::system(),
            tls: None,
        }
    }

    /// An HTTP API JWT authorizer trusting `issuer`; add audiences with
    /// [`audience`](Self::audience).
    pub fn jwt(issuer: impl Into<String>) -> Self {
        let mut config = Self::with_profile(JwtProfile::Jwt, ApiProtocol::Http);
        config.issuers.push(IssuerConfig {
            issuer: issuer.into(),
            jwks_url: None,
        });
        config
    }

    /// A REST API Cognito user pool authorizer trusting the pools whose issuers
    /// (`https://cognito-idp.{region}.amazonaws.com/{poolId}`) are given.
    pub fn cognito_user_pools<I, S>(issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut config = Self::with_profile(JwtProfile::CognitoUserPools, ApiProtocol::Rest);
        config.issuers = issuers
            .into_iter()
            .map(|issuer| IssuerConfig {
                issuer: issuer.into(),
                jwks_url: None,
            })
            .collect();
        config
    }

    /// The settings of a model authorizer of type `jwt` or `cognito_user_pools`.
    ///
    /// A Cognito authorizer's issuers come from its `providerARNs` (or, failing
    /// those, `jwtConfiguration.issuer`); its audiences, when the model gives any,
    /// restrict the app clients accepted (AWS accepts every client of the pool).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming what is missing or malformed.
    pub fn from_model(authorizer: &Authorizer, protocol: ApiProtocol) -> Result<Self, ConfigError> {
        let name = &authorizer.name;
        let mut config = match authorizer.kind {
            AuthorizerType::Jwt => {
                let jwt = authorizer
                    .jwt
                    .as_ref()
                    .filter(|jwt| !jwt.issuer.trim().is_empty())
                    .ok_or_else(|| ConfigError::MissingIssuer(name.clone()))?;
                if jwt.audience.is_empty() {
                    return Err(ConfigError::MissingAudience(name.clone()));
                }
                reject_stage_variables(&jwt.issuer)?;
                Self::jwt(jwt.issuer.trim()).audiences(jwt.audience.iter().cloned())
            }
            AuthorizerType::CognitoUserPools => {
                let mut issuers = authorizer
                    .provider_arns
                    .iter()
                    .map(|arn| cognito_issuer(arn))
                    .collect::<Result<Vec<_>, _>>()?;
                if issuers.is_empty()
                    && let Some(jwt) = &authorizer.jwt
                    && !jwt.issuer.trim().is_empty()
                {
                    reject_stage_variables(&jwt.issuer)?;
                    issuers.push(jwt.issuer.trim().to_owned());
                }
                if issuers.is_empty() {
                    return Err(ConfigError::MissingIssuer(name.clone()));
                }
                let mut config = Self::cognito_user_pools(issuers);
                if let Some(jwt) = &authorizer.jwt {
                    config = config.audiences(jwt.audience.iter().cloned());
                }
                if let Some(expr) = &authorizer.identity_validation_expression {
                    config = config.identity_validation_expression(expr)?;
                }
                config
            }
            AuthorizerType::Token | AuthorizerType::Request => {
                return Err(ConfigError::NotJwt(name.clone()));
            }
        };
        config.name.clone_from(name);
        config.protocol = protocol;
        match authorizer.identity_source.as_slice() {
            [] => {}
            [one] => config.identity_source = IdentitySource::parse(one)?,
            many => return Err(ConfigError::IdentitySource(many.join(", "))),
        }
        Ok(config)
    }

    /// The authorizer's name, used in logs.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Adds an accepted audience (`aud`, or `client_id` for access tokens).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Adds accepted audiences.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences.extend(audiences.into_iter().map(Into::into));
        self
    }

    /// Where the token is read from (default: the `Authorization` header).
    pub fn identity_source(mut self, source: IdentitySource) -> Self {
        self.identity_source = source;
        self
    }

    /// A regular expression the token's audience (`aud`, or `client_id` of an
    /// access token) must match as a whole, as a Cognito authorizer's
    /// `identityValidationExpression` does.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ValidationExpression`] when it is not a regular expression.
    pub fn identity_validation_expression(
        mut self,
        expression: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        let expression = expression.into();
        anchored(&expression)?;
        self.validation_expression = Some(expression);
        Ok(self)
    }

    /// Fetches `issuer`'s keys from `url` instead of discovering them under the
    /// issuer (`/.well-known/openid-configuration`, then `/.well-known/jwks.json`).
    pub fn jwks_url(mut self, issuer: &str, url: impl Into<String>) -> Self {
        let url = url.into();
        match self.issuers.iter_mut().find(|i| i.issuer == issuer) {
            Some(entry) => entry.jwks_url = Some(url),
            None => self.issuers.push(IssuerConfig {
                issuer: issuer.to_owned(),
                jwks_url: Some(url),
            }),
        }
        self
    }

    /// The trusted issuers.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.iter().map(|i| i.issuer.as_str())
    }

    /// Restricts the signature algorithms accepted (symmetric ones are never).
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// The clock skew tolerated on `exp`, `nbf` and `iat` ([`DEFAULT_LEEWAY`]).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The shortest time between fetches of one issuer's keys
    /// ([`DEFAULT_REFRESH_INTERVAL`]).
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// How long fetched keys are used before they are fetched again
    /// ([`DEFAULT_MAX_KEY_AGE`]).
    pub fn max_key_age(mut self, age: Duration) -> Self {
        self.max_key_age = age;
        self
    }

    /// How long one fetch may take ([`DEFAULT_FETCH_TIMEOUT`]).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// How many verified signatures are remembered ([`DEFAULT_SIGNATURE_CACHE`];
    /// `0`: none). A token whose signature the same key verified before skips the
    /// public key operation; its header, key, algorithm, times, audience and scopes
    /// are still checked on every request, and keys fetched again start afresh.
    pub fn signature_cache(mut self, entries: u64) -> Self {
        self.signature_cache = entries;
        self
    }

    /// The flavour of API whose error shapes rejections take (an HTTP API adds
    /// `www-authenticate` and answers a missing scope with `403`).
    pub fn protocol(mut self, protocol: ApiProtocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The clock tokens' times and the key cache's ages are read from (default:
    /// [`Clock::system`]).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The trust store `https` key sets and discovery documents are checked
    /// against (default: the operating system's).
    pub fn tls(mut self, client: TlsClient) -> Self {
        self.tls = Some(client);
        self
    }

    /// The rules tokens are held to.
    #[must_use]
    pub fn profile(&self) -> JwtProfile {
        self.profile
    }

    /// Builds the authorizer. Nothing is fetched until the first token arrives.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an issuer or key set URL the client cannot fetch, an
    /// HTTP API authorizer without audiences, or no usable algorithm.
    pub fn build(self) -> Result<JwtAuthorizer, ConfigError> {
        JwtAuthorizer::new(self)
    }
}

/// `^(?:expr)$`, compiled.
pub(crate) fn anchored(expression: &str) -> Result<Regex, ConfigError> {
    Regex::new(&format!("^(?:{expression})$"))
        .map_err(|_| ConfigError::ValidationExpression(expression.to_owned()))
}

fn reject_stage_variables(value: &str) -> Result<(), ConfigError> {
    if value.contains("${stageVariables.") {
        return Err(ConfigError::StageVariable(value.to_owned()));
    }
    Ok(())
}

/// `arn:aws:cognito-idp:{region}:{account}:userpool/{poolId}` →
/// `https://cognito-idp.{region}.amazonaws.com/{poolId}`.
pub(crate) fn cognito_issuer(arn: &str) -> Result<String, ConfigError> {
    let err = || ConfigError::ProviderArn(arn.to_owned());
    reject_stage_variables(arn)?;
    let parts: Vec<&str> = arn.trim().splitn(6, ':').collect();
    let ["arn", partition, "cognito-idp", region, _account, resource] = parts.as_slice() else {
        return Err(err());
    };
    let pool = resource.strip_prefix("userpool/").ok_or_else(err)?;
    if region.is_empty() || pool.is_empty() || pool.contains('/') {
        return Err(err());
    }
    let domain = if partition.ends_with("-cn") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(format!("https://cognito-idp.{region}.{domain}/{pool}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_core::model::JwtConfiguration;

    #[test]
    fn cognito_arns_name_their_issuer() {
        assert_eq!(
            cognito_issuer("arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_AbC")
                .ok()
                .as_deref(),
            Some("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC")
        );
        for bad in [
            "arn:aws:cognito-idp:eu-west-1:111122223333:identitypool/x",
            "arn:aws:lambda:eu-west-1:111122223333:userpool/x",
            "userpool/x",
        ] {
            assert_eq!(
                cognito_issuer(bad),
                Err(ConfigError::ProviderArn(bad.into()))
            );
        }
        let staged = "arn:aws:cognito-idp:us-east-2:111122223333:userpool/${stageVariables.Pool}";
        assert_eq!(
            cognito_issuer(staged),
            Err(ConfigError::StageVariable(staged.into()))
        );
    }

    #[test]
    fn identity_sources_parse_in_both_syntaxes() {
        assert_eq!(
            IdentitySource::parse("$request.header.Authorization"),
            Ok(IdentitySource::Header(http::header::AUTHORIZATION))
        );
        assert_eq!(
            IdentitySource::parse("method.request.header.X-Token"),
            Ok(IdentitySource::Header(HeaderName::from_static("x-token")))
        );
        assert_eq!(
            IdentitySource::parse("$request.querystring.token"),
            Ok(IdentitySource::Query("token".into()))
        );
        for bad in ["$context.authorizer.x", "$request.header.", "token"] {
            assert!(IdentitySource::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn model_authorizers_become_configs() {
        let jwt = Authorizer {
            name: "auth0".into(),
            kind: AuthorizerType::Jwt,
            identity_source: vec!["$request.header.Authorization".into()],
            jwt: Some(JwtConfiguration {
                issuer: "http://127.0.0.1:9/".into(),
                audience: vec!["api".into()],
            }),
            ..Authorizer::default()
        };
        let config = JwtConfig::from_model(&jwt, ApiProtocol::Http).unwrap_or_else(|e| {
            panic!("{e}");
        });
        assert_eq!(config.profile(), JwtProfile::Jwt);
        assert_eq!(config.audiences, ["api"]);
        let mut no_audience = jwt;
        no_audience.jwt = Some(JwtConfiguration {
            issuer: "http://127.0.0.1:9/".into(),
            audience: vec![],
        });
        assert_eq!(
            JwtConfig::from_model(&no_audience, ApiProtocol::Http).err(),
            Some(ConfigError::MissingAudience("auth0".into()))
        );

        let cognito = Authorizer {
            name: "pool".into(),
            kind: AuthorizerType::CognitoUserPools,
            identity_source: vec!["method.request.header.Authorization".into()],
            provider_arns: vec![
                "arn:aws:cognito-idp:us-east-1:111122223333:userpool/us-east-1_A".into(),
                "arn:aws:cognito-idp:us-east-1:111122223333:userpool/us-east-1_B".into(),
            ],
            ..Authorizer::default()
        };
        let config = JwtConfig::from_model(&cognito, ApiProtocol::Rest).unwrap_or_else(|e| {
            panic!("{e}");
        });
        assert_eq!(config.issuers().count(), 2);
        // Cognito issuers are https; their key sets may be served elsewhere.
        let issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_A";
        assert!(config.clone().build().is_ok());
        let built = config
            .jwks_url(issuer, "http://127.0.0.1:9/a.json")
            .jwks_url(
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_B",
                "http://127.0.0.1:9/b.json",
            )
            .build();
        assert!(built.is_ok());

        let lambda = Authorizer {
            name: "fn".into(),
            ..Authorizer::default()
        };
        assert_eq!(
            JwtConfig::from_model(&lambda, ApiProtocol::Rest).err(),
            Some(ConfigError::NotJwt("fn".into()))
        );
    }
}
