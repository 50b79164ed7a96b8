"""Accounts errors and their stable codes."""

from urbis.chain.errors import error_class

AlreadyExists = error_class("accounts.already_exists", "Account already exists", 409)
InvalidKeys = error_class("accounts.invalid_keys", "Invalid key set", 422)
KeyExists = error_class("accounts.key_exists", "Key already on the account", 409)
KeyNotFound = error_class("accounts.key_not_found", "Key not on the account", 404)
ThresholdUnreachable = error_class(
    "accounts.threshold_unreachable", "Threshold above the keys' total weight", 422
)
TooManyKeys = error_class("accounts.too_many_keys", "Too many keys", 422)
NoGuardians = error_class("accounts.no_guardians", "No guardians", 404)
NotGuardian = error_class("accounts.not_guardian", "Not a guardian", 403)
RecoveryExists = error_class("accounts.recovery_exists", "Recovery already under way", 409)
NoRecovery = error_class("accounts.no_recovery", "No recovery under way", 404)
RecoveryNotReady = error_class("accounts.recovery_not_ready", "Recovery not ready", 409, True)
AlreadyApproved = error_class("accounts.already_approved", "Already approved", 409)
UnknownAccount = error_class("accounts.unknown_account", "Unknown account", 404)
