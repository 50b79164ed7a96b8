"""The execution context a handler sees: the block, a write cache, events, keepers.

Writes stack in layers: committed state <- the block's writes <- one
transaction's writes. A transaction's layer merges into the block only when
every action succeeded, so a failed transaction changes nothing (but its nonce,
which the app bumps in the block layer before the actions run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from urbis.chain.block import Event
from urbis.chain.codec import PLAIN_TYPES, from_wire, to_wire
from urbis.chain.errors import InvariantBroken, TooManyWrites
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted, encode_trusted

if TYPE_CHECKING:
    from urbis.chain.tx import Action

T = TypeVar("T")

WRITES_PER_TX_MAX = 4096
"""Bounds the work one transaction can make every validator do."""


class StateReader(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def has(self, key: bytes) -> bool:
        """Whether `key` is set: the tree knows, so the value need not be read."""
        ...


@dataclass(frozen=True, slots=True)
class BlockInfo:
    chain_id: str
    height: int
    time_ms: int
    proposer: bytes


class BlockState:
    """The block's pending writes over committed state."""

    __slots__ = ("base", "gas_used", "writes")

    def __init__(self, base: StateReader) -> None:
        self.base = base
        self.writes: dict[bytes, bytes | None] = {}
        self.gas_used = 0
        """EVM gas the block's contract calls used, failed calls included."""

    def get(self, key: bytes) -> bytes | None:
        if key in self.writes:
            return self.writes[key]
        return self.base.get(key)

    def has(self, key: bytes) -> bool:
        if key in self.writes:
            return self.writes[key] is not None
        return self.base.has(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.writes[key] = value


class TxState:
    """One transaction's writes; merged into its parent only on success."""

    __slots__ = ("max_writes", "parent", "writes")

    def __init__(
        self, parent: BlockState | TxState, max_writes: int | None = WRITES_PER_TX_MAX
    ) -> None:
        self.parent = parent
        self.writes: dict[bytes, bytes | None] = {}
        self.max_writes = max_writes
        """None for genesis, which is not a transaction and may found a whole city."""

    def get(self, key: bytes) -> bytes | None:
        if key in self.writes:
            return self.writes[key]
        return self.parent.get(key)

    def has(self, key: bytes) -> bool:
        if key in self.writes:
            return self.writes[key] is not None
        return self.parent.has(key)

    def put(self, key: bytes, value: bytes) -> None:
        if (
            self.max_writes is not None
            and key not in self.writes
            and len(self.writes) >= self.max_writes
        ):
            raise TooManyWrites(f"a transaction may write at most {WRITES_PER_TX_MAX} keys")
        self.writes[key] = value

    def delete(self, key: bytes) -> None:
        self.writes[key] = None

    def get_record(self, key: bytes, cls: type[T]) -> T | None:
        raw = self.get(key)
        return None if raw is None else from_wire(cls, decode_trusted(raw))

    def put_record(self, key: bytes, record: Any) -> None:
        self.put(key, encode_trusted(to_wire(record)))

    def merge(self) -> None:
        self.parent.writes.update(self.writes)

    def absorb(self, writes: dict[bytes, bytes | None]) -> None:
        """Take a nested layer's writes as they are: each was made under the guard of the
        module that made it (contract calls into other modules' actions)."""
        for key, value in writes.items():
            if value is None:
                TxState.delete(self, key)
            else:
                TxState.put(self, key, value)


class OwnedState(TxState):
    """The same layer of writes as `layer`, through which one module may write only under
    its own prefix. A write elsewhere is our bug, not the sender's: InvariantBroken, and
    the node halts rather than commit it."""

    __slots__ = ("owner", "prefix")

    def __init__(self, layer: TxState, owner: str, prefix: bytes) -> None:
        self.parent = layer.parent
        self.writes = layer.writes  # the very same dict: writes land in `layer` at once
        self.max_writes = layer.max_writes
        self.owner = owner
        self.prefix = prefix

    def put(self, key: bytes, value: bytes) -> None:
        self._own(key)
        super().put(key, value)

    def delete(self, key: bytes) -> None:
        self._own(key)
        super().delete(key)

    def _own(self, key: bytes) -> None:
        if not key.startswith(self.prefix):
            raise InvariantBroken(
                f"module {self.owner} wrote {key!r}, outside its prefix {self.prefix!r}"
            )


Dispatcher = Callable[["Context", AccountId, "Action", bool], None]

_views: dict[str, Callable[[StateReader], Any]] = {}
"""Each module's read-only view factory, by module name (registered by the Application).
Views are pure functions of state, so one registry serves every app in the process."""


def register_view(module: str, view: Callable[[StateReader], Any]) -> None:
    _views[module] = view


def view_of(module: str, kind: type[T], state: StateReader) -> T:
    """Module `module`'s read-only view of `state`, typed by the caller's Protocol: how a
    query (which has state, not a Context) reads another module."""
    return cast(T, _views[module](state))


class Context:
    """Everything a handler may touch. Handlers never see the host clock or the store."""

    __slots__ = (
        "_dispatch",
        "_keepers",
        "_prefixes",
        "block",
        "events",
        "sender",
        "state",
        "tx_id",
    )

    def __init__(
        self,
        block: BlockInfo,
        state: TxState,
        keepers: dict[str, Callable[[Context], Any]],
        dispatch: Dispatcher,
        tx_id: bytes = b"",
        sender: AccountId | None = None,
        prefixes: dict[str, bytes] | None = None,
    ) -> None:
        self.block = block
        self.state = state
        self.events: list[Event] = []
        self.tx_id = tx_id
        self.sender = sender
        self._keepers = keepers
        self._dispatch = dispatch
        self._prefixes = prefixes or {}
        """Each module's key prefix: what `owned_by` lets it write."""

    def owned_by(self, module: str) -> Context:
        """This context as module `module` sees it: same block, events and writes, but a
        write outside the module's prefix is refused (InvariantBroken)."""
        owned = Context(
            self.block,
            OwnedState(self.state, module, self._prefixes[module]),
            self._keepers,
            self._dispatch,
            self.tx_id,
            self.sender,
            self._prefixes,
        )
        owned.events = self.events  # one list: what the module emits is the caller's
        return owned

    def emit(self, event_type: str, **attrs: Any) -> None:
        self.events.append(Event(event_type, {k: _event_value(v) for k, v in attrs.items()}))

    def keeper(self, module: str, kind: type[T]) -> T:
        """Another module's writer, typed by the Protocol the caller wrote in its `needs.py`
        (the caller never imports the other module)."""
        return cast(T, self._keepers[module](self.owned_by(module)))

    def view(self, module: str, kind: type[T]) -> T:
        """Another module's read-only view of this transaction's state."""
        return view_of(module, kind, self.state)

    def nested(self, state: TxState | None = None) -> Context:
        """A child context whose writes and events are kept only if `commit_nested` is called.

        `state` lets the caller stack the child on other layers (contract native calls).
        """
        return Context(
            self.block,
            TxState(self.state) if state is None else state,
            self._keepers,
            self._dispatch,
            self.tx_id,
            self.sender,
            self._prefixes,
        )

    def commit_nested(self, child: Context) -> None:
        child.state.merge()
        self.events.extend(child.events)

    def dispatch(self, sender: AccountId, action: Action) -> None:
        """Run another action (a council proposal's) with the same checks as a transaction's."""
        self._dispatch(self, sender, action, True)

    def check_action(self, action: Action) -> None:
        """Raise unless `action` names a known action with arguments that fit it."""
        self._dispatch(self, self.sender or AccountId(bytes(20)), action, False)


def _event_value(value: Any) -> Any:
    if isinstance(value, AccountId):
        return value.text
    return value if type(value) in PLAIN_TYPES else to_wire(value)
