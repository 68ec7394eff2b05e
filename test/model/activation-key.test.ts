/**
 * The FFN activation keys: ours (`<arch>.feed_forward_activation`) and llama.cpp's (`<arch>.hidden_activation`,
 * LLM_KV_HIDDEN_ACT) are both read, must agree, and are both written.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { configFromMetadata } from "../../src/model/config.ts";
import { syntheticModel } from "../../src/model/synthetic.ts";

const base = {
  "general.architecture": "bitnet",
  "bitnet.embedding_length": 64,
  "bitnet.attention.head_count": 4,
  "bitnet.feed_forward_length": 128,
  "bitnet.block_count": 1,
  "bitnet.vocab_size": 300,
  "bitnet.context_length": 256,
  "bitnet.attention.layer_norm_rms_epsilon": 1e-5,
};

test("llama.cpp's hidden_activation is read (relu2 on an architecture whose default is SiLU)", () => {
  assert.equal(configFromMetadata(base).activation, "silu");
  assert.equal(configFromMetadata({ ...base, "bitnet.hidden_activation": "relu2" }).activation, "relu2");
  assert.equal(configFromMetadata({ ...base, "bitnet.hidden_activation": "swiglu" }).activation, "silu");
  assert.equal(configFromMetadata({ ...base, "bitnet.hidden_activation": "relu2", "bitnet.feed_forward_activation": "relu2" }).activation, "relu2");
});

test("an activation we do not run, or two keys that disagree, is an error naming the key", () => {
  assert.throws(() => configFromMetadata({ ...base, "bitnet.hidden_activation": "gelu" }, "m.gguf"), /m\.gguf: metadata key 'bitnet\.hidden_activation' is "gelu"/);
  assert.throws(() => configFromMetadata({ ...base, "bitnet.hidden_activation": "relu2", "bitnet.feed_forward_activation": "silu" }, "m.gguf"), /disagree/);
});

test("synthetic models write both keys", () => {
  const { header } = syntheticModel({ architecture: "bitnet-b1.58", dim: 64, ffnDim: 128, nLayers: 1, nHeads: 4, nKvHeads: 4, vocabSize: 300, activation: "relu2", linearType: "tq2_0", embeddingType: "f32", seed: 1 });
  const entries = header.metadata as { key: string; value: unknown }[];
  const get = (k: string) => entries.find((e) => e.key === k)?.value;
  assert.equal(get("bitnet-b1.58.feed_forward_activation"), "relu2");
  assert.equal(get("bitnet-b1.58.hidden_activation"), "relu2");
});
