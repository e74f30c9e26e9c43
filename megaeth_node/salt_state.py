"""The sequencer's `StateReader`: committed SALT state (through a block overlay), code and block hashes
from the chain store. Reads see the state at the start of the block being built."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from megaeth_node.executor.state import KECCAK_EMPTY, Account, MissingStateKey, StateDiff
from megaeth_node.store import ChainStore
from salt.hasher import bucket_id
from salt.store import StateOverlay
from salt.types import decode_account, decode_storage, encode_account, encode_storage


class UnsupportedDiff(ValueError):
    """A whole-storage wipe of an account whose slots the state cannot list (`SaltReader.stored_slots`)."""


class SaltReader:
    def __init__(self, overlay: StateOverlay, chain: ChainStore) -> None:
        self.overlay = overlay
        self.chain = chain

    def account(self, address: bytes) -> Account | None:
        v = self.overlay.plain_value(address)
        return None if v is None else Account(*decode_account(v))

    def storage(self, address: bytes, slot: int) -> int:
        v = self.overlay.plain_value(address + slot.to_bytes(32, "big"))
        return 0 if v is None else decode_storage(v)

    def code(self, code_hash: bytes) -> bytes:
        if code_hash == KECCAK_EMPTY:
            return b""
        code = self.chain.code(code_hash)
        if code is None:
            raise MissingStateKey(f"code 0x{code_hash.hex()} is not in the chain store")
        return code

    def bucket_capacity(self, plain_key: bytes) -> int:
        """Capacity of the SALT bucket of `plain_key` from its metadata (the default 256 when the bucket
        has none): the storage-gas multiplier input of the Rex rules (mega-evm.md §5.1)."""
        return int(self.overlay.shi.meta(bucket_id(plain_key)).capacity)

    def stored_slots(self, address: bytes) -> list[bytes]:
        """The storage keys a whole-storage wipe of `address` deletes (`salt_updates`). SALT keeps no index of an
        account's slots, so only an account that had no code and nonce 0 at block start is known to hold none:
        the wipe EIP-6780 makes (Rex2), of an account its own tx created, which a CREATE with code or nonce there
        would have collided with; the dev genesis gives such accounts balances only. Any other wipe raises
        `UnsupportedDiff`."""
        acct = self.account(address)
        if acct is None or (acct.nonce == 0 and acct.code_hash == KECCAK_EMPTY):
            return []
        raise UnsupportedDiff(f"whole-storage wipe of 0x{address.hex()}, which may hold slots SALT cannot list")

    def block_hash(self, number: int) -> bytes:
        header = self.chain.header(number)
        if header is None:
            raise MissingStateKey(f"no block {number} in the chain store")
        return header.hash


def salt_updates(diff: StateDiff, stored_slots: Callable[[bytes], Iterable[bytes]]) -> dict[bytes, bytes | None]:
    """Plain SALT key → new value (None = delete) for everything a block changed
    (spec/stateless-validator.md §3.5, §7). An account whose whole storage was wiped (re-created) loses every
    slot `stored_slots(address)` lists (plain keys)."""
    out: dict[bytes, bytes | None] = {}
    for address in diff.storage_wiped:
        out.update(dict.fromkeys(stored_slots(address)))
    for address, acct in diff.accounts.items():
        out[address] = None if acct is None else encode_account(acct.nonce, acct.balance, acct.code_hash)
    for (address, slot), value in diff.storage.items():
        out[address + slot.to_bytes(32, "big")] = encode_storage(value)
    return out
