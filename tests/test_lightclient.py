"""The SDK's CometBFT light-client encodings against CometBFT's own protobuf types."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.network import require_cometbft
from urbis.sdk.cometbft_verify import Timestamp, merkle_hash, vote_sign_bytes


@given(
    height=st.integers(1, 2**62),
    round_=st.integers(0, 2**31 - 1),
    block_hash=st.binary(min_size=32, max_size=32),
    total=st.integers(1, 2**32 - 1),
    parts_hash=st.binary(min_size=32, max_size=32),
    seconds=st.integers(0, 2**40),
    nanos=st.integers(0, 999_999_999),
    chain_id=st.text(alphabet="abcdefghij-0123456789", min_size=1, max_size=30),
)
def test_vote_sign_bytes_match_cometbft_types(
    height: int,
    round_: int,
    block_hash: bytes,
    total: int,
    parts_hash: bytes,
    seconds: int,
    nanos: int,
    chain_id: str,
) -> None:
    require_cometbft()
    from urbis.consensus.cometbft.proto import canonical
    from urbis.crypto.encoding import uvarint

    vote = canonical.CanonicalVote(type=2, height=height, round=round_, chain_id=chain_id)
    vote.block_id.hash = block_hash
    vote.block_id.part_set_header.total = total
    vote.block_id.part_set_header.hash = parts_hash
    vote.timestamp.seconds = seconds
    vote.timestamp.nanos = nanos
    vote.timestamp.SetInParent()
    body = vote.SerializeToString()
    ours = vote_sign_bytes(
        chain_id, height, round_, block_hash, total, parts_hash, Timestamp(seconds, nanos)
    )
    assert ours == uvarint(len(body)) + body


def test_rfc6962_merkle_shapes() -> None:
    from hashlib import sha256

    leaf = lambda b: sha256(b"\x00" + b).digest()  # noqa: E731
    inner = lambda a, b: sha256(b"\x01" + a + b).digest()  # noqa: E731
    assert merkle_hash([]) == sha256(b"").digest()
    assert merkle_hash([b"a"]) == leaf(b"a")
    assert merkle_hash([b"a", b"b", b"c"]) == inner(inner(leaf(b"a"), leaf(b"b")), leaf(b"c"))


def test_timestamps_keep_nanoseconds() -> None:
    parsed = Timestamp.parse("2026-12-01T06:31:37.991234567Z")
    assert parsed.nanos == 991_234_567
    assert Timestamp.parse("2026-12-01T06:31:37Z").nanos == 0
