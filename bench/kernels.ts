/**
 * Kernel benchmark (not a test): GMAC/s of the reference, the wasm and the native kernels on BitNet
 * b1.58 2B4T's matrix shapes, for one token (decode) and 64 tokens (prefill), in TQ2_0, I2_S and TQ1_0;
 * the f16 output head and its int8 (Q8_0) version; and a memory-read-bandwidth probe in the same
 * process, so that decode can be stated as a fraction of what the memory delivers.
 *
 * Run: node_modules/.bin/node --import tsx bench/kernels.ts [--rounds N] [--threads N] [--no-ref] [--quick]
 *        [--backends wasm-simd128,wasm-relaxed,native] [--formats tq2_0,i2_s,tq1_0] [--shapes 2560x6912,6912x2560]
 *        [--tokens 1,64] [--no-hot] [--no-cold] [--no-q8]
 * --threads N adds the threaded version of each backend (wasm relaxed, native); --shapes are K×N; native
 * is included when its addon is built (BITNET_NATIVE_ISA picks its kernel set).
 *
 * "hot" runs one matrix again and again (it sits in the caches); "cold" walks a stack of 2B4T layers
 * larger than the caches, once per token, as a real decode does. Every figure is the median of N
 * interleaved rounds (the machines we run on are noisy: compare only figures from one run).
 */
import { refKernels } from "../src/kernels/ref.ts";
import type { FloatMatrix, Kernels, QuantizedActivations, TernaryFormat, TernaryMatrix } from "../src/kernels/types.ts";
import { createWasmKernels, type WasmKernels } from "../src/kernels/wasm/kernels.ts";
import { createNativeKernels, nativeKernelsStatus } from "../src/node/native/kernels.ts";
import { createThreadedWasmKernels } from "../src/node/wasm-threads.ts";
import { i2_s, tq1_0, tq2_0 } from "../src/quant/codecs/index.ts";
import { randomQ8Head } from "./kernel-rates.ts";

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const QUICK = flag("--quick");
const ROUNDS = option("--rounds", QUICK ? 3 : 7);
const THREADS = option("--threads", 2);
const WITH_REF = !flag("--no-ref");
const list = (name: string): string[] | null => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1].split(",") : null;
};
const BACKENDS = list("--backends");
const TOKENS = (list("--tokens") ?? ["1", "64"]).map(Number);
const HOT = !flag("--no-hot");
const COLD = !flag("--no-cold");
const WITH_Q8 = !flag("--no-q8");
const wanted = (name: string): boolean => !BACKENDS || BACKENDS.some((b) => name === b || name.startsWith(`${b} `));
/** The reference is slow: it gets this many rounds at most. */
const REF_ROUNDS = 3;

/** [K, N]: attn_q/attn_output, attn_k/attn_v, ffn_gate/ffn_up, ffn_down. */
const SHAPES: [number, number][] = list("--shapes")?.map((s) => s.split("x").map(Number) as [number, number]) ?? [[2560, 2560], [2560, 640], [2560, 6912], [6912, 2560]];
/** One 2B4T layer: q, k, v, o, gate, up, down. */
const LAYER: [number, number][] = [[2560, 2560], [2560, 640], [2560, 640], [2560, 2560], [2560, 6912], [2560, 6912], [6912, 2560]];
const FORMATS = (list("--formats") ?? ["tq2_0", "i2_s", "tq1_0"]) as TernaryFormat[];
const CODECS = { tq2_0, tq1_0, i2_s } as const;

let seed = 12345;
function rand(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const packedCache = new Map<string, Uint8Array>();
/** Packed bytes of a random [N, K] ternary matrix with one scale (one per format and shape). */
function packed(format: TernaryFormat, N: number, K: number): Uint8Array {
  const key = `${format} ${N} ${K}`;
  let p = packedCache.get(key);
  if (!p) {
    const codes = new Int8Array(N * K);
    for (let i = 0; i < codes.length; i++) codes[i] = Math.floor(rand() * 3) - 1;
    packedCache.set(key, (p = CODECS[format].pack(codes, Float32Array.of(0.02), [K, N], "bench")));
  }
  return p;
}

function ternaryIn(k: Kernels, format: TernaryFormat, N: number, K: number): TernaryMatrix {
  const p = packed(format, N, K);
  const data = k.allocWeights ? k.allocWeights(p.length, 64) : new Uint8Array(p.length);
  data.set(p);
  return { kind: "ternary", format, name: `bench.${format}.${N}x${K}`, rows: N, cols: K, data, blockScales: Float32Array.of(0.02), uniformScale: 0.02, outScale: 1 };
}

function activations(T: number, K: number): QuantizedActivations {
  const q = new Int8Array(T * K);
  for (let i = 0; i < q.length; i++) q[i] = Math.floor(rand() * 255) - 127;
  return { tokens: T, cols: K, q, group: K, factors: new Float32Array(T).fill(0.01), sums: new Int32Array(T) };
}

/** Seconds per call: calls repeat until a sample lasts ≥ minMs; the repeat count is fixed on first use. */
class Timer {
  private reps = 0;
  private readonly fn: () => void;
  private readonly minMs: number;
  constructor(fn: () => void, minMs: number) {
    this.fn = fn;
    this.minMs = minMs;
  }
  sample(): number {
    if (this.reps === 0) {
      this.fn(); // warm-up: V8 tiers wasm up from Liftoff to TurboFan while it runs
      const t0 = performance.now();
      this.fn();
      this.reps = Math.max(1, Math.ceil(this.minMs / Math.max(performance.now() - t0, 1e-3)));
    }
    const t0 = performance.now();
    for (let i = 0; i < this.reps; i++) this.fn();
    return (performance.now() - t0) / 1000 / this.reps;
  }
}

interface Case {
  label: string;
  macs: number; // multiply-adds per call
  bytes: number; // weight bytes read per call
  timer: Timer;
  samples: number[];
  rounds: number;
}

function runInterleaved(title: string, cases: Case[]): void {
  const rounds = Math.max(...cases.map((c) => c.rounds));
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) if (r < c.rounds) c.samples.push(c.timer.sample());
    process.stderr.write(`${title}: round ${r + 1}/${rounds}\r`);
  }
  process.stderr.write("\n");
}

function table(cases: Case[], bandwidth: number): void {
  console.log("| case | GMAC/s | weights GB/s | of bandwidth |");
  console.log("|---|---|---|---|");
  for (const c of cases) {
    const s = median(c.samples);
    console.log(`| ${c.label} | ${(c.macs / s / 1e9).toFixed(2)} | ${(c.bytes / s / 1e9).toFixed(1)} | ${((c.bytes / s / bandwidth) * 100).toFixed(0)}% |`);
  }
}

async function main(): Promise<void> {
  const backends: [string, Kernels][] = [];
  if (WITH_REF && wanted("ref")) backends.push(["ref", refKernels]);
  if (wanted("wasm-simd128")) backends.push(["wasm-simd128", await createWasmKernels({ simd: "simd128", shared: true })]);
  if (wanted("wasm-relaxed")) {
    backends.push(["wasm-relaxed", await createWasmKernels({ simd: "relaxed", shared: true })]);
    if (THREADS > 1) backends.push([`wasm-relaxed ×${THREADS}`, await createThreadedWasmKernels({ simd: "relaxed", threads: THREADS })]);
  }
  const native = nativeKernelsStatus();
  if (wanted("native") && native.available) {
    backends.push([`native-${native.isa}`, await createNativeKernels({ threads: 1 })]);
    if (THREADS > 1) backends.push([`native-${native.isa} ×${THREADS}`, await createNativeKernels({ threads: THREADS })]);
  } else if (wanted("native")) {
    console.error(`native kernels left out: ${native.reason}`);
  }

  // Bandwidth probe: sum 1 GiB (256 MiB with --quick) in wasm, interleaved with the kernels.
  const probeBytes = (QUICK ? 256 : 1024) * 2 ** 20;
  const probeKernels = await createWasmKernels({ simd: "relaxed", shared: true });
  const probeBuffer = probeKernels.allocScratch(probeBytes, 64).fill(1);
  const probe = (): Case => ({
    label: "probe",
    macs: 0,
    bytes: probeBytes,
    timer: new Timer(() => probeKernels.wasm.sumBytes(probeBuffer.byteOffset, probeBytes), 1),
    samples: [],
    rounds: ROUNDS,
  });

  // Hot: one matrix per (format, shape), every backend, T = 1 and 64.
  const hotProbe = probe();
  const hot: Case[] = [];
  for (const format of HOT ? FORMATS : []) {
    for (const [K, N] of SHAPES) {
      for (const [name, k] of backends) {
        const w = ternaryIn(k, format, N, K);
        for (const T of TOKENS) {
          const x = activations(T, K);
          const out = new Float32Array(T * N);
          const isRef = name === "ref";
          hot.push({
            label: `${format} ${K}→${N} T=${T} ${name}`,
            macs: T * N * K,
            bytes: w.data.length,
            timer: new Timer(() => k.ternaryMatmul(w, x, out), isRef ? 1 : QUICK ? 10 : 30),
            samples: [],
            rounds: isRef ? Math.min(REF_ROUNDS, ROUNDS) : ROUNDS,
          });
        }
      }
    }
  }
  if (HOT) runInterleaved("hot", [hotProbe, ...hot]);

  // Cold: a stack of 2B4T layers bigger than the caches, one token per pass, then the f16 head.
  const layers = QUICK ? 4 : 8;
  const coldProbe = probe();
  const cold: Case[] = [];
  const fastBackends = backends.filter(([name]) => name !== "ref");
  for (const format of COLD ? FORMATS : []) {
    for (const [name, k] of fastBackends) {
      const mats: TernaryMatrix[] = [];
      for (let l = 0; l < layers; l++) for (const [K, N] of LAYER) mats.push(ternaryIn(k, format, N, K));
      const xs: Record<number, QuantizedActivations> = { 2560: activations(1, 2560), 6912: activations(1, 6912) };
      const out = new Float32Array(6912);
      cold.push({
        label: `${format} ${layers} layers T=1 ${name}`,
        macs: mats.reduce((s, m) => s + m.rows * m.cols, 0),
        bytes: mats.reduce((s, m) => s + m.data.length, 0),
        timer: new Timer(() => {
          for (const m of mats) k.ternaryMatmul(m, xs[m.cols], out);
        }, 1),
        samples: [],
        rounds: ROUNDS,
      });
    }
  }
  const V = 128256, D = 2560;
  const headBits = new Uint16Array(V * D);
  for (let i = 0; i < headBits.length; i++) headBits[i] = 0x2000 + Math.floor(rand() * 0x1800) + (rand() < 0.5 ? 0x8000 : 0);
  for (const [name, k] of COLD ? fastBackends : []) {
    const bytes = (k as WasmKernels).allocWeights(headBits.byteLength, 64);
    const data = new Uint16Array(bytes.buffer, bytes.byteOffset, headBits.length);
    data.set(headBits);
    const head: FloatMatrix = { kind: "float", format: "f16", name: "output", rows: V, cols: D, data, outScale: 1 };
    for (const T of TOKENS.map((t) => Math.min(t, 4))) {
      const x = new Float32Array(T * D).map(() => rand() - 0.5);
      const out = new Float32Array(T * V);
      cold.push({ label: `f16 head ${D}→${V} T=${T} ${name}`, macs: T * V * D, bytes: headBits.byteLength, timer: new Timer(() => k.floatMatmul(head, x, T, out), 1), samples: [], rounds: ROUNDS });
    }
  }
  const q8Bytes = COLD && WITH_Q8 ? randomQ8Head(V, D) : new Uint8Array(0);
  for (const [name, k] of COLD && WITH_Q8 ? fastBackends : []) {
    const data = (k as WasmKernels).allocWeights(q8Bytes.length, 64);
    data.set(q8Bytes);
    const head: FloatMatrix = { kind: "float", format: "q8_0", name: "output", rows: V, cols: D, data, outScale: 1 };
    for (const T of TOKENS.map((t) => Math.min(t, 4))) {
      const x = new Float32Array(T * D).map(() => rand() - 0.5);
      const out = new Float32Array(T * V);
      cold.push({ label: `q8_0 head ${D}→${V} T=${T} ${name}`, macs: T * V * D, bytes: q8Bytes.length, timer: new Timer(() => k.floatMatmul(head, x, T, out), 1), samples: [], rounds: ROUNDS });
    }
  }
  if (COLD) runInterleaved("cold", [coldProbe, ...cold]);

  console.log(`Medians of ${ROUNDS} interleaved rounds (the reference: ${Math.min(REF_ROUNDS, ROUNDS)}).`);
  if (HOT) {
    const hotBandwidth = probeBytes / median(hotProbe.samples);
    console.log(`Memory read bandwidth (wasm, 1 thread, ${probeBytes / 2 ** 20} MiB) during the hot runs: ${(hotBandwidth / 1e9).toFixed(1)} GB/s.\n`);
    console.log("Hot (one matrix, cached):\n");
    table(hot, hotBandwidth);
  }
  if (COLD) {
    const coldBandwidth = probeBytes / median(coldProbe.samples);
    console.log(`\nMemory read bandwidth during the cold runs: ${(coldBandwidth / 1e9).toFixed(1)} GB/s.`);
    console.log(`Cold (${layers} 2B4T layers per pass; the f16${WITH_Q8 ? " and q8_0 heads" : " head"} over the full vocabulary):\n`);
    table(cold, coldBandwidth);
  }
  await Promise.all(backends.map(([, k]) => k.close?.()));
}

await main();
