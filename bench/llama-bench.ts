/**
 * Any llama-bench binary (llama.cpp's, or a build of bitnet.cpp, whose I2_S kernels llama.cpp lacks) as
 * an Engine of src/node/bench/throughput.ts, so that `npm run bench -- --llama-bench BIN` interleaves it
 * round by round with ours on the same file. Each call is one llama-bench run with one repetition
 * (`-r 1`, after llama-bench's own warm-up run), read from its JSON output: prefill is a `-p N -n 0` test,
 * decode a `-p 0 -n N` test (from an empty context; ours decodes after a 16-token prompt).
 * The binary is the user's: this project neither fetches nor builds it.
 */
import { execFile } from "node:child_process";
import type { Engine } from "../src/node/bench/throughput.ts";

interface LlamaBenchResult {
  n_prompt: number;
  n_gen: number;
  avg_ts: number;
  build_commit?: string;
  cpu_info?: string;
}

function run(bin: string, args: string[]): Promise<LlamaBenchResult[]> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { maxBuffer: 16 * 2 ** 20, timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${bin} ${args.join(" ")}: ${err.message.split("\n")[0]} ${stderr.trim().split("\n").at(-1) ?? ""}`));
      try {
        resolve(JSON.parse(stdout) as LlamaBenchResult[]);
      } catch {
        reject(new Error(`${bin}: no JSON on stdout (${stdout.slice(0, 200)})`));
      }
    });
  });
}

export async function openLlamaBench(bin: string, path: string, threads: number): Promise<Engine> {
  const base = ["-m", path, "-t", String(threads), "-r", "1", "-o", "json"];
  const probe = await run(bin, [...base, "-p", "1", "-n", "0"]);
  const build = probe[0]?.build_commit ?? "unknown build";
  const tokensPerSecond = async (prompt: number, gen: number): Promise<number> => {
    const r = (await run(bin, [...base, "-p", String(prompt), "-n", String(gen)]))[0];
    if (!r || !(r.avg_ts > 0)) throw new Error(`${bin}: no throughput in its output`);
    return r.avg_ts;
  };
  return {
    label: `llama-bench ${build} (${bin.split("/").slice(-4).join("/")}, ×${threads})`,
    async prefill(prompt) {
      return prompt.length / (await tokensPerSecond(prompt.length, 0));
    },
    async decode(_prompt, steps) {
      const tokS = await tokensPerSecond(0, steps);
      return { tokens: steps, seconds: steps / tokS };
    },
    async dispose() {},
  };
}
