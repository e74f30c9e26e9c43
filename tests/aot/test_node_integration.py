"""AOT in the node: which computation classes may run native code, the hot-contract registry
(background build, publication at a transaction boundary), and `megaeth-node aot ...`."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from aot.reference import run_frame
from megaeth_node import aot_cli
from megaeth_node.config import Config, NodeConfig
from megaeth_node.executor import native
from megaeth_node.executor.op import OpState
from megaeth_node.executor.rex import RexState
from megaeth_node.executor.transact import CheckedCancunState

FIB = bytes.fromhex("600035600060015b8215601c578181019150909160019003916007565b50600052602060" "00f3")


def test_native_only_where_proved_exact() -> None:
    assert native.native_flavour(CheckedCancunState.computation_class) == "cancun"
    assert native.native_flavour(OpState.computation_class) == "cancun"
    assert native.native_flavour(RexState.computation_class) == "rex"  # wrapped opcodes go to the host
    registry = native.NativeRegistry("always", Path("/nonexistent"))
    assert native.with_native(RexState, registry) is RexState, "a cancun registry never serves Rex"
    assert native.with_native(OpState, registry).computation_class.__name__ == "NativeIsthmusComputation"
    rex_registry = native.NativeRegistry("always", Path("/nonexistent"), flavour="rex")
    assert native.with_native(RexState, rex_registry).computation_class.__name__ == "NativeRexComputation"
    assert native.with_native(OpState, rex_registry) is OpState


def test_auto_mode_builds_hot_code_and_publishes_at_transaction_start(tmp_path: Path) -> None:
    registry = native.NativeRegistry("auto", tmp_path)
    for _ in range(native.HOT_CALLS):
        assert registry.lookup(FIB) is None
    registry.wait()
    assert registry.lookup(FIB) is None  # built, not yet published
    registry.begin_transaction()
    contract = registry.lookup(FIB)
    assert contract is not None
    data = (30).to_bytes(32, "big")
    assert run_frame(FIB, data, 100_000, contract) == run_frame(FIB, data, 100_000)
    assert native.NativeRegistry("off", tmp_path).lookup(FIB) is None


def test_cli_inspect_compile_bench(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = Config(node=NodeConfig(data_dir=tmp_path))
    ns = argparse.Namespace
    assert aot_cli.handler(ns(aot_command="inspect", code="0x" + FIB.hex()), cfg) == 0
    assert "static stack heights: yes" in capsys.readouterr().out
    assert aot_cli.handler(ns(aot_command="inspect", code="0x60005442600155", flavour="rex"), cfg) == 0
    # MegaETH's detention is the host's; SLOAD and SSTORE are native
    assert "host opcodes: TIMESTAMP×1\n" in capsys.readouterr().out
    (tmp_path / "fib.hex").write_text(FIB.hex() + "\n")
    assert aot_cli.handler(ns(aot_command="compile", code=str(tmp_path / "fib.hex")), cfg) == 0
    key = capsys.readouterr().out.strip()
    assert (tmp_path / "aot" / f"{key}.so").exists()
    bench = ns(aot_command="bench", code=FIB.hex(), calldata=(50).to_bytes(32, "big").hex(), gas=100_000, repeat=1)
    assert aot_cli.handler(bench, cfg) == 0
    assert "native" in capsys.readouterr().out
    assert aot_cli.handler(ns(aot_command="inspect", code="zz"), cfg) == 2
