//! Mapping-template rendering: the developer guide's photos-style `#foreach` over a
//! 100-item `$input.path` list building JSON, and a typical Lambda non-proxy request
//! template; beside each, the naive way (parsing the template on every render).

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gateway_core::RequestContext;
use gateway_core::stage::StageVariables;
use gateway_mapping_vtl::Template;
use gateway_mapping_vtl::aws::{InputData, bindings, context_value};
use indexmap::IndexMap;

const PHOTOS: &str = r#"#set($inputRoot = $input.path('$'))
{
  "photos": [
#foreach($elem in $inputRoot.photos.photo)
    {
      "id": "$elem.id",
      "title": "$elem.title",
      "owner": "$elem.owner"
    }#if($foreach.hasNext),#end

#end
  ]
}"#;

const LAMBDA: &str = r#"{
  "body": $input.json('$'),
  "petId": "$input.params('petId')",
  "type": "$util.escapeJavaScript($input.params('type'))",
  "stage": "$context.stage",
  "requestId": "$context.requestId",
  "sourceIp": "$context.identity.sourceIp",
  "userAgent": "$context.identity.userAgent",
  "backend": "$stageVariables.backend"
}"#;

fn photos_body() -> String {
    let photos: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            serde_json::json!({
                "id": format!("{i:05}"),
                "owner": format!("{i}@N01"),
                "title": format!("Photo number {i}"),
                "ispublic": 1
            })
        })
        .collect();
    serde_json::json!({"photos": {"page": 1, "pages": 1, "photo": photos}}).to_string()
}

fn input(body: &str) -> InputData {
    InputData {
        body: body.to_owned(),
        path: IndexMap::from([("petId".to_owned(), "42".to_owned())]),
        querystring: IndexMap::from([("type".to_owned(), "dog's".to_owned())]),
        header: IndexMap::from([("Accept".to_owned(), "application/json".to_owned())]),
    }
}

fn bench(c: &mut Criterion) {
    let context = RequestContext {
        request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into(),
        stage: "prod".into(),
        identity: gateway_core::context::Identity {
            source_ip: "203.0.113.9".into(),
            user_agent: Some("curl/8.0".into()),
            ..Default::default()
        },
        ..RequestContext::default()
    };
    let mut variables = StageVariables::new();
    variables.insert("backend", "pets.internal").unwrap();

    let mut group = c.benchmark_group("vtl");
    for (name, source, body) in [
        ("photos_100_items", PHOTOS, photos_body()),
        (
            "lambda_request_template",
            LAMBDA,
            r#"{"type": "dog", "price": 249.99}"#.to_owned(),
        ),
    ] {
        let compiled = Template::compile(source).unwrap();
        let sample = compiled
            .render(&bindings(input(&body), context_value(&context), &variables))
            .unwrap();
        assert!(!sample.contains("$input"), "{sample}");
        group.bench_function(format!("{name}/compiled_once"), |b| {
            b.iter(|| {
                let bindings = bindings(input(&body), context_value(&context), &variables);
                black_box(compiled.render(&bindings).unwrap())
            });
        });
        group.bench_function(format!("{name}/parse_every_render"), |b| {
            b.iter(|| {
                let bindings = bindings(input(&body), context_value(&context), &variables);
                black_box(
                    Template::compile(source)
                        .unwrap()
                        .render(&bindings)
                        .unwrap(),
                )
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
