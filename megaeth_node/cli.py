"""The `megaeth-node` command line: the composition root of the node."""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from megaeth_node.config import Config, ConfigError, load_config


def _version(_: argparse.Namespace, __: Config) -> int:
    print(f"megaeth-node {importlib.metadata.version('megaeth-node')}")
    return 0


def _doctor(_: argparse.Namespace, __: Config) -> int:
    from megaeth_node.doctor import run_doctor

    return run_doctor()


def _replay(args: argparse.Namespace, cfg: Config) -> int:
    from gas.spec import TESTNET, ChainConfig

    from megaeth_node.executor.replay import replay

    if args.trace and args.tx is None:
        print("megaeth-node replay: --trace needs --tx I (the transaction to trace)", file=sys.stderr)
        return 2
    chain = ChainConfig(cfg.node.chain_id, TESTNET.forks)
    trace = sys.stdout if args.trace else None  # one JSON line per opcode, before the tx's summary line
    reports = replay(args.fixtures, args.block, chain, out=sys.stdout, tx_index=args.tx, trace=trace)
    if not reports:
        print(f"megaeth-node replay: no blocks with witnesses under {args.fixtures}", file=sys.stderr)
        return 2
    ok = all(r.gas_diff == 0 and r.receipts_root_ok and r.logs_bloom_ok for r in reports)
    return 0 if ok else 1


def _run(args: argparse.Namespace, cfg: Config) -> int:
    import tempfile

    tmp = tempfile.TemporaryDirectory(prefix="megaeth-node-") if cfg.node.ephemeral else None
    data_dir = Path(tmp.name) if tmp else cfg.node.data_dir
    try:
        with _aot(cfg, data_dir):
            return _serve(cfg, data_dir)
    finally:
        if tmp:
            tmp.cleanup()


def _serve(cfg: Config, data_dir: Path) -> int:
    """The sequencer and its JSON-RPC server until interrupted."""
    import asyncio

    import uvloop

    from megaeth_node.genesis import DEV_BALANCE, DEV_MNEMONIC, dev_accounts, dev_chain
    from megaeth_node.sequencer import Sequencer, SequencerSettings
    from rpc.serve import serve

    accounts = dev_accounts(DEV_MNEMONIC)
    node = Sequencer(SequencerSettings(
        chain=dev_chain(cfg.node.chain_id), data_dir=data_dir, block_time_ms=cfg.node.block_time_ms,
        mini_block_ms=cfg.node.mini_block_ms, alloc={a.address: DEV_BALANCE for a in accounts}))
    print(f"megaeth-node: chain {cfg.node.chain_id}, data in {data_dir}, head block {node.head.number}"
          f"{f', {node.recovered} journaled transactions recovered' if node.recovered else ''}"
          f"{f', {node.restored} back in the mempool' if node.restored else ''}")
    print(f"dev accounts (mnemonic: {DEV_MNEMONIC}):")
    for i, a in enumerate(accounts):
        print(f"  ({i}) 0x{a.address.hex()}  key 0x{a.private_key.hex()}")

    def ready(port: int) -> None:
        print(f"listening on http://{cfg.rpc.host}:{port} (JSON-RPC over HTTP and WebSocket)", flush=True)

    cors = tuple(o.strip() for o in cfg.rpc.cors_origins.split(",") if o.strip())
    # uvloop's event loop (libuv) spends a fraction of asyncio's Python loop per request
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(node, accounts, cfg.rpc.host, cfg.rpc.port, cors, ready))
    return 0


@contextlib.contextmanager
def _aot(cfg: Config, data_dir: Path) -> Iterator[None]:
    """Within: hot contracts compiled in the background and run natively (`aot.mode`), cached in `data_dir/aot`."""
    from megaeth_node.executor.native import configure

    configure(cfg.aot.mode, data_dir / "aot", cfg.aot.compile_timeout_s)
    try:
        yield
    finally:
        configure("off", data_dir / "aot")


def _validate(args: argparse.Namespace, cfg: Config) -> int:
    from megaeth_node.genesis import named_chain

    if args.fixtures is not None:
        from validator.offline import run_offline

        with _aot(cfg, cfg.node.data_dir):
            return run_offline(args.fixtures, cfg.validator.workers, args.json,
                               chain=named_chain(cfg.validator.chain, cfg.node.chain_id))
    return _validate_online(args, cfg)


def _validate_online(args: argparse.Namespace, cfg: Config) -> int:
    import signal
    import threading

    from megaeth_node.genesis import named_chain
    from validator.logs import configure
    from validator.metrics import Metrics
    from validator.online import EXIT_USAGE, OnlineSettings, OnlineValidator

    configure(as_json=args.log_json)
    settings = OnlineSettings(
        rpc_url=cfg.validator.rpc_url, data_dir=args.data_dir or cfg.node.data_dir / "validator",
        workers=cfg.validator.workers, start_block=args.start_block,
        chain=named_chain(cfg.validator.chain, cfg.node.chain_id), report=not args.no_report,
        until_block=args.until_block)
    stop = threading.Event()
    metrics = Metrics()
    try:
        validator = OnlineValidator(settings, metrics=metrics, stop=stop,
                                    progress=sys.stderr if sys.stderr.isatty() else None)
    except ValueError as e:  # an RPC URL it cannot use
        print(f"megaeth-node validate: {e}", file=sys.stderr)
        return EXIT_USAGE
    with _aot(cfg, settings.data_dir):
        validator.pool  # noqa: B018 - fork the workers (AOT set up: they inherit it) before the exporter thread
        if cfg.validator.metrics_port:
            port = metrics.serve(cfg.validator.metrics_port)
            print(f"metrics on http://127.0.0.1:{port}/metrics", file=sys.stderr)
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            return validator.run()
        except KeyboardInterrupt:
            return 130
        finally:
            signal.signal(signal.SIGTERM, previous)
            metrics.stop()


def _not_built(issue: str) -> Callable[[argparse.Namespace, Config], int]:
    def handler(args: argparse.Namespace, _: Config) -> int:
        print(f"megaeth-node {args.command}: not available in this build yet ({issue})", file=sys.stderr)
        return 2

    return handler


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and flags; a flag's `dest` is the `section.field` it overrides."""
    parser = argparse.ArgumentParser(prog="megaeth-node", description="A MegaETH execution node in Python.")
    parser.add_argument("--config", type=Path, help="TOML configuration file (flags beat env beat file)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the sequencer with its JSON-RPC server")
    run.add_argument("--host", dest="rpc.host", help="listen address (default 127.0.0.1)")
    run.add_argument("--port", dest="rpc.port", type=int, help="JSON-RPC port (default 8545)")
    run.add_argument("--data-dir", dest="node.data_dir", type=Path, help="data directory")
    run.add_argument("--ephemeral", dest="node.ephemeral", action="store_const", const=True,
                     help="use a temporary data directory")
    run.add_argument("--block-time", dest="node.block_time_ms", type=int, help="EVM block time in ms (0 = automine)")
    run.add_argument("--aot", dest="aot.mode", choices=("off", "auto", "always"), help="native compilation mode")
    run.set_defaults(handler=_run)

    val = sub.add_parser("validate", help="stateless validation of blocks from fixtures or a sequencer")
    src = val.add_mutually_exclusive_group(required=True)
    src.add_argument("--fixtures", type=Path, help="directory in the megaeth-testdata layout")
    src.add_argument("--rpc", dest="validator.rpc_url", help="sequencer JSON-RPC URL to follow")
    val.add_argument("--workers", dest="validator.workers", type=int, help="worker processes (default: cores)")
    val.add_argument("--metrics-port", dest="validator.metrics_port", type=int, help="Prometheus port (0 = off)")
    val.add_argument("--json", action="store_true", help="print one JSON object per block")
    val.add_argument("--chain", dest="validator.chain", choices=("testnet", "mainnet", "dev"),
                     help="fork schedule of the validated chain (default testnet; dev = megaeth-node run)")
    val.add_argument("--start-block", help="trusted anchor, block hash or number (required the first time)")
    val.add_argument("--data-dir", type=Path, help="checkpoint directory (default: <node data dir>/validator)")
    val.add_argument("--until-block", type=int, help="stop once this block is validated")
    val.add_argument("--no-report", action="store_true", help="do not call mega_setValidatedBlocks")
    val.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    val.add_argument("--aot", dest="aot.mode", choices=("off", "auto", "always"),
                     help="native compilation of hot contracts (cache in <node data dir>/aot offline)")
    val.set_defaults(handler=_validate)

    rep = sub.add_parser("replay", help="re-execute fixture blocks and compare header commitments")
    rep.add_argument("--fixtures", type=Path, required=True, help="directory in the megaeth-testdata layout")
    rep.add_argument("--block", type=int, help="only this block number")
    rep.add_argument("--tx", type=int, help="only this transaction index")
    rep.add_argument("--trace", action="store_true",
                     help="opcode trace of the --tx transaction (EIP-3155-style JSON lines, with compute gas)")
    rep.set_defaults(handler=_replay)

    aot = sub.add_parser("aot", help="compile or inspect contracts as native code")
    aot_sub = aot.add_subparsers(dest="aot_command", required=True, metavar="ACTION")
    for name, text in (("compile", "compile bytecode to a shared object"),
                       ("inspect", "show the analysis of bytecode"), ("bench", "benchmark native vs interpreter")):
        p = aot_sub.add_parser(name, help=text)
        p.add_argument("code", help="hex bytecode or a file containing it")
        if name != "bench":
            p.add_argument("--flavour", choices=("cancun", "rex"), default="cancun",
                           help="native semantics: Ethereum/OP (cancun) or MegaETH's Rex rules (rex)")
        if name == "bench":
            p.add_argument("--calldata", help="hex call data"), p.add_argument("--gas", type=int, help="gas limit")
    aot.set_defaults(handler=lambda args, cfg: __import__("megaeth_node.aot_cli").aot_cli.handler(args, cfg))

    sub.add_parser("doctor", help="check dependencies and prove the C toolchain").set_defaults(handler=_doctor)
    sub.add_parser("version", help="print the version").set_defaults(handler=_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if "." in k}
    try:
        cfg = load_config(args.config, overrides=overrides)
    except ConfigError as e:
        print(f"megaeth-node: configuration error: {e}", file=sys.stderr)
        return 2
    return int(args.handler(args, cfg))


if __name__ == "__main__":
    sys.exit(main())
