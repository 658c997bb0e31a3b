//! Throttling in the gateway: the backend the configuration chooses, usage plans
//! resolved against the loaded APIs and keys, and the layer each route gets.

use std::collections::HashMap;
use std::sync::Arc;

use gateway_auth::api_key::ApiKeyStore;
use gateway_core::model::{ApiProtocol, Route};
use gateway_throttle::usage::{QuotaStatus, Usage};
use gateway_throttle::{
    ApiStage, Day, FailurePolicy, MethodThrottles, PlanKey, RateLimit, StagePlans, ThrottleBackend,
    ThrottleLayer, ThrottleMetrics, UsagePlan, UsagePlans,
};

use crate::config::{Config, UsagePlanConfig};
use crate::gateway::Error;

/// What every stage's throttling shares, built on each (re)load.
#[derive(Debug, Clone)]
pub struct GatewayThrottle {
    /// Where buckets, quotas and usage live.
    pub backend: Arc<dyn ThrottleBackend>,
    /// The account-level bucket's limit, if any.
    pub account: Option<RateLimit>,
    /// What happens when the backend cannot decide.
    pub policy: FailurePolicy,
    /// Where rejections are counted.
    pub metrics: ThrottleMetrics,
    /// The usage plans, with API ids and key ids.
    pub plans: UsagePlans,
}

impl GatewayThrottle {
    /// Resolves the configured usage plans: API names to ids, key names to ids.
    ///
    /// # Errors
    /// A message naming the field when a plan is invalid (two plans giving a key
    /// the same stage, say).
    pub fn resolve_plans(
        config: &Config,
        api_ids: &HashMap<&str, &str>,
        keys: &dyn ApiKeyStore,
    ) -> Result<UsagePlans, (String, String)> {
        let key_ids: HashMap<String, String> = keys
            .list()
            .into_iter()
            .map(|k| (k.name.clone(), k.id.clone()))
            .collect();
        let plans = config
            .usage_plans
            .iter()
            .enumerate()
            .map(|(i, plan)| resolve_plan(i, plan, api_ids, &key_ids))
            .collect::<Result<Vec<_>, _>>()?;
        UsagePlans::new(plans).map_err(|e| ("usage_plans".to_owned(), e.to_string()))
    }

    /// The throttling of one stage.
    #[must_use]
    pub fn stage(&self, api_id: &str, stage: &str, methods: MethodThrottles) -> StageThrottle {
        // Without usage plans any enabled key passes (see docs/throttling.md); with
        // them, a key must be in a plan covering the stage.
        let plans = (!self.plans.is_empty())
            .then(|| StagePlans::new(&*self.backend, &self.plans, api_id, stage));
        StageThrottle {
            shared: self.clone(),
            api_id: api_id.to_owned(),
            stage: stage.to_owned(),
            plans,
            methods,
        }
    }

    /// The plan `plan_id` and its key `key_id`, prepared for reading usage.
    fn plan_key(&self, plan_id: &str, key_id: &str) -> Result<PlanKey, Error> {
        self.plans
            .get(plan_id)
            .filter(|plan| plan.api_keys.iter().any(|k| k == key_id))
            .map(|plan| self.backend.plan_key(plan, key_id))
            .ok_or_else(|| Error::NotFound(format!("usage plan `{plan_id}` has no key `{key_id}`")))
    }

    /// The usage of a plan's keys (or one of them) from `start` to `end`, as AWS's
    /// `GetUsage` reports it.
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
        let plan = self
            .plans
            .get(plan_id)
            .ok_or_else(|| Error::NotFound(format!("no usage plan `{plan_id}`")))?;
        let keys: Vec<PlanKey> = match key_id {
            Some(key) => vec![self.plan_key(plan_id, key)?],
            None => plan
                .api_keys
                .iter()
                .map(|k| self.backend.plan_key(plan, k))
                .collect(),
        };
        gateway_throttle::usage::usage(&*self.backend, plan_id, &keys, start, end)
            .await
            .map_err(|e| Error::Usage(e.to_string()))
    }

    /// The quota `key_id` has left in plan `plan_id`'s current period; `None`
    /// when the plan has no quota.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown plan or key; [`Error::Usage`] when the
    /// backend cannot be read.
    pub async fn remaining_quota(
        &self,
        plan_id: &str,
        key_id: &str,
    ) -> Result<Option<QuotaStatus>, Error> {
        let key = self.plan_key(plan_id, key_id)?;
        gateway_throttle::usage::remaining_quota(&*self.backend, &key)
            .await
            .map_err(|e| Error::Usage(e.to_string()))
    }
}

fn resolve_plan(
    i: usize,
    plan: &UsagePlanConfig,
    api_ids: &HashMap<&str, &str>,
    key_ids: &HashMap<String, String>,
) -> Result<UsagePlan, (String, String)> {
    let mut resolved = UsagePlan::new(plan.id.as_deref().unwrap_or(&plan.name), &plan.name);
    resolved.description.clone_from(&plan.description);
    resolved.throttle = plan.throttle;
    resolved.quota = plan.quota;
    resolved.created = plan.created;
    for (j, stage) in plan.api_stages.iter().enumerate() {
        let api_id = api_ids.get(stage.api.as_str()).ok_or_else(|| {
            (
                format!("usage_plans[{i}].api_stages[{j}].api"),
                format!("no API named `{}`", stage.api),
            )
        })?;
        let mut api_stage = ApiStage::new(*api_id, &stage.stage);
        api_stage.throttle.clone_from(&stage.throttle);
        resolved = resolved.with_stage(api_stage);
    }
    for (j, name) in plan.api_keys.iter().enumerate() {
        let id = key_ids.get(name).ok_or_else(|| {
            (
                format!("usage_plans[{i}].api_keys[{j}]"),
                format!("no key named `{name}` in auth.api_keys"),
            )
        })?;
        resolved = resolved.with_key(id);
    }
    Ok(resolved)
}

/// The throttling of one stage: its method throttles and the keys of the plans
/// covering it.
#[derive(Debug, Clone)]
pub struct StageThrottle {
    shared: GatewayThrottle,
    api_id: String,
    stage: String,
    plans: Option<StagePlans>,
    methods: MethodThrottles,
}

impl StageThrottle {
    /// The layer of one route: its stage method throttle, the account bucket and,
    /// for REST methods requiring an API key, the usage plans. `None` when nothing
    /// applies.
    #[must_use]
    pub fn route_layer(&self, protocol: ApiProtocol, route: &Route) -> Option<ThrottleLayer> {
        let shared = &self.shared;
        let method = route.method.to_string();
        let mut builder = ThrottleLayer::builder(Arc::clone(&shared.backend))
            .on_backend_error(shared.policy)
            .metrics(&shared.metrics, &self.api_id, &self.stage);
        if let Some((_, limit)) = self.methods.for_route(&route.path, &method) {
            let name = format!(
                "stage:{}:{}:{method} {}",
                self.api_id, self.stage, route.path
            );
            builder = builder.limit(&name, limit, "method");
        }
        if let Some(account) = shared.account {
            builder = builder.account(account);
        }
        // HTTP APIs have neither API keys nor usage plans.
        if route.api_key_required
            && protocol == ApiProtocol::Rest
            && let Some(plans) = &self.plans
        {
            builder = builder.usage_plans(plans.for_method(&route.path, &method));
        }
        (!builder.is_empty()).then(|| builder.build())
    }
}
