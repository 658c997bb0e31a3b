//! From text to a checked document: format detection, syntax, version, types.
//!
//! The text is read twice: once into a [`serde_json::Value`] (for syntax errors, the
//! version check and the extension scan, which must see every key), then into the
//! typed [`Document`] straight from the text, so that a value of the wrong type is
//! reported with both its `line:column` and its field path.

use serde_json::Value;

use super::doc::Document;
use super::error::LoadError;

/// The syntax a document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// JSON.
    Json,
    /// YAML (of which JSON is nearly a subset).
    Yaml,
}

/// Guesses the format from the first significant character: JSON documents are
/// objects, so they start with `{`; anything else is read as YAML.
pub(crate) fn detect(text: &str) -> Format {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        Format::Json
    } else {
        Format::Yaml
    }
}

/// Parses `text` into a value, reporting syntax errors with their position.
///
/// A text that looks like JSON but is not valid JSON is tried as YAML (a YAML flow
/// mapping also starts with `{`); if that fails too, the JSON error is reported.
pub(crate) fn parse_value(text: &str, file: &str) -> Result<(Format, Value), LoadError> {
    let text = text.trim_start_matches('\u{feff}');
    match detect(text) {
        Format::Json => match serde_json::from_str::<Value>(text) {
            Ok(value) => Ok((Format::Json, value)),
            Err(json_err) => match yaml_serde::from_str::<Value>(text) {
                Ok(value) => Ok((Format::Yaml, value)),
                Err(_) => Err(json_syntax(file, &json_err)),
            },
        },
        Format::Yaml => yaml_serde::from_str::<Value>(text)
            .map(|value| (Format::Yaml, value))
            .map_err(|err| yaml_syntax(file, &err)),
    }
}

/// Accepts only OpenAPI 3.0.x documents.
pub(crate) fn check_version(root: &Value, file: &str) -> Result<(), LoadError> {
    let Some(object) = root.as_object() else {
        return Err(LoadError::invalid(
            file,
            "(document)",
            format!(
                "the document is {}, not a mapping; an OpenAPI document is a mapping with \
                 `openapi`, `info` and `paths`",
                describe(root)
            ),
        ));
    };
    if let Some(version) = object.get("swagger") {
        return Err(LoadError::UnsupportedVersion {
            file: file.to_owned(),
            location: "swagger".to_owned(),
            version: scalar_text(version),
        });
    }
    let Some(version) = object.get("openapi") else {
        return Err(LoadError::invalid(
            file,
            "openapi",
            "missing; an OpenAPI 3.0.x document starts with `openapi: 3.0.1` (or another 3.0.x)",
        ));
    };
    let version = scalar_text(version);
    if is_openapi_30(&version) {
        Ok(())
    } else {
        Err(LoadError::UnsupportedVersion {
            file: file.to_owned(),
            location: "openapi".to_owned(),
            version,
        })
    }
}

/// Deserializes the typed document straight from the text.
pub(crate) fn parse_document(
    text: &str,
    format: Format,
    file: &str,
) -> Result<Document, LoadError> {
    let text = text.trim_start_matches('\u{feff}');
    match format {
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            serde_path_to_error::deserialize(&mut de).map_err(|err| {
                let path = err.path().to_string();
                let inner = err.into_inner();
                let message = strip_position(&inner.to_string(), inner.line(), inner.column());
                type_error(file, Some((inner.line(), inner.column())), path, message)
            })
        }
        Format::Yaml => {
            let de = yaml_serde::Deserializer::from_str(text);
            serde_path_to_error::deserialize(de).map_err(|err| {
                let path = err.path().to_string();
                let inner = err.into_inner();
                let position = inner.location().map(|l| (l.line(), l.column()));
                let mut message = inner.to_string();
                if let Some((line, column)) = position {
                    message = strip_position(&message, line, column);
                }
                // yaml_serde prefixes its own idea of the path; ours is the same or better.
                if let Some(rest) = message.strip_prefix(&format!("{path}: ")) {
                    message = rest.to_owned();
                }
                type_error(file, position, path, message)
            })
        }
    }
}

/// `3.0`, `3.0.0`, `3.0.1`, … but not `3.1.0` or `3.0.x-rc`.
pub(crate) fn is_openapi_30(version: &str) -> bool {
    match version.strip_prefix("3.0") {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('.')
            .is_some_and(|patch| !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// A scalar's text (`"3.0.1"` → `3.0.1`, `2` → `2`); other values as JSON.
pub(crate) fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn type_error(
    file: &str,
    position: Option<(usize, usize)>,
    path: String,
    message: String,
) -> LoadError {
    match position {
        Some((line, column)) if line > 0 => LoadError::Type {
            file: file.to_owned(),
            line,
            column,
            path,
            message,
        },
        _ => LoadError::invalid(file, path, message),
    }
}

fn json_syntax(file: &str, err: &serde_json::Error) -> LoadError {
    let message = strip_position(&err.to_string(), err.line(), err.column());
    if err.line() == 0 {
        return LoadError::invalid(file, "(document)", message);
    }
    LoadError::Syntax {
        file: file.to_owned(),
        line: err.line(),
        column: err.column(),
        message,
    }
}

fn yaml_syntax(file: &str, err: &yaml_serde::Error) -> LoadError {
    let text = err.to_string();
    match err.location() {
        Some(location) => LoadError::Syntax {
            file: file.to_owned(),
            line: location.line(),
            column: location.column(),
            message: strip_position(&text, location.line(), location.column()),
        },
        None => LoadError::invalid(file, "(document)", text),
    }
}

/// Removes the parser's own ` at line L column C` (the position is reported in front).
fn strip_position(message: &str, line: usize, column: usize) -> String {
    let suffix = format!(" at line {line} column {column}");
    if let Some(stripped) = message.strip_suffix(&suffix) {
        return stripped.to_owned();
    }
    // libyaml messages carry the position in the middle: "…: did not find expected key
    // at line 3 column 1, while parsing a block mapping at line 1 column 1".
    message.replacen(&format!("{suffix},"), ",", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_json_by_its_first_brace() {
        assert_eq!(detect("  \n{\"openapi\": \"3.0.1\"}"), Format::Json);
        assert_eq!(detect("\u{feff}{}"), Format::Json);
        assert_eq!(detect("openapi: 3.0.1"), Format::Yaml);
        assert_eq!(detect("# comment\n{}"), Format::Yaml);
    }

    #[test]
    fn yaml_flow_mappings_fall_back_to_yaml() {
        let (format, value) = parse_value("{openapi: 3.0.1}", "f").unwrap();
        assert_eq!(format, Format::Yaml);
        assert_eq!(value["openapi"], "3.0.1");
    }

    #[test]
    fn openapi_30_versions() {
        for ok in ["3.0", "3.0.0", "3.0.1", "3.0.3", "3.0.10"] {
            assert!(is_openapi_30(ok), "{ok}");
        }
        for bad in ["3.1.0", "3", "2.0", "3.0.", "3.0.1-rc1", "3.00", "30.0"] {
            assert!(!is_openapi_30(bad), "{bad}");
        }
    }

    #[test]
    fn version_check_names_what_it_found() {
        let err = check_version(&serde_json::json!({"swagger": "2.0"}), "f").unwrap_err();
        assert!(
            matches!(err, LoadError::UnsupportedVersion { ref version, .. } if version == "2.0")
        );
        let err = check_version(&serde_json::json!({"openapi": "3.1.0"}), "f").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f: openapi: `openapi: 3.1.0` is not supported; only OpenAPI 3.0.x documents can be imported"
        );
        let err = check_version(&serde_json::json!([1]), "f").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("f: (document): the document is a list")
        );
        check_version(&serde_json::json!({"openapi": 3.0}), "f").unwrap();
    }

    #[test]
    fn strip_position_handles_both_shapes() {
        assert_eq!(strip_position("bad at line 3 column 4", 3, 4), "bad");
        assert_eq!(
            strip_position(
                "x at line 3 column 4, while parsing at line 1 column 1",
                3,
                4
            ),
            "x, while parsing at line 1 column 1"
        );
        assert_eq!(strip_position("plain", 1, 1), "plain");
    }

    #[test]
    fn syntax_errors_carry_positions() {
        let err = parse_value("{\n  \"a\": [1,\n}", "f.json").unwrap_err();
        assert!(matches!(err, LoadError::Syntax { line: 3, .. }), "{err}");
        let err = parse_value("a: b\n  c: d\n", "f.yaml").unwrap_err();
        assert!(matches!(err, LoadError::Syntax { line: 2, .. }), "{err}");
    }
}
