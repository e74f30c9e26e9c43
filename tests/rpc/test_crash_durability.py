"""`kill -9` under load never loses a transaction whose receipt was returned (design.md: one writer)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import requests
from eth_account import Account
from eth_utils import to_checksum_address
from node_process import free_port, running_node

SINK = to_checksum_address("0x" + "ab" * 20)

KEYS = ["0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"]


def _rpc(url: str, method: str, params: list[object]) -> dict[str, object]:
    return requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=15).json()


def _sender(url: str, key: str, start_nonce: int, acked: list[str], stop: threading.Event) -> None:
    acct = Account.from_key(key)
    nonce = start_nonce
    while not stop.is_set():
        signed = acct.sign_transaction({"to": SINK, "value": 1, "gas": 100_000, "gasPrice": 10**7,
                                        "nonce": nonce, "chainId": 6342})
        try:
            reply = _rpc(url, "eth_sendRawTransactionSync", ["0x" + signed.raw_transaction.hex(), 5000])
        except requests.RequestException:
            return
        if "result" in reply:
            acked.append("0x" + signed.hash.hex())
            nonce += 1
        elif "error" in reply and "nonce too low" in str(reply["error"]):
            nonce += 1


def test_kill_9_loses_no_acknowledged_transaction(tmp_path: Path) -> None:
    port = free_port()
    acked: list[str] = []
    for round_ in range(3):
        with running_node(tmp_path, "--block-time", "300", port=port) as (url, proc):
            for h in acked:  # everything acknowledged before the last kill is still there
                tx = _rpc(url, "eth_getTransactionByHash", [h])["result"]
                assert tx is not None and tx["blockNumber"] is not None, (round_, h)
            deadline = time.monotonic() + 10  # receipts are served once the recovered block seals
            for h in acked:
                receipt = _rpc(url, "eth_getTransactionReceipt", [h])["result"]
                while receipt is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                    receipt = _rpc(url, "eth_getTransactionReceipt", [h])["result"]
                assert receipt is not None and receipt["status"] == "0x1", (round_, h)
            stop = threading.Event()
            starts = [int(str(_rpc(url, "eth_getTransactionCount", [Account.from_key(k).address, "pending"])["result"]), 16)
                      for k in KEYS]
            threads = [threading.Thread(target=_sender, args=(url, k, n, acked, stop)) for k, n in zip(KEYS, starts)]
            for t in threads:
                t.start()
            before, deadline = len(acked), time.monotonic() + 60
            while len(acked) < before + 20 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(acked) >= before + 20, "the senders stalled"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            stop.set()
            for t in threads:
                t.join(20)
    assert len(acked) >= 60


def test_kill_9_keeps_an_acknowledged_transaction_that_waits_in_the_pool(tmp_path: Path) -> None:
    """A transaction `eth_sendRawTransaction` acknowledged but that cannot run yet (behind a nonce gap) is in the
    mempool's journal: after kill -9 and a restart it is pooled again, and runs once the gap is filled."""
    acct = Account.from_key(KEYS[0])
    port = free_port()

    def signed(nonce: int) -> tuple[str, str]:
        tx = acct.sign_transaction({"to": SINK, "value": 1, "gas": 100_000, "gasPrice": 10**7, "nonce": nonce,
                                    "chainId": 6342})
        return "0x" + tx.raw_transaction.hex(), "0x" + tx.hash.hex()

    with running_node(tmp_path, "--block-time", "300", port=port) as (url, proc):
        nonce = int(str(_rpc(url, "eth_getTransactionCount", [acct.address, "pending"])["result"]), 16)
        later_raw, later_hash = signed(nonce + 1)
        assert _rpc(url, "eth_sendRawTransaction", [later_raw])["result"] == later_hash
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    with running_node(tmp_path, "--block-time", "300", port=port) as (url, _):
        assert "1 back in the mempool" in (tmp_path / f"node-{port}.log").read_text()
        assert _rpc(url, "txpool_status", [])["result"] == {"pending": "0x0", "queued": "0x1"}
        pooled = _rpc(url, "eth_getTransactionByHash", [later_hash])["result"]
        assert pooled is not None and pooled["blockNumber"] is None
        gap_raw, _ = signed(nonce)
        assert _rpc(url, "eth_sendRawTransactionSync", [gap_raw, 5000])["result"]["status"] == "0x1"
        deadline = time.monotonic() + 10
        while (tx := _rpc(url, "eth_getTransactionByHash", [later_hash])["result"])["blockNumber"] is None:
            assert time.monotonic() < deadline, "the restored transaction never ran"
            time.sleep(0.05)
        assert tx["nonce"] == hex(nonce + 1)
