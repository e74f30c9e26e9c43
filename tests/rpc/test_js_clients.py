"""ethers v6, viem and Hardhat (npm, tests/js/) against a real `megaeth-node run` process: the wallet flows of
spec/rpc.md §2, §5 and §7 (connect, balance, fees, send and wait, deploy a solc-compiled ERC-20, calls, events via
filters and eth_getLogs, revert reasons, WS subscriptions, batched sequential-nonce sends), and a Hardhat project's
mocha tests with the node as an external network.

The npm packages come from `make js-deps` (`npm ci --prefix tests/js`). Without them, or without Node.js, the tests
skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from node_process import JS, require_js_deps, running_node

SCRIPT_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_js_deps("the JS client tests")
    with running_node(tmp_path_factory.mktemp("node"), "--block-time", "200") as (url, _):
        yield url


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S,
                          env={**os.environ, **(env or {})})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(args)} exited with {proc.returncode}:\n{out}"
    return out


@pytest.mark.parametrize("client", ["ethers", "viem"])
def test_client_flow(node_url: str, client: str) -> None:
    out = _run(["node", f"{client}_flow.mjs", node_url], JS)
    assert f"PASS {client}" in out, out
    for step in ("connect", "balance", "feeData", "sendAndWait", "deploy", "call", "events", "revertReason",
                 "websocket", "batchedSequentialNonces"):
        assert f"ok {client} {step} " in out, out


def test_hardhat_project(node_url: str) -> None:
    out = _run([str(JS / "node_modules" / ".bin" / "hardhat"), "test", "--network", "megaeth"], JS / "hardhat",
               {"MEGAETH_RPC_URL": node_url, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true", "NO_COLOR": "1"})
    assert "7 passing" in out and "failing" not in out, out
