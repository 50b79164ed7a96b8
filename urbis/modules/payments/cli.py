"""`urbis pay`: city money — transfers, invoices, refunds, escrow, mandates, HTLCs, reports."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from urbis.cli.common import (
    DEFAULT_HOME,
    ApiOption,
    FromOption,
    HomeOption,
    JsonOption,
    account_or_key,
    act,
    client,
    emit,
    fail,
    home_path,
    print_grid,
    read_bytes,
    reported,
    stdout,
    table,
    trusted_validators,
)
from urbis.cli.money import Assets, moment
from urbis.modules.payments.corridor_cli import corridor_app
from urbis.sdk.client import Client
from urbis.sdk.verify import verify_state_proof

app = typer.Typer(
    help="Payments: transfers, invoices, escrow, mandates, swaps", no_args_is_help=True
)
invoice_app = typer.Typer(help="Invoices", no_args_is_help=True)
escrow_app = typer.Typer(help="Escrow", no_args_is_help=True)
mandate_app = typer.Typer(help="Mandates", no_args_is_help=True)
htlc_app = typer.Typer(help="Hash-time-locked transfers (atomic swaps)", no_args_is_help=True)
report_app = typer.Typer(help="Reports (a table, JSON or CSV)", no_args_is_help=True)
receipt_app = typer.Typer(help="Payment receipts", no_args_is_help=True)
for sub, name in (
    (invoice_app, "invoice"),
    (escrow_app, "escrow"),
    (mandate_app, "mandate"),
    (htlc_app, "htlc"),
    (report_app, "report"),
    (receipt_app, "receipt"),
):
    app.add_typer(sub, name=name)
app.add_typer(corridor_app, name="corridor")

Asset = Annotated[str, typer.Option("--asset", help="Asset code, e.g. EUR")]
Amount = Annotated[int, typer.Option("--amount", help="Amount in minor units (cents)")]
Department = Annotated[str, typer.Option("--department", help="Department id")]
IdOption = Annotated[str | None, typer.Option("--id", help="Id (hex); random if omitted")]


def _id(value: str | None) -> bytes:
    if value is None:
        return os.urandom(16)
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        fail("cli.bad_id", f"id {value[:80]!r} must be hex (8 to 32 bytes)", 2)
    return raw


def _hex(value: str, what: str) -> bytes:
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        fail("cli.bad_hex", f"{what} must be hex, not {value[:80]!r}", 2)


def _assets(node: Client) -> Assets:
    return Assets(lambda code: node.call("payments", f"assets/{code}"))


def _act(
    home: Path, api: str | None, signer: str, action_name: str, as_json: bool, /, **args: Any
) -> dict[str, Any]:
    return act("payments", action_name, home_path(home), api, signer, as_json, **args)


@app.command("transfer")
def transfer(
    recipient: Annotated[str, typer.Argument(help="Account id or key name")],
    asset: Asset,
    amount: Amount,
    signer: FromOption,
    transfer_id: IdOption = None,
    pending_timeout_blocks: Annotated[
        int, typer.Option(help="Reserve only; post or void within this many blocks")
    ] = 0,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send money; the id makes a retry safe (the same id never pays twice).

    Example: urbis pay transfer bob --asset EUR --amount 1250 --from alice
    """
    _act(
        home,
        api,
        signer,
        "transfer",
        as_json,
        id=_id(transfer_id),
        recipient=account_or_key(recipient, home_path(home)),
        asset=asset,
        amount_minor=amount,
        pending_timeout_blocks=pending_timeout_blocks,
    )


@app.command("mint")
def mint(
    recipient: str,
    asset: Asset,
    amount: Amount,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issuer only: create money against fiat deposited with the city.

    Example: urbis pay mint alice --asset EUR --amount 100000 --from finance
    """
    _act(
        home,
        api,
        signer,
        "mint",
        as_json,
        asset=asset,
        recipient=account_or_key(recipient, home_path(home)),
        amount_minor=amount,
    )


@app.command("balance")
def balance(
    account: str,
    asset: Asset,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show an account's balance.

    Example: urbis pay balance alice --asset EUR
    """
    target = account_or_key(account, home_path(home))
    with reported():
        node = client(api)
        data = node.call("payments", f"balances/{target.text}", asset=asset)
    emit(
        data,
        as_json,
        lambda d: stdout.print(
            f"{d['account']}: {_assets(node).show(d['balance_minor'], asset)}", highlight=False
        ),
    )


@invoice_app.command("issue")
def invoice_issue(
    payer: str,
    department: Department,
    asset: Asset,
    amount: Amount,
    signer: FromOption,
    kind: Annotated[str, typer.Option(help="tax, utility, fee or fine")] = "tax",
    due_days: Annotated[int, typer.Option(help="Due in this many days")] = 30,
    details: Annotated[
        Path | None, typer.Option(help="File with the line items; only its SHA-256 goes on chain")
    ] = None,
    late_fee_kind: Annotated[str, typer.Option(help="none, flat, per_day")] = "none",
    late_fee: Annotated[int, typer.Option(help="Late fee, minor units")] = 0,
    invoice_id: IdOption = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """A department bills a payer (needs `<department>.billing`).

    Example: urbis pay invoice issue alice --department finance --asset EUR
    --amount 48000 --from finance
    """
    digest = hashlib.sha256(read_bytes(details, "details") if details else b"").digest()
    new_id = _id(invoice_id)
    _act(
        home,
        api,
        signer,
        "issue_invoice",
        as_json,
        id=new_id,
        department=department,
        payer=account_or_key(payer, home_path(home)),
        kind=kind,
        asset=asset,
        amount_minor=amount,
        due_at_ms=int(time.time() * 1000) + due_days * 86_400_000,
        details_hash=digest,
        late_fee_kind=late_fee_kind,
        late_fee_minor=late_fee,
    )
    if not as_json:
        stdout.print(f"invoice id: {new_id.hex()}")


@invoice_app.command("pay")
def invoice_pay(
    invoice_id: str,
    amount: Amount,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pay (part of) an invoice billed to you.

    Example: urbis pay invoice pay 3fa2… --amount 48000 --from alice
    """
    _act(home, api, signer, "pay_invoice", as_json, invoice_id=_id(invoice_id), amount_minor=amount)


@invoice_app.command("show")
def invoice_show(invoice_id: str, api: ApiOption = None, as_json: JsonOption = False) -> None:
    """Show an invoice.

    Example: urbis pay invoice show 3fa2…
    """
    with reported():
        node = client(api)
        data = node.call("payments", f"invoices/{_id(invoice_id).hex()}", prove="false")["record"]
    emit(data, as_json, lambda d: table(f"Invoice {d['id']}", _invoice_rows(d, _assets(node))))


def _invoice_rows(invoice: dict[str, Any], assets: Assets) -> list[tuple[str, Any]]:
    asset = invoice["asset"]
    return [
        ("status", invoice["status"]),
        ("kind", invoice["kind"]),
        ("department", invoice["department"]),
        ("payer", invoice["payer"]),
        ("payee", invoice.get("payee", "-")),
        ("amount", assets.show(invoice["amount_minor"], asset)),
        ("paid", assets.show(invoice["paid_minor"], asset)),
        ("refunded", assets.show(invoice["refunded_minor"], asset)),
        ("due", moment(invoice["due_at_ms"])),
        (
            "late fee",
            "none"
            if invoice.get("late_fee_kind", "none") == "none"
            else f"{assets.show(invoice['late_fee_minor'], asset)} ({invoice['late_fee_kind']})",
        ),
    ]


@invoice_app.command("list")
def invoice_list(
    payer: Annotated[
        str | None, typer.Option(help="Every invoice billed to this account or key")
    ] = None,
    department: Annotated[
        str | None, typer.Option(help="Unpaid invoices of this department (with --payer: filter)")
    ] = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """List invoices: all of a payer's, or a department's unpaid ones (overdue marked).

    Example: urbis pay invoice list --payer alice ; urbis pay invoice list --department finance
    """
    if payer is None and department is None:
        fail("cli.bad_input", "give --payer ACCOUNT or --department ID (or both)", 2)
    with reported():
        node = client(api)
        if payer is not None:
            who = account_or_key(payer, home_path(home)).text
            rows = node.call("payments", f"reports/statement/{who}")
            rows = [r for r in rows if department is None or r["department"] == department]
        else:
            rows = node.call("payments", "reports/open", department=department)

    def human(items: list[dict[str, Any]]) -> None:
        if not items:
            stdout.print("No invoices.")
            return
        assets = _assets(node)
        grid = Table(show_header=True, header_style="bold", box=None)
        columns = ["invoice", "department", "payer", "kind", "amount", "paid", "status", "due"]
        if payer is not None:
            columns.remove("payer")  # one payer: the column would repeat it on every row
        for column in columns:
            grid.add_column(column, overflow="fold")
        for row in items:
            status = row["status"] + (" (overdue)" if row.get("overdue") else "")
            grid.add_row(
                row["id"],
                row["department"],
                *([] if payer is not None else [row["payer"]]),
                row["kind"],
                assets.show(row["amount_minor"], row["asset"]),
                assets.show(row["paid_minor"] - row["refunded_minor"], row["asset"]),
                status,
                moment(row["due_at_ms"]),
            )
        print_grid(grid)

    emit(rows, as_json, human)


@invoice_app.command("cancel")
def invoice_cancel(
    invoice_id: str,
    department: Department,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel an unpaid invoice (its department's billing role).

    Example: urbis pay invoice cancel 3fa2… --department finance --from finance
    """
    _act(
        home,
        api,
        signer,
        "cancel_invoice",
        as_json,
        department=department,
        invoice_id=_id(invoice_id),
    )


@invoice_app.command("collect")
def invoice_collect(
    invoice_id: str,
    department: Department,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Collect an invoice under the payer's mandate.

    Example: urbis pay invoice collect 3fa2… --department finance --from finance
    """
    _act(
        home,
        api,
        signer,
        "collect_invoice",
        as_json,
        department=department,
        invoice_id=_id(invoice_id),
    )


@app.command("refund")
def refund(
    invoice_id: str,
    department: Department,
    amount: Amount,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Refund (part of) what was paid on an invoice; never more than was paid.

    Example: urbis pay refund 3fa2… --department finance --amount 1000 --from finance
    """
    _act(
        home,
        api,
        signer,
        "refund",
        as_json,
        department=department,
        invoice_id=_id(invoice_id),
        amount_minor=amount,
    )


@mandate_app.command("set")
def mandate_set(
    department: Department,
    asset: Asset,
    signer: FromOption,
    per_invoice: Annotated[int, typer.Option(help="Max per invoice, minor units")],
    per_month: Annotated[int, typer.Option(help="Max per month, minor units")],
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Let a department collect your invoices within limits.

    Example: urbis pay mandate set --department utilities --asset EUR
    --per-invoice 20000 --per-month 40000 --from alice
    """
    _act(
        home,
        api,
        signer,
        "set_mandate",
        as_json,
        department=department,
        asset=asset,
        per_invoice_max_minor=per_invoice,
        per_month_max_minor=per_month,
    )


@mandate_app.command("revoke")
def mandate_revoke(
    department: Department,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Withdraw a mandate.

    Example: urbis pay mandate revoke --department utilities --from alice
    """
    _act(home, api, signer, "revoke_mandate", as_json, department=department)


@escrow_app.command("open")
def escrow_open(
    beneficiary: str,
    asset: Asset,
    amount: Amount,
    signer: FromOption,
    approvers: Annotated[str, typer.Option(help="Comma-separated accounts or keys")],
    timeout_blocks: Annotated[int, typer.Option(help="Blocks before it returns")] = 10_000,
    escrow_id: IdOption = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Hold funds until every approver approves; returned after the timeout.

    Example: urbis pay escrow open bob --asset EUR --amount 500000
    --approvers alice,bob,land --from alice
    """
    root = home_path(home)
    new_id = _id(escrow_id)
    _act(
        home,
        api,
        signer,
        "open_escrow",
        as_json,
        id=new_id,
        beneficiary=account_or_key(beneficiary, root),
        asset=asset,
        amount_minor=amount,
        approvers=[account_or_key(a.strip(), root) for a in approvers.split(",") if a.strip()],
        timeout_blocks=timeout_blocks,
    )
    if not as_json:
        stdout.print(f"escrow id: {new_id.hex()}")


@escrow_app.command("approve")
def escrow_approve(
    escrow_id: str,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve an escrow; the last approval releases it.

    Example: urbis pay escrow approve 9c1e… --from land
    """
    _act(home, api, signer, "approve_escrow", as_json, id=_id(escrow_id))


@htlc_app.command("lock")
def htlc_lock(
    recipient: str,
    asset: Asset,
    amount: Amount,
    signer: FromOption,
    hashlock: Annotated[str, typer.Option(help="SHA-256 of the secret, hex")],
    timeout_blocks: Annotated[int, typer.Option(help="Blocks until refundable")] = 1000,
    htlc_id: IdOption = None,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Lock funds for `recipient` under a hash until a deadline.

    Example: urbis pay htlc lock bob --asset EUR --amount 1000 --hashlock 5e88… --from alice
    """
    new_id = _id(htlc_id)
    _act(
        home,
        api,
        signer,
        "lock_htlc",
        as_json,
        id=new_id,
        recipient=account_or_key(recipient, home_path(home)),
        asset=asset,
        amount_minor=amount,
        hashlock=_hex(hashlock, "--hashlock"),
        timeout_blocks=timeout_blocks,
    )
    if not as_json:
        stdout.print(f"htlc id: {new_id.hex()}")


@htlc_app.command("claim")
def htlc_claim(
    htlc_id: str,
    preimage: Annotated[str, typer.Option(help="The secret, hex")],
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Claim locked funds by revealing the secret.

    Example: urbis pay htlc claim 77ab… --preimage 736563726574 --from bob
    """
    _act(
        home,
        api,
        signer,
        "claim_htlc",
        as_json,
        id=_id(htlc_id),
        preimage=_hex(preimage, "--preimage"),
    )


@htlc_app.command("refund")
def htlc_refund(
    htlc_id: str,
    signer: FromOption,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take back locked funds after the deadline.

    Example: urbis pay htlc refund 77ab… --from alice
    """
    _act(home, api, signer, "refund_htlc", as_json, id=_id(htlc_id))


@receipt_app.command("verify")
def receipt_verify(
    invoice_id: str,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    as_json: JsonOption = False,
) -> None:
    """Prove what an invoice shows as paid, against a signed header, on this machine.

    Example: urbis pay receipt verify 3fa2…
    """
    with reported():
        answer = client(api).call("payments", f"invoices/{invoice_id}", prove="true")
        validators, chain_id, pinned = trusted_validators(home_path(home), api)
        verified = verify_state_proof(answer, validators, chain_id=chain_id)
    if verified.value is None:
        fail("payments.invoice_not_found", "the proof shows no such invoice")
    record = answer["record"]
    data = {**record, "proof_height": verified.height, "pinned_genesis": pinned}
    emit(
        data,
        as_json,
        lambda d: table(
            f"Invoice {d['id']} (proof verified at height {d['proof_height']})",
            _invoice_rows(d, _assets(client(api))),
        ),
    )


REPORT_COLUMNS = {
    "revenue": [
        ("month", "month"),
        ("kind", "kind"),
        ("paid", "paid_minor"),
        ("refunded", "refunded_minor"),
        ("net", "net_minor"),
        ("payments", "payments"),
    ],
    "statement": [
        ("invoice", "id"),
        ("department", "department"),
        ("kind", "kind"),
        ("amount", "amount_minor"),
        ("paid", "paid_minor"),
        ("refunded", "refunded_minor"),
        ("status", "status"),
        ("due", "due_at_ms"),
    ],
    "open": [
        ("invoice", "id"),
        ("department", "department"),
        ("payer", "payer"),
        ("kind", "kind"),
        ("amount", "amount_minor"),
        ("paid", "paid_minor"),
        ("status", "status"),
        ("due", "due_at_ms"),
    ],
}
"""The columns of each report's table, as (heading, field); CSV and JSON keep every field."""


def _report(kind: str, path: str, api: str | None, csv: bool, as_json: bool, **params: str) -> None:
    with reported():
        http = client(api)
        if csv:
            import httpx

            try:
                response = httpx.get(
                    str(http._http.base_url) + "/v1/payments/reports/" + path,
                    params={**params, "format": "csv"},
                    timeout=60,
                )
            except httpx.TransportError as error:
                fail("client.unreachable", f"cannot reach {http._http.base_url}: {error}")
            if response.status_code >= 400:
                http.call("payments", "reports/" + path, **params)  # raises the coded error
            typer.echo(response.text, nl=False)
            return
        rows = http.call("payments", "reports/" + path, **params)
    emit(rows, as_json, lambda items: _report_table(kind, items, _assets(http)))


def _report_table(kind: str, rows: list[dict[str, Any]], assets: Assets) -> None:
    """A report for people: money in its asset's units, dates as dates."""
    if not rows:
        stdout.print("Nothing to report.")
        return
    grid = Table(show_header=True, header_style="bold", box=None)
    columns = REPORT_COLUMNS[kind]
    for heading, _ in columns:
        grid.add_column(heading, overflow="fold", justify="left")
    for row in rows:
        cells = []
        for _, field in columns:
            value = row.get(field)
            if field.endswith("_minor"):
                cells.append(assets.show(int(value or 0), row["asset"]))
            elif field.endswith("_ms"):
                cells.append(moment(int(value or 0)))
            elif field == "status" and row.get("overdue"):
                cells.append(f"{value} (overdue)")
            else:
                cells.append("" if value is None else str(value))
        grid.add_row(*cells)
    print_grid(grid)


ReportJson = Annotated[bool, typer.Option("--json", help="JSON for scripts (integers, ms)")]
ReportCsv = Annotated[bool, typer.Option("--csv", help="CSV for spreadsheets")]


@report_app.command("revenue")
def report_revenue(
    department: Department,
    api: ApiOption = None,
    csv: ReportCsv = False,
    as_json: ReportJson = False,
) -> None:
    """Net revenue of a department by month and invoice kind (a table, --json or --csv).

    Example: urbis pay report revenue --department finance --csv > revenue.csv
    """
    _report("revenue", "revenue", api, csv, as_json, department=department)


@report_app.command("statement")
def report_statement(
    account: str,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    csv: ReportCsv = False,
    as_json: ReportJson = False,
) -> None:
    """Every invoice billed to an account.

    Example: urbis pay report statement alice
    """
    who = account_or_key(account, home_path(home)).text
    _report("statement", f"statement/{who}", api, csv, as_json)


@report_app.command("open")
def report_open(
    department: Annotated[str | None, typer.Option(help="Only this department")] = None,
    api: ApiOption = None,
    csv: ReportCsv = False,
    as_json: ReportJson = False,
) -> None:
    """Unpaid invoices, overdue ones marked.

    Example: urbis pay report open --department finance
    """
    params = {} if department is None else {"department": department}
    _report("open", "open", api, csv, as_json, **params)


COMMANDS = [("pay", app)]
