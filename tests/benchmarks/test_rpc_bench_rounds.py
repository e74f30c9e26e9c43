"""rpc_bench's rounds: a target that stops executing fails its round early (foundry-rs/foundry#10122), a failed
round is tried again on a fresh process, and a whole run against our node writes every figure the issue names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench_scripts import BENCHMARKS, load_benchmark

rpc_bench = load_benchmark("rpc_bench")


def test_wait_nonces_gives_up_once_nothing_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rpc_bench, "nonces", lambda url, addrs: [1, 1])  # stuck below the wanted [2, 2]
    start = rpc_bench.time.monotonic()
    assert rpc_bench.wait_nonces("http://x/", ["a", "b"], [2, 2], start + 60, interval=0.01, stall_s=0.2) is None
    assert rpc_bench.time.monotonic() - start < 5  # the stall, not the 60 s deadline


def test_wait_nonces_waits_while_nonces_move(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = iter([[0, 0], [0, 1], [1, 1], [1, 2], [2, 2]])
    monkeypatch.setattr(rpc_bench, "nonces", lambda url, addrs: next(seen))
    now = rpc_bench.time.monotonic()
    # each poll moves one nonce: a stall of 0.05 s never elapses between polls 0.01 s apart
    assert rpc_bench.wait_nonces("http://x/", ["a", "b"], [2, 2], now + 60, interval=0.01, stall_s=0.05) is not None


class _Targets:
    """Stands for `Targets`: counts starts and restarts."""

    def __init__(self) -> None:
        self.started, self.restarted, self.missing = 0, 0, set()

    def get(self, name: str) -> str:
        self.started += 1
        return f"{name}-{self.started}"

    def quiet(self) -> float:
        return 0.0

    def restart(self, name: str) -> None:
        self.restarted += 1


def test_a_failed_round_is_tried_again_on_a_fresh_process() -> None:
    targets, notes, tried = _Targets(), {}, []

    def fn(t: str) -> dict[str, Any]:
        tried.append(t)
        if len(tried) < 3:
            raise TimeoutError("stalled")
        return {"tps": 1.0}

    out = rpc_bench._measure(targets, "anvil", "batched_round_1", 3, notes, fn)
    assert out == {"tps": 1.0, "settled_s": 0.0}
    assert tried == ["anvil-1", "anvil-2", "anvil-3"] and targets.restarted == 2
    assert sorted(notes) == ["anvil_batched_round_1_attempt_1", "anvil_batched_round_1_attempt_2"]


def test_a_round_failing_every_attempt_is_none() -> None:
    targets, notes = _Targets(), {}

    def fn(t: str) -> dict[str, Any]:
        raise RuntimeError("sending failed")

    assert rpc_bench._measure(targets, "anvil", "single_round_2", 2, notes, fn) is None
    assert len(notes) == 2 and targets.restarted == 2


def test_a_target_not_installed_is_not_tried_again() -> None:
    targets, notes, tried = _Targets(), {}, []

    def fn(t: str) -> dict[str, Any]:
        tried.append(t)
        raise FileNotFoundError("anvil missing: `make js-deps` installs npm @foundry-rs/anvil")

    assert rpc_bench._measure(targets, "anvil", "batched_round_1", 3, notes, fn) is None
    assert rpc_bench._measure(targets, "anvil", "single_round_1", 3, notes, fn) is None
    assert len(tried) == 1 and list(notes) == ["anvil_batched_round_1_attempt_1"]


def test_a_run_against_our_node_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "rpc.json"
    subprocess.run([sys.executable, str(BENCHMARKS / "rpc_bench.py"), "--targets", "ours", "--senders", "6",
                    "--batched-per-sender", "2", "--single-per-sender", "2", "--rounds", "2", "--procs", "2",
                    "--sync-rate", "50", "--sync-seconds", "0.4", "--attempts", "1", "--json", str(out)],
                   check=True, timeout=600, capture_output=True)
    result = json.loads(out.read_text())
    assert result["notes"] == {}
    for phase in ("batched", "single"):
        rounds = result[f"ours_{phase}_tps_rounds"]
        assert len(rounds) == 2 and all(r > 0 for r in rounds)
        assert min(rounds) <= result[f"ours_{phase}_tps"] <= max(rounds)  # the median
        assert all(r["txs"] == 12 for r in result["ours_detail"][phase])
    assert 0 < result["sync_p50_ms"] <= result["sync_p99_ms"]
    assert result["anvil_batched_tps"] is None and result["targets_met"]["batched_ge_anvil"] is None
