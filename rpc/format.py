"""Chain objects → the JSON shapes wallets read (spec/rpc.md §2 "Object shapes"; OP-stack field sets)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import rlp
from eth_hash.auto import keccak

from megaeth_node.sequencer import MiniBlock
from megaeth_node.store import MiniBlockSpan
from megaeth_node.types import (
    ACCESS_LIST_TX_TYPE,
    DEPOSIT_TX_TYPE,
    GAS_PRICE_TX_TYPES,
    LEGACY_TX_TYPE,
    SET_CODE_TX_TYPE,
    AccessList,
    Authorization,
    Block,
    Header,
    Log,
    Receipt,
    Transaction,
)
from rpc.codec import data, quantity

EMPTY_OMMERS = bytes.fromhex("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347")


def effective_gas_price(tx: Transaction, base_fee: int) -> int:
    if tx.type == DEPOSIT_TX_TYPE:
        return 0
    if tx.type in GAS_PRICE_TX_TYPES:
        return tx.gas_price
    return min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)


def header_json(h: Header, block_hash: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {
        "hash": data(block_hash), "parentHash": data(h.parent_hash), "sha3Uncles": data(h.ommers_hash),
        "miner": data(h.coinbase), "stateRoot": data(h.state_root), "transactionsRoot": data(h.transactions_root),
        "receiptsRoot": data(h.receipts_root), "logsBloom": data(h.logs_bloom), "difficulty": quantity(h.difficulty),
        "number": quantity(h.number), "gasLimit": quantity(h.gas_limit), "gasUsed": quantity(h.gas_used),
        "timestamp": quantity(h.timestamp), "extraData": data(h.extra_data), "mixHash": data(h.mix_hash),
        "nonce": data(h.nonce),
    }
    optional = (("baseFeePerGas", h.base_fee_per_gas, quantity), ("withdrawalsRoot", h.withdrawals_root, data),
                ("blobGasUsed", h.blob_gas_used, quantity), ("excessBlobGas", h.excess_blob_gas, quantity),
                ("parentBeaconBlockRoot", h.parent_beacon_block_root, data), ("requestsHash", h.requests_hash, data))
    out.update({k: fmt(v) for k, v, fmt in optional if v is not None})  # type: ignore[operator]
    return out


def block_size(block: Block) -> int:
    """Bytes of the RLP block `[header, transactions, uncles, withdrawals]` (geth's `size`)."""
    return len(block.encode())


def tx_json(tx: Transaction, sender: bytes, index: int | None = None, header: Header | None = None,
            block_hash: bytes | None = None) -> dict[str, Any]:
    """A transaction object: at `index` of the block `header` heads (its hash null while it is open); the
    block fields are null while pending."""
    block_number = header.number if header is not None else None
    base_fee = header.base_fee_per_gas if header is not None else None
    out: dict[str, Any] = {"type": quantity(tx.type)}
    if tx.type == DEPOSIT_TX_TYPE:
        out.update(sourceHash=data(tx.source_hash), mint=quantity(tx.mint), depositReceiptVersion="0x1")
    else:
        out["chainId"] = quantity(tx.chain_id) if tx.chain_id is not None else None
        if tx.chain_id is None:
            del out["chainId"]
    out.update({
        "nonce": quantity(tx.nonce), "gas": quantity(tx.gas), "to": data(tx.to) if tx.to else None,
        "value": quantity(tx.value), "input": data(tx.data), "hash": data(tx.hash), "from": data(sender),
        "r": quantity(tx.r), "s": quantity(tx.s), "v": quantity(tx.v),
        "blockHash": data(block_hash) if block_hash is not None else None,
        "blockNumber": quantity(block_number) if block_number is not None else None,
        "transactionIndex": quantity(index) if index is not None else None,
    })
    if tx.type != LEGACY_TX_TYPE:
        out["yParity"] = quantity(tx.v)
    if tx.type in (LEGACY_TX_TYPE, DEPOSIT_TX_TYPE):
        out["gasPrice"] = quantity(tx.gas_price)
    elif tx.type == ACCESS_LIST_TX_TYPE:
        out.update(gasPrice=quantity(tx.gas_price), accessList=access_list_json(tx.access_list))
    else:
        out.update(maxFeePerGas=quantity(tx.max_fee_per_gas), maxPriorityFeePerGas=quantity(tx.max_priority_fee_per_gas),
                   accessList=access_list_json(tx.access_list))
        out["gasPrice"] = quantity(effective_gas_price(tx, base_fee) if base_fee is not None else tx.max_fee_per_gas)
    if tx.type == SET_CODE_TX_TYPE:
        out["authorizationList"] = authorization_list_json(tx.authorization_list)
    return out


def access_list_json(access_list: AccessList) -> list[dict[str, Any]]:
    return [{"address": data(a), "storageKeys": [data(k) for k in keys]} for a, keys in access_list]


def authorization_list_json(authorizations: Sequence[Authorization]) -> list[dict[str, str]]:
    return [{"chainId": quantity(a.chain_id), "address": data(a.address), "nonce": quantity(a.nonce),
             "yParity": quantity(a.y_parity), "r": quantity(a.r), "s": quantity(a.s)} for a in authorizations]


def mini_block_fields(span: MiniBlockSpan | None) -> dict[str, str]:
    """The realtime extra of blocks and `newHeads` (rpc.md §2 object shapes, §5.5); none where unknown."""
    return {} if span is None else {"miniBlockCount": quantity(span.count), "miniBlockOffset": quantity(span.offset)}


def block_json(block: Block, full: bool, mini_blocks: MiniBlockSpan | None = None) -> dict[str, Any]:
    """`eth_getBlockBy*` result: header fields, size, the realtime extra, transactions (hashes or objects),
    no uncles/withdrawals."""
    h = block.header
    out = header_json(h, block.hash)
    out["size"] = quantity(block_size(block))
    out.update(mini_block_fields(mini_blocks))
    out["uncles"] = []
    out["transactions"] = [
        tx_json(tx, sender, i, h, block.hash) if full else data(tx.hash)
        for i, (tx, sender) in enumerate(zip(block.transactions, block.senders))]
    out["withdrawals"] = []
    return out


def log_json(log: Log, block_hash: bytes, block_number: int, timestamp: int, tx_hash: bytes, tx_index: int,
             log_index: int, removed: bool = False) -> dict[str, Any]:
    return {"address": data(log.address), "topics": [data(t) for t in log.topics], "data": data(log.data),
            "blockNumber": quantity(block_number), "blockHash": data(block_hash),
            "blockTimestamp": quantity(timestamp), "transactionHash": data(tx_hash),
            "transactionIndex": quantity(tx_index), "logIndex": quantity(log_index), "removed": removed}


def receipt_json(block: Block, receipts: Sequence[Receipt], index: int, first_log_index: int,
                 contract_address: bytes | None) -> dict[str, Any]:
    """`eth_getTransactionReceipt` result for transaction `index` of `block`."""
    tx, sender, r = block.transactions[index], block.senders[index], receipts[index]
    h = block.header
    gas_used = r.cumulative_gas_used - (receipts[index - 1].cumulative_gas_used if index else 0)
    out: dict[str, Any] = {
        "type": quantity(tx.type), "status": quantity(r.status), "cumulativeGasUsed": quantity(r.cumulative_gas_used),
        "logs": [log_json(lg, block.hash, h.number, h.timestamp, tx.hash, index, first_log_index + j)
                 for j, lg in enumerate(r.logs)],
        "logsBloom": data(r.bloom), "transactionHash": data(tx.hash), "transactionIndex": quantity(index),
        "blockHash": data(block.hash), "blockNumber": quantity(h.number), "gasUsed": quantity(gas_used),
        "effectiveGasPrice": quantity(effective_gas_price(tx, h.base_fee_per_gas or 0)), "from": data(sender),
        "to": data(tx.to) if tx.to else None,
        "contractAddress": data(contract_address) if contract_address else None,
    }
    if r.deposit_nonce is not None:
        out["depositNonce"] = quantity(r.deposit_nonce)
        out["depositReceiptVersion"] = quantity(r.deposit_receipt_version or 1)
    return out


def contract_address(block: Block, index: int) -> bytes | None:
    """The address transaction `index` of `block` creates, if it is a create."""
    tx = block.transactions[index]
    return keccak(rlp.encode([block.senders[index], tx.nonce]))[12:] if tx.to is None else None


def mini_block_receipt(mb: MiniBlock, header: Header, i: int) -> dict[str, Any]:
    """The receipt of transaction `i` of a journaled mini-block of the open block `header` (spec/rpc.md §5.2):
    positions (transaction and log indexes) and gas within the whole block; blockHash null (not sealed)."""
    block = Block(header, mb.transactions, mb.senders, b"")
    out = receipt_json(block, list(mb.receipts), i, mb.prior_logs + sum(len(r.logs) for r in mb.receipts[:i]),
                       contract_address(block, i))
    own_gas = mb.receipts[i].cumulative_gas_used - (mb.receipts[i - 1].cumulative_gas_used if i else mb.prior_gas)
    out.update(blockHash=None, transactionIndex=quantity(mb.first_tx + i), gasUsed=quantity(own_gas))
    for lg in out["logs"]:
        lg.update(blockHash=None, transactionIndex=quantity(mb.first_tx + i))
    return out
