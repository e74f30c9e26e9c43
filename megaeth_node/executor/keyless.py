"""KeylessDeploy (Rex2; spec/mega-evm.md §2.1, §3.2; mega-evm v1.3.1 `sandbox/*`, `evm/execution.rs`).

A tx's top-level call `keylessDeploy(bytes keylessDeploymentTransaction, uint256 gasLimitOverride)` to
`0x6342…0003` (`gas.system.keyless_deploy_args`) never runs the contract's code: the node deploys a
pre-EIP-155 contract-creation tx ("Nick's method": a signature nobody holds the key of) at `signer.create(0)`,
whatever the signer's nonce (0 or 1). The deployment runs as the signer's own legacy tx in a sandbox — a fresh
transaction over the current state with the signer's nonce read as 0, the gas limit raised to the override,
CHAINID 1, every SALT bucket multiplier 1 and fresh MegaETH meters — paid by the signer at the signed gas price
with the L1 data fee of the raw bytes, and its state is kept whatever its outcome. The calling tx pays its
intrinsic gas and a 100,000 overhead (not compute gas), and gets `(gasUsed, deployedAddress, errorData)`; a
deployment that cannot start reverts the call with the reason, and a failed one returns it in `errorData`.
"""

from __future__ import annotations

import copy
from typing import Any

import rlp
from eth._utils.address import generate_contract_address
from eth.abc import ComputationAPI, MessageAPI, SignedTransactionAPI, StateAPI, TransactionContextAPI
from eth.exceptions import OutOfGas, Revert
from eth_utils import ValidationError
from gas.schedule import MIN_BUCKET_SIZE, SCHEDULE

from megaeth_node.executor.op import OpVM, load_l1_fee_params, with_sender
from megaeth_node.executor.state import KECCAK_EMPTY
from megaeth_node.executor.transact import InvalidTransaction, tx_logs
from megaeth_node.types import LEGACY_TX_TYPE, SECP256K1_N, ChainDataError, Transaction, keccak256, recover_signed

SANDBOX_CHAIN_ID = 1  # the sandbox's fresh revm `CfgEnv`
_LEGACY_TX = OpVM.get_transaction_builder().legacy_signed
_U64 = 2**64 - 1


def _selector(signature: str) -> bytes:
    return keccak256(signature.encode())[:4]


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _tail(data: bytes) -> bytes:
    """ABI `bytes` / `string` tail: length, then the data padded to 32-byte words."""
    return _word(len(data)) + data + bytes(-len(data) % 32)


def abi_error(signature: str, *args: int | bytes) -> bytes:
    """An ABI-encoded custom error of `IKeylessDeploy`: integer words, then at most one trailing `bytes` or
    `string` argument (its offset in the head)."""
    head, tail = b"", b""
    for arg in args:
        if isinstance(arg, int):
            head += _word(arg)
        else:
            head += _word(32 * len(args))
            tail = _tail(arg)
    return _selector(signature) + head + tail


def deploy_return(gas_used: int, address: bytes, error_data: bytes) -> bytes:
    """`abi_encode_returns((uint64 gasUsed, address deployedAddress, bytes errorData))`."""
    return _word(gas_used) + bytes(12) + address + _word(96) + _tail(error_data)


class KeylessRevert(Exception):  # noqa: N818 - an outcome of the call, not an error of the node
    """The deployment cannot start: the call reverts with `data` (an `IKeylessDeploy` error)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data.hex())
        self.data = data


def _canonical_uint(item: Any, max_bytes: int) -> int:
    """alloy-rlp's integer: a byte string without leading zeros that fits the field's type."""
    if not isinstance(item, bytes) or item[:1] == b"\x00" or len(item) > max_bytes:
        raise ChainDataError("not a canonical integer")
    return int.from_bytes(item, "big")


def decode_keyless_tx(raw: bytes) -> Transaction:
    """The pre-EIP-155 legacy contract creation in `raw` (alloy `TxLegacy::rlp_decode_signed`: an RLP list of 9
    canonical fields, bytes after it ignored; v 27 or 28). Raises `KeylessRevert` as mega-evm's
    `decode_keyless_tx` errors: MalformedEncoding, NotContractCreation, NotPreEIP155."""
    try:
        fields = rlp.decode(raw, strict=False)
        if not isinstance(fields, list) or len(fields) != 9 or not all(isinstance(f, bytes) for f in fields):
            raise ChainDataError("not a 9-field legacy transaction")
        nonce, gas_price, gas = (_canonical_uint(fields[0], 8), _canonical_uint(fields[1], 16),
                                 _canonical_uint(fields[2], 8))
        value, v = _canonical_uint(fields[4], 32), _canonical_uint(fields[6], 16)
        r, s = _canonical_uint(fields[7], 32), _canonical_uint(fields[8], 32)
        if fields[3] and len(fields[3]) != 20:
            raise ChainDataError("to is neither empty nor an address")
        if v not in (27, 28) and not 35 <= v < 35 + 2 * 2**64:  # alloy `from_eip155_value`: a u64 chain id
            raise ChainDataError(f"invalid v {v}")
    except (rlp.exceptions.DecodingError, ChainDataError) as e:
        raise KeylessRevert(abi_error("MalformedEncoding()")) from e
    if fields[3]:
        raise KeylessRevert(abi_error("NotContractCreation()"))
    if v >= 35:
        raise KeylessRevert(abi_error("NotPreEIP155()"))
    return Transaction(type=LEGACY_TX_TYPE, nonce=nonce, gas_price=gas_price, gas=gas, to=None, value=value,
                       data=fields[5], v=v, r=r, s=s)


def recover_signer(tx: Transaction) -> bytes:
    """The keyless tx's signer (alloy `recover_address_from_prehash`: a high s is normalised, not refused)."""
    try:
        return recover_signed(tx.signing_hash(), tx.v - 27, tx.r, tx.s)
    except ChainDataError as e:
        raise KeylessRevert(abi_error("InvalidSignature()")) from e


def sandbox_transaction(tx: Transaction, signer: bytes, raw: bytes, gas_limit: int) -> SignedTransactionAPI:
    """The deployment as py-evm's legacy tx: nonce 0, the override as gas limit, `raw` as its bytes (the L1 data
    fee input), signed by `signer` (recovered already). revm checks no signature, so a high s (which recovery
    accepted) is stored normalised, past py-evm's EIP-2 check."""
    s = tx.s if tx.s <= SECP256K1_N // 2 else SECP256K1_N - tx.s
    return with_sender(_LEGACY_TX(0, tx.gas_price, gas_limit, b"", tx.value, tx.data, tx.v, tx.r, s), signer, raw)


def keyless_deploy(computation_class: type, state: StateAPI, message: MessageAPI,
                   transaction_context: TransactionContextAPI, raw: bytes, override: int) -> ComputationAPI:
    """The intercepted top frame of a KeylessDeploy call of `raw` with `override` (`gas.system.keyless_deploy_args`;
    mega-evm `execute_keyless_deploy_call`), as a finished computation of `computation_class`: the overhead (too
    little gas: OutOfGas, all gas spent), then the checks in upstream's order, then the sandbox (`run_sandbox`)."""
    computation = computation_class(state, message, transaction_context)
    overhead = SCHEDULE[state.rex.spec].keyless_deploy_overhead_gas  # type: ignore[attr-defined]
    if message.gas < overhead:
        computation.error = OutOfGas("KeylessDeploy overhead")
        return computation  # type: ignore[no-any-return]
    computation._gas_meter.consume_gas(overhead, "KeylessDeploy overhead")
    try:
        if message.value:
            raise KeylessRevert(abi_error("NoEtherTransfer()"))
        tx = decode_keyless_tx(raw)
        if tx.nonce:
            raise KeylessRevert(abi_error("NonZeroTxNonce(uint64)", tx.nonce))
        gas_limit = min(override, _U64)
        if gas_limit < tx.gas:
            raise KeylessRevert(abi_error("GasLimitTooLow(uint64,uint64)", tx.gas, gas_limit))
        signer = recover_signer(tx)
        nonce = state.get_nonce(signer)
        if nonce > 1:
            raise KeylessRevert(abi_error("SignerNonceTooHigh(uint64)", nonce))
        address = generate_contract_address(signer, 0)
        if state.get_code_hash(address) != KECCAK_EMPTY:
            raise KeylessRevert(abi_error("ContractAlreadyExists()"))
        if state.get_balance(signer) < gas_limit * tx.gas_price + tx.value:
            raise KeylessRevert(abi_error("InsufficientBalance()"))
        computation.output = run_sandbox(state, sandbox_transaction(tx, signer, raw, gas_limit), address, computation)
    except KeylessRevert as e:
        computation.output = e.data
        computation.error = Revert(e.data)
    return computation  # type: ignore[no-any-return]


def run_sandbox(state: StateAPI, tx: SignedTransactionAPI, address: bytes, parent: ComputationAPI) -> bytes:
    """Run the deployment `tx` as its own transaction (mega-evm `execute_keyless_deploy_sandbox`) and keep its
    state; the call's return data. The sandbox has its own meters (REX2 defaults, every bucket at the minimum
    size), its own warm sets, CHAINID 1 and the signer's nonce at 0; a tx that fails validation reverts the
    call with `InternalError(string)` and leaves nothing behind. Its logs reach the call only on success."""
    if tx.gas > state.gas_limit:  # revm's CallerGasLimitMoreThanBlock
        raise KeylessRevert(abi_error("InternalError(string)", b"caller gas limit exceeds the block gas limit"))
    overlay, rex, context = state.overlay, state.rex, state.execution_context  # type: ignore[attr-defined]
    sandbox_context = copy.copy(context)
    sandbox_context._chain_id = SANDBOX_CHAIN_ID  # type: ignore[attr-defined]
    meters = type(rex)(rex.spec, rex.coinbase, lambda plain_key: MIN_BUCKET_SIZE)
    meters.native = rex.native  # a re-run interpreted (`interpreted_on_abort`) runs the sandbox interpreted too
    meters.start_tx(tx.sender, None, len(tx.data), (), 0, 0)
    # op-revm fetches the L1Block parameters for the block if nothing has yet (a deposit calling first)
    state.l1_fee_params = load_l1_fee_params(state)  # type: ignore[attr-defined]
    snapshot = state.snapshot()
    mark = overlay.journal_mark()
    state.rex, state.execution_context = meters, sandbox_context  # type: ignore[attr-defined]
    warm = overlay.swap_warm(set())
    try:
        if state.get_nonce(tx.sender):
            state.set_nonce(tx.sender, 0)
        try:
            computation = state.apply_transaction(tx)
        except (ValidationError, InvalidTransaction) as e:
            state.revert(snapshot)
            raise KeylessRevert(abi_error("InternalError(string)", str(e).encode())) from e
        gas_used = state.get_transaction_executor().receipt_gas_used(tx, computation)
    finally:
        overlay.swap_warm(warm)
        state.rex, state.execution_context = rex, context  # type: ignore[attr-defined]
        rex.ran_native |= meters.ran_native  # a native frame's abort re-runs the calling tx
    _drop_untouched(overlay, rex.loaded_untouched, mark, computation)
    state.commit(snapshot)
    if computation.is_success:
        if not computation.output:  # the code the creation returned (a self-destruct may leave none deployed)
            return deploy_return(gas_used, bytes(20), abi_error("EmptyCodeDeployed(uint64)", gas_used))
        counter = parent.transaction_context.get_next_log_counter
        parent._log_entries += [(counter(), log.address, tuple(int.from_bytes(t, "big") for t in log.topics),
                                 log.data) for log in tx_logs(computation)]
        return deploy_return(gas_used, address, b"")
    if isinstance(computation.error, Revert):
        return deploy_return(gas_used, bytes(20), abi_error("ExecutionReverted(uint64,bytes)", gas_used,
                                                            computation.output))
    return deploy_return(gas_used, bytes(20), abi_error("ExecutionHalted(uint64)", gas_used))


def _drop_untouched(overlay: Any, loaded_untouched: frozenset[bytes], mark: int, computation: ComputationAPI) -> None:
    """Undo what the sandbox changed in accounts the calling tx holds loaded but untouched (`rex.loaded_untouched`,
    less those the tx changed before the call, `mark`): upstream's merge keeps their untouched status, and a
    commit skips untouched accounts. An account the sandbox created and self-destructed is merged as an empty
    touched account, so its removal stays."""
    if loaded_untouched:
        dropped = set(loaded_untouched) - overlay.changed_accounts(mark) - set(computation.get_accounts_for_deletion())
        overlay.undo_accounts(mark, dropped)
