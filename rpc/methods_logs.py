"""Logs and polling filters (spec/rpc.md §2 `Filter`, `eth_newFilter` …): range checks, caps, TTL."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from megaeth_node.mempool import PoolTx
from megaeth_node.sequencer import MiniBlock, Sequencer
from megaeth_node.store import MiniBlockSpan, StoredLog
from megaeth_node.types import Block, Header, Receipt
from rpc.codec import data, parse_address, parse_hash, parse_quantity, quantity
from rpc.dispatch import Handler
from rpc.errors import RpcError, invalid_params, limit_exceeded, max_args
from rpc.format import log_json

MAX_LOG_RANGE = 10_000
FILTER_TTL_S = 300.0
MAX_FILTERS = 1_000
MAX_PENDING_HASHES = 10_000  # per pending-transaction filter between two polls


@dataclass(slots=True)
class LogQuery:
    lo: int | None  # None = follow the head
    hi: int | None
    addresses: list[bytes]
    topics: list[list[bytes] | None]
    block_hash: bytes | None = None


@dataclass(slots=True)
class _Filter:
    kind: str  # "logs" | "blocks" | "pending"
    query: LogQuery | None
    next_block: int
    polled: float = field(default_factory=time.monotonic)


def parse_filter(obj: Any, i: int) -> LogQuery:
    """A `Filter` object → LogQuery; `blockHash` excludes a range (spec/rpc.md §2)."""
    if not isinstance(obj, dict):
        raise invalid_params("filter must be an object", i)
    raw_addr = obj.get("address")
    addresses = [] if raw_addr is None else [parse_address(a) for a in (raw_addr if isinstance(raw_addr, list) else [raw_addr])]
    topics: list[list[bytes] | None] = []
    raw_topics = obj.get("topics") or []
    if not isinstance(raw_topics, list) or len(raw_topics) > 4:
        raise invalid_params("topics must be a list of at most 4 positions", i)
    for t in raw_topics:
        alternatives = t if isinstance(t, list) else [t]
        # a null anywhere in a position (also inside an OR-list) matches every topic there, as in geth
        topics.append(None if None in alternatives else [parse_hash(x) for x in alternatives])
    if obj.get("blockHash") is not None:
        if obj.get("fromBlock") is not None or obj.get("toBlock") is not None:
            raise invalid_params("cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other", i)
        return LogQuery(None, None, addresses, topics, parse_hash(obj["blockHash"]))

    def bound(key: str) -> int | None:
        v = obj.get(key)
        if v is None or v in ("latest", "pending", "safe", "finalized"):
            return None
        return 0 if v == "earliest" else parse_quantity(v)

    return LogQuery(bound("fromBlock"), bound("toBlock"), addresses, topics)


class _PendingFeed:
    """Node events (`NodeEvents`, on the event loop) → the hashes each pending-transaction filter has not yet
    returned: every transaction as it is pooled, however soon a mini-block takes it out of the pool."""

    def __init__(self, hashes: dict[str, list[bytes]]) -> None:
        self.hashes = hashes  # filter id → hashes since its last poll

    def wants_state_changes(self) -> bool:
        return False

    def on_pending(self, entry: PoolTx) -> None:
        for pending in self.hashes.values():
            if len(pending) < MAX_PENDING_HASHES:
                pending.append(entry.tx.hash)

    def on_mini_block(self, mb: MiniBlock, header: Header) -> None:
        pass

    def on_block(self, block: Block, receipts: list[Receipt], mini_blocks: MiniBlockSpan) -> None:
        pass


def log_methods(node: Sequencer) -> dict[str, Handler]:
    filters: dict[str, _Filter] = {}
    pending_hashes: dict[str, list[bytes]] = {}  # of the pending-transaction filters
    node.listeners.append(_PendingFeed(pending_hashes))

    def run_query(q: LogQuery) -> list[dict[str, Any]]:
        head = node.head.number
        if q.block_hash is not None:
            n = node.chain.number_of(q.block_hash)
            if n is None:
                raise RpcError(-32000, "unknown block")
            lo = hi = n
        else:
            lo = head if q.lo is None else q.lo
            hi = head if q.hi is None else q.hi
            if lo > hi:
                raise invalid_params("invalid block range params")
            if hi > head:
                raise invalid_params("block range extends beyond current head block")
            if hi - lo + 1 > MAX_LOG_RANGE:
                raise limit_exceeded(f"block range of {hi - lo + 1} blocks exceeds {MAX_LOG_RANGE}")
        return [_json(node, x) for x in node.chain.logs(lo, hi, q.addresses, q.topics)]

    def expire() -> None:
        now = time.monotonic()
        for fid in [f for f, flt in filters.items() if now - flt.polled > FILTER_TTL_S]:
            del filters[fid]
            pending_hashes.pop(fid, None)

    def install(flt: _Filter) -> str:
        expire()
        if len(filters) >= MAX_FILTERS:
            raise limit_exceeded(f"{MAX_FILTERS} filters installed")
        fid = quantity(secrets.randbits(128) | 1 << 127)  # unguessable, as geth's rpc.NewID: one client's own
        filters[fid] = flt
        return fid

    def lookup(params: list[Any]) -> _Filter:
        expire()
        if len(params) != 1 or params[0] not in filters:
            raise RpcError(-32000, "filter not found")
        return filters[params[0]]

    async def get_logs(params: list[Any]) -> list[dict[str, Any]]:
        if len(params) != 1:
            raise invalid_params("want one filter object")
        return run_query(parse_filter(params[0], 0))

    async def new_filter(params: list[Any]) -> str:
        if len(params) != 1:
            raise invalid_params("want one filter object")
        q = parse_filter(params[0], 0)
        if q.block_hash is not None:
            raise invalid_params("blockHash is not allowed in eth_newFilter", 0)
        # changes are the logs of blocks sealed after the filter was made (geth), from fromBlock if later
        return install(_Filter("logs", q, max(node.head.number + 1, q.lo or 0)))

    async def new_block_filter(params: list[Any]) -> str:
        max_args(params, 0)
        return install(_Filter("blocks", None, node.head.number + 1))

    async def new_pending_filter(params: list[Any]) -> str:
        max_args(params, 0)
        fid = install(_Filter("pending", None, 0))
        pending_hashes[fid] = []
        return fid

    async def get_filter_changes(params: list[Any]) -> list[Any]:
        flt = lookup(params)
        flt.polled = time.monotonic()
        head = node.head.number
        if flt.kind == "pending":
            hashes, pending_hashes[params[0]] = pending_hashes[params[0]], []
            return [data(h) for h in hashes]
        lo = flt.next_block
        flt.next_block = max(lo, head + 1)  # a fromBlock still ahead stays the start
        if lo > head:
            return []
        if flt.kind == "blocks":
            return [data(h.hash) for n in range(lo, head + 1) if (h := node.chain.header(n)) is not None]
        assert flt.query is not None
        hi = head if flt.query.hi is None else min(flt.query.hi, head)
        if lo > hi:
            return []
        return [_json(node, x) for x in node.chain.logs(lo, hi, flt.query.addresses, flt.query.topics)]

    async def get_filter_logs(params: list[Any]) -> list[dict[str, Any]]:
        flt = lookup(params)
        if flt.query is None:
            raise RpcError(-32000, "filter not found")
        flt.polled = time.monotonic()
        return run_query(flt.query)

    async def uninstall(params: list[Any]) -> bool:
        expire()
        if len(params) != 1:
            raise invalid_params("want one filter id")
        pending_hashes.pop(params[0], None)
        return filters.pop(params[0], None) is not None

    return {"eth_getLogs": get_logs, "eth_newFilter": new_filter, "eth_newBlockFilter": new_block_filter,
            "eth_newPendingTransactionFilter": new_pending_filter, "eth_getFilterChanges": get_filter_changes,
            "eth_getFilterLogs": get_filter_logs, "eth_uninstallFilter": uninstall}


def _json(node: Sequencer, x: StoredLog) -> dict[str, Any]:
    header = node.chain.header(x.block_number)
    return log_json(x.log, x.block_hash, x.block_number, header.timestamp if header else 0, x.tx_hash, x.tx_index,
                    x.log_index)
