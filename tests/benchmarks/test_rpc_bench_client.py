"""The rpc_bench senders' HTTP/1.1 client: reply framing (lengths, chunks, pipelined replies) and a round trip
against our node's HTTP front."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import uvloop

from bench_scripts import load_benchmark
from node_process import running_node

rpc_bench = load_benchmark("rpc_bench")


def _all_prefixes(reply: bytes) -> list[bytes]:
    return [reply[:i] for i in range(len(reply))]


def test_reply_with_content_length_and_a_pipelined_rest() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
    assert all(rpc_bench._parse_reply(bytearray(p)) is None for p in _all_prefixes(reply))
    assert rpc_bench._parse_reply(bytearray(reply + b"HTTP/1.1 200")) == (b"{\"a\":1}", len(reply))


def test_chunked_reply_with_extensions_and_trailers() -> None:
    reply = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"3;ext=1\r\n{\"a\r\n4\r\n\":1}\r\n0\r\nX-Trailer: y\r\n\r\n")
    assert all(rpc_bench._parse_reply(bytearray(p)) is None for p in _all_prefixes(reply))
    assert rpc_bench._parse_reply(bytearray(reply)) == (b"{\"a\":1}", len(reply))


@pytest.mark.parametrize("reply", [b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
                                   b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n",
                                   b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{\"a\":1}XX0\r\n\r\n"])
def test_not_a_readable_200_is_an_error(reply: bytes) -> None:
    with pytest.raises(ValueError):
        rpc_bench._parse_reply(bytearray(reply))


def test_chunked_framing_wins_over_a_length() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    assert rpc_bench._parse_reply(bytearray(reply)) == (b"{}", len(reply))


def test_replies_in_pieces_drops_and_errors_through_the_protocol() -> None:
    """Against a scripted server: a chunked reply written a byte at a time; a reply cut short by the server
    closing (ConnectionError), after which the next request reconnects and reads only the new reply; an error
    status (ValueError) that does not poison the next request; a second request while one waits (ValueError)."""
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n"
    plain = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"b\":2}"
    script = [(chunked, "bytewise"), (plain[:-3], "close"), (plain, "keep"),
              (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", "keep"), (plain, "keep")]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while script:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:  # the client dropped this connection
                return
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            reply, how = script.pop(0)
            for piece in ([reply[i:i + 1] for i in range(len(reply))] if how == "bytewise" else [reply]):
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0)
            if how == "close":
                writer.close()
                return

    async def talk() -> list[object]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        conn = rpc_bench.Connection(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/")
        out: list[object] = []
        try:
            for _ in range(4):
                try:
                    out.append(await asyncio.wait_for(conn.post(b"{}"), 5))
                except (ConnectionError, ValueError) as e:
                    out.append(type(e).__name__)
            first = asyncio.ensure_future(conn.post(b"{}"))
            await asyncio.sleep(0)
            try:
                await conn.post(b"{}")
            except ValueError:
                out.append("busy")
            out.append(await asyncio.wait_for(first, 5))
        finally:
            conn.close()
            server.close()
        return out

    assert uvloop.run(talk()) == [{"a": 1}, "ConnectionError", {"b": 2}, "ValueError", "busy", {"b": 2}]


def test_round_trips_on_one_connection_then_a_lost_one(tmp_path: Path) -> None:
    """Several requests over one keep-alive connection to our node, then the node gone: an error, not a hang."""
    with running_node(tmp_path) as (url, proc):
        async def talk() -> list[object]:
            conn = rpc_bench.Connection(url)
            try:
                replies = [await conn.post(b'{"jsonrpc":"2.0","id":%d,"method":"eth_chainId","params":[]}' % i)
                           for i in range(3)]
                replies.append(await conn.post(b'{"jsonrpc":"2.0","id":9,"method":"no_such_method"}'))
                proc.kill()
                proc.wait(10)
                with pytest.raises(ConnectionError):  # refused: the node is gone (a hang would be a TimeoutError)
                    await asyncio.wait_for(conn.post(b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}'), 5)
                return replies
            finally:
                conn.close()

        replies = uvloop.run(talk())
    assert [r["id"] for r in replies] == [0, 1, 2, 9]  # type: ignore[index]
    assert all(r["result"] == "0x18c6" for r in replies[:3])  # type: ignore[index]
    assert replies[3]["error"]["code"] == -32601  # type: ignore[index]
