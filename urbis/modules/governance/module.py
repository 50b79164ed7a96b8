"""Governance: the city's departments, roles, council and validators.

Genesis founds the city. Department admins grant and revoke roles
(`<department>.<role>`); every action in every module names the role it
needs and the app checks it before the handler runs. Privileged actions
(new department, council, validators) run only through a council proposal
approved by m of n members.

I1  council threshold is between 1 and the number of members
I2  a proposal executes at most once, and only with approvals >= threshold
I3  a proposal's approvals never repeat a member
I4  the validator set is never empty
"""

from __future__ import annotations

from typing import Any

from urbis.chain.codec import from_wire
from urbis.chain.context import Context, StateReader
from urbis.chain.errors import BadQuery, NotFound, jsonable
from urbis.chain.genesis import Genesis
from urbis.chain.ids import AccountId
from urbis.chain.module import COUNCIL_ROLE, ActionSpec, Module
from urbis.crypto.encoding import decode_trusted
from urbis.modules.governance import handlers, keys
from urbis.modules.governance.keeper import (
    GovernanceKeeper,
    GovernanceView,
    has_role,
    read_council,
    read_department,
    read_proposal,
    read_validators,
)
from urbis.modules.governance.records import (
    AddDepartment,
    ApproveProposal,
    City,
    Council,
    Department,
    GrantRole,
    Proposal,
    RevokeRole,
    RoleGrant,
    SetCouncil,
    SetDepartmentAdmin,
    SetValidators,
    SubmitProposal,
    Validator,
    ValidatorSet,
)


def init_genesis(ctx: Context, genesis: Genesis) -> None:
    ctx.state.put_record(keys.CITY, City(genesis.chain_id, genesis.name))
    for department in genesis.departments:
        record = Department(department.id, department.name, department.admin, 0)
        ctx.state.put_record(keys.department(department.id), record)
    ctx.state.put_record(
        keys.COUNCIL, Council(list(genesis.council_members), genesis.council_threshold)
    )
    validators = [Validator(v.name, v.key, v.power) for v in genesis.validators]
    ctx.state.put_record(keys.VALIDATORS, ValidatorSet(validators))
    for role, account in genesis.roles:
        ctx.state.put_record(keys.role(role, account), RoleGrant(account, 0))


# -- queries (read API) ---------------------------------------------------------------


def query_departments(state: Any, params: dict[str, str]) -> list[dict[str, Any]]:
    rows = state.scan_prefix(keys.DEPARTMENT_PREFIX)
    return [_department_json(from_wire(Department, decode_trusted(v))) for _, v in rows]


def query_department(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    department = read_department(state, params.get("id", ""))
    if department is None:
        raise NotFound(f"no department {params.get('id')!r}")
    return _department_json(department)


def query_role_holders(state: Any, params: dict[str, str]) -> list[dict[str, Any]]:
    role = params.get("role", "")
    rows = state.scan_prefix(keys.role_prefix(role))
    out = []
    for key, value in rows:
        grant = from_wire(RoleGrant, decode_trusted(value))
        account = AccountId(key[-20:])
        out.append(
            {
                "account": account.text,
                "granted_by": grant.granted_by.text,
                "granted_at_height": grant.granted_at_height,
            }
        )
    return out


def query_has_role(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    try:
        account = AccountId.parse(params.get("account", ""))
    except ValueError as error:
        raise BadQuery(str(error)) from None
    role = params.get("role", "")
    return {"account": account.text, "role": role, "has_role": has_role(state, account, role)}


def query_council(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    council = read_council(state)
    return {"members": [m.text for m in council.members], "threshold": council.threshold}


def query_validators(state: StateReader, params: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"name": v.name, "key": v.key.hex(), "power": v.power}
        for v in read_validators(state).validators
    ]


def query_proposal(state: StateReader, params: dict[str, str]) -> dict[str, Any]:
    try:
        proposal_id = int(params.get("id", ""))
    except ValueError:
        raise BadQuery("proposal id must be a number") from None
    proposal = read_proposal(state, proposal_id)
    if proposal is None:
        raise NotFound(f"no proposal {proposal_id}")
    return proposal_json(proposal)


def query_proposals(state: Any, params: dict[str, str]) -> list[dict[str, Any]]:
    status = params.get("status")
    rows = state.scan_prefix(keys.PROPOSAL_PREFIX, limit=10_000)
    proposals = [from_wire(Proposal, decode_trusted(v)) for _, v in rows]
    return [proposal_json(p) for p in reversed(proposals) if status in (None, p.status)]


def proposal_json(proposal: Proposal) -> dict[str, Any]:
    return {
        "id": proposal.id,
        "title": proposal.title,
        "proposer": proposal.proposer.text,
        "action": {
            "module": proposal.action.module,
            "name": proposal.action.name,
            "args": jsonable(proposal.action.args),
        },
        "approvals": [a.text for a in proposal.approvals],
        "status": proposal.status,
        "submitted_at_height": proposal.submitted_at_height,
        "expires_at_height": proposal.expires_at_height,
        "closed_at_height": proposal.closed_at_height,
        "result_code": proposal.result_code,
        "result_message": proposal.result_message,
    }


def _department_json(department: Department) -> dict[str, Any]:
    return {
        "id": department.id,
        "name": department.name,
        "admin": department.admin.text,
        "created_at_height": department.created_at_height,
    }


def validator_updates(committed: StateReader, pending: StateReader) -> list[tuple[bytes, int]]:
    """What changed in the validator set this block, as consensus wants it (power 0 removes)."""
    if committed.get(keys.VALIDATORS) == pending.get(keys.VALIDATORS):
        return []
    before = {v.key: v.power for v in read_validators(committed).validators}
    after = {v.key: v.power for v in read_validators(pending).validators}
    updates = [(key, power) for key, power in sorted(after.items()) if before.get(key) != power]
    updates += [(key, 0) for key in sorted(before) if key not in after]
    return updates


module = Module(
    name="governance",
    actions={
        "grant_role": ActionSpec(
            GrantRole,
            handlers.grant_role,
            "{department}.admin",
            "Grant a department role to an account",
        ),
        "revoke_role": ActionSpec(
            RevokeRole, handlers.revoke_role, "{department}.admin", "Revoke a department role"
        ),
        "submit_proposal": ActionSpec(
            SubmitProposal,
            handlers.submit_proposal,
            None,
            "Propose a privileged action (council members)",
        ),
        "approve_proposal": ActionSpec(
            ApproveProposal,
            handlers.approve_proposal,
            None,
            "Approve an open proposal (council members)",
        ),
        "add_department": ActionSpec(
            AddDepartment, handlers.add_department, COUNCIL_ROLE, "Found a department"
        ),
        "set_department_admin": ActionSpec(
            SetDepartmentAdmin,
            handlers.set_department_admin,
            COUNCIL_ROLE,
            "Change a department's admin",
        ),
        "set_council": ActionSpec(
            SetCouncil, handlers.set_council, COUNCIL_ROLE, "Change the council and its threshold"
        ),
        "set_validators": ActionSpec(
            SetValidators, handlers.set_validators, COUNCIL_ROLE, "Change the validator set"
        ),
    },
    queries={
        "departments": query_departments,
        "department": query_department,
        "role_holders": query_role_holders,
        "has_role": query_has_role,
        "council": query_council,
        "validators": query_validators,
        "proposal": query_proposal,
        "proposals": query_proposals,
    },
    keeper=GovernanceKeeper,
    view=GovernanceView,
    init_genesis=init_genesis,
    end_block=handlers.expire_proposals,
    validator_updates=validator_updates,
    prefix=keys.PREFIX,
)
