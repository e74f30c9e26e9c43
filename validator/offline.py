"""Offline validation of a fixtures directory (spec/stateless-validator.md §1): the lowest block is the
trusted anchor; every later block is validated against its predecessor, in a pool of worker processes,
with results reported in block order."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TextIO

from gas.spec import TESTNET, ChainConfig
from megaeth_node.fixtures import FixtureBlock, fixture_blocks, load_contracts
from validator.checks import Verdict
from validator.core import validate_block

_CODES: dict[bytes, bytes] = {}


def _init_worker(contracts: Path) -> None:
    _CODES.update(load_contracts(contracts))


def _validate(job: tuple[FixtureBlock, FixtureBlock, ChainConfig]) -> Verdict:
    parent_fb, fb, chain = job
    block = fb.block()
    if fb.salt_path is None or fb.mpt_path is None:
        return Verdict(fb.number, fb.hash, False, "witness", detail="no .salt/.mpt witness for this block")
    return validate_block(block, parent_fb.block().header, fb.salt_path.read_bytes(), fb.mpt_path.read_bytes(),
                          _CODES, chain)


def validate_fixtures(root: Path, workers: int, chain: ChainConfig = TESTNET) -> Iterator[Verdict]:
    """Verdicts for every block after the anchor, in order; `workers` processes (1 = in this process)."""
    blocks = fixture_blocks(root)
    jobs = [(parent, fb, chain) for parent, fb in zip(blocks, blocks[1:])]
    contracts = root / "contracts.txt"
    if workers <= 1:
        _init_worker(contracts)
        yield from map(_validate, jobs)
        return
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(contracts,)) as pool:
        yield from pool.map(_validate, jobs)


def run_offline(root: Path, workers: int, as_json: bool, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """CLI body of `megaeth-node validate --fixtures DIR`: one line (or JSON object) per block, a progress
    line on stderr, exit status 0 only if every block is valid."""
    out, err = out or sys.stdout, err or sys.stderr
    total = len(fixture_blocks(root)) - 1
    start, done, invalid = time.monotonic(), 0, 0
    for verdict in validate_fixtures(root, workers):
        done += 1
        invalid += not verdict.valid
        if as_json:
            print(json.dumps(verdict.to_json()), file=out, flush=True)
        elif verdict.valid:
            print(f"block {verdict.number} valid ({verdict.ms:.0f} ms)", file=out, flush=True)
        else:
            print(f"block {verdict.number} INVALID: {verdict.field}: expected {verdict.expected or '-'}, "
                  f"got {verdict.got or '-'} {verdict.detail}", file=out, flush=True)
        rate = done / max(time.monotonic() - start, 1e-9)
        print(f"\r{done}/{total} blocks, {rate:.1f} blocks/s, ETA {(total - done) / rate:.0f} s",
              end="" if done < total else "\n", file=err, flush=True)
    print(f"{done - invalid}/{done} blocks valid", file=err)
    return 0 if invalid == 0 and done == total else 1
