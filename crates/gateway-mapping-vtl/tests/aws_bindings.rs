//! The AWS bindings through the public API, driven the way the engine drives them:
//! root lookups in `Bindings`, `HostObject::property`/`call`, and map assignments
//! into `$context` read back as overrides.

use gateway_core::RequestContext;
use gateway_core::stage::StageVariables;
use gateway_mapping_vtl::aws::{self, InputData, ResponseOverride};
use gateway_mapping_vtl::{Bindings, HostObject, Value};

fn object<'b>(bindings: &'b Bindings, name: &str) -> &'b dyn HostObject {
    match bindings.get(name) {
        Some(Value::Object(object)) => object.as_ref(),
        other => panic!("${name} is {other:?}"),
    }
}

fn member(value: &Value, key: &str) -> Value {
    // `$context` is read in place; resolved, it is the map it stands for.
    match value.resolved() {
        Value::Map(map) => map.borrow().get(key).cloned().unwrap_or(Value::Null),
        other => panic!("{other:?} is not a map"),
    }
}

/// What `#set($a.b.c = v)` does: walk the maps, insert into the last one.
fn assign(root: &Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        panic!("an empty path")
    };
    let target = parents.iter().fold(root.clone(), |v, key| member(&v, key));
    let Value::Map(map) = target else {
        panic!("not a map")
    };
    map.borrow_mut().insert((*last).to_owned(), value);
}

fn things_request() -> Bindings {
    let mut input = InputData::new(r#"{"things": {"1": {}, "2": {}, "3": {}}}"#);
    input.path.insert("id".into(), "abc".into());
    aws::bindings(
        input,
        aws::context_value(&RequestContext::default()),
        &StageVariables::new(),
    )
}

#[test]
fn the_documented_things_example_step_by_step() {
    // "id" : "$input.params('id')"
    let bindings = things_request();
    let input = object(&bindings, "input");
    let id = input.call("params", &[Value::string("id")]).unwrap();
    assert_eq!(id, Some(Value::string("abc")));
    // "count" : "$input.path('$.things').size()"
    let things = input
        .call("path", &[Value::string("$.things")])
        .unwrap()
        .unwrap();
    // Read in place; resolved, the map it stands for.
    let Value::Map(things) = things.resolved() else {
        panic!("$.things is not a map")
    };
    assert_eq!(things.borrow().len(), 3);
    // "things" : $util.escapeJavaScript($input.json('$.things'))
    let json = input
        .call("json", &[Value::string("$.things")])
        .unwrap()
        .unwrap();
    assert_eq!(json, Value::string(r#"{"1":{},"2":{},"3":{}}"#));
    let escaped = object(&bindings, "util")
        .call("escapeJavaScript", &[json])
        .unwrap()
        .unwrap();
    assert_eq!(escaped, Value::string(r#"{\"1\":{},\"2\":{},\"3\":{}}"#));
}

#[test]
fn body_is_a_property_and_everything_else_a_method() {
    let bindings = things_request();
    let input = object(&bindings, "input");
    assert_eq!(
        input.property("body"),
        Some(Value::string(r#"{"things": {"1": {}, "2": {}, "3": {}}}"#))
    );
    for name in ["json", "path", "params"] {
        assert_eq!(input.property(name), None, "{name} is a method");
    }
    assert!(input.call("json", &[Value::string("$")]).unwrap().is_some());
    assert!(input.call("params", &[]).unwrap().is_some());
    assert_eq!(
        input.call("keySet", &[]).unwrap(),
        None,
        "unknown: render as written"
    );
    let util = object(&bindings, "util");
    assert_eq!(util.property("escapeJavaScript"), None);
    assert_eq!(input.to_text(), "");
    assert_eq!(util.to_text(), "");
}

#[test]
fn params_sections_iterate_in_aws_order() {
    let mut input = InputData::default();
    input.header.insert("B-Header".into(), "2".into());
    input.header.insert("A-Header".into(), "1".into());
    input.querystring.insert("q".into(), "x".into());
    let bindings = aws::bindings(input, Value::Null, &StageVariables::new());
    let all = object(&bindings, "input")
        .call("params", &[])
        .unwrap()
        .unwrap();
    let Value::Map(sections) = &all else {
        panic!("params() is not a map")
    };
    let keys: Vec<String> = sections.borrow().keys().cloned().collect();
    assert_eq!(keys, ["path", "querystring", "header"]);
    // Headers keep the client's order and spelling.
    assert_eq!(
        member(&all, "header").to_java_string(),
        "{B-Header=2, A-Header=1}"
    );
}

#[test]
fn overrides_written_into_context_are_read_back() {
    let context = aws::context_value(&RequestContext::default());
    let bindings = aws::bindings(
        InputData::default(),
        context.clone(),
        &StageVariables::new(),
    );
    let root = bindings.get("context").unwrap();
    // #set($context.responseOverride.status = 400)
    assert_eq!(
        member(&member(root, "responseOverride"), "status"),
        Value::Null
    );
    assert_eq!(
        aws::response_override(&context),
        ResponseOverride::default()
    );
    assert_eq!(aws::response_override(root), ResponseOverride::default());
    assign(root, &["responseOverride", "status"], Value::Int(400));
    // #set($context.responseOverride.header.X-Foo = "v")
    assign(
        root,
        &["responseOverride", "header", "X-Foo"],
        Value::string("v"),
    );
    // #set($context.requestOverride.querystring.page = 2)
    assign(
        root,
        &["requestOverride", "querystring", "page"],
        Value::Int(2),
    );
    let response = aws::response_override(&context);
    assert_eq!(response.status, Some(400));
    assert_eq!(response.headers, [("X-Foo".to_owned(), "v".to_owned())]);
    let request = aws::request_override(&context);
    assert_eq!(request.querystring, [("page".to_owned(), "2".to_owned())]);
    assert!(request.headers.is_empty() && request.path.is_empty());
}

#[test]
fn stage_variables_are_a_sorted_map() {
    let mut stage = StageVariables::new();
    stage.insert("url", "http://127.0.0.1:9000/v1").unwrap();
    stage.insert("alias", "live").unwrap();
    let bindings = aws::bindings(InputData::default(), Value::Null, &stage);
    let vars = bindings.get("stageVariables").unwrap();
    assert_eq!(
        member(vars, "url"),
        Value::string("http://127.0.0.1:9000/v1")
    );
    assert_eq!(
        vars.to_java_string(),
        "{alias=live, url=http://127.0.0.1:9000/v1}"
    );
    let empty = aws::bindings(InputData::default(), Value::Null, &StageVariables::new());
    assert_eq!(empty.get("stageVariables").unwrap().to_java_string(), "{}");
}

#[test]
fn a_malformed_payload_fails_only_the_calls_that_parse_it() {
    let bindings = aws::bindings(
        InputData::new("{\"unterminated\": "),
        Value::Null,
        &StageVariables::new(),
    );
    let input = object(&bindings, "input");
    let err = input.call("json", &[Value::string("$")]).unwrap_err();
    assert!(err.to_string().starts_with(aws::PAYLOAD_ERROR), "{err}");
    assert!(input.call("path", &[Value::string("$.a")]).is_err());
    assert_eq!(
        input.property("body"),
        Some(Value::string("{\"unterminated\": "))
    );
    assert_eq!(
        input.call("params", &[Value::string("x")]).unwrap(),
        Some(Value::string(""))
    );
}
