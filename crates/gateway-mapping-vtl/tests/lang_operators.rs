//! Operators in both forms, arithmetic, string `+`, comparisons, Velocity 1.7's
//! equality and truth rules.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod lang_common;

use lang_common::parse_err;

cases! {
    precedence: "#set($x = 7 + 3 * 2)$x;#set($y = (7 + 3) * 2)$y" => "13;20";
    integer_division_truncates: "#set($x = 7 / 2)$x;#set($y = -7 / 2)$y" => "3;-3";
    modulo_keeps_the_dividend_sign: "#set($x = 7 % 3)$x;#set($y = -7 % 3)$y" => "1;-1";
    mixing_with_a_double_gives_a_double: "#set($x = 7 / 2.0)$x;#set($y = 1 + 0.5)$y;#set($z = 2 * 1.5)$z"
        => "3.5;1.5;3.0";
    subtraction_needs_spaces_before_digits: "#set($x = $n - 1)$x" => "2";
    negative_literal_operand: "#set($x = 1 - -1)$x" => "2";
    division_by_zero_is_null_and_set_is_skipped: "#set($x = 1)#set($x = 1 / 0)$x;#set($y = 1 / 0)$y" => "1;$y";
    modulo_by_zero_is_null: "#set($y = 5 % 0)$y" => "$y";
    double_division_by_zero_is_null: "#set($y = 1.5 / 0)$y;#set($z = 1 / 0.0)$z" => "$y;$z";
    arithmetic_with_null_is_null: "#set($y = $nope + 1)$y" => "$y";
    arithmetic_on_non_numbers_is_null: "#set($y = 'a' - 1)$y;#set($z = [1] * 2)$z" => "$y;$z";
    string_plus_string: "#set($s = 'a' + 'b')$s" => "ab";
    string_plus_number: "#set($s = 'n=' + 5)$s;#set($t = 5 + 'n')$t" => "n=5;5n";
    plus_is_left_associative: "#set($s = 1 + 2 + 'x')$s;#set($t = 'x' + 1 + 2)$t" => "3x;x12";
    string_plus_null_uses_the_source_text: "#set($s = 'v:' + $nope)$s;#set($t = $nope.a + '!')$t"
        => "v:$nope;$nope.a!";
    string_plus_list: "#set($s = 'l' + [1, 2])$s" => "l[1, 2]";
    symbol_comparisons: "#if(2 > 1)a#end#if(2 >= 2)b#end#if(1 < 2)c#end#if(2 <= 1)d#end#if(1 != 2)e#end"
        => "abce";
    word_comparisons: "#if(2 gt 1 and 1 lt 2)a#end#if(1 eq 1 && 2 ne 1)b#end#if(not false)c#end#if(1 ge 2 or 2 le 2)d#end"
        => "abcd";
    word_operators_need_word_boundaries: "#if($n gt 1)a#end#if($n ge 3)b#end" => "ab";
    not_forms: "#if(!$nope)a#end#if(! $flag)b#end#if(!!true)c#end" => "abc";
    strings_do_not_compare_with_lt: "#if('a' < 'b')lt#{else}no#end" => "no";
    null_comparisons_are_false: "#if($nope < 1)a#elseif($nope >= 1)b#{else}c#end" => "c";
    integers_equal_doubles: "#if(1 == 1.0)a#end#if(2 > 1.5)b#end" => "ab";
    different_classes_compare_as_strings: "#if('1' == 1)a#end#if('1.0' == 1)b#{else}c#end#if(true == 'true')d#end"
        => "acd";
    null_equals_null: "#if($nope == $nada)a#end#if($nope != $nada)b#end" => "a";
    null_differs_from_values: "#if($nope == 'x')a#{else}b#end#if($nope != 'x')c#end" => "bc";
    lists_compare_by_content: "#if([1, 2] == [1, 2])a#end#if([1] == [1.0])b#{else}c#end" => "ac";
    list_and_string_compare_as_strings: "#if([1, 2] == '[1, 2]')a#end" => "a";
    maps_compare_without_order: "#if({'a': 1, 'b': 2} == {'b': 2, 'a': 1})a#end" => "a";
    and_or_short_circuit: "#set($l = [])#if(false && $l.add(1))#end#if(true || $l.add(2))#end$l" => "[]";
    and_or_evaluate_when_needed: "#set($l = [])#if(true && $l.add(1))a#end#if(false || $l.add(2))b#end$l" => "ab[1, 2]";
    literals_are_false_conditions: "#if(1)a#{else}b#end#if('x')c#{else}d#end#if([1])e#{else}f#end" => "bdf";
    arithmetic_is_a_false_condition: "#if(1 + 1)a#{else}b#end" => "b";
    reference_truth: "#if($blank)a#end#if($zero)b#end#if($flag)c#end#if($nope)d#end#set($e = [])#if($e)e#end"
        => "abe";
    grouping_in_conditions: "#if(($n > 1) && !($n > 5))a#end" => "a";
    comparisons_give_booleans: "#set($b = 1 < 2)$b;#set($c = !true)$c;#set($d = 1 == 2 || 2 == 2)$d" => "true;false;true";
    hyphen_makes_an_undefined_reference: "#set($a = 5)#set($b = $a-1)$b" => "$b";
}

#[test]
fn minus_before_a_digit_is_a_negative_number() {
    let err = parse_err("#set($x = 5-1)");
    assert_eq!((err.line, err.column), (1, 12));
    assert!(err.message.contains("negative number"), "{err}");
    let err = parse_err("#if($n -1 > 0)#end");
    assert!(err.message.contains("negative number"), "{err}");
}

#[test]
fn bare_words_are_not_values() {
    let err = parse_err("#if(foo)#end");
    assert_eq!((err.line, err.column), (1, 5));
    assert!(err.message.contains("bare words"), "{err}");
}

#[test]
fn method_calls_on_literals_do_not_parse() {
    // Velocity only calls methods on references.
    let err = parse_err("#set($p = \"a,b\".split(\",\"))");
    assert!(err.message.contains("expected an operator or ')'"), "{err}");
}
