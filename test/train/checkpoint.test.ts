// Checkpoints: the byte format read back by a header parser written here (a checkpoint is a plain
// safetensors file), an exact round trip of every field, errors that name the file, and the Node store:
// atomic writes (no temporary file left, even when a write fails), keep-last-N pruning and latest().

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeCheckpoint, encodeCheckpoint, type CheckpointState } from "../../src/train/checkpoint.ts";
import { trainBpe } from "../../src/train/bpe-trainer.ts";
import { countParams } from "../../src/train/params.ts";
import { modelConfigOf, resolveRunConfig, runPresets } from "../../src/train/run-config.ts";
import { CheckpointStore } from "../../src/node/checkpoint-store.ts";

const config = resolveRunConfig(runPresets.tiny, { steps: 50 });
const n = countParams(modelConfigOf(config));
const tokenizer = trainBpe(["and the earth was without form, and void; and the earth"], { vocabSize: 270 });

function state(step: number): CheckpointState {
  const arr = (k: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + k) * (i % 7 === 0 ? 1e-30 : 1));
  return {
    config, tokenizer, step, cursor: { epoch: 2, index: 17 }, adamStep: step, elapsedSeconds: 12.5,
    metrics: [{ type: "val", step: 0, val_loss: 6.2 }, { type: "train", step: 1, loss: 6.1, lr: 1e-3, wd: 0.1, grad_norm: 0.9, tokens_per_s: 1000, tokens: 512, elapsed_s: 0.5 }],
    params: arr(step), adamM: arr(step + 1), adamV: arr(step + 2).map(Math.abs),
  };
}

test("a checkpoint is a safetensors file: params, adamw.m, adamw.v as F32 [n] and the state in __metadata__", async () => {
  const s = state(7);
  const bytes = await encodeCheckpoint(s);
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  assert.equal(header.__metadata__.format, "bitnet-ts.checkpoint");
  const meta = JSON.parse(header.__metadata__.state);
  assert.equal(meta.step, 7);
  assert.deepEqual(meta.cursor, { epoch: 2, index: 17 });
  for (const [name, arr] of [["params", s.params], ["adamw.m", s.adamM], ["adamw.v", s.adamV]] as const) {
    const t = header[name];
    assert.equal(t.dtype, "F32");
    assert.deepEqual(t.shape, [n]);
    const [b, e] = t.data_offsets;
    const data = bytes.slice(8 + headerLen + b, 8 + headerLen + e);
    assert.deepEqual(new Float32Array(data.buffer), arr, `${name} bytes`);
  }
});

test("decode(encode(state)) gives back every field exactly", async () => {
  const s = state(3);
  assert.deepEqual(await decodeCheckpoint(await encodeCheckpoint(s)), s);
});

test("bad checkpoints fail with the file named", async () => {
  const bytes = await encodeCheckpoint(state(1));
  await assert.rejects(decodeCheckpoint(bytes.subarray(0, bytes.length - 10), "cut.ckpt"), /cut\.ckpt/);
  const wrong = await encodeCheckpoint({ ...state(1), config: { ...config, nLayers: 3 } });
  await assert.rejects(decodeCheckpoint(wrong, "shape.ckpt"), /shape\.ckpt: tensor 'params' is F32 \[\d+\], the config needs F32 \[\d+\]/);
  const json = new TextEncoder().encode(`{"params":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`);
  const plain = new Uint8Array(8 + json.length + 4);
  new DataView(plain.buffer).setBigUint64(0, BigInt(json.length), true);
  plain.set(json, 8);
  await assert.rejects(decodeCheckpoint(plain, "plain.safetensors"), /plain\.safetensors: not a bitnet-ts checkpoint/);
});

test("the store writes atomically, keeps the newest N, and finds the latest", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bitnet-ckpt-"));
  try {
    const store = new CheckpointStore(join(dir, "checkpoints"), 2);
    assert.equal(await store.latest(), undefined);
    for (const step of [5, 10, 15, 20]) await store.save(state(step));
    const files = readdirSync(join(dir, "checkpoints"));
    assert.deepEqual(files.sort(), ["step-00000015.ckpt", "step-00000020.ckpt"], "no temporary files, only the newest two");
    const latest = await store.latest();
    assert.equal(latest, join(dir, "checkpoints", "step-00000020.ckpt"));
    assert.deepEqual(await store.load(latest as string), state(20));

    // A failing write (arrays of the wrong length) leaves neither a checkpoint nor a temporary file.
    await assert.rejects(store.save({ ...state(25), adamM: new Float32Array(3) }), /differ in length/);
    assert.deepEqual(readdirSync(join(dir, "checkpoints")).sort(), ["step-00000015.ckpt", "step-00000020.ckpt"]);

    // Overwriting the same step replaces the file whole.
    const before = readFileSync(latest as string);
    await store.save({ ...state(20), elapsedSeconds: 99 });
    assert.notDeepEqual(readFileSync(latest as string), before);
    assert.equal((await store.load(latest as string)).elapsedSeconds, 99);

    writeFileSync(join(dir, "checkpoints", "step-00000030.ckpt"), "garbage");
    await assert.rejects(store.load(join(dir, "checkpoints", "step-00000030.ckpt")), /step-00000030\.ckpt/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The checkpoint of state(3) with its safetensors header changed by `edit`. */
async function editedCheckpoint(edit: (header: Record<string, Record<string, string>>) => void): Promise<Uint8Array> {
  const bytes = await encodeCheckpoint(state(3));
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, Record<string, string>>;
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return out;
}

/** Edits the JSON run state kept in the header's __metadata__. */
const editState = (f: (saved: Record<string, unknown>) => void) => (header: Record<string, Record<string, string>>) => {
  const saved = JSON.parse(header.__metadata__.state) as Record<string, unknown>;
  f(saved);
  header.__metadata__.state = JSON.stringify(saved);
};

test("a checkpoint whose saved config is broken names the file (found by the fuzzer)", async () => {
  const out = await editedCheckpoint(editState((saved) => delete (saved.config as Record<string, unknown>).vocabSize));
  await assert.rejects(decodeCheckpoint(out, "broken.ckpt"), /^InvalidFileError: broken\.ckpt: state\.config: train config: vocabSize must be a positive integer, got undefined$/);
});

test("every broken part of a checkpoint is the file's fault: InvalidFileError naming it (found by the fuzzer)", async () => {
  const cases: [string, (header: Record<string, Record<string, string>>) => void, RegExp][] = [
    ["state not JSON", (h) => void (h.__metadata__.state = "{nope"), /__metadata__\.state is not JSON/],
    ["state not an object", (h) => void (h.__metadata__.state = "3"), /__metadata__\.state is not an object/],
    ["metrics", editState((s) => void (s.metrics = 1)), /state\.metrics is not an array/],
    ["cursor", editState((s) => void (s.cursor = { epoch: -1, index: 0 })), /cursor: state\.epoch is not a non-negative integer/],
    ["config key", editState((s) => void ((s.config as Record<string, unknown>).gradAIcum = 1)), /state\.config: .*unknown key "gradAIcum"/],
    ["tokenizer", editState((s) => void (s.tokenizer = 7)), /bad\.ckpt: state/],
    ["missing tensor", (h) => {
      h["adamw.w"] = h["adamw.v"];
      delete h["adamw.v"];
    }, /tensor 'adamw\.v' is missing/],
  ];
  for (const [what, edit, message] of cases) {
    const out = await editedCheckpoint(edit);
    await assert.rejects(decodeCheckpoint(out, "bad.ckpt"), (e: Error) => {
      assert.equal(e.name, "InvalidFileError", `${what}: ${e.name}: ${e.message}`);
      assert.match(e.message, /^bad\.ckpt: /, what);
      assert.match(e.message, message, what);
      return true;
    });
  }
});
