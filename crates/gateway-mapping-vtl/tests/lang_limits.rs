//! Hostile templates stay bounded; parse errors say where and what.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod lang_common;

use std::thread;

use gateway_mapping_vtl::{Bindings, Limit, ParseError, RenderError, RenderLimits, Template};
use lang_common::{parse_err, render, render_err, render_limited};

fn limit_of(result: Result<String, RenderError>) -> Limit {
    match result {
        Err(RenderError::LimitExceeded { limit, .. }) => limit,
        other => panic!("expected a limit error, got {other:?}"),
    }
}

/// Runs `f` on a thread with a small stack, as a server worker would have.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no stack overflow")
}

#[test]
fn foreach_is_capped_at_a_thousand_iterations() {
    assert_eq!(
        render("#foreach($i in [1..1000])#end$velocityCount"),
        "$velocityCount"
    );
    let err = render_err("#set($l = [1..1001])\n#foreach($i in $l)#end");
    assert_eq!(
        err,
        RenderError::LimitExceeded {
            limit: Limit::ForeachIterations(1000),
            line: 2,
            column: 1
        }
    );
    assert!(err.to_string().contains("1000 iterations"), "{err}");
}

#[test]
fn the_cap_is_per_loop() {
    let out = render("#foreach($i in [1..40])#foreach($j in [1..40])#end#end done");
    assert_eq!(out, " done");
    let limits = RenderLimits {
        max_foreach_iterations: 3,
        ..RenderLimits::default()
    };
    assert_eq!(
        render_limited(
            "#foreach($i in [1..3])#foreach($j in [1..3])x#end#end",
            &limits
        )
        .unwrap(),
        "x".repeat(9)
    );
    assert_eq!(
        limit_of(render_limited("#foreach($i in [1..4])#end", &limits)),
        Limit::ForeachIterations(3)
    );
}

#[test]
fn ranges_in_foreach_are_lazy() {
    assert_eq!(
        render("#foreach($i in [1..100000000])#if($i > 3)#break#end$i#end"),
        "123"
    );
    assert_eq!(
        render("#foreach($i in [-5..-100000000])#if($i < -6)#break#end$i#end"),
        "-5-6"
    );
}

#[test]
fn huge_materialized_ranges_hit_the_step_limit() {
    assert_eq!(
        limit_of(render_limited(
            "#set($r = [1..100000000])",
            &RenderLimits::default()
        )),
        Limit::Steps(10_000_000)
    );
}

#[test]
fn steps_bound_nested_loops() {
    let limits = RenderLimits {
        max_steps: 10_000,
        ..RenderLimits::default()
    };
    assert_eq!(
        limit_of(render_limited(
            "#foreach($i in [1..1000])#foreach($j in [1..1000])#end#end",
            &limits
        )),
        Limit::Steps(10_000)
    );
}

#[test]
fn output_size_is_bounded() {
    let limits = RenderLimits {
        max_output_bytes: 10,
        ..RenderLimits::default()
    };
    assert_eq!(render_limited("0123456789", &limits).unwrap(), "0123456789");
    assert_eq!(
        limit_of(render_limited("0123456789x", &limits)),
        Limit::OutputBytes(10)
    );
    assert_eq!(
        limit_of(render_limited("$map", &limits)),
        Limit::OutputBytes(10)
    );
}

#[test]
fn doubling_strings_is_bounded() {
    let template = "#set($s = 'xxxxxxxx')#foreach($i in [1..64])#set($s = \"$s$s\")#end$s.length()";
    assert_eq!(
        limit_of(render_limited(template, &RenderLimits::default())),
        Limit::OutputBytes(10 * 1024 * 1024)
    );
    let concat = "#set($s = 'xxxxxxxx')#foreach($i in [1..64])#set($s = $s + $s)#end";
    assert!(matches!(
        limit_of(render_limited(concat, &RenderLimits::default())),
        Limit::OutputBytes(_) | Limit::Steps(_)
    ));
}

#[test]
fn doubling_lists_is_bounded() {
    let limits = RenderLimits {
        max_steps: 100_000,
        ..RenderLimits::default()
    };
    let template = "#set($l = [1])#foreach($i in [1..64])$l.addAll($l)#end";
    assert_eq!(
        limit_of(render_limited(template, &limits)),
        Limit::Steps(100_000)
    );
}

#[test]
fn comparing_shared_structures_is_bounded() {
    let template = "#set($a = [])#set($b = [])#foreach($i in [1..60])#set($a = [$a, $a])#set($b = [$b, $b])#end#if($a == $b)eq#end$a.contains($b)";
    let started = std::time::Instant::now();
    let result = render_limited(template, &RenderLimits::default());
    assert!(
        matches!(
            result,
            Ok(_)
                | Err(RenderError::LimitExceeded {
                    limit: Limit::Steps(_),
                    ..
                })
        ),
        "{result:?}"
    );
    assert!(started.elapsed().as_secs() < 30);
}

#[test]
fn macro_depth_is_configurable() {
    let limits = RenderLimits {
        max_macro_depth: 3,
        ..RenderLimits::default()
    };
    let template = "#macro(r $n)#if($n > 0)$n#set($m = $n - 1)#r($m)#end#end#r($k)";
    let with = |k: i64| {
        let mut bindings = Bindings::new();
        bindings.set("k", gateway_mapping_vtl::Value::Int(k));
        Template::compile(template)
            .unwrap()
            .render_with(&bindings, &limits)
    };
    assert_eq!(with(2).unwrap(), "21");
    assert_eq!(limit_of(with(5)), Limit::MacroDepth(3));
}

#[test]
fn recursive_define_is_bounded() {
    assert!(matches!(
        limit_of(render_limited(
            "#define($b)[$b]#end$b",
            &RenderLimits::default()
        )),
        Limit::MacroDepth(_)
    ));
}

#[test]
fn self_evaluating_text_is_bounded() {
    let err = render_err("#set($t = '#evaluate($t)')#evaluate($t)");
    assert!(matches!(err, RenderError::LimitExceeded { .. }), "{err:?}");
}

#[test]
fn deeply_nested_lists_are_dropped_without_recursion() {
    // 1000 x 1000 nesting levels built at run time, then released.
    let template = "#set($l = [])#foreach($i in [1..1000])#foreach($j in [1..100])#set($l = [$l])#end#end#set($l = 0)done";
    assert_eq!(on_small_stack(move || render(template)), "done");
}

#[test]
fn maximum_nesting_parses_and_renders_on_a_small_stack() {
    for open in [
        "#if(true)",
        "#foreach($i in [1])",
        "#define($d)",
        "#macro(m$n)",
    ] {
        let open = open.replace("$n", "");
        let src = format!("{}x{}", open.repeat(190), "#end".repeat(190));
        let result = on_small_stack(move || {
            Template::compile(&src).map(|t| t.render(&Bindings::new()).is_ok())
        });
        assert!(matches!(result, Ok(true)), "{open}: {result:?}");
    }
    let parens = format!("#set($x = {}1{})$x", "(".repeat(190), ")".repeat(190));
    assert_eq!(on_small_stack(move || render(&parens)), "1");
    let lists = format!(
        "#set($x = {}1{})$x.size()",
        "[".repeat(190),
        "]".repeat(190)
    );
    assert_eq!(on_small_stack(move || render(&lists)), "1");
    let nots = format!("#if({}true)yes#end", "!".repeat(190 * 2));
    assert!(on_small_stack(move || Template::compile(&nots)).is_err());
}

#[test]
fn too_deep_nesting_is_a_parse_error() {
    let src = format!("{}{}", "#if(true)".repeat(300), "#end".repeat(300));
    let err = parse_err(&src);
    assert!(err.message.contains("deeper than 200"), "{err}");
    let src = format!("#set($x = {}1{})", "(".repeat(1000), ")".repeat(1000));
    assert!(parse_err(&src).message.contains("deeper than 200"));
    let src = format!("#set($x = 1{})", " + 1".repeat(1000));
    assert!(parse_err(&src).message.contains("deeper than 200"));
}

#[test]
fn recursion_through_macros_and_strings_is_bounded_on_a_small_stack() {
    let src = format!(
        "#macro(m $d)#if($d < 18)#set($e = $d + 1){}#if($x == \"#m($e)\")#end{}#end#end#m(0)",
        "#if(true)".repeat(150),
        "#end".repeat(150)
    );
    let result = on_small_stack(move || Template::compile(&src).unwrap().render(&Bindings::new()));
    assert!(
        matches!(
            result,
            Err(RenderError::LimitExceeded {
                limit: Limit::Nesting(_),
                ..
            })
        ),
        "{result:?}"
    );
}

#[test]
fn large_templates_compile_and_render_in_linear_time() {
    let started = std::time::Instant::now();
    // 300 KB on one line, a hundred thousand references and directives.
    let line = "$a#if($a)x#end".repeat(300 * 1024 / 14);
    let template = Template::compile(&line).unwrap();
    let mut bindings = Bindings::new();
    bindings.set("a", gateway_mapping_vtl::Value::Int(1));
    let out = template.render(&bindings).unwrap();
    assert_eq!(out.len(), 2 * (300 * 1024 / 14));
    let many_lines = "#set($x = $a + 1)\n$x\n".repeat(300 * 1024 / 22);
    assert!(Template::compile(&many_lines).is_ok());
    let parts = "$a.b[0].c('é') #set($l = [1, [2]])".repeat(300 * 1024 / 40);
    assert!(Template::compile(&parts).is_ok());
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
}

#[test]
fn templates_over_300_kb_are_refused() {
    let err = parse_err(&"x".repeat(300 * 1024 + 1));
    assert_eq!((err.line, err.column), (1, 1));
    assert!(err.message.contains("300 KB"), "{err}");
}

#[test]
fn compiled_templates_are_shared_across_threads() {
    let template = Template::compile("#foreach($i in [1..3])$i#end $who").unwrap();
    let handles: Vec<_> = (0..4)
        .map(|n| {
            let template = template.clone();
            thread::spawn(move || {
                let mut bindings = Bindings::new();
                bindings.set("who", gateway_mapping_vtl::Value::Int(n));
                template.render(&bindings).unwrap()
            })
        })
        .collect();
    let outputs: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(outputs, ["123 0", "123 1", "123 2", "123 3"]);
    assert_eq!(template.source_len(), 33);
}

fn check(src: &str, line: usize, column: usize, contains: &str) {
    let err: ParseError = parse_err(src);
    assert_eq!((err.line, err.column), (line, column), "{src:?}: {err}");
    assert!(err.message.contains(contains), "{src:?}: {err}");
    assert!(
        err.to_string()
            .starts_with(&format!("line {line}, column {column}: ")),
        "{err}"
    );
}

#[test]
fn parse_errors_say_where_and_what() {
    check(
        "#if(true)\nx\n",
        3,
        1,
        "unclosed #if started at line 1, column 1; expected #end",
    );
    check(
        "a\n  #foreach($i in $l)\n",
        3,
        1,
        "unclosed #foreach started at line 2, column 3",
    );
    check("#end", 1, 1, "#end without a matching");
    check("x #else", 1, 3, "#else without a matching #if");
    check("#elseif(true)", 1, 1, "#elseif without a matching #if");
    check(
        "#if(true)#else#elseif(true)#end",
        1,
        15,
        "#elseif without a matching #if",
    );
    check("#if($a == )#end", 1, 11, "expected a value");
    check("#if $a#end", 1, 5, "expected '(' after #if");
    check("#set(a = 1)", 1, 6, "expected a reference");
    check("#set($a 1)", 1, 9, "expected '='");
    check("#set($a = 'x)", 1, 11, "unterminated string literal");
    check(
        "#foreach($i $l)#end",
        1,
        1,
        "#foreach expects ($item in collection)",
    );
    check("#foreach($i in $l", 1, 18, "expected an argument or ')'");
    check("#macro('m')#end", 1, 8, "must be a plain name");
    check("#macro(m x)#end", 1, 10, "parameters must be references");
    check("${a", 1, 4, "expected '}'");
    check("$a.b(1 2)", 1, 8, "expected ',' or ')'");
    check(
        "$a[x]",
        1,
        4,
        "expected an integer, string or reference as index",
    );
    check("$a[1", 1, 5, "expected ']'");
    check("#set($m = {'a' 1})", 1, 16, "expected ':'");
    check("#set($l = [1 2])", 1, 14, "expected ',' or ']'");
    check("#* open comment", 1, 1, "unclosed comment");
    check("#[[ open", 1, 1, "unclosed unparsed block");
    check("#foreach", 1, 9, "expected '(' after #foreach");
    check("#set($a = \"#if(\")", 1, 16, "expected a value");
}

#[test]
fn errors_in_string_templates_point_into_the_string() {
    let err = parse_err("#set($a = 1)\n#set($b = \"ok #end\")");
    assert_eq!((err.line, err.column), (2, 15), "{err}");
}
