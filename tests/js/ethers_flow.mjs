// ethers v6 against megaeth-node: `node ethers_flow.mjs http://127.0.0.1:PORT/`. Prints "ok <step>" lines,
// "PASS ethers" and exits 0, or "FAIL ethers <step>: ..." and exits 1.
import { ContractFactory, JsonRpcProvider, WebSocketProvider, Wallet, Contract, parseEther, parseUnits,
  getAddress } from "ethers";
import { CHAIN_ID, KEY0, KEY1, check, compile, eq, runSteps, withTimeout } from "./lib/common.mjs";

const url = process.argv[2];
const wsUrl = url.replace(/^http/, "ws");
// cacheTimeout -1: ethers otherwise answers an identical request made within 250 ms from its cache, so a send
// right after a receipt that came back sooner than that would reuse the previous eth_getTransactionCount
// ("nonce too low"). A fast dev node needs this the same way Anvil does; nothing a node can change.
const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
provider.pollingInterval = 100;
const wallet = new Wallet(KEY0, provider);
const other = new Wallet(KEY1, provider);
const recipient = getAddress("0x" + "ab".repeat(20));
const { abi, bytecode } = compile("Token");
let token;
let tokenAddress;

/** Resolve when eth_blockNumber reaches `n` (logs and filters see sealed blocks). */
async function sealed(n) {
  for (let i = 0; i < 100 && (await provider.getBlockNumber()) < n; i++) await new Promise((r) => setTimeout(r, 50));
  check((await provider.getBlockNumber()) >= n, `block ${n} sealed`);
}

await runSteps("ethers", {
  async connect() {
    const net = await provider.getNetwork();
    eq(net.chainId, BigInt(CHAIN_ID), "chainId");
    check((await provider.getBlockNumber()) >= 0, "block number");
    const block = await provider.getBlock("latest");
    check(block && block.baseFeePerGas > 0n, "latest block has a base fee");
  },
  async balance() {
    check((await provider.getBalance(wallet.address)) > parseEther("1000"), "dev account is funded");
  },
  async feeData() {
    const fee = await provider.getFeeData();
    check(fee.gasPrice > 0n && fee.maxFeePerGas > 0n && fee.maxPriorityFeePerGas > 0n, "fee data");
    const block = await provider.getBlock("latest");
    check(fee.maxFeePerGas >= block.baseFeePerGas, "maxFeePerGas >= base fee");
  },
  async sendAndWait() {
    const before = await provider.getBalance(recipient);
    const tx = await wallet.sendTransaction({ to: recipient, value: parseEther("1") });
    const receipt = await withTimeout(tx.wait(), 10_000, "tx.wait()");
    eq(receipt.status, 1, "receipt status");
    eq(receipt.hash, tx.hash, "receipt hash");
    eq(await provider.getBalance(recipient, "pending"), before + parseEther("1"), "recipient balance");
    // Back-to-back send from the same Wallet right after the receipt: the pending nonce must already count it.
    const tx2 = await wallet.sendTransaction({ to: recipient, value: 1n });
    eq((await withTimeout(tx2.wait(), 10_000, "second tx.wait()")).status, 1, "second receipt status");
  },
  async deploy() {
    const factory = new ContractFactory(abi, bytecode, wallet);
    const c = await factory.deploy("Test Token", "TST", parseUnits("1000000", 18));
    await withTimeout(c.waitForDeployment(), 10_000, "waitForDeployment");
    tokenAddress = await c.getAddress();
    token = new Contract(tokenAddress, abi, wallet);
    check((await provider.getCode(tokenAddress)).length > 2, "code deployed");
  },
  async call() {
    eq(await token.name(), "Test Token", "name()");
    eq(await token.symbol(), "TST", "symbol()");
    eq(await token.decimals(), 18n, "decimals()");
    eq(await token.balanceOf(wallet.address), parseUnits("1000000", 18), "balanceOf(deployer)");
  },
  async events() {
    // A polling filter subscription (eth_newFilter + eth_getFilterChanges) must see the transfer.
    // (With a topic filter ethers v6 hands the listener only the ContractEventPayload, decoded in .log.args.)
    const seen = new Promise((resolve) => token.on(token.filters.Transfer(wallet.address, other.address),
      (...args) => { const [from, to, value] = args.at(-1).log.args; resolve({ from, to, value }); }));
    await new Promise((r) => setTimeout(r, 300)); // let ethers install its filter
    const tx = await token.transfer(other.address, 1234n);
    const receipt = await withTimeout(tx.wait(), 10_000, "transfer wait");
    eq(receipt.logs.length, 1, "one Transfer log in the receipt");
    eq(token.interface.parseLog(receipt.logs[0]).args.value, 1234n, "parsed receipt log");
    const got = await withTimeout(seen, 10_000, "Transfer event via filter");
    eq(got.value, 1234n, "event value");
    eq(got.to, other.address, "event to");
    await token.removeAllListeners();
    // eth_getLogs once the block is sealed.
    await sealed(receipt.blockNumber);
    const logs = await token.queryFilter(token.filters.Transfer(null, other.address), 0, "latest");
    check(logs.some((l) => l.transactionHash === tx.hash && l.args.value === 1234n), "queryFilter finds the transfer");
    const raw = await provider.getLogs({ address: tokenAddress, fromBlock: receipt.blockNumber, toBlock: receipt.blockNumber });
    eq(raw.length, 1, "getLogs on the block");
    eq(raw[0].blockHash, (await provider.getBlock(receipt.blockNumber)).hash, "log blockHash = sealed block hash");
    eq(await token.balanceOf(other.address), 1234n, "balanceOf(other)");
  },
  async revertReason() {
    let err;
    try {
      await token.transfer(other.address, parseUnits("2000000", 18));
    } catch (e) {
      err = e;
    }
    check(err, "over-balance transfer throws");
    eq(err.code, "CALL_EXCEPTION", "error code");
    eq(err.reason, "Token: insufficient balance", "revert reason");
    let err2;
    try {
      await token.connect(other).transferFrom(wallet.address, other.address, 1n);
    } catch (e) {
      err2 = e;
    }
    eq(err2 && err2.reason, "Token: insufficient allowance", "revert reason via estimateGas from another account");
    let err3;
    try {
      await token.transfer.staticCall(other.address, parseUnits("2000000", 18));
    } catch (e) {
      err3 = e;
    }
    eq(err3 && err3.reason, "Token: insufficient balance", "revert reason via eth_call");
  },
  async websocket() {
    const ws = new WebSocketProvider(wsUrl, undefined, { staticNetwork: true });
    try {
      eq((await ws.getNetwork()).chainId, BigInt(CHAIN_ID), "chainId over WS");
      const block = new Promise((resolve) => ws.once("block", resolve));
      const wsToken = new Contract(tokenAddress, abi, ws);
      const event = new Promise((resolve) => wsToken.once("Transfer", (from, to, value) => resolve(value)));
      await new Promise((r) => setTimeout(r, 200)); // subscriptions are sent
      const tx = await token.transfer(recipient, 77n);
      await withTimeout(tx.wait(), 10_000, "transfer wait");
      const n = await withTimeout(block, 10_000, "WS block event");
      check(typeof n === "number" && n > 0, "block number from newHeads");
      eq(await withTimeout(event, 10_000, "WS Transfer event"), 77n, "WS event value");
    } finally {
      await ws.destroy();
    }
  },
  async batchedSequentialNonces() {
    // ethers batches concurrent requests into one JSON-RPC array: sign 20 transfers (60,000 gas: MegaETH's
    // intrinsic gas) with consecutive
    // nonces and broadcast them together; all must land.
    const batching = new JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 100, batchStallTime: 20, cacheTimeout: -1 });
    batching.pollingInterval = 100;
    const sender = other.connect(batching);
    const nonce = await batching.getTransactionCount(sender.address, "pending");
    const fee = await batching.getFeeData();
    const signed = await Promise.all(Array.from({ length: 20 }, (_, i) => sender.signTransaction({
      to: recipient, value: 1000n + BigInt(i), nonce: nonce + i, gasLimit: 60000n, chainId: CHAIN_ID, type: 2,
      maxFeePerGas: fee.maxFeePerGas, maxPriorityFeePerGas: fee.maxPriorityFeePerGas,
    })));
    const before = await batching.getBalance(recipient);
    const txs = await Promise.all(signed.map((s) => batching.broadcastTransaction(s)));
    const receipts = await withTimeout(Promise.all(txs.map((t) => t.wait())), 15_000, "20 receipts");
    check(receipts.every((r) => r.status === 1), "all 20 succeeded");
    eq(await batching.getTransactionCount(sender.address, "latest"), nonce + 20, "nonce advanced by 20");
    eq(await batching.getBalance(recipient, "pending"), before + 20n * 1000n + 190n, "recipient got all 20");
    batching.destroy();
  },
});
