"""The sequencer in-process: mini-blocks, sealing, journal recovery, and every block it seals
validating statelessly from its own witness (issue: "validate every block this node produces")."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import rlp
from eth_hash.auto import keccak
from eth_account import Account
from eth_utils import to_checksum_address

from megaeth_node.errors import AlreadyKnown, InsufficientFunds, NonceTooLow, ReplacementUnderpriced
from megaeth_node.genesis import dev_accounts, dev_chain
from megaeth_node.salt_state import SaltReader, UnsupportedDiff
from megaeth_node.sequencer import Sequencer, SequencerSettings
from gas.system import KEYLESS_DEPLOY_ADDRESS
from salt.witness import WitnessFile, decode_salt_witness, encode_witness_file
from tests.executor.test_rex2 import FACTORY, FACTORY_CODE_HASH, FACTORY_SIGNER, _keyless_call
from validator.core import validate_block

ACCOUNTS = dev_accounts()
CHAIN = dev_chain(6342)
STORE_42 = bytes.fromhex("602a60005500")  # SSTORE(0, 42)
INIT = bytes.fromhex("6006600c60003960066000f3") + STORE_42  # returns STORE_42 as runtime code


def _node(path: Path) -> Sequencer:
    return Sequencer(SequencerSettings(CHAIN, path, block_time_ms=1000,
                                       alloc={a.address: 10**24 for a in ACCOUNTS}))


def _signed(i: int, nonce: int, to: bytes | None, value: int = 0, data: bytes = b"") -> bytes:
    tx = {"value": value, "gas": 500_000, "maxFeePerGas": 10**8, "maxPriorityFeePerGas": 10**6, "nonce": nonce,
          "chainId": 6342, "data": data}
    if to is not None:
        tx["to"] = to_checksum_address(to)
    return bytes(Account.sign_transaction(tx, ACCOUNTS[i].private_key).raw_transaction)


def _validate_all(node: Sequencer) -> int:
    codes = {}
    with node.env.begin(db=node.chain.db["codes"]) as txn:
        codes = {bytes(k): bytes(v) for k, v in txn.cursor()}
    assert node.head.number >= 1
    for n in range(1, node.head.number + 1):
        parent, block = node.chain.header(n - 1), node.chain.block(n)
        wit = node.chain.witness(n)
        assert parent and block and wit
        salt = encode_witness_file(WitnessFile(bytes(32), parent.hash, decode_salt_witness(wit[0])))
        verdict = validate_block(block, parent, salt, wit[1], codes, CHAIN)
        assert verdict.valid, verdict
    return node.head.number


def test_blocks_seal_and_validate_statelessly(tmp_path: Path) -> None:
    node = _node(tmp_path)

    async def go() -> None:
        await node.submit(_signed(0, 0, b"\x11" * 20, value=5))
        await node.submit(_signed(1, 0, None, data=INIT))
        await node.submit(_signed(0, 1, b"\x22" * 20, value=7))
        with pytest.raises(ReplacementUnderpriced):
            await node.submit(_signed(0, 0, b"\x11" * 20, value=6))

    asyncio.run(go())
    mb = node._mini_block()
    assert mb is not None and len(mb.transactions) == 3 and all(r.status == 1 for r in mb.receipts)
    block, receipts = node._seal()
    assert len(block.transactions) == 3 and node.head == block.header
    created = keccak(rlp.encode([ACCOUNTS[1].address, 0]))[12:]
    assert node.building().run.evm_state.get_code(created) == STORE_42
    assert node.building().run.evm_state.get_storage(created, 0) == 0  # runtime code not run yet
    with pytest.raises(NonceTooLow):
        asyncio.run(node.submit(_signed(0, 0, b"\x11" * 20, value=6)))
    asyncio.run(node.submit(_signed(2, 0, b"\x33" * 20, value=1)))
    node._mini_block()
    node._seal()
    node._seal()  # an empty block
    assert _validate_all(node) == 3


def test_transaction_over_the_gas_left_waits_for_the_next_block(tmp_path: Path) -> None:
    """A transaction whose gas limit exceeds what the open block has left is not dropped (it is valid): it
    stays in the pool, with the sender's later nonces, and runs first in the next block."""
    node = Sequencer(SequencerSettings(CHAIN, tmp_path, block_time_ms=1000, gas_limit=1_000_000,
                                       alloc={a.address: 10**24 for a in ACCOUNTS}))
    asyncio.run(node.submit(_signed(0, 0, b"\x11" * 20, value=1)))  # 500,000 gas limit each
    assert node._mini_block() is not None
    asyncio.run(node.submit(_signed(1, 0, b"\x22" * 20, value=1)))
    big = {"value": 1, "gas": 950_000, "maxFeePerGas": 10**8, "maxPriorityFeePerGas": 10**6, "nonce": 1,
           "chainId": 6342, "to": to_checksum_address(b"\x33" * 20)}
    asyncio.run(node.submit(bytes(Account.sign_transaction(big, ACCOUNTS[0].private_key).raw_transaction)))
    asyncio.run(node.submit(_signed(0, 2, b"\x44" * 20, value=1)))
    mb = node._mini_block()
    assert mb is not None and [t.nonce for t in mb.transactions] == [0]  # account 1's; account 0's wait
    assert node._mini_block() is None and len(node.pool) == 2 and not node._dropped
    node._seal()
    mb = node._mini_block()
    assert mb is not None and [(t.nonce, r.status) for t, r in zip(mb.transactions, mb.receipts)] == [(1, 1), (2, 1)]
    node._seal()
    assert _validate_all(node) == 2


def test_pending_nonce_is_one_read_of_state_and_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`pending` nonce = state nonce + the pooled run above it, read together: a mini-block that runs on the
    builder thread right after the read (taking nonce 0 out of the pool into the state) cannot make it 0."""
    node = _node(tmp_path)
    asyncio.run(node.submit(_signed(0, 0, b"\x11" * 20, value=1)))
    on_builder = node._on_builder

    async def then_a_mini_block(fn, *args):  # type: ignore[no-untyped-def]
        result = await on_builder(fn, *args)
        await on_builder(node._mini_block)
        return result

    monkeypatch.setattr(node, "_on_builder", then_a_mini_block)
    assert asyncio.run(node.pending_nonce(ACCOUNTS[0].address)) == 1
    assert len(node.pool) == 0 and node.building().txs


def test_stale_nonce_is_nonce_too_low_whatever_the_balance(tmp_path: Path) -> None:
    """A wallet re-sending with a cached nonce after spending most of its balance hears "nonce too low" (and a
    pooled transaction sent again "already known"), as from geth, not "insufficient funds"."""
    node = Sequencer(SequencerSettings(CHAIN, tmp_path, block_time_ms=1000, alloc={ACCOUNTS[0].address: 10**18}))
    spend_all = _signed(0, 0, b"\x11" * 20, value=10**18 - 500_000 * 10**8)
    asyncio.run(node.submit(spend_all))
    with pytest.raises(AlreadyKnown):
        asyncio.run(node.submit(spend_all))
    node._mini_block()
    with pytest.raises(NonceTooLow):
        asyncio.run(node.submit(_signed(0, 0, b"\x22" * 20, value=10**17)))
    with pytest.raises(InsufficientFunds):
        asyncio.run(node.submit(_signed(0, 1, b"\x22" * 20, value=10**17)))


def test_pooled_transaction_whose_nonce_an_authorization_used_is_dropped(tmp_path: Path) -> None:
    """An EIP-7702 authorization signed by a sender with a pooled transaction uses that transaction's nonce:
    the transaction can never run, so it leaves the pool (its waiters hear it was dropped)."""
    node = _node(tmp_path)
    stale = _signed(1, 0, b"\x11" * 20, value=1)  # tip 10**6
    asyncio.run(node.submit(stale))
    auth = Account.sign_authorization({"chainId": 6342, "address": to_checksum_address(b"\x42" * 20), "nonce": 0},
                                      ACCOUNTS[1].private_key)
    delegating = {"type": 4, "value": 0, "gas": 500_000, "maxFeePerGas": 10**8, "maxPriorityFeePerGas": 10**7,
                  "nonce": 0, "chainId": 6342, "to": to_checksum_address(b"\x22" * 20), "authorizationList": [auth]}
    asyncio.run(node.submit(bytes(Account.sign_transaction(delegating, ACCOUNTS[0].private_key).raw_transaction)))
    mb = node._mini_block()
    assert mb is not None and [t.type for t in mb.transactions] == [4]  # the better tip first
    assert node._state_nonce(ACCOUNTS[1].address) == 1
    assert len(node.pool) == 0 and node._dropped == [keccak(stale)]


def test_state_at_the_head_named_by_number_or_hash_is_the_sealed_state(tmp_path: Path) -> None:
    """Account reads at the head named by number or hash see the sealed block's state, not the open block's
    transactions (which `latest` includes); an older block is 4444 "historical state not available"."""
    from megaeth_node.errors import HistoricalState
    from rpc.methods_eth import eth_methods

    node = _node(tmp_path)
    asyncio.run(node.submit(_signed(0, 0, b"\x11" * 20, value=5)))
    node._mini_block()
    node._seal()
    asyncio.run(node.submit(_signed(0, 1, b"\x11" * 20, value=7)))
    node._mini_block()  # in the open block only
    m, head = eth_methods(node), node.head
    addr, me = "0x" + "11" * 20, "0x" + ACCOUNTS[0].address.hex()

    async def reads() -> tuple[object, ...]:
        return (await m["eth_getBalance"]([addr, "latest"]), await m["eth_getBalance"]([addr, hex(head.number)]),
                await m["eth_getBalance"]([addr, {"blockHash": "0x" + head.hash.hex()}]),
                await m["eth_getBalance"]([addr, "0x" + head.hash.hex()]),  # bare, as ethers and web3.py send it
                await m["eth_getTransactionCount"]([me, hex(head.number)]),
                await m["eth_getTransactionCount"]([me, "latest"]))

    assert asyncio.run(reads()) == ("0xc", "0x5", "0x5", "0x5", "0x1", "0x2")
    with pytest.raises(HistoricalState):
        asyncio.run(m["eth_getBalance"]([addr, "0x0"]))
    # eth_call too: (BALANCE(0x11…), NUMBER) from initcode, at the head in its own block context
    probe = {"from": me, "data": "0x73" + "11" * 20 + "3160005243602052604060" + "00f3"}

    async def calls() -> list[tuple[int, int]]:
        outs = [await m["eth_call"]([probe, tag]) for tag in ("latest", hex(head.number))]
        outs.append(await m["eth_call"]([probe, {"blockHash": "0x" + head.hash.hex()}]))
        return [(int(o[2:66], 16), int(o[66:], 16)) for o in outs]

    assert asyncio.run(calls()) == [(12, head.number + 1), (5, head.number), (5, head.number)]
    assert int(asyncio.run(m["eth_estimateGas"]([probe, hex(head.number)])), 16) > 21_000


def test_uncle_methods_answer_as_geth(tmp_path: Path) -> None:
    """No block has uncles: a count of 0 for a block that exists, null for one that does not, and no uncle."""
    from rpc.methods_eth import eth_methods

    node = _node(tmp_path)
    m, genesis = eth_methods(node), "0x" + node.head.hash.hex()

    async def calls() -> list[object]:
        return [await m["eth_getUncleCountByBlockNumber"](["0x0"]), await m["eth_getUncleCountByBlockHash"]([genesis]),
                await m["eth_getUncleCountByBlockNumber"](["0x9"]),
                await m["eth_getUncleCountByBlockHash"](["0x" + "00" * 32]),
                await m["eth_getUncleByBlockNumberAndIndex"](["latest", "0x0"]),
                await m["eth_getUncleByBlockHashAndIndex"]([genesis, "0x0"])]

    assert asyncio.run(calls()) == ["0x0", "0x0", None, None, None, None]


def test_journal_recovers_acknowledged_transactions(tmp_path: Path) -> None:
    node = _node(tmp_path)
    asyncio.run(node.submit(_signed(3, 0, b"\x44" * 20, value=9)))
    mb = node._mini_block()
    assert mb is not None
    node.env.close()  # a crash: the block was never sealed
    again = _node(tmp_path)
    assert again.recovered == 1
    block, _ = again._seal()
    assert [t.hash for t in block.transactions] == [t.hash for t in mb.transactions]
    assert again.chain.journal() == []


LOG0_X3 = bytes.fromhex("60006000a0" * 3 + "00")  # initcode: three empty LOG0s, no code


def test_recovered_open_block_keeps_its_log_count_and_state_change_baseline(tmp_path: Path) -> None:
    """After a crash, the open block's recovered transactions still count: the next mini-block's receipts
    number their logs after them (their position in the block), and its stateChanges are its own only."""
    node = _node(tmp_path)
    asyncio.run(node.submit(_signed(7, 0, None, data=LOG0_X3)))
    first = node._mini_block()
    assert first is not None and len(first.receipts[0].logs) == 3
    node.env.close()
    again = _node(tmp_path)
    assert again.recovered == 1
    asyncio.run(again.submit(_signed(8, 0, None, data=LOG0_X3)))
    mb = again._mini_block(state_changes=True)
    assert mb is not None and mb.prior_logs == 3 and mb.state_changes is not None
    assert ACCOUNTS[8].address in mb.state_changes and ACCOUNTS[7].address not in mb.state_changes


def test_mini_block_numbers_are_global_and_each_block_records_its_span(tmp_path: Path) -> None:
    """A block's mini-blocks are the global numbers [offset, offset + count) (rpc.md §2 `miniBlockOffset`,
    `miniBlockCount`), one block's end is the next one's offset, and the numbering goes on across a crash and
    a restart instead of starting again at 0."""
    node = _node(tmp_path)
    numbers = []
    for nonce in range(2):
        asyncio.run(node.submit(_signed(6, nonce, b"\x66" * 20, value=1)))
        mb = node._mini_block()
        assert mb is not None
        numbers.append(mb.number)
    node._seal()  # block 1: two mini-blocks
    node._seal()  # block 2: none
    asyncio.run(node.submit(_signed(6, 2, b"\x66" * 20, value=1)))
    mb = node._mini_block()
    assert mb is not None
    numbers.append(mb.number)
    node.env.close()  # a crash with block 3's mini-block journaled only
    again = _node(tmp_path)
    assert again.recovered == 1
    asyncio.run(again.submit(_signed(6, 3, b"\x66" * 20, value=1)))
    mb = again._mini_block()
    assert mb is not None
    numbers.append(mb.number)
    again._seal()
    spans = [again.chain.mini_blocks(n) for n in (1, 2, 3)]
    assert numbers == [0, 1, 2, 3]
    assert spans == [(0, 2), (2, 0), (2, 2)]
    again.env.close()
    restarted = _node(tmp_path)
    asyncio.run(restarted.submit(_signed(6, 4, b"\x66" * 20, value=1)))
    mb = restarted._mini_block()
    assert mb is not None and mb.number == 4 and restarted.chain.mini_blocks(0) is None


# NUMBER - 1, BLOCKHASH, SSTORE at slot 0
STORE_PARENT_HASH = bytes.fromhex("4360019003406000550000")
INIT_PARENT_HASH = bytes.fromhex(f"60{len(STORE_PARENT_HASH):02x}600c60003960{len(STORE_PARENT_HASH):02x}6000f3") \
    + STORE_PARENT_HASH


def _pipelined(tmp_path: Path, crash: bool = False) -> tuple[Sequencer, list[bytes]]:
    """Block 1 deploys a contract; block 2 calls it while block 1 is sealing (its code and hash not stored yet)."""
    node = _node(tmp_path)
    asyncio.run(node.submit(_signed(4, 0, None, data=INIT_PARENT_HASH)))
    asyncio.run(node.submit(_signed(5, 0, b"\x55" * 20, value=3)))
    assert node._mini_block() is not None
    sealing = node._close()
    created = keccak(rlp.encode([ACCOUNTS[4].address, 0]))[12:]
    asyncio.run(node.submit(_signed(5, 1, created)))
    artifacts = node._seal_in_worker(sealing)  # the sealer process, as `run` uses it
    with ThreadPoolExecutor(1) as loop:  # stands in for the event loop, which hashes the header
        sealed = loop.submit(lambda: node._sealed(sealing, artifacts.result(timeout=120)))
        mb = node._mini_block()  # BLOCKHASH(1) waits for the sealer's hash
        assert mb is not None and mb.header is not None and mb.header.number == 2
        assert all(r.status == 1 for r in mb.receipts)
        hashes = [sealed.result().block.hash]
    node._sealer.shutdown()
    if crash:
        node.env.close()
        return _node(tmp_path), hashes
    node._commit(sealed.result())
    assert node.building().run.evm_state.get_storage(created, 0) == int.from_bytes(hashes[0], "big")
    hashes.append(node._seal()[0].hash)
    return node, hashes


def _serial(tmp_path: Path) -> list[bytes]:
    node = _node(tmp_path)
    asyncio.run(node.submit(_signed(4, 0, None, data=INIT_PARENT_HASH)))
    asyncio.run(node.submit(_signed(5, 0, b"\x55" * 20, value=3)))
    node._mini_block()
    first = node._seal()[0].hash
    asyncio.run(node.submit(_signed(5, 1, keccak(rlp.encode([ACCOUNTS[4].address, 0]))[12:])))
    node._mini_block()
    return [first, node._seal()[0].hash]


def test_pipelined_seal_gives_the_serial_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_750_000_000.0)  # same genesis and block timestamps
    node, pipelined = _pipelined(tmp_path / "a")
    assert pipelined == _serial(tmp_path / "b")
    assert _validate_all(node) == 2
    assert node.chain.journal() == []


def test_crash_while_sealing_recovers_both_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_750_000_000.0)
    again, hashes = _pipelined(tmp_path, crash=True)
    assert again.recovered == 3 and again.head.number == 1 and again.head.hash == hashes[0]
    assert [t.hash for t in again.building().txs] == [keccak(_signed(5, 1, keccak(rlp.encode(
        [ACCOUNTS[4].address, 0]))[12:]))]
    again._seal()
    assert _validate_all(again) == 2


def test_loop_admits_in_the_mini_block_and_closes_once_the_sealer_is_up(tmp_path: Path) -> None:
    """While `run` loops, a submission is admitted by the mini-block that executes it (no admission job of its
    own), and no block closes before the sealer process is up (a seal on the builder would stall mini-blocks)."""
    node = Sequencer(SequencerSettings(CHAIN, tmp_path, block_time_ms=20,
                                       alloc={a.address: 10**24 for a in ACCOUNTS}))
    sealer_up: Future[int] = Future()
    start_sealer = node._sealer.submit
    node._sealer.submit = lambda fn, *args: sealer_up if fn is int else start_sealer(fn, *args)  # type: ignore
    builder_jobs: list[str] = []
    submit_job = node._builder.submit
    node._builder.submit = lambda fn, *args: builder_jobs.append(getattr(fn, "__name__", "")) \
        or submit_job(fn, *args)  # type: ignore[method-assign]

    listener = _ThreadRecorder()
    node.listeners.append(listener)

    async def go() -> None:
        loop = asyncio.create_task(node.run())
        await asyncio.sleep(0)  # the loop is on
        tx_hash, included, where = await node.submit_and_wait(_signed(0, 0, b"\x11" * 20, value=1), 30)
        assert included and where is not None and where[0].transactions[where[1]].hash == tx_hash
        await asyncio.sleep(0.3)  # 15 block times
        assert node.head.number == 0 and node._sealing is None and len(node.building().txs) == 1
        assert "_admit_queued" not in builder_jobs and "_mini_block" in builder_jobs
        sealer_up.set_result(0)
        for _ in range(600):
            if node.head.number >= 1:
                break
            await asyncio.sleep(0.1)
        assert node.head.number >= 1 and node.chain.block(1).transactions[0].hash == tx_hash  # type: ignore
        node._stopping = True
        await loop
        await node.close()

    asyncio.run(go())
    # every hook ran on the event loop's thread (the hub's subscriptions change there, unlocked)
    assert {"wants_state_changes", "on_mini_block", "on_block"} <= {hook for hook, _ in listener.calls}
    assert {thread for _, thread in listener.calls} == {threading.main_thread().name}
    assert listener.state_changes and ACCOUNTS[0].address in listener.state_changes[0]


class _ThreadRecorder:
    """A NodeEvents listener that wants state changes and records which thread calls each hook."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.state_changes: list[dict[bytes, object]] = []

    def _called(self, hook: str) -> None:
        self.calls.append((hook, threading.current_thread().name))

    def wants_state_changes(self) -> bool:
        self._called("wants_state_changes")
        return True

    def on_mini_block(self, mb: object, header: object) -> None:
        self._called("on_mini_block")
        self.state_changes.append(mb.state_changes)  # type: ignore[attr-defined]

    def on_block(self, block: object, receipts: object, mini_blocks: object) -> None:
        self._called("on_block")

    def on_pending(self, entry: object) -> None:
        self._called("on_pending")


def test_failed_flush_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """The seal's fsync runs on the flush thread; its failure (EIO, ENOSPC) is an error in the log, not a
    Future nobody looks at."""
    from megaeth_node.sequencer import _report_flush

    done: Future[None] = Future()
    done.set_exception(OSError(28, "No space left on device"))
    with caplog.at_level("ERROR", logger="megaeth_node.sequencer"):
        _report_flush(done)
    assert "No space left on device" in caplog.text


def test_a_full_block_leaves_the_rest_to_the_next_block(tmp_path: Path) -> None:
    """Once a block limit is used up (here state growth: 600 + 600 new slots past 1,000) the mini-block stops
    at the next transaction, the block reports itself full (the loop closes it at once) and that transaction
    runs in the next block: nothing is dropped."""
    from eth_utils import to_checksum_address as checksum

    writes = b"".join(bytes.fromhex("6001") + b"\x61" + i.to_bytes(2, "big") + bytes.fromhex("6000350155")
                      for i in range(600)) + b"\x00"  # SSTORE(calldata[0:32] + i, 1) for 600 slots
    init = b"\x61" + len(writes).to_bytes(2, "big") + bytes.fromhex("600e600039") + b"\x61" \
        + len(writes).to_bytes(2, "big") + bytes.fromhex("6000f3") + writes
    node = _node(tmp_path)
    deploy = {"value": 0, "gas": 300_000_000, "maxFeePerGas": 10**8, "maxPriorityFeePerGas": 10**6, "nonce": 0,
              "chainId": 6342, "data": init}
    asyncio.run(node.submit(bytes(Account.sign_transaction(deploy, ACCOUNTS[9].private_key).raw_transaction)))
    node._mini_block()
    node._seal()
    writer = keccak(rlp.encode([ACCOUNTS[9].address, 0]))[12:]
    for nonce in (1, 2, 3):
        tx = {"value": 0, "gas": 60_000_000, "maxFeePerGas": 10**8, "maxPriorityFeePerGas": 10**6, "nonce": nonce,
              "chainId": 6342, "data": (nonce * 10_000).to_bytes(32, "big"), "to": checksum(writer)}
        asyncio.run(node.submit(bytes(Account.sign_transaction(tx, ACCOUNTS[9].private_key).raw_transaction)))
    mb = node._mini_block()
    assert mb is not None and [t.nonce for t in mb.transactions] == [1, 2] and node.building().run.full
    assert len(node.pool) == 1
    node._seal()
    mb = node._mini_block()
    assert mb is not None and [t.nonce for t in mb.transactions] == [3] and mb.block_number == 3


def test_rex2_self_destruct_of_a_prefunded_creation_seals_and_validates(tmp_path: Path) -> None:
    """The dev chain runs Rex2: a constructor that self-destructs (EIP-6780) removes its account even though an
    earlier block had funded that address, a whole-storage wipe of an account that held no storage; the block
    seals and validates from its witness."""
    node = _node(tmp_path)
    creator = ACCOUNTS[3].address
    created = keccak(rlp.encode([creator, 0]))[12:]
    asyncio.run(node.submit(_signed(0, 0, created, value=10**15)))
    node._mini_block()
    node._seal()
    initcode = bytes([0x73]) + creator + bytes([0xFF])  # SELFDESTRUCT(creator)
    asyncio.run(node.submit(_signed(3, 0, None, data=initcode)))
    mb = node._mini_block()
    assert mb is not None and mb.receipts[0].status == 1
    node._seal()
    state = node.building().run.evm_state
    assert not state.account_exists(created) and state.get_nonce(creator) == 1
    assert _validate_all(node) == 2
    reader = SaltReader(node.building().overlay, node.chain)
    assert reader.stored_slots(created) == []
    with pytest.raises(UnsupportedDiff):  # an account with a nonce may hold slots SALT cannot list
        reader.stored_slots(creator)


def test_keyless_deploy_of_the_create2_factory_through_the_node(tmp_path: Path) -> None:
    """Rex2's KeylessDeploy on the dev chain: fund the CREATE2 factory's keyless signer, call keylessDeploy with its
    pre-EIP-155 deployment, and the factory is at its canonical address, in a block that validates."""
    node = _node(tmp_path)
    asyncio.run(node.submit(_signed(0, 0, FACTORY_SIGNER, value=10**18)))
    node._mini_block()
    node._seal()
    asyncio.run(node.submit(_signed(1, 0, KEYLESS_DEPLOY_ADDRESS, data=_keyless_call())))
    mb = node._mini_block()
    assert mb is not None and mb.receipts[0].status == 1
    node._seal()
    assert keccak(node.building().run.evm_state.get_code(FACTORY)) == FACTORY_CODE_HASH
    assert _validate_all(node) == 2
