"""Configuration precedence: defaults < TOML file < MEGAETH_* environment < flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from megaeth_node.config import ConfigError, load_config


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(text)
    return path


def test_defaults_listen_on_loopback() -> None:
    cfg = load_config(env={})
    assert cfg.rpc.host == "127.0.0.1" and cfg.rpc.port == 8545 and cfg.aot.mode == "auto"


def test_file_beats_default(tmp_path: Path) -> None:
    cfg = load_config(_toml(tmp_path, "[rpc]\nport = 9000\n[node]\nephemeral = true\n"), env={})
    assert cfg.rpc.port == 9000 and cfg.node.ephemeral is True


def test_env_beats_file(tmp_path: Path) -> None:
    cfg = load_config(_toml(tmp_path, "[rpc]\nport = 9000\n"), env={"MEGAETH_RPC_PORT": "9100"})
    assert cfg.rpc.port == 9100


def test_flag_beats_env_and_file(tmp_path: Path) -> None:
    cfg = load_config(_toml(tmp_path, "[rpc]\nport = 9000\n"), env={"MEGAETH_RPC_PORT": "9100"},
                      overrides={"rpc.port": 9200, "rpc.host": None})
    assert cfg.rpc.port == 9200 and cfg.rpc.host == "127.0.0.1"


def test_env_types_are_coerced() -> None:
    cfg = load_config(env={"MEGAETH_NODE_EPHEMERAL": "yes", "MEGAETH_NODE_DATA_DIR": "/tmp/x",
                           "MEGAETH_AOT_COMPILE_TIMEOUT_S": "2.5"})
    assert cfg.node.ephemeral is True and cfg.node.data_dir == Path("/tmp/x")
    assert cfg.aot.compile_timeout_s == 2.5


@pytest.mark.parametrize("text, match", [
    ("[rpc]\nprot = 1\n", "unknown key 'rpc.prot'"),
    ("[nope]\nx = 1\n", "unknown section 'nope'"),
    ("[rpc]\nport = 'abc'\n", "rpc.port"),
    ("[aot]\nmode = 'sometimes'\n", "aot.mode"),
    ("[rpc\n", "config file"),
])
def test_bad_file_is_a_clear_error(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config(_toml(tmp_path, text), env={})


def test_bad_env_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="environment rpc.port"):
        load_config(env={"MEGAETH_RPC_PORT": "eighty"})
