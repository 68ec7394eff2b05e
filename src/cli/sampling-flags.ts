/**
 * Sampling and stopping flags shared by `generate` and `chat`, mapped one to one onto GenerateOptions.
 */
import type { Command } from "commander";
import type { GenerateOptions } from "../generate/generate.ts";
import { parseFloatFlag, parseIntFlag } from "./model-options.ts";

export interface SamplingFlags {
  nPredict?: string;
  temp?: string;
  topK?: string;
  topP?: string;
  minP?: string;
  repeatPenalty?: string;
  presencePenalty?: string;
  frequencyPenalty?: string;
  repeatLastN?: string;
  seed?: string;
  stop?: string[];
  truncate?: boolean;
  ignoreEos?: boolean;
}

export function addSamplingFlags(cmd: Command, defaultTokens: string): Command {
  return cmd
    .option("-n, --n-predict <n>", "most tokens to generate", defaultTokens)
    .option("--temp <t>", "temperature; 0 = greedy", "0.8")
    .option("--top-k <k>", "keep the k most likely tokens (0 = all)", "40")
    .option("--top-p <p>", "keep the smallest set of tokens whose probability reaches p", "0.95")
    .option("--min-p <p>", "drop tokens less likely than p × the most likely", "0.05")
    .option("--repeat-penalty <x>", "penalty for tokens seen in the last N", "1.0")
    .option("--presence-penalty <x>", "subtracted once from tokens seen in the last N", "0")
    .option("--frequency-penalty <x>", "subtracted per occurrence in the last N", "0")
    .option("--repeat-last-n <n>", "how many recent tokens the penalties look at", "64")
    .option("-s, --seed <n>", "random seed (same seed, same text)")
    .option("--stop <text...>", "stop when this text appears (repeatable)")
    .option("--truncate", "drop the start of a prompt that does not fit the context, instead of failing")
    .option("--ignore-eos", "keep generating past end-of-generation tokens");
}

export function samplingOptions(f: SamplingFlags): GenerateOptions {
  return {
    maxTokens: parseIntFlag("n-predict", f.nPredict, 0),
    temperature: parseFloatFlag("temp", f.temp),
    topK: parseIntFlag("top-k", f.topK, 0),
    topP: parseFloatFlag("top-p", f.topP),
    minP: parseFloatFlag("min-p", f.minP),
    repeatPenalty: parseFloatFlag("repeat-penalty", f.repeatPenalty),
    presencePenalty: parseFloatFlag("presence-penalty", f.presencePenalty),
    frequencyPenalty: parseFloatFlag("frequency-penalty", f.frequencyPenalty),
    penaltyLastN: parseIntFlag("repeat-last-n", f.repeatLastN, 0),
    seed: parseIntFlag("seed", f.seed, 0),
    stop: f.stop,
    overflow: f.truncate ? "truncate" : "error",
    ignoreEos: f.ignoreEos,
  };
}
