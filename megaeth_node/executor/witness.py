"""The executor's `StateReader` over a SALT witness: block-start state, and nothing else
(spec/stateless-validator.md §6 "Witness-backed reads"). A key the witness cannot answer raises
`MissingStateKey`; it is never read as zero."""

from __future__ import annotations

from collections.abc import Mapping

from megaeth_node.executor.state import KECCAK_EMPTY, Account, MissingStateKey
from salt.hasher import bucket_id
from salt.store import WitnessMissingKey, WitnessState
from salt.types import BucketMeta, decode_account, decode_storage, metadata_key

HISTORY_CONTRACT = bytes.fromhex("0000F90827F1C53a10cb7A02335B175320002935")
HISTORY_SERVE_WINDOW = 8191


class WitnessReader:
    """Accounts and storage from the witness's SALT slots, code by hash from `codes`, block hashes from
    the parent hash and the EIP-2935 history contract, bucket capacities from the witness's metadata."""

    def __init__(self, witness: WitnessState, codes: Mapping[bytes, bytes], number: int, parent_hash: bytes) -> None:
        self.witness = witness
        self.codes = codes
        self.number = number
        self.parent_hash = parent_hash
        self._capacities: dict[int, int] = {}

    def bucket_capacity(self, plain_key: bytes) -> int:
        """Capacity of the SALT bucket of `plain_key` (the storage-gas multiplier input), only from the
        witness's metadata entries (stateless-validator.md §2.3 step 1, §6): a bucket whose metadata the
        witness lacks, or carries without a value, is a database error (`MissingStateKey`), never 256."""
        bucket = bucket_id(plain_key)
        capacity = self._capacities.get(bucket)
        if capacity is None:
            value = self.witness.kvs.get(metadata_key(bucket))
            if value is None:
                raise MissingStateKey(f"capacity of SALT bucket {bucket} is not in the witness metadata")
            capacity = self._capacities[bucket] = int(BucketMeta.from_value(value).capacity)
        return capacity

    def _plain(self, key: bytes, what: str) -> bytes | None:
        try:
            return self.witness.shi.plain_value(key)
        except WitnessMissingKey as e:
            raise MissingStateKey(f"{what} is not covered by the witness ({e})") from e

    def account(self, address: bytes) -> Account | None:
        v = self._plain(address, f"account 0x{address.hex()}")
        if v is None:
            return None
        nonce, balance, code_hash = decode_account(v)
        return Account(nonce, balance, code_hash)

    def storage(self, address: bytes, slot: int) -> int:
        v = self._plain(address + slot.to_bytes(32, "big"), f"storage 0x{address.hex()}[{slot:#x}]")
        return 0 if v is None else decode_storage(v)

    def code(self, code_hash: bytes) -> bytes:
        if code_hash == KECCAK_EMPTY:
            return b""
        try:
            return self.codes[code_hash]
        except KeyError:
            raise MissingStateKey(f"code 0x{code_hash.hex()} is unknown") from None

    def block_hash(self, number: int) -> bytes:
        """BLOCKHASH source (§6): the parent hash, else the history contract's slot `n mod 8191`."""
        if number >= self.number or number + HISTORY_SERVE_WINDOW < self.number:
            raise MissingStateKey(f"block hash {number} is outside the window of block {self.number}")
        if number == self.number - 1:
            return self.parent_hash
        return self.storage(HISTORY_CONTRACT, number % HISTORY_SERVE_WINDOW).to_bytes(32, "big")
