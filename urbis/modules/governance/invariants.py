"""Checkers of the invariants in the governance module's docstring; an empty list means fine.

`check_invariants` reads one state; `check_transition` compares the module's state before
and after one block (snapshots from `snapshot`), for the invariants about change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from urbis.chain.codec import from_wire
from urbis.crypto.encoding import decode_trusted
from urbis.modules.governance import keys
from urbis.modules.governance.records import Council, Proposal, ValidatorSet

SCAN_MAX = 1_000_000
"""Checkers run in tests and audits over whole test cities: read every key."""

STATUSES = ("open", "executed", "failed", "expired")


def snapshot(state: Any) -> dict[bytes, bytes]:
    """The module's keys and values in `state` (a store with `scan_prefix`)."""
    return dict(state.scan_prefix(keys.PREFIX, SCAN_MAX))


def check_invariants(state: Any) -> list[str]:
    """I1, I3, I4, and what I2 says of one state: every proposal's status fits its record."""
    rows = snapshot(state)
    problems: list[str] = []
    council = from_wire(Council, decode_trusted(rows[keys.COUNCIL]))
    if not 1 <= council.threshold <= len(council.members):
        problems.append(f"I1: threshold {council.threshold} of {len(council.members)} members")
    validators = rows.get(keys.VALIDATORS)
    if validators is None or not from_wire(ValidatorSet, decode_trusted(validators)).validators:
        problems.append("I4: the validator set is empty")
    for proposal in _proposals(rows).values():
        if len(set(proposal.approvals)) != len(proposal.approvals):
            problems.append(f"I3: proposal {proposal.id} counts a member twice")
        if proposal.status not in STATUSES:
            problems.append(f"I2: proposal {proposal.id} has status {proposal.status!r}")
        if (proposal.status == "open") != (proposal.closed_at_height == 0):
            problems.append(
                f"I2: proposal {proposal.id} is {proposal.status} "
                f"with closed_at_height {proposal.closed_at_height}"
            )
    return problems


def check_transition(before: Mapping[bytes, bytes], after: Mapping[bytes, bytes]) -> list[str]:
    """I2 across one block: a closed proposal never changes again (it ran at most once), and
    a proposal executed in the block had approvals from `before`'s council reaching its
    threshold (one block: the council that counted them is the one before it)."""
    problems: list[str] = []
    council = from_wire(Council, decode_trusted(before[keys.COUNCIL]))
    old, new = _proposals(before), _proposals(after)
    for proposal_id, proposal in old.items():
        if proposal.status != "open" and new.get(proposal_id) != proposal:
            problems.append(f"I2: closed proposal {proposal_id} changed")
    for proposal_id, proposal in new.items():
        was_open = proposal_id not in old or old[proposal_id].status == "open"
        if proposal.status in ("executed", "failed") and was_open:
            approvals = sum(1 for a in proposal.approvals if a in council.members)
            if approvals < council.threshold:
                problems.append(
                    f"I2: proposal {proposal_id} ran with {approvals} of "
                    f"{council.threshold} approvals"
                )
    return problems


def _proposals(rows: Mapping[bytes, bytes]) -> dict[int, Proposal]:
    return {
        proposal.id: proposal
        for key, raw in rows.items()
        if key.startswith(keys.PROPOSAL_PREFIX)
        for proposal in [from_wire(Proposal, decode_trusted(raw))]
    }
