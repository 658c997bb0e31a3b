//! Usage plans, and the method-settings keys that name the methods a throttle
//! applies to.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::limits::{Day, LimitError, Quota, RateLimit};

/// Why a set of usage plans or method settings is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A method key that is neither `*/*`, `/path/METHOD` nor `METHOD /path`.
    #[error(
        "`{0}` is not a method key: write `*/*`, `/resource/path/METHOD` or `METHOD /route/path`"
    )]
    MethodKey(String),
    /// A throttle or quota setting is invalid.
    #[error("{field}: {source}")]
    Limit {
        /// Where the setting is.
        field: String,
        /// What is wrong.
        source: LimitError,
    },
    /// A per-method throttle of one of a plan's API stages is invalid.
    #[error("usage plan `{plan}`: API `{api}` stage `{stage}` throttle: {source}")]
    StageThrottle {
        /// The plan id.
        plan: String,
        /// The API id.
        api: String,
        /// The stage.
        stage: String,
        /// What is wrong: the method key, or its limit.
        source: Box<PlanError>,
    },
    /// Two plans share an id.
    #[error("usage plan id `{0}` is used twice")]
    DuplicateId(String),
    /// A key is in two plans covering the same API stage.
    #[error(
        "API key `{key}` is in usage plans `{first}` and `{second}`, which both cover API \
         `{api}` stage `{stage}`; a key may be in one plan per API stage"
    )]
    KeyInTwoPlans {
        /// The key id.
        key: String,
        /// The API id.
        api: String,
        /// The stage.
        stage: String,
        /// One plan.
        first: String,
        /// The other.
        second: String,
    },
    /// A plan covers the same API stage twice.
    #[error("usage plan `{plan}` lists API `{api}` stage `{stage}` twice")]
    DuplicateStage {
        /// The plan id.
        plan: String,
        /// The API id.
        api: String,
        /// The stage.
        stage: String,
    },
}

/// Which methods a throttle applies to, as AWS's method settings name them:
/// `*/*` (every method), `/pets/GET` (or `~1pets/GET`, the escaped form of the
/// stage API), and, for HTTP API routes, the route key `GET /pets`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MethodKey {
    /// `*/*`: every method of the stage.
    All,
    /// One method of one resource (or one HTTP API route).
    Method {
        /// The resource path template (`/pets/{id}`), or `$default`.
        path: String,
        /// The HTTP method, upper case (`ANY` for ANY routes).
        method: String,
    },
}

impl MethodKey {
    /// Parses a method-settings key.
    ///
    /// # Errors
    /// When the key has none of the accepted forms.
    pub fn parse(key: &str) -> Result<Self, PlanError> {
        let bad = || PlanError::MethodKey(key.to_owned());
        let key = key.trim();
        if key == "*/*" {
            return Ok(Self::All);
        }
        if key == "$default" {
            return Ok(Self::Method {
                path: "$default".into(),
                method: "ANY".into(),
            });
        }
        // HTTP API route keys: `GET /pets`.
        if let Some((method, path)) = key.split_once(' ') {
            let path = path.trim();
            return if path.starts_with('/') && is_method(method) {
                Ok(Self::Method {
                    path: path.to_owned(),
                    method: method.to_ascii_uppercase(),
                })
            } else {
                Err(bad())
            };
        }
        let unescaped = key.replace("~1", "/");
        let (path, method) = unescaped.rsplit_once('/').ok_or_else(bad)?;
        if !is_method(method) || path.contains('*') {
            return Err(bad());
        }
        let path = if path.is_empty() {
            "/".to_owned()
        } else if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Ok(Self::Method {
            path,
            method: method.to_ascii_uppercase(),
        })
    }

    /// Whether this key names the route `method path` (or every route).
    #[must_use]
    pub fn matches(&self, route_path: &str, route_method: &str) -> bool {
        match self {
            Self::All => true,
            Self::Method { path, method } => {
                path == route_path && method.eq_ignore_ascii_case(route_method)
            }
        }
    }
}

impl fmt::Display for MethodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("*/*"),
            Self::Method { path, method } => write!(f, "{path}/{method}"),
        }
    }
}

fn is_method(m: &str) -> bool {
    !m.is_empty() && m.len() <= 10 && m.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Throttles by method: a stage's method settings, or a usage plan's per-method
/// throttles for one API stage. The most specific key wins: a method's own entry,
/// else `*/*`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MethodThrottles {
    entries: Vec<(MethodKey, RateLimit)>,
}

impl MethodThrottles {
    /// Parses and validates `{key: limit}` entries.
    ///
    /// # Errors
    /// A key or limit that is invalid, named in the error.
    pub fn from_map<'a, I>(entries: I) -> Result<Self, PlanError>
    where
        I: IntoIterator<Item = (&'a String, &'a RateLimit)>,
    {
        let mut parsed = Vec::new();
        for (key, limit) in entries {
            let method = MethodKey::parse(key)?;
            limit.validate().map_err(|source| PlanError::Limit {
                field: key.clone(),
                source,
            })?;
            parsed.push((method, *limit));
        }
        // Specific entries before `*/*`, so the first match is the most specific.
        parsed.sort_by_key(|(k, _)| matches!(k, MethodKey::All));
        Ok(Self { entries: parsed })
    }

    /// Adds one entry.
    #[must_use]
    pub fn with(mut self, key: MethodKey, limit: RateLimit) -> Self {
        self.entries.retain(|(k, _)| *k != key);
        self.entries.push((key, limit));
        self.entries
            .sort_by_key(|(k, _)| matches!(k, MethodKey::All));
        self
    }

    /// The limit for a route, and the key it came from.
    #[must_use]
    pub fn for_route(&self, path: &str, method: &str) -> Option<(&MethodKey, RateLimit)> {
        self.entries
            .iter()
            .find(|(k, _)| k.matches(path, method))
            .map(|(k, l)| (k, *l))
    }

    /// Whether there are no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, specific ones first.
    pub fn iter(&self) -> impl Iterator<Item = &(MethodKey, RateLimit)> {
        self.entries.iter()
    }
}

/// An API stage a usage plan covers, with optional per-method throttles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiStage {
    /// The API id.
    pub api_id: String,
    /// The stage name.
    pub stage: String,
    /// Per-method throttles for each key, by method key (`/pets/GET`, `*/*`).
    #[serde(default)]
    pub throttle: BTreeMap<String, RateLimit>,
}

impl ApiStage {
    /// The stage `stage` of API `api_id`, without method throttles.
    #[must_use]
    pub fn new(api_id: impl Into<String>, stage: impl Into<String>) -> Self {
        Self {
            api_id: api_id.into(),
            stage: stage.into(),
            throttle: BTreeMap::new(),
        }
    }

    /// Adds a per-method throttle.
    #[must_use]
    pub fn with_method_throttle(mut self, key: impl Into<String>, limit: RateLimit) -> Self {
        self.throttle.insert(key.into(), limit);
        self
    }
}

/// A usage plan: the API stages its keys may call, how fast and how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UsagePlan {
    /// The plan id (stable: it names the plan's counters, also in Redis).
    pub id: String,
    /// The plan's name.
    pub name: String,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
    /// The API stages the plan covers.
    #[serde(default)]
    pub api_stages: Vec<ApiStage>,
    /// The throttle applied to each key over all the plan's stages.
    #[serde(default)]
    pub throttle: Option<RateLimit>,
    /// The quota of each key.
    #[serde(default)]
    pub quota: Option<Quota>,
    /// The ids of the API keys in the plan.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// The day the plan was created: its quota's offset applies to the period
    /// containing it. Unset, the offset is not applied.
    #[serde(default)]
    pub created: Option<Day>,
}

impl UsagePlan {
    /// A plan with no stages, limits or keys yet.
    #[must_use]
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            description: None,
            api_stages: Vec::new(),
            throttle: None,
            quota: None,
            api_keys: Vec::new(),
            created: None,
        }
    }

    /// Adds an API stage.
    #[must_use]
    pub fn with_stage(mut self, stage: ApiStage) -> Self {
        self.api_stages.push(stage);
        self
    }

    /// Sets the per-key throttle.
    #[must_use]
    pub fn with_throttle(mut self, limit: RateLimit) -> Self {
        self.throttle = Some(limit);
        self
    }

    /// Sets the quota.
    #[must_use]
    pub fn with_quota(mut self, quota: Quota) -> Self {
        self.quota = Some(quota);
        self
    }

    /// Adds an API key by id.
    #[must_use]
    pub fn with_key(mut self, key_id: impl Into<String>) -> Self {
        self.api_keys.push(key_id.into());
        self
    }

    /// The limit of the quota period starting on `period_start`.
    #[must_use]
    pub fn quota_limit(&self, period_start: Day) -> Option<u64> {
        let quota = self.quota?;
        Some(match self.created {
            Some(created) => quota.limit_for(period_start, created),
            None => quota.limit,
        })
    }

    fn validate(&self) -> Result<(), PlanError> {
        let field = |name: &str| format!("usage plan `{}`: {name}", self.id);
        if let Some(limit) = &self.throttle {
            limit.validate().map_err(|source| PlanError::Limit {
                field: field("throttle"),
                source,
            })?;
        }
        if let Some(quota) = &self.quota {
            quota.validate().map_err(|source| PlanError::Limit {
                field: field("quota"),
                source,
            })?;
        }
        let mut seen = std::collections::HashSet::new();
        for stage in &self.api_stages {
            if !seen.insert((&stage.api_id, &stage.stage)) {
                return Err(PlanError::DuplicateStage {
                    plan: self.id.clone(),
                    api: stage.api_id.clone(),
                    stage: stage.stage.clone(),
                });
            }
            MethodThrottles::from_map(&stage.throttle).map_err(|source| {
                PlanError::StageThrottle {
                    plan: self.id.clone(),
                    api: stage.api_id.clone(),
                    stage: stage.stage.clone(),
                    source: Box::new(source),
                }
            })?;
        }
        Ok(())
    }
}

/// A validated set of usage plans, indexed by API stage.
#[derive(Debug, Clone, Default)]
pub struct UsagePlans {
    plans: Vec<Arc<UsagePlan>>,
}

impl UsagePlans {
    /// Validates `plans`: unique ids, valid limits and method keys, and no key in
    /// two plans covering the same API stage.
    ///
    /// # Errors
    /// The first rule broken.
    pub fn new(plans: impl IntoIterator<Item = UsagePlan>) -> Result<Self, PlanError> {
        let plans: Vec<Arc<UsagePlan>> = plans.into_iter().map(Arc::new).collect();
        let mut ids = std::collections::HashSet::new();
        let mut owners: HashMap<(&str, &str, &str), &str> = HashMap::new();
        for plan in &plans {
            if !ids.insert(plan.id.as_str()) {
                return Err(PlanError::DuplicateId(plan.id.clone()));
            }
            plan.validate()?;
            for stage in &plan.api_stages {
                for key in &plan.api_keys {
                    let slot = (key.as_str(), stage.api_id.as_str(), stage.stage.as_str());
                    if let Some(first) = owners.insert(slot, plan.id.as_str())
                        && first != plan.id
                    {
                        return Err(PlanError::KeyInTwoPlans {
                            key: key.clone(),
                            api: stage.api_id.clone(),
                            stage: stage.stage.clone(),
                            first: first.to_owned(),
                            second: plan.id.clone(),
                        });
                    }
                }
            }
        }
        Ok(Self { plans })
    }

    /// Every plan.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<UsagePlan>> {
        self.plans.iter()
    }

    /// The plan with `id`.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&Arc<UsagePlan>> {
        self.plans.iter().find(|p| p.id == id)
    }

    /// The plans covering one API stage.
    pub fn for_stage<'a>(
        &'a self,
        api_id: &'a str,
        stage: &'a str,
    ) -> impl Iterator<Item = (&'a Arc<UsagePlan>, &'a ApiStage)> + 'a {
        self.plans.iter().filter_map(move |plan| {
            plan.api_stages
                .iter()
                .find(|s| s.api_id == api_id && s.stage == stage)
                .map(|s| (plan, s))
        })
    }

    /// Whether there are no plans.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(rate: f64, burst: u32) -> RateLimit {
        RateLimit::new(rate, burst).unwrap()
    }

    #[test]
    fn method_keys_take_aws_forms() {
        let get_pets = MethodKey::Method {
            path: "/pets".into(),
            method: "GET".into(),
        };
        assert_eq!(MethodKey::parse("*/*").unwrap(), MethodKey::All);
        assert_eq!(MethodKey::parse("/pets/GET").unwrap(), get_pets);
        assert_eq!(MethodKey::parse("~1pets/GET").unwrap(), get_pets);
        assert_eq!(MethodKey::parse("pets/get").unwrap(), get_pets);
        assert_eq!(MethodKey::parse("GET /pets").unwrap(), get_pets);
        assert_eq!(
            MethodKey::parse("//GET").unwrap(),
            MethodKey::Method {
                path: "/".into(),
                method: "GET".into()
            }
        );
        assert_eq!(
            MethodKey::parse("/pets/{id}/ANY").unwrap().to_string(),
            "/pets/{id}/ANY"
        );
        for bad in ["pets", "/pets/*", "*/GET", "GET pets", "/pets/G3T", ""] {
            assert!(MethodKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_most_specific_method_setting_wins() {
        let map = BTreeMap::from([
            ("*/*".to_owned(), limit(100.0, 50)),
            ("/pets/GET".to_owned(), limit(5.0, 2)),
        ]);
        let throttles = MethodThrottles::from_map(&map).unwrap();
        assert_eq!(
            throttles.for_route("/pets", "GET").unwrap().1,
            limit(5.0, 2)
        );
        assert_eq!(
            throttles.for_route("/pets", "POST").unwrap().1,
            limit(100.0, 50)
        );
        let none = MethodThrottles::default();
        assert!(none.for_route("/pets", "GET").is_none());
    }

    #[test]
    fn a_key_may_be_in_one_plan_per_stage() {
        let gold = UsagePlan::new("gold", "Gold")
            .with_stage(ApiStage::new("a1", "prod"))
            .with_key("k1");
        let silver = UsagePlan::new("silver", "Silver")
            .with_stage(ApiStage::new("a1", "prod"))
            .with_key("k1");
        let err = UsagePlans::new([gold.clone(), silver]).unwrap_err();
        assert!(matches!(err, PlanError::KeyInTwoPlans { .. }), "{err}");
        let other_stage = UsagePlan::new("silver", "Silver")
            .with_stage(ApiStage::new("a1", "test"))
            .with_key("k1");
        let plans = UsagePlans::new([gold.clone(), other_stage]).unwrap();
        assert_eq!(plans.for_stage("a1", "prod").count(), 1);
        assert!(matches!(
            UsagePlans::new([gold.clone(), gold]).unwrap_err(),
            PlanError::DuplicateId(_)
        ));
    }

    #[test]
    fn plans_validate_their_limits() {
        let bad = UsagePlan::new("p", "P").with_throttle(RateLimit {
            rate: -1.0,
            burst: 1,
        });
        let err = UsagePlans::new([bad]).unwrap_err();
        assert!(
            err.to_string().contains("usage plan `p`: throttle"),
            "{err}"
        );
        let bad_key = UsagePlan::new("p", "P")
            .with_stage(ApiStage::new("a", "s").with_method_throttle("nope", limit(1.0, 1)));
        assert!(UsagePlans::new([bad_key]).is_err());
    }
}
