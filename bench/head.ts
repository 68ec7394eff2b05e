/**
 * The int8 output head against the F16 one, on BitNet b1.58 2B4T's head shape (2560 → 128256):
 * (1) the head matmul alone, one token, GMAC/s and weight GB/s, on 1 and N threads, next to a memory
 *     read probe, all interleaved round by round in one process (medians);
 * (2) decode tok/s, peak RSS and load time of a 2B4T-shaped model with a few layers and the full
 *     vocabulary (tied F16 embedding), loaded as it is and with `headType: "q8_0"`, each run in a fresh
 *     child process (decode-child.ts), alternating.
 *
 *   node --import tsx bench/head.ts [--threads N] [--rounds N] [--layers L] [--tokens N]
 *
 * A measurement, not a test; the quality side is bench/head-quality.ts.
 */
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { FloatMatrix, Kernels } from "../src/kernels/types.ts";
import { createWasmKernels, type WasmKernels } from "../src/kernels/wasm/kernels.ts";
import { createThreadedWasmKernels } from "../src/node/wasm-threads.ts";
import { encodeQ8_0Blocks, q8_0Bytes } from "../src/quant/codecs/q8_0.ts";
import { f16ArrayToF32 } from "../src/quant/half.ts";
import { runDecodeChild, type DecodeChildResult } from "./decode-child.ts";
import { benchSpec, ensureModel } from "./models.ts";
import { median, range } from "../src/node/bench/stats.ts";

const { values: flags } = parseArgs({
  options: {
    threads: { type: "string", default: String(availableParallelism()) },
    rounds: { type: "string", default: "7" },
    layers: { type: "string", default: "4" },
    tokens: { type: "string", default: "32" },
  },
});
const THREADS = Number(flags.threads);
const ROUNDS = Number(flags.rounds);
const V = 128256;
const D = 2560;

let seed = 4242;
function rand(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296;
}

/** Seconds per call of fn (after a warm-up). */
function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

async function headKernels(): Promise<void> {
  // One F16 head of random finite halves, and its Q8_0 quantization (the bytes headType "q8_0" would make).
  const bits = new Uint16Array(V * D);
  for (let i = 0; i < bits.length; i++) bits[i] = 0x2000 + Math.floor(rand() * 0x1800) + (rand() < 0.5 ? 0x8000 : 0);
  const q8 = new Uint8Array(q8_0Bytes(V, D));
  const row = new Float32Array(D);
  for (let r = 0; r < V; r++) encodeQ8_0Blocks(f16ArrayToF32(bits.subarray(r * D, (r + 1) * D), row), D, q8, r * q8_0Bytes(1, D));

  const backends: [string, WasmKernels][] = [["×1", await createWasmKernels({ simd: "relaxed", shared: true })]];
  if (THREADS > 1) backends.push([`×${THREADS}`, await createThreadedWasmKernels({ simd: "relaxed", threads: THREADS })]);
  const probeBytes = 1024 * 2 ** 20;
  const probe = backends[0][1].allocScratch(probeBytes, 64).fill(1);
  const cases: { label: string; bytes: number; run: () => void; s: number[] }[] = [
    { label: "memory read probe (1 thread)", bytes: probeBytes, run: () => void backends[0][1].wasm.sumBytes(probe.byteOffset, probeBytes), s: [] },
  ];
  const x = new Float32Array(D).map(() => rand() - 0.5);
  const out = new Float32Array(V);
  for (const [name, k] of backends) {
    const f = k.allocWeights(bits.byteLength, 64);
    f.set(new Uint8Array(bits.buffer));
    const f16: FloatMatrix = { kind: "float", format: "f16", name: "f16 head", rows: V, cols: D, data: new Uint16Array(f.buffer, f.byteOffset, V * D), outScale: 1 };
    const q = k.allocWeights(q8.length, 64);
    q.set(q8);
    const int8: FloatMatrix = { kind: "float", format: "q8_0", name: "q8_0 head", rows: V, cols: D, data: q, outScale: 1 };
    cases.push({ label: `f16 head ${D}→${V}, 1 token, ${name}`, bytes: bits.byteLength, run: () => k.floatMatmul(f16, x, 1, out), s: [] });
    cases.push({ label: `q8_0 head ${D}→${V}, 1 token, ${name}`, bytes: q8.length, run: () => k.floatMatmul(int8, x, 1, out), s: [] });
  }
  for (const c of cases) c.run(); // warm-up (and the one-time Q8_0 check)
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of cases) c.s.push(time(c.run));
    process.stderr.write(`head kernels: round ${r + 1}/${ROUNDS}\r`);
  }
  process.stderr.write("\n");
  console.log("| case | ms | GMAC/s | weight GB/s |");
  console.log("|---|---|---|---|");
  for (const c of cases) {
    const s = median(c.s);
    console.log(`| ${c.label} | ${(s * 1000).toFixed(1)} (${range(c.s.map((t) => t * 1000))}) | ${c.label.startsWith("memory") ? "—" : ((V * D) / s / 1e9).toFixed(1)} | ${(c.bytes / s / 1e9).toFixed(1)} |`);
  }
  for (const [, k] of backends) await (k as Kernels).close?.();
}

async function decode(): Promise<void> {
  const layers = Number(flags.layers);
  const tokens = Number(flags.tokens);
  const path = await ensureModel(benchSpec({ layers, vocab: V }, "tq2_0"));
  const runs: Record<"keep" | "q8_0", DecodeChildResult[]> = { keep: [], q8_0: [] };
  const rounds = Math.max(1, Math.min(ROUNDS, 5));
  for (let r = 0; r < rounds; r++) {
    for (const headType of ["keep", "q8_0"] as const) {
      runs[headType].push(await runDecodeChild(path, { threads: THREADS, tokens, headType }));
      process.stderr.write(`decode: round ${r + 1}/${rounds} ${headType} ${runs[headType].at(-1)?.decodeTokS.toFixed(2)} tok/s\n`);
    }
  }
  console.log(`\nDecode, ${layers} layers of 2B4T (TQ2_0) + the tied 128256 × 2560 F16 embedding, ${THREADS} thread(s), ${tokens} tokens after an 8-token prompt, ${rounds} alternating child processes (medians; min–max):\n`);
  console.log("| head | decode tok/s | ms per token | peak RSS | load s |");
  console.log("|---|---|---|---|---|");
  for (const headType of ["keep", "q8_0"] as const) {
    const rs = runs[headType];
    const tps = rs.map((x) => x.decodeTokS);
    console.log(`| ${headType === "keep" ? "f16 (as stored)" : "q8_0 (headType)"} | ${median(tps).toFixed(2)} (${range(tps)}) | ${(1000 / median(tps)).toFixed(1)} | ${(median(rs.map((x) => x.maxRssBytes)) / 2 ** 20).toFixed(0)} MiB | ${median(rs.map((x) => x.loadSeconds)).toFixed(1)} |`);
  }
}

console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);
await headKernels();
await decode();
console.log(`\nload average after: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
