//! Ed25519 signature checks without the GIL. A block's checks run on worker
//! threads while the block executes; done through PyNaCl, each check took the GIL
//! back for its Python glue, and the executing thread waited on the workers.
//!
//! The rules are libsodium's (`crypto_sign_verify_detached`), so a signature the
//! wallet's PyNaCl accepts is accepted here and nothing else is: canonical `S`,
//! canonical encodings of `A` and `R`, neither of small order, and the
//! cofactorless equation checked on `R`'s encoding (ed25519-dalek's `verify_strict`,
//! done here on curve25519-dalek without its square root for `R`).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use pyo3::prelude::*;
use sha2::{Digest, Sha512};

/// Decoded keys kept, negated as the check uses them: an account signs many
/// transactions, and decompressing its key (a field square root) was a tenth of each
/// check. Cleared whole when full: a stream of fresh keys (about half of all 32-byte
/// strings decode) costs speed, never a wrong answer, as each entry depends only on
/// its key's bytes.
const KEYS_CACHED_MAX: usize = 50_000;

#[derive(Clone, Copy)]
struct Key {
    minus_a: EdwardsPoint,
    small_order: bool,
}

fn keys() -> &'static Mutex<HashMap<[u8; 32], Key>> {
    static KEYS: OnceLock<Mutex<HashMap<[u8; 32], Key>>> = OnceLock::new();
    KEYS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The key's point, or None if its encoding is not canonical (libsodium refuses those;
/// it refuses small-order keys too, which `check` finds by the flag).
fn decoded(key: &[u8; 32]) -> Option<Key> {
    if let Some(known) = keys().lock().unwrap_or_else(|e| e.into_inner()).get(key) {
        return Some(*known);
    }
    // Decompression reduces a non-canonical y (>= p) and accepts "-0"; libsodium
    // refuses both, so the point must compress back to the key's own bytes.
    let point = CompressedEdwardsY(*key)
        .decompress()
        .filter(|point| point.compress().to_bytes() == *key)?;
    let decoded = Key {
        minus_a: -point,
        small_order: point.is_small_order(),
    };
    let mut cache = keys().lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= KEYS_CACHED_MAX {
        cache.clear();
    }
    cache.insert(*key, decoded);
    Some(decoded)
}

/// libsodium's `crypto_sign_verify_detached`, which is also ed25519-dalek's
/// `verify_strict`: `S` canonical, `A` canonical and not of small order, and
/// `R' = [S]B - [k]A` (k = SHA-512(R || A || M) mod L) encoding to `R`'s own bytes, not
/// of small order.
///
/// `verify_strict` decompresses `R` first (a square root) to test its order. Not
/// needed: the check only passes when `R'`, a point, encodes to `R`'s bytes, so `R` then
/// is `R'`, and testing `R'` (three doublings) gives the same answer for every input.
/// That saved about a tenth of a check: 37.7 against 33.0 µs a signature, best of 15
/// rounds of 1,000, four runs each way. tests/test_signatures.py holds both to
/// libsodium, including the cases only the order test refuses: R of small order that
/// equals the point computed (the identity with any key; any of the eight with a key
/// that has a torsion part).
fn check(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let (Ok(key), Ok(signature)) = (<[u8; 32]>::try_from(key), <[u8; 64]>::try_from(signature))
    else {
        return false;
    };
    let Some(decoded) = decoded(&key) else {
        return false;
    };
    if decoded.small_order {
        return false;
    }
    let (r, s) = signature.split_at(32);
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s.try_into().unwrap()))
    else {
        return false;
    };
    let hash: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(key)
        .chain_update(message)
        .finalize()
        .into();
    let k = Scalar::from_bytes_mod_order_wide(&hash);
    let expected = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &decoded.minus_a, &s);
    expected.compress().as_bytes() == r && !expected.is_small_order()
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
        .is_some_and(|decoded| !decoded.small_order)
}

/// One signature check (same rules as `ed25519_verify_many`).
#[pyfunction]
pub fn ed25519_verify(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    check(key, message, signature)
}
