"""Node configuration: one frozen section per subsystem; defaults < TOML file < `MEGAETH_*` env < flags.

This module is the only place that defines settings. A setting `section.field` is written
`[section] field = ...` in TOML, `MEGAETH_SECTION_FIELD` in the environment, and set by a CLI flag
through `load_config(overrides={"section.field": value})`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


def default_data_dir() -> Path:
    """The per-user data directory: `$XDG_DATA_HOME/megaeth-node` or `~/.local/share/megaeth-node`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "megaeth-node"


@dataclass(frozen=True, slots=True)
class NodeConfig:
    data_dir: Path = field(default_factory=default_data_dir)
    ephemeral: bool = False
    chain_id: int = 6342
    block_time_ms: int = 1000
    mini_block_ms: int = 10


@dataclass(frozen=True, slots=True)
class RpcConfig:
    host: str = "127.0.0.1"
    port: int = 8545
    cors_origins: str = ""


@dataclass(frozen=True, slots=True)
class ValidatorConfig:
    rpc_url: str = ""
    chain: str = "testnet"  # fork schedule of the chain being validated: testnet | mainnet | dev
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    metrics_port: int = 0


@dataclass(frozen=True, slots=True)
class AotConfig:
    mode: str = "auto"  # off | auto | always
    compile_timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class Config:
    node: NodeConfig = field(default_factory=NodeConfig)
    rpc: RpcConfig = field(default_factory=RpcConfig)
    validator: ValidatorConfig = field(default_factory=ValidatorConfig)
    aot: AotConfig = field(default_factory=AotConfig)


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message names the source and the key."""


AOT_MODES = ("off", "auto", "always")
CHAINS = ("testnet", "mainnet", "dev")


def _coerce(kind: Any, raw: Any, where: str) -> Any:
    """Convert `raw` (a TOML value or an env string) to the field type `kind`."""
    try:
        if kind in (bool, "bool"):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"not a boolean: {raw!r}")
        if kind in (int, "int"):
            if isinstance(raw, bool):
                raise ValueError(f"not an integer: {raw!r}")
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        if kind in (Path, "Path"):
            return Path(str(raw)).expanduser()
        return str(raw)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from e


def _apply(cfg: Config, values: Mapping[str, Any], source: str) -> Config:
    """Return `cfg` with `section.field` values from `source` applied."""
    sections = {f.name: f for f in fields(Config)}
    for key, raw in values.items():
        section, _, name = key.partition(".")
        if section not in sections:
            raise ConfigError(f"{source}: unknown section {section!r} (known: {', '.join(sections)})")
        current = getattr(cfg, section)
        known = {f.name: f for f in fields(current)}
        if name not in known:
            raise ConfigError(f"{source}: unknown key {key!r} (known in [{section}]: {', '.join(known)})")
        value = _coerce(known[name].type, raw, f"{source} {key}")
        cfg = replace(cfg, **{section: replace(current, **{name: value})})
    return cfg


def _toml_values(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"config file {path}: {e}") from e
    out: dict[str, Any] = {}
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"config file {path}: {section!r} must be a [section] table")
        out.update({f"{section}.{k}": v for k, v in table.items()})
    return out


def _env_values(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sec in fields(Config):
        for f in fields(sec.default_factory()):  # type: ignore[misc]
            name = f"MEGAETH_{sec.name}_{f.name}".upper()
            if name in env:
                out[f"{sec.name}.{f.name}"] = env[name]
    return out


def _validate(cfg: Config) -> Config:
    if cfg.aot.mode not in AOT_MODES:
        raise ConfigError(f"aot.mode must be one of {', '.join(AOT_MODES)}, not {cfg.aot.mode!r}")
    if not 0 <= cfg.rpc.port <= 65535:
        raise ConfigError(f"rpc.port out of range: {cfg.rpc.port}")
    if cfg.validator.chain not in CHAINS:
        raise ConfigError(f"validator.chain must be one of {', '.join(CHAINS)}, not {cfg.validator.chain!r}")
    if cfg.validator.workers < 1:
        raise ConfigError(f"validator.workers must be >= 1, not {cfg.validator.workers}")
    return cfg


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> Config:
    """Build the configuration: defaults, then the TOML file, then `MEGAETH_*` env, then flag overrides."""
    cfg = Config()
    if path is not None:
        cfg = _apply(cfg, _toml_values(path), f"config file {path}")
    cfg = _apply(cfg, _env_values(os.environ if env is None else env), "environment")
    cfg = _apply(cfg, {k: v for k, v in (overrides or {}).items() if v is not None}, "flag")
    return _validate(cfg)
