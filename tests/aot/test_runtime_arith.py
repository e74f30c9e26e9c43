"""runtime.h's 256-bit division, modulo, signed division, ADDMOD and MULMOD (Knuth D on 64-bit limbs)
against Python integers, on edge values and random operands of every limb length."""

from __future__ import annotations

import random
from pathlib import Path

import cffi

from aot.build import compile_shared
from aot.codegen import RUNTIME
from aot.loader import AOT_FLAGS
from aot.toolchain import find_compiler

U256 = 1 << 256
OPS2 = ("div", "mod", "sdiv", "smod")
OPS3 = ("addmod", "mulmod")
_WRAP = "static aot_modcache cache;\n" + "".join(
    f"EXPORT void t_{op}(const uint8_t *a, const uint8_t *b, uint8_t *o) {{ u256 x, y, z; memcpy(&x, a, 32); "
    f"memcpy(&y, b, 32); z = op_{op}(x, y); memcpy(o, &z, 32); }}\n" for op in OPS2) + "".join(
    f"EXPORT void t_{op}_i(const uint8_t *a, const uint8_t *b, uint8_t *o) {{ u256 x, y, z; memcpy(&x, a, 32); "
    f"memcpy(&y, b, 32); z = {op}_i(x, y); memcpy(o, &z, 32); }}\n" for op in OPS2) + "".join(
    f"EXPORT void t_{op}(const uint8_t *a, const uint8_t *b, const uint8_t *n, uint8_t *o) {{ u256 x, y, m, z; "
    f"memcpy(&x, a, 32); memcpy(&y, b, 32); memcpy(&m, n, 32); z = op_{op}({'&cache, ' * (op == 'mulmod')}x, y, m); "
    f"memcpy(o, &z, 32); }}\n" for op in OPS3)


def _signed(x: int) -> int:
    return x - U256 if x >> 255 else x


def expected(op: str, a: int, b: int, n: int = 0) -> int:
    if op in OPS3:
        return 0 if n == 0 else ((a + b) if op == "addmod" else (a * b)) % n
    if b == 0:
        return 0
    if op == "div":
        return a // b
    if op == "mod":
        return a % b
    sa, sb = _signed(a), _signed(b)
    if op == "sdiv":
        q = abs(sa) // abs(sb)
        return (-q if (sa < 0) != (sb < 0) else q) % U256
    r = abs(sa) % abs(sb)
    return (-r if sa < 0 else r) % U256


def _operand(rng: random.Random) -> int:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.choice((0, 1, 2, U256 - 1, U256 - 2, 1 << 255, (1 << 64) - 1, 1 << 64, (1 << 128) - 1, 1 << 192,
                           1 << 63, (1 << 63) - 1, U256 - (1 << 63), U256 - (1 << 63) - 1, 7, U256 - 7))
    if kind == 5:  # small signed values (SDIV/SMOD's inline 64-bit path)
        return rng.randrange(-(1 << 63), 1 << 63) % U256
    bits = rng.choice((8, 63, 64, 65, 127, 128, 129, 191, 192, 193, 255, 256))
    x = rng.getrandbits(bits)
    if kind == 1:  # long runs of ones (qhat correction paths)
        x |= ((1 << bits) - 1) ^ ((1 << rng.randrange(bits)) - 1)
    return x % U256


def _library(tmp_path: Path) -> tuple[cffi.FFI, object]:
    ffi = cffi.FFI()
    ffi.cdef("".join(f"void t_{op}{i}(const uint8_t *, const uint8_t *, uint8_t *);" for op in OPS2 for i in ("", "_i"))
             + "".join(f"void t_{op}(const uint8_t *, const uint8_t *, const uint8_t *, uint8_t *);" for op in OPS3))
    return ffi, ffi.dlopen(str(compile_shared(find_compiler(), "#define AOT_RUNTIME\n" + RUNTIME + _WRAP,
                                              tmp_path / "arith.so", AOT_FLAGS)))


def test_division_family_matches_python(tmp_path: Path) -> None:
    ffi, lib = _library(tmp_path)
    rng = random.Random(20240607)
    out = ffi.new("uint8_t[32]")
    for _ in range(4000):
        a, b, n = _operand(rng), _operand(rng), _operand(rng)
        la, lb, ln = (x.to_bytes(32, "little") for x in (a, b, n))
        for op in OPS2:
            for fn in (f"t_{op}", f"t_{op}_i"):  # the runtime's long division, and with the inline 64-bit path
                getattr(lib, fn)(la, lb, out)
                assert int.from_bytes(ffi.buffer(out), "little") == expected(op, a, b), (fn, hex(a), hex(b))
        for op in OPS3:
            getattr(lib, f"t_{op}")(la, lb, ln, out)
            assert int.from_bytes(ffi.buffer(out), "little") == expected(op, a, b, n), (op, hex(a), hex(b), hex(n))


MODULI = (
    0x30644E72E131A029B85045B68181585D97816A916871CA8D3C208C16D87CFD47,  # BN254 p (weierstrudel)
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F,  # secp256k1 p
    U256 - 1, (1 << 192) + 1, (1 << 255) + 1, (1 << 193) - 1, 3 << 192, 1 << 200,
)


def test_mulmod_barrett_with_a_cached_modulus(tmp_path: Path) -> None:
    """Runs of MULMOD by one modulus (Barrett with the cached constant), switching moduli between runs,
    and moduli alternating call by call (long division, as mulDiv does)."""
    ffi, lib = _library(tmp_path)
    rng = random.Random(77)
    out = ffi.new("uint8_t[32]")
    runs = [[n] * 1500 for n in MODULI * 2]
    alternating = [[MODULI[(k + i) % 3] for k in range(900)] for i in range(len(MODULI))]
    for moduli in runs + alternating:
        for n in moduli:
            near = [n - 1, n - 2, n // 2 + 1, (U256 - 1) // n * n % U256, U256 - 1]
            a = rng.choice(near) if rng.random() < 0.2 else _operand(rng)
            b = rng.choice(near) if rng.random() < 0.2 else rng.getrandbits(256)
            lib.t_mulmod(a.to_bytes(32, "little"), b.to_bytes(32, "little"), n.to_bytes(32, "little"), out)
            assert int.from_bytes(ffi.buffer(out), "little") == a * b % n, (hex(a), hex(b), hex(n))
