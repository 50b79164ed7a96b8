"""Second-pass sections of the resident space (licences, parcels, vehicles, who read my
data) and of the department console (licence applications, council proposals).

As in spaces.py, nothing here signs: the forms carry what space.js needs (a contract's
address and its functions' 4-byte selectors) and the browser builds, encodes and signs
each transaction with its own key.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from urbis.chain.ids import AccountId
from urbis.crypto.encoding import decode_trusted
from urbis.modules.governance import keys as governance_keys
from urbis.modules.vehicles import keys as vehicle_keys
from urbis.web.html import Html, join, tag
from urbis.web.layout import Reader, account_link, block_link, proven, short, table, when
from urbis.web.processes import (
    account_procedures,
    calls_for,
    licence_status,
    office_department,
    process_contracts,
    steps_of,
    time_ms,
)
from urbis.web.signin import Session

VEHICLES_SCAN_MAX = 10_000
"""The vehicles module keeps no owner index: the space reads at most this many records."""
STREAMS_MAX = 1000
ACCESSES_MAX = 10_000
PROPOSALS_MAX = 200


def _procedure_link(contract: str, subject: str) -> Html:
    href = f"/procedures/{quote(contract)}/{subject}"
    return tag("a", tag("code", short(subject, 12)), href=href)


# -- resident -----------------------------------------------------------------------------------


def resident_sections(r: Reader, session: Session) -> Html:
    return join(
        [
            _licences(r, session.account),
            _parcels(r, session.account),
            _vehicles(r, session.account),
            _data_reads(r, session.account),
        ]
    )


def _licences(r: Reader, account: AccountId) -> Html:
    t = r.t
    licences, _ = account_procedures(r, account)
    rows = []
    for contract, subject, steps in licences:
        applied = next(s for s in steps if s.event == "Applied")
        status = licence_status(steps)
        fee = applied.args.get("fee_invoice")
        rows.append(
            [
                _procedure_link(contract.name, subject),
                str(applied.args.get("kind", "")),
                tag("span", t(status), class_=f"licence-status {status}", data_licence=subject),
                tag("a", short(str(fee)), href=f"/invoices/{fee}") if fee else "—",
                when(time_ms(r, steps[-1].height)),
            ]
        )
    offices = [c for c in process_contracts(r) if c.subject == "licence"]
    parts: list[Any] = [tag("h2", t("Licences"), id="licences-title")]
    parts.append(
        table(t("Licences"), [t("Licence"), t("Kind"), t("Status"), t("Fee invoice"),
                              t("Time")], rows, id="my-licences")
        if rows
        else tag("p", t("No licence applications."))
    )
    if offices:
        parts.append(
            tag(
                "form",
                tag("label", t("Licensing office"), for_="licence-office"),
                tag(
                    "select",
                    *(
                        tag("option", c.name, value=c.address.text,
                            **calls_for(c, "apply"))
                        for c in offices
                    ),
                    id="licence-office",
                ),
                tag("label", t("Kind of licence (e.g. food-truck)"), for_="licence-kind"),
                tag("input", id="licence-kind", required=True, maxlength="32",
                    pattern="[ -~]{1,32}", autocomplete="off"),
                tag("button", t("Sign and apply"), type="submit"),
                tag("p", t("Applying issues the licence fee as an invoice in your space."),
                    class_="hint"),
                id="licence-form",
                class_="stack",
                aria_labelledby="licences-title",
            )
        )
    return join(parts)


def _parcels(r: Reader, account: AccountId) -> Html:
    t = r.t
    _, parcels = account_procedures(r, account)
    rows = []
    for contract, subject, steps in parcels:
        registered = next((s for s in steps if s.event == "Registered"), None)
        deed = registered.args.get("deed") if registered else None
        rows.append(
            [
                _procedure_link(contract.name, subject),
                contract.name,
                tag("code", short(str(deed))) if deed else "—",
                steps[-1].event,
                when(time_ms(r, steps[-1].height)),
            ]
        )
    return join(
        [
            tag("h2", t("Parcels"), id="parcels-title"),
            table(t("Parcels"), [t("Parcel"), t("Registry"), t("Deed hash"), t("Last step"),
                                 t("Since")], rows, id="my-parcels")
            if rows
            else tag("p", t("No parcels.")),
        ]
    )


def _vehicles(r: Reader, account: AccountId) -> Html:
    t = r.t
    rows = []
    store = r.node.app.store
    for key, raw in store.scan_prefix(vehicle_keys.VEHICLE_PREFIX, VEHICLES_SCAN_MAX):
        record = decode_trusted(raw)
        if not isinstance(record, dict) or record.get("owner") != account.raw:
            continue
        rows.append(
            [
                proven(key, "vin", "text", str(record["vin"])),
                proven(key, "make", "text", str(record["make"])),
                proven(key, "model", "text", str(record["model"])),
                proven(key, "year", "int", str(record["year"])),
                proven(key, "status", "text", str(record["status"])),
                proven(key, "odometer_km", "int", str(record["odometer_km"])),
            ]
        )
    return join(
        [
            tag("h2", t("Vehicles"), id="vehicles-title"),
            table(t("Vehicles"), ["VIN", t("Make"), t("Model"), t("Year"), t("Status"),
                                  t("Odometer (km)")], rows, id="my-vehicles")
            if rows
            else tag("p", t("No vehicles.")),
        ]
    )


def _data_reads(r: Reader, account: AccountId) -> Html:
    """The access log's subject view: logged reads covering records about this resident.

    The session proves the account (its key signed the sign-in), so the server may look up
    the resident's pseudonym in each personal stream, as `/v1/data/streams/{id}/my-accesses`
    does for a request the subject signs."""
    t = r.t
    rows = []
    try:
        from urbis.modules.data import crypto as data_crypto
        from urbis.modules.data import keys as data_keys
        from urbis.modules.data.keeper import scan
        from urbis.modules.data.records import AccessEntry, Stream
        from urbis.modules.data.service import service_for

        service = service_for(r.node)
        for stream in scan(r.node.app.store, data_keys.PREFIX + b"stream/", Stream, STREAMS_MAX):
            if stream.classification != "personal":
                continue
            pseudonym = data_crypto.pseudonym(stream.id, account.raw)
            mine = set(service.store.subject_seqs(stream.id, pseudonym))
            if not mine:
                continue
            entries = scan(r.node.app.store, data_keys.access_prefix(stream.id), AccessEntry,
                           ACCESSES_MAX)
            for entry in entries:
                seqs = sorted(s for s in mine if entry.first_seq <= s <= entry.last_seq)
                if seqs:
                    rows.append(
                        [
                            stream.id,
                            stream.department,
                            account_link(entry.reader.text),
                            entry.grantee or "—",
                            entry.purpose,
                            ", ".join(str(s) for s in seqs[:20])
                            + ("…" if len(seqs) > 20 else ""),
                            block_link(entry.height),
                        ]
                    )
    except ImportError:  # a node without the data module
        rows = []
    rows.sort(key=lambda row: str(row[-1]), reverse=True)
    return join(
        [
            tag("h2", t("Who read my data"), id="reads-title"),
            tag("p", t("Every logged read of a personal record about you, from the data "
                       "module's access log."), class_="hint"),
            table(t("Who read my data"), [t("Stream"), t("Department"), t("Reader"),
                                          t("For"), t("Purpose"), t("Records"), t("Block")],
                  rows, id="my-data-reads")
            if rows
            else tag("p", t("Nobody has read personal records about you.")),
        ]
    )


# -- department console -------------------------------------------------------------------------


def console_sections(r: Reader, session: Session) -> Html:
    return join([_applications(r, str(session.claims.get("department", ""))),
                 _proposals(r, session)])


def _applications(r: Reader, department: str) -> Html:
    """Licence applications to this department's licensing contracts waiting for a decision
    (the contract, not this page, checks the officer's role)."""
    t = r.t
    rows = []
    offices = [c for c in process_contracts(r)
               if c.subject == "licence" and office_department(r, c) == department]
    for contract in offices:
        for subject, steps in steps_of(r, contract).items():
            if licence_status(steps) != "applied":
                continue
            applied = next(s for s in steps if s.event == "Applied")
            label = f"{t('Licence')} {short(subject, 8)}"
            rows.append(
                [
                    _procedure_link(contract.name, subject),
                    account_link(str(applied.args.get("applicant", ""))),
                    str(applied.args.get("kind", "")),
                    when(time_ms(r, applied.height)),
                    join(
                        [
                            tag("button", t("Approve"), type="button", class_="decide",
                                data_licence=subject, data_approve="true",
                                data_contract=contract.address.text,
                                aria_label=f"{t('Approve')}: {label}",
                                **calls_for(contract, "decide")),
                            " ",
                            tag("input", id=f"reason-{subject[:16]}", class_="reason",
                                maxlength="128", autocomplete="off",
                                aria_label=f"{t('Reason for a refusal')}: {label}",
                                placeholder=t("Reason for a refusal")),
                            " ",
                            tag("button", t("Refuse"), type="button", class_="decide secondary",
                                data_licence=subject, data_approve="false",
                                data_contract=contract.address.text,
                                aria_label=f"{t('Refuse')}: {label}",
                                **calls_for(contract, "decide")),
                        ]
                    ),
                ]
            )
    return join(
        [
            tag("h2", t("Licence applications"), id="applications-title"),
            table(t("Licence applications"), [t("Licence"), t("Applicant"), t("Kind"),
                                              t("Applied"), t("Decision")], rows,
                  id="applications")
            if rows
            else tag("p", t("No applications waiting for a decision.")),
        ]
    )


def _proposals(r: Reader, session: Session) -> Html:
    t = r.t
    prefix = governance_keys.PROPOSAL_PREFIX
    found = []
    for _, raw in r.node.app.store.scan_prefix(prefix, 100_000):
        record = decode_trusted(raw)
        if isinstance(record, dict) and "approvals" in record:
            found.append(record)
    found.sort(key=lambda p: -int(p["id"]))
    rows = []
    for proposal in found[:PROPOSALS_MAX]:
        action = proposal.get("action") or {}
        approvals = [AccountId(a).text for a in proposal.get("approvals", [])]
        button: Any = "—"
        if proposal["status"] == "open" and session.account.text not in approvals:
            button = tag("button", t("Approve"), type="button", class_="approve-proposal",
                         data_proposal=str(proposal["id"]),
                         aria_label=f"{t('Approve')}: {t('Proposal')} {proposal['id']}")
        rows.append(
            [
                str(proposal["id"]),
                str(proposal["title"]),
                tag("code", f"{action.get('module', '')}.{action.get('name', '')}"),
                account_link(AccountId(proposal["proposer"]).text),
                str(len(approvals)),
                tag("span", t(str(proposal["status"])), data_status=str(proposal["status"])),
                button,
            ]
        )
    form = tag(
        "form",
        tag("label", t("Title"), for_="proposal-title"),
        tag("input", id="proposal-title", required=True, maxlength="200", autocomplete="off"),
        tag("label", t("Action (module.name)"), for_="proposal-action"),
        tag("input", id="proposal-action", required=True, pattern=r"[a-z_]+\.[a-z_]+",
            placeholder="governance.add_department", autocomplete="off"),
        tag("label", t("Arguments (JSON object)"), for_="proposal-args"),
        tag("textarea", "{}", id="proposal-args", rows="3",
            aria_describedby="proposal-args-hint"),
        tag("p", t("Text, whole numbers and true/false; an account is written urbis1…, bytes "
                   "as 0x followed by hex."), class_="hint", id="proposal-args-hint"),
        tag("button", t("Sign and submit"), type="submit"),
        id="proposal-form",
        class_="stack",
        aria_labelledby="proposals-title",
    )
    return join(
        [
            tag("h2", t("Council proposals"), id="proposals-title"),
            table(t("Council proposals"), ["#", t("Title"), t("Action"), t("Proposer"),
                                           t("Approvals"), t("Status"), t("Actions")], rows,
                  id="proposals")
            if rows
            else tag("p", t("No proposals.")),
            form,
        ]
    )
