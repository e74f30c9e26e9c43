"""EIP-7702 authorization lists in requests (eth_call, eth_estimateGas, eth_fillTransaction, eth_sendTransaction):
the simulation runs as a set-code transaction and a filled or sent one is of type 4 (execution-apis
`eth_estimateGas/estimate-with-eip7702.io`: an authorization costs its intrinsic gas)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import rlp
from eth_account import Account
from eth_hash.auto import keccak
from evm_asm import deploying

from megaeth_node.genesis import dev_accounts, dev_chain
from megaeth_node.sequencer import Sequencer, SequencerSettings
from megaeth_node.types import SET_CODE_TX_TYPE, Transaction
from rpc.methods_dev import dev_methods
from rpc.methods_eth import eth_methods

CHAIN_ID = 6342
ACCOUNTS = dev_accounts()
RETURNS_42 = bytes.fromhex("602a60005260206000f3")  # code: return 42


def test_authorization_lists_in_requests(tmp_path: Path) -> None:
    node = Sequencer(SequencerSettings(dev_chain(CHAIN_ID), tmp_path, block_time_ms=0,
                                       alloc={a.address: 10**24 for a in ACCOUNTS}))
    m = eth_methods(node)
    m.update(dev_methods(node, ACCOUNTS, m["eth_estimateGas"]))
    deployer, authority = ACCOUNTS[3], Account.create()
    run = asyncio.run

    def seal() -> None:
        node._mini_block()
        node._seal()

    run(m["eth_sendTransaction"]([{"from": "0x" + deployer.address.hex(), "data": "0x" + deploying(RETURNS_42).hex()}]))
    seal()
    target = keccak(rlp.encode([deployer.address, 0]))[12:]  # the contract the authority delegates to
    auth = authority.sign_authorization({"chainId": CHAIN_ID, "address": target, "nonce": 0})
    auth_json = {"chainId": hex(CHAIN_ID), "address": "0x" + target.hex(), "nonce": "0x0",
                 "yParity": hex(auth.y_parity), "r": hex(auth.r), "s": hex(auth.s)}
    me = "0x" + ACCOUNTS[4].address.hex()
    plain: dict[str, Any] = {"from": me, "to": authority.address}
    delegated = {**plain, "authorizationList": [auth_json]}

    assert run(m["eth_call"]([plain, "latest"])) == "0x"  # an account with no code
    assert int(run(m["eth_call"]([delegated, "latest"])), 16) == 42  # runs the code it delegates to
    gas, gas_delegated = (int(run(m["eth_estimateGas"]([r])), 16) for r in (plain, delegated))
    assert gas_delegated >= gas + 25_000  # an authorization's intrinsic gas (a new authority: no refund)

    filled = run(m["eth_fillTransaction"]([delegated]))
    assert filled["tx"]["type"] == "0x4" and filled["tx"]["authorizationList"] == [auth_json]
    assert Transaction.decode(bytes.fromhex(filled["raw"][2:])).type == SET_CODE_TX_TYPE

    run(m["eth_sendTransaction"]([delegated]))
    seal()
    sent = node.chain.block(node.head.number).transactions[0]
    assert sent.type == SET_CODE_TX_TYPE and len(sent.authorization_list) == 1
    assert run(m["eth_getCode"]([authority.address, "latest"])) == "0xef0100" + target.hex()
