//! OpenAPI 3.0 for the gateway: documents written for, or exported by, AWS API Gateway,
//! with their `x-amazon-apigateway-*` extensions, turned into the
//! [`gateway_core::model::Api`] the gateway serves.
//!
//! This crate imports; export (the way back) will live next to it. The [`import`]
//! module holds the importer, and its items are re-exported here:
//! [`load_file`], [`load_str`], [`LoadOptions`], [`Loaded`], [`Warning`] and
//! [`LoadError`].
//!
//! ```
//! use gateway_openapi::{LoadOptions, load_str};
//!
//! let doc = r#"
//! openapi: 3.0.1
//! info: { title: PetStore, version: "1.0" }
//! paths:
//!   /pets:
//!     get:
//!       x-amazon-apigateway-integration:
//!         type: http_proxy
//!         httpMethod: GET
//!         uri: http://backend.internal/pets
//! "#;
//! let loaded = load_str(doc, "petstore.yaml", &LoadOptions::default())?;
//! assert_eq!(loaded.api.name, "PetStore");
//! assert_eq!(loaded.api.routes[0].route_key(), "GET /pets");
//! assert!(loaded.warnings.is_empty());
//! # Ok::<(), gateway_openapi::LoadError>(())
//! ```
//!
//! # Accepted documents
//!
//! OpenAPI 3.0.x, in YAML or JSON (JSON is recognised by its leading `{`). Swagger 2.0
//! and OpenAPI 3.1 are refused with an error naming the version found. The protocol
//! is [`LoadOptions::protocol`] when given; otherwise a document with
//! `x-amazon-apigateway-importexport-version` (which HTTP API exports carry) is an HTTP
//! API and any other a REST API.
//!
//! # What is mapped
//!
//! - `info.title`, `info.version`, `info.description` → the API's name, version and
//!   description; the id is [`LoadOptions::api_id`] or a stable 10-character id
//!   hashed from the title.
//! - Every path and its operations (`get` … `trace`, and
//!   `x-amazon-apigateway-any-method` as `ANY`) → one [`Route`] each, in document
//!   order. HTTP APIs may have the `$default` route. Each route is fed to the
//!   gateway's router while loading, so invalid templates, sibling `{param}`s with
//!   different names and duplicate routes fail the load.
//! - Parameters (path-level merged with operation-level, the operation winning) →
//!   `method.request.{path|querystring|header}.NAME` with their `required` flag (path
//!   parameters are always required). Request bodies and response contents → model
//!   names (`#/components/schemas/NAME`, or a generated name for an inline schema,
//!   which is added to the models). Responses → method responses with their
//!   `method.response.header.NAME` headers. Local `$ref`s to `components` are followed.
//! - Security schemes with `x-amazon-apigateway-authorizer` → [`Authorizer`]s in
//!   `Api.authorizers`, by scheme name: Lambda `token` and `request` authorizers,
//!   Cognito user pools (REST APIs) and JWT issuers (HTTP APIs), with their identity
//!   sources, cache TTL, validation expression, user pool ARNs, issuer and audiences,
//!   payload format version and simple responses. Settings AWS would refuse (a
//!   missing URI, issuer, audience or user pool, a TTL outside 0–3600, an authorizer
//!   type the protocol does not have, malformed identity sources) fail the load.
//! - `security` (the operation's, else the root's) → the method's authorization type
//!   (`CUSTOM` for Lambda authorizers), authorizer name and scopes (kept for Cognito
//!   and JWT authorizers), and `api_key_required` for the `x-api-key` scheme;
//!   `x-amazon-apigateway-auth` overrides it.
//! - `x-amazon-apigateway-policy` → `Api.policy`, the resource policy as JSON, once its
//!   outline is checked (statements with an `Effect` of `Allow` or `Deny`).
//! - `x-amazon-apigateway-integration` (also by `$ref` to
//!   `components.x-amazon-apigateway-integrations`) → the [`Integration`], with its
//!   integration responses in document order.
//! - At the root: gateway responses, the API key source, binary media types, request
//!   validators and the default validator; `components.schemas` → models.
//!
//! `docs/openapi-import.md` in the repository lists every extension and field with its
//! treatment.
//!
//! # Warnings and errors
//!
//! What the gateway cannot honour yet but can live without is a [`Warning`]: every
//! `x-amazon-apigateway-*` extension that is not mapped (known ones "not supported
//! yet", unknown ones "unknown extension"), unknown fields inside the AWS objects that
//! are mapped, authorizer settings that do not apply to the authorizer's type or the
//! API's protocol, security schemes with no API Gateway meaning, and
//! methods without an integration (kept with `integration: None`; the gateway answers
//! them with 500). Nothing is skipped silently. Each warning names the file, a dotted
//! location such as `paths./pets.get.x-amazon-apigateway-integration.tlsConfig`, and
//! what was ignored. With [`LoadOptions::strict`] any warning fails the load with
//! [`LoadError::Strict`], which lists them all.
//!
//! What API Gateway would refuse is a [`LoadError`], whose message names the file,
//! then the place (`line:column` for syntax and type errors, a dotted location
//! otherwise), then the problem.
//!
//! [`Route`]: gateway_core::model::Route
//! [`Authorizer`]: gateway_core::model::Authorizer
//! [`Integration`]: gateway_core::model::Integration

pub mod import;

pub use import::{LoadError, LoadOptions, Loaded, Warning, load_file, load_str};
