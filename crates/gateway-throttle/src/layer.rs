//! The throttling layer: every bucket and the quota that apply to a request,
//! decided in one step; a refusal is answered at once, never queued.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use gateway_core::{GatewayError, GatewayResponseType, RequestContext};
use http::{Extensions, Request, Response};
use pin_project_lite::pin_project;
use serde::Deserialize;
use tower::{Layer, Service};

use crate::backend::{
    BackendError, Bucket, Check, Decision, Level, PlanKey, ThrottleBackend, Verdict,
};
use crate::limits::RateLimit;
use crate::metrics::{Handles, ThrottleMetrics};
use crate::plan::{UsagePlan, UsagePlans};

/// What a layer does when its backend cannot take a decision (Redis down).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Let requests through unthrottled and uncounted.
    #[default]
    Open,
    /// Refuse requests with 429 `Too Many Requests`.
    Closed,
}

/// Finds the caller's API key id in a request's extensions.
pub type KeyExtractor = fn(&Extensions) -> Option<&str>;

/// The default [`KeyExtractor`]: `$context.identity.apiKeyId` of the request's
/// [`RequestContext`], which the API-key check fills in.
#[must_use]
pub fn key_from_context(extensions: &Extensions) -> Option<&str> {
    extensions
        .get::<RequestContext>()?
        .identity
        .api_key_id
        .as_deref()
}

/// The API keys of the usage plans covering one API stage, prepared in a backend.
#[derive(Debug, Clone)]
pub struct StagePlans {
    api_id: Arc<str>,
    stage: Arc<str>,
    keys: Arc<HashMap<String, PlanKey>>,
}

impl StagePlans {
    /// Prepares every key of every plan in `plans` that covers `api_id`/`stage`.
    #[must_use]
    pub fn new(
        backend: &dyn ThrottleBackend,
        plans: &UsagePlans,
        api_id: &str,
        stage: &str,
    ) -> Self {
        let mut keys = HashMap::new();
        for (plan, _) in plans.for_stage(api_id, stage) {
            for key_id in &plan.api_keys {
                keys.insert(key_id.clone(), backend.plan_key(plan, key_id));
            }
        }
        Self {
            api_id: api_id.into(),
            stage: stage.into(),
            keys: Arc::new(keys),
        }
    }

    /// The key `key_id` in its plan for this stage.
    #[must_use]
    pub fn key(&self, key_id: &str) -> Option<&PlanKey> {
        self.keys.get(key_id)
    }

    /// Every key, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &PlanKey> {
        self.keys.values()
    }

    /// Whether no plan covers the stage with a key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The plans as they apply to one method of the stage: each plan's
    /// per-method throttle for it, resolved once.
    #[must_use]
    pub fn for_method(&self, path: &str, method: &str) -> MethodPlans {
        let mut slots: Vec<(Arc<UsagePlan>, Option<usize>)> = Vec::new();
        for key in self.keys.values() {
            if !slots.iter().any(|(p, _)| Arc::ptr_eq(p, key.plan())) {
                let slot = key.method_slot(&self.api_id, &self.stage, path, method);
                slots.push((Arc::clone(key.plan()), slot));
            }
        }
        MethodPlans {
            keys: Arc::clone(&self.keys),
            slots: slots.into(),
        }
    }
}

/// The usage plans of one method: [`StagePlans::for_method`].
#[derive(Debug, Clone)]
pub struct MethodPlans {
    keys: Arc<HashMap<String, PlanKey>>,
    slots: Arc<[(Arc<UsagePlan>, Option<usize>)]>,
}

impl MethodPlans {
    fn lookup(&self, key_id: &str) -> Option<(&PlanKey, Option<usize>)> {
        let key = self.keys.get(key_id)?;
        let slot = self
            .slots
            .iter()
            .find(|(p, _)| Arc::ptr_eq(p, key.plan()))
            .and_then(|(_, s)| *s);
        Some((key, slot))
    }
}

struct Shared {
    backend: Arc<dyn ThrottleBackend>,
    buckets: Box<[Bucket]>,
    plans: Option<MethodPlans>,
    key_of: KeyExtractor,
    policy: FailurePolicy,
    handles: Handles,
}

impl Shared {
    /// What to do with a decision: `None` lets the request through.
    fn judge(&self, result: Result<Verdict, BackendError>) -> Option<GatewayError> {
        match result {
            Ok(verdict) => {
                self.handles.backend_answered();
                match verdict {
                    Verdict::Allowed => None,
                    Verdict::Throttled(level) => {
                        match level {
                            Level::PlanMethod => self.handles.plan_method.inc(),
                            Level::Plan => self.handles.plan.inc(),
                            Level::Shared(i) => self.handles.shared.get(i).map_or(0, |c| c.inc()),
                        };
                        Some(GatewayError::new(GatewayResponseType::Throttled))
                    }
                    Verdict::QuotaExceeded => {
                        self.handles.quota.inc();
                        Some(GatewayError::new(GatewayResponseType::QuotaExceeded))
                    }
                }
            }
            Err(err) => {
                let open = self.policy == FailurePolicy::Open;
                self.handles.backend_failed(&err.0, open);
                (!open).then(|| GatewayError::new(GatewayResponseType::Throttled))
            }
        }
    }
}

/// Throttles and counts requests: shared buckets (a stage's method, the
/// account) for every request, and for requests carrying an API key, the key's
/// usage plan: its per-method throttle, its throttle and its quota.
///
/// A request whose key is in no plan of the stage gets 403 `Forbidden`; a
/// throttled one 429 `Too Many Requests`; one over its quota 429 `Limit Exceeded`
/// (AWS's bodies and `x-amzn-ErrorType`). The layer never queues, and its service
/// is ready whenever the inner one is.
#[derive(Clone)]
pub struct ThrottleLayer {
    shared: Arc<Shared>,
}

impl fmt::Debug for ThrottleLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottleLayer")
            .field("buckets", &self.shared.buckets)
            .field("usage_plans", &self.shared.plans.is_some())
            .field("policy", &self.shared.policy)
            .finish_non_exhaustive()
    }
}

impl ThrottleLayer {
    /// A builder over `backend`, with no buckets yet.
    #[must_use]
    pub fn builder(backend: Arc<dyn ThrottleBackend>) -> ThrottleLayerBuilder {
        ThrottleLayerBuilder {
            backend,
            buckets: Vec::new(),
            plans: None,
            key_of: key_from_context,
            policy: FailurePolicy::default(),
            metrics: None,
        }
    }
}

/// Builds a [`ThrottleLayer`]. Buckets are checked in the order they are added:
/// add the most specific first, as AWS applies them (a method's, then the
/// account's).
pub struct ThrottleLayerBuilder {
    backend: Arc<dyn ThrottleBackend>,
    buckets: Vec<(Bucket, &'static str)>,
    plans: Option<MethodPlans>,
    key_of: KeyExtractor,
    policy: FailurePolicy,
    metrics: Option<(ThrottleMetrics, String, String)>,
}

impl fmt::Debug for ThrottleLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottleLayerBuilder")
            .field("buckets", &self.buckets)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl ThrottleLayerBuilder {
    /// Adds a shared bucket; `level` labels its rejections in the metrics.
    #[must_use]
    pub fn bucket(mut self, bucket: Bucket, level: &'static str) -> Self {
        self.buckets.push((bucket, level));
        self
    }

    /// Adds the shared bucket `name` with `limit`, prepared in the backend.
    #[must_use]
    pub fn limit(self, name: &str, limit: RateLimit, level: &'static str) -> Self {
        let bucket = self.backend.bucket(name, limit);
        self.bucket(bucket, level)
    }

    /// Adds the account-level bucket (`account`) with `limit`; AWS's default is
    /// [`RateLimit::ACCOUNT_DEFAULT`].
    #[must_use]
    pub fn account(self, limit: RateLimit) -> Self {
        self.limit("account", limit, "account")
    }

    /// Applies usage plans to requests carrying an API key.
    #[must_use]
    pub fn usage_plans(mut self, plans: MethodPlans) -> Self {
        self.plans = Some(plans);
        self
    }

    /// Where the caller's API key id is found; by default
    /// [`key_from_context`].
    #[must_use]
    pub fn key_from(mut self, extractor: KeyExtractor) -> Self {
        self.key_of = extractor;
        self
    }

    /// What to do when the backend cannot decide; [`FailurePolicy::Open`] by
    /// default.
    #[must_use]
    pub fn on_backend_error(mut self, policy: FailurePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Counts rejections in `metrics`, labelled with `api` and `stage`.
    #[must_use]
    pub fn metrics(mut self, metrics: &ThrottleMetrics, api: &str, stage: &str) -> Self {
        self.metrics = Some((metrics.clone(), api.to_owned(), stage.to_owned()));
        self
    }

    /// Whether the layer would do nothing (no bucket, no plan).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty() && self.plans.is_none()
    }

    /// The layer.
    #[must_use]
    pub fn build(self) -> ThrottleLayer {
        let levels: Vec<&str> = self.buckets.iter().map(|(_, l)| *l).collect();
        let (metrics, api, stage) = self
            .metrics
            .unwrap_or_else(|| (ThrottleMetrics::detached(), String::new(), String::new()));
        ThrottleLayer {
            shared: Arc::new(Shared {
                backend: self.backend,
                buckets: self.buckets.into_iter().map(|(b, _)| b).collect(),
                plans: self.plans,
                key_of: self.key_of,
                policy: self.policy,
                handles: metrics.handles(&api, &stage, &levels),
            }),
        }
    }
}

impl<S> Layer<S> for ThrottleLayer {
    type Service = ThrottleService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ThrottleService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service [`ThrottleLayer`] wraps around another.
#[derive(Clone)]
pub struct ThrottleService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: fmt::Debug> fmt::Debug for ThrottleService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottleService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

type PendingDecision = Pin<Box<dyn Future<Output = Result<Verdict, BackendError>> + Send>>;

pin_project! {
    /// The response future of [`ThrottleService`].
    pub struct ResponseFuture<F, S, ReqB, ResB> {
        #[pin]
        kind: Kind<F, S, ReqB, ResB>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, S, ReqB, ResB> {
        Inner { #[pin] future: F },
        Rejected { response: Option<Response<ResB>> },
        Waiting {
            decision: PendingDecision,
            waiting: Option<(S, Request<ReqB>, Arc<Shared>)>,
        },
    }
}

impl<F, S, ReqB, ResB> fmt::Debug for ResponseFuture<F, S, ReqB, ResB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for ThrottleService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone,
    ResB: From<Bytes>,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S, ReqB, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let shared = &self.shared;
        let key = match &shared.plans {
            None => None,
            Some(plans) => match (shared.key_of)(req.extensions()) {
                None => None,
                Some(id) => match plans.lookup(id) {
                    Some(found) => Some(found),
                    None => {
                        shared.handles.forbidden.inc();
                        return rejected(GatewayError::new(GatewayResponseType::InvalidApiKey));
                    }
                },
            },
        };
        let check = Check {
            buckets: &shared.buckets,
            key,
        };
        match shared.backend.decide(&check) {
            Decision::Ready(result) => {
                let result = result
                    .unwrap_or_else(|| Err(BackendError("the decision was already taken".into())));
                match shared.judge(result) {
                    None => ResponseFuture {
                        kind: Kind::Inner {
                            future: self.inner.call(req),
                        },
                    },
                    Some(err) => rejected(err),
                }
            }
            Decision::Pending(decision) => {
                // The instance polled ready goes with the request; this service
                // keeps a fresh clone for the next poll_ready.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture {
                    kind: Kind::Waiting {
                        decision,
                        waiting: Some((inner, req, Arc::clone(shared))),
                    },
                }
            }
        }
    }
}

fn rejected<F, S, ReqB, ResB: From<Bytes>>(err: GatewayError) -> ResponseFuture<F, S, ReqB, ResB> {
    ResponseFuture {
        kind: Kind::Rejected {
            response: Some(err.into_response_with()),
        },
    }
}

impl<S, ReqB, ResB> Future for ResponseFuture<S::Future, S, ReqB, ResB>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: From<Bytes>,
{
    type Output = Result<Response<ResB>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().kind.project() {
                KindProj::Inner { future } => return future.poll(cx),
                KindProj::Rejected { response } => {
                    return Poll::Ready(Ok(response.take().unwrap_or_else(|| {
                        // Only reached when polled again after completing.
                        GatewayError::new(GatewayResponseType::Default5xx).into_response_with()
                    })));
                }
                KindProj::Waiting { decision, waiting } => {
                    let result = std::task::ready!(decision.as_mut().poll(cx));
                    let Some((mut inner, req, shared)) = waiting.take() else {
                        return Poll::Ready(Ok(
                            GatewayError::new(GatewayResponseType::Default5xx).into_response_with()
                        ));
                    };
                    match shared.judge(result) {
                        None => Kind::Inner {
                            future: inner.call(req),
                        },
                        Some(err) => Kind::Rejected {
                            response: Some(err.into_response_with()),
                        },
                    }
                }
            };
            self.as_mut().project().kind.set(next);
        }
    }
}
