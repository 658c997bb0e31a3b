//! References: plain, braced, quiet, undefined, properties, methods, indexes,
//! and Velocity's `\$` escaping rules.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod lang_common;

use gateway_mapping_vtl::RenderError;
use lang_common::{render, render_err};

cases! {
    plain_reference: "Hello $name!" => "Hello World!";
    braced_reference_separates_text: "${name}s" => "Worlds";
    identifier_runs_on_without_braces: "$names" => "$names";
    quiet_defined: "$!name" => "World";
    quiet_undefined_prints_nothing: "[$!nope]" => "[]";
    quiet_braced_undefined: "[$!{nope}]" => "[]";
    undefined_references_print_as_written: "$nope ${nope} $nope.bar $nope.bar(1, 'x') $nope[0]"
        => "$nope ${nope} $nope.bar $nope.bar(1, 'x') $nope[0]";
    undefined_method_chain_keeps_spacing: "$nope.bar( 1 ,'x' )" => "$nope.bar( 1 ,'x' )";
    quiet_undefined_method: "[$!nope.foo()]" => "[]";
    numbers_and_booleans_render_as_java: "$n $zero $flag" => "3 0 false";
    empty_string_renders_empty: "[$blank]" => "[]";
    map_property_is_get: "$map.a" => "1";
    map_property_named_like_a_method_is_a_key: "$map.size $map.empty" => "S E";
    list_size_is_not_a_property: "$list.size" => "$list.size";
    list_size_method: "$list.size()" => "4";
    list_empty_property_is_is_empty: "$list.empty" => "false";
    string_length_is_not_a_property: "$email.length $email.length()" => "$email.length 3";
    nested_properties: "$nested.x.y" => "deep";
    missing_nested_property_prints_the_reference: "$nested.x.z" => "$nested.x.z";
    index_into_list: "$list[0] $list[1] $list[-2]" => "1 two 3.5";
    index_into_map: "$map['a'] $map[\"b\"][1]" => "1 20";
    index_with_reference: "#set($i = 1)$list[$i]" => "two";
    null_list_element_prints_the_reference: "$list[3]" => "$list[3]";
    method_with_arguments: "$email.replace('o', \"0\")" => "f00";
    chained_methods: "$map.a.toString().length()" => "1";
    formal_reference_with_method: "${email.toUpperCase()}x" => "FOOx";
    hyphen_belongs_to_the_identifier: "$name-$name" => "$name-World";
    hyphenated_variable: "#set($a-b = 5)$a-b" => "5";
    dot_without_letter_ends_the_reference: "$name. $name.1" => "World. World.1";
    dollar_without_identifier_is_text: "$ 5 and $5 and $" => "$ 5 and $5 and $";
    bang_without_identifier_is_text: "$!" => "$!";
    brace_without_identifier_is_text: "${ name}" => "${ name}";
    paren_after_reference_is_text: "$name(x)" => "World(x)";
    closing_brace_after_reference_is_text: "$name}" => "World}";
    email_addresses_are_text: "me@example.com" => "me@example.com";
    class_property: "$email.class.simpleName $list.getClass().getName()" => "String java.util.ArrayList";

    // Escapes: `\` binds to `$` from the left; odd counts escape.
    escaped_defined_reference: "\\$email" => "$email";
    double_backslash_defined: "\\\\$email" => "\\foo";
    triple_backslash_defined: "\\\\\\$email" => "\\$email";
    escaped_undefined_reference: "\\$nope" => "\\$nope";
    double_backslash_undefined: "\\\\$nope" => "\\\\$nope";
    triple_backslash_undefined: "\\\\\\$nope" => "\\\\$nope";
    escaped_quiet_reference: "\\$!email \\$!nope" => "$!email \\$!nope";
    escaped_braced_reference: "\\${email}" => "${email}";
    escaped_reference_still_runs_its_methods: "#set($l = [])\\$l.add(1) $l" => "$l.add(1) [1]";
    backslashes_elsewhere_are_text: "a\\b c\\\\d \\n" => "a\\b c\\\\d \\n";
    slashbang_drops_one_backslash: "$\\!foo $\\\\!foo" => "$!foo $\\!foo";
    escaped_if_directive: "\\#if(true)x\\#end" => "#if(true)x#end";
    escaped_braced_directive: "\\#{if}" => "#{if}";
    escaped_foreach_directive: "\\#foreach" => "#foreach";
    escaped_set_prints_the_rest_as_text: "\\#set($a = 1)$a" => "#set($a = 1)$a";
    escaped_unknown_directive_keeps_backslash: "\\#unknown" => "\\#unknown";
    double_backslash_before_directive: "\\\\#if(true)x#end" => "\\x";
    triple_backslash_before_directive: "\\\\\\#if" => "\\#if";
    double_backslash_before_unknown_word: "\\\\#foo" => "\\\\#foo";
    escaped_macro_call: "#macro(m)M#end\\#m() #m()" => "#m() M";
}

#[test]
fn out_of_range_index_fails_the_render() {
    let err = render_err("line\n  $list[10]");
    match &err {
        RenderError::Method {
            method,
            line,
            column,
            source,
        } => {
            assert_eq!(method, "get");
            assert_eq!((*line, *column), (2, 8));
            assert!(source.0.contains("Index: 10, Size: 4"), "{source}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn bindings_are_read_not_written() {
    let template = gateway_mapping_vtl::Template::compile("#set($name = 'Mars')$name").unwrap();
    let bindings = lang_common::bindings(lang_common::DATA);
    assert_eq!(template.render(&bindings).unwrap(), "Mars");
    // The same bindings still say World, and a second render starts afresh.
    assert_eq!(
        gateway_mapping_vtl::Template::compile("$name")
            .unwrap()
            .render(&bindings)
            .unwrap(),
        "World"
    );
    assert_eq!(template.render(&bindings).unwrap(), "Mars");
    assert_eq!(render("$name"), "World");
}
