"""The validator's checkpoint database: LMDB in `--data-dir` (spec/stateless-validator.md §8.3, our layout).

Tables (all written by the validator's main thread only):

| table       | key                   | value                                                        |
|-------------|-----------------------|--------------------------------------------------------------|
| `meta`      | `schema`              | `1`                                                          |
|             | `anchor`              | u64 BE number ‖ hash: the trusted anchor                     |
|             | `reported`            | u64 BE number ‖ hash: last block the sequencer acknowledged  |
| `canonical` | u64 BE number         | hash ‖ post stateRoot ‖ post withdrawalsRoot ‖ header RLP     |
| `results`   | u64 BE number         | hash ‖ verdict JSON: validated, not yet on the canonical chain |
| `contracts` | code hash             | code (checked against its hash when fetched)                 |

The canonical chain runs from the anchor to the tip without gaps; it only grows at the tip (each block's
`parentHash` is the tip's hash) and only shrinks from the tip (reorg) — never below the anchor."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import lmdb

from megaeth_node.types import Header
from validator.checks import Verdict

SCHEMA = b"1"
TABLES = ("meta", "canonical", "results", "contracts")
_U64 = struct.Struct(">Q")


class CheckpointError(RuntimeError):
    """The checkpoint cannot do what was asked (wrong schema, chain extension that does not link, …)."""


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """One canonical block: its hash and header (post state root and withdrawals root inside)."""

    number: int
    hash: bytes
    header: Header

    @property
    def state_root(self) -> bytes:
        return self.header.state_root

    @property
    def withdrawals_root(self) -> bytes | None:
        return self.header.withdrawals_root


def _num(n: int) -> bytes:
    return _U64.pack(n)


def _entry_bytes(header: Header) -> bytes:
    if header.withdrawals_root is None:
        raise CheckpointError(f"block {header.number} has no withdrawalsRoot")
    return header.hash + header.state_root + header.withdrawals_root + header.encode()


def _entry(number: int, raw: bytes) -> ChainEntry:
    return ChainEntry(number, raw[:32], Header.decode(raw[96:]))


class Checkpoint:
    """The LMDB environment at `path` (created if missing)."""

    def __init__(self, path: Path, map_size: int = 64 << 30) -> None:  # address space; the file grows as used
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.env = lmdb.open(str(path), max_dbs=len(TABLES), map_size=map_size, subdir=True)
        self.db = {name: self.env.open_db(name.encode()) for name in TABLES}
        with self.env.begin(write=True) as txn:
            schema = txn.get(b"schema", db=self.db["meta"])
            if schema is None:
                txn.put(b"schema", SCHEMA, db=self.db["meta"])
            elif schema != SCHEMA:
                raise CheckpointError(f"{path}: checkpoint schema {schema!r}, this build reads {SCHEMA!r}")

    def close(self) -> None:
        self.env.close()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---- anchor and canonical chain ----

    def anchor(self) -> tuple[int, bytes] | None:
        with self.env.begin() as txn:
            raw = txn.get(b"anchor", db=self.db["meta"])
        return None if raw is None else (_U64.unpack(raw[:8])[0], bytes(raw[8:]))

    def reset_anchor(self, header: Header) -> None:
        """Trust `header`: the canonical chain becomes just this block; pending results are dropped."""
        with self.env.begin(write=True) as txn:
            for name in ("canonical", "results"):
                txn.drop(self.db[name], delete=False)
            txn.put(_num(header.number), _entry_bytes(header), db=self.db["canonical"])
            txn.put(b"anchor", _num(header.number) + header.hash, db=self.db["meta"])
            txn.delete(b"reported", db=self.db["meta"])

    def tip(self) -> ChainEntry | None:
        with self.env.begin() as txn, txn.cursor(self.db["canonical"]) as cur:
            if not cur.last():
                return None
            return _entry(_U64.unpack(cur.key())[0], cur.value())

    def get(self, number: int) -> ChainEntry | None:
        with self.env.begin() as txn:
            raw = txn.get(_num(number), db=self.db["canonical"])
        return None if raw is None else _entry(number, raw)

    def append(self, header: Header) -> None:
        """Extend the canonical chain by `header` (parent = tip), dropping its pending result."""
        with self.env.begin(write=True) as txn, txn.cursor(self.db["canonical"]) as cur:
            if not cur.last():
                raise CheckpointError("no anchor: the canonical chain is empty")
            tip_no, tip_hash = _U64.unpack(cur.key())[0], bytes(cur.value()[:32])
            if header.number != tip_no + 1 or header.parent_hash != tip_hash:
                raise CheckpointError(f"block {header.number} does not extend the tip {tip_no} 0x{tip_hash.hex()}")
            txn.put(_num(header.number), _entry_bytes(header), db=self.db["canonical"])
            txn.delete(_num(header.number), db=self.db["results"])

    def rollback_to(self, number: int) -> int:
        """Drop canonical blocks above `number` (a reorg); never the anchor. Returns how many were dropped."""
        anchor = self.anchor()
        if anchor is not None and number < anchor[0]:
            raise CheckpointError(f"cannot roll back below the anchor {anchor[0]} (to {number})")
        dropped = 0
        with self.env.begin(write=True) as txn, txn.cursor(self.db["canonical"]) as cur:
            if cur.set_range(_num(number + 1)):
                while cur.key():
                    cur.delete()
                    dropped += 1
            with txn.cursor(self.db["results"]) as rc:
                if rc.set_range(_num(number + 1)):
                    while rc.key():
                        rc.delete()
            reported = txn.get(b"reported", db=self.db["meta"])
            if reported is not None and _U64.unpack(reported[:8])[0] > number:
                txn.delete(b"reported", db=self.db["meta"])
        return dropped

    def prune(self, keep: int) -> int:
        """Delete canonical entries more than `keep` blocks below the tip (the anchor stays)."""
        tip = self.tip()
        anchor = self.anchor()
        if tip is None or tip.number <= keep:
            return 0
        below = tip.number - keep
        pruned = 0
        with self.env.begin(write=True) as txn, txn.cursor(self.db["canonical"]) as cur:
            if cur.first():
                while cur.key() and _U64.unpack(cur.key())[0] < below:
                    if anchor is not None and _U64.unpack(cur.key())[0] == anchor[0]:
                        cur.next()
                        continue
                    cur.delete()
                    pruned += 1
        return pruned

    # ---- results validated ahead of the tip ----

    def put_result(self, verdict: Verdict) -> None:
        raw = verdict.hash + json.dumps(verdict.to_json()).encode()
        with self.env.begin(write=True) as txn:
            txn.put(_num(verdict.number), raw, db=self.db["results"])

    def result(self, number: int, block_hash: bytes) -> Verdict | None:
        """The stored verdict for exactly this block, if any."""
        with self.env.begin() as txn:
            raw = txn.get(_num(number), db=self.db["results"])
        if raw is None or bytes(raw[:32]) != block_hash:
            return None
        d = json.loads(bytes(raw[32:]))
        return Verdict(number, block_hash, bool(d["valid"]), d.get("field", ""), d.get("expected", ""),
                       d.get("got", ""), d.get("detail", ""), float(d.get("ms", 0.0)))

    # ---- upstream reporting ----

    def reported(self) -> tuple[int, bytes] | None:
        with self.env.begin() as txn:
            raw = txn.get(b"reported", db=self.db["meta"])
        return None if raw is None else (_U64.unpack(raw[:8])[0], bytes(raw[8:]))

    def set_reported(self, number: int, block_hash: bytes) -> None:
        with self.env.begin(write=True) as txn:
            txn.put(b"reported", _num(number) + block_hash, db=self.db["meta"])

    # ---- contract code cache ----

    def codes(self, hashes: Iterable[bytes]) -> dict[bytes, bytes]:
        out = {}
        with self.env.begin() as txn:
            for h in hashes:
                code = txn.get(h, db=self.db["contracts"])
                if code is not None:
                    out[h] = bytes(code)
        return out

    def put_codes(self, codes: dict[bytes, bytes]) -> None:
        with self.env.begin(write=True) as txn:
            for h, code in codes.items():
                txn.put(h, code, db=self.db["contracts"])
