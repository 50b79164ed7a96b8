"""The portal's template layer: escaped by default, so no page can inject a value as markup.

A template is a plain string with `{name}` fields. Every value is HTML-escaped unless it
is already `Html` (built here from escaped parts), so forgetting to escape is not
possible and marking something safe is visible in the code that does it.
"""

from __future__ import annotations

import html
import string
from collections.abc import Iterable
from typing import Any


class Html(str):
    """Markup that is already safe: built by `render`, `tag` or `join` from escaped parts."""

    __slots__ = ()


def esc(value: Any) -> Html:
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value), quote=True))


class _Escaping(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Html):
            return str(value)
        return esc(format(value, format_spec))


_FORMATTER = _Escaping()


def render(template: str, **values: Any) -> Html:
    """Fill `template`'s `{name}` fields, escaping every value that is not `Html`."""
    return Html(_FORMATTER.format(template, **values))


def join(parts: Iterable[Any], separator: str = "") -> Html:
    return Html(esc(separator).join(esc(p) for p in parts))


VOID = frozenset({"br", "hr", "img", "input", "link", "meta"})


def tag(name: str, /, *children: Any, **attrs: Any) -> Html:
    """`tag("a", "Block 5", href="/blocks/5")`; `class_` for class, `data_x` for data-x;
    an attribute given None or False is left out, True writes it bare."""
    parts = [name]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        attr = key.rstrip("_").replace("_", "-")
        parts.append(attr if value is True else f'{attr}="{esc(value)}"')
    opening = "<" + " ".join(parts) + ">"
    if name in VOID:
        return Html(opening)
    return Html(opening + join(children) + f"</{name}>")
