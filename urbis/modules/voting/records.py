"""Records and action arguments of the voting module.

Everything ElectionGuard defines (guardian keys, shares, ballots, decryptions) travels as
bytes: deterministic CBOR of the `urbis.election` objects' wire form, decoded and checked
(every group element, every proof) by `electionguard.py` before a handler writes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from urbis.chain.ids import AccountId

GUARDIANS_MAX = 32
"""ElectionGuard has no limit; 32 independent institutions is already a large commission."""
MANIFEST_BYTES_MAX = 256 * 1024
"""A city manifest (a few dozen contests) is tens of KiB; H_B is taken over these bytes."""
BALLOT_BYTES_MAX = 512 * 1024
"""A ballot of 20 contests of 10 options in the 4096-bit group is ~200 KiB with its proofs."""
WINDOW_BLOCKS_MAX = 10_000_000
"""About four months at 1 s blocks: a window longer than that is a mistake."""
PHASES = ("ceremony", "open", "closed", "tallied")
"""ceremony (keys and shares) -> open (joint key recorded) -> closed (aggregate fixed)
-> tallied (result recorded)."""
ELECTION_ID = re.compile(rb"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")
"""Election ids are readable (`city-2027`), so they appear as is in keys, URLs and CLI."""
VCT = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def check_election_id(election_id: bytes) -> None:
    if not ELECTION_ID.match(election_id):
        raise ValueError("election id must be 3 to 32 of A-Z a-z 0-9 _ . - (starting alnum)")


@dataclass(frozen=True, slots=True)
class Election:
    id: bytes
    department: str
    title: str
    manifest: bytes
    """The manifest's exact bytes: H_B is computed over them, never over a re-encoding."""
    group: str
    guardians: list[AccountId]
    quorum: int
    opens_at_height: int
    closes_at_height: int
    eligibility_vct: str
    registrar: AccountId
    registrar_key: bytes
    """The registrar's RSA public key (DER SubjectPublicKeyInfo) for RFC 9474 signatures."""
    created_by: AccountId
    created_at_height: int
    phase: str
    parameter_hash: bytes
    """H_P for (group, n, k)."""
    base_hash: bytes
    """H_B over the manifest bytes."""
    joint_key: bytes = b""
    """K and K̂ (the library's wire form), set when every share is confirmed."""
    extended_base_hash: bytes = b""
    """H_E, set with the joint key."""
    registrations: int = 0
    ballot_keys: int = 0
    """Distinct ballot keys that cast; never more than `registrations`."""
    counted: int = 0
    """Ballots in the aggregate (the last one of each ballot key)."""
    replaced: int = 0
    challenged: int = 0
    next_ballot: int = 0
    decryptions: int = 0
    """Guardians whose Chaum-Pedersen responses are in (the last of the three steps)."""
    complaints: int = 0
    tally_guardians: list[int] = field(default_factory=list)
    """U: the first `quorum` guardians who joined the decryption, in join order."""
    decryption_challenges: bytes = b""
    """c per option (eq. 90), computed on chain once every guardian in U revealed."""


@dataclass(frozen=True, slots=True)
class GuardianKey:
    index: int
    account: AccountId
    public_key: bytes
    posted_at_height: int


@dataclass(frozen=True, slots=True)
class Share:
    dealer: int
    recipient: int
    encrypted: bytes
    status: str
    """posted -> confirmed, or posted -> complained -> confirmed (the dealer revealed it)."""


@dataclass(frozen=True, slots=True)
class Registration:
    """One resident's one blind signature: the registrar never saw the ballot key, and the
    nullifier names the credential only for this election."""

    nullifier: bytes
    blinded_msg: bytes
    blind_sig: bytes
    at_height: int


@dataclass(frozen=True, slots=True)
class CastBallot:
    seq: int
    ballot_key: bytes
    key_prefix: bytes
    registrar_signature: bytes
    ballot: bytes
    signature: bytes
    confirmation_code: bytes
    status: str
    """counted, or replaced (a later ballot of the same key took its place)."""
    cast_at_height: int


@dataclass(frozen=True, slots=True)
class ChallengedBallot:
    seq: int
    ballot: bytes
    nonces: bytes
    confirmation_code: bytes
    at_height: int


@dataclass(frozen=True, slots=True)
class Decryption:
    """Guardian i's three decryption messages (each the library's JSON; empty until sent)."""

    guardian: int
    commit: bytes = b""
    reveal: bytes = b""
    response: bytes = b""


@dataclass(frozen=True, slots=True)
class Result:
    tally: bytes
    """The library's decrypted tally with its proofs (wire form)."""
    counts: list[list[int]]
    """Per contest, per option, the decrypted count."""
    guardians: list[int]
    at_height: int


# -- action arguments ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateElection:
    """An election commission (`<department>.elections`) sets an election up."""

    id: bytes
    department: str
    title: str
    manifest: bytes
    guardians: list[AccountId]
    quorum: int
    opens_at_height: int
    closes_at_height: int
    eligibility_vct: str
    registrar: AccountId
    registrar_key: bytes
    group: str = "standard-4096"

    def __post_init__(self) -> None:
        check_election_id(self.id)
        if not self.title or len(self.title.encode()) > 200:
            raise ValueError("title must be 1 to 200 bytes")
        if not 0 < len(self.manifest) <= MANIFEST_BYTES_MAX:
            raise ValueError(f"manifest must be 1 to {MANIFEST_BYTES_MAX} bytes")
        if not 1 <= len(self.guardians) <= GUARDIANS_MAX:
            raise ValueError(f"an election has 1 to {GUARDIANS_MAX} guardians")
        if len(set(self.guardians)) != len(self.guardians):
            raise ValueError("each guardian is named once")
        if self.registrar in self.guardians:
            raise ValueError("the registrar may not be a guardian")
        if not 1 <= self.quorum <= len(self.guardians):
            raise ValueError("quorum must be 1 to the number of guardians")
        if not 0 <= self.opens_at_height < self.closes_at_height:
            raise ValueError("the window must open before it closes")
        if self.closes_at_height - self.opens_at_height > WINDOW_BLOCKS_MAX:
            raise ValueError(f"a window is at most {WINDOW_BLOCKS_MAX} blocks")
        if not VCT.match(self.eligibility_vct):
            raise ValueError("eligibility_vct must be a credential type name")
        if not 0 < len(self.registrar_key) <= 2048:
            raise ValueError("registrar_key must be a DER RSA public key")


@dataclass(frozen=True, slots=True)
class AmendManifest:
    """Replace the manifest; only before the first guardian posts keys."""

    id: bytes
    department: str
    manifest: bytes

    def __post_init__(self) -> None:
        check_election_id(self.id)
        if not 0 < len(self.manifest) <= MANIFEST_BYTES_MAX:
            raise ValueError(f"manifest must be 1 to {MANIFEST_BYTES_MAX} bytes")


@dataclass(frozen=True, slots=True)
class PostGuardianKey:
    election_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        check_election_id(self.election_id)


@dataclass(frozen=True, slots=True)
class PostShare:
    """The sender (a guardian) posts its share for `recipient`, encrypted to them."""

    election_id: bytes
    recipient: int
    encrypted: bytes

    def __post_init__(self) -> None:
        check_election_id(self.election_id)


@dataclass(frozen=True, slots=True)
class ConfirmShare:
    """The sender (a guardian) decrypted `dealer`'s share and it matched the commitments."""

    election_id: bytes
    dealer: int

    def __post_init__(self) -> None:
        check_election_id(self.election_id)


@dataclass(frozen=True, slots=True)
class ComplainShare:
    """The sender (a guardian) says `dealer`'s share to it does not verify (§3.2.3)."""

    election_id: bytes
    dealer: int

    def __post_init__(self) -> None:
        check_election_id(self.election_id)


@dataclass(frozen=True, slots=True)
class RevealShare:
    """A dealer answers a complaint by publishing the share in the clear; everyone checks it
    against the dealer's commitments."""

    election_id: bytes
    recipient: int
    value: bytes

    def __post_init__(self) -> None:
        check_election_id(self.election_id)


@dataclass(frozen=True, slots=True)
class RecordRegistration:
    """The registrar records a nullifier and the blind signature it returned."""

    election_id: bytes
    nullifier: bytes
    blinded_msg: bytes
    blind_sig: bytes

    def __post_init__(self) -> None:
        check_election_id(self.election_id)
        if len(self.nullifier) != 32:
            raise ValueError("a nullifier is 32 bytes")
        if not 256 <= len(self.blinded_msg) <= 1024 or len(self.blind_sig) != len(self.blinded_msg):
            raise ValueError("blinded_msg and blind_sig are one RSA modulus long each")


@dataclass(frozen=True, slots=True)
class Cast:
    """Cast (or replace) a ballot; any account relays it, the ballot key signs it."""

    election_id: bytes
    ballot_key: bytes
    key_prefix: bytes
    registrar_signature: bytes
    ballot: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_ballot_fields(
            self.election_id, self.ballot_key, self.key_prefix, self.ballot, self.signature
        )


@dataclass(frozen=True, slots=True)
class Challenge:
    """Spoil an encrypted ballot by publishing its nonces (Benaloh challenge): it is
    verified, decrypted by anyone, and never counted."""

    election_id: bytes
    ballot_key: bytes
    key_prefix: bytes
    registrar_signature: bytes
    ballot: bytes
    nonces: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_ballot_fields(
            self.election_id, self.ballot_key, self.key_prefix, self.ballot, self.signature
        )


def _check_ballot_fields(
    election_id: bytes, ballot_key: bytes, key_prefix: bytes, ballot: bytes, signature: bytes
) -> None:
    check_election_id(election_id)
    if len(ballot_key) != 32:
        raise ValueError("a ballot key is a 32-byte Ed25519 public key")
    if len(key_prefix) != 32:
        raise ValueError("key_prefix is RFC 9474's 32-byte message randomizer")
    if not 0 < len(ballot) <= BALLOT_BYTES_MAX:
        raise ValueError(f"a ballot is 1 to {BALLOT_BYTES_MAX} bytes")
    if len(signature) != 64:
        raise ValueError("signature is a 64-byte Ed25519 signature")


@dataclass(frozen=True, slots=True)
class CloseElection:
    election_id: bytes

    def __post_init__(self) -> None:
        check_election_id(self.election_id)


@dataclass(frozen=True, slots=True)
class JoinTally:
    """A guardian says it is present to decrypt; the first `quorum` to join form U."""

    election_id: bytes

    def __post_init__(self) -> None:
        check_election_id(self.election_id)


DECRYPTION_STEPS = ("commit", "reveal", "response")


@dataclass(frozen=True, slots=True)
class PostDecryption:
    """One step of a guardian's commit-then-challenge decryption (§3.6.3): `commit`
    (M_i and d_i), `reveal` (a_i, b_i, once every d_j is in), `response` (v_i)."""

    election_id: bytes
    step: str
    payload: bytes

    def __post_init__(self) -> None:
        check_election_id(self.election_id)
        if self.step not in DECRYPTION_STEPS:
            raise ValueError(f"step must be one of {', '.join(DECRYPTION_STEPS)}")
        if not 0 < len(self.payload) <= BALLOT_BYTES_MAX * 4:
            raise ValueError("payload must be 1 byte to 2 MiB")


@dataclass(frozen=True, slots=True)
class Tally:
    election_id: bytes

    def __post_init__(self) -> None:
        check_election_id(self.election_id)
