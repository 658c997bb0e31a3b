//! Whitespace as Velocity 1.7 produces it. The rules (from its lexer):
//! a directive's closing `)` takes trailing spaces/tabs and one newline;
//! `#else`/`#end` do the same; `#set` also takes the spaces/tabs before it when
//! they start a text token; `##` comments take their newline; indentation before
//! other directives is output.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod lang_common;

cases! {
    if_on_its_own_lines: "#if(true)\nyes\n#end\nafter\n" => "yes\nafter\n";
    if_false_on_its_own_lines: "before\n#if(false)\nno\n#end\nafter\n" => "before\nafter\n";
    else_on_its_own_line: "#if(false)\na\n#else\nb\n#end\n" => "b\n";
    elseif_on_its_own_line: "#if(false)\na\n#elseif(true)\nb\n#end\n" => "b\n";
    indentation_before_directives_is_output: "#foreach($i in [1, 2])\n  #if($i == 1)\n    one\n  #end\n#end\n"
        => "      one\n    ";
    set_lines_vanish: "#set($a = 1)\n#set($b = 2)\n$a$b\n" => "12\n";
    indented_set_after_a_directive_vanishes: "#if(true)\n    #set($x = 1)\n    x=$x\n#end\n" => "    x=1\n";
    indented_set_after_text_keeps_its_indentation: "a\n  #set($x = 1)\nb" => "a\n  b";
    set_at_template_start_with_indentation: "  #set($a = 1)\nx" => "x";
    tab_indented_set_after_a_directive: "#if(true)\n\t#set($x = 1)\n$x#end" => "1";
    set_in_the_middle_of_a_line: "a #set($x = 1) b" => "a  b";
    set_then_spaces_then_newline: "#set($x = 1)   \nb" => "b";
    set_then_text_on_the_same_line: "#set($x = 1)  b" => "  b";
    spaces_after_a_reference_go_with_a_set: "$name  #set($b = 1)x" => "Worldx";
    end_followed_by_text: "#if(true)a#end b" => "a b";
    end_followed_by_spaces_and_text: "#if(true)x#end  y" => "x  y";
    end_followed_by_spaces_and_newline: "#if(true)x#end  \ny" => "xy";
    inline_else_keeps_the_space_after_it: "#if(false)a#else b#end" => " b";
    inline_if_in_json: "{\"a\": #if(true)1#{else}2#end}" => "{\"a\": 1}";
    foreach_line_indentation_stays_and_end_eats_newline: "a\n  #foreach($i in [1])x#end\nb" => "a\n  xb";
    comment_line_vanishes: "a\n## comment\nb" => "a\nb";
    indented_comment_keeps_its_indentation: "a\n  ## c\nb" => "a\n  b";
    block_comment_keeps_the_newline_after_it: "a\n#* c *#\nb" => "a\n\nb";
    macro_definition_lines_vanish: "#macro(m)\nM\n#end\n#m()\nafter" => "M\nafter";
    macro_call_without_parentheses_keeps_its_newline: "#macro(m)M#end\n#m\nx" => "M\nx";
    macro_calls_eat_their_newline: "#macro(m $a)[$a]#end\n#m(1)\n#m(2)\n" => "[1][2]";
    stop_keeps_what_precedes: "a\n#stop\nb" => "a\n";
    break_does_not_eat_its_newline: "#foreach($i in [1, 2])\n$i\n#break\n#end\n" => "1\n";
    crlf_line_ends: "#if(true)\r\nyes\r\n#end\r\nafter" => "yes\r\nafter";
    crlf_after_set_with_spaces: "#set($a = 1)  \r\nx" => "x";
    multi_line_directive_arguments: "#set($m = {\n  \"a\": 1\n})\n$m\n" => "{a=1}\n";
    foreach_with_spaces_before_the_newline: "#foreach($i in [1])  \n$i\n#end" => "1\n";
    escaped_directive_keeps_its_newline: "\\#if(true)\nx" => "#if(true)\nx";
    unparsed_block_keeps_newlines: "#[[\nraw\n]]#\nx" => "\nraw\n\nx";
    trailing_newline_of_the_template_is_kept: "x\n" => "x\n";
    blank_lines_are_kept: "a\n\n\nb" => "a\n\n\nb";
    // API Gateway's documented pattern: the blank line after `#end` puts each
    // item on its own line, because `#end` takes its own newline.
    aws_list_pattern_with_blank_line: "[\n#foreach($e in [1, 2])\n  {\"id\": $e}#if($foreach.hasNext),#end\n\n#end\n]\n"
        => "[\n  {\"id\": 1},\n  {\"id\": 2}\n]\n";
    aws_list_pattern_without_blank_line: "[\n#foreach($e in ['a', 'b'])\n    \"$e\"#if($foreach.hasNext),#end\n#end\n]"
        => "[\n    \"a\",    \"b\"]";
    nested_blocks_on_their_own_lines: "#foreach($i in [1, 2])\n#if($i == 2)\nlast\n#{else}\n$i,\n#end\n#end\n" => "1,\nlast\n";
}
