"""py-evm states bound to the overlay account DB, and the block environment they run in.

Every executor path (Cancun conformance, Prague/Isthmus MegaETH blocks) builds its py-evm `State` here,
so the conformance suite exercises the same overlay, journal and diff code as block replay.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from eth.abc import StateAPI
from eth.constants import BLANK_ROOT_HASH
from eth.validation import validate_canonical_address, validate_is_bytes, validate_uint256
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.cancun.state import CancunState
from eth.vm.state import BaseState
from eth_hash.auto import keccak as _eth_hash_keccak
from eth_hash.backends.pysha3 import PySha3Backend
from eth_typing import Address, BlockNumber, Hash32
from eth_utils import int_to_big_endian

from megaeth_node.executor.accountdb import OverlayAccountDB
from megaeth_node.executor.state import StateReader

BLOCKHASH_WINDOW = 256

# py-evm hashes through eth_hash's auto backend, which picks pycryptodome (~5 us a call) when it is installed;
# safe-pysha3, a dependency, hashes the same in ~0.7 us.
_eth_hash_keccak.hasher = PySha3Backend().keccak256


@dataclass(frozen=True, slots=True)
class BlockEnv:
    """What the EVM sees of the block (spec/stateless-validator.md §4.2)."""

    chain_id: int
    number: int
    timestamp: int
    coinbase: bytes
    gas_limit: int
    base_fee: int
    prevrandao: bytes
    excess_blob_gas: int = 0
    parent_hash: bytes = b"\x00" * 32
    parent_beacon_block_root: bytes | None = None


class _OverlayState(BaseState):
    """Mixin placed before a py-evm fork state: overlay account DB, BLOCKHASH from the reader."""

    account_db_class = OverlayAccountDB

    def set_system_contracts(self) -> None:
        """py-evm (re)writes the 4788/2935 contract code here; neither Ethereum nor MegaETH execution does."""

    def get_ancestor_hash(self, block_number: int) -> Hash32:
        depth = self.block_number - block_number
        if not 1 <= depth <= BLOCKHASH_WINDOW or block_number < 0:
            return Hash32(b"")
        return Hash32(self._db.block_hash(block_number))  # type: ignore[attr-defined]

    def delta_balance(self, address: Address, delta: int) -> None:
        """py-evm's get-then-set in one overlay call (a transaction moves balances ~9 times)."""
        self._account_db.delta_balance(address, delta)  # type: ignore[attr-defined]

    @property
    def overlay(self) -> OverlayAccountDB:
        return self._account_db  # type: ignore[return-value]


class JournaledTransient(BaseState):
    """Mixin placed before a Cancun+ py-evm state: EIP-1153 transient storage kept in the overlay's journal
    (py-evm keeps a JournalDB of its own, with a second checkpoint at every frame's snapshot and commit);
    same keys, validation, values and rollback."""

    def get_transient_storage(self, address: Address, slot: int) -> bytes:
        validate_canonical_address(address)
        validate_uint256(slot)
        key = address + int_to_big_endian(slot)
        return self._account_db.get_transient(key)  # type: ignore[attr-defined, no-any-return]

    def set_transient_storage(self, address: Address, slot: int, value: bytes) -> None:
        validate_canonical_address(address)
        validate_uint256(slot)
        validate_is_bytes(value)
        self._account_db.set_transient(address + int_to_big_endian(slot), value)  # type: ignore[attr-defined]

    def clear_transient_storage(self) -> None:
        self._account_db.clear_transient()  # type: ignore[attr-defined]

    def snapshot(self) -> tuple[Hash32, Any]:
        return BaseState.snapshot(self)

    def commit(self, snapshot: tuple[Hash32, Any]) -> None:
        BaseState.commit(self, snapshot)

    def revert(self, snapshot: tuple[Hash32, Any]) -> None:
        BaseState.revert(self, snapshot)


@functools.cache
def overlay_state_class(base: type[BaseState]) -> type[BaseState]:
    """`base` (e.g. py-evm's CancunState or a MegaETH state) with the overlay account DB."""
    mixins = (_OverlayState, JournaledTransient) if issubclass(base, CancunState) else (_OverlayState,)
    return type(f"Overlay{base.__name__}", (*mixins, base), {})


def new_state(base: type[BaseState], reader: StateReader, env: BlockEnv) -> StateAPI:
    """A fresh block-scoped state over `reader`; its `overlay.diff()` is the block's state diff."""
    context = ExecutionContext(
        coinbase=Address(env.coinbase), timestamp=env.timestamp, block_number=BlockNumber(env.number),
        difficulty=0, mix_hash=Hash32(env.prevrandao), gas_limit=env.gas_limit, prev_hashes=(),
        chain_id=env.chain_id, base_fee_per_gas=env.base_fee, excess_blob_gas=env.excess_blob_gas,
    )
    return overlay_state_class(base)(reader, context, BLANK_ROOT_HASH)  # type: ignore[arg-type]
