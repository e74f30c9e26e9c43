"""skips.toml stays honest: every entry names an existing case and gives a reason."""

from __future__ import annotations

from pathlib import Path

from conformance.ethtests import blockchain_cases, load_skips, state_cases


def test_every_skip_names_a_case_and_has_a_reason(conformance: Path) -> None:
    ids = {c.id for c in state_cases()} | {c.id for c in blockchain_cases()}
    for case_id, reason in (load_skips("skip") | load_skips("native")).items():
        assert case_id in ids, f"skips.toml: no such case {case_id!r}"
        assert reason.strip(), f"skips.toml: {case_id!r} has no reason"
