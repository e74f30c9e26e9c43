"""Dev-mode methods with unlocked keys, as Anvil and Hardhat serve them (spec/rpc.md §3): accounts,
signing, and `eth_sendTransaction` / `eth_signTransaction` signed by the node."""

from __future__ import annotations

import json
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils import to_checksum_address

from megaeth_node.errors import InvalidTransaction
from megaeth_node.genesis import DevAccount
from megaeth_node.sequencer import Sequencer
from megaeth_node.types import ACCESS_LIST_TX_TYPE, LEGACY_TX_TYPE, Transaction
from rpc.codec import data, parse_address, parse_data, parse_quantity
from rpc.dispatch import Handler
from rpc.errors import RpcError, invalid_params
from rpc.format import authorization_list_json, tx_json
from rpc.methods_eth import SUGGESTED_TIP, parse_authorizations


def dev_methods(node: Sequencer, accounts: list[DevAccount], estimate_gas: Handler) -> dict[str, Handler]:
    """Handlers for the unlocked `accounts`; `estimate_gas` fills a missing gas limit."""
    keys = {a.address: a.private_key for a in accounts}
    chain_id = node.chain_config.chain_id

    def key_for(addr_hex: Any) -> bytes:
        addr = parse_address(addr_hex)
        if addr not in keys:
            raise RpcError(-32000, f"unknown account 0x{addr.hex()}: not unlocked by this node")
        return keys[addr]

    async def accounts_(params: list[Any]) -> list[str]:
        return [data(a.address) for a in accounts]

    async def personal_sign(params: list[Any]) -> str:
        msg, addr = params[0], params[1] if len(params) > 1 else None
        if addr is None:
            raise invalid_params("missing value for required argument 1", 1)
        signed = Account.sign_message(encode_defunct(parse_data(msg)), key_for(addr))
        return data(signed.signature)

    async def eth_sign(params: list[Any]) -> str:
        if len(params) != 2:
            raise invalid_params("want [address, message]")
        return await personal_sign([params[1], params[0]])

    async def sign_typed_data(params: list[Any]) -> str:
        if len(params) != 2:
            raise invalid_params("want [address, typedData]")
        key = key_for(params[0])
        typed = params[1]
        if isinstance(typed, str):
            typed = json.loads(typed)
        signed = Account.sign_message(encode_typed_data(full_message=typed), key)
        return data(signed.signature)

    async def signed(params: list[Any]) -> bytes:
        """The EIP-2718 bytes of params[0] filled in (nonce, fees, gas) and signed by its unlocked `from`."""
        if not params or not isinstance(params[0], dict):
            raise invalid_params("want a transaction object", 0)
        obj = params[0]
        sender_hex = obj.get("from")
        key = key_for(sender_hex)
        sender = parse_address(sender_hex)
        tx: dict[str, Any] = {
            "chainId": chain_id, "to": to_checksum_address(parse_address(obj["to"])) if obj.get("to") else None,
            "value": parse_quantity(obj.get("value") or "0x0"),
            "data": obj.get("input") or obj.get("data") or "0x",
            "nonce": parse_quantity(obj["nonce"]) if obj.get("nonce") else await node.pending_nonce(sender),
        }
        kind = parse_quantity(obj["type"]) if obj.get("type") is not None else None
        if obj.get("gasPrice") and (obj.get("maxFeePerGas") or obj.get("maxPriorityFeePerGas")):
            raise InvalidTransaction("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")
        if obj.get("gasPrice") or kind in (LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE):
            tx["gasPrice"] = parse_quantity(obj["gasPrice"]) if obj.get("gasPrice") \
                else 2 * node.next_base_fee() + SUGGESTED_TIP
        else:
            tip = parse_quantity(obj.get("maxPriorityFeePerGas") or hex(SUGGESTED_TIP))
            tx["maxPriorityFeePerGas"] = tip
            tx["maxFeePerGas"] = parse_quantity(obj.get("maxFeePerGas") or hex(2 * node.next_base_fee() + tip))
        tx["gas"] = parse_quantity(obj["gas"] if obj.get("gas") else await estimate_gas([obj]))
        if obj.get("accessList"):  # kept, as Anvil and Hardhat do (the type follows, unless one is given)
            tx["accessList"] = obj["accessList"]
        if obj.get("authorizationList"):
            tx["authorizationList"] = authorization_list_json(parse_authorizations(obj["authorizationList"], 0))
        if kind is not None:
            tx["type"] = kind
        if not tx["to"]:
            tx.pop("to")
        return bytes(Account.sign_transaction(tx, key).raw_transaction)

    async def send_transaction(params: list[Any]) -> str:
        return data(await node.submit(await signed(params)))

    async def sign_transaction(params: list[Any]) -> dict[str, Any]:
        """geth's {raw, tx}: signed as `eth_sendTransaction` would, not sent."""
        raw = await signed(params)
        return {"raw": data(raw), "tx": tx_json(Transaction.decode(raw), parse_address(params[0]["from"]))}

    return {"eth_accounts": accounts_, "personal_sign": personal_sign, "eth_sign": eth_sign,
            "eth_signTypedData_v4": sign_typed_data, "eth_sendTransaction": send_transaction,
            "eth_signTransaction": sign_transaction}
