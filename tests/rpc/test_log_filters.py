"""`Filter` objects as geth reads them (rpc.methods_logs.parse_filter)."""

from __future__ import annotations

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
