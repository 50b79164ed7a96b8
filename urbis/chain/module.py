"""What a module declares: its actions (args type, required role, handler),
its queries, its keeper, its genesis and end-of-block hooks.

Roles are templates over the action's arguments: `"{department}.notary"`
needs the sender to hold the notary role of the department the arguments
name. `None` lets any account act; `COUNCIL_ROLE` only an approved proposal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from urbis.chain.context import Context, StateReader
    from urbis.chain.genesis import Genesis
    from urbis.chain.ids import AccountId

COUNCIL_ROLE = "council"
"""Actions with this role run only when a council proposal is approved."""

Handler = Callable[["Context", "AccountId", Any], None]
Query = Callable[["StateReader", dict[str, str]], Any]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    args: type
    handler: Handler
    role: str | None = None
    doc: str = ""

    def required_role(self, args: Any) -> str | None:
        if self.role is None or "{" not in self.role:
            return self.role
        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(args)}
        return self.role.format_map(values)


@dataclass(frozen=True)
class Module:
    name: str
    actions: dict[str, ActionSpec]
    queries: dict[str, Query] = field(default_factory=dict)
    keeper: Callable[[Context], Any] | None = None
    """The writer other modules reach with `ctx.keeper(name, TheirProtocol)`."""
    view: Callable[[StateReader], Any] | None = None
    """The read-only view: `ctx.view(name, TheirProtocol)`, or `view_of(...)` in a query."""
    init_genesis: Callable[[Context, Genesis], None] | None = None
    end_block: Callable[[Context], None] | None = None
    validator_updates: Callable[[StateReader, StateReader], list[tuple[bytes, int]]] | None = None
    """(committed, pending) -> [(ed25519 public key, new power; 0 removes)] for consensus."""
    prefix: bytes = b""
    admit: Callable[[StateReader, int, str, Any], None] | None = None
    """CheckTx's look at an action's content (committed state, next height, action name,
    decoded args): raise the UrbisError that keeps it out of the mempool. Voting verifies
    every ballot proof here; execution checks everything again."""
