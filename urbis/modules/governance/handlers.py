"""Governance handlers: each checks everything first, then writes."""

from __future__ import annotations

from urbis.chain.codec import from_wire, to_wire
from urbis.chain.context import Context
from urbis.chain.errors import UrbisError
from urbis.chain.genesis import NAME_PATTERN
from urbis.chain.ids import COUNCIL, AccountId
from urbis.chain.tx import Action
from urbis.crypto.encoding import decode_trusted, encode
from urbis.modules.governance import keys
from urbis.modules.governance.errors import (
    AlreadyApproved,
    DepartmentExists,
    InvalidCouncil,
    InvalidName,
    InvalidValidators,
    InvalidVotingPeriod,
    NotCouncilMember,
    ProposalClosed,
    ProposalExpired,
    ProposalNotFound,
    RoleAlreadyGranted,
    RoleNotGranted,
    UnknownAccount,
    UnknownDepartment,
)
from urbis.modules.governance.keeper import (
    ADMIN_ROLE,
    read_council,
    read_department,
    read_proposal,
)
from urbis.modules.governance.needs import AccountsView
from urbis.modules.governance.records import (
    VALIDATORS_MAX,
    VOTING_PERIOD_BLOCKS_MAX,
    AddDepartment,
    ApproveProposal,
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
    ValidatorSet,
)


def grant_role(ctx: Context, sender: AccountId, args: GrantRole) -> None:
    role = _role_name(ctx, args.department, args.role)
    _require_account(ctx, args.account)
    if ctx.state.get(keys.role(role, args.account)) is not None:
        raise RoleAlreadyGranted(f"{args.account} already holds {role}")
    ctx.state.put_record(keys.role(role, args.account), RoleGrant(sender, ctx.block.height))
    ctx.emit("governance.role_granted", role=role, account=args.account, by=sender)


def revoke_role(ctx: Context, sender: AccountId, args: RevokeRole) -> None:
    role = _role_name(ctx, args.department, args.role)
    if ctx.state.get(keys.role(role, args.account)) is None:
        raise RoleNotGranted(f"{args.account} does not hold {role}")
    ctx.state.delete(keys.role(role, args.account))
    ctx.emit("governance.role_revoked", role=role, account=args.account, by=sender)


def submit_proposal(ctx: Context, sender: AccountId, args: SubmitProposal) -> None:
    council = read_council(ctx.state)
    if sender not in council.members:
        raise NotCouncilMember(f"{sender} is not on the council")
    if not 1 <= args.voting_period_blocks <= VOTING_PERIOD_BLOCKS_MAX:
        raise InvalidVotingPeriod(f"voting period is 1 to {VOTING_PERIOD_BLOCKS_MAX} blocks")
    action = Action(args.action.module, args.action.name, args.action.args)
    ctx.check_action(action)
    raw_sequence = ctx.state.get(keys.PROPOSAL_SEQUENCE)
    proposal_id = 1 if raw_sequence is None else int(decode_trusted(raw_sequence)) + 1
    expires = ctx.block.height + args.voting_period_blocks
    proposal = Proposal(
        id=proposal_id,
        title=args.title,
        proposer=sender,
        action=args.action,
        approvals=[sender],
        status="open",
        submitted_at_height=ctx.block.height,
        expires_at_height=expires,
    )
    ctx.state.put(keys.PROPOSAL_SEQUENCE, encode(proposal_id))
    expiring = ctx.state.get(keys.expiring(expires))
    ids = [] if expiring is None else list(decode_trusted(expiring))
    ctx.state.put(keys.expiring(expires), encode([*ids, proposal_id]))
    ctx.emit(
        "governance.proposal_submitted",
        id=proposal_id,
        proposer=sender,
        action=f"{args.action.module}.{args.action.name}",
        expires_at_height=expires,
    )
    _settle(ctx, proposal, council)


def approve_proposal(ctx: Context, sender: AccountId, args: ApproveProposal) -> None:
    council = read_council(ctx.state)
    if sender not in council.members:
        raise NotCouncilMember(f"{sender} is not on the council")
    proposal = read_proposal(ctx.state, args.id)
    if proposal is None:
        raise ProposalNotFound(f"no proposal {args.id}")
    if proposal.status != "open":
        raise ProposalClosed(f"proposal {args.id} is {proposal.status}")
    if ctx.block.height > proposal.expires_at_height:
        raise ProposalExpired(f"proposal {args.id} expired at {proposal.expires_at_height}")
    if sender in proposal.approvals:
        raise AlreadyApproved(f"{sender} already approved proposal {args.id}")
    approved = _with(proposal, approvals=[*proposal.approvals, sender])
    ctx.emit(
        "governance.proposal_approved",
        id=args.id,
        by=sender,
        approvals=len(approved.approvals),
        threshold=council.threshold,
    )
    _settle(ctx, approved, council)


def _settle(ctx: Context, proposal: Proposal, council: Council) -> None:
    """Store the proposal; execute it once approvals from current members reach the threshold.

    The approval itself always stands: if the proposed action fails, the proposal
    is closed as failed with the action's error code, and its writes are dropped.
    """
    approvals = sum(1 for a in proposal.approvals if a in council.members)
    if approvals < council.threshold:
        ctx.state.put_record(keys.proposal(proposal.id), proposal)
        return
    action = proposal.action
    child = ctx.nested()
    try:
        child.dispatch(COUNCIL, Action(action.module, action.name, action.args))
    except UrbisError as error:
        closed = _with(
            proposal,
            status="failed",
            closed_at_height=ctx.block.height,
            result_code=error.code,
            result_message=error.message,
        )
        ctx.state.put_record(keys.proposal(proposal.id), closed)
        ctx.emit("governance.proposal_failed", id=proposal.id, code=error.code)
        return
    ctx.commit_nested(child)
    executed = _with(
        proposal, status="executed", closed_at_height=ctx.block.height, result_code="ok"
    )
    ctx.state.put_record(keys.proposal(proposal.id), executed)
    ctx.emit(
        "governance.proposal_executed", id=proposal.id, action=f"{action.module}.{action.name}"
    )


def add_department(ctx: Context, sender: AccountId, args: AddDepartment) -> None:
    if not NAME_PATTERN.match(args.id):
        raise InvalidName(f"department id {args.id!r}: lower-case letters, digits, '_'")
    if read_department(ctx.state, args.id) is not None:
        raise DepartmentExists(f"department {args.id} exists")
    _require_account(ctx, args.admin)
    department = Department(args.id, args.name, args.admin, ctx.block.height)
    ctx.state.put_record(keys.department(args.id), department)
    ctx.emit("governance.department_added", department=args.id, admin=args.admin)


def set_department_admin(ctx: Context, sender: AccountId, args: SetDepartmentAdmin) -> None:
    department = read_department(ctx.state, args.department)
    if department is None:
        raise UnknownDepartment(f"no department {args.department}")
    _require_account(ctx, args.admin)
    updated = Department(department.id, department.name, args.admin, department.created_at_height)
    ctx.state.put_record(keys.department(args.department), updated)
    ctx.emit("governance.department_admin_set", department=args.department, admin=args.admin)


def set_council(ctx: Context, sender: AccountId, args: SetCouncil) -> None:
    members = list(dict.fromkeys(args.members))
    if len(members) != len(args.members) or not members:
        raise InvalidCouncil("council members must be distinct and at least one")
    if not 1 <= args.threshold <= len(members):
        raise InvalidCouncil(f"threshold must be 1 to {len(members)}")
    for member in members:
        _require_account(ctx, member)
    ctx.state.put_record(keys.COUNCIL, Council(members, args.threshold))
    ctx.emit("governance.council_set", members=len(members), threshold=args.threshold)


def set_validators(ctx: Context, sender: AccountId, args: SetValidators) -> None:
    keys_seen = [v.key for v in args.validators]
    if len(set(keys_seen)) != len(keys_seen):
        raise InvalidValidators("a validator key is listed twice")
    active = [v for v in args.validators if v.power > 0]
    if not active or len(active) > VALIDATORS_MAX:
        raise InvalidValidators(f"1 to {VALIDATORS_MAX} validators with power above 0")
    ctx.state.put_record(keys.VALIDATORS, ValidatorSet(active))
    ctx.emit("governance.validators_set", count=len(active), power=sum(v.power for v in active))


def _role_name(ctx: Context, department_id: str, role: str) -> str:
    if read_department(ctx.state, department_id) is None:
        raise UnknownDepartment(f"no department {department_id}")
    if not NAME_PATTERN.match(role) or role == ADMIN_ROLE:
        raise InvalidName(f"role {role!r}: lower-case letters, digits, '_' (not 'admin')")
    return f"{department_id}.{role}"


def _require_account(ctx: Context, account: AccountId) -> None:
    if not ctx.view("accounts", AccountsView).exists(account):
        raise UnknownAccount(f"account {account} does not exist")


def _with(proposal: Proposal, **changes: object) -> Proposal:
    data = {**to_wire(proposal), **{k: to_wire(v) for k, v in changes.items()}}
    return from_wire(Proposal, data)


def expire_proposals(ctx: Context) -> None:
    """End of block: close proposals whose voting period ended at this height."""
    raw = ctx.state.get(keys.expiring(ctx.block.height))
    if raw is None:
        return
    for proposal_id in decode_trusted(raw):
        proposal = read_proposal(ctx.state, proposal_id)
        if proposal is not None and proposal.status == "open":
            expired = _with(proposal, status="expired", closed_at_height=ctx.block.height)
            ctx.state.put_record(keys.proposal(proposal_id), expired)
            ctx.emit("governance.proposal_expired", id=proposal_id)
    ctx.state.delete(keys.expiring(ctx.block.height))
