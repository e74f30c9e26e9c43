"""`recover_senders` (one C call for many signatures) against coincurve one by one, and the intake's
`SenderRecovery` keeping arrival order."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from coincurve import PrivateKey

import megaeth_node.ecrecover as ecrecover
from megaeth_node.errors import InvalidTransaction
from megaeth_node.sequencer import SenderRecovery
from megaeth_node.types import SECP256K1_N, ChainDataError, Transaction

KEYS = [PrivateKey(bytes([i + 1]) * 32) for i in range(4)]


def _signed(i: int, nonce: int) -> Transaction:
    tx = Transaction(type=2, nonce=nonce, gas=60_000, to=b"\x5e" * 20, value=1, data=b"", chain_id=6342,
                     max_priority_fee_per_gas=1, max_fee_per_gas=10**9)
    sig = KEYS[i % 4].sign_recoverable(tx.signing_hash(), hasher=None)
    return replace(tx, r=int.from_bytes(sig[:32], "big"), s=int.from_bytes(sig[32:64], "big"), v=sig[64])


def _outcome(tx: Transaction, signing_hash: bytes | None) -> bytes | str:
    try:
        return tx.recover_sender(signing_hash)
    except ChainDataError as e:
        return f"error: {e}"


def _cases() -> list[tuple[Transaction, bytes | None]]:
    good = [_signed(i, i) for i in range(6)]
    bad = [replace(good[0], r=0), replace(good[1], s=SECP256K1_N - good[1].s),  # r = 0, high s (EIP-2)
           replace(good[2], r=SECP256K1_N - 1), replace(good[3], s=0), replace(good[4], value=2)]  # other signer
    deposit = Transaction(type=0x7E, nonce=0, gas=1, to=None, value=0, data=b"", source_hash=b"\x01" * 32,
                          deposit_sender=b"\xde" * 20, mint=0)
    return [(tx, None) for tx in good[:3]] + [(good[3], good[3].signing_hash())] + [
        (tx, None) for tx in [*bad, deposit, *good[4:]]]


@pytest.mark.parametrize("native", [True, False])
def test_recover_senders_matches_coincurve(native: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if native:
        assert ecrecover._batch() is not None, "the C helper did not build"
    else:
        monkeypatch.setattr(ecrecover, "_batch", lambda: None)
    cases = _cases()
    got = [f"error: {r}" if isinstance(r, ChainDataError) else r for r in ecrecover.recover_senders(cases)]
    assert got == [_outcome(tx, h) for tx, h in cases]
    assert sum(isinstance(r, bytes) for r in got) == 8 and sum(isinstance(r, str) for r in got) == 4


def test_sender_recovery_answers_in_arrival_order() -> None:
    """Submissions resume in the order they came, across bursts, with bad signatures failing alone."""
    recovery = SenderRecovery()
    cases = _cases()

    async def go() -> list[tuple[int, bytes | str]]:
        done: list[tuple[int, bytes | str]] = []

        async def one(i: int, tx: Transaction, signing_hash: bytes | None) -> None:
            try:
                done.append((i, await recovery.recover(tx, signing_hash)))
            except InvalidTransaction as e:
                done.append((i, str(e)))

        first = [asyncio.create_task(one(i, tx, h)) for i, (tx, h) in enumerate(cases)]
        await asyncio.sleep(0)  # the first burst is on the thread: these queue behind it
        second = [asyncio.create_task(one(len(cases) + i, tx, h)) for i, (tx, h) in enumerate(cases)]
        await asyncio.gather(*first, *second)
        return done

    try:
        done = asyncio.run(go())
    finally:
        recovery.close()
    assert [i for i, _ in done] == list(range(2 * len(cases)))
    want = [_outcome(tx, h) for tx, h in cases] * 2
    assert [r if isinstance(r, bytes) else r.removeprefix("invalid sender: ") for _, r in done] == \
           [w if isinstance(w, bytes) else w.removeprefix("error: ") for w in want]


def test_sender_recovery_after_close_and_across_loops() -> None:
    """A new event loop starts afresh; after `close()` a submission fails instead of waiting forever."""
    recovery = SenderRecovery()
    tx = _signed(0, 0)

    async def one() -> bytes:
        return await asyncio.wait_for(recovery.recover(tx, None), 10)

    assert asyncio.run(one()) == tx.recover_sender()
    assert asyncio.run(one()) == tx.recover_sender()
    recovery.close()
    with pytest.raises(RuntimeError):
        asyncio.run(one())
