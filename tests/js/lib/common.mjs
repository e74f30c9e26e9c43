// Shared by the client scripts: compile contracts with solc-js, the dev mnemonic, small assertions.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

export const HERE = dirname(dirname(fileURLToPath(import.meta.url)));
export const CHAIN_ID = 6342;
export const MNEMONIC = "test test test test test test test test test test test junk";
// Anvil/Hardhat dev keys 0 and 1 of MNEMONIC.
export const KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
export const KEY1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/** Compile contracts/<name>.sol with solc-js at test time: {abi, bytecode}. */
export function compile(name) {
  const input = {
    language: "Solidity",
    sources: { [`${name}.sol`]: { content: readFileSync(join(HERE, "contracts", `${name}.sol`), "utf8") } },
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun",
                outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (out.errors || []).filter((e) => e.severity === "error");
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
  const c = out.contracts[`${name}.sol`][name];
  return { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
}

export function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

export function eq(a, b, msg) {
  if (a !== b) throw new Error(`check failed: ${msg}: ${String(a)} !== ${String(b)}`);
}

export async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timeout: ${what} after ${ms} ms`)), ms); });
  try { return await Promise.race([promise, timeout]); } finally { clearTimeout(timer); }
}

/** Run `steps` ({name: async fn}) in order, print "ok <name>" per step, exit 1 on the first failure. */
export async function runSteps(label, steps) {
  const t0 = Date.now();
  for (const [name, fn] of Object.entries(steps)) {
    const t = Date.now();
    try {
      await fn();
    } catch (e) {
      console.error(`FAIL ${label} ${name}: ${e && e.stack ? e.stack : e}`);
      process.exit(1);
    }
    console.log(`ok ${label} ${name} (${Date.now() - t} ms)`);
  }
  console.log(`PASS ${label} (${Date.now() - t0} ms)`);
  process.exit(0);
}
