"""Every state key the voting module writes, all under `voting/`."""

from __future__ import annotations

from urbis.chain.keyparts import fixed_width

PREFIX = b"voting/"


def election(election_id: bytes) -> bytes:
    return PREFIX + b"election/" + election_id


def guardian_key(election_id: bytes, index: int) -> bytes:
    """Guardian `index` (1-based, the ElectionGuard guardian index)'s public keys and proofs."""
    return PREFIX + b"guardian/" + election_id + b"/" + fixed_width(index, 1, "guardian index")


def share(election_id: bytes, dealer: int, recipient: int) -> bytes:
    return (
        PREFIX
        + b"share/"
        + election_id
        + b"/"
        + fixed_width(dealer, 1, "dealer index")
        + fixed_width(recipient, 1, "recipient index")
    )


def registration(election_id: bytes, nullifier: bytes) -> bytes:
    return PREFIX + b"registration/" + election_id + b"/" + nullifier


def ballot(election_id: bytes, seq: int) -> bytes:
    return PREFIX + b"ballot/" + election_id + b"/" + fixed_width(seq, 8, "ballot number")


def ballot_prefix(election_id: bytes) -> bytes:
    return PREFIX + b"ballot/" + election_id + b"/"


def ballot_key(election_id: bytes, key: bytes) -> bytes:
    """The number of the ballot a ballot key cast last (replacement looks it up here)."""
    return PREFIX + b"ballot_key/" + election_id + b"/" + key


def code(election_id: bytes, confirmation_code: bytes) -> bytes:
    """Confirmation code -> ballot number, for `urbis vote track CODE`."""
    return PREFIX + b"code/" + election_id + b"/" + confirmation_code


def challenged(election_id: bytes, seq: int) -> bytes:
    return PREFIX + b"challenged/" + election_id + b"/" + fixed_width(seq, 8, "challenge number")


def challenged_prefix(election_id: bytes) -> bytes:
    return PREFIX + b"challenged/" + election_id + b"/"


def aggregate(election_id: bytes) -> bytes:
    """The running product of every counted ballot's ciphertexts (fixed at close)."""
    return PREFIX + b"aggregate/" + election_id


def decryption(election_id: bytes, index: int) -> bytes:
    return PREFIX + b"decryption/" + election_id + b"/" + fixed_width(index, 1, "guardian index")


def result(election_id: bytes) -> bytes:
    return PREFIX + b"result/" + election_id


def closing(height: int) -> bytes:
    """The ids of the elections whose window ends at `height` (end_block closes them)."""
    return PREFIX + b"closing/" + fixed_width(height, 8, "height")
