"""Reports for people (read side, not consensus): revenue, statements, open invoices.

Built from committed state (invoices) and the block store's receipts, so a
report can be re-derived by anyone who holds the chain, and every figure in it
traces back to `payments.invoice_paid` / `payments.refunded` events.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from urbis.chain.codec import from_wire
from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted
from urbis.modules.payments import keys
from urbis.modules.payments.keeper import month_of
from urbis.modules.payments.records import Invoice


def invoices(store: Any) -> list[Invoice]:
    return [
        from_wire(Invoice, decode_trusted(v))
        for _, v in store.scan_prefix(keys.INVOICE_PREFIX, limit=1_000_000)
    ]


def revenue(store: Any, blocks: Any, department: str, payee: AccountId) -> list[dict[str, Any]]:
    """Net revenue (paid - refunded) per month and invoice kind, in minor units."""
    kinds = {i.id.hex(): (i.kind, i.asset) for i in invoices(store) if i.department == department}
    totals: dict[tuple[str, str, str], dict[str, int]] = defaultdict(
        lambda: {"paid_minor": 0, "refunded_minor": 0, "payments": 0}
    )
    times: dict[int, int] = {}
    for stored in blocks.account_txs(payee.raw, limit=1_000_000):
        if stored.height not in times:
            header = blocks.header(stored.height)
            times[stored.height] = 0 if header is None else header.header.time_ms
        for event in stored.receipt.events:
            if event.attrs.get("department") != department:
                continue
            invoice_id = event.attrs.get("id", b"")
            key_id = invoice_id.hex() if isinstance(invoice_id, bytes) else str(invoice_id)
            if key_id not in kinds:
                continue
            kind, asset = kinds[key_id]
            bucket = totals[(month_of(times[stored.height]), kind, asset)]
            if event.type == "payments.invoice_paid":
                bucket["paid_minor"] += int(event.attrs["amount_minor"])
                bucket["payments"] += 1
            elif event.type == "payments.refunded":
                bucket["refunded_minor"] += int(event.attrs["amount_minor"])
    return [
        {
            "month": month,
            "kind": kind,
            "asset": asset,
            **values,
            "net_minor": values["paid_minor"] - values["refunded_minor"],
        }
        for (month, kind, asset), values in sorted(totals.items())
    ]


def statement(store: Any, payer: AccountId) -> list[dict[str, Any]]:
    """Every invoice billed to `payer`, with what was paid and refunded."""
    return [invoice_row(i) for i in invoices(store) if i.payer == payer]


def open_invoices(store: Any, department: str | None, now_ms: int) -> list[dict[str, Any]]:
    """Invoices still owed, marked overdue when their due date has passed."""
    rows = []
    for invoice in invoices(store):
        if invoice.status not in ("open", "partially_paid"):
            continue
        if department is not None and invoice.department != department:
            continue
        rows.append({**invoice_row(invoice), "overdue": now_ms > invoice.due_at_ms})
    return rows


def invoice_row(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.id.hex(),
        "department": invoice.department,
        "payer": invoice.payer.text,
        "kind": invoice.kind,
        "asset": invoice.asset,
        "amount_minor": invoice.amount_minor,
        "paid_minor": invoice.paid_minor,
        "refunded_minor": invoice.refunded_minor,
        "status": invoice.status,
        "due_at_ms": invoice.due_at_ms,
    }
