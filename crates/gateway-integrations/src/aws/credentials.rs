//! AWS credentials and region, found where the AWS SDKs look for them.
//!
//! # Credentials
//!
//! In order, the first that has an access key wins:
//!
//! 1. The environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, for temporary
//!    credentials, `AWS_SESSION_TOKEN`. Setting one of the first two without the other
//!    is an error rather than a reason to look further, as botocore decides.
//! 2. The profile named by `AWS_PROFILE` (`default` when unset), read from the shared
//!    credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`,
//!    sections `[NAME]`) and the config file (`AWS_CONFIG_FILE`, default
//!    `~/.aws/config`, sections `[profile NAME]`, and `[default]` or
//!    `[profile default]` for the default profile). A key set in both files takes the
//!    credentials file's value. The profile must hold `aws_access_key_id` and
//!    `aws_secret_access_key`, and may hold `aws_session_token` (or the older
//!    `aws_security_token`). Profiles that get their credentials another way (role
//!    assumption, SSO, `credential_process`, web identity) are refused with an error
//!    saying so.
//!
//! A missing file counts as empty; a file that exists but cannot be read is an error.
//! When neither source has credentials the error names the profile and both files.
//!
//! # Region
//!
//! `AWS_REGION`, then `AWS_DEFAULT_REGION`, then the profile's `region`.
//!
//! # The file format
//!
//! The INI dialect the SDKs accept: `[section]` lines, `key = value` (or `key: value`)
//! properties, whole-line comments starting with `#` or `;`, blank lines, whitespace
//! around names and values. Property names are compared without regard to case;
//! profile names are case-sensitive. An indented line continues the property before
//! it (the SDKs' nested `s3 =` settings) and does not matter here. Comments after a
//! section header are dropped; comments after a value are not, because `#` and `;`
//! may be part of a value. Lines that are none of these are skipped.
//!
//! # The environment
//!
//! Every lookup goes through an [`Environment`], a function from variable names to
//! values: [`Environment::process`] reads the process's variables, and tests build
//! their own with [`Environment::from_pairs`] so nothing mutates the process's
//! environment. The home directory is `HOME` (or `USERPROFILE`) from the same
//! function.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// An AWS access key, with a session token for temporary credentials.
///
/// `Debug` shows the access key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (`AKIA...`, `ASIA...`).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

impl Credentials {
    /// Long-term credentials: an access key and its secret.
    #[must_use]
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }

    /// Adds the session token of temporary credentials.
    #[must_use]
    pub fn with_session_token(mut self, session_token: impl Into<String>) -> Self {
        self.session_token = Some(session_token.into());
        self
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// Why no credentials (or no region) could be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// One of the environment's key variables is set without the other.
    #[error("{present} is set but {missing} is not")]
    IncompleteEnvironment {
        /// The variable that is set.
        present: &'static str,
        /// The variable that is missing.
        missing: &'static str,
    },
    /// The environment has no keys and the profile is in neither file.
    #[error(
        "no AWS credentials: AWS_ACCESS_KEY_ID is not set, and profile `{profile}` is in \
         neither {credentials_file} nor {config_file}"
    )]
    ProfileNotFound {
        /// The profile looked for.
        profile: String,
        /// The shared credentials file looked in.
        credentials_file: String,
        /// The config file looked in.
        config_file: String,
    },
    /// The profile exists but lacks a key.
    #[error("AWS profile `{profile}` in {files} has no `{missing}`{note}")]
    IncompleteProfile {
        /// The profile.
        profile: String,
        /// The file or files the profile was found in.
        files: String,
        /// The missing property.
        missing: &'static str,
        /// Why, when the profile gets its credentials in a way this crate does not
        /// support (starts with `; `), else empty.
        note: String,
    },
    /// A profile file exists but cannot be read.
    #[error("cannot read AWS profile file {file}: {reason}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        reason: String,
    },
    /// A default file location needs the home directory, which is unknown.
    #[error("cannot locate {file}: the home directory is unknown (HOME is not set)")]
    NoHome {
        /// The file, as its default location writes it.
        file: String,
    },
    /// No region is configured anywhere.
    #[error(
        "no AWS region: AWS_REGION and AWS_DEFAULT_REGION are not set and profile \
         `{profile}` has no `region`"
    )]
    NoRegion {
        /// The profile looked in.
        profile: String,
    },
}

/// A function from variable names to values.
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The variables credentials and region are looked up in.
///
/// Cloning shares the lookup function. `Debug` shows no values.
#[derive(Clone)]
pub struct Environment {
    lookup: Arc<Lookup>,
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Environment { .. }")
    }
}

impl Environment {
    /// The process's environment variables, read at each lookup.
    #[must_use]
    pub fn process() -> Self {
        Self::from_fn(|name| std::env::var(name).ok())
    }

    /// An environment backed by a lookup function.
    #[must_use]
    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            lookup: Arc::new(lookup),
        }
    }

    /// An environment holding exactly these variables.
    #[must_use]
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::from_fn(move |name| vars.get(name).cloned())
    }

    /// A variable's value; unset and blank are the same, as for the SDKs.
    #[must_use]
    pub fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Resolves credentials: the environment's keys, else the profile's.
    ///
    /// # Errors
    ///
    /// When neither has complete credentials, or a profile file cannot be read.
    pub fn credentials(&self) -> Result<Credentials, CredentialsError> {
        const KEY: &str = "AWS_ACCESS_KEY_ID";
        const SECRET: &str = "AWS_SECRET_ACCESS_KEY";
        match (self.var(KEY), self.var(SECRET)) {
            (Some(access_key_id), Some(secret_access_key)) => {
                return Ok(Credentials {
                    access_key_id,
                    secret_access_key,
                    session_token: self.var("AWS_SESSION_TOKEN"),
                });
            }
            (Some(_), None) => {
                return Err(CredentialsError::IncompleteEnvironment {
                    present: KEY,
                    missing: SECRET,
                });
            }
            (None, Some(_)) => {
                return Err(CredentialsError::IncompleteEnvironment {
                    present: SECRET,
                    missing: KEY,
                });
            }
            (None, None) => {}
        }
        let profile = Profile::load(self)?;
        profile.credentials()
    }

    /// Resolves the region: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's
    /// `region`; `None` when none is set.
    ///
    /// # Errors
    ///
    /// When a profile file exists but cannot be read.
    pub fn region(&self) -> Result<Option<String>, CredentialsError> {
        if let Some(region) = self
            .var("AWS_REGION")
            .or_else(|| self.var("AWS_DEFAULT_REGION"))
        {
            return Ok(Some(region));
        }
        match Profile::load(self) {
            Ok(profile) => Ok(profile.get("region").map(str::to_owned)),
            Err(CredentialsError::ProfileNotFound { .. } | CredentialsError::NoHome { .. }) => {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// The profile name: `AWS_PROFILE`, else `default`.
    #[must_use]
    pub fn profile_name(&self) -> String {
        self.var("AWS_PROFILE")
            .unwrap_or_else(|| "default".to_owned())
    }

    fn home(&self) -> Option<String> {
        self.var("HOME").or_else(|| self.var("USERPROFILE"))
    }

    /// A profile file's path: the variable's value, else `default` under the home
    /// directory; a leading `~/` is expanded as the SDKs do.
    fn file_path(&self, variable: &str, default: &str) -> Result<PathBuf, CredentialsError> {
        let written = self.var(variable).unwrap_or_else(|| default.to_owned());
        match written
            .strip_prefix("~/")
            .or_else(|| written.strip_prefix("~\\"))
        {
            Some(rest) => {
                let home = self.home().ok_or_else(|| CredentialsError::NoHome {
                    file: written.clone(),
                })?;
                Ok(PathBuf::from(home).join(rest))
            }
            None if written == "~" => Err(CredentialsError::NoHome { file: written }),
            None => Ok(PathBuf::from(written)),
        }
    }
}

/// Where credentials come from: fixed values, or the environment and profile files.
///
/// Credentials resolved from the environment are kept for [`Self::REFRESH`], then
/// resolved again, so rotated keys in the files are picked up without re-reading the
/// files on every request. Cloning shares the cache.
#[derive(Debug, Clone)]
pub struct CredentialsProvider {
    source: Arc<Source>,
}

#[derive(Debug)]
enum Source {
    Fixed(Arc<Credentials>),
    Environment {
        environment: Environment,
        cached: Mutex<Option<(Instant, Arc<Credentials>)>>,
    },
}

impl CredentialsProvider {
    /// How long credentials resolved from the environment are reused.
    pub const REFRESH: Duration = Duration::from_secs(300);

    /// Always these credentials (given in code or in the gateway's configuration).
    #[must_use]
    pub fn fixed(credentials: Credentials) -> Self {
        Self {
            source: Arc::new(Source::Fixed(Arc::new(credentials))),
        }
    }

    /// Credentials resolved from `environment` as the SDKs do (see the module docs).
    #[must_use]
    pub fn from_environment(environment: Environment) -> Self {
        Self {
            source: Arc::new(Source::Environment {
                environment,
                cached: Mutex::new(None),
            }),
        }
    }

    /// Credentials from the process's environment and the user's profile files.
    #[must_use]
    pub fn default_chain() -> Self {
        Self::from_environment(Environment::process())
    }

    /// The current credentials.
    ///
    /// Resolving from the environment may read the profile files, synchronously (they
    /// are a few hundred bytes); that happens at most once per [`Self::REFRESH`].
    ///
    /// # Errors
    ///
    /// When no credentials can be found; the error is not cached.
    pub fn credentials(&self) -> Result<Arc<Credentials>, CredentialsError> {
        match &*self.source {
            Source::Fixed(credentials) => Ok(Arc::clone(credentials)),
            Source::Environment {
                environment,
                cached,
            } => {
                let mut cached = cached.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some((at, credentials)) = &*cached
                    && at.elapsed() < Self::REFRESH
                {
                    return Ok(Arc::clone(credentials));
                }
                let credentials = Arc::new(environment.credentials()?);
                *cached = Some((Instant::now(), Arc::clone(&credentials)));
                Ok(credentials)
            }
        }
    }
}

/// One profile, merged from the two files.
#[derive(Debug)]
struct Profile {
    name: String,
    /// Properties with lowercase names; credentials-file values override.
    properties: HashMap<String, String>,
    /// The files the profile was found in, for messages.
    files: Vec<String>,
}

impl Profile {
    fn load(env: &Environment) -> Result<Self, CredentialsError> {
        let name = env.profile_name();
        let credentials_path =
            env.file_path("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")?;
        let config_path = env.file_path("AWS_CONFIG_FILE", "~/.aws/config")?;
        let mut properties = HashMap::new();
        let mut files = Vec::new();

        if let Some(text) = read_optional(&config_path)? {
            let sections = parse_ini(&text);
            let mut found = false;
            // `[default]` first, so that `[profile default]` overrides it.
            let wanted: Vec<String> = if name == "default" {
                vec!["default".to_owned(), "profile default".to_owned()]
            } else {
                vec![format!("profile {name}")]
            };
            for wanted in &wanted {
                for (section, props) in &sections {
                    if config_section_name(section) == *wanted {
                        found = true;
                        properties.extend(props.iter().cloned());
                    }
                }
            }
            if found {
                files.push(config_path.display().to_string());
            }
        }
        if let Some(text) = read_optional(&credentials_path)? {
            let mut found = false;
            for (section, props) in parse_ini(&text) {
                if section == name {
                    found = true;
                    properties.extend(props);
                }
            }
            if found {
                files.push(credentials_path.display().to_string());
            }
        }
        if files.is_empty() {
            return Err(CredentialsError::ProfileNotFound {
                profile: name,
                credentials_file: credentials_path.display().to_string(),
                config_file: config_path.display().to_string(),
            });
        }
        Ok(Self {
            name,
            properties,
            files,
        })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.properties
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn credentials(&self) -> Result<Credentials, CredentialsError> {
        let incomplete = |missing| {
            CredentialsError::IncompleteProfile {
            profile: self.name.clone(),
            files: self.files.join(" and "),
            missing,
            note: self.unsupported_source().map_or_else(String::new, |how| {
                format!("; it gets its credentials through {how}, which gateway-integrations does not support: give it static keys or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
            }),
        }
        };
        let access_key_id = self
            .get("aws_access_key_id")
            .ok_or_else(|| incomplete("aws_access_key_id"))?;
        let secret_access_key = self
            .get("aws_secret_access_key")
            .ok_or_else(|| incomplete("aws_secret_access_key"))?;
        let session_token = self
            .get("aws_session_token")
            .or_else(|| self.get("aws_security_token"));
        Ok(Credentials {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: session_token.map(str::to_owned),
        })
    }

    /// How the profile gets credentials when that is not static keys.
    fn unsupported_source(&self) -> Option<&'static str> {
        [
            ("role_arn", "role assumption (`role_arn`)"),
            ("sso_session", "IAM Identity Center (`sso_session`)"),
            ("sso_start_url", "IAM Identity Center (`sso_start_url`)"),
            ("credential_process", "`credential_process`"),
            (
                "web_identity_token_file",
                "web identity (`web_identity_token_file`)",
            ),
        ]
        .into_iter()
        .find(|(key, _)| self.get(key).is_some())
        .map(|(_, how)| how)
    }
}

/// A config-file section name with the whitespace after `profile` collapsed
/// (`[profile   dev]` is `profile dev`).
fn config_section_name(section: &str) -> String {
    match section.strip_prefix("profile") {
        Some(rest) if rest.starts_with(char::is_whitespace) => format!("profile {}", rest.trim()),
        _ => section.to_owned(),
    }
}

fn read_optional(path: &std::path::Path) -> Result<Option<String>, CredentialsError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(CredentialsError::Read {
            file: path.display().to_string(),
            reason: err.to_string(),
        }),
    }
}

/// Parses the SDKs' INI dialect into sections of `(lowercase key, value)` pairs, in
/// file order. Section names are trimmed; duplicates are kept (later ones win when
/// merged).
fn parse_ini(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            if let Some((name, _comment)) = rest.split_once(']') {
                sections.push((name.trim().to_owned(), Vec::new()));
            }
            continue;
        }
        let Some((_, properties)) = sections.last_mut() else {
            // Properties before any section belong to no profile.
            continue;
        };
        let indented = line.starts_with([' ', '\t']);
        if indented && let Some((_, value)) = properties.last_mut() {
            value.push('\n');
            value.push_str(trimmed);
            continue;
        }
        let Some(split) = trimmed.find(['=', ':']) else {
            continue;
        };
        let key = trimmed[..split].trim().to_ascii_lowercase();
        let value = trimmed[split + 1..].trim().to_owned();
        if !key.is_empty() {
            properties.push((key, value));
        }
    }
    sections
}

#[cfg(test)]
mod tests;
