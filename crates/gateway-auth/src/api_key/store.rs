//! Where keys are looked up: the [`ApiKeyStore`] trait and its in-memory
//! implementation.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use subtle::ConstantTimeEq;

use super::key::{ApiKey, ApiKeyConfig, ApiKeyError};

/// Looks up API keys by the value a caller presents and by id.
///
/// Implementations must compare presented values without timing that depends on
/// how much of a stored secret matches (see [`InMemoryApiKeyStore`]).
pub trait ApiKeyStore: Send + Sync + fmt::Debug + 'static {
    /// The key whose value is exactly `value`, enabled or not.
    fn find(&self, value: &str) -> Option<Arc<ApiKey>>;

    /// The key with id `id`.
    fn get(&self, id: &str) -> Option<Arc<ApiKey>>;

    /// Every key, in no particular order.
    fn list(&self) -> Vec<Arc<ApiKey>>;
}

/// The default store: keys held in memory, fed by the configuration and changed
/// at run time.
///
/// # Lookup
/// A presented value is hashed with SipHash under a key drawn at random when the
/// store is built; the hash picks the candidates, and each candidate's full value
/// is then compared in constant time. An attacker cannot predict the hash, so the
/// time a lookup takes tells nothing about how close a guess is to a real key.
/// (A SHA-256 digest would serve the same purpose, but it measured about three
/// times as slow as SipHash on a 40-character value even with the CPU's SHA
/// extensions, and software SHA-256 is slower still. What keeps the index from
/// leaking is the secret hash key, not the digest's strength.)
///
/// # Changes
/// Reads take a lock-free snapshot of the index. Each change (import, enable,
/// disable, remove) copies the index and publishes the copy, so changes cost time
/// in proportion to the number of keys: this store is made for key sets that
/// change rarely compared with how often they are read.
pub struct InMemoryApiKeyStore {
    hasher: RandomState,
    index: ArcSwap<Index>,
    writer: Mutex<()>,
}

#[derive(Clone, Default)]
struct Index {
    /// Keys by the keyed hash of their value. Several keys share an entry only
    /// when their 64-bit hashes collide.
    by_hash: HashMap<u64, Vec<Arc<ApiKey>>, BuildHasherDefault<Prehashed>>,
    by_id: HashMap<String, Arc<ApiKey>>,
}

/// A hasher for keys that are already uniformly distributed hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by the index; fold anything else so the hasher
        // stays correct if that ever changes.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl Default for InMemoryApiKeyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for InMemoryApiKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryApiKeyStore")
            .field("keys", &self.len())
            .finish_non_exhaustive()
    }
}

impl InMemoryApiKeyStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            index: ArcSwap::from_pointee(Index::default()),
            writer: Mutex::new(()),
        }
    }

    /// A store holding `keys`.
    ///
    /// # Errors
    /// A key that fails [`ApiKey::validate`], or two keys sharing an id or a value
    /// ([`ApiKeyError::DuplicateId`], [`ApiKeyError::DuplicateValue`]): in a
    /// configuration either is a mistake, so it is refused rather than resolved.
    pub fn from_keys<I>(keys: I) -> Result<Self, ApiKeyError>
    where
        I: IntoIterator<Item = ApiKey>,
    {
        let store = Self::new();
        let mut index = Index::default();
        for key in keys {
            key.validate()?;
            if index.by_id.contains_key(&key.id) {
                return Err(ApiKeyError::DuplicateId { id: key.id });
            }
            let hash = store.hash(&key.value);
            if let Some(existing) = index.find(hash, &key.value) {
                return Err(ApiKeyError::DuplicateValue {
                    name: key.name,
                    existing_id: existing.id.clone(),
                });
            }
            index.insert(hash, Arc::new(key));
        }
        store.index.store(Arc::new(index));
        Ok(store)
    }

    /// A store holding the keys a configuration declares, generating missing ids
    /// and values.
    ///
    /// # Errors
    /// As [`ApiKeyConfig::into_key`] and [`from_keys`](Self::from_keys).
    pub fn from_config<I>(entries: I) -> Result<Self, ApiKeyError>
    where
        I: IntoIterator<Item = ApiKeyConfig>,
    {
        let keys = entries
            .into_iter()
            .map(ApiKeyConfig::into_key)
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_keys(keys)
    }

    /// Generates an enabled key named `name` and adds it.
    ///
    /// # Errors
    /// [`ApiKeyError::NameLength`] for a bad name, [`ApiKeyError::Random`] when the
    /// system random source fails.
    pub fn generate(&self, name: impl Into<String>) -> Result<Arc<ApiKey>, ApiKeyError> {
        let name = name.into();
        self.update(|index, hasher| {
            // A clash of 10-character ids (or of 40-character values) is
            // vanishingly rare; draw again rather than fail.
            let mut key = ApiKey::generate(name)?;
            while index.by_id.contains_key(&key.id)
                || index
                    .find(hash_with(hasher, &key.value), &key.value)
                    .is_some()
            {
                key = ApiKey::generate(key.name)?;
            }
            let key = Arc::new(key);
            index.insert(hash_with(hasher, &key.value), Arc::clone(&key));
            Ok(key)
        })
    }

    /// Adds a key whose value was chosen elsewhere.
    ///
    /// As AWS's key import does, a key with the same value as one already held
    /// replaces it: two keys with one value are the same key. The replacement
    /// keeps the existing key's id (usage plans and logs know the key by it) and
    /// takes the imported name, description and enabled state.
    ///
    /// # Errors
    /// A key that fails [`ApiKey::validate`]; [`ApiKeyError::DuplicateId`] when the
    /// id belongs to a key with another value.
    pub fn import(&self, key: ApiKey) -> Result<Arc<ApiKey>, ApiKeyError> {
        key.validate()?;
        self.update(|index, hasher| {
            let hash = hash_with(hasher, &key.value);
            let key = match index.find(hash, &key.value) {
                Some(existing) => {
                    let id = existing.id.clone();
                    index.remove(hash, &id);
                    key.with_id(id)
                }
                None if index.by_id.contains_key(&key.id) => {
                    return Err(ApiKeyError::DuplicateId { id: key.id });
                }
                None => key,
            };
            let key = Arc::new(key);
            index.insert(hash, Arc::clone(&key));
            Ok(key)
        })
    }

    /// Enables or disables the key with id `id`; requests already past the check
    /// are not affected.
    ///
    /// # Errors
    /// [`ApiKeyError::NotFound`] when no key has that id.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> Result<Arc<ApiKey>, ApiKeyError> {
        self.update(|index, hasher| {
            let Some(current) = index.by_id.get(id).cloned() else {
                return Err(ApiKeyError::NotFound { id: id.to_owned() });
            };
            let hash = hash_with(hasher, &current.value);
            index.remove(hash, id);
            let key = Arc::new(ApiKey {
                enabled,
                ..ApiKey::clone(&current)
            });
            index.insert(hash, Arc::clone(&key));
            Ok(key)
        })
    }

    /// Removes the key with id `id`, returning it.
    pub fn remove(&self, id: &str) -> Option<Arc<ApiKey>> {
        self.update(|index, hasher| {
            let key = index.by_id.get(id).cloned().ok_or(())?;
            index.remove(hash_with(hasher, &key.value), id);
            Ok::<_, ()>(key)
        })
        .ok()
    }

    /// How many keys the store holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.index.load().by_id.len()
    }

    /// True when the store holds no key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn hash(&self, value: &str) -> u64 {
        hash_with(&self.hasher, value)
    }

    /// Applies `change` to a copy of the index and publishes the copy when the
    /// change succeeds. Writers are serialised so that none loses another's change.
    fn update<T, E>(
        &self,
        change: impl FnOnce(&mut Index, &RandomState) -> Result<T, E>,
    ) -> Result<T, E> {
        let _guard = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut index = Index::clone(&self.index.load());
        let out = change(&mut index, &self.hasher)?;
        self.index.store(Arc::new(index));
        Ok(out)
    }
}

impl ApiKeyStore for InMemoryApiKeyStore {
    fn find(&self, value: &str) -> Option<Arc<ApiKey>> {
        let hash = self.hash(value);
        self.index.load().find(hash, value).cloned()
    }

    fn get(&self, id: &str) -> Option<Arc<ApiKey>> {
        self.index.load().by_id.get(id).cloned()
    }

    fn list(&self) -> Vec<Arc<ApiKey>> {
        self.index.load().by_id.values().cloned().collect()
    }
}

impl Index {
    fn find(&self, hash: u64, value: &str) -> Option<&Arc<ApiKey>> {
        self.by_hash
            .get(&hash)?
            .iter()
            .find(|key| constant_time_eq(key.value.as_bytes(), value.as_bytes()))
    }

    fn insert(&mut self, hash: u64, key: Arc<ApiKey>) {
        self.by_hash.entry(hash).or_default().push(Arc::clone(&key));
        self.by_id.insert(key.id.clone(), key);
    }

    fn remove(&mut self, hash: u64, id: &str) {
        self.by_id.remove(id);
        if let Some(bucket) = self.by_hash.get_mut(&hash) {
            bucket.retain(|key| key.id != id);
            if bucket.is_empty() {
                self.by_hash.remove(&hash);
            }
        }
    }
}

fn hash_with(hasher: &RandomState, value: &str) -> u64 {
    hasher.hash_one(value.as_bytes())
}

/// Compares two byte strings in time that depends on their length only.
///
/// The bytes are folded eight at a time into one difference word, and
/// [`subtle::ConstantTimeEq`] decides whether that word is zero behind an
/// optimisation barrier. Comparing byte by byte with `subtle` directly costs
/// about 1.4 ns a byte (57 ns for a 40-character key), most of the time budget
/// of a check, for no added protection. A length mismatch returns at once: the
/// length of a key is not the secret.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    let mut diff = 0_u64;
    for (x, y) in a_words.iter().zip(b_words) {
        diff |= u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y);
    }
    for (x, y) in a_rest.iter().zip(b_rest) {
        diff |= u64::from(x ^ y);
    }
    diff.ct_eq(&0).into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn key(id: &str, value: &str) -> ApiKey {
        ApiKey {
            id: id.into(),
            name: format!("{id}-name"),
            value: value.into(),
            enabled: true,
            description: None,
        }
    }

    #[test]
    fn constant_time_eq_compares_every_byte() {
        let a = b"0123456789abcdefghijklmnopqrstuvwxyzABCD";
        assert!(constant_time_eq(a, a));
        for i in 0..a.len() {
            let mut b = *a;
            b[i] ^= 0x01;
            assert!(!constant_time_eq(a, &b), "difference at {i} missed");
        }
        assert!(!constant_time_eq(a, &a[..39]));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn colliding_hashes_still_find_the_right_key() {
        // Force two keys into one bucket, as a 64-bit collision would.
        let mut index = Index::default();
        let first = Arc::new(key("first", "aaaaaaaaaaaaaaaaaaaaaaaaa"));
        let second = Arc::new(key("second", "bbbbbbbbbbbbbbbbbbbbbbbbb"));
        index.insert(7, Arc::clone(&first));
        index.insert(7, Arc::clone(&second));
        assert_eq!(index.find(7, &second.value).unwrap().id, "second");
        assert_eq!(index.find(7, &first.value).unwrap().id, "first");
        assert!(index.find(7, "ccccccccccccccccccccccccc").is_none());
        index.remove(7, "first");
        assert!(index.find(7, &first.value).is_none());
        assert_eq!(index.find(7, &second.value).unwrap().id, "second");
        index.remove(7, "second");
        assert!(index.by_hash.is_empty());
        assert!(index.by_id.is_empty());
    }

    #[test]
    fn import_replaces_a_key_with_the_same_value_and_keeps_its_id() {
        let store =
            InMemoryApiKeyStore::from_keys([key("abc", "value-one-is-twenty-chars")]).unwrap();
        let again = store
            .import(key("other", "value-one-is-twenty-chars").with_enabled(false))
            .unwrap();
        assert_eq!(again.id, "abc");
        assert_eq!(again.name, "other-name");
        assert_eq!(store.len(), 1);
        assert!(!store.find("value-one-is-twenty-chars").unwrap().enabled);
        assert!(store.get("other").is_none());
        let err = store
            .import(key("abc", "a-different-twenty-char-value"))
            .unwrap_err();
        assert!(matches!(err, ApiKeyError::DuplicateId { .. }), "{err}");
    }

    #[test]
    fn from_keys_refuses_duplicates() {
        let err = InMemoryApiKeyStore::from_keys([
            key("a", "same-value-for-both-keys"),
            key("b", "same-value-for-both-keys"),
        ])
        .unwrap_err();
        assert!(
            matches!(&err, ApiKeyError::DuplicateValue { existing_id, .. } if existing_id == "a"),
            "{err}"
        );
        assert!(!err.to_string().contains("same-value"));
        let err = InMemoryApiKeyStore::from_keys([
            key("a", "first-value-twenty-chars"),
            key("a", "second-value-twenty-chars"),
        ])
        .unwrap_err();
        assert!(matches!(err, ApiKeyError::DuplicateId { .. }), "{err}");
    }

    #[test]
    fn changes_replace_keys_and_leave_old_snapshots_alone() {
        let store = InMemoryApiKeyStore::new();
        let generated = store.generate("partner").unwrap();
        assert!(Arc::ptr_eq(
            &store.find(&generated.value).unwrap(),
            &store.get(&generated.id).unwrap()
        ));
        let disabled = store.set_enabled(&generated.id, false).unwrap();
        assert!(!disabled.enabled);
        assert!(
            generated.enabled,
            "a key handed out earlier does not change"
        );
        assert!(!store.find(&generated.value).unwrap().enabled);
        assert!(matches!(
            store.set_enabled("missing", true),
            Err(ApiKeyError::NotFound { .. })
        ));
        assert_eq!(store.remove(&generated.id).unwrap().id, generated.id);
        assert!(store.remove(&generated.id).is_none());
        assert!(store.find(&generated.value).is_none());
        assert!(store.is_empty());
    }
}
