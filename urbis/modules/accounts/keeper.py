"""What other modules and the app may call on accounts: a read-only view, a writer, and
the app's authenticator."""

from __future__ import annotations

from urbis.chain.app import AccountAuth
from urbis.chain.codec import from_wire
from urbis.chain.context import Context, StateReader, TxState
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted, encode_trusted
from urbis.modules.accounts import keys
from urbis.modules.accounts.records import Account


def read_account(state: StateReader, account_id: AccountId) -> Account | None:
    raw = state.get(keys.account(account_id))
    return None if raw is None else from_wire(Account, decode_trusted(raw))


def read_nonce(state: StateReader, account_id: AccountId) -> int:
    raw = state.get(keys.nonce(account_id))
    return 0 if raw is None else int(decode_trusted(raw))


AUTH_CACHE_MAX = 100_000
"""Decoded key sets kept by their record's bytes: busy senders sign many txs per block."""


class AccountsAuthenticator:
    """The app's view of an account: keys, weights, threshold, next nonce."""

    def __init__(self) -> None:
        self._decoded: dict[bytes, tuple[dict[bytes, int], int]] = {}

    def auth(self, state: StateReader, account: AccountId) -> AccountAuth | None:
        raw = state.get(keys.account(account))
        if raw is None:
            return None
        decoded = self._decoded.get(raw)
        if decoded is None:
            # Only keys and threshold matter here: read them from the wire form directly
            # (the record's full decode, with its key history, is a third of a transfer's
            # authentication when every sender is new to the cache).
            wire = decode_trusted(raw)
            decoded = ({k["key"]: k["weight"] for k in wire["keys"]}, wire["threshold"])
            if len(self._decoded) >= AUTH_CACHE_MAX:
                self._decoded.clear()
            self._decoded[raw] = decoded
        return AccountAuth(decoded[0], decoded[1], read_nonce(state, account))

    def set_nonce(self, state: TxState, account: AccountId, nonce: int) -> None:
        state.put(keys.nonce(account), encode_trusted(nonce))


class AccountsView:
    """Read-only: whether an account exists, its keys and key history, its next nonce.

    Identity builds DID documents from this; payments and governance check that an
    account exists before naming it.
    """

    def __init__(self, state: StateReader) -> None:
        self._state = state

    def exists(self, account_id: AccountId) -> bool:
        return self._state.has(keys.account(account_id))

    def account(self, account_id: AccountId) -> Account | None:
        return read_account(self._state, account_id)

    def nonce(self, account_id: AccountId) -> int:
        """The next nonce the account's transaction must carry."""
        return read_nonce(self._state, account_id)


class AccountsKeeper(AccountsView):
    """The writer: the view, plus creating the keyless accounts contracts act as."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx.state)
        self._ctx = ctx

    def create_keyless(self, account_id: AccountId) -> None:
        """An account no key can sign for (a contract's): it acts only through its code.

        Being an account lets it hold roles and money like any department or resident.
        """
        record = Account(
            keys=[], threshold=1, created_at_height=self._ctx.block.height, key_history=[]
        )
        self._ctx.state.put_record(keys.account(account_id), record)
        self._ctx.emit("accounts.created", account=account_id, by=account_id, threshold=1)
