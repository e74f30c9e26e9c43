"""Receipts by hash only once the block seals (ethers v6 rejects a receipt with a null blockHash); the sync send
returns the mini-block receipt at once, and the transaction lookup shows the mini-block inclusion (spec/rpc.md §5)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from eth_account import Account
from eth_hash.auto import keccak
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
        assert {k: v for k, v in fast.items() if k != "blockHash"} == {k: v for k, v in receipt.items()
                                                                     if k != "blockHash"}


def test_batch_of_sequential_nonces_is_admitted_in_order(tmp_path: Path) -> None:
    """A JSON-RPC array of raw transactions with consecutive nonces (as ethers/viem/Hardhat send them) is
    admitted in array order: every entry accepted, replies in order, all executed."""
    acct = Account.from_key(KEY0)
    raws = [acct.sign_transaction({"to": to_checksum_address("0x" + "ab" * 20), "value": 1, "gas": 100_000,
                                   "gasPrice": 10**7, "nonce": n, "chainId": 6342}) for n in range(40)]
    body = [{"jsonrpc": "2.0", "id": n, "method": "eth_sendRawTransaction", "params": ["0x" + r.raw_transaction.hex()]}
            for n, r in enumerate(raws)]
    body.insert(20, {"jsonrpc": "2.0", "id": "mid", "method": "eth_chainId"})
    with running_node(tmp_path, "--block-time", "100") as (url, _):
        replies = requests.post(url, json=body, timeout=30).json()
        assert [r["id"] for r in replies] == [b["id"] for b in body]
        assert [r.get("result") for r in replies if r["id"] != "mid"] == ["0x" + r.hash.hex() for r in raws]
        deadline = time.monotonic() + 10
        while int(str(_rpc(url, "eth_getTransactionCount", [acct.address, "latest"])["result"]), 16) < 40:
            assert time.monotonic() < deadline, "not all 40 executed"
            time.sleep(0.05)


def test_code_by_hash_is_served_before_the_seal(tmp_path: Path) -> None:
    """eth_getCodeByHash reads the newest mini-block like the other state methods: code deployed in the open
    block is there at once, not only after the seal; an unknown hash gives 0x."""
    runtime = bytes.fromhex("602a60005260206000f3")  # returns 42
    init = bytes([0x60, len(runtime), 0x60, 0x0C, 0x60, 0x00, 0x39, 0x60, len(runtime), 0x60, 0x00, 0xF3]) + runtime
    with running_node(tmp_path, "--block-time", "3000") as (url, _):
        signed = Account.from_key(KEY0).sign_transaction({"data": "0x" + init.hex(), "value": 0, "gas": 2_000_000,
                                                          "gasPrice": 10**7, "nonce": 0, "chainId": 6342})
        reply = _rpc(url, "eth_sendRawTransactionSync", ["0x" + signed.raw_transaction.hex()])
        assert isinstance(reply["result"], dict) and reply["result"]["status"] == "0x1"
        code_hash = "0x" + keccak(runtime).hex()
        assert _rpc(url, "eth_getCodeByHash", [code_hash])["result"] == "0x" + runtime.hex()
        assert _rpc(url, "eth_getCodeByHash", ["0x" + "11" * 32])["result"] == "0x"


def test_sync_send_behind_a_nonce_gap_answers_code_5_at_once(tmp_path: Path) -> None:
    """spec/rpc.md §5.1: a sync send that cannot run now (a nonce gap) gets code 5 with its hash at once, and
    stays in the pool: once the gap is filled it runs. The old `realtime_sendRawTransaction` name answers the
    receipt as the sync send does."""
    acct = Account.from_key(KEY0)

    def signed(nonce: int) -> str:
        tx = acct.sign_transaction({"to": to_checksum_address("0x" + "ab" * 20), "value": 1, "gas": 100_000,
                                    "gasPrice": 10**7, "nonce": nonce, "chainId": 6342})
        return "0x" + tx.raw_transaction.hex()

    with running_node(tmp_path, "--block-time", "200") as (url, _):
        gapped = signed(1)
        t0 = time.monotonic()
        reply = _rpc(url, "eth_sendRawTransactionSync", [gapped, 5000])
        assert time.monotonic() - t0 < 2.5  # not the 5 s timeout
        error = reply["error"]
        assert isinstance(error, dict) and error["code"] == 5 and error["data"] == "0x" + keccak(
            bytes.fromhex(gapped[2:])).hex()
        receipt = _rpc(url, "realtime_sendRawTransaction", [signed(0)])["result"]
        assert isinstance(receipt, dict) and receipt["status"] == "0x1"
        deadline = time.monotonic() + 10
        while int(str(_rpc(url, "eth_getTransactionCount", [acct.address, "latest"])["result"]), 16) < 2:
            assert time.monotonic() < deadline, "the pooled transaction did not run once the gap was filled"
            time.sleep(0.05)


def test_sync_send_of_a_pooled_transaction_waits_for_it(tmp_path: Path) -> None:
    """Sending a pooled transaction again with the sync send (a client retrying after code 4) waits for its
    receipt instead of answering "already known"."""
    acct = Account.from_key(KEY0)
    to = to_checksum_address("0x" + "ab" * 20)
    raws = ["0x" + acct.sign_transaction({"to": to, "value": 1, "gas": 100_000, "gasPrice": 10**7, "nonce": n,
                                          "chainId": 6342}).raw_transaction.hex() for n in range(2)]
    with running_node(tmp_path, "--block-time", "200") as (url, _):
        assert _rpc(url, "eth_sendRawTransaction", [raws[1]])["result"]  # pooled behind the gap at nonce 0
        with ThreadPoolExecutor(1) as ex:
            retry = ex.submit(_rpc, url, "eth_sendRawTransactionSync", [raws[1], 5000])
            time.sleep(0.3)
            assert not retry.done()
            assert _rpc(url, "eth_sendRawTransaction", [raws[0]])["result"]  # fills the gap
            receipt = retry.result(timeout=10)["result"]
        assert isinstance(receipt, dict) and receipt["status"] == "0x1"
        assert receipt["transactionHash"] == "0x" + keccak(bytes.fromhex(raws[1][2:])).hex()
