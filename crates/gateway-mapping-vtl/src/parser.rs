//! Template source to [`Ast`], following Velocity 1.7's lexer and grammar.
//!
//! Velocity's lexer is a state machine (text, directive, reference, ...) and its
//! whitespace behaviour falls out of which token swallows what. This parser works
//! on the characters directly but reproduces those token boundaries:
//!
//! - a directive's closing `)` takes the spaces/tabs and one newline after it, when
//!   a newline follows them (`#if(...)`, `#foreach(...)`, `#set(...)`, macro
//!   calls, ...);
//! - `#else` and `#end` take the spaces/tabs and one newline after them, likewise;
//! - `#set` also takes the spaces/tabs before it, but only when they start a text
//!   token (start of template, or right after another directive, reference,
//!   comment or escape): indentation after ordinary text stays;
//! - `##` comments take their newline; nothing else swallows whitespace, so the
//!   indentation before `#if`, `#foreach`, `#end`, ... is output.
//!
//! Where Velocity commits to a construct (`$a.b(`, `$a[`, `${a`, `#name(`) and the
//! rest does not parse, this is a [`ParseError`], as it is in Velocity.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::ast::{
    Ast, BinOp, Binary, CallKind, DefineNode, Expr, ExprKind, ForeachNode, IfNode, MacroArg,
    MacroCallNode, MacroDef, Name, Names, Node, Pos, RefNode, RefPart, Reference, SetNode,
};

/// The largest template accepted: API Gateway's mapping-template limit (300 KB).
pub(crate) const MAX_TEMPLATE_BYTES: usize = 300 * 1024;

/// How deeply blocks, parentheses, literals and string interpolations may nest.
/// Bounds the recursion of the parser and of the evaluator.
pub(crate) const MAX_NESTING: usize = 200;

/// Directives Velocity 1.7 registers by default (besides the grammar's own `#if`,
/// `#else`, `#elseif`, `#end`, `#set`, `#stop`).
const PLUGGABLE: [&str; 8] = [
    "foreach", "include", "parse", "macro", "literal", "evaluate", "break", "define",
];

/// A template that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based line of the offending character.
    pub line: usize,
    /// 1-based column (in characters) of the offending character.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ParseError {
    fn at(pos: Pos, message: impl Into<String>) -> Self {
        Self {
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }
}

/// Parses a whole template.
pub(crate) fn parse_template(src: &str) -> Result<Ast, ParseError> {
    if src.len() > MAX_TEMPLATE_BYTES {
        return Err(ParseError::at(
            Pos { line: 1, column: 1 },
            format!(
                "template is {} bytes; API Gateway accepts mapping templates up to {} bytes (300 KB)",
                src.len(),
                MAX_TEMPLATE_BYTES
            ),
        ));
    }
    let mut ctx = Ctx::default();
    let nodes = {
        let mut parser = Parser::new(src, Pos { line: 1, column: 1 }, &mut ctx);
        parser.parse_top()?
    };
    Ok(Ast {
        nodes,
        macros: ctx.macros,
        names: ctx.names,
    })
}

/// Parses the argument of `#evaluate` at render time. `known` are the macros
/// already registered (calls to them resolve); macros the text defines are
/// returned in the [`Ast`]. Names are numbered in `names` (the rendering
/// template's, extended with the new ones); the returned [`Ast`]'s own table is
/// left empty.
pub(crate) fn parse_fragment(
    src: &str,
    known: &HashSet<Name>,
    names: &mut Names,
) -> Result<Ast, ParseError> {
    let mut ctx = Ctx {
        defined: known.clone(),
        names: std::mem::take(names),
        ..Ctx::default()
    };
    let nodes = {
        let mut parser = Parser::new(src, Pos { line: 1, column: 1 }, &mut ctx);
        parser.parse_top()
    };
    *names = ctx.names;
    Ok(Ast {
        nodes: nodes?,
        macros: ctx.macros,
        names: Names::default(),
    })
}

/// State shared by a parser and the parsers of the string literals inside it.
#[derive(Default)]
struct Ctx {
    depth: usize,
    macros: HashMap<Name, Arc<MacroDef>>,
    /// Macros whose definition has been parsed so far (Velocity's `macroNames`).
    defined: HashSet<Name>,
    /// Above zero while inside a macro body.
    macro_body: usize,
    /// Every name so far, numbered; equal names share one allocation.
    names: Names,
}

impl Ctx {
    /// The name `text`, shared with every earlier occurrence.
    fn intern(&mut self, text: &str) -> Name {
        self.names.intern(text)
    }
}

/// Maps byte offsets of the text being parsed to template lines and columns.
struct LineMap {
    starts: Vec<usize>,
    base: Pos,
    /// Every [`CHECKPOINT`] bytes (rounded down to a character start): the byte
    /// offset and the number of characters before it, so that columns are found
    /// without counting from the start of long lines.
    checkpoints: Vec<(usize, usize)>,
}

const CHECKPOINT: usize = 256;

impl LineMap {
    fn new(src: &str, base: Pos) -> Self {
        let bytes = src.as_bytes();
        let mut starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'\n' => starts.push(i + 1),
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => starts.push(i + 1),
                _ => {}
            }
        }
        let mut checkpoints = Vec::with_capacity(bytes.len() / CHECKPOINT + 1);
        let mut chars = 0;
        let mut last = 0;
        let mut next = 0;
        while next <= bytes.len() {
            let mut at = next;
            while !src.is_char_boundary(at) {
                at -= 1;
            }
            chars += src[last..at].chars().count();
            checkpoints.push((at, chars));
            last = at;
            next += CHECKPOINT;
        }
        Self {
            starts,
            base,
            checkpoints,
        }
    }

    /// Characters in `src` before byte `offset` (a character start).
    fn chars_before(&self, src: &str, offset: usize) -> usize {
        let index = (offset / CHECKPOINT).min(self.checkpoints.len().saturating_sub(1));
        let (mut at, mut chars) = self.checkpoints.get(index).copied().unwrap_or((0, 0));
        if at > offset {
            (at, chars) = (0, 0);
        }
        chars + src.get(at..offset).map_or(0, |s| s.chars().count())
    }

    fn pos(&self, src: &str, offset: usize) -> Pos {
        let index = self
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let start = self.starts.get(index).copied().unwrap_or(0);
        let offset = offset.min(src.len());
        let column = self.chars_before(src, offset) - self.chars_before(src, start.min(offset)) + 1;
        if index == 0 {
            Pos {
                line: self.base.line,
                column: self.base.column + column - 1,
            }
        } else {
            Pos {
                line: self.base.line + index,
                column,
            }
        }
    }
}

/// Which terminators a block accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Top,
    If,
    Else,
    Body,
}

/// How a block ended.
enum Term {
    Eof,
    End { at: usize },
    Else,
    ElseIf(Expr),
}

/// What a `#` in text turned out to be.
enum HashItem {
    Done,
    Term(Term),
    Open(Box<OpenBlock>),
}

/// A block directive whose header is parsed and whose body comes next.
struct OpenBlock {
    opener: Opener,
    /// `#if`, `#foreach`, ... for messages.
    label: String,
    pos: Pos,
    start: usize,
}

enum Opener {
    If {
        cond: Expr,
    },
    Foreach {
        var: Name,
        iterable: Expr,
    },
    Macro {
        name: Name,
        params: Vec<Name>,
    },
    Define {
        name: Name,
    },
    Literal {
        body_start: usize,
    },
    BlockCall {
        name: Name,
        printed: Box<str>,
        args: Vec<MacroArg>,
    },
}

/// Pending output text and nodes of one block.
#[derive(Default)]
struct Out {
    nodes: Vec<Node>,
    text: String,
    /// Where the last text token started in `text`, while it is the last thing
    /// appended (for `#set`'s leading-whitespace rule).
    last_run: Option<usize>,
}

impl Out {
    fn run(&mut self, s: &str) {
        self.last_run = Some(self.text.len());
        self.text.push_str(s);
    }

    fn literal(&mut self, s: &str) {
        self.last_run = None;
        self.text.push_str(s);
    }

    fn boundary(&mut self) {
        self.last_run = None;
    }

    fn node(&mut self, node: Node) {
        self.flush();
        self.nodes.push(node);
    }

    fn flush(&mut self) {
        self.last_run = None;
        if !self.text.is_empty() {
            let text = std::mem::take(&mut self.text);
            self.nodes.push(Node::Text(text.into_boxed_str()));
        }
    }

    /// Drops the whitespace-only text token right before a `#set`.
    fn gobble_before_set(&mut self) {
        if let Some(start) = self.last_run
            && self
                .text
                .get(start..)
                .is_some_and(|t| t.bytes().all(|b| b == b' ' || b == b'\t'))
        {
            self.text.truncate(start);
        }
        self.last_run = None;
    }

    fn finish(mut self) -> Vec<Node> {
        self.flush();
        self.nodes
    }
}

struct Parser<'s, 'c> {
    src: &'s str,
    b: &'s [u8],
    pos: usize,
    lines: LineMap,
    ctx: &'c mut Ctx,
}

fn is_alpha(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'@'
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'@'
}

const WORD_OPERATORS: [&str; 9] = ["and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge"];

impl<'s, 'c> Parser<'s, 'c> {
    fn new(src: &'s str, base: Pos, ctx: &'c mut Ctx) -> Self {
        Self {
            src,
            b: src.as_bytes(),
            pos: 0,
            lines: LineMap::new(src, base),
            ctx,
        }
    }

    // ----- positions and errors -------------------------------------------------

    fn pos_at(&self, offset: usize) -> Pos {
        self.lines.pos(self.src, offset)
    }

    fn here(&self) -> Pos {
        self.pos_at(self.pos)
    }

    fn err<T>(&self, offset: usize, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError::at(self.pos_at(offset), message))
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.b.get(offset).copied()
    }

    fn starts_with(&self, offset: usize, s: &str) -> bool {
        self.b
            .get(offset..)
            .is_some_and(|rest| rest.starts_with(s.as_bytes()))
    }

    /// A short description of what is at `offset`, for messages.
    fn found(&self, offset: usize) -> String {
        let rest = self.src.get(offset..).unwrap_or("");
        match rest.chars().next() {
            None => "the end of the template".to_owned(),
            Some('\n' | '\r') => "a line break".to_owned(),
            Some(c) if c.is_ascii_alphanumeric() || c == '-' || c == '_' => {
                let token: String = rest
                    .char_indices()
                    .take_while(|&(i, ch)| {
                        ch.is_ascii_alphanumeric()
                            || ch == '_'
                            || ch == '.'
                            || (i == 0 && ch == '-')
                    })
                    .map(|(_, ch)| ch)
                    .take(16)
                    .collect();
                format!("'{token}'")
            }
            Some(c) => format!("'{c}'"),
        }
    }

    fn enter(&mut self, offset: usize) -> Result<(), ParseError> {
        self.ctx.depth += 1;
        if self.ctx.depth > MAX_NESTING {
            return self.err(
                offset,
                format!("template nests deeper than {MAX_NESTING} levels"),
            );
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.ctx.depth = self.ctx.depth.saturating_sub(1);
    }

    fn check_depth(&self, depth: usize, offset: usize) -> Result<(), ParseError> {
        if self.ctx.depth + depth > MAX_NESTING {
            return self.err(
                offset,
                format!("expression nests deeper than {MAX_NESTING} levels"),
            );
        }
        Ok(())
    }

    // ----- whitespace helpers -------------------------------------------------------

    /// Skips spaces, tabs and line breaks (Velocity's directive whitespace).
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// After a closing `)` of a directive, or after `#else`/`#end`: takes spaces and
    /// tabs plus one line break, if a line break follows them.
    fn eat_line_end(&mut self) {
        let mut p = self.pos;
        while let Some(b' ' | b'\t') = self.peek_at(p) {
            p += 1;
        }
        match self.peek_at(p) {
            Some(b'\n') => self.pos = p + 1,
            Some(b'\r') => {
                self.pos = if self.peek_at(p + 1) == Some(b'\n') {
                    p + 2
                } else {
                    p + 1
                };
            }
            _ => {}
        }
    }

    /// Whether optional whitespace (including line breaks) and then `(` follow.
    fn paren_follows(&self) -> bool {
        let mut p = self.pos;
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek_at(p) {
            p += 1;
        }
        self.peek_at(p) == Some(b'(')
    }

    fn expect_byte(&mut self, byte: u8, what: &str) -> Result<(), ParseError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(
                self.pos,
                format!("expected {what} but found {}", self.found(self.pos)),
            )
        }
    }

    // ----- blocks ------------------------------------------------------------------------

    fn parse_top(&mut self) -> Result<Vec<Node>, ParseError> {
        let (nodes, _) = self.parse_block(BlockKind::Top, "", Pos::default())?;
        Ok(nodes)
    }

    /// Parses text and directives until the block's terminator.
    fn parse_block(
        &mut self,
        kind: BlockKind,
        opener: &str,
        opened: Pos,
    ) -> Result<(Vec<Node>, Term), ParseError> {
        let mut out = Out::default();
        loop {
            let Some(byte) = self.peek() else {
                if kind != BlockKind::Top {
                    return self.err(
                        self.pos,
                        format!(
                            "unclosed {opener} started at line {}, column {}; expected #end",
                            opened.line, opened.column
                        ),
                    );
                }
                return Ok((out.finish(), Term::Eof));
            };
            match byte {
                b'$' => {
                    let start = self.pos;
                    self.dollar(&mut out, start, 0)?;
                }
                b'\\' => self.backslashes(&mut out)?,
                b'#' => {
                    if let Some(term) = self.hash(&mut out, kind)? {
                        return Ok((out.finish(), term));
                    }
                }
                _ => {
                    let start = self.pos;
                    while let Some(b) = self.peek() {
                        if matches!(b, b'$' | b'#' | b'\\') {
                            break;
                        }
                        self.pos += 1;
                    }
                    out.run(&self.src[start..self.pos]);
                }
            }
        }
    }

    /// `$...` in text, with `backslashes` escapes before it starting at `start`.
    fn dollar(
        &mut self,
        out: &mut Out,
        start: usize,
        backslashes: usize,
    ) -> Result<(), ParseError> {
        let at = self.pos;
        if let Some(reference) = self.try_reference()? {
            out.node(Node::Ref(Box::new(RefNode {
                reference,
                backslashes,
            })));
            return Ok(());
        }
        // Not a reference: the escapes and the `$` are plain text.
        self.pos = at + 1;
        out.literal(&self.src[start..self.pos]);
        // `$\!foo` prints `$!foo` (one backslash fewer): Velocity's "slashbang".
        let mut p = self.pos;
        while self.peek_at(p) == Some(b'\\') {
            p += 1;
        }
        if p > self.pos && self.peek_at(p) == Some(b'!') {
            out.literal(&"\\".repeat(p - self.pos - 1));
            out.literal("!");
            self.pos = p + 1;
        }
        out.boundary();
        Ok(())
    }

    /// A run of backslashes in text.
    fn backslashes(&mut self, out: &mut Out) -> Result<(), ParseError> {
        let start = self.pos;
        while self.peek() == Some(b'\\') {
            self.pos += 1;
        }
        let count = self.pos - start;
        match self.peek() {
            Some(b'$') => return self.dollar(out, start, count),
            Some(b'#') if count % 2 == 1 => {
                if let Some((name, end)) = self.directive_word(self.pos + 1) {
                    // An escaped directive: `\#if` prints `#if` when `if` is a
                    // directive or macro Velocity knows, else stays as written.
                    let known = matches!(&*name, "if" | "end" | "set" | "else" | "elseif" | "stop")
                        || PLUGGABLE.contains(&&*name)
                        || self.ctx.defined.contains(&Name::new(&name));
                    let kept = if known { (count - 1) / 2 } else { count };
                    out.literal(&"\\".repeat(kept));
                    out.literal(&self.src[self.pos..end]);
                    self.pos = end;
                    out.boundary();
                    return Ok(());
                }
                out.literal(&"\\".repeat(count));
            }
            Some(b'#') if self.control_follows(self.pos) => {
                // `\\#if`: each pair prints one backslash before a real directive.
                out.literal(&"\\".repeat(count / 2));
            }
            _ => out.literal(&"\\".repeat(count)),
        }
        out.boundary();
        Ok(())
    }

    /// The directive word after a `#` at `offset - 1`: `name` or `{name}`, with the
    /// end offset. The returned name has no braces.
    fn directive_word(&self, offset: usize) -> Option<(String, usize)> {
        match self.peek_at(offset)? {
            b'{' => {
                let first = self.peek_at(offset + 1)?;
                if !(is_alpha(first) || first == b'_') {
                    return None;
                }
                let mut p = offset + 2;
                while self.peek_at(p).is_some_and(is_word_char) {
                    p += 1;
                }
                if self.peek_at(p) != Some(b'}') {
                    return None;
                }
                Some((self.src[offset + 1..p].to_owned(), p + 1))
            }
            b if is_word_start(b) => {
                let mut p = offset + 1;
                while self.peek_at(p).is_some_and(is_word_char) {
                    p += 1;
                }
                Some((self.src[offset..p].to_owned(), p))
            }
            _ => None,
        }
    }

    /// Whether the `#` at `offset` starts a control directive or a directive name
    /// (what makes `\\` before it print as `\`).
    fn control_follows(&self, offset: usize) -> bool {
        let braced = self.peek_at(offset + 1) == Some(b'{');
        match self.directive_word(offset + 1) {
            Some((name, _)) => {
                matches!(&*name, "if" | "elseif" | "else" | "end" | "stop")
                    || (!braced && PLUGGABLE.contains(&&*name))
            }
            None => false,
        }
    }

    /// `#...` in text. Returns a terminator when the block ends here.
    ///
    /// Block directives recurse through [`Parser::block`]; everything else is
    /// handled by non-recursive helpers, which keeps the native stack used per
    /// nesting level small.
    fn hash(&mut self, out: &mut Out, kind: BlockKind) -> Result<Option<Term>, ParseError> {
        match self.hash_item(out, kind)? {
            HashItem::Done => Ok(None),
            HashItem::Term(term) => Ok(Some(term)),
            HashItem::Open(open) => {
                if let Some(node) = self.block(open)? {
                    out.node(node);
                }
                out.boundary();
                Ok(None)
            }
        }
    }

    /// Everything after `#` short of parsing a block body.
    #[inline(never)]
    fn hash_item(&mut self, out: &mut Out, kind: BlockKind) -> Result<HashItem, ParseError> {
        let start = self.pos;
        match self.peek_at(start + 1) {
            Some(b'#') => {
                // `##` comment, up to and including the line break.
                let mut p = start + 2;
                while let Some(b) = self.peek_at(p) {
                    p += 1;
                    if b == b'\n' {
                        break;
                    }
                    if b == b'\r' {
                        if self.peek_at(p) == Some(b'\n') {
                            p += 1;
                        }
                        break;
                    }
                }
                self.pos = p;
                out.boundary();
                return Ok(HashItem::Done);
            }
            Some(b'*') => {
                let Some(end) = self.src[start + 2..].find("*#") else {
                    return self.err(start, "unclosed comment #* ...; expected *#");
                };
                self.pos = start + 2 + end + 2;
                out.boundary();
                return Ok(HashItem::Done);
            }
            Some(b'[') if self.peek_at(start + 2) == Some(b'[') => {
                let Some(end) = self.src[start + 3..].find("]]#") else {
                    return self.err(start, "unclosed unparsed block #[[ ...; expected ]]#");
                };
                out.literal(&self.src[start + 3..start + 3 + end]);
                self.pos = start + 3 + end + 3;
                out.boundary();
                return Ok(HashItem::Done);
            }
            _ => {}
        }
        let Some((name, end)) = self.directive_word(start + 1) else {
            out.literal("#");
            self.pos = start + 1;
            out.boundary();
            return Ok(HashItem::Done);
        };
        let pos = self.pos_at(start);
        match &*name {
            "set" if self.set_paren(end).is_some() => {
                out.gobble_before_set();
                self.pos = self.set_paren(end).unwrap_or(end);
                let node = self.set_directive(start)?;
                out.node(node);
            }
            "if" => {
                self.pos = end;
                let cond = self.condition("#if")?;
                return Ok(HashItem::Open(Box::new(OpenBlock {
                    opener: Opener::If { cond },
                    label: "#if".into(),
                    pos,
                    start,
                })));
            }
            "elseif" => {
                if kind != BlockKind::If {
                    return self.err(start, "#elseif without a matching #if");
                }
                self.pos = end;
                let cond = self.condition("#elseif")?;
                return Ok(HashItem::Term(Term::ElseIf(cond)));
            }
            "else" => {
                if kind != BlockKind::If {
                    return self.err(start, "#else without a matching #if");
                }
                self.pos = end;
                self.eat_line_end();
                return Ok(HashItem::Term(Term::Else));
            }
            "end" => {
                if kind == BlockKind::Top {
                    return self.err(
                        start,
                        "#end without a matching #if, #foreach, #macro or #define",
                    );
                }
                self.pos = end;
                self.eat_line_end();
                return Ok(HashItem::Term(Term::End { at: start }));
            }
            "stop" => {
                self.pos = end;
                out.node(Node::Stop);
            }
            _ => {
                self.pos = end;
                if let Some(open) = self.directive(out, &name, start, pos)? {
                    return Ok(HashItem::Open(open));
                }
            }
        }
        out.boundary();
        Ok(HashItem::Done)
    }

    /// After `#set` (ending at `end`): spaces then `(`; returns the offset after `(`.
    fn set_paren(&self, end: usize) -> Option<usize> {
        let mut p = end;
        while self.peek_at(p) == Some(b' ') {
            p += 1;
        }
        (self.peek_at(p) == Some(b'(')).then_some(p + 1)
    }

    /// `#set( $ref = expr )`, positioned after `(`.
    fn set_directive(&mut self, start: usize) -> Result<Node, ParseError> {
        let pos = self.pos_at(start);
        self.skip_ws();
        if self.peek() != Some(b'$') {
            return self.err(
                self.pos,
                format!(
                    "expected a reference such as $name after #set( but found {}",
                    self.found(self.pos)
                ),
            );
        }
        let ref_at = self.pos;
        let Some(target) = self.try_reference()? else {
            return self.err(ref_at, "expected a reference such as $name after #set(");
        };
        self.skip_ws();
        if self.peek() != Some(b'=') || self.peek_at(self.pos + 1) == Some(b'=') {
            return self.err(
                self.pos,
                format!("expected '=' in #set but found {}", self.found(self.pos)),
            );
        }
        self.pos += 1;
        let value = self.expression()?;
        self.close_paren("#set")?;
        Ok(Node::Set(Box::new(SetNode { target, value, pos })))
    }

    /// Expects the `)` closing a directive, then eats the line end.
    fn close_paren(&mut self, directive: &str) -> Result<(), ParseError> {
        self.skip_ws();
        if self.peek() == Some(b')') {
            self.pos += 1;
            self.eat_line_end();
            return Ok(());
        }
        let hint = if self.peek() == Some(b'-')
            && self
                .peek_at(self.pos + 1)
                .is_some_and(|b| b.is_ascii_digit())
        {
            " (Velocity reads '-' directly before a digit as a negative number: write 'a - 1' with spaces)"
        } else {
            ""
        };
        self.err(
            self.pos,
            format!(
                "expected an operator or ')' to close {directive}(...) but found {}{hint}",
                self.found(self.pos)
            ),
        )
    }

    /// `( expr )` after `#if`/`#elseif`.
    fn condition(&mut self, directive: &str) -> Result<Expr, ParseError> {
        self.skip_ws();
        if self.peek() != Some(b'(') {
            return self.err(
                self.pos,
                format!(
                    "expected '(' after {directive} but found {}",
                    self.found(self.pos)
                ),
            );
        }
        self.pos += 1;
        let cond = self.expression()?;
        self.close_paren(directive)?;
        Ok(cond)
    }

    /// The bodies of a block directive, through its `#end`.
    fn block(&mut self, open: Box<OpenBlock>) -> Result<Option<Node>, ParseError> {
        self.enter(open.start)?;
        let is_macro = matches!(open.opener, Opener::Macro { .. });
        if is_macro {
            self.ctx.macro_body += 1;
        }
        let bodies = self.block_bodies(&open);
        if is_macro {
            self.ctx.macro_body -= 1;
        }
        self.leave();
        self.finish_block(*open, bodies?)
    }

    fn block_bodies(&mut self, open: &OpenBlock) -> Result<Vec<(Vec<Node>, Term)>, ParseError> {
        let mut kind = if matches!(open.opener, Opener::If { .. }) {
            BlockKind::If
        } else {
            BlockKind::Body
        };
        let mut bodies = Vec::new();
        loop {
            let (nodes, term) = self.parse_block(kind, &open.label, open.pos)?;
            let next = match term {
                Term::ElseIf(_) => Some(BlockKind::If),
                Term::Else => Some(BlockKind::Else),
                Term::End { .. } | Term::Eof => None,
            };
            bodies.push((nodes, term));
            match next {
                Some(next) => kind = next,
                None => return Ok(bodies),
            }
        }
    }

    /// Builds the node of a parsed block (macros register instead).
    #[inline(never)]
    fn finish_block(
        &mut self,
        open: OpenBlock,
        bodies: Vec<(Vec<Node>, Term)>,
    ) -> Result<Option<Node>, ParseError> {
        let end_at = match bodies.last() {
            Some((_, Term::End { at })) => *at,
            _ => self.pos,
        };
        let mut bodies = bodies.into_iter();
        let Some((first, mut term)) = bodies.next() else {
            return Ok(None);
        };
        Ok(match open.opener {
            Opener::If { cond } => {
                let mut branches = vec![(cond, first)];
                let mut otherwise = None;
                for (body, next) in bodies {
                    match std::mem::replace(&mut term, next) {
                        Term::ElseIf(cond) => branches.push((cond, body)),
                        _ => otherwise = Some(body),
                    }
                }
                Some(Node::If(Box::new(IfNode {
                    branches,
                    otherwise,
                })))
            }
            Opener::Foreach { var, iterable } => Some(Node::Foreach(Box::new(ForeachNode {
                var,
                iterable,
                body: first,
                pos: open.pos,
            }))),
            Opener::Macro { name, params } => {
                self.ctx.defined.insert(name.clone());
                self.ctx.macros.entry(name).or_insert_with(|| {
                    Arc::new(MacroDef {
                        params,
                        body: first,
                    })
                });
                None
            }
            Opener::Define { name } => Some(Node::Define(Box::new(DefineNode {
                name,
                body: Arc::new(first),
            }))),
            Opener::Literal { body_start } => Some(Node::Text(
                self.src[body_start..end_at.max(body_start)].into(),
            )),
            Opener::BlockCall {
                name,
                printed,
                args,
            } => {
                let kind = self.call_kind(&name);
                Some(Node::MacroCall(Box::new(MacroCallNode {
                    name,
                    printed,
                    args,
                    kind,
                    body: Some(Arc::new(first)),
                    pos: open.pos,
                })))
            }
        })
    }

    /// A directive other than the grammar's own: `#foreach`, `#macro`, macro
    /// calls... Returns the block to parse for block directives.
    #[inline(never)]
    fn directive(
        &mut self,
        out: &mut Out,
        name: &str,
        start: usize,
        pos: Pos,
    ) -> Result<Option<Box<OpenBlock>>, ParseError> {
        let has_parens = self.paren_follows();
        let block = matches!(name, "foreach" | "macro" | "define" | "literal");
        if block && !has_parens {
            return self.err(
                self.pos,
                format!(
                    "expected '(' after #{name} but found {}",
                    self.found(self.pos)
                ),
            );
        }
        if !has_parens {
            match name {
                "break" => out.node(Node::Break { pos, scope: None }),
                "evaluate" => {
                    return self.err(self.pos, "#evaluate needs one argument: #evaluate(\"...\")");
                }
                "include" | "parse" => out.node(Node::Unsupported {
                    pos,
                    name: self.ctx.intern(name),
                }),
                _ => {
                    let kind = self.call_kind(name);
                    if kind == CallKind::Unresolved || name.starts_with('@') {
                        out.literal("#");
                        out.literal(name);
                    } else {
                        out.node(Node::MacroCall(Box::new(MacroCallNode {
                            name: self.ctx.intern(name),
                            printed: format!("#{name}").into_boxed_str(),
                            args: Vec::new(),
                            kind,
                            body: None,
                            pos,
                        })));
                    }
                }
            }
            return Ok(None);
        }
        self.skip_ws();
        self.pos += 1; // the `(`
        let args = self.directive_args(name)?;
        let opener = match name {
            "foreach" => Self::foreach_opener(args, pos)?,
            "macro" => Self::macro_opener(args, pos)?,
            "define" => {
                let [arg] = <[_; 1]>::try_from(args).map_err(|_| {
                    ParseError::at(pos, "#define needs exactly one argument: #define($name)")
                })?;
                let ExprKind::Ref(reference) = arg.0.kind else {
                    return Err(ParseError::at(
                        arg.0.pos,
                        "#define needs a reference argument: #define($name)",
                    ));
                };
                Opener::Define {
                    name: reference.root.clone(),
                }
            }
            "literal" => Opener::Literal {
                body_start: self.pos,
            },
            "break" => {
                if args.len() > 1 {
                    return Err(ParseError::at(
                        pos,
                        "#break takes at most one argument: #break($foreach)",
                    ));
                }
                let scope = args.into_iter().next().map(|(e, _)| Box::new(e));
                out.node(Node::Break { pos, scope });
                return Ok(None);
            }
            "evaluate" => {
                let [arg] = <[_; 1]>::try_from(args)
                    .map_err(|_| ParseError::at(pos, "#evaluate needs exactly one argument"))?;
                out.node(Node::Evaluate {
                    pos,
                    arg: Box::new(arg.0),
                });
                return Ok(None);
            }
            "include" | "parse" => {
                out.node(Node::Unsupported {
                    pos,
                    name: self.ctx.intern(name),
                });
                return Ok(None);
            }
            _ => {
                let args = args
                    .into_iter()
                    .map(|(expr, literal)| MacroArg {
                        expr: Arc::new(expr),
                        literal,
                    })
                    .collect();
                let printed = format!("#{name}").into_boxed_str();
                match name.strip_prefix('@') {
                    Some(stripped) => Opener::BlockCall {
                        name: self.ctx.intern(stripped),
                        printed,
                        args,
                    },
                    None => {
                        out.node(Node::MacroCall(Box::new(MacroCallNode {
                            name: self.ctx.intern(name),
                            printed,
                            args,
                            kind: self.call_kind(name),
                            body: None,
                            pos,
                        })));
                        return Ok(None);
                    }
                }
            }
        };
        Ok(Some(Box::new(OpenBlock {
            opener,
            label: format!("#{name}"),
            pos,
            start,
        })))
    }

    fn call_kind(&self, name: &str) -> CallKind {
        if self.ctx.macro_body > 0 {
            CallKind::Dynamic
        } else if self.ctx.defined.contains(&Name::new(name)) {
            CallKind::Resolved
        } else {
            CallKind::Unresolved
        }
    }

    /// Directive arguments after `(`, through `)` and the line end. Each comes with
    /// its source text.
    fn directive_args(&mut self, directive: &str) -> Result<Vec<(Expr, Arc<str>)>, ParseError> {
        let mut args = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b')') {
                self.pos += 1;
                self.eat_line_end();
                return Ok(args);
            }
            if self.peek() == Some(b',') {
                self.pos += 1;
                self.skip_ws();
            }
            let start = self.pos;
            let arg = self.directive_arg(directive)?;
            args.push((arg, Arc::from(&self.src[start..self.pos])));
        }
    }

    fn directive_arg(&mut self, directive: &str) -> Result<Expr, ParseError> {
        let start = self.pos;
        let pos = self.here();
        match self.peek() {
            Some(b) if is_word_start(b) => {
                let mut p = start + 1;
                while self.peek_at(p).is_some_and(is_word_char) {
                    p += 1;
                }
                let word = &self.src[start..p];
                self.pos = p;
                let kind = match word {
                    "true" => ExprKind::Bool(true),
                    "false" => ExprKind::Bool(false),
                    w if WORD_OPERATORS.contains(&w) => {
                        return self.err(
                            start,
                            format!("unexpected operator '{w}' in the arguments of #{directive}(...)"),
                        );
                    }
                    w => ExprKind::Word(self.ctx.intern(w)),
                };
                Ok(Expr { kind, pos })
            }
            None | Some(b')') => self.err(
                start,
                format!(
                    "expected an argument or ')' in #{directive}(...) but found {}",
                    self.found(start)
                ),
            ),
            _ => match self.value_literal()? {
                Some((expr, _)) => Ok(expr),
                None => self.err(
                    start,
                    format!(
                        "expected an argument (reference, literal, list, map or word) in #{directive}(...) but found {}",
                        self.found(start)
                    ),
                ),
            },
        }
    }

    fn foreach_opener(args: Vec<(Expr, Arc<str>)>, pos: Pos) -> Result<Opener, ParseError> {
        const USAGE: &str = "#foreach expects ($item in collection)";
        let [(var, _), (word, _), (iterable, _)] =
            <[_; 3]>::try_from(args).map_err(|_| ParseError::at(pos, USAGE))?;
        let ExprKind::Ref(var) = var.kind else {
            return Err(ParseError::at(
                var.pos,
                format!("{USAGE}: the loop variable must be a reference"),
            ));
        };
        if !matches!(&word.kind, ExprKind::Word(w) if &**w == "in") {
            return Err(ParseError::at(
                word.pos,
                format!("{USAGE}: expected the word 'in'"),
            ));
        }
        if matches!(iterable.kind, ExprKind::Word(_)) {
            return Err(ParseError::at(
                iterable.pos,
                format!("{USAGE}: the collection must be a reference or a literal"),
            ));
        }
        Ok(Opener::Foreach {
            var: var.root.clone(),
            iterable,
        })
    }

    fn macro_opener(args: Vec<(Expr, Arc<str>)>, pos: Pos) -> Result<Opener, ParseError> {
        let mut args = args.into_iter();
        let Some((first, _)) = args.next() else {
            return Err(ParseError::at(
                pos,
                "a macro declaration needs at least a name: #macro(name $arg)",
            ));
        };
        let ExprKind::Word(name) = first.kind else {
            return Err(ParseError::at(
                first.pos,
                "invalid first argument of #macro(): it must be a plain name (no quotes or $)",
            ));
        };
        let mut params = Vec::new();
        for (arg, _) in args {
            match arg.kind {
                ExprKind::Ref(r) if r.parts.is_empty() => params.push(r.root.clone()),
                _ => {
                    return Err(ParseError::at(
                        arg.pos,
                        format!(
                            "invalid argument of #macro({name} ...): parameters must be references such as $arg"
                        ),
                    ));
                }
            }
        }
        Ok(Opener::Macro { name, params })
    }

    // ----- references -------------------------------------------------------------------

    /// A reference at `$` (self.pos). `Ok(None)` when what follows `$` cannot start
    /// one (then nothing is consumed); errors once Velocity would have committed.
    fn try_reference(&mut self) -> Result<Option<Reference>, ParseError> {
        let at = self.pos;
        let mut p = at + 1;
        let quiet = self.peek_at(p) == Some(b'!');
        if quiet {
            p += 1;
        }
        let formal = self.peek_at(p) == Some(b'{');
        if formal {
            p += 1;
        }
        match self.peek_at(p) {
            Some(b) if is_alpha(b) || b == b'_' => {}
            _ => return Ok(None),
        }
        let root_start = p;
        while self.peek_at(p).is_some_and(is_ident_char) {
            p += 1;
        }
        let root = self.ctx.intern(&self.src[root_start..p]);
        self.pos = p;
        let mut parts = Vec::new();
        loop {
            match self.peek() {
                Some(b'[') => {
                    let part_pos = self.here();
                    self.pos += 1;
                    self.enter(self.pos)?;
                    self.skip_ws();
                    let index = self.index_parameter()?;
                    self.skip_ws();
                    self.leave();
                    self.expect_byte(b']', "']' to close the index")?;
                    parts.push(RefPart::Index {
                        index: Box::new(index),
                        pos: part_pos,
                    });
                }
                Some(b'.') if self.peek_at(self.pos + 1).is_some_and(is_alpha) => {
                    let part_pos = self.here();
                    let name_start = self.pos + 1;
                    let mut q = name_start;
                    while self.peek_at(q).is_some_and(is_ident_char) {
                        q += 1;
                    }
                    let name = self.ctx.intern(&self.src[name_start..q]);
                    self.pos = q;
                    if self.peek() == Some(b'(') {
                        self.pos += 1;
                        let args = self.method_args(&name)?;
                        parts.push(RefPart::Method {
                            name,
                            args,
                            pos: part_pos,
                        });
                    } else {
                        parts.push(RefPart::Property {
                            name,
                            pos: part_pos,
                        });
                    }
                }
                _ => break,
            }
        }
        if formal {
            if self.peek() == Some(b'}') {
                self.pos += 1;
            } else {
                return self.err(
                    self.pos,
                    format!(
                        "expected '}}' to close ${{{root}...}} but found {}",
                        self.found(self.pos)
                    ),
                );
            }
        }
        Ok(Some(Reference {
            root,
            members: Reference::member_path(&parts),
            parts,
            quiet,
            literal: Arc::from(&self.src[at..self.pos]),
            pos: self.pos_at(at),
        }))
    }

    /// Method arguments after `(`, through `)`.
    fn method_args(&mut self, method: &str) -> Result<Vec<Expr>, ParseError> {
        self.enter(self.pos)?;
        let args = self.separated(
            b')',
            &format!("the arguments of .{method}(...)"),
            "method arguments",
            Self::parameter,
        )?;
        self.leave();
        Ok(args)
    }

    /// `item (',' item)* close`, or just `close`, after the opening bracket. `what`
    /// names the construct and `items` its elements in the error for anything else.
    fn separated<T>(
        &mut self,
        close: u8,
        what: &str,
        items_are: &str,
        mut item: impl FnMut(&mut Self) -> Result<T, ParseError>,
    ) -> Result<Vec<T>, ParseError> {
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            items.push(item(self)?);
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => {
                    return self.err(
                        self.pos,
                        format!(
                            "expected ',' or '{}' in {what} but found {} ({items_are} are references or literals, not expressions)",
                            char::from(close),
                            self.found(self.pos)
                        ),
                    );
                }
            }
        }
    }

    /// Velocity's `Parameter`: a reference or literal with optional whitespace.
    fn parameter(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        let start = self.pos;
        match self.value_literal()? {
            Some((expr, _)) => {
                self.skip_ws();
                Ok(expr)
            }
            None => self.err(
                start,
                format!(
                    "expected a reference or a literal but found {}",
                    self.found(start)
                ),
            ),
        }
    }

    /// What may stand in `$a[...]`: a string, integer, boolean or reference.
    fn index_parameter(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        let pos = self.here();
        match self.peek() {
            Some(b'"' | b'\'') => self.string_literal(),
            Some(b'$') => self.reference_expr(),
            Some(b't') if self.keyword_at(start, "true") => {
                self.pos += 4;
                Ok(Expr {
                    kind: ExprKind::Bool(true),
                    pos,
                })
            }
            Some(b'f') if self.keyword_at(start, "false") => {
                self.pos += 5;
                Ok(Expr {
                    kind: ExprKind::Bool(false),
                    pos,
                })
            }
            _ => match self.number()? {
                Some(
                    expr @ Expr {
                        kind: ExprKind::Int(_),
                        ..
                    },
                ) => Ok(expr),
                _ => self.err(
                    start,
                    format!(
                        "expected an integer, string or reference as index but found {}",
                        self.found(start)
                    ),
                ),
            },
        }
    }

    /// Whether `word` is at `offset` and is not followed by a word character.
    fn keyword_at(&self, offset: usize, word: &str) -> bool {
        self.starts_with(offset, word)
            && !self.peek_at(offset + word.len()).is_some_and(is_word_char)
    }

    fn reference_expr(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        let pos = self.here();
        match self.try_reference()? {
            Some(reference) => Ok(Expr {
                kind: ExprKind::Ref(Box::new(reference)),
                pos,
            }),
            None => self.err(
                start,
                format!(
                    "expected a reference after '$' but found {}",
                    self.found(start + 1)
                ),
            ),
        }
    }

    /// A reference, string, number, list, range, map or boolean. `Ok(None)` when
    /// nothing of the kind starts here. The returned depth is the literal's
    /// nesting.
    fn value_literal(&mut self) -> Result<Option<(Expr, usize)>, ParseError> {
        let start = self.pos;
        let pos = self.here();
        match self.peek() {
            Some(b'$') => Ok(Some((self.reference_expr()?, 1))),
            Some(b'"' | b'\'') => Ok(Some((self.string_literal()?, 1))),
            Some(b'[') => self.list_or_range().map(Some),
            Some(b'{') => self.map_literal().map(Some),
            Some(b't') if self.keyword_at(start, "true") => {
                self.pos += 4;
                Ok(Some((
                    Expr {
                        kind: ExprKind::Bool(true),
                        pos,
                    },
                    1,
                )))
            }
            Some(b'f') if self.keyword_at(start, "false") => {
                self.pos += 5;
                Ok(Some((
                    Expr {
                        kind: ExprKind::Bool(false),
                        pos,
                    },
                    1,
                )))
            }
            _ => Ok(self.number()?.map(|e| (e, 1))),
        }
    }

    /// An integer or floating-point literal, Velocity's way: a leading `-` belongs
    /// to the number; `1..` is the integer 1 followed by `..`.
    fn number(&mut self) -> Result<Option<Expr>, ParseError> {
        let start = self.pos;
        let pos = self.here();
        let mut p = start;
        if self.peek_at(p) == Some(b'-') {
            p += 1;
        }
        let digits_start = p;
        while self.peek_at(p).is_some_and(|b| b.is_ascii_digit()) {
            p += 1;
        }
        let has_digits = p > digits_start;
        let exponent_end = |parser: &Self, at: usize| -> Option<usize> {
            let mut q = at;
            if !matches!(parser.peek_at(q), Some(b'e' | b'E')) {
                return None;
            }
            q += 1;
            if matches!(parser.peek_at(q), Some(b'+' | b'-')) {
                q += 1;
            }
            let digits = q;
            while parser.peek_at(q).is_some_and(|b| b.is_ascii_digit()) {
                q += 1;
            }
            (q > digits).then_some(q)
        };
        let is_float;
        if has_digits {
            if self.starts_with(p, "..") {
                is_float = false;
            } else if self.peek_at(p) == Some(b'.') {
                p += 1;
                while self.peek_at(p).is_some_and(|b| b.is_ascii_digit()) {
                    p += 1;
                }
                if let Some(q) = exponent_end(self, p) {
                    p = q;
                }
                is_float = true;
            } else if let Some(q) = exponent_end(self, p) {
                p = q;
                is_float = true;
            } else {
                is_float = false;
            }
        } else if self.peek_at(p) == Some(b'.')
            && self.peek_at(p + 1).is_some_and(|b| b.is_ascii_digit())
        {
            p += 1;
            while self.peek_at(p).is_some_and(|b| b.is_ascii_digit()) {
                p += 1;
            }
            if let Some(q) = exponent_end(self, p) {
                p = q;
            }
            is_float = true;
        } else {
            return Ok(None);
        }
        let text = &self.src[start..p];
        self.pos = p;
        let kind = if is_float {
            let normalized = text.replace("-.", "-0.");
            let normalized = if normalized.starts_with('.') {
                format!("0{normalized}")
            } else {
                normalized
            };
            let normalized = normalized.replace(".e", ".0e").replace(".E", ".0E");
            let normalized = if normalized.ends_with('.') {
                format!("{normalized}0")
            } else {
                normalized
            };
            match normalized.parse::<f64>() {
                Ok(f) => ExprKind::Float(f),
                Err(_) => return self.err(start, format!("invalid number '{text}'")),
            }
        } else {
            match text.parse::<i64>() {
                Ok(i) => ExprKind::Int(i),
                // Java would use a BigInteger; a double keeps the magnitude.
                Err(_) => ExprKind::Float(text.parse::<f64>().unwrap_or(f64::INFINITY)),
            }
        };
        Ok(Some(Expr { kind, pos }))
    }

    /// `'...'` or `"..."` at self.pos.
    fn string_literal(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        let pos = self.here();
        let quote = self.b[start];
        let mut p = start + 1;
        loop {
            match self.peek_at(p) {
                None => {
                    return self.err(
                        start,
                        "unterminated string literal; expected a closing quote",
                    );
                }
                Some(b) if b == quote => {
                    if self.peek_at(p + 1) == Some(quote) {
                        p += 2; // a doubled quote stands for one
                    } else {
                        break;
                    }
                }
                Some(b'\\') if quote == b'"' => {
                    p += match self.peek_at(p + 1) {
                        Some(b'n' | b't' | b'b' | b'r' | b'f' | b'\\' | b'\'' | b'"') => 2,
                        _ => 1,
                    };
                }
                Some(_) => p += 1,
            }
        }
        let raw = &self.src[start + 1..p];
        self.pos = p + 1;
        let content_pos = self.pos_at(start + 1);
        if quote == b'\'' {
            return Ok(Expr {
                kind: ExprKind::Str(Arc::from(replace_quotes(raw, '\''))),
                pos,
            });
        }
        let content = replace_quotes(&unescape_unicode(raw), '"');
        if !raw.contains('$') && !raw.contains('#') {
            return Ok(Expr {
                kind: ExprKind::Str(Arc::from(content)),
                pos,
            });
        }
        self.enter(start)?;
        let nodes = {
            let mut inner = Parser::new(&content, content_pos, &mut *self.ctx);
            inner.parse_top()
        };
        self.leave();
        Ok(Expr {
            kind: ExprKind::Interp(nodes?),
            pos,
        })
    }

    /// `[a, b]`, `[]` or `[a..b]` at self.pos.
    fn list_or_range(&mut self) -> Result<(Expr, usize), ParseError> {
        let start = self.pos;
        let pos = self.here();
        self.pos += 1;
        self.enter(start)?;
        // A range: `[` ws? (reference | integer) ws? `..`
        let save = self.pos;
        self.skip_ws();
        let first = match self.peek() {
            Some(b'$') => Some(self.reference_expr()?),
            _ => match self.number()? {
                Some(
                    e @ Expr {
                        kind: ExprKind::Int(_),
                        ..
                    },
                ) => Some(e),
                _ => None,
            },
        };
        if let Some(first) = first {
            self.skip_ws();
            if self.starts_with(self.pos, "..") {
                self.pos += 2;
                self.skip_ws();
                let second_start = self.pos;
                let second = match self.peek() {
                    Some(b'$') => Some(self.reference_expr()?),
                    _ => match self.number()? {
                        Some(
                            e @ Expr {
                                kind: ExprKind::Int(_),
                                ..
                            },
                        ) => Some(e),
                        _ => None,
                    },
                };
                let Some(second) = second else {
                    return self.err(
                        second_start,
                        format!(
                            "expected an integer or reference after '..' but found {}",
                            self.found(second_start)
                        ),
                    );
                };
                self.skip_ws();
                self.expect_byte(b']', "']' to close the range")?;
                self.leave();
                return Ok((
                    Expr {
                        kind: ExprKind::Range(Box::new(first), Box::new(second)),
                        pos,
                    },
                    1,
                ));
            }
        }
        self.pos = save;
        let items = self.separated(b']', "the list", "list items", Self::parameter)?;
        self.leave();
        Ok((
            Expr {
                kind: ExprKind::List(items),
                pos,
            },
            1,
        ))
    }

    /// `{k: v, ...}` at self.pos.
    fn map_literal(&mut self) -> Result<(Expr, usize), ParseError> {
        let start = self.pos;
        let pos = self.here();
        self.pos += 1;
        self.enter(start)?;
        let entries = self.separated(b'}', "the map", "map values", |parser| {
            let key = parser.parameter()?;
            parser.expect_byte(b':', "':' between a map key and its value")?;
            let value = parser.parameter()?;
            Ok((key, value))
        })?;
        self.leave();
        Ok((
            Expr {
                kind: ExprKind::Map(entries),
                pos,
            },
            1,
        ))
    }

    // ----- expressions ------------------------------------------------------------------

    /// A full expression (`#if`, `#set` right-hand side).
    fn expression(&mut self) -> Result<Expr, ParseError> {
        Ok(self.or_expr()?.0)
    }

    /// The binary operator after optional whitespace, without consuming it: the
    /// operator and its length.
    fn peek_operator(&mut self) -> Option<(BinOp, usize)> {
        const OPS: [(&str, BinOp); 21] = [
            ("||", BinOp::Or),
            ("or", BinOp::Or),
            ("&&", BinOp::And),
            ("and", BinOp::And),
            ("==", BinOp::Eq),
            ("eq", BinOp::Eq),
            ("!=", BinOp::Ne),
            ("ne", BinOp::Ne),
            ("<=", BinOp::Le),
            ("le", BinOp::Le),
            (">=", BinOp::Ge),
            ("ge", BinOp::Ge),
            ("<", BinOp::Lt),
            ("lt", BinOp::Lt),
            (">", BinOp::Gt),
            ("gt", BinOp::Gt),
            ("+", BinOp::Add),
            ("-", BinOp::Sub),
            ("*", BinOp::Mul),
            ("/", BinOp::Div),
            ("%", BinOp::Mod),
        ];
        self.skip_ws();
        for (text, op) in OPS {
            let matches = if text.as_bytes()[0].is_ascii_alphabetic() {
                self.keyword_at(self.pos, text)
            } else {
                self.starts_with(self.pos, text)
            };
            if !matches {
                continue;
            }
            // `-` directly before a digit starts a negative number literal in
            // Velocity's lexer: it is not a minus sign.
            if op == BinOp::Sub
                && self
                    .peek_at(self.pos + 1)
                    .is_some_and(|b| b.is_ascii_digit() || b == b'.')
            {
                return None;
            }
            return Some((op, text.len()));
        }
        None
    }

    fn precedence(op: BinOp) -> u8 {
        match op {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne => 3,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 4,
            BinOp::Add | BinOp::Sub => 5,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 6,
        }
    }

    fn or_expr(&mut self) -> Result<(Expr, usize), ParseError> {
        self.binary_expr(1)
    }

    /// Operators binding at least as tightly as `min`, left-associative
    /// (precedence climbing keeps the recursion to two frames per nesting level).
    fn binary_expr(&mut self, min: u8) -> Result<(Expr, usize), ParseError> {
        let lhs_start = self.pos;
        let (mut lhs, mut depth) = self.unary_expr()?;
        let mut lhs_end = self.pos;
        loop {
            let before = self.pos;
            let Some((op, len)) = self.peek_operator() else {
                self.pos = before;
                return Ok((lhs, depth));
            };
            let precedence = Self::precedence(op);
            if precedence < min {
                self.pos = before;
                return Ok((lhs, depth));
            }
            self.pos += len;
            let rhs_start = self.pos;
            let (rhs, rhs_depth) = self.binary_expr(precedence + 1)?;
            depth = depth.max(rhs_depth) + 1;
            self.check_depth(depth, before)?;
            let pos = lhs.pos;
            lhs = Expr {
                kind: ExprKind::Binary(Box::new(Binary {
                    op,
                    lhs,
                    rhs,
                    lhs_text: self.src[lhs_start..lhs_end].trim().into(),
                    rhs_text: self.src[rhs_start..self.pos].trim().into(),
                })),
                pos,
            };
            lhs_end = self.pos;
        }
    }

    fn unary_expr(&mut self) -> Result<(Expr, usize), ParseError> {
        self.skip_ws();
        let pos = self.here();
        let is_not = (self.peek() == Some(b'!') && self.peek_at(self.pos + 1) != Some(b'='))
            || self.keyword_at(self.pos, "not");
        if is_not {
            let start = self.pos;
            self.pos += if self.peek() == Some(b'!') { 1 } else { 3 };
            self.enter(start)?;
            let inner = self.unary_expr();
            self.leave();
            let (inner, depth) = inner?;
            return Ok((
                Expr {
                    kind: ExprKind::Not(Box::new(inner)),
                    pos,
                },
                depth + 1,
            ));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<(Expr, usize), ParseError> {
        self.skip_ws();
        let start = self.pos;
        let pos = self.here();
        if self.peek() == Some(b'(') {
            self.pos += 1;
            self.enter(start)?;
            let inner = self.or_expr();
            self.leave();
            let (inner, depth) = inner?;
            self.skip_ws();
            self.expect_byte(b')', "')' to close '('")?;
            self.skip_ws();
            return Ok((
                Expr {
                    kind: ExprKind::Group(Box::new(inner)),
                    pos,
                },
                depth + 1,
            ));
        }
        match self.value_literal()? {
            Some((expr, depth)) => {
                self.skip_ws();
                Ok((expr, depth))
            }
            None => {
                let word_hint = if self.peek().is_some_and(is_word_start) {
                    " (bare words are not values: quote strings, prefix variables with $)"
                } else {
                    ""
                };
                self.err(
                    start,
                    format!(
                        "expected a value (reference, literal, list, map or '(') but found {}{word_hint}",
                        self.found(start)
                    ),
                )
            }
        }
    }
}

/// Replaces `\uXXXX` escapes in a double-quoted literal (Velocity 1.6+).
fn unescape_unicode(raw: &str) -> String {
    if !raw.contains("\\u") {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut units: Vec<u16> = Vec::new();
    let mut rest = raw;
    let flush = |units: &mut Vec<u16>, out: &mut String| {
        if !units.is_empty() {
            out.push_str(&String::from_utf16_lossy(units));
            units.clear();
        }
    };
    while let Some(i) = rest.find("\\u") {
        let hex = rest.get(i + 2..i + 6);
        match hex.and_then(|h| {
            h.bytes()
                .all(|b| b.is_ascii_hexdigit())
                .then(|| u16::from_str_radix(h, 16).ok())
                .flatten()
        }) {
            Some(unit) => {
                if i > 0 {
                    flush(&mut units, &mut out);
                    out.push_str(&rest[..i]);
                }
                units.push(unit);
                rest = &rest[i + 6..];
            }
            None => {
                flush(&mut units, &mut out);
                out.push_str(&rest[..i + 2]);
                rest = &rest[i + 2..];
            }
        }
    }
    flush(&mut units, &mut out);
    out.push_str(rest);
    out
}

/// `""` in a double-quoted literal (`''` in a single-quoted one) stands for one
/// quote (Velocity 1.7, VELOCITY-785).
fn replace_quotes(raw: &str, quote: char) -> String {
    let doubled: String = [quote, quote].iter().collect();
    raw.replace(&doubled, &quote.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Vec<Node> {
        parse_template(src).unwrap().nodes
    }

    fn texts(nodes: &[Node]) -> Vec<String> {
        nodes
            .iter()
            .map(|n| match n {
                Node::Text(t) => format!("T:{t}"),
                Node::Ref(r) => format!("R:{}", r.reference.literal),
                Node::Set(_) => "SET".to_owned(),
                Node::If(_) => "IF".to_owned(),
                Node::Foreach(_) => "FOREACH".to_owned(),
                other => format!("{other:?}").chars().take(8).collect(),
            })
            .collect()
    }

    #[test]
    fn set_eats_indentation_only_at_token_start() {
        let nodes = parse("a\n  #set($x = 1)\nb");
        assert_eq!(texts(&nodes), ["T:a\n  ", "SET", "T:b"]);
        let nodes = parse("#set($x = 1)\n  #set($y = 2)\nb");
        assert_eq!(texts(&nodes), ["SET", "SET", "T:b"]);
    }

    #[test]
    fn references_keep_their_literal() {
        let nodes = parse("x $!{a.b(1, 'c')[0]} y");
        assert_eq!(texts(&nodes), ["T:x ", "R:$!{a.b(1, 'c')[0]}", "T: y"]);
    }

    #[test]
    fn hyphens_belong_to_identifiers() {
        let nodes = parse("$first-$last");
        assert_eq!(texts(&nodes), ["R:$first-", "R:$last"]);
    }

    #[test]
    fn numbers_lex_like_velocity() {
        let mut ctx = Ctx::default();
        let mut p = Parser::new("1..3", Pos { line: 1, column: 1 }, &mut ctx);
        assert!(matches!(
            p.number().unwrap().unwrap().kind,
            ExprKind::Int(1)
        ));
        let mut ctx = Ctx::default();
        let mut p = Parser::new("-2.5e1", Pos { line: 1, column: 1 }, &mut ctx);
        assert!(matches!(p.number().unwrap().unwrap().kind, ExprKind::Float(f) if f == -25.0));
        let mut ctx = Ctx::default();
        let mut p = Parser::new(".5", Pos { line: 1, column: 1 }, &mut ctx);
        assert!(matches!(p.number().unwrap().unwrap().kind, ExprKind::Float(f) if f == 0.5));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let err = parse_template("line\n#if($a\nx").unwrap_err();
        assert_eq!((err.line, err.column), (3, 1));
        assert!(err.message.contains("expected an operator or ')'"), "{err}");
        let err = parse_template("#if(true)\nx\n").unwrap_err();
        assert!(
            err.message
                .contains("unclosed #if started at line 1, column 1"),
            "{err}"
        );
        assert!(err.to_string().starts_with("line 3, column 1: "), "{err}");
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "#if(true)".repeat(MAX_NESTING + 5);
        let err = parse_template(&deep).unwrap_err();
        assert!(err.message.contains("nests deeper"), "{err}");
        let deep = format!("#set($a = {}1{})", "(".repeat(500), ")".repeat(500));
        assert!(parse_template(&deep).is_err());
        let chain = format!("#set($a = 1{})", " + 1".repeat(500));
        assert!(parse_template(&chain).is_err());
    }

    #[test]
    fn unicode_escapes_and_doubled_quotes() {
        assert_eq!(unescape_unicode(r"a\u0041\u00e9b"), "aAéb");
        assert_eq!(unescape_unicode(r"\ud83d\ude00"), "😀");
        assert_eq!(unescape_unicode(r"\uZZ"), r"\uZZ");
        assert_eq!(replace_quotes("it''s", '\''), "it's");
    }

    #[test]
    fn line_map_counts_characters() {
        let map = LineMap::new("ab\nçd\r\nx", Pos { line: 1, column: 1 });
        let src = "ab\nçd\r\nx";
        assert_eq!(map.pos(src, 0), Pos { line: 1, column: 1 });
        assert_eq!(map.pos(src, 5), Pos { line: 2, column: 2 });
        assert_eq!(map.pos(src, 8), Pos { line: 3, column: 1 });
        let long: String = "é".repeat(1000) + "x";
        let map = LineMap::new(&long, Pos { line: 1, column: 1 });
        assert_eq!(
            map.pos(&long, 2000),
            Pos {
                line: 1,
                column: 1001
            }
        );
        assert_eq!(
            map.pos(&long, 600),
            Pos {
                line: 1,
                column: 301
            }
        );
        let inner = LineMap::new(
            "x\ny",
            Pos {
                line: 4,
                column: 10,
            },
        );
        assert_eq!(
            inner.pos("x\ny", 0),
            Pos {
                line: 4,
                column: 10
            }
        );
        assert_eq!(inner.pos("x\ny", 2), Pos { line: 5, column: 1 });
    }
}
