/**
 * One model in a process of its own: load it, time prefill and decode (src/eval/speed.ts), optionally
 * measure the decode's energy with RAPL (rapl.ts), and report peak resident memory. A fresh process is
 * the only way to read one model's peak memory (the peak never goes down), so `bitnet report` and
 * `bitnet energy` spawn this file once per model through `probeModel`, and it prints one JSON line.
 * Not here: tables (src/eval/report.ts), statistics beyond a median of rounds.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { HeadType } from "../model/weights.ts";
import { median } from "./bench/stats.ts";
import type { KernelBackend } from "./kernels.ts";

export interface ProbeOptions {
  threads: number;
  /** Prompt tokens to prefill per round. */
  promptTokens: number;
  /** Tokens to decode per round. */
  decodeTokens: number;
  /** Rounds of prefill then decode; medians are reported. */
  rounds: number;
  /** Measure the decode rounds' energy with RAPL. */
  energy?: boolean;
  /** Kernel backend (default: the one loadModel picks). */
  backend?: KernelBackend;
  /** Output head storage (default: as the file has it). */
  headType?: HeadType;
}

export interface ProbeResult {
  kernels: string;
  threads: number;
  contextLength: number;
  loadSeconds: number;
  prefillTokS: number;
  decodeMsPerToken: number;
  prefillSamples: number[];
  decodeSamples: number[];
  maxRssBytes: number;
  /** Resident memory just before the model was loaded (Node, the library and its wasm module). */
  baselineRssBytes: number;
  kvCacheBytes: number;
  /** Joules per decoded token, measured (RAPL), or why there is no figure. */
  decodeJoulesPerToken: number | null;
  energyNote: string | null;
}

const DECODE_PROMPT = 8;

/**
 * This process's own peak resident memory. On Linux, VmHWM of /proc/self/status: getrusage's maxRSS
 * survives exec, so a child spawned by a parent holding gigabytes reports the parent's peak when it is
 * higher (a benchmark once saw 3.7 GiB for a 1.3 GiB model that way). Elsewhere, maxRSS.
 */
export function peakRssBytes(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Runs this file in a child process on `path` and returns what it measured. */
export function probeModel(path: string, o: ProbeOptions): Promise<ProbeResult> {
  const self = fileURLToPath(import.meta.url);
  // From the sources (tests, benches) the child needs tsx; the built package runs as plain JavaScript.
  const args = [...(self.endsWith(".ts") ? ["--import", import.meta.resolve("tsx")] : []), self, path, JSON.stringify(o)];
  const env = o.backend ? { ...process.env, BITNET_KERNELS: o.backend } : process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`measuring ${path} in a child process failed (exit ${code}): ${err.trim().split("\n").filter((l) => l.trim() !== "").slice(-1)[0] ?? ""}`));
      try {
        resolve(JSON.parse(out) as ProbeResult);
      } catch {
        reject(new Error(`measuring ${path}: the child process printed no JSON (${out.slice(0, 200)})`));
      }
    });
  });
}

async function child(path: string, o: ProbeOptions): Promise<ProbeResult> {
  const { loadModel } = await import("../index.ts");
  const { benchPrompt, timeDecode, timePrefill } = await import("../eval/speed.ts");
  const { openRapl } = await import("./rapl.ts");
  const contextLength = Math.max(o.promptTokens, DECODE_PROMPT + o.decodeTokens) + 1;
  const baselineRssBytes = process.memoryUsage().rss; // now, not the peak: the import's transient peak says nothing about the model
  const t0 = performance.now();
  const model = await loadModel(path, { threads: o.threads, contextLength, batchSize: Math.min(o.promptTokens, 256), headType: o.headType });
  const loadSeconds = (performance.now() - t0) / 1000;
  try {
    const V = model.config.vocabSize;
    const prompt = benchPrompt(o.promptTokens, V);
    const decodePrompt = benchPrompt(DECODE_PROMPT, V);
    timePrefill(model, prompt.slice(0, Math.min(32, prompt.length))); // warm-up: V8 tiers the wasm up
    timeDecode(model, decodePrompt, 2);
    const meter = o.energy ? await openRapl() : null;
    const prefill: number[] = [];
    const decode: number[] = [];
    let joules = 0;
    let decoded = 0;
    for (let r = 0; r < o.rounds; r++) {
      prefill.push(o.promptTokens / timePrefill(model, prompt));
      const start = meter && typeof meter !== "string" ? await meter.read() : null;
      const d = timeDecode(model, decodePrompt, o.decodeTokens);
      if (start && meter && typeof meter !== "string") joules += await meter.joulesSince(start);
      decoded += d.tokens;
      decode.push((d.seconds * 1000) / d.tokens);
    }
    const energyNote = meter === null ? null : typeof meter === "string" ? meter : `RAPL: ${meter.domains.join(", ")} (whole package: other processes count too)`;
    return {
      kernels: model.backend, threads: o.threads, contextLength, loadSeconds,
      prefillTokS: median(prefill), decodeMsPerToken: median(decode), prefillSamples: prefill, decodeSamples: decode,
      maxRssBytes: peakRssBytes(), baselineRssBytes, kvCacheBytes: model.kvCacheBytes,
      decodeJoulesPerToken: meter && typeof meter !== "string" ? joules / decoded : null, energyNote,
    };
  } finally {
    await model.dispose();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [path, json] = process.argv.slice(2);
  const result = await child(path, JSON.parse(json) as ProbeOptions);
  process.stdout.write(JSON.stringify(result));
}
