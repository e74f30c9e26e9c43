"""The overlay account DB: journal semantics py-evm relies on, original values, diff and key recording."""

from __future__ import annotations

import pytest

from megaeth_node.executor.accountdb import OverlayAccountDB
from megaeth_node.executor.state import KECCAK_EMPTY, Account, DictState, MissingStateKey, storage_key

A, B, C = b"\xaa" * 20, b"\xbb" * 20, b"\xcc" * 20


def _db() -> OverlayAccountDB:
    return OverlayAccountDB(DictState({A: Account(1, 100), B: Account(0, 5)}, {(A, 1): 7, (B, 2): 9}))


def test_reads_fall_through_to_the_reader() -> None:
    db = _db()
    assert (db.get_nonce(A), db.get_balance(A), db.get_storage(A, 1), db.get_storage(A, 2)) == (1, 100, 7, 0)
    assert db.account_exists(A) and not db.account_exists(C)
    assert db.get_code(A) == b"" and db.get_code_hash(C) == KECCAK_EMPTY


def test_discard_restores_and_commit_keeps() -> None:
    db = _db()
    outer = db.record()
    db.set_balance(A, 1)
    inner = db.record()
    db.set_storage(A, 1, 8)
    db.mark_address_warm(C)
    db.discard(inner)
    assert db.get_storage(A, 1) == 7 and not db.is_address_warm(C) and db.get_balance(A) == 1
    inner = db.record()
    db.set_storage(A, 1, 8)
    db.commit(inner)
    db.discard(outer)
    assert db.get_storage(A, 1) == 7 and db.get_balance(A) == 100


def test_original_value_is_the_value_at_transaction_start() -> None:
    db = _db()
    db.set_storage(A, 1, 8)
    assert db.get_storage(A, 1, from_journal=False) == 7
    db.lock_changes()
    db.set_storage(A, 1, 9)
    assert db.get_storage(A, 1, from_journal=False) == 8 and db.get_storage(A, 1) == 9


def test_current_and_original_is_get_storage_twice() -> None:
    """Through writes, a tx boundary, a wipe and a write after it, on written and untouched slots."""
    db = _db()

    def same() -> None:
        for address, slot in ((A, 1), (A, 2), (B, 2), (B, 3)):
            pair = db.get_storage(address, slot), db.get_storage(address, slot, from_journal=False)
            assert db.current_and_original(address, slot) == pair
    same()
    db.set_storage(A, 1, 8)
    same()
    db.lock_changes()
    db.set_storage(A, 1, 9)
    db.delete_account(B)
    same()
    db.set_storage(B, 3, 4)
    same()


def test_delete_wipes_storage_and_revert_brings_it_back() -> None:
    db = _db()
    cp = db.record()
    db.delete_account(B)
    assert db.get_storage(B, 2) == 0 and not db.account_exists(B)
    assert db.get_storage(B, 2, from_journal=False) == 9
    db.discard(cp)
    assert db.get_storage(B, 2) == 9 and db.account_exists(B)


def test_diff_lists_only_net_changes_and_records_keys() -> None:
    db = _db()
    db.set_balance(A, 50)
    db.set_storage(A, 1, 8)
    db.set_storage(A, 1, 7)  # changed back: no update
    db.set_storage(A, 3, 4)
    db.set_code(C, b"\x00")
    db.delete_account(B)
    diff = db.diff()
    assert diff.accounts == {A: Account(1, 50), B: None, C: Account(0, 0, diff.accounts[C].code_hash)}
    assert diff.storage == {(A, 3): 4}
    assert diff.storage_wiped == {B}
    assert storage_key(A, 1) in diff.reads and storage_key(A, 3) in diff.writes and A in diff.writes
    assert DictState({A: Account(1, 100)}, {(B, 2): 9}).applied(diff).storage_map == {(A, 3): 4}


def test_incomplete_state_raises_on_unknown_keys() -> None:
    db = OverlayAccountDB(DictState({A: Account(1, 1), B: None}, {(A, 1): None}, complete=False))
    assert db.get_storage(A, 1) == 0 and not db.account_exists(B)
    with pytest.raises(MissingStateKey):
        db.get_balance(C)
    with pytest.raises(MissingStateKey):
        db.get_storage(A, 2)


class _NoEnumeration:
    """A reader like SALT or a witness: slots by key only, no listing of an account's storage."""

    def __init__(self, inner: DictState) -> None:
        self.account, self.storage, self.code = inner.account, inner.storage, inner.code


def test_account_has_storage_for_eip7610() -> None:
    db = _db()
    assert db.account_has_storage(A) and not db.account_has_storage(C)
    db.set_storage(A, 1, 0)
    assert not db.account_has_storage(A), "the only slot was cleared"
    db.set_storage(C, 5, 1)
    assert db.account_has_storage(C)
    db.delete_account(B)
    assert not db.account_has_storage(B)
    blind = OverlayAccountDB(_NoEnumeration(DictState({A: Account(1, 100)}, {(A, 1): 7})))
    assert not blind.account_has_storage(A), "revm's rule where storage cannot be listed"
    blind.set_storage(A, 2, 3)
    assert blind.account_has_storage(A)


def test_transient_values_roll_back_with_the_journal() -> None:
    """EIP-1153 values (evm.JournaledTransient): a discarded frame's writes and a discarded clear are undone,
    a committed frame's writes stay."""
    db = _db()
    db.set_transient(b"k", b"\x01")
    outer = db.record()
    db.set_transient(b"k", b"\x02")
    inner = db.record()
    db.set_transient(b"j", b"\x03")
    db.discard(inner)
    assert (db.get_transient(b"k"), db.get_transient(b"j")) == (b"\x02", b"")
    db.commit(outer)
    assert db.get_transient(b"k") == b"\x02"
    cp = db.record()
    db.clear_transient()
    assert db.get_transient(b"k") == b""
    db.discard(cp)
    assert db.get_transient(b"k") == b"\x02"


def test_write_slots_is_mark_warm_then_set_storage() -> None:
    """A native frame's write-back in one call, against the calls it stands for: same values, originals, warm
    slots, diff, and the same state after the frame is discarded."""
    one, bulk = _db(), _db()
    for db in (one, bulk):
        db.set_storage(A, 1, 8)
        db.lock_changes()
    cps = one.record(), bulk.record()
    for key in (1, 5):
        one.mark_storage_warm(A, key)
    for key, value in ((1, 9), (3, 4)):
        one.set_storage(A, key, value)
    bulk.write_slots(A, [1, 5], [(1, 9), (3, 4)])
    for db in (one, bulk):
        assert [db.current_and_original(A, k) for k in (1, 3, 5)] == [(9, 8), (4, 0), (0, 0)]
        assert [db.is_storage_warm(A, k) for k in (1, 3, 5)] == [True, False, True]
    assert one.diff() == bulk.diff()
    one.discard(cps[0])
    bulk.discard(cps[1])
    assert [one.get_storage(A, k) for k in (1, 3)] == [bulk.get_storage(A, k) for k in (1, 3)] == [8, 0]
    assert not bulk.is_storage_warm(A, 5) and not one.is_storage_warm(A, 5)
