"""Voting under /v1/voting: elections, their keys and status, confirmation codes, results,
the election record, and the relay that submits a resident's ballot from the node's own
relay account (so no resident account signs anything a ballot is in)."""

from __future__ import annotations

import os
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from urbis.api.deps import NodeDep
from urbis.chain.errors import BadQuery, NotFound
from urbis.modules.voting import keys
from urbis.modules.voting.errors import NoRelay
from urbis.modules.voting.keeper import VotingView
from urbis.modules.voting.records import GUARDIANS_MAX, Election, check_election_id

RELAY_KEY = "relay"
"""The node's key store name of the account it relays ballots from."""
RELAY_PASSPHRASE_ENV = "URBIS_RELAY_PASSPHRASE"
CODES_PAGE_MAX = 1000

_relay_lock = threading.Lock()
_relay_next: dict[bytes, int] = {}


class BallotIn(BaseModel):
    """A resident's ballot for the relay: everything hex except the ballot (its JSON)."""

    kind: str = Field("cast", pattern="^(cast|challenge)$")
    ballot_key: str = Field(pattern="^[0-9a-f]{64}$")
    key_prefix: str = Field(pattern="^[0-9a-f]{64}$")
    registrar_signature: str = Field(pattern="^[0-9a-f]{512,2048}$")
    ballot: str = Field(min_length=2, max_length=1_048_576)
    signature: str = Field(pattern="^[0-9a-f]{128}$")
    nonces: str | None = Field(None, max_length=1_048_576)


def _election(node: Any, election_id: str) -> Election:
    raw = election_id.encode()
    try:
        check_election_id(raw)
    except ValueError as error:
        raise BadQuery(str(error)) from None
    election = VotingView(node.app.store).election(raw)
    if election is None:
        raise NotFound(f"no election {election_id}")
    return election


def router() -> APIRouter:
    router = APIRouter(prefix="/v1/voting", tags=["voting"])

    @router.get("/elections", summary="Every election: id, title, phase and counts")
    def elections(
        node: NodeDep, limit: Annotated[int, Query(ge=1, le=CODES_PAGE_MAX)] = 100
    ) -> dict[str, Any]:
        from urbis.modules.voting.module import status

        prefix = keys.PREFIX + b"election/"
        rows = []
        for key, _ in node.app.store.scan_prefix(prefix, limit):
            found = VotingView(node.app.store).election(key[len(prefix) :])
            assert found is not None
            rows.append(
                {
                    "id": found.id.decode(),
                    "title": found.title,
                    "department": found.department,
                    "phase": found.phase,
                    "counted": found.counted,
                    "waiting_for": status(found)["waiting_for"],
                }
            )
        return {"elections": rows}

    @router.get("/elections/{election_id}", summary="An election, its phase and counts")
    def election(election_id: str, node: NodeDep) -> dict[str, Any]:
        _election(node, election_id)
        answer: dict[str, Any] = node.app.query("voting", "election", {"id": election_id})
        return answer

    @router.get("/elections/{election_id}/manifest", summary="The manifest's exact bytes")
    def manifest(election_id: str, node: NodeDep) -> dict[str, Any]:
        found = _election(node, election_id)
        return {"manifest": found.manifest.decode(), "base_hash": found.base_hash.hex()}

    @router.get("/elections/{election_id}/guardians", summary="Guardian keys and proofs")
    def guardians(election_id: str, node: NodeDep) -> dict[str, Any]:
        found = _election(node, election_id)
        view = VotingView(node.app.store)
        rows = []
        for index, account in enumerate(found.guardians, start=1):
            key = view.guardian_key(found.id, index)
            rows.append(
                {
                    "index": index,
                    "account": account.text,
                    "public_key": None if key is None else key.public_key.decode(),
                }
            )
        return {"guardians": rows, "quorum": found.quorum}

    @router.get("/elections/{election_id}/shares", summary="Encrypted shares and their status")
    def shares(
        election_id: str,
        node: NodeDep,
        recipient: Annotated[int | None, Query(ge=1, le=GUARDIANS_MAX)] = None,
    ) -> dict[str, Any]:
        found = _election(node, election_id)
        view = VotingView(node.app.store)
        n = len(found.guardians)
        rows = []
        for dealer in range(1, n + 1):
            for to in range(1, n + 1):
                if dealer == to or (recipient is not None and to != recipient):
                    continue
                share = view.share(found.id, dealer, to)
                if share is not None:
                    rows.append(
                        {
                            "dealer": dealer,
                            "recipient": to,
                            "status": share.status,
                            "encrypted": share.encrypted.decode(),
                        }
                    )
        return {"shares": rows}

    @router.get("/elections/{election_id}/joint-key", summary="K, K̂ and H_E")
    def joint_key(election_id: str, node: NodeDep) -> dict[str, Any]:
        found = _election(node, election_id)
        if not found.joint_key:
            raise NotFound(f"election {election_id} has no joint key yet (phase {found.phase})")
        return {
            "joint_key": found.joint_key.decode(),
            "extended_base_hash": found.extended_base_hash.hex(),
        }

    @router.get("/elections/{election_id}/codes", summary="Confirmation codes, paginated")
    def codes(
        election_id: str,
        node: NodeDep,
        offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
        limit: Annotated[int, Query(ge=1, le=CODES_PAGE_MAX)] = 100,
    ) -> dict[str, Any]:
        found = _election(node, election_id)
        view = VotingView(node.app.store)
        rows = []
        for seq in range(offset, min(found.next_ballot, offset + limit)):
            ballot = view.ballot(found.id, seq)
            if ballot is not None:
                rows.append({"code": ballot.confirmation_code.hex(), "status": ballot.status})
        return {"codes": rows, "total": found.next_ballot, "offset": offset}

    @router.get("/elections/{election_id}/codes/{code}", summary="Is this code in the record?")
    def track(election_id: str, code: str, node: NodeDep) -> dict[str, Any]:
        found = _election(node, election_id)
        try:
            raw = bytes.fromhex(code)
        except ValueError:
            raise BadQuery("a confirmation code is 64 hex digits") from None
        view = VotingView(node.app.store)
        seq = view.ballot_of_code(found.id, raw)
        if seq is not None:
            ballot = view.ballot(found.id, seq)
            assert ballot is not None
            return {"code": code, "found": True, "status": ballot.status, "kind": "cast"}
        for index in range(found.challenged):
            challenged = view.challenged(found.id, index)
            if challenged is not None and challenged.confirmation_code == raw:
                return {"code": code, "found": True, "status": "challenged", "kind": "challenge"}
        raise NotFound(f"confirmation code {code} is not in election {election_id}'s record")

    @router.get("/elections/{election_id}/result", summary="The decrypted result")
    def result(election_id: str, node: NodeDep) -> dict[str, Any]:
        found = _election(node, election_id)
        recorded = VotingView(node.app.store).result(found.id)
        if recorded is None:
            from urbis.modules.voting.module import status

            raise NotFound(f"no result yet: waiting for {status(found)['waiting_for']}")
        return {
            "counts": recorded.counts,
            "guardians": recorded.guardians,
            "at_height": recorded.at_height,
            "tally": recorded.tally.decode(),
        }

    @router.get("/elections/{election_id}/aggregate", summary="The fixed aggregate (A, B)")
    def aggregate(election_id: str, node: NodeDep) -> dict[str, Any]:
        found = _election(node, election_id)
        raw = VotingView(node.app.store).aggregate(found.id)
        if raw is None:
            raise NotFound(f"election {election_id} has no ballots yet")
        return {"aggregate": raw.decode(), "phase": found.phase}

    @router.get("/elections/{election_id}/decryptions", summary="The decryption's progress")
    def decryptions(election_id: str, node: NodeDep) -> dict[str, Any]:
        found = _election(node, election_id)
        view = VotingView(node.app.store)
        rows = []
        for index in found.tally_guardians:
            step = view.decryption(found.id, index)
            assert step is not None
            rows.append(
                {
                    "guardian": index,
                    "commit": step.commit.decode() or None,
                    "reveal": step.reveal.decode() or None,
                    "response": step.response.decode() or None,
                }
            )
        return {
            "quorum": found.quorum,
            "tally_guardians": found.tally_guardians,
            "challenges": found.decryption_challenges.decode() or None,
            "guardians": rows,
        }

    @router.get("/elections/{election_id}/record", summary="The whole election record (JSON)")
    def record(election_id: str, node: NodeDep) -> dict[str, Any]:
        from urbis.modules.voting.export import record_json

        found = _election(node, election_id)
        return record_json(node.app.store, found)

    @router.post("/elections/{election_id}/ballots", summary="Relay a ballot from this node")
    def relay(election_id: str, ballot: BallotIn, node: NodeDep) -> dict[str, Any]:
        found = _election(node, election_id)
        return _relay(node, found, ballot)

    return router


def _relay(node: Any, election: Election, ballot: BallotIn) -> dict[str, Any]:
    """Sign the ballot's action with this node's relay account and submit it."""
    from urbis.sdk.builder import EXPIRY_BLOCKS_DEFAULT, TxBuilder

    keystore = node.home.keystore
    try:
        info = keystore.info(RELAY_KEY)
        key = keystore.load(RELAY_KEY, os.environ.get(RELAY_PASSPHRASE_ENV, ""))
    except Exception as error:
        raise NoRelay(f"this node has no usable relay key ({error}); use another node") from None
    args: dict[str, Any] = {
        "election_id": election.id,
        "ballot_key": bytes.fromhex(ballot.ballot_key),
        "key_prefix": bytes.fromhex(ballot.key_prefix),
        "registrar_signature": bytes.fromhex(ballot.registrar_signature),
        "ballot": ballot.ballot.encode(),
        "signature": bytes.fromhex(ballot.signature),
    }
    if ballot.kind == "challenge":
        if ballot.nonces is None:
            raise BadQuery("a challenge carries its nonces")
        args["nonces"] = ballot.nonces.encode()
    sender = info.account
    with _relay_lock:
        committed = node.app.next_nonce(sender.raw)
        nonce = max(committed, _relay_next.get(sender.raw, 0))
        builder = TxBuilder(node.app.chain_id, sender).add("voting", ballot.kind, **args)
        tx = builder.sign([key], nonce, node.app.info().height + EXPIRY_BLOCKS_DEFAULT)
        node.submit(tx.raw)
        _relay_next[sender.raw] = nonce + 1
    return {"tx_id": tx.id.hex(), "relayed_by": sender.text, "kind": ballot.kind}
