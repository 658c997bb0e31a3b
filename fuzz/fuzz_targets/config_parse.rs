//! Arbitrary configuration files: a config or an error naming the file, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(err) = gateway::Config::from_str(text, "fuzz.yaml") {
        assert!(err.to_string().starts_with("fuzz.yaml"));
    }
});
