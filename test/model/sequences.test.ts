// Many sequences on one model (src/model/sequences.ts): continuous batching must give every sequence
// exactly the logits it gets alone, bit for bit, with prompts of mixed lengths and sequences that join
// and leave mid-stream; concurrent generations are legal and equal to running them one after another;
// an aborted sequence frees its slot within a step; synchronous calls never disturb running generations.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConcurrencyError, DisposedError, loadModel, type BitNetModel } from "../../src/index.ts";
import type { StepStats } from "../../src/model/sequences.ts";
import { DEFAULT_MODEL, fixturePath } from "../helpers/fixtures.ts";

/** A sequence's script: its prompt ids and the tokens it feeds afterwards (fixed, so both runs see the same inputs). */
interface Script {
  prompt: number[];
  feed: number[];
  /** Steps of the shared run to wait before starting (joining mid-stream). */
  startAfter: number;
  /** Leave after this many fed tokens (undefined: run to the end). */
  leaveAfter?: number;
}

function scripts(vocab: number): Script[] {
  const ids = (n: number, seed: number) => Array.from({ length: n }, (_, i) => 3 + ((i * 131 + seed * 977) % (vocab - 3)));
  return [
    { prompt: ids(1, 1), feed: ids(12, 2), startAfter: 0 },
    { prompt: ids(37, 3), feed: ids(9, 4), startAfter: 0 },
    { prompt: ids(5, 5), feed: ids(14, 6), startAfter: 2, leaveAfter: 6 },
    { prompt: ids(70, 7), feed: ids(6, 8), startAfter: 3 },
    { prompt: ids(2, 9), feed: ids(10, 10), startAfter: 6 },
  ];
}

/** Every logits vector the script produces, run on its own sequence of `model` (alone or among others). */
async function runScript(model: BitNetModel, s: Script, ready: Promise<void>): Promise<Float32Array[]> {
  await ready;
  const seq = await model.createSequence({ hint: s.prompt });
  try {
    const out = [await seq.evaluate(s.prompt)];
    const n = s.leaveAfter ?? s.feed.length;
    for (let i = 0; i < n; i++) out.push(await seq.step(s.feed[i]));
    return out;
  } finally {
    seq.dispose();
  }
}

function assertSameBits(a: Float32Array, b: Float32Array, what: string): void {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) assert.fail(`${what}: logit ${i} is ${a[i]} batched, ${b[i]} alone`);
}

for (const [label, file, options] of [
  ["default model, wasm, 2 threads", DEFAULT_MODEL, { threads: 2 }],
  ["bitnet-small-tq1_0 (F16 head), wasm", fixturePath("bitnet-small-tq1_0.gguf"), { threads: 1 }],
  ["bitnet-tiny-tq2_0, reference kernels, F16 KV", fixturePath("bitnet-tiny-tq2_0.gguf"), { backend: "ref" as const, kvCacheType: "f16" as const }],
] as const) {
  describe(`continuous batching: ${label}`, () => {
    let batched: BitNetModel;
    let alone: BitNetModel;
    const steps: StepStats[] = [];
    before(async () => {
      batched = await loadModel(file, { ...options, parallel: 4, batchSize: 32, contextLength: 128 });
      alone = await loadModel(file, { ...options, parallel: 1, batchSize: 32, contextLength: 128 });
      batched.onStep = (s) => steps.push(s);
    });
    after(async () => {
      await batched.dispose();
      await alone.dispose();
    });

    it("every sequence's logits in the batch are bit-identical to the sequence run alone, joining and leaving mid-stream", async () => {
      const all = scripts(batched.config.vocabSize);
      // Joining mid-stream: a script starts once the shared run has made `startAfter` steps.
      const gates = all.map((s) => new Promise<void>((resolve) => {
        const check = (): void => {
          if (steps.length >= s.startAfter) resolve();
          else setTimeout(check, 1);
        };
        check();
      }));
      const together = await Promise.all(all.map((s, i) => runScript(batched, s, gates[i])));
      for (const [i, s] of all.entries()) {
        const own = await runScript(alone, s, Promise.resolve());
        assert.equal(together[i].length, own.length);
        for (let k = 0; k < own.length; k++) assertSameBits(together[i][k], own[k], `sequence ${i}, output ${k}`);
      }
      // It was batching: steps held several sequences, and prompt chunks beside decode tokens.
      assert.ok(steps.some((s) => s.sequences >= 3), `largest step: ${Math.max(...steps.map((s) => s.sequences))} sequences`);
      assert.ok(steps.some((s) => s.decodeTokens > 0 && s.tokens > s.decodeTokens), "a step mixed decoding and a prompt chunk");
      assert.ok(steps.every((s) => s.tokens <= 32), "no step is wider than maxBatch");
    });

    it("concurrent generations on one model give what they give one after another", async () => {
      const opts = [
        { maxTokens: 12, temperature: 0 },
        { maxTokens: 9, temperature: 0.9, seed: 5, topK: 0, topP: 1, minP: 0 },
        { maxTokens: 15, temperature: 1.2, seed: 7 },
      ];
      const prompts = ["And God said", "In the beginning", "The LORD is my shepherd"];
      const collect = async (it: AsyncIterable<{ token: number }>) => {
        const ids: number[] = [];
        for await (const t of it) if (t.token >= 0) ids.push(t.token);
        return ids;
      };
      const sequential: number[][] = [];
      for (let i = 0; i < 3; i++) sequential.push(await collect(alone.generate(prompts[i], opts[i])));
      const concurrent = await Promise.all(prompts.map((p, i) => collect(batched.generate(p, opts[i]))));
      assert.deepEqual(concurrent, sequential);
    });
  });
}

describe("sequences: slots, aborts and the synchronous API", () => {
  let model: BitNetModel;
  before(async () => {
    model = await loadModel(DEFAULT_MODEL, { threads: 1, parallel: 2, contextLength: 64 });
  });
  after(() => model.dispose());

  it("a third sequence waits for a slot, and gets it when one is disposed", async () => {
    const a = await model.createSequence();
    const b = await model.createSequence();
    let got = false;
    const c = model.createSequence().then((s) => ((got = true), s));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(got, false);
    assert.deepEqual(model.sequenceStats, { busy: 2, waiting: 1, slots: 2 });
    a.dispose();
    (await c).dispose();
    b.dispose();
    assert.equal(got, true);
  });

  it("an aborted evaluation rejects, and its slot is free for the next sequence within a step", async () => {
    const seen: number[] = [];
    model.onStep = (s) => seen.push(s.sequences);
    try {
      const abort = new AbortController();
      const gen = model.generate("And God said", { maxTokens: 40, temperature: 0, signal: abort.signal, ignoreEos: true });
      let n = 0;
      await assert.rejects(
        (async () => {
          for await (const _ of gen) if (++n === 3) abort.abort(new DOMException("stop", "AbortError"));
        })(),
        { name: "AbortError" },
      );
      assert.equal(n, 3);
      assert.equal(model.sequenceStats.busy, 0, "the aborted generation gave its slot back");
    } finally {
      model.onStep = null;
    }
  });

  it("synchronous calls during generations use a slot of their own and change nothing", async () => {
    const want = model.logits([1, 2, 3]);
    const reference: number[] = [];
    for await (const t of model.generate("And God said", { maxTokens: 10, temperature: 0 })) if (t.token >= 0) reference.push(t.token);
    const got: number[] = [];
    for await (const t of model.generate("And God said", { maxTokens: 10, temperature: 0 })) {
      if (t.token >= 0) got.push(t.token);
      assertSameBits(model.logits([1, 2, 3]), want, "logits() while generating");
      model.reset();
    }
    assert.deepEqual(got, reference);
  });

  it("with every slot held, a synchronous call fails with a ConcurrencyError instead of waiting", async () => {
    const a = await model.createSequence();
    const b = await model.createSequence();
    try {
      assert.throws(() => model.logits([1, 2]), ConcurrencyError);
    } finally {
      a.dispose();
      b.dispose();
    }
    assert.equal(model.logits([1, 2]).length, model.config.vocabSize);
  });

  it("a sequence's evaluations are one at a time, and bad ids are refused naming the index", async () => {
    const s = await model.createSequence();
    try {
      const first = s.evaluate([1, 2, 3]);
      await assert.rejects(s.evaluate([1, 2, 3, 4]), ConcurrencyError);
      await first;
      await assert.rejects(s.evaluate([1, 99999]), /ids\[1\]: token id 99999 is outside the vocabulary/);
      await assert.rejects(s.evaluate([]), /ids is empty/);
    } finally {
      s.dispose();
    }
  });

  it("disposing the model fails the work that waits", async () => {
    const m = await loadModel(DEFAULT_MODEL, { threads: 1, parallel: 1, contextLength: 32 });
    const a = await m.createSequence();
    const waiting = assert.rejects(m.createSequence(), DisposedError);
    await m.dispose();
    await waiting;
    a.dispose();
  });
});
