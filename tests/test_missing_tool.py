"""A missing test tool: skipped on a developer's machine, a failure in CI, never silent."""

from __future__ import annotations

import pytest

from tests.helpers import missing_tool


def test_missing_tool_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is missing"):
        missing_tool("chromium is missing")


@pytest.mark.parametrize("value", ["", "false", "1"])
def test_only_ci_true_counts_as_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception):
        missing_tool("cometbft is not installed")


def test_missing_tool_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run this test: playwright"):
        missing_tool("playwright is missing")
