/**
 * GGUF metadata value types: ids, names, byte sizes, the descriptor that records a value's exact
 * on-disk type (so a read file can be written back byte for byte), range checks, and the rule the
 * writer uses to infer a type when the caller gives none.
 * It does not read or write bytes; reader.ts and writer.ts do.
 */
import { InvalidArgumentError } from "../../errors.ts";

/** Metadata value type ids, as in ggml's `gguf_type` (same numbering as @huggingface/gguf). */
export const GGUFValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GGUFValueTypeId = (typeof GGUFValueType)[keyof typeof GGUFValueType];
export type GGUFScalarTypeId = Exclude<GGUFValueTypeId, typeof GGUFValueType.ARRAY>;

export type GGUFScalar = number | bigint | boolean | string;
export type GGUFValue = GGUFScalar | GGUFValue[];

/**
 * The exact type of one metadata value.
 * - scalar: `{ type }`.
 * - array of scalars: `{ type: ARRAY, subType }`.
 * - array of arrays: `{ type: ARRAY, subType: ARRAY, items }`, one descriptor per inner array,
 *   because in the file every inner array carries its own element type.
 */
export type GGUFValueTypeDescriptor =
  | { type: GGUFScalarTypeId }
  | { type: typeof GGUFValueType.ARRAY; subType: GGUFScalarTypeId }
  | { type: typeof GGUFValueType.ARRAY; subType: typeof GGUFValueType.ARRAY; items: GGUFValueTypeDescriptor[] };

const NAMES = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"] as const;

/** Fixed byte size of a scalar type; 0 for string and array, whose size depends on the value. */
const SIZES = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8] as const;

export function isValueTypeId(id: number): id is GGUFValueTypeId {
  return Number.isInteger(id) && id >= 0 && id <= 12;
}

export function valueTypeName(id: number): string {
  return isValueTypeId(id) ? NAMES[id] : `unknown(${id})`;
}

/** Bytes of a fixed-size scalar, 0 for string/array. */
export function scalarByteSize(id: GGUFValueTypeId): number {
  return SIZES[id];
}

/** The fewest bytes one value of this type can take in a v2/v3 file (used to bound untrusted counts). */
export function minValueBytes(id: GGUFValueTypeId): number {
  if (id === GGUFValueType.STRING) return 8; // u64 length, possibly empty
  if (id === GGUFValueType.ARRAY) return 12; // u32 element type + u64 count
  return SIZES[id];
}

/** A readable form such as `u32`, `array<f32>` or `array<array<...>>`. */
export function describeType(d: GGUFValueTypeDescriptor): string {
  if (d.type !== GGUFValueType.ARRAY) return NAMES[d.type];
  if (d.subType !== GGUFValueType.ARRAY) return `array<${NAMES[d.subType]}>`;
  const inner = new Set(d.items.map(describeType));
  return `array<${inner.size === 1 ? [...inner][0] : "array<...>"}>`;
}

const INT_RANGES: Partial<Record<GGUFValueTypeId, [bigint, bigint]>> = {
  [GGUFValueType.UINT8]: [0n, 0xffn],
  [GGUFValueType.INT8]: [-0x80n, 0x7fn],
  [GGUFValueType.UINT16]: [0n, 0xffffn],
  [GGUFValueType.INT16]: [-0x8000n, 0x7fffn],
  [GGUFValueType.UINT32]: [0n, 0xffffffffn],
  [GGUFValueType.INT32]: [-0x80000000n, 0x7fffffffn],
  [GGUFValueType.UINT64]: [0n, 0xffffffffffffffffn],
  [GGUFValueType.INT64]: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

/** The integer range of an integer type, or undefined for the others. */
export function integerRange(id: GGUFValueTypeId): [bigint, bigint] | undefined {
  return INT_RANGES[id];
}

/**
 * Throws `<what>: ...` unless `value` can be stored as `d` without loss of meaning:
 * integers in range (number or bigint), any number for floats, booleans, strings, and arrays whose
 * elements match (an array of arrays needs one descriptor per inner array).
 */
export function checkValue(value: GGUFValue, d: GGUFValueTypeDescriptor, what: string): void {
  if (d.type === GGUFValueType.ARRAY) {
    if (!Array.isArray(value)) throw new InvalidArgumentError(`${what}: expected an array for type ${describeType(d)}, got ${typeof value}`);
    if (d.subType === GGUFValueType.ARRAY) {
      if (d.items.length !== value.length) {
        throw new InvalidArgumentError(`${what}: array of arrays has ${value.length} items but its type lists ${d.items.length}`);
      }
      value.forEach((v, i) => checkValue(v, d.items[i], `${what}[${i}]`));
    } else {
      // Vocabularies have 10^5 elements: test cheaply, build the message only for the culprit.
      for (let i = 0; i < value.length; i++) {
        if (!fitsScalar(value[i], d.subType)) checkScalar(value[i], d.subType, `${what}[${i}]`);
      }
    }
    return;
  }
  checkScalar(value, d.type, what);
}

function fitsScalar(v: GGUFValue, t: GGUFScalarTypeId): boolean {
  switch (t) {
    case GGUFValueType.STRING:
      return typeof v === "string";
    case GGUFValueType.BOOL:
      return typeof v === "boolean";
    case GGUFValueType.FLOAT32:
    case GGUFValueType.FLOAT64:
      return typeof v === "number";
    case GGUFValueType.UINT8:
      return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xff;
    case GGUFValueType.INT32:
      return typeof v === "number" && Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff;
    case GGUFValueType.UINT32:
      return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
    default:
      return false; // the rarer types take the exact path
  }
}

function checkScalar(value: GGUFValue, type: GGUFScalarTypeId, what: string): void {
  const range = INT_RANGES[type];
  if (range) {
    let big: bigint;
    if (typeof value === "bigint") big = value;
    else if (typeof value === "number" && Number.isSafeInteger(value)) big = BigInt(value);
    else throw new InvalidArgumentError(`${what}: ${formatValue(value)} is not an integer that ${NAMES[type]} can hold exactly`);
    if (big < range[0] || big > range[1]) throw new InvalidArgumentError(`${what}: ${formatValue(value)} is out of range for ${NAMES[type]}`);
    return;
  }
  switch (type) {
    case GGUFValueType.FLOAT32:
    case GGUFValueType.FLOAT64:
      if (typeof value !== "number") throw new InvalidArgumentError(`${what}: expected a number for ${NAMES[type]}, got ${formatValue(value)}`);
      return;
    case GGUFValueType.BOOL:
      if (typeof value !== "boolean") throw new InvalidArgumentError(`${what}: expected a boolean, got ${formatValue(value)}`);
      return;
    case GGUFValueType.STRING:
      if (typeof value !== "string") throw new InvalidArgumentError(`${what}: expected a string, got ${formatValue(value)}`);
      return;
  }
}

function formatValue(v: GGUFValue): string {
  if (Array.isArray(v)) return `an array`;
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v);
  return typeof v === "bigint" ? `${v}n` : String(v);
}

/**
 * The type the writer gives a value that comes without one:
 * - string -> string, boolean -> bool;
 * - number: an integer in [0, 2^32) -> u32; a negative integer >= -2^31 -> i32; another safe
 *   integer -> u64 or i64 by sign; anything else (fractions, NaN, infinities, huge magnitudes)
 *   -> f32, the type llama.cpp reads float hyperparameters as;
 * - bigint -> u64 if >= 0, else i64;
 * - array: the element type that fits every element by the same rules (integers widen
 *   u32 -> i32 -> i64/u64, any fraction makes the whole array f32); arrays of arrays are
 *   inferred item by item. Mixed kinds and empty arrays are errors: give those a type.
 */
export function inferType(value: GGUFValue, what: string): GGUFValueTypeDescriptor {
  if (!Array.isArray(value)) return { type: inferScalar(value, what) };
  if (value.length === 0) throw new InvalidArgumentError(`${what}: cannot infer the element type of an empty array; give it an explicit type`);
  if (value.every(Array.isArray)) {
    return { type: GGUFValueType.ARRAY, subType: GGUFValueType.ARRAY, items: value.map((v, i) => inferType(v, `${what}[${i}]`)) };
  }
  if (value.some(Array.isArray)) throw new InvalidArgumentError(`${what}: an array mixes arrays and scalars`);
  const scalars = value as GGUFScalar[];
  const kinds = new Set(scalars.map((v) => (typeof v === "bigint" ? "number" : typeof v)));
  if (kinds.size !== 1) throw new InvalidArgumentError(`${what}: an array mixes ${[...kinds].join(" and ")} values; give it an explicit type`);
  const kind = [...kinds][0];
  if (kind === "string") return { type: GGUFValueType.ARRAY, subType: GGUFValueType.STRING };
  if (kind === "boolean") return { type: GGUFValueType.ARRAY, subType: GGUFValueType.BOOL };
  if (kind !== "number") throw new InvalidArgumentError(`${what}: cannot store ${kind} values in GGUF metadata`);
  return { type: GGUFValueType.ARRAY, subType: widestNumeric(scalars as (number | bigint)[], what) };
}

function inferScalar(v: GGUFScalar, what: string): GGUFScalarTypeId {
  if (typeof v === "string") return GGUFValueType.STRING;
  if (typeof v === "boolean") return GGUFValueType.BOOL;
  if (typeof v !== "number" && typeof v !== "bigint") throw new InvalidArgumentError(`${what}: cannot store a ${typeof v} in GGUF metadata`);
  return widestNumeric([v], what);
}

function widestNumeric(values: (number | bigint)[], what: string): GGUFScalarTypeId {
  let min = 0n;
  let max = 0n;
  for (const v of values) {
    if (typeof v === "number" && !Number.isSafeInteger(v)) return GGUFValueType.FLOAT32;
    const b = BigInt(v);
    if (b < min) min = b;
    if (b > max) max = b;
  }
  const fitsBigint = values.some((v) => typeof v === "bigint");
  if (!fitsBigint && min >= 0n && max <= 0xffffffffn) return GGUFValueType.UINT32;
  if (!fitsBigint && min >= -0x80000000n && max <= 0x7fffffffn) return GGUFValueType.INT32;
  if (min >= 0n) {
    if (max > 0xffffffffffffffffn) throw new InvalidArgumentError(`${what}: integer ${max} does not fit in u64`);
    return GGUFValueType.UINT64;
  }
  if (min < -0x8000000000000000n || max > 0x7fffffffffffffffn) throw new InvalidArgumentError(`${what}: integers from ${min} to ${max} do not fit in i64`);
  return GGUFValueType.INT64;
}

/** Plain JS value of a 64-bit integer: a number when it is exactly representable, else a bigint. */
export function int64Value(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
