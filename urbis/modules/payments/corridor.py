"""Cross-border corridor: Urbis money against an ERC-20 token on an Ethereum chain.

Both legs are hash time locks with the same SHA-256 hash lock and deadlines by block
time: on Urbis the payments HTLC (`lock_htlc` with `timeout_ms`), on Ethereum the
`HashTimeLock` contract (contracts/corridor/HashTimeLock.sol). The party who chose the
secret (the initiator) locks first with the longer deadline; the responder checks that
lock, then locks the other leg with a deadline at least a margin shorter. The initiator
claims the second leg, which makes the preimage public there; the responder reads it and
claims the first leg before its later deadline. Unclaimed legs go back to their senders
after their deadlines. The README's "Cross-border corridor" section explains why.

This is client code (the CLI and tests run it), not part of block execution: it reads
the host clock and the network, and never runs inside a node.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urbis.chain.errors import UrbisError, error_for
from urbis.chain.ids import AccountId
from urbis.crypto.keys import PrivateKey
from urbis.modules.payments.errors import (
    CorridorMismatch,
    CorridorNoPreimage,
    CorridorRejected,
    CorridorUnreachable,
    CorridorUnsafeDeadline,
    HtlcClosed,
    HtlcExists,
    HtlcExpired,
    HtlcNotExpired,
    HtlcNotFound,
    InsufficientFunds,
    NotHtlcParty,
    WrongPreimage,
)
from urbis.sdk.builder import EXPIRY_BLOCKS_DEFAULT, TxBuilder
from urbis.sdk.client import ApiError, Client

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts" / "corridor"
SECRET_BYTES = 32
"""A fresh 256-bit secret: as hard to guess as SHA-256 is to invert, and well inside the
1 to 64 bytes both chains accept as a preimage."""
MARGIN_MS_DEFAULT = 3_600_000
"""How much longer the first leg lives than the second: the responder's time to see the
preimage on one chain and get a claim included on the other, plus the two chains'
clock difference. An hour covers congestion on either chain; tests use seconds."""
FOREIGN_RECEIPT_TIMEOUT_S = 60
STATUS = ("none", "locked", "claimed", "refunded")
"""HashTimeLock.Status, in the contract's order."""


@dataclass(frozen=True, slots=True)
class LegLock:
    """One leg of a swap as its own chain shows it, in terms both chains share."""

    chain: str  # "urbis" | "ethereum"
    id: bytes
    sender: str  # an Urbis account id (urbis1…) or an Ethereum address (0x…)
    recipient: str
    asset: str  # an Urbis asset code or an ERC-20 contract address
    amount_minor: int
    hashlock: bytes
    deadline_ms: int
    """The last block time (ms) at which it can be claimed; after it, only refunded."""
    status: str  # "locked" | "claimed" | "refunded"
    preimage: bytes = b""


@dataclass(frozen=True, slots=True)
class Terms:
    """What a party expects of the other's lock: agreed off chain before the swap."""

    sender: str
    recipient: str
    asset: str
    amount_minor: int
    hashlock: bytes


def new_secret() -> tuple[bytes, bytes]:
    """The initiator's secret and its SHA-256 hash lock."""
    secret = os.urandom(SECRET_BYTES)
    return secret, hashlib.sha256(secret).digest()


def new_swap_id() -> bytes:
    """One id for both legs (32 bytes: an Urbis HTLC id and a bytes32 on Ethereum)."""
    return os.urandom(32)


# -- the checks each party makes before it acts ----------------------------------------------


def check_terms(lock: LegLock | None, expected: Terms) -> LegLock:
    """The counterparty's lock exists, is still locked and holds exactly what was agreed."""
    if lock is None:
        raise HtlcNotFound("the counterparty has not locked its leg")
    if lock.status != "locked":
        raise HtlcClosed(f"the {lock.chain} leg is {lock.status}")
    differences = [
        f"{name} is {got!r}, agreed {want!r}"
        for name, got, want in (
            ("sender", _same_case(lock.sender), _same_case(expected.sender)),
            ("recipient", _same_case(lock.recipient), _same_case(expected.recipient)),
            ("asset", _same_case(lock.asset), _same_case(expected.asset)),
            ("amount_minor", lock.amount_minor, expected.amount_minor),
            ("hashlock", lock.hashlock.hex(), expected.hashlock.hex()),
        )
        if got != want
    ]
    if differences:
        raise CorridorMismatch(f"the {lock.chain} leg differs: " + "; ".join(differences))
    return lock


def second_deadline_ms(first: LegLock, now_ms: int, wanted_ms: int, margin_ms: int) -> int:
    """The responder's deadline: what it wants, but at least `margin_ms` before the first
    leg's, and still far enough ahead for the initiator to claim in time."""
    if first.deadline_ms == 0:
        raise CorridorUnsafeDeadline(
            "the first leg expires by height only; another chain cannot compare a height"
        )
    deadline = min(wanted_ms, first.deadline_ms - margin_ms)
    if deadline <= now_ms + margin_ms:
        raise CorridorUnsafeDeadline(
            f"the first leg's deadline ({_iso(first.deadline_ms)}) leaves no room for a second "
            f"leg that outlives now ({_iso(now_ms)}) and stops {margin_ms // 1000} s before it"
        )
    return deadline


def check_second_leg(lock: LegLock, first_deadline_ms: int, now_ms: int, margin_ms: int) -> None:
    """The initiator's check before revealing the secret: the second leg closes at least
    a margin before the first (else the responder could be cheated, and a careful
    responder would not have locked it this way) and is still open long enough to claim."""
    if lock.deadline_ms == 0:
        raise CorridorUnsafeDeadline(
            f"the {lock.chain} leg expires by height only; the other chain cannot compare it"
        )
    if lock.deadline_ms > first_deadline_ms - margin_ms:
        raise CorridorUnsafeDeadline(
            f"the {lock.chain} leg closes at {_iso(lock.deadline_ms)}, not {margin_ms // 1000} s "
            f"before the first leg ({_iso(first_deadline_ms)})"
        )
    if lock.deadline_ms <= now_ms:
        raise HtlcExpired(f"the {lock.chain} leg closed at {_iso(lock.deadline_ms)}")


# -- the Urbis leg: the payments module's HTLC actions -----------------------------------------


class UrbisLeg:
    """The Urbis side, through a node's API: lock, claim and refund as payments actions."""

    chain = "urbis"

    def __init__(
        self, node: Client, key: PrivateKey | None = None, account: AccountId | None = None
    ):
        self.node = node
        self.key = key
        self.account = account or (AccountId.from_key(key.public_key.raw) if key else None)

    def now_ms(self) -> int:
        """The earliest block time the next block can have: the latest block's, or this
        machine's clock if later (an idle chain makes no blocks, so its latest block time
        lags). Later is the safe side: a lock timed from it closes no later than meant,
        but for the delay until its block is cut, which the margin covers."""
        status = self._answer(self.node.status)
        return max(int(status.get("latest_block_time_ms") or 0), int(time.time() * 1000))

    def lock(
        self,
        swap_id: bytes,
        recipient: AccountId,
        asset: str,
        amount_minor: int,
        hashlock: bytes,
        timeout_ms: int,
    ) -> LegLock:
        # By block time, as on Ethereum; never by height, which the other chain cannot see.
        self._act(
            "lock_htlc",
            id=swap_id,
            recipient=recipient,
            asset=asset,
            amount_minor=amount_minor,
            hashlock=hashlock,
            timeout_blocks=0,
            timeout_ms=timeout_ms,
        )
        return self._require(swap_id)

    def claim(self, swap_id: bytes, preimage: bytes) -> LegLock:
        self._act("claim_htlc", id=swap_id, preimage=preimage)
        return self._require(swap_id)

    def refund(self, swap_id: bytes) -> LegLock:
        self._act("refund_htlc", id=swap_id)
        return self._require(swap_id)

    def settled(self, swap_id: bytes) -> LegLock | None:
        """What the other party may act on: Urbis blocks are final once committed."""
        return self.show(swap_id)

    def show(self, swap_id: bytes) -> LegLock | None:
        try:
            record = self.node.call("payments", f"htlcs/{swap_id.hex()}")
        except ApiError as error:
            if error.code == "payments.htlc_not_found":
                return None
            raise _urbis_error(error) from None
        return LegLock(
            chain=self.chain,
            id=swap_id,
            sender=str(record["sender"]),
            recipient=str(record["recipient"]),
            asset=str(record["asset"]),
            amount_minor=int(record["amount_minor"]),
            hashlock=bytes.fromhex(record["hashlock"]),
            deadline_ms=int(record.get("deadline_at_ms") or 0),
            status=str(record["status"]),
            preimage=bytes.fromhex(record.get("preimage") or ""),
        )

    def balance(self, account: AccountId, asset: str) -> int:
        answer = self._answer(
            lambda: self.node.call("payments", f"balances/{account.text}", asset=asset)
        )
        return int(answer["balance_minor"])

    def _require(self, swap_id: bytes) -> LegLock:
        lock = self.show(swap_id)
        assert lock is not None, "a committed HTLC action leaves its record"
        return lock

    def _act(self, name: str, **args: Any) -> None:
        if self.key is None or self.account is None:
            raise NotHtlcParty("the Urbis leg needs a signing key to act")
        key, sender = self.key, self.account
        status = self._answer(self.node.status)
        builder = TxBuilder(status["chain_id"], sender).add("payments", name, **args)
        nonce = self._answer(lambda: self.node.next_nonce(sender.text))
        tx = builder.sign([key], nonce, status["height"] + EXPIRY_BLOCKS_DEFAULT)
        answer = self._answer(lambda: self.node.submit(tx, wait=True))
        receipt = answer.get("receipt")
        if receipt is None:
            raise CorridorUnreachable(f"Urbis transaction {answer['tx_id']} is not committed yet")
        if not receipt["ok"]:
            raise error_for(receipt["code"], receipt["message"])

    @staticmethod
    def _answer(request: Any) -> Any:
        try:
            return request()
        except ApiError as error:
            raise _urbis_error(error) from None


def _urbis_error(error: ApiError) -> UrbisError:
    if error.code == "client.unreachable":
        return CorridorUnreachable(error.detail)
    return error_for(error.code, error.detail)


# -- the Ethereum leg: the HashTimeLock contract, through web3.py ------------------------------


@dataclass(frozen=True, slots=True)
class Artifact:
    abi: list[dict[str, Any]]
    bytecode: bytes


@functools.cache
def abi(name: str) -> list[dict[str, Any]]:
    """contracts/corridor/<name>.abi.json: what talking to a deployed contract needs, without
    running the compiler (tests check it is what the compiler gives)."""
    loaded: list[dict[str, Any]] = json.loads((CONTRACTS / f"{name}.abi.json").read_text())
    return loaded


@functools.cache
def artifact(name: str) -> Artifact:
    """Compile contracts/corridor/<name>.sol with the chain's pinned solc (deterministic:
    the same bytecode everywhere, which a partner can check against its deployment)."""
    from urbis.modules.contracts.compiler import SOLC, compile_source

    compiled = compile_source(SOLC, (CONTRACTS / f"{name}.sol").read_text())
    return Artifact(compiled.abi, compiled.bytecode)


FOREIGN_ERRORS: dict[str, type[UrbisError]] = {
    "LockExists": HtlcExists,
    "LockNotFound": HtlcNotFound,
    "LockClosed": HtlcClosed,
    "NotParty": NotHtlcParty,
    "Expired": HtlcExpired,
    "NotExpired": HtlcNotExpired,
    "WrongPreimage": WrongPreimage,
    "InsufficientBalance": InsufficientFunds,
}
"""The contract's (and the test token's) custom errors, as the payments codes that mean
the same on Urbis; any other revert is payments.corridor_rejected."""


class EthereumLeg:
    """The Ethereum side: one HashTimeLock contract on a node reached over JSON-RPC."""

    chain = "ethereum"

    def __init__(
        self,
        rpc_url: str,
        htlc_address: str,
        private_key: str | None = None,
        confirmations: int = 0,
    ) -> None:
        """`confirmations`: how many blocks must follow one before `settled` trusts what it
        holds; 0 suits a dev node, a public chain with reorganisations needs more."""
        from eth_account import Account
        from web3 import Web3

        self.web3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        self.rpc_url = rpc_url
        self.confirmations = confirmations
        self.account = Account.from_key(private_key) if private_key else None
        self.htlc = self.web3.eth.contract(
            address=self._address(htlc_address), abi=abi("HashTimeLock")
        )
        token_abi = abi("TestToken")  # the ERC-20 functions any token has, and its errors
        self._errors = _error_table(abi("HashTimeLock") + token_abi)
        self._token_abi = token_abi

    @property
    def address(self) -> str:
        if self.account is None:
            raise NotHtlcParty("the Ethereum leg needs a private key to act")
        return str(self.account.address)

    def now_ms(self) -> int:
        """The chain's own clock: the timestamp of the block it would mine now (the pending
        block), which the deadline checks will see. A node without a pending block: the
        latest block's, or this machine's clock if later, as UrbisLeg.now_ms."""
        from web3.exceptions import Web3Exception

        try:
            pending = self._rpc(lambda: self.web3.eth.get_block("pending"))
            return int(pending["timestamp"]) * 1000
        except (CorridorRejected, Web3Exception, ValueError):
            block = self._rpc(lambda: self.web3.eth.get_block("latest"))
            return max(int(block["timestamp"]) * 1000, int(time.time() * 1000))

    def lock(
        self,
        swap_id: bytes,
        recipient: str,
        token: str,
        amount_minor: int,
        hashlock: bytes,
        deadline_ms: int,
    ) -> LegLock:
        """Approve the contract for `amount_minor` if needed, then lock until `deadline_ms`
        (the contract's clock has seconds: the last whole second that ends by then)."""
        erc20 = self.token(token)
        allowance = self._rpc(
            lambda: erc20.functions.allowance(self.address, self.htlc.address).call()
        )
        if allowance < amount_minor:
            self._send(erc20.functions.approve(self.htlc.address, amount_minor))
        self._send(
            self.htlc.functions.lock(
                swap_id,
                self._address(recipient),
                erc20.address,
                amount_minor,
                hashlock,
                (deadline_ms + 1) // 1000 - 1,
            )
        )
        return self._require(swap_id)

    def claim(self, swap_id: bytes, preimage: bytes) -> LegLock:
        self._send(self.htlc.functions.claim(swap_id, preimage))
        return self._require(swap_id)

    def refund(self, swap_id: bytes) -> LegLock:
        self._send(self.htlc.functions.refund(swap_id))
        return self._require(swap_id)

    def settled(self, swap_id: bytes) -> LegLock | None:
        """The lock as it stood `confirmations` blocks ago: what the other party may act on
        (a lock in a block that a reorganisation drops never happened)."""
        if self.confirmations == 0:
            return self.show(swap_id)
        depth = self._rpc(lambda: self.web3.eth.block_number) - self.confirmations
        return None if depth < 0 else self.show(swap_id, depth)

    def show(self, swap_id: bytes, at_block: int | str = "latest") -> LegLock | None:
        getter = self.htlc.functions.getLock(swap_id)
        held = self._rpc(lambda: getter.call(block_identifier=at_block))
        sender, recipient, token, amount, hashlock, deadline_s, status, preimage = held
        if status == 0:
            return None
        return LegLock(
            chain=self.chain,
            id=swap_id,
            sender=str(sender),
            recipient=str(recipient),
            asset=str(token),
            amount_minor=int(amount),
            hashlock=bytes(hashlock),
            # Claimable while block.timestamp <= deadline: through the deadline's last ms.
            deadline_ms=int(deadline_s) * 1000 + 999,
            status=STATUS[status],
            preimage=bytes(preimage),
        )

    def balance(self, token: str, owner: str) -> int:
        erc20 = self.token(token)
        return int(self._rpc(lambda: erc20.functions.balanceOf(self._address(owner)).call()))

    def token(self, address: str) -> Any:
        return self.web3.eth.contract(address=self._address(address), abi=self._token_abi)

    def _require(self, swap_id: bytes) -> LegLock:
        lock = self.show(swap_id)
        assert lock is not None, "a mined HashTimeLock call leaves its lock"
        return lock

    def _send(self, call: Any) -> Any:
        """Simulate first, so a refusal comes back as its code with nothing sent; then sign,
        send and wait for the receipt."""
        sender = self._address(self.address)
        assert self.account is not None
        account = self.account
        # Against the block the transaction would go into: the latest one's time may lag.
        self._rpc(lambda: call.call({"from": sender}, block_identifier="pending"))
        gas = self._rpc(lambda: call.estimate_gas({"from": sender}, block_identifier="pending"))
        tx = self._rpc(
            lambda: call.build_transaction(
                {
                    "from": sender,
                    "gas": gas + gas // 5,  # headroom: storage costs can differ by a block
                    "nonce": self.web3.eth.get_transaction_count(sender, "pending"),
                    "chainId": self.web3.eth.chain_id,
                }
            )
        )
        signed = account.sign_transaction(tx)
        tx_hash = self._rpc(lambda: self.web3.eth.send_raw_transaction(signed.raw_transaction))
        receipt = self._rpc(
            lambda: self.web3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=FOREIGN_RECEIPT_TIMEOUT_S
            )
        )
        if receipt["status"] != 1:
            raise CorridorRejected(f"Ethereum transaction {tx_hash.hex()} reverted")
        return receipt

    def _rpc(self, request: Any) -> Any:
        """Run one JSON-RPC exchange; a revert becomes its payments code, a dead node
        payments.corridor_unreachable."""
        from requests.exceptions import RequestException
        from web3.exceptions import (
            ContractCustomError,
            ContractLogicError,
            TimeExhausted,
            Web3RPCError,
        )

        try:
            return request()
        except ContractCustomError as error:
            raise self._decode(error.data) from None
        except ContractLogicError as error:
            data = _revert_data(error.data)
            if data is not None:
                raise self._decode(data) from None
            raise CorridorRejected(f"the Ethereum node refused: {error.message}") from None
        except Web3RPCError as error:
            response = error.rpc_response or {}
            data = _revert_data(response.get("error"))
            if data is not None:
                raise self._decode(data) from None
            raise CorridorRejected(f"the Ethereum node refused: {error.message}") from None
        except (RequestException, TimeExhausted) as error:
            raise CorridorUnreachable(f"Ethereum node {self.rpc_url}: {error}") from None

    def _decode(self, data: Any) -> UrbisError:
        raw = bytes.fromhex(str(data).removeprefix("0x")) if not isinstance(data, bytes) else data
        found = self._errors.get(raw[:4])
        if found is None:
            return CorridorRejected(f"the Ethereum contract reverted with 0x{raw[:36].hex()}")
        name, types = found
        from eth_abi import decode

        values = decode(types, raw[4:])
        shown = ", ".join(v.hex() if isinstance(v, bytes) else str(v) for v in values)
        return FOREIGN_ERRORS.get(name, CorridorRejected)(f"Ethereum HTLC: {name}({shown})")

    @staticmethod
    def _address(text: str) -> Any:
        from web3 import Web3

        try:
            return Web3.to_checksum_address(text)
        except ValueError:
            raise CorridorMismatch(f"{text[:60]!r} is not an Ethereum address") from None


def _revert_data(found: Any) -> str | None:
    """The revert's return data (0x + selector + arguments): nodes put it in the error's
    data, as text or nested under "data"."""
    for _ in range(3):
        if isinstance(found, str):
            return found if found.startswith("0x") and len(found) >= 10 else None
        if not isinstance(found, dict):
            return None
        found = found.get("data")
    return None


def _error_table(abi: list[dict[str, Any]]) -> dict[bytes, tuple[str, list[str]]]:
    from web3 import Web3

    table: dict[bytes, tuple[str, list[str]]] = {}
    for entry in abi:
        if entry.get("type") == "error":
            types = [item["type"] for item in entry["inputs"]]
            selector = bytes(Web3.keccak(text=f"{entry['name']}({','.join(types)})")[:4])
            table[selector] = (entry["name"], types)
    return table


def deploy(rpc_url: str, private_key: str, name: str, *args: Any) -> str:
    """Deploy contracts/corridor/<name>.sol; returns its address."""
    from eth_account import Account
    from web3 import Web3

    web3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    account = Account.from_key(private_key)
    compiled = artifact(name)
    factory = web3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    try:
        tx = factory.constructor(*args).build_transaction(
            {
                "from": account.address,
                "nonce": web3.eth.get_transaction_count(account.address, "pending"),
                "chainId": web3.eth.chain_id,
            }
        )
        tx_hash = web3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
        receipt = web3.eth.wait_for_transaction_receipt(tx_hash, timeout=FOREIGN_RECEIPT_TIMEOUT_S)
    except OSError as error:
        raise CorridorUnreachable(f"Ethereum node {rpc_url}: {error}") from None
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise CorridorRejected(f"deploying {name} reverted")
    return str(receipt["contractAddress"])


def wait_for_preimage(leg: UrbisLeg | EthereumLeg, swap_id: bytes, timeout_s: float) -> bytes:
    """Watch a leg until its recipient claims it, which makes the preimage public."""
    deadline = time.monotonic() + timeout_s
    while True:
        lock = leg.show(swap_id)
        if lock is not None and lock.status == "claimed":
            return lock.preimage
        if lock is not None and lock.status == "refunded":
            raise HtlcClosed(f"the {leg.chain} leg was refunded: no preimage will come")
        if time.monotonic() >= deadline:
            raise CorridorNoPreimage(f"the {leg.chain} leg is not claimed yet")
        time.sleep(0.2)


def _same_case(text: str) -> str:
    return text.lower() if text.startswith("0x") else text


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))
