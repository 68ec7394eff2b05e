/**
 * Careless and hostile Hugging Face checkpoint directories: every one is refused with a typed, one-line error that
 * names the file and the key or tensor at fault, before any weight is used.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { InvalidFileError, UnsupportedModelError, type BitNetError } from "../../src/errors.ts";
import { openHFCheckpoint } from "../../src/formats/hf/checkpoint.ts";
import { memoryDirectory } from "../../src/formats/hf/directory.ts";
import { writeSafetensors } from "../../src/formats/safetensors/writer.ts";
import { memorySink } from "../../src/formats/sink.ts";
import { HF_FIXTURES } from "../helpers/hf-fixtures.ts";

type Files = Record<string, Uint8Array | string>;

function fixtureFiles(layout: string): Files {
  const out: Files = {};
  for (const f of readdirSync(`${HF_FIXTURES}${layout}`)) out[f] = new Uint8Array(readFileSync(`${HF_FIXTURES}${layout}/${f}`));
  return out;
}

function json(files: Files, name: string): Record<string, unknown> {
  const v = files[name];
  return JSON.parse(typeof v === "string" ? v : new TextDecoder().decode(v)) as Record<string, unknown>;
}

async function rejects(files: Files, cls: typeof InvalidFileError | typeof UnsupportedModelError, ...mentions: string[]): Promise<void> {
  const dir = memoryDirectory("models/x", files);
  await assert.rejects(
    async () => {
      const ckpt = await openHFCheckpoint(dir);
      // Conversion errors surface when a tensor is read.
      for (const t of ckpt.tensors) await ckpt.readTensor(t);
    },
    (err: BitNetError) => {
      assert.ok(err instanceof cls, `${err.name}: ${err.message}`);
      assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
      for (const m of mentions) assert.ok(err.message.includes(m), `'${err.message}' mentions ${m}`);
      return true;
    },
  );
}

function withConfig(layout: string, edit: (c: Record<string, unknown>) => void): Files {
  const files = fixtureFiles(layout);
  const c = json(files, "config.json");
  edit(c);
  files["config.json"] = JSON.stringify(c);
  return files;
}

test("a missing shard names the index and the shard", async () => {
  const files = fixtureFiles("llama3-1.58-sharded");
  delete files["model-00002-of-00002.safetensors"];
  await rejects(files, InvalidFileError, "model.safetensors.index.json", "model-00002-of-00002.safetensors");
});

test("an index entry that leaves the directory is refused", async () => {
  const files = fixtureFiles("llama3-1.58-sharded");
  const index = json(files, "model.safetensors.index.json");
  (index.weight_map as Record<string, string>)["model.norm.weight"] = "../../etc/passwd";
  files["model.safetensors.index.json"] = JSON.stringify(index);
  await rejects(files, InvalidFileError, "weight_map", "model.norm.weight");
});

test("a shape that does not match config.json names the shard and the tensor", async () => {
  await rejects(withConfig("bitnet-2b4t", (c) => (c.intermediate_size = 256)), InvalidFileError, "model.safetensors", "gate_proj.weight", "config.json implies");
});

test("an unknown quant_method, linear_class or quantization_mode names config.json and the key", async () => {
  await rejects(withConfig("bitnet-2b4t", (c) => ((c.quantization_config as Record<string, unknown>).quant_method = "gptq")), UnsupportedModelError, "config.json", "quant_method", "gptq");
  await rejects(withConfig("bitnet-2b4t", (c) => ((c.quantization_config as Record<string, unknown>).linear_class = "fancy")), UnsupportedModelError, "config.json", "linear_class");
  await rejects(withConfig("bitnet-2b4t", (c) => ((c.quantization_config as Record<string, unknown>).quantization_mode = "maybe")), UnsupportedModelError, "config.json", "quantization_mode");
  await rejects(withConfig("bitnet-2b4t", (c) => ((c.quantization_config as Record<string, unknown>).use_rms_norm = true)), UnsupportedModelError, "config.json", "use_rms_norm");
});

test("a BitNet model without quantization_config is not run as if it were ternary", async () => {
  await rejects(withConfig("bitnet-2b4t", (c) => delete c.quantization_config), UnsupportedModelError, "config.json", "quantization_config");
});

test("a missing or malformed config key names config.json and the key", async () => {
  await rejects(withConfig("bitnet-2b4t", (c) => delete c.hidden_size), InvalidFileError, "config.json", "hidden_size");
  await rejects(withConfig("bitnet-2b4t", (c) => (c.num_hidden_layers = "two")), InvalidFileError, "config.json", "num_hidden_layers");
  await rejects(withConfig("bitnet-2b4t", (c) => (c.architectures = ["MistralForCausalLM"])), UnsupportedModelError, "config.json", "MistralForCausalLM");
  await rejects(withConfig("bitnet-2b4t", (c) => (c.hidden_act = "gelu")), UnsupportedModelError, "config.json", "hidden_act");
  await rejects(withConfig("bitnet-2b4t", (c) => (c.rope_scaling = { rope_type: "llama3", factor: 8 })), UnsupportedModelError, "config.json", "llama3");
  const files = fixtureFiles("bitnet-2b4t");
  files["config.json"] = "{ not json";
  await rejects(files, InvalidFileError, "config.json", "not valid JSON");
  delete files["config.json"];
  await rejects(files, InvalidFileError, "config.json", "missing");
});

test("a tokenizer model type we do not read names tokenizer.json", async () => {
  const files = fixtureFiles("bitnet-2b4t");
  const tj = json(files, "tokenizer.json");
  (tj.model as Record<string, unknown>).type = "Unigram";
  files["tokenizer.json"] = JSON.stringify(tj);
  await rejects(files, UnsupportedModelError, "tokenizer.json", "Unigram");
  const noJson = fixtureFiles("1bitllm");
  delete noJson["tokenizer.json"];
  noJson["tokenizer.model"] = new Uint8Array(4);
  await rejects(noJson, UnsupportedModelError, "tokenizer.json", "tokenizer.model");
});

test("an unknown split regex is refused rather than guessed", async () => {
  const files = fixtureFiles("bitnet-2b4t");
  const tj = json(files, "tokenizer.json");
  const pre = tj.pre_tokenizer as { pretokenizers: { pattern?: { Regex: string } }[] };
  pre.pretokenizers[0].pattern = { Regex: "\\w+|\\s+" };
  files["tokenizer.json"] = JSON.stringify(tj);
  await rejects(files, UnsupportedModelError, "tokenizer.json", "split regex");
});

/** Rewrites model.safetensors of a layout with `edit` applied to its tensor list. */
async function withTensors(layout: string, edit: (t: { name: string; dtype: string; shape: number[]; data: Uint8Array }[]) => void): Promise<Files> {
  const files = fixtureFiles(layout);
  const { readSafetensors } = await import("../../src/formats/safetensors/reader.ts");
  const { bufferSource } = await import("../../src/formats/source.ts");
  const st = await readSafetensors(bufferSource(files["model.safetensors"] as Uint8Array));
  const tensors = await Promise.all(st.tensors.map(async (t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: await st.readTensor(t) })));
  edit(tensors);
  const sink = memorySink();
  await writeSafetensors(sink, tensors.map((t) => ({ name: t.name, dtype: t.dtype as "F32", shape: t.shape })), (i) => tensors[i].data);
  files["model.safetensors"] = sink.bytes();
  return files;
}

test("a missing weight_scale, a missing tensor and an unknown tensor each name the tensor", async () => {
  await rejects(await withTensors("bitnet-2b4t", (t) => t.splice(t.findIndex((x) => x.name.endsWith("layers.1.mlp.up_proj.weight_scale")), 1)), InvalidFileError, "model.layers.1.mlp.up_proj.weight_scale");
  await rejects(await withTensors("bitnet-2b4t", (t) => t.splice(t.findIndex((x) => x.name === "model.norm.weight"), 1)), InvalidFileError, "model.norm.weight", "missing");
  await rejects(
    await withTensors("bitnet-2b4t", (t) => t.push({ name: "model.layers.2.input_layernorm.weight", dtype: "F32", shape: [1], data: new Uint8Array(4) })),
    InvalidFileError,
    "model.layers.2.input_layernorm.weight",
  );
});

test("packed codes of 3 and a non-finite weight_scale are refused when read", async () => {
  await rejects(
    await withTensors("bitnet-2b4t", (t) => {
      const q = t.find((x) => x.name === "model.layers.0.self_attn.q_proj.weight")!;
      q.data = q.data.slice();
      q.data[5] = 0xff;
    }),
    InvalidFileError,
    "q_proj.weight",
    "code 3",
  );
  await rejects(
    await withTensors("bitnet-2b4t", (t) => {
      const s = t.find((x) => x.name === "model.layers.0.self_attn.q_proj.weight_scale")!;
      s.data = Uint8Array.of(0xc0, 0x7f); // bf16 NaN
    }),
    InvalidFileError,
    "q_proj.weight_scale",
  );
});
