//! Java methods on the built-in values (`String`, `ArrayList`, `LinkedHashMap`,
//! numbers, `Boolean`), with Java's results and exceptions.
//!
//! [`call_method`] is the single dispatch point. It answers `Ok(None)` when Java
//! has no such method for those argument types (Velocity then prints the
//! reference as written) and `Err` when the method exists but throws (Velocity
//! fails the render with a `MethodInvocationException`).
//!
//! Choices where Java and this model differ:
//!
//! - Strings index by UTF-16 code units, as Java's do: `"😀".length()` is 2.
//!   A substring that splits a surrogate pair gets U+FFFD for the lone half,
//!   which Rust strings cannot hold.
//! - Arrays (`split`) are lists, so they print as `[a, b]` (Velocity would print
//!   the array's identity, `[Ljava.lang.String;@1b6d3586`).
//! - Map keys are strings: a non-string key (`$map.get(1)`) is looked up by its
//!   text (`"1"`).
//! - `keySet()`, `values()`, `entrySet()` and `subList()` return copies, not live
//!   views (entries do write through with `setValue`).
//! - Regular expressions are Java syntax translated to the `regex` crate:
//!   `\d \w \s` are ASCII as in Java, `\Q..\E` and POSIX classes (`\p{Alpha}`)
//!   are supported; look-around, back-references and possessive quantifiers are
//!   not (a method error says so).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use regex::{Regex, RegexBuilder};

use crate::value::{HostObject, Map, MethodError, Value, java_double};

/// The longest string a method may build, and the deepest nesting printed.
pub(crate) const MAX_STRING_BYTES: usize = 16 * 1024 * 1024;
const MAX_PRINT_DEPTH: usize = 100;
const MAX_SPLIT_PIECES: usize = 1_000_000;
const MAX_EQUALS_DEPTH: usize = 100;
/// Values one method call (or one `==`) may visit while comparing: shared
/// structure can make naive comparison exponential.
const EQUALS_BUDGET: u64 = 1_000_000;

thread_local! {
    /// Comparison visits left in the current call.
    static EQUALS_LEFT: Cell<u64> = const { Cell::new(EQUALS_BUDGET) };
    /// Work done by methods since the renderer last asked (see [`take_work`]).
    static WORK: Cell<u64> = const { Cell::new(0) };
}

/// Work (values compared or copied) done by methods on this thread since the
/// last call; the renderer charges it to its step limit.
pub(crate) fn take_work() -> u64 {
    WORK.with(|w| w.replace(0))
}

fn add_work(amount: usize) {
    WORK.with(|w| w.set(w.get().saturating_add(amount as u64)));
}

/// Calls the Java method `name` on a built-in value.
///
/// `Ok(None)` means Java has no such method for these arguments (including any
/// method on `null`); a [`HostObject`] answers through [`HostObject::call`].
///
/// # Errors
///
/// When the method exists but throws, with Java's exception name and message
/// (`java.lang.StringIndexOutOfBoundsException: String index out of range: 5`).
pub fn call_method(
    target: &Value,
    name: &str,
    args: &[Value],
) -> Result<Option<Value>, MethodError> {
    // Methods every object has.
    match (name, args) {
        ("getClass", []) if !matches!(target, Value::Null) => {
            return Ok(Some(class_of(target)));
        }
        ("equals", [other]) if !matches!(target, Value::Null | Value::Object(_)) => {
            return Ok(Some(Value::Bool(equals_depth(target, other, 0))));
        }
        _ => {}
    }
    // JSON strings are strings to every method; arrays and objects are stored
    // converted (see `crate::json`).
    let normalized;
    let args = if args.iter().any(|a| matches!(a, Value::Json(_))) {
        let stores = matches!(target, Value::Object(_)) || stores_argument(name);
        normalized = args
            .iter()
            .map(|arg| match arg {
                Value::Json(json) if json.as_str().is_some() => json.resolve(),
                Value::Json(json) if stores => json.stored(),
                other => other.clone(),
            })
            .collect::<Vec<_>>();
        &normalized[..]
    } else {
        args
    };
    match target {
        Value::Null => Ok(None),
        Value::Json(json) => json_method(json, name, args),
        Value::Bool(b) => Ok(bool_method(*b, name, args)),
        Value::Int(i) => Ok(int_method(*i, name, args)),
        Value::Float(f) => Ok(float_method(*f, name, args)),
        Value::String(s) => string_method(s, name, args),
        Value::List(list) => list_method(list, name, args),
        Value::Map(map) => map_method(map, name, args),
        Value::Object(object) => match object.call(name, args)? {
            Some(value) => Ok(Some(value)),
            None if name == "toString" && args.is_empty() => {
                Ok(Some(Value::string(&object.to_text())))
            }
            // Object.equals: identity.
            None if name == "equals" && args.len() == 1 => Ok(Some(Value::Bool(
                matches!(&args[0], Value::Object(other) if same_object(object, other)),
            ))),
            None => Ok(None),
        },
    }
}

/// Whether a method may keep its arguments (in a list or map).
fn stores_argument(name: &str) -> bool {
    matches!(
        name,
        "add" | "addAll" | "set" | "put" | "putIfAbsent" | "putAll" | "setValue"
    )
}

/// A method of a [`Value::Json`]: read from the document where that is possible,
/// else called on the string, list or map it stands for.
fn json_method(
    json: &crate::value::JsonRef,
    name: &str,
    args: &[Value],
) -> Result<Option<Value>, MethodError> {
    use crate::value::JsonKind;
    let kind = json.kind();
    match (kind, name, args) {
        (JsonKind::String, _, _) => {
            let Value::String(text) = json.resolve() else {
                return Ok(None);
            };
            return string_method(&text, name, args);
        }
        (_, "toString", []) => {
            let mut out = String::new();
            json.write_java(&mut out, MAX_STRING_BYTES, 0)
                .map_err(|TooLarge| too_large())?;
            add_work(out.len() / 16);
            return Ok(Some(Value::string(&out)));
        }
        (_, "size", []) => return Ok(Some(Value::Int(json.len() as i64))),
        (_, "isEmpty", []) => return Ok(Some(Value::Bool(json.len() == 0))),
        (JsonKind::Array, "get", [i]) => {
            let Some(i) = int_arg(i) else { return Ok(None) };
            return match usize::try_from(i).ok().and_then(|i| json.item(i)) {
                Some(v) => Ok(Some(v)),
                None => Err(ioobe(i, json.len())),
            };
        }
        (JsonKind::Object, "get", [k]) => {
            return Ok(json.member(&key_of(k)?));
        }
        _ => {}
    }
    match json.resolve() {
        Value::List(list) => list_method(&list, name, args),
        Value::Map(map) => map_method(&map, name, args),
        _ => Ok(None),
    }
}

/// Velocity's property lookup (`$value.name`) on a built-in value: Java getters
/// (`getName()`, `isName()`), and `get("name")` on maps.
pub(crate) fn property(target: &Value, name: &str) -> Option<Value> {
    if name == "class" && !matches!(target, Value::Null | Value::Object(_)) {
        return Some(class_of(target));
    }
    match target {
        Value::Map(map) => Some(map.borrow().get(name).cloned().unwrap_or(Value::Null)),
        Value::Json(json) => match json.kind() {
            crate::value::JsonKind::Object => json.member(name),
            _ if name == "empty" => Some(Value::Bool(
                json.len() == 0 && json.as_str().is_none_or(str::is_empty),
            )),
            _ => None,
        },
        Value::String(s) if name == "empty" => Some(Value::Bool(s.is_empty())),
        Value::List(list) if name == "empty" => Some(Value::Bool(list.borrow().is_empty())),
        Value::Float(f) if name == "NaN" || name == "naN" => Some(Value::Bool(f.is_nan())),
        Value::Float(f) if name == "infinite" || name == "Infinite" => {
            Some(Value::Bool(f.is_infinite()))
        }
        _ => None,
    }
}

// ----- Java semantics helpers ------------------------------------------------------

/// Java's `Object.equals`: class-sensitive for numbers (`Integer(1)` is not
/// `Double(1.0)`), structural for lists and maps (maps ignore order).
/// Gives up (not equal) beyond a fixed depth or amount of work.
pub(crate) fn java_equals(a: &Value, b: &Value) -> bool {
    EQUALS_LEFT.with(|left| left.set(EQUALS_BUDGET));
    equals_depth(a, b, 0)
}

fn equals_depth(a: &Value, b: &Value, depth: usize) -> bool {
    let left = EQUALS_LEFT.with(|left| {
        let n = left.get().saturating_sub(1);
        left.set(n);
        n
    });
    WORK.with(|w| w.set(w.get().saturating_add(1)));
    if depth > MAX_EQUALS_DEPTH || left == 0 {
        return false;
    }
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        // Double.equals compares bits: NaN equals NaN, 0.0 differs from -0.0.
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| equals_depth(p, q, depth + 1))
        }
        (Value::Map(x), Value::Map(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| equals_depth(v, w, depth + 1)))
        }
        (Value::Object(x), Value::Object(y)) => same_object(x, y),
        (Value::Json(x), Value::Json(y)) if x.same(y) => true,
        (Value::Json(x), _) => match (x.as_str(), b) {
            (Some(x), Value::String(y)) => x == &**y,
            _ => equals_depth(&x.resolve(), &b.resolved(), depth + 1),
        },
        (_, Value::Json(_)) => equals_depth(b, a, depth),
        _ => false,
    }
}

/// Whether two host objects are the same instance.
pub(crate) fn same_object(a: &Rc<dyn HostObject>, b: &Rc<dyn HostObject>) -> bool {
    std::ptr::addr_eq(Rc::as_ptr(a), Rc::as_ptr(b))
}

/// Java's `toString()` of a value, refusing to build more than `limit` bytes.
/// A collection that contains itself prints `(this Collection)`/`(this Map)`, as
/// Java does; deeper cycles stop at a fixed depth.
pub(crate) fn java_string(value: &Value, limit: usize) -> Result<String, TooLarge> {
    let mut out = String::new();
    write_java(value, &mut out, limit, 0)?;
    Ok(out)
}

/// A string would exceed its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge;

pub(crate) fn push_limited(out: &mut String, s: &str, limit: usize) -> Result<(), TooLarge> {
    if out.len() + s.len() > limit {
        return Err(TooLarge);
    }
    out.push_str(s);
    Ok(())
}

/// Appends Java's `toString()` of `value` to `out`.
pub(crate) fn write_java(
    value: &Value,
    out: &mut String,
    limit: usize,
    depth: usize,
) -> Result<(), TooLarge> {
    match value {
        Value::Null => push_limited(out, "null", limit),
        Value::Bool(b) => push_limited(out, if *b { "true" } else { "false" }, limit),
        Value::Int(i) => {
            // Written in place (no temporary string), then held to the limit.
            let before = out.len();
            crate::util::push_int(out, *i);
            if out.len() > limit {
                out.truncate(before);
                return Err(TooLarge);
            }
            Ok(())
        }
        Value::Float(f) => push_limited(out, &java_double(*f), limit),
        Value::String(s) => push_limited(out, s, limit),
        Value::Object(o) => push_limited(out, &o.to_text(), limit),
        Value::Json(json) => json.write_java(out, limit, depth),
        Value::List(list) => {
            if depth > MAX_PRINT_DEPTH {
                return push_limited(out, "[...]", limit);
            }
            push_limited(out, "[", limit)?;
            let items = list.borrow();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    push_limited(out, ", ", limit)?;
                }
                match item {
                    Value::List(inner) if Rc::ptr_eq(inner, list) => {
                        push_limited(out, "(this Collection)", limit)?;
                    }
                    _ => write_java(item, out, limit, depth + 1)?,
                }
            }
            push_limited(out, "]", limit)
        }
        Value::Map(map) => {
            if depth > MAX_PRINT_DEPTH {
                return push_limited(out, "{...}", limit);
            }
            push_limited(out, "{", limit)?;
            let entries = map.borrow();
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    push_limited(out, ", ", limit)?;
                }
                push_limited(out, k, limit)?;
                push_limited(out, "=", limit)?;
                match v {
                    Value::Map(inner) if Rc::ptr_eq(inner, map) => {
                        push_limited(out, "(this Map)", limit)?;
                    }
                    _ => write_java(v, out, limit, depth + 1)?,
                }
            }
            push_limited(out, "}", limit)
        }
    }
}

fn to_string_value(value: &Value) -> Result<Value, MethodError> {
    java_string(value, MAX_STRING_BYTES)
        .map(|s| Value::string(&s))
        .map_err(|TooLarge| too_large())
}

fn too_large() -> MethodError {
    MethodError::new(format!(
        "java.lang.OutOfMemoryError: result larger than {MAX_STRING_BYTES} bytes"
    ))
}

/// A map key from any value: strings as they are, others by their text.
fn key_of(value: &Value) -> Result<String, MethodError> {
    match value {
        Value::String(s) => Ok(s.to_string()),
        other => java_string(other, MAX_STRING_BYTES).map_err(|TooLarge| too_large()),
    }
}

/// An `int` parameter: an integer within Java's `int` range.
fn int_arg(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) if i32::try_from(*i).is_ok() => Some(*i),
        _ => None,
    }
}

/// Java's `(int)` cast of a double.
fn double_to_int(f: f64) -> i64 {
    if f.is_nan() {
        0
    } else {
        // `as` saturates, like Java's narrowing conversion.
        i64::from(f as i32)
    }
}

fn double_to_long(f: f64) -> i64 {
    if f.is_nan() { 0 } else { f as i64 }
}

fn compare<T: PartialOrd + Copy>(a: T, b: T) -> Value {
    Value::Int(if a < b {
        -1
    } else if a > b {
        1
    } else {
        0
    })
}

// ----- class objects ----------------------------------------------------------------

/// What `$value.class` / `$value.getClass()` returns: a `java.lang.Class`.
#[derive(Debug)]
struct JavaClass {
    name: String,
}

fn class_of(value: &Value) -> Value {
    let name = match value {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Int(i) if i32::try_from(*i).is_ok() => "java.lang.Integer",
        Value::Int(_) => "java.lang.Long",
        Value::Float(_) => "java.lang.Double",
        Value::String(_) => "java.lang.String",
        Value::List(_) => "java.util.ArrayList",
        Value::Map(_) => "java.util.LinkedHashMap",
        Value::Object(o) => o.type_name(),
        Value::Json(json) => match json.kind() {
            crate::value::JsonKind::String => "java.lang.String",
            crate::value::JsonKind::Array => "net.minidev.json.JSONArray",
            crate::value::JsonKind::Object => "java.util.LinkedHashMap",
        },
    };
    Value::Object(Rc::new(JavaClass {
        name: name.to_owned(),
    }))
}

impl HostObject for JavaClass {
    fn type_name(&self) -> &'static str {
        "java.lang.Class"
    }

    fn property(&self, name: &str) -> Option<Value> {
        match name {
            "name" | "typeName" | "canonicalName" => Some(Value::string(&self.name)),
            "simpleName" => Some(Value::string(
                self.name.rsplit('.').next().unwrap_or(&self.name),
            )),
            _ => None,
        }
    }

    fn call(&self, method: &str, args: &[Value]) -> Result<Option<Value>, MethodError> {
        if !args.is_empty() {
            return Ok(None);
        }
        Ok(match method {
            "getName" | "getTypeName" | "getCanonicalName" => self.property("name"),
            "getSimpleName" => self.property("simpleName"),
            "toString" => Some(Value::string(&self.to_text())),
            _ => None,
        })
    }

    fn to_text(&self) -> String {
        format!("class {}", self.name)
    }
}

// ----- map entries ------------------------------------------------------------------

/// An entry of `$map.entrySet()`; reads and writes through to the map.
struct MapEntry {
    map: Map,
    key: Rc<str>,
}

impl MapEntry {
    fn value(&self) -> Value {
        self.map
            .borrow()
            .get(&*self.key)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

impl HostObject for MapEntry {
    fn type_name(&self) -> &'static str {
        "java.util.LinkedHashMap$Entry"
    }

    fn property(&self, name: &str) -> Option<Value> {
        match name {
            "key" => Some(Value::String(self.key.clone())),
            "value" => Some(self.value()),
            _ => None,
        }
    }

    fn call(&self, method: &str, args: &[Value]) -> Result<Option<Value>, MethodError> {
        Ok(match (method, args) {
            ("getKey", []) => self.property("key"),
            ("getValue", []) => self.property("value"),
            ("setValue", [v]) => {
                let previous = self.value();
                self.map
                    .borrow_mut()
                    .insert(self.key.to_string(), v.clone());
                Some(previous)
            }
            ("toString", []) => Some(Value::string(&self.to_text())),
            _ => None,
        })
    }

    fn to_text(&self) -> String {
        let mut out = format!("{}=", self.key);
        let _ = write_java(&self.value(), &mut out, MAX_STRING_BYTES, 1);
        out
    }
}

// ----- Boolean and numbers --------------------------------------------------------------

fn bool_method(b: bool, name: &str, args: &[Value]) -> Option<Value> {
    match (name, args) {
        ("toString", []) => Some(Value::string(if b { "true" } else { "false" })),
        ("booleanValue", []) => Some(Value::Bool(b)),
        ("compareTo", [Value::Bool(other)]) => Some(compare(b, *other)),
        _ => None,
    }
}

fn int_method(i: i64, name: &str, args: &[Value]) -> Option<Value> {
    match (name, args) {
        ("toString", []) => Some(Value::string(&i.to_string())),
        // Java's narrowing: keep the low 32 bits.
        ("intValue", []) => Some(Value::Int(i64::from(i as i32))),
        ("longValue", []) => Some(Value::Int(i)),
        ("doubleValue", []) => Some(Value::Float(i as f64)),
        ("compareTo", [Value::Int(other)]) => Some(compare(i, *other)),
        _ => None,
    }
}

fn float_method(f: f64, name: &str, args: &[Value]) -> Option<Value> {
    match (name, args) {
        ("toString", []) => Some(Value::string(&java_double(f))),
        ("intValue", []) => Some(Value::Int(double_to_int(f))),
        ("longValue", []) => Some(Value::Int(double_to_long(f))),
        ("doubleValue", []) => Some(Value::Float(f)),
        ("isNaN", []) => Some(Value::Bool(f.is_nan())),
        ("isInfinite", []) => Some(Value::Bool(f.is_infinite())),
        ("compareTo", [Value::Float(other)]) => Some(Value::Int(match f.total_cmp(other) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        })),
        _ => None,
    }
}

// ----- String -------------------------------------------------------------------------------

/// A string seen as Java sees it: UTF-16 code units.
struct Utf16<'a> {
    text: &'a str,
    units: Option<Vec<u16>>,
}

impl<'a> Utf16<'a> {
    fn new(text: &'a str) -> Self {
        let units = (!text.is_ascii()).then(|| text.encode_utf16().collect());
        Self { text, units }
    }

    fn len(&self) -> usize {
        self.units.as_ref().map_or(self.text.len(), Vec::len)
    }

    fn slice(&self, from: usize, to: usize) -> String {
        match &self.units {
            None => self.text[from..to].to_owned(),
            Some(units) => String::from_utf16_lossy(&units[from..to]),
        }
    }

    /// The UTF-16 index of a byte offset of `text`.
    fn index_of_byte(&self, byte: usize) -> usize {
        match &self.units {
            None => byte,
            Some(_) => self.text[..byte].encode_utf16().count(),
        }
    }

    /// The byte offset of a UTF-16 index (rounded down to a character start).
    fn byte_of_index(&self, index: usize) -> usize {
        if self.units.is_none() {
            return index.min(self.text.len());
        }
        let mut count = 0;
        for (byte, c) in self.text.char_indices() {
            if count >= index {
                return byte;
            }
            count += c.len_utf16();
        }
        self.text.len()
    }
}

fn sioobe(index: i64) -> MethodError {
    MethodError::new(format!(
        "java.lang.StringIndexOutOfBoundsException: String index out of range: {index}"
    ))
}

fn string_method(s: &Rc<str>, name: &str, args: &[Value]) -> Result<Option<Value>, MethodError> {
    let text: &str = s;
    // Scanning costs in proportion to the text.
    add_work(text.len() / 16);
    let value = match (name, args) {
        ("toString" | "intern", []) => Value::String(s.clone()),
        ("length", []) => Value::Int(Utf16::new(text).len() as i64),
        ("isEmpty", []) => Value::Bool(text.is_empty()),
        ("charAt", [i]) => {
            let Some(i) = int_arg(i) else { return Ok(None) };
            let view = Utf16::new(text);
            if i < 0 || i as usize >= view.len() {
                return Err(sioobe(i));
            }
            Value::string(&view.slice(i as usize, i as usize + 1))
        }
        ("substring", [begin]) => {
            let Some(begin) = int_arg(begin) else {
                return Ok(None);
            };
            let view = Utf16::new(text);
            if begin < 0 {
                return Err(sioobe(begin));
            }
            let sub_len = view.len() as i64 - begin;
            if sub_len < 0 {
                return Err(sioobe(sub_len));
            }
            Value::string(&view.slice(begin as usize, view.len()))
        }
        ("substring" | "subSequence", [begin, end]) => {
            let (Some(begin), Some(end)) = (int_arg(begin), int_arg(end)) else {
                return Ok(None);
            };
            let view = Utf16::new(text);
            if begin < 0 {
                return Err(sioobe(begin));
            }
            if end > view.len() as i64 {
                return Err(sioobe(end));
            }
            if end - begin < 0 {
                return Err(sioobe(end - begin));
            }
            Value::string(&view.slice(begin as usize, end as usize))
        }
        ("indexOf" | "lastIndexOf", [needle]) => {
            let Some(needle) = needle_arg(needle) else {
                return Ok(None);
            };
            let view = Utf16::new(text);
            let found = if name == "indexOf" {
                text.find(&*needle)
            } else {
                text.rfind(&*needle)
            };
            Value::Int(found.map_or(-1, |b| view.index_of_byte(b) as i64))
        }
        ("indexOf", [needle, from]) => {
            let (Some(needle), Some(from)) = (needle_arg(needle), int_arg(from)) else {
                return Ok(None);
            };
            let view = Utf16::new(text);
            let from = from.max(0) as usize;
            if from > view.len() {
                Value::Int(if needle.is_empty() {
                    view.len() as i64
                } else {
                    -1
                })
            } else {
                let start = view.byte_of_index(from);
                Value::Int(
                    text[start..]
                        .find(&*needle)
                        .map_or(-1, |b| view.index_of_byte(start + b) as i64),
                )
            }
        }
        ("lastIndexOf", [needle, from]) => {
            let (Some(needle), Some(from)) = (needle_arg(needle), int_arg(from)) else {
                return Ok(None);
            };
            if from < 0 {
                Value::Int(-1)
            } else {
                let view = Utf16::new(text);
                let needle_len = needle.encode_utf16().count();
                let last_start = (from as usize).min(view.len().saturating_sub(needle_len));
                let end = view.byte_of_index(last_start) + needle.len();
                let end = end.min(text.len());
                let end = (0..=end)
                    .rev()
                    .find(|&e| text.is_char_boundary(e))
                    .unwrap_or(0);
                Value::Int(
                    text[..end]
                        .rfind(&*needle)
                        .map_or(-1, |b| view.index_of_byte(b) as i64),
                )
            }
        }
        ("contains", [Value::String(needle)]) => Value::Bool(text.contains(&**needle)),
        ("startsWith", [Value::String(prefix)]) => Value::Bool(text.starts_with(&**prefix)),
        ("startsWith", [Value::String(prefix), offset]) => {
            let Some(offset) = int_arg(offset) else {
                return Ok(None);
            };
            let view = Utf16::new(text);
            if offset < 0 || offset as usize > view.len() {
                Value::Bool(false)
            } else {
                let start = view.byte_of_index(offset as usize);
                Value::Bool(text[start..].starts_with(&**prefix))
            }
        }
        ("endsWith", [Value::String(suffix)]) => Value::Bool(text.ends_with(&**suffix)),
        ("toLowerCase", []) => Value::string(&text.to_lowercase()),
        ("toUpperCase", []) => Value::string(&text.to_uppercase()),
        // Java's trim removes every character up to U+0020 at both ends.
        ("trim", []) => Value::string(text.trim_matches(|c: char| c <= ' ')),
        ("concat", [Value::String(other)]) => {
            if text.len() + other.len() > MAX_STRING_BYTES {
                return Err(too_large());
            }
            Value::string(&format!("{text}{other}"))
        }
        ("equalsIgnoreCase", [other]) => Value::Bool(match other {
            Value::String(other) => equals_ignore_case(text, other),
            _ => false,
        }),
        ("compareTo", [Value::String(other)]) => Value::Int(compare_utf16(text, other, false)),
        ("compareToIgnoreCase", [Value::String(other)]) => {
            Value::Int(compare_utf16(text, other, true))
        }
        ("hashCode", []) => Value::Int(i64::from(
            text.encode_utf16()
                .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u))),
        )),
        ("replace", [Value::String(from), Value::String(to)]) => {
            let count = if from.is_empty() {
                text.chars().count() + 1
            } else {
                text.matches(&**from).count()
            };
            if text.len() + count.saturating_mul(to.len()) > MAX_STRING_BYTES {
                return Err(too_large());
            }
            Value::string(&text.replace(&**from, to))
        }
        ("replaceAll" | "replaceFirst", [Value::String(pattern), Value::String(replacement)]) => {
            let regex = java_regex(pattern)?;
            let replacement = java_replacement(replacement, regex.captures_len() - 1, &regex)?;
            if name == "replaceFirst" {
                Value::string(&regex.replacen(text, 1, replacement.as_str()))
            } else {
                let count = regex.find_iter(text).count();
                if text.len() + count.saturating_mul(replacement.len() + 16) > MAX_STRING_BYTES {
                    return Err(too_large());
                }
                Value::string(&regex.replace_all(text, replacement.as_str()))
            }
        }
        ("matches", [Value::String(pattern)]) => {
            let regex = java_regex(&format!("\\A(?:{})\\z", pattern.as_ref()))?;
            Value::Bool(regex.is_match(text))
        }
        ("split", [Value::String(pattern)]) => split(text, pattern, 0)?,
        ("split", [Value::String(pattern), limit]) => {
            let Some(limit) = int_arg(limit) else {
                return Ok(None);
            };
            split(text, pattern, limit)?
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}

/// `indexOf` takes a string or a code point (`indexOf(int ch)`).
fn needle_arg(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.to_string()),
        Value::Int(i) => u32::try_from(*i)
            .ok()
            .and_then(char::from_u32)
            .map(|c| c.to_string()),
        _ => None,
    }
}

fn equals_ignore_case(a: &str, b: &str) -> bool {
    let (a, b): (Vec<u16>, Vec<u16>) = (a.encode_utf16().collect(), b.encode_utf16().collect());
    a.len() == b.len()
        && a.iter().zip(b.iter()).all(|(&x, &y)| {
            if x == y {
                return true;
            }
            let (cx, cy) = (char::from_u32(u32::from(x)), char::from_u32(u32::from(y)));
            match (cx, cy) {
                (Some(cx), Some(cy)) => {
                    let ux = cx.to_uppercase().next().unwrap_or(cx);
                    let uy = cy.to_uppercase().next().unwrap_or(cy);
                    ux == uy
                        || ux.to_lowercase().next().unwrap_or(ux)
                            == uy.to_lowercase().next().unwrap_or(uy)
                }
                _ => false,
            }
        })
}

/// Java's `String.compareTo`: difference of the first differing UTF-16 units,
/// else of the lengths.
fn compare_utf16(a: &str, b: &str, ignore_case: bool) -> i64 {
    let fold = |u: u16| -> u16 {
        if !ignore_case {
            return u;
        }
        char::from_u32(u32::from(u))
            .map(|c| {
                let upper = c.to_uppercase().next().unwrap_or(c);
                let lower = upper.to_lowercase().next().unwrap_or(upper);
                let mut buf = [0u16; 2];
                lower.encode_utf16(&mut buf)[0]
            })
            .unwrap_or(u)
    };
    let mut ia = a.encode_utf16();
    let mut ib = b.encode_utf16();
    loop {
        match (ia.next(), ib.next()) {
            (Some(x), Some(y)) => {
                let (x, y) = (fold(x), fold(y));
                if x != y {
                    return i64::from(x) - i64::from(y);
                }
            }
            (Some(_), None) => return 1 + ia.count() as i64,
            (None, Some(_)) => return -1 - ib.count() as i64,
            (None, None) => return 0,
        }
    }
}

// ----- regular expressions --------------------------------------------------------------

thread_local! {
    static REGEX_CACHE: RefCell<Vec<(String, Regex)>> = const { RefCell::new(Vec::new()) };
}

const REGEX_CACHE_SIZE: usize = 32;

/// Compiles a Java regular expression.
fn java_regex(pattern: &str) -> Result<Regex, MethodError> {
    if let Some(regex) = REGEX_CACHE.with(|cache| {
        cache
            .borrow()
            .iter()
            .find(|(p, _)| p == pattern)
            .map(|(_, r)| r.clone())
    }) {
        return Ok(regex);
    }
    let translated = translate_regex(pattern)?;
    let regex = RegexBuilder::new(&translated)
        .size_limit(2 * 1024 * 1024)
        .dfa_size_limit(2 * 1024 * 1024)
        .nest_limit(100)
        .build()
        .map_err(|e| {
            let detail = e.to_string();
            let unsupported = pattern.contains("(?=")
                || pattern.contains("(?!")
                || pattern.contains("(?<=")
                || pattern.contains("(?<!")
                || pattern.contains("(?>");
            MethodError::new(if unsupported {
                format!(
                    "java.util.regex.PatternSyntaxException: look-around and atomic groups are not supported by this emulator: {pattern}"
                )
            } else {
                format!(
                    "java.util.regex.PatternSyntaxException: {} near index 0\n{pattern}",
                    detail.lines().last().unwrap_or("invalid pattern").trim()
                )
            })
        })?;
    REGEX_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= REGEX_CACHE_SIZE {
            cache.remove(0);
        }
        cache.push((pattern.to_owned(), regex.clone()));
    });
    Ok(regex)
}

const SPACE: &str = " \\t\\n\\x0B\\f\\r";

/// Java regex syntax to `regex` crate syntax.
fn translate_regex(pattern: &str) -> Result<String, MethodError> {
    let mut out = String::with_capacity(pattern.len() + 8);
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut class_depth = 0usize;
    // Whether the previous item was a quantifier (a `+` after one is possessive).
    let mut after_quantifier = false;
    while i < chars.len() {
        let c = chars[i];
        let inside = class_depth > 0;
        if c == '\\' {
            after_quantifier = false;
            let Some(&next) = chars.get(i + 1) else {
                return Err(MethodError::new(format!(
                    "java.util.regex.PatternSyntaxException: Unexpected internal error near index {}\n{pattern}",
                    chars.len()
                )));
            };
            match next {
                'd' => out.push_str(if inside { "0-9" } else { "[0-9]" }),
                'D' => out.push_str("[^0-9]"),
                'w' => out.push_str(if inside { "a-zA-Z0-9_" } else { "[a-zA-Z0-9_]" }),
                'W' => out.push_str("[^a-zA-Z0-9_]"),
                's' if inside => out.push_str(SPACE),
                's' => out.push_str(&format!("[{SPACE}]")),
                'S' => out.push_str(&format!("[^{SPACE}]")),
                'Q' => {
                    let mut j = i + 2;
                    let mut quoted = String::new();
                    while j < chars.len() && !(chars[j] == '\\' && chars.get(j + 1) == Some(&'E')) {
                        quoted.push(chars[j]);
                        j += 1;
                    }
                    out.push_str(&regex::escape(&quoted));
                    i = if j < chars.len() { j + 2 } else { j };
                    continue;
                }
                'p' | 'P' if chars.get(i + 2) == Some(&'{') => {
                    let class = chars[i + 3..]
                        .iter()
                        .position(|&ch| ch == '}')
                        .and_then(|len| {
                            let name: String = chars[i + 3..i + 3 + len].iter().collect();
                            posix_class(&name).map(|class| (class, len))
                        });
                    match class {
                        Some((class, len)) => {
                            match (next == 'P', inside) {
                                (false, true) => out.push_str(class),
                                (false, false) => out.push_str(&format!("[{class}]")),
                                (true, _) => out.push_str(&format!("[^{class}]")),
                            }
                            i += 3 + len + 1;
                            continue;
                        }
                        None => {
                            out.push('\\');
                            out.push(next);
                        }
                    }
                }
                _ => {
                    out.push('\\');
                    out.push(next);
                }
            }
            i += 2;
            continue;
        }
        match c {
            '[' => {
                class_depth += 1;
                out.push('[');
                // `[]...]` and `[^]...]` take `]` literally in Java.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
                after_quantifier = false;
            }
            ']' if inside => {
                class_depth -= 1;
                out.push(']');
                after_quantifier = false;
            }
            '+' if !inside && after_quantifier => {
                return Err(MethodError::new(format!(
                    "java.util.regex.PatternSyntaxException: possessive quantifiers are not supported by this emulator: {pattern}"
                )));
            }
            '*' | '+' | '?' | '}' if !inside => {
                // `*?`/`+?` are lazy quantifiers, not a quantified quantifier.
                after_quantifier = !(c == '?' && after_quantifier);
                out.push(c);
            }
            _ => {
                after_quantifier = false;
                out.push(c);
            }
        }
        i += 1;
    }
    Ok(out)
}

fn posix_class(name: &str) -> Option<&'static str> {
    Some(match name {
        "Lower" => "a-z",
        "Upper" => "A-Z",
        "ASCII" => "\\x00-\\x7F",
        "Alpha" => "a-zA-Z",
        "Digit" => "0-9",
        "Alnum" => "a-zA-Z0-9",
        "Punct" => "!-/:-@\\[-`{-~",
        "Graph" => "!-~",
        "Print" => " -~",
        "Blank" => " \\t",
        "Cntrl" => "\\x00-\\x1F\\x7F",
        "XDigit" => "0-9a-fA-F",
        "Space" => SPACE,
        _ => return None,
    })
}

/// Java's replacement syntax (`$1`, `${name}`, `\$`) to the `regex` crate's.
fn java_replacement(
    replacement: &str,
    groups: usize,
    regex: &Regex,
) -> Result<String, MethodError> {
    let chars: Vec<char> = replacement.chars().collect();
    let mut out = String::with_capacity(replacement.len());
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err(MethodError::new(
                        "java.lang.IllegalArgumentException: character to be escaped is missing",
                    ));
                };
                if next == '$' {
                    out.push_str("$$");
                } else {
                    out.push(next);
                }
                i += 2;
            }
            '$' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err(MethodError::new(
                        "java.lang.IllegalArgumentException: Illegal group reference: group index is missing",
                    ));
                };
                if next == '{' {
                    let close = chars[i + 2..].iter().position(|&c| c == '}');
                    let Some(len) = close else {
                        return Err(MethodError::new(
                            "java.lang.IllegalArgumentException: named capturing group is missing trailing '}'",
                        ));
                    };
                    let name: String = chars[i + 2..i + 2 + len].iter().collect();
                    if !regex.capture_names().flatten().any(|n| n == name) {
                        return Err(MethodError::new(format!(
                            "java.lang.IllegalArgumentException: No group with name {{{name}}}"
                        )));
                    }
                    out.push_str(&format!("${{{name}}}"));
                    i += 2 + len + 1;
                } else if let Some(first) = next.to_digit(10) {
                    let mut number = first as usize;
                    if number > groups {
                        return Err(MethodError::new(format!(
                            "java.lang.IndexOutOfBoundsException: No group {number}"
                        )));
                    }
                    let mut j = i + 2;
                    while let Some(d) = chars.get(j).and_then(|c| c.to_digit(10)) {
                        let candidate = number * 10 + d as usize;
                        if candidate > groups {
                            break;
                        }
                        number = candidate;
                        j += 1;
                    }
                    out.push_str(&format!("${{{number}}}"));
                    i = j;
                } else {
                    return Err(MethodError::new(
                        "java.lang.IllegalArgumentException: Illegal group reference",
                    ));
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Java's `String.split(regex, limit)`.
fn split(text: &str, pattern: &str, limit: i64) -> Result<Value, MethodError> {
    let regex = java_regex(pattern)?;
    let mut parts: Vec<&str> = Vec::new();
    let mut index = 0usize;
    let limited = limit > 0;
    let mut matched = false;
    for m in regex.find_iter(text) {
        if !limited || (parts.len() as i64) < limit - 1 {
            if index == 0 && m.start() == 0 && m.start() == m.end() {
                // No empty leading piece for a zero-width match at the start.
                continue;
            }
            parts.push(&text[index..m.start()]);
            index = m.end();
            matched = true;
            if parts.len() > MAX_SPLIT_PIECES {
                return Err(MethodError::new(format!(
                    "java.lang.OutOfMemoryError: split would make more than {MAX_SPLIT_PIECES} pieces"
                )));
            }
        } else {
            break;
        }
    }
    if !matched {
        return Ok(Value::list(vec![Value::string(text)]));
    }
    if !limited || (parts.len() as i64) < limit {
        parts.push(&text[index..]);
    }
    if limit == 0 {
        while parts.last() == Some(&"") {
            parts.pop();
        }
    }
    add_work(parts.len() + text.len() / 16);
    Ok(Value::list(parts.into_iter().map(Value::string).collect()))
}

// ----- List -------------------------------------------------------------------------------

fn ioobe(index: i64, size: usize) -> MethodError {
    if index < 0 {
        MethodError::new(format!("java.lang.ArrayIndexOutOfBoundsException: {index}"))
    } else {
        MethodError::new(format!(
            "java.lang.IndexOutOfBoundsException: Index: {index}, Size: {size}"
        ))
    }
}

fn list_method_work(list: &crate::value::List, name: &str) {
    if matches!(
        name,
        "toString" | "contains" | "indexOf" | "lastIndexOf" | "remove" | "add" | "set"
    ) {
        add_work(list.borrow().len() / 16);
    }
}

fn list_method(
    list: &crate::value::List,
    name: &str,
    args: &[Value],
) -> Result<Option<Value>, MethodError> {
    list_method_work(list, name);
    let value = match (name, args) {
        ("size", []) => Value::Int(list.borrow().len() as i64),
        ("isEmpty", []) => Value::Bool(list.borrow().is_empty()),
        ("toString", []) => to_string_value(&Value::List(list.clone()))?,
        ("get", [i]) => {
            let Some(i) = int_arg(i) else { return Ok(None) };
            let items = list.borrow();
            match usize::try_from(i).ok().and_then(|i| items.get(i)) {
                Some(v) => v.clone(),
                None => return Err(ioobe(i, items.len())),
            }
        }
        ("contains", [o]) => Value::Bool(list.borrow().iter().any(|v| equals_depth(v, o, 0))),
        ("indexOf", [o]) => Value::Int(
            list.borrow()
                .iter()
                .position(|v| equals_depth(v, o, 0))
                .map_or(-1, |i| i as i64),
        ),
        ("lastIndexOf", [o]) => Value::Int(
            list.borrow()
                .iter()
                .rposition(|v| equals_depth(v, o, 0))
                .map_or(-1, |i| i as i64),
        ),
        ("add", [o]) => {
            list.borrow_mut().push(o.clone());
            Value::Bool(true)
        }
        ("add", [i, o]) => {
            let Some(i) = int_arg(i) else { return Ok(None) };
            let mut items = list.borrow_mut();
            if i < 0 || i as usize > items.len() {
                return Err(MethodError::new(format!(
                    "java.lang.IndexOutOfBoundsException: Index: {i}, Size: {}",
                    items.len()
                )));
            }
            items.insert(i as usize, o.clone());
            Value::string("")
        }
        ("addAll", [other]) if list_items(other).is_some() => {
            let extra: Vec<Value> = list_items(other).unwrap_or_default();
            add_work(extra.len());
            let changed = !extra.is_empty();
            list.borrow_mut().extend(extra);
            Value::Bool(changed)
        }
        ("set", [i, o]) => {
            let Some(i) = int_arg(i) else { return Ok(None) };
            let mut items = list.borrow_mut();
            let size = items.len();
            match usize::try_from(i).ok().and_then(|i| items.get_mut(i)) {
                Some(slot) => std::mem::replace(slot, o.clone()),
                None => return Err(ioobe(i, size)),
            }
        }
        ("remove", [Value::Int(i)]) => {
            let Some(i) = int_arg(&Value::Int(*i)) else {
                return Ok(None);
            };
            let mut items = list.borrow_mut();
            match usize::try_from(i).ok().filter(|&i| i < items.len()) {
                Some(i) => items.remove(i),
                None => return Err(ioobe(i, items.len())),
            }
        }
        ("remove", [o]) => {
            let mut items = list.borrow_mut();
            match items.iter().position(|v| equals_depth(v, o, 0)) {
                Some(i) => {
                    items.remove(i);
                    Value::Bool(true)
                }
                None => Value::Bool(false),
            }
        }
        ("clear", []) => {
            list.borrow_mut().clear();
            Value::string("")
        }
        ("subList", [from, to]) => {
            let (Some(from), Some(to)) = (int_arg(from), int_arg(to)) else {
                return Ok(None);
            };
            let items = list.borrow();
            if from < 0 {
                return Err(MethodError::new(format!(
                    "java.lang.IndexOutOfBoundsException: fromIndex = {from}"
                )));
            }
            if to as usize > items.len() || to < 0 {
                return Err(MethodError::new(format!(
                    "java.lang.IndexOutOfBoundsException: toIndex = {to}"
                )));
            }
            if from > to {
                return Err(MethodError::new(format!(
                    "java.lang.IllegalArgumentException: fromIndex({from}) > toIndex({to})"
                )));
            }
            add_work((to - from) as usize);
            Value::list(items[from as usize..to as usize].to_vec())
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}

/// The elements of a list or JSON array (a copy).
fn list_items(value: &Value) -> Option<Vec<Value>> {
    match value {
        Value::List(list) => Some(list.borrow().clone()),
        Value::Json(json) if json.kind() == crate::value::JsonKind::Array => match json.resolve() {
            Value::List(list) => Some(list.borrow().clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The map of a map or JSON object.
fn map_of(value: &Value) -> Option<Map> {
    match value {
        Value::Map(map) => Some(map.clone()),
        Value::Json(json) if json.kind() == crate::value::JsonKind::Object => {
            match json.resolve() {
                Value::Map(map) => Some(map),
                _ => None,
            }
        }
        _ => None,
    }
}

// ----- Map ---------------------------------------------------------------------------------

fn map_method(map: &Map, name: &str, args: &[Value]) -> Result<Option<Value>, MethodError> {
    if matches!(name, "keySet" | "values" | "entrySet" | "toString") {
        add_work(map.borrow().len());
    }
    let value = match (name, args) {
        ("size", []) => Value::Int(map.borrow().len() as i64),
        ("isEmpty", []) => Value::Bool(map.borrow().is_empty()),
        ("toString", []) => to_string_value(&Value::Map(map.clone()))?,
        ("get", [k]) => map
            .borrow()
            .get(&key_of(k)?)
            .cloned()
            .unwrap_or(Value::Null),
        ("getOrDefault", [k, default]) => map
            .borrow()
            .get(&key_of(k)?)
            .cloned()
            .unwrap_or_else(|| default.clone()),
        ("containsKey", [k]) => Value::Bool(map.borrow().contains_key(&key_of(k)?)),
        ("containsValue", [v]) => Value::Bool(map.borrow().values().any(|x| equals_depth(x, v, 0))),
        ("put", [k, v]) => map
            .borrow_mut()
            .insert(key_of(k)?, v.clone())
            .unwrap_or(Value::Null),
        ("putIfAbsent", [k, v]) => {
            let key = key_of(k)?;
            let mut entries = map.borrow_mut();
            match entries.get(&key) {
                Some(existing) if !matches!(existing, Value::Null) => existing.clone(),
                _ => {
                    entries.insert(key, v.clone());
                    Value::Null
                }
            }
        }
        ("putAll", [other]) if map_of(other).is_some() => {
            let Some(other) = map_of(other) else {
                return Ok(None);
            };
            add_work(other.borrow().len());
            let extra: Vec<(String, Value)> = other
                .borrow()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            map.borrow_mut().extend(extra);
            Value::string("")
        }
        // Java's LinkedHashMap.remove keeps the order of the other entries.
        ("remove", [k]) => map
            .borrow_mut()
            .shift_remove(&key_of(k)?)
            .unwrap_or(Value::Null),
        ("clear", []) => {
            map.borrow_mut().clear();
            Value::string("")
        }
        ("keySet", []) => Value::list(map.borrow().keys().map(|k| Value::string(k)).collect()),
        ("values", []) => Value::list(map.borrow().values().cloned().collect()),
        ("entrySet", []) => Value::list(
            map.borrow()
                .keys()
                .map(|k| {
                    Value::Object(Rc::new(MapEntry {
                        map: map.clone(),
                        key: Rc::from(k.as_str()),
                    }))
                })
                .collect(),
        ),
        _ => return Ok(None),
    };
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::string(text)
    }

    fn call(target: &Value, name: &str, args: &[Value]) -> Value {
        call_method(target, name, args).unwrap().unwrap()
    }

    fn text(value: &Value) -> String {
        java_string(value, MAX_STRING_BYTES).unwrap()
    }

    #[test]
    fn split_drops_trailing_empty_strings_like_java() {
        assert_eq!(text(&call(&s("a,b,,"), "split", &[s(",")])), "[a, b]");
        assert_eq!(text(&call(&s(",a"), "split", &[s(",")])), "[, a]");
        assert_eq!(text(&call(&s(""), "split", &[s(",")])), "[]");
        assert_eq!(call(&s(""), "split", &[s(",")]), Value::list(vec![s("")]));
        assert_eq!(text(&call(&s(","), "split", &[s(",")])), "[]");
        assert_eq!(text(&call(&s("abc"), "split", &[s("")])), "[a, b, c]");
        assert_eq!(
            text(&call(&s("a1b22c"), "split", &[s("\\d+")])),
            "[a, b, c]"
        );
        assert_eq!(
            text(&call(&s("a,b,,"), "split", &[s(","), Value::Int(-1)])),
            "[a, b, , ]"
        );
        assert_eq!(
            text(&call(&s("a,b,c"), "split", &[s(","), Value::Int(2)])),
            "[a, b,c]"
        );
    }

    #[test]
    fn substring_and_char_at_throw_like_java() {
        assert_eq!(
            call(&s("hello"), "substring", &[Value::Int(1), Value::Int(3)]),
            s("el")
        );
        assert_eq!(call(&s("hello"), "substring", &[Value::Int(5)]), s(""));
        let err = call_method(&s("abc"), "substring", &[Value::Int(5)]).unwrap_err();
        assert_eq!(
            err.0,
            "java.lang.StringIndexOutOfBoundsException: String index out of range: -2"
        );
        let err =
            call_method(&s("abc"), "substring", &[Value::Int(1), Value::Int(10)]).unwrap_err();
        assert!(err.0.ends_with("out of range: 10"), "{err}");
        let err = call_method(&s("abc"), "substring", &[Value::Int(2), Value::Int(1)]).unwrap_err();
        assert!(err.0.ends_with("out of range: -1"), "{err}");
        let err = call_method(&s("abc"), "charAt", &[Value::Int(3)]).unwrap_err();
        assert!(err.0.ends_with("out of range: 3"), "{err}");
        // No such overload: a string index.
        assert_eq!(
            call_method(&s("abc"), "substring", &[s("1")]).unwrap(),
            None
        );
    }

    #[test]
    fn strings_count_utf16_units() {
        assert_eq!(call(&s("😀x"), "length", &[]), Value::Int(3));
        assert_eq!(call(&s("😀x"), "indexOf", &[s("x")]), Value::Int(2));
        assert_eq!(call(&s("é😀x"), "substring", &[Value::Int(1)]), s("😀x"));
        assert_eq!(
            call(&s("abcabc"), "lastIndexOf", &[s("bc"), Value::Int(3)]),
            Value::Int(1)
        );
        assert_eq!(
            call(&s("abcabc"), "indexOf", &[s("bc"), Value::Int(2)]),
            Value::Int(4)
        );
        assert_eq!(call(&s("abc"), "indexOf", &[Value::Int(99)]), Value::Int(2));
    }

    #[test]
    fn regex_methods_use_java_syntax() {
        assert_eq!(
            call(&s("a1b2"), "replaceAll", &[s("(\\d)"), s("<$1>")]),
            s("a<1>b<2>")
        );
        assert_eq!(
            call(&s("a.b.c"), "replaceFirst", &[s("\\."), s("-")]),
            s("a-b.c")
        );
        assert_eq!(
            call(&s("cost: $5"), "replaceAll", &[s("\\$"), s("\\$\\$")]),
            s("cost: $$5")
        );
        assert_eq!(
            call(&s("x.y"), "replaceAll", &[s("\\Q.\\E"), s("!")]),
            s("x!y")
        );
        assert_eq!(
            call(&s("abc123"), "matches", &[s("[a-z]+\\d+")]),
            Value::Bool(true)
        );
        assert_eq!(
            call(&s("abc123x"), "matches", &[s("[a-z]+\\d+")]),
            Value::Bool(false)
        );
        assert_eq!(
            call(&s("ab"), "matches", &[s("\\p{Alpha}+")]),
            Value::Bool(true)
        );
        assert_eq!(call(&s("٣"), "matches", &[s("\\d")]), Value::Bool(false));
        assert!(call_method(&s("a"), "replaceAll", &[s("(a)"), s("$2")]).is_err());
        assert!(call_method(&s("a"), "replaceAll", &[s("a"), s("$x")]).is_err());
        assert!(call_method(&s("a"), "matches", &[s("(?=a)a")]).is_err());
        assert!(call_method(&s("a"), "matches", &[s("a++")]).is_err());
        assert!(call_method(&s("a"), "matches", &[s("(")]).is_err());
    }

    #[test]
    fn string_basics() {
        assert_eq!(call(&s("  hi \t\n"), "trim", &[]), s("hi"));
        assert_eq!(call(&s("Hello"), "toUpperCase", &[]), s("HELLO"));
        assert_eq!(
            call(&s("Hello"), "equalsIgnoreCase", &[s("hELLO")]),
            Value::Bool(true)
        );
        assert_eq!(
            call(&s("a"), "equals", &[Value::Int(1)]),
            Value::Bool(false)
        );
        assert_eq!(call(&s("b"), "compareTo", &[s("a")]), Value::Int(1));
        assert_eq!(call(&s("ab"), "compareTo", &[s("abcd")]), Value::Int(-2));
        assert_eq!(call(&s("a-b"), "replace", &[s("-"), s("+")]), s("a+b"));
        assert_eq!(call(&s("ab"), "replace", &[s(""), s("-")]), s("-a-b-"));
        assert_eq!(call(&s("ab"), "concat", &[s("c")]), s("abc"));
        assert_eq!(call(&s("ab"), "hashCode", &[]), Value::Int(3105));
        assert_eq!(call(&s(""), "isEmpty", &[]), Value::Bool(true));
        assert_eq!(
            call_method(&s("ab"), "contains", &[Value::Int(1)]).unwrap(),
            None
        );
        assert_eq!(call_method(&s("ab"), "nope", &[]).unwrap(), None);
    }

    #[test]
    fn list_methods() {
        let list = Value::list(vec![Value::Int(1), s("a")]);
        assert_eq!(call(&list, "add", &[Value::Int(2)]), Value::Bool(true));
        assert_eq!(call(&list, "size", &[]), Value::Int(3));
        assert_eq!(call(&list, "remove", &[Value::Int(0)]), Value::Int(1));
        assert_eq!(call(&list, "remove", &[s("a")]), Value::Bool(true));
        assert_eq!(text(&list), "[2]");
        assert_eq!(call(&list, "contains", &[Value::Int(2)]), Value::Bool(true));
        assert_eq!(
            call(&list, "contains", &[Value::Float(2.0)]),
            Value::Bool(false)
        );
        assert_eq!(call(&list, "set", &[Value::Int(0), s("x")]), Value::Int(2));
        let err = call_method(&list, "get", &[Value::Int(3)]).unwrap_err();
        assert_eq!(
            err.0,
            "java.lang.IndexOutOfBoundsException: Index: 3, Size: 1"
        );
        assert_eq!(call(&list, "add", &[Value::Int(0), s("y")]), s(""));
        assert_eq!(text(&list), "[y, x]");
        assert_eq!(
            text(&call(&list, "subList", &[Value::Int(1), Value::Int(2)])),
            "[x]"
        );
        assert_eq!(call(&list, "indexOf", &[s("x")]), Value::Int(1));
        assert_eq!(call(&list, "isEmpty", &[]), Value::Bool(false));
    }

    #[test]
    fn map_methods() {
        let map = Value::map(indexmap::IndexMap::new());
        assert_eq!(call(&map, "put", &[s("a"), Value::Int(1)]), Value::Null);
        assert_eq!(call(&map, "put", &[s("a"), Value::Int(2)]), Value::Int(1));
        call(&map, "put", &[s("b"), s("x")]);
        assert_eq!(text(&map), "{a=2, b=x}");
        assert_eq!(text(&call(&map, "keySet", &[])), "[a, b]");
        assert_eq!(text(&call(&map, "values", &[])), "[2, x]");
        assert_eq!(text(&call(&map, "entrySet", &[])), "[a=2, b=x]");
        assert_eq!(call(&map, "containsKey", &[s("b")]), Value::Bool(true));
        assert_eq!(call(&map, "containsValue", &[s("x")]), Value::Bool(true));
        assert_eq!(call(&map, "get", &[s("zz")]), Value::Null);
        assert_eq!(call(&map, "remove", &[s("a")]), Value::Int(2));
        assert_eq!(call(&map, "size", &[]), Value::Int(1));
        let Value::List(entries) = call(&map, "entrySet", &[]) else {
            panic!()
        };
        let entry = entries.borrow()[0].clone();
        assert_eq!(call(&entry, "getKey", &[]), s("b"));
        call(&entry, "setValue", &[s("y")]);
        assert_eq!(text(&map), "{b=y}");
    }

    #[test]
    fn numbers_and_booleans() {
        assert_eq!(call(&Value::Float(2.7), "intValue", &[]), Value::Int(2));
        assert_eq!(call(&Value::Float(-2.7), "intValue", &[]), Value::Int(-2));
        assert_eq!(
            call(&Value::Float(f64::NAN), "intValue", &[]),
            Value::Int(0)
        );
        assert_eq!(
            call(&Value::Float(1e20), "intValue", &[]),
            Value::Int(i64::from(i32::MAX))
        );
        assert_eq!(call(&Value::Int(3), "doubleValue", &[]), Value::Float(3.0));
        assert_eq!(call(&Value::Float(1e10), "toString", &[]), s("1.0E10"));
        assert_eq!(
            call(&Value::Int(3), "compareTo", &[Value::Int(5)]),
            Value::Int(-1)
        );
        assert_eq!(
            call_method(&Value::Int(3), "compareTo", &[Value::Float(5.0)]).unwrap(),
            None
        );
        assert_eq!(call(&Value::Bool(true), "toString", &[]), s("true"));
        assert_eq!(
            call(&Value::Int(1), "equals", &[Value::Float(1.0)]),
            Value::Bool(false)
        );
        let class = call(&s("x"), "getClass", &[]);
        assert_eq!(call(&class, "getName", &[]), s("java.lang.String"));
        assert_eq!(call(&class, "getSimpleName", &[]), s("String"));
    }

    #[test]
    fn printing_survives_cycles_and_limits() {
        let list = Value::list(vec![Value::Int(1)]);
        call(&list, "add", std::slice::from_ref(&list));
        assert_eq!(text(&list), "[1, (this Collection)]");
        let outer = Value::list(vec![]);
        let inner = Value::list(vec![outer.clone()]);
        call(&outer, "add", &[inner]);
        assert!(java_string(&outer, MAX_STRING_BYTES).is_ok());
        assert!(!java_equals(&outer, &Value::list(vec![])));
        // Shared structure: 2^60 paths, compared within the budget.
        let (mut a, mut b) = (Value::list(vec![]), Value::list(vec![]));
        for _ in 0..60 {
            a = Value::list(vec![a.clone(), a]);
            b = Value::list(vec![b.clone(), b]);
        }
        assert!(!java_equals(&a, &b));
        assert!(take_work() > 0);
        assert_eq!(java_string(&s("abcdef"), 3), Err(TooLarge));
    }

    #[test]
    fn properties_follow_velocity_getters() {
        let map = Value::map(indexmap::IndexMap::from([(
            "size".to_owned(),
            Value::Int(9),
        )]));
        assert_eq!(property(&map, "size"), Some(Value::Int(9)));
        assert_eq!(property(&map, "missing"), Some(Value::Null));
        assert_eq!(property(&Value::list(vec![]), "size"), None);
        assert_eq!(
            property(&Value::list(vec![]), "empty"),
            Some(Value::Bool(true))
        );
        assert_eq!(property(&s(""), "empty"), Some(Value::Bool(true)));
        assert_eq!(property(&s("abc"), "length"), None);
    }
}
