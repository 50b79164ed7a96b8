"""The cross-border corridor against a real Ethereum node (Hardhat Network, a subprocess).

Alice lives in the city: EUR on Urbis, and an Ethereum account. Bob is the partner abroad:
an ERC-20 token on Ethereum, and an Urbis account. Each step runs as the party who would
run it, through urbis.modules.payments.corridor: the Urbis leg over a node's API, the
Ethereum leg through the HashTimeLock contract deployed on the dev node.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.helpers.city import CHAIN_ID, account, asset_proposal, city_genesis, key
from tests.helpers.process import free_port, serving
from urbis.chain.errors import UrbisError
from urbis.cli.main import app
from urbis.modules.payments import corridor
from urbis.modules.payments.corridor import EthereumLeg, LegLock, Terms, UrbisLeg
from urbis.node.home import Home, NodeConfig
from urbis.node.runner import Node
from urbis.sdk.builder import EXPIRY_BLOCKS_DEFAULT, TxBuilder, action
from urbis.sdk.client import Client
from urbis.sdk.keystore import KeyStore

ROOT = Path(__file__).resolve().parents[1]
DEV_KEYS = {
    "deployer": "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "alice": "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "bob": "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
}
"""Hardhat Network's first three funded dev accounts (its documented test mnemonic)."""
EUR_PRICE = 1_000  # 10.00 EUR
TOKEN_PRICE = 7_500_000  # 7.50 of a 6-decimal token
MARGIN_MS = 5_000
"""Seconds, not the hour a real corridor leaves: the dev node and the solo node answer at
once, and the tests must stay short."""
SHORT_MS = 12_000
SHORT_MARGIN_MS = 3_000
"""For the tests that wait the deadlines out: Bob's lock closes about 9 s after Alice's
opens (room for his two transactions on a busy machine), hers 3 s later."""


def hardhat_prefix() -> Path:
    override = os.environ.get("URBIS_HARDHAT")
    if override:
        return Path(override)
    package = json.loads((ROOT / "tools" / "ethereum" / "package.json").read_text())
    version = package["dependencies"]["hardhat"]
    return Path.home() / ".cache" / "urbis" / f"hardhat-{version}"


@contextlib.contextmanager
def hardhat_node(log: Path) -> Iterator[str]:
    """A Hardhat Network node on a free loopback port; yields its JSON-RPC URL."""
    prefix = hardhat_prefix()
    cli = prefix / "node_modules" / "hardhat" / "internal" / "cli" / "cli.js"
    assert cli.exists(), f"no Hardhat at {prefix}: run scripts/install-ethereum"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["node", str(cli), "node", "--hostname", "127.0.0.1", "--port", str(port)],
            cwd=prefix,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"},
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, f"hardhat exited: {log.read_text()[-2000:]}"
                try:
                    answer = httpx.post(url, json=rpc_body("eth_chainId"), timeout=1)
                    if answer.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "hardhat did not answer within 60 s"
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def rpc_body(method: str, *params: object) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}


@dataclass(frozen=True)
class Ethereum:
    rpc: str
    htlc: str
    token: str

    def leg(self, party: str | None = None) -> EthereumLeg:
        return EthereumLeg(self.rpc, self.htlc, DEV_KEYS[party] if party else None)

    def address(self, party: str) -> str:
        return self.leg(party).address

    def call(self, method: str, *params: object) -> object:
        answer = httpx.post(self.rpc, json=rpc_body(method, *params), timeout=10).json()
        assert "error" not in answer, answer
        return answer["result"]


@dataclass(frozen=True)
class Urbis:
    api: str

    def leg(self, party: str | None = None) -> UrbisLeg:
        return UrbisLeg(Client(self.api), key(party) if party else None)

    def send(self, sender: str, *actions: object) -> dict[str, object]:
        node = Client(self.api)
        builder = TxBuilder(CHAIN_ID, account(sender))
        builder.actions.extend(actions)  # type: ignore[arg-type]
        expires_at = node.status()["height"] + EXPIRY_BLOCKS_DEFAULT
        tx = builder.sign([key(sender)], node.next_nonce(account(sender).text), expires_at)
        receipt: dict[str, object] = node.submit(tx, wait=True)["receipt"]
        assert receipt["ok"], receipt
        return receipt


@pytest.fixture(scope="module")
def ethereum(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ethereum]:
    """The dev node with the corridor's contract and a 6-decimal token, Bob and Alice funded."""
    log = tmp_path_factory.mktemp("hardhat") / "node.log"
    # solc compiles (cached for the process) while the node boots: each takes seconds.
    compiling = [
        threading.Thread(target=corridor.artifact, args=(name,))
        for name in ("HashTimeLock", "TestToken")
    ]
    for thread in compiling:
        thread.start()
    with hardhat_node(log) as rpc:
        for thread in compiling:
            thread.join()
        deployer = DEV_KEYS["deployer"]
        htlc = corridor.deploy(rpc, deployer, "HashTimeLock")
        token = corridor.deploy(rpc, deployer, "TestToken", "Partner dollar", "PXD", 6)
        chain = Ethereum(rpc, htlc, token)
        # The dev node's clock starts where its genesis was made; set it to this machine's,
        # which the solo node's block time also follows, so the two chains' clocks agree.
        chain.call("evm_setNextBlockTimestamp", int(time.time()) + 1)
        chain.call("evm_mine")
        minter = chain.leg("deployer")
        for party in ("alice", "bob"):
            mint = minter.token(token).functions.mint(chain.address(party), 100 * TOKEN_PRICE)
            minter._send(mint)
        yield chain


@pytest.fixture(scope="module")
def urbis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Urbis]:
    """A solo node (50 ms blocks) serving its API, EUR issued, Alice and Bob funded."""
    home = Home(tmp_path_factory.mktemp("urbis"))
    home.ensure_dirs()
    city_genesis(extra_accounts=("alice", "bob")).save(home.genesis_path)
    home.write_validator_key(key("validator"))
    home.save_config(NodeConfig(block_interval_ms=50))
    node = Node(home)
    node.start()
    try:
        with serving(node) as api:
            city = Urbis(api)
            submitted = city.send(
                "mayor", action("governance", "submit_proposal", **asset_proposal())
            )
            (event,) = [
                e for e in submitted["events"] if e["type"] == "governance.proposal_submitted"
            ]  # type: ignore[attr-defined]
            city.send(
                "councillor_a",
                action("governance", "approve_proposal", id=int(event["attrs"]["id"])),
            )
            for party in ("alice", "bob"):
                mint = action(
                    "payments",
                    "mint",
                    asset="EUR",
                    recipient=account(party),
                    amount_minor=100 * EUR_PRICE,
                )
                city.send("finance", mint)
            yield city
    finally:
        node.stop()


@dataclass(frozen=True)
class Holdings:
    """What Alice and Bob hold of each asset: EUR on Urbis, the token on Ethereum."""

    alice_eur: int
    bob_eur: int
    alice_token: int
    bob_token: int


def holdings(urbis: Urbis, ethereum: Ethereum) -> Holdings:
    city, foreign = urbis.leg(), ethereum.leg()
    return Holdings(
        city.balance(account("alice"), "EUR"),
        city.balance(account("bob"), "EUR"),
        foreign.balance(ethereum.token, ethereum.address("alice")),
        foreign.balance(ethereum.token, ethereum.address("bob")),
    )


def swapped(before: Holdings) -> Holdings:
    return Holdings(
        before.alice_eur - EUR_PRICE,
        before.bob_eur + EUR_PRICE,
        before.alice_token + TOKEN_PRICE,
        before.bob_token - TOKEN_PRICE,
    )


def locked(before: Holdings, eur: bool, token: bool) -> Holdings:
    """Holdings while Alice's EUR and/or Bob's tokens sit in their locks."""
    return Holdings(
        before.alice_eur - (EUR_PRICE if eur else 0),
        before.bob_eur,
        before.alice_token,
        before.bob_token - (TOKEN_PRICE if token else 0),
    )


def eur_terms(hashlock: bytes) -> Terms:
    return Terms(account("alice").text, account("bob").text, "EUR", EUR_PRICE, hashlock)


def token_terms(ethereum: Ethereum, hashlock: bytes) -> Terms:
    alice, bob = ethereum.address("alice"), ethereum.address("bob")
    return Terms(bob, alice, ethereum.token, TOKEN_PRICE, hashlock)


def alice_starts_on_urbis(urbis: Urbis, timeout_ms: int) -> tuple[bytes, bytes, LegLock]:
    """Alice (the initiator) draws the secret and locks her EUR for Bob first."""
    secret, hashlock = corridor.new_secret()
    swap_id = corridor.new_swap_id()
    lock = urbis.leg("alice").lock(swap_id, account("bob"), "EUR", EUR_PRICE, hashlock, timeout_ms)
    return secret, swap_id, lock


def bob_answers_on_ethereum(
    urbis: Urbis, ethereum: Ethereum, swap_id: bytes, hashlock: bytes, margin_ms: int = MARGIN_MS
) -> LegLock:
    """Bob checks Alice's lock on Urbis, then locks his tokens to close a margin earlier."""
    first = corridor.check_terms(urbis.leg().show(swap_id), eur_terms(hashlock))
    bob = ethereum.leg("bob")
    now = bob.now_ms()
    deadline = corridor.second_deadline_ms(first, now, now + 60_000, margin_ms)
    alice = ethereum.address("alice")
    return bob.lock(swap_id, alice, ethereum.token, TOKEN_PRICE, hashlock, deadline)


def code_of(error: pytest.ExceptionInfo[UrbisError]) -> str:
    return error.value.code


# -- the swap, both ways -----------------------------------------------------------------------


def test_swap_urbis_eur_for_erc20_tokens(urbis: Urbis, ethereum: Ethereum) -> None:
    """Alice starts (her Urbis lock lives longest); the foreign leg closes a margin earlier."""
    before = holdings(urbis, ethereum)
    secret, swap_id, first = alice_starts_on_urbis(urbis, timeout_ms=30_000)
    second = bob_answers_on_ethereum(urbis, ethereum, swap_id, first.hashlock)
    assert second.deadline_ms <= first.deadline_ms - MARGIN_MS
    assert holdings(urbis, ethereum) == locked(before, eur=True, token=True)

    # Alice checks Bob's lock before revealing anything, then claims the tokens.
    alice = ethereum.leg("alice")
    corridor.check_terms(alice.show(swap_id), token_terms(ethereum, first.hashlock))
    corridor.check_second_leg(second, first.deadline_ms, alice.now_ms(), MARGIN_MS)
    assert alice.claim(swap_id, secret).status == "claimed"

    # Bob reads the preimage the claim made public on Ethereum and takes the EUR.
    preimage = corridor.wait_for_preimage(ethereum.leg(), swap_id, timeout_s=10)
    assert preimage == secret
    assert urbis.leg("bob").claim(swap_id, preimage).status == "claimed"
    assert holdings(urbis, ethereum) == swapped(before)


def test_swap_erc20_tokens_for_urbis_eur(urbis: Urbis, ethereum: Ethereum) -> None:
    """Bob starts abroad: his Ethereum lock lives longest, so here the Urbis leg is the
    shorter one (the second leg is always the shorter, whichever chain it is on)."""
    before = holdings(urbis, ethereum)
    secret, hashlock = corridor.new_secret()
    swap_id = corridor.new_swap_id()
    bob_foreign = ethereum.leg("bob")
    alice_address = ethereum.address("alice")
    first = bob_foreign.lock(
        swap_id, alice_address, ethereum.token, TOKEN_PRICE, hashlock, bob_foreign.now_ms() + 30_000
    )

    # Alice checks Bob's tokens are locked for her, then locks her EUR to close earlier.
    corridor.check_terms(ethereum.leg().show(swap_id), token_terms(ethereum, hashlock))
    alice_city = urbis.leg("alice")
    now = alice_city.now_ms()
    deadline = corridor.second_deadline_ms(first, now, now + 60_000, MARGIN_MS)
    second = alice_city.lock(swap_id, account("bob"), "EUR", EUR_PRICE, hashlock, deadline - now)
    # The Urbis deadline counts from the lock's block: later by the wait for that block.
    inclusion_ms = max(0, second.deadline_ms - deadline)
    assert inclusion_ms <= time.time() * 1000 - now
    assert second.deadline_ms <= first.deadline_ms - MARGIN_MS + inclusion_ms
    assert holdings(urbis, ethereum) == locked(before, eur=True, token=True)

    # Bob claims the EUR on Urbis with his secret; Alice reads it there and takes the tokens.
    bob_city = urbis.leg("bob")
    corridor.check_terms(bob_city.show(swap_id), eur_terms(hashlock))
    margin_left_ms = MARGIN_MS - inclusion_ms
    corridor.check_second_leg(second, first.deadline_ms, bob_city.now_ms(), margin_left_ms)
    assert bob_city.claim(swap_id, secret).status == "claimed"
    preimage = corridor.wait_for_preimage(urbis.leg(), swap_id, timeout_s=10)
    assert ethereum.leg("alice").claim(swap_id, preimage).status == "claimed"
    assert holdings(urbis, ethereum) == swapped(before)


# -- refunds: the counterparty never claims ----------------------------------------------------


def wait_past(leg: UrbisLeg | EthereumLeg, deadline_ms: int) -> None:
    """Let the leg's chain clock pass `deadline_ms`. Both clocks follow this machine's, so
    the tests wait out deadlines in real time: moving only the dev node's clock forward
    (evm_increaseTime) would leave the two chains disagreeing for the tests after."""
    while leg.now_ms() <= deadline_ms:
        time.sleep(0.1)


def test_refund_when_the_counterparty_never_claims_and_a_late_claim_is_htlc_expired(
    urbis: Urbis, ethereum: Ethereum
) -> None:
    """Bob locks in answer but Alice never claims in time. Before each deadline its sender
    cannot take the lock back; after it, the recipient cannot claim it even with the right
    secret (payments.htlc_expired on both legs, nothing changed) and the sender takes it
    back: the foreign lock first, and both end where they started. (One test for both, so
    the deadlines are waited out once.)"""
    before = holdings(urbis, ethereum)
    secret, swap_id, first = alice_starts_on_urbis(urbis, timeout_ms=SHORT_MS)
    second = bob_answers_on_ethereum(
        urbis, ethereum, swap_id, first.hashlock, margin_ms=SHORT_MARGIN_MS
    )
    bob_foreign, alice_city = ethereum.leg("bob"), urbis.leg("alice")
    for leg in (bob_foreign, alice_city):
        with pytest.raises(UrbisError) as early:
            leg.refund(swap_id)
        assert code_of(early) == "payments.htlc_not_expired"
    assert holdings(urbis, ethereum) == locked(before, eur=True, token=True)

    wait_past(bob_foreign, second.deadline_ms)
    with pytest.raises(UrbisError) as late:
        ethereum.leg("alice").claim(swap_id, secret)
    assert code_of(late) == "payments.htlc_expired"
    assert ethereum.leg().show(swap_id) == second
    assert holdings(urbis, ethereum) == locked(before, eur=True, token=True)
    assert bob_foreign.refund(swap_id).status == "refunded"
    assert holdings(urbis, ethereum) == locked(before, eur=True, token=False)

    wait_past(alice_city, first.deadline_ms)
    with pytest.raises(UrbisError) as late:
        urbis.leg("bob").claim(swap_id, secret)  # Bob has the secret now: still too late
    assert code_of(late) == "payments.htlc_expired"
    assert urbis.leg().show(swap_id) == first
    assert alice_city.refund(swap_id).status == "refunded"
    assert holdings(urbis, ethereum) == before


# -- bad input: each refused with its code, nothing changed -----------------------------------


def test_wrong_preimage_is_payments_wrong_preimage_on_both_legs(
    urbis: Urbis, ethereum: Ethereum
) -> None:
    before = holdings(urbis, ethereum)
    secret, swap_id, first = alice_starts_on_urbis(urbis, timeout_ms=30_000)
    second = bob_answers_on_ethereum(urbis, ethereum, swap_id, first.hashlock)
    alice, bob = ethereum.leg("alice"), urbis.leg("bob")
    for leg in (alice, bob):
        with pytest.raises(UrbisError) as refused:
            leg.claim(swap_id, secret[:-1] + bytes([secret[-1] ^ 1]))
        assert code_of(refused) == "payments.wrong_preimage"
    assert alice.show(swap_id) == second and bob.show(swap_id) == first
    assert holdings(urbis, ethereum) == locked(before, eur=True, token=True)


def test_claim_by_someone_else_is_payments_not_htlc_party(urbis: Urbis, ethereum: Ethereum) -> None:
    secret, swap_id, first = alice_starts_on_urbis(urbis, timeout_ms=30_000)
    bob_answers_on_ethereum(urbis, ethereum, swap_id, first.hashlock)
    for leg in (ethereum.leg("bob"), urbis.leg("alice")):  # each sender claiming its own lock
        with pytest.raises(UrbisError) as refused:
            leg.claim(swap_id, secret)
        assert code_of(refused) == "payments.not_htlc_party"


# -- neither party can end up with both assets -------------------------------------------------


def test_once_alice_claims_she_cannot_take_her_eur_back(urbis: Urbis, ethereum: Ethereum) -> None:
    """Claiming abroad reveals the secret while the Urbis lock still runs: Alice cannot
    refund it before its later deadline, so Bob always has the margin to claim it."""
    before = holdings(urbis, ethereum)
    secret, swap_id, first = alice_starts_on_urbis(urbis, timeout_ms=30_000)
    bob_answers_on_ethereum(urbis, ethereum, swap_id, first.hashlock)
    ethereum.leg("alice").claim(swap_id, secret)
    with pytest.raises(UrbisError) as refused:
        urbis.leg("alice").refund(swap_id)
    assert code_of(refused) == "payments.htlc_not_expired"
    preimage = corridor.wait_for_preimage(ethereum.leg(), swap_id, timeout_s=10)
    urbis.leg("bob").claim(swap_id, preimage)
    with pytest.raises(UrbisError) as closed:
        urbis.leg("alice").refund(swap_id)
    assert code_of(closed) == "payments.htlc_closed"
    assert holdings(urbis, ethereum) == swapped(before)


def test_a_preimage_urbis_would_refuse_is_refused_abroad_too(
    urbis: Urbis, ethereum: Ethereum
) -> None:
    """A 65-byte secret: Urbis never accepts it as a preimage, so the contract must not
    either, or Alice could take the tokens with it and later refund her EUR."""
    long_secret = bytes(range(65))
    hashlock = hashlib.sha256(long_secret).digest()
    swap_id = corridor.new_swap_id()
    urbis.leg("alice").lock(swap_id, account("bob"), "EUR", EUR_PRICE, hashlock, 30_000)
    bob_answers_on_ethereum(urbis, ethereum, swap_id, hashlock)
    before = holdings(urbis, ethereum)
    with pytest.raises(UrbisError) as refused:
        ethereum.leg("alice").claim(swap_id, long_secret)
    assert code_of(refused) == "payments.wrong_preimage"
    assert holdings(urbis, ethereum) == before


def test_alice_reveals_nothing_when_bob_locks_less(urbis: Urbis, ethereum: Ethereum) -> None:
    _, swap_id, first = alice_starts_on_urbis(urbis, timeout_ms=30_000)
    bob = ethereum.leg("bob")
    deadline = corridor.second_deadline_ms(first, bob.now_ms(), first.deadline_ms, MARGIN_MS)
    alice_address = ethereum.address("alice")
    bob.lock(swap_id, alice_address, ethereum.token, TOKEN_PRICE - 1, first.hashlock, deadline)
    with pytest.raises(UrbisError) as mismatch:
        corridor.check_terms(bob.show(swap_id), token_terms(ethereum, first.hashlock))
    assert code_of(mismatch) == "payments.corridor_mismatch"


def test_bob_does_not_answer_a_lock_that_outlives_his_by_too_little(urbis: Urbis) -> None:
    """The responder's lock must close a margin before the initiator's: a first leg too
    short for that (or timed by height alone, which another chain cannot compare) is
    refused before Bob locks anything."""
    _, _, first = alice_starts_on_urbis(urbis, timeout_ms=MARGIN_MS)
    now = urbis.leg().now_ms()
    with pytest.raises(UrbisError) as unsafe:
        corridor.second_deadline_ms(first, now, now + 60_000, MARGIN_MS)
    assert code_of(unsafe) == "payments.corridor_unsafe_deadline"
    by_height = dataclasses.replace(first, deadline_ms=0)
    with pytest.raises(UrbisError) as unsafe:
        corridor.second_deadline_ms(by_height, now, now + 60_000, MARGIN_MS)
    assert code_of(unsafe) == "payments.corridor_unsafe_deadline"


def test_a_foreign_lock_is_trusted_only_after_its_confirmations(ethereum: Ethereum) -> None:
    """A lock in a block a reorganisation could drop is not acted on: `settled` reads the
    contract as it stood `confirmations` blocks back."""
    _, hashlock = corridor.new_secret()
    swap_id = corridor.new_swap_id()
    bob = ethereum.leg("bob")
    deadline = bob.now_ms() + 60_000
    alice_address = ethereum.address("alice")
    locked = bob.lock(swap_id, alice_address, ethereum.token, TOKEN_PRICE, hashlock, deadline)
    watcher = EthereumLeg(ethereum.rpc, ethereum.htlc, confirmations=2)
    assert watcher.show(swap_id) == locked and watcher.settled(swap_id) is None
    ethereum.call("evm_mine")
    assert watcher.settled(swap_id) is None
    ethereum.call("evm_mine")
    assert watcher.settled(swap_id) == locked


def test_alice_does_not_claim_a_second_leg_that_closes_too_late() -> None:
    second = LegLock("ethereum", b"s" * 32, "0xb", "0xa", "0xt", 1, b"h" * 32, 100_000, "locked")
    with pytest.raises(UrbisError) as unsafe:
        corridor.check_second_leg(second, first_deadline_ms=104_000, now_ms=0, margin_ms=5_000)
    assert code_of(unsafe) == "payments.corridor_unsafe_deadline"
    corridor.check_second_leg(second, first_deadline_ms=105_000, now_ms=0, margin_ms=5_000)
    by_height = dataclasses.replace(second, chain="urbis", deadline_ms=0)
    with pytest.raises(UrbisError) as unsafe:
        corridor.check_second_leg(by_height, first_deadline_ms=105_000, now_ms=0, margin_ms=5_000)
    assert code_of(unsafe) == "payments.corridor_unsafe_deadline"


@given(
    first_ms=st.integers(1, 10**13),
    now_ms=st.integers(0, 10**13),
    wanted_ms=st.integers(0, 10**13),
    margin_ms=st.integers(0, 10**9),
)
def test_second_deadline_always_leaves_the_responder_its_margin(
    first_ms: int, now_ms: int, wanted_ms: int, margin_ms: int
) -> None:
    """Whatever the clocks say: either no second leg, or one that closes at least the
    margin before the first and after now + margin; and the initiator accepts it."""
    first = LegLock("urbis", b"s" * 32, "a", "b", "EUR", 1, b"h" * 32, first_ms, "locked")
    try:
        deadline = corridor.second_deadline_ms(first, now_ms, wanted_ms, margin_ms)
    except UrbisError as error:
        assert error.code == "payments.corridor_unsafe_deadline"
        return
    assert now_ms + margin_ms < deadline <= first_ms - margin_ms
    assert deadline <= wanted_ms
    second = dataclasses.replace(first, chain="ethereum", deadline_ms=deadline)
    corridor.check_second_leg(second, first_ms, now_ms, margin_ms)


# -- the contract's ABI as shipped, and `urbis pay corridor` as a person runs it ---------------


@pytest.mark.parametrize("name", ["HashTimeLock", "TestToken"])
def test_the_shipped_abi_is_what_the_pinned_compiler_gives(name: str) -> None:
    assert corridor.abi(name) == corridor.artifact(name).abi


def cli_home(tmp_path: Path) -> Path:
    """A CLI home with Alice's and Bob's Urbis keys, and their Ethereum keys in files."""
    home = tmp_path / "home"
    keystore = KeyStore(home / "keys")
    for party in ("alice", "bob"):
        keystore.create(party, "", key(party))
        (home / f"{party}.eth").write_text(DEV_KEYS[party])
    return home


def test_cli_swap_urbis_eur_for_erc20_tokens(
    urbis: Urbis, ethereum: Ethereum, tmp_path: Path
) -> None:
    """The same swap through `urbis pay corridor`, each party running its own commands
    (in process: tests/test_pay_cli.py runs `urbis pay` as a real process)."""
    home = cli_home(tmp_path)
    before = holdings(urbis, ethereum)
    env = {"URBIS_HOME": str(home), "URBIS_API": urbis.api, "URBIS_ETH_RPC": ethereum.rpc}
    env["URBIS_CORRIDOR_HTLC"] = ethereum.htlc

    def run(party: str, *args: str) -> Result:
        keyed = [*args, "--eth-key-file", str(home / f"{party}.eth")] if party else list(args)
        return CliRunner().invoke(app, ["pay", "corridor", *keyed], env=env)

    drawn = json.loads(run("", "secret", "--json").stdout)
    swap_id, hashlock = drawn["id"], drawn["hashlock"]
    locked = run(
        "", "lock-urbis", swap_id, "--to", "bob", "--asset", "EUR", "--amount", str(EUR_PRICE),
        "--hashlock", hashlock, "--timeout", "60s", "--from", "alice",
    )  # fmt: skip
    assert locked.exit_code == 0, locked.output
    assert "10.00 EUR" in locked.stdout
    answered = run(
        "bob", "lock-ethereum", swap_id, "--to", ethereum.address("alice"),
        "--token", ethereum.token, "--amount", str(TOKEN_PRICE), "--hashlock", hashlock,
        "--timeout", "1h", "--answering", "--expect-asset", "EUR",
        "--expect-amount", str(EUR_PRICE), "--expect-sender", "alice", "--from", "bob",
        "--margin", "5s", "--json",
    )  # fmt: skip
    assert answered.exit_code == 0, answered.output
    # Bob's answer closes a margin before Alice's lock, not in the hour he asked for.
    first = urbis.leg().show(bytes.fromhex(swap_id))
    assert first is not None
    assert json.loads(answered.stdout)["deadline_ms"] <= first.deadline_ms - 5_000

    expect = ["--expect-asset", ethereum.token, "--margin", "5s"]
    wrong = run("alice", "claim", swap_id, "--on", "ethereum", "--preimage", "00" * 32,
                "--expect-amount", str(TOKEN_PRICE), *expect)  # fmt: skip
    assert wrong.exit_code == 1 and "payments.wrong_preimage" in wrong.output
    more = run("alice", "claim", swap_id, "--on", "ethereum", "--preimage", drawn["secret"],
               "--expect-amount", str(TOKEN_PRICE + 1), *expect)  # fmt: skip
    assert more.exit_code == 1 and "payments.corridor_mismatch" in more.output
    claimed = run("alice", "claim", swap_id, "--on", "ethereum", "--preimage", drawn["secret"],
                  "--expect-amount", str(TOKEN_PRICE), *expect)  # fmt: skip
    assert claimed.exit_code == 0, claimed.output
    taken = run("", "claim", swap_id, "--on", "urbis", "--from", "bob")
    assert taken.exit_code == 0, taken.output
    assert holdings(urbis, ethereum) == swapped(before)

    shown = run("", "status", swap_id)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.count("claimed") >= 2
    assert "10.00 EUR" in shown.stdout and "7.500000 PXD" in shown.stdout


def test_cli_deploys_the_contract_and_a_test_token(ethereum: Ethereum, tmp_path: Path) -> None:
    env = {"URBIS_ETH_RPC": ethereum.rpc, "URBIS_ETH_KEY": DEV_KEYS["deployer"]}
    args = ["pay", "corridor", "deploy", "--test-token", "XYZ", "--mint", "5000000", "--json"]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    deployed = json.loads(result.stdout)
    leg = EthereumLeg(ethereum.rpc, deployed["htlc"], DEV_KEYS["deployer"])
    assert leg.show(b"\0" * 32) is None  # a HashTimeLock, empty
    assert leg.balance(deployed["token"], leg.address) == 5_000_000
    assert leg.token(deployed["token"]).functions.symbol().call() == "XYZ"


# -- last: moves the dev node's clock (and puts it back) ---------------------------------------


def test_refund_after_hours_on_the_dev_nodes_clock(urbis: Urbis, ethereum: Ethereum) -> None:
    """Bob starts abroad with a deadline two hours out, as a real corridor would, and Alice
    never answers: the dev node's clock is moved past the deadline (evm_increaseTime)
    instead of waiting. Bob cannot refund before it, Alice cannot claim after it."""
    before = holdings(urbis, ethereum)
    snapshot = ethereum.call("evm_snapshot")
    try:
        secret, hashlock = corridor.new_secret()
        swap_id = corridor.new_swap_id()
        bob = ethereum.leg("bob")
        deadline = bob.now_ms() + 2 * 3_600_000
        alice_address = ethereum.address("alice")
        bob.lock(swap_id, alice_address, ethereum.token, TOKEN_PRICE, hashlock, deadline)
        with pytest.raises(UrbisError) as early:
            bob.refund(swap_id)
        assert code_of(early) == "payments.htlc_not_expired"

        ethereum.call("evm_increaseTime", 2 * 3_600 + 1)
        ethereum.call("evm_mine")
        with pytest.raises(UrbisError) as late:
            ethereum.leg("alice").claim(swap_id, secret)
        assert code_of(late) == "payments.htlc_expired"
        assert bob.refund(swap_id).status == "refunded"
        assert holdings(urbis, ethereum) == before
    finally:
        assert ethereum.call("evm_revert", snapshot) is True
    # The clock is back within seconds of this machine's, for anything that runs after.
    assert abs(ethereum.leg().now_ms() - time.time() * 1000) < 60_000
