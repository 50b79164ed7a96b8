"""Request and response models: what the API takes and gives, as OpenAPI shows it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Problem(BaseModel):
    """RFC 9457 problem details with a stable `code`."""

    type: str
    title: str
    status: int
    code: str
    detail: str


class SubmitTx(BaseModel):
    tx: str = Field(description="The signed transaction: deterministic CBOR, base64.")


class SubmitBatch(BaseModel):
    txs: list[str] = Field(description="Signed transactions, base64 each.", max_length=10_000)


class EventOut(BaseModel):
    type: str
    attrs: dict[str, Any]


class ReceiptOut(BaseModel):
    tx_id: str
    height: int
    index: int
    ok: bool
    code: str
    message: str
    sender: str | None
    events: list[EventOut]


class SubmitOut(BaseModel):
    tx_id: str
    status: str = Field(description="`pending` (admitted) or `committed` (with ?wait=commit)")
    receipt: ReceiptOut | None = None


class BatchItemOut(BaseModel):
    index: int
    accepted: bool
    tx_id: str | None
    code: str | None = None
    message: str | None = None


class BatchOut(BaseModel):
    accepted: int
    rejected: int
    results: list[BatchItemOut]


class HeaderOut(BaseModel):
    chain_id: str
    height: int
    time_ms: int
    prev_hash: str
    txs_root: str
    results_root: str
    app_hash: str
    proposer: str
    hash: str
    signature: str


class BlockOut(BaseModel):
    header: HeaderOut
    txs: list[ReceiptOut]


class TxOut(BaseModel):
    tx: dict[str, Any]
    receipt: ReceiptOut


class StatusOut(BaseModel):
    chain_id: str
    name: str
    height: int
    app_hash: str
    latest_block_time_ms: int | None
    consensus: str
    consensus_status: dict[str, Any]
    validator: str
    validators: list[dict[str, Any]]
    mempool_txs: int
    state_keys: int
    version: str
    halted: str | None


class ProofOut(BaseModel):
    key: str
    value: str | None
    siblings: list[str]
    leaf: list[str] | None
    root: str
    height: int


class StateOut(BaseModel):
    key: str
    height: int
    value: str | None = Field(description="The raw value, hex; null when the key is absent.")
    decoded: Any = Field(None, description="The value decoded from CBOR, when it is CBOR.")
    proof: ProofOut | None = None
    header: HeaderOut | None = Field(
        None, description="The signed header whose app_hash the proof leads to (solo)."
    )
    cometbft: dict[str, Any] | None = Field(
        None,
        description="Under CometBFT: the signed header (with commit) of the next block, "
        "whose app_hash is the state after `height`.",
    )


class DocumentOut(BaseModel):
    record: dict[str, Any]
    proof: ProofOut | None = None
    header: HeaderOut | None = None
    cometbft: dict[str, Any] | None = None


class ContractCallIn(BaseModel):
    function: str = Field(description="The ABI function name", examples=["balanceOf"])
    args: list[Any] = Field(
        default_factory=list,
        description="Arguments; addresses as urbis1…, bytes as hex, big integers as strings",
    )
    caller: str | None = Field(default=None, description="msg.sender (urbis1…); council if unset")
