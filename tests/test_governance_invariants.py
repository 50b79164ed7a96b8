"""Governance invariants (I1-I4 of the module docstring) after random sequences of actions:
proposals of every council action (valid or not), approvals, role grants and revocations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.city import COUNCIL, CityChain, account, key, scratch_chain
from urbis.chain.tx import Action
from urbis.modules.governance.invariants import check_invariants, check_transition, snapshot
from urbis.sdk.builder import action

PEOPLE = (*COUNCIL, "land", "finance")
members = st.sampled_from(COUNCIL)
people = st.sampled_from(PEOPLE)


def proposed(name: str, args: dict[str, Any]) -> dict[str, Any]:
    wire = action("governance", name, **args)
    return {"module": wire.module, "name": wire.name, "args": wire.args}


def council_actions() -> st.SearchStrategy[dict[str, Any]]:
    validator = st.builds(
        lambda n, p: {"name": n, "key": key(n).public_key.raw, "power": p},
        st.sampled_from(("validator", "v2", "v3")),
        st.integers(0, 5),
    )
    return st.one_of(
        st.builds(
            lambda ms, t: proposed(
                "set_council", {"members": [account(m) for m in ms], "threshold": t}
            ),
            st.lists(people, min_size=0, max_size=4),
            st.integers(0, 4),
        ),
        st.builds(
            lambda vs: proposed("set_validators", {"validators": vs}),
            st.lists(validator, max_size=3),
        ),
        st.builds(
            lambda d, a: proposed("add_department", {"id": d, "name": d, "admin": account(a)}),
            st.sampled_from(("parks", "land", "Bad-Name")),
            people,
        ),
        st.builds(
            lambda d, a: proposed("set_department_admin", {"department": d, "admin": account(a)}),
            st.sampled_from(("parks", "land")),
            people,
        ),
    )


approvals = st.builds(
    lambda i: action("governance", "approve_proposal", id=i), st.sampled_from((0, 1, 2))
)
"""Id 0 stands for the latest proposal, so that approvals often meet what was proposed."""


def actions() -> st.SearchStrategy[Action]:
    return st.one_of(
        st.builds(
            lambda a, v: action(
                "governance", "submit_proposal", title="t", action=a, voting_period_blocks=v
            ),
            council_actions(),
            st.integers(0, 4),
        ),
        approvals,
        approvals,
        st.builds(
            lambda d, r, a: action("governance", "grant_role", department=d, role=r, account=a),
            st.sampled_from(("land", "parks")),
            st.sampled_from(("notary", "clerk", "admin")),
            people.map(account),
        ),
        st.builds(
            lambda d, r, a: action("governance", "revoke_role", department=d, role=r, account=a),
            st.sampled_from(("land", "parks")),
            st.sampled_from(("notary", "clerk")),
            people.map(account),
        ),
    )


senders = st.sampled_from((*COUNCIL, *COUNCIL, *PEOPLE))
"""Mostly council members, who alone may propose and approve."""
steps = st.lists(st.tuples(senders, actions()), min_size=1, max_size=15)


def run_steps(chain: CityChain, drawn: list[tuple[str, Action]]) -> list[str]:
    """One transaction per block (empty blocks let proposals expire); every problem found."""
    problems = check_invariants(chain.app.store)
    for sender, step in drawn:
        if step.name == "approve_proposal" and step.args["id"] == 0:
            latest = chain.query("governance", "proposals")
            step = action("governance", "approve_proposal", id=latest[0]["id"] if latest else 1)
        before = snapshot(chain.app.store)
        chain.run_as_next(sender, step)
        problems += check_transition(before, snapshot(chain.app.store))
        problems += check_invariants(chain.app.store)
    return problems


@given(drawn=steps)
def test_random_governance_actions_keep_every_invariant(drawn: list[tuple[str, Action]]) -> None:
    with scratch_chain() as chain:
        assert run_steps(chain, drawn) == []


def test_checker_finds_a_closed_proposal_that_changed(tmp_path: Path) -> None:
    """The transition checker can fail: an executed proposal seen as reopened."""
    chain = CityChain(tmp_path)
    department = proposed("add_department", {"id": "parks", "name": "P", "admin": account("land")})
    submit = action("governance", "submit_proposal", title="t", action=department)
    assert chain.run("mayor", submit).ok
    before = snapshot(chain.app.store)
    assert chain.run("councillor_a", action("governance", "approve_proposal", id=1)).ok
    after = snapshot(chain.app.store)
    assert check_transition(before, after) == []
    assert check_transition(after, before) == ["I2: closed proposal 1 changed"]
    chain.close()
