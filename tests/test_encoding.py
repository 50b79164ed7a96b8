"""Deterministic CBOR, bech32m account ids, Merkle paths: encodings every node must agree on."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from urbis.chain.ids import AccountId
from urbis.crypto.encoding import DecodeError, decode, encode
from urbis.crypto.merkle import merkle_path, merkle_root, verify_merkle_path

wire_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64) + 1, 2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)


@given(wire_values)
def test_encode_decode_round_trip(value: object) -> None:
    assert decode(encode(value)) == value


@given(st.dictionaries(st.text(max_size=6), st.integers(), min_size=2, max_size=6))
def test_map_encoding_ignores_insertion_order(value: dict[str, int]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert encode(value) == encode(reordered)


def test_non_canonical_encoding_is_rejected() -> None:
    # 1 encoded with a one-byte length prefix instead of the shortest form.
    assert cbor2.loads(b"\x18\x01") == 1
    with pytest.raises(DecodeError, match="canonical"):
        decode(b"\x18\x01")


def test_floats_are_rejected_both_ways() -> None:
    with pytest.raises(TypeError):
        encode({"amount": 1.5})
    with pytest.raises(DecodeError):
        decode(cbor2.dumps(1.5))


def test_garbage_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        decode(b"\xff\xfe\x00")


@given(st.binary(min_size=20, max_size=20))
def test_account_id_text_round_trip(raw: bytes) -> None:
    account = AccountId(raw)
    assert AccountId.parse(account.text) == account
    assert AccountId.parse(account.did) == account


@given(st.binary(min_size=20, max_size=20), st.data())
def test_account_id_typo_is_caught(raw: bytes, data: st.DataObject) -> None:
    text = AccountId(raw).text
    position = data.draw(st.integers(len("urbis1"), len(text) - 1))
    replacement = data.draw(st.sampled_from("qpzry9x8gf2tvdw0s3jn54khce6mua7l"))
    if replacement == text[position]:
        return
    typo = text[:position] + replacement + text[position + 1 :]
    with pytest.raises(ValueError, match=r"checksum|padding"):
        AccountId.parse(typo)


@given(st.lists(st.binary(max_size=16), min_size=1, max_size=40), st.data())
def test_merkle_paths_verify_and_bind_the_item(items: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(items) - 1))
    root = merkle_root(items)
    path = merkle_path(items, index)
    assert verify_merkle_path(items[index], path, root)
    assert not verify_merkle_path(items[index] + b"x", path, root)


@given(st.lists(st.binary(max_size=48), max_size=70))
def test_native_merkle_root_matches_the_reference(items: list[bytes]) -> None:
    from urbis.crypto.merkle import merkle_root_reference

    assert merkle_root(items) == merkle_root_reference(items)


def test_merkle_root_of_nothing_is_the_empty_hash_and_order_matters() -> None:
    from urbis.crypto.hashing import EMPTY_HASH

    assert merkle_root([]) == EMPTY_HASH
    assert merkle_root([b"a", b"b"]) != merkle_root([b"b", b"a"])


@given(st.binary(max_size=40), st.sampled_from(["urbis", "a", "test-city"]))
def test_native_bech32m_matches_the_reference(data: bytes, prefix: str) -> None:
    from urbis._native import bech32m_encode
    from urbis.crypto import bech32m

    assert bech32m_encode(prefix, data) == bech32m.encode(prefix, data)
    assert bech32m.decode(prefix, bech32m_encode(prefix, data)) == data


@given(st.integers(min_value=-(2**64), max_value=2**64 - 1))
def test_inline_int_encoding_matches_cbor2_canonical(value: int) -> None:
    from urbis.crypto.encoding import encode_int, encode_trusted

    assert encode_int(value) == cbor2.dumps(value, canonical=True)
    assert encode_trusted(value) == cbor2.dumps(value, canonical=True)
    assert decode(encode_int(value)) == value


cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**130), max_value=2**130)
    | st.binary(max_size=40)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=30), inner, max_size=5)
    ),
    max_leaves=20,
)


@given(cbor_values)
def test_native_decode_reads_what_encode_writes(value: object) -> None:
    from urbis.crypto.encoding import decode_reference

    encoded = encode(value)
    assert decode(encoded) == value == decode_reference(encoded)


@given(cbor_values, st.data())
def test_native_decode_refuses_exactly_what_the_reference_refuses(
    value: object, data: st.DataObject
) -> None:
    """Mutated encodings: both decoders accept the same bytes and read the same values."""
    from urbis.crypto.encoding import decode_reference

    raw = bytearray(encode(value))
    for _ in range(data.draw(st.integers(1, 3))):
        choice = data.draw(st.sampled_from(["flip", "insert", "delete", "append"]))
        at = data.draw(st.integers(0, len(raw)))
        if choice == "flip" and at < len(raw):
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif choice == "insert":
            raw.insert(at, data.draw(st.integers(0, 255)))
        elif choice == "delete" and at < len(raw):
            del raw[at]
        elif choice == "append":
            raw.append(data.draw(st.integers(0, 255)))
    outcomes = []
    for decoder in (decode, decode_reference):
        try:
            outcomes.append(("ok", decoder(bytes(raw))))
        except DecodeError:
            outcomes.append(("refused", None))
    assert outcomes[0] == outcomes[1], bytes(raw).hex()


@pytest.mark.parametrize(
    "hex_bytes",
    [
        "1817",  # 23 in two bytes
        "c24101",  # a bignum that fits 64 bits
        "c2490001000000000000000000",  # a bignum with a leading zero
        "9f01ff",  # indefinite array
        "f93c00",  # a half float
        "a2616201616101",  # map keys out of order
        "a2616101616102",  # a repeated key
        "a1010203",  # an integer map key, then trailing bytes
        "c16161",  # another tag
        "0001",  # trailing bytes
    ],
)
def test_non_canonical_and_foreign_forms_are_refused(hex_bytes: str) -> None:
    with pytest.raises(DecodeError):
        decode(bytes.fromhex(hex_bytes))


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**140), max_value=2**140)
        | st.binary(max_size=40)
        | st.text(max_size=40),
        lambda inner: (
            st.lists(inner, max_size=5)
            | st.lists(inner, max_size=3).map(tuple)
            | st.dictionaries(st.text(max_size=40), inner, max_size=6)
        ),
        max_leaves=25,
    )
)
def test_native_encoding_matches_cbor2_canonical(value: object) -> None:
    from urbis._native import cbor_encode

    assert cbor_encode(value) == cbor2.dumps(value, canonical=True)
    assert encode(value) == cbor2.dumps(value, canonical=True)


@given(
    st.recursive(
        st.none() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=30,
    )
)
def test_json_depth_without_parsing_matches_the_parsed_depth(value: object) -> None:
    """The byte-scan depth check agrees with the real structure, strings with brackets too."""
    import json

    from urbis.crypto.jsonshape import nests_deeper_than

    def depth(node: object) -> int:
        if isinstance(node, list):
            return 1 + max((depth(v) for v in node), default=0)
        if isinstance(node, dict):
            return 1 + max((depth(v) for v in node.values()), default=0)
        return 0

    text = json.dumps(value)
    actual = depth(value)
    assert not nests_deeper_than(text, actual)
    if actual:
        assert nests_deeper_than(text, actual - 1)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_uvarint_round_trips_through_the_abci_frame_reader(value: int) -> None:
    """One varint encoder serves ABCI frames and CometBFT's signed bytes alike."""
    from google.protobuf.internal.encoder import _VarintBytes  # the reference encoder

    from urbis.consensus.cometbft.abci import read_uvarint_prefix
    from urbis.crypto.encoding import uvarint

    encoded = uvarint(value)
    assert encoded == _VarintBytes(value)
    assert read_uvarint_prefix(encoded + b"\x00") == (value, len(encoded))


def test_json_inside_transactions_is_depth_checked_even_when_a_library_raised_the_limit() -> None:
    """py_ecc raises the recursion limit to 100,000 for any process that imports it; the C
    parser would then overflow the stack on deep JSON instead of raising. Schemas and
    ballots arrive inside transactions, past the API's body checks."""
    import sys

    from urbis.chain.errors import UrbisError
    from urbis.crypto.jsonshape import loads_bounded
    from urbis.modules.data.handlers import check_schema
    from urbis.modules.voting import electionguard

    deep = "[" * 1_000_000 + "]" * 1_000_000
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        with pytest.raises(ValueError, match="deeper than 64"):
            loads_bounded(deep)
        with pytest.raises(UrbisError) as refused:
            check_schema(deep)
        assert refused.value.code == "data.bad_schema"
        with pytest.raises(UrbisError) as refused:
            electionguard.parse(deep.encode(), "ballot", electionguard.BadBallot)
        assert refused.value.code == "voting.bad_ballot"
    finally:
        sys.setrecursionlimit(limit)
    assert loads_bounded("[" * 64 + "]" * 64) is not None


@given(cbor_values | st.binary(max_size=30))
def test_trusted_decode_reads_all_that_cbor2_reads(value: object) -> None:
    """decode_trusted reads natively where it can and through cbor2 otherwise: on what
    `encode` writes, on bignums and on arbitrary (even non-canonical) bytes it returns
    exactly what cbor2 does, so nothing the store holds reads differently."""
    from urbis.crypto.encoding import decode_trusted

    data = value if isinstance(value, bytes) else encode(value)
    try:
        expected = cbor2.loads(data)
    except Exception:  # bytes cbor2 cannot read: decode_trusted must fail too
        with pytest.raises(Exception):  # noqa: B017
            decode_trusted(data)
        return
    # repr, not ==: it tells True from 1 and a list from a tuple at any depth, and reads
    # a NaN (which cbor2 decodes from arbitrary bytes) or a self-reference without fuss
    assert repr(decode_trusted(data)) == repr(expected)


def test_short_texts_are_handed_out_again_and_never_confused() -> None:
    """The native decoder keeps short texts by slot (a hash of their bytes picks it),
    so map keys repeated in every transaction are not allocated anew. A slot taken by
    another text is replaced, never read as the wrong one: many more distinct texts
    than slots, of equal lengths and shared prefixes, each decodes to itself, twice."""
    first = decode(encode({"sender": b"a", "memo": "EUR"}))
    again = decode(encode({"sender": b"b", "memo": "EUR"}))
    assert list(first)[1] == "sender"  # keys in encoded order: "memo", "sender"
    assert list(first)[1] is list(again)[1]
    assert first["memo"] is again["memo"]
    texts = [f"k{n:05d}" for n in range(20_000)] + ["é" * 16, "x" * 32, "y" * 33, ""]
    for _ in range(2):
        decoded = decode(encode(texts))
        assert decoded == texts
    assert decode(encode("z" * 40)) == "z" * 40
