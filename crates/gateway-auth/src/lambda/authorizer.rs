//! The check itself: identity values, the cache, the invocation, the decision.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gateway_core::clock::Clock;
use gateway_core::context::UsageIdentifierKey;
use gateway_core::lambda::{Invocation, SharedInvoker};
use gateway_core::model::{ApiProtocol, Authorizer};
use gateway_core::stage::StageVariables;
use gateway_core::{GatewayError, GatewayResponseType, RequestContext};
use http::Request;
use serde_json::{Map, Value};

use super::cache::{self, DEFAULT_MAX_ENTRIES, ResultCache};
use super::config::{LambdaAuthorizerConfig, LambdaAuthorizerError};
use super::event::{self, EventSource};
use super::output::{AuthorizerOutput, OutputRules, Rejection};
use crate::ApiScope;
use crate::policy::{Decision, PolicyRequest};

/// How long the gateway waits for the function by default: the longest
/// integration timeout of a REST API. AWS documents no separate figure for
/// authorizers; a function that does not answer in time fails the authorizer.
pub const DEFAULT_AUTHORIZER_TIMEOUT: Duration = Duration::from_secs(29);

/// A Lambda authorizer, compiled once per API stage; cloning shares its cache.
///
/// [`authorize`](Self::authorize) is the plain check a per-route combinator calls:
/// it answers the function's decision for a method ARN without turning a deny
/// into an error, so that the caller can weigh it with a resource policy.
/// [`check`](Self::check) is what [`LambdaAuthorizerLayer`](super::LambdaAuthorizerLayer)
/// does alone: the same, with anything but an allow answered 403.
///
/// Answers, as AWS gives them:
///
/// | what happened | REST API | HTTP API |
/// | --- | --- | --- |
/// | identity value missing or empty, token not matching the validation expression, function error `Unauthorized` | 401 `UNAUTHORIZED` `{"message":"Unauthorized"}` | the same |
/// | policy denies explicitly | 403 `ACCESS_DENIED` "User is not authorized to access this resource with an explicit deny" | 403 `{"message":"Forbidden"}` |
/// | policy allows nothing that matches | 403 `ACCESS_DENIED` "User is not authorized to access this resource" | 403 `{"message":"Forbidden"}` |
/// | `isAuthorized: false` | | 403 `{"message":"Forbidden"}` |
/// | the function cannot be invoked (not found, denied, throttled, unreachable, timed out), or the settings do not compile | 500 `AUTHORIZER_CONFIGURATION_ERROR` `{"message":null}` | 500 `{"message":"Internal Server Error"}` |
/// | the function fails otherwise, or answers something that is not an authorization | 500 `AUTHORIZER_FAILURE` `{"message":null}` | 500 `{"message":"Internal Server Error"}` |
///
/// AWS's guide describes `AUTHORIZER_CONFIGURATION_ERROR` as failing to reach the
/// authorizer and `AUTHORIZER_FAILURE` as the authorizer failing to
/// authenticate the caller; the split above follows those two descriptions. Both
/// carry `x-amzn-ErrorType: AuthorizerConfigurationException`, so a client sees the
/// same answer either way; only gateway-response customisations tell them apart.
///
/// Results are cached per identity value (TOKEN: the token; REQUEST: all the
/// identity values) together with the API id and stage, for the authorizer's TTL.
/// A cached policy is evaluated again for every method ARN. Only answers are
/// cached: a 401 or a 500 is not, so the next request calls the function again.
#[derive(Clone)]
pub struct LambdaAuthorizer {
    inner: Arc<Inner>,
}

/// What [`LambdaAuthorizer::authorize`] learned: the decision for the method
/// ARN, and the function's answer.
#[derive(Debug, Clone)]
pub struct Authorized {
    /// The answer's decision for the request's method ARN.
    pub decision: Decision,
    /// The function's answer, shared with the cache.
    pub output: Arc<AuthorizerOutput>,
}

impl Authorized {
    /// `principalId`.
    #[must_use]
    pub fn principal_id(&self) -> Option<&str> {
        self.output.principal_id.as_deref()
    }

    /// `context`.
    #[must_use]
    pub fn context(&self) -> &Map<String, Value> {
        &self.output.context
    }

    /// `usageIdentifierKey`.
    #[must_use]
    pub fn usage_identifier_key(&self) -> Option<&str> {
        self.output.usage_identifier_key.as_deref()
    }
}

/// Builds a [`LambdaAuthorizer`] from an API model's authorizer.
#[must_use]
pub struct LambdaAuthorizerBuilder {
    model: Authorizer,
    protocol: ApiProtocol,
    invoker: SharedInvoker,
    scope: ApiScope,
    stage_variables: Arc<StageVariables>,
    clock: Clock,
    max_entries: u64,
    timeout: Option<Duration>,
}

struct Inner {
    name: String,
    protocol: ApiProtocol,
    scope: ApiScope,
    stage_variables: Arc<StageVariables>,
    timeout: Option<Duration>,
    /// Expires cached results and dates the events of requests without a
    /// [`RequestContext`].
    clock: Clock,
    state: State,
}

enum State {
    Ready(Box<Ready>),
    /// The settings did not compile: every request is answered 500.
    Failing(LambdaAuthorizerError),
}

struct Ready {
    config: LambdaAuthorizerConfig,
    invoker: SharedInvoker,
    rules: OutputRules,
    cache: Option<ResultCache>,
}

enum Lookup {
    Hit(Arc<AuthorizerOutput>),
    Miss {
        key: Option<String>,
        payload: Bytes,
        trace_id: Option<String>,
    },
}

impl fmt::Debug for LambdaAuthorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        let mut s = f.debug_struct("LambdaAuthorizer");
        s.field("name", &inner.name)
            .field("protocol", &inner.protocol)
            .field("scope", &inner.scope);
        match &inner.state {
            State::Ready(ready) => s
                .field("config", &ready.config)
                .field("invoker", &ready.invoker)
                .field("cache", &ready.cache),
            State::Failing(error) => s.field("error", error),
        };
        s.finish()
    }
}

impl fmt::Debug for LambdaAuthorizerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LambdaAuthorizerBuilder")
            .field("model", &self.model)
            .field("protocol", &self.protocol)
            .field("scope", &self.scope)
            .field("max_entries", &self.max_entries)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl LambdaAuthorizerBuilder {
    /// The API, account and stage of method ARNs and cache keys for requests
    /// without a [`RequestContext`], and the region of every method ARN the layer
    /// computes (default [`ApiScope::default`]).
    pub fn scope(mut self, scope: ApiScope) -> Self {
        self.scope = scope;
        self
    }

    /// The stage's variables, for `stageVariables.*` identity sources and the
    /// REQUEST events' `stageVariables`.
    pub fn stage_variables(mut self, variables: impl Into<Arc<StageVariables>>) -> Self {
        self.stage_variables = variables.into();
        self
    }

    /// The clock cached results expire by, and that dates the events of requests
    /// without a [`RequestContext`] (default: [`Clock::system`]).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How many results the cache keeps at most (default 10,000).
    pub fn max_entries(mut self, max_entries: u64) -> Self {
        self.max_entries = max_entries;
        self
    }

    /// How long to wait for the function; `None` waits as long as the invoker
    /// does. The timeout needs tokio's timer; outside a tokio runtime there is none.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Compiles the authorizer.
    ///
    /// # Errors
    ///
    /// A [`LambdaAuthorizerError`] for settings AWS would refuse.
    pub fn build(self) -> Result<LambdaAuthorizer, LambdaAuthorizerError> {
        let config = LambdaAuthorizerConfig::compile(&self.model, self.protocol)?;
        Ok(self.ready(config))
    }

    /// Compiles the authorizer, or, when its settings are wrong, gives one that
    /// answers every request 500 `AUTHORIZER_CONFIGURATION_ERROR`, as AWS does
    /// for an authorizer it cannot use. The error is logged here and on each
    /// request.
    pub fn build_or_failing(self) -> LambdaAuthorizer {
        match LambdaAuthorizerConfig::compile(&self.model, self.protocol) {
            Ok(config) => self.ready(config),
            Err(error) => {
                tracing::error!(authorizer = %self.model.name, %error, "authorizer misconfigured");
                self.finish(State::Failing(error))
            }
        }
    }

    fn ready(self, config: LambdaAuthorizerConfig) -> LambdaAuthorizer {
        let cache = config
            .caches()
            .then(|| ResultCache::new(config.ttl, self.max_entries, self.clock.clone()));
        let ready = Ready {
            rules: OutputRules {
                simple_responses: config.simple_responses,
                http_api: config.http_api(),
            },
            cache,
            config,
            invoker: Arc::clone(&self.invoker),
        };
        self.finish(State::Ready(Box::new(ready)))
    }

    fn finish(self, state: State) -> LambdaAuthorizer {
        LambdaAuthorizer {
            inner: Arc::new(Inner {
                name: self.model.name,
                protocol: self.protocol,
                scope: self.scope,
                stage_variables: self.stage_variables,
                timeout: self.timeout,
                clock: self.clock,
                state,
            }),
        }
    }
}

impl LambdaAuthorizer {
    /// A builder for `model`, an authorizer of an API of `protocol`, invoking its
    /// function through `invoker`.
    pub fn builder(
        model: &Authorizer,
        protocol: ApiProtocol,
        invoker: SharedInvoker,
    ) -> LambdaAuthorizerBuilder {
        LambdaAuthorizerBuilder {
            model: model.clone(),
            protocol,
            invoker,
            scope: ApiScope::default(),
            stage_variables: Arc::new(StageVariables::new()),
            clock: Clock::system(),
            max_entries: DEFAULT_MAX_ENTRIES,
            timeout: Some(DEFAULT_AUTHORIZER_TIMEOUT),
        }
    }

    /// Compiles `model` with the builder's defaults.
    ///
    /// # Errors
    ///
    /// A [`LambdaAuthorizerError`] for settings AWS would refuse.
    pub fn new(
        model: &Authorizer,
        protocol: ApiProtocol,
        invoker: SharedInvoker,
    ) -> Result<Self, LambdaAuthorizerError> {
        Self::builder(model, protocol, invoker).build()
    }

    /// The authorizer's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The compiled settings; `None` when they did not compile.
    #[must_use]
    pub fn config(&self) -> Option<&LambdaAuthorizerConfig> {
        match &self.inner.state {
            State::Ready(ready) => Some(&ready.config),
            State::Failing(_) => None,
        }
    }

    /// The scope method ARNs are computed in.
    #[must_use]
    pub fn scope(&self) -> &ApiScope {
        &self.inner.scope
    }

    /// Drops every cached result (AWS's "flush authorizer cache").
    pub fn clear_cache(&self) {
        if let State::Ready(ready) = &self.inner.state
            && let Some(cache) = &ready.cache
        {
            cache.clear();
        }
    }

    /// Authorizes `req` for `method_arn` and, when the function gave an answer,
    /// records it in the request: `principalId` and `context` in its
    /// [`RequestContext`] (`$context.authorizer.*`), and a `usageIdentifierKey` as
    /// a [`UsageIdentifierKey`] extension. They are recorded for a deny as well,
    /// so that gateway responses can show them.
    ///
    /// # Errors
    ///
    /// `UNAUTHORIZED` (401), `AUTHORIZER_FAILURE` or
    /// `AUTHORIZER_CONFIGURATION_ERROR` (500), as the table of [`LambdaAuthorizer`]
    /// says. A deny is not an error here: it is [`Authorized::decision`].
    pub async fn authorize<B>(
        &self,
        req: &mut Request<B>,
        method_arn: &str,
    ) -> Result<Authorized, GatewayError> {
        let ready = match &self.inner.state {
            State::Ready(ready) => ready,
            State::Failing(error) => {
                tracing::warn!(authorizer = %self.inner.name, %error, "authorizer misconfigured");
                return Err(self.failure(GatewayResponseType::AuthorizerConfigurationError));
            }
        };
        let output = match self.lookup(ready, req, method_arn)? {
            Lookup::Hit(output) => output,
            Lookup::Miss {
                key,
                payload,
                trace_id,
            } => {
                let output = self.invoke(ready, payload, trace_id).await?;
                if let (Some(cache), Some(key)) = (&ready.cache, key) {
                    cache.insert(key, Arc::clone(&output));
                }
                output
            }
        };
        Ok(Self::record(req, output, method_arn))
    }

    /// Authorizes `req` for its own method ARN (see [`ApiScope::method_arn`]) and
    /// answers anything but an allow with the 403 of [`denied`](Self::denied).
    ///
    /// # Errors
    ///
    /// As [`authorize`](Self::authorize), and `ACCESS_DENIED` (403) for a deny.
    pub async fn check<B>(&self, req: &mut Request<B>) -> Result<Authorized, GatewayError> {
        let method_arn = self.inner.scope.method_arn(req);
        let authorized = self.authorize(req, &method_arn).await?;
        if authorized.decision.is_allowed() {
            Ok(authorized)
        } else {
            Err(self.denied(authorized.decision))
        }
    }

    /// The 403 for a decision that is not an allow: REST APIs answer
    /// `ACCESS_DENIED` with AWS's message for an explicit or an implicit deny;
    /// HTTP APIs answer `{"message":"Forbidden"}`.
    #[must_use]
    pub fn denied(&self, decision: Decision) -> GatewayError {
        let error = GatewayError::new(GatewayResponseType::AccessDenied);
        if self.inner.protocol == ApiProtocol::Http {
            return error
                .with_message("Forbidden")
                .with_error_type("ForbiddenException");
        }
        if decision == Decision::Deny {
            error.with_message(
                "User is not authorized to access this resource with an explicit deny",
            )
        } else {
            error
        }
    }

    /// Reads the identity values, refuses what AWS refuses before calling the
    /// function, and looks in the cache; on a miss, writes the event.
    fn lookup<B>(
        &self,
        ready: &Ready,
        req: &Request<B>,
        method_arn: &str,
    ) -> Result<Lookup, GatewayError> {
        let config = &ready.config;
        let ctx = req.extensions().get::<RequestContext>();
        let key = match &ready.cache {
            Some(cache) => {
                let scope = &self.inner.scope;
                let api_id = ctx.map(|c| &*c.api_id).filter(|s| !s.is_empty());
                let stage = ctx.map(|c| &*c.stage).filter(|s| !s.is_empty());
                let mut key = cache::key(
                    api_id.unwrap_or(&scope.api_id),
                    stage.unwrap_or(&scope.stage),
                );
                self.identity_values(config, req, |value| cache::push_part(&mut key, &value))?;
                if let Some(output) = cache.get(&key) {
                    return Ok(Lookup::Hit(output));
                }
                Some(key)
            }
            None => None,
        };
        let mut values = Vec::with_capacity(config.identity_sources.len());
        self.identity_values(config, req, |value| values.push(value))?;
        // Checked after the cache: a cached entry's key holds a token that passed.
        if let Some(validation) = &config.validation
            && !values
                .first()
                .is_some_and(|token| validation.is_match(token))
        {
            tracing::debug!(authorizer = %self.inner.name, "token does not match the validation expression");
            return Err(unauthorized());
        }
        let source = EventSource {
            format: config.format,
            scope: &self.inner.scope,
            clock: &self.inner.clock,
            stage_variables: &self.inner.stage_variables,
            method_arn,
            identity: &values,
        };
        let payload = event::build(&source, req).map_err(|error| {
            tracing::warn!(authorizer = %self.inner.name, %error, "cannot write the authorizer event");
            self.failure(GatewayResponseType::AuthorizerFailure)
        })?;
        Ok(Lookup::Miss {
            key,
            payload: Bytes::from(payload),
            trace_id: ctx
                .and_then(|c| c.trace_id.as_ref())
                .map(|t| t.as_str().to_owned()),
        })
    }

    /// Hands each identity value present to `each`, in order; a missing one is a
    /// 401 when the authorizer requires its identity.
    fn identity_values<'r, B>(
        &'r self,
        config: &LambdaAuthorizerConfig,
        req: &'r Request<B>,
        mut each: impl FnMut(Cow<'r, str>),
    ) -> Result<(), GatewayError> {
        let variables = &*self.inner.stage_variables;
        for source in &config.identity_sources {
            match event::identity_value(source, req, variables, config.http_api()) {
                Some(value) => each(value),
                None if config.requires_identity() => {
                    tracing::debug!(authorizer = %self.inner.name, ?source, "identity source missing");
                    return Err(unauthorized());
                }
                None => {}
            }
        }
        Ok(())
    }

    async fn invoke(
        &self,
        ready: &Ready,
        payload: Bytes,
        trace_id: Option<String>,
    ) -> Result<Arc<AuthorizerOutput>, GatewayError> {
        let name = &self.inner.name;
        let invocation = Invocation {
            function: ready.config.function.clone(),
            payload: payload.into(),
            trace_id,
        };
        let call = ready.invoker.invoke(invocation);
        let timeout = self
            .inner
            .timeout
            .filter(|_| tokio::runtime::Handle::try_current().is_ok());
        let result = match timeout {
            Some(limit) => match tokio::time::timeout(limit, call).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!(authorizer = %name, ?limit, "authorizer timed out");
                    return Err(self.failure(GatewayResponseType::AuthorizerConfigurationError));
                }
            },
            None => call.await,
        };
        let output = result.map_err(|error| {
            tracing::warn!(authorizer = %name, %error, "cannot invoke the authorizer");
            self.failure(GatewayResponseType::AuthorizerConfigurationError)
        })?;
        match ready.rules.read(&output) {
            Ok(output) => Ok(Arc::new(output)),
            Err(Rejection::Unauthorized) => Err(unauthorized()),
            Err(Rejection::Failed(reason)) => {
                tracing::warn!(authorizer = %name, %reason, "authorizer failed");
                Err(self.failure(GatewayResponseType::AuthorizerFailure))
            }
        }
    }

    fn record<B>(
        req: &mut Request<B>,
        output: Arc<AuthorizerOutput>,
        method_arn: &str,
    ) -> Authorized {
        let extensions = req.extensions_mut();
        let decision = {
            let ctx = extensions.get::<RequestContext>();
            let mut request = PolicyRequest::invoke(method_arn)
                .source_ip(ctx.and_then(|c| c.identity.source_ip.parse().ok()));
            request.user_agent = ctx.and_then(|c| c.identity.user_agent.as_deref());
            output.decide(&request)
        };
        if let Some(ctx) = extensions.get_mut::<RequestContext>() {
            ctx.authorizer.principal_id.clone_from(&output.principal_id);
            ctx.authorizer.context.clone_from(&output.context);
        }
        if let Some(key) = &output.usage_identifier_key {
            extensions.insert(UsageIdentifierKey(key.clone()));
        }
        Authorized { decision, output }
    }

    /// A 500: `null` message in REST APIs, "Internal Server Error" in HTTP APIs.
    fn failure(&self, kind: GatewayResponseType) -> GatewayError {
        let error = GatewayError::new(kind);
        if self.inner.protocol == ApiProtocol::Http {
            error.with_message("Internal Server Error")
        } else {
            error
        }
    }
}

fn unauthorized() -> GatewayError {
    GatewayError::new(GatewayResponseType::Unauthorized)
}
