// Test helpers for the tokenizer tests: fixture metadata read by the independent @huggingface/gguf reader,
// llama.cpp (through node-llama-cpp, vocabulary only) as the reference tokenizer, and vocabulary-only GGUF files
// written to a temporary directory so llama.cpp can load vocabularies built by the tests.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gguf } from "@huggingface/gguf";
import { LlamaLogLevel, getLlama } from "node-llama-cpp";
import type { Llama, LlamaModel } from "node-llama-cpp";
import { encodeGGUFHeader } from "../../src/formats/gguf/writer.ts";
import type { GGUFMetadataEntry } from "../../src/formats/gguf/writer.ts";
import { GGUFValueType } from "../../src/formats/gguf/value-types.ts";

import { FIXTURES_DIR as FIXTURES } from "../helpers/fixtures.ts";
export { FIXTURES };

/** Metadata as a plain object, with bigints turned into numbers. */
export async function fixtureMetadata(path: string): Promise<Record<string, unknown>> {
  const { metadata } = await gguf(path, { allowLocalFile: true });
  return Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v]));
}

/** One llama.cpp backend per test file; models are loaded vocabulary-only. */
export class LlamaCppReference {
  private llama: Llama | undefined;
  private readonly models: LlamaModel[] = [];
  private dir: string | undefined;

  async load(modelPath: string): Promise<LlamaModel> {
    // Silent: node-llama-cpp also tries a full (non vocab-only) load to estimate memory, which fails for
    // tensor-less files and would log errors that are not test failures.
    this.llama ??= await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: LlamaLogLevel.disabled });
    const model = await this.llama.loadModel({ modelPath, vocabOnly: true });
    this.models.push(model);
    return model;
  }

  /** Writes a tensor-less GGUF holding `entries` (plus general.architecture) and loads it. */
  async loadMetadata(name: string, entries: GGUFMetadataEntry[]): Promise<LlamaModel> {
    this.dir ??= mkdtempSync(join(tmpdir(), "bitnet-ts-tokenizer-"));
    const path = join(this.dir, `${name}.gguf`);
    const metadata = [entry.str("general.architecture", "llama"), ...entries];
    writeFileSync(path, encodeGGUFHeader({ metadata, tensors: [] }).header);
    return this.load(path);
  }

  async dispose(): Promise<void> {
    for (const m of this.models) await m.dispose();
    await this.llama?.dispose();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

const T = GGUFValueType;
export const entry = {
  str: (key: string, value: string): GGUFMetadataEntry => ({ key, value, type: { type: T.STRING } }),
  u32: (key: string, value: number): GGUFMetadataEntry => ({ key, value, type: { type: T.UINT32 } }),
  f32: (key: string, value: number): GGUFMetadataEntry => ({ key, value, type: { type: T.FLOAT32 } }),
  bool: (key: string, value: boolean): GGUFMetadataEntry => ({ key, value, type: { type: T.BOOL } }),
  strings: (key: string, value: string[]): GGUFMetadataEntry => ({ key, value, type: { type: T.ARRAY, subType: T.STRING } }),
  f32s: (key: string, value: number[]): GGUFMetadataEntry => ({ key, value, type: { type: T.ARRAY, subType: T.FLOAT32 } }),
  i32s: (key: string, value: number[]): GGUFMetadataEntry => ({ key, value, type: { type: T.ARRAY, subType: T.INT32 } }),
};

/** The same entries as the plain metadata object tokenizerFromGGUF takes. */
export function entriesToMetadata(entries: GGUFMetadataEntry[]): Record<string, unknown> {
  return Object.fromEntries(entries.map((e) => [e.key, e.value]));
}
