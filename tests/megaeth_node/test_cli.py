"""The `megaeth-node` CLI as a user runs it: help for every subcommand, version, doctor."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from megaeth_node.cli import build_parser, main

SUBCOMMANDS = ["run", "validate", "replay", "aot", "doctor", "version"]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "megaeth_node.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_top_level_help_lists_subcommands() -> None:
    res = _cli("--help")
    assert res.returncode == 0
    for name in SUBCOMMANDS:
        assert name in res.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([name, "--help"])
    assert exc.value.code == 0
    assert f"megaeth-node {name}" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.startswith("megaeth-node ")


def test_doctor_passes() -> None:
    res = _cli("doctor")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "doctor: ok" in res.stdout and "_BitInt(256)" in res.stdout


def test_doctor_fails_clearly_without_compiler() -> None:
    res = _cli("doctor", env={"MEGAETH_CC": "/nonexistent"})
    assert res.returncode != 0
    assert "MEGAETH_CC='/nonexistent'" in res.stdout


def test_bad_config_flag_is_reported(tmp_path: object) -> None:
    res = _cli("run", "--port", "70000")
    assert res.returncode == 2 and "rpc.port out of range" in res.stderr
