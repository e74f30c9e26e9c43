"""Every input of shared/bench-contracts/cases.json run natively through py-evm's host: status,
output and execution gas exact. The maximum-size JUMPDEST-dense contract must fall back (budget)."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from aot.analysis import analyse
from aot.cache import Budget, NativeCache
from aot.loader import Contract, build_library
from aot.reference import run_frame
from aot.toolchain import find_compiler

GAS = 10**12
REFUSED = {"micro/loop_with_many_jumpdests"}


def _calldata(s: str) -> bytes:
    return bytes.fromhex(re.sub(r"\((\d+)[*x]([0-9a-fA-F]+)\)", lambda m: m.group(2) * int(m.group(1)), s)[2:])


@pytest.fixture(scope="module")
def benches(bench_contracts: Path) -> list[dict[str, Any]]:
    return json.loads((bench_contracts / "cases.json").read_text())["benchmarks"]


@pytest.fixture(scope="module")
def contracts(benches: list[dict[str, Any]], bench_contracts: Path,
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, Contract]:
    """All compilable contracts, in two shared objects built in parallel."""
    cc = find_compiler()
    codes = {b["name"]: bytes.fromhex((bench_contracts / b["code"]).read_text().strip())
             for b in benches if b["name"] not in REFUSED}
    names = sorted(codes, key=lambda n: -len(codes[n]))
    halves = [names[0::2], names[1::2]]
    out = tmp_path_factory.mktemp("aot-bench")

    def build(i: int) -> dict[str, Contract]:
        fns = [(f"c{j}", analyse(codes[n])) for j, n in enumerate(halves[i])]
        lib = build_library(cc, fns, out / f"half{i}.so", timeout_s=600)
        return {n: Contract(lib, f"c{j}", codes[n]) for j, n in enumerate(halves[i])}

    with ThreadPoolExecutor(2) as pool:
        parts = list(pool.map(build, (0, 1)))
    return {**parts[0], **parts[1]}


def test_every_case_exact(benches: list[dict[str, Any]], contracts: dict[str, Contract]) -> None:
    checked = 0
    for bench in benches:
        if bench["name"] in REFUSED:
            continue
        contract = contracts[bench["name"]]
        for case in bench["inputs"]:
            r = run_frame(contract.code, _calldata(case["calldata"]), GAS, contract)
            where = f"{bench['name']}/{case['label']}"
            assert r.status == case["status"], where
            assert "0x" + r.output.hex() == case["output"], where
            assert GAS - r.gas_left == case["execution_gas"], where
            checked += 1
    assert checked >= 60


def test_max_size_jumpdest_dense_contract_falls_back(bench_contracts: Path, tmp_path: Path) -> None:
    code = bytes.fromhex((bench_contracts / "evm-benchmarks/micro/loop_with_many_jumpdests.hex").read_text().strip())
    assert len(code) == 24_576
    assert NativeCache(tmp_path, find_compiler(), budget=Budget()).compile(code) is None
