"""Elections (voting module): the list, one election's status and result, and the §6.2
verification report, run on this server over the record the module exports (the same
files `urbis vote verify` checks) and shown step by step.

The report is cached per election and result height: a tallied record never changes, and
verifying it costs seconds (every ballot's proofs)."""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from urbis.chain.errors import BadQuery, NotFound
from urbis.election.record import ElectionRecord
from urbis.election.verify import STANDARD, Report, verify_record
from urbis.modules.voting import keys as voting_keys
from urbis.modules.voting.export import record_files, write_files
from urbis.modules.voting.keeper import VotingView
from urbis.modules.voting.module import status
from urbis.modules.voting.records import Election, check_election_id
from urbis.web.html import Html, join, tag
from urbis.web.layout import Reader, block_link, facts, page, proven, table, verify_panel

ELECTIONS_MAX = 1000
TOY_GROUPS = ("toy-256",)
"""Small groups for tests: the report says so, loudly, rather than failing step 1."""

_reports: dict[tuple[bytes, int], Report] = {}
_reports_lock = threading.Lock()


def _election(r: Reader, election_id: str) -> Election:
    raw = election_id.encode()
    try:
        check_election_id(raw)
    except ValueError as error:
        raise BadQuery(str(error)) from None
    found = VotingView(r.node.app.store).election(raw)
    if found is None:
        raise NotFound(f"no election {election_id}")
    return found


def elections(r: Reader) -> tuple[Html, int]:
    t = r.t
    prefix = voting_keys.PREFIX + b"election/"
    view = VotingView(r.node.app.store)
    rows = []
    for key, _ in r.node.app.store.scan_prefix(prefix, ELECTIONS_MAX):
        found = view.election(key[len(prefix) :])
        if found is None:
            continue
        ident = found.id.decode()
        rows.append(
            [
                tag("a", ident, href=f"/elections/{quote(ident)}"),
                found.title,
                found.department,
                t(found.phase),
                str(found.counted),
            ]
        )
    body = (
        table(t("Elections"), [t("Election"), t("Title"), t("Department"), t("Phase"),
                                t("Ballots counted")], rows, id="elections")
        if rows
        else tag("p", t("No elections yet."))
    )
    return page(r, t("Elections"), body)


def _labels(manifest: bytes) -> list[tuple[str, list[str]]]:
    try:
        data = json.loads(manifest)
        return [
            (str(c.get("label", "")), [str(o.get("label", "")) for o in c.get("options", [])])
            for c in data.get("contests", [])
        ]
    except (ValueError, AttributeError, TypeError):
        return []


def election(r: Reader, election_id: str) -> tuple[Html, int]:
    t = r.t
    found = _election(r, election_id)
    ident = found.id.decode()
    parts: list[Any] = [
        facts(
            [
                (t("Election"), ident),
                (t("Title"), found.title),
                (t("Department"), found.department),
                (t("Phase"), tag("span", t(found.phase), id="phase")),
                (t("Waiting for"), status(found)["waiting_for"]),
                (t("Opens at block"), block_link(found.opens_at_height)),
                (t("Closes at block"), block_link(found.closes_at_height)),
                (t("Guardians"), f"{len(found.guardians)} ({t('quorum')} {found.quorum})"),
                (t("Registrations"), str(found.registrations)),
                (t("Ballots counted"), str(found.counted)),
                (t("Ballots replaced"), str(found.replaced)),
                (t("Ballots challenged"), str(found.challenged)),
                (t("Group"), found.group),
            ]
        )
    ]
    result = VotingView(r.node.app.store).result(found.id)
    if result is None:
        parts.append(tag("p", t("No result yet."), id="no-result"))
    else:
        rows = []
        labels = _labels(found.manifest)
        for c, counts in enumerate(result.counts):
            contest, options = labels[c] if c < len(labels) else (str(c + 1), [])
            for o, count in enumerate(counts):
                option = options[o] if o < len(options) else str(o + 1)
                shown = proven(voting_keys.result(found.id), f"counts.{c}.{o}", "int",
                               str(count))
                rows.append([contest, option, tag("span", shown, class_="count")])
        parts.append(table(t("Result"), [t("Contest"), t("Option"), t("Votes")], rows,
                           id="result"))
        parts.append(tag("p", t("Decrypted by guardians"), ": ",
                         ", ".join(str(g) for g in result.guardians), " · ",
                         t("recorded at block"), " ", block_link(result.at_height)))
    parts.append(
        tag(
            "p",
            tag("a", t("Verification report"), href=f"/elections/{quote(ident)}/verification"),
            " · ",
            tag("a", t("Election record (JSON)"),
                href=f"/v1/voting/elections/{quote(ident)}/record"),
        )
    )
    if result is not None:
        parts.append(verify_panel(r))
    return page(r, f"{t('Election')} {ident}", join(parts), scripts=["verify.js"])


def report_of(r: Reader, found: Election) -> Report:
    """Verifications 1-14 over the exported record (cached per election and result)."""
    result = VotingView(r.node.app.store).result(found.id)
    cache_key = (found.id, result.at_height if result is not None else -1)
    with _reports_lock:
        cached = _reports.get(cache_key)
    if cached is not None and result is not None:
        return cached
    files = record_files(r.node.app.store, found)
    with tempfile.TemporaryDirectory() as folder:
        write_files(files, Path(folder))
        record = ElectionRecord.from_dir(Path(folder))
    allowed = (STANDARD.name, *(g for g in TOY_GROUPS if g == found.group))
    report = verify_record(record, allowed_parameter_sets=allowed)
    if result is not None:
        with _reports_lock:
            _reports[cache_key] = report
    return report


def verification(r: Reader, election_id: str) -> tuple[Html, int]:
    t = r.t
    found = _election(r, election_id)
    ident = found.id.decode()
    if found.phase != "tallied":
        body = tag("p", t("The record is verified once the result is recorded."),
                   id="verification-pending")
        return page(r, f"{t('Verification report')}: {ident}", body)
    report = report_of(r, found)
    rows = []
    for step in report.steps:
        if not step.applicable:
            outcome = tag("span", t("not applicable"), class_="hint")
        elif step.ok:
            outcome = tag("span", t("passed"), class_="ok")
        else:
            outcome = tag("span", t("failed"), class_="failed")
        detail = "; ".join([*step.failures[:5], *([step.note] if step.note else [])])
        rows.append([str(step.step), step.name, outcome, str(step.passed),
                     str(len(step.failures)), detail])
    parts = [
        tag(
            "p",
            t("ElectionGuard 2.1 §6.2, run on this server over the election record:"),
            " ",
            tag("strong", t("passed") if report.ok else t("failed"),
                class_="ok" if report.ok else "failed", id="report-outcome"),
        ),
    ]
    if found.group in TOY_GROUPS:
        parts.append(tag("p", t("This election uses a small test group: not secure."),
                         class_="failed", id="toy-group"))
    parts.append(table(t("Verification report"),
                       ["#", t("Check"), t("Outcome"), t("Passed"), t("Failed"), t("Details")],
                       rows, id="report"))
    parts.append(tag("p", t("Anyone can repeat it:"), " ",
                     tag("code", f"urbis vote verify {ident}")))
    return page(r, f"{t('Verification report')}: {ident}", join(parts))
