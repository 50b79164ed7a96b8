"""Governance errors and their stable codes."""

from urbis.chain.errors import error_class

UnknownDepartment = error_class("governance.unknown_department", "Unknown department", 404)
DepartmentExists = error_class("governance.department_exists", "Department exists", 409)
InvalidName = error_class("governance.invalid_name", "Invalid name", 422)
UnknownAccount = error_class("governance.unknown_account", "Unknown account", 404)
RoleAlreadyGranted = error_class("governance.role_already_granted", "Role already held", 409)
RoleNotGranted = error_class("governance.role_not_granted", "Role not held", 404)
NotCouncilMember = error_class("governance.not_council_member", "Not a council member", 403)
ProposalNotFound = error_class("governance.proposal_not_found", "Proposal not found", 404)
ProposalClosed = error_class("governance.proposal_closed", "Proposal closed", 409)
ProposalExpired = error_class("governance.proposal_expired", "Proposal expired", 409)
AlreadyApproved = error_class("governance.already_approved", "Already approved", 409)
InvalidCouncil = error_class("governance.invalid_council", "Invalid council", 422)
InvalidValidators = error_class("governance.invalid_validators", "Invalid validator set", 422)
InvalidVotingPeriod = error_class("governance.invalid_voting_period", "Invalid voting period", 422)
