//! Compiled templates, render limits and render errors.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::ast::Ast;
use crate::bindings::Bindings;
use crate::eval;
use crate::parser::{self, ParseError};
use crate::value::MethodError;

/// A compiled Velocity template: compile once, render many times, from any thread.
///
/// ```
/// use gateway_mapping_vtl::{Bindings, Template, Value};
///
/// let template = Template::compile(
///     "#set($names = [\"a\", \"b\"])\n#foreach($n in $names)$n#if($foreach.hasNext),#end#end",
/// )?;
/// assert_eq!(template.render(&Bindings::new())?, "a,b");
///
/// let mut bindings = Bindings::new();
/// bindings.set("who", Value::string("world"));
/// let hello = Template::compile("Hello, $who! $missing $!missing.")?;
/// assert_eq!(hello.render(&bindings)?, "Hello, world! $missing .");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Template {
    inner: Arc<Inner>,
}

struct Inner {
    ast: Ast,
    source_len: usize,
    /// The output size of the last successful render, a capacity hint for the next.
    output_hint: AtomicUsize,
}

/// The largest output buffer a render reserves up front.
const MAX_OUTPUT_HINT: usize = 64 * 1024;

/// Bounds on one render, so that a hostile template cannot run away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderLimits {
    /// Iterations of any one `#foreach` loop. API Gateway stops templates whose
    /// loops would run longer than 1000 iterations; so does this engine (the
    /// render fails).
    pub max_foreach_iterations: usize,
    /// Nested macro calls, `#define` block renderings and `#evaluate`s
    /// (Velocity's `velocimacro.max.depth` defaults to 20).
    pub max_macro_depth: usize,
    /// Bytes of output, and of any one string built while rendering.
    pub max_output_bytes: usize,
    /// Evaluation steps (nodes, expressions, method calls, loop iterations; long
    /// strings and ranges count in proportion to their size).
    pub max_steps: u64,
}

impl Default for RenderLimits {
    fn default() -> Self {
        Self {
            max_foreach_iterations: 1000,
            max_macro_depth: 20,
            max_output_bytes: 10 * 1024 * 1024,
            max_steps: 10_000_000,
        }
    }
}

/// Why a render failed. Positions are 1-based line and column of the directive
/// or reference being evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// A [`RenderLimits`] bound was reached.
    #[error("line {line}, column {column}: {limit}")]
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// Line of the failing node.
        line: usize,
        /// Column of the failing node.
        column: usize,
    },
    /// A method that exists threw (Velocity's `MethodInvocationException`).
    #[error("line {line}, column {column}: invocation of method '{method}' failed: {source}")]
    Method {
        /// The method (or `get` for an index, `next` for a loop).
        method: String,
        /// Line of the call.
        line: usize,
        /// Column of the call.
        column: usize,
        /// What the method reported.
        source: MethodError,
    },
    /// The text given to `#evaluate` does not parse.
    #[error("line {line}, column {column}: #evaluate: {source}")]
    Evaluate {
        /// Line of the `#evaluate`.
        line: usize,
        /// Column of the `#evaluate`.
        column: usize,
        /// Where the evaluated text is wrong (relative to that text).
        source: ParseError,
    },
    /// `#include` or `#parse`: API Gateway templates cannot load other templates.
    #[error(
        "line {line}, column {column}: #{directive} is not supported (mapping templates cannot load other templates)"
    )]
    Unsupported {
        /// The directive name.
        directive: String,
        /// Line of the directive.
        line: usize,
        /// Column of the directive.
        column: usize,
    },
}

/// The limit a render ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Limit {
    /// A `#foreach` would run more iterations than allowed.
    #[error("#foreach loop exceeded the limit of {0} iterations")]
    ForeachIterations(usize),
    /// Macro calls, `#define` blocks or `#evaluate` nested too deeply.
    #[error("macro/#define/#evaluate recursion exceeded the depth limit of {0}")]
    MacroDepth(usize),
    /// The output, or a string built while rendering, grew too large.
    #[error("output exceeded the limit of {0} bytes")]
    OutputBytes(usize),
    /// Too many evaluation steps.
    #[error("evaluation exceeded the limit of {0} steps")]
    Steps(u64),
    /// Evaluation recursed too deeply (deep nesting inside recursive macros).
    #[error("evaluation nested deeper than {0} levels")]
    Nesting(usize),
}

impl RenderError {
    /// The 1-based line of the failing node.
    #[must_use]
    pub fn line(&self) -> usize {
        match self {
            Self::LimitExceeded { line, .. }
            | Self::Method { line, .. }
            | Self::Evaluate { line, .. }
            | Self::Unsupported { line, .. } => *line,
        }
    }

    /// The 1-based column of the failing node.
    #[must_use]
    pub fn column(&self) -> usize {
        match self {
            Self::LimitExceeded { column, .. }
            | Self::Method { column, .. }
            | Self::Evaluate { column, .. }
            | Self::Unsupported { column, .. } => *column,
        }
    }
}

impl Template {
    /// Parses a template.
    ///
    /// # Errors
    ///
    /// A [`ParseError`] with the line and column of the problem, for templates
    /// Velocity would not parse, templates larger than API Gateway's 300 KB, or
    /// nesting deeper than 200 levels.
    pub fn compile(source: &str) -> Result<Self, ParseError> {
        let ast = parser::parse_template(source)?;
        Ok(Self {
            inner: Arc::new(Inner {
                ast,
                source_len: source.len(),
                output_hint: AtomicUsize::new(0),
            }),
        })
    }

    /// Renders with the default [`RenderLimits`].
    ///
    /// # Errors
    ///
    /// See [`Template::render_with`].
    pub fn render(&self, bindings: &Bindings) -> Result<String, RenderError> {
        self.render_with(bindings, &RenderLimits::default())
    }

    /// Renders against `bindings`. `#set` never changes `bindings`: a root name set
    /// by the template is shadowed for the rest of this render only.
    ///
    /// # Errors
    ///
    /// When a limit is reached, a method throws, `#evaluate` gets text that does
    /// not parse, or the template uses `#include`/`#parse`. Output rendered before
    /// `#stop` is returned normally.
    pub fn render_with(
        &self,
        bindings: &Bindings,
        limits: &RenderLimits,
    ) -> Result<String, RenderError> {
        // Start the output at the size the last render reached, so that it is not
        // grown (and copied) step by step every time.
        let hint = self.inner.output_hint.load(Ordering::Relaxed);
        let result = eval::render(&self.inner.ast, bindings, limits, hint);
        if let Ok(out) = &result {
            let size = out.len().min(MAX_OUTPUT_HINT);
            if size != hint {
                self.inner.output_hint.store(size, Ordering::Relaxed);
            }
        }
        result
    }

    /// The length in bytes of the source this template was compiled from.
    #[must_use]
    pub fn source_len(&self) -> usize {
        self.inner.source_len
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("source_len", &self.inner.source_len)
            .field("nodes", &self.inner.ast.nodes.len())
            .field("macros", &self.inner.ast.macros.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

    #[test]
    fn templates_are_shareable() {
        assert_send_sync_clone::<Template>();
        let template = Template::compile("x").unwrap();
        let copy = template.clone();
        assert!(Arc::ptr_eq(&template.inner, &copy.inner));
        assert_eq!(copy.source_len(), 1);
        assert!(format!("{template:?}").contains("source_len: 1"));
    }

    #[test]
    fn oversized_templates_are_refused() {
        let big = "a".repeat(parser::MAX_TEMPLATE_BYTES + 1);
        let err = Template::compile(&big).unwrap_err();
        assert!(err.message.contains("300 KB"), "{err}");
        assert!(Template::compile(&"a".repeat(parser::MAX_TEMPLATE_BYTES)).is_ok());
    }

    #[test]
    fn errors_report_positions() {
        let err = RenderError::LimitExceeded {
            limit: Limit::ForeachIterations(1000),
            line: 2,
            column: 3,
        };
        assert_eq!((err.line(), err.column()), (2, 3));
        assert_eq!(
            err.to_string(),
            "line 2, column 3: #foreach loop exceeded the limit of 1000 iterations"
        );
    }
}
