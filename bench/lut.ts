/**
 * The table-lookup GEMV (src/kernels/wasm/assembly/ternary-lut.ts) against the dot kernels
 * (ternary-gemv.ts), one token, in both builds (relaxed SIMD and SIMD128), for TQ2_0, TQ1_0 and I2_S,
 * on BitNet b1.58 2B4T's matrix shapes. Three kernels per case: "dot" over the file layout, "LUT in
 * place" over the file layout (TQ2_0, I2_S), "LUT repacked" over the LUT layout. Not a test: the
 * figures that decide which one the decode path uses (src/kernels/wasm/kernels.ts, lutCopy).
 *
 * Run: node_modules/.bin/node --import tsx bench/lut.ts [--rounds N] [--quick]
 *
 * "hot" runs one matrix again and again (cached); "cold" walks a stack of 2B4T layers larger than the
 * caches, once per token, as decode does. The kernels get the same inputs already in wasm memory and are
 * called through the raw exports, so only the kernels differ; every case checks once that they agree
 * bit for bit. Medians of interleaved rounds. Also reported: the cost of building the tables alone (a
 * call with no rows) and of the repack.
 */
import type { TernaryFormat } from "../src/kernels/types.ts";
import { createWasmKernels, type WasmKernels } from "../src/kernels/wasm/kernels.ts";
import type { KernelExports, WasmSimd } from "../src/kernels/wasm/module.ts";
import { i2_s, tq1_0, tq2_0 } from "../src/quant/codecs/index.ts";
import { median, timer } from "../src/node/bench/stats.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const QUICK = args.includes("--quick");
const ROUNDS = option("--rounds", QUICK ? 3 : 7);
const LAYERS = QUICK ? 2 : 4;

/** [K, N]: attn_q/attn_output, attn_k/attn_v, ffn_gate/ffn_up, ffn_down. */
const SHAPES: [number, number][] = [[2560, 2560], [2560, 640], [2560, 6912], [6912, 2560]];
/** One 2B4T layer: q, k, v, o, gate, up, down. */
const LAYER: [number, number][] = [[2560, 2560], [2560, 640], [2560, 640], [2560, 2560], [2560, 6912], [2560, 6912], [6912, 2560]];
const FORMATS: TernaryFormat[] = ["tq2_0", "tq1_0", "i2_s"];
const FORMAT = { tq2_0: 0, tq1_0: 1, i2_s: 2 } as const;
const CODECS = { tq2_0, tq1_0, i2_s } as const;
const GAMMA = 0.02;


let seed = 12345;
function rand(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296;
}

/** One build's kernels, with one token's inputs per width and one output and work area, all in wasm memory. */
class Bench {
  readonly k: WasmKernels;
  readonly lut: KernelExports;
  readonly q = new Map<number, number>();
  readonly factors: number;
  readonly out: number;
  readonly outLut: number;
  readonly work: number;
  readonly repackWork: number;
  /** Nanoseconds per weight of every lutRepack call, per format (the first runs before V8 optimizes it). */
  readonly repack = new Map<TernaryFormat, number[]>();

  constructor(k: WasmKernels) {
    this.k = k;
    this.lut = k.wasm;
    for (const K of [2560, 6912]) {
      const q = k.allocScratch(K, 64);
      const view = new Int8Array(q.buffer, q.byteOffset, K);
      for (let i = 0; i < K; i++) view[i] = Math.floor(rand() * 256) - 128;
      this.q.set(K, q.byteOffset);
    }
    const f = k.allocScratch(64, 64);
    new Float32Array(f.buffer, f.byteOffset, 1)[0] = 0.01;
    this.factors = f.byteOffset;
    this.out = k.allocScratch(6912 * 4, 64).byteOffset;
    this.outLut = k.allocScratch(6912 * 4, 64).byteOffset;
    this.work = k.allocScratch(Math.max(k.wasm.ternaryWorkBytes(1, 6912), this.lut.lutWorkBytes(6912)), 64).byteOffset;
    this.repackWork = k.allocScratch(this.lut.lutRepackWorkBytes(6912), 64).byteOffset;
  }

  /** A random [N, K] matrix in `format` (file layout) and its LUT layout. */
  matrix(format: TernaryFormat, N: number, K: number): Matrix {
    const codes = new Int8Array(N * K);
    for (let i = 0; i < codes.length; i++) codes[i] = Math.floor(rand() * 3) - 1;
    const packed = CODECS[format].pack(codes, Float32Array.of(GAMMA), [K, N], "bench");
    const file = this.k.allocWeights(packed.length, 64);
    file.set(packed);
    const lutBytes = this.lut.lutBytes(N, K);
    const lut = this.k.allocWeights(lutBytes, 64).byteOffset;
    const t0 = performance.now();
    this.lut.lutRepack(FORMAT[format], file.byteOffset, N, K, lut, this.repackWork);
    const samples = this.repack.get(format) ?? [];
    samples.push(((performance.now() - t0) * 1e6) / (N * K));
    this.repack.set(format, samples);
    return { format, N, K, file: file.byteOffset, fileBytes: packed.length, lut, lutBytes };
  }

  runFile(m: Matrix, out = this.out): void {
    this.k.wasm.ternaryRows(FORMAT[m.format], m.file, m.N, m.K, this.q.get(m.K) as number, 1, this.factors, m.K, GAMMA, 1, 1, out, this.work, 0, m.N);
  }

  /** The LUT kernel over the LUT layout (`packed`) or straight over the file layout. */
  runLut(m: Matrix, packed: boolean, out = this.outLut, rows = m.N): void {
    this.lut.lutRows(FORMAT[m.format], m.file, packed ? m.lut : 0, m.N, m.K, this.q.get(m.K) as number, this.factors, m.K, GAMMA, 1, 1, out, this.work, 0, rows);
  }

  /** Throws unless the kernels give the same bits for m. */
  check(m: Matrix): void {
    this.runFile(m);
    const mem = this.k.arena.memory.buffer;
    const a = new Uint32Array(mem, this.out, m.N), b = new Uint32Array(mem, this.outLut, m.N);
    for (const packed of [true, false]) {
      b.fill(0);
      this.runLut(m, packed);
      for (let r = 0; r < m.N; r++) if (a[r] !== b[r]) throw new Error(`lut bench: ${m.format} [${m.N}, ${m.K}] row ${r} differs (${packed ? "LUT layout" : "file layout"})`);
    }
  }
}

interface Matrix {
  format: TernaryFormat;
  N: number;
  K: number;
  file: number;
  fileBytes: number;
  lut: number;
  lutBytes: number;
}

/** The kernels compared on one piece of work: the dot kernel, the LUT kernel in place (TQ2_0, I2_S), the LUT kernel over the LUT layout. */
const KERNELS = ["dot", "LUT in place", "LUT repacked"] as const;

interface Case {
  label: string;
  macs: number;
  timers: (() => number)[];
  samples: number[][];
}

function kernelCase(label: string, macs: number, b: Bench, mats: Matrix[], minMs: number): Case {
  const inPlace = mats[0].format !== "tq1_0";
  const timers = [
    timer(() => mats.forEach((m) => b.runFile(m)), minMs),
    inPlace ? timer(() => mats.forEach((m) => b.runLut(m, false)), minMs) : () => NaN,
    timer(() => mats.forEach((m) => b.runLut(m, true)), minMs),
  ];
  return { label, macs, timers, samples: timers.map(() => []) };
}

async function main(): Promise<void> {
  const builds: [WasmSimd, Bench][] = [];
  for (const simd of ["relaxed", "simd128"] as WasmSimd[]) builds.push([simd, new Bench(await createWasmKernels({ simd, shared: true }))]);

  const hot: Case[] = [];
  const tables: { label: string; sample: () => number; samples: number[] }[] = [];
  for (const [simd, b] of builds) {
    for (const format of FORMATS) {
      for (const [K, N] of SHAPES) {
        const m = b.matrix(format, N, K);
        b.check(m);
        hot.push(kernelCase(`${simd} ${format} ${K}→${N}`, N * K, b, [m], QUICK ? 10 : 30));
      }
    }
    for (const K of [2560, 6912]) {
      const m = b.matrix("tq2_0", 16, K);
      tables.push({ label: `${simd} K=${K}`, sample: timer(() => b.runLut(m, true, b.outLut, 0), 5), samples: [] });
    }
  }
  const cold: Case[] = [];
  for (const [simd, b] of builds) {
    for (const format of FORMATS) {
      const mats: Matrix[] = [];
      for (let l = 0; l < LAYERS; l++) for (const [K, N] of LAYER) mats.push(b.matrix(format, N, K));
      cold.push(kernelCase(`${simd} ${format} ${LAYERS} layers`, mats.reduce((s, m) => s + m.N * m.K, 0), b, mats, 1));
    }
  }

  for (let r = 0; r < ROUNDS; r++) {
    for (const c of [...hot, ...cold]) {
      // Rotate which kernel goes first, so none always runs right after the same neighbour.
      for (let j = 0; j < KERNELS.length; j++) {
        const i = (j + r) % KERNELS.length;
        c.samples[i].push(c.timers[i]());
      }
    }
    for (const t of tables) t.samples.push(t.sample());
    process.stderr.write(`lut bench: round ${r + 1}/${ROUNDS}\r`);
  }
  process.stderr.write("\n");

  const print = (title: string, cases: Case[]): void => {
    console.log(`\n${title}\n\n| case | ${KERNELS.map((k) => `${k} GMAC/s`).join(" | ")} | best LUT / dot |\n|---|---|---|---|---|`);
    for (const c of cases) {
      const rates = c.samples.map((s) => c.macs / median(s) / 1e9);
      const best = Math.max(...rates.slice(1).filter((x) => !Number.isNaN(x)));
      console.log(`| ${c.label} | ${rates.map((x) => (Number.isNaN(x) ? "–" : x.toFixed(1))).join(" | ")} | ${(best / rates[0]).toFixed(2)} |`);
    }
  };
  console.log(`Medians of ${ROUNDS} interleaved rounds, one token, one thread.`);
  print("Hot (one matrix, cached):", hot);
  print(`Cold (${LAYERS} 2B4T layers per pass, larger than the caches):`, cold);
  console.log("\nThe LUT layout has 2 bits per weight (TQ2_0 2.06, TQ1_0 1.69, I2_S 2), kept beside the file layout.");
  console.log("\nTables alone (included in the LUT figures above): " + tables.map((t) => `${t.label} ${(median(t.samples) * 1e6).toFixed(1)} µs`).join(", "));
  for (const [simd, b] of builds) {
    const parts = [...b.repack].map(([f, ns]) => `${f} ${median(ns).toFixed(2)} (first call ${ns[0].toFixed(2)})`);
    console.log(`Repack, ns per weight, median of ${b.repack.get("tq2_0")?.length} matrices (${simd}): ${parts.join(", ")}.`);
  }
}

await main();
