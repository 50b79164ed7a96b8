"""Procedures: every step of a land sale or a licence, read from the process contracts'
events (contracts/land_registry.vy, contracts/licensing.vy), with who did it, when and in
which transaction.

A contract is a process contract when its ABI has events keyed by `parcel` or `licence`;
each distinct key value is one procedure. The steps are the contract's `contracts.event`
events in chain order, found through the per-account transaction index (the contract's
address is named in each of them), so a page costs one index read, not a chain scan.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from urbis.api.views import receipt_view
from urbis.chain.errors import BadQuery, NotFound, jsonable
from urbis.chain.ids import AccountId
from urbis.modules.contracts import abi as contract_abi
from urbis.modules.contracts import keys as contract_keys
from urbis.modules.contracts.storage import field_offset, slot_of
from urbis.web.html import Html, join, tag
from urbis.web.layout import (
    Reader,
    account_link,
    facts,
    page,
    proven,
    short,
    table,
    tx_link,
    verify_panel,
    when,
)

SUBJECTS = ("parcel", "licence")
"""The event argument that names a procedure: a parcel (land) or a licence (licensing)."""
EVENTS_MAX = 2000
"""How many of a contract's transactions a page reads (newest first)."""
CONTRACTS_MAX = 1000

STATUS_OF = {
    "Applied": "applied",
    "Approved": "approved",
    "Rejected": "refused",
    "Revoked": "revoked",
    "Renewed": "approved",
}
"""A licence's status after each licensing event."""


@dataclass(frozen=True)
class Step:
    event: str
    args: dict[str, Any]
    height: int
    tx_id: str
    sender: str


@dataclass(frozen=True)
class ProcessContract:
    name: str
    address: AccountId
    subject: str
    abi: list[dict[str, Any]]
    layout: dict[str, Any]

    def selector(self, function: str) -> str:
        item = contract_abi.function(self.abi, function)
        return contract_abi.selector(contract_abi.signature(item)).hex()


def process_contracts(r: Reader) -> list[ProcessContract]:
    """Every deployed contract (its newest version) whose events name parcels or licences."""
    prefix = contract_keys.name("")
    found = []
    for key, _ in r.node.app.store.scan_prefix(prefix, CONTRACTS_MAX):
        name = key[len(prefix) :].decode()
        described = r.node.app.query("contracts", "contract", {"ref": name})
        subject = _subject(described.get("abi") or [])
        if subject is not None and described.get("address"):
            found.append(
                ProcessContract(
                    name,
                    AccountId.parse(described["address"]),
                    subject,
                    described.get("abi") or [],
                    described.get("storage_layout") or {},
                )
            )
    return found


def _subject(abi: list[dict[str, Any]]) -> str | None:
    for item in abi:
        if item.get("type") == "event":
            names = {i.get("name") for i in item.get("inputs", [])}
            for subject in SUBJECTS:
                if subject in names:
                    return subject
    return None


def steps_of(r: Reader, contract: ProcessContract) -> dict[str, list[Step]]:
    """The contract's procedures: subject (hex) -> its steps, oldest first."""
    procedures: dict[str, list[Step]] = {}
    stored = r.node.app.blocks.account_txs(contract.address.raw, EVENTS_MAX)
    for tx in reversed(stored):
        receipt = tx.receipt
        if not receipt.ok:
            continue
        sender = receipt_view(receipt)["sender"]
        for event in receipt.events:
            if event.type != "contracts.event":
                continue
            if jsonable(event.attrs.get("contract")) != contract.address.text:
                continue
            args = jsonable(dict(event.attrs.get("args") or {}))
            subject = args.get(contract.subject)
            if not isinstance(subject, str):
                continue
            procedures.setdefault(subject, []).append(
                Step(str(event.attrs.get("event")), args, receipt.height, receipt.tx_id.hex(),
                     sender)
            )
    return procedures


def licence_status(steps: list[Step]) -> str:
    status = "applied"
    for step in steps:
        status = STATUS_OF.get(step.event, status)
    return status


def parcel_owner(steps: list[Step]) -> str | None:
    owner = None
    for step in steps:
        if step.event == "Registered":
            owner = step.args.get("owner")
        elif step.event == "Sold":
            owner = step.args.get("buyer")
    return owner


PROVEN_FIELD = {"parcel": ("parcels", "owner"), "licence": ("licences", "state")}
"""The storage field a procedure page proves: a parcel's owner, a licence's state."""
LICENCE_STATES = {1: "applied", 2: "approved", 3: "refused", 4: "revoked"}
"""licensing.vy's APPLIED..REVOKED."""


def proven_field(r: Reader, contract: ProcessContract, subject: bytes) -> Html | None:
    """The procedure's current owner or state read from the contract's storage slot, which
    verify.js proves against a signed header (the steps come from receipts; this is state)."""
    variable, field = PROVEN_FIELD[contract.subject]
    getter = next((i for i in contract.abi
                   if i.get("type") == "function" and i.get("name") == variable), None)
    if getter is None or variable not in contract.layout:
        return None
    try:
        try:
            offset = field_offset(getter.get("outputs", []), field)
        except ValueError:  # a String[N] member before it: place it from the source
            offset = _vyper_offset(r, contract, variable, field)
        slot = slot_of(contract.layout, variable, [subject], offset)
    except (ValueError, TypeError):
        return None
    key = contract_keys.slot(contract.address.raw, slot)
    raw = r.node.app.store.get_at(key, r.height)
    if raw is None or len(raw) != 32:
        return None
    if contract.subject == "parcel":
        return proven(key, "", "word-account", AccountId(raw[12:]).text, encoding="word")
    state = int.from_bytes(raw, "big")
    return join([proven(key, "", "word-int", str(state), encoding="word"), " (",
                 r.t(LICENCE_STATES.get(state, "?")), ")"])


_STRUCT = re.compile(r"^struct (\w+):\s*$")
_MEMBER = re.compile(r"^\s+(\w+):\s*(.+?)\s*$")
_BOUNDED = re.compile(r"^(?:String|Bytes)\[(\d+)\]$")
_STATIC = re.compile(r"^(?:address|bool|bytes32|u?int\d+|decimal)$")


def _vyper_offset(r: Reader, contract: ProcessContract, variable: str, field: str) -> int:
    kind = str(contract.layout[variable]["type"])
    struct = kind.rsplit(",", 1)[-1].strip().rstrip("]").strip()
    source = r.node.app.store.get(contract_keys.source(contract.address.raw)) or b""
    return vyper_member_offset(source.decode(errors="replace"), struct, field)


def vyper_member_offset(source: str, struct: str, field: str) -> int:
    """A struct member's slot offset in Vyper storage, from the approved source: a static
    member takes one slot, a `String[N]`/`Bytes[N]` one for its length and ceil(N/32) for
    its bytes. Anything else is refused (ValueError) rather than guessed."""
    offset, inside = 0, False
    for line in source.splitlines():
        opened = _STRUCT.match(line)
        if opened:
            inside = opened.group(1) == struct
            continue
        member = _MEMBER.match(line) if inside else None
        if member is None:
            if inside and line.strip() and not line.startswith((" ", "\t")):
                break
            continue
        name, member_type = member.groups()
        if name == field:
            return offset
        bounded = _BOUNDED.match(member_type)
        if bounded:
            offset += 1 + (int(bounded.group(1)) + 31) // 32
        elif _STATIC.match(member_type):
            offset += 1
        else:
            raise ValueError(f"cannot place {member_type} in storage")
    raise ValueError(f"no member {field} in struct {struct}")


def office_department(r: Reader, contract: ProcessContract) -> str | None:
    """A licensing contract's department (its public `department()`), read-only; None if
    the contract has no such getter or the call fails."""
    from urbis.chain.context import BlockInfo
    from urbis.modules.contracts.module import read_only_call

    if not any(i.get("name") == "department" and i.get("type") == "function"
               for i in contract.abi):
        return None
    state = r.node.app.store
    signed = r.node.app.blocks.header(state.version)
    info = BlockInfo(r.node.app.chain_id or "", state.version,
                     signed.header.time_ms if signed is not None else 0, b"")
    try:
        data = contract_abi.encode_call(contract.abi, "department", [])
        outcome = read_only_call(state, info, contract.address, data, None)
        if not outcome.ok:
            return None
        (value,) = contract_abi.decode_output(contract.abi, "department", outcome.output)
    except (ValueError, TypeError):
        return None
    return str(value)


def _contract(r: Reader, ref: str) -> ProcessContract:
    for contract in process_contracts(r):
        if ref in (contract.name, contract.address.text):
            return contract
    raise NotFound(f"no process contract {ref}")


def status_label(r: Reader, steps: list[Step], subject: str) -> str:
    if subject == "licence":
        return r.t(licence_status(steps))
    owner = parcel_owner(steps)
    return f"{r.t('owner')}: {owner}" if owner else "—"


# -- pages --------------------------------------------------------------------------------------


def procedures(r: Reader) -> tuple[Html, int]:
    t = r.t
    parts = []
    for contract in process_contracts(r):
        rows = []
        found = steps_of(r, contract)
        for subject, steps in sorted(found.items(), key=lambda kv: -kv[1][-1].height):
            rows.append(
                [
                    tag(
                        "a",
                        tag("code", short(subject, 16)),
                        href=f"/procedures/{quote(contract.name)}/{subject}",
                    ),
                    t(contract.subject),
                    str(len(steps)),
                    steps[-1].event,
                    status_label(r, steps, contract.subject),
                    when(time_ms(r, steps[-1].height)),
                ]
            )
        parts.append(
            table(
                f"{contract.name}",
                [t("Procedure"), t("Kind"), t("Steps"), t("Last step"), t("Status"), t("Time")],
                rows,
            )
            if rows
            else tag("p", f"{contract.name}: ", t("No procedures yet."))
        )
    if not parts:
        parts.append(tag("p", t("No land registry or licensing contract is deployed.")))
    intro = tag(
        "p",
        t("Every step of a land sale or a licence, read from the contracts' events."),
        class_="hint",
    )
    return page(r, t("Procedures"), join([intro, *parts]))


def procedure(r: Reader, ref: str, subject: str) -> tuple[Html, int]:
    t = r.t
    subject = subject.lower().removeprefix("0x")
    if len(subject) != 64 or any(c not in "0123456789abcdef" for c in subject):
        raise BadQuery("a procedure is named by 32 bytes of hex")
    contract = _contract(r, ref)
    steps = steps_of(r, contract).get(subject)
    if not steps:
        raise NotFound(f"no procedure {subject} in {contract.name}")
    rows = []
    for number, step in enumerate(steps, start=1):
        details = {k: v for k, v in step.args.items() if k != contract.subject}
        rows.append(
            [
                str(number),
                step.event,
                account_link(step.sender),
                when(time_ms(r, step.height)),
                tx_link(step.tx_id),
                tag("code", json.dumps(details, ensure_ascii=False, sort_keys=True)),
            ]
        )
    body = join(
        [
            facts(
                [
                    (
                        t("Contract"),
                        tag("a", contract.name, href=f"/contracts/{quote(contract.name)}"),
                    ),
                    (t(contract.subject), tag("code", subject)),
                    (t("Status"), status_label(r, steps, contract.subject)),
                    (
                        t("Owner in the contract's storage")
                        if contract.subject == "parcel"
                        else t("State in the contract's storage"),
                        proven_field(r, contract, bytes.fromhex(subject)) or "—",
                    ),
                ]
            ),
            table(
                t("Steps"),
                ["#", t("Step"), t("Who"), t("Time"), t("Transaction"), t("Details")],
                rows,
                id="steps",
            ),
            verify_panel(r),
        ]
    )
    return page(r, f"{t('Procedure')} {short(subject, 16)}", body, scripts=["verify.js"])


def time_ms(r: Reader, height: int) -> int:
    """A block's time (ms), 0 when the block store no longer holds its header."""
    stored = r.node.app.blocks.header(height)
    return stored.header.time_ms if stored is not None else 0


def calls_for(contract: ProcessContract, *functions: str) -> dict[str, str]:
    """`data-selector-<fn>` attributes: the 4-byte selectors space.js prefixes its calls with."""
    return {f"data_selector_{f}": contract.selector(f) for f in functions}


Procedure = tuple[ProcessContract, str, list[Step]]


def account_procedures(
    r: Reader, account: AccountId
) -> tuple[list[Procedure], list[Procedure]]:
    """(the account's licences, the parcels it owns now), newest first."""
    licences: list[Procedure] = []
    parcels: list[Procedure] = []
    for contract in process_contracts(r):
        for subject, steps in steps_of(r, contract).items():
            if contract.subject == "licence":
                if any(
                    s.event == "Applied" and s.args.get("applicant") == account.text
                    for s in steps
                ):
                    licences.append((contract, subject, steps))
            elif parcel_owner(steps) == account.text:
                parcels.append((contract, subject, steps))
    licences.sort(key=lambda item: -item[2][-1].height)
    parcels.sort(key=lambda item: -item[2][-1].height)
    return licences, parcels
