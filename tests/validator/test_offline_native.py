"""The real MegaETH blocks validated with AOT forced: every contract of the fixtures compiled as "rex" native
code (one shared object) and run natively inside the same validator; all blocks must stay valid, bit-exact."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from megaeth_node.executor import native
from megaeth_node.fixtures import fixture_blocks, load_contracts
from validator.offline import validate_fixtures


@pytest.fixture(scope="module")
def rex_native(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[native.NativeRegistry]:
    out = tmp_path_factory.mktemp("aot")
    registry = native.NativeRegistry("always", out / "cache", flavour="rex")
    registry.prebuild(load_contracts(testdata / "contracts.txt").values(), out)
    native.install(registry)
    threshold = gc.get_threshold()
    try:
        yield registry
    finally:
        native.configure("off", out)
        # workers=1 warms the validator in this process: gc.freeze() and a full collection only every
        # 40,000,000 allocations (validator.pool.warm). Left so, later modules' cyclic garbage (py-evm
        # computations: ~2.5 GB after one static_Call50000 case) piled up to a ~23 GB peak.
        gc.unfreeze()
        gc.set_threshold(*threshold)

def test_every_fixture_block_is_valid_natively(testdata: Path, rex_native: native.NativeRegistry) -> None:
    verdicts = list(validate_fixtures(testdata, workers=1))
    assert len(verdicts) == len(fixture_blocks(testdata)) - 1
    bad = [(v.number, v.field, v.detail or f"{v.expected} != {v.got}") for v in verdicts if not v.valid]
    assert bad == []
    assert rex_native.native_frames > 1000, "the fixtures' contracts did not run natively"
