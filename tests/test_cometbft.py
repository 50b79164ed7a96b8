"""Urbis on a real 4-validator CometBFT network: agreement, crashes, liveness, replay."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.network import Network, require_cometbft

pytestmark = [pytest.mark.cometbft, pytest.mark.slow]


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    require_cometbft()
    running = Network.create(tmp_path_factory.mktemp("net") / "city")
    yield running
    running.stop()


def common_height_agrees(network: Network, nodes: list | None = None) -> int:
    nodes = nodes or network.nodes
    height = min(network.height(n) for n in nodes)
    hashes = {network.app_hash(n, height) for n in nodes}
    assert len(hashes) == 1, f"app hashes differ at height {height}: {hashes}"
    return height


def test_txs_sent_to_different_nodes_reach_one_state(network: Network) -> None:
    departments = ["land", "finance", "registry", "transport"]
    answers = [
        network.anchor(node, dept, f"agree-{dept}")
        for node, dept in zip(network.nodes, departments, strict=True)
    ]
    assert all(a["receipt"]["ok"] for a in answers), answers
    top = max(a["receipt"]["height"] for a in answers)
    network.wait_height(top + 1, network.nodes)
    height = common_height_agrees(network)
    assert height >= top
    for node in network.nodes:  # every node serves every transaction
        for answer in answers:
            assert network.get(node, f"/v1/txs/{answer['tx_id']}")["receipt"]["ok"]


def test_failed_action_fails_identically_everywhere(network: Network) -> None:
    answer = network.anchor(network.node("finance"), "finance", "x", wait=True)
    assert answer["receipt"]["ok"]
    # land's key anchoring for finance: a valid transaction whose action fails
    raw_answer = _post(
        network,
        "land",
        "documents",
        "anchor",
        department="finance",
        hash=b"\x01" * 32,
        doc_type="record",
    )
    receipt = raw_answer["receipt"]
    assert receipt["code"] == "auth.missing_role"
    network.wait_height(receipt["height"] + 1, network.nodes)
    for node in network.nodes:
        stored = network.get(node, f"/v1/txs/{raw_answer['tx_id']}")["receipt"]
        assert stored["code"] == "auth.missing_role" and stored["height"] == receipt["height"]


def _proposal_id(answer: dict) -> int:
    events = answer["receipt"]["events"]
    return int(
        next(e["attrs"]["id"] for e in events if e["type"] == "governance.proposal_submitted")
    )


def _post(network: Network, sender: str, module: str, name: str, **args: object) -> dict:
    import base64

    import httpx

    via = network.node("land")
    raw = network.signed(via, sender, module, name, **args)
    return httpx.post(
        f"{via.api_url}/v1/txs",
        params={"wait": "commit"},
        timeout=60,
        json={"tx": base64.b64encode(raw).decode()},
    ).json()


def test_kill_one_validator_under_load_then_it_catches_up(network: Network) -> None:
    victim = network.node("transport")
    survivors = [n for n in network.nodes if n is not victim]
    with network.anchoring(survivors, "land", "load") as committed:
        time.sleep(1.0)
        network.kill(victim)
        before = min(network.height(n) for n in survivors)
        time.sleep(6.0)
        assert min(network.height(n) for n in survivors) >= before + 2, "chain stopped with 3 of 4"
        network.restart(victim)
        time.sleep(1.0)
    assert len(committed) >= 5
    target = max(network.height(n) for n in survivors)
    network.wait_height(target, [victim], timeout_s=90)
    common_height_agrees(network)
    for tx_id in committed[-5:]:
        assert network.get(victim, f"/v1/txs/{tx_id}")["receipt"]["ok"]


def test_two_of_four_down_stops_blocks_until_one_returns(network: Network) -> None:
    first, second = network.node("registry"), network.node("transport")
    alive = [n for n in network.nodes if n not in (first, second)]
    committed = network.anchor(alive[0], "land", f"before-halt-{time.time()}")
    assert committed["receipt"]["ok"]
    network.kill(first)
    network.kill(second)
    time.sleep(2.0)  # let any in-flight round finish
    stalled = [network.height(n) for n in alive]
    time.sleep(4.0)
    assert [network.height(n) for n in alive] == stalled, "blocks made without 2/3 of power"
    network.restart(first)
    network.wait_height(max(stalled) + 2, alive, timeout_s=90)
    network.restart(second)
    network.wait_height(max(stalled) + 2, network.nodes, timeout_s=90)
    for node in network.nodes:
        assert network.get(node, f"/v1/txs/{committed['tx_id']}")["receipt"]["ok"]
    common_height_agrees(network)


def test_lost_app_database_is_rebuilt_by_handshake_replay(network: Network) -> None:
    node = network.node("finance")
    network.anchor(node, "finance", f"before-loss-{time.time()}")
    import signal

    from urbis.node import testnet as net

    net.signal_node(node, signal.SIGTERM)
    data = Path(node.home) / "data"
    shutil.rmtree(data)  # the app remembers nothing; CometBFT's block store still has it all
    net.start(node)
    target = max(network.height(n) for n in network.nodes if n is not node)
    network.wait_height(target, [node], timeout_s=120)
    common_height_agrees(network)
    assert network.height(node) >= target


def test_sdk_verifies_reads_against_cometbft_commits(network: Network) -> None:
    import copy
    import hashlib

    from urbis.node.home import Home
    from urbis.sdk.verify import ProofError, verify_state_proof

    node = network.node("registry")
    answer = network.anchor(node, "registry", "light-client")
    assert answer["receipt"]["ok"]
    network.wait_height(answer["receipt"]["height"] + 2, [node])
    digest = hashlib.sha256(b"light-client").hexdigest()
    proven = network.get(node, f"/v1/documents/{digest}")
    genesis = Home(node.home).load_genesis()
    trusted = {v.key: v.power for v in genesis.validators}
    verified = verify_state_proof(proven, trusted, chain_id=genesis.chain_id)
    assert verified.value is not None

    absent = network.get(node, "/v1/state/documents/doc/0x" + "ab" * 32, prove="true")
    assert verify_state_proof(absent, trusted, chain_id=genesis.chain_id).value is None

    forged_header = copy.deepcopy(proven)
    forged_header["cometbft"]["signed_header"]["header"]["app_hash"] = "00" * 32
    with pytest.raises(ProofError, match="block hash"):
        verify_state_proof(forged_header, trusted, chain_id=genesis.chain_id)

    forged_proof = copy.deepcopy(proven)
    forged_proof["proof"]["value"] = (b"forged").hex()
    with pytest.raises(ProofError):
        verify_state_proof(forged_proof, trusted, chain_id=genesis.chain_id)

    too_few = copy.deepcopy(proven)
    signatures = too_few["cometbft"]["signed_header"]["commit"]["signatures"]
    committed = [i for i, s in enumerate(signatures) if s["block_id_flag"] == 2]
    for index in committed[2:]:
        signatures[index]["block_id_flag"] = 1  # as if those validators had not voted
    with pytest.raises(ProofError, match="more than 2/3"):
        verify_state_proof(too_few, trusted, chain_id=genesis.chain_id)

    strangers = {hashlib.sha256(bytes([i])).digest(): 10 for i in range(4)}
    with pytest.raises(ProofError, match="more than 2/3"):
        verify_state_proof(proven, strangers, chain_id=genesis.chain_id)


def test_contracts_execute_identically_on_every_validator(network: Network) -> None:
    """A council-deployed token: calls, a revert and a bridged read agree on all four nodes."""
    from tests.helpers.contracts import CONTRACTS
    from urbis.modules.contracts import abi
    from urbis.modules.contracts.compiler import VYPER, compile_source

    source = (CONTRACTS / "token.vy").read_text()
    compiled = compile_source(VYPER, source)
    finance = network.account("finance")
    deploy = {
        "name": "token",
        "compiler": VYPER,
        "source": source,
        "bytecode_hash": compiled.bytecode_hash,
        "constructor_args": abi.encode_args(["address"], [finance.raw]),
    }
    submit = _post(
        network,
        "mayor",
        "governance",
        "submit_proposal",
        title="token",
        action={"module": "contracts", "name": "deploy", "args": deploy},
    )
    assert submit["receipt"]["ok"], submit
    proposal = _proposal_id(submit)
    approve = _post(network, "councillor-a", "governance", "approve_proposal", id=proposal)
    assert approve["receipt"]["ok"], approve
    token = network.get(network.node("land"), "/v1/contracts/token")["address"]
    from urbis.chain.ids import AccountId

    contract = AccountId.parse(token)
    mint = abi.encode_call(compiled.abi, "mint", [network.account("land"), 700])
    minted = _post(network, "finance", "contracts", "call", contract=contract, data=mint)
    assert minted["receipt"]["ok"], minted
    overdraw = abi.encode_call(compiled.abi, "transfer", [finance, 701])
    failed = _post(network, "land", "contracts", "call", contract=contract, data=overdraw)
    assert failed["receipt"]["code"] == "contracts.reverted"
    network.wait_height(failed["receipt"]["height"] + 1, network.nodes)
    common_height_agrees(network)
    for node in network.nodes:
        answer = httpx.post(
            f"{node.api_url}/v1/contracts/token/call",
            json={"function": "balanceOf", "args": [network.account("land").text]},
            timeout=30,
        ).json()
        assert answer["result"] == [700], (node.name, answer)


def test_paused_validator_resumes_and_catches_up(network: Network) -> None:
    """SIGSTOP a validator (its node and CometBFT child) under load for several rounds.

    The three others go on; after SIGCONT the paused one catches up, agrees on the
    app hash, and serves every transaction committed while it was frozen.
    """
    import os
    import signal

    from urbis.node import testnet as net

    victim = network.node("registry")
    survivors = [n for n in network.nodes if n is not victim]
    pid = net.pid_of(victim)
    assert pid is not None
    with network.anchoring(survivors, "finance", "pause") as committed:
        time.sleep(1.0)
        os.killpg(pid, signal.SIGSTOP)
        try:
            before = min(network.height(n) for n in survivors)
            # a round is timeout_propose (2 s) plus the vote steps; 6 s spans several
            time.sleep(6.0)
            during = min(network.height(n) for n in survivors)
            frozen = len(committed)
        finally:
            os.killpg(pid, signal.SIGCONT)
        time.sleep(2.0)
    assert during >= before + 2, "the chain stopped while one of four was paused"
    assert frozen >= 3, "no load was committed while the validator was paused"
    target = max(network.height(n) for n in survivors)
    network.wait_height(target, [victim], timeout_s=90)
    assert net.pid_of(victim) == pid, "the paused node restarted instead of resuming"
    common_height_agrees(network)
    for tx_id in committed:
        assert network.get(victim, f"/v1/txs/{tx_id}")["receipt"]["ok"], tx_id


def test_council_changes_the_validator_set(network: Network) -> None:
    """Last in this module: it leaves the network with three validators."""
    from urbis.node.home import Home

    via = network.node("land")
    genesis = Home(via.home).load_genesis()
    keep = [
        {"name": v.name, "key": v.key, "power": v.power}
        for v in genesis.validators
        if v.name != "transport"
    ]
    submit = _post(
        network,
        "mayor",
        "governance",
        "submit_proposal",
        title="retire transport",
        action={"module": "governance", "name": "set_validators", "args": {"validators": keep}},
    )
    assert submit["receipt"]["ok"], submit
    proposal = _proposal_id(submit)
    approve = _post(network, "councillor-a", "governance", "approve_proposal", id=proposal)
    assert approve["receipt"]["ok"], approve
    events = [e["type"] for e in approve["receipt"]["events"]]
    assert "governance.proposal_executed" in events
    network.wait_height(approve["receipt"]["height"] + 3, [via])
    validators = network.get(via, "/v1/status")["consensus_status"]["validators"]
    assert sorted(v["key"] for v in validators) == sorted(v["key"].hex() for v in keep)
    network.kill(network.node("transport"))  # no longer a validator: nothing stops
    before = network.height(via)
    network.wait_height(before + 3, [via], timeout_s=30)
