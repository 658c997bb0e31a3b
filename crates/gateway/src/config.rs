//! The gateway's configuration file.
//!
//! A YAML document naming the APIs (each defined by an OpenAPI file), their stages
//! (variables, canary), custom domain names with base path mappings, the listeners,
//! access logs and limits. Every field is described in `docs/configuration.md`.
//! Unknown fields are refused, and every error names the file and the field (and the
//! line and column when the YAML itself is malformed).

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use gateway_core::context::TrustedProxies;
use gateway_core::limits::RequestLimits;
use gateway_core::observe::access_log::AccessLogFormat;
use gateway_core::stage::StageVariables;
use gateway_throttle::{Day, FailurePolicy, MethodThrottles, Quota, RateLimit};
use serde::Deserialize;

/// A configuration that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed or a field has the wrong type.
    #[error("{file}:{line}:{column}: {field}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The field path, such as `apis[0].stages[1].canary.percent`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A field's value breaks a rule.
    #[error("{file}: {field}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// The field path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// An OpenAPI document the configuration names could not be loaded.
    #[error("{0}")]
    OpenApi(#[from] gateway_openapi::LoadError),
}

/// The root of the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the gateway listens on (`--listen` overrides it).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The admin listener (metrics, reload, stage operations); off when absent.
    #[serde(default)]
    pub admin: Option<AdminConfig>,
    /// Request size limits; AWS's values by default.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Peers allowed to set `X-Forwarded-For` (CIDR blocks).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Access logs for every stage that does not set its own.
    #[serde(default)]
    pub access_log: Option<AccessLogConfig>,
    /// The region in ARNs and `$context`.
    #[serde(default = "default_region")]
    pub region: String,
    /// The account id in ARNs and `$context.accountId`.
    #[serde(default = "default_account")]
    pub account_id: String,
    /// Turn OpenAPI warnings (unsupported settings) into errors.
    #[serde(default)]
    pub strict: bool,
    /// How AWS integrations and Lambda functions are reached.
    #[serde(default)]
    pub aws: AwsSettings,
    /// Which certificate authorities outbound TLS trusts (`https` backends, AWS
    /// endpoints, JWKS).
    #[serde(default)]
    pub outbound_tls: OutboundTlsSettings,
    /// API keys, IAM callers, JWKS locations and trusted network headers.
    #[serde(default)]
    pub auth: AuthSettings,
    /// The account-level throttle, and where buckets and quotas are kept.
    #[serde(default)]
    pub throttle: ThrottleSettings,
    /// Usage plans: which API keys may call which stages, how fast and how much.
    #[serde(default)]
    pub usage_plans: Vec<UsagePlanConfig>,
    /// The APIs served.
    pub apis: Vec<ApiConfig>,
    /// Custom domain names.
    #[serde(default)]
    pub domains: Vec<DomainConfig>,
}

/// The certificate authorities trusted by the gateway's outbound TLS: `https`
/// integration backends, AWS endpoints, the Lambda Invoke API and JWT issuers'
/// key sets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundTlsSettings {
    /// Trust the operating system's certificate store (default `true`).
    #[serde(default = "yes")]
    pub system_roots: bool,
    /// PEM files of further authorities to trust (a private CA), relative to the
    /// configuration file.
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
}

impl Default for OutboundTlsSettings {
    fn default() -> Self {
        Self {
            system_roots: true,
            ca_files: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

/// How the gateway reaches AWS: the region and credentials it signs with, and
/// endpoint overrides for local emulators.
///
/// Credentials are found as the AWS SDKs find them: `AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, then the profile's entries in
/// `~/.aws/credentials` and `~/.aws/config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    /// The signing region when an integration URI names none (default: the
    /// top-level `region`).
    #[serde(default)]
    pub region: Option<String>,
    /// The profile of the shared credentials and config files (default:
    /// `AWS_PROFILE`, else `default`).
    #[serde(default)]
    pub profile: Option<String>,
    /// Endpoints by service name (`sqs`, `states`, `lambda`, ...), such as a local
    /// emulator's `http://127.0.0.1:4566`. `lambda` is where the Lambda Invoke API
    /// is called for AWS_PROXY and Lambda integrations.
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
    /// The function name sent to the Lambda Invoke API: `as_written` (the
    /// integration's reference, for AWS and LocalStack) or `name` (the bare name,
    /// for `sam local start-lambda`).
    #[serde(default)]
    pub lambda_function_names: LambdaFunctionNames,
}

/// What the gateway's authorizers check against: the API keys methods with
/// `apiKeyRequired` accept, the IAM callers `AWS_IAM` methods accept, where JWT
/// and Cognito authorizers find their issuers' keys, and which request headers a
/// trusted front proxy fills with `aws:SourceVpc` / `aws:SourceVpce`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// API keys. A key without `value` gets a generated one, kept across reloads
    /// for as long as an entry of the same `name` exists.
    #[serde(default)]
    pub api_keys: Vec<gateway_auth::api_key::ApiKeyConfig>,
    /// IAM callers: the access keys `AWS_IAM` methods accept, with the identity
    /// policies that say what each may invoke.
    #[serde(default)]
    pub iam: Vec<IamCallerConfig>,
    /// JWKS URLs by issuer, fetched instead of the issuer's own discovery (keys are
    /// fetched over plain HTTP, so `https://` issuers such as Cognito user pools
    /// need an entry here).
    #[serde(default)]
    pub jwks_urls: BTreeMap<String, String>,
    /// A request header holding the caller's VPC id (`aws:SourceVpc`), set by a
    /// trusted proxy in front of the gateway.
    #[serde(default)]
    pub source_vpc_header: Option<String>,
    /// A request header holding the caller's VPC endpoint id (`aws:SourceVpce`).
    #[serde(default)]
    pub source_vpce_header: Option<String>,
}

/// An IAM caller (a user or a role session) accepted by `AWS_IAM` methods.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IamCallerConfig {
    /// The access key id requests are signed with.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token temporary credentials carry.
    #[serde(default)]
    pub session_token: Option<String>,
    /// The caller's ARN (`arn:aws:iam::ACCOUNT:user/NAME`).
    pub arn: String,
    /// The caller's account; taken from the ARN when absent.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Identity policies (IAM policy documents) granting `execute-api:Invoke`.
    #[serde(default)]
    pub policies: Vec<serde_json::Value>,
}

/// Throttling shared by every API: the account-level bucket, the store buckets
/// and quotas live in, and what happens when that store cannot be reached.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSettings {
    /// The account-level bucket every request takes a token from; AWS's default
    /// (10,000 requests per second, burst 5,000) when absent, none when `null`.
    #[serde(default = "account_default")]
    pub account: Option<RateLimit>,
    /// Keep buckets, quotas and usage in Redis, shared by every gateway node
    /// configured with the same server; in this process when absent.
    #[serde(default)]
    pub redis: Option<RedisSettings>,
    /// `open` (default) lets requests through unthrottled while the store cannot
    /// be reached; `closed` answers them 429.
    #[serde(default)]
    pub on_backend_error: FailurePolicy,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            account: account_default(),
            redis: None,
            on_backend_error: FailurePolicy::default(),
        }
    }
}

#[allow(clippy::unnecessary_wraps)] // serde's `default` needs the field's type.
fn account_default() -> Option<RateLimit> {
    Some(RateLimit::ACCOUNT_DEFAULT)
}

/// Where Redis is, for throttles and quotas shared between gateway nodes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// The server (`redis://host:6379/`, `redis://:password@host/2`).
    pub url: String,
    /// Prefix of every key the gateway writes.
    #[serde(default = "default_redis_prefix")]
    pub prefix: String,
    /// How long a decision may wait for Redis before the failure policy applies.
    #[serde(default = "default_redis_timeout")]
    pub timeout_ms: u64,
}

fn default_redis_prefix() -> String {
    "gateway:".to_owned()
}

fn default_redis_timeout() -> u64 {
    100
}

/// A usage plan (see `docs/throttling.md`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsagePlanConfig {
    /// The plan id; the name when absent. It names the plan's counters (in Redis
    /// too), so keep it stable.
    #[serde(default)]
    pub id: Option<String>,
    /// The plan's name.
    pub name: String,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
    /// The API stages the plan's keys may call.
    pub api_stages: Vec<UsagePlanStageConfig>,
    /// The throttle each key gets over all the plan's stages.
    #[serde(default)]
    pub throttle: Option<RateLimit>,
    /// The quota of each key.
    #[serde(default)]
    pub quota: Option<Quota>,
    /// The keys in the plan, by their `auth.api_keys` name.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// The day the plan was created (`YYYY-MM-DD`): the quota's `offset` comes
    /// off the period containing it.
    #[serde(default)]
    pub created: Option<Day>,
}

/// One API stage of a usage plan.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsagePlanStageConfig {
    /// The API, by its `apis` name.
    pub api: String,
    /// The stage.
    pub stage: String,
    /// Per-method throttles for each key, by method key (`/pets/GET`, `*/*`).
    #[serde(default)]
    pub throttle: BTreeMap<String, RateLimit>,
}

/// The function name sent to the Lambda Invoke API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LambdaFunctionNames {
    /// The reference as the integration writes it (name or ARN).
    #[default]
    AsWritten,
    /// The bare function name.
    Name,
}

/// The admin listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of the admin listener.
    pub listen: SocketAddr,
}

/// Request size limits.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body in bytes (AWS: 10 MB).
    pub max_payload_bytes: usize,
    /// Largest request line plus header values in bytes (AWS: 10,240).
    pub max_header_bytes: usize,
    /// Longest URL in bytes (8,192).
    pub max_url_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let aws = RequestLimits::aws();
        Self {
            max_payload_bytes: aws.max_payload_bytes,
            max_header_bytes: aws.max_header_bytes,
            max_url_bytes: aws.max_url_bytes,
        }
    }
}

impl From<LimitsConfig> for RequestLimits {
    fn from(c: LimitsConfig) -> Self {
        Self {
            max_payload_bytes: c.max_payload_bytes,
            max_header_bytes: c.max_header_bytes,
            max_url_bytes: c.max_url_bytes,
        }
    }
}

/// Access-log settings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccessLogConfig {
    /// `stdout`, or a file path (relative to the config file) to append to.
    pub destination: String,
    /// The format; AWS's JSON default when absent.
    #[serde(default)]
    pub format: Option<String>,
}

/// One API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// The name used in the admin API and domain mappings.
    pub name: String,
    /// The API id; derived from the document's title when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// The OpenAPI document (relative to the config file).
    pub openapi: PathBuf,
    /// `REST` or `HTTP`; detected from the document when absent.
    #[serde(default)]
    pub protocol: Option<Protocol>,
    /// The stages.
    pub stages: Vec<StageConfig>,
}

/// The API flavour.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum Protocol {
    /// A REST API.
    #[serde(rename = "REST")]
    Rest,
    /// An HTTP API.
    #[serde(rename = "HTTP")]
    Http,
}

/// One stage of an API.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// The stage name: the first path segment, or `$default` for none.
    pub name: String,
    /// Stage variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// A canary release.
    #[serde(default)]
    pub canary: Option<CanaryConfig>,
    /// This stage's access log (overrides the top-level one).
    #[serde(default)]
    pub access_log: Option<AccessLogConfig>,
    /// Method throttling by method key: `*/*` for every method, `/pets/GET` (or
    /// the HTTP API route key `GET /pets`) for one.
    #[serde(default)]
    pub throttling: BTreeMap<String, RateLimit>,
}

/// A canary release on a stage.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CanaryConfig {
    /// The OpenAPI document the canary serves; the stage's own when absent (the
    /// canary then differs only by its variables).
    #[serde(default)]
    pub openapi: Option<PathBuf>,
    /// Percent of requests sent to the canary, 0 to 100.
    pub percent: f64,
    /// Stage variables that differ in the canary.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// A request header that forces the choice per request (`canary` or `base`);
    /// off unless named, so production traffic cannot pick its side.
    #[serde(default)]
    pub override_header: Option<String>,
}

/// A custom domain name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// The host name, matched against the `Host` header.
    pub name: String,
    /// Base path mappings.
    pub mappings: Vec<MappingConfig>,
}

/// A base path mapping.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// The base path (`v1`, `orders/v2`), or `(none)` to map the whole domain.
    #[serde(default = "none_base_path")]
    pub base_path: String,
    /// The API's name.
    pub api: String,
    /// The stage's name.
    pub stage: String,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

fn default_account() -> String {
    "123456789012".to_owned()
}

fn none_base_path() -> String {
    "(none)".to_owned()
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            file: file.clone(),
            source,
        })?;
        Self::from_str(&text, &file)
    }

    /// Parses and validates configuration text; `file` names it in errors.
    pub fn from_str(text: &str, file: &str) -> Result<Self, ConfigError> {
        let deserializer = yaml_serde::Deserializer::from_str(text);
        let config: Self = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            let (line, column) = inner.location().map_or((0, 0), |l| (l.line(), l.column()));
            ConfigError::Parse {
                file: file.to_owned(),
                line,
                column,
                field,
                message: inner.to_string(),
            }
        })?;
        config.validate(file)?;
        Ok(config)
    }

    /// Checks the rules serde cannot express; errors name the field.
    pub fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let invalid = |field: String, message: String| ConfigError::Invalid {
            file: file.to_owned(),
            field,
            message,
        };
        if self.apis.is_empty() {
            return Err(invalid(
                "apis".into(),
                "at least one API is required".into(),
            ));
        }
        TrustedProxies::from_cidrs(&self.trusted_proxies)
            .map_err(|m| invalid("trusted_proxies".into(), m))?;
        if let Some(log) = &self.access_log {
            validate_access_log(log).map_err(|m| invalid("access_log.format".into(), m))?;
        }
        let limits = self.limits;
        if limits.max_payload_bytes == 0
            || limits.max_header_bytes == 0
            || limits.max_url_bytes == 0
        {
            return Err(invalid(
                "limits".into(),
                "limits must be greater than zero".into(),
            ));
        }
        let mut api_names = HashSet::new();
        let mut api_ids = HashSet::new();
        for (i, api) in self.apis.iter().enumerate() {
            let at = |f: &str| format!("apis[{i}].{f}");
            if !api_names.insert(api.name.as_str()) {
                return Err(invalid(
                    at("name"),
                    format!("duplicate API name `{}`", api.name),
                ));
            }
            if let Some(id) = &api.id {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(invalid(
                        at("id"),
                        "an API id is letters and digits only".into(),
                    ));
                }
                if !api_ids.insert(id.as_str()) {
                    return Err(invalid(at("id"), format!("duplicate API id `{id}`")));
                }
            }
            if api.stages.is_empty() {
                return Err(invalid(
                    at("stages"),
                    "at least one stage is required".into(),
                ));
            }
            let mut stage_names = HashSet::new();
            for (j, stage) in api.stages.iter().enumerate() {
                let at = |f: &str| format!("apis[{i}].stages[{j}].{f}");
                if !valid_stage_name(&stage.name) {
                    return Err(invalid(
                        at("name"),
                        format!(
                            "`{}` is not a stage name: use letters, digits, `-` and `_` (at most 128), or `$default`",
                            stage.name
                        ),
                    ));
                }
                if !stage_names.insert(stage.name.as_str()) {
                    return Err(invalid(
                        at("name"),
                        format!("duplicate stage `{}`", stage.name),
                    ));
                }
                StageVariables::from_map(stage.variables.clone())
                    .map_err(|e| invalid(at("variables"), e.to_string()))?;
                if let Some(canary) = &stage.canary {
                    if !(0.0..=100.0).contains(&canary.percent) || canary.percent.is_nan() {
                        return Err(invalid(
                            at("canary.percent"),
                            format!("must be between 0 and 100, got {}", canary.percent),
                        ));
                    }
                    StageVariables::from_map(canary.variables.clone())
                        .map_err(|e| invalid(at("canary.variables"), e.to_string()))?;
                    if let Some(h) = &canary.override_header {
                        http::HeaderName::from_bytes(h.as_bytes()).map_err(|_| {
                            invalid(
                                at("canary.override_header"),
                                format!("`{h}` is not a header name"),
                            )
                        })?;
                    }
                }
                if let Some(log) = &stage.access_log {
                    validate_access_log(log).map_err(|m| invalid(at("access_log.format"), m))?;
                }
                MethodThrottles::from_map(&stage.throttling)
                    .map_err(|e| invalid(at("throttling"), e.to_string()))?;
            }
        }
        self.validate_throttling(file)?;
        let mut seen = HashSet::new();
        for (i, domain) in self.domains.iter().enumerate() {
            if domain.name.is_empty() || domain.name.contains(['/', ' ']) {
                return Err(invalid(
                    format!("domains[{i}].name"),
                    format!("`{}` is not a host name", domain.name),
                ));
            }
            for (j, mapping) in domain.mappings.iter().enumerate() {
                let at = |f: &str| format!("domains[{i}].mappings[{j}].{f}");
                let Some(api) = self.apis.iter().find(|a| a.name == mapping.api) else {
                    return Err(invalid(
                        at("api"),
                        format!("no API named `{}`", mapping.api),
                    ));
                };
                if !api.stages.iter().any(|s| s.name == mapping.stage) {
                    return Err(invalid(
                        at("stage"),
                        format!("API `{}` has no stage `{}`", mapping.api, mapping.stage),
                    ));
                }
                let base = normalize_base_path(&mapping.base_path);
                if !seen.insert((domain.name.to_ascii_lowercase(), base.clone())) {
                    return Err(invalid(
                        at("base_path"),
                        format!("duplicate base path `{}`", mapping.base_path),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Config {
    /// The rules of `throttle` and `usage_plans` serde cannot express.
    fn validate_throttling(&self, file: &str) -> Result<(), ConfigError> {
        let invalid = |field: String, message: String| ConfigError::Invalid {
            file: file.to_owned(),
            field,
            message,
        };
        if let Some(account) = &self.throttle.account {
            account
                .validate()
                .map_err(|e| invalid("throttle.account".into(), e.to_string()))?;
        }
        if let Some(redis) = &self.throttle.redis {
            if !(redis.url.starts_with("redis://") || redis.url.starts_with("rediss://")) {
                return Err(invalid(
                    "throttle.redis.url".into(),
                    format!("`{}` is not a redis:// URL", redis.url),
                ));
            }
            if redis.timeout_ms == 0 {
                return Err(invalid(
                    "throttle.redis.timeout_ms".into(),
                    "must be greater than zero".into(),
                ));
            }
        }
        let key_names: HashSet<&str> = self.auth.api_keys.iter().map(|k| k.name.as_str()).collect();
        let mut ids = HashSet::new();
        for (i, plan) in self.usage_plans.iter().enumerate() {
            let at = |f: &str| format!("usage_plans[{i}].{f}");
            let id = plan.id.as_deref().unwrap_or(&plan.name);
            if id.is_empty() || id.contains([':', ' ']) {
                return Err(invalid(
                    at("id"),
                    format!("`{id}` is not a plan id: no spaces or `:`"),
                ));
            }
            if !ids.insert(id) {
                return Err(invalid(at("id"), format!("duplicate usage plan id `{id}`")));
            }
            if let Some(limit) = &plan.throttle {
                limit
                    .validate()
                    .map_err(|e| invalid(at("throttle"), e.to_string()))?;
            }
            if let Some(quota) = &plan.quota {
                quota
                    .validate()
                    .map_err(|e| invalid(at("quota"), e.to_string()))?;
            }
            for (j, stage) in plan.api_stages.iter().enumerate() {
                let at = |f: &str| format!("usage_plans[{i}].api_stages[{j}].{f}");
                let Some(api) = self.apis.iter().find(|a| a.name == stage.api) else {
                    return Err(invalid(at("api"), format!("no API named `{}`", stage.api)));
                };
                if !api.stages.iter().any(|s| s.name == stage.stage) {
                    return Err(invalid(
                        at("stage"),
                        format!("API `{}` has no stage `{}`", stage.api, stage.stage),
                    ));
                }
                MethodThrottles::from_map(&stage.throttle)
                    .map_err(|e| invalid(at("throttle"), e.to_string()))?;
            }
            for (j, key) in plan.api_keys.iter().enumerate() {
                if !key_names.contains(key.as_str()) {
                    return Err(invalid(
                        format!("usage_plans[{i}].api_keys[{j}]"),
                        format!("no key named `{key}` in auth.api_keys"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `(none)` and empty map to "", others lose their surrounding slashes.
#[must_use]
pub fn normalize_base_path(base_path: &str) -> String {
    if base_path == "(none)" {
        return String::new();
    }
    base_path.trim_matches('/').to_owned()
}

fn valid_stage_name(name: &str) -> bool {
    name == "$default"
        || (!name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

fn validate_access_log(log: &AccessLogConfig) -> Result<(), String> {
    if let Some(format) = &log.format {
        AccessLogFormat::compile(format).map_err(|e| e.to_string())?;
    }
    if log.destination.is_empty() {
        return Err("destination must be `stdout` or a file path".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str =
        "apis:\n  - name: pets\n    openapi: pets.yaml\n    stages:\n      - name: prod\n";

    #[test]
    fn minimal_config_gets_aws_defaults() {
        let config = Config::from_str(MINIMAL, "gw.yaml").unwrap();
        assert_eq!(config.listen, default_listen());
        assert_eq!(config.limits.max_payload_bytes, 10 * 1024 * 1024);
        assert_eq!(config.region, "us-east-1");
        assert!(!config.strict);
        assert_eq!(config.throttle.account, Some(RateLimit::ACCOUNT_DEFAULT));
        assert!(config.throttle.redis.is_none());
        assert_eq!(config.throttle.on_backend_error, FailurePolicy::Open);
    }

    #[test]
    fn throttling_reads_aws_shapes() {
        let text = format!(
            "{MINIMAL}        throttling:\n          \"*/*\": {{rate: 100, burst: 50}}\n          /pets/GET: {{rateLimit: 0.5, burstLimit: 1}}\n\
             throttle:\n  account: null\n  on_backend_error: closed\n  redis: {{url: \"redis://127.0.0.1:6379/\"}}\n\
             auth:\n  api_keys: [{{name: alice}}]\n\
             usage_plans:\n  - name: gold\n    api_stages: [{{api: pets, stage: prod, throttle: {{\"/pets/POST\": {{rate: 1, burst: 1}}}}}}]\n    \
             quota: {{limit: 1000, period: MONTH, offset: 10}}\n    api_keys: [alice]\n    created: 2026-11-01\n"
        );
        let config = Config::from_str(&text, "gw.yaml").unwrap();
        assert_eq!(config.throttle.account, None);
        assert_eq!(config.throttle.on_backend_error, FailurePolicy::Closed);
        assert_eq!(config.throttle.redis.as_ref().unwrap().timeout_ms, 100);
        let stage = &config.apis[0].stages[0];
        assert_eq!(stage.throttling["/pets/GET"].rate, 0.5);
        let plan = &config.usage_plans[0];
        assert_eq!(plan.quota.unwrap().offset, 10);
        assert_eq!(plan.created.unwrap().to_string(), "2026-11-01");
    }

    #[test]
    fn parse_errors_name_file_line_and_field() {
        let text = "apis:\n  - name: pets\n    openapi: pets.yaml\n    stages:\n      - name: prod\n        canary:\n          percent: lots\n";
        let err = Config::from_str(text, "gw.yaml").unwrap_err().to_string();
        assert!(err.starts_with("gw.yaml:7:"), "{err}");
        assert!(err.contains("apis[0].stages[0].canary.percent"), "{err}");
        let err = Config::from_str("apis: []\nlisen: 1\n", "gw.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `lisen`"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_field() {
        let cases = [
            ("apis: []\n", "apis"),
            (
                &format!("{MINIMAL}        variables: {{\"bad name\": x}}\n"),
                "apis[0].stages[0].variables",
            ),
            (
                &format!("{MINIMAL}        canary: {{percent: 150}}\n"),
                "apis[0].stages[0].canary.percent",
            ),
            (
                &format!("{MINIMAL}      - name: prod\n"),
                "apis[0].stages[1].name",
            ),
            (
                &format!("{MINIMAL}      - name: \"a/b\"\n"),
                "apis[0].stages[1].name",
            ),
            (
                &format!(
                    "{MINIMAL}domains:\n  - name: api.local\n    mappings:\n      - {{api: pets, stage: dev}}\n"
                ),
                "domains[0].mappings[0].stage",
            ),
            (
                &format!(
                    "{MINIMAL}access_log: {{destination: stdout, format: \"$context.status\"}}\n"
                ),
                "access_log.format",
            ),
            (
                &format!("{MINIMAL}trusted_proxies: [\"10.0.0.0/99\"]\n"),
                "trusted_proxies",
            ),
            (
                &format!("{MINIMAL}        throttling: {{\"/pets/*\": {{rate: 1, burst: 1}}}}\n"),
                "apis[0].stages[0].throttling",
            ),
            (
                &format!("{MINIMAL}throttle: {{account: {{rate: -1, burst: 1}}}}\n"),
                "throttle.account",
            ),
            (
                &format!("{MINIMAL}throttle: {{redis: {{url: \"http://x\"}}}}\n"),
                "throttle.redis.url",
            ),
            (
                &format!(
                    "{MINIMAL}usage_plans:\n  - {{name: gold, api_stages: [{{api: pets, stage: dev}}]}}\n"
                ),
                "usage_plans[0].api_stages[0].stage",
            ),
            (
                &format!(
                    "{MINIMAL}usage_plans:\n  - {{name: gold, api_stages: [{{api: pets, stage: prod}}], api_keys: [nobody]}}\n"
                ),
                "usage_plans[0].api_keys[0]",
            ),
            (
                &format!(
                    "{MINIMAL}usage_plans:\n  - {{name: gold, api_stages: [], quota: {{limit: 5, period: DAY, offset: 5}}}}\n"
                ),
                "usage_plans[0].quota",
            ),
            (
                &format!(
                    "{MINIMAL}usage_plans:\n  - {{name: gold, api_stages: []}}\n  - {{name: gold, api_stages: []}}\n"
                ),
                "usage_plans[1].id",
            ),
        ];
        for (text, field) in cases {
            let err = Config::from_str(text, "gw.yaml").unwrap_err();
            match &err {
                ConfigError::Invalid { field: f, .. } => assert_eq!(f, field, "{err}"),
                other => panic!("expected Invalid for {field}, got {other}"),
            }
        }
    }

    #[test]
    fn base_paths_normalize() {
        assert_eq!(normalize_base_path("(none)"), "");
        assert_eq!(normalize_base_path("/v1/"), "v1");
        assert_eq!(normalize_base_path("orders/v2"), "orders/v2");
    }
}
