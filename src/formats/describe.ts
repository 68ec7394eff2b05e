/**
 * Safe words for untrusted values in error messages. A name or value read from a hostile file can be
 * megabytes long, contain newlines, or (parsed from JSON) nest thousands of levels deep, and an error
 * message must still be one short line: so nothing here recurses, stringifies a whole value, or
 * copies more than a few dozen characters of it. Not for valid data (print that as it is).
 */

const MAX_TEXT = 60;

/** `s` cut to `max` characters (marked with "…"), with control and line-break characters escaped. */
export function printable(s: string, max = MAX_TEXT): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  // Control and line-break characters are exactly what must not reach a one-line message.
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** `"text"`: a string value quoted, cut and escaped as `printable` does. */
export function quoted(s: string, max = MAX_TEXT): string {
  return `"${printable(s, max)}"`;
}

const isScalar = (v: unknown): boolean => v === null || ["string", "number", "boolean", "bigint"].includes(typeof v);

/**
 * A short description of any JSON-like value: `"F7"`, `12`, `null`, `missing`, `[2, -1]` (a short flat
 * list), `a list of 3 items`, `an object`. It reads after "is": "shape is a list of 1 item".
 */
export function describeValue(v: unknown): string {
  if (typeof v === "string") return quoted(v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (v === null) return "null";
  if (v === undefined) return "missing";
  if (Array.isArray(v)) {
    if (v.length <= 8 && v.every(isScalar)) return `[${v.map((x) => (typeof x === "string" ? quoted(x, 20) : String(x))).join(", ")}]`;
    return `a list of ${v.length} item${v.length === 1 ? "" : "s"}`;
  }
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}
