/**
 * Rows of a task file as a user exports them from the Hugging Face Hub: JSON Lines (one object per line,
 * what `datasets`' `to_json` writes) or one JSON array of objects. Every row keeps where it came from
 * ("file:line", or "file: row N" in an array), and the field readers below turn a missing or mistyped
 * field into one line that names that place and the field. Text in, rows out: no file reading here.
 */
import { InvalidFileError } from "../../errors.ts";

export type Row = Record<string, unknown>;

export interface SourcedRow {
  row: Row;
  /** "file:line" (JSON Lines) or "file: row N" (a JSON array). */
  where: string;
}

function isObject(v: unknown): v is Row {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function firstLineOf(message: string): string {
  return message.split("\n")[0];
}

/** Parses a task file's text (JSON Lines or a JSON array); blank lines are skipped. */
export function parseRows(text: string, file: string): SourcedRow[] {
  const body = text.replace(/^\uFEFF/, "");
  if (body.trim() === "") throw new InvalidFileError(`${file}: the task file is empty`);
  if (body.trimStart().startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (e) {
      throw new InvalidFileError(`${file}: not valid JSON (${firstLineOf((e as Error).message)})`);
    }
    if (!Array.isArray(parsed)) throw new InvalidFileError(`${file}: expected a JSON array of rows`);
    return parsed.map((row, i) => {
      const where = `${file}: row ${i + 1}`;
      if (!isObject(row)) throw new InvalidFileError(`${where}: a row must be a JSON object`);
      return { row, where };
    });
  }
  const rows: SourcedRow[] = [];
  const lines = body.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, "");
    if (line.trim() === "") continue;
    const where = `${file}:${i + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new InvalidFileError(`${where}: not valid JSON (${firstLineOf((e as Error).message)})`);
    }
    if (!isObject(row)) throw new InvalidFileError(`${where}: a row must be a JSON object`);
    rows.push({ row, where });
  }
  return rows;
}

function describe(v: unknown): string {
  if (v === undefined) return "missing";
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** A string field. */
export function str(r: SourcedRow, key: string): string {
  const v = r.row[key];
  if (typeof v !== "string") throw new InvalidFileError(`${r.where}: field '${key}' must be a string, got ${describe(v)}`);
  return v;
}

/** A non-empty list of strings (each non-empty). */
export function strList(r: SourcedRow, key: string, v: unknown = r.row[key]): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === "string")) {
    throw new InvalidFileError(`${r.where}: field '${key}' must be a non-empty list of strings, got ${describe(v)}`);
  }
  return v as string[];
}

/** An integer field, also accepted as a string of digits ("3"), as the Hub stores some labels. */
export function intField(r: SourcedRow, key: string): number {
  const v = r.row[key];
  const n = typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v;
  if (typeof n !== "number" || !Number.isInteger(n)) throw new InvalidFileError(`${r.where}: field '${key}' must be an integer, got ${describe(v)}`);
  return n;
}

/** The object field `key` with list fields `text` and `label` of one length (ARC's and OpenBookQA's `choices`). */
export function labelledChoices(r: SourcedRow, key: string): { text: string[]; label: string[] } {
  const v = r.row[key];
  if (!isObject(v)) throw new InvalidFileError(`${r.where}: field '${key}' must be an object {text: [...], label: [...]}, got ${describe(v)}`);
  const text = strList(r, `${key}.text`, v.text);
  const label = strList(r, `${key}.label`, v.label);
  if (text.length !== label.length) throw new InvalidFileError(`${r.where}: field '${key}' has ${text.length} texts but ${label.length} labels`);
  return { text, label };
}

/** Checks a gold index against the number of choices. */
export function checkGold(r: SourcedRow, gold: number, choices: number, field: string): number {
  if (!Number.isInteger(gold) || gold < 0 || gold >= choices) {
    throw new InvalidFileError(`${r.where}: field '${field}' gives answer ${gold}, outside the ${choices} choices [0, ${choices - 1}]`);
  }
  return gold;
}
