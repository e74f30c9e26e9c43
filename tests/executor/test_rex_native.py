"""Rex blocks with AOT forced (`--aot always`, the "rex" native flavour): every test of test_rex.py (gas
numbers from the spec, limits, detention, storage gas) and of test_fast_loop.py (native against the reference
loop: receipts, state diff, compute gas, limit halts, random programs) runs again here with each contract
compiled and run as native code, so native Rex execution must reproduce them exactly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from megaeth_node.executor import native
from tests.executor.test_fast_loop import *  # noqa: F403 - collected again here, with AOT forced
from tests.executor.test_rex import *  # noqa: F403


@pytest.fixture(scope="module", autouse=True)
def aot_forced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    native.configure("always", Path(tmp_path_factory.mktemp("aot")))
    try:
        yield
        registry = native.registry_for("rex")
        assert registry is not None and registry.native_frames > 0, "no Rex frame ran natively"
    finally:
        native.configure("off", Path())
