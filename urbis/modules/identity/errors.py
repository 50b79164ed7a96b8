"""Identity errors and their stable codes."""

from urbis.chain.errors import error_class

TypeExists = error_class("identity.type_exists", "Credential type exists", 409)
UnknownType = error_class("identity.unknown_type", "Unknown credential type", 404)
AlreadyTrusted = error_class("identity.already_trusted", "Issuer already trusted", 409)
NotTrusted = error_class("identity.not_trusted", "Issuer not trusted for this type", 403)
ListExists = error_class("identity.status_list_exists", "Status list exists", 409)
UnknownList = error_class("identity.unknown_status_list", "Unknown status list", 404)
IndexOutOfRange = error_class("identity.index_out_of_range", "Index outside the list", 422)
InvalidStatus = error_class("identity.invalid_status", "Status does not fit the list", 422)
IndexAllocated = error_class("identity.index_allocated", "Status index already handed out", 409)
UnknownClaim = error_class("identity.unknown_claim", "Claim not in the credential type", 422)
