"""Shared test helpers."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing_tool(reason: str) -> NoReturn:
    """A tool the test needs is not installed: a skip on a developer's machine, a failure in
    CI (CI=true), where `./scripts/test` has installed everything and every test must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run this test: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
