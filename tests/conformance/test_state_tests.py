"""ethereum/tests GeneralStateTests (Cancun) through the executor's overlay state and transaction runner;
the `[[native]]` cases of skips.toml run with AOT always on (native code inside the same transaction runner)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import rlp
from conformance.ethtests import (STATE_DIR, Case, load_file, load_skips, logs_hash, mpt_state_root, params,
                                  pre_state, state_cases)
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.constants import MAX_BLOB_GAS_PER_BLOCK

from megaeth_node.executor.evm import BlockEnv, new_state
from megaeth_node.executor.native import NativeRegistry, with_native
from megaeth_node.executor.transact import CheckedCancunState, InvalidTransaction, run_transaction

EMPTY_LOGS_HASH = logs_hash(())
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
    test = load_file(case.path)[case.name]
    post = test["post"]["Cancun"][case.index]
    env = test["env"]
    reader = pre_state(test["pre"])
    block = BlockEnv(
        chain_id=1, number=int(env["currentNumber"], 16), timestamp=int(env["currentTimestamp"], 16),
        coinbase=bytes.fromhex(env["currentCoinbase"][2:]), gas_limit=int(env["currentGasLimit"], 16),
        base_fee=int(env.get("currentBaseFee", "0x0"), 16),
        prevrandao=int(env["currentRandom"], 16).to_bytes(32, "big"),
        excess_blob_gas=int(env.get("currentExcessBlobGas", "0x0"), 16),
    )
    registry = request.getfixturevalue("native_registry") if case.id in NATIVE_CASES else None
    state_class = with_native(CheckedCancunState, registry) if registry else CheckedCancunState
    state = new_state(state_class, reader, block)
    try:
        tx = CancunVM.get_transaction_builder().decode(bytes.fromhex(post["txbytes"][2:]))
        outcome = run_transaction(CancunVM, state, tx, block.gas_limit, MAX_BLOB_GAS_PER_BLOCK)
    except (InvalidTransaction, rlp.DecodingError, rlp.DeserializationError) as e:
        assert "expectException" in post, f"valid tx rejected: {e}"
        rejected = True
        logs = EMPTY_LOGS_HASH
    else:
        rejected = False
        logs = logs_hash(outcome.logs)
    assert not ("expectException" in post and not rejected), f"invalid tx accepted ({post['expectException']})"
    assert logs.hex() == post["logs"][2:], "logs hash"
    root = mpt_state_root(reader.applied(state.overlay.diff()))
    assert root.hex() == post["hash"][2:], "post state root"
    if registry:
        called = reader.account(tx.to)
        assert called and reader.code(called.code_hash) in registry.compiled(), "the contract did not run natively"
