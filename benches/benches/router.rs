//! Router match on a 300-route API, beside a naive matcher that scans every route.

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use gateway_core::model::RouteMethod;
use gateway_core::router::{MatchMode, Router};
use http::Method;
use std::hint::black_box;

/// 300 routes in the shape of a real API: 30 collections with items, sub-resources
/// and a few methods each.
fn routes() -> Vec<(RouteMethod, String)> {
    let mut routes = Vec::new();
    for i in 0..30 {
        let base = format!("/service{i}/items");
        for (method, path) in [
            (Method::GET, base.clone()),
            (Method::POST, base.clone()),
            (Method::GET, format!("{base}/{{itemId}}")),
            (Method::PUT, format!("{base}/{{itemId}}")),
            (Method::DELETE, format!("{base}/{{itemId}}")),
            (Method::GET, format!("{base}/{{itemId}}/history")),
            (Method::GET, format!("{base}/{{itemId}}/tags/{{tag}}")),
            (Method::GET, format!("/service{i}/search")),
            (Method::GET, format!("/service{i}/health")),
        ] {
            routes.push((RouteMethod::Method(method), path));
        }
        routes.push((RouteMethod::Any, format!("/service{i}/files/{{proxy+}}")));
    }
    routes
}

/// The naive baseline: try every template, segment by segment.
fn naive_match<'r>(
    routes: &'r [(RouteMethod, String)],
    method: &Method,
    path: &str,
) -> Option<&'r str> {
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    routes.iter().find_map(|(m, template)| {
        let method_ok = match m {
            RouteMethod::Any => true,
            RouteMethod::Method(x) => x == method,
        };
        if !method_ok {
            return None;
        }
        let t: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
        if t.last().is_some_and(|s| s.ends_with("+}")) {
            let fixed = &t[..t.len() - 1];
            return (parts.len() > fixed.len()
                && fixed
                    .iter()
                    .zip(&parts)
                    .all(|(a, b)| a.starts_with('{') || a == b))
            .then_some(template.as_str());
        }
        (t.len() == parts.len()
            && t.iter()
                .zip(&parts)
                .all(|(a, b)| a.starts_with('{') || a == b))
        .then_some(template.as_str())
    })
}

fn bench(c: &mut Criterion) {
    let routes = routes();
    assert_eq!(routes.len(), 300);
    let mut router = Router::new(MatchMode::ResourceFirst);
    for (method, path) in &routes {
        router
            .insert(method, path, path.clone())
            .expect("valid route");
    }
    let cases = [
        ("literal", Method::GET, "/service17/items"),
        ("param", Method::GET, "/service23/items/8f3c2a/history"),
        ("greedy", Method::GET, "/service29/files/a/b/c.txt"),
    ];
    let mut group = c.benchmark_group("router_300_routes");
    for (name, method, path) in &cases {
        assert_eq!(
            router.find(method, path).map(|m| m.value.as_str()),
            naive_match(&routes, method, path)
        );
        group.bench_function(format!("trie/{name}"), |b| {
            b.iter(|| black_box(router.find(black_box(method), black_box(path))).is_some());
        });
        group.bench_function(format!("naive_scan/{name}"), |b| {
            b.iter(|| {
                black_box(naive_match(&routes, black_box(method), black_box(path))).is_some()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
