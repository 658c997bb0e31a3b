//! Deployments, stages, stage variables and canary settings.
//!
//! A [`Deployment`] is an immutable snapshot of an [`Api`]. A [`Stage`] points at one
//! deployment, remembers the ones it pointed at before (so it can roll back), carries
//! its stage variables, and may send a share of its traffic to a canary deployment.
//! Compiling a stage into a running service is the caller's business; this module
//! keeps the bookkeeping AWS exposes (CreateDeployment, UpdateStage, canary
//! promotion) and the rules for stage variables.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use crate::model::Api;

/// Longest stage variable name AWS accepts.
pub const MAX_STAGE_VARIABLE_NAME: usize = 64;
/// Longest stage variable value AWS accepts.
pub const MAX_STAGE_VARIABLE_VALUE: usize = 512;

/// A stage variable that breaks AWS's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageVariableError {
    /// The name is empty, too long, or has characters other than letters, digits and `_`.
    #[error("stage variable name `{0}` is invalid: use 1 to 64 letters, digits or underscores")]
    InvalidName(String),
    /// The value is too long or has characters AWS does not allow.
    #[error(
        "stage variable `{name}` has an invalid value: use up to 512 characters from \
         letters, digits and - . _ ~ : / ? # & = ,"
    )]
    InvalidValue {
        /// The variable's name.
        name: String,
    },
}

/// Validated stage variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageVariables(BTreeMap<String, String>);

impl StageVariables {
    /// No variables.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates every name and value against AWS's limits.
    pub fn from_map(map: BTreeMap<String, String>) -> Result<Self, StageVariableError> {
        for (name, value) in &map {
            validate_variable(name, value)?;
        }
        Ok(Self(map))
    }

    /// Sets one variable after validating it.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<(), StageVariableError> {
        let (name, value) = (name.into(), value.into());
        validate_variable(&name, &value)?;
        self.0.insert(name, value);
        Ok(())
    }

    /// The value of `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// All variables, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// True when there are no variables.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// These variables with `overrides` applied on top (a canary's view of the stage).
    #[must_use]
    pub fn merged(&self, overrides: &Self) -> Self {
        let mut map = self.0.clone();
        map.extend(overrides.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        Self(map)
    }

    /// The underlying map.
    #[must_use]
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

fn validate_variable(name: &str, value: &str) -> Result<(), StageVariableError> {
    if name.is_empty()
        || name.len() > MAX_STAGE_VARIABLE_NAME
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(StageVariableError::InvalidName(name.to_owned()));
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~:/?#&=,".contains(&b);
    if value.len() > MAX_STAGE_VARIABLE_VALUE || !value.bytes().all(allowed) {
        return Err(StageVariableError::InvalidValue {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// A string with `${stageVariables.NAME}` references, split once so that
/// substitution is a concatenation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageTemplate {
    parts: Vec<TemplatePart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TemplatePart {
    Text(String),
    Variable(String),
}

impl StageTemplate {
    /// Splits `text` at its `${stageVariables.NAME}` references.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        const OPEN: &str = "${stageVariables.";
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find(OPEN) {
            let after = &rest[start + OPEN.len()..];
            let Some(end) = after.find('}') else { break };
            if start > 0 {
                parts.push(TemplatePart::Text(rest[..start].to_owned()));
            }
            parts.push(TemplatePart::Variable(after[..end].to_owned()));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Text(rest.to_owned()));
        }
        Self { parts }
    }

    /// Names of the variables referenced.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            TemplatePart::Variable(v) => Some(v.as_str()),
            TemplatePart::Text(_) => None,
        })
    }

    /// Substitutes the variables; an undefined variable becomes empty text, as on AWS.
    #[must_use]
    pub fn render(&self, variables: &StageVariables) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Text(t) => out.push_str(t),
                TemplatePart::Variable(v) => out.push_str(variables.get(v).unwrap_or("")),
            }
        }
        out
    }
}

/// Substitutes `${stageVariables.NAME}` in `text`.
#[must_use]
pub fn substitute_stage_variables(text: &str, variables: &StageVariables) -> String {
    StageTemplate::parse(text).render(variables)
}

/// An immutable snapshot of an API, as CreateDeployment makes.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The deployment id.
    pub id: String,
    /// A description.
    pub description: Option<String>,
    /// When it was created.
    pub created: SystemTime,
    /// The API as it was when deployed.
    pub api: Arc<Api>,
}

impl Deployment {
    /// Snapshots `api` under a fresh id.
    #[must_use]
    pub fn new(api: Api, description: Option<String>) -> Self {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let id: String = (0..6)
            .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
            .collect();
        Self::with_id(id, api, description)
    }

    /// Snapshots `api` under the given id.
    #[must_use]
    pub fn with_id(id: impl Into<String>, api: Api, description: Option<String>) -> Self {
        Self {
            id: id.into(),
            description,
            created: SystemTime::now(),
            api: Arc::new(api),
        }
    }
}

/// A canary: a share of a stage's traffic served by another deployment.
#[derive(Debug, Clone)]
pub struct Canary {
    /// The deployment the canary serves.
    pub deployment: Arc<Deployment>,
    /// Percent of requests (0.0 to 100.0) sent to the canary.
    pub percent_traffic: f64,
    /// Stage variables that differ in the canary.
    pub stage_variable_overrides: StageVariables,
}

impl Canary {
    /// Decides for one request whether it goes to the canary: `forced` wins when
    /// given; otherwise a uniform draw against `percent_traffic`.
    #[must_use]
    pub fn choose(&self, forced: Option<bool>) -> bool {
        forced.unwrap_or_else(|| {
            self.percent_traffic >= 100.0
                || (self.percent_traffic > 0.0 && Self::draw_percent() < self.percent_traffic)
        })
    }

    /// A uniform draw in `[0, 100)`, the per-request canary lottery.
    #[must_use]
    pub fn draw_percent() -> f64 {
        fastrand::f64() * 100.0
    }
}

/// Something a stage operation refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    /// Rollback with no earlier deployment.
    #[error("stage `{0}` has no earlier deployment to roll back to")]
    NothingToRollBack(String),
    /// Promotion with no canary.
    #[error("stage `{0}` has no canary to promote")]
    NoCanary(String),
    /// A canary percentage outside 0 to 100.
    #[error("canary percentTraffic must be between 0 and 100, got {0}")]
    InvalidPercent(String),
}

/// A stage: a named pointer to a deployment, with variables, history and a canary.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The stage name (`prod`), the first path segment of execute-api URLs.
    pub name: String,
    /// The deployment served.
    pub deployment: Arc<Deployment>,
    /// Stage variables.
    pub variables: StageVariables,
    /// The canary, if any.
    pub canary: Option<Canary>,
    history: Vec<Arc<Deployment>>,
}

impl Stage {
    /// A stage serving `deployment`.
    #[must_use]
    pub fn new(name: impl Into<String>, deployment: Arc<Deployment>) -> Self {
        Self {
            name: name.into(),
            deployment,
            variables: StageVariables::new(),
            canary: None,
            history: Vec::new(),
        }
    }

    /// Points the stage at a new deployment, remembering the current one.
    pub fn deploy(&mut self, deployment: Arc<Deployment>) {
        let previous = std::mem::replace(&mut self.deployment, deployment);
        self.history.push(previous);
    }

    /// Points the stage back at the deployment it served before the last deploy.
    pub fn rollback(&mut self) -> Result<Arc<Deployment>, StageError> {
        let previous = self
            .history
            .pop()
            .ok_or_else(|| StageError::NothingToRollBack(self.name.clone()))?;
        Ok(std::mem::replace(&mut self.deployment, previous))
    }

    /// Earlier deployments, oldest first.
    #[must_use]
    pub fn history(&self) -> &[Arc<Deployment>] {
        &self.history
    }

    /// Starts or replaces a canary.
    pub fn set_canary(
        &mut self,
        deployment: Arc<Deployment>,
        percent_traffic: f64,
        stage_variable_overrides: StageVariables,
    ) -> Result<(), StageError> {
        if !(0.0..=100.0).contains(&percent_traffic) {
            return Err(StageError::InvalidPercent(percent_traffic.to_string()));
        }
        self.canary = Some(Canary {
            deployment,
            percent_traffic,
            stage_variable_overrides,
        });
        Ok(())
    }

    /// Makes the canary the stage's deployment and its overrides the stage's
    /// variables, then removes the canary (AWS's canary promotion).
    pub fn promote_canary(&mut self) -> Result<(), StageError> {
        let canary = self
            .canary
            .take()
            .ok_or_else(|| StageError::NoCanary(self.name.clone()))?;
        self.variables = self.variables.merged(&canary.stage_variable_overrides);
        if !Arc::ptr_eq(&canary.deployment, &self.deployment) {
            self.deploy(canary.deployment);
        }
        Ok(())
    }

    /// The variables the canary sees.
    #[must_use]
    pub fn canary_variables(&self) -> Option<StageVariables> {
        self.canary
            .as_ref()
            .map(|c| self.variables.merged(&c.stage_variable_overrides))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(id: &str) -> Arc<Deployment> {
        Arc::new(Deployment::with_id(id, Api::default(), None))
    }

    #[test]
    fn stage_variables_follow_aws_rules() {
        let mut vars = StageVariables::new();
        vars.insert("backend_url", "http://127.0.0.1:8080/v1?x=1&y=2")
            .unwrap();
        assert!(matches!(
            vars.insert("bad-name", "x"),
            Err(StageVariableError::InvalidName(_))
        ));
        assert!(matches!(
            vars.insert("", "x"),
            Err(StageVariableError::InvalidName(_))
        ));
        assert!(vars.insert("a".repeat(65), "x").is_err());
        assert!(vars.insert("a".repeat(64), "x").is_ok());
        assert!(matches!(
            vars.insert("v", "has space"),
            Err(StageVariableError::InvalidValue { .. })
        ));
        assert!(vars.insert("v", "x".repeat(513)).is_err());
        assert!(vars.insert("v", "x".repeat(512)).is_ok());
    }

    #[test]
    fn substitution_replaces_references_and_blanks_unknown_ones() {
        let mut vars = StageVariables::new();
        vars.insert("host", "127.0.0.1:9000").unwrap();
        assert_eq!(
            substitute_stage_variables("http://${stageVariables.host}/pets/{id}", &vars),
            "http://127.0.0.1:9000/pets/{id}"
        );
        assert_eq!(
            substitute_stage_variables("x${stageVariables.missing}y", &vars),
            "xy"
        );
        assert_eq!(
            substitute_stage_variables("${stageVariables.open", &vars),
            "${stageVariables.open"
        );
        let template = StageTemplate::parse("${stageVariables.a}-${stageVariables.b}");
        assert_eq!(template.variables().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn deploy_and_rollback_walk_history() {
        let mut stage = Stage::new("prod", deployment("d1"));
        stage.deploy(deployment("d2"));
        stage.deploy(deployment("d3"));
        assert_eq!(stage.deployment.id, "d3");
        assert_eq!(stage.rollback().unwrap().id, "d3");
        assert_eq!(stage.deployment.id, "d2");
        stage.rollback().unwrap();
        assert_eq!(stage.deployment.id, "d1");
        assert!(matches!(
            stage.rollback(),
            Err(StageError::NothingToRollBack(_))
        ));
    }

    #[test]
    fn canary_promotion_moves_deployment_and_variables() {
        let mut stage = Stage::new("prod", deployment("d1"));
        stage.variables.insert("v", "base").unwrap();
        stage.variables.insert("keep", "same").unwrap();
        let mut overrides = StageVariables::new();
        overrides.insert("v", "canary").unwrap();
        assert!(
            stage
                .set_canary(deployment("d2"), 101.0, overrides.clone())
                .is_err()
        );
        stage.set_canary(deployment("d2"), 10.0, overrides).unwrap();
        assert_eq!(stage.canary_variables().unwrap().get("v"), Some("canary"));
        stage.promote_canary().unwrap();
        assert_eq!(stage.deployment.id, "d2");
        assert_eq!(stage.variables.get("v"), Some("canary"));
        assert_eq!(stage.variables.get("keep"), Some("same"));
        assert!(stage.canary.is_none());
        assert!(matches!(
            stage.promote_canary(),
            Err(StageError::NoCanary(_))
        ));
        stage.rollback().unwrap();
        assert_eq!(stage.deployment.id, "d1");
    }

    #[test]
    fn canary_choice_respects_force_and_bounds() {
        let canary = Canary {
            deployment: deployment("c"),
            percent_traffic: 0.0,
            stage_variable_overrides: StageVariables::new(),
        };
        assert!(!canary.choose(None));
        assert!(canary.choose(Some(true)));
        let all = Canary {
            percent_traffic: 100.0,
            ..canary
        };
        assert!(all.choose(None));
        assert!(!all.choose(Some(false)));
        let share = Canary {
            percent_traffic: 25.0,
            ..all
        };
        let hits = (0..20_000).filter(|_| share.choose(None)).count();
        assert!((4_000..6_000).contains(&hits), "{hits}");
    }
}
