// Typed reads of tokenizer keys from a GGUF metadata object (`Record<string, unknown>`), accepting what GGUF
// readers produce (numbers or bigints, plain or typed arrays). Every failure throws one line naming the file
// (`what`) and the key. Knows nothing about tokenization.

import { fail } from "./errors.ts";

export type Metadata = Record<string, unknown>;

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (ArrayBuffer.isView(value)) return "a typed array";
  return value === null ? "null" : typeof value;
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  return undefined;
}

/** meta[key] if it is there and passes `is`; undefined when absent; otherwise a failure saying it must be `expected`. */
function readChecked<T>(meta: Metadata, key: string, what: string, is: (value: unknown) => value is T, expected: string): T | undefined {
  const value = meta[key];
  if (value === undefined) return undefined;
  if (!is(value)) fail(what, key, `must be ${expected}, got ${describe(value)}`);
  return value;
}

const isString = (value: unknown): value is string => typeof value === "string";
const isBoolean = (value: unknown): value is boolean => typeof value === "boolean";
const isArrayLike = (value: unknown): value is ArrayLike<unknown> => Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));

export function readString(meta: Metadata, key: string, what: string): string | undefined {
  return readChecked(meta, key, what, isString, "a string");
}

export function requireString(meta: Metadata, key: string, what: string): string {
  const value = readString(meta, key, what);
  if (value === undefined) fail(what, key, "is missing");
  return value;
}

export function readBool(meta: Metadata, key: string, what: string): boolean | undefined {
  return readChecked(meta, key, what, isBoolean, "a boolean");
}

export function readInteger(meta: Metadata, key: string, what: string): number | undefined {
  const value = meta[key];
  if (value === undefined) return undefined;
  const n = toNumber(value);
  if (n === undefined || !Number.isSafeInteger(n)) fail(what, key, `must be an integer, got ${typeof value === "number" || typeof value === "bigint" ? String(value) : describe(value)}`);
  return n;
}

function readArray(meta: Metadata, key: string, what: string): ArrayLike<unknown> | undefined {
  return readChecked(meta, key, what, isArrayLike, "an array");
}

export function readStringArray(meta: Metadata, key: string, what: string): string[] | undefined {
  const arr = readArray(meta, key, what);
  if (arr === undefined) return undefined;
  const out = new Array<string>(arr.length);
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i];
    if (typeof v !== "string") fail(what, key, `[${i}] must be a string, got ${describe(v)}`);
    out[i] = v;
  }
  return out;
}

export function readNumberArray(meta: Metadata, key: string, what: string): number[] | undefined {
  const arr = readArray(meta, key, what);
  if (arr === undefined) return undefined;
  const out = new Array<number>(arr.length);
  for (let i = 0; i < arr.length; i++) {
    const n = toNumber(arr[i]);
    if (n === undefined || Number.isNaN(n)) fail(what, key, `[${i}] must be a number, got ${describe(arr[i])}`);
    out[i] = n;
  }
  return out;
}
