"""The dev chain: funded accounts from a fixed mnemonic (as Anvil and Hardhat do) and block 0."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import lmdb
from eth_account import Account as EthAccount
from eth_hash.auto import keccak

from gas.spec import MAINNET, TESTNET, ChainConfig, ForkSchedule
from megaeth_node.store import ChainStore
from megaeth_node.types import EMPTY_TRIE_ROOT, Block, Header
from salt.store import SaltStore
from salt.types import encode_account

DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_BALANCE = 10_000 * 10**18
EMPTY_OMMERS = keccak(bytes.fromhex("c0"))
EMPTY_REQUESTS_HASH = hashlib.sha256(b"").digest()
EMPTY_BLOOM = bytes(256)
SEQUENCER_FEE_VAULT = bytes.fromhex("4200000000000000000000000000000000000011")
HOLOCENE_EXTRA_DATA = b"\x00" + (250).to_bytes(4, "big") + (2).to_bytes(4, "big")  # denominator, elasticity


def dev_chain(chain_id: int) -> ChainConfig:
    """MiniRex to Rex2 from genesis (the newest MegaETH rules this node implements), without MegaETH's system
    contracts: this package does not carry their bytecode (an oracle with a code hash but no code would fail
    every call to it), so the dev chain has none, and Rex2's upgrade of the oracle has nothing to act on."""
    return ChainConfig(chain_id, ForkSchedule(mini_rex=0, rex=0, rex1=0, rex2=0), system_contracts=False)


def named_chain(name: str, chain_id: int) -> ChainConfig:
    """`testnet` (the fixture chain: MiniRex + Rex), `mainnet`, or `dev` (what `megaeth-node run` produces)."""
    if name == "mainnet":
        return MAINNET
    if name == "dev":
        return dev_chain(chain_id)
    return ChainConfig(chain_id, TESTNET.forks)


@dataclass(frozen=True, slots=True)
class DevAccount:
    address: bytes
    private_key: bytes


def dev_accounts(mnemonic: str = DEV_MNEMONIC, count: int = 10) -> list[DevAccount]:
    """BIP-44 accounts m/44'/60'/0'/0/i of `mnemonic`."""
    EthAccount.enable_unaudited_hdwallet_features()
    out = []
    for i in range(count):
        acct = EthAccount.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}")
        out.append(DevAccount(bytes.fromhex(acct.address[2:]), bytes(acct.key)))
    return out


def genesis_header(state_root: bytes, timestamp: int, gas_limit: int, base_fee: int) -> Header:
    return Header(
        parent_hash=bytes(32), ommers_hash=EMPTY_OMMERS, coinbase=SEQUENCER_FEE_VAULT, state_root=state_root,
        transactions_root=EMPTY_TRIE_ROOT, receipts_root=EMPTY_TRIE_ROOT, logs_bloom=EMPTY_BLOOM, difficulty=0,
        number=0, gas_limit=gas_limit, gas_used=0, timestamp=timestamp, extra_data=HOLOCENE_EXTRA_DATA,
        mix_hash=bytes(32), nonce=bytes(8), base_fee_per_gas=base_fee, withdrawals_root=EMPTY_TRIE_ROOT,
        blob_gas_used=0, excess_blob_gas=0, parent_beacon_block_root=bytes(32), requests_hash=EMPTY_REQUESTS_HASH,
    )


def init_genesis(env: lmdb.Environment, chain: ChainStore, salt: SaltStore, alloc: dict[bytes, int],
                 timestamp: int, gas_limit: int, base_fee: int) -> Header:
    """Write block 0 with `alloc` (address → balance) unless the store already has a chain; return the head."""
    head = chain.head()
    if head is not None:
        header = chain.header(head)
        assert header is not None
        return header
    overlay = salt.overlay()
    root = overlay.apply({addr: encode_account(0, bal) for addr, bal in alloc.items()})
    header = genesis_header(root, timestamp, gas_limit, base_fee)
    with env.begin(write=True) as txn:
        overlay.commit(txn)
        chain.write_block(txn, Block(header, (), (), header.hash), ())
    return header
