// The browser engine (src/web) in headless Chromium: the bundle and the default model are served from a
// local HTTP server, with the COOP/COEP headers that make a page cross-origin isolated under /iso/ and
// without them under /plain/. Greedy generation in the page must give exactly the token ids the Node
// engine gives in this process, on 1 and 2 threads, and on a page without isolation (1 thread, with a
// reason). Skipped when Chromium is missing, except in CI (CI=true), where scripts/install-chromium.sh
// provides it.
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { buildWebBundles } from "../../scripts/build-web.ts";
import { loadModel } from "../../src/index.ts";
import { chromiumSkip, closeServer, ISOLATION_HEADERS, launchChromium, listen } from "../helpers/chromium.ts";

const root = join(import.meta.dirname, "..", "..");
const MODEL = join(root, "models", "bitnet-default.gguf");
const PROMPT = "And God said";
const MAX_TOKENS = 24;

/**
 * The page: `runBitNet(options)` creates the engine worker, loads the model (from its URL, or as bytes or
 * a Blob fetched by the page), with `stops` stops one generation by leaving the loop and one through its
 * AbortSignal, then returns one greedy generation's ids.
 * A string served as is, so that no transpiler helper ends up inside code the browser runs.
 */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>bitnet-ts browser test</title>
<script type="module">
import { createBitNetWorker, BitNetError, InvalidFileError } from "./bitnet.js";
window.runBitNet = async ({ threads, minParallelWork, input, stops, prompt, maxTokens }) => {
  const t0 = performance.now();
  const engine = await createBitNetWorker({ threads, minParallelWork });
  const ms = { started: performance.now() - t0 };
  try {
    const planned = { threads: engine.threads, fallbackReason: engine.fallbackReason };
    let source = "model.gguf";
    if (input !== "url") {
      const blob = await (await fetch("model.gguf")).blob();
      source = input === "blob" ? blob : new Uint8Array(await blob.arrayBuffer());
    }
    const phases = new Set();
    // A file that is not a model: the worker's typed error arrives as the same class on the page.
    let badLoad = null;
    try {
      await engine.load(new Uint8Array(64), { name: "junk.gguf" });
    } catch (e) {
      badLoad = { name: e.name, message: e.message, typed: e instanceof InvalidFileError && e instanceof BitNetError, code: e.code };
    }
    const info = await engine.load(source, { onProgress: (e) => phases.add(e.phase) });
    ms.loaded = performance.now() - t0;
    let beforeAbort = 0, aborted = null;
    if (stops) {
      let early = 0;
      for await (const t of engine.generate(prompt, { temperature: 0, maxTokens })) if (++early === 2) break;
      const abort = new AbortController();
      try {
        for await (const t of engine.generate(prompt, { temperature: 0, maxTokens, signal: abort.signal })) if (++beforeAbort === 2) abort.abort();
      } catch (e) {
        aborted = e.name;
      }
    }
    const ids = [];
    let finish = null;
    const onFinish = (reason, promptTokens, generatedTokens) => (finish = { reason, promptTokens, generatedTokens });
    for await (const t of engine.generate(prompt, { temperature: 0, maxTokens }, onFinish)) if (t.token >= 0) ids.push(t.token);
    ms.generated = performance.now() - t0;
    const stats = await engine.stats();
    return {
      ms: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(v)])),
      isolated: crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency, planned, phases: [...phases],
      threads: info.threads, kernels: info.kernels, fallbackReason: info.fallbackReason, ids, finish, stats, aborted, beforeAbort, badLoad,
    };
  } finally {
    await engine.dispose();
  }
};
window.pageReady = true;
</script>
`;

interface PageResult {
  isolated: boolean;
  hardwareConcurrency: number;
  planned: { threads: number; fallbackReason: string | null };
  phases: string[];
  threads: number;
  kernels: string;
  fallbackReason: string | null;
  ids: number[];
  finish: { reason: string; promptTokens: number; generatedTokens: number } | null;
  stats: { threads: number; splitJobs: number };
  /** The error name a generation aborted through its signal ended with, and the tokens it gave before. */
  aborted: string | null;
  beforeAbort: number;
  /** The error of loading 64 zero bytes as "junk.gguf". */
  badLoad: { name: string; message: string; typed: boolean; code: string } | null;
  /** Milliseconds since the page called createBitNetWorker: worker started, model loaded, generations done. */
  ms: Record<string, number>;
}

interface RunOptions {
  threads?: number;
  minParallelWork?: number;
  input: "url" | "bytes" | "blob";
  /** Stop two generations early (leaving the loop, then aborting) before the one that is compared. */
  stops?: boolean;
}

describe("the browser engine in headless Chromium", { skip: chromiumSkip, timeout: 120_000 }, () => {
  let server: Server;
  let browser: Browser;
  let base = "";
  const want: number[] = [];
  let promptTokens = 0;

  before(async () => {
    const reference = async (): Promise<void> => {
      const model = await loadModel(MODEL);
      const onFinish = (_: string, p: number): void => void (promptTokens = p);
      for await (const t of model.generate(PROMPT, { temperature: 0, maxTokens: MAX_TOKENS }, onFinish)) if (t.token >= 0) want.push(t.token);
      await model.dispose();
    };
    let page = "";
    [{ page }, browser] = await Promise.all([buildWebBundles(), launchChromium(), reference()]);
    assert.equal(want.length, MAX_TOKENS);
    const files: Record<string, [string, string | Buffer]> = {
      "": ["text/html", PAGE],
      "bitnet.js": ["text/javascript", page],
      "model.gguf": ["application/octet-stream", readFileSync(MODEL)],
    };
    server = createServer((req, res) => {
      const m = /^\/(iso|plain)\/([^?]*)/.exec(req.url ?? "");
      const file = m ? files[m[2]] : undefined;
      if (!m || !file) {
        res.writeHead(404).end();
        return;
      }
      const headers: Record<string, string> = { "content-type": file[0], "cache-control": "no-store" };
      if (m[1] === "iso") Object.assign(headers, ISOLATION_HEADERS);
      res.writeHead(200, headers).end(file[1]);
    });
    base = await listen(server);
  });

  after(async () => {
    await browser?.close();
    await closeServer(server);
  });

  /** Opens the page under /iso/ or /plain/ and runs one engine per entry of `runs`, one after the other. */
  async function runPage(t: TestContext, path: "iso" | "plain", runs: RunOptions[]): Promise<PageResult[]> {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${base}/${path}/`);
      await page.waitForFunction("window.pageReady === true");
      const results: PageResult[] = [];
      for (const options of runs) {
        const args = JSON.stringify({ ...options, prompt: PROMPT, maxTokens: MAX_TOKENS });
        const r = (await page.evaluate(`window.runBitNet(${args})`)) as PageResult;
        t.diagnostic(`/${path}/ ${JSON.stringify(options)}: ${r.threads} thread(s), ${r.stats.splitJobs} split jobs, ms ${JSON.stringify(r.ms)}`);
        results.push(r);
      }
      assert.deepEqual(errors, []);
      return results;
    } finally {
      await context.close();
    }
  }

  test("an isolated page runs 1, 2 and the default number of threads, with the Node engine's tokens", async (t) => {
    // minParallelWork 0 splits every matmul of 8 rows or more, decode steps included (the default
    // model's matmuls are below the default threshold except while the prompt is evaluated).
    const [two, one, auto] = await runPage(t, "iso", [
      { threads: 2, minParallelWork: 0, input: "url", stops: true },
      { threads: 1, input: "bytes" },
      { input: "url" },
    ]);
    assert.equal(two.isolated, true);
    assert.equal(two.threads, 2);
    assert.equal(two.stats.threads, 2);
    assert.equal(two.fallbackReason, null);
    assert.match(two.kernels, /^wasm-/);
    assert.ok(two.stats.splitJobs > 100, `only ${two.stats.splitJobs} jobs were split across the threads`);
    assert.deepEqual(two.ids, want, "2 threads");
    assert.deepEqual(two.finish, { reason: "length", promptTokens, generatedTokens: MAX_TOKENS });
    assert.ok(two.phases.includes("download") && two.phases.includes("ready"), `progress phases: ${two.phases}`);
    assert.equal(two.aborted, "AbortError");
    assert.deepEqual(two.badLoad, { name: "InvalidFileError", message: 'junk.gguf: not a GGUF file (magic is "\\x00\\x00\\x00\\x00", expected "GGUF")', typed: true, code: "ERR_BITNET_INVALID_FILE" });
    assert.ok(two.beforeAbort < MAX_TOKENS, `all ${two.beforeAbort} tokens came though abort() was called at the second`);

    assert.equal(one.threads, 1);
    assert.equal(one.stats.splitJobs, 0);
    assert.deepEqual(one.ids, want, "1 thread");

    assert.equal(auto.planned.threads, auto.hardwareConcurrency);
    assert.equal(auto.threads, auto.hardwareConcurrency);
    assert.deepEqual(auto.ids, want, `${auto.threads} threads (navigator.hardwareConcurrency)`);
  });

  test("a page that is not cross-origin isolated falls back to 1 thread, says why, and generates the same tokens", async (t) => {
    const [r] = await runPage(t, "plain", [{ input: "blob" }]);
    assert.equal(r.isolated, false);
    assert.equal(r.threads, 1);
    assert.equal(r.planned.threads, 1);
    // One thread of WebAssembly SIMD over an ordinary memory, not the slow TypeScript reference.
    assert.match(r.kernels, /^wasm-/);
    assert.doesNotMatch(r.fallbackReason ?? "", /self-test|wrong results/);
    if (r.hardwareConcurrency > 1) assert.match(r.fallbackReason ?? "", /not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/);
    assert.deepEqual(r.ids, want);
  });
});
