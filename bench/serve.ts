/**
 * `npm run bench:serve`: load on `bitnet serve` over loopback, side by side with node-llama-cpp running the
 * same number of sequences on the same GGUF file (one context, its sequences batched together).
 *
 * For each concurrency (1, 2, 4, 8, 16, 32 streams): every stream sends a distinct prompt and reads
 * `--tokens` generated tokens (ignore_eos, temperature 0.8) as server-sent events; the round's aggregate
 * throughput is all tokens over its wall time (prompt processing included); its decode throughput is the
 * sum over streams of each one's rate after its first token (tokens after the first over the time they
 * took), what a batch of decoding sequences delivers; per stream, the time to the first token and the
 * gaps between later ones give p50/p95 TTFT and inter-token latency. The server runs in a child process, whose
 * RSS is read before the first round and after the last; several rounds check that it stays bounded.
 * Rounds of the two engines alternate. Writes a JSON report, a Markdown table and a throughput plot (SVG, PNG).
 *
 *   node --import tsx bench/serve.ts [--model FILE | --shape 2b4t] [--threads 2] [--tokens 64]
 *     [--concurrency 1,2,4,8,16,32] [--ctx 256] [--head-type keep|q8_0] [--no-llama-cpp] [--out DIR]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { plotLossCurves } from "../src/train/plot.ts";
import { writeSvgAndPng } from "../src/node/train-run.ts";
import { defaultModelPath } from "../src/node/default-model.ts";
import { closeLlamaCpp, llamaCppVersion } from "../src/node/bench/throughput.ts";
import { benchSpec, ensureModel } from "./models.ts";

const { values: args } = parseArgs({
  options: {
    model: { type: "string" },
    shape: { type: "string" },
    threads: { type: "string", default: "2" },
    tokens: { type: "string", default: "64" },
    concurrency: { type: "string", default: "1,2,4,8,16,32" },
    ctx: { type: "string", default: "256" },
    "head-type": { type: "string", default: "keep" },
    "kv-type": { type: "string", default: "f16" },
    "no-llama-cpp": { type: "boolean", default: false },
    rounds: { type: "string", default: "1" },
    out: { type: "string", default: "runs/bench-serve" },
  },
});

const threads = Number(args.threads);
const tokens = Number(args.tokens);
const levels = args.concurrency.split(",").map(Number);
const ctx = Number(args.ctx);
const maxLevel = Math.max(...levels);

interface Round {
  engine: string;
  streams: number;
  tokens: number;
  seconds: number;
  tokS: number;
  decodeTokS: number;
  ttftP50: number;
  ttftP95: number;
  itlP50: number;
  itlP95: number;
  errors: number;
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function summarize(engine: string, streams: number, wall: number, perStream: { first: number; gaps: number[]; tokens: number; error: boolean }[]): Round {
  const total = perStream.reduce((n, s) => n + s.tokens, 0);
  const ttft = perStream.filter((s) => !s.error).map((s) => s.first);
  const gaps = perStream.flatMap((s) => s.gaps);
  return {
    engine, streams, tokens: total, seconds: wall / 1000, tokS: total / (wall / 1000),
    decodeTokS: perStream.reduce((sum, s) => {
      const ms = s.gaps.reduce((a, b) => a + b, 0);
      return ms > 0 ? sum + s.gaps.length / (ms / 1000) : sum;
    }, 0),
    ttftP50: percentile(ttft, 50), ttftP95: percentile(ttft, 95), itlP50: percentile(gaps, 50), itlP95: percentile(gaps, 95),
    errors: perStream.filter((s) => s.error).length,
  };
}

function promptFor(i: number): string {
  const books = ["And God said", "In the beginning", "The LORD is my shepherd", "Blessed are the meek", "And it came to pass", "Hear, O Israel", "Now the serpent", "Vanity of vanities"];
  return `${books[i % books.length]} (${i})`;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function startServer(model: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [
    join(import.meta.dirname, "..", "bin", "bitnet.js"), "serve", "-m", model, "--port", "0", "--parallel", String(maxLevel), "--ctx", String(ctx),
    "--threads", String(threads), "--kv-type", args["kv-type"], "--head-type", args["head-type"], "--queue", "0",
  ], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
      const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) resolve(m[1]);
    });
    child.once("exit", () => reject(new Error(`bitnet serve exited: ${stderr}`)));
  });
  return { child, url };
}

/** One round on the server: `streams` concurrent streaming completions. */
async function serverRound(url: string, streams: number): Promise<Round> {
  const t0 = performance.now();
  const per = await Promise.all(Array.from({ length: streams }, async (_, i) => {
    const start = performance.now();
    const s = { first: NaN, gaps: [] as number[], tokens: 0, error: false };
    try {
      const res = await fetch(`${url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: promptFor(i), max_tokens: tokens, temperature: 0.8, seed: i, ignore_eos: true, stream: true }),
      });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      const decoder = new TextDecoder();
      let buf = "";
      let last = start;
      for await (const part of res.body) {
        buf += decoder.decode(part, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n\n")) >= 0) {
          const event = buf.slice(0, nl);
          buf = buf.slice(nl + 2);
          if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
          const chunk = JSON.parse(event.slice(6));
          if (chunk.error) throw new Error(chunk.error.message);
          if (!chunk.choices?.[0]?.text) continue;
          const now = performance.now();
          if (s.tokens === 0) s.first = now - start;
          else s.gaps.push(now - last);
          last = now;
          s.tokens++;
        }
      }
    } catch {
      s.error = true;
    }
    return s;
  }));
  return summarize("bitnet-ts", streams, performance.now() - t0, per);
}

type Llama = import("node-llama-cpp").Llama;
type LlamaModel = import("node-llama-cpp").LlamaModel;

/** One round on node-llama-cpp: a context with `streams` sequences, each generating `tokens` tokens at once. */
async function llamaRound(llama: Llama, model: LlamaModel, streams: number): Promise<Round> {
  const context = await model.createContext({ contextSize: streams * ctx, sequences: streams, batchSize: Math.max(512, streams), threads: { ideal: threads, min: threads }, flashAttention: false });
  try {
    const t0 = performance.now();
    const per = await Promise.all(Array.from({ length: streams }, async (_, i) => {
      const seq = context.getSequence();
      const s = { first: NaN, gaps: [] as number[], tokens: 0, error: false };
      const start = performance.now();
      let last = start;
      try {
        const prompt = model.tokenize(promptFor(i));
        for await (const _ of seq.evaluate(prompt, { temperature: 0.8, seed: i })) {
          const now = performance.now();
          if (s.tokens === 0) s.first = now - start;
          else s.gaps.push(now - last);
          last = now;
          if (++s.tokens >= tokens) break;
        }
      } catch {
        s.error = true;
      }
      return s;
    }));
    return summarize(`llama.cpp ${llama.llamaCppRelease.release}`, streams, performance.now() - t0, per);
  } finally {
    await context.dispose();
  }
}

async function main(): Promise<void> {
  const model = args.model ?? (args.shape === "2b4t" ? await ensureModel(benchSpec({ layers: 30, vocab: 128256 }, "tq2_0")) : defaultModelPath());
  if (!model) throw new Error("no model");
  mkdirSync(args.out, { recursive: true });
  const { child, url } = await startServer(model);
  const pid = child.pid as number;
  let llama: Llama | null = null;
  let llamaModel: LlamaModel | null = null;
  if (!args["no-llama-cpp"]) {
    try {
      const lib = await import("node-llama-cpp");
      llama = await lib.getLlama({ gpu: false, build: "never", skipDownload: true, progressLogs: false, logLevel: lib.LlamaLogLevel.error });
      llamaModel = await llama.loadModel({ modelPath: model, gpuLayers: 0, defaultContextFlashAttention: false });
    } catch (e) {
      process.stderr.write(`llama.cpp skipped: ${(e as Error).message.split("\n")[0]}\n`);
    }
  }
  const rounds: Round[] = [];
  const rss: { before: number; after: number[] } = { before: rssMiB(pid), after: [] };
  try {
    await serverRound(url, 1); // warm-up: V8 tiers up the kernels
    for (let r = 0; r < Number(args.rounds); r++) {
      for (const c of levels) {
        const ours = await serverRound(url, c);
        rounds.push(ours);
        let line = `${c} streams: bitnet-ts ${ours.tokS.toFixed(1)} tok/s (decode ${ours.decodeTokS.toFixed(1)}), TTFT p50 ${ours.ttftP50.toFixed(0)} ms, ITL p50 ${ours.itlP50.toFixed(1)} ms, ${ours.errors} errors`;
        if (llama && llamaModel) {
          const theirs = await llamaRound(llama, llamaModel, c);
          rounds.push(theirs);
          line += `; llama.cpp ${theirs.tokS.toFixed(1)} tok/s (decode ${theirs.decodeTokS.toFixed(1)}), TTFT p50 ${theirs.ttftP50.toFixed(0)} ms, ITL p50 ${theirs.itlP50.toFixed(1)} ms`;
        }
        process.stderr.write(`${line}\n`);
      }
      rss.after.push(rssMiB(pid));
    }
  } finally {
    child.kill("SIGTERM");
    await llamaModel?.dispose();
    await closeLlamaCpp();
    await llama?.dispose();
  }
  const engines = [...new Set(rounds.map((r) => r.engine))];
  const report = { model, threads, tokensPerStream: tokens, ctxPerSequence: ctx, kvType: args["kv-type"], headType: args["head-type"], llamaCpp: await llamaCppVersion(), serverRssMiB: rss, rounds };
  writeFileSync(join(args.out, "serve.json"), `${JSON.stringify(report, null, 2)}\n`);
  const md = [
    `| streams | ${engines.map((e) => `${e} tok/s | decode tok/s | TTFT p50/p95 ms | ITL p50/p95 ms`).join(" | ")} |`,
    `|---|${engines.map(() => "---|---|---|---").join("|")}|`,
    ...levels.map((c) => `| ${c} | ${engines.map((e) => {
      const r = rounds.filter((x) => x.engine === e && x.streams === c).at(-1);
      return r ? `${r.tokS.toFixed(1)} | ${r.decodeTokS.toFixed(1)} | ${r.ttftP50.toFixed(0)} / ${r.ttftP95.toFixed(0)} | ${r.itlP50.toFixed(1)} / ${r.itlP95.toFixed(1)}` : "– | – | – | –";
    }).join(" | ")} |`),
    "",
    `Server RSS: ${rss.before.toFixed(0)} MiB before, ${rss.after.map((x) => x.toFixed(0)).join(", ")} MiB after each pass; errors: ${rounds.reduce((n, r) => n + r.errors, 0)}.`,
  ].join("\n");
  writeFileSync(join(args.out, "serve.md"), `${md}\n`);
  const svg = plotLossCurves(
    engines.map((e) => ({ label: e, markers: true, points: levels.map((c) => ({ step: c, loss: rounds.filter((x) => x.engine === e && x.streams === c).at(-1)?.tokS ?? 0 })) })),
    { title: `Aggregate generation throughput, ${threads} threads`, xLabel: "concurrent streams", yLabel: "tokens/s", yMin: 0 },
  );
  await writeSvgAndPng(join(args.out, "serve-throughput"), svg);
  process.stdout.write(`${md}\n\nwritten: ${args.out}/serve.json, serve.md, serve-throughput.svg/png\n`);
}

await main();
