/**
 * Writes a whole text or byte file atomically (a temporary file renamed over the target, through
 * atomic-file-sink.ts), for result files that a reader must see complete or not at all.
 */
import { atomicFileSink } from "./atomic-file-sink.ts";

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const sink = await atomicFileSink(path);
  try {
    await sink.write(typeof data === "string" ? new TextEncoder().encode(data) : data);
    await sink.commit();
  } catch (e) {
    await sink.abort();
    throw e;
  }
}
