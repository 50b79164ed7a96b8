"""Build and sign transactions without a node: the wire format is all it needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from urbis.chain.codec import to_wire
from urbis.chain.ids import AccountId
from urbis.chain.tx import Action, Transaction, TxBody, sign_tx
from urbis.crypto.keys import PrivateKey, Signer

EXPIRY_BLOCKS_DEFAULT = 1000
"""A transaction not included within ~17 minutes (1 s blocks) is dropped, not left hanging."""


def action(module: str, name: str, /, **args: Any) -> Action:
    """An action with arguments given as Python values (AccountId, bytes, dataclasses...)."""
    wire = to_wire(args)
    assert isinstance(wire, dict)
    return Action(module, name, wire)


class TxBuilder:
    """Collect actions, then sign them as one transaction from `sender`."""

    def __init__(self, chain_id: str, sender: AccountId | None = None) -> None:
        self.chain_id = chain_id
        self.sender = sender
        self.actions: list[Action] = []
        self.memo = ""

    def add(self, module: str, name: str, /, **args: Any) -> TxBuilder:
        self.actions.append(action(module, name, **args))
        return self

    def with_memo(self, memo: str) -> TxBuilder:
        self.memo = memo
        return self

    def sign(
        self,
        keys: Sequence[PrivateKey | Signer],
        nonce: int,
        expires_at: int,
    ) -> Transaction:
        signers = [k.signer() if isinstance(k, PrivateKey) else k for k in keys]
        if not signers:
            raise ValueError("at least one key must sign")
        sender = self.sender or AccountId.from_key(signers[0].public_key.raw)
        if not self.actions:
            raise ValueError("a transaction needs at least one action")
        body = TxBody(self.chain_id, sender, nonce, tuple(self.actions), expires_at, self.memo)
        return sign_tx(body, signers)
