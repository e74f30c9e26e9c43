"""MegaETH precompile prices (spec/mega-evm.md §1, §5.2): KZG point evaluation at a flat 100,000 and MODEXP
with the EIP-7883 (Osaka) price, as revm's `modexp::OSAKA` that mega-evm `evm/precompiles.rs` installs.

P256VERIFY (RIP-7212, 3,450 gas at `0x…0100`) is part of op-revm's Isthmus set (added in Fjord), which
mega-evm's `mini_rex()` / `rex()` sets extend; py-evm's Prague set lacks it, so it is added here.

The KZG price comes from `gas.opcodes.kzg_point_evaluation_gas`. The EIP-7883 formula below is the one
gas rule not (yet) in `gas/` (its author left MODEXP out); it is written from EIP-7883 itself. Whether
revm 27.1's Osaka variant also enforces the EIP-7823 input bounds (≤ 1,024 bytes each) is an open point
(§11); it is applied here. No fixture transaction calls MODEXP (checked by replay), so neither choice is
exercised by the acceptance blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from Crypto.PublicKey import ECC
from eth.abc import ComputationAPI
from eth.exceptions import VMError
from eth.precompiles.modexp import extract_lengths, modexp
from eth.vm.forks.cancun.constants import POINT_EVALUATION_PRECOMPILE_GAS
from eth_utils import big_endian_to_int
from gas.opcodes import kzg_point_evaluation_gas
from gas.spec import Spec

from megaeth_node.executor.precompiles import POINT_EVALUATION_ADDRESS, point_evaluation_precompile

MODEXP_ADDRESS = (0x05).to_bytes(20, "big")
P256VERIFY_ADDRESS = (0x0100).to_bytes(20, "big")
P256VERIFY_GAS = 3_450  # op-revm Fjord `secp256r1::P256VERIFY`
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
P256_GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5
EIP7823_MAX_INPUT = 1024


def modexp_gas_eip7883(data: bytes) -> int:
    """EIP-7883: min 500; complexity 16 for ≤ 32-byte operands else 2·words²; iteration count with a
    16× multiplier for exponent bytes past the first 32; no divisor. Empty base and modulus cost the minimum,
    whatever the exponent (revm returns before pricing it)."""
    base_len, exp_len, mod_len = extract_lengths(data)
    if base_len == 0 and mod_len == 0:
        return 500
    max_len = max(base_len, mod_len)
    words = (max_len + 7) // 8
    complexity = 16 if max_len <= 32 else 2 * words * words
    head = data[96 + base_len: 96 + base_len + min(exp_len, 32)]
    head_value = big_endian_to_int(head.ljust(min(exp_len, 32), b"\x00")) if exp_len else 0
    if exp_len <= 32:
        iterations = head_value.bit_length() - 1 if head_value else 0
    else:
        iterations = 16 * (exp_len - 32) + max(head_value.bit_length() - 1, 0)
    return max(500, complexity * max(iterations, 1))


def _modexp_osaka(computation: ComputationAPI) -> ComputationAPI:
    base_len, exp_len, mod_len = extract_lengths(computation.msg.data_as_bytes)
    if max(base_len, exp_len, mod_len) > EIP7823_MAX_INPUT:
        raise VMError("MODEXP input exceeds the EIP-7823 bound")
    return modexp(computation, gas_calculator=modexp_gas_eip7883)  # type: ignore[no-any-return]


def _kzg(spec: Spec) -> Callable[[ComputationAPI], ComputationAPI]:
    extra = kzg_point_evaluation_gas(spec).compute - POINT_EVALUATION_PRECOMPILE_GAS

    def kzg_point_evaluation(computation: ComputationAPI) -> ComputationAPI:
        if extra:
            computation.consume_gas(extra, reason="MegaETH KZG point evaluation price")
        return point_evaluation_precompile(computation)
    return kzg_point_evaluation


def p256_verify(data: bytes) -> bool:
    """RIP-7212: `hash ‖ r ‖ s ‖ x ‖ y` (160 bytes) is a valid secp256r1 signature (hash reduced mod n)."""
    if len(data) != 160:
        return False
    z, r, s, x, y = (int.from_bytes(data[i:i + 32], "big") for i in range(0, 160, 32))
    if not (0 < r < P256_N and 0 < s < P256_N):
        return False
    try:
        q = ECC.EccPoint(x, y, curve="P-256")
    except ValueError:
        return False
    if q.is_point_at_infinity():
        return False
    w = pow(s, -1, P256_N)
    g = ECC.EccPoint(P256_GX, P256_GY, curve="P-256")
    point = g * ((z % P256_N) * w % P256_N) + q * (r * w % P256_N)
    return not point.is_point_at_infinity() and int(point.x) % P256_N == r


def _p256verify(computation: ComputationAPI) -> ComputationAPI:
    computation.consume_gas(P256VERIFY_GAS, reason="P256VERIFY")
    computation.output = (1).to_bytes(32, "big") if p256_verify(computation.msg.data_as_bytes) else b""
    return computation


def rex_precompiles(base: dict[Any, Any], spec: Spec = Spec.REX) -> dict[Any, Any]:
    """The Isthmus precompile set (Prague's plus P256VERIFY) with MegaETH's MODEXP and KZG prices (MiniRex+)."""
    return {**base, MODEXP_ADDRESS: _modexp_osaka, POINT_EVALUATION_ADDRESS: _kzg(spec),
            P256VERIFY_ADDRESS: _p256verify}
