/**
 * Byte sinks: where the GGUF and safetensors writers stream their output.
 * A sink receives chunks in order, then either `commit()` (the output becomes visible, all or
 * nothing) or `abort()` (nothing is left behind). This file holds the interface and the in-memory
 * sink used by the browser and tests; the atomic file sink lives in src/node/atomic-file-sink.ts.
 */

export interface ByteSink {
  /** Appends a chunk. The sink copies or consumes it before resolving, so the caller may reuse it afterwards. */
  write(chunk: Uint8Array): Promise<void>;
  /** Makes everything written visible. No writes after this. */
  commit(): Promise<void>;
  /** Discards everything written. Safe to call after a failed write; no writes after this. */
  abort(): Promise<void>;
}

export interface MemorySink extends ByteSink {
  /** Bytes written so far. */
  readonly length: number;
  /** The committed output as one buffer. Throws before `commit()` or after `abort()`. */
  bytes(): Uint8Array;
}

export function memorySink(): MemorySink {
  let chunks: Uint8Array[] = [];
  let length = 0;
  let state: "open" | "committed" | "aborted" = "open";
  let joined: Uint8Array | undefined;
  return {
    get length() {
      return length;
    },
    write(chunk: Uint8Array): Promise<void> {
      if (state !== "open") return Promise.reject(new Error(`memory sink: write after ${state}`));
      chunks.push(chunk.slice());
      length += chunk.byteLength;
      return Promise.resolve();
    },
    commit(): Promise<void> {
      if (state !== "open") return Promise.reject(new Error(`memory sink: commit after ${state}`));
      state = "committed";
      return Promise.resolve();
    },
    abort(): Promise<void> {
      state = "aborted";
      chunks = [];
      length = 0;
      return Promise.resolve();
    },
    bytes(): Uint8Array {
      if (state !== "committed") throw new Error(`memory sink: bytes() needs a committed sink (it is ${state})`);
      if (!joined) {
        joined = new Uint8Array(length);
        let at = 0;
        for (const c of chunks) {
          joined.set(c, at);
          at += c.byteLength;
        }
        chunks = [joined];
      }
      return joined;
    },
  };
}
