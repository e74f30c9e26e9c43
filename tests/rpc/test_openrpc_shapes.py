"""Every method this node serves that the execution-apis OpenRPC specification defines answers with a result its
schema accepts (spec/rpc.md §7), called on a real `megaeth-node run` process with blocks holding each transaction
type this chain runs (legacy, EIP-2930, EIP-1559), logs and an inner call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from evm_asm import assemble, deploying
from node_process import running_node
from openrpc import OpenRpc

from megaeth_node.genesis import dev_accounts, dev_chain
from megaeth_node.sequencer import Sequencer, SequencerSettings
from rpc.serve import node_methods

# Runtime: SSTORE(0, 7), LOG1(0x77) of 4 bytes, a call to itself with no data when the calldata is non-empty.
RUNTIME = assemble(("PUSH", 7), ("PUSH", 0), "SSTORE", ("PUSH", 0xAABBCCDD), ("PUSH", 0), "MSTORE", ("PUSH", 0x77),
                   ("PUSH", 4), ("PUSH", 28), "LOG1", "CALLDATASIZE", "ISZERO", ("PUSHLABEL", "end"), "JUMPI",
                   ("PUSH", 0), ("PUSH", 0), ("PUSH", 0), ("PUSH", 0), ("PUSH", 0), "ADDRESS", "GAS", "CALL", "POP",
                   ("LABEL", "end"), "STOP")

# Methods answered as geth answers them where that breaks their schema, which is therefore not checked here
AS_GETH = {"eth_fillTransaction": "geth's txJSON has `gasPrice: null` for a typed transaction, which the schema's "
                                  "Transaction1559Unsigned rejects (tests/rpc/test_access_list_fill.py checks geth's "
                                  "shape)"}
Facts = dict[str, Any]
# (method, params from the chain's facts); a method may appear with several shapes of its result
CALLS: list[tuple[str, Callable[[Facts], list[Any]]]] = [
    ("eth_blockNumber", lambda f: []), ("eth_chainId", lambda f: []), ("eth_syncing", lambda f: []),
    ("net_version", lambda f: []), ("eth_gasPrice", lambda f: []), ("eth_maxPriorityFeePerGas", lambda f: []),
    ("eth_blobBaseFee", lambda f: []), ("eth_baseFee", lambda f: []), ("eth_coinbase", lambda f: []),
    ("eth_accounts", lambda f: []), ("eth_capabilities", lambda f: []),
    ("eth_getBalance", lambda f: [f["me"], "latest"]), ("eth_getTransactionCount", lambda f: [f["me"], "pending"]),
    ("eth_getCode", lambda f: [f["contract"], "latest"]), ("eth_getStorageAt", lambda f: [f["contract"], "0x0"]),
    ("eth_getStorageValues", lambda f: [{f["contract"]: ["0x0", "0x1"], f["me"]: []}, "latest"]),
    ("eth_getBlockByNumber", lambda f: [f["block"], False]), ("eth_getBlockByNumber", lambda f: [f["block"], True]),
    ("eth_getBlockByNumber", lambda f: ["0x0", True]), ("eth_getBlockByNumber", lambda f: ["0x99999", False]),
    ("eth_getBlockByHash", lambda f: [f["block_hash"], True]),
    ("eth_getBlockTransactionCountByNumber", lambda f: [f["block"]]),
    ("eth_getBlockTransactionCountByHash", lambda f: [f["block_hash"]]),
    *(("eth_getTransactionByHash", lambda f, i=i: [f["hashes"][i]]) for i in range(4)),
    *(("eth_getTransactionReceipt", lambda f, i=i: [f["hashes"][i]]) for i in range(4)),
    ("eth_getTransactionByBlockNumberAndIndex", lambda f: [f["block"], "0x0"]),
    ("eth_getTransactionByBlockHashAndIndex", lambda f: [f["block_hash"], "0x0"]),
    ("eth_getBlockReceipts", lambda f: [f["block"]]),
    ("eth_getLogs", lambda f: [{"fromBlock": "0x0", "toBlock": "latest"}]),
    ("eth_feeHistory", lambda f: ["0x3", "latest", [10, 50]]),
    ("eth_estimateGas", lambda f: [{"from": f["me"], "to": f["contract"], "input": "0x01"}]),
    ("eth_call", lambda f: [{"from": f["me"], "to": f["contract"]}, "latest"]),
    ("eth_createAccessList", lambda f: [{"from": f["me"], "to": f["contract"]}, "latest"]),
    ("eth_signTransaction", lambda f: [{"from": f["me"], "to": f["you"], "value": "0x1"}]),
    ("eth_sign", lambda f: [f["me"], "0xdeadbeef"]),
    ("eth_sendTransaction", lambda f: [{"from": f["you"], "to": f["me"], "value": "0x1"}]),
    ("eth_sendRawTransaction", lambda f: [f["raw"]]),
    ("eth_newFilter", lambda f: [{"fromBlock": "0x0"}]), ("eth_newBlockFilter", lambda f: []),
    ("eth_newPendingTransactionFilter", lambda f: []),
    ("eth_getFilterLogs", lambda f: [f["log_filter"]]), ("eth_getFilterChanges", lambda f: [f["log_filter"]]),
    ("eth_getFilterChanges", lambda f: [f["block_filter"]]), ("eth_uninstallFilter", lambda f: [f["spare_filter"]]),
    ("debug_getRawHeader", lambda f: [f["block"]]), ("debug_getRawBlock", lambda f: [f["block"]]),
    ("debug_getRawTransaction", lambda f: [f["hashes"][1]]), ("debug_getRawReceipts", lambda f: [f["block"]]),
    ("debug_traceTransaction", lambda f: [f["hashes"][1]]),
    ("debug_traceTransaction", lambda f: [f["hashes"][1], {"tracer": "callTracer"}]),
    ("debug_traceBlockByNumber", lambda f: [f["block"], {"enableMemory": True, "enableReturnData": True}]),
    ("debug_traceBlockByHash", lambda f: [f["block_hash"], {"tracer": "callTracer"}]),
    ("txpool_status", lambda f: []), ("txpool_content", lambda f: []), ("txpool_contentFrom", lambda f: [f["me"]]),
]


@pytest.fixture(scope="module")
def openrpc(conformance: Path) -> OpenRpc:
    """The specification, less one field it requires that MegaETH's own node does not send: `blockTimestamp` of
    a mined transaction (the real node's blocks in megaeth-testdata have none; tests/rpc/test_format.py)."""
    spec = OpenRpc(conformance / "execution-apis" / "spec-src")
    spec.schemas["TransactionInfo"]["allOf"][0]["required"].remove("blockTimestamp")
    return spec


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Facts]]:
    with running_node(tmp_path_factory.mktemp("node"), "--block-time", "300") as (url, _):
        def rpc(method: str, *params: Any) -> Any:
            reply = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                                  timeout=30).json()
            assert "error" not in reply, reply
            return reply["result"]

        def receipt(tx_hash: str) -> dict[str, Any]:
            for _ in range(200):
                if (found := rpc("eth_getTransactionReceipt", tx_hash)) is not None:
                    return found  # type: ignore[no-any-return]
                time.sleep(0.05)
            raise TimeoutError(tx_hash)

        me, you = rpc("eth_accounts")[:2]
        spare_filter = rpc("eth_newBlockFilter")
        log_filter, block_filter = rpc("eth_newFilter", {"fromBlock": "0x0"}), rpc("eth_newBlockFilter")
        create = rpc("eth_sendTransaction", {"from": me, "input": "0x" + deploying(RUNTIME).hex()})
        contract = receipt(create)["contractAddress"]
        access = [{"address": contract, "storageKeys": ["0x" + "00" * 32]}]
        hashes = [create, rpc("eth_sendTransaction", {"from": you, "to": me, "value": "0x5", "gasPrice": hex(10**9)}),
                  rpc("eth_sendTransaction", {"from": me, "to": contract, "input": "0x01"}),
                  rpc("eth_sendTransaction", {"from": you, "to": contract, "gasPrice": hex(10**9), "accessList": access})]
        block = receipt(hashes[2])["blockNumber"]
        for h in hashes:
            receipt(h)
        raw = rpc("eth_signTransaction", {"from": me, "to": you, "value": "0x2"})["raw"]
        yield url, {"me": me, "you": you, "contract": contract, "hashes": hashes, "block": block,
                    "block_hash": rpc("eth_getBlockByNumber", block, False)["hash"], "raw": raw,
                    "log_filter": log_filter, "block_filter": block_filter, "spare_filter": spare_filter}


@pytest.mark.parametrize(("method", "params"), CALLS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(CALLS)])
def test_result_fits_the_openrpc_schema(method: str, params: Callable[[Facts], list[Any]],
                                        chain: tuple[str, Facts], openrpc: OpenRpc) -> None:
    url, facts = chain
    reply = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params(facts)},
                          timeout=30).json()
    assert "error" not in reply, reply
    openrpc.check_result(method, reply["result"])


def test_every_specified_method_served_is_checked(openrpc: OpenRpc, tmp_path: Path) -> None:
    """The calls above cover each method of the node's table that the specification defines (AS_GETH aside)."""
    accounts = dev_accounts()
    node = Sequencer(SequencerSettings(dev_chain(6342), tmp_path, alloc={a.address: 1 for a in accounts}))
    try:
        served = set(node_methods(node, accounts)) & set(openrpc.methods)
    finally:
        asyncio.run(node.close())
    assert served - {m for m, _ in CALLS} == set(AS_GETH)
