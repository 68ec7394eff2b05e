/**
 * `npm run bench`: our engine on its native and WebAssembly kernels beside llama.cpp, and ternary beside
 * F16, on random-weight models shaped like BitNet b1.58 2B4T (hidden 2560, ffn 6912, 30 layers, 20/5
 * heads, vocab 128256, tied F16 embedding), in the "bitnet" architecture that both engines run.
 *
 *   node --import tsx bench/run.ts [--quick] [--threads N] [--rounds N] [--json] [--llama-bench BIN]
 *
 * (a) memory read bandwidth with 1 and N threads (bandwidth.ts), and kernel GMAC/s per backend
 *     (kernel-rates.ts);
 * (b) prefill (128 and 512 tokens) and decode tok/s on the same TQ2_0 file, with the same threads,
 *     interleaved round by round, medians: ours on native and wasm, each with the file's F16 head and
 *     with the int8 head (`--head-type q8_0`), and llama.cpp (node-llama-cpp); each decode as a fraction
 *     of the bandwidth limit; where a decode step and a prefill spend their time (profile.ts);
 * (c) the ternary model against the same shape in F16, both on the native backend: file, peak RSS,
 *     prefill and decode, each measured in a fresh child process (src/node/model-probe.ts), set beside
 *     the paper's Table 1.
 * `--llama-bench BIN` adds (d): ours and that llama-bench binary (a build of bitnet.cpp, say) interleaved
 * on the same I2_S file; the targets are then read from it instead of estimated through llama.cpp.
 * `--quick` uses 4 layers and a 1024-token vocabulary. The report is Markdown on stdout; with `--json`
 * the Markdown goes to stderr and stdout gets one JSON object. Models are cached in os.tmpdir().
 */
import { readFileSync, statSync } from "node:fs";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { summarizeGGUF } from "../src/formats/gguf/summary.ts";
import { readGGUF } from "../src/formats/gguf/reader.ts";
import type { HeadType } from "../src/model/weights.ts";
import { contextFor, interleaveRounds } from "../src/node/bench/rounds.ts";
import { median, range } from "../src/node/bench/stats.ts";
import { closeLlamaCpp, llamaCppVersion, openLlamaCpp, openOurs, type Engine } from "../src/node/bench/throughput.ts";
import { openFileSource } from "../src/node/file-source.ts";
import type { KernelBackend } from "../src/node/kernels.ts";
import { probeModel, type ProbeResult } from "../src/node/model-probe.ts";
import { nativeKernelsStatus } from "../src/node/native/kernels.ts";
import { measureBandwidth, type Bandwidth } from "./bandwidth.ts";
import { measureKernelRates } from "./kernel-rates.ts";
import { openLlamaBench } from "./llama-bench.ts";
import { benchSpec, ensureModel, type BenchShape } from "./models.ts";
import { profileEngine, type TimeSplit } from "./profile.ts";

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    threads: { type: "string" },
    rounds: { type: "string" },
    json: { type: "boolean", default: false },
    "llama-bench": { type: "string" },
  },
});
const QUICK = flags.quick;
const THREADS = flags.threads !== undefined ? Number(flags.threads) : availableParallelism();
if (!Number.isInteger(THREADS) || THREADS < 1) throw new Error(`--threads must be a positive integer, got ${flags.threads}`);
const ROUNDS = flags.rounds !== undefined ? Number(flags.rounds) : 3;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds must be a positive integer, got ${flags.rounds}`);
const SHAPE: BenchShape = QUICK ? { layers: 4, vocab: 1024 } : { layers: 30, vocab: 128256 };
const PROMPTS = QUICK ? [64] : [128, 512];
const DECODE = QUICK ? 32 : 128;
/** A decode measurement stops after this long even if it has not done all its steps (reported). */
const DECODE_MAX_SECONDS = QUICK ? 20 : 60;
/** Our prefill batch (the engine's default). */
const OUR_BATCH = 256;
/** (c): tokens per child measurement. */
const CHILD_PROMPT = QUICK ? 32 : 128;
const CHILD_DECODE = QUICK ? 16 : 32;

/**
 * bitnet.cpp against llama.cpp on the same 2B4T-shaped model, 2 threads, measured earlier on this kind of
 * machine (bitnet.cpp's newest commit, its llama-bench, I2_S; llama.cpp TQ2_0): decode 25.9 against
 * 16.6 tok/s, prefill 96.0 against 46 (pp128). bitnet.cpp is not built by this script, so its figures
 * reach the report through llama.cpp, which runs here side by side: ours / bitnet.cpp ≈ (ours / llama.cpp)
 * / these factors. An estimate, labelled as one.
 */
const BITNET_CPP_OVER_LLAMA_CPP = { decode: 1.56, prefill: 2.08 };
/** The targets, as multiples of bitnet.cpp. */
const TARGETS = { nativeDecode: 1.5, nativePrefill: 1.2, wasmDecode: 1.0, ternaryDecodeOverF16: 5, f16RssOverTernary: 3.5 };
/** The paper's Table 1, 3B row (GPU, FP16 LLaMA against BitNet b1.58): memory 7.89 / 2.22 GB, latency 5.07 / 1.87 ms. */
const PAPER_TABLE1_3B = { memory: 7.89 / 2.22, latency: 5.07 / 1.87 };

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
const pct = (r: number): string => `${(r * 100).toFixed(0)}%`;

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

interface OurEngine {
  backend: KernelBackend;
  headType: HeadType;
}

interface PairRun {
  weights: "TQ2_0" | "F16";
  headType: HeadType;
  file: number;
  runs: ProbeResult[];
}

/**
 * (c): ternary and F16 children on the native backend (or wasm without it), interleaved; each with the
 * file's F16 head and with the int8 head, since the head is a quarter of the ternary model's bytes.
 */
async function ternaryAgainstF16(backend: KernelBackend): Promise<PairRun[]> {
  const paths = { TQ2_0: await ensureModel(benchSpec(SHAPE, "tq2_0")), F16: await ensureModel(benchSpec(SHAPE, "f16")) };
  const pairs: PairRun[] = (["keep", "q8_0"] as const).flatMap((headType) =>
    (["TQ2_0", "F16"] as const).map((weights) => ({ weights, headType, file: statSync(paths[weights]).size, runs: [] })),
  );
  for (let r = 0; r < ROUNDS; r++) {
    for (const p of pairs) {
      const res = await probeModel(paths[p.weights], { threads: THREADS, promptTokens: CHILD_PROMPT, decodeTokens: CHILD_DECODE, rounds: 1, backend, headType: p.headType });
      p.runs.push(res);
      log(`  round ${r + 1}/${ROUNDS}: ${p.weights} (${p.headType} head) prefill ${res.prefillTokS.toFixed(1)} tok/s, decode ${(1000 / res.decodeMsPerToken).toFixed(2)} tok/s, peak RSS ${mib(res.maxRssBytes)}`);
    }
  }
  return pairs;
}

async function main(): Promise<void> {
  const started = Date.now();
  const load0 = loadavg();
  const llamaVersion = await llamaCppVersion();
  const native = nativeKernelsStatus();
  const backends: KernelBackend[] = native.available ? ["native", "wasm"] : ["wasm"];
  const machine = {
    cpu: cpuModel(),
    cpu_flags: cpuFlags(),
    cores: availableParallelism(),
    memory_bytes: totalmem(),
    node: process.version,
    llama_cpp: llamaVersion,
    native: native.available ? native.isa : `not available (${native.reason})`,
  };
  log(`bench: ${QUICK ? "quick" : "full"} run, ${THREADS} thread(s), ${ROUNDS} rounds; load average ${load0.map((x) => x.toFixed(2)).join(" ")}`);

  const path = await ensureModel(benchSpec(SHAPE, "tq2_0"));
  const bytes = await bytesPerToken(path);

  log("(a) bandwidth and kernels");
  const probeBytes = (QUICK ? 128 : 512) * 2 ** 20;
  const bandwidth: Bandwidth[] = [];
  for (const t of THREADS > 1 ? [1, THREADS] : [1]) bandwidth.push(await measureBandwidth(t, probeBytes, QUICK ? 3 : 5));
  const bwN = (bandwidth.at(-1) as Bandwidth).bytesPerSecond;
  const kernels = await measureKernelRates({ threads: THREADS, rounds: QUICK ? 3 : 5, quick: QUICK, backends });

  log("(b) ours against llama.cpp");
  const contextLength = contextFor(PROMPTS, DECODE);
  const ourSpecs: OurEngine[] = backends.flatMap((backend) => (["keep", "q8_0"] as const).map((headType) => ({ backend, headType })));
  const engines: Engine[] = [];
  for (const s of ourSpecs) engines.push(await openOurs(path, { threads: THREADS, contextLength, batchSize: OUR_BATCH, backend: s.backend, headType: s.headType }));
  const theirsOrWhy = await openLlamaCpp(path, { threads: THREADS, contextLength, batchSize: Math.max(...PROMPTS) });
  if (typeof theirsOrWhy === "string") log(`  llama.cpp skipped: ${theirsOrWhy}`);
  else engines.push(theirsOrWhy);
  const samples = await interleaveRounds(engines, { promptSizes: PROMPTS, decodeTokens: DECODE, rounds: ROUNDS, vocabSize: SHAPE.vocab, maxDecodeSeconds: DECODE_MAX_SECONDS, log: (l) => log(`  ${l}`) });
  for (const e of engines) await e.dispose();
  await closeLlamaCpp();
  const llama = typeof theirsOrWhy === "string" ? null : (samples.at(-1) ?? null);

  log("(b) where our time goes");
  const profile = await profileEngine(path, { threads: THREADS, decodeSteps: QUICK ? 16 : 32, prefillTokens: Math.max(...PROMPTS), batch: OUR_BATCH });

  log(`(c) ternary against F16 on ${backends[0]}, one child process per measurement`);
  const pairs = await ternaryAgainstF16(backends[0]);

  let sameI2s: { path: string; rows: { label: string; prefill: number[]; prefillRange: string[]; decode: number; decodeRange: string }[] } | null = null;
  if (flags["llama-bench"]) {
    log(`(d) ours and ${flags["llama-bench"]} on the same I2_S file`);
    const i2s = await ensureModel(benchSpec(SHAPE, "i2_s"));
    const eng: Engine[] = [];
    for (const s of ourSpecs) eng.push(await openOurs(i2s, { threads: THREADS, contextLength, batchSize: OUR_BATCH, backend: s.backend, headType: s.headType }));
    eng.push(await openLlamaBench(flags["llama-bench"], i2s, THREADS));
    const got = await interleaveRounds(eng, { promptSizes: PROMPTS, decodeTokens: DECODE, rounds: ROUNDS, vocabSize: SHAPE.vocab, maxDecodeSeconds: DECODE_MAX_SECONDS, log: (l) => log(`  ${l}`) });
    for (const e of eng) await e.dispose();
    sameI2s = {
      path: i2s,
      rows: got.map((g) => ({ label: g.label, prefill: g.prefill.map(median), prefillRange: g.prefill.map(range), decode: median(g.decode), decodeRange: range(g.decode) })),
    };
  }
  const load1 = loadavg();

  // ---- figures ----
  const q8Head = (bytes.head * 17) / 32; // Q8_0: 34 bytes per 32 values, against F16's 64
  const rows = samples.map((s, i) => {
    const spec = ourSpecs[i] as OurEngine | undefined;
    const stepBytes = bytes.linear + (spec?.headType === "q8_0" ? q8Head : bytes.head);
    const decode = median(s.decode);
    return {
      label: s.label,
      backend: spec?.backend ?? null,
      head_type: spec?.headType ?? null,
      prefill_tok_s: PROMPTS.map((_, p) => median(s.prefill[p])),
      prefill_range: PROMPTS.map((_, p) => range(s.prefill[p])),
      decode_tok_s: decode,
      decode_range: range(s.decode),
      decode_capped: s.decodeCapped,
      decode_bytes_per_token: stepBytes,
      decode_of_bandwidth_limit: (decode * stepBytes) / bwN,
      prefill_over_llamacpp: llama ? PROMPTS.map((_, p) => median(s.prefill[p]) / median(llama.prefill[p])) : null,
      decode_over_llamacpp: llama ? decode / median(llama.decode) : null,
    };
  });
  const ours = rows.slice(0, ourSpecs.length);
  /** Our best engine of a backend over bitnet.cpp: measured on the same I2_S file with --llama-bench, else estimated through llama.cpp. */
  const best = (backend: KernelBackend): { decode: number; prefill: number; how: string } | null => {
    const idx = ourSpecs.map((s, i) => (s.backend === backend ? i : -1)).filter((i) => i >= 0);
    if (idx.length === 0) return null;
    if (sameI2s) {
      const ref = sameI2s.rows[ourSpecs.length];
      const decode = Math.max(...idx.map((i) => sameI2s.rows[i].decode / ref.decode));
      const prefill = Math.max(...idx.map((i) => Math.min(...PROMPTS.map((_, p) => sameI2s.rows[i].prefill[p] / ref.prefill[p]))));
      return { decode, prefill, how: "measured, same I2_S file" };
    }
    if (!llama) return null;
    const decode = Math.max(...idx.map((i) => ours[i].decode_over_llamacpp ?? 0));
    const prefill = Math.max(...idx.map((i) => Math.min(...(ours[i].prefill_over_llamacpp ?? [0]))));
    return { decode: decode / BITNET_CPP_OVER_LLAMA_CPP.decode, prefill: prefill / BITNET_CPP_OVER_LLAMA_CPP.prefill, how: "est. through llama.cpp" };
  };
  const pairMedian = (p: PairRun) => ({
    rss: median(p.runs.map((r) => r.maxRssBytes)),
    /** Peak RSS less what the process held before loading (Node, the library): the model's own memory. */
    model: median(p.runs.map((r) => r.maxRssBytes - r.baselineRssBytes)),
    decode: 1000 / median(p.runs.map((r) => r.decodeMsPerToken)),
    prefill: median(p.runs.map((r) => r.prefillTokS)),
    load: median(p.runs.map((r) => r.loadSeconds)),
  });
  const med = pairs.map(pairMedian);
  const [tern, f16, ternQ8, f16Q8] = med;

  // ---- report ----
  say(`## ${QUICK ? "Quick run" : "Full run"}: ${SHAPE.layers} layers, vocab ${SHAPE.vocab}, ${THREADS} thread(s), ${ROUNDS} rounds`);
  say();
  say(`- Machine: ${machine.cpu} (${machine.cpu_flags}), ${machine.cores} cores, ${(machine.memory_bytes / 2 ** 30).toFixed(0)} GiB; Node ${machine.node}; native kernels ${machine.native}; llama.cpp ${llamaVersion ?? "not available"} via node-llama-cpp.`);
  say(`- Load average before ${load0.map((x) => x.toFixed(2)).join(" ")}, after ${load1.map((x) => x.toFixed(2)).join(" ")} (1, 5, 15 min); the run took ${((Date.now() - started) / 60000).toFixed(1)} min.`);
  if (load0[0] > 0.5) say(`- **The machine was not idle** (load average ${load0[0].toFixed(2)} before the run on ${machine.cores} cores): thread counts that need every core suffer most.`);
  say(`- Model: ${path.split("/").at(-1)} (${mib(bytes.file)}; linear TQ2_0 ${mib(bytes.linear)}, F16 head ${mib(bytes.head)}).`);
  say();
  say("### (a) Memory bandwidth and kernels");
  say();
  say(`Memory read bandwidth (each thread sums ${mib(probeBytes)} of its own with 128-bit loads): ${bandwidth.map((b) => `**${(b.bytesPerSecond / 1e9).toFixed(1)} GB/s** on ${b.threads} thread${b.threads > 1 ? "s" : ""}`).join(", ")}.`);
  say();
  say(`| case | GMAC/s | weight GB/s | of the ${THREADS}-thread bandwidth |`);
  say("|---|---|---|---|");
  for (const r of kernels.rows) say(`| ${r.label} | ${r.gmacs.toFixed(1)} | ${r.gbps.toFixed(1)} | ${pct((r.gbps * 1e9) / bwN)} |`);
  say();
  say("### (b) Throughput on the same TQ2_0 file (tok/s, median of interleaved rounds; min–max in brackets)");
  say();
  say(`Prefill ${PROMPTS.join(" and ")} tokens from an empty context (ours in batches of ${OUR_BATCH}, llama.cpp in one batch); decode ${DECODE} tokens after a 16-token prompt, greedy. "of limit": decode × bytes read per token / the ${THREADS}-thread bandwidth.`);
  say();
  say(`| engine | ${PROMPTS.map((n) => `prefill ${n}`).join(" | ")} | decode | of limit |`);
  say(`|---|${PROMPTS.map(() => "---|").join("")}---|---|`);
  for (const r of rows) say(`| ${r.label} | ${PROMPTS.map((_, p) => `${f1(r.prefill_tok_s[p])} (${r.prefill_range[p]})`).join(" | ")} | ${f1(r.decode_tok_s)} (${r.decode_range})${r.decode_capped ? ` (stopped after ${DECODE_MAX_SECONDS} s)` : ""} | ${pct(r.decode_of_bandwidth_limit)} |`);
  if (typeof theirsOrWhy === "string") say(`| llama.cpp | ${PROMPTS.map(() => "—").join(" | ")} | — (${theirsOrWhy}) | |`);
  say();
  if (llama) {
    say("Ours over llama.cpp, and over bitnet.cpp estimated through llama.cpp (bitnet.cpp measured earlier on this kind of machine at " + `${BITNET_CPP_OVER_LLAMA_CPP.decode}× llama.cpp's decode and ${BITNET_CPP_OVER_LLAMA_CPP.prefill}× its prefill):`);
    say();
    say(`| engine | ${PROMPTS.map((n) => `prefill ${n} / llama.cpp`).join(" | ")} | decode / llama.cpp | ${PROMPTS.map((n) => `prefill ${n} / bitnet.cpp (est.)`).join(" | ")} | decode / bitnet.cpp (est.) |`);
    say(`|---|${PROMPTS.map(() => "---|---|").join("")}---|---|`);
    for (const r of ours) {
      const pre = r.prefill_over_llamacpp ?? [];
      say(`| ${r.label} | ${pre.map(times).join(" | ")} | ${times(r.decode_over_llamacpp)} | ${pre.map((x) => times(x / BITNET_CPP_OVER_LLAMA_CPP.prefill)).join(" | ")} | ${times((r.decode_over_llamacpp ?? 0) / BITNET_CPP_OVER_LLAMA_CPP.decode)} |`);
    }
    say();
  }
  say(`Where our time goes (${profile.backend}), ms per token (decode: ${profile.decodeSteps} steps; prefill: ${profile.prefillTokens} tokens in batches of ${profile.batch}):`);
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
  say(`In decode, the ternary matmuls move ${(bytes.linear / (d.ternary / 1000) / 1e9).toFixed(1)} GB/s of weights and the head ${d.head > 0 ? (bytes.head / (d.head / 1000) / 1e9).toFixed(1) : "—"} GB/s, against ${(bwN / 1e9).toFixed(1)} GB/s measured.`);
  say();
  say(`### (c) Ternary against F16, both on ${pairs[0].runs[0].kernels} ×${THREADS} (one child process per measurement; medians)`);
  say();
  say(`| weights | head | file | peak RSS | of which the model (peak − before loading) | load s | prefill ${CHILD_PROMPT} tok/s | decode tok/s | decode ms/token |`);
  say("|---|---|---|---|---|---|---|---|---|");
  pairs.forEach((p, i) => {
    const m = med[i];
    say(`| ${p.weights} | ${p.headType === "keep" ? "F16 (as stored)" : "Q8_0 (headType)"} | ${mib(p.file)} | ${mib(m.rss)} | ${mib(m.model)} | ${m.load.toFixed(1)} | ${m.prefill.toFixed(1)} | ${m.decode.toFixed(2)} | ${(1000 / m.decode).toFixed(1)} |`);
  });
  for (const [head, t, f] of [["F16 heads", tern, f16], ["Q8_0 heads", ternQ8, f16Q8]] as const) {
    say(`| F16 / TQ2_0, ${head} | | ${times(pairs[1].file / pairs[0].file)} | ${times(f.rss / t.rss)} | ${times(f.model / t.model)} | | ternary ${times(t.prefill / f.prefill)} faster | ternary ${times(t.decode / f.decode)} faster | |`);
  }
  say();
  say(`The paper's Table 1 (GPU, FP16 LLaMA 3B against BitNet b1.58 3B): ${times(PAPER_TABLE1_3B.memory)} less memory, ${times(PAPER_TABLE1_3B.latency)} lower latency. Here (${SHAPE.layers} layers, vocab ${SHAPE.vocab}, CPU), with the F16 heads: ${times(f16.rss / tern.rss)} less peak memory (${times(f16.model / tern.model)} counting the model's own), ${times(tern.decode / f16.decode)} lower decode latency; with Q8_0 heads: ${times(f16Q8.rss / ternQ8.rss)} and ${times(ternQ8.decode / f16Q8.decode)}.`);
  say();
  if (sameI2s) {
    say(`### (d) Ours and llama-bench (${flags["llama-bench"]}) on the same I2_S file (tok/s, median of interleaved rounds; min–max)`);
    say();
    say(`${sameI2s.path.split("/").at(-1)}; llama-bench decodes from an empty context, ours after a 16-token prompt.`);
    say();
    say(`| engine | ${PROMPTS.map((n) => `prefill ${n}`).join(" | ")} | decode |`);
    say(`|---|${PROMPTS.map(() => "---|").join("")}---|`);
    for (const r of sameI2s.rows) say(`| ${r.label} | ${PROMPTS.map((_, p) => `${f1(r.prefill[p])} (${r.prefillRange[p]})`).join(" | ")} | ${f1(r.decode)} (${r.decodeRange}) |`);
    const ref = sameI2s.rows[ourSpecs.length];
    for (const r of sameI2s.rows.slice(0, ourSpecs.length)) say(`| ${r.label} / llama-bench | ${PROMPTS.map((_, p) => times(r.prefill[p] / ref.prefill[p])).join(" | ")} | ${times(r.decode / ref.decode)} |`);
    say();
  }
  const nat = best(backends[0]);
  const wasm = best("wasm");
  say("### Against the targets");
  say();
  say("| target | result |");
  say("|---|---|");
  if (native.available) {
    say(`| native decode ≥ ${TARGETS.nativeDecode}× bitnet.cpp | ${nat ? `${times(nat.decode)} (${nat.how})` : "—"} |`);
    say(`| native prefill ≥ ${TARGETS.nativePrefill}× bitnet.cpp (the smaller over the prompt sizes) | ${nat ? `${times(nat.prefill)} (${nat.how})` : "—"} |`);
  }
  say(`| wasm decode ≥ ${TARGETS.wasmDecode}× bitnet.cpp | ${wasm ? `${times(wasm.decode)} (${wasm.how})` : "—"} |`);
  say(`| ternary decode ≥ ${TARGETS.ternaryDecodeOverF16}× F16, same backend | ${times(tern.decode / f16.decode)} with F16 heads (bytes per token: ${times(pairs[1].file / pairs[0].file)}), ${times(ternQ8.decode / f16Q8.decode)} with Q8_0 heads |`);
  say(`| F16 peak RSS ≥ ${TARGETS.f16RssOverTernary}× ternary | ${times(f16.rss / tern.rss)} with F16 heads, ${times(f16Q8.rss / ternQ8.rss)} with Q8_0 heads |`);
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
    prompt_sizes: PROMPTS,
    decode_tokens: DECODE,
    bandwidth,
    kernels: kernels.rows,
    engines: rows,
    samples: Object.fromEntries(samples.map((s) => [s.label, { prefill: s.prefill, decode: s.decode }])),
    profile,
    ternary_against_f16: { backend: pairs[0].runs[0].kernels, rows: pairs.map((p, i) => ({ weights: p.weights, head_type: p.headType, file_bytes: p.file, ...med[i] })), runs: pairs },
    same_i2_s_file: sameI2s,
    over_bitnet_cpp: { factors_through_llamacpp: BITNET_CPP_OVER_LLAMA_CPP, native: nat, wasm },
  };
  if (flags.json) {
    process.stderr.write(`${report}\n`);
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    process.stdout.write(`${report}\n`);
  }
}

await main();
