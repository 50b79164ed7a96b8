//! The binary Merkle root of `urbis.crypto.merkle` (a block's transactions and
//! results): every block hashes two of them over all its transactions, and in Python
//! that was a microsecond a transaction each.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sha2::{Digest, Sha256};

fn tagged(tag: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"urbis/");
    hasher.update(tag);
    hasher.update([0u8]);
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// `merkle_root(items)`: leaves tagged "merkle/leaf", nodes "merkle/node", an odd
/// node at the end of a level promoted unchanged, 32 zero bytes for no items.
#[pyfunction]
pub fn merkle_root<'py>(py: Python<'py>, items: Vec<Vec<u8>>) -> Bound<'py, PyBytes> {
    let root = py.detach(|| {
        if items.is_empty() {
            return [0u8; 32];
        }
        let mut level: Vec<[u8; 32]> = items
            .iter()
            .map(|item| tagged(b"merkle/leaf", &[item]))
            .collect();
        while level.len() > 1 {
            let mut next: Vec<[u8; 32]> = level
                .chunks_exact(2)
                .map(|pair| tagged(b"merkle/node", &[&pair[0], &pair[1]]))
                .collect();
            if level.len() % 2 == 1 {
                next.push(level[level.len() - 1]);
            }
            level = next;
        }
        level[0]
    });
    PyBytes::new(py, &root)
}
