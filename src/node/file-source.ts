/**
 * A ByteSource over a local file, for Node: every read is a positioned read on one open
 * FileHandle, so only the bytes asked for are ever in memory (never the whole file).
 * It does not cache; the GGUF header parser reads in large chunks and tensors are read once.
 */
import { open } from "node:fs/promises";
import { checkRange, type ByteSource } from "../formats/source.ts";

/** Node's positioned reads take a 32-bit length; larger tensors are read in pieces of this size. */
const MAX_READ = 1 << 30;

export async function openFileSource(path: string): Promise<ByteSource> {
  const fh = await open(path, "r");
  let size: number;
  try {
    size = (await fh.stat()).size;
  } catch (err) {
    await fh.close();
    throw err;
  }
  let closed = false;
  const check = (offset: number, length: number): void => {
    if (closed) throw new Error(`${path}: read after close`);
    checkRange(path, size, offset, length);
  };
  /** dst.length bytes at `offset`, already checked. */
  const fill = async (offset: number, dst: Uint8Array): Promise<void> => {
    const length = dst.byteLength;
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(dst, done, Math.min(MAX_READ, length - done), offset + done);
      if (bytesRead === 0) {
        throw new Error(`${path}: truncated: the file ended at offset ${offset + done} while reading ${length} bytes at offset ${offset} (was it changed while open?)`);
      }
      done += bytesRead;
    }
  };
  return {
    name: path,
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      check(offset, length); // before allocating: a hostile length is an error, not a huge buffer
      const out = new Uint8Array(length);
      await fill(offset, out);
      return out;
    },
    async readInto(offset: number, dst: Uint8Array): Promise<void> {
      check(offset, dst.byteLength);
      await fill(offset, dst);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}
