//! Java methods on strings, lists, maps, numbers and host objects, with Java's
//! results and exceptions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod lang_common;

use gateway_mapping_vtl::{RenderError, Template};
use lang_common::{input_bindings, render, render_err};

cases! {
    string_length_and_case: "$email.length() $email.toUpperCase() $name.toLowerCase()" => "3 FOO world";
    string_substring: "$name.substring(1) $name.substring(1, 3) [$name.substring(5)]" => "orld or []";
    string_index_of: "$name.indexOf('o') $name.indexOf('o', 2) $name.lastIndexOf('o') $name.indexOf('z')" => "1 -1 1 -1";
    string_tests: "$name.contains('orl') $name.startsWith('W') $name.endsWith('x') $blank.isEmpty() $name.equals('World') $name.equalsIgnoreCase('WORLD')"
        => "true true false true true true";
    string_trim_and_concat: "[#set($s = '  pad  ')$s.trim()] $email.concat('bar')" => "[pad] foobar";
    string_char_at: "$name.charAt(0)$name.charAt(4)" => "Wd";
    string_replace_is_literal: "#set($s = 'a.b.c')$s.replace('.', '$')" => "a$b$c";
    string_replace_all_with_groups: "#set($s = 'John Smith')$s.replaceAll('(\\w+) (\\w+)', '$2, $1')" => "Smith, John";
    string_replace_first: "#set($s = 'a-b-c')$s.replaceFirst('-', '+')" => "a+b-c";
    string_split_drops_trailing_empties: "#set($s = 'a,b,,')#set($p = $s.split(','))$p $p.size()" => "[a, b] 2";
    string_split_by_regex: "#set($s = 'a1b22c')$s.split('\\d+')" => "[a, b, c]";
    string_split_keeps_leading_empty: "#set($s = ',a')$s.split(',').size()" => "2";
    string_matches_whole_string: "#set($s = 'abc123')$s.matches('[a-z]+\\d+') $s.matches('\\d+')" => "true false";
    string_to_string: "$email.toString()" => "foo";
    unicode_counts_utf16_units: "#set($s = 'é😀')$s.length() $s.indexOf('😀')" => "3 1";
    unknown_method_prints_the_reference: "$email.frobnicate() $email.substring('x')" => "$email.frobnicate() $email.substring('x')";
    list_methods: "#set($l = [1, 2])$l.add(3) $l.size() $l.get(2) $l.contains(2) $l.indexOf(3) $l.isEmpty()"
        => "true 3 3 true 2 false";
    list_remove_by_index_and_by_value: "#set($l = ['a', 'b', 'c'])$l.remove(0) $l.remove('c') $l" => "a true [b]";
    list_set_returns_the_old_element: "#set($l = ['a'])$l.set(0, 'b') $l" => "a [b]";
    list_contains_uses_java_equals: "#set($l = [1])$l.contains(1) $l.contains(1.0) $l.contains('1')" => "true false false";
    list_add_all_and_sub_list: "#set($l = [1])$l.addAll([2, 3]) $l.subList(1, 3)" => "true [2, 3]";
    map_put_returns_the_previous_value: "#set($m = {})[$m.put('a', 1)] [$!m.put('a', 2)] $m" => "[$m.put('a', 1)] [1] {a=2}";
    map_methods: "#set($m = {'a': 1, 'b': 2})$m.get('a') $m.containsKey('b') $m.containsValue(3) $m.size() $m.isEmpty()"
        => "1 true false 2 false";
    map_views: "$map.keySet() $map.values()" => "[a, b, size, empty] [1, [10, 20], S, E]";
    map_remove: "#set($m = {'a': 1, 'b': 2})$m.remove('a') $m" => "1 {b=2}";
    map_get_missing_prints_the_reference: "$map.get('zzz')" => "$map.get('zzz')";
    map_entry_methods: "#foreach($e in $map.entrySet())#if($velocityCount == 1)$e.getKey()=$e.getValue()#end#end" => "a=1";
    integer_methods: "$n.toString() $n.doubleValue() $n.compareTo(5)" => "3 3.0 -1";
    double_methods: "#set($d = 2.7)$d.intValue() $d.toString()" => "2 2.7";
    boolean_methods: "$flag.toString();#set($t = true)$t.equals(true)" => "false;true";
}

#[test]
fn substring_out_of_range_fails_like_java() {
    let err = render_err("x\n$email.substring(5)");
    match &err {
        RenderError::Method {
            method,
            line,
            column,
            source,
        } => {
            assert_eq!(method, "substring");
            assert_eq!((*line, *column), (2, 7));
            assert_eq!(
                source.0,
                "java.lang.StringIndexOutOfBoundsException: String index out of range: -2"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("line 2, column 7: invocation of method 'substring' failed: java.lang.StringIndexOutOfBoundsException"),
        "{err}"
    );
}

#[test]
fn char_at_and_get_out_of_range_fail() {
    assert!(matches!(
        render_err("$email.charAt(3)"),
        RenderError::Method { .. }
    ));
    assert!(matches!(
        render_err("$list.get(-1)"),
        RenderError::Method { .. }
    ));
}

#[test]
fn invalid_regex_fails_the_render() {
    let err = render_err("#set($s = 'a')$s.replaceAll('(', 'x')");
    assert!(err.to_string().contains("PatternSyntaxException"), "{err}");
}

#[test]
fn host_objects_answer_properties_getters_and_methods() {
    let bindings = input_bindings(r#"{"pets": [{"name": "Rex"}, {"name": "Tom"}]}"#);
    let render = |src: &str| Template::compile(src).unwrap().render(&bindings);
    assert_eq!(render("$input").unwrap(), "<input>");
    assert_eq!(render("$input.path('$').pets[1].name").unwrap(), "Tom");
    // `body` is a property; `size` comes from `getSize()`; unknown names print.
    assert_eq!(
        render("$input.body.length() $input.size $input.nothing").unwrap(),
        "40 7 $input.nothing"
    );
    assert_eq!(
        render("$input.toString() $input.equals($input)").unwrap(),
        "<input> true"
    );
    let err = render("\n  #set($x = $input.fail())").unwrap_err();
    match err {
        RenderError::Method {
            method,
            line,
            column,
            source,
        } => {
            assert_eq!((method.as_str(), line, column), ("fail", 2, 19));
            assert_eq!(source.0, "it failed");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn cyclic_collections_print_like_java() {
    assert_eq!(
        render("#set($l = [1])$l.add($l)$l"),
        "true[1, (this Collection)]"
    );
}
