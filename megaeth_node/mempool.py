"""Transaction pool: per-sender nonce order, pending vs queued, fee-bump replacement, caps and eviction.

Pure bookkeeping: the caller validates signatures, balances and gas, and tells the pool each
sender's state nonce. Errors use geth's wording (spec/rpc.md §4).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from megaeth_node.errors import AlreadyKnown, NonceTooLow, ReplacementUnderpriced, TxPoolFull
from megaeth_node.types import GAS_PRICE_TX_TYPES, Transaction

PRICE_BUMP_PCT = 10


def fee_cap(tx: Transaction) -> int:
    return tx.gas_price if tx.type in GAS_PRICE_TX_TYPES else tx.max_fee_per_gas


def tip_cap(tx: Transaction) -> int:
    return tx.gas_price if tx.type in GAS_PRICE_TX_TYPES else tx.max_priority_fee_per_gas


def effective_tip(tx: Transaction, base_fee: int) -> int:
    return min(tip_cap(tx), fee_cap(tx) - base_fee)


@dataclass(slots=True)
class PoolTx:
    tx: Transaction
    sender: bytes
    seq: int  # arrival order, for FIFO tie-breaks and eviction
    queued: bool = False  # at admission: behind a nonce gap (the caller sets it, knowing the state nonce)


@dataclass(slots=True)
class _Account:
    txs: dict[int, PoolTx] = field(default_factory=dict)  # nonce → tx


class Mempool:
    """Pending = contiguous from the sender's state nonce; queued = after a gap."""

    def __init__(self, max_per_sender: int = 64, max_total: int = 10_000, price_bump_pct: int = PRICE_BUMP_PCT):
        self.max_per_sender = max_per_sender
        self.max_total = max_total
        self.price_bump_pct = price_bump_pct
        self._accounts: dict[bytes, _Account] = {}
        self._by_hash: dict[bytes, PoolTx] = {}
        self._seq = itertools.count()
        self._removed: list[bytes] = []  # hashes that left the pool since the last `take_removed`

    def __len__(self) -> int:
        return len(self._by_hash)

    def get(self, tx_hash: bytes) -> PoolTx | None:
        return self._by_hash.get(tx_hash)

    def check_new(self, tx: Transaction, state_nonce: int) -> None:
        """Raise AlreadyKnown or NonceTooLow: the refusals geth gives before looking at the sender's balance."""
        if tx.hash in self._by_hash:
            raise AlreadyKnown("already known")
        if tx.nonce < state_nonce:
            raise NonceTooLow(f"nonce too low: next nonce {state_nonce}, tx nonce {tx.nonce}")

    def add(self, tx: Transaction, sender: bytes, state_nonce: int) -> PoolTx | None:
        """Insert; return the replaced entry, if any. Raise NonceTooLow/AlreadyKnown/… when refused."""
        self.check_new(tx, state_nonce)
        acct = self._accounts.setdefault(sender, _Account())
        old = acct.txs.get(tx.nonce)
        if old is not None:
            if not self._outbids(tx, old.tx):
                raise ReplacementUnderpriced("replacement transaction underpriced")
            del self._by_hash[old.tx.hash]
            self._removed.append(old.tx.hash)
        elif len(acct.txs) >= self.max_per_sender:
            raise TxPoolFull(f"txpool is full: sender has {len(acct.txs)} transactions queued")
        elif len(self._by_hash) >= self.max_total and not self._evict_for(sender, fee_cap(tx)):
            raise TxPoolFull("transaction underpriced: the txpool is full of transactions paying as much or more")
        entry = PoolTx(tx, sender, next(self._seq))
        acct.txs[tx.nonce] = entry
        self._by_hash[tx.hash] = entry
        return old

    def _outbids(self, new: Transaction, old: Transaction) -> bool:
        """geth's replacement rule: both fee caps strictly higher, each by at least `price_bump_pct` % of the old
        (rounded down)."""
        bump = 100 + self.price_bump_pct
        return all(n > o and n >= o * bump // 100
                   for n, o in ((fee_cap(new), fee_cap(old)), (tip_cap(new), tip_cap(old))))

    def _evict_for(self, sender: bytes, offered_fee_cap: int) -> bool:
        """Make room by dropping the cheapest chain tail of another sender (never opens a nonce gap), if the
        newcomer's fee cap outbids it (geth: a full pool refuses an underpriced transaction)."""
        tails = [a.txs[max(a.txs)] for s, a in self._accounts.items() if s != sender]
        if not tails:
            return False
        victim = min(tails, key=lambda e: (fee_cap(e.tx), -e.seq))
        if offered_fee_cap <= fee_cap(victim.tx):
            return False
        self.remove(victim.tx.hash)
        return True

    def remove(self, tx_hash: bytes) -> None:
        entry = self._by_hash.pop(tx_hash, None)
        if entry is None:
            return
        self._removed.append(tx_hash)
        acct = self._accounts[entry.sender]
        acct.txs.pop(entry.tx.nonce, None)
        if not acct.txs:
            del self._accounts[entry.sender]

    def take_removed(self) -> list[bytes]:
        """The hashes that left the pool since the last call."""
        removed, self._removed = self._removed, []
        return removed

    def drop_below(self, sender: bytes, state_nonce: int) -> list[bytes]:
        """Forget the sender's transactions whose nonce is now used (included or replaced on chain); their hashes."""
        acct = self._accounts.get(sender)
        gone = [acct.txs[n].tx.hash for n in (acct.txs if acct else {}) if n < state_nonce]  # type: ignore[union-attr]
        for tx_hash in gone:
            self.remove(tx_hash)
        return gone

    def prune(self, state_nonce: Callable[[bytes], int]) -> list[bytes]:
        """`drop_below` for every sender (nonces another transaction used: EIP-7702 authorizations)."""
        return [h for sender in list(self._accounts) for h in self.drop_below(sender, state_nonce(sender))]

    def pending_nonce(self, sender: bytes, state_nonce: int) -> int:
        """State nonce plus the sender's contiguous pooled transactions (what wallets ask for as 'pending')."""
        acct = self._accounts.get(sender)
        n = state_nonce
        while acct and n in acct.txs:
            n += 1
        return n

    def split(self, state_nonce: Callable[[bytes], int]) -> tuple[list[PoolTx], list[PoolTx]]:
        """(pending, queued) entries, each sender's in nonce order."""
        pending, queued = [], []
        for sender, acct in self._accounts.items():
            nxt = state_nonce(sender)
            for nonce in sorted(acct.txs):
                (pending if nonce == nxt else queued).append(acct.txs[nonce])
                if nonce == nxt:
                    nxt += 1
        return pending, queued

    def executable(self, state_nonce: Callable[[bytes], int], base_fee: int) -> Iterator[PoolTx]:
        """Pending txs that can pay the base fee, best tip first, each sender's in nonce order (FIFO ties).
        The senders' next transactions wait in a heap: O(log senders) per transaction."""
        chains: dict[bytes, list[PoolTx]] = {}
        for entry in self.split(state_nonce)[0]:
            chains.setdefault(entry.sender, []).append(entry)
        heap = [(-effective_tip(c[0].tx, base_fee), c[0].seq, 0, c) for c in chains.values()]
        heapq.heapify(heap)
        while heap:
            _, _, i, chain = heapq.heappop(heap)
            entry = chain[i]
            if fee_cap(entry.tx) < base_fee:
                continue  # neither it nor the sender's later transactions can go in
            if i + 1 < len(chain):
                nxt = chain[i + 1]
                heapq.heappush(heap, (-effective_tip(nxt.tx, base_fee), nxt.seq, i + 1, chain))
            yield entry
