"""A py-evm `AccountDatabaseAPI` over a `StateReader`: journaled overlay, read/write recording, state diff.

py-evm's own `AccountDB` needs a Merkle-Patricia trie; MegaETH state is SALT and the validator has only a
witness, so this overlay reads block-start values through `StateReader` (state.py), keeps every change in
memory with a checkpoint journal (snapshot / revert / commit of call frames), and at the end yields the
`StateDiff` of spec/stateless-validator.md §7. The state root is not computed here: that is the backend's
job (SALT root, or an MPT root in the conformance tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth.abc import AccountDatabaseAPI, MetaWitnessAPI
from eth.constants import BLANK_ROOT_HASH
from eth.db.journal import get_next_checkpoint
from eth.validation import validate_uint64, validate_uint256
from eth_hash.auto import keccak
from eth_typing import Address, Hash32
from eth_utils import ValidationError

from megaeth_node.executor.state import KECCAK_EMPTY, Account, MissingStateKey, StateDiff, StateReader, account_key, storage_key

_ABSENT: Any = object()  # journal marker: "no overlay entry before this write"


def _restore(mapping: dict[Any, Any], key: Any, old: Any) -> None:
    """Undo a journaled write: `mapping[key]` back to `old`, or gone when it was `_ABSENT`."""
    if old is _ABSENT:
        del mapping[key]
    else:
        mapping[key] = old


class OverlayAccountDB(AccountDatabaseAPI):
    """Block-scoped state overlay. Construct one per block; py-evm calls `lock_changes` after each tx."""

    def __init__(self, reader: StateReader, state_root: Hash32 = BLANK_ROOT_HASH) -> None:  # noqa: ARG002
        self._reader = reader
        self._base_accounts: dict[bytes, Account | None] = {}
        self._base_storage: dict[tuple[bytes, int], int] = {}
        self._accounts: dict[bytes, Account | None] = {}
        self._storage: dict[bytes, dict[int, int]] = {}
        self._wiped: set[bytes] = set()
        self._codes: dict[bytes, bytes] = {}
        self._warm: set[bytes] = set()
        self._journal: list[tuple[Any, ...]] = []
        self._checkpoints: list[tuple[int, int]] = []
        self._originals: dict[tuple[bytes, int], int] = {}
        self._tx_wipes: dict[bytes, tuple[dict[int, int], bool]] = {}
        self._transient: dict[bytes, bytes] = {}  # EIP-1153, journaled here (evm.JournaledTransient)

    # --- block-start reads (recorded) ---

    def _base_account(self, address: bytes) -> Account | None:
        try:
            return self._base_accounts[address]
        except KeyError:
            acct = self._base_accounts[address] = self._reader.account(address)
            return acct

    def _base_slot(self, address: bytes, slot: int) -> int:
        key = (address, slot)
        try:
            return self._base_storage[key]
        except KeyError:
            value = self._base_storage[key] = self._reader.storage(address, slot)
            return value

    # --- current values ---

    def _account(self, address: bytes) -> Account | None:
        acct = self._accounts.get(address, _ABSENT)
        return self._base_account(address) if acct is _ABSENT else acct

    def _set_account(self, address: bytes, acct: Account | None) -> None:
        self._journal.append(("acct", address, self._accounts.get(address, _ABSENT)))
        self._accounts[address] = acct

    def _slot(self, address: bytes, slot: int) -> int:
        store = self._storage.get(address)
        if store is not None and slot in store:
            return store[slot]
        return 0 if address in self._wiped else self._base_slot(address, slot)

    def _wipe(self, address: bytes) -> None:
        old_store, old_wiped = self._storage.get(address, {}), address in self._wiped
        self._tx_wipes.setdefault(address, (old_store, old_wiped))
        self._journal.append(("wipe", address, old_store, old_wiped))
        self._storage[address] = {}
        self._wiped.add(address)

    # --- storage ---

    def get_storage(self, address: Address, slot: int, from_journal: bool = True) -> int:
        if from_journal:
            return self._slot(address, slot)
        original = self._originals.get((address, slot), _ABSENT)
        if original is not _ABSENT:
            return original
        if address in self._tx_wipes:
            store, wiped = self._tx_wipes[address]
            return store.get(slot, 0 if wiped else self._base_slot(address, slot))
        return self._slot(address, slot)

    def current_and_original(self, address: bytes, slot: int) -> tuple[int, int]:
        """`get_storage` from the journal and from the start of the tx, in one call (a native slot load)."""
        current = self._slot(address, slot)
        original = self._originals.get((address, slot), _ABSENT)
        if original is not _ABSENT:
            return current, original
        if address in self._tx_wipes:
            return current, self.get_storage(address, slot, from_journal=False)  # type: ignore[arg-type]
        return current, current

    def set_storage(self, address: Address, slot: int, value: int) -> None:
        validate_uint256(value, title="Storage Value")
        validate_uint256(slot, title="Storage Slot")
        self.write_slots(address, (), ((slot, value),))

    def write_slots(self, address: bytes, warmed: Sequence[int], written: Sequence[tuple[int, int]]) -> None:
        """`mark_storage_warm` of each of `warmed`, then `set_storage` of each `(slot, value)` of `written`,
        in one call (a native frame's write-back: slots and values are uint256 by construction)."""
        for slot in warmed:
            self._mark_warm(storage_key(address, slot))
        if not written:
            return
        originals, journal = self._originals, self._journal
        store = self._storage.setdefault(address, {})
        for slot, value in written:
            if (address, slot) not in originals:
                original = self.get_storage(address, slot, from_journal=False)  # type: ignore[arg-type]
                originals[(address, slot)] = original
            journal.append(("slot", address, slot, store.get(slot, _ABSENT)))
            store[slot] = value

    def delete_storage(self, address: Address) -> None:
        self._wipe(address)

    def is_storage_warm(self, address: Address, slot: int) -> bool:
        return storage_key(address, slot) in self._warm

    def mark_storage_warm(self, address: Address, slot: int) -> None:
        self._mark_warm(storage_key(address, slot))

    def _mark_warm(self, key: bytes) -> None:
        if key not in self._warm:
            self._warm.add(key)
            self._journal.append(("warm", key))

    # --- accounts ---

    def _get(self, address: bytes) -> Account:
        return self._account(address) or Account()

    def get_balance(self, address: Address) -> int:
        return self._get(address).balance

    def set_balance(self, address: Address, balance: int) -> None:
        self._put_balance(address, self._get(address), balance)

    def delta_balance(self, address: Address, delta: int) -> None:
        """`set_balance(address, get_balance(address) + delta)` with one account lookup."""
        acct = self._get(address)
        self._put_balance(address, acct, acct.balance + delta)

    def _put_balance(self, address: bytes, acct: Account, balance: int) -> None:
        if balance < 0:
            raise ValidationError(f"balance of 0x{address.hex()} would become negative: {balance}")
        validate_uint256(balance, title="Account Balance")
        self._set_account(address, Account(acct.nonce, balance, acct.code_hash))

    def get_nonce(self, address: Address) -> int:
        return self._get(address).nonce

    def set_nonce(self, address: Address, nonce: int) -> None:
        validate_uint64(nonce, title="Nonce")
        acct = self._get(address)
        self._set_account(address, Account(nonce, acct.balance, acct.code_hash))

    def increment_nonce(self, address: Address) -> None:
        self.set_nonce(address, self.get_nonce(address) + 1)

    def get_code(self, address: Address) -> bytes:
        code_hash = self._get(address).code_hash
        if code_hash == KECCAK_EMPTY:
            return b""
        code = self._codes.get(code_hash)
        return self._reader.code(code_hash) if code is None else code

    def code_by_hash(self, code_hash: bytes) -> bytes | None:
        """Code by its hash: deployed in this block, else the backend's; None when neither knows it."""
        code = self._codes.get(code_hash)
        if code is not None:
            return code
        try:
            return self._reader.code(code_hash)
        except MissingStateKey:
            return None

    def set_code(self, address: Address, code: bytes) -> None:
        code_hash = keccak(code)
        self._codes.setdefault(code_hash, code)
        acct = self._get(address)
        self._set_account(address, Account(acct.nonce, acct.balance, code_hash))

    def replace_code(self, address: bytes, code_hash: bytes) -> None:
        """Give the account the code of `code_hash` (resolved through the backend when run) as a newly created
        account: balance and nonce kept, storage wiped (revm `mark_created` on commit)."""
        acct = self._get(address)
        self._wipe(address)
        self._set_account(address, Account(acct.nonce, acct.balance, code_hash))

    def get_code_hash(self, address: Address) -> Hash32:
        return Hash32(self._get(address).code_hash)

    def delete_code(self, address: Address) -> None:
        acct = self._get(address)
        self._set_account(address, Account(acct.nonce, acct.balance, KECCAK_EMPTY))

    def account_has_code_or_nonce(self, address: Address) -> bool:
        acct = self._get(address)
        return acct.nonce != 0 or acct.code_hash != KECCAK_EMPTY

    def account_has_storage(self, address: Address) -> bool:
        """Whether any slot of the account is non-zero now. A backend without `storage_slots` (SALT, a witness)
        cannot enumerate storage; only the slots written in this block count there."""
        store = self._storage.get(address, {})
        if any(store.values()):
            return True
        enumerate_slots = getattr(self._reader, "storage_slots", None)
        if address in self._wiped or enumerate_slots is None:
            return False
        return any(slot not in store for slot in enumerate_slots(address))

    def delete_account(self, address: Address) -> None:
        self._wipe(address)
        self._set_account(address, None)

    def account_exists(self, address: Address) -> bool:
        return self._account(address) is not None

    def touch_account(self, address: Address) -> None:
        self._set_account(address, self._get(address))

    def account_is_empty(self, address: Address) -> bool:
        return self._get(address).is_empty

    def is_address_warm(self, address: Address) -> bool:
        return address in self._warm

    def mark_address_warm(self, address: Address) -> None:
        self._mark_warm(address)

    # --- transient storage (EIP-1153): values by `address ‖ slot`, empty bytes when unset ---

    def get_transient(self, key: bytes) -> bytes:
        return self._transient.get(key, b"")

    def set_transient(self, key: bytes, value: bytes) -> None:
        self._journal.append(("tstore", key, self._transient.get(key, _ABSENT)))
        self._transient[key] = value

    def clear_transient(self) -> None:
        self._journal.append(("tclear", self._transient))
        self._transient = {}

    # --- journal ---

    def record(self) -> Any:
        checkpoint = get_next_checkpoint()  # py-evm's counter: transient storage shares these ids
        self._checkpoints.append((checkpoint, len(self._journal)))
        return checkpoint

    def _pop_to(self, checkpoint: Any) -> int:
        while self._checkpoints:
            cp, length = self._checkpoints.pop()
            if cp == checkpoint:
                return length
        raise ValidationError(f"unknown journal checkpoint {checkpoint}")

    def discard(self, checkpoint: Any) -> None:
        length = self._pop_to(checkpoint)
        while len(self._journal) > length:
            self._undo(self._journal.pop())

    def _undo(self, entry: tuple[Any, ...]) -> None:
        kind, address = entry[0], entry[1]
        if kind == "acct":
            _restore(self._accounts, address, entry[2])
        elif kind == "slot":
            _restore(self._storage[address], entry[2], entry[3])
        elif kind == "wipe":
            self._storage[address] = entry[2]
            if not entry[3]:
                self._wiped.discard(address)
        elif kind == "tstore":
            _restore(self._transient, address, entry[2])
        elif kind == "tclear":
            self._transient = address
        else:
            self._warm.discard(address)

    def commit(self, checkpoint: Any) -> None:
        self._pop_to(checkpoint)

    def journal_mark(self) -> int:
        """A position in the journal, for `undo_accounts`."""
        return len(self._journal)

    def changed_accounts(self, end: int) -> set[bytes]:
        """Accounts whose state the journal records a change of before position `end` (in this transaction)."""
        return {entry[1] for entry in self._journal[:end] if entry[0] in ("acct", "slot", "wipe")}

    def undo_accounts(self, mark: int, addresses: set[bytes]) -> None:
        """Undo every change to `addresses` (account, slots, storage wipe) journaled since `mark`, keeping the
        others."""
        kept = []
        for entry in reversed(self._journal[mark:]):
            if entry[0] in ("acct", "slot", "wipe") and entry[1] in addresses:
                self._undo(entry)
            else:
                kept.append(entry)
        self._journal[mark:] = reversed(kept)

    def swap_warm(self, warm: set[bytes]) -> set[bytes]:
        """Put `warm` in place of the EIP-2929 warm set and return the one it replaces (a transaction run inside
        another, KeylessDeploy's sandbox, has its own)."""
        previous, self._warm = self._warm, warm
        return previous

    def lock_changes(self) -> None:
        """End of a transaction: changes become final, warm sets and original values reset (EIP-2929/2200)."""
        self._journal.clear()
        self._checkpoints.clear()
        self._warm.clear()
        self._originals.clear()
        self._tx_wipes.clear()

    # --- roots are the backend's business ---

    @property
    def state_root(self) -> Hash32:
        return BLANK_ROOT_HASH

    @state_root.setter
    def state_root(self, value: Hash32) -> None:
        """py-evm's revert() writes back the root it read; the overlay has no root to restore."""

    def has_root(self, state_root: bytes) -> bool:
        return False

    def make_state_root(self) -> Hash32:
        raise NotImplementedError("the state root is computed by the state backend from diff()")

    def persist(self) -> MetaWitnessAPI:
        raise NotImplementedError("the overlay is never persisted; apply diff() to the backend")

    # --- result ---

    def diff(self) -> StateDiff:
        """The block's changes relative to block start (spec/stateless-validator.md §7)."""
        accounts: dict[bytes, Account | None] = {}
        for address, acct in self._accounts.items():
            if acct != self._base_account(address):
                accounts[address] = acct
        wiped = frozenset(a for a in self._wiped if self._base_account(a) is not None)
        storage: dict[tuple[bytes, int], int] = {}
        for address, store in self._storage.items():
            if self._accounts.get(address, _ABSENT) is None:
                continue
            for slot, value in store.items():
                if address in wiped or value != self._base_slot(address, slot):
                    if value or address not in wiped:
                        storage[(address, slot)] = value
        writes = {account_key(a) for a in accounts} | {storage_key(a, s) for a, s in storage}
        reads = {account_key(a) for a in self._base_accounts} | {storage_key(a, s) for a, s in self._base_storage}
        return StateDiff(accounts, storage, wiped, dict(self._codes), frozenset(reads), frozenset(writes))
