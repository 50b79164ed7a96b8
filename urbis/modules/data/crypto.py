"""The record envelope, record AEAD, epoch-key wrapping (HPKE) and subject keys.

Everything here is specified byte by byte in README.md ("Envelope" and "Wrapped keys"),
so another implementation (another language, another HPKE library) can decrypt a record
from the README alone. Primitives come from maintained libraries: XChaCha20-Poly1305 from
libsodium (PyNaCl), HPKE (RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
ChaCha20-Poly1305) from `cryptography`.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError

from urbis.crypto.merkle import merkle_path, merkle_root, verify_merkle_path

VERSION = 1
CLASS_CODES = {"public": 0, "internal": 1, "personal": 2}
CLASS_NAMES = {code: name for name, code in CLASS_CODES.items()}
HEADER = struct.Struct(">BBHQI")
"""version u8, classification u8, schema version u16, sequence u64, epoch u32: 16 bytes."""
NONCE_BYTES = 24
TAG_BYTES = 16
KEY_BYTES = 32
PSEUDONYM_BYTES = 32
HPKE_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
"""RFC 9180 kem_id 0x0020, kdf_id 0x0001, aead_id 0x0003, base mode."""
WRAPPED_BYTES = 32 + KEY_BYTES + TAG_BYTES
"""enc (the ephemeral X25519 public key) || the sealed 32-byte epoch key with its tag."""


class EnvelopeError(ValueError):
    """Bytes that are not a record envelope, or that do not open."""


@dataclass(frozen=True, slots=True)
class Envelope:
    classification: str
    schema_version: int
    seq: int
    epoch: int
    pseudonym: bytes | None
    nonce: bytes | None
    body: bytes
    """The ciphertext with its tag (encrypted streams) or the JSON record (public)."""

    def header(self) -> bytes:
        head = HEADER.pack(
            VERSION, CLASS_CODES[self.classification], self.schema_version, self.seq, self.epoch
        )
        return head + (self.pseudonym or b"")

    def encode(self) -> bytes:
        return self.header() + (self.nonce or b"") + self.body


def _length_prefixed(text: str) -> bytes:
    raw = text.encode()
    if len(raw) > 255:
        raise EnvelopeError("a name in associated data is at most 255 bytes")
    return bytes([len(raw)]) + raw


def view_name(stream: str, grantee: str) -> str:
    """The name a projected copy is sealed under in place of the stream id: a copy made for
    one grantee opens for no other, and never as a full record."""
    return f"{stream}/{grantee}"


def record_aad(stream: str, envelope: Envelope) -> bytes:
    """The envelope's header and the stream id: a record cannot be moved to another stream,
    sequence number, epoch or subject without failing to open."""
    return envelope.header() + _length_prefixed(stream)


def decode_envelope(raw: bytes) -> Envelope:
    if len(raw) < HEADER.size:
        raise EnvelopeError(f"an envelope is at least {HEADER.size} bytes, not {len(raw)}")
    version, code, schema_version, seq, epoch = HEADER.unpack_from(raw)
    if version != VERSION:
        raise EnvelopeError(f"envelope version {version}; this reads {VERSION}")
    if code not in CLASS_NAMES:
        raise EnvelopeError(f"unknown classification code {code}")
    classification = CLASS_NAMES[code]
    at = HEADER.size
    pseudonym = None
    if classification == "personal":
        pseudonym = raw[at : at + PSEUDONYM_BYTES]
        at += PSEUDONYM_BYTES
    if classification == "public":
        if epoch != 0:
            raise EnvelopeError("a public record has epoch 0")
        return Envelope(classification, schema_version, seq, 0, None, None, raw[at:])
    nonce = raw[at : at + NONCE_BYTES]
    body = raw[at + NONCE_BYTES :]
    if len(nonce) != NONCE_BYTES or len(body) < TAG_BYTES or epoch == 0:
        raise EnvelopeError("an encrypted envelope needs epoch >= 1, a nonce and a tag")
    return Envelope(classification, schema_version, seq, epoch, pseudonym, nonce, body)


def seal_record(
    stream: str,
    classification: str,
    schema_version: int,
    seq: int,
    epoch: int,
    plaintext: bytes,
    key: bytes | None,
    pseudonym: bytes | None = None,
) -> bytes:
    """The envelope of one record: plaintext for public streams, else sealed with `key`."""
    if classification == "public":
        return Envelope("public", schema_version, seq, 0, None, None, plaintext).encode()
    assert key is not None and len(key) == KEY_BYTES
    if (classification == "personal") != (pseudonym is not None):
        raise EnvelopeError("personal records, and only they, carry a subject pseudonym")
    # built inline (not through Envelope) because a producer seals tens of thousands a
    # second: the same bytes as Envelope(...).encode(), checked by the property test
    header = HEADER.pack(VERSION, CLASS_CODES[classification], schema_version, seq, epoch)
    if pseudonym is not None:
        header += pseudonym
    nonce = os.urandom(NONCE_BYTES)
    body = crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, header + _length_prefixed(stream), nonce, key
    )
    return header + nonce + body


def open_record(stream: str, envelope: Envelope, key: bytes) -> bytes:
    assert envelope.nonce is not None
    try:
        return bytes(
            crypto_aead_xchacha20poly1305_ietf_decrypt(
                envelope.body, record_aad(stream, envelope), envelope.nonce, key
            )
        )
    except CryptoError:
        raise EnvelopeError(
            f"record {envelope.seq} of {stream} does not open: tampered, or the wrong key"
        ) from None


# -- epoch keys (HPKE) ----------------------------------------------------------------


def wrap_info(stream: str, epoch: int, department: str) -> bytes:
    return (
        b"urbis data epoch key v1"
        + _length_prefixed(stream)
        + struct.pack(">I", epoch)
        + _length_prefixed(department)
    )


def wrap_epoch_key(
    epoch_key: bytes, public_key: bytes, stream: str, epoch: int, department: str
) -> bytes:
    """HPKE single-shot seal of the epoch key to a department's data key (80 bytes)."""
    recipient = X25519PublicKey.from_public_bytes(public_key)
    return HPKE_SUITE.encrypt(epoch_key, recipient, info=wrap_info(stream, epoch, department))


def unwrap_epoch_key(
    wrapped: bytes, private_key: X25519PrivateKey, stream: str, epoch: int, department: str
) -> bytes:
    try:
        return HPKE_SUITE.decrypt(wrapped, private_key, info=wrap_info(stream, epoch, department))
    except (InvalidTag, ValueError):
        raise EnvelopeError(
            f"epoch {epoch} key of {stream} does not unwrap for {department}"
        ) from None


# -- personal streams: subjects ---------------------------------------------------------


def pseudonym(stream: str, subject: bytes) -> bytes:
    """What a personal record carries instead of its subject; the subject (knowing its
    account id) derives it, a reader without the id cannot reverse it."""
    return hashlib.sha256(b"urbis data subject v1" + _length_prefixed(stream) + subject).digest()


def subject_record_key(epoch_key: bytes, subject_key: bytes) -> bytes:
    """HKDF-SHA256(salt=epoch key, ikm=subject key): destroying either one loses the record."""
    return HKDF(hashes.SHA256(), KEY_BYTES, epoch_key, b"urbis data subject record key v1").derive(
        subject_key
    )


def subject_key_aad(stream: str, epoch: int, subject: bytes) -> bytes:
    return (
        b"urbis data subject key v1" + _length_prefixed(stream) + struct.pack(">I", epoch) + subject
    )


def wrap_subject_key(
    subject_key: bytes, epoch_key: bytes, stream: str, epoch: int, subject: bytes
) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(
        subject_key, subject_key_aad(stream, epoch, subject), nonce, epoch_key
    )


def unwrap_subject_key(
    wrapped: bytes, epoch_key: bytes, stream: str, epoch: int, subject: bytes
) -> bytes:
    try:
        return bytes(
            crypto_aead_xchacha20poly1305_ietf_decrypt(
                wrapped[NONCE_BYTES:],
                subject_key_aad(stream, epoch, subject),
                wrapped[:NONCE_BYTES],
                epoch_key,
            )
        )
    except CryptoError:
        raise EnvelopeError("subject key does not unwrap") from None


# -- Merkle ------------------------------------------------------------------------------


def batch_root(envelopes: list[bytes]) -> bytes:
    return merkle_root(envelopes)


def record_path(envelopes: list[bytes], index: int) -> list[tuple[bool, bytes]]:
    return merkle_path(envelopes, index)


def check_path(envelope: bytes, path: list[tuple[bool, bytes]], root: bytes) -> bool:
    return verify_merkle_path(envelope, path, root)


def dataset_root(content: bytes) -> bytes:
    """A dataset file's root: the Merkle root of its lines (JSON lines split on `\\n`, a
    final newline ignored), each line's bytes one leaf."""
    lines = content.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return merkle_root(lines)


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)
