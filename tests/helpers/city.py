"""A small test city with deterministic keys, and a chain that cuts blocks on demand."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from urbis.chain.app import Application
from urbis.chain.block import BlockResult, Receipt, SignedHeader
from urbis.chain.genesis import (
    Genesis,
    GenesisAccount,
    GenesisDepartment,
    GenesisKey,
    GenesisValidator,
)
from urbis.chain.ids import AccountId
from urbis.chain.mempool import Mempool
from urbis.chain.tx import Action, Transaction, TxBody, sign_tx
from urbis.consensus.solo import SoloConfig, SoloDriver
from urbis.crypto.keys import PrivateKey
from urbis.modules import build_application
from urbis.sdk.builder import action
from urbis.state.database import Database

CHAIN_ID = "test-city"
DEPARTMENTS = ("land", "finance", "registry")
COUNCIL = ("mayor", "councillor_a", "councillor_b")


def key(name: str) -> PrivateKey:
    return PrivateKey(hashlib.sha256(b"urbis-test/" + name.encode()).digest())


def account(name: str) -> AccountId:
    return AccountId.from_key(key(name).public_key.raw)


def city_genesis(chain_id: str = CHAIN_ID, extra_accounts: Sequence[str] = ()) -> Genesis:
    names = [*DEPARTMENTS, *COUNCIL, *extra_accounts]
    return Genesis(
        chain_id=chain_id,
        name="Test City",
        time_ms=1_700_000_000_000,
        accounts=tuple(GenesisAccount(n, (GenesisKey(key(n).public_key.raw),)) for n in names),
        departments=tuple(GenesisDepartment(d, d.title(), account(d)) for d in DEPARTMENTS),
        council_members=tuple(account(c) for c in COUNCIL),
        council_threshold=2,
        validators=(GenesisValidator("validator", key("validator").public_key.raw, 10),),
        roles=tuple((f"{d}.notary", account(d)) for d in DEPARTMENTS),
    )


def asset_proposal(code: str = "EUR", issuer: str = "finance") -> dict[str, Any]:
    """The arguments of a council proposal that creates `code` (2 decimals) for `issuer`."""
    create = {
        "module": "payments",
        "name": "create_asset",
        "args": {"code": code, "decimals": 2, "issuer": account(issuer).raw},
    }
    return {"title": code, "action": create}


def role_grant(department: str, role: str, holder: str | None = None) -> Action:
    """The department's admin grants `department.role` to `holder` (by default itself)."""
    return action(
        "governance",
        "grant_role",
        department=department,
        role=role,
        account=account(holder or department),
    )


def billing_grant(department: str = "finance") -> Action:
    """The department's admin gives itself the billing role (to issue invoices)."""
    return role_grant(department, "billing")


def create_eur(
    chain: CityChain, proposer: str = "mayor", approver: str = "councillor_a", code: str = "EUR"
) -> None:
    """The council creates an asset (EUR by default) with finance as its issuer."""
    submitted = chain.run(proposer, action("governance", "submit_proposal", **asset_proposal(code)))
    assert submitted.ok, submitted.message
    (event,) = [e for e in submitted.events if e.type == "governance.proposal_submitted"]
    approved = chain.run(approver, action("governance", "approve_proposal", id=event.attrs["id"]))
    assert approved.ok, approved.message


def doc_hash(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


@dataclass
class CityChain:
    """An app with a solo driver whose blocks the test cuts itself, with a fixed clock."""

    path: Path
    genesis: Genesis = field(default_factory=city_genesis)
    keep_versions: int = 1000

    def __post_init__(self) -> None:
        self.db = Database(self.path / "urbis.db")
        self.app: Application = build_application(self.db, self.keep_versions)
        if self.app.info().height < 0:
            self.app.init_chain(self.genesis)
        self.mempool = Mempool()
        self.clock = self.genesis.time_ms
        self.driver = SoloDriver(
            self.app,
            self.mempool,
            key("validator").signer(),
            SoloConfig(max_block_txs=100_000),
            clock_ms=self._tick,
        )
        self.nonces: dict[str, int] = {}

    def _tick(self) -> int:
        self.clock += 1000
        return self.clock

    @property
    def height(self) -> int:
        return self.app.info().height

    def sign(
        self,
        sender: str,
        actions: Sequence[Action],
        nonce: int | None = None,
        expires_at: int | None = None,
        signers: Sequence[str] | None = None,
        chain_id: str | None = None,
        sender_account: AccountId | None = None,
    ) -> Transaction:
        if nonce is None:
            nonce = self.nonces.get(sender, self.app.next_nonce(account(sender).raw))
            self.nonces[sender] = nonce + 1
        body = TxBody(
            chain_id or self.genesis.chain_id,
            sender_account or account(sender),
            nonce,
            tuple(actions),
            self.height + 100 if expires_at is None else expires_at,
            "",
        )
        return sign_tx(body, [key(s).signer() for s in (signers or [sender])])

    def submit(self, tx: Transaction) -> None:
        self.mempool.add(self.app.check_tx(tx.raw))

    def block(self) -> tuple[SignedHeader, BlockResult]:
        self.nonces.clear()
        return self.driver.produce_block()

    def run(self, sender: str, *actions: Action, signers: Sequence[str] | None = None) -> Receipt:
        """Sign, admit, commit in one block; return the receipt."""
        tx = self.sign(sender, actions, signers=signers)
        self.submit(tx)
        _, result = self.block()
        (receipt,) = [r for r in result.receipts if r.tx_id == tx.id]
        return receipt

    def execute_raw(self, raws: Sequence[bytes]) -> BlockResult:
        """Put raw transactions straight into a block (skipping check_tx), as a proposer might."""
        from urbis.chain.block import BlockHeader, sign_header
        from urbis.chain.context import BlockInfo
        from urbis.crypto.hashing import EMPTY_HASH

        height = self.height + 1
        parent = self.app.blocks.header(height - 1)
        info = BlockInfo(
            self.genesis.chain_id, height, self._tick(), key("validator").public_key.raw
        )
        result = self.app.finalize_block(info, list(raws))
        header = BlockHeader(
            self.genesis.chain_id,
            height,
            info.time_ms,
            EMPTY_HASH if parent is None else parent.header.hash,
            result.txs_root,
            result.results_root,
            result.app_hash,
            info.proposer,
        )
        signed = sign_header(header, key("validator").signer())
        self.app.commit(signed)
        return result

    def run_as_next(self, sender: str, step: Action) -> Receipt:
        """Put one transaction with the sender's next committed nonce straight into a block."""
        tx = self.sign(sender, [step], nonce=self.app.next_nonce(account(sender).raw))
        (receipt,) = self.execute_raw([tx.raw]).receipts
        return receipt

    def query(self, module: str, name: str, **params: str) -> Any:
        return self.app.query(module, name, params)

    def close(self) -> None:
        self.db.close()


@contextmanager
def scratch_chain(make: Callable[[Path], CityChain] = CityChain) -> Iterator[CityChain]:
    """A chain in a folder of its own, closed after: for property tests, whose examples
    cannot share a pytest fixture."""
    with tempfile.TemporaryDirectory() as directory:
        chain = make(Path(directory))
        try:
            yield chain
        finally:
            chain.close()


def anchor(department: str, label: str, doc_type: str = "deed") -> Action:
    return action(
        "documents",
        "anchor",
        department=department,
        hash=doc_hash(label),
        doc_type=doc_type,
        reference=label,
    )


def signed_anchor(
    department: str, label: str, nonce: int, expires_at: int = 100_000
) -> Transaction:
    """A department's anchor of `label`, signed by its admin key with `nonce` (for the API)."""
    body = TxBody(
        CHAIN_ID, account(department), nonce, (anchor(department, label),), expires_at, ""
    )
    return sign_tx(body, [key(department).signer()])


def city_home(path: Path, block_interval_ms: int = 50, api_port: int = 8080) -> Any:
    """A node home holding the test city (keys from `key(name)`), ready for `Node`."""
    from urbis.node.home import Home, NodeConfig

    home = Home(path)
    home.ensure_dirs()
    city_genesis().save(home.genesis_path)
    home.write_validator_key(key("validator"))
    home.save_config(NodeConfig(block_interval_ms=block_interval_ms, api_port=api_port))
    return home


def replay(source: CityChain, target: CityChain) -> None:
    """Execute `source`'s stored blocks on `target`; fail at the first diverging height."""
    from urbis.chain.context import BlockInfo

    for height in range(target.height + 1, source.height + 1):
        signed = source.app.blocks.header(height)
        assert signed is not None, f"block {height} missing"
        raws = [t.raw for t in source.app.blocks.block_txs(height)]
        info = BlockInfo(
            signed.header.chain_id, height, signed.header.time_ms, signed.header.proposer
        )
        result = target.app.finalize_block(info, raws)
        assert result.app_hash == signed.header.app_hash, f"diverged at height {height}"
        assert result.results_root == signed.header.results_root
        target.app.commit(signed)
