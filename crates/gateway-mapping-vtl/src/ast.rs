//! The syntax tree a template compiles to.
//!
//! Everything here is immutable after parsing and `Send + Sync` (shared pieces are
//! `Arc`s), so one compiled template can be rendered from many threads at once.
//! Whitespace rules (which newlines directives swallow) are applied by the parser:
//! [`Node::Text`] holds exactly the characters that are written out.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hasher as _;
use std::sync::Arc;

use crate::value::MapHasher;

/// An identifier as written in the template (`foo` for `$foo`), with its hash
/// computed once: the renderer looks names up on every reference. The parser
/// shares one allocation between equal names, so comparing is usually a pointer
/// comparison.
#[derive(Clone)]
pub(crate) struct Name {
    text: Arc<str>,
    hash: u64,
    /// The hash of this name as a key of a template map ([`crate::value::Map`]).
    key_hash: u64,
    /// The name's number in its template's [`Names`] ([`NO_SLOT`] for a name
    /// made outside one): the renderer keeps variables in a table by number.
    slot: u32,
    /// Whether the name is `class`.
    class: bool,
}

/// The slot of a [`Name`] that is not in a [`Names`] table.
pub(crate) const NO_SLOT: u32 = u32::MAX;

impl Name {
    pub(crate) fn new(text: &str) -> Self {
        Self::with_slot(text, NO_SLOT)
    }

    fn with_slot(text: &str, slot: u32) -> Self {
        let mut hasher = crate::hash::FxHasher::default();
        hasher.write(text.as_bytes());
        Self {
            text: Arc::from(text),
            hash: hasher.finish(),
            key_hash: std::hash::BuildHasher::hash_one(&MapHasher::default(), text),
            slot,
            class: text == "class",
        }
    }

    /// The hash a template map gives this name as a key.
    pub(crate) fn key_hash(&self) -> u64 {
        self.key_hash
    }

    /// Whether this is `class` (which `$value.class` reads as `getClass()`).
    #[inline]
    pub(crate) fn is_class(&self) -> bool {
        self.class
    }

    /// The name's number in its template's [`Names`].
    #[inline]
    pub(crate) fn slot(&self) -> u32 {
        self.slot
    }
}

/// The names of a template, numbered in order of first appearance (the fragments
/// `#evaluate` parses while rendering extend a copy). Equal names share one
/// allocation and one number.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    by_text: HashMap<Arc<str>, Name>,
    list: Vec<Name>,
}

/// The fixed numbers of the names the renderer sets itself.
pub(crate) const VELOCITY_COUNT: u32 = 0;
/// `$velocityHasNext`.
pub(crate) const VELOCITY_HAS_NEXT: u32 = 1;
/// `$foreach`.
pub(crate) const FOREACH: u32 = 2;
/// `$bodyContent`.
pub(crate) const BODY_CONTENT: u32 = 3;

impl Default for Names {
    fn default() -> Self {
        let mut names = Self {
            by_text: HashMap::new(),
            list: Vec::new(),
        };
        for text in ["velocityCount", "velocityHasNext", "foreach", "bodyContent"] {
            names.intern(text);
        }
        names
    }
}

impl Names {
    /// The name `text`, shared with every earlier occurrence.
    pub(crate) fn intern(&mut self, text: &str) -> Name {
        if let Some(name) = self.by_text.get(text) {
            return name.clone();
        }
        let slot = u32::try_from(self.list.len()).unwrap_or(NO_SLOT);
        let name = Name::with_slot(text, slot);
        self.by_text.insert(name.text.clone(), name.clone());
        self.list.push(name.clone());
        name
    }

    /// How many names there are.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// The name numbered `slot` (one of the fixed ones, or any other).
    pub(crate) fn get(&self, slot: u32) -> Option<&Name> {
        self.list.get(slot as usize)
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl std::ops::Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.text, &other.text) || (self.hash == other.hash && self.text == other.text)
    }
}

impl Eq for Name {}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text, f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A 1-based line and column in the template source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// A parsed template (or the body of a string literal, `#evaluate`, ...).
#[derive(Debug, Default)]
pub(crate) struct Ast {
    pub(crate) nodes: Vec<Node>,
    /// Every `#macro` in the source, first definition of a name wins (Velocity
    /// refuses to let an inline macro replace an existing one).
    pub(crate) macros: HashMap<Name, Arc<MacroDef>>,
    /// Every name the template uses, numbered.
    pub(crate) names: Names,
}

/// A piece of template output.
#[derive(Debug)]
pub(crate) enum Node {
    /// Literal text, written as is.
    Text(Box<str>),
    /// A reference rendered into the output: `$a.b`, `\$a`, `$!{a}`.
    Ref(Box<RefNode>),
    /// `#set($target = value)`.
    Set(Box<SetNode>),
    /// `#if/#elseif/#else/#end`.
    If(Box<IfNode>),
    /// `#foreach($x in ...)`.
    Foreach(Box<ForeachNode>),
    /// A macro call `#name(args)` or `#@name(args) body #end`.
    MacroCall(Box<MacroCallNode>),
    /// `#define($name) body #end`.
    Define(Box<DefineNode>),
    /// `#break` or `#break($foreach)`.
    Break { pos: Pos, scope: Option<Box<Expr>> },
    /// `#stop`.
    Stop,
    /// `#evaluate(expr)`.
    Evaluate { pos: Pos, arg: Box<Expr> },
    /// `#include`/`#parse`: they need a resource loader, which API Gateway has not.
    Unsupported { pos: Pos, name: Name },
}

/// A reference written into the output.
#[derive(Debug)]
pub(crate) struct RefNode {
    pub(crate) reference: Reference,
    /// Backslashes written directly before the `$` (`\\$a` has two).
    pub(crate) backslashes: usize,
}

/// `$root.part.part(...)[i]`, with the source text to print when it is null.
#[derive(Debug)]
pub(crate) struct Reference {
    pub(crate) root: Name,
    pub(crate) parts: Vec<RefPart>,
    /// `$!a` / `$!{a}`.
    pub(crate) quiet: bool,
    /// The reference as written, from `$` to its end (`$!{a.b}`).
    pub(crate) literal: Arc<str>,
    pub(crate) pos: Pos,
    /// The member names of `parts` when every part is a property other than
    /// `class` (`$elem.title`): the path a JSON document is read along in place.
    pub(crate) members: Option<Box<[MemberName]>>,
}

impl Reference {
    /// [`Reference::members`] for `parts`.
    pub(crate) fn member_path(parts: &[RefPart]) -> Option<Box<[MemberName]>> {
        parts
            .iter()
            .map(|part| match part {
                RefPart::Property { name, .. } if !name.is_class() => Some(MemberName::new(name)),
                _ => None,
            })
            .collect()
    }
}

/// A member name prepared for comparing with the names of a JSON document: its
/// first eight bytes as one little-endian word (zero-padded), and the mask that
/// keeps as many bytes of a word as the name has (up to eight).
#[derive(Debug, Clone)]
pub(crate) struct MemberName {
    pub(crate) name: Name,
    pub(crate) word: u64,
    pub(crate) mask: u64,
}

impl MemberName {
    pub(crate) fn new(name: &Name) -> Self {
        Self {
            name: name.clone(),
            word: crate::json::name_prefix(name.as_bytes()),
            mask: crate::json::prefix_mask(name.len()),
        }
    }
}

/// One step after the root of a reference.
#[derive(Debug)]
pub(crate) enum RefPart {
    /// `.name`
    Property { name: Name, pos: Pos },
    /// `.name(args)`
    Method {
        name: Name,
        args: Vec<Expr>,
        pos: Pos,
    },
    /// `[index]`
    Index { index: Box<Expr>, pos: Pos },
}

/// `#set($target = value)`.
#[derive(Debug)]
pub(crate) struct SetNode {
    pub(crate) target: Reference,
    pub(crate) value: Expr,
    pub(crate) pos: Pos,
}

/// `#if` with its `#elseif` branches and optional `#else`.
#[derive(Debug)]
pub(crate) struct IfNode {
    pub(crate) branches: Vec<(Expr, Vec<Node>)>,
    pub(crate) otherwise: Option<Vec<Node>>,
}

/// `#foreach($var in iterable) body #end`.
#[derive(Debug)]
pub(crate) struct ForeachNode {
    pub(crate) var: Name,
    pub(crate) iterable: Expr,
    pub(crate) body: Vec<Node>,
    pub(crate) pos: Pos,
}

/// A macro definition.
#[derive(Debug)]
pub(crate) struct MacroDef {
    /// Parameter names without `$`.
    pub(crate) params: Vec<Name>,
    pub(crate) body: Vec<Node>,
}

/// How a macro call site finds its macro.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// Outside macro bodies, with the macro defined earlier in the source.
    Resolved,
    /// Inside a macro body: looked up when it runs (Velocity initialises macro
    /// bodies lazily, when first called).
    Dynamic,
    /// Outside macro bodies with no earlier definition: Velocity prints `#name`
    /// and drops the arguments.
    Unresolved,
}

/// A call of a macro (or of something that is not one, printed as `#name`).
#[derive(Debug)]
pub(crate) struct MacroCallNode {
    /// The macro name (without `@` for block calls).
    pub(crate) name: Name,
    /// What Velocity prints when no macro has that name: `#name` or `#@name`.
    pub(crate) printed: Box<str>,
    pub(crate) args: Vec<MacroArg>,
    pub(crate) kind: CallKind,
    /// The body of a block call `#@name() body #end`.
    pub(crate) body: Option<Arc<Vec<Node>>>,
    pub(crate) pos: Pos,
}

/// One argument of a macro call: Velocity passes references, strings, lists, maps
/// and ranges by name (re-evaluated at each use), other literals by value.
#[derive(Debug)]
pub(crate) struct MacroArg {
    pub(crate) expr: Arc<Expr>,
    /// The argument as written, printed for `$param` when it is null.
    pub(crate) literal: Arc<str>,
}

/// `#define($name) body #end`.
#[derive(Debug)]
pub(crate) struct DefineNode {
    pub(crate) name: Name,
    pub(crate) body: Arc<Vec<Node>>,
}

/// An expression with the position where it starts.
#[derive(Debug)]
pub(crate) struct Expr {
    pub(crate) kind: ExprKind,
    pub(crate) pos: Pos,
}

/// Expression forms.
#[derive(Debug)]
pub(crate) enum ExprKind {
    /// A string literal without interpolation.
    Str(Arc<str>),
    /// A double-quoted string literal containing `$` or `#`: rendered as a template.
    Interp(Vec<Node>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A bare word, only valid as a directive argument (`in`, macro names).
    Word(Name),
    Ref(Box<Reference>),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Range(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Binary(Box<Binary>),
    /// `( expr )`.
    Group(Box<Expr>),
}

/// A binary operation.
#[derive(Debug)]
pub(crate) struct Binary {
    pub(crate) op: BinOp,
    pub(crate) lhs: Expr,
    pub(crate) rhs: Expr,
    /// Source text of both operands: `"a" + $x` with `$x` null concatenates the
    /// text `$x`, as Velocity does.
    pub(crate) lhs_text: Box<str>,
    pub(crate) rhs_text: Box<str>,
}

/// Binary operators (symbol and word forms parse to the same operator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_tree_can_be_shared_between_threads() {
        assert_send_sync::<Ast>();
        assert_send_sync::<Node>();
        assert_send_sync::<Expr>();
    }
}
