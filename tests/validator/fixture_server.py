"""A local sequencer stand-in for online-validator tests: serves the real MegaETH fixture blocks over the
methods the validator calls (spec/stateless-validator.md §8.1), through our own `rpc.server.make_app`.

The served chain is mutable from the test: `tip` limits what is visible, `fork` replaces blocks by number
(a reorg), `stop()`/`start()` take the server away and bring it back on the same port."""

from __future__ import annotations

import asyncio
import copy
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web

from megaeth_node.fixtures import fixture_blocks, load_contracts
from megaeth_node.types import Header
from rpc.dispatch import Handler
from rpc.errors import invalid_params
from rpc.server import make_app
from salt.witness import decode_mpt_witness, decode_witness_file, encode_rpc_witness
from validator.metrics import Metrics
from validator.online import OnlineSettings, OnlineValidator
from validator.pool import WorkerPool


@cache
def load_fixture_chain(root: Path) -> tuple[dict[int, dict[str, Any]], dict[bytes, str], dict[bytes, bytes]]:
    """(number → block JSON, block hash → RPC witness string, code hash → code), from the fixtures."""
    import json

    blocks: dict[int, dict[str, Any]] = {}
    witnesses: dict[bytes, str] = {}
    for fb in fixture_blocks(root):
        blocks[fb.number] = json.loads(fb.block_path.read_text())
        if fb.salt_path and fb.mpt_path:
            wf = decode_witness_file(fb.salt_path.read_bytes())
            witnesses[fb.hash] = encode_rpc_witness(wf.salt_witness, decode_mpt_witness(fb.mpt_path.read_bytes()))
    return blocks, witnesses, load_contracts(root / "contracts.txt")


def forked_block(block: dict[str, Any], tag: int = 1) -> dict[str, Any]:
    """The same block with a different extraData byte, hence a different hash: a sibling that replays to
    the same result (extraData is an input the validator does not check) but is not the real chain."""
    b = copy.deepcopy(block)
    extra = bytearray(bytes.fromhex(b["extraData"][2:]))
    extra[-1] ^= tag
    b["extraData"] = "0x" + extra.hex()
    new_hash = "0x" + Header.from_rpc(b).hash.hex()
    b["hash"] = new_hash
    for tx in b["transactions"]:
        if isinstance(tx, dict):
            tx["blockHash"] = new_hash
    return b


def _quantity(v: Any) -> int:
    if isinstance(v, str) and v.startswith("0x"):
        return int(v, 16)
    raise invalid_params(f"not a hex quantity: {v!r}", 0)


@dataclass
class FixtureChain:
    blocks: dict[int, dict[str, Any]]
    witnesses: dict[bytes, str]
    codes: dict[bytes, bytes]
    tip: int
    fork: dict[int, dict[str, Any]] = field(default_factory=dict)
    last_validated: tuple[int, str] | None = None
    reports: list[tuple[tuple[int, str], tuple[int, str]]] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    code_requests: list[str] = field(default_factory=list)

    def block(self, n: int) -> dict[str, Any] | None:
        if n > self.tip:
            return None
        return self.fork.get(n) or self.blocks.get(n)

    def by_hash(self, h: str) -> dict[str, Any] | None:
        for n in range(min(self.blocks), self.tip + 1):
            b = self.block(n)
            if b is not None and b["hash"] == h:
                return b
        return None

    def methods(self) -> dict[str, Handler]:
        def counted(name: str, fn: Any) -> Handler:
            async def h(params: list[Any]) -> Any:
                self.calls[name] = self.calls.get(name, 0) + 1
                return fn(params)
            return h

        def header_only(b: dict[str, Any] | None, full: bool) -> dict[str, Any] | None:
            if b is None or full:
                return b
            return {**b, "transactions": [t["hash"] for t in b["transactions"]]}

        def block_number(_: list[Any]) -> str:
            return hex(self.tip)

        def by_number(p: list[Any]) -> Any:
            n = self.tip if p[0] == "latest" else _quantity(p[0])
            return header_only(self.block(n), bool(p[1]) if len(p) > 1 else False)

        def by_hash(p: list[Any]) -> Any:
            return header_only(self.by_hash(p[0]), bool(p[1]) if len(p) > 1 else False)

        def witness(p: list[Any]) -> Any:
            if len(p) == 1 and isinstance(p[0], dict):
                n, h = _quantity(p[0].get("blockNumber")), p[0].get("blockHash")
            elif len(p) == 2 and isinstance(p[0], str) and p[0].isdigit():
                n, h = int(p[0]), p[1]
            else:
                raise invalid_params("expected {blockNumber, blockHash} or [decimal number, hash]")
            b = self.block(n)
            if b is None or b["hash"] != h:
                return None
            real = self.blocks[n]
            return self.witnesses.get(bytes.fromhex(real["hash"][2:]))  # a fork sibling has the same parent

        def code(p: list[Any]) -> Any:
            self.code_requests.append(p[0])
            c = self.codes.get(bytes.fromhex(p[0][2:]))
            return None if c is None else "0x" + c.hex()

        def set_validated(p: list[Any]) -> Any:
            (first_no, first_hash), (last_no, last_hash) = p
            ok = all((b := self.block(n)) is not None and b["hash"] == h
                     for n, h in ((first_no, first_hash), (last_no, last_hash)))
            if ok:
                self.reports.append(((first_no, first_hash), (last_no, last_hash)))
                self.last_validated = (last_no, last_hash)
            last = self.last_validated or (0, "0x" + "00" * 32)
            return {"accepted": ok, "lastValidatedBlock": [last[0], last[1]]}

        table = {"eth_blockNumber": block_number, "eth_getBlockByNumber": by_number,
                 "eth_getBlockByHash": by_hash, "mega_getBlockWitness": witness, "eth_getCodeByHash": code,
                 "mega_setValidatedBlocks": set_validated}
        return {name: counted(name, fn) for name, fn in table.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FixtureServer:
    """The chain's JSON-RPC server on 127.0.0.1, in a background thread with its own event loop."""

    def __init__(self, chain: FixtureChain, port: int | None = None) -> None:
        self.chain = chain
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._runner = web.AppRunner(make_app(self.chain.methods()), handle_signals=False)
                loop.run_until_complete(self._runner.setup())
                loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
            except BaseException as e:  # noqa: BLE001 - reported to start()
                failure.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=main, name=f"fixture-rpc-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise TimeoutError("fixture server did not start")
        if failure:
            raise failure[0]

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = self._runner = None

    def __enter__(self) -> FixtureServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


# ---- running a validator against it ----

FAST = dict(poll_s=0.05, backoff_first_s=0.05, backoff_cap_s=0.2, rpc_timeout_s=5.0)


def chain(testdata: Path, tip: int) -> FixtureChain:
    """A fresh served chain over the (cached) fixtures, visible up to `tip`."""
    blocks, witnesses, codes = load_fixture_chain(testdata)
    return FixtureChain(dict(blocks), dict(witnesses), dict(codes), tip=tip)


def settings(url: str, data_dir: Path, **kw: Any) -> OnlineSettings:
    return replace(OnlineSettings(rpc_url=url, data_dir=data_dir, workers=2, **FAST), **kw)  # type: ignore[arg-type]


class Run:
    """An `OnlineValidator` in a daemon thread; `join` returns its exit status (bounded wait)."""

    def __init__(self, s: OnlineSettings, pool: WorkerPool | None = None) -> None:
        self.stop = threading.Event()
        self.metrics = Metrics()
        self.validator = OnlineValidator(s, pool=pool, metrics=self.metrics, stop=self.stop)
        self.status: int | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        self.status = self.validator.run()

    def join(self, timeout: float) -> int:
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.stop.set()
            self.thread.join(30)
            raise AssertionError(f"validator did not finish within {timeout} s")
        assert self.status is not None
        return self.status


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def metric(m: Metrics, name: str, **labels: str) -> float:
    v = m.registry.get_sample_value(name, labels or None)
    return 0.0 if v is None else v
