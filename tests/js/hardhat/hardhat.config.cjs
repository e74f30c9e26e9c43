// Hardhat 2 project run against megaeth-node as an external network:
//   MEGAETH_RPC_URL=http://127.0.0.1:PORT/ npx hardhat test --network megaeth
// Compiles with solc-js from node_modules (no compiler download: the test machines have no network).
const path = require("node:path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");
require("@nomicfoundation/hardhat-ethers");

const SOLC_VERSION = require("solc/package.json").version;

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async ({ solcVersion }, hre, runSuper) => {
  if (solcVersion !== SOLC_VERSION) return runSuper();
  const solc = require("solc");
  return { compilerPath: path.join(path.dirname(require.resolve("solc")), "soljson.js"), isSolcJs: true,
           version: solcVersion, longVersion: solc.version() };
});

module.exports = {
  solidity: { version: SOLC_VERSION, settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" } },
  defaultNetwork: "megaeth",
  networks: {
    megaeth: {
      url: process.env.MEGAETH_RPC_URL || "http://127.0.0.1:8545/",
      chainId: 6342,
      accounts: { mnemonic: "test test test test test test test test test test test junk", count: 10 },
      timeout: 30_000,
    },
  },
  mocha: { timeout: 60_000 },
};
