/**
 * The streaming frame the GGUF and safetensors writers share: plan the file, write its header, then ask
 * for each tensor's bytes only when it is that tensor's turn (so a multi-GB model is never held twice),
 * check their size, pad them to the file's alignment, report progress, and commit the sink; any error,
 * planning included, aborts the sink and is rethrown. What a header holds is each format's business.
 */
import type { ByteSink } from "./sink.ts";

/** A tensor as the plan lays it out: what the size check needs. */
export interface PlannedTensor {
  name: string;
  shape: readonly number[];
  byteSize: number;
}

/** A planned file: the header bytes, then each tensor's data in order. */
export interface TensorFilePlan<T extends PlannedTensor> {
  header: Uint8Array;
  tensors: readonly T[];
  /** Size of the whole file, padding included. */
  fileSize: number;
  /** Each tensor's data is padded with zeros to a multiple of this (absent: no padding). */
  alignment?: number;
}

export interface TensorWriteProgress {
  /** Index of the tensor just written. */
  index: number;
  count: number;
  name: string;
  bytesWritten: number;
  totalBytes: number;
}

export interface TensorStreamOptions<T extends PlannedTensor> {
  /** Starts every error message, e.g. "GGUF writer". */
  writer: string;
  /** The tensor's type name for size errors. */
  typeName(tensor: T): string | undefined;
  onProgress?: (p: TensorWriteProgress) => void;
}

/** Write the file `plan()` lays out; returns the plan without its header. */
export async function streamTensorFile<T extends PlannedTensor, P extends TensorFilePlan<T>>(
  sink: ByteSink,
  plan: () => P,
  data: (index: number, tensor: T) => Promise<Uint8Array> | Uint8Array,
  options: TensorStreamOptions<T>,
): Promise<Omit<P, "header">> {
  try {
    const layout = plan();
    const alignment = layout.alignment ?? 1;
    await sink.write(layout.header);
    const zeros = new Uint8Array(alignment);
    let written = layout.header.byteLength;
    for (let i = 0; i < layout.tensors.length; i++) {
      const t = layout.tensors[i];
      const bytes = await data(i, t);
      const what = `${options.writer}: tensor '${t.name}'`;
      if (!(bytes instanceof Uint8Array)) throw new Error(`${what}: data is not a Uint8Array`);
      if (bytes.byteLength !== t.byteSize) {
        throw new Error(`${what}: got ${bytes.byteLength} bytes of data, expected ${t.byteSize} for shape [${t.shape.join(", ")}] of ${options.typeName(t)}`);
      }
      await sink.write(bytes);
      const pad = (alignment - (bytes.byteLength % alignment)) % alignment;
      if (pad > 0) await sink.write(zeros.subarray(0, pad));
      written += bytes.byteLength + pad;
      options.onProgress?.({ index: i, count: layout.tensors.length, name: t.name, bytesWritten: written, totalBytes: layout.fileSize });
    }
    await sink.commit();
    const { header: _header, ...rest } = layout;
    return rest;
  } catch (err) {
    await sink.abort().catch(() => undefined);
    throw err;
  }
}
