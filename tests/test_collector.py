"""The cyclic collector is paused for a block and always comes back as it was."""

from __future__ import annotations

import gc
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.helpers.city import CityChain, anchor
from tests.helpers.process import dev_city
from urbis.chain.collector import collector_paused
from urbis.chain.context import BlockInfo


def test_paused_inside_and_back_after_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("a handler bug")
    assert gc.isenabled()


def test_nested_and_concurrent_pauses_share_one() -> None:
    inside = threading.Event()
    release = threading.Event()

    def other_block() -> None:
        with collector_paused():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=other_block)
    with collector_paused():
        worker.start()
        assert inside.wait(5)
        with collector_paused():
            assert not gc.isenabled()
    assert not gc.isenabled()  # the other pause still holds
    release.set()
    worker.join(5)
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_operator_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_blocks_leave_the_collector_on_even_when_one_fails(chain: CityChain) -> None:
    receipt = chain.run("land", anchor("land", "deed-1"))
    assert receipt.code == "ok" and gc.isenabled()
    with pytest.raises(Exception, match="block"):
        chain.app.finalize_block(
            BlockInfo(chain.app.chain_id, chain.height + 5, 0, b""), []
        )  # not the next height: refused inside the pause
    assert gc.isenabled()


def test_a_serving_node_freezes_its_start_and_still_collects_cycles() -> None:
    """In a child process: freezing is for the whole interpreter, not this test run."""
    script = """
import gc
import subprocess
import sys
from urbis.chain.collector import OLDEST_EVERY, settle_for_serving
settle_for_serving()
assert gc.get_freeze_count() > 1000, gc.get_freeze_count()
assert gc.get_threshold()[2] == OLDEST_EVERY
class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a
del a, b
assert gc.collect() >= 2, "a cycle made after start is still collected"
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_a_running_node_reports_its_frozen_start_and_collector_passes(tmp_path: Path) -> None:
    """`urbis up` settles the collector before serving: /metrics shows the frozen heap."""
    with dev_city(tmp_path / "city") as api:
        text = httpx.get(f"{api}/metrics", timeout=10).text
    frozen = re.search(r"^urbis_gc_frozen_objects (\d+)$", text, re.M)
    assert frozen is not None and int(frozen[1]) > 10_000, text[-600:]
    passes = re.findall(r'^urbis_gc_collections_total\{generation="([012])"\} \d+$', text, re.M)
    assert passes == ["0", "1", "2"]
