//! What a Lambda authorizer answers, read and checked once, then cached.
//!
//! A policy answer (REST APIs, and HTTP APIs without simple responses) is
//! `{"principalId", "policyDocument", "context"?, "usageIdentifierKey"?}`; the
//! policy is compiled here so a cached answer is only evaluated per request. A
//! simple answer (HTTP APIs, 2.0) is `{"isAuthorized": bool, "context"?}`.
//!
//! Choices where AWS's guide says little:
//!
//! - `principalId` must be a string in REST answers; HTTP API answers may leave it
//!   out.
//! - REST context values must be strings, numbers or booleans; an object or an
//!   array fails the authorizer (500), as AWS says they are not valid there. They
//!   are kept as strings, as `$context.authorizer.*` and the proxy event show them
//!   in REST APIs; `null` values are dropped. HTTP API context values may be any
//!   JSON (AWS's HTTP API examples return arrays and maps) and keep their types.
//! - A function error whose `errorMessage` is exactly `Unauthorized` means 401;
//!   any other function error means the authorizer failed (500).

use gateway_core::lambda::InvocationOutput;
use serde_json::{Map, Value};

use crate::policy::{Decision, Policy, PolicyRequest};

/// What the function decided, as it decided it.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// A compiled IAM policy, evaluated against each request's method ARN.
    Policy(Policy),
    /// A simple response: authorized for every route, or for none.
    Simple(bool),
}

/// A function's answer, checked and compiled; what the cache keeps.
#[derive(Debug, Clone)]
pub struct AuthorizerOutput {
    /// `principalId` (`$context.authorizer.principalId`).
    pub principal_id: Option<String>,
    /// `context` (`$context.authorizer.KEY`).
    pub context: Map<String, Value>,
    /// `usageIdentifierKey`: the API key for usage plans when the API's key source
    /// is `AUTHORIZER`.
    pub usage_identifier_key: Option<String>,
    /// The policy or the simple decision.
    pub verdict: Verdict,
}

impl AuthorizerOutput {
    /// The decision for `request` (its method ARN and network facts).
    #[must_use]
    pub fn decide(&self, request: &PolicyRequest<'_>) -> Decision {
        match &self.verdict {
            Verdict::Policy(policy) => policy.evaluate(request),
            Verdict::Simple(true) => Decision::Allow,
            Verdict::Simple(false) => Decision::Deny,
        }
    }
}

/// Why an answer lets nobody in without being a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// The function said `Unauthorized`: 401.
    Unauthorized,
    /// The function failed or answered something that is not an authorization.
    Failed(String),
}

/// How answers are read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutputRules {
    pub(crate) simple_responses: bool,
    pub(crate) http_api: bool,
}

impl OutputRules {
    /// Reads an invocation's result.
    pub(crate) fn read(self, output: &InvocationOutput) -> Result<AuthorizerOutput, Rejection> {
        let parsed: Option<Value> = output
            .payload
            .to_json()
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok());
        if output.function_error.is_some() {
            let message = parsed.as_ref().and_then(|v| match v {
                Value::Object(error) => error.get("errorMessage").and_then(Value::as_str),
                Value::String(message) => Some(message.as_str()),
                _ => None,
            });
            return Err(match message {
                Some("Unauthorized") => Rejection::Unauthorized,
                Some(message) => Rejection::Failed(format!("the function failed: {message}")),
                None => Rejection::Failed("the function failed".to_owned()),
            });
        }
        let Some(Value::Object(mut answer)) = parsed else {
            return Err(Rejection::Failed(
                "the answer is not a JSON object".to_owned(),
            ));
        };
        let context = self.context(answer.remove("context"))?;
        if self.simple_responses {
            let Some(Value::Bool(authorized)) = answer.get("isAuthorized") else {
                return Err(Rejection::Failed(
                    "a simple response needs a boolean `isAuthorized`".to_owned(),
                ));
            };
            return Ok(AuthorizerOutput {
                principal_id: None,
                context,
                usage_identifier_key: None,
                verdict: Verdict::Simple(*authorized),
            });
        }
        let principal_id = match answer.remove("principalId") {
            Some(Value::String(id)) => Some(id),
            None | Some(Value::Null) if self.http_api => None,
            _ => {
                return Err(Rejection::Failed(
                    "`principalId` must be a string".to_owned(),
                ));
            }
        };
        let Some(document) = answer.get("policyDocument") else {
            return Err(Rejection::Failed("`policyDocument` is missing".to_owned()));
        };
        let policy = Policy::from_value(document)
            .map_err(|e| Rejection::Failed(format!("invalid policyDocument: {e}")))?;
        let usage_identifier_key = match answer.remove("usageIdentifierKey") {
            None | Some(Value::Null) => None,
            Some(Value::String(key)) => Some(key),
            Some(_) => {
                return Err(Rejection::Failed(
                    "`usageIdentifierKey` must be a string".to_owned(),
                ));
            }
        };
        Ok(AuthorizerOutput {
            principal_id,
            context,
            usage_identifier_key,
            verdict: Verdict::Policy(policy),
        })
    }

    fn context(self, value: Option<Value>) -> Result<Map<String, Value>, Rejection> {
        let map = match value {
            None | Some(Value::Null) => return Ok(Map::new()),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(Rejection::Failed("`context` must be an object".to_owned()));
            }
        };
        if self.http_api {
            return Ok(map);
        }
        let mut kept = Map::with_capacity(map.len());
        for (key, value) in map {
            let text = match value {
                Value::Null => continue,
                Value::String(text) => text,
                Value::Bool(_) | Value::Number(_) => value.to_string(),
                Value::Array(_) | Value::Object(_) => {
                    return Err(Rejection::Failed(format!(
                        "context value `{key}` is an object or an array; REST APIs take \
                         strings, numbers and booleans"
                    )));
                }
            };
            kept.insert(key, Value::String(text));
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const REST: OutputRules = OutputRules {
        simple_responses: false,
        http_api: false,
    };

    fn ok(json: &str) -> InvocationOutput {
        InvocationOutput::ok(json.to_owned())
    }

    #[test]
    fn reads_aws_example_output() {
        // The example answer of AWS's "Output from an API Gateway Lambda authorizer".
        let out = REST
            .read(&ok(r#"{
              "principalId": "yyyyyyyy",
              "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow",
                  "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc/*/GET/*"}]
              },
              "context": {"stringKey": "value", "numberKey": 1, "booleanKey": true, "n": null},
              "usageIdentifierKey": "key-123"
            }"#))
            .unwrap();
        assert_eq!(out.principal_id.as_deref(), Some("yyyyyyyy"));
        assert_eq!(out.usage_identifier_key.as_deref(), Some("key-123"));
        assert_eq!(
            Value::Object(out.context.clone()),
            serde_json::json!({"stringKey": "value", "numberKey": "1", "booleanKey": "true"})
        );
        let get = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets";
        let post = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/POST/pets";
        assert_eq!(out.decide(&PolicyRequest::invoke(get)), Decision::Allow);
        assert_eq!(out.decide(&PolicyRequest::invoke(post)), Decision::Implicit);
    }

    #[test]
    fn classifies_errors() {
        let unauthorized = InvocationOutput {
            payload: r#"{"errorMessage":"Unauthorized","errorType":"Error"}"#.into(),
            function_error: Some("Unhandled".to_owned()),
        };
        assert_eq!(
            REST.read(&unauthorized).unwrap_err(),
            Rejection::Unauthorized
        );
        let other = InvocationOutput {
            payload: r#"{"errorMessage":"Error: Invalid token"}"#.into(),
            function_error: Some("Unhandled".to_owned()),
        };
        assert!(matches!(REST.read(&other), Err(Rejection::Failed(_))));
        for bad in [
            "not json",
            "[]",
            r#"{"principalId": "u"}"#,
            r#"{"principalId": 7, "policyDocument": {"Statement": []}}"#,
            r#"{"principalId": "u", "policyDocument": {"Statement": "x"}}"#,
            r#"{"principalId": "u", "policyDocument": {"Statement": []}, "context": {"a": [1]}}"#,
            r#"{"principalId": "u", "policyDocument": {"Statement": []}, "context": []}"#,
            r#"{"principalId": "u", "policyDocument": {"Statement": []}, "usageIdentifierKey": 1}"#,
            r#"{"policyDocument": {"Statement": []}}"#,
        ] {
            assert!(
                matches!(REST.read(&ok(bad)), Err(Rejection::Failed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn http_api_answers() {
        let simple = OutputRules {
            simple_responses: true,
            http_api: true,
        };
        let out = simple
            .read(&ok(
                r#"{"isAuthorized": false, "context": {"arrayKey": [1, 2]}}"#,
            ))
            .unwrap();
        assert_eq!(out.decide(&PolicyRequest::invoke("arn")), Decision::Deny);
        assert_eq!(out.context["arrayKey"], serde_json::json!([1, 2]));
        assert!(simple.read(&ok(r#"{"isAuthorized": "yes"}"#)).is_err());

        let policy = OutputRules {
            simple_responses: false,
            http_api: true,
        };
        let out = policy
            .read(&ok(
                r#"{"policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*"}]},
                "context": {"mapKey": {"a": "b"}}}"#,
            ))
            .unwrap();
        assert_eq!(out.principal_id, None);
        assert_eq!(out.decide(&PolicyRequest::invoke("arn")), Decision::Deny);
    }
}
