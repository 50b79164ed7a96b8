"""Voting: ElectionGuard 2.1 elections on the ledger, with unlinkable eligibility.

An election commission (`<department>.elections`) creates an election; its guardians run
the key ceremony in transactions; the registrar gives each eligible resident one RFC 9474
blind signature on a ballot key it never sees; any relay casts ballots signed by those
keys; the guardians decrypt the fixed aggregate. README.md is the spec.

V1  an election's `registrations` equals its registration keys               (check_counts)
V2  ballot_keys <= registrations; counted == ballot_keys; counted + replaced == next_ballot
                                                                              (check_counts)
V3  the joint key is set exactly when every share is confirmed or revealed  (check_joint_key)
V4  a ballot key's last ballot is `counted`, every earlier one `replaced`  (check_ballot_keys)
V5  the aggregate is the product of the counted ballots' ciphertexts       (check_aggregate)
"""

from __future__ import annotations

from typing import Any

from urbis.chain.context import StateReader
from urbis.chain.errors import BadQuery, NotFound, jsonable
from urbis.chain.module import ActionSpec, Module
from urbis.modules.voting import handlers, keys
from urbis.modules.voting.invariants import check_counts
from urbis.modules.voting.keeper import VotingView
from urbis.modules.voting.records import (
    AmendManifest,
    Cast,
    Challenge,
    CloseElection,
    ComplainShare,
    ConfirmShare,
    CreateElection,
    Election,
    JoinTally,
    PostDecryption,
    PostGuardianKey,
    PostShare,
    RecordRegistration,
    RevealShare,
    Tally,
    check_election_id,
)

ELECTIONS_ROLE = "{department}.elections"
"""The election commission of the department that runs the election."""


def _election_id(params: dict[str, str]) -> bytes:
    raw = params.get("id", "").encode()
    try:
        check_election_id(raw)
    except ValueError as error:
        raise BadQuery(str(error)) from None
    return raw


def status(election: Election) -> dict[str, Any]:
    """What the tally is waiting for, in words a person reads."""
    n = len(election.guardians)
    if election.phase == "ceremony":
        waiting = "the key ceremony: guardian keys, shares and confirmations"
    elif election.phase == "open":
        waiting = f"ballots until block {election.closes_at_height}, then `close`"
    elif election.phase == "closed":
        more = max(0, election.quorum - election.decryptions)
        joined = len(election.tally_guardians)
        waiting = (
            f"{more} more guardian decryption(s) of {n} (quorum {election.quorum}; {joined} joined)"
            if more
            else "a `tally` transaction: the quorum has decrypted"
        )
    else:
        waiting = "nothing: the result is recorded"
    return {"phase": election.phase, "waiting_for": waiting}


def query_election(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    election_id = _election_id(params)
    election = VotingView(state).election(election_id)
    if election is None:
        raise NotFound(f"no election {election_id.decode()}")
    data = jsonable({name: getattr(election, name) for name in election.__slots__})
    data["id"] = election_id.decode()
    data["manifest"] = election.manifest.decode(errors="replace")
    data["status"] = status(election)
    return data


def admit(state: StateReader, height: int, name: str, args: Any) -> None:
    """CheckTx: a ballot enters the mempool only with every proof verified."""
    if name in ("cast", "challenge"):
        election, checked = handlers.check_ballot(state, height, name, args)
        if name == "cast":
            handlers.check_cast_state(VotingView(state), election, args, checked)


module = Module(
    name="voting",
    actions={
        "create": ActionSpec(
            CreateElection, handlers.create_election, ELECTIONS_ROLE, "Create an election"
        ),
        "amend_manifest": ActionSpec(
            AmendManifest, handlers.amend_manifest, ELECTIONS_ROLE, "Change the manifest"
        ),
        "post_guardian_key": ActionSpec(
            PostGuardianKey, handlers.post_guardian_key, None, "A guardian's keys and proofs"
        ),
        "post_share": ActionSpec(PostShare, handlers.post_share, None, "An encrypted share"),
        "confirm_share": ActionSpec(
            ConfirmShare, handlers.confirm_share, None, "A share decrypted and verified"
        ),
        "complain_share": ActionSpec(
            ComplainShare, handlers.complain_share, None, "A share that does not verify"
        ),
        "reveal_share": ActionSpec(
            RevealShare, handlers.reveal_share, None, "Answer a complaint in the clear"
        ),
        "record_registration": ActionSpec(
            RecordRegistration, handlers.record_registration, None, "Registrar: one nullifier"
        ),
        "cast": ActionSpec(Cast, handlers.cast, None, "Cast or replace a ballot (relayed)"),
        "challenge": ActionSpec(Challenge, handlers.challenge, None, "Benaloh-challenge a ballot"),
        "close": ActionSpec(CloseElection, handlers.close_election, None, "Fix the aggregate"),
        "join_tally": ActionSpec(
            JoinTally, handlers.join_tally, None, "Guardian: present to decrypt"
        ),
        "post_decryption": ActionSpec(
            PostDecryption, handlers.post_decryption, None, "One step of a partial decryption"
        ),
        "tally": ActionSpec(Tally, handlers.tally, None, "Combine k decryptions into the result"),
    },
    queries={"election": query_election},
    view=VotingView,
    end_block=handlers.close_due,
    prefix=keys.PREFIX,
    admit=admit,
)

__all__ = ["check_counts", "module", "status"]
