//! Tokens signed by another implementation (jsonwebtoken's RustCrypto backend)
//! checked with the prepared keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Value, json};

use super::{PublicKey, SignatureCache};
use crate::jwt::jwks::{Key, parse_key_set};

const RSA: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

fn pem(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/jwt/{name}.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn encoding(name: &str) -> EncodingKey {
    let pem = pem(name);
    let key = if name.starts_with("rsa") {
        EncodingKey::from_rsa_pem(&pem)
    } else {
        EncodingKey::from_ec_pem(&pem)
    };
    key.unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The public JWK of fixture `name`, as a key set publishes it, without `alg`.
fn jwk(name: &str, alg: Algorithm) -> Value {
    let jwk = Jwk::from_encoding_key(&encoding(name), alg).unwrap();
    let mut value = serde_json::to_value(jwk).unwrap();
    let object = value.as_object_mut().unwrap();
    object.remove("alg");
    object.insert("kid".into(), json!(name));
    value
}

/// Fixture `name`'s key, through the key set parser.
fn key(name: &str, alg: Algorithm) -> Key {
    let set = json!({ "keys": [jwk(name, alg)] }).to_string();
    let mut keys = parse_key_set(set.as_bytes()).unwrap();
    let key = keys.remove(name).unwrap();
    std::sync::Arc::into_inner(key).unwrap()
}

fn bytes(jwk: &Value, member: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(jwk[member].as_str().unwrap())
        .unwrap()
}

fn sign(name: &str, alg: Algorithm) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(name.to_owned());
    let claims = json!({"sub": "user-1", "exp": 1_800_000_000_u64});
    jsonwebtoken::encode(&header, &claims, &encoding(name)).unwrap()
}

fn verifies(key: &PublicKey, alg: Algorithm, token: &str) -> bool {
    let (message, signature) = token.rsplit_once('.').unwrap();
    key.verify(alg, message.as_bytes(), signature)
}

/// `token` with its payload replaced by another claim set.
fn tampered(token: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin","exp":1800000000}"#);
    parts[1] = &payload;
    parts.join(".")
}

#[test]
fn every_supported_algorithm_verifies_tokens_signed_elsewhere() {
    let cases: [(&str, &str, &[Algorithm]); 3] = [
        ("rsa1", "rsa2", &RSA),
        ("ec1", "ec2", &[Algorithm::ES256]),
        ("ec384", "ec1", &[Algorithm::ES384]),
    ];
    for (name, other, algorithms) in cases {
        let key = key(name, algorithms[0]);
        assert_eq!(key.algorithms, algorithms, "{name}");
        for &alg in algorithms {
            let token = sign(name, alg);
            assert!(verifies(&key.public, alg, &token), "{name} {alg:?}");
            assert!(
                !verifies(&key.public, alg, &tampered(&token)),
                "{name} {alg:?}"
            );
            if alg != Algorithm::ES384 {
                let foreign = sign(other, alg);
                assert!(!verifies(&key.public, alg, &foreign), "{other} {alg:?}");
            }
        }
    }
}

#[test]
fn signatures_verify_only_under_the_algorithm_that_made_them() {
    let rsa = key("rsa1", Algorithm::RS256).public;
    let rs256 = sign("rsa1", Algorithm::RS256);
    for alg in [
        Algorithm::RS384,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::HS256,
        Algorithm::EdDSA,
    ] {
        assert!(!verifies(&rsa, alg, &rs256), "{alg:?}");
    }
    let ps256 = sign("rsa1", Algorithm::PS256);
    assert!(!verifies(&rsa, Algorithm::RS256, &ps256));

    let p256 = key("ec1", Algorithm::ES256).public;
    let es256 = sign("ec1", Algorithm::ES256);
    assert!(!verifies(&p256, Algorithm::ES384, &es256));
    assert!(!verifies(&p256, Algorithm::RS256, &es256));
    let p384 = key("ec384", Algorithm::ES384).public;
    assert!(!verifies(&p384, Algorithm::ES256, &es256));
}

/// The DER form of a fixed-size ECDSA signature `r || s`.
fn der(fixed: &[u8]) -> Vec<u8> {
    let integer = |half: &[u8]| {
        let mut int = vec![0x02];
        let pad = half[0] & 0x80 != 0;
        int.push(u8::try_from(half.len() + usize::from(pad)).unwrap());
        if pad {
            int.push(0);
        }
        int.extend_from_slice(half);
        int
    };
    let (r, s) = fixed.split_at(fixed.len() / 2);
    let body = [integer(r), integer(s)].concat();
    [vec![0x30, u8::try_from(body.len()).unwrap()], body].concat()
}

#[test]
fn malformed_signatures_never_verify() {
    let rsa = key("rsa1", Algorithm::RS256).public;
    let token = sign("rsa1", Algorithm::RS256);
    let (message, signature) = token.rsplit_once('.').unwrap();
    let message = message.as_bytes();
    assert!(rsa.verify(Algorithm::RS256, message, signature));
    let padded = format!("{signature}==");
    let truncated = &signature[..signature.len() - 4];
    let standard_alphabet = signature.replace('-', "+").replace('_', "/");
    let oversized = URL_SAFE_NO_PAD.encode([7_u8; super::MAX_SIGNATURE_BYTES + 1]);
    for bad in [
        "",
        padded.as_str(),
        truncated,
        "not base64!",
        oversized.as_str(),
    ] {
        assert!(!rsa.verify(Algorithm::RS256, message, bad), "{bad}");
    }
    if standard_alphabet != signature {
        assert!(!rsa.verify(Algorithm::RS256, message, &standard_alphabet));
    }

    let ec = key("ec1", Algorithm::ES256).public;
    let token = sign("ec1", Algorithm::ES256);
    let (message, signature) = token.rsplit_once('.').unwrap();
    assert!(ec.verify(Algorithm::ES256, message.as_bytes(), signature));
    let fixed = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let der = URL_SAFE_NO_PAD.encode(der(&fixed));
    assert!(!ec.verify(Algorithm::ES256, message.as_bytes(), &der));
}

#[test]
fn rsa_keys_shorter_than_2048_bits_never_verify() {
    let token = sign("rsa1024", Algorithm::RS256);
    let (message, signature) = token.rsplit_once('.').unwrap();
    let jwk = jwk("rsa1024", Algorithm::RS256);
    // The signature itself is sound: a backend without a size floor accepts it.
    let lenient =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    assert!(
        jsonwebtoken::crypto::verify(signature, message.as_bytes(), &lenient, Algorithm::RS256)
            .unwrap()
    );
    let key = key("rsa1024", Algorithm::RS256);
    assert!(!verifies(&key.public, Algorithm::RS256, &token));
}

#[test]
fn key_components_are_checked_when_the_key_set_is_read() {
    let rsa = jwk("rsa1", Algorithm::RS256);
    let (n, e) = (bytes(&rsa, "n"), bytes(&rsa, "e"));
    let zero_padded = PublicKey::rsa(&[&[0, 0][..], &n].concat(), &[&[0][..], &e].concat());
    let token = sign("rsa1", Algorithm::RS256);
    assert!(verifies(&zero_padded.unwrap(), Algorithm::RS256, &token));
    assert!(PublicKey::rsa(&[0, 0], &e).is_none());
    assert!(PublicKey::rsa(&n, &[]).is_none());

    let ec = jwk("ec1", Algorithm::ES256);
    let (x, mut y) = (bytes(&ec, "x"), bytes(&ec, "y"));
    assert!(PublicKey::ec(Algorithm::ES256, &x, &y[1..]).is_none());
    assert!(PublicKey::ec(Algorithm::ES384, &x, &y).is_none());
    assert!(PublicKey::ec(Algorithm::RS256, &x, &y).is_none());
    // A point off the curve is accepted as bytes but never verifies.
    y[31] ^= 1;
    let off_curve = PublicKey::ec(Algorithm::ES256, &x, &y).unwrap();
    assert!(!verifies(
        &off_curve,
        Algorithm::ES256,
        &sign("ec1", Algorithm::ES256)
    ));
}

#[test]
fn the_signature_cache_remembers_successes_of_one_key_and_algorithm() {
    assert!(SignatureCache::new(0).is_none());
    let cache = SignatureCache::new(16).unwrap();
    let good = key("ec1", Algorithm::ES256).public;
    let other = key("ec2", Algorithm::ES256).public;
    let token = sign("ec1", Algorithm::ES256);
    let (message, signature) = token.rsplit_once('.').unwrap();
    let message = message.as_bytes();

    // A key whose every check fails, carrying the good key's serial: it verifies
    // only what the cache answers for that key.
    let ec = jwk("ec1", Algorithm::ES256);
    let (x, mut y) = (bytes(&ec, "x"), bytes(&ec, "y"));
    y[31] ^= 1;
    let mut impostor = PublicKey::ec(Algorithm::ES256, &x, &y).unwrap();
    impostor.serial = good.serial;
    assert!(!cache.verify(&impostor, Algorithm::ES256, message, signature));

    assert!(cache.verify(&good, Algorithm::ES256, message, signature));
    assert!(cache.verify(&impostor, Algorithm::ES256, message, signature));
    // Not for another key, another algorithm, or another token.
    assert!(!cache.verify(&other, Algorithm::ES256, message, signature));
    assert!(!cache.verify(&impostor, Algorithm::ES384, message, signature));
    let forged = tampered(&token);
    let (forged_message, forged_signature) = forged.rsplit_once('.').unwrap();
    for _ in 0..2 {
        assert!(!cache.verify(
            &good,
            Algorithm::ES256,
            forged_message.as_bytes(),
            forged_signature
        ));
    }
    // A key set fetched again prepares new keys, which share nothing.
    let refetched = key("ec1", Algorithm::ES256).public;
    assert_ne!(refetched.serial, good.serial);
}
