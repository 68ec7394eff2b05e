// The chat page (src/web/app, served by src/node/web-server.ts as `bitnet web` does) in headless
// Chromium, driven like a person with a keyboard: the built-in model loads; a message sent with Enter
// streams a reply whose text is exactly the Node engine's greedy reply to the same chat-formatted
// conversation (system prompt and seed set in the settings); Escape stops a long reply midway and the page
// returns to idle; after a reload the model comes from the model cache with no request to the server and
// the conversation is still there (and a new reply continues it as Node does); a saved state that is
// garbage and a file that is not a GGUF give messages, not a broken page; every control has a label;
// nothing is logged as an error; served without the isolation headers, the page runs on one thread and
// says why. Screenshots after a reply (1280×800 and 390×844) go to
// test-artifacts/web-app/.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { buildWebApp } from "../../scripts/build-web.ts";
import { loadModel, type BitNetModel, type ChatMessage } from "../../src/index.ts";
import { startWebServer, type WebServer } from "../../src/node/web-server.ts";
import { chromiumSkip, closeServer, collectErrors, launchChromium, listen } from "../helpers/chromium.ts";

const root = join(import.meta.dirname, "..", "..");
const MODEL = join(root, "models", "bitnet-default.gguf");
const ARTIFACTS = join(root, "test-artifacts", "web-app");
const SYSTEM = "Answer in the words of the King James Bible.";
const SEED = 7;
const MAX_TOKENS = 40;

describe("the chat page in headless Chromium", { skip: chromiumSkip, timeout: 180_000 }, () => {
  let site = "";
  let web: WebServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[] = [];
  let node: BitNetModel;
  /** GET requests for the built-in model's file, as the server saw them. */
  let modelRequests = 0;

  /** The Node engine's greedy reply to `messages`, with the page's options. */
  async function nodeReply(messages: ChatMessage[]): Promise<{ text: string; tokens: number }> {
    let text = "";
    let tokens = 0;
    for await (const t of node.chat(messages, { temperature: 0, topP: 0.95, maxTokens: MAX_TOKENS, seed: SEED, overflow: "truncate" })) {
      text += t.text;
      if (t.token >= 0) tokens++;
    }
    return { text, tokens };
  }

  const waitFor = (s: string, timeout = 60_000): Promise<unknown> => page.waitForFunction((want) => document.body.dataset.state === want, s, { timeout });
  /**
   * Resolves once the page went through `busy` and is back to "ready", watching every change of state
   * from the call on: a short reply can pass through "generating" before a poll of the state would see it.
   */
  async function sendAndAwaitReply(send: () => Promise<void>, busy = "generating"): Promise<void> {
    await page.evaluate(() => {
      const w = window as unknown as { seenStates: string[] };
      w.seenStates = [];
      new MutationObserver(() => w.seenStates.push(document.body.dataset.state ?? "")).observe(document.body, { attributes: true, attributeFilter: ["data-state"] });
    });
    await send();
    await page.waitForFunction(
      (want) => (window as unknown as { seenStates: string[] }).seenStates.includes(want) && document.body.dataset.state === "ready",
      busy,
      { timeout: 60_000 },
    );
  }
  const stored = (): Promise<{ messages: { role: string; content: string; stopped?: boolean }[] }> =>
    page.evaluate(() => JSON.parse(localStorage.getItem("bitnet-chat:v1") ?? "{}"));

  /** Types a value into a settings field and leaves it with Tab, as a keyboard user does. */
  async function setField(selector: string, value: string): Promise<void> {
    await page.locator(selector).fill(value);
    await page.locator(selector).press("Tab");
  }

  async function sendWithEnter(text: string): Promise<void> {
    await page.locator("#input").focus();
    await page.keyboard.type(text);
    await page.keyboard.press("Enter");
  }

  before(async () => {
    site = mkdtempSync(join(tmpdir(), "bitnet-web-app-"));
    const [files, b, m] = await Promise.all([buildWebApp(), launchChromium(), loadModel(MODEL)]);
    browser = b;
    node = m;
    for (const [path, contents] of files) {
      mkdirSync(dirname(join(site, path)), { recursive: true });
      writeFileSync(join(site, path), contents);
    }
    web = await startWebServer({
      root: site,
      port: 0,
      onRequest: ({ method, path }) => {
        if (method === "GET" && path.startsWith("/models/bitnet-default.gguf")) modelRequests++;
      },
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    errors = collectErrors(page);
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await web?.close();
    await node?.dispose();
    if (site) rmSync(site, { recursive: true, force: true });
  });

  test("the built-in model loads and a reply streams the Node engine's greedy text, with its figures", async (t) => {
    await page.goto(web.url);
    await waitFor("ready");
    assert.equal(modelRequests, 1);
    assert.equal(await page.evaluate(() => document.body.dataset.modelSource), "network");
    assert.match(await page.locator("#engine-badge").innerText(), /bitnet-default\.gguf · wasm-\S+ · \d+ threads?/);
    assert.match(await page.locator("#engine-kernels").innerText(), /^wasm-/);

    await setField("#temperature", "0");
    await setField("#max-tokens", String(MAX_TOKENS));
    await setField("#seed", String(SEED));
    await page.locator("#system-prompt").fill(SYSTEM);
    await page.locator("#system-prompt").press("Tab");
    const question = "Who made the heaven and the earth?";
    await sendAndAwaitReply(() => sendWithEnter(question));

    const want = await nodeReply([{ role: "system", content: SYSTEM }, { role: "user", content: question }]);
    assert.ok(want.tokens > 5, `the reference reply has only ${want.tokens} tokens`);
    const reply = page.locator(".msg.assistant").last();
    assert.equal(await reply.locator(".text").textContent(), want.text.trimStart(), "the page shows the Node engine's reply");
    const saved = await stored();
    assert.deepEqual(saved.messages.map((m) => m.content), [question, want.text], "the stored reply is exact");
    assert.equal(await reply.getAttribute("data-tokens"), String(want.tokens));
    const firstTokenMs = Number(await reply.getAttribute("data-first-token-ms"));
    assert.ok(firstTokenMs > 0, "time to first token is shown");
    const totalMs = Number(await reply.getAttribute("data-total-ms"));
    assert.ok(totalMs >= firstTokenMs);
    assert.match(await reply.locator(".meta").innerText(), new RegExp(`^${want.tokens} tokens in ([\\d.]+ s|\\d+ ms) · first token \\d+ ms · [\\d.]+ tok/s$`));
    t.diagnostic(`first reply: ${want.tokens} tokens, first token ${firstTokenMs} ms and the whole reply ${totalMs} ms after Send (${await reply.locator(".meta").innerText()})`);

    const desktop = join(ARTIFACTS, "desktop-1280x800.png");
    await page.screenshot({ path: desktop });
    await page.setViewportSize({ width: 390, height: 844 });
    const phone = join(ARTIFACTS, "phone-390x844.png");
    await page.screenshot({ path: phone });
    // Nothing sticks out sideways on a phone; the panel opens over the chat and Escape closes it.
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
    await page.locator("#panel-toggle").click();
    assert.equal(await page.locator("#panel").isVisible(), true);
    assert.equal(await page.locator("#input").isVisible(), false);
    await page.keyboard.press("Escape");
    assert.equal(await page.locator("#panel").isVisible(), false);
    assert.equal(await page.locator("#panel-toggle").getAttribute("aria-expanded"), "false");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "panel-toggle");
    await page.setViewportSize({ width: 1280, height: 800 });
    t.diagnostic(`screenshots: ${desktop}, ${phone}`);
  });

  test("Escape stops a long reply midway: it stops growing and the page is idle again", async (t) => {
    // The built-in model writes a few hundred tokens a second, faster than a test driver can react on a
    // loaded machine: the Escape key goes from inside the page as soon as the reply shows its first text
    // (the same keydown a keyboard sends, handled by the page's own listener). The reply is greedy, so
    // it does not end early on its own.
    await setField("#max-tokens", "200");
    await page.evaluate(() => {
      const list = document.getElementById("messages") as HTMLOListElement;
      const reply = list.children.length + 1;
      const watch = new MutationObserver(() => {
        if ((list.children[reply]?.querySelector(".text")?.textContent ?? "").length === 0) return;
        watch.disconnect();
        (window as unknown as { liveAtStop: string }).liveAtStop = document.getElementById("live-stats")?.textContent ?? "";
        document.getElementById("input")?.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
      });
      watch.observe(list, { subtree: true, childList: true, characterData: true });
    });
    await sendWithEnter("Tell me of the kings of Judah.");
    await page.waitForFunction(() => "liveAtStop" in window);
    assert.match(String(await page.evaluate("window.liveAtStop")), /^\d+ tokens? · first token \d+ ms/, "figures show while the reply runs");
    await waitFor("ready");
    const reply = page.locator(".msg.assistant").last();
    const text = await reply.locator(".text").textContent();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await reply.locator(".text").textContent(), text, "the reply does not grow after Stop");
    const tokens = Number(await reply.getAttribute("data-tokens"));
    assert.ok(tokens > 0 && tokens < 200, `${tokens} tokens`);
    t.diagnostic(`stopped after ${tokens} of 200 tokens`);
    assert.match(await reply.locator(".meta").innerText(), /stopped$/);
    assert.equal(await page.locator("#stop").isVisible(), false);
    assert.equal(await page.locator("#send").isVisible(), true);
    assert.equal(await page.evaluate(() => document.activeElement?.id), "input", "focus is back in the message box");
    const saved = await stored();
    assert.equal(saved.messages.at(-1)?.stopped, true);
  });

  test("after a reload the model comes from the cache with no request, and the conversation goes on", async () => {
    const before = await stored();
    const requests = modelRequests;
    await page.reload();
    await waitFor("ready");
    assert.equal(modelRequests, requests, "no request for the model on the second load");
    assert.equal(await page.evaluate(() => document.body.dataset.modelSource), "cache");
    assert.match(await page.locator("#model-detail").innerText(), /from the cache/);
    const shown = await page.locator(".msg .text").allTextContents();
    assert.deepEqual(shown, before.messages.map((m) => (m.role === "assistant" ? m.content.trimStart() : m.content)));
    assert.match(await page.locator(".msg.assistant").last().locator(".meta").innerText(), /stopped$/);
    assert.equal(await page.locator("#max-tokens").inputValue(), "200", "settings are kept too");

    // The next reply continues the whole conversation, as the Node engine would.
    await setField("#max-tokens", String(MAX_TOKENS));
    const question = "And what of Moses?";
    await sendWithEnter(question);
    await waitFor("ready");
    const history = [{ role: "system", content: SYSTEM }, ...before.messages, { role: "user", content: question }] as ChatMessage[];
    const want = await nodeReply(history.map(({ role, content }) => ({ role, content })));
    assert.equal((await stored()).messages.at(-1)?.content, want.text);

    // Another thread count starts a new engine, which loads the same model from the cache.
    await page.locator("#threads").selectOption("1");
    await page.waitForFunction(() => document.body.dataset.threads === "1" && document.body.dataset.state === "ready");
    assert.equal(modelRequests, requests);
    assert.match(await page.locator("#engine-badge").innerText(), /· 1 thread$/);
  });

  test("garbage in storage, a file that is not a GGUF, a URL, the cache list, a dropped file, labels, no console errors", async () => {
    await page.evaluate(() => localStorage.setItem("bitnet-chat:v1", "{not json"));
    await page.reload();
    await waitFor("ready");
    assert.equal(await page.locator(".msg").count(), 0);
    assert.match(await page.locator("#live-stats").innerText(), /could not be read and was reset/);

    await page.locator("#file-input").setInputFiles({ name: "notes.gguf", mimeType: "application/octet-stream", buffer: Buffer.from("these are my notes, not a model\n") });
    await page.waitForFunction(() => /not a GGUF file/.test(document.getElementById("error")?.textContent ?? ""));
    await waitFor("ready"); // the built-in model is loaded again
    assert.match(await page.locator("#error").innerText(), /^notes\.gguf: not a GGUF file .*\(bitnet-default\.gguf is loaded again\)$/);
    assert.equal(await page.locator("#error").getAttribute("role"), "alert");

    // A URL typed in the form: downloaded once, then listed beside the built-in model; the other entry is deleted with the keyboard.
    const requests = modelRequests;
    await page.locator("#url-input").fill(`${web.url}models/bitnet-default.gguf?v=typed`);
    await page.locator("#url-input").press("Enter");
    await waitFor("ready");
    assert.equal(modelRequests, requests + 1);
    await page.waitForFunction(() => document.querySelectorAll("#cached li").length === 2);
    assert.equal(await page.locator("#cached li[aria-current=true] .name").getAttribute("title"), `${web.url}models/bitnet-default.gguf?v=typed (loaded now)`);
    await page.locator("#cached li:not([aria-current]) button", { hasText: "Delete" }).focus();
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelectorAll("#cached li").length === 1);

    // A file dropped on the page is loaded from memory.
    await page.evaluate(async () => {
      const bytes = await (await fetch("models/bitnet-default.gguf")).arrayBuffer();
      const data = new DataTransfer();
      data.items.add(new File([bytes], "dropped.gguf"));
      for (const type of ["dragenter", "dragover", "drop"]) window.dispatchEvent(new DragEvent(type, { dataTransfer: data, cancelable: true }));
    });
    await page.waitForFunction(() => document.body.dataset.modelSource === "input" && document.body.dataset.state === "ready");
    assert.equal(await page.locator("#model-name").innerText(), "dropped.gguf");
    assert.equal(await page.locator("#drop-overlay").isHidden(), true);

    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select, textarea, button")]
        .filter((el) => {
          const labelled = (el as HTMLInputElement).labels?.length || el.getAttribute("aria-label") || (el.tagName === "BUTTON" && el.textContent?.trim());
          return !labelled;
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    assert.deepEqual(unlabelled, []);
    assert.deepEqual(errors, []);
  });
  test("served without the isolation headers, the page runs on one thread and says why", async () => {
    const plain = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://x").pathname.slice(1) || "index.html";
      const type = path.endsWith(".html") ? "text/html" : path.endsWith(".js") ? "text/javascript" : path.endsWith(".css") ? "text/css" : "application/octet-stream";
      try {
        res.writeHead(200, { "content-type": type }).end(readFileSync(join(site, ...path.split("/").filter((p) => p && p !== ".."))));
      } catch {
        res.writeHead(404).end();
      }
    });
    const base = await listen(plain);
    const other = await browser.newContext();
    try {
      const p = await other.newPage();
      const problems = collectErrors(p);
      await p.goto(`${base}/`);
      await p.waitForFunction(() => document.body.dataset.state === "ready", undefined, { timeout: 60_000 });
      assert.equal(await p.evaluate(() => crossOriginIsolated), false);
      assert.equal(await p.evaluate(() => document.body.dataset.threads), "1");
      assert.match(await p.locator("#engine-badge").innerText(), /· 1 thread$/);
      if ((await p.evaluate(() => navigator.hardwareConcurrency)) > 1) {
        assert.match(await p.locator("#engine-fallback").innerText(), /not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/);
      }
      assert.deepEqual(problems, []);
    } finally {
      await other.close();
      await closeServer(plain);
    }
  });
});
