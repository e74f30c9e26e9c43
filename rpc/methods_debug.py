"""`debug_traceTransaction`, `debug_traceBlockByNumber/ByHash` and `debug_traceCall` with `callTracer` or geth's
default struct logger (spec/rpc.md §3), executed off the event loop; the raw getters
`debug_getRawHeader/Block/Transaction/Receipts` (execution-apis `debug/getters.yaml`)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from megaeth_node.errors import HeaderNotFound
from megaeth_node.sequencer import Sequencer
from megaeth_node.trace import (
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


def _struct_logger(options: dict[str, Any]) -> StructLogger:
    """geth's logger config: `disableStack`, `disableStorage`, `enableMemory`, `enableReturnData`, `limit`."""
    flags = {k: options.get(k, False) for k in ("disableStack", "disableStorage", "enableMemory", "enableReturnData")}
    limit = options.get("limit", 0)
    if not all(isinstance(v, bool) for v in flags.values()) or not isinstance(limit, int) or isinstance(limit, bool):
        raise invalid_params("logger options: disableStack, disableStorage, enableMemory and enableReturnData are "
                             "booleans, limit a number", 1)
    return StructLogger(stack=not flags["disableStack"], storage=not flags["disableStorage"],
                        memory=flags["enableMemory"], return_data=flags["enableReturnData"], limit=limit)


def _trace_options(params: list[Any], first: str) -> Callable[[], StructLogger] | None:
    """[`first`, {tracer?, ...options}]: a maker of the struct logger geth's default tracer is (its options checked
    and applied as geth's), or None for `callTracer`."""
    if not 1 <= len(params) <= 2:
        raise invalid_params(f"want [{first}, {{tracer?, ...options}}]")
    return _tracer_config(params[1] if len(params) == 2 else None, 1)


def _tracer_config(options: Any, i: int) -> Callable[[], StructLogger] | None:
    """The tracer a config object (argument `i`) names: None for `callTracer`, else a struct-logger maker."""
    options = {} if options is None else options
    if not isinstance(options, dict) or options.get("tracer") not in (None, "callTracer"):
        raise invalid_params("tracers: callTracer, or none for the struct logger", i)
    if options.get("tracer") is not None:
        return None
    _struct_logger(options)
    return functools.partial(_struct_logger, options)


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

    async def trace_block(number: int, make: Callable[[], StructLogger] | None) -> list[dict[str, Any]]:
        """Each transaction of sealed block `number` (geth's `{txHash, result}`), a new logger for each."""
        try:
            return await asyncio.to_thread(block_trace, node.chain, node.chain_config, number, make)
        except TraceUnavailable as e:
            raise RpcError(-32000, str(e)) from e

    async def trace_block_by_number(params: list[Any]) -> list[dict[str, Any]]:
        make = _trace_options(params, "blockNumber")
        n = sealed_number(node, params[0], 0)
        if n is None or n > node.head.number:
            raise RpcError(-32000, f"block #{params[0] if n is None else n} not found")
        return await trace_block(n, make)

    async def trace_block_by_hash(params: list[Any]) -> list[dict[str, Any]]:
        make = _trace_options(params, "blockHash")
        block_hash = parse_hash(params[0])
        n = node.chain.number_of(block_hash)
        if n is None:
            raise RpcError(-32000, f"block 0x{block_hash.hex()} not found")
        return await trace_block(n, make)

    async def trace_transaction(params: list[Any]) -> dict[str, Any]:
        make = _trace_options(params, "txHash")
        logger = None if make is None else make()
        found = await node.locate(parse_hash(params[0]), include_open=False)
        if found is None:
            raise RpcError(-32000, "transaction not found (or its block is not sealed yet)")
        block, _, index = found
        number, config = block.header.number, node.chain_config
        try:
            if logger is None:
                return await asyncio.to_thread(call_trace, node.chain, config, number, index)
            return await asyncio.to_thread(struct_trace, node.chain, config, number, index, logger)
        except TraceUnavailable as e:
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
        make = _tracer_config({k: v for k, v in config.items() if k not in ("stateOverrides", "blockOverrides")}, 2)
        overrides = parse_state_overrides(config.get("stateOverrides") or {}, 2)
        if config.get("blockOverrides"):
            raise invalid_params("block overrides are not supported", 2)
        gas, logger = min(req.gas or GAS_CAP, GAS_CAP), None if make is None else make()
        try:
            return await execute_at(node, n, lambda s, rules: request_trace(
                s, rules, node.chain_config.chain_id, req, gas, overrides, logger))
        except NotImplementedError as e:
            raise RpcError(-32000, str(e)) from e

    return {"debug_traceTransaction": trace_transaction, "debug_traceCall": trace_call,
            "debug_traceBlockByNumber": trace_block_by_number, "debug_traceBlockByHash": trace_block_by_hash,
            "debug_getRawHeader": raw_header, "debug_getRawBlock": raw_block, "debug_getRawReceipts": raw_receipts,
            "debug_getRawTransaction": raw_transaction}
