//! Templates in the style of API Gateway's documentation, rendered against a
//! stand-in `$input` (the real AWS bindings are tested with the `aws` module).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod lang_common;

use gateway_mapping_vtl::Template;
use lang_common::input_bindings;

fn render(template: &str, payload: &str) -> String {
    Template::compile(template)
        .unwrap()
        .render(&input_bindings(payload))
        .unwrap()
}

const PETS: &str = r#"[
  {"id": 1, "type": "dog", "price": 249.99},
  {"id": 2, "type": "cat", "price": 124.99},
  {"id": 3, "type": "fish", "price": 0.99}
]"#;

#[test]
fn pets_list_transformation() {
    let template = r#"#set($inputRoot = $input.path('$'))
[
#foreach($elem in $inputRoot)
  {
    "description" : "Item $elem.id is a $elem.type.",
    "askingPrice" : $elem.price
  }#if($foreach.hasNext),#end

#end
]"#;
    let expected = r#"[
  {
    "description" : "Item 1 is a dog.",
    "askingPrice" : 249.99
  },
  {
    "description" : "Item 2 is a cat.",
    "askingPrice" : 124.99
  },
  {
    "description" : "Item 3 is a fish.",
    "askingPrice" : 0.99
  }
]"#;
    assert_eq!(render(template, PETS), expected);
}

#[test]
fn photos_with_velocity_count() {
    let payload = r#"{"photos": {"page": 1, "pages": "1234", "perpage": 100, "total": "123398",
        "photo": [
          {"id": "12345678901", "owner": "23456789@A12", "title": "Foo", "ispublic": true},
          {"id": "23456789012", "owner": "34567890@B23", "title": "Bar", "ispublic": false}
        ]}}"#;
    let template = r#"#set($inputRoot = $input.path('$'))
{
  "photos": {
    "page": $inputRoot.photos.page,
    "total": "$inputRoot.photos.total",
    "photo": [
#foreach($elem in $inputRoot.photos.photo)
      {
        "n": $velocityCount,
        "id": "$elem.id",
        "title": "$elem.title",
        "ispublic": $elem.ispublic
      }#if($foreach.hasNext),#end

#end
    ]
  }
}"#;
    let expected = r#"{
  "photos": {
    "page": 1,
    "total": "123398",
    "photo": [
      {
        "n": 1,
        "id": "12345678901",
        "title": "Foo",
        "ispublic": true
      },
      {
        "n": 2,
        "id": "23456789012",
        "title": "Bar",
        "ispublic": false
      }
    ]
  }
}"#;
    assert_eq!(render(template, payload), expected);
}

#[test]
fn conditional_fields_and_defaults() {
    let template = r##"#set($body = $input.path('$'))
#set($limit = 10)
#if($body.limit)
  #set($limit = $body.limit)
#end
{"limit": $limit, "name": "$!body.name", "tags": [#foreach($t in $body.tags)"$t"#if($foreach.hasNext), #end#end]}"##;
    assert_eq!(
        render(template, r#"{"limit": 5, "tags": ["a", "b"]}"#),
        r#"{"limit": 5, "name": "", "tags": ["a", "b"]}"#
    );
    assert_eq!(
        render(template, r#"{"tags": []}"#),
        r#"{"limit": 10, "name": "", "tags": []}"#
    );
}

#[test]
fn building_a_map_and_printing_it() {
    let template = r##"#set($out = {})
#foreach($p in $input.path('$'))
#set($ignore = $out.put("pet$p.id", $p.type))
#end
$out"##;
    assert_eq!(render(template, PETS), "{pet1=dog, pet2=cat, pet3=fish}");
}
