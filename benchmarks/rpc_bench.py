"""JSON-RPC transaction throughput and realtime latency: our node vs Anvil and the Hardhat node, in one run.

For each target (a local process on 127.0.0.1 that this script starts and stops):
  * batched: signed transfers sent as JSON-RPC arrays of `--batch` (100) `eth_sendRawTransaction`s (for the
    Hardhat node, whose automine refuses a nonce above the next one and runs a batch's entries concurrently,
    an array holds at most one transaction per sender, the next array going out after the reply);
  * single:  the same, one HTTP request per transaction;
  rate = transactions / (first send → every sender's `latest` nonce shows all of them executed).
  For our node "executed" means in a durable mini-block (what `latest` state reads see); the block seal
  follows within `--block-time`. Anvil and the Hardhat node automine: a block as soon as transactions
  arrive (Anvil puts in it what its pool holds, the Hardhat node one transaction).
  Every target is started first; then `--rounds` (3) rounds, each running the batched phase on every
  target in turn, then the single phase, so that a slower spell of this shared machine weighs on all of
  them alike; a target's rate is the median of its rounds (each round's figures are in `*_detail`).
Against our node only: `eth_sendRawTransactionSync` latency p50/p99 at a steady `--sync-rate` (500) tx/s.

The load generator is kept off the critical path: every transaction is pre-signed before the clock
starts (in a process pool), several worker processes on uvloop send over keep-alive connections (aiohttp
for arrays, a lean HTTP/1.1 protocol for single requests: `Connection`), and many
sender accounts (derived from the dev mnemonic, m/44'/60'/0'/0/10+i, funded in the set-up) keep each
sender's nonce chain short. All loops are bounded by counts and deadlines. Before each measurement every
target is left to finish its work (start-up, or an earlier round's block seals) until its process tree is
idle (`settle`; the wait is reported as `settled_s`).

    .venv/bin/python benchmarks/rpc_bench.py --json benchmarks/out/rpc.json

Anvil comes from the npm package @foundry-rs/anvil (its platform package ships the binary) and the
Hardhat node from npm `hardhat` 2.x, both installed by `make js-deps` into tests/js/node_modules.
A round that fails (a target that cannot be started; a request unanswered for `REPLY_TIMEOUT_S`; no
transaction executed for `STALL_S` while some are due: Anvil's automine stops mining under concurrent
sends, foundry-rs/foundry#10122, leaving them pending in its pool, more often the more a round sends) is
tried again on a fresh process (`--attempts`); each failure's reason is in `notes`, and a target with no
measured round is reported as null.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import multiprocessing as mp
import os
import platform
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import requests
import uvloop
from eth_account import Account
from eth_utils import to_checksum_address

REPO = Path(__file__).resolve().parent.parent
JS = REPO / "tests" / "js"
MNEMONIC = "test test test test test test test test test test test junk"
DEV_KEYS = 10
SINK = to_checksum_address("0x" + "5e" * 20)
GAS = 60_000  # MegaETH's intrinsic gas for a transfer; Anvil and Hardhat charge 21,000 of it
MAX_FEE = 20 * 10**9
TIP = 10**9
FUND = 50 * 10**18
# a phase's array or single request unanswered this long, or no transaction executed for STALL_S while some are
# still to come, fails the phase (Anvil's automine stops mining under concurrent sends: foundry-rs/foundry#10122)
REPLY_TIMEOUT_S = 30
STALL_S = 10
# what a sender process reports as its phase's failure (TypeError, KeyError: a reply that is not a JSON-RPC object)
SENDER_ERRORS = (OSError, ValueError, TypeError, KeyError, TimeoutError, aiohttp.ClientError)


# -- keys and signing (process pool) --

def derive_keys(start: int, count: int) -> list[str]:
    Account.enable_unaudited_hdwallet_features()
    return ["0x" + Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key.hex()
            for i in range(start, start + count)]


def _derive_one(i: int) -> str:
    return derive_keys(i, 1)[0]


def _sign(job: tuple[str, int, int, int, str, int]) -> str:
    key, chain_id, nonce, count, to, value = job
    acct = Account.from_key(key)
    out = []
    for k in range(count):
        signed = acct.sign_transaction({"type": 2, "chainId": chain_id, "nonce": nonce + k, "to": to, "value": value,
                                        "gas": GAS, "maxFeePerGas": MAX_FEE, "maxPriorityFeePerGas": TIP})
        out.append("0x" + signed.raw_transaction.hex())
    return json.dumps(out)


def sign_all(pool: Any, jobs: list[tuple[str, int, int, int, str, int]]) -> list[list[str]]:
    """Per job (one sender): `count` transfers with consecutive nonces."""
    return [json.loads(x) for x in pool.map(_sign, jobs, chunksize=max(1, len(jobs) // 32))]


# -- plain JSON-RPC helpers (set-up and completion checks, not timed sending) --

def rpc(url: str, method: str, params: list[Any], timeout: float = 30) -> Any:
    reply = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=timeout).json()
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


def rpc_batch(url: str, calls: list[tuple[str, list[Any]]], timeout: float = 60) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(calls), 100):
        body = [{"jsonrpc": "2.0", "id": i + j, "method": m, "params": p} for j, (m, p) in enumerate(calls[i:i + 100])]
        replies = requests.post(url, json=body, timeout=timeout).json()
        out.extend(sorted(replies, key=lambda r: r["id"]))
    return out


def nonces(url: str, addrs: list[str], tag: str = "latest") -> list[int]:
    replies = rpc_batch(url, [("eth_getTransactionCount", [a, tag]) for a in addrs])
    return [int(r["result"], 16) for r in replies]


def wait_nonces(url: str, addrs: list[str], want: list[int], deadline: float, interval: float = 0.02,
                stall_s: float | None = None) -> float | None:
    """Poll until every address's `latest` nonce reaches `want`; the monotonic time it did, or None at the
    deadline, or once no address's nonce has moved for `stall_s` seconds (a target that stopped executing)."""
    progress, moved = -1, time.monotonic()
    while time.monotonic() < deadline:
        got = nonces(url, addrs)
        if all(g >= w for g, w in zip(got, want)):
            return time.monotonic()
        if sum(got) != progress:
            progress, moved = sum(got), time.monotonic()
        elif stall_s is not None and time.monotonic() - moved > stall_s:
            return None
        time.sleep(interval)
    return None


def pool_pending(url: str) -> int | None:
    """The target's pending pool size by `txpool_status`, None where it has no such method."""
    try:
        return int(rpc(url, "txpool_status", [], timeout=5)["pending"], 16)
    except (requests.RequestException, RuntimeError, KeyError, TypeError, ValueError):
        return None


# -- targets --

@dataclass
class Target:
    name: str
    url: str
    chain_id: int
    proc: subprocess.Popen[bytes]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # exited between the listing and the read
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live descendants (our node's sealer process, Hardhat's workers)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += cpu_seconds(p)
        for children in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in children.read_text().split())
            except OSError:
                pass
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def target_command(name: str, port: int, data_dir: Path, block_time_ms: int) -> tuple[list[str], Path]:
    if name == "ours":
        return [sys.executable, "-m", "megaeth_node.cli", "run", "--ephemeral", "--data-dir", str(data_dir / "ours"),
                "--port", str(port), "--block-time", str(block_time_ms)], REPO
    if name == "anvil":
        binary = JS / "node_modules" / ".bin" / "anvil"
        if not binary.exists():
            raise FileNotFoundError(f"{binary} missing: `make js-deps` installs npm @foundry-rs/anvil")
        return [str(binary), "--host", "127.0.0.1", "--port", str(port), "--accounts", str(DEV_KEYS),
                "--balance", "100000"], REPO
    if name == "hardhat":
        binary = JS / "node_modules" / ".bin" / "hardhat"
        if not binary.exists():
            raise FileNotFoundError(f"{binary} missing: `make js-deps` installs npm hardhat 2.x")
        return [str(binary), "node", "--hostname", "127.0.0.1", "--port", str(port)], JS / "hardhat"
    raise ValueError(name)


@contextmanager
def running(name: str, data_dir: Path, block_time_ms: int) -> Iterator[Target]:
    port = free_port()
    cmd, cwd = target_command(name, port, data_dir, block_time_ms)
    log_path = data_dir / f"{name}-{port}.log"  # one per start: a retry keeps the failed start's log
    log = open(log_path, "wb")
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {log_path}")
            try:
                chain_id = int(rpc(url, "eth_chainId", [], timeout=1), 16)
                break
            except (requests.RequestException, RuntimeError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not ready after 90 s") from None
                time.sleep(0.2)
        yield Target(name, url, chain_id, proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()


def fund(t: Target, pool: Any, dev_keys: list[str], addrs: list[str]) -> None:
    """Each dev account sends FUND to its share of the bench senders, one request at a time (Hardhat's automine
    takes a nonce only once the previous one is mined); wait until all are executed."""
    dev_addrs = [Account.from_key(k).address for k in dev_keys]
    start = nonces(t.url, dev_addrs, "pending")
    shares = [addrs[i::len(dev_keys)] for i in range(len(dev_keys))]
    calls: list[tuple[str, list[Any]]] = []
    for key, n0, share in zip(dev_keys, start, shares):
        acct = Account.from_key(key)
        for k, to in enumerate(share):
            signed = acct.sign_transaction({"type": 2, "chainId": t.chain_id, "nonce": n0 + k, "to": to,
                                            "value": FUND, "gas": GAS, "maxFeePerGas": MAX_FEE,
                                            "maxPriorityFeePerGas": TIP})
            calls.append(("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()]))
    with requests.Session() as session:
        for method, params in calls:
            reply = session.post(t.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
                                 timeout=30).json()
            if "error" in reply:
                raise RuntimeError(f"funding on {t.name}: {reply['error']}")
    if wait_nonces(t.url, dev_addrs, [n + len(s) for n, s in zip(start, shares)], time.monotonic() + 120) is None:
        raise TimeoutError(f"funding on {t.name} not executed after 120 s")


def settle(t: Target, window: float = 0.5, idle: float = 0.05, limit: float = 30.0) -> float:
    """Wait until the target's process tree is idle, its CPU over `window` s below `idle` of a core (start-up
    work done: our node's sealer process builds its curve tables a few seconds after the node answers), at
    most `limit` s; the same wait for every target. Returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        before = tree_cpu_seconds(t.proc.pid)
        time.sleep(window)
        if tree_cpu_seconds(t.proc.pid) - before < idle * window:
            break
    return round(time.monotonic() - start, 2)


# -- timed sending (worker processes) --

class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: POST a JSON-RPC body, read the reply. A protocol on uvloop rather
    than asyncio streams (~65 us of CPU a request here) or aiohttp's client (~230 us): the single-request
    senders share this 2-core machine with the target, so that what they spend is not taken from it."""

    def __init__(self, url: str) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = parsed.hostname or "127.0.0.1", parsed.port or 80, parsed.path or "/"
        self._head = (b"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                      b"Content-Length: " % (self.path.encode(), self.host.encode(), self.port))
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._reply: asyncio.Future[bytes] | None = None

    async def post(self, body: bytes) -> Any:
        """The JSON reply to `body`; ValueError for a reply that is not a 200 with a readable body, OSError
        when the connection drops."""
        loop = asyncio.get_running_loop()
        if self._reply is not None and not self._reply.done():
            raise ValueError("a request is already waiting for its reply on this connection")
        reply = self._reply = loop.create_future()  # before connecting: a second post() sees it
        if self._transport is None:
            try:
                await loop.create_connection(lambda: self, self.host, self.port)
            except BaseException:
                self._reply = None
                raise
        if self._transport is not None and not reply.done():  # else lost at once: `reply` holds the error
            self._transport.write(b"%s%d\r\n\r\n%s" % (self._head, len(body), body))
        return json.loads(await reply)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._buf.clear()  # a reply cut short on an earlier connection is not part of this one's

    def data_received(self, data: bytes) -> None:
        self._buf += data
        try:
            parsed = _parse_reply(self._buf)
        except ValueError as e:  # the connection's framing is lost: drop it
            self._buf.clear()
            self._finish(error=e)
            self.close()
            return
        if parsed is not None:
            payload, used = parsed
            del self._buf[:used]
            self._finish(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._finish(error=ConnectionError(f"connection lost: {exc}"))

    def _finish(self, payload: bytes = b"", error: Exception | None = None) -> None:
        reply, self._reply = self._reply, None
        if reply is not None and not reply.done():
            if error is not None:
                reply.set_exception(error)
            else:
                reply.set_result(payload)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _parse_reply(buf: bytearray) -> tuple[bytes, int] | None:
    """(body, bytes used) of the complete HTTP reply at the start of `buf`, None while it is incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    status, *lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    if status.split(" ")[1:2] != ["200"]:
        raise ValueError(f"HTTP reply {status!r}")
    headers = {k.strip().lower(): v.strip().lower() for k, _, v in (x.partition(":") for x in lines if x)}
    pos = end + 4
    if headers.get("transfer-encoding") != "chunked":  # chunked framing wins over a length (RFC 9112 §6.3)
        if "content-length" not in headers:
            raise ValueError(f"HTTP reply without a length: {headers}")
        length = int(headers["content-length"])
        return (bytes(buf[pos:pos + length]), pos + length) if len(buf) >= pos + length else None
    payload = b""
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
        pos = line_end + 2
        if size == 0:
            break
        if len(buf) < pos + size + 2:
            return None
        if buf[pos + size:pos + size + 2] != b"\r\n":
            raise ValueError("HTTP chunk not followed by CRLF")
        payload += buf[pos:pos + size]
        pos += size + 2
    while True:  # trailer fields, then the blank line
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        blank, pos = line_end == pos, line_end + 2
        if blank:
            return payload, pos


def _worker(url: str, mode: str, chains: list[list[str]], batch: int, concurrency: int, go_at: float,
            nonce_safe: bool, out: Any) -> None:
    """Send pre-signed chains (one list per sender, nonce order). `batched`: arrays of `batch` requests, several
    senders' consecutive slices per array (`nonce_safe`: one transaction per sender per array); `single`: one
    request per tx, `concurrency` senders in flight."""
    async def main() -> dict[str, Any]:
        errors: list[str] = []
        conn = aiohttp.TCPConnector(limit=concurrency, force_close=False)
        async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=REPLY_TIMEOUT_S)) as session:
            async def post(body: Any) -> Any:
                async with session.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"}) as r:
                    return await r.json(content_type=None)

            if mode == "batched":
                await asyncio.sleep(max(0.0, go_at - time.time()))
                t0 = time.monotonic()
                # Interleave the senders' chains so one array holds e.g. 10 senders x 10 consecutive nonces.
                lanes = [chains[i::concurrency] for i in range(concurrency)]

                async def lane(my: list[list[str]]) -> None:
                    if not my:
                        return
                    per = 1 if nonce_safe else max(1, batch // len(my))
                    pos = 0
                    longest = max(len(c) for c in my)
                    while pos < longest:
                        body = [{"jsonrpc": "2.0", "id": j, "method": "eth_sendRawTransaction",
                                 "params": [raw]} for j, raw in enumerate(x for c in my for x in c[pos:pos + per])]
                        pos += per
                        for k in range(0, len(body), batch):
                            replies = await post(body[k:k + batch])
                            errors.extend(str(r["error"]) for r in (replies if isinstance(replies, list) else [replies])
                                          if "error" in r)
                await asyncio.gather(*(lane(x) for x in lanes))
            else:
                # request bytes made before the clock starts, like the signatures
                bodies = [[json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
                                       "params": [raw]}).encode() for raw in c] for c in chains]
                connections = [Connection(url) for _ in range(concurrency)]
                await asyncio.wait_for(asyncio.gather(*(  # connected before the clock starts
                    c.post(b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}') for c in connections)), 30)
                if time.time() > go_at:  # the parent's clock started before this sender was ready
                    raise TimeoutError(f"sender set-up overran the start by {time.time() - go_at:.3f} s")
                await asyncio.sleep(go_at - time.time())
                t0 = time.monotonic()

                async def runner(conn: Connection) -> None:
                    while bodies:
                        for body in bodies.pop():
                            reply = await conn.post(body)
                            if "error" in reply:
                                errors.append(str(reply["error"]))
                try:
                    await asyncio.wait_for(asyncio.gather(*(runner(c) for c in connections)), 4 * REPLY_TIMEOUT_S)
                finally:
                    for c in connections:
                        c.close()
            return {"send_s": time.monotonic() - t0, "errors": errors[:5], "n_errors": len(errors)}
    try:
        out.put(uvloop.run(main()))
    except SENDER_ERRORS as e:  # reported, not a hung parent
        reason = str(e) or (f"no reply within {REPLY_TIMEOUT_S} s" if isinstance(e, TimeoutError) else "")
        out.put({"failed": f"{type(e).__name__}: {reason}"})


def _sync_worker(url: str, chains: list[list[str]], rate: float, go_at: float, offset: float, out: Any) -> None:
    """Open loop: tx k of this worker at go_at + offset + k/rate, round-robin over its senders; record latency."""
    async def main() -> dict[str, Any]:
        order = [c[i] for i in range(max(len(c) for c in chains)) for c in chains if i < len(c)]
        lat: list[float] = []
        errors: list[str] = []
        lateness: list[float] = []
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=30)) as session:
            async def one(raw: str) -> None:
                t = time.perf_counter()
                body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransactionSync", "params": [raw, 5000]})
                async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                    reply = await r.json(content_type=None)
                if "error" in reply:
                    errors.append(str(reply["error"]))
                else:
                    lat.append((time.perf_counter() - t) * 1000)

            # Warm the connection pool so the first requests do not pay for TCP set-up.
            await asyncio.gather(*(session.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})
                                   for _ in range(8)))
            tasks = []
            start = go_at + offset
            for k, raw in enumerate(order):
                due = start + k / rate
                delay = due - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                lateness.append(max(0.0, time.time() - due) * 1000)
                tasks.append(asyncio.create_task(one(raw)))
            await asyncio.gather(*tasks)
        return {"lat": lat, "errors": errors[:5], "n_errors": len(errors),
                "max_send_lateness_ms": max(lateness) if lateness else 0.0}
    try:
        out.put(uvloop.run(main()))
    except SENDER_ERRORS as e:  # reported, not a hung parent
        out.put({"failed": f"{type(e).__name__}: {e}"})


def run_workers(target_fn: Any, args_per_worker: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=target_fn, args=(*a, q)) for a in args_per_worker]
    for p in procs:
        p.start()
    try:
        results = [q.get(timeout=300) for _ in procs]
    except queue.Empty:
        raise TimeoutError("senders gave no result in 300 s") from None
    finally:
        _stop(procs)
    failed = [r["failed"] for r in results if "failed" in r]
    if failed:
        raise RuntimeError(f"sending failed: {failed[0]}")
    return results


def _stop(procs: list[Any]) -> None:
    """Join the sender processes; stop any still running (a target that hung them)."""
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.terminate()
            p.join(5)


def throughput(t: Target, pool: Any, keys: list[str], addrs: list[str], mode: str, per_sender: int, procs: int,
               batch: int, concurrency: int) -> dict[str, Any]:
    start = nonces(t.url, addrs, "pending")
    chains = sign_all(pool, [(k, t.chain_id, n, per_sender, SINK, 1) for k, n in zip(keys, start)])
    total = sum(len(c) for c in chains)
    go_at = time.time() + 1.0  # the senders start, connect and are idle by then
    shares = [chains[i::procs] for i in range(procs)]
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    nonce_safe = t.name == "hardhat"
    ps = [ctx.Process(target=_worker, args=(t.url, mode, s, batch, concurrency, go_at, nonce_safe, q))
          for s in shares]
    for p in ps:
        p.start()
    time.sleep(max(0.0, go_at - time.time()))
    t0, cpu0, tree0 = time.monotonic(), cpu_seconds(t.proc.pid), tree_cpu_seconds(t.proc.pid)
    try:
        results = [q.get(timeout=300) for _ in ps]
    except queue.Empty:
        raise TimeoutError(f"{mode} senders on {t.name} gave no result in 300 s") from None
    finally:
        _stop(ps)
    failed = [r["failed"] for r in results if "failed" in r]
    if failed:
        raise RuntimeError(f"{mode} sending to {t.name} failed: {failed[0]}")
    sent = time.monotonic()
    done = wait_nonces(t.url, addrs, [n + per_sender for n in start], time.monotonic() + 120, stall_s=STALL_S)
    if done is None:
        got, pending = sum(nonces(t.url, addrs)) - sum(start), pool_pending(t.url)
        raise TimeoutError(f"{mode} on {t.name}: {got} of {total} transactions executed, then none for {STALL_S} s"
                           + ("" if pending is None else f", {pending} pending in its pool"))
    cpu = cpu_seconds(t.proc.pid) - cpu0
    tree_cpu = tree_cpu_seconds(t.proc.pid) - tree0
    return {"txs": total, "send_s": round(sent - t0, 3), "errors": sum(r["n_errors"] for r in results),
            "error_samples": [e for r in results for e in r["errors"]][:3], "load_avg_1m": os.getloadavg()[0],
            "tps": round(total / (done - t0), 1), "total_s": round(done - t0, 3),
            "target_cpu_ms_per_tx": round(cpu * 1000 / total, 3),
            "target_tree_cpu_ms_per_tx": round(tree_cpu * 1000 / total, 3),
            "target_cpu_cores": round(cpu / (done - t0), 2)}


def sync_latency(t: Target, pool: Any, keys: list[str], addrs: list[str], rate: float, seconds: float,
                 procs: int) -> dict[str, Any]:
    total = int(rate * seconds)
    per_sender = -(-total // len(keys))
    start = nonces(t.url, addrs, "pending")
    chains = sign_all(pool, [(k, t.chain_id, n, per_sender, SINK, 1) for k, n in zip(keys, start)])
    shares = [chains[i::procs] for i in range(procs)]
    go_at = time.time() + 1.0
    # Each worker sends rate/procs tx/s, phase-shifted so the merged stream is evenly spaced.
    cpu0, tree0 = cpu_seconds(t.proc.pid), tree_cpu_seconds(t.proc.pid)
    results = run_workers(_sync_worker, [(t.url, s, rate / procs, go_at, i / rate) for i, s in enumerate(shares)])
    cpu, tree_cpu = cpu_seconds(t.proc.pid) - cpu0, tree_cpu_seconds(t.proc.pid) - tree0
    lat = sorted(x for r in results for x in r["lat"])
    if not lat:
        return {"p50_ms": None, "p99_ms": None, "errors": sum(r["n_errors"] for r in results)}
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return {"txs": len(lat), "rate_tx_s": rate, "p50_ms": round(q[49], 2), "p90_ms": round(q[89], 2),
            "p99_ms": round(q[98], 2), "max_ms": round(lat[-1], 2), "mean_ms": round(statistics.fmean(lat), 2),
            "errors": sum(r["n_errors"] for r in results),
            "error_samples": [e for r in results for e in r["errors"]][:3],
            "max_send_lateness_ms": round(max(r["max_send_lateness_ms"] for r in results), 2),
            "target_cpu_ms_per_tx": round(cpu * 1000 / len(lat), 3),
            "target_tree_cpu_ms_per_tx": round(tree_cpu * 1000 / len(lat), 3), "load_avg_1m": os.getloadavg()[0]}


class Targets:
    """The running targets, each started on demand with its bench senders funded; a target that failed a
    round is replaced by a fresh process (`restart`), one that is not installed is not tried again (`missing`)."""

    def __init__(self, pool: Any, dev_keys: list[str], addrs: list[str], data_dir: Path, block_time_ms: int) -> None:
        self.pool, self.dev_keys, self.addrs = pool, dev_keys, addrs
        self.data_dir, self.block_time_ms = data_dir, block_time_ms
        self.missing: set[str] = set()
        self._stacks: dict[str, ExitStack] = {}
        self._live: dict[str, Target] = {}

    def get(self, name: str) -> Target:
        if name not in self._live:
            stack = self._stacks[name] = ExitStack()
            try:
                t = stack.enter_context(running(name, self.data_dir, self.block_time_ms))
                fund(t, self.pool, self.dev_keys, self.addrs)
            except BaseException:
                stack.close()
                raise
            self._live[name] = t
        return self._live[name]

    def quiet(self) -> float:
        """Wait until every running target is idle (`settle`): none still works off an earlier round (our
        node seals its blocks after their mini-blocks) while another is measured. Returns the seconds waited."""
        return round(sum(settle(t) for t in self._live.values()), 2)

    def restart(self, name: str) -> None:
        self._live.pop(name, None)
        stack = self._stacks.pop(name, None)
        if stack is not None:
            stack.close()

    def close(self) -> None:
        for name in list(self._stacks):
            self.restart(name)


def _measure(targets: Targets, name: str, label: str, attempts: int, notes: dict[str, str],
             fn: Any) -> dict[str, Any] | None:
    """`fn(target)` once every target is idle, tried `attempts` times, each failure noted and the target
    restarted; None if all failed. The result gets the wait for idleness as `settled_s`."""
    for attempt in range(1, max(1, attempts) + 1):
        if name in targets.missing:
            return None
        try:
            t = targets.get(name)
            quiet_s = targets.quiet()
            out = fn(t)
            out["settled_s"] = quiet_s
            return out  # type: ignore[no-any-return]
        except (OSError, RuntimeError, TimeoutError) as e:
            print(f"   {name} {label}: attempt {attempt} not measured: {e}", flush=True)
            notes[f"{name}_{label}_attempt_{attempt}"] = f"not measured: {e}"
            targets.restart(name)
            if isinstance(e, FileNotFoundError):  # not installed: another try cannot help
                targets.missing.add(name)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--targets", default="ours,anvil,hardhat")
    ap.add_argument("--senders", type=int, default=100, help="bench sender accounts (derived, funded in set-up)")
    ap.add_argument("--batched-per-sender", type=int, default=20, help="txs per sender in the batched run")
    ap.add_argument("--single-per-sender", type=int, default=10, help="txs per sender in the single-request run")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--procs", type=int, default=3, help="load-generator processes")
    ap.add_argument("--concurrency", type=int, default=16, help="requests in flight per process (single run)")
    ap.add_argument("--batch-concurrency", type=int, default=2, help="arrays in flight per process (batched run)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of the throughput phases, each round over every target in turn (default: 3)")
    ap.add_argument("--sync-rate", type=float, default=500.0)
    ap.add_argument("--sync-seconds", type=float, default=10.0)
    ap.add_argument("--block-time", type=int, default=1000, help="our node's --block-time (ms)")
    ap.add_argument("--attempts", type=int, default=3,
                    help="tries of a phase's round, each on a fresh process after a failure (default: 3)")
    args = ap.parse_args()

    names = args.targets.split(",")
    data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"rpc_bench_{os.getpid()}"
    data_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_avg_1m_start": os.getloadavg()[0], "python": platform.python_version()},
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "notes": {},
    }
    detail: dict[str, dict[str, Any]] = {name: {"batched": [], "single": []} for name in names}
    with mp.get_context("fork").Pool(min(4, os.cpu_count() or 2)) as pool:
        dev_keys = derive_keys(0, DEV_KEYS)
        keys = pool.map(_derive_one, range(DEV_KEYS, DEV_KEYS + args.senders))
        addrs = [Account.from_key(k).address for k in keys]
        targets = Targets(pool, dev_keys, addrs, data_dir, args.block_time)
        try:
            for name in names:  # all started (and idle) before the first round
                _measure(targets, name, "start", args.attempts, result["notes"], lambda t: {})
            for rnd in range(1, max(1, args.rounds) + 1):
                for phase in ("batched", "single"):
                    per_sender = args.batched_per_sender if phase == "batched" else args.single_per_sender
                    concurrency = args.batch_concurrency if phase == "batched" else args.concurrency
                    run = functools.partial(throughput, pool=pool, keys=keys, addrs=addrs, mode=phase,
                                            per_sender=per_sender, procs=args.procs, batch=args.batch,
                                            concurrency=concurrency)
                    for name in names:
                        out = _measure(targets, name, f"{phase}_round_{rnd}", args.attempts, result["notes"], run)
                        print(f"== {name} {phase:7} round {rnd}: {out}", flush=True)
                        if out is not None:
                            detail[name][phase].append(out)
            if "ours" in names:
                out = _measure(targets, "ours", "sync", args.attempts, result["notes"],
                               lambda t: sync_latency(t, pool, keys, addrs, args.sync_rate, args.sync_seconds,
                                                      args.procs))
                print(f"== ours sync: {out}", flush=True)
                detail["ours"]["sync"] = out
                result["sync_p50_ms"], result["sync_p99_ms"] = (out or {}).get("p50_ms"), (out or {}).get("p99_ms")
        finally:
            targets.close()
    for name in names:
        result[f"{name}_detail"] = detail[name]
        for phase in ("batched", "single"):
            rates = [r["tps"] for r in detail[name][phase]]
            result[f"{name}_{phase}_tps"] = round(statistics.median(rates), 1) if rates else None
            result[f"{name}_{phase}_tps_rounds"] = rates
    for key in ("sync_p50_ms", "sync_p99_ms", *(f"{n}_{p}_tps" for n in ("ours", "anvil", "hardhat")
                                                  for p in ("batched", "single"))):
        result.setdefault(key, None)  # every figure the issue names, null where not measured
    result["machine"]["load_avg_1m_end"] = os.getloadavg()[0]
    a_b, a_s = result.get("anvil_batched_tps"), result.get("anvil_single_tps")
    o_b, o_s = result.get("ours_batched_tps"), result.get("ours_single_tps")
    result["targets_met"] = {
        "batched_ge_anvil": None if not (a_b and o_b) else o_b >= a_b,
        "single_ge_2x_anvil": None if not (a_s and o_s) else o_s >= 2 * a_s,
        "sync_p50_le_5ms": None if result["sync_p50_ms"] is None else result["sync_p50_ms"] <= 5,
        "sync_p99_le_20ms": None if result["sync_p99_ms"] is None else result["sync_p99_ms"] <= 20,
    }
    keys_out = ["ours_batched_tps", "anvil_batched_tps", "hardhat_batched_tps", "ours_single_tps", "anvil_single_tps",
                "hardhat_single_tps", "sync_p50_ms", "sync_p99_ms"]
    print(json.dumps({k: result.get(k) for k in keys_out} | {"targets_met": result["targets_met"]}, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if result["notes"]:
        print(f"the targets' logs are kept in {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
