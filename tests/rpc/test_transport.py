"""JSON-RPC framing over a real aiohttp server on loopback: single, batch, notifications, errors, limits, WS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rpc.dispatch import Limits, handle_body
from rpc.http_fast import FastRpcProtocol, close_idle
from rpc.methods_base import base_methods
from rpc.server import make_app

CHAIN_ID = 6342


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", params=["aiohttp", "fast"])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A real server in a background thread; loopback only: aiohttp's, or the node's lean front over it (every
    test runs against both)."""
    port = _free_port()
    loop = asyncio.new_event_loop()
    limits = Limits(max_batch=10, max_body=4096, max_tx_body=65536)
    methods = base_methods(CHAIN_ID)
    runner = web.AppRunner(make_app(methods, limits, cors_origins=("http://allowed.test",)))
    loop.run_until_complete(runner.setup())
    if request.param == "aiohttp":
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    else:
        fallback, connections = runner.server, set()
        loop.run_until_complete(loop.create_server(
            lambda: FastRpcProtocol(fallback, methods, limits, connections), "127.0.0.1", port))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def _post(url: str, body: bytes | str, headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    async def go() -> tuple[int, Any, dict[str, str]]:
        async with aiohttp.ClientSession() as s, s.post(url, data=body, headers=headers or {}) as r:
            text = await r.text()
            return r.status, json.loads(text) if text else None, dict(r.headers)
    return asyncio.run(go())


def _req(method: str, params: Any = None, id_: Any = 1) -> dict[str, Any]:
    r: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id_}
    if params is not None:
        r["params"] = params
    return r


def test_single_request(url: str) -> None:
    status, reply, _ = _post(url, json.dumps(_req("eth_chainId")))
    assert status == 200 and reply == {"jsonrpc": "2.0", "id": 1, "result": hex(CHAIN_ID)}


@pytest.mark.parametrize("id_", ["abc", 7, None, 1.5])
def test_id_is_echoed_verbatim(url: str, id_: Any) -> None:
    assert _post(url, json.dumps(_req("net_version", id_=id_)))[1]["id"] == id_


def test_batch_in_order_without_notifications(url: str) -> None:
    body = [_req("eth_chainId", id_=1), {"jsonrpc": "2.0", "method": "net_listening"},
            _req("web3_sha3", ["0x"], id_=2), _req("nope", id_=3)]
    _, reply, _ = _post(url, json.dumps(body))
    assert [r["id"] for r in reply] == [1, 2, 3]
    assert reply[1]["result"] == "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert reply[2]["error"] == {"code": -32601, "message": "the method nope does not exist/is not available"}


def test_notification_gets_no_reply(url: str) -> None:
    status, reply, _ = _post(url, json.dumps({"jsonrpc": "2.0", "method": "eth_chainId"}))
    assert status == 200 and reply is None


@pytest.mark.parametrize("body, code, status", [
    ("{not json", -32700, 400),
    ("[" * 2000, -32700, 400),  # nested past the decoder's recursion limit
    ('{"a":' * 2000, -32700, 400),
    ("[]", -32600, 200),
    ('"a string"', -32600, 200),
    ('{"jsonrpc": "1.0", "method": "eth_chainId", "id": 1}', -32600, 200),
    ('{"jsonrpc": "2.0", "method": "eth_chainId", "id": 1, "params": {"a": 1}}', -32602, 200),
    ('{"jsonrpc": "2.0", "method": "web3_sha3", "id": 1, "params": ["0x123"]}', -32602, 200),
    ('{"jsonrpc": "2.0", "method": "web3_sha3", "id": 1, "params": []}', -32602, 200),
    ('{"jsonrpc": "2.0", "method": "eth_chainId", "id": 1, "params": [1]}', -32602, 200),
])
def test_malformed_requests(url: str, body: str, code: int, status: int) -> None:
    got_status, reply, _ = _post(url, body)
    assert got_status == status and reply["error"]["code"] == code


def test_batch_cap(url: str) -> None:
    _, reply, _ = _post(url, json.dumps([_req("eth_chainId", id_=i) for i in range(11)]))
    assert reply["error"]["code"] == -32005 and "limit exceeded" in reply["error"]["message"]


def test_body_caps(url: str) -> None:
    big_sha = json.dumps(_req("web3_sha3", ["0x" + "00" * 3000]))
    assert _post(url, big_sha)[1]["error"]["code"] == -32005
    status, reply, _ = _post(url, json.dumps(_req("web3_sha3", ["0x" + "00" * 40000])))
    assert status == 413 and reply["error"]["code"] == -32005


def test_cors_only_for_allowed_origins(url: str) -> None:
    _, _, headers = _post(url, json.dumps(_req("eth_chainId")), {"Origin": "http://allowed.test"})
    assert headers.get("Access-Control-Allow-Origin") == "http://allowed.test"
    _, _, headers = _post(url, json.dumps(_req("eth_chainId")), {"Origin": "http://evil.test"})
    assert "Access-Control-Allow-Origin" not in headers


def test_websocket_requests_and_batches(url: str) -> None:
    async def go() -> list[Any]:
        async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
            await ws.send_str(json.dumps(_req("eth_chainId")))
            one = json.loads(await ws.receive_str())
            await ws.send_str(json.dumps([_req("net_version", id_=5), _req("eth_syncing", id_=6)]))
            two = json.loads(await ws.receive_str())
            await ws.send_str("{bad")
            three = json.loads(await ws.receive_str())
            await ws.send_str("[" * 2000)
            four = json.loads(await ws.receive_str())
            await ws.send_str(json.dumps(_req("eth_chainId")))  # the connection is still there
            return [one, two, three, four, json.loads(await ws.receive_str())]
    one, two, three, four, five = asyncio.run(go())
    assert one["result"] == five["result"] == hex(CHAIN_ID)
    assert [r["result"] for r in two] == [str(CHAIN_ID), False]
    assert three["error"]["code"] == four["error"]["code"] == -32700


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                       lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                       max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(JSONISH.map(json.dumps), st.binary(max_size=200)))
def test_fuzzed_bodies_get_jsonrpc_answers(url: str, body: Any) -> None:
    status, reply, _ = _post(url, body)
    assert status in (200, 400)
    items = reply if isinstance(reply, list) else [reply]
    for item in items:
        assert item is None or item.get("jsonrpc") == "2.0" and ("result" in item or "error" in item)
    assert _post(url, json.dumps(_req("eth_chainId")))[1]["result"] == hex(CHAIN_ID)


def test_batch_runs_reads_together_and_after_the_sends_before_them() -> None:
    sent: list[str] = []
    started = 0
    all_started = asyncio.Event()

    async def send(params: list[Any]) -> str:
        await asyncio.sleep(0.001)
        sent.append(params[0])
        return params[0]  # type: ignore[no-any-return]

    async def count(params: list[Any]) -> int:  # a read run must be in flight all at once to finish
        nonlocal started
        started += 1
        if started == 3:
            all_started.set()
        await asyncio.wait_for(all_started.wait(), 5)
        return len(sent)

    methods = {"eth_sendRawTransaction": send, "eth_getTransactionCount": count}
    body = [_req("eth_sendRawTransaction", ["a"], 1), _req("eth_sendRawTransaction", ["b"], 2)] + [
        _req("eth_getTransactionCount", [], i) for i in (3, 4, 5)]
    reply = asyncio.run(handle_body(methods, json.dumps(body).encode(), Limits()))
    assert [r["id"] for r in reply] == [1, 2, 3, 4, 5] and sent == ["a", "b"]
    assert [r["result"] for r in reply[2:]] == [2, 2, 2]


def _raw_exchange(url: str, data: bytes, replies: int) -> list[tuple[int, bytes]]:
    """Send raw bytes on one connection; read `replies` HTTP/1.1 responses (status, body) in order."""
    host, port = url.split("//")[1].rstrip("/").split(":")
    out: list[tuple[int, bytes]] = []
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        buf = b""
        while len(out) < replies:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                head = buf[:end].decode().split("\r\n")
                length = next(int(h.split(":")[1]) for h in head if h.lower().startswith("content-length:"))
                if len(buf) >= end + 4 + length:
                    out.append((int(head[0].split()[1]), buf[end + 4:end + 4 + length]))
                    buf = buf[end + 4 + length:]
                    continue
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(out)} replies"
            buf += chunk
    return out


def _http_post(body: bytes, extra: bytes = b"") -> bytes:
    return b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s" % (
        extra, len(body), body)


def test_pipelined_requests_then_other_kinds_on_one_connection(url: str) -> None:
    """Responses come back in request order, across plain POSTs, a GET, a chunked POST and a CORS POST."""
    one, two = json.dumps(_req("eth_chainId", id_=1)).encode(), json.dumps(_req("net_version", id_=2)).encode()
    chunked = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(two), two)
    data = (_http_post(one) + _http_post(two) + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + chunked
            + _http_post(one, b"Origin: http://allowed.test\r\n") + _http_post(b"{bad"))
    replies = _raw_exchange(url, data, 6)
    assert [status for status, _ in replies] == [200, 200, 200, 200, 200, 400]
    assert json.loads(replies[0][1])["result"] == hex(CHAIN_ID)
    assert json.loads(replies[1][1])["result"] == str(CHAIN_ID)
    assert replies[2][1].startswith(b"megaeth-node JSON-RPC")
    assert json.loads(replies[3][1])["id"] == 2 and json.loads(replies[4][1])["id"] == 1
    assert json.loads(replies[5][1])["error"]["code"] == -32700


def test_body_split_across_packets(url: str) -> None:
    body = json.dumps(_req("eth_chainId", id_=9)).encode()
    req = _http_post(body)
    host, port = url.split("//")[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        for i in range(0, len(req), 7):
            sock.sendall(req[i:i + 7])
        reply = b""
        while not reply.endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200") and json.loads(reply.split(b"\r\n\r\n", 1)[1])["id"] == 9


@contextlib.asynccontextmanager
async def _lean_front() -> AsyncIterator[tuple[int, set[FastRpcProtocol]]]:
    """The lean front over aiohttp on a free loopback port, in the running loop: (port, its connections)."""
    methods, limits, connections = base_methods(CHAIN_ID), Limits(), set()
    runner = web.AppRunner(make_app(methods, limits))
    await runner.setup()
    fallback = runner.server
    server = await asyncio.get_running_loop().create_server(
        lambda: FastRpcProtocol(fallback, methods, limits, connections), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], connections
    finally:
        server.close()
        await runner.cleanup()


def test_lean_front_closes_idle_connections() -> None:
    """An idle keep-alive connection is closed after the timeout, as aiohttp closes its own; a busy one is not."""
    async def go() -> tuple[bytes, bytes]:
        async with _lean_front() as (port, connections):
            sweeper = asyncio.create_task(close_idle(connections, 0.5))
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(_http_post(json.dumps(_req("eth_chainId")).encode()))
                first = await asyncio.wait_for(reader.read(65536), 5)
                rest = await asyncio.wait_for(reader.read(65536), 5)  # b"": closed by the server once idle
                writer.close()
                return first, rest
            finally:
                sweeper.cancel()

    first, rest = asyncio.run(go())
    assert first.startswith(b"HTTP/1.1 200") and rest == b""


def test_many_pipelined_requests_before_reading(url: str) -> None:
    """A client that sends far more than the buffers hold before it reads: flow control on both sides, every
    answer comes back in order."""
    n = 3000
    data = b"".join(_http_post(json.dumps(_req("eth_chainId", id_=i)).encode()) for i in range(n))
    host, port = url.split("//")[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sender = threading.Thread(target=sock.sendall, args=(data,), daemon=True)
        sender.start()
        sender.join(0.5)  # the server stops reading once its buffers are full: nothing has been read yet
        buf, ids = b"", []
        while len(ids) < n:
            chunk = sock.recv(1 << 20)
            assert chunk, f"connection closed after {len(ids)} answers"
            buf += chunk
            while (end := buf.find(b"\r\n\r\n")) >= 0:
                length = int(buf[:end].lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(buf) < end + 4 + length:
                    break
                ids.append(json.loads(buf[end + 4:end + 4 + length])["id"])
                buf = buf[end + 4 + length:]
        sender.join(10)
    assert ids == list(range(n))
    time.sleep(0.2)  # the server sees the close before the module's server stops (no pending handler task)


_HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12"


@pytest.mark.parametrize("extra, plain", [
    (b"", True),
    (b"\r\nConnection: keep-alive\r\nX-Pad:  v \t", True),
    (b"\r\nX: y\nTransfer-Encoding: chunked", False),  # a bare LF: a request another parser frames otherwise
    (b"\r\nX: a\x00b", False),  # a control byte in a value
    (b"\r\nX Y: a", False),  # a name that is not a token
    (b"\r\n folded", False),  # an obsolete folded line
    (b"\r\nContent-Encoding: gzip", False),
    (b"\r\nTransfer-Encoding: chunked", False),
    (b"\r\nContent-Length: 12", False),  # twice
    (b"\r\nConnection: close", False),
    (b"\r\nUpgrade: websocket", False),
    (b"\r\nOrigin: http://allowed.test", False),
])
def test_lean_front_answers_only_plain_heads(extra: bytes, plain: bool) -> None:
    from rpc.http_fast import _content_length

    assert _content_length(_HEAD + extra) == (12 if plain else None)
    assert _content_length(b"POST / HTTP/1.0" + _HEAD[15:]) is None
    assert _content_length(b"POST / HTTP/1.1\r\nContent-Length: " + b"9" * 5000) is None  # no int() error


def test_compressed_and_bare_lf_requests_get_aiohttps_answers(url: str) -> None:
    """A gzip body is decompressed (200) and a head with a bare LF rejected (400), by both servers alike."""
    import gzip

    body = gzip.compress(json.dumps(_req("eth_chainId", id_=5)).encode())
    ((status, reply),) = _raw_exchange(url, _http_post(body, b"Content-Encoding: gzip\r\n"), 1)
    assert status == 200 and json.loads(reply)["result"] == hex(CHAIN_ID)
    smuggled = _http_post(b"{}", b"X: y\nTransfer-Encoding: chunked\r\n")
    ((status, _),) = _raw_exchange(url, smuggled, 1)
    assert status == 400


def test_half_closed_client_gets_every_answer() -> None:
    """Two pipelined requests, then the client shuts its sending side: the lean front answers both (they run:
    their answers are owed), then closes. (aiohttp drops such a connection unanswered.)"""
    async def go() -> bytes:
        async with _lean_front() as (port, _):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"".join(_http_post(json.dumps(_req("eth_chainId", id_=i)).encode()) for i in (1, 2)))
            writer.write_eof()
            reply = await asyncio.wait_for(reader.read(), 5)  # to EOF: the server closes after the answers
            writer.close()
            return reply

    reply = asyncio.run(go())
    assert reply.count(b"HTTP/1.1 200") == 2 and b'"id":1' in reply and b'"id":2' in reply
