"""Precompile overrides: py-evm's KZG point evaluation (EIP-4844) with the trusted setup loaded once.

py-evm 0.12 re-reads the 4096-point trusted setup on every call (≈2 s); the result is otherwise identical,
which the ethereum/tests point-evaluation cases check. MegaETH's own precompile prices (KZG 100,000,
MODEXP EIP-7883; spec/mega-evm.md §1) belong to the rules layer and will wrap these tables.
"""

from __future__ import annotations

import functools
from typing import Any

from ckzg import load_trusted_setup, verify_kzg_proof
from eth.abc import ComputationAPI
from eth.exceptions import VMError
from eth.precompiles import point_evaluation
from eth.vm.forks.cancun.computation import CancunComputation
from eth.vm.forks.cancun.constants import BLS_MODULUS, FIELD_ELEMENTS_PER_BLOB, POINT_EVALUATION_PRECOMPILE_GAS
from eth.vm.forks.prague.computation import PragueComputation

POINT_EVALUATION_ADDRESS = (0x0A).to_bytes(20, "big")


@functools.cache
def trusted_setup() -> Any:
    return load_trusted_setup(point_evaluation.TRUSTED_SETUP_PATH, 0)


def point_evaluation_precompile(computation: ComputationAPI) -> ComputationAPI:
    """EIP-4844 point evaluation: verify p(z) = y for the versioned hash's commitment."""
    computation.consume_gas(POINT_EVALUATION_PRECOMPILE_GAS, reason="Point Evaluation Precompile")
    data = computation.msg.data_as_bytes
    if len(data) != 192:
        raise VMError("Point evaluation invalid input length.")
    versioned_hash, z, y, commitment, proof = data[:32], data[32:64], data[64:96], data[96:144], data[144:]
    if point_evaluation.kzg_to_versioned_hash(commitment) != versioned_hash:
        raise VMError("Point evaluation commitment does not match versioned hash.")
    try:
        valid = verify_kzg_proof(commitment, z, y, proof, trusted_setup())
    except RuntimeError:
        valid = False
    if not valid:
        raise VMError("Point evaluation KZG proof verification failed.")
    computation.output = FIELD_ELEMENTS_PER_BLOB.to_bytes(32, "big") + BLS_MODULUS.to_bytes(32, "big")
    return computation


class FastCancunComputation(CancunComputation):
    _precompiles = {**CancunComputation.get_precompiles(), POINT_EVALUATION_ADDRESS: point_evaluation_precompile}


class FastPragueComputation(PragueComputation):
    _precompiles = {**PragueComputation.get_precompiles(), POINT_EVALUATION_ADDRESS: point_evaluation_precompile}
