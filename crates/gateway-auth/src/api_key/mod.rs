//! API keys: the store of keys, and the check a method with `apiKeyRequired`
//! makes.
//!
//! - [`ApiKey`]: one key (`id`, `name`, `value`, `enabled`, `description`). Values
//!   are generated as AWS generates them (40 characters of `[A-Za-z0-9]`, ids of 10
//!   lower-case alphanumerics) or imported (20 to 128 visible ASCII characters).
//! - [`ApiKeyStore`]: where keys are looked up by value and by id;
//!   [`InMemoryApiKeyStore`] is the default, fed by the configuration
//!   ([`ApiKeyConfig`]) and changed at run time (import, enable, disable, remove).
//!   Lookups take the same time however much of a guess matches a real key.
//! - [`ApiKeyLayer`]: the tower layer, usable in front of any service, and the
//!   same check as plain functions ([`ApiKeyLayer::check`]) for the per-route
//!   combinator. A missing, unknown or disabled key gets AWS's `403`
//!   `{"message":"Forbidden"}`; an accepted one is recorded as
//!   [`ResolvedApiKey`] and in `$context.identity.apiKey` / `apiKeyId`.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use gateway_auth::api_key::{ApiKeyConfig, ApiKeyLayer, InMemoryApiKeyStore, ResolvedApiKey};
//! use gateway_core::model::ApiKeySource;
//! use http::{Request, StatusCode};
//!
//! let config: Vec<ApiKeyConfig> = serde_json::from_str(
//!     r#"[{"id": "partner01", "name": "partner", "value": "partner-key-0123456789"},
//!         {"name": "generated"}]"#,
//! )?;
//! let store = Arc::new(InMemoryApiKeyStore::from_config(config)?);
//! let layer = ApiKeyLayer::new(store, ApiKeySource::Header);
//!
//! let mut req = Request::get("/pets")
//!     .header("x-api-key", "partner-key-0123456789")
//!     .body(())?;
//! let key = layer.check(&mut req).map_err(|e| e.to_string())?;
//! assert_eq!(key.id, "partner01");
//! assert!(req.extensions().get::<ResolvedApiKey>().is_some());
//!
//! let mut req = Request::get("/pets").header("x-api-key", "guess").body(())?;
//! let err = layer.check(&mut req).err().ok_or("accepted a wrong key")?;
//! assert_eq!(err.status(), StatusCode::FORBIDDEN);
//! assert_eq!(err.message(), Some("Forbidden"));
//!
//! // In front of any service: `tower::ServiceBuilder::new().layer(layer).service(app)`.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod key;
mod layer;
mod store;

pub use key::{
    ApiKey, ApiKeyConfig, ApiKeyError, GENERATED_ID_LEN, GENERATED_VALUE_LEN, MAX_ID_LEN,
    MAX_NAME_LEN, MAX_VALUE_LEN, MIN_VALUE_LEN, generate_id, generate_value,
};
pub use layer::{ApiKeyLayer, ApiKeyService, ResolvedApiKey, ResponseFuture, X_API_KEY};
pub use store::{ApiKeyStore, InMemoryApiKeyStore, constant_time_eq};
