"""`debug_traceTransaction`, `debug_traceBlockByNumber/ByHash` and `debug_traceCall` with `callTracer` or geth's
default struct logger (spec/rpc.md §3), executed off the event loop; the raw getters
`debug_getRawHeader/Block/Transaction/Receipts` (execution-apis `debug/getters.yaml`)."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable
from typing import Any

from megaeth_node.errors import HeaderNotFound
from megaeth_node.executor.tracing import TraceAborted
from megaeth_node.sequencer import Sequencer
from megaeth_node.trace import (
    DEFAULT_TRACE_TIMEOUT_S,
    CallTracer,
    StructLogger,
    TraceUnavailable,
    block_trace,
    call_trace,
    request_trace,
    struct_trace,
)
from megaeth_node.types import Block
from rpc.codec import data, parse_hash
from rpc.dispatch import Handler
from rpc.errors import RpcError, invalid_params, max_args
from rpc.methods_eth import (
    GAS_CAP,
    execute_at,
    parse_call_request,
    parse_state_overrides,
    require_current,
    sealed_number,
)

Tracer = CallTracer | Callable[[], StructLogger]  # a struct-logger maker: a new logger for each transaction


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_TRACE_TIMEOUT_S = 60.0  # a struct-logger run holds a core (for debug_traceCall, the block builder's) this long


def _timeout_s(text: Any, i: int) -> float:
    """geth's `timeout`, a Go duration ("500ms", "1m", "2.5s"), at most MAX_TRACE_TIMEOUT_S."""
    parts = _DURATION_PART.findall(text) if isinstance(text, str) else []
    if not parts or "".join(n + u for n, u in parts) != text:
        raise invalid_params(f"timeout: not a duration: {text!r}", i)
    seconds = sum(float(n) * _UNIT_S[u] for n, u in parts)
    if not 0 < seconds <= MAX_TRACE_TIMEOUT_S:
        raise invalid_params(f"timeout: {text} is not within (0, {MAX_TRACE_TIMEOUT_S:g} s]", i)
    return seconds


def _struct_logger(options: dict[str, Any], i: int) -> StructLogger:
    """geth's logger config (argument `i`): `disableStack`, `disableStorage`, `enableMemory`, `enableReturnData`,
    `limit`, `timeout`."""
    flags = {k: options.get(k, False) for k in ("disableStack", "disableStorage", "enableMemory", "enableReturnData")}
    limit = options.get("limit", 0)
    if not all(isinstance(v, bool) for v in flags.values()) or not isinstance(limit, int) or isinstance(limit, bool):
        raise invalid_params("logger options: disableStack, disableStorage, enableMemory and enableReturnData are "
                             "booleans, limit a number", i)
    timeout = DEFAULT_TRACE_TIMEOUT_S if options.get("timeout") is None else _timeout_s(options["timeout"], i)
    return StructLogger(stack=not flags["disableStack"], storage=not flags["disableStorage"],
                        memory=flags["enableMemory"], return_data=flags["enableReturnData"], limit=limit,
                        timeout_s=timeout)


def _trace_options(params: list[Any], first: str) -> Tracer:
    """[`first`, {tracer?, ...options}]: the tracer the options name (`_tracer_config`)."""
    if not 1 <= len(params) <= 2:
        raise invalid_params(f"want [{first}, {{tracer?, ...options}}]")
    return _tracer_config(params[1] if len(params) == 2 else None, 1)


def _tracer_config(options: Any, i: int) -> Tracer:
    """The tracer a config object (argument `i`) names, its options checked as geth checks them: `callTracer` with
    its `tracerConfig` (`onlyTopCall`, `withLog`), or, with no `tracer`, a maker of geth's struct logger."""
    options = {} if options is None else options
    if not isinstance(options, dict) or options.get("tracer") not in (None, "callTracer"):
        raise invalid_params("tracers: callTracer, or none for the struct logger", i)
    if options.get("tracer") is not None:
        config = {} if options.get("tracerConfig") is None else options["tracerConfig"]
        flags = {k: config.get(k, False) for k in ("onlyTopCall", "withLog")} if isinstance(config, dict) else {}
        if len(flags) != 2 or not all(isinstance(v, bool) for v in flags.values()):
            raise invalid_params("callTracer's tracerConfig: onlyTopCall and withLog are booleans", i)
        return CallTracer(only_top_call=flags["onlyTopCall"], with_log=flags["withLog"])
    _struct_logger(options, i)
    return functools.partial(_struct_logger, options, i)


def debug_methods(node: Sequencer) -> dict[str, Handler]:
    def sealed_block(tag: Any) -> Block:
        """The sealed block a selector names (argument 0); geth's "header not found" when there is none."""
        n = sealed_number(node, tag, 0)
        block = None if n is None else node.chain.block(n)
        if block is None:
            raise HeaderNotFound("header not found")
        return block

    async def raw_header(params: list[Any]) -> str:
        max_args(params, 1)
        return data(sealed_block(params[0] if params else None).header.encode())

    async def raw_block(params: list[Any]) -> str:
        max_args(params, 1)
        return data(sealed_block(params[0] if params else None).encode())

    async def raw_receipts(params: list[Any]) -> list[str]:
        """The block's receipts in their EIP-2718 encoding (as the receipts root hashes them)."""
        max_args(params, 1)
        receipts = node.chain.receipts(sealed_block(params[0] if params else None).header.number)
        if receipts is None:
            raise HeaderNotFound("header not found")
        return [data(r.encode()) for r in receipts]

    async def raw_transaction(params: list[Any]) -> str | None:
        """A transaction's EIP-2718 bytes: included (in a sealed block or a mini-block), or waiting in the pool;
        null for an unknown hash (geth)."""
        max_args(params, 1)
        tx_hash = parse_hash(params[0] if params else None)
        found = await node.locate(tx_hash)
        if found is not None:
            block, _, i = found
            return data(block.transactions[i].encode())
        pooled = node.pool.get(tx_hash)
        return None if pooled is None else data(pooled.tx.encode())

    async def trace_block(number: int, tracer: Tracer) -> list[dict[str, Any]]:
        """Each transaction of sealed block `number` (geth's `{txHash, result}`), a new logger for each."""
        try:
            return await asyncio.to_thread(block_trace, node.chain, node.chain_config, number, tracer)
        except (TraceUnavailable, TraceAborted) as e:
            raise RpcError(-32000, str(e)) from e

    async def trace_block_by_number(params: list[Any]) -> list[dict[str, Any]]:
        tracer = _trace_options(params, "blockNumber")
        n = sealed_number(node, params[0], 0)
        if n is None or n > node.head.number:
            raise RpcError(-32000, f"block #{params[0] if n is None else n} not found")
        return await trace_block(n, tracer)

    async def trace_block_by_hash(params: list[Any]) -> list[dict[str, Any]]:
        tracer = _trace_options(params, "blockHash")
        block_hash = parse_hash(params[0])
        n = node.chain.number_of(block_hash)
        if n is None:
            raise RpcError(-32000, f"block 0x{block_hash.hex()} not found")
        return await trace_block(n, tracer)

    async def trace_transaction(params: list[Any]) -> dict[str, Any]:
        tracer = _trace_options(params, "txHash")
        found = await node.locate(parse_hash(params[0]), include_open=False)
        if found is None:
            raise RpcError(-32000, "transaction not found (or its block is not sealed yet)")
        block, _, index = found
        number, config = block.header.number, node.chain_config
        try:
            if isinstance(tracer, CallTracer):
                return await asyncio.to_thread(call_trace, node.chain, config, number, index, tracer)
            return await asyncio.to_thread(struct_trace, node.chain, config, number, index, tracer())
        except (TraceUnavailable, TraceAborted) as e:
            raise RpcError(-32000, str(e)) from e

    async def trace_call(params: list[Any]) -> dict[str, Any]:
        """geth's `debug_traceCall(request, block, {tracer?, ...options, stateOverrides?})`: the request run as
        `eth_call` runs it, traced as a transaction; block overrides are refused, as eth_call refuses them."""
        max_args(params, 3)
        if not params:
            raise invalid_params("missing value for required argument 0", 0)
        req = parse_call_request(params[0], 0)
        n = require_current(node, params[1] if len(params) > 1 and params[1] is not None else "latest", 1)
        config = params[2] if len(params) > 2 and params[2] is not None else {}
        if not isinstance(config, dict):
            raise invalid_params("trace config must be an object", 2)
        tracer = _tracer_config({k: v for k, v in config.items() if k not in ("stateOverrides", "blockOverrides")}, 2)
        overrides = parse_state_overrides(config.get("stateOverrides") or {}, 2)
        if config.get("blockOverrides"):
            raise invalid_params("block overrides are not supported", 2)
        gas, run = min(req.gas or GAS_CAP, GAS_CAP), tracer if isinstance(tracer, CallTracer) else tracer()
        try:
            return await execute_at(node, n, lambda s, rules: request_trace(
                s, rules, node.chain_config.chain_id, req, gas, overrides, run))
        except (NotImplementedError, TraceAborted) as e:
            raise RpcError(-32000, str(e)) from e

    return {"debug_traceTransaction": trace_transaction, "debug_traceCall": trace_call,
            "debug_traceBlockByNumber": trace_block_by_number, "debug_traceBlockByHash": trace_block_by_hash,
            "debug_getRawHeader": raw_header, "debug_getRawBlock": raw_block, "debug_getRawReceipts": raw_receipts,
            "debug_getRawTransaction": raw_transaction}
