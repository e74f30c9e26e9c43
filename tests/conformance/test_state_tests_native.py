"""Issue #8's differential run: every GeneralStateTests (Cancun) case again with AOT forced (`--aot always`):
each contract in the fixtures' pre-states runs as native code inside the same transaction runner, and must give
the fixture's logs hash and post-state root, as the interpreter does in test_state_tests.py.

The pre-state codes are compiled up front, many per shared object (one clang run per batch, as
tests/aot/test_differential.py does); code deployed during a case compiles on first sight through the
size- and time-budgeted cache, as in the node. Initcode always runs interpreted (so does it in the node)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from conformance.ethtests import FORK, STATE_DIR, Case, calls_code, params, run_state_case, state_cases

from megaeth_node.executor.native import NativeRegistry, with_native
from megaeth_node.executor.transact import CheckedCancunState

STATE_CASES = params(state_cases())
BATCH_MAX_CODE = 4096  # larger codes go through the budgeted per-code cache


def _pre_state_codes() -> list[bytes]:
    codes: set[bytes] = set()
    for path in sorted(STATE_DIR.rglob("*.json")):
        for test in json.loads(path.read_text()).values():
            if FORK in test["post"]:
                codes.update(bytes.fromhex(a["code"][2:]) for a in test["pre"].values() if len(a["code"]) > 2)
    return list(codes)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeRegistry]:
    cache = tmp_path_factory.mktemp("aot")
    reg = NativeRegistry("always", cache / "cache")
    reg.prebuild([c for c in _pre_state_codes() if len(c) <= BATCH_MAX_CODE], cache)
    yield reg
    reg.wait()

@pytest.mark.parametrize("case", STATE_CASES)
def test_state_native(case: Case, registry: NativeRegistry) -> None:
    before = registry.native_frames
    run = run_state_case(case, with_native(CheckedCancunState, registry))
    if calls_code(run):
        assert registry.native_frames > before, "the called contract did not run natively"
