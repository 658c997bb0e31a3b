//! Arbitrary documents through the OpenAPI importer: an error or warnings, never a
//! panic, and every message names the file.
#![no_main]

use gateway_openapi::{LoadOptions, load_str};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for strict in [false, true] {
        let options = LoadOptions {
            strict,
            ..LoadOptions::default()
        };
        match load_str(text, "fuzz.yaml", &options) {
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    assert!(warning.to_string().starts_with("fuzz.yaml"));
                }
            }
            Err(err) => assert!(err.to_string().starts_with("fuzz.yaml")),
        }
    }
});
