//! The root variables a template renders against (`$input`, `$util`, `$context`,
//! `$stageVariables`, or anything an application provides).

use std::borrow::Cow;

use crate::value::Value;

/// How a reference whose value is null (or undefined) renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NullRendering {
    /// As written in the template (`$foo`), Velocity's default.
    #[default]
    Literal,
    /// As empty text, as API Gateway renders mapping templates.
    Empty,
}

/// Root variables by name (without the `$`), and how nulls render.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    /// Few (API Gateway has four): a list searched in order beats hashing.
    vars: Vec<(Cow<'static, str>, Value)>,
    nulls: NullRendering,
}

impl Bindings {
    /// No variables.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a root variable.
    pub fn set(&mut self, name: impl Into<String>, value: Value) -> &mut Self {
        self.set_named(Cow::Owned(name.into()), value)
    }

    /// [`Bindings::set`] with a name that needs no copy.
    pub(crate) fn set_static(&mut self, name: &'static str, value: Value) -> &mut Self {
        self.set_named(Cow::Borrowed(name), value)
    }

    fn set_named(&mut self, name: Cow<'static, str>, value: Value) -> &mut Self {
        match self.vars.iter_mut().find(|(k, _)| *k == name) {
            Some((_, old)) => *old = value,
            None => {
                if self.vars.capacity() == 0 {
                    // API Gateway's four.
                    self.vars.reserve_exact(4);
                }
                self.vars.push((name, value));
            }
        }
        self
    }

    /// Sets how null references render.
    pub fn set_null_rendering(&mut self, nulls: NullRendering) -> &mut Self {
        self.nulls = nulls;
        self
    }

    /// How null references render.
    #[must_use]
    pub fn null_rendering(&self) -> NullRendering {
        self.nulls
    }

    /// A root variable.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Where the root variable `name` is ([`Bindings::value_at`]).
    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        self.vars.iter().position(|(k, _)| k == name)
    }

    /// The root variable at a [`Bindings::position`].
    #[inline]
    pub(crate) fn value_at(&self, position: usize) -> Option<&Value> {
        self.vars.get(position).map(|(_, v)| v)
    }

    /// All root variables, in the order they were first set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.vars.iter().map(|(k, v)| (&**k, v))
    }
}
