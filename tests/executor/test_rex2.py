"""MegaETH Rex2 rules wired through the executor (spec/mega-evm.md §2.1, §8; mega-evm v1.3.1 `tests/rex2/`):
SELFDESTRUCT back with EIP-6780 semantics and plain compute gas, KeylessDeploy, the oracle's upgrade to v1.1.0;
everything else is Rex1's."""

from __future__ import annotations

from dataclasses import replace

import pytest
import rlp
from coincurve import PrivateKey

from gas.spec import ChainConfig, ForkSchedule, Spec
from gas.system import KEYLESS_DEPLOY_ADDRESS, KEYLESS_DEPLOY_CODE_HASH, KEYLESS_DEPLOY_SELECTOR, ORACLE_ADDRESS
from gas.system import ORACLE_CODE_HASH_V1_0_0, ORACLE_CODE_HASH_V1_1_0, TIMESTAMP_ORACLE_ADDRESS
from gas.system import TIMESTAMP_ORACLE_CODE_HASH

from megaeth_node.executor.block import OpenBlock, apply_block
from megaeth_node.executor.rex import RexRules
from megaeth_node.executor.state import Account, DictState
from megaeth_node.genesis import dev_chain
from megaeth_node.types import DEPOSIT_TX_TYPE, Authorization, Transaction, keccak256
from tests.executor.test_rex import ALICE, BOB, COINBASE, CONTRACT, DEPOSITOR, KEY, _block, _gas, _loop, _run, _state
from tests.executor.test_rex import _signed, _tx

PUSH0, PUSH20, COINBASE_OP, SELFDESTRUCT, STOP, STATICCALL, GAS = 0x5F, 0x73, 0x41, 0xFF, 0x00, 0xFA, 0x5A


def _rex2(state: object, *txs: object) -> object:
    return _run(state, *txs, spec=Spec.REX2)  # type: ignore[arg-type]


def test_rex2_rules() -> None:
    assert RexRules(Spec.REX2).spec == Spec.REX2


def test_rex2_selfdestruct_costs_5000() -> None:
    """upstream `tests/rex2/selfdestruct.rs` (`PUSH0 PUSH0 SELFDESTRUCT` to its warm coinbase, balance 0):
    60,000 intrinsic + 2 + 2 + 5,000, all of it compute gas (no storage gas, §2.1)."""
    code = bytes([PUSH0, COINBASE_OP, SELFDESTRUCT])
    result = _rex2(_state({CONTRACT: code}), _tx(to=CONTRACT, gas=100_000))
    assert result.receipts[0].status == 1 and _gas(result) == [65_004]


def test_selfdestruct_of_an_old_contract_only_moves_its_balance() -> None:
    """EIP-6780: a contract not created in this tx keeps its code, nonce and storage; its balance goes to the
    beneficiary (cold BOB: 5,000 + 2,600, BOB exists so no 25,000)."""
    code = bytes([PUSH20]) + BOB + bytes([SELFDESTRUCT])
    state = _state({CONTRACT: code})
    state.accounts[CONTRACT] = Account(1, 700, keccak256(code))
    state.accounts[BOB] = Account(0, 5)
    state.storage_map[(CONTRACT, 1)] = 9
    result = _rex2(state, _tx(to=CONTRACT, gas=100_000))
    assert _gas(result) == [60_000 + 3 + 5_000 + 2_600]
    diff = result.state_diff
    assert diff.accounts[CONTRACT] == Account(1, 0, keccak256(code))
    assert diff.accounts[BOB].balance == 705 and (CONTRACT, 1) not in diff.storage
    assert CONTRACT not in diff.storage_wiped


def test_selfdestruct_in_the_creating_tx_removes_the_account() -> None:
    """EIP-6780: a constructor that self-destructs leaves no account; its endowment goes to BOB, which did
    not exist (+25,000 new-account gas on top of 5,000 and the cold 2,600)."""
    initcode = bytes([PUSH20]) + BOB + bytes([SELFDESTRUCT])
    created = keccak256(bytes.fromhex("d694") + ALICE + b"\x80")[12:]
    result = _rex2(_state(), _tx(to=None, data=initcode, value=1_000, gas=500_000))
    assert result.receipts[0].status == 1
    diff = result.state_diff
    assert diff.accounts.get(created) is None and diff.accounts[BOB] == Account(0, 1_000)


def test_selfdestruct_in_a_static_call_halts() -> None:
    """SELFDESTRUCT under STATICCALL is a state change: the child halts and the caller carries on."""
    child = b"\xc1" * 20
    caller = bytes([PUSH0] * 4) + bytes([PUSH20]) + child + bytes([GAS, STATICCALL, STOP])
    state = _state({CONTRACT: caller, child: bytes([PUSH0, SELFDESTRUCT])})
    state.accounts[child] = Account(1, 50, keccak256(bytes([PUSH0, SELFDESTRUCT])))
    result = _rex2(state, _tx(to=CONTRACT, gas=200_000))
    assert result.receipts[0].status == 1 and child not in result.state_diff.accounts


def test_selfdestruct_to_the_coinbase_does_not_detain() -> None:
    """Rex2's SELFDESTRUCT is revm's, without the beneficiary access mark (REX4 adds it): after a child
    self-destructs to the coinbase, the caller's endless loop is not capped at 20,000,000 compute gas (where
    it would halt with the rest rescued) but runs out of its 25,000,000 gas."""
    child = b"\xc1" * 20
    call = bytes([PUSH0] * 5) + bytes([PUSH20]) + child + bytes([GAS, 0xF1, 0x50])  # CALL(all gas), POP
    state = _state({CONTRACT: call + _loop(len(call)), child: bytes([PUSH20]) + COINBASE + bytes([SELFDESTRUCT])})
    result = _rex2(state, _tx(to=CONTRACT, gas=25_000_000))
    assert result.receipts[0].status == 0 and _gas(result) == [25_000_000]


# --- KeylessDeploy (§2.1; mega-evm v1.3.1 `sandbox/*`, `tests/rex2/keyless_deploy.rs`) -----------------------

# Nick's CREATE2 factory deployment (pre-EIP-155, v = 27, r = s = 0x22…22; upstream `sandbox/tx.rs` tests)
FACTORY_TX = bytes.fromhex(
    "f8a58085174876e800830186a08080b853604580600e600039806000f350fe7fffffffffffffffffffffffffffffffffffffffffffffff"
    "ffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf31ba022222222222222"
    "22222222222222222222222222222222222222222222222222a02222222222222222222222222222222222222222222222222222222222"
    "222222")
FACTORY_SIGNER = bytes.fromhex("3fab184622dc19b6109349b94811493bf2a45362")
FACTORY = bytes.fromhex("4e59b44847b379578588920ca78fbf26c0b4956c")
FACTORY_CODE_HASH = bytes.fromhex("2fa86add0aed31f33a762c9d88e807c475bd51d0f52bd0955754b2608f7e4989")
GWEI = 10**9
# the EIP-1820 registry's deployment (pre-EIP-155, from the EIP; upstream `sandbox/tx.rs` tests)
EIP1820_TX = bytes.fromhex(
    "f90a388085174876e800830c35008080b909e5608060405234801561001057600080fd5b506109c5806100206000396000f3fe60"
    "8060405234801561001057600080fd5b50600436106100a5576000357c0100000000000000000000000000000000000000000000"
    "00000000000090048063a41e7d5111610078578063a41e7d51146101d4578063aabbb8ca1461020a578063b70567651461023657"
    "8063f712f3e814610280576100a5565b806329965a1d146100aa5780633d584063146100e25780635df8122f1461012457806365"
    "ba36c114610152575b600080fd5b6100e0600480360360608110156100c057600080fd5b50600160a060020a0381358116916020"
    "81013591604090910135166102b6565b005b610108600480360360208110156100f857600080fd5b5035600160a060020a031661"
    "0570565b60408051600160a060020a039092168252519081900360200190f35b6100e06004803603604081101561013a57600080"
    "fd5b50600160a060020a03813581169160200135166105bc565b6101c26004803603602081101561016857600080fd5b81019060"
    "208101813564010000000081111561018357600080fd5b82018360208201111561019557600080fd5b8035906020019184600183"
    "02840111640100000000831117156101b757600080fd5b5090925090506106b3565b60408051918252519081900360200190f35b"
    "6100e0600480360360408110156101ea57600080fd5b508035600160a060020a03169060200135600160e060020a0319166106ee"
    "565b6101086004803603604081101561022057600080fd5b50600160a060020a038135169060200135610778565b61026c600480"
    "3603604081101561024c57600080fd5b508035600160a060020a03169060200135600160e060020a0319166107ef565b60408051"
    "9115158252519081900360200190f35b61026c6004803603604081101561029657600080fd5b508035600160a060020a03169060"
    "200135600160e060020a0319166108aa565b6000600160a060020a038416156102cd57836102cf565b335b9050336102db826105"
    "70565b600160a060020a031614610339576040805160e560020a62461bcd02815260206004820152600f60248201527f4e6f7420"
    "746865206d616e616765720000000000000000000000000000000000604482015290519081900360640190fd5b6103428361092a"
    "565b15610397576040805160e560020a62461bcd02815260206004820152601a60248201527f4d757374206e6f7420626520616e"
    "204552433136352068617368000000000000604482015290519081900360640190fd5b600160a060020a038216158015906103b8"
    "5750600160a060020a0382163314155b156104ff5760405160200180807f455243313832305f4143434550545f4d414749430000"
    "0000000000000000000081525060140190506040516020818303038152906040528051906020012082600160a060020a03166324"
    "9cb3fa85846040518363ffffffff167c010000000000000000000000000000000000000000000000000000000002815260040180"
    "83815260200182600160a060020a0316600160a060020a031681526020019250505060206040518083038186803b15801561047e"
    "57600080fd5b505afa158015610492573d6000803e3d6000fd5b505050506040513d60208110156104a857600080fd5b50511461"
    "04ff576040805160e560020a62461bcd02815260206004820181905260248201527f446f6573206e6f7420696d706c656d656e74"
    "2074686520696e74657266616365604482015290519081900360640190fd5b600160a060020a0381811660008181526020818152"
    "6040808320888452909152808220805473ffffffffffffffffffffffffffffffffffffffff19169487169485179055518692917f"
    "93baa6efbd2244243bfee6ce4cfdd1d04fc4c0e9a786abd3a41313bd352db15391a450505050565b600160a060020a0381811660"
    "0090815260016020526040812054909116151561059a5750806105b7565b50600160a060020a0380821660009081526001602052"
    "6040902054165b919050565b336105c683610570565b600160a060020a031614610624576040805160e560020a62461bcd028152"
    "60206004820152600f60248201527f4e6f7420746865206d616e6167657200000000000000000000000000000000006044820152"
    "90519081900360640190fd5b81600160a060020a031681600160a060020a0316146106435780610646565b60005b600160a06002"
    "0a03838116600081815260016020526040808220805473ffffffffffffffffffffffffffffffffffffffff191695851695909517"
    "90945592519184169290917f605c2dbf762e5f7d60a546d42e7205dcb1b011ebc62a61736a57c9089d3a43509190a35050565b60"
    "0082826040516020018083838082843780830192505050925050506040516020818303038152906040528051906020012090505b"
    "92915050565b6106f882826107ef565b610703576000610705565b815b600160a060020a03928316600081815260208181526040"
    "808320600160e060020a031996909616808452958252808320805473ffffffffffffffffffffffffffffffffffffffff19169590"
    "971694909417909555908152600284528181209281529190925220805460ff19166001179055565b600080600160a060020a0384"
    "16156107905783610792565b335b905061079d8361092a565b156107c357826107ad82826108aa565b6107b85760006107ba565b"
    "815b925050506106e8565b600160a060020a03908116600090815260208181526040808320868452909152902054169050929150"
    "50565b6000808061081d857f01ffc9a70000000000000000000000000000000000000000000000000000000061094c565b909250"
    "905081158061082d575080155b1561083d576000925050506106e8565b61084f85600160e060020a031961094c565b9092509050"
    "81158061086057508015155b15610870576000925050506106e8565b61087a858561094c565b909250905060018214801561088f"
    "5750806001145b1561089f576001925050506106e8565b506000949350505050565b600160a060020a0382166000908152600260"
    "209081526040808320600160e060020a03198516845290915281205460ff1615156108f2576108eb83836107ef565b90506106e8"
    "565b50600160a060020a03808316600081815260208181526040808320600160e060020a03198716845290915290205490911614"
    "92915050565b7bffffffffffffffffffffffffffffffffffffffffffffffffffffffff161590565b6040517f01ffc9a700000000"
    "0000000000000000000000000000000000000000000000008082526004820183905260009182919060208160248189617530fa90"
    "519096909550935050505056fea165627a7a72305820377f4a2d4301ede9949f163f319021a6e9c687c292a5e2b2c4734c126b52"
    "4e6c00291ba01820182018201820182018201820182018201820182018201820182018201820a018201820182018201820182018"
    "20182018201820182018201820182018201820")
EIP1820_SIGNER = bytes.fromhex("a990077c3205cbdf861e17fa532eeb069ce9ff96")
EIP1820 = bytes.fromhex("1820a4b7618bde71dce8cdc73aab6c95905fad24")
EIP1820_CODE_HASH = bytes.fromhex("f0aa940bb32e37c5f7268b53acc48c7cdd148cd0fc196f30faa00a4d66c0443a")


def _keyless_call(payload: bytes = FACTORY_TX, override: int = 1_000_000) -> bytes:
    """`keylessDeploy(bytes,uint256)` calldata (head: offset 64, override; tail: length, padded bytes)."""
    padded = payload + bytes(-len(payload) % 32)
    return (KEYLESS_DEPLOY_SELECTOR + (64).to_bytes(32, "big") + override.to_bytes(32, "big")
            + len(payload).to_bytes(32, "big") + padded)


def _keyless_tx(initcode: bytes, gas: int = 500_000, nonce: int = 0, chain_id: int | None = None,
                key: PrivateKey = KEY) -> bytes:
    """A legacy contract creation signed by `key`, pre-EIP-155 unless `chain_id` (100 gwei)."""
    tx = Transaction(type=0, nonce=nonce, gas_price=100 * GWEI, gas=gas, to=None, value=0, data=initcode,
                     chain_id=chain_id)
    sig = key.sign_recoverable(tx.signing_hash(), hasher=None)
    v = sig[64] + (27 if chain_id is None else 35 + 2 * chain_id)
    return replace(tx, v=v, r=int.from_bytes(sig[:32], "big"), s=int.from_bytes(sig[32:64], "big")).encode()


def _outer_gas(calldata: bytes) -> int:
    """The calling tx's gas (§3.1 and the 100,000 overhead): Rex intrinsic 21,000 + 44/token + 39,000, plus
    100,000, or the 21,000 + 110/token floor."""
    tokens = sum(1 if b == 0 else 4 for b in calldata)
    return max(21_000 + 44 * tokens + 39_000 + 100_000, 21_000 + 110 * tokens)


def _returned(result: object) -> tuple[int, bytes, bytes]:
    """(gasUsed, deployedAddress, errorData) from the call's return data."""
    out = result.last_output  # type: ignore[attr-defined]
    offset = int.from_bytes(out[64:96], "big")
    length = int.from_bytes(out[offset:offset + 32], "big")
    return int.from_bytes(out[:32], "big"), out[44:64], out[offset + 32:offset + 32 + length]


def _deploy(state: DictState, calldata: bytes, gas: int = 2_000_000, value: int = 0) -> object:
    """Run the call in a Rex2 block; the result carries the top frame's return data as `last_output`."""
    block = OpenBlock(state, _block().header, REX2_CHAIN_BARE, RexRules(Spec.REX2), frames=True)
    receipt = block.execute(_tx(to=KEYLESS_DEPLOY_ADDRESS, data=calldata, gas=gas, value=value), ALICE)
    result = block.finish()
    output = block.last_computation.output if block.last_computation is not None else b""
    return _Deployed(receipt, result, output)


class _Deployed:
    """A KeylessDeploy call's receipt, block result and return data."""

    def __init__(self, receipt: object, result: object, output: bytes) -> None:
        self.receipt, self.result, self.last_output = receipt, result, output


def _funded(*accounts: bytes, balance: int = 10**18) -> DictState:
    state = _state()
    for account in accounts:
        state.accounts[account] = Account(0, balance)
    return state


def test_keyless_deploy_of_the_create2_factory() -> None:
    """The factory lands at its canonical address with its canonical code; the signer pays the sandbox's gas
    (106,218 intrinsic: 21,000 + 32,000 + 4·323 tokens + 2·3 words + 40·323 + 39,000; 39 execution; 69 code bytes
    at 200 + 10,000 = 810,057) at 100 gwei, and its nonce becomes 1; the calling tx pays its intrinsic gas and the
    100,000 overhead only."""
    calldata = _keyless_call()
    run = _deploy(_funded(FACTORY_SIGNER), calldata)
    assert run.receipt.status == 1 and _gas(run.result) == [_outer_gas(calldata)]
    gas_used, address, error = _returned(run)
    assert (gas_used, address, error) == (810_057, FACTORY, b"")
    diff = run.result.state_diff
    assert diff.accounts[FACTORY].code_hash == FACTORY_CODE_HASH and diff.accounts[FACTORY].nonce == 1
    signer = diff.accounts[FACTORY_SIGNER]
    assert signer.nonce == 1 and signer.balance <= 10**18 - 810_057 * 100 * GWEI


def test_keyless_deploy_of_the_eip1820_registry() -> None:
    """The registry's 2,533-byte constructor runs in the sandbox and deploys the registry's canonical code at its
    canonical address (the 2,501 code bytes' 10,000/byte storage gas needs an override far above the signed
    800,000); the calling tx pays its floor, its calldata being large."""
    calldata = _keyless_call(EIP1820_TX, override=30_000_000)
    run = _deploy(_funded(EIP1820_SIGNER, balance=10**19), calldata, gas=3_000_000)
    assert run.receipt.status == 1 and _gas(run.result) == [_outer_gas(calldata)]
    gas_used, address, error = _returned(run)
    assert (address, error) == (EIP1820, b"") and gas_used > 25_010_000
    assert run.result.state_diff.accounts[EIP1820].code_hash == EIP1820_CODE_HASH


def test_keyless_deploy_refusals_revert_the_call() -> None:
    """Checks in upstream's order; each reverts the call (status 0, the intrinsic gas and the overhead spent,
    nothing else changed) with its IKeylessDeploy error."""
    def refused(state: DictState, calldata: bytes, error: bytes, value: int = 0) -> None:
        run = _deploy(state, calldata, value=value)
        assert run.receipt.status == 0 and run.last_output == error
        assert _gas(run.result) == [_outer_gas(calldata)]
        assert FACTORY not in run.result.state_diff.accounts

    funded = _funded(FACTORY_SIGNER)
    refused(funded, _keyless_call(), bytes.fromhex("d253a2b0"), value=1)  # NoEtherTransfer()
    refused(funded, _keyless_call(b"\xde\xad\xbe\xef"), bytes.fromhex("ae1270d3"))  # MalformedEncoding()
    refused(funded, _keyless_call(_keyless_tx(b"", chain_id=1)), bytes.fromhex("7831fd0b"))  # NotPreEIP155()
    refused(funded, _keyless_call(_keyless_tx(b"", nonce=1)),
            bytes.fromhex("0e0beabf") + (1).to_bytes(32, "big"))  # NonZeroTxNonce(1)
    refused(funded, _keyless_call(override=99_999), bytes.fromhex("ca79dfc8") + (100_000).to_bytes(32, "big")
            + (99_999).to_bytes(32, "big"))  # GasLimitTooLow(100000, 99999)
    refused(_funded(), _keyless_call(), bytes.fromhex("f4d678b8"))  # InsufficientBalance()
    busy = _funded(FACTORY_SIGNER)
    busy.accounts[FACTORY_SIGNER] = Account(2, 10**18)
    refused(busy, _keyless_call(), bytes.fromhex("dc77000b") + (2).to_bytes(32, "big"))  # SignerNonceTooHigh(2)
    taken = _funded(FACTORY_SIGNER)
    taken.accounts[FACTORY] = Account(1, 0, keccak256(b"\x00"))
    taken.codes[keccak256(b"\x00")] = b"\x00"
    refused(taken, _keyless_call(), bytes.fromhex("e8dc2ba5"))  # ContractAlreadyExists()
    run = _deploy(funded, _keyless_call(override=100_000))  # the sandbox's own intrinsic gas is 106,218
    assert run.receipt.status == 0 and run.last_output[:4] == bytes.fromhex("7a66f75e")  # InternalError(string)


def test_keyless_deploy_with_the_signer_at_nonce_1() -> None:
    """A signer at nonce 1 still deploys at `create(0)` (its nonce is read as 0), and stays at 1."""
    state = _funded(FACTORY_SIGNER)
    state.accounts[FACTORY_SIGNER] = Account(1, 10**18)
    run = _deploy(state, _keyless_call())
    assert _returned(run)[1] == FACTORY and run.result.state_diff.accounts[FACTORY_SIGNER].nonce == 1


def test_keyless_deploy_overhead_beyond_the_gas_halts() -> None:
    """Less gas than the 100,000 overhead after the intrinsic gas: OutOfGas with all gas spent."""
    calldata = _keyless_call()
    gas = _outer_gas(calldata) - 1
    run = _deploy(_funded(FACTORY_SIGNER), calldata, gas=gas)
    assert run.receipt.status == 0 and _gas(run.result) == [gas]


def test_keyless_deploy_failures_are_returned_and_charged() -> None:
    """A deployment that reverts, halts or leaves no code still runs: the call succeeds with the failure in
    `errorData`, the signer pays and its nonce moves to 1 (upstream ExecutionReverted, ExecutionHalted,
    EmptyCodeDeployed)."""
    signer = keccak256(KEY.public_key.format(compressed=False)[1:])[12:]
    cases = ((bytes([PUSH0, PUSH0, 0xFD]), "ad2bd1d9"), (bytes([0xFE]), "de972b6e"), (bytes([STOP]), "56119d3c"))
    for initcode, selector in cases:
        run = _deploy(_funded(signer), _keyless_call(_keyless_tx(initcode)))
        gas_used, address, error = _returned(run)
        assert run.receipt.status == 1 and address == bytes(20) and error[:4] == bytes.fromhex(selector)
        assert int.from_bytes(error[4:36], "big") == gas_used > 0
        assert run.result.state_diff.accounts[signer].nonce == 1 and not run.receipt.logs


def test_keyless_deploy_sandbox_sees_chain_id_1_and_forwards_logs() -> None:
    """Inside the sandbox CHAINID is 1 (its fresh revm configuration), stored here by the constructor; the
    deployment's LOG reaches the calling tx's receipt."""
    signer = keccak256(KEY.public_key.format(compressed=False)[1:])[12:]
    # CHAINID PUSH0 SSTORE; LOG0(0, 0); return the 1-byte code 0x00
    initcode = bytes([0x46, PUSH0, 0x55, PUSH0, PUSH0, 0xA0, PUSH0, PUSH0, 0x53, 0x60, 1, PUSH0, 0xF3])
    run = _deploy(_funded(signer), _keyless_call(_keyless_tx(initcode)))
    deployed = keccak256(bytes.fromhex("d694") + signer + b"\x80")[12:]
    assert _returned(run)[1] == deployed and run.result.state_diff.storage[(deployed, 0)] == 1
    assert [log.address for log in run.receipt.logs] == [deployed]


def test_keyless_deploy_from_a_deposit_pays_the_l1_fee() -> None:
    """A deposit calling KeylessDeploy before the block's first fee-paying tx: the sandbox still charges the
    signer the L1 data fee of the raw deployment (op-revm fetches the L1Block parameters itself), so the signer
    ends where a fee-paying call leaves it."""
    deposit = Transaction(type=DEPOSIT_TX_TYPE, nonce=0, gas=2_000_000, to=KEYLESS_DEPLOY_ADDRESS,
                          data=_keyless_call(), value=0, mint=0, source_hash=b"\x07" * 32, deposit_sender=DEPOSITOR)
    by_deposit = _run(_funded(FACTORY_SIGNER), deposit, senders=(DEPOSITOR,), spec=Spec.REX2).state_diff
    by_call = _deploy(_funded(FACTORY_SIGNER), _keyless_call()).result.state_diff
    assert by_deposit.accounts[FACTORY_SIGNER] == by_call.accounts[FACTORY_SIGNER]
    assert by_deposit.accounts[FACTORY].code_hash == FACTORY_CODE_HASH


def test_keyless_deploy_success_is_the_returned_code_not_what_survives() -> None:
    """A constructor that has a library self-destruct in its context (DELEGATECALL, EIP-6780 removes the new
    account) and then returns code: upstream judges the creation by the code returned, so the call succeeds,
    with the address and the deployment's log, though the account is gone."""
    signer = keccak256(KEY.public_key.format(compressed=False)[1:])[12:]
    library = b"\xd1" * 20
    # DELEGATECALL(GAS, library, 0, 0, 0, 0); POP; LOG0(0, 0); return the 1-byte code 0x00
    initcode = bytes([PUSH0, PUSH0, PUSH0, PUSH0, PUSH20]) + library + bytes(
        [GAS, 0xF4, 0x50, PUSH0, PUSH0, 0xA0, PUSH0, PUSH0, 0x53, 0x60, 1, PUSH0, 0xF3])
    state = _funded(signer)
    state.accounts[library] = Account(1, 0, keccak256(bytes([PUSH0, SELFDESTRUCT])))
    state.codes[keccak256(bytes([PUSH0, SELFDESTRUCT]))] = bytes([PUSH0, SELFDESTRUCT])
    run = _deploy(state, _keyless_call(_keyless_tx(initcode)))
    deployed = keccak256(bytes.fromhex("d694") + signer + b"\x80")[12:]
    assert _returned(run)[1:] == (deployed, b"") and [log.address for log in run.receipt.logs] == [deployed]
    assert run.result.state_diff.accounts.get(deployed) is None


@pytest.mark.parametrize(("listed", "slots", "kept"), [
    (FACTORY_SIGNER, (bytes(32),), False), (FACTORY, (bytes(32),), False), (FACTORY_SIGNER, (), True)],
    ids=["signer-with-a-key", "deployed-with-a-key", "signer-without-keys"])
def test_keyless_deploy_changes_to_accounts_the_call_loaded_untouched_are_dropped(
        listed: bytes, slots: tuple[bytes, ...], kept: bool) -> None:
    """An access-list entry with storage keys is in revm's journal, loaded but untouched, when the call is
    intercepted; upstream's merge leaves it untouched, so the commit drops the sandbox's changes to it (the
    signer goes uncharged, or the deployed code is lost) while the call still reports the deployment. An entry
    without keys is only warmed: the changes stay."""
    state = _funded(FACTORY_SIGNER)
    tx = _signed(Transaction(type=2, nonce=0, gas=2_000_000, to=KEYLESS_DEPLOY_ADDRESS, value=0,
                             data=_keyless_call(), chain_id=6342, max_priority_fee_per_gas=1_000_000,
                             max_fee_per_gas=2_000_000, access_list=((listed, slots),)))
    block = OpenBlock(state, _block().header, REX2_CHAIN_BARE, RexRules(Spec.REX2), frames=True)
    assert block.execute(tx, ALICE).status == 1
    assert block.last_computation is not None and block.last_computation.output[44:64] == FACTORY
    diff = block.finish().state_diff
    changed = diff.accounts.get(listed)
    assert (changed is not None) == kept, changed
    other = FACTORY if listed == FACTORY_SIGNER else FACTORY_SIGNER
    assert diff.accounts[other] is not None


@pytest.mark.parametrize(("auth_nonce", "kept"), [(5, False), (0, True)], ids=["skipped", "applied"])
def test_keyless_deploy_signer_loaded_by_a_skipped_authorization(auth_nonce: int, kept: bool) -> None:
    """A 7702 authorization that revm loads and then skips (nonce mismatch) leaves its authority in the journal
    untouched, so the sandbox's charge to that signer is dropped; an applied one touched it, and the charge stays."""
    key = PrivateKey(b"\x02" * 32)
    signer = keccak256(key.public_key.format(compressed=False)[1:])[12:]
    auth_msg = keccak256(b"\x05" + rlp.encode([6342, BOB, auth_nonce]))
    sig = key.sign_recoverable(auth_msg, hasher=None)
    auth = Authorization(6342, BOB, auth_nonce, sig[64], int.from_bytes(sig[:32], "big"),
                         int.from_bytes(sig[32:64], "big"))
    tx = _signed(Transaction(type=4, nonce=0, gas=3_000_000, to=KEYLESS_DEPLOY_ADDRESS, value=0,
                             data=_keyless_call(_keyless_tx(bytes([0x60, 1, PUSH0, 0xF3]), key=key)), chain_id=6342,
                             max_priority_fee_per_gas=1_000_000, max_fee_per_gas=2_000_000,
                             authorization_list=(auth,)))
    block = OpenBlock(_funded(signer), _block().header, REX2_CHAIN_BARE, RexRules(Spec.REX2), frames=True)
    assert block.execute(tx, ALICE).status == 1
    balance = block.finish().state_diff.accounts.get(signer, Account(0, 10**18)).balance
    assert (balance < 10**18) == kept


def test_keyless_v_beyond_64_bits() -> None:
    """alloy reads v as a u128 and its chain id as a u64: v = 2^64 is an EIP-155 v (NotPreEIP155); a v whose
    chain id passes 2^64 is malformed."""
    def raw(v: int) -> bytes:
        return rlp.encode([0, 100 * GWEI, 100_000, b"", 0, b"\x00", v, 1, 1])
    assert _deploy(_funded(), _keyless_call(raw(2**64))).last_output == bytes.fromhex("7831fd0b")
    assert _deploy(_funded(), _keyless_call(raw(35 + 2 * 2**64))).last_output == bytes.fromhex("ae1270d3")


def test_keyless_deploy_is_not_intercepted_below_the_top_frame_or_before_rex2() -> None:
    """Only a tx's own call is intercepted: from a contract, and under Rex1, the call runs the account's code
    (here none: success, nothing deployed)."""
    calldata = _keyless_call()
    # CALLDATACOPY(0, 0, CALLDATASIZE); CALL(GAS, KeylessDeploy, 0, 0, CALLDATASIZE, 0, 0)
    proxy = bytes([0x36, PUSH0, PUSH0, 0x37, PUSH0, PUSH0, 0x36, PUSH0, PUSH0, PUSH20]) + KEYLESS_DEPLOY_ADDRESS \
        + bytes([GAS, 0xF1, STOP])
    state = _funded(FACTORY_SIGNER)
    state.accounts[CONTRACT] = Account(1, 0, keccak256(proxy))
    state.codes[keccak256(proxy)] = proxy
    result = _run(state, _tx(to=CONTRACT, data=calldata, gas=500_000), spec=Spec.REX2)
    assert result.receipts[0].status == 1 and FACTORY not in result.state_diff.accounts
    result = _run(state, _tx(to=KEYLESS_DEPLOY_ADDRESS, data=calldata, gas=500_000), spec=Spec.REX1)
    assert result.receipts[0].status == 1 and FACTORY not in result.state_diff.accounts


# --- §8 steps 4–6: system contracts installed before the first tx ------------------------------------------

REX2_CHAIN = ChainConfig(6342, ForkSchedule(mini_rex=0, rex=0, rex1=0, rex2=0))
REX2_CHAIN_BARE = ChainConfig(6342, REX2_CHAIN.forks, system_contracts=False)
READ_SLOT_5 = bytes([0x60, 5, 0x54, 0x60, 1, 0x01, PUSH0, 0x55, STOP])  # slot 0 := slot 5 + 1


def _old_oracle_state() -> DictState:
    """A chain before its first Rex2 block: the oracle at v1.0.0 with a balance and slot 5 = 9, the timestamp
    oracle at its code; "code" for oracle v1.1.0 that reads slot 5 (only its hash matters here)."""
    state = _state()
    state.accounts[ORACLE_ADDRESS] = Account(1, 3, ORACLE_CODE_HASH_V1_0_0)
    state.accounts[TIMESTAMP_ORACLE_ADDRESS] = Account(1, 0, TIMESTAMP_ORACLE_CODE_HASH)
    state.storage_map[(ORACLE_ADDRESS, 5)] = 9
    state.codes[ORACLE_CODE_HASH_V1_1_0] = READ_SLOT_5
    return state


def test_first_rex2_block_upgrades_the_oracle_and_clears_its_storage() -> None:
    """The oracle's code hash differs from v1.1.0: it gets v1.1.0 as a created account (balance and nonce
    kept, storage cleared, so its slot 5 reads 0 in the block), KeylessDeploy appears with its code hash, the
    timestamp oracle (same code) is untouched."""
    result = apply_block(_old_oracle_state(), _block(_tx(to=ORACLE_ADDRESS, gas=200_000)), REX2_CHAIN)
    diff = result.state_diff
    assert diff.accounts[ORACLE_ADDRESS] == Account(1, 3, ORACLE_CODE_HASH_V1_1_0)
    assert ORACLE_ADDRESS in diff.storage_wiped and diff.storage[(ORACLE_ADDRESS, 0)] == 1
    assert diff.accounts[KEYLESS_DEPLOY_ADDRESS] == Account(0, 0, KEYLESS_DEPLOY_CODE_HASH)
    assert TIMESTAMP_ORACLE_ADDRESS not in diff.accounts


def test_later_rex2_blocks_leave_the_oracle_alone() -> None:
    """With the expected code hashes in place the step changes nothing: slot 5 still reads 9."""
    state = _old_oracle_state()
    state.accounts[ORACLE_ADDRESS] = Account(1, 3, ORACLE_CODE_HASH_V1_1_0)
    state.accounts[KEYLESS_DEPLOY_ADDRESS] = Account(0, 0, KEYLESS_DEPLOY_CODE_HASH)
    diff = apply_block(state, _block(_tx(to=ORACLE_ADDRESS, gas=200_000)), REX2_CHAIN).state_diff
    assert not diff.storage_wiped and diff.storage[(ORACLE_ADDRESS, 0)] == 10
    assert ORACLE_ADDRESS not in diff.accounts and KEYLESS_DEPLOY_ADDRESS not in diff.accounts


def test_mini_rex_installs_missing_oracles() -> None:
    """From MiniRex a chain without the oracles gets both, with their v1.0.0 code hashes, before the first tx."""
    chain = ChainConfig(6342, ForkSchedule(mini_rex=0))
    diff = apply_block(_state(), _block(), chain).state_diff
    assert diff.accounts[ORACLE_ADDRESS] == Account(0, 0, ORACLE_CODE_HASH_V1_0_0)
    assert diff.accounts[TIMESTAMP_ORACLE_ADDRESS] == Account(0, 0, TIMESTAMP_ORACLE_CODE_HASH)
    assert KEYLESS_DEPLOY_ADDRESS not in diff.accounts


def test_a_dev_chain_without_system_contracts_installs_none() -> None:
    diff = apply_block(_state(), _block(), dev_chain(6342)).state_diff
    assert not ({ORACLE_ADDRESS, TIMESTAMP_ORACLE_ADDRESS, KEYLESS_DEPLOY_ADDRESS} & set(diff.accounts))
