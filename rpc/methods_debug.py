"""`debug_traceTransaction` with `callTracer` (spec/rpc.md §3), re-executed off the event loop."""

from __future__ import annotations

import asyncio
from typing import Any

from megaeth_node.sequencer import Sequencer
from megaeth_node.trace import TraceUnavailable, call_trace
from rpc.codec import parse_hash
from rpc.dispatch import Handler
from rpc.errors import RpcError, invalid_params


def debug_methods(node: Sequencer) -> dict[str, Handler]:
    async def trace_transaction(params: list[Any]) -> dict[str, Any]:
        if not 1 <= len(params) <= 2:
            raise invalid_params("want [txHash, {tracer: \"callTracer\"}]")
        options = params[1] if len(params) == 2 and params[1] is not None else {}
        if not isinstance(options, dict) or options.get("tracer", "callTracer") != "callTracer":
            raise invalid_params("only the callTracer is supported", 1)
        found = await node.locate(parse_hash(params[0]), include_open=False)
        if found is None:
            raise RpcError(-32000, "transaction not found (or its block is not sealed yet)")
        block, _, index = found
        try:
            return await asyncio.to_thread(call_trace, node.chain, node.chain_config, block.header.number, index)
        except TraceUnavailable as e:
            raise RpcError(-32000, str(e)) from e

    return {"debug_traceTransaction": trace_transaction}
