/**
 * Random-access byte sources: the one interface the GGUF and safetensors readers read through.
 * A source hands out exact byte ranges on demand, so a multi-GB model is never read whole.
 * This file holds the interface and the browser-safe sources (an in-memory buffer, a Blob);
 * the Node file source lives in src/node/file-source.ts. It does not parse anything.
 */
import { InvalidFileError, TruncatedFileError } from "../errors.ts";

export interface ByteSource {
  /** Shown in every error message about this source (a path, a URL or a label). */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Exactly `length` bytes starting at `offset`. Throws a "truncated" error naming the source and
   * the offset if the range goes past the end. The result may share memory with the source
   * (in-memory sources return views), so copy it before mutating.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: fills `dst` with the `dst.length` bytes at `offset`, with the same errors as `read`. A source
   * that can read straight into memory it is given (a file) offers it, so that a multi-GB model is read
   * into the kernels' memory without a second copy of each tensor.
   */
  readInto?(offset: number, dst: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Throws the error every source reports for a range it cannot serve. */
export function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new InvalidFileError(`${name}: invalid read of ${length} bytes at offset ${offset}`);
  }
  if (offset + length > size) {
    throw new TruncatedFileError(`${name}: truncated: reading ${length} bytes at offset ${offset} goes past the end of the file (${size} bytes)`);
  }
}

/** A source over bytes already in memory (tests, downloads, the browser's fetched files). */
export function bufferSource(buf: ArrayBuffer | Uint8Array, name = "<buffer>"): ByteSource {
  // A plain Uint8Array view even for a Node Buffer, so callers get one kind of array everywhere.
  const bytes = buf instanceof Uint8Array ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : new Uint8Array(buf);
  return {
    name,
    size: bytes.byteLength,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkRange(name, bytes.byteLength, offset, length);
      return bytes.subarray(offset, offset + length);
    },
    close: () => Promise.resolve(),
  };
}

/** A source over a Blob or File (the browser's file picker, drag and drop, OPFS). */
export function blobSource(blob: Blob, name = typeof File !== "undefined" && blob instanceof File ? blob.name : "<blob>"): ByteSource {
  return {
    name,
    size: blob.size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkRange(name, blob.size, offset, length);
      const bytes = new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
      if (bytes.byteLength !== length) {
        throw new TruncatedFileError(`${name}: truncated: got ${bytes.byteLength} of ${length} bytes at offset ${offset}`);
      }
      return bytes;
    },
    close: () => Promise.resolve(),
  };
}
