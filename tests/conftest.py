"""Session fixtures for the shared data (see tests/shared_data.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import require_shared


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
