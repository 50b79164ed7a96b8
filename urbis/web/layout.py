"""What every portal page shares: the request's reader (language, node, height), the
frame around a page, and the small pieces pages are built of (links, times, money,
values a reader can verify)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request

from urbis.chain.ids import AccountId
from urbis.cli.money import moment, money
from urbis.node.runner import Node
from urbis.web.html import Html, esc, join, render, tag
from urbis.web.i18n import LANGUAGES, pick, translator

STATIC_VERSION = "4"
"""Bumped when a static file changes, so browsers do not keep a stale script."""


@dataclass
class Reader:
    """One request as a page sees it: who reads (language) and what (node, height)."""

    node: Node
    lang: str
    t: Callable[[str], str]
    path: str
    height: int
    """The height the page reads state at: proofs are asked for this same height."""


def reader(request: Request) -> Reader:
    node: Node = request.app.state.node
    lang = pick(
        request.query_params.get("lang"),
        request.cookies.get("lang"),
        request.headers.get("accept-language"),
    )
    return Reader(node, lang, translator(lang), request.url.path, node.provable_height())


NAV = (
    ("/", "Explorer"),
    ("/documents", "Documents"),
    ("/money", "Money"),
    ("/contracts", "Contracts"),
    ("/datasets", "Datasets"),
    ("/procedures", "Procedures"),
    ("/elections", "Elections"),
    ("/resident", "Resident"),
    ("/department", "Department"),
)

FRAME = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {city}</title>
<link rel="stylesheet" href="/static/portal.css?v={version}">
<script src="/static/portal.js?v={version}" defer></script>
{scripts}
</head>
<body>
<a class="skip" href="#main">{skip}</a>
<header class="top">
<a class="brand" href="/">{city}</a>
<nav aria-label="{main_label}"><ul>{nav}</ul></nav>
<form class="search" role="search" action="/search" method="get">
<label for="search-q">{search}</label>
<input id="search-q" name="q" type="search" autocomplete="off"
 aria-describedby="search-hint" required>
<button type="submit">{search}</button>
<span id="search-hint" class="hint">{search_hint}</span>
</form>
<nav class="languages" aria-label="{language_label}"><ul>{languages}</ul></nav>
</header>
<main id="main" tabindex="-1" data-height="{height}" data-chain="{chain}">
<h1>{title}</h1>
{body}
</main>
<footer>
<p>{chain} · {height_label} <span data-live="height">{height}</span></p>
</footer>
</body>
</html>
"""


def page(
    r: Reader, title: str, body: Html, scripts: Sequence[str] = (), status: int = 200
) -> tuple[Html, int]:
    t = r.t
    nav = join(
        tag(
            "li",
            tag("a", t(label), href=href, aria_current="page" if r.path == href else None),
        )
        for href, label in NAV
    )
    languages = join(
        tag(
            "li",
            tag(
                "a",
                name,
                href=f"?lang={code}",
                hreflang=code,
                lang=code,
                aria_current="true" if code == r.lang else None,
            ),
        )
        for code, name in LANGUAGES.items()
    )
    script_tags = join(
        tag("script", src=f"/static/{name}?v={STATIC_VERSION}", defer=True) for name in scripts
    )
    return (
        render(
            FRAME,
            lang=r.lang,
            title=title,
            city=r.node.genesis.name,
            version=STATIC_VERSION,
            scripts=script_tags,
            skip=t("Skip to content"),
            main_label=t("Main"),
            nav=nav,
            search=t("Search"),
            search_hint=t("Block height, transaction, account, DID, document hash or invoice"),
            language_label=t("Language"),
            languages=languages,
            height=r.height,
            chain=r.node.genesis.chain_id,
            height_label=t("Height"),
            body=body,
        ),
        status,
    )


# -- small pieces ------------------------------------------------------------------------------


def when(time_ms: int) -> Html:
    """A time in UTC for a reader without JavaScript; portal.js shows it in the reader's zone."""
    try:
        iso = datetime.fromtimestamp(time_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return esc(f"{time_ms} ms")
    return tag("time", moment(time_ms), datetime=iso)


def short(hex_text: str, size: int = 10) -> str:
    return hex_text if len(hex_text) <= 2 * size else f"{hex_text[:size]}…{hex_text[-4:]}"


def block_link(height: int) -> Html:
    return tag("a", str(height), href=f"/blocks/{height}")


def tx_link(tx_id: str) -> Html:
    return tag("a", tag("code", short(tx_id)), href=f"/txs/{tx_id}", title=tx_id)


def account_link(text: str | None) -> Html:
    if not text:
        return esc("—")
    return tag("a", tag("code", short(text, 12)), href=f"/accounts/{quote(text)}", title=text)


def amount(amount_minor: int, decimals: int, asset: str) -> str:
    return money(amount_minor, decimals, asset)


def table(
    caption: str, headers: Iterable[str], rows: Iterable[Iterable[Any]], **attrs: Any
) -> Html:
    head = tag("tr", *(tag("th", h, scope="col") for h in headers))
    body = join(tag("tr", *(tag("td", cell) for cell in row)) for row in rows)
    return tag(
        "div",
        tag("table", tag("caption", caption), tag("thead", head), tag("tbody", body), **attrs),
        class_="table-wrap",
    )


def facts(pairs: Iterable[tuple[str, Any]]) -> Html:
    return tag("dl", *(join([tag("dt", k), tag("dd", v)]) for k, v in pairs), class_="facts")


def proven(key: bytes, path: str, fmt: str, text: str, **extra: Any) -> Html:
    """A value read from state that verify.js can check in the browser: the state key,
    where in the decoded value it sits, and how it is shown (so the shown text itself
    is what gets compared, not a copy of it)."""
    return tag(
        "span",
        text,
        class_="proven",
        data_key=key.hex(),
        data_path=path,
        data_format=fmt,
        **{f"data_{k}": v for k, v in extra.items()},
    )


def verify_panel(r: Reader) -> Html:
    t = r.t
    return tag(
        "section",
        tag("h2", t("Verify in this browser"), id="verify-title"),
        tag(
            "button",
            t("Verify in this browser"),
            type="button",
            id="verify-button",
            class_="verify",
        ),
        tag(
            "p",
            t(
                "Not verified yet. Verification runs in your browser: it checks the state "
                "proof against the block header and the header against the validator keys "
                "pinned from genesis."
            ),
            id="verify-status",
            role="status",
            aria_live="polite",
        ),
        tag("ul", id="verify-details", class_="verify-details"),
        class_="verify-panel",
        aria_labelledby="verify-title",
    )


def account_text(raw: Any) -> str:
    return AccountId(raw).text if isinstance(raw, bytes) and len(raw) == 20 else str(raw)
