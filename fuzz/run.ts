/**
 * `npm run fuzz -- --cases N --seed S [--out DIR] [--jobs J] [--time-limit-ms T] [--memory-limit-mb M] [--no-shrink]`:
 * runs the fuzzing harness (harness.ts) and prints the counts and each distinct failure with its shrunk
 * reproducer (written to DIR, default runs/fuzz). Exits 1 when anything crashed, hung or blew up.
 * `npm run fuzz -- --replay FILE` runs one file (a reproducer) as a case, in this process, and prints the result.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runFuzz } from "./harness.ts";
import { runCase } from "./target.ts";

const { values } = parseArgs({
  options: {
    cases: { type: "string", default: "1000" },
    seed: { type: "string", default: "1" },
    out: { type: "string", default: "runs/fuzz" },
    jobs: { type: "string", default: "1" },
    "time-limit-ms": { type: "string", default: "10000" },
    "memory-limit-mb": { type: "string", default: "1024" },
    "no-shrink": { type: "boolean", default: false },
    replay: { type: "string" },
  },
});

if (values.replay !== undefined) {
  const file = values.replay;
  const result = await runCase({ kind: file.endsWith(".gguf") ? "gguf" : "safetensors", checkpoint: file.includes(".ckpt"), bytes: new Uint8Array(readFileSync(file)) });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exit(result.outcome === "crash" ? 1 : 0);
}

function int(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`fuzz: --${name} must be an integer ≥ ${min}, got '${text}'\n`);
    process.exit(2);
  }
  return n;
}

const started = new Date();
const report = await runFuzz({
  cases: int("cases", values.cases, 1),
  seed: int("seed", values.seed, 0),
  outDir: values.out,
  jobs: int("jobs", values.jobs, 1),
  timeLimitMs: int("time-limit-ms", values["time-limit-ms"], 100),
  memoryLimitMb: int("memory-limit-mb", values["memory-limit-mb"], 64),
  shrink: !values["no-shrink"],
  log: (line) => process.stderr.write(`[${new Date().toISOString()}] ${line}\n`),
});
const c = report.counts;
process.stdout.write(
  `fuzz: ${report.cases} cases, seed ${report.seed}, started ${started.toISOString()}, ${report.seconds.toFixed(0)} s\n` +
    `  accepted ${c.accepted}, clean error ${c.clean}, crash ${c.crash}, hang ${c.hang}, blowup ${c.blowup}` +
    `${report.unconfirmed ? ` (${report.unconfirmed} failures did not recur alone and are counted as what they did then)` : ""}\n` +
    `  clean errors by class: ${Object.entries(report.cleanByClass).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ")}\n`,
);
for (const f of report.failures) process.stdout.write(`  ${f.verdict}: ${f.signature}\n    case ${f.caseIndex} from ${f.seedFile} (${f.mutations.join(" + ")}), ${f.bytes} -> ${f.shrunkBytes} bytes${f.reproducer ? `: ${f.reproducer}` : ""}\n`);
process.exitCode = c.crash + c.hang + c.blowup > 0 ? 1 : 0;
