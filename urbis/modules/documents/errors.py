"""Documents errors and their stable codes."""

from urbis.chain.errors import error_class

AlreadyAnchored = error_class("documents.already_anchored", "Already anchored", 409)
NotFound = error_class("documents.not_found", "Document not found", 404)
WrongDepartment = error_class("documents.wrong_department", "Anchored by another department", 403)
AlreadyRevoked = error_class("documents.already_revoked", "Already revoked", 409)
NotCurrent = error_class("documents.not_current", "Document is revoked or superseded", 409)
