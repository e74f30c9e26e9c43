"""`debug_traceTransaction`'s struct logger (geth's default tracer) on a sealed block of the in-process
sequencer: positions, gas and costs as geth reports them, storage, child frames and their errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import rlp
from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from megaeth_node.genesis import dev_accounts, dev_chain
from megaeth_node.sequencer import Sequencer, SequencerSettings
from megaeth_node.trace import StructLogger, struct_trace

ACCOUNTS = dev_accounts()
CHAIN = dev_chain(6342)
CALLEE = bytes.fromhex("6001600055")  # SSTORE(0, 1): out of gas with the 1,000 it is given


def _caller(callee: bytes) -> bytes:
    """SSTORE(0, 0x2a); SLOAD(0); CALL(1000 gas, callee, no value, no data); POP; then the end of the code."""
    return bytes.fromhex("602a600055" "60005450" "6000600060006000600073") + callee \
        + bytes.fromhex("6103e8f150")


def _initcode(runtime: bytes) -> bytes:
    n = len(runtime).to_bytes(2, "big")
    return b"\x61" + n + bytes.fromhex("600e600039") + b"\x61" + n + bytes.fromhex("6000f3") + runtime


def _signed(nonce: int, to: bytes | None, data: bytes) -> bytes:
    tx = {"value": 0, "gas": 1_000_000, "maxFeePerGas": 10**8, "maxPriorityFeePerGas": 10**6, "nonce": nonce,
          "chainId": 6342, "data": data}
    if to is not None:
        tx["to"] = to_checksum_address(to)
    return bytes(Account.sign_transaction(tx, ACCOUNTS[1].private_key).raw_transaction)


def test_struct_logs_of_a_call_into_a_failing_frame(tmp_path: Path) -> None:
    node = Sequencer(SequencerSettings(CHAIN, tmp_path, alloc={a.address: 10**24 for a in ACCOUNTS}))
    me = ACCOUNTS[1].address
    callee, caller = (keccak(rlp.encode([me, n]))[12:] for n in (0, 1))
    for nonce, to, data in ((0, None, _initcode(CALLEE)), (1, None, _initcode(_caller(callee))),
                            (2, caller, b"")):
        asyncio.run(node.submit(_signed(nonce, to, data)))
    mb = node._mini_block()
    assert mb is not None and [r.status for r in mb.receipts] == [1, 1, 1]
    block, receipts = node._seal()
    used = receipts[2].cumulative_gas_used - receipts[1].cumulative_gas_used

    out = struct_trace(node.chain, CHAIN, block.header.number, 2, StructLogger())
    logs = out["structLogs"]
    assert out["gas"] == used and out["failed"] is False and out["returnValue"] == ""
    top = [e for e in logs if e["depth"] == 1]
    code = _caller(callee)
    assert [e["pc"] for e in top][:6] == [0, 2, 4, 5, 7, 8] and top[-1] == {**top[-1], "op": "STOP", "pc": len(code)}
    sstore, sload = top[2], top[4]
    assert sstore["op"] == "SSTORE" and sstore["storage"] == {"0" * 64: f"{0x2a:064x}"}
    assert sload["op"] == "SLOAD" and sload["storage"] == {"0" * 64: f"{0x2a:064x}"}
    assert sstore["stack"] == ["0x2a", "0x0"]  # bottom first, as geth's
    i = next(k for k, e in enumerate(logs) if e["op"] == "CALL")
    call, child, after = logs[i], logs[i + 1:i + 4], logs[i + 4]
    # the call costs its cold account access and the 1,000 gas it passes on; the child burns them all
    assert call["gasCost"] == 2600 + 1000 and [e["depth"] for e in child] == [2, 2, 2] and child[0]["gas"] == 1000
    assert child[-1]["op"] == "SSTORE" and child[-1]["error"] == "out of gas" and "error" not in call
    assert after["op"] == "POP" and after["gas"] == call["gas"] - call["gasCost"]
    same_frame = [(a, b) for a, b in zip(top, top[1:]) if a["op"] != "CALL"]
    assert all(a["gas"] - a["gasCost"] == b["gas"] for a, b in same_frame)

    bare = struct_trace(node.chain, CHAIN, block.header.number, 2,
                        StructLogger(stack=False, storage=False, limit=3))["structLogs"]
    assert len(bare) == 3 and all("stack" not in e and "storage" not in e for e in bare)


def test_execution_errors_in_geths_wording() -> None:
    from eth import exceptions as vm

    from megaeth_node.executor.tracing import vm_error

    assert [vm_error(e) for e in (vm.OutOfGas("x", 1), vm.Revert(b""), vm.InvalidJumpDestination("Invalid"),
                                   vm.InvalidInstruction("Invalid opcode 0xfe @ 3"),
                                   vm.InvalidInstruction("Invalid opcode 0xc0 @ 0"), vm.InsufficientStack("x"))] \
        == ["out of gas", "execution reverted", "invalid jump destination", "invalid opcode: INVALID",
            "invalid opcode: opcode 0xc0 not defined", "stack underflow"]
