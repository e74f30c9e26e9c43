"""The `eth_*` methods over the sequencer (spec/rpc.md §2, §3, §5): state reads, blocks, transactions,
receipts, logs, calls, sends, and the realtime sync send."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from megaeth_node.calls import AccountOverride, CallRequest, call, create_access_list, estimate_gas
from megaeth_node.errors import HeaderNotFound, HistoricalState, InvalidTransaction, UnsupportedTxType
from megaeth_node.executor.rules import IsthmusRules
from megaeth_node.executor.state import Account
from megaeth_node.salt_state import SaltReader
from megaeth_node.sequencer import Sequencer
from megaeth_node.types import (
    ACCESS_LIST_TX_TYPE,
    DEPOSIT_TX_TYPE,
    DYNAMIC_FEE_TX_TYPE,
    LEGACY_TX_TYPE,
    SET_CODE_TX_TYPE,
    Authorization,
    Block,
    Receipt,
    Transaction,
)
from rpc.codec import data, parse_address, parse_data, parse_hash, parse_quantity, parse_slot, quantity
from rpc.dispatch import Handler
from rpc.errors import RpcError, invalid_params, max_args
from rpc.format import (
    access_list_json,
    authorization_list_json,
    block_json,
    contract_address,
    effective_gas_price,
    header_json,
    mini_block_receipt,
    receipt_json,
    tx_json,
)

T = TypeVar("T")
SUGGESTED_TIP = 1_000_000
GAS_CAP = 60_000_000
MAX_FEE_HISTORY = 1024
MAX_STORAGE_VALUES = 1024  # slots one eth_getStorageValues request may read
SYNC_TIMEOUT_S, SYNC_MAX_TIMEOUT_S = 2.0, 10.0
REALTIME_TIMEOUT_S = 10.0  # `realtime_sendRawTransaction` (spec/rpc.md §5.1)
BLOB_BASE_FEE = 1  # no blob gas is ever used, so the excess stays 0 and the price at its EIP-4844 minimum


def _arg(params: list[Any], i: int, default: Any = ...) -> Any:
    if i < len(params) and params[i] is not None:
        return params[i]
    if default is ...:
        raise invalid_params(f"missing value for required argument {i}", i)
    return default


def _account(reader: SaltReader, address: bytes) -> Account:
    return reader.account(address) or Account()


def parse_authorizations(items: Any, i: int) -> tuple[Authorization, ...]:
    """An EIP-7702 `authorizationList` (geth's SetCodeAuthorization JSON: chainId, address, nonce, yParity, r,
    s; `v` for yParity accepted)."""
    if items is None:
        return ()
    if not isinstance(items, list) or not all(isinstance(a, dict) for a in items):
        raise invalid_params("authorizationList must be a list of objects", i)
    try:
        return tuple(Authorization(parse_quantity(a["chainId"]), parse_address(a["address"]),
                                   parse_quantity(a["nonce"]), parse_quantity(a.get("yParity", a.get("v"))),
                                   parse_quantity(a["r"]), parse_quantity(a["s"])) for a in items)
    except (KeyError, TypeError) as e:
        raise invalid_params(f"authorization without {e}", i) from e


def block_rewards(block: Block | None, receipts: list[Receipt] | None, percentiles: list[float]) -> list[int]:
    """`eth_feeHistory`'s reward row of a block, as geth computes it (`eth/gasprice/feehistory.go`): the
    effective tips sorted, each percentile the tip of the transaction whose cumulative gas (in tip order)
    reaches that share of the block's gas; zeros for a block without transactions."""
    if block is None or receipts is None or not block.transactions:
        return [0] * len(percentiles)
    base_fee = block.header.base_fee_per_gas or 0
    gas = [r.cumulative_gas_used - (receipts[i - 1].cumulative_gas_used if i else 0) for i, r in enumerate(receipts)]
    tips = sorted(((0 if tx.type == DEPOSIT_TX_TYPE else max(0, effective_gas_price(tx, base_fee) - base_fee), g)
                   for tx, g in zip(block.transactions, gas)), key=lambda tip_gas: tip_gas[0])
    total = block.header.gas_used
    out, i, used = [], 0, tips[0][1]
    for p in percentiles:
        while used < int(total * p / 100) and i < len(tips) - 1:
            i += 1
            used += tips[i][1]
        out.append(tips[i][0])
    return out


def sealed_number(node: Sequencer, tag: Any, i: int) -> int | None:
    """A block selector (EIP-1898; argument `i`) → a sealed block number, or None when it names no block."""
    if isinstance(tag, dict):
        if "blockHash" in tag:
            return node.chain.number_of(parse_hash(tag["blockHash"]))
        if "blockNumber" in tag:
            return parse_quantity(tag["blockNumber"])
        raise invalid_params("block selector needs blockHash or blockNumber", i)
    if tag in ("latest", "pending", "safe", "finalized"):
        return node.head.number
    if tag == "earliest":
        return 0
    if isinstance(tag, str) and len(tag) == 66:  # a bare block hash (geth's BlockNumberOrHash; ethers sends it)
        return node.chain.number_of(parse_hash(tag))
    try:
        return parse_quantity(tag)
    except ValueError as e:
        raise invalid_params(f"invalid block tag {tag!r}: {e}", i) from e


def require_current(node: Sequencer, tag: Any, i: int) -> int | None:
    """State queries (the selector is argument `i`): None for latest/pending (the newest mini-block), else the
    number of the block named, which must be the head (older state is not kept)."""
    if tag in (None, "latest", "pending"):
        return None
    n = sealed_number(node, tag, i)
    if n is None or n > node.head.number:
        raise HeaderNotFound("header not found")
    if n != node.head.number:
        raise HistoricalState("historical state not available")
    return n


async def execute_at(node: Sequencer, n: int | None, fn: Callable[[Any, IsthmusRules], T]) -> T:
    """`fn(evm_state, rules)` at `require_current`'s `n`: the newest mini-block's state for None, else the
    sealed head's state in its own block context."""
    if n is None:
        return await node.read_state(lambda s: fn(s, node.building().run.rules))
    return await node.read_sealed_evm_state(n, fn)


def parse_call_request(obj: Any, i: int) -> CallRequest:
    """A `CallRequest` object (spec/rpc.md §2), argument `i`."""
    if not isinstance(obj, dict):
        raise invalid_params("call request must be an object", i)
    payload = obj.get("input", obj.get("data"))
    if "input" in obj and "data" in obj and obj["input"] != obj["data"]:
        raise invalid_params('both "data" and "input" are set and not equal. Please use "input" to pass '
                             'transaction call data', i)
    fee = obj.get("maxFeePerGas", obj.get("gasPrice"))
    return CallRequest(
        sender=parse_address(obj["from"]) if obj.get("from") else bytes(20),
        to=parse_address(obj["to"]) if obj.get("to") else None,
        gas=parse_quantity(obj["gas"]) if obj.get("gas") else None,
        max_fee_per_gas=parse_quantity(fee) if fee else None,
        max_priority_fee_per_gas=parse_quantity(obj.get("maxPriorityFeePerGas") or "0x0"),
        value=parse_quantity(obj.get("value") or "0x0"), data=parse_data(payload or "0x"),
        access_list=tuple((parse_address(a["address"]), tuple(parse_hash(k) for k in a.get("storageKeys", [])))
                          for a in obj.get("accessList") or []),
        authorization_list=parse_authorizations(obj.get("authorizationList"), i))


def parse_state_overrides(obj: Any, i: int) -> dict[bytes, AccountOverride]:
    """`StateOverride` (spec/rpc.md §2): balance, nonce, code, state (replace) or stateDiff (patch)."""
    if not isinstance(obj, dict):
        raise invalid_params("state override must be an object", i)
    out = {}
    for addr, o in obj.items():
        if not isinstance(o, dict):
            raise invalid_params(f"override of {addr} must be an object", i)
        if o.get("state") is not None and o.get("stateDiff") is not None:
            raise invalid_params(f"account {addr} has both 'state' and 'stateDiff'", i)

        def slots(m: Any) -> dict[int, int] | None:
            if m is None:
                return None
            return {int.from_bytes(parse_hash(k), "big"): int.from_bytes(parse_hash(v), "big") for k, v in m.items()}

        out[parse_address(addr)] = AccountOverride(
            balance=parse_quantity(o["balance"]) if o.get("balance") is not None else None,
            nonce=parse_quantity(o["nonce"]) if o.get("nonce") is not None else None,
            code=parse_data(o["code"]) if o.get("code") is not None else None,
            state=slots(o.get("state")), state_diff=slots(o.get("stateDiff")))
    return out


def eth_methods(node: Sequencer) -> dict[str, Handler]:
    """Handlers bound to `node`."""
    chain_id = node.chain_config.chain_id

    def head_number() -> int:
        return node.head.number

    def block_number_of(tag: Any, i: int) -> int | None:
        return sealed_number(node, tag, i)

    async def account_state(tag: Any, i: int, newest: Callable[[Any], T], sealed: Callable[[SaltReader], T]) -> T:
        """An account read at `tag`: `newest(evm_state)` at latest/pending, `sealed(reader)` at the head named
        by number, hash, safe or finalized (its sealed state, without the open block's transactions)."""
        n = require_current(node, tag, i)
        return await (node.read_state(newest) if n is None else node.read_sealed_state(n, sealed))

    async def block_number(params: list[Any]) -> str:
        max_args(params, 0)
        return quantity(head_number())

    async def get_balance(params: list[Any]) -> str:
        max_args(params, 2)
        addr = parse_address(_arg(params, 0))
        return quantity(await account_state(_arg(params, 1, "latest"), 1, lambda s: s.get_balance(addr),
                                            lambda r: _account(r, addr).balance))

    async def get_transaction_count(params: list[Any]) -> str:
        max_args(params, 2)
        addr = parse_address(_arg(params, 0))
        tag = _arg(params, 1, "latest")
        if tag == "pending":
            return quantity(await node.pending_nonce(addr))
        return quantity(await account_state(tag, 1, lambda s: s.get_nonce(addr), lambda r: _account(r, addr).nonce))

    async def get_code(params: list[Any]) -> str:
        max_args(params, 2)
        addr = parse_address(_arg(params, 0))
        return data(await account_state(_arg(params, 1, "latest"), 1, lambda s: s.get_code(addr),
                                        lambda r: r.code(_account(r, addr).code_hash)))

    async def get_storage_at(params: list[Any]) -> str:
        max_args(params, 3)
        addr = parse_address(_arg(params, 0))
        slot = parse_slot(_arg(params, 1))
        value = await account_state(_arg(params, 2, "latest"), 2, lambda s: s.get_storage(addr, slot),
                                    lambda r: r.storage(addr, slot))
        return data(value.to_bytes(32, "big"))

    async def get_storage_values(params: list[Any]) -> dict[str, list[str]]:
        """Several slots of several accounts in one read of one state: {address: [32-byte values]}, in the
        request's order (at most MAX_STORAGE_VALUES slots)."""
        max_args(params, 2)
        requests = _arg(params, 0)
        if not isinstance(requests, dict):
            raise invalid_params("want {address: [storage keys]}", 0)
        wanted: list[tuple[bytes, list[int]]] = []
        for address, keys in requests.items():
            if not isinstance(keys, list):
                raise invalid_params("each address maps to a list of storage keys", 0)
            wanted.append((parse_address(address), [parse_slot(k) for k in keys]))
        if sum(len(keys) for _, keys in wanted) > MAX_STORAGE_VALUES:
            raise invalid_params(f"too many storage keys (at most {MAX_STORAGE_VALUES})", 0)
        values = await account_state(_arg(params, 1, "latest"), 1,
                                     lambda s: [[s.get_storage(a, k) for k in keys] for a, keys in wanted],
                                     lambda r: [[r.storage(a, k) for k in keys] for a, keys in wanted])
        return {data(a): [data(v.to_bytes(32, "big")) for v in vs] for (a, _), vs in zip(wanted, values, strict=True)}

    async def get_code_by_hash(params: list[Any]) -> str:
        """Code by hash as of the newest mini-block: deployed in the open block, the sealing one, or earlier."""
        max_args(params, 1)
        code_hash = parse_hash(_arg(params, 0))
        return data(await node.read_state(lambda s: s.overlay.code_by_hash(code_hash)) or b"")

    async def gas_price(params: list[Any]) -> str:
        max_args(params, 0)
        return quantity(node.next_base_fee() + SUGGESTED_TIP)

    async def max_priority_fee(params: list[Any]) -> str:
        max_args(params, 0)
        return quantity(SUGGESTED_TIP)

    async def fee_history(params: list[Any]) -> dict[str, Any]:
        max_args(params, 3)
        raw_count = _arg(params, 0)
        count = raw_count if isinstance(raw_count, int) and not isinstance(raw_count, bool) else parse_quantity(raw_count)
        newest = block_number_of(_arg(params, 1, "latest"), 1)
        percentiles = _arg(params, 2, [])
        if not isinstance(percentiles, list) or any(not isinstance(p, (int, float)) or not 0 <= p <= 100
                                                    for p in percentiles) \
                or any(b <= a for a, b in itertools.pairwise(percentiles)):
            raise invalid_params("reward percentiles must be strictly increasing numbers in [0, 100]", 2)
        if newest is None or newest > head_number():
            raise HeaderNotFound("header not found")
        count = max(0, min(count, MAX_FEE_HISTORY, newest + 1))
        oldest = newest - count + 1
        headers = [node.chain.header(n) for n in range(oldest, newest + 1)]
        last = node.chain.header(newest)  # the entry after the headers' is the base fee of the block after it
        out: dict[str, Any] = {
            "oldestBlock": quantity(oldest),
            "baseFeePerGas": [quantity(h.base_fee_per_gas or 0) for h in headers if h]
                             + [quantity(node.next_base_fee(last) if last else 0)],
            "gasUsedRatio": [h.gas_used / h.gas_limit for h in headers if h],
            "baseFeePerBlobGas": [quantity(1)] * (count + 1), "blobGasUsedRatio": [0.0] * count,
        }
        if percentiles:
            out["reward"] = [[quantity(r) for r in block_rewards(node.chain.block(n), node.chain.receipts(n),
                                                                 percentiles)]
                             for n in range(oldest, newest + 1)]
        return out

    async def eth_call(params: list[Any]) -> str:
        max_args(params, 4)
        req = parse_call_request(_arg(params, 0), 0)
        n = require_current(node, _arg(params, 1, "latest"), 1)
        overrides = parse_state_overrides(_arg(params, 2, {}), 2)
        if _arg(params, 3, {}):  # refused rather than ignored: a result for another block would be wrong silently
            raise invalid_params("block overrides are not supported", 3)
        out = await execute_at(node, n, lambda s, rules: call(s, rules, chain_id, req, GAS_CAP, overrides))
        return data(out)

    async def eth_estimate_gas(params: list[Any]) -> str:
        max_args(params, 3)
        req = parse_call_request(_arg(params, 0), 0)
        n = require_current(node, _arg(params, 1, "latest"), 1)
        overrides = parse_state_overrides(_arg(params, 2, {}), 2)
        gas = await execute_at(node, n, lambda s, rules: estimate_gas(s, rules, chain_id, req, GAS_CAP, overrides))
        return quantity(gas)

    async def eth_create_access_list(params: list[Any]) -> dict[str, Any]:
        """geth's result: `{accessList, gasUsed, error?}`; an execution failure is the `error` field, a request
        that cannot execute (funds, nonce) an error reply as for eth_call."""
        max_args(params, 2)
        req = parse_call_request(_arg(params, 0), 0)
        n = require_current(node, _arg(params, 1, "latest"), 1)
        res = await execute_at(node, n, lambda s, rules: create_access_list(s, rules, chain_id, req, GAS_CAP))
        out: dict[str, Any] = {
            "accessList": access_list_json(res.access_list), "gasUsed": quantity(res.gas_used)}
        if res.error:
            out["error"] = res.error
        return out

    async def fill_transaction(params: list[Any]) -> dict[str, Any]:
        """geth's `eth_fillTransaction`: nonce (pending), fees (tip + 2 × base fee), gas (estimated), chain id and
        type filled in; `{raw: unsigned EIP-2718 bytes (zero signature), tx}` with geth's transaction JSON."""
        max_args(params, 1)
        obj = _arg(params, 0)
        req = parse_call_request(obj, 0)
        if obj.get("chainId") is not None and parse_quantity(obj["chainId"]) != chain_id:
            raise InvalidTransaction(f"chainId does not match node's (have={parse_quantity(obj['chainId'])}, "
                                     f"want={chain_id})")
        if req.to is None and not req.data:
            raise InvalidTransaction("contract creation without any data provided")
        legacy = obj.get("gasPrice") is not None
        if legacy and (obj.get("maxFeePerGas") is not None or obj.get("maxPriorityFeePerGas") is not None):
            raise InvalidTransaction("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")
        if legacy and req.authorization_list:  # geth: a type 4 tx, which a gas price does not fit
            raise UnsupportedTxType("transaction type not supported")
        if legacy:
            fee, tip = parse_quantity(obj["gasPrice"]), 0
        else:
            tip = parse_quantity(obj["maxPriorityFeePerGas"]) if obj.get("maxPriorityFeePerGas") else SUGGESTED_TIP
            fee = (parse_quantity(obj["maxFeePerGas"]) if obj.get("maxFeePerGas")
                   else tip + 2 * node.next_base_fee())
            if fee < tip:
                raise InvalidTransaction(f"maxFeePerGas ({fee}) < maxPriorityFeePerGas ({tip})")
        req = replace(req, max_fee_per_gas=fee, max_priority_fee_per_gas=tip)
        nonce = parse_quantity(obj["nonce"]) if obj.get("nonce") is not None else await node.pending_nonce(req.sender)
        gas = req.gas or await node.read_state(
            lambda s: estimate_gas(s, node.building().run.rules, chain_id, req, GAS_CAP))
        if legacy:  # with an access list, an EIP-2930 tx (geth)
            kind = ACCESS_LIST_TX_TYPE if req.access_list else LEGACY_TX_TYPE
        else:
            kind = SET_CODE_TX_TYPE if req.authorization_list else DYNAMIC_FEE_TX_TYPE
        typed = kind != LEGACY_TX_TYPE
        tx = Transaction(type=kind, nonce=nonce, gas=gas, to=req.to, value=req.value, data=req.data,
                         chain_id=chain_id, gas_price=fee if legacy else 0, max_priority_fee_per_gas=tip,
                         max_fee_per_gas=0 if legacy else fee, access_list=req.access_list,
                         authorization_list=req.authorization_list)
        # geth's txJSON: the fee fields a type lacks are null; chainId, accessList and yParity only where typed
        out: dict[str, Any] = {"type": quantity(tx.type)}
        if typed:
            out["chainId"] = quantity(chain_id)
        out.update(nonce=quantity(nonce), to=data(tx.to) if tx.to else None, gas=quantity(gas),
                   gasPrice=quantity(fee) if legacy else None,
                   maxPriorityFeePerGas=None if legacy else quantity(tip), maxFeePerGas=None if legacy else quantity(fee),
                   value=quantity(tx.value), input=data(tx.data))
        if typed:
            out["accessList"] = access_list_json(tx.access_list)
        if kind == SET_CODE_TX_TYPE:
            out["authorizationList"] = authorization_list_json(tx.authorization_list)
        out.update(v="0x0", r="0x0", s="0x0")
        if typed:
            out["yParity"] = "0x0"
        out["hash"] = data(tx.hash)
        return {"raw": data(tx.encode()), "tx": out}

    async def capabilities(params: list[Any]) -> dict[str, Any]:
        """What this node can serve (execution-apis `eth_capabilities`): blocks, transactions, receipts and logs
        from genesis on; the state of the head block only (`HistoricalState` otherwise); no state proofs
        (SALT, not the MPT `eth_getProof` answers with)."""
        max_args(params, 0)
        head = node.head
        kept = {"disabled": False, "oldestBlock": "0x0"}
        return {"head": {"number": quantity(head.number), "hash": data(head.hash)},
                "state": {"disabled": False, "oldestBlock": quantity(head.number),
                          "deleteStrategy": {"type": "window", "retentionBlocks": "0x1"}},
                "tx": kept, "logs": kept, "receipts": kept, "blocks": kept, "stateproofs": {"disabled": True}}

    async def coinbase(params: list[Any]) -> str:
        """The fee recipient of the blocks this node builds (OP's SequencerFeeVault)."""
        max_args(params, 0)
        return data(node.head.coinbase)

    async def base_fee(params: list[Any]) -> str:
        """The base fee of the next block: the one being built."""
        max_args(params, 0)
        return quantity(node.next_base_fee())

    async def blob_base_fee(params: list[Any]) -> str:
        max_args(params, 0)
        return quantity(BLOB_BASE_FEE)

    async def header_by_number(params: list[Any]) -> dict[str, Any] | None:
        max_args(params, 1)
        n = block_number_of(_arg(params, 0), 0)
        header = None if n is None else node.chain.header(n)
        return None if header is None else header_json(header, header.hash)

    async def header_by_hash(params: list[Any]) -> dict[str, Any] | None:
        max_args(params, 1)
        n = node.chain.number_of(parse_hash(_arg(params, 0)))
        header = None if n is None else node.chain.header(n)
        return None if header is None else header_json(header, header.hash)

    async def send_raw(params: list[Any]) -> str:
        max_args(params, 1)
        return data(await node.submit(parse_data(_arg(params, 0))))

    async def send_raw_sync(params: list[Any]) -> dict[str, Any]:
        max_args(params, 2)
        raw = parse_data(_arg(params, 0))
        timeout_ms = _arg(params, 1, None)
        if timeout_ms is not None and (not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool)
                                       or timeout_ms <= 0):
            raise invalid_params("timeout must be a positive number of milliseconds", 1)
        timeout = min(timeout_ms / 1000 if timeout_ms else SYNC_TIMEOUT_S, SYNC_MAX_TIMEOUT_S)
        return await wait_receipt(raw, timeout, lambda tx_hash: RpcError(
            4, f"the transaction was added to the transaction pool but wasn't processed in "
               f"{timeout * 1000:.0f}ms", data(tx_hash)))

    async def send_raw_realtime(params: list[Any]) -> dict[str, Any]:
        """MegaETH's older sync send: the raw transaction only, a fixed 10 s wait (behind a nonce gap
        too), then -32000 "realtime transaction expired"."""
        max_args(params, 1)

        def expired(tx_hash: bytes) -> RpcError:
            return RpcError(-32000, "realtime transaction expired", data(tx_hash))
        return await wait_receipt(parse_data(_arg(params, 0)), REALTIME_TIMEOUT_S, expired, wait_queued=True)

    async def wait_receipt(raw: bytes, timeout: float, timed_out: Callable[[bytes], RpcError],
                           wait_queued: bool = False) -> dict[str, Any]:
        tx_hash, included, where = await node.submit_and_wait(raw, timeout, wait_queued)
        if included is None:
            raise timed_out(tx_hash)
        # Straight from the mini-block: no builder round trip, which could queue behind a block seal.
        receipt = mini_block_receipt(where[0], where[0].header, where[1]) \
            if where is not None and where[0].header is not None else None
        if not included or receipt is None:
            raise RpcError(-32000, "transaction was dropped at execution", data(tx_hash))
        return receipt

    async def find_receipt(tx_hash: bytes, open_block: bool = True) -> dict[str, Any] | None:
        found = await node.locate(tx_hash, open_block)
        if found is None:
            return None
        block, receipts, i = found
        first_log = sum(len(r.logs) for r in receipts[:i])
        out = receipt_json(block, receipts, i, first_log, contract_address(block, i))
        if not block.hash:
            out["blockHash"] = None
            for lg in out["logs"]:
                lg["blockHash"] = None
        return out

    async def get_receipt(params: list[Any]) -> dict[str, Any] | None:
        """Null until the block seals: ethers v6 rejects a receipt whose blockHash is null (BAD_DATA), so the
        mini-block receipt (blockHash null) is served only by the sync send and `miniBlocks`; the transaction
        itself (eth_getTransactionByHash) shows its mini-block inclusion at once."""
        max_args(params, 1)
        return await find_receipt(parse_hash(_arg(params, 0)), open_block=False)

    async def get_transaction(params: list[Any]) -> dict[str, Any] | None:
        max_args(params, 1)
        tx_hash = parse_hash(_arg(params, 0))
        found = await node.locate(tx_hash)
        if found is not None:
            block, _, i = found
            return tx_json(block.transactions[i], block.senders[i], i, block.header, block.hash or None)
        pooled = node.pool.get(tx_hash)
        return None if pooled is None else tx_json(pooled.tx, pooled.sender)

    def sealed_block(n: int | None) -> Block | None:
        return None if n is None else node.chain.block(n)

    def block_result(block: Block | None, full: bool) -> dict[str, Any] | None:
        return None if block is None else block_json(block, full, node.chain.mini_blocks(block.header.number))

    async def block_by_number(params: list[Any]) -> dict[str, Any] | None:
        max_args(params, 2)
        return block_result(sealed_block(block_number_of(_arg(params, 0), 0)), bool(_arg(params, 1, False)))

    async def block_by_hash(params: list[Any]) -> dict[str, Any] | None:
        max_args(params, 2)
        number = node.chain.number_of(parse_hash(_arg(params, 0)))
        return block_result(sealed_block(number), bool(_arg(params, 1, False)))

    async def tx_count_by_number(params: list[Any]) -> str | None:
        max_args(params, 1)
        block = sealed_block(block_number_of(_arg(params, 0), 0))
        return None if block is None else quantity(len(block.transactions))

    async def tx_count_by_hash(params: list[Any]) -> str | None:
        max_args(params, 1)
        block = sealed_block(node.chain.number_of(parse_hash(_arg(params, 0))))
        return None if block is None else quantity(len(block.transactions))

    def tx_at(block: Block | None, index: int) -> dict[str, Any] | None:
        if block is None or not 0 <= index < len(block.transactions):
            return None
        return tx_json(block.transactions[index], block.senders[index], index, block.header, block.hash)

    async def tx_by_number_index(params: list[Any]) -> dict[str, Any] | None:
        max_args(params, 2)
        return tx_at(sealed_block(block_number_of(_arg(params, 0), 0)), parse_quantity(_arg(params, 1)))

    async def tx_by_hash_index(params: list[Any]) -> dict[str, Any] | None:
        max_args(params, 2)
        return tx_at(sealed_block(node.chain.number_of(parse_hash(_arg(params, 0)))), parse_quantity(_arg(params, 1)))

    async def uncle_count_by_number(params: list[Any]) -> str | None:
        """Blocks have no uncles: 0 for a block that exists, null otherwise (geth)."""
        max_args(params, 1)
        return None if sealed_block(block_number_of(_arg(params, 0), 0)) is None else "0x0"

    async def uncle_count_by_hash(params: list[Any]) -> str | None:
        max_args(params, 1)
        return None if node.chain.number_of(parse_hash(_arg(params, 0))) is None else "0x0"

    async def uncle_by_number_index(params: list[Any]) -> None:
        """No block has an uncle at any index (the parameters are still checked)."""
        max_args(params, 2)
        block_number_of(_arg(params, 0), 0)
        parse_quantity(_arg(params, 1))

    async def uncle_by_hash_index(params: list[Any]) -> None:
        max_args(params, 2)
        parse_hash(_arg(params, 0))
        parse_quantity(_arg(params, 1))

    async def block_receipts(params: list[Any]) -> list[dict[str, Any]] | None:
        max_args(params, 1)
        n = block_number_of(_arg(params, 0), 0)
        block, receipts = sealed_block(n), node.chain.receipts(n) if n is not None else None
        if block is None or receipts is None:
            return None
        out, first = [], 0
        for i in range(len(receipts)):
            out.append(receipt_json(block, receipts, i, first, contract_address(block, i)))
            first += len(receipts[i].logs)
        return out

    return {
        "eth_blockNumber": block_number, "eth_getBalance": get_balance,
        "eth_getTransactionCount": get_transaction_count, "eth_getCode": get_code,
        "eth_getStorageAt": get_storage_at, "eth_getStorageValues": get_storage_values,
        "eth_getCodeByHash": get_code_by_hash, "eth_gasPrice": gas_price,
        "eth_maxPriorityFeePerGas": max_priority_fee, "eth_feeHistory": fee_history, "eth_call": eth_call,
        "eth_estimateGas": eth_estimate_gas, "eth_sendRawTransaction": send_raw,
        "eth_sendRawTransactionSync": send_raw_sync, "realtime_sendRawTransaction": send_raw_realtime,
        "eth_getTransactionReceipt": get_receipt, "eth_getTransactionByHash": get_transaction,
        "eth_getBlockByNumber": block_by_number, "eth_getBlockByHash": block_by_hash,
        "eth_getBlockTransactionCountByNumber": tx_count_by_number,
        "eth_getBlockTransactionCountByHash": tx_count_by_hash,
        "eth_getTransactionByBlockNumberAndIndex": tx_by_number_index,
        "eth_getTransactionByBlockHashAndIndex": tx_by_hash_index, "eth_getBlockReceipts": block_receipts,
        "eth_createAccessList": eth_create_access_list, "eth_fillTransaction": fill_transaction,
        "eth_blobBaseFee": blob_base_fee, "eth_baseFee": base_fee, "eth_coinbase": coinbase,
        "eth_capabilities": capabilities,
        "eth_getHeaderByNumber": header_by_number,
        "eth_getHeaderByHash": header_by_hash, "eth_getUncleCountByBlockNumber": uncle_count_by_number,
        "eth_getUncleCountByBlockHash": uncle_count_by_hash, "eth_getUncleByBlockNumberAndIndex": uncle_by_number_index,
        "eth_getUncleByBlockHashAndIndex": uncle_by_hash_index,
    }

