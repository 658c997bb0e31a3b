//! Every `x-amazon-apigateway-*` key in the document, wherever it is, is either mapped
//! or reported: nothing is skipped silently.
//!
//! The mapper handles the extensions listed in [`handled`] at their documented place;
//! this scan walks the whole document and reports every other occurrence: known
//! extensions that are not supported yet, known extensions in a place where they mean
//! nothing, and names API Gateway does not define.

use serde_json::Value;

use super::doc::METHOD_KEYS;

/// The prefix of API Gateway's extensions.
pub(crate) const PREFIX: &str = "x-amazon-apigateway-";

/// API Gateway extensions this importer does not map yet, with what they configure.
pub(crate) const NOT_SUPPORTED_YET: [(&str, &str); 7] = [
    (
        "x-amazon-apigateway-minimum-compression-size",
        "payload compression",
    ),
    (
        "x-amazon-apigateway-endpoint-configuration",
        "endpoint configuration",
    ),
    ("x-amazon-apigateway-cors", "HTTP API CORS configuration"),
    ("x-amazon-apigateway-documentation", "documentation parts"),
    ("x-amazon-apigateway-tag-value", "tags"),
    (
        "x-amazon-apigateway-endpoint-access-mode",
        "endpoint access modes",
    ),
    (
        "x-amazon-apigateway-security-policy",
        "TLS security policies",
    ),
];

/// A finding of the scan: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) location: String,
    pub(crate) message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Root,
    PathItem,
    Operation,
    Components,
    SecurityScheme,
    Other,
}

#[derive(Debug, Clone)]
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

/// Reports every `x-amazon-apigateway-*` key the mapper does not handle.
pub(crate) fn scan(root: &Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut path = Vec::new();
    walk(root, &mut path, &mut findings);
    findings
}

/// The extensions the mapper reads at each place.
fn handled(place: Place) -> &'static [&'static str] {
    match place {
        Place::Root => &[
            "x-amazon-apigateway-gateway-responses",
            "x-amazon-apigateway-api-key-source",
            "x-amazon-apigateway-binary-media-types",
            "x-amazon-apigateway-request-validators",
            "x-amazon-apigateway-request-validator",
            "x-amazon-apigateway-importexport-version",
            "x-amazon-apigateway-policy",
        ],
        Place::PathItem => &["x-amazon-apigateway-any-method"],
        Place::Operation => &[
            "x-amazon-apigateway-integration",
            "x-amazon-apigateway-request-validator",
            "x-amazon-apigateway-auth",
        ],
        Place::Components => &["x-amazon-apigateway-integrations"],
        Place::SecurityScheme => &[
            "x-amazon-apigateway-authtype",
            "x-amazon-apigateway-authorizer",
        ],
        Place::Other => &[],
    }
}

/// Whether `name` is an extension the mapper reads somewhere.
fn mapped_somewhere(name: &str) -> bool {
    [
        Place::Root,
        Place::PathItem,
        Place::Operation,
        Place::Components,
        Place::SecurityScheme,
    ]
    .into_iter()
    .any(|place| handled(place).contains(&name))
}

fn place(path: &[Segment<'_>]) -> Place {
    match path {
        [] => Place::Root,
        [Segment::Key("paths"), Segment::Key(_)] => Place::PathItem,
        [Segment::Key("paths"), Segment::Key(_), Segment::Key(method)]
            if METHOD_KEYS.contains(method) =>
        {
            Place::Operation
        }
        [Segment::Key("components")] => Place::Components,
        [
            Segment::Key("components"),
            Segment::Key("securitySchemes"),
            Segment::Key(_),
        ] => Place::SecurityScheme,
        _ => Place::Other,
    }
}

/// Formats a path the way `serde_path_to_error` does: keys joined by `.`, indices as
/// `[i]`.
fn location(path: &[Segment<'_>]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn walk<'a>(value: &'a Value, path: &mut Vec<Segment<'a>>, findings: &mut Vec<Finding>) {
    match value {
        Value::Object(map) => {
            let here = place(path);
            for (key, child) in map {
                path.push(Segment::Key(key));
                if key.starts_with(PREFIX) {
                    if let Some(message) = judge(here, key) {
                        findings.push(Finding {
                            location: location(path),
                            message,
                        });
                    }
                    // An operation under `x-amazon-apigateway-any-method` is walked like
                    // any other; the contents of other extensions are theirs.
                    if key == "x-amazon-apigateway-any-method" {
                        walk(child, path, findings);
                    }
                } else {
                    walk(child, path, findings);
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Segment::Index(i));
                walk(item, path, findings);
                path.pop();
            }
        }
        _ => {}
    }
}

/// What to say about extension `name` found at `place`, or `None` when it is mapped.
fn judge(place: Place, name: &str) -> Option<String> {
    if handled(place).contains(&name) {
        return None;
    }
    if let Some((_, what)) = NOT_SUPPORTED_YET.iter().find(|(n, _)| *n == name) {
        return Some(format!(
            "`{name}` ({what}) is not supported yet and is ignored"
        ));
    }
    if mapped_somewhere(name) {
        return Some(format!("`{name}` has no effect here and is ignored"));
    }
    Some(format!("unknown extension `{name}` is ignored"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn messages(doc: &Value) -> Vec<(String, String)> {
        scan(doc)
            .into_iter()
            .map(|f| (f.location, f.message))
            .collect()
    }

    #[test]
    fn mapped_extensions_are_not_reported() {
        let doc = json!({
            "x-amazon-apigateway-gateway-responses": {"DEFAULT_4XX": {"x-amazon-apigateway-foo": 1}},
            "x-amazon-apigateway-importexport-version": "1.0",
            "x-amazon-apigateway-policy": {"Version": "2012-10-17", "Statement": []},
            "paths": {"/a": {
                "x-amazon-apigateway-any-method": {
                    "x-amazon-apigateway-integration": {"type": "mock"},
                    "x-amazon-apigateway-auth": {"type": "NONE"}
                },
                "get": {"x-amazon-apigateway-request-validator": "v"}
            }},
            "components": {
                "x-amazon-apigateway-integrations": {"i": {"type": "mock"}},
                "securitySchemes": {"s": {
                    "x-amazon-apigateway-authtype": "awsSigv4",
                    "x-amazon-apigateway-authorizer": {"type": "token"}
                }}
            }
        });
        assert_eq!(messages(&doc), vec![]);
    }

    #[test]
    fn other_extensions_are_reported_where_they_are() {
        let doc = json!({
            "x-amazon-apigateway-minimum-compression-size": 1024,
            "servers": [{"url": "/", "x-amazon-apigateway-endpoint-configuration": {}}],
            "tags": [{"name": "t", "x-amazon-apigateway-tag-value": "v"}],
            "x-amazon-apigateway-integration": {},
            "paths": {"/a": {"get": {
                "x-amazon-apigateway-bogus": true,
                "responses": {"200": {"x-amazon-apigateway-auth": {}}}
            }}}
        });
        let found = messages(&doc);
        assert_eq!(
            found,
            vec![
                (
                    "x-amazon-apigateway-minimum-compression-size".to_owned(),
                    "`x-amazon-apigateway-minimum-compression-size` (payload compression) is not supported yet and is ignored".to_owned()
                ),
                (
                    "servers[0].x-amazon-apigateway-endpoint-configuration".to_owned(),
                    "`x-amazon-apigateway-endpoint-configuration` (endpoint configuration) is not supported yet and is ignored".to_owned()
                ),
                (
                    "tags[0].x-amazon-apigateway-tag-value".to_owned(),
                    "`x-amazon-apigateway-tag-value` (tags) is not supported yet and is ignored".to_owned()
                ),
                (
                    "x-amazon-apigateway-integration".to_owned(),
                    "`x-amazon-apigateway-integration` has no effect here and is ignored".to_owned()
                ),
                (
                    "paths./a.get.x-amazon-apigateway-bogus".to_owned(),
                    "unknown extension `x-amazon-apigateway-bogus` is ignored".to_owned()
                ),
                (
                    "paths./a.get.responses.200.x-amazon-apigateway-auth".to_owned(),
                    "`x-amazon-apigateway-auth` has no effect here and is ignored".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn locations_follow_serde_path_to_error() {
        let path = [
            Segment::Key("tags"),
            Segment::Index(2),
            Segment::Key("name"),
        ];
        assert_eq!(location(&path), "tags[2].name");
        assert_eq!(location(&[]), "");
    }
}
