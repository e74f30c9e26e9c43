"""`run_transfer` against the EVM path: the same receipts, errors, state diff (reads and writes) and meters on
random transfers, valid and invalid, to every kind of recipient, under Rex and Rex1."""

from __future__ import annotations

from dataclasses import replace

import pytest
from coincurve import PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

import megaeth_node.executor.block as block_module
from gas.spec import ChainConfig, ForkSchedule
from gas.system import (
    BASE_FEE_VAULT_ADDRESS, BEACON_ROOTS_ADDRESS, L1_BLOCK_ADDRESS, MEGA_SYSTEM_ADDRESS, ORACLE_ADDRESS,
)
from megaeth_node.executor.block import BlockFull, OpenBlock
from megaeth_node.executor.state import Account, DictState
from megaeth_node.executor.transact import InvalidTransaction
from megaeth_node.types import DEPOSIT_TX_TYPE, Header, Transaction, keccak256

CHAINS = {"rex": ChainConfig(6342, ForkSchedule(mini_rex=0, rex=0), system_contracts=False),
          "rex1": ChainConfig(6342, ForkSchedule(mini_rex=0, rex=0, rex1=0), system_contracts=False)}
KEYS = [PrivateKey(bytes([i + 1]) * 32) for i in range(3)]
SENDERS = [keccak256(k.public_key.format(compressed=False)[1:])[12:] for k in KEYS]
COINBASE = b"\x42" + b"\x00" * 18 + b"\x11"
CONTRACT, DELEGATED, EMPTY, FUNDED, FULL = b"\xc0" * 20, b"\xd0" * 20, b"\xe0" * 20, b"\xf0" * 20, b"\xf1" * 20
CLOCK, CLOCK_CODE = b"\xc1" * 20, b"\x42\x50\x00"  # TIMESTAMP: detains the compute limit (carried over under Rex)
RECIPIENTS = [b"\xb0" * 20, b"\xb1" * 20, CONTRACT, CLOCK, DELEGATED, EMPTY, FUNDED, FULL, COINBASE, ORACLE_ADDRESS,
              BASE_FEE_VAULT_ADDRESS, b"\x00" * 19 + b"\x01", b"\x00" * 18 + b"\x01\x00", *SENDERS]
CODE = b"\x60\x01\x60\x00\x55\x00"  # SSTORE(0, 1)
BASE_FEE = 1_000_000


class BucketState(DictState):
    """A complete in-memory state whose SALT buckets have different capacities (new-account storage gas)."""

    def bucket_capacity(self, plain_key: bytes) -> int:
        return (256, 512, 4096, 1 << 20)[plain_key[-1] % 4]


def _state(balances: list[int], nonces: list[int], sender_code: int, operator_fee: int) -> BucketState:
    delegation = b"\xef\x01\x00" + CONTRACT
    accounts = {s: Account(n, b) for s, b, n in zip(SENDERS, balances, nonces)}
    if sender_code == 1:
        accounts[SENDERS[2]] = replace(accounts[SENDERS[2]], code_hash=keccak256(CODE))
    elif sender_code == 2:
        accounts[SENDERS[2]] = replace(accounts[SENDERS[2]], code_hash=keccak256(delegation))
    accounts |= {CONTRACT: Account(1, 5, keccak256(CODE)), CLOCK: Account(1, 0, keccak256(CLOCK_CODE)),
                 DELEGATED: Account(0, 0, keccak256(delegation)), EMPTY: Account(0, 0), FUNDED: Account(3, 10**15),
                 FULL: Account(0, 2**256 - 2), COINBASE: Account(0, 0),
                 BEACON_ROOTS_ADDRESS: Account(1, 0, keccak256(b"\x00"))}
    slots = {(L1_BLOCK_ADDRESS, 1): 7, (L1_BLOCK_ADDRESS, 3): (1368 << 96) | (810949 << 64), (L1_BLOCK_ADDRESS, 7): 1,
             (L1_BLOCK_ADDRESS, 8): operator_fee}
    return BucketState(accounts, slots, {keccak256(CODE): CODE, keccak256(CLOCK_CODE): CLOCK_CODE,
                                         keccak256(delegation): delegation,
                                         keccak256(b"\x00"): b"\x00"})


def _header(gas_limit: int, coinbase: bytes = COINBASE) -> Header:
    return Header(b"\x01" * 32, b"\x00" * 32, coinbase, b"\x00" * 32, b"\x00" * 32, b"\x00" * 32, bytes(256), 0,
                  10, gas_limit, 0, 1_000, b"", b"\x02" * 32, bytes(8), BASE_FEE, None, 0, 0, b"\x03" * 32)


def _signed(key: PrivateKey, tx: Transaction) -> Transaction:
    sig = key.sign_recoverable(tx.signing_hash(), hasher=None)
    return replace(tx, r=int.from_bytes(sig[:32], "big"), s=int.from_bytes(sig[32:64], "big"), v=sig[64])


@pytest.fixture
def fast_count(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many transactions `run_transfer` executed (not handed to the EVM path)."""
    count = [0]
    real = block_module.run_transfer

    def counted(*args: object) -> int | None:
        gas = real(*args)  # type: ignore[arg-type]
        count[0] += gas is not None
        return gas

    monkeypatch.setattr(block_module, "run_transfer", counted)
    return count


def _meters(run: OpenBlock) -> tuple[object, ...]:
    """What a transaction leaves in the block's Rex meters (the next one starts from part of it)."""
    rex = run.evm_state.rex  # type: ignore[attr-defined]
    return (rex.compute_limit, rex.compute_used, rex.meter.usage(), rex.tracker, rex.exceeded, rex.rescued,
            rex._capacities)


def _both(state: DictState, chain: ChainConfig, gas_limit: int, txs: list[tuple[int, Transaction]],
          coinbase: bytes = COINBASE) -> None:
    """Run `txs` on a block through the EVM only and on one that takes plain transfers aside; both agree."""
    evm = OpenBlock(state, _header(gas_limit, coinbase), chain, frames=True)
    lean = OpenBlock(state, _header(gas_limit, coinbase), chain)
    for sender_index, tx in txs:
        sender = SENDERS[sender_index]
        outcomes = []
        for run in (evm, lean):
            try:
                outcomes.append(run.execute(tx, sender))
            except InvalidTransaction as e:
                outcomes.append(str(e))
        assert outcomes[0] == outcomes[1], (tx, outcomes)
        assert _meters(evm) == _meters(lean)
    assert evm.finish() == lean.finish()


PLAIN_RECIPIENTS = [b"\xb0" * 20, b"\xb1" * 20, EMPTY, FUNDED, FULL, BASE_FEE_VAULT_ADDRESS, *SENDERS]
plain_spec = st.tuples(  # what the lean path takes, when the sender can pay
    st.integers(0, 2), st.sampled_from(PLAIN_RECIPIENTS), st.sampled_from([0, 1, 10**15]),
    st.sampled_from([60_000, 85_000, 1_000_000]), st.sampled_from([3 * BASE_FEE, 10**9]),
    st.sampled_from([0, 1, BASE_FEE]), st.just(0))
any_spec = st.tuples(  # every way of being invalid or left to the EVM, mixed in
    st.integers(0, 2),  # sender
    st.sampled_from(RECIPIENTS),
    st.sampled_from([0, 1, 10**15, 2**255]),  # value
    st.sampled_from([21_000, 59_999, 60_000, 85_000, 1_000_000, 10**9]),  # gas
    st.sampled_from([BASE_FEE - 1, BASE_FEE, 3 * BASE_FEE, 10**12]),  # max fee
    st.sampled_from([0, 1, BASE_FEE, 10**13]),  # tip
    st.sampled_from([0, 0, 1, -1]),  # nonce offset from the sender's next nonce
)


@settings(max_examples=150, deadline=None)
@given(balances=st.lists(st.sampled_from([0, 10**14, 10**18, 2**250, 2**250]), min_size=3, max_size=3),
       nonces=st.lists(st.sampled_from([0, 0, 7, 7, 2**64 - 2, 2**64 - 1]), min_size=3, max_size=3),
       sender_code=st.sampled_from([0, 0, 0, 1, 2]), operator_fee=st.sampled_from([0, (1000 << 64) | 5000]),
       gas_limit=st.sampled_from([30_000_000, 30_000_000, 200_000]), chain=st.sampled_from(sorted(CHAINS)),
       coinbase=st.sampled_from([COINBASE, COINBASE, SENDERS[1]]),
       specs=st.lists(st.one_of(plain_spec, plain_spec, any_spec), min_size=1, max_size=6))
def test_transfers_match_the_evm_path(balances: list[int], nonces: list[int], sender_code: int, operator_fee: int,
                                      gas_limit: int, chain: str, coinbase: bytes,
                                      specs: list[tuple[int, ...]]) -> None:
    state = _state(balances, nonces, sender_code, operator_fee)
    next_nonce = list(nonces)
    txs = []
    for sender, to, value, gas, max_fee, tip, offset in specs:
        nonce = max(0, next_nonce[sender] + offset)
        tx = _signed(KEYS[sender], Transaction(type=2, nonce=nonce, gas=gas, to=to, value=value, data=b"",
                                               chain_id=6342, max_priority_fee_per_gas=tip, max_fee_per_gas=max_fee))
        txs.append((sender, tx))
        next_nonce[sender] += offset == 0
    _both(state, CHAINS[chain], gas_limit, txs, coinbase)


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_plain_transfers_take_the_lean_path(chain: str, fast_count: list[int]) -> None:
    """Valid transfers to new, empty and funded accounts and back to a sender run without the EVM; txs it
    must not take (calldata, a contract, a precompile, the oracle, an invalid nonce) go through the EVM."""
    state = _state([10**18] * 3, [0, 5, 0], 0, (1000 << 64) | 5000)
    plain = [(0, b"\xb0" * 20, 10**15), (0, EMPTY, 0), (1, EMPTY, 1), (1, FUNDED, 7), (2, SENDERS[0], 10**16),
             (2, b"\xb1" * 20, 0), (0, BASE_FEE_VAULT_ADDRESS, 3)]
    txs, nonces = [], [0, 5, 0]
    for sender, to, value in plain:
        txs.append((sender, _signed(KEYS[sender], Transaction(
            type=2, nonce=nonces[sender], gas=100_000, to=to, value=value, data=b"", chain_id=6342,
            max_priority_fee_per_gas=10, max_fee_per_gas=2 * BASE_FEE))))
        nonces[sender] += 1
    _both(state, CHAINS[chain], 30_000_000, txs)
    assert fast_count[0] == len(plain)
    other = [(CONTRACT, b"", 0), (b"\xb0" * 20, b"\x01", 1), (b"\x00" * 19 + b"\x01", b"", 2),
             (ORACLE_ADDRESS, b"", 3), (b"\xb0" * 20, b"", 9)]
    txs = [(0, _signed(KEYS[0], Transaction(type=2, nonce=nonce, gas=100_000, to=to, value=1, data=data,
                                            chain_id=6342, max_priority_fee_per_gas=10, max_fee_per_gas=2 * BASE_FEE)))
           for to, data, nonce in other]
    fast_count[0] = 0
    _both(state, CHAINS[chain], 30_000_000, txs)
    assert fast_count[0] == 0


def test_system_sender_is_left_to_the_evm(fast_count: list[int]) -> None:
    """A tx from the Mega system address must be a whitelisted legacy call: rejected, reading what the EVM
    path reads (the lean path does not even load the fee parameters for it)."""
    state = DictState({MEGA_SYSTEM_ADDRESS: Account(0, 10**18),
                       BEACON_ROOTS_ADDRESS: Account(1, 0, keccak256(b"\x00"))}, {}, {keccak256(b"\x00"): b"\x00"})
    tx = _signed(KEYS[0], Transaction(type=2, nonce=0, gas=100_000, to=b"\xb0" * 20, value=1, data=b"", chain_id=6342,
                                      max_priority_fee_per_gas=10, max_fee_per_gas=2 * BASE_FEE))
    runs = [OpenBlock(state, _header(30_000_000), CHAINS["rex"], frames=frames) for frames in (True, False)]
    for run in runs:
        with pytest.raises(InvalidTransaction, match="whitelist"):
            run.execute(tx, MEGA_SYSTEM_ADDRESS)
    assert runs[0].finish() == runs[1].finish()
    assert fast_count[0] == 0


def test_opcode_tracing_sees_the_transfer_frame(fast_count: list[int]) -> None:
    """With an opcode tracer on (`replay --trace`), a transfer runs through the EVM (not the lean transfer path),
    whose frame has no code and so no opcode for the tracer (geth's tracers see none either)."""
    state = _state([10**18] * 3, [0, 0, 0], 0, 0)
    run = OpenBlock(state, _header(30_000_000), CHAINS["rex"])
    seen: list[int] = []
    run.evm_state.rex.trace = lambda computation, opcode, pc: seen.append(opcode)  # type: ignore[attr-defined]
    tx = _signed(KEYS[0], Transaction(type=2, nonce=0, gas=100_000, to=b"\xb0" * 20, value=1, data=b"", chain_id=6342,
                                      max_priority_fee_per_gas=10, max_fee_per_gas=2 * BASE_FEE))
    assert run.execute(tx, SENDERS[0]).status == 1
    assert seen == [] and fast_count[0] == 0 and run.last_computation is not None


def test_megaeth_floor_above_the_gas_limit_spends_the_limit_only() -> None:
    """Before Rex5 only the standard EIP-7623 floor is checked, so 200 non-zero calldata bytes (MegaETH floor
    21,000 + 110 × 800 tokens = 109,000) fit a 100,000 gas limit; the floor then spends the limit, no more
    (revm's `Gas::set_spent` saturates), on both the lean and the EVM path."""
    for frames in (False, True):
        state = _state([10**18] * 3, [0, 0, 0], 0, 0)
        run = OpenBlock(state, _header(30_000_000), CHAINS["rex"], frames=frames)
        tx = _signed(KEYS[0], Transaction(type=2, nonce=0, gas=100_000, to=b"\xb0" * 20, value=0, data=b"\xff" * 200,
                                          chain_id=6342, max_priority_fee_per_gas=0, max_fee_per_gas=BASE_FEE))
        receipt = run.execute(tx, SENDERS[0])
        assert receipt.status == 1 and receipt.cumulative_gas_used == 100_000
        assert run.evm_state.get_balance(BASE_FEE_VAULT_ADDRESS) == 100_000 * BASE_FEE


def test_initcode_up_to_the_megaeth_limit_creates() -> None:
    """From MiniRex on a create tx may carry 548,864 bytes of initcode (mega-evm MAX_INITCODE_SIZE), not EIP-3860's
    49,152; one byte more is refused."""
    state = _state([10**20] * 3, [0, 0, 0], 0, 0)
    run = OpenBlock(state, _header(2_000_000_000), CHAINS["rex"])
    for nonce, size in ((0, 50_000), (1, 548_864)):
        tx = _signed(KEYS[0], Transaction(type=2, nonce=nonce, gas=1_000_000_000, to=None, value=0,
                                          data=b"\x00" * size, chain_id=6342, max_priority_fee_per_gas=0,
                                          max_fee_per_gas=BASE_FEE))
        assert run.execute(tx, SENDERS[0]).status == 1
    too_big = _signed(KEYS[0], Transaction(type=2, nonce=2, gas=1_000_000_000, to=None, value=0,
                                           data=b"\x00" * 548_865, chain_id=6342, max_priority_fee_per_gas=0,
                                           max_fee_per_gas=BASE_FEE))
    with pytest.raises(InvalidTransaction, match="initcode size"):
        run.execute(too_big, SENDERS[0])


def _deposit(gas: int, to: bytes, value: int, mint: int) -> Transaction:
    return Transaction(type=DEPOSIT_TX_TYPE, nonce=0, gas=gas, to=to, value=value, data=b"", mint=mint,
                       source_hash=b"\x07" * 32, deposit_sender=SENDERS[0])


def test_deposit_that_cannot_pay_its_value_fails_whole() -> None:
    """OptimismPortal lets a deposit's value exceed its sender's balance plus mint: its top frame halts (out of
    funds), and op-revm includes it as a failed deposit (`catch_error`): status 0, its gas limit spent, the mint
    kept, the nonce bumped, nothing moved; never an error out of the block."""
    for chain in CHAINS.values():
        run = OpenBlock(_state([0, 0, 0], [0, 0, 0], 0, 0), _header(30_000_000), chain)
        receipt = run.execute(_deposit(100_000, b"\xb0" * 20, 10, 5), SENDERS[0])
        assert (receipt.status, receipt.cumulative_gas_used) == (0, 100_000)
        state = run.evm_state
        assert (state.get_balance(SENDERS[0]), state.get_nonce(SENDERS[0])) == (5, 1)
        assert state.get_balance(b"\xb0" * 20) == 0


def test_deposit_halted_by_a_megaeth_limit_spends_its_gas_limit() -> None:
    """A deposit that crosses a MegaETH resource limit (here the compute limit a TIMESTAMP read lowers to 20M)
    halts, and a halted deposit fails whole: its gas limit spent, nothing rescued (op-revm's failed deposit), as
    any other halt of a deposit."""
    loop = bytes.fromhex("42505b600256")  # TIMESTAMP POP, then JUMPDEST PUSH1 2 JUMP forever
    looper = b"\xa1" * 20
    state = BucketState({SENDERS[0]: Account(0, 0), looper: Account(1, 0, keccak256(loop)),
                         BEACON_ROOTS_ADDRESS: Account(1, 0, keccak256(b"\x00"))}, {},
                        {keccak256(loop): loop, keccak256(b"\x00"): b"\x00"})
    run = OpenBlock(state, _header(60_000_000), CHAINS["rex"])
    receipt = run.execute(_deposit(29_000_000, looper, 0, 0), SENDERS[0])
    assert (receipt.status, receipt.cumulative_gas_used) == (0, 29_000_000)
    assert run.evm_state.get_nonce(SENDERS[0]) == 1


def _slot_writer(slots: int) -> bytes:
    """Code that writes 1 to `slots` consecutive storage slots from calldata[0:32] on (new slots: state growth)."""
    one = bytes.fromhex("6001") + b"\x61"  # PUSH1 1, PUSH2 i
    return b"".join(one + i.to_bytes(2, "big") + bytes.fromhex("60003501" "55") for i in range(slots)) + b"\x00"


def test_block_state_growth_limit_refuses_the_next_transaction() -> None:
    """Block limits are checked before each tx (mega-evm `pre_execution_check`): a tx may take the block's state
    growth to 1,000 and past it, and the next tx is then refused (`BlockFull`, an invalid block for a validator);
    the block reports itself full. Deposits count too."""
    writer = b"\xa2" * 20
    code = _slot_writer(600)
    state = DictState({SENDERS[0]: Account(0, 10**24), writer: Account(1, 0, keccak256(code)),
                       BEACON_ROOTS_ADDRESS: Account(1, 0, keccak256(b"\x00"))}, {},
                      {keccak256(code): code, keccak256(b"\x00"): b"\x00"})  # minimal buckets: no multiplier
    run = OpenBlock(state, _header(2_000_000_000), CHAINS["rex"])

    def write_from(nonce: int, start: int) -> Transaction:
        return _signed(KEYS[0], Transaction(type=2, nonce=nonce, gas=100_000_000, to=writer, value=0,
                                            data=start.to_bytes(32, "big"), chain_id=6342,
                                            max_priority_fee_per_gas=0, max_fee_per_gas=BASE_FEE))

    assert run.execute(write_from(0, 0), SENDERS[0]).status == 1 and not run.full
    assert run.execute(write_from(1, 10_000), SENDERS[0]).status == 1  # 1,200 new slots: past the block limit
    assert run.full and run.usage.state_growth == 1_200
    with pytest.raises(BlockFull, match="state growth 1200 already at limit 1000"):
        run.execute(write_from(2, 20_000), SENDERS[0])
    with pytest.raises(BlockFull):
        run.execute(_deposit(100_000, b"\xb0" * 20, 0, 1), SENDERS[0])


def test_detention_below_the_compute_used_halts_after_the_next_opcode() -> None:
    """Rex1 (compute limit reset per tx): a TIMESTAMP read after ~21.1M of compute gas lowers the limit to 20M.
    Upstream lowers it only (`wrap_op_detain_gas`); the next opcode records its compute gas and halts there, so
    that PUSH1 runs and is charged: 21,140,820 gas, not 21,140,817."""
    code = bytes.fromhex("5f6300325aa052426000" "00")  # MSTORE(3,300,000, 0), TIMESTAMP, PUSH1 0, STOP
    probe = b"\xa3" * 20
    state = DictState({SENDERS[0]: Account(0, 10**24), probe: Account(1, 0, keccak256(code)),
                       BEACON_ROOTS_ADDRESS: Account(1, 0, keccak256(b"\x00"))}, {},
                      {keccak256(code): code, keccak256(b"\x00"): b"\x00"})
    for traced in (False, True):  # the fast loop, and the reference loop a tracer runs
        run = OpenBlock(state, _header(2_000_000_000), CHAINS["rex1"])
        if traced:
            run.evm_state.rex.trace = lambda computation, opcode, pc: None  # type: ignore[attr-defined]
        tx = _signed(KEYS[0], Transaction(type=2, nonce=0, gas=30_000_000, to=probe, value=0, data=b"",
                                          chain_id=6342, max_priority_fee_per_gas=0, max_fee_per_gas=BASE_FEE))
        receipt = run.execute(tx, SENDERS[0])
        assert (receipt.status, receipt.cumulative_gas_used) == (0, 21_140_820)


def test_bn254_pairing_input_over_the_granite_bound_fails() -> None:
    """OP Granite bounds ECPAIRING's input at 112,687 bytes (op-revm `isthmus()`): a pair at infinity verifies;
    587 pairs (112,704 bytes) fail the call as an error before any pairing, all its gas spent."""
    pairing = b"\x00" * 19 + b"\x08"
    state = DictState({SENDERS[0]: Account(0, 10**24), BEACON_ROOTS_ADDRESS: Account(1, 0, keccak256(b"\x00"))}, {},
                      {keccak256(b"\x00"): b"\x00"})
    run = OpenBlock(state, _header(2_000_000_000), CHAINS["rex1"])  # Rex's 20M compute limit: too low for 587
    gas_used = []
    for nonce, pairs in enumerate((1, 587)):
        tx = _signed(KEYS[0], Transaction(type=2, nonce=nonce, gas=40_000_000, to=pairing, value=0,
                                          data=bytes(192 * pairs), chain_id=6342, max_priority_fee_per_gas=0,
                                          max_fee_per_gas=BASE_FEE))
        receipt = run.execute(tx, SENDERS[0])
        gas_used.append(receipt.cumulative_gas_used - sum(gas_used))
        assert receipt.status == (1 if pairs == 1 else 0)
    assert gas_used[1] == 40_000_000


def test_system_tx_failing_validation_is_a_failed_deposit() -> None:
    """A Mega system tx is processed as a deposit (its source hash set), so one that fails validation (gas below
    its intrinsic gas) is included as a failed deposit, as op-revm's `catch_error` does: its legacy receipt with
    status 0 and its gas limit spent, the system address's nonce bumped; not an invalid block."""
    state = DictState({MEGA_SYSTEM_ADDRESS: Account(0, 0), BEACON_ROOTS_ADDRESS: Account(1, 0, keccak256(b"\x00"))},
                      {}, {keccak256(b"\x00"): b"\x00"})
    run = OpenBlock(state, _header(30_000_000), CHAINS["rex"])
    tx = Transaction(type=0, nonce=0, gas=20_000, to=ORACLE_ADDRESS, value=0, data=b"", gas_price=0, v=27, r=1, s=1)
    receipt = run.execute(tx, MEGA_SYSTEM_ADDRESS)
    assert (receipt.tx_type, receipt.status, receipt.cumulative_gas_used) == (0, 0, 20_000)
    assert receipt.deposit_nonce is None and run.evm_state.get_nonce(MEGA_SYSTEM_ADDRESS) == 1
