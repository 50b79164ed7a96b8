"""Check what a node says against a signed header: trust the validator keys, not the node.

`verify_state_proof` takes the node's answer to `GET /v1/state/...?prove=true`
(or `/v1/documents/{hash}`) and the validator keys the client pinned (from
its own copy of genesis), and raises ProofError unless:
  1. the header is signed by one of those validators,
  2. the proof's root is the header's app hash at the same height,
  3. the Merkle path leads from the key's leaf (or its absence) to that root.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from urbis.chain.block import BlockHeader, SignedHeader
from urbis.sdk.cometbft_verify import verify_commit
from urbis.state.proof import ProofError, StateProof
from urbis.state.proof import verify_state_proof as verify_merkle_path


@dataclass(frozen=True, slots=True)
class VerifiedState:
    key: bytes
    value: bytes | None
    height: int
    header: SignedHeader | None
    """The Urbis-signed header (solo); None when a CometBFT commit vouched instead."""


def header_from_view(view: dict[str, Any]) -> SignedHeader:
    try:
        header = BlockHeader(
            chain_id=view["chain_id"],
            height=int(view["height"]),
            time_ms=int(view["time_ms"]),
            prev_hash=bytes.fromhex(view["prev_hash"]),
            txs_root=bytes.fromhex(view["txs_root"]),
            results_root=bytes.fromhex(view["results_root"]),
            app_hash=bytes.fromhex(view["app_hash"]),
            proposer=bytes.fromhex(view["proposer"]),
        )
        return SignedHeader(header, bytes.fromhex(view["signature"]))
    except (KeyError, TypeError, ValueError) as error:
        raise ProofError(f"malformed header: {error}") from None


def verify_state_proof(
    answer: dict[str, Any],
    validators: Iterable[bytes] | Mapping[bytes, int],
    key: bytes | None = None,
    chain_id: str | None = None,
) -> VerifiedState:
    """Verify a node's proven state answer; return the value it proves.

    `validators` are the keys the client trusts (from its own genesis), with
    their voting power where consensus is CometBFT (equal power if only keys).
    """
    if not answer.get("proof"):
        raise ProofError("the answer carries no proof (ask with prove=true)")
    proof = StateProof.from_json(answer["proof"])
    if key is not None and proof.key != key:
        raise ProofError("the proof is for a different key")
    if answer.get("cometbft"):
        powers = (
            dict(validators) if isinstance(validators, Mapping) else dict.fromkeys(validators, 1)
        )
        signed_header = answer["cometbft"]["signed_header"]
        expected_chain = chain_id or str(signed_header.get("header", {}).get("chain_id"))
        app_hash = verify_commit(signed_header, powers, expected_chain)
        if int(signed_header["header"]["height"]) != proof.height + 1:
            raise ProofError(
                f"header {signed_header['header']['height']} does not vouch for "
                f"the state after {proof.height}"
            )
        verify_merkle_path(proof, app_hash)
        return VerifiedState(proof.key, proof.value, proof.height, None)
    if not answer.get("header"):
        raise ProofError("the answer carries no signed header")
    signed = header_from_view(answer["header"])
    if not signed.verify(frozenset(validators)):
        raise ProofError("header is not signed by a trusted validator")
    if chain_id is not None and signed.header.chain_id != chain_id:
        raise ProofError(f"header is from chain {signed.header.chain_id!r}, not {chain_id!r}")
    if proof.height != signed.header.height:
        raise ProofError(f"proof is for height {proof.height}, header for {signed.header.height}")
    verify_merkle_path(proof, signed.header.app_hash)
    return VerifiedState(proof.key, proof.value, proof.height, signed)


__all__ = ["ProofError", "VerifiedState", "header_from_view", "verify_state_proof"]
