"""ethereum/tests GeneralStateTests (Cancun) through the executor's overlay state and transaction runner;
the `[[native]]` cases of skips.toml run with AOT always on (native code inside the same transaction runner)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conformance.ethtests import (STATE_DIR, Case, calls_code, load_skips, params, run_state_case,
                                  state_cases)

from megaeth_node.executor.native import NativeRegistry, with_native
from megaeth_node.executor.transact import CheckedCancunState

STATE_CASES = params(state_cases())
NATIVE_CASES = load_skips("native")


@pytest.fixture(scope="module")
def native_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeRegistry]:
    registry = NativeRegistry("always", tmp_path_factory.mktemp("aot-cache"))
    yield registry
    registry.wait()


def test_state_fixtures_present(conformance: Path) -> None:
    assert STATE_DIR.is_dir() and STATE_CASES, f"no GeneralStateTests under {STATE_DIR}"


@pytest.mark.parametrize("case", STATE_CASES)
def test_state(case: Case, request: pytest.FixtureRequest) -> None:
    if case.id not in NATIVE_CASES:
        run_state_case(case, CheckedCancunState)
        return
    registry = request.getfixturevalue("native_registry")
    before = registry.native_frames
    run = run_state_case(case, with_native(CheckedCancunState, registry))
    assert calls_code(run) and registry.native_frames > before, "the contract did not run natively"
