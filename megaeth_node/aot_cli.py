"""`megaeth-node aot compile|inspect|bench CODE`: the AOT compiler from the command line.

CODE is hex runtime bytecode (0x optional) or a file holding it. `inspect` prints the analysis,
`compile` builds into the node's cache (<data dir>/aot) and prints the cache key (both for a native flavour,
`--flavour cancun|rex`: Ethereum/OP semantics, or MegaETH's Rex rules with their wrapped opcodes left to the
host), `bench` runs the
code natively and on py-evm's interpreter (Cancun, one call with transaction semantics) and checks
that both agree before printing their times.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from megaeth_node.config import Config


def _code(arg: str) -> bytes:
    text = Path(arg).read_text() if Path(arg).is_file() else arg
    text = "".join(text.split()).removeprefix("0x")
    return bytes.fromhex(text)


def cache_dir(cfg: Config) -> Path:
    return Path(cfg.node.data_dir) / "aot"


def _inspect(code: bytes, flavour: str) -> int:
    from aot.analysis import analyse
    from aot.codegen import REGISTER_MODE_MAX_INSTRS

    prog = analyse(code, flavour)
    ops = prog.ops
    reach = [prog.blocks[s] for s in prog.reachable]
    instrs = sum(len(b.instrs) for b in reach)
    host = Counter(ops[i.op].name for b in reach for i in b.instrs if ops[i.op].host)
    mode = "registers" if prog.heights is not None and instrs <= REGISTER_MODE_MAX_INSTRS else "threaded"
    print(f"code: {len(code)} bytes, {sum(len(b.instrs) for b in prog.blocks.values())} instructions, "
          f"{len(prog.jumpdests)} JUMPDESTs")
    print(f"blocks: {len(prog.blocks)} ({len(reach)} reachable, {sum(b.invalid for b in reach)} failing), "
          f"dynamic jumps: {sum(b.dynamic_jump for b in reach)}, static stack heights: "
          f"{'yes' if prog.heights is not None else 'no'}, code shape: {mode}")
    print("host opcodes: " + (", ".join(f"{k}×{v}" for k, v in sorted(host.items())) or "none"))
    print(f"{'start':>6} {'instrs':>6} {'gas':>6} {'req':>4} {'grow':>4} {'net':>4}  end")
    for b in reach:
        end = "invalid" if b.invalid else (f"-> {b.target}" if b.target is not None else
                                           "dynamic" if b.dynamic_jump else ops[b.last_op].name if b.instrs else "")
        print(f"{b.start:>6} {len(b.instrs):>6} {b.gas:>6} {b.stack_req:>4} {b.stack_growth:>4} {b.stack_net:>4}  {end}")
    return 0


def _compile(code: bytes, cfg: Config, flavour: str) -> int:
    from aot.cache import Budget, NativeCache
    from aot.toolchain import ToolchainError, find_compiler

    try:
        cache = NativeCache(cache_dir(cfg), find_compiler(), flavour, Budget(timeout_s=cfg.aot.compile_timeout_s))
    except ToolchainError as e:
        print(f"megaeth-node aot compile: {e}", file=sys.stderr)
        return 1
    t = time.perf_counter()
    contract = cache.compile(code)
    if contract is None:
        print("megaeth-node aot compile: refused by the compile budget (the code runs interpreted)", file=sys.stderr)
        return 1
    print(cache.key(code))
    print(f"{contract.library.path} ({time.perf_counter() - t:.2f} s)", file=sys.stderr)
    return 0


def _bench(code: bytes, calldata: bytes, gas: int, repeat: int) -> int:
    import tempfile

    from aot.analysis import analyse
    from aot.loader import Contract, build_library
    from aot.reference import run_frame
    from aot.toolchain import find_compiler

    with tempfile.TemporaryDirectory(prefix="megaeth-aot-bench-") as tmp:
        t = time.perf_counter()
        lib = build_library(find_compiler(), [("c", analyse(code))], Path(tmp) / "c.so")
        compile_s = time.perf_counter() - t
        native = Contract(lib, "c", code)
        want, got = run_frame(code, calldata, gas), run_frame(code, calldata, gas, native)
        if want != got:
            print(f"MISMATCH interpreter={want} native={got}", file=sys.stderr)
            return 1

        def best(fn: object) -> float:
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                fn()  # type: ignore[operator]
                times.append(time.perf_counter() - t0)
            return min(times) * 1000

        interp = best(lambda: run_frame(code, calldata, gas))
        fast = best(lambda: run_frame(code, calldata, gas, native))
    print(f"status {want.status}, gas used {gas - want.gas_left}, output {want.output.hex() or '-'}")
    print(f"compile {compile_s:.2f} s; interpreter {interp:.2f} ms; native {fast:.2f} ms "
          f"({interp / fast:.1f}x, py-evm frame set-up included)")
    return 0


def handler(args: argparse.Namespace, cfg: Config) -> int:
    """Entry point of `megaeth-node aot`."""
    try:
        code = _code(args.code)
    except (ValueError, OSError) as e:
        print(f"megaeth-node aot: CODE must be hex bytecode or a file holding it ({e})", file=sys.stderr)
        return 2
    flavour = getattr(args, "flavour", None) or "cancun"
    if args.aot_command == "inspect":
        return _inspect(code, flavour)
    if args.aot_command == "compile":
        return _compile(code, cfg, flavour)
    calldata = bytes.fromhex((getattr(args, "calldata", None) or "").removeprefix("0x"))
    return _bench(code, calldata, getattr(args, "gas", None) or 30_000_000, getattr(args, "repeat", None) or 3)
