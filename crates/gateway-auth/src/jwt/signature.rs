//! JWS signatures (RFC 7518): public keys prepared once, when a key set is parsed,
//! so checking a token costs one base64url decode and one verification.
//!
//! RSA moduli from 2048 to 8192 bits are accepted; a key set may publish a shorter
//! key, but no signature made with it verifies. ECDSA signatures are the fixed-size
//! `r || s` form JWS prescribes, never DER. A [`SignatureCache`] remembers the
//! signatures already verified, so a token presented again skips the public key
//! operation.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use ring::digest;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512, RSA_PSS_2048_8192_SHA256,
    RSA_PSS_2048_8192_SHA384, RSA_PSS_2048_8192_SHA512, RsaParameters, RsaPublicKeyComponents,
    UnparsedPublicKey,
};

/// The longest signature a supported key makes: that of an 8192-bit RSA modulus.
const MAX_SIGNATURE_BYTES: usize = 8192 / 8;

/// Serials tell keys apart in the [`SignatureCache`]; each prepared key gets a new
/// one, so a key set fetched again never shares entries with the one it replaces.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(0);

/// A public key ready to verify the signatures of the algorithms its type permits.
#[derive(Debug)]
pub(crate) struct PublicKey {
    serial: u64,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// An RSA key, for RS256/384/512 and PS256/384/512.
    Rsa(RsaPublicKeyComponents<Vec<u8>>),
    /// An elliptic curve key, for the one algorithm of its curve.
    Ec {
        alg: Algorithm,
        key: UnparsedPublicKey<Vec<u8>>,
    },
}

impl PublicKey {
    fn new(kind: Kind) -> Self {
        Self {
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
            kind,
        }
    }

    /// An RSA key from its big-endian modulus and exponent; leading zero bytes,
    /// which some key sets carry, are dropped.
    pub(crate) fn rsa(n: &[u8], e: &[u8]) -> Option<Self> {
        let (n, e) = (without_leading_zeros(n), without_leading_zeros(e));
        if n.is_empty() || e.is_empty() {
            return None;
        }
        Some(Self::new(Kind::Rsa(RsaPublicKeyComponents {
            n: n.to_vec(),
            e: e.to_vec(),
        })))
    }

    /// A P-256 (`ES256`) or P-384 (`ES384`) key from its coordinates, each exactly
    /// the curve's size.
    pub(crate) fn ec(alg: Algorithm, x: &[u8], y: &[u8]) -> Option<Self> {
        let (verification, size) = match alg {
            Algorithm::ES256 => (&ECDSA_P256_SHA256_FIXED, 32),
            Algorithm::ES384 => (&ECDSA_P384_SHA384_FIXED, 48),
            _ => return None,
        };
        if x.len() != size || y.len() != size {
            return None;
        }
        // The uncompressed SEC 1 point: 0x04, then x, then y.
        let mut point = Vec::with_capacity(1 + 2 * size);
        point.push(0x04);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        Some(Self::new(Kind::Ec {
            alg,
            key: UnparsedPublicKey::new(verification, point),
        }))
    }

    /// Whether `signature` (base64url, unpadded) is this key's signature of
    /// `message` under `alg`. An algorithm the key's type cannot use never
    /// verifies.
    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], signature: &str) -> bool {
        let mut buffer = [0_u8; MAX_SIGNATURE_BYTES];
        let Ok(len) = URL_SAFE_NO_PAD.decode_slice(signature, &mut buffer) else {
            return false;
        };
        let signature = &buffer[..len];
        match &self.kind {
            Kind::Rsa(key) => rsa_parameters(alg)
                .is_some_and(|params| key.verify(params, message, signature).is_ok()),
            Kind::Ec { alg: own, key } => *own == alg && key.verify(message, signature).is_ok(),
        }
    }
}

/// Signatures already verified, so that a token presented again (a client reuses
/// its token until it expires) skips the public key operation. Only successes are
/// remembered, by the SHA-256 digest of the key's serial, the algorithm and the
/// whole token; everything else about the token is checked on every request. The
/// number of entries is bounded.
pub(crate) struct SignatureCache {
    verified: moka::sync::Cache<[u8; 32], ()>,
}

impl fmt::Debug for SignatureCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureCache")
            .field("capacity", &self.verified.policy().max_capacity())
            .field("entries", &self.verified.entry_count())
            .finish()
    }
}

impl SignatureCache {
    /// A cache of up to `entries` signatures; none for `0`.
    pub(crate) fn new(entries: u64) -> Option<Self> {
        (entries > 0).then(|| Self {
            verified: moka::sync::Cache::builder().max_capacity(entries).build(),
        })
    }

    /// [`PublicKey::verify`] of `message` (the token's header and payload) and
    /// `signature`, answered from the cache when `key` verified them before.
    pub(crate) fn verify(
        &self,
        key: &PublicKey,
        alg: Algorithm,
        message: &[u8],
        signature: &str,
    ) -> bool {
        let digest = Self::digest(key, alg, message, signature);
        if self.verified.get(&digest).is_some() {
            return true;
        }
        let valid = key.verify(alg, message, signature);
        if valid {
            self.verified.insert(digest, ());
        }
        valid
    }

    fn digest(key: &PublicKey, alg: Algorithm, message: &[u8], signature: &str) -> [u8; 32] {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(&key.serial.to_be_bytes());
        context.update(&[algorithm_tag(alg)]);
        context.update(message);
        context.update(b".");
        context.update(signature.as_bytes());
        let mut out = [0_u8; 32];
        out.copy_from_slice(context.finish().as_ref());
        out
    }
}

fn rsa_parameters(alg: Algorithm) -> Option<&'static RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// A byte per algorithm a key can verify; `0` for the others, which never verify.
fn algorithm_tag(alg: Algorithm) -> u8 {
    match alg {
        Algorithm::RS256 => 1,
        Algorithm::RS384 => 2,
        Algorithm::RS512 => 3,
        Algorithm::PS256 => 4,
        Algorithm::PS384 => 5,
        Algorithm::PS512 => 6,
        Algorithm::ES256 => 7,
        Algorithm::ES384 => 8,
        _ => 0,
    }
}

fn without_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests;
