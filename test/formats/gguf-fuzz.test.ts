/**
 * A bounded, seeded fuzz of the GGUF reader: 300 random truncations and byte flips of the
 * fixtures (mostly inside the header, where they matter). Each case must either parse (and then
 * every tensor must be readable) or throw one of the reader's own Errors naming the file, within
 * a time limit, without reading outside the file or building more metadata than the file holds.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { readGGUF, type GGUFValue } from "../../src/formats/gguf/reader.ts";
import { bufferSource, type ByteSource } from "../../src/formats/source.ts";
import { fixtureGGUFs, rng } from "./helpers.ts";

const CASES = 300;
const TIME_LIMIT_MS = 2000;

function countValues(v: GGUFValue): number {
  return Array.isArray(v) ? 1 + v.reduce((n: number, x) => n + countValues(x), 0) : 1;
}

function guardedSource(bytes: Uint8Array, name: string): ByteSource {
  const inner = bufferSource(bytes, name);
  return {
    name,
    size: inner.size,
    read(offset, length) {
      // The reader must check sizes itself before asking; an AssertionError here does not name the file, so the case fails.
      assert.ok(offset >= 0 && offset + length <= bytes.byteLength, `reader asked for ${length} bytes at ${offset} of ${bytes.byteLength}`);
      return inner.read(offset, length);
    },
    close: () => inner.close(),
  };
}

async function withTimeLimit<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`TIMEOUT ${what}`)), TIME_LIMIT_MS);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

describe("GGUF reader fuzz (seeded truncations and byte flips)", () => {
  it(`${CASES} mutated fixtures parse or fail cleanly`, async (t) => {
    const fixtures = await Promise.all(
      fixtureGGUFs.map(async (path) => {
        const bytes = new Uint8Array(readFileSync(path));
        const header = (await readGGUF(bufferSource(bytes, path))).dataOffset;
        return { name: basename(path), bytes, header };
      }),
    );
    const r = rng(20240607);
    let parsed = 0;
    let refused = 0;
    for (let c = 0; c < CASES; c++) {
      const f = fixtures[c % fixtures.length];
      let mutated: Uint8Array;
      let what: string;
      if (r.next() < 0.4) {
        const len = r.next() < 0.6 ? r.int(0, f.header + 64) : r.int(0, f.bytes.byteLength - 1);
        mutated = f.bytes.slice(0, len);
        what = `${f.name} truncated to ${len}`;
      } else {
        mutated = f.bytes.slice();
        const flips = r.int(1, 4);
        const at: number[] = [];
        for (let k = 0; k < flips; k++) {
          const pos = r.next() < 0.85 ? r.int(0, f.header - 1) : r.int(0, mutated.byteLength - 1);
          mutated[pos] = r.next() < 0.5 ? mutated[pos] ^ (1 << r.int(0, 7)) : r.int(0, 255);
          at.push(pos);
        }
        what = `${f.name} with bytes changed at ${at.join(",")}`;
      }
      const name = `fuzz-${c}.gguf`;
      try {
        const file = await withTimeLimit(readGGUF(guardedSource(mutated, name)), what);
        const values = Object.values(file.metadata).reduce((n: number, v) => n + countValues(v), 0);
        assert.ok(values <= mutated.byteLength, `${what}: ${values} metadata values from ${mutated.byteLength} bytes`);
        for (const t of file.tensors) {
          const bytes = await file.readTensor(t);
          assert.equal(bytes.byteLength, t.byteSize, what);
        }
        parsed++;
      } catch (err) {
        assert.ok(err instanceof Error, `${what}: threw a non-Error ${String(err)}`);
        assert.ok(!err.message.startsWith("TIMEOUT"), `${what}: took longer than ${TIME_LIMIT_MS} ms`);
        assert.ok(err.message.startsWith(`${name}: `), `${what}: error does not name the file: ${err.message}`);
        assert.ok(!(err instanceof RangeError) && !(err instanceof TypeError), `${what}: internal error ${err.name}: ${err.message}`);
        refused++;
      }
    }
    assert.equal(parsed + refused, CASES);
    t.diagnostic(`${parsed} parsed, ${refused} refused`);
    assert.ok(parsed > 20 && refused > 100, `parsed ${parsed}, refused ${refused}`);
  });
});
