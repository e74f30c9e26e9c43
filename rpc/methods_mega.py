"""MegaETH's validator-facing methods (spec/rpc.md §5.7; stateless-validator.md §8.1):
`mega_getBlockWitness` and `mega_setValidatedBlocks`."""

from __future__ import annotations

import asyncio
from typing import Any

from megaeth_node.sequencer import Sequencer
from rpc.codec import data, parse_hash, parse_quantity
from rpc.dispatch import Handler
from rpc.errors import RpcError, invalid_params
from salt.witness import decode_mpt_witness, decode_salt_witness, encode_rpc_witness


def mega_methods(node: Sequencer) -> dict[str, Handler]:
    validated: dict[str, Any] = {"anchor": None, "last": None}

    def block_ref(params: list[Any]) -> tuple[int, bytes | None]:
        """`{blockNumber: Q, blockHash?}` or the older positional `["<decimal>", "0xhash"]`."""
        if len(params) == 1 and isinstance(params[0], dict):
            obj = params[0]
            if "blockNumber" not in obj:
                raise invalid_params("missing blockNumber", 0)
            return parse_quantity(obj["blockNumber"]), parse_hash(obj["blockHash"]) if obj.get("blockHash") else None
        if len(params) in (1, 2) and isinstance(params[0], str) and params[0].isdigit():
            return int(params[0]), parse_hash(params[1]) if len(params) == 2 else None
        raise invalid_params("want {blockNumber, blockHash} or [\"<number>\", \"0xhash\"]")

    async def get_block_witness(params: list[Any]) -> str:
        number, block_hash = block_ref(params)
        header = node.chain.header(number)
        if header is None or (block_hash is not None and header.hash != block_hash):
            raise RpcError(-32000, "block not found")
        stored = node.chain.witness(number)
        if stored is None:
            raise RpcError(-32000, f"no witness stored for block {number}")
        # ~7 ms for a 160 KB witness (decode, zstd level 9): on a thread, the loop goes on answering meanwhile
        return await asyncio.to_thread(_rpc_witness, stored[0], stored[1])

    def pair(v: Any, i: int) -> tuple[int, bytes]:
        if not isinstance(v, list) or len(v) != 2 or not isinstance(v[0], int) or isinstance(v[0], bool):
            raise invalid_params("want [number, hash]", i)
        return v[0], parse_hash(v[1])

    async def set_validated_blocks(params: list[Any]) -> dict[str, Any]:
        """Record a validator's report; accepted when both ends are canonical blocks of this node."""
        if len(params) != 2:
            raise invalid_params("want [[firstNo, firstHash], [lastNo, lastHash]]")
        (first_no, first_hash), (last_no, last_hash) = pair(params[0], 0), pair(params[1], 1)
        ok = first_no <= last_no and all(
            (h := node.chain.header(n)) is not None and h.hash == want
            for n, want in ((first_no, first_hash), (last_no, last_hash)))
        if ok and (validated["last"] is None or last_no > validated["last"][0]):
            validated["anchor"], validated["last"] = (first_no, first_hash), (last_no, last_hash)
        last = validated["last"]
        return {"accepted": ok, "lastValidatedBlock": [last[0], data(last[1])] if last else None}

    return {"mega_getBlockWitness": get_block_witness, "mega_setValidatedBlocks": set_validated_blocks}


def _rpc_witness(salt: bytes, mpt: bytes) -> str:
    """The stored witness pair in the RPC form (upstream bincode, zstd, base64, version prefix)."""
    return encode_rpc_witness(decode_salt_witness(salt), decode_mpt_witness(mpt))
