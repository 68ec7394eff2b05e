// The chat page's static server (src/node/web-server.ts) and `bitnet web`: the isolation headers on
// every answer, content types, ETag revalidation, HEAD; -m's model offered through /model.json; and
// careless or hostile requests (other methods, paths out of the site by .., encoded dots, NUL, a
// symbolic link, bad percent-encoding, a huge URL, dotfiles) answered with a 4xx and nothing else.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWebServer, type WebServer } from "../../src/node/web-server.ts";
import { assertOneLineError, repoRoot, runCli } from "../cli/run-cli.ts";

/** A raw request, so that paths reach the server exactly as written (fetch would normalize them). */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let body = "";
      res.setEncoding("latin1");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the chat page's web server", () => {
  let dir = "";
  let site = "";
  let web: WebServer;
  let withModel: WebServer;
  const seen: { method: string; path: string; status: number }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "bitnet-web-server-"));
    site = join(dir, "site");
    mkdirSync(join(site, "models"), { recursive: true });
    writeFileSync(join(site, "index.html"), "<!doctype html><title>page</title>");
    writeFileSync(join(site, "app.js"), "export {};");
    writeFileSync(join(site, "models", "m.gguf"), "GGUF....");
    writeFileSync(join(site, ".env"), "SECRET=1");
    writeFileSync(join(dir, "outside.txt"), "not for the web");
    writeFileSync(join(dir, "other.gguf"), "GGUF-other");
    symlinkSync(join(dir, "outside.txt"), join(site, "link.txt"));
    web = await startWebServer({ root: site, port: 0, onRequest: (e) => seen.push(e) });
    withModel = await startWebServer({ root: site, port: 0, model: join(dir, "other.gguf") });
  });

  after(async () => {
    await web?.close();
    await withModel?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("serves the site with the isolation headers, types, ETags and HEAD", async () => {
    const page = await raw(web.url, "GET", "/");
    assert.equal(page.status, 200);
    assert.equal(page.body, "<!doctype html><title>page</title>");
    assert.equal(page.headers["cross-origin-opener-policy"], "same-origin");
    assert.equal(page.headers["cross-origin-embedder-policy"], "require-corp");
    assert.equal(page.headers["cross-origin-resource-policy"], "same-origin");
    assert.equal(page.headers["x-content-type-options"], "nosniff");
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    assert.match(String((await raw(web.url, "GET", "/app.js")).headers["content-type"]), /^text\/javascript/);
    const model = await raw(web.url, "GET", "/models/m.gguf?v=1");
    assert.equal(model.headers["content-type"], "application/octet-stream");
    assert.equal(model.headers["content-length"], "8");
    const etag = String(model.headers.etag);
    const again = await raw(web.url, "GET", "/models/m.gguf", { "if-none-match": etag });
    assert.equal(again.status, 304);
    assert.equal(again.body, "");
    const head = await raw(web.url, "HEAD", "/models/m.gguf");
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-length"], "8");
    assert.equal(head.body, "");
    assert.deepEqual(seen.slice(0, 3).map((e) => e.status), [200, 200, 200]);
  });

  test("refuses other methods and every way out of the site", async () => {
    const post = await raw(web.url, "POST", "/");
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, "GET, HEAD");
    for (const path of ["/../outside.txt", "/models/../../outside.txt", "/%2e%2e/outside.txt", "/..%2foutside.txt", "/link.txt", "/.env", "/models/%2e%2e%2f%2e%2e%2foutside.txt", "/nothing-here", "/models/"]) {
      const r = await raw(web.url, "GET", path);
      assert.equal(r.status, 404, `${path}: ${r.status} ${r.body}`);
      assert.doesNotMatch(r.body, /not for the web|SECRET/);
    }
    for (const path of ["/%00", "/a%5c..%5coutside.txt", "/%E0%A4%A", `/${"a".repeat(5000)}`]) {
      const r = await raw(web.url, "GET", path);
      assert.equal(r.status, 400, `${path.slice(0, 40)}: ${r.status}`);
    }
    const headers = (await raw(web.url, "GET", "/../outside.txt")).headers;
    assert.equal(headers["cross-origin-embedder-policy"], "require-corp", "errors carry the isolation headers too");
  });

  test("-m offers another model through /model.json, under a URL that changes with the file", async () => {
    const spec = JSON.parse((await raw(withModel.url, "GET", "/model.json")).body) as { url: string; name: string; bytes: number };
    assert.equal(spec.name, "other.gguf");
    assert.equal(spec.bytes, 10);
    assert.match(spec.url, /^models\/other\.gguf\?v=[0-9a-z]+-[0-9a-z]+$/);
    const file = await raw(withModel.url, "GET", `/${spec.url}`);
    assert.equal(file.status, 200);
    assert.equal(file.body, "GGUF-other");
    assert.equal((await raw(withModel.url, "GET", "/")).status, 200, "the page itself is still the site's");
  });

  test("says what is wrong on one line: no page built, a missing model, a port in use", async () => {
    await assert.rejects(startWebServer({ root: join(dir, "nowhere"), port: 0 }), /nowhere\/index\.html: the chat page is not built \(run npm run build:web\)/);
    await assert.rejects(startWebServer({ root: site, port: 0, model: join(dir, "none.gguf") }), /none\.gguf: no such file/);
    const port = new URL(web.url).port;
    await assert.rejects(startWebServer({ root: site, port: Number(port) }), new RegExp(`port ${port} is in use on 127\\.0\\.0\\.1: pass --port N`));
    await assert.rejects(startWebServer({ root: site, port: 70000 }), /port must be an integer from 0 to 65535/);
  });

  test("bitnet web serves until SIGTERM; its flags are checked", async () => {
    const child = spawn(process.execPath, [join(repoRoot, "bin", "bitnet.js"), "web", "--port", "0", "--root", site], { cwd: repoRoot });
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        const m = /serving the chat page at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.on("exit", (code) => reject(new Error(`bitnet web exited with ${code} before serving: ${out}`)));
    });
    assert.equal((await raw(url, "GET", "/")).status, 200);
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);

    const [port, big, host, root, model] = await Promise.all([
      runCli(["web", "--port", "http"]),
      runCli(["web", "--port", "70000"]),
      runCli(["web", "--host", "not a host!"]),
      runCli(["web", "--port", "0", "--root", join(dir, "nowhere")]),
      runCli(["web", "--port", "0", "--root", site, "-m", join(dir, "none.gguf")]),
    ]);
    assertOneLineError(port, /--port must be an integer ≥ 0, got 'http'/);
    assertOneLineError(big, /--port must be an integer from 0 to 65535, got '70000'/);
    assertOneLineError(host, /--host must be an address or a host name, got 'not a host!'/);
    assertOneLineError(root, /the chat page is not built/);
    assertOneLineError(model, /none\.gguf: no such file/);
  });
});
