//! Literals: strings (interpolated or not), numbers, booleans, lists, maps, ranges.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod lang_common;

cases! {
    single_quotes_are_literal: "#set($s = 'single $name #if(true)x#end')$s" => "single $name #if(true)x#end";
    double_quotes_interpolate: "#set($s = \"double $name\")$s" => "double World";
    double_quotes_run_directives: "#set($s = \"#if(true)yes#{else}no#end\")$s" => "yes";
    double_quotes_call_macros: "#macro(m)M#end#set($s = \"[#m()]\")$s" => "[M]";
    interpolated_undefined_stays_literal: "#set($s = \"<$nope>\")$s" => "<$nope>";
    interpolated_quiet_undefined: "#set($s = \"<$!nope>\")$s" => "<>";
    interpolation_gives_a_string: "#set($s = \"$n\")#if($s == '3')eq#end $s.length()" => "eq 1";
    doubled_double_quote: "#set($s = \"say \"\"hi\"\"\")$s" => "say \"hi\"";
    doubled_single_quote: "#set($s = 'it''s')$s" => "it's";
    other_quote_needs_no_doubling: "#set($s = \"it's\")$s;#set($t = 'say \"hi\"')$t" => "it's;say \"hi\"";
    backslash_escapes_are_kept: "#set($s = \"a\\\"b\\n\")$s" => "a\\\"b\\n";
    unicode_escapes_in_double_quotes: "#set($s = \"\\u0041\\u00e9\")$s" => "Aé";
    no_unicode_escapes_in_single_quotes: "#set($s = '\\u0041')$s" => "\\u0041";
    strings_may_span_lines: "#set($s = \"a\nb\")$s" => "a\nb";
    empty_strings: "#set($s = '')[$s]#set($t = \"\")[$t]" => "[][]";
    integers: "#set($i = 42)$i;#set($j = -7)$j" => "42;-7";
    long_integers: "#set($i = 123456789012)$i" => "123456789012";
    doubles_print_like_java: "#set($f = 1.5)$f;#set($g = 2.0)$g;#set($h = -0.5)$h" => "1.5;2.0;-0.5";
    large_and_small_doubles: "#set($a = 1.0E10)$a;#set($b = 0.0001)$b;#set($c = 12345678.9)$c"
        => "1.0E10;1.0E-4;1.23456789E7";
    leading_dot_double: "#set($d = .5)$d" => "0.5";
    exponent_without_dot: "#set($e = 3e2)$e" => "300.0";
    trailing_dot_double: "#set($e = 3.)$e" => "3.0";
    whitespace_after_a_reference_goes_with_a_following_set: "#set($i = 1)$i #set($j = 2)$j" => "12";
    booleans: "#set($t = true)$t;#set($f = false)$f" => "true;false";
    list_literal: "#set($l = [1, 'two', 3.0, true, [4]])$l" => "[1, two, 3.0, true, [4]]";
    empty_list_and_map: "#set($l = [])$l;#set($m = {})$m" => "[];{}";
    list_with_references: "#set($l = [$name, $nope])$l" => "[World, null]";
    list_over_several_lines: "#set($l = [\n  1,\n  2\n])$l" => "[1, 2]";
    map_keeps_insertion_order: "#set($m = {'b': 1, 'a': [2], \"c\": $name})$m" => "{b=1, a=[2], c=World}";
    map_values_by_property: "#set($m = {'k': 'v'})$m.k $m.get('k') $m['k']" => "v v v";
    map_with_number_key: "#set($m = {1: 'one'})$m $m.get(1)" => "{1=one} one";
    map_with_interpolated_value: "#set($m = {'greeting': \"hi $name\"})$m.greeting" => "hi World";
    nested_collections: "#set($m = {'l': [{'x': 1}]})$m.l[0].x" => "1";
    ascending_range: "#set($r = [1..5])$r" => "[1, 2, 3, 4, 5]";
    descending_range: "#set($r = [3..-1])$r" => "[3, 2, 1, 0, -1]";
    single_element_range: "#set($r = [5..5])$r" => "[5]";
    range_with_spaces: "#set($r = [ 1 .. 3 ])$r" => "[1, 2, 3]";
    range_with_references: "#set($a = 2)#set($b = 4)#foreach($i in [$a..$b])$i#end" => "234";
    descending_range_with_reference: "#foreach($i in [$n..1])$i#end" => "321";
    range_with_null_end_is_null: "#foreach($i in [1..$nope])x#end.#set($r = [1..$nope])$r" => ".$r";
    range_is_a_list: "#set($r = [1..3])$r.size() $r.get(0)" => "3 1";
}
