"""Structured log lines for the validator: an event name plus key=value fields (logfmt), or one JSON
object per line with `--log-json`. Fields also travel on the record (`record.fields`) for other handlers."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

log = logging.getLogger("megaeth.validator")


def _fmt(v: Any) -> str:
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, float):
        return f"{v:.3f}"
    s = str(v)
    return json.dumps(s) if (" " in s or "=" in s or '"' in s or not s) else s


def event(level: int, name: str, **fields: Any) -> None:
    """Log `name k=v …` at `level`."""
    if log.isEnabledFor(level):
        msg = " ".join([name, *(f"{k}={_fmt(v)}" for k, v in fields.items())])
        log.log(level, msg, extra={"event": name, "fields": fields})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                               "event": getattr(record, "event", record.getMessage())}
        for k, v in getattr(record, "fields", {}).items():
            out[k] = "0x" + v.hex() if isinstance(v, bytes) else v
        return json.dumps(out, default=str)


def configure(stream: TextIO | None = None, as_json: bool = False, level: int = logging.INFO) -> logging.Handler:
    """Attach one handler to the validator logger (the CLI calls this once)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S")
        fmt.converter = time.gmtime
        handler.setFormatter(fmt)
    for old in list(log.handlers):
        log.removeHandler(old)
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
    return handler
