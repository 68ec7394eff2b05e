// Careless callers: generate/chat/tokenize with arguments of the wrong type get an InvalidArgumentError that
// names the parameter (not a TypeError from deep inside), a Uint8Array prompt is refused rather than read as
// token ids, `stop` takes a string as well as a list, and a text far too long for the context fails before
// it is tokenized.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ContextOverflowError, InvalidArgumentError, loadModel, type BitNetModel } from "../../src/index.ts";
import { DEFAULT_MODEL } from "../helpers/fixtures.ts";

async function drain(it: AsyncIterable<{ text: string }>): Promise<string> {
  let s = "";
  for await (const t of it) s += t.text;
  return s;
}

describe("API arguments", () => {
  let model: BitNetModel;
  before(async () => {
    model = await loadModel(DEFAULT_MODEL, { threads: 1 });
  });
  after(() => model.dispose());

  it("a prompt that is neither text nor token ids is refused naming `prompt`", async () => {
    for (const bad of [123, null, undefined, { text: "x" }, new Uint8Array([1, 2, 3]), [1, "2"], [1.5], [-1]]) {
      await assert.rejects(drain(model.generate(bad as unknown as string)), (e: unknown) => {
        assert.ok(e instanceof InvalidArgumentError, `${String(bad)}: ${String(e)}`);
        assert.equal(e.param, "prompt");
        return true;
      });
    }
  });

  it("stop takes one string or a list of them, and anything else is refused naming `stop`", async () => {
    const one = await drain(model.generate("And God said", { maxTokens: 40, temperature: 0, stop: "LORD" }));
    const list = await drain(model.generate("And God said", { maxTokens: 40, temperature: 0, stop: ["LORD"] }));
    assert.equal(one, list);
    assert.ok(!one.includes("LORD"));
    for (const bad of [5, [""], ["a", 3], { s: "x" }]) {
      await assert.rejects(drain(model.generate("x", { stop: bad as unknown as string })), (e: unknown) => e instanceof InvalidArgumentError && e.param === "stop");
    }
  });

  it("bad options name the option: maxTokens, sampling values, logprobs, overflow, options itself", async () => {
    const cases: [unknown, string][] = [
      [{ maxTokens: -1 }, "maxTokens"], [{ maxTokens: 1.5 }, "maxTokens"], [{ temperature: "hot" }, "temperature"], [{ topP: 2 }, "topP"],
      [{ logprobs: 99 }, "logprobs"], [{ overflow: "drop" }, "overflow"],
    ];
    for (const [opts, param] of cases) {
      await assert.rejects(drain(model.generate("x", opts as object)), (e: unknown) => e instanceof InvalidArgumentError && e.param === param, JSON.stringify(opts));
    }
    await assert.rejects(drain(model.generate("x", "fast" as unknown as object)), (e: unknown) => e instanceof InvalidArgumentError && e.param === "options");
    await assert.rejects(drain(model.chat("hello" as unknown as [])), (e: unknown) => e instanceof InvalidArgumentError && e.param === "messages");
    assert.throws(() => model.tokenize(42 as unknown as string), (e: unknown) => e instanceof InvalidArgumentError && e.param === "text");
  });

  it("a 10-million-character prompt is refused before it is tokenized, with the numbers", async () => {
    const huge = "And God said ".repeat(800_000);
    const t0 = performance.now();
    await assert.rejects(drain(model.generate(huge, { maxTokens: 4 })), (e: unknown) => {
      assert.ok(e instanceof ContextOverflowError);
      assert.equal(e.overflow?.atLeast, true);
      assert.ok((e.overflow?.promptTokens ?? 0) > 256);
      return true;
    });
    assert.ok(performance.now() - t0 < 2000, `refusing took ${(performance.now() - t0).toFixed(0)} ms`);
    // With truncation allowed, only the end of it is tokenized, and the generation runs.
    const tail = await drain(model.generate(huge, { maxTokens: 4, overflow: "truncate", temperature: 0 }));
    assert.equal(typeof tail, "string");
  });
});
