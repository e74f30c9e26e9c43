"""execution-apis JSON-RPC cases (`../shared/conformance/execution-apis/tests/<method>/<case>.io`, hive rpc-compat)
replayed against a real `megaeth-node run` process and compared as hive compares them: the whole response, with
the `message` of each error left out (codes must match).

The recorded responses come from hive's own Ethereum test chain, which a MegaETH node does not run, so only
the cases whose answer does not depend on that chain are replayed here: parameter errors, the genesis and
unknown-block errors, and answers that hold on any chain (not syncing, an account nobody funded)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from node_process import running_node

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


@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_node(tmp_path_factory.mktemp("node"), "--block-time", "0") as (url, _):
        yield url


@pytest.mark.parametrize("case", CHAIN_INDEPENDENT)
def test_execution_apis_case(case: str, conformance: Path, node_url: str) -> None:
    pairs = read_case(conformance / "execution-apis" / "tests" / case)
    assert pairs and all(expected is not None for _, expected in pairs)
    for request, expected in pairs:
        got = requests.post(node_url, json=request, timeout=30).json()
        assert without_error_messages(got) == without_error_messages(expected), (request, got, expected)
