"""A one-line progress bar on a terminal stream: done/total, blocks/s, ETA (offline runs and catch-up)."""

from __future__ import annotations

import time
from typing import TextIO


class Progress:
    """Redraws `[#####-----] done/total blocks, r blocks/s, ETA s` in place; `finish` ends the line."""

    def __init__(self, total: int, out: TextIO, width: int = 30, label: str = "") -> None:
        self.total = max(0, total)
        self.out = out
        self.width = width
        self.label = label
        self.done = 0
        self.start = time.monotonic()
        self._drawn = False

    @property
    def rate(self) -> float:
        return self.done / max(time.monotonic() - self.start, 1e-9)

    def line(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        filled = min(self.width, int(frac * self.width))
        rate = self.rate
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta_s = f"{eta:.0f} s" if eta != float("inf") else "?"
        prefix = f"{self.label} " if self.label else ""
        return (f"{prefix}[{'#' * filled}{'-' * (self.width - filled)}] {self.done}/{self.total} blocks, "
                f"{rate:.2f} blocks/s, ETA {eta_s}")

    def advance(self, n: int = 1, total: int | None = None) -> None:
        self.done += n
        if total is not None:
            self.total = total
        print("\r" + self.line(), end="", file=self.out, flush=True)
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            print(file=self.out, flush=True)
            self._drawn = False
