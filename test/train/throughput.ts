/**
 * Training throughput of the tiny preset, ternary and fp, in tokens per second (forward + backward
 * + clip + AdamW on one thread). Run by hand, not a test:
 *   node_modules/.bin/node --import tsx test/train/throughput.ts [B] [T] [steps]
 * Prints wall-clock and CPU-time rates (CPU time is the honest figure on a shared machine).
 * Belongs in bench/ once that directory has an owner for it.
 */

import { presets } from "../../src/train/config.ts";
import { tinyRun } from "./tinyrun.ts";

const B = Number(process.argv[2] ?? 8);
const T = Number(process.argv[3] ?? 64);
const steps = Number(process.argv[4] ?? 30);
for (const weights of ["ternary", "fp"] as const) {
  const c = { ...presets.tiny, weights };
  tinyRun(c, { seed: 1, steps: 5, B, T, lr: 1e-3 }); // JIT warm-up
  const cpu0 = process.cpuUsage();
  const r = tinyRun(c, { seed: 1, steps, B, T, lr: 1e-3 });
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(`${weights.padEnd(7)} B=${B} T=${T} steps=${steps}: ${(r.tokens / r.seconds).toFixed(0)} tok/s wall, ${(r.tokens / cpuSeconds).toFixed(0)} tok/s CPU`);
}
