/**
 * ModelScorer (src/eval/scorer.ts) over a fake model whose logits are a known function of the tokens read:
 * each scored token gets the log-softmax of the row after the token before it, whether the request scores
 * a few tokens or many, with every request on a sequence of its own, all at once; and careless requests
 * are errors that name the request.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ContextOverflowError, InvalidArgumentError } from "../../src/errors.ts";
import { ModelScorer, type ScoringModel } from "../../src/eval/scorer.ts";
import type { EvaluateOptions } from "../../src/model/sequences.ts";

const V = 5;

/** Row after a prefix: logit v = (v · last + length) mod 7, in float32. */
function row(prefix: readonly number[]): Float32Array {
  const last = prefix[prefix.length - 1];
  return Float32Array.from({ length: V }, (_, v) => (v * last + prefix.length) % 7);
}

/** Records each sequence's evaluation as "evaluate <tokens read> from <first scored row>", and when it is disposed. */
function fakeModel(calls: string[]): ScoringModel {
  return {
    contextLength: 200,
    config: { vocabSize: V },
    async createSequence() {
      return {
        async evaluate(ids: readonly number[], o: EvaluateOptions = {}) {
          calls.push(`evaluate ${ids.length} from ${o.scoreFrom}`);
          for (let p = o.scoreFrom ?? ids.length - 1; p < ids.length; p++) o.onLogits?.(row(ids.slice(0, p + 1)), p);
          return row(ids);
        },
        dispose() {
          calls.push("dispose");
        },
      };
    },
  };
}

function expected(tokens: readonly number[], from: number): number[] {
  const out: number[] = [];
  for (let i = from; i < tokens.length; i++) {
    const r = Array.from(row(tokens.slice(0, i)));
    const max = Math.max(...r);
    const lse = Math.log(r.reduce((s, x) => s + Math.exp(x - max), 0));
    out.push(r[tokens[i]] - max - lse);
  }
  return out;
}

/** Within float32 exp's rounding (the scorer sums expf-like terms, as llama.cpp does). */
function close(got: Float64Array, want: number[]): void {
  assert.equal(got.length, want.length);
  got.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-6, `scored token ${i}: ${x} vs ${want[i]}`));
}

test("each scored token against the row after the token before it; every request on a sequence of its own, all at once", async () => {
  const calls: string[] = [];
  const s = new ModelScorer(fakeModel(calls));
  const ctx = [1, 2, 3, 4];
  const long = Array.from({ length: 60 }, (_, i) => (i * 3) % V);
  const [a, b, c] = await s.score([{ tokens: [...ctx, 2, 3], from: 4 }, { tokens: [...ctx, 4], from: 4 }, { tokens: long, from: 5 }]);
  close(a.logprobs, expected([...ctx, 2, 3], 4));
  close(b.logprobs, expected([...ctx, 4], 4));
  close(c.logprobs, expected(long, 5));
  assert.deepEqual(calls, ["evaluate 5 from 3", "evaluate 4 from 3", "evaluate 59 from 4", "dispose", "dispose", "dispose"], "all three submitted before any ended");
  assert.deepEqual(b.greedy, [Array.from(row(ctx)).indexOf(Math.max(...row(ctx))) === 4]);
});

test("careless requests: from out of range, too long for the context, a token outside the vocabulary", async () => {
  const s = new ModelScorer(fakeModel([]));
  await assert.rejects(s.score([{ tokens: [1, 2], from: 2 }]), (e: Error) => e instanceof InvalidArgumentError && e.message === "score request 0: from must be in [1, 1] for 2 tokens, got 2");
  await assert.rejects(s.score([{ tokens: [1, 2], from: 1 }, { tokens: [1, 2], from: 0 }]), /score request 1: from must be in \[1, 1\]/);
  await assert.rejects(s.score([{ tokens: Array(202).fill(1), from: 1 }]), (e: Error) => e instanceof ContextOverflowError && /201 tokens to read do not fit the context of 200/.test(e.message));
  await assert.rejects(s.score([{ tokens: [1, 5], from: 1 }]), /score request 0: token id 5 is outside the vocabulary \[0, 5\)/);
});

test("tokenLogprob: log-softmax within float32 exp rounding of float64's, the argmax's lowest id on ties", async () => {
  const { tokenLogprob } = await import("../../src/eval/log-softmax.ts");
  const logits = Float32Array.from([0, 3.5, -2, 3.5, 1e-3, 90, -90]);
  const row = logits.subarray(0, 5);
  const lse = Math.log(Array.from(row).reduce((s, x) => s + Math.exp(x - 3.5), 0)) + 3.5;
  for (let t = 0; t < 5; t++) assert.ok(Math.abs(tokenLogprob(logits, 0, 5, t).logprob - (row[t] - lse)) < 1e-7, `token ${t}`);
  assert.deepEqual([0, 1, 2, 3].map((t) => tokenLogprob(logits, 0, 5, t).greedy), [false, true, false, false], "3.5 at ids 1 and 3: id 1 is the argmax");
  const far = tokenLogprob(logits, 5, 2, 1);
  assert.ok(Math.abs(far.logprob - -180) < 1e-9 && Number.isFinite(far.logprob), "no underflow to -Infinity: exp is taken of logit − max");
});
