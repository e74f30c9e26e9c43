"""Serve a sequencer over JSON-RPC until stopped: the method table, the HTTP/WS app, the builder loop."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from collections.abc import Callable

from aiohttp import web

from megaeth_node.genesis import DevAccount
from megaeth_node.sequencer import Sequencer
from rpc.dispatch import Handler, Limits
from rpc.http_fast import FastRpcProtocol, close_idle
from rpc.methods_base import base_methods
from rpc.methods_debug import debug_methods
from rpc.methods_dev import dev_methods
from rpc.methods_eth import eth_methods
from rpc.methods_logs import log_methods
from rpc.methods_mega import mega_methods
from rpc.methods_pool import pool_methods
from rpc.server import make_app
from rpc.status import NodeStatus, add_status_routes
from rpc.subscriptions import Hub

ANSWER_GRACE_S = 10.0  # at shutdown, how long the lean front's requests being answered may still run

# The event loop and the builder thread share the GIL: a thread that drops it for a C call (a socket write,
# an LMDB commit, secp256k1) gets it back only when the other one yields, after at most this interval (CPython's
# default is 5 ms, which a sync send paid several times over while a mini-block ran).
SWITCH_INTERVAL_S = 0.0005


def tune_runtime() -> None:
    """Process settings for serving: a short GIL switch interval, and everything built at start-up (modules,
    genesis, curve tables, the app) moved out of the collector's view, so that a full collection scans only
    what the node allocated since (spec/rpc.md §5 latency; a full pass over the start-up heap took 25-120 ms)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()


def node_methods(node: Sequencer, accounts: list[DevAccount]) -> dict[str, Handler]:
    methods = {**base_methods(node.chain_config.chain_id), **eth_methods(node), **log_methods(node),
               **mega_methods(node), **pool_methods(node), **debug_methods(node)}
    methods.update(dev_methods(node, accounts, methods["eth_estimateGas"]))
    return methods


async def serve(node: Sequencer, accounts: list[DevAccount], host: str, port: int,
                cors_origins: tuple[str, ...] = (), on_ready: Callable[[int], None] | None = None) -> None:
    """Run until SIGINT/SIGTERM: the JSON-RPC server on host:port and the sequencer's builder loop."""
    hub, status = Hub(), NodeStatus(node)
    node.listeners.extend((hub, status))
    methods, limits = node_methods(node, accounts), Limits()
    app = make_app(methods, limits, cors_origins, hub)
    add_status_routes(app, status)
    runner = web.AppRunner(app)
    await runner.setup()
    loop = asyncio.get_running_loop()
    fallback = runner.server
    assert fallback is not None
    connections: set[FastRpcProtocol] = set()
    answering: set[asyncio.Task[None]] = set()
    server = await loop.create_server(lambda: FastRpcProtocol(fallback, methods, limits, connections, answering),
                                      host, port)
    bound = server.sockets[0].getsockname()[1] if server.sockets else port
    idle = asyncio.create_task(close_idle(connections))
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tune_runtime()
    builder = asyncio.create_task(node.run())
    if on_ready:
        on_ready(bound)
    try:
        done, _ = await asyncio.wait({builder, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
        if builder in done:
            builder.result()  # a builder crash stops the node with its traceback
    finally:
        builder.cancel()
        idle.cancel()
        server.close()
        for conn in list(connections):
            conn.close()
        if answering:  # requests still being answered read the node: let them finish (as aiohttp's cleanup does)
            _, late = await asyncio.wait(set(answering), timeout=ANSWER_GRACE_S)
            for task in late:
                task.cancel()
        await runner.cleanup()
        await node.close()
