/**
 * The model's weights as the forward pass sees them, loaded from a GGUF file.
 * Ternary matrices stay packed exactly as the file stores them (2 or 1.6 bits a weight), except I2_S rows
 * that are not whole 128-value blocks, which are repacked with each row padded to whole blocks (the fast
 * kernels read a row from a block's start; TernaryMatrix.paddedFrom); float matrices
 * keep their f32/f16/bf16 (or Q8_0) storage, except that `headType: "q8_0"` quantizes a float output head
 * (and the embedding tied to it) to Q8_0 while it loads. Names are the GGUF tensor names, so this file
 * doubles as the checklist of what an architecture needs: `checkTensors` holds a file to exactly that list
 * (ARCH_TENSORS is the one place that says which tensors are optional), as llama.cpp's loader does, and
 * every scale, norm and float matrix is checked for NaN and infinities as it loads. Errors name the file
 * and the tensor. Not here: any arithmetic on the weights.
 *
 * Shape legend: D = dim, F = ffnDim, KV = nKvHeads·headDim, V = vocab. Matrices are [N, K] = [out, in].
 */
import { InvalidArgumentError, InvalidFileError, UnsupportedModelError } from "../errors.ts";
import { printable } from "../formats/describe.ts";
import { BLOCK_TENSORS, blockTensorName, LINEAR_BLOCK_TENSORS, parseTensorName, type BlockTensor, type ParsedTensorName } from "../formats/gguf/names.ts";
import type { GGUFFile, GGUFTensorInfo } from "../formats/gguf/reader.ts";
import { elementCount, GGMLType, I2S_BLOCK, typeName } from "../formats/gguf/types.ts";
import { codecFor } from "../quant/codecs/index.ts";
import { TQ1_0_BLOCK_BYTES } from "../quant/codecs/tq1_0.ts";
import { TQ2_0_BLOCK_BYTES } from "../quant/codecs/tq2_0.ts";
import { encodeQ8_0Blocks, Q8_0_BLOCK, q8_0Bytes } from "../quant/codecs/q8_0.ts";
import { i2sBytes, i2sPadRows, i2sPaddedCols } from "../quant/codecs/i2_s.ts";
import { f32View, u16View } from "../quant/codecs/float.ts";
import { bf16ArrayToF32, f16ArrayToF32, f16ToF32 } from "../quant/half.ts";
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
  /** The file they came from, for errors found while running them. */
  file: string;
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
  [GGMLType.Q8_0]: "q8_0",
};
/** Types a norm vector may have. */
const NORM_TYPES: readonly number[] = [GGMLType.F32, GGMLType.F16, GGMLType.BF16];

/**
 * How the output head is stored in memory: "keep" = as the file has it; "q8_0" = a float head (f32,
 * f16, bf16) quantized to Q8_0 at load (int8, half an F16 head's bytes), the tied embedding with it.
 */
export type HeadType = "keep" | "q8_0";
export const HEAD_TYPES: readonly HeadType[] = ["keep", "q8_0"];
/** Source bytes quantized per slab when a head is converted at load. */
const SLAB_BYTES = 16 * 2 ** 20;
const TQ_BLOCK_BYTES: Record<string, number> = { tq2_0: TQ2_0_BLOCK_BYTES, tq1_0: TQ1_0_BLOCK_BYTES };

/**
 * What an architecture's file holds besides the tensors every one has (token_embd, output_norm, and in each
 * layer attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down), following
 * the loaders of llama.cpp (src/models/bitnet.cpp and llama.cpp in the release we compare against) and,
 * for bitnet.cpp's bitnet-b1.58 / bitnet-25 which llama.cpp does not know, the shape of 2B4T's files.
 * This is the one list of optional tensors; any other tensor makes the file inconsistent, as llama.cpp's
 * "wrong number of tensors" says, unless the caller allows extra tensors.
 */
interface ArchTensors {
  /** attn_sub_norm and ffn_sub_norm in every layer: required when true, foreign otherwise. */
  subNorms: boolean;
  /** `blk.N.<linear>.scale`: an optional one-value multiplier of each linear matrix. */
  scales: boolean;
  /** `output.weight`: an optional untied head; without it token_embd is the head. */
  untiedOutput: boolean;
  /** Tensors the reference loader accepts (optionally) but this engine does not compute with: refused, not ignored. */
  unsupported: readonly { pattern: RegExp; what: string }[];
}

const NOT_COMPUTED = [
  { pattern: /\.bias$/, what: "bias vectors" },
  { pattern: /^rope_freqs\.weight$/, what: "RoPE frequency factors (rope_freqs)" },
  { pattern: /^rope_factors_(long|short)\.weight$/, what: "LongRoPE factors" },
  { pattern: /^blk\.\d+\.attn_qkv\.(weight|bias)$/, what: "fused attn_qkv matrices" },
] as const;

export const ARCH_TENSORS: Readonly<Record<string, ArchTensors>> = {
  // llama.cpp: sub-norms required, `.scale` optional, no output.weight (the graph ties the head).
  bitnet: { subNorms: true, scales: true, untiedOutput: false, unsupported: [] },
  // bitnet.cpp's 2B4T: sub-norms, a head that may be untied; its optional q/k/v biases are not computed here.
  "bitnet-b1.58": { subNorms: true, scales: true, untiedOutput: true, unsupported: NOT_COMPUTED },
  "bitnet-25": { subNorms: true, scales: true, untiedOutput: true, unsupported: NOT_COMPUTED },
  // llama.cpp: output.weight optional; biases, rope_freqs, LongRoPE factors and fused qkv optional but not computed here.
  llama: { subNorms: false, scales: false, untiedOutput: true, unsupported: NOT_COMPUTED },
};

const SUB_NORMS: readonly BlockTensor[] = ["attn_sub_norm", "ffn_sub_norm"];

/**
 * Holds `file` to the tensor list of `cfg`'s architecture and layer count (see ARCH_TENSORS): names only,
 * before any data is read. Shapes and types are checked as each tensor loads.
 */
export function checkTensors(file: GGUFFile, cfg: ModelConfig, fileName: string, allowExtraTensors = false): void {
  const arch = ARCH_TENSORS[cfg.architecture];
  if (!arch) throw new UnsupportedModelError(`${fileName}: architecture '${printable(cfg.architecture)}' has no tensor list`);
  for (const t of file.tensors) {
    const u = arch.unsupported.find((x) => x.pattern.test(t.name));
    if (u) throw new UnsupportedModelError(`${fileName}: tensor '${printable(t.name)}': bitnet-ts does not run ${cfg.architecture} models with ${u.what}`);
  }
  // Required tensors, looked up one by one: a block_count far beyond the file stops at the first missing layer.
  for (const name of ["token_embd.weight", "output_norm.weight"]) if (!file.tensor(name)) throw new InvalidFileError(`${fileName}: tensor '${name}' is missing`);
  const blockTensors = BLOCK_TENSORS.filter((base) => arch.subNorms || !SUB_NORMS.includes(base));
  for (let l = 0; l < cfg.nLayers; l++) {
    for (const base of blockTensors) {
      const name = blockTensorName(l, base);
      if (!file.tensor(name)) throw new InvalidFileError(`${fileName}: tensor '${name}' is missing`);
    }
  }
  // Every tensor of the file must be one of those, or an optional one.
  for (const t of file.tensors) {
    const p = parseTensorName(t.name);
    if (p && belongs(p, arch, cfg.nLayers)) continue;
    // A layer past block_count means the count is wrong, whatever the caller allows: running fewer layers is silently wrong.
    const layer = /^blk\.(\d+)\./.exec(t.name);
    if (layer && Number(layer[1]) >= cfg.nLayers) {
      throw new InvalidFileError(`${fileName}: tensor '${printable(t.name)}' belongs to layer ${Number(layer[1])}, but ${cfg.architecture}.block_count is ${cfg.nLayers}`);
    }
    if (allowExtraTensors) continue;
    throw new InvalidFileError(
      `${fileName}: tensor '${printable(t.name)}' is not part of a ${cfg.architecture} model (llama.cpp refuses such a file: "wrong number of tensors"); allowExtraTensors (--allow-extra-tensors) ignores it`,
    );
  }
}

/** Whether a tensor named as `p` is one an `arch` model of `nLayers` layers has (required or optional). */
function belongs(p: ParsedTensorName, arch: ArchTensors, nLayers: number): boolean {
  if (p.layer === undefined) {
    if (p.suffix !== "weight") return false;
    return p.base === "output" ? arch.untiedOutput : true;
  }
  if (p.layer >= nLayers) return false;
  const base = p.base as BlockTensor;
  if (SUB_NORMS.includes(base) && !arch.subNorms) return false;
  return p.suffix === "weight" || (arch.scales && LINEAR_BLOCK_TENSORS.includes(base));
}

/** The index of the first NaN or infinity in float data of `format` (f32, f16, bf16 bits), or -1. */
function firstNonFinite(format: "f32" | "f16" | "bf16", data: Float32Array | Uint16Array): number {
  if (format === "f32") {
    const v = data as Float32Array;
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return i;
    return -1;
  }
  const exp = format === "f16" ? 0x7c00 : 0x7f80; // all exponent bits set: an infinity or a NaN
  const h = data as Uint16Array;
  for (let i = 0; i < h.length; i++) if ((h[i] & exp) === exp) return i;
  return -1;
}

/** The non-finite value the bits at `i` hold, for a message. */
function nonFiniteValue(format: "f32" | "f16" | "bf16", data: Float32Array | Uint16Array, i: number): number {
  if (format === "f32") return data[i];
  const h = data[i];
  const mantissa = format === "f16" ? h & 0x3ff : h & 0x7f;
  return mantissa !== 0 ? NaN : h & 0x8000 ? -Infinity : Infinity;
}

function checkFinite(what: string, format: "f32" | "f16" | "bf16", data: Float32Array | Uint16Array, base = 0): void {
  const i = firstNonFinite(format, data);
  if (i >= 0) throw new InvalidFileError(`${what}: value ${base + i} is ${nonFiniteValue(format, data, i)}`);
}

function ternaryMatrix(what: string, name: string, format: TernaryFormat, rows: number, cols: number, data: Uint8Array): TernaryMatrix {
  if (format === "i2_s") {
    const n = rows * cols;
    const scale = new DataView(data.buffer, data.byteOffset + n / 4, 4).getFloat32(0, true);
    if (!Number.isFinite(scale)) throw new InvalidFileError(`${what}: i2_s scale is ${scale}`);
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
    if (!Number.isFinite(d)) throw new InvalidFileError(`${what}: block ${b} has scale ${d}`);
    blockScales[b] = d;
    if (!isUniform) continue;
    // A block whose codes are all zero contributes nothing whatever its scale, so it cannot break uniformity.
    if (ternaryBlockIsZero(format, data, b * blockBytes)) continue;
    if (uniform === null) uniform = d;
    else if (d !== uniform) isUniform = false;
  }
  return { kind: "ternary", format, name, rows, cols, data, blockScales, uniformScale: isUniform ? (uniform ?? 0) : null, outScale: 1 };
}

function floatMatrix(what: string, name: string, format: FloatMatrix["format"], rows: number, cols: number, bytes: Uint8Array): FloatMatrix {
  const n = rows * cols;
  const data = format === "q8_0" ? bytes : format === "f32" ? new Float32Array(bytes.buffer, bytes.byteOffset, n) : new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  if (format === "q8_0") {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let b = 0; b < n / Q8_0_BLOCK; b++) {
      const d = f16ToF32(view.getUint16(b * (Q8_0_BLOCK + 2), true));
      if (!Number.isFinite(d)) throw new InvalidFileError(`${what}: block ${b} has scale ${d}`);
    }
  } else {
    checkFinite(what, format, data as Float32Array | Uint16Array);
  }
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
    if (!t) throw new InvalidFileError(`${this.fileName}: tensor '${name}' is missing`);
    return t;
  }

  /** "file: tensor 'name'", the start of every message about one tensor. */
  private what(name: string): string {
    return `${this.fileName}: tensor '${name}'`;
  }

  private checkShape(t: GGUFTensorInfo, expected: number[]): void {
    const got = t.shape.length === 1 && expected.length === 2 ? [...t.shape, 1] : t.shape;
    if (got.length !== expected.length || got.some((d, i) => d !== expected[i])) {
      throw new InvalidFileError(`${this.what(t.name)} has shape [${t.shape.join(", ")}], expected [${expected.join(", ")}] (GGUF order, ne[0] first)`);
    }
  }

  /** The tensor's bytes, 64-byte aligned so that typed views of any element size work. */
  private async bytes(t: GGUFTensorInfo, forKernels = false): Promise<Uint8Array> {
    let b: Uint8Array;
    if (forKernels && this.alloc) {
      // Straight into the kernels' memory where the file allows: no second copy of each tensor to make
      // and collect (the 2B4T-shaped model loads in 1.3 s instead of 4.6 s on the native kernels).
      b = this.alloc(t.byteSize, 64);
      if (this.file.readTensorInto) await this.file.readTensorInto(t, b);
      else b.set(await this.file.readTensor(t));
    } else {
      b = await this.file.readTensor(t);
      if (b.byteOffset % 64 !== 0) b = b.slice();
    }
    this.loaded += t.byteSize;
    this.onProgress?.({ phase: "weights", loadedBytes: this.loaded, totalBytes: this.total, tensor: t.name });
    return b;
  }

  /** A float vector such as a norm gain, [n]. */
  async vector(name: string, n: number): Promise<Float32Array> {
    const t = this.need(name);
    this.checkShape(t, [n]);
    if (!NORM_TYPES.includes(t.type)) throw new UnsupportedModelError(`${this.what(name)} has type ${typeName(t.type)}; norms must be f32, f16 or bf16`);
    const values = codecFor(t.type, name).dequantize(await this.bytes(t), t.shape, this.what(name));
    checkFinite(this.what(name), "f32", values);
    return values;
  }


  /** A block's linear matrix: `matrix` with its optional `.scale` companion when the architecture has them. */
  async linear(base: string, rows: number, cols: number, scales: boolean): Promise<WeightMatrix> {
    const m = await this.matrix(base, rows, cols);
    if (scales) await this.applyScale(base, m);
    return m;
  }

  /** A weight matrix [rows, cols] (GGUF shape [cols, rows]). */
  async matrix(base: string, rows: number, cols: number): Promise<WeightMatrix> {
    const name = `${base}.weight`;
    const t = this.need(name);
    this.checkShape(t, [cols, rows]);
    const ternary = TERNARY[t.type];
    const float = FLOAT[t.type];
    if (ternary === "i2_s" && padsRows(t)) {
      // Repacked once, here: the padded layout replaces the file's (whose blocks run across row ends).
      const padded = i2sPaddedCols(cols);
      const size = i2sBytes(rows * padded);
      const out = this.alloc ? this.alloc(size, 64) : new Uint8Array(size);
      i2sPadRows(await this.bytes(t), rows, cols, out, this.what(name));
      return { ...ternaryMatrix(this.what(name), name, ternary, rows, padded, out), paddedFrom: cols };
    }
    const data = await this.bytes(t, true);
    let m: WeightMatrix;
    if (ternary) m = ternaryMatrix(this.what(name), name, ternary, rows, cols, data);
    else if (float) m = floatMatrix(this.what(name), name, float, rows, cols, data);
    else throw new UnsupportedModelError(`${this.what(name)} has type ${typeName(t.type)}, which bitnet-ts cannot run (supported: tq2_0, tq1_0, i2_s, f32, f16, bf16, q8_0)`);
    return m;
  }

  /** The optional `.scale` companion of a matrix (GGUF `<base>.scale`), as its outScale. */
  private async applyScale(base: string, m: WeightMatrix): Promise<void> {
    if (this.file.tensor(`${base}.scale`)) m.outScale = (await this.vector(`${base}.scale`, 1))[0];
  }

  async floatMatrix(base: string, rows: number, cols: number): Promise<FloatMatrix> {
    const m = await this.matrix(base, rows, cols);
    if (m.kind !== "float") throw new UnsupportedModelError(`${this.what(`${base}.weight`)} must be f32, f16, bf16 or q8_0 to serve as an embedding, got ${m.format}`);
    return m;
  }

  /**
   * An f32/f16/bf16 matrix [rows, cols] quantized to Q8_0 as it loads, a slab of rows at a time: its
   * float copy never exists whole, in the kernels' memory or elsewhere.
   */
  async q8Matrix(base: string, rows: number, cols: number): Promise<FloatMatrix> {
    const name = `${base}.weight`;
    const t = this.need(name);
    this.checkShape(t, [cols, rows]);
    if (!NORM_TYPES.includes(t.type)) throw new UnsupportedModelError(`${this.what(name)} has type ${typeName(t.type)}; only an f32, f16 or bf16 head can be quantized to q8_0`);
    if (cols % Q8_0_BLOCK !== 0) throw new UnsupportedModelError(`${this.what(name)} has rows of ${cols} values; q8_0 needs a multiple of ${Q8_0_BLOCK}`);
    const rowBytes = t.byteSize / rows;
    const rowQ8 = q8_0Bytes(1, cols);
    const data = this.alloc ? this.alloc(rows * rowQ8, 64) : new Uint8Array(rows * rowQ8);
    const slab = Math.max(1, Math.floor(SLAB_BYTES / rowBytes));
    // One float buffer for every slab: a fresh one per slab made this several times slower.
    const values = new Float32Array(Math.min(slab, rows) * cols);
    for (let r = 0; r < rows; r += slab) {
      const n = Math.min(slab, rows - r);
      const bytes = await this.file.source.read(this.file.dataOffset + t.offset + r * rowBytes, n * rowBytes);
      const floats = decodeFloats(t.type, bytes, n * cols, values, name);
      checkFinite(this.what(name), "f32", floats, r * cols);
      encodeQ8_0Blocks(floats, n * cols, data, r * rowQ8);
      this.loaded += n * rowBytes;
      this.onProgress?.({ phase: "weights", loadedBytes: this.loaded, totalBytes: this.total, tensor: name });
    }
    return floatMatrix(this.what(name), name, "q8_0", rows, cols, data);
  }
}

/** `count` f32/f16/bf16 values of `bytes` as float32: a view of `bytes` (f32) or written into `out`. */
function decodeFloats(type: number, bytes: Uint8Array, count: number, out: Float32Array, what: string): Float32Array {
  if (type === GGMLType.F32) return f32View(bytes, count, what);
  const bits = u16View(bytes, count, what);
  return type === GGMLType.F16 ? f16ArrayToF32(bits, out.subarray(0, count)) : bf16ArrayToF32(bits, out.subarray(0, count));
}

/** Whether the head is the embedding: llama.cpp's bitnet graph always ties them; others may carry `output`. */
function headIsTied(file: GGUFFile, cfg: ModelConfig): boolean {
  return cfg.architecture === "bitnet" || !file.tensor("output.weight");
}

/** The float head tensor `headType` would quantize at load, or null when there is none to convert. */
function headToQuantize(file: GGUFFile, cfg: ModelConfig, headType: HeadType): GGUFTensorInfo | null {
  if (headType !== "q8_0") return null;
  const t = file.tensor(headIsTied(file, cfg) ? "token_embd.weight" : "output.weight");
  return t && NORM_TYPES.includes(t.type) ? t : null;
}

/**
 * Whether an I2_S tensor's rows are padded at load: when they are not whole 128-value blocks, the file's
 * blocks run across row ends and no fast kernel can read a row on its own.
 */
function padsRows(t: GGUFTensorInfo): boolean {
  return t.type === GGMLType.I2_S && t.shape.length === 2 && t.shape[0] % I2S_BLOCK !== 0;
}

/** Bytes loadWeights will place for `file` (a float head converted by `headType` shrinks; padded I2_S rows grow). */
export function loadedWeightBytes(file: GGUFFile, cfg: ModelConfig, headType: HeadType = "keep"): number {
  const total = file.tensors.reduce((s, t) => s + (padsRows(t) ? i2sBytes(i2sPaddedCols(t.shape[0]) * t.shape[1]) : t.byteSize), 0);
  const head = headToQuantize(file, cfg, headType);
  if (!head || head.shape[0] % Q8_0_BLOCK !== 0) return total;
  return total - head.byteSize + q8_0Bytes(elementCount(head.shape) / head.shape[0], head.shape[0]);
}

export async function loadWeights(
  file: GGUFFile,
  cfg: ModelConfig,
  fileName: string,
  onProgress?: (p: LoadProgress) => void,
  alloc?: (bytes: number, align: number) => Uint8Array,
  headType: HeadType = "keep",
  allowExtraTensors = false,
): Promise<ModelWeights> {
  if (!HEAD_TYPES.includes(headType)) throw new InvalidArgumentError(`headType must be one of ${HEAD_TYPES.join(", ")}, got '${printable(String(headType))}'`);
  checkTensors(file, cfg, fileName, allowExtraTensors);
  const arch = ARCH_TENSORS[cfg.architecture];
  const w = new WeightLoader(file, fileName, onProgress, alloc);
  const D = cfg.dim;
  const F = cfg.ffnDim;
  const KV = cfg.nKvHeads * cfg.headDim;
  const tied = headIsTied(file, cfg);
  const quantizeHead = headToQuantize(file, cfg, headType) !== null;
  const token_embd = tied && quantizeHead ? await w.q8Matrix("token_embd", cfg.vocabSize, D) : await w.floatMatrix("token_embd", cfg.vocabSize, D);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `blk.${l}`;
    layers.push({
      attn_norm: await w.vector(`${p}.attn_norm.weight`, D),
      attn_q: await w.linear(`${p}.attn_q`, D, D, arch.scales),
      attn_k: await w.linear(`${p}.attn_k`, KV, D, arch.scales),
      attn_v: await w.linear(`${p}.attn_v`, KV, D, arch.scales),
      attn_sub_norm: arch.subNorms ? await w.vector(`${p}.attn_sub_norm.weight`, D) : null,
      attn_output: await w.linear(`${p}.attn_output`, D, D, arch.scales),
      ffn_norm: await w.vector(`${p}.ffn_norm.weight`, D),
      ffn_gate: await w.linear(`${p}.ffn_gate`, F, D, arch.scales),
      ffn_up: await w.linear(`${p}.ffn_up`, F, D, arch.scales),
      ffn_sub_norm: arch.subNorms ? await w.vector(`${p}.ffn_sub_norm.weight`, F) : null,
      ffn_down: await w.linear(`${p}.ffn_down`, D, F, arch.scales),
    });
  }
  const output_norm = await w.vector("output_norm.weight", D);
  const output = tied ? token_embd : quantizeHead ? await w.q8Matrix("output", cfg.vocabSize, D) : await w.matrix("output", cfg.vocabSize, D);
  return { file: fileName, token_embd, output_norm, output, tied, layers };
}
