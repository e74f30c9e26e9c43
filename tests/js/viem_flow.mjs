// viem against megaeth-node: `node viem_flow.mjs http://127.0.0.1:PORT/`. Prints "ok <step>" lines,
// "PASS viem" and exits 0, or "FAIL viem <step>: ..." and exits 1.
import { createPublicClient, createWalletClient, defineChain, http, webSocket, parseEther, parseUnits,
  parseAbiItem, BaseError, ContractFunctionRevertedError } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { CHAIN_ID, KEY0, KEY1, check, compile, eq, runSteps, withTimeout } from "./lib/common.mjs";

const url = process.argv[2];
const wsUrl = url.replace(/^http/, "ws");
const chain = defineChain({
  id: CHAIN_ID, name: "megaeth-node", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [url], webSocket: [wsUrl] } },
});
const account = privateKeyToAccount(KEY0);
const otherAccount = privateKeyToAccount(KEY1);
const pub = createPublicClient({ chain, transport: http(url), pollingInterval: 100 });
const wallet = createWalletClient({ chain, transport: http(url), account });
const recipient = "0x" + "cd".repeat(20);
const { abi, bytecode } = compile("Token");
const transferEvent = parseAbiItem("event Transfer(address indexed from, address indexed to, uint256 value)");
let token;

function revertReason(e) {
  const revert = e instanceof BaseError ? e.walk((x) => x instanceof ContractFunctionRevertedError) : null;
  return revert ? revert.reason : undefined;
}

await runSteps("viem", {
  async connect() {
    eq(await pub.getChainId(), CHAIN_ID, "chainId");
    const block = await pub.getBlock();
    check(block.baseFeePerGas > 0n, "base fee");
  },
  async balance() {
    check((await pub.getBalance({ address: account.address })) > parseEther("1000"), "dev account funded");
  },
  async feeData() {
    const fees = await pub.estimateFeesPerGas();
    check(fees.maxFeePerGas > 0n && fees.maxPriorityFeePerGas > 0n, "EIP-1559 fees");
    check((await pub.getGasPrice()) > 0n, "gas price");
    const hist = await pub.getFeeHistory({ blockCount: 4, rewardPercentiles: [25, 75] });
    eq(hist.baseFeePerGas.length, hist.gasUsedRatio.length + 1, "fee history shape");
  },
  async sendAndWait() {
    const before = await pub.getBalance({ address: recipient });
    const hash = await wallet.sendTransaction({ to: recipient, value: parseEther("1") });
    const receipt = await withTimeout(pub.waitForTransactionReceipt({ hash, pollingInterval: 100 }), 10_000, "receipt");
    eq(receipt.status, "success", "receipt status");
    eq(await pub.getBalance({ address: recipient }), before + parseEther("1"), "recipient balance");
    // Realtime: eth_sendRawTransactionSync returns the receipt from the mini-block.
    const request = await wallet.prepareTransactionRequest({ to: recipient, value: 1n });
    const raw = await wallet.signTransaction(request);
    const fast = await withTimeout(pub.request({ method: "eth_sendRawTransactionSync", params: [raw] }), 5_000, "sync send");
    eq(fast.status, "0x1", "sync receipt status");
  },
  async deploy() {
    const hash = await wallet.deployContract({ abi, bytecode, args: ["Viem Token", "VTK", parseUnits("1000000", 18)] });
    const receipt = await withTimeout(pub.waitForTransactionReceipt({ hash, pollingInterval: 100 }), 10_000, "deploy receipt");
    eq(receipt.status, "success", "deploy status");
    token = receipt.contractAddress;
    check(token && (await pub.getCode({ address: token })).length > 2, "code deployed");
  },
  async call() {
    eq(await pub.readContract({ address: token, abi, functionName: "name" }), "Viem Token", "name()");
    eq(await pub.readContract({ address: token, abi, functionName: "balanceOf", args: [account.address] }),
      parseUnits("1000000", 18), "balanceOf(deployer)");
  },
  async events() {
    // Polling filter: eth_newFilter + eth_getFilterChanges.
    const filter = await pub.createContractEventFilter({ address: token, abi, eventName: "Transfer",
      args: { to: otherAccount.address } });
    const { request } = await pub.simulateContract({ address: token, abi, functionName: "transfer",
      args: [otherAccount.address, 4321n], account });
    const hash = await wallet.writeContract(request);
    const receipt = await withTimeout(pub.waitForTransactionReceipt({ hash, pollingInterval: 100 }), 10_000, "receipt");
    eq(receipt.logs.length, 1, "one log in the receipt");
    let changes = [];
    for (let i = 0; i < 50 && changes.length === 0; i++) {
      changes = await pub.getFilterChanges({ filter });
      if (!changes.length) await new Promise((r) => setTimeout(r, 50));
    }
    eq(changes.length, 1, "filter changes");
    eq(changes[0].args.value, 4321n, "decoded filter log");
    await pub.uninstallFilter({ filter });
    const logs = await pub.getLogs({ address: token, event: transferEvent, args: { to: otherAccount.address },
      fromBlock: receipt.blockNumber, toBlock: receipt.blockNumber });
    eq(logs.length, 1, "getLogs");
    eq(logs[0].transactionHash, hash, "log tx hash");
    const events = await pub.getContractEvents({ address: token, abi, eventName: "Transfer", fromBlock: 0n });
    check(events.length >= 2, "getContractEvents sees mint and transfer");
  },
  async revertReason() {
    let err;
    try {
      await pub.simulateContract({ address: token, abi, functionName: "transfer",
        args: [otherAccount.address, parseUnits("2000000", 18)], account });
    } catch (e) { err = e; }
    eq(revertReason(err), "Token: insufficient balance", "simulateContract revert reason");
    let err2;
    try {
      await wallet.writeContract({ address: token, abi, functionName: "transferFrom",
        args: [account.address, otherAccount.address, 1n], account: otherAccount });
    } catch (e) { err2 = e; }
    check(err2 && String(err2.message).includes("Token: insufficient allowance"), `estimateGas revert reason: ${err2}`);
  },
  async websocket() {
    const ws = createPublicClient({ chain, transport: webSocket(wsUrl) });
    const unwatch = [];
    try {
      const block = new Promise((resolve) => unwatch.push(ws.watchBlocks({ onBlock: resolve, emitOnBegin: false })));
      const event = new Promise((resolve) => unwatch.push(ws.watchContractEvent({ address: token, abi,
        eventName: "Transfer", onLogs: (logs) => resolve(logs) })));
      await new Promise((r) => setTimeout(r, 300));
      const hash = await wallet.writeContract({ address: token, abi, functionName: "transfer", args: [recipient, 88n] });
      await withTimeout(pub.waitForTransactionReceipt({ hash, pollingInterval: 100 }), 10_000, "receipt");
      const b = await withTimeout(block, 10_000, "watchBlocks over WS");
      check(b.number > 0n && b.hash, "block from newHeads");
      const logs = await withTimeout(event, 10_000, "watchContractEvent over WS");
      eq(logs[0].args.value, 88n, "WS event value");
      eq(logs[0].transactionHash, hash, "WS event tx");
    } finally {
      unwatch.forEach((u) => u());
      await (await ws.transport.getRpcClient()).close();
    }
  },
  async batchedSequentialNonces() {
    // viem's http batch: concurrent requests within the wait window go out as one JSON-RPC array.
    const batched = createPublicClient({ chain, transport: http(url, { batch: { batchSize: 100, wait: 20 } }) });
    const sender = createWalletClient({ chain, transport: http(url, { batch: { batchSize: 100, wait: 20 } }), account: otherAccount });
    const nonce = await batched.getTransactionCount({ address: otherAccount.address, blockTag: "pending" });
    const fees = await batched.estimateFeesPerGas();
    const before = await batched.getBalance({ address: recipient });
    const signed = await Promise.all(Array.from({ length: 20 }, (_, i) => sender.signTransaction({
      to: recipient, value: 500n + BigInt(i), nonce: nonce + i, gas: 60_000n, chainId: CHAIN_ID, type: "eip1559", ...fees,
    })));
    const hashes = await Promise.all(signed.map((serializedTransaction) => batched.sendRawTransaction({ serializedTransaction })));
    const receipts = await withTimeout(Promise.all(hashes.map((hash) =>
      batched.waitForTransactionReceipt({ hash, pollingInterval: 100 }))), 15_000, "20 receipts");
    check(receipts.every((r) => r.status === "success"), "all 20 succeeded");
    eq(await batched.getTransactionCount({ address: otherAccount.address }), nonce + 20, "nonce advanced by 20");
    eq(await batched.getBalance({ address: recipient }), before + 20n * 500n + 190n, "recipient got all 20");
  },
});
