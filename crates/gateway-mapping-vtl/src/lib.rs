//! A Velocity Template Language engine that renders API Gateway mapping templates
//! as AWS does.
//!
//! Templates are compiled once into an AST and rendered many times against
//! [`Bindings`]. The AWS bindings (`$input`, `$util`, `$context`, `$stageVariables`)
//! live in [`aws`]; JSONPath as API Gateway accepts it in [`jsonpath`].
//!
//! The language is Velocity 1.7's, whitespace included: [`Template::compile`]
//! parses (refusing templates over API Gateway's 300 KB), [`Template::render`]
//! evaluates under [`RenderLimits`] (1000 iterations per `#foreach`, as API
//! Gateway enforces, plus bounds on macro depth, output size and total work).
//! Java methods on strings, lists, maps and numbers are in [`methods`].

pub mod aws;
pub mod bindings;
pub mod jsonpath;
pub mod methods;
pub mod util;
pub mod value;

mod ast;
mod eval;
mod hash;
mod json;
mod parser;
mod scan;
mod template;

pub use bindings::{Bindings, NullRendering};
pub use parser::ParseError;
pub use template::{Limit, RenderError, RenderLimits, Template};
pub use value::{HostObject, JsonKind, JsonRef, MethodError, Value};
