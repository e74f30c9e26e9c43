"""Online validation: follow a sequencer from a trusted anchor (spec/stateless-validator.md §2.1, §8).

One main thread does all I/O and all chain bookkeeping; a `WorkerPool` validates blocks in parallel (each
worker with a checker process where the cores allow: `validator.checker`).

* **Anchor.** `--start-block HASH|NUMBER` is fetched (retrying) and trusted: the checkpoint's canonical
  chain becomes that block. Without it the checkpoint must hold a chain; the validator resumes at its tip.
  Giving the checkpoint's own anchor again resumes too.
* **Fetch** (up to `lookahead` blocks ahead of the canonical tip, never beyond the sequencer's tip): the full
  block by number, its witness by (number, hash) and the code of every account in the witness that the
  code cache (memory, then LMDB) lacks, each checked against its hash. A header that does not hash to its
  declared hash is a bad reply. A block whose `parentHash` is not the previous block's hash means the
  sequencer reorganised, unless the sequencer still serves that previous block (then it is a bad reply).
* **Validate** in the pool; results are taken strictly in block order. A valid block extends the canonical
  chain in the checkpoint (one LMDB write); its witness was proven against the parent's stateRoot and
  withdrawalsRoot by `validate_witnesses` (the §2.1 `grow_local_chain` links). An invalid block that is still
  the sequencer's block at that height stops the validator (exit 1); if the sequencer replaced it, it is a reorg.
  One whose transactions are not its (hash-checked) header's may have been served wrong (§2.2 (3)-(4), fetch
  checks upstream): it is a bad reply, fetched again `INTEGRITY_REFETCHES` times before it counts as invalid.
* **Reorg**: drop everything fetched, walk back from the tip while the sequencer's hash at that height
  differs from ours, roll the checkpoint back to the common block and continue from there. Below the anchor
  nothing can be re-validated: "catastrophic reorg", exit 3. When idle, the tip's hash is re-checked each poll.
  Only a different hash is a reorg: a sequencer with no block at that height is behind us (restarting, a
  lagging replica) and is asked again later.
* **Unreachable sequencer**: every RPC failure or bad reply sleeps with exponential back-off (0.5 s
  doubling to 30 s; logged as ERROR once at 30 s) and tries again; nothing is lost, the work resumes where it
  stopped. Any other error stops with exit 3, never 1 (which means an invalid block).
* **Report**: after the tip moves, `mega_setValidatedBlocks([anchor, tip])`; refusal with the sequencer's
  last validated block below our anchor is a validation gap (exit 3, as upstream). Failed reports back off on
  their own; a sequencer without the method is not asked again."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import lmdb
from eth_hash.auto import keccak

from gas.spec import TESTNET, ChainConfig
from megaeth_node.types import Block, ChainDataError, Header
from salt.witness import MptWitness, SaltWitness
from validator.checkpoint import Checkpoint, CheckpointError, ChainEntry
from validator.checks import Verdict
from validator.core import validate_witnesses
from validator.logs import event
from validator.metrics import Metrics
from validator.checker import process_checker, spare_cores
from validator.pool import WorkerPool
from validator.progress import Progress
from validator.rpc_client import Backoff, RpcCallError, RpcClient, RpcDataError, RpcError, RpcUnavailable, hex_bytes

KECCAK_EMPTY = keccak(b"")

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_FATAL = 0, 1, 2, 3


class Fatal(Exception):
    """The validator cannot continue; `status` is the exit status."""

    def __init__(self, message: str, status: int = EXIT_FATAL) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class OnlineSettings:
    rpc_url: str
    data_dir: Path
    workers: int = 1
    start_block: str | None = None  # block hash (0x…) or number; None: resume from the checkpoint
    chain: ChainConfig = TESTNET
    report: bool = True
    until_block: int | None = None  # stop (status 0) once the canonical tip reaches this number
    lookahead: int = 0  # blocks in flight; 0: 2 × workers + 2
    poll_s: float = 1.0
    backoff_first_s: float = 0.5
    backoff_cap_s: float = 30.0
    rpc_timeout_s: float = 20.0
    keep_blocks: int = 1000  # canonical history kept for reorgs
    prune_every: int = 100  # blocks between prunes


@dataclass
class _Pending:
    number: int
    hash: bytes
    header: Header
    txs: int
    future: Future[tuple[Verdict, dict[str, float]]] | None = None
    verdict: Verdict | None = None  # known: finished in a worker, or a stored result
    timings: dict[str, float] = field(default_factory=dict)
    fetched_at: float = field(default_factory=time.monotonic)


def _validate_job(job: tuple[Block, Header, SaltWitness, MptWitness, dict[bytes, bytes], ChainConfig]
                  ) -> tuple[Verdict, dict[str, float]]:
    """Worker side: validate one fetched block."""
    block, parent, salt, mpt, codes, chain = job
    timings: dict[str, float] = {}
    return validate_witnesses(block, parent, salt, mpt, codes, chain, timings, process_checker()), timings


def code_hashes(salt: SaltWitness) -> set[bytes]:
    """Code hashes named by contract accounts in the witness (72-byte account values), without KECCAK_EMPTY."""
    out = set()
    for v in salt.kvs.values():
        if v is not None and len(v.key) == 20 and len(v.value) == 72:
            h = bytes(v.value[40:72])
            if h != KECCAK_EMPTY:
                out.add(h)
    return out


CODE_CACHE_BYTES = 256 << 20  # contract code kept in memory; the checkpoint keeps all of it
INTEGRITY_REFETCHES = 3  # fetches again of a block whose transactions are not its header's, before it is invalid


class CodeCache:
    """Contract code by hash, the least recently used dropped beyond `max_bytes` (MegaETH allows 512 KiB
    contracts: a long-running validator must not hold every contract it ever met)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._codes: OrderedDict[bytes, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._codes)

    def get_many(self, hashes: Iterable[bytes]) -> dict[bytes, bytes]:
        """The cached ones of `hashes` (each becomes the most recently used)."""
        found = {}
        for h in hashes:
            code = self._codes.get(h)
            if code is not None:
                self._codes.move_to_end(h)
                found[h] = code
        return found

    def put_many(self, codes: dict[bytes, bytes]) -> None:
        """Add `codes`, then drop the least recently used beyond the budget."""
        for h, code in codes.items():
            if h not in self._codes:
                self._codes[h] = code
                self.size += len(code)
        while self.size > self.max_bytes and self._codes:
            self.size -= len(self._codes.popitem(last=False)[1])


class OnlineValidator:
    """`run()` follows the sequencer until stopped (`stop` event, `until_block`) or a fatal condition."""

    def __init__(self, settings: OnlineSettings, pool: WorkerPool | None = None, metrics: Metrics | None = None,
                 stop: threading.Event | None = None, progress: TextIO | None = None) -> None:
        self.s = settings
        self.rpc = RpcClient(settings.rpc_url, timeout=settings.rpc_timeout_s)
        self.metrics = metrics or Metrics()
        self.stop = stop or threading.Event()
        self._pool = pool
        self._own_pool = pool is None
        self.progress_out = progress
        self.lookahead = settings.lookahead or 2 * max(1, settings.workers) + 2
        self.backoff = Backoff(settings.backoff_first_s, settings.backoff_cap_s)
        self.reporting = settings.report  # off too once the sequencer turns out not to have the method
        self.report_backoff = Backoff(settings.backoff_first_s, settings.backoff_cap_s)
        self._report_after = 0.0  # monotonic time before which a failed report is not tried again
        self.codes = CodeCache(CODE_CACHE_BYTES)
        self.pending: deque[_Pending] = deque()
        self.remote_tip: int | None = None
        self.validated_count = 0  # blocks validated in workers by this run (not re-used results)
        self.cp: Checkpoint
        self._progress: Progress | None = None
        self._catchup_base = 0
        self._since_prune = 0
        self._refetching: int | None = None  # a block served with transactions not its header's, until it passes
        self._refetches: dict[tuple[int, bytes], int] = {}  # how often each such block was fetched again

    # ---- plumbing ----

    def _sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _unavailable(self, what: str, e: RpcError) -> None:
        """Count and log an RPC failure, then wait the next back-off delay: a WARNING, an ERROR once the delay
        has grown to its cap (the failure has lasted through every shorter retry: someone should look)."""
        delay = self.backoff.next()
        kind = "unavailable" if isinstance(e, RpcUnavailable) else "bad reply"
        self.metrics.rpc_errors.labels(what, kind).inc()
        level = logging.ERROR if delay >= self.backoff.cap else logging.WARNING
        event(level, "rpc_retry", call=what, error=str(e), retry_in_s=delay)
        self._sleep(delay)

    # ---- anchor ----

    def _fetch_anchor_header(self, spec: str) -> Header:
        number, block_hash = _anchor_ref(spec)
        while not self.stop.is_set():
            try:
                if number is not None:
                    raw = self.rpc.block_by_number(number, full=False)
                else:
                    raw = self.rpc.block_by_hash(block_hash, full=False)  # type: ignore[arg-type]
                if raw is None:
                    raise RpcDataError(f"the sequencer has no block {spec}")
                header, declared = _header_of(raw, f"anchor block {spec}")
                if header.hash != declared:
                    raise RpcDataError(f"anchor block {spec}: header does not hash to its declared hash")
                if header.withdrawals_root is None:
                    raise Fatal(f"anchor block {header.number} has no withdrawalsRoot", EXIT_USAGE)
                self.backoff.reset()
                return header
            except RpcError as e:
                self._unavailable("anchor", e)
        raise Fatal("stopped before the anchor block could be fetched", EXIT_OK)

    def _init_anchor(self) -> ChainEntry:
        existing = self.cp.anchor()
        if self.s.start_block is not None:
            header = self._fetch_anchor_header(self.s.start_block)
            if existing == (header.number, header.hash) and self.cp.tip() is not None:
                event(logging.INFO, "resume", anchor=header.number, reason="same anchor as the checkpoint")
            else:
                self.cp.reset_anchor(header)
                event(logging.INFO, "anchor_reset", number=header.number, hash=header.hash,
                      state_root=header.state_root)
        elif existing is None:
            raise Fatal(f"no checkpoint in {self.s.data_dir}: give --start-block HASH|NUMBER the first time",
                        EXIT_USAGE)
        tip = self.cp.tip()
        assert tip is not None
        event(logging.INFO, "start", anchor=self.cp.anchor()[0], tip=tip.number, tip_hash=tip.hash,  # type: ignore[index]
              workers=self.s.workers, lookahead=self.lookahead, rpc=self.s.rpc_url)
        return tip

    # ---- fetch ----

    def _last_known(self) -> tuple[int, bytes, Header]:
        if self.pending:
            p = self.pending[-1]
            return p.number, p.hash, p.header
        tip = self.cp.tip()
        assert tip is not None
        return tip.number, tip.hash, tip.header

    def _codes_for(self, salt: SaltWitness) -> dict[bytes, bytes]:
        wanted = code_hashes(salt)
        found = self.codes.get_many(wanted)
        missing = wanted - found.keys()
        if missing:
            stored = self.cp.codes(missing)
            fetched = {}
            for h in sorted(missing - stored.keys()):
                fetched[h] = self.rpc.code_by_hash(h)
            if fetched:
                self.cp.put_codes(fetched)
            found.update(stored)
            found.update(fetched)
            self.codes.put_many({**stored, **fetched})
            self.metrics.code_cache.labels("miss").inc(len(fetched))
        self.metrics.code_cache.labels("hit").inc(len(wanted) - len(missing))
        return found

    def _fetch_more(self) -> int:
        """Fetch and submit blocks while the window has room; returns how many were added. Raises
        `_Reorg` when a fetched block does not link to the last known one."""
        added = 0
        if len(self.pending) >= self.lookahead:
            return 0
        self.remote_tip = self.rpc.block_number()
        while len(self.pending) < self.lookahead and not self.stop.is_set():
            last_no, last_hash, last_header = self._last_known()
            n = last_no + 1
            if n > self.remote_tip or (self.s.until_block is not None and n > self.s.until_block):
                break
            t0 = time.perf_counter()
            raw = self.rpc.block_by_number(n, full=True)
            if raw is None:
                break
            block = _block_of(raw, f"block {n}")
            header, block_hash = block.header, block.hash
            if header.hash != block_hash:  # §2.2 (2): a reply, not a block, is wrong; a stored result is by hash
                raise RpcDataError(f"block {n}: header does not hash to its declared hash 0x{block_hash.hex()}")
            if header.parent_hash != last_hash:
                if self._their_hash(last_no) == last_hash:  # no reorg: replicas out of step, or a reorg under way
                    raise RpcDataError(f"block {n} does not link to the sequencer's own block {last_no} "
                                       f"0x{last_hash.hex()}")
                raise _Reorg(n, f"block {n} parentHash 0x{header.parent_hash.hex()} != 0x{last_hash.hex()}")
            pending = _Pending(n, block_hash, header, len(raw.get("transactions", ())))
            stored = self.cp.result(n, block_hash)
            if stored is not None and stored.valid:
                pending.verdict = stored
            else:
                salt, mpt = self.rpc.block_witness(n, block_hash)
                codes = self._codes_for(salt)
                self.metrics.fetch_time.observe(time.perf_counter() - t0)
                job = (block, last_header, salt, mpt, codes, self.s.chain)
                pending.future = self.pool.submit(_validate_job, job)
            self.pending.append(pending)
            event(logging.DEBUG, "fetched", number=n, hash=block_hash, txs=pending.txs,
                  reused=pending.verdict is not None)
            added += 1
        return added

    # ---- results in order ----

    def _collect(self) -> None:
        """Take finished worker results; valid ones that wait behind an unfinished block are stored as
        pending results, so a restart does not validate them again."""
        for i, p in enumerate(self.pending):
            if p.verdict is not None or p.future is None or not p.future.done():
                continue
            try:
                verdict, p.timings = p.future.result()
            except Exception as e:  # a crashed worker process, or a bug: not the block's fault
                raise Fatal(f"validation worker failed on block {p.number}: {e!r}") from e
            p.verdict = verdict
            self.validated_count += 1
            self.metrics.observe_block(verdict.ms / 1000, p.timings, p.txs, p.header.gas_used)
            if i > 0 and verdict.valid:
                self.cp.put_result(verdict)

    def _advance(self) -> int:
        """Move finished results at the head of the window onto the canonical chain; returns how many."""
        self._collect()
        moved = 0
        while self.pending and self.pending[0].verdict is not None:
            p = self.pending[0]
            verdict = p.verdict
            assert verdict is not None
            if not verdict.valid:
                self._on_invalid(p, verdict)  # raises
            try:
                self.cp.append(p.header)
            except CheckpointError as e:  # cannot happen: fetch links every block to its predecessor
                raise Fatal(f"canonical chain extension failed: {e}") from e
            self.pending.popleft()
            if self._refetching is not None and p.number >= self._refetching:
                self._refetching = None
                self._refetches.clear()
            moved += 1
            event(logging.INFO, "validated", number=p.number, hash=p.hash, ms=round(verdict.ms, 1), txs=p.txs,
                  gas=p.header.gas_used, lag=(self.remote_tip or p.number) - p.number)
            self._since_prune += 1
        if moved:
            tip = self.cp.tip()
            assert tip is not None
            self.metrics.heights(tip.number, self.remote_tip)
            if self._since_prune >= self.s.prune_every:
                self._since_prune = 0
                self.cp.prune(self.s.keep_blocks)
        return moved

    def _on_invalid(self, p: _Pending, verdict: Verdict) -> None:
        """An invalid block stops the validator only once the sequencer confirms it still has that block at
        that height (asked again, with back-off, until it answers); a replaced block is a reorg. A block whose
        transactions are not its header's may have been served wrong: fetched again, INTEGRITY_REFETCHES
        times, before the sequencer is taken at its word."""
        refetches = self._refetches.get((p.number, p.hash), 0)
        if verdict.field == "block integrity" and refetches < INTEGRITY_REFETCHES:
            # §2.2 (3)-(4), fetch-time checks upstream: the header hashed right, so the transactions served with
            # it may not be its own (a bad reply). Fetched again, the blocks fetched after it too.
            self._refetches[(p.number, p.hash)] = refetches + 1
            self.pending.clear()
            self._refetching = p.number
            raise RpcDataError(f"block {p.number}: the transactions served are not its header's: {verdict.detail}")
        current = self._canonical_hash(p.number, "invalid-recheck")
        if current != p.hash:
            raise _Reorg(p.number, f"invalid block {p.number} was replaced by the sequencer")
        self.cp.put_result(verdict)
        self.metrics.invalid.inc()  # found invalid: neither fetched again nor replaced by the sequencer
        event(logging.ERROR, "invalid_block", number=p.number, hash=p.hash, field=verdict.field,
              expected=verdict.expected, got=verdict.got, detail=verdict.detail)
        raise Fatal(f"block {p.number} 0x{p.hash.hex()} is INVALID: {verdict.field}: expected "
                    f"{verdict.expected or '-'}, got {verdict.got or '-'} {verdict.detail}", EXIT_INVALID)

    def _their_hash(self, number: int) -> bytes:
        """The sequencer's block hash at `number`. No block there is `RpcDataError` (ask again later): the
        sequencer is behind us (restarting, a lagging replica), which is not a different block."""
        raw = self.rpc.block_by_number(number, full=False)  # checked: a dict with a 32-byte hash
        if raw is None:
            raise RpcDataError(f"the sequencer has no block {number} (behind our chain)")
        return hex_bytes(raw["hash"], f"block {number} hash", 32)

    def _canonical_hash(self, number: int, what: str) -> bytes:
        """`_their_hash`, asked with back-off until the sequencer answers with one."""
        while not self.stop.is_set():
            try:
                return self._their_hash(number)
            except RpcError as e:
                self._unavailable(what, e)
        raise Fatal(f"stopped while asking the sequencer for block {number}", EXIT_OK)

    # ---- reorgs ----

    def _handle_reorg(self, r: _Reorg) -> None:
        for p in self.pending:
            if p.future is not None:
                p.future.cancel()
        self.pending.clear()
        tip = self.cp.tip()
        anchor = self.cp.anchor()
        assert tip is not None and anchor is not None
        n = tip.number
        while True:
            ours = self.cp.get(n)
            if ours is None:
                raise Fatal(f"reorg deeper than the kept history (no canonical block {n})")
            if self._their_hash(n) == ours.hash:
                break
            if n <= anchor[0]:
                raise Fatal(f"catastrophic reorg: the sequencer replaced the anchor block {anchor[0]}")
            n -= 1
        depth = self.cp.rollback_to(n)
        self.metrics.reorgs.inc()
        self.metrics.reorg_depth.set(depth)
        self.metrics.heights(n, self.remote_tip)
        event(logging.WARNING, "reorg", detected_at=r.number, reason=str(r), common=n, rolled_back=depth)

    def _check_tip_hash(self) -> None:
        """When idle: is our newest block still the sequencer's block at that height?"""
        number, block_hash, _ = self._last_known()
        if self._their_hash(number) != block_hash:
            raise _Reorg(number, f"the sequencer's block {number} is no longer 0x{block_hash.hex()}")

    # ---- reporting ----

    def _report(self, last: bool = False) -> None:
        """`mega_setValidatedBlocks` for the new tip; a failed report is tried again with its own back-off (a
        sequencer slow to answer it must not hold validation back), and a sequencer without the method is told
        nothing more (validation goes on). The `last` report, before stopping, is tried whatever the back-off."""
        if not self.reporting or (time.monotonic() < self._report_after and not last):
            return
        tip = self.cp.tip()
        anchor = self.cp.anchor()
        assert tip is not None and anchor is not None
        if tip.number == anchor[0] or self.cp.reported() == (tip.number, tip.hash):
            return
        try:
            r = self.rpc.set_validated_blocks(anchor, (tip.number, tip.hash))
        except RpcError as e:
            self.metrics.reports.labels("error").inc()
            if isinstance(e, RpcCallError) and e.code == -32601:
                self.reporting = False
                event(logging.ERROR, "report_unsupported", error=str(e), note="validating without reporting")
                return
            delay = self.report_backoff.next()
            self._report_after = time.monotonic() + delay
            event(logging.WARNING, "report_failed", tip=tip.number, error=str(e), retry_in_s=delay)
            return
        self.report_backoff.reset()
        if r.accepted:
            self.cp.set_reported(tip.number, tip.hash)
            self.metrics.reports.labels("accepted").inc()
            event(logging.DEBUG, "reported", first=anchor[0], last=tip.number)
            return
        self.metrics.reports.labels("refused").inc()
        if r.last_number is not None and r.last_number < anchor[0]:
            raise Fatal(f"validation gap: the sequencer's last validated block {r.last_number} is below our "
                        f"anchor {anchor[0]}")
        self.cp.set_reported(tip.number, tip.hash)  # do not re-send the same refused range every poll
        event(logging.WARNING, "report_refused", first=anchor[0], last=tip.number, upstream_last=r.last_number)

    # ---- progress (catch-up) ----

    def _show_progress(self) -> None:
        if self.progress_out is None or self.remote_tip is None:
            return
        tip = self.cp.tip()
        assert tip is not None
        lag = self.remote_tip - tip.number
        if self._progress is None:
            if lag > 1:
                self._progress = Progress(lag, self.progress_out, label="catch-up")
                self._catchup_base = tip.number
            return
        done = tip.number - self._catchup_base
        self._progress.advance(done - self._progress.done, total=self.remote_tip - self._catchup_base)
        if lag <= 0:
            self._progress.finish()
            self._progress = None

    # ---- main loop ----

    @property
    def pool(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool(self.s.workers, checkers=spare_cores(self.s.workers))
        return self._pool

    def run(self) -> int:
        try:
            self.cp = Checkpoint(self.s.data_dir)
        except (OSError, lmdb.Error, CheckpointError) as e:  # not an invalid block: status 3, one line
            event(logging.ERROR, "stopped", status=EXIT_FATAL, reason=f"cannot open the checkpoint: {e}")
            self._release()
            return EXIT_FATAL
        try:
            self.pool  # noqa: B018 - start (fork) the workers before anything else runs
            tip = self._init_anchor()
            self.metrics.heights(tip.number, None)
            return self._loop()
        except Fatal as e:
            if e.status != EXIT_OK:
                event(logging.ERROR, "stopped", status=e.status, reason=str(e))
            return e.status
        except Exception as e:  # a bug or an environment failure (disk full, ...): not an invalid block
            logging.getLogger(__name__).exception("validator failed")
            event(logging.ERROR, "stopped", status=EXIT_FATAL, reason=f"internal error: {e!r}")
            return EXIT_FATAL
        finally:
            for p in self.pending:
                if p.future is not None:
                    p.future.cancel()
            self._release()
            if self._progress is not None:
                self._progress.finish()
            self.cp.close()

    def _release(self) -> None:
        """Close the RPC client, and the worker pool if this validator made it."""
        self.rpc.close()
        if self._own_pool and self._pool is not None:
            self._pool.close()

    def _done(self) -> bool:
        tip = self.cp.tip()
        return self.s.until_block is not None and tip is not None and tip.number >= self.s.until_block

    def _loop(self) -> int:
        while not self.stop.is_set():
            try:
                moved = self._advance()
                if self._done():
                    self._report(last=True)
                    event(logging.INFO, "target_reached", tip=self.s.until_block)
                    return EXIT_OK
                self._report()
                added = self._fetch_more()
                if not moved and not added:
                    in_flight = [p.future for p in self.pending if p.future is not None and not p.future.done()]
                    if in_flight:
                        wait_futures([in_flight[0]], timeout=self.s.poll_s)
                    elif not self.pending:
                        self._check_tip_hash()
                        self._sleep(self.s.poll_s)
                if self._refetching is None:  # its fetch succeeds: the back-off keeps growing until it validates
                    self.backoff.reset()
                self.metrics.heights(self.cp.tip().number, self.remote_tip)  # type: ignore[union-attr]
                self._show_progress()
            except _Reorg as r:
                try:
                    self._handle_reorg(r)
                except RpcError as e:
                    self._unavailable("reorg", e)  # the next fetch finds the mismatch again
            except (RpcUnavailable, RpcCallError, RpcDataError) as e:
                self._unavailable("fetch", e)
        return EXIT_OK


def _anchor_ref(spec: str) -> tuple[int | None, bytes | None]:
    """`--start-block` as (number, None) or (None, 32-byte hash); `Fatal(EXIT_USAGE)` when it is neither."""
    if spec.isdigit():
        return int(spec), None
    try:
        h = bytes.fromhex(spec[2:] if spec.startswith("0x") else spec)
    except ValueError:
        h = b""
    if len(h) != 32:
        raise Fatal(f"--start-block {spec!r}: not a block number or 32-byte hash", EXIT_USAGE)
    return None, h


_MALFORMED = (ChainDataError, KeyError, ValueError, TypeError, IndexError, AttributeError)


def _header_of(raw: dict[str, Any], what: str) -> tuple[Header, bytes]:
    """The header of an `eth_getBlockBy*` reply and its declared hash; `RpcDataError` if it does not parse."""
    try:
        return Header.from_rpc(raw), hex_bytes(raw["hash"], f"{what} hash", 32)
    except _MALFORMED as e:
        raise RpcDataError(f"{what}: malformed block: {e!r}") from e


def _block_of(raw: dict[str, Any], what: str) -> Block:
    """A full `eth_getBlockBy*` reply as a `Block` (declared hashes and senders kept for the integrity check);
    `RpcDataError` when it does not parse: a bad reply, asked again, not an invalid block."""
    try:
        return Block.from_rpc(raw)
    except _MALFORMED as e:
        raise RpcDataError(f"{what}: malformed block: {e!r}") from e


class _Reorg(Exception):
    def __init__(self, number: int, reason: str) -> None:
        super().__init__(reason)
        self.number = number
