"""`txpool_status`, `txpool_content`, `txpool_contentFrom`, `txpool_inspect` (spec/rpc.md §3; geth's shapes, as
Anvil serves them)."""

from __future__ import annotations

from typing import Any

from megaeth_node.mempool import PoolTx
from megaeth_node.sequencer import Sequencer
from rpc.codec import parse_address, quantity
from rpc.dispatch import Handler
from rpc.errors import max_args
from rpc.format import tx_json


def pool_methods(node: Sequencer) -> dict[str, Handler]:
    async def split() -> tuple[list[PoolTx], list[PoolTx]]:
        return await node.read_state(lambda s: node.pool.split(lambda a: int(s.get_nonce(a))))

    def grouped(entries: list[PoolTx], fmt: Any) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for e in entries:
            out.setdefault("0x" + e.sender.hex(), {})[str(e.tx.nonce)] = fmt(e)
        return out

    def summary(e: PoolTx) -> str:
        to = "0x" + e.tx.to.hex() if e.tx.to else "contract creation"
        price = e.tx.gas_price or e.tx.max_fee_per_gas
        return f"{to}: {e.tx.value} wei + {e.tx.gas} gas × {price} wei"

    async def status(params: list[Any]) -> dict[str, str]:
        pending, queued = await split()
        return {"pending": quantity(len(pending)), "queued": quantity(len(queued))}

    async def content(params: list[Any]) -> dict[str, Any]:
        pending, queued = await split()
        fmt = lambda e: tx_json(e.tx, e.sender)  # noqa: E731
        return {"pending": grouped(pending, fmt), "queued": grouped(queued, fmt)}

    async def content_from(params: list[Any]) -> dict[str, Any]:
        """`txpool_content` of one sender: {pending, queued}, each nonce → transaction."""
        max_args(params, 1)
        sender = parse_address(params[0] if params else None)
        pending, queued = await split()
        return {kind: {str(e.tx.nonce): tx_json(e.tx, e.sender) for e in entries if e.sender == sender}
                for kind, entries in (("pending", pending), ("queued", queued))}

    async def inspect(params: list[Any]) -> dict[str, Any]:
        pending, queued = await split()
        return {"pending": grouped(pending, summary), "queued": grouped(queued, summary)}

    return {"txpool_status": status, "txpool_content": content, "txpool_contentFrom": content_from,
            "txpool_inspect": inspect}
