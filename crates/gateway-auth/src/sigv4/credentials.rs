//! Who may sign: access keys, their secrets, and the IAM identity behind them.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use crate::policy::Policy;

/// Maps the access key id of a signature to the credential that signed it.
///
/// Lookups happen once per request, on the request path, so implementations
/// should answer from memory.
pub trait CredentialStore: Send + Sync + fmt::Debug + 'static {
    /// The credential with this access key id, if there is one.
    fn lookup(&self, access_key_id: &str) -> Option<Arc<Credential>>;
}

/// An access key and the IAM identity it belongs to.
#[derive(Clone)]
pub struct Credential {
    /// The access key id (`AKIA...` for a user's long-term key, `ASIA...` for
    /// temporary credentials).
    pub access_key_id: String,
    /// The secret access key the signature is computed with.
    pub secret_access_key: String,
    /// The session token of temporary credentials: requests signed with them must
    /// carry it in `X-Amz-Security-Token`. Long-term keys have none, and then a
    /// request must not carry one.
    pub session_token: Option<String>,
    /// When temporary credentials stop being valid; requests after that are
    /// answered `ExpiredTokenException`.
    pub expiration: Option<SystemTime>,
    /// The account the identity belongs to (`$context.identity.accountId`).
    pub account_id: String,
    /// The identity's ARN (`$context.identity.userArn`), such as
    /// `arn:aws:iam::123456789012:user/alice` or
    /// `arn:aws:sts::123456789012:assumed-role/Reader/session`.
    pub principal_arn: String,
    /// The principal id (`$context.identity.caller`): `AIDA...` for a user,
    /// `AROA...:session` for a role session. Left out of the context when empty.
    pub caller: String,
    /// The identity policies attached to the identity, evaluated for
    /// `execute-api:Invoke` on the method ARN.
    pub policies: Vec<Policy>,
}

impl Credential {
    /// A long-term key of the identity `principal_arn` in `account_id`, with no
    /// policies yet.
    #[must_use]
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        account_id: impl Into<String>,
        principal_arn: impl Into<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
            expiration: None,
            account_id: account_id.into(),
            principal_arn: principal_arn.into(),
            caller: String::new(),
            policies: Vec::new(),
        }
    }

    /// Makes these temporary credentials with `token` as their session token.
    #[must_use]
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }

    /// Sets when the credentials expire.
    #[must_use]
    pub fn with_expiration(mut self, at: SystemTime) -> Self {
        self.expiration = Some(at);
        self
    }

    /// Sets the principal id.
    #[must_use]
    pub fn with_caller(mut self, caller: impl Into<String>) -> Self {
        self.caller = caller.into();
        self
    }

    /// Attaches an identity policy.
    #[must_use]
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policies.push(policy);
        self
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expiration", &self.expiration)
            .field("account_id", &self.account_id)
            .field("principal_arn", &self.principal_arn)
            .field("caller", &self.caller)
            .field("policies", &self.policies.len())
            .finish()
    }
}

/// A [`CredentialStore`] held in memory; credentials can be added and removed
/// while requests are served.
#[derive(Debug, Default)]
pub struct InMemoryCredentials {
    by_key: RwLock<HashMap<String, Arc<Credential>>>,
}

impl InMemoryCredentials {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `credential`, replacing any with the same access key id.
    pub fn insert(&self, credential: Credential) {
        let mut map = self.by_key.write().unwrap_or_else(PoisonError::into_inner);
        map.insert(credential.access_key_id.clone(), Arc::new(credential));
    }

    /// Removes the credential with this access key id; true if there was one.
    pub fn remove(&self, access_key_id: &str) -> bool {
        let mut map = self.by_key.write().unwrap_or_else(PoisonError::into_inner);
        map.remove(access_key_id).is_some()
    }

    /// How many credentials the store holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_key
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether the store is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl FromIterator<Credential> for InMemoryCredentials {
    fn from_iter<I: IntoIterator<Item = Credential>>(iter: I) -> Self {
        let store = Self::new();
        for credential in iter {
            store.insert(credential);
        }
        store
    }
}

impl CredentialStore for InMemoryCredentials {
    fn lookup(&self, access_key_id: &str) -> Option<Arc<Credential>> {
        self.by_key
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(access_key_id)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_finds_replaces_and_removes() {
        let store: InMemoryCredentials = [Credential::new(
            "AKIDEXAMPLE",
            "secret",
            "123456789012",
            "arn:aws:iam::123456789012:user/alice",
        )]
        .into_iter()
        .collect();
        assert_eq!(store.len(), 1);
        assert!(store.lookup("AKIDOTHER").is_none());
        store.insert(
            Credential::new("AKIDEXAMPLE", "rotated", "123456789012", "arn")
                .with_caller("AIDAEXAMPLE"),
        );
        let found = store.lookup("AKIDEXAMPLE");
        assert_eq!(
            found.as_ref().map(|c| c.secret_access_key.as_str()),
            Some("rotated")
        );
        assert!(!format!("{found:?}").contains("rotated"));
        assert!(store.remove("AKIDEXAMPLE"));
        assert!(store.is_empty());
    }
}
