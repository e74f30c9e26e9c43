"""JSON-RPC errors with geth's codes and message texts (spec/rpc.md §4); the only place codes are chosen."""

from __future__ import annotations

from typing import Any

from megaeth_node.errors import ExecutionReverted, HistoricalState, LimitExceeded, NodeError, NotExecutable

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000
LIMIT_EXCEEDED = -32005
EXECUTION_REVERTED = 3
NOT_EXECUTABLE = 5  # a sync send pooled behind a nonce gap (EIP-7966; spec/rpc.md §5.1)
HISTORICAL_STATE = 4444  # MegaETH: state of a block no longer kept (spec/rpc.md §4)


class RpcError(Exception):
    """An error reply: `code`, geth-worded `message`, optional `data`."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


def parse_error(detail: str) -> RpcError:
    return RpcError(PARSE_ERROR, f"parse error: {detail}")


def invalid_request(detail: str) -> RpcError:
    return RpcError(INVALID_REQUEST, f"invalid request: {detail}")


def method_not_found(name: str) -> RpcError:
    return RpcError(METHOD_NOT_FOUND, f"the method {name} does not exist/is not available")


def invalid_params(detail: str, index: int | None = None) -> RpcError:
    prefix = f"invalid argument {index}: " if index is not None else "invalid params: "
    return RpcError(INVALID_PARAMS, prefix + detail)


def max_args(params: list[Any], n: int) -> None:
    """geth's refusal of more positional parameters than a method takes."""
    if len(params) > n:
        raise invalid_params(f"too many arguments, want at most {n}")


def limit_exceeded(detail: str) -> RpcError:
    return RpcError(LIMIT_EXCEEDED, f"limit exceeded: {detail}")


def internal_error() -> RpcError:
    return RpcError(INTERNAL_ERROR, "internal error")


def from_node_error(e: Exception) -> RpcError:
    """The one mapping from the node's error tree to JSON-RPC codes (spec/rpc.md §4)."""
    if isinstance(e, ExecutionReverted):
        return RpcError(EXECUTION_REVERTED, str(e), "0x" + e.data.hex())
    if isinstance(e, NotExecutable):
        return RpcError(NOT_EXECUTABLE, str(e), "0x" + e.tx_hash.hex())
    if isinstance(e, LimitExceeded):
        return RpcError(LIMIT_EXCEEDED, str(e))
    if isinstance(e, HistoricalState):
        return RpcError(HISTORICAL_STATE, str(e))
    if isinstance(e, NodeError):
        return RpcError(SERVER_ERROR, str(e))
    raise TypeError(f"not a node error: {e!r}")
