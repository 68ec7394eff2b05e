/**
 * `bitnet energy -m FILE [--tokens N] [--fp FILE] [--json]`: the b1.58 paper's model of arithmetic
 * energy (src/eval/energy.ts) for the model's matrix shapes, priced at 7 nm and 45 nm, with the FP16 /
 * ternary ratio, and, where the machine exposes RAPL counters, measured joules per decoded token for
 * the model and its FP twin (--fp), each in a process of its own (src/node/model-probe.ts).
 *
 * `--json` prints { file, tokens, linear_matrices, ops_per_token: {ternary_adds, fp16_adds, fp16_muls,
 * head_adds, head_muls}, nodes: [{ node, ternary_pj_per_token, fp16_pj_per_token, ratio, head_pj_per_token,
 * ratio_with_head, per_operation_ratio }], measured: { available, note, ternary_j_per_token, fp_j_per_token } }.
 */
import type { Command } from "commander";
import { availableParallelism } from "node:os";
import { isAbsolute, relative } from "node:path";
import { estimateEnergy, modelMatmuls, perOperationRatio } from "../eval/energy.ts";
import { readModelHeader } from "../node/model-header.ts";
import { probeModel } from "../node/model-probe.ts";
import { openRapl } from "../node/rapl.ts";
import { defaultModelPath } from "../node/default-model.ts";
import { parseIntFlag } from "./model-options.ts";

interface EnergyFlags {
  model?: string;
  fp?: string;
  tokens: string;
  threads?: string;
  json?: boolean;
}

const int = (n: number): string => Math.round(n).toLocaleString("en-US");

function pj(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(3)} mJ`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(3)} µJ`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(3)} nJ`;
  return `${x.toFixed(2)} pJ`;
}

export function registerEnergy(program: Command): void {
  program
    .command("energy")
    .description("the b1.58 paper's arithmetic-energy model for a model's matrix multiplications (7 nm, 45 nm), and RAPL-measured energy where available")
    .option("-m, --model <file>", "GGUF model file (default: the embedded model)")
    .option("--fp <file>", "its FP twin, for the measured comparison")
    .option("-n, --tokens <n>", "tokens to price (and to decode per model when measuring)", "128")
    .option("-t, --threads <n>", "threads when measuring (default: the number of cores)")
    .option("--json", "print one JSON object")
    .action(async (flags: EnergyFlags) => {
      const path = flags.model ?? defaultModelPath();
      if (!path) throw new Error("no model given: pass -m FILE (no embedded default model is installed)");
      const tokens = parseIntFlag("tokens", flags.tokens, 1) as number;
      const threads = parseIntFlag("threads", flags.threads, 1) ?? availableParallelism();
      const header = await readModelHeader(path);
      if (flags.fp !== undefined) await readModelHeader(flags.fp); // a bad --fp fails before any measuring
      const est = estimateEnergy(modelMatmuls(header.tensors));

      const rapl = await openRapl();
      let measured: { available: boolean; note: string; ternary_j_per_token: number | null; fp_j_per_token: number | null };
      if (typeof rapl === "string") {
        measured = { available: false, note: `no measured energy on this machine: ${rapl}`, ternary_j_per_token: null, fp_j_per_token: null };
      } else {
        const probe = (file: string) => probeModel(file, { threads, promptTokens: 8, decodeTokens: tokens, rounds: 1, energy: true });
        const a = await probe(path);
        const b = flags.fp !== undefined ? await probe(flags.fp) : null;
        measured = { available: true, note: a.energyNote ?? "", ternary_j_per_token: a.decodeJoulesPerToken, fp_j_per_token: b?.decodeJoulesPerToken ?? null };
      }

      if (flags.json) {
        const out = {
          file: path, tokens, linear_matrices: est.linearShapes,
          ops_per_token: { ternary_adds: est.ternaryOps.adds, fp16_adds: est.fp16Ops.adds, fp16_muls: est.fp16Ops.muls, head_adds: est.headOps.adds, head_muls: est.headOps.muls },
          nodes: est.nodes.map((n) => ({
            node: n.table.name, ternary_pj_per_token: n.ternaryPj, fp16_pj_per_token: n.fp16Pj, ratio: n.ratio,
            head_pj_per_token: n.headPj, ratio_with_head: n.ratioWithHead, per_operation_ratio: perOperationRatio(n.table),
          })),
          measured,
        };
        process.stdout.write(`${JSON.stringify(out)}\n`);
        return;
      }
      const L: string[] = [];
      L.push("Arithmetic energy of the matrix multiplications, by the b1.58 paper's model (its Fig. 3): operations counted and");
      L.push("priced per operation. It is a model of the arithmetic's energy, not a measurement; memory traffic is left out.", "");
      const shown = relative(process.cwd(), path);
      L.push(`${shown.startsWith("..") || isAbsolute(shown) ? path : shown}: ${est.linearShapes} BitLinear matrices; per token:`);
      L.push(`  ternary (INT8 additions)      ${int(est.ternaryOps.adds)} additions`);
      L.push(`  FP16, the same shapes         ${int(est.fp16Ops.muls)} multiplications + ${int(est.fp16Ops.adds)} additions`);
      L.push(`  output head (FP16 in both)    ${int(est.headOps.muls)} multiplications + ${int(est.headOps.adds)} additions`, "");
      const w = 30;
      L.push(`${"".padEnd(42)}${est.nodes.map((n) => n.table.name.padEnd(w)).join("")}`);
      const row = (label: string, f: (n: (typeof est.nodes)[number]) => string) => L.push(`  ${label.padEnd(40)}${est.nodes.map((n) => f(n).padEnd(w)).join("")}`);
      row("ternary, per token", (n) => pj(n.ternaryPj));
      row("FP16, per token", (n) => pj(n.fp16Pj));
      row("FP16 / ternary", (n) => `${n.ratio.toFixed(1)}×`);
      row(`ternary, ${tokens} tokens`, (n) => pj(n.ternaryPj * tokens));
      row(`FP16, ${tokens} tokens`, (n) => pj(n.fp16Pj * tokens));
      row("head, per token (both)", (n) => pj(n.headPj));
      row("FP16 / ternary with the head", (n) => `${n.ratioWithHead.toFixed(1)}×`);
      row("per operation: FP16 add+mul / INT8 add", (n) => `${perOperationRatio(n.table).toFixed(1)}×`);
      L.push("");
      if (!measured.available) L.push(`Measured: ${measured.note}.`);
      else {
        const j = (x: number | null) => (x === null ? "–" : `${(x * 1000).toFixed(3)} mJ/token`);
        L.push(`Measured while decoding ${tokens} tokens (${measured.note}): ${path} ${j(measured.ternary_j_per_token)}`
          + (flags.fp !== undefined ? `; ${flags.fp} ${j(measured.fp_j_per_token)}` : ""));
      }
      process.stdout.write(`${L.join("\n")}\n`);
    });
}
