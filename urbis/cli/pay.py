"""`urbis pay`: city money — transfers, invoices, refunds, escrow, mandates, HTLCs, reports."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from urbis.cli.common import (
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
    read_bytes,
    reported,
    stdout,
    table,
    trusted_validators,
)
from urbis.sdk.verify import verify_state_proof

app = typer.Typer(
    help="Payments: transfers, invoices, escrow, mandates, swaps", no_args_is_help=True
)
invoice_app = typer.Typer(help="Invoices", no_args_is_help=True)
escrow_app = typer.Typer(help="Escrow", no_args_is_help=True)
mandate_app = typer.Typer(help="Mandates", no_args_is_help=True)
htlc_app = typer.Typer(help="Hash-time-locked transfers (atomic swaps)", no_args_is_help=True)
report_app = typer.Typer(help="Reports (JSON or CSV)", no_args_is_help=True)
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

DEFAULT_HOME = Path("~/.urbis")
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


def _act(
    home: Path, api: str | None, signer: str, action_name: str, as_json: bool, /, **args: Any
) -> dict[str, Any]:
    return act("payments", action_name, home_path(home), api, signer, as_json, **args)


@app.command("transfer")
def transfer(
    recipient: Annotated[str, typer.Argument(help="Account id or wallet key name")],
    asset: Asset,
    amount: Amount,
    signer: FromOption,
    transfer_id: IdOption = None,
    pending_timeout: Annotated[
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
        pending_timeout=pending_timeout,
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
        data = client(api).call("payments", f"balances/{target.text}", asset=asset)
    emit(
        data,
        as_json,
        lambda d: stdout.print(f"{d['account']}: {d['balance_minor']} {asset} (minor units)"),
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
        data = client(api).call("payments", f"invoices/{invoice_id}", prove="false")["record"]
    emit(data, as_json, lambda d: table(f"Invoice {d['id']}", list(d.items())))


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
    timeout: Annotated[int, typer.Option(help="Blocks before it returns")] = 10_000,
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
        timeout=timeout,
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
    timeout: Annotated[int, typer.Option(help="Blocks until refundable")] = 1000,
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
        timeout=timeout,
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
            [
                ("status", d["status"]),
                ("paid", d["paid_minor"]),
                ("refunded", d["refunded_minor"]),
                ("amount", d["amount_minor"]),
                ("payer", d["payer"]),
                ("department", d["department"]),
            ],
        ),
    )


def _report(path: str, api: str | None, csv: bool, **params: str) -> None:
    with reported():
        http = client(api)
        if csv:
            import httpx

            response = httpx.get(
                str(http._http.base_url) + "/v1/payments/reports/" + path,
                params={**params, "format": "csv"},
                timeout=60,
            )
            typer.echo(response.text, nl=False)
            return
        rows = http.call("payments", "reports/" + path, **params)
    emit(rows, True, lambda _: None)


@report_app.command("revenue")
def report_revenue(
    department: Department,
    api: ApiOption = None,
    csv: Annotated[bool, typer.Option("--csv", help="CSV instead of JSON")] = False,
) -> None:
    """Net revenue of a department by month and invoice kind.

    Example: urbis pay report revenue --department finance --csv > revenue.csv
    """
    _report("revenue", api, csv, department=department)


@report_app.command("statement")
def report_statement(
    account: str,
    home: HomeOption = DEFAULT_HOME,
    api: ApiOption = None,
    csv: Annotated[bool, typer.Option("--csv", help="CSV instead of JSON")] = False,
) -> None:
    """Every invoice billed to an account.

    Example: urbis pay report statement alice
    """
    _report(f"statement/{account_or_key(account, home_path(home)).text}", api, csv)


@report_app.command("open")
def report_open(
    department: Annotated[str | None, typer.Option(help="Only this department")] = None,
    api: ApiOption = None,
    csv: Annotated[bool, typer.Option("--csv", help="CSV instead of JSON")] = False,
) -> None:
    """Unpaid invoices, overdue ones marked.

    Example: urbis pay report open --department finance
    """
    params = {} if department is None else {"department": department}
    _report("open", api, csv, **params)
