"""Mutated and random transactions never break the app: a coded rejection, or valid execution.

Issue 11's "Transactions" family. Valid signed transactions of several kinds
(document anchors, payments, governance proposals, account keys) are mutated
structurally (their CBOR tree: type swaps, huge and negative integers, deep
nesting, duplicate map keys, non-canonical lengths, floats, tags, indefinite
lengths, invalid UTF-8) and at the byte level (bit flips, truncations, trailing
bytes), and fed to `check_tx` and `finalize_block`:

- `check_tx` returns a Transaction or raises an UrbisError with a registered code;
- `finalize_block` never raises; every mutant gets a receipt;
- state changes only as valid execution would: a differential chain runs the
  same blocks with every mutant rejected before authentication left out, and
  every mutant whose action failed replaced by a transaction that only spends
  the sender's nonce; both chains must reach the same app hash after each block.

Two kinds of mutants: *raw* ones (the signed bytes mutated; almost all must fail
decoding or authentication) and *re-signed* ones (the body mutated, then signed
by the sender's real key, so mutated arguments reach the decoder, the codec and
the handlers). URBIS_FUZZ=long runs 100,000 cases; the default runs a few thousand.
"""

from __future__ import annotations

import hashlib
import os
import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.city import (
    CityChain,
    account,
    billing_grant,
    city_genesis,
    create_eur,
    key,
)
from urbis.chain.block import Receipt
from urbis.chain.errors import ERRORS, UrbisError
from urbis.chain.tx import (
    SIGNATURES_PER_TX_MAX,
    SIGNING_DOMAIN,
    Action,
    Transaction,
    TxBody,
    decode_tx,
    sign_tx,
)
from urbis.crypto.encoding import DecodeError, decode, decode_reference, encode
from urbis.sdk.builder import action

LONG = os.environ.get("URBIS_FUZZ") == "long"
RAW_CASES = 70_000 if LONG else 5_000
"""Raw mutants through check_tx and finalize_block (the default stays well under a minute)."""
RESIGNED_CASES = 30_000 if LONG else 3_000
"""Re-signed mutants: each reaches execution, so each costs a little more."""
DECODER_CASES = 100_000 if LONG else 20_000
"""Mutated encodings checked against the reference decoder (cheap: no chain)."""
SEED = int(os.environ.get("URBIS_FUZZ_SEED", "11"))

RESIDENTS = ("alice", "bob", "carol", "dave", "erin")
ENVELOPE_CODES = frozenset(
    {
        "tx.malformed",
        "tx.too_large",
        "tx.wrong_chain",
        "tx.expired",
        "tx.unknown_sender",
        "tx.bad_signature",
        "tx.unknown_signer",
        "tx.insufficient_weight",
        "tx.nonce_used",
        "tx.nonce_out_of_window",
    }
)
"""Codes given before a transaction authenticates: such a transaction must change nothing."""


# -- a CBOR writer that can also write what Urbis must refuse ------------------------------


@dataclass
class Map:
    """A CBOR map as ordered pairs, so keys can repeat or come out of order."""

    pairs: list[tuple[Any, Any]]


@dataclass
class Raw:
    """Bytes written as they are (deep nesting, invalid UTF-8, anything hand-made)."""

    data: bytes


@dataclass
class Wide:
    """A value whose length or number is written in a longer form than needed."""

    value: Any


@dataclass
class Indefinite:
    """A list, text or bytes written with an indefinite length."""

    value: Any


@dataclass
class Tagged:
    tag: int
    value: Any


@dataclass
class Float:
    value: float


def head(major: int, number: int, wide: bool = False) -> bytes:
    top = major << 5
    if number < 24 and not wide:
        return bytes((top | number,))
    if number < 1 << 8 and not wide:
        return bytes((top | 24, number))
    if number < 1 << 16 and not wide:
        return bytes((top | 25,)) + number.to_bytes(2, "big")
    if number < 1 << 32 and not wide:
        return bytes((top | 26,)) + number.to_bytes(4, "big")
    return bytes((top | 27,)) + number.to_bytes(8, "big")


def write(node: Any, wide: bool = False) -> bytes:
    """Encode `node`; plain values come out canonical, the wrappers above as they say."""
    if isinstance(node, Raw):
        return node.data
    if isinstance(node, Wide):
        return write(node.value, wide=True)
    if isinstance(node, Float):
        return b"\xfb" + struct.pack(">d", node.value)
    if isinstance(node, Tagged):
        return head(6, node.tag) + write(node.value)
    if isinstance(node, Indefinite):
        value = node.value
        if isinstance(value, list):
            return b"\x9f" + b"".join(write(v) for v in value) + b"\xff"
        if isinstance(value, bytes):
            return b"\x5f" + write(value) + b"\xff"
        return b"\x7f" + write(str(value)) + b"\xff"
    if node is True:
        return b"\xf5"
    if node is False:
        return b"\xf4"
    if node is None:
        return b"\xf6"
    if isinstance(node, int):
        if 0 <= node < 1 << 64:
            return head(0, node, wide)
        if -(1 << 64) <= node < 0:
            return head(1, -1 - node, wide)
        magnitude = node if node > 0 else -1 - node
        digits = magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "big")
        return head(6, 2 if node > 0 else 3) + head(2, len(digits), wide) + digits
    if isinstance(node, bytes):
        return head(2, len(node), wide) + node
    if isinstance(node, str):
        data = node.encode()
        return head(3, len(data), wide) + data
    if isinstance(node, list):
        return head(4, len(node), wide) + b"".join(write(v) for v in node)
    if isinstance(node, Map):
        return head(5, len(node.pairs), wide) + b"".join(write(k) + write(v) for k, v in node.pairs)
    raise TypeError(f"cannot write {type(node).__name__}")


def tree(value: Any) -> Any:
    """A decoded value as a mutable tree (maps become ordered pairs)."""
    if isinstance(value, dict):
        return Map([(k, tree(v)) for k, v in value.items()])
    if isinstance(value, list):
        return [tree(v) for v in value]
    return value


def sort_pairs(node: Map) -> None:
    """Canonical key order (bytewise on the encoded key), as a valid encoder would write."""
    node.pairs.sort(key=lambda pair: write(pair[0]))


# -- mutations -------------------------------------------------------------------------

HUGE_INTS = (
    1 << 63,
    (1 << 64) - 1,
    1 << 64,
    -(1 << 63),
    -(1 << 64),
    -(1 << 64) - 1,
    (1 << 128) - 1,
    1 << 128,
    -(1 << 128),
    1 << 1000,
    -(1 << 1000),
)


def interesting_int(rng: random.Random) -> int:
    choice = rng.random()
    if choice < 0.4:
        return rng.choice(HUGE_INTS)
    if choice < 0.6:
        return rng.randrange(1 << 64, 1 << rng.randint(65, 1000))
    if choice < 0.8:
        return -rng.randrange(1, 1 << rng.randint(1, 70))
    return rng.choice((0, 1, -1, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32))


def random_leaf(rng: random.Random, decodable: bool = False) -> Any:
    makers = (
        lambda: interesting_int(rng),
        lambda: rng.choice(("", "x", "EUR", "land", "é" * 40, "a" * 300)),
        lambda: rng.randbytes(rng.choice((0, 1, 19, 20, 21, 31, 32, 33, 64))),
        lambda: rng.choice((True, False, None)),
        lambda: [],
        lambda: Map([]),
        lambda: [interesting_int(rng)],
        lambda: Map([("x", 1)]),
        lambda: Float(rng.choice((0.0, 1.5, float("nan"), float("inf")))),
        lambda: Tagged(rng.choice((0, 1, 24, 32, 55799)), "x"),
    )
    return rng.choice(makers[:8] if decodable else makers)()


def nodes(root: Any) -> list[tuple[Any, Any]]:
    """Every (parent, slot) in the tree; a slot is a list index or ('k'|'v', pair index)."""
    found: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                found.append((node, index))
                walk(item)
        elif isinstance(node, Map):
            for index, (key_node, value) in enumerate(node.pairs):
                found.append((node, ("k", index)))
                found.append((node, ("v", index)))
                walk(key_node)
                walk(value)

    walk(root)
    return found


def get(parent: Any, slot: Any) -> Any:
    if isinstance(parent, list):
        return parent[slot]
    side, index = slot
    return parent.pairs[index][0 if side == "k" else 1]


def put(parent: Any, slot: Any, value: Any) -> None:
    if isinstance(parent, list):
        parent[slot] = value
        return
    side, index = slot
    key_node, old = parent.pairs[index]
    parent.pairs[index] = (value, old) if side == "k" else (key_node, value)


def deep(node: Any, rng: random.Random) -> Raw:
    depth = rng.choice((31, 33, 100, 10_000))
    opener = rng.choice((b"\x81", b"\xa1\x61a", b"\x9f"))
    closer = b"\xff" if opener == b"\x9f" else b""
    return Raw(opener * depth + write(node) + closer * depth)


def invalid_text(rng: random.Random) -> Raw:
    bad = rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"a\x80"))
    return Raw(head(3, len(bad)) + bad)


ALL_KINDS = (
    "swap_type",
    "huge_int",
    "nudge",
    "deep_nesting",
    "duplicate_key",
    "non_canonical_length",
    "unsorted_keys",
    "drop_key",
    "extra_key",
    "float",
    "tag",
    "indefinite",
    "invalid_utf8",
    "bool_for_int",
    "long_text",
)
DECODABLE_KINDS = (
    "swap_type",
    "huge_int",
    "nudge",
    "nudge",
    "drop_key",
    "extra_key",
    "bool_for_int",
)
"""Mutations whose result is still canonical CBOR, so they get past the decoder."""


def mutate_tree(
    root: Any,
    rng: random.Random,
    where: Callable[[Any], bool] | None = None,
    kinds: tuple[str, ...] = ALL_KINDS,
) -> str:
    """Apply one structural mutation somewhere in `root` (in place); return its name."""
    decodable = kinds == DECODABLE_KINDS
    slots = [s for s in nodes(root) if where is None or where(s)] or nodes(root)
    if decodable:  # text keys stay text: another key type never gets past the decoder
        slots = [s for s in slots if isinstance(s[0], list) or s[1][0] == "v"] or slots
    if not slots:  # an emptied container: give it something to carry
        if isinstance(root, Map):
            root.pairs.append(("x", random_leaf(rng)))
        elif isinstance(root, list):
            root.append(random_leaf(rng))
        return "refill"
    maps = [n for n in _all(root) if isinstance(n, Map) and n.pairs]
    if where is not None:
        maps = [m for m in maps if where((m, ("v", 0)))] or maps
    kind = rng.choice(kinds)
    if kind in ("duplicate_key", "unsorted_keys", "drop_key", "extra_key") and maps:
        target = rng.choice(maps)
        index = rng.randrange(len(target.pairs))
        if kind == "duplicate_key":
            key_node, value = target.pairs[index]
            twin = value if rng.random() < 0.5 else random_leaf(rng)
            target.pairs.insert(index + 1, (key_node, twin))
        elif kind == "unsorted_keys" and len(target.pairs) > 1:
            target.pairs.reverse()
        elif kind == "drop_key":
            del target.pairs[index]
        else:
            names = ("zz", "args", "", "a" * 40) if decodable else ("zz", "", 1, b"k")
            target.pairs.append((rng.choice(names), random_leaf(rng, decodable)))
            if decodable or rng.random() < 0.7:
                sort_pairs(target)
        return kind
    parent, slot = rng.choice(slots)
    old = get(parent, slot)
    if kind == "huge_int" or (kind == "bool_for_int" and not isinstance(old, int)):
        new: Any = interesting_int(rng)
    elif kind == "nudge":
        new = nudge(old, rng)
    elif kind == "bool_for_int":
        new = bool(old % 2) if isinstance(old, int) else True
    elif kind == "deep_nesting":
        new = deep(old, rng)
    elif kind == "non_canonical_length":
        new = Wide(old) if isinstance(old, int | str | bytes | list | Map) else Wide(0)
    elif kind == "float":
        new = Float(float(old) if isinstance(old, int) and abs(old) < 2**53 else 0.5)
    elif kind == "tag":
        new = Tagged(rng.choice((0, 1, 2, 3, 24, 55799)), old)
    elif kind == "indefinite":
        new = Indefinite(old if isinstance(old, list | bytes | str) else [old])
    elif kind == "invalid_utf8":
        new = invalid_text(rng)
    elif kind == "long_text":
        new = rng.choice(("x" * 257, "x" * 70_000, b"\x00" * 5_000))
    else:
        new = random_leaf(rng, decodable)
    put(parent, slot, new)
    return kind


def nudge(value: Any, rng: random.Random) -> Any:
    """A near miss of the same type: the values handlers check by hand."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return rng.choice((value + 1, value - 1, -value, 0, -1, value * 1000, 2**64 - 1))
    if isinstance(value, bytes):
        return rng.choice((value[:-1], value + b"\x00", b"", value * 2))
    if isinstance(value, str):
        return rng.choice(("", value + "x", value.upper(), value[:1], "\u0000", value * 20))
    if isinstance(value, list):
        return rng.choice(([], value + value, value[:1] * 20))
    if isinstance(value, Map):
        return Map([])
    return value


def _all(root: Any) -> Iterator[Any]:
    yield root
    if isinstance(root, list):
        for item in root:
            yield from _all(item)
    elif isinstance(root, Map):
        for key_node, value in root.pairs:
            yield from _all(key_node)
            yield from _all(value)


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """One byte-level mutation: bit flips, truncation, trailing or inserted bytes."""
    buffer = bytearray(data)
    kind = rng.randrange(7)
    if kind == 0:
        for _ in range(rng.choice((1, 1, 2, 8))):
            position = rng.randrange(len(buffer))
            buffer[position] ^= 1 << rng.randrange(8)
    elif kind == 1:
        return bytes(buffer[: rng.randrange(len(buffer))])
    elif kind == 2:
        return bytes(buffer) + rng.choice((b"\x00", b"\xff", rng.randbytes(rng.randint(1, 9))))
    elif kind == 3:
        position = rng.randrange(len(buffer))
        buffer[position] = rng.choice((0x00, 0x18, 0x1B, 0x5F, 0x7F, 0x9F, 0xBF, 0xF9, 0xFF))
    elif kind == 4:
        position = rng.randrange(len(buffer) + 1)
        buffer[position:position] = rng.randbytes(rng.randint(1, 4))
    elif kind == 5:
        start = rng.randrange(len(buffer))
        del buffer[start : start + rng.randint(1, 8)]
    else:
        start = rng.randrange(len(buffer))
        chunk = buffer[start : start + rng.randint(1, 16)]
        buffer[start:start] = chunk
    return bytes(buffer)


# -- the city and its transaction templates ------------------------------------------------


def setup_city(chain: CityChain) -> None:
    """EUR issued by finance, finance may bill, every resident funded."""
    create_eur(chain)
    steps = [("finance", billing_grant())]
    steps += [("finance", mint(resident, 1_000_000)) for resident in RESIDENTS]
    for sender, step in steps:
        receipt = chain.run(sender, step)
        assert receipt.ok, receipt.message


def mint(recipient: str, amount: int) -> Action:
    return action(
        "payments", "mint", asset="EUR", recipient=account(recipient), amount_minor=amount
    )


def templates(rng: random.Random) -> dict[str, Action]:
    """One valid action per sender, each of a different kind."""
    label = rng.randbytes(8)
    digest = hashlib.sha256(label).digest()
    return {
        "land": action(
            "documents",
            "anchor",
            department="land",
            hash=digest,
            doc_type="deed",
            reference="deed " + label.hex(),
        ),
        "registry": action(
            "documents",
            "anchor_batch",
            department="registry",
            root=digest,
            count=rng.randint(1, 1000),
            doc_type="birth",
        ),
        "finance": action(
            "payments",
            "issue_invoice",
            id=label,
            department="finance",
            payer=account("carol"),
            kind="tax",
            asset="EUR",
            amount_minor=rng.randint(1, 5_000),
            due_at_ms=2_000_000_000_000,
            details_hash=digest,
        ),
        "alice": action(
            "payments",
            "transfer",
            id=label,
            recipient=account("bob"),
            asset="EUR",
            amount_minor=rng.randint(1, 100),
            pending_timeout_blocks=rng.choice((0, 5)),
        ),
        "bob": action(
            "payments",
            "open_escrow",
            id=label,
            beneficiary=account("carol"),
            asset="EUR",
            amount_minor=rng.randint(1, 100),
            approvers=[account("alice")],
            timeout_blocks=50,
        ),
        "carol": action(
            "payments",
            "lock_htlc",
            id=label,
            recipient=account("dave"),
            asset="EUR",
            amount_minor=rng.randint(1, 100),
            hashlock=digest,
            timeout_blocks=20,
        ),
        "dave": action("accounts", "add_key", key=key("dave-" + label.hex()).public_key.raw),
        "erin": action(
            "payments",
            "transfer",
            id=label,
            recipient=account("alice"),
            asset="EUR",
            amount_minor=rng.randint(1, 100),
        ),
        "mayor": action(
            "governance",
            "submit_proposal",
            title="fuzz " + label.hex(),
            action={
                "module": "governance",
                "name": "add_department",
                "args": {"id": "d" + label.hex()[:6], "name": "Fuzz", "admin": account("erin").raw},
            },
        ),
        "councillor_b": action("governance", "approve_proposal", id=rng.randint(1, 40)),
    }


def nonce_burner(chain: CityChain, sender: str, nonce: int) -> bytes:
    """A valid transaction whose only effect is to spend `nonce`: its action does not exist."""
    return chain.sign(sender, [Action("fuzz", "nothing", {})], nonce=nonce).raw


def resign(chain: CityChain, sender: str, body: Any) -> bytes:
    """Sign the (possibly mutated) body as written, with the sender's real key."""
    body_bytes = write(body)
    signer = key(sender).signer()
    signature = signer.sign(SIGNING_DOMAIN + body_bytes)
    signatures = [Map([("key", signer.public_key.raw), ("sig", signature)])]
    return write(Map([("body", Raw(body_bytes)), ("signatures", signatures)]))


def in_args(slot: tuple[Any, Any]) -> bool:
    """Bias re-signed mutations towards action arguments, where the handlers see them."""
    parent, _ = slot
    return any(parent is args for args in _ARGS_MAPS)


_ARGS_MAPS: list[Map] = []


# -- the differential harness ------------------------------------------------------------------


@dataclass
class Twins:
    """Two chains from one genesis: `fuzzed` runs mutants, `reference` only their effect."""

    fuzzed: CityChain
    reference: CityChain
    names: dict[bytes, str] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)
    cases: int = 0

    @classmethod
    def create(cls, path: Path) -> Twins:
        genesis = city_genesis(extra_accounts=RESIDENTS)
        for name in ("fuzzed", "reference"):
            (path / name).mkdir()
        twins = cls(CityChain(path / "fuzzed", genesis), CityChain(path / "reference", genesis))
        for chain in (twins.fuzzed, twins.reference):
            setup_city(chain)
        assert twins.fuzzed.app.info().app_hash == twins.reference.app.info().app_hash
        for name in (*RESIDENTS, "land", "registry", "finance", "mayor", "councillor_b"):
            twins.names[account(name).raw] = name
        return twins

    def close(self) -> None:
        self.fuzzed.close()
        self.reference.close()

    def check(self, raw: bytes) -> None:
        """check_tx answers a Transaction or a coded UrbisError, nothing else."""
        try:
            answer = self.fuzzed.app.check_tx(raw)
        except UrbisError as error:
            assert error.code in ERRORS, f"unregistered code {error.code!r}"
            return
        assert isinstance(answer, Transaction)

    def block(self, raws: list[bytes]) -> None:
        """Run `raws` on the fuzzed chain and their effect on the reference; hashes must agree."""
        for raw in raws:
            self.check(raw)
            self.cases += 1
        try:
            result = self.fuzzed.execute_raw(raws)
        except Exception as error:  # the finding itself: name the transaction that did it
            raise AssertionError(
                f"finalize_block raised {type(error).__name__}: {error}\n"
                + "\n".join(_crashing(self.fuzzed, raws))
            ) from error
        assert len(result.receipts) == len(raws)
        kept: list[bytes] = []
        for raw, receipt in zip(raws, result.receipts, strict=True):
            assert receipt.code == "ok" or receipt.code in ERRORS, receipt.code
            self.codes[receipt.code] = self.codes.get(receipt.code, 0) + 1
            kept.extend(self._effect(raw, receipt))
        expected = self.reference.execute_raw(kept)
        assert result.app_hash == expected.app_hash, _explain(raws, result.receipts)
        wanted = ["ok" if r.ok else "tx.unknown_action" for r in result.receipts]
        kept_codes = [
            c for c, r in zip(wanted, result.receipts, strict=True) if r.code not in ENVELOPE_CODES
        ]
        assert kept_codes == [r.code for r in expected.receipts], "kept transactions diverged"

    def _effect(self, raw: bytes, receipt: Receipt) -> list[bytes]:
        if receipt.code in ENVELOPE_CODES:
            return []  # rejected before authentication: no effect at all
        if receipt.code == "ok":
            return [raw]
        tx = self.fuzzed.app.decode(raw)  # it authenticated, so it decodes
        name = self.names[tx.body.sender.raw]
        return [nonce_burner(self.reference, name, tx.body.nonce)]


def _crashing(chain: CityChain, raws: list[bytes]) -> list[str]:
    """The transactions that crash finalize_block on their own (each run alone, then dropped)."""
    found = []
    for raw in raws:
        try:
            chain.app.finalize_block(_next_block(chain), [raw])
        except UrbisError:
            continue
        except Exception as error:
            found.append(f"{type(error).__name__} from tx {raw.hex()}")
        chain.app.abandon_block()
    return found


def _next_block(chain: CityChain) -> Any:
    from urbis.chain.context import BlockInfo

    validator = key("validator").public_key.raw
    return BlockInfo(chain.genesis.chain_id, chain.height + 1, chain.clock + 1000, validator)


def _explain(raws: list[bytes], receipts: list[Receipt]) -> str:
    lines = [f"{r.code}: {raw.hex()[:120]}" for raw, r in zip(raws, receipts, strict=True)]
    return "app hash differs from the reference:\n" + "\n".join(lines[:40])


@pytest.fixture
def twins(tmp_path: Path) -> Iterator[Twins]:
    pair = Twins.create(tmp_path)
    yield pair
    pair.close()


def signed_templates(chain: CityChain, rng: random.Random) -> list[tuple[str, Transaction]]:
    return [(sender, chain.sign(sender, [template])) for sender, template in templates(rng).items()]


def test_raw_mutants_are_refused_with_a_code_and_change_no_state(twins: Twins) -> None:
    rng = random.Random(SEED)
    per_block = 300
    while twins.cases < RAW_CASES:
        originals = signed_templates(twins.fuzzed, rng)
        twins.fuzzed.nonces.clear()
        raws = []
        for _ in range(per_block):
            _, tx = rng.choice(originals)
            if rng.random() < 0.5:
                raws.append(mutate_bytes(tx.raw, rng))
                continue
            root = tree(decode(tx.raw))
            for _ in range(rng.choice((1, 1, 2, 3))):
                mutate_tree(root, rng)
            raws.append(write(root))
        # the originals ride along: a refused neighbour must not disturb them
        raws += [tx.raw for _, tx in originals]
        rng.shuffle(raws)
        twins.block(raws)
    assert sum(twins.codes.get(code, 0) for code in ENVELOPE_CODES) >= RAW_CASES * 0.9
    assert twins.codes.get("ok", 0) > 0


def test_resigned_mutants_fail_with_a_code_and_only_spend_their_nonce(twins: Twins) -> None:
    rng = random.Random(SEED + 1)
    while twins.cases < RESIGNED_CASES:
        raws = []
        for sender, tx in signed_templates(twins.fuzzed, rng):
            root = tree(decode(tx.raw))
            body = dict(root.pairs)["body"]
            actions = dict(body.pairs)["actions"]
            _ARGS_MAPS[:] = [dict(a.pairs)["args"] for a in actions if isinstance(a, Map)]
            where = in_args if rng.random() < 0.8 else None
            kinds = DECODABLE_KINDS if rng.random() < 0.8 else ALL_KINDS
            for _ in range(rng.choice((1, 1, 1, 2))):
                mutate_tree(body, rng, where, kinds)
            if rng.random() < 0.1:
                body = Raw(mutate_bytes(write(body), rng))
            raws.append(resign(twins.fuzzed, sender, body))
        twins.fuzzed.nonces.clear()
        twins.block(raws)
    post_auth = sum(n for code, n in twins.codes.items() if code not in ENVELOPE_CODES)
    assert post_auth >= RESIGNED_CASES * 0.3, twins.codes  # most reach the codec and handlers


def test_deep_nesting_and_huge_bodies_are_refused_with_a_code(twins: Twins) -> None:
    chain = twins.fuzzed
    tx = chain.sign("land", [templates(random.Random(1))["land"]])
    body = dict(tree(decode(tx.raw)).pairs)["body"]
    deep_list = Raw(b"\x81" * 10_000 + b"\x00")
    deep_map = Raw(b"\xa1\x61a" * 10_000 + b"\x00")
    cases = {
        "deep list": resign(chain, "land", [deep_list]),
        "deep map as the body": resign(chain, "land", deep_map),
        "deep list as the whole tx": b"\x81" * 100_000 + b"\x00",
        "100,000 bytes": b"\x59" + (60_000).to_bytes(2, "big") + b"\x00" * 60_000,
        "body as bignum": resign(chain, "land", 1 << 100_000),
        "empty": b"",
    }
    dict_body = dict(body.pairs)
    dict_body["nonce"] = 1 << 64
    cases["nonce 2**64"] = resign(chain, "land", Map(sorted(dict_body.items(), key=_key_order)))
    dict_body["nonce"] = -1
    cases["nonce -1"] = resign(chain, "land", Map(sorted(dict_body.items(), key=_key_order)))
    for name, raw in cases.items():
        with pytest.raises(UrbisError) as refused:
            chain.app.check_tx(raw)
        assert refused.value.code in ("tx.malformed", "tx.too_large"), name
    twins.block(list(cases.values()))


def _key_order(pair: tuple[Any, Any]) -> bytes:
    return write(pair[0])


# -- the decoder: one canonical encoding, same answer as the reference ------------------------


def decode_answer(function: Callable[[bytes], Any], data: bytes) -> tuple[str, Any]:
    try:
        return "ok", function(data)
    except DecodeError:
        return "refused", None


def test_native_decoder_agrees_with_the_reference_on_mutants() -> None:
    """The native decoder accepts exactly what the Python reference accepts, with equal values."""
    rng = random.Random(SEED + 2)
    chain_values = [
        {"body": {"a": [1, -2, b"x", "y", True, None], "n": 1 << 64}, "signatures": []},
        {"k": {"k": {"k": [[[[0]]]]}}},
        [1 << 200, -(1 << 70), "é", b"", {}],
    ]
    for case in range(DECODER_CASES):
        root = tree(rng.choice(chain_values))
        if case % 2:
            data = mutate_bytes(write(root), rng)
        else:
            mutate_tree(root, rng)
            data = write(root)
        native, reference = decode_answer(decode, data), decode_answer(decode_reference, data)
        assert native[0] == reference[0], f"{data.hex()}: native {native}, reference {reference}"
        assert native[1] == reference[1], data.hex()
        if native[0] == "ok":
            assert encode(native[1]) == data  # accepted bytes are the one canonical encoding


cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=20)
    | st.binary(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(value=cbor_values)
def test_every_encoded_value_decodes_to_itself(value: Any) -> None:
    assert decode(encode(value)) == value


@given(data=st.binary(max_size=200))
def test_random_bytes_decode_or_are_refused_alike(data: bytes) -> None:
    native, reference = decode_answer(decode, data), decode_answer(decode_reference, data)
    assert native == reference


@given(
    args=st.dictionaries(st.text(max_size=12), cbor_values, max_size=6),
    module=st.sampled_from(
        ["documents", "payments", "governance", "accounts", "identity", "contracts", "nope"]
    ),
    name=st.sampled_from(
        ["anchor", "transfer", "mint", "submit_proposal", "add_key", "define_type", "call", "x"]
    ),
)
def test_random_signed_actions_get_a_coded_receipt(
    tmp_path_factory: pytest.TempPathFactory, args: dict[str, Any], module: str, name: str
) -> None:
    chain = _hypothesis_chain(tmp_path_factory)
    tx = sign_tx(
        TxBody(
            chain.genesis.chain_id,
            account("land"),
            chain.app.next_nonce(account("land").raw),
            (Action(module, name, args),),
            chain.height + 10,
        ),
        [key("land").signer()],
    )
    chain.check_and_run(tx.raw)


class _HypothesisChain(CityChain):
    def check_and_run(self, raw: bytes) -> None:
        self.app.check_tx(raw)  # signed and in order: admitted
        (receipt,) = self.execute_raw([raw]).receipts
        assert receipt.code == "ok" or receipt.code in ERRORS, receipt.code
        if receipt.code != "ok":
            assert receipt.code not in ENVELOPE_CODES, receipt.code


_CHAINS: dict[str, _HypothesisChain] = {}


def _hypothesis_chain(factory: pytest.TempPathFactory) -> _HypothesisChain:
    """One chain for all examples: building a city per example would dominate the run."""
    chain = _CHAINS.get("chain")
    if chain is None:
        chain = _CHAINS["chain"] = _HypothesisChain(
            factory.mktemp("hypothesis-chain"), city_genesis(extra_accounts=RESIDENTS)
        )
    return chain


@pytest.fixture(scope="module", autouse=True)
def _close_chains() -> Iterator[None]:
    yield
    for chain in _CHAINS.values():
        chain.close()
    _CHAINS.clear()


def test_the_writer_matches_the_canonical_encoder() -> None:
    """The test's own writer must be right for its mutants to mean anything."""
    for value in (
        0,
        23,
        24,
        -1,
        -25,
        1 << 64,
        -(1 << 64) - 1,
        "é",
        b"\x00",
        [1, [2]],
        {"b": 1, "a": 2},
    ):
        as_tree = tree(value)
        if isinstance(as_tree, Map):
            sort_pairs(as_tree)
        assert write(as_tree) == cbor2.dumps(value, canonical=True)


# -- what the fuzzing found, pinned ----------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "found"),
    [
        ("land", action("accounts", "add_key", key=b"\x01" * 20)),
        ("land", action("accounts", "rotate_key", old_key=b"\x01" * 32, new_key=b"\x02" * 5)),
        ("councillor_a", action("governance", "approve_proposal", id=-1)),
        ("councillor_a", action("governance", "approve_proposal", id=2**64)),
        ("registry", action("identity", "set_status", list_id=-1, index=0, status=1)),
        ("registry", action("identity", "set_status", list_id=2**32, index=0, status=1)),
    ],
)
def test_out_of_range_arguments_are_tx_invalid_args(
    tmp_path: Path, sender: str, found: Action
) -> None:
    """Each once escaped finalize_block as ValueError or OverflowError and halted the chain."""
    chain = CityChain(tmp_path)
    receipt = chain.run(sender, found)
    assert receipt.code == "tx.invalid_args", receipt
    assert chain.app.halted is None
    assert chain.run(
        "land",
        action(
            "documents",
            "anchor",
            department="land",
            hash=hashlib.sha256(b"after").digest(),
            doc_type="deed",
            reference="after",
        ),
    ).ok


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, SIGNATURES_PER_TX_MAX),
    st.text(min_size=1, max_size=40),
    st.integers(0, 2**64 - 1),
    st.dictionaries(st.text(max_size=8), st.binary(max_size=300) | st.integers(), max_size=6),
    st.text(max_size=60),
)
def test_body_bytes_cut_from_the_raw_are_the_body_encoding(
    signers: int, chain_id: str, nonce: int, args: dict[str, object], memo: str
) -> None:
    """decode_tx finds the body's bytes by the signatures' fixed size, not by encoding
    them again: whatever the body and however many signatures, it is the body's
    own canonical encoding, so the id and the signed message are the right ones."""
    body = {
        "chain_id": chain_id,
        "sender": bytes(20),
        "nonce": nonce,
        "actions": [{"module": "m", "name": "n", "args": args}],
        "expires_at": 7,
        "memo": memo,
    }
    signatures = [{"key": bytes([i]) * 32, "sig": bytes([i]) * 64} for i in range(signers)]
    raw = encode({"body": body, "signatures": signatures})
    tx = decode_tx(raw)
    assert tx.body_bytes == encode(body)
    assert tx.body_bytes == encode(tx.body.to_wire())
