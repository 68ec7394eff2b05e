/**
 * Shared pieces of the format tests: fixture paths, a seeded PRNG, temp directories, and the
 * adapter that turns @huggingface/gguf's output (the independent reader) into our value shapes.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gguf } from "@huggingface/gguf";
import { prng } from "../helpers/prng.ts";

import { FIXTURES_DIR as fixturesDir } from "../helpers/fixtures.ts";
export { fixturesDir };
export const fixtureGGUFs = readdirSync(fixturesDir)
  .filter((f) => f.endsWith(".gguf"))
  .sort()
  .map((f) => join(fixturesDir, f));

/** mulberry32: small, fast, and the same sequence on every run. */
export function rng(seed: number): { next(): number; int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T } {
  const next = prng(seed);
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
  };
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `bitnet-ts-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Our reader returns 64-bit integers as numbers when they are safe; @huggingface/gguf always gives bigints. */
export function normalizeTheirs(v: unknown): unknown {
  if (typeof v === "bigint") return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(normalizeTheirs);
  return v;
}

export interface TheirView {
  metadata: Record<string, unknown>;
  types: Record<string, { type: number; subType?: number }>;
  tensors: { name: string; shape: number[]; type: number; absoluteOffset: number }[];
}

/** Parses a file with @huggingface/gguf and returns it in our shapes (metadata without the header counts). */
export async function readWithHuggingFace(path: string): Promise<TheirView> {
  const r = await gguf(path, { allowLocalFile: true, typedMetadata: true });
  const metadata: Record<string, unknown> = {};
  const types: Record<string, { type: number; subType?: number }> = {};
  for (const [k, entry] of Object.entries(r.typedMetadata)) {
    if (k === "version" || k === "tensor_count" || k === "kv_count") continue;
    const v = entry as { value: unknown; type: number; subType?: number };
    metadata[k] = normalizeTheirs(v.value);
    types[k] = v.subType === undefined ? { type: v.type } : { type: v.type, subType: v.subType };
  }
  const tensors = r.tensorInfos.map((t) => ({
    name: t.name,
    shape: t.shape.map(Number),
    type: Number(t.dtype),
    absoluteOffset: Number(r.tensorDataOffset + t.offset),
  }));
  return { metadata, types, tensors };
}
