/**
 * Casts a whole tensor of a GGUF file to a float type (f32, f16, bf16) or Q8_0, reading it a slab of rows at a
 * time so that a large embedding (2B4T's is 128256 × 2560) never exists as float32 in full: only the
 * output bytes and one slab are held. Used for `--embedding-type` and for other non-linear casts.
 * It does not quantize to ternary types (linear.ts does).
 */
import type { GGUFFile, GGUFTensorInfo } from "../formats/gguf/reader.ts";
import { elementCount, tensorByteSize, typeInfo } from "../formats/gguf/types.ts";
import { codecFor } from "../quant/codecs/index.ts";

/** Source bytes decoded per slab; a few rows more when one row is larger. */
const SLAB_BYTES = 16 * 1024 * 1024;

export async function castTensor(file: GGUFFile, t: GGUFTensorInfo, targetType: number, what: string): Promise<Uint8Array> {
  if (t.type === targetType) return file.readTensor(t);
  const source = codecFor(t.type, what);
  const target = codecFor(targetType, what);
  const cols = t.shape.length > 0 ? t.shape[0] : 1;
  const rows = elementCount(t.shape) / cols;
  const info = typeInfo(t.type);
  if (!info || info.tailBytes !== 0 || rows <= 1) {
    // Formats with a per-tensor tail (I2_S) cannot be cut into rows; they are small matrices anyway.
    const bytes = await file.readTensor(t);
    return target.quantize(source.dequantize(bytes, t.shape, what), t.shape, what);
  }
  const rowBytes = tensorByteSize(t.type, [cols], what);
  const outRowBytes = tensorByteSize(targetType, [cols], what);
  const out = new Uint8Array(outRowBytes * rows);
  const slabRows = Math.max(1, Math.floor(SLAB_BYTES / rowBytes));
  const base = file.dataOffset + t.offset;
  for (let r = 0; r < rows; r += slabRows) {
    const n = Math.min(slabRows, rows - r);
    const bytes = await file.source.read(base + r * rowBytes, n * rowBytes);
    const values = source.dequantize(bytes, [cols, n], what);
    out.set(target.quantize(values, [cols, n], what), r * outRowBytes);
  }
  return out;
}
