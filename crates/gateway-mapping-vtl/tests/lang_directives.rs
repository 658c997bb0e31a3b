//! Directives: #set, #if, #foreach and its loop variables, #break, #stop, macros,
//! #define, #evaluate, #literal, comments and unparsed blocks.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod lang_common;

use gateway_mapping_vtl::{Limit, RenderError};
use lang_common::{render, render_err};

cases! {
    // #set
    set_a_variable: "#set($a = 'x')$a" => "x";
    set_null_keeps_the_old_value: "#set($a = 'x')#set($a = $nope)$a" => "x";
    set_null_on_a_new_name_sets_nothing: "#set($b = $nope)$b" => "$b";
    set_empty_string: "#set($x = 'a')#set($x = '')[$x]" => "[]";
    set_map_key_by_property: "#set($m = {})#set($m.k = 'v')$m.k" => "v";
    set_map_key_by_index: "#set($m = {})#set($m['k'] = 1)$m" => "{k=1}";
    set_list_element: "#set($l = [1, 2])#set($l[0] = 'a')$l" => "[a, 2]";
    set_list_element_from_the_end: "#set($l = [1, 2])#set($l[-1] = 'z')$l" => "[1, z]";
    set_through_a_path: "#set($m = {'in': {}})#set($m.in.x = 1)$m" => "{in={x=1}}";
    set_on_an_undefined_root_does_nothing: "#set($nope.x = 1)$nope.x" => "$nope.x";
    set_hyphenated_key_through_a_path: "#set($m = {'h': {}})#set($m.h.X-Foo = 'v')$m" => "{h={X-Foo=v}}";
    set_binding_property_changes_the_shared_map: "#set($map.a = 'changed')$map.a" => "changed";
    values_are_shared_by_reference: "#set($a = [1])#set($b = $a)$b.add(2)$a" => "true[1, 2]";
    void_methods_print_nothing: "#set($l = [1])[$l.clear()]$l" => "[][]";
    set_with_spaces: "#set( $a = 'x' )$a" => "x";
    braced_set: "#{set}($a = 1)$a" => "1";

    // #if
    if_elseif_else_chain: "#foreach($n in [1, 2, 3])#if($n == 1)one#elseif($n == 2)two#{else}many#end;#end"
        => "one;two;many;";
    else_only: "#if(false)a#{else}b#end" => "b";
    nested_if: "#if(true)#if(false)a#{else}b#end#end" => "b";
    braced_if_family: "#{if}(false)a#{elseif}(true)b#{else}c#{end}" => "b";
    if_with_space_before_paren: "#if (true)a#end" => "a";

    // #foreach
    loop_variables: "#foreach($i in [1..3])$i:$velocityCount:$foreach.index:$foreach.count:$foreach.hasNext:$foreach.first:$foreach.last #end"
        => "1:1:0:1:true:true:false 2:2:1:2:true:false:false 3:3:2:3:false:false:true ";
    velocity_has_next: "#foreach($i in [1, 2])$velocityHasNext #end" => "true false ";
    foreach_scope_methods: "#foreach($i in [1, 2])$foreach.getIndex()$foreach.hasNext()#end" => "0true1false";
    foreach_over_a_map_gives_values: "#foreach($v in $map)$v;#end" => "1;[10, 20];S;E;";
    foreach_over_entries: "#foreach($e in $map.entrySet())$e.key=$e.value,#end" => "a=1,b=[10, 20],size=S,empty=E,";
    foreach_over_keys: "#foreach($k in $map.keySet())$k#end" => "absizeempty";
    foreach_over_null_does_nothing: "#set($x = 'keep')#foreach($x in $nope)no#end$x" => "keep";
    foreach_over_a_string_does_nothing: "#foreach($c in 'abc')x#end." => ".";
    loop_variable_is_restored: "#set($x = 'keep')#foreach($x in [1, 2])$x#end $x" => "12 keep";
    loop_variable_is_removed_after: "#foreach($y in [1])#end$y" => "$y";
    velocity_count_outside_loops: "#foreach($i in [1])#end$velocityCount $foreach" => "$velocityCount $foreach";
    sets_in_a_loop_persist: "#foreach($i in [1, 2])#set($last = $i)#end$last" => "2";
    null_elements_print_the_reference: "#foreach($x in [1, $nope, 3])[$x]#end" => "[1][$x][3]";
    nested_loops_restore_the_outer_count: "#foreach($i in [1, 2])#foreach($j in [1, 2, 3])#end$velocityCount#end" => "12";
    nested_loops_see_their_parent: "#foreach($i in [1, 2])#foreach($j in ['a', 'b'])$i$j($foreach.parent.index,$foreach.index) #end#end"
        => "1a(0,0) 1b(0,1) 2a(1,0) 2b(1,1) ";
    topmost_loop: "#foreach($i in [7])#foreach($j in [1])$foreach.topmost.index$foreach.parent.count#end#end" => "01";
    foreach_with_space_before_paren: "#foreach ($i in [1, 2])$i#end" => "12";
    foreach_over_list_of_maps: "#foreach($m in [{'id': 1}, {'id': 2}])$m.id#end" => "12";

    // #break and #stop
    break_leaves_the_innermost_loop: "#foreach($i in [1..5])#if($i == 3)#break#end$i#end" => "12";
    break_in_nested_loops: "#foreach($i in [1, 2])#foreach($j in [1, 2, 3])#if($j == 2)#break#end$i$j #end#end" => "11 21 ";
    break_a_named_loop: "#foreach($i in [1, 2, 3])#foreach($j in [1, 2])$i$j #if($j == 1 && $i == 2)#break($foreach.parent)#end#end#end"
        => "11 12 21 ";
    break_outside_loops_ends_the_template: "a#break b" => "a";
    stop_keeps_output_so_far: "a#stop b" => "a";
    stop_in_a_loop: "#foreach($i in [1, 2, 3])$i#if($i == 2)#stop#end#end after" => "12";
    stop_in_a_macro: "#macro(m)in#stop#end#m() after" => "in";

    // Macros
    macro_with_arguments: "#macro(hello $name)Hello $name!#end#hello('Bob') #hello(\"x\", 2)" => "Hello Bob! Hello x!";
    macro_comma_separated_arguments: "#macro(m $a $b)$a$b#end#m(1, 2)#m(3 4)" => "1234";
    macro_missing_arguments_fall_through: "#macro(m $a $b)[$a|$b]#end#m(1)" => "[1|$b]";
    macro_extra_arguments_are_ignored: "#macro(m $a)[$a]#end#m(1 2)" => "[1]";
    macro_null_argument_prints_the_callers_text: "#macro(m $p)[$p]#end#m($nothing.here)" => "[$nothing.here]";
    macro_quiet_parameter: "#macro(m $p)[$!p]#end#m($nope)" => "[]";
    macro_arguments_are_passed_by_name: "#macro(twice $x)$x $x#end#set($l = [])#twice($l.add(1)) $l" => "true true [1, 1]";
    macro_list_arguments_are_rebuilt_each_use: "#macro(m $l)$l.add(1)$l#end#m([])" => "true[]";
    macro_sets_are_global: "#macro(m)#set($g = 'set in macro')#end#m()$g" => "set in macro";
    macro_sees_globals: "#set($v = 'global')#macro(m)$v#end#m()" => "global";
    recursive_macro: "#macro(r $n)#if($n > 0)$n#set($m = $n - 1)#r($m)#end#end#r(5)" => "54321";
    macro_defined_later_is_printed_as_text: "#m(1)#macro(m $a)M$a#end#m(2)" => "#mM2";
    macro_inside_a_false_if_is_still_defined: "#if(false)#macro(m)M#end#end#m()" => "M";
    first_macro_definition_wins: "#macro(m)1#end#macro(m)2#end#m()" => "1";
    macro_body_may_call_later_macros: "#macro(a)[#b()]#end#macro(b)B#end#a()" => "[B]";
    braced_macro_call: "#macro(m)M#end#{m}()" => "M";
    macro_call_without_parentheses: "#macro(m)M#end#m." => "M.";
    block_macro_call: "#macro(wrap $tag)<$tag>$bodyContent</$tag>#end#@wrap('b')bold $name#end" => "<b>bold World</b>";
    unknown_directive_drops_its_arguments: "#unknown($x, 'y') #{other}" => "#unknown #other";
    hash_words_are_text: "#hashtag #ff0000 #1a # x ## comment" => "#hashtag #ff0000 #1a # x ";

    // #define, #evaluate, #literal
    define_renders_where_used: "#define($blk)[$x]#end#set($x = 1)$blk#set($x = 2)$blk" => "[1][2]";
    define_to_string: "#define($blk)b$n#end$blk.toString().length()" => "2";
    define_in_a_string: "#define($blk)B#end#set($s = \"<$blk>\")$s" => "<B>";
    evaluate_a_string: "#set($t = '#set($z = 5)$z')#evaluate($t) $z" => "5 5";
    evaluate_a_reference: "#evaluate('$name')" => "World";
    evaluate_null_does_nothing: "[#evaluate($nope)]" => "[]";
    evaluate_shares_variables_old_and_new:
        "#set($a = 1)#foreach($t in ['#set($a = $a + 1)#set($c = $a)#set($d = 7)', '#set($a = $a + 1)$c,$foreach.index,$d'])#evaluate($t);#end $a $c"
        => ";2,1,7; 3 2";
    evaluate_sees_bindings_and_loop_names:
        "#foreach($x in ['a'])#evaluate('$name $x $velocityCount $foreach.hasNext')#end" => "World a 1 false";
    // The template's own call was resolved (to nothing) before rendering began.
    evaluate_defines_macros_for_later_evaluates: "#evaluate('#macro(e)E#end')#e()#evaluate('#e()')" => "#eE";
    literal_block: "#literal()$x #if(true)y#end#end" => "$x #if(true)y#end";

    // Comments and unparsed blocks
    line_comment_takes_its_newline: "a## comment\nb" => "ab";
    block_comment: "a #* multi\nline *# b" => "a  b";
    doc_comment: "#** doc *#x" => "x";
    comment_at_the_end: "x## only comment" => "x";
    unparsed_block: "#[[#if($x) $y ## no comment]]#!" => "#if($x) $y ## no comment!";
}

#[test]
fn macro_recursion_is_bounded() {
    let err = render_err("#macro(inf)#inf()#end#inf()");
    assert!(
        matches!(
            err,
            RenderError::LimitExceeded {
                limit: Limit::MacroDepth(20),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn include_and_parse_are_refused() {
    let err = render_err("ok\n#parse('other.vm')");
    assert!(
        matches!(&err, RenderError::Unsupported { directive, line: 2, column: 1 } if directive == "parse"),
        "{err:?}"
    );
    assert!(err.to_string().contains("not supported"), "{err}");
    let err = render_err("#include(\"x\")");
    assert!(
        matches!(&err, RenderError::Unsupported { directive, .. } if directive == "include"),
        "{err:?}"
    );
}

#[test]
fn evaluate_reports_parse_errors() {
    let err = render_err("\n  #evaluate('#if(')");
    match &err {
        RenderError::Evaluate {
            line,
            column,
            source,
        } => {
            assert_eq!((*line, *column), (2, 3));
            assert_eq!(source.line, 1);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn changing_a_list_while_looping_over_it_fails() {
    let err = render_err("#set($l = [1, 2])#foreach($x in $l)$l.add(3)#end");
    match &err {
        RenderError::Method { source, .. } => {
            assert!(
                source.0.contains("ConcurrentModificationException"),
                "{source}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn out_of_range_list_set_fails() {
    let err = render_err("#set($l = [1])#set($l[5] = 2)");
    assert!(matches!(err, RenderError::Method { .. }), "{err:?}");
}

#[test]
fn output_before_an_error_is_not_returned() {
    // A failing render yields only the error (API Gateway answers 500).
    let err = render_err("lots of output $email.substring(9)");
    assert!(err.to_string().contains("substring"), "{err}");
}

#[test]
fn stop_inside_a_string_stops_everything() {
    assert_eq!(render("a#set($s = \"x#stop\")b"), "a");
}
