"""`eth_createAccessList`, `eth_fillTransaction` and the small tier-2 reads against a real node process
(spec/rpc.md §3; geth's result shapes)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import rlp
from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from evm_asm import deploying
from node_process import running_node

KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ME = Account.from_key(KEY0).address.lower()
OTHER = "0x" + "aa" * 20
ZERO_SLOT, ONE_SLOT = "0x" + "00" * 32, "0x" + "00" * 31 + "01"
# SLOAD(0) + SLOAD(1) + BALANCE(0xaa…aa), returned as one word
READER = bytes.fromhex("6000546001540173" + "aa" * 20 + "3101" + "60005260206000f3")
REVERTER = bytes.fromhex("6000545060006000fd")  # SLOAD(0), then REVERT with no data


def _rpc(url: str, method: str, *params: Any) -> dict[str, Any]:
    return requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                         timeout=30).json()


def _result(url: str, method: str, *params: Any) -> Any:
    reply = _rpc(url, method, *params)
    assert "result" in reply, reply
    return reply["result"]


def _send(url: str, tx: dict[str, Any]) -> dict[str, Any]:
    """Sign with dev account 0 at its pending nonce and return the sync receipt."""
    nonce = int(_result(url, "eth_getTransactionCount", ME, "pending"), 16)
    full = {"chainId": 6342, "nonce": nonce, "maxFeePerGas": 10**9, "maxPriorityFeePerGas": 10**6, **tx}
    signed = Account.sign_transaction(full, KEY0)
    return _result(url, "eth_sendRawTransactionSync", "0x" + signed.raw_transaction.hex())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    with running_node(tmp_path_factory.mktemp("node"), "--block-time", "200") as (url, _):
        reader = _send(url, {"data": deploying(READER), "gas": 3_000_000})["contractAddress"]
        reverter = _send(url, {"data": deploying(REVERTER), "gas": 3_000_000})["contractAddress"]
        yield url, reader, reverter


def test_access_list_of_a_contract_reading_slots(node: tuple[str, str, str]) -> None:
    url, reader, _ = node
    out = _result(url, "eth_createAccessList", {"from": ME, "to": reader})
    # the recipient is listed only with its slots; the BALANCE target with none; sorted by address (geth)
    assert out["accessList"] == sorted([{"address": OTHER, "storageKeys": []},
                                        {"address": reader, "storageKeys": [ZERO_SLOT, ONE_SLOT]}],
                                       key=lambda e: e["address"])
    assert "error" not in out
    gas_used = int(out["gasUsed"], 16)
    with_list = {"from": ME, "to": reader, "accessList": out["accessList"]}
    estimate = int(_result(url, "eth_estimateGas", with_list), 16)
    assert estimate == gas_used
    receipt = _send(url, {"to": to_checksum_address(reader), "gas": estimate, "accessList": [
        {"address": to_checksum_address(e["address"]), "storageKeys": e["storageKeys"]} for e in out["accessList"]]})
    assert receipt["status"] == "0x1" and int(receipt["gasUsed"], 16) == gas_used
    # the list costs 2,400 per address and 1,900 per key; it saves 2,000 per SLOAD and 2,500 on BALANCE (EIP-2929)
    plain = int(_result(url, "eth_estimateGas", {"from": ME, "to": reader}), 16)
    assert gas_used - plain == 2 * 2_400 + 2 * 1_900 - 2 * 2_000 - 2_500


def test_access_list_iterates_from_a_given_list_and_drops_excluded_accounts(node: tuple[str, str, str]) -> None:
    url, reader, _ = node
    given = [{"address": "0x" + "00" * 19 + "01", "storageKeys": []},  # a precompile: dropped
             {"address": ME, "storageKeys": []},  # the sender: dropped
             {"address": "0x" + "bb" * 20, "storageKeys": [ONE_SLOT]}]  # kept: it has a slot
    out = _result(url, "eth_createAccessList", {"from": ME, "to": reader, "accessList": given}, "latest")
    assert [e["address"] for e in out["accessList"]] == sorted([OTHER, reader, "0x" + "bb" * 20])
    assert {e["address"]: e["storageKeys"] for e in out["accessList"]}["0x" + "bb" * 20] == [ONE_SLOT]


def test_access_list_reports_a_revert_in_the_error_field(node: tuple[str, str, str]) -> None:
    url, _, reverter = node
    out = _result(url, "eth_createAccessList", {"from": ME, "to": reverter})
    assert out["error"] == "execution reverted"
    assert out["accessList"] == [{"address": reverter, "storageKeys": [ZERO_SLOT]}]
    assert int(out["gasUsed"], 16) > 0


def test_access_list_errors_like_eth_call(node: tuple[str, str, str]) -> None:
    url, reader, _ = node
    poor = _rpc(url, "eth_createAccessList", {"from": "0x" + "cd" * 20, "to": reader, "value": "0x1",
                                              "maxFeePerGas": "0x3b9aca00"})
    assert poor["error"]["code"] == -32000 and "insufficient funds" in poor["error"]["message"]
    assert _rpc(url, "eth_createAccessList", {"to": reader}, "0xffffff")["error"]["message"] == "header not found"
    assert _rpc(url, "eth_createAccessList", {"to": reader, "data": "0x1"})["error"]["code"] == -32602


def test_fill_transaction_fills_and_returns_geth_shape(node: tuple[str, str, str]) -> None:
    url, reader, _ = node
    nonce = int(_result(url, "eth_getTransactionCount", ME, "pending"), 16)
    base_fee = int(_result(url, "eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    tip = int(_result(url, "eth_maxPriorityFeePerGas"), 16)
    out = _result(url, "eth_fillTransaction", {"from": ME, "to": reader, "value": "0x5"})
    tx = out["tx"]
    assert list(tx) == ["type", "chainId", "nonce", "to", "gas", "gasPrice", "maxPriorityFeePerGas", "maxFeePerGas",
                        "value", "input", "accessList", "v", "r", "s", "yParity", "hash"]
    assert tx["type"] == "0x2" and tx["chainId"] == hex(6342) and int(tx["nonce"], 16) == nonce
    assert tx["gasPrice"] is None and int(tx["maxPriorityFeePerGas"], 16) == tip
    assert int(tx["maxFeePerGas"], 16) == tip + 2 * base_fee
    estimate = _result(url, "eth_estimateGas", {"from": ME, "to": reader, "value": "0x5"})
    assert tx["gas"] == estimate and tx["to"] == reader and tx["value"] == "0x5"
    raw = bytes.fromhex(out["raw"][2:])
    assert raw[0] == 2 and tx["hash"] == "0x" + keccak(raw).hex()
    fields = rlp.decode(raw[1:])
    assert len(fields) == 12 and fields[-3:] == [b"", b"", b""]  # zero signature
    # the filled transaction, signed locally, is accepted and executes
    signed = Account.sign_transaction({
        "type": 2, "chainId": 6342, "nonce": nonce, "to": to_checksum_address(reader), "value": 5,
        "gas": int(tx["gas"], 16), "maxFeePerGas": int(tx["maxFeePerGas"], 16),
        "maxPriorityFeePerGas": tip, "data": b""}, KEY0)
    receipt = _result(url, "eth_sendRawTransactionSync", "0x" + signed.raw_transaction.hex())
    assert receipt["status"] == "0x1"


def test_fill_transaction_legacy_and_errors(node: tuple[str, str, str]) -> None:
    url, reader, _ = node
    out = _result(url, "eth_fillTransaction", {"from": ME, "to": reader, "gasPrice": "0x3b9aca00", "gas": "0x30000"})
    tx = out["tx"]
    assert tx["type"] == "0x0" and "chainId" not in tx and tx["gasPrice"] == "0x3b9aca00"
    assert tx["maxFeePerGas"] is None and tx["gas"] == "0x30000" and "yParity" not in tx
    assert len(rlp.decode(bytes.fromhex(out["raw"][2:]))) == 9
    access = [{"address": reader, "storageKeys": ["0x" + "00" * 32]}]
    out = _result(url, "eth_fillTransaction", {"from": ME, "to": reader, "gasPrice": "0x3b9aca00", "accessList": access})
    tx, raw = out["tx"], bytes.fromhex(out["raw"][2:])  # a gas price with an access list: EIP-2930 (geth)
    assert tx["type"] == "0x1" and tx["chainId"] == "0x18c6" and tx["gasPrice"] == "0x3b9aca00"
    assert tx["maxFeePerGas"] is None and tx["accessList"] == access and tx["yParity"] == "0x0"
    assert raw[0] == 1 and len(rlp.decode(raw[1:])) == 11
    both = _rpc(url, "eth_fillTransaction", {"from": ME, "to": reader, "gasPrice": "0x1", "maxFeePerGas": "0x2"})
    assert both["error"] == {"code": -32000,
                             "message": "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified"}
    assert "contract creation without any data" in _rpc(url, "eth_fillTransaction", {"from": ME})["error"]["message"]
    wrong = _rpc(url, "eth_fillTransaction", {"from": ME, "to": reader, "chainId": "0x1"})
    assert wrong["error"]["message"] == "chainId does not match node's (have=1, want=6342)"


def test_blob_base_fee_and_headers(node: tuple[str, str, str]) -> None:
    url, _, _ = node
    assert _result(url, "eth_blobBaseFee") == "0x1"
    block = _result(url, "eth_getBlockByNumber", "latest", False)
    header = _result(url, "eth_getHeaderByNumber", block["number"])
    assert header == _result(url, "eth_getHeaderByHash", block["hash"])
    assert header == {k: v for k, v in block.items() if k not in ("size", "uncles", "transactions", "withdrawals")}
    assert _result(url, "eth_getHeaderByNumber", "0xffffff") is None


def test_fee_history_ends_with_the_next_blocks_base_fee(node: tuple[str, str, str]) -> None:
    url, _, _ = node
    deadline = time.monotonic() + 30  # the first seals wait for the sealer process to start
    while int(_result(url, "eth_blockNumber"), 16) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    latest = _result(url, "eth_getBlockByNumber", "latest", False)
    before = hex(int(latest["number"], 16) - 1)
    hist = _result(url, "eth_feeHistory", "0x2", before, [])
    assert hist["baseFeePerGas"][-1] == latest["baseFeePerGas"]  # the block after `before` is `latest`
    assert len(hist["baseFeePerGas"]) == 3 and len(hist["gasUsedRatio"]) == 2
