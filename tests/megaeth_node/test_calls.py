"""`eth_call` / `eth_estimateGas` simulation (megaeth_node.calls) on a Rex block being built: nothing it does
stays behind (state, the carried compute limit), and with AOT forced a native run that cannot vouch for
itself (here: a loop running out of gas) is redone interpreted, with the interpreter's result."""

from __future__ import annotations

from pathlib import Path

import pytest
from gas.spec import Spec

from megaeth_node.calls import CallRequest, simulate
from megaeth_node.executor import native
from megaeth_node.executor.block import OpenBlock
from megaeth_node.executor.rex import RexRules
from tests.executor.test_rex import ALICE, CHILD, LOOP, REX, _block, _state

ADD_ONE = bytes([0x60, 0x01, 0x60, 0x02, 0x01, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xF3])  # return 1+2


def _simulate(to: bytes, gas: int) -> object:
    run = OpenBlock(_state({CHILD: LOOP, to: ADD_ONE} if to != CHILD else {CHILD: LOOP}), _block().header, REX,
                    RexRules(Spec.REX))
    state = run.evm_state
    limit = state.rex.compute_limit  # type: ignore[attr-defined]
    res = simulate(state, run.rules, REX.chain_id, CallRequest(sender=ALICE, to=to), gas)
    assert state.rex.compute_limit == limit and state.get_nonce(ALICE) == 0  # type: ignore[attr-defined]
    return res


@pytest.mark.parametrize("to, gas", [(CHILD, 3_000_000), (b"\xc7" * 20, 100_000)])
def test_native_simulation_matches_the_interpreter(to: bytes, gas: int, tmp_path: Path) -> None:
    interpreted = _simulate(to, gas)
    native.configure("always", tmp_path)
    try:
        natively = _simulate(to, gas)
        registry = native.registry_for("rex")
        assert registry is not None and registry.native_frames > 0
    finally:
        native.configure("off", tmp_path)
    assert natively == interpreted


def test_a_contract_may_be_the_caller_of_a_simulation() -> None:
    """`eth_call` / `eth_estimateGas` from an address with code (a smart account, an ERC-4337 entry point) runs,
    as geth's calls skip EIP-3607's sender check; only signed transactions are held to it."""
    run = OpenBlock(_state({CHILD: ADD_ONE, ALICE: ADD_ONE}), _block().header, REX, RexRules(Spec.REX))
    res = simulate(run.evm_state, run.rules, REX.chain_id, CallRequest(sender=ALICE, to=CHILD), 100_000)
    assert res.success and int.from_bytes(res.output, "big") == 3  # type: ignore[attr-defined]


def test_revert_reasons_in_geths_words() -> None:
    """Error(string) and Panic(uint256) revert data decode as geth's abi.UnpackRevert words them (execution-apis
    `eth_call/call-revert-abi-panic.io`: "execution reverted: assert(false)")."""
    from megaeth_node.calls import _revert_message, revert_reason

    def panic(code: int) -> bytes:
        return bytes.fromhex("4e487b71") + code.to_bytes(32, "big")

    error = bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + (2).to_bytes(32, "big") + b"no".ljust(32, b"\0")
    cases = (panic(1), panic(0x11), panic(0x99), error, b"", panic(1)[:20])
    assert [_revert_message(d) for d in cases] == [
        "execution reverted: assert(false)", "execution reverted: arithmetic underflow or overflow",
        "execution reverted: unknown panic code: 0x99", "execution reverted: no", "execution reverted",
        "execution reverted"]
    assert [revert_reason(d) for d in cases] == [
        "assert(false)", "arithmetic underflow or overflow", "unknown panic code: 0x99", "no", None, None]
