"""Petitions errors and their stable codes."""

from urbis.chain.errors import error_class

PetitionExists = error_class("petitions.exists", "Petition exists", 409)
PetitionNotFound = error_class("petitions.not_found", "Petition not found", 404)
UnknownDepartment = error_class("petitions.unknown_department", "Unknown department", 404)
PetitionClosed = error_class("petitions.closed", "Petition closed", 409)
AlreadySigned = error_class("petitions.already_signed", "Already signed", 409)
