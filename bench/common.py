"""Shared pieces of the benchmarks: a bench city, pre-signed anchors, timing."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.exceptions

from urbis.chain.block import BlockHeader, sign_header
from urbis.chain.context import BlockInfo
from urbis.chain.genesis import (
    Genesis,
    GenesisAccount,
    GenesisDepartment,
    GenesisKey,
    GenesisValidator,
)
from urbis.chain.ids import AccountId
from urbis.chain.tx import Transaction, TxBody, sign_tx
from urbis.crypto.hashing import EMPTY_HASH
from urbis.crypto.keys import PrivateKey
from urbis.sdk.builder import action

CHAIN_ID = "bench-city"


@dataclass
class BenchCity:
    genesis: Genesis
    notaries: list[PrivateKey]
    validator: PrivateKey


def bench_city(notaries: int) -> BenchCity:
    keys = [PrivateKey.generate() for _ in range(notaries)]
    council = PrivateKey.generate()
    validator = PrivateKey.generate()
    accounts = [
        GenesisAccount(f"notary{i}", (GenesisKey(k.public_key.raw),)) for i, k in enumerate(keys)
    ]
    accounts.append(GenesisAccount("council", (GenesisKey(council.public_key.raw),)))
    first = AccountId.from_key(keys[0].public_key.raw)
    genesis = Genesis(
        chain_id=CHAIN_ID,
        name="Bench City",
        time_ms=1_700_000_000_000,
        accounts=tuple(accounts),
        departments=(GenesisDepartment("land", "Land", first),),
        council_members=(AccountId.from_key(council.public_key.raw),),
        council_threshold=1,
        validators=(GenesisValidator("v", validator.public_key.raw, 10),),
        roles=tuple(("land.notary", AccountId.from_key(k.public_key.raw)) for k in keys),
    )
    return BenchCity(genesis, keys, validator)


def signed_anchors(city: BenchCity, count: int, expires_at: int = 50_000) -> list[Transaction]:
    """`count` anchoring transactions, round-robin over the notaries, nonces ascending."""
    signers = [k.signer() for k in city.notaries]
    nonces = [0] * len(signers)
    txs = []
    for i in range(count):
        who = i % len(signers)
        signer = signers[who]
        body = TxBody(
            CHAIN_ID,
            AccountId.from_key(signer.public_key.raw),
            nonces[who],
            (
                action(
                    "documents",
                    "anchor",
                    department="land",
                    hash=os.urandom(32),
                    doc_type="permit",
                    reference=f"P-{i}",
                ),
            ),
            expires_at,
            "",
        )
        nonces[who] += 1
        txs.append(sign_tx(body, [signer]))
    return txs


def commit_block(
    app: object, city: BenchCity, height: int, raws: list[bytes], prev_hash: bytes = EMPTY_HASH
) -> bytes:
    """finalize_block + header + commit, as a driver does; returns the header hash."""
    info = BlockInfo(
        CHAIN_ID, height, city.genesis.time_ms + height * 1000, city.validator.public_key.raw
    )
    result = app.finalize_block(info, raws)  # type: ignore[attr-defined]
    header = BlockHeader(
        CHAIN_ID,
        height,
        info.time_ms,
        prev_hash,
        result.txs_root,
        result.results_root,
        result.app_hash,
        info.proposer,
    )
    failed = [r for r in result.receipts if not r.ok]
    assert not failed, f"{len(failed)} failed, first: {failed[0].code} {failed[0].message}"
    app.commit(sign_header(header, city.validator.signer()))  # type: ignore[attr-defined]
    return header.hash


def timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def proof_rates(store: Any, keys: list[bytes]) -> tuple[list[Any], float, float]:
    """Proofs of `keys` from `store` at its latest height, and the rates (per second) at
    which they were generated and then verified against its root."""
    from urbis.state import verify_state_proof

    started = time.perf_counter()
    proofs = [store.prove(k) for k in keys]
    generated = len(proofs) / (time.perf_counter() - started)
    started = time.perf_counter()
    for proof in proofs:
        verify_state_proof(proof, store.root)
    return proofs, generated, len(proofs) / (time.perf_counter() - started)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def libsodium_rate(triples: list[tuple[bytes, bytes, bytes]]) -> float:
    """Checks per second on one core through PyNaCl (libsodium), as wallets verify: the
    reference beside the chain's own native checks."""

    def check_all() -> None:
        for key, message, signature in triples:
            with contextlib.suppress(nacl.exceptions.BadSignatureError):
                nacl.bindings.crypto_sign_open(signature + message, key)

    return len(triples) / timed(check_all)


@dataclass(frozen=True)
class MachineSpeed:
    """One core's speed at a moment, measured on fixed work.

    Virtual machines of the same kind run the same code up to twice as slow from one
    session to the next (a neighbour on the host, a throttled CPU), and the share of a
    reference measured in the same run moves with it. Printed beside a run's figures,
    it says which machine they came from before anyone compares them with another run.
    """

    signature_us: float
    """One Ed25519 check through urbis._native (the check every validator makes of every
    transaction), best of 5 rounds of 200."""
    python_ns: float
    """One step of a fixed pure-Python loop (dict, attribute and call work, as module
    actions do), best of 5 rounds."""

    def line(self) -> str:
        return (
            f"an Ed25519 check {self.signature_us:.1f} µs, a Python reference step "
            f"{self.python_ns:.0f} ns (one core, best of 5)"
        )


def machine_speed() -> MachineSpeed:
    from urbis._native import ed25519_verify

    signer = PrivateKey(bytes(range(32))).signer()
    messages = [i.to_bytes(8, "big") * 40 for i in range(200)]
    triples = [(signer.public_key.raw, m, signer.sign(m)) for m in messages]

    def check_all() -> None:
        for key, message, signature in triples:
            if not ed25519_verify(key, message, signature):
                raise AssertionError("a reference signature did not verify")

    steps = 20_000

    def python_steps() -> None:
        balances: dict[int, int] = {}
        for i in range(steps):
            balances[i & 1023] = balances.get(i & 1023, 0) + len(str(i))

    signature = min(timed(check_all) for _ in range(5)) / len(triples)
    python = min(timed(python_steps) for _ in range(5)) / steps
    return MachineSpeed(signature * 1e6, python * 1e9)
