//! Values a template works with, modelled on the Java objects Velocity sees.
//!
//! Lists and maps are shared and mutable (`Rc<RefCell<..>>`) because Velocity has
//! reference semantics: after `#set($b = $a)`, `$b.add(1)` changes `$a` too. Maps
//! keep insertion order, as the `LinkedHashMap`s AWS builds from JSON do. Values
//! live only for one render, on one thread; the compiled template is what is shared.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use indexmap::IndexMap;

pub use crate::hash::MapKeyHasher;
pub use crate::json::{JsonKind, JsonRef};

/// A shared, mutable list (`java.util.ArrayList`).
pub type List = Rc<RefCell<Vec<Value>>>;
/// A shared, mutable, insertion-ordered map (`java.util.LinkedHashMap`).
pub type Map = Rc<RefCell<IndexMap<String, Value, MapHasher>>>;

/// The entries of a [`Map`].
pub(crate) type Entries = IndexMap<String, Value, MapHasher>;

/// Hashes the keys of template maps ([`Map`]): much faster than the standard
/// library's SipHash on the short keys JSON has, and keyed with a secret
/// per-process seed so that request payloads cannot be built to collide.
#[derive(Debug, Clone, Copy)]
pub struct MapHasher {
    seed: u64,
}

impl Default for MapHasher {
    fn default() -> Self {
        Self {
            seed: crate::hash::process_seed(),
        }
    }
}

impl std::hash::BuildHasher for MapHasher {
    type Hasher = MapKeyHasher;

    fn build_hasher(&self) -> Self::Hasher {
        MapKeyHasher::new(self.seed)
    }
}

/// A template value.
// A word-sized tag puts every payload at offset 8, so that moving a value copies
// whole words (with a one-byte tag, `Bool`'s payload sits at offset 1 and moves
// copy the bytes in between piecewise, which stalls the CPU's store forwarding).
#[derive(Clone)]
#[repr(u64)]
pub enum Value {
    /// Java `null`; also what an undefined reference evaluates to.
    Null,
    /// `java.lang.Boolean`.
    Bool(bool),
    /// `java.lang.Integer` / `java.lang.Long`.
    Int(i64),
    /// `java.lang.Double`.
    Float(f64),
    /// `java.lang.String`.
    String(Rc<str>),
    /// `java.util.List`.
    List(List),
    /// `java.util.Map`.
    Map(Map),
    /// A host object such as `$input` or `$util`.
    Object(Rc<dyn HostObject>),
    /// A string, array or object read from JSON (`$input.path(..)`, `$context`),
    /// read in place. Arrays are json-smart `JSONArray`s: lists that print as JSON.
    /// [`Value::resolved`] gives the equivalent string, list or map.
    Json(JsonRef),
}

/// An object provided by the host (`$input`, `$util`), with properties and methods.
pub trait HostObject {
    /// The Java-like class name, for error messages.
    fn type_name(&self) -> &'static str;

    /// `$obj.name` (Velocity also tries `getName()`; implement whichever applies).
    fn property(&self, name: &str) -> Option<Value> {
        let _ = name;
        None
    }

    /// `$obj.name(args)`: `Ok(None)` when the object has no such method (the
    /// reference then renders as written, as Velocity does), `Err` when the method
    /// exists but fails.
    fn call(&self, method: &str, args: &[Value]) -> Result<Option<Value>, MethodError>;

    /// What `$obj` renders as.
    fn to_text(&self) -> String;
}

/// A method that exists but failed (bad arguments, invalid JSONPath, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MethodError(pub String);

impl MethodError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl Value {
    /// A string value.
    #[must_use]
    pub fn string(s: &str) -> Self {
        if s.is_empty() {
            // Strings are immutable: every empty one can share one allocation.
            return Self::String(EMPTY.with(Rc::clone));
        }
        Self::String(Rc::from(s))
    }

    /// A new list.
    #[must_use]
    pub fn list(items: Vec<Value>) -> Self {
        Self::List(Rc::new(RefCell::new(items)))
    }

    /// A new map.
    #[must_use]
    pub fn map(entries: IndexMap<String, Value>) -> Self {
        Self::new_map(entries.into_iter().collect())
    }

    /// A new map from entries already hashed as template maps are.
    pub(crate) fn new_map(entries: Entries) -> Self {
        Self::Map(Rc::new(RefCell::new(entries)))
    }

    /// Empty entries for a new map, with room for `capacity` of them.
    pub(crate) fn entries_with_capacity(capacity: usize) -> Entries {
        IndexMap::with_capacity_and_hasher(capacity, MapHasher::default())
    }

    /// Converts parsed JSON the way AWS's JSON parsing does: objects become ordered
    /// maps, arrays lists, integral numbers that fit `i64` integers, other numbers
    /// doubles.
    #[must_use]
    pub fn from_json(json: &serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Self::Null,
            serde_json::Value::Bool(b) => Self::Bool(*b),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(Self::Int)
                .unwrap_or_else(|| Self::Float(n.as_f64().unwrap_or(f64::NAN))),
            serde_json::Value::String(s) => Self::string(s),
            serde_json::Value::Array(items) => {
                Self::list(items.iter().map(Self::from_json).collect())
            }
            serde_json::Value::Object(entries) => Self::new_map(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), Self::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Parses JSON text straight into a value, as [`Value::from_json`] would
    /// convert it after `serde_json::from_str`, with the same errors.
    pub(crate) fn parse_json_text(text: &str) -> Result<Self, serde_json::Error> {
        // The buffers are kept per thread; a parse nested in another (it cannot
        // happen today) would simply use fresh ones.
        let mut scratch = SCRATCH.with(|cell| cell.take());
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let result = serde::de::DeserializeSeed::deserialize(
            JsonSeed {
                scratch: &mut scratch,
            },
            &mut deserializer,
        )
        .and_then(|value| deserializer.end().map(|()| value));
        scratch.entries.clear();
        scratch.items.clear();
        if scratch.entries.capacity() <= MAX_SCRATCH && scratch.items.capacity() <= MAX_SCRATCH {
            SCRATCH.with(|cell| cell.set(scratch));
        }
        result
    }

    /// The Java class name, for error messages.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "Boolean",
            Self::Int(_) => "Integer",
            Self::Float(_) => "Double",
            Self::String(_) => "String",
            Self::List(_) => "ArrayList",
            Self::Map(_) => "LinkedHashMap",
            Self::Object(o) => o.type_name(),
            Self::Json(json) => match json.kind() {
                JsonKind::String => "String",
                JsonKind::Array => "JSONArray",
                JsonKind::Object => "LinkedHashMap",
            },
        }
    }

    /// The value as one of the other variants: a [`Value::Json`] becomes the
    /// string, list or map it stands for (see [`JsonRef::resolve`]); anything else
    /// is returned as it is.
    #[must_use]
    pub fn resolved(&self) -> Value {
        match self {
            Self::Json(json) => json.resolve(),
            other => other.clone(),
        }
    }

    /// The text of a string value ([`Value::String`], or a JSON string).
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            Self::Json(json) => json.as_str(),
            _ => None,
        }
    }

    /// Velocity's truth: only `null` and `false` are false (an empty string is true).
    #[must_use]
    pub fn is_truthy(&self) -> bool {
        !matches!(self, Self::Null | Self::Bool(false))
    }

    /// The text Java's `toString()` gives: `[a, b]` for lists, `{k=v}` for maps,
    /// `1.0E10` for large doubles, `null` for null.
    #[must_use]
    pub fn to_java_string(&self) -> String {
        let mut out = String::new();
        self.write_java(&mut out, 0);
        out
    }

    fn write_java(&self, out: &mut String, depth: usize) {
        // A template can make a list contain itself (`$l.add($l)`); Java prints a
        // direct self-reference as `(this Collection)`. Deeper cycles stop at a
        // nesting bound instead of overflowing the stack.
        if depth > MAX_PRINT_DEPTH {
            out.push_str("...");
            return;
        }
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Self::Int(i) => out.push_str(&i.to_string()),
            Self::Float(f) => out.push_str(&java_double(*f)),
            Self::String(s) => out.push_str(s),
            Self::List(items) => {
                out.push('[');
                for (i, item) in items.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    match item {
                        Self::List(inner) if Rc::ptr_eq(inner, items) => {
                            out.push_str("(this Collection)");
                        }
                        _ => item.write_java(out, depth + 1),
                    }
                }
                out.push(']');
            }
            Self::Map(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push('=');
                    match v {
                        Self::Map(inner) if Rc::ptr_eq(inner, entries) => {
                            out.push_str("(this Map)");
                        }
                        _ => v.write_java(out, depth + 1),
                    }
                }
                out.push('}');
            }
            Self::Object(o) => out.push_str(&o.to_text()),
            Self::Json(json) => {
                let _ = json.write_java(out, usize::MAX, depth);
            }
        }
    }
}

thread_local! {
    /// The empty string, shared.
    static EMPTY: Rc<str> = Rc::from("");
}

/// Buffers shared by every level of one JSON parse: members and elements are
/// collected here first so that each map and list is allocated at its final size.
#[derive(Default)]
struct Scratch {
    entries: Vec<(String, Value)>,
    items: Vec<Value>,
}

/// The most entries or items kept in the per-thread [`Scratch`] between parses.
const MAX_SCRATCH: usize = 4096;

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

/// Deserializes one JSON value into a [`Value`].
struct JsonSeed<'s> {
    scratch: &'s mut Scratch,
}

impl<'de> serde::de::DeserializeSeed<'de> for JsonSeed<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        // As `serde_json::Number::as_i64`, then `as_f64`.
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        // `serde_json::Value` turns a non-finite double into `null`.
        Ok(if f.is_finite() {
            Value::Float(f)
        } else {
            Value::Null
        })
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::string(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        serde::de::DeserializeSeed::deserialize(self, deserializer)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let start = self.scratch.items.len();
        while let Some(item) = seq.next_element_seed(JsonSeed {
            scratch: &mut *self.scratch,
        })? {
            self.scratch.items.push(item);
        }
        let items: Vec<Value> = self.scratch.items.drain(start..).collect();
        Ok(Value::list(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let start = self.scratch.entries.len();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(JsonSeed {
                scratch: &mut *self.scratch,
            })?;
            self.scratch.entries.push((key, value));
        }
        let mut map = Value::entries_with_capacity(self.scratch.entries.len() - start);
        // Later duplicates replace earlier ones in place, as `serde_json` does.
        map.extend(self.scratch.entries.drain(start..));
        Ok(Value::new_map(map))
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => write!(f, "{s:?}"),
            Self::Json(json) if json.as_str().is_some() => {
                write!(f, "{:?}", json.as_str().unwrap_or_default())
            }
            Self::Object(o) => write!(f, "<{}>", o.type_name()),
            other => f.write_str(&other.to_java_string()),
        }
    }
}

/// Drops a value without recursion, however deeply it nests.
#[inline]
pub(crate) fn dismantle(value: Value) {
    // Only lists, maps and JSON documents nest, and only their last reference
    // frees what they hold; everything else drops in place.
    if nests(&value) {
        dismantle_nested(value);
    }
}

#[inline(never)]
fn dismantle_nested(value: Value) {
    let mut stack = Vec::new();
    take_apart(value, &mut stack);
    while let Some(value) = stack.pop() {
        take_apart(value, &mut stack);
    }
}

/// Whether dropping `value` would free nested values (it is the last reference
/// to a list, map or converted document).
#[inline]
fn nests(value: &Value) -> bool {
    match value {
        Value::List(list) => Rc::strong_count(list) == 1,
        Value::Map(map) => Rc::strong_count(map) == 1,
        Value::Json(json) => json.owns_values(),
        _ => false,
    }
}

/// Drops `value`, moving the values it alone held that nest onto `stack`.
fn take_apart(value: Value, stack: &mut Vec<Value>) {
    match value {
        Value::List(list) => {
            if let Ok(cell) = Rc::try_unwrap(list) {
                stack.extend(cell.into_inner().into_iter().filter(nests));
            }
        }
        Value::Map(map) => {
            if let Ok(cell) = Rc::try_unwrap(map) {
                stack.extend(cell.into_inner().into_values().filter(nests));
            }
        }
        Value::Json(json) => {
            stack.extend(crate::json::take_converted(json).into_iter().filter(nests));
        }
        _ => {}
    }
}

/// How deep printing and comparing go into nested lists and maps.
const MAX_PRINT_DEPTH: usize = 200;

impl Value {
    fn eq_bounded(&self, other: &Self, depth: usize) -> bool {
        if depth > MAX_PRINT_DEPTH {
            return false;
        }
        match (self, other) {
            (Self::List(a), Self::List(b)) => {
                Rc::ptr_eq(a, b) || {
                    let (a, b) = (a.borrow(), b.borrow());
                    a.len() == b.len()
                        && a.iter()
                            .zip(b.iter())
                            .all(|(x, y)| x.eq_bounded(y, depth + 1))
                }
            }
            (Self::Map(a), Self::Map(b)) => {
                Rc::ptr_eq(a, b) || {
                    let (a, b) = (a.borrow(), b.borrow());
                    a.len() == b.len()
                        && a.iter()
                            .all(|(k, x)| b.get(k).is_some_and(|y| x.eq_bounded(y, depth + 1)))
                }
            }
            (Self::Json(a), Self::Json(b)) if a.same(b) => true,
            (Self::Json(a), _) => a.resolve().eq_bounded(&other.resolved(), depth + 1),
            (_, Self::Json(b)) => self.eq_bounded(&b.resolve(), depth + 1),
            _ => self == other,
        }
    }
}

impl PartialEq for Value {
    /// Structural equality (lists and maps by content, bounded in depth), for tests
    /// and `equals`.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Null, Self::Null) => true,
            (Self::Bool(a), Self::Bool(b)) => a == b,
            (Self::Int(a), Self::Int(b)) => a == b,
            (Self::Float(a), Self::Float(b)) => a == b,
            (Self::String(a), Self::String(b)) => a == b,
            (Self::List(_), Self::List(_)) | (Self::Map(_), Self::Map(_)) => {
                self.eq_bounded(other, 0)
            }
            (Self::Object(a), Self::Object(b)) => Rc::ptr_eq(a, b),
            (Self::Json(_), _) | (_, Self::Json(_)) => self.eq_bounded(other, 0),
            _ => false,
        }
    }
}

/// Formats a double as Java's `Double.toString` does: plain decimal with at least
/// one fractional digit for magnitudes in [10^-3, 10^7), computerized scientific
/// notation (`1.0E10`, `1.234E-5`) otherwise, `NaN` and `Infinity` by name.
#[must_use]
pub fn java_double(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .to_owned();
    }
    let magnitude = value.abs();
    if (1e-3..1e7).contains(&magnitude) {
        let text = format!("{value}");
        return if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        };
    }
    // Shortest round-trip digits, then Java's d.dddE[-]n layout.
    let sci = format!("{value:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_owned()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exponent}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_three_words() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
        assert_eq!(std::mem::size_of::<Option<Value>>(), 24);
    }

    #[test]
    fn json_read_directly_matches_conversion_from_parsed_json() {
        let cases = [
            r#"{"type": "dog", "price": 249.99, "n": null, "ok": [true, false]}"#,
            r#"[1, -2, 3.5, 1e10, -0, -0.0, 18446744073709551615, 9223372036854775807]"#,
            r#"{"a": 1, "a": 2, "b": {"c": [[], {}]}}"#,
            r#""x\u00e9\n""#,
            "  7  ",
        ];
        for text in cases {
            let json: serde_json::Value = serde_json::from_str(text).unwrap();
            let expected = Value::from_json(&json);
            let direct = Value::parse_json_text(text).unwrap();
            assert_eq!(direct, expected, "{text}");
            assert_eq!(direct.to_java_string(), expected.to_java_string(), "{text}");
        }
        for bad in ["{", "[1,]", "nope", "1 2", "1e400", ""] {
            let expected = serde_json::from_str::<serde_json::Value>(bad).unwrap_err();
            let error = Value::parse_json_text(bad).unwrap_err();
            assert_eq!(error.to_string(), expected.to_string(), "{bad}");
        }
    }

    #[test]
    fn doubles_print_as_java_prints_them() {
        let cases = [
            (1.0, "1.0"),
            (249.99, "249.99"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1234567.0, "1234567.0"),
            (1e7, "1.0E7"),
            (12345678.9, "1.23456789E7"),
            (-2.5e-5, "-2.5E-5"),
            (1e21, "1.0E21"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
        ];
        for (value, expected) in cases {
            assert_eq!(java_double(value), expected, "{value}");
        }
    }

    #[test]
    fn collections_print_as_java_collections() {
        let json: serde_json::Value = serde_json::from_str(
            r#"{"id": 1, "tags": ["a", "b"], "price": 2.5, "x": null, "ok": true}"#,
        )
        .unwrap();
        let value = Value::from_json(&json);
        assert_eq!(
            value.to_java_string(),
            "{id=1, tags=[a, b], price=2.5, x=null, ok=true}"
        );
        assert_eq!(value.type_name(), "LinkedHashMap");
    }

    #[test]
    fn truth_and_equality_follow_velocity() {
        assert!(Value::string("").is_truthy());
        assert!(Value::Int(0).is_truthy());
        assert!(!Value::Null.is_truthy());
        assert!(!Value::Bool(false).is_truthy());
        let a = Value::list(vec![Value::Int(1)]);
        let b = Value::list(vec![Value::Int(1)]);
        assert_eq!(a, b);
        assert_ne!(Value::Int(1), Value::Float(1.0));
    }

    #[test]
    fn self_containing_collections_print_and_compare_without_overflow() {
        let list = Value::list(vec![Value::Int(1)]);
        if let Value::List(items) = &list {
            items.borrow_mut().push(list.clone());
        }
        assert_eq!(list.to_java_string(), "[1, (this Collection)]");
        let outer = Value::list(vec![list.clone()]);
        if let Value::List(items) = &list {
            items.borrow_mut().push(outer.clone());
        }
        // An indirect cycle stops at the depth bound.
        assert!(outer.to_java_string().contains("..."));
        assert!(outer == outer.clone());
        let other = Value::list(vec![list]);
        let _ = outer == other;
        let map = Value::map(IndexMap::new());
        if let Value::Map(entries) = &map {
            entries.borrow_mut().insert("me".to_owned(), map.clone());
        }
        assert_eq!(map.to_java_string(), "{me=(this Map)}");
    }

    #[test]
    fn lists_are_shared_by_reference() {
        let a = Value::list(vec![]);
        let b = a.clone();
        if let Value::List(items) = &b {
            items.borrow_mut().push(Value::Int(7));
        }
        assert_eq!(a.to_java_string(), "[7]");
    }
}
