// Mocha tests run by `npx hardhat test --network megaeth` against a running megaeth-node.
const { expect } = require("chai");
const hre = require("hardhat");

const { ethers } = hre;

async function rejects(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("Counter on megaeth-node", function () {
  let owner;
  let other;
  let counter;

  before(async function () {
    [owner, other] = await ethers.getSigners();
    counter = await ethers.deployContract("Counter", [41n]);
    await counter.waitForDeployment();
  });

  it("is on chain 6342 with funded dev accounts", async function () {
    expect(hre.network.name).to.equal("megaeth");
    expect((await ethers.provider.getNetwork()).chainId).to.equal(6342n);
    expect(owner.address).to.equal("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    expect((await ethers.provider.getBalance(other.address)) > ethers.parseEther("1000")).to.equal(true);
  });

  it("deployed with the constructor argument", async function () {
    expect(await counter.count()).to.equal(41n);
    expect(await counter.owner()).to.equal(owner.address);
  });

  it("increments and emits an event", async function () {
    const receipt = await (await counter.connect(other).increment()).wait();
    expect(receipt.status).to.equal(1);
    const ev = receipt.logs.map((l) => counter.interface.parseLog(l)).find((e) => e && e.name === "Incremented");
    expect(ev.args.by).to.equal(other.address);
    expect(ev.args.newCount).to.equal(42n);
    expect(await counter.count()).to.equal(42n);
    const logs = await counter.queryFilter(counter.filters.Incremented(other.address), receipt.blockNumber);
    expect(logs.map((l) => l.transactionHash)).to.include(receipt.hash);
  });

  it("sends several transactions back to back", async function () {
    const txs = [];
    for (let i = 0; i < 5; i++) txs.push(await counter.incrementBy(2n));
    const receipts = await Promise.all(txs.map((t) => t.wait()));
    expect(receipts.every((r) => r.status === 1)).to.equal(true);
    expect(await counter.count()).to.equal(52n);
  });

  it("surfaces a require reason", async function () {
    const err = await rejects(counter.incrementBy(1000n));
    // hardhat-ethers passes the node's error through: message and revert data (Error(string)).
    expect(err.message).to.include("execution reverted: Counter: step out of range");
    expect(err.data.slice(0, 10)).to.equal("0x08c379a0");
    const [reason] = ethers.AbiCoder.defaultAbiCoder().decode(["string"], "0x" + err.data.slice(10));
    expect(reason).to.equal("Counter: step out of range");
  });

  it("surfaces a custom error", async function () {
    const err = await rejects(counter.connect(other).reset());
    const parsed = counter.interface.parseError(err.data);
    expect(parsed.name).to.equal("NotOwner");
    expect(parsed.args.caller).to.equal(other.address);
  });

  it("transfers ether between signers", async function () {
    const before = await ethers.provider.getBalance(other.address);
    const receipt = await (await owner.sendTransaction({ to: other.address, value: ethers.parseEther("2") })).wait();
    expect(receipt.status).to.equal(1);
    expect(await ethers.provider.getBalance(other.address)).to.equal(before + ethers.parseEther("2"));
  });
});
