"""The data module's cryptography against its standards and a second implementation:
RFC 9180 A.2.1 known answers, HPKE interop with pyhpke both ways, a record decrypted by
following README.md's byte layout with other libraries, and property tests of the
envelope and the batch Merkle paths."""

from __future__ import annotations

import hashlib
import struct

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt
from pyhpke import AEADId, CipherSuite, KDFId, KEMId

from urbis.modules.data import crypto
from urbis.modules.data.sdk import new_data_key, public_bytes

# RFC 9180, Appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305, Base
INFO = bytes.fromhex("4f6465206f6e2061204772656369616e2055726e")
IKM_R = bytes.fromhex("1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df")
SK_RM = bytes.fromhex("8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb")
PK_RM = bytes.fromhex("4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a")
ENC = bytes.fromhex("1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a")
PT = bytes.fromhex("4265617574792069732074727574682c20747275746820626561757479")
CTS = [
    (
        "436f756e742d30",
        "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db"
        "21993c62ce81883d2dd1b51a28",
    ),
    (
        "436f756e742d31",
        "6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e"
        "85285337cc95ba5f59992dc98c",
    ),
]
SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.CHACHA20_POLY1305)


def test_rfc9180_a21_with_the_library_urbis_uses() -> None:
    """cryptography's HPKE opens the RFC's first ciphertext of this suite (sequence 0; its
    single-shot API has no later sequence numbers, which Urbis never uses)."""
    key = X25519PrivateKey.from_private_bytes(SK_RM)
    assert public_bytes(key) == PK_RM
    aad, ct = CTS[0]
    opened = rust_openssl.hpke._decrypt_with_aad(  # the one way to pass the RFC's aad
        crypto.HPKE_SUITE, ENC + bytes.fromhex(ct), key, info=INFO, aad=bytes.fromhex(aad)
    )
    assert opened == PT
    with pytest.raises(InvalidTag):
        rust_openssl.hpke._decrypt_with_aad(
            crypto.HPKE_SUITE,
            ENC + bytes.fromhex(ct),
            key,
            info=INFO + b"x",
            aad=bytes.fromhex(aad),
        )


def test_rfc9180_a21_with_pyhpke_including_key_derivation() -> None:
    derived = SUITE.kem.derive_key_pair(IKM_R)
    assert derived.public_key.to_public_bytes() == PK_RM
    context = SUITE.create_recipient_context(ENC, SUITE.kem.deserialize_private_key(SK_RM), INFO)
    for aad, ct in CTS:  # in order: sequence numbers 0 and 1
        assert context.open(bytes.fromhex(ct), bytes.fromhex(aad)) == PT


def test_wrapped_epoch_keys_interoperate_with_pyhpke_both_ways() -> None:
    recipient = new_data_key()
    epoch_key = crypto.new_key()
    info = crypto.wrap_info("traffic.live", 3, "police")
    wrapped = crypto.wrap_epoch_key(epoch_key, public_bytes(recipient), "traffic.live", 3, "police")
    assert len(wrapped) == crypto.WRAPPED_BYTES
    raw_private = recipient.private_bytes_raw()
    opened = SUITE.create_recipient_context(
        wrapped[:32], SUITE.kem.deserialize_private_key(raw_private), info
    ).open(wrapped[32:], b"")
    assert opened == epoch_key
    enc, sender = SUITE.create_sender_context(
        SUITE.kem.deserialize_public_key(public_bytes(recipient)), info
    )
    ciphertext = sender.seal(epoch_key, b"")
    assert (
        crypto.unwrap_epoch_key(enc + ciphertext, recipient, "traffic.live", 3, "police")
        == epoch_key
    )
    with pytest.raises(crypto.EnvelopeError):  # bound to stream, epoch and department
        crypto.unwrap_epoch_key(wrapped, recipient, "traffic.live", 4, "police")


def test_a_record_decrypts_from_the_readme_alone() -> None:
    """Follow README.md's layout with pyhpke and libsodium, not Urbis's own functions."""
    recipient = new_data_key()
    epoch_key = crypto.new_key()
    stream, epoch, department = "traffic.live", 2, "police"
    wrapped = crypto.wrap_epoch_key(epoch_key, public_bytes(recipient), stream, epoch, department)
    envelope = crypto.seal_record(stream, "internal", 1, 41, epoch, b'{"speed_kmh":48}', epoch_key)
    # wrapped key: enc (32) || ciphertext (48); info as the README spells it
    info = (
        b"urbis data epoch key v1"
        + bytes([len(stream)])
        + stream.encode()
        + struct.pack(">I", epoch)
        + bytes([len(department)])
        + department.encode()
    )
    key = SUITE.create_recipient_context(
        wrapped[:32], SUITE.kem.deserialize_private_key(recipient.private_bytes_raw()), info
    ).open(wrapped[32:], b"")
    # envelope: 16-byte header, 24-byte nonce, ciphertext||tag; aad = header || len || stream
    version, code, schema_version, seq, envelope_epoch = struct.unpack(">BBHQI", envelope[:16])
    assert (version, code, schema_version, seq, envelope_epoch) == (1, 1, 1, 41, 2)
    aad = envelope[:16] + bytes([len(stream)]) + stream.encode()
    plain = crypto_aead_xchacha20poly1305_ietf_decrypt(envelope[40:], aad, envelope[16:40], key)
    assert plain == b'{"speed_kmh":48}'


def test_a_personal_record_decrypts_from_the_readme_alone() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    stream, subject = "health.cases", bytes(range(20))
    epoch_key, subject_key = crypto.new_key(), crypto.new_key()
    pseudonym = hashlib.sha256(
        b"urbis data subject v1" + bytes([len(stream)]) + stream.encode() + subject
    ).digest()
    assert pseudonym == crypto.pseudonym(stream, subject)
    record_key = crypto.subject_record_key(epoch_key, subject_key)
    envelope = crypto.seal_record(stream, "personal", 1, 0, 1, b"{}", record_key, pseudonym)
    wrapped = crypto.wrap_subject_key(subject_key, epoch_key, stream, 1, pseudonym)
    aad = (
        b"urbis data subject key v1"
        + bytes([len(stream)])
        + stream.encode()
        + struct.pack(">I", 1)
        + pseudonym
    )
    unwrapped = crypto_aead_xchacha20poly1305_ietf_decrypt(
        wrapped[24:], aad, wrapped[:24], epoch_key
    )
    derived = HKDF(hashes.SHA256(), 32, epoch_key, b"urbis data subject record key v1").derive(
        unwrapped
    )
    header = envelope[:48]
    assert envelope[16:48] == pseudonym
    plain = crypto_aead_xchacha20poly1305_ietf_decrypt(
        envelope[72:], header + bytes([len(stream)]) + stream.encode(), envelope[48:72], derived
    )
    assert plain == b"{}"


classifications = st.sampled_from(["public", "internal", "personal"])


@given(
    classification=classifications,
    schema_version=st.integers(1, 2**16 - 1),
    seq=st.integers(0, 2**63 - 1),
    epoch=st.integers(1, 2**32 - 1),
    plaintext=st.binary(max_size=300),
    stream=st.from_regex(r"[a-z0-9][a-z0-9._-]{2,20}", fullmatch=True),
)
def test_envelopes_round_trip_and_bind_their_header(
    classification: str,
    schema_version: int,
    seq: int,
    epoch: int,
    plaintext: bytes,
    stream: str,
) -> None:
    key = crypto.new_key()
    pseudonym = hashlib.sha256(stream.encode()).digest() if classification == "personal" else None
    if classification == "public":
        epoch = 0
    raw = crypto.seal_record(
        stream, classification, schema_version, seq, epoch, plaintext, key, pseudonym
    )
    envelope = crypto.decode_envelope(raw)
    assert (envelope.classification, envelope.schema_version, envelope.seq, envelope.epoch) == (
        classification,
        schema_version,
        seq,
        epoch,
    )
    assert envelope.encode() == raw
    if classification == "public":
        assert envelope.body == plaintext
        return
    assert crypto.open_record(stream, envelope, key) == plaintext
    moved = crypto.Envelope(
        classification, schema_version, seq ^ 1, epoch, pseudonym, envelope.nonce, envelope.body
    )
    with pytest.raises(crypto.EnvelopeError):
        crypto.open_record(stream, moved, key)  # another sequence number: refused
    with pytest.raises(crypto.EnvelopeError):
        crypto.open_record(stream + "x", envelope, key)  # another stream: refused


@given(st.binary(max_size=64))
def test_garbage_is_never_an_envelope_by_accident(raw: bytes) -> None:
    try:
        envelope = crypto.decode_envelope(raw)
    except crypto.EnvelopeError:
        return
    assert envelope.encode() == raw


@given(items=st.lists(st.binary(max_size=40), min_size=1, max_size=40), data=st.data())
def test_every_record_has_a_path_to_its_batch_root_and_no_other(
    items: list[bytes], data: st.DataObject
) -> None:
    root = crypto.batch_root(items)
    index = data.draw(st.integers(0, len(items) - 1))
    path = crypto.record_path(items, index)
    assert crypto.check_path(items[index], path, root)
    assert not crypto.check_path(items[index] + b"!", path, root)
    assert not crypto.check_path(items[index], path, bytes(32))


@given(st.lists(st.binary(max_size=300), max_size=30))
def test_a_batch_blob_gives_back_its_envelopes(envelopes: list[bytes]) -> None:
    from urbis.modules.data.datastore import pack_envelopes, unpack_envelopes

    assert unpack_envelopes(pack_envelopes(envelopes)) == envelopes
