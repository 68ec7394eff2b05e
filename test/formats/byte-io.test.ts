/**
 * Byte sources and sinks: the in-memory, Blob and file sources (exact ranges, "truncated" errors
 * naming the source and offset), the memory sink, and the atomic file sink (content after commit,
 * no temp file left after commit or abort, the target untouched on abort, buffering of small and
 * large writes).
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { blobSource, bufferSource } from "../../src/formats/source.ts";
import { memorySink } from "../../src/formats/sink.ts";
import { openFileSource } from "../../src/node/file-source.ts";
import { atomicFileSink } from "../../src/node/atomic-file-sink.ts";
import { rng, tempDir } from "./helpers.ts";

const tmp = tempDir("byte-io");
after(() => tmp.remove());

const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);

describe("byte sources", () => {
  it("buffer, Blob and file sources return the same exact ranges", async () => {
    const path = join(tmp.path, "source.bin");
    writeFileSync(path, bytes);
    const sources = [bufferSource(bytes, "mem"), blobSource(new Blob([bytes]), "blob"), await openFileSource(path)];
    for (const s of sources) {
      assert.equal(s.size, 1000);
      assert.deepStrictEqual(await s.read(0, 0), new Uint8Array(0));
      assert.deepStrictEqual(await s.read(10, 5), bytes.slice(10, 15));
      assert.deepStrictEqual(await s.read(990, 10), bytes.slice(990));
      await assert.rejects(s.read(995, 10), (err: Error) => {
        assert.match(err.message, new RegExp(`^${s.name.replace(/[/.]/g, "\\$&")}: truncated: reading 10 bytes at offset 995 goes past the end of the file \\(1000 bytes\\)$`));
        return true;
      });
      await assert.rejects(s.read(-1, 1), /invalid read of 1 bytes at offset -1/);
      // a hostile length is refused before anything is allocated for it
      await assert.rejects(s.read(0, -5), /invalid read of -5 bytes at offset 0/);
      await assert.rejects(s.read(0, 2 ** 40), /truncated: reading 1099511627776 bytes at offset 0 goes past the end/);
      await s.close();
    }
    await assert.rejects(sources[2].read(0, 1), /read after close/);
  });

  it("the file source reads a large range in one call", async () => {
    const big = new Uint8Array(5 << 20);
    const r = rng(5);
    for (let i = 0; i < big.length; i += 4096) big[i] = r.int(0, 255);
    const path = join(tmp.path, "big.bin");
    writeFileSync(path, big);
    const s = await openFileSource(path);
    assert.deepStrictEqual(await s.read(1, big.length - 1), big.subarray(1));
    await s.close();
  });
});

describe("memory sink", () => {
  it("joins chunks on commit and forgets them on abort", async () => {
    const sink = memorySink();
    const chunk = Uint8Array.from([1, 2, 3]);
    await sink.write(chunk);
    chunk[0] = 9; // the sink copied it
    await sink.write(Uint8Array.from([4]));
    assert.throws(() => sink.bytes(), /needs a committed sink/);
    await sink.commit();
    assert.deepStrictEqual(sink.bytes(), Uint8Array.from([1, 2, 3, 4]));
    await assert.rejects(sink.write(chunk), /write after committed/);
    const other = memorySink();
    await other.write(chunk);
    await other.abort();
    assert.throws(() => other.bytes(), /aborted/);
  });
});

describe("atomic file sink", () => {
  const leftovers = (name: string) => readdirSync(tmp.path).filter((f) => f.startsWith(`.${name}.tmp-`));

  it("commit: the target gets every byte, through small and large writes, and no temp file is left", async () => {
    const path = join(tmp.path, "out.bin");
    const r = rng(11);
    const chunks = [1, 100, 3 << 20, 5 << 20, 7, 4 << 20, 0, 123_457].map((n) => Uint8Array.from({ length: n }, () => r.int(0, 255)));
    const sink = await atomicFileSink(path);
    assert.ok(existsSync(sink.tempPath));
    assert.match(sink.tempPath, new RegExp(`\\.out\\.bin\\.tmp-${process.pid}-[0-9a-f]+$`));
    for (const c of chunks) await sink.write(c);
    assert.equal(existsSync(path), false, "nothing visible before commit");
    await sink.commit();
    const expected = Buffer.concat(chunks);
    assert.ok(readFileSync(path).equals(expected));
    assert.deepStrictEqual(leftovers("out.bin"), []);
    await assert.rejects(sink.write(chunks[0]), /write after committed/);
  });

  it("abort: the temp file is removed and an existing target is untouched", async () => {
    const path = join(tmp.path, "keep.bin");
    writeFileSync(path, "original");
    const sink = await atomicFileSink(path);
    await sink.write(new Uint8Array(10 << 20).fill(1));
    await sink.abort();
    assert.equal(readFileSync(path, "utf8"), "original");
    assert.deepStrictEqual(leftovers("keep.bin"), []);
    await sink.abort(); // idempotent
  });

  it("abort called twice at once (the failed writer and a signal handler): both resolve only once the temp file is gone", async () => {
    const sink = await atomicFileSink(join(tmp.path, "twice.bin"));
    await sink.write(new Uint8Array(10 << 20).fill(2));
    const first = sink.abort();
    await sink.abort(); // the second caller, about to exit the process
    assert.deepStrictEqual(leftovers("twice.bin"), []);
    await first;
  });

  it("commit replaces an existing target", async () => {
    const path = join(tmp.path, "replace.bin");
    writeFileSync(path, "old content that is longer");
    const sink = await atomicFileSink(path);
    await sink.write(new TextEncoder().encode("new"));
    await sink.commit();
    assert.equal(readFileSync(path, "utf8"), "new");
    assert.deepStrictEqual(leftovers("replace.bin"), []);
  });

  it("a target in a missing directory fails at open, naming the path", async () => {
    await assert.rejects(atomicFileSink(join(tmp.path, "no-such-dir", "x.bin")), /ENOENT.*no-such-dir/);
  });
});
