"""ethereum/tests fixtures as cases: discovery with readable ids, skips from skips.toml, MPT reference roots.

Ids follow py-evm style without the fork suffix: `<file under GeneralStateTests>::<test>_d{d}g{g}v{v}`
(state tests) and `<file under BlockchainTests>::<test>` (blockchain tests); for execution-spec-tests
fillings `<test>` is the part after the filler path (`test_x[fork_Cancun-…]`). Every skip must be listed with a
reason in `skips.toml`, as must every case run with AOT on (`[[native]]`); an id there that matches no case is
an error (tests/conformance/test_skips.py).
"""

from __future__ import annotations

import functools
import json
import tomllib
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth.abc import SignedTransactionAPI
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.constants import MAX_BLOB_GAS_PER_BLOCK
from eth_hash.auto import keccak
from shared_data import shared_root
from trie import HexaryTrie

from megaeth_node.executor.evm import BlockEnv, new_state
from megaeth_node.executor.state import Account, DictState
from megaeth_node.executor.transact import InvalidTransaction, run_transaction

ROOT = shared_root() / "conformance" / "ethereum-tests"
STATE_DIR = ROOT / "GeneralStateTests"
BLOCKCHAIN_DIR = ROOT / "BlockchainTests"
SKIPS_FILE = Path(__file__).with_name("skips.toml")
FORK = "Cancun"


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    path: Path
    name: str
    index: int  # position in post[FORK] (state tests); 0 for blockchain tests


def load_skips(kind: str = "skip") -> dict[str, str]:
    """`[[kind]] id = … reason = …` entries of skips.toml (kind "skip" or "native"), as id → reason."""
    entries = tomllib.loads(SKIPS_FILE.read_text()).get(kind, [])
    return {e["id"]: e["reason"] for e in entries}


@functools.lru_cache(maxsize=4)
def load_file(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _files(base: Path) -> list[Path]:
    return sorted(base.rglob("*.json")) if base.is_dir() else []


def state_cases() -> Iterator[Case]:
    for path in _files(STATE_DIR):
        rel = path.relative_to(STATE_DIR).as_posix()
        for name, test in json.loads(path.read_text()).items():
            seen: set[str] = set()
            for i, post in enumerate(test["post"].get(FORK, [])):
                ix = post["indexes"]
                case_id = f"{rel}::{name.rpartition('::')[2]}_d{ix['data']}g{ix['gas']}v{ix['value']}"
                if case_id in seen:
                    case_id = f"{case_id}_{i}"
                seen.add(case_id)
                yield Case(case_id, path, name, i)


def blockchain_cases() -> Iterator[Case]:
    for path in _files(BLOCKCHAIN_DIR):
        rel = path.relative_to(BLOCKCHAIN_DIR).as_posix()
        for name, test in json.loads(path.read_text()).items():
            if test["network"] == FORK:
                yield Case(f"{rel}::{name.rpartition('::')[2]}", path, name, 0)


def params(cases: Iterator[Case]) -> list[Any]:
    """pytest params with readable ids; skipped ones carry their skips.toml reason."""
    skips = load_skips()
    return [pytest.param(c, id=c.id, marks=[pytest.mark.skip(reason=skips[c.id])] if c.id in skips else [])
            for c in cases]


def _int(v: str) -> int:
    return int(v, 16)


def _hex(v: str) -> bytes:
    return bytes.fromhex(v[2:])


def pre_state(pre: Mapping[str, Any]) -> DictState:
    """A complete in-memory state from a fixture `pre`; BLOCKHASH(n) = keccak(str(n)) as geth's state tests."""
    accounts: dict[bytes, Account | None] = {}
    storage: dict[tuple[bytes, int], int | None] = {}
    codes: dict[bytes, bytes] = {}
    for addr_hex, a in pre.items():
        addr, code = _hex(addr_hex), _hex(a["code"])
        codes[keccak(code)] = code
        accounts[addr] = Account(_int(a["nonce"]), _int(a["balance"]), keccak(code))
        for slot, value in a["storage"].items():
            if _int(value):
                storage[(addr, _int(slot))] = _int(value)
    return StateTestState(accounts, storage, codes)


class StateTestState(DictState):
    def block_hash(self, number: int) -> bytes:
        return keccak(str(number).encode())


def mpt_state_root(state: DictState) -> bytes:
    """The Ethereum state root (secure MPT of accounts, each with its storage trie root)."""
    slots: dict[bytes, dict[int, int]] = defaultdict(dict)
    for (addr, slot), value in state.storage_map.items():
        if value:
            slots[addr][slot] = value
    accounts = HexaryTrie({})
    for addr, acct in state.accounts.items():
        if acct is None:
            continue
        st = HexaryTrie({})
        for slot, value in slots.get(addr, {}).items():
            st.set(keccak(slot.to_bytes(32, "big")), rlp.encode(value))
        accounts.set(keccak(addr), rlp.encode([acct.nonce, acct.balance, st.root_hash, acct.code_hash]))
    return accounts.root_hash


def logs_hash(logs: Any) -> bytes:
    return keccak(rlp.encode([[lg.address, list(lg.topics), lg.data] for lg in logs]))


EMPTY_LOGS_HASH = logs_hash(())


@dataclass(frozen=True, slots=True)
class StateRun:
    """What a state-test case ran: the decoded transaction (None if undecodable) and whether it was accepted."""

    tx: SignedTransactionAPI | None
    accepted: bool
    pre: DictState


def run_state_case(case: Case, state_class: type) -> StateRun:
    """Execute one GeneralStateTests case on `state_class`; assert the fixture's validity verdict, logs hash
    and post-state root."""
    test = load_file(case.path)[case.name]
    post = test["post"][FORK][case.index]
    env = test["env"]
    reader = pre_state(test["pre"])
    block = BlockEnv(
        chain_id=1, number=_int(env["currentNumber"]), timestamp=_int(env["currentTimestamp"]),
        coinbase=_hex(env["currentCoinbase"]), gas_limit=_int(env["currentGasLimit"]),
        base_fee=_int(env.get("currentBaseFee", "0x0")), prevrandao=_int(env["currentRandom"]).to_bytes(32, "big"),
        excess_blob_gas=_int(env.get("currentExcessBlobGas", "0x0")),
    )
    state = new_state(state_class, reader, block)
    tx = None
    try:
        tx = CancunVM.get_transaction_builder().decode(_hex(post["txbytes"]))
        outcome = run_transaction(CancunVM, state, tx, block.gas_limit, MAX_BLOB_GAS_PER_BLOCK)
    except (InvalidTransaction, rlp.DecodingError, rlp.DeserializationError) as e:
        assert "expectException" in post, f"valid tx rejected: {e}"
        accepted, logs = False, EMPTY_LOGS_HASH
    else:
        accepted, logs = True, logs_hash(outcome.logs)
    assert not ("expectException" in post and accepted), f"invalid tx accepted ({post['expectException']})"
    assert logs.hex() == post["logs"][2:], "logs hash"
    root = mpt_state_root(reader.applied(state.overlay.diff()))
    assert root.hex() == post["hash"][2:], "post state root"
    return StateRun(tx, accepted, reader)


def calls_code(run: StateRun) -> bool:
    """Whether the case's accepted transaction calls an account that has code (so a frame runs it)."""
    if not run.accepted or run.tx is None or not run.tx.to:
        return False
    acct = run.pre.account(bytes(run.tx.to))
    return acct is not None and bool(run.pre.code(acct.code_hash))

