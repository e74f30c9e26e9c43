"""JSON-RPC client for the sequencer endpoints the validator calls (spec/stateless-validator.md §8.1).

Synchronous, one keep-alive HTTP connection, a per-call timeout, replies read up to `MAX_REPLY_BYTES`. Errors
are split by what the caller should do: `RpcUnavailable` (connection refused/reset, timeout, HTTP 5xx: retry
later with back-off), `RpcCallError` (the server answered with a JSON-RPC error), `RpcDataError` (an answer
that is malformed, too long, or fails its integrity check, e.g. code whose keccak is not the requested hash)."""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from eth_hash.auto import keccak

from salt.witness import MptWitness, SaltWitness, WitnessDecodeError, decode_rpc_witness

T = TypeVar("T")

# the largest reply read: a witness at its decompressed cap (RPC_WITNESS_MAX_BYTES, 64 MiB) that zstd could not
# shrink, in base64 (4/3), with the JSON around it; a longer reply is refused unread, not buffered whole
MAX_REPLY_BYTES = 96 << 20


class RpcError(Exception):
    """Base of the client's errors; the message names the method."""


class RpcUnavailable(RpcError):
    """The endpoint cannot be reached or did not answer in time (transient)."""


class RpcCallError(RpcError):
    """A JSON-RPC error reply."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method}: error {code}: {message}")
        self.code = code


class RpcDataError(RpcError):
    """A reply that is not what the method promises."""


def hex_bytes(v: Any, what: str, size: int | None = None) -> bytes:
    """A reply's 0x-hex data (of `size` bytes when given); `RpcDataError` naming `what` otherwise."""
    if not isinstance(v, str) or not v.startswith("0x"):
        raise RpcDataError(f"{what}: expected 0x-hex, got {str(v)[:40]!r}")
    try:
        b = bytes.fromhex(v[2:])
    except ValueError as e:
        raise RpcDataError(f"{what}: bad hex: {e}") from e
    if size is not None and len(b) != size:
        raise RpcDataError(f"{what}: expected {size} bytes, got {len(b)}")
    return b


def _quantity(v: Any, what: str) -> int:
    if isinstance(v, str) and v.startswith("0x") and len(v) > 2:
        try:
            return int(v, 16)
        except ValueError:
            pass
    raise RpcDataError(f"{what}: expected a hex quantity, got {str(v)[:40]!r}")


@dataclass(frozen=True, slots=True)
class Validated:
    """`mega_setValidatedBlocks` reply."""

    accepted: bool
    last_number: int | None  # None: the sequencer has recorded no validated block yet
    last_hash: bytes | None


class RpcClient:
    """The sequencer's JSON-RPC endpoint at `url` (http only)."""

    def __init__(self, url: str, timeout: float = 20.0, max_reply_bytes: int = MAX_REPLY_BYTES) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"unsupported RPC URL {url!r} (expected http://host:port/path)")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path or "/"
        self.timeout = timeout
        self.max_reply_bytes = max_reply_bytes
        self._conn: http.client.HTTPConnection | None = None
        self._ids = itertools.count(1)
        self.calls: dict[str, int] = {}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.timeout)
        return self._conn

    def call(self, method: str, params: Any) -> Any:
        """One request; reconnects once when a kept-alive connection turns out to be closed."""
        self.calls[method] = self.calls.get(method, 0) + 1
        body = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params})
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request("POST", self._path, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                raw = self._read(resp, method)
                status = resp.status
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self.close()
                if attempt:
                    raise RpcUnavailable(f"{method}: {self.url}: {e}") from e
            except (OSError, http.client.HTTPException, socket.timeout) as e:
                self.close()
                raise RpcUnavailable(f"{method}: {self.url}: {e}") from e
        if status >= 500:
            self.close()
            raise RpcUnavailable(f"{method}: {self.url}: HTTP {status}")
        try:
            reply = json.loads(raw)
        except ValueError as e:
            raise RpcDataError(f"{method}: HTTP {status}, not JSON: {raw[:80]!r}") from e
        if not isinstance(reply, dict):
            raise RpcDataError(f"{method}: reply is not an object")
        if reply.get("error") is not None:
            err = reply["error"] if isinstance(reply["error"], dict) else {}
            code = err.get("code")
            raise RpcCallError(method, code if isinstance(code, int) and not isinstance(code, bool) else 0,
                               str(err.get("message", reply["error"])))
        if "result" not in reply:
            raise RpcDataError(f"{method}: reply has neither result nor error")
        return reply["result"]

    def _read(self, resp: http.client.HTTPResponse, method: str) -> bytes:
        """The reply body, at most `max_reply_bytes` (`RpcDataError` past them, the connection dropped)."""
        cap = self.max_reply_bytes
        if resp.length is not None and resp.length > cap:
            raw = b""  # declared too long: not read at all
        else:
            raw = resp.read(cap + 1)
            if len(raw) <= cap:
                return raw
        self.close()
        raise RpcDataError(f"{method}: reply longer than {cap} bytes")

    # ---- the methods of §8.1 ----

    def block_number(self) -> int:
        return _quantity(self.call("eth_blockNumber", []), "eth_blockNumber")

    def block_by_number(self, number: int, full: bool = True) -> dict[str, Any] | None:
        """The block object, checked to be the requested number; None when the server has no such block."""
        b = self.call("eth_getBlockByNumber", [hex(number), full])
        if b is None:
            return None
        if not isinstance(b, dict) or _quantity(b.get("number"), "block number") != number:
            raise RpcDataError(f"eth_getBlockByNumber({number}): returned another block")
        hex_bytes(b.get("hash"), "block hash", 32)
        return b

    def block_by_hash(self, block_hash: bytes, full: bool = False) -> dict[str, Any] | None:
        b = self.call("eth_getBlockByHash", ["0x" + block_hash.hex(), full])
        if b is None:
            return None
        if not isinstance(b, dict) or hex_bytes(b.get("hash"), "block hash", 32) != block_hash:
            raise RpcDataError(f"eth_getBlockByHash(0x{block_hash.hex()}): returned another block")
        return b

    def block_witness(self, number: int, block_hash: bytes) -> tuple[SaltWitness, MptWitness]:
        """`mega_getBlockWitness({blockNumber, blockHash})`, decoded strictly."""
        s = self.call("mega_getBlockWitness", [{"blockNumber": hex(number), "blockHash": "0x" + block_hash.hex()}])
        if s is None:
            raise RpcDataError(f"mega_getBlockWitness({number}): no witness for 0x{block_hash.hex()}")
        try:
            return decode_rpc_witness(s)
        except WitnessDecodeError as e:
            raise RpcDataError(f"mega_getBlockWitness({number}): {e}") from e

    def code_by_hash(self, code_hash: bytes) -> bytes:
        code = hex_bytes(self.call("eth_getCodeByHash", ["0x" + code_hash.hex()]), "eth_getCodeByHash")
        if keccak(code) != code_hash:
            raise RpcDataError(f"eth_getCodeByHash(0x{code_hash.hex()}): code hashes to 0x{keccak(code).hex()}")
        return code

    def set_validated_blocks(self, first: tuple[int, bytes], last: tuple[int, bytes]) -> Validated:
        r = self.call("mega_setValidatedBlocks", [[first[0], "0x" + first[1].hex()], [last[0], "0x" + last[1].hex()]])
        try:
            if r["lastValidatedBlock"] is None:
                return Validated(bool(r["accepted"]), None, None)
            n, h = r["lastValidatedBlock"]
            return Validated(bool(r["accepted"]), int(n), hex_bytes(h, "lastValidatedBlock hash", 32))
        except (TypeError, KeyError, ValueError) as e:
            raise RpcDataError(f"mega_setValidatedBlocks: unexpected reply {str(r)[:80]}") from e


@dataclass
class Backoff:
    """Exponential back-off: `first` seconds doubling to `cap` (upstream: 0.5 s to 30 s)."""

    first: float = 0.5
    cap: float = 30.0
    delay: float = 0.0

    def next(self) -> float:
        self.delay = self.first if self.delay == 0 else min(self.cap, self.delay * 2)
        return self.delay

    def reset(self) -> None:
        self.delay = 0.0


def retrying(fn: Callable[[], T], backoff: Backoff, on_retry: Callable[[RpcError, float], None],
             should_stop: Callable[[], bool] = lambda: False, sleep: Callable[[float], Any] = time.sleep) -> T:
    """`fn()` until it does not raise `RpcUnavailable`, sleeping with back-off in between (`on_retry` is told
    each failure and the delay); other errors propagate. `should_stop` ends the wait with the last error."""
    while True:
        try:
            out = fn()
        except RpcUnavailable as e:
            if should_stop():
                raise
            delay = backoff.next()
            on_retry(e, delay)
            sleep(delay)
            continue
        backoff.reset()
        return out
