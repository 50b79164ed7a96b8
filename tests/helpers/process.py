"""Real node processes for fault tests: start `urbis node`, wait for it, kill it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def dev_city(home: Path, timeout: float = 30.0) -> Iterator[str]:
    """`urbis up` as a real process, founding a dev city in `home`; yields its API URL."""
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "urbis.cli.main",
            "up",
            "--home",
            str(home),
            "--port",
            str(port),
            "--block-interval-ms",
            "100",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise RuntimeError(f"urbis up exited with {process.returncode}: {output}")
            try:
                if httpx.get(f"{api}/v1/status", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"urbis up did not answer within {timeout}s")
            time.sleep(0.1)
        yield api
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def start_node(home: Path, port: int, log: Path, timeout: float = 30.0) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "urbis.cli.main", "node", "--home", str(home), "--port", str(port)],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"node exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/status", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"node did not answer within {timeout}s; see {log}")


@contextlib.contextmanager
def serving(node: Any, listener: socket.socket | None = None) -> Iterator[str]:
    """The API of an in-process, started node on a loopback port; yields its URL.

    Pass `listener` to shape the sockets (e.g. a small send buffer, so a client
    that stops reading stalls the sender as over a slow network).
    """
    import threading

    import uvicorn

    from urbis.api.server import create_api

    own = listener is None
    if listener is None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(create_api(node), log_level="critical"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "in-process server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        if own:
            listener.close()


def urbis(
    home: Path, api: str, *args: str, passphrase: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `urbis` command against a node, as a person runs it from a shell."""
    env = {**os.environ, "URBIS_HOME": str(home), "URBIS_API": api}
    if passphrase is not None:
        env["URBIS_PASSPHRASE"] = passphrase
    return subprocess.run(
        [sys.executable, "-m", "urbis.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
