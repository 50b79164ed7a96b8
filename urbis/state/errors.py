"""What the store raises when it cannot stand behind what it holds."""

from __future__ import annotations

RECOVERY = (
    "stop the node and restore its data folder from a backup; under CometBFT, move the "
    "data folder aside and let the node rebuild from its peers (block replay or state sync)"
)
"""What an operator can do about a damaged store: the node itself must not guess."""


class InvariantBroken(AssertionError):
    """Our bug, or damage, found by whatever layer: state would be wrong, so the node
    halts rather than commit it (chain.errors re-exports this one class)."""


class StoreCorrupt(InvariantBroken):
    """Bytes on disk no longer match what the tree or the block chain commits to.

    Not an UrbisError on purpose: inside a block it must halt the node, never become
    a failed receipt that lets the block (and a wrong state) go on.
    """

    code = "store.corrupt"
    title = "Store corrupt"
    http_status = 500

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}; {RECOVERY}")
        self.what = what
        self.message = str(self)


class IncompatibleStore(Exception):
    """The data folder was written by another version of the state machine."""

    code = "store.incompatible"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownHeight(LookupError):
    """The height is in the future or older than the proofs kept."""
