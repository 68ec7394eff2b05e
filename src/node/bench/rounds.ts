/**
 * Interleaved rounds over several engines, the way `bitnet bench` and `npm run bench` time them: in each
 * round every engine prefills every prompt size, then every engine decodes, so that a machine whose speed
 * drifts (other jobs, thermal limits) moves all engines alike. A warm-up before the first round is not
 * counted (V8 tiers our wasm up, llama.cpp pages its mmap in). Not here: the engines (throughput.ts),
 * medians and spreads (stats.ts), tables.
 */
import { benchPrompt, type Engine } from "./throughput.ts";

export interface RoundsOptions {
  /** Prompt sizes to prefill, each from an empty context. */
  promptSizes: readonly number[];
  /** Greedy decode steps per round, after a short untimed prompt. */
  decodeTokens: number;
  rounds: number;
  /** Vocabulary of the model (the prompts are ordinary token ids below it). */
  vocabSize: number;
  /** A decode measurement stops after this long even if it has not done all its steps. */
  maxDecodeSeconds?: number;
  /** One line per sample, for a progress log. */
  log?: (line: string) => void;
}

export interface EngineSamples {
  label: string;
  /** tok/s samples per prompt size, in the order of `promptSizes`. */
  prefill: number[][];
  /** tok/s samples of decode. */
  decode: number[];
  /** Whether any decode round stopped at maxDecodeSeconds before its steps were done. */
  decodeCapped: boolean;
}

/** Tokens of the untimed prompt before the decode steps. */
export const DECODE_PROMPT = 16;

/** A context length (a multiple of 256) that holds every prompt size and the decode measurement. */
export function contextFor(promptSizes: readonly number[], decodeTokens: number): number {
  return Math.ceil((Math.max(...promptSizes, DECODE_PROMPT + decodeTokens) + 8) / 256) * 256;
}

export async function interleaveRounds(engines: readonly Engine[], o: RoundsOptions): Promise<EngineSamples[]> {
  const prompts = o.promptSizes.map((n) => benchPrompt(n, o.vocabSize));
  const decodePrompt = benchPrompt(DECODE_PROMPT, o.vocabSize);
  const log = o.log ?? (() => undefined);
  const out: EngineSamples[] = engines.map((e) => ({ label: e.label, prefill: prompts.map(() => []), decode: [], decodeCapped: false }));
  for (const e of engines) {
    await e.prefill(prompts[0].slice(0, Math.min(prompts[0].length, 32)));
    await e.decode(decodePrompt, 2);
  }
  for (let r = 0; r < o.rounds; r++) {
    for (let p = 0; p < prompts.length; p++) {
      for (let i = 0; i < engines.length; i++) {
        const tokS = prompts[p].length / (await engines[i].prefill(prompts[p]));
        out[i].prefill[p].push(tokS);
        log(`round ${r + 1}/${o.rounds}: ${engines[i].label} prefill ${prompts[p].length}: ${tokS.toFixed(1)} tok/s`);
      }
    }
    for (let i = 0; i < engines.length; i++) {
      const d = await engines[i].decode(decodePrompt, o.decodeTokens, o.maxDecodeSeconds);
      if (d.tokens < o.decodeTokens) out[i].decodeCapped = true;
      out[i].decode.push(d.tokens / d.seconds);
      log(`round ${r + 1}/${o.rounds}: ${engines[i].label} decode: ${(d.tokens / d.seconds).toFixed(1)} tok/s`);
    }
  }
  return out;
}
