"""Offline validation of a fixtures directory (spec/stateless-validator.md §1): the lowest block is the
trusted anchor; every later block is validated against its predecessor, in a pool of persistent, warm
worker processes (`validator.pool`), with results reported in block order. Where the workers leave a core each
to spare, each has a checker process (`validator.checker`) for the checks before the replay."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from gas.spec import TESTNET, ChainConfig
from megaeth_node.fixtures import FixtureBlock, fixture_blocks, load_contracts
from megaeth_node.types import Header
from validator.checker import process_checker, spare_cores
from validator.checks import Verdict
from validator.core import validate_block
from validator.pool import WorkerPool
from validator.progress import Progress

_CODES: dict[bytes, bytes] = {}


def _load_codes(contracts: Path) -> None:
    _CODES.update(load_contracts(contracts))


def _parent_header(parent: FixtureBlock) -> Header:
    """The trusted parent's header alone: its transactions are not needed (parsing them is ~1 ms a block)."""
    return Header.from_rpc(json.loads(parent.block_path.read_bytes()))


def _validate(job: tuple[FixtureBlock, FixtureBlock, ChainConfig]) -> Verdict:
    parent_fb, fb, chain = job
    block = fb.block()
    if fb.salt_path is None or fb.mpt_path is None:
        return Verdict(fb.number, fb.hash, False, "witness", detail="no .salt/.mpt witness for this block")
    salt, mpt = fb.salt_path.read_bytes(), fb.mpt_path.read_bytes()
    return validate_block(block, _parent_header(parent_fb), salt, mpt, _CODES, chain, checker=process_checker())


def validate_fixtures(root: Path, workers: int, chain: ChainConfig = TESTNET,
                      pool: WorkerPool | None = None) -> Iterator[Verdict]:
    """Verdicts for every block after the anchor, in order; `workers` processes (1 = in this process).
    A caller-owned `pool` (already holding the contracts) is reused instead of starting one."""
    blocks = fixture_blocks(root)
    jobs = [(parent, fb, chain) for parent, fb in zip(blocks, blocks[1:])]
    if pool is not None:
        yield from pool.ordered(_validate, jobs)
        return
    with WorkerPool(workers, _load_codes, (root / "contracts.txt",), checkers=spare_cores(workers)) as own:
        yield from own.ordered(_validate, jobs)


def run_offline(root: Path, workers: int, as_json: bool, out: TextIO | None = None, err: TextIO | None = None,
                chain: ChainConfig = TESTNET) -> int:
    """CLI body of `megaeth-node validate --fixtures DIR`: one line (or JSON object) per block, a progress
    bar on stderr, exit status 0 only if every block is valid."""
    out, err = out or sys.stdout, err or sys.stderr
    total = len(fixture_blocks(root)) - 1
    progress = Progress(total, err)
    done, invalid = 0, 0
    for verdict in validate_fixtures(root, workers, chain):
        done += 1
        invalid += not verdict.valid
        progress.finish()
        if as_json:
            print(json.dumps(verdict.to_json()), file=out, flush=True)
        elif verdict.valid:
            print(f"block {verdict.number} valid ({verdict.ms:.0f} ms)", file=out, flush=True)
        else:
            print(f"block {verdict.number} INVALID: {verdict.field}: expected {verdict.expected or '-'}, "
                  f"got {verdict.got or '-'} {verdict.detail}", file=out, flush=True)
        progress.advance()
    progress.finish()
    print(f"{done - invalid}/{done} blocks valid", file=err)
    return 0 if invalid == 0 and done == total else 1
