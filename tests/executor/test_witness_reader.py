"""The witness-backed StateReader on real witnesses."""

from __future__ import annotations

from pathlib import Path

import pytest

from megaeth_node.executor.state import MissingStateKey
from salt.store import WitnessState
from salt.types import decode_account, is_meta_key
from salt.witness import decode_witness_file
from megaeth_node.fixtures import fixture_blocks, load_contracts
from megaeth_node.executor.witness import WitnessReader


@pytest.fixture(scope="module")
def reader(testdata: Path) -> WitnessReader:
    fb = fixture_blocks(testdata)[1]
    assert fb.salt_path
    wf = decode_witness_file(fb.salt_path.read_bytes())
    return WitnessReader(WitnessState(wf.salt_witness), load_contracts(testdata / "contracts.txt"),
                         fb.number, wf.parent_hash)


def test_every_witnessed_account_and_slot_reads_back(reader: WitnessReader) -> None:
    accounts = storage = 0
    for key, sv in reader.witness.kvs.items():
        if sv is None or is_meta_key(key):
            continue
        if len(sv.key) == 20:
            acct = reader.account(sv.key)
            assert acct is not None and (acct.nonce, acct.balance, acct.code_hash) == decode_account(sv.value)
            assert reader.code(acct.code_hash) is not None
            accounts += 1
        else:
            assert reader.storage(sv.key[:20], int.from_bytes(sv.key[20:], "big")) == int.from_bytes(sv.value, "big")
            storage += 1
    assert accounts > 10 and storage > 10


def test_unknown_keys_raise(reader: WitnessReader) -> None:
    with pytest.raises(MissingStateKey):
        reader.account(b"\x99" * 20)
    with pytest.raises(MissingStateKey):
        reader.storage(b"\x99" * 20, 7)
    with pytest.raises(MissingStateKey):
        reader.code(b"\x42" * 32)
    with pytest.raises(MissingStateKey):
        reader.block_hash(reader.number)


def test_parent_hash_is_served(reader: WitnessReader) -> None:
    assert reader.block_hash(reader.number - 1) == reader.parent_hash


def test_bucket_capacity_comes_from_the_witness_metadata() -> None:
    """A witnessed metadata entry gives the capacity; a bucket without one (or with no value) raises,
    never reads as 256 (stateless-validator.md §2.3 step 1)."""
    from types import SimpleNamespace

    from salt.hasher import bucket_id
    from salt.types import BucketMeta, metadata_key

    key = b"\x11" * 20 + (5).to_bytes(32, "big")
    meta_key = metadata_key(bucket_id(key))
    for kvs, expected in (({meta_key: BucketMeta(3, 4096).to_value()}, 4096), ({}, None), ({meta_key: None}, None)):
        reader = WitnessReader(SimpleNamespace(kvs=kvs), {}, 10, b"\x00" * 32)  # type: ignore[arg-type]
        if expected is None:
            with pytest.raises(MissingStateKey):
                reader.bucket_capacity(key)
        else:
            assert reader.bucket_capacity(key) == expected



def test_sequencer_reader_capacity_defaults_to_256(tmp_path: Path) -> None:
    """The sequencer's `SaltReader` serves capacities from the SALT store's metadata: 256 without any."""
    import lmdb

    from megaeth_node.salt_state import SaltReader
    from salt.store import SaltStore

    env = lmdb.open(str(tmp_path), max_dbs=4, map_size=1 << 24)
    overlay = SaltStore(env).overlay()
    try:
        reader = SaltReader(overlay, None)  # type: ignore[arg-type]  # no chain reads here
        assert reader.bucket_capacity(b"\x11" * 20) == reader.bucket_capacity(b"\x11" * 52) == 256
    finally:
        overlay.discard()
        env.close()
