// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// A counter with an owner, an event and a custom error, for the Hardhat tests against megaeth-node.
contract Counter {
    address public immutable owner;
    uint256 public count;

    event Incremented(address indexed by, uint256 newCount);
    error NotOwner(address caller);

    constructor(uint256 start) {
        owner = msg.sender;
        count = start;
    }

    function increment() external {
        count += 1;
        emit Incremented(msg.sender, count);
    }

    function incrementBy(uint256 n) external {
        require(n > 0 && n <= 100, "Counter: step out of range");
        count += n;
        emit Incremented(msg.sender, count);
    }

    function reset() external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        count = 0;
    }
}
