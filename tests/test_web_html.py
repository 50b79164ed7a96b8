"""The portal's template layer and language choice, without a browser: every value is
escaped unless built as markup, and the reader's language comes from the switch first."""

from __future__ import annotations

import html

from hypothesis import given
from hypothesis import strategies as st

from urbis.web.charts import ShowValue, bar_chart
from urbis.web.html import Html, esc, render, tag
from urbis.web.i18n import GERMAN, pick, translator


@given(text=st.text())
def test_rendered_values_are_escaped_and_read_back_the_same(text: str) -> None:
    body = render("<p>{v}</p>", v=text)[len("<p>") : -len("</p>")]
    assert not {"<", ">", '"', "'"} & set(body)
    assert html.unescape(body) == text


@given(text=st.text(), attribute=st.text())
def test_tag_escapes_text_and_attributes(text: str, attribute: str) -> None:
    out = tag("span", text, data_value=attribute)
    assert out.count("<") == 2 and out.count(">") == 2
    assert f'data-value="{esc(attribute)}"' in out


def test_markup_built_here_is_not_escaped_twice() -> None:
    link = tag("a", "Block 5", href="/blocks/5?a=1&b=2")
    assert render("<li>{x}</li>", x=link) == '<li><a href="/blocks/5?a=1&amp;b=2">Block 5</a></li>'
    assert isinstance(link, Html)
    assert tag("input", disabled=True, hidden=False) == "<input disabled>"


def test_language_comes_from_the_switch_then_the_cookie_then_the_browser() -> None:
    assert pick("de", "en", "en-GB") == "de"
    assert pick(None, "de", "en-GB") == "de"
    assert pick(None, None, "fr-CH, de-CH;q=0.8, en;q=0.5") == "de"
    assert pick("xx", None, "fr") == "en"
    assert translator("de")("Latest blocks") == "Neueste Blöcke"
    assert translator("de")("no such message") == "no such message"
    assert all(value.strip() for value in GERMAN.values())


def test_chart_bars_scale_with_integers_and_carry_their_figures() -> None:
    chart = bar_chart(
        "Revenue <2026>",
        ["2026-01", "2026-02"],
        [("tax", [48_000, 0]), ("fee", [6_550, 24_000])],
        ShowValue(2, "EUR"),
    )
    assert "<title>2026-01 · tax: 480.00 EUR</title>" in chart
    assert 'aria-label="Revenue &lt;2026&gt;"' in chart
    assert 'height="0"' in chart  # an empty month draws no bar
