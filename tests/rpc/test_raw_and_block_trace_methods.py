"""The raw getters (`debug_getRawHeader/Block/Transaction/Receipts`), the block tracers (`debug_traceBlockByNumber/
ByHash`), `eth_signTransaction`, `txpool_contentFrom`, `eth_coinbase` and `eth_baseFee` against a real
`megaeth-node run` process: each answer checked against the chain's own commitments (block hash, receipts root)
and against the methods it must agree with."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import rlp
from eth_account import Account
from eth_hash.auto import keccak
from evm_asm import assemble, deploying
from node_process import running_node

from megaeth_node.types import ordered_trie_root

# Runtime: LOG1(0x77) of 4 bytes, a call to itself with no data when the calldata is non-empty, then stop.
RUNTIME = assemble(("PUSH", 0xAABBCCDD), ("PUSH", 0), "MSTORE", ("PUSH", 0x77), ("PUSH", 4), ("PUSH", 28), "LOG1",
                   "CALLDATASIZE", "ISZERO", ("PUSHLABEL", "end"), "JUMPI",
                   ("PUSH", 0), ("PUSH", 0), ("PUSH", 0), ("PUSH", 0), ("PUSH", 0), "ADDRESS", "GAS", "CALL", "POP",
                   ("LABEL", "end"), "STOP")


class Rpc:
    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, method: str, *params: Any) -> Any:
        reply = requests.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                              timeout=30).json()
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def error(self, method: str, *params: Any) -> dict[str, Any]:
        reply = requests.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                              timeout=30).json()
        assert "error" in reply, reply
        return reply["error"]  # type: ignore[no-any-return]

    def receipt(self, tx_hash: str) -> dict[str, Any]:
        for _ in range(200):
            found = self("eth_getTransactionReceipt", tx_hash)
            if found is not None:
                return found  # type: ignore[no-any-return]
            time.sleep(0.05)
        raise TimeoutError(tx_hash)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Rpc, dict[str, Any]]]:
    """A node with one block holding a contract creation, then blocks with a legacy transfer, two EIP-1559 calls
    into it (logs, an inner call) and an EIP-2930 call (a gas price and an access list)."""
    with running_node(tmp_path_factory.mktemp("node"), "--block-time", "300") as (url, _):
        rpc = Rpc(url)
        me, you = rpc("eth_accounts")[:2]
        created = rpc.receipt(rpc("eth_sendTransaction", {"from": me, "input": "0x" + deploying(RUNTIME).hex()}))
        contract = created["contractAddress"]
        access = [{"address": contract, "storageKeys": ["0x" + "00" * 32]}]
        hashes = [rpc("eth_sendTransaction", {"from": you, "to": me, "value": "0x5", "gasPrice": hex(10**9)}),
                  rpc("eth_sendTransaction", {"from": me, "to": contract, "input": "0x01"}),
                  rpc("eth_sendTransaction", {"from": me, "to": contract}),
                  rpc("eth_sendTransaction", {"from": you, "to": contract, "gasPrice": hex(10**9), "accessList": access})]
        receipts = [rpc.receipt(h) for h in hashes]
        yield rpc, {"me": me, "you": you, "contract": contract, "hashes": hashes, "receipts": receipts}


def _blocks(rpc: Rpc, facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The blocks holding the fixture's transactions (one or more: the sends may straddle a seal)."""
    numbers = sorted({r["blockNumber"] for r in facts["receipts"]}, key=lambda n: int(n, 16))
    return [rpc("eth_getBlockByNumber", n, True) for n in numbers]


def test_raw_header_block_and_receipts_match_the_chain(chain: tuple[Rpc, dict[str, Any]]) -> None:
    rpc, facts = chain
    kinds = set()
    for block in _blocks(rpc, facts):
        number = block["number"]
        header = bytes.fromhex(rpc("debug_getRawHeader", number)[2:])
        assert "0x" + keccak(header).hex() == block["hash"]
        assert rpc("debug_getRawHeader", block["hash"]) == "0x" + header.hex()
        raw = rlp.decode(bytes.fromhex(rpc("debug_getRawBlock", number)[2:]))
        assert rlp.encode(raw[0]) == header and raw[2] == [] and raw[3] == []  # no ommers, no withdrawals
        txs = [t if isinstance(t, bytes) else rlp.encode(t) for t in raw[1]]  # typed: a byte string; legacy: a list
        kinds |= {(t["type"], isinstance(r, bytes)) for t, r in zip(block["transactions"], raw[1], strict=True)}
        assert ["0x" + keccak(t).hex() for t in txs] == [t["hash"] for t in block["transactions"]]
        assert "0x" + ordered_trie_root(txs).hex() == block["transactionsRoot"]
        for tx, encoded in zip(block["transactions"], txs, strict=True):
            assert rpc("debug_getRawTransaction", tx["hash"]) == "0x" + encoded.hex()
        receipts = [bytes.fromhex(r[2:]) for r in rpc("debug_getRawReceipts", block["hash"])]
        assert "0x" + ordered_trie_root(receipts).hex() == block["receiptsRoot"] and len(receipts) == len(txs)
    assert kinds == {("0x0", False), ("0x1", True), ("0x2", True)}
    assert rpc("debug_getRawTransaction", "0x" + "ab" * 32) is None
    assert rpc.error("debug_getRawBlock", hex(int(rpc("eth_blockNumber"), 16) + 100))["code"] == -32000
    assert rpc.error("debug_getRawHeader", "3")["code"] == -32602


def test_block_traces_are_the_transaction_traces(chain: tuple[Rpc, dict[str, Any]]) -> None:
    """Each entry of a block trace is the transaction's own trace (callTracer and struct logger), in block order;
    the top call frame carries the transaction's gas limit and its receipt's gas."""
    rpc, facts = chain
    frames = {}
    for block in _blocks(rpc, facts):
        calls = rpc("debug_traceBlockByNumber", block["number"], {"tracer": "callTracer"})
        assert [c["txHash"] for c in calls] == [t["hash"] for t in block["transactions"]]
        for entry, tx in zip(calls, block["transactions"], strict=True):
            assert entry["result"] == rpc("debug_traceTransaction", tx["hash"], {"tracer": "callTracer"})
            receipt = rpc("eth_getTransactionReceipt", tx["hash"])
            assert entry["result"]["gas"] == tx["gas"] and entry["result"]["gasUsed"] == receipt["gasUsed"]
            frames[tx["hash"]] = entry["result"]
        options = {"disableStack": True, "limit": 50}
        for entry in rpc("debug_traceBlockByHash", block["hash"], options):
            assert entry["result"] == rpc("debug_traceTransaction", entry["txHash"], options)
            if entry["txHash"] == facts["hashes"][0]:  # the transfer: a call to an account without code runs no
                assert entry["result"]["structLogs"] == []  # opcode (geth)
    transfer, call_in, plain, _ = (frames[h] for h in facts["hashes"])
    assert "calls" not in transfer and "calls" not in plain and call_in["calls"][0]["to"] == facts["contract"]
    with_log = {"tracer": "callTracer", "tracerConfig": {"withLog": True}}
    for block in _blocks(rpc, facts):
        for entry in rpc("debug_traceBlockByNumber", block["number"], with_log):
            traced = entry["result"]
            assert traced == rpc("debug_traceTransaction", entry["txHash"], with_log)
            logs = [*traced.get("logs", []), *(log for c in traced.get("calls", []) for log in c.get("logs", []))]
            receipt = rpc("eth_getTransactionReceipt", entry["txHash"])
            assert [(g["address"], g["topics"], g["data"]) for g in logs] == [
                (g["address"], g["topics"], g["data"]) for g in receipt["logs"]]
    logged = rpc("debug_traceTransaction", facts["hashes"][1], with_log)  # its self-call ran out of the gas estimated
    assert [log["position"] for log in logged["logs"]] == ["0x0"] and "logs" not in logged["calls"][0]
    assert rpc.error("debug_traceBlockByNumber", "0x0") == {"code": -32000, "message": "genesis is not traceable"}
    assert rpc.error("debug_traceBlockByHash", "0x" + "01" * 32)["code"] == -32000


def test_sign_transaction_and_pool_content_of_one_sender(chain: tuple[Rpc, dict[str, Any]]) -> None:
    """`eth_signTransaction` signs as `eth_sendTransaction` fills (lowercase `to` accepted) without sending; a
    signed transaction behind a nonce gap waits as queued in `txpool_contentFrom` of its sender only."""
    rpc, facts = chain
    you = facts["you"]
    nonce = int(rpc("eth_getTransactionCount", you, "pending"), 16)
    request = {"from": you, "to": facts["me"].lower(), "value": "0x7", "nonce": hex(nonce + 1)}
    signed = rpc("eth_signTransaction", request)
    raw = bytes.fromhex(signed["raw"][2:])
    assert Account.recover_transaction(raw).lower() == you.lower()
    assert signed["tx"]["hash"] == "0x" + keccak(raw).hex() and signed["tx"]["nonce"] == hex(nonce + 1)
    assert rpc("eth_getTransactionCount", you, "pending") == hex(nonce)  # not sent
    rpc("eth_sendRawTransaction", signed["raw"])
    mine = rpc("txpool_contentFrom", you)
    assert mine["pending"] == {} and mine["queued"][str(nonce + 1)]["hash"] == signed["tx"]["hash"]
    assert rpc("txpool_contentFrom", facts["me"]) == {"pending": {}, "queued": {}}
    assert rpc("debug_getRawTransaction", signed["tx"]["hash"]) == signed["raw"]  # in the pool


def test_coinbase_and_next_base_fee(chain: tuple[Rpc, dict[str, Any]]) -> None:
    rpc, _ = chain
    assert rpc("eth_coinbase") == rpc("eth_getBlockByNumber", "latest", False)["miner"]
    assert rpc("eth_baseFee") == rpc("eth_getBlockByNumber", "pending", False)["baseFeePerGas"]
