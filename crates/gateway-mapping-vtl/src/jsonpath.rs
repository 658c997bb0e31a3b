//! JSONPath as API Gateway evaluates it in `$input.path(..)` and `$input.json(..)`.
//!
//! API Gateway evaluates JSONPath with Jayway's Java implementation, so this module
//! follows Jayway's semantics rather than Goessner's original article:
//!
//! - `$` is the document; a path that does not start with `$` is read as if it did
//!   (`a.b` is `$.a.b`, `[0]` is `$[0]`), as Jayway does.
//! - Members: `.name`, `['name']`, `["name"]`; wildcards `.*` and `[*]` (object
//!   values in document order, or array elements); array indexes `[0]`, negative
//!   indexes counted from the end `[-1]`, index unions `[0,2]`; slices `[1:3]`,
//!   `[:2]`, `[-2:]` (end exclusive; negative bounds count from the end); deep scan
//!   `..name`, `..*`, `..[0]`; filters `[?(@.price < 10)]`, `[?(@.isbn)]`,
//!   `[?(!@.isbn)]` with `==`, `!=`, `<`, `<=`, `>`, `>=`, `=~ /regex/i`, `&&`,
//!   `||`, parentheses, string, number, `true`, `false` and `null` literals, and
//!   `@.`/`$.` sub-paths on either side.
//! - A path is *definite* when it can name at most one value: no wildcard, deep
//!   scan, filter, slice or index union. A definite path selects one value or
//!   nothing; an indefinite one always selects a list (possibly empty). This is the
//!   difference between `$input.path('$.a')` (a value or null) and
//!   `$input.path('$.a[*]')` (a list).
//! - Anything missing along the way (an absent member, an index out of range, a
//!   member asked of a string) selects nothing instead of failing, as Jayway does
//!   with its exceptions suppressed.
//! - A union of names as the *last* step (`$.book['title','price']`) is Jayway's
//!   "merge" case: it is definite and selects one object holding just those
//!   members. Earlier in a path it selects each member in turn.
//! - In a filter, `==` compares numbers numerically (a string that parses as a
//!   number equals that number, as in Jayway), strings exactly, and objects and
//!   arrays structurally; `!=` is its negation, so it is true when the member is
//!   absent. `<`, `<=`, `>`, `>=` compare two numbers or two strings and are false
//!   otherwise. `=~` matches a whole string (Java's `Matcher.matches`).
//!
//! Not supported (a compile error, never a panic): Jayway's path functions
//! (`length()`, `min()`, ...), filter operators beyond the ones above (`in`,
//! `nin`, `subsetof`, `size`, `empty`, ...), slice steps (`[0:4:2]`) and `[?]`
//! placeholders.
//!
//! Compile once with [`JsonPath::compile`], select many times with
//! [`JsonPath::select`]. Compiling and selecting never panic, whatever the input.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Number, Value as Json};

/// How deeply filters and parentheses may nest, so that hostile input cannot
/// exhaust the stack.
const MAX_NESTING: usize = 32;

/// A compiled JSONPath expression.
#[derive(Debug, Clone)]
pub struct JsonPath {
    source: String,
    segments: Vec<Segment>,
    definite: bool,
}

/// A JSONPath that could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSONPath `{path}` at character {position}: {message}")]
pub struct JsonPathError {
    path: String,
    position: usize,
    message: String,
}

/// What a path selected.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection<'a> {
    /// A definite path: the value it names, or `None` when the document lacks it.
    Definite(Option<Cow<'a, Json>>),
    /// An indefinite path: every value it matched, in document order.
    Indefinite(Vec<Cow<'a, Json>>),
}

#[derive(Debug, Clone)]
enum Segment {
    /// `.a`, `['a']` or `['a','b']`.
    Names(Vec<String>),
    /// `.*` or `[*]`.
    Wildcard,
    /// `[0]` or `[0,2]`.
    Indexes(Vec<i64>),
    /// `[from:to]`.
    Slice { from: Option<i64>, to: Option<i64> },
    /// `[?(...)]`.
    Filter(Box<Expr>),
    /// `..`: always followed by the segment it applies at every level.
    Scan,
}

#[derive(Debug, Clone)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Const(bool),
    Exists(Operand),
    Compare(Operand, Op, Operand),
    Matches(Operand, Box<regex::Regex>),
}

#[derive(Debug, Clone)]
enum Operand {
    /// `@...`: relative to the element being tested.
    Current(SubPath),
    /// `$...`: relative to the document.
    Root(SubPath),
    Literal(Json),
}

#[derive(Debug, Clone)]
struct SubPath {
    segments: Vec<Segment>,
    definite: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

struct Parser<'s> {
    source: &'s str,
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl JsonPath {
    /// Compiles a JSONPath expression.
    pub fn compile(path: &str) -> Result<Self, JsonPathError> {
        let mut parser = Parser::new(path);
        parser.skip_ws();
        let segments = match parser.peek() {
            None => return Err(parser.error("the path is empty")),
            Some('$') => {
                parser.pos += 1;
                parser.segments()?
            }
            Some('[') => parser.segments()?,
            Some(_) => {
                // Jayway reads `a.b` as `$.a.b`.
                let mut segments = vec![parser.member()?];
                segments.extend(parser.segments()?);
                segments
            }
        };
        parser.skip_ws();
        if let Some(c) = parser.peek() {
            return Err(parser.error(&format!("unexpected `{c}`")));
        }
        let definite = is_definite(&segments);
        Ok(Self {
            source: path.to_owned(),
            segments,
            definite,
        })
    }

    /// Selects from a document: one value or nothing for a definite path, a list
    /// for an indefinite one.
    #[must_use]
    pub fn select<'a>(&self, root: &'a Json) -> Selection<'a> {
        let results = run(&self.segments, root, root);
        if self.definite {
            Selection::Definite(results.into_iter().next())
        } else {
            Selection::Indefinite(results)
        }
    }

    /// True when the path names at most one value (no wildcard, deep scan, filter,
    /// slice or union).
    #[must_use]
    pub fn is_definite(&self) -> bool {
        self.definite
    }

    /// True for `$` alone: the whole document.
    pub(crate) fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The expression as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for JsonPath {
    type Err = JsonPathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::compile(s)
    }
}

impl JsonPathError {
    /// The expression that failed to compile.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The character offset (not byte offset) where compilation failed.
    #[must_use]
    pub fn position(&self) -> usize {
        self.position
    }

    /// What was wrong.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl Selection<'_> {
    /// True for a definite path's selection.
    #[must_use]
    pub fn is_definite(&self) -> bool {
        matches!(self, Self::Definite(_))
    }

    /// The selection as one JSON value: the value of a definite path (`None` when
    /// missing), or an array of every match of an indefinite one.
    #[must_use]
    pub fn into_json(self) -> Option<Json> {
        match self {
            Self::Definite(value) => value.map(Cow::into_owned),
            Self::Indefinite(values) => Some(Json::Array(
                values.into_iter().map(Cow::into_owned).collect(),
            )),
        }
    }

    /// The selection as a template value, as Jayway returns it with json-smart:
    /// the value of a definite path (`null` when missing), or an array of every
    /// match of an indefinite one. Arrays are JSON arrays (they print as JSON,
    /// see [`crate::Value::Json`]); objects are maps.
    #[must_use]
    pub fn to_value(&self) -> crate::Value {
        match self {
            Self::Definite(Some(value)) => crate::json::from_json(value),
            Self::Definite(None) => crate::Value::Null,
            Self::Indefinite(values) => crate::json::array_from_json(values),
        }
    }
}

fn is_definite(segments: &[Segment]) -> bool {
    let last = segments.len().saturating_sub(1);
    segments
        .iter()
        .enumerate()
        .all(|(i, segment)| match segment {
            // Jayway's "merge" case: several names as the last step select one object.
            Segment::Names(names) => names.len() == 1 || i == last,
            Segment::Indexes(indexes) => indexes.len() == 1,
            _ => false,
        })
}

// ---------------------------------------------------------------------------
// Parsing

impl<'s> Parser<'s> {
    fn new(source: &'s str) -> Self {
        Self {
            source,
            chars: source.chars().collect(),
            pos: 0,
            depth: 0,
        }
    }

    fn error(&self, message: &str) -> JsonPathError {
        JsonPathError {
            path: self.source.to_owned(),
            position: self.pos,
            message: message.to_owned(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_str(&mut self, s: &str) -> bool {
        let matches = s
            .chars()
            .enumerate()
            .all(|(i, c)| self.peek_at(i) == Some(c));
        if matches {
            self.pos += s.chars().count();
        }
        matches
    }

    fn expect(&mut self, c: char) -> Result<(), JsonPathError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(match self.peek() {
                Some(found) => self.error(&format!("expected `{c}`, found `{found}`")),
                None => self.error(&format!("expected `{c}`, found the end of the path")),
            })
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn enter(&mut self) -> Result<(), JsonPathError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            Err(self.error("filters are nested too deeply"))
        } else {
            Ok(())
        }
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Segments until something that cannot continue a path: at the top level the
    /// caller then insists on the end of input; in a filter an operator follows.
    fn segments(&mut self) -> Result<Vec<Segment>, JsonPathError> {
        let mut segments = Vec::new();
        loop {
            match self.peek() {
                Some('.') => {
                    self.pos += 1;
                    if self.eat('.') {
                        segments.push(Segment::Scan);
                        match self.peek() {
                            Some('[') => segments.push(self.bracket()?),
                            Some(c) if c == '*' || is_name_char(c) => {
                                segments.push(self.member()?);
                            }
                            _ => {
                                return Err(self.error(
                                    "a deep scan `..` must be followed by a name, `*` or `[`",
                                ));
                            }
                        }
                    } else {
                        match self.peek() {
                            // Jayway tolerates `$.['a']`.
                            Some('[') => segments.push(self.bracket()?),
                            Some(c) if c == '*' || is_name_char(c) => {
                                segments.push(self.member()?);
                            }
                            _ => return Err(self.error("expected a name or `*` after `.`")),
                        }
                    }
                }
                Some('[') => segments.push(self.bracket()?),
                _ => return Ok(segments),
            }
        }
    }

    /// A name or `*` in dot notation (the dot already consumed).
    fn member(&mut self) -> Result<Segment, JsonPathError> {
        if self.eat('*') {
            return Ok(Segment::Wildcard);
        }
        let start = self.pos;
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error("expected a name"));
        }
        if self.peek() == Some('(') {
            return Err(self.error("path functions such as `length()` are not supported"));
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        Ok(Segment::Names(vec![name]))
    }

    fn bracket(&mut self) -> Result<Segment, JsonPathError> {
        self.expect('[')?;
        self.skip_ws();
        let segment = match self.peek() {
            Some('*') => {
                self.pos += 1;
                Segment::Wildcard
            }
            Some('?') => {
                self.pos += 1;
                self.skip_ws();
                self.expect('(')?;
                self.enter()?;
                let expr = self.expr()?;
                self.leave();
                self.skip_ws();
                self.expect(')')?;
                Segment::Filter(Box::new(expr))
            }
            Some('\'' | '"') => {
                let mut names = vec![self.quoted()?];
                loop {
                    self.skip_ws();
                    if !self.eat(',') {
                        break;
                    }
                    self.skip_ws();
                    names.push(self.quoted()?);
                }
                Segment::Names(names)
            }
            Some(c) if c == '-' || c == ':' || c.is_ascii_digit() => self.index_or_slice()?,
            Some(c) => {
                return Err(self.error(&format!(
                    "expected a quoted name, an index, a slice, `*` or `?(` after `[`, found `{c}`"
                )));
            }
            None => return Err(self.error("unclosed `[`")),
        };
        self.skip_ws();
        self.expect(']')?;
        Ok(segment)
    }

    fn index_or_slice(&mut self) -> Result<Segment, JsonPathError> {
        let first = self.optional_int()?;
        self.skip_ws();
        if self.eat(':') {
            self.skip_ws();
            let second = self.optional_int()?;
            self.skip_ws();
            if self.peek() == Some(':') {
                return Err(self.error("slice steps are not supported"));
            }
            return Ok(Segment::Slice {
                from: first,
                to: second,
            });
        }
        let Some(first) = first else {
            return Err(self.error("expected an index"));
        };
        let mut indexes = vec![first];
        loop {
            self.skip_ws();
            if !self.eat(',') {
                break;
            }
            self.skip_ws();
            match self.optional_int()? {
                Some(index) => indexes.push(index),
                None => return Err(self.error("expected an index after `,`")),
            }
        }
        Ok(Segment::Indexes(indexes))
    }

    fn optional_int(&mut self) -> Result<Option<i64>, JsonPathError> {
        let start = self.pos;
        let negative = self.eat('-');
        let digits_start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == digits_start {
            if negative {
                return Err(self.error("expected digits after `-`"));
            }
            return Ok(None);
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        text.parse::<i64>()
            .map(Some)
            .map_err(|_| self.error("the index is out of range"))
    }

    /// A single- or double-quoted string, with backslash escapes.
    fn quoted(&mut self) -> Result<String, JsonPathError> {
        let quote = match self.peek() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Err(self.error("expected a quoted string")),
        };
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            if c == quote {
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(escaped) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            match escaped {
                '\'' | '"' | '\\' | '/' => out.push(escaped),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => out.push(self.unicode_escape()?),
                other => return Err(self.error(&format!("unknown escape `\\{other}`"))),
            }
        }
    }

    /// The `XXXX` of `\uXXXX` (the `\u` consumed), joining surrogate pairs.
    fn unicode_escape(&mut self) -> Result<char, JsonPathError> {
        let high = self.hex4()?;
        if (0xD800..0xDC00).contains(&high) {
            if self.eat_str("\\u") {
                let low = self.hex4()?;
                if (0xDC00..0xE000).contains(&low) {
                    let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                    return char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"));
                }
            }
            return Err(self.error("unpaired surrogate in \\u escape"));
        }
        char::from_u32(high).ok_or_else(|| self.error("invalid \\u escape"))
    }

    fn hex4(&mut self) -> Result<u32, JsonPathError> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.error("expected four hex digits after \\u"))?;
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }

    // Filter expressions: `||` binds looser than `&&`, which binds looser than `!`.

    fn expr(&mut self) -> Result<Expr, JsonPathError> {
        self.chain("||", Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Expr, JsonPathError> {
        self.chain("&&", Self::unary, Expr::And)
    }

    /// `term (op term)*`, folded into `combine` when there is more than one term.
    fn chain(
        &mut self,
        op: &str,
        term: fn(&mut Self) -> Result<Expr, JsonPathError>,
        combine: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, JsonPathError> {
        let mut terms = vec![term(self)?];
        loop {
            self.skip_ws();
            if !self.eat_str(op) {
                break;
            }
            terms.push(term(self)?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            combine(terms)
        })
    }

    fn unary(&mut self) -> Result<Expr, JsonPathError> {
        self.skip_ws();
        if self.peek() == Some('!') && self.peek_at(1) != Some('=') {
            self.pos += 1;
            self.enter()?;
            let inner = self.unary()?;
            self.leave();
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, JsonPathError> {
        self.skip_ws();
        if self.eat('(') {
            self.enter()?;
            let inner = self.expr()?;
            self.leave();
            self.skip_ws();
            self.expect(')')?;
            return Ok(inner);
        }
        let left = self.operand()?;
        self.skip_ws();
        if self.eat_str("=~") {
            self.skip_ws();
            let regex = self.regex()?;
            return Ok(Expr::Matches(left, Box::new(regex)));
        }
        let op = if self.eat_str("==") {
            Some(Op::Eq)
        } else if self.eat_str("!=") {
            Some(Op::Ne)
        } else if self.eat_str("<=") {
            Some(Op::Le)
        } else if self.eat_str(">=") {
            Some(Op::Ge)
        } else if self.eat('<') {
            Some(Op::Lt)
        } else if self.eat('>') {
            Some(Op::Gt)
        } else {
            None
        };
        match op {
            Some(op) => {
                let right = self.operand()?;
                Ok(Expr::Compare(left, op, right))
            }
            None => match left {
                Operand::Literal(Json::Bool(b)) => Ok(Expr::Const(b)),
                Operand::Literal(_) => Err(self.error("a literal alone is not a condition")),
                path => Ok(Expr::Exists(path)),
            },
        }
    }

    fn operand(&mut self) -> Result<Operand, JsonPathError> {
        self.skip_ws();
        match self.peek() {
            Some('@') => {
                self.pos += 1;
                Ok(Operand::Current(self.sub_path()?))
            }
            Some('$') => {
                self.pos += 1;
                Ok(Operand::Root(self.sub_path()?))
            }
            Some('\'' | '"') => Ok(Operand::Literal(Json::String(self.quoted()?))),
            Some(c) if c == '-' || c.is_ascii_digit() => Ok(Operand::Literal(self.number()?)),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "true" => Ok(Operand::Literal(Json::Bool(true))),
                    "false" => Ok(Operand::Literal(Json::Bool(false))),
                    "null" => Ok(Operand::Literal(Json::Null)),
                    _ => {
                        self.pos = start;
                        Err(self.error(&format!("unsupported word `{word}` in a filter")))
                    }
                }
            }
            _ => {
                Err(self.error("expected `@`, `$`, a string, a number, `true`, `false` or `null`"))
            }
        }
    }

    fn sub_path(&mut self) -> Result<SubPath, JsonPathError> {
        self.enter()?;
        let segments = self.segments()?;
        self.leave();
        let definite = is_definite(&segments);
        Ok(SubPath { segments, definite })
    }

    fn number(&mut self) -> Result<Json, JsonPathError> {
        let start = self.pos;
        self.eat('-');
        let int_start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == int_start {
            return Err(self.error("expected digits"));
        }
        let mut float = false;
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            float = true;
            self.pos += 1;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            let exp_start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == exp_start {
                self.pos = save;
            } else {
                float = true;
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        if !float && let Ok(i) = text.parse::<i64>() {
            return Ok(Json::Number(Number::from(i)));
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Json::Number)
            .ok_or_else(|| self.error("the number is out of range"))
    }

    /// `/pattern/flags`, matched against the whole string as Java's `matches` does.
    fn regex(&mut self) -> Result<regex::Regex, JsonPathError> {
        self.expect('/')?;
        let mut pattern = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated regular expression"));
            };
            self.pos += 1;
            match c {
                '/' => break,
                '\\' if self.peek() == Some('/') => {
                    self.pos += 1;
                    pattern.push('/');
                }
                '\\' => {
                    pattern.push('\\');
                    if let Some(next) = self.peek() {
                        self.pos += 1;
                        pattern.push(next);
                    }
                }
                other => pattern.push(other),
            }
        }
        let mut flags = String::new();
        while let Some(c) = self.peek() {
            match c {
                'i' | 'm' | 's' | 'x' => {
                    if !flags.contains(c) {
                        flags.push(c);
                    }
                    self.pos += 1;
                }
                c if c.is_ascii_alphabetic() => {
                    return Err(self.error(&format!("unsupported regular expression flag `{c}`")));
                }
                _ => break,
            }
        }
        let anchored = if flags.is_empty() {
            format!("^(?:{pattern})$")
        } else {
            format!("(?{flags})^(?:{pattern})$")
        };
        regex::RegexBuilder::new(&anchored)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| self.error(&format!("invalid regular expression: {e}")))
    }
}

/// Characters that may appear in a dot-notation name.
fn is_name_char(c: char) -> bool {
    !(c.is_whitespace()
        || matches!(
            c,
            '.' | '['
                | ']'
                | '('
                | ')'
                | '\''
                | '"'
                | ','
                | '='
                | '!'
                | '<'
                | '>'
                | '&'
                | '|'
                | '~'
                | '?'
                | '*'
                | '@'
                | '$'
        ))
}

// ---------------------------------------------------------------------------
// Evaluation

/// Applies `segments` to `start`, one segment at a time over the ordered list of
/// current nodes (so deep paths cannot exhaust the stack).
fn run<'a>(segments: &[Segment], start: &'a Json, root: &'a Json) -> Vec<Cow<'a, Json>> {
    let mut frontier: Vec<&'a Json> = vec![start];
    for (i, segment) in segments.iter().enumerate() {
        let is_last = i + 1 == segments.len();
        match segment {
            Segment::Scan => {
                let Some(next) = segments.get(i + 1) else {
                    return Vec::new();
                };
                let mut matched = Vec::new();
                for node in frontier {
                    scan(node, next, root, &mut matched);
                }
                frontier = matched;
            }
            Segment::Names(names) if names.len() > 1 && is_last => {
                // Jayway's merge: one object holding the named members present.
                return frontier
                    .into_iter()
                    .filter_map(Json::as_object)
                    .map(|object| {
                        let merged: Map<String, Json> = names
                            .iter()
                            .filter_map(|name| {
                                object.get(name).map(|value| (name.clone(), value.clone()))
                            })
                            .collect();
                        Cow::Owned(Json::Object(merged))
                    })
                    .collect();
            }
            _ => {
                let mut next = Vec::new();
                for node in frontier {
                    step(segment, node, root, &mut next);
                }
                frontier = next;
            }
        }
        if frontier.is_empty() {
            break;
        }
    }
    frontier.into_iter().map(Cow::Borrowed).collect()
}

fn step<'a>(segment: &Segment, node: &'a Json, root: &'a Json, out: &mut Vec<&'a Json>) {
    match segment {
        Segment::Names(names) => {
            if let Some(object) = node.as_object() {
                out.extend(names.iter().filter_map(|name| object.get(name)));
            }
        }
        Segment::Wildcard => match node {
            Json::Object(object) => out.extend(object.values()),
            Json::Array(items) => out.extend(items.iter()),
            _ => {}
        },
        Segment::Indexes(indexes) => {
            if let Some(items) = node.as_array() {
                out.extend(
                    indexes
                        .iter()
                        .filter_map(|&index| resolve_index(index, items.len()))
                        .filter_map(|index| items.get(index)),
                );
            }
        }
        Segment::Slice { from, to } => {
            if let Some(items) = node.as_array() {
                let (start, end) = slice_bounds(*from, *to, items.len());
                out.extend(items.get(start..end).unwrap_or_default());
            }
        }
        Segment::Filter(expr) => match node {
            Json::Array(items) => out.extend(items.iter().filter(|item| expr.test(item, root))),
            Json::Object(_) if expr.test(node, root) => out.push(node),
            _ => {}
        },
        Segment::Scan => {}
    }
}

/// Collects, in document pre-order, the containers under `node` (itself included)
/// where `next` applies, as Jayway's deep scan does.
fn scan<'a>(node: &'a Json, next: &Segment, root: &'a Json, out: &mut Vec<&'a Json>) {
    let mut stack = vec![node];
    while let Some(current) = stack.pop() {
        let children: Vec<&'a Json> = match current {
            Json::Object(object) => object.values().collect(),
            Json::Array(items) => items.iter().collect(),
            _ => continue,
        };
        if scan_applies(next, current, root) {
            out.push(current);
        }
        stack.extend(
            children
                .into_iter()
                .rev()
                .filter(|child| child.is_object() || child.is_array()),
        );
    }
}

fn scan_applies(next: &Segment, node: &Json, root: &Json) -> bool {
    match next {
        Segment::Names(names) => node
            .as_object()
            .is_some_and(|object| names.iter().all(|name| object.contains_key(name))),
        Segment::Wildcard => true,
        Segment::Indexes(_) | Segment::Slice { .. } => node.is_array(),
        // Arrays' elements are visited in their own right, so a filter is tried on
        // objects only and each match is found once.
        Segment::Filter(expr) => node.is_object() && expr.test(node, root),
        Segment::Scan => false,
    }
}

fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let resolved = if index < 0 {
        len.checked_add(index)?
    } else {
        index
    };
    if (0..len).contains(&resolved) {
        usize::try_from(resolved).ok()
    } else {
        None
    }
}

/// `[from:to]` as a half-open range of valid indexes; negative bounds count from
/// the end.
fn slice_bounds(from: Option<i64>, to: Option<i64>, len: usize) -> (usize, usize) {
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    let clamp = |bound: i64| -> usize {
        let resolved = if bound < 0 {
            n.saturating_add(bound)
        } else {
            bound
        };
        usize::try_from(resolved.clamp(0, n)).unwrap_or(0)
    };
    let start = from.map_or(0, clamp);
    let end = to.map_or(len, clamp);
    (start, end)
}

impl Expr {
    fn test(&self, current: &Json, root: &Json) -> bool {
        match self {
            Self::Or(terms) => terms.iter().any(|t| t.test(current, root)),
            Self::And(terms) => terms.iter().all(|t| t.test(current, root)),
            Self::Not(inner) => !inner.test(current, root),
            Self::Const(b) => *b,
            Self::Exists(operand) => operand.eval(current, root).is_some(),
            Self::Compare(left, op, right) => {
                let left = left.eval(current, root);
                let right = right.eval(current, root);
                compare(left.as_deref(), *op, right.as_deref())
            }
            Self::Matches(operand, regex) => match operand.eval(current, root).as_deref() {
                Some(Json::String(s)) => regex.is_match(s),
                Some(Json::Number(n)) => regex.is_match(&n.to_string()),
                Some(Json::Bool(b)) => regex.is_match(if *b { "true" } else { "false" }),
                _ => false,
            },
        }
    }
}

impl Operand {
    /// The operand's value; `None` when a path selects nothing.
    fn eval<'v>(&'v self, current: &'v Json, root: &'v Json) -> Option<Cow<'v, Json>> {
        let (path, start) = match self {
            Self::Literal(value) => return Some(Cow::Borrowed(value)),
            Self::Current(path) => (path, current),
            Self::Root(path) => (path, root),
        };
        let results = run(&path.segments, start, root);
        if path.definite {
            results.into_iter().next()
        } else {
            Some(Cow::Owned(Json::Array(
                results.into_iter().map(Cow::into_owned).collect(),
            )))
        }
    }
}

fn compare(left: Option<&Json>, op: Op, right: Option<&Json>) -> bool {
    match op {
        Op::Eq => equals(left, right),
        Op::Ne => !equals(left, right),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ordering = match (left, right) {
                (Some(Json::Number(a)), Some(Json::Number(b))) => compare_numbers(a, b),
                (Some(Json::String(a)), Some(Json::String(b))) => Some(a.cmp(b)),
                _ => None,
            };
            ordering.is_some_and(|ordering| match op {
                Op::Lt => ordering == Ordering::Less,
                Op::Le => ordering != Ordering::Greater,
                Op::Gt => ordering == Ordering::Greater,
                _ => ordering != Ordering::Less,
            })
        }
    }
}

fn equals(left: Option<&Json>, right: Option<&Json>) -> bool {
    match (left, right) {
        (Some(Json::Number(a)), Some(Json::Number(b))) => {
            compare_numbers(a, b) == Some(Ordering::Equal)
        }
        (Some(Json::Number(n)), Some(Json::String(s)))
        | (Some(Json::String(s)), Some(Json::Number(n))) => s
            .trim()
            .parse::<f64>()
            .ok()
            .zip(n.as_f64())
            .is_some_and(|(a, b)| a == b),
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    match (a.as_i64(), b.as_i64()) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Json {
        serde_json::json!({
            "store": {
                "book": [
                    {"category": "reference", "author": "Nigel Rees",
                     "title": "Sayings of the Century", "price": 8.95},
                    {"category": "fiction", "author": "Evelyn Waugh",
                     "title": "Sword of Honour", "price": 12.99},
                    {"category": "fiction", "author": "Herman Melville",
                     "title": "Moby Dick", "isbn": "0-553-21311-3", "price": 8.99},
                    {"category": "fiction", "author": "J. R. R. Tolkien",
                     "title": "The Lord of the Rings", "isbn": "0-395-19395-8", "price": 22.99}
                ],
                "bicycle": {"color": "red", "price": 19.95}
            },
            "expensive": 10
        })
    }

    fn json_of(path: &str, doc: &Json) -> Option<Json> {
        JsonPath::compile(path).unwrap().select(doc).into_json()
    }

    #[test]
    fn root_and_members() {
        let doc = store();
        assert_eq!(json_of("$", &doc), Some(doc.clone()));
        assert_eq!(json_of("$.expensive", &doc), Some(Json::from(10)));
        assert_eq!(
            json_of("$.store.bicycle.color", &doc),
            Some(Json::from("red"))
        );
        assert_eq!(
            json_of("$['store']['bicycle']['color']", &doc),
            Some(Json::from("red"))
        );
        assert_eq!(
            json_of("$[\"store\"][\"bicycle\"].price", &doc),
            Some(Json::from(19.95))
        );
        assert_eq!(json_of("$.store.missing", &doc), None);
        assert_eq!(json_of("$.expensive.deeper", &doc), None);
    }

    #[test]
    fn names_with_spaces_and_escapes_in_brackets() {
        let doc = serde_json::json!({"a b": 1, "it's": 2, "x-amz-id": 3, "": 4});
        assert_eq!(json_of("$['a b']", &doc), Some(Json::from(1)));
        assert_eq!(json_of("$[\"a b\"]", &doc), Some(Json::from(1)));
        assert_eq!(json_of(r"$['it\'s']", &doc), Some(Json::from(2)));
        assert_eq!(json_of("$.x-amz-id", &doc), Some(Json::from(3)));
        assert_eq!(json_of("$['']", &doc), Some(Json::from(4)));
    }

    #[test]
    fn implicit_root_as_jayway() {
        let doc = store();
        assert_eq!(json_of("expensive", &doc), Some(Json::from(10)));
        assert_eq!(
            json_of("store.bicycle.color", &doc),
            Some(Json::from("red"))
        );
        let list = serde_json::json!([1, 2, 3]);
        assert_eq!(json_of("[1]", &list), Some(Json::from(2)));
        assert_eq!(json_of("  $.expensive  ", &doc), Some(Json::from(10)));
    }

    #[test]
    fn wildcards() {
        let doc = store();
        assert_eq!(
            json_of("$.store.bicycle.*", &doc),
            Some(serde_json::json!(["red", 19.95]))
        );
        assert_eq!(
            json_of("$.store.book[*].author", &doc),
            Some(serde_json::json!([
                "Nigel Rees",
                "Evelyn Waugh",
                "Herman Melville",
                "J. R. R. Tolkien"
            ]))
        );
        assert_eq!(
            json_of("$.store.book.*.price", &doc),
            Some(serde_json::json!([8.95, 12.99, 8.99, 22.99]))
        );
        assert_eq!(json_of("$.expensive.*", &doc), Some(serde_json::json!([])));
        let list = serde_json::json!([1, [2], {"a": 3}]);
        assert_eq!(json_of("$[*]", &list), Some(list.clone()));
    }

    #[test]
    fn indexes() {
        let doc = store();
        assert_eq!(
            json_of("$.store.book[0].title", &doc),
            Some(Json::from("Sayings of the Century"))
        );
        assert_eq!(
            json_of("$.store.book[-1].title", &doc),
            Some(Json::from("The Lord of the Rings"))
        );
        assert_eq!(json_of("$.store.book[4]", &doc), None);
        assert_eq!(json_of("$.store.book[-5]", &doc), None);
        assert_eq!(json_of("$.store.bicycle[0]", &doc), None);
        assert_eq!(
            json_of("$.store.book[0,2].price", &doc),
            Some(serde_json::json!([8.95, 8.99]))
        );
        assert_eq!(
            json_of("$.store.book[ 0 , -1 ].price", &doc),
            Some(serde_json::json!([8.95, 22.99]))
        );
        assert_eq!(
            json_of("$.store.book[0,9].price", &doc),
            Some(serde_json::json!([8.95]))
        );
    }

    #[test]
    fn slices() {
        let list = serde_json::json!([0, 1, 2, 3, 4]);
        let cases = [
            ("$[1:3]", serde_json::json!([1, 2])),
            ("$[:2]", serde_json::json!([0, 1])),
            ("$[-2:]", serde_json::json!([3, 4])),
            ("$[2:]", serde_json::json!([2, 3, 4])),
            ("$[:-1]", serde_json::json!([0, 1, 2, 3])),
            ("$[1:-1]", serde_json::json!([1, 2, 3])),
            ("$[:]", serde_json::json!([0, 1, 2, 3, 4])),
            ("$[3:1]", serde_json::json!([])),
            ("$[10:]", serde_json::json!([])),
            ("$[:10]", serde_json::json!([0, 1, 2, 3, 4])),
            ("$[-10:2]", serde_json::json!([0, 1])),
        ];
        for (path, expected) in cases {
            assert_eq!(json_of(path, &list), Some(expected), "{path}");
        }
        assert_eq!(
            json_of("$.a[0:2]", &serde_json::json!({"a": "text"})),
            Some(serde_json::json!([]))
        );
    }

    #[test]
    fn name_unions() {
        let doc = store();
        // As the last step: Jayway's merge, one object, definite.
        let path = JsonPath::compile("$.store.book[0]['author','title']").unwrap();
        assert!(path.is_definite());
        assert_eq!(
            path.select(&doc).into_json(),
            Some(serde_json::json!({"author": "Nigel Rees", "title": "Sayings of the Century"}))
        );
        assert_eq!(
            json_of("$.store.book[0]['author','missing']", &doc),
            Some(serde_json::json!({"author": "Nigel Rees"}))
        );
        // Under a wildcard: one object per element.
        assert_eq!(
            json_of("$.store.book[*]['price','isbn']", &doc),
            Some(serde_json::json!([
                {"price": 8.95},
                {"price": 12.99},
                {"price": 8.99, "isbn": "0-553-21311-3"},
                {"price": 22.99, "isbn": "0-395-19395-8"}
            ]))
        );
        // Before the last step: each member in turn, indefinite.
        let path = JsonPath::compile("$.store['bicycle','book'].price").unwrap();
        assert!(!path.is_definite());
        assert_eq!(
            path.select(&doc).into_json(),
            Some(serde_json::json!([19.95]))
        );
    }

    #[test]
    fn deep_scan() {
        let doc = store();
        assert_eq!(
            json_of("$..author", &doc),
            Some(serde_json::json!([
                "Nigel Rees",
                "Evelyn Waugh",
                "Herman Melville",
                "J. R. R. Tolkien"
            ]))
        );
        assert_eq!(
            json_of("$.store..price", &doc),
            Some(serde_json::json!([8.95, 12.99, 8.99, 22.99, 19.95]))
        );
        assert_eq!(
            json_of("$..book[2].title", &doc),
            Some(serde_json::json!(["Moby Dick"]))
        );
        assert_eq!(
            json_of("$..book[-1:].title", &doc),
            Some(serde_json::json!(["The Lord of the Rings"]))
        );
        assert_eq!(
            json_of("$..['color']", &doc),
            Some(serde_json::json!(["red"]))
        );
        let nested = serde_json::json!({"a": {"b": 1, "c": [2, {"b": 3}]}});
        assert_eq!(
            json_of("$..*", &nested),
            Some(serde_json::json!([
                {"b": 1, "c": [2, {"b": 3}]},
                1,
                [2, {"b": 3}],
                2,
                {"b": 3},
                3
            ]))
        );
        assert_eq!(json_of("$..b", &nested), Some(serde_json::json!([1, 3])));
        assert_eq!(json_of("$..[0]", &nested), Some(serde_json::json!([2])));
        assert_eq!(json_of("$..x", &Json::from(5)), Some(serde_json::json!([])));
    }

    #[test]
    fn filters_compare() {
        let doc = store();
        let titles = |path: &str| json_of(&format!("{path}.title"), &doc);
        assert_eq!(
            titles("$.store.book[?(@.price < 10)]"),
            Some(serde_json::json!(["Sayings of the Century", "Moby Dick"]))
        );
        assert_eq!(
            titles("$.store.book[?(@.price <= 8.99)]"),
            Some(serde_json::json!(["Sayings of the Century", "Moby Dick"]))
        );
        assert_eq!(
            titles("$.store.book[?(@.price > 20)]"),
            Some(serde_json::json!(["The Lord of the Rings"]))
        );
        assert_eq!(
            titles("$.store.book[?(@.price >= 22.99)]"),
            Some(serde_json::json!(["The Lord of the Rings"]))
        );
        assert_eq!(
            titles("$.store.book[?(@.author == 'Herman Melville')]"),
            Some(serde_json::json!(["Moby Dick"]))
        );
        assert_eq!(
            titles("$.store.book[?(@.author == \"Herman Melville\")]"),
            Some(serde_json::json!(["Moby Dick"]))
        );
        assert_eq!(
            titles("$.store.book[?(@.category != 'fiction')]"),
            Some(serde_json::json!(["Sayings of the Century"]))
        );
        assert_eq!(
            titles("$.store.book[?(@.price < $.expensive)]"),
            Some(serde_json::json!(["Sayings of the Century", "Moby Dick"]))
        );
        assert_eq!(
            titles("$.store.book[?(@.author > 'I')]"),
            Some(serde_json::json!([
                "Sayings of the Century",
                "The Lord of the Rings"
            ]))
        );
    }

    #[test]
    fn filters_exist_and_logic() {
        let doc = store();
        let titles = |path: &str| json_of(&format!("{path}.title"), &doc);
        assert_eq!(
            titles("$.store.book[?(@.isbn)]"),
            Some(serde_json::json!(["Moby Dick", "The Lord of the Rings"]))
        );
        assert_eq!(
            titles("$.store.book[?(!@.isbn)]"),
            Some(serde_json::json!([
                "Sayings of the Century",
                "Sword of Honour"
            ]))
        );
        assert_eq!(
            titles("$.store.book[?(@.isbn && @.price < 10)]"),
            Some(serde_json::json!(["Moby Dick"]))
        );
        assert_eq!(
            titles("$.store.book[?(@.price < 9 || @.price > 20)]"),
            Some(serde_json::json!([
                "Sayings of the Century",
                "Moby Dick",
                "The Lord of the Rings"
            ]))
        );
        assert_eq!(
            titles("$.store.book[?(@.category == 'fiction' && (@.price < 10 || @.price > 20))]"),
            Some(serde_json::json!(["Moby Dick", "The Lord of the Rings"]))
        );
        assert_eq!(
            titles("$.store.book[?(@.price < 9 || @.price > 20 && @.isbn)]"),
            Some(serde_json::json!([
                "Sayings of the Century",
                "Moby Dick",
                "The Lord of the Rings"
            ]))
        );
        assert_eq!(
            titles("$.store.book[?(@.missing != 'x')]").map(|t| t.as_array().map(Vec::len)),
            Some(Some(4))
        );
        assert_eq!(
            titles("$.store.book[?(false)]"),
            Some(serde_json::json!([]))
        );
    }

    #[test]
    fn filters_on_values_types_and_objects() {
        let list = serde_json::json!([1, 5, "5", "a", true, null, {"n": 5}]);
        assert_eq!(json_of("$[?(@ > 2)]", &list), Some(serde_json::json!([5])));
        // Jayway compares a number and a numeric string as numbers for `==`.
        assert_eq!(
            json_of("$[?(@ == 5)]", &list),
            Some(serde_json::json!([5, "5"]))
        );
        assert_eq!(
            json_of("$[?(@ == true)]", &list),
            Some(serde_json::json!([true]))
        );
        assert_eq!(
            json_of("$[?(@ == null)]", &list),
            Some(serde_json::json!([null]))
        );
        assert_eq!(
            json_of("$[?(@.n == 5)]", &list),
            Some(serde_json::json!([{"n": 5}]))
        );
        // A filter on an object tests the object itself.
        let doc = store();
        assert_eq!(
            json_of("$.store.bicycle[?(@.color == 'red')].price", &doc),
            Some(serde_json::json!([19.95]))
        );
        assert_eq!(
            json_of("$.store.bicycle[?(@.color == 'blue')]", &doc),
            Some(serde_json::json!([]))
        );
        assert_eq!(
            json_of("$..[?(@.price > 19)].price", &doc),
            Some(serde_json::json!([22.99, 19.95]))
        );
        assert_eq!(
            json_of("$[?(@ == -1.5e0)]", &serde_json::json!([-1.5, 1.5])),
            Some(serde_json::json!([-1.5]))
        );
    }

    #[test]
    fn filters_regex() {
        let doc = store();
        assert_eq!(
            json_of("$.store.book[?(@.author =~ /.*REES/i)].title", &doc),
            Some(serde_json::json!(["Sayings of the Century"]))
        );
        // Java's `matches` is a whole-string match.
        assert_eq!(
            json_of("$.store.book[?(@.author =~ /Rees/)]", &doc),
            Some(serde_json::json!([]))
        );
        assert_eq!(
            json_of(r"$[?(@ =~ /a\/b/)]", &serde_json::json!(["a/b", "ab"])),
            Some(serde_json::json!(["a/b"]))
        );
    }

    #[test]
    fn definite_and_indefinite() {
        let definite = ["$", "$.a", "$['a'].b[0]", "$[-1]", "$.a['b','c']", "a.b"];
        let indefinite = [
            "$.*",
            "$[*]",
            "$..a",
            "$[0,1]",
            "$[1:2]",
            "$[?(@.a)]",
            "$['a','b'].c",
        ];
        for path in definite {
            assert!(JsonPath::compile(path).unwrap().is_definite(), "{path}");
        }
        for path in indefinite {
            assert!(!JsonPath::compile(path).unwrap().is_definite(), "{path}");
        }
        let doc = serde_json::json!({"a": [1]});
        let path = JsonPath::compile("$.missing").unwrap();
        assert_eq!(path.select(&doc), Selection::Definite(None));
        assert!(path.select(&doc).is_definite());
        let path = JsonPath::compile("$.missing[*]").unwrap();
        assert_eq!(path.select(&doc), Selection::Indefinite(Vec::new()));
        let path = JsonPath::compile("$.a[*]").unwrap();
        assert_eq!(
            path.select(&doc),
            Selection::Indefinite(vec![Cow::Owned(Json::from(1))])
        );
    }

    #[test]
    fn selections_as_values() {
        let doc = serde_json::json!({"a": {"b": [1, 2]}, "n": null});
        let value = |p: &str| JsonPath::compile(p).unwrap().select(&doc).to_value();
        assert_eq!(value("$.a.b[0]").to_java_string(), "1");
        // Objects are maps; arrays (and indefinite selections) json-smart
        // JSONArrays, which print as JSON.
        assert_eq!(value("$.a").to_java_string(), "{b=[1,2]}");
        assert_eq!(value("$.a.b[*]").to_java_string(), "[1,2]");
        assert_eq!(value("$.missing"), crate::Value::Null);
        assert_eq!(value("$.n"), crate::Value::Null);
        assert_eq!(value("$.missing[*]").to_java_string(), "[]");
    }

    #[test]
    fn compile_errors() {
        let bad = [
            "",
            "   ",
            "$.",
            "$..",
            "$.a.",
            "$[",
            "$[0",
            "$['a'",
            "$['a]",
            "$[a]",
            "$[0:1:2]",
            "$[-]",
            "$[99999999999999999999]",
            "$.a b",
            "$.length()",
            "$.a.length()",
            "$[?(@.a ==)]",
            "$[?(@.a]",
            "$[?(@.a in ['x'])]",
            "$[?(@.a =~ /[/)]",
            "$[?(@.a =~ /x/q)]",
            "$[?('x')]",
            "$[?(@.a == foo)]",
            "$[?]",
            r"$['\q']",
            r"$['\uD800']",
            "$)",
        ];
        for path in bad {
            let err = JsonPath::compile(path).expect_err(path);
            assert_eq!(err.path(), path);
            assert!(!err.message().is_empty());
            assert!(err.position() <= path.chars().count(), "{path}: {err}");
        }
        let err = JsonPath::compile("$.a.b.length()").unwrap_err();
        assert_eq!(err.position(), 12);
        assert!(err.to_string().contains("not supported"), "{err}");
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("$[?({}@.a{})]", "(".repeat(200), ")".repeat(200));
        assert!(JsonPath::compile(&deep).is_err());
        let nots = format!("$[?({}@.a)]", "!".repeat(200));
        assert!(JsonPath::compile(&nots).is_err());
        let fine = format!("$[?({}@.a{})]", "(".repeat(10), ")".repeat(10));
        assert!(JsonPath::compile(&fine).is_ok());
        // Long paths are evaluated iteratively.
        let long = format!("${}", ".a".repeat(50_000));
        let path = JsonPath::compile(&long).unwrap();
        assert_eq!(
            path.select(&serde_json::json!({"a": 1})),
            Selection::Definite(None)
        );
    }

    #[test]
    fn display_and_from_str() {
        let path: JsonPath = "$.a[0]".parse().unwrap();
        assert_eq!(path.to_string(), "$.a[0]");
        assert_eq!(path.as_str(), "$.a[0]");
    }
}
