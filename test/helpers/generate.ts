/**
 * What tests read from the engine's generation: the ids of a token stream (pieces with token −1 carry text
 * only), and the greedy continuation of a prompt.
 */
import type { BitNetModel } from "../../src/model/model.ts";

/** The token ids of a generation stream, skipping text-only pieces. */
export async function tokenIds(stream: AsyncIterable<{ token: number }>): Promise<number[]> {
  const out: number[] = [];
  for await (const p of stream) if (p.token >= 0) out.push(p.token);
  return out;
}

/** `n` greedy tokens after `prompt`, end-of-generation tokens included. */
export function greedyIds(model: Pick<BitNetModel, "generate">, prompt: readonly number[], n: number): Promise<number[]> {
  return tokenIds(model.generate(prompt, { temperature: 0, maxTokens: n, ignoreEos: true }));
}
