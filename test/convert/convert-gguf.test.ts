/**
 * convertGGUF (the library behind `bitnet convert`) against independent references:
 * - @huggingface/gguf reads every converted fixture back with the same names, shapes and metadata, and the
 *   expected types;
 * - llama.cpp (node-llama-cpp) gives the same last logits for a model and its ternary conversion;
 * - gguf-py's own dequantization (tq-layout.gguf `.expected`) for a TQ matrix with per-block scales;
 * - a float64 absmean and SPEC-layout TQ2_0 / I2_S decoders written in the test (helpers.ts).
 * Also: what I2_S → TQ2_0 → I2_S loses (the fp16 scale), refusals, atomicity and streaming order.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { conversionWarnings, convertGGUF, type ConvertOptions, type ConvertResult } from "../../src/convert/convert-gguf.ts";
import { readGGUF, type GGUFFile } from "../../src/formats/gguf/reader.ts";
import { GGMLType } from "../../src/formats/gguf/types.ts";
import { GGUFValueType } from "../../src/formats/gguf/value-types.ts";
import { writeGGUF, type GGUFMetadataEntry } from "../../src/formats/gguf/writer.ts";
import { memorySink, type ByteSink } from "../../src/formats/sink.ts";
import { bufferSource, type ByteSource } from "../../src/formats/source.ts";
import { atomicFileSink } from "../../src/node/atomic-file-sink.ts";
import { codecFor } from "../../src/quant/codecs/index.ts";
import { fixturesDir, readWithHuggingFace, tempDir } from "../formats/helpers.ts";
import { disposeLlamaCpp, llamaCppLastLogits } from "../helpers/llamacpp.ts";
import { maxAbsDiff } from "../helpers/compare.ts";
import { specI2S, specTq2_0 } from "../helpers/spec-codecs.ts";
import { absmean64, f16round, gaussian } from "./helpers.ts";

const tmp = tempDir("convert");
after(async () => {
  tmp.remove();
  await disposeLlamaCpp();
});

const LINEAR = /^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/;
/** llama_ftype numbers, from llama.cpp include/llama.h (v0.5.0) and bitnet.cpp's fork for I2_S. */
const FTYPE = { f32: 0, f16: 1, tq1_0: 36, tq2_0: 37, i2_s: 40 } as const;
const TYPE_ID = { f32: 0, f16: 1, tq1_0: 34, tq2_0: 35, i2_s: 36 } as const;

function fixture(name: string): string {
  return join(fixturesDir, name);
}

async function parse(bytes: Uint8Array, name = "<converted>"): Promise<GGUFFile> {
  return readGGUF(bufferSource(bytes, name));
}

async function convertBytes(bytes: Uint8Array, options: ConvertOptions, name = "in.gguf"): Promise<{ bytes: Uint8Array; result: ConvertResult }> {
  const sink = memorySink();
  const result = await convertGGUF(await parse(bytes, name), sink, options);
  return { bytes: sink.bytes(), result };
}

async function values(file: GGUFFile, name: string): Promise<Float32Array> {
  const t = file.tensor(name);
  assert.ok(t, name);
  return codecFor(t.type).dequantize(await file.readTensor(t), t.shape, name);
}

async function writeModel(metadata: GGUFMetadataEntry[], tensors: { name: string; shape: number[]; type: number; data: Uint8Array }[]): Promise<Uint8Array> {
  const sink = memorySink();
  await writeGGUF(sink, { metadata, tensors }, (i) => tensors[i].data);
  return sink.bytes();
}

function f32Bytes(v: Float32Array): Uint8Array {
  return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
}

const bitnetMeta: GGUFMetadataEntry[] = [
  { key: "general.architecture", value: "bitnet", type: { type: GGUFValueType.STRING } },
  { key: "general.file_type", value: 0, type: { type: GGUFValueType.UINT32 } },
];

describe("converted fixtures read back with @huggingface/gguf", () => {
  const models = ["bitnet-tiny-tq2_0.gguf", "bitnet-small-tq1_0.gguf", "bitnet-b158-tiny-i2_s.gguf"];
  const targets = ["tq2_0", "tq1_0", "i2_s", "f16"] as const;
  for (const model of models) {
    for (const target of targets) {
      it(`${model} -> ${target}: same names, shapes and metadata, linear tensors ${target}, values kept`, async () => {
        const input = readFileSync(fixture(model));
        const { bytes } = await convertBytes(input, { type: target });
        const outPath = join(tmp.path, `${model}.${target}.gguf`);
        writeFileSync(outPath, bytes);
        const src = await readWithHuggingFace(fixture(model));
        const out = await readWithHuggingFace(outPath);
        assert.deepEqual(
          out.tensors.map((t) => [t.name, t.shape]),
          src.tensors.map((t) => [t.name, t.shape]),
        );
        assert.deepEqual(
          out.tensors.map((t) => t.type),
          src.tensors.map((t) => (LINEAR.test(t.name) ? TYPE_ID[target] : t.type)),
        );
        // A ReLU² architecture that names no activation gains both activation keys (ours and llama.cpp's).
        const arch = String(src.metadata["general.architecture"]);
        const added: Record<string, string> = arch === "bitnet-b1.58" ? { [`${arch}.feed_forward_activation`]: "relu2", [`${arch}.hidden_activation`]: "relu2" } : {};
        assert.deepEqual(Object.keys(out.metadata), [...Object.keys(src.metadata), ...Object.keys(added)]);
        assert.deepEqual(Object.fromEntries(Object.entries(out.types).filter(([k]) => !(k in added))), src.types);
        assert.deepEqual({ ...out.metadata, "general.file_type": undefined }, { ...src.metadata, ...added, "general.file_type": undefined });
        assert.equal(out.metadata["general.file_type"], FTYPE[target]);

        // Values: non-linear tensors byte for byte; linear ones equal, except that fp16 cannot hold an i2_s f32 scale.
        const a = await parse(input);
        const b = await parse(bytes);
        for (const t of a.tensors) {
          if (!LINEAR.test(t.name)) {
            assert.deepEqual(await b.readTensor(t.name), await a.readTensor(t), t.name);
            continue;
          }
          const before = await values(a, t.name);
          const after = await values(b, t.name);
          if (t.type === GGMLType.I2_S && target !== "i2_s") {
            const gamma = before.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
            const rounded = f16round(gamma);
            for (let i = 0; i < before.length; i++) assert.equal(after[i], Math.sign(before[i]) * rounded, `${t.name}[${i}]`);
          } else {
            assert.deepEqual(after, before, t.name);
          }
        }
      });
    }
  }
});

describe("llama.cpp gives the same logits before and after conversion", () => {
  const prompt = (JSON.parse(readFileSync(fixture("bitnet-tiny-tq2_0.ref.json"), "utf8")) as { prompt: number[] }).prompt;
  for (const [model, target] of [
    ["bitnet-tiny-tq2_0.gguf", "tq1_0"],
    ["bitnet-small-tq1_0.gguf", "tq2_0"],
  ] as const) {
    it(`${model} and its ${target} conversion: last logits within 1e-5`, async () => {
      const outPath = join(tmp.path, `llama-${model}.${target}.gguf`);
      writeFileSync(outPath, (await convertBytes(readFileSync(fixture(model)), { type: target })).bytes);
      const original = await llamaCppLastLogits(fixture(model), prompt);
      const converted = await llamaCppLastLogits(outPath, prompt);
      assert.equal(converted.length, 512);
      const diff = maxAbsDiff(converted, original);
      assert.ok(diff <= 1e-5, `max |Δlogit| = ${diff}`);
    });
  }
});

describe("re-packing keeps the matrix's own scale", () => {
  it("bitnet-tiny-tq2_0 -> tq2_0 is the same file, byte for byte", async () => {
    const input = readFileSync(fixture("bitnet-tiny-tq2_0.gguf"));
    const { bytes, result } = await convertBytes(input, { type: "tq2_0" });
    assert.ok(Buffer.from(bytes).equals(input));
    assert.ok(result.tensors.every((t) => t.method === "copy"));
  });

  it("I2_S -> TQ2_0 -> I2_S: codes unchanged, γ becomes f16round(γ) (relative change ≤ 2^-11), reported as a warning", async () => {
    const input = readFileSync(fixture("bitnet-b158-tiny-i2_s.gguf"));
    const tq = await convertBytes(input, { type: "tq2_0" });
    const back = await convertBytes(tq.bytes, { type: "i2_s" });
    const a = await parse(input);
    const b = await parse(tq.bytes);
    const c = await parse(back.bytes);
    let worst = 0;
    for (const t of a.tensors.filter((x) => LINEAR.test(x.name))) {
      const n = t.shape[0] * t.shape[1];
      const orig = specI2S(await a.readTensor(t), n);
      const mid = specTq2_0(await b.readTensor(t.name), n);
      const end = specI2S(await c.readTensor(t.name), n);
      assert.deepEqual(mid.codes, orig.codes, t.name);
      assert.deepEqual(end.codes, orig.codes, t.name);
      const rounded = f16round(orig.d[0]);
      assert.ok(mid.d.every((d) => d === rounded), `${t.name}: every TQ2_0 block stores f16round(γ)`);
      assert.equal(end.d[0], rounded, `${t.name}: the I2_S scale comes back as f16round(γ), not γ`);
      assert.deepEqual([...end.tail.subarray(4)], new Array(28).fill(0), `${t.name}: padding after the scale is zeros`);
      const change = Math.abs(rounded - orig.d[0]) / orig.d[0];
      assert.ok(change <= 2 ** -11, `${t.name}: relative change ${change}`);
      worst = Math.max(worst, change);
      assert.equal(tq.result.tensors.find((x) => x.name === t.name)?.scaleChange, change, t.name);
    }
    assert.ok(worst > 0, "the fixture's γ are not fp16 values, so the round trip is lossy");
    assert.equal(conversionWarnings(tq.result).length, 1);
    assert.match(conversionWarnings(tq.result)[0], /14 ternary tensor\(s\).*fp16/);
    // TQ2_0 -> I2_S is exact: the fp16 scale is an f32 value.
    assert.deepEqual(conversionWarnings(back.result), []);
  });
});

describe("float sources", () => {
  const gauss = gaussian(7);
  // attn_q: Gaussian, absmean-quantized.
  const q = Float32Array.from({ length: 512 * 4 }, () => 0.02 * gauss());
  // attn_k: already ternary with one scale c (an fp16 value): must keep c, not absmean's γ.
  const c = 0.046875;
  const k = Float32Array.from({ length: 256 * 2 }, (_, i) => [c, 0, -c, 0, c][i % 5]);
  // attn_v: one all-zero block, one Gaussian block.
  const v = Float32Array.from({ length: 256 * 2 }, (_, i) => (i < 256 ? 0 : 0.03 * gauss()));
  // ffn_up: dyadic values with mean|W| exactly 0.5, so the 0.25s are exact ties at γ/2 and must round to 0 (half to even).
  const up = new Float32Array(1024);
  for (let i = 0; i < 1024; i++) up[i] = [1, 0.25, 0.75, 0][i % 4] * (((i * 7) >> 2) % 2 === 0 ? 1 : -1);
  const embd = Float32Array.from({ length: 256 * 8 }, () => 0.05 * gauss());
  const norm = Float32Array.from({ length: 256 }, () => 1 + 0.1 * gauss());
  const tensors = [
    { name: "token_embd.weight", shape: [256, 8], type: GGMLType.F32, data: f32Bytes(embd) },
    { name: "blk.0.attn_norm.weight", shape: [256], type: GGMLType.F32, data: f32Bytes(norm) },
    { name: "blk.0.attn_q.weight", shape: [512, 4], type: GGMLType.F32, data: f32Bytes(q) },
    { name: "blk.0.attn_k.weight", shape: [256, 2], type: GGMLType.F32, data: f32Bytes(k) },
    { name: "blk.0.attn_v.weight", shape: [256, 2], type: GGMLType.F32, data: f32Bytes(v) },
    { name: "blk.0.ffn_up.weight", shape: [256, 4], type: GGMLType.F32, data: f32Bytes(up) },
  ];

  it("f32 -> tq2_0: absmean codes and fp16(γ) match a float64 re-implementation; ternary input keeps c; zero blocks get d = 0", async () => {
    const { bytes, result } = await convertBytes(await writeModel(bitnetMeta, tensors), { type: "tq2_0" });
    const out = await parse(bytes);
    const method = (name: string) => result.tensors.find((t) => t.name === name)?.method;

    for (const [name, w] of [
      ["blk.0.attn_q.weight", q],
      ["blk.0.ffn_up.weight", up],
    ] as const) {
      const ref = absmean64(w);
      const got = specTq2_0(await out.readTensor(name), w.length);
      assert.deepEqual(got.codes, ref.codes, `${name}: codes`);
      assert.ok(got.d.every((d) => d === f16round(ref.gamma32)), `${name}: every block stores fp16(γ) = ${f16round(ref.gamma32)}`);
      assert.equal(method(name), "absmean");
    }
    const upRef = absmean64(up);
    assert.equal(upRef.gamma, 0.5);
    assert.equal(upRef.codes.filter((x, i) => Math.abs(up[i]) === 0.25 && x === 0).length, 256, "ties round to 0");

    const kOut = specTq2_0(await out.readTensor("blk.0.attn_k.weight"), k.length);
    assert.notEqual(absmean64(k).gamma32, c, "absmean would change the scale");
    assert.ok(kOut.d.every((d) => d === c));
    assert.deepEqual([...kOut.codes], [...k].map(Math.sign));
    assert.equal(method("blk.0.attn_k.weight"), "repack");

    const vOut = specTq2_0(await out.readTensor("blk.0.attn_v.weight"), v.length);
    assert.equal(vOut.d[0], 0, "an all-zero block stores d = 0, as ggml's quantizer does");
    assert.equal(vOut.d[1], f16round(absmean64(v).gamma32));

    assert.deepEqual(await out.readTensor("token_embd.weight"), tensors[0].data);
    assert.deepEqual(await out.readTensor("blk.0.attn_norm.weight"), tensors[1].data);
  });

  it("f32 -> i2_s: the scale is γ in f32 (no fp16 rounding); --embedding-type f16 casts token_embd", async () => {
    const { bytes } = await convertBytes(await writeModel(bitnetMeta, tensors), { type: "i2_s", embeddingType: "f16" });
    const out = await parse(bytes);
    const ref = absmean64(q);
    const got = specI2S(await out.readTensor("blk.0.attn_q.weight"), q.length);
    assert.deepEqual(got.codes, ref.codes);
    assert.equal(got.d[0], ref.gamma32);
    assert.equal(out.tensor("token_embd.weight")?.type, GGMLType.F16);
    const embdOut = await values(out, "token_embd.weight");
    assert.deepEqual([...embdOut], [...embd].map(f16round));
  });

  it("a shape the target cannot hold is refused before anything is written, naming the tensor", async () => {
    const model = await writeModel(bitnetMeta, [{ name: "blk.3.ffn_gate.weight", shape: [128, 3], type: GGMLType.F32, data: new Uint8Array(128 * 3 * 4) }]);
    const sink = recordingSink();
    await assert.rejects(convertGGUF(await parse(model, "odd.gguf"), sink, { type: "tq2_0" }), /^UnsupportedModelError: odd\.gguf: tensor 'blk\.3\.ffn_gate\.weight'.*tq2_0 needs a row length \(ne\[0\]\) divisible by 256, got 128/);
    assert.equal(sink.written, 0);
    assert.equal(sink.state, "aborted");
    // 384 elements are three whole I2_S blocks.
    const ok = await convertBytes(model, { type: "i2_s" });
    assert.equal((await parse(ok.bytes)).tensor("blk.3.ffn_gate.weight")?.type, GGMLType.I2_S);
    const odd = await writeModel(bitnetMeta, [{ name: "blk.0.attn_q.weight", shape: [96, 2], type: GGMLType.F32, data: new Uint8Array(96 * 2 * 4) }]);
    await assert.rejects(convertBytes(odd, { type: "i2_s" }, "odd.gguf"), /odd\.gguf: tensor 'blk\.0\.attn_q\.weight'.*i2_s needs an element count divisible by 128, got 192/);
  });
});

describe("a TQ2_0 matrix with a scale per block (tq-layout gauss_4x768)", async () => {
  const layout = await readGGUF(bufferSource(readFileSync(fixture("tq-layout.gguf")), "tq-layout.gguf"));
  const expected = codecFor(GGMLType.F32).dequantize(await layout.readTensor("gauss_4x768.tq2_0.expected"), [768, 4]);
  const model = await writeModel(bitnetMeta, [{ name: "blk.0.attn_q.weight", shape: [768, 4], type: GGMLType.TQ2_0, data: await layout.readTensor("gauss_4x768.tq2_0") }]);

  it("-> tq1_0 keeps every block's values (gguf-py's dequantization)", async () => {
    const out = await parse((await convertBytes(model, { type: "tq1_0" })).bytes);
    assert.deepEqual(await values(out, "blk.0.attn_q.weight"), expected);
  });

  it("-> i2_s is refused naming the tensor (one scale per tensor), and leaves no file behind", async () => {
    const dir = tempDir("convert-refuse");
    try {
      const outPath = join(dir.path, "out.gguf");
      const sink = await atomicFileSink(outPath);
      await assert.rejects(convertGGUF(await parse(model, "per-block.gguf"), sink, { type: "i2_s" }), /per-block\.gguf: tensor 'blk\.0\.attn_q\.weight': tq2_0 scale groups use 12 different scales.*--requantize/);
      assert.equal(existsSync(outPath), false);
      assert.deepEqual(readdirSync(dir.path), [], "the temporary file is gone too");
    } finally {
      dir.remove();
    }
  });

  it("-> i2_s with requantize uses absmean on the dequantized values", async () => {
    const { bytes, result } = await convertBytes(model, { type: "i2_s", requantize: true });
    const ref = absmean64(expected);
    const got = specI2S(await (await parse(bytes)).readTensor("blk.0.attn_q.weight"), expected.length);
    assert.deepEqual(got.codes, ref.codes);
    assert.equal(got.d[0], ref.gamma32);
    assert.equal(result.tensors[0].method, "requantize");
    assert.match(conversionWarnings(result).join("\n"), /re-quantized with absmean/);
  });
});

describe("metadata and streaming", () => {
  it("tq-layout (no linear tensors, no file_type): every tensor copied, general.file_type appended as u32", async () => {
    const input = readFileSync(fixture("tq-layout.gguf"));
    const { bytes } = await convertBytes(input, { type: "tq2_0" });
    const a = await parse(input);
    const b = await parse(bytes);
    assert.deepEqual(b.metadataKeys, [...a.metadataKeys, "general.file_type"]);
    assert.deepEqual(b.metadataTypes["general.file_type"], { type: GGUFValueType.UINT32 });
    assert.equal(b.metadata["general.file_type"], 37);
    for (const t of a.tensors) assert.deepEqual(await b.readTensor(t.name), await a.readTensor(t), t.name);
  });

  it("reads each tensor only after the previous one has been written (never the whole model at once)", async () => {
    const input = readFileSync(fixture("bitnet-tiny-tq2_0.gguf"));
    const file = await parse(input);
    const events: string[] = [];
    const source: ByteSource = {
      name: "logged.gguf",
      size: input.byteLength,
      read: async (offset, length) => {
        if (offset >= file.dataOffset) events.push(`read ${file.tensors.find((t) => file.dataOffset + t.offset <= offset && offset < file.dataOffset + t.offset + t.byteSize)?.name}`);
        return input.subarray(offset, offset + length);
      },
      close: () => Promise.resolve(),
    };
    const logged = await readGGUF(source);
    const sink = recordingSink((n) => events.push(`write ${n}`));
    await convertGGUF(logged, sink, { type: "tq1_0", onProgress: (p) => events.push(`done ${p.name}`) });
    const order = events.filter((e) => !e.startsWith("write"));
    const expected = file.tensors.flatMap((t) => [`read ${t.name}`, `done ${t.name}`]);
    assert.deepEqual(order, expected);
  });
});

function recordingSink(onWrite?: (bytes: number) => void): ByteSink & { written: number; state: string } {
  const s = {
    written: 0,
    state: "open",
    write(chunk: Uint8Array) {
      s.written += chunk.byteLength;
      onWrite?.(chunk.byteLength);
      return Promise.resolve();
    },
    commit() {
      s.state = "committed";
      return Promise.resolve();
    },
    abort() {
      s.state = "aborted";
      return Promise.resolve();
    },
  };
  return s;
}
