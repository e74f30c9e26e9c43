"""OP executor helpers against the py-evm code they stand for."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.vm.computation import BaseComputation
from eth.vm.forks.spurious_dragon._utils import collect_touched_accounts
from hypothesis import given, settings
from hypothesis import strategies as st

from megaeth_node.executor.op import _deleted_and_touched

ADDRESSES = [CREATE_CONTRACT_ADDRESS] + [bytes(19) + bytes([i]) for i in range(1, 6)]  # 0x..03: RIPEMD160
COINBASE = b"\xc0" * 20


@dataclass
class Frame:
    """The parts of a py-evm computation that EIP-161 clearing and SELFDESTRUCT deletion read."""

    msg: Any
    is_error: bool
    children: list[Frame] = field(default_factory=list)
    accounts_to_delete: list[bytes] = field(default_factory=list)
    beneficiaries: list[bytes] = field(default_factory=list)
    state: Any = field(default_factory=lambda: SimpleNamespace(coinbase=COINBASE))

    get_accounts_for_deletion = BaseComputation.get_accounts_for_deletion
    get_self_destruct_beneficiaries = BaseComputation.get_self_destruct_beneficiaries


def frames(depth: int = 3) -> st.SearchStrategy[Frame]:
    address = st.sampled_from(ADDRESSES)
    children = st.lists(frames(depth - 1), max_size=3) if depth else st.just([])
    no_destruct: st.SearchStrategy[tuple[list[bytes], list[bytes]]] = st.just(([], []))
    destruct = st.tuples(address, address).map(lambda pair: ([pair[0]], [pair[1]]))
    return st.builds(lambda to, error, kids, sd: Frame(SimpleNamespace(to=to), error, kids, *sd),
                     address, st.booleans(), children, st.one_of(no_destruct, destruct))


@settings(max_examples=300, deadline=None)
@given(frames())
def test_deleted_and_touched_match_py_evm(tree: Frame) -> None:
    """Failed frames, their descendants, RIPEMD160 and creates: the one-walk result is py-evm's."""
    deleted, touched = _deleted_and_touched(tree)  # type: ignore[arg-type]
    assert sorted(deleted) == sorted(tree.get_accounts_for_deletion())
    assert touched == collect_touched_accounts(tree)  # type: ignore[arg-type]
