/**
 * The safetensors writer: streams a file into a ByteSink. The JSON header is computed from the
 * tensor list (kept in the given order, data packed back to back), padded with spaces to a
 * multiple of 8 bytes as the reference implementation does; then each tensor's bytes are
 * requested only when it is written (../tensor-stream.ts). The sink is committed at the end and
 * aborted on error.
 * Shapes are PyTorch order (rows first). It does not convert dtypes.
 */
import type { ByteSink } from "../sink.ts";
import { streamTensorFile, type TensorWriteProgress } from "../tensor-stream.ts";
import { dtypeBytes, type SafetensorsDType } from "./dtypes.ts";
import type { SafetensorsTensorInfo } from "./reader.ts";

export interface SafetensorsTensorSpec {
  name: string;
  dtype: SafetensorsDType;
  /** PyTorch order: rows first. */
  shape: readonly number[];
}

export interface SafetensorsLayout {
  /** The 8-byte length followed by the padded JSON header. */
  header: Uint8Array;
  dataOffset: number;
  tensors: SafetensorsTensorInfo[];
  fileSize: number;
}

export type SafetensorsTensorData = (index: number, tensor: SafetensorsTensorInfo) => Promise<Uint8Array> | Uint8Array;

export interface SafetensorsWriteOptions {
  /** Written as `__metadata__` (string values only). */
  metadata?: Record<string, string>;
  onProgress?: (p: TensorWriteProgress) => void;
}

/** Validates the tensor list and builds the header, without writing anything. */
export function encodeSafetensorsHeader(specs: readonly SafetensorsTensorSpec[], metadata?: Record<string, string>): SafetensorsLayout {
  const parts: string[] = [];
  if (metadata !== undefined) {
    const entries = Object.entries(metadata).map(([k, v]) => {
      if (typeof v !== "string") throw new Error(`safetensors writer: __metadata__ entry '${k}' is not a string`);
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`"__metadata__":{${entries.join(",")}}`);
  }
  const seen = new Set<string>();
  let offset = 0;
  const planned = specs.map((s) => {
    const what = `safetensors writer: tensor '${s.name}'`;
    if (typeof s.name !== "string" || s.name.length === 0 || s.name === "__metadata__") throw new Error(`safetensors writer: invalid tensor name ${JSON.stringify(s.name)}`);
    if (seen.has(s.name)) throw new Error(`${what}: appears twice`);
    seen.add(s.name);
    const itemSize = dtypeBytes(s.dtype);
    if (itemSize === undefined) throw new Error(`${what}: unknown dtype ${JSON.stringify(s.dtype)}`);
    let numel = 1;
    s.shape.forEach((d, j) => {
      if (!Number.isSafeInteger(d) || d < 0) throw new Error(`${what}: dimension ${j} is ${d}, expected a non-negative integer`);
      numel *= d;
    });
    const byteSize = numel * itemSize;
    const begin = offset;
    offset += byteSize;
    parts.push(`${JSON.stringify(s.name)}:{"dtype":${JSON.stringify(s.dtype)},"shape":[${s.shape.join(",")}],"data_offsets":[${begin},${offset}]}`);
    return { name: s.name, dtype: s.dtype, shape: [...s.shape], begin, byteSize };
  });
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  header.set(json, 8);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  const dataOffset = 8 + padded;
  const tensors = planned.map((p) => ({ name: p.name, dtype: p.dtype, shape: p.shape, offset: dataOffset + p.begin, byteSize: p.byteSize, supported: true }));
  return { header, dataOffset, tensors, fileSize: dataOffset + offset };
}

export async function writeSafetensors(
  sink: ByteSink,
  specs: readonly SafetensorsTensorSpec[],
  data: SafetensorsTensorData,
  options: SafetensorsWriteOptions = {},
): Promise<Omit<SafetensorsLayout, "header">> {
  return streamTensorFile(sink, () => encodeSafetensorsHeader(specs, options.metadata), data, {
    writer: "safetensors writer",
    typeName: (t) => t.dtype,
    onProgress: options.onProgress,
  });
}
