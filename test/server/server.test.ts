// `bitnet serve` (src/server) driven by the official `openai` client over loopback: chat with and without
// streaming (identical greedy text, equal to the library's), completions with echo and logprobs checked
// against model.logits, lm-evaluation-harness's exact local-completions payload, bad requests, aborts and
// disconnects, the 429 path, the API key, CORS, metrics, and that a request batched with others gets the
// bits it gets alone.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import OpenAI from "openai";
import { loadModel, type BitNetModel } from "../../src/index.ts";
import { startServer, type RunningServer } from "../../src/server/serve.ts";
import { DEFAULT_MODEL } from "../helpers/fixtures.ts";

function logSoftmax(logits: Float32Array, token: number): number {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return logits[token] - max - Math.log(sum);
}

async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: { error?: { message: string; param: string | null; code: string | null; type: string } } & Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

describe("bitnet serve with the openai client", () => {
  let model: BitNetModel;
  let server: RunningServer;
  let client: OpenAI;
  /** The same model loaded apart, for references computed alone. */
  let alone: BitNetModel;

  before(async () => {
    model = await loadModel(DEFAULT_MODEL, { threads: 1, parallel: 4 });
    alone = await loadModel(DEFAULT_MODEL, { threads: 1, parallel: 1 });
    server = await startServer(model, { port: 0, handleSignals: false, maxQueue: 8 });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });
  after(async () => {
    await server.stop();
    await alone.dispose();
  });

  it("lists the model", async () => {
    const list = await client.models.list();
    assert.deepEqual(list.data.map((m) => [m.id, m.object]), [["bitnet-default.gguf", "model"]]);
  });

  it("chat: streaming and non-streaming give the same greedy text, the library's", async () => {
    const messages = [{ role: "system" as const, content: "Answer." }, { role: "user" as const, content: [{ type: "text" as const, text: "And God said" }] }];
    const full = await client.chat.completions.create({ model: "bitnet", messages, max_tokens: 20, temperature: 0 });
    let streamed = "";
    let usage = null;
    let finish = null;
    const stream = await client.chat.completions.create({ model: "bitnet", messages, max_tokens: 20, temperature: 0, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    let want = "";
    for await (const t of alone.chat([{ role: "system", content: "Answer." }, { role: "user", content: "And God said" }], { maxTokens: 20, temperature: 0 })) want += t.text;
    assert.equal(full.choices[0].message.content, want);
    assert.equal(streamed, want);
    assert.equal(full.choices[0].finish_reason, "length");
    assert.equal(finish, "length");
    assert.deepEqual(usage, full.usage);
    assert.equal(full.usage?.completion_tokens, 20);
  });

  it("chat: logprobs and top_logprobs are the log-softmax of the model's logits", async () => {
    const r = await client.chat.completions.create({ model: "bitnet", messages: [{ role: "user", content: "In the beginning" }], max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3 });
    const content = r.choices[0].logprobs?.content ?? [];
    assert.equal(content.length, 4);
    for (const entry of content) {
      assert.equal(entry.top_logprobs.length, 3);
      assert.equal(entry.top_logprobs[0].logprob, entry.logprob, "greedy picks the most likely token");
      assert.ok(entry.top_logprobs[0].logprob >= entry.top_logprobs[1].logprob);
    }
  });

  it("completions: echo with logprobs gives the prompt's own log-probabilities (null first), then the generated ones", async () => {
    const ids = alone.tokenize("And God said, Let there be light");
    const r = await client.completions.create({ model: "bitnet", prompt: ids, max_tokens: 2, logprobs: 2, echo: true, temperature: 0 });
    const lp = r.choices[0].logprobs;
    assert.ok(lp);
    assert.equal(lp.token_logprobs?.length, ids.length + 2);
    assert.equal(lp.token_logprobs?.[0], null);
    for (let i = 1; i < ids.length; i++) {
      const want = logSoftmax(alone.logits(ids.slice(0, i)), ids[i]);
      assert.ok(Math.abs((lp.token_logprobs?.[i] as number) - want) < 1e-9, `position ${i}: ${lp.token_logprobs?.[i]} vs ${want}`);
    }
    assert.equal(lp.tokens?.length, ids.length + 2);
    assert.equal(lp.tokens?.slice(0, ids.length).join(""), alone.detokenize(ids));
    assert.equal(r.choices[0].text.startsWith(alone.detokenize(ids)), true);
    // text_offset: where each token starts in the echoed text
    assert.deepEqual(lp.text_offset?.slice(0, 3), [0, lp.tokens?.[0].length, (lp.tokens?.[0].length ?? 0) + (lp.tokens?.[1].length ?? 0)]);
    const zero = await client.completions.create({ model: "bitnet", prompt: ids, max_tokens: 0, logprobs: 1, echo: true });
    assert.equal(zero.choices[0].logprobs?.token_logprobs?.length, ids.length);
    assert.equal(zero.usage?.completion_tokens, 0);
  });

  it("lm-evaluation-harness's local-completions payload scores continuations as the harness reads them", async () => {
    // Two multiple-choice requests as the harness builds them: context ids + continuation ids, scored by
    // Σ token_logprobs[ctxlen:-1] and is_greedy from top_logprobs.
    const ctx = alone.tokenize("In the beginning God created the");
    const conts = [alone.tokenize(" heaven and the earth", { addBos: false }), alone.tokenize(" sea of glass", { addBos: false })];
    const prompts = conts.map((c) => [...ctx, ...c]);
    const res = await post(server.url, "/v1/completions", { model: "bitnet", prompt: prompts, max_tokens: 1, logprobs: 1, echo: true, temperature: 0, seed: 1234 });
    assert.equal(res.status, 200);
    const choices = res.json.choices as { index: number; logprobs: { tokens: string[]; token_logprobs: (number | null)[]; top_logprobs: (Record<string, number> | null)[] } }[];
    assert.deepEqual(choices.map((c) => c.index), [0, 1]);
    for (const [i, choice] of choices.entries()) {
      const { token_logprobs, top_logprobs, tokens } = choice.logprobs;
      const ll = (token_logprobs.slice(ctx.length, -1) as number[]).reduce((a, b) => a + b, 0);
      let want = 0;
      let greedy = true;
      for (let p = ctx.length; p < prompts[i].length; p++) {
        const logits = alone.logits(prompts[i].slice(0, p));
        want += logSoftmax(logits, prompts[i][p]);
        let best = 0;
        for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
        greedy &&= best === prompts[i][p];
      }
      assert.ok(Math.abs(ll - want) < 1e-9, `choice ${i}: ${ll} vs ${want}`);
      // The harness's is_greedy: each continuation token equals the key of the largest top_logprobs entry.
      let harnessGreedy = true;
      for (let p = ctx.length; p < prompts[i].length; p++) {
        const top = top_logprobs[p] as Record<string, number>;
        const bestKey = Object.entries(top).sort((a, b) => b[1] - a[1])[0][0];
        harnessGreedy &&= bestKey === tokens[p];
      }
      assert.equal(harnessGreedy, greedy, `choice ${i} is_greedy`);
    }
  });

  it("a request batched with others gets exactly what it gets alone", async () => {
    const prompts = ["And God said", "In the beginning", "The LORD is my shepherd", "Blessed are", "And it came to pass"];
    const body = (p: string) => ({ model: "bitnet", prompt: p, max_tokens: 6, logprobs: 3, echo: true, temperature: 0 });
    const together = await Promise.all(prompts.map((p) => post(server.url, "/v1/completions", body(p))));
    for (const [i, p] of prompts.entries()) {
      const own = await post(server.url, "/v1/completions", body(p));
      assert.deepEqual(together[i].json.choices, own.json.choices, `prompt ${i}`);
    }
    assert.ok(server.metrics.render(model).includes("bitnet_n_busy_slots_per_decode"));
  });

  it("bad requests get OpenAI-shaped 4xx errors naming the field", async () => {
    const cases: [unknown, number, RegExp, string | null][] = [
      ["{not json", 400, /not valid JSON/, null],
      [{ messages: [{ role: "user", content: "x" }], top_p: 3 }, 400, /^top_p: /, "top_p"],
      [{ messages: [{ role: "wizard", content: "x" }] }, 400, /^messages\[0\]\.role: /, "messages[0].role"],
      [{ messages: [] }, 400, /^messages: /, "messages"],
      [{ messages: [{ role: "user", content: "x" }], n: 3 }, 400, /n must be 1/, "n"],
      [{ messages: [{ role: "user", content: "And God said ".repeat(200) }] }, 400, /the prompt has \d+ tokens and \d+ more were asked for \(max_tokens\), but the context holds 256/, "messages"],
      [{ messages: [{ role: "user", content: "x" }], max_tokens: 1000 }, 400, /the prompt has \d+ tokens and 1000 more were asked for \(max_tokens\), but the context holds 256/, "max_tokens"],
    ];
    for (const [b, status, message, param] of cases) {
      const r = await post(server.url, "/v1/chat/completions", b);
      assert.equal(r.status, status, JSON.stringify(b).slice(0, 80));
      assert.match(r.json.error?.message ?? "", message);
      assert.equal(r.json.error?.param, param);
      assert.equal(r.json.error?.type, "invalid_request_error");
    }
    const ids = await post(server.url, "/v1/completions", { prompt: [1, 999999], max_tokens: 1 });
    assert.equal(ids.status, 400);
    assert.match(ids.json.error?.message ?? "", /token id 999999 is outside the vocabulary/);
    const missing = await fetch(`${server.url}/v1/embeddings`, { method: "POST", body: "{}" });
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).error.message, /no endpoint POST \/v1\/embeddings/);
    const huge = await post(server.url, "/v1/chat/completions", { messages: [{ role: "user", content: "x".repeat(5 * 2 ** 20) }] });
    assert.equal(huge.status, 413);
    const detok = await post(server.url, "/detokenize", { tokens: [1, 2, 10 ** 7] });
    assert.equal(detok.status, 400);
    assert.equal(detok.json.error?.param, "tokens");
  });

  it("tokenize and detokenize round-trip; health, metrics and CORS answer", async () => {
    const t = await post(server.url, "/tokenize", { content: "And God said" });
    assert.deepEqual(t.json.tokens, alone.tokenize("And God said", { addBos: false }));
    const d = await post(server.url, "/detokenize", { tokens: t.json.tokens });
    assert.equal(d.json.content, "And God said");
    assert.deepEqual(await (await fetch(`${server.url}/health`)).json(), { status: "ok" });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    for (const name of ["requests_processing", "requests_deferred", "prompt_tokens_total", "tokens_predicted_total", "prompt_seconds_total", "tokens_predicted_seconds_total", "n_busy_slots_per_decode", "kv_cache_usage_ratio"]) {
      assert.match(metrics, new RegExp(`^bitnet_${name} [0-9.e+-]+$`, "m"), name);
    }
    const pre = await fetch(`${server.url}/v1/chat/completions`, { method: "OPTIONS", headers: { Origin: "http://example.test", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type" } });
    assert.equal(pre.headers.get("access-control-allow-origin"), "*");
    assert.match(pre.headers.get("access-control-allow-headers") ?? "", /Authorization/i);
  });

  it("a stream to a client that sent Connection: close ends with the connection, not at the idle timeout", async () => {
    const body = JSON.stringify({ prompt: "And God said", max_tokens: 3, temperature: 0, stream: true });
    const t0 = performance.now();
    const { connection, text } = await new Promise<{ connection: string | undefined; text: string }>((resolve, reject) => {
      const req = request(`${server.url}/v1/completions`, { method: "POST", agent: false, headers: { connection: "close", "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        // "close" on the socket: the server hung up, which a kept-alive socket would do only after 5 s.
        res.socket.once("close", () => resolve({ connection: res.headers.connection, text }));
      });
      req.on("error", reject);
      req.end(body);
    });
    assert.match(text, /data: \[DONE\]/);
    assert.equal(connection, "close");
    assert.ok(performance.now() - t0 < 3000, `the connection closed after ${Math.round(performance.now() - t0)} ms`);
  });

  it("a client that aborts a stream, or disconnects, frees its sequence within a step", async () => {
    const abort = new AbortController();
    const params = { model: "bitnet", messages: [{ role: "user" as const, content: "Tell" }], max_tokens: 200, temperature: 0.8, stream: true as const, ignore_eos: true };
    const stream = await client.chat.completions.create(params, { signal: abort.signal });
    let n = 0;
    try {
      for await (const _ of stream) {
        if (++n === 3) abort.abort();
      }
    } catch (e) {
      assert.match((e as Error).name, /Abort/);
    }
    assert.ok(n >= 3 && n < 100, `${n} chunks arrived`);
    // Raw HTTP: read the first bytes, then drop the connection.
    await new Promise<void>((resolve, reject) => {
      const req = request(`${server.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      });
      req.on("error", () => undefined);
      req.once("error", reject);
      req.end(JSON.stringify({ prompt: "And", max_tokens: 200, stream: true }));
    });
    for (let i = 0; i < 100 && model.sequenceStats.busy > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(model.sequenceStats.busy, 0, "both sequences were given back");
  });
});

describe("bitnet serve: queue, API key, time limit", () => {
  it("without the API key 401; a full queue answers 429 with Retry-After", async () => {
    const model = await loadModel(DEFAULT_MODEL, { threads: 1, parallel: 1 });
    const server = await startServer(model, { port: 0, handleSignals: false, maxQueue: 0, apiKey: "sekrit" });
    try {
      const auth = { authorization: "Bearer sekrit" };
      const noKey = await post(server.url, "/v1/completions", { prompt: "x", max_tokens: 1 });
      assert.equal(noKey.status, 401);
      assert.equal(noKey.json.error?.code, "invalid_api_key");
      const wrongKey = await post(server.url, "/v1/completions", { prompt: "x", max_tokens: 1 }, { authorization: "Bearer nope" });
      assert.equal(wrongKey.status, 401);
      assert.equal((await fetch(`${server.url}/health`)).status, 200, "health needs no key");
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "sekrit", maxRetries: 0 });
      // One sequence, no queue: while this stream runs, the next request is refused.
      const long = await client.completions.create({ model: "m", prompt: "And", max_tokens: 250, temperature: 1, stream: true, ignore_eos: true } as OpenAI.CompletionCreateParamsStreaming);
      const busy = await post(server.url, "/v1/completions", { prompt: "x", max_tokens: 1 }, auth);
      assert.equal(busy.status, 429);
      assert.equal(busy.headers.get("retry-after"), "1");
      assert.equal(busy.json.error?.type, "rate_limit_error");
      let tokens = 0;
      for await (const c of long) if (c.choices[0]?.text) tokens++;
      assert.ok(tokens > 200, `${tokens} pieces of text`);
      const after = await post(server.url, "/v1/completions", { prompt: "x", max_tokens: 1 }, auth);
      assert.equal(after.status, 200, "the slot is free again");
    } finally {
      await server.stop();
    }
  });

  it("a request past its time limit gets 408, and its sequence is freed", async () => {
    const model = await loadModel(DEFAULT_MODEL, { threads: 1, parallel: 1 });
    const server = await startServer(model, { port: 0, handleSignals: false, timeoutSeconds: 0.001 });
    try {
      const r = await post(server.url, "/v1/completions", { prompt: "And", max_tokens: 250, ignore_eos: true });
      assert.equal(r.status, 408);
      assert.equal(r.json.error?.code, "timeout");
      assert.equal(model.sequenceStats.busy, 0);
    } finally {
      await server.stop();
    }
  });
});
