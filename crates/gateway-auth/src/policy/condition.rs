//! The `Condition` block: operators, keys and values, compiled once.
//!
//! A block is a conjunction: every operator, and every key under an operator, must
//! hold; the values listed for one key are alternatives. A key the request does not
//! carry fails a positive operator and satisfies a negated one (`StringNotEquals`,
//! `NotIpAddress`...), as IAM evaluates them; `...IfExists` operators hold when the
//! key is absent. Keys are case-insensitive.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

use super::pattern::Pattern;
use super::{PolicyError, PolicyRequest};

/// A compiled `Condition` block.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conditions {
    tests: Vec<Test>,
}

#[derive(Debug, Clone)]
struct Test {
    key: Key,
    check: Check,
    negated: bool,
    if_exists: bool,
}

/// The condition keys the gateway can supply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    SourceIp,
    SourceVpc,
    SourceVpce,
    PrincipalAccount,
    PrincipalArn,
    UserAgent,
    Referer,
    SecureTransport,
    /// A key the gateway never has: always absent.
    Other,
}

#[derive(Debug, Clone)]
enum Check {
    /// String comparison against any of the patterns (exact patterns for
    /// `StringEquals`, wildcards for `StringLike`).
    Strings {
        patterns: Vec<Pattern>,
        ignore_case: bool,
    },
    /// Address within any of the networks.
    Ip(Vec<IpNet>),
    /// `Bool`.
    Bool(bool),
    /// `Null`: `true` holds when the key is absent, `false` when present.
    Null(bool),
}

/// A value from the request for one key.
enum Fact<'a> {
    Str(&'a str),
    Ip(IpAddr),
    Bool(bool),
}

impl Conditions {
    /// Compiles a `Condition` object; `at` names it in errors.
    pub(crate) fn compile(block: &Value, at: &str) -> Result<Self, PolicyError> {
        let Value::Object(operators) = block else {
            return Err(PolicyError::new(at, "must be an object of operators"));
        };
        let mut tests = Vec::new();
        for (operator, keys) in operators {
            let op_at = format!("{at}.{operator}");
            let Value::Object(keys) = keys else {
                return Err(PolicyError::new(
                    &op_at,
                    "must be an object of condition keys",
                ));
            };
            // Every key the gateway supplies is single-valued, so the set operators
            // reduce to the plain one.
            let base = operator
                .strip_prefix("ForAnyValue:")
                .or_else(|| operator.strip_prefix("ForAllValues:"))
                .unwrap_or(operator);
            let (base, if_exists) = match base.strip_suffix("IfExists") {
                Some(base) => (base, true),
                None => (base, false),
            };
            for (key, values) in keys {
                let key_at = format!("{op_at}.{key}");
                let values = string_values(values, &key_at)?;
                let (check, negated) = compile_check(base, &values, &key_at)?;
                tests.push(Test {
                    key: Key::parse(key),
                    check,
                    negated,
                    if_exists,
                });
            }
        }
        Ok(Self { tests })
    }

    /// Whether every test holds for `request`.
    pub(crate) fn hold(&self, request: &PolicyRequest<'_>) -> bool {
        self.tests.iter().all(|test| test.holds(request))
    }
}

fn compile_check(
    operator: &str,
    values: &[String],
    at: &str,
) -> Result<(Check, bool), PolicyError> {
    let strings = |like: bool, ignore_case: bool| Check::Strings {
        patterns: values
            .iter()
            .map(|v| {
                if like {
                    Pattern::new(v, ignore_case)
                } else if ignore_case {
                    Pattern::Exact(v.to_ascii_lowercase().into())
                } else {
                    Pattern::Exact(v.as_str().into())
                }
            })
            .collect(),
        ignore_case,
    };
    let boolean = |at: &str| -> Result<bool, PolicyError> {
        match values {
            [v] if v.eq_ignore_ascii_case("true") => Ok(true),
            [v] if v.eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(PolicyError::new(at, "must be \"true\" or \"false\"")),
        }
    };
    Ok(match operator {
        "StringEquals" => (strings(false, false), false),
        "StringNotEquals" => (strings(false, false), true),
        "StringEqualsIgnoreCase" => (strings(false, true), false),
        "StringNotEqualsIgnoreCase" => (strings(false, true), true),
        "StringLike" | "ArnLike" | "ArnEquals" => (strings(true, false), false),
        "StringNotLike" | "ArnNotLike" | "ArnNotEquals" => (strings(true, false), true),
        "IpAddress" | "NotIpAddress" => {
            let nets = values
                .iter()
                .map(|v| {
                    parse_net(v).ok_or_else(|| {
                        PolicyError::new(at, format!("`{v}` is not an IP address or CIDR block"))
                    })
                })
                .collect::<Result<_, _>>()?;
            (Check::Ip(nets), operator == "NotIpAddress")
        }
        "Bool" => (Check::Bool(boolean(at)?), false),
        "Null" => (Check::Null(boolean(at)?), false),
        other => {
            return Err(PolicyError::new(
                at,
                format!(
                    "condition operator `{other}` is not supported (String*, Arn*, \
                     IpAddress, NotIpAddress, Bool, Null, with IfExists)"
                ),
            ));
        }
    })
}

fn parse_net(value: &str) -> Option<IpNet> {
    value
        .parse::<IpNet>()
        .ok()
        .or_else(|| value.parse::<IpAddr>().ok().map(IpNet::from))
}

fn string_values(values: &Value, at: &str) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(PolicyError::new(at, "values must be strings")),
    };
    match values {
        Value::Array(list) if list.is_empty() => {
            Err(PolicyError::new(at, "must list at least one value"))
        }
        Value::Array(list) => list.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

impl Key {
    fn parse(key: &str) -> Self {
        match key.to_ascii_lowercase().as_str() {
            "aws:sourceip" => Self::SourceIp,
            "aws:sourcevpc" => Self::SourceVpc,
            "aws:sourcevpce" => Self::SourceVpce,
            "aws:principalaccount" => Self::PrincipalAccount,
            "aws:principalarn" => Self::PrincipalArn,
            "aws:useragent" => Self::UserAgent,
            "aws:referer" => Self::Referer,
            "aws:securetransport" => Self::SecureTransport,
            _ => Self::Other,
        }
    }

    fn fact<'r>(&self, request: &PolicyRequest<'r>) -> Option<Fact<'r>> {
        match self {
            Self::SourceIp => request.source_ip.map(Fact::Ip),
            Self::SourceVpc => request.source_vpc.map(Fact::Str),
            Self::SourceVpce => request.source_vpce.map(Fact::Str),
            Self::PrincipalAccount => request.principal.account().map(Fact::Str),
            Self::PrincipalArn => request.principal.arn().map(Fact::Str),
            Self::UserAgent => request.user_agent.map(Fact::Str),
            Self::Referer => request.referer.map(Fact::Str),
            Self::SecureTransport => Some(Fact::Bool(request.secure_transport)),
            Self::Other => None,
        }
    }
}

impl Test {
    fn holds(&self, request: &PolicyRequest<'_>) -> bool {
        let fact = self.key.fact(request);
        if let Check::Null(expect_absent) = self.check {
            return fact.is_none() == expect_absent;
        }
        let Some(fact) = fact else {
            return self.if_exists || self.negated;
        };
        let matched = match (&self.check, fact) {
            (
                Check::Strings {
                    patterns,
                    ignore_case,
                },
                Fact::Str(value),
            ) => {
                if *ignore_case {
                    let lower = value.to_ascii_lowercase();
                    patterns.iter().any(|p| p.matches(&lower))
                } else {
                    patterns.iter().any(|p| p.matches(value))
                }
            }
            (Check::Ip(nets), Fact::Ip(ip)) => nets.iter().any(|net| net.contains(&ip)),
            (Check::Bool(expected), Fact::Bool(actual)) => *expected == actual,
            (Check::Bool(expected), Fact::Str(actual)) => {
                actual.eq_ignore_ascii_case(if *expected { "true" } else { "false" })
            }
            // A string test of an address or a flag compares their text.
            (Check::Strings { patterns, .. }, Fact::Ip(ip)) => {
                let text = ip.to_string();
                patterns.iter().any(|p| p.matches(&text))
            }
            (Check::Strings { patterns, .. }, Fact::Bool(b)) => {
                let text = if b { "true" } else { "false" };
                patterns.iter().any(|p| p.matches(text))
            }
            // An address test of something that is not an address never matches.
            (Check::Ip(_) | Check::Bool(_), _) => false,
            // `Null` was answered above, before the fact was looked at.
            (Check::Null(_), _) => false,
        };
        matched != self.negated
    }
}
