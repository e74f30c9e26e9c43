"""The executor's py-evm transaction objects built from decoded fields equal py-evm's own decoding of the bytes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from megaeth_node.executor.block import _TX_BUILDER, _from_fields, signed_evm_transaction
from megaeth_node.types import DYNAMIC_FEE_TX_TYPE, LEGACY_TX_TYPE, SET_CODE_TX_TYPE, Authorization, Transaction

U64, U256 = st.integers(0, 2**64 - 1), st.integers(0, 2**256 - 1)
TO = st.none() | st.binary(min_size=20, max_size=20)
KEYS = st.lists(st.binary(min_size=32, max_size=32), max_size=3).map(tuple)
ACCESS = st.lists(st.tuples(st.binary(min_size=20, max_size=20), KEYS), max_size=2).map(tuple)


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    kind = draw(st.sampled_from([LEGACY_TX_TYPE, DYNAMIC_FEE_TX_TYPE, SET_CODE_TX_TYPE]))
    common = dict(nonce=draw(U64), gas=draw(U64), value=draw(U256), data=draw(st.binary(max_size=300)),
                  r=draw(U256), s=draw(U256))
    if kind == LEGACY_TX_TYPE:
        chain_id = draw(st.none() | st.integers(1, 2**32))
        v = draw(st.sampled_from([27, 28])) if chain_id is None else chain_id * 2 + 35 + draw(st.integers(0, 1))
        return Transaction(type=kind, to=draw(TO), chain_id=chain_id, gas_price=draw(U256), v=v, **common)
    auths = ()
    to = draw(TO)
    if kind == SET_CODE_TX_TYPE:
        to = draw(st.binary(min_size=20, max_size=20))
        auths = (Authorization(draw(U64), draw(st.binary(min_size=20, max_size=20)), draw(U64), 1, draw(U256),
                               draw(U256)),)
    return Transaction(type=kind, to=to, chain_id=draw(st.integers(1, 2**32)), max_priority_fee_per_gas=draw(U256),
                       max_fee_per_gas=draw(U256), access_list=draw(ACCESS), authorization_list=auths,
                       v=draw(st.integers(0, 1)), **common)


@settings(max_examples=400, deadline=None)
@given(transactions(), st.binary(min_size=20, max_size=20))
def test_built_transaction_equals_decoded(tx: Transaction, sender: bytes) -> None:
    raw = tx.encode()
    decoded = _TX_BUILDER.decode(raw)
    built = signed_evm_transaction(raw, sender, Transaction.decode(raw))
    assert type(built) is type(decoded) and built == decoded
    assert built.encode() == raw and built.hash == decoded.hash
    assert (built.to, built.data, built.value, built.gas, built.nonce) == \
        (decoded.to, decoded.data, decoded.value, decoded.gas, decoded.nonce)
    assert built.sender == sender and built.intrinsic_gas == decoded.intrinsic_gas
    fast = tx.type == LEGACY_TX_TYPE or (tx.type == DYNAMIC_FEE_TX_TYPE and not tx.access_list)
    assert (_from_fields(tx) is not None) == fast
