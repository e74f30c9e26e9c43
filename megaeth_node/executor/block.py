"""`apply_block`: execute a MegaETH block over a `StateReader` (spec/mega-evm.md §8, §7; stateless-validator.md §6).

Order per block: EIP-2935 and EIP-4788 pre-block system calls, then each transaction in order (deposits and
Mega system txs fee-less, others paying L1 data fee and operator fee), receipts with cumulative gas. No
post-block rewards or withdrawals on OP. The state root is not computed here: the caller applies
`BlockResult.state_diff` to its backend (SALT root, stateless-validator.md §7).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth.abc import ComputationAPI, SignedTransactionAPI, StateAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.exceptions import InsufficientFunds as OutOfFunds
from eth.vm.forks.london.transactions import DynamicFeeTransaction
from eth_typing import Address
from gas.limits import BlockLimitReached, BlockUsage, add_tx_to_block, block_full, check_block_room
from gas.spec import ChainConfig, spec_at
from gas.system import (
    BEACON_ROOTS_ADDRESS,
    DEPOSIT_RECEIPT_VERSION,
    HISTORY_SERVE_WINDOW,
    HISTORY_STORAGE_ADDRESS,
    InvalidSystemTx,
    is_mega_system_tx,
    system_contract_code_hashes,
)

from megaeth_node.executor.evm import BlockEnv, new_state
from megaeth_node.executor.native import with_native
from megaeth_node.executor.op import DepositTransaction, OpVM, load_l1_fee_params, with_sender
from megaeth_node.executor.rex_native import interpreted_on_abort
from megaeth_node.executor.rules import IsthmusRules, rules_for
from megaeth_node.executor.state import KECCAK_EMPTY, StateDiff, StateReader
from megaeth_node.executor.transact import InvalidTransaction, TxOutcome, run_transaction
from megaeth_node.executor.transfer import is_transfer_shape, run_transfer
from megaeth_node.types import (
    DEPOSIT_TX_TYPE, DYNAMIC_FEE_TX_TYPE, LEGACY_TX_TYPE, Block, Header, Log, Receipt, Transaction, logs_bloom,
)

BEACON_ROOTS_BUFFER = 8191


class InvalidBlock(ValueError):
    """The block cannot be executed as given (an invalid transaction, a missing beacon root…)."""


@dataclass(frozen=True, slots=True)
class BlockResult:
    receipts: tuple[Receipt, ...]
    gas_used: int
    state_diff: StateDiff
    logs_bloom: bytes


def block_env(header: Header, chain_id: int) -> BlockEnv:
    """The EVM environment of a block (stateless-validator.md §4.2)."""
    return BlockEnv(
        chain_id=chain_id, number=header.number, timestamp=header.timestamp, coinbase=header.coinbase,
        gas_limit=header.gas_limit, base_fee=header.base_fee_per_gas or 0, prevrandao=header.mix_hash,
        excess_blob_gas=header.excess_blob_gas or 0, parent_hash=header.parent_hash,
        parent_beacon_block_root=header.parent_beacon_block_root,
    )


def pre_block_system_calls(state: StateAPI, header: Header) -> None:
    """EIP-2935 (parent hash into the history contract) and EIP-4788 (beacon root), as their storage
    writes (spec/mega-evm.md §8 steps 2–3, §10): skipped when the contract has no code."""
    if header.number > 0 and state.get_code_hash(Address(HISTORY_STORAGE_ADDRESS)) != KECCAK_EMPTY:
        slot = (header.number - 1) % HISTORY_SERVE_WINDOW
        state.set_storage(Address(HISTORY_STORAGE_ADDRESS), slot, int.from_bytes(header.parent_hash, "big"))
    if header.parent_beacon_block_root is None:
        raise InvalidBlock(f"block {header.number} has no parentBeaconBlockRoot (EIP-4788)")
    if state.get_code_hash(Address(BEACON_ROOTS_ADDRESS)) != KECCAK_EMPTY:
        slot = header.timestamp % BEACON_ROOTS_BUFFER
        state.set_storage(Address(BEACON_ROOTS_ADDRESS), slot, header.timestamp)
        state.set_storage(Address(BEACON_ROOTS_ADDRESS), slot + BEACON_ROOTS_BUFFER,
                          int.from_bytes(header.parent_beacon_block_root, "big"))


def install_system_contracts(state: StateAPI, contracts: tuple[tuple[bytes, bytes], ...]) -> None:
    """§8 steps 4–6 (mega-evm `system/oracle.rs`, `system/keyless_deploy.rs`): a system contract whose code hash
    is not the expected one gets that code, keeping balance and nonce, as a created account, which clears its
    storage (revm `mark_created`; mainnet's oracle storage was cleared so at the Rex2 upgrade, mega-evm
    b01e0a3). The code is looked up by hash when it runs."""
    for address, code_hash in contracts:
        if state.get_code_hash(Address(address)) != code_hash:
            state.overlay.replace_code(address, code_hash)  # type: ignore[attr-defined]


def evm_transaction(tx: Transaction, sender: bytes, rules: IsthmusRules) -> SignedTransactionAPI:
    """The py-evm form of `tx`: deposits and Mega system txs become fee-less `DepositTransaction`s (§7.2–7.3);
    a signed tx carries its EIP-2718 bytes as `_encoded` (the L1 data fee input)."""
    to = Address(tx.to) if tx.to else CREATE_CONTRACT_ADDRESS
    try:  # before_run: from MiniRex on, any tx from the system address, a deposit too, must be a system tx
        system = is_mega_system_tx(rules.spec, sender, tx.type, tx.to)
    except InvalidSystemTx as e:
        raise InvalidTransaction(str(e)) from e
    if tx.type == DEPOSIT_TX_TYPE:
        return DepositTransaction(Address(sender), to, tx.value, tx.data, tx.gas, tx.mint, tx.nonce, tx.hash)
    if system:
        return DepositTransaction(Address(sender), to, tx.value, tx.data, tx.gas, 0, tx.nonce, tx.hash)
    return signed_evm_transaction(tx.encode(), sender, tx)


_TX_BUILDER = OpVM.get_transaction_builder()
_LEGACY_TX = _TX_BUILDER.legacy_signed
_TYPED_TX = _TX_BUILDER.typed_transaction


def _from_fields(tx: Transaction) -> SignedTransactionAPI | None:
    """py-evm's object for a legacy or access-list-free EIP-1559 tx, built from its decoded fields (~2 us against
    ~30 us to decode the bytes again); None for the other kinds, which py-evm decodes."""
    to = tx.to or b""
    if tx.type == LEGACY_TX_TYPE:
        return _LEGACY_TX(tx.nonce, tx.gas_price, tx.gas, to, tx.value, tx.data, tx.v, tx.r, tx.s)
    if tx.type == DYNAMIC_FEE_TX_TYPE and not tx.access_list:
        return _TYPED_TX(DYNAMIC_FEE_TX_TYPE, DynamicFeeTransaction(
            tx.chain_id, tx.nonce, tx.max_priority_fee_per_gas, tx.max_fee_per_gas, tx.gas, to, tx.value, tx.data,
            (), tx.v, tx.r, tx.s))
    return None


def signed_evm_transaction(encoded: bytes, sender: bytes, decoded: Transaction | None = None) -> SignedTransactionAPI:
    """py-evm's form of a signed tx whose signer `sender` the caller has already recovered
    (`verify_block_integrity`, the sequencer's intake): py-evm's lazy recovery would repeat that work. With
    `decoded` (the same tx, already decoded from `encoded`) common kinds skip py-evm's decoding."""
    evm_tx = (decoded is not None and _from_fields(decoded)) or _TX_BUILDER.decode(encoded)
    return with_sender(evm_tx, sender, encoded)


def _failed_deposit(state: StateAPI, tx: DepositTransaction) -> None:
    """op-revm `catch_error`: a deposit failing validation, or whose top frame cannot pay its value (py-evm
    raises where revm halts with OutOfFunds, which a deposit turns into an error), is included as failed,
    keeping its mint and nonce bump (§7.3)."""
    state.lock_changes()
    if tx.mint:
        state.delta_balance(tx.sender, tx.mint)
    state.increment_nonce(tx.sender)


class BlockFull(InvalidTransaction):
    """The block has no room for the transaction: a block limit is used up (§4.7 `pre_execution_check`)."""


class OpenBlock:
    """A block being executed transaction by transaction (the sequencer's mini-blocks, or `apply_block`)."""

    def __init__(self, state: StateReader, header: Header, chain: ChainConfig,
                 rules: IsthmusRules | None = None, frames: bool = False) -> None:
        """`frames`: run every tx through the EVM, plain transfers too, so that `last_computation` is
        always set (call tracing)."""
        self.header = header
        self.frames = frames
        self.rules = rules or rules_for(spec_at(chain.forks, header.timestamp))
        self.evm_state = new_state(with_native(self.rules.state_class), state, block_env(header, chain.chain_id))
        pre_block_system_calls(self.evm_state, header)
        if chain.system_contracts:
            install_system_contracts(self.evm_state, system_contract_code_hashes(chain.forks, header.timestamp))
        self.rules.after_system_calls(self.evm_state)
        self.rex = getattr(self.evm_state, "rex", None)  # the MegaETH meters (None under plain Isthmus)
        self.receipts: list[Receipt] = []
        self.cumulative = 0
        self.usage = BlockUsage()  # what the block limiter counts (MegaETH rules only)
        self._fee_params_loaded = False
        self.last_computation: ComputationAPI | None = None  # the last executed tx's top frame (for tracers)

    @property
    def full(self) -> bool:
        """A block limit other than gas is used up: no further transaction may start (§4.7)."""
        return self.rex is not None and block_full(self.rex.spec, self.usage)

    def execute(self, tx: Transaction, sender: bytes) -> Receipt:
        """Run one transaction; an invalid one raises `InvalidTransaction` and changes nothing (deposits
        excepted: a failing deposit is included as failed, §7.3), one the block has no room for `BlockFull`."""
        rex, before = self.rex, self.cumulative
        if rex is not None:
            try:
                check_block_room(rex.spec, self.usage, self.header.gas_limit, tx.gas)
            except BlockLimitReached as e:
                raise BlockFull(str(e)) from e
        receipt = self._execute(tx, sender)
        if rex is not None:  # what the tx used counts even past a limit: the next tx is refused then
            self.usage = add_tx_to_block(self.usage, self.cumulative - before, rex.meter.usage(), rex.compute_used)
        return receipt

    def _execute(self, tx: Transaction, sender: bytes) -> Receipt:
        evm_state, rules = self.evm_state, self.rules
        if not self.frames and is_transfer_shape(tx, sender, rules):
            self._load_fee_params()
            gas_used = run_transfer(evm_state, rules, tx, sender,  # type: ignore[arg-type]
                                    self.header.gas_limit - self.cumulative)
            if gas_used is not None:
                self.last_computation = None
                return self._receipt(tx, 1, gas_used, (), None)
        evm_tx = evm_transaction(tx, sender, rules)
        if not isinstance(evm_tx, DepositTransaction):
            self._load_fee_params()
        deposit_nonce = evm_state.get_nonce(Address(sender)) if tx.type == DEPOSIT_TX_TYPE else None
        try:
            outcome = self._run(evm_tx)
            status, gas_used, logs = outcome.status, outcome.gas_used, outcome.logs
            self.last_computation = outcome.computation
        except (InvalidTransaction, OutOfFunds):  # the latter: a deposit's value over its balance and mint
            if not isinstance(evm_tx, DepositTransaction):  # deposits and Mega system txs fail, included
                raise
            _failed_deposit(evm_state, evm_tx)  # type: ignore[arg-type]
            status, gas_used, logs = 0, tx.gas, ()
            self.last_computation = None
        return self._receipt(tx, status, gas_used, logs, deposit_nonce)

    def _receipt(self, tx: Transaction, status: int, gas_used: int, logs: tuple[Log, ...],
                 deposit_nonce: int | None) -> Receipt:
        """The executed tx's receipt, with the block's gas so far; appended to the block's receipts."""
        self.cumulative += gas_used
        receipt = Receipt(tx.type, status, self.cumulative, logs, deposit_nonce,
                          DEPOSIT_RECEIPT_VERSION if tx.type == DEPOSIT_TX_TYPE else None)
        self.receipts.append(receipt)
        return receipt

    def _load_fee_params(self) -> None:
        """Before the block's first fee-paying tx (`load_l1_fee_params`)."""
        if not self._fee_params_loaded:
            self.evm_state.l1_fee_params = load_l1_fee_params(self.evm_state)  # type: ignore[attr-defined]
            self._fee_params_loaded = True

    def _run(self, evm_tx: SignedTransactionAPI) -> TxOutcome:
        """Run the transaction, again interpreted if a native frame asks for it (`interpreted_on_abort`)."""
        evm_state, rules = self.evm_state, self.rules
        gas_available = self.header.gas_limit - self.cumulative

        def run() -> TxOutcome:
            rules.before_transaction(evm_state, evm_tx)
            return run_transaction(rules.vm_class, evm_state, evm_tx, gas_available, 0)

        return interpreted_on_abort(evm_state, run)

    def finish(self) -> BlockResult:
        """The block's receipts, gas and state diff relative to block start."""
        overlay = self.evm_state.overlay  # type: ignore[attr-defined]
        return BlockResult(tuple(self.receipts), self.cumulative, overlay.diff(),
                           logs_bloom(lg for r in self.receipts for lg in r.logs))


def apply_block(state: StateReader, block: Block, chain: ChainConfig,
                rules: IsthmusRules | None = None) -> BlockResult:
    """Execute `block` over block-start `state`; raises `InvalidBlock` if a non-deposit tx is invalid."""
    run = OpenBlock(state, block.header, chain, rules)
    for i, (tx, sender) in enumerate(zip(block.transactions, block.senders, strict=True)):
        try:
            run.execute(tx, sender)
        except InvalidTransaction as e:
            raise InvalidBlock(f"block {block.header.number} tx {i} ({tx.hash.hex()}): {e}") from e
    return run.finish()
