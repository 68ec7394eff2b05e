/**
 * `npm run bench:web`: our browser engine (bitnet-ts/web) beside wllama (llama.cpp compiled to
 * WebAssembly, the npm package @wllama/wllama) in the same headless Chromium, on the same TQ2_0 GGUF
 * file with the same number of threads, and our engine in Node on that file, interleaved round by round:
 *
 *   node --import tsx bench/web.ts [--quick] [--model FILE] [--threads N] [--rounds N] [--prefill N] [--decode N] [--json]
 *
 * The model is bench/run.ts's 2B4T-shaped random-weight file (30 layers, vocab 128256, tied F16 head,
 * 1143 MiB, under wllama's 2 GB file limit), or with --quick its 4-layer, 1024-token shape.
 * How each figure is taken (tok/s, medians of the rounds):
 * - ours, in Chromium and in Node, through the public streaming API (`generate` on token ids, greedy,
 *   ignoreEos): prefill = P prompt tokens / time from the call to the first token; decode = N tokens /
 *   time from the first token to the (N+1)th. In Chromium the clock is the page's, so a token's trip
 *   from the engine's worker to the page is included.
 * - wllama: llama.cpp's own timings of one completion (`createCompletion`, temperature 0, ignore_eos,
 *   cache_prompt false): prompt_per_second and predicted_per_second. wllama takes the prompt as text
 *   only, so the prompt is made of the vocabulary's word pieces, and our tokenizer's ids for that text
 *   are what our engine gets (llama.cpp's count, prompt_n, is checked against ours). A random-weight
 *   model writes stray bytes, and wllama fails to return text that is not valid UTF-8, so tokens whose
 *   bytes are not valid UTF-8 on their own are banned in wllama (logit_bias; a few hundred ids at most).
 *   They leave out wllama's JavaScript and message overhead, so they flatter wllama slightly; its
 *   page-clock figure (prompt tokens / the whole 1-token completion) is printed beside them.
 * Every round uses fresh prompts, so that no engine reuses a cached prefix. The report is Markdown on
 * stdout (with --json: one JSON object on stdout, the Markdown on stderr). Chromium is Debian's
 * (scripts/install-chromium.sh), driven by playwright-core as the browser tests do.
 */
import { createReadStream, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { availableParallelism, cpus, loadavg } from "node:os";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import type { Page } from "playwright-core";
import { buildWebBundles } from "../scripts/build-web.ts";
import { loadModel, type BitNetModel } from "../src/index.ts";
import { ISOLATION_HEADERS } from "../src/node/web-server.ts";
import { closeServer, launchChromium, listen } from "../test/helpers/chromium.ts";
import { benchSpec, ensureModel } from "./models.ts";
import { median, range } from "../src/node/bench/stats.ts";

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    model: { type: "string" },
    threads: { type: "string" },
    rounds: { type: "string" },
    prefill: { type: "string" },
    decode: { type: "string" },
    json: { type: "boolean", default: false },
  },
});

function intFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${value}'`);
  return n;
}

const QUICK = flags.quick;
const THREADS = intFlag("threads", flags.threads, availableParallelism());
// wllama runs TQ2_0 through llama.cpp's scalar kernel in wasm: on the full 2B4T shape well under 1 tok/s
// on this kind of machine, so the full run's defaults are small enough to finish in minutes, not hours.
const ROUNDS = intFlag("rounds", flags.rounds, QUICK ? 3 : 2);
const PREFILL = intFlag("prefill", flags.prefill, QUICK ? 128 : 64);
const DECODE = intFlag("decode", flags.decode, QUICK ? 32 : 16);
/** Prompt before the timed decode steps. */
const DECODE_PROMPT = 16;
/** Our prefill batch: the engine's default (256), as in bench/run.ts. */
const OUR_BATCH = 256;
/** wllama's batch: the whole prompt at once, llama.cpp's default as bench/run.ts runs it. */
const WLLAMA_BATCH = 512;
const CONTEXT = Math.ceil((Math.max(PREFILL, DECODE_PROMPT + DECODE) + 16) / 256) * 256;

const WLLAMA_DIR = join(import.meta.dirname, "..", "node_modules", "@wllama", "wllama");
const log = (s: string): void => void process.stderr.write(`${s}\n`);

interface Prompt {
  ids: number[];
  text: string;
}

/**
 * About `n` tokens of the model's own word pieces, different for each round (so that no engine can
 * reuse a cached prefix), as text and as our tokenizer's ids for that text. In the bench models'
 * vocabulary every even id from 259 is a "▁word" piece, so the text tokenizes back to exactly `n` ids.
 */
function promptFor(model: BitNetModel, n: number, round: number): Prompt {
  const vocab = model.config.vocabSize;
  const lo = vocab > 300 ? 259 : 0;
  const span = Math.max(1, Math.floor((vocab - lo) / 2));
  const raw = Array.from({ length: n }, (_, i) => lo + 2 * (((i + 1) * 7919 + round * 104729 + 13) % span));
  const text = model.detokenize(raw);
  return { ids: model.tokenize(text, { addBos: false }), text };
}

/**
 * The page: `setup` fetches the model once, as a Blob, and loads it into both engines (ours from the
 * Blob, wllama from the same Blob); then one function per measurement. A string served as is.
 */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>bitnet-ts bench:web</title>
<link rel="icon" href="data:,">
<script type="module">
import { createBitNetWorker } from "./bitnet.js";
import { Wllama } from "./wllama.js";
let ours, wllama;
const quiet = { debug() {}, log() {}, warn() {}, error: (...a) => console.error(...a) };
window.setup = async ({ threads, context, ourBatch, wllamaBatch }) => {
  const t0 = performance.now();
  const blob = await (await fetch("model.gguf")).blob();
  const fetched = performance.now();
  ours = await createBitNetWorker({ threads });
  const info = await ours.load(blob, { contextLength: context, batchSize: ourBatch, name: "model.gguf" });
  const oursLoaded = performance.now();
  wllama = new Wllama({ default: "./wllama.wasm" }, { suppressNativeLog: true, logger: quiet });
  await wllama.loadModel([blob], { n_threads: threads, n_ctx: context, n_batch: wllamaBatch, n_gpu_layers: 0 });
  const wllamaLoaded = performance.now();
  return {
    isolated: crossOriginIsolated, userAgent: navigator.userAgent,
    ours: { kernels: info.kernels, threads: info.threads, fallbackReason: info.fallbackReason, loadSeconds: (oursLoaded - fetched) / 1000 },
    wllama: { multithread: wllama.isMultithread(), threads: wllama.getNumThreads(), libllama: Wllama.getLibllamaVersion(), loadSeconds: (wllamaLoaded - oursLoaded) / 1000 },
    fetchSeconds: (fetched - t0) / 1000,
  };
};
window.oursPrefill = async ({ ids }) => {
  const t0 = performance.now();
  let first = null;
  for await (const t of ours.generate(ids, { maxTokens: 1, temperature: 0, ignoreEos: true })) if (t.token >= 0 && first === null) first = performance.now();
  return { tokens: ids.length, seconds: (first - t0) / 1000 };
};
window.oursDecode = async ({ ids }, steps) => {
  let first = null, last = null, n = 0;
  for await (const t of ours.generate(ids, { maxTokens: steps + 1, temperature: 0, ignoreEos: true })) {
    if (t.token < 0) continue;
    const now = performance.now();
    n++;
    if (first === null) first = now;
    last = now;
  }
  return { tokens: n - 1, seconds: (last - first) / 1000 };
};
let banned = [];
window.setBanned = (ids) => void (banned = ids.map((id) => [id, false]));
async function complete(text, maxTokens) {
  const t0 = performance.now();
  const r = await wllama.createCompletion({ prompt: text, max_tokens: maxTokens, temperature: 0, ignore_eos: true, cache_prompt: false, logit_bias: banned });
  return { wall: (performance.now() - t0) / 1000, timings: r.timings };
}
window.wllamaPrefill = async ({ text }) => {
  const { wall, timings } = await complete(text, 1);
  return { tokens: timings.prompt_n, seconds: timings.prompt_ms / 1000, wallTokens: timings.prompt_n, wallSeconds: wall };
};
window.wllamaDecode = async ({ text }, steps) => {
  const { timings } = await complete(text, steps + 1);
  return { tokens: timings.predicted_n, seconds: timings.predicted_ms / 1000 };
};
window.dispose = async () => {
  await ours?.dispose();
  await wllama?.exit();
};
window.pageReady = true;
</script>
`;

interface Timing {
  tokens: number;
  seconds: number;
  wallTokens?: number;
  wallSeconds?: number;
}

interface Engine {
  label: string;
  prefill(prompt: Prompt): Promise<Timing>;
  decode(prompt: Prompt, steps: number): Promise<Timing>;
}

function serve(modelPath: string, bitnetJs: string): Server {
  const wllamaJs = readFileSync(join(WLLAMA_DIR, "esm", "index.js"));
  const wasmPath = join(WLLAMA_DIR, "esm", "wasm", "wllama.wasm");
  const size = statSync(modelPath).size;
  return createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const headers = { ...ISOLATION_HEADERS, "cache-control": "no-store" };
    const send = (type: string, body: string | Buffer): void => void res.writeHead(200, { ...headers, "content-type": type }).end(body);
    if (path === "/") return send("text/html", PAGE);
    if (path === "/bitnet.js") return send("text/javascript", bitnetJs);
    if (path === "/wllama.js") return send("text/javascript", wllamaJs);
    if (path === "/wllama.wasm" || path === "/model.gguf") {
      const file = path === "/model.gguf" ? modelPath : wasmPath;
      res.writeHead(200, { ...headers, "content-type": path === "/model.gguf" ? "application/octet-stream" : "application/wasm", "content-length": String(path === "/model.gguf" ? size : statSync(wasmPath).size) });
      createReadStream(file).pipe(res);
      return;
    }
    res.writeHead(404, headers).end();
  });
}

function pageEngine(page: Page, label: string, prefix: "ours" | "wllama"): Engine {
  return {
    label,
    prefill: (prompt) => page.evaluate(`window.${prefix}Prefill(${JSON.stringify(prompt)})`) as Promise<Timing>,
    decode: (prompt, steps) => page.evaluate(`window.${prefix}Decode(${JSON.stringify(prompt)}, ${steps})`) as Promise<Timing>,
  };
}

function nodeEngine(model: BitNetModel, label: string): Engine {
  return {
    label,
    async prefill({ ids }) {
      const t0 = performance.now();
      let first: number | null = null;
      for await (const t of model.generate(ids, { maxTokens: 1, temperature: 0, ignoreEos: true })) if (t.token >= 0 && first === null) first = performance.now();
      return { tokens: ids.length, seconds: ((first ?? performance.now()) - t0) / 1000 };
    },
    async decode({ ids }, steps) {
      let first: number | null = null;
      let last = 0;
      let n = 0;
      for await (const t of model.generate(ids, { maxTokens: steps + 1, temperature: 0, ignoreEos: true })) {
        if (t.token < 0) continue;
        const now = performance.now();
        n++;
        first ??= now;
        last = now;
      }
      return { tokens: n - 1, seconds: (last - (first ?? last)) / 1000 };
    },
  };
}

async function main(): Promise<void> {
  const modelPath = flags.model ?? (await ensureModel(benchSpec(QUICK ? { layers: 4, vocab: 1024 } : { layers: 30, vocab: 128256 }, "tq2_0")));
  const fileBytes = statSync(modelPath).size;
  if (fileBytes >= 2 ** 31) log(`note: ${basename(modelPath)} is ${fileBytes} bytes; wllama reads files under 2 GB only (split larger ones)`);
  const load0 = loadavg()[0];
  const started = Date.now();
  log(`bench:web: ${modelPath} (${(fileBytes / 2 ** 20).toFixed(0)} MiB), ${THREADS} threads, prefill ${PREFILL}, decode ${DECODE} after ${DECODE_PROMPT}, ${ROUNDS} rounds`);

  const [{ page: bitnetJs }, browser] = await Promise.all([buildWebBundles(), launchChromium()]);
  const server = serve(modelPath, bitnetJs);
  const base = await listen(server);
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
  let node: BitNetModel | null = null;
  try {
    await page.goto(`${base}/`);
    await page.waitForFunction("window.pageReady === true");
    log("loading the model in Chromium (ours, then wllama) and in Node…");
    const setup = (await page.evaluate(`window.setup(${JSON.stringify({ threads: THREADS, context: CONTEXT, ourBatch: OUR_BATCH, wllamaBatch: WLLAMA_BATCH })})`)) as {
      isolated: boolean;
      userAgent: string;
      ours: { kernels: string; threads: number; fallbackReason: string | null; loadSeconds: number };
      wllama: { multithread: boolean; threads: number; libllama: string; loadSeconds: number };
      fetchSeconds: number;
    };
    if (!setup.isolated) throw new Error("the bench page is not cross-origin isolated: no threads for either engine");
    const t0 = performance.now();
    node = await loadModel(modelPath, { threads: THREADS, contextLength: CONTEXT, batchSize: OUR_BATCH });
    const nodeLoadSeconds = (performance.now() - t0) / 1000;
    const utf8 = new TextDecoder("utf-8", { fatal: true });
    const banned: number[] = [];
    for (let id = 0; id < node.config.vocabSize; id++) {
      try {
        utf8.decode(node.tokenizer.tokenToBytes(id));
      } catch {
        banned.push(id);
      }
    }
    await page.evaluate(`window.setBanned(${JSON.stringify(banned)})`);
    log(`  ${banned.length} tokens that are not valid UTF-8 alone are banned in wllama`);
    const chromiumVersion = browser.version();
    const wllamaVersion = (JSON.parse(readFileSync(join(WLLAMA_DIR, "package.json"), "utf8")) as { version: string }).version;
    const engines: Engine[] = [
      pageEngine(page, `bitnet-ts in Chromium (${setup.ours.kernels} ×${setup.ours.threads})`, "ours"),
      pageEngine(page, `wllama ${wllamaVersion} in Chromium (llama.cpp ${setup.wllama.libllama}, ${setup.wllama.multithread ? "multi-thread" : "single-thread"} ×${setup.wllama.threads})`, "wllama"),
      nodeEngine(node, `bitnet-ts in Node ${process.version} (${node.backend} ×${THREADS})`),
    ];
    log(engines.map((e) => `  ${e.label}`).join("\n"));
    log(`  loads: ours in Chromium ${setup.ours.loadSeconds.toFixed(1)} s, wllama ${setup.wllama.loadSeconds.toFixed(1)} s, ours in Node ${nodeLoadSeconds.toFixed(1)} s`);

    // Warm-up (not counted): wasm tiers up, pages fault in. Short, as wllama's steps take seconds on the full shape.
    for (const e of engines) {
      await e.prefill(promptFor(node, Math.min(PREFILL, 16), 1000));
      await e.decode(promptFor(node, DECODE_PROMPT, 1001), 2);
    }
    const samples = engines.map(() => ({ prefill: [] as number[], decode: [] as number[], wall: [] as number[] }));
    /** Prompt lengths as our tokenizer counts them (the word pieces can split: a few more than --prefill). */
    const prefillCounts: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < engines.length; i++) {
        const prompt = promptFor(node, PREFILL, 2 * r);
        if (i === 0) prefillCounts.push(prompt.ids.length);
        const t = await engines[i].prefill(prompt);
        if (t.tokens !== prompt.ids.length) log(`  note: ${engines[i].label} counted ${t.tokens} prompt tokens, our tokenizer ${prompt.ids.length}`);
        samples[i].prefill.push(t.tokens / t.seconds);
        if (t.wallSeconds !== undefined && t.wallTokens !== undefined) samples[i].wall.push(t.wallTokens / t.wallSeconds);
        log(`  round ${r + 1} prefill ${engines[i].label}: ${(t.tokens / t.seconds).toFixed(2)} tok/s (${t.tokens} tokens)`);
      }
      for (let i = 0; i < engines.length; i++) {
        const t = await engines[i].decode(promptFor(node, DECODE_PROMPT, 2 * r + 1), DECODE);
        samples[i].decode.push(t.tokens / t.seconds);
        log(`  round ${r + 1} decode  ${engines[i].label}: ${(t.tokens / t.seconds).toFixed(2)} tok/s (${t.tokens} tokens)`);
      }
    }
    await page.evaluate("window.dispose()");
    const load1 = loadavg()[0];
    const minutes = (Date.now() - started) / 60000;
    const med = samples.map((s) => ({ prefill: median(s.prefill), decode: median(s.decode) }));
    const f = (x: number): string => x.toFixed(2);

    const md: string[] = [];
    md.push(`### In the browser: bitnet-ts beside wllama in Chromium, and in Node (\`npm run bench:web${QUICK ? " -- --quick" : ""}\`, ${new Date().toISOString().slice(0, 10)}, ${minutes.toFixed(1)} min)`);
    md.push("");
    md.push(`Model: \`${basename(modelPath)}\` (${(fileBytes / 2 ** 20).toFixed(0)} MiB, TQ2_0)${QUICK ? ", the --quick shape (4 layers, vocab 1024)" : ", the 2B4T shape of (b) above"}. Both engines in one cross-origin-isolated page of headless Chromium ${chromiumVersion}, ${THREADS} threads each; our engine also in Node, on the same file and threads. Prefill ${range(prefillCounts, 0).replace(/^(\d+)–\1$/, "$1")} tokens from an empty context; decode ${DECODE} tokens after a ${DECODE_PROMPT}-token prompt; greedy, EOS ignored; ${ROUNDS} interleaved rounds, medians (min–max). CPU: ${cpus()[0]?.model ?? "?"} (${availableParallelism()} cores); load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end.`);
    md.push("");
    md.push("| engine | prefill tok/s | decode tok/s |");
    md.push("|---|---|---|");
    engines.forEach((e, i) => md.push(`| ${e.label} | ${f(med[i].prefill)} (${range(samples[i].prefill, 2)}) | ${f(med[i].decode)} (${range(samples[i].decode, 2)}) |`));
    md.push(`| ours / wllama, both in Chromium | ${f(med[0].prefill / med[1].prefill)}× | ${f(med[0].decode / med[1].decode)}× |`);
    md.push(`| ours in Chromium / ours in Node | ${f(med[0].prefill / med[2].prefill)}× | ${f(med[0].decode / med[2].decode)}× |`);
    md.push("");
    md.push(
      `wllama's figures are llama.cpp's own timings (prompt_per_second, predicted_per_second), which leave out its JavaScript and messaging; timed by the page's clock like ours, its prefill (the prompt / the whole 1-token completion) is ${f(median(samples[1].wall))} tok/s. Ours are timed by the page's clock (Chromium) or the process's (Node) through the streaming API. Loading: ours ${setup.ours.loadSeconds.toFixed(1)} s in Chromium (from a Blob), wllama ${setup.wllama.loadSeconds.toFixed(1)} s, ours ${nodeLoadSeconds.toFixed(1)} s in Node (from the file).`,
    );
    const report = md.join("\n");
    if (errors.length > 0) log(`console errors in the page:\n${errors.join("\n")}`);
    if (flags.json) {
      process.stderr.write(`${report}\n`);
      const out = {
        model: modelPath,
        file_bytes: fileBytes,
        threads: THREADS,
        prefill_tokens: prefillCounts,
        decode_tokens: DECODE,
        rounds: ROUNDS,
        chromium: chromiumVersion,
        load_average: [load0, load1],
        engines: engines.map((e, i) => ({ label: e.label, prefill_tok_s: med[i].prefill, decode_tok_s: med[i].decode, prefill_samples: samples[i].prefill, decode_samples: samples[i].decode })),
        wllama_prefill_wall_tok_s: samples[1].wall,
        ratios: { ours_over_wllama: { prefill: med[0].prefill / med[1].prefill, decode: med[0].decode / med[1].decode }, chromium_over_node: { prefill: med[0].prefill / med[2].prefill, decode: med[0].decode / med[2].decode } },
      };
      process.stdout.write(`${JSON.stringify(out)}\n`);
    } else {
      process.stdout.write(`${report}\n`);
    }
  } finally {
    await node?.dispose();
    await context.close();
    await browser.close();
    await closeServer(server);
  }
}

await main();
