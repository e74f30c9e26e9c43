"""Acceptance: every fixture block 1140–1155 replays under Rex to its header's gasUsed, receiptsRoot and
logsBloom, bit-exact (spec/mega-evm.md §9.3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from megaeth_node.executor.replay import ReplayReport, replay


@pytest.fixture(scope="module")
def reports(testdata: Path) -> dict[int, ReplayReport]:
    return {r.number: r for r in replay(testdata)}


def test_all_fixture_blocks_are_replayed(reports: dict[int, ReplayReport]) -> None:
    assert sorted(reports) == list(range(1140, 1156))


@pytest.mark.parametrize("number", range(1140, 1156))
def test_block_matches_header(reports: dict[int, ReplayReport], number: int) -> None:
    report = reports[number]
    assert (report.gas_diff, report.receipts_root_ok, report.logs_bloom_ok) == (0, True, True)
