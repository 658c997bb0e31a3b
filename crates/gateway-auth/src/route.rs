//! One method's whole authorization: its API's resource policy, its authorizer and
//! its API key requirement, combined by AWS's evaluation rules. This is the layer
//! the gateway puts in front of a route's integration, built only for routes that
//! need it.
//!
//! The order and the combination follow API Gateway:
//!
//! | authorizer | resource policy |
//! |---|---|
//! | none | must allow the anonymous caller explicitly |
//! | IAM | the signature is verified first; then the caller's identity policies and the resource policy together: for a caller of the API's own account, allowed when either allows and neither denies; for another account's caller, both must allow |
//! | Lambda | an explicit deny for the anonymous caller answers before the function is called; then the function's policy and the resource policy together, as for a same-account IAM caller |
//! | Cognito / JWT | the token is verified first; then the resource policy must allow the anonymous caller |
//!
//! After authorization comes the API key (`x-api-key`, or the `usageIdentifierKey`
//! a Lambda authorizer returned when the API's key source is `AUTHORIZER`).
//!
//! What the checks learned (`$context.identity.*`, `$context.authorizer.*`) is
//! written into the request's [`RequestContext`] and, for what runs after the
//! route's service, returned as an [`AuthorizedCaller`] in the response's
//! extensions.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use gateway_core::body::BoxError;
use gateway_core::context::AuthorizedCaller;
use gateway_core::model::ApiKeySource;
use gateway_core::{GatewayError, RequestContext};
use http::{Request, Response};
use http_body::Body as HttpBody;
use tower::{Layer, Service};

use crate::api_key::{ApiKeyLayer, ApiKeyStore};
use crate::jwt::JwtAuthorizer;
use crate::lambda::LambdaAuthorizer;
pub use crate::policy::NetworkHeaders;
use crate::policy::{Decision, Policy, Principal, RequestFacts, access_denied};
use crate::sigv4::layer::authenticate;
use crate::sigv4::{Caller, DEFAULT_MAX_BODY, Verifier};
use crate::{ApiScope, ResponseFuture};

/// How a method authorizes its callers.
#[derive(Clone, Default)]
pub enum MethodAuthorizer {
    /// Open (`NONE`): only the resource policy, if any, decides.
    #[default]
    None,
    /// `AWS_IAM`: SigV4 signatures and the caller's identity policies.
    Iam(Arc<Verifier>),
    /// A JWT authorizer (HTTP APIs) or a Cognito user pool (REST APIs), with the
    /// scopes the method requires (any one of them).
    Jwt {
        /// The authorizer, shared by every method that uses it.
        authorizer: JwtAuthorizer,
        /// The method's scopes.
        scopes: Arc<[String]>,
    },
    /// A Lambda authorizer (TOKEN or REQUEST).
    Lambda(LambdaAuthorizer),
}

impl fmt::Debug for MethodAuthorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Iam(_) => f.write_str("Iam"),
            Self::Jwt { scopes, .. } => f.debug_struct("Jwt").field("scopes", scopes).finish(),
            Self::Lambda(authorizer) => f.debug_tuple("Lambda").field(&authorizer.name()).finish(),
        }
    }
}

/// A method's authorization, as a layer.
#[derive(Debug, Clone)]
#[must_use]
pub struct RouteAuthLayer {
    config: Arc<Config>,
}

#[derive(Debug, Clone)]
struct Config {
    scope: ApiScope,
    resource_policy: Option<Policy>,
    authorizer: MethodAuthorizer,
    api_key: Option<ApiKeyLayer>,
    network: NetworkHeaders,
    max_body: usize,
}

impl RouteAuthLayer {
    /// A layer for a method of an API in `scope` that checks nothing yet.
    pub fn new(scope: ApiScope) -> Self {
        Self {
            config: Arc::new(Config {
                scope,
                resource_policy: None,
                authorizer: MethodAuthorizer::None,
                api_key: None,
                network: NetworkHeaders::default(),
                max_body: DEFAULT_MAX_BODY,
            }),
        }
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// The API's resource policy.
    pub fn resource_policy(mut self, policy: Policy) -> Self {
        self.config_mut().resource_policy = Some(policy);
        self
    }

    /// The method's authorizer.
    pub fn authorizer(mut self, authorizer: MethodAuthorizer) -> Self {
        self.config_mut().authorizer = authorizer;
        self
    }

    /// Requires an API key from `store`, read from `source`.
    pub fn api_key(mut self, store: Arc<dyn ApiKeyStore>, source: ApiKeySource) -> Self {
        self.config_mut().api_key = Some(ApiKeyLayer::new(store, source));
        self
    }

    /// The headers carrying `aws:SourceVpc` and `aws:SourceVpce`.
    pub fn network(mut self, network: NetworkHeaders) -> Self {
        self.config_mut().network = network;
        self
    }

    /// The largest body an IAM-authorized request may have when its signature
    /// covers the body (default 10 MiB).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.config_mut().max_body = bytes;
        self
    }

    /// Whether the layer checks nothing (no policy, no authorizer, no key), so
    /// that a gateway can leave it out.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.config.resource_policy.is_none()
            && matches!(self.config.authorizer, MethodAuthorizer::None)
            && self.config.api_key.is_none()
    }
}

impl<S> Layer<S> for RouteAuthLayer {
    type Service = RouteAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RouteAuth {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service [`RouteAuthLayer`] builds.
#[derive(Debug, Clone)]
pub struct RouteAuth<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> RouteAuth<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for RouteAuth<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqB: HttpBody + From<Bytes> + Send + 'static,
    ReqB::Data: Send,
    ReqB::Error: Into<BoxError>,
    ResB: From<Bytes> + 'static,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<ResB, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        ResponseFuture::new(authorize_then_call(config, inner, req))
    }
}

async fn authorize_then_call<S, ReqB, ResB>(
    config: Arc<Config>,
    mut inner: S,
    req: Request<ReqB>,
) -> Result<Response<ResB>, S::Error>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ReqB: HttpBody + From<Bytes>,
    ReqB::Error: Into<BoxError>,
    ResB: From<Bytes>,
{
    match authorize(&config, req).await {
        Ok(req) => {
            let caller = authorized_caller(&req);
            let mut response = inner.call(req).await?;
            if let Some(caller) = caller {
                response.extensions_mut().insert(caller);
            }
            Ok(response)
        }
        Err(Rejected { error, caller }) => {
            let mut response = error.into_response_with::<ResB>();
            if let Some(caller) = caller {
                response.extensions_mut().insert(caller);
            }
            Ok(response)
        }
    }
}

/// A refusal, with what was learned about the caller before it (a Lambda
/// authorizer's context is shown by customised gateway responses).
struct Rejected {
    error: GatewayError,
    caller: Option<AuthorizedCaller>,
}

impl Rejected {
    fn new<B>(error: impl Into<GatewayError>, req: &Request<B>) -> Self {
        Self {
            error: error.into(),
            caller: authorized_caller(req),
        }
    }
}

fn authorized_caller<B>(req: &Request<B>) -> Option<AuthorizedCaller> {
    req.extensions()
        .get::<RequestContext>()
        .map(|ctx| AuthorizedCaller {
            identity: ctx.identity.clone(),
            authorizer: ctx.authorizer.clone(),
        })
}

const ANONYMOUS: &str = "anonymous";

async fn authorize<B>(config: &Config, mut req: Request<B>) -> Result<Request<B>, Rejected>
where
    B: HttpBody + From<Bytes>,
    B::Error: Into<BoxError>,
{
    let policy = config.resource_policy.as_ref();
    let needs_arn = policy.is_some() || !matches!(config.authorizer, MethodAuthorizer::None);
    if needs_arn {
        let method_arn = config.scope.method_arn(&req);
        let facts = RequestFacts::of(&req, &config.network);
        let anonymous =
            |policy: &Policy| policy.evaluate(&facts.request(&method_arn, Principal::Anonymous));
        match &config.authorizer {
            MethodAuthorizer::None => {
                if let Some(policy) = policy {
                    let decision = anonymous(policy);
                    if !decision.is_allowed() {
                        return Err(Rejected::new(
                            access_denied(ANONYMOUS, &method_arn, decision),
                            &req,
                        ));
                    }
                }
            }
            MethodAuthorizer::Iam(verifier) => {
                req = authenticate(verifier, req, config.max_body)
                    .await
                    .map_err(|error| Rejected {
                        error,
                        caller: None,
                    })?;
                let Some(caller) = req.extensions().get::<Caller>().cloned() else {
                    return Err(Rejected::new(
                        crate::sigv4::Rejection::MissingAuthenticationToken,
                        &req,
                    ));
                };
                // The caller is known from here on, allowed or not (access logs
                // of refused calls name them).
                if let Some(ctx) = req.extensions_mut().get_mut::<RequestContext>() {
                    caller.fill_identity(&mut ctx.identity);
                }
                let request = facts.request(&method_arn, caller.principal());
                let identity = caller.evaluate(&request);
                let decision = match policy {
                    None => identity,
                    Some(policy) => {
                        let resource = policy.evaluate(&request);
                        let api_account = req
                            .extensions()
                            .get::<RequestContext>()
                            .map(|ctx| ctx.account_id.clone())
                            .filter(|account| !account.is_empty())
                            .unwrap_or_else(|| config.scope.account_id.clone());
                        if caller.credential.account_id == *api_account {
                            identity.and(resource)
                        } else {
                            cross_account(identity, resource)
                        }
                    }
                };
                if !decision.is_allowed() {
                    return Err(Rejected::new(
                        access_denied(&caller.credential.principal_arn, &method_arn, decision),
                        &req,
                    ));
                }
            }
            MethodAuthorizer::Jwt { authorizer, scopes } => {
                let verified = authorizer
                    .authorize(req.headers(), req.uri().query(), scopes)
                    .await
                    .map_err(|error| Rejected::new(error, &req))?;
                if let Some(ctx) = req.extensions_mut().get_mut::<RequestContext>() {
                    verified.apply_to(ctx);
                }
                if let Some(policy) = policy {
                    let decision = anonymous(policy);
                    if !decision.is_allowed() {
                        return Err(Rejected::new(
                            access_denied(ANONYMOUS, &method_arn, decision),
                            &req,
                        ));
                    }
                }
            }
            MethodAuthorizer::Lambda(authorizer) => {
                let resource = policy.map(anonymous);
                if resource == Some(Decision::Deny) {
                    return Err(Rejected::new(
                        access_denied(ANONYMOUS, &method_arn, Decision::Deny),
                        &req,
                    ));
                }
                let authorized = authorizer
                    .authorize(&mut req, &method_arn)
                    .await
                    .map_err(|error| Rejected::new(error, &req))?;
                let decision = match resource {
                    Some(resource) => authorized.decision.and(resource),
                    None => authorized.decision,
                };
                if !decision.is_allowed() {
                    return Err(Rejected::new(authorizer.denied(decision), &req));
                }
            }
        }
    }
    if let Some(keys) = &config.api_key
        && let Err(error) = keys.check(&mut req)
    {
        return Err(Rejected::new(error, &req));
    }
    Ok(req)
}

/// A caller of another account needs both the identity policies and the resource
/// policy to allow; a deny in either denies.
fn cross_account(identity: Decision, resource: Decision) -> Decision {
    match (identity, resource) {
        (Decision::Deny, _) | (_, Decision::Deny) => Decision::Deny,
        (Decision::Allow, Decision::Allow) => Decision::Allow,
        _ => Decision::Implicit,
    }
}
