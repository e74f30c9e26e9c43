"""Replay of the real MegaETH fixture blocks through the CLI (gas matches only once the Rex rules land)."""

from __future__ import annotations

from pathlib import Path

import pytest

from megaeth_node.cli import main
from megaeth_node.executor.replay import load_contracts
from megaeth_node.types import keccak256


def test_contracts_hash_to_their_keys(testdata: Path) -> None:
    codes = load_contracts(testdata / "contracts.txt")
    assert len(codes) == 36 and all(keccak256(code) == h for h, code in codes.items())


def test_replay_cli_prints_per_tx_and_block_lines(testdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["replay", "--fixtures", str(testdata), "--block", "1140"])
    out = capsys.readouterr().out
    assert "  tx   0 type 0x7e status 1" in out
    assert "block 1140: gasUsed" in out and "logsBloom ok" in out
