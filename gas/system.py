"""System contracts, fee vaults, Mega system transactions and OP deposit constants (§7.1–7.3, §8).

Addresses are 20-byte `bytes`, as py-evm uses them.
"""

from __future__ import annotations

from gas.schedule import SCHEDULE
from gas.spec import ForkSchedule, Spec


def _addr(hex_address: str) -> bytes:
    raw = bytes.fromhex(hex_address.removeprefix("0x"))
    assert len(raw) == 20, hex_address
    return raw


# MegaETH system contracts (§7.1).
ORACLE_ADDRESS = _addr("0x6342000000000000000000000000000000000001")
TIMESTAMP_ORACLE_ADDRESS = _addr("0x6342000000000000000000000000000000000002")
KEYLESS_DEPLOY_ADDRESS = _addr("0x6342000000000000000000000000000000000003")
KEYLESS_DEPLOY_SELECTOR = bytes.fromhex("846365d5")  # keylessDeploy(bytes,uint256)
ORACLE_CODE_HASH_V1_0_0 = bytes.fromhex("e9b044afb735a0f569faeb248088b4f267578f60722f87d06ec3867b250a2c34")
ORACLE_CODE_HASH_V1_1_0 = bytes.fromhex("06df675a69e53ea2a3c948521e330b3801740fede324a1cef2044418f8e09242")
TIMESTAMP_ORACLE_CODE_HASH = bytes.fromhex("1b2df8ca5350cd7106d67ed95532584526f97a5ca267c8eef73a1831f53720f2")
KEYLESS_DEPLOY_CODE_HASH = bytes.fromhex("55020d41649acf7a84add6e628b887f802218d9ac86f142ef0994da43ea5eeb6")

# Mega system transactions (§7.2).
MEGA_SYSTEM_ADDRESS = _addr("0xA887dCB9D5f39Ef79272801d05Abdf707CFBbD1d")
MEGA_SYSTEM_TX_WHITELIST: frozenset[bytes] = frozenset({ORACLE_ADDRESS})
MEGA_SYSTEM_TX_SOURCE_HASH = bytes.fromhex("852c082c0faff590c6300c2c34815d1f79882552fa95ba413cd5aeb1dba84957")

# OP stack predeploys and fee vaults (§7.1, §7.4).
L1_BLOCK_ADDRESS = _addr("0x4200000000000000000000000000000000000015")
L2_TO_L1_MESSAGE_PASSER_ADDRESS = _addr("0x4200000000000000000000000000000000000016")
SEQUENCER_FEE_VAULT_ADDRESS = _addr("0x4200000000000000000000000000000000000011")
BASE_FEE_VAULT_ADDRESS = _addr("0x4200000000000000000000000000000000000019")
L1_FEE_VAULT_ADDRESS = _addr("0x420000000000000000000000000000000000001A")
OPERATOR_FEE_VAULT_ADDRESS = _addr("0x420000000000000000000000000000000000001B")

# OP deposits (§7.3).
DEPOSIT_TX_TYPE = 0x7E
DEPOSIT_RECEIPT_VERSION = 1
L1_ATTRIBUTES_DEPOSITOR_ADDRESS = _addr("0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001")
SET_L1_BLOCK_VALUES_ISTHMUS_SELECTOR = bytes.fromhex("098999be")

# Pre-block system calls (§8).
SYSTEM_CALLER_ADDRESS = _addr("0xfffffffffffffffffffffffffffffffffffffffe")
HISTORY_STORAGE_ADDRESS = _addr("0x0000F90827F1C53a10cb7A02335B175320002935")
BEACON_ROOTS_ADDRESS = _addr("0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02")
SYSTEM_CALL_GAS_LIMIT = 30_000_000
HISTORY_SERVE_WINDOW = 8_191


class InvalidSystemTx(ValueError):
    """A tx from `MEGA_SYSTEM_ADDRESS` that is not a valid Mega system tx (§3 step 1)."""


def is_mega_system_tx(spec: Spec, sender: bytes, tx_type: int, to: bytes | None) -> bool:
    """A Mega system tx (MiniRex+): legacy (type 0), signed by `MEGA_SYSTEM_ADDRESS`, calling a
    whitelisted contract (the oracle). It is processed as a fee-less deposit with source hash
    `MEGA_SYSTEM_TX_SOURCE_HASH` and gas price 0, but pays intrinsic and execution gas and gets a
    legacy receipt. Raises `InvalidSystemTx` for any other tx from that sender (§7.2;
    mega-evm `system/tx.rs`, `evm/execution.rs` `before_run`)."""
    if not SCHEDULE[spec].mega_system_tx or sender != MEGA_SYSTEM_ADDRESS:
        return False
    if tx_type != 0 or to not in MEGA_SYSTEM_TX_WHITELIST:
        raise InvalidSystemTx("Mega system transaction callee is not in the whitelist")
    return True


def keyless_deploy_args(spec: Spec, to: bytes | None, data: bytes) -> tuple[bytes, int] | None:
    """(keylessDeploymentTransaction, gasLimitOverride) of a tx's top-level call that Rex2 intercepts for
    KeylessDeploy, else None (§2.1, §3.2 `frame_init` step 2; mega-evm `evm/execution.rs`): a call to
    `KEYLESS_DEPLOY_ADDRESS` whose calldata decodes as `keylessDeploy(bytes,uint256)` the lenient way (alloy
    `abi_decode`: the selector, a 64-byte head, the bytes' offset and length within the data; padding and
    trailing bytes unchecked). Any other call runs the contract's code."""
    if spec < Spec.REX2 or to != KEYLESS_DEPLOY_ADDRESS or data[:4] != KEYLESS_DEPLOY_SELECTOR:
        return None
    body = data[4:]
    if len(body) < 64:
        return None
    offset = int.from_bytes(body[:32], "big")
    if offset > len(body) - 32:
        return None
    length = int.from_bytes(body[offset:offset + 32], "big")
    if length > len(body) - offset - 32:
        return None
    return body[offset + 32:offset + 32 + length], int.from_bytes(body[32:64], "big")


def system_contract_code_hashes(forks: ForkSchedule, timestamp: int) -> tuple[tuple[bytes, bytes], ...]:
    """(address, code hash) of every MegaETH system contract the block executor installs before the first tx,
    in its order (§8 steps 4–6; mega-evm `system/oracle.rs`, `system/keyless_deploy.rs`): keyed on the
    hardforks, not the spec id, so MiniRex1's rollback to Equivalence keeps them. From MiniRex: the oracle
    (v1.0.0; v1.1.0 from Rex2) and the timestamp oracle; from Rex2 also KeylessDeploy."""
    if forks.mini_rex is None or timestamp < forks.mini_rex:
        return ()
    rex2 = forks.rex2 is not None and timestamp >= forks.rex2
    contracts = ((ORACLE_ADDRESS, ORACLE_CODE_HASH_V1_1_0 if rex2 else ORACLE_CODE_HASH_V1_0_0),
                 (TIMESTAMP_ORACLE_ADDRESS, TIMESTAMP_ORACLE_CODE_HASH))
    return (*contracts, (KEYLESS_DEPLOY_ADDRESS, KEYLESS_DEPLOY_CODE_HASH)) if rex2 else contracts
