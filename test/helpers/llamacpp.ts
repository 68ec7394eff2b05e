/**
 * llama.cpp as a test reference: raw logits, greedy continuations and tokenization
 * (and our engine held to them) from node-llama-cpp's prebuilt CPU build (llama.cpp release v0.5.0), run with the
 * settings that make comparisons exact (SPEC.md §7): flash attention off, F32 K and V
 * caches, one thread, a context of 256 unless told otherwise.
 *
 * The loaded llama and models are cached per path so a test file pays for loading once;
 * each call gets a fresh context, so calls never see each other's KV cache. Call
 * `disposeLlamaCpp()` in an `after` hook to release the native models and backend.
 *
 * This is test-only code. It does not sample: greedy is argmax over the raw logits,
 * lowest token id first on ties, as llama.cpp's greedy sampler does.
 */

import assert from "node:assert/strict";
import { getLlama, GgmlType, LlamaLogLevel } from "node-llama-cpp";
import type { ControlledEvaluateInputItem, Llama, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { argmax } from "../../src/generate/sampler.ts";
import type { BitNetModel } from "../../src/model/model.ts";
import { maxAbsDiff } from "./compare.ts";
import { greedyIds } from "./generate.ts";

export interface LlamaCppOptions {
  /** Tokens the context holds; llama.cpp rounds it up to a multiple of 256. */
  contextSize?: number;
  /** Threads for evaluation; more than one can change float summation order. */
  threads?: number;
  /**
   * K and V cache element type. F32 (the default) keeps attention exact; F16 rounds
   * K, V, Q and the softmax weights to f16, as bitnet.cpp does by default.
   */
  kvCacheType?: "F32" | "F16";
  /** Flash attention casts K and V to f16 on the CPU, so it is off unless asked for. */
  flashAttention?: boolean;
}

const defaultContextSize = 256;
const defaultThreads = 1;

let llamaPromise: Promise<Llama> | undefined;
const modelPromises = new Map<string, Promise<LlamaModel>>();

function loadLlama(): Promise<Llama> {
  llamaPromise ??= getLlama({
    gpu: false,
    build: "never",
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
  });
  return llamaPromise;
}

function loadModel(modelPath: string): Promise<LlamaModel> {
  let model = modelPromises.get(modelPath);
  if (model === undefined) {
    model = loadLlama().then((llama) =>
      llama.loadModel({
        modelPath,
        gpuLayers: 0,
        defaultContextFlashAttention: false,
      }),
    );
    modelPromises.set(modelPath, model);
    // A failed load must not poison the cache for a later call with a fixed file.
    model.catch(() => modelPromises.delete(modelPath));
  }
  return model;
}

async function withSequence<T>(
  modelPath: string,
  options: LlamaCppOptions | undefined,
  body: (sequence: LlamaContextSequence) => Promise<T>,
): Promise<T> {
  const model = await loadModel(modelPath);
  const flashAttention = options?.flashAttention ?? false;
  const kvCacheType = options?.kvCacheType ?? "F32";
  const context = await model.createContext({
    contextSize: options?.contextSize ?? defaultContextSize,
    threads: options?.threads ?? defaultThreads,
    sequences: 1,
    flashAttention,
    experimentalKvCacheKeyType: kvCacheType,
    experimentalKvCacheValueType: kvCacheType,
  });
  try {
    // node-llama-cpp treats these as hints; a silent fallback would make every comparison meaningless.
    if (context.flashAttention !== flashAttention) {
      throw new Error(`llamacpp harness: asked for flash attention ${flashAttention}, got ${context.flashAttention} for ${modelPath}`);
    }
    if (context.kvCacheKeyType !== GgmlType[kvCacheType] || context.kvCacheValueType !== GgmlType[kvCacheType]) {
      throw new Error(`llamacpp harness: asked for ${kvCacheType} K/V caches, got types ${context.kvCacheKeyType}/${context.kvCacheValueType} for ${modelPath}`);
    }
    return await body(context.getSequence());
  } finally {
    await context.dispose();
  }
}

/** The logits come as a map sorted by value; it must hold exactly the ids 0..vocab-1. */
function logitsToArray(logits: Map<Token, number> | undefined, what: string): Float32Array {
  if (logits === undefined) throw new Error(`llamacpp harness: no logits returned for ${what}`);
  const out = new Float32Array(logits.size);
  for (const [token, value] of logits) {
    if (!(token >= 0 && token < logits.size)) throw new Error(`llamacpp harness: ${what} returned a logit for token ${token} outside 0..${logits.size - 1}`);
    out[token] = value;
  }
  return out;
}

export { argmax };

/** Evaluates `tokens` after whatever the sequence already holds and returns the logits after the last one. */
async function evaluateLast(sequence: LlamaContextSequence, tokens: readonly number[], what: string): Promise<Float32Array> {
  if (tokens.length === 0) throw new Error(`llamacpp harness: empty token list for ${what}`);
  const last = tokens.length - 1;
  const input: ControlledEvaluateInputItem[] = tokens.map((token, i) =>
    i === last ? [token as Token, { generateNext: { logits: true } }] : (token as Token),
  );
  const results = await sequence.controlledEvaluate(input);
  return logitsToArray(results[last]?.next.logits, what);
}

/** Raw logits at the last position after evaluating `promptIds` as one batch. */
export async function llamaCppLastLogits(modelPath: string, promptIds: number[], options?: LlamaCppOptions): Promise<Float32Array> {
  return withSequence(modelPath, options, (sequence) => evaluateLast(sequence, promptIds, `${modelPath} prompt`));
}

/**
 * Greedy continuation of `n` tokens: the prompt as one batch, then one token per step.
 * `tokens[0]` is the argmax of the prompt's last logits; `lastLogits` are the logits
 * `tokens[n-1]` was chosen from.
 */
export async function llamaCppGreedy(
  modelPath: string,
  promptIds: number[],
  n: number,
  options?: LlamaCppOptions,
): Promise<{ tokens: number[]; lastLogits: Float32Array }> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`llamacpp harness: greedy length must be a positive integer, got ${n}`);
  return withSequence(modelPath, options, async (sequence) => {
    let logits = await evaluateLast(sequence, promptIds, `${modelPath} prompt`);
    const tokens = [argmax(logits)];
    while (tokens.length < n) {
      logits = await evaluateLast(sequence, [tokens[tokens.length - 1]], `${modelPath} step ${tokens.length}`);
      tokens.push(argmax(logits));
    }
    return { tokens, lastLogits: logits };
  });
}

/**
 * Raw logits at every position of `tokens`, evaluated as one sequence from an empty cache: [T, V]
 * (row t = the logits after tokens[t]). For perplexity and log-likelihood comparisons.
 */
export async function llamaCppAllLogits(modelPath: string, tokens: readonly number[], options?: LlamaCppOptions): Promise<Float32Array> {
  if (tokens.length === 0) throw new Error("llamacpp harness: empty token list for all-logits");
  return withSequence(modelPath, { ...options, contextSize: Math.max(options?.contextSize ?? defaultContextSize, tokens.length) }, async (sequence) => {
    const input: ControlledEvaluateInputItem[] = tokens.map((token) => [token as Token, { generateNext: { logits: true } }]);
    const results = await sequence.controlledEvaluate(input);
    let out: Float32Array | undefined;
    results.forEach((r, t) => {
      const row = logitsToArray(r?.next.logits, `${modelPath} position ${t}`);
      out ??= new Float32Array(tokens.length * row.length);
      out.set(row, t * row.length);
    });
    return out as Float32Array;
  });
}

/** llama.cpp's tokenization of `text`; with `special`, text like `<s>` becomes the special token. No BOS is added. */
export async function llamaCppTokenize(modelPath: string, text: string, special = false): Promise<number[]> {
  const model = await loadModel(modelPath);
  return model.tokenize(text, special).map(Number);
}

/** Our engine's `model` of the file at `path` against llama.cpp: last-position logits within `tol`, and the same `n` greedy tokens. */
export async function assertMatchesLlamaCpp(model: Pick<BitNetModel, "logits" | "generate">, path: string, prompt: number[], n: number, tol: number): Promise<void> {
  const d = maxAbsDiff(model.logits(prompt), await llamaCppLastLogits(path, prompt));
  assert.ok(d < tol, `max |Δlogit| ${d}`);
  assert.deepEqual(await greedyIds(model, prompt, n), (await llamaCppGreedy(path, prompt, n)).tokens);
}

/** Frees every cached model and the llama instance; the next call loads them again. */
export async function disposeLlamaCpp(): Promise<void> {
  const models = [...modelPromises.values()];
  modelPromises.clear();
  for (const model of models) {
    const loaded = await model.catch(() => undefined);
    await loaded?.dispose();
  }
  const llama = llamaPromise;
  llamaPromise = undefined;
  if (llama !== undefined) await (await llama).dispose();
}
