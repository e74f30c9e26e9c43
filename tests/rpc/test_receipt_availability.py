"""Receipts by hash only once the block seals (ethers v6 rejects a receipt with a null blockHash); the sync send
returns the mini-block receipt at once, and the transaction lookup shows the mini-block inclusion (spec/rpc.md §5)."""

from __future__ import annotations

import time
from pathlib import Path

import requests
from eth_account import Account
from eth_utils import to_checksum_address
from node_process import running_node

KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def _rpc(url: str, method: str, params: list[object]) -> dict[str, object]:
    return requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=15).json()


def test_receipt_by_hash_waits_for_the_seal(tmp_path: Path) -> None:
    with running_node(tmp_path, "--block-time", "1500") as (url, _):
        signed = Account.from_key(KEY0).sign_transaction({"to": to_checksum_address("0x" + "ab" * 20), "value": 1, "gas": 100_000,
                                                          "gasPrice": 10**7, "nonce": 0, "chainId": 6342})
        reply = _rpc(url, "eth_sendRawTransactionSync", ["0x" + signed.raw_transaction.hex()])
        fast = reply["result"]
        assert isinstance(fast, dict) and fast["status"] == "0x1" and fast["blockHash"] is None
        h = "0x" + signed.hash.hex()
        tx = _rpc(url, "eth_getTransactionByHash", [h])["result"]
        assert isinstance(tx, dict) and tx["blockNumber"] == fast["blockNumber"] and tx["blockHash"] is None
        early = _rpc(url, "eth_getTransactionReceipt", [h])["result"]
        assert early is None or isinstance(early, dict) and early["blockHash"] is not None  # never a null hash
        deadline = time.monotonic() + 10
        while (receipt := _rpc(url, "eth_getTransactionReceipt", [h])["result"]) is None:
            assert time.monotonic() < deadline, "no receipt after the seal"
            time.sleep(0.05)
        assert isinstance(receipt, dict) and receipt["blockNumber"] == fast["blockNumber"]
        block = _rpc(url, "eth_getBlockByNumber", [receipt["blockNumber"], False])["result"]
        assert isinstance(block, dict) and receipt["blockHash"] == block["hash"] and h in block["transactions"]
