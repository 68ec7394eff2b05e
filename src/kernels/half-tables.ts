/**
 * Lookup tables that widen f16 and bf16 bits to float32 with one indexed load, built on first use.
 * Shared by every reference kernel that reads half-precision weights or KV entries.
 */
import { bf16ToF32, f16ToF32 } from "../quant/half.ts";

let f16: Float32Array | null = null;
let bf16: Float32Array | null = null;

export function f16Table(): Float32Array {
  if (!f16) {
    f16 = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16[h] = f16ToF32(h);
  }
  return f16;
}

export function bf16Table(): Float32Array {
  if (!bf16) {
    bf16 = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) bf16[h] = bf16ToF32(h);
  }
  return bf16;
}
