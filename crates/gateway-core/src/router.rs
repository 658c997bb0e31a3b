//! The router: resource path templates and methods, matched by AWS's rules.
//!
//! Templates are compiled once into a segment trie. At each level a literal segment
//! beats a `{param}`, which beats a greedy `{name+}`; at a node an explicit method
//! beats `ANY`. Matching walks the trie (binary search among literal children,
//! backtracking to the next-best kind of segment on a dead end), so its cost grows
//! with the depth of the path, not with the number of routes.
//!
//! Two matching modes exist because the two API flavours differ:
//! - [`MatchMode::ResourceFirst`] (REST APIs): the most specific *resource* is chosen
//!   by path alone; a method that resource does not declare is no match, even when
//!   a less specific resource (such as `/{proxy+}`) would have it.
//! - [`MatchMode::RouteFirst`] (HTTP APIs): the most specific *route* is chosen, path
//!   and method together, so a request falls through to a greedy route or the
//!   `$default` route when the more specific path lacks the method.

use std::borrow::Cow;
use std::sync::Arc;

use percent_encoding::percent_decode_str;

use crate::model::RouteMethod;

/// How paths and methods are matched together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchMode {
    /// REST APIs: resource by path, then method on that resource.
    #[default]
    ResourceFirst,
    /// HTTP APIs: most specific route matching path and method.
    RouteFirst,
}

/// Path parameters captured by a match, percent-decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams(Vec<(Arc<str>, String)>);

impl PathParams {
    /// The value of parameter `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All parameters in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, v.as_str()))
    }

    /// Number of parameters.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the route has no parameters.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A route template that cannot be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The template is not a valid API Gateway path.
    #[error("invalid path `{path}`: {reason}")]
    InvalidPath {
        /// The template.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Two sibling path variables with different names, which AWS refuses.
    #[error("`{path}`: path variable `{{{name}}}` conflicts with sibling `{{{existing}}}`")]
    ConflictingParam {
        /// The template.
        path: String,
        /// The new variable.
        name: String,
        /// The variable already at that level.
        existing: String,
    },
    /// The same method and path twice.
    #[error("duplicate route `{method} {path}`")]
    Duplicate {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
}

/// A successful match.
#[derive(Debug)]
pub struct Match<'r, T> {
    /// The value stored with the route.
    pub value: &'r T,
    /// The captured path parameters.
    pub params: PathParams,
}

/// Routes compiled for matching; `T` is whatever the caller stores per route.
#[derive(Debug, Clone)]
pub struct Router<T> {
    root: Node,
    values: Vec<T>,
    default_route: Option<usize>,
    mode: MatchMode,
}

#[derive(Debug, Clone, Default)]
struct Node {
    literals: Vec<(Box<str>, Node)>,
    param: Option<Box<(Arc<str>, Node)>>,
    greedy: Option<(Arc<str>, Methods)>,
    methods: Methods,
}

#[derive(Debug, Clone, Default)]
struct Methods {
    exact: Vec<(http::Method, usize)>,
    any: Option<usize>,
}

impl Methods {
    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.any.is_none()
    }

    fn get(&self, method: &http::Method) -> Option<usize> {
        self.exact
            .iter()
            .find(|(m, _)| m == method)
            .map(|&(_, i)| i)
            .or(self.any)
    }

    fn slot(&mut self, method: &RouteMethod) -> Option<&mut Option<usize>> {
        match method {
            RouteMethod::Any => Some(&mut self.any),
            RouteMethod::Method(_) => None,
        }
    }

    fn insert(&mut self, method: &RouteMethod, index: usize) -> bool {
        if let Some(slot) = self.slot(method) {
            if slot.is_some() {
                return false;
            }
            *slot = Some(index);
            return true;
        }
        let RouteMethod::Method(m) = method else {
            return false;
        };
        if self.exact.iter().any(|(e, _)| e == m) {
            return false;
        }
        self.exact.push((m.clone(), index));
        true
    }
}

enum Segment<'a> {
    Literal(&'a str),
    Param(&'a str),
    Greedy(&'a str),
}

fn parse_template(path: &str) -> Result<Vec<Segment<'_>>, RouteError> {
    let invalid = |reason| RouteError::InvalidPath {
        path: path.to_owned(),
        reason,
    };
    if !path.starts_with('/') {
        return Err(invalid("a path must start with `/`"));
    }
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut segments = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if let Some(name) = inner.strip_suffix('+') {
                if i + 1 != parts.len() {
                    return Err(invalid(
                        "a greedy `{name+}` variable must be the last segment",
                    ));
                }
                if !valid_param_name(name) {
                    return Err(invalid(
                        "a path variable name must be letters, digits, `_`, `-` or `.`",
                    ));
                }
                segments.push(Segment::Greedy(name));
            } else {
                if !valid_param_name(inner) {
                    return Err(invalid(
                        "a path variable name must be letters, digits, `_`, `-` or `.`",
                    ));
                }
                segments.push(Segment::Param(inner));
            }
        } else if part.contains(['{', '}']) {
            return Err(invalid("a path variable must take a whole segment"));
        } else {
            segments.push(Segment::Literal(part));
        }
    }
    Ok(segments)
}

fn valid_param_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn decode(segment: &str) -> Cow<'_, str> {
    if segment.contains('%') {
        percent_decode_str(segment).decode_utf8_lossy()
    } else {
        Cow::Borrowed(segment)
    }
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Self::new(MatchMode::default())
    }
}

impl<T> Router<T> {
    /// An empty router.
    #[must_use]
    pub fn new(mode: MatchMode) -> Self {
        Self {
            root: Node::default(),
            values: Vec::new(),
            default_route: None,
            mode,
        }
    }

    /// The matching mode.
    #[must_use]
    pub const fn mode(&self) -> MatchMode {
        self.mode
    }

    /// Number of routes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no route was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Adds a route. `$default` adds the catch-all route of an HTTP API.
    pub fn insert(&mut self, method: &RouteMethod, path: &str, value: T) -> Result<(), RouteError> {
        let index = self.values.len();
        if path == "$default" {
            if self.default_route.is_some() {
                return Err(RouteError::Duplicate {
                    method: method.to_string(),
                    path: path.to_owned(),
                });
            }
            self.default_route = Some(index);
            self.values.push(value);
            return Ok(());
        }
        let segments = parse_template(path)?;
        let mut node = &mut self.root;
        for segment in &segments {
            node = match *segment {
                Segment::Literal(lit) => {
                    let pos = match node.literals.binary_search_by(|(k, _)| (**k).cmp(lit)) {
                        Ok(pos) => pos,
                        Err(pos) => {
                            node.literals.insert(pos, (lit.into(), Node::default()));
                            pos
                        }
                    };
                    &mut node.literals[pos].1
                }
                Segment::Param(name) => {
                    let param = node
                        .param
                        .get_or_insert_with(|| Box::new((name.into(), Node::default())));
                    if &*param.0 != name {
                        return Err(RouteError::ConflictingParam {
                            path: path.to_owned(),
                            name: name.to_owned(),
                            existing: param.0.to_string(),
                        });
                    }
                    &mut param.1
                }
                Segment::Greedy(name) => {
                    let (existing, methods) = node
                        .greedy
                        .get_or_insert_with(|| (name.into(), Methods::default()));
                    if &**existing != name {
                        return Err(RouteError::ConflictingParam {
                            path: path.to_owned(),
                            name: name.to_owned(),
                            existing: existing.to_string(),
                        });
                    }
                    if !methods.insert(method, index) {
                        return Err(RouteError::Duplicate {
                            method: method.to_string(),
                            path: path.to_owned(),
                        });
                    }
                    self.values.push(value);
                    return Ok(());
                }
            };
        }
        if !node.methods.insert(method, index) {
            return Err(RouteError::Duplicate {
                method: method.to_string(),
                path: path.to_owned(),
            });
        }
        self.values.push(value);
        Ok(())
    }

    /// Finds the route for `method` and `path` (the path below the stage, starting
    /// with `/`, still percent-encoded).
    #[must_use]
    pub fn find(&self, method: &http::Method, path: &str) -> Option<Match<'_, T>> {
        let mut captured: Vec<(Arc<str>, Cow<'_, str>)> = Vec::new();
        let found = match self.walk(&self.root, path, method, &mut captured) {
            Walk::Found(i) => i,
            Walk::Stop => return None,
            Walk::Continue => {
                captured.clear();
                self.default_route?
            }
        };
        let params = PathParams(
            captured
                .into_iter()
                .map(|(k, v)| (k, v.into_owned()))
                .collect(),
        );
        Some(Match {
            value: &self.values[found],
            params,
        })
    }

    fn accept(&self, methods: &Methods, method: &http::Method) -> Walk {
        match self.mode {
            MatchMode::ResourceFirst if methods.is_empty() => Walk::Continue,
            MatchMode::ResourceFirst => methods.get(method).map_or(Walk::Stop, Walk::Found),
            MatchMode::RouteFirst => methods.get(method).map_or(Walk::Continue, Walk::Found),
        }
    }

    /// Walks `rest` (the path still to match, possibly with leading slashes)
    /// from `node`, trying literal, then `{param}`, then greedy children.
    fn walk<'p>(
        &self,
        node: &Node,
        rest: &'p str,
        method: &http::Method,
        captured: &mut Vec<(Arc<str>, Cow<'p, str>)>,
    ) -> Walk {
        let rest = rest.trim_start_matches('/');
        if rest.is_empty() {
            return self.accept(&node.methods, method);
        }
        let (raw, after) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let segment = decode(raw);
        if let Ok(pos) = node
            .literals
            .binary_search_by(|(k, _)| (**k).cmp(segment.as_ref()))
        {
            match self.walk(&node.literals[pos].1, after, method, captured) {
                Walk::Continue => {}
                done => return done,
            }
        }
        if let Some(param) = &node.param {
            captured.push((Arc::clone(&param.0), segment));
            match self.walk(&param.1, after, method, captured) {
                Walk::Continue => {
                    captured.pop();
                }
                done => return done,
            }
        }
        if let Some((name, methods)) = &node.greedy {
            let outcome = self.accept(methods, method);
            if let Walk::Found(_) = outcome {
                captured.push((Arc::clone(name), decode(rest.trim_end_matches('/'))));
            }
            return outcome;
        }
        Walk::Continue
    }
}

/// The outcome of walking one branch of the trie.
enum Walk {
    /// A route was found.
    Found(usize),
    /// Nothing here; try the next-best branch.
    Continue,
    /// The most specific resource lacks the method: no match at all (REST).
    Stop,
}
#[cfg(test)]
mod tests;
