"""Start `megaeth-node run` as a real subprocess on a free loopback port, for client tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from shared_data import REPO, in_ci

JS = REPO / "tests" / "js"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"node exited with {proc.returncode}")
        try:
            if requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1).ok:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise TimeoutError(f"node at {url} not ready after {timeout_s} s")


@contextmanager
def running_node(data_dir: Path, *args: str, port: int | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A node process serving http://127.0.0.1:PORT/; killed at exit."""
    port = port or free_port()
    log = open(data_dir / f"node-{port}.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "megaeth_node.cli", "run", "--data-dir", str(data_dir / "node"),
                             "--port", str(port), *args], stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_ready(url, proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def require_js_deps(purpose: str) -> None:
    """Fail (under CI) or skip the calling test when the npm packages of tests/js cannot be used here."""
    missing = js_deps_missing()
    if missing:
        if in_ci():
            pytest.fail(f"{purpose} need the npm packages under CI: {missing}")
        pytest.skip(missing)


def js_deps_missing() -> str | None:
    """Why the npm packages of tests/js (`make js-deps`) cannot be used here, or None when they can."""
    if shutil.which("node") is None:
        return "node (Node.js) is not on PATH"
    installed = JS / "node_modules" / ".package-lock.json"
    if not installed.is_file():
        return f"{JS / 'node_modules'} is missing: run `make js-deps`"
    if installed.stat().st_mtime < (JS / "package-lock.json").stat().st_mtime:
        return f"{JS / 'node_modules'} is older than package-lock.json: run `make js-deps`"
    return None


@contextmanager
def running_anvil(data_dir: Path) -> Iterator[str]:
    """Anvil (npm @foundry-rs/anvil, with the dev chain's mnemonic) serving http://127.0.0.1:PORT/; killed at exit."""
    port = free_port()
    log = open(data_dir / f"anvil-{port}.log", "ab")
    proc = subprocess.Popen([str(JS / "node_modules" / ".bin" / "anvil"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_ready(url, proc)  # type: ignore[arg-type]
        yield url
    finally:
        proc.terminate()  # npm's wrapper passes it on to the anvil binary it started (a kill would orphan that)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
