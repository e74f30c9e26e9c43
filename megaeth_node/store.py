"""Chain store in LMDB: headers, bodies, receipts, tx index, log index, mini-block journal, metadata.

Tables are declared once (TABLES). Numbers are u64 big-endian so range scans follow block order.
Writes take an open write transaction so that the builder can commit a block together with its
SALT state in one LMDB transaction (design.md: one writer, many readers).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from struct import Struct
from typing import NamedTuple

import lmdb
import rlp

from megaeth_node.types import Block, Header, Log, Receipt, Transaction, decode_receipt, rlp_encode

SCHEMA_VERSION = 1
TABLES = (
    "headers",      # number → header RLP
    "hashes",       # block hash → number
    "bodies",       # number → rlp([tx 2718 encodings, senders])
    "receipts",     # number → rlp([receipt 2718 encodings])
    "tx_index",     # tx hash → number ‖ index (u32)
    "log_address",  # address ‖ number → b""
    "log_topic",    # topic ‖ number → b""
    "journal",      # number ‖ mini-block index (u32) → rlp([block timestamp, [tx 2718 encodings]]): unsealed blocks
                    # (an empty list marks the block's close)
    "codes",        # code hash → code
    "witnesses",    # number → rlp([bincode SaltWitness, bincode MptWitness]) of the block's pre-state
    "mini_blocks",  # number → global number of its first mini-block (u64) ‖ its mini-block count (u32)
    "meta",         # b"head" → number, b"schema" → version
    "pool",         # tx hash → tx 2718 encoding: acknowledged transactions not yet in a mini-block
)
_U64 = Struct(">Q")
_U32 = Struct(">I")


def _storable(number: int) -> bool:
    """Whether a block can have this number (a u64 key); any other has no entry (a client may ask for any)."""
    return 0 <= number < 1 << 64


def open_env(path: Path, map_size: int = 1 << 36, extra_dbs: int = 8, sync: bool = True,
             readonly: bool = False) -> lmdb.Environment:
    """The node's one LMDB environment (chain tables here, SALT tables opened by salt/). With `sync=False` a
    commit is in the OS page cache when it returns (it survives the process being killed, not a power loss)
    and the owner flushes with `env.sync(True)` when it needs the disk. `readonly`: another process's view."""
    path.mkdir(parents=True, exist_ok=True)
    return lmdb.open(str(path), map_size=map_size, max_dbs=len(TABLES) + extra_dbs, sync=sync, readonly=readonly)


class MiniBlockSpan(NamedTuple):
    """A block's mini-blocks (rpc.md §2 realtime extra `miniBlockOffset`, `miniBlockCount`): the global number
    of its first one and how many it has."""

    offset: int
    count: int

    @property
    def end(self) -> int:
        """The global number of the next block's first mini-block."""
        return self.offset + self.count


@dataclass(frozen=True, slots=True)
class StoredLog:
    """A log with its position, as `eth_getLogs` returns it."""

    log: Log
    block_number: int
    block_hash: bytes
    tx_hash: bytes
    tx_index: int
    log_index: int


class ChainStore:
    def __init__(self, env: lmdb.Environment) -> None:
        self.env = env
        self.db = {name: env.open_db(name.encode()) for name in TABLES}
        with env.begin(write=True) as txn:
            found = txn.get(b"schema", db=self.db["meta"])
            if found is None:
                txn.put(b"schema", _U64.pack(SCHEMA_VERSION), db=self.db["meta"])
            elif _U64.unpack(found)[0] != SCHEMA_VERSION:
                raise RuntimeError(f"data directory has schema {_U64.unpack(found)[0]}, this node needs "
                                   f"{SCHEMA_VERSION}: use a new --data-dir")

    # -- writes (inside the builder's write transaction) --

    def write_block(self, txn: lmdb.Transaction, block: Block, receipts: Sequence[Receipt],
                    encoded_txs: Sequence[bytes] | None = None, encoded_receipts: Sequence[bytes] | None = None) -> None:
        """Store a sealed block, its receipts and indexes, and make it the head (with the transactions' and
        receipts' EIP-2718 encodings when the caller has them)."""
        n = _U64.pack(block.header.number)
        db = self.db
        if encoded_txs is None:
            encoded_txs = [tx.encode() for tx in block.transactions]
        if encoded_receipts is None:
            encoded_receipts = [r.encode() for r in receipts]
        txn.put(n, block.header.encode(), db=db["headers"])
        txn.put(block.hash, n, db=db["hashes"])
        txn.put(n, rlp_encode([list(encoded_txs), list(block.senders)]), db=db["bodies"])
        txn.put(n, rlp_encode(list(encoded_receipts)), db=db["receipts"])
        for i, tx in enumerate(block.transactions):
            txn.put(tx.hash, n + _U32.pack(i), db=db["tx_index"])
        for r in receipts:
            for log in r.logs:
                txn.put(log.address + n, b"", db=db["log_address"])
                for topic in log.topics:
                    txn.put(topic + n, b"", db=db["log_topic"])
        txn.put(b"head", n, db=db["meta"])

    def write_codes(self, txn: lmdb.Transaction, codes: Mapping[bytes, bytes]) -> None:
        for code_hash, code in codes.items():
            txn.put(code_hash, code, db=self.db["codes"])

    def write_witness(self, txn: lmdb.Transaction, number: int, salt: bytes, mpt: bytes) -> None:
        txn.put(_U64.pack(number), rlp_encode([salt, mpt]), db=self.db["witnesses"])

    def witness(self, number: int) -> tuple[bytes, bytes] | None:
        """(bincode SaltWitness, bincode MptWitness) that block `number` executes over."""
        if not _storable(number):
            return None
        with self.env.begin() as txn:
            v = txn.get(_U64.pack(number), db=self.db["witnesses"])
        if v is None:
            return None
        salt, mpt = rlp.decode(bytes(v))
        return bytes(salt), bytes(mpt)

    def mini_blocks(self, number: int) -> MiniBlockSpan | None:
        """Block `number`'s mini-blocks (None for genesis and for blocks of a node that did not record them)."""
        if not _storable(number):
            return None
        with self.env.begin() as txn:
            v = txn.get(_U64.pack(number), db=self.db["mini_blocks"])
        return None if v is None else MiniBlockSpan(_U64.unpack(v[:8])[0], _U32.unpack(v[8:])[0])

    def code(self, code_hash: bytes) -> bytes | None:
        with self.env.begin() as txn:
            v = txn.get(code_hash, db=self.db["codes"])
        return None if v is None else bytes(v)

    def write_mini_blocks(self, txn: lmdb.Transaction, number: int, span: MiniBlockSpan) -> None:
        txn.put(_U64.pack(number), _U64.pack(span.offset) + _U32.pack(span.count), db=self.db["mini_blocks"])

    def journal_mini_block(self, txn: lmdb.Transaction, number: int, index: int, timestamp: int,
                           encoded_txs: Iterable[bytes]) -> None:
        """Journal a mini-block of the open block `number` (the transactions' EIP-2718 encodings)."""
        value = rlp_encode([timestamp, list(encoded_txs)])
        txn.put(_U64.pack(number) + _U32.pack(index), value, db=self.db["journal"])

    def clear_journal(self, txn: lmdb.Transaction, number: int) -> None:
        """Drop the journal of blocks up to `number` (sealed); later, still open blocks' entries stay."""
        cur = txn.cursor(db=self.db["journal"])
        end = _U64.pack(number + 1)
        if cur.first():
            while cur.key() < end and cur.delete():
                pass

    def journal_pool(self, txn: lmdb.Transaction, admitted: Iterable[tuple[bytes, bytes]],
                     removed: Iterable[bytes]) -> None:
        """Journal the mempool's changes: the transactions it took (hash, EIP-2718 encoding) and the hashes that
        left it (executed into a journaled mini-block, replaced, evicted, dropped)."""
        db = self.db["pool"]
        for tx_hash in removed:
            txn.delete(tx_hash, db=db)
        for tx_hash, raw in admitted:
            txn.put(tx_hash, raw, db=db)

    # -- reads --

    def pooled(self) -> list[tuple[bytes, bytes]]:
        """The journaled mempool, as (hash, EIP-2718 encoding): the transactions it held when the node stopped."""
        with self.env.begin(db=self.db["pool"]) as txn:
            return [(bytes(k), bytes(v)) for k, v in txn.cursor()]

    def journal(self) -> list[tuple[int, int, int, list[Transaction]]]:
        """Mini-blocks of the unsealed block, in order: (block number, index, block timestamp, transactions)."""
        out = []
        with self.env.begin(db=self.db["journal"]) as txn:
            for k, v in txn.cursor():
                timestamp, raws = rlp.decode(bytes(v))
                out.append((_U64.unpack(k[:8])[0], _U32.unpack(k[8:])[0], int.from_bytes(timestamp, "big"),
                            [Transaction.decode(r) for r in raws]))
        return out

    def head(self) -> int | None:
        with self.env.begin() as txn:
            v = txn.get(b"head", db=self.db["meta"])
        return None if v is None else _U64.unpack(v)[0]

    def number_of(self, block_hash: bytes) -> int | None:
        with self.env.begin() as txn:
            v = txn.get(block_hash, db=self.db["hashes"])
        return None if v is None else _U64.unpack(v)[0]

    def header(self, number: int) -> Header | None:
        if not _storable(number):
            return None
        with self.env.begin() as txn:
            v = txn.get(_U64.pack(number), db=self.db["headers"])
        return None if v is None else Header.decode(bytes(v))

    def block(self, number: int) -> Block | None:
        if not _storable(number):
            return None
        with self.env.begin() as txn:
            h = txn.get(_U64.pack(number), db=self.db["headers"])
            body = txn.get(_U64.pack(number), db=self.db["bodies"])
        if h is None or body is None:
            return None
        header = Header.decode(bytes(h))
        raw_txs, senders = rlp.decode(bytes(body))
        return Block(header, tuple(Transaction.decode(r) for r in raw_txs), tuple(senders), header.hash)

    def receipts(self, number: int) -> list[Receipt] | None:
        if not _storable(number):
            return None
        with self.env.begin() as txn:
            v = txn.get(_U64.pack(number), db=self.db["receipts"])
        return None if v is None else [decode_receipt(r) for r in rlp.decode(bytes(v))]

    def tx_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        with self.env.begin() as txn:
            v = txn.get(tx_hash, db=self.db["tx_index"])
        return None if v is None else (_U64.unpack(v[:8])[0], _U32.unpack(v[8:])[0])

    def _indexed_blocks(self, table: str, keys: Iterable[bytes], lo: int, hi: int) -> set[int]:
        out: set[int] = set()
        with self.env.begin(db=self.db[table]) as txn:
            cur = txn.cursor()
            for key in keys:
                if not cur.set_range(key + _U64.pack(lo)):
                    continue
                for k in cur.iternext(values=False):
                    if k[: len(key)] != key or _U64.unpack(k[len(key):])[0] > hi:
                        break
                    out.add(_U64.unpack(k[len(key):])[0])
        return out

    def logs(self, lo: int, hi: int, addresses: Sequence[bytes] = (),
             topics: Sequence[Sequence[bytes] | None] = ()) -> Iterator[StoredLog]:
        """Logs of blocks lo..hi matching the address set and per-position topic sets (None = any)."""
        candidates: set[int] | None = None
        if addresses:
            candidates = self._indexed_blocks("log_address", addresses, lo, hi)
        for wanted in topics:
            if wanted:
                found = self._indexed_blocks("log_topic", wanted, lo, hi)
                candidates = found if candidates is None else candidates & found
        numbers = sorted(candidates) if candidates is not None else range(lo, hi + 1)
        for number in numbers:
            block, receipts = self.block(number), self.receipts(number)
            if block is None or receipts is None:
                continue
            log_index = 0
            for i, (tx, r) in enumerate(zip(block.transactions, receipts)):
                for log in r.logs:
                    if log_matches(log, addresses, topics):
                        yield StoredLog(log, number, block.hash, tx.hash, i, log_index)
                    log_index += 1


def log_matches(log: Log, addresses: Sequence[bytes], topics: Sequence[Sequence[bytes] | None]) -> bool:
    """geth's filter match: an address in `addresses` (any when empty), at least as many topics as `topics`
    has positions (trailing wildcards included), and each position's topic among its wanted ones (any when
    empty or None)."""
    if addresses and log.address not in addresses:
        return False
    if len(topics) > len(log.topics):
        return False
    return all(not wanted or log.topics[i] in wanted for i, wanted in enumerate(topics))

