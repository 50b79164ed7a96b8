"""Every state key the governance module writes."""

from urbis.chain.ids import AccountId
from urbis.chain.keyparts import fixed_width

PREFIX = b"governance/"
CITY = b"governance/city"
COUNCIL = b"governance/council"
VALIDATORS = b"governance/validators"
PROPOSAL_SEQUENCE = b"governance/proposal_sequence"
DEPARTMENT_PREFIX = b"governance/department/"
PROPOSAL_PREFIX = b"governance/proposal/"


def department(department_id: str) -> bytes:
    return DEPARTMENT_PREFIX + department_id.encode()


def role(role_name: str, account: AccountId) -> bytes:
    return b"governance/role/" + role_name.encode() + b"/" + account.raw


def role_prefix(role_name: str) -> bytes:
    return b"governance/role/" + role_name.encode() + b"/"


def proposal(proposal_id: int) -> bytes:
    return PROPOSAL_PREFIX + fixed_width(proposal_id, 8, "a proposal id")


def expiring(height: int) -> bytes:
    return b"governance/expiring/" + fixed_width(height, 8, "a height")
