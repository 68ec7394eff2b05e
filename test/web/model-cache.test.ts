// The browser model cache (src/web/model-cache.ts, model-download.ts) in headless Chromium, for both
// stores (the Origin Private File System and the Cache API): a model loaded by URL is stored, and after a
// page reload it is loaded again with no request to the server, with the same greedy tokens as the Node
// engine; "revalidate" asks with If-None-Match and takes the 304; "reload" and "off" download; list and
// delete work; a download cut halfway, an error page served as the model and careless arguments give
// one-line errors and leave nothing in the cache (no entry, no partial file).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { buildWebBundles } from "../../scripts/build-web.ts";
import { loadModel } from "../../src/index.ts";
import { chromiumSkip, closeServer, collectErrors, ISOLATION_HEADERS, launchChromium, listen } from "../helpers/chromium.ts";

const MODEL = join(import.meta.dirname, "..", "..", "models", "bitnet-default.gguf");
const PROMPT = "In the beginning";
const MAX_TOKENS = 8;
const ETAG = '"bitnet-default-v1"';

/** window.run(op) runs one operation of the test in the page and returns plain data (errors as { error, name }). */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>bitnet-ts model cache test</title>
<link rel="icon" href="data:,">
<script type="module">
import { createBitNetWorker, listCachedModels, deleteCachedModel, clearModelCache } from "./bitnet.js";
const store = new URLSearchParams(location.search).get("store");
window.run = async (op) => {
  try {
    if (op.kind === "list") return (await listCachedModels({ store })).map(({ url, size, etag, store }) => ({ url: url.replace(location.origin, ""), size, etag, store }));
    if (op.kind === "delete") return await deleteCachedModel(op.url, { store });
    if (op.kind === "clear") return await clearModelCache({ store });
    if (op.kind === "opfs-names") {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle("bitnet-models", { create: true });
      const names = [];
      for await (const name of dir.keys()) names.push(name);
      return names.sort();
    }
    const engine = await createBitNetWorker({ threads: 1, modelCache: op.modelCache ?? store });
    try {
      const phases = [];
      const info = await engine.load(op.url, { cache: op.cache, onProgress: (e) => phases.includes(e.phase) || phases.push(e.phase) });
      const ids = [];
      if (op.generate) for await (const t of engine.generate(${JSON.stringify(PROMPT)}, { temperature: 0, maxTokens: ${MAX_TOKENS} })) if (t.token >= 0) ids.push(t.token);
      return { source: info.source, cacheError: info.cacheError, fileBytes: info.fileBytes, phases, ids };
    } finally {
      await engine.dispose();
    }
  } catch (e) {
    return { error: e.message, name: e.name };
  }
};
window.pageReady = true;
</script>
`;

interface LoadResult {
  source: string;
  cacheError: string | null;
  fileBytes: number;
  phases: string[];
  ids: number[];
}
interface ErrorResult {
  error: string;
  name: string;
}

describe("the browser model cache in headless Chromium", { skip: chromiumSkip, timeout: 120_000 }, () => {
  let server: Server;
  let browser: Browser;
  let base = "";
  const model = readFileSync(MODEL);
  const want: number[] = [];
  /** Requests per path, and the statuses answered for /model.gguf. */
  const hits = new Map<string, number>();
  const statuses: number[] = [];

  before(async () => {
    const reference = async (): Promise<void> => {
      const m = await loadModel(MODEL);
      for await (const t of m.generate(PROMPT, { temperature: 0, maxTokens: MAX_TOKENS })) if (t.token >= 0) want.push(t.token);
      await m.dispose();
    };
    let page = "";
    [{ page }, browser] = await Promise.all([buildWebBundles(), launchChromium(), reference()]);
    server = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      const send = (status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void => {
        res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...ISOLATION_HEADERS, ...extra }).end(body);
      };
      if (path === "/") return send(200, "text/html", PAGE);
      if (path === "/bitnet.js") return send(200, "text/javascript", page);
      if (path === "/model.gguf") {
        const status = req.headers["if-none-match"] === ETAG ? 304 : 200;
        statuses.push(status);
        return status === 304 ? send(304, "application/octet-stream", "", { etag: ETAG }) : send(200, "application/octet-stream", model, { etag: ETAG });
      }
      if (path === "/cut.gguf") {
        // Announces the whole file, sends half, then drops the connection.
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(model.length), ...ISOLATION_HEADERS });
        res.write(model.subarray(0, model.length >> 1), () => setTimeout(() => res.destroy(), 50));
        return;
      }
      if (/^\/flaky-[a-z-]+\.gguf$/.test(path)) {
        // Whole the first time, cut every time after.
        if (count(path) === 1) return send(200, "application/octet-stream", model);
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(model.length), ...ISOLATION_HEADERS });
        res.write(model.subarray(0, 1000), () => res.destroy());
        return;
      }
      if (path === "/error-page.gguf") return send(200, "text/html", "<!doctype html><title>Not here</title><p>This is not the model you are looking for.");
      send(404, "text/plain", "not found");
    });
    base = await listen(server);
  });

  after(async () => {
    await browser?.close();
    await closeServer(server);
  });

  async function open(store: string): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = collectErrors(page);
    await page.goto(`${base}/?store=${store}`);
    await page.waitForFunction("window.pageReady === true");
    return { page, errors, close: () => context.close() };
  }

  const run = <T>(page: Page, op: Record<string, unknown>): Promise<T> => page.evaluate(`window.run(${JSON.stringify(op)})`) as Promise<T>;
  const count = (path: string): number => hits.get(path) ?? 0;

  for (const store of ["opfs", "cache-api"]) {
    test(`${store}: stored on the first load, read with no request after a reload, revalidated, listed and deleted`, async () => {
      const { page, errors, close } = await open(store);
      try {
        await run(page, { kind: "clear" });
        const before = count("/model.gguf");
        const first = await run<LoadResult>(page, { url: "model.gguf", generate: true });
        assert.equal(first.source, "network", JSON.stringify(first));
        assert.equal(first.cacheError, null);
        assert.equal(first.fileBytes, model.length);
        assert.deepEqual(first.phases.slice(0, 2), ["download", "header"]);
        assert.deepEqual(first.ids, want);
        assert.equal(count("/model.gguf"), before + 1);
        assert.deepEqual(await run(page, { kind: "list" }), [{ url: "/model.gguf", size: model.length, etag: ETAG, store }]);

        await page.reload();
        await page.waitForFunction("window.pageReady === true");
        const cached = await run<LoadResult>(page, { url: "model.gguf", generate: true });
        assert.equal(cached.source, "cache");
        assert.deepEqual(cached.phases.slice(0, 2), ["cache", "header"]);
        assert.deepEqual(cached.ids, want, "the cached bytes run like the file");
        assert.equal(count("/model.gguf"), before + 1, "no request for a cached model");

        const revalidated = await run<LoadResult>(page, { url: "model.gguf", cache: "revalidate" });
        assert.equal(revalidated.source, "cache");
        assert.equal(count("/model.gguf"), before + 2);
        assert.equal(statuses.at(-1), 304);

        const reloaded = await run<LoadResult>(page, { url: "model.gguf", cache: "reload" });
        assert.equal(reloaded.source, "network");
        assert.equal(count("/model.gguf"), before + 3);

        assert.equal(await run(page, { kind: "delete", url: "model.gguf" }), true);
        assert.equal(await run(page, { kind: "delete", url: "model.gguf" }), false);
        assert.deepEqual(await run(page, { kind: "list" }), []);
        const off = await run<LoadResult>(page, { url: "model.gguf", cache: "off" });
        assert.equal(off.source, "network");
        assert.deepEqual(await run(page, { kind: "list" }), [], "cache: off stores nothing");
        assert.deepEqual(errors, []);
      } finally {
        await close();
      }
    });

    test(`${store}: a cut download, an error page and careless arguments fail on one line and leave nothing behind`, async () => {
      const { page, close } = await open(store);
      try {
        await run(page, { kind: "clear" });
        const cut = await run<ErrorResult>(page, { url: "cut.gguf" });
        assert.match(cut.error, /cut\.gguf: (truncated download: got \d+ of \d+ bytes|the download failed after \d+ of \d+ bytes)/);
        assert.doesNotMatch(cut.error, /\n/);
        const page404 = await run<ErrorResult>(page, { url: "missing.gguf" });
        assert.match(page404.error, /missing\.gguf: HTTP 404/);
        const html = await run<ErrorResult>(page, { url: "error-page.gguf" });
        assert.match(html.error, /error-page\.gguf.*not a GGUF file/);
        assert.deepEqual(await run(page, { kind: "list" }), [], "neither the cut download nor the error page is cached");
        if (store === "opfs") assert.deepEqual(await run(page, { kind: "opfs-names" }), [], "no partial file is left in the OPFS folder");
        // The cut download is tried again (not served from a half-written cache) on the next load.
        const again = count("/cut.gguf");
        await run<ErrorResult>(page, { url: "cut.gguf" });
        assert.equal(count("/cut.gguf"), again + 1);

        // A download that replaces a cached copy and fails leaves the old copy in use.
        const flakyUrl = `flaky-${store}.gguf`;
        const flaky = await run<LoadResult>(page, { url: flakyUrl });
        assert.equal(flaky.source, "network");
        const failed = await run<ErrorResult>(page, { url: flakyUrl, cache: "reload" });
        assert.match(failed.error, /flaky-[a-z-]+\.gguf: (truncated download|the download failed)/);
        assert.deepEqual(await run(page, { kind: "list" }), [{ url: `/${flakyUrl}`, size: model.length, etag: null, store }]);
        const kept = await run<LoadResult>(page, { url: flakyUrl, generate: true });
        assert.equal(kept.source, "cache");
        assert.deepEqual(kept.ids, want);
        await run(page, { kind: "clear" });
        if (store === "opfs") assert.deepEqual(await run(page, { kind: "opfs-names" }), []);

        const badUrl = await run<ErrorResult>(page, { url: "http://[not-a-host/model.gguf" });
        assert.equal(badUrl.name, "InvalidArgumentError");
        assert.match(badUrl.error, /model URL "http:\/\/\[not-a-host\/model\.gguf" is not a valid URL/);
        const badMode = await run<ErrorResult>(page, { url: "model.gguf", cache: "sometimes" });
        assert.match(badMode.error, /cache must be one of "use", "revalidate", "reload", "off", got "sometimes"/);
        const badStore = await run<ErrorResult>(page, { url: "model.gguf", modelCache: "floppy" });
        assert.match(badStore.error, /modelCache must be "auto", "opfs", "cache-api" or "off", got "floppy"/);
      } finally {
        await close();
      }
    });
  }
});
