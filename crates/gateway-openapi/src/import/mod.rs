//! OpenAPI 3.0 import: a document with `x-amazon-apigateway-*` extensions in, an
//! [`Api`] and a list of [`Warning`]s out.
//!
//! See the crate documentation for what is mapped and how warnings work.

use std::path::Path;

use gateway_core::model::{Api, ApiProtocol};

mod doc;
mod error;
mod extensions;
mod map;
mod parse;

pub use error::{LoadError, Warning};

/// How to load a document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Turn every warning into an error: the load fails with [`LoadError::Strict`]
    /// listing all of them.
    pub strict: bool,
    /// The API id; `None` derives a stable 10-character id from `info.title`.
    pub api_id: Option<String>,
    /// The API flavour; `None` reads an HTTP API when the document has
    /// `x-amazon-apigateway-importexport-version` (as HTTP API exports do), a REST
    /// API otherwise.
    pub protocol: Option<ApiProtocol>,
}

/// A loaded API and what the import could not honour.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The API.
    pub api: Api,
    /// Warnings, in the order they were found (empty in strict mode).
    pub warnings: Vec<Warning>,
}

/// Loads an OpenAPI 3.0 document (YAML or JSON) from a file.
///
/// # Errors
///
/// [`LoadError::Io`] when the file cannot be read (or is not UTF-8), and every error
/// [`load_str`] returns, naming the file as given.
pub fn load_file(path: &Path, options: &LoadOptions) -> Result<Loaded, LoadError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        file: file.clone(),
        source,
    })?;
    load_str(&text, &file, options)
}

/// Loads an OpenAPI 3.0 document from text. JSON is recognised by its leading `{`;
/// anything else is read as YAML. `source_name` names the document in errors and
/// warnings.
///
/// # Errors
///
/// - [`LoadError::Syntax`]: not well-formed YAML or JSON (`file:line:column: message`);
/// - [`LoadError::Type`]: a value of the wrong type, with its position and field path;
/// - [`LoadError::UnsupportedVersion`]: Swagger 2.0, OpenAPI 3.1 or anything but 3.0.x;
/// - [`LoadError::Invalid`]: something API Gateway refuses (an unknown gateway response
///   type, a timeout out of range, a duplicate route…), with its dotted location;
/// - [`LoadError::Strict`]: in strict mode, when there is any warning.
pub fn load_str(text: &str, source_name: &str, options: &LoadOptions) -> Result<Loaded, LoadError> {
    let file = source_name;
    let (format, value) = parse::parse_value(text, file)?;
    parse::check_version(&value, file)?;
    let document = parse::parse_document(text, format, file)?;
    let protocol = match options.protocol {
        Some(ApiProtocol::WebSocket) => {
            return Err(LoadError::invalid(
                file,
                "(options)",
                "WebSocket APIs cannot be described by OpenAPI; choose REST or HTTP",
            ));
        }
        Some(protocol) => protocol,
        None if document.importexport_version.is_some() => ApiProtocol::Http,
        None => ApiProtocol::Rest,
    };

    let mut warnings: Vec<Warning> = extensions::scan(&value)
        .into_iter()
        .map(|finding| Warning {
            file: file.to_owned(),
            location: finding.location,
            message: finding.message,
        })
        .collect();
    let (api, mapped_warnings) =
        map::Mapper::new(file, &document, protocol).map(options.api_id.clone())?;
    for warning in mapped_warnings {
        // Path-level parameters are read once per operation; say things once.
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
    }
    if options.strict && !warnings.is_empty() {
        return Err(LoadError::Strict {
            file: file.to_owned(),
            warnings,
        });
    }
    Ok(Loaded { api, warnings })
}
