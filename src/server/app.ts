/**
 * The HTTP app (hono): OpenAI's endpoints on one loaded model, plus tokenize/detokenize, health and
 * Prometheus metrics, with CORS, an optional API key, a request-body limit, a per-request time limit, a
 * bounded queue (beyond it: 429 with Retry-After), and a drain mode for shutting down. Every error is
 * OpenAI-shaped (errors.ts). A client that disconnects aborts its generation, which frees its sequence
 * before the next batching step. The app keeps no state between requests beyond counters, so any number
 * of replicas can serve behind a load balancer. Not here: the Node listener and signals (serve.ts).
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { resolveSamplingOptions } from "../generate/sampler.ts";
import type { BitNetModel } from "../model/model.ts";
import { chatChunks, chatCompletion, type ChatChunk, type ChatContext } from "./chat.ts";
import { completion, completionChunks } from "./completions.ts";
import { errorBody, HttpError, toHttpError } from "./errors.ts";
import { samplingOptions } from "./generation.ts";
import { ServerMetrics } from "./metrics.ts";
import { ChatCompletionRequest, CompletionRequest, DetokenizeRequest, TokenizeRequest, describeZodError } from "./protocol.ts";

export interface ServerOptions {
  /** The id clients see in /v1/models and in responses (default: the model file's name). */
  modelId?: string;
  /** Require `Authorization: Bearer <apiKey>` on every endpoint but /health. */
  apiKey?: string;
  /** Requests that may wait for a free sequence beyond the model's parallel ones; more get 429. Default 64. */
  maxQueue?: number;
  /** A request's time limit in seconds (a stream is ended when it passes). Default 600. */
  timeoutSeconds?: number;
  /** Largest request body in bytes. Default 4 MiB. */
  maxBodyBytes?: number;
}

export interface ServerApp {
  app: Hono;
  metrics: ServerMetrics;
  /** Stops taking requests (503) and aborts nothing; resolves when every request in flight has ended. */
  drain(): Promise<void>;
}

function fail(c: Context, e: unknown): Response {
  const h = toHttpError(e);
  return c.json(errorBody(h), h.status as 400, h.headers);
}

async function body<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new HttpError(400, "the request body is not valid JSON", { code: "invalid_json" });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const { message, param } = describeZodError(parsed.error);
    throw new HttpError(400, message, { param });
  }
  return parsed.data;
}

export function createServerApp(model: BitNetModel, options: ServerOptions = {}): ServerApp {
  const modelId = options.modelId ?? model.fileName.split(/[\\/]/).pop() ?? "bitnet";
  const maxQueue = options.maxQueue ?? 64;
  const timeoutMs = (options.timeoutSeconds ?? 600) * 1000;
  const metrics = new ServerMetrics();
  model.onStep = (s) => metrics.onStep(s);
  let draining = false;
  let drained: (() => void) | null = null;
  const created = Math.floor(Date.now() / 1000);
  const app = new Hono();

  app.use("*", cors({ origin: "*", allowHeaders: ["Authorization", "Content-Type"], allowMethods: ["GET", "POST", "OPTIONS"], maxAge: 600 }));
  app.use("*", async (c, next) => {
    if (c.req.method === "OPTIONS" || c.req.path === "/health" || options.apiKey === undefined) return next();
    if (c.req.header("authorization") !== `Bearer ${options.apiKey}`) {
      return c.json(errorBody(new HttpError(401, "a valid API key is required: send Authorization: Bearer <key>", { type: "authentication_error", code: "invalid_api_key" })), 401);
    }
    return next();
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: options.maxBodyBytes ?? 4 * 2 ** 20,
      onError: (c) => c.json(errorBody(new HttpError(413, `the request body is larger than ${options.maxBodyBytes ?? 4 * 2 ** 20} bytes`, { code: "body_too_large" })), 413),
    }),
  );
  app.onError((e, c) => fail(c, e));
  app.notFound((c) => c.json(errorBody(new HttpError(404, `no endpoint ${c.req.method} ${c.req.path}`, { code: "not_found" })), 404));

  app.get("/health", (c) => c.json(draining ? { status: "shutting down" } : { status: "ok" }, draining ? 503 : 200));
  app.get("/metrics", (c) => c.text(metrics.render(model), 200, { "Content-Type": "text/plain; version=0.0.4" }));
  app.get("/v1/models", (c) => c.json({ object: "list", data: [{ id: modelId, object: "model", created, owned_by: "bitnet-ts" }] }));

  app.post("/tokenize", async (c) => {
    const r = await body(c, TokenizeRequest);
    const tokens = model.tokenize(r.content, { addBos: r.add_special ?? false, special: r.parse_special ?? true });
    return c.json({ tokens: r.with_pieces ? tokens.map((id) => ({ id, piece: model.detokenize([id]) })) : tokens });
  });
  app.post("/detokenize", async (c) => {
    const r = await body(c, DetokenizeRequest);
    const bad = r.tokens.findIndex((t) => t >= model.config.vocabSize);
    if (bad >= 0) throw new HttpError(400, `tokens[${bad}] = ${r.tokens[bad]} is outside the vocabulary [0, ${model.config.vocabSize})`, { param: "tokens" });
    return c.json({ content: model.detokenize(r.tokens) });
  });

  /**
   * Runs `work` for one generation request: admission (429 past the queue, 503 while draining), the
   * request's abort signal (client gone, time limit), and the in-flight count.
   */
  const admitted = async (c: Context, work: (ctx: ChatContext, done: () => void) => Promise<Response>): Promise<Response> => {
    metrics.requests++;
    if (draining) throw new HttpError(503, "the server is shutting down", { code: "shutting_down" });
    if (metrics.inFlight >= model.parallel + maxQueue) {
      metrics.rejected++;
      throw new HttpError(429, `the server is busy: ${metrics.inFlight} requests are running or queued (at most ${model.parallel + maxQueue}); retry later`, { type: "rate_limit_error", code: "queue_full", headers: { "Retry-After": "1" } });
    }
    metrics.inFlight++;
    let ended = false;
    const done = (): void => {
      if (ended) return;
      ended = true;
      metrics.inFlight--;
      if (draining && metrics.inFlight === 0) drained?.();
    };
    const startedAt = performance.now();
    const signal = AbortSignal.any([c.req.raw.signal, AbortSignal.timeout(timeoutMs)]);
    const ctx: ChatContext = { model, modelId, signal, onTiming: (t) => metrics.onTiming(startedAt, t) };
    try {
      return await work(ctx, done);
    } catch (e) {
      done();
      throw e;
    }
  };

  /** Streams `chunks` as server-sent events, ending with `data: [DONE]`; the first chunk is taken before the response starts, so early errors are plain JSON errors. */
  const sse = async (c: Context, chunks: AsyncGenerator<unknown>, done: () => void, lastUsage: boolean): Promise<Response> => {
    const first = await chunks.next();
    const response = streamSSE(c, async (stream) => {
      try {
        if (!first.done) await stream.writeSSE({ data: JSON.stringify(first.value) });
        for await (const chunk of chunks) {
          const usage = (chunk as { usage?: unknown }).usage;
          if (usage !== undefined && (chunk as ChatChunk).choices.length > 0) {
            // The finish chunk; usage follows in a chunk of its own when the client asked for it.
            await stream.writeSSE({ data: JSON.stringify({ ...(chunk as object), usage: lastUsage ? null : undefined }) });
            if (lastUsage) await stream.writeSSE({ data: JSON.stringify({ ...(chunk as object), choices: [], usage }) });
          } else if (usage === undefined || lastUsage) await stream.writeSSE({ data: JSON.stringify(chunk) });
        }
        await stream.writeSSE({ data: "[DONE]" });
      } catch (e) {
        // Mid-stream there is no status line left to set: the error goes as an event, then the stream ends.
        if (!stream.aborted) await stream.writeSSE({ data: JSON.stringify(errorBody(toHttpError(e))) });
      } finally {
        await chunks.return(undefined);
        done();
      }
    });
    // Connection is the HTTP layer's to set: the helper's "keep-alive" made Node keep open a connection
    // whose client had sent "Connection: close", until the idle timeout. The helper put it both on the
    // response and on the context (whose headers hono merges into the response returned).
    c.header("Connection", undefined);
    const headers = new Headers(response.headers);
    headers.delete("connection");
    return new Response(response.body, { status: response.status, headers });
  };

  app.post("/v1/chat/completions", (c) =>
    admitted(c, async (ctx, done) => {
      const req = await body(c, ChatCompletionRequest);
      resolveSamplingOptions(samplingOptions(req)); // bad sampling values fail now, not mid-stream
      if (req.stream) return sse(c, chatChunks(req, ctx), done, req.stream_options?.include_usage === true);
      const result = await chatCompletion(req, ctx);
      done();
      return c.json(result);
    }),
  );

  app.post("/v1/completions", (c) =>
    admitted(c, async (ctx, done) => {
      const req = await body(c, CompletionRequest);
      resolveSamplingOptions(samplingOptions(req));
      if (req.stream) {
        if (req.logprobs != null) throw new HttpError(400, "logprobs are not streamed: ask without stream", { param: "logprobs" });
        return sse(c, completionChunks(req, ctx), done, req.stream_options?.include_usage === true);
      }
      const result = await completion(req, ctx);
      done();
      return c.json(result);
    }),
  );

  return {
    app,
    metrics,
    drain() {
      draining = true;
      if (metrics.inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => (drained = resolve));
    },
  };
}
