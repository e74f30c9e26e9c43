"""Shared fixtures: where the read-only shared data lives (`$MEGAETH_SHARED` or `../shared`).

Under CI (`CI=true`) a missing fixture directory fails the test; elsewhere it skips with a reason
that names the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_root() -> Path:
    return Path(os.environ.get("MEGAETH_SHARED") or REPO.parent / "shared").resolve()


def require_shared(name: str) -> Path:
    """The shared sub-directory `name`; fail under CI, skip elsewhere, when it is missing."""
    path = shared_root() / name
    if not path.is_dir():
        msg = f"shared fixtures {path} not found (set MEGAETH_SHARED to the shared/ directory)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def testdata() -> Path:
    """../shared/megaeth-testdata: real MegaETH blocks and witnesses."""
    return require_shared("megaeth-testdata")


@pytest.fixture(scope="session")
def conformance() -> Path:
    """../shared/conformance: ethereum/tests and execution-apis fixtures."""
    return require_shared("conformance")


@pytest.fixture(scope="session")
def bench_contracts() -> Path:
    """../shared/bench-contracts: benchmark contracts with verified outputs and gas."""
    return require_shared("bench-contracts")
