"""Session fixtures for the shared data (see tests/shared_data.py), and the garbage collector's settings
restored after every test."""

from __future__ import annotations

import gc
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


_GC_THRESHOLDS = gc.get_threshold()  # the session's, before any test


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """A test or fixture that warms the process as a validator worker (`validator.pool.warm`) sets the
    collector's rare thresholds; later tests whose frames leave cyclic garbage (py-evm keeps each failed
    frame's exception and traceback) would pile it up: 24 GB over the static_Call50000 state tests. After
    every test the session's thresholds are back."""
    if gc.get_threshold() != _GC_THRESHOLDS:
        gc.set_threshold(*_GC_THRESHOLDS)
