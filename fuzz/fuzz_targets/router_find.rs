//! Route templates and request paths from arbitrary bytes: building the router
//! may refuse a template, matching must never panic, and every match must name
//! parameters its template declares.
#![no_main]

use gateway_core::model::RouteMethod;
use gateway_core::router::{MatchMode, Router};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let path = lines.next().unwrap_or("/");
    for mode in [MatchMode::ResourceFirst, MatchMode::RouteFirst] {
        let mut router = Router::new(mode);
        for (i, template) in lines.clone().take(64).enumerate() {
            let method = if i % 3 == 0 {
                RouteMethod::Any
            } else {
                RouteMethod::Method(http::Method::GET)
            };
            let _ = router.insert(&method, template, template.to_owned());
        }
        for method in [http::Method::GET, http::Method::POST] {
            if let Some(found) = router.find(&method, path) {
                for (name, _) in found.params.iter() {
                    assert!(found.value.contains(name) || found.value == "$default");
                }
            }
        }
    }
});
