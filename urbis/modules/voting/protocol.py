"""The bytes a resident's ballot key and the registrar sign: spelled once, used by the
chain (to check) and by the CLI and SDK (to sign)."""

from __future__ import annotations

import hashlib

from urbis.crypto.hashing import tagged_hash

BALLOT_KEY_TAG = b"urbis/voting/ballot-key\x00"


def ballot_key_message(election_id: bytes, ballot_key: bytes) -> bytes:
    """What the registrar blind-signs (RFC 9474 `msg`; the signed input is
    key_prefix || this): the ballot key, for this election only."""
    return BALLOT_KEY_TAG + len(election_id).to_bytes(1, "big") + election_id + ballot_key


def ballot_message(kind: str, election_id: bytes, ballot: bytes) -> bytes:
    """What the ballot key signs: `cast` or `challenge`, the election, the ballot's hash."""
    return tagged_hash(f"voting/{kind}", election_id + b"\x00" + hashlib.sha256(ballot).digest())


def nullifier(election_id: bytes, issuer: str, credential_id: str) -> bytes:
    """The registrar's election-scoped name for one credential: the same credential gives
    the same nullifier in this election and an unrelated one in the next."""
    return tagged_hash(
        "voting/nullifier",
        election_id + b"\x00" + issuer.encode() + b"\x00" + credential_id.encode(),
    )
