"""Contracts invariants (module docstring, I1-I5) checked after every step of random
sequences of deployments, calls, failing calls, bridge attacks and full blocks; and each
checker shown to catch the breakage it describes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.helpers.city import CityChain, account, city_genesis, create_eur
from tests.helpers.contracts import call, deploy
from tests.test_contracts import VAULT, ref
from urbis.chain.block import Event, Receipt
from urbis.chain.ids import AccountId
from urbis.modules.accounts import keys as accounts_keys
from urbis.modules.contracts import abi, keys
from urbis.modules.contracts.keeper import (
    check_block_gas,
    check_bridge_callers,
    check_deployments,
    check_failed_call,
    check_invariants,
    check_layout,
)
from urbis.modules.contracts.records import GAS_PER_BLOCK_MAX, GAS_PER_TX_MAX
from urbis.sdk.builder import action

EVERYTHING = 1_000_000


def _state(chain: CityChain) -> dict[bytes, bytes]:
    return dict(chain.app.store.scan_prefix(b"", limit=EVERYTHING))


def _contracts_rows(chain: CityChain) -> dict[bytes, bytes]:
    return dict(chain.app.store.scan_prefix(keys.PREFIX, limit=EVERYTHING))


@pytest.fixture(scope="module")
def city_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A city with a funded vault and a funded second vault, built once, copied per example."""
    folder = tmp_path_factory.mktemp("invariants-template")
    chain = CityChain(folder, genesis=city_genesis(extra_accounts=("alice", "bob")))
    create_eur(chain)
    mint = action("payments", "mint", asset="EUR", recipient=account("alice"), amount_minor=10_000)
    assert chain.run("finance", mint).ok
    for name in ("vault", "vault-child"):
        contract = deploy(chain, name, VAULT)
        fund = action(
            "payments",
            "transfer",
            id=ref(name),
            recipient=contract,
            asset="EUR",
            amount_minor=1_000,
        )
        assert chain.run("alice", fund).ok
    chain.close()
    return folder


def _open(template: Path, tmp_path_factory: pytest.TempPathFactory) -> CityChain:
    folder = tmp_path_factory.mktemp("invariants-run")
    shutil.copytree(template, folder, dirs_exist_ok=True)  # database and node files
    return CityChain(folder, genesis=city_genesis(extra_accounts=("alice", "bob")))


steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("pay_out"),
            st.sampled_from(["alice", "bob"]),
            st.tuples(st.sampled_from(["alice", "bob"]), st.integers(0, 1_500)),
        ),
        st.tuples(st.just("pay_then_fail"), st.just("bob"), st.integers(1, 500)),
        st.tuples(st.just("try_child"), st.just("bob"), st.integers(1, 500)),
        st.tuples(st.just("spin"), st.just("bob"), st.integers(30_000, 200_000)),
        st.tuples(st.just("steal"), st.just("alice"), st.integers(1, 500)),
        st.tuples(st.just("make_child"), st.just("bob"), st.just(0)),
        st.tuples(st.just("poke_bridge"), st.just("bob"), st.binary(min_size=0, max_size=40)),
        st.tuples(st.just("full_block"), st.just("bob"), st.integers(5, 9)),
        st.tuples(st.just("redeploy"), st.just("mayor"), st.sampled_from(["vault", "other"])),
        st.tuples(st.just("fund"), st.just("alice"), st.integers(1, 2_000)),
    ),
    min_size=1,
    max_size=8,
)


@given(ops=steps)
def test_random_sequences_keep_every_contracts_invariant(
    city_template: Path, tmp_path_factory: pytest.TempPathFactory, ops: list[tuple]
) -> None:
    chain = _open(city_template, tmp_path_factory)
    vault = AccountId.parse(chain.query("contracts", "contract", ref="vault")["address"])
    child = AccountId.parse(chain.query("contracts", "contract", ref="vault-child")["address"])
    try:
        for step, (op, who, arg) in enumerate(ops):
            before = _state(chain)
            receipts = _run_step(chain, step, op, who, arg, vault, child)
            event(f"{op}: {sorted({r.code for r in receipts})}")
            assert check_invariants(chain.app.store) == [], op  # I1, I3
            if all(not r.ok for r in receipts):  # I2: only the sender's nonce moved
                nonce = accounts_keys.nonce(account(who))
                assert check_failed_call(before, _state(chain), allowed=[nonce]) == [], op
            for receipt in receipts:
                if receipt.ok and op not in ("fund", "redeploy"):  # I4: the calls' movements
                    assert check_bridge_callers(chain.app.store, receipt.events) == [], op
    finally:
        chain.close()


def _run_step(
    chain: CityChain, step: int, op: str, who: str, arg: object, vault: AccountId, child: AccountId
) -> list[Receipt]:
    me = account(who)
    if op == "fund":
        fund = action(
            "payments",
            "transfer",
            id=ref(f"f{step}"),
            recipient=vault,
            asset="EUR",
            amount_minor=arg,
        )
        return [chain.run(who, fund)]
    if op == "redeploy":
        source = VAULT + f"\n# step {step}\n"
        height = chain.height
        deploy(chain, str(arg), source)
        return [r for h in range(height + 1, chain.height + 1) for r in _receipts(chain, h)]
    if op == "full_block":
        return _full_block(chain, vault, int(str(arg)))
    if op == "pay_out":  # to either resident: the vault pays, never its caller
        assert isinstance(arg, tuple)
        recipient, amount = arg
        pay_out = (account(str(recipient)), amount, ref(f"p{step}"), False)
        return [call(chain, who, vault, "pay_out", *pay_out)]
    arguments: dict[str, tuple[object, ...]] = {
        "pay_then_fail": (me, arg, ref(f"x{step}")),
        "try_child": (child, me, arg, ref(f"t{step}")),
        "spin": (10**9,),
        "steal": (account("bob"), arg, ref(f"s{step}")),
        "make_child": (),
        "poke_bridge": (arg,),
    }
    function = "steal_via_delegatecall" if op == "steal" else op
    gas_limit = int(str(arg)) if op == "spin" else 3_000_000
    return [call(chain, who, vault, function, *arguments[op], gas_limit=gas_limit)]


def _receipts(chain: CityChain, height: int) -> list[Receipt]:
    return [stored.receipt for stored in chain.app.blocks.block_txs(height)]


def _full_block(chain: CityChain, vault: AccountId, count: int) -> list[Receipt]:
    """`count` endless loops at the per-call maximum in one block: more than the block holds.
    I5: the calls the block admitted used at most GAS_PER_BLOCK_MAX gas (each burns its limit);
    the end-of-block check would halt the node before committing more."""
    vault_abi = abi_of(chain, vault)
    data = abi.encode_call(vault_abi, "spin", [10**9])
    for _ in range(count):
        spin = action("contracts", "call", contract=vault, data=data, gas_limit=GAS_PER_TX_MAX)
        chain.submit(chain.sign("bob", [spin]))
    _, result = chain.block()
    admitted = [r for r in result.receipts if r.code != "contracts.block_gas_exhausted"]
    assert check_block_gas(len(admitted) * GAS_PER_TX_MAX) == []
    assert len(admitted) == min(count, GAS_PER_BLOCK_MAX // GAS_PER_TX_MAX)
    return list(result.receipts)


def abi_of(chain: CityChain, contract: AccountId) -> abi.Abi:
    from tests.helpers.contracts import contract_abi

    return contract_abi(chain, contract)


# -- each checker catches what it describes ----------------------------------------------------


@pytest.fixture
def rows(city_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[bytes, bytes]:
    chain = _open(city_template, tmp_path_factory)
    try:
        found = _contracts_rows(chain)
    finally:
        chain.close()
    assert check_layout(found) == [] and check_deployments(found) == []
    return found


def _first(rows: dict[bytes, bytes], prefix: bytes) -> bytes:
    return next(key for key in sorted(rows) if key.startswith(prefix))


def test_check_layout_finds_a_stray_key(rows: dict[bytes, bytes]) -> None:
    rows[keys.PREFIX + b"balance/x"] = b"1"
    assert [p[:3] for p in check_layout(rows)] == ["I1:"]


def test_check_layout_finds_code_that_does_not_hash_to_its_key(rows: dict[bytes, bytes]) -> None:
    code_key = _first(rows, keys.code(b""))
    rows[code_key] = rows[code_key] + b"\x00"
    assert any("does not hash" in p for p in check_layout(rows))


def test_check_layout_finds_a_slot_of_no_contract_and_a_zero_slot(
    rows: dict[bytes, bytes],
) -> None:
    rows[keys.slot(bytes(20), bytes(32))] = (1).to_bytes(32, "big")
    rows[_first(rows, keys.slot(b"", b""))] = bytes(32)
    problems = check_layout(rows)
    assert any("belongs to no contract" in p for p in problems)
    assert any("not a non-zero 32-byte word" in p for p in problems)


def test_check_deployments_finds_code_no_deployment_created(rows: dict[bytes, bytes]) -> None:
    account_key = _first(rows, keys.account(b""))
    rows[keys.account(b"\x42" * 20)] = rows[account_key]
    assert any("no deployment created" in p for p in check_deployments(rows))


def test_check_deployments_finds_a_version_missing_from_its_name(rows: dict[bytes, bytes]) -> None:
    del rows[keys.name("vault")]
    assert any("listed under no name" in p for p in check_deployments(rows))


def test_check_failed_call_names_each_changed_key() -> None:
    before = {b"a": b"1", b"n": b"1"}
    after = {b"a": b"2", b"n": b"2", b"c": b"3"}
    assert check_failed_call(before, after, allowed=[b"n"]) == [
        "I2: a failed call changed b'a'",
        "I2: a failed call changed b'c'",
    ]


def test_check_bridge_callers_finds_a_resident_paying_through_a_contract(
    city_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    chain = _open(city_template, tmp_path_factory)
    try:
        vault = chain.query("contracts", "contract", ref="vault")["address"]
        by = {"asset": "EUR", "recipient": account("bob").text, "amount_minor": 1}
        contract_pays = Event("payments.transferred", {**by, "sender": vault})
        resident_pays = Event("payments.transferred", {**by, "sender": account("alice").text})
        assert check_bridge_callers(chain.app.store, [contract_pays]) == []
        assert len(check_bridge_callers(chain.app.store, [resident_pays])) == 1
    finally:
        chain.close()


def test_check_block_gas_at_and_over_the_limit() -> None:
    assert check_block_gas(GAS_PER_BLOCK_MAX) == []
    assert len(check_block_gas(GAS_PER_BLOCK_MAX + 1)) == 1
