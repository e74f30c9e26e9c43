"""Transcript test vectors (spec/salt.md §6.3, §8; ipa-multipoint transcript.rs tests)."""

from __future__ import annotations

import pytest

from salt.banderwagon import R
from salt.transcript import Transcript


def _hex(scalar: int) -> str:
    return scalar.to_bytes(32, "little").hex()


def test_vector_first_challenge() -> None:
    tr = Transcript(b"simple_protocol")
    assert _hex(tr.challenge(b"simple_challenge")) == (
        "c2aa02607cbdf5595f00ee0dd94a2bbff0bed6a2bf8452ada9011eadb538d003"
    )


def test_vector_after_two_scalars() -> None:
    tr = Transcript(b"simple_protocol")
    tr.append_scalar(b"five", 5)
    tr.append_scalar(b"five again", 5)
    assert _hex(tr.challenge(b"simple_challenge")) == (
        "498732b694a8ae1622d4a9347535be589e4aee6999ffc0181d13fe9e4d037b0b"
    )


def test_vector_domain_separators_and_minus_one() -> None:
    tr = Transcript(b"simple_protocol")
    tr.append_scalar(b"-1", R - 1)
    tr.domain_sep(b"separate me")
    tr.append_scalar(b"-1 again", -1)
    tr.domain_sep(b"separate me again")
    tr.append_scalar(b"now 1", 1)
    assert _hex(tr.challenge(b"simple_challenge")) == (
        "14f59938e9e9b1389e74311a464f45d3d88d8ac96adf1c1129ac466de088d618"
    )


def test_consecutive_challenges_differ_and_state_restarts() -> None:
    tr = Transcript(b"simple_protocol")
    first = tr.challenge(b"simple_challenge")
    assert bytes(tr.state) == b"simple_challenge" + first.to_bytes(32, "little")
    assert tr.challenge(b"simple_challenge") != first


def test_append_point_requires_compressed_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Transcript(b"st").append_point(b"C", b"\x00" * 64)
