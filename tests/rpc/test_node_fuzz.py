"""Hypothesis fuzz of a running node over HTTP and WS: malformed JSON, wrong types, unknown methods,
invalid transactions. Every request gets a JSON-RPC answer, and the node keeps working."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import requests
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from node_process import running_node

from megaeth_node.types import Transaction


KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
METHODS = sorted(["eth_chainId", "eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt",
                  "eth_call", "eth_estimateGas", "eth_sendRawTransaction", "eth_sendRawTransactionSync",
                  "eth_getBlockByNumber", "eth_getBlockByHash", "eth_getTransactionReceipt", "eth_getLogs",
                  "eth_newFilter", "eth_getFilterChanges", "eth_feeHistory", "eth_sendTransaction",
                  "personal_sign", "eth_signTypedData_v4", "mega_getBlockWitness", "mega_setValidatedBlocks",
                  "eth_getCodeByHash", "web3_sha3", "no_such_method"])
JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=12) |
                    st.sampled_from(["0x", "0x0", "0x00", "latest", "pending", "0x" + "ab" * 20, "0x" + "cd" * 32]),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(
                        st.sampled_from(["from", "to", "data", "input", "gas", "value", "address", "topics",
                                         "fromBlock", "toBlock", "blockHash", "blockNumber", "x"]), c, max_size=4),
                    max_leaves=10)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_node(tmp_path_factory.mktemp("node"), "--block-time", "100") as (u, _):
        yield u


def _check_reply(reply: Any) -> None:
    items = reply if isinstance(reply, list) else [reply]
    for item in items:
        assert item["jsonrpc"] == "2.0" and ("result" in item) != ("error" in item), item
        if "error" in item:
            assert isinstance(item["error"]["code"], int) and isinstance(item["error"]["message"], str)
            assert item["error"]["code"] != -32603, item  # never an internal error for bad input



@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(METHODS), params=st.lists(JSON, max_size=4))
def test_fuzzed_requests_get_answers(url: str, method: str, params: list[Any]) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    reply = requests.post(url, data=json.dumps(body), timeout=30)
    assert reply.status_code == 200
    _check_reply(reply.json())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=400))
def test_fuzzed_raw_transactions_are_rejected_cleanly(url: str, raw: bytes) -> None:
    reply = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                                     "params": ["0x" + raw.hex()]}, timeout=30).json()
    _check_reply(reply)
    assert "error" in reply


def test_invalid_transactions_and_oversize(url: str) -> None:
    acct = Account.from_key(KEY0)
    tx = {"to": to_checksum_address("0x" + "56" * 20), "value": 1, "gas": 100_000, "maxFeePerGas": 10**8,
          "maxPriorityFeePerGas": 10**6, "nonce": 10**6, "chainId": 6342}
    signed = replace(Transaction.decode(bytes(acct.sign_transaction(tx).raw_transaction)), s=0).encode()
    big = acct.sign_transaction({**tx, "data": b"\x01" * 140_000, "gas": 30_000_000})
    for raw, words in ((signed, "invalid sender"), (bytes(big.raw_transaction), "oversized data")):
        reply = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                                         "params": ["0x" + raw.hex()]}, timeout=30).json()
        assert reply["error"]["code"] == -32000 and words in reply["error"]["message"], reply


def test_ws_fuzz_and_node_still_works(url: str) -> None:
    async def go() -> None:
        async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
            for body in ["{", "[]", "[1,2]", '{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":[7]}',
                         json.dumps([{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(600)])]:
                await ws.send_str(body)
                _check_reply_loose(json.loads(await ws.receive_str(timeout=20)))
    asyncio.run(go())
    acct = Account.from_key(KEY0)
    nonce = int(requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount",
                                         "params": [acct.address, "pending"]}, timeout=10).json()["result"], 16)
    signed = acct.sign_transaction({"to": to_checksum_address("0x" + "57" * 20), "value": 1, "gas": 100_000,
                                    "gasPrice": 10**7, "nonce": nonce, "chainId": 6342})
    reply = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransactionSync",
                                     "params": ["0x" + signed.raw_transaction.hex()]}, timeout=30).json()
    assert reply["result"]["status"] == "0x1"


def _check_reply_loose(reply: Any) -> None:
    items = reply if isinstance(reply, list) else [reply]
    assert all(i["jsonrpc"] == "2.0" and ("error" in i or "result" in i) for i in items)
