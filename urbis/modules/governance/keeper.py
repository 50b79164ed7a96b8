"""What other modules and the app may call on governance."""

from __future__ import annotations

from urbis.chain.codec import from_wire
from urbis.chain.context import Context, StateReader
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted
from urbis.modules.governance import keys
from urbis.modules.governance.records import Council, Department, Proposal, ValidatorSet

ADMIN_ROLE = "admin"
"""`<department>.admin` is held by the department's admin account, never granted."""


def read_department(state: StateReader, department_id: str) -> Department | None:
    raw = state.get(keys.department(department_id))
    return None if raw is None else from_wire(Department, decode_trusted(raw))


def read_council(state: StateReader) -> Council:
    raw = state.get(keys.COUNCIL)
    assert raw is not None, "genesis writes the council"
    return from_wire(Council, decode_trusted(raw))


def read_validators(state: StateReader) -> ValidatorSet:
    raw = state.get(keys.VALIDATORS)
    return ValidatorSet([]) if raw is None else from_wire(ValidatorSet, decode_trusted(raw))


def read_proposal(state: StateReader, proposal_id: int) -> Proposal | None:
    raw = state.get(keys.proposal(proposal_id))
    return None if raw is None else from_wire(Proposal, decode_trusted(raw))


def has_role(state: StateReader, account: AccountId, role: str) -> bool:
    department_id, _, name = role.partition(".")
    if name == ADMIN_ROLE:
        department = read_department(state, department_id)
        return department is not None and department.admin == account
    return state.get(keys.role(role, account)) is not None


class GovernanceRoles:
    """The app's role checker."""

    def has_role(self, state: StateReader, account: AccountId, role: str) -> bool:
        return has_role(state, account, role)


class GovernanceView:
    """Read-only: roles, departments, the council (what other modules and contracts check)."""

    def __init__(self, state: StateReader) -> None:
        self._state = state

    def has_role(self, account: AccountId, role: str) -> bool:
        return has_role(self._state, account, role)

    def department(self, department_id: str) -> Department | None:
        return read_department(self._state, department_id)

    def council(self) -> Council:
        return read_council(self._state)

    def is_council_member(self, account: AccountId) -> bool:
        return account in read_council(self._state).members


class GovernanceKeeper(GovernanceView):
    """The writer other modules get: governance changes only by its own actions, so the
    writer reads the transaction's state and offers nothing more than the view."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx.state)
