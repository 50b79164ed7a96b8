"""The application: a deterministic state machine behind an ABCI-shaped interface.

    info()                       -> chain id, last committed height and app hash
    init_chain(genesis)          -> writes the genesis state as height 0
    check_tx(raw)                -> admit a transaction to the mempool, or raise
    finalize_block(block, txs)   -> execute, return receipts and the new app hash
    commit(signed_header)        -> persist the block and its state atomically
    query(...)                   -> read committed state (with proofs)

It never knows which consensus driver feeds it (solo or CometBFT).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from urbis.chain.block import (
    BlockResult,
    Receipt,
    SignedHeader,
    encode_receipts,
    receipts_root,
    transactions_root,
    undecodable_tx_id,
)
from urbis.chain.blockstore import BlockStore
from urbis.chain.codec import CodecError, from_wire
from urbis.chain.collector import collector_paused
from urbis.chain.context import (
    BlockInfo,
    BlockState,
    Context,
    StateReader,
    TxState,
    register_view,
)
from urbis.chain.errors import (
    BadSignature,
    InsufficientWeight,
    InvalidArgs,
    InvariantBroken,
    MalformedTx,
    MissingRole,
    NodeHalted,
    NonceOutOfWindow,
    NonceUsed,
    TxExpired,
    UnknownAction,
    UnknownSender,
    UnknownSigner,
    UrbisError,
    WrongChain,
)
from urbis.chain.genesis import Genesis
from urbis.chain.ids import COUNCIL, AccountId
from urbis.chain.integrity import check_chain
from urbis.chain.mempool import PENDING_PER_ACCOUNT_MAX
from urbis.chain.module import COUNCIL_ROLE, Module
from urbis.chain.tx import Action, Transaction, decode_tx
from urbis.crypto.keys import verify_stream
from urbis.state.database import Database
from urbis.state.errors import IncompatibleStore
from urbis.state.store import KEEP_VERSIONS_DEFAULT, NODE_CACHE_BYTES_DEFAULT, StateStore

TX_LIFETIME_MAX = 100_000
"""`expires_at` may lie at most this many blocks ahead (about a day at 1 s blocks)."""

NONCE_WINDOW = PENDING_PER_ACCOUNT_MAX
"""check_tx accepts nonces up to this far past the account's next one."""

DECODED_CACHE_MAX = 100_000
"""Decoded transactions kept by their bytes: under CometBFT one transaction is checked,
rechecked, proposed and executed, and decoding it each time was a large share of the work."""

VERIFIED_CACHE_MAX = 200_000
"""Transactions whose signatures check_tx verified; the block then skips re-verifying."""

CHAIN_ID_KEY = b"chain/chain_id"
GENESIS_HASH_KEY = b"chain/genesis_hash"
APP_VERSION_KEY = b"chain/app_version"

APP_VERSION = 3
"""The state machine's version: its stored formats and rules. A node refuses data written
by another version rather than misread it. 3: the voting, data and vehicles modules, HTLCs
that expire by block time, identity's status allocations, CheckTx admission by module,
and the state tree's nodes in segment files beside the database.
2: transfer ids per sender, `_blocks` and `_at_height` field names,
payments.unknown_account (1: everything before)."""


@dataclass(frozen=True, slots=True)
class AccountAuth:
    keys: dict[bytes, int]
    threshold: int
    nonce: int


class Authenticator(Protocol):
    """What the app needs from the accounts module to authenticate a sender."""

    def auth(self, state: StateReader, account: AccountId) -> AccountAuth | None: ...

    def set_nonce(self, state: TxState, account: AccountId, nonce: int) -> None: ...


class RoleChecker(Protocol):
    """What the app needs from the governance module to authorise an action."""

    def has_role(self, state: StateReader, account: AccountId, role: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class AppInfo:
    chain_id: str
    height: int
    app_hash: bytes


@dataclass
class _PendingBlock:
    result: BlockResult
    raw_txs: list[bytes]


class Application:
    def __init__(
        self,
        db: Database,
        modules: Sequence[Module],
        authenticator: Authenticator,
        roles: RoleChecker,
        keep_versions: int = KEEP_VERSIONS_DEFAULT,
        node_cache_bytes: int = NODE_CACHE_BYTES_DEFAULT,
    ) -> None:
        self.db = db
        self.store = StateStore(db, keep_versions, node_cache_bytes)
        self.blocks = BlockStore(db)
        self.modules = {m.name: m for m in modules}
        self.keepers = {m.name: m.keeper for m in modules if m.keeper is not None}
        self.prefixes = {m.name: m.prefix for m in modules}
        unowned = [m.name for m in modules if not m.prefix]
        if unowned:
            raise ValueError(f"modules {unowned} declare no key prefix to write under")
        for module in modules:
            if module.view is not None:
                register_view(module.name, module.view)
        self.authenticator = authenticator
        self.roles = roles
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        self._decoded: dict[bytes, Transaction] = {}
        self._verified_lock = threading.Lock()
        self._pending: _PendingBlock | None = None
        chain_id = self.store.get(CHAIN_ID_KEY)
        self.chain_id = "" if chain_id is None else chain_id.decode()
        if chain_id is not None:
            stored = self.store.get(APP_VERSION_KEY)
            version = 1 if stored is None else int.from_bytes(stored, "big")
            if version != APP_VERSION:
                raise IncompatibleStore(
                    f"the data in {db.path} was written by app version {version}; this node "
                    f"runs version {APP_VERSION}: found the city again (a fresh data folder "
                    "and genesis) or run the release that wrote it"
                )
        db.check_no_strangers()
        check_chain(self.store, self.blocks, self.chain_id)
        self.halted: str | None = None
        """Why this app stopped executing blocks (a fault inside a block or its commit)."""

    # -- ABCI-shaped interface -----------------------------------------------------

    def info(self) -> AppInfo:
        return AppInfo(self.chain_id, self.store.version, self.store.root)

    def init_chain(self, genesis: Genesis) -> bytes:
        """Write genesis as height 0; return the app hash. Refuses a second genesis."""
        if self.store.version >= 0:
            raise RuntimeError("chain already initialised")
        block = BlockInfo(genesis.chain_id, 0, genesis.time_ms, b"")
        block_state = BlockState(self.store)
        ctx = self._context(block, TxState(block_state, max_writes=None))
        ctx.state.put(CHAIN_ID_KEY, genesis.chain_id.encode())
        ctx.state.put(GENESIS_HASH_KEY, genesis.hash)
        ctx.state.put(APP_VERSION_KEY, APP_VERSION.to_bytes(2, "big"))
        for module in self.modules.values():
            if module.init_genesis is not None:
                module.init_genesis(ctx.owned_by(module.name), genesis)
        ctx.state.merge()
        root = self.store.commit(block_state.writes, 0)
        self.chain_id = genesis.chain_id
        return root

    def decode(self, raw: bytes) -> Transaction:
        """decode_tx, remembered: the result depends on the bytes alone."""
        tx = self._decoded.get(raw)
        if tx is None:
            tx = decode_tx(raw)
            if len(self._decoded) >= DECODED_CACHE_MAX:
                self._decoded.clear()
            self._decoded[raw] = tx
        return tx

    # -- halting ---------------------------------------------------------------------

    def halt(self, reason: str) -> None:
        """Stop for good (a fault found outside a block, e.g. a damaged value read by the
        API); the first reason is kept."""
        if self.halted is None:
            self.halted = reason

    def _refuse_if_halted(self) -> None:
        if self.halted is not None:
            raise NodeHalted(
                f"block production stopped: {self.halted}; the operator must look at the log",
                reason=self.halted,
            )

    @contextmanager
    def _halting_on_fault(self) -> Iterator[None]:
        """Anything but an expected rejection stops this app for good: a fault inside a
        block or its commit (a bug, a full disk, a damaged store) leaves no state the
        next block could safely build on, and a node that kept admitting transactions
        would only be promising what it can no longer do."""
        self._refuse_if_halted()
        try:
            yield
        except UrbisError:
            raise
        except BaseException as error:
            self._halt_on(error)
            raise

    def _halt_on(self, error: BaseException) -> None:
        self.halt(f"{type(error).__name__}: {error}" if str(error) else repr(error))

    def recheck_tx(self, raw: bytes) -> Transaction:
        """After a block: can a transaction already admitted still be included?

        Its bytes, signatures and sender were proven at admission; only the
        expiry and the nonce can have changed since.
        """
        with self._halting_on_fault():
            return self._recheck_tx(raw)

    def _recheck_tx(self, raw: bytes) -> Transaction:
        tx = self.decode(raw)
        if tx.body.expires_at <= self.store.version:
            raise TxExpired(f"transaction expired at height {tx.body.expires_at}")
        auth = self.authenticator.auth(self.store, tx.body.sender)
        if auth is None:
            raise UnknownSender(f"account {tx.body.sender} does not exist")
        if tx.body.nonce < auth.nonce:
            raise NonceUsed(f"nonce {tx.body.nonce} already used; next is {auth.nonce}")
        return tx

    def check_tx(self, raw: bytes) -> Transaction:
        """Stateless checks, signatures, sender and nonce window against committed state."""
        # _halting_on_fault spelled out: a generator-based context manager cost a few
        # microseconds of every CheckTx, and each node checks every transaction.
        self._refuse_if_halted()
        try:
            return self._check_tx(raw)
        except UrbisError:
            raise
        except BaseException as error:
            self._halt_on(error)
            raise

    def _check_tx(self, raw: bytes) -> Transaction:
        tx = self.decode(raw)
        # A burst's signatures were proven ahead (prove_signatures): a lookup, not the
        # batch path's bookkeeping. A membership test needs no lock.
        signatures_ok = tx.raw in self._verified or self._signatures_valid([tx])[0]
        self.authenticate(self.store, tx, self.store.version + 1, signatures_ok, nonce_in_window)
        self._admit(tx)
        return tx

    def _admit(self, tx: Transaction) -> None:
        """Each module's `admit` for its actions in `tx` (most modules have none)."""
        for action in tx.body.actions:
            module = self.modules.get(action.module)
            if module is None or module.admit is None:
                continue
            spec = module.actions.get(action.name)
            if spec is None:
                raise UnknownAction(f"no action {action.module}.{action.name}")
            try:
                args: Any = from_wire(spec.args, action.args)
            except CodecError as error:
                raise InvalidArgs(f"{action.module}.{action.name}: {error}") from None
            module.admit(self.store, self.store.version + 1, action.name, args)

    def check_txs(self, raws: Sequence[bytes]) -> list[Transaction | UrbisError]:
        """check_tx for many, verifying all their signatures in one parallel pass first."""
        self._refuse_if_halted()
        decoded = self._decode_all(raws)
        self._signatures_valid([t for t in decoded if isinstance(t, Transaction)])
        results: list[Transaction | UrbisError] = []
        for raw, item in zip(raws, decoded, strict=True):
            if isinstance(item, UrbisError):
                results.append(item)
                continue
            try:
                results.append(self.check_tx(raw))
            except UrbisError as error:
                results.append(error)
        return results

    def proposal_problems(self, raws: Sequence[bytes], height: int) -> list[UrbisError | None]:
        """Why each transaction may not be in a block at `height` (None: it may).

        Deterministic from committed state and the bytes alone, so every
        validator's ProcessProposal agrees. Only envelope faults count (bad
        encoding, chain, expiry, signatures, sender, nonce order): an action
        that fails is still a valid transaction with a failed receipt.
        """
        decoded = self._decode_all(raws)
        valid = self._signature_checks([t for t in decoded if isinstance(t, Transaction)])
        expected: dict[bytes, int] = {}
        problems: list[UrbisError | None] = []
        for item in decoded:
            if isinstance(item, UrbisError):
                problems.append(item)
                continue
            try:
                sender = item.body.sender.raw

                def in_sequence(given: int, committed_next: int, sender: bytes = sender) -> None:
                    nonce_exact(given, expected.get(sender, committed_next))

                self.authenticate(self.store, item, height, next(valid), in_sequence)
                expected[sender] = item.body.nonce + 1
                problems.append(None)
            except UrbisError as error:
                problems.append(error)
        return problems

    def finalize_block(self, block: BlockInfo, raw_txs: Sequence[bytes]) -> BlockResult:
        """Execute a block's transactions in order; nothing is persisted until commit."""
        with self._halting_on_fault(), collector_paused():
            return self._finalize_block(block, raw_txs)

    def _finalize_block(self, block: BlockInfo, raw_txs: Sequence[bytes]) -> BlockResult:
        if block.height != self.store.version + 1:
            raise InvariantBroken(f"block {block.height} after {self.store.version}")
        decoded = self._decode_all(raw_txs)
        valid = self._signature_checks([t for t in decoded if isinstance(t, Transaction)])
        block_state = BlockState(self.store)
        receipts: list[Receipt] = []
        tx_ids: list[bytes] = []
        for index, (raw, item) in enumerate(zip(raw_txs, decoded, strict=True)):
            if isinstance(item, UrbisError):
                tx_id = undecodable_tx_id(raw)
                receipts.append(_failed(tx_id, block.height, index, item, b""))
            else:
                tx_id = item.id
                receipts.append(
                    self._execute_tx(block_state, block, item, tx_id, index, next(valid))
                )
            tx_ids.append(tx_id)
        block_events = self._end_block(block_state, block)
        validator_updates = [
            update
            for module in self.modules.values()
            if module.validator_updates is not None
            for update in module.validator_updates(self.store, block_state)
        ]
        app_hash = self.store.stage(block_state.writes, block.height)
        receipt_bytes = encode_receipts(receipts)
        result = BlockResult(
            height=block.height,
            time_ms=block.time_ms,
            receipts=receipts,
            app_hash=app_hash,
            txs_root=transactions_root(tx_ids),
            results_root=receipts_root(receipt_bytes),
            receipt_bytes=receipt_bytes,
            block_events=block_events,
            validator_updates=validator_updates,
        )
        self._pending = _PendingBlock(result, list(raw_txs))
        return result

    def commit(self, signed: SignedHeader) -> None:
        """Persist the finalized block, its receipts and its state in one transaction."""
        with self._halting_on_fault(), collector_paused():
            self._commit(signed)

    def _commit(self, signed: SignedHeader) -> None:
        pending = self._pending
        if pending is None or signed.header.height != pending.result.height:
            raise InvariantBroken("commit without a matching finalized block")
        if signed.header.app_hash != pending.result.app_hash:
            raise InvariantBroken("header app hash differs from the executed state")
        # One hold of the lock from the SQL commit to the promotion: a reader between the
        # two would see the new rows checked against the old tree, and call it damage.
        with self.db.lock:
            # The state's node records are appended and synced on a thread from here
            # on, while the block's rows are written.
            with self.store.indexing_staged(), self.db.transaction() as conn:
                self.blocks.write(
                    conn,
                    signed,
                    pending.raw_txs,
                    pending.result.receipts,
                    pending.result.receipt_bytes,
                )
                self.store.write_staged(conn)
            self.blocks.promote_written()
            self.store.promote_staged()
        self._pending = None

    def abandon_block(self) -> None:
        """Forget a finalized block that will not be committed (a failed proposal)."""
        self.store.discard_staged()
        self._pending = None

    def query(self, module: str, name: str, params: dict[str, str]) -> Any:
        spec = self.modules.get(module)
        if spec is None or name not in spec.queries:
            raise UnknownAction(f"no query {module}.{name}")
        return spec.queries[name](self.store, params)

    def next_nonce(self, sender: bytes) -> int:
        auth = self.authenticator.auth(self.store, AccountId(sender))
        return 0 if auth is None else auth.nonce

    def still_valid(self, tx: Transaction) -> bool:
        """Whether a pending transaction could still be included (for mempool pruning)."""
        return tx.body.expires_at > self.store.version and tx.body.nonce >= self.next_nonce(
            tx.body.sender.raw
        )

    # -- execution -----------------------------------------------------------------

    def _execute_tx(
        self,
        block_state: BlockState,
        block: BlockInfo,
        tx: Transaction,
        tx_id: bytes,
        index: int,
        sig_ok: bool,
    ) -> Receipt:
        sender = tx.body.sender
        try:
            auth = self.authenticate(block_state, tx, block.height, sig_ok, nonce_exact)
        except UrbisError as error:
            # Not authenticated: the receipt names no sender, so nobody can fill another
            # account's history with transactions it never signed.
            return _failed(tx_id, block.height, index, error, b"")
        nonce_state = TxState(block_state)
        self.authenticator.set_nonce(nonce_state, sender, auth.nonce + 1)
        nonce_state.merge()
        ctx = self._context(block, TxState(block_state), tx_id, sender)
        try:
            for action in tx.body.actions:
                self._dispatch(ctx, sender, action)
        except UrbisError as error:
            return _failed(tx_id, block.height, index, error, sender.raw)
        ctx.state.merge()
        return Receipt(tx_id, block.height, index, "ok", "", tuple(ctx.events), sender.raw)

    def _dispatch(
        self, ctx: Context, sender: AccountId, action: Action, execute: bool = True
    ) -> None:
        module = self.modules.get(action.module)
        spec = None if module is None else module.actions.get(action.name)
        if spec is None:
            raise UnknownAction(f"no action {action.module}.{action.name}")
        try:
            args: Any = from_wire(spec.args, action.args)
        except CodecError as error:
            raise InvalidArgs(f"{action.module}.{action.name}: {error}") from None
        if not execute:
            return
        role = spec.required_role(args)
        if role == COUNCIL_ROLE and sender != COUNCIL:
            raise MissingRole(
                f"{action.module}.{action.name} runs only through an approved council proposal"
            )
        if (
            role is not None
            and sender != COUNCIL
            and not self.roles.has_role(ctx.state, sender, role)
        ):
            raise MissingRole(f"{sender} lacks role {role}", role=role)
        spec.handler(ctx.owned_by(action.module), sender, args)

    def _end_block(self, block_state: BlockState, block: BlockInfo) -> list[Any]:
        events = []
        for module in self.modules.values():
            if module.end_block is None:
                continue
            ctx = self._context(block, TxState(block_state))
            try:
                module.end_block(ctx.owned_by(module.name))
            except UrbisError as error:
                raise InvariantBroken(f"{module.name}.end_block failed: {error}") from error
            ctx.state.merge()
            events.extend(ctx.events)
        return events

    def _context(
        self, block: BlockInfo, state: TxState, tx_id: bytes = b"", sender: AccountId | None = None
    ) -> Context:
        return Context(block, state, self.keepers, self._dispatch, tx_id, sender, self.prefixes)

    # -- authentication ------------------------------------------------------------

    def authenticate(
        self,
        state: StateReader,
        tx: Transaction,
        height: int,
        signatures_ok: bool,
        nonce_rule: NonceRule,
    ) -> AccountAuth:
        """The one admission check, in the order the chain README lists: envelope (chain,
        expiry), signatures, sender and signer weights, then the nonce by `nonce_rule`.

        check_tx admits a window of future nonces, a proposal needs each sender's nonces
        in sequence, execution needs exactly the next one: only the rule differs.
        """
        self._check_envelope(tx, height)
        if not signatures_ok:
            raise BadSignature("a signature does not verify over this transaction")
        auth = self._sender_auth(state, tx)
        nonce_rule(tx.body.nonce, auth.nonce)
        return auth

    def _check_envelope(self, tx: Transaction, height: int) -> None:
        if tx.body.chain_id != self.chain_id:
            raise WrongChain(
                f"transaction is for chain {tx.body.chain_id!r}; this is {self.chain_id!r}"
            )
        if tx.body.expires_at < height:
            raise TxExpired(f"transaction expired at height {tx.body.expires_at}; now {height}")
        if tx.body.expires_at > height + TX_LIFETIME_MAX:
            raise MalformedTx(f"expires_at may be at most {TX_LIFETIME_MAX} blocks ahead")

    def _sender_auth(self, state: StateReader, tx: Transaction) -> AccountAuth:
        auth = self.authenticator.auth(state, tx.body.sender)
        if auth is None:
            raise UnknownSender(f"account {tx.body.sender} does not exist")
        weight = 0
        for signature in tx.signatures:
            key_weight = auth.keys.get(signature.key)
            if key_weight is None:
                raise UnknownSigner(
                    f"key {signature.key.hex()[:16]}… is not a key of {tx.body.sender}"
                )
            weight += key_weight
        if weight < auth.threshold:
            raise InsufficientWeight(
                f"signatures carry weight {weight}; {tx.body.sender} needs {auth.threshold}",
                weight=weight,
                threshold=auth.threshold,
            )
        return auth

    def _decode_all(self, raws: Sequence[bytes]) -> list[Transaction | UrbisError]:
        decoded: list[Transaction | UrbisError] = []
        for raw in raws:
            try:
                decoded.append(self.decode(raw))
            except UrbisError as error:
                decoded.append(error)
        return decoded

    def prove_signatures(self, raws: Sequence[bytes]) -> None:
        """Verify (on all cores) and remember the signatures of transactions about to be
        checked one by one, so each check finds them proven."""
        self._signatures_valid([t for t in self._decode_all(raws) if isinstance(t, Transaction)])

    def _signatures_valid(self, txs: Sequence[Transaction]) -> list[bool]:
        return list(self._signature_checks(txs))

    def _signature_checks(self, txs: Sequence[Transaction]) -> Iterator[bool]:
        """Each transaction's signatures all valid? Checked on all cores while the caller
        consumes results in order; those check_tx already verified are not redone."""
        with self._verified_lock:
            needed = [tx.raw not in self._verified for tx in txs]
        triples = [
            (s.key, tx.signed_message(), s.sig)
            for tx, need in zip(txs, needed, strict=True)
            if need
            for s in tx.signatures
        ]
        results = verify_stream(triples)
        for tx, need in zip(txs, needed, strict=True):
            if not need:
                yield True
                continue
            valid = all([next(results) for _ in tx.signatures])
            # Remembered before it is yielded, never in a `finally`: a consumer may stop
            # early (a failing block), and the collector may then finish this generator
            # inside another batch's hold of the lock, which is not reentrant.
            if valid:
                with self._verified_lock:
                    self._verified[tx.raw] = None
                    if len(self._verified) > VERIFIED_CACHE_MAX:
                        self._verified.popitem(last=False)
            yield valid


NonceRule = Callable[[int, int], None]
"""(the transaction's nonce, the sender's next committed nonce) -> raise if not admissible."""


def nonce_exact(given: int, next_nonce: int) -> None:
    """Execution: exactly the sender's next nonce."""
    if given < next_nonce:
        raise NonceUsed(f"nonce {given} already used; next is {next_nonce}", next=next_nonce)
    if given > next_nonce:
        raise NonceOutOfWindow(f"nonce {given} is ahead; next is {next_nonce}", next=next_nonce)


def nonce_in_window(given: int, next_nonce: int) -> None:
    """Admission: the next nonce or up to NONCE_WINDOW past it (the mempool orders them)."""
    if given < next_nonce:
        raise NonceUsed(f"nonce {given} already used; next is {next_nonce}", next=next_nonce)
    if given >= next_nonce + NONCE_WINDOW:
        raise NonceOutOfWindow(
            f"nonce {given} is more than {NONCE_WINDOW} ahead of the next ({next_nonce})",
            next=next_nonce,
        )


def _failed(tx_id: bytes, height: int, index: int, error: UrbisError, sender: bytes) -> Receipt:
    return Receipt(tx_id, height, index, error.code, error.message, (), sender)
