//! The little XML that STS answers with, and its timestamps.
//!
//! STS speaks the query protocol: every answer is a small XML document
//! (`AssumeRoleResponse/AssumeRoleResult/Credentials/...`, or
//! `ErrorResponse/Error/{Code,Message}`). This reader turns such a document into a
//! tree of elements and nothing more: element names lose their namespace prefix,
//! attributes are skipped, text is decoded (the five predefined entities, character
//! references and CDATA sections), and comments and processing instructions are
//! skipped. A document type declaration is refused rather than interpreted, so no
//! entity is ever expanded. Nesting is limited to [`MAX_DEPTH`] levels.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The deepest nesting accepted (STS answers nest four or five levels).
pub(super) const MAX_DEPTH: usize = 32;

/// An element: its local name, its own text (the text directly inside it,
/// concatenated) and its child elements in document order.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Element {
    pub(super) name: String,
    pub(super) text: String,
    pub(super) children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub(super) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first element named `name` below this one, depth first.
    pub(super) fn descendant(&self, name: &str) -> Option<&Element> {
        for child in &self.children {
            if child.name == name {
                return Some(child);
            }
            if let Some(found) = child.descendant(name) {
                return Some(found);
            }
        }
        None
    }

    /// The trimmed text of the child named `name`, when it has some.
    pub(super) fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }
}

/// Parses a document into its root element.
///
/// # Errors
///
/// A description of the first thing that is not well-formed.
pub(super) fn parse(document: &str) -> Result<Element, String> {
    let mut rest = document.strip_prefix('\u{feff}').unwrap_or(document);
    // Open elements, innermost last, each with its name as written (with prefix).
    let mut open: Vec<(String, Element)> = Vec::new();
    let mut root: Option<Element> = None;

    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("<?") {
            rest = skip_past(after, "?>", "a processing instruction")?;
        } else if let Some(after) = rest.strip_prefix("<!--") {
            rest = skip_past(after, "-->", "a comment")?;
        } else if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after
                .find("]]>")
                .ok_or_else(|| "a CDATA section is not closed".to_owned())?;
            match open.last_mut() {
                Some((_, element)) => element.text.push_str(&after[..end]),
                None => return Err("text outside the root element".to_owned()),
            }
            rest = &after[end + 3..];
        } else if rest.starts_with("<!") {
            return Err("document type declarations are not accepted".to_owned());
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after
                .find('>')
                .ok_or_else(|| "a closing tag is not closed".to_owned())?;
            let name = after[..end].trim();
            let Some((opened, element)) = open.pop() else {
                return Err(format!("`</{name}>` closes nothing"));
            };
            if opened != name {
                return Err(format!("`<{opened}>` is closed by `</{name}>`"));
            }
            attach(&mut open, &mut root, element)?;
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('<') {
            let end = tag_end(after).ok_or_else(|| "a tag is not closed".to_owned())?;
            let tag = &after[..end];
            let (tag, empty) = match tag.strip_suffix('/') {
                Some(tag) => (tag, true),
                None => (tag, false),
            };
            let name = tag
                .split(|c: char| c.is_ascii_whitespace())
                .next()
                .unwrap_or_default();
            if name.is_empty() {
                return Err("a tag has no name".to_owned());
            }
            if root.is_some() {
                return Err(format!("`<{name}>` follows the root element"));
            }
            if open.len() == MAX_DEPTH {
                return Err(format!("elements nest deeper than {MAX_DEPTH} levels"));
            }
            let element = Element {
                name: local_name(name).to_owned(),
                ..Element::default()
            };
            if empty {
                attach(&mut open, &mut root, element)?;
            } else {
                open.push((name.to_owned(), element));
            }
            rest = &after[end + 1..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let raw = &rest[..end];
            match open.last_mut() {
                Some((_, element)) => decode_into(raw, &mut element.text)?,
                None if raw.trim().is_empty() => {}
                None => return Err("text outside the root element".to_owned()),
            }
            rest = &rest[end..];
        }
    }
    if let Some((name, _)) = open.last() {
        return Err(format!("`<{name}>` is not closed"));
    }
    root.ok_or_else(|| "the document has no element".to_owned())
}

/// Adds a finished element to its parent, or makes it the root.
fn attach(
    open: &mut [(String, Element)],
    root: &mut Option<Element>,
    element: Element,
) -> Result<(), String> {
    match open.last_mut() {
        Some((_, parent)) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return Err("the document has two root elements".to_owned()),
    }
    Ok(())
}

/// What follows `end` in `text`.
fn skip_past<'a>(text: &'a str, end: &str, what: &str) -> Result<&'a str, String> {
    text.find(end)
        .map(|at| &text[at + end.len()..])
        .ok_or_else(|| format!("{what} is not closed"))
}

/// The offset of the `>` that ends a tag, skipping quoted attribute values.
fn tag_end(tag: &str) -> Option<usize> {
    let mut quote = None;
    for (at, c) in tag.char_indices() {
        match (quote, c) {
            (None, '>') => return Some(at),
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if q == c => quote = None,
            _ => {}
        }
    }
    None
}

/// A name without its namespace prefix.
fn local_name(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, local)| local)
}

/// Appends `raw` to `out` with its entity and character references decoded.
fn decode_into(raw: &str, out: &mut String) -> Result<(), String> {
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after
            .find(';')
            .filter(|end| *end <= 10)
            .ok_or_else(|| "an `&` starts no entity reference".to_owned())?;
        let entity = &after[..end];
        let decoded = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(decimal) = entity.strip_prefix('#') {
                    decimal.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| format!("unknown entity `&{entity};`"))?
            }
        };
        out.push(decoded);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(())
}

/// Parses an RFC 3339 date-time, as STS writes `Expiration`:
/// `2011-07-15T23:28:33.359Z`, with any number of fraction digits (none, or moto's
/// six), and `Z` or a `±HH:MM` offset.
pub(super) fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let (seconds, nanos) = crate::aws::timestamp::rfc3339(text.trim())?;
    UNIX_EPOCH.checked_add(Duration::new(u64::try_from(seconds).ok()?, nanos))
}
