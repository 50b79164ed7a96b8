"""Money and time as people read them: `480.00 EUR`, `2026-12-02 01:13 UTC`.

State and JSON keep integer minor units and milliseconds; only human output goes
through here. Integer arithmetic only, so no amount is ever rounded by a float.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from urbis.sdk.client import ApiError

DECIMALS_MAX = 18
"""The payments module's own bound on an asset's decimals."""


def money(amount_minor: int, decimals: int, asset: str) -> str:
    """48000 minor units with 2 decimals -> `480.00 EUR`; negative amounts keep their sign."""
    if not 0 <= decimals <= DECIMALS_MAX:
        return f"{amount_minor} {asset} (minor units)"
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 10**decimals)
    digits = f".{fraction:0{decimals}d}" if decimals else ""
    return f"{sign}{whole}{digits} {asset}"


def moment(time_ms: int) -> str:
    """Milliseconds since the epoch -> `2026-12-02 01:13 UTC` (to the minute, as people date)."""
    try:
        at = datetime.fromtimestamp(time_ms // 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return f"{time_ms} ms"
    return at.strftime("%Y-%m-%d %H:%M UTC")


class Assets:
    """Asset decimals, asked of the node once per asset (`GET /v1/payments/assets/{code}`)."""

    def __init__(self, lookup: Callable[[str], Any]) -> None:
        self._lookup = lookup
        self._decimals: dict[str, int | None] = {}

    def decimals(self, asset: str) -> int | None:
        if asset not in self._decimals:
            try:
                found = int(self._lookup(asset)["decimals"])
            except (ApiError, KeyError, TypeError, ValueError):  # shown in minor units then
                found = None
            self._decimals[asset] = found
        return self._decimals[asset]

    def show(self, amount_minor: int, asset: str) -> str:
        decimals = self.decimals(asset)
        if decimals is None:
            return f"{amount_minor} {asset} (minor units)"
        return money(amount_minor, decimals, asset)
