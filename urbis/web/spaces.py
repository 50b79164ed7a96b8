"""The resident space and the department console: sign-in pages, then each space's page.

Nothing here signs a transaction: the pages show what is due and what can be done, and
space.js builds each transaction in the browser and signs it with the key this browser
holds (a non-extractable WebCrypto key; see README.md for why).
"""

from __future__ import annotations

import io
from typing import Any

import segno

from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted
from urbis.modules.payments import keys as payment_keys
from urbis.modules.payments import reports
from urbis.web.html import Html, join, tag
from urbis.web.layout import (
    Reader,
    account_link,
    amount,
    facts,
    page,
    proven,
    short,
    table,
    when,
)
from urbis.web.sections import console_sections, resident_sections
from urbis.web.signin import Session

Page = tuple[Html, int]
MANDATES_MAX = 100


def qr_svg(link: str, label: str) -> Html:
    """The openid4vp:// link as a QR code, drawn on the server (segno), for a phone's wallet."""
    out = io.BytesIO()
    segno.make(link, error="l").save(out, kind="svg", xmldecl=False, svgns=True, scale=2,
                                      title=label, svgclass="qr-code")
    return Html(out.getvalue().decode())


def signin_page(r: Reader, kind: str, request: dict[str, Any] | None, problem: str) -> Page:
    t = r.t
    title = t("Resident") if kind == "resident" else t("Department")
    wanted = "ResidentID" if kind == "resident" else "StaffID"
    parts: list[Any] = [
        tag("h2", t("Sign in")),
        tag(
            "p",
            t("Present your credential from your wallet:")
            + f" {wanted}. "
            + t("Scan the code with a phone wallet, open the link on this device, or answer "
                "it from a terminal with `urbis wallet respond`."),
        ),
    ]
    if request is None:
        parts.append(tag("p", problem, class_="failed", role="alert"))
    else:
        parts += [
            tag("div", qr_svg(request["link"], t("Sign-in code for your wallet")), class_="qr"),
            tag("p", tag("a", t("Open in the wallet on this device"), href=request["link"],
                         id="wallet-link")),
            tag("label", t("Sign-in link"), for_="signin-link"),
            tag("textarea", request["link"], id="signin-link", readonly=True, rows="3",
                class_="link-box"),
        ]
    parts += [
        tag("h2", t("This browser's key")),
        tag(
            "p",
            t("Your account key stays in this browser: it cannot be read out, only asked to "
              "sign. The registry adds its public key to your account once."),
        ),
        facts(
            [
                (t("Public key"), tag("code", "…", id="device-public-key")),
                (t("Account"), tag("code", "…", id="device-account")),
            ]
        ),
        tag("label", t("Account to sign in with"), for_="signin-account"),
        tag("input", id="signin-account", autocomplete="off", spellcheck="false"),
        tag("p", t("Waiting for the wallet…"), id="signin-status", role="status",
            aria_live="polite"),
    ]
    body = tag(
        "section",
        *parts,
        id="signin",
        data_kind=kind,
        data_state="" if request is None else request["state"],
    )
    return page(r, title, body, scripts=["verify.js", "space.js"])


def resident_space(r: Reader, session: Session) -> Page:
    t = r.t
    store = r.node.app.store
    payer = session.account
    decimals = _decimals(r)
    rows = []
    for invoice in reports.statement(store, payer):
        due = invoice["amount_minor"] - invoice["paid_minor"]
        key = payment_keys.invoice(bytes.fromhex(invoice["id"]))
        raw = store.get_at(key, r.height)
        if raw is None:
            continue
        record = decode_trusted(raw)
        places = decimals.get(record["asset"], 0)
        action: Any = "—"
        if record["status"] in ("open", "partially_paid"):
            action = tag(
                "button",
                f"{t('Pay')} {amount(due, places, record['asset'])}",
                type="button",
                class_="pay",
                data_invoice=invoice["id"],
                data_due=str(due),
            )
        rows.append(
            [
                tag("a", short(invoice["id"]), href=f"/invoices/{invoice['id']}"),
                record["department"],
                record["kind"],
                proven(key, "amount_minor", "money", amount(record["amount_minor"], places,
                       record["asset"]), decimals=str(places), asset=record["asset"]),
                proven(key, "status", "text", record["status"]),
                when(record["due_at_ms"]),
                action,
            ]
        )
    balances = []
    for code, places in decimals.items():
        key = payment_keys.balance(code, payer)
        raw = store.get_at(key, r.height)
        if raw is not None:
            shown = amount(int(decode_trusted(raw)), places, code)
            balances.append(
                [code, proven(key, "", "money", shown, decimals=str(places), asset=code)]
            )
    mandate_prefix = payment_keys.MANDATE_PREFIX + payer.raw + b"/"
    mandates = []
    for key, value in store.scan_prefix(mandate_prefix, MANDATES_MAX):
        mandate = decode_trusted(value)
        places = decimals.get(mandate["asset"], 0)

        def limit(field: str, key: bytes = key, mandate: dict[str, Any] = mandate,
                  places: int = places) -> Html:
            return proven(key, field, "money", amount(mandate[field], places, mandate["asset"]),
                          decimals=str(places), asset=mandate["asset"])

        mandates.append(
            [
                proven(key, "department", "text", mandate["department"]),
                limit("per_invoice_max_minor"),
                limit("per_month_max_minor"),
                tag("button", t("Revoke"), type="button", class_="revoke secondary",
                    data_department=mandate["department"]),
            ]
        )
    departments = [d["id"] for d in r.node.app.query("governance", "departments", {})]
    mandate_form = tag(
        "form",
        tag("label", t("Department"), for_="mandate-department"),
        tag("select", *(tag("option", d, value=d) for d in departments),
            id="mandate-department"),
        tag("label", t("Asset"), for_="mandate-asset"),
        tag("select", *(tag("option", a, value=a, data_decimals=str(decimals[a]))
                        for a in sorted(decimals)), id="mandate-asset"),
        tag("label", t("At most per invoice"), for_="mandate-invoice"),
        tag("input", id="mandate-invoice", required=True, inputmode="decimal",
            autocomplete="off"),
        tag("label", t("At most per month"), for_="mandate-month"),
        tag("input", id="mandate-month", required=True, inputmode="decimal", autocomplete="off"),
        tag("button", t("Sign and set the mandate"), type="submit"),
        id="mandate-form",
        class_="stack",
        aria_labelledby="mandates-title",
    )
    claims = session.claims
    body = join(
        [
            _session_bar(r, session, "resident"),
            facts(
                [(t("Account"), account_link(payer.text))]
                + [(str(k), str(v)) for k, v in sorted(claims.items())]
            ),
            table(t("Balances"), [t("Asset"), t("Balance")], balances)
            if balances
            else tag("p", t("No balances.")),
            table(
                t("Invoices"),
                [t("Invoice"), t("Department"), t("Kind"), t("Amount"), t("Status"), t("Due"),
                 t("Actions")],
                rows,
                id="my-invoices",
            )
            if rows
            else tag("p", t("No invoices.")),
            tag("p", "", id="space-status", role="status", aria_live="polite"),
            tag("h2", t("Mandates"), id="mandates-title"),
            tag("p", t("A mandate lets a department collect your invoices, within limits, "
                       "until you revoke it.")),
            table(t("Mandates"), [t("Department"), t("At most per invoice"),
                                  t("At most per month"), t("Actions")], mandates,
                  id="my-mandates")
            if mandates
            else tag("p", t("No mandates.")),
            mandate_form,
            resident_sections(r, session),
            tag("h2", t("Verify in this browser")),
            tag("button", t("Verify in this browser"), type="button", id="verify-button"),
            tag("p", "", id="verify-status", role="status", aria_live="polite"),
            tag("ul", id="verify-details", class_="verify-details"),
        ]
    )
    return page(r, t("Resident"), body, scripts=["verify.js", "space.js"])


def department_console(r: Reader, session: Session) -> Page:
    t = r.t
    store = r.node.app.store
    department = str(session.claims.get("department", ""))
    latest = r.node.app.blocks.header(r.node.app.store.version)
    now = 0 if latest is None else latest.header.time_ms
    decimals = _decimals(r)
    open_rows = [
        [
            tag("a", short(row["id"]), href=f"/invoices/{row['id']}"),
            account_link(row["payer"]),
            row["kind"],
            amount(row["amount_minor"] - row["paid_minor"], decimals.get(row["asset"], 0),
                   row["asset"]),
            t("overdue") if row.get("overdue") else "",
        ]
        for row in reports.open_invoices(store, department or None, now)
    ]
    assets = sorted(decimals)
    holders = [
        [
            tag("code", role),
            account_link(holder.text),
            tag("button", t("Revoke"), type="button", class_="revoke-role secondary",
                data_role=role.split(".", 1)[1], data_account=holder.text),
        ]
        for role, holder in _role_holders(r, department)
    ]
    body = join(
        [
            _session_bar(r, session, "staff"),
            facts(
                [
                    (t("Department"), department or "—"),
                    (t("Account"), account_link(session.account.text)),
                    (t("Money"), tag("a", t("Revenue by month"), href=f"/money#dept-{department}")),
                ]
            ),
            tag("h2", t("Issue an invoice"), id="issue-title"),
            tag(
                "form",
                tag("label", t("Payer account"), for_="invoice-payer"),
                tag("input", id="invoice-payer", required=True, autocomplete="off",
                    spellcheck="false"),
                tag("label", t("Kind"), for_="invoice-kind"),
                tag("select", *(tag("option", k, value=k) for k in
                                ("tax", "utility", "fee", "fine")), id="invoice-kind"),
                tag("label", t("Asset"), for_="invoice-asset"),
                tag("select", *(tag("option", a, value=a, data_decimals=str(decimals[a]))
                                for a in assets), id="invoice-asset"),
                tag("label", t("Amount"), for_="invoice-amount"),
                tag("input", id="invoice-amount", required=True, inputmode="decimal",
                    pattern=r"[0-9]+([.][0-9]{1,18})?", autocomplete="off"),
                tag("label", t("Due date"), for_="invoice-due"),
                tag("input", id="invoice-due", type="date", required=True),
                tag("label", t("Details (kept off chain; only their hash is recorded)"),
                    for_="invoice-details"),
                tag("textarea", "", id="invoice-details", rows="2"),
                tag("button", t("Sign and issue"), type="submit"),
                id="issue-form",
                class_="stack",
                data_department=department,
                aria_labelledby="issue-title",
            ),
            tag("h2", t("Anchor a document"), id="anchor-title"),
            tag(
                "form",
                tag(
                    "div",
                    tag("p", t("Drop a file here, or choose one. Its SHA-256 is computed in "
                               "your browser; the file is never uploaded."), id="anchor-hint"),
                    tag("label", t("File to anchor"), for_="anchor-file"),
                    tag("input", type="file", id="anchor-file", aria_describedby="anchor-hint"),
                    class_="dropzone",
                    id="anchor-zone",
                ),
                tag("label", t("Type"), for_="anchor-type"),
                tag("input", id="anchor-type", value="deed", required=True),
                tag("label", t("Reference"), for_="anchor-reference"),
                tag("input", id="anchor-reference", autocomplete="off"),
                tag("button", t("Sign and anchor"), type="submit"),
                id="anchor-form",
                class_="stack",
                data_department=department,
                aria_labelledby="anchor-title",
            ),
            tag("h2", t("Roles"), id="roles-title"),
            table(t("Roles"), [t("Role"), t("Account"), t("Actions")], holders, id="role-holders")
            if holders
            else tag("p", t("No roles granted.")),
            tag(
                "form",
                tag("label", t("Role (e.g. billing, notary)"), for_="role-name"),
                tag("input", id="role-name", required=True, pattern="[a-z0-9_]+",
                    autocomplete="off"),
                tag("label", t("Account"), for_="role-account"),
                tag("input", id="role-account", required=True, autocomplete="off",
                    spellcheck="false"),
                tag("button", t("Sign and grant"), type="submit"),
                id="role-form",
                class_="stack",
                data_department=department,
                aria_labelledby="roles-title",
            ),
            tag("p", "", id="space-status", role="status", aria_live="polite"),
            table(
                t("Open invoices"),
                [t("Invoice"), t("Payer"), t("Kind"), t("Amount"), t("Status")],
                open_rows,
                id="open-invoices",
            )
            if open_rows
            else tag("p", t("No open invoices.")),
            console_sections(r, session),
        ]
    )
    return page(r, t("Department"), body, scripts=["verify.js", "space.js"])


def _session_bar(r: Reader, session: Session, kind: str) -> Html:
    t = r.t
    return tag(
        "form",
        tag("span", t("Signed in as") + " ", account_link(session.account.text)),
        " ",
        tag("button", t("Sign out"), type="submit", class_="secondary"),
        action="/signout",
        method="post",
        class_="session",
        id="session",
        data_account=session.account.text,
        data_kind=kind,
    )


def _role_holders(r: Reader, department: str) -> list[tuple[str, AccountId]]:
    """(`dept.role`, holder) of every role granted in a department (governance's key layout)."""
    from urbis.web.explorer import ROLE_PREFIX, ROLES_MAX

    prefix = ROLE_PREFIX + department.encode() + b"."
    return [
        (key[len(ROLE_PREFIX) : -21].decode(errors="replace"), AccountId(key[-20:]))
        for key, _ in r.node.app.store.scan_prefix(prefix, ROLES_MAX)
    ]


def _decimals(r: Reader) -> dict[str, int]:
    rows = r.node.app.store.scan_prefix(payment_keys.ASSET_PREFIX, 100)
    return {
        key[len(payment_keys.ASSET_PREFIX) :].decode(): int(decode_trusted(value)["decimals"])
        for key, value in rows
    }

