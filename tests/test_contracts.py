"""Contracts runtime: council deployment, metering, bridges, and the attacks the issue names."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.city import CityChain, account, city_genesis, create_eur, replay, role_grant
from tests.helpers.contracts import call, deploy, propose_deploy, view
from urbis.chain.ids import AccountId
from urbis.modules.contracts import abi, keys
from urbis.modules.payments.keeper import read_balance
from urbis.sdk.builder import action
from urbis.state.proof import verify_state_proof

VAULT = """
# pragma version 0.4.3
interface Payments:
    def transfer(to: address, asset: String[16], amount: uint256, id: bytes32) -> bool: nonpayable
    def balanceOf(account: address, asset: String[16]) -> uint256: view

interface Hook:
    def on_payment(amount: uint256): nonpayable

PAYMENTS: constant(address) = 0x0000000000000000000000000000000000005001
TRANSFER: constant(Bytes[4]) = method_id("transfer(address,string,uint256,bytes32)")
paid: public(HashMap[address, uint256])
count: public(uint256)

@external
@nonreentrant
def pay_out(to: address, amount: uint256, ref: bytes32, notify: bool):
    extcall Payments(PAYMENTS).transfer(to, "EUR", amount, ref)
    self.paid[to] += amount
    self.count += 1
    if notify:
        extcall Hook(to).on_payment(amount)

@external
def pay_then_fail(to: address, amount: uint256, ref: bytes32):
    extcall Payments(PAYMENTS).transfer(to, "EUR", amount, ref)
    raise "changed my mind"

@external
def try_child(child: address, to: address, amount: uint256, ref: bytes32) -> bool:
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(
        child,
        abi_encode(to, amount, ref, method_id=method_id("pay_then_fail(address,uint256,bytes32)")),
        max_outsize=32,
        revert_on_failure=False,
    )
    self.count += 1
    return ok

@external
def spin(n: uint256) -> uint256:
    acc: uint256 = 0
    for i: uint256 in range(n, bound=1000000000):
        acc += i
    return acc

@external
def poke_bridge(data: Bytes[256]) -> bool:
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(PAYMENTS, data, max_outsize=32, revert_on_failure=False)
    return ok

@external
def steal_via_delegatecall(to: address, amount: uint256, ref: bytes32):
    raw_call(
        PAYMENTS,
        abi_encode(to, "EUR", amount, ref, method_id=TRANSFER),
        is_delegate_call=True,
    )

@external
@view
def balance_of_self() -> uint256:
    return staticcall Payments(PAYMENTS).balanceOf(self, "EUR")

@external
def make_child() -> address:
    return create_minimal_proxy_to(self)
"""

ATTACKER = """
# pragma version 0.4.3
interface Vault:
    def pay_out(to: address, amount: uint256, ref: bytes32, notify: bool): nonpayable

vault: public(address)

@deploy
def __init__(vault: address):
    self.vault = vault

@external
def on_payment(amount: uint256):
    # Re-enter while the first payout is in progress: a second payout with a fresh id.
    extcall Vault(self.vault).pay_out(self, amount, keccak256(b"again"), False)
"""


def ref(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


@pytest.fixture
def city(tmp_path: Path) -> Iterator[CityChain]:
    (tmp_path / "a").mkdir()
    chain = CityChain(tmp_path / "a", genesis=city_genesis(extra_accounts=("alice", "bob")))
    create_eur(chain)
    mint = action("payments", "mint", asset="EUR", recipient=account("alice"), amount_minor=10_000)
    assert chain.run("finance", mint).ok
    yield chain
    chain.close()


@pytest.fixture
def vault(city: CityChain) -> AccountId:
    contract = deploy(city, "vault", VAULT)
    fund = action(
        "payments",
        "transfer",
        id=ref("fund"),
        recipient=contract,
        asset="EUR",
        amount_minor=1_000,
    )
    assert city.run("alice", fund).ok
    return contract


def eur(city: CityChain, who: AccountId) -> int:
    return read_balance(city.app.store, "EUR", who)


def test_deploying_without_council_approval_is_refused(city: CityChain) -> None:
    from urbis.modules.contracts.compiler import VYPER, compile_source

    compiled = compile_source(VYPER, VAULT)
    direct = action(
        "contracts",
        "deploy",
        name="vault",
        compiler=VYPER,
        source=VAULT,
        bytecode_hash=compiled.bytecode_hash,
    )
    receipt = city.run("mayor", direct)
    assert receipt.code == "governance.missing_role" or receipt.code.endswith("missing_role")
    assert city.app.store.get(keys.name("vault")) is None


def test_bytecode_not_matching_the_approved_source_is_not_deployed(city: CityChain) -> None:
    proposal = propose_deploy(city, "vault", VAULT, bytecode_hash=bytes(32))
    receipt = city.run("councillor_a", action("governance", "approve_proposal", id=proposal))
    codes = [e.attrs.get("code") for e in receipt.events]
    assert "contracts.bytecode_mismatch" in codes, receipt.events
    assert city.app.store.get(keys.name("vault")) is None


def test_a_deployed_contract_is_readable_and_versioned(city: CityChain) -> None:
    first = deploy(city, "vault", VAULT)
    second = deploy(city, "vault", VAULT + "\n# v2\n")
    shown = city.query("contracts", "contract", ref="vault")
    assert shown["address"] == second.text
    assert shown["version"] == 2
    assert shown["previous"] == first.text
    assert shown["versions"] == [first.text, second.text]
    assert "pay_out" in shown["source"]
    old = city.query("contracts", "contract", ref=first.text)
    assert old["version"] == 1 and "# v2" not in old["source"]


def test_a_contract_pays_from_its_own_account_and_the_slot_is_provable(
    city: CityChain, vault: AccountId
) -> None:
    receipt = call(city, "bob", vault, "pay_out", account("bob"), 300, ref("p1"), False)
    assert receipt.ok, receipt.message
    assert eur(city, account("bob")) == 300
    assert eur(city, vault) == 700
    assert view(city, vault, "paid", account("bob")) == 300
    # `paid[bob]` lives at keccak(slot || key) in the contract's storage: prove it.
    slot_keys = [
        k
        for k in _storage_keys(city, vault.raw)
        if city.app.store.get(k) == (300).to_bytes(32, "big")
    ]
    assert slot_keys
    proof = city.app.store.prove(slot_keys[0])
    verify_state_proof(proof, city.app.info().app_hash)
    assert proof.value == (300).to_bytes(32, "big")


def _storage_keys(city: CityChain, address: bytes) -> list[bytes]:
    from urbis.modules.contracts.storage import slot_of

    layout = city.query("contracts", "contract", ref="vault")["storage_layout"]
    return [keys.slot(address, slot_of(layout, "paid", [account("bob").raw]))]


def test_out_of_gas_after_a_native_transfer_changes_nothing(
    city: CityChain, vault: AccountId
) -> None:
    # 80k gas pays for the bridged transfer, not for the storage writes after it.
    receipt = call(
        city, "bob", vault, "pay_out", account("bob"), 300, ref("p1"), False, gas_limit=80_000
    )
    assert receipt.code == "contracts.out_of_gas"
    assert eur(city, account("bob")) == 0
    assert eur(city, vault) == 1_000
    assert view(city, vault, "count") == 0
    assert not [e for e in receipt.events if e.type == "payments.transferred"]


def test_an_endless_loop_is_stopped_by_gas(city: CityChain, vault: AccountId) -> None:
    receipt = call(city, "bob", vault, "spin", 10**9, gas_limit=2_000_000)
    assert receipt.code == "contracts.out_of_gas"
    assert receipt.message.startswith("out of gas")


def test_a_reverted_child_call_undoes_its_native_transfer(
    city: CityChain, vault: AccountId
) -> None:
    child = deploy(city, "vault-child", VAULT)
    fund = action(
        "payments", "transfer", id=ref("fund-child"), recipient=child, asset="EUR", amount_minor=500
    )
    assert city.run("alice", fund).ok
    receipt = call(city, "bob", vault, "try_child", child, account("bob"), 200, ref("c1"))
    assert receipt.ok, receipt.message  # the parent caught the child's revert
    assert view(city, vault, "count") == 1  # the parent's own write stays
    assert eur(city, account("bob")) == 0  # the child's transfer went with its revert
    assert eur(city, child) == 500
    assert not [e for e in receipt.events if e.type == "payments.transferred"]


def test_reentrancy_during_a_native_payout_reverts_everything(
    city: CityChain, vault: AccountId
) -> None:
    attacker = deploy(city, "attacker", ATTACKER, [("address", vault)])
    receipt = call(city, "bob", vault, "pay_out", attacker, 100, ref("r1"), True)
    assert receipt.code == "contracts.reverted"
    assert eur(city, attacker) == 0  # not even the first payout
    assert eur(city, vault) == 1_000
    assert view(city, vault, "count") == 0


def test_a_native_failure_fails_the_whole_transaction(city: CityChain, vault: AccountId) -> None:
    receipt = call(city, "bob", vault, "pay_out", account("bob"), 5_000, ref("big"), False)
    assert receipt.code == "payments.insufficient_funds"  # the module's own code
    assert view(city, vault, "count") == 0


def test_malformed_bridge_input_is_refused(city: CityChain, vault: AccountId) -> None:
    selector = abi.selector("transfer(address,string,uint256,bytes32)")
    for data in (b"\x01\x02", b"\xde\xad\xbe\xef" + bytes(64), selector + b"\x00" * 7):
        receipt = call(city, "bob", vault, "poke_bridge", data)
        assert receipt.code == "contracts.bad_native_call", (data, receipt.message)
    assert eur(city, vault) == 1_000


def test_a_contract_cannot_move_its_callers_money(city: CityChain, vault: AccountId) -> None:
    # Through DELEGATECALL the bridge would see alice as the caller: it refuses.
    receipt = call(city, "alice", vault, "steal_via_delegatecall", account("bob"), 100, ref("x"))
    assert not receipt.ok
    assert eur(city, account("alice")) == 9_000
    assert eur(city, account("bob")) == 0


def test_contracts_cannot_create_contracts(city: CityChain, vault: AccountId) -> None:
    receipt = call(city, "bob", vault, "make_child")
    assert receipt.code == "contracts.create_forbidden"


def test_read_only_calls_cannot_write_native_state(city: CityChain, vault: AccountId) -> None:
    from urbis.chain.context import BlockInfo
    from urbis.modules.contracts.module import read_only_call

    data = abi.encode_call(abi_of(city, vault), "pay_out", [account("bob"), 1, ref("v"), False])
    info = BlockInfo(city.genesis.chain_id, city.height, city.clock, b"")
    with pytest.raises(Exception) as refused:
        read_only_call(city.app.store, info, vault, data)
    assert getattr(refused.value, "code", "") == "contracts.static_native_write"
    assert view(city, vault, "balance_of_self") == 1_000


def abi_of(city: CityChain, contract: AccountId) -> abi.Abi:
    from tests.helpers.contracts import contract_abi

    return contract_abi(city, contract)


def test_unknown_contract(city: CityChain) -> None:
    receipt = city.run(
        "bob", action("contracts", "call", contract=account("alice"), data=b"\x00" * 4)
    )
    assert receipt.code == "contracts.unknown_contract"


def test_the_block_gas_limit_holds(city: CityChain, vault: AccountId) -> None:
    from urbis.modules.contracts.records import GAS_PER_BLOCK_MAX, GAS_PER_TX_MAX

    data = abi.encode_call(abi_of(city, vault), "spin", [10**9])
    per_block = GAS_PER_BLOCK_MAX // GAS_PER_TX_MAX
    for _ in range(per_block + 1):
        spin = action("contracts", "call", contract=vault, data=data, gas_limit=GAS_PER_TX_MAX)
        city.submit(city.sign("bob", [spin]))
    _, result = city.block()
    codes = [r.code for r in result.receipts]
    assert codes[:per_block] == ["contracts.out_of_gas"] * per_block
    assert codes[per_block] == "contracts.block_gas_exhausted"


def test_another_node_replaying_the_blocks_reaches_the_same_app_hash(
    city: CityChain, vault: AccountId, tmp_path: Path
) -> None:
    attacker = deploy(city, "attacker", ATTACKER, [("address", vault)])
    call(city, "bob", vault, "pay_out", account("bob"), 300, ref("p1"), False)
    call(city, "bob", vault, "pay_out", attacker, 100, ref("r1"), True)
    call(city, "bob", vault, "spin", 10**9, gas_limit=100_000)
    call(city, "bob", vault, "pay_out", account("bob"), 5_000, ref("big"), False)
    (tmp_path / "b").mkdir()
    other = CityChain(tmp_path / "b", genesis=city.genesis)
    try:
        replay(city, other)  # asserts app hash and results root at every height
        assert other.app.info().app_hash == city.app.info().app_hash
    finally:
        other.close()


# -- Solidity, for outside vendors ------------------------------------------------------------


def test_a_solidity_contract_deploys_runs_and_proves_a_mapping_slot(city: CityChain) -> None:
    from tests.helpers.contracts import CONTRACTS
    from urbis.modules.contracts.compiler import SOLC
    from urbis.modules.contracts.storage import slot_of

    source = (CONTRACTS / "parking_permits.sol").read_text()
    permits = deploy(city, "parking", source, [("string", "land")], compiler=SOLC)
    assert city.query("contracts", "contract", ref="parking")["compiler"] == SOLC
    grant = role_grant("land", "parking_officer", "bob")
    assert city.run("land", grant).ok
    permit, plate = ref("permit-1"), ref("ZG 1234")
    refused = call(city, "alice", permits, "issue", permit, account("alice"), plate, 30)
    assert refused.code == "contracts.reverted" and "only a parking officer" in refused.message
    issued = call(city, "bob", permits, "issue", permit, account("alice"), plate, 30)
    assert issued.ok, issued.message
    (event,) = [e for e in issued.events if e.type == "contracts.event"]
    assert event.attrs["event"] == "PermitIssued"
    assert event.attrs["args"]["holder"] == account("alice").text
    assert view(city, permits, "isValid", permit, plate) is True
    # Solidity keeps permits[permit] at keccak256(permit . slot); its holder is the first word.
    layout = city.query("contracts", "contract", ref="parking")["storage_layout"]
    key = keys.slot(permits.raw, slot_of(layout, "permits", [permit]))
    proof = city.app.store.prove(key)
    verify_state_proof(proof, city.app.info().app_hash)
    assert proof.value is not None and proof.value[12:] == account("alice").raw
    assert call(city, "bob", permits, "revoke", permit, "sold the car").ok
    assert view(city, permits, "isValid", permit, plate) is False


def test_a_solidity_deployment_with_another_bytecode_is_refused(city: CityChain) -> None:
    from tests.helpers.contracts import CONTRACTS
    from urbis.modules.contracts.compiler import SOLC

    source = (CONTRACTS / "parking_permits.sol").read_text()
    proposal = propose_deploy(
        city, "parking", source, [("string", "land")], bytecode_hash=bytes(32), compiler=SOLC
    )
    receipt = city.run("councillor_a", action("governance", "approve_proposal", id=proposal))
    assert "contracts.bytecode_mismatch" in [e.attrs.get("code") for e in receipt.events]


def test_a_node_without_the_compiler_stops_instead_of_diverging(
    city: CityChain, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.helpers.contracts import CONTRACTS
    from urbis.modules.contracts import compiler

    source = (CONTRACTS / "parking_permits.sol").read_text()
    proposal = propose_deploy(city, "parking", source, [("string", "land")], compiler=compiler.SOLC)
    monkeypatch.setenv("URBIS_SOLC", str(tmp_path / "nowhere"))
    compiler._compile_solidity.cache_clear()
    height = city.height
    with pytest.raises(compiler.CompilerUnavailable):
        city.run("councillor_a", action("governance", "approve_proposal", id=proposal))
    assert city.height == height  # nothing committed: the node halts at this block


# -- invariants over random call sequences ----------------------------------------------------

contract_ops = st.lists(
    st.one_of(
        st.tuples(st.just("pay_out"), st.sampled_from(["alice", "bob"]), st.integers(0, 1_500)),
        st.tuples(st.just("pay_then_fail"), st.just("bob"), st.integers(1, 500)),
        st.tuples(st.just("try_child"), st.just("bob"), st.integers(1, 500)),
        st.tuples(st.just("spin"), st.just("bob"), st.integers(30_000, 200_000)),
        st.tuples(st.just("fund"), st.just("alice"), st.integers(1, 2_000)),
    ),
    min_size=1,
    max_size=8,
)


@pytest.fixture(scope="module")
def vault_city_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A city with a funded vault and its child, built once and copied for each example."""
    folder = tmp_path_factory.mktemp("vault-template")
    chain = CityChain(folder, genesis=city_genesis(extra_accounts=("alice", "bob")))
    create_eur(chain)
    mint = action("payments", "mint", asset="EUR", recipient=account("alice"), amount_minor=10_000)
    assert chain.run("finance", mint).ok
    vault = deploy(chain, "vault", VAULT)
    child = deploy(chain, "vault-child", VAULT)
    for target, label in ((vault, "v"), (child, "c")):
        fund = action(
            "payments", "transfer", id=ref(label), recipient=target, asset="EUR", amount_minor=1_000
        )
        assert chain.run("alice", fund).ok
    chain.close()
    return folder


@given(ops=contract_ops)
def test_random_contract_calls_keep_the_books_and_failed_calls_change_nothing(
    vault_city_template: Path, tmp_path_factory: pytest.TempPathFactory, ops: list[tuple]
) -> None:
    import shutil

    from hypothesis import event

    from urbis.modules.payments.keeper import check_supply

    folder = tmp_path_factory.mktemp("vault-run")
    shutil.copytree(vault_city_template, folder, dirs_exist_ok=True)  # database and node files
    chain = CityChain(folder, genesis=city_genesis(extra_accounts=("alice", "bob")))
    vault = AccountId.parse(chain.query("contracts", "contract", ref="vault")["address"])
    child = AccountId.parse(chain.query("contracts", "contract", ref="vault-child")["address"])
    successes = 0
    try:
        for step, (op, who, number) in enumerate(ops):
            before = _books(chain)
            if op == "fund":
                act = action(
                    "payments",
                    "transfer",
                    id=ref(f"f{step}"),
                    recipient=vault,
                    asset="EUR",
                    amount_minor=number,
                )
                receipt = chain.run(who, act)
            elif op == "spin":
                receipt = call(chain, who, vault, "spin", 10**9, gas_limit=number)
            elif op == "try_child":
                receipt = call(
                    chain, who, vault, "try_child", child, account(who), number, ref(f"t{step}")
                )
            elif op == "pay_then_fail":
                receipt = call(
                    chain, who, vault, "pay_then_fail", account(who), number, ref(f"x{step}")
                )
            else:
                receipt = call(
                    chain, who, vault, "pay_out", account(who), number, ref(f"p{step}"), False
                )
            event(f"{op}: {receipt.code}")
            if not receipt.ok:
                assert _books(chain) == before, f"{op} failed with {receipt.code} but wrote"
            elif op in ("pay_out", "try_child"):
                successes += 1
            assert check_supply(chain.app.store) == []
        assert view(chain, vault, "count") == successes
        assert read_balance(chain.app.store, "EUR", child) == 1_000  # its payouts always revert
    finally:
        chain.close()


def _books(chain: CityChain) -> list[tuple[bytes, bytes]]:
    """Money and contract storage (what a failed call must leave alone)."""
    rows = chain.app.store.scan_prefix(b"payments/balance/", limit=100_000)
    return rows + chain.app.store.scan_prefix(b"contracts/storage/", limit=100_000)
