"""The fixtures-directory reader on the real MegaETH test data and on broken copies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from megaeth_node.fixtures import FixtureError, fixture_blocks, load_contracts


def test_real_fixtures(testdata: Path) -> None:
    blocks = fixture_blocks(testdata)
    assert blocks[0].salt_path is None and all(b.salt_path and b.mpt_path for b in blocks[1:])
    assert [b.number for b in blocks] == list(range(blocks[0].number, blocks[0].number + len(blocks)))
    for fb in blocks[:3]:
        assert fb.block().hash == fb.hash
    codes = load_contracts(testdata / "contracts.txt")
    assert len(codes) == 36 and sum(c.startswith(b"\xef\x01\x00") for c in codes.values()) == 8


def test_tampered_contract_is_refused(tmp_path: Path, testdata: Path) -> None:
    lines = (testdata / "contracts.txt").read_text().splitlines()
    lines[3] = lines[3].replace("0x60", "0x61", 1)
    (tmp_path / "contracts.txt").write_text("\n".join(lines))
    with pytest.raises(FixtureError, match="line 4"):
        load_contracts(tmp_path / "contracts.txt")


def test_gap_is_refused(tmp_path: Path, testdata: Path) -> None:
    shutil.copytree(testdata / "blocks", tmp_path / "blocks")
    victim = sorted((tmp_path / "blocks").glob("*.json"))[3]
    victim.chmod(0o644)
    victim.unlink()
    with pytest.raises(FixtureError, match="not contiguous"):
        fixture_blocks(tmp_path)
