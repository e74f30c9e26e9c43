"""The validation worker pool (spec/stateless-validator.md §8.4): persistent worker processes, warmed once.

Every block carries its own witness, so blocks validate in any order and in parallel; callers keep the
results in block order (`ordered`). The expensive per-process start-up is the SALT fixed-base table build
(≈1.5 s CPU, ≈180 MB): `WorkerPool` builds it once in the parent and forks the workers afterwards, so they
inherit the tables copy-on-write and start warm. Where `fork` is unavailable each worker warms itself in
its initializer. `workers=1` runs jobs in the calling process (no pickling, same warm-up).

Each worker's SALT C thread pool gets its share of the cores (`cores // workers`, at least 1), so two
workers on two cores do not run four C threads. The warm heap is frozen out of the garbage collector
(`gc.freeze`), so collections neither scan it nor, in forked workers, copy its pages; and the young
generation is collected every 20,000 allocations instead of 700 (py-evm allocates many short-lived objects
per opcode: ~10% of a block's CPU at the default).

A forked worker runs its jobs on a thread of its own (`_on_job_thread`), not on the thread that received
them. CPython 3.11 keeps a thread's Python frames in 16 KiB chunks: a call that does not fit maps a new chunk
and unmaps it when it returns. A pool worker's main thread starts inside the parent's `Process.start` call
(16+ frames deep, more the deeper the pool was created), which can put a chunk boundary where the replay
calls and returns thousands of times a block: measured up to ~2,200 mmap/munmap pairs and page faults and
+15-20% CPU a block. A new thread's frames start at the bottom of a fresh chunk, as they do near the bottom
of the calling process's stack (`workers=1`), where there is no such churn."""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, TypeVar

from validator.checker import process_checker, start_process_checker, stop_process_checker

T = TypeVar("T")

_WARM = False


def warm() -> None:
    """Build this process's SALT tables now (idempotent); a forked child inherits them."""
    global _WARM
    if _WARM:
        return
    from salt.pedersen import backend

    be: Any = backend()
    if hasattr(be, "warm"):
        be.warm()
    import megaeth_node.executor.block  # noqa: F401  (py-evm and the rule tables: import once, before forking)

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)
    _WARM = True


_JOB_THREAD: ThreadPoolExecutor | None = None
_JOB_STACK_BYTES = 16 << 20  # C stack of the job thread: deep EVM calls recurse through C as on a main thread
                             # (8 MiB by default); a thread would get 2 MiB where the stack limit is unlimited


def _start_worker(workers: int, warmup: tuple[Callable[..., Any], tuple[Any, ...]] | None = None,
                  checker: bool = False) -> None:
    """Worker initializer: size this worker's SALT C thread pool to its share of the machine's cores, fork its
    checker process (`checker`; while this process has one thread), start the thread its jobs run on, and run
    `warmup` (a function and its arguments) there once."""
    global _JOB_THREAD
    os.environ["MEGAETH_SALT_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    if checker:
        start_process_checker()
    threading.stack_size(_JOB_STACK_BYTES)
    _JOB_THREAD = ThreadPoolExecutor(1, thread_name_prefix="validator-job")
    if warmup is not None:
        _on_job_thread(warmup[0], *warmup[1])


def _on_job_thread(fn: Callable[..., T], *args: Any) -> T:
    """Worker side: `fn(*args)` on this worker's job thread (see the module docstring)."""
    assert _JOB_THREAD is not None, "not in a pool worker"
    return _JOB_THREAD.submit(fn, *args).result()


def _ping() -> int:
    warm()
    return os.getpid()


class _Inline(Executor):
    """`Executor` that runs each job at submit time, in this process."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        f: Future[T] = Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except Exception as e:  # the future carries it, as a process pool's would; Ctrl-C stops at once
            f.set_exception(e)
        return f


class WorkerPool:
    """`workers` persistent, warm worker processes (or the calling process when `workers` is 1). `warmup`, a
    function and its arguments, runs once in each forked worker before it takes jobs: a forked worker's first
    job pays for copying the pages it writes of the parent's heap (copy-on-write, ~10 ms for a block), which
    a warm-up job moves into the pool's start. `checkers`: each worker (the calling process when `workers` is
    1) gets a checker process (`validator.checker.process_checker`) for its jobs to use."""

    def __init__(self, workers: int, initializer: Callable[..., None] | None = None,
                 initargs: tuple[Any, ...] = (),
                 warmup: tuple[Callable[..., Any], tuple[Any, ...]] | None = None, checkers: bool = False) -> None:
        self.workers = max(1, workers)
        self.executor: Executor
        self._own_checker = False
        if self.workers == 1:
            warm()
            if initializer:
                initializer(*initargs)
            if checkers and process_checker() is None:
                start_process_checker()
                self._own_checker = True
            self.executor = _Inline()
            return
        methods = multiprocessing.get_all_start_methods()
        if "fork" in methods:
            warm()  # before any fork: children inherit the tables
            if initializer:
                initializer(*initargs)
            self.executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"),
                                                initializer=_start_worker,
                                                initargs=(self.workers, warmup, checkers))
        else:  # pragma: no cover - not Linux
            self.executor = ProcessPoolExecutor(self.workers, initializer=_spawned_init,
                                                initargs=(self.workers, initializer, initargs))
        self.pids = sorted({f.result() for f in [self.submit(_ping) for _ in range(self.workers)]})

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        if isinstance(self.executor, _Inline):
            return self.executor.submit(fn, *args)
        return self.executor.submit(_on_job_thread, fn, *args)

    def ordered(self, fn: Callable[[Any], T], jobs: Iterable[Any], ahead: int | None = None) -> Iterator[T]:
        """`fn(job)` for every job, yielded in job order, with at most `ahead` jobs in flight."""
        ahead = ahead or 2 * self.workers
        window: list[Future[T]] = []
        it = iter(jobs)
        for job in it:
            window.append(self.submit(fn, job))
            if len(window) >= ahead:
                yield window.pop(0).result()
        for f in window:
            yield f.result()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        if self._own_checker:
            stop_process_checker()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _spawned_init(workers: int, initializer: Callable[..., None] | None,
                  initargs: tuple[Any, ...]) -> None:  # pragma: no cover
    _start_worker(workers)
    warm()
    if initializer:
        initializer(*initargs)
