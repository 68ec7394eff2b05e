/**
 * The valid files the fuzzer starts from: what our own writers produce (a synthetic model of each
 * architecture and weight type, a trained model exported by the trainer, a converted model, a safetensors
 * file of every dtype, a Hugging Face export, a checkpoint) and the files other implementations wrote
 * (../shared/fixtures, the embedded default model). Small ones, so that a case takes milliseconds.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { convertGGUF } from "../src/convert/convert-gguf.ts";
import { readGGUF } from "../src/formats/gguf/reader.ts";
import { writeGGUF } from "../src/formats/gguf/writer.ts";
import { writeSafetensors, type SafetensorsTensorSpec } from "../src/formats/safetensors/writer.ts";
import { memorySink } from "../src/formats/sink.ts";
import { bufferSource } from "../src/formats/source.ts";
import { syntheticModel, type SyntheticSpec } from "../src/model/synthetic.ts";
import { trainBpe } from "../src/train/bpe-trainer.ts";
import { encodeCheckpoint } from "../src/train/checkpoint.ts";
import { exportGGUF } from "../src/train/export-gguf.ts";
import { exportSafetensors } from "../src/train/export-safetensors.ts";
import { countParams, createParamSet, initParams } from "../src/train/params.ts";
import { modelConfigOf, resolveRunConfig, runPresets } from "../src/train/run-config.ts";

export type SeedKind = "gguf" | "safetensors";

export interface Seed {
  name: string;
  kind: SeedKind;
  /** A training checkpoint (also read as one). */
  checkpoint?: boolean;
  bytes: Uint8Array;
}

const root = fileURLToPath(new URL("../", import.meta.url));
const fixtures = join(root, "..", "shared", "fixtures");

const TINY: Omit<SyntheticSpec, "linearType" | "seed"> = { architecture: "bitnet", dim: 256, ffnDim: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, embeddingType: "f16" };

async function synthetic(spec: SyntheticSpec): Promise<Uint8Array> {
  const m = syntheticModel(spec);
  const sink = memorySink();
  await writeGGUF(sink, m.header, m.data);
  return sink.bytes();
}

export async function buildSeeds(): Promise<Seed[]> {
  const seeds: Seed[] = [];
  const gguf = (name: string, bytes: Uint8Array) => seeds.push({ name, kind: "gguf", bytes });

  // Other implementations' files.
  if (existsSync(fixtures)) {
    for (const f of readdirSync(fixtures).filter((n) => n.endsWith(".gguf")).sort()) gguf(f, new Uint8Array(readFileSync(join(fixtures, f))));
  }
  const defaultModel = join(root, "models", "bitnet-default.gguf");
  if (existsSync(defaultModel)) gguf("bitnet-default.gguf", new Uint8Array(readFileSync(defaultModel)));

  // Our synthetic writer, one file per architecture and weight type.
  gguf("synthetic-bitnet-tq2_0-scales.gguf", await synthetic({ ...TINY, linearType: "tq2_0", outputScales: true, seed: 1 }));
  gguf("synthetic-bitnet-b1.58-i2_s.gguf", await synthetic({ ...TINY, architecture: "bitnet-b1.58", linearType: "i2_s", activation: "relu2", seed: 2 }));
  gguf("synthetic-llama-f16-untied.gguf", await synthetic({ ...TINY, architecture: "llama", nLayers: 1, linearType: "f16", untiedOutput: true, seed: 3 }));
  const tq2 = await synthetic({ ...TINY, linearType: "tq2_0", embeddingType: "f32", nLayers: 1, seed: 4 });

  // bitnet convert's output.
  const converted = memorySink();
  await convertGGUF(await readGGUF(bufferSource(tq2, "tq2.gguf")), converted, { type: "tq1_0", embeddingType: "f16" });
  gguf("converted-tq1_0.gguf", converted.bytes());

  // The trainer's exports (GGUF, Hugging Face safetensors) and a checkpoint, of an untrained tiny model.
  const config = resolveRunConfig(runPresets.tiny, { steps: 1 });
  const params = createParamSet(modelConfigOf(config));
  initParams(params, 7);
  const vocab = trainBpe(["in the beginning was the word, and the word was with the beginning"], { vocabSize: 280 });
  const exported = memorySink();
  await exportGGUF(params, { ...vocab, pre: "gpt-2" }, exported, { type: "i2_s" });
  gguf("trained-tiny-i2_s.gguf", exported.bytes());

  const hf = memorySink();
  await exportSafetensors(params, hf);
  seeds.push({ name: "hf-tiny.safetensors", kind: "safetensors", bytes: hf.bytes() });

  const n = countParams(modelConfigOf(config));
  const values = (k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + k));
  const checkpoint = await encodeCheckpoint({
    config, tokenizer: vocab, step: 1, cursor: { epoch: 0, index: 3 }, adamStep: 1, elapsedSeconds: 1,
    metrics: [{ type: "val", step: 0, val_loss: 6.2 }], params: values(0), adamM: values(1), adamV: values(2).map(Math.abs),
  });
  seeds.push({ name: "step-00000001.ckpt", kind: "safetensors", checkpoint: true, bytes: checkpoint });

  // The safetensors writer: every dtype, a scalar, an empty tensor, an integer-like name, metadata.
  const specs: SafetensorsTensorSpec[] = [
    { name: "model.embed_tokens.weight", dtype: "BF16", shape: [16, 8] },
    { name: "model.layers.0.mlp.up_proj.weight", dtype: "U8", shape: [4, 8] },
    { name: "model.layers.0.mlp.up_proj.weight_scale", dtype: "BF16", shape: [1] },
    { name: "norm", dtype: "F32", shape: [8] },
    { name: "half", dtype: "F16", shape: [3, 3] },
    { name: "codes", dtype: "I8", shape: [5] },
    { name: "scalar", dtype: "F32", shape: [] },
    { name: "empty", dtype: "F16", shape: [0, 4] },
    { name: "7", dtype: "U8", shape: [2] },
  ];
  const st = memorySink();
  await writeSafetensors(st, specs, (i) => {
    const s = specs[i];
    const size = s.shape.reduce((a, b) => a * b, 1) * (s.dtype === "F32" ? 4 : s.dtype === "U8" || s.dtype === "I8" ? 1 : 2);
    return Uint8Array.from({ length: size }, (_, j) => (j * 37 + i) & 0x7f);
  }, { metadata: { format: "pt", note: "fuzz seed" } });
  seeds.push({ name: "writer-all-dtypes.safetensors", kind: "safetensors", bytes: st.bytes() });
  return seeds;
}
