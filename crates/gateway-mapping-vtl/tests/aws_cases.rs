//! End-to-end API Gateway cases: AWS's documented mapping-template examples (and
//! behaviour observed on AWS), rendered with the engine and the AWS bindings.
//!
//! The cases live in `tests/aws_cases/cases.json`, one object each:
//!
//! - `name`, `source` (where the template and its expected output come from);
//! - `template`, `body`, `path`, `querystring`, `header`, `stageVariables`;
//! - `context` (optional): `$context` fields (`stage`, `requestId`, `httpMethod`,
//!   `identity` {...}, `authorizer` {`principalId`, `claims`, `context`}, ...);
//! - `compare`: `exact`, `trimmed` (exact after trimming both ends) or `json`
//!   (both sides parsed as JSON, for examples AWS documents pretty-printed);
//! - `expected`: the output (a string, or any JSON value for `json`);
//! - `expectError` (optional): the render must fail with a message containing it;
//! - `expectedStatus`, `expectedHeaders`, `expectedRequestOverride` (optional):
//!   the overrides read back from `$context` after rendering;
//! - `pending` (optional): a known gap, with the reason. Such a case must still
//!   fail; when it starts passing, remove the marker.

use std::collections::BTreeMap;
use std::sync::Arc;

use gateway_core::RequestContext;
use gateway_core::context::{AuthorizerContext, Identity};
use gateway_core::stage::StageVariables;
use gateway_mapping_vtl::Template;
use gateway_mapping_vtl::aws::{self, InputData};
use indexmap::IndexMap;
use serde_json::Value as Json;

const CASES: &str = include_str!("aws_cases/cases.json");

fn cases() -> Vec<Json> {
    serde_json::from_str(CASES).unwrap_or_else(|e| panic!("tests/aws_cases/cases.json: {e}"))
}

fn text<'a>(case: &'a Json, key: &str) -> &'a str {
    case.get(key).and_then(Json::as_str).unwrap_or("")
}

fn strings(value: Option<&Json>) -> IndexMap<String, String> {
    value
        .and_then(Json::as_object)
        .map(|object| {
            object
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn stage_variables(case: &Json) -> StageVariables {
    let map: BTreeMap<String, String> = strings(case.get("stageVariables")).into_iter().collect();
    StageVariables::from_map(map).unwrap_or_else(|e| panic!("{}: {e}", text(case, "name")))
}

fn request_context(spec: Option<&Json>) -> RequestContext {
    let mut ctx = RequestContext::default();
    let Some(spec) = spec else {
        return ctx;
    };
    let field = |key: &str| spec.get(key).and_then(Json::as_str);
    if let Some(v) = field("requestId") {
        ctx.request_id = v.to_owned();
    }
    if let Some(v) = field("extendedRequestId") {
        ctx.extended_request_id = v.to_owned();
    }
    if let Some(v) = field("apiId") {
        ctx.api_id = Arc::from(v);
    }
    if let Some(v) = field("accountId") {
        ctx.account_id = Arc::from(v);
    }
    if let Some(v) = field("stage") {
        ctx.stage = Arc::from(v);
    }
    if let Some(v) = field("resourceId") {
        ctx.resource_id = Arc::from(v);
    }
    if let Some(v) = field("resourcePath") {
        ctx.resource_path = Arc::from(v);
    }
    if let Some(v) = field("httpMethod") {
        ctx.http_method = v.parse().unwrap_or_else(|e| panic!("{v}: {e}"));
    }
    if let Some(v) = field("path") {
        ctx.path = v.to_owned();
    }
    if let Some(v) = field("protocol") {
        ctx.protocol = match v {
            "HTTP/1.0" => "HTTP/1.0",
            "HTTP/1.1" => "HTTP/1.1",
            "HTTP/2.0" => "HTTP/2.0",
            other => panic!("unknown protocol {other}"),
        };
    }
    if let Some(v) = spec.get("requestTimeEpoch").and_then(Json::as_u64) {
        ctx.request_time_epoch = v;
    }
    if let Some(v) = field("domainName") {
        ctx.domain_name = v.to_owned();
    }
    if let Some(identity) = spec.get("identity") {
        let field = |key: &str| identity.get(key).and_then(Json::as_str).map(str::to_owned);
        ctx.identity = Identity {
            source_ip: field("sourceIp").unwrap_or_default(),
            user_agent: field("userAgent"),
            api_key: field("apiKey"),
            api_key_id: field("apiKeyId"),
            account_id: field("accountId"),
            user_arn: field("userArn"),
            caller: field("caller"),
            access_key: field("accessKey"),
        };
    }
    if let Some(authorizer) = spec.get("authorizer") {
        let object = |key: &str| {
            authorizer
                .get(key)
                .and_then(Json::as_object)
                .cloned()
                .unwrap_or_default()
        };
        ctx.authorizer = AuthorizerContext {
            principal_id: authorizer
                .get("principalId")
                .and_then(Json::as_str)
                .map(str::to_owned),
            claims: object("claims"),
            context: object("context"),
            scopes: None,
        };
    }
    ctx
}

fn string_pairs(value: &Json) -> Vec<(String, String)> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|pair| {
                    (
                        pair[0].as_str().unwrap_or_default().to_owned(),
                        pair[1].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Renders one case and checks everything it expects.
fn run_case(case: &Json) -> Result<(), String> {
    let mut input = InputData::new(text(case, "body"));
    input.path = strings(case.get("path"));
    input.querystring = strings(case.get("querystring"));
    input.header = strings(case.get("header"));
    let context = aws::context_value(&request_context(case.get("context")));
    let bindings = aws::bindings(input, context.clone(), &stage_variables(case));

    let template =
        Template::compile(text(case, "template")).map_err(|e| format!("does not compile: {e}"))?;
    let rendered = template.render(&bindings);
    if let Some(expected) = case.get("expectError").and_then(Json::as_str) {
        return match rendered {
            Err(e) if e.to_string().contains(expected) => Ok(()),
            Err(e) => Err(format!(
                "failed with {e:?}, expected an error containing {expected:?}"
            )),
            Ok(output) => Err(format!(
                "rendered {output:?}, expected an error containing {expected:?}"
            )),
        };
    }
    let output = rendered.map_err(|e| format!("does not render: {e}"))?;

    let expected = &case["expected"];
    match text(case, "compare") {
        "json" => {
            let actual: Json = serde_json::from_str(&output)
                .map_err(|e| format!("output is not JSON ({e}):\n{output}"))?;
            if &actual != expected {
                return Err(format!(
                    "expected JSON {expected}\n   got JSON {actual}\n   output:\n{output}"
                ));
            }
        }
        mode => {
            let expected = expected.as_str().ok_or("`expected` must be a string")?;
            let (actual, wanted) = if mode == "trimmed" {
                (output.trim(), expected.trim())
            } else {
                (output.as_str(), expected)
            };
            if actual != wanted {
                return Err(format!("expected {wanted:?}\n   got      {actual:?}"));
            }
        }
    }

    let response = aws::response_override(&context);
    if let Some(status) = case.get("expectedStatus") {
        let wanted = status.as_u64().and_then(|s| u16::try_from(s).ok());
        if response.status != wanted {
            return Err(format!(
                "status override {:?}, expected {wanted:?}",
                response.status
            ));
        }
    }
    if let Some(headers) = case.get("expectedHeaders") {
        let wanted = string_pairs(headers);
        if response.headers != wanted {
            return Err(format!(
                "header overrides {:?}, expected {wanted:?}",
                response.headers
            ));
        }
    }
    if let Some(request) = case.get("expectedRequestOverride") {
        let actual = aws::request_override(&context);
        let wanted = aws::RequestOverride {
            headers: string_pairs(&request["header"]),
            path: string_pairs(&request["path"]),
            querystring: string_pairs(&request["querystring"]),
        };
        if actual != wanted {
            return Err(format!("request overrides {actual:?}, expected {wanted:?}"));
        }
    }
    Ok(())
}

#[test]
fn aws_documented_cases_render_as_aws_renders_them() {
    let mut failures = Vec::new();
    let mut fixed = Vec::new();
    let mut pending = 0;
    let all = cases();
    for case in &all {
        let name = text(case, "name");
        match (run_case(case), case.get("pending")) {
            (Ok(()), None) => {}
            (Err(e), None) => failures.push(format!("- {name} ({})\n   {e}", text(case, "source"))),
            (Ok(()), Some(_)) => fixed.push(format!("- {name}")),
            (Err(e), Some(reason)) => {
                pending += 1;
                eprintln!(
                    "known gap: {name}: {}\n   {e}",
                    reason.as_str().unwrap_or("")
                );
            }
        }
    }
    assert!(
        failures.is_empty() && fixed.is_empty(),
        "{} of {} cases failed ({pending} known gaps):\n{}\n\
         cases marked `pending` that now pass (remove the marker):\n{}",
        failures.len(),
        all.len(),
        failures.join("\n"),
        fixed.join("\n"),
    );
}

#[test]
fn cases_are_well_formed() {
    let all = cases();
    assert!(all.len() >= 40, "only {} cases", all.len());
    let mut names = std::collections::HashSet::new();
    for case in &all {
        let name = text(case, "name");
        assert!(!name.is_empty(), "a case without a name");
        assert!(names.insert(name), "duplicate case name {name}");
        assert!(!text(case, "source").is_empty(), "{name}: no source");
        assert!(!text(case, "template").is_empty(), "{name}: no template");
        assert!(
            matches!(text(case, "compare"), "exact" | "trimmed" | "json"),
            "{name}: bad compare mode"
        );
        if case.get("expectError").is_none() && text(case, "compare") != "json" {
            assert!(
                case["expected"].is_string(),
                "{name}: expected must be a string"
            );
        }
        let _ = stage_variables(case);
        let _ = request_context(case.get("context"));
    }
}
