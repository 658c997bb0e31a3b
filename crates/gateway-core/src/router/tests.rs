use http::Method;
use proptest::prelude::*;

use super::*;

fn get() -> RouteMethod {
    RouteMethod::Method(Method::GET)
}

fn router(mode: MatchMode, routes: &[(RouteMethod, &str)]) -> Router<String> {
    let mut router = Router::new(mode);
    for (method, path) in routes {
        router
            .insert(method, path, format!("{method} {path}"))
            .unwrap();
    }
    router
}

fn hit(
    router: &Router<String>,
    method: &Method,
    path: &str,
) -> Option<(String, Vec<(String, String)>)> {
    router.find(method, path).map(|m| {
        (
            m.value.clone(),
            m.params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    })
}

#[test]
fn literal_beats_param_beats_greedy() {
    let r = router(
        MatchMode::ResourceFirst,
        &[
            (get(), "/pets/mine"),
            (get(), "/pets/{petId}"),
            (get(), "/{proxy+}"),
        ],
    );
    assert_eq!(
        hit(&r, &Method::GET, "/pets/mine").unwrap().0,
        "GET /pets/mine"
    );
    let (route, params) = hit(&r, &Method::GET, "/pets/42").unwrap();
    assert_eq!(route, "GET /pets/{petId}");
    assert_eq!(params, vec![("petId".to_owned(), "42".to_owned())]);
    let (route, params) = hit(&r, &Method::GET, "/pets/42/toys/1").unwrap();
    assert_eq!(route, "GET /{proxy+}");
    assert_eq!(
        params,
        vec![("proxy".to_owned(), "pets/42/toys/1".to_owned())]
    );
}

#[test]
fn explicit_method_beats_any() {
    let r = router(
        MatchMode::ResourceFirst,
        &[(get(), "/pets"), (RouteMethod::Any, "/pets")],
    );
    assert_eq!(hit(&r, &Method::GET, "/pets").unwrap().0, "GET /pets");
    assert_eq!(hit(&r, &Method::DELETE, "/pets").unwrap().0, "ANY /pets");
}

#[test]
fn rest_resource_without_method_is_no_match() {
    let r = router(
        MatchMode::ResourceFirst,
        &[(get(), "/pets"), (RouteMethod::Any, "/{proxy+}")],
    );
    assert!(hit(&r, &Method::POST, "/pets").is_none());
    assert!(hit(&r, &Method::GET, "/").is_none());
    assert!(hit(&r, &Method::GET, "/nothing").is_some());
}

#[test]
fn http_api_falls_through_to_greedy_and_default() {
    let r = router(
        MatchMode::RouteFirst,
        &[
            (get(), "/pets"),
            (RouteMethod::Any, "/{proxy+}"),
            (RouteMethod::Any, "$default"),
        ],
    );
    assert_eq!(hit(&r, &Method::POST, "/pets").unwrap().0, "ANY /{proxy+}");
    assert_eq!(hit(&r, &Method::GET, "/").unwrap().0, "ANY $default");
}

#[test]
fn params_are_percent_decoded_and_literals_compare_decoded() {
    let r = router(
        MatchMode::ResourceFirst,
        &[(get(), "/files/{name}"), (get(), "/a b")],
    );
    let (_, params) = hit(&r, &Method::GET, "/files/hello%20world%2Fx").unwrap();
    assert_eq!(params[0].1, "hello world/x");
    assert_eq!(hit(&r, &Method::GET, "/a%20b").unwrap().0, "GET /a b");
}

#[test]
fn trailing_and_double_slashes_are_ignored() {
    let r = router(MatchMode::ResourceFirst, &[(get(), "/pets/{id}")]);
    assert!(hit(&r, &Method::GET, "/pets/1/").is_some());
    assert!(hit(&r, &Method::GET, "//pets//1").is_some());
}

#[test]
fn root_resource_matches_slash() {
    let r = router(MatchMode::ResourceFirst, &[(get(), "/")]);
    assert_eq!(hit(&r, &Method::GET, "/").unwrap().0, "GET /");
    assert!(hit(&r, &Method::GET, "/x").is_none());
}

#[test]
fn backtracks_from_literal_dead_end_to_param() {
    let r = router(
        MatchMode::ResourceFirst,
        &[(get(), "/a/b/c"), (get(), "/a/{x}/d")],
    );
    let (route, params) = hit(&r, &Method::GET, "/a/b/d").unwrap();
    assert_eq!(route, "GET /a/{x}/d");
    assert_eq!(params[0].1, "b");
}

#[test]
fn invalid_templates_are_refused() {
    let mut r: Router<()> = Router::new(MatchMode::ResourceFirst);
    assert!(matches!(
        r.insert(&get(), "pets", ()),
        Err(RouteError::InvalidPath { .. })
    ));
    assert!(matches!(
        r.insert(&get(), "/{proxy+}/x", ()),
        Err(RouteError::InvalidPath { .. })
    ));
    assert!(matches!(
        r.insert(&get(), "/a{b}", ()),
        Err(RouteError::InvalidPath { .. })
    ));
    assert!(matches!(
        r.insert(&get(), "/{}", ()),
        Err(RouteError::InvalidPath { .. })
    ));
    r.insert(&get(), "/pets/{id}", ()).unwrap();
    assert!(matches!(
        r.insert(&get(), "/pets/{petId}/x", ()),
        Err(RouteError::ConflictingParam { .. })
    ));
    assert!(matches!(
        r.insert(&get(), "/pets/{id}", ()),
        Err(RouteError::Duplicate { .. })
    ));
}

#[derive(Debug, Clone)]
enum GenSeg {
    Lit(String),
    Param(String),
}

fn template_strategy() -> impl Strategy<Value = (Vec<GenSeg>, Option<String>)> {
    let seg = prop_oneof![
        "[a-z][a-z0-9_-]{0,8}".prop_map(GenSeg::Lit),
        "[a-zA-Z][a-zA-Z0-9_]{0,6}".prop_map(GenSeg::Param),
    ];
    (
        proptest::collection::vec(seg, 0..6),
        proptest::option::of("[a-z][a-z0-9]{0,5}"),
    )
}

fn value_strategy() -> impl Strategy<Value = String> {
    // Values a client could send in a segment, including characters that must be
    // percent-encoded on the wire.
    "[a-zA-Z0-9 ._~:@!$&'()*,;=%-]{1,12}"
}

proptest! {
    #[test]
    fn generated_paths_match_their_template(
        (segments, greedy) in template_strategy(),
        values in proptest::collection::vec(value_strategy(), 8),
        tail in proptest::collection::vec("[a-z0-9 %]{1,6}", 1..4),
    ) {
        // Path variable names must be unique within one template.
        let mut seen = std::collections::HashSet::new();
        for s in &segments {
            if let GenSeg::Param(name) = s {
                prop_assume!(seen.insert(name.clone()));
            }
        }
        if let Some(g) = &greedy {
            prop_assume!(seen.insert(g.clone()));
        }
        let mut template = String::new();
        let mut path = String::new();
        let mut expected = Vec::new();
        for (i, s) in segments.iter().enumerate() {
            match s {
                GenSeg::Lit(l) => {
                    template.push_str(&format!("/{l}"));
                    path.push_str(&format!("/{l}"));
                }
                GenSeg::Param(name) => {
                    let value = &values[i];
                    template.push_str(&format!("/{{{name}}}"));
                    let encoded = percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC);
                    path.push_str(&format!("/{encoded}"));
                    expected.push((name.clone(), value.clone()));
                }
            }
        }
        if let Some(g) = &greedy {
            template.push_str(&format!("/{{{g}+}}"));
            let raw: Vec<String> = tail.iter().map(|t| percent_encoding::utf8_percent_encode(t, percent_encoding::NON_ALPHANUMERIC).to_string()).collect();
            path.push_str(&format!("/{}", raw.join("/")));
            expected.push((g.clone(), tail.join("/")));
        }
        if template.is_empty() {
            template.push('/');
            path.push('/');
        }
        for mode in [MatchMode::ResourceFirst, MatchMode::RouteFirst] {
            let mut router = Router::new(mode);
            router.insert(&RouteMethod::Any, &template, template.clone()).unwrap();
            let found = router.find(&Method::GET, &path);
            prop_assert!(found.is_some(), "{} did not match {}", path, template);
            let found = found.unwrap();
            prop_assert_eq!(found.value, &template);
            let params: Vec<(String, String)> = found.params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            prop_assert_eq!(params, expected.clone());
        }
    }
}
