"""Executor throughput: our MegaETH executor (Rex rules, OP fees) vs unmodified py-evm (Prague), same run.

Three workloads of pre-signed transactions: plain transfers, ERC-20-style token transfers (2 SLOAD,
2 SSTORE, LOG3) and a storage-heavy call (10 fresh slots per call). Prints a table and writes JSON
with --json PATH: transfers_per_s, erc20_per_s, storage_heavy_per_s, the pyevm_* counterparts,
overhead_pct (how much slower ours is than py-evm, geometric mean over the three; negative = faster),
the isthmus_* rates (our executor with the plain OP Isthmus rule set: py-evm's interpreter loop, no Rex)
and rex_over_isthmus_pct (what the Rex rules cost over that base). Under Rex a plain transfer runs without
the EVM frame machinery (`executor.transfer`); transfers_evm_per_s is the same workload through the EVM.

Rates are transactions per CPU second of this process (`time.process_time`), so a loaded machine
slows both sides alike instead of whichever run a neighbour happened to preempt; `load_avg_1m` is noted.

    .venv/bin/python benchmarks/executor_bench.py --txs 2000 --json benchmarks/out/executor.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague import PragueVM
from eth_account import Account as EthAccount
from eth_hash.auto import keccak
from eth_typing import Address
from eth_utils import to_checksum_address

from gas.spec import TESTNET
from megaeth_node.executor.block import OpenBlock
from megaeth_node.executor.rules import IsthmusRules
from megaeth_node.executor.state import Account, DictState
from megaeth_node.genesis import dev_accounts, genesis_header
from megaeth_node.types import Transaction

CHAIN_ID = 6342
BASE_FEE = 1_000_000
TRANSFER_TOPIC = keccak(b"Transfer(address,address,uint256)")
# calldata (to, amount): balance[caller] -= amount (revert if short); balance[to] += amount; LOG3(Transfer)
TOKEN = bytes.fromhex("6020353354818110604757819003335560003580548201905560005260003533"
                      "7f" + TRANSFER_TOPIC.hex() + "60206000a3005b600080fd")
# calldata (base): for i in 0..9: SSTORE(base + i, i + 1) — PUSH1 0 CALLDATALOAD, PUSH1 0, JUMPDEST(5),
# DUP1 PUSH1 1 ADD, DUP2 DUP4 ADD, SSTORE, PUSH1 1 ADD, DUP1 PUSH1 10 GT, PUSH1 5 JUMPI, STOP
STORAGE_HEAVY = bytes.fromhex("600035" "6000" "5b" "80600101" "818301" "55" "600101" "80600a11" "600557" "00")
TOKEN_ADDR, HEAVY_ADDR = b"\x70" * 20, b"\x71" * 20


def workloads(n: int) -> dict[str, list[tuple[bytes, bytes]]]:
    """(raw tx, sender) lists; senders are the dev accounts, nonces sequential per sender."""
    accts = dev_accounts()
    nonces = {a.address: 0 for a in accts}

    def sign(i: int, to: bytes, data: bytes, gas: int) -> tuple[bytes, bytes]:
        a = accts[i % len(accts)]
        tx = {"to": to_checksum_address(to), "value": 1 if not data else 0, "data": data, "gas": gas, "chainId": CHAIN_ID,
              "maxFeePerGas": 10 * BASE_FEE, "maxPriorityFeePerGas": BASE_FEE, "nonce": nonces[a.address]}
        nonces[a.address] += 1
        return bytes(EthAccount.sign_transaction(tx, a.private_key).raw_transaction), a.address

    specs: dict[str, Callable[[int], tuple[bytes, bytes, int]]] = {
        "transfers": lambda i: ((0x10000 + i % 1000).to_bytes(20, "big"), b"", 100_000),  # past the precompiles
        "erc20": lambda i: (TOKEN_ADDR, (i % 1000 + 1).to_bytes(32, "big") + (1).to_bytes(32, "big"), 200_000),
        "storage_heavy": lambda i: (HEAVY_ADDR, (i * 16).to_bytes(32, "big"), 1_500_000),
    }
    out = {}
    for name, spec in specs.items():
        nonces.update({a.address: 0 for a in accts})  # each workload runs on a fresh state
        out[name] = [sign(i, *spec(i)) for i in range(n)]
    return out


def _alloc() -> tuple[dict[bytes, Account], dict[tuple[bytes, int], int], dict[bytes, bytes]]:
    heavy = STORAGE_HEAVY
    accounts = {a.address: Account(0, 10**24) for a in dev_accounts()}
    accounts[TOKEN_ADDR] = Account(1, 0, keccak(TOKEN))
    accounts[HEAVY_ADDR] = Account(1, 0, keccak(heavy))
    storage = {(TOKEN_ADDR, int.from_bytes(a.address, "big")): 10**30 for a in dev_accounts()}
    return accounts, storage, {keccak(TOKEN): TOKEN, keccak(heavy): heavy}


def run_ours(txs: list[tuple[bytes, bytes]], rules: IsthmusRules | None = None, frames: bool = False) -> float:
    accounts, storage, codes = _alloc()
    state = DictState(accounts, storage, codes, {0: b"\0" * 32})
    header = replace(genesis_header(b"\0" * 32, int(time.time()), 2_000_000_000, BASE_FEE), number=1)
    decoded = [(Transaction.decode(raw), sender) for raw, sender in txs]
    run = OpenBlock(state, header, TESTNET, rules, frames)
    start = time.process_time()
    for tx, sender in decoded:
        assert run.execute(tx, sender).status == 1
    return len(decoded) / (time.process_time() - start)


def run_isthmus(txs: list[tuple[bytes, bytes]]) -> float:
    return run_ours(txs, IsthmusRules())


def run_ours_evm(txs: list[tuple[bytes, bytes]]) -> float:
    """Ours with every tx through the EVM, plain transfers too (`OpenBlock(frames=True)`)."""
    return run_ours(txs, frames=True)


def run_pyevm(txs: list[tuple[bytes, bytes]]) -> float:
    accounts, storage, codes = _alloc()
    genesis_state = {
        Address(addr): {"balance": a.balance, "nonce": a.nonce, "code": codes.get(a.code_hash, b""),
                        "storage": {slot: v for (owner, slot), v in storage.items() if owner == addr}}
        for addr, a in accounts.items()}
    params = {"difficulty": 0, "gas_limit": 2_000_000_000, "timestamp": int(time.time()),
              "base_fee_per_gas": BASE_FEE, "coinbase": Address(b"\x42" * 20), "nonce": b"\0" * 8,
              "mix_hash": b"\0" * 32, "extra_data": b""}
    chain_class = MiningChain.configure(vm_configuration=((0, PragueVM),), chain_id=CHAIN_ID)
    chain = chain_class.from_genesis(AtomicDB(), params, genesis_state)
    vm = chain.get_vm()
    builder = vm.get_transaction_builder()
    decoded = [builder.decode(raw) for raw, _ in txs]
    state = vm.state
    start = time.process_time()
    for tx in decoded:
        state.lock_changes()
        assert not state.apply_transaction(tx).is_error
    return len(decoded) / (time.process_time() - start)


def best_of(fn: Callable[[list[tuple[bytes, bytes]]], float], txs: list[tuple[bytes, bytes]], runs: int) -> float:
    return max(fn(txs) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--txs", type=int, default=1000, help="transactions per workload")
    parser.add_argument("--runs", type=int, default=3, help="best of N runs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    loads = workloads(args.txs)
    result: dict[str, float] = {}
    print(f"{'workload':<14} {'ours tx/s':>10} {'py-evm tx/s':>12} {'ours/py-evm':>12} {'isthmus tx/s':>13}")
    ratios, rex_costs = [], []
    for name, txs in loads.items():
        ours, ref = best_of(run_ours, txs, args.runs), best_of(run_pyevm, txs, args.runs)
        base = best_of(run_isthmus, txs, args.runs)
        result[f"{name}_per_s"], result[f"pyevm_{name}_per_s"] = round(ours, 1), round(ref, 1)
        result[f"isthmus_{name}_per_s"] = round(base, 1)
        if name == "transfers":
            result["transfers_evm_per_s"] = round(best_of(run_ours_evm, txs, args.runs), 1)
        ratios.append(ours / ref)
        rex_costs.append(ours / base)
        print(f"{name:<14} {ours:>10.0f} {ref:>12.0f} {ours / ref:>12.2f} {base:>13.0f}")
    result["overhead_pct"] = round((1 / math.prod(ratios) ** (1 / len(ratios)) - 1) * 100, 1)
    result["rex_over_isthmus_pct"] = round((1 / math.prod(rex_costs) ** (1 / len(rex_costs)) - 1) * 100, 1)
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(f"overhead of the MegaETH rules: {result['overhead_pct']}% vs py-evm, "
          f"{result['rex_over_isthmus_pct']}% vs our Isthmus base (geometric means; CPU time; "
          f"load {result['load_avg_1m']})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
