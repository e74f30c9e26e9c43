"""Mempool: nonce ordering, pending vs queued, replacement bump, caps and eviction."""

from __future__ import annotations

import pytest

from megaeth_node.errors import AlreadyKnown, NonceTooLow, ReplacementUnderpriced, TxPoolFull
from megaeth_node.mempool import Mempool
from megaeth_node.types import Transaction

A, B, C = b"\xaa" * 20, b"\xbb" * 20, b"\xcc" * 20
BASE_FEE = 100


def tx(nonce: int, max_fee: int = 1000, tip: int = 10, salt: int = 0) -> Transaction:
    return Transaction(type=2, chain_id=1, nonce=nonce, gas=21000, to=b"\x01" * 20, value=salt, data=b"",
                       max_fee_per_gas=max_fee, max_priority_fee_per_gas=tip, v=0, r=1, s=1)


def nonces(state: dict[bytes, int]) -> object:
    return lambda s: state.get(s, 0)


def test_pending_and_queued() -> None:
    pool = Mempool()
    for n in (0, 1, 3):
        pool.add(tx(n), A, 0)
    pending, queued = pool.split(nonces({}))
    assert [e.tx.nonce for e in pending] == [0, 1] and [e.tx.nonce for e in queued] == [3]
    assert pool.pending_nonce(A, 0) == 2
    pool.add(tx(2), A, 0)
    assert pool.pending_nonce(A, 0) == 4 and not pool.split(nonces({}))[1]


def test_nonce_too_low_and_already_known() -> None:
    pool = Mempool()
    with pytest.raises(NonceTooLow, match="nonce too low: next nonce 5, tx nonce 4"):
        pool.add(tx(4), A, 5)
    pool.add(tx(5), A, 5)
    with pytest.raises(AlreadyKnown, match="already known"):
        pool.add(tx(5), A, 5)


def test_replacement_needs_ten_percent_bump() -> None:
    pool = Mempool()
    pool.add(tx(0, max_fee=1000, tip=100), A, 0)
    with pytest.raises(ReplacementUnderpriced, match="replacement transaction underpriced"):
        pool.add(tx(0, max_fee=1099, tip=110, salt=1), A, 0)
    with pytest.raises(ReplacementUnderpriced):
        pool.add(tx(0, max_fee=2000, tip=109, salt=2), A, 0)
    new = tx(0, max_fee=1100, tip=110, salt=3)
    replaced = pool.add(new, A, 0)
    assert replaced is not None and pool.get(new.hash) and len(pool) == 1
    # geth's rounding (at least old * 110 // 100) and strictly higher: a zero tip must rise too
    pool.add(tx(0, max_fee=15, tip=15), B, 0)
    pool.add(tx(0, max_fee=16, tip=16, salt=1), B, 0)
    pool.add(tx(0, max_fee=100, tip=0), C, 0)
    with pytest.raises(ReplacementUnderpriced):
        pool.add(tx(0, max_fee=1000, tip=0, salt=1), C, 0)


def test_executable_order_best_tip_first_nonce_order_kept() -> None:
    pool = Mempool()
    pool.add(tx(0, tip=5), A, 0)
    pool.add(tx(1, tip=50), A, 0)
    pool.add(tx(0, tip=20), B, 0)
    pool.add(tx(0, max_fee=BASE_FEE - 1, tip=90), C, 0)
    order = [(e.sender, e.tx.nonce) for e in pool.executable(nonces({}), BASE_FEE)]
    assert order == [(B, 0), (A, 0), (A, 1)]


def test_included_transactions_are_dropped() -> None:
    pool = Mempool()
    for n in range(3):
        pool.add(tx(n), A, 0)
    pool.drop_below(A, 2)
    assert [e.tx.nonce for e in pool.split(nonces({A: 2}))[0]] == [2]


def test_per_sender_cap() -> None:
    pool = Mempool(max_per_sender=2)
    pool.add(tx(0), A, 0)
    pool.add(tx(1), A, 0)
    with pytest.raises(TxPoolFull):
        pool.add(tx(2), A, 0)


def test_global_cap_evicts_cheapest_tail_of_others() -> None:
    pool = Mempool(max_total=3)
    pool.add(tx(0, max_fee=500), A, 0)
    pool.add(tx(1, max_fee=400), A, 0)
    pool.add(tx(0, max_fee=900), B, 0)
    pool.add(tx(0, max_fee=700), C, 0)
    assert len(pool) == 3 and pool.pending_nonce(A, 0) == 1
    with pytest.raises(TxPoolFull, match="transaction underpriced"):  # not above the cheapest tail (A's 500)
        pool.add(tx(0, max_fee=500, salt=1), b"\xdd" * 20, 0)
    assert len(pool) == 3 and pool.pending_nonce(A, 0) == 1
    single = Mempool(max_total=1)
    single.add(tx(0), A, 0)
    with pytest.raises(TxPoolFull):
        single.add(tx(1), A, 0)
