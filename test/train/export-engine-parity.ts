/**
 * The "export → our engine → same tokens" tests, defined once and run per activation by
 * export-gguf-silu.test.ts and export-gguf-relu2.test.ts (two files so they train in parallel).
 *
 * A tiny model (dim 256, ffn 256, 2 layers, GQA 4/2, vocab 304: 272 BPE tokens and 32 padding ids) is trained
 * for 30 steps on the test BPE encoding of CORPUS, exported as TQ2_0, TQ1_0 and I2_S, and loaded with
 * `loadModel`. For each:
 * - 20 greedy tokens from the engine equal `greedyTokens` of the training forward at the γ the file stores
 *   (withStoredGammas; the same model for I2_S, which stores γ as f32), and the logits at every greedy step agree
 *   within SAME_GAMMA_TOL. What remains is float summation order, and now and then an int8 activation code that
 *   rounds the other way, which moves a logit by ~1e-3 (seen once: 1.2e-3; here ≤ 3e-6).
 * - The same 20 tokens come from `greedyTokens` of the model as trained (float γ), whose logits agree within
 *   FP16_GAMMA_TOL: TQ stores fp16(γ), a relative change of up to 4.9e-4 per matrix (seen on such models: up to
 *   7e-3 for SiLU, 2.4e-2 for ReLU²).
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { memorySink } from "../../src/formats/sink.ts";
import { loadModel } from "../../src/index.ts";
import { createActivations } from "../../src/train/acts.ts";
import type { GateActivation } from "../../src/kernels/types.ts";
import { exportGGUF, type ExportType } from "../../src/train/export-gguf.ts";
import { forward, greedyTokens } from "../../src/train/model.ts";
import type { ParamSet } from "../../src/train/params.ts";
import { margin, maxAbsDiff } from "../helpers/compare.ts";
import { greedyIds } from "../helpers/generate.ts";
import { CORPUS, encodeReference, testConfig, trainTestBpe, trainTiny, withStoredGammas } from "./export-helpers.ts";

export const SAME_GAMMA_TOL = 2e-3;
export const FP16_GAMMA_TOL = 5e-2;
const STEPS = 20;
const VOCAB = 304;

/** Training-forward logits at the positions that choose generated tokens 0..n-1 of `seq` (prompt of `p0` ids). */
function trainingStepLogits(p: ParamSet, seq: Int32Array, p0: number): Float32Array[] {
  const acts = createActivations(p.config, 1, seq.length);
  forward(p, acts, seq, null, 1, seq.length);
  const out: Float32Array[] = [];
  for (let t = p0 - 1; t < seq.length; t++) out.push(acts.logits.slice(t * VOCAB, (t + 1) * VOCAB));
  return out;
}

/** `seed` and `promptText` are picked so the greedy margins are clear of FP16_GAMMA_TOL (30 steps leave a weak model). */
export function defineEngineParityTests(activation: GateActivation, seed: number, promptText: string): void {
  const vocab = trainTestBpe(CORPUS, 24);
  const ids = encodeReference(vocab, CORPUS.repeat(8));
  const config = testConfig(activation, VOCAB);
  const prompt = Int32Array.from(encodeReference(vocab, promptText));
  let trained: ParamSet | undefined;
  const model = (): ParamSet => (trained ??= trainTiny(config, ids, { seed, steps: 30, B: 1, T: 32, lr: 1e-2 }));
  // Greedy references, per γ a file can store (fp16 for both TQ types, f32 for I2_S): computed once.
  const greedyCache = new Map<number | string, { p: ParamSet; tokens: number[] }>();
  const reference = (type: ExportType | "float"): { p: ParamSet; tokens: number[] } => {
    const key = type === "tq1_0" ? "tq2_0" : type === "i2_s" ? "float" : type;
    let r = greedyCache.get(key);
    if (!r) {
      const p = key === "float" ? model() : withStoredGammas(model(), type as ExportType);
      const acts = createActivations(config, 1, prompt.length + STEPS);
      r = { p, tokens: [...greedyTokens(p, acts, prompt, STEPS)] };
      greedyCache.set(key, r);
    }
    return r;
  };

  for (const type of ["tq2_0", "tq1_0", "i2_s"] as const satisfies readonly ExportType[]) {
    test(`${activation} model exported as ${type}: our engine's greedy tokens and logits match the training forward`, async (t) => {
      const p = model();
      const sink = memorySink();
      await exportGGUF(p, vocab, sink, { type });
      const engine = await loadModel(sink.bytes(), { contextLength: 64 });
      try {
        assert.equal(engine.config.activation, activation);
        const got = await greedyIds(engine, [...prompt], STEPS);

        const ref = reference(type);
        const want = ref.tokens;
        assert.deepEqual(got, want, "engine greedy vs training greedy at the stored γ");
        assert.deepEqual(reference("float").tokens, want, "training greedy at the float γ");

        // Teacher-forced along the greedy path: one pass each, logits row s chose token s.
        const seq = Int32Array.from([...prompt, ...want.slice(0, STEPS - 1)]);
        const all = engine.allLogits([...seq]);
        const engineRows = Array.from({ length: STEPS }, (_, s) => all.subarray((prompt.length - 1 + s) * VOCAB, (prompt.length + s) * VOCAB));
        const refRows = trainingStepLogits(ref.p, seq, prompt.length);
        const floatRows = trainingStepLogits(p, seq, prompt.length);
        let dSame = 0;
        let dFloat = 0;
        let marginRef = Infinity;
        let marginFloat = Infinity;
        for (let s = 0; s < STEPS; s++) {
          dSame = Math.max(dSame, maxAbsDiff(engineRows[s], refRows[s]));
          dFloat = Math.max(dFloat, maxAbsDiff(engineRows[s], floatRows[s]));
          marginRef = Math.min(marginRef, margin(refRows[s]));
          marginFloat = Math.min(marginFloat, margin(floatRows[s]));
        }
        t.diagnostic(`max |Δlogit| vs stored-γ reference ${dSame.toExponential(2)}, vs float-γ training ${dFloat.toExponential(2)}; smallest greedy margins ${marginRef.toFixed(3)} / ${marginFloat.toFixed(3)}`);
        assert.ok(dSame <= SAME_GAMMA_TOL, `engine vs training at the stored γ: max |Δlogit| ${dSame}`);
        assert.ok(dFloat <= FP16_GAMMA_TOL, `engine vs training at the float γ: max |Δlogit| ${dFloat}`);
        if (type === "i2_s") assert.equal(dFloat, dSame, "I2_S stores γ as f32: the two references are the same model");
        // The equal greedy tokens follow from the tolerances, not from luck: every step's margin exceeds them.
        assert.ok(marginRef > 2 * dSame, `stored-γ greedy margins (${marginRef}) are clear of the logit differences (${dSame})`);
        assert.ok(marginFloat > 2 * dFloat, `float-γ greedy margins (${marginFloat}) are clear of the logit differences (${dFloat})`);
      } finally {
        await engine.dispose();
      }
    });
  }
}
