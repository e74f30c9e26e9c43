"""web3.py (from PyPI) against a real `megaeth-node run` process: the wallet flows of spec/rpc.md §2, §5."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from eth_account import Account
from evm_asm import assemble, deploying
from node_process import running_node
from web3 import Web3
from web3.exceptions import ContractLogicError

KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
TOPIC = 0x0123
REVERT_DATA = bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + (3).to_bytes(32, "big") + b"bad".ljust(32, b"\0")

# Runtime: empty calldata → return slot 0; value 0xdead → revert Error("bad"); else store it, LOG1(TOPIC), stop.
RUNTIME = assemble(
    "CALLDATASIZE", "ISZERO", ("PUSHLABEL", "get"), "JUMPI",
    ("PUSH", 0), "CALLDATALOAD", "DUP1", ("PUSH", 0xDEAD), "EQ", ("PUSHLABEL", "bad"), "JUMPI",
    "DUP1", ("PUSH", 0), "SSTORE", ("PUSH", 0), "MSTORE", ("PUSH", TOPIC), ("PUSH", 32), ("PUSH", 0), "LOG1", "STOP",
    ("LABEL", "get"), ("PUSH", 0), "SLOAD", ("PUSH", 0), "MSTORE", ("PUSH", 32), ("PUSH", 0), "RETURN",
    ("LABEL", "bad"), ("PUSH", len(REVERT_DATA)), ("PUSH", 1), ("PUSHLABEL", "data"), "ADD", ("PUSH", 0), "CODECOPY",
    ("PUSH", len(REVERT_DATA)), ("PUSH", 0), "REVERT", ("LABEL", "data"),
) + REVERT_DATA


@pytest.fixture(scope="module")
def w3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web3]:
    with running_node(tmp_path_factory.mktemp("node"), "--block-time", "200") as (url, _):
        yield Web3(Web3.HTTPProvider(url))


def test_connect_and_chain_facts(w3: Web3) -> None:
    assert w3.is_connected() and w3.eth.chain_id == 6342
    assert len(w3.eth.accounts) == 10 and w3.eth.get_balance(w3.eth.accounts[0]) > 0
    assert w3.eth.gas_price >= w3.eth.get_block("latest")["baseFeePerGas"]
    assert w3.eth.max_priority_fee > 0
    hist = w3.eth.fee_history(3, "latest", [10, 50])
    assert len(hist["baseFeePerGas"]) == len(hist["gasUsedRatio"]) + 1


def test_signed_transfer_and_receipt(w3: Web3) -> None:
    acct = Account.from_key(KEY0)
    to = Web3.to_checksum_address("0x" + "12" * 20)
    nonce = w3.eth.get_transaction_count(acct.address, "pending")
    fee = w3.eth.get_block("latest")["baseFeePerGas"] * 2 + w3.eth.max_priority_fee
    signed = acct.sign_transaction({"to": to, "value": 10**15, "gas": 100_000, "maxFeePerGas": fee,
                                    "maxPriorityFeePerGas": w3.eth.max_priority_fee, "nonce": nonce,
                                    "chainId": 6342})
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30)
    assert receipt.status == 1 and w3.eth.get_balance(to) == 10**15
    assert w3.eth.get_transaction_count(acct.address) == nonce + 1
    tx = w3.eth.get_transaction(signed.hash)
    assert tx["from"] == acct.address and tx["nonce"] == nonce


def test_deploy_call_events_and_revert(w3: Web3) -> None:
    me = w3.eth.accounts[1]
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": me, "data": deploying(RUNTIME)}),
                                                  timeout=30)
    assert receipt.status == 1 and receipt.contractAddress
    addr = receipt.contractAddress
    assert w3.eth.get_code(addr) == RUNTIME
    flt = w3.eth.filter({"address": addr})
    h = w3.eth.send_transaction({"from": me, "to": addr, "data": (42).to_bytes(32, "big")})
    r = w3.eth.wait_for_transaction_receipt(h, timeout=30)
    assert r.status == 1 and len(r.logs) == 1 and r.logs[0]["topics"][0] == TOPIC.to_bytes(32, "big")
    assert int.from_bytes(w3.eth.call({"to": addr}), "big") == 42
    assert int.from_bytes(w3.eth.get_storage_at(addr, 0), "big") == 42
    reply = w3.provider.make_request("eth_getStorageAt", [addr, "0x00", "latest"])  # type: ignore[arg-type]
    assert int(reply["result"], 16) == 42  # a key with a leading zero, as geth takes it
    with pytest.raises(ContractLogicError, match="bad"):
        w3.eth.call({"to": addr, "data": (0xDEAD).to_bytes(32, "big")})
    with pytest.raises(ContractLogicError, match="bad"):
        w3.eth.estimate_gas({"from": me, "to": addr, "data": (0xDEAD).to_bytes(32, "big")})
    gas = w3.eth.estimate_gas({"from": me, "to": addr, "data": (7).to_bytes(32, "big")})
    assert 21_000 < gas < 200_000
    last = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": me, "to": addr, "data": (7).to_bytes(32, "big"), "gas": gas}), timeout=30)
    assert last.status == 1, last
    deadline = time.monotonic() + 10  # receipts come from the mini-block; logs are indexed when the block seals
    while w3.eth.block_number < last.blockNumber and time.monotonic() < deadline:
        time.sleep(0.05)
    logs = w3.eth.get_logs({"address": addr, "fromBlock": 0})
    assert [int.from_bytes(lg["data"], "big") for lg in logs] == [42, 7]
    assert len(w3.eth.get_filter_changes(flt.filter_id)) >= 1
    late = w3.eth.filter({"address": addr, "fromBlock": 0})
    assert w3.eth.get_filter_changes(late.filter_id) == []  # changes: blocks sealed after it was made (geth)
    assert len(w3.eth.get_filter_logs(late.filter_id)) == 2  # its whole range


def test_pending_transaction_filter_sees_transactions_already_executed(w3: Web3) -> None:
    """A transaction stays pooled ~10 ms before a mini-block runs it: the pending-transaction filter still
    reports it at the next poll, once."""
    flt = w3.eth.filter("pending")
    h = w3.eth.send_transaction({"from": w3.eth.accounts[3], "to": w3.eth.accounts[4], "value": 1})
    w3.eth.wait_for_transaction_receipt(h, timeout=30)
    assert h in w3.eth.get_filter_changes(flt.filter_id)
    assert h not in w3.eth.get_filter_changes(flt.filter_id)


def test_sync_send_returns_receipt(w3: Web3) -> None:
    acct = Account.from_key(KEY0)
    nonce = w3.eth.get_transaction_count(acct.address, "pending")
    signed = acct.sign_transaction({"to": "0x" + "34" * 20, "value": 1, "gas": 100_000, "gasPrice": 10**7,
                                    "nonce": nonce, "chainId": 6342})
    reply = requests.post(w3.provider.endpoint_uri, json={  # type: ignore[attr-defined]
        "jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransactionSync",
        "params": ["0x" + signed.raw_transaction.hex()]}, timeout=10).json()
    assert reply["result"]["status"] == "0x1" and reply["result"]["transactionHash"] == "0x" + signed.hash.hex()


@pytest.mark.parametrize("mutate, message", [
    (lambda tx: {**tx, "chainId": 1}, "invalid chain id"),
    (lambda tx: {**tx, "nonce": 0}, "nonce too low"),
    (lambda tx: {**tx, "gas": 20_000}, "intrinsic gas too low"),
    (lambda tx: {**tx, "gas": 50_000, "data": b"\x01" * 1000}, "insufficient gas for floor data gas cost"),
    (lambda tx: {**tx, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1}, "max fee per gas less than block base fee"),
    (lambda tx: {**tx, "value": 10**30}, "insufficient funds"),
])
def test_invalid_transactions_get_geth_errors(w3: Web3, mutate: object, message: str) -> None:
    acct = Account.from_key(KEY0)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": acct.address, "to": acct.address}), timeout=30)
    tx = {"to": "0x" + "56" * 20, "value": 1, "gas": 100_000, "maxFeePerGas": 10**8, "maxPriorityFeePerGas": 10**6,
          "nonce": w3.eth.get_transaction_count(acct.address, "pending"), "chainId": 6342}
    signed = acct.sign_transaction(mutate(tx))  # type: ignore[operator]
    reply = requests.post(w3.provider.endpoint_uri, json={  # type: ignore[attr-defined]
        "jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
        "params": ["0x" + signed.raw_transaction.hex()]}, timeout=10).json()
    assert reply["error"]["code"] == -32000 and message in reply["error"]["message"]


def test_data_dir_is_reused(tmp_path: Path) -> None:
    with running_node(tmp_path, "--block-time", "100") as (url, _):
        w3 = Web3(Web3.HTTPProvider(url))
        h = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": w3.eth.accounts[1], "value": 5})
        w3.eth.wait_for_transaction_receipt(h, timeout=30)
        balance = w3.eth.get_balance(w3.eth.accounts[1])
    with running_node(tmp_path, "--block-time", "100") as (url, _):
        w3 = Web3(Web3.HTTPProvider(url))
        assert w3.eth.get_balance(w3.eth.accounts[1]) == balance
        assert w3.eth.get_transaction_receipt(h).status == 1


def test_eth_call_state_overrides(w3: Web3) -> None:
    target = Web3.to_checksum_address("0x" + "99" * 20)
    slot = "0x" + "00" * 32
    call = {"to": target, "data": "0x"}
    assert w3.eth.call(call) == b""
    overridden = w3.eth.call(call, "latest", {target: {"code": "0x" + RUNTIME.hex(), "stateDiff": {slot: "0x" + "00" * 31 + "2a"}}})
    assert int.from_bytes(overridden, "big") == 42
    assert w3.eth.get_code(target) == b""  # nothing persisted
    reply = requests.post(w3.provider.endpoint_uri, json={  # type: ignore[attr-defined]
        "jsonrpc": "2.0", "id": 1, "method": "eth_call",
        "params": [call, "latest", {target: {"state": {}, "stateDiff": {}}}]}, timeout=10).json()
    assert reply["error"]["code"] == -32602
    reply = requests.post(w3.provider.endpoint_uri, json={  # type: ignore[attr-defined]
        "jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [call, "latest", {}, {"number": "0x1"}]},
        timeout=10).json()
    assert reply["error"]["code"] == -32602 and "block overrides" in reply["error"]["message"]
    empty = requests.post(w3.provider.endpoint_uri, json={  # type: ignore[attr-defined]
        "jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [call, "latest", {}, {}]}, timeout=10).json()
    assert empty["result"] == "0x"


def test_eth_estimate_gas_state_overrides(w3: Web3) -> None:
    """The third parameter of eth_estimateGas is a state override, as for eth_call: an account with no ether
    gets an estimate for a transfer once its balance is overridden."""
    poor = "0x" + "98" * 20
    transfer = {"from": poor, "to": "0x" + "97" * 20, "value": hex(10**18)}
    rpc = w3.provider.endpoint_uri  # type: ignore[attr-defined]

    def estimate(*params: object) -> dict[str, object]:
        return requests.post(rpc, json={"jsonrpc": "2.0", "id": 1, "method": "eth_estimateGas",
                                        "params": [transfer, *params]}, timeout=30).json()

    assert "insufficient funds" in estimate()["error"]["message"]  # type: ignore[index]
    assert int(estimate("latest", {poor: {"balance": hex(10**19)}})["result"], 16) >= 21_000  # type: ignore[arg-type]
    # with a fee cap (viem fills one in before estimating), the search is bounded by what the balance pays for
    transfer["maxFeePerGas"] = hex(10**8)
    just_enough = {poor: {"balance": hex(10**18 + 10**15)}}  # 10^7 gas at the fee cap: far below the RPC gas cap
    assert int(estimate("latest", just_enough)["result"], 16) >= 21_000  # type: ignore[arg-type]
    short = estimate("latest", {poor: {"balance": hex(10**17)}})
    assert "insufficient funds for transfer" in short["error"]["message"]  # type: ignore[index]


def test_debug_trace_transaction_call_tracer(w3: Web3) -> None:
    me = w3.eth.accounts[2]
    created = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": me, "data": deploying(RUNTIME)}),
                                                  timeout=30)
    h = w3.eth.send_transaction({"from": me, "to": created.contractAddress, "data": (5).to_bytes(32, "big")})
    receipt = w3.eth.wait_for_transaction_receipt(h, timeout=30)
    rpc = w3.provider.endpoint_uri  # type: ignore[attr-defined]
    trace = requests.post(rpc, json={"jsonrpc": "2.0", "id": 1, "method": "debug_traceTransaction",
                                     "params": ["0x" + h.hex(), {"tracer": "callTracer"}]}, timeout=60).json()["result"]
    assert trace["type"] == "CALL" and trace["from"] == me.lower() and trace["to"] == created.contractAddress.lower()
    assert int(trace["gasUsed"], 16) == receipt.gasUsed and trace["input"] == "0x" + (5).to_bytes(32, "big").hex()
    bad = requests.post(rpc, json={"jsonrpc": "2.0", "id": 1, "method": "debug_traceTransaction",
                                   "params": ["0x" + h.hex(), {"tracer": "prestateTracer"}]}, timeout=10).json()
    assert bad["error"]["code"] == -32602
