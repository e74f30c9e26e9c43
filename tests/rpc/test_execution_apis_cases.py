"""execution-apis JSON-RPC cases (`../shared/conformance/execution-apis/tests/<method>/<case>.io`, hive rpc-compat)
replayed against a real `megaeth-node run` process and compared as hive compares them: the whole response, with
the `message` of each error left out (codes must match); a `speconly` case's result only against its method's
OpenRPC result schema.

The recorded responses come from hive's own Ethereum test chain, which a MegaETH node does not run, so only
the cases whose answer does not depend on that chain are replayed here: parameter errors, the genesis and
unknown-block errors, answers that hold on any chain (not syncing, an account nobody funded), and the speconly
cases a chain with two blocks of transactions can answer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import rlp
from eth_hash.auto import keccak
from evm_asm import deploying
from node_process import running_node
from openrpc import OpenRpc

CHAIN_INDEPENDENT = [
    "debug_getRawBlock/get-invalid-number.io",
    "debug_getRawHeader/get-invalid-number.io",
    "debug_getRawTransaction/get-invalid-hash.io",
    "debug_traceBlockByHash/trace-block-not-found.io",
    "debug_traceBlockByNumber/trace-block-invalid-number.io",
    "debug_traceBlockByNumber/trace-genesis.io",
    "eth_getBalance/get-balance-unknown-account.io",
    "eth_getBlockByHash/get-block-by-empty-hash.io",
    "eth_getBlockByHash/get-block-by-notfound-hash.io",
    "eth_getBlockByNumber/get-block-notfound.io",
    "eth_getBlockTransactionCountByNumber/get-genesis.io",
    "eth_getCode/get-code-unknown-account.io",
    "eth_getLogs/filter-error-invalid-blockHash-and-range.io",
    "eth_getLogs/filter-error-reversed-block-range.io",
    "eth_getStorageAt/get-storage-invalid-key-too-large.io",
    "eth_getStorageAt/get-storage-invalid-key.io",
    "eth_getStorageAt/get-storage-unknown-account.io",
    "eth_getTransactionByHash/get-empty-tx.io",
    "eth_getTransactionByHash/get-notfound-tx.io",
    "eth_getTransactionCount/get-nonce-unknown-account.io",
    "eth_getTransactionReceipt/get-empty-tx.io",
    "eth_getTransactionReceipt/get-notfound-tx.io",
    "eth_syncing/check-syncing.io",
]
SPEC_ONLY = [
    "eth_capabilities/get-capabilities.io",
    "debug_traceBlockByNumber/trace-block-memory-encoding.io",
    "debug_traceBlockByNumber/trace-block-return-data-behavior.io",
    "debug_traceBlockByNumber/trace-block-storage-encoding.io",
    "debug_traceBlockByNumber/trace-block-storage-snapshot-timing.io",
    "debug_traceBlockByNumber/trace-block-with-transactions.io",
    "eth_estimateGas/estimate-call-abi-error.io",
    "eth_estimateGas/estimate-failed-call.io",
    "eth_estimateGas/estimate-successful-call.io",
    "txpool_content/get-content.io",
    "txpool_status/get-status.io",
]
# Runtime of the contract block 1 creates and block 2 calls: SSTORE(0, 0x2a), MSTORE(0, SLOAD(0)), RETURN 32 bytes
RUNTIME = bytes.fromhex("602a600055" "600054600052" "60206000f3")


def read_case(path: Path) -> list[tuple[dict[str, Any], Any]]:
    """The (request, expected response) pairs of an .io file (hive's testload.go format)."""
    pairs: list[tuple[dict[str, Any], Any]] = []
    for line in (raw.strip() for raw in path.read_text().splitlines()):
        if line.startswith(">>"):
            pairs.append((json.loads(line[2:]), None))
        elif line.startswith("<<"):
            pairs[-1] = (pairs[-1][0], json.loads(line[2:]))
    return pairs


def without_error_messages(value: Any) -> Any:
    """hive's redaction: under every `error` object, its `message` is not compared."""
    if isinstance(value, dict):
        return {k: ({kk: vv for kk, vv in v.items() if kk != "message"} if k == "error" and isinstance(v, dict)
                    else without_error_messages(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [without_error_messages(v) for v in value]
    return value


def _post(url: str, method: str, *params: Any) -> Any:
    reply = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                          timeout=30).json()
    assert "error" not in reply, reply
    return reply["result"]


@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A node (one block per transaction) whose block 1 creates a contract and block 2 calls it."""
    with running_node(tmp_path_factory.mktemp("node"), "--block-time", "0") as (url, _):
        me = _post(url, "eth_accounts")[0]
        _post(url, "eth_sendTransaction", {"from": me, "input": "0x" + deploying(RUNTIME).hex()})
        contract = "0x" + keccak(rlp.encode([bytes.fromhex(me[2:]), 0]))[12:].hex()
        _post(url, "eth_sendTransaction", {"from": me, "to": contract})
        deadline = time.monotonic() + 30
        while int(_post(url, "eth_blockNumber"), 16) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield url


@pytest.fixture(scope="module")
def openrpc(conformance: Path) -> OpenRpc:
    return OpenRpc(conformance / "execution-apis" / "spec-src")


@pytest.mark.parametrize("case", CHAIN_INDEPENDENT)
def test_execution_apis_case(case: str, conformance: Path, node_url: str) -> None:
    pairs = read_case(conformance / "execution-apis" / "tests" / case)
    assert pairs and all(expected is not None for _, expected in pairs)
    for request, expected in pairs:
        got = requests.post(node_url, json=request, timeout=30).json()
        assert without_error_messages(got) == without_error_messages(expected), (request, got, expected)


@pytest.mark.parametrize("case", SPEC_ONLY)
def test_execution_apis_speconly_case(case: str, conformance: Path, node_url: str, openrpc: OpenRpc) -> None:
    """hive's speconly rule: a response without an error passes when its result fits the method's schema (one
    with an error is compared with the recorded result, and fails)."""
    pairs = read_case(conformance / "execution-apis" / "tests" / case)
    assert pairs and "speconly" in (conformance / "execution-apis" / "tests" / case).read_text()
    for request, _ in pairs:
        got = requests.post(node_url, json=request, timeout=30).json()
        assert "error" not in got, (request, got)
        openrpc.check_result(request["method"], got["result"])

