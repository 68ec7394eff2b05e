/**
 * `bitnet info FILE [--json]`: what a GGUF file holds, read from its header only (no tensor data):
 * version, architecture, hyperparameters, a tokenizer summary, every tensor with its shape, type and
 * bytes, and totals, including the bits per weight of the linear (ternary) layers.
 *
 * `--json` prints one object:
 *   { file, file_size, version, alignment, data_offset, architecture, metadata, tokenizer,
 *     tensors: [{ name, shape, type, bytes }], parameters, total_bytes,
 *     linear_parameters, linear_bytes, linear_bits_per_weight }
 * - `shape` is in GGUF order (ne[0] first); `type` is ggml's lower-case name (f32, f16, tq2_0, i2_s, ...).
 * - `metadata` has every key in file order. An array with more than METADATA_ARRAY_LIMIT (16) elements
 *   is replaced by `{ "type": "array", "element_type": <gguf value type, e.g. "string">, "length": n }`;
 *   shorter arrays are given in full. 64-bit integers beyond 2^53 and non-finite floats become strings.
 * - `total_bytes` is the sum of the tensors' data bytes (without alignment padding); `linear_*` cover
 *   the blk.N.{attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down}.weight tensors, and
 *   `linear_bits_per_weight` = 8·linear_bytes / linear_parameters (null when the file has none).
 */
import type { Command } from "commander";
import { existsSync, statSync } from "node:fs";
import { readGGUF, type GGUFFile } from "../formats/gguf/reader.ts";
import { GGUFValueType } from "../formats/gguf/value-types.ts";
import { summarizeGGUF, type Json, type ModelInfo } from "../formats/gguf/summary.ts";
import { openFileSource } from "../node/file-source.ts";
import { BitNetError, InvalidFileError } from "../errors.ts";
import { readSafetensors, type SafetensorsFile } from "../formats/safetensors/reader.ts";
import { openHFDir } from "../node/hf-dir.ts";
import { isHubName, resolveHubModel } from "../node/hub/resolve.ts";

export function registerInfo(program: Command): void {
  program
    .command("info")
    .description("show a GGUF file's, safetensors file's or Hugging Face checkpoint directory's metadata, tensors and bits per weight")
    .argument("<file>", "GGUF file, .safetensors file, Hugging Face checkpoint directory, or hf:OWNER/REPO (cached)")
    .option("--json", "print one JSON object")
    .action(async (arg: string, flags: { json?: boolean }) => {
      // A Hub name shows what the cache holds for it, without the network.
      const path = isHubName(arg) ? await resolveHubModel(arg, { env: { ...process.env, HF_HUB_OFFLINE: "1" } }) : arg;
      if (!existsSync(path)) throw new Error(`${path}: no such file`);
      if (statSync(path).isDirectory()) {
        // A checkpoint directory is summarized as the GGUF bitnet-ts reads it as (every header, name and shape checked).
        const ckpt = await openHFDir(path);
        try {
          const info: ModelInfo = { ...summarizeGGUF(ckpt), format: "hf-checkpoint", shards: ckpt.shards };
          process.stdout.write(flags.json ? `${JSON.stringify(info, null, 2)}\n` : renderInfo(info, ckpt));
        } finally {
          await ckpt.source.close();
        }
        return;
      }
      if (path.endsWith(".safetensors")) {
        const source = await openFileSource(path);
        try {
          const st = await readSafetensors(source).catch((err: unknown) => {
            throw err instanceof BitNetError ? err : new InvalidFileError((err as Error).message, { cause: err });
          });
          const info = summarizeSafetensors(st);
          process.stdout.write(flags.json ? `${JSON.stringify(info, null, 2)}\n` : renderSafetensorsInfo(info));
        } finally {
          await source.close();
        }
        return;
      }
      const source = await openFileSource(path);
      try {
        const file = await readGGUF(source);
        const info = summarizeGGUF(file);
        process.stdout.write(flags.json ? `${JSON.stringify(info, null, 2)}\n` : renderInfo(info, file));
      } finally {
        await source.close();
      }
    });
}

/** The shortest decimal that reads back as the same float32 (1e-5 rather than 0.000009999999747378752). */
function shortestF32(v: number): number {
  for (let p = 1; p < 17; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

const fmt = (n: number): string => n.toLocaleString("en-US");

/** The human-readable report; `file` supplies the metadata types, so f32 values print as short as they read. */
export function renderInfo(info: ModelInfo, file: GGUFFile): string {
  const lines: string[] = [];
  const md: Record<string, Json> = Object.fromEntries(
    Object.entries(info.metadata).map(([k, v]) => [k, Object.hasOwn(file.metadataTypes, k) && file.metadataTypes[k].type === GGUFValueType.FLOAT32 && typeof v === "number" ? shortestF32(v) : v]),
  );
  if (info.format === "hf-checkpoint") {
    lines.push(`directory:       ${info.file} (Hugging Face checkpoint: ${(info.shards ?? []).join(", ")})`);
    lines.push(`read as:         a GGUF of ${fmt(info.file_size)} bytes (linear layers as i2_s, converted when loaded)`);
  } else {
    lines.push(`file:            ${info.file} (${fmt(info.file_size)} bytes)`);
    lines.push(`gguf version:    ${info.version} (alignment ${info.alignment}, tensor data at byte ${fmt(info.data_offset)})`);
  }
  lines.push(`architecture:    ${info.architecture ?? "(none)"}`);
  if (typeof md["general.name"] === "string") lines.push(`name:            ${md["general.name"]}`);
  if (typeof md["general.file_type"] === "number") lines.push(`file type:       ${md["general.file_type"]}${FILE_TYPES[md["general.file_type"]] ? ` (${FILE_TYPES[md["general.file_type"]]})` : ""}`);

  const prefix = info.architecture !== null ? `${info.architecture}.` : undefined;
  const hyper = prefix ? Object.keys(md).filter((k) => k.startsWith(prefix)) : [];
  lines.push("", hyper.length > 0 ? "hyperparameters:" : "hyperparameters: (none)");
  pushKeyValues(lines, hyper.map((k) => [k.slice(prefix?.length ?? 0), md[k]]));

  const tok = info.tokenizer;
  if (tok) {
    const text = (id: number | null, piece: string | null): string => (id === null ? "(none)" : piece !== null ? `${id} ${JSON.stringify(piece)}` : String(id));
    lines.push("", "tokenizer:");
    pushKeyValues(lines, [
      ["model", tok.model ?? "(none)"],
      ["pre-tokenizer", tok.pre ?? "(none)"],
      ["vocab size", tok.vocab_size ?? "(none)"],
      ["bos", text(tok.bos_token_id, tok.bos_token)],
      ["eos", text(tok.eos_token_id, tok.eos_token)],
      ["merges", tok.merges],
      ["chat template", tok.chat_template ? "yes" : "no"],
    ]);
  } else {
    lines.push("", "tokenizer: (none)");
  }

  const shown = new Set(["general.architecture", "general.name", "general.file_type", ...hyper]);
  const other = Object.keys(md).filter((k) => !shown.has(k) && !k.startsWith("tokenizer."));
  if (other.length > 0) {
    lines.push("", "other metadata:");
    pushKeyValues(lines, other.map((k) => [k, md[k]]));
  }

  lines.push("", `tensors (${info.tensors.length}):`);
  const rows = info.tensors.map((t) => [t.name, `[${t.shape.join(", ")}]`, t.type, fmt(t.bytes)]);
  const header = ["name", "shape", "type", "bytes"];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const row = (r: string[]): string => `  ${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2].padEnd(widths[2])}  ${r[3].padStart(widths[3])}`;
  lines.push(row(header), ...rows.map(row));

  lines.push("", "totals:");
  pushKeyValues(lines, [
    ["parameters", fmt(info.parameters)],
    ["tensor bytes", fmt(info.total_bytes)],
    [
      "linear bits/weight",
      info.linear_bits_per_weight === null
        ? "(no linear layers)"
        : `${info.linear_bits_per_weight.toFixed(4)} (${fmt(info.linear_bytes)} bytes for ${fmt(info.linear_parameters)} weights)`,
    ],
  ]);
  return `${lines.join("\n")}\n`;
}

/** llama_ftype names for the numbers `general.file_type` usually holds in BitNet files (see src/convert/targets.ts). */
const FILE_TYPES: Record<number, string> = { 0: "all f32", 1: "mostly f16", 32: "mostly bf16", 36: "mostly tq1_0", 37: "mostly tq2_0", 40: "mostly i2_s in bitnet.cpp; q1_0 in upstream llama.cpp" };

function pushKeyValues(lines: string[], entries: [string, Json][]): void {
  const width = Math.max(0, ...entries.map(([k]) => k.length));
  for (const [k, v] of entries) lines.push(`  ${k.padEnd(width)}  ${shortText(v)}`);
}

function shortText(v: Json): string {
  if (v !== null && typeof v === "object" && !Array.isArray(v) && v.type === "array") return `[${String(v.element_type)} × ${String(v.length)}]`;
  const s = typeof v === "string" ? v : JSON.stringify(v);
  const oneLine = s.replace(/\n/g, "\\n");
  return oneLine.length > 100 ? `${oneLine.slice(0, 97)}...` : oneLine;
}

export interface SafetensorsInfo {
  format: "safetensors";
  file: string;
  file_size: number;
  metadata: Record<string, string>;
  /** PyTorch order (rows first), as the file lists them. */
  tensors: { name: string; dtype: string; shape: number[]; bytes: number }[];
  parameters: number;
  total_bytes: number;
}

/** A safetensors file's header: every entry was checked by the reader against the file. */
export function summarizeSafetensors(st: SafetensorsFile): SafetensorsInfo {
  const tensors = st.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape], bytes: t.byteSize }));
  return {
    format: "safetensors",
    file: st.source.name,
    file_size: st.source.size,
    metadata: { ...st.metadata },
    tensors,
    parameters: tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0),
    total_bytes: tensors.reduce((s, t) => s + t.bytes, 0),
  };
}

export function renderSafetensorsInfo(info: SafetensorsInfo): string {
  const lines = [`file:            ${info.file} (${fmt(info.file_size)} bytes, safetensors)`];
  const meta = Object.entries(info.metadata);
  lines.push("", meta.length > 0 ? "metadata:" : "metadata: (none)");
  for (const [k, v] of meta) lines.push(`  ${k} = ${JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v)}`);
  lines.push("", `tensors (${info.tensors.length}, shapes rows first):`);
  const w = Math.max(4, ...info.tensors.map((t) => t.name.length));
  for (const t of info.tensors) lines.push(`  ${t.name.padEnd(w)}  ${t.dtype.padEnd(4)}  [${t.shape.join(", ")}]  ${fmt(t.bytes)} bytes`);
  lines.push("", `parameters:      ${fmt(info.parameters)}`, `tensor bytes:    ${fmt(info.total_bytes)}`);
  return `${lines.join("\n")}\n`;
}
