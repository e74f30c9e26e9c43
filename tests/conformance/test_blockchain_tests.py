"""ethereum/tests BlockchainTests (Cancun ValidBlocks / InvalidBlocks selection) through py-evm chain import."""

from __future__ import annotations

from pathlib import Path

import pytest
import rlp
from conformance.ethtests import BLOCKCHAIN_DIR, Case, blockchain_cases, load_file, params
from eth.tools.fixtures import (
    apply_fixture_block_to_chain,
    new_chain_from_fixture,
    normalize_blockchain_fixtures,
    verify_state,
)
from eth_utils import ValidationError

BLOCKCHAIN_CASES = params(blockchain_cases())


def test_blockchain_fixtures_present(conformance: Path) -> None:
    assert BLOCKCHAIN_DIR.is_dir() and BLOCKCHAIN_CASES, f"no BlockchainTests under {BLOCKCHAIN_DIR}"


@pytest.mark.parametrize("case", BLOCKCHAIN_CASES)
def test_blockchain(case: Case) -> None:
    fixture = normalize_blockchain_fixtures(load_file(case.path)[case.name])
    chain = new_chain_from_fixture(fixture)
    genesis = chain.get_canonical_block_by_number(0).header
    if "genesisRLP" in fixture:
        assert rlp.encode(genesis) == rlp.encode(rlp.decode(fixture["genesisRLP"])[0]), "genesis header"
    for block in fixture["blocks"]:
        if "rlp_error" in block:
            assert "expectException" in block, "undecodable block without expectException"
        elif "expectException" in block:
            with pytest.raises((TypeError, rlp.DecodingError, rlp.DeserializationError, ValidationError)):
                apply_fixture_block_to_chain(block, chain)
        else:
            provided, imported, _ = apply_fixture_block_to_chain(block, chain, perform_validation=False)
            assert provided == imported, f"block {imported.number} differs after import"
    head = chain.get_canonical_head()
    if head.hash != fixture["lastblockhash"]:
        verify_state(fixture["postState"], chain.get_vm().state)
        pytest.fail(f"head {head.hash.hex()} != lastblockhash {fixture['lastblockhash'].hex()}")
