//! One API key: its fields, how values and ids are generated, what an imported
//! value must look like, and the configuration shape keys are declared in.

use std::fmt;

use serde::Deserialize;

/// The fewest characters an API key value may have (AWS's lower bound for an
/// imported key).
pub const MIN_VALUE_LEN: usize = 20;
/// The most characters an API key value may have (AWS's upper bound).
pub const MAX_VALUE_LEN: usize = 128;
/// The length of a generated value, as the keys AWS generates have.
pub const GENERATED_VALUE_LEN: usize = 40;
/// The length of a generated key id, as AWS's key ids have.
pub const GENERATED_ID_LEN: usize = 10;
/// The longest name a key may have (AWS's bound).
pub const MAX_NAME_LEN: usize = 1024;
/// The longest id a key may have.
pub const MAX_ID_LEN: usize = 128;

const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALPHANUMERIC: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// An API key: what a caller presents (`value`) and what the gateway knows it by
/// (`id`, `name`).
///
/// Keys are shared as `Arc<ApiKey>` and never change in place: enabling or
/// disabling a key in a store replaces it. `Debug` never prints the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key's id (`$context.identity.apiKeyId`).
    pub id: String,
    /// The key's name.
    pub name: String,
    /// The secret the caller sends (`$context.identity.apiKey`).
    pub value: String,
    /// Whether the key is accepted; a disabled key is refused like an unknown one.
    pub enabled: bool,
    /// A free-form description.
    pub description: Option<String>,
}

/// Why a key or a key operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiKeyError {
    /// The value is shorter than [`MIN_VALUE_LEN`] or longer than [`MAX_VALUE_LEN`].
    #[error(
        "api key `{name}`: the value has {len} characters; it needs {MIN_VALUE_LEN} to {MAX_VALUE_LEN}"
    )]
    ValueLength {
        /// The key's name.
        name: String,
        /// The value's length in characters.
        len: usize,
    },
    /// The value has a character a client could not send in a header.
    #[error(
        "api key `{name}`: the value may hold only visible ASCII characters (no spaces or control characters)"
    )]
    ValueCharacters {
        /// The key's name.
        name: String,
    },
    /// The name is empty or longer than [`MAX_NAME_LEN`].
    #[error("api key name: must have 1 to {MAX_NAME_LEN} characters, has {len}")]
    NameLength {
        /// The name's length in characters.
        len: usize,
    },
    /// The id is empty, too long, or has characters other than ASCII letters,
    /// digits, `-` and `_`.
    #[error(
        "api key `{name}`: id `{id}` must have 1 to {MAX_ID_LEN} ASCII letters, digits, `-` or `_`"
    )]
    InvalidId {
        /// The key's name.
        name: String,
        /// The offending id.
        id: String,
    },
    /// Another key already has this id.
    #[error("api key id `{id}` is used by more than one key")]
    DuplicateId {
        /// The id in question.
        id: String,
    },
    /// Another key already has this value (the value itself is not shown).
    #[error("api key `{name}` has the same value as the key with id `{existing_id}`")]
    DuplicateValue {
        /// The name of the key being added.
        name: String,
        /// The id of the key that already has the value.
        existing_id: String,
    },
    /// No key has this id.
    #[error("no api key has id `{id}`")]
    NotFound {
        /// The id looked up.
        id: String,
    },
    /// The operating system's random source failed while generating a value or id.
    #[error("could not generate an api key: the system random source failed: {0}")]
    Random(#[from] getrandom::Error),
}

/// How a key is declared in the gateway's configuration:
/// `{"id"?, "name", "value"?, "enabled"?, "description"?}`.
///
/// A missing `value` is generated (40 alphanumerics), a missing `id` is generated
/// (10 lower-case alphanumerics), and `enabled` defaults to `true`. Unknown fields
/// are refused so that a typo cannot silently leave a key enabled or unnamed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The key's id; generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// The key's name.
    pub name: String,
    /// The key's value; generated when absent.
    #[serde(default)]
    pub value: Option<String>,
    /// Whether the key is accepted.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// A free-form description.
    #[serde(default)]
    pub description: Option<String>,
}

fn enabled_by_default() -> bool {
    true
}

impl ApiKey {
    /// A new enabled key named `name`, with a generated id and a generated
    /// 40-character value.
    ///
    /// # Errors
    /// [`ApiKeyError::NameLength`] for a bad name, [`ApiKeyError::Random`] when the
    /// system random source fails.
    pub fn generate(name: impl Into<String>) -> Result<Self, ApiKeyError> {
        let name = name.into();
        check_name(&name)?;
        Ok(Self {
            id: generate_id()?,
            name,
            value: generate_value()?,
            enabled: true,
            description: None,
        })
    }

    /// A new enabled key named `name` with a value chosen elsewhere (an imported
    /// key) and a generated id.
    ///
    /// # Errors
    /// [`ApiKeyError::ValueLength`] or [`ApiKeyError::ValueCharacters`] for a value
    /// AWS would not import or a client could not send, [`ApiKeyError::NameLength`]
    /// for a bad name, [`ApiKeyError::Random`] when the system random source fails.
    pub fn import(name: impl Into<String>, value: impl Into<String>) -> Result<Self, ApiKeyError> {
        let key = Self {
            id: generate_id()?,
            name: name.into(),
            value: value.into(),
            enabled: true,
            description: None,
        };
        key.validate()?;
        Ok(key)
    }

    /// Replaces the id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets whether the key is accepted.
    #[must_use]
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Checks the fields a store relies on.
    ///
    /// The value must have 20 to 128 characters, as AWS requires of imported keys,
    /// and only visible ASCII characters (`!` to `~`): anything else could not
    /// arrive intact in an `x-api-key` header, so such a key could never match.
    /// The name must have 1 to 1024 characters. The id must have 1 to 128 ASCII
    /// letters, digits, `-` or `_` (AWS's own ids are 10 lower-case
    /// alphanumerics; ids from configuration are allowed a little more).
    ///
    /// # Errors
    /// The first rule broken, as an [`ApiKeyError`] naming the key.
    pub fn validate(&self) -> Result<(), ApiKeyError> {
        check_name(&self.name)?;
        let id_ok = !self.id.is_empty()
            && self.id.len() <= MAX_ID_LEN
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(ApiKeyError::InvalidId {
                name: self.name.clone(),
                id: self.id.clone(),
            });
        }
        let len = self.value.chars().count();
        if !(MIN_VALUE_LEN..=MAX_VALUE_LEN).contains(&len) {
            return Err(ApiKeyError::ValueLength {
                name: self.name.clone(),
                len,
            });
        }
        if !self.value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiKeyError::ValueCharacters {
                name: self.name.clone(),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("value", &"<redacted>")
            .field("enabled", &self.enabled)
            .field("description", &self.description)
            .finish()
    }
}

impl ApiKeyConfig {
    /// The key this entry declares, with its missing id and value generated.
    ///
    /// # Errors
    /// As [`ApiKey::validate`], and [`ApiKeyError::Random`] when generation fails.
    pub fn into_key(self) -> Result<ApiKey, ApiKeyError> {
        let key = ApiKey {
            id: match self.id {
                Some(id) => id,
                None => generate_id()?,
            },
            name: self.name,
            value: match self.value {
                Some(value) => value,
                None => generate_value()?,
            },
            enabled: self.enabled,
            description: self.description,
        };
        key.validate()?;
        Ok(key)
    }
}

/// A fresh key value: 40 characters drawn uniformly from `[A-Za-z0-9]` with the
/// system random source.
///
/// # Errors
/// [`ApiKeyError::Random`] when the system random source fails.
pub fn generate_value() -> Result<String, ApiKeyError> {
    random_string(ALPHANUMERIC, GENERATED_VALUE_LEN)
}

/// A fresh key id: 10 characters drawn uniformly from `[a-z0-9]`.
///
/// # Errors
/// [`ApiKeyError::Random`] when the system random source fails.
pub fn generate_id() -> Result<String, ApiKeyError> {
    random_string(LOWER_ALPHANUMERIC, GENERATED_ID_LEN)
}

/// `len` characters of `alphabet`, each drawn uniformly.
///
/// A random byte is kept only when it is below the largest multiple of the
/// alphabet's size that fits in a byte, so `byte % size` favours no character.
fn random_string(alphabet: &[u8], len: usize) -> Result<String, ApiKeyError> {
    let size = alphabet.len();
    debug_assert!((1..=256).contains(&size));
    let limit = 256 - 256 % size;
    let mut out = String::with_capacity(len);
    // Rejection discards under 4% of bytes for 62 characters and under 2% for 36,
    // so one buffer nearly always suffices.
    let mut buf = [0_u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf)?;
        for &b in &buf {
            if usize::from(b) < limit {
                out.push(char::from(alphabet[usize::from(b) % size]));
                if out.len() == len {
                    break;
                }
            }
        }
    }
    Ok(out)
}

fn check_name(name: &str) -> Result<(), ApiKeyError> {
    let len = name.chars().count();
    if len == 0 || len > MAX_NAME_LEN {
        return Err(ApiKeyError::NameLength { len });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn random_strings_use_the_whole_alphabet_evenly() {
        // 62 characters, 248 000 draws: 4 000 of each, give or take 63. A biased
        // draw (plain `byte % 62`) would give the first 8 characters about 4 840.
        // The bounds sit more than 5.5 standard deviations out.
        let text = random_string(ALPHANUMERIC, 248_000).unwrap();
        let mut counts = [0_u32; 128];
        for b in text.bytes() {
            counts[usize::from(b)] += 1;
        }
        for &c in ALPHANUMERIC {
            let n = counts[usize::from(c)];
            assert!(
                (3_650..=4_350).contains(&n),
                "{} drawn {n} times",
                char::from(c)
            );
        }
        assert_eq!(counts.iter().sum::<u32>(), 248_000);
    }

    #[test]
    fn debug_hides_the_value() {
        let key = ApiKey::generate("partner").unwrap();
        let printed = format!("{key:?}");
        assert!(!printed.contains(&key.value));
        assert!(printed.contains(&key.id));
    }

    #[test]
    fn validation_names_the_rule() {
        let key = ApiKey::import("k", "a".repeat(20)).unwrap();
        let err = key.clone().with_id("").validate().unwrap_err();
        assert!(matches!(err, ApiKeyError::InvalidId { .. }), "{err}");
        let err = key.clone().with_id("has space").validate().unwrap_err();
        assert!(matches!(err, ApiKeyError::InvalidId { .. }), "{err}");
        assert!(key.with_id("Key_1-a").validate().is_ok());
        let err = ApiKey::generate("").unwrap_err();
        assert!(matches!(err, ApiKeyError::NameLength { len: 0 }), "{err}");
        let err = ApiKey::import("k", "é".repeat(20)).unwrap_err();
        assert!(matches!(err, ApiKeyError::ValueCharacters { .. }), "{err}");
        assert!(err.to_string().contains("api key `k`"));
    }
}
