//! Arbitrary templates and bodies through the VTL parser and renderer with the AWS
//! bindings: Ok or an error, never a panic, a hang or unbounded output.
#![no_main]

use gateway_core::RequestContext;
use gateway_core::stage::StageVariables;
use gateway_mapping_vtl::aws::{InputData, bindings, context_value};
use gateway_mapping_vtl::{RenderLimits, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (template, body) = text.split_once('\u{0}').unwrap_or((&text, "{}"));
    let Ok(compiled) = Template::compile(template) else {
        return;
    };
    let input = InputData {
        body: body.to_owned(),
        path: Default::default(),
        querystring: Default::default(),
        header: Default::default(),
    };
    let bindings = bindings(input, context_value(&RequestContext::default()), &StageVariables::new());
    let limits = RenderLimits::default();
    if let Ok(output) = compiled.render_with(&bindings, &limits) {
        assert!(output.len() <= limits.max_output_bytes);
    }
});
