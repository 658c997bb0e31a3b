//! Whatever the input, compiling and rendering return `Ok` or an error: no panic,
//! no stack overflow, no runaway, and the same result every time.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod lang_common;

use gateway_mapping_vtl::{Bindings, RenderLimits, Template};
use proptest::prelude::*;

const FRAGMENTS: &[&str] = &[
    "$",
    "$a",
    "$!a",
    "${",
    "}",
    "${a}",
    "$a.b",
    "$a.b(",
    "$a[",
    "$a[0]",
    "$list",
    "$map.a",
    "$email.substring(",
    "$email.split(','",
    "$foreach.index",
    "$foreach.parent",
    "$velocityCount",
    "$d",
    "$bodyContent",
    "#",
    "##",
    "#*",
    "*#",
    "#[[",
    "]]#",
    "#if(",
    "#{if}(",
    "#elseif(",
    "#else",
    "#{else}",
    "#end",
    "#{end}",
    "#foreach($i in ",
    "#foreach($x in $list)",
    "#set(",
    "#set($a = ",
    "#set($l = [])",
    "$l.add($l)",
    "#macro(m $x)",
    "#m(",
    "#m()",
    "#@m()",
    "#define($d)",
    "#break",
    "#break($foreach)",
    "#stop",
    "#evaluate(",
    "#literal()",
    "#parse(",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    "..",
    "[1..3]",
    "[1..100000]",
    "1",
    "-1",
    "2.5",
    "1e3",
    "true",
    "false",
    "&&",
    "||",
    "!",
    "==",
    "!=",
    "<",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    " and ",
    " not ",
    "\"",
    "'",
    "\"$a\"",
    "'x'",
    "\"#m()\"",
    "\\",
    "\\\\",
    "\\$a",
    "\\#if",
    "\n",
    "\r\n",
    " ",
    "\t",
    "a",
    "é",
    "😀",
    "=",
    "#if($a)x#end",
];

fn limits() -> RenderLimits {
    RenderLimits {
        max_foreach_iterations: 1000,
        max_macro_depth: 20,
        max_output_bytes: 64 * 1024,
        max_steps: 200_000,
    }
}

fn bindings() -> Bindings {
    lang_common::bindings(lang_common::DATA)
}

/// Compiles and renders twice; both renders must agree.
fn exercise(src: &str) {
    let Ok(template) = Template::compile(src) else {
        return;
    };
    let bindings = bindings();
    let first = template.render_with(&bindings, &limits());
    let second = template.render_with(&bindings, &limits());
    assert_eq!(first, second, "renders differ for {src:?}");
}

fn soup(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..max).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        exercise(&src);
    }

    #[test]
    fn vtl_like_characters_never_panic(src in "[$#!{}()\\[\\]\\\\.a-c0-9 \"',=<>+*/%&|\n-]{0,80}") {
        exercise(&src);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn token_soup_never_panics(src in soup(40)) {
        exercise(&src);
    }

    #[test]
    fn balanced_blocks_never_panic(body in soup(12), depth in 0usize..30, kind in 0usize..4) {
        let open = ["#if(true)", "#foreach($i in [1, 2])", "#macro(r $x)", "#define($blk)"][kind];
        let src = format!("{}{body}{}#r(){}$blk", open.repeat(depth), "#end".repeat(depth), "");
        exercise(&src);
    }
}

#[test]
fn fragments_alone_and_in_pairs_never_panic() {
    for a in FRAGMENTS {
        exercise(a);
        for b in FRAGMENTS {
            exercise(&format!("{a}{b}"));
        }
    }
}
