"""Node metrics (`/metrics`, Prometheus) and the live status page (`/` in a browser, `/status.json`)."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from megaeth_node.mempool import PoolTx
from megaeth_node.sequencer import MiniBlock, Sequencer
from megaeth_node.store import MiniBlockSpan
from megaeth_node.types import Block, Header, Receipt

WINDOW_S = 10.0

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>megaeth-node</title>
<style>body{font:15px system-ui,sans-serif;margin:2em;color:#222}td{padding:.2em 1em}td:first-child{color:#666}
h1{font-size:1.3em}</style></head>
<body><h1>megaeth-node</h1>
<table id="t"><tbody></tbody></table>
<script>
const rows = [["chain id","chain_id"],["head block","head"],["mini-blocks / s","mini_blocks_per_s"],
  ["transactions / s","tx_per_s"],["gas used / s","gas_per_s"],["last block gas used","last_block_gas"],
  ["mempool","mempool"],["uptime (s)","uptime_s"]];
async function tick() {
  try {
    const s = await (await fetch("/status.json")).json();
    document.querySelector("#t tbody").innerHTML =
      rows.map(([label, key]) => `<tr><td>${label}</td><td id="${key}">${s[key]}</td></tr>`).join("");
  } catch (e) { document.title = "megaeth-node (unreachable)"; }
}
tick(); setInterval(tick, 1000);
</script></body></html>
"""


class NodeStatus:
    """Counts what the sequencer announces (it is a `NodeEvents` listener) and renders metrics."""

    def __init__(self, node: Sequencer) -> None:
        self.node = node
        self.started = time.monotonic()
        self.registry = CollectorRegistry()
        self.mini_blocks = Counter("megaeth_mini_blocks", "Mini-blocks produced", registry=self.registry)
        self.blocks = Counter("megaeth_blocks", "EVM blocks sealed", registry=self.registry)
        self.txs = Counter("megaeth_transactions", "Transactions executed", registry=self.registry)
        self.gas = Counter("megaeth_gas_used", "Gas used by executed transactions", registry=self.registry)
        self.pending = Counter("megaeth_pending_transactions", "Transactions admitted to the pool",
                               registry=self.registry)
        self.head = Gauge("megaeth_head_block", "Number of the last sealed block", registry=self.registry)
        self.mempool = Gauge("megaeth_mempool_size", "Transactions in the pool", registry=self.registry)
        self.head.set(node.head.number)
        self.last_block_gas = 0
        self._recent: deque[tuple[float, int, int]] = deque()  # (time, txs, gas) per mini-block

    def wants_state_changes(self) -> bool:
        return False

    def on_mini_block(self, mb: MiniBlock, header: Header) -> None:
        gas = mb.receipts[-1].cumulative_gas_used - mb.prior_gas if mb.receipts else 0
        self.mini_blocks.inc()
        self.txs.inc(len(mb.transactions))
        self.gas.inc(gas)
        self._recent.append((time.monotonic(), len(mb.transactions), gas))

    def on_block(self, block: Block, receipts: list[Receipt], mini_blocks: MiniBlockSpan) -> None:
        self.blocks.inc()
        self.head.set(block.header.number)
        self.last_block_gas = block.header.gas_used

    def on_pending(self, entry: PoolTx) -> None:
        self.pending.inc()

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        while self._recent and now - self._recent[0][0] > WINDOW_S:
            self._recent.popleft()
        span = min(WINDOW_S, max(now - self.started, 1e-9))
        return {
            "chain_id": self.node.chain_config.chain_id, "head": self.node.head.number,
            "mini_blocks_per_s": round(len(self._recent) / span, 2),
            "tx_per_s": round(sum(t for _, t, _ in self._recent) / span, 2),
            "gas_per_s": round(sum(g for _, _, g in self._recent) / span),
            "last_block_gas": self.last_block_gas, "mempool": len(self.node.pool),
            "uptime_s": round(now - self.started),
        }


STATUS = web.AppKey("status", NodeStatus)


async def handle_metrics(request: web.Request) -> web.Response:
    status = request.app[STATUS]
    status.mempool.set(len(status.node.pool))
    return web.Response(body=generate_latest(status.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def handle_status_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATUS].snapshot())


async def handle_page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


def add_status_routes(app: web.Application, status: NodeStatus) -> None:
    """`/metrics`, `/status.json` and `/status` (the page; also served at `/` to browsers by the RPC app)."""
    app[STATUS] = status
    app.add_routes([web.get("/metrics", handle_metrics), web.get("/status.json", handle_status_json),
                    web.get("/status", handle_page)])
