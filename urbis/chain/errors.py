"""Errors with stable codes, the way the API, CLI and receipts report them.

Codes only grow: a retired code stays listed here and is never reused.
`retry_may_succeed` tells a client whether sending the same transaction again
later could pass (it depends on state) or never will (the transaction is wrong).
"""

from __future__ import annotations

from typing import Any, ClassVar

from urbis.state.errors import InvariantBroken as _InvariantBroken

ERRORS: dict[str, type[UrbisError]] = {}
"""Every error class by code, so a code coming back over the wire maps to its class."""


class UrbisError(Exception):
    """An expected failure: a bad request, a rule not met. The node keeps going."""

    code: ClassVar[str] = "urbis.error"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        ERRORS.setdefault(cls.code, cls)

    title: ClassVar[str] = "Request failed"
    http_status: ClassVar[int] = 400
    retry_may_succeed: ClassVar[bool] = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **jsonable(self.details)}


# One class for "our bug, or damage: halt rather than commit", whichever layer finds it.
InvariantBroken = _InvariantBroken


def jsonable(value: Any) -> Any:
    """JSON-ready form: bytes as hex, account ids as `urbis1…` text."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "text"):
        return value.text
    return value


def error_class(code: str, title: str, status: int = 400, retry: bool = False) -> type[UrbisError]:
    """Declare an error class in one line where a subclass would only hold constants."""
    name = "".join(part.title() for part in code.replace(".", "_").split("_"))
    cls = type(
        name,
        (UrbisError,),
        {"code": code, "title": title, "http_status": status, "retry_may_succeed": retry},
    )
    ERRORS[code] = cls
    return cls


def error_for(code: str, message: str) -> UrbisError:
    """The error a code names (as reported by another process), or a generic one."""
    return ERRORS.get(code, UrbisError)(message)


# -- transaction envelope and admission (checked in this order) -------------------
MalformedTx = error_class("tx.malformed", "Malformed transaction")
TxTooLarge = error_class("tx.too_large", "Transaction too large", 413)
WrongChain = error_class("tx.wrong_chain", "Wrong chain id")
TxExpired = error_class("tx.expired", "Transaction expired")
UnknownSender = error_class("tx.unknown_sender", "Unknown sender account", 404, retry=True)
BadSignature = error_class("tx.bad_signature", "Bad signature", 401)
UnknownSigner = error_class("tx.unknown_signer", "Signer is not a key of the sender", 401)
InsufficientWeight = error_class("tx.insufficient_weight", "Signatures below threshold", 401)
NonceUsed = error_class("tx.nonce_used", "Nonce already used", 409)
NonceOutOfWindow = error_class("tx.nonce_out_of_window", "Nonce too far ahead", 409, retry=True)

REFUSED_BEFORE_SIGNATURES = frozenset(
    e.code for e in (MalformedTx, WrongChain, TxExpired, BadSignature)
)
"""Codes a receipt gets before (or for) its signatures being checked, in the order
`Application.authenticate` checks them: such a stored transaction may carry signatures
that do not verify; every other one's signatures did."""
DuplicateTx = error_class("tx.duplicate", "Transaction already pending", 409)
UnknownAction = error_class("tx.unknown_action", "Unknown module or action")
InvalidArgs = error_class("tx.invalid_args", "Arguments do not fit the action", 422)
MissingRole = error_class("auth.missing_role", "Missing role", 403)
TooManyWrites = error_class("tx.too_many_writes", "Too many state writes", 422)
MempoolFull = error_class("mempool.full", "Mempool full", 503, retry=True)
AccountRateLimited = error_class(
    "mempool.account_rate_limited", "Too many pending transactions for this account", 429, True
)
NodeHalted = error_class("node.halted", "Node halted", 503, retry=True)
NotFound = error_class("query.not_found", "Not found", 404)
BadQuery = error_class("query.bad_request", "Bad query", 400)
