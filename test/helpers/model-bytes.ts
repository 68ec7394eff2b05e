/**
 * Test helper: a small synthetic model (src/model/synthetic.ts) as GGUF bytes in memory, with hooks to
 * edit its metadata, its tensor list or a tensor's bytes first, so that tests can build a model that is
 * wrong in exactly one way. Loading it goes through the public `loadModelFrom` with a named source, so
 * errors name that file.
 */
import { writeGGUF, type GGUFMetadataEntry, type GGUFTensorSpec, type GGUFWriteHeader } from "../../src/formats/gguf/writer.ts";
import { memorySink } from "../../src/formats/sink.ts";
import { bufferSource } from "../../src/formats/source.ts";
import { loadModelFrom, type BitNetModel, type ModelOptions } from "../../src/core.ts";
import { refKernels } from "../../src/kernels/ref.ts";
import { syntheticModel, type SyntheticSpec } from "../../src/model/synthetic.ts";

/** A 2-layer BitNet small enough to load in milliseconds. */
export const TINY_SPEC: SyntheticSpec = {
  architecture: "bitnet",
  dim: 256,
  ffnDim: 256,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 300,
  linearType: "tq2_0",
  embeddingType: "f32",
  seed: 7,
};

export interface ModelEdits {
  /** Returns the metadata to write (entries may be removed, changed or added). */
  metadata?: (entries: GGUFMetadataEntry[]) => GGUFMetadataEntry[];
  /** Returns the tensors to write with the index of the synthetic tensor whose data each takes (-1: zeros). */
  tensors?: (tensors: GGUFTensorSpec[]) => { spec: GGUFTensorSpec; from: number }[];
  /** Changes a tensor's bytes (a copy) before they are written. */
  data?: (name: string, bytes: Uint8Array) => Uint8Array;
}

export async function modelBytes(spec: SyntheticSpec = TINY_SPEC, edits: ModelEdits = {}): Promise<Uint8Array> {
  const m = syntheticModel(spec);
  const metadata = edits.metadata ? edits.metadata([...(m.header.metadata as GGUFMetadataEntry[])]) : m.header.metadata;
  const plan = edits.tensors ? edits.tensors([...m.header.tensors]) : m.header.tensors.map((spec, from) => ({ spec, from }));
  const header: GGUFWriteHeader = { ...m.header, metadata, tensors: plan.map((p) => p.spec) };
  const sink = memorySink();
  await writeGGUF(sink, header, (i, info) => {
    const { spec: t, from } = plan[i];
    const bytes = from >= 0 ? m.data(from).slice() : new Uint8Array(info.byteSize);
    return edits.data ? edits.data(t.name, bytes) : bytes;
  });
  return sink.bytes();
}

/** Loads model bytes as the file `name` with the reference kernels (fast to set up, nothing to close). */
export function loadBytes(bytes: Uint8Array, name: string, options: ModelOptions = {}): Promise<BitNetModel> {
  return loadModelFrom(bufferSource(bytes, name), { kernels: refKernels, ...options });
}

/** The metadata entry with `key` replaced by `value` (or removed when `value` is undefined). */
export function setMeta(key: string, value: GGUFMetadataEntry["value"] | undefined, entry?: Partial<GGUFMetadataEntry>): (e: GGUFMetadataEntry[]) => GGUFMetadataEntry[] {
  return (entries) => {
    const rest = entries.filter((e) => e.key !== key);
    return value === undefined ? rest : [...rest, { key, value, ...entry }];
  };
}
