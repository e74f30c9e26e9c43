"""WebSocket subscriptions against a real node process (spec/rpc.md §1, §5)."""

from __future__ import annotations

import asyncio
import time
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import requests
from eth_account import Account
from eth_utils import to_checksum_address
from node_process import running_node

from megaeth_node.genesis import dev_chain
from megaeth_node.types import Block
from salt.witness import WitnessFile, decode_rpc_witness, encode_mpt_witness, encode_witness_file
from validator.core import validate_block

KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_node(tmp_path_factory.mktemp("node"), "--block-time", "200") as (u, _):
        yield u


def _req(i: int, method: str, params: list[Any]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params})


def test_subscribe_over_http_is_not_available(url: str) -> None:
    reply = requests.post(url, data=_req(1, "eth_subscribe", ["newHeads"]), timeout=10).json()
    assert reply["error"]["code"] == -32601


def test_notifications_arrive(url: str) -> None:
    acct = Account.from_key(KEY0)

    async def go() -> dict[str, list[Any]]:
        got: dict[str, list[Any]] = {}
        async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
            ids = {}
            for i, params in enumerate([["newHeads"], ["newPendingTransactions"], ["miniBlocks"],
                                        ["newPendingTransactions", True]]):
                await ws.send_str(_req(i, "eth_subscribe", params))
                reply = json.loads(await ws.receive_str())
                ids[reply["result"]] = f"{params[0]}{len(params)}"
            nonce = int(requests.post(url, data=_req(9, "eth_getTransactionCount", [acct.address, "pending"]),
                                      timeout=10).json()["result"], 16)
            signed = acct.sign_transaction({"to": to_checksum_address("0x" + "77" * 20), "value": 3, "gas": 100_000,
                                            "gasPrice": 10**7, "nonce": nonce, "chainId": 6342})
            requests.post(url, data=_req(10, "eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()]),
                          timeout=10)
            deadline = asyncio.get_running_loop().time() + 20
            while asyncio.get_running_loop().time() < deadline and len(got) < 4:
                msg = json.loads(await ws.receive_str(timeout=20))
                if msg.get("method") == "eth_subscription":
                    got.setdefault(ids[msg["params"]["subscription"]], []).append(msg["params"]["result"])
            got["hash"] = ["0x" + signed.hash.hex()]
        return got

    got = asyncio.run(go())
    assert set(got) >= {"newHeads1", "newPendingTransactions1", "miniBlocks1", "newPendingTransactions2"}
    tx_hash = got["hash"][0]
    assert tx_hash in got["newPendingTransactions1"]
    assert any(t["hash"] == tx_hash for t in got["newPendingTransactions2"])
    mb = next(m for m in got["miniBlocks1"] if any(t["hash"] == tx_hash for t in m["transactions"]))
    assert mb["receipts"][0]["status"] == "0x1" and int(mb["gas_used"], 16) > 0
    head = got["newHeads1"][0]
    assert all(k in head for k in ("number", "hash", "parentHash", "stateRoot", "miniBlockCount", "miniBlockOffset"))
    assert _block(url, head["number"])["miniBlockOffset"] == head["miniBlockOffset"]
    deadline = time.monotonic() + 20
    while (block := _block(url, mb["block_number"])) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert block is not None, "the transaction's block did not seal"
    offset, count = int(block["miniBlockOffset"], 16), int(block["miniBlockCount"], 16)
    assert offset <= int(mb["mini_block_number"], 16) < offset + count


def _block(url: str, number: str) -> dict[str, Any] | None:
    reply = requests.post(url, data=_req(1, "eth_getBlockByNumber", [number, False]), timeout=10).json()
    return reply["result"]  # type: ignore[no-any-return]


def test_subscription_limits(url: str) -> None:
    async def go() -> list[dict[str, Any]]:
        out = []
        async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
            calls = [["newHeads"], ["newHeads"], ["bogus"], ["logs", {"address": "0x" + "11" * 20}],
                     ["logs", {}], ["newPendingTransactions"], ["miniBlocks"], ["newPendingTransactions", True]]
            async def reply() -> dict[str, Any]:  # a newHeads notification may come first
                while "id" not in (msg := json.loads(await ws.receive_str())):
                    pass
                return msg  # type: ignore[no-any-return]

            for i, params in enumerate(calls):
                await ws.send_str(_req(i, "eth_subscribe", params))
                out.append(await reply())
            sub_id = out[0]["result"]
            await ws.send_str(_req(99, "eth_unsubscribe", [sub_id]))
            out.append(await reply())
            await ws.send_str(_req(100, "eth_unsubscribe", [sub_id]))
            out.append(await reply())
        return out

    r = asyncio.run(go())
    assert "result" in r[0] and r[1]["error"]["code"] == -32600 and r[2]["error"]["code"] == -32602
    assert all("result" in x for x in r[3:7]) and r[7]["error"]["code"] == -32005
    assert r[8]["result"] is True and r[9]["result"] is False




def test_metrics_and_status(url: str) -> None:
    metrics = requests.get(url + "metrics", timeout=10).text
    assert "megaeth_head_block" in metrics and "megaeth_mini_blocks_total" in metrics
    status = requests.get(url + "status.json", timeout=10).json()
    assert status["chain_id"] == 6342 and status["head"] >= 0
    page = requests.get(url, headers={"Accept": "text/html"}, timeout=10)
    assert page.url.endswith("/status") and "megaeth-node" in page.text and "/status.json" in page.text


def test_block_witness_served_and_validates(url: str) -> None:
    def rpc(method: str, params: list[Any]) -> Any:
        return requests.post(url, data=_req(1, method, params), timeout=10).json()

    acct = Account.from_key(KEY0)
    nonce = int(rpc("eth_getTransactionCount", [acct.address, "pending"])["result"], 16)
    signed = acct.sign_transaction({"to": to_checksum_address("0x" + "78" * 20), "value": 3, "gas": 100_000,
                                    "gasPrice": 10**7, "nonce": nonce, "chainId": 6342})
    receipt = rpc("eth_sendRawTransactionSync", ["0x" + signed.raw_transaction.hex()])["result"]
    number = int(receipt["blockNumber"], 16)
    deadline = time.monotonic() + 10
    while int(rpc("eth_blockNumber", [])["result"], 16) < number and time.monotonic() < deadline:
        time.sleep(0.05)
    raw_block, raw_parent = (rpc("eth_getBlockByNumber", [hex(n), True])["result"] for n in (number, number - 1))
    block, parent = Block.from_rpc(raw_block), Block.from_rpc(raw_parent)
    salt, mpt = decode_rpc_witness(rpc("mega_getBlockWitness", [{"blockNumber": hex(number),
                                                                 "blockHash": raw_block["hash"]}])["result"])
    verdict = validate_block(block, parent.header, encode_witness_file(WitnessFile(bytes(32), parent.hash, salt)),
                             encode_mpt_witness(mpt), {}, dev_chain(6342))
    assert verdict.valid, verdict
    report = rpc("mega_setValidatedBlocks", [[number - 1, raw_parent["hash"]], [number, raw_block["hash"]]])["result"]
    assert report["accepted"] is True and report["lastValidatedBlock"] == [number, raw_block["hash"]]
    bad = rpc("mega_setValidatedBlocks", [[number - 1, raw_parent["hash"]], [number, "0x" + "00" * 32]])["result"]
    assert bad["accepted"] is False
    assert rpc("mega_getBlockWitness", [{"blockNumber": hex(10**6)}])["error"]["code"] == -32000


def test_txpool_views(url: str) -> None:
    acct = Account.from_key(KEY0)
    nonce = int(requests.post(url, data=_req(1, "eth_getTransactionCount", [acct.address, "pending"]),
                              timeout=10).json()["result"], 16)
    gapped = acct.sign_transaction({"to": to_checksum_address("0x" + "79" * 20), "value": 1, "gas": 100_000,
                                    "gasPrice": 10**7, "nonce": nonce + 5, "chainId": 6342})
    requests.post(url, data=_req(2, "eth_sendRawTransaction", ["0x" + gapped.raw_transaction.hex()]), timeout=10)
    status = requests.post(url, data=_req(3, "txpool_status", []), timeout=10).json()["result"]
    assert int(status["queued"], 16) >= 1
    content = requests.post(url, data=_req(4, "txpool_content", []), timeout=10).json()["result"]
    assert content["queued"][acct.address.lower()][str(nonce + 5)]["hash"] == "0x" + gapped.hash.hex()
    inspect = requests.post(url, data=_req(5, "txpool_inspect", []), timeout=10).json()["result"]
    assert "wei" in inspect["queued"][acct.address.lower()][str(nonce + 5)]


def test_state_changes_subscription(url: str) -> None:
    acct = Account.from_key(KEY0)
    target = to_checksum_address("0x" + "7a" * 20)

    async def go() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
            await ws.send_str(_req(1, "eth_subscribe", ["stateChanges", [target]]))
            sub_id = json.loads(await ws.receive_str())["result"]
            nonce = int(requests.post(url, data=_req(2, "eth_getTransactionCount", [acct.address, "pending"]),
                                      timeout=10).json()["result"], 16)
            signed = acct.sign_transaction({"to": target, "value": 77, "gas": 100_000, "gasPrice": 10**7,
                                            "nonce": nonce, "chainId": 6342})
            requests.post(url, data=_req(3, "eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()]),
                          timeout=10)
            while not got:
                msg = json.loads(await ws.receive_str(timeout=20))
                if msg.get("params", {}).get("subscription") == sub_id:
                    got.append(msg["params"]["result"])
        return got

    change = asyncio.run(go())[0]
    assert change["address"] == target.lower() and int(change["balance"], 16) >= 77 and change["storage"] == {}


def test_parameters_a_kind_ignores_make_no_second_subscription() -> None:
    """`["miniBlocks", 1]` is `["miniBlocks"]` again: a duplicate, not another full fan-out per mini-block."""
    from rpc.errors import RpcError
    from rpc.subscriptions import Connection, Hub

    hub, conn = Hub(), Connection()
    for params, duplicate in ((["miniBlocks"], ["miniBlocks", 1]), (["newHeads"], ["newHeads", {"x": 1}]),
                              (["newPendingTransactions"], ["newPendingTransactions", False])):
        hub.subscribe(conn, params)
        with pytest.raises(RpcError, match="duplicate"):
            hub.subscribe(conn, duplicate)
    hub.subscribe(conn, ["newPendingTransactions", True])  # full transactions: another subscription
    assert len(conn.subs) == 4


def test_reply_to_a_client_that_does_not_read_is_refused_not_raised() -> None:
    """A WebSocket whose queue is full (its client reads neither notifications nor replies) gets `False` from
    `reply`, and the server closes it, instead of QueueFull escaping the handler."""
    from rpc.subscriptions import QUEUE_LIMIT, Connection

    conn = Connection()
    for i in range(QUEUE_LIMIT):
        conn.push("0x1", i)
    assert conn.reply("{}") is False and conn.queue.qsize() == QUEUE_LIMIT
    conn.queue.get_nowait()
    assert conn.reply("{}") is True
