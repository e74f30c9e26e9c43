"""Fiat-Shamir transcript of the IPA multiproof (spec/salt.md §6.3; ipa-multipoint transcript.rs).

The state is a growing byte string started with a label; labels are raw bytes without length
prefixes; a challenge hashes the state with SHA-256, clears it, and re-appends itself as a scalar.
Points enter as their 32-byte compressed (big-endian) encoding, scalars as 32 bytes little-endian.
"""

from __future__ import annotations

import hashlib

from salt.banderwagon import R


class Transcript:
    """spec §6.3: `Transcript(label)`; `domain_sep`, `append_scalar`, `append_point`, `challenge`."""

    __slots__ = ("state",)

    def __init__(self, label: bytes) -> None:
        self.state = bytearray(label)

    def domain_sep(self, label: bytes) -> None:
        self.state += label

    def append_raw(self, data: bytes) -> None:
        """Append pre-formatted bytes (e.g. the 99-byte multiproof query records, spec §6.4)."""
        self.state += data

    def append_scalar(self, label: bytes, scalar: int) -> None:
        self.state += label
        self.state += (scalar % R).to_bytes(32, "little")

    def append_point(self, label: bytes, compressed: bytes) -> None:
        if len(compressed) != 32:
            raise ValueError(f"compressed point must be 32 bytes, got {len(compressed)}")
        self.state += label
        self.state += compressed

    def challenge(self, label: bytes) -> int:
        """`LE(SHA256(state ‖ label)) mod r`; the state restarts as `label ‖ LE32(challenge)`."""
        self.state += label
        c = int.from_bytes(hashlib.sha256(self.state).digest(), "little") % R
        self.state = bytearray()
        self.append_scalar(label, c)
        return c
