"""`megaeth-node validate --rpc` validates every block our own sequencer produces (issue: sequencer Done-when)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from eth_account import Account
from eth_utils import to_checksum_address
from node_process import running_node
from web3 import Web3

KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
INIT = bytes.fromhex("6006600c60003960066000f3602a60005500")  # deploys SSTORE(0, 42)


def test_validator_follows_our_sequencer(tmp_path: Path) -> None:
    with running_node(tmp_path, "--block-time", "150") as (url, _):
        w3 = Web3(Web3.HTTPProvider(url))
        acct = Account.from_key(KEY0)
        nonce = w3.eth.get_transaction_count(acct.address, "pending")
        hashes = []
        for i in range(6):
            tx = {"value": 10**15 + i, "gas": 200_000, "gasPrice": 10**7, "nonce": nonce + i, "chainId": 6342,
                  "to": to_checksum_address("0x" + f"{i + 1:02x}" * 20)} if i != 3 else {
                  "data": INIT, "gas": 300_000, "gasPrice": 10**7, "nonce": nonce + i, "chainId": 6342}
            if i == 4:  # an EIP-2930 transaction: a gas price and an access list
                tx["accessList"] = [{"address": tx["to"], "storageKeys": ["0x" + "00" * 31 + "07"]}]
            hashes.append(w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction))
        receipts = [w3.eth.wait_for_transaction_receipt(h, timeout=30) for h in hashes]
        assert all(r.status == 1 for r in receipts) and receipts[4].type == 1
        target = max(r.blockNumber for r in receipts) + 1
        deadline = time.monotonic() + 30
        while w3.eth.block_number < target and time.monotonic() < deadline:
            time.sleep(0.05)
        res = subprocess.run(
            [sys.executable, "-m", "megaeth_node.cli", "validate", "--rpc", url, "--chain", "dev", "--start-block", "0",
             "--until-block", str(target), "--data-dir", str(tmp_path / "validator"), "--workers", "1"],
            capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
