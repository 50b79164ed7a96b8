//! Ed25519 signature checks without the GIL. A block's checks run on worker
//! threads while the block executes; done through PyNaCl, each check took the GIL
//! back for its Python glue, and the executing thread waited on the workers.
//!
//! The rules are libsodium's (`crypto_sign_verify_detached`), so a signature the
//! wallet's PyNaCl accepts is accepted here and nothing else is: canonical `S`,
//! canonical encodings of `A` and `R`, neither of small order, and the
//! cofactorless equation checked on `R`'s encoding (`verify_strict`).

use ed25519_dalek::{Signature, VerifyingKey};
use pyo3::prelude::*;

fn check(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let (Ok(key), Ok(signature)) = (<[u8; 32]>::try_from(key), <[u8; 64]>::try_from(signature))
    else {
        return false;
    };
    let Ok(verifying) = VerifyingKey::from_bytes(&key) else {
        return false;
    };
    // Decompression reduces a non-canonical y (>= p) and accepts "-0"; libsodium
    // refuses both, so the key must re-encode to its own bytes.
    if verifying.to_bytes() != key {
        return false;
    }
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

/// One signature check (same rules as `ed25519_verify_many`).
#[pyfunction]
pub fn ed25519_verify(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    check(key, message, signature)
}
