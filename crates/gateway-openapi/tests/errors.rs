//! Broken documents: each error names the file, then where, then what.

use std::path::{Path, PathBuf};

use gateway_openapi::{LoadError, LoadOptions, load_file, load_str};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn error(name: &str) -> (LoadError, String) {
    let Err(err) = load_file(&fixture(name), &LoadOptions::default()) else {
        panic!("{name} loaded");
    };
    let message = err.to_string();
    assert!(
        message.contains(name),
        "the message names the file: {message}"
    );
    assert!(err.file().ends_with(name), "{}", err.file());
    (err, message)
}

#[test]
fn yaml_syntax_error_has_line_and_column() {
    let (err, message) = error("broken-syntax.yaml");
    assert!(
        matches!(
            err,
            LoadError::Syntax {
                line: 10,
                column: 6,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        message.contains("broken-syntax.yaml:10:6: did not find expected key"),
        "{message}"
    );
}

#[test]
fn json_syntax_error_has_line_and_column() {
    let err = load_str(
        "{\n  \"openapi\": \"3.0.1\",\n  \"info\": {\"title\": \"x\" \"version\": \"1\"}\n}",
        "api.json",
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::Syntax {
                line: 3,
                column: 25,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "api.json:3:25: expected `,` or `}`");
}

#[test]
fn wrong_type_deep_in_an_integration_names_the_field_and_position() {
    let (err, message) = error("broken-type.yaml");
    let LoadError::Type {
        line,
        column,
        ref path,
        ..
    } = err
    else {
        panic!("expected a type error, got {err:?}");
    };
    assert_eq!(
        path,
        "paths./pets.get.x-amazon-apigateway-integration.timeoutInMillis"
    );
    assert_eq!((line, column), (12, 26));
    assert!(
        message.ends_with(
            "broken-type.yaml:12:26: paths./pets.get.x-amazon-apigateway-integration.timeoutInMillis: invalid type: string \"fast\", expected u64"
        ),
        "{message}"
    );
}

#[test]
fn wrong_type_in_json_names_the_field_and_position() {
    let doc = r#"{
  "openapi": "3.0.1",
  "info": {"title": "t", "version": "1"},
  "paths": {"/a": {"get": {"x-amazon-apigateway-integration": {
    "type": "mock",
    "responses": ["default"]
  }}}}
}"#;
    let err = load_str(doc, "api.json", &LoadOptions::default()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(
            "api.json:6:17: paths./a.get.x-amazon-apigateway-integration.responses: invalid type: sequence"
        ),
        "{message}"
    );
}

#[test]
fn unknown_gateway_response_type_is_named() {
    let (err, message) = error("broken-gateway-response.yaml");
    assert!(
        matches!(err, LoadError::Invalid { ref location, .. }
            if location == "x-amazon-apigateway-gateway-responses.DEFAULT_6XX"),
        "{err:?}"
    );
    assert!(
        message.contains(
            "broken-gateway-response.yaml: x-amazon-apigateway-gateway-responses.DEFAULT_6XX: unknown gateway response type `DEFAULT_6XX`"
        ),
        "{message}"
    );
}

#[test]
fn timeout_out_of_range_names_the_field() {
    let (err, message) = error("broken-timeout.json");
    assert!(
        matches!(err, LoadError::Invalid { ref location, .. }
            if location == "paths./pets.get.x-amazon-apigateway-integration.timeoutInMillis"),
        "{err:?}"
    );
    assert!(message.contains("45000 is out of range"), "{message}");
    assert!(message.contains("50 to 29000 milliseconds"), "{message}");
}

#[test]
fn unknown_integration_type_names_the_field() {
    let (err, _) = error("broken-integration-type.yaml");
    assert!(
        matches!(err, LoadError::Invalid { ref location, ref message, .. }
            if location == "paths./pets/{petId}.get.x-amazon-apigateway-integration.type"
                && message.contains("`lambda` is not an integration type")),
        "{err:?}"
    );
}

#[test]
fn swagger_2_is_refused_naming_the_version() {
    let (err, message) = error("swagger2.json");
    assert!(
        matches!(err, LoadError::UnsupportedVersion { ref version, ref location, .. }
            if version == "2.0" && location == "swagger"),
        "{err:?}"
    );
    assert!(
        message.contains("`swagger: 2.0` is not supported"),
        "{message}"
    );
    assert!(message.contains("OpenAPI 3.0.x"), "{message}");
}

#[test]
fn openapi_31_is_refused_naming_the_version() {
    let (err, message) = error("openapi31.yaml");
    assert!(
        matches!(err, LoadError::UnsupportedVersion { ref version, .. } if version == "3.1.0"),
        "{err:?}"
    );
    assert!(
        message.contains("openapi31.yaml: openapi: `openapi: 3.1.0`"),
        "{message}"
    );
}

#[test]
fn duplicate_route_is_refused_at_the_method() {
    let (err, message) = error("broken-duplicate-route.yaml");
    assert!(
        matches!(err, LoadError::Invalid { ref location, .. } if location == "paths./pets/.get"),
        "{err:?}"
    );
    assert!(
        message.contains("duplicate route `GET /pets/`"),
        "{message}"
    );
}

#[test]
fn conflicting_path_variables_are_refused_at_the_path() {
    let (err, message) = error("broken-conflicting-params.yaml");
    assert!(
        matches!(err, LoadError::Invalid { ref location, .. } if location == "paths./pets/{petId}/toys"),
        "{err:?}"
    );
    assert!(
        message.contains("path variable `{petId}` conflicts with sibling `{id}`"),
        "{message}"
    );
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let path = fixture("does-not-exist.yaml");
    let err = load_file(&path, &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, LoadError::Io { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&path.display().to_string()),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn documents_that_are_not_mappings_are_refused() {
    for (text, what) in [("", "empty"), ("- a\n- b\n", "a list"), ("42", "a number")] {
        let err = load_str(text, "x.yaml", &LoadOptions::default()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("x.yaml: (document): the document is {what}")),
            "{message}"
        );
    }
}

#[test]
fn missing_version_and_title_are_named() {
    let err = load_str(
        "info: {title: t}\npaths: {}",
        "x.yaml",
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("x.yaml: openapi: missing"),
        "{err}"
    );
    let err = load_str(
        "openapi: 3.0.1\npaths: {}",
        "x.yaml",
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("x.yaml: info: missing"),
        "{err}"
    );
    let err = load_str(
        "openapi: 3.0.1\ninfo: {title: ' ', version: '1'}\npaths: {}",
        "x.yaml",
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("x.yaml: info.title: missing or empty"),
        "{err}"
    );
}
