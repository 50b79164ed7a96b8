"""Records and action arguments of the documents module.

A record holds a document's SHA-256, never its content: what it is (type, a
public reference such as a deed number), who anchored it and when. Personal
data stays in the document, off chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from urbis.chain.ids import AccountId

DOC_TYPE_BYTES_MAX = 64
REFERENCE_BYTES_MAX = 256
REASON_BYTES_MAX = 256
BATCH_SIZE_MAX = 1_000_000


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != 32:
        raise ValueError(f"{name} must be a 32-byte SHA-256 digest, got {len(value)} bytes")


def _check_text(name: str, value: str, limit: int, required: bool = True) -> None:
    if required and not value:
        raise ValueError(f"{name} must not be empty")
    if len(value.encode()) > limit:
        raise ValueError(f"{name} is longer than {limit} bytes")


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    hash: bytes
    department: str
    doc_type: str
    reference: str
    anchored_by: AccountId
    anchored_at_height: int
    time_ms: int
    tx_id: bytes
    status: str  # "valid" | "revoked" | "superseded"
    batch_count: int = 0  # >0: this record is a batch root over that many documents
    supersedes: bytes = b""
    superseded_by: bytes = b""
    revoked_at_height: int = 0
    revoked_reason: str = ""


@dataclass(frozen=True, slots=True)
class Anchor:
    """Anchor one document: its SHA-256, type and public reference."""

    department: str
    hash: bytes
    doc_type: str
    reference: str = ""

    def __post_init__(self) -> None:
        _check_hash("hash", self.hash)
        _check_text("doc_type", self.doc_type, DOC_TYPE_BYTES_MAX)
        _check_text("reference", self.reference, REFERENCE_BYTES_MAX, required=False)


@dataclass(frozen=True, slots=True)
class AnchorBatch:
    """Anchor the Merkle root over many documents' hashes (one transaction for a batch)."""

    department: str
    root: bytes
    count: int
    doc_type: str
    reference: str = ""

    def __post_init__(self) -> None:
        _check_hash("root", self.root)
        if not 1 <= self.count <= BATCH_SIZE_MAX:
            raise ValueError(f"count must be 1 to {BATCH_SIZE_MAX}")
        _check_text("doc_type", self.doc_type, DOC_TYPE_BYTES_MAX)
        _check_text("reference", self.reference, REFERENCE_BYTES_MAX, required=False)


@dataclass(frozen=True, slots=True)
class Revoke:
    department: str
    hash: bytes
    reason: str

    def __post_init__(self) -> None:
        _check_hash("hash", self.hash)
        _check_text("reason", self.reason, REASON_BYTES_MAX)


@dataclass(frozen=True, slots=True)
class Supersede:
    """Anchor `new_hash` as the next version of `old_hash`, which stops being current."""

    department: str
    old_hash: bytes
    new_hash: bytes
    doc_type: str
    reference: str = ""

    def __post_init__(self) -> None:
        _check_hash("old_hash", self.old_hash)
        _check_hash("new_hash", self.new_hash)
        _check_text("doc_type", self.doc_type, DOC_TYPE_BYTES_MAX)
        _check_text("reference", self.reference, REFERENCE_BYTES_MAX, required=False)
