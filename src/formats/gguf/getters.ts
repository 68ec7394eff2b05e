/**
 * Typed access to GGUF metadata for config code: each getter returns the value with the type the
 * caller needs, or the default, and otherwise throws one line naming the file and the key
 * (`<file>: metadata key '<key>' is missing` / `... is a string, expected a number`).
 * They check kinds, not meaning: ranges and relations between keys are the config's job.
 */
import { printable } from "../describe.ts";
import type { GGUFValue } from "./value-types.ts";

/** The part of a parsed GGUF file the getters need (so tests can pass a plain object). */
export interface GGUFMetadataHolder {
  source: { name: string };
  metadata: Record<string, GGUFValue>;
}

function lookup(file: GGUFMetadataHolder, key: string): GGUFValue | undefined {
  return Object.hasOwn(file.metadata, key) ? file.metadata[key] : undefined;
}

function missing(file: GGUFMetadataHolder, key: string): Error {
  return new Error(`${file.source.name}: metadata key '${printable(key)}' is missing`);
}

function kindOf(v: GGUFValue): string {
  if (Array.isArray(v)) return "an array";
  if (typeof v === "bigint") return "a 64-bit integer too large for a number";
  return `a ${typeof v}`;
}

function wrong(file: GGUFMetadataHolder, key: string, v: GGUFValue, expected: string): Error {
  return new Error(`${file.source.name}: metadata key '${printable(key)}' is ${kindOf(v)}, expected ${expected}`);
}

export function getNumber(file: GGUFMetadataHolder, key: string, fallback?: number): number {
  const v = lookup(file, key);
  if (v === undefined) {
    if (fallback === undefined) throw missing(file, key);
    return fallback;
  }
  if (typeof v !== "number") throw wrong(file, key, v, "a number");
  return v;
}

/** A number that must be an integer (counts, ids, lengths). */
export function getInteger(file: GGUFMetadataHolder, key: string, fallback?: number): number {
  const v = getNumber(file, key, fallback);
  if (!Number.isInteger(v)) throw new Error(`${file.source.name}: metadata key '${printable(key)}' is ${v}, expected an integer`);
  return v;
}

export function getString(file: GGUFMetadataHolder, key: string, fallback?: string): string {
  const v = lookup(file, key);
  if (v === undefined) {
    if (fallback === undefined) throw missing(file, key);
    return fallback;
  }
  if (typeof v !== "string") throw wrong(file, key, v, "a string");
  return v;
}

export function getBoolean(file: GGUFMetadataHolder, key: string, fallback?: boolean): boolean {
  const v = lookup(file, key);
  if (v === undefined) {
    if (fallback === undefined) throw missing(file, key);
    return fallback;
  }
  if (typeof v !== "boolean") throw wrong(file, key, v, "a boolean");
  return v;
}

export function getArray(file: GGUFMetadataHolder, key: string, fallback?: GGUFValue[]): GGUFValue[] {
  const v = lookup(file, key);
  if (v === undefined) {
    if (fallback === undefined) throw missing(file, key);
    return fallback;
  }
  if (!Array.isArray(v)) throw wrong(file, key, v, "an array");
  return v;
}

export function getNumberArray(file: GGUFMetadataHolder, key: string, fallback?: number[]): number[] {
  const a = getArray(file, key, fallback);
  a.forEach((x, i) => {
    if (typeof x !== "number") throw new Error(`${file.source.name}: metadata key '${printable(key)}'[${i}] is ${kindOf(x)}, expected a number`);
  });
  return a as number[];
}

export function getStringArray(file: GGUFMetadataHolder, key: string, fallback?: string[]): string[] {
  const a = getArray(file, key, fallback);
  a.forEach((x, i) => {
    if (typeof x !== "string") throw new Error(`${file.source.name}: metadata key '${printable(key)}'[${i}] is ${kindOf(x)}, expected a string`);
  });
  return a as string[];
}
