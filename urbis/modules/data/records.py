"""Records (stored on chain) and action arguments of the data module.

Only ids, counts, sequence ranges, roots and key-management facts go on chain:
payloads stay in the producing node's datastore (datastore.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from urbis.chain.ids import AccountId

CLASSIFICATIONS = ("public", "internal", "personal")
"""public: plaintext, readable by anyone with its proof; internal and personal: encrypted
with the stream's epoch key; personal records also carry a subject pseudonym and are read
only through a logged access."""

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
"""Stream and dataset ids: short, lower-case, safe in URLs, keys and file names."""

SCHEMA_BYTES_MAX = 16_384
"""A JSON Schema for sensor readings or case files fits easily; a schema is metadata."""
PURPOSE_MAX = 200
"""One line saying why (GDPR Art. 5(1)(b) purpose limitation), not a policy document."""
BATCH_RECORDS_MAX = 4_096
"""Records one anchor covers; the Merkle path of a record stays at most 12 hashes."""
RETENTION_BLOCKS_MAX = 1 << 40
"""Retention in blocks: far beyond any statute, but a bounded integer."""
PROJECTION_FIELDS_MAX = 64
FIGURES_MAX = 16
"""Named integer figures on one quality attestation (e.g. rows, missing, late_ms)."""
INPUTS_MAX = 32
VIEWS_MAX = 32
"""Projected grantees of one stream: each costs the producer one more sealed copy."""
KEY_BYTES = 32


def check_id(value: str, what: str) -> None:
    if not ID_PATTERN.match(value):
        raise ValueError(f"{what} must match {ID_PATTERN.pattern}, not {value!r}")


def _check_text(value: str, what: str, limit: int) -> None:
    if not value or len(value.encode()) > limit:
        raise ValueError(f"{what} must be 1 to {limit} bytes")


# -- stored ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataKey:
    public_key: bytes
    registered_by: AccountId
    registered_at_height: int


@dataclass(frozen=True, slots=True)
class Stream:
    id: str
    department: str
    classification: str
    retention_blocks: int
    purpose: str
    schema_versions: int
    epoch: int
    """The current epoch: new records are sealed under its key (0 for public streams)."""
    next_seq: int
    """The sequence number the next anchor must start at; also the count of records."""
    anchors: int
    accesses: int
    registered_by: AccountId
    registered_at_height: int
    viewers: list[str]
    """Grantees whose grant names a projection: they never get the epoch key, only a view
    key per epoch, and each anchor carries the root of their projected copies."""


@dataclass(frozen=True, slots=True)
class Schema:
    version: int
    text: str
    added_at_height: int


@dataclass(frozen=True, slots=True)
class Anchor:
    stream: str
    first_seq: int
    count: int
    root: bytes
    epoch: int
    height: int
    producer: AccountId
    views: dict[str, bytes]
    """Per projected grantee, the root of the batch's projected copies for it."""


@dataclass(frozen=True, slots=True)
class Epoch:
    number: int
    starts_at_seq: int
    started_at_height: int
    grantees: list[str]
    """Departments whose data keys the epoch key is wrapped for (the owner's included)."""
    shredded_at_height: int | None


@dataclass(frozen=True, slots=True)
class Grant:
    stream: str
    grantee: str
    role: str
    purpose: str
    expires_at_height: int
    projection: list[str]
    granted_by: AccountId
    granted_at_height: int
    from_epoch: int


@dataclass(frozen=True, slots=True)
class AccessEntry:
    index: int
    stream: str
    reader: AccountId
    grantee: str
    purpose: str
    first_seq: int
    last_seq: int
    height: int


@dataclass(frozen=True, slots=True)
class DatasetInput:
    kind: str
    """"stream" (ref = stream id, a sequence range) or "dataset" (ref = id@version)."""
    ref: str
    first_seq: int
    last_seq: int
    root: bytes

    def __post_init__(self) -> None:
        if self.kind not in ("stream", "dataset"):
            raise ValueError("an input's kind is stream or dataset")
        if not 0 <= self.first_seq <= self.last_seq:
            raise ValueError("an input's range needs 0 <= first_seq <= last_seq")
        if len(self.root) != 32:
            raise ValueError("an input's root is 32 bytes")
        _check_text(self.ref, "input ref", 100)


@dataclass(frozen=True, slots=True)
class Dataset:
    id: str
    version: int
    department: str
    root: bytes
    records: int
    size_bytes: int
    inputs: list[DatasetInput]
    transformation: str
    code_hash: bytes
    publisher: AccountId
    published_at_height: int


@dataclass(frozen=True, slots=True)
class Attestation:
    dataset: str
    version: int
    kind: str
    passed: bool
    figures: dict[str, int]
    steward: AccountId
    department: str
    attested_at_height: int


# -- action arguments ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterKey:
    """Register (or replace) the department's X25519 data key; grants wrap keys for it."""

    department: str
    public_key: bytes

    def __post_init__(self) -> None:
        if len(self.public_key) != KEY_BYTES:
            raise ValueError("an X25519 public key is 32 bytes")


@dataclass(frozen=True, slots=True)
class RegisterStream:
    """A department declares a stream: its schema, classification, retention and purpose."""

    id: str
    department: str
    schema: str
    classification: str
    retention_blocks: int
    purpose: str

    def __post_init__(self) -> None:
        check_id(self.id, "stream id")
        if self.classification not in CLASSIFICATIONS:
            raise ValueError(f"classification must be one of {', '.join(CLASSIFICATIONS)}")
        _check_text(self.schema, "schema", SCHEMA_BYTES_MAX)
        _check_text(self.purpose, "purpose", PURPOSE_MAX)
        if not 1 <= self.retention_blocks <= RETENTION_BLOCKS_MAX:
            raise ValueError(f"retention_blocks must be 1 to {RETENTION_BLOCKS_MAX}")


@dataclass(frozen=True, slots=True)
class AddSchema:
    """A new schema version; earlier versions stay, records name the one they follow."""

    stream: str
    department: str
    schema: str

    def __post_init__(self) -> None:
        check_id(self.stream, "stream id")
        _check_text(self.schema, "schema", SCHEMA_BYTES_MAX)


@dataclass(frozen=True, slots=True)
class AnchorBatch:
    """Anchor records `first_seq .. first_seq + count - 1` of a stream by their Merkle root."""

    stream: str
    department: str
    first_seq: int
    count: int
    root: bytes
    epoch: int
    views: dict[str, bytes] = field(default_factory=dict)
    """Per projected grantee in force, the root of its projected copies of these records."""

    def __post_init__(self) -> None:
        check_id(self.stream, "stream id")
        if len(self.views) > VIEWS_MAX or any(len(r) != 32 for r in self.views.values()):
            raise ValueError(f"at most {VIEWS_MAX} views, each a 32-byte root")
        if not 1 <= self.count <= BATCH_RECORDS_MAX:
            raise ValueError(f"count must be 1 to {BATCH_RECORDS_MAX}")
        if not 0 <= self.first_seq < 1 << 63:
            raise ValueError("first_seq must be 0 to 2^63-1")
        if len(self.root) != 32:
            raise ValueError("root must be 32 bytes")
        if not 0 <= self.epoch < 1 << 32:
            raise ValueError("epoch must be a u32")


@dataclass(frozen=True, slots=True)
class GrantAccess:
    """Let `grantee` (its accounts holding `grantee.role`) read the stream, for a purpose."""

    stream: str
    department: str
    grantee: str
    role: str
    purpose: str
    expires_at_height: int
    projection: list[str]

    def __post_init__(self) -> None:
        check_id(self.stream, "stream id")
        _check_text(self.role, "role", 64)
        _check_text(self.purpose, "purpose", PURPOSE_MAX)
        if len(self.projection) > PROJECTION_FIELDS_MAX:
            raise ValueError(f"a projection names at most {PROJECTION_FIELDS_MAX} fields")
        for name in self.projection:
            _check_text(name, "projection field", 64)


@dataclass(frozen=True, slots=True)
class RevokeAccess:
    """End a grant and rotate the epoch: new records get a key the grantee never sees."""

    stream: str
    department: str
    grantee: str


@dataclass(frozen=True, slots=True)
class RotateEpoch:
    """Start a new epoch (new key, same grantees), e.g. on a schedule or after a leak."""

    stream: str
    department: str


@dataclass(frozen=True, slots=True)
class ShredEpoch:
    """Record that an epoch key is destroyed: every node deletes its wrapped copies."""

    stream: str
    department: str
    epoch: int


@dataclass(frozen=True, slots=True)
class ShredSubject:
    """Record that a data subject's key is destroyed (GDPR Art. 17) on a personal stream."""

    stream: str
    department: str
    pseudonym: bytes

    def __post_init__(self) -> None:
        if len(self.pseudonym) != 32:
            raise ValueError("a pseudonym is 32 bytes")


@dataclass(frozen=True, slots=True)
class RecordAccess:
    """A grantee's reader logs a read of a personal stream's records before it gets them."""

    stream: str
    grantee: str
    first_seq: int
    last_seq: int

    def __post_init__(self) -> None:
        if not 0 <= self.first_seq <= self.last_seq < 1 << 63:
            raise ValueError("the range needs 0 <= first_seq <= last_seq < 2^63")


@dataclass(frozen=True, slots=True)
class PublishDataset:
    """A dataset version: its file's root, its inputs by root, how it was made, by whom."""

    id: str
    version: int
    department: str
    root: bytes
    records: int
    size_bytes: int
    inputs: list[DatasetInput]
    transformation: str
    code_hash: bytes

    def __post_init__(self) -> None:
        check_id(self.id, "dataset id")
        if not 1 <= self.version < 1 << 32:
            raise ValueError("version must be 1 to 2^32-1")
        if len(self.root) != 32 or len(self.code_hash) != 32:
            raise ValueError("root and code_hash are 32 bytes")
        if not 0 <= self.records < 1 << 63 or not 0 <= self.size_bytes < 1 << 63:
            raise ValueError("records and size_bytes must be 0 to 2^63-1")
        if not 1 <= len(self.inputs) <= INPUTS_MAX:
            raise ValueError(f"a dataset names 1 to {INPUTS_MAX} inputs")
        _check_text(self.transformation, "transformation", 500)


@dataclass(frozen=True, slots=True)
class Attest:
    """A data steward's quality attestation on a dataset version, with measured figures."""

    dataset: str
    version: int
    department: str
    kind: str
    passed: bool
    figures: dict[str, int]

    def __post_init__(self) -> None:
        if self.kind not in ("schema", "completeness", "freshness"):
            raise ValueError("kind is schema, completeness or freshness")
        if not 1 <= len(self.figures) <= FIGURES_MAX:
            raise ValueError(f"an attestation carries 1 to {FIGURES_MAX} figures")
        for name, value in self.figures.items():
            _check_text(name, "figure name", 40)
            if not -(1 << 63) <= value < 1 << 63:
                raise ValueError(f"figure {name} must fit 64 bits")
