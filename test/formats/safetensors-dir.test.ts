/**
 * Sharded safetensors checkpoints in a temp directory: one lookup across shards through the
 * index, a single model.safetensors, and the errors for a missing shard, a tensor in two shards,
 * and an index that disagrees with the shards.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeSafetensorsHeader, type SafetensorsTensorSpec } from "../../src/formats/safetensors/writer.ts";
import { openSafetensors } from "../../src/node/safetensors-dir.ts";
import { tempDir } from "./helpers.ts";

const tmp = tempDir("safetensors-dir");
after(() => tmp.remove());

function shardBytes(specs: SafetensorsTensorSpec[], fill: number): Uint8Array {
  const layout = encodeSafetensorsHeader(specs);
  const out = new Uint8Array(layout.fileSize).fill(fill, layout.dataOffset);
  out.set(layout.header, 0);
  return out;
}

function makeDir(name: string, shards: Record<string, SafetensorsTensorSpec[]>, weightMap?: Record<string, string>): string {
  const dir = join(tmp.path, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  Object.entries(shards).forEach(([file, specs], i) => writeFileSync(join(dir, file), shardBytes(specs, i + 1)));
  if (weightMap) writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: { total_size: 123 }, weight_map: weightMap }));
  return dir;
}

const S1 = "model-00001-of-00002.safetensors";
const S2 = "model-00002-of-00002.safetensors";
const t = (name: string, shape: number[]): SafetensorsTensorSpec => ({ name, dtype: "BF16", shape });

describe("sharded safetensors", () => {
  const shards = { [S1]: [t("model.embed_tokens.weight", [4, 2]), t("model.norm.weight", [2])], [S2]: [t("lm_head.weight", [4, 2])] };
  const map = { "model.embed_tokens.weight": S1, "model.norm.weight": S1, "lm_head.weight": S2 };

  it("one lookup across shards, from the directory or the index file", async () => {
    const dir = makeDir("ok", shards, map);
    for (const path of [dir, join(dir, "model.safetensors.index.json")]) {
      const c = await openSafetensors(path);
      try {
        assert.deepStrictEqual(c.files, [join(dir, S1), join(dir, S2)]);
        assert.deepStrictEqual(c.metadata, { total_size: 123 });
        assert.deepStrictEqual(c.tensors.map((x) => x.name).sort(), Object.keys(map).sort());
        assert.equal(c.tensor("lm_head.weight")?.file, join(dir, S2));
        assert.deepStrictEqual(c.tensor("lm_head.weight")?.shape, [4, 2]);
        assert.ok((await c.readTensor("model.norm.weight")).every((b) => b === 1));
        assert.ok((await c.readTensor("lm_head.weight")).every((b) => b === 2));
        assert.equal((await c.readTensor("lm_head.weight")).byteLength, 16);
        await assert.rejects(c.readTensor("nope"), /no tensor named 'nope'/);
      } finally {
        await c.close();
      }
    }
  });

  it("a single model.safetensors, from the directory or the file", async () => {
    const dir = makeDir("single", { "model.safetensors": [t("a", [3])] });
    for (const path of [dir, join(dir, "model.safetensors")]) {
      const c = await openSafetensors(path);
      assert.deepStrictEqual(c.tensors.map((x) => x.name), ["a"]);
      assert.equal((await c.readTensor("a")).byteLength, 6);
      await c.close();
    }
  });

  it("a missing shard", async () => {
    const dir = makeDir("missing", { [S1]: shards[S1] }, map);
    await assert.rejects(openSafetensors(dir), /model\.safetensors\.index\.json: shard 'model-00002-of-00002\.safetensors' is missing/);
  });

  it("a tensor listed twice (in two shards)", async () => {
    const dir = makeDir("twice", { [S1]: [t("x", [1])], [S2]: [t("x", [1])] }, { x: S1, y: S2 });
    await assert.rejects(openSafetensors(dir), /tensor 'x' is listed twice, in .*00001.* and .*00002/);
  });

  it("an index that disagrees with the shards", async () => {
    let dir = makeDir("wrongshard", shards, { ...map, "model.norm.weight": S2 });
    await assert.rejects(openSafetensors(dir), /tensor 'model\.norm\.weight' is mapped to 'model-00002-of-00002\.safetensors' but found in 'model-00001-of-00002\.safetensors'/);
    dir = makeDir("unmapped", shards, { "model.embed_tokens.weight": S1, "lm_head.weight": S2 });
    await assert.rejects(openSafetensors(dir), /tensor 'model\.norm\.weight' in 'model-00001-of-00002\.safetensors' is missing from the weight_map/);
    dir = makeDir("absent", shards, { ...map, ghost: S2 });
    await assert.rejects(openSafetensors(dir), /tensor 'ghost' is in the weight_map but not in shard/);
    dir = makeDir("escape", shards, { ...map, x: "../etc/passwd" });
    await assert.rejects(openSafetensors(dir), /weight_map entry 'x' names "\.\.\/etc\/passwd", not a file in this directory/);
  });

  it("a directory without a checkpoint, and a broken index", async () => {
    const dir = makeDir("empty", {});
    await assert.rejects(openSafetensors(dir), /no model\.safetensors\.index\.json or model\.safetensors in this directory/);
    writeFileSync(join(dir, "model.safetensors.index.json"), "{}");
    await assert.rejects(openSafetensors(dir), /has no "weight_map" object/);
    await assert.rejects(openSafetensors(join(dir, "nothing-here")), /nothing-here: cannot open \(ENOENT\)/);
  });
});
