//! Helpers shared by the `lang_*` tests.
#![allow(dead_code, unreachable_pub, clippy::expect_used, clippy::unwrap_used)]

use std::rc::Rc;

use gateway_mapping_vtl::{
    Bindings, HostObject, MethodError, ParseError, RenderError, RenderLimits, Template, Value,
};

/// Root variables from a JSON object.
pub fn bindings(json: &str) -> Bindings {
    let value: serde_json::Value = serde_json::from_str(json).expect("test JSON");
    let mut bindings = Bindings::new();
    for (name, value) in value.as_object().expect("a JSON object") {
        bindings.set(name.clone(), Value::from_json(value));
    }
    bindings
}

/// The variables most tests use.
pub const DATA: &str = r#"{
    "name": "World",
    "email": "foo",
    "list": [1, "two", 3.5, null],
    "map": {"a": 1, "b": [10, 20], "size": "S", "empty": "E"},
    "nested": {"x": {"y": "deep"}},
    "n": 3,
    "zero": 0,
    "flag": false,
    "blank": ""
}"#;

pub fn try_render(src: &str, json: &str) -> Result<String, RenderError> {
    let template = Template::compile(src).unwrap_or_else(|e| panic!("{src:?} does not parse: {e}"));
    template.render(&bindings(json))
}

/// Renders with [`DATA`]; panics on any error.
pub fn render(src: &str) -> String {
    try_render(src, DATA).unwrap_or_else(|e| panic!("{src:?} failed: {e}"))
}

pub fn render_json(src: &str, json: &str) -> String {
    try_render(src, json).unwrap_or_else(|e| panic!("{src:?} failed: {e}"))
}

pub fn render_err(src: &str) -> RenderError {
    match try_render(src, DATA) {
        Ok(out) => panic!("{src:?} rendered {out:?} instead of failing"),
        Err(e) => e,
    }
}

pub fn render_limited(src: &str, limits: &RenderLimits) -> Result<String, RenderError> {
    let template = Template::compile(src).unwrap_or_else(|e| panic!("{src:?} does not parse: {e}"));
    template.render_with(&bindings(DATA), limits)
}

pub fn parse_err(src: &str) -> ParseError {
    match Template::compile(src) {
        Ok(_) => panic!("{src:?} parsed"),
        Err(e) => e,
    }
}

/// Defines one `#[test]` per case: template, expected output (with [`DATA`]).
#[macro_export]
macro_rules! cases {
    ($($name:ident: $src:expr => $expected:expr;)*) => {
        $(
            #[test]
            fn $name() {
                let src: &str = $src;
                assert_eq!($crate::lang_common::render(src), $expected, "template: {src:?}");
            }
        )*
    };
}

/// A host object like API Gateway's `$input`: `path('$')` returns the payload,
/// `body` is the raw text, `fail()` throws.
pub struct FakeInput {
    pub json: serde_json::Value,
}

impl HostObject for FakeInput {
    fn type_name(&self) -> &'static str {
        "Input"
    }

    fn property(&self, name: &str) -> Option<Value> {
        (name == "body").then(|| Value::string(&self.json.to_string()))
    }

    fn call(&self, method: &str, args: &[Value]) -> Result<Option<Value>, MethodError> {
        match (method, args) {
            ("path", [Value::String(p)]) if &**p == "$" => Ok(Some(Value::from_json(&self.json))),
            ("path", _) => Err(MethodError::new("only $ is supported here")),
            ("getSize", []) => Ok(Some(Value::Int(7))),
            ("fail", []) => Err(MethodError::new("it failed")),
            _ => Ok(None),
        }
    }

    fn to_text(&self) -> String {
        "<input>".to_owned()
    }
}

pub fn input_bindings(json: &str) -> Bindings {
    let mut bindings = Bindings::new();
    bindings.set(
        "input",
        Value::Object(Rc::new(FakeInput {
            json: serde_json::from_str(json).expect("test JSON"),
        })),
    );
    bindings
}
