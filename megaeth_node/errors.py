"""The node's error tree. It knows nothing of JSON-RPC: `rpc/errors.py` maps these to codes once."""

from __future__ import annotations


class NodeError(Exception):
    """Base of every error the node reports to a client; the message says which check failed."""


class InvalidTransaction(NodeError):
    """The transaction is rejected (geth wording in the message)."""


class NonceTooLow(InvalidTransaction):
    pass


class NonceTooHigh(InvalidTransaction):
    pass


class AlreadyKnown(InvalidTransaction):
    pass


class ReplacementUnderpriced(InvalidTransaction):
    pass


class TxPoolFull(InvalidTransaction):
    pass


class InsufficientFunds(InvalidTransaction):
    pass


class IntrinsicGasTooLow(InvalidTransaction):
    pass


class FeeTooLow(InvalidTransaction):
    pass


class InvalidChainId(InvalidTransaction):
    pass


class UnsupportedTxType(InvalidTransaction):
    pass


class NotExecutable(NodeError):
    """A pooled transaction that cannot run now (behind a nonce gap): a sync send's answer (rpc.md §5.1)."""

    def __init__(self, message: str, tx_hash: bytes) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


class ExecutionReverted(NodeError):
    """A call reverted; `data` holds the revert bytes."""

    def __init__(self, message: str, data: bytes) -> None:
        super().__init__(message)
        self.data = data


class HeaderNotFound(NodeError):
    pass


class HistoricalState(NodeError):
    """State of a block older than the head: not kept."""


class LimitExceeded(NodeError):
    pass
