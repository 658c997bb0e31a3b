//! What an import reports: warnings it could live with, and errors it could not.

use std::fmt;

/// Something in the document the import could not honour but could live with, such as
/// an extension that is not supported yet. In strict mode every warning is an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The document's name (a path, or the `source_name` given to
    /// [`load_str`](super::load_str)).
    pub file: String,
    /// Where in the document, as a dotted path (`paths./pets.get.x-amazon-apigateway-integration`).
    pub location: String,
    /// What was not honoured.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.location, self.message)
    }
}

/// Why a document could not be imported. The message always names the file first,
/// then where in it (`line:column` and/or a dotted path), then what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("{file}: cannot read the file: {source}")]
    Io {
        /// The file.
        file: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not well-formed YAML or JSON.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser says.
        message: String,
    },
    /// A value has the wrong type (a list where a map belongs, a string where a
    /// number belongs…).
    #[error("{file}:{line}:{column}: {path}: {message}")]
    Type {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The field's dotted path (`paths./pets.get.x-amazon-apigateway-integration.timeoutInMillis`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The document is not OpenAPI 3.0 (Swagger 2.0, OpenAPI 3.1…).
    #[error(
        "{file}: {location}: `{location}: {version}` is not supported; only OpenAPI 3.0.x \
         documents can be imported"
    )]
    UnsupportedVersion {
        /// The file.
        file: String,
        /// `swagger` or `openapi`.
        location: String,
        /// The version found.
        version: String,
    },
    /// The document is well-formed but means something API Gateway refuses or this
    /// gateway cannot do.
    #[error("{file}: {location}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// The dotted path of the offending value.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// Strict mode: the import produced warnings. All of them are listed; the message
    /// shows the first and counts the others.
    #[error("{file}: {}", strict_summary(.warnings))]
    Strict {
        /// The file.
        file: String,
        /// Every warning, in the order they were found (never empty).
        warnings: Vec<Warning>,
    },
}

impl LoadError {
    /// The file the error is about.
    #[must_use]
    pub fn file(&self) -> &str {
        match self {
            Self::Io { file, .. }
            | Self::Syntax { file, .. }
            | Self::Type { file, .. }
            | Self::UnsupportedVersion { file, .. }
            | Self::Invalid { file, .. }
            | Self::Strict { file, .. } => file,
        }
    }

    pub(crate) fn invalid(
        file: &str,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            file: file.to_owned(),
            location: location.into(),
            message: message.into(),
        }
    }
}

fn strict_summary(warnings: &[Warning]) -> String {
    let mut out = String::new();
    if let Some(first) = warnings.first() {
        out.push_str(&first.location);
        out.push_str(": ");
        out.push_str(&first.message);
    }
    out.push_str(" (strict mode turns warnings into errors");
    let rest = warnings.get(1..).unwrap_or_default();
    if !rest.is_empty() {
        out.push_str(&format!("; {} more: ", rest.len()));
        let listed: Vec<String> = rest
            .iter()
            .map(|w| format!("{}: {}", w.location, w.message))
            .collect();
        out.push_str(&listed.join("; "));
    }
    out.push(')');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warning(location: &str, message: &str) -> Warning {
        Warning {
            file: "api.yaml".to_owned(),
            location: location.to_owned(),
            message: message.to_owned(),
        }
    }

    #[test]
    fn warnings_display_file_location_message() {
        assert_eq!(
            warning("x-amazon-apigateway-policy", "not supported").to_string(),
            "api.yaml: x-amazon-apigateway-policy: not supported"
        );
    }

    #[test]
    fn strict_errors_show_first_warning_and_the_rest() {
        let one = LoadError::Strict {
            file: "api.yaml".to_owned(),
            warnings: vec![warning("a", "first")],
        };
        assert_eq!(
            one.to_string(),
            "api.yaml: a: first (strict mode turns warnings into errors)"
        );
        let two = LoadError::Strict {
            file: "api.yaml".to_owned(),
            warnings: vec![warning("a", "first"), warning("b.c", "second")],
        };
        assert_eq!(
            two.to_string(),
            "api.yaml: a: first (strict mode turns warnings into errors; 1 more: b.c: second)"
        );
        assert_eq!(two.file(), "api.yaml");
    }

    #[test]
    fn parse_errors_put_position_after_file() {
        let err = LoadError::Type {
            file: "f.json".to_owned(),
            line: 3,
            column: 7,
            path: "paths./a.get".to_owned(),
            message: "invalid type".to_owned(),
        };
        assert_eq!(err.to_string(), "f.json:3:7: paths./a.get: invalid type");
    }
}
