"""JSON-RPC 2.0 request handling, transport-independent (spec/rpc.md §1): single, batch, notification."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from megaeth_node.errors import NodeError
from rpc.codec import CodecError
from rpc.errors import RpcError, internal_error, invalid_params, invalid_request, limit_exceeded, method_not_found
from rpc.errors import from_node_error, parse_error

log = logging.getLogger(__name__)

Handler = Callable[[list[Any]], Awaitable[Any]]
Methods = Mapping[str, Handler]

NO_REPLY = object()  # a notification (no id): nothing is sent back


@dataclass(frozen=True, slots=True)
class Limits:
    """Request limits (spec/rpc.md §6)."""

    max_batch: int = 500
    max_body: int = 128 * 1024
    max_tx_body: int = 2_621_440  # 2.5 MiB, for transaction submission only
    tx_methods: frozenset[str] = frozenset({"eth_sendRawTransaction", "eth_sendRawTransactionSync",
                                            "realtime_sendRawTransaction"})


SEND = "eth_sendRawTransaction"
# state and chain reads: side-effect free, so a batch may run a run of them concurrently
READS = frozenset({"eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt", "eth_call",
                   "eth_estimateGas", "eth_getTransactionReceipt", "eth_getTransactionByHash", "eth_blockNumber",
                   "eth_chainId", "eth_getBlockByNumber", "eth_getBlockByHash"})


def _kind(req: Any) -> str | None:
    """"send", "read", or None for an entry that runs on its own."""
    method = req.get("method") if isinstance(req, dict) else None
    return "send" if method == SEND else "read" if method in READS else None


def _error(id_: Any, err: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": err.to_json()}


async def _call(methods: Methods, req: Any) -> Any:
    """One request object → its response object, or NO_REPLY for a notification."""
    if not isinstance(req, dict):
        return _error(None, invalid_request("not a request object"))
    has_id = "id" in req
    id_ = req.get("id")
    if has_id and not (id_ is None or isinstance(id_, (str, int, float))) or isinstance(id_, bool):
        return _error(None, invalid_request("id must be a string, number or null"))
    method = req.get("method")
    if req.get("jsonrpc") != "2.0" or not isinstance(method, str):
        return _error(id_, invalid_request("jsonrpc must be \"2.0\" and method a string"))
    params = req.get("params", [])
    if params is None:
        params = []
    try:
        if not isinstance(params, list):
            raise invalid_params("non-array args")
        handler = methods.get(method)
        if handler is None:
            raise method_not_found(method)
        result = await handler(params)
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "result": result}
    except RpcError as e:
        reply = _error(id_, e)
    except CodecError as e:
        reply = _error(id_, invalid_params(str(e)))
    except NodeError as e:
        reply = _error(id_, from_node_error(e))
    except (TypeError, KeyError, IndexError, ValueError, AttributeError) as e:
        # a handler met params of the wrong shape: the client's mistake, reported as such
        log.debug("invalid params for %s: %r", method, e)
        reply = _error(id_, invalid_params(f"{type(e).__name__}: {e}"))
    except Exception:
        log.exception("internal error in %s", method)
        reply = _error(id_, internal_error())
    return reply if has_id else NO_REPLY


def _methods_of(body: Any) -> list[str]:
    items = body if isinstance(body, list) else [body]
    return [r.get("method", "") for r in items if isinstance(r, dict) and isinstance(r.get("method"), str)]


async def handle_body(methods: Methods, raw: bytes, limits: Limits) -> Any:
    """Raw request bytes → the JSON value to send back (NO_REPLY when nothing is owed)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        return _error(None, parse_error(str(e)))
    except RecursionError:  # arrays or objects nested past the interpreter's recursion limit
        return _error(None, parse_error("JSON nested too deeply"))
    if len(raw) > limits.max_body and not set(_methods_of(body)) <= limits.tx_methods:
        return _error(None, limit_exceeded(f"request body of {len(raw)} bytes exceeds {limits.max_body}"))
    if not isinstance(body, list):
        return await _call(methods, body)
    if not body:
        return _error(None, invalid_request("empty batch"))
    if len(body) > limits.max_batch:
        return _error(None, limit_exceeded(f"batch of {len(body)} requests exceeds {limits.max_batch}"))
    replies: list[Any] = []
    i = 0
    while i < len(body):
        # A run of consecutive entries of one kind goes in together. Sends: each one's validation runs to its
        # pool admission before the next starts and the sequencer admits them first-in first-out, so the order
        # (sequential nonces) is kept, with one builder hop for the run instead of one per entry. Reads: they
        # queue on the builder back to back instead of one mini-block apart. Runs follow each other in order.
        kind = _kind(body[i])
        j = i + 1
        while kind is not None and j < len(body) and _kind(body[j]) == kind:
            j += 1
        if j - i > 1:
            replies.extend(await asyncio.gather(*(_call(methods, req) for req in body[i:j])))
        else:
            replies.append(await _call(methods, body[i]))
        i = j
    replies = [r for r in replies if r is not NO_REPLY]
    return replies if replies else NO_REPLY
