"""validator_bench's passes: per-block times over several passes (serial and with a checker process), and
throughput runs whose workers start every pass with an empty point cache (on two real blocks, interpreted: no
AOT build)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench_scripts import load_benchmark
from shared_data import require_shared

validator_bench = load_benchmark("validator_bench")


@pytest.fixture(scope="module")
def fixtures() -> Path:
    return require_shared("megaeth-testdata")


def test_per_block_covers_every_pass_of_each_mode(fixtures: Path) -> None:
    runs = validator_bench.per_block(fixtures, 2, passes=2, checkers=(False, True))
    for out in runs.values():
        assert out["blocks"] == 2 and out["valid"] == 2 and out["passes"] == 2
        assert len(out["median_ms_passes"]) == 2  # type: ignore[arg-type]
        assert 0 < out["median_ms"] <= out["p95_ms"]  # type: ignore[operator]
    assert runs[True]["stages_median_ms"]["witness_verify"] > 0  # type: ignore[index]  # the checker's


def test_each_pass_starts_with_an_empty_point_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    clears: list[int] = []
    monkeypatch.setattr(validator_bench, "clear_point_cache", lambda: clears.append(1))
    monkeypatch.setattr(validator_bench, "_validate", lambda job: None)
    monkeypatch.setattr(validator_bench, "_PASS", -1)
    for n in (0, 0, 1, 1, 1, 2):
        validator_bench._timed((n, ()))
    assert len(clears) == 3  # once as each of passes 0, 1 and 2 starts


def test_throughput_runs_every_pass_on_two_workers(fixtures: Path) -> None:
    out = validator_bench.throughput(fixtures, 2, 2, passes=2)
    assert out["blocks_per_s_2"] > 0 and out["worker_cpu_ms_per_block_2"] > 0
