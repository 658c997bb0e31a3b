//! Renders an [`Ast`] the way Velocity 1.7 does.
//!
//! The context model follows Velocity's: one global context (here a
//! copy-on-write overlay over the [`Bindings`]), `#foreach` saving and restoring
//! its loop variable, `$velocityCount`, `$velocityHasNext` and `$foreach`, and a
//! frame per macro call whose parameters are bound by name (re-evaluated in the
//! caller's scope at each use, as Velocity's `ProxyVMContext` does) and whose
//! `#set`s also reach the caller (Velocity's default non-local macro scope).

use std::cell::Cell;
use std::collections::HashSet;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use indexmap::map::RawEntryApiV1;

use crate::ast::{
    Ast, BODY_CONTENT, BinOp, Binary, CallKind, Expr, ExprKind, FOREACH, ForeachNode, IfNode,
    MacroCallNode, MacroDef, NO_SLOT, Name, Names, Node, Pos, RefNode, RefPart, Reference, SetNode,
    VELOCITY_COUNT, VELOCITY_HAS_NEXT,
};
use crate::bindings::{Bindings, NullRendering};
use crate::hash::FxHashMap;
use crate::json::Scalar;
use crate::methods::{self, TooLarge};
use crate::parser;
use crate::template::{Limit, RenderError, RenderLimits};
use crate::value::{HostObject, JsonKind, MethodError, Value, dismantle};

/// How deeply rendering may recurse (blocks, expressions, macro calls together).
/// Keeps the native stack bounded whatever the template does.
pub(crate) const MAX_DYNAMIC_DEPTH: usize = 500;

/// Strings cost one step per this many bytes, so that building huge strings
/// counts against [`RenderLimits::max_steps`].
const BYTES_PER_STEP: usize = 16;

/// Renders `ast` against `bindings`.
pub(crate) fn render(
    ast: &Ast,
    bindings: &Bindings,
    limits: &RenderLimits,
    capacity: usize,
) -> Result<String, RenderError> {
    let mut renderer = Renderer::new(ast, bindings, limits);
    let mut out = String::with_capacity(capacity);
    let result = renderer.render_nodes(&ast.nodes, &mut out);
    drop(renderer);
    match result {
        // `#stop`, or a `#break` outside any loop, ends the template normally.
        Ok(()) | Err(Interrupt::Stop) | Err(Interrupt::Break(_)) => Ok(out),
        Err(Interrupt::Error(error)) => Err(*error),
    }
}

/// What stops normal rendering: an error, `#break`, `#stop`.
enum Interrupt {
    /// Boxed: results travel through every recursive call, so they stay small.
    Error(Box<RenderError>),
    /// `#break`, for the innermost scope (`None`) or a given loop.
    Break(Option<LoopId>),
    Stop,
}

impl From<RenderError> for Interrupt {
    fn from(error: RenderError) -> Self {
        Self::Error(Box::new(error))
    }
}

type R<T> = Result<T, Interrupt>;

/// Identifies a running `#foreach`. Non-zero, so that an [`Interrupt`] fits in two
/// registers.
type LoopId = std::num::NonZeroU64;

/// A `#define`d body with the value that stands for it (kept alive so that its
/// address stays unique).
type Block = (Rc<dyn HostObject>, Arc<Vec<Node>>);

/// A macro call's scope.
struct Frame {
    /// The scope the macro was called from (0 is the global scope).
    parent: usize,
    locals: FxHashMap<Name, Value>,
    /// Parameters bound by name to the caller's argument expression.
    by_name: FxHashMap<Name, Arc<Expr>>,
    /// The caller's argument text, printed for a null `$param`.
    literals: FxHashMap<Name, Arc<str>>,
}

struct Renderer<'a> {
    bindings: &'a Bindings,
    limits: &'a RenderLimits,
    macros: &'a std::collections::HashMap<Name, Arc<MacroDef>>,
    /// Macros defined by `#evaluate`d text.
    extra_macros: FxHashMap<Name, Arc<MacroDef>>,
    /// Root variables by their names' numbers ([`Name::slot`]).
    globals: Vec<Global>,
    /// The template's names, for `$velocityCount`, `$foreach`, ...
    names: &'a Names,
    /// The template's names extended with those of `#evaluate`d text, once there
    /// is some.
    evaluated_names: Option<Names>,
    frames: Vec<Frame>,
    /// The current scope: 0 global, n the frame `frames[n - 1]`.
    scope: usize,
    steps: u64,
    depth: usize,
    macro_depth: usize,
    /// Where evaluation is, for error positions.
    at: Pos,
    /// `#define` blocks, by the address of their value.
    blocks: FxHashMap<usize, Block>,
    /// Running `#foreach` loops, by the address of their `$foreach` value.
    loops: FxHashMap<usize, LoopId>,
    /// The `$foreach` of the innermost running loop.
    innermost_loop: Option<Rc<ForeachScope>>,
    next_loop: LoopId,
}

impl Drop for Renderer<'_> {
    fn drop(&mut self) {
        // Values can nest deeply (a list in a list in a list...): take them apart
        // iteratively instead of by recursive drops.
        for global in self.globals.drain(..) {
            if let Global::Set(value) = global {
                dismantle(value);
            }
        }
        for frame in self.frames.drain(..) {
            for (_, value) in frame.locals {
                dismantle(value);
            }
        }
    }
}

/// A root variable as the template sees it.
enum Global {
    /// Not looked at yet.
    Unknown,
    /// The binding at this position of the [`Bindings`].
    Bound(usize),
    /// Neither bound nor set.
    Unset,
    /// Set by the template (shadowing any binding).
    Set(Value),
    /// Removed by the template while a binding has the name: hides the binding.
    Hidden,
}

fn address(object: &Rc<dyn HostObject>) -> usize {
    Rc::as_ptr(object).cast::<()>().addr()
}

/// A number operand of arithmetic or comparison.
#[derive(Clone, Copy)]
enum Num {
    I(i64),
    F(f64),
}

impl Num {
    fn of(value: &Value) -> Option<Self> {
        match value {
            Value::Int(i) => Some(Self::I(*i)),
            Value::Float(f) => Some(Self::F(*f)),
            _ => None,
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Self::I(i) => i as f64,
            Self::F(f) => f,
        }
    }

    fn is_zero(self) -> bool {
        match self {
            Self::I(i) => i == 0,
            Self::F(f) => f == 0.0,
        }
    }

    /// Velocity's `MathUtils.compare`: -1, 0 or 1 (NaN compares equal).
    fn compare(self, other: Self) -> i8 {
        match (self, other) {
            (Self::I(a), Self::I(b)) => a.cmp(&b) as i8,
            (a, b) => {
                let (a, b) = (a.as_f64(), b.as_f64());
                if a < b {
                    -1
                } else if a > b {
                    1
                } else {
                    0
                }
            }
        }
    }
}

fn num_value(n: Num) -> Value {
    match n {
        Num::I(i) => Value::Int(i),
        Num::F(f) => Value::Float(f),
    }
}

/// Velocity's integer arithmetic stays integral; on `long` overflow Java moves to
/// `BigInteger`, which this model approximates with a double.
fn arithmetic(op: BinOp, a: Num, b: Num) -> Value {
    match (a, b) {
        (Num::I(x), Num::I(y)) => {
            let result = match op {
                BinOp::Add => x.checked_add(y),
                BinOp::Sub => x.checked_sub(y),
                BinOp::Mul => x.checked_mul(y),
                BinOp::Div => Some(x.wrapping_div(y)),
                BinOp::Mod => Some(x.wrapping_rem(y)),
                _ => None,
            };
            match result {
                Some(i) => Value::Int(i),
                None => {
                    let (x, y) = (x as f64, y as f64);
                    Value::Float(match op {
                        BinOp::Add => x + y,
                        BinOp::Sub => x - y,
                        _ => x * y,
                    })
                }
            }
        }
        (a, b) => {
            let (x, y) = (a.as_f64(), b.as_f64());
            num_value(Num::F(match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                _ => x % y,
            }))
        }
    }
}

fn capitalize(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What a list or map holds for `value`: JSON arrays and objects converted (see
/// `crate::json`).
fn stored(value: Value) -> Value {
    match value {
        Value::Json(json) => json.stored(),
        other => other,
    }
}

/// The class family of a string, list or map, JSON or not (`JSONArray` is an
/// `ArrayList`, so Velocity compares it with lists by `equals`).
fn kind_of(value: &Value) -> Option<JsonKind> {
    match value {
        Value::String(_) => Some(JsonKind::String),
        Value::List(_) => Some(JsonKind::Array),
        Value::Map(_) => Some(JsonKind::Object),
        Value::Json(json) => Some(json.kind()),
        _ => None,
    }
}

/// `$value.name` for a map or a JSON object: the member, `null` when there is
/// none. `None` for anything else.
#[inline]
fn direct_member(value: &Value, name: &Name) -> Option<Value> {
    match value {
        Value::Map(map) => Some(
            map.borrow()
                .raw_entry_v1()
                .from_key_hashed_nocheck(name.key_hash(), &**name)
                .map_or(Value::Null, |(_, v)| v.clone()),
        ),
        Value::Json(json) => json.member(name),
        _ => None,
    }
}

/// Velocity passes these macro arguments by value; everything else by name.
fn is_constant(expr: &Expr) -> bool {
    matches!(
        expr.kind,
        ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Bool(_) | ExprKind::Word(_)
    )
}

/// The value of `$foreach` inside a loop.
struct ForeachScope {
    index: Cell<i64>,
    has_next: Cell<bool>,
    parent: Value,
    me: Weak<ForeachScope>,
}

impl ForeachScope {
    /// The properties that are numbers or booleans (see [`HostObject::property`]).
    fn scalar(&self, name: &str) -> Option<Scalar<'static>> {
        let index = self.index.get();
        match name {
            "index" => Some(Scalar::Int(index)),
            "count" | "velocityCount" => Some(Scalar::Int(index + 1)),
            "hasNext" => Some(Scalar::Bool(self.has_next.get())),
            "first" => Some(Scalar::Bool(index == 0)),
            "last" => Some(Scalar::Bool(!self.has_next.get())),
            _ => None,
        }
    }
}

impl HostObject for ForeachScope {
    fn type_name(&self) -> &'static str {
        "org.apache.velocity.runtime.directive.ForeachScope"
    }

    fn property(&self, name: &str) -> Option<Value> {
        let index = self.index.get();
        match name {
            "index" => Some(Value::Int(index)),
            "count" | "velocityCount" => Some(Value::Int(index + 1)),
            "hasNext" => Some(Value::Bool(self.has_next.get())),
            "first" => Some(Value::Bool(index == 0)),
            "last" => Some(Value::Bool(!self.has_next.get())),
            "parent" => (!matches!(self.parent, Value::Null)).then(|| self.parent.clone()),
            "topmost" => match &self.parent {
                Value::Object(parent) => parent
                    .property("topmost")
                    .or_else(|| Some(self.parent.clone())),
                _ => self
                    .me
                    .upgrade()
                    .map(|me| Value::Object(me as Rc<dyn HostObject>)),
            },
            _ => None,
        }
    }

    fn call(&self, method: &str, args: &[Value]) -> Result<Option<Value>, MethodError> {
        if !args.is_empty() {
            return Ok(None);
        }
        let property = match method {
            "getIndex" | "index" => "index",
            "getCount" | "count" => "count",
            "hasNext" | "getHasNext" => "hasNext",
            "isFirst" | "getFirst" => "first",
            "isLast" | "getLast" => "last",
            "getParent" => "parent",
            "getTopmost" => "topmost",
            _ => return Ok(None),
        };
        Ok(self.property(property))
    }

    fn to_text(&self) -> String {
        // Velocity's scopes are maps of user data, empty unless a template adds some.
        "{}".to_owned()
    }
}

/// The value of a `#define`d name (rendered where it is referenced).
struct DefineBlock;

impl HostObject for DefineBlock {
    fn type_name(&self) -> &'static str {
        "org.apache.velocity.runtime.directive.Block$Reference"
    }

    fn call(&self, _method: &str, _args: &[Value]) -> Result<Option<Value>, MethodError> {
        Ok(None)
    }

    fn to_text(&self) -> String {
        String::new()
    }
}

/// How `#foreach` walks its collection.
enum Items {
    List {
        list: crate::value::List,
        next: usize,
        len: usize,
    },
    Map {
        map: crate::value::Map,
        next: usize,
        len: usize,
    },
    Range {
        next: i64,
        last: i64,
        done: bool,
    },
    /// An array read from JSON, walked on its document until something converts
    /// the document (then its list is walked, as [`Items::List`]).
    Json {
        json: crate::value::JsonRef,
        cursor: crate::json::Cursor,
        next: usize,
        len: usize,
    },
}

impl Items {
    fn has_next(&self) -> bool {
        match self {
            Self::List { next, list, .. } => *next < list.borrow().len(),
            Self::Map { next, map, .. } => *next < map.borrow().len(),
            Self::Range { done, .. } => !*done,
            Self::Json {
                json, next, len, ..
            } => match json.list() {
                Some(list) => *next < list.borrow().len(),
                None => *next < *len,
            },
        }
    }

    /// The next item; `Err` when the collection changed size meanwhile (Java's
    /// iterators throw `ConcurrentModificationException`).
    #[inline(always)]
    fn next(&mut self) -> Result<Value, ()> {
        match self {
            Self::List { list, next, len } => {
                let items = list.borrow();
                if items.len() != *len {
                    return Err(());
                }
                let value = items.get(*next).cloned().unwrap_or(Value::Null);
                *next += 1;
                Ok(value)
            }
            Self::Map { map, next, len } => {
                let entries = map.borrow();
                if entries.len() != *len {
                    return Err(());
                }
                let value = entries
                    .get_index(*next)
                    .map_or(Value::Null, |(_, v)| v.clone());
                *next += 1;
                Ok(value)
            }
            Self::Range { next, last, done } => {
                let value = *next;
                if value == *last {
                    *done = true;
                } else if value < *last {
                    *next += 1;
                } else {
                    *next -= 1;
                }
                Ok(Value::Int(value))
            }
            Self::Json {
                json,
                cursor,
                next,
                len,
            } => {
                let value = match json.list() {
                    Some(list) => {
                        let items = list.borrow();
                        if items.len() != *len {
                            return Err(());
                        }
                        items.get(*next).cloned().unwrap_or(Value::Null)
                    }
                    None => cursor.next_item(),
                };
                *next += 1;
                Ok(value)
            }
        }
    }
}

/// Names a loop saves and restores.
struct LoopNames {
    count: Name,
    has_next: Name,
    scope: Name,
}

/// A running `#foreach`.
struct LoopState {
    items: Items,
    names: LoopNames,
    /// The loop variable, `$velocityCount`, `$velocityHasNext`, `$foreach` before.
    saved: [Value; 4],
    scope: Rc<ForeachScope>,
    /// The innermost loop's scope when this one started.
    outer: Option<Rc<ForeachScope>>,
    id: LoopId,
}

impl<'a> Renderer<'a> {
    fn new(ast: &'a Ast, bindings: &'a Bindings, limits: &'a RenderLimits) -> Self {
        Self {
            bindings,
            limits,
            macros: &ast.macros,
            extra_macros: FxHashMap::default(),
            globals: Vec::new(),
            names: &ast.names,
            evaluated_names: None,
            frames: Vec::new(),
            scope: 0,
            steps: 0,
            depth: 0,
            macro_depth: 0,
            at: Pos { line: 1, column: 1 },
            blocks: FxHashMap::default(),
            loops: FxHashMap::default(),
            innermost_loop: None,
            next_loop: LoopId::MIN,
        }
    }

    // ----- limits and errors --------------------------------------------------------------

    #[cold]
    fn limit(&self, limit: Limit) -> Interrupt {
        Interrupt::from(RenderError::LimitExceeded {
            limit,
            line: self.at.line,
            column: self.at.column,
        })
    }

    #[inline]
    fn step(&mut self) -> R<()> {
        self.charge(1)
    }

    #[inline]
    fn charge(&mut self, steps: u64) -> R<()> {
        self.steps = self.steps.saturating_add(steps);
        if self.steps > self.limits.max_steps {
            return Err(self.limit(Limit::Steps(self.limits.max_steps)));
        }
        Ok(())
    }

    #[inline]
    fn charge_bytes(&mut self, bytes: usize) -> R<()> {
        self.charge((bytes / BYTES_PER_STEP) as u64)
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DYNAMIC_DEPTH {
            self.depth -= 1;
            return Err(self.limit(Limit::Nesting(MAX_DYNAMIC_DEPTH)));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    #[cold]
    fn too_large(&self) -> Interrupt {
        self.limit(Limit::OutputBytes(self.limits.max_output_bytes))
    }

    #[inline]
    fn write(&mut self, out: &mut String, text: &str) -> R<()> {
        if out.len() + text.len() > self.limits.max_output_bytes {
            return Err(self.too_large());
        }
        out.push_str(text);
        Ok(())
    }

    fn method_error(&self, method: &str, pos: Pos, source: MethodError) -> Interrupt {
        Interrupt::from(RenderError::Method {
            method: method.to_owned(),
            line: pos.line,
            column: pos.column,
            source,
        })
    }

    // ----- the context ------------------------------------------------------------------------

    /// The entry of a root variable, made when first needed.
    #[inline]
    fn global_entry(&mut self, name: &Name) -> Option<&mut Global> {
        let slot = name.slot();
        if slot as usize >= self.globals.len() {
            self.grow_globals(slot);
        }
        self.globals.get_mut(slot as usize)
    }

    #[inline(never)]
    fn grow_globals(&mut self, slot: u32) {
        if slot != NO_SLOT {
            let len = (slot as usize + 1).max(self.names.len());
            self.globals.resize_with(len, || Global::Unknown);
        }
    }

    fn global(&mut self, name: &Name) -> Value {
        let bindings = self.bindings;
        let Some(entry) = self.global_entry(name) else {
            // Every name is numbered; this only guards against one that is not.
            return bindings.get(name).cloned().unwrap_or(Value::Null);
        };
        if let Global::Unknown = entry {
            *entry = match bindings.position(name) {
                Some(position) => Global::Bound(position),
                None => Global::Unset,
            };
        }
        match entry {
            Global::Set(value) => value.clone(),
            Global::Bound(position) => bindings.value_at(*position).cloned().unwrap_or(Value::Null),
            Global::Unknown | Global::Unset | Global::Hidden => Value::Null,
        }
    }

    /// A variable as seen from the current scope.
    fn lookup(&mut self, name: &Name) -> R<Value> {
        let mut scope = self.scope;
        while scope > 0 {
            let frame = &self.frames[scope - 1];
            if let Some(value) = frame.locals.get(name) {
                return Ok(value.clone());
            }
            if let Some(expr) = frame.by_name.get(name) {
                let expr = expr.clone();
                let saved = self.scope;
                self.scope = frame.parent;
                let value = self.eval(&expr);
                self.scope = saved;
                return value;
            }
            scope = frame.parent;
        }
        Ok(self.global(name))
    }

    /// The value of `reference` read in place, without evaluating it, when it is
    /// a string, number or boolean held by a root variable or reached through
    /// members of JSON objects (`$elem.title`, `$context.identity.sourceIp`).
    /// `None` in every other case: the reference is then evaluated normally.
    #[inline]
    fn peek(&self, reference: &Reference) -> Option<Scalar<'_>> {
        if self.scope != 0 {
            return None;
        }
        let root = match self.globals.get(reference.root.slot() as usize)? {
            Global::Set(value) => value,
            Global::Bound(position) => self.bindings.value_at(*position)?,
            _ => return None,
        };
        // JSON first: tested alone, the branch is better predicted than a jump on
        // the kind of value.
        if let Value::Json(json) = root {
            return json.peek(reference.members.as_deref()?);
        }
        let scalar = match root {
            Value::String(s) => Scalar::Text(s),
            Value::Int(i) => Scalar::Int(*i),
            Value::Float(f) => Scalar::Float(*f),
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Object(object) => {
                // `$foreach.hasNext` and the like, for the innermost loop.
                let scope = self.innermost_loop.as_ref()?;
                return match reference.parts.as_slice() {
                    [RefPart::Property { name, .. }]
                        if std::ptr::addr_eq(Rc::as_ptr(object), Rc::as_ptr(scope)) =>
                    {
                        scope.scalar(name)
                    }
                    _ => None,
                };
            }
            _ => return None,
        };
        reference.parts.is_empty().then_some(scalar)
    }

    /// Velocity's `context.put`: into the current macro frames and the global context.
    #[inline]
    fn put(&mut self, name: &Name, value: Value) {
        if self.scope > 0 {
            self.put_in_frames(name, &value);
        }
        if let Some(entry) = self.global_entry(name)
            && let Global::Set(old) = std::mem::replace(entry, Global::Set(value))
        {
            dismantle(old);
        }
    }

    /// [`Renderer::put`], inlined where it runs on every loop iteration: the value
    /// is stored where it was built, not handed over through memory.
    #[inline(always)]
    fn put_inline(&mut self, name: &Name, value: Value) {
        if self.scope == 0
            && let Some(entry) = self.globals.get_mut(name.slot() as usize)
        {
            if let Global::Set(old) = std::mem::replace(entry, Global::Set(value)) {
                dismantle(old);
            }
            return;
        }
        self.put(name, value);
    }

    /// Sets the loop variable `name` to the array element at `at` (outside
    /// macros): moves the reference the variable already holds when it can.
    #[inline(always)]
    fn store_element(&mut self, name: &Name, cursor: &crate::json::Cursor, at: u32) {
        match self.globals.get_mut(name.slot() as usize) {
            Some(Global::Set(value)) => cursor.write_into(at, value),
            _ => {
                let mut value = Value::Null;
                cursor.write_into(at, &mut value);
                self.put(name, value);
            }
        }
    }

    /// The value of the root variable `name` when it is set (outside macros), to
    /// overwrite a number or boolean in place.
    #[inline(always)]
    fn scalar_slot(&mut self, name: &Name) -> Option<&mut Value> {
        if self.scope != 0 {
            return None;
        }
        match self.globals.get_mut(name.slot() as usize) {
            Some(Global::Set(value)) => Some(value),
            _ => None,
        }
    }

    #[inline(never)]
    fn put_in_frames(&mut self, name: &Name, value: &Value) {
        let mut scope = self.scope;
        while scope > 0 {
            let frame = &mut self.frames[scope - 1];
            if let Some(old) = frame.locals.insert(name.clone(), value.clone()) {
                dismantle(old);
            }
            scope = frame.parent;
        }
    }

    /// Velocity's `context.remove`.
    fn remove(&mut self, name: &Name) {
        let mut scope = self.scope;
        while scope > 0 {
            let frame = &mut self.frames[scope - 1];
            if let Some(old) = frame.locals.remove(name) {
                dismantle(old);
            }
            frame.by_name.remove(name);
            scope = frame.parent;
        }
        let bound = self.bindings.position(name).is_some();
        if let Some(entry) = self.global_entry(name) {
            let now = if bound { Global::Hidden } else { Global::Unset };
            if let Global::Set(old) = std::mem::replace(entry, now) {
                dismantle(old);
            }
        }
    }

    /// Restores a variable saved before a loop: put back, or removed if it was null.
    fn restore(&mut self, name: &Name, saved: Value) {
        if matches!(saved, Value::Null) {
            self.remove(name);
        } else {
            self.put(name, saved);
        }
    }

    /// The caller's text for a null `$param` inside a macro.
    fn macro_literal(&self, reference: &Reference) -> Option<Arc<str>> {
        if !reference.parts.is_empty() || reference.literal.len() != reference.root.len() + 1 {
            return None;
        }
        let mut scope = self.scope;
        while scope > 0 {
            let frame = &self.frames[scope - 1];
            if let Some(literal) = frame.literals.get(&reference.root) {
                return Some(literal.clone());
            }
            scope = frame.parent;
        }
        None
    }

    /// One of the names every table has.
    fn fixed_name(&self, slot: u32, text: &str) -> Name {
        self.names
            .get(slot)
            .cloned()
            .unwrap_or_else(|| Name::new(text))
    }

    fn find_macro(&self, name: &Name) -> Option<Arc<MacroDef>> {
        self.macros
            .get(name)
            .or_else(|| self.extra_macros.get(name))
            .cloned()
    }

    fn block_body(&self, value: &Value) -> Option<Arc<Vec<Node>>> {
        match value {
            Value::Object(object) if !self.blocks.is_empty() => self
                .blocks
                .get(&address(object))
                .map(|(_, body)| body.clone()),
            _ => None,
        }
    }

    fn new_block(&mut self, body: Arc<Vec<Node>>) -> Value {
        let object: Rc<dyn HostObject> = Rc::new(DefineBlock);
        self.blocks.insert(address(&object), (object.clone(), body));
        Value::Object(object)
    }

    // ----- nodes -------------------------------------------------------------------------------

    fn render_nodes(&mut self, nodes: &[Node], out: &mut String) -> R<()> {
        self.enter()?;
        let mut result = Ok(());
        for node in nodes {
            result = self.render_node(node, out);
            if result.is_err() {
                break;
            }
        }
        self.leave();
        result
    }

    fn render_node(&mut self, node: &Node, out: &mut String) -> R<()> {
        self.step()?;
        // Text and references alternate in most templates: tested one by one,
        // the branches follow that pattern better than one jump on the kind.
        if let Node::Text(text) = node {
            return self.write(out, text);
        }
        if let Node::Ref(node) = node {
            return self.render_ref(node, out);
        }
        match node {
            Node::Text(text) => self.write(out, text),
            Node::Ref(node) => self.render_ref(node, out),
            Node::Set(node) => self.set(node),
            Node::If(node) => match self.choose_branch(node)? {
                // `#if($foreach.hasNext),#end`: what `render_nodes` does for one
                // text, without the call.
                Some([Node::Text(text)]) => {
                    self.enter()?;
                    let result = self.step().and_then(|()| self.write(out, text));
                    self.leave();
                    result
                }
                Some(body) => self.render_nodes(body, out),
                None => Ok(()),
            },
            Node::Foreach(node) => self.foreach(node, out),
            Node::MacroCall(node) => self.call_macro(node, out),
            Node::Define(node) => {
                self.define(&node.name, &node.body);
                Ok(())
            }
            Node::Break { pos, scope } => Err(self.break_target(*pos, scope.as_deref())),
            Node::Stop => Err(Interrupt::Stop),
            Node::Evaluate { pos, arg } => self.evaluate(*pos, arg, out),
            Node::Unsupported { pos, name } => Err(Interrupt::from(RenderError::Unsupported {
                directive: name.to_string(),
                line: pos.line,
                column: pos.column,
            })),
        }
    }

    /// The body of the first `#if`/`#elseif` branch whose condition holds.
    #[inline(never)]
    fn choose_branch<'n>(&mut self, node: &'n IfNode) -> R<Option<&'n [Node]>> {
        for (cond, body) in &node.branches {
            let holds = match &cond.kind {
                ExprKind::Ref(reference) => match self.peeked_condition(reference) {
                    Some(holds) => holds?,
                    None => self.condition(cond)?,
                },
                _ => self.condition(cond)?,
            };
            if holds {
                return Ok(Some(body));
            }
        }
        Ok(node.otherwise.as_deref())
    }

    /// `#if($reference)` when the reference can be read in place ([`Renderer::peek`]):
    /// what [`Renderer::condition`] does, charged and failing as it would.
    #[inline(always)]
    fn peeked_condition(&mut self, reference: &Reference) -> Option<R<bool>> {
        // Never null: true unless `false`.
        let holds = self.peek(reference)? != Scalar::Bool(false);
        Some((|| {
            // `condition`'s nesting and step, then the reference's.
            if self.depth >= MAX_DYNAMIC_DEPTH {
                return Err(self.limit(Limit::Nesting(MAX_DYNAMIC_DEPTH)));
            }
            self.step()?;
            self.at = reference.pos;
            if self.depth + 1 >= MAX_DYNAMIC_DEPTH {
                return Err(self.limit(Limit::Nesting(MAX_DYNAMIC_DEPTH)));
            }
            self.charge(reference.parts.len() as u64)?;
            Ok(holds)
        })())
    }

    #[inline(never)]
    fn define(&mut self, name: &Name, body: &Arc<Vec<Node>>) {
        let block = self.new_block(body.clone());
        self.put(name, block);
    }

    #[inline(never)]
    fn break_target(&mut self, pos: Pos, scope: Option<&Expr>) -> Interrupt {
        self.at = pos;
        let target = match scope.map(|expr| self.eval(expr)) {
            Some(Ok(Value::Object(object))) => self.loops.get(&address(&object)).copied(),
            Some(Err(e)) => return e,
            _ => None,
        };
        Interrupt::Break(target)
    }

    /// A reference in the output, with Velocity's escape and null rules.
    fn render_ref(&mut self, node: &RefNode, out: &mut String) -> R<()> {
        let reference = &node.reference;
        self.at = reference.pos;
        if node.backslashes == 0 {
            let limit = self.limits.max_output_bytes;
            let before = out.len();
            let peeked = self.peek(reference);
            let written = match peeked {
                Some(Scalar::Text(text)) if before + text.len() <= limit => {
                    out.push_str(text);
                    true
                }
                Some(Scalar::Int(i)) => {
                    crate::util::push_int(out, i);
                    true
                }
                Some(Scalar::Float(f)) => {
                    out.push_str(&crate::value::java_double(f));
                    true
                }
                Some(Scalar::Bool(b)) => {
                    out.push_str(if b { "true" } else { "false" });
                    true
                }
                _ => false,
            };
            if written {
                // What evaluating would have charged (the nesting, a step per
                // member, the bytes written), failing as it would have.
                let steps = self.steps.saturating_add(reference.parts.len() as u64);
                let failure = if self.depth >= MAX_DYNAMIC_DEPTH {
                    Some(Limit::Nesting(MAX_DYNAMIC_DEPTH))
                } else if steps > self.limits.max_steps {
                    Some(Limit::Steps(self.limits.max_steps))
                } else if out.len() > limit {
                    Some(Limit::OutputBytes(limit))
                } else {
                    None
                };
                if let Some(failure) = failure {
                    out.truncate(before);
                    return Err(self.limit(failure));
                }
                self.steps = steps;
                return self.charge_bytes(out.len() - before);
            }
        }
        let value = self.eval_ref(reference)?;
        if node.backslashes == 0 && !matches!(value, Value::Null) {
            // The common case: a value written as it is.
            let result = match value.as_str() {
                Some(text) => self
                    .write(out, text)
                    .and_then(|()| self.charge_bytes(text.len())),
                None => self.write_value(&value, out),
            };
            dismantle(value);
            return result;
        }
        self.render_special_ref(node, value, out)
    }

    /// A reference that is escaped (`\$a`), preceded by backslashes, or null.
    #[inline(never)]
    fn render_special_ref(&mut self, node: &RefNode, value: Value, out: &mut String) -> R<()> {
        let reference = &node.reference;
        let escaped = node.backslashes % 2 == 1;
        let prefix = if node.backslashes < 2 {
            String::new()
        } else {
            "\\".repeat(node.backslashes / 2)
        };
        let empty_nulls = self.bindings.null_rendering() == NullRendering::Empty;
        let null_text = || -> Arc<str> {
            if (reference.quiet || empty_nulls) && !escaped {
                Arc::from("")
            } else {
                self.macro_literal(reference)
                    .unwrap_or_else(|| reference.literal.clone())
            }
        };
        let is_null = matches!(value, Value::Null);
        let result = if escaped {
            // `\$a` prints `$a` when $a has a value, `\$a` when it has none.
            let text = null_text();
            let slash = if is_null { "\\" } else { "" };
            self.write(out, &format!("{prefix}{slash}{text}"))
        } else if is_null {
            let text = null_text();
            self.write(out, &format!("{prefix}{prefix}{text}"))
        } else if let Some(text) = value.as_str() {
            self.write(out, &prefix)
                .and_then(|()| self.write(out, text))
                .and_then(|()| self.charge_bytes(text.len()))
        } else {
            self.write(out, &prefix)
                .and_then(|()| self.write_value(&value, out))
        };
        dismantle(value);
        result
    }

    /// Writes a value's text (a `#define` block renders its body here).
    fn write_value(&mut self, value: &Value, out: &mut String) -> R<()> {
        if let Some(body) = self.block_body(value) {
            return self.render_block(&body, out);
        }
        let before = out.len();
        methods::write_java(value, out, self.limits.max_output_bytes, 0)
            .map_err(|TooLarge| self.too_large())?;
        self.charge_bytes(out.len() - before)
    }

    /// The text of a value (`toString()`), as interpolation and `+` use it.
    fn text_of(&mut self, value: &Value) -> R<String> {
        let mut text = String::new();
        self.write_value(value, &mut text)?;
        Ok(text)
    }

    fn render_block(&mut self, body: &Arc<Vec<Node>>, out: &mut String) -> R<()> {
        if self.macro_depth >= self.limits.max_macro_depth {
            return Err(self.limit(Limit::MacroDepth(self.limits.max_macro_depth)));
        }
        self.macro_depth += 1;
        let result = self.render_nodes(body, out);
        self.macro_depth -= 1;
        match result {
            Err(Interrupt::Break(None)) => Ok(()),
            other => other,
        }
    }

    fn set(&mut self, node: &SetNode) -> R<()> {
        self.at = node.pos;
        let value = self.eval(&node.value)?;
        if matches!(value, Value::Null) {
            // Velocity 1.7 (directive.set.null.allowed = false): a null right-hand
            // side leaves the context as it was.
            return Ok(());
        }
        let target = &node.target;
        let Some((last, path)) = target.parts.split_last() else {
            self.put(&target.root, value);
            return Ok(());
        };
        let mut object = self.lookup(&target.root)?;
        for part in path {
            if matches!(object, Value::Null) {
                break;
            }
            object = self.apply_part(object, part)?;
        }
        if matches!(object, Value::Null) {
            dismantle(value);
            return Ok(());
        }
        // Lists and maps hold converted JSON (see `crate::json`).
        let value = match value {
            Value::Json(json) => json.stored(),
            other => other,
        };
        let object = match object {
            Value::Json(json) if json.kind() == JsonKind::Object => json.resolve(),
            other => other,
        };
        match last {
            RefPart::Property { name, pos } => match &object {
                Value::Map(map) => {
                    let old = map.borrow_mut().insert(name.to_string(), value);
                    if let Some(old) = old {
                        dismantle(old);
                    }
                }
                Value::Object(host) => {
                    let setter = format!("set{}", capitalize(name));
                    // Host objects see JSON strings as strings.
                    let value = match value {
                        Value::Json(json) if json.as_str().is_some() => json.resolve(),
                        other => other,
                    };
                    let args = [value];
                    let done = host
                        .call(&setter, &args)
                        .map_err(|e| self.method_error(&setter, *pos, e))?;
                    if done.is_none() {
                        host.call("put", &[Value::string(name), args[0].clone()])
                            .map_err(|e| self.method_error("put", *pos, e))?;
                    }
                }
                _ => {}
            },
            RefPart::Index { index, pos } => {
                let index = self.eval(index)?;
                let index = self.adjust_index(&object, index);
                let args = [index, value];
                let result = match &object {
                    Value::Map(_) => methods::call_method(&object, "put", &args),
                    Value::Object(_) => match methods::call_method(&object, "set", &args) {
                        Ok(None) => methods::call_method(&object, "put", &args),
                        other => other,
                    },
                    _ => methods::call_method(&object, "set", &args),
                };
                match result {
                    Ok(Some(old)) => dismantle(old),
                    Ok(None) => {}
                    Err(e) => return Err(self.method_error("set", *pos, e)),
                }
            }
            RefPart::Method { .. } => {}
        }
        dismantle(object);
        Ok(())
    }

    fn foreach(&mut self, node: &ForeachNode, out: &mut String) -> R<()> {
        let Some(mut state) = self.foreach_start(node)? else {
            return Ok(());
        };
        let result = self.foreach_run(node, &mut state, out);
        self.foreach_end(node, *state);
        result
    }

    /// Evaluates the collection and saves what the loop overwrites.
    #[inline(never)]
    fn foreach_start(&mut self, node: &ForeachNode) -> R<Option<Box<LoopState>>> {
        self.at = node.pos;
        let items = match &node.iterable.kind {
            ExprKind::Range(from, to) => {
                let (Some(from), Some(to)) = (self.range_end(from)?, self.range_end(to)?) else {
                    return Ok(None);
                };
                Items::Range {
                    next: from,
                    last: to,
                    done: false,
                }
            }
            _ => match self.eval(&node.iterable)? {
                Value::List(list) => {
                    let len = list.borrow().len();
                    Items::List { list, next: 0, len }
                }
                Value::Map(map) => {
                    let len = map.borrow().len();
                    Items::Map { map, next: 0, len }
                }
                Value::Json(json) => match (json.kind(), json.cursor()) {
                    (JsonKind::Array, Some(cursor)) => Items::Json {
                        len: json.len(),
                        json,
                        cursor,
                        next: 0,
                    },
                    (JsonKind::String, _) => return Ok(None),
                    _ => match json.resolve() {
                        Value::List(list) => {
                            let len = list.borrow().len();
                            Items::List { list, next: 0, len }
                        }
                        Value::Map(map) => {
                            let len = map.borrow().len();
                            Items::Map { map, next: 0, len }
                        }
                        _ => return Ok(None),
                    },
                },
                // Velocity cannot iterate anything else (and says so in its log).
                _ => return Ok(None),
            },
        };
        self.at = node.pos;
        let names = LoopNames {
            count: self.fixed_name(VELOCITY_COUNT, "velocityCount"),
            has_next: self.fixed_name(VELOCITY_HAS_NEXT, "velocityHasNext"),
            scope: self.fixed_name(FOREACH, "foreach"),
        };
        let saved_item = self.lookup(&node.var)?;
        let saved_count = self.lookup(&names.count)?;
        let saved_has_next = self.lookup(&names.has_next)?;
        let saved_scope = self.lookup(&names.scope)?;
        let scope = Rc::new_cyclic(|me| ForeachScope {
            index: Cell::new(-1),
            has_next: Cell::new(false),
            parent: saved_scope.clone(),
            me: me.clone(),
        });
        let scope_object: Rc<dyn HostObject> = scope.clone();
        let id = self.next_loop;
        self.next_loop = self.next_loop.saturating_add(1);
        self.loops.insert(address(&scope_object), id);
        self.put(&names.scope, Value::Object(scope_object));
        let outer = self.innermost_loop.replace(scope.clone());
        Ok(Some(Box::new(LoopState {
            items,
            names,
            saved: [saved_item, saved_count, saved_has_next, saved_scope],
            scope,
            outer,
            id,
        })))
    }

    fn foreach_run(
        &mut self,
        node: &ForeachNode,
        state: &mut LoopState,
        out: &mut String,
    ) -> R<()> {
        let mut iterations = 0usize;
        while state.items.has_next() {
            self.foreach_next(node, state, iterations)?;
            match self.render_nodes(&node.body, out) {
                Ok(()) => {}
                Err(Interrupt::Break(None)) => break,
                Err(Interrupt::Break(Some(id))) if id == state.id => break,
                Err(other) => return Err(other),
            }
            iterations += 1;
        }
        Ok(())
    }

    /// Sets the loop variables for the next iteration.
    #[inline(never)]
    fn foreach_next(
        &mut self,
        node: &ForeachNode,
        state: &mut LoopState,
        iterations: usize,
    ) -> R<()> {
        if iterations >= self.limits.max_foreach_iterations {
            self.at = node.pos;
            return Err(self.limit(Limit::ForeachIterations(self.limits.max_foreach_iterations)));
        }
        self.step()?;
        let count = iterations as i64 + 1;
        match self.scalar_slot(&state.names.count) {
            Some(Value::Int(slot)) => *slot = count,
            _ => self.put_inline(&state.names.count, Value::Int(count)),
        }
        // The elements of an array read in place are stepped through without
        // building a value for each (see `store_element`).
        let element = match &mut state.items {
            Items::Json {
                json, cursor, next, ..
            } if self.scope == 0 && json.list().is_none() => {
                *next += 1;
                Some(cursor.advance())
            }
            _ => None,
        };
        let item = match element {
            Some(_) => None,
            None => match state.items.next() {
                Ok(item) => Some(item),
                Err(()) => {
                    return Err(self.method_error(
                        "next",
                        node.pos,
                        MethodError::new("java.util.ConcurrentModificationException"),
                    ));
                }
            },
        };
        let has_next = state.items.has_next();
        match self.scalar_slot(&state.names.has_next) {
            Some(Value::Bool(slot)) => *slot = has_next,
            _ => self.put_inline(&state.names.has_next, Value::Bool(has_next)),
        }
        match (item, element, &state.items) {
            (Some(item), _, _) => self.put_inline(&node.var, item),
            (None, Some(at), Items::Json { cursor, .. }) => {
                self.store_element(&node.var, cursor, at);
            }
            _ => {}
        }
        state.scope.index.set(state.scope.index.get() + 1);
        state.scope.has_next.set(has_next);
        Ok(())
    }

    /// Restores what the loop overwrote.
    #[inline(never)]
    fn foreach_end(&mut self, node: &ForeachNode, state: LoopState) {
        self.innermost_loop = state.outer;
        let scope_object: Rc<dyn HostObject> = state.scope;
        self.loops.remove(&address(&scope_object));
        let [item, count, has_next, scope] = state.saved;
        self.restore(&node.var, item);
        self.restore(&state.names.count, count);
        self.restore(&state.names.has_next, has_next);
        self.restore(&state.names.scope, scope);
    }

    /// One end of a range: an integer (Velocity takes `intValue()` of numbers).
    fn range_end(&mut self, expr: &Expr) -> R<Option<i64>> {
        Ok(match self.eval(expr)? {
            Value::Int(i) => Some(i),
            Value::Float(f) if f.is_finite() => Some(f as i64),
            _ => None,
        })
    }

    fn call_macro(&mut self, node: &MacroCallNode, out: &mut String) -> R<()> {
        let Some((def, saved_scope)) = self.macro_enter(node, out)? else {
            return Ok(());
        };
        let result = self.render_nodes(&def.body, out);
        self.macro_exit(saved_scope);
        match result {
            Err(Interrupt::Break(None)) => Ok(()),
            other => other,
        }
    }

    /// Finds the macro and pushes its frame; prints `#name` for no macro.
    #[inline(never)]
    fn macro_enter(
        &mut self,
        node: &MacroCallNode,
        out: &mut String,
    ) -> R<Option<(Arc<MacroDef>, usize)>> {
        self.at = node.pos;
        let def = match node.kind {
            CallKind::Unresolved => None,
            CallKind::Resolved | CallKind::Dynamic => self.find_macro(&node.name),
        };
        let Some(def) = def else {
            // Velocity prints an unknown directive as `#name`, without arguments.
            self.write(out, &node.printed)?;
            return Ok(None);
        };
        if self.macro_depth >= self.limits.max_macro_depth {
            return Err(self.limit(Limit::MacroDepth(self.limits.max_macro_depth)));
        }
        let mut frame = Frame {
            parent: self.scope,
            locals: FxHashMap::default(),
            by_name: FxHashMap::default(),
            literals: FxHashMap::default(),
        };
        for (param, arg) in def.params.iter().zip(&node.args) {
            if is_constant(&arg.expr) {
                let value = self.eval(&arg.expr)?;
                frame.locals.insert(param.clone(), value);
            } else {
                frame.by_name.insert(param.clone(), arg.expr.clone());
                frame.literals.insert(param.clone(), arg.literal.clone());
            }
        }
        if let Some(body) = &node.body {
            let block = self.new_block(body.clone());
            frame
                .locals
                .insert(self.fixed_name(BODY_CONTENT, "bodyContent"), block);
        }
        let saved_scope = self.scope;
        self.frames.push(frame);
        self.scope = self.frames.len();
        self.macro_depth += 1;
        Ok(Some((def, saved_scope)))
    }

    #[inline(never)]
    fn macro_exit(&mut self, saved_scope: usize) {
        self.macro_depth -= 1;
        self.scope = saved_scope;
        if let Some(frame) = self.frames.pop() {
            for (_, value) in frame.locals {
                dismantle(value);
            }
        }
    }

    fn evaluate(&mut self, pos: Pos, arg: &Expr, out: &mut String) -> R<()> {
        self.at = pos;
        let value = self.eval(arg)?;
        if matches!(value, Value::Null) {
            return Ok(());
        }
        let text = self.text_of(&value)?;
        dismantle(value);
        self.charge_bytes(text.len())?;
        let known: HashSet<Name> = self
            .macros
            .keys()
            .chain(self.extra_macros.keys())
            .cloned()
            .collect();
        let names = self
            .evaluated_names
            .get_or_insert_with(|| self.names.clone());
        let ast = parser::parse_fragment(&text, &known, names).map_err(|source| {
            Interrupt::from(RenderError::Evaluate {
                line: pos.line,
                column: pos.column,
                source,
            })
        })?;
        for (name, def) in ast.macros {
            if !self.macros.contains_key(&name) {
                self.extra_macros.entry(name).or_insert(def);
            }
        }
        let body = Arc::new(ast.nodes);
        self.render_block(&body, out)
    }

    // ----- references ----------------------------------------------------------------------------

    fn eval_ref(&mut self, reference: &Reference) -> R<Value> {
        self.enter()?;
        let result = self.eval_ref_inner(reference);
        self.leave();
        result
    }

    fn eval_ref_inner(&mut self, reference: &Reference) -> R<Value> {
        let mut value = self.lookup(&reference.root)?;
        for part in &reference.parts {
            if matches!(value, Value::Null) {
                return Ok(Value::Null);
            }
            value = match part {
                // A map or JSON object member, or a host object's property, the
                // common cases: what `apply_part` would do, directly.
                RefPart::Property { name, pos } if !name.is_class() => match &value {
                    Value::Object(_) => {
                        self.step()?;
                        let found = self.property(&value, name, *pos)?;
                        dismantle(value);
                        found
                    }
                    _ => match direct_member(&value, name) {
                        Some(member) => {
                            self.step()?;
                            dismantle(value);
                            member
                        }
                        None => self.apply_part(value, part)?,
                    },
                },
                _ => self.apply_part(value, part)?,
            };
        }
        Ok(value)
    }

    /// `.name`, `.name(args)` or `[index]` applied to `value`.
    fn apply_part(&mut self, value: Value, part: &RefPart) -> R<Value> {
        self.step()?;
        let mut values = Vec::new();
        match part {
            RefPart::Method { args, .. } => {
                for arg in args {
                    values.push(self.eval(arg)?);
                }
            }
            RefPart::Index { index, .. } => values.push(self.eval(index)?),
            RefPart::Property { .. } => {}
        }
        self.invoke(value, part, values)
    }

    /// Applies a reference step to evaluated arguments.
    #[inline(never)]
    fn invoke(&mut self, value: Value, part: &RefPart, mut args: Vec<Value>) -> R<Value> {
        let result = match part {
            RefPart::Property { name, pos } => self.property(&value, name, *pos),
            RefPart::Method { name, pos, .. } => self.call(&value, name, &args, *pos),
            RefPart::Index { pos, .. } => {
                if let Some(index) = args.pop() {
                    args.push(self.adjust_index(&value, index));
                }
                self.call(&value, "get", &args, *pos)
            }
        };
        for arg in args {
            dismantle(arg);
        }
        dismantle(value);
        result
    }

    /// Velocity turns a negative index into one from the end for lists.
    fn adjust_index(&self, target: &Value, index: Value) -> Value {
        match (target, &index) {
            (Value::List(list), Value::Int(i)) if *i < 0 => {
                Value::Int(*i + list.borrow().len() as i64)
            }
            (Value::Json(json), Value::Int(i)) if *i < 0 && json.kind() == JsonKind::Array => {
                Value::Int(*i + json.len() as i64)
            }
            _ => index,
        }
    }

    /// Velocity's property lookup: a host property, then `getName()`, `isName()`,
    /// `get("name")`; Java getters and map keys for built-in values.
    fn property(&mut self, value: &Value, name: &str, pos: Pos) -> R<Value> {
        let Value::Object(host) = value else {
            return Ok(methods::property(value, name).unwrap_or(Value::Null));
        };
        if let Some(found) = host.property(name) {
            return Ok(found);
        }
        let capital = capitalize(name);
        for getter in [format!("get{capital}"), format!("is{capital}")] {
            match host.call(&getter, &[]) {
                Ok(Some(found)) => return Ok(found),
                Ok(None) => {}
                Err(e) => return Err(self.method_error(&getter, pos, e)),
            }
        }
        // Not Velocity's lookup, but what host objects are written for: a
        // `get(name)` or a zero-argument method of that name. Their failures mean
        // "no such property" here.
        for (method, args) in [("get", vec![Value::string(name)]), (name, Vec::new())] {
            if let Ok(Some(found)) = host.call(method, &args) {
                return Ok(found);
            }
        }
        Ok(Value::Null)
    }

    fn call(&mut self, target: &Value, name: &str, args: &[Value], pos: Pos) -> R<Value> {
        if name == "toString"
            && args.is_empty()
            && let Some(body) = self.block_body(target)
        {
            let mut text = String::new();
            self.render_block(&body, &mut text)?;
            return Ok(Value::string(&text));
        }
        let result = methods::call_method(target, name, args);
        self.charge(methods::take_work())?;
        match result {
            Ok(Some(value)) => {
                if let Value::String(s) = &value {
                    if s.len() > self.limits.max_output_bytes {
                        return Err(self.too_large());
                    }
                    self.charge_bytes(s.len())?;
                }
                Ok(value)
            }
            Ok(None) => Ok(Value::Null),
            Err(e) => Err(self.method_error(name, pos, e)),
        }
    }

    // ----- expressions ---------------------------------------------------------------------------

    fn eval(&mut self, expr: &Expr) -> R<Value> {
        self.enter()?;
        let result = self.eval_inner(expr);
        self.leave();
        result
    }

    fn eval_inner(&mut self, expr: &Expr) -> R<Value> {
        self.step()?;
        match &expr.kind {
            ExprKind::Str(s) => Ok(Value::string(s)),
            ExprKind::Int(i) => Ok(Value::Int(*i)),
            ExprKind::Float(f) => Ok(Value::Float(*f)),
            ExprKind::Bool(b) => Ok(Value::Bool(*b)),
            ExprKind::Word(_) => Ok(Value::Null),
            ExprKind::Ref(reference) => {
                self.at = reference.pos;
                self.eval_ref(reference)
            }
            ExprKind::Group(inner) => self.eval(inner),
            ExprKind::Not(_) => Ok(Value::Bool(self.condition(expr)?)),
            ExprKind::Binary(binary) => match binary.op {
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                    self.at = expr.pos;
                    self.math(binary)
                }
                _ => Ok(Value::Bool(self.condition(expr)?)),
            },
            ExprKind::Interp(nodes) => self.interpolate(nodes),
            ExprKind::List(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(stored(self.eval(item)?));
                }
                Ok(Value::list(values))
            }
            ExprKind::Map(entries) => self.map_literal(entries),
            ExprKind::Range(from, to) => self.range(from, to),
        }
    }

    #[inline(never)]
    fn interpolate(&mut self, nodes: &[Node]) -> R<Value> {
        let mut text = String::new();
        self.render_nodes(nodes, &mut text)?;
        self.charge_bytes(text.len())?;
        Ok(Value::string(&text))
    }

    #[inline(never)]
    fn map_literal(&mut self, entries: &[(Expr, Expr)]) -> R<Value> {
        let mut map = Value::entries_with_capacity(entries.len());
        for (key, value) in entries {
            let key = match self.eval(key)? {
                Value::String(s) => s.to_string(),
                other => {
                    let text = self.text_of(&other);
                    dismantle(other);
                    text?
                }
            };
            let value = stored(self.eval(value)?);
            if let Some(old) = map.insert(key, value) {
                dismantle(old);
            }
        }
        Ok(Value::new_map(map))
    }

    #[inline(never)]
    fn range(&mut self, from: &Expr, to: &Expr) -> R<Value> {
        let (Some(from), Some(to)) = (self.range_end(from)?, self.range_end(to)?) else {
            return Ok(Value::Null);
        };
        let len = from.abs_diff(to).saturating_add(1);
        // Each element costs two steps: the limit refuses huge ranges before
        // anything is allocated.
        self.charge(len.saturating_mul(2))?;
        let values: Vec<Value> = if from <= to {
            (from..=to).map(Value::Int).collect()
        } else {
            (to..=from).rev().map(Value::Int).collect()
        };
        Ok(Value::list(values))
    }

    /// Velocity's `evaluate()`: references by truth (null and `false` are false),
    /// boolean literals and logical/comparison operators by their result. Other
    /// expressions (strings, numbers, arithmetic) are false without being
    /// evaluated, as in Velocity 1.7.
    fn condition(&mut self, expr: &Expr) -> R<bool> {
        self.enter()?;
        let result = self.condition_inner(expr);
        self.leave();
        result
    }

    fn condition_inner(&mut self, expr: &Expr) -> R<bool> {
        self.step()?;
        Ok(match &expr.kind {
            ExprKind::Ref(reference) => {
                self.at = reference.pos;
                if let Some(scalar) = self.peek(reference) {
                    // Never null: true unless `false`.
                    let truth = scalar != Scalar::Bool(false);
                    self.enter()?;
                    let charged = self.charge(reference.parts.len() as u64);
                    self.leave();
                    charged?;
                    return Ok(truth);
                }
                let value = self.eval_ref(reference)?;
                let truth = value.is_truthy();
                dismantle(value);
                truth
            }
            ExprKind::Bool(b) => *b,
            ExprKind::Group(inner) => self.condition(inner)?,
            ExprKind::Not(inner) => !self.condition(inner)?,
            ExprKind::Binary(binary) => {
                let op = binary.op;
                match op {
                    BinOp::Or => self.condition(&binary.lhs)? || self.condition(&binary.rhs)?,
                    BinOp::And => self.condition(&binary.lhs)? && self.condition(&binary.rhs)?,
                    BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                        self.compare_operands(binary)?
                    }
                    // Arithmetic is never true in a condition (not even evaluated).
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => false,
                }
            }
            _ => false,
        })
    }

    /// `==`, `!=`, `<`, `<=`, `>`, `>=`.
    fn compare_operands(&mut self, binary: &Binary) -> R<bool> {
        let lhs = self.eval(&binary.lhs)?;
        let rhs = self.eval(&binary.rhs)?;
        let result = self.compare_values(binary.op, &lhs, &rhs);
        dismantle(lhs);
        dismantle(rhs);
        result
    }

    #[inline(never)]
    fn compare_values(&mut self, op: BinOp, lhs: &Value, rhs: &Value) -> R<bool> {
        Ok(match op {
            BinOp::Eq => self.velocity_equals(lhs, rhs)?,
            BinOp::Ne => !self.velocity_equals(lhs, rhs)?,
            // Velocity 1.7 compares numbers only; anything else is false.
            _ => match (Num::of(lhs), Num::of(rhs)) {
                (Some(a), Some(b)) => {
                    let order = a.compare(b);
                    match op {
                        BinOp::Lt => order < 0,
                        BinOp::Le => order <= 0,
                        BinOp::Gt => order > 0,
                        _ => order >= 0,
                    }
                }
                _ => false,
            },
        })
    }

    /// Velocity 1.7's `==`: numbers by value across types, same classes by
    /// `equals`, different classes by their `toString()`; null equals only null.
    fn velocity_equals(&mut self, lhs: &Value, rhs: &Value) -> R<bool> {
        if let (Some(a), Some(b)) = (Num::of(lhs), Num::of(rhs)) {
            return Ok(a.compare(b) == 0);
        }
        let same_class = match (lhs, rhs) {
            (Value::Null, _) | (_, Value::Null) => {
                return Ok(matches!((lhs, rhs), (Value::Null, Value::Null)));
            }
            (Value::Bool(_), Value::Bool(_)) => true,
            (Value::Object(a), Value::Object(b)) => a.type_name() == b.type_name(),
            _ => match (kind_of(lhs), kind_of(rhs)) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        };
        if same_class {
            let equal = methods::java_equals(lhs, rhs);
            self.charge(methods::take_work())?;
            return Ok(equal);
        }
        let (a, b) = (self.text_of(lhs)?, self.text_of(rhs)?);
        Ok(a == b)
    }

    fn math(&mut self, binary: &Binary) -> R<Value> {
        let lhs = self.eval(&binary.lhs)?;
        let rhs = self.eval(&binary.rhs)?;
        let result = self.math_values(binary, &lhs, &rhs);
        dismantle(lhs);
        dismantle(rhs);
        result
    }

    #[inline(never)]
    fn math_values(&mut self, binary: &Binary, lhs: &Value, rhs: &Value) -> R<Value> {
        let op = binary.op;
        if op == BinOp::Add
            && (kind_of(lhs) == Some(JsonKind::String) || kind_of(rhs) == Some(JsonKind::String))
        {
            // String concatenation; a null side contributes its source text (or
            // nothing, when nulls render empty).
            let empty_nulls = self.bindings.null_rendering() == NullRendering::Empty;
            let left = match lhs {
                Value::Null if empty_nulls => String::new(),
                Value::Null => binary.lhs_text.to_string(),
                other => self.text_of(other)?,
            };
            let right = match rhs {
                Value::Null if empty_nulls => String::new(),
                Value::Null => binary.rhs_text.to_string(),
                other => self.text_of(other)?,
            };
            if left.len() + right.len() > self.limits.max_output_bytes {
                return Err(self.too_large());
            }
            self.charge_bytes(left.len() + right.len())?;
            return Ok(Value::string(&(left + &right)));
        }
        let (Some(a), Some(b)) = (Num::of(lhs), Num::of(rhs)) else {
            // Velocity logs "not a Number" and the result is null.
            return Ok(Value::Null);
        };
        if matches!(op, BinOp::Div | BinOp::Mod) && b.is_zero() {
            // Division by zero is logged and gives null in Velocity 1.7.
            return Ok(Value::Null);
        }
        Ok(arithmetic(op, a, b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dismantling_deep_values_does_not_recurse() {
        let mut value = Value::list(vec![]);
        for _ in 0..200_000 {
            value = Value::list(vec![value]);
        }
        dismantle(value);
    }

    #[test]
    fn integer_arithmetic_stays_integral_and_widens_on_overflow() {
        assert_eq!(arithmetic(BinOp::Div, Num::I(7), Num::I(2)), Value::Int(3));
        assert_eq!(
            arithmetic(BinOp::Div, Num::I(-7), Num::I(2)),
            Value::Int(-3)
        );
        assert_eq!(
            arithmetic(BinOp::Mod, Num::I(-7), Num::I(2)),
            Value::Int(-1)
        );
        assert_eq!(
            arithmetic(BinOp::Add, Num::I(1), Num::F(0.5)),
            Value::Float(1.5)
        );
        assert_eq!(
            arithmetic(BinOp::Mul, Num::I(i64::MAX), Num::I(2)),
            Value::Float(i64::MAX as f64 * 2.0)
        );
        assert_eq!(
            arithmetic(BinOp::Div, Num::I(i64::MIN), Num::I(-1)),
            Value::Int(i64::MIN)
        );
    }

    #[test]
    fn numbers_compare_like_mathutils() {
        assert_eq!(Num::I(1).compare(Num::F(1.0)), 0);
        assert_eq!(Num::F(f64::NAN).compare(Num::I(1)), 0);
        assert_eq!(Num::I(2).compare(Num::I(10)), -1);
    }

    #[test]
    fn capitalize_makes_getter_names() {
        assert_eq!(capitalize("requestId"), "RequestId");
        assert_eq!(capitalize(""), "");
    }
}
