"""A fixtures directory in the megaeth-testdata layout (spec/stateless-validator.md §3):
`blocks/<n>.<hash>.json`, `stateless/witness/<n>.<hash>.salt|.mpt`, `contracts.txt`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from eth_hash.auto import keccak

from megaeth_node.types import Block


class FixtureError(ValueError):
    """A fixtures directory that is incomplete or inconsistent; the message names the file."""


@dataclass(frozen=True, slots=True)
class FixtureBlock:
    number: int
    hash: bytes
    block_path: Path
    salt_path: Path | None
    mpt_path: Path | None

    def block(self) -> Block:
        return Block.from_rpc(json.loads(self.block_path.read_text()))


def _code_of(entry: object, line_no: int) -> bytes:
    """The real code of one revm `Bytecode` JSON value (§3.7)."""
    if isinstance(entry, dict) and "LegacyAnalyzed" in entry:
        legacy = entry["LegacyAnalyzed"]
        return bytes.fromhex(legacy["bytecode"][2:])[: int(legacy["original_len"])]
    if isinstance(entry, dict) and "Eip7702" in entry:
        return bytes.fromhex(entry["Eip7702"]["raw"][2:])
    raise FixtureError(f"contracts.txt line {line_no}: unknown bytecode form")


def load_contracts(path: Path) -> dict[bytes, bytes]:
    """code hash → code, each checked against its hash."""
    codes: dict[bytes, bytes] = {}
    for line_no, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        code_hash_hex, entry = json.loads(line)
        code = _code_of(entry, line_no)
        code_hash = bytes.fromhex(code_hash_hex[2:])
        if keccak(code) != code_hash:
            raise FixtureError(f"contracts.txt line {line_no}: keccak(code) != {code_hash_hex}")
        codes[code_hash] = code
    return codes


def fixture_blocks(root: Path) -> list[FixtureBlock]:
    """All blocks of the directory in ascending number, with their witness files when present."""
    if not (root / "blocks").is_dir():
        raise FixtureError(f"{root} has no blocks/ directory")
    witness_dir = root / "stateless" / "witness"
    out = []
    for p in (root / "blocks").glob("*.json"):
        try:
            number_s, hash_s = p.name.split(".")[:2]
            number, block_hash = int(number_s), bytes.fromhex(hash_s[2:])
        except ValueError as e:
            raise FixtureError(f"{p.name}: expected <number>.<0xhash>.json") from e
        stem = f"{number_s}.{hash_s}"
        salt, mpt = witness_dir / f"{stem}.salt", witness_dir / f"{stem}.mpt"
        out.append(FixtureBlock(number, block_hash, p, salt if salt.exists() else None, mpt if mpt.exists() else None))
    out.sort(key=lambda b: b.number)
    for a, b in zip(out, out[1:]):
        if b.number != a.number + 1:
            raise FixtureError(f"blocks are not contiguous: {a.number} then {b.number}")
    return out
