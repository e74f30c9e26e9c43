"""MegaETH Rex rules wired through the executor: small synthetic blocks with gas from spec/mega-evm.md.

Expected numbers come from the spec (§9.1 upstream unit tests, §3.1, §5, §6) or are derived in the
comments from its formulas; nothing here recomputes them through the code under test.
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import replace
from typing import Any

import pytest
from coincurve import PrivateKey
from eth.vm.forks.frontier.computation import FrontierComputation
from eth.vm.forks.prague.state import PragueTransactionExecutor
from gas.spec import ChainConfig, ForkSchedule, Spec
from gas.system import BEACON_ROOTS_ADDRESS, HISTORY_STORAGE_ADDRESS, L1_BLOCK_ADDRESS, MEGA_SYSTEM_ADDRESS
from gas.system import ORACLE_ADDRESS
from salt.hasher import bucket_id

from megaeth_node.executor.block import BlockResult, InvalidBlock, apply_block
from megaeth_node.executor.op import OpTransactionExecutor
from megaeth_node.executor.rex import RexComputation, RexRules
from megaeth_node.executor.state import Account, DictState, storage_key
from megaeth_node.types import DEPOSIT_TX_TYPE, Block, Header, Transaction, keccak256

REX = ChainConfig(6342, ForkSchedule(mini_rex=0, rex=0), system_contracts=False)  # synthetic states: any oracle code
KEY = PrivateKey(b"\x01" * 32)
ALICE = keccak256(KEY.public_key.format(compressed=False)[1:])[12:]
BOB, COINBASE, DEPOSITOR = b"\xb0" * 20, b"\x42" + b"\x00" * 18 + b"\x11", b"\xde" * 20
CONTRACT, CHILD = b"\xc0" * 20, b"\xc1" * 20
BASE_FEE, PRICE = 1_000_000, 2_000_000
L1_SLOTS = {1: 7, 3: (1368 << 96) | (810949 << 64), 7: 1}

# opcodes
STOP, ADD, SSTORE, SLOAD, JUMP, JUMPDEST, GAS, PUSH0 = 0x00, 0x01, 0x55, 0x54, 0x56, 0x5B, 0x5A, 0x5F
PUSH1, PUSH20, CALL, STATICCALL, RETURN, MSTORE8 = 0x60, 0x73, 0xF1, 0xFA, 0xF3, 0x53
TIMESTAMP, BALANCE, LOG1, SELFDESTRUCT, COINBASE_OP = 0x42, 0x31, 0xA1, 0xFF, 0x41


class BucketState(DictState):
    """A complete in-memory state whose SALT buckets have given capacities (default 256)."""

    def __init__(self, *args: object, capacities: dict[int, int] | None = None, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.capacities = capacities or {}
        self.lookups: list[bytes] = []

    def bucket_capacity(self, plain_key: bytes) -> int:
        self.lookups.append(plain_key)
        return self.capacities.get(bucket_id(plain_key), 256)


def _signed(tx: Transaction) -> Transaction:
    sig = KEY.sign_recoverable(tx.signing_hash(), hasher=None)
    return replace(tx, r=int.from_bytes(sig[:32], "big"), s=int.from_bytes(sig[32:64], "big"), v=sig[64])


def _tx(nonce: int = 0, to: bytes | None = BOB, data: bytes = b"", gas: int = 1_000_000, value: int = 0) -> Transaction:
    return _signed(Transaction(type=2, nonce=nonce, gas=gas, to=to, value=value, data=data, chain_id=6342,
                               max_priority_fee_per_gas=PRICE - BASE_FEE, max_fee_per_gas=PRICE))


def _block(*txs: Transaction, senders: tuple[bytes, ...] | None = None, gas_limit: int = 200_000_000) -> Block:
    header = Header(b"\x01" * 32, b"\x00" * 32, COINBASE, b"\x00" * 32, b"\x00" * 32, b"\x00" * 32, bytes(256), 0,
                    10, gas_limit, 0, 1_000, b"", b"\x02" * 32, bytes(8), BASE_FEE, None, 0, 0, b"\x03" * 32)
    return Block(header, txs, senders or (ALICE,) * len(txs), header.hash)


def _state(codes: dict[bytes, bytes] | None = None, capacities: dict[int, int] | None = None,
           history: bool = False) -> BucketState:
    accounts = {ALICE: Account(0, 10**18), COINBASE: Account(0, 1)}
    code_by_hash = {}
    for address, code in (codes or {}).items():
        accounts[address] = Account(1, 0, keccak256(code))
        code_by_hash[keccak256(code)] = code
    if history:  # any code: the executor only needs to know the EIP-2935 call runs (§6.4)
        accounts[HISTORY_STORAGE_ADDRESS] = Account(1, 0, keccak256(b"\x43"))
        code_by_hash[keccak256(b"\x43")] = b"\x43"
    return BucketState(accounts, {(L1_BLOCK_ADDRESS, s): v for s, v in L1_SLOTS.items()}, code_by_hash,
                       capacities=capacities)


def _gas(result: BlockResult) -> list[int]:
    out, previous = [], 0
    for receipt in result.receipts:
        out.append(receipt.cumulative_gas_used - previous)
        previous = receipt.cumulative_gas_used
    return out


def _run(state: DictState, *txs: Transaction, spec: Spec = Spec.REX, **kw: object) -> BlockResult:
    return apply_block(state, _block(*txs, **kw), REX, RexRules(spec))  # type: ignore[arg-type]


# --- §3.1 intrinsic gas -------------------------------------------------------------------------------


# sha256 of py-evm 0.12's `FrontierComputation.apply_message` source, which `_frontier_message` restates
FRONTIER_APPLY_MESSAGE_SHA256 = "467518a0504e0bbc0edc31a502aaf74f96e4bdd90a043fe06c065bd929ecdf5d"


def test_frontier_message_restates_the_method_it_replaces() -> None:
    """`RexComputation._frontier_message` is py-evm's Frontier `apply_message` without its debug line: that is
    the method the MRO would call, and its source is the one restated (a py-evm upgrade that changes it fails
    here, so the restatement is reviewed against the new one)."""
    assert next(k for k in RexComputation.__mro__[1:] if "apply_message" in k.__dict__) is FrontierComputation
    source = inspect.getsource(FrontierComputation.apply_message)
    assert hashlib.sha256(source.encode()).hexdigest() == FRONTIER_APPLY_MESSAGE_SHA256


def test_default_rules_for_rex_blocks_are_rex() -> None:
    """`apply_block` picks the Rex rule set from the chain's fork schedule (rexTime = 0)."""
    result = apply_block(_state(), _block(_tx(gas=60_821)), REX)
    assert _gas(result) == [60_000]


def test_transfer_pays_39000_intrinsic_storage_gas() -> None:
    assert _gas(_run(_state(), _tx(gas=60_821, value=10**17))) == [60_000]  # §9.1: 21,000 + 39,000


def test_calldata_pays_10x_surcharge() -> None:
    data = b"\x01" * 100  # §9.1: 21,000 + 100·16 + 100·160 + 39,000
    assert _gas(_run(_state(), _tx(data=data, gas=100_000))) == [77_600]


def test_gas_limit_below_rex_intrinsic_is_invalid() -> None:
    with pytest.raises(InvalidBlock):
        _run(_state(), _tx(gas=59_999))


def test_floor_is_110_per_token_without_the_39000() -> None:
    data = bytes(1000)  # tokens 1000: intrinsic 25,000 + 40,000 + 39,000 = 104,000 < floor 21,000 + 110,000
    assert _gas(_run(_state(), _tx(data=data, gas=200_000))) == [131_000]


def test_deposit_pays_the_rex_intrinsic_too() -> None:
    deposit = Transaction(type=DEPOSIT_TX_TYPE, nonce=0, gas=100_000, to=BOB, value=0, data=b"", mint=5,
                          source_hash=b"\x07" * 32, deposit_sender=DEPOSITOR)
    assert _gas(_run(_state(), deposit, senders=(DEPOSITOR,))) == [60_000]


def test_a_deposit_from_the_system_address_makes_the_block_invalid() -> None:
    """mega-evm's `before_run` refuses any tx from MEGA_SYSTEM_ADDRESS that is not a legacy call to the oracle,
    with a string error that op-revm's `catch_error` does not turn into a failed deposit: the block is invalid."""
    deposit = Transaction(type=DEPOSIT_TX_TYPE, nonce=0, gas=100_000, to=ORACLE_ADDRESS, value=0, data=b"",
                          source_hash=b"\x07" * 32, deposit_sender=MEGA_SYSTEM_ADDRESS)
    with pytest.raises(InvalidBlock, match="not in the whitelist"):
        _run(_state(), deposit, senders=(MEGA_SYSTEM_ADDRESS,))


# --- §5 storage gas ---------------------------------------------------------------------------------


SSTORE_42 = bytes([PUSH1, 0x42, PUSH1, 0x00, SSTORE, STOP])


def test_sstore_zero_to_nonzero_minimum_bucket() -> None:
    # §9.1 test_sstore_minimum_bucket_zero_gas: 21,000 + 39,000 + 20,000 + 2,100 + 6
    assert _gas(_run(_state({CONTRACT: SSTORE_42}), _tx(to=CONTRACT))) == [82_106]


def test_sstore_storage_gas_scales_with_bucket_capacity() -> None:
    slot_bucket = bucket_id(storage_key(CONTRACT, 0))
    state = _state({CONTRACT: SSTORE_42}, capacities={slot_bucket: 3 * 256})
    assert _gas(_run(state, _tx(to=CONTRACT))) == [82_106 + 20_000 * 2]  # 20,000·(m − 1), m = 3
    assert storage_key(CONTRACT, 0) in state.lookups


def test_no_capacity_lookup_when_nothing_bucket_dependent_is_due() -> None:
    state = _state({CONTRACT: bytes([PUSH1, 0x00, PUSH1, 0x00, SSTORE, STOP])})  # 0 → 0: no storage gas
    _run(state, _tx(to=CONTRACT))
    assert state.lookups == []


def test_value_transfer_to_new_account_scales_with_bucket() -> None:
    state = _state(capacities={bucket_id(BOB): 2 * 256})
    assert _gas(_run(state, _tx(gas=100_000, value=1))) == [60_000 + 25_000]  # §9.1 new account, m = 2


def test_create_tx_minimum_bucket_and_multiplier() -> None:
    # §9.1: initcode 0x00: 21,000 + 32,000 + 4 + 40 + 2 + 39,000 = 92,046 (+32,000·(m − 1))
    assert _gas(_run(_state(), _tx(to=None, data=b"\x00", gas=200_000))) == [92_046]
    from eth._utils.address import generate_contract_address
    created = generate_contract_address(ALICE, 0)
    state = _state(capacities={bucket_id(created): 4 * 256})
    assert _gas(_run(state, _tx(to=None, data=b"\x00", gas=200_000))) == [92_046 + 3 * 32_000]


def test_create_tx_with_sstore_at_multiplier_5() -> None:
    # §9.1 test_combined_contract_creation_and_sstore: PUSH32 0x42, PUSH32 0, SSTORE, STOP; m = 5 for both
    from eth._utils.address import generate_contract_address
    initcode = bytes([0x7F]) + (0x42).to_bytes(32, "big") + bytes([0x7F]) + bytes(32) + bytes([SSTORE, STOP])
    created = generate_contract_address(ALICE, 0)
    state = _state(capacities={bucket_id(created): 5 * 256, bucket_id(storage_key(created, 0)): 5 * 256})
    assert _gas(_run(state, _tx(to=None, data=initcode, gas=500_000))) == [117_632 + 208_000]


def test_code_deposit_pays_10000_per_byte() -> None:
    # initcode: MSTORE8(0, 0x00); RETURN(0, 1) → 1 byte of runtime code
    initcode = bytes([PUSH1, 0, PUSH1, 0, MSTORE8, PUSH1, 1, PUSH1, 0, RETURN])
    # intrinsic: 21,000 + 32,000 + 10 bytes (3 zero, 7 non-zero: tokens 31) → 124 + 1,240 + 2 (1 word) + 39,000
    # execution: 4 PUSH1 (12) + MSTORE8 3 + memory 3 = 18; deposit 200 + 10,000
    expected = 21_000 + 32_000 + 124 + 1_240 + 2 + 39_000 + 18 + 200 + 10_000
    assert _gas(_run(_state(), _tx(to=None, data=initcode, gas=300_000))) == [expected]


def test_log_storage_gas() -> None:
    # LOG1(offset 0, length 32, topic 0): compute 375 + 375 + 8·32 + memory 3; storage 3,750 + 80·32
    code = bytes([PUSH0, PUSH1, 32, PUSH0, LOG1, STOP])
    expected = 60_000 + 2 + 3 + 2 + (375 + 375 + 256 + 3) + (3_750 + 2_560)
    result = _run(_state({CONTRACT: code}), _tx(to=CONTRACT))
    assert _gas(result) == [expected] and len(result.receipts[0].logs) == 1


# --- §5.2–5.3 opcode changes ------------------------------------------------------------------------


def test_call_forwards_98_percent() -> None:
    """Parent CALLs CHILD with all its gas; CHILD stores what GAS reports. Child limit = L − ⌊L·2/100⌋."""
    parent = bytes([PUSH0, PUSH0, PUSH0, PUSH0, PUSH0, PUSH20]) + CHILD + bytes([GAS, CALL, STOP])
    child = bytes([GAS, PUSH0, SSTORE, STOP])
    gas_limit = 1_000_000
    frame = gas_limit - 60_000
    after_call_cost = frame - 5 * 2 - 3 - 2 - 2_600  # 5 PUSH0, PUSH20, GAS, cold CHILD
    child_limit = after_call_cost - after_call_cost * 2 // 100  # below the 63/64 bound
    result = _run(_state({CONTRACT: parent, CHILD: child}), _tx(to=CONTRACT, gas=gas_limit))
    assert result.state_diff.storage[(CHILD, 0)] == child_limit - 2


def test_selfdestruct_is_invalid() -> None:
    code = bytes([PUSH0, SELFDESTRUCT])
    result = _run(_state({CONTRACT: code}), _tx(to=CONTRACT, gas=100_000))
    assert result.receipts[0].status == 0 and _gas(result) == [100_000]


def test_oracle_sload_is_always_cold() -> None:
    code = bytes([PUSH0, SLOAD, PUSH0, SLOAD, STOP])  # 2 + 2,100 + 2 + 2,100 (not 100 the second time)
    assert _gas(_run(_state({ORACLE_ADDRESS: code}), _tx(to=ORACLE_ADDRESS))) == [60_000 + 4_204]
    assert _gas(_run(_state({CONTRACT: code}), _tx(to=CONTRACT))) == [60_000 + 2_204]


def test_first_call_to_coinbase_is_cold() -> None:
    """The CALL wrapper's account inspection loads the warm-preloaded coinbase cold (revm journal)."""
    call_coinbase = bytes([PUSH0, PUSH0, PUSH0, PUSH0, PUSH0, COINBASE_OP, GAS, CALL, STOP])
    balance_first = bytes([COINBASE_OP, BALANCE]) + call_coinbase
    a = _gas(_run(_state({CONTRACT: call_coinbase}), _tx(to=CONTRACT)))[0]
    b = _gas(_run(_state({CONTRACT: balance_first}), _tx(to=CONTRACT)))[0]
    assert a - 60_000 == 5 * 2 + 2 + 2 + 2_600
    assert b - 60_000 == 2 + 100 + 5 * 2 + 2 + 2 + 100


def test_call_to_coinbase_stays_warm_when_the_tx_loaded_it() -> None:
    """A coinbase the tx itself loaded (as its recipient) is in revm's journal already, so the wrapper's
    inspection leaves it warm."""
    call_self = bytes([PUSH0, PUSH0, PUSH0, PUSH0, PUSH0, COINBASE_OP, PUSH0, CALL, STOP])  # CALL(gas 0)
    state = _state({COINBASE: call_self})
    (used,) = _gas(_run(state, _tx(to=COINBASE)))
    assert used - 60_000 == 5 * 2 + 2 + 2 + 100


# --- §4, §6 compute limit, detention, Rex carry-over -----------------------------------------------


EXP, POP, PUSH32 = 0x0A, 0x50, 0x7F
MAX_OP = 10 + 50 * 32  # the most expensive opcode of the loop (EXP with a 32-byte exponent)


def _loop(start: int = 0) -> bytes:
    """Burn compute forever, cheaply for the interpreter: JUMPDEST, 2^(2^256−1) with EXP, POP, JUMP back."""
    return bytes([JUMPDEST, PUSH32]) + b"\xff" * 32 + bytes([PUSH1, 2, EXP, POP, PUSH1, start, JUMP])


LOOP = _loop()


def _oracle_then_loop() -> bytes:
    call = bytes([PUSH0, PUSH0, PUSH0, PUSH0, PUSH20]) + ORACLE_ADDRESS + bytes([GAS, STATICCALL, POP])
    return call + _loop(len(call))


def test_oracle_read_caps_compute_at_1m_and_rescues_the_rest() -> None:
    state = _state({CONTRACT: _oracle_then_loop(), ORACLE_ADDRESS: bytes([STOP])})
    result = _run(state, _tx(to=CONTRACT, gas=5_000_000))
    (used,) = _gas(result)
    assert result.receipts[0].status == 0
    # gasUsed = 39,000 storage + compute at the halting opcode, which is just past 1,000,000 (§4.7, §6.2)
    assert 1_000_000 < used - 39_000 <= 1_000_000 + MAX_OP


@pytest.mark.parametrize("spec, capped", [(Spec.REX, True), (Spec.REX1, False)])
def test_rex_carries_the_oracle_cap_into_later_txs(spec: Spec, capped: bool) -> None:
    state = _state({CONTRACT: _oracle_then_loop(), ORACLE_ADDRESS: bytes([STOP]), CHILD: LOOP})
    result = _run(state, _tx(0, to=CONTRACT, gas=5_000_000), _tx(1, to=CHILD, gas=3_000_000), spec=spec)
    second = _gas(result)[1]
    if capped:  # §6.4: Rex keeps the lowered limit for the rest of the block
        assert 1_000_000 < second - 39_000 <= 1_000_000 + MAX_OP
    else:  # Rex1 resets it: the loop simply runs out of gas
        assert second == 3_000_000


@pytest.mark.parametrize("spec, capped", [(Spec.REX, True), (Spec.REX1, False)])
def test_pre_block_history_call_caps_compute_at_20m_under_rex(spec: Spec, capped: bool) -> None:
    result = _run(_state({CHILD: LOOP}, history=True), _tx(to=CHILD, gas=30_000_000), spec=spec)
    (used,) = _gas(result)
    assert result.receipts[0].status == 0
    if capped:  # the EIP-2935 call executes NUMBER: 20M from the first tx on (§6.4 item 1)
        assert 20_000_000 < used - 39_000 <= 20_000_000 + MAX_OP
    else:
        assert used == 30_000_000


def test_timestamp_detention_applies_within_the_tx() -> None:
    code = bytes([TIMESTAMP, POP]) + _loop(2)
    result = _run(_state({CONTRACT: code}), _tx(to=CONTRACT, gas=30_000_000), spec=Spec.REX1)
    (used,) = _gas(result)
    assert result.receipts[0].status == 0 and 20_000_000 < used - 39_000 <= 20_000_000 + MAX_OP


def test_beacon_roots_contract_alone_also_detains() -> None:
    code = b"\x42"
    state = _state({CHILD: LOOP, BEACON_ROOTS_ADDRESS: code})
    (used,) = _gas(_run(state, _tx(to=CHILD, gas=30_000_000)))
    assert 20_000_000 < used - 39_000 <= 20_000_000 + MAX_OP


# --- precompiles (§5.2) -----------------------------------------------------------------------------


def _p256_input(valid: bool) -> bytes:
    from Crypto.Hash import SHA256
    from Crypto.PublicKey import ECC
    from Crypto.Signature import DSS
    key = ECC.construct(curve="P-256", d=0x1234567)
    digest = SHA256.new(b"megaeth")
    sig = DSS.new(key, "fips-186-3").sign(digest)
    point = int(key.pointQ.x).to_bytes(32, "big") + int(key.pointQ.y).to_bytes(32, "big")
    return (digest.digest() if valid else bytes(32)) + sig + point


def test_p256verify_precompile() -> None:
    from megaeth_node.executor.rex_precompiles import P256VERIFY_ADDRESS, p256_verify
    assert p256_verify(_p256_input(True)) and not p256_verify(_p256_input(False))
    data = _p256_input(True)
    zeros = data.count(0)
    tokens = zeros + 4 * (len(data) - zeros)
    expected = 21_000 + 4 * tokens + 40 * tokens + 39_000 + 3_450  # warm precompile, RIP-7212 price
    assert _gas(_run(_state(), _tx(to=P256VERIFY_ADDRESS, data=data, gas=200_000))) == [expected]


def test_kzg_point_evaluation_costs_100000() -> None:
    """An input of the wrong length fails *after* the price is charged: OutOfGas below 100,000, the input
    error from 100,000 on (§5.2; py-evm's own price would be 50,000)."""
    from eth.exceptions import OutOfGas, VMError
    from eth.vm.message import Message
    from eth.vm.transaction_context import BaseTransactionContext

    from megaeth_node.executor.precompiles import POINT_EVALUATION_ADDRESS
    from megaeth_node.executor.rex import RexComputation

    kzg = RexComputation.get_precompiles()[POINT_EVALUATION_ADDRESS]

    def run(gas: int) -> VMError:
        msg = Message(gas=gas, to=POINT_EVALUATION_ADDRESS, sender=ALICE, value=0, data=b"", code=b"")
        computation = RexComputation(None, msg, BaseTransactionContext(0, ALICE))  # type: ignore[arg-type]
        with pytest.raises(VMError) as e:
            kzg(computation)
        return e.value

    assert isinstance(run(99_999), OutOfGas)
    assert not isinstance(run(100_000), OutOfGas)


def test_fee_vaults_are_credited_on_the_receipt_gas() -> None:
    """BaseFeeVault gets receipt gas × base fee, also where the Rex receipt gas differs from py-evm's
    (the 110/token floor binds here: 400 zero-free bytes of calldata, §3.1)."""
    from gas.system import BASE_FEE_VAULT_ADDRESS

    result = _run(_state(), _tx(to=BOB, data=b"\x01" * 400, gas=2_000_000))
    (used,) = _gas(result)
    assert used == 21_000 + 110 * 4 * 400  # the Rex floor: above the 60,000 + 16·400 + 40·4·400 intrinsic
    assert result.state_diff.accounts[BASE_FEE_VAULT_ADDRESS].balance == used * BASE_FEE


def test_lean_finalize_is_py_evms(monkeypatch: pytest.MonkeyPatch) -> None:
    """`OpTransactionExecutor._prague_finalize` against py-evm's own Prague `finalize_computation`: refunds (a
    cleared slot), the coinbase fee, a value call, EIP-161 clearing of a touched empty account, a revert."""
    clear = bytes([PUSH0, PUSH0, SSTORE, STOP])  # slot 0: 5 → 0, refund
    touch = bytes([PUSH0] * 5 + [PUSH20]) + b"\xe0" * 20 + bytes([GAS, CALL, STOP])  # zero-value call: touch
    codes = {CONTRACT: clear, CHILD: touch}
    txs = (_tx(0, CONTRACT), _tx(1, CHILD), _tx(2, BOB, value=5), _tx(3, CHILD, value=7),
           _tx(4, CONTRACT, gas=70_000), _tx(5, None, data=bytes([PUSH0, PUSH0, 0xFD])))

    def run() -> BlockResult:
        state = _state(codes)
        state.storage_map[(CONTRACT, 0)] = 5
        state.accounts[b"\xe0" * 20] = Account(0, 0)  # exists and is empty: cleared once touched
        return _run(state, *txs)

    lean = run()
    monkeypatch.setattr(OpTransactionExecutor, "_prague_finalize", PragueTransactionExecutor.finalize_computation)
    assert run() == lean


def _caller(op: int, target: bytes, value: int | None, args: tuple[int, int], out: tuple[int, int],
            gas: int = 200_000) -> bytes:
    """Code that writes a word to memory, makes one CALL-family call, then stores what it can see of the
    outcome: success (slot 0), RETURNDATASIZE (1), GAS (2) and the first output word (3)."""
    def push(n: int) -> bytes:
        raw = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
        return bytes([PUSH1 + len(raw) - 1]) + raw
    code = push(0xABCDEF << 200) + bytes([PUSH0, 0x52])  # MSTORE: memory word 0 is the calldata source
    code += push(out[1]) + push(out[0]) + push(args[1]) + push(args[0])
    code += (push(value) if value is not None else b"") + bytes([PUSH20]) + target + push(gas) + bytes([op])
    code += bytes([PUSH0, SSTORE, 0x3D, PUSH1, 1, SSTORE, GAS, PUSH1, 2, SSTORE])
    return code + push(out[0]) + bytes([0x51, PUSH1, 3, SSTORE, STOP])  # MLOAD


def test_lean_call_is_py_evms(monkeypatch: pytest.MonkeyPatch) -> None:
    """`rex.standard_call` against py-evm's own Prague CALL-family opcodes: value calls to a new and an existing
    account, a value over the balance, STATICCALL (and a value CALL inside one), DELEGATECALL and CALLCODE
    storage contexts, a 7702-delegated callee, reverting and failing callees, a precompile, out-of-gas on
    memory and on the value-transfer extra gas."""
    from megaeth_node.executor import rex
    from megaeth_node.executor.op import IsthmusComputation

    ret = bytes([0x33, PUSH1, 5, SSTORE, 0x34, PUSH1, 6, SSTORE, PUSH1, 0x2A, PUSH0, 0x52, PUSH1, 0x40, PUSH0, RETURN])
    rev = bytes([PUSH1, 0x99, PUSH0, 0x52, PUSH1, 0x20, PUSH0, 0xFD])
    fresh, identity = b"\xe9" * 20, (4).to_bytes(20, "big")
    DELEGATECALL, CALLCODE = 0xF4, 0xF2
    ret_at, rev_at, bad_at, delegated = (bytes([b]) * 20 for b in (0xD1, 0xD2, 0xD3, 0xD4))
    callers = [
        _caller(CALL, fresh, 3, (0, 32), (0, 32)), _caller(CALL, ret_at, 3, (0, 32), (0, 16)),
        _caller(CALL, ret_at, 10**30, (0, 32), (0, 32)), _caller(STATICCALL, ret_at, None, (0, 32), (32, 64)),
        _caller(DELEGATECALL, ret_at, None, (0, 0), (0, 64)), _caller(CALLCODE, ret_at, 7, (4, 8), (0, 32)),
        _caller(CALL, delegated, 0, (0, 32), (0, 32)), _caller(CALL, rev_at, 0, (0, 32), (0, 64)),
        _caller(CALL, bad_at, 0, (0, 32), (0, 32)), _caller(STATICCALL, identity, None, (0, 32), (0, 32)),
        _caller(CALL, ret_at, 0, (0, 2**40), (0, 32)), _caller(CALL, fresh, 1, (0, 32), (0, 32), gas=2**200),
    ]
    callees = {ret_at: ret, rev_at: rev, bad_at: bytes([0xFE]), delegated: b"\xef\x01\x00" + ret_at}
    callers.append(_caller(STATICCALL, b"\xca" * 20, None, (0, 0), (0, 0)))  # a value CALL inside a STATICCALL
    codes = {**callees, b"\xca" * 20: callers[0], **{bytes([0xC0 + i]) * 20: c for i, c in enumerate(callers)}}
    txs = [_tx(i, bytes([0xC0 + i]) * 20, value=9 if i == 4 else 0) for i in range(len(callers))]  # 4: DELEGATECALL
    txs.append(_tx(len(callers), bytes([0xC1]) * 20, gas=65_000))  # out of gas for the value transfer's extra gas

    def run() -> BlockResult:
        state = _state(codes)
        for address in list(codes)[len(callees):]:
            state.accounts[address] = replace(state.accounts[address], balance=10**6)
        return _run(state, *txs)

    lean = run()
    assert [r.status for r in lean.receipts] == [1] * 10 + [0, 1, 1, 0]  # out of gas: memory, the value's extra
    successes = [lean.state_diff.storage.get((bytes([0xC0 + i]) * 20, 0), 0) for i in range(len(callers))]
    assert successes == [1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0]  # 2: over the balance; 3, 12: writes in a static call
    assert lean.state_diff.storage[(bytes([0xC4]) * 20, 6)] == 9  # the DELEGATECALL keeps CALLVALUE

    def py_evms(computation: Any, opcode: int, *args: int) -> None:
        if opcode not in (CALL, CALLCODE):
            args = args[:2] + args[3:]
        computation._stack.values.extend(reversed(args))
        IsthmusComputation.opcodes[opcode](computation=computation)

    monkeypatch.setattr(rex, "standard_call", py_evms)
    assert run() == lean


def test_modexp_of_an_empty_base_and_modulus_costs_the_minimum() -> None:
    """EIP-7883 pricing (Rex's MODEXP): with base and modulus both empty the exponent is not priced, as revm
    returns the 500 minimum before it (a 32-byte all-ones exponent would otherwise price at 4,080)."""
    from megaeth_node.executor.rex_precompiles import modexp_gas_eip7883

    def lengths(base: int, exp: int, mod: int) -> bytes:
        return b"".join(n.to_bytes(32, "big") for n in (base, exp, mod))

    assert modexp_gas_eip7883(lengths(0, 32, 0) + b"\xff" * 32) == 500
    assert modexp_gas_eip7883(lengths(0, 64, 0) + b"\xff" * 64) == 500
    assert modexp_gas_eip7883(lengths(1, 32, 1) + b"\x02" + b"\xff" * 32 + b"\x05") == 16 * 255
