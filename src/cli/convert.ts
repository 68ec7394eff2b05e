/**
 * `bitnet convert IN OUT --type T`: rewrites a GGUF model with its linear matrices in another ternary
 * (tq2_0, tq1_0, i2_s) or float (f16, f32) type, streaming tensor by tensor through an atomic file sink:
 * OUT appears complete or not at all, also when interrupted. The conversion rules live in src/convert.
 *
 * SIGINT/SIGTERM stop the conversion first (its next write fails quietly), then the temporary file is
 * deleted and the process exits with the conventional 130/143 and nothing on stderr. Aborting the sink
 * while a write was still under way used to print a spurious "write after aborted".
 */
import type { Command } from "commander";
import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { convertGGUF, conversionWarnings, type ConvertResult } from "../convert/convert-gguf.ts";
import { CONVERT_TARGETS, EMBEDDING_TYPES, isConvertTarget, isEmbeddingType } from "../convert/targets.ts";
import { readGGUF, type GGUFFile } from "../formats/gguf/reader.ts";
import { openHFDir } from "../node/hf-dir.ts";
import { isHubName } from "../node/hub/resolve.ts";
import { pullWithProgress } from "./pull.ts";
import { typeName } from "../formats/gguf/types.ts";
import type { ByteSink } from "../formats/sink.ts";
import { atomicFileSink, type AtomicFileSink } from "../node/atomic-file-sink.ts";
import { openFileSource } from "../node/file-source.ts";
import { byteProgressBar } from "./progress.ts";

interface ConvertFlags {
  type?: string;
  embeddingType: string;
  requantize?: boolean;
}

export function registerConvert(program: Command): void {
  program
    .command("convert")
    .description("convert a GGUF model, or a Hugging Face checkpoint directory, to a GGUF with its linear layers in a ternary or float type")
    .argument("<in>", "input GGUF file, Hugging Face checkpoint directory, or hf:OWNER/REPO")
    .argument("<out>", "output GGUF file (written atomically; replaced if it exists)")
    .option("--type <type>", `type of the linear layers: ${CONVERT_TARGETS.join(", ")}`)
    .option("--embedding-type <type>", `type of token_embd and output: ${EMBEDDING_TYPES.join(", ")}`, "keep")
    .option("--requantize", "re-quantize (absmean, lossy) ternary tensors whose scales the target cannot hold")
    .action(async (name: string, output: string, flags: ConvertFlags) => {
      if (flags.type === undefined) throw new Error(`missing --type: one of ${CONVERT_TARGETS.join(", ")}`);
      if (!isConvertTarget(flags.type)) throw new Error(`--type must be one of ${CONVERT_TARGETS.join(", ")}, got '${flags.type}'`);
      if (!isEmbeddingType(flags.embeddingType)) throw new Error(`--embedding-type must be one of ${EMBEDDING_TYPES.join(", ")}, got '${flags.embeddingType}'`);
      const input = isHubName(name) ? await pullWithProgress(name) : name;
      checkPaths(input, output);
      const dir = statSync(input).isDirectory();
      const source = dir ? undefined : await openFileSource(input);
      const bar = byteProgressBar("converting");
      let sink: AtomicFileSink | undefined;
      // The sink while it is being created: its temporary file exists before the promise resolves.
      let creating: Promise<AtomicFileSink> | undefined;
      let opened: GGUFFile | undefined;
      let signal: NodeJS.Signals | undefined;
      let exiting: Promise<never> | undefined;
      // Deletes the temporary file (OUT is never touched) and exits; once, whoever gets here first.
      const exitInterrupted = (): Promise<never> =>
        (exiting ??= (async () => {
          bar.stop();
          const written = sink ?? (await creating?.catch(() => undefined));
          await written?.abort().catch(() => undefined);
          await (opened?.source ?? source)?.close().catch(() => undefined);
          process.exit(signal === "SIGINT" ? 130 : 143);
        })());
      const onSignal = (received: NodeJS.Signals): void => {
        signal ??= received;
        bar.stop();
        if (!sink) void exitInterrupted(); // nothing written yet
        // Otherwise the conversion stops at its next write; a conversion stuck elsewhere is cut short.
        else setTimeout(() => void exitInterrupted(), 10_000).unref();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      let result: ConvertResult;
      try {
        const file = source ? await readGGUF(source) : await openHFDir(input);
        opened = file;
        if (signal) return await exitInterrupted();
        creating = atomicFileSink(output);
        sink = await creating;
        result = await convertGGUF(file, stopOnSignal(sink, () => signal !== undefined), {
          type: flags.type,
          embeddingType: flags.embeddingType,
          requantize: flags.requantize ?? false,
          onProgress: (p) => bar.update(p.bytesWritten, p.totalBytes, p.name),
        });
        if (signal) return await exitInterrupted();
      } catch (err) {
        if (signal) return await exitInterrupted();
        throw err;
      } finally {
        bar.stop();
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        await (opened?.source ?? source)?.close();
      }
      for (const w of conversionWarnings(result)) process.stderr.write(`bitnet: warning: ${w}\n`);
      process.stdout.write(`${output}: ${result.fileSize} bytes; ${summary(result)}\n`);
    });
}

/** `sink`, except that once `stopped()` it refuses further writes, so the writer stops and aborts it itself. */
function stopOnSignal(sink: ByteSink, stopped: () => boolean): ByteSink {
  return {
    write: (chunk) => (stopped() ? Promise.reject(new Error("conversion interrupted")) : sink.write(chunk)),
    commit: () => (stopped() ? Promise.reject(new Error("conversion interrupted")) : sink.commit()),
    abort: () => sink.abort(),
  };
}

function checkPaths(input: string, output: string): void {
  if (!existsSync(input)) throw new Error(`${input}: no such file`);
  if (resolve(input) === resolve(output)) throw new Error(`${output}: the output is the input file; write to another path`);
  if (existsSync(output)) {
    const a = statSync(input);
    const b = statSync(output);
    if (a.dev === b.dev && a.ino === b.ino) throw new Error(`${output}: the output is the input file (a link to it); write to another path`);
    if (b.isDirectory()) throw new Error(`${output}: is a directory`);
  }
  const dir = dirname(resolve(output));
  if (!existsSync(dir)) throw new Error(`${output}: directory ${dir} does not exist`);
}

/** e.g. "14 linear tensors tq2_0 -> tq1_0 (14 repacked), 11 tensors copied". */
function summary(result: ConvertResult): string {
  const linear = result.tensors.filter((t) => t.role === "linear");
  const parts: string[] = [];
  if (linear.length > 0) {
    const from = [...new Set(linear.map((t) => typeName(t.sourceType)))].join("/");
    const counts = new Map<string, number>();
    for (const t of linear) counts.set(t.method, (counts.get(t.method) ?? 0) + 1);
    const how = [...counts].map(([m, n]) => `${n} ${METHOD_WORDS[m] ?? m}`).join(", ");
    parts.push(`${linear.length} linear tensors ${from} -> ${typeName(linear[0].targetType)} (${how})`);
  }
  const cast = result.tensors.filter((t) => t.role !== "linear" && t.method === "cast");
  if (cast.length > 0) parts.push(`${cast.map((t) => `${t.name} ${typeName(t.sourceType)} -> ${typeName(t.targetType)}`).join(", ")}`);
  const copied = result.tensors.filter((t) => t.role !== "linear" && t.method === "copy").length;
  parts.push(`${copied} other tensors copied`);
  return parts.join("; ");
}

const METHOD_WORDS: Record<string, string> = {
  copy: "copied",
  cast: "cast",
  repack: "repacked",
  absmean: "quantized with absmean",
  requantize: "re-quantized with absmean",
};
