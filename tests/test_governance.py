"""Governance: roles from department admins, council proposals m-of-n."""

from __future__ import annotations

from tests.helpers.city import CityChain, account, anchor, role_grant
from urbis.sdk.builder import action


def proposal(title: str, module: str, name: str, /, **args: object) -> object:
    return action(
        "governance",
        "submit_proposal",
        title=title,
        action={"module": module, "name": name, "args": args},
    )


def test_admin_grants_role_and_holder_can_act(chain: CityChain) -> None:
    receipt = chain.run(
        "land",
        role_grant("land", "notary", "finance"),
    )
    assert receipt.ok, receipt.message
    assert chain.run("finance", anchor("land", "deed-1")).ok
    assert chain.run(
        "land",
        action(
            "governance",
            "revoke_role",
            department="land",
            role="notary",
            account=account("finance"),
        ),
    ).ok
    assert chain.run("finance", anchor("land", "deed-2")).code == "auth.missing_role"


def test_non_admin_cannot_grant_is_auth_missing_role(chain: CityChain) -> None:
    receipt = chain.run(
        "finance",
        role_grant("land", "notary", "finance"),
    )
    assert receipt.code == "auth.missing_role"


def test_granting_admin_is_governance_invalid_name(chain: CityChain) -> None:
    receipt = chain.run(
        "land",
        role_grant("land", "admin", "finance"),
    )
    assert receipt.code == "governance.invalid_name"


def test_council_action_directly_is_auth_missing_role(chain: CityChain) -> None:
    receipt = chain.run(
        "mayor",
        action("governance", "add_department", id="parks", name="Parks", admin=account("mayor")),
    )
    assert receipt.code == "auth.missing_role"


def parks_proposal() -> object:
    """The mayor's favourite: a Parks department with the mayor as its admin."""
    return proposal(
        "Parks", "governance", "add_department", id="parks", name="Parks", admin=account("mayor")
    )


def test_proposal_executes_at_threshold(chain: CityChain) -> None:
    submit = chain.run(
        "mayor",
        parks_proposal(),
    )
    assert submit.ok, submit.message
    assert chain.query("governance", "proposal", id="1")["status"] == "open"
    approve = chain.run("councillor_a", action("governance", "approve_proposal", id=1))
    assert approve.ok
    assert "governance.proposal_executed" in [e.type for e in approve.events]
    assert chain.query("governance", "department", id="parks")["admin"] == account("mayor").text
    again = chain.run("councillor_b", action("governance", "approve_proposal", id=1))
    assert again.code == "governance.proposal_closed"


def test_non_member_is_governance_not_council_member(chain: CityChain) -> None:
    receipt = chain.run(
        "land",
        proposal("x", "governance", "add_department", id="x", name="X", admin=account("land")),
    )
    assert receipt.code == "governance.not_council_member"


def test_double_approval_is_governance_already_approved(chain: CityChain) -> None:
    chain.run(
        "mayor",
        parks_proposal(),
    )
    assert chain.run("mayor", action("governance", "approve_proposal", id=1)).code == (
        "governance.already_approved"
    )


def test_proposal_with_unknown_action_is_refused_at_submission(chain: CityChain) -> None:
    receipt = chain.run("mayor", proposal("x", "governance", "abolish_city"))
    assert receipt.code == "tx.unknown_action"


def test_failing_proposed_action_closes_as_failed(chain: CityChain) -> None:
    chain.run(
        "mayor",
        proposal(
            "dup", "governance", "add_department", id="land", name="Again", admin=account("mayor")
        ),
    )
    approve = chain.run("councillor_a", action("governance", "approve_proposal", id=1))
    assert approve.ok
    view = chain.query("governance", "proposal", id="1")
    assert view["status"] == "failed" and view["result_code"] == "governance.department_exists"


def test_proposal_expires_at_end_of_voting_period(chain: CityChain) -> None:
    submit = chain.run(
        "mayor",
        action(
            "governance",
            "submit_proposal",
            title="t",
            action={
                "module": "governance",
                "name": "set_council",
                "args": {"members": [account("mayor").raw], "threshold": 1},
            },
            voting_period_blocks=2,
        ),
    )
    assert submit.ok
    chain.block()
    chain.block()
    assert chain.query("governance", "proposal", id="1")["status"] == "expired"
    late = chain.run("councillor_a", action("governance", "approve_proposal", id=1))
    assert late.code == "governance.proposal_closed"


def test_council_change_through_proposal(chain: CityChain) -> None:
    chain.run(
        "mayor",
        action(
            "governance",
            "submit_proposal",
            title="smaller council",
            action={
                "module": "governance",
                "name": "set_council",
                "args": {"members": [account("mayor").raw], "threshold": 1},
            },
        ),
    )
    chain.run("councillor_b", action("governance", "approve_proposal", id=1))
    assert chain.query(
        "governance",
        "council",
    ) == {"members": [account("mayor").text], "threshold": 1}
