/**
 * Builds the float64 reference model (ref64.ts) from a GGUF file: metadata and tensor offsets
 * come from the independent @huggingface/gguf reader, values from our codecs (which the fixture tests
 * hold to gguf-py's own dequantization).
 */
import { gguf } from "@huggingface/gguf";
import { openSync, readSync, closeSync } from "node:fs";
import { codecFor } from "../../src/quant/codecs/index.ts";
import type { RefLayer, RefModel } from "./ref64.ts";

/** Turns a tensor's bytes into values; the default is our codec for its type. */
export type TensorDecoder = (name: string, type: number, bytes: Uint8Array, shape: number[]) => Float32Array;

const codecDecoder: TensorDecoder = (name, type, bytes, shape) => codecFor(type).dequantize(bytes, shape, name);

export async function refModelFromGGUF(path: string, act: "silu" | "relu2", actQuant: RefModel["actQuant"], decode: TensorDecoder = codecDecoder): Promise<RefModel> {
  const { metadata, tensorInfos, tensorDataOffset } = await gguf(path, { allowLocalFile: true });
  const meta = metadata as unknown as Record<string, unknown>;
  const arch = String(meta["general.architecture"]);
  const num = (k: string) => Number(meta[`${arch}.${k}`]);
  const fd = openSync(path, "r");
  const read = (name: string): Float64Array | null => {
    const t = tensorInfos.find((x) => x.name === name);
    if (!t) return null;
    const shape = t.shape.map(Number);
    const next = tensorInfos.map((x) => Number(x.offset)).filter((o) => o > Number(t.offset)).sort((a, b) => a - b)[0];
    const start = Number(tensorDataOffset) + Number(t.offset);
    const len = (next !== undefined ? Number(tensorDataOffset) + next : start + 64 * 1024 * 1024) - start;
    const buf = Buffer.alloc(len);
    const got = readSync(fd, buf, 0, len, start);
    return Float64Array.from(decode(name, t.dtype as number, new Uint8Array(buf.buffer, buf.byteOffset, got), shape));
  };
  const need = (name: string) => {
    const v = read(name);
    if (!v) throw new Error(`missing ${name}`);
    return v;
  };
  const layers: RefLayer[] = [];
  for (let l = 0; l < num("block_count"); l++) {
    const p = `blk.${l}`;
    layers.push({
      attn_norm: need(`${p}.attn_norm.weight`),
      attn_q: need(`${p}.attn_q.weight`),
      attn_k: need(`${p}.attn_k.weight`),
      attn_v: need(`${p}.attn_v.weight`),
      attn_sub_norm: read(`${p}.attn_sub_norm.weight`),
      attn_output: need(`${p}.attn_output.weight`),
      ffn_norm: need(`${p}.ffn_norm.weight`),
      ffn_gate: need(`${p}.ffn_gate.weight`),
      ffn_up: need(`${p}.ffn_up.weight`),
      ffn_sub_norm: read(`${p}.ffn_sub_norm.weight`),
      ffn_down: need(`${p}.ffn_down.weight`),
    });
  }
  const embd = need("token_embd.weight");
  const output = read("output.weight") ?? embd;
  const outputNorm = need("output_norm.weight");
  closeSync(fd);
  const heads = num("attention.head_count");
  return {
    dim: num("embedding_length"),
    ffn: num("feed_forward_length"),
    heads,
    kvHeads: Number(meta[`${arch}.attention.head_count_kv`] ?? heads),
    vocab: embd.length / num("embedding_length"),
    eps: num("attention.layer_norm_rms_epsilon"),
    theta: num("rope.freq_base"),
    act,
    actQuant,
    embd,
    outputNorm,
    output,
    layers,
  };
}
