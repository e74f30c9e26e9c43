"""`debug_traceTransaction` with `callTracer` or geth's default struct logger (spec/rpc.md §3), re-executed off
the event loop."""

from __future__ import annotations

import asyncio
from typing import Any

from megaeth_node.sequencer import Sequencer
from megaeth_node.trace import StructLogger, TraceUnavailable, call_trace, struct_trace
from rpc.codec import parse_hash
from rpc.dispatch import Handler
from rpc.errors import RpcError, invalid_params


def _struct_logger(options: dict[str, Any]) -> StructLogger:
    """geth's logger config: `disableStack`, `disableStorage`, `enableMemory`, `enableReturnData`, `limit`."""
    flags = {k: options.get(k, False) for k in ("disableStack", "disableStorage", "enableMemory", "enableReturnData")}
    limit = options.get("limit", 0)
    if not all(isinstance(v, bool) for v in flags.values()) or not isinstance(limit, int) or isinstance(limit, bool):
        raise invalid_params("logger options: disableStack, disableStorage, enableMemory and enableReturnData are "
                             "booleans, limit a number", 1)
    return StructLogger(stack=not flags["disableStack"], storage=not flags["disableStorage"],
                        memory=flags["enableMemory"], return_data=flags["enableReturnData"], limit=limit)


def debug_methods(node: Sequencer) -> dict[str, Handler]:
    async def trace_transaction(params: list[Any]) -> dict[str, Any]:
        """Without a `tracer`, geth's default struct logger (its options as geth's); `callTracer` by name."""
        if not 1 <= len(params) <= 2:
            raise invalid_params("want [txHash, {tracer?, ...options}]")
        options = params[1] if len(params) == 2 and params[1] is not None else {}
        if not isinstance(options, dict) or options.get("tracer") not in (None, "callTracer"):
            raise invalid_params("tracers: callTracer, or none for the struct logger", 1)
        logger = _struct_logger(options) if options.get("tracer") is None else None
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

    return {"debug_traceTransaction": trace_transaction}
