"""The MegaETH executor: py-evm's Prague/Isthmus VM over a `StateReader`, plus OP-stack and MegaETH rules.

Modules: `state` (StateReader, Account, StateDiff, in-memory backend) · `accountdb` (py-evm account DB overlay
that records reads/writes and yields the diff) · `evm` (py-evm states bound to the overlay, BlockEnv) ·
`transact` (one transaction: validity, execution, gas used) · `op` (deposits, L1/operator fees, fee vaults) ·
`block` (`apply_block`) · `replay` (fixture replay and header comparison).
"""
