"""Methods that need no chain state: client, network and hashing (spec/rpc.md §2, tier 1)."""

from __future__ import annotations

import importlib.metadata
from typing import Any

from eth_hash.auto import keccak

from rpc.codec import data, parse_data, quantity
from rpc.dispatch import Handler
from rpc.errors import invalid_params, max_args


def _arity(params: list[Any], n: int) -> None:
    max_args(params, n)
    if len(params) < n:
        raise invalid_params(f"missing value for required argument {len(params)}")


def base_methods(chain_id: int) -> dict[str, Handler]:
    """The handlers for chain id, client version, sha3 and network status."""
    version = f"megaeth-node/v{importlib.metadata.version('megaeth-node')}/python"

    async def eth_chain_id(params: list[Any]) -> str:
        _arity(params, 0)
        return quantity(chain_id)

    async def net_version(params: list[Any]) -> str:
        _arity(params, 0)
        return str(chain_id)

    async def client_version(params: list[Any]) -> str:
        _arity(params, 0)
        return version

    async def sha3(params: list[Any]) -> str:
        _arity(params, 1)
        return data(keccak(parse_data(params[0])))

    async def listening(params: list[Any]) -> bool:
        _arity(params, 0)
        return True

    async def peer_count(params: list[Any]) -> str:
        _arity(params, 0)
        return quantity(0)

    async def syncing(params: list[Any]) -> bool:
        _arity(params, 0)
        return False

    return {
        "eth_chainId": eth_chain_id, "net_version": net_version, "web3_clientVersion": client_version,
        "web3_sha3": sha3, "net_listening": listening, "net_peerCount": peer_count, "eth_syncing": syncing,
    }
