/**
 * `hf:` names against a local mock of the Hugging Face Hub: a checkpoint directory and a GGUF file fetched into
 * the cache, resumed after a dropped connection, refused (and deleted) when a byte is corrupted, used offline
 * without any request, listed and removed.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BitNetError, InvalidArgumentError, InvalidFileError } from "../../src/errors.ts";
import { loadModel } from "../../src/index.ts";
import { listCachedModels, parseHubName, removeCachedModel } from "../../src/node/hub/cache.ts";
import { resolveHubModel } from "../../src/node/hub/resolve.ts";
import { HF_FIXTURES } from "../helpers/hf-fixtures.ts";
import { startMockHub, type MockHub } from "../helpers/mock-hub.ts";
import { fixturePath } from "../helpers/fixtures.ts";

function dirFiles(path: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const f of readdirSync(path)) if (f !== "reference.json") out[f] = new Uint8Array(readFileSync(join(path, f)));
  return out;
}

let hub: MockHub;
let cache = "";
const caches: string[] = [];
const env = () => ({ HF_ENDPOINT: hub.url, BITNET_CACHE: cache });
const GGUF = fixturePath("bitnet-tiny-tq2_0.gguf");

function freshCache(): void {
  cache = mkdtempSync(join(tmpdir(), "bitnet-hub-"));
  caches.push(cache);
}

before(async () => {
  freshCache();
  hub = await startMockHub({
    "test/tiny-bitnet": { files: dirFiles(`${HF_FIXTURES}bitnet-2b4t`) },
    "test/tiny-sharded": { files: dirFiles(`${HF_FIXTURES}llama3-1.58-sharded`) },
    "test/tiny-gguf": { files: { "model-tq2_0.gguf": new Uint8Array(readFileSync(GGUF)), "README.md": new TextEncoder().encode("# tiny\n") } },
    "test/two-ggufs": { files: { "a.gguf": new Uint8Array(8), "b.gguf": new Uint8Array(8) } },
  });
});
after(async () => {
  await hub.close();
  for (const c of caches) rmSync(c, { recursive: true, force: true });
});

function leftovers(root: string): string[] {
  return readdirSync(root, { recursive: true }).map(String).filter((f) => f.includes(".incomplete") || f.includes(".tmp-"));
}

test("names: hf:OWNER/REPO[@REV][:FILE], and careless ones are refused", () => {
  assert.deepEqual(parseHubName("hf:microsoft/bitnet-b1.58-2B-4T"), { owner: "microsoft", repo: "bitnet-b1.58-2B-4T", revision: "main", file: undefined });
  assert.deepEqual(parseHubName("hf:o/r@v1.0:sub/m.gguf"), { owner: "o", repo: "r", revision: "v1.0", file: "sub/m.gguf" });
  for (const bad of ["hf:", "hf:o", "hf:o/r/x", "hf:o/../r", "hf:o/r:../../etc/passwd", "hf:o/r:/abs", "hf:o/r@..", "hf:o/r:.bitnet-manifest.json"]) {
    assert.throws(() => parseHubName(bad), InvalidArgumentError, bad);
  }
});

test("a checkpoint directory is fetched, verified and loaded; the second time downloads nothing", async () => {
  const path = await resolveHubModel("hf:test/tiny-bitnet", { env: env() });
  assert.ok(existsSync(join(path, "config.json")) && existsSync(join(path, "model.safetensors")));
  assert.ok(!existsSync(join(path, "README.md")));
  const model = await loadModel(path, { threads: 1 });
  const ref = JSON.parse(readFileSync(`${HF_FIXTURES}bitnet-2b4t/reference.json`, "utf8"));
  assert.deepEqual(model.tokenize(ref.prompts[0].prompt), ref.prompts[0].ids);
  await model.dispose();
  const downloads = () => hub.requests.filter((r) => r.includes("/resolve/")).length;
  const before = downloads();
  assert.equal(await resolveHubModel("hf:test/tiny-bitnet", { env: env() }), path);
  assert.equal(downloads(), before, "no file downloaded again");
  assert.deepEqual(leftovers(cache), []);
});

test("a sharded checkpoint fetches the index, then its shards", async () => {
  const path = await resolveHubModel("hf:test/tiny-sharded", { env: env() });
  for (const f of ["model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "tokenizer.json"]) assert.ok(existsSync(join(path, f)), f);
});

test("the only GGUF of a repository is chosen; with several, the error says to name one", async () => {
  const path = await resolveHubModel("hf:test/tiny-gguf", { env: env() });
  assert.ok(path.endsWith("model-tq2_0.gguf"));
  assert.deepEqual(readFileSync(path), readFileSync(GGUF));
  await assert.rejects(resolveHubModel("hf:test/two-ggufs", { env: env() }), (e: Error) => e instanceof InvalidArgumentError && /2 GGUF files; name one/.test(e.message));
  await assert.rejects(resolveHubModel("hf:test/missing", { env: env() }), (e: Error) => e instanceof InvalidFileError && /HTTP 404/.test(e.message));
});

test("a connection dropped halfway is resumed with a Range request, and the file is whole", async () => {
  freshCache();
  hub.dropOnce.add("test/tiny-gguf/model-tq2_0.gguf");
  const progress: number[] = [];
  const path = await resolveHubModel("hf:test/tiny-gguf:model-tq2_0.gguf", { env: env(), onProgress: (e) => progress.push(e.loadedBytes) });
  assert.deepEqual(readFileSync(path), readFileSync(GGUF));
  assert.ok(hub.requests.some((r) => /resolve\/.*model-tq2_0\.gguf bytes=\d+-/.test(r)), "a Range request resumed it");
  assert.equal(progress.at(-1), readFileSync(GGUF).byteLength);
  assert.deepEqual(leftovers(cache), []);
});

test("a corrupted byte fails the SHA-256 check: one-line error, nothing left behind", async () => {
  freshCache();
  hub.corrupt.add("test/tiny-gguf/model-tq2_0.gguf");
  try {
    await assert.rejects(resolveHubModel("hf:test/tiny-gguf", { env: env() }), (e: Error) => {
      assert.ok(e instanceof InvalidFileError, e.message);
      assert.match(e.message, /model-tq2_0\.gguf: SHA-256 is [0-9a-f]{64}, but the Hub says [0-9a-f]{64}; the download was deleted/);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  } finally {
    hub.corrupt.clear();
  }
  const files = readdirSync(cache, { recursive: true }).map(String);
  assert.ok(!files.some((f) => f.endsWith(".gguf") || f.includes(".incomplete")), files.join(", "));
});

test("offline: HF_HUB_OFFLINE=1 uses the cache without a request, and says so when the model is not cached", async () => {
  freshCache();
  const online = await resolveHubModel("hf:test/tiny-bitnet", { env: env() });
  const count = hub.requests.length;
  assert.equal(await resolveHubModel("hf:test/tiny-bitnet", { env: { ...env(), HF_HUB_OFFLINE: "1" } }), online);
  assert.equal(hub.requests.length, count, "no request offline");
  await assert.rejects(resolveHubModel("hf:test/tiny-gguf", { env: { ...env(), HF_HUB_OFFLINE: "1" } }), (e: Error) => e instanceof BitNetError && /HF_HUB_OFFLINE is set, and the cache .* does not hold it/.test(e.message));
  // An unreachable Hub falls back to the cache too.
  const dead = { HF_ENDPOINT: "http://127.0.0.1:9", BITNET_CACHE: cache };
  assert.equal(await resolveHubModel("hf:test/tiny-bitnet", { env: dead }), online);
  await assert.rejects(resolveHubModel("hf:test/tiny-gguf", { env: dead }), (e: Error) => e instanceof BitNetError && /cannot reach .* does not hold it/.test(e.message));
});

test("listing and removing cached models", async () => {
  freshCache();
  await resolveHubModel("hf:test/tiny-bitnet", { env: env() });
  await resolveHubModel("hf:test/tiny-gguf", { env: env() });
  const models = await listCachedModels(cache);
  assert.deepEqual(models.map((m) => m.repo).sort(), ["test/tiny-bitnet", "test/tiny-gguf"]);
  assert.ok(models.every((m) => m.complete && m.bytes > 0 && m.revisions.includes("main")));
  assert.ok((await removeCachedModel("hf:test/tiny-gguf", cache)) > 0);
  assert.deepEqual((await listCachedModels(cache)).map((m) => m.repo), ["test/tiny-bitnet"]);
  assert.equal(await removeCachedModel("hf:test/not-there", cache), 0);
});
