"""`withdrawalsRoot`: the L2ToL1MessagePasser storage root from the MPT witness (spec/stateless-validator.md §5.2)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import rlp
from eth_hash.auto import keccak
from trie import HexaryTrie
from trie.exceptions import MissingTrieNode

from megaeth_node.types import EMPTY_TRIE_ROOT

MESSAGE_PASSER = bytes.fromhex("4200000000000000000000000000000000000016")


class WithdrawalsRootError(ValueError):
    """The MPT witness does not hold the root or a node an update needs; the message says which."""


def storage_root_after(pre_root: bytes, nodes: Iterable[bytes], updates: Mapping[int, int]) -> bytes:
    """Apply slot → new value updates (0 deletes) to the partial storage trie rooted at `pre_root`."""
    db = {keccak(n): bytes(n) for n in nodes}
    if pre_root != EMPTY_TRIE_ROOT and pre_root not in db:
        raise WithdrawalsRootError(f"MPT witness lacks the root node {pre_root.hex()}")
    t = HexaryTrie(db, root_hash=pre_root)
    try:
        for slot in sorted(updates):
            key = keccak(slot.to_bytes(32, "big"))
            value = updates[slot]
            if value:
                t.set(key, rlp.encode(value))
            else:
                t.delete(key)
    except MissingTrieNode as e:
        raise WithdrawalsRootError(f"update of slot {slot:#x} needs a node the witness does not hold: {e}") from e
    return t.root_hash
