//! The gateway's state: APIs, their deployments and stages, and the compiled table
//! that serves them.
//!
//! Loading a configuration loads each API's OpenAPI document. A document that
//! differs from the one loaded before becomes a new [`Deployment`] that every stage
//! of the API is moved to (its previous deployment goes to the stage's history, so
//! it can be rolled back). Then all stages are compiled into a new
//! [`DispatchTable`], which replaces the old one in a single atomic store. Nothing
//! changes unless everything compiles.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use gateway_auth::api_key::InMemoryApiKeyStore;
use gateway_auth::policy::Policy;
use gateway_auth::route::NetworkHeaders;
use gateway_auth::sigv4::{Credential, InMemoryCredentials, Verifier};
use gateway_core::clock::Clock;
use gateway_core::context::TrustedProxies;
use gateway_core::lambda::SharedInvoker;
use gateway_core::model::ApiProtocol;
use gateway_core::observe::access_log::{
    AccessLogFormat, AccessLogSink, DEFAULT_FORMAT, WriterSink,
};
use gateway_core::observe::metrics::MetricsRegistry;
use gateway_core::outbound::TlsClient;
use gateway_core::stage::{Deployment, Stage, StageVariables};
use gateway_integrations::HttpClient;
use gateway_integrations::aws::{
    AwsConfig, CredentialsProvider, Environment, FunctionNaming, RemoteLambda,
};
use gateway_integrations::lambda::Functions;
use gateway_openapi::{LoadOptions, Warning};
use gateway_throttle::usage::{QuotaStatus, Usage};
use gateway_throttle::{
    Day, MemoryBackend, MethodThrottles, ThrottleBackend, ThrottleMetrics, UsagePlan,
};
use http::HeaderName;
use serde_json::json;

use crate::compile::{
    AccessLog, CompiledCanary, CompiledStage, JwtAuthorizers, StageAuth, StageCompileContext,
    compile_variant,
};
use crate::config::{
    AccessLogConfig, CanaryConfig, Config, ConfigError, LambdaFunctionNames, OutboundTlsSettings,
    Protocol, RedisSettings, normalize_base_path,
};
use crate::pipeline::{ApiStages, DispatchTable, GatewayService};
use crate::throttle::{GatewayThrottle, StageThrottle};

/// Something the gateway could not do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration or a document it names is invalid.
    #[error(transparent)]
    Config(Box<ConfigError>),
    /// A stage did not compile.
    #[error("stage `{stage}`: {source}")]
    Compile {
        /// `api/stage`.
        stage: String,
        /// Why.
        source: Box<crate::compile::CompileError>,
    },
    /// An admin operation named an API or stage that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A stage operation was refused.
    #[error(transparent)]
    Stage(#[from] gateway_core::stage::StageError),
    /// A usage report could not be made.
    #[error("{0}")]
    Usage(String),
    /// An access-log destination could not be opened.
    #[error("access log `{destination}`: {source}")]
    AccessLog {
        /// The destination.
        destination: String,
        /// Why.
        source: std::io::Error,
    },
}

impl From<ConfigError> for Error {
    fn from(err: ConfigError) -> Self {
        Self::Config(Box::new(err))
    }
}

/// What a (re)load did.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Unsupported settings found in the OpenAPI documents.
    pub warnings: Vec<Warning>,
    /// `api/stage` pairs that moved to a new deployment.
    pub redeployed: Vec<String>,
}

#[derive(Debug, Clone)]
struct ApiState {
    id: String,
    loaded: Arc<Deployment>,
    canary_loaded: HashMap<PathBuf, Arc<Deployment>>,
    stages: BTreeMap<String, StageState>,
}

#[derive(Debug, Clone)]
struct StageState {
    stage: Stage,
    applied_canary: Option<CanaryConfig>,
}

#[derive(Debug, Default, Clone)]
struct State {
    config: Option<Config>,
    apis: BTreeMap<String, ApiState>,
}

/// A running gateway's state.
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config_path: Option<PathBuf>,
    base_dir: PathBuf,
    state: Mutex<State>,
    table: Arc<ArcSwap<DispatchTable>>,
    metrics: MetricsRegistry,
    /// The outbound client and the trust it was built with, kept across reloads
    /// that do not change that trust (its connection pools with it).
    client: Mutex<OutboundClient>,
    invoker: Option<SharedInvoker>,
    functions: Vec<(String, SharedInvoker)>,
    sinks: Mutex<HashMap<String, Arc<dyn AccessLogSink>>>,
    /// Ids and values generated for configured API keys that give none, by key
    /// name, so that a reload keeps them.
    generated_keys: Mutex<HashMap<String, (String, String)>>,
    /// The time every layer goes by: throttles and quotas, token and key-set
    /// ages, cached authorizer results, SigV4 timestamps.
    clock: Clock,
    /// JWT authorizers kept across reloads (and shared by a stage's variants)
    /// while their configuration is the same, so their key sets are not fetched
    /// again.
    jwt_authorizers: Arc<JwtAuthorizers>,
    /// Counts throttle rejections in `metrics`.
    throttle_metrics: ThrottleMetrics,
    /// The throttle backend and the Redis settings it was made for, kept across
    /// reloads so buckets and quotas continue.
    throttle_backend: Mutex<Option<KeptBackend>>,
}

/// A throttle backend and the Redis settings it was made for.
type KeptBackend = (Option<RedisSettings>, Arc<dyn ThrottleBackend>);

/// What routes use to reach AWS and authorize callers, built from the
/// configuration on each (re)load.
/// The outbound HTTP client and the trust it was built from.
#[derive(Debug, Default)]
struct OutboundClient {
    settings: OutboundTlsSettings,
    pems: Vec<Vec<u8>>,
    client: Option<HttpClient>,
    tls: Option<TlsClient>,
    /// Counts the clients built: identifies `tls` (see [`StageAuth::trust`]).
    generation: u64,
}

struct Outbound {
    client: HttpClient,
    aws: AwsConfig,
    invoker: Option<SharedInvoker>,
    auth: StageAuth,
}

/// Builds a [`Gateway`] with parts that come from code rather than the
/// configuration file, such as an in-process Lambda invoker.
#[derive(Debug, Default)]
#[must_use]
pub struct GatewayBuilder {
    invoker: Option<SharedInvoker>,
    functions: Vec<(String, SharedInvoker)>,
    clock: Option<Clock>,
}

impl GatewayBuilder {
    /// Invokes every Lambda function of AWS_PROXY and Lambda AWS integrations with
    /// `invoker`, instead of the functions registered with [`Self::function`] and
    /// the Lambda Invoke API of `aws.endpoints.lambda`.
    pub fn invoker(mut self, invoker: SharedInvoker) -> Self {
        self.invoker = Some(invoker);
        self
    }

    /// Runs the function `name` in this process (see
    /// [`InProcessFunction`](gateway_integrations::lambda::InProcessFunction)).
    /// Integrations naming it (by name, `name:qualifier` or ARN) call it; other
    /// functions go to the Lambda Invoke API of `aws.endpoints.lambda`, if set.
    pub fn function(mut self, name: impl Into<String>, function: SharedInvoker) -> Self {
        self.functions.push((name.into(), function));
        self
    }

    /// Runs every layer on `clock` (a [`Clock::manual`] one in tests) instead of
    /// the system clock: throttles and quotas, JWT token times and key-set ages,
    /// Lambda authorizer result caches and SigV4 timestamps.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Loads the configuration file and everything it names, and compiles it.
    pub fn from_config_file(self, path: &Path) -> Result<(Gateway, LoadReport), Error> {
        let config = Config::from_file(path)?;
        let base_dir = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        Gateway::build(config, base_dir, Some(path.to_path_buf()), self)
    }

    /// Compiles an already parsed configuration; relative paths resolve from
    /// `base_dir`.
    pub fn from_config(
        self,
        config: Config,
        base_dir: &Path,
    ) -> Result<(Gateway, LoadReport), Error> {
        Gateway::build(config, base_dir.to_path_buf(), None, self)
    }
}

impl Gateway {
    /// Loads the configuration file and everything it names, and compiles it.
    pub fn from_config_file(path: &Path) -> Result<(Self, LoadReport), Error> {
        Self::builder().from_config_file(path)
    }

    /// Compiles an already parsed configuration; relative paths resolve from `base_dir`.
    pub fn from_config(config: Config, base_dir: &Path) -> Result<(Self, LoadReport), Error> {
        Self::builder().from_config(config, base_dir)
    }

    /// A builder for gateways with parts given in code.
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    fn build(
        config: Config,
        base_dir: PathBuf,
        config_path: Option<PathBuf>,
        builder: GatewayBuilder,
    ) -> Result<(Self, LoadReport), Error> {
        let metrics = MetricsRegistry::new();
        let throttle_metrics = ThrottleMetrics::new(&metrics);
        let gateway = Self {
            inner: Arc::new(Inner {
                config_path,
                base_dir,
                state: Mutex::new(State::default()),
                table: Arc::new(ArcSwap::from_pointee(DispatchTable::default())),
                metrics,
                client: Mutex::new(OutboundClient::default()),
                invoker: builder.invoker,
                functions: builder.functions,
                sinks: Mutex::new(HashMap::new()),
                generated_keys: Mutex::new(HashMap::new()),
                clock: builder.clock.unwrap_or_default(),
                jwt_authorizers: Arc::new(JwtAuthorizers::new()),
                throttle_metrics,
                throttle_backend: Mutex::new(None),
            }),
        };
        let report = gateway.apply(config)?;
        Ok((gateway, report))
    }

    /// The tower service answering API requests.
    #[must_use]
    pub fn service(&self) -> GatewayService {
        GatewayService::new(Arc::clone(&self.inner.table))
    }

    /// The metrics registry.
    #[must_use]
    pub fn metrics(&self) -> &MetricsRegistry {
        &self.inner.metrics
    }

    /// Blocks until every access-log line written so far is out.
    pub fn flush_access_logs(&self) {
        let sinks: Vec<_> = self
            .inner
            .sinks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for sink in sinks {
            sink.flush();
        }
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> Option<Config> {
        self.lock().config.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The API keys of the configuration being served (with the values generated
    /// for entries that give none).
    #[must_use]
    pub fn api_keys(&self) -> Vec<Arc<gateway_auth::api_key::ApiKey>> {
        let mut keys = self
            .inner
            .table
            .load()
            .api_keys
            .as_ref()
            .map(|store| store.list())
            .unwrap_or_default();
        keys.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        keys
    }

    /// The usage plans of the configuration being served, with API and key ids.
    #[must_use]
    pub fn usage_plans(&self) -> Vec<UsagePlan> {
        self.inner
            .table
            .load()
            .throttle
            .as_ref()
            .map(|t| t.plans.iter().map(|p| (**p).clone()).collect())
            .unwrap_or_default()
    }

    fn throttle(&self) -> Result<GatewayThrottle, Error> {
        self.inner
            .table
            .load()
            .throttle
            .clone()
            .ok_or_else(|| Error::NotFound("no configuration is loaded".into()))
    }

    /// A usage plan's usage per key per day from `start` to `end` (all its keys, or
    /// `key_id`'s), in the shape of AWS's `GetUsage`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown plan or key; [`Error::Usage`] for a bad
    /// range or a backend that cannot be read.
    pub async fn usage(
        &self,
        plan_id: &str,
        key_id: Option<&str>,
        start: Day,
        end: Day,
    ) -> Result<Usage, Error> {
        self.throttle()?.usage(plan_id, key_id, start, end).await
    }

    /// The quota `key_id` has left in usage plan `plan_id` this period; `None`
    /// when the plan has no quota.
    ///
    /// # Errors
    /// As [`GatewayThrottle::remaining_quota`].
    pub async fn remaining_quota(
        &self,
        plan_id: &str,
        key_id: &str,
    ) -> Result<Option<QuotaStatus>, Error> {
        self.throttle()?.remaining_quota(plan_id, key_id).await
    }

    /// Re-reads the configuration file and redeploys what changed. On any error the
    /// gateway keeps serving what it served before.
    pub fn reload(&self) -> Result<LoadReport, Error> {
        let Some(path) = &self.inner.config_path else {
            return Err(Error::NotFound(
                "this gateway was not started from a config file".into(),
            ));
        };
        let config = Config::from_file(path)?;
        self.apply(config)
    }

    /// Points a stage back at its previous deployment.
    pub fn rollback(&self, api: &str, stage: &str) -> Result<String, Error> {
        self.with_stage(api, stage, |s| {
            s.stage.rollback()?;
            Ok(s.stage.deployment.id.clone())
        })
    }

    /// Promotes a stage's canary.
    pub fn promote_canary(&self, api: &str, stage: &str) -> Result<String, Error> {
        self.with_stage(api, stage, |s| {
            s.stage.promote_canary()?;
            Ok(s.stage.deployment.id.clone())
        })
    }

    fn with_stage<F>(&self, api: &str, stage: &str, f: F) -> Result<String, Error>
    where
        F: FnOnce(&mut StageState) -> Result<String, Error>,
    {
        let mut state = self.lock();
        let mut next = state.clone();
        let stage_state = next
            .apis
            .get_mut(api)
            .ok_or_else(|| Error::NotFound(format!("no API named `{api}`")))?
            .stages
            .get_mut(stage)
            .ok_or_else(|| Error::NotFound(format!("API `{api}` has no stage `{stage}`")))?;
        let result = f(stage_state)?;
        let table = self.compile_all(&next)?;
        self.inner.table.store(Arc::new(table));
        *state = next;
        Ok(result)
    }

    /// A JSON description of APIs, stages, deployments and canaries.
    #[must_use]
    pub fn describe(&self) -> serde_json::Value {
        let state = self.lock();
        let apis: Vec<_> = state
            .apis
            .iter()
            .map(|(name, api)| {
                let stages: Vec<_> = api
                    .stages
                    .values()
                    .map(|s| {
                        json!({
                            "stageName": s.stage.name,
                            "deploymentId": s.stage.deployment.id,
                            "history": s.stage.history().iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
                            "variables": s.stage.variables.as_map(),
                            "canarySettings": s.stage.canary.as_ref().map(|c| json!({
                                "deploymentId": c.deployment.id,
                                "percentTraffic": c.percent_traffic,
                                "stageVariableOverrides": c.stage_variable_overrides.as_map(),
                            })),
                        })
                    })
                    .collect();
                json!({ "name": name, "id": api.id, "stages": stages })
            })
            .collect();
        json!({ "apis": apis })
    }

    fn apply(&self, config: Config) -> Result<LoadReport, Error> {
        let mut state = self.lock();
        let mut next = state.clone();
        let mut report = LoadReport::default();
        let mut apis = BTreeMap::new();
        for api_config in &config.apis {
            let options = LoadOptions {
                strict: config.strict,
                api_id: api_config.id.clone(),
                protocol: api_config.protocol.map(|p| match p {
                    Protocol::Rest => ApiProtocol::Rest,
                    Protocol::Http => ApiProtocol::Http,
                }),
            };
            let path = self.inner.base_dir.join(&api_config.openapi);
            let loaded = gateway_openapi::load_file(&path, &options).map_err(ConfigError::from)?;
            report.warnings.extend(loaded.warnings);
            let previous = next.apis.remove(&api_config.name);
            let (deployment, changed) = match &previous {
                Some(prev) if *prev.loaded.api == loaded.api => (Arc::clone(&prev.loaded), false),
                _ => (Arc::new(Deployment::new(loaded.api, None)), true),
            };
            // The canary documents as the previous load left them: a stage whose
            // canary settings did not change still takes a canary document that did.
            let previous_canaries = previous
                .as_ref()
                .map(|p| p.canary_loaded.clone())
                .unwrap_or_default();
            let mut api_state = ApiState {
                id: deployment.api.id.clone(),
                loaded: Arc::clone(&deployment),
                canary_loaded: previous_canaries.clone(),
                stages: BTreeMap::new(),
            };
            let mut old_stages = previous.map(|p| p.stages).unwrap_or_default();
            for stage_config in &api_config.stages {
                let variables =
                    StageVariables::from_map(stage_config.variables.clone()).map_err(|e| {
                        invalid(
                            self.inner.config_path.as_deref(),
                            &format!("stages.{}.variables", stage_config.name),
                            &e.to_string(),
                        )
                    })?;
                let mut stage_state = match old_stages.remove(&stage_config.name) {
                    Some(mut old) => {
                        if changed {
                            old.stage.deploy(Arc::clone(&deployment));
                            report
                                .redeployed
                                .push(format!("{}/{}", api_config.name, stage_config.name));
                        }
                        old
                    }
                    None => {
                        report
                            .redeployed
                            .push(format!("{}/{}", api_config.name, stage_config.name));
                        StageState {
                            stage: Stage::new(stage_config.name.clone(), Arc::clone(&deployment)),
                            applied_canary: None,
                        }
                    }
                };
                stage_state.stage.variables = variables;
                // A canary document is read on every load; what it holds now decides
                // whether the canary is set again.
                let canary_document = match stage_config
                    .canary
                    .as_ref()
                    .and_then(|c| c.openapi.as_ref())
                {
                    Some(file) => {
                        let path = self.inner.base_dir.join(file);
                        let loaded = gateway_openapi::load_file(&path, &options)
                            .map_err(ConfigError::from)?;
                        report.warnings.extend(loaded.warnings);
                        Some((path, loaded.api))
                    }
                    None => None,
                };
                let document_changed = canary_document.as_ref().is_some_and(|(path, api)| {
                    previous_canaries
                        .get(path)
                        .is_none_or(|deployed| *deployed.api != *api)
                });
                if stage_state.applied_canary != stage_config.canary || document_changed {
                    match &stage_config.canary {
                        Some(canary) => {
                            let canary_deployment = match canary_document {
                                Some((path, api)) => match api_state.canary_loaded.get(&path) {
                                    Some(d) if *d.api == api => Arc::clone(d),
                                    _ => {
                                        let d =
                                            Arc::new(Deployment::new(api, Some("canary".into())));
                                        api_state.canary_loaded.insert(path, Arc::clone(&d));
                                        d
                                    }
                                },
                                None => Arc::clone(&stage_state.stage.deployment),
                            };
                            let overrides = StageVariables::from_map(canary.variables.clone())
                                .map_err(|e| {
                                    invalid(
                                        self.inner.config_path.as_deref(),
                                        "canary.variables",
                                        &e.to_string(),
                                    )
                                })?;
                            stage_state.stage.set_canary(
                                canary_deployment,
                                canary.percent,
                                overrides,
                            )?;
                        }
                        None => stage_state.stage.canary = None,
                    }
                    stage_state.applied_canary = stage_config.canary.clone();
                }
                api_state
                    .stages
                    .insert(stage_config.name.clone(), stage_state);
            }
            apis.insert(api_config.name.clone(), api_state);
        }
        next.apis = apis;
        next.config = Some(config);
        let table = self.compile_all(&next)?;
        self.inner.table.store(Arc::new(table));
        *state = next;
        for warning in &report.warnings {
            tracing::warn!(%warning, "unsupported setting");
        }
        Ok(report)
    }

    fn sink(&self, log: &AccessLogConfig) -> Result<Arc<dyn AccessLogSink>, Error> {
        let mut sinks = self
            .inner
            .sinks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(sink) = sinks.get(&log.destination) {
            return Ok(Arc::clone(sink));
        }
        let opened = if log.destination == "stdout" {
            WriterSink::stdout()
        } else {
            WriterSink::append_to(&self.inner.base_dir.join(&log.destination))
        };
        let sink: Arc<dyn AccessLogSink> = Arc::new(opened.map_err(|source| Error::AccessLog {
            destination: log.destination.clone(),
            source,
        })?);
        sinks.insert(log.destination.clone(), Arc::clone(&sink));
        Ok(sink)
    }

    fn compile_all(&self, state: &State) -> Result<DispatchTable, Error> {
        let Some(config) = &state.config else {
            return Ok(DispatchTable::default());
        };
        let mut table = DispatchTable {
            limits: config.limits.into(),
            trusted_proxies: TrustedProxies::from_cidrs(&config.trusted_proxies)
                .map_err(|m| invalid(self.inner.config_path.as_deref(), "trusted_proxies", &m))?,
            ..DispatchTable::default()
        };
        // JWT authorizers this compile does not use are dropped once it succeeds.
        self.inner.jwt_authorizers.begin_compile();
        let outbound = self.outbound(config)?;
        table.api_keys = Some(Arc::clone(&outbound.auth.api_keys));
        let throttle = self.gateway_throttle(config, state, &*outbound.auth.api_keys)?;
        let mut by_name: HashMap<(&str, &str), Arc<CompiledStage>> = HashMap::new();
        for api_config in &config.apis {
            let Some(api_state) = state.apis.get(&api_config.name) else {
                continue;
            };
            let mut stages = ApiStages {
                protocol: api_state.loaded.api.protocol,
                ..ApiStages::default()
            };
            for stage_config in &api_config.stages {
                let Some(stage_state) = api_state.stages.get(&stage_config.name) else {
                    continue;
                };
                let access_log = match stage_config
                    .access_log
                    .as_ref()
                    .or(config.access_log.as_ref())
                {
                    Some(log) => {
                        let format = AccessLogFormat::compile(
                            log.format.as_deref().unwrap_or(DEFAULT_FORMAT),
                        )
                        .map_err(|e| {
                            invalid(
                                self.inner.config_path.as_deref(),
                                "access_log.format",
                                &e.to_string(),
                            )
                        })?;
                        Some(AccessLog {
                            format: Arc::new(format),
                            sink: self.sink(log)?,
                        })
                    }
                    None => None,
                };
                let methods = MethodThrottles::from_map(&stage_config.throttling).map_err(|e| {
                    invalid(
                        self.inner.config_path.as_deref(),
                        &format!("stages.{}.throttling", stage_config.name),
                        &e.to_string(),
                    )
                })?;
                let stage_throttle = throttle.stage(&api_state.id, &stage_config.name, methods);
                let compiled = Arc::new(self.compile_stage(
                    config,
                    &outbound,
                    &stage_throttle,
                    &api_state.id,
                    &stage_state.stage,
                    stage_config.canary.as_ref(),
                    access_log,
                )?);
                by_name.insert(
                    (api_config.name.as_str(), stage_config.name.as_str()),
                    Arc::clone(&compiled),
                );
                if stage_config.name == "$default" {
                    stages.default_stage = Some(compiled);
                } else {
                    stages.stages.insert(stage_config.name.clone(), compiled);
                }
            }
            let stages = Arc::new(stages);
            if table.default_api.is_none() {
                table.default_api = Some(Arc::clone(&stages));
            }
            table.apis.insert(api_state.id.clone(), stages);
        }
        for domain in &config.domains {
            let mut mappings: Vec<(String, Arc<CompiledStage>)> = domain
                .mappings
                .iter()
                .filter_map(|m| {
                    by_name
                        .get(&(m.api.as_str(), m.stage.as_str()))
                        .map(|s| (normalize_base_path(&m.base_path), Arc::clone(s)))
                })
                .collect();
            mappings.sort_by_key(|m| std::cmp::Reverse(m.0.len()));
            table
                .domains
                .insert(domain.name.to_ascii_lowercase(), mappings);
        }
        table.throttle = Some(throttle);
        self.inner.jwt_authorizers.finish_compile();
        Ok(table)
    }

    /// The throttle backend (kept from the last load when its settings are the
    /// same, so buckets and quotas continue), and the usage plans resolved against
    /// the loaded APIs and keys.
    fn gateway_throttle(
        &self,
        config: &Config,
        state: &State,
        keys: &dyn gateway_auth::api_key::ApiKeyStore,
    ) -> Result<GatewayThrottle, Error> {
        let config_path = self.inner.config_path.as_deref();
        let backend = {
            let mut current = self
                .inner
                .throttle_backend
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match &*current {
                Some((settings, backend)) if *settings == config.throttle.redis => {
                    Arc::clone(backend)
                }
                _ => {
                    let clock = self.inner.clock.clone();
                    let backend: Arc<dyn ThrottleBackend> = match &config.throttle.redis {
                        None => Arc::new(MemoryBackend::new(clock)),
                        Some(redis) => redis_backend(redis, clock)
                            .map_err(|m| invalid(config_path, "throttle.redis", &m))?,
                    };
                    *current = Some((config.throttle.redis.clone(), Arc::clone(&backend)));
                    backend
                }
            }
        };
        let api_ids: HashMap<&str, &str> = state
            .apis
            .iter()
            .map(|(name, api)| (name.as_str(), api.id.as_str()))
            .collect();
        let plans = GatewayThrottle::resolve_plans(config, &api_ids, keys)
            .map_err(|(field, message)| invalid(config_path, &field, &message))?;
        Ok(GatewayThrottle {
            backend,
            account: config.throttle.account,
            policy: config.throttle.on_backend_error,
            metrics: self.inner.throttle_metrics.clone(),
            plans,
        })
    }

    /// How this configuration reaches AWS: the signing configuration with its
    /// endpoint overrides, and the Lambda invoker (the one given in code, else the
    /// Lambda Invoke API when an endpoint for `lambda` is configured).
    fn outbound(&self, config: &Config) -> Result<Outbound, Error> {
        let (client, tls, trust) = self.outbound_client(&config.outbound_tls)?;
        let settings = &config.aws;
        let environment = match settings.profile.clone() {
            Some(profile) => Environment::from_fn(move |name| {
                if name == "AWS_PROFILE" {
                    Some(profile.clone())
                } else {
                    std::env::var(name).ok()
                }
            }),
            None => Environment::process(),
        };
        let region = settings
            .region
            .clone()
            .unwrap_or_else(|| config.region.clone());
        let mut aws = AwsConfig::new(region, CredentialsProvider::from_environment(environment));
        let config_path = self.inner.config_path.as_deref();
        for (service, url) in &settings.endpoints {
            aws = aws.with_endpoint(service.as_str(), url).map_err(|e| {
                invalid(
                    config_path,
                    &format!("aws.endpoints.{service}"),
                    &e.to_string(),
                )
            })?;
        }
        let remote = match settings.endpoints.get("lambda") {
            Some(_) => {
                let naming = match settings.lambda_function_names {
                    LambdaFunctionNames::AsWritten => FunctionNaming::AsWritten,
                    LambdaFunctionNames::Name => FunctionNaming::Name,
                };
                let remote = RemoteLambda::new(&aws, &client)
                    .map_err(|e| invalid(config_path, "aws.endpoints.lambda", &e.to_string()))?
                    .with_function_naming(naming);
                Some(Arc::new(remote) as SharedInvoker)
            }
            None => None,
        };
        let invoker = if let Some(invoker) = &self.inner.invoker {
            Some(Arc::clone(invoker))
        } else if self.inner.functions.is_empty() {
            remote
        } else {
            let mut functions = Functions::new();
            for (name, function) in &self.inner.functions {
                functions.insert(name.clone(), Arc::clone(function));
            }
            if let Some(remote) = remote {
                functions = functions.with_fallback(remote);
            }
            Some(functions.shared())
        };
        let mut auth = self.stage_auth(config)?;
        auth.tls = tls;
        auth.trust = trust;
        Ok(Outbound {
            client,
            aws,
            invoker,
            auth,
        })
    }

    /// The outbound client for `settings`: the current one when the trust it was
    /// built with (the settings and the CA files' contents) is unchanged, else a new
    /// one. Also the trust store itself, when it is not the system's alone, and the
    /// number identifying it.
    fn outbound_client(
        &self,
        settings: &OutboundTlsSettings,
    ) -> Result<(HttpClient, Option<TlsClient>, u64), Error> {
        let config_path = self.inner.config_path.as_deref();
        let mut pems = Vec::with_capacity(settings.ca_files.len());
        for (i, file) in settings.ca_files.iter().enumerate() {
            let path = self.inner.base_dir.join(file);
            let pem = std::fs::read(&path).map_err(|e| {
                invalid(
                    config_path,
                    &format!("outbound_tls.ca_files[{i}]"),
                    &format!("cannot read `{}`: {e}", path.display()),
                )
            })?;
            pems.push(pem);
        }
        let mut current = self
            .inner
            .client
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if current.client.is_none() || current.settings != *settings || current.pems != pems {
            let tls = if *settings == OutboundTlsSettings::default() {
                None
            } else {
                let mut builder = TlsClient::builder().system_roots(settings.system_roots);
                for (i, pem) in pems.iter().enumerate() {
                    builder = builder.add_pem(pem).map_err(|e| {
                        invalid(
                            config_path,
                            &format!("outbound_tls.ca_files[{i}]"),
                            &format!("`{}`: {e}", settings.ca_files[i].display()),
                        )
                    })?;
                }
                Some(
                    builder
                        .build()
                        .map_err(|e| invalid(config_path, "outbound_tls", &e.to_string()))?,
                )
            };
            let client = tls
                .clone()
                .map_or_else(HttpClient::new, HttpClient::with_tls);
            *current = OutboundClient {
                settings: settings.clone(),
                pems,
                client: Some(client),
                tls,
                generation: current.generation.wrapping_add(1),
            };
        }
        let client = current.client.clone().unwrap_or_default();
        Ok((client, current.tls.clone(), current.generation))
    }

    /// The API keys, IAM callers, JWKS locations and network headers of a
    /// configuration. Configured keys without an id or a value get generated ones,
    /// the same across reloads.
    fn stage_auth(&self, config: &Config) -> Result<StageAuth, Error> {
        let config_path = self.inner.config_path.as_deref();
        let settings = &config.auth;
        let mut keys = Vec::with_capacity(settings.api_keys.len());
        {
            let mut generated = self
                .inner
                .generated_keys
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for (i, entry) in settings.api_keys.iter().enumerate() {
                let mut entry = entry.clone();
                if entry.id.is_none() || entry.value.is_none() {
                    let remembered = match generated.get(&entry.name) {
                        Some(pair) => pair.clone(),
                        None => {
                            let pair = gateway_auth::api_key::generate_id()
                                .and_then(|id| Ok((id, gateway_auth::api_key::generate_value()?)))
                                .map_err(|e| {
                                    invalid(
                                        config_path,
                                        &format!("auth.api_keys[{i}]"),
                                        &e.to_string(),
                                    )
                                })?;
                            generated.insert(entry.name.clone(), pair.clone());
                            pair
                        }
                    };
                    entry.id.get_or_insert(remembered.0);
                    entry.value.get_or_insert(remembered.1);
                }
                keys.push(entry);
            }
        }
        let api_keys = InMemoryApiKeyStore::from_config(keys)
            .map_err(|e| invalid(config_path, "auth.api_keys", &e.to_string()))?;
        let credentials = InMemoryCredentials::new();
        for (i, caller) in settings.iam.iter().enumerate() {
            let field = format!("auth.iam[{i}]");
            let account = match &caller.account_id {
                Some(account) => account.clone(),
                None => caller
                    .arn
                    .split(':')
                    .nth(4)
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| {
                        invalid(
                            config_path,
                            &format!("{field}.arn"),
                            "is not an IAM ARN (arn:aws:iam::ACCOUNT:user/NAME); give account_id",
                        )
                    })?
                    .to_owned(),
            };
            let mut credential = Credential::new(
                caller.access_key_id.as_str(),
                caller.secret_access_key.as_str(),
                account,
                caller.arn.as_str(),
            );
            if let Some(token) = &caller.session_token {
                credential = credential.with_session_token(token.as_str());
            }
            for (j, document) in caller.policies.iter().enumerate() {
                let policy = Policy::from_value(document).map_err(|e| {
                    invalid(
                        config_path,
                        &format!("{field}.policies[{j}]"),
                        &e.to_string(),
                    )
                })?;
                credential = credential.with_policy(policy);
            }
            credentials.insert(credential);
        }
        let header = |field: &str, name: &Option<String>| {
            name.as_deref()
                .map(|name| {
                    HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        invalid(
                            config_path,
                            field,
                            &format!("`{name}` is not a header name"),
                        )
                    })
                })
                .transpose()
        };
        let network = NetworkHeaders {
            vpc: header("auth.source_vpc_header", &settings.source_vpc_header)?,
            vpce: header("auth.source_vpce_header", &settings.source_vpce_header)?,
        };
        let clock = self.inner.clock.clone();
        Ok(StageAuth {
            region: config.region.clone(),
            api_keys: Arc::new(api_keys),
            verifier: Arc::new(
                Verifier::new(config.region.as_str(), Arc::new(credentials))
                    .with_clock(clock.clone()),
            ),
            jwks_urls: settings.jwks_urls.clone(),
            network,
            tls: None,
            trust: 0,
            clock,
            jwt_authorizers: Arc::clone(&self.inner.jwt_authorizers),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn compile_stage(
        &self,
        config: &Config,
        outbound: &Outbound,
        throttle: &StageThrottle,
        api_id: &str,
        stage: &Stage,
        canary_config: Option<&CanaryConfig>,
        access_log: Option<AccessLog>,
    ) -> Result<CompiledStage, Error> {
        let ctx = StageCompileContext {
            api_id,
            stage: &stage.name,
            account_id: &config.account_id,
            client: &outbound.client,
            invoker: outbound.invoker.as_ref(),
            aws: Some(&outbound.aws),
            metrics: &self.inner.metrics,
            strict: config.strict,
            auth: &outbound.auth,
            throttle: Some(throttle),
        };
        let compile_error = |source| Error::Compile {
            stage: format!("{api_id}/{}", stage.name),
            source: Box::new(source),
        };
        let base = compile_variant(
            &stage.deployment.api,
            &stage.deployment.id,
            stage.variables.clone(),
            &ctx,
        )
        .map_err(compile_error)?;
        let canary = match (&stage.canary, stage.canary_variables()) {
            (Some(canary), Some(variables)) => Some(CompiledCanary {
                variant: compile_variant(
                    &canary.deployment.api,
                    &canary.deployment.id,
                    variables,
                    &ctx,
                )
                .map_err(compile_error)?,
                percent: canary.percent_traffic,
                override_header: canary_config
                    .and_then(|c| c.override_header.as_deref())
                    .and_then(|h| http::HeaderName::from_bytes(h.as_bytes()).ok()),
            }),
            _ => None,
        };
        let stage_name = if stage.name == "$default" {
            "$default"
        } else {
            stage.name.as_str()
        };
        Ok(CompiledStage {
            api_id: api_id.into(),
            account_id: config.account_id.as_str().into(),
            stage: stage_name.into(),
            base,
            canary,
            access_log,
        })
    }
}

/// A Redis backend for `throttle.redis`.
#[cfg(feature = "redis")]
fn redis_backend(
    settings: &RedisSettings,
    clock: Clock,
) -> Result<Arc<dyn ThrottleBackend>, String> {
    let mut config = gateway_throttle::RedisConfig::new(settings.url.clone());
    config.prefix.clone_from(&settings.prefix);
    config.timeout = std::time::Duration::from_millis(settings.timeout_ms);
    gateway_throttle::RedisBackend::new(config, clock)
        .map(|backend| Arc::new(backend) as Arc<dyn ThrottleBackend>)
        .map_err(|e| e.to_string())
}

/// Without the `redis` feature, `throttle.redis` cannot be served.
#[cfg(not(feature = "redis"))]
fn redis_backend(
    _settings: &RedisSettings,
    _clock: Clock,
) -> Result<Arc<dyn ThrottleBackend>, String> {
    Err("this gateway was built without the `redis` feature".into())
}

fn invalid(config_path: Option<&Path>, field: &str, message: &str) -> Error {
    Error::from(ConfigError::Invalid {
        file: config_path.map_or_else(|| "config".to_owned(), |p| p.display().to_string()),
        field: field.to_owned(),
        message: message.to_owned(),
    })
}
