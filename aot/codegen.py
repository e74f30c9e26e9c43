"""EVM bytecode → C (C23 `unsigned _BitInt(256)`): one exported function per contract.

Each basic block charges its static gas and checks its stack bounds on entry, then runs its
instructions on a compile-time stack of C temporaries (DUP/SWAP/POP cost nothing); the block's net
effect is written back on exit. When every reachable block has one static entry height (no dynamic
jumps), stack slots are C locals and clang keeps them in registers (and loops whose counter slots
only step by constants get a copy with those slots in 64-bit locals, see _Narrow); otherwise they
live in a heap array addressed from a moving `sp`, one C function per block, except that a JUMPI's
fall-through block is a label inside the JUMPI block's function (see _fallthrough_chains). Constant
jumps are direct gotos; dynamic jumps go through one `switch` over the JUMPDESTs. Host opcodes call
`f->host` with the gas the interpreter would see.

Gas is charged exactly (static cost at block entry, dynamic costs where they arise) but the
`gas < 0` test is made only where it is observable or needed for termination: on backward constant
jumps and dynamic jumps (every loop has one), before host opcodes and GAS, after dynamic charges
(memory, copies, EXP, storage) and at the frame's exit, where a STOP/RETURN/REVERT with negative gas
becomes out of gas. This is exact: gas never increases between two tests, every exceptional halt
consumes all gas and reverts the frame alike, and nothing between two tests is visible outside the
frame (memory is the frame's own, storage writes stay in the C cache until a test has passed).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from aot.analysis import STACK_LIMIT, Block, Program
from aot.opcodes import ENV_INDEX, JUMP, JUMPI, LOG0, LOG4, MAX_HOST_ARGS, OPS, PUSH0, PUSH32

CODEGEN_VERSION = 31
CHUNK = 256
REGISTER_MODE_MAX_INSTRS = 2_000
# Register mode keeps every slot up to the deepest height as a local of the frame's C function (~64 B each).
# A CALL recurses through the host on the same C stack, so the frame must stay small: 1,024 nested frames of
# 64 slots are ~4 MB, within the 8 MB main-thread stack. Deeper programs run threaded (a heap stack).
REGISTER_MODE_MAX_SLOTS = 64
INLINE_LOADS_MAX_INSTRS = 10_000  # larger units leave MLOAD's load_be to clang's inliner (runtime.h)
RING_COPIES, RING_MAX_INSTRS = 4, 64  # counter loops up to 64 instructions test gas every 4th back edge
_SIG = "(aot_frame *f, u256 *stk, u256 *sp, int64_t gas, uint64_t jt)"
ENTRY_ARGS = "int64_t gas, const char *calldata, uint64_t calldata_size, const char *callvalue, uint32_t is_static"
RUNTIME = files("aot").joinpath("runtime.h").read_text()

_BINARY = {
    0x01: "{a} + {b}", 0x02: "{a} * {b}", 0x03: "{a} - {b}", 0x04: "div_i({a}, {b})",
    0x05: "sdiv_i({a}, {b})", 0x06: "mod_i({a}, {b})", 0x07: "smod_i({a}, {b})",
    0x0B: "op_signextend({a}, {b})", 0x10: "(u256)({a} < {b})", 0x11: "(u256)({a} > {b})",
    0x12: "op_slt({a}, {b})", 0x13: "op_slt({b}, {a})", 0x14: "(u256)({a} == {b})",
    0x16: "{a} & {b}", 0x17: "{a} | {b}", 0x18: "{a} ^ {b}", 0x1A: "op_byte({a}, {b})",
    0x1B: "op_shl({a}, {b})", 0x1C: "op_shr({a}, {b})", 0x1D: "op_sar({a}, {b})",
}
_EXITS = (("oog", "AOT_OOG"), ("bad_jump", "AOT_BAD_JUMP"), ("underflow", "AOT_UNDERFLOW"),
          ("overflow", "AOT_OVERFLOW"), ("invalid", "AOT_INVALID"))


def literal(v: int) -> str:
    """A C expression of type u256 for the constant `v`."""
    return f"(u256){v}ULL" if v < 1 << 64 else f"(u256)0x{v:x}uwb"


@dataclass(slots=True)
class _Narrow:
    """Register-mode loop versioning: the blocks of loop `blocks` are emitted 1 + `copies` times, the
    copies (labels N<copy>_<pc>) holding stack slots `slots` as uint64_t locals n<i> (a counter is then one
    64-bit register). Edges from outside the loop into an `entries` block enter the copy when those slots are
    below 2^64; the copy writes the slots back and continues in the 256-bit code when a value leaves
    that range (checked by the 64-bit step's overflow flag). A small loop gets `copies` such copies
    in a ring: a backward jump moves to the next copy and only the last copy's backward jumps test
    gas (exact as every gas test is: each cycle still passes a test, see the module docstring)."""

    blocks: frozenset[int]
    entries: frozenset[int]
    slots: tuple[int, ...]
    copies: int = 1


def _small_literal(expr: str) -> int | None:
    """The value of a literal() expression below 2^64, else None."""
    return int(expr[6:-3]) if expr.startswith("(u256)") and expr.endswith("ULL") else None


class _BlockEmitter:
    """Emits one block, keeping the stack as C expressions until the block's exit."""

    def __init__(self, prog: Program, block: Block, fn: str, base: int | None,
                 narrow: _Narrow | None = None, loops: dict[int, _Narrow] | None = None, copy: int = 0,
                 inline: frozenset[int] = frozenset()) -> None:
        self.prog, self.b, self.fn, self.base = prog, block, fn, base or 0
        self.registers = base is not None
        self.narrow = narrow          # emitting the 64-bit copy number `copy` of this loop
        self.copy = copy
        self.inline = inline          # threaded mode: blocks emitted inside their predecessor's function
        self.loops = loops or {}      # entry block -> its loop (guarded entry from 256-bit code)
        self.counters: dict[str, tuple[int, str, int]] = {}  # temp -> (slot, "+"/"-", constant)
        self.reads: dict[str, int] = {}  # temp -> the slot it loaded
        self.writes: dict[int, tuple[str, int] | None] = {}  # slot -> counter step, None: other value
        self.wide: dict[int, str] = {}  # narrow slot -> its 256-bit value at the block's exit
        self.step: dict[int, str] = {}  # narrow slot -> 64-bit value at exit; overflow flag in self.ovf
        self.ovf: list[str] = []
        self.vs: list[str] = []
        self.floor = 0
        self.loaded: dict[int, str] = {}
        self.out: list[str] = []
        self.protos: list[str] = []
        self.tmp = 0
        self.affine: dict[str, tuple[str, int]] = {}  # temp -> (base expression, constant added to it)
        self.accesses: list[tuple[int, str, int, int]] = []  # (line, base, constant, size): word_access

    def slot(self, i: int) -> str:
        return f"s{self.base + i}" if self.registers else f"sp[{i}]"

    def temp(self, expr: str) -> str:
        self.tmp += 1
        name = f"t{self.tmp}"
        self.out.append(f"u256 {name} = {expr};")
        return name

    def _load_below(self) -> None:
        self.floor -= 1
        i = self.base + self.floor
        name = self.temp(f"(u256)n{i}" if self.narrow and i in self.narrow.slots else self.slot(self.floor))
        self.loaded[self.floor] = name
        self.reads[name] = i
        self.vs.insert(0, name)

    def pop(self) -> str:
        if not self.vs:
            self._load_below()
        return self.vs.pop()

    def peek(self, depth: int) -> str:
        while len(self.vs) <= depth:
            self._load_below()
        return self.vs[-1 - depth]

    def flush(self) -> None:
        for j, expr in enumerate(self.vs):
            i = self.floor + j
            if self.loaded.get(i) != expr:
                k = self.base + i
                step = self.counters.get(expr)
                self.writes[k] = step[1:] if step and step[0] == k else None
                if self.narrow and k in self.narrow.slots:
                    self.narrow_write(k, expr, step if step and step[0] == k else None)
                else:
                    self.out.append(f"{self.slot(i)} = {expr};")
        net = self.floor + len(self.vs)
        if not self.registers and net:
            self.out.append(f"sp += {net};")

    def narrow_write(self, k: int, expr: str, step: tuple[int, str, int] | None) -> None:
        """A new value of 64-bit slot `k`: computed with an overflow flag, assigned when the jump is taken."""
        flag = f"o{k}"
        self.ovf.append(flag)
        if step:
            op = "add" if step[1] == "+" else "sub"
            self.out.append(f"uint64_t x{k}; int {flag} = __builtin_{op}_overflow(n{k}, {step[2]}ULL, &x{k});")
            self.wide[k] = f"(u256)n{k} {step[1]} (u256){step[2]}ULL"
        else:
            self.out.append(f"u256 w{k} = {expr}; int {flag} = (w{k} >> 64) != 0; uint64_t x{k} = (uint64_t)w{k};")
            self.wide[k] = f"w{k}"
        self.step[k] = f"x{k}"

    def _widen(self) -> str:
        assert self.narrow
        return " ".join(f"s{k} = {self.wide.get(k, f'(u256)n{k}')};" for k in self.narrow.slots)

    def _goto(self, target: int) -> str:
        """`goto` a register-mode block, choosing between the 256-bit code and a loop's 64-bit copy."""
        if self.narrow:
            if target not in self.narrow.blocks:
                return f"{self._widen()} {self._wide_goto(target)}"
            assign = " ".join(f"n{k} = {v};" for k, v in self.step.items())
            copy = (self.copy + 1) % self.narrow.copies if target <= self.b.instrs[-1].pc else self.copy
            if not self.ovf:
                return f"{assign} goto N{copy}_{target};"
            return (f"if ({' | '.join(self.ovf)}) {{ {self._widen()} goto L{target}; }} "
                    f"{assign} goto N{copy}_{target};")
        return self._wide_goto(target)

    def _wide_goto(self, target: int) -> str:
        loop = self.loops.get(target)
        if loop is None or self.b.start in loop.blocks:  # the 256-bit loop itself stays as it is
            return f"goto L{target};"
        small = " | ".join(f"s{k}" for k in loop.slots)
        enter = " ".join(f"n{k} = (uint64_t)s{k};" for k in loop.slots)
        return f"if (!(({small}) >> 64)) {{ {enter} goto N0_{target}; }} goto L{target};"

    def exit(self, label: str) -> str:
        """Leave the block for one of the shared exits (`done` keeps `st`)."""
        if self.registers:
            return f"goto {label};"
        return "{ f->gas = gas; return st; }" if label == "done" else f"return {dict(_EXITS)[label]};"

    def check(self, cond: str, exit_label: str) -> None:
        self.out.append(f"if ({cond}) {self.exit(exit_label)}")

    def jump(self, target: int | None) -> str:
        """Continue at block `target` (None: end of code, an implicit STOP)."""
        if target is None:
            return self.exit("done")
        if self.registers:
            return self._goto(target)
        if target in self.inline:
            return f"goto B{target};"
        return f"__attribute__((musttail)) return {self.fn}_b{target}(f, stk, sp, gas, 0);"

    def failed(self) -> None:
        """After a native host helper: negative gas means it failed (f->err, or out of gas)."""
        self.out.append(f"if (gas < 0) {{ st = f->err ? f->err : AOT_OOG; {self.exit('done')} }}")

    def mem(self, off: str, size: str) -> None:
        self.out.append(f"gas = mem_need(f, gas, {off}, {size});")
        self.check("gas < 0", "oog")

    def word_access(self, off: str, size: int) -> None:
        """A memory access of constant `size` at `off` (MLOAD, MSTORE, MSTORE8), noted for
        coalesce_growth when `off` is a base expression plus a constant."""
        base, c = (("", v) if (v := _small_literal(off)) is not None else self.affine.get(off, (off, 0)))
        if c < 1 << 32:
            self.accesses.append((len(self.out), base, c, size))
        self.mem(off, str(size))

    def coalesce_growth(self) -> None:
        """Check and grow memory once for a run of accesses at one base plus constants (an ABI encoder's
        stores at the free memory pointer + 32k): the run's first access checks [base + lowest constant,
        base + highest end), charges and grows to its end; the others check nothing. Exact: expansion
        cost depends only on the final size; the run contains nothing that observes gas or memory size
        (host calls, GAS, storage, MSIZE close it); the offsets are the interpreter's (256-bit sums:
        when base + lowest wraps, every offset wraps and the range stays contiguous); and a range
        beyond 2^32 fails as out of gas at the first access as one of the run's accesses would later."""
        runs: dict[str, list[tuple[int, int, int]]] = {}
        for index, base, c, size in self.accesses:
            runs.setdefault(base, []).append((index, c, size))
        for base, run in runs.items():
            if len(run) < 2:
                continue
            low, end = min(c for _, c, _ in run), max(c + size for _, c, size in run)
            off = literal(low) if base == "" else f"{base} + {literal(low)}" if low else base
            self.out[run[0][0]] = f"gas = mem_need(f, gas, {off}, {end - low});"
            for index, _, _ in run[1:]:
                self.out[index] = self.out[index + 1] = ""
        self.accesses = []

    def charge(self, expr: str) -> None:
        self.out.append(f"gas -= {expr};")
        self.check("gas < 0", "oog")

    def goto_block(self, target: int) -> str:
        if target not in self.prog.jumpdests:
            return self.exit("bad_jump")
        ring = self.narrow is not None and self.copy < self.narrow.copies - 1
        if target <= self.b.instrs[-1].pc and not ring:  # a backward jump: every loop has one
            return f"if (gas < 0) {self.exit('oog')} {self.jump(target)}"
        return self.jump(target)

    def dynamic(self, dest: str) -> str:
        return (f"if (gas < 0) {self.exit('oog')} "
                f"__attribute__((musttail)) return {self.fn}_dispatch(f, stk, sp, gas, "
                f"{dest} < {len(self.prog.code)} ? (uint64_t){dest} : UINT64_MAX);")

    def host(self, op: int, pc: int, visible: int) -> None:
        self.coalesce_growth()
        info = self.prog.ops[op]
        for k in range(info.stack_in):
            self.out.append(f"io_set(f, {k}, {self.pop()});")
        self.check("gas < 0", "oog")
        self.out.append(f"f->gas = gas + {visible}; st = f->host(f, {op}, {pc}); gas = f->gas - {visible};")
        if op == 0xFF:
            self.out.append(self.exit("done"))
            return
        self.check("st", "done")
        self.check("gas < 0", "oog")
        if info.stack_out:
            self.vs.append(self.temp("io_get(f, 0)"))

    def emit(self) -> list[str]:
        b = self.b
        out = self.out
        label = f"N{self.copy}_{b.start}" if self.narrow else f"L{b.start}"
        if self.registers or b.start in self.inline:
            out.append(f"{label if self.registers else f'B{b.start}'}: {{")
        else:
            out.append(self.header(f"{self.fn}_b{b.start}"))
        if b.invalid:
            out.append(self.exit("invalid") + " }")
            return out
        if b.gas:
            out.append(f"gas -= {b.gas};")
        if self.registers:
            if self.base < b.stack_req:
                out.append("goto underflow; }")
                return out
            if self.base + b.stack_growth > STACK_LIMIT:
                out.append("goto overflow; }")
                return out
        else:
            if b.stack_req:
                self.check(f"sp - stk < {b.stack_req}", "underflow")
            if b.stack_growth:
                self.check(f"sp - stk > {STACK_LIMIT - b.stack_growth}", "overflow")
        after = [0] * len(b.instrs)
        for i in range(len(b.instrs) - 2, -1, -1):
            after[i] = after[i + 1] + self.prog.ops[b.instrs[i + 1].op].gas
        fused = b.target is not None
        for i, ins in enumerate(b.instrs):
            if fused and i == len(b.instrs) - 2:
                continue
            if not self.registers and i and i % CHUNK == 0 and i < len(b.instrs) - 2:
                self.next_chunk(f"{self.fn}_b{b.start}_{i}")
            self.instr(ins.op, ins.pc, ins.imm, after[i])
        if b.last_op not in (JUMP, JUMPI) and OPS[b.last_op].name not in ("STOP", "RETURN", "REVERT", "SELFDESTRUCT"):
            self.flush()
            out.append(self.jump(b.next_pc))
        self.coalesce_growth()
        out.append("}")
        return out

    def literal_top(self, depth: int = 0) -> int | None:
        """Stack item `depth` when it is a compile-time constant (shifts by a constant stay inline)."""
        if len(self.vs) > depth and self.vs[-1 - depth].startswith("(u256)"):
            text = self.vs[-1 - depth][6:].removesuffix("ULL").removesuffix("uwb")
            return int(text, 0)
        return None

    def _note_counter(self, op: int, a: str, c: str) -> None:
        """Remember `slot ± constant` results (ADD either way round, SUB slot - constant)."""
        pairs = [(a, c), (c, a)] if op == 0x01 else [(a, c)] if op == 0x03 else []
        for x, y in pairs:
            if x in self.reads and (v := _small_literal(y)) is not None:
                self.counters[self.vs[-1]] = (self.reads[x], "+" if op == 0x01 else "-", v)
                return

    def _note_affine(self, a: str, c: str) -> None:
        """Remember a sum of an expression and a small constant as (base, constant) (see coalesce_growth)."""
        for x, y in ((a, c), (c, a)):
            if (v := _small_literal(y)) is not None and _small_literal(x) is None:
                base, k = self.affine.get(x, (x, 0))
                self.affine[self.vs[-1]] = (base, k + v)
                return

    def header(self, name: str) -> str:
        self.protos.append(f"BLOCKFN int32_t {name}{_SIG};")
        return f"BLOCKFN int32_t {name}{_SIG} {{\nint32_t st = AOT_STOP; (void)jt; (void)st;"

    def next_chunk(self, name: str) -> None:
        """End this C function mid-block and continue in a fresh one (bounds clang's per-function work)."""
        self.flush()
        self.coalesce_growth()
        self.out += [f"__attribute__((musttail)) return {name}(f, stk, sp, gas, 0);", "}", self.header(name)]
        self.vs, self.floor, self.loaded = [], 0, {}

    def instr(self, op: int, pc: int, imm: int, after: int) -> None:
        out, b = self.out, self.b
        if PUSH0 <= op <= PUSH32:
            self.vs.append(literal(imm))
        elif 0x80 <= op <= 0x8F:
            self.vs.append(self.peek(op - 0x80))
        elif 0x90 <= op <= 0x9F:
            n = op - 0x8F
            self.peek(n)
            self.vs[-1], self.vs[-1 - n] = self.vs[-1 - n], self.vs[-1]
        elif op in (0x1B, 0x1C) and self.literal_top() is not None:
            shift, x = self.literal_top(), (self.pop(), self.pop())[1]
            expr = "(u256)0" if shift >= 256 else f"{x} {'<<' if op == 0x1B else '>>'} {shift}"
            self.vs.append(self.temp(expr))
        elif op in (0x04, 0x06) and (d := self.literal_top(1)) is not None and d & (d - 1) == 0:
            x = self.pop()
            self.pop()
            expr = "(u256)0" if d == 0 else f"{x} >> {d.bit_length() - 1}" if op == 0x04 else f"{x} & {literal(d - 1)}"
            self.vs.append(self.temp(expr))
        elif op in _BINARY:
            a, c = self.pop(), self.pop()
            self.vs.append(self.temp(_BINARY[op].format(a=a, b=c)))
            self._note_counter(op, a, c)
            if op == 0x01:
                self._note_affine(a, c)
        elif op == 0x15:
            self.vs.append(self.temp(f"(u256)({self.pop()} == 0)"))
        elif op == 0x19:
            self.vs.append(self.temp(f"~{self.pop()}"))
        elif op in (0x08, 0x09) and (n := self.literal_top(2)) is not None and n & (n - 1) == 0:
            a, c = self.pop(), self.pop()  # modulo a power of two 2^k <= 2^255 (or 0): 2^k divides 2^256
            self.pop()
            expr = "(u256)0" if n == 0 else f"({a} {'+' if op == 0x08 else '*'} {c}) & {literal(n - 1)}"
            self.vs.append(self.temp(expr))
        elif op in (0x08, 0x09):
            a, c, n = self.pop(), self.pop(), self.pop()
            expr = f"op_addmod({a}, {c}, {n})" if op == 0x08 else f"op_mulmod(&f->mod, {a}, {c}, {n})"
            self.vs.append(self.temp(expr))
        elif op == 0x0A:
            a, e = self.pop(), self.pop()
            self.charge(f"50 * byte_len({e})")
            self.vs.append(self.temp(f"op_exp({a}, {e})"))
        elif op == 0x20:
            off, size = self.pop(), self.pop()
            self.mem(off, size)
            self.charge(f"2 * copy_cost({size})")
            self.vs.append(self.temp(f"{size} ? keccak256(f->mem + (uint64_t){off}, (uint64_t){size}) "
                                     f": keccak256(0, 0)"))
        elif op == 0x35:
            self.vs.append(self.temp(f"calldataload(f, {self.pop()})"))
        elif op == 0x36:
            self.vs.append(self.temp("(u256)f->calldata_size"))
        elif op == 0x38:
            self.vs.append(literal(len(self.prog.code)))
        elif op in (0x37, 0x39):
            dst, off, size = self.pop(), self.pop(), self.pop()
            src = "f->calldata, f->calldata_size" if op == 0x37 else "f->code, f->code_size"
            self.mem(dst, size)
            self.charge(f"copy_cost({size})")
            out.append(f"if ({size}) copy_padded(f->mem + (uint64_t){dst}, {src}, {off}, (uint64_t){size});")
        elif op == 0x50:
            self.pop()
        elif op == 0x51:
            off = self.pop()
            self.word_access(off, 32)
            self.vs.append(self.temp(f"load_be(f->mem + (uint64_t){off})"))
        elif op in (0x52, 0x53):
            off, v = self.pop(), self.pop()
            if op == 0x52:
                self.word_access(off, 32)
                out.append(f"store_be(f->mem + (uint64_t){off}, {v});")
            else:
                self.word_access(off, 1)
                out.append(f"f->mem[(uint64_t){off}] = (uint8_t){v};")
        elif self.prog.ops[op].host:  # before the C versions: a flavour may give SLOAD or TIMESTAMP to the host
            self.host(op, pc, after)
        elif LOG0 <= op <= LOG4:  # a flavour's native LOG ("rex"): aot_log, or the host where it must be
            self.coalesce_growth()
            for k in range(op - LOG0 + 2):
                out.append(f"io_set(f, {k}, {self.pop()});")
            out.append(f"gas = aot_log(f, {op - LOG0}, gas + {after}, {pc}) - {after};")
            self.failed()
        elif op in ENV_INDEX:
            self.coalesce_growth()
            i = ENV_INDEX[op]
            out.append(f"if (!(f->env_valid & {1 << i}ULL) && (st = env_miss(f, {i}, {op}, {pc}))) "
                       f"{self.exit('done')}")
            self.vs.append(self.temp(f"env_get(f, {i})"))
        elif op == 0x3D:
            self.vs.append(self.temp("(u256)f->returndata_size"))
        elif op == 0x54:
            self.coalesce_growth()
            out.append(f"gas = aot_sload(f, {self.pop()}, gas + {after}, {pc}) - {after};")
            self.failed()
            self.vs.append(self.temp("io_get(f, 0)"))
        elif op == 0x55:
            self.coalesce_growth()
            key, value = self.pop(), self.pop()
            out.append(f"gas = aot_sstore(f, {key}, {value}, gas + {after}, {pc}) - {after};")
            self.failed()
        elif op == 0x58:
            self.vs.append(literal(pc))
        elif op == 0x59:
            self.coalesce_growth()
            self.vs.append(self.temp("(u256)f->mem_size"))
        elif op == 0x5A:
            self.coalesce_growth()
            self.check("gas < 0", "oog")
            self.vs.append(self.temp(f"(u256)(gas + {after})"))
        elif op == 0x5B:
            pass
        elif op == 0x5E:
            dst, src, size = self.pop(), self.pop(), self.pop()
            self.mem(f"({dst} > {src} ? {dst} : {src})", size)
            self.charge(f"copy_cost({size})")
            out.append(f"if ({size}) memmove(f->mem + (uint64_t){dst}, f->mem + (uint64_t){src}, (uint64_t){size});")
        elif op == 0x00:
            out.append(self.exit("done"))
        elif op in (0xF3, 0xFD):
            off, size = self.pop(), self.pop()
            self.mem(off, size)
            out.append(f"f->out_offset = (uint64_t){off}; f->out_size = (uint64_t){size};")
            out.append(f"st = {'AOT_RETURN' if op == 0xF3 else 'AOT_REVERT'}; {self.exit('done')}")
        elif op == JUMP:
            if b.target is not None:
                self.flush()
                out.append(self.goto_block(b.target))
            else:
                dest = self.pop()
                self.flush()
                out.append(self.dynamic(dest))
        elif op == JUMPI:
            dest = literal(b.target) if b.target is not None else self.pop()
            cond = self.pop()
            self.flush()
            taken = self.goto_block(b.target) if b.target is not None else self.dynamic(dest)
            out.append(f"if ({cond} != 0) {{ {taken} }}")
            out.append(self.jump(b.next_pc))
        else:
            raise AssertionError(f"opcode {op:#x} has no translation")


def _entry(prog: Program, name: str) -> list[str]:
    """The exported entry's head: frame set-up, and the code itself when CODECOPY reads it."""
    head = [f"EXPORT int32_t {name}({'aot_frame *f, ' + ENTRY_ARGS}) {{",
            "aot_enter(f, gas, calldata, calldata_size, callvalue, is_static);"]
    if any(i.op == 0x39 for s in prog.reachable for i in prog.blocks[s].instrs):
        text = "".join(f"\\{b:03o}" for b in prog.code)
        head += [f'static const char code[] = "{text}";',
                 f"f->code = (const uint8_t *)code; f->code_size = {len(prog.code)};"]
    return head


def _emit_registers(prog: Program, name: str) -> list[str]:
    """One function, blocks as labels, stack slots as locals (static heights only)."""
    assert prog.heights is not None
    blocks = [prog.blocks[s] for s in prog.reachable if s in prog.heights]
    first = {b.start: _BlockEmitter(prog, b, name, prog.heights[b.start]) for b in blocks}
    for e in first.values():
        e.emit()
    loops = _narrow_loops(prog, first)
    entries = {s: loop for loop in loops for s in loop.entries}
    body: list[str] = []
    for b in blocks:
        body += _BlockEmitter(prog, b, name, prog.heights[b.start], loops=entries).emit()
    for loop in loops:
        for copy in range(loop.copies):
            for b in blocks:
                if b.start in loop.blocks:
                    body += _BlockEmitter(prog, b, name, prog.heights[b.start], loop, entries, copy).emit()
    top = _register_slots(prog)
    head = [*_entry(prog, name), "int32_t st = AOT_STOP;"]
    if top:
        head.append("u256 " + ", ".join(f"s{i} = 0" for i in range(top)) + ";")
    narrow = sorted({k for loop in loops for k in loop.slots})
    if narrow:
        head.append("uint64_t " + ", ".join(f"n{k} = 0" for k in narrow) + ";")
    head.append("goto L0;" if blocks else "goto done;")
    tail = [f"{label}: st = {status}; goto done;" for label, status in _EXITS]
    tail += ["done:", "if (gas < 0 && st <= AOT_REVERT) st = AOT_OOG;", "f->gas = gas; return st;", "}"]
    return head + body + tail


def _narrow_loops(prog: Program, emitted: dict[int, _BlockEmitter]) -> list[_Narrow]:
    """Loops with counter slots: slots every block of the loop leaves alone or steps by a constant."""
    out = []
    for comp in prog.loops(list(emitted)):
        steps: dict[int, bool] = {}
        for s in comp:
            for k, step in emitted[s].writes.items():
                steps[k] = steps.get(k, True) and step is not None
        slots = tuple(sorted(k for k, ok in steps.items() if ok))
        if not slots:
            continue
        entries = {s for s in comp if s == 0 or any(
            s in prog.successors(prog.blocks[p]) for p in emitted if p not in comp)}
        size = sum(len(prog.blocks[s].instrs) for s in comp)
        out.append(_Narrow(frozenset(comp), frozenset(entries), slots, RING_COPIES if size <= RING_MAX_INSTRS else 1))
    return out


@dataclass(slots=True)
class Emitted:
    """One contract's C: prototypes (needed by every unit), the entry and dispatch (`shared`, kept in
    the first unit) and block functions (`bodies`, each may go to any unit)."""

    protos: list[str]
    shared: list[str]
    bodies: list[list[str]]


def _fallthrough_chains(prog: Program) -> dict[int, list[int]]:
    """Threaded mode: a block that is not a JUMPDEST is reached only by falling through a JUMPI, so it
    is emitted as a label inside that JUMPI's function (clang then forwards the stack words the JUMPI
    block stored). Chains of such blocks by head block, up to CHUNK instructions after the head."""
    chains: dict[int, list[int]] = {}
    for s in prog.reachable:
        b = prog.blocks[s]
        if s != 0 and s not in prog.jumpdests:
            continue
        chain, size = [], 0
        while (b.last_op == JUMPI and b.next_pc is not None and b.next_pc in prog.blocks
               and b.next_pc not in prog.jumpdests):
            b = prog.blocks[b.next_pc]
            size += len(b.instrs)
            if size > CHUNK:
                break
            chain.append(b.start)
        if chain:
            chains[s] = chain
    return chains


def _emit_threaded(prog: Program, name: str) -> Emitted:
    """One small function per block, chained by guaranteed tail calls: compile time stays linear in
    the code size; the stack lives in a heap array addressed by `sp`."""
    blocks = [prog.blocks[s] for s in prog.reachable]
    reached = set(prog.reachable)
    chains = _fallthrough_chains(prog)
    inline = frozenset(s for chain in chains.values() for s in chain)
    emitters = {b.start: _BlockEmitter(prog, b, name, None, inline=inline) for b in blocks}
    bodies = []
    for b in blocks:
        if b.start in inline:
            continue
        body = emitters[b.start].emit()
        for s in chains.get(b.start, ()):
            body = body[:-1] + emitters[s].emit() + ["}"]
        bodies.append(body)
    protos = [p for e in emitters.values() for p in e.protos]
    protos.append(f"BLOCKFN int32_t {name}_dispatch{_SIG};")
    out = [f"BLOCKFN int32_t {name}_dispatch{_SIG} {{\nswitch (jt) {{"]
    out += [f"case {d}: __attribute__((musttail)) return {name}_b{d}(f, stk, sp, gas, 0);"
            for d in sorted(prog.jumpdests) if d in reached]
    out.append("default: return AOT_BAD_JUMP; }\n}")
    out += [*_entry(prog, name),
            f"if (!f->stack && !(f->stack = malloc(sizeof(u256) * {STACK_LIMIT}))) return AOT_HOST_ERROR;",
            f"int32_t st = {name}_b0(f, f->stack, f->stack, gas, 0);" if blocks else "int32_t st = AOT_STOP;",
            "if (f->gas < 0 && st <= AOT_REVERT) st = AOT_OOG;", "return st;", "}"]
    return Emitted(protos, out, bodies)


def emit_parts(prog: Program, name: str) -> Emitted:
    """The C of `int32_t name(aot_frame *f)` running `prog`, with its block functions."""
    small = sum(len(prog.blocks[s].instrs) for s in prog.reachable) <= REGISTER_MODE_MAX_INSTRS
    if prog.heights is not None and small and _register_slots(prog) <= REGISTER_MODE_MAX_SLOTS:
        return Emitted([], _emit_registers(prog, name), [])
    return _emit_threaded(prog, name)


def _register_slots(prog: Program) -> int:
    """The locals register mode declares: the deepest stack height any block reaches."""
    assert prog.heights is not None
    blocks = [prog.blocks[s] for s in prog.reachable if s in prog.heights]
    return min(max((prog.heights[b.start] + b.stack_growth for b in blocks), default=0), STACK_LIMIT)


def emit_function(prog: Program, name: str) -> str:
    """The C definition of `int32_t name(aot_frame *f)` running `prog` (plus its block functions)."""
    e = emit_parts(prog, name)
    return "\n".join(e.protos + [line for body in e.bodies for line in body] + e.shared) + "\n"


def _prelude(functions: list[tuple[str, Program]]) -> str:
    """The runtime, with MLOAD's load_be forced inline unless the code is large."""
    size = sum(len(p.blocks[s].instrs) for _, p in functions for s in p.reachable)
    return ("#define AOT_INLINE_LOADS\n" if size <= INLINE_LOADS_MAX_INSTRS else "") + RUNTIME


def emit_unit(functions: list[tuple[str, Program]]) -> str:
    """A translation unit: the runtime followed by one function per (name, program)."""
    assert MAX_HOST_ARGS == 7, "runtime.h sizes io[] for 7 host arguments"
    assert ENV_INDEX[0x34] == 3, "runtime.h: AOT_ENV_CALLVALUE"
    return _prelude(functions) + "\n" + "".join(emit_function(p, n) for n, p in functions)


def emit_units(functions: list[tuple[str, Program]], parts: int) -> list[str]:
    """The same code as emit_unit split into up to `parts` translation units of similar size, to be
    compiled in parallel and linked into one shared object (block functions get hidden linkage)."""
    emitted = [emit_parts(p, n) for n, p in functions]
    bodies = [b for e in emitted for b in e.bodies]
    parts = max(1, min(parts, len(bodies)))
    if parts == 1:
        return [emit_unit(functions)]
    protos = [line for e in emitted for line in e.protos]
    units: list[list[str]] = [[line for e in emitted for line in e.shared]] + [[] for _ in range(parts - 1)]
    for body in sorted(bodies, key=len, reverse=True):
        min(units, key=len).extend(body)
    head = "\n".join(protos) + "\n"
    prelude = _prelude(functions)
    return [("#define AOT_SPLIT\n" + prelude + "\n" + head
             + "\n".join(lines) + "\n") for i, lines in enumerate(units) if lines or i == 0]
