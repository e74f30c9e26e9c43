"""A lean HTTP/1.1 front for JSON-RPC `POST /` (spec/rpc.md §1): a keep-alive connection's plain POSTs (HTTP/1.1,
`Content-Length`, no CORS `Origin`, no content encoding, a strictly well-formed head) are answered here with
aiohttp's status and body (without its `Date` and `Server` headers); at the first other request (WebSocket
upgrade, GET, OPTIONS, a CORS request, chunked, compressed or `Expect`, `Connection: close`, an oversized body,
anything odd, which aiohttp then accepts or rejects) the connection is handed to aiohttp, which serves it from
then on. aiohttp's request machinery costs ~60 us CPU a request against ~20 here: one request per transaction
in single sends."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

from rpc.dispatch import Limits, Methods, handle_body
from rpc.server import rpc_reply

log = logging.getLogger(__name__)

KEEPALIVE_S = 75.0  # aiohttp's keep-alive timeout: an idle connection is closed after it
MAX_HEAD = 8190  # aiohttp's request-line and header-field limits: longer heads go to it for its error
_REASONS = {200: b"OK", 400: b"Bad Request"}
_HANDED_OFF = frozenset((b"transfer-encoding", b"content-encoding", b"expect", b"upgrade", b"origin"))
# A header line as RFC 9110 has it: a token, a colon, a value of visible bytes, spaces and tabs (no other control
# byte: a bare CR or LF, a NUL). Anything else goes to aiohttp, so both parsers frame every request alike.
_FIELD = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*")
_MAX_LENGTH_DIGITS = 18  # longer Content-Length values are beyond any body limit (and int() limits)


def _content_length(head: bytes) -> int | None:
    """The body length of a plain `POST /` HTTP/1.1 head (without its blank line), or None for any other."""
    lines = head.split(b"\r\n")
    if lines[0] != b"POST / HTTP/1.1":
        return None
    length = None
    for line in lines[1:]:
        field = _FIELD.fullmatch(line)
        if field is None:
            return None  # malformed, a folded line or a control byte: aiohttp answers it
        name, value = field[1].lower(), field[2]
        if name == b"content-length":
            if length is not None or not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS:
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
                 connections: set[FastRpcProtocol], answering: set[asyncio.Task[None]] | None = None) -> None:
        """`answering` collects the requests being answered (the server waits for them before it stops)."""
        self._fallback = fallback
        self._methods = methods
        self._limits = limits
        self._connections = connections
        self._answering: set[asyncio.Task[None]] = set() if answering is None else answering
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._busy = False  # a request is being answered: the next waits (responses go out in order)
        self._unread = False  # the client is not reading its answers (the transport paused writing)
        self._full = False  # reading paused: more than a request's worth of bytes waits
        self._eof = False  # the client sent its last byte: its complete requests are answered, then we close
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

    def eof_received(self) -> bool:
        self._eof = True
        if not self._busy and not self._unread:
            self._next()
        return True  # keep the transport open to write the answers still owed

    def pause_writing(self) -> None:
        self._unread = True

    def resume_writing(self) -> None:
        self._unread = False
        if not self._busy:
            self._next()

    def _buffer_cap(self) -> int:
        return self._limits.max_tx_body + MAX_HEAD + 4

    def close(self, drop_unsent: bool = False) -> None:
        """Close the connection once the answers written are sent (or at once, with `drop_unsent`)."""
        transport = self._transport
        if transport is not None:
            if drop_unsent and transport.get_write_buffer_size():
                transport.abort()
            else:
                transport.close()

    def idle_since(self, t: float) -> bool:
        """No request being answered and no bytes in or out since loop time `t`."""
        return not self._busy and self.last_active < t

    def _next(self) -> None:
        buf = self._buf
        end = buf.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
        if end < 0:
            if len(buf) > MAX_HEAD:
                self._hand_off()
            elif self._eof:  # no complete request left: done
                self.close()
            return
        length = _content_length(bytes(buf[:end]))
        if length is None or length > self._limits.max_tx_body:
            self._hand_off()
            return
        start = end + 4
        if len(buf) < start + length:
            if self._eof:  # a truncated last request: nothing more is owed
                self.close()
            return  # the rest of the body is still to come
        body = bytes(buf[start:start + length])
        del buf[:start + length]
        if self._full and len(buf) <= self._buffer_cap() and self._transport is not None:
            self._full = False
            self._transport.resume_reading()
        self._busy = True
        task = asyncio.get_running_loop().create_task(self._answer(body))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

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
        if not self._unread:
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
        if self._eof:
            proto.eof_received()


async def close_idle(connections: set[FastRpcProtocol], timeout: float = KEEPALIVE_S) -> None:
    """Close the connections idle for `timeout` s (what aiohttp's keep-alive timeout does for its own), every
    `timeout / 5` s until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(timeout / 5)
        cutoff = loop.time() - timeout
        for conn in [c for c in connections if c.idle_since(cutoff)]:
            conn.close(drop_unsent=True)  # a client that has not read its answers for `timeout` s loses them
