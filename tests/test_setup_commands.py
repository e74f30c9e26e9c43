"""The README's two set-up commands, the Makefile behind them and `.ci/run` agree: CI runs the README's test
command, and each command sets up everything first (venv, the package with its test extras, a C compiler)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from shared_data import REPO


def _readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Set-up: two commands", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "the set-up section has no sh block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_has_exactly_two_setup_commands() -> None:
    assert _readme_commands() == ["make run", "make test"]


def test_ci_runs_the_readmes_test_command() -> None:
    script = (REPO / ".ci" / "run").read_text()
    assert "export CI=true" in script
    assert re.search(r"^make test\b", script, re.M), script


@pytest.mark.parametrize("command", ["make run", "make test"])
def test_each_command_sets_up_everything_first(command: str) -> None:
    """`make -n -B` prints what a fresh clone would run, in order: the venv, the package with its test extras,
    the compiler installer, then the command's own work."""
    if shutil.which("make") is None:
        pytest.fail("make is not installed; the README's commands need it")
    target = command.split()[1]
    out = subprocess.run(["make", "-n", "-B", target], cwd=REPO, capture_output=True, text=True, check=True,
                         timeout=60).stdout
    steps = ["-m venv", "pip install -q -e '.[test]'", "-m aot.toolchain --install",
             "megaeth-node run" if target == "run" else "-m pytest"]
    found = [out.find(step) for step in steps]
    assert all(i >= 0 for i in found) and found == sorted(found), out
