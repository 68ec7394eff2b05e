/**
 * The model's weights as the forward pass sees them, loaded from a GGUF file.
 * Ternary matrices stay packed exactly as the file stores them (2 or 1.6 bits a weight); float matrices
 * keep their f32/f16/bf16 storage. Names are the GGUF tensor names, so this file doubles as the
 * checklist of what an architecture needs. Not here: any arithmetic on the weights.
 *
 * Shape legend: D = dim, F = ffnDim, KV = nKvHeads·headDim, V = vocab. Matrices are [N, K] = [out, in].
 */
import type { GGUFFile, GGUFTensorInfo } from "../formats/gguf/reader.ts";
import { GGMLType, typeName } from "../formats/gguf/types.ts";
import { codecFor } from "../quant/codecs/index.ts";
import { f16ToF32 } from "../quant/half.ts";
import type { FloatMatrix, TernaryFormat, TernaryMatrix, WeightMatrix } from "../kernels/types.ts";
import { ternaryBlockIsZero } from "../kernels/ternary-ref.ts";
import type { ModelConfig } from "./config.ts";

export interface LayerWeights {
  attn_norm: Float32Array; // [D]
  attn_q: WeightMatrix; // [D, D]
  attn_k: WeightMatrix; // [KV, D]
  attn_v: WeightMatrix; // [KV, D]
  attn_sub_norm: Float32Array | null; // [D], BitNet only
  attn_output: WeightMatrix; // [D, D]
  ffn_norm: Float32Array; // [D]
  ffn_gate: WeightMatrix; // [F, D]
  ffn_up: WeightMatrix; // [F, D]
  ffn_sub_norm: Float32Array | null; // [F], BitNet only
  ffn_down: WeightMatrix; // [D, F]
}

export interface ModelWeights {
  token_embd: FloatMatrix; // [V, D]
  output_norm: Float32Array; // [D]
  output: WeightMatrix; // [V, D], the same object as token_embd when tied
  tied: boolean;
  layers: LayerWeights[];
}

export interface LoadProgress {
  phase: "weights";
  loadedBytes: number;
  totalBytes: number;
  tensor: string;
}

const TERNARY: Record<number, TernaryFormat> = {
  [GGMLType.TQ2_0]: "tq2_0",
  [GGMLType.TQ1_0]: "tq1_0",
  [GGMLType.I2_S]: "i2_s",
};
const FLOAT: Record<number, FloatMatrix["format"]> = {
  [GGMLType.F32]: "f32",
  [GGMLType.F16]: "f16",
  [GGMLType.BF16]: "bf16",
};
const TQ_BLOCK_BYTES: Record<string, number> = { tq2_0: 66, tq1_0: 54 };


function ternaryMatrix(name: string, format: TernaryFormat, rows: number, cols: number, data: Uint8Array): TernaryMatrix {
  if (format === "i2_s") {
    const n = rows * cols;
    const scale = new DataView(data.buffer, data.byteOffset + n / 4, 4).getFloat32(0, true);
    if (!Number.isFinite(scale)) throw new Error(`${name}: i2_s scale is ${scale}`);
    return { kind: "ternary", format, name, rows, cols, data, blockScales: Float32Array.of(scale), uniformScale: scale, outScale: 1 };
  }
  const blockBytes = TQ_BLOCK_BYTES[format];
  const nBlocks = (rows * cols) / 256;
  const blockScales = new Float32Array(nBlocks);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let uniform: number | null = null;
  let isUniform = true;
  for (let b = 0; b < nBlocks; b++) {
    const d = f16ToF32(view.getUint16(b * blockBytes + blockBytes - 2, true));
    if (!Number.isFinite(d)) throw new Error(`${name}: block ${b} has scale ${d}`);
    blockScales[b] = d;
    if (!isUniform) continue;
    // A block whose codes are all zero contributes nothing whatever its scale, so it cannot break uniformity.
    if (ternaryBlockIsZero(format, data, b * blockBytes)) continue;
    if (uniform === null) uniform = d;
    else if (d !== uniform) isUniform = false;
  }
  return { kind: "ternary", format, name, rows, cols, data, blockScales, uniformScale: isUniform ? (uniform ?? 0) : null, outScale: 1 };
}

function floatMatrix(name: string, format: FloatMatrix["format"], rows: number, cols: number, bytes: Uint8Array): FloatMatrix {
  const n = rows * cols;
  const data = format === "f32" ? new Float32Array(bytes.buffer, bytes.byteOffset, n) : new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  return { kind: "float", format, name, rows, cols, data, outScale: 1 };
}

export class WeightLoader {
  private loaded = 0;
  private readonly total: number;
  private readonly file: GGUFFile;
  private readonly fileName: string;
  private readonly onProgress?: (p: LoadProgress) => void;
  private readonly alloc?: (bytes: number, align: number) => Uint8Array;

  /** `alloc` places matrices where the kernels want them (see Kernels.allocWeights). */
  constructor(file: GGUFFile, fileName: string, onProgress?: (p: LoadProgress) => void, alloc?: (bytes: number, align: number) => Uint8Array) {
    this.file = file;
    this.fileName = fileName;
    this.onProgress = onProgress;
    this.alloc = alloc;
    this.total = file.tensors.reduce((s, t) => s + t.byteSize, 0);
  }

  info(name: string): GGUFTensorInfo | undefined {
    return this.file.tensor(name);
  }

  private need(name: string): GGUFTensorInfo {
    const t = this.file.tensor(name);
    if (!t) throw new Error(`${this.fileName}: tensor '${name}' is missing`);
    return t;
  }

  private checkShape(t: GGUFTensorInfo, expected: number[]): void {
    const got = t.shape.length === 1 && expected.length === 2 ? [...t.shape, 1] : t.shape;
    if (got.length !== expected.length || got.some((d, i) => d !== expected[i])) {
      throw new Error(`${this.fileName}: tensor '${t.name}' has shape [${t.shape.join(", ")}], expected [${expected.join(", ")}] (GGUF order, ne[0] first)`);
    }
  }

  /** The tensor's bytes, 64-byte aligned so that typed views of any element size work. */
  private async bytes(t: GGUFTensorInfo, forKernels = false): Promise<Uint8Array> {
    const b = await this.file.readTensor(t);
    this.loaded += t.byteSize;
    this.onProgress?.({ phase: "weights", loadedBytes: this.loaded, totalBytes: this.total, tensor: t.name });
    if (forKernels && this.alloc) {
      const dst = this.alloc(b.byteLength, 64);
      dst.set(b);
      return dst;
    }
    return b.byteOffset % 64 === 0 ? b : b.slice();
  }

  /** A float vector such as a norm gain, [n]. */
  async vector(name: string, n: number): Promise<Float32Array> {
    const t = this.need(name);
    this.checkShape(t, [n]);
    if (FLOAT[t.type] === undefined) throw new Error(`${this.fileName}: tensor '${name}' has type ${typeName(t.type)}; norms must be f32, f16 or bf16`);
    return codecFor(t.type, name).dequantize(await this.bytes(t), t.shape, name);
  }

  async optionalVector(name: string, n: number): Promise<Float32Array | null> {
    return this.file.tensor(name) ? this.vector(name, n) : null;
  }

  /** A weight matrix [rows, cols] (GGUF shape [cols, rows]), with its optional `.scale` companion. */
  async matrix(base: string, rows: number, cols: number): Promise<WeightMatrix> {
    const name = `${base}.weight`;
    const t = this.need(name);
    this.checkShape(t, [cols, rows]);
    const data = await this.bytes(t, true);
    const ternary = TERNARY[t.type];
    const float = FLOAT[t.type];
    let m: WeightMatrix;
    if (ternary) m = ternaryMatrix(name, ternary, rows, cols, data);
    else if (float) m = floatMatrix(name, float, rows, cols, data);
    else throw new Error(`${this.fileName}: tensor '${name}' has type ${typeName(t.type)}, which bitnet-ts cannot run (supported: tq2_0, tq1_0, i2_s, f32, f16, bf16)`);
    const scale = this.file.tensor(`${base}.scale`);
    if (scale) {
      const s = await this.vector(`${base}.scale`, 1);
      m.outScale = s[0];
    }
    return m;
  }

  async floatMatrix(base: string, rows: number, cols: number): Promise<FloatMatrix> {
    const m = await this.matrix(base, rows, cols);
    if (m.kind !== "float") throw new Error(`${this.fileName}: tensor '${base}.weight' must be f32, f16 or bf16 to serve as an embedding, got ${m.format}`);
    return m;
  }
}

export async function loadWeights(
  file: GGUFFile,
  cfg: ModelConfig,
  fileName: string,
  onProgress?: (p: LoadProgress) => void,
  alloc?: (bytes: number, align: number) => Uint8Array,
): Promise<ModelWeights> {
  const w = new WeightLoader(file, fileName, onProgress, alloc);
  const D = cfg.dim;
  const F = cfg.ffnDim;
  const KV = cfg.nKvHeads * cfg.headDim;
  const token_embd = await w.floatMatrix("token_embd", cfg.vocabSize, D);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `blk.${l}`;
    layers.push({
      attn_norm: await w.vector(`${p}.attn_norm.weight`, D),
      attn_q: await w.matrix(`${p}.attn_q`, D, D),
      attn_k: await w.matrix(`${p}.attn_k`, KV, D),
      attn_v: await w.matrix(`${p}.attn_v`, KV, D),
      attn_sub_norm: await w.optionalVector(`${p}.attn_sub_norm.weight`, D),
      attn_output: await w.matrix(`${p}.attn_output`, D, D),
      ffn_norm: await w.vector(`${p}.ffn_norm.weight`, D),
      ffn_gate: await w.matrix(`${p}.ffn_gate`, F, D),
      ffn_up: await w.matrix(`${p}.ffn_up`, F, D),
      ffn_sub_norm: await w.optionalVector(`${p}.ffn_sub_norm.weight`, F),
      ffn_down: await w.matrix(`${p}.ffn_down`, D, F),
    });
  }
  const output_norm = await w.vector("output_norm.weight", D);
  // llama.cpp's bitnet graph always uses the embedding as the head; other architectures may carry `output`.
  const tied = cfg.architecture === "bitnet" || !w.info("output.weight");
  const output = tied ? token_embd : await w.matrix("output", cfg.vocabSize, D);
  return { token_embd, output_norm, output, tied, layers };
}
