"""Authenticated key-value state: a Merkle root after every block, inclusion and
absence proofs at recent heights, crash-safe persistence (values in SQLite, tree
nodes in append-only segment files with a bounded cache)."""

from urbis.state.database import Database
from urbis.state.proof import ProofError, StateProof, verify_state_proof
from urbis.state.store import StateStore, UnknownHeight

__all__ = [
    "Database",
    "ProofError",
    "StateProof",
    "StateStore",
    "UnknownHeight",
    "verify_state_proof",
]
