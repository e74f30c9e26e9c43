"""`Filter` objects as geth reads them (rpc.methods_logs.parse_filter)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpc.errors import RpcError
from rpc.methods_logs import parse_filter

H1, H2 = "0x" + "11" * 32, "0x" + "22" * 32


@pytest.mark.parametrize("topics, want", [
    ([H1], [[bytes.fromhex("11" * 32)]]),
    ([None, [H1, H2]], [None, [bytes.fromhex("11" * 32), bytes.fromhex("22" * 32)]]),
    ([[None, H1]], [None]),  # a null inside an OR-list: any topic at that position (geth)
    ([[H1, None], H2], [None, [bytes.fromhex("22" * 32)]]),
])
def test_topic_positions(topics: list[object], want: list[object]) -> None:
    assert parse_filter({"topics": topics}, 0).topics == want


@pytest.mark.parametrize("topics", [[1], [[H1, "0x12"]], [H1] * 5, "0x11"])
def test_bad_topics(topics: object) -> None:
    with pytest.raises((RpcError, ValueError)):
        parse_filter({"topics": topics}, 0)


def test_topic_positions_need_as_many_topics_as_the_filter_names() -> None:
    """geth's match: `[Transfer, null, null, null]` wants 4-topic logs (ERC-721 Transfers), not the 3-topic
    ERC-20 ones; the trailing wildcards count as positions."""
    from megaeth_node.store import log_matches
    from megaeth_node.types import Log

    t = bytes.fromhex("11" * 32)
    erc20, erc721 = Log(b"\x01" * 20, (t, t, t), b""), Log(b"\x01" * 20, (t, t, t, t), b"")
    wanted = parse_filter({"topics": [H1, None, None, None]}, 0)
    assert [log_matches(lg, wanted.addresses, wanted.topics) for lg in (erc20, erc721)] == [False, True]
    assert log_matches(erc20, [], parse_filter({"topics": [H1, None, None]}, 0).topics)
    assert not log_matches(erc20, [b"\x02" * 20], [])


def test_filter_changes_start_at_a_later_from_block_and_ids_are_unguessable(tmp_path: Path) -> None:
    """A filter whose fromBlock is still ahead keeps it as its start across polls (geth drops logs below
    fromBlock); filter ids are random 128-bit numbers, not a counter another client could walk; the
    parameterless filters take no parameters."""
    import asyncio

    from eth_account import Account

    from megaeth_node.genesis import dev_accounts, dev_chain
    from megaeth_node.sequencer import Sequencer, SequencerSettings
    from rpc.methods_logs import log_methods

    accounts = dev_accounts()
    node = Sequencer(SequencerSettings(dev_chain(6342), tmp_path, alloc={a.address: 10**24 for a in accounts}))
    m = log_methods(node)

    def block_with_a_log(nonce: int) -> None:
        tx = {"value": 0, "gas": 100_000, "maxFeePerGas": 10**8, "maxPriorityFeePerGas": 10**6, "nonce": nonce,
              "chainId": 6342, "data": bytes.fromhex("60006000a000")}  # initcode: LOG0, no code
        asyncio.run(node.submit(bytes(Account.sign_transaction(tx, accounts[2].private_key).raw_transaction)))
        node._mini_block()
        node._seal()

    fid = asyncio.run(m["eth_newFilter"]([{"fromBlock": "0x2"}]))
    other = asyncio.run(m["eth_newFilter"]([{"fromBlock": "0x2"}]))
    assert int(fid, 16) >= 1 << 127 and abs(int(fid, 16) - int(other, 16)) > 1 << 64
    assert asyncio.run(m["eth_getFilterChanges"]([fid])) == []  # at head 0
    block_with_a_log(0)
    block_with_a_log(1)
    changes = asyncio.run(m["eth_getFilterChanges"]([fid]))
    assert [c["blockNumber"] for c in changes] == ["0x2"]
    for method in ("eth_newBlockFilter", "eth_newPendingTransactionFilter"):
        with pytest.raises(RpcError, match="too many arguments"):
            asyncio.run(m[method](["0x1"]))
    with pytest.raises(RpcError):
        asyncio.run(m["eth_uninstallFilter"]([]))
