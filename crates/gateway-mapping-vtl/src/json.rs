//! JSON read in place: a payload (or `$context`) parsed once into a flat tape of
//! nodes that templates read without building maps and lists.
//!
//! A [`JsonRef`] is a string, array or object of such a document. Reading one
//! (`$a.b`, `#foreach`, `.size()`, printing) reads the tape. The first time a
//! template needs something the tape cannot give — a change (`$a.put(..)`), or
//! storing a node inside a list or map — the whole document is converted into
//! ordinary maps and lists, once, and from then on every reference to a node of
//! that document reads and changes its converted map or list: Velocity's reference
//! semantics hold as if the document had been built eagerly.
//!
//! Lists and maps never hold a reference to an unconverted array or object (they
//! hold the converted value instead), so the conversion table of a document never
//! refers back to the document: no reference cycle can keep it alive.
//!
//! Arrays read from JSON are json-smart `JSONArray`s on AWS: they print as JSON
//! (`[{"c":5}]`), not as Java lists, even after a template changed them. Objects
//! are `LinkedHashMap`s and print as Java maps (`{c=5}`).

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use crate::ast::MemberName;
use crate::hash::FxHashMap;
use crate::methods::{TooLarge, push_limited, write_java};
use crate::value::{List, MapHasher, Value, java_double};

/// The bit of a member name in [`Builder`]'s `shapes`, from its length and its
/// first eight bytes (little-endian, zero-padded: see [`name_prefix`]): names
/// with different bits differ.
#[inline]
pub(crate) fn name_bit(prefix: u64, len: usize) -> u64 {
    let mixed = (prefix ^ (len as u64).rotate_right(8)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    1 << (mixed >> 58)
}

/// The mask that keeps the first `len` bytes (at most eight) of a little-endian
/// word: compares a name of `len` bytes with the word read where another starts.
#[inline]
pub(crate) fn prefix_mask(len: usize) -> u64 {
    u64::MAX
        .checked_shr(64 - 8 * len.min(8) as u32)
        .unwrap_or(0)
}

/// The first eight bytes of a name, little-endian, zero-padded.
#[inline]
pub(crate) fn name_prefix(name: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let n = name.len().min(8);
    word[..n].copy_from_slice(&name[..n]);
    u64::from_le_bytes(word)
}

/// One node of a tape. Containers are followed by their contents; an object's
/// members are a [`Node::Key`] each, followed by the member's value.
#[derive(Debug, Clone, Copy)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Text at `start..start + len` of the document's text.
    Str {
        start: u32,
        len: u32,
    },
    /// `len` elements; the array's nodes end before `end`.
    Array {
        len: u32,
        end: u32,
    },
    /// `len` distinct members; the object's nodes end before `end`.
    Object {
        len: u32,
        end: u32,
    },
    /// A member name, and where the member's value is ([`DROPPED`] for a name
    /// repeated later in the object: the first position keeps the last value).
    Key {
        start: u32,
        len: u32,
        value: u32,
    },
}

/// The `value` of a repeated member name's [`Node::Key`].
const DROPPED: u32 = u32::MAX;

/// Objects and arrays larger than this get an index on first lookup.
const INDEX_FROM: u32 = 32;

/// A parsed document's nodes and text.
#[derive(Debug)]
pub(crate) struct Tape {
    nodes: Vec<Node>,
    text: String,
}

/// A document: its tape and, once converted, its maps and lists.
pub(crate) struct Doc {
    tape: Rc<Tape>,
    /// Arrays (as [`Repr::Array`]) and objects (as [`Value::Map`]) by node, once
    /// the document is converted.
    converted: OnceCell<FxHashMap<u32, Value>>,
    /// Lookup indexes of large objects and arrays, built on first use.
    indexes: RefCell<FxHashMap<u32, Index>>,
}

enum Index {
    /// Member name to the node of its value.
    Members(HashMap<Box<str>, u32, MapHasher>),
    /// Element nodes in order.
    Items(Vec<u32>),
}

impl Drop for Doc {
    fn drop(&mut self) {
        // Converted values can nest deeply (a template may nest lists in them):
        // take them apart without recursion.
        if let Some(converted) = self.converted.take() {
            for (_, value) in converted {
                crate::value::dismantle(value);
            }
        }
    }
}

/// A string, array or object read from JSON (`$input.path`, `$context`).
///
/// Templates see it as the value it stands for: a `String`, a `JSONArray` (a list
/// that prints as JSON) or a `LinkedHashMap`. [`JsonRef::resolve`] gives that value
/// as a [`Value::String`], [`Value::List`] or [`Value::Map`].
#[derive(Clone)]
pub struct JsonRef(Repr);

#[derive(Clone)]
enum Repr {
    /// A string of a document.
    Str(Rc<Tape>, u32),
    /// An array or object of a document: read from the tape until the document
    /// is converted, then from the converted value.
    Node(Rc<Doc>, u32),
    /// A converted array: a list that prints as JSON.
    Array(List),
}

/// A string, number or boolean read in place ([`JsonRef::peek`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// What a [`JsonRef`] stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// A `java.lang.String`.
    String,
    /// A `net.minidev.json.JSONArray`: a list that prints as JSON.
    Array,
    /// A `java.util.LinkedHashMap`.
    Object,
}

impl std::fmt::Debug for JsonRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&Value::Json(self.clone()).to_java_string())
    }
}

// ----- building -------------------------------------------------------------------------

/// Builds a tape, from JSON text or from values.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    nodes: Vec<Node>,
    text: String,
    /// Set when the document outgrew 32-bit offsets.
    overflow: bool,
}

/// An object being built whose names may repeat ([`Builder::begin_object`]):
/// where it starts, a bit for each member name chosen by its length and first
/// bytes ([`name_bit`]), whether two names chose the same bit (only then can a
/// name repeat), and how many members it has so far. The caller keeps it while
/// the object's members are added, so that nesting needs no stack here.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObjectBuild {
    at: u32,
    bits: u64,
    alike: bool,
    members: u32,
}

impl ObjectBuild {
    /// Notes a member name.
    #[inline]
    fn note_name(&mut self, bit: u64) {
        self.alike |= self.bits & bit != 0;
        self.bits |= bit;
        self.members += 1;
    }
}

/// Where an object whose names are distinct starts
/// ([`Builder::begin_object_distinct`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObjectStart(u32);

/// The longest source text read into a tape by the scanner (2 GiB): offsets
/// into it and counts of its nodes fit in `u32` below [`DROPPED`].
pub(crate) const MAX_SOURCE: usize = (u32::MAX / 2) as usize;

/// A document too large for a tape (4 GiB of text or nodes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TooBig;

impl Builder {
    pub(crate) fn with_capacity(nodes: usize, text: usize) -> Self {
        Self {
            nodes: Vec::with_capacity(nodes),
            text: String::with_capacity(text),
            overflow: false,
        }
    }

    /// A builder for a document read from `text`: the tape's text starts with
    /// `text`, so that strings can point into it ([`Builder::str_span`]).
    pub(crate) fn for_source(text: &str) -> Self {
        Self::from_source(text, false)
    }

    /// [`Builder::for_source`], for a tape given back with [`Tape::recycle`]
    /// when done with: its buffers are those of the last tape given back.
    pub(crate) fn for_source_recycled(text: &str) -> Self {
        Self::from_source(text, true)
    }

    fn from_source(source: &str, recycled: bool) -> Self {
        let mut spare = SPARE.take();
        let (mut nodes, mut text) = if recycled {
            (
                std::mem::take(&mut spare.nodes),
                std::mem::take(&mut spare.text),
            )
        } else {
            (Vec::new(), String::new())
        };
        SPARE.set(spare);
        // Compact JSON with short members has a node every seven or eight bytes
        // (a 7 KB list of 100 four-member objects has 909): reserving for one per
        // four bytes spares copying the nodes when the guess falls short, and the
        // pages of a large reservation are not touched until used. Room for some
        // escaped strings after the source.
        nodes.reserve(source.len() / 4 + 1);
        text.reserve(source.len() + source.len() / 8);
        text.push_str(source);
        Self {
            nodes,
            text,
            overflow: false,
        }
    }

    #[inline]
    fn offset(&mut self, n: usize) -> u32 {
        // Below `DROPPED` (`u32::MAX`), so it fits.
        if n < DROPPED as usize {
            n as u32
        } else {
            self.overflow = true;
            0
        }
    }

    #[inline]
    fn here(&mut self) -> u32 {
        self.offset(self.nodes.len())
    }

    #[inline]
    pub(crate) fn null(&mut self) {
        self.nodes.push(Node::Null);
    }

    #[inline]
    pub(crate) fn bool(&mut self, b: bool) {
        self.nodes.push(Node::Bool(b));
    }

    #[inline]
    pub(crate) fn int(&mut self, i: i64) {
        self.nodes.push(Node::Int(i));
    }

    #[inline]
    pub(crate) fn float(&mut self, f: f64) {
        self.nodes.push(Node::Float(f));
    }

    /// A number as AWS's JSON parsing reads it (see [`Value::from_json`]).
    fn number(&mut self, n: &serde_json::Number) {
        match n.as_i64() {
            Some(i) => self.int(i),
            None => self.float(n.as_f64().unwrap_or(f64::NAN)),
        }
    }

    fn push_text(&mut self, s: &str) -> (u32, u32) {
        let start = self.offset(self.text.len());
        let len = self.offset(s.len());
        self.text.push_str(s);
        (start, len)
    }

    pub(crate) fn str(&mut self, s: &str) {
        let (start, len) = self.push_text(s);
        self.nodes.push(Node::Str { start, len });
    }

    /// A string value already in the source text, at `start..start + len`.
    ///
    /// The source is shorter than [`MAX_SOURCE`] (the scanner gives up on longer
    /// ones), so the offsets fit without the checks [`Builder::offset`] makes.
    #[inline(always)]
    pub(crate) fn str_span(&mut self, start: usize, len: usize) {
        debug_assert!(start + len < MAX_SOURCE);
        self.nodes.push(Node::Str {
            start: start as u32,
            len: len as u32,
        });
    }

    /// A member name of `object` already in the source text, at
    /// `start..start + len`, whose [`name_prefix`] is `prefix`; its value comes
    /// next. As with [`Builder::str_span`], the offsets fit: every node but the
    /// first takes at least one byte of the source, so there are fewer nodes
    /// than [`MAX_SOURCE`].
    #[inline(always)]
    pub(crate) fn key_span(
        &mut self,
        object: &mut ObjectBuild,
        start: usize,
        len: usize,
        prefix: u64,
    ) {
        object.note_name(name_bit(prefix, len));
        debug_assert!(start + len < MAX_SOURCE && self.nodes.len() < MAX_SOURCE);
        self.nodes.push(Node::Key {
            start: start as u32,
            len: len as u32,
            value: self.nodes.len() as u32 + 1,
        });
    }

    /// A string value written by `write` straight into the document's text.
    pub(crate) fn str_with(&mut self, write: impl FnOnce(&mut String)) {
        let before = self.text.len();
        write(&mut self.text);
        let start = self.offset(before);
        let len = self.offset(self.text.len() - before);
        self.nodes.push(Node::Str { start, len });
    }

    /// A string value, or null.
    pub(crate) fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    /// Starts an array; returns what [`Builder::end_array`] takes.
    #[inline]
    pub(crate) fn begin_array(&mut self) -> u32 {
        let at = self.here();
        self.nodes.push(Node::Array { len: 0, end: 0 });
        at
    }

    #[inline]
    pub(crate) fn end_array(&mut self, at: u32, len: usize) {
        let len = self.offset(len);
        let end = self.here();
        if let Some(node) = self.nodes.get_mut(at as usize) {
            *node = Node::Array { len, end };
        }
    }

    /// Starts an object whose member names may repeat (one read from JSON text);
    /// its members are added with [`Builder::key`] or [`Builder::key_span`] and
    /// their values, and it ends with [`Builder::end_object`].
    #[inline]
    pub(crate) fn begin_object(&mut self) -> ObjectBuild {
        let at = self.here();
        self.nodes.push(Node::Object { len: 0, end: 0 });
        ObjectBuild {
            at,
            bits: 0,
            alike: false,
            members: 0,
        }
    }

    /// A member name of `object`; its value comes next.
    pub(crate) fn key(&mut self, object: &mut ObjectBuild, name: &str) {
        self.key_distinct(name);
        object.note_name(name_bit(name_prefix(name.as_bytes()), name.len()));
    }

    #[inline]
    pub(crate) fn end_object(&mut self, object: ObjectBuild) {
        let at = object.at;
        let dropped = if object.alike {
            self.drop_repeated_members(at)
        } else {
            0
        };
        let len = self.offset(object.members as usize - dropped);
        let end = self.here();
        if let Some(node) = self.nodes.get_mut(at as usize) {
            *node = Node::Object { len, end };
        }
    }

    /// Starts an object whose member names the caller knows to be distinct (the
    /// keys of a map); its members are added with [`Builder::key_distinct`] and
    /// their values, and it ends with [`Builder::end_object_distinct`].
    #[inline]
    pub(crate) fn begin_object_distinct(&mut self) -> ObjectStart {
        let at = self.here();
        self.nodes.push(Node::Object { len: 0, end: 0 });
        ObjectStart(at)
    }

    /// A member name of an object started with [`Builder::begin_object_distinct`];
    /// its value comes next.
    pub(crate) fn key_distinct(&mut self, name: &str) {
        let (start, len) = self.push_text(name);
        let value = self.offset(self.nodes.len() + 1);
        self.nodes.push(Node::Key { start, len, value });
    }

    /// Ends an object started with [`Builder::begin_object_distinct`]: nothing
    /// is checked.
    pub(crate) fn end_object_distinct(&mut self, ObjectStart(at): ObjectStart) {
        #[cfg(debug_assertions)]
        {
            let keys: Vec<u32> = self.member_keys(at).collect();
            debug_assert_eq!(self.clone_for_check().drop_repeated_keys(&keys), 0);
        }
        let len = self.member_keys(at).count();
        let len = self.offset(len);
        let end = self.here();
        if let Some(node) = self.nodes.get_mut(at as usize) {
            *node = Node::Object { len, end };
        }
    }

    /// Drops the repeated names of the object at `at` (see
    /// [`Builder::drop_repeated_keys`]); how many were dropped.
    #[inline(never)]
    fn drop_repeated_members(&mut self, at: u32) -> usize {
        let keys: Vec<u32> = self.member_keys(at).collect();
        self.drop_repeated_keys(&keys)
    }

    /// A copy of the nodes and text, for checks in debug builds.
    #[cfg(debug_assertions)]
    fn clone_for_check(&self) -> Self {
        Self {
            nodes: self.nodes.clone(),
            text: self.text.clone(),
            overflow: false,
        }
    }

    /// The key nodes of the object at `at`, whose members are all added (its own
    /// node not yet finished).
    fn member_keys(&self, at: u32) -> impl Iterator<Item = u32> + '_ {
        let end = self.nodes.len() as u32;
        let mut next = at + 1;
        std::iter::from_fn(move || {
            (next < end).then(|| {
                let key = next;
                next = match self.nodes.get(key as usize + 1) {
                    Some(Node::Array { end, .. } | Node::Object { end, .. }) => *end,
                    _ => key + 2,
                };
                key
            })
        })
    }

    fn key_text(&self, at: u32) -> Option<&str> {
        match self.nodes.get(at as usize) {
            Some(Node::Key { start, len, .. }) => self
                .text
                .get(*start as usize..(*start as usize + *len as usize)),
            _ => None,
        }
    }

    /// The length of the name of the key node at `at`.
    fn key_len(&self, at: u32) -> Option<u32> {
        match self.nodes.get(at as usize) {
            Some(Node::Key { len, .. }) => Some(*len),
            _ => None,
        }
    }

    /// A repeated name keeps its first position and takes its last value, as
    /// `serde_json`'s ordered maps (and `LinkedHashMap.put`) do. Returns how many
    /// members were dropped.
    fn drop_repeated_keys(&mut self, keys: &[u32]) -> usize {
        if keys.len() < 2 {
            return 0;
        }
        // (earlier, later) pairs with the same name, the earlier one kept.
        let mut repeats = Vec::new();
        if keys.len() <= 32 {
            // Names of different lengths differ: most pairs are told apart
            // without reading their text.
            for (i, &later) in keys.iter().enumerate().skip(1) {
                let len = self.key_len(later);
                let first = keys[..i]
                    .iter()
                    .find(|&&k| self.key_len(k) == len && self.key_text(k) == self.key_text(later));
                if let Some(&first) = first {
                    repeats.push((first, later));
                }
            }
        } else {
            let mut seen: HashMap<&str, u32, MapHasher> =
                HashMap::with_capacity_and_hasher(keys.len(), MapHasher::default());
            for &key in keys {
                if let Some(name) = self.key_text(key) {
                    match seen.get(name) {
                        Some(&first) => repeats.push((first, key)),
                        None => {
                            seen.insert(name, key);
                        }
                    }
                }
            }
        }
        for &(first, later) in &repeats {
            let value = match self.nodes.get(later as usize) {
                Some(Node::Key { value, .. }) => *value,
                _ => continue,
            };
            if let Some(Node::Key { value: kept, .. }) = self.nodes.get_mut(first as usize) {
                *kept = value;
            }
            if let Some(Node::Key { value: dropped, .. }) = self.nodes.get_mut(later as usize) {
                *dropped = DROPPED;
            }
        }
        repeats.len()
    }

    /// Appends a `serde_json` value.
    pub(crate) fn json(&mut self, json: &serde_json::Value) {
        match json {
            serde_json::Value::Null => self.null(),
            serde_json::Value::Bool(b) => self.bool(*b),
            serde_json::Value::Number(n) => self.number(n),
            serde_json::Value::String(s) => self.str(s),
            serde_json::Value::Array(items) => {
                let at = self.begin_array();
                for item in items {
                    self.json(item);
                }
                self.end_array(at, items.len());
            }
            serde_json::Value::Object(members) => {
                // A `serde_json` map has no repeated keys.
                let at = self.begin_object_distinct();
                for (key, member) in members {
                    self.key_distinct(key);
                    self.json(member);
                }
                self.end_object_distinct(at);
            }
        }
    }

    /// The finished tape.
    fn into_tape(self) -> Result<Tape, TooBig> {
        if self.overflow {
            return Err(TooBig);
        }
        Ok(Tape {
            nodes: self.nodes,
            text: self.text,
        })
    }

    /// The first node as a value: scalars as themselves, strings, arrays and
    /// objects as references into the finished document.
    pub(crate) fn finish(self) -> Result<Value, TooBig> {
        let tape = self.into_tape()?;
        Ok(match tape.nodes.first() {
            None | Some(Node::Null | Node::Key { .. }) => Value::Null,
            Some(&Node::Bool(b)) => Value::Bool(b),
            Some(&Node::Int(i)) => Value::Int(i),
            Some(&Node::Float(f)) => Value::Float(f),
            Some(Node::Str { .. }) => Value::Json(JsonRef(Repr::Str(Rc::new(tape), 0))),
            Some(Node::Array { .. } | Node::Object { .. }) => {
                Value::Json(JsonRef(Repr::Node(Rc::new(Doc::new(tape)), 0)))
            }
        })
    }
}

/// Parses JSON text into a document, with `serde_json`'s errors: the same value
/// [`Value::parse_json_text`] builds, read in place.
pub(crate) fn parse(text: &str) -> Result<Value, serde_json::Error> {
    match crate::scan::scan(text) {
        Ok(scanned) => scanned
            .builder
            .finish()
            .map_err(|TooBig| serde::de::Error::custom("the document is too large")),
        // Malformed, or left to `serde_json`: it reports the error or reads it.
        Err(crate::scan::GiveUp) => parse_with_serde(text),
    }
}

/// `text` printed compactly as [`crate::util::json_string`] prints the same JSON
/// (what `$input.json('$')` gives), read with the fast scanner; `None` when it
/// does not read `text` (malformed, or left to `serde_json`) or when `text` holds
/// an unsigned integer wider than `i64` (which the tape cannot print as given).
pub(crate) fn compact_text(text: &str) -> Option<String> {
    let scanned = crate::scan::scan_into(text, Builder::for_source_recycled(text)).ok()?;
    if scanned.wide_unsigned {
        return None;
    }
    let tape = scanned.builder.into_tape().ok()?;
    let mut out = String::with_capacity(text.len());
    tape.write_compact(0, &mut out);
    tape.recycle();
    Some(out)
}

/// Buffers kept between documents on a thread: the tape of a document that was
/// only printed ([`compact_text`]).
#[derive(Default)]
struct Spare {
    nodes: Vec<Node>,
    text: String,
}

thread_local! {
    static SPARE: std::cell::Cell<Spare> = const {
        std::cell::Cell::new(Spare {
            nodes: Vec::new(),
            text: String::new(),
        })
    };
}

/// The largest buffers kept in [`Spare`], in items (nodes, bytes, objects).
const MAX_SPARE_ITEMS: usize = 64 * 1024;

/// [`parse`], reading with `serde_json`.
pub(crate) fn parse_with_serde(text: &str) -> Result<Value, serde_json::Error> {
    let mut builder = Builder::with_capacity(text.len() / 8 + 1, text.len() / 2);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde::de::DeserializeSeed::deserialize(
        NodeSeed {
            builder: &mut builder,
        },
        &mut deserializer,
    )?;
    deserializer.end()?;
    builder
        .finish()
        .map_err(|TooBig| serde::de::Error::custom("the document is too large"))
}

/// A `serde_json` value as a document (see [`Builder::json`]).
pub(crate) fn from_json(json: &serde_json::Value) -> Value {
    let mut builder = Builder::default();
    builder.json(json);
    builder.finish().unwrap_or(Value::Null)
}

/// Several `serde_json` values as one array (an indefinite JSONPath's selection).
pub(crate) fn array_from_json<V: std::ops::Deref<Target = serde_json::Value>>(
    items: &[V],
) -> Value {
    let mut builder = Builder::default();
    let at = builder.begin_array();
    for item in items {
        builder.json(item);
    }
    builder.end_array(at, items.len());
    builder.finish().unwrap_or(Value::Null)
}

struct NodeSeed<'b> {
    builder: &'b mut Builder,
}

impl<'de> serde::de::DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for NodeSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.builder.bool(b);
        Ok(())
    }

    fn visit_i64<E>(self, i: i64) -> Result<(), E> {
        self.builder.int(i);
        Ok(())
    }

    fn visit_u64<E>(self, u: u64) -> Result<(), E> {
        // As `serde_json::Number::as_i64`, then `as_f64`.
        match i64::try_from(u) {
            Ok(i) => self.builder.int(i),
            Err(_) => self.builder.float(u as f64),
        }
        Ok(())
    }

    fn visit_f64<E>(self, f: f64) -> Result<(), E> {
        // `serde_json::Value` turns a non-finite double into `null`.
        if f.is_finite() {
            self.builder.float(f);
        } else {
            self.builder.null();
        }
        Ok(())
    }

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        self.builder.str(s);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.builder.null();
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        self.builder.null();
        Ok(())
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        serde::de::DeserializeSeed::deserialize(self, deserializer)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let at = self.builder.begin_array();
        let mut len = 0usize;
        while seq
            .next_element_seed(NodeSeed {
                builder: &mut *self.builder,
            })?
            .is_some()
        {
            len += 1;
        }
        self.builder.end_array(at, len);
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let mut object = self.builder.begin_object();
        while access
            .next_key_seed(KeySeed {
                builder: &mut *self.builder,
                object: &mut object,
            })?
            .is_some()
        {
            access.next_value_seed(NodeSeed {
                builder: &mut *self.builder,
            })?;
        }
        self.builder.end_object(object);
        Ok(())
    }
}

struct KeySeed<'b> {
    builder: &'b mut Builder,
    object: &'b mut ObjectBuild,
}

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for KeySeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        self.builder.key(self.object, s);
        Ok(())
    }
}

// ----- reading ---------------------------------------------------------------------------

impl Tape {
    #[inline]
    fn node(&self, at: u32) -> Node {
        self.nodes.get(at as usize).copied().unwrap_or(Node::Null)
    }

    #[inline(always)]
    fn slice(&self, start: u32, len: u32) -> &str {
        // From, then up to: each half is inlined where the whole range's lookup
        // is not.
        self.text
            .get(start as usize..)
            .and_then(|rest| rest.get(..len as usize))
            .unwrap_or("")
    }

    #[inline]
    fn str_at(&self, at: u32) -> &str {
        match self.node(at) {
            Node::Str { start, len } | Node::Key { start, len, .. } => self.slice(start, len),
            _ => "",
        }
    }

    /// Where the nodes of the value at `at` end.
    #[inline]
    fn end_of(&self, at: u32) -> u32 {
        match self.node(at) {
            Node::Array { end, .. } | Node::Object { end, .. } => end,
            _ => at + 1,
        }
    }

    /// The element nodes of the array at `at`.
    fn items(&self, at: u32) -> impl Iterator<Item = u32> + '_ {
        let end = self.end_of(at);
        let mut next = at + 1;
        std::iter::from_fn(move || {
            (next < end).then(|| {
                let item = next;
                next = self.end_of(item);
                item
            })
        })
    }

    /// The (key node, value node) pairs of the object at `at`, in order.
    fn members(&self, at: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        let end = self.end_of(at);
        let mut next = at + 1;
        std::iter::from_fn(move || {
            while next < end {
                let key = next;
                next = self.end_of(key + 1);
                if let Node::Key { value, .. } = self.node(key)
                    && value != DROPPED
                {
                    return Some((key, value));
                }
            }
            None
        })
    }
}

impl Tape {
    /// Gives the tape's buffers back for the next [`Builder::for_source_recycled`].
    fn recycle(self) {
        let Self {
            mut nodes,
            mut text,
        } = self;
        if nodes.capacity() > MAX_SPARE_ITEMS || text.capacity() > MAX_SPARE_ITEMS {
            return;
        }
        nodes.clear();
        text.clear();
        SPARE.with(|cell| {
            let mut spare = cell.take();
            spare.nodes = nodes;
            spare.text = text;
            cell.set(spare);
        });
    }

    /// The value node of the member `name` of the object at `at` (whose nodes end
    /// before `end`), searched in order.
    #[inline(always)]
    fn find_member(&self, at: u32, members: u32, end: u32, name: &str) -> Option<u32> {
        self.find_member_by(at, members, end, |start, len| {
            len as usize == name.len()
                && same_bytes(self.slice(start, len).as_bytes(), name.as_bytes())
        })
    }

    /// [`Tape::find_member`] for a name prepared at compile time: names are told
    /// apart by length and first word before any byte is compared.
    #[inline(always)]
    fn find_member_name(
        &self,
        at: u32,
        members: u32,
        end: u32,
        member: &MemberName,
    ) -> Option<u32> {
        self.find_member_by(at, members, end, |start, len| {
            self.key_is(start, len, member)
        })
    }

    /// The value node of the first member of the object at `at` (`members`
    /// members, nodes ending before `end`) whose name, at `start..start + len` of
    /// the text, `is_name` accepts.
    #[inline(always)]
    fn find_member_by(
        &self,
        at: u32,
        members: u32,
        end: u32,
        is_name: impl Fn(u32, u32) -> bool,
    ) -> Option<u32> {
        if u64::from(end) == u64::from(at) + 1 + 2 * u64::from(members) {
            // Every member is a name and one node (no nested arrays or objects, no
            // repeated names): the names are every other node.
            let nodes = self.nodes.get(at as usize + 1..end as usize)?;
            for pair in nodes.chunks_exact(2) {
                if let Node::Key { start, len, value } = pair[0]
                    && is_name(start, len)
                {
                    return Some(value);
                }
            }
            return None;
        }
        let mut next = at + 1;
        while next < end {
            let Some(&Node::Key { start, len, value }) = self.nodes.get(next as usize) else {
                return None;
            };
            if value != DROPPED && is_name(start, len) {
                return Some(value);
            }
            next = self.end_of(next + 1);
        }
        None
    }

    /// Whether the name at `start..start + len` of the text is `member`.
    #[inline(always)]
    fn key_is(&self, start: u32, len: u32, member: &MemberName) -> bool {
        let len = len as usize;
        if len != member.name.len() {
            return false;
        }
        let bytes = self.text.as_bytes();
        let start = start as usize;
        match bytes.get(start..).and_then(<[u8]>::first_chunk::<8>) {
            // A name is followed by at least `":` and a value, so its first eight
            // bytes are nearly always in the text.
            Some(&word) if len <= 8 => u64::from_le_bytes(word) & member.mask == member.word,
            _ => bytes
                .get(start..start + len)
                .is_some_and(|name| same_bytes(name, member.name.as_bytes())),
        }
    }

    /// Appends the value at `at` as compact JSON (see [`compact_text`]).
    fn write_compact(&self, at: u32, out: &mut String) {
        match self.node(at) {
            Node::Null | Node::Key { .. } => out.push_str("null"),
            Node::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Node::Int(i) => crate::util::push_int(out, i),
            Node::Float(f) => out.push_str(&java_double(f)),
            Node::Str { .. } => crate::util::write_json_string(out, self.str_at(at)),
            Node::Array { .. } => {
                out.push('[');
                for (i, item) in self.items(at).enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.write_compact(item, out);
                }
                out.push(']');
            }
            Node::Object { .. } => {
                out.push('{');
                for (i, (key, value)) in self.members(at).enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    crate::util::write_json_string(out, self.str_at(key));
                    out.push(':');
                    self.write_compact(value, out);
                }
                out.push('}');
            }
        }
    }
}

impl Doc {
    fn new(tape: Tape) -> Self {
        Self {
            tape: Rc::new(tape),
            converted: OnceCell::new(),
            indexes: RefCell::new(FxHashMap::default()),
        }
    }

    /// The value of the node at `at`: scalars as themselves, strings, arrays and
    /// objects as references.
    #[inline]
    fn value_at(self: &Rc<Self>, at: u32) -> Value {
        match self.tape.node(at) {
            Node::Null | Node::Key { .. } => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Int(i) => Value::Int(i),
            Node::Float(f) => Value::Float(f),
            Node::Str { .. } => Value::Json(JsonRef(Repr::Str(self.tape.clone(), at))),
            Node::Array { .. } | Node::Object { .. } => {
                Value::Json(JsonRef(Repr::Node(self.clone(), at)))
            }
        }
    }

    /// The converted map or list of the node at `at`, if the document is converted.
    #[inline]
    fn converted_at(&self, at: u32) -> Option<&Value> {
        self.converted.get().and_then(|table| table.get(&at))
    }

    /// Converts the whole document into maps and lists (once), and returns the
    /// value of the node at `at`.
    fn convert(self: &Rc<Self>, at: u32) -> Value {
        let table = self.converted.get_or_init(|| self.build_converted());
        table.get(&at).cloned().unwrap_or(Value::Null)
    }

    fn build_converted(&self) -> FxHashMap<u32, Value> {
        let tape = &self.tape;
        let mut table = FxHashMap::default();
        // Contents come after their container: converting from the end finds every
        // nested container already converted, without recursion.
        for at in (0..tape.nodes.len() as u32).rev() {
            let child = |table: &FxHashMap<u32, Value>, node: u32| match tape.node(node) {
                Node::Null | Node::Key { .. } => Value::Null,
                Node::Bool(b) => Value::Bool(b),
                Node::Int(i) => Value::Int(i),
                Node::Float(f) => Value::Float(f),
                Node::Str { .. } => Value::Json(JsonRef(Repr::Str(tape.clone(), node))),
                Node::Array { .. } | Node::Object { .. } => {
                    table.get(&node).cloned().unwrap_or(Value::Null)
                }
            };
            let value = match tape.node(at) {
                Node::Array { len, .. } => {
                    let mut items = Vec::with_capacity(len as usize);
                    for item in tape.items(at) {
                        items.push(child(&table, item));
                    }
                    Value::Json(JsonRef(Repr::Array(Rc::new(RefCell::new(items)))))
                }
                Node::Object { len, .. } => {
                    let mut entries = Value::entries_with_capacity(len as usize);
                    for (key, member) in tape.members(at) {
                        let value = child(&table, member);
                        entries.insert(tape.str_at(key).to_owned(), value);
                    }
                    Value::new_map(entries)
                }
                _ => continue,
            };
            table.insert(at, value);
        }
        table
    }

    fn member_index(&self, at: u32, name: &str) -> Option<u32> {
        let mut indexes = self.indexes.borrow_mut();
        let index = indexes.entry(at).or_insert_with(|| {
            let mut members = HashMap::with_hasher(MapHasher::default());
            for (key, value) in self.tape.members(at) {
                members.insert(Box::from(self.tape.str_at(key)), value);
            }
            Index::Members(members)
        });
        match index {
            Index::Members(members) => members.get(name).copied(),
            Index::Items(_) => None,
        }
    }

    fn item_index(&self, at: u32, i: usize) -> Option<u32> {
        let mut indexes = self.indexes.borrow_mut();
        let index = indexes
            .entry(at)
            .or_insert_with(|| Index::Items(self.tape.items(at).collect()));
        match index {
            Index::Items(items) => items.get(i).copied(),
            Index::Members(_) => None,
        }
    }
}

impl JsonRef {
    /// What this stands for.
    #[must_use]
    #[inline]
    pub fn kind(&self) -> JsonKind {
        match &self.0 {
            Repr::Str(..) => JsonKind::String,
            Repr::Array(_) => JsonKind::Array,
            Repr::Node(doc, at) => match doc.tape.node(*at) {
                Node::Array { .. } => JsonKind::Array,
                _ => JsonKind::Object,
            },
        }
    }

    /// The text of a string.
    #[must_use]
    #[inline]
    pub fn as_str(&self) -> Option<&str> {
        match &self.0 {
            Repr::Str(tape, at) => Some(tape.str_at(*at)),
            _ => None,
        }
    }

    /// The value this stands for as an ordinary value: a [`Value::String`], a
    /// [`Value::Map`], or the [`Value::List`] holding an array's elements (shared:
    /// changes to it are changes to the array). Converts the document the first
    /// time an array or object of it is resolved.
    #[must_use]
    pub fn resolve(&self) -> Value {
        match &self.0 {
            Repr::Str(tape, at) => Value::string(tape.str_at(*at)),
            Repr::Array(list) => Value::List(list.clone()),
            Repr::Node(doc, at) => match doc.convert(*at) {
                Value::Json(JsonRef(Repr::Array(list))) => Value::List(list),
                other => other,
            },
        }
    }

    /// The value to store in a list or map: the converted array or object (so
    /// that lists and maps never hold a reference into an unconverted document),
    /// a string as it is.
    pub(crate) fn stored(&self) -> Value {
        match &self.0 {
            Repr::Node(doc, at) => doc.convert(*at),
            _ => Value::Json(self.clone()),
        }
    }

    /// The converted value behind an array or object, if its document is converted
    /// (a [`Value::Map`], or a `Value::Json` holding the converted list).
    fn converted(&self) -> Option<Value> {
        match &self.0 {
            Repr::Node(doc, at) => doc.converted_at(*at).cloned(),
            _ => None,
        }
    }

    /// The list of a converted array.
    #[inline]
    pub(crate) fn list(&self) -> Option<List> {
        match &self.0 {
            Repr::Array(list) => Some(list.clone()),
            Repr::Node(doc, at) => match doc.converted_at(*at) {
                Some(Value::Json(JsonRef(Repr::Array(list)))) => Some(list.clone()),
                _ => None,
            },
            Repr::Str(..) => None,
        }
    }

    /// Whether two references stand for the same array or object (or string node).
    pub(crate) fn same(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Str(a, x), Repr::Str(b, y)) => Rc::ptr_eq(a, b) && x == y,
            (Repr::Node(a, x), Repr::Node(b, y)) => Rc::ptr_eq(a, b) && x == y,
            (Repr::Array(a), Repr::Array(b)) => Rc::ptr_eq(a, b),
            _ => match (self.list(), other.list()) {
                (Some(a), Some(b)) => Rc::ptr_eq(&a, &b),
                _ => false,
            },
        }
    }

    /// `$object.name`: the member's value, `null` when missing; `None` for strings
    /// and arrays.
    pub(crate) fn member(&self, name: &str) -> Option<Value> {
        let Repr::Node(doc, at) = &self.0 else {
            return None;
        };
        if let Some(converted) = doc.converted_at(*at) {
            return match converted {
                Value::Map(map) => Some(map.borrow().get(name).cloned().unwrap_or(Value::Null)),
                _ => None,
            };
        }
        let Node::Object { len, end } = doc.tape.node(*at) else {
            return None;
        };
        let found = if len > INDEX_FROM {
            doc.member_index(*at, name)
        } else {
            doc.tape.find_member(*at, len, end, name)
        };
        Some(found.map_or(Value::Null, |value| doc.value_at(value)))
    }

    /// The scalar at the end of a path of member names, read in place: `None`
    /// when the path leaves unconverted objects, or ends anywhere else than at a
    /// string, number or boolean (the caller then evaluates the path normally).
    #[inline]
    pub(crate) fn peek(&self, path: &[MemberName]) -> Option<Scalar<'_>> {
        let (doc, mut at) = match &self.0 {
            Repr::Str(tape, at) => {
                return path.is_empty().then(|| Scalar::Text(tape.str_at(*at)));
            }
            Repr::Node(doc, at) => (doc, *at),
            Repr::Array(_) => return None,
        };
        if doc.converted.get().is_some() {
            return None;
        }
        let tape = &*doc.tape;
        for member in path {
            let Node::Object { len, end } = tape.node(at) else {
                return None;
            };
            at = if len > INDEX_FROM {
                doc.member_index(at, &member.name)?
            } else {
                tape.find_member_name(at, len, end, member)?
            };
        }
        let node = tape.node(at);
        // Strings first (see `Renderer::render_node`).
        if let Node::Str { start, len } = node {
            return Some(Scalar::Text(tape.slice(start, len)));
        }
        match node {
            Node::Int(i) => Some(Scalar::Int(i)),
            Node::Float(f) => Some(Scalar::Float(f)),
            Node::Bool(b) => Some(Scalar::Bool(b)),
            _ => None,
        }
    }

    /// The element count of an array or member count of an object.
    pub(crate) fn len(&self) -> usize {
        if let Some(converted) = self.converted() {
            return match converted {
                Value::Map(map) => map.borrow().len(),
                Value::Json(JsonRef(Repr::Array(list))) => list.borrow().len(),
                _ => 0,
            };
        }
        match &self.0 {
            Repr::Array(list) => list.borrow().len(),
            Repr::Node(doc, at) => match doc.tape.node(*at) {
                Node::Array { len, .. } | Node::Object { len, .. } => len as usize,
                _ => 0,
            },
            Repr::Str(..) => 0,
        }
    }

    /// Element `i` of an array (`None` out of range or for non-arrays).
    pub(crate) fn item(&self, i: usize) -> Option<Value> {
        if let Some(list) = self.list() {
            return list.borrow().get(i).cloned();
        }
        let Repr::Node(doc, at) = &self.0 else {
            return None;
        };
        let Node::Array { len, .. } = doc.tape.node(*at) else {
            return None;
        };
        if i >= len as usize {
            return None;
        }
        let node = if len > INDEX_FROM {
            doc.item_index(*at, i)
        } else {
            doc.tape.items(*at).nth(i)
        };
        node.map(|node| doc.value_at(node))
    }

    /// A cursor over an unconverted array's elements, for `#foreach`.
    pub(crate) fn cursor(&self) -> Option<Cursor> {
        match &self.0 {
            Repr::Node(doc, at) if doc.converted_at(*at).is_none() => match doc.tape.node(*at) {
                Node::Array { .. } => Some(Cursor {
                    doc: doc.clone(),
                    next: at + 1,
                }),
                _ => None,
            },
            _ => None,
        }
    }

    /// Appends Java's `toString()`: a string as itself, an object as a Java map, an
    /// array as JSON.
    pub(crate) fn write_java(
        &self,
        out: &mut String,
        limit: usize,
        depth: usize,
    ) -> Result<(), TooLarge> {
        match &self.0 {
            Repr::Str(tape, at) => push_limited(out, tape.str_at(*at), limit),
            Repr::Array(_) => write_json(&Value::Json(self.clone()), out, limit, depth),
            Repr::Node(doc, at) => match doc.converted_at(*at) {
                Some(Value::Map(map)) => write_java_map(map, Some(self), out, limit, depth),
                Some(converted) => write_json(converted, out, limit, depth),
                None => match doc.tape.node(*at) {
                    Node::Array { .. } => write_json(&Value::Json(self.clone()), out, limit, depth),
                    _ => {
                        if depth > MAX_PRINT_DEPTH {
                            return push_limited(out, "{...}", limit);
                        }
                        push_limited(out, "{", limit)?;
                        for (i, (key, value)) in doc.tape.members(*at).enumerate() {
                            if i > 0 {
                                push_limited(out, ", ", limit)?;
                            }
                            push_limited(out, doc.tape.str_at(key), limit)?;
                            push_limited(out, "=", limit)?;
                            write_java(&doc.value_at(value), out, limit, depth + 1)?;
                        }
                        push_limited(out, "}", limit)
                    }
                },
            },
        }
    }
}

/// Whether two byte strings of the same length are equal, compared a word at a
/// time (member names are short: calling `memcmp` costs more than comparing).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    fn word8(bytes: &[u8], at: usize) -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    }
    fn word4(bytes: &[u8], at: usize) -> u32 {
        let mut word = [0u8; 4];
        word.copy_from_slice(&bytes[at..at + 4]);
        u32::from_le_bytes(word)
    }
    let len = a.len();
    if len != b.len() {
        return false;
    }
    if len >= 8 {
        // Whole words, the last one overlapping the one before.
        let mut at = 0;
        while at + 8 < len {
            if word8(a, at) != word8(b, at) {
                return false;
            }
            at += 8;
        }
        word8(a, len - 8) == word8(b, len - 8)
    } else if len >= 4 {
        word4(a, 0) == word4(b, 0) && word4(a, len - 4) == word4(b, len - 4)
    } else {
        a == b
    }
}

/// Java's `toString()` of a converted object, `(this Map)` for itself.
fn write_java_map(
    map: &crate::value::Map,
    me: Option<&JsonRef>,
    out: &mut String,
    limit: usize,
    depth: usize,
) -> Result<(), TooLarge> {
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
        let itself = match v {
            Value::Map(inner) => Rc::ptr_eq(inner, map),
            Value::Json(json) => me.is_some_and(|me| json.same(me)),
            _ => false,
        };
        if itself {
            push_limited(out, "(this Map)", limit)?;
        } else {
            write_java(v, out, limit, depth + 1)?;
        }
    }
    push_limited(out, "}", limit)
}

/// How deep printing goes into nested values.
const MAX_PRINT_DEPTH: usize = 100;

/// Appends `value` as JSON, as json-smart prints a `JSONArray` and what it holds:
/// strings quoted (see [`crate::util::json_string`]), lists as arrays, maps as
/// objects, numbers as Java prints them, host objects as their quoted text.
pub(crate) fn write_json(
    value: &Value,
    out: &mut String,
    limit: usize,
    depth: usize,
) -> Result<(), TooLarge> {
    match value {
        Value::Null => push_limited(out, "null", limit),
        Value::Bool(b) => push_limited(out, if *b { "true" } else { "false" }, limit),
        Value::Int(_) => write_java(value, out, limit, depth),
        Value::Float(f) => push_limited(out, &java_double(*f), limit),
        Value::String(s) => push_json_string(out, s, limit),
        Value::Object(o) => push_json_string(out, &o.to_text(), limit),
        Value::List(list) => write_json_items(list.borrow().iter().cloned(), out, limit, depth),
        Value::Map(map) => {
            let entries: Vec<(String, Value)> = map
                .borrow()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            write_json_members(entries.into_iter(), out, limit, depth)
        }
        Value::Json(json) => match &json.0 {
            Repr::Str(tape, at) => push_json_string(out, tape.str_at(*at), limit),
            Repr::Array(list) => write_json_items(list.borrow().iter().cloned(), out, limit, depth),
            Repr::Node(doc, at) => {
                if let Some(converted) = doc.converted_at(*at) {
                    return write_json(converted, out, limit, depth);
                }
                match doc.tape.node(*at) {
                    Node::Array { .. } => write_json_items(
                        doc.tape.items(*at).map(|node| doc.value_at(node)),
                        out,
                        limit,
                        depth,
                    ),
                    _ => write_json_members(
                        doc.tape.members(*at).map(|(key, node)| {
                            (doc.tape.str_at(key).to_owned(), doc.value_at(node))
                        }),
                        out,
                        limit,
                        depth,
                    ),
                }
            }
        },
    }
}

fn write_json_items(
    items: impl Iterator<Item = Value>,
    out: &mut String,
    limit: usize,
    depth: usize,
) -> Result<(), TooLarge> {
    if depth > MAX_PRINT_DEPTH {
        return push_limited(out, "[...]", limit);
    }
    push_limited(out, "[", limit)?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            push_limited(out, ",", limit)?;
        }
        write_json(&item, out, limit, depth + 1)?;
    }
    push_limited(out, "]", limit)
}

fn write_json_members(
    members: impl Iterator<Item = (String, Value)>,
    out: &mut String,
    limit: usize,
    depth: usize,
) -> Result<(), TooLarge> {
    if depth > MAX_PRINT_DEPTH {
        return push_limited(out, "{...}", limit);
    }
    push_limited(out, "{", limit)?;
    for (i, (key, value)) in members.enumerate() {
        if i > 0 {
            push_limited(out, ",", limit)?;
        }
        push_json_string(out, &key, limit)?;
        push_limited(out, ":", limit)?;
        write_json(&value, out, limit, depth + 1)?;
    }
    push_limited(out, "}", limit)
}

fn push_json_string(out: &mut String, s: &str, limit: usize) -> Result<(), TooLarge> {
    let before = out.len();
    crate::util::write_json_string(out, s);
    if out.len() > limit {
        out.truncate(before);
        return Err(TooLarge);
    }
    Ok(())
}

/// Walks an unconverted array for `#foreach`.
pub(crate) struct Cursor {
    doc: Rc<Doc>,
    next: u32,
}

impl Cursor {
    /// The next element (the caller counts them).
    pub(crate) fn next_item(&mut self) -> Value {
        let value = self.doc.value_at(self.next);
        self.next = self.doc.tape.end_of(self.next);
        value
    }

    /// Steps to the next element (the caller counts them) and returns its node,
    /// for [`Cursor::write_into`].
    #[inline]
    pub(crate) fn advance(&mut self) -> u32 {
        let at = self.next;
        self.next = self.doc.tape.end_of(at);
        at
    }

    /// Sets `dest` to the element at `node`: when `dest` already refers to a
    /// node of the same kind in this document, by moving that reference (no
    /// reference counting, no value handed around).
    #[inline]
    pub(crate) fn write_into(&self, node: u32, dest: &mut Value) {
        let moved = match (self.doc.tape.node(node), &mut *dest) {
            (
                Node::Array { .. } | Node::Object { .. },
                Value::Json(JsonRef(Repr::Node(doc, at))),
            ) if Rc::ptr_eq(doc, &self.doc) => {
                *at = node;
                true
            }
            (Node::Str { .. }, Value::Json(JsonRef(Repr::Str(tape, at))))
                if Rc::ptr_eq(tape, &self.doc.tape) =>
            {
                *at = node;
                true
            }
            _ => false,
        };
        if !moved {
            crate::value::dismantle(std::mem::replace(dest, self.doc.value_at(node)));
        }
    }
}

impl JsonRef {
    /// Whether this is the last reference to converted values (dropping it would
    /// free them).
    #[inline]
    pub(crate) fn owns_values(&self) -> bool {
        match &self.0 {
            Repr::Str(..) => false,
            Repr::Node(doc, _) => Rc::strong_count(doc) == 1 && doc.converted.get().is_some(),
            Repr::Array(list) => Rc::strong_count(list) == 1,
        }
    }
}

/// Takes a reference apart for [`crate::value::dismantle`]: when it held the last
/// reference to its document, the document's converted values are handed over to
/// be dropped without recursion.
pub(crate) fn take_converted(json: JsonRef) -> Vec<Value> {
    match json.0 {
        Repr::Node(doc, _) => match Rc::try_unwrap(doc) {
            Ok(mut doc) => doc
                .converted
                .take()
                .map(|table| table.into_values().collect())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        },
        Repr::Array(list) => match Rc::try_unwrap(list) {
            Ok(cell) => cell.into_inner(),
            Err(_) => Vec::new(),
        },
        Repr::Str(..) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{Bindings, Template};

    /// `text` parsed into a document, read in place.
    fn lazy(text: &str) -> Value {
        parse(text).unwrap()
    }

    /// `text` parsed into a document converted up front: every read goes through
    /// the converted maps and lists.
    fn converted(text: &str) -> Value {
        match parse(text).unwrap() {
            Value::Json(json) => json.stored(),
            other => other,
        }
    }

    fn render(template: &str, d: Value) -> Result<String, String> {
        let template = Template::compile(template).map_err(|e| e.to_string())?;
        let mut bindings = Bindings::new();
        bindings.set("d", d);
        template.render(&bindings).map_err(|e| e.to_string())
    }

    #[test]
    fn byte_strings_compare_as_slices_do() {
        for len in 0..24usize {
            let a: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(same_bytes(&a, &a.clone()));
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "{len} {at}");
            }
            assert!(!same_bytes(&a, &a[..len.saturating_sub(1)]) || len == 0);
        }
    }

    #[test]
    fn member_names_of_every_length_are_found_in_place() {
        // Names sharing prefixes, of lengths around the eight-byte word the
        // reader compares first; two escaped (their text follows the source); the
        // last member's name ends the text but for fewer than eight bytes.
        let names: Vec<&str> = (0..20).map(|len| &"abcdefghijklmnopqrst"[..len]).collect();
        let mut members: Vec<String> = (names.iter().enumerate())
            .map(|(i, name)| format!("\"{name}\": {i}"))
            .collect();
        members.push(r#""\u0078yz": "e1", "xy\u007a2345678": "e2", "kkk": "last""#.to_owned());
        let text = format!(r#"{{"n": [1], "o": {{{}}}}}"#, members.join(", "));
        let Value::Json(doc) = lazy(&text) else {
            panic!("not a document");
        };
        let peek = |path: &[&str]| {
            let path: Vec<MemberName> =
                path.iter().map(|n| MemberName::new(&(*n).into())).collect();
            doc.peek(&path)
        };
        for (i, name) in names.iter().enumerate() {
            assert_eq!(peek(&["o", name]), Some(Scalar::Int(i as i64)), "{name:?}");
            for other in ["x", "abcx", "abcdefgx", "abcdefghx", "abcdefghijklmnopqrsx"] {
                if other.len() == name.len() {
                    assert_eq!(peek(&["o", other]), None, "{other:?}");
                }
            }
        }
        assert_eq!(peek(&["o", "xyz"]), Some(Scalar::Text("e1")));
        assert_eq!(peek(&["o", "xyz2345678"]), Some(Scalar::Text("e2")));
        assert_eq!(peek(&["o", "kkk"]), Some(Scalar::Text("last")));
        assert_eq!(peek(&["o", "kk"]), None);
        assert_eq!(peek(&["n", "a"]), None);
    }

    #[test]
    fn values_read_in_place_count_against_the_limits_as_evaluated_ones() {
        let text = r#"{"s": "text", "n": 12, "f": 2.5, "t": true, "b": {"k": "v"}, "z": null}"#;
        let template = Template::compile(
            "$d.s|$d.n|$d.f|$d.t|#if($d.t)y#end|#if($d.b.k)k#end|$d.b.k|$d.z|$d.b.class.simpleName",
        )
        .unwrap();
        for max_output_bytes in 0..50 {
            for max_steps in 0..40 {
                let limits = crate::RenderLimits {
                    max_output_bytes,
                    max_steps,
                    ..crate::RenderLimits::default()
                };
                let results: Vec<_> = [lazy(text), converted(text)]
                    .into_iter()
                    .map(|d| {
                        let mut bindings = Bindings::new();
                        bindings.set("d", d);
                        template.render_with(&bindings, &limits)
                    })
                    .collect();
                assert_eq!(results[0], results[1], "{max_output_bytes} {max_steps}");
            }
        }
    }

    #[test]
    fn values_read_in_place_nest_as_evaluated_ones() {
        // Deep enough nesting reaches the renderer's depth limit somewhere inside
        // the reference or condition: read in place or evaluated, the render
        // must fail (or not) at the same place.
        let text = r#"{"t": true, "s": "x"}"#;
        let mut nesting_errors = std::collections::HashSet::new();
        for (width, shift) in (1..48).flat_map(|w| (0..3).map(move |s| (w, s))) {
            let open = "#if($d.t)$d.s".repeat(width);
            let close = "#end".repeat(width);
            // `#evaluate` recursing (outside macros, where references are read in
            // place); blocks around it shift the depth by one each.
            let template = Template::compile(&format!(
                "#set($t = '{open}#evaluate($t){close}'){}#evaluate($t){}",
                "#if(true)".repeat(shift),
                "#end".repeat(shift),
            ))
            .unwrap();
            let results: Vec<_> = [lazy(text), converted(text)]
                .into_iter()
                .map(|d| {
                    let mut bindings = Bindings::new();
                    bindings.set("d", d);
                    template.render(&bindings)
                })
                .collect();
            assert_eq!(results[0], results[1], "{width}");
            if let Err(crate::RenderError::LimitExceeded {
                limit: crate::Limit::Nesting(_),
                column,
                ..
            }) = results[0]
            {
                nesting_errors.insert(column);
            }
        }
        // The limit was met at several places (conditions, references, macros).
        assert!(nesting_errors.len() > 5, "{nesting_errors:?}");
    }

    #[test]
    fn reads_match_a_converted_document() {
        let text = r#"{"a": [1, "x", {"c": 5}, [2.5, null]], "b": {"k": "v/w", "n": null},
                       "s": "str", "a": [1, "x", {"c": 5}, [2.5, null]], "t": true}"#;
        for template in [
            "$d",
            "$d.a $d.b $d.s $d.t $d.missing",
            "$d.a.size() $d.b.size() $d.a[2].c $d.a[-1] $d.a.get(3)",
            "#foreach($x in $d.a)<$x>#end #foreach($v in $d.b)<$v>#end",
            "$d.a.toString() $d.b.toString() $d.b.keySet() $d.b.values()",
            "$d.class.name $d.a.class.name $d.s.class.name $d.s.length()",
            "#if($d.a == $d.a)same#end #if($d.b == {\"k\": \"v/w\"})eq#end",
            "$d.a.contains(1) $d.a.indexOf(\"x\") $d.b.containsKey(\"n\")",
            "#set($d.b.z = $d.a)$d $d.b.z.add(9)$d.b",
            "$d.a.add($d.b)$d.a $d.b.put(\"q\", 1)$d.a",
            "#set($l = [$d.a, $d.b])$l $l[0].add(3)$d.a",
            "#set($m = {\"x\": $d.a})$m $d.a.clear()$m",
            "#foreach($x in $d.a)#if($foreach.first)$d.a.add(0)#end$x#end",
            "#foreach($x in $d.a)$x#if($foreach.first)$d.a.set(1, 0)#end#end",
            "$d.a[2].put(\"c\", 6)$d.a",
            "#foreach($e in $d.a)#if($foreach.first)#set($first = $e)#end#end$first",
            "#foreach($e in $d.a)#if($foreach.index == 2)#set($third = $e)#end#end$third $third.c",
            "#foreach($velocityCount in $d.a)$velocityCount,#end",
            "#foreach($velocityHasNext in $d.a)$velocityHasNext,#end",
            "#foreach($e in $d.a)#set($e = 'x')$e#end",
            "#foreach($e in $d.a)#foreach($f in $d.a)$e$f;#end#end",
            "#foreach($e in $d.a)[$e]#if($foreach.index == 1)$d.a.add(7)#end#end",
            "#foreach($e in $d.a)[$e]#if($foreach.index == 1)$d.b.put('z', 1)#end#end",
            "#macro(m $l)#foreach($e in $l)$e#end#end#m($d.a)",
            "#set($e = 5)#foreach($e in $d.a)$e#end$e",
            "\"$d.s\" $d.s.toUpperCase() #if($d.s == \"str\")yes#end $d.s.equals(\"str\")",
        ] {
            assert_eq!(
                render(template, lazy(text)),
                render(template, converted(text)),
                "{template}"
            );
        }
    }

    #[test]
    fn arrays_print_as_json_and_objects_as_maps() {
        let d = lazy(r#"{"a": 1, "b": [{"c": 5}, "x/y", 2.0, [true]], "e": {}}"#);
        assert_eq!(
            render("$d", d.clone()).unwrap(),
            r#"{a=1, b=[{"c":5},"x\/y",2.0,[true]], e={}}"#
        );
        assert_eq!(render("$d.b[0]", d.clone()).unwrap(), "{c=5}");
        // Changed, still a JSONArray.
        assert_eq!(
            render("$d.b.add({\"k\": [1]})$d.b", d).unwrap(),
            r#"true[{"c":5},"x\/y",2.0,[true],{"k":[1]}]"#
        );
    }

    #[test]
    fn repeated_names_keep_the_first_position_and_the_last_value() {
        let text = r#"{"a": 1, "b": 2, "a": 3, "a": 4}"#;
        assert_eq!(
            render("$d $d.a $d.size()", lazy(text)).unwrap(),
            "{a=4, b=2} 4 2"
        );
        let many: Vec<String> = (0..40).map(|i| format!("\"k{}\": {i}", i % 20)).collect();
        let text = format!("{{{}}}", many.join(","));
        let expected = render("$d", converted(&text)).unwrap();
        assert_eq!(render("$d", lazy(&text)).unwrap(), expected);
        assert_eq!(render("$d.k3 $d.size()", lazy(&text)).unwrap(), "23 20");
    }

    #[test]
    fn large_objects_and_arrays_are_indexed() {
        let members: Vec<String> = (0..100).map(|i| format!("\"k{i}\": {i}")).collect();
        let items: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let text = format!("{{{}, \"list\": [{}]}}", members.join(","), items.join(","));
        let d = lazy(&text);
        assert_eq!(
            render("$d.k0 $d.k99 $d.nope $d.list[50] $d.list.get(99)", d).unwrap(),
            "0 99 $d.nope 50 99"
        );
    }

    #[test]
    fn converted_documents_are_freed() {
        let d = lazy(r#"{"a": [1, {"b": []}]}"#);
        let Value::Json(json) = &d else { panic!() };
        let Repr::Node(doc, _) = &json.0 else {
            panic!()
        };
        let weak = Rc::downgrade(doc);
        // Changes convert the document; its lists and maps hold converted values,
        // never references back into it.
        render(
            "$d.a.add($d.a[1])$d.a[1].put(\"c\", $d)$d.put(\"d\", $d.a)",
            d,
        )
        .unwrap();
        assert!(weak.upgrade().is_none(), "the document leaked");
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            (-3i64..3).prop_map(serde_json::Value::from),
            prop::sample::select(vec![0.5, 2.0, 1e10]).prop_map(serde_json::Value::from),
            "[a-c/\"]{0,3}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::vec(("[a-c]", inner), 0..4).prop_map(|members| {
                    serde_json::Value::Object(members.into_iter().collect())
                }),
            ]
        })
    }

    /// Template pieces reading and changing `$d`.
    fn fragment() -> impl Strategy<Value = String> {
        let path = prop::sample::select(vec![
            "$d", "$d.a", "$d.b", "$d.c", "$d.a.b", "$d.a[0]", "$d[0]", "$d[1].a", "$d.b[-1]",
        ]);
        let op = prop::sample::select(vec![
            "{P}",
            "{P}.size()",
            "{P}.toString()",
            "{P}.isEmpty()",
            "{P}.class.simpleName",
            "{P}.get(0)",
            "{P}.get(\"a\")",
            "{P}.keySet()",
            "{P}.contains(1)",
            "{P}.length()",
            "#foreach($x in {P})[$x $foreach.index]#end",
            "#if({P} == {Q})eq#else ne#end",
            "#if({P})t#end",
            "{P}.equals({Q})",
            "{P}.add({Q})",
            "{P}.put(\"a\", {Q})",
            "{P}.set(0, {Q})",
            "{P}.remove(0)",
            "#set({P}.a = {Q})",
            "#set($l = [{P}, {Q}])$l",
            "#set($m = {\"k\": {P}})$m",
            "{P}.addAll({Q})",
            "{P}.putAll({Q})",
            "\"{P}\" + {Q}",
        ]);
        (op, path.clone(), path).prop_map(|(op, p, q)| op.replace("{P}", p).replace("{Q}", q))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn documents_read_in_place_render_as_converted_ones(
            doc in json_value(),
            fragments in prop::collection::vec(fragment(), 1..6),
        ) {
            let text = doc.to_string();
            let template = fragments.join(" ");
            prop_assert_eq!(
                render(&template, lazy(&text)),
                render(&template, converted(&text)),
                "{}", template
            );
        }

        #[test]
        fn parsing_matches_the_eager_reader(doc in json_value()) {
            let text = doc.to_string();
            let eager = Value::parse_json_text(&text).unwrap();
            // Equal as values; printed alike except that arrays print as JSON.
            prop_assert_eq!(&lazy(&text), &eager);
            let mut json = String::new();
            write_json(&lazy(&text), &mut json, usize::MAX, 0).unwrap();
            prop_assert_eq!(json, crate::util::json_string(&doc));
        }
    }
}
