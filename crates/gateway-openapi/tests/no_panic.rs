//! `load_str` never panics, whatever the input, and every error and warning it returns
//! names the document first.

use gateway_openapi::{LoadOptions, load_str};
use proptest::prelude::*;
use serde_json::{Map, Value};

const FIXTURES: [&str; 7] = [
    include_str!("fixtures/petstore-rest.yaml"),
    include_str!("fixtures/pets-http.json"),
    include_str!("fixtures/authorizers-rest.yaml"),
    include_str!("fixtures/authorizers-http.json"),
    include_str!("fixtures/broken-type.yaml"),
    include_str!("fixtures/broken-gateway-response.yaml"),
    include_str!("fixtures/broken-conflicting-params.yaml"),
];

/// Words that steer random documents into the importer's interesting corners.
const WORDS: &[&str] = &[
    "openapi",
    "3.0.1",
    "info",
    "title",
    "version",
    "paths",
    "/",
    "/a",
    "/a/{b}",
    "/a/{c}",
    "/{proxy+}",
    "/a/{p+}/b",
    "$default",
    "get",
    "post",
    "options",
    "GET",
    "x-amazon-apigateway-any-method",
    "parameters",
    "name",
    "in",
    "path",
    "query",
    "header",
    "cookie",
    "required",
    "requestBody",
    "content",
    "application/json",
    "schema",
    "$ref",
    "#/components/schemas/A",
    "#/components/parameters/A",
    "#/components/responses/A",
    "#/components/x-amazon-apigateway-integrations/A",
    "responses",
    "200",
    "2XX",
    "default",
    "headers",
    "security",
    "components",
    "schemas",
    "A",
    "securitySchemes",
    "type",
    "apiKey",
    "x-api-key",
    "x-amazon-apigateway-authtype",
    "awsSigv4",
    "cognito_user_pools",
    "x-amazon-apigateway-authorizer",
    "token",
    "jwt",
    "request",
    "authorizerUri",
    "identitySource",
    "method.request.header.A",
    "authorizerResultTtlInSeconds",
    "providerARNs",
    "jwtConfiguration",
    "issuer",
    "audience",
    "authorizerPayloadFormatVersion",
    "enableSimpleResponses",
    "Statement",
    "Effect",
    "Allow",
    "x-amazon-apigateway-integration",
    "x-amazon-apigateway-integrations",
    "uri",
    "httpMethod",
    "timeoutInMillis",
    "statusCode",
    "responseParameters",
    "responseTemplates",
    "requestParameters",
    "requestTemplates",
    "passthroughBehavior",
    "when_no_match",
    "contentHandling",
    "CONVERT_TO_TEXT",
    "payloadFormatVersion",
    "1.0",
    "2.0",
    "mock",
    "http_proxy",
    "AWS_PROXY",
    "connectionType",
    "VPC_LINK",
    "x-amazon-apigateway-gateway-responses",
    "DEFAULT_4XX",
    "THROTTLED",
    "gatewayresponse.header.X",
    "'*'",
    "x-amazon-apigateway-request-validators",
    "x-amazon-apigateway-request-validator",
    "validateRequestBody",
    "x-amazon-apigateway-auth",
    "AWS_IAM",
    "x-amazon-apigateway-policy",
    "x-amazon-apigateway-importexport-version",
    "x-amazon-apigateway-api-key-source",
    "HEADER",
    "x-amazon-apigateway-binary-media-types",
    "x-amazon-apigateway-unknown",
    "Fn::Sub",
];

fn check(text: &str, options: &LoadOptions) {
    let name = "doc.yaml";
    match load_str(text, name, options) {
        Ok(loaded) => {
            assert!(!options.strict || loaded.warnings.is_empty());
            for warning in &loaded.warnings {
                assert_eq!(warning.file, name);
                assert!(warning.to_string().starts_with("doc.yaml: "));
            }
            assert_eq!(loaded.api.id.len(), 10);
        }
        Err(err) => {
            assert_eq!(err.file(), name);
            let message = err.to_string();
            assert!(message.starts_with("doc.yaml"), "{message}");
        }
    }
}

fn lenient() -> LoadOptions {
    LoadOptions::default()
}

fn strict() -> LoadOptions {
    LoadOptions {
        strict: true,
        ..LoadOptions::default()
    }
}

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS).prop_map(str::to_owned)
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (0u64..40_000).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        word().prop_map(Value::String),
        "\\PC{0,12}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A document that passes the version check, with random sections.
fn document() -> impl Strategy<Value = Value> {
    prop::collection::vec((word(), value()), 0..8).prop_map(|entries| {
        let mut root = Map::new();
        root.insert("openapi".to_owned(), Value::from("3.0.1"));
        root.insert("info".to_owned(), serde_json::json!({"title": "t"}));
        for (k, v) in entries {
            if k != "openapi" {
                root.insert(k, v);
            }
        }
        Value::Object(root)
    })
}

#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    Truncate { at: usize },
    Duplicate { at: usize, len: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    let insert_text = prop_oneof![word(), "[ \n\t{}\\[\\]:,\"'#&*!|>%@-]{1,4}", "\\PC{1,3}",];
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), insert_text).prop_map(|(at, text)| Edit::Insert { at, text }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
        (any::<usize>(), 1usize..200).prop_map(|(at, len)| Edit::Duplicate { at, len }),
    ]
}

/// The nearest char boundary at or below `at % (len + 1)`.
fn boundary(text: &str, at: usize) -> usize {
    let mut i = at % (text.len() + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut text = text.to_owned();
    for edit in edits {
        match edit {
            Edit::Delete { at, len } => {
                let start = boundary(&text, *at);
                let end = boundary(&text, (start + len).min(text.len()));
                text.replace_range(start..end.max(start), "");
            }
            Edit::Insert { at, text: piece } => {
                let at = boundary(&text, *at);
                text.insert_str(at, piece);
            }
            Edit::Truncate { at } => {
                let at = boundary(&text, *at);
                text.truncate(at);
            }
            Edit::Duplicate { at, len } => {
                let start = boundary(&text, *at);
                let end = boundary(&text, (start + len).min(text.len())).max(start);
                let copy = text[start..end].to_owned();
                text.insert_str(end, &copy);
            }
        }
    }
    text
}

/// A change at one place of a parsed document.
#[derive(Debug, Clone)]
enum TreeEdit {
    Replace { at: usize, with: Value },
    Remove { at: usize },
    Insert { at: usize, key: String, with: Value },
}

fn tree_edit() -> impl Strategy<Value = TreeEdit> {
    prop_oneof![
        (any::<usize>(), value()).prop_map(|(at, with)| TreeEdit::Replace { at, with }),
        any::<usize>().prop_map(|at| TreeEdit::Remove { at }),
        (any::<usize>(), word(), value()).prop_map(|(at, key, with)| TreeEdit::Insert {
            at,
            key,
            with
        }),
    ]
}

/// JSON pointers to every value of the tree.
fn pointers(value: &Value, here: &str, out: &mut Vec<String>) {
    out.push(here.to_owned());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = k.replace('~', "~0").replace('/', "~1");
                pointers(v, &format!("{here}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, &format!("{here}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn apply_tree(root: &mut Value, edits: &[TreeEdit]) {
    for edit in edits {
        let mut all = Vec::new();
        pointers(root, "", &mut all);
        let pick = |at: usize| all[at % all.len()].clone();
        match edit {
            TreeEdit::Replace { at, with } => {
                let pointer = pick(*at);
                if let Some(slot) = root.pointer_mut(&pointer) {
                    *slot = with.clone();
                }
            }
            TreeEdit::Remove { at } => {
                let pointer = pick(*at);
                if let Some((parent, last)) = pointer.rsplit_once('/') {
                    let last = last.replace("~1", "/").replace("~0", "~");
                    match root.pointer_mut(parent) {
                        Some(Value::Object(map)) => {
                            map.shift_remove(&last);
                        }
                        Some(Value::Array(items)) => {
                            if let Ok(i) = last.parse::<usize>()
                                && i < items.len()
                            {
                                items.remove(i);
                            }
                        }
                        _ => {}
                    }
                }
            }
            TreeEdit::Insert { at, key, with } => {
                let pointer = pick(*at);
                if let Some(Value::Object(map)) = root.pointer_mut(&pointer) {
                    map.insert(key.clone(), with.clone());
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text(text in "\\PC{0,400}") {
        check(&text, &lenient());
    }

    #[test]
    fn yaml_and_json_punctuation(text in "[ \n\t{}\\[\\]:,\"'#&*!|>%@a-z0-9./$-]{0,400}") {
        check(&text, &lenient());
        check(&format!("openapi: 3.0.1\n{text}"), &lenient());
    }

    #[test]
    fn mutated_fixtures(
        index in 0..FIXTURES.len(),
        edits in prop::collection::vec(edit(), 1..6),
        strict_mode in any::<bool>(),
    ) {
        let text = apply(FIXTURES[index], &edits);
        check(&text, &if strict_mode { strict() } else { lenient() });
    }

    #[test]
    fn structurally_mutated_fixtures(
        index in 0..2usize,
        edits in prop::collection::vec(tree_edit(), 1..5),
        as_yaml in any::<bool>(),
        strict_mode in any::<bool>(),
    ) {
        let mut doc: Value = yaml_serde::from_str(FIXTURES[index]).unwrap();
        apply_tree(&mut doc, &edits);
        let text = if as_yaml {
            yaml_serde::to_string(&doc).unwrap()
        } else {
            serde_json::to_string_pretty(&doc).unwrap()
        };
        check(&text, &if strict_mode { strict() } else { lenient() });
    }

    #[test]
    fn random_documents(doc in document(), as_yaml in any::<bool>()) {
        let text = if as_yaml {
            yaml_serde::to_string(&doc).unwrap()
        } else {
            serde_json::to_string(&doc).unwrap()
        };
        check(&text, &lenient());
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    // Far beyond the parsers' recursion limits (128). yaml_serde's time grows with the
    // square of the depth, so the depth stays moderate to keep the test quick.
    let n = 5_000;
    let deep = format!("{}{}", "[".repeat(n), "]".repeat(n));
    check(&deep, &lenient());
    let deep_yaml = format!("openapi: 3.0.1\npaths: {}{}", "[".repeat(n), "]".repeat(n));
    check(&deep_yaml, &lenient());
    let deep_json = format!(
        "{{\"openapi\": \"3.0.1\", \"x\": {}{}}}",
        "{\"a\":".repeat(n),
        "}".repeat(n)
    );
    check(&deep_json, &lenient());
}

#[test]
fn edits_stay_on_char_boundaries() {
    let text = "é:ü";
    for at in 0..10 {
        let _ = apply(text, &[Edit::Delete { at, len: 1 }]);
        let _ = apply(text, &[Edit::Duplicate { at, len: 2 }]);
        let _ = apply(text, &[Edit::Truncate { at }]);
    }
}
