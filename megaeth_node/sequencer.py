"""The sequencer: one writer that executes mempool transactions into mini-blocks and seals EVM blocks.

design.md "Data flow and state": all EVM and state work runs on one builder thread; the event loop only
schedules it. A mini-block's transactions are journaled to LMDB (committed to the page cache: durable
against a process crash; each seal is also fsynced) before anyone is told about their receipts, so a
crash loses nothing acknowledged: at start-up the journal is re-executed into the open block. The mempool
is journaled too: a transaction is in LMDB before its hash is acknowledged, until a journaled mini-block
holds it (or it leaves the pool), and at start-up the rest is admitted again. Sealing is pipelined so that
mini-blocks never wait for it: the builder *closes* a block (its state diff applied to SALT: the root, a
few ms) and at once opens the next one over the closed block's post-state; a sealer thread computes the
rest (witness of the pre-state from its own LMDB snapshot, transactions and receipts roots, the header
hash); the builder then *commits* block, receipts, indexes, code, witness and SALT state in one LMDB write
transaction. One block seals at a time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from gas.basefee import holocene_params, next_base_fee
from gas.spec import ChainConfig, Spec, spec_at
from gas.system import HISTORY_STORAGE_ADDRESS
from gas.tx import FloorGasTooLow, InitcodeTooLarge, InvalidTxGas, TxGasInputs, validate_tx_gas
from megaeth_node.errors import (
    AlreadyKnown, FeeTooLow, HistoricalState, InsufficientFunds, IntrinsicGasTooLow, InvalidChainId,
    InvalidTransaction, NotExecutable, UnsupportedTxType,
)
from megaeth_node.ecrecover import recover_senders
from megaeth_node.executor.block import BlockFull, OpenBlock
from megaeth_node.executor.rules import IsthmusRules
from megaeth_node.executor.state import KECCAK_EMPTY, Account, MissingStateKey
from megaeth_node.executor.transact import InvalidTransaction as ExecInvalid
from megaeth_node.genesis import EMPTY_OMMERS, EMPTY_REQUESTS_HASH, init_genesis
from megaeth_node.mempool import Mempool, PoolTx, fee_cap, tip_cap
from megaeth_node.salt_state import SaltReader, salt_updates
from megaeth_node.store import ChainStore, MiniBlockSpan, open_env
from megaeth_node.types import (
    DEPOSIT_TX_TYPE, GAS_PRICE_TX_TYPES, Block, ChainDataError, Header, Receipt, Transaction, EMPTY_TRIE_ROOT,
    decode_signed, keccak, ordered_trie_root,
)
from salt.pedersen import backend
from salt.store import SaltStore, StateOverlay
from salt.witness import MptWitness, encode_mpt_witness, encode_salt_witness

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_TX_SIZE = 128 * 1024  # geth's txpool limit


def received(tx: Transaction, raw: bytes) -> Transaction:
    """`tx` decoded from `raw`, which must be its canonical encoding (else its hash and the block's
    transactions root would not be what a re-encoding gives), with its hash computed once here: the pool,
    journal, seal and waiters all key on it."""
    tx = replace(tx, _hash=keccak(raw))  # before encode(): `replace` does not carry its cache
    if tx.encode() != raw:
        raise InvalidTransaction("invalid transaction: non-canonical encoding")
    return tx


@dataclass(frozen=True, slots=True)
class StateChange:
    """An account as a mini-block left it: nonce, balance and the slots the mini-block changed."""

    nonce: int
    balance: int
    storage: dict[int, int]


@dataclass(frozen=True, slots=True)
class MiniBlock:
    """One mini-block: its position, transactions and receipts (spec/rpc.md §5.3)."""

    number: int  # global mini-block number
    block_number: int
    index: int  # position in its EVM block
    timestamp_us: int
    first_tx: int  # index of its first transaction in the block
    prior_gas: int  # the block's cumulative gas before this mini-block
    transactions: tuple[Transaction, ...]
    senders: tuple[bytes, ...]
    receipts: tuple[Receipt, ...]
    header: Header | None = None  # the open block's header template (timestamp, base fee)
    prior_logs: int = 0  # logs in the block before this mini-block (log indexes are block positions)
    state_changes: dict[bytes, StateChange] | None = None  # when a listener wants them (rpc.md §5.4)


class NodeEvents(Protocol):
    """What the sequencer announces, on the event loop (the RPC subscription hub implements it)."""

    def wants_state_changes(self) -> bool: ...

    def on_mini_block(self, mb: MiniBlock, header: Header) -> None: ...

    def on_block(self, block: Block, receipts: list[Receipt], mini_blocks: MiniBlockSpan) -> None: ...

    def on_pending(self, entry: PoolTx) -> None: ...


@dataclass(slots=True)
class _Sealing:
    """A closed block on its way to the chain store: what the sealer needs, and what readers of the next
    block need before it is committed (its code, its hash)."""

    header: Header  # state root, gas and bloom set; transactions/receipts roots still to come
    txs: tuple[Transaction, ...]
    senders: tuple[bytes, ...]
    encoded_txs: tuple[bytes, ...]
    receipts: tuple[Receipt, ...]
    codes: dict[bytes, bytes]
    overlay: StateOverlay  # the block's SALT changes (post-state view), committed with the block
    keys: frozenset[bytes]  # every plain key the block read or wrote
    mini_blocks: MiniBlockSpan
    hash: bytes = b""
    hashed: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True, slots=True)
class SealArtifacts:
    """The costly part of a seal, computed from committed state only (so in another process)."""

    witness: bytes  # bincode SaltWitness of the block's pre-state
    transactions_root: bytes
    receipts_root: bytes
    encoded_receipts: list[bytes]


def seal_artifacts(store: SaltStore, keys: frozenset[bytes], encoded_txs: Sequence[bytes],
                   receipts: Sequence[Receipt]) -> SealArtifacts:
    """The pre-state witness of `keys` (read before the block is committed) and the two ordered-trie roots."""
    encoded_receipts = [r.encode() for r in receipts]
    return SealArtifacts(encode_salt_witness(store.witness(keys)), ordered_trie_root(encoded_txs),
                         ordered_trie_root(encoded_receipts), encoded_receipts)


_worker_store: SaltStore | None = None


def _worker_init(db_path: str, parent: int) -> None:
    """Sealer process: a read-only view of the node's LMDB environment; it exits when the node is gone (even
    killed with -9, when no shutdown reaches it)."""
    global _worker_store

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()
    backend().warm()
    _worker_store = SaltStore(open_env(Path(db_path), readonly=True))


def _worker_seal(keys: frozenset[bytes], encoded_txs: list[bytes], receipts: list[Receipt]) -> SealArtifacts:
    assert _worker_store is not None, "sealer process not initialised"
    return seal_artifacts(_worker_store, keys, encoded_txs, receipts)


@dataclass(slots=True)
class _Sealed:
    sealing: _Sealing
    block: Block
    artifacts: SealArtifacts


class _Reader:
    """The state reader of an open block: SALT through `base`; while the parent block is sealing, the code it
    deployed and its hash (waited for) come from it, since the chain store has neither yet."""

    def __init__(self, base: SaltReader, parent: _Sealing | None) -> None:
        self.base = base
        self.parent = parent

    def account(self, address: bytes) -> Account | None:
        return self.base.account(address)

    def storage(self, address: bytes, slot: int) -> int:
        return self.base.storage(address, slot)

    def code(self, code_hash: bytes) -> bytes:
        parent = self.parent
        if parent is not None and code_hash in parent.codes:
            return parent.codes[code_hash]
        return self.base.code(code_hash)

    def bucket_capacity(self, plain_key: bytes) -> int:
        return self.base.bucket_capacity(plain_key)

    def block_hash(self, number: int) -> bytes:
        parent = self.parent
        if parent is not None and number == parent.header.number:
            parent.hashed.wait()
            if not parent.hash:
                raise MissingStateKey(f"block {number} failed to seal")
            return parent.hash
        return self.base.block_hash(number)


@dataclass(slots=True)
class _Building:
    header: Header  # template: parent hash (once known), roots, gas used and bloom are filled at close
    run: OpenBlock
    reader: _Reader
    overlay: StateOverlay | None  # None while the parent is sealing (reads go through its overlay)
    txs: list[Transaction] = field(default_factory=list)
    senders: list[bytes] = field(default_factory=list)
    first_mini_block: int = 0  # the global number of its first mini-block
    mini_blocks: int = 0
    log_count: int = 0
    seen: tuple[dict[bytes, Any], dict[tuple[bytes, int], int]] = field(default_factory=lambda: ({}, {}))


@dataclass(frozen=True, slots=True)
class SequencerSettings:
    chain: ChainConfig
    data_dir: Path
    block_time_ms: int = 1000
    mini_block_ms: int = 10
    gas_limit: int = 2_000_000_000
    base_fee: int = 1_000_000  # genesis base fee and the floor EIP-1559 never goes below
    alloc: dict[bytes, int] = field(default_factory=dict)


def _settle(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for fut, value, error in settled:
        if fut.done():
            continue
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(value)


def _report_flush(done: Future[None]) -> None:
    """A failed flush (EIO, ENOSPC) leaves the sealed blocks in the page cache only: said loudly, as a power
    loss could then take more than a block."""
    error = done.exception()
    if error is not None:
        log.error("flushing the data directory to disk failed: %s", error)


class Wakeup:
    """What the builder loop sleeps on between mini-blocks: `set()` wakes it, else `wait(timeout)` returns after
    the timeout (`asyncio.wait_for` on an `Event` costs a task, a timer and a cancellation every time)."""

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._set = True
        waiter = self._waiter
        if waiter is not None:
            _release(waiter)

    def clear(self) -> None:
        self._set = False

    async def wait(self, timeout: float) -> None:
        """Until `set()` (at once if it is set), or `timeout` seconds."""
        if self._set:
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _release, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class SenderRecovery:
    """Signature recovery on a thread of its own (`ecrecover.recover_senders`: a burst in one C call that
    holds no GIL), so the event loop goes on parsing requests meanwhile. Submissions queue in arrival order;
    the thread recovers what has queued, a burst at a time (a batch request's sends are one burst), and the
    senders come back to the loop in one call, in the same order, so that admission order (the mempool's
    replacement and cap rules) stays arrival order. Every submission goes through the queue: none can
    overtake another."""

    def __init__(self) -> None:
        self._queue: list[tuple[Transaction, bytes | None, asyncio.Future[bytes]]] = []
        self._busy = False  # a burst is on the thread, or about to be
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the queue and the burst belong to
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="recover")

    def recover(self, tx: Transaction, signing_hash: bytes | None) -> asyncio.Future[bytes]:
        """The sender of `tx` (`Transaction.recover_sender`); `InvalidTransaction` when it does not recover."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop: whatever an earlier one left queued or in flight is gone
            self._loop, self._queue, self._busy = loop, [], False
        fut: asyncio.Future[bytes] = loop.create_future()
        self._queue.append((tx, signing_hash, fut))
        if not self._busy:
            self._busy = True
            loop.call_soon(self._start, loop)  # after what the loop has ready: a batch's sends all queue first
        return fut

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        burst, self._queue = self._queue, []
        try:
            self._thread.submit(self._recover_burst, loop, burst)
        except RuntimeError as e:  # closed: nothing more is recovered
            self._busy = False
            _settle([(fut, None, e) for _, _, fut in burst])

    def _recover_burst(self, loop: asyncio.AbstractEventLoop,
                       burst: list[tuple[Transaction, bytes | None, asyncio.Future[bytes]]]) -> None:
        try:
            senders: list[Any] = recover_senders([(tx, signing_hash) for tx, signing_hash, _ in burst])
        except Exception as e:  # noqa: BLE001 - handed to the submitters
            senders = [e] * len(burst)
        settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = [
            (fut, None, InvalidTransaction(f"invalid sender: {sender}")) if isinstance(sender, ChainDataError)
            else (fut, None, sender) if isinstance(sender, BaseException) else (fut, sender, None)
            for (_, _, fut), sender in zip(burst, senders)]
        try:
            loop.call_soon_threadsafe(self._done, loop, settled)
        except RuntimeError:  # the loop is closed: its submitters are gone
            pass

    def _done(self, loop: asyncio.AbstractEventLoop,
              settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
        _settle(settled)
        if self._queue:
            self._start(loop)
        else:
            self._busy = False

    def close(self) -> None:
        self._thread.shutdown(wait=True)


class Sequencer:
    def __init__(self, settings: SequencerSettings) -> None:
        self.settings = settings
        self.chain_config = settings.chain
        # Commits are not fsynced (an fsync costs ~8 ms, once per mini-block it was the realtime latency floor):
        # a committed mini-block is in the page cache, so an acknowledged tx survives kill -9; each seal is
        # then flushed to disk off the builder thread, bounding what a power loss can take to about one block.
        self.env = open_env(settings.data_dir / "db", sync=False)
        self._flusher = ThreadPoolExecutor(1, thread_name_prefix="flush")
        self.chain = ChainStore(self.env)
        self.salt = SaltStore(self.env)
        self.pool = Mempool()
        self._builder = ThreadPoolExecutor(1, thread_name_prefix="builder")
        self._recovery = SenderRecovery()
        # the witness and roots of a closed block are computed in a process of their own: no GIL shared with
        # the builder and the event loop (started at the first seal; `run` starts it early)
        self._sealer = ProcessPoolExecutor(1, multiprocessing.get_context("spawn"), _worker_init,
                                           (str(settings.data_dir / "db"), os.getpid()))
        self._sealing: _Sealing | None = None  # the closed block being sealed (at most one)
        self._seal_task: asyncio.Task[None] | None = None
        self._waiters: dict[bytes, list[asyncio.Future[tuple[MiniBlock, int] | None]]] = {}
        self._admissions: deque[tuple[Transaction, bytes, asyncio.Future[PoolTx]]] = deque()
        self._work = Wakeup()  # set when a transaction is admitted: run a mini-block now
        self._base_fee: tuple[Header | None, int] = (None, 0)  # (parent header, base fee after it)
        self._spec: tuple[Header | None, Spec] = (None, Spec.EQUIVALENCE)  # (head, spec at its timestamp)
        backend().warm()  # the C tables take seconds to build: not inside the first seal
        self.head = init_genesis(self.env, self.chain, self.salt, settings.alloc, int(time.time()),
                                 settings.gas_limit, settings.base_fee)
        span = self.chain.mini_blocks(self.head.number)
        self._mini_block_number = span.end if span else 0  # global: it goes on across restarts
        self._tip = self.head  # the last closed block (== head unless one is sealing): the next one's parent
        self.listeners: list[NodeEvents] = []
        self._building: _Building | None = None
        self._stopping = False
        self._running = False  # the builder loop (`run`) is on: it admits queued submissions
        self._dropped: list[bytes] = []
        self.recovered = self._recover()
        self.restored = self._restore_pool()
        self.env.sync(True)

    # -- builder thread --

    async def _on_builder(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._builder, fn, *args)

    def _open(self, timestamp: int | None = None) -> _Building:
        """Open the block after the tip. While the tip is sealing, its overlay (post-state) serves the reads and
        the parent hash is filled in at close; the EIP-2935 history contract, if deployed, needs the hash now."""
        parent, sealing = self._tip, self._sealing
        ts = timestamp or max(parent.timestamp + 1, int(time.time()))
        base = SaltReader(sealing.overlay if sealing else self.salt.overlay(), self.chain)
        parent_hash = bytes(32) if sealing else parent.hash
        if sealing and (base.account(HISTORY_STORAGE_ADDRESS) or Account()).code_hash != KECCAK_EMPTY:
            sealing.hashed.wait()
            if not sealing.hash:
                raise RuntimeError(f"block {parent.number} failed to seal")
            parent_hash = sealing.hash
        # prevrandao chains the parent's, not its hash: the next block can run before the parent is hashed
        header = replace(parent, parent_hash=parent_hash, number=parent.number + 1, timestamp=ts, gas_used=0,
                         mix_hash=keccak(parent.mix_hash), base_fee_per_gas=self.next_base_fee(),
                         ommers_hash=EMPTY_OMMERS, requests_hash=EMPTY_REQUESTS_HASH)
        reader = _Reader(base, sealing)
        run = OpenBlock(reader, header, self.chain_config)
        return _Building(header, run, reader, None if sealing else base.overlay,
                         first_mini_block=self._mini_block_number)

    def building(self) -> _Building:
        if self._building is None:
            self._building = self._open()
        return self._building

    def next_base_fee(self, parent: Header | None = None) -> int:
        """Base fee of the block after `parent` (default: the tip, the block being built's parent): EIP-1559
        with the parent's Holocene parameters, floored at the configured minimum (gas/basefee.py)."""
        h = parent or self._tip
        known, fee = self._base_fee
        if known is not h:  # once per parent header, not once per submitted transaction
            fee = next_base_fee(h.base_fee_per_gas or 0, h.gas_used, h.gas_limit, *holocene_params(h.extra_data),
                                minimum=self.settings.base_fee)
            self._base_fee = (h, fee)
        return fee

    def _head_spec(self) -> Spec:
        """The MegaETH spec at the head's timestamp (intake gas checks), computed once per head."""
        head = self.head
        known, spec = self._spec
        if known is not head:
            spec = spec_at(self.chain_config.forks, head.timestamp)
            self._spec = (head, spec)
        return spec

    def _recover(self) -> int:
        """Re-execute the journaled mini-blocks of the unsealed blocks (crash recovery); a block whose close was
        journaled is sealed before the next one opens. Return the transaction count."""
        count = 0
        for number, _, timestamp, txs in self.chain.journal():
            if number <= self.head.number:
                continue
            if self._building is not None and self._building.header.number != number:
                self._seal()  # journaled before closes were: the next block's entries close it
            if self._building is None:
                self._building = self._open(timestamp)
            b = self._building
            if not txs:  # the close marker
                self._seal()
                continue
            for tx in txs:
                sender = tx.recover_sender()
                b.log_count += len(b.run.execute(tx, sender).logs)
                b.txs.append(tx)
                b.senders.append(sender)
                self.pool.drop_below(sender, tx.nonce + 1)
                count += 1
            b.mini_blocks += 1
            self._mini_block_number += 1
        if self._building is not None:
            self._state_changes(self._building)  # the next stateChanges start after the recovered mini-blocks
        return count

    def _restore_pool(self) -> int:
        """Re-admit the journaled mempool after a restart: transactions acknowledged but not yet executed into a
        mini-block (queued behind a nonce gap, or waiting for a block with room). Those that no longer fit (their
        nonce used, their funds gone) are dropped. Return how many came back."""
        journaled = self.chain.pooled()
        entries = []
        for _, raw in journaled:
            try:
                tx = received(Transaction.decode(raw), raw)
                entries.append((tx, tx.recover_sender()))
            except (ChainDataError, InvalidTransaction):
                continue
        restored = []
        for tx, sender in sorted(entries, key=lambda e: (e[1], e[0].nonce)):
            try:
                restored.append(self._admit(tx, sender))
            except InvalidTransaction:
                continue
        self._mark_queued(restored)
        kept = {entry.tx.hash for entry in restored}
        self.pool.take_removed()
        if len(kept) < len(journaled):
            with self.env.begin(write=True) as txn:
                self.chain.journal_pool(txn, (), [h for h, _ in journaled if h not in kept])
        return len(restored)

    def _state_nonce(self, sender: bytes) -> int:
        return int(self.building().run.evm_state.get_nonce(sender))

    def _mini_block(self, state_changes: bool = False) -> MiniBlock | None:
        """Execute what the pool can run now into one mini-block; journal it durably. With `state_changes`, the
        mini-block carries what changed in it (rpc.md §5.4)."""
        self._admit_queued()
        b = self.building()
        if self.settings.block_time_ms == 0 and b.txs:
            return None  # a block per transaction: this one waits for its seal
        executed: list[tuple[Transaction, bytes, Receipt]] = []
        for entry in list(self.pool.executable(self._state_nonce, b.header.base_fee_per_gas or 0)):
            if self._state_nonce(entry.sender) != entry.tx.nonce:
                continue
            if entry.tx.gas > b.header.gas_limit - b.run.cumulative:
                continue  # does not fit in this block's gas left: it waits for the next block (as geth's miner)
            try:
                receipt = b.run.execute(entry.tx, entry.sender)
            except BlockFull:
                break  # a block limit is used up: the rest waits for the next block, which closes this one
            except ExecInvalid as e:
                log.info("dropping tx 0x%s: %s", entry.tx.hash.hex(), e)
                self.pool.remove(entry.tx.hash)
                self._dropped.append(entry.tx.hash)
                continue
            self.pool.remove(entry.tx.hash)
            executed.append((entry.tx, entry.sender, receipt))
            if self.settings.block_time_ms == 0:
                break
        if not executed:
            return None
        if any(t.authorization_list for t, _, _ in executed):  # authorizations bump their signers' nonces
            self._dropped += self.pool.prune(self._state_nonce)
        with self.env.begin(write=True) as txn:  # the executed transactions move from the pool's journal to this one
            self.chain.journal_mini_block(txn, b.header.number, b.mini_blocks, b.header.timestamp,
                                          [t.encode() for t, _, _ in executed])
            self._journal_pool(txn, ())
        first = len(b.txs)
        prior_gas = b.run.receipts[first - 1].cumulative_gas_used if first else 0
        for tx, sender, _ in executed:
            b.txs.append(tx)
            b.senders.append(sender)
        changes = self._state_changes(b) if state_changes else None
        mb = MiniBlock(self._mini_block_number, b.header.number, b.mini_blocks, time.time_ns() // 1000, first, prior_gas,
                       tuple(t for t, _, _ in executed), tuple(s for _, s, _ in executed),
                       tuple(r for _, _, r in executed), b.header, b.log_count, changes)
        b.log_count += sum(len(r.logs) for _, _, r in executed)
        b.mini_blocks += 1
        self._mini_block_number += 1
        return mb

    def _state_changes(self, b: _Building) -> dict[bytes, StateChange]:
        """Accounts and slots that differ from what the previous mini-block left (builder thread)."""
        state = b.run.evm_state
        diff = state.overlay.diff()  # type: ignore[attr-defined]
        seen_accounts, seen_storage = b.seen
        touched: dict[bytes, dict[int, int]] = {}
        for addr in set(diff.accounts) | set(seen_accounts):
            if diff.accounts.get(addr, ...) != seen_accounts.get(addr, ...):
                touched.setdefault(addr, {})
        for key in set(diff.storage) | set(seen_storage):
            if diff.storage.get(key, ...) != seen_storage.get(key, ...):
                touched.setdefault(key[0], {})[key[1]] = int(state.get_storage(key[0], key[1]))
        b.seen = (dict(diff.accounts), dict(diff.storage))
        return {a: StateChange(int(state.get_nonce(a)), int(state.get_balance(a)), slots) for a, slots in touched.items()}

    def _close(self) -> _Sealing:
        """Builder thread: end the open block (its SALT root, a few ms) and journal the close; the next block
        opens over its post-state at once. The previous block must be committed."""
        assert self._sealing is None, "one block seals at a time"
        b = self.building()
        if b.overlay is None:
            raise RuntimeError("the parent block is not committed")
        result = b.run.finish()
        diff = result.state_diff
        root = b.overlay.apply(salt_updates(diff, SaltReader(b.overlay, self.chain).stored_slots))
        header = replace(b.header, parent_hash=self.head.hash, state_root=root, gas_used=result.gas_used,
                         logs_bloom=result.logs_bloom, withdrawals_root=EMPTY_TRIE_ROOT)
        with self.env.begin(write=True) as txn:  # an empty entry marks the close, for recovery
            self.chain.journal_mini_block(txn, header.number, b.mini_blocks, header.timestamp, [])
        sealing = _Sealing(header, tuple(b.txs), tuple(b.senders), tuple(tx.encode() for tx in b.txs), result.receipts,
                           dict(diff.codes), b.overlay, diff.reads | diff.writes,
                           MiniBlockSpan(b.first_mini_block, b.mini_blocks))
        self._sealing, self._tip, self._building = sealing, header, None
        return sealing

    def _seal_in_worker(self, sealing: _Sealing) -> Future[SealArtifacts]:
        """The sealer process computes the artifacts (before the block is committed: it reads the pre-state)."""
        return self._sealer.submit(_worker_seal, sealing.keys, list(sealing.encoded_txs), list(sealing.receipts))

    @staticmethod
    def _sealed(sealing: _Sealing, artifacts: SealArtifacts) -> _Sealed:
        """The final header and its hash (released to readers of the next block waiting for BLOCKHASH)."""
        header = replace(sealing.header, transactions_root=artifacts.transactions_root,
                         receipts_root=artifacts.receipts_root)
        block = Block(header, sealing.txs, sealing.senders, header.hash)
        sealing.hash = block.hash
        sealing.hashed.set()
        return _Sealed(sealing, block, artifacts)

    def _commit(self, sealed: _Sealed) -> tuple[Block, list[Receipt]]:
        """Builder thread: one LMDB write transaction with the block, its receipts, indexes, code, witness and
        SALT state, and the journal up to it dropped; the open block's reads move to the committed state."""
        sealing, block, art = sealed.sealing, sealed.block, sealed.artifacts
        receipts = list(sealing.receipts)
        with self.env.begin(write=True) as txn:
            sealing.overlay.commit(txn)
            self.chain.write_codes(txn, sealing.codes)
            self.chain.write_block(txn, block, receipts, sealing.encoded_txs, art.encoded_receipts)
            self.chain.write_mini_blocks(txn, block.header.number, sealing.mini_blocks)
            self.chain.write_witness(txn, block.header.number, art.witness,
                                     encode_mpt_witness(MptWitness(EMPTY_TRIE_ROOT, ())))
            self.chain.clear_journal(txn, block.header.number)
        self.head = block.header
        if self._tip.number == block.header.number:
            self._tip = block.header
        self._sealing = None
        b = self._building
        if b is not None and b.overlay is None:
            b.overlay = self.salt.overlay()
            b.reader.base = SaltReader(b.overlay, self.chain)
            b.reader.parent = None
        self._flusher.submit(self.env.sync, True).add_done_callback(_report_flush)
        return block, receipts

    def _seal(self) -> tuple[Block, list[Receipt]]:
        """Close, seal and commit the open block in the calling thread (start-up recovery and tests)."""
        sealing = self._close()
        art = seal_artifacts(self.salt, sealing.keys, sealing.encoded_txs, sealing.receipts)
        return self._commit(self._sealed(sealing, art))

    # -- event loop side --

    def _wake(self, tx_hash: bytes, where: tuple[MiniBlock, int] | None) -> None:
        for fut in self._waiters.pop(tx_hash, []):
            if not fut.done():
                fut.set_result(where)

    async def run(self) -> None:
        """The builder loop: a mini-block as soon as a transaction is admitted and the builder is free, else
        every `mini_block_ms` (queued transactions may have become executable); a close every `block_time_ms`
        (0 = per tx) once the previous block is committed, its seal running beside the next mini-blocks. The
        sealer process is up seconds after the start: until then a close waits for it (a seal on the builder
        would hold every mini-block back for its whole duration), except with a block per transaction, whose
        blocks seal on the builder. Waiters are answered right after their mini-block is journaled."""
        sealer_up = self._sealer.submit(int)  # start the sealer process (imports, curve tables)
        last_seal = time.monotonic()
        self._running = True
        try:
            await self._loop(sealer_up, last_seal)
        finally:
            self._running = False
            if self._admissions:  # submissions that came in as the loop stopped
                await self._on_builder(self._admit_queued)

    async def _loop(self, sealer_up: Future[int], last_seal: float) -> None:
        settings = self.settings
        while not self._stopping:
            await self._work.wait(settings.mini_block_ms / 1000)
            self._work.clear()
            if len(self.pool) or self._admissions:  # the listeners are asked here, on the event loop
                wants = any(x.wants_state_changes() for x in self.listeners)
                mb = await self._on_builder(self._mini_block, wants)
            else:
                mb = None
            if mb is not None:
                header = mb.header or self.building().header
                for listener in self.listeners:
                    listener.on_mini_block(mb, header)
            self._resolve(mb)
            if self._seal_task is not None:
                if not self._seal_task.done():
                    continue
                self._seal_task.result()  # a failed seal stops the node with its traceback
                self._seal_task = None
            due = (time.monotonic() - last_seal) * 1000 >= settings.block_time_ms > 0 or (
                self._building is not None and self._building.run.full)  # a block limit is used up: close now
            if (settings.block_time_ms == 0 and self._building is not None and self._building.txs) or due:
                if not sealer_up.done():
                    if settings.block_time_ms > 0:
                        continue  # the close waits for the sealer
                    b = self.building()
                    mini_blocks = MiniBlockSpan(b.first_mini_block, b.mini_blocks)
                    block, receipts = await self._on_builder(self._seal)
                    for listener in self.listeners:
                        listener.on_block(block, receipts, mini_blocks)
                else:
                    sealing = await self._on_builder(self._close)
                    self._seal_task = asyncio.create_task(self._finish_seal(sealing))
                last_seal = time.monotonic()

    async def _finish_seal(self, sealing: _Sealing) -> None:
        try:
            sealed = self._sealed(sealing, await asyncio.wrap_future(self._seal_in_worker(sealing)))
        finally:
            sealing.hashed.set()  # on failure too: a reader waiting for the hash fails instead of hanging
        block, receipts = await self._on_builder(self._commit, sealed)
        for listener in self.listeners:
            listener.on_block(block, receipts, sealing.mini_blocks)
        self._work.set()  # a close may be due

    def _resolve(self, mb: MiniBlock | None) -> None:
        for i, tx in enumerate(mb.transactions if mb else ()):
            self._wake(tx.hash, (mb, i))  # type: ignore[arg-type]
        while self._dropped:
            self._wake(self._dropped.pop(), None)

    async def close(self) -> None:
        self._stopping = True
        if self._seal_task is not None:  # else the journal still holds the block: it is sealed at start-up
            await asyncio.gather(self._seal_task, return_exceptions=True)
        self._sealer.shutdown(wait=True)
        self._recovery.close()
        self._builder.shutdown(wait=True)
        self._flusher.shutdown(wait=True)
        self.env.sync(True)
        self.env.close()

    # -- API used by rpc/ --

    async def submit(self, raw: bytes) -> bytes:
        """Validate and pool a signed transaction; return its hash or raise an InvalidTransaction subclass."""
        return (await self._submit(raw)).tx.hash

    async def _submit(self, raw: bytes) -> PoolTx:
        if len(raw) > MAX_TX_SIZE:
            raise InvalidTransaction(f"oversized data: transaction size {len(raw)}, limit {MAX_TX_SIZE}")
        fast = decode_signed(raw, _hash=keccak(raw))
        if fast is not None:  # canonical legacy or 0x02 (nearly every submission): one pass, no re-encoding
            tx, signing_hash = fast
        else:
            tx, signing_hash = self._decode(raw), None
        if tx.type == DEPOSIT_TX_TYPE:
            raise UnsupportedTxType("transaction type not supported")
        if tx.chain_id is None:
            raise InvalidChainId("only replay-protected (EIP-155) transactions allowed over RPC")
        if tx.chain_id != self.chain_config.chain_id:
            raise InvalidChainId(f"invalid chain id: have {tx.chain_id}, want {self.chain_config.chain_id}")
        sender = await self._recovery.recover(tx, signing_hash)
        if tx.type not in GAS_PRICE_TX_TYPES and tip_cap(tx) > fee_cap(tx):
            raise FeeTooLow("max priority fee per gas higher than max fee per gas")
        base_fee = self.next_base_fee()
        if fee_cap(tx) < base_fee:
            raise FeeTooLow(f"max fee per gas less than block base fee: address 0x{sender.hex()}, "
                            f"maxFeePerGas: {fee_cap(tx)}, baseFee: {base_fee}")
        if tx.gas > self.settings.gas_limit:
            raise InvalidTransaction("exceeds block gas limit")
        spec = self._head_spec()
        inputs = TxGasInputs(tx.data, tx.to is None, len(tx.access_list),
                             sum(len(keys) for _, keys in tx.access_list), len(tx.authorization_list))
        try:
            validate_tx_gas(spec, inputs, tx.gas)
        except InitcodeTooLarge as e:  # geth's wording for each case
            raise InvalidTransaction(f"max initcode size exceeded: {e}") from e
        except FloorGasTooLow as e:
            raise IntrinsicGasTooLow(f"insufficient gas for floor data gas cost: {e}") from e
        except InvalidTxGas as e:
            raise IntrinsicGasTooLow(f"intrinsic gas too low: {e}") from e
        if fast is None:
            tx = received(tx, raw)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[PoolTx] = loop.create_future()
        self._admissions.append((tx, sender, fut))
        if self._running:
            self._work.set()  # the next mini-block admits it and runs it, in one builder hop
        elif len(self._admissions) == 1:  # else a drain is already scheduled and will take this one too
            loop.run_in_executor(self._builder, self._admit_queued)
        entry = await fut
        self._work.set()
        for listener in self.listeners:
            listener.on_pending(entry)
        return entry

    @staticmethod
    def _decode(raw: bytes) -> Transaction:
        try:
            return Transaction.decode(raw)
        except ChainDataError as e:
            if "not supported" in str(e):
                raise UnsupportedTxType("transaction type not supported") from e
            raise InvalidTransaction(f"invalid transaction: {e}") from e

    def _admit_queued(self) -> None:
        """Builder thread: admit every queued submission in arrival order, then settle them in one loop call
        (one thread hop per burst of submissions, not per transaction). While the builder loop runs, each
        mini-block drains the queue first instead, so that a submission is admitted and executed in one hop."""
        settled: list[tuple[asyncio.Future[PoolTx], PoolTx | None, BaseException | None]] = []
        while self._admissions:
            tx, sender, fut = self._admissions.popleft()
            try:
                settled.append((fut, self._admit(tx, sender), None))
            except Exception as e:  # noqa: BLE001 - handed to the submitter
                settled.append((fut, None, e))
        admitted = [entry for _, entry, _ in settled if entry is not None]
        self._mark_queued(admitted)
        if admitted:  # journaled before they are acknowledged: a crash then loses none of them
            with self.env.begin(write=True) as txn:
                self._journal_pool(txn, admitted)
        if settled:
            settled[0][0].get_loop().call_soon_threadsafe(_settle, settled)

    def _mark_queued(self, admitted: Sequence[PoolTx]) -> None:
        """Flag the entries behind a nonce gap, once the whole burst is in (a gap it fills is no gap)."""
        for entry in admitted:
            entry.queued = entry.tx.nonce >= self.pool.pending_nonce(entry.sender, self._state_nonce(entry.sender))

    def _journal_pool(self, txn: Any, admitted: Sequence[PoolTx]) -> None:
        """Journal the pool's changes since the last call: `admitted` and what left it, as the pool now holds them
        (a transaction admitted and then evicted by a later one of the same burst is not kept)."""
        pool = self.pool
        self.chain.journal_pool(txn, [(e.tx.hash, e.tx.encode()) for e in admitted if pool.get(e.tx.hash) is e],
                                [h for h in pool.take_removed() if pool.get(h) is None])

    def _admit(self, tx: Transaction, sender: bytes) -> PoolTx:
        state = self.building().run.evm_state
        nonce = int(state.get_nonce(sender))
        self.pool.check_new(tx, nonce)  # geth's order: a stale nonce is "nonce too low", whatever the balance
        cost = tx.gas * fee_cap(tx) + tx.value
        balance = state.get_balance(sender)
        if balance < cost:
            raise InsufficientFunds(f"insufficient funds for gas * price + value: balance {balance}, "
                                    f"tx cost {cost}, overshot {cost - balance}")
        self.pool.add(tx, sender, nonce)
        entry = self.pool.get(tx.hash)
        assert entry is not None
        return entry

    async def submit_and_wait(self, raw: bytes, timeout_s: float, wait_queued: bool = False
                              ) -> tuple[bytes, bool | None, tuple[MiniBlock, int] | None]:
        """Submit, then wait until the transaction is in a durable mini-block: (hash, True, (mini-block, index in
        it)), (hash, False, None) when it was dropped as invalid at execution, (hash, None, None) on timeout (it
        stays in the pool). A transaction pooled behind a nonce gap raises `NotExecutable` at once (it stays
        in the pool), unless `wait_queued`. Sending a pooled transaction again waits for it."""
        fut: asyncio.Future[tuple[MiniBlock, int] | None] = asyncio.get_running_loop().create_future()
        tx_hash = keccak(raw)
        self._waiters.setdefault(tx_hash, []).append(fut)
        try:
            try:
                entry: PoolTx | None = await self._submit(raw)
            except AlreadyKnown:  # sent again (a client retrying after a timeout): it is pooled, and
                entry = None      # this waiter, registered before, hears of its inclusion
            if entry is not None and entry.queued and not wait_queued:
                raise NotExecutable(f"the transaction was added to the transaction pool but cannot be "
                                    f"processed now: nonce {entry.tx.nonce} is behind a nonce gap", tx_hash)
            where = await asyncio.wait_for(fut, timeout_s)
            return tx_hash, where is not None, where
        except asyncio.TimeoutError:
            return tx_hash, None, None
        finally:
            waiting = self._waiters.get(tx_hash, [])
            if fut in waiting:
                waiting.remove(fut)
                if not waiting:
                    del self._waiters[tx_hash]

    async def pending_nonce(self, sender: bytes) -> int:
        """The state nonce and the pooled run above it, both read on the builder thread: a mini-block between
        the two reads would take a pooled nonce out of the pool after the state nonce was read."""
        return await self._on_builder(lambda: self.pool.pending_nonce(sender, self._state_nonce(sender)))

    async def read_state(self, fn: Callable[[Any], T]) -> T:
        """Run `fn(evm_state)` on the builder thread against the newest mini-block's state."""
        return await self._on_builder(lambda: fn(self.building().run.evm_state))

    async def read_sealed_state(self, number: int, fn: Callable[[SaltReader], T]) -> T:
        """Run `fn(reader)` on the builder thread against the state after sealed block `number`, which must still
        be the head then (no older state is kept): `HistoricalState` otherwise."""
        def read() -> T:
            if self.head.number != number:
                raise HistoricalState("historical state not available")
            return fn(SaltReader(self.salt.overlay(), self.chain))
        return await self._on_builder(read)

    async def read_sealed_evm_state(self, number: int, fn: Callable[[Any, IsthmusRules], T]) -> T:
        """Run `fn(evm_state, rules)` on the builder thread against the state after sealed block `number` (the
        head, else `HistoricalState`) in that block's own context, as for a transaction appended to it (geth's
        eth_call at a block number: its number, timestamp and base fee)."""
        def read(reader: SaltReader) -> T:
            run = OpenBlock(reader, self.head, self.chain_config)
            return fn(run.evm_state, run.rules)
        return await self.read_sealed_state(number, read)

    def _locate(self, tx_hash: bytes, include_open: bool) -> tuple[Block, list[Receipt], int] | None:
        """The block holding `tx_hash` (the open one has an empty hash), its receipts and the tx index."""
        b = self.building()
        for i, tx in enumerate(b.txs if include_open else ()):
            if tx.hash == tx_hash:
                return Block(b.header, tuple(b.txs), tuple(b.senders), b""), list(b.run.receipts), i
        sealing = self._sealing if include_open else None
        for i, tx in enumerate(sealing.txs if sealing else ()):
            if tx.hash == tx_hash:
                return Block(sealing.header, sealing.txs, sealing.senders, b""), list(sealing.receipts), i  # type: ignore[union-attr]
        loc = self.chain.tx_location(tx_hash)
        if loc is not None:
            block, receipts = self.chain.block(loc[0]), self.chain.receipts(loc[0])
            if block is not None and receipts is not None:
                return block, receipts, loc[1]
        return None

    async def locate(self, tx_hash: bytes, include_open: bool = True) -> tuple[Block, list[Receipt], int] | None:
        """Look a transaction up on the builder thread, so a seal cannot slip between the open-block and
        chain-store lookups; `include_open=False` looks only at sealed blocks."""
        return await self._on_builder(self._locate, tx_hash, include_open)
