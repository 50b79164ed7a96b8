"""Human output: money in its asset's units, times as UTC dates; JSON keeps the integers."""

from __future__ import annotations

import pytest

from urbis.cli.money import Assets, moment, money


@pytest.mark.parametrize(
    "minor,decimals,shown",
    [
        (48_000, 2, "480.00 EUR"),
        (5, 2, "0.05 EUR"),
        (-1_250, 2, "-12.50 EUR"),
        (0, 2, "0.00 EUR"),
        (7, 0, "7 EUR"),
        (10**30 + 1, 18, "1000000000000.000000000000000001 EUR"),
    ],
)
def test_money_is_exact_in_the_assets_units(minor: int, decimals: int, shown: str) -> None:
    assert money(minor, decimals, "EUR") == shown


def test_money_with_impossible_decimals_stays_in_minor_units() -> None:
    assert money(48_000, 99, "EUR") == "48000 EUR (minor units)"


def test_moment_is_a_utc_date_to_the_minute() -> None:
    assert moment(1_796_172_419_802) == "2026-12-02 00:46 UTC"
    assert moment(0) == "1970-01-01 00:00 UTC"
    assert moment(10**30) == f"{10**30} ms"  # beyond any calendar: shown raw, not a crash


def test_assets_ask_the_node_once_per_asset() -> None:
    asked: list[str] = []

    def lookup(code: str) -> dict[str, int]:
        asked.append(code)
        return {"decimals": 2}

    assets = Assets(lookup)
    assert assets.show(48_000, "EUR") == "480.00 EUR"
    assert assets.show(1, "EUR") == "0.01 EUR"
    assert asked == ["EUR"]


def test_unknown_asset_is_shown_in_minor_units() -> None:
    from urbis.sdk.client import ApiError

    def lookup(code: str) -> dict[str, int]:
        raise ApiError(404, "query.not_found", f"no asset {code!r}", {})

    assert Assets(lookup).show(48_000, "XYZ") == "48000 XYZ (minor units)"
