"""Bytecode analysis: instructions, JUMPDESTs, basic blocks with static gas and stack summaries,
reachability, loops (`Program.loops`) and (when they exist) static stack heights.

A block starts at offset 0, at every JUMPDEST and after every terminator or undefined opcode. A block
ending in an undefined opcode (0xFE included) stays in the graph and fails at run time (spec/aot.md §8.1–2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aot.opcodes import JUMP, JUMPDEST, JUMPI, OPS, PUSH0, PUSH32, TERMINATORS, OpInfo, ops_for, push_size

STACK_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class Instr:
    """One decoded instruction; `imm` is the PUSH immediate (zero-padded past the end of the code)."""

    pc: int
    op: int
    imm: int = 0


@dataclass(slots=True)
class Block:
    """A basic block and its summary (spec/aot.md §2.2).

    `instrs` excludes a trailing undefined opcode (`invalid` is then True) and includes a PUSH fused
    into a following JUMP/JUMPI (`target` is its constant). `next_pc` is the fall-through successor.
    """

    start: int
    instrs: list[Instr] = field(default_factory=list)
    invalid: bool = False
    target: int | None = None
    next_pc: int | None = None
    gas: int = 0
    stack_req: int = 0
    stack_growth: int = 0
    stack_net: int = 0

    @property
    def last_op(self) -> int | None:
        return self.instrs[-1].op if self.instrs else None

    @property
    def dynamic_jump(self) -> bool:
        return self.last_op in (JUMP, JUMPI) and self.target is None


@dataclass(slots=True)
class Program:
    """The analysed contract: blocks by start offset, JUMPDESTs, reachable blocks, static heights, and the
    opcode table of its native flavour."""

    code: bytes
    blocks: dict[int, Block]
    jumpdests: frozenset[int]
    reachable: list[int]
    heights: dict[int, int] | None
    ops: dict[int, OpInfo] = field(default_factory=lambda: OPS)

    def successors(self, b: Block) -> list[int]:
        """Start offsets of the blocks control can reach from `b` without a dynamic jump."""
        out = []
        if b.next_pc is not None and b.next_pc in self.blocks:
            out.append(b.next_pc)
        if b.target is not None and b.target in self.jumpdests:
            out.append(b.target)
        return out

    def loops(self, blocks: list[int]) -> list[set[int]]:
        """The strongly connected components of the constant-jump graph over `blocks` that contain a cycle
        (Tarjan)."""
        index: dict[int, int] = {}
        low: dict[int, int] = {}
        on: set[int] = set()
        stack: list[int] = []
        out: list[set[int]] = []
        inside = set(blocks)
        for root in blocks:
            if root in index:
                continue
            work = [(root, iter([s for s in self.successors(self.blocks[root]) if s in inside]))]
            index[root] = low[root] = len(index)
            stack.append(root)
            on.add(root)
            while work:
                v, it = work[-1]
                w = next(it, None)
                if w is not None:
                    if w not in index:
                        index[w] = low[w] = len(index)
                        stack.append(w)
                        on.add(w)
                        work.append((w, iter([s for s in self.successors(self.blocks[w]) if s in inside])))
                    elif w in on:
                        low[v] = min(low[v], index[w])
                    continue
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.add(w)
                        if w == v:
                            break
                    if len(comp) > 1 or v in self.successors(self.blocks[v]):
                        out.append(comp)
        return out


def decode(code: bytes) -> list[Instr]:
    """Decode `code` into instructions, skipping PUSH immediates."""
    out, pc, n = [], 0, len(code)
    while pc < n:
        op = code[pc]
        size = push_size(op)
        imm = int.from_bytes(code[pc + 1 : pc + 1 + size].ljust(size, b"\0"), "big") if size else 0
        out.append(Instr(pc, op, imm))
        pc += 1 + size
    return out


def _summarise(b: Block, ops: dict[int, OpInfo]) -> None:
    net = req = growth = 0
    for ins in b.instrs:
        info = ops[ins.op]
        b.gas += info.gas
        req = max(req, info.stack_in - net)
        net += info.stack_out - info.stack_in
        growth = max(growth, net)
    b.stack_req, b.stack_growth, b.stack_net = req, growth, net


def split_blocks(instrs: list[Instr], ops: dict[int, OpInfo] = OPS) -> dict[int, Block]:
    """Cut the instruction list into basic blocks keyed by start offset (static gas from `ops`)."""
    blocks: dict[int, Block] = {}
    cur: Block | None = None
    for i, ins in enumerate(instrs):
        if cur is None or ins.op == JUMPDEST:
            if cur is not None:
                cur.next_pc = ins.pc
            cur = blocks[ins.pc] = Block(ins.pc)
        if ins.op not in OPS:
            cur.invalid = True
            cur = None
            continue
        cur.instrs.append(ins)
        if ins.op in (JUMP, JUMPI) and len(cur.instrs) > 1 and PUSH0 <= cur.instrs[-2].op <= PUSH32:
            cur.target = cur.instrs[-2].imm
        if ins.op in TERMINATORS:
            if ins.op == JUMPI:
                cur.next_pc = instrs[i + 1].pc if i + 1 < len(instrs) else None
            cur = None
    for b in blocks.values():
        _summarise(b, ops)
    return blocks


def _reachable(blocks: dict[int, Block], jumpdests: frozenset[int]) -> tuple[list[int], bool]:
    seen: set[int] = set()
    todo = [0] if 0 in blocks else []
    dynamic = False
    while todo:
        s = todo.pop()
        if s in seen:
            continue
        seen.add(s)
        b = blocks[s]
        if b.dynamic_jump and not dynamic:
            dynamic = True
            todo.extend(jumpdests)
        if not b.invalid:
            if b.next_pc is not None and b.next_pc in blocks:
                todo.append(b.next_pc)
            if b.target is not None and b.target in jumpdests:
                todo.append(b.target)
    return sorted(seen), dynamic


def _static_heights(prog: Program) -> dict[int, int] | None:
    """Entry stack height of every reachable block when it is the same on every path, else None."""
    heights = {0: 0} if prog.reachable else {}
    todo = list(heights)
    while todo:
        b = prog.blocks[todo.pop()]
        h = heights[b.start]
        if b.invalid or h < b.stack_req or h + b.stack_growth > STACK_LIMIT:
            continue
        for s in prog.successors(b):
            if s not in heights:
                heights[s] = h + b.stack_net
                todo.append(s)
            elif heights[s] != h + b.stack_net:
                return None
    return heights


def analyse(code: bytes, flavour: str = "cancun") -> Program:
    """Decode, split, summarise, and find reachable blocks and static stack heights."""
    ops = ops_for(flavour)
    instrs = decode(code)
    jumpdests = frozenset(i.pc for i in instrs if i.op == JUMPDEST)
    blocks = split_blocks(instrs, ops)
    reachable, dynamic = _reachable(blocks, jumpdests)
    prog = Program(code, blocks, jumpdests, reachable, None, ops)
    if not dynamic:
        prog.heights = _static_heights(prog)
    return prog
