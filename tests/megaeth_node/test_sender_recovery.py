"""SenderRecovery: the sender of every submission as recover_address gives it, in submission order, whether
recovered in its process, on the loop, or on the loop after the process died."""

from __future__ import annotations

import asyncio
import os
import signal

from coincurve import PrivateKey

from megaeth_node.sequencer import SenderRecovery
from megaeth_node.types import ChainDataError, keccak, recover_address

KEYS = [PrivateKey(bytes([i + 1]) * 32) for i in range(30)]


def _jobs(n: int) -> list[tuple[bytes, bytes]]:
    """(signature, hash) pairs; every 7th signature does not recover (r = 5: no curve point has x = 5)."""
    jobs = []
    for i in range(n):
        msg = keccak(b"job %d" % i)
        sig = KEYS[i % len(KEYS)].sign_recoverable(msg, hasher=None)
        jobs.append((bytes(31) + b"\x05" + bytes(31) + b"\x01\x00" if i % 7 == 3 else sig, msg))
    return jobs


def _expected(sig: bytes, msg: bytes) -> bytes | str:
    try:
        return recover_address(sig, msg)
    except ChainDataError as e:
        return str(e)


async def _recover_all(rec: SenderRecovery, jobs: list[tuple[bytes, bytes]]) -> list[bytes | str]:
    futs = [rec.recover(sig, msg) for sig, msg in jobs]
    out: list[bytes | str] = []
    for fut in futs:
        try:
            out.append(await fut)
        except ChainDataError as e:
            out.append(str(e))
    return out


async def _ready(rec: SenderRecovery) -> None:
    for _ in range(600):
        if rec._ready:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("recovery process not ready in 30 s")


def test_recovery_in_process_on_loop_and_after_a_crash() -> None:
    jobs = _jobs(40)
    want = [_expected(*j) for j in jobs]
    assert any(isinstance(w, str) for w in want) and any(isinstance(w, bytes) for w in want)

    async def main() -> None:
        rec = SenderRecovery()
        assert await _recover_all(rec, jobs) == want  # not started: on the loop
        rec.start()
        try:
            await _ready(rec)
            sent: list[int] = []
            send = rec._out.send_bytes  # type: ignore[union-attr]
            rec._out.send_bytes = (  # type: ignore[union-attr,method-assign]
                lambda b: (sent.append(len(b)), send(b)))
            assert await _recover_all(rec, jobs) == want  # one pass of 40 (>= MIN_BATCH): one round trip
            assert await _recover_all(rec, jobs[:31]) == want[:31]  # a small pass stays on the loop
            assert len(sent) == 1
            # a pass that does not fit in the pipe beside the one in flight is recovered here, at once
            rec._budget = sent[0] + 16 + 100
            first = [rec.recover(sig, msg) for sig, msg in jobs]
            await asyncio.sleep(0)
            second = [rec.recover(sig, msg) for sig, msg in jobs[-35:]]
            await asyncio.sleep(0)
            assert len(sent) == 2 and all(f.done() for f in second) and not any(f.done() for f in first)
            order: list[int] = []
            for i, fut in enumerate(first):
                fut.add_done_callback(lambda _, i=i: order.append(i))
            await asyncio.gather(*first, return_exceptions=True)
            assert order == list(range(40))
            got = [f.result() if f.exception() is None else str(f.exception()) for f in first + second]
            assert got == want + want[-35:]
            rec._budget = 1 << 19
            futs = [rec.recover(sig, msg) for sig, msg in jobs]  # sent, then the process is killed
            await asyncio.sleep(0)
            os.kill(rec._proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
            got = []
            for fut in futs:
                try:
                    got.append(await fut)
                except ChainDataError as e:
                    got.append(str(e))
            assert got == want
            for _ in range(100):  # the loop sees the pipe close
                if not rec._ready:
                    break
                await asyncio.sleep(0.05)
            assert not rec._ready
            assert await _recover_all(rec, jobs) == want  # from now on, on the loop
        finally:
            rec.close()

    asyncio.run(main())
