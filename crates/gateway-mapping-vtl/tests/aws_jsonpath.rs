//! JSONPath through the public API: the examples of Jayway's README (the engine
//! API Gateway uses) over its "store" document, and the AWS pets document.

use gateway_mapping_vtl::jsonpath::{JsonPath, Selection};
use serde_json::{Value as Json, json};

fn store() -> Json {
    json!({
        "store": {
            "book": [
                {"category": "reference", "author": "Nigel Rees",
                 "title": "Sayings of the Century", "price": 8.95},
                {"category": "fiction", "author": "Evelyn Waugh",
                 "title": "Sword of Honour", "price": 12.99},
                {"category": "fiction", "author": "Herman Melville",
                 "title": "Moby Dick", "isbn": "0-553-21311-3", "price": 8.99},
                {"category": "fiction", "author": "J. R. R. Tolkien",
                 "title": "The Lord of the Rings", "isbn": "0-395-19395-8", "price": 22.99}
            ],
            "bicycle": {"color": "red", "price": 19.95}
        },
        "expensive": 10
    })
}

fn select(path: &str, doc: &Json) -> Option<Json> {
    JsonPath::compile(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .select(doc)
        .into_json()
}

fn titles(books: &[usize]) -> Json {
    let all = [
        "Sayings of the Century",
        "Sword of Honour",
        "Moby Dick",
        "The Lord of the Rings",
    ];
    Json::Array(books.iter().map(|&i| json!(all[i])).collect())
}

#[test]
fn jayway_readme_examples() {
    let doc = store();
    let books = doc["store"]["book"].clone();
    let authors = json!([
        "Nigel Rees",
        "Evelyn Waugh",
        "Herman Melville",
        "J. R. R. Tolkien"
    ]);
    let cases: Vec<(&str, Json)> = vec![
        ("$.store.book[*].author", authors.clone()),
        ("$..author", authors),
        ("$.store.*", json!([books, doc["store"]["bicycle"].clone()])),
        ("$.store..price", json!([8.95, 12.99, 8.99, 22.99, 19.95])),
        ("$..book[2].title", titles(&[2])),
        ("$..book[-2].title", titles(&[2])),
        ("$..book[0,1].title", titles(&[0, 1])),
        ("$..book[:2].title", titles(&[0, 1])),
        ("$..book[1:2].title", titles(&[1])),
        ("$..book[-2:].title", titles(&[2, 3])),
        ("$..book[2:].title", titles(&[2, 3])),
        ("$..book[?(@.isbn)].title", titles(&[2, 3])),
        ("$.store.book[?(@.price < 10)].title", titles(&[0, 2])),
        (
            "$..book[?(@.price <= $['expensive'])].title",
            titles(&[0, 2]),
        ),
        ("$..book[?(@.author =~ /.*REES/i)].title", titles(&[0])),
    ];
    for (path, expected) in cases {
        assert_eq!(select(path, &doc), Some(expected), "{path}");
    }
    // "Give me every thing": every value under the root, in document pre-order.
    let everything = select("$..*", &doc).unwrap();
    let everything = everything.as_array().unwrap();
    assert_eq!(everything.len(), 28);
    assert_eq!(everything[0], doc["store"]);
    assert_eq!(everything[1], json!(10));
}

#[test]
fn aws_pets_document() {
    let doc = json!({"pets": [
        {"id": 1, "type": "dog", "price": 249.99},
        {"id": 2, "type": "cat", "price": 124.99},
        {"id": 3, "type": "fish", "price": 0.99}
    ]});
    assert_eq!(
        select("$.pets[*].price", &doc),
        Some(json!([249.99, 124.99, 0.99]))
    );
    assert_eq!(select("$.pets[0]", &doc), Some(doc["pets"][0].clone()));
    assert_eq!(select("$.pets[-1].type", &doc), Some(json!("fish")));
    assert_eq!(select("$.pets.length", &doc), None);
    assert_eq!(
        select("$.pets[?(@.type == 'cat' || @.price > 200)].id", &doc),
        Some(json!([1, 2]))
    );
    assert_eq!(select("$['pets'][1]['type']", &doc), Some(json!("cat")));
}

#[test]
fn definite_paths_select_one_value_or_nothing() {
    let doc = store();
    let path = JsonPath::compile("$.store.bicycle").unwrap();
    assert!(path.is_definite());
    match path.select(&doc) {
        Selection::Definite(Some(value)) => assert_eq!(value.as_ref(), &doc["store"]["bicycle"]),
        other => panic!("unexpected {other:?}"),
    }
    let missing = JsonPath::compile("$.store.car.color").unwrap();
    assert_eq!(missing.select(&doc), Selection::Definite(None));
    assert_eq!(missing.select(&doc).into_json(), None);
}

#[test]
fn indefinite_paths_always_select_a_list() {
    let doc = store();
    for path in [
        "$.store.car[*]",
        "$..nothing",
        "$.store.book[?(@.price > 100)]",
        "$.expensive[0:1]",
    ] {
        let compiled = JsonPath::compile(path).unwrap();
        assert!(!compiled.is_definite(), "{path}");
        assert_eq!(
            compiled.select(&doc),
            Selection::Indefinite(Vec::new()),
            "{path}"
        );
        assert_eq!(compiled.select(&doc).into_json(), Some(json!([])), "{path}");
    }
    // One match is still a list.
    assert_eq!(select("$..bicycle.color", &doc), Some(json!(["red"])));
}

#[test]
fn compiled_paths_are_reusable() {
    let path = JsonPath::compile("$.a[?(@.n > 1)].n").unwrap();
    for (doc, expected) in [
        (json!({"a": [{"n": 1}, {"n": 2}]}), json!([2])),
        (json!({"a": [{"n": 3}, {"n": 4}]}), json!([3, 4])),
        (json!({"b": 1}), json!([])),
        (json!("text"), json!([])),
    ] {
        assert_eq!(path.select(&doc).into_json(), Some(expected));
    }
}

#[test]
fn unsupported_syntax_is_a_compile_error_naming_the_spot() {
    for (path, position) in [
        ("$.store.book.length()", 19),
        ("$[0:4:2]", 5),
        ("$.a[?(@.b in ['x'])]", 10),
        ("$.a..", 5),
    ] {
        let err = JsonPath::compile(path).unwrap_err();
        assert_eq!(err.position(), position, "{path}: {err}");
        assert!(err.to_string().contains(path), "{err}");
    }
}
