"""WebSocket subscriptions (spec/rpc.md §1, §5): `newHeads`, `logs`, `newPendingTransactions`, `miniBlocks`.

The sequencer calls the hub's `on_*` hooks on the event loop; each connection has its own subscriptions
(at most 5, no duplicates) and a bounded send queue so a slow client cannot stall the node.
`logs` fire when a block is sealed, with its real hash (wallets reject logs without a block hash).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from megaeth_node.mempool import PoolTx
from megaeth_node.sequencer import MiniBlock
from megaeth_node.store import MiniBlockSpan, log_matches
from megaeth_node.types import Block, Header, Receipt
from rpc.codec import data, parse_address, quantity
from rpc.errors import invalid_params, invalid_request, limit_exceeded
from rpc.format import block_size, header_json, log_json, mini_block_fields, mini_block_receipt, tx_json
from rpc.methods_logs import LogQuery, parse_filter

MAX_SUBSCRIPTIONS = 5
QUEUE_LIMIT = 1024
KINDS = ("newHeads", "logs", "newPendingTransactions", "miniBlocks", "stateChanges")


@dataclass(slots=True)
class Subscription:
    kind: str
    query: LogQuery | None = None
    full_tx: bool = False
    addresses: frozenset[bytes] = frozenset()  # stateChanges filter; empty = every account
    key: str = ""  # identity for duplicate detection


@dataclass(slots=True, eq=False)
class Connection:
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    subs: dict[str, Subscription] = field(default_factory=dict)

    def push(self, sub_id: str, result: Any) -> None:
        msg = {"jsonrpc": "2.0", "method": "eth_subscription", "params": {"subscription": sub_id, "result": result}}
        try:
            self.queue.put_nowait(json.dumps(msg, separators=(",", ":")))
        except asyncio.QueueFull:
            pass  # a client that does not read loses notifications, never the node's memory

    def reply(self, text: str) -> bool:
        """Queue a reply; False when the queue is full (a client that does not read its replies: closed)."""
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True


class Hub:
    """Fans node events out to subscribed connections."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self._ids = itertools.count(1)

    def subscribe(self, conn: Connection, params: list[Any]) -> str:
        if not params or params[0] not in KINDS:
            raise invalid_params(f"unknown subscription type, want one of {', '.join(KINDS)}", 0)
        kind = params[0]
        # newHeads and miniBlocks take no parameters: any they are given do not make another subscription
        key = json.dumps(params if kind not in ("newHeads", "miniBlocks") else [kind], sort_keys=True)
        sub = Subscription(kind, key=key)
        if kind == "stateChanges" and len(params) > 1 and params[1] is not None:
            if not isinstance(params[1], list):
                raise invalid_params("stateChanges takes a list of addresses", 1)
            sub.addresses = frozenset(parse_address(a) for a in params[1])
        if kind == "logs":
            sub.query = parse_filter(params[1] if len(params) > 1 and params[1] is not None else {}, 1)
        if kind == "newPendingTransactions":
            sub.full_tx = bool(params[1]) if len(params) > 1 else False
            sub.key = json.dumps([kind, sub.full_tx])
        if any(s.key == sub.key for s in conn.subs.values()):
            raise invalid_request("duplicate subscription")
        if len(conn.subs) >= MAX_SUBSCRIPTIONS:
            raise limit_exceeded(f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection")
        sub_id = quantity(next(self._ids) << 64 | id(conn) & 0xFFFFFFFF)
        conn.subs[sub_id] = sub
        return sub_id

    def _each(self, kind: str) -> list[tuple[Connection, str, Subscription]]:
        return [(c, i, s) for c in self.connections for i, s in c.subs.items() if s.kind == kind]

    def on_block(self, block: Block, receipts: list[Receipt], mini_blocks: MiniBlockSpan) -> None:
        heads = self._each("newHeads")
        if heads:  # the head's size re-encodes every transaction: only when someone listens
            head = header_json(block.header, block.hash)
            head["size"] = quantity(block_size(block))
            head.update(mini_block_fields(mini_blocks))
            for conn, sub_id, _ in heads:
                conn.push(sub_id, head)
        subs = self._each("logs")
        if not subs:
            return
        h = block.header
        log_index = 0
        for i, (tx, r) in enumerate(zip(block.transactions, receipts)):
            for log in r.logs:
                item = log_json(log, block.hash, h.number, h.timestamp, tx.hash, i, log_index)
                for conn, sub_id, sub in subs:
                    q = sub.query
                    if q and log_matches(log, q.addresses, q.topics):
                        conn.push(sub_id, item)
                log_index += 1

    def on_pending(self, entry: PoolTx) -> None:
        for conn, sub_id, sub in self._each("newPendingTransactions"):
            conn.push(sub_id, tx_json(entry.tx, entry.sender) if sub.full_tx
                      else data(entry.tx.hash))

    def wants_state_changes(self) -> bool:
        return bool(self._each("stateChanges"))

    def _push_state_changes(self, mb: MiniBlock) -> None:
        """One notification per changed account (spec/rpc.md §5.4): nonce, balance, changed slots."""
        for conn, sub_id, sub in self._each("stateChanges"):
            for addr, change in (mb.state_changes or {}).items():
                if sub.addresses and addr not in sub.addresses:
                    continue
                conn.push(sub_id, {"address": data(addr), "nonce": quantity(change.nonce),
                                   "balance": quantity(change.balance),
                                   "storage": {data(k.to_bytes(32, "big")): data(v.to_bytes(32, "big"))
                                               for k, v in sorted(change.storage.items())}})

    def on_mini_block(self, mb: MiniBlock, header_template: Header) -> None:
        self._push_state_changes(mb)
        subs = self._each("miniBlocks")
        if not subs:
            return
        receipts = mb.receipts
        out = {
            "block_number": quantity(mb.block_number), "block_timestamp": quantity(header_template.timestamp),
            "index": quantity(mb.index), "mini_block_number": quantity(mb.number),
            "mini_block_timestamp": quantity(mb.timestamp_us),
            "gas_used": quantity(receipts[-1].cumulative_gas_used - mb.prior_gas if receipts else 0),
            "transactions": [tx_json(tx, s, mb.first_tx + i, header_template)
                             for i, (tx, s) in enumerate(zip(mb.transactions, mb.senders))],
            "receipts": [mini_block_receipt(mb, header_template, i) for i in range(len(receipts))],
        }
        for conn, sub_id, _ in subs:
            conn.push(sub_id, out)


def handle_subscription_call(hub: Hub, conn: Connection, method: str, params: list[Any]) -> Any:
    """`eth_subscribe` / `eth_unsubscribe` for one connection."""
    if method == "eth_subscribe":
        return hub.subscribe(conn, params)
    if len(params) != 1:
        raise invalid_params("want one subscription id")
    return conn.subs.pop(params[0], None) is not None

