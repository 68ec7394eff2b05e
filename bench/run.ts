/**
 * `npm run bench`: our engine beside llama.cpp and beside our own F16 path, on random-weight models
 * shaped like BitNet b1.58 2B4T (hidden 2560, ffn 6912, 30 layers, 20/5 heads, vocab 128256, tied F16
 * embedding), in the "bitnet" architecture that both engines run.
 *
 *   node --import tsx bench/run.ts [--quick] [--threads N] [--rounds N] [--json]
 *
 * (a) kernel GMAC/s against the memory bandwidth measured in the same process (kernel-rates.ts);
 * (b) prefill and decode tok/s, ours and llama.cpp's, on the same TQ2_0 file with the same threads,
 *     interleaved round by round, medians (throughput.ts), and where a decode step's time goes; ours
 *     also with the int8 head (`--head-type q8_0`: the F16 head quantized to Q8_0 at load);
 * (c) the ternary model against the same shape in F16: file size, peak RSS and decode tok/s, each
 *     measured in a fresh child process (decode-child.ts).
 * `--quick` uses 4 layers and a 1024-token vocabulary. The report is Markdown on stdout; with `--json`
 * the Markdown goes to stderr and stdout gets one JSON object. Models are cached in os.tmpdir().
 */
import { readFileSync, statSync } from "node:fs";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { summarizeGGUF } from "../src/formats/gguf/summary.ts";
import { readGGUF } from "../src/formats/gguf/reader.ts";
import { openFileSource } from "../src/node/file-source.ts";
import { runDecodeChild, type DecodeChildResult } from "./decode-child.ts";
import { profileEngine, type EngineProfile, type TimeSplit } from "./profile.ts";
import { measureKernelRates, type KernelRates } from "./kernel-rates.ts";
import { benchSpec, ensureModel, type BenchShape } from "./models.ts";
import { median, range } from "../src/node/bench/stats.ts";
import { benchPrompt, closeLlamaCpp, llamaCppVersion, openLlamaCpp, openOurs, type Engine } from "../src/node/bench/throughput.ts";

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    threads: { type: "string" },
    rounds: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const QUICK = flags.quick;
const THREADS = flags.threads !== undefined ? Number(flags.threads) : availableParallelism();
if (!Number.isInteger(THREADS) || THREADS < 1) throw new Error(`--threads must be a positive integer, got ${flags.threads}`);
const ROUNDS = flags.rounds !== undefined ? Number(flags.rounds) : 3;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds must be a positive integer, got ${flags.rounds}`);
const SHAPE: BenchShape = QUICK ? { layers: 4, vocab: 1024 } : { layers: 30, vocab: 128256 };
/** The shape both of our paths can hold in wasm32's 4 GiB, for the F16 comparison when the full one cannot. */
const SMALL_SHAPE: BenchShape = { layers: 4, vocab: 1024 };
const DECODE = QUICK ? 32 : 128;
const PREFILL = QUICK ? 128 : 512;
/** A decode measurement stops after this long even if it has not done all its steps (reported). */
const DECODE_MAX_SECONDS = QUICK ? 20 : 60;
/** Engines whose decode hit DECODE_MAX_SECONDS. */
const capped = new Set<string>();
/** Prompt before the timed decode steps. */
const DECODE_PROMPT = 16;
/** Our prefill batch (the engine's default, 256, or the whole prompt when shorter). */
const OUR_BATCH = Math.min(PREFILL, 256);
/** Decode steps per child in (c); the reference F16 path gets fewer (seconds per token). */
const CHILD_TOKENS = QUICK ? 16 : 32;
const CHILD_TOKENS_REF = 3;
const WASM32_BYTES = 2 ** 32;

const out: string[] = [];
const say = (line = ""): void => {
  out.push(line);
};
const log = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};
const mib = (n: number): string => `${(n / 2 ** 20).toFixed(0)} MiB`;
const f1 = (n: number | null): string => (n === null ? "—" : n.toFixed(1));
const times = (r: number | null): string => (r === null ? "—" : `${r.toFixed(2)}×`);
const ratio = (a: number | null, b: number | null): number | null => (a !== null && b !== null && b > 0 ? a / b : null);

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1].trim();
  } catch {
    // not Linux: fall back to what Node reports
  }
  return cpus()[0]?.model ?? "unknown";
}

function cpuFlags(): string {
  try {
    const f = /^flags\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1].split(" ") ?? [];
    return ["avx2", "avx512f", "avx512_vnni", "avx_vnni"].filter((x) => f.includes(x)).join(", ");
  } catch {
    return "";
  }
}

/** Bytes a decode step must read: every linear weight once, plus the output head (the tied embedding). */
async function bytesPerToken(path: string): Promise<{ linear: number; head: number; file: number }> {
  const source = await openFileSource(path);
  try {
    const info = summarizeGGUF(await readGGUF(source));
    const head = info.tensors.find((t) => t.name === "output.weight") ?? info.tensors.find((t) => t.name === "token_embd.weight");
    return { linear: info.linear_bytes, head: head?.bytes ?? 0, file: statSync(path).size };
  } finally {
    await source.close();
  }
}

interface Samples {
  prefill: number[];
  decode: number[];
}

/** Rounds of (ours, theirs) prefill then (ours, theirs) decode; tok/s per sample. */
async function interleave(engines: Engine[], rounds: number): Promise<Samples[]> {
  const prompt = benchPrompt(PREFILL, SHAPE.vocab);
  const decodePrompt = benchPrompt(DECODE_PROMPT, SHAPE.vocab);
  const samples = engines.map(() => ({ prefill: [] as number[], decode: [] as number[] }));
  // Warm-up: V8 tiers our wasm up, llama.cpp pages its mmap in; neither is counted.
  for (const e of engines) {
    await e.prefill(prompt.slice(0, Math.min(PREFILL, 64)));
    await e.decode(decodePrompt, 4, 10);
  }
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < engines.length; i++) {
      samples[i].prefill.push(PREFILL / (await engines[i].prefill(prompt)));
      log(`  round ${r + 1}/${rounds}: ${engines[i].label} prefill ${samples[i].prefill.at(-1)?.toFixed(1)} tok/s`);
    }
    for (let i = 0; i < engines.length; i++) {
      const d = await engines[i].decode(decodePrompt, DECODE, DECODE_MAX_SECONDS);
      samples[i].decode.push(d.tokens / d.seconds);
      if (d.tokens < DECODE) capped.add(engines[i].label);
      log(`  round ${r + 1}/${rounds}: ${engines[i].label} decode ${samples[i].decode.at(-1)?.toFixed(1)} tok/s`);
    }
  }
  return samples;
}

interface PairResult {
  shape: BenchShape;
  ternary: { file: number; runs: DecodeChildResult[] };
  f16: { file: number; runs: DecodeChildResult[]; ref: boolean };
}

/** (c): ternary and F16 children, interleaved. The F16 model goes to the reference kernels if it exceeds wasm32's 4 GiB. */
async function ternaryAgainstF16(shape: BenchShape): Promise<PairResult> {
  const tPath = await ensureModel(benchSpec(shape, "tq2_0"));
  const fPath = await ensureModel(benchSpec(shape, "f16"));
  const tFile = statSync(tPath).size;
  const fFile = statSync(fPath).size;
  const ref = fFile + 128 * 2 ** 20 > WASM32_BYTES;
  const res: PairResult = { shape, ternary: { file: tFile, runs: [] }, f16: { file: fFile, runs: [], ref } };
  for (let r = 0; r < ROUNDS; r++) {
    res.ternary.runs.push(await runDecodeChild(tPath, { threads: THREADS, tokens: CHILD_TOKENS }));
    log(`  round ${r + 1}/${ROUNDS}: ternary ${res.ternary.runs.at(-1)?.decodeTokS.toFixed(2)} tok/s, ${mib(res.ternary.runs.at(-1)?.maxRssBytes ?? 0)}`);
    res.f16.runs.push(await runDecodeChild(fPath, { threads: THREADS, tokens: ref ? CHILD_TOKENS_REF : CHILD_TOKENS, ref }));
    log(`  round ${r + 1}/${ROUNDS}: f16 ${res.f16.runs.at(-1)?.decodeTokS.toFixed(2)} tok/s, ${mib(res.f16.runs.at(-1)?.maxRssBytes ?? 0)}`);
  }
  return res;
}

function pairRows(p: PairResult): { ternaryRss: number; f16Rss: number; ternaryTokS: number; f16TokS: number } {
  return {
    ternaryRss: median(p.ternary.runs.map((r) => r.maxRssBytes)),
    f16Rss: median(p.f16.runs.map((r) => r.maxRssBytes)),
    ternaryTokS: median(p.ternary.runs.map((r) => r.decodeTokS)),
    f16TokS: median(p.f16.runs.map((r) => r.decodeTokS)),
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const load0 = loadavg();
  const llamaVersion = await llamaCppVersion();
  const machine = {
    cpu: cpuModel(),
    cpu_flags: cpuFlags(),
    cores: availableParallelism(),
    memory_bytes: totalmem(),
    node: process.version,
    llama_cpp: llamaVersion,
  };
  log(`bench: ${QUICK ? "quick" : "full"} run, ${THREADS} thread(s), ${ROUNDS} rounds; load average ${load0.map((x) => x.toFixed(2)).join(" ")}`);

  const path = await ensureModel(benchSpec(SHAPE, "tq2_0"));
  const bytes = await bytesPerToken(path);

  log("(a) kernels");
  const kernels: KernelRates = await measureKernelRates({ threads: THREADS, rounds: QUICK ? 3 : 5, quick: QUICK });

  log("(b) ours against llama.cpp");
  const ctx = Math.ceil((Math.max(PREFILL, DECODE_PROMPT + DECODE) + 8) / 256) * 256;
  const ours = await openOurs(path, { threads: THREADS, contextLength: ctx, batchSize: OUR_BATCH });
  const theirsOrWhy = await openLlamaCpp(path, { threads: THREADS, contextLength: ctx, batchSize: PREFILL });
  const oursQ8 = await openOurs(path, { threads: THREADS, contextLength: ctx, batchSize: OUR_BATCH, headType: "q8_0" });
  const engines = [ours, ...(typeof theirsOrWhy === "string" ? [] : [theirsOrWhy]), oursQ8];
  if (typeof theirsOrWhy === "string") log(`  llama.cpp skipped: ${theirsOrWhy}`);
  const samples = await interleave(engines, ROUNDS);
  const labels = engines.map((e) => e.label);
  for (const e of engines) await e.dispose();
  await closeLlamaCpp();

  log("(b) where our time goes");
  const profile: EngineProfile = await profileEngine(path, { threads: THREADS, decodeSteps: QUICK ? 16 : 32, prefillTokens: PREFILL, batch: OUR_BATCH });

  log("(c) ternary against F16, one child process per measurement");
  const pairs: PairResult[] = [await ternaryAgainstF16(SHAPE)];
  if (!QUICK && pairs[0].f16.ref) pairs.push(await ternaryAgainstF16(SMALL_SHAPE));
  const load1 = loadavg();

  const ourPrefill = median(samples[0].prefill);
  const ourDecode = median(samples[0].decode);
  const theirs = typeof theirsOrWhy === "string" ? null : samples[1];
  const theirPrefill = theirs ? median(theirs.prefill) : null;
  const theirDecode = theirs ? median(theirs.decode) : null;
  const q8Decode = median((samples.at(-1) as Samples).decode);
  const main0 = pairRows(pairs[0]);
  const fairPair = pairs.find((p) => !p.f16.ref);
  const fair = fairPair ? pairRows(fairPair) : null;
  const perToken = bytes.linear + bytes.head;
  const bw1 = kernels.bandwidth;
  const headRow = kernels.rows.filter((r) => r.label.startsWith("f16 head")).at(-1);
  const coldRow = kernels.rows.filter((r) => r.label.includes("cold") && r.label.startsWith("tq2_0")).at(-1);

  // ---- report ----
  say(`## ${QUICK ? "Quick run" : "Full run"}: ${SHAPE.layers} layers, vocab ${SHAPE.vocab}, ${THREADS} thread(s), ${ROUNDS} rounds`);
  say();
  say(`- Machine: ${machine.cpu} (${machine.cpu_flags}), ${machine.cores} cores, ${(machine.memory_bytes / 2 ** 30).toFixed(0)} GiB; Node ${machine.node}; llama.cpp ${llamaVersion ?? "not available"} via node-llama-cpp.`);
  say(`- Load average before ${load0.map((x) => x.toFixed(2)).join(" ")}, after ${load1.map((x) => x.toFixed(2)).join(" ")} (1, 5, 15 min); the run took ${((Date.now() - started) / 60000).toFixed(1)} min.`);
  if (load0[0] > 0.5) say(`- **The machine was not idle** (load average ${load0[0].toFixed(2)} before the run on ${machine.cores} cores): other processes compete for the cores, and thread counts that need every core suffer most (llama.cpp's spinning thread barriers especially).`);
  say(`- Model: ${path.split("/").at(-1)} (${mib(bytes.file)}; linear TQ2_0 ${mib(bytes.linear)}, F16 head ${mib(bytes.head)}).`);
  say();
  say("### (a) Kernels, one token (medians)");
  say();
  say(`Memory read bandwidth, one wasm thread summing ${mib(kernels.probeBytes)}: **${(bw1 / 1e9).toFixed(1)} GB/s**.`);
  say();
  say("| case | GMAC/s | weight GB/s | of the 1-thread bandwidth |");
  say("|---|---|---|---|");
  for (const r of kernels.rows) say(`| ${r.label} | ${r.gmacs.toFixed(1)} | ${r.gbps.toFixed(1)} | ${((r.gbps * 1e9 * 100) / bw1).toFixed(0)}% |`);
  say();
  say("### (b) Throughput on the same TQ2_0 file (tok/s, median of interleaved rounds; min–max in brackets)");
  say();
  say(`Prefill ${PREFILL} tokens from an empty context (ours in batches of ${OUR_BATCH}, llama.cpp in one batch of ${PREFILL}); decode ${DECODE} tokens after a ${DECODE_PROMPT}-token prompt, greedy.`);
  say();
  say("| engine | prefill | decode |");
  say("|---|---|---|");
  samples.forEach((s, i) => say(`| ${labels[i]} | ${f1(median(s.prefill))} (${range(s.prefill)}) | ${f1(median(s.decode))} (${range(s.decode)}) |`));
  if (typeof theirsOrWhy === "string") say(`| llama.cpp | — | — (${theirsOrWhy}) |`);
  if (capped.size > 0) say(`| (decode stopped after ${DECODE_MAX_SECONDS} s for: ${[...capped].join("; ")}) | | |`);
  say(`| ours / llama.cpp | ${times(ratio(ourPrefill, theirPrefill))} | ${times(ratio(ourDecode, theirDecode))} |`);
  say();
  say(`Decode limit from memory bandwidth: a step reads ${mib(perToken)} (linear ${mib(bytes.linear)} + head ${mib(bytes.head)}), so ${(bw1 / 1e9).toFixed(1)} GB/s allows **${(bw1 / perToken).toFixed(1)} tok/s** (1 thread's bandwidth; SPEC §8's C probe found 69 GB/s on 2 threads: ${(69e9 / perToken).toFixed(1)} tok/s). Ours reaches ${((ourDecode / (bw1 / perToken)) * 100).toFixed(0)}% of the 1-thread limit${theirDecode !== null ? `, llama.cpp ${((theirDecode / (bw1 / perToken)) * 100).toFixed(0)}%` : ""}.`);
  say();
  const q8Head = (bytes.head * 17) / 32; // Q8_0: 34 bytes per 32 values, against F16's 64
  say(`With the int8 head (\`--head-type q8_0\`) a step reads ${mib(bytes.linear + q8Head)} (head ${mib(q8Head)}): limit **${(bw1 / (bytes.linear + q8Head)).toFixed(1)} tok/s**; ours decodes at ${f1(q8Decode)} tok/s with it, ${times(ratio(q8Decode, ourDecode))} the F16 head's.`);
  say();
  say(`Where our time goes, ms per token (decode: ${profile.decodeSteps} steps; prefill: ${profile.prefillTokens} tokens in batches of ${profile.batch}):`);
  say();
  say("| phase | total | ternary matmuls | activation quantization | output head | other float matmuls | attention | rest (norms, RoPE, residual, glue) |");
  say("|---|---|---|---|---|---|---|---|");
  const splitRow = (name: string, p: TimeSplit): void => {
    const cell = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} (${((x / p.total) * 100).toFixed(0)}%)`;
    say(`| ${name} | ${p.total.toFixed(p.total < 10 ? 2 : 1)} | ${cell(p.ternary)} | ${cell(p.quantize)} | ${cell(p.head)} | ${cell(p.otherFloat)} | ${cell(p.attention)} | ${cell(p.rest)} |`);
  };
  splitRow("decode", profile.decode);
  splitRow("prefill", profile.prefill);
  say();
  const d = profile.decode;
  say(`In decode, ternary matmuls move ${(bytes.linear / (d.ternary / 1000) / 1e9).toFixed(1)} GB/s of weights, the head ${d.head > 0 ? (bytes.head / (d.head / 1000) / 1e9).toFixed(1) : "—"} GB/s${coldRow ? ` (kernels alone, cold: ${coldRow.gbps.toFixed(1)} and ${headRow?.gbps.toFixed(1)} GB/s)` : ""}.`);
  say();
  say("### (c) Ternary against F16 in our engine (one child process per measurement; medians)");
  say();
  say("| shape | weights | kernels | file | peak RSS | decode tok/s |");
  say("|---|---|---|---|---|---|");
  for (const pr of pairs) {
    const rows = pairRows(pr);
    const shape = `${pr.shape.layers} layers, vocab ${pr.shape.vocab}`;
    say(`| ${shape} | TQ2_0 | ${pr.ternary.runs[0].kernels} ×${THREADS} | ${mib(pr.ternary.file)} | ${mib(rows.ternaryRss)} | ${rows.ternaryTokS.toFixed(2)} |`);
    say(`| ${shape} | F16 | ${pr.f16.runs[0].kernels}${pr.f16.ref ? " (over wasm32's 4 GiB)" : ` ×${THREADS}`} | ${mib(pr.f16.file)} | ${mib(rows.f16Rss)} | ${rows.f16TokS.toFixed(2)} |`);
    say(`| ${shape} | F16 / TQ2_0 | | ${(pr.f16.file / pr.ternary.file).toFixed(2)}× | ${(rows.f16Rss / rows.ternaryRss).toFixed(2)}× | ternary ${(rows.ternaryTokS / rows.f16TokS).toFixed(2)}× faster |`);
  }
  say();

  const report = out.join("\n");
  const json = {
    quick: QUICK,
    threads: THREADS,
    rounds: ROUNDS,
    machine,
    load_average_before: load0,
    load_average_after: load1,
    model: { path, layers: SHAPE.layers, vocab: SHAPE.vocab, file_bytes: bytes.file, linear_bytes: bytes.linear, head_bytes: bytes.head },
    prefill_tokens: PREFILL,
    decode_tokens: DECODE,
    prefill_tok_s: ourPrefill,
    decode_tok_s: ourDecode,
    llamacpp_prefill_tok_s: theirPrefill,
    llamacpp_decode_tok_s: theirDecode,
    decode_capped: [...capped],
    llamacpp_skipped: typeof theirsOrWhy === "string" ? theirsOrWhy : null,
    prefill_ratio: ratio(ourPrefill, theirPrefill),
    decode_ratio: ratio(ourDecode, theirDecode),
    q8_head_decode_tok_s: q8Decode,
    samples: Object.fromEntries(labels.map((l, i) => [l, samples[i]])),
    bandwidth_bytes_s: bw1,
    decode_limit_tok_s: bw1 / perToken,
    kernels: kernels.rows,
    decode_profile_ms: profile.decode,
    prefill_profile_ms: profile.prefill,
    peak_rss_bytes: main0.ternaryRss,
    file_bytes: pairs[0].ternary.file,
    fp16_file_bytes: pairs[0].f16.file,
    fp16_peak_rss_bytes: main0.f16Rss,
    fp16_decode_tok_s: main0.f16TokS,
    fp16_kernels: pairs[0].f16.runs[0].kernels,
    child_decode_tok_s: main0.ternaryTokS,
    fp16_in_wasm:
      fair && fairPair
        ? { layers: fairPair.shape.layers, vocab: fairPair.shape.vocab, peak_rss_bytes: fair.ternaryRss, fp16_peak_rss_bytes: fair.f16Rss, decode_tok_s: fair.ternaryTokS, fp16_decode_tok_s: fair.f16TokS, file_bytes: fairPair.ternary.file, fp16_file_bytes: fairPair.f16.file }
        : null,
    ternary_against_f16: pairs,
  };
  if (flags.json) {
    process.stderr.write(`${report}\n`);
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    process.stdout.write(`${report}\n`);
  }
}

await main();
