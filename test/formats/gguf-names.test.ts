/**
 * The name table against the real files: the tensor names in the fixtures written by gguf-py
 * (llama.cpp's `bitnet`) and by bitnet.cpp's llama-quantize (`bitnet-b1.58`) are exactly what the
 * table generates, every hyperparameter key they carry is in the table, and the Hugging Face
 * names match transformers' models/bitnet/modeling_bitnet.py module paths (pinned literally here).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readGGUF } from "../../src/formats/gguf/reader.ts";
import {
  Arch,
  BLOCK_TENSORS,
  archKey,
  archKeys,
  blockTensorName,
  ggufToHFName,
  globalTensorName,
  hfToGGUFName,
  parseTensorName,
  GeneralKey,
  TokenizerKey,
  knownValueType,
  metadataEntry,
} from "../../src/formats/gguf/names.ts";
import { bufferSource } from "../../src/formats/source.ts";
import { fixturesDir } from "./helpers.ts";

const MODELS = [
  { file: "bitnet-tiny-tq2_0.gguf", arch: Arch.bitnet },
  { file: "bitnet-small-tq1_0.gguf", arch: Arch.bitnet },
  { file: "bitnet-b158-tiny-i2_s.gguf", arch: Arch.bitnetB158 },
];

describe("GGUF name table matches the fixtures", () => {
  for (const m of MODELS) {
    it(m.file, async () => {
      const path = fixturesDir + m.file;
      const file = await readGGUF(bufferSource(readFileSync(path), path));
      assert.equal(file.metadata[GeneralKey.architecture], m.arch);
      const layers = file.metadata[archKey(m.arch, "blockCount")] as number;
      // Tied head: no `output.weight` in these fixtures.
      const expected = [globalTensorName("token_embd"), globalTensorName("output_norm")];
      for (let l = 0; l < layers; l++) for (const t of BLOCK_TENSORS) expected.push(blockTensorName(l, t));
      assert.deepStrictEqual(file.tensors.map((t) => t.name).sort(), expected.sort());

      const known = new Set([...Object.values(archKeys(m.arch)), ...Object.values(GeneralKey), ...Object.values(TokenizerKey)]);
      for (const key of file.metadataKeys) {
        assert.ok(known.has(key), `key ${key} is in the table`);
        // gguf-py and llama-quantize chose these types; the table must agree so our writer does too.
        assert.deepStrictEqual(knownValueType(key), file.metadataTypes[key], key);
      }

      for (const t of file.tensors) {
        const p = parseTensorName(t.name);
        assert.ok(p, t.name);
        const rebuilt = p.layer === undefined ? globalTensorName(p.base as "token_embd", p.suffix) : blockTensorName(p.layer, p.base as "attn_q", p.suffix);
        assert.equal(rebuilt, t.name);
        assert.equal(hfToGGUFName(ggufToHFName(t.name) as string), t.name);
      }
    });
  }
});

describe("Hugging Face names", () => {
  it("follow transformers' BitNet module paths", () => {
    const pairs: [string, string][] = [
      ["token_embd.weight", "model.embed_tokens.weight"],
      ["output_norm.weight", "model.norm.weight"],
      ["output.weight", "lm_head.weight"],
      ["blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"],
      ["blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"],
      ["blk.0.attn_k.weight", "model.layers.0.self_attn.k_proj.weight"],
      ["blk.0.attn_v.weight", "model.layers.0.self_attn.v_proj.weight"],
      ["blk.0.attn_output.weight", "model.layers.0.self_attn.o_proj.weight"],
      ["blk.0.attn_sub_norm.weight", "model.layers.0.self_attn.attn_sub_norm.weight"],
      ["blk.12.ffn_norm.weight", "model.layers.12.post_attention_layernorm.weight"],
      ["blk.12.ffn_gate.weight", "model.layers.12.mlp.gate_proj.weight"],
      ["blk.12.ffn_up.weight", "model.layers.12.mlp.up_proj.weight"],
      ["blk.12.ffn_down.weight", "model.layers.12.mlp.down_proj.weight"],
      ["blk.12.ffn_sub_norm.weight", "model.layers.12.mlp.ffn_sub_norm.weight"],
      ["blk.29.attn_q.scale", "model.layers.29.self_attn.q_proj.weight_scale"],
      ["blk.3.ffn_down.scale", "model.layers.3.mlp.down_proj.weight_scale"],
    ];
    for (const [g, h] of pairs) {
      assert.equal(ggufToHFName(g), h);
      assert.equal(hfToGGUFName(h), g);
    }
  });

  it("leave names outside the table alone", () => {
    for (const n of ["model.rotary_emb.inv_freq", "model.layers.0.self_attn.q_proj.bias", "model.layers.01.mlp.up_proj.weight", "foo.weight"]) {
      assert.equal(hfToGGUFName(n), undefined, n);
    }
    for (const n of ["blk.0.attn_qkv.weight", "blk.x.attn_q.weight", "token_embd.bias", "blk.00.attn_q.weight"]) {
      assert.equal(parseTensorName(n), undefined, n);
      assert.equal(ggufToHFName(n), undefined, n);
    }
    assert.throws(() => blockTensorName(-1, "attn_q"), /layer index must be a non-negative integer/);
  });
});

describe("metadata key builders", () => {
  it("spell llama.cpp's keys", () => {
    assert.equal(archKey("bitnet", "embeddingLength"), "bitnet.embedding_length");
    assert.equal(archKey("bitnet-b1.58", "headCountKv"), "bitnet-b1.58.attention.head_count_kv");
    assert.equal(archKey("bitnet", "rmsEpsilon"), "bitnet.attention.layer_norm_rms_epsilon");
    assert.equal(archKeys("llama").ropeFreqBase, "llama.rope.freq_base");
  });

  it("type known keys as llama.cpp reads them, and leave the rest to inference", () => {
    assert.deepStrictEqual(metadataEntry("bitnet-b1.58.rope.freq_base", 500000), { key: "bitnet-b1.58.rope.freq_base", value: 500000, type: { type: 6 } });
    assert.deepStrictEqual(knownValueType("bitnet.attention.head_count_kv"), { type: 4 });
    assert.deepStrictEqual(metadataEntry("my.custom", 1), { key: "my.custom", value: 1 });
    assert.equal(knownValueType("rope.freq_base"), undefined);
  });
});
