//! Compiling stages into what serves requests.
//!
//! A stage's deployment (and its canary's) is compiled once into a [`CompiledStage`]:
//! a router whose entries hold each route's ready-to-call service, metric handles and
//! the `$context` values that are the same for every request of the route. At request
//! time nothing is parsed or looked up that could have been decided here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use gateway_auth::ApiScope;
use gateway_auth::api_key::ApiKeyStore;
use gateway_auth::jwt::{ConfigError as JwtConfigError, JwtAuthorizer, JwtConfig};
use gateway_auth::lambda::LambdaAuthorizer;
use gateway_auth::policy::Policy;
use gateway_auth::route::{MethodAuthorizer, NetworkHeaders, RouteAuthLayer};
use gateway_auth::sigv4::Verifier;
use gateway_core::clock::Clock;
use gateway_core::error::GatewayResponses;
use gateway_core::lambda::SharedInvoker;
use gateway_core::model::{Api, ApiProtocol, AuthorizationType, Authorizer, AuthorizerType, Route};
use gateway_core::observe::access_log::{AccessLogFormat, AccessLogSink};
use gateway_core::observe::metrics::{MethodLabels, MetricsRegistry, RouteMetrics};
use gateway_core::outbound::TlsClient;
use gateway_core::router::{MatchMode, Router};
use gateway_core::stage::{StageTemplate, StageVariables};
use gateway_core::{Body, GatewayError, GatewayResponseType};
use gateway_integrations::aws::{AwsConfig, InvokeAsRole, RoleArn};
use gateway_integrations::{CompileContext, HttpClient, IntegrationService};
use http::{HeaderName, Request, Response};

use crate::throttle::StageThrottle;
use tower::Layer as _;
use tower::util::BoxCloneSyncService;

/// Why a stage could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// A route's template is invalid or duplicated.
    #[error("API `{api}`: {source}")]
    Route {
        /// The API id.
        api: String,
        /// The router's error.
        source: gateway_core::router::RouteError,
    },
    /// An integration is invalid (or unsupported, in strict mode).
    #[error("API `{api}`: {source}")]
    Integration {
        /// The API id.
        api: String,
        /// The integration's error.
        source: gateway_integrations::CompileError,
    },
    /// The resource policy or an authorizer is invalid (or cannot be served, in
    /// strict mode).
    #[error("API `{api}`: {message}")]
    Authorization {
        /// The API id.
        api: String,
        /// What is wrong, naming the policy or the authorizer.
        message: String,
    },
    /// The gateway responses are invalid.
    #[error("API `{api}`: x-amazon-apigateway-gateway-responses: {message}")]
    GatewayResponses {
        /// The API id.
        api: String,
        /// What is wrong.
        message: String,
    },
}

/// Everything a stage compile needs besides the API itself.
#[derive(Debug, Clone, Copy)]
pub struct StageCompileContext<'a> {
    /// The id of the API the stage belongs to, whichever deployment a variant
    /// serves: what its variants' JWT authorizers are shared by.
    pub api_id: &'a str,
    /// The stage name.
    pub stage: &'a str,
    /// The account id for `$context.accountId`.
    pub account_id: &'a str,
    /// The shared backend client.
    pub client: &'a HttpClient,
    /// Invokes Lambda functions for AWS_PROXY and Lambda AWS integrations.
    pub invoker: Option<&'a SharedInvoker>,
    /// Region, credentials and endpoints for AWS service integrations.
    pub aws: Option<&'a AwsConfig>,
    /// The metrics registry.
    pub metrics: &'a MetricsRegistry,
    /// Refuse unsupported integrations instead of answering 500 for them.
    pub strict: bool,
    /// What authorizers check against.
    pub auth: &'a StageAuth,
    /// The stage's throttles and usage plans.
    pub throttle: Option<&'a StageThrottle>,
}

/// What the authorization of every stage shares: keys, IAM callers, JWKS
/// locations, the network headers and the clock, built once per (re)load, and the
/// JWT authorizers kept across reloads.
#[derive(Debug, Clone)]
pub struct StageAuth {
    /// The region of method ARNs and of SigV4 credential scopes.
    pub region: String,
    /// API keys for methods with `apiKeyRequired`.
    pub api_keys: Arc<dyn ApiKeyStore>,
    /// Verifies the signatures of `AWS_IAM` requests.
    pub verifier: Arc<Verifier>,
    /// JWKS URLs by issuer, used instead of the issuer's own.
    pub jwks_urls: std::collections::BTreeMap<String, String>,
    /// Headers carrying `aws:SourceVpc` / `aws:SourceVpce`.
    pub network: NetworkHeaders,
    /// The trust store for JWT issuers' `https` key sets; the system's when unset.
    pub tls: Option<TlsClient>,
    /// Identifies the trust store in `tls`: a new one gets a new number, so that
    /// JWT authorizers built with the old one are not reused.
    pub trust: u64,
    /// The time authorizers (token times, key-set ages, cached results, SigV4
    /// timestamps) go by.
    pub clock: Clock,
    /// JWT authorizers by API and configuration, shared by every variant compiled
    /// with them.
    pub jwt_authorizers: Arc<JwtAuthorizers>,
}

/// JWT authorizers by API and configuration, so that a stage's base and canary,
/// the API's other stages and the compiles of later reloads use one authorizer, and
/// so one cache of each issuer's keys, for as long as its configuration is the same.
///
/// The configuration is everything the authorizer is built from: the API (the
/// stage's, [`StageCompileContext::api_id`]) and its protocol, the model's
/// authorizer (issuer, audiences, identity source, Cognito pools), the key-set URLs
/// `auth.jwks_urls` gives its issuers and the trust store for `https` ones. Any
/// change gets a new authorizer, which fetches keys afresh.
///
/// A compile of the dispatch table is framed by [`begin_compile`](Self::begin_compile)
/// and, when it succeeds, [`finish_compile`](Self::finish_compile), which drops the
/// authorizers it did not use. A compile that fails drops nothing: the table still
/// served keeps using what it used.
#[derive(Debug, Default)]
pub struct JwtAuthorizers {
    state: Mutex<JwtAuthorizersState>,
}

#[derive(Debug, Default)]
struct JwtAuthorizersState {
    /// The compile in progress (or the last one).
    compile: u64,
    kept: Vec<KeptJwtAuthorizer>,
}

#[derive(Debug)]
struct KeptJwtAuthorizer {
    key: JwtAuthorizerKey,
    authorizer: JwtAuthorizer,
    /// The last compile that used it.
    used_by: u64,
}

/// What a JWT authorizer is built from: equal keys give interchangeable
/// authorizers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JwtAuthorizerKey {
    api_id: String,
    protocol: ApiProtocol,
    authorizer: Authorizer,
    /// The key-set URLs configured for its issuers, in its issuers' order.
    jwks_urls: Vec<(String, String)>,
    trust: u64,
}

impl JwtAuthorizers {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, JwtAuthorizersState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a compile: the authorizers it asks for from now on count as used by it.
    pub fn begin_compile(&self) {
        let mut state = self.lock();
        state.compile = state.compile.wrapping_add(1);
    }

    /// Ends a compile that succeeded: the authorizers it did not use are dropped.
    pub fn finish_compile(&self) {
        let mut state = self.lock();
        let compile = state.compile;
        state.kept.retain(|kept| kept.used_by == compile);
    }

    /// How many authorizers are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().kept.len()
    }

    /// Whether no authorizer is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The authorizer kept under `key`, or the one `build` makes, kept from now on.
    /// A build that fails is not kept, so the next compile tries again.
    fn get_or_build(
        &self,
        key: JwtAuthorizerKey,
        build: impl FnOnce() -> Result<JwtAuthorizer, JwtConfigError>,
    ) -> Result<JwtAuthorizer, JwtConfigError> {
        let mut state = self.lock();
        let compile = state.compile;
        if let Some(kept) = state.kept.iter_mut().find(|kept| kept.key == key) {
            kept.used_by = compile;
            return Ok(kept.authorizer.clone());
        }
        let authorizer = build()?;
        state.kept.push(KeptJwtAuthorizer {
            key,
            authorizer: authorizer.clone(),
            used_by: compile,
        });
        Ok(authorizer)
    }
}

/// The authorization pieces of one compiled variant, shared by its routes.
struct VariantAuth {
    scope: ApiScope,
    policy: Option<Policy>,
    /// Authorizers by name; `Err` holds why the authorizer cannot serve.
    authorizers: HashMap<String, Result<StageAuthorizer, String>>,
}

/// An API's authorizer compiled for a stage; methods add their own scopes.
enum StageAuthorizer {
    Lambda(LambdaAuthorizer),
    Jwt(JwtAuthorizer),
}

/// One route, compiled.
#[derive(Debug)]
pub struct CompiledRoute {
    /// The route's service: its layers and its integration.
    pub service: IntegrationService,
    /// `$context.resourcePath`.
    pub resource_path: Arc<str>,
    /// `$context.resourceId`.
    pub resource_id: Arc<str>,
    /// `$context.routeKey`.
    pub route_key: Arc<str>,
    /// Metric handles.
    pub metrics: RouteMetrics,
}

/// A deployment compiled for a stage (the stage's base or its canary).
#[derive(Debug)]
pub struct CompiledVariant {
    /// The deployment id.
    pub deployment_id: String,
    /// The API flavour (routing and error shapes).
    pub protocol: ApiProtocol,
    /// Routes.
    pub router: Router<CompiledRoute>,
    /// The variables this variant sees.
    pub stage_variables: Arc<StageVariables>,
    /// Customised gateway responses.
    pub gateway_responses: Arc<GatewayResponses>,
    /// Metrics for requests that match no route.
    pub unmatched_metrics: RouteMetrics,
}

/// A canary variant and how requests are sent to it.
#[derive(Debug)]
pub struct CompiledCanary {
    /// The canary's compiled deployment.
    pub variant: CompiledVariant,
    /// Percent of requests, 0 to 100.
    pub percent: f64,
    /// A header forcing the choice, when configured.
    pub override_header: Option<HeaderName>,
}

/// Where a stage's access-log lines go.
#[derive(Debug, Clone)]
pub struct AccessLog {
    /// The compiled format.
    pub format: Arc<AccessLogFormat>,
    /// The sink.
    pub sink: Arc<dyn AccessLogSink>,
}

/// A stage ready to serve.
#[derive(Debug)]
pub struct CompiledStage {
    /// `$context.apiId`.
    pub api_id: Arc<str>,
    /// `$context.accountId`.
    pub account_id: Arc<str>,
    /// `$context.stage`.
    pub stage: Arc<str>,
    /// The base deployment.
    pub base: CompiledVariant,
    /// The canary, if any.
    pub canary: Option<CompiledCanary>,
    /// Access logging, if enabled.
    pub access_log: Option<AccessLog>,
}

impl CompiledStage {
    /// Chooses the variant for a request: the override header when configured and
    /// present, else a draw against the canary's percentage.
    #[must_use]
    pub fn choose(&self, headers: &http::HeaderMap) -> &CompiledVariant {
        let Some(canary) = &self.canary else {
            return &self.base;
        };
        let forced = canary
            .override_header
            .as_ref()
            .and_then(|h| headers.get(h))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| match v.to_ascii_lowercase().as_str() {
                "canary" | "true" => Some(true),
                "base" | "false" => Some(false),
                _ => None,
            });
        let to_canary = forced.unwrap_or_else(|| {
            canary.percent >= 100.0 || (canary.percent > 0.0 && fastrand_percent() < canary.percent)
        });
        if to_canary {
            &canary.variant
        } else {
            &self.base
        }
    }
}

fn fastrand_percent() -> f64 {
    gateway_core::stage::Canary::draw_percent()
}

/// Compiles one deployment of `api` with `variables` for a stage.
pub fn compile_variant(
    api: &Api,
    deployment_id: &str,
    variables: StageVariables,
    ctx: &StageCompileContext<'_>,
) -> Result<CompiledVariant, CompileError> {
    let mode = match api.protocol {
        ApiProtocol::Http => MatchMode::RouteFirst,
        ApiProtocol::Rest | ApiProtocol::WebSocket => MatchMode::ResourceFirst,
    };
    let gateway_responses =
        GatewayResponses::compile(&api.gateway_responses).map_err(|message| {
            CompileError::GatewayResponses {
                api: api.id.clone(),
                message,
            }
        })?;
    let auth = compile_auth(api, &variables, ctx)?;
    let mut router = Router::new(mode);
    let mut resource_ids: HashMap<&str, Arc<str>> = HashMap::new();
    for route in &api.routes {
        let mut service = compile_route(api, route, &variables, ctx)?;
        if let Some(layer) = ctx
            .throttle
            .and_then(|t| t.route_layer(api.protocol, route))
        {
            service = BoxCloneSyncService::new(layer.layer(service));
        }
        let service = authorize_route(api, route, &auth, ctx, service)?;
        let resource_id = Arc::clone(
            resource_ids
                .entry(route.path.as_str())
                .or_insert_with(|| route.resource_id().into()),
        );
        let labels = MethodLabels {
            api: api.id.clone(),
            stage: ctx.stage.to_owned(),
            method: route.method.to_string(),
            resource: route.path.clone(),
        };
        let compiled = CompiledRoute {
            service,
            resource_path: route.path.as_str().into(),
            resource_id,
            route_key: route.route_key().into(),
            metrics: ctx.metrics.route(&labels),
        };
        router
            .insert(&route.method, &route.path, compiled)
            .map_err(|source| CompileError::Route {
                api: api.id.clone(),
                source,
            })?;
    }
    let unmatched_metrics = ctx.metrics.route(&MethodLabels {
        api: api.id.clone(),
        stage: ctx.stage.to_owned(),
        method: "-".to_owned(),
        resource: "-".to_owned(),
    });
    Ok(CompiledVariant {
        deployment_id: deployment_id.to_owned(),
        protocol: api.protocol,
        router,
        stage_variables: Arc::new(variables),
        gateway_responses: Arc::new(gateway_responses),
        unmatched_metrics,
    })
}

/// Builds one route's integration. `compile_variant` wraps it in the route's
/// throttling, then its authorization, each only when the route needs it.
fn compile_route(
    api: &Api,
    route: &Route,
    variables: &StageVariables,
    ctx: &StageCompileContext<'_>,
) -> Result<IntegrationService, CompileError> {
    let mut integration_ctx = CompileContext::new(variables, ctx.client, api.protocol)
        .with_binary_media_types(&api.binary_media_types);
    if let Some(invoker) = ctx.invoker {
        integration_ctx = integration_ctx.with_invoker(invoker);
    }
    if let Some(aws) = ctx.aws {
        integration_ctx = integration_ctx.with_aws(aws);
    }
    match gateway_integrations::compile(route, &integration_ctx) {
        Ok(service) => Ok(service),
        Err(err) if !ctx.strict && lenient_answers_500(&err) => {
            tracing::warn!(api = %api.id, route = %route.route_key(), error = %err,
                "route answers 500 until what its integration needs is configured");
            Ok(configuration_error_service())
        }
        Err(source) => Err(CompileError::Integration {
            api: api.id.clone(),
            source,
        }),
    }
}

/// Integration errors that a load outside strict mode survives, the route
/// answering 500: what the gateway cannot serve as written (an unsupported
/// integration, no invoker or AWS configuration, `credentials` that are not a role
/// it can assume, such as AWS's caller-credentials form `arn:aws:iam::*:user/*`).
fn lenient_answers_500(err: &gateway_integrations::CompileError) -> bool {
    use gateway_integrations::CompileError as E;
    matches!(
        err,
        E::Unsupported { .. } | E::NoInvoker { .. } | E::NoAwsConfig { .. } | E::Credentials { .. }
    )
}

/// Compiles an API's resource policy and its authorizers for one stage.
fn compile_auth(
    api: &Api,
    variables: &StageVariables,
    ctx: &StageCompileContext<'_>,
) -> Result<VariantAuth, CompileError> {
    let scope = ApiScope::new(
        ctx.auth.region.as_str(),
        ctx.account_id,
        api.id.as_str(),
        ctx.stage,
    );
    let refuse = |message: String| CompileError::Authorization {
        api: api.id.clone(),
        message,
    };
    // HTTP APIs have no resource policies (the importer warns and drops them).
    let policy = match (&api.policy, api.protocol) {
        (Some(document), ApiProtocol::Rest) => Some(
            Policy::for_api(document, &scope.api_arn())
                .map_err(|e| refuse(format!("x-amazon-apigateway-policy: {e}")))?,
        ),
        _ => None,
    };
    let mut authorizers = HashMap::new();
    for (name, authorizer) in &api.authorizers {
        let compiled = match authorizer.kind {
            AuthorizerType::Token | AuthorizerType::Request => match ctx.invoker {
                Some(invoker) => Ok(StageAuthorizer::Lambda(
                    LambdaAuthorizer::builder(
                        authorizer,
                        api.protocol,
                        authorizer_invoker(authorizer, invoker, variables)
                            .map_err(|e| refuse(format!("authorizer `{name}`: {e}")))?,
                    )
                    .scope(scope.clone())
                    .stage_variables(variables.clone())
                    .clock(ctx.auth.clock.clone())
                    .build()
                    .map_err(|e| refuse(format!("authorizer `{name}`: {e}")))?,
                )),
                None => Err(format!(
                    "authorizer `{name}` calls a Lambda function, but no function invoker is \
                     configured (aws.endpoints.lambda, or functions given in code)"
                )),
            },
            AuthorizerType::CognitoUserPools | AuthorizerType::Jwt => {
                let mut config = JwtConfig::from_model(authorizer, api.protocol)
                    .map_err(|e| refuse(format!("authorizer `{name}`: {e}")))?;
                let issuers: Vec<String> = config.issuers().map(str::to_owned).collect();
                let mut jwks_urls = Vec::new();
                for issuer in issuers {
                    if let Some(url) = ctx.auth.jwks_urls.get(&issuer) {
                        config = config.jwks_url(&issuer, url.clone());
                        jwks_urls.push((issuer, url.clone()));
                    }
                }
                if let Some(tls) = &ctx.auth.tls {
                    config = config.tls(tls.clone());
                }
                let key = JwtAuthorizerKey {
                    api_id: ctx.api_id.to_owned(),
                    protocol: api.protocol,
                    authorizer: authorizer.clone(),
                    jwks_urls,
                    trust: ctx.auth.trust,
                };
                let clock = ctx.auth.clock.clone();
                ctx.auth
                    .jwt_authorizers
                    .get_or_build(key, || JwtAuthorizer::new(config.clock(clock)))
                    .map(StageAuthorizer::Jwt)
                    .map_err(|e| format!("authorizer `{name}`: {e} (see auth.jwks_urls)"))
            }
        };
        if let Err(message) = &compiled
            && ctx.strict
        {
            return Err(refuse(message.clone()));
        }
        authorizers.insert(name.clone(), compiled);
    }
    Ok(VariantAuth {
        scope,
        policy,
        authorizers,
    })
}

/// Wraps a route's service in its authorization: the resource policy, the
/// method's authorizer and its API key, when it has any of them.
fn authorize_route(
    api: &Api,
    route: &Route,
    auth: &VariantAuth,
    ctx: &StageCompileContext<'_>,
    service: IntegrationService,
) -> Result<IntegrationService, CompileError> {
    let mut layer = RouteAuthLayer::new(auth.scope.clone()).network(ctx.auth.network.clone());
    if let Some(policy) = &auth.policy {
        layer = layer.resource_policy(policy.clone());
    }
    let authorization = &route.authorization;
    let authorizer = match authorization.kind {
        AuthorizationType::None => MethodAuthorizer::None,
        AuthorizationType::AwsIam => MethodAuthorizer::Iam(Arc::clone(&ctx.auth.verifier)),
        AuthorizationType::Custom
        | AuthorizationType::CognitoUserPools
        | AuthorizationType::Jwt => {
            let name = authorization.authorizer.as_deref().unwrap_or_default();
            match auth.authorizers.get(name) {
                Some(Ok(StageAuthorizer::Jwt(authorizer))) => MethodAuthorizer::Jwt {
                    authorizer: authorizer.clone(),
                    scopes: authorization.scopes.clone().into(),
                },
                Some(Ok(StageAuthorizer::Lambda(authorizer))) => {
                    MethodAuthorizer::Lambda(authorizer.clone())
                }
                Some(Err(message)) => {
                    tracing::warn!(api = %api.id, route = %route.route_key(), %message,
                        "route answers 500 until its authorizer can be served");
                    return Ok(authorizer_error_service());
                }
                None => {
                    let message = format!(
                        "route `{}` names authorizer `{name}`, which the API does not define",
                        route.route_key()
                    );
                    if ctx.strict {
                        return Err(CompileError::Authorization {
                            api: api.id.clone(),
                            message,
                        });
                    }
                    tracing::warn!(api = %api.id, %message, "route answers 500");
                    return Ok(authorizer_error_service());
                }
            }
        }
    };
    layer = layer.authorizer(authorizer);
    if route.api_key_required {
        layer = layer.api_key(Arc::clone(&ctx.auth.api_keys), api.api_key_source);
    }
    if layer.is_empty() {
        return Ok(service);
    }
    Ok(BoxCloneSyncService::new(layer.layer(service)))
}

/// A service answering AUTHORIZER_CONFIGURATION_ERROR, for routes whose
/// authorizer cannot be served.
fn authorizer_error_service() -> IntegrationService {
    BoxCloneSyncService::new(tower::service_fn(|_req: Request<Body>| async {
        Ok::<Response<Body>, gateway_core::BoxError>(
            GatewayError::new(GatewayResponseType::AuthorizerConfigurationError).into_response(),
        )
    }))
}

/// A service answering API_CONFIGURATION_ERROR, for routes that cannot be served.
fn configuration_error_service() -> IntegrationService {
    BoxCloneSyncService::new(tower::service_fn(|_req: Request<Body>| async {
        Ok::<Response<Body>, gateway_core::BoxError>(
            GatewayError::new(GatewayResponseType::ApiConfigurationError).into_response(),
        )
    }))
}

/// The invoker a Lambda authorizer calls its function through: the stage's, or,
/// when the authorizer names a role in `authorizerCredentials` (stage variables
/// substituted), the stage's invoker signing as that role.
fn authorizer_invoker(
    authorizer: &Authorizer,
    invoker: &SharedInvoker,
    variables: &StageVariables,
) -> Result<SharedInvoker, String> {
    let Some(raw) = authorizer.credentials.as_deref() else {
        return Ok(Arc::clone(invoker));
    };
    let credentials = StageTemplate::parse(raw).render(variables);
    if credentials.trim().is_empty() {
        return Ok(Arc::clone(invoker));
    }
    let role = RoleArn::parse(&credentials)
        .map_err(|e| format!("authorizerCredentials `{credentials}`: {e}"))?;
    Ok(Arc::new(InvokeAsRole::new(Arc::clone(invoker), role)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::cell::Cell;

    use super::*;

    fn key(issuer: &str, trust: u64) -> JwtAuthorizerKey {
        JwtAuthorizerKey {
            api_id: "api".to_owned(),
            protocol: ApiProtocol::Http,
            authorizer: Authorizer {
                name: "jwt".to_owned(),
                kind: AuthorizerType::Jwt,
                jwt: Some(gateway_core::model::JwtConfiguration {
                    issuer: issuer.to_owned(),
                    audience: vec!["aud".to_owned()],
                }),
                ..Authorizer::default()
            },
            jwks_urls: Vec::new(),
            trust,
        }
    }

    /// Asks `set` for the authorizer of `key`; true when it had to be built.
    fn built(set: &JwtAuthorizers, key: JwtAuthorizerKey) -> bool {
        let builds = Cell::new(false);
        let issuer = key.authorizer.jwt.clone().unwrap().issuer;
        set.get_or_build(key, || {
            builds.set(true);
            JwtConfig::jwt(issuer).audience("aud").build()
        })
        .unwrap();
        builds.get()
    }

    #[test]
    fn equal_configurations_share_one_authorizer() {
        let set = JwtAuthorizers::new();
        set.begin_compile();
        assert!(built(&set, key("https://a.example", 1)));
        assert!(!built(&set, key("https://a.example", 1)), "the canary");
        assert!(built(&set, key("https://b.example", 1)), "another issuer");
        assert!(
            built(&set, key("https://a.example", 2)),
            "another trust store"
        );
        set.finish_compile();
        assert_eq!(set.len(), 3);

        // The next compile uses one of them: the others go once it succeeds.
        set.begin_compile();
        assert!(!built(&set, key("https://a.example", 2)));
        set.finish_compile();
        assert_eq!(set.len(), 1);
        set.begin_compile();
        assert!(!built(&set, key("https://a.example", 2)));
    }

    #[test]
    fn a_failed_compile_drops_nothing() {
        let set = JwtAuthorizers::new();
        set.begin_compile();
        assert!(built(&set, key("https://a.example", 1)));
        set.finish_compile();
        // A compile that asks for another authorizer, then fails.
        set.begin_compile();
        assert!(built(&set, key("https://b.example", 1)));
        assert_eq!(set.len(), 2);
        // The table still served uses the first; the next compile finds it.
        set.begin_compile();
        assert!(!built(&set, key("https://a.example", 1)));
        set.finish_compile();
        assert_eq!(set.len(), 1);
        assert!(!set.is_empty());
    }

    #[test]
    fn authorizers_that_do_not_build_are_not_kept() {
        let set = JwtAuthorizers::new();
        set.begin_compile();
        let refused = set.get_or_build(key("not a url", 1), || {
            JwtConfig::jwt("not a url").audience("aud").build()
        });
        assert!(refused.is_err());
        assert!(set.is_empty());
    }
}
