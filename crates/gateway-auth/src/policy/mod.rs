//! The IAM policy language, as API Gateway evaluates it: one evaluator for the
//! identity policies of IAM callers, the policies Lambda authorizers return, and
//! API resource policies.
//!
//! A [`Policy`] is compiled once (statements, wildcard patterns, CIDR blocks) and
//! then evaluated per request against a [`PolicyRequest`]: the action, the method
//! ARN, the caller and the network facts condition keys can test. The answer is a
//! [`Decision`]: an explicit `Deny` statement that matches wins over any `Allow`;
//! with neither, the request is implicitly denied.
//!
//! ```
//! use gateway_auth::policy::{Decision, Policy, PolicyRequest};
//!
//! let policy = Policy::parse(r#"{
//!   "Version": "2012-10-17",
//!   "Statement": [
//!     {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
//!      "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc123/*"},
//!     {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
//!      "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc123/*/DELETE/*"}
//!   ]
//! }"#)?;
//! let get = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets";
//! let delete = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/DELETE/pets/1";
//! assert_eq!(policy.evaluate(&PolicyRequest::invoke(get)), Decision::Allow);
//! assert_eq!(policy.evaluate(&PolicyRequest::invoke(delete)), Decision::Deny);
//! # Ok::<(), gateway_auth::policy::PolicyError>(())
//! ```
//!
//! What is supported: `Effect`, `Principal`/`NotPrincipal` (`*`, `{"AWS": ...}` with
//! account ids, account root ARNs, user and role ARNs; an assumed-role session
//! matches its role), `Action`/`NotAction` and `Resource`/`NotResource` with `*` and
//! `?` wildcards (actions case-insensitively), the resource shorthand
//! `execute-api:/stage/METHOD/path` of resource policies, and the condition
//! operators of [`condition`](self) on `aws:SourceIp`, `aws:SourceVpc`,
//! `aws:SourceVpce`, `aws:PrincipalAccount`, `aws:PrincipalArn`, `aws:UserAgent`,
//! `aws:Referer` and `aws:SecureTransport`. Other condition keys are absent from
//! every request; policy variables (`${aws:username}`) are matched as written.

mod condition;
mod facts;
mod pattern;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use gateway_core::{GatewayError, GatewayResponseType};
use serde_json::Value;

pub use self::facts::NetworkHeaders;
pub(crate) use self::facts::RequestFacts;

use self::condition::Conditions;
use self::pattern::Pattern;

/// The action API Gateway authorizes calls with.
pub const INVOKE: &str = "execute-api:Invoke";

/// `aws:SecureTransport` for calls the layers authorize: API Gateway serves HTTPS
/// only, so a policy written for it that refuses plain HTTP must not refuse every
/// call here, where TLS is terminated in front of the gateway.
pub const SECURE_TRANSPORT: bool = true;

/// A policy document that could not be compiled: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy {location}: {message}")]
pub struct PolicyError {
    /// A dotted location in the document, such as `Statement[1].Effect`.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl PolicyError {
    fn new(location: &str, message: impl Into<String>) -> Self {
        Self {
            location: location.to_owned(),
            message: message.into(),
        }
    }
}

/// The caller a policy is evaluated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Principal<'a> {
    /// An unauthenticated caller (or one authenticated by something other than
    /// IAM): only `"Principal": "*"` matches it.
    #[default]
    Anonymous,
    /// An IAM user or role session.
    Aws {
        /// The caller's account id.
        account: &'a str,
        /// The caller's ARN (`arn:aws:iam::ACCOUNT:user/NAME`,
        /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`).
        arn: &'a str,
    },
}

impl<'a> Principal<'a> {
    fn account(self) -> Option<&'a str> {
        match self {
            Self::Anonymous => None,
            Self::Aws { account, .. } => Some(account),
        }
    }

    fn arn(self) -> Option<&'a str> {
        match self {
            Self::Anonymous => None,
            Self::Aws { arn, .. } => Some(arn),
        }
    }
}

/// What is being asked of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyRequest<'a> {
    /// The action, such as [`INVOKE`].
    pub action: &'a str,
    /// The resource: a method ARN.
    pub resource: &'a str,
    /// The caller.
    pub principal: Principal<'a>,
    /// `aws:SourceIp`.
    pub source_ip: Option<IpAddr>,
    /// `aws:SourceVpc`.
    pub source_vpc: Option<&'a str>,
    /// `aws:SourceVpce`.
    pub source_vpce: Option<&'a str>,
    /// `aws:UserAgent`.
    pub user_agent: Option<&'a str>,
    /// `aws:Referer`.
    pub referer: Option<&'a str>,
    /// `aws:SecureTransport`.
    pub secure_transport: bool,
}

impl<'a> PolicyRequest<'a> {
    /// `execute-api:Invoke` on `method_arn` by an anonymous caller, with no network
    /// facts.
    #[must_use]
    pub const fn invoke(method_arn: &'a str) -> Self {
        Self {
            action: INVOKE,
            resource: method_arn,
            principal: Principal::Anonymous,
            source_ip: None,
            source_vpc: None,
            source_vpce: None,
            user_agent: None,
            referer: None,
            secure_transport: false,
        }
    }

    /// Sets the caller.
    #[must_use]
    pub const fn principal(mut self, principal: Principal<'a>) -> Self {
        self.principal = principal;
        self
    }

    /// Sets `aws:SourceIp`.
    #[must_use]
    pub const fn source_ip(mut self, ip: Option<IpAddr>) -> Self {
        self.source_ip = ip;
        self
    }

    /// Sets `aws:SourceVpc` and `aws:SourceVpce`.
    #[must_use]
    pub const fn vpc(mut self, vpc: Option<&'a str>, vpce: Option<&'a str>) -> Self {
        self.source_vpc = vpc;
        self.source_vpce = vpce;
        self
    }
}

/// The outcome of evaluating policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An `Allow` statement matched and no `Deny` did.
    Allow,
    /// A `Deny` statement matched.
    Deny,
    /// No statement matched: denied unless something else allows.
    Implicit,
}

impl Decision {
    /// Combines two decisions taken together: a deny wins, then an allow.
    #[must_use]
    pub const fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::Deny, _) | (_, Self::Deny) => Self::Deny,
            (Self::Allow, _) | (_, Self::Allow) => Self::Allow,
            _ => Self::Implicit,
        }
    }

    /// Whether the decision lets the request through.
    #[must_use]
    pub const fn is_allowed(self) -> bool {
        matches!(self, Self::Allow)
    }
}

/// Evaluates several policies as one: any explicit deny wins, else any allow.
#[must_use]
pub fn evaluate_all<'p>(
    policies: impl IntoIterator<Item = &'p Policy>,
    request: &PolicyRequest<'_>,
) -> Decision {
    let mut decision = Decision::Implicit;
    for policy in policies {
        match policy.evaluate(request) {
            Decision::Deny => return Decision::Deny,
            Decision::Allow => decision = Decision::Allow,
            Decision::Implicit => {}
        }
    }
    decision
}

/// The 403 AWS answers when a policy denies `user` (`anonymous` or the caller's
/// ARN) the call to `method_arn`.
#[must_use]
pub fn access_denied(user: &str, method_arn: &str, decision: Decision) -> GatewayError {
    let explicit = if decision == Decision::Deny {
        " with an explicit deny"
    } else {
        ""
    };
    GatewayError::new(GatewayResponseType::AccessDenied).with_message(format!(
        "User: {user} is not authorized to perform: execute-api:Invoke on resource: \
         {method_arn}{explicit}"
    ))
}

/// A compiled policy document. Cloning shares the compiled statements.
#[derive(Clone)]
pub struct Policy {
    statements: Arc<[Statement]>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("statements", &self.statements.len())
            .finish()
    }
}

#[derive(Debug, Clone)]
struct Statement {
    allow: bool,
    principal: Option<Matcher<PrincipalPattern>>,
    actions: Matcher<Pattern>,
    resources: Matcher<Pattern>,
    conditions: Conditions,
}

/// A list of patterns, or its complement (`NotAction`, `NotResource`,
/// `NotPrincipal`).
#[derive(Debug, Clone)]
struct Matcher<P> {
    patterns: Vec<P>,
    negated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PrincipalPattern {
    /// `*`: everyone, anonymous callers included.
    Everyone,
    /// Every principal of an account.
    Account(Box<str>),
    /// One user or role.
    Arn(Box<str>),
    /// A service or federated principal: never a caller of an API.
    Other,
}

impl Policy {
    /// Compiles a policy document from JSON text.
    ///
    /// # Errors
    ///
    /// A [`PolicyError`] naming the place of the first problem.
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| PolicyError::new("(document)", format!("not JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// Compiles a policy document.
    ///
    /// # Errors
    ///
    /// A [`PolicyError`] naming the place of the first problem.
    pub fn from_value(value: &Value) -> Result<Self, PolicyError> {
        Self::compile(value, None)
    }

    /// Compiles an API's resource policy, expanding the shorthand resources
    /// `execute-api:/stage/METHOD/path` under `api_arn`
    /// (`arn:aws:execute-api:{region}:{account}:{api-id}`).
    ///
    /// # Errors
    ///
    /// A [`PolicyError`] naming the place of the first problem.
    pub fn for_api(value: &Value, api_arn: &str) -> Result<Self, PolicyError> {
        Self::compile(value, Some(api_arn))
    }

    fn compile(value: &Value, api_arn: Option<&str>) -> Result<Self, PolicyError> {
        let Value::Object(doc) = value else {
            return Err(PolicyError::new("(document)", "must be a JSON object"));
        };
        for (key, field) in doc {
            match key.as_str() {
                "Version" => match field.as_str() {
                    Some("2012-10-17" | "2008-10-17") => {}
                    _ => {
                        return Err(PolicyError::new(
                            "Version",
                            "must be \"2012-10-17\" or \"2008-10-17\"",
                        ));
                    }
                },
                "Id" | "Statement" => {}
                other => {
                    return Err(PolicyError::new(other, "is not a policy element"));
                }
            }
        }
        let statements = match doc.get("Statement") {
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, s)| Statement::compile(s, &format!("Statement[{i}]"), api_arn))
                .collect::<Result<Vec<_>, _>>()?,
            Some(single @ Value::Object(_)) => {
                vec![Statement::compile(single, "Statement", api_arn)?]
            }
            Some(_) => {
                return Err(PolicyError::new(
                    "Statement",
                    "must be a statement or a list of statements",
                ));
            }
            None => return Err(PolicyError::new("Statement", "is missing")),
        };
        Ok(Self {
            statements: statements.into(),
        })
    }

    /// Evaluates the policy for `request`.
    #[must_use]
    pub fn evaluate(&self, request: &PolicyRequest<'_>) -> Decision {
        let mut decision = Decision::Implicit;
        for statement in self.statements.iter() {
            if statement.allow && decision == Decision::Allow {
                continue;
            }
            if statement.applies(request) {
                if !statement.allow {
                    return Decision::Deny;
                }
                decision = Decision::Allow;
            }
        }
        decision
    }

    /// The number of statements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// Whether the policy has no statement (it denies everything implicitly).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }
}

impl Statement {
    fn compile(value: &Value, at: &str, api_arn: Option<&str>) -> Result<Self, PolicyError> {
        let Value::Object(fields) = value else {
            return Err(PolicyError::new(at, "must be an object"));
        };
        for key in fields.keys() {
            if !matches!(
                key.as_str(),
                "Sid"
                    | "Effect"
                    | "Principal"
                    | "NotPrincipal"
                    | "Action"
                    | "NotAction"
                    | "Resource"
                    | "NotResource"
                    | "Condition"
            ) {
                return Err(PolicyError::new(
                    &format!("{at}.{key}"),
                    "is not a statement element",
                ));
            }
        }
        let allow = match fields.get("Effect").and_then(Value::as_str) {
            Some("Allow") => true,
            Some("Deny") => false,
            _ => {
                return Err(PolicyError::new(
                    &format!("{at}.Effect"),
                    "must be \"Allow\" or \"Deny\"",
                ));
            }
        };
        let principal = match one_of(fields, at, "Principal", "NotPrincipal", false)? {
            Some((value, negated, field_at)) => Some(Matcher {
                patterns: principals(value, &field_at)?,
                negated,
            }),
            None => None,
        };
        let (actions, negated, actions_at) = one_of(fields, at, "Action", "NotAction", true)?
            .ok_or_else(|| PolicyError::new(&format!("{at}.Action"), "is missing"))?;
        let actions = Matcher {
            patterns: strings(actions, &actions_at)?
                .iter()
                .map(|a| Pattern::new(a, true))
                .collect(),
            negated,
        };
        let (resources, negated, resources_at) =
            one_of(fields, at, "Resource", "NotResource", true)?
                .ok_or_else(|| PolicyError::new(&format!("{at}.Resource"), "is missing"))?;
        let resources = Matcher {
            patterns: strings(resources, &resources_at)?
                .iter()
                .map(|r| Pattern::new(&expand_resource(r, api_arn), false))
                .collect(),
            negated,
        };
        let conditions = match fields.get("Condition") {
            Some(block) => Conditions::compile(block, &format!("{at}.Condition"))?,
            None => Conditions::default(),
        };
        Ok(Self {
            allow,
            principal,
            actions,
            resources,
            conditions,
        })
    }

    fn applies(&self, request: &PolicyRequest<'_>) -> bool {
        if let Some(principal) = &self.principal {
            let hit = principal
                .patterns
                .iter()
                .any(|p| p.matches(request.principal));
            if hit == principal.negated {
                return false;
            }
        }
        let action_hit = self
            .actions
            .patterns
            .iter()
            .any(|p| matches_ignore_case(p, request.action));
        if action_hit == self.actions.negated {
            return false;
        }
        let resource_hit = self
            .resources
            .patterns
            .iter()
            .any(|p| p.matches(request.resource));
        if resource_hit == self.resources.negated {
            return false;
        }
        self.conditions.hold(request)
    }
}

/// The value of `name` or of its negated form `not_name` (one, not both), with
/// whether it was the negated one and its location.
fn one_of<'v>(
    fields: &'v serde_json::Map<String, Value>,
    at: &str,
    name: &str,
    not_name: &str,
    required: bool,
) -> Result<Option<(&'v Value, bool, String)>, PolicyError> {
    match (fields.get(name), fields.get(not_name)) {
        (Some(_), Some(_)) => Err(PolicyError::new(
            &format!("{at}.{name}"),
            format!("{name} and {not_name} cannot both be given"),
        )),
        (Some(v), None) => Ok(Some((v, false, format!("{at}.{name}")))),
        (None, Some(v)) => Ok(Some((v, true, format!("{at}.{not_name}")))),
        (None, None) if required => Err(PolicyError::new(
            &format!("{at}.{name}"),
            format!("one of {name} or {not_name} is required"),
        )),
        (None, None) => Ok(None),
    }
}

fn strings<'v>(value: &'v Value, at: &str) -> Result<Vec<&'v str>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s]),
        Value::Array(list) if !list.is_empty() => list
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| PolicyError::new(at, "must list strings"))
            })
            .collect(),
        _ => Err(PolicyError::new(
            at,
            "must be a string or a non-empty list of strings",
        )),
    }
}

fn principals(value: &Value, at: &str) -> Result<Vec<PrincipalPattern>, PolicyError> {
    match value {
        Value::String(s) if s == "*" => Ok(vec![PrincipalPattern::Everyone]),
        Value::Object(kinds) if !kinds.is_empty() => {
            let mut out = Vec::new();
            for (kind, names) in kinds {
                let kind_at = format!("{at}.{kind}");
                let names = strings(names, &kind_at)?;
                if kind == "AWS" {
                    for name in names {
                        out.push(aws_principal(name, &kind_at)?);
                    }
                } else {
                    out.push(PrincipalPattern::Other);
                }
            }
            Ok(out)
        }
        _ => Err(PolicyError::new(
            at,
            "must be \"*\" or an object such as {\"AWS\": [...]}",
        )),
    }
}

fn aws_principal(name: &str, at: &str) -> Result<PrincipalPattern, PolicyError> {
    if name == "*" {
        return Ok(PrincipalPattern::Everyone);
    }
    if name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(PrincipalPattern::Account(name.into()));
    }
    // arn:PARTITION:iam::ACCOUNT:root names the whole account.
    let parts: Vec<&str> = name.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "iam", "", account, "root"] => Ok(PrincipalPattern::Account((*account).into())),
        ["arn", _, "iam" | "sts", "", _, _] => Ok(PrincipalPattern::Arn(name.into())),
        _ => Err(PolicyError::new(
            at,
            format!("`{name}` is not an account id or an IAM ARN"),
        )),
    }
}

impl PrincipalPattern {
    fn matches(&self, principal: Principal<'_>) -> bool {
        match (self, principal) {
            (Self::Everyone, _) => true,
            (Self::Account(want), Principal::Aws { account, .. }) => **want == *account,
            (Self::Arn(want), Principal::Aws { arn, .. }) => {
                **want == *arn || session_role(arn).is_some_and(|role| role.matches(want))
            }
            _ => false,
        }
    }
}

/// The role of an assumed-role session ARN
/// (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`), which a policy names as
/// `arn:aws:iam::ACCOUNT:role/ROLE` (or with a path, `role/PATH/ROLE`).
fn session_role(arn: &str) -> Option<SessionRole<'_>> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("sts::")?;
    let (account, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("assumed-role/")?;
    let (role, _session) = rest.split_once('/')?;
    Some(SessionRole {
        partition,
        account,
        role,
    })
}

struct SessionRole<'a> {
    partition: &'a str,
    account: &'a str,
    role: &'a str,
}

impl SessionRole<'_> {
    fn matches(&self, policy_arn: &str) -> bool {
        let Some(rest) = policy_arn
            .strip_prefix("arn:")
            .and_then(|r| r.strip_prefix(self.partition))
            .and_then(|r| r.strip_prefix(":iam::"))
            .and_then(|r| r.strip_prefix(self.account))
            .and_then(|r| r.strip_prefix(":role/"))
        else {
            return false;
        };
        rest.rsplit('/').next() == Some(self.role)
    }
}

/// `execute-api:/stage/GET/path` → `{api_arn}/stage/GET/path`.
fn expand_resource(resource: &str, api_arn: Option<&str>) -> String {
    match (resource.strip_prefix("execute-api:/"), api_arn) {
        (Some(rest), Some(api)) => format!("{api}/{rest}"),
        _ => resource.to_owned(),
    }
}

/// Matches an action pattern (compiled lower-case) against an action in any case.
fn matches_ignore_case(pattern: &Pattern, action: &str) -> bool {
    match pattern {
        Pattern::Any => true,
        Pattern::Exact(p) => p.eq_ignore_ascii_case(action),
        Pattern::Prefix(p) => action
            .as_bytes()
            .get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes())),
        Pattern::Glob(_) => pattern.matches(&action.to_ascii_lowercase()),
    }
}
