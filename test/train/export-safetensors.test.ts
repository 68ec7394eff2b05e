/**
 * The Hugging Face export (src/train/export-safetensors.ts through src/node/export-hf-dir.ts), read back with our
 * safetensors reader and unpacked with hf-packed.ts: codes and γ equal the training side's absmean result, the
 * float tensors equal the parameters, config.json carries what transformers' BitNetForCausalLM reads. The layout's
 * meaning is checked against the independent float64 forward of test/helpers/ref64.ts, built from the HF
 * tensors alone (W = unpacked codes × weight_scale, transformers' AutoBitLinear convention): its logits equal the
 * training forward's. tokenizer.json is checked with @huggingface/tokenizers against the test's reference encoder.
 * Also: bf16, an fp model, and the directory's atomicity.
 */

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { GGMLType } from "../../src/formats/gguf/types.ts";
import { exportHFDir } from "../../src/node/export-hf-dir.ts";
import { openSafetensors, type SafetensorsCollection } from "../../src/node/safetensors-dir.ts";
import { quantizeAbsmean } from "../../src/quant/absmean.ts";
import { codecFor } from "../../src/quant/codecs/index.ts";
import { unpackHf } from "../../src/quant/codecs/hf-packed.ts";
import { bf16ToF32, f32ToBf16 } from "../../src/quant/half.ts";
import { createActivations } from "../../src/train/acts.ts";
import { forward } from "../../src/train/model.ts";
import { createParamSet, initParams, type ParamSet } from "../../src/train/params.ts";
import { params64, referenceForward, trainWeights64, type RefLayer, type RefModel } from "../helpers/ref64.ts";
import { CORPUS, encodeReference, testConfig, trainTestBpe } from "./export-helpers.ts";

const root = mkdtempSync(join(tmpdir(), "bitnet-export-hf-"));
after(() => rmSync(root, { recursive: true, force: true }));

const vocab = trainTestBpe(CORPUS, 24);
const VOCAB = 304;

function model(activation: "silu" | "relu2", weights: "ternary" | "fp" = "ternary"): ParamSet {
  const p = createParamSet(testConfig(activation, VOCAB, weights));
  initParams(p, 11);
  for (const s of p.layout) if (s.kind === "norm") for (let i = 0; i < s.size; i++) p.data[s.offset + i] = 1 + 0.02 * ((i % 5) - 2);
  return p;
}

const HF_LINEAR: Record<string, string> = {
  attn_q: "self_attn.q_proj", attn_k: "self_attn.k_proj", attn_v: "self_attn.v_proj", attn_output: "self_attn.o_proj",
  ffn_gate: "mlp.gate_proj", ffn_up: "mlp.up_proj", ffn_down: "mlp.down_proj",
};
const HF_NORM: Record<string, string> = {
  attn_norm: "input_layernorm", attn_sub_norm: "self_attn.attn_sub_norm", ffn_norm: "post_attention_layernorm", ffn_sub_norm: "mlp.ffn_sub_norm",
};

async function floats(st: SafetensorsCollection, name: string): Promise<Float32Array> {
  const t = st.tensor(name);
  assert.ok(t, `${name} is in the checkpoint`);
  const type = t.dtype === "F32" ? GGMLType.F32 : t.dtype === "BF16" ? GGMLType.BF16 : -1;
  assert.ok(type >= 0, `${name} is a float tensor, got ${t.dtype}`);
  return codecFor(type).dequantize(await st.readTensor(t), [t.shape.reduce((a, b) => a * b, 1)]);
}

test("ternary relu2 model: config.json, packed codes and weight_scale equal the training side's absmean result", async () => {
  const p = model("relu2");
  const dir = join(root, "relu2");
  const files = await exportHFDir(p, vocab, dir);
  assert.deepEqual(files, ["config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]);
  assert.deepEqual(readdirSync(dir).sort(), files);

  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  const want: Record<string, unknown> = {
    architectures: ["BitNetForCausalLM"], model_type: "bitnet", hidden_act: "relu2", vocab_size: VOCAB, hidden_size: 256,
    intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, rope_theta: 10000,
    rms_norm_eps: 1e-5, tie_word_embeddings: true, max_position_embeddings: 64, torch_dtype: "float32",
    bos_token_id: vocab.bos, eos_token_id: vocab.eos,
    quantization_config: { quant_method: "bitnet", linear_class: "autobitlinear", quantization_mode: "offline" },
  };
  for (const [k, v] of Object.entries(want)) assert.deepEqual(config[k], v, `config.json ${k}`);

  const st = await openSafetensors(dir);
  try {
    assert.equal(st.tensors.length, 1 + 2 * (4 + 7 * 2) + 1, "embedding, 4 norms + 7 weights with scales per layer, final norm");
    assert.equal(st.tensor("lm_head.weight"), undefined, "tied head");
    assert.deepEqual(await floats(st, "model.embed_tokens.weight"), p.tensors.token_embd);
    assert.deepEqual(await floats(st, "model.norm.weight"), p.tensors.output_norm);
    for (let l = 0; l < 2; l++) {
      for (const [g, hf] of Object.entries(HF_NORM)) assert.deepEqual(await floats(st, `model.layers.${l}.${hf}.weight`), p.byName.get(`blk.${l}.${g}`), `${g}`);
      for (const [g, hf] of Object.entries(HF_LINEAR)) {
        const name = `model.layers.${l}.${hf}.weight`;
        const t = st.tensor(name);
        const latent = p.byName.get(`blk.${l}.${g}`) as Float32Array;
        const spec = p.layout.find((s) => s.name === `blk.${l}.${g}`);
        const [rows, cols] = spec?.shape ?? [];
        assert.equal(t?.dtype, "U8", name);
        assert.deepEqual(t?.shape, [rows / 4, cols], `${name}: packed [out/4, in]`);
        const { codes, gamma } = quantizeAbsmean(latent, name);
        assert.deepEqual(unpackHf(await st.readTensor(name), [cols, rows], name), codes, `${name} codes`);
        const scale = st.tensor(`model.layers.${l}.${hf}.weight_scale`);
        assert.equal(scale?.dtype, "F32");
        assert.deepEqual(scale?.shape, [1]);
        assert.deepEqual(await floats(st, `model.layers.${l}.${hf}.weight_scale`), Float32Array.of(gamma), `${name}: weight_scale is γ`);
      }
    }
  } finally {
    await st.close();
  }
});

/** The float64 model of the training side itself: absmean codes·γ of each latent weight, float norms and embedding. */
function refFromParams(p: ParamSet, actQuant: RefModel["actQuant"]): RefModel {
  const P = params64(p);
  for (const s of p.layout) {
    if (s.kind !== "linear") continue;
    const { codes, gamma } = quantizeAbsmean(p.byName.get(s.name) as Float32Array);
    P.set(s.name, Float64Array.from(codes, (k) => k * gamma));
  }
  return { ...trainWeights64(p.config, P), actQuant };
}

/**
 * The float64 model that the HF directory describes, read the way transformers reads it: names from its module
 * tree (written out above, not taken from names.ts), sizes and activation from config.json, W = unpacked codes ×
 * weight_scale (AutoBitLinear multiplies), tied head.
 */
async function refFromHFDir(dir: string): Promise<RefModel> {
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as {
    hidden_size: number; intermediate_size: number; num_hidden_layers: number; num_attention_heads: number; num_key_value_heads: number;
    vocab_size: number; rms_norm_eps: number; rope_theta: number; hidden_act: "silu" | "relu2";
  };
  const st = await openSafetensors(dir);
  try {
    const f64 = async (name: string) => Float64Array.from(await floats(st, name));
    const ternary = async (module: string): Promise<Float64Array> => {
      const t = st.tensor(`${module}.weight`);
      assert.ok(t, module);
      const codes = unpackHf(await st.readTensor(t), [t.shape[1], t.shape[0] * 4]);
      const [scale] = await floats(st, `${module}.weight_scale`);
      return Float64Array.from(codes, (k) => k * scale);
    };
    const layers: RefLayer[] = [];
    for (let l = 0; l < config.num_hidden_layers; l++) {
      const m = `model.layers.${l}`;
      layers.push({
        attn_norm: await f64(`${m}.input_layernorm.weight`),
        attn_q: await ternary(`${m}.self_attn.q_proj`),
        attn_k: await ternary(`${m}.self_attn.k_proj`),
        attn_v: await ternary(`${m}.self_attn.v_proj`),
        attn_sub_norm: await f64(`${m}.self_attn.attn_sub_norm.weight`),
        attn_output: await ternary(`${m}.self_attn.o_proj`),
        ffn_norm: await f64(`${m}.post_attention_layernorm.weight`),
        ffn_gate: await ternary(`${m}.mlp.gate_proj`),
        ffn_up: await ternary(`${m}.mlp.up_proj`),
        ffn_sub_norm: await f64(`${m}.mlp.ffn_sub_norm.weight`),
        ffn_down: await ternary(`${m}.mlp.down_proj`),
      });
    }
    const embd = await f64("model.embed_tokens.weight");
    return {
      dim: config.hidden_size, ffn: config.intermediate_size, heads: config.num_attention_heads, kvHeads: config.num_key_value_heads,
      vocab: config.vocab_size, eps: config.rms_norm_eps, theta: config.rope_theta, act: config.hidden_act,
      actQuant: "token", embd, outputNorm: await f64("model.norm.weight"), output: embd, layers,
    };
  } finally {
    await st.close();
  }
}

/**
 * Exact: the float64 forward of the model the HF files describe equals, bit for bit, the float64 forward of the
 * training side's quantized model. Loose: against the float32 training forward itself. Activation codes that
 * round differently in float64 and float32 (a product within ~1e-7 of a .5 tie) change by one step and the
 * change grows through later layers: seen up to 1.6e-2 on these random models, whose logits reach ~0.6. A wrong
 * name, layout or scale convention moves logits by about their own size.
 */
test("the HF tensors mean the trained model: their float64 forward equals the training side's quantized model exactly", async () => {
  for (const activation of ["silu", "relu2"] as const) {
    const p = model(activation);
    const dir = join(root, `semantics-${activation}`);
    await exportHFDir(p, vocab, dir);
    const tokens = encodeReference(vocab, "the cat sat on the mat.");
    const fromHF = referenceForward(await refFromHFDir(dir), tokens);
    const fromParams = referenceForward(refFromParams(p, "token"), tokens);
    assert.deepEqual(fromHF, fromParams, `${activation}: same float64 logits`);

    const acts = createActivations(p.config, 1, tokens.length);
    forward(p, acts, Int32Array.from(tokens), null, 1, tokens.length);
    let d = 0;
    let big = 0;
    fromHF.forEach((row, t) => row.forEach((v, k) => {
      d = Math.max(d, Math.abs(v - acts.logits[t * VOCAB + k]));
      big = Math.max(big, Math.abs(v));
    }));
    assert.ok(big > 0.3, `${activation}: logits are not trivially small (max ${big})`);
    assert.ok(d < 3e-2, `${activation}: float64 forward from the HF tensors vs the float32 training forward: max |Δlogit| ${d}`);
  }
});

test("tokenizer.json read by @huggingface/tokenizers encodes like the reference encoder; tokenizer_config has no BOS", async () => {
  const dir = join(root, "relu2");
  const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")) as object;
  const cfg = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
  const hf = new HfTokenizer(json, cfg);
  for (const text of ["the cat sat on the mat.", "isn't it? that's the end;", "  two  spaces\nand 42 dogs!!"]) {
    assert.deepEqual(hf.encode(text, { add_special_tokens: false }).ids, encodeReference(vocab, text), JSON.stringify(text));
  }
  assert.equal(cfg.add_bos_token, false);
  assert.equal(cfg.bos_token, "<|begin_of_text|>");
  assert.equal(cfg.eos_token, "<|end_of_text|>");
});

test("bf16: weight_scale, norms and embedding rounded to bf16; an fp model has plain weights and no quantization_config", async () => {
  const p = model("silu");
  const dir = join(root, "bf16");
  await exportHFDir(p, vocab, dir, { floatDtype: "bf16" });
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  assert.equal(config.torch_dtype, "bfloat16");
  assert.equal(config.hidden_act, "silu");
  let st = await openSafetensors(dir);
  const { gamma } = quantizeAbsmean(p.byName.get("blk.1.ffn_up") as Float32Array);
  assert.equal(st.tensor("model.layers.1.mlp.up_proj.weight_scale")?.dtype, "BF16");
  assert.deepEqual(await floats(st, "model.layers.1.mlp.up_proj.weight_scale"), Float32Array.of(bf16ToF32(f32ToBf16(gamma))));
  assert.deepEqual(await floats(st, "model.norm.weight"), Float32Array.from(p.tensors.output_norm, (v) => bf16ToF32(f32ToBf16(v))));
  await st.close();

  const fp = model("silu", "fp");
  const fpDir = join(root, "fp");
  await exportHFDir(fp, vocab, fpDir);
  const fpConfig = JSON.parse(readFileSync(join(fpDir, "config.json"), "utf8")) as Record<string, unknown>;
  assert.equal(fpConfig.quantization_config, undefined);
  st = await openSafetensors(fpDir);
  assert.equal(st.tensor("model.layers.0.self_attn.k_proj.weight_scale"), undefined);
  assert.deepEqual(st.tensor("model.layers.0.self_attn.k_proj.weight")?.shape, [128, 256]);
  assert.deepEqual(await floats(st, "model.layers.0.self_attn.k_proj.weight"), fp.byName.get("blk.0.attn_k"));
  await st.close();
});

test("the directory appears whole or not at all: an existing target is refused unless overwrite, a failure leaves nothing", async () => {
  const p = model("relu2");
  const dir = join(root, "atomic");
  mkdirSync(dir);
  writeFileSync(join(dir, "old.txt"), "old");
  await assert.rejects(exportHFDir(p, vocab, dir), /already exists \(pass overwrite to replace it\)/);
  assert.deepEqual(readdirSync(dir), ["old.txt"]);
  await exportHFDir(p, vocab, dir, { overwrite: true });
  assert.equal(existsSync(join(dir, "old.txt")), false);
  assert.ok(existsSync(join(dir, "model.safetensors")));

  const failed = join(root, "failed");
  await assert.rejects(exportHFDir(p, { ...vocab, pre: "qwen2" }, failed), /tokenizer.json is written for the gpt-2 pre-tokenizer only/);
  const odd = createParamSet({ ...testConfig("silu", VOCAB), nKvHeads: 1, nHeads: 2, dim: 254 + 2, ffnDim: 258 });
  initParams(odd, 1);
  await assert.rejects(exportHFDir(odd, vocab, failed), /gate_proj\.weight. has 258 output rows; packed ternary weights need a multiple of 4/);
  assert.equal(existsSync(failed), false);
  assert.deepEqual(readdirSync(root).filter((n) => n.startsWith(".")), [], "no temporary directories left behind");
});
