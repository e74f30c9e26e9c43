"""A lean HTTP/1.1 front for JSON-RPC `POST /` (spec/rpc.md §1): a keep-alive connection's plain POSTs (HTTP/1.1,
`Content-Length`, no CORS `Origin`) are answered here, with the responses aiohttp would give; at the first
other request (WebSocket upgrade, GET, OPTIONS, a CORS request, chunked or `Expect`, `Connection: close`, an
oversized body, anything odd) the connection is handed to aiohttp, which serves it from then on. aiohttp's
request machinery costs ~60 us CPU a request against ~20 here: one request per transaction in single sends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from rpc.dispatch import Limits, Methods, handle_body
from rpc.server import rpc_reply

log = logging.getLogger(__name__)

KEEPALIVE_S = 75.0  # aiohttp's keep-alive timeout: an idle connection is closed after it
MAX_HEAD = 8190  # aiohttp's request-line and header-field limits: longer heads go to it for its error
_REASONS = {200: b"OK", 400: b"Bad Request"}
_HANDED_OFF = frozenset((b"transfer-encoding", b"expect", b"upgrade", b"origin"))


def _content_length(head: bytes) -> int | None:
    """The body length of a plain `POST /` HTTP/1.1 head (without its blank line), or None for any other."""
    lines = head.split(b"\r\n")
    if lines[0] != b"POST / HTTP/1.1":
        return None
    length = None
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name[-1:] in b" \t" or line[:1] in b" \t":
            return None  # malformed or an obsolete folded line: aiohttp answers it
        name, value = name.lower(), value.strip(b" \t")
        if name == b"content-length":
            if length is not None or not value.isdigit():
                return None
            length = int(value)
        elif name in _HANDED_OFF or (name == b"connection" and value.lower() != b"keep-alive"):
            return None
    return length


def _response(status: int, body: bytes | None) -> bytes:
    head = b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])
    if body is None:
        return head + b"Content-Length: 0\r\n\r\n"
    return head + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


class FastRpcProtocol(asyncio.Protocol):
    """One connection: its plain POSTs answered in order, one at a time; then, maybe, aiohttp's."""

    def __init__(self, fallback: Callable[[], asyncio.Protocol], methods: Methods, limits: Limits,
                 connections: set[FastRpcProtocol]) -> None:
        self._fallback = fallback
        self._methods = methods
        self._limits = limits
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._busy = False  # a request is being answered: the next waits (responses go out in order)
        self._unread = False  # the client is not reading its answers (the transport paused writing)
        self._full = False  # reading paused: more than a request's worth of bytes waits
        self.last_active = 0.0  # loop time of the last bytes received or answer sent

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._connections.add(self)
        self.last_active = asyncio.get_running_loop().time()

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buf += data
        self.last_active = asyncio.get_running_loop().time()
        if not self._busy and not self._unread:
            self._next()
        if len(self._buf) > self._buffer_cap() and not self._full and self._transport is not None:
            self._full = True
            self._transport.pause_reading()

    def pause_writing(self) -> None:
        self._unread = True

    def resume_writing(self) -> None:
        self._unread = False
        if not self._busy and self._buf:
            self._next()

    def _buffer_cap(self) -> int:
        return self._limits.max_tx_body + MAX_HEAD + 4

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def idle_since(self, t: float) -> bool:
        return not self._busy and self.last_active < t

    def _next(self) -> None:
        buf = self._buf
        end = buf.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
        if end < 0:
            if len(buf) > MAX_HEAD:
                self._hand_off()
            return
        length = _content_length(bytes(buf[:end]))
        if length is None or length > self._limits.max_tx_body:
            self._hand_off()
            return
        start = end + 4
        if len(buf) < start + length:
            return  # the rest of the body is still to come
        body = bytes(buf[start:start + length])
        del buf[:start + length]
        if self._full and len(buf) <= self._buffer_cap() and self._transport is not None:
            self._full = False
            self._transport.resume_reading()
        self._busy = True
        asyncio.get_running_loop().create_task(self._answer(body))

    async def _answer(self, body: bytes) -> None:
        try:
            status, payload = rpc_reply(await handle_body(self._methods, body, self._limits))
        except Exception:  # aiohttp would answer 500; the client sees the connection close instead
            log.exception("JSON-RPC request failed")
            self.close()
            return
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(_response(status, payload))
        self._busy = False
        self.last_active = asyncio.get_running_loop().time()
        if self._buf and not self._unread:
            self._next()

    def _hand_off(self) -> None:
        """aiohttp serves the connection from here on, starting with the bytes not yet answered."""
        transport = self._transport
        if transport is None:
            return
        self._connections.discard(self)
        self._transport = None
        if self._full:
            transport.resume_reading()
        proto = self._fallback()
        transport.set_protocol(proto)
        proto.connection_made(transport)
        if self._buf:
            proto.data_received(bytes(self._buf))
        self._buf = bytearray()


async def close_idle(connections: set[FastRpcProtocol], timeout: float = KEEPALIVE_S) -> None:
    """Close the connections idle for `timeout` s (what aiohttp's keep-alive timeout does for its own), every
    `timeout / 5` s until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(timeout / 5)
        cutoff = loop.time() - timeout
        for conn in [c for c in connections if c.idle_since(cutoff)]:
            conn.close()
