//! Ed25519 signature checks without the GIL. A block's checks run on worker
//! threads while the block executes; done through PyNaCl, each check took the GIL
//! back for its Python glue, and the executing thread waited on the workers.
//!
//! The rules are libsodium's (`crypto_sign_verify_detached`), so a signature the
//! wallet's PyNaCl accepts is accepted here and nothing else is: canonical `S`,
//! canonical encodings of `A` and `R`, neither of small order, and the
//! cofactorless equation checked on `R`'s encoding (`verify_strict`).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature, VerifyingKey};
use pyo3::prelude::*;

/// Decoded keys kept: an account signs many transactions, and decompressing its key
/// (a field square root) was a tenth of each check. Only keys that decode are kept,
/// so a stream of junk keys cannot flush it; it is cleared whole when full.
const KEYS_CACHED_MAX: usize = 50_000;

fn keys() -> &'static Mutex<HashMap<[u8; 32], Option<VerifyingKey>>> {
    static KEYS: OnceLock<Mutex<HashMap<[u8; 32], Option<VerifyingKey>>>> = OnceLock::new();
    KEYS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The key as `verify_strict` needs it, or None if libsodium would refuse its encoding.
fn decoded(key: &[u8; 32]) -> Option<VerifyingKey> {
    if let Some(known) = keys().lock().unwrap_or_else(|e| e.into_inner()).get(key) {
        return *known;
    }
    // Decompression reduces a non-canonical y (>= p) and accepts "-0"; libsodium
    // refuses both, so the point must compress back to the key's own bytes.
    // (VerifyingKey::to_bytes hands back the bytes it was given, so comparing with
    // it checked nothing.) verify_strict refuses keys of small order itself.
    let verifying = CompressedEdwardsY(*key)
        .decompress()
        .filter(|point| point.compress().to_bytes() == *key)
        .map(VerifyingKey::from);
    if verifying.is_some() {
        let mut cache = keys().lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= KEYS_CACHED_MAX {
            cache.clear();
        }
        cache.insert(*key, verifying);
    }
    verifying
}

fn check(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let (Ok(key), Ok(signature)) = (<[u8; 32]>::try_from(key), <[u8; 64]>::try_from(signature))
    else {
        return false;
    };
    let Some(verifying) = decoded(&key) else {
        return false;
    };
    let signature = Signature::from_bytes(&signature);
    verifying.verify_strict(message, &signature).is_ok()
}

/// Verify `(public_key, message, signature)` triples; results in input order.
/// The GIL is released for the whole list.
#[pyfunction]
pub fn ed25519_verify_many(py: Python<'_>, items: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>) -> Vec<bool> {
    py.detach(|| {
        items
            .iter()
            .map(|(key, message, signature)| check(key, message, signature))
            .collect()
    })
}

/// Whether the key's encoding is one libsodium takes: canonical (y < p, no "-0") and
/// not of small order. No signature can test this on its own: nobody can sign for a
/// point written non-canonically, so it is checked here directly.
#[pyfunction]
pub fn ed25519_key_accepted(key: &[u8]) -> bool {
    <[u8; 32]>::try_from(key)
        .ok()
        .and_then(|key| decoded(&key))
        .is_some_and(|verifying| !verifying.is_weak())
}

/// One signature check (same rules as `ed25519_verify_many`).
#[pyfunction]
pub fn ed25519_verify(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    check(key, message, signature)
}
