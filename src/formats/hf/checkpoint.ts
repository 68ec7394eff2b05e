/**
 * A Hugging Face checkpoint directory as a virtual GGUF file: `openHFCheckpoint(dir)` reads config.json, the
 * tokenizer files and the safetensors headers, and returns an object with the `GGUFFile` interface — metadata
 * under GGUF keys, tensors under GGUF names, types and shapes — whose reads convert on the fly. Everything that
 * reads a GGUF (the model loader, `bitnet convert`, `bitnet info`) then reads a checkpoint the same way.
 *
 * What each tensor becomes:
 * - a BitLinear weight becomes I2_S (2-bit codes and one float32 γ for the matrix), which holds every number
 *   exactly: γ of a packed weight is its bf16 `weight_scale` (autobitlinear multiplies by it) or fl(1/weight_scale)
 *   (bitlinear divides by it); latent float weights are quantized by the absmean rule the way transformers'
 *   online mode does (`quantizeAbsmeanOnline`). (TQ2_0 would round γ to fp16 and move the logits.)
 * - norms, the embedding and an untied head keep their bytes (F32, F16 or BF16 are the same bytes in both files);
 * - q and k of a `llama` model are permuted to GGUF's adjacent-pair RoPE, as llama.cpp's converter does.
 * Reads go through one virtual ByteSource, laid out like a GGUF data section (dataOffset 0, aligned offsets):
 * a byte range inside a kept tensor is read straight from its shard; a converted tensor is built whole
 * (the last one is cached) and sliced. Weights are never unpacked to floats in memory beyond one matrix at a time.
 * Every mismatch with config.json is one line naming the file and the tensor or key.
 */
import { BitNetError, InvalidFileError, UnsupportedModelError } from "../../errors.ts";
import type { GGUFFile, GGUFTensorInfo } from "../gguf/reader.ts";
import { blockTensorName, globalTensorName, HF_BLOCK, HF_GLOBAL, metadataEntry, type BlockTensor } from "../gguf/names.ts";
import { GGMLType, tensorByteSize } from "../gguf/types.ts";
import { inferType, type GGUFValue, type GGUFValueTypeDescriptor } from "../gguf/value-types.ts";
import { checkRange, type ByteSource } from "../source.ts";
import { quantizeAbsmeanOnline } from "../../quant/absmean.ts";
import { gammaFromWeightScale, unpackHf } from "../../quant/codecs/hf-packed.ts";
import { i2_s } from "../../quant/codecs/i2_s.ts";
import { bf16ToF32, f16ArrayToF32, bf16ArrayToF32, f16ToF32 } from "../../quant/half.ts";
import { archMetadata, parseHFConfig, type HFModelSpec } from "./config.ts";
import { filePath, readJSONObject, type HFDirectory } from "./directory.ts";
import { openSafetensorsSet, type ShardTensor } from "./safetensors-set.ts";
import { readTokenizerFiles, tokenizerMetadata } from "./tokenizer.ts";

const ALIGNMENT = 32;
const FLOAT_TYPES: Record<string, number> = { F32: GGMLType.F32, F16: GGMLType.F16, BF16: GGMLType.BF16 };
const LINEAR: readonly BlockTensor[] = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];

/** How one GGUF tensor is produced from the checkpoint. */
interface VirtualTensor extends GGUFTensorInfo {
  /** Kept tensors read their bytes from here. */
  passthrough?: ShardTensor;
  /** Converted tensors are built by this. */
  build?: () => Promise<Uint8Array>;
}

/** A checkpoint opened as a GGUF file, plus what it was read from. */
export interface HFCheckpoint extends GGUFFile {
  spec: HFModelSpec;
  /** Shard file names. */
  shards: string[];
  /** HF tensor name of each GGUF tensor name. */
  hfNames: Map<string, string>;
}

/** HF module path (inside `model.layers.N.`) of a block tensor, by family. */
function hfBlockPath(spec: HFModelSpec, t: BlockTensor): string | undefined {
  if (spec.family === "llama" && (t === "attn_sub_norm" || t === "ffn_sub_norm")) return undefined;
  if (spec.family === "1bitllm" && t === "attn_sub_norm") return "self_attn.inner_attn_ln";
  if (spec.family === "1bitllm" && t === "ffn_sub_norm") return "mlp.ffn_layernorm";
  return HF_BLOCK[t];
}

const BLOCK_ORDER: readonly BlockTensor[] = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_sub_norm", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_sub_norm", "ffn_down"];

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function floatsOf(dtype: string, bytes: Uint8Array, n: number): Float32Array {
  if (dtype === "F32") return new Float32Array(bytes.slice(0, n * 4).buffer);
  const bits = new Uint16Array(bytes.slice(0, n * 2).buffer);
  return dtype === "F16" ? f16ArrayToF32(bits) : bf16ArrayToF32(bits);
}

function scalarOf(dtype: string, bytes: Uint8Array): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === "F32") return v.getFloat32(0, true);
  if (dtype === "F16") return f16ToF32(v.getUint16(0, true));
  if (dtype === "BF16") return bf16ToF32(v.getUint16(0, true));
  throw new Error(`dtype ${dtype}`);
}

/** llama.cpp's q/k permutation: within each head, row k·(hd/2)+j moves to 2j+k (rotate-half → adjacent pairs). */
function permuteRows(codes: Int8Array, rows: number, cols: number, headDim: number): Int8Array {
  const out = new Int8Array(codes.length);
  const half = headDim / 2;
  for (let nr = 0; nr < rows; nr++) {
    const h = Math.floor(nr / headDim);
    const rem = nr % headDim;
    const old = h * headDim + (rem & 1) * half + (rem >> 1);
    out.set(codes.subarray(old * cols, old * cols + cols), nr * cols);
  }
  return out;
}

export interface OpenHFCheckpointOptions {
  /** `general.name`; default: the directory's last path component. */
  name?: string;
}

export async function openHFCheckpoint(dir: HFDirectory, options: OpenHFCheckpointOptions = {}): Promise<HFCheckpoint> {
  const configPath = filePath(dir, "config.json");
  const spec = parseHFConfig(await readJSONObject(dir, "config.json"), configPath);
  const tokFiles = await readTokenizerFiles(dir);
  const name = options.name ?? (dir.name.replace(/\/+$/, "").split(/[/\\]/).pop() || "model");
  const meta: [string, GGUFValue][] = [...archMetadata(spec, name), ...tokenizerMetadata(tokFiles, spec, dir)];
  const set = await openSafetensorsSet(dir);
  try {
    return buildCheckpoint(dir, spec, meta, set);
  } catch (err) {
    await set.close();
    throw err;
  }
}

function buildCheckpoint(dir: HFDirectory, spec: HFModelSpec, meta: [string, GGUFValue][], set: Awaited<ReturnType<typeof openSafetensorsSet>>): HFCheckpoint {
  const D = spec.dim;
  const F = spec.ffnDim;
  const KV = spec.nKvHeads * spec.headDim;
  const used = new Set<string>();
  const hfNames = new Map<string, string>();
  const where = (t: ShardTensor) => filePath(dir, t.file);
  const need = (hf: string): ShardTensor => {
    const t = set.tensors.get(hf);
    if (!t) throw new InvalidFileError(`${dir.name}: tensor '${hf}' is missing from the checkpoint (${set.files.join(", ")})`);
    used.add(hf);
    return t;
  };
  const checkShape = (t: ShardTensor, expected: number[], note = ""): void => {
    const got = t.info.shape;
    if (got.length !== expected.length || got.some((d, i) => d !== expected[i])) {
      throw new InvalidFileError(`${where(t)}: tensor '${t.info.name}' has shape [${got.join(", ")}], but config.json implies [${expected.join(", ")}]${note}`);
    }
  };
  const tensors: VirtualTensor[] = [];
  const add = (gguf: string, hf: string, v: Omit<VirtualTensor, "name" | "offset">): void => {
    tensors.push({ name: gguf, offset: 0, ...v });
    hfNames.set(gguf, hf);
  };

  /** A float tensor kept as it is (norms, the embedding, an untied head). */
  const keep = (gguf: string, hf: string, shape: number[]): void => {
    const t = need(hf);
    checkShape(t, shape);
    const type = FLOAT_TYPES[t.info.dtype];
    if (type === undefined) throw new UnsupportedModelError(`${where(t)}: tensor '${hf}' has dtype ${t.info.dtype}; bitnet-ts reads F32, F16 or BF16 here`);
    const ggufShape = [...shape].reverse();
    add(gguf, hf, { shape: ggufShape, type, byteSize: tensorByteSize(type, ggufShape, gguf), passthrough: t });
  };

  /** A BitLinear weight [rows, cols] → I2_S. */
  const linear = (gguf: string, hfBase: string, rows: number, cols: number, permute: boolean): void => {
    const hf = `${hfBase}.weight`;
    const t = need(hf);
    const ggufShape = [cols, rows];
    const what = `${where(t)}: tensor '${hf}'`;
    if ((rows * cols) % 128 !== 0) throw new UnsupportedModelError(`${what}: ${rows}×${cols} values is not a multiple of 128, which the I2_S layout needs`);
    const scaleT = set.tensors.get(`${hfBase}.weight_scale`);
    if (scaleT) used.add(scaleT.info.name);
    const readScale = async (): Promise<number> => {
      if (!scaleT) throw new InvalidFileError(`${what}: packed weights need '${hfBase}.weight_scale', which the checkpoint lacks`);
      if (product(scaleT.info.shape) !== 1) throw new InvalidFileError(`${where(scaleT)}: tensor '${scaleT.info.name}' has shape [${scaleT.info.shape.join(", ")}], expected one value`);
      if (FLOAT_TYPES[scaleT.info.dtype] === undefined) throw new UnsupportedModelError(`${where(scaleT)}: tensor '${scaleT.info.name}' has dtype ${scaleT.info.dtype}`);
      return scalarOf(scaleT.info.dtype, await scaleT.shard.readTensor(scaleT.info));
    };
    let build: () => Promise<{ codes: Int8Array; gamma: number }>;
    if (t.info.dtype === "U8") {
      checkShape(t, [rows / 4, cols], " (packed uint8: output rows / 4)");
      if (rows % 4 !== 0) throw new UnsupportedModelError(`${what}: ${rows} output rows are not a multiple of 4, which packed weights need`);
      if (spec.linearClass === undefined) throw new InvalidFileError(`${what}: packed uint8 weights but config.json has no quantization_config.linear_class to say how weight_scale applies`);
      if (spec.quantizationMode === "online") throw new InvalidFileError(`${what}: packed uint8 weights but config.json says quantization_mode "online" (latent float weights)`);
      const linearClass = spec.linearClass;
      if (!scaleT) throw new InvalidFileError(`${what}: packed weights need '${hfBase}.weight_scale', which the checkpoint lacks`);
      build = async () => {
        const gamma = gammaFromWeightScale(await readScale(), linearClass, `${where(scaleT)}: tensor '${scaleT.info.name}'`);
        return { codes: unpackHf(await t.shard.readTensor(t.info), ggufShape, what), gamma };
      };
    } else if (FLOAT_TYPES[t.info.dtype] !== undefined) {
      checkShape(t, [rows, cols]);
      if (spec.quantizationMode === "online") {
        build = async () => {
          const values = floatsOf(t.info.dtype, await t.shard.readTensor(t.info), rows * cols);
          for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) throw new InvalidFileError(`${what}: non-finite value ${values[i]} at index ${i}`);
          return quantizeAbsmeanOnline(values, what);
        };
      } else {
        if (spec.linearClass !== "autobitlinear") throw new UnsupportedModelError(`${what}: float weights with quantization_config.linear_class "bitlinear" (transformers' BitLinear reads packed uint8 only)`);
        // Offline AutoBitLinear with unpacked weights: the floats are the codes themselves, times weight_scale.
        build = async () => {
          const values = floatsOf(t.info.dtype, await t.shard.readTensor(t.info), rows * cols);
          const codes = new Int8Array(values.length);
          for (let i = 0; i < values.length; i++) {
            const v = values[i];
            if (v !== -1 && v !== 0 && v !== 1) throw new InvalidFileError(`${what}: offline weights must be ternary codes (-1, 0, 1), found ${v} at index ${i}`);
            codes[i] = v;
          }
          return { codes, gamma: await readScale() };
        };
      }
    } else {
      throw new UnsupportedModelError(`${what}: dtype ${t.info.dtype} is not a BitNet weight (expected U8 packed, or F32/F16/BF16)`);
    }
    const type = GGMLType.I2_S;
    add(gguf, hf, {
      shape: ggufShape,
      type,
      byteSize: tensorByteSize(type, ggufShape, gguf),
      build: async () => {
        const q = await build();
        if (!Number.isFinite(q.gamma) || q.gamma <= 0) throw new InvalidFileError(`${what}: scale ${q.gamma} is not a positive number`);
        const codes = permute ? permuteRows(q.codes, rows, cols, spec.headDim) : q.codes;
        return i2_s.pack(codes, Float32Array.of(q.gamma), ggufShape, what);
      },
    });
  };

  keep(globalTensorName("token_embd"), `${HF_GLOBAL.token_embd}.weight`, [spec.vocabSize, D]);
  for (let l = 0; l < spec.nLayers; l++) {
    for (const b of BLOCK_ORDER) {
      const path = hfBlockPath(spec, b);
      if (path === undefined) continue;
      const base = `model.layers.${l}.${path}`;
      const g = blockTensorName(l, b);
      if (LINEAR.includes(b)) {
        const rows = b === "attn_k" || b === "attn_v" ? KV : b === "ffn_gate" || b === "ffn_up" ? F : D;
        const cols = b === "ffn_down" ? F : D;
        linear(g, base, rows, cols, spec.family === "llama" && (b === "attn_q" || b === "attn_k"));
      } else {
        keep(g, `${base}.weight`, [b === "ffn_sub_norm" ? F : D]);
      }
    }
  }
  keep(globalTensorName("output_norm"), `${HF_GLOBAL.output_norm}.weight`, [D]);
  const head = `${HF_GLOBAL.output}.weight`;
  if (!spec.tied) keep(globalTensorName("output"), head, [spec.vocabSize, D]);
  else if (set.tensors.has(head)) used.add(head); // tied: transformers uses the embedding and ignores it

  for (const [hf, t] of set.tensors) {
    if (used.has(hf) || hf.endsWith("rotary_emb.inv_freq")) continue;
    throw new InvalidFileError(`${where(t)}: tensor '${hf}' is not part of a ${spec.declared} model with config.json's ${spec.nLayers} layers`);
  }
  return virtualGGUF(dir, spec, meta, tensors, set, hfNames);
}

function virtualGGUF(dir: HFDirectory, spec: HFModelSpec, meta: [string, GGUFValue][], tensors: VirtualTensor[], set: Awaited<ReturnType<typeof openSafetensorsSet>>, hfNames: Map<string, string>): HFCheckpoint {
  let offset = 0;
  for (const t of tensors) {
    t.offset = offset;
    offset += Math.ceil(t.byteSize / ALIGNMENT) * ALIGNMENT;
  }
  const size = offset;
  const byName = new Map(tensors.map((t) => [t.name, t]));
  let cached: { tensor: VirtualTensor; bytes: Uint8Array } | undefined;
  const produce = async (t: VirtualTensor): Promise<Uint8Array> => {
    if (t.passthrough) return t.passthrough.shard.readTensor(t.passthrough.info);
    if (cached?.tensor === t) return cached.bytes;
    try {
      const bytes = await (t.build as () => Promise<Uint8Array>)();
      cached = { tensor: t, bytes };
      return bytes;
    } catch (err) {
      if (err instanceof BitNetError) throw err;
      throw new InvalidFileError((err as Error).message, { cause: err });
    }
  };
  const source: ByteSource = {
    name: dir.name,
    size,
    async read(at: number, length: number): Promise<Uint8Array> {
      checkRange(dir.name, size, at, length);
      // The tensor whose slot holds `at` (slots are in offset order).
      let lo = 0;
      let hi = tensors.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (tensors[mid].offset <= at) lo = mid;
        else hi = mid - 1;
      }
      const t = tensors[lo];
      const inner = at - t.offset;
      if (inner + length > t.byteSize) throw new Error(`${dir.name}: a read of ${length} bytes at ${at} crosses the end of tensor '${t.name}' in the virtual GGUF layout`);
      if (t.passthrough) return t.passthrough.shard.source.read(t.passthrough.info.offset + inner, length);
      return (await produce(t)).subarray(inner, inner + length);
    },
    close: () => set.close(),
  };
  const metadata: Record<string, GGUFValue> = {};
  const metadataTypes: Record<string, GGUFValueTypeDescriptor> = {};
  for (const [key, value] of meta) {
    metadata[key] = value;
    metadataTypes[key] = metadataEntry(key, value).type ?? inferType(value, key);
  }
  return {
    source,
    version: 3,
    alignment: ALIGNMENT,
    dataOffset: 0,
    metadata,
    metadataTypes,
    metadataKeys: meta.map(([k]) => k),
    tensors,
    tensor: (name) => byName.get(name),
    readTensor: async (t) => {
      const info = typeof t === "string" ? byName.get(t) : byName.get(t.name);
      if (!info) throw new InvalidFileError(`${dir.name}: no tensor named '${typeof t === "string" ? t : t.name}'`);
      return produce(info);
    },
    spec,
    shards: set.files,
    hfNames,
  };
}
