"""Where the read-only shared data lives (`$MEGAETH_SHARED` or `../shared`), importable by any test module.

Under CI (`CI=true`) a missing fixture directory fails the test; elsewhere it skips with a reason
that names the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_root() -> Path:
    return Path(os.environ.get("MEGAETH_SHARED") or REPO.parent / "shared").resolve()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_shared(name: str) -> Path:
    """The shared sub-directory `name`; fail under CI, skip elsewhere, when it is missing."""
    path = shared_root() / name
    if not path.is_dir():
        msg = f"shared fixtures {path} not found (set MEGAETH_SHARED to the shared/ directory)"
        if in_ci():
            pytest.fail(msg)
        pytest.skip(msg)
    return path
