"""State access for execution: the `StateReader` protocol, its in-memory backend, and the state diff.

The executor reads block-start state only through `StateReader` (design.md "Pure core, I/O at the
edges"): the sequencer passes an LMDB/SALT reader, the validator a witness-backed reader that raises
`MissingStateKey` for keys the witness does not cover (spec/stateless-validator.md §6). Keys use the
SALT plain-key encoding: an account is its 20-byte address, a storage slot `address ‖ slot (32 B BE)`
(spec/stateless-validator.md §3.5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from eth_hash.auto import keccak

KECCAK_EMPTY = keccak(b"")


class MissingStateKey(LookupError):
    """A read of a key the state backend does not know (e.g. outside the witness); the block cannot be replayed."""


@dataclass(frozen=True, slots=True)
class Account:
    nonce: int = 0
    balance: int = 0
    code_hash: bytes = KECCAK_EMPTY

    @property
    def is_empty(self) -> bool:
        """EIP-161 emptiness: no nonce, no balance, no code."""
        return self.nonce == 0 and self.balance == 0 and self.code_hash == KECCAK_EMPTY


class StateReader(Protocol):
    """Block-start state. `account` returns None for an absent account, `storage` 0 for an absent slot."""

    def account(self, address: bytes) -> Account | None: ...

    def storage(self, address: bytes, slot: int) -> int: ...

    def code(self, code_hash: bytes) -> bytes: ...

    def block_hash(self, number: int) -> bytes: ...


def account_key(address: bytes) -> bytes:
    return address


def storage_key(address: bytes, slot: int) -> bytes:
    return address + slot.to_bytes(32, "big")


@dataclass(frozen=True, slots=True)
class StateDiff:
    """What a block changed, relative to block start (spec/stateless-validator.md §7).

    `accounts`: addresses whose (nonce, balance, code hash) differ; None = the account no longer exists.
    `storage`: (address, slot) → new value for every slot whose value differs (0 = cleared).
    `storage_wiped`: accounts that existed at block start and whose whole storage was cleared (account
    deleted or re-created); their surviving non-zero slots are listed in `storage` again.
    `codes`: code hash → code for code deployed in the block. `reads` / `writes`: every plain key read
    from the backend / written by the block (the witness key set).
    """

    accounts: Mapping[bytes, Account | None]
    storage: Mapping[tuple[bytes, int], int]
    storage_wiped: frozenset[bytes] = frozenset()
    codes: Mapping[bytes, bytes] = field(default_factory=dict)
    reads: frozenset[bytes] = frozenset()
    writes: frozenset[bytes] = frozenset()


class DictState:
    """An in-memory `StateReader`. With `complete=True` a missing key means absent (tests, genesis);
    with `complete=False` it raises `MissingStateKey` and only explicit None entries mean absent (a witness)."""

    def __init__(self, accounts: Mapping[bytes, Account | None] | None = None,
                 storage: Mapping[tuple[bytes, int], int | None] | None = None,
                 codes: Mapping[bytes, bytes] | None = None, block_hashes: Mapping[int, bytes] | None = None,
                 complete: bool = True) -> None:
        self.accounts: dict[bytes, Account | None] = dict(accounts or {})
        self.storage_map: dict[tuple[bytes, int], int | None] = dict(storage or {})
        self.codes: dict[bytes, bytes] = {KECCAK_EMPTY: b"", **(codes or {})}
        self.block_hashes: dict[int, bytes] = dict(block_hashes or {})
        self.complete = complete

    def account(self, address: bytes) -> Account | None:
        try:
            return self.accounts[address]
        except KeyError:
            if self.complete:
                return None
            raise MissingStateKey(f"account 0x{address.hex()}") from None

    def storage(self, address: bytes, slot: int) -> int:
        try:
            return self.storage_map[(address, slot)] or 0
        except KeyError:
            if self.complete:
                return 0
            raise MissingStateKey(f"storage 0x{address.hex()} slot {slot:#x}") from None

    def code(self, code_hash: bytes) -> bytes:
        try:
            return self.codes[code_hash]
        except KeyError:
            raise MissingStateKey(f"code 0x{code_hash.hex()}") from None

    def block_hash(self, number: int) -> bytes:
        try:
            return self.block_hashes[number]
        except KeyError:
            raise MissingStateKey(f"block hash {number}") from None

    def storage_slots(self, address: bytes) -> list[int]:
        """The account's slots with a non-zero value (only a complete in-memory state can enumerate them)."""
        return [slot for (addr, slot), value in self.storage_map.items() if addr == address and value]

    def applied(self, diff: StateDiff) -> DictState:
        """The state after `diff` (for chaining blocks in tests and for computing reference roots)."""
        dead = diff.storage_wiped | {a for a, acct in diff.accounts.items() if acct is None}
        storage = {k: v for k, v in self.storage_map.items() if k[0] not in dead}
        storage.update(diff.storage)
        accounts = {**self.accounts, **diff.accounts}
        return DictState(accounts, storage, {**self.codes, **diff.codes}, self.block_hashes, self.complete)
