/**
 * Section (a) of `npm run bench`, kept short: GMAC/s of our TQ2_0 kernel on 2B4T's four matrix shapes
 * for one token (decode), in each backend (native where built, wasm) on one thread and on N, a cold pass
 * over a stack of layers larger than the caches (as decode reads them), the F16 output head over the
 * full vocabulary and the same head in Q8_0 (the int8 head of `headType: "q8_0"`). The exhaustive
 * version (every format, the reference, T=64) is bench/kernels.ts. Not here: whole-model throughput
 * (throughput.ts), the memory bandwidth (bandwidth.ts).
 */
import type { FloatMatrix, Kernels, QuantizedActivations, TernaryMatrix } from "../src/kernels/types.ts";
import { createNodeKernels, type KernelBackend } from "../src/node/kernels.ts";
import { tq2_0 } from "../src/quant/codecs/index.ts";
import { q8_0Bytes } from "../src/quant/codecs/q8_0.ts";
import { median, timer } from "../src/node/bench/stats.ts";

/** [K, N]: attn_q/attn_output, attn_k/attn_v, ffn_gate/ffn_up, ffn_down. */
const SHAPES: [number, number][] = [[2560, 2560], [2560, 640], [2560, 6912], [6912, 2560]];
/** One 2B4T layer: q, k, v, o, gate, up, down. */
const LAYER: [number, number][] = [[2560, 2560], [2560, 640], [2560, 640], [2560, 2560], [2560, 6912], [2560, 6912], [6912, 2560]];
const VOCAB = 128256;

export interface KernelRate {
  label: string;
  gmacs: number;
  /** Weight bytes read per second. */
  gbps: number;
}

export interface KernelRates {
  rows: KernelRate[];
}

let seed = 12345;
function rand(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296;
}

/** Weight memory where the backend wants it (wasm: inside its memory). */
function weights(k: Kernels, bytes: number): Uint8Array {
  return k.allocWeights ? k.allocWeights(bytes, 64) : new Uint8Array(bytes);
}

function ternary(k: Kernels, N: number, K: number): TernaryMatrix {
  const codes = new Int8Array(N * K);
  for (let i = 0; i < codes.length; i++) codes[i] = Math.floor(rand() * 3) - 1;
  const packed = tq2_0.pack(codes, Float32Array.of(0.02), [K, N], "bench");
  const data = weights(k, packed.length);
  data.set(packed);
  return { kind: "ternary", format: "tq2_0", name: `bench.${N}x${K}`, rows: N, cols: K, data, blockScales: Float32Array.of(0.02), uniformScale: 0.02, outScale: 1 };
}

function acts(K: number): QuantizedActivations {
  const q = new Int8Array(K).map(() => Math.floor(rand() * 255) - 127);
  return { tokens: 1, cols: K, q, group: K, factors: Float32Array.of(0.01), sums: new Int32Array(1) };
}

/** A random Q8_0 matrix [N, K]: codes in [-127, 127] (what ggml writes), fp16 scales around 1e-3. */
export function randomQ8Head(N: number, K: number): Uint8Array {
  const bytes = new Uint8Array(q8_0Bytes(N, K));
  for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  for (let b = 0; b < bytes.length; b += 34) {
    bytes[b] = Math.floor(rand() * 256);
    bytes[b + 1] = 0x14 + (b & 3); // 2^-10 .. 2^-8: finite, normal
    for (let j = 2; j < 34; j++) if (bytes[b + j] === 0x80) bytes[b + j] = 0x81;
  }
  return bytes;
}

interface Case {
  label: string;
  macs: number;
  bytes: number;
  sample: () => number;
  samples: number[];
}

export async function measureKernelRates(opts: { threads: number; rounds: number; quick: boolean; backends: readonly KernelBackend[] }): Promise<KernelRates> {
  const backends: [string, Kernels][] = [];
  for (const backend of opts.backends) {
    for (const threads of opts.threads > 1 ? [1, opts.threads] : [1]) {
      const { kernels } = await createNodeKernels({ threads, backend });
      backends.push([`${kernels.name} ×${threads}`, kernels]);
    }
  }
  const cases: Case[] = [];

  for (const [K, N] of SHAPES) {
    for (const [name, k] of backends) {
      const w = ternary(k, N, K);
      const x = acts(K);
      const out = new Float32Array(N);
      cases.push({ label: `tq2_0 ${K}→${N}, 1 token, hot, ${name}`, macs: N * K, bytes: w.data.length, sample: timer(() => k.ternaryMatmul(w, x, out), opts.quick ? 10 : 30), samples: [] });
    }
  }
  const layers = opts.quick ? 4 : 8;
  for (const [name, k] of backends) {
    const mats: TernaryMatrix[] = [];
    for (let l = 0; l < layers; l++) for (const [K, N] of LAYER) mats.push(ternary(k, N, K));
    const xs: Record<number, QuantizedActivations> = { 2560: acts(2560), 6912: acts(6912) };
    const out = new Float32Array(6912);
    cases.push({
      label: `tq2_0 ${layers} layers, 1 token, cold, ${name}`,
      macs: mats.reduce((s, m) => s + m.rows * m.cols, 0),
      bytes: mats.reduce((s, m) => s + m.data.length, 0),
      sample: timer(() => {
        for (const m of mats) k.ternaryMatmul(m, xs[m.cols], out);
      }, 1),
      samples: [],
    });
  }
  const D = 2560;
  const headBits = new Uint16Array(VOCAB * D);
  for (let i = 0; i < headBits.length; i++) headBits[i] = 0x2000 + Math.floor(rand() * 0x1800) + (rand() < 0.5 ? 0x8000 : 0);
  for (const [name, k] of backends) {
    const bytes = weights(k, headBits.byteLength);
    const data = new Uint16Array(bytes.buffer, bytes.byteOffset, headBits.length);
    data.set(headBits);
    const head: FloatMatrix = { kind: "float", format: "f16", name: "output", rows: VOCAB, cols: D, data, outScale: 1 };
    const x = new Float32Array(D).map(() => rand() - 0.5);
    const out = new Float32Array(VOCAB);
    cases.push({ label: `f16 head ${D}→${VOCAB}, 1 token, cold, ${name}`, macs: VOCAB * D, bytes: headBits.byteLength, sample: timer(() => k.floatMatmul(head, x, 1, out), 1), samples: [] });
  }
  const q8 = randomQ8Head(VOCAB, D);
  for (const [name, k] of backends) {
    const data = weights(k, q8.length);
    data.set(q8);
    const head: FloatMatrix = { kind: "float", format: "q8_0", name: "output", rows: VOCAB, cols: D, data, outScale: 1 };
    const x = new Float32Array(D).map(() => rand() - 0.5);
    const out = new Float32Array(VOCAB);
    cases.push({ label: `q8_0 head ${D}→${VOCAB}, 1 token, cold, ${name}`, macs: VOCAB * D, bytes: q8.length, sample: timer(() => k.floatMatmul(head, x, 1, out), 1), samples: [] });
  }

  for (let r = 0; r < opts.rounds; r++) {
    for (const c of cases) c.samples.push(c.sample());
    process.stderr.write(`kernels: round ${r + 1}/${opts.rounds}\r`);
  }
  process.stderr.write("\n");
  for (const [, k] of backends) await k.close?.();
  const rows = cases.map((c) => {
    const s = median(c.samples);
    return { label: c.label, gmacs: c.macs / s / 1e9, gbps: c.bytes / s / 1e9 };
  });
  return { rows };
}
