"""MegaETH MiniRex rules wired through the executor: mega-evm's MiniRex gas tests (v1.3.1
`crates/mega-evm/tests/mini_rex/gas.rs`) as data, with the same contracts, and MiniRex's differences from Rex
(spec/mega-evm.md §2.1, §3.1, §4.6, §5.2–5.3).

Each expected number is upstream's (the sums in the comments are upstream's own breakdowns); nothing here
recomputes them through the code under test.
"""

from __future__ import annotations

import pytest
from gas.spec import ChainConfig, ForkSchedule, Spec
from gas.system import ORACLE_ADDRESS
from salt.hasher import bucket_id

from megaeth_node.executor.block import apply_block
from megaeth_node.executor.rules import IsthmusRules, rules_for
from megaeth_node.executor.state import Account, storage_key
from megaeth_node.types import keccak256
from tests.executor.test_rex import ALICE, BOB, CHILD, CONTRACT, LOOP, MAX_OP, _block, _gas, _oracle_then_loop
from tests.executor.test_rex import _run, _state, _tx

MINI_REX_CHAIN = ChainConfig(6342, ForkSchedule(mini_rex=0), system_contracts=False)
M2 = 2_000_000  # MiniRex's SSTORE-set / new-account storage gas per unit of bucket multiplier (§5.2)

PUSH0, MSTORE, SSTORE, GAS, CREATE, CALL, CREATE2, STATICCALL, RETURN, STOP = (
    0x5F, 0x52, 0x55, 0x5A, 0xF0, 0xF1, 0xF5, 0xFA, 0xF3, 0x00)
LOG0, INVALID, DELEGATECALL, CALLCODE = 0xA0, 0xFE, 0xF4, 0xF2


def _push(data: bytes) -> bytes:
    """upstream BytecodeBuilder::push_bytes: PUSHn of exactly these bytes."""
    return bytes([0x5F + len(data)]) + data


def _n(value: int, size: int) -> bytes:
    """push_number of a `size`-byte integer type (u8 → PUSH1, u64 → PUSH8)."""
    return _push(value.to_bytes(size, "big"))


def _mstore(offset: int, data: bytes) -> bytes:
    """BytecodeBuilder::mstore: each 32-byte chunk (right-padded) as PUSH32, PUSH8 offset, MSTORE."""
    padded = data + bytes(-len(data) % 32)
    return b"".join(_push(padded[i:i + 32]) + _n(offset + i, 8) + bytes([MSTORE]) for i in range(0, len(padded), 32))


def _return_with_data(data: bytes) -> bytes:
    return _mstore(0, data) + _n(len(data), 8) + _n(0, 8) + bytes([RETURN])


CONSTRUCTOR = _return_with_data(b"\x00")  # 62 bytes, 83 calldata tokens; deploys the 1-byte code 0x00


def _cap(key: bytes, multiplier: int) -> dict[int, int]:
    """The bucket of `key` at capacity 256·m (upstream's `expansion_times` = m − 1)."""
    return {bucket_id(key): 256 * multiplier}


def _mini(state: object, *txs: object, **kw: object) -> list[int]:
    return _gas(_run(state, *txs, spec=Spec.MINI_REX, **kw))  # type: ignore[arg-type]


# --- spec selection -------------------------------------------------------------------------------------


def test_mini_rex_chain_runs_mini_rex_rules() -> None:
    """A chain with only miniRexTime = 0 executes under MiniRex: a plain transfer pays 21,000, not Rex's
    60,000 (no 39,000 intrinsic storage gas, §3.1; upstream `test_mini_rex_no_additional_intrinsic_gas`)."""
    assert rules_for(Spec.MINI_REX).spec == Spec.MINI_REX
    result = apply_block(_state(), _block(_tx(gas=21_000)), MINI_REX_CHAIN)
    assert _gas(result) == [21_000]


def test_mini_rex1_rolls_back_to_equivalence() -> None:
    """MiniRex1 was a rollback: between miniRex1Time and miniRex2Time blocks run plain Isthmus (§2.2). Ten
    non-zero calldata bytes (40 tokens) pay the Prague floor 21,000 + 10·40 there, and MiniRex's
    21,000 + 110·40 once MiniRex2 is active (the block's timestamp is 1,000)."""
    tx = _tx(data=b"\x01" * 10, gas=30_000)
    rolled_back = ChainConfig(6342, ForkSchedule(mini_rex=0, mini_rex1=500, mini_rex2=5_000), system_contracts=False)
    assert _gas(apply_block(_state(), _block(tx), rolled_back)) == [21_400]
    restored = ChainConfig(6342, ForkSchedule(mini_rex=0, mini_rex1=500, mini_rex2=900), system_contracts=False)
    assert _gas(apply_block(_state(), _block(tx), restored)) == [25_400]


# --- §5.2 storage gas: 2,000,000 × m, with m (not m − 1) -----------------------------------------------


SSTORE_6342_AT_0 = _push((6342).to_bytes(32, "big")) + _push(bytes(32)) + bytes([SSTORE, STOP])


@pytest.mark.parametrize(("multiplier", "expected"), [(1, 43_106 + M2), (2, 43_106 + 2 * M2),
                                                      (10, 43_106 + 10 * M2)])
def test_sstore_set_costs_2m_per_multiplier(multiplier: int, expected: int) -> None:
    """upstream `test_sstore_no_bucket_expansion` / `_with_bucket_expansion_once` / `_ten_times`."""
    state = _state({CONTRACT: SSTORE_6342_AT_0}, _cap(storage_key(CONTRACT, 0), multiplier))
    assert _mini(state, _tx(to=CONTRACT, gas=30_000_000)) == [expected]


@pytest.mark.parametrize(("new", "expected"), [(6342, 23_906 + 2_100), (0, 21_206)])
@pytest.mark.parametrize("multiplier", [1, 2])
def test_sstore_reset_and_clear_pay_no_storage_gas(new: int, expected: int, multiplier: int) -> None:
    """upstream `test_sstore_reset[_with_bucket_expansion]` (2333 → 6342) and `test_sstore_clear[…]` (2333 → 0,
    refund 4,800): only a zero slot's first write pays storage gas."""
    code = _push(new.to_bytes(32, "big")) + _push(bytes(32)) + bytes([SSTORE, STOP])
    state = _state({CONTRACT: code}, _cap(storage_key(CONTRACT, 0), multiplier))
    state.storage_map[(CONTRACT, 0)] = 2333
    assert _mini(state, _tx(to=CONTRACT, gas=1_000_000)) == [expected]


@pytest.mark.parametrize(("multiplier", "expected"), [(1, 2_021_000), (2, 4_021_000)])
def test_value_transfer_to_a_new_account(multiplier: int, expected: int) -> None:
    """upstream `test_ether_transfer_to_non_existent_account[_with_bucket_expansion]`: tx-level new-account
    storage gas 2,000,000 × m (§3.1)."""
    assert _mini(_state(capacities=_cap(BOB, multiplier)), _tx(value=1, gas=5_000_000)) == [expected]


def test_value_transfer_to_an_existing_account() -> None:
    """upstream `test_ether_transfer_to_existent_account`: 21,000."""
    state = _state()
    state.accounts[BOB] = Account(0, 2333)
    assert _mini(state, _tx(value=1, gas=100_000)) == [21_000]


NESTED_TRANSFER = bytes([PUSH0] * 4) + _n(1, 1) + _push(CHILD) + bytes([GAS, CALL, STOP])


@pytest.mark.parametrize(("exists", "multiplier", "expected"), [
    (False, 1, 55_316 + M2), (False, 2, 55_316 + 2 * M2), (True, 1, 30_316)])
def test_nested_value_call(exists: bool, multiplier: int, expected: int) -> None:
    """upstream `test_nested_ether_transfer_to_[non_]existent_account[…]`: CALL with 1 wei and all gas."""
    state = _state({CONTRACT: NESTED_TRANSFER}, _cap(CHILD, multiplier))
    state.accounts[CONTRACT] = Account(1, 1000, keccak256(NESTED_TRANSFER))
    if exists:
        state.accounts[CHILD] = Account(0, 2333)
    assert _mini(state, _tx(to=CONTRACT, gas=5_000_000)) == [expected]


@pytest.mark.parametrize(("multiplier", "expected"), [(1, 53_554 + M2 + 10_000 + 40 * 83),
                                                      (2, 53_554 + 2 * M2 + 10_000 + 40 * 83)])
def test_create_tx(multiplier: int, expected: int) -> None:
    """upstream `test_create_contract_to_non_existent_account[…]`: new-account storage gas for the created
    address, 10,000 per deployed byte, 40 per calldata token (83 tokens)."""
    created = keccak256(bytes.fromhex("d694") + ALICE + b"\x80")[12:]
    state = _state(capacities=_cap(created, multiplier))
    assert _mini(state, _tx(to=None, data=CONSTRUCTOR, gas=5_000_000)) == [expected]


@pytest.mark.parametrize("create2", [False, True])
@pytest.mark.parametrize("multiplier", [1, 2])
def test_nested_create(create2: bool, multiplier: int) -> None:
    """upstream `test_nested_create[2]_contract_to_non_existent_account[…]`: CREATE 21,255 / CREATE2 21,270 +
    32,000 + 2,000,000 × m + 10,000."""
    salt = (6342).to_bytes(32, "big")
    if create2:
        created = keccak256(b"\xff" + CONTRACT + salt + keccak256(CONSTRUCTOR))[12:]
    else:
        created = keccak256(bytes.fromhex("d694") + CONTRACT + b"\x01")[12:]  # the contract's nonce is 1
    code = (_push(salt) if create2 else b"") + _mstore(0, CONSTRUCTOR) + _n(len(CONSTRUCTOR), 8) + _n(0, 1) \
        + _n(0, 1) + bytes([CREATE2 if create2 else CREATE, STOP])
    state = _state({CONTRACT: code}, _cap(created, multiplier))
    expected = (21_270 if create2 else 21_255) + 32_000 + multiplier * M2 + 10_000
    assert _mini(state, _tx(to=CONTRACT, gas=5_000_000)) == [expected]


def test_calldata_floor() -> None:
    """upstream `test_calldata_additional_cost`: 1,024 zero bytes to a code-less callee pay the floor,
    21,000 + 110 × 1,024 = 133,640."""
    assert _mini(_state(), _tx(to=BOB, data=bytes(1024), gas=1_000_000)) == [133_640]


@pytest.mark.parametrize(("data", "expected"), [(b"\x42" * 100, 65_000), (b"\x42" * 1024, 471_560),
                                                (b"", 21_000), (b"\x42", 21_440)])
def test_floor_gas(data: bytes, expected: int) -> None:
    """upstream `test_floor_gas_calldata_mini_rex`, `_large_calldata_`, `_empty_calldata`, `_minimal_calldata`."""
    assert _mini(_state(), _tx(to=BOB, data=data, gas=1_000_000)) == [expected]


def test_mini_rex_log_storage_gas() -> None:
    """upstream `test_log_additional_cost` (LOG1 of 1,024 bytes): 30,049 + 3,750 + 80 × 1,024."""
    code = _n(1, 1) + _n(1024, 8) + _n(0, 1) + bytes([LOG0 + 1, STOP])
    assert _mini(_state({CONTRACT: code}), _tx(to=CONTRACT, gas=1_000_000)) == [30_049 + 3_750 + 81_920]


def test_new_account_storage_gas_beyond_the_gas_limit_halts_the_tx() -> None:
    """upstream `test_mini_rex_insufficient_storage_gas_for_new_account_oog` / `…_contract_creation_oog`: the
    tx-level storage gas (2,000,000 × 10) is above the gas limit, so the tx is included as a halt spending its
    whole gas limit."""
    result = _run(_state(capacities=_cap(BOB, 10)), _tx(value=1, gas=22_000), spec=Spec.MINI_REX)
    assert _gas(result) == [22_000] and result.receipts[0].status == 0
    created = keccak256(bytes.fromhex("d694") + ALICE + b"\x80")[12:]
    result = _run(_state(capacities=_cap(created, 10)), _tx(to=None, gas=60_000), spec=Spec.MINI_REX)
    assert _gas(result) == [60_000] and result.receipts[0].status == 0


# --- §5.3: CALLCODE, DELEGATECALL, STATICCALL are standard opcodes under MiniRex -----------------------------


def _burner(opcode: int) -> bytes:
    """Calls CHILD (which burns everything it gets) with all gas: the tx spends all but what the caller keeps."""
    value = _n(0, 1) if opcode in (CALL, CALLCODE) else b""
    return bytes([PUSH0] * 4) + value + _push(CHILD) + bytes([GAS, opcode, STOP])


@pytest.mark.parametrize("opcode", [CALLCODE, DELEGATECALL, STATICCALL])
def test_only_call_and_creates_forward_98_percent(opcode: int) -> None:
    """MiniRex caps CALL, CREATE and CREATE2 at 98/100 and leaves CALLCODE, DELEGATECALL and STATICCALL at
    63/64 (upstream `instructions.rs`: Rex wraps the other three): a call of all gas into a child that burns it
    keeps 1/64 under MiniRex, as plain Isthmus does (no calldata, no storage gas: the same intrinsic gas), and
    2/100 under Rex and for CALL."""
    def gas(code: bytes, spec: Spec | None) -> int:
        state = _state({CONTRACT: code, CHILD: bytes([INVALID])})
        tx = _tx(to=CONTRACT, gas=10_000_000)
        if spec is None:
            return _gas(apply_block(state, _block(tx), ChainConfig(6342, ForkSchedule()), IsthmusRules()))[0]
        return _gas(_run(state, tx, spec=spec))[0]

    isthmus = gas(_burner(opcode), None)
    assert gas(_burner(opcode), Spec.MINI_REX) == isthmus
    assert gas(_burner(opcode), Spec.REX) - 39_000 < isthmus  # Rex keeps 2 %, more than 1/64
    assert gas(_burner(CALL), Spec.MINI_REX) < gas(_burner(CALL), None)


@pytest.mark.parametrize("opcode", [DELEGATECALL, STATICCALL])
def test_unwrapped_calls_see_precompiles_warm(opcode: int) -> None:
    """Rex's CALL-family wrapper inspects `to` first, which loads a warm-preloaded precompile into revm's
    journal cold (2,600); MiniRex runs DELEGATECALL and STATICCALL unwrapped, so the precompile stays warm
    (100), exactly 2,500 less than the wrapped CALL to it."""
    identity = (4).to_bytes(20, "big")

    def code(op: int) -> bytes:
        value = _n(0, 1) if op == CALL else b""
        return bytes([PUSH0] * 4) + value + _push(identity) + _n(0xFFFF, 2) + bytes([op, STOP])

    unwrapped = _mini(_state({CONTRACT: code(opcode)}), _tx(to=CONTRACT))[0]
    wrapped = _mini(_state({CONTRACT: code(CALL)}), _tx(to=CONTRACT))[0]
    assert wrapped - unwrapped == 2_600 - 100 + 3  # CALL also pushes the value (PUSH1, 3 gas)


# --- §4.6 limits ------------------------------------------------------------------------------------------


def test_tx_data_size_limit_is_a_quarter_of_rex() -> None:
    """MiniRex's tx data-size limit is 3,276,800 bytes (Rex: 13,107,200, §4.6): a LOG0 of 3,276,700 bytes
    (+110 for the tx, +40 for the caller's account) halts under MiniRex and succeeds under Rex."""
    code = _push((3_276_700).to_bytes(4, "big")) + _n(0, 1) + bytes([LOG0, STOP])
    for spec, status in ((Spec.MINI_REX, 0), (Spec.REX, 1)):
        result = _run(_state({CONTRACT: code}), _tx(to=CONTRACT, gas=600_000_000), spec=spec, gas_limit=10**9)
        assert result.receipts[0].status == status, spec


def test_state_growth_is_not_limited() -> None:
    """MiniRex tracks state growth without a limit (§4.6): 1,001 new slots in one tx succeed, where Rex's
    1,000 halts the tx."""
    # JUMPDEST; DUP1 PUSH1 1 ADD DUP2 SSTORE (slot i := i+1); PUSH1 1 ADD; DUP1 PUSH2 1001 GT; PUSH1 2 JUMPI; STOP
    body = bytes.fromhex("5b" "80" "6001" "01" "81" "55" "6001" "01" "80" "6103e9" "11" "6002" "57" "00")
    code = _n(0, 1) + body
    for spec, status in ((Spec.MINI_REX, 1), (Spec.REX, 0)):
        result = _run(_state({CONTRACT: code}), _tx(to=CONTRACT, gas=2_100_000_000), spec=spec, gas_limit=10**10)
        assert result.receipts[0].status == status, spec


# --- what MiniRex shares with Rex: detention and its carry-over, SELFDESTRUCT, the oracle's cold SLOAD ----------


def test_oracle_cap_carries_into_later_txs() -> None:
    """Before Rex1 the lowered compute limit stays for the rest of the block (§6.4): MiniRex as Rex. The
    second tx's loop halts just past 1,000,000 compute gas (its gas has no storage part under MiniRex)."""
    state = _state({CONTRACT: _oracle_then_loop(), ORACLE_ADDRESS: bytes([STOP]), CHILD: LOOP})
    result = _run(state, _tx(0, to=CONTRACT, gas=5_000_000), _tx(1, to=CHILD, gas=3_000_000), spec=Spec.MINI_REX)
    assert [r.status for r in result.receipts] == [0, 0]
    assert 1_000_000 < _gas(result)[1] <= 1_000_000 + MAX_OP


def test_pre_block_history_call_caps_compute_at_20m() -> None:
    """The EIP-2935 call executes NUMBER: 20,000,000 from the first tx on, under MiniRex's 1,000,000,000."""
    result = _run(_state({CHILD: LOOP}, history=True), _tx(to=CHILD, gas=30_000_000), spec=Spec.MINI_REX)
    assert result.receipts[0].status == 0 and 20_000_000 < _gas(result)[0] <= 20_000_000 + MAX_OP


def test_mini_rex_selfdestruct_is_invalid() -> None:
    """upstream `tests/mini_rex/disallow_selfdestruct.rs`: a halt that consumes the frame's gas."""
    result = _run(_state({CONTRACT: bytes([PUSH0, 0xFF])}), _tx(to=CONTRACT, gas=100_000), spec=Spec.MINI_REX)
    assert result.receipts[0].status == 0 and _gas(result) == [100_000]


def test_mini_rex_oracle_sload_is_always_cold() -> None:
    """Two SLOADs of the oracle's slot 0 pay 2,100 each (§5.2)."""
    code = bytes([PUSH0, 0x54, PUSH0, 0x54, STOP])
    assert _mini(_state({ORACLE_ADDRESS: code}), _tx(to=ORACLE_ADDRESS)) == [21_000 + 4_204]
