"""Missing shared fixtures fail under CI and skip (naming the variable) elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import require_shared


def test_missing_fixtures_fail_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEGAETH_SHARED", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="MEGAETH_SHARED"):
        require_shared("megaeth-testdata")


def test_missing_fixtures_skip_outside_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEGAETH_SHARED", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="MEGAETH_SHARED"):
        require_shared("megaeth-testdata")


def test_present_fixtures_are_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "megaeth-testdata").mkdir()
    monkeypatch.setenv("MEGAETH_SHARED", str(tmp_path))
    assert require_shared("megaeth-testdata") == (tmp_path / "megaeth-testdata").resolve()
